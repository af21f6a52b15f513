"""Answer sets for lesson 03_twin_tower (the format is described in tests/wrong_answers.py)."""

WRONG = [
        {   # the classic mistakes: caught by the visible tests
            "ex1_info_nce": ('''
def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    candidates = d if negatives is None else torch.cat([d, negatives.reshape(-1, d.shape[1])])
    scores = q @ candidates.T / temperature          # forgot to normalise
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
''', False),
            "ex2_training_step": ('''
def training_step(model, optimizer, q_in, d_in, batch_loss):
    q, d = model(q_in, d_in)
    loss = batch_loss(q, d)
    loss.backward()                                   # no zero_grad: gradients pile up from step to step
    optimizer.step()
    return loss.item()
''', False),
            "ex3_hard_negatives": ('''
def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.array(scores, dtype=float)
    S[np.arange(len(S)), positive] = -np.inf
    return np.argsort(-S, axis=1)[:, :n]              # no false-negative guard
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_info_nce": ('''
def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    candidates = d if negatives is None else torch.cat([d, negatives.reshape(-1, d.shape[1])])
    if normalize:
        q = F.normalize(q, p=2, dim=1)
        candidates = F.normalize(candidates, p=2, dim=1)
        scores = q @ candidates.T / temperature
    else:
        scores = q @ candidates.T * temperature       # temperature inverted on the raw path
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
''', True),
            "ex2_training_step": ('''
def training_step(model, optimizer, q_in, d_in, batch_loss):
    device = next(model.parameters()).device
    q, d = model(q_in.to(device), d_in.to(device))    # breaks on the transformer towers' lists of texts
    loss = batch_loss(q, d)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
''', True),
            "ex3_hard_negatives": ('''
def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.array(scores, dtype=float)
    out = np.full((len(S), n), -1)
    for i, p in enumerate(positive):
        limit = max_ratio * S[i, p]
        S[i, p] = -np.inf
        top = [j for j in np.argsort(-S[i])[:depth] if S[i, j] <= limit]   # <=: keeps a candidate AT the threshold
        out[i, :len(top[:n])] = top[:n]
    return out
''', True),
        },
        {   # dtype, degenerate sizes and the audit's float32 case: the visible tests pass all but the last
            "ex1_info_nce": ("""
def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    q, d = q.float(), d.float()                       # no copy when they are float32 already
    if normalize:
        q /= q.norm(dim=1, keepdim=True)              # in place: rewrites the caller's float32 tensors
        d /= d.norm(dim=1, keepdim=True)
    candidates = d if negatives is None else torch.cat([d, negatives.float().reshape(-1, d.shape[1])])
    if normalize and negatives is not None:
        candidates = F.normalize(candidates, p=2, dim=1)
    scores = q @ candidates.T / temperature
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
""", True),
            "ex2_training_step": ("""
def training_step(model, optimizer, q_in, d_in, batch_loss):
    q, d = model(q_in, d_in)
    loss = batch_loss(q, d)
    if len(q) < 2:                                    # "a batch of one has no negatives": skips the update
        return loss.item()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
""", True),
            "ex3_hard_negatives": ("""
def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.asarray(scores, dtype=np.float32)          # a copy only when scores are not float32 already
    rows = np.arange(len(S))
    threshold = max_ratio * S[rows, positive]
    S[rows, positive] = -np.inf                       # in place: the caller's float32 scores lose their positives
    out = np.full((len(S), n), -1)
    for i in range(len(S)):
        top = np.argsort(-S[i], kind="stable")[:min(depth, S.shape[1] - 1)]
        kept = top[S[i, top] < threshold[i]][:n]
        out[i, :len(kept)] = kept
    return out
""", False),
        },
        {   # delegation through private helpers (the audit's mining._guard_and_fill among them): right values, not own work
            "ex1_info_nce": ("""
def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    candidates = losses._candidates(q, d, negatives)  # asymkit's private helper builds the columns
    if normalize:
        q = F.normalize(q, p=2, dim=1)
        candidates = F.normalize(candidates, p=2, dim=1)
    scores = q @ candidates.T / temperature
    return F.cross_entropy(scores, torch.arange(q.shape[0]))
""", True),
            "ex2_training_step": ("""
def training_step(model, optimizer, q_in, d_in, batch_loss):
    device = str(next(model.parameters()).device)
    q_in, d_in = train._inputs(q_in, "q_in", device), train._inputs(d_in, "d_in", device)   # a private helper
    q, d = model(q_in, d_in)
    loss = batch_loss(q, d)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
""", True),
            "ex3_hard_negatives": ("""
def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.array(scores, dtype=np.float64)
    ids = np.argsort(-S, axis=1, kind="stable")                     # every document, best first
    ranked = np.take_along_axis(S, ids, axis=1)
    pos_scores = S[np.arange(len(S)), positive]
    out, filled = mining._guard_and_fill(ids, ranked, pos_scores, [[int(p)] for p in positive], n, depth, 0,
                                         max_ratio, S.shape[1], 0)   # the library's private selection
    return np.where(filled, -1, out)
""", True),
        },
    ]

DELEGATE = {
    "ex1_info_nce": '''
def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    return losses.info_nce(q, d, temperature, normalize, negatives)   # the library's InfoNCE
''',
    "ex2_training_step": '''
training_step = train.training_step
''',
    "ex3_hard_negatives": '''
from asymkit.mining import mine_hard_negatives as mine


def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.asarray(scores, dtype=np.float32)            # rows of scores as queries against one-hot "documents"
    ids, filled = mine(S, np.eye(S.shape[1], dtype=np.float32), [[p] for p in positive], n=n, depth=depth,
                       max_ratio=max_ratio, metric="ip", return_filled=True)
    return np.where(filled, -1, ids)
''',
}
