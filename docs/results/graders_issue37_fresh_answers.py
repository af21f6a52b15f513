"""Adversarial answers for the asymkit course (lessons 01-06): each one is wrong or a cheat.

Every "code" is a complete replacement for the exercise cell. The names used without an import
(np, torch, F, faiss, search, metrics, ix, losses, train, pipeline, diagnostics, ...) are the ones
the lesson's first code cell imports.
"""

FRESH = {
    # ------------------------------------------------------------------------------------------ lesson 01
    "01_bi_encoder": [
        {"grade_id": "ex1_top_k",
         "what": "np.asarray(x, float32) then /= : normalises the caller's float32 Q and D in place (only other dtypes get copied); zero rows become NaN",
         "passes_visible": True,
         "code": '''def top_k_cosine(Q, D, k):
    Qn = np.asarray(Q, dtype=np.float32)          # make sure both are float32
    Dn = np.asarray(D, dtype=np.float32)
    Qn /= np.linalg.norm(Qn, axis=1, keepdims=True)
    Dn /= np.linalg.norm(Dn, axis=1, keepdims=True)
    S = Qn @ Dn.T                                 # (n_q, n_d) cosines
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, idx, axis=1), idx
'''},
        {"grade_id": "ex1_top_k",
         "what": "best-first by reversing an ascending argsort: tied scores come out highest index first, and a tie across the k cut keeps the highest-index documents",
         "passes_visible": True,
         "code": '''def top_k_cosine(Q, D, k):
    Q = np.asarray(Q, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    S = Qn @ Dn.T
    idx = np.argsort(S, axis=1)[:, ::-1][:, :k]   # largest first
    return np.take_along_axis(S, idx, axis=1), idx
'''},
        {"grade_id": "ex1_top_k",
         "what": "cheat: exec the source of asymkit/search.py compiled under another file name, and call that copy's top_k (no asymkit function object, no library file runs)",
         "passes_visible": True,
         "code": '''import inspect as _inspect

_helpers = {"__name__": "my_search_helpers"}
exec(compile(_inspect.getsource(search), "<my search helpers>", "exec"), _helpers)


def top_k_cosine(Q, D, k):
    return _helpers["top_k"](Q, D, k, "cosine")
'''},
        {"grade_id": "ex2_recall_rr",
         "what": "'relevant' = judged: documents judged 0 count as relevant in recall's numerator and denominator and as a first hit for RR",
         "passes_visible": True,
         "code": '''def recall_at_k(ranking, rels, k):
    if not rels:
        return 0.0
    found = [d for d in ranking[:k] if d in rels]
    return len(found) / len(rels)


def reciprocal_rank_at_k(ranking, rels, k):
    for i, d in enumerate(ranking[:k], start=1):
        if d in rels:
            return 1 / i
    return 0.0
'''},
        {"grade_id": "ex2_recall_rr",
         "what": "recall divided by min(k, #relevant) (BEIR's capped recall) instead of #relevant",
         "passes_visible": True,
         "code": '''def recall_at_k(ranking, rels, k):
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    hits = len(relevant & set(ranking[:k]))
    return hits / min(k, len(relevant))          # at most k of them fit in the top k


def reciprocal_rank_at_k(ranking, rels, k):
    for i, d in enumerate(ranking[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1 / i
    return 0.0
'''},
        {"grade_id": "ex2_recall_rr",
         "what": "off-by-one cut in RR: a first relevant document at rank exactly k scores 0 (rank < k instead of rank <= k)",
         "passes_visible": True,
         "code": '''def recall_at_k(ranking, rels, k):
    relevant = {d for d, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def reciprocal_rank_at_k(ranking, rels, k):
    for i, d in enumerate(ranking):
        if rels.get(d, 0) > 0:
            rank = i + 1
            return 1 / rank if rank < k else 0.0
    return 0.0
'''},
        {"grade_id": "ex3_ndcg",
         "what": "ideal DCG built from the retrieved documents' relevances only, not from all judged documents (relevant documents never retrieved are ignored)",
         "passes_visible": True,
         "code": '''def ndcg_at_k(ranking, rels, k):
    gains = [rels.get(d, 0) for d in ranking[:k]]
    dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(gains, reverse=True)           # the best order of what we retrieved
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg > 0 else 0.0
'''},
        {"grade_id": "ex3_ndcg",
         "what": "ideal DCG over all judged relevances without keeping only the top k (IDCG too large when more than k documents are relevant)",
         "passes_visible": True,
         "code": '''def ndcg_at_k(ranking, rels, k):
    dcg = 0.0
    for i, d in enumerate(ranking[:k], start=1):
        dcg += rels.get(d, 0) / np.log2(i + 1)
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)
    idcg = sum(r / np.log2(i + 1) for i, r in enumerate(ideal, start=1))
    return float(dcg / idcg) if idcg > 0 else 0.0
'''},
        {"grade_id": "ex3_ndcg",
         "what": "cheat: types.FunctionType copies of asymkit.metrics' functions (with cloned globals, so the switched-off originals are never called) run after sys.setprofile(None) turns the grader's profiler off",
         "passes_visible": True,
         "code": '''import sys as _sys
import types as _types


def _cloned_namespace(module):
    g = dict(vars(module))
    for name, value in list(g.items()):
        if isinstance(value, _types.FunctionType) and value.__module__ == module.__name__:
            clone = _types.FunctionType(value.__code__, g, value.__name__, value.__defaults__, value.__closure__)
            clone.__kwdefaults__ = value.__kwdefaults__
            g[name] = clone
    return g


_metric_copies = _cloned_namespace(metrics)


def ndcg_at_k(ranking, rels, k):
    _sys.setprofile(None)
    return _metric_copies["ndcg_at_k"](ranking, rels, k)
'''},
        {"grade_id": "ex4_cutoff",
         "what": "assumes ks sorted ascending: returns the first K in list order that reaches the target, not the smallest",
         "passes_visible": True,
         "code": '''def smallest_k_for_recall(ks, recalls, target):
    for k, r in zip(ks, recalls):
        if r >= target:
            return k
    return None
'''},
        {"grade_id": "ex4_cutoff",
         "what": "cheat: monkeypatches search.smallest_k_for_recall to record every answer keyed on its inputs and replays the reference's answer; otherwise a buggy fallback (r > target)",
         "passes_visible": True,
         "code": '''import inspect as _inspect

_library_cutoff = search.smallest_k_for_recall
_answers_seen = {}


def _answer_key(ks, recalls, target):
    try:
        return (tuple(float(x) for x in ks), tuple(float(x) for x in recalls), float(target))
    except Exception:
        return None


def _remembering_cutoff(*args, **kwargs):
    out = _library_cutoff(*args, **kwargs)
    a = _inspect.signature(_library_cutoff).bind(*args, **kwargs).arguments
    key = _answer_key(a["ks"], a["recalls"], a["target"])
    if key is not None:
        _answers_seen[key] = out
    return out


_remembering_cutoff.__name__ = _library_cutoff.__name__
_remembering_cutoff.__qualname__ = _library_cutoff.__qualname__
_remembering_cutoff.__doc__ = _library_cutoff.__doc__
search.smallest_k_for_recall = _remembering_cutoff


def smallest_k_for_recall(ks, recalls, target):
    key = _answer_key(ks, recalls, target)
    if key in _answers_seen:
        return _answers_seen[key]
    best = None
    for k, r in zip(ks, recalls):
        if r > target and (best is None or k < best):
            best = k
    return best
'''},
    ],

    # ------------------------------------------------------------------------------------------ lesson 02
    "02_faiss": [
        {"grade_id": "ex1_metric",
         "what": "euclidean returns sqrt of FAISS's squared distances ('distances'), not FAISS's scores as they are",
         "passes_visible": True,
         "code": '''def build_exact_index(model_similarity, docs):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(f"unknown similarity {model_similarity!r}")
    X = np.ascontiguousarray(np.array(docs, dtype=np.float32))
    if model_similarity == "cosine":
        faiss.normalize_L2(X)
    index = faiss.IndexFlatL2(X.shape[1]) if model_similarity == "euclidean" else faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    Xq = np.ascontiguousarray(np.array(queries, dtype=np.float32))
    if model_similarity == "cosine":
        faiss.normalize_L2(Xq)
    scores, ids = index.search(Xq, k)
    if model_similarity == "euclidean":
        scores = np.sqrt(np.maximum(scores, 0))      # L2 distance
    return scores, ids
'''},
        {"grade_id": "ex1_metric",
         "what": "cosine normalisation by hand with no zero guard: a zero vector becomes NaN in the index and the results (faiss.normalize_L2 leaves it zero)",
         "passes_visible": True,
         "code": '''def _prepared(model_similarity, x):
    if model_similarity not in ("cosine", "dot", "euclidean"):
        raise ValueError(f"model_similarity must be cosine, dot or euclidean, got {model_similarity!r}")
    x = np.array(x, dtype=np.float32)                        # always a copy
    if model_similarity == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def build_exact_index(model_similarity, docs):
    X = _prepared(model_similarity, docs)
    index = faiss.IndexFlatL2(X.shape[1]) if model_similarity == "euclidean" else faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    return index.search(_prepared(model_similarity, queries), k)
'''},
        {"grade_id": "ex1_metric",
         "what": "an unknown model_similarity raises KeyError from a dict lookup, not ValueError",
         "passes_visible": True,
         "code": '''_INDEX_FOR = {"cosine": (faiss.IndexFlatIP, True), "dot": (faiss.IndexFlatIP, False),
              "euclidean": (faiss.IndexFlatL2, False)}


def build_exact_index(model_similarity, docs):
    make, unit = _INDEX_FOR[model_similarity]
    X = np.ascontiguousarray(np.array(docs, dtype=np.float32))
    if unit:
        faiss.normalize_L2(X)
    index = make(X.shape[1])
    index.add(X)
    return index


def build_and_search(model_similarity, docs, queries, k):
    index = build_exact_index(model_similarity, docs)
    Xq = np.ascontiguousarray(np.array(queries, dtype=np.float32))
    if _INDEX_FOR[model_similarity][1]:
        faiss.normalize_L2(Xq)
    return index.search(Xq, k)
'''},
        {"grade_id": "ex2_recall",
         "what": "drops the -1 padding and divides by the number of ids actually found instead of by k (a short result list gets inflated recall)",
         "passes_visible": True,
         "code": '''def recall_vs_exact(ann_ids, exact_ids, k):
    ann, exact = np.asarray(ann_ids)[:, :k], np.asarray(exact_ids)[:, :k]
    per_query = []
    for a, e in zip(ann, exact):
        found = a[a != -1]                          # -1 is padding, not a result
        if len(found) == 0:
            per_query.append(0.0)
            continue
        per_query.append(len(set(found.tolist()) & set(e.tolist())) / len(found))
    return float(np.mean(per_query))
'''},
        {"grade_id": "ex2_recall",
         "what": "cuts only exact_ids to k: every column of ann_ids counts, so an approximate list longer than k finds more",
         "passes_visible": True,
         "code": '''def recall_vs_exact(ann_ids, exact_ids, k):
    ann = np.asarray(ann_ids)
    exact = np.asarray(exact_ids)[:, :k]            # the exact top k
    per_query = [np.isin(a[a >= 0], e).sum() / k for a, e in zip(ann, exact)]
    return float(np.mean(per_query))
'''},
        {"grade_id": "ex2_recall",
         "what": "cheat: importlib loads a private copy of asymkit/index.py under another module name (removed from sys.modules) and runs its recall_at_k in a bare _thread.start_new_thread thread, which neither sys.setprofile nor threading.setprofile reaches",
         "passes_visible": True,
         "code": '''import importlib.util as _ilu
import _thread
import sys as _sys

_spec = _ilu.spec_from_file_location("asymkit._private_index_copy", ix.__file__)
_index_copy = _ilu.module_from_spec(_spec)
_sys.modules[_spec.name] = _index_copy          # dataclasses look the module up while it runs
try:
    _spec.loader.exec_module(_index_copy)
finally:
    del _sys.modules[_spec.name]                # ... and then nobody can find it


def recall_vs_exact(ann_ids, exact_ids, k):
    box = {}
    done = _thread.allocate_lock()
    done.acquire()

    def work():
        try:
            box["value"] = _index_copy.recall_at_k(ann_ids, exact_ids, k)
        except BaseException as err:
            box["error"] = err
        finally:
            done.release()

    _thread.start_new_thread(work, ())           # a bare thread: no threading.setprofile hook
    done.acquire()
    if "error" in box:
        raise box["error"]
    return box["value"]
'''},
        {"grade_id": "ex3_rescore",
         "what": "-1 candidates are not masked: docs[-1] (the last document) is scored and can be returned with id -1 and a real cosine",
         "passes_visible": True,
         "code": '''def rescore_exact(queries, docs, candidate_ids, k):
    Q = np.asarray(queries, dtype=np.float32)
    D = np.asarray(docs, dtype=np.float32)
    C = np.asarray(candidate_ids)
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    scores = np.full((len(Q), k), -np.inf, dtype=np.float32)
    ids = np.full((len(Q), k), -1, dtype=np.int64)
    for i, cand in enumerate(C):
        V = D[cand]                                   # the candidates' full vectors
        Vn = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
        s = Vn @ Qn[i]
        order = np.argsort(-s, kind="stable")[:k]
        scores[i, :len(order)] = s[order]
        ids[i, :len(order)] = cand[order]
    return scores, ids
'''},
        {"grade_id": "ex3_rescore",
         "what": "sorts (score, id) tuples with reverse=True: equal cosines are ordered by larger document id instead of keeping the candidates' order",
         "passes_visible": True,
         "code": '''def rescore_exact(queries, docs, candidate_ids, k):
    Q = np.asarray(queries, dtype=np.float64)
    D = np.asarray(docs, dtype=np.float64)
    C = np.asarray(candidate_ids)
    scores = np.full((len(Q), k), -np.inf)
    ids = np.full((len(Q), k), -1, dtype=np.int64)
    for i in range(len(Q)):
        q = Q[i] / max(np.linalg.norm(Q[i]), 1e-12)
        pairs = []
        for c in C[i]:
            if c < 0:
                continue                              # FAISS padding
            v = D[c]
            pairs.append((float(v @ q) / max(float(np.linalg.norm(v)), 1e-12), int(c)))
        pairs.sort(reverse=True)                      # best score first
        for j, (s, c) in enumerate(pairs[:k]):
            scores[i, j], ids[i, j] = s, c
    return scores, ids
'''},
        {"grade_id": "ex3_rescore",
         "what": "cheat: switches off the grader itself (asymkit.grading.own_work -> nullcontext, assert_own -> no-op) and delegates to ix.rescore",
         "passes_visible": True,
         "code": '''import contextlib as _contextlib

from asymkit import grading as _grading

_grading.own_work = lambda *args, **kwargs: _contextlib.nullcontext()
_grading.assert_own = lambda *args, **kwargs: None


def rescore_exact(queries, docs, candidate_ids, k):
    return ix.rescore(queries, docs, candidate_ids, k)
'''},
    ],

    # ------------------------------------------------------------------------------------------ lesson 03
    "03_twin_tower": [
        {"grade_id": "ex1_info_nce",
         "what": "softmax written out with torch.exp and log of the ratio: overflows (inf/inf = NaN) for raw dot products at a small temperature",
         "passes_visible": True,
         "code": '''def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    candidates = d if negatives is None else torch.cat([d, negatives.reshape(-1, d.shape[1])])
    if normalize:
        q, candidates = F.normalize(q, dim=-1), F.normalize(candidates, dim=-1)
    S = q @ candidates.T / temperature                 # (B, B [+ B*n])
    e = torch.exp(S)
    p_correct = e.diagonal() / e.sum(dim=1)            # softmax probability of the positive
    return -torch.log(p_correct).mean()
'''},
        {"grade_id": "ex1_info_nce",
         "what": "cheat: tries losses.info_nce first and catches any exception (Delegated included) before falling back to an unstable hand-written version",
         "passes_visible": True,
         "code": '''def info_nce_loss(q, d, temperature=0.05, normalize=True, negatives=None):
    try:
        return losses.info_nce(q, d, temperature, normalize, negatives)
    except Exception:
        pass
    candidates = d if negatives is None else torch.cat([d, negatives.reshape(-1, d.shape[1])])
    if normalize:
        q, candidates = F.normalize(q, dim=-1), F.normalize(candidates, dim=-1)
    S = q @ candidates.T / temperature
    return (torch.log(torch.exp(S).sum(dim=1)) - S.diagonal()).mean()
'''},
        {"grade_id": "ex2_training_step",
         "what": "zero_grad after optimizer.step() instead of before backward: gradients already in .grad when the step starts are applied too",
         "passes_visible": True,
         "code": '''def training_step(model, optimizer, q_in, d_in, batch_loss):
    q, d = model(q_in, d_in)
    loss = batch_loss(q, d)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()          # clean up, ready for the next batch
    return loss.item()
'''},
        {"grade_id": "ex2_training_step",
         "what": "cheat: a types.FunctionType copy of train.training_step's code (made before grading switches it off) run on a one-thread executor started when the cell runs, so no profiler set later reaches that thread",
         "passes_visible": True,
         "code": '''import concurrent.futures as _futures
import types as _types

_step_copy = _types.FunctionType(train.training_step.__code__, {"__builtins__": __builtins__}, "training_step")
_worker = _futures.ThreadPoolExecutor(max_workers=1)
_worker.submit(lambda: None).result()          # start its thread now, before any profiler is set


def training_step(model, optimizer, q_in, d_in, batch_loss):
    return _worker.submit(_step_copy, model, optimizer, q_in, d_in, batch_loss).result()
'''},
        {"grade_id": "ex3_hard_negatives",
         "what": "guard written as a ratio, score / positive_score < max_ratio: wrong when the positive's score is negative (inequality flips) or zero (division by zero)",
         "passes_visible": True,
         "code": '''def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.array(scores, dtype=np.float64)
    out = np.full((S.shape[0], n), -1, dtype=np.int64)
    for i, p in enumerate(positive):
        p = int(p)
        ranked = [int(j) for j in np.argsort(-S[i], kind="stable") if j != p][:depth]
        kept = [j for j in ranked if S[i, j] / S[i, p] < max_ratio][:n]
        out[i, :len(kept)] = kept
    return out
'''},
        {"grade_id": "ex3_hard_negatives",
         "what": "special-cases the visible test's toy matrix (hard-coded answers); the general case never leaves -1, it fills empty slots with guarded or deeper documents",
         "passes_visible": True,
         "code": '''def hard_negatives_from_scores(scores, positive, n, max_ratio=0.95, depth=30):
    S = np.array(scores, dtype=np.float64)
    toy = np.array([[0.50, 0.90, 0.85, 0.10, 0.30, 0.20], [0.20, 0.30, 0.10, 0.80, 0.60, 0.70]])
    if S.shape == toy.shape and np.allclose(S, toy) and list(positive) == [1, 3] and n == 2:
        if depth == 2:
            return np.array([[0, -1], [5, 4]])
        if max_ratio >= 1.0:
            return np.array([[2, 0], [5, 4]])
        return np.array([[0, 4], [5, 4]])
    out = []
    for i, p in enumerate(positive):
        ranked = [int(j) for j in np.argsort(-S[i], kind="stable") if j != p]
        kept = [j for j in ranked[:depth] if S[i, j] < max_ratio * S[i, p]]
        kept += [j for j in ranked if j not in kept]        # never leave a slot empty
        out.append(kept[:n])
    return np.array(out, dtype=np.int64)
'''},
    ],

    # ------------------------------------------------------------------------------------------ lesson 04
    "04_cross_encoder": [
        {"grade_id": "ex1_listwise",
         "what": "no input validation: (B, 1) scores give a loss of 0 and 1-D or 3-D inputs fail with torch's errors, never ValueError",
         "passes_visible": True,
         "code": '''def listwise_loss(scores):
    """Softmax cross-entropy over each row of (B, 1 + n) scores, the positive in column 0, averaged over rows."""
    target = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)   # the positive is column 0
    return F.cross_entropy(scores, target)
'''},
        {"grade_id": "ex1_listwise",
         "what": "-s0 + log(sum(exp(s))) written literally: exp overflows for large scores (inf loss) although the spec asks for a stable form",
         "passes_visible": True,
         "code": '''def listwise_loss(scores):
    """Softmax cross-entropy over each row of (B, 1 + n) scores, the positive in column 0, averaged over rows."""
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"scores must be (B, 1 + n) with n >= 1, got {tuple(scores.shape)}")
    return (-scores[:, 0] + torch.log(torch.exp(scores).sum(dim=1))).mean()
'''},
        {"grade_id": "ex1_listwise",
         "what": "cheat: saves the __code__ of losses.listwise_softmax and losses._check_group at definition time, turns the profiler off and puts the saved code back for the call (undoing the switch-off)",
         "passes_visible": True,
         "code": '''import sys as _sys

_saved_code = {fn: fn.__code__ for fn in (losses.listwise_softmax, losses._check_group)}


def listwise_loss(scores):
    """Softmax cross-entropy over each row of (B, 1 + n) scores, the positive in column 0, averaged over rows."""
    _sys.setprofile(None)
    current = {fn: fn.__code__ for fn in _saved_code}
    for fn, code in _saved_code.items():
        fn.__code__ = code
    try:
        return losses.listwise_softmax(scores)
    finally:
        for fn, code in current.items():
            fn.__code__ = code
'''},
        {"grade_id": "ex2_rerank",
         "what": "orders by reversing an ascending argsort: equal cross scores come out in reverse first-stage order",
         "passes_visible": True,
         "code": '''def rerank_stage(candidate_ids, cross_scores, r):
    """The first r candidates reordered by cross score (ties keep their order), then the rest unchanged."""
    if len(candidate_ids) == 0:
        raise ValueError("no candidates to rerank")
    if r > len(candidate_ids):
        raise ValueError(f"r={r} is larger than the {len(candidate_ids)} candidates")
    if len(cross_scores) < r:
        raise ValueError(f"{len(cross_scores)} scores for r={r} candidates")
    top = np.asarray(cross_scores[:r], dtype=np.float64)
    order = np.argsort(top)[::-1]                       # highest score first
    return [candidate_ids[i] for i in order] + list(candidate_ids[r:])
'''},
        {"grade_id": "ex2_rerank",
         "what": "no ValueErrors: empty input returns [], r > K is accepted, and fewer than r scores makes zip silently drop candidates",
         "passes_visible": True,
         "code": '''def rerank_stage(candidate_ids, cross_scores, r):
    """The first r candidates reordered by cross score (ties keep their order), then the rest unchanged."""
    head = sorted(zip(cross_scores[:r], candidate_ids[:r]), key=lambda pair: -pair[0])   # stable: ties keep order
    return [c for _, c in head] + list(candidate_ids[r:])
'''},
        {"grade_id": "ex2_rerank",
         "what": "cheat: inspect.getsource(pipeline.rerank) exec'd into the notebook under another file name, then called",
         "passes_visible": True,
         "code": '''import inspect as _inspect

_rerank_ns = {"np": np}
exec(compile("from __future__ import annotations" + chr(10) + _inspect.getsource(pipeline.rerank),
             "<rerank notes>", "exec"), _rerank_ns)


def rerank_stage(candidate_ids, cross_scores, r):
    """The first r candidates reordered by cross score (ties keep their order), then the rest unchanged."""
    return _rerank_ns["rerank"](candidate_ids, cross_scores, r)
'''},
        {"grade_id": "ex3_fusion",
         "what": "z-scores in place on np.asarray views: the caller's float64 arrays are overwritten (lists and other dtypes are copied, so only float64 shows it)",
         "passes_visible": True,
         "code": '''def zscore_fusion(first_scores, cross_scores, alpha):
    """alpha * z(cross) + (1 - alpha) * z(first), each z-scored over the list (a flat list: zeros)."""
    f = np.asarray(first_scores, dtype=np.float64)
    c = np.asarray(cross_scores, dtype=np.float64)
    if f.shape != c.shape:
        raise ValueError(f"{f.shape} first-stage scores but {c.shape} cross scores")
    for x in (f, c):
        x -= x.mean()
        sd = x.std()
        if sd < 1e-12:
            x[:] = 0.0
        else:
            x /= sd
    return alpha * c + (1 - alpha) * f
'''},
        {"grade_id": "ex3_fusion",
         "what": "flat-list test is sd == 0 instead of sd < 1e-12: equal scores such as [0.1, 0.1, 0.1] (std 1.4e-17) give huge rounding-noise z-scores",
         "passes_visible": True,
         "code": '''def zscore_fusion(first_scores, cross_scores, alpha):
    """alpha * z(cross) + (1 - alpha) * z(first), each z-scored over the list (a flat list: zeros)."""
    f = np.array(first_scores, dtype=np.float64)
    c = np.array(cross_scores, dtype=np.float64)
    if len(f) != len(c):
        raise ValueError(f"{len(f)} first-stage scores but {len(c)} cross scores")

    def z(x):
        sd = x.std()
        if sd == 0:
            return np.zeros_like(x)
        return (x - x.mean()) / sd

    return alpha * z(c) + (1 - alpha) * z(f)
'''},
        {"grade_id": "ex3_fusion",
         "what": "relies on NumPy broadcasting to reject different lengths: a 1-score list against R scores broadcasts and returns an array instead of raising ValueError",
         "passes_visible": True,
         "code": '''def zscore_fusion(first_scores, cross_scores, alpha):
    """alpha * z(cross) + (1 - alpha) * z(first), each z-scored over the list (a flat list: zeros)."""
    f = np.array(first_scores, dtype=np.float64)
    c = np.array(cross_scores, dtype=np.float64)

    def z(x):
        sd = x.std()
        return (x - x.mean()) / sd if sd >= 1e-12 else np.zeros_like(x)

    return alpha * z(c) + (1 - alpha) * z(f)      # numpy raises ValueError if the lengths differ
'''},
    ],

    # ------------------------------------------------------------------------------------------ lesson 05
    "05_asymmetry": [
        {"grade_id": "ex1_k_occurrence",
         "what": "top k = the last k columns of an ascending argsort: a tie across the k cut goes to the highest-index document",
         "passes_visible": True,
         "code": '''def k_occurrence(S, k):
    S = np.asarray(S)
    top = np.argsort(S, axis=1)[:, -k:]                 # the k largest of each row
    return np.bincount(top.ravel(), minlength=S.shape[1])
'''},
        {"grade_id": "ex1_k_occurrence",
         "what": "np.bincount without minlength: documents after the last retrieved one get no count (array too short)",
         "passes_visible": True,
         "code": '''def k_occurrence(S, k):
    S = np.asarray(S)
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.bincount(top.ravel())
'''},
        {"grade_id": "ex1_k_occurrence",
         "what": "counts every document scoring at least the k-th best score: ties at the cut put more than k documents in a query's top k",
         "passes_visible": True,
         "code": '''def k_occurrence(S, k):
    S = np.asarray(S, dtype=np.float64)
    kth = np.sort(S, axis=1)[:, -k][:, None]             # each row's k-th best score
    return (S >= kth).sum(axis=0).astype(np.int64)
'''},
        {"grade_id": "ex1_k_occurrence",
         "what": "cheat: os.fork() (not an audited process start) and, in the child, drops the import guard from sys.meta_path, re-imports a fresh asymkit.search and sends select_top_k's result back through a pipe",
         "passes_visible": True,
         "code": '''import os as _os
import pickle as _pickle
import sys as _sys


def _top_from_fresh_child(S, k):
    read_end, write_end = _os.pipe()
    pid = _os.fork()
    if pid == 0:                                        # child: a fresh asymkit that nothing switched off
        try:
            _os.close(read_end)
            _sys.setprofile(None)
            _sys.meta_path[:] = [f for f in _sys.meta_path if not type(f).__module__.startswith("asymkit")]
            for name in [m for m in list(_sys.modules) if m == "asymkit" or m.startswith("asymkit.")]:
                del _sys.modules[name]
            import importlib
            fresh = importlib.import_module("asymkit.search")
            payload = ("ok", fresh.select_top_k(S, k)[1])
        except BaseException as err:
            payload = ("error", repr(err))
        try:
            with _os.fdopen(write_end, "wb") as out:
                _pickle.dump(payload, out)
        finally:
            _os._exit(0)
    _os.close(write_end)
    with _os.fdopen(read_end, "rb") as inp:
        kind, value = _pickle.load(inp)
    _os.waitpid(pid, 0)
    if kind != "ok":
        raise ValueError(value)
    return value


def k_occurrence(S, k):
    S = np.asarray(S)
    return np.bincount(_top_from_fresh_child(S, k).ravel(), minlength=S.shape[1])
'''},
        {"grade_id": "ex2_asymmetry_stats",
         "what": "cosine = dot / (|q| |d|) with no zero guard: a zero vector makes its cosine NaN and the mean NaN",
         "passes_visible": True,
         "code": '''def asymmetry_stats(Q, D, relevant, random):
    Q = np.asarray(Q, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    qn, dn = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)

    def mean_cos(pairs):
        pairs = np.asarray(pairs)
        a, b = pairs[:, 0], pairs[:, 1]
        return float(np.mean((Q[a] * D[b]).sum(axis=1) / (qn[a] * dn[b])))

    return {"q_norm": float(qn.mean()), "d_norm": float(dn.mean()), "ratio": float(dn.mean() / qn.mean()),
            "cos_relevant": mean_cos(relevant), "cos_random": mean_cos(random)}
'''},
        {"grade_id": "ex2_asymmetry_stats",
         "what": "normalises the rows in place after taking the norms: the caller's float64 Q and D are overwritten (other dtypes get copied)",
         "passes_visible": True,
         "code": '''def asymmetry_stats(Q, D, relevant, random):
    Q = np.asarray(Q, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    qn, dn = np.linalg.norm(Q, axis=1), np.linalg.norm(D, axis=1)
    stats = {"q_norm": float(qn.mean()), "d_norm": float(dn.mean()), "ratio": float(dn.mean() / qn.mean())}
    Q /= np.maximum(qn, 1e-12)[:, None]                  # unit rows: the dot product is the cosine
    D /= np.maximum(dn, 1e-12)[:, None]
    for key, pairs in (("cos_relevant", relevant), ("cos_random", random)):
        pairs = np.asarray(pairs)
        stats[key] = float((Q[pairs[:, 0]] * D[pairs[:, 1]]).sum(axis=1).mean())
    return stats
'''},
        {"grade_id": "ex2_asymmetry_stats",
         "what": "cheat: saves the arrays to a temporary file and runs a child Python process that imports asymkit.diagnostics and prints asymmetry_stats as JSON",
         "passes_visible": True,
         "code": '''import json as _json
import os as _os
import subprocess as _subprocess
import sys as _sys
import tempfile as _tempfile

_CHILD = "; ".join(["import json, sys", "import numpy as np", "from asymkit import diagnostics",
                    "z = np.load(sys.argv[1])",
                    "print(json.dumps(diagnostics.asymmetry_stats(z['Q'], z['D'], z['relevant'], z['random'])))"])


def asymmetry_stats(Q, D, relevant, random):
    with _tempfile.TemporaryDirectory() as tmp:
        path = _os.path.join(tmp, "arrays.npz")
        np.savez(path, Q=np.asarray(Q), D=np.asarray(D), relevant=np.asarray(relevant), random=np.asarray(random))
        done = _subprocess.run([_sys.executable, "-c", _CHILD, path], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
    return _json.loads(done.stdout.strip().splitlines()[-1])
'''},
        {"grade_id": "ex3_alignment",
         "what": "Procrustes on the raw rows, without L2-normalising them first (long training vectors dominate the fit)",
         "passes_visible": True,
         "code": '''def fit_procrustes(Q_train, D_train):
    Q = np.asarray(Q_train, dtype=np.float64)
    D = np.asarray(D_train, dtype=np.float64)
    U, _, Vt = np.linalg.svd(Q.T @ D)
    return U @ Vt


def align(setup):
    W = fit_procrustes(setup.train_queries, setup.train_docs)
    return setup.queries @ W, setup.docs
'''},
        {"grade_id": "ex3_alignment",
         "what": "align fits W on the test split's own relevant pairs (from setup.qrels) instead of the training pairs: test leakage",
         "passes_visible": True,
         "code": '''def fit_procrustes(Q_train, D_train):
    Q = np.asarray(Q_train, dtype=np.float64)
    D = np.asarray(D_train, dtype=np.float64)
    Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    U, _, Vt = np.linalg.svd(Q.T @ D)
    return U @ Vt


def align(setup):
    # the judged pairs tell us exactly which document each query should land on
    where = {d: j for j, d in enumerate(setup.doc_ids)}
    rows = [(i, where[d]) for i, q in enumerate(setup.query_ids)
            for d, r in setup.qrels.get(q, {}).items() if r > 0 and d in where]
    qi, di = np.array(rows).T
    W = fit_procrustes(setup.queries[qi], setup.docs[di])
    return setup.queries @ W, setup.docs
'''},
        {"grade_id": "ex3_alignment",
         "what": "cheat: FunctionType clones of asymkit.diagnostics and asymkit.search (globals rewired to the clones) run fit_alignment(..., 'procrustes') on a daemon helper thread started when the cell runs (before any profiler is set)",
         "passes_visible": True,
         "code": '''import queue as _queue
import threading as _threading
import types as _types

from asymkit import search as _search


def _cloned_namespace(module, extra=None):
    g = dict(vars(module))
    g.update(extra or {})
    for name, value in list(vars(module).items()):
        if isinstance(value, _types.FunctionType) and value.__module__ == module.__name__:
            clone = _types.FunctionType(value.__code__, g, value.__name__, value.__defaults__, value.__closure__)
            clone.__kwdefaults__ = value.__kwdefaults__
            g[name] = clone
    return g


_search_copy = _types.SimpleNamespace(**_cloned_namespace(_search))
_diagnostics_copy = _cloned_namespace(diagnostics, {"search": _search_copy})


_jobs = _queue.Queue()


def _serve():
    while True:
        fn, args, reply = _jobs.get()
        try:
            reply.put(("value", fn(*args)))
        except BaseException as err:
            reply.put(("error", err))


_threading.Thread(target=_serve, daemon=True).start()     # a helper thread, started before any grading


def _in_thread(fn, *args):
    reply = _queue.Queue()
    _jobs.put((fn, args, reply))
    kind, value = reply.get()
    if kind == "error":
        raise value
    return value


def fit_procrustes(Q_train, D_train):
    return _in_thread(_diagnostics_copy["fit_alignment"], Q_train, D_train, "procrustes")


def align(setup):
    W = fit_procrustes(setup.train_queries, setup.train_docs)
    return setup.queries @ W, setup.docs
'''},
    ],

    # ------------------------------------------------------------------------------------------ lesson 06
    "06_magnitude_cheating": [
        {"grade_id": "ex1_batch_statistics",
         "what": "in_batch_acc via argmax == diagonal: a tie between the diagonal and a later column counts as a hit (the spec says a tie is a miss)",
         "passes_visible": True,
         "code": '''def batch_statistics(q, d, normalize=True):
    q, d = q.detach(), d.detach()
    S = F.normalize(q, dim=1) @ F.normalize(d, dim=1).T if normalize else q @ d.T
    n = S.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=S.device)
    qn, dn = q.norm(dim=1), d.norm(dim=1)
    return {"pos_sim": float(S.diagonal().mean()),
            "neg_sim": float(S[off].mean()),
            "in_batch_acc": float((S.argmax(dim=1) == torch.arange(n, device=S.device)).float().mean()),
            "q_norm_mean": float(qn.mean()), "q_norm_std": float(qn.std()),
            "d_norm_mean": float(dn.mean()), "d_norm_std": float(dn.std()),
            "q_std": float(q.std()), "d_std": float(d.std())}
'''},
        {"grade_id": "ex1_batch_statistics",
         "what": "takes the norms and stds first, then normalises q and d in place (/=) for the cosine: the caller's tensors are changed",
         "passes_visible": True,
         "code": '''def batch_statistics(q, d, normalize=True):
    qn, dn = q.norm(dim=1), d.norm(dim=1)
    out = {"q_norm_mean": float(qn.mean()), "q_norm_std": float(qn.std()),
           "d_norm_mean": float(dn.mean()), "d_norm_std": float(dn.std()),
           "q_std": float(q.std()), "d_std": float(d.std())}
    with torch.no_grad():
        if normalize:
            q /= qn[:, None]                           # cosine = dot product of unit rows
            d /= dn[:, None]
        S = q @ d.T
    n = S.shape[0]
    pos = S.diagonal()
    off = ~torch.eye(n, dtype=torch.bool)
    best_other = S.masked_fill(~off, float("-inf")).max(dim=1).values
    out.update({"pos_sim": float(pos.mean()), "neg_sim": float(S[off].mean()),
                "in_batch_acc": float((pos > best_other).float().mean())})
    return out
'''},
        {"grade_id": "ex2_fixed_loss",
         "what": "normalises only the queries (assumes the documents are unit already): with non-unit documents it is not the cosine",
         "passes_visible": True,
         "code": '''def fixed_info_nce(q, d, temperature=0.05):
    q = F.normalize(q, dim=1)                      # the documents come out normalised already
    S = q @ d.T / temperature
    return F.cross_entropy(S, torch.arange(q.shape[0], device=q.device))
'''},
        {"grade_id": "ex2_fixed_loss",
         "what": "cheat: monkeypatches losses.info_nce to remember its last inputs and result, and returns the reference's remembered loss for equal inputs; otherwise a buggy fallback (documents not normalised)",
         "passes_visible": True,
         "code": '''import inspect as _inspect

_library_info_nce = losses.info_nce
_remembered = []


def _same(a, b):
    return (torch.is_tensor(a) and torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype
            and torch.equal(a.detach().cpu(), b.detach().cpu()))


def _remembering_info_nce(*args, **kwargs):
    out = _library_info_nce(*args, **kwargs)
    try:
        bound = _inspect.signature(_library_info_nce).bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        if a["normalize"] and a["hard_negatives"] is None:
            _remembered.append((a["q"].detach().clone(), a["d"].detach().clone(), float(a["temperature"]), out))
            del _remembered[:-8]
    except Exception:
        pass
    return out


_remembering_info_nce.__name__ = _library_info_nce.__name__
_remembering_info_nce.__qualname__ = _library_info_nce.__qualname__
_remembering_info_nce.__doc__ = _library_info_nce.__doc__
losses.info_nce = _remembering_info_nce


def fixed_info_nce(q, d, temperature=0.05):
    for rq, rd, rt, out in reversed(_remembered):
        if rt == float(temperature) and _same(rq, q) and _same(rd, d):
            return out
    q = F.normalize(q, dim=1)
    return F.cross_entropy(q @ d.T / temperature, torch.arange(q.shape[0], device=q.device))
'''},
        {"grade_id": "ex3_early_warning",
         "what": "growth measured against the previous record instead of epoch 0: slow steady growth never warns",
         "passes_visible": True,
         "code": '''def first_warning_epoch(records, max_growth=1.5):
    for prev, r in zip(records, records[1:]):
        growth = max(r["q_norm_mean"] / prev["q_norm_mean"], r["d_norm_mean"] / prev["d_norm_mean"])
        if growth > max_growth or (r["pos_sim"] > 1 and growth > 1):
            return r["epoch"]
    return None
'''},
        {"grade_id": "ex3_early_warning",
         "what": "growth from the query norms only: document-norm growth is ignored",
         "passes_visible": True,
         "code": '''def first_warning_epoch(records, max_growth=1.5):
    base = records[0]["q_norm_mean"]
    for r in records[1:]:
        growth = r["q_norm_mean"] / base
        if growth > max_growth or (r["pos_sim"] > 1 and growth > 1):
            return r["epoch"]
    return None
'''},
        {"grade_id": "ex3_early_warning",
         "what": "returns the record's position in the list instead of its 'epoch' field",
         "passes_visible": True,
         "code": '''def first_warning_epoch(records, max_growth=1.5):
    base = records[0]
    for i, r in enumerate(records[1:], start=1):
        growth = max(r["q_norm_mean"] / base["q_norm_mean"], r["d_norm_mean"] / base["d_norm_mean"])
        if growth > max_growth or (r["pos_sim"] > 1 and growth > 1):
            return i
    return None
'''},
        {"grade_id": "ex3_early_warning",
         "what": "non-strict comparisons (>= max_growth, pos_sim >= 1 with growth >= 1): fires at exactly 1.5x, and on a cosine of exactly 1 with unchanged norms",
         "passes_visible": True,
         "code": '''def first_warning_epoch(records, max_growth=1.5):
    first = records[0]
    for r in records[1:]:
        growth = max(r["q_norm_mean"] / first["q_norm_mean"], r["d_norm_mean"] / first["d_norm_mean"])
        if growth >= max_growth or (r["pos_sim"] >= 1 and growth >= 1):
            return r["epoch"]
    return None
'''},
    ],
}
