"""Realistic wrong answers for every exercise, used by the nbgrader round-trip.

``WRONG[lesson]`` is a list of submissions; each maps a solution cell's grade_id to
``(code, passes_visible)``. ``passes_visible=True`` marks a *sneaky* mistake that the
visible tests let through: the round-trip checks that a learner would indeed see them
pass, and that the hidden tests still take the points away.
"""

WRONG = {
    "01_bi_encoder": [
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
    ],
    "02_faiss": [
        {   # the classic mistakes
            "ex1_metric": ('''
def build_and_search(model_similarity, docs, queries, k):
    index = faiss.IndexFlatIP(docs.shape[1])            # inner product for everything, nothing normalised
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''', False),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    # position by position: but order should not matter
    return float(np.mean(np.asarray(ann_ids)[:, :k] == np.asarray(exact_ids)[:, :k]))
''', False),
            "ex3_cheapest": ('''
def cheapest_setting(rows, target):
    ok = [r for r in rows if r["recall"] >= target]
    return max(ok, key=lambda r: r["recall"]) if ok else None   # the most accurate, not the cheapest
''', False),
        },
        {   # sneaky mistakes: the visible tests pass, only the hidden tests catch them
            "ex1_metric": ('''
def build_and_search(model_similarity, docs, queries, k):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(model_similarity)
    docs = np.ascontiguousarray(docs, dtype=np.float32)  # no copy for float32 input...
    if model_similarity == "cosine":
        faiss.normalize_L2(docs)                          # ...so this rewrites the caller's array;
    index = faiss.IndexFlatIP(docs.shape[1])              # queries stay raw; euclidean uses IP
    index.add(docs)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
''', True),
            "ex2_recall": ('''
def recall_vs_exact(ann_ids, exact_ids, k):
    scores = []
    for a, e in zip(np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]):
        found = set(a[a >= 0].tolist())
        scores.append(len(found & set(e.tolist())) / max(len(found), 1))  # divides by what came back, not k
    return float(np.mean(scores))
''', True),
            "ex3_cheapest": ('''
def cheapest_setting(rows, target):
    ok = [r for r in rows if r["recall"] > target]       # > instead of >=
    return max(ok, key=lambda r: r["qps"]) if ok else None
''', True),
        },
    ],
    "03_twin_tower": [
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
    ],
}

WRONG["06_magnitude_cheating"] = [
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

WRONG["05_asymmetry"] = [
    {   # classic mistakes: the visible tests catch them
        "ex1_k_occurrence": ('''
def k_occurrence(S, k):
    top = np.argsort(S, axis=1)[:, :k]                     # the k *lowest* scores
    return np.bincount(top.ravel(), minlength=S.shape[1])
''', False),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.asarray(Q, dtype=float), np.asarray(D, dtype=float)
    dot = lambda p: float((Q[p[:, 0]] * D[p[:, 1]]).sum(1).mean())    # inner product, not cosine
    q, d = float(np.linalg.norm(Q, axis=1).mean()), float(np.linalg.norm(D, axis=1).mean())
    return {"q_norm": q, "d_norm": d, "ratio": q / d, "cos_relevant": dot(np.asarray(relevant)),
            "cos_random": dot(np.asarray(random))}
''', False),
        "ex3_alignment": ('''
def fit_procrustes(Q_train, D_train):
    W, *_ = np.linalg.lstsq(Q_train, D_train, rcond=None)  # least squares: not orthogonal
    return W


def align(setup):
    return setup.queries @ fit_procrustes(setup.train_queries, setup.train_docs), setup.docs
''', False),
    },
    {   # sneaky mistakes: the visible tests pass, the hidden tests catch them
        "ex1_k_occurrence": ('''
def k_occurrence(S, k):
    top = np.argsort(-np.asarray(S), axis=1)[:, :k]
    return np.unique(top, return_counts=True)[1]           # drops the documents nobody retrieved
''', True),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.asarray(Q, dtype=float), np.asarray(D, dtype=float)
    def mean_cos(p):
        a, b = Q[p[:, 1]], D[p[:, 0]]                      # the pair's columns read the wrong way round
        return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean())
    q, d = float(np.linalg.norm(Q, axis=1).mean()), float(np.linalg.norm(D, axis=1).mean())
    return {"q_norm": q, "d_norm": d, "ratio": d / q, "cos_relevant": mean_cos(np.asarray(relevant)),
            "cos_random": mean_cos(np.asarray(random))}
''', True),
        "ex3_alignment": ('''
def fit_procrustes(Q_train, D_train):
    Qn = Q_train / np.linalg.norm(Q_train, axis=1, keepdims=True)
    Dn = D_train / np.linalg.norm(D_train, axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(Qn.T @ Dn)
    return U @ Vt


def align(setup):
    rows = [setup.doc_ids.index(next(iter(setup.qrels[q]))) for q in setup.query_ids]
    W = fit_procrustes(setup.queries, setup.docs[rows])    # fitted on the test pairs
    return setup.queries @ W, setup.docs
''', True),
    },
]

WRONG["04_cross_encoder"] = [
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
