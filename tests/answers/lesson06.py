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
    {   # dtype and in-place edits: the visible tests pass them, the hidden tests see the caller's inputs change
        "ex1_batch_statistics": ("""
def batch_statistics(q, d, normalize=True):
    q, d = q.detach().float(), d.detach().float()          # no copy for float32: these ARE the caller's tensors
    q_norms, d_norms = q.norm(dim=1), d.norm(dim=1)
    stats = {"q_norm_mean": q_norms.mean().item(), "q_norm_std": q_norms.std().item(),
             "d_norm_mean": d_norms.mean().item(), "d_norm_std": d_norms.std().item(),
             "q_std": q.std().item(), "d_std": d.std().item()}
    if normalize:
        q /= q_norms[:, None]                               # in place
        d /= d_norms[:, None]
    S = q @ d.T
    n = S.shape[0]
    pos = S.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    best_other = S.masked_fill(~off, float("-inf")).max(dim=1).values
    return {"pos_sim": pos.mean().item(), "neg_sim": S[off].mean().item(),
            "in_batch_acc": (pos > best_other).float().mean().item(), **stats}
""", True),
        "ex2_fixed_loss": ("""
def fixed_info_nce(q, d, temperature=0.05):
    q, d = q.float(), d.float()                            # no copy when they are float32 already
    q /= q.norm(dim=1, keepdim=True)                       # in place: rewrites the caller's tensors
    d /= d.norm(dim=1, keepdim=True)
    S = q @ d.T / temperature
    return F.cross_entropy(S, torch.arange(q.shape[0]))
""", True),
        "ex3_early_warning": ("""
def first_warning_epoch(records, max_growth=1.5):
    q0, d0 = records[0]["q_norm_mean"], records[0]["d_norm_mean"]
    for r in records[1:]:
        r["growth"] = max(r["q_norm_mean"] / q0, r["d_norm_mean"] / d0)   # writes into the caller's records
        if r["growth"] > max_growth or (r["pos_sim"] > 1.0 and r["growth"] > 1.0):
            return r["epoch"]
    return None
""", True),
    },
    {   # ties and degenerate values: the visible tests pass them all
        "ex1_batch_statistics": ("""
def batch_statistics(q, d, normalize=True):
    qs, ds = (F.normalize(q, dim=1), F.normalize(d, dim=1)) if normalize else (q, d)
    S = qs @ ds.T
    n = S.shape[0]
    pos = S.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    hits = S.argmax(dim=1) == torch.arange(n)               # argmax takes the first of tied columns: a tie can count as a hit
    return {"pos_sim": pos.mean().item(), "neg_sim": S[off].mean().item(), "in_batch_acc": hits.float().mean().item(),
            "q_norm_mean": q.norm(dim=1).mean().item(), "q_norm_std": q.norm(dim=1).std().item(),
            "d_norm_mean": d.norm(dim=1).mean().item(), "d_norm_std": d.norm(dim=1).std().item(),
            "q_std": q.std().item(), "d_std": d.std().item()}
""", True),
        "ex2_fixed_loss": ("""
def fixed_info_nce(q, d, temperature=0.05):
    q = q / q.norm(dim=1, keepdim=True).clamp(min=1.0)     # "avoid dividing by zero": short vectors are not normalised
    d = d / d.norm(dim=1, keepdim=True).clamp(min=1.0)
    S = q @ d.T / temperature
    return F.cross_entropy(S, torch.arange(q.shape[0]))
""", True),
        "ex3_early_warning": ("""
def first_warning_epoch(records, max_growth=1.5):
    q0, d0 = records[0]["q_norm_mean"], records[0]["d_norm_mean"]
    for r in records[1:]:
        growth = max(r["q_norm_mean"] / q0, r["d_norm_mean"] / d0)
        if growth >= max_growth or (r["pos_sim"] >= 1.0 and growth >= 1.0):   # a tie at a threshold fires
            return r["epoch"]
    return None
""", True),
    },
    {   # delegation through another asymkit function, and a history of epoch 0 alone: the visible tests pass them
        "ex1_batch_statistics": ("""
def batch_statistics(q, d, normalize=True):
    q, d = q.detach().float(), d.detach().float()
    if normalize:                                          # asymkit.search's helper normalises the rows
        qs, ds = torch.as_tensor(search.l2_normalize(q.numpy())), torch.as_tensor(search.l2_normalize(d.numpy()))
    else:
        qs, ds = q, d
    S = qs @ ds.T
    n = S.shape[0]
    pos = S.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    best_other = S.masked_fill(~off, float("-inf")).max(dim=1).values
    return {"pos_sim": pos.mean().item(), "neg_sim": S[off].mean().item(),
            "in_batch_acc": (pos > best_other).float().mean().item(),
            "q_norm_mean": q.norm(dim=1).mean().item(), "q_norm_std": q.norm(dim=1).std().item(),
            "d_norm_mean": d.norm(dim=1).mean().item(), "d_norm_std": d.norm(dim=1).std().item(),
            "q_std": q.std().item(), "d_std": d.std().item()}
""", True),
        "ex2_fixed_loss": ("""
def fixed_info_nce(q, d, temperature=0.05):
    S = losses.similarity(q, d, True) / temperature       # asymkit's cosine helper, not info_nce: still asymkit's code
    return F.cross_entropy(S, torch.arange(q.shape[0]))
""", True),
        "ex3_early_warning": ("""
def first_warning_epoch(records, max_growth=1.5):
    q0, d0 = records[0]["q_norm_mean"], records[0]["d_norm_mean"]
    growth = [max(r["q_norm_mean"] / q0, r["d_norm_mean"] / d0) for r in records]
    fired = [g > max_growth or (r["pos_sim"] > 1.0 and g > 1.0) for g, r in zip(growth, records)]
    first = int(np.argmax(fired[1:])) + 1                   # argmax of an empty list: epoch 0 alone raises
    return records[first]["epoch"] if fired[first] else None
""", True),
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
