"""Answer sets for lesson 04_cross_encoder, used by the nbgrader round trip (tests/test_course.py).

``WRONG`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away.

``DELEGATE`` maps every exercise's grade_id to an answer that calls or aliases asymkit's implementation of
the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden tests.
"""

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
        "ex3_choose": ('''
def choose_setting(rows, budget_ms):
    return max(rows, key=lambda r: r["NDCG@10"])                        # ignores the budget
''', False),
    },
    {   # no softmax: rewards a high positive score, whatever the negatives do
        "ex1_listwise": ('''
def listwise_loss(scores):
    return -scores[:, 0].mean()
''', False),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    order = np.argsort(np.asarray(cross_scores[:r], dtype=float), kind="stable")   # lowest score first
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', False),
        "ex3_choose": ('''
def choose_setting(rows, budget_ms):
    fits = [r for r in rows if r["ms"] <= budget_ms]
    return min(fits, key=lambda r: r["ms"])                             # the fastest, not the best within budget
''', False),
    },
    {   # sneaky: the visible tests pass, the hidden ones do not
        "ex1_listwise": ('''
def listwise_loss(scores):
    return (torch.logsumexp(scores, dim=1) - scores[:, 0]).sum()       # summed over rows, not averaged; no shape check
''', True),
        "ex2_rerank": ('''
def rerank_stage(candidate_ids, cross_scores, r):
    order = np.argsort(-np.asarray(cross_scores, dtype=float))[:r]     # sorts every score given, not only the top r
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
''', True),
        "ex3_choose": ('''
def choose_setting(rows, budget_ms):
    fits = [r for r in rows if r["ms"] < budget_ms]                     # a setting exactly at the budget is left out
    if not fits:
        raise ValueError("budget too tight")
    return max(fits, key=lambda r: r["NDCG@10"])
''', True),
    },
]

DELEGATE = {}
