"""The course benchmark: lesson wall times and each lesson's headline numbers, measured here.

    asymkit-bench                       # every lesson, default and fast mode, your cache
    asymkit-bench --cold                # first run on an empty cache, then a cached re-run
    asymkit-bench --cold-course --modes fast --no-headlines   # the whole course's first run, one empty cache
    asymkit-bench --lessons 01_bi_encoder --modes fast
    asymkit-bench --no-notebooks        # headline numbers only
    asymkit-bench --no-headlines        # wall times only
    asymkit-bench --lessons 04_cross_encoder --modes default --no-notebooks --distillation-sweep
    asymkit-bench --shared-cache --modes fast --no-headlines   # a class: asymkit-prepare, then each lesson's cold
                                        # start from that read-only cache against its warm run

Wall time is for the solution notebook, top to bottom in a fresh kernel. "first run" uses
your cache as it is (or an empty one with ``--cold``); "re-run" follows it on the cache the
first run filled. Later lessons add their own rows to ``HEADLINES``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

from . import course

MODES = {"default": "0", "fast": "1"}


def lesson01_headlines(fast: bool) -> list[tuple[str, str]]:
    """Dataset sizes and test-split quality of MiniLM (cosine) and BM25."""
    from asymkit import data, encoders, lexical, metrics, search

    ds = data.load_stdlib(fast=fast)
    queries, qrels = ds.split("test")
    enc = encoders.BiEncoder()
    doc_ids, D = enc.encode_corpus(ds.corpus)
    query_ids, Q = enc.encode_queries(queries)
    k = min(1000, len(doc_ids))
    measures = ["NDCG@10", "MRR@10", "Recall@100"]
    rows = [("dataset", ", ".join(f"{n} {v}" for n, v in ds.sizes().items()))]
    for name, run in (("MiniLM cosine", search.retrieve(query_ids, Q, doc_ids, D, k=k)),
                      ("BM25", lexical.BM25(ds.corpus).retrieve(queries, k=k))):
        scores = metrics.evaluate(qrels, run, measures)
        rows.append((f"{name}, test", "  ".join(f"{m} {scores[m]:.4f}" for m in measures)))
    from asymkit import chunking

    agree = encoders.semantic_search_agreement(Q, D, *search.top_k(Q, D, 10))
    rows.append(("sentence-transformers semantic_search vs NumPy top-10, test",
                 (f"ids identical on {agree['same_order']}/{agree['queries']} queries, up to tied documents on "
                  f"{agree['same_up_to_ties']}/{agree['queries']}; max score diff {agree['max_score_diff']:.1e}")))
    chunks = chunking.compare_chunking(enc, ds.corpus, ds.split("dev"), (queries, qrels))
    rows.append(("long documents (chunking)", (f"window {chunks['window']} tokens: {chunks['long_docs']} of "
                                               f"{chunks['n_docs']} documents longer; their queries: dev "
                                               f"{len(chunks['dev_queries'])}, test {len(chunks['test_queries'])}; "
                                               "passage/stride chosen on dev")))
    for r in chunks["test"]:
        setting = f"passage {r['passage_tokens']}/stride {r['stride']}" if r["stride"] else "first window only"
        rows.append((f"chunking {r['method']}, test long-doc queries",
                     f"NDCG@10 {r['ndcg']:.4f}  vectors {r['vectors']} ({r['vectors'] / chunks['n_docs']:.2f}x)  {setting}"))
    return rows


def lesson02_headlines(fast: bool) -> list[tuple[str, str]]:
    """Exact vs IVF vs HNSW vs compressed on lesson 02's corpus, measured side by side in one run.

    Queries/s are measured one query at a time on one thread (online serving); exact search is
    also timed as one batch, which suits it best. Target: recall@10 >= 0.95 at >= 20x exact q/s.
    """
    import faiss
    import numpy as np

    from asymkit import corpora, data, encoders
    from asymkit import index as ix

    faiss.omp_set_num_threads(2)
    ds = data.load_stdlib(fast=fast)
    enc = encoders.BiEncoder()
    all_ids, D, _ = corpora.ann_corpus(ds, 20_000 if fast else 100_000, enc)
    query_ids, Q = enc.encode_queries(corpora.all_queries(ds))
    timing = min(300, len(Q))
    flat = ix.build_index(D, "flat")
    _, exact_ids = flat.search(Q, 10)
    qps_exact = ix.queries_per_second(flat, Q[:timing], repeat=1)
    qps_batch = ix.queries_per_second(flat, Q, one_at_a_time=False, repeat=1, threads=None)
    rows = [("corpus", f"{D.shape[0]:,} vectors x {D.shape[1]} dims, {len(Q):,} queries; q/s one query at a time, "
                       f"1 thread (exact as one batch, 2 threads: {qps_batch:,.0f} q/s)"),
            ("flat (exact)", f"recall@10 1.000  {qps_exact:9,.0f} q/s    1.0x exact  {flat.memory_bytes() / 2**20:6.1f} MiB")]
    measured = []
    for kind, knob, values, params in [("ivf", "nprobe", [8, 16, 32, 64, 128], {}),
                                       ("hnsw", "ef_search", [16, 32, 64, 128], {"M": 32, "ef_construction": 64}),
                                       ("ivfpq", "nprobe", [16, 64], {"pq_m": 48})]:
        measured += ix.sweep(ix.build_index(D, kind, **params), knob, values, Q, exact_ids, timing_queries=timing)
    sq8 = ix.build_index(D, "sq8")
    measured.append({"index": "sq8", "knob": "-", "value": 0, "recall": ix.recall_at_k(sq8.search(Q, 10)[1], exact_ids, 10),
                     "qps": ix.queries_per_second(sq8, Q[:timing], repeat=1), "bytes": sq8.memory_bytes()})
    for r in measured:
        label = f"{r['index']} {r['knob']}={r['value']}" if r["knob"] != "-" else r["index"]
        rows.append((label, f"recall@10 {r['recall']:.3f}  {r['qps']:9,.0f} q/s  {r['qps'] / qps_exact:5.1f}x exact  "
                            f"{r['bytes'] / 2**20:6.1f} MiB"))
    ok = [r for r in measured if r["recall"] >= 0.95 and r["index"] in ("ivf", "hnsw")]
    best = max(ok, key=lambda r: r["qps"]) if ok else None
    verdict = (f"best IVF/HNSW at recall@10 >= 0.95: {best['index']} {best['knob']}={best['value']}, "
               f"{best['qps'] / qps_exact:.1f}x exact -> target 20x {'met' if best['qps'] >= 20 * qps_exact else 'NOT met'}"
               if best else "no IVF/HNSW setting reached recall@10 0.95 -> target NOT met")
    if D.shape[0] < 100_000:
        verdict += f" (the target is set for >= 100,000 vectors; this corpus has {D.shape[0]:,}: informative only)"
    rows.append(("target", verdict))
    # Build settings, as lesson 02's cells measure them: IVF nlist and HNSW M (fast mode: on 2,000 vectors), each at
    # the smallest search setting reaching recall@10 >= 0.95 on the train + dev queries, measured on the test queries.
    from asymkit import search

    test_queries, test_qrels = ds.split("test")
    is_test = np.array([q in test_queries for q in query_ids])
    N = D.shape[0]
    for kind, param, values, n, fixed in [("ivf", "nlist", sorted({ix.suggest_nlist(N, c) for c in (1, 4, 16)}), N, {}),
                                          ("hnsw", "M", [8, 16, 32, 64], 2_000 if fast else N, {"ef_construction": 64})]:
        flat_n = ix.build_index(D[:n], "flat")
        truth = [(Q[mask], flat_n.search(Q[mask], 10)[1]) for mask in (~is_test, is_test)]
        for r in ix.build_sweep(D[:n], kind, param, values, *truth, target=0.95, **fixed):
            rows.append((f"{kind} {param}={r['value']}" + (f" (efConstruction=64, {n:,} vectors)" if kind == "hnsw" else ""),
                         (f"train {r['train_s']:5.1f} s + add {r['add_s']:5.1f} s  {r['bytes'] / 2**20:6.1f} MiB  "
                          f"{r['knob']}={r['knob_value']} (tune recall {r['tune_recall']:.3f}"
                          f"{'' if r['reached'] else ', target not reached'}) -> test recall@10 {r['recall']:.3f}, "
                          f"{r['qps']:,.0f} q/s")))
    # Recall@K-vs-K by the qrels, exact search, on the whole corpus and on the judged documents alone (lesson 01's).
    ks = [10, 20, 50, 100, 200, 500, 1000]
    tune_qrels = {**ds.split("train")[1], **ds.split("dev")[1]}
    for name, n in [(f"{N:,} vectors", N), (f"judged docs only, {len(ds.corpus):,}", len(ds.corpus))]:
        found = ix.build_index(D[:n], "flat").search(Q, 1000)[1]       # -1 beyond n
        curve = search.depth_curve(query_ids, found, all_ids, tune_qrels, test_qrels, ks)
        cut = ", ".join(f">={c['target']:.2f}: K={c['k']} (test {c['test_recall']:.3f})" if c["k"] else
                        f">={c['target']:.2f}: none <= 1000" for c in curve["cutoffs"])
        rows.append((f"Recall@K exact, {name}", "test " + " ".join(f"@{k} {r:.3f}" for k, r in
                                                                   zip(curve["ks"], curve["test"])) + f"; cut-off {cut}"))
    return rows


def _tower_setup(fast: bool):
    """What lessons 03 and 04 train their towers on: ``(ds, enc, pairs, dev, test, hard, cfg)`` — the dataset,
    MiniLM, the training pairs (train split + package pairs), the dev and test tasks, 3 hard negatives per pair
    mined by MiniLM, and lesson 03's tower configuration."""
    from asymkit import corpora, data, encoders, mining, settings, train

    ds = data.load_stdlib(fast=fast)
    enc = encoders.BiEncoder()
    pairs = corpora.training_set(ds, 2_000 if fast else 12_000, enc)
    dev, test = corpora.retrieval_task(ds, "dev", enc), corpora.retrieval_task(ds, "test", enc)
    hard = mining.mine_hard_negatives(pairs.queries, pairs.docs, [[i] for i in range(len(pairs))], n=3, depth=30)
    cfg = train.TrainConfig(epochs=3 if fast else 5, batch_size=64, lr=3e-4, temperature=0.05,
                            device=settings.default_device())
    return ds, enc, pairs, dev, test, hard, cfg


