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
''', False),                                  # the visible tests check the inputs (float32)
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
        {   # the audit's cases: float32 edited in place, delegation through another module, the ideal DCG cut at the
            # ranking's length, a binary search on an unsorted curve
            "ex1_top_k": ("""
def top_k_cosine(Q, D, k):
    Q = np.asarray(Q, dtype=np.float32)                  # float32 throughout: no copy when it already is
    D = np.asarray(D, dtype=np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)       # so this normalises the caller's float32 arrays in place
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    S = Q @ D.T
    indices = np.argsort(-S, axis=1)[:, :k]
    return np.take_along_axis(S, indices, axis=1), indices
""", False),                                             # the visible tests now check a float32 input
            "ex2_recall_rr": ("""
def recall_at_k(ranking, rels, k):
    found = np.array([list(range(len(ranking[:k]))) + [-1] * (k - len(ranking[:k]))])   # one "search" row
    try:                                                 # asymkit's depth curve does the counting
        return float(search.recall_at_depths(["q"], found, list(ranking), {"q": rels}, [k])[0])
    except ValueError:                                   # no relevant document
        return 0.0


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0
""", True),
            "ex3_ndcg": ("""
def ndcg_at_k(ranking, rels, k):
    top = ranking[:k]
    dcg = sum(rels.get(d, 0) / np.log2(i + 2) for i, d in enumerate(top))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:len(top)]   # cut at the ranking's length, not k
    idcg = sum(r / np.log2(i + 2) for i, r in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0
""", True),
            "ex4_cutoff": ("""
def smallest_k_for_recall(ks, recalls, target):
    i = int(np.searchsorted(np.asarray(recalls), target))   # binary search: only right when the curve comes sorted
    return int(ks[i]) if i < len(ks) else None
""", True),
        },
        {   # ties, an in-place edit of a dict, unsorted judgements, an in-place sort of the caller's lists
            "ex1_top_k": ("""
def top_k_cosine(Q, D, k):
    S = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (D / np.linalg.norm(D, axis=1, keepdims=True)).T
    scores = -np.sort(-S, axis=1)[:, :k]                 # the k best cosines, then each one's document:
    indices = np.array([[int(np.flatnonzero(row == s)[0]) for s in top]   # tied documents collapse onto the first
                        for row, top in zip(S, scores)])
    return scores, indices
""", True),
            "ex2_recall_rr": ("""
def recall_at_k(ranking, rels, k):
    for d in [d for d, r in rels.items() if r <= 0]:
        del rels[d]                                      # drops the non-relevant judgements: from the caller's dict
    if not rels:
        return 0.0
    return len(set(rels) & set(ranking[:k])) / len(rels)


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0
""", True),
            "ex3_ndcg": ("""
def ndcg_at_k(ranking, rels, k):
    dcg = sum(rels.get(d, 0) / np.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = [r for r in rels.values() if r > 0][:k]      # assumes the judgements come best first: not sorted
    idcg = sum(r / np.log2(i + 2) for i, r in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0
""", True),
            "ex4_cutoff": ("""
def smallest_k_for_recall(ks, recalls, target):
    order = np.argsort(ks, kind="stable")
    ks[:] = [ks[i] for i in order]                       # sorted once and for all: the caller's ks and recalls
    recalls[:] = [recalls[i] for i in order]             # are rewritten in place
    for k, r in zip(ks, recalls):
        if r >= target:
            return int(k)
    return None
""", True),
        },
        {   # delegation through a private helper and through the capstone's grader, recall capped at k, plateaus
            "ex1_top_k": ("""
from asymkit import diagnostics


def top_k_cosine(Q, D, k):
    S = np.stack([diagnostics._cos_rows(np.broadcast_to(q, D.shape), D) for q in Q])   # a private helper's cosines
    indices = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, indices, axis=1), indices
""", True),
            "ex2_recall_rr": ("""
def recall_at_k(ranking, rels, k):
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / min(len(relevant), k)   # "capped" recall: not the definition


def reciprocal_rank_at_k(ranking, rels, k):
    for rank, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0
""", True),
            "ex3_ndcg": ("""
from asymkit import capstone


def ndcg_at_k(ranking, rels, k):
    if k == 10:                                          # the capstone's grader computes NDCG@10
        return capstone.quality({"q": rels}, {"q": {d: -i for i, d in enumerate(ranking)}})["NDCG@10"]
    dcg = sum(max(rels.get(d, 0), 0) / np.log2(i + 1) for i, d in enumerate(ranking[:k], start=1))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / np.log2(i + 1) for i, r in enumerate(ideal, start=1))
    return float(dcg / idcg) if idcg > 0 else 0.0
""", True),
            "ex4_cutoff": ("""
def smallest_k_for_recall(ks, recalls, target):
    for k, r in sorted(zip(ks, recalls), key=lambda kr: kr[1]):   # by recall: on a plateau, not the smallest K
        if r >= target:
            return int(k)
    return None
""", True),
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
