"""Answer sets for lesson 01_bi_encoder (the format is described in tests/wrong_answers.py)."""

WRONG = [
        {   # the classic mistakes: caught by the visible tests already
            "ex1_top_k": ('''
def top_k_cosine(Q, D, k):
    S = Q @ D.T                      # forgot to normalise: inner product, not cosine
    indices = np.argsort(-S, axis=1)[:, :k]
    return np.take_along_axis(S, indices, axis=1), indices
''', False),
            "ex2_recall_rr": ('''
def recall_at_k(ranking, rels, k):
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranking[:k])) / k          # precision, not recall


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking[:k]):               # ranks counted from 0
        if rels.get(d, 0) > 0:
            return 1.0 / rank if rank else 1.0
    return 0.0
''', False),
            "ex3_ndcg": ('''
def ndcg_at_k(ranking, rels, k):
    dcg = sum(rels.get(d, 0) for d in ranking[:k])       # no log2 discount
    idcg = sum(sorted((r for r in rels.values() if r > 0), reverse=True)[:k])
    return dcg / idcg if idcg else 0.0
''', False),
            "ex4_cutoff": ('''
def smallest_k_for_recall(ks, recalls, target):
    for i, r in enumerate(recalls):
        if r >= target:
            return i                                     # the position, not K
    return None
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_top_k": ('''
def top_k_cosine(Q, D, k):
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)       # in place: rewrites the caller's arrays
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    S = Q @ D.T
    indices = np.argsort(-S, axis=1)[:, :k]
    return np.take_along_axis(S, indices, axis=1), indices
''', True),
            "ex2_recall_rr": ('''
def recall_at_k(ranking, rels, k):
    relevant = set(rels)                                 # counts judged-but-irrelevant (rel 0) documents
    return len(relevant & set(ranking[:k])) / len(relevant)


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking, start=1):          # no cut at k
        if rels.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0
''', True),
            "ex3_ndcg": ('''
def ndcg_at_k(ranking, rels, k):
    gains = [rels.get(d, 0) for d in ranking[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(gains, reverse=True)                  # ideal from the retrieved list only
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0
''', True),
            "ex4_cutoff": ('''
def smallest_k_for_recall(ks, recalls, target):
    for k, r in zip(ks, recalls):                        # assumes ks sorted
        if r > target:                                   # and > instead of >=
            return k
    return None
''', True),
        },
        {   # more classic mistakes, caught by the visible tests (graded relevance among them)
            "ex1_top_k": ('''
def top_k_cosine(Q, D, k):
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    S = Qn @ Dn.T
    indices = np.argsort(S, axis=1)[:, :k]               # ascending: the k *worst* documents
    return np.take_along_axis(S, indices, axis=1), indices
''', False),
            "ex2_recall_rr": ('''
def recall_at_k(ranking, rels, k):
    relevant = {d for d, r in rels.items() if r > 0}
    return float(bool(relevant & set(ranking[:k])))      # "any hit" (success@k), not the fraction found


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return float(rank)                           # the rank, not its reciprocal
    return 0.0
''', False),
            "ex3_ndcg": ('''
def ndcg_at_k(ranking, rels, k):
    gains = [1.0 if rels.get(d, 0) > 0 else 0.0 for d in ranking[:k]]   # relevant or not: the grades are lost
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    n_rel = sum(1 for r in rels.values() if r > 0)
    idcg = sum(1 / np.log2(i + 2) for i in range(min(n_rel, k)))
    return float(dcg / idcg) if idcg > 0 else 0.0
''', False),
            "ex4_cutoff": ('''
def smallest_k_for_recall(ks, recalls, target):
    reached = [k for k, r in zip(ks, recalls) if r >= target]
    return max(reached) if reached else None             # the largest K, not the smallest
''', False),
        },
    ]

DELEGATE = {   # every exercise answered by asymkit: correct, so the visible tests pass, and worth 0 points
    "ex1_top_k": '''
def top_k_cosine(Q, D, k):
    return search.top_k(Q, D, k)
''',
    "ex2_recall_rr": '''
recall_at_k = metrics.recall_at_k
reciprocal_rank_at_k = metrics.rr_at_k
''',
    "ex3_ndcg": '''
ndcg_at_k = metrics.ndcg_at_k
''',
    "ex4_cutoff": '''
from asymkit.search import smallest_k_for_recall
''',
}