def lesson03_headlines(fast: bool) -> list[tuple[str, str]]:
    """Test-split quality of the pretrained model, shared and twin towers, twin towers with hard negatives mined by
    MiniLM and by BM25 (with each miner's false-negative rate), and twin towers trained with the margin loss (margin
    chosen on dev), trained exactly as lesson 03 does. Target: twin towers >= +5% NDCG@10 over the baseline (default
    mode)."""
    from asymkit import losses, mining, towers, train

    _, _, pairs, dev, test, hard, cfg = _tower_setup(fast)
    measures = ["NDCG@10", "MRR@10", "Recall@100"]
    base = train.evaluate_towers(towers.TowerModel(384), test, "cosine", measures)
    rows = [("training", (f"{len(pairs):,} pairs, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}, "
                          f"temperature {cfg.temperature}, cosine; best epoch by dev NDCG@10"))]
    positives = [[i] for i in range(len(pairs))]
    dense_filled = mining.mine_hard_negatives(pairs.queries, pairs.docs, positives, n=3, depth=30,
                                              return_filled=True)[1]
    bm25, bm25_filled = mining.mine_bm25_negatives(pairs.query_texts, pairs.doc_texts, positives, n=3, depth=30,
                                                   return_filled=True)
    results, best_dev = {"pretrained MiniLM": base}, {}
    runs = [("shared tower", True, {}), ("twin towers", False, {}),
            ("twin + hard negatives", False, {"doc_bank": pairs.docs, "hard_negative_ids": hard}),
            ("twin + BM25 negatives", False, {"doc_bank": pairs.docs, "hard_negative_ids": bm25})]
    margins = (0.3,) if fast else (0.1, 0.3)                   # lesson 03's margins
    runs += [(f"twin, margin {m}", False, {"loss_fn": losses.InBatchMarginLoss(margin=m)}) for m in margins]
    for name, shared, extra in runs:
        model = towers.TowerModel(384, shared=shared)
        h = train.train_towers(model, pairs.queries, pairs.docs, cfg, dev=dev, progress=False, **extra)
        results[name], best_dev[name] = train.evaluate_towers(model, test, "cosine", measures), max(h.column("dev_ndcg10"))
    chosen = max((f"twin, margin {m}" for m in margins), key=best_dev.get)
    for name, r in results.items():
        if name.startswith("twin, margin") and name != chosen:
            continue
        change = (r["NDCG@10"] / base["NDCG@10"] - 1) * 100
        rows.append((f"{name}, test", "  ".join(f"{m} {r[m]:.4f}" for m in measures) + f"  ({change:+.1f}% NDCG@10)"))
    answers = mining.known_answers(pairs.query_texts)
    for name, ids, filled, run in [("MiniLM", hard, dense_filled, "twin + hard negatives"),
                                   ("BM25", bm25, bm25_filled, "twin + BM25 negatives")]:
        fn = mining.false_negative_rate(ids, answers, filled)
        rows.append((f"negatives mined by {name}", (
            f"test NDCG@10 {results[run]['NDCG@10']:.4f} (dev {best_dev[run]:.4f}); random fills {filled.mean():.1%}; "
            f"mined answers (same query text) {fn['false']} of {fn['mined']:,} = {fn['rate']:.3%}")))
    rows.append(("margin loss vs InfoNCE", (
        f"margin chosen on dev among {margins}: {chosen.split()[-1]} (dev {best_dev[chosen]:.4f}, test NDCG@10 "
        f"{results[chosen]['NDCG@10']:.4f}) vs InfoNCE (dev {best_dev['twin towers']:.4f}, test NDCG@10 "
        f"{results['twin towers']['NDCG@10']:.4f})")))
    gain = (results["twin towers"]["NDCG@10"] / base["NDCG@10"] - 1) * 100
    rows.append(("target", f"twin towers {gain:+.1f}% NDCG@10 vs pretrained -> target +5% "
                           f"{'met' if gain >= 5 else 'NOT met'}" + (" (fast mode: informative only)" if fast else "")))
    return rows


