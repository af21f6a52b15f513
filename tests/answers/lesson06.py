"""Answer sets for lesson 06_magnitude_cheating, used by the nbgrader round trip (tests/test_course.py).

``WRONG`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away.

``DELEGATE`` maps every exercise's grade_id to an answer that calls or aliases asymkit's implementation of
the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden tests.
"""

WRONG = [
    {   # classic mistakes: the visible tests catch them
        "ex1_fixed_loss": ('''
def fixed_info_nce(q, d, temperature=0.05):
    S = q @ d.T / temperature                              # the failing recipe: raw dot product
    return F.cross_entropy(S, torch.arange(q.shape[0]))
''', False),
        "ex2_eval_similarity": ('''
def eval_similarity_for(config):
    return "cosine"                                        # always cosine


def is_mismatched(config):
    return True
''', False),
        "ex3_early_warning": ('''
def first_warning_epoch(records, max_growth=1.5):
    return None                                            # never warns
''', False),
    },
    {   # sneaky mistakes: the visible tests pass, the hidden tests catch them
        "ex1_fixed_loss": ('''
def fixed_info_nce(q, d, temperature=0.05):
    q = F.normalize(q, p=2, dim=1)                         # only the queries are normalised
    S = q @ d.T / temperature
    return F.cross_entropy(S, torch.arange(q.shape[0]))
''', True),
        "ex2_eval_similarity": ('''
def eval_similarity_for(config):
    return config.similarity()                             # trusts a hand-set eval_similarity


def is_mismatched(config):
    return config.eval_similarity is not None              # any hand-set value counts as a mismatch
''', True),
        "ex3_early_warning": ('''
def first_warning_epoch(records, max_growth=1.5):
    for r in records[1:]:                                  # watches the documents only
        if r["d_norm_mean"] > max_growth * records[0]["d_norm_mean"]:
            return r["epoch"]
    return None
''', True),
    },
]

DELEGATE = {}
