"""Answer sets for lesson 03_twin_tower, used by the nbgrader round trip (tests/test_course.py).

``WRONG`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away.

``DELEGATE`` maps every exercise's grade_id to an answer that calls or aliases asymkit's implementation of
the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden tests.
"""

WRONG = [
        {   # the classic mistakes
            "ex1_info_nce": ('''
def info_nce_loss(q, d, temperature=0.05, normalize=True):
    scores = q @ d.T / temperature                   # forgot to normalise
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
''', False),
            "ex2_twin_tower": ('''
class TwinTower(nn.Module):
    def __init__(self, dim=384):
        super().__init__()
        self.query_tower = towers.ProjectionTower(dim)
        self.doc_tower = self.query_tower               # one shared tower: a bi-encoder, not a twin

    def forward(self, q_in, d_in):
        return self.query_tower(q_in), self.doc_tower(d_in)
''', False),
            "ex3_hard_negatives": ('''
def hard_negatives_from_scores(scores, positive, n):
    return np.argsort(-np.asarray(scores), axis=1)[:, :n]   # the positive is not excluded
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_info_nce": ('''
def info_nce_loss(q, d, temperature=0.05, normalize=True):
    if normalize:
        q = F.normalize(q, p=2, dim=1)
        d = F.normalize(d, p=2, dim=1)
        scores = q @ d.T / temperature
    else:
        scores = q @ d.T * temperature                  # temperature inverted on the raw path
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
''', True),
            "ex2_twin_tower": ('''
class TwinTower(nn.Module):
    def __init__(self, dim=384):
        super().__init__()
        self.query_tower = towers.ProjectionTower(dim)
        self.doc_tower = towers.ProjectionTower(dim)

    def forward(self, q_in, d_in):
        return self.doc_tower(q_in), self.query_tower(d_in)   # towers swapped
''', True),
            "ex3_hard_negatives": ('''
def hard_negatives_from_scores(scores, positive, n):
    S = np.asarray(scores)                               # no copy: the caller's array is changed
    S[np.arange(len(S)), positive] = -np.inf
    return np.argsort(-S, axis=1)[:, :n]
''', True),
        },
    ]

DELEGATE = {}
