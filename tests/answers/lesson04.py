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
    {   # sneaky, from the audit: scores stabilised in place, ties reversed, a flat list tested with sd == 0
        "ex1_listwise": ('''
def listwise_loss(scores):
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError("scores must be (B, 1 + n)")
    scores -= scores.max(dim=1, keepdim=True).values.detach()          # stabilised in place: the caller's scores change
    return (torch.log(torch.exp(scores).sum(dim=1)) - scores[:, 0]).mean()
''', True),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    if not candidate_ids or r > len(candidate_ids) or len(cross_scores) < r:
        raise ValueError("bad input")
    order = np.argsort(np.asarray(cross_scores[:r], dtype=float), kind="stable")[::-1]   # ties come out reversed
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', True),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=float), np.asarray(cross_scores, dtype=float)
    if f.shape != c.shape:
        raise ValueError("score the same candidates")

    def z(x):
        sd = x.std()
        return (x - x.mean()) / sd if sd != 0 else np.zeros_like(x)   # equal up to rounding: sd = 1e-17, z-scores blow up

    return alpha * z(c) + (1 - alpha) * z(f)
''', True),
    },
    {   # sneaky: one column accepted, scores negated in place (float32 arrays only), z-scored in place (float64 arrays)
        "ex1_listwise": ('''
def listwise_loss(scores):
    if scores.ndim != 2:
        raise ValueError("scores must be (B, 1 + n)")                   # (B, 1): no negative, yet a loss of 0
    return (torch.logsumexp(scores, dim=1) - scores[:, 0]).mean()
''', True),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    if len(candidate_ids) == 0 or r > len(candidate_ids) or len(cross_scores) < r:
        raise ValueError("bad input")
    s = np.asarray(cross_scores[:r], dtype=np.float32)                 # no copy for a float32 array: a view of the caller's
    s *= -1                                                            # negated in place, to sort highest first
    order = np.argsort(s, kind="stable")
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', True),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=np.float64), np.asarray(cross_scores, dtype=np.float64)
    if f.shape != c.shape:
        raise ValueError("score the same candidates")
    for x in (f, c):                                                   # a float64 array is standardised in place
        sd = x.std()
        x -= x.mean()
        x /= sd if sd > 1e-12 else 1.0
    return alpha * c + (1 - alpha) * f
''', True),
    },
    {   # sneaky: a private helper of the library, r > K not refused, lengths 1 and R broadcast
        "ex1_listwise": ('''
def listwise_loss(scores):
    losses._check_group(scores)                                         # the library's private shape check: delegation
    return (torch.logsumexp(scores, dim=1) - scores[:, 0]).mean()
''', True),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    if not candidate_ids or len(cross_scores) < r:                      # r > K is not refused: an IndexError instead
        raise ValueError("bad input")
    order = np.argsort(-np.asarray(cross_scores[:r], dtype=float), kind="stable")
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', True),
        "ex3_fusion": ('''
def zscore_fusion(first_scores, cross_scores, alpha):
    f, c = np.asarray(first_scores, dtype=float), np.asarray(cross_scores, dtype=float)

    def z(x):
        sd = x.std()
        return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)

    return alpha * z(c) + (1 - alpha) * z(f)                            # no length check: 1 score broadcasts against R
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
