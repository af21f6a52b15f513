"""Answer sets for lesson 06_magnitude_cheating (the format is described in tests/wrong_answers.py)."""

WRONG = [
    {   # classic mistakes: the visible tests catch them
        "ex1_batch_statistics": ('''
def batch_statistics(q, d, normalize=True):
    if normalize:
        q, d = F.normalize(q, dim=1), F.normalize(d, dim=1)   # the norms below are now all 1
    S = q @ d.T
    pos = S.diagonal()
    others = S - torch.diag(torch.full_like(pos, float("inf")))
    return {"pos_sim": pos.mean().item(), "neg_sim": S.mean().item(),   # the diagonal counted as negatives
            "in_batch_acc": (pos > others.max(dim=1).values).float().mean().item(),
            "q_norm_mean": q.norm(dim=1).mean().item(), "q_norm_std": q.norm(dim=1).std().item(),
            "d_norm_mean": d.norm(dim=1).mean().item(), "d_norm_std": d.norm(dim=1).std().item(),
            "q_std": q.std().item(), "d_std": d.std().item()}
''', False),
        "ex2_fixed_loss": ('''
def fixed_info_nce(q, d, temperature=0.05):
    S = q @ d.T / temperature                              # the failing recipe: raw dot product
    return F.cross_entropy(S, torch.arange(q.shape[0]))
''', False),
        "ex3_early_warning": ('''
def first_warning_epoch(records, max_growth=1.5):
    for r in records[1:]:                                  # watches the documents only
        if r["d_norm_mean"] > max_growth * records[0]["d_norm_mean"]:
            return r["epoch"]
    return None
''', False),
    },
    {   # sneaky mistakes: the visible tests pass, the hidden tests catch them
        "ex1_batch_statistics": ('''
def batch_statistics(q, d, normalize=True):
    qs, ds = (F.normalize(q, dim=1), F.normalize(d, dim=1)) if normalize else (q, d)
    S = qs @ ds.T
    n = S.shape[0]
    pos = S.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    best_other = S.masked_fill(~off, float("-inf")).max(dim=1).values
    return {"pos_sim": pos.mean().item(), "neg_sim": S[off].mean().item(),
            "in_batch_acc": (pos >= best_other).float().mean().item(),     # a tie counted as a hit
            "q_norm_mean": q.norm(dim=1).mean().item(), "q_norm_std": q.norm(dim=1).std().item(),
            "d_norm_mean": d.norm(dim=1).mean().item(), "d_norm_std": d.norm(dim=1).std().item(),
            "q_std": q.std().item(), "d_std": d.std().item()}
''', True),
        "ex2_fixed_loss": ('''
def fixed_info_nce(q, d, temperature=0.05):
    q = F.normalize(q, p=2, dim=1)                         # only the queries are normalised
    S = q @ d.T / temperature
    return F.cross_entropy(S, torch.arange(q.shape[0]))
''', True),
        "ex3_early_warning": ('''
def first_warning_epoch(records, max_growth=1.5):
    for prev, r in zip(records, records[1:]):              # compares with the previous epoch, not epoch 0
        growth = max(r["q_norm_mean"] / prev["q_norm_mean"], r["d_norm_mean"] / prev["d_norm_mean"])
        if growth > max_growth or (r["pos_sim"] > 1.0 and growth > 1.0):
            return r["epoch"]
    return None
''', True),
    },
]

DELEGATE = {
    "ex1_batch_statistics": '''
batch_statistics = train.batch_statistics
''',
    "ex2_fixed_loss": '''
from asymkit.losses import info_nce as _info_nce


def fixed_info_nce(q, d, temperature=0.05):
    return _info_nce(q, d, temperature, normalize=True)
''',
    "ex3_early_warning": '''
def first_warning_epoch(records, max_growth=1.5):
    message = train.magnitude_alarm(records, max_growth)   # "epoch 3: norms grew ..."
    return None if message is None else int(message.split(":")[0].split()[-1])
''',
}
