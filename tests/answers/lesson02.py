"""Answer sets for lesson 02_faiss, used by the nbgrader round trip (tests/test_course.py).

``WRONG`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away.

``DELEGATE`` maps every exercise's grade_id to an answer that calls or aliases asymkit's implementation of
the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden tests.
"""

WRONG = [
        {   # the classic mistakes
            "ex1_metric": ('''
def build_and_search(model_similarity, docs, queries, k):
    index = faiss.IndexFlatIP(docs.shape[1])            # inner product for everything, nothing normalised
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''', False),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    # position by position: but order should not matter
    return float(np.mean(np.asarray(ann_ids)[:, :k] == np.asarray(exact_ids)[:, :k]))
''', False),
            "ex3_cheapest": ('''
def cheapest_setting(rows, target):
    ok = [r for r in rows if r["recall"] >= target]
    return max(ok, key=lambda r: r["recall"]) if ok else None   # the most accurate, not the cheapest
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_metric": ('''
def build_and_search(model_similarity, docs, queries, k):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(model_similarity)
    docs = np.ascontiguousarray(docs, dtype=np.float32)  # no copy for float32 input...
    if model_similarity == "cosine":
        faiss.normalize_L2(docs)                          # ...so this rewrites the caller's array;
    index = faiss.IndexFlatIP(docs.shape[1])              # queries stay raw; euclidean uses IP
    index.add(docs)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''', True),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    scores = []
    for a, e in zip(np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]):
        found = set(a[a >= 0].tolist())
        scores.append(len(found & set(e.tolist())) / max(len(found), 1))  # divides by what came back, not k
    return float(np.mean(scores))
''', True),
            "ex3_cheapest": ('''
def cheapest_setting(rows, target):
    ok = [r for r in rows if r["recall"] > target]       # > instead of >=
    return max(ok, key=lambda r: r["qps"]) if ok else None
''', True),
        },
    ]

DELEGATE = {}
