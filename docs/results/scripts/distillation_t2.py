"""Lesson 04's distillation sweep (asymkit-bench --distillation-sweep, default mode), run twice on the same code:
without the T^2 factor (the old kl_distillation) and with it (the fixed one). Prints both tables side by side.

Run: ASYMKIT_FAST=0 python docs/results/scripts/distillation_t2.py default out.json (or "fast"). The grid is the
benchmark's current one; the tables in distillation_t2.md under "old grid" were printed before its weights were
scaled by 1/T^2."""
import json, sys, time
from asymkit import losses, train
from asymkit.tools import bench

fixed = losses.kl_distillation

def old_kl(student, teacher, temperature=1.0):
    return fixed(student, teacher, temperature) / temperature ** 2   # what it returned before the fix

fast = sys.argv[1] == "fast"
out = {}
for name, fn in (("old (no T^2)", old_kl), ("new (T^2)", fixed)):
    train.kl_distillation = fn
    t = time.perf_counter()
    rows = bench.distillation_sweep(fast)
    out[name] = dict(rows)
    print(f"== {name}: {time.perf_counter() - t:.0f} s", flush=True)
    for k, v in rows:
        print(f"  {k:110s} {v}", flush=True)
json.dump(out, open(sys.argv[2], "w"), indent=1)
