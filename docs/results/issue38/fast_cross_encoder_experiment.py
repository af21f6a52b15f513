"""Fast-mode cross-encoder recipe experiment: replicate lesson 04's first stage in fast mode, then evaluate a recipe."""
import json, sys, time
import numpy as np, torch
from asymkit import corpora, cross_recipe, data, encoders, metrics, mining, pipeline, score_cache, settings, towers, train
from asymkit.cross_training import CrossTrainConfig

settings.seed_everything()
variant = sys.argv[1]
ds = data.load_stdlib(fast=True)
enc = encoders.BiEncoder()
pairs = corpora.training_set(ds, 2000, enc)
dev = corpora.retrieval_task(ds, "dev", enc); test = corpora.retrieval_task(ds, "test", enc)
qt = corpora.all_queries(ds); doc_text = {d: data.doc_text(v) for d, v in ds.corpus.items()}
hard = mining.mine_hard_negatives(pairs.queries, pairs.docs, [[i] for i in range(len(pairs))], n=3, depth=30)
cfg = train.TrainConfig(epochs=3, batch_size=64, lr=3e-4, temperature=0.05, device="cpu")
twin = towers.TowerModel(384, shared=False)
train.train_towers(twin, pairs.queries, pairs.docs, cfg, dev=dev, doc_bank=pairs.docs, hard_negative_ids=hard, progress=False)
fs = {"minilm": towers.TowerModel(384), "twin": twin}
devnd = {n: train.evaluate_towers(m, dev, "cosine", ["NDCG@10"])["NDCG@10"] for n, m in fs.items()}
FIRST = max(devnd, key=devnd.get)
print("first stages dev", devnd, "chosen", FIRST, flush=True)
fm = fs[FIRST]
_, _, tc, tf = pipeline.first_stage(fm, test, 50)
_, _, dc, df = pipeline.first_stage(fm, dev, 50)
N_DEV, R = 100, 20
dev_ids = dev.query_ids[:N_DEV]

full = data.load_stdlib(fast=False)
recipes = {
  "current": (ds, cross_recipe.course_recipe(fast=True)),
  "default_shared": (full, cross_recipe.course_recipe(fast=False)),
  "lc_shared": (full, cross_recipe.loss_comparison_recipe(fast=False)),
  "full_60x8_l4_64": (full, {"n_extra": 0, "config": CrossTrainConfig(steps=60, queries_per_step=8, lr=1.5e-4, warmup=6),
                     "model_kwargs": {"train_layers": 4, "max_length": 64, "dropout": 0.0}}),
  "full_40x8_all_64": (full, {"n_extra": 0, "config": CrossTrainConfig(steps=40, queries_per_step=8, lr=2e-4, warmup=4),
                     "model_kwargs": {"train_layers": None, "max_length": 64, "dropout": 0.0, "train_word_embeddings": False}}),
  "fast_60x8_l4_64": (ds, {"n_extra": 0, "config": CrossTrainConfig(steps=60, queries_per_step=8, lr=1.5e-4, warmup=6),
                     "model_kwargs": {"train_layers": 4, "max_length": 64, "dropout": 0.0}}),
}
src, rec = recipes[variant]
t0 = time.perf_counter()
ce, log = cross_recipe.trained_cross_encoder(src, progress=False, **rec)
print(f"{variant}: ready in {time.perf_counter()-t0:.0f} s, trained {log[-1]['seconds'] if log else float('nan'):.0f} s", flush=True)
sc = score_cache.ScoreCache(ce)
t0 = time.perf_counter()
test_cross = pipeline.score_candidates(sc, [qt[q] for q in test.query_ids], tc, doc_text, R)
dev_cross = pipeline.score_candidates(sc, [qt[q] for q in dev_ids], dc[:N_DEV], doc_text, R)
print(f"scored in {time.perf_counter()-t0:.0f} s", flush=True)
acc = []
for q, c, s in zip(dev_ids, dc, dev_cross):
    j = [dev.qrels[q].get(d, 0) > 0 for d in c[:R]]
    pos = [i for i, x in enumerate(j) if x]; neg = [i for i, x in enumerate(j) if not x][:3]
    if pos and len(neg) == 3:
        acc.append(np.argmax([s[pos[0]], *(s[i] for i in neg)]) == 0)
ev = lambda ranked, qrels: metrics.evaluate(qrels, pipeline.as_run(ranked), ["NDCG@10"])["NDCG@10"]
first_t = ev({q: c for q, c in zip(test.query_ids, tc)}, test.qrels)
alone_t = ev({q: pipeline.rerank(c, s, R) for q, c, s in zip(test.query_ids, tc, test_cross)}, test.qrels)
asc_t = ev({q: pipeline.rerank(c, -np.asarray(s), R) for q, c, s in zip(test.query_ids, tc, test_cross)}, test.qrels)
alpha, by = pipeline.tune_alpha(dev_ids, dc[:N_DEV], df[:N_DEV], dev_cross, dev.qrels, R)
fused_t = ev({q: pipeline.rerank(c, pipeline.fuse(f[:R], s, alpha), R) for q, c, f, s in zip(test.query_ids, tc, tf, test_cross)}, test.qrels)
afus, _ = pipeline.tune_alpha(dev_ids, dc[:N_DEV], df[:N_DEV], [-np.asarray(s) for s in dev_cross], dev.qrels, R)
out = dict(variant=variant, groups=len(acc), held_out_acc=float(np.mean(acc)), first_test=first_t, alone_test=alone_t,
           ascending_test=asc_t, alpha=alpha, fused_test=fused_t, dev_by_alpha={str(k): v for k, v in by.items()})
print(json.dumps(out), flush=True)
with open("/tmp/lead/ce_exp.jsonl", "a") as f: f.write(json.dumps(out) + "\n")