def lesson04_headlines(fast: bool) -> list[tuple[str, str]]:
    """Lesson 04 as the notebook runs it: the first stages, the course's cross-encoder (cached after its first
    training), reranking the chosen first stage's top 20 alone and fused (alpha chosen on dev), the K/R frontier
    and the budgeted (K, R) chosen on dev (timed one dev query at a time) and reported on test, calibration on test after fitting on dev, and distillation into the twin tower.
    Targets (default mode): fused rerank >= +5% NDCG@10 over the best first stage; distillation delta > 0."""
    import numpy as np

    from asymkit import calibration, corpora, cross_recipe, data, distillation, pipeline, score_cache, settings, towers, train

    k_max, r_max, n_dev = 50, 20, (100 if fast else 150)
    ds, enc, pairs, dev, test, hard, cfg = _tower_setup(fast)
    qtext, dtext = corpora.all_queries(ds), {d: data.doc_text(doc) for d, doc in ds.corpus.items()}
    twin = towers.TowerModel(384, shared=False)
    train.train_towers(twin, pairs.queries, pairs.docs, cfg, dev=dev, doc_bank=pairs.docs, hard_negative_ids=hard,
                       progress=False)
    firsts = {"MiniLM": towers.TowerModel(384), "twin + hard negatives": twin}
    ndcg = {n: {s: train.evaluate_towers(m, t, "cosine", ["NDCG@10"])["NDCG@10"] for s, t in (("dev", dev), ("test", test))}
            for n, m in firsts.items()}
    chosen = max(ndcg, key=lambda n: ndcg[n]["dev"])
    best_first = max(v["test"] for v in ndcg.values())
    rows = [(f"first stage {n}", f"test NDCG@10 {v['test']:.4f} (dev {v['dev']:.4f})") for n, v in ndcg.items()]
    recipe = cross_recipe.course_recipe(fast)
    ce, log = cross_recipe.course_cross_encoder(progress=False, encoder=enc)
    rows.append(("cross-encoder", f"{recipe['config'].steps} steps, {log[-1]['seconds']:.0f} s of training when trained, "
                                  f"loss {np.mean([r['loss'] for r in log[:30]]):.3f} -> {np.mean([r['loss'] for r in log[-30:]]):.3f}"))
    sc = score_cache.ScoreCache(ce)
    ann, Q, cands, first = pipeline.first_stage(firsts[chosen], test, k_max)
    dev_ann, dev_Q, dcands, dfirst = pipeline.first_stage(firsts[chosen], dev, k_max)
    texts = [qtext[q] for q in test.query_ids]
    crs = pipeline.score_candidates(sc, texts, cands, dtext, r_max)
    dids = dev.query_ids[:n_dev]
    dcrs = pipeline.score_candidates(sc, [qtext[q] for q in dids], dcands[:n_dev], dtext, r_max)
    alpha, _ = pipeline.tune_alpha(dids, dcands[:n_dev], dfirst[:n_dev], dcrs, dev.qrels, r_max)
    ks, rs = [5, 10, 20, 50], [0, 5, 10, 20]
    dtexts = [qtext[q] for q in dids]
    enc_ms, ann_ms, cross_ms = pipeline.time_stages(dev_ann, dev_Q, dtexts, dcands, dtext, ce, ks, rs, n_queries=50,
                                                    encoder=enc)                       # timed on dev, as the lesson does
    grid = {a: pipeline.sweep(test.query_ids, texts, cands, crs, test.qrels, ks, rs, ann_ms, cross_ms, enc_ms,
                              first_scores=first if a is not None else None, alpha=a or 1.0) for a in (None, alpha)}
    at = {a: next(r for r in g if r["K"] == k_max and r["R"] == r_max)["NDCG@10"] for a, g in grid.items()}
    gain = at[alpha] / best_first - 1
    dev_rows = pipeline.sweep(dids, dtexts, dcands[:n_dev], dcrs, {q: dev.qrels[q] for q in dids}, ks, rs, ann_ms,
                              cross_ms, enc_ms, first_scores=dfirst[:n_dev], alpha=alpha)
    budget = max(round(0.6 * max(r["ms"] for r in dev_rows), 1), min(r["ms"] for r in dev_rows))
    pick = [r for r in pipeline.frontier(dev_rows) if r["ms"] <= budget][-1]          # chosen on dev, as in the lesson
    pick_test = next(r for r in grid[alpha] if r["K"] == pick["K"] and r["R"] == pick["R"])
    rows += [(f"rerank R={r_max}, cross alone", f"test NDCG@10 {at[None]:.4f} ({at[None] / best_first - 1:+.1%} vs best first stage)"),
             (f"rerank R={r_max}, fused a={alpha}", f"test NDCG@10 {at[alpha]:.4f} ({gain:+.1%}) -> target +5% "
                                                   f"{'met' if gain >= 0.05 else 'NOT met'}"
                                                   + (" (fast mode: informative only)" if fast else "")),
             ("stage ms/query (dev)", f"encode {enc_ms:.1f}, FAISS " + ", ".join(f"K={k} {v:.2f}" for k, v in ann_ms.items())
                                      + ", cross " + ", ".join(f"R={r} {v:.0f}" for r, v in cross_ms.items())),
             ("K/R frontier on dev (fused)", "; ".join(f"K={r['K']} R={r['R']} NDCG@10 {r['NDCG@10']:.4f} {r['ms']:.0f} ms"
                                                       for r in pipeline.frontier(dev_rows))),
             (f"budget {budget:.0f} ms: chosen on dev", f"K={pick['K']} R={pick['R']} (dev NDCG@10 {pick['NDCG@10']:.4f}) "
                                                        f"-> test NDCG@10 {pick_test['NDCG@10']:.4f}")]
    ds_, dy = pipeline.labelled_pairs(dids, dcands[:n_dev], dcrs, dev.qrels)
    ts, ty = pipeline.labelled_pairs(test.query_ids, cands, crs, test.qrels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # fast mode's barely-trained model may rank backwards
        cal = {"raw": calibration.Calibrator(), "temperature": calibration.fit(ds_, dy, "temperature"),
               "Platt": calibration.fit(ds_, dy, "platt")}
    rows.append(("test ECE (fit on dev)", ", ".join(f"{n} {calibration.expected_calibration_error(c(ts), ty):.4f}"
                                                      for n, c in cal.items())))
    taught = np.flatnonzero(np.asarray(pairs.sources) == "train split")
    groups = np.column_stack([taught, hard[taught]])
    minilm = np.full((len(pairs), groups.shape[1]), np.nan, dtype=np.float32)
    minilm[taught] = towers.group_scores(towers.TowerModel(384), pairs.queries[taught], pairs.docs[groups])
    teacher = distillation.teacher_scores(sc, pairs, hard, taught, minilm)
    first_right = {n: np.mean(t.argmax(1) == 0) for n, t in (
        ("cross-encoder", distillation.teacher_scores(sc, pairs, hard, taught)[taught]), ("fused teacher", teacher[taught]),
        ("student (twin tower)", towers.group_scores(twin, pairs.queries[taught], pairs.docs[groups])))}
    rows.append((f"{len(taught):,} taught groups, positive first", ", ".join(f"{n} {v:.0%}" for n, v in first_right.items())))
    after = _distilled_ndcg(pairs, hard, cfg, dev, test, teacher, DISTIL_WEIGHT, DISTIL_T)["test"]
    delta = after - ndcg["twin + hard negatives"]["test"]
    rows.append(("distillation", f"twin + hard negatives {ndcg['twin + hard negatives']['test']:.4f} -> with the fused "
                                 f"teacher ({len(taught):,} train-split pairs, weight {DISTIL_WEIGHT:.4g}, T {DISTIL_T:g}) "
                                 f"{after:.4f}: delta {delta:+.4f} at seed {settings.SEED}"))
    d = _paired_deltas(_seed_runs(pairs, hard, cfg, dev, test, teacher, DISTIL_WEIGHT, DISTIL_T),
                       _seed_runs(pairs, hard, cfg, dev, test, None, 0.0))
    rows.append((f"distillation, {len(d['test'])} seeds paired", f"{_paired_cell(d)} -> target > 0 "
                 + _distillation_verdict(d["test"]) + (" (fast mode: informative only)" if fast else "")))
    # the three losses on one reduced budget, reranking the same candidates (lesson 04, section 6)
    cmp_recipe = cross_recipe.loss_comparison_recipe(fast)
    split = lambda ids, qt, c, f, qrels: {"query_ids": ids, "query_texts": qt, "cands": c, "first": f, "qrels": qrels}
    loss_rows = cross_recipe.compare_losses(cross_recipe.loss_comparison_models(ds, fast, encoder=enc), dtext,
                                            split(dids, dtexts, dcands[:n_dev], dfirst[:n_dev], dev.qrels),
                                            split(test.query_ids, texts, cands, first, test.qrels), r_max)
    mk = cmp_recipe["model_kwargs"]
    budget_text = (f"{mk.get('n_layers') or 6} layers, {mk.get('train_layers') or 'all'} training, {mk['max_length']} tokens, "
                   f"{cmp_recipe['config'].steps} steps x {cmp_recipe['config'].queries_per_step} queries")
    for r in loss_rows:
        rows.append((f"{r['loss']} cross-encoder ({budget_text}), R={r_max}",
                     (f"alone: dev NDCG@10 {r['dev NDCG@10']:.4f}, test NDCG@10 {r['test NDCG@10']:.4f}, MRR@10 "
                      f"{r['test MRR@10']:.4f}; fused (a={r['alpha']}) test NDCG@10 {r['fused test NDCG@10']:.4f}; "
                      f"trained {r['train_s']:.0f} s")))
    rows.append(("loss chosen on dev (alone)", max(loss_rows, key=lambda r: r["dev NDCG@10"])["loss"]))
    # the decision table (lesson 04, section 10)
    mb = lambda m: sum(p.numel() * p.element_size() for p in m.parameters()) / 1e6
    index_ms = pipeline.indexing_ms_per_doc(enc, [dtext[d] for d in test.doc_ids], tower_fn=twin.encode_documents,
                                            vectors=test.docs)
    first_mb = {"MiniLM": ann.memory_bytes() / 1e6 + mb(enc.model)}
    first_mb["twin + hard negatives"] = first_mb["MiniLM"] + mb(twin)
    doc_ms = {"MiniLM": index_ms["encoder"], "twin + hard negatives": index_ms["encoder"] + index_ms["tower"]}
    systems = [{"name": "MiniLM + FAISS", "kind": "bi-encoder", "NDCG@10": ndcg["MiniLM"]["test"],
                "ms": enc_ms + ann_ms[10], "memory_mb": first_mb["MiniLM"], "doc_ms": doc_ms["MiniLM"]},
               {"name": "twin towers + FAISS", "kind": "towers", "NDCG@10": ndcg["twin + hard negatives"]["test"],
                "ms": enc_ms + ann_ms[10], "memory_mb": first_mb["twin + hard negatives"],
                "doc_ms": doc_ms["twin + hard negatives"]},
               {"name": f"hybrid K={pick['K']} R={pick['R']}", "kind": "hybrid", "NDCG@10": pick_test["NDCG@10"],
                "ms": pick["ms"], "memory_mb": first_mb[chosen] + mb(ce), "doc_ms": doc_ms[chosen]}]
    for s in pipeline.decision_table(systems, len(test.doc_ids)):
        rows.append((f"decision table: {s['name']}", (f"test NDCG@10 {s['NDCG@10']:.4f}, {s['ms']:.1f} ms/query, "
                                                      f"{s['memory_mb']:.0f} MB, indexing {s['index_s']:.0f} s")))
    return rows


DISTIL_WEIGHT, DISTIL_T = 1 / 9, 3.0    # lesson 04's distillation setting (chosen on dev by the sweep's paired rows)


def _lift_positive(teacher):
    """``teacher`` with each taught row's positive (column 0) raised to at least the row's best hard negative, so
    the teacher never prefers a negative to the labelled positive and only its order of the negatives is new
    (NaN rows stay NaN)."""
    import numpy as np

    t = np.array(teacher, dtype=np.float32)
    rows = ~np.isnan(t[:, 0])
    t[rows, 0] = np.maximum(t[rows, 0], t[rows, 1:].max(1))
    return t


def _distilled_ndcg(pairs, hard, cfg, dev, test, teacher, weight: float, temperature: float = 1.0,
                    seed: int | None = None) -> dict[str, float]:
    """``{"dev": ..., "test": ...}`` NDCG@10 of lesson 03's twin tower trained with ``cfg`` plus distillation from
    ``teacher`` (None: without)."""
    from asymkit import towers, train

    student = towers.TowerModel(384, shared=False)
    c = train.TrainConfig(**{**cfg.__dict__, "distill_weight": weight, "distill_temperature": temperature,
                             **({} if seed is None else {"seed": seed})})
    train.train_towers(student, pairs.queries, pairs.docs, c, dev=dev, doc_bank=pairs.docs, hard_negative_ids=hard,
                       teacher_scores=teacher, progress=False)
    return {split: train.evaluate_towers(student, task, "cosine", ["NDCG@10"])["NDCG@10"]
            for split, task in (("dev", dev), ("test", test))}


def _seed_runs(pairs, hard, cfg, dev, test, teacher, weight: float, temperature: float = 1.0,
               n_seeds: int = 8) -> list[dict[str, float]]:
    """:func:`_distilled_ndcg` for seeds ``0 .. n_seeds - 1``."""
    return [_distilled_ndcg(pairs, hard, cfg, dev, test, teacher, weight, temperature, seed=s) for s in range(n_seeds)]


def _paired_deltas(with_teacher, without) -> dict:
    """``{"dev": (n,), "test": (n,)}``: NDCG@10 with the teacher minus without it, seed by seed
    (two :func:`_seed_runs` lists over the same seeds)."""
    import numpy as np

    return {split: np.array([w[split] - wo[split] for w, wo in zip(with_teacher, without, strict=True)])
            for split in ("dev", "test")}


def _mean_se(d) -> tuple[float, float]:
    """Mean and standard error of per-seed deltas."""
    import numpy as np

    return float(np.mean(d)), float(np.std(d, ddof=1) / np.sqrt(len(d)))


def _distillation_verdict(test_deltas) -> str:
    """The distillation target on paired per-seed test deltas: "NOT met" unless their mean is positive, "met" when
    the mean is more than 2 standard errors above 0, and otherwise met in the mean only."""
    import numpy as np

    d = np.asarray(test_deltas, dtype=np.float64)
    if d.ndim != 1 or len(d) < 2 or not np.isfinite(d).all():
        raise ValueError(f"need a finite delta per seed for 2 or more seeds, got {d.tolist()}")
    mean, se = _mean_se(d)
    if mean <= 0:
        return "NOT met"
    if mean > 2 * se:
        return "met"
    return f"met in the mean only ({mean / se:.1f} s.e.: not told apart from seed noise)"


def _paired_cell(deltas) -> str:
    """One table cell per split: the mean paired delta, its standard error and how many seeds gained."""
    return "; ".join(f"{split} NDCG@10 delta {_mean_se(d)[0]:+.4f} +- {_mean_se(d)[1]:.4f} (s.e.), "
                     f"positive in {int((d > 0).sum())} of {len(d)} seeds" for split, d in deltas.items())


def distillation_sweep(fast: bool) -> list[tuple[str, str]]:
    """Lesson 04's distillation, varied: which pairs are taught (500 random, or every train-split pair, as the lesson
    does), the teacher (the cross-encoder's logits, or the cross-encoder fused with MiniLM's cosine, alpha 0.5, z-scores
    x 4: :func:`asymkit.distillation.teacher_scores`), the weight and the temperature of the KL term; and the tower's
    seed-to-seed spread without a teacher. Each row: test NDCG@10 and its delta over the tower without a teacher (same
    seed). The KL term is multiplied by T^2 (:func:`asymkit.losses.kl_distillation`), so a weight w at T = 1 pulls about
    as hard as w / T^2 at T: the grid gives each weight at that scale. Last, the fused teacher on every train-split pair,
    paired with the tower without a teacher seed by seed over 8 seeds, on dev and on test, at weight 0.5/9 and 1/9 with
    T 3, 1/25 with T 5, 1 with T 3, and with its positive lifted to the top (:func:`_lift_positive`) at weight 0.5 and
    T 1; lesson 04 uses the best of them on dev (``DISTIL_WEIGHT``, ``DISTIL_T``)."""
    import numpy as np

    from asymkit import cross_recipe, distillation, score_cache, settings, towers

    ds, _, pairs, dev, test, hard, cfg = _tower_setup(fast)
    ce, _ = cross_recipe.course_cross_encoder(progress=False)
    sc = score_cache.ScoreCache(ce)
    without = _seed_runs(pairs, hard, cfg, dev, test, None, 0.0)        # no teacher, seeds 0-7 (0 = settings.SEED)
    base, spread = without[0]["test"], [without[s]["test"] for s in (1, 2)]
    rows = [("no teacher", f"test NDCG@10 {base:.4f}; seeds 1, 2: " + ", ".join(f"{v:.4f} ({v - base:+.4f})" for v in spread))]
    cosine = towers.group_scores(towers.TowerModel(384), pairs.queries,                  # MiniLM's own cosines
                                 pairs.docs[np.column_stack([np.arange(len(pairs)), hard])])
    train_split = np.flatnonzero(np.asarray(pairs.sources) == "train split")
    sets = {"500 random pairs": np.sort(np.random.default_rng(settings.SEED).choice(len(pairs), 500, replace=False)),
            f"all {len(train_split)} train-split pairs": train_split}
    for set_name, taught in sets.items():
        for teacher_name, first in (("cross-encoder", None), ("cross + MiniLM fused", cosine)):
            teacher = distillation.teacher_scores(sc, pairs, hard, taught, first)
            right = np.mean(teacher[taught].argmax(1) == 0)
            for w1 in (0.1, 0.5):
                for t in (1.0, 3.0):
                    w = w1 / t ** 2                                          # the same pull at every T
                    v = _distilled_ndcg(pairs, hard, cfg, dev, test, teacher, w, t)["test"]
                    rows.append((f"{set_name}, {teacher_name} (positive first {right:.0%}), weight {w:.4g}, T {t:g}",
                                 f"test NDCG@10 {v:.4f} ({v - base:+.4f})"))
    fused = distillation.teacher_scores(sc, pairs, hard, train_split, cosine)
    for teacher, w, t, lifted in ((fused, 0.5 / 9, 3.0, ""), (fused, 1 / 9, 3.0, ""), (fused, 1 / 25, 5.0, ""),
                                  (fused, 1.0, 3.0, ""), (_lift_positive(fused), 0.5, 1.0, ", positive lifted to the top")):
        rows.append((f"8 seeds, all {len(train_split)} train-split pairs, fused teacher{lifted}, weight {w:.4g}, T {t:g}",
                     _paired_cell(_paired_deltas(_seed_runs(pairs, hard, cfg, dev, test, teacher, w, t), without))))
    return rows


def lesson05_headlines(fast: bool) -> list[tuple[str, str]]:
    """Each asymmetric setup: test NDCG@10 served naively (IP), the report's verdict, and after each fix.
    Targets: every setup >= 20% below the symmetric baseline and flagged; the best fix >= 90% of the baseline."""
    from asymkit import asymmetric, data, diagnostics, encoders

    ds = data.load_stdlib(fast=fast)
    enc = encoders.BiEncoder()
    rows, base = [], None
    for name in asymmetric.SETUPS:
        s = asymmetric.build(name, ds, "test", enc)
        rep = diagnostics.asymmetry_report(s.query_ids, s.queries, s.doc_ids, s.docs, s.qrels)
        table = {"naive IP": rep.by_similarity["ip"]["NDCG@10"], "normalise": rep.by_similarity["cosine"]["NDCG@10"]}
        for method in diagnostics.ALIGNMENTS:
            W = diagnostics.fit_alignment(s.train_queries, s.train_docs, method)
            Q = diagnostics.apply_alignment(s.queries, W)
            table[f"align {method}"] = diagnostics.metric_table(s.query_ids, Q, s.doc_ids, s.docs, s.qrels,
                                                                ["NDCG@10"], ["cosine"])["cosine"]["NDCG@10"]
        base = base or table["naive IP"]
        best = max(v for k, v in table.items() if k != "naive IP")
        rows.append((name, "  ".join(f"{k} {v:.4f}" for k, v in table.items())
                     + f"  | drop {table['naive IP'] / base - 1:+.0%}, {len(rep.flags)} flag(s), best fix {best / base:.0%}"))
    # Domain shift (the fourth setup): towers fitted on package docstrings only vs on the train split, same budget.
    shift = asymmetric.domain_shift(ds, enc)
    by = {r["model"]: r for r in shift.rows}
    mini = by["MiniLM (no towers)"]
    for name in ("packages", "in-domain"):
        r, s = by[name], shift.setups[name]
        rep = diagnostics.asymmetry_report(s.query_ids, s.queries, s.doc_ids, s.docs, s.qrels)
        rows.append((f"towers fit on {name}", (f"{r['pairs']} pairs  NDCG@10 package dev {r['package dev']:.4f} "
                     f"({r['package dev'] / mini['package dev'] - 1:+.1%})  dev {r['dev']:.4f} "
                     f"({r['dev'] / mini['dev'] - 1:+.1%})  test {r['test']:.4f} ({r['test'] / mini['test'] - 1:+.1%} vs "
                     f"MiniLM {mini['test']:.4f})  | report: {len(rep.flags)} flag(s)")))
    rows.append(("shift: query AUC", "  ".join(f"{r['model']} {r['AUC']:.3f}" for r in asymmetric.query_shift(shift))
                 + "  (classifier: training vs served test queries; 0.5 = alike)"))
    for r in asymmetric.fine_tune_in_domain(shift):
        rows.append((f"fix: {r['start']} +{r['pairs']}", (f"in-domain pairs, lr {r['lr']:g} (dev)  dev {r['dev']:.4f}  "
                     f"test {r['test']:.4f} ({r['test'] / mini['test'] - 1:+.1%} vs MiniLM)")))
    return rows


def lesson06_headlines(fast: bool) -> list[tuple[str, str]]:
    """Lesson 06's table on the embedded data: the failing recipe (raw dot, T=1) and the fix (cosine, T=0.05).
    Targets (default mode): failing <= 0.5x baseline with positive similarity growing every epoch; fixed >= +5%."""
    import itertools

    from asymkit import corpora, data, encoders, monitor, settings, towers, train

    ds = data.load_stdlib(fast=fast)
    enc = encoders.BiEncoder()
    pairs = corpora.training_set(ds, 2_000 if fast else 12_000, enc)
    dev, test = corpora.retrieval_task(ds, "dev", enc), corpora.retrieval_task(ds, "test", enc)
    val = monitor.validation_pairs(dev)
    base = train.evaluate_towers(towers.TowerModel(384), test, "cosine")["NDCG@10"]
    fail_cfg = train.TrainConfig(epochs=5, batch_size=64, lr=3e-4, temperature=1.0, normalize=False, patience=5,
                                 restore_best=False, device=settings.default_device())
    fix_cfg = train.TrainConfig(**{**fail_cfg.__dict__, "normalize": True, "temperature": 0.05})
    rows = [("baseline", f"MiniLM cosine NDCG@10 {base:.4f}")]
    for name, model, cfg, sim in [("failed: raw dot, T=1", towers.asymmetric_projection_model(384), fail_cfg, "dot"),
                                  ("fixed: cosine, T=0.05", towers.asymmetric_projection_model(384), fix_cfg, "cosine"),
                                  ("fixed + identity start", towers.TowerModel(384, shared=False), fix_cfg, "cosine")]:
        hist = train.train_towers(model, pairs.queries, pairs.docs, cfg, dev=dev, progress=False, validation=val,
                                  geometry=True)
        ndcg = train.evaluate_towers(model, test, sim)["NDCG@10"]
        pos = hist.column("pos_sim")
        rows.append((name, f"NDCG@10 {ndcg:.4f} ({ndcg / base - 1:+.1%})  pos_sim by epoch "
                           + " ".join(f"{p:.2f}" for p in pos)
                           + f"  grows every epoch: {all(b > a for a, b in itertools.pairwise(pos))}"
                           + f"  d_norm E0->E5 {hist.records[0]['d_norm_mean']:.2f}->{hist.records[-1]['d_norm_mean']:.2f}"))
        if name != "fixed + identity start":
            rows.append((f"  monitor ({name.split(':')[0]}), by epoch",
                         "  ".join(f"{k} " + " ".join(f"{v:.2f}" for v in hist.column(k))
                                   for k in ("val_in_batch_acc", "val_alignment", "val_uniformity"))))
    # Issue 25: an isotropy-style regulariser on the failing recipe, weight chosen on dev (lesson 06, section 9)
    grid = monitor.regulariser_grid(towers.asymmetric_projection_model, pairs.queries, pairs.docs, fail_cfg, dev,
                                    {"norm": [1, 10, 100, 1000], "uniformity": [0.3, 1, 3, 10]})
    rows.append(("regulariser grid (dev NDCG@10)", "  ".join(f"{r['kind']} x{r['weight']:g}: {r['dev_ndcg10']:.4f}"
                                                            for r in grid)))
    best = max(grid, key=lambda r: r["dev_ndcg10"])
    model = towers.asymmetric_projection_model(384)
    hist = train.train_towers(model, pairs.queries, pairs.docs, fail_cfg, dev=dev, progress=False, validation=val,
                              geometry=True,
                              regulariser=monitor.isotropy_regulariser(**{f"{best['kind']}_weight": best["weight"]}))
    ndcg = train.evaluate_towers(model, test, "dot")["NDCG@10"]
    last = hist.records[-1]
    rows.append((f"raw dot + {best['kind']} x{best['weight']:g} (chosen on dev)",
                 (f"test NDCG@10 {ndcg:.4f} ({ndcg / base - 1:+.1%})  last epoch: d_norm {last['d_norm_mean']:.2f}  "
                  f"val_in_batch_acc {last['val_in_batch_acc']:.3f}  val_uniformity {last['val_uniformity']:.2f}  "
                  f"alarm: {train.magnitude_alarm(hist) is not None}")))
    return rows


def lesson07_headlines(fast: bool) -> list[tuple[str, str]]:
    """The capstone's three baselines on the held-out judgements: NDCG@10, Recall@100 (one batched call) and the
    median ms of single-query calls (the first 50 queries), as the grader measures them."""
    import statistics

    from asymkit import capstone

    old = os.environ.get("ASYMKIT_FAST")
    os.environ["ASYMKIT_FAST"] = "1" if fast else "0"
    try:
        capstone.course_models()
        held = capstone.load()
        rows = [("held-out", f"{held.source}: {len(held.queries)} queries, {len(held.corpus):,} documents")]
        for name, system in capstone.BASELINES.items():
            search = system(held.corpus)
            scores = capstone.quality(held.qrels, search(held.queries))
            ms = []
            for q in list(held.queries)[:50]:
                t0 = time.perf_counter()
                search({q: held.queries[q]})
                ms.append((time.perf_counter() - t0) * 1e3)
            rows.append((name, f"NDCG@10 {scores['NDCG@10']:.4f}  Recall@100 {scores['Recall@100']:.4f}  "
                               f"median {statistics.median(ms):.1f} ms/query"))
        return rows
    finally:
        if old is None:
            os.environ.pop("ASYMKIT_FAST", None)
        else:
            os.environ["ASYMKIT_FAST"] = old


HEADLINES: dict[str, Callable[[bool], list[tuple[str, str]]]] = {
    "01_bi_encoder": lesson01_headlines,
    "02_faiss": lesson02_headlines,
    "03_twin_tower": lesson03_headlines,
    "04_cross_encoder": lesson04_headlines,
    "05_asymmetry": lesson05_headlines,
    "06_magnitude_cheating": lesson06_headlines,
    "07_capstone": lesson07_headlines,
}


def time_lessons(lessons: list[str], modes: list[str], cold: bool) -> list[dict]:
    root = course.repo_root()
    results = []
    for lesson in lessons:
        path = course.notebook_path(root, "solutions", lesson)
        for mode in modes:
            env = {"ASYMKIT_FAST": MODES[mode]}
            with tempfile.TemporaryDirectory(prefix="asymkit-bench-") as tmp:
                if cold:
                    env["ASYMKIT_CACHE"] = tmp
                first = course.run_notebook(path, env)
                again = course.run_notebook(path, env)
            row = {"lesson": lesson, "mode": mode, "cache": "empty" if cold else "yours",
                   "first_run_s": round(first, 1), "rerun_s": round(again, 1)}
            print(f"{lesson:24s} {mode:8s} first run {first:7.1f} s ({row['cache']} cache)   re-run {again:7.1f} s",
                  flush=True)
            results.append(row)
    return results


def time_course_cold(lessons: list[str], mode: str) -> dict:
    """The whole course as a learner first meets it: every lesson in order, in a fresh kernel each, on ONE
    empty cache that the earlier lessons fill (the dataset and vectors are built once, by the first lesson
    that needs them). Returns the per-lesson seconds and the total."""
    root = course.repo_root()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="asymkit-bench-course-") as tmp:
        env = {"ASYMKIT_FAST": MODES[mode], "ASYMKIT_CACHE": tmp}
        for lesson in lessons:
            rows[lesson] = round(course.run_notebook(course.notebook_path(root, "solutions", lesson), env), 1)
            print(f"{lesson:24s} {mode:8s} first run {rows[lesson]:7.1f} s (one empty cache for the course)", flush=True)
    total = round(sum(rows.values()), 1)
    print(f"{'whole course':24s} {mode:8s} first run {total:7.1f} s = {total / 60:.1f} min", flush=True)
    return {"mode": mode, "lessons": rows, "total_s": total}


