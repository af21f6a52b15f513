"""How many passage-pool paragraphs the one-normaliser rule excludes against the old rule, default and fast
dataset. Run: ASYMKIT_CACHE=/tmp/leak-cache python docs/results/scripts/pool_leakage.py"""
import warnings
from asymkit import data
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pool = data.passage_pool(10 ** 9)
print("pool passages:", len(pool))
for fast in (False, True):
    ds = data.load_stdlib(fast=fast)
    known = [*(t for qs in ds.queries.values() for t in qs.values()), *(d["text"] for d in ds.corpus.values())]
    old_ex = {p for t in known for p in data.paragraphs(t)}
    new_ex = data.text_keys(known)
    old_drop = {i for i, t in pool.items() if t in old_ex}
    new_drop = {i for i, t in pool.items() if data.normalize_text(t) in new_ex}
    order = list(pool)
    print(f"fast={fast}: old drops {len(old_drop)}, new drops {len(new_drop)}, new-only {len(new_drop - old_drop)}, "
          f"old-only {len(old_drop - new_drop)}; within the first 100k kept: "
          f"{len([i for i in [j for j in order if j not in old_drop][:100_000] if i in new_drop])} now dropped")
