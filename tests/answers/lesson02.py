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