def time_shared_cache(lessons: list[str], mode: str) -> dict:
    """A class's shared cache, timed: ``asymkit-prepare`` into an empty folder (every step, timed), then for each
    lesson its student notebook twice in a fresh kernel and process of its own: warm (the prepared folder as the
    student's own, writable cache) and cold from the shared cache (read-only for the student: as root, the lesson
    runs as ``nobody``; an empty home, so no user cache), with what the cold run wrote to the student's cache."""
    from . import prepare

    root = course.repo_root()
    fast = mode == "fast"
    rows, table = [], {}
    with tempfile.TemporaryDirectory(prefix="asymkit-bench-prepared-") as tmp:
        os.chmod(tmp, 0o755)                                # the student (nobody) must reach the cache inside
        cache = Path(tmp) / "cache"
        start = time.perf_counter()
        rows = prepare.prepare(cache, fast, lessons, root / "lessons", force=True, progress=False)
        prepare_s = time.perf_counter() - start
        print(prepare.summary(rows, cache), flush=True)
        print(f"asymkit-prepare {mode}: {prepare_s:.1f} s in all", flush=True)
        for lesson in lessons:
            nb = course.notebook_path(root, "lessons", lesson)
            env = {"ASYMKIT_FAST": MODES[mode]}
            times = {}
            for kind in ("warm", "cold"):
                home = Path(tempfile.mkdtemp(prefix=f"asymkit-bench-{kind}-"))
                try:
                    got = prepare.run_as_student(nb, cache, home, env, read_only=kind == "cold")
                    if "error" in got:
                        raise RuntimeError(f"{lesson} ({kind}): {got['error']}")
                    written = [str(p.relative_to(home)) for p in home.rglob("*")
                               if p.is_file() and p.relative_to(home).parts[:2] == (".cache", "asymkit")]
                finally:
                    shutil.rmtree(home, ignore_errors=True)
                times[kind] = (got["wall_s"], got["seconds"], written)
            (warm, warm_nb, _), (cold, cold_nb, written) = times["warm"], times["cold"]
            table[lesson] = {"warm_s": round(warm, 1), "cold_shared_s": round(cold, 1),
                             "ratio": round(cold / warm, 3), "cells_warm_s": round(warm_nb, 1),
                             "cells_cold_s": round(cold_nb, 1), "written_to_user_cache": written}
            print(f"{lesson:24s} {mode:8s} warm {warm:7.1f} s   cold from the shared cache {cold:7.1f} s   "
                  f"x{cold / warm:.2f}   written to the student's cache: {len(written)} files", flush=True)
    return {"mode": mode, "prepare_s": round(prepare_s, 1), "prepare_steps": rows, "lessons": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asymkit-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES))
    parser.add_argument("--cold", action="store_true", help="time the first run on an empty cache")
    parser.add_argument("--cold-course", action="store_true",
                        help="time the whole course's first run: every lesson in order on one empty cache")
    parser.add_argument("--shared-cache", action="store_true",
                        help="asymkit-prepare into an empty folder, then each lesson warm vs cold from it, read-only")
    parser.add_argument("--no-notebooks", action="store_true", help="skip the wall times")
    parser.add_argument("--no-headlines", action="store_true", help="only the wall times")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--distillation-sweep", action="store_true",
                        help="also vary lesson 04's distillation (taught pairs, teacher, weight, temperature)")
    args = parser.parse_args(argv)

    lessons = args.lessons or course.lesson_ids()
    unknown = set(lessons) - set(course.lesson_ids())
    if unknown:
        parser.error(f"unknown lessons {sorted(unknown)}; choose from {course.lesson_ids()}")
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if not args.no_notebooks:
        print("== lesson wall time (solution notebook, fresh kernel) ==")
        if args.shared_cache:
            report["shared_cache"] = [time_shared_cache(lessons, mode) for mode in args.modes]
        elif args.cold_course:
            report["course_first_run"] = [time_course_cold(lessons, mode) for mode in args.modes]
        else:
            report["wall_time"] = time_lessons(lessons, args.modes, args.cold)
    report["headlines"] = {}
    if not args.no_headlines:
        print("\n== headline numbers ==")
    for lesson in lessons:
        if lesson not in HEADLINES or args.no_headlines:
            continue
        for mode in args.modes:
            rows = HEADLINES[lesson](mode == "fast")
            report["headlines"][f"{lesson}/{mode}"] = dict(rows)
            for name, value in rows:
                print(f"{lesson:24s} {mode:8s} {name:20s} {value}")
    if args.distillation_sweep:
        for mode in args.modes:
            rows = distillation_sweep(mode == "fast")
            report["headlines"][f"distillation sweep/{mode}"] = dict(rows)
            for name, value in rows:
                print(f"{'distillation sweep':24s} {mode:8s} {name:70s} {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
