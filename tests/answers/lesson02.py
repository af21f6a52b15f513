"""Answer sets for lesson 02_faiss (the format is described in tests/wrong_answers.py)."""

WRONG = [
        {   # the classic mistakes: caught by the visible tests
            "ex1_metric": ('''
def build_exact_index(model_similarity, docs):
    index = faiss.IndexFlatIP(docs.shape[1])            # inner product for everything, nothing normalised
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''', False),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    # position by position: but order should not matter
    return float(np.mean(np.asarray(ann_ids)[:, :k] == np.asarray(exact_ids)[:, :k]))
''', False),
            "ex3_rescore": ('''
def rescore_exact(queries, docs, candidate_ids, k):
    out_s, out_i = [], []
    for q, cand in zip(queries, candidate_ids):
        V = docs[cand[cand >= 0]]
        cos = V @ q / (np.linalg.norm(V, axis=1) * np.linalg.norm(q))
        order = np.argsort(-cos)[:k]
        out_s.append(cos[order])
        out_i.append(order)                              # positions in the candidate list, not document ids
    return np.array(out_s), np.array(out_i)
''', False),
        },
        {   # more classic mistakes: the in-place trap, and inner product instead of cosine
            "ex1_metric": ('''
def build_exact_index(model_similarity, docs):
    docs = np.ascontiguousarray(docs, dtype=np.float32)  # no copy for float32 input...
    if model_similarity == "cosine":
        faiss.normalize_L2(docs)                          # ...so this rewrites the caller's array
        index = faiss.IndexFlatIP(docs.shape[1])
    elif model_similarity == "dot":
        index = faiss.IndexFlatIP(docs.shape[1])
    elif model_similarity == "euclidean":
        index = faiss.IndexFlatL2(docs.shape[1])
    else:
        raise ValueError(model_similarity)
    index.add(docs)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if model_similarity == "cosine":
        faiss.normalize_L2(queries)
    return index.search(queries, k)
''', False),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    hits = [len(set(a[:k].tolist()) & set(e.tolist()))    # the whole exact list, not its top k
            for a, e in zip(np.asarray(ann_ids), np.asarray(exact_ids))]
    return float(np.mean(hits) / k)
''', False),
            "ex3_rescore": ('''
def rescore_exact(queries, docs, candidate_ids, k):
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1)
    for i, (q, cand) in enumerate(zip(queries, candidate_ids)):
        cand = cand[cand >= 0]
        s = docs[cand] @ q                               # inner product: long documents win
        order = np.argsort(-s)[:k]
        scores[i, :len(order)], ids[i, :len(order)] = s[order], cand[order]
    return scores, ids
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_metric": ('''
def build_exact_index(model_similarity, docs):
    docs = np.array(docs, dtype=np.float32)
    if model_similarity == "cosine":
        faiss.normalize_L2(docs)
    if model_similarity == "euclidean":
        index = faiss.IndexFlatL2(docs.shape[1])
    else:
        index = faiss.IndexFlatIP(docs.shape[1])        # anything else is taken for "dot": no ValueError
    index.add(docs)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    return index.search(np.array(queries, dtype=np.float32), k)   # queries not normalised: scores are not cosines
''', True),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    scores = []
    for a, e in zip(np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]):
        found = set(a[a >= 0].tolist())
        scores.append(len(found & set(e.tolist())) / max(len(found), 1))  # divides by what came back, not k
    return float(np.mean(scores))
''', True),
            "ex3_rescore": ('''
def rescore_exact(queries, docs, candidate_ids, k):
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1)
    for i, (q, cand) in enumerate(zip(queries, np.asarray(candidate_ids))):
        V = docs[cand]                                   # -1 padding indexes the LAST document
        cos = V @ q / (np.linalg.norm(V, axis=1) * np.linalg.norm(q))
        order = np.argsort(-cos)[:k]
        scores[i, :len(order)], ids[i, :len(order)] = cos[order], cand[order]
    return scores, ids
''', True),
        },
        {   # the audit's cases: the ValueError in one function only, -1 counted when both lists have it; zeros as padding
            "ex1_metric": ("""
def build_exact_index(model_similarity, docs):
    docs = np.array(docs, dtype=np.float32)
    if model_similarity == "euclidean":
        index = faiss.IndexFlatL2(docs.shape[1])
    else:                                                # "cosine", "dot" -- or a typo: no ValueError here
        if model_similarity == "cosine":
            faiss.normalize_L2(docs)
        index = faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    return index


def build_and_search(model_similarity, docs, queries, k):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(f"unknown similarity {model_similarity!r}")   # checked in this function only
    index = build_exact_index(model_similarity, docs)
    queries = np.array(queries, dtype=np.float32)
    if model_similarity == "cosine":
        faiss.normalize_L2(queries)
    return index.search(queries, k)
""", True),
            "ex2_recall": ("""
def recall_vs_exact(ann_ids, exact_ids, k):
    ann_ids, exact_ids = np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]
    hits = [len(set(a.tolist()) & set(e.tolist())) for a, e in zip(ann_ids, exact_ids)]   # -1 in both: a "hit"
    return float(np.mean(hits) / k)
""", True),
            "ex3_rescore": ("""
def rescore_exact(queries, docs, candidate_ids, k):
    queries, candidate_ids = np.asarray(queries, dtype=np.float64), np.asarray(candidate_ids)
    scores = np.zeros((len(queries), k))                 # padding: score 0 and document 0, not -inf and -1
    ids = np.zeros((len(queries), k), dtype=np.int64)
    for i, (q, cand) in enumerate(zip(queries, candidate_ids)):
        cand = cand[cand >= 0]
        V = np.asarray(docs[cand], dtype=np.float64)
        cos = V @ q / (np.linalg.norm(V, axis=1) * np.linalg.norm(q))
        order = np.argsort(-cos)[:k]
        scores[i, :len(order)], ids[i, :len(order)] = cos[order], cand[order]
    return scores, ids
""", True),
        },
        {   # integer vectors, delegation through the capstone's grader and through a private helper of asymkit
            "ex1_metric": ("""
def prepared(model_similarity, x):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(f"unknown similarity {model_similarity!r}")
    x = np.array(x)                                      # a copy, in the caller's dtype
    if model_similarity == "cosine":
        x /= np.linalg.norm(x, axis=1, keepdims=True)    # in-place division: fails for integer vectors
    return np.ascontiguousarray(x, dtype=np.float32)


def build_exact_index(model_similarity, docs):
    docs = prepared(model_similarity, docs)
    index = faiss.IndexFlatL2(docs.shape[1]) if model_similarity == "euclidean" else faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    return index


def build_and_search(model_similarity, docs, queries, k):
    return build_exact_index(model_similarity, docs).search(prepared(model_similarity, queries), k)
""", True),
            "ex2_recall": ("""
from asymkit import capstone


def recall_vs_exact(ann_ids, exact_ids, k):
    out = []
    for a, e in zip(np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]):
        rels = {str(x): 1 for x in e.tolist() if x >= 0}
        run = {str(x): float(k - j) for j, x in enumerate(a.tolist()) if x >= 0}
        recall = capstone.quality({"q": rels}, {"q": run})["Recall@100"]    # the capstone grader's recall
        out.append(recall * len(rels) / k)
    return float(np.mean(out))
""", True),
            "ex3_rescore": ("""
from asymkit import diagnostics


def rescore_exact(queries, docs, candidate_ids, k):
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for i, (q, cand) in enumerate(zip(np.asarray(queries), np.asarray(candidate_ids))):
        cand = cand[cand >= 0]
        V = np.asarray(docs[cand], dtype=np.float32)
        cos = diagnostics._cos_rows(np.broadcast_to(q, V.shape), V)   # a private helper of asymkit
        order = np.argsort(-cos, kind="stable")[:k]
        scores[i, :len(order)], ids[i, :len(order)] = cos[order], cand[order]
    return scores, ids
""", True),
        },
        {   # float64 vectors handed to FAISS, a repeated id counted twice, float32 queries normalised in place
            "ex1_metric": ("""
def build_exact_index(model_similarity, docs):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(f"unknown similarity {model_similarity!r}")
    docs = np.array(docs)                                # a copy, but in the caller's dtype: FAISS wants float32
    if model_similarity == "cosine":
        faiss.normalize_L2(docs)                         # fails for float64 or integer vectors
    index = faiss.IndexFlatL2(docs.shape[1]) if model_similarity == "euclidean" else faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    queries = np.array(queries)
    if model_similarity == "cosine":
        faiss.normalize_L2(queries)
    return index.search(queries, k)
""", True),
            "ex2_recall": ("""
def recall_vs_exact(ann_ids, exact_ids, k):
    ann_ids, exact_ids = np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]
    hits = [int(np.isin(a[a >= 0], e).sum()) for a, e in zip(ann_ids, exact_ids)]   # a repeated id counts twice
    return float(np.mean(hits) / k)
""", True),
            "ex3_rescore": ("""
def rescore_exact(queries, docs, candidate_ids, k):
    queries = np.asarray(queries, dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)   # in place: the caller's float32 queries
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for i, (q, cand) in enumerate(zip(queries, np.asarray(candidate_ids))):
        cand = cand[cand >= 0]
        V = np.asarray(docs[cand], dtype=np.float32)
        cos = V @ q / np.linalg.norm(V, axis=1)
        order = np.argsort(-cos, kind="stable")[:k]
        scores[i, :len(order)], ids[i, :len(order)] = cos[order], cand[order]
    return scores, ids
""", False),                                             # the visible tests check the inputs (float32)
        },
    ]

DELEGATE = {   # every exercise answered by asymkit: correct, so the visible tests pass, and worth 0 points
    "ex1_metric": '''
def build_exact_index(model_similarity, docs):
    metric = {"cosine": "cosine", "dot": "ip", "euclidean": "l2"}.get(model_similarity, model_similarity)
    return ix.build_index(docs, "flat", metric).index    # asymkit normalises a copy for cosine


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    if model_similarity == "cosine":
        queries = search.l2_normalize(queries)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''',
    "ex2_recall": '''
recall_vs_exact = ix.recall_at_k
''',
    "ex3_rescore": '''
from asymkit.index import rescore as rescore_exact
''',
}
