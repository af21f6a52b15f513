"""Answer sets for lesson 04_cross_encoder (the format is described in tests/wrong_answers.py)."""

WRONG = [
    {   # the classic mistakes: caught by the visible tests already
        "ex1_listwise": ('''
def listwise_loss(scores):
    return (torch.logsumexp(scores, dim=1) - scores[:, -1]).mean()     # the positive taken from the last column
''', False),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    order = np.argsort(-np.asarray(cross_scores[:r], dtype=float), kind="stable")
    return [candidate_ids[i] for i in order]                            # drops every candidate beyond r
''', False),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=float), np.asarray(cross_scores, dtype=float)
    z = lambda x: (x - x.mean()) / x.std() if x.std() > 0 else np.zeros_like(x)
    return alpha * z(f) + (1 - alpha) * z(c)                            # alpha weighs the wrong stage
''', False),
    },
    {   # no softmax, lowest score first, no standardisation
        "ex1_listwise": ('''
def listwise_loss(scores):
    return -scores[:, 0].mean()                                         # rewards a high positive, whatever the negatives do
''', False),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    order = np.argsort(np.asarray(cross_scores[:r], dtype=float), kind="stable")   # lowest score first
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', False),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=float), np.asarray(cross_scores, dtype=float)
    return alpha * c + (1 - alpha) * f                                  # raw scores: the logits drown the cosines
''', False),
    },
    {   # sneaky: the visible tests pass, the hidden ones do not
        "ex1_listwise": ('''
def listwise_loss(scores):
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError("scores must be (B, 1 + n)")
    p = torch.exp(scores[:, 0]) / torch.exp(scores).sum(dim=1)          # the softmax written out: exp(1000) overflows
    return -torch.log(p).mean()
''', True),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    order = np.argsort(-np.asarray(cross_scores, dtype=float))[:r]     # sorts every score given, not only the top r
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', True),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=float), np.asarray(cross_scores, dtype=float)
    if f.shape != c.shape:
        raise ValueError("score the same candidates")
    zc = (c - c.mean()) / c.std() if c.std() > 0 else np.zeros_like(c)
    zf = (f - f.mean()) / f.std()                                       # a flat first-stage list divides 0 by 0
    return alpha * zc + (1 - alpha) * zf
''', True),
    },
]

DELEGATE = {
    "ex1_listwise": '''
from asymkit.losses import listwise_softmax as listwise_loss
''',
    "ex2_rerank": '''
def rerank_stage(candidate_ids, cross_scores, r):
    return pipeline.rerank(candidate_ids, cross_scores, r)
''',
    "ex3_fusion": '''
zscore_fusion = pipeline.fuse
''',
}
