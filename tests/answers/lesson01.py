"""Answer sets for lesson 01_bi_encoder, used by the nbgrader round trip (tests/test_course.py).

``WRONG`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away.

``DELEGATE`` maps every exercise's grade_id to an answer that calls or aliases asymkit's implementation of
the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden tests.
"""

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
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    S = Qn @ Dn.T
    part = np.argpartition(-S, k, axis=1)[:, :k]         # kth=k: breaks when k == number of docs
    order = np.argsort(-np.take_along_axis(S, part, 1), axis=1)
    indices = np.take_along_axis(part, order, 1)
    return np.take_along_axis(S, indices, 1), indices
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
    ]

DELEGATE = {}
