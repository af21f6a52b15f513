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
