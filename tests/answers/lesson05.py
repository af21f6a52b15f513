"""Answer sets for lesson 05_asymmetry (the format is described in tests/wrong_answers.py)."""

WRONG = [
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
    return np.eye(Q_train.shape[1])                        # orthogonal, the right shape, and does nothing


def align(setup):
    return setup.queries, setup.docs                       # "aligned": nothing changed
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
    {   # one more of each: the queries' ranking read down the columns, a cosine divided by one norm only (both visible),
        # Procrustes on unnormalised rows (hidden only)
        "ex1_k_occurrence": ('''
def k_occurrence(S, k):
    top = np.argsort(-np.asarray(S), axis=0)[:k]          # the top k queries of each document, not the other way round
    return np.bincount(top.ravel(), minlength=np.asarray(S).shape[1])
''', False),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.asarray(Q, dtype=float), np.asarray(D, dtype=float)
    def mean_cos(p):
        a, b = Q[p[:, 0]], D[p[:, 1]]
        return float(((a * b).sum(1) / np.linalg.norm(a, axis=1)).mean())   # divides by the query's norm only
    q, d = float(np.linalg.norm(Q, axis=1).mean()), float(np.linalg.norm(D, axis=1).mean())
    return {"q_norm": q, "d_norm": d, "ratio": d / q,
            "cos_relevant": mean_cos(np.asarray(relevant)), "cos_random": mean_cos(np.asarray(random))}
''', False),
        "ex3_alignment": ('''
def fit_procrustes(Q_train, D_train):
    U, _, Vt = np.linalg.svd(Q_train.T @ D_train)          # rows not normalised: long pairs weigh more
    return U @ Vt


def align(setup):
    return setup.queries @ fit_procrustes(setup.train_queries, setup.train_docs), setup.docs
''', True),
    },
    {   # sneaky, from the audit: every document tied at the k-th score counted, float32 vectors normalised in place
        # (in the lesson it silently normalised the "unnormalized documents" for every later cell), the alignment
        # written into the setup
        "ex1_k_occurrence": ('''
def k_occurrence(S, k):
    S = np.asarray(S)
    kth = np.sort(S, axis=1)[:, -k]                        # each query's k-th best score
    return (S >= kth[:, None]).sum(axis=0)                 # with ties at the cut, a query counts more than k documents
''', True),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.asarray(Q, dtype=np.float32), np.asarray(D, dtype=np.float32)   # no copy for float32 vectors
    qn, dn = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)
    Q /= qn[:, None]                                       # unit rows for the cosines, in place: the caller's vectors
    D /= dn[:, None]
    mean_cos = lambda p: float((Q[p[:, 0]] * D[p[:, 1]]).sum(1).mean())
    return {"q_norm": float(qn.mean()), "d_norm": float(dn.mean()), "ratio": float(dn.mean() / qn.mean()),
            "cos_relevant": mean_cos(np.asarray(relevant)), "cos_random": mean_cos(np.asarray(random))}
''', True),
        "ex3_alignment": ('''
def fit_procrustes(Q_train, D_train):
    Qn = Q_train / np.linalg.norm(Q_train, axis=1, keepdims=True)
    Dn = D_train / np.linalg.norm(D_train, axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(Qn.T @ Dn)
    return U @ Vt


def align(setup):
    setup.queries = setup.queries @ fit_procrustes(setup.train_queries, setup.train_docs)   # aligned "once and for all"
    return setup.queries, setup.docs
''', True),
    },
    {   # sneaky: scores negated in place (float32 only), integer vectors refused, training pairs normalised in place
        "ex1_k_occurrence": ('''
def k_occurrence(S, k):
    S = np.asarray(S, dtype=np.float32)                    # no copy for a float32 score matrix
    S *= -1                                                # negated in place, so that argsort puts the best first
    top = np.argsort(S, axis=1, kind="stable")[:, :k]
    return np.bincount(top.ravel(), minlength=S.shape[1])
''', True),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.array(Q), np.array(D)                        # copies, but of the caller's dtype
    qn, dn = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)
    Q /= qn[:, None]                                       # integer vectors: numpy cannot divide them in place
    D /= dn[:, None]
    mean_cos = lambda p: float((Q[p[:, 0]] * D[p[:, 1]]).sum(1).mean())
    return {"q_norm": float(qn.mean()), "d_norm": float(dn.mean()), "ratio": float(dn.mean() / qn.mean()),
            "cos_relevant": mean_cos(np.asarray(relevant)), "cos_random": mean_cos(np.asarray(random))}
''', True),
        "ex3_alignment": ('''
def fit_procrustes(Q_train, D_train):
    Q_train /= np.linalg.norm(Q_train, axis=1, keepdims=True)     # normalised in place: the caller's training pairs
    D_train /= np.linalg.norm(D_train, axis=1, keepdims=True)
    U, _, Vt = np.linalg.svd(Q_train.T @ D_train)
    return U @ Vt


def align(setup):
    return setup.queries @ fit_procrustes(setup.train_queries, setup.train_docs), setup.docs
''', True),
    },
    {   # sneaky: another module's top k, repeated pairs counted once, the library's normalisation
        "ex1_k_occurrence": ('''
from asymkit import search


def k_occurrence(S, k):
    top = search.select_top_k(np.asarray(S), k)[1]         # asymkit.search's top k: delegation
    return np.bincount(top.ravel(), minlength=np.asarray(S).shape[1])
''', True),
        "ex2_asymmetry_stats": ('''
def asymmetry_stats(Q, D, relevant, random):
    Q, D = np.asarray(Q, dtype=float), np.asarray(D, dtype=float)
    def mean_cos(p):
        p = np.unique(np.asarray(p), axis=0)               # a pair drawn twice is counted once
        a, b = Q[p[:, 0]], D[p[:, 1]]
        return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).mean())
    q, d = float(np.linalg.norm(Q, axis=1).mean()), float(np.linalg.norm(D, axis=1).mean())
    return {"q_norm": q, "d_norm": d, "ratio": d / q, "cos_relevant": mean_cos(relevant), "cos_random": mean_cos(random)}
''', True),
        "ex3_alignment": ('''
from asymkit import search


def fit_procrustes(Q_train, D_train):
    U, _, Vt = np.linalg.svd(search.l2_normalize(Q_train).T @ search.l2_normalize(D_train))   # the library's normalisation
    return U @ Vt


def align(setup):
    return setup.queries @ fit_procrustes(setup.train_queries, setup.train_docs), setup.docs
''', True),
    },
]

DELEGATE = {
    "ex1_k_occurrence": '''
def k_occurrence(S, k):
    top = diagnostics.top_indices(np.asarray(S), k)        # the library's top k, counted here
    return np.bincount(top.ravel(), minlength=np.asarray(S).shape[1])
''',
    "ex2_asymmetry_stats": '''
from asymkit.diagnostics import asymmetry_stats
''',
    "ex3_alignment": '''
import functools

fit_procrustes = functools.partial(diagnostics.fit_alignment, method="procrustes")


def align(setup):
    W = fit_procrustes(setup.train_queries, setup.train_docs)
    return diagnostics.apply_alignment(setup.queries, W), setup.docs
''',
}
