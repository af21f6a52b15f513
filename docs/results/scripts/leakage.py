"""How many candidate training pairs the new (normalised, paragraph-wise) leakage rule drops that the
old exact-match rule kept. Run: ASYMKIT_CACHE=/tmp/leak-cache python docs/results/scripts/leakage.py"""
import warnings

from asymkit import data

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    candidates = data.training_pairs(10 ** 9)          # every candidate, before exclusion and before taking n
print(f"candidate pairs: {len(candidates)}")

for fast in (False, True):
    ds = data.load_stdlib(fast=fast)
    seen = {t for qs in ds.queries.values() for t in qs.values()} | {d["text"] for d in ds.corpus.values()}
    old_keep = [p for p in candidates if p.summary not in seen and p.body not in seen]
    keys = data.evaluation_keys(ds)
    new_drop = {p.qualname for p in candidates if data.pair_keys(p) & keys}
    old_kept_new_dropped = [p for p in old_keep if p.qualname in new_drop]
    new_keep = [p for p in candidates if p.qualname not in new_drop]
    # where the newly dropped pairs' matches come from
    split_keys = {s: data.text_keys(qs.values()) | data.text_keys(ds.corpus[d]["text"] for q in qs for d in ds.qrels[s][q])
                  for s, qs in ds.queries.items()}
    by_split = {s: sum(bool(data.pair_keys(p) & k) for p in old_kept_new_dropped) for s, k in split_keys.items()}
    n_first = 2_000 if fast else 12_000          # what corpora.training_set asks for in the lessons
    first_old = {p.qualname for p in old_keep[:n_first]}
    print(f"\nfast={fast}: dataset {ds.name}, {len(ds.corpus)} documents, "
          f"{sum(len(q) for q in ds.queries.values())} queries {ds.sizes()}")
    print(f"  old rule (exact text): keeps {len(old_keep)}, drops {len(candidates) - len(old_keep)}")
    print(f"  new rule (normalised, paragraph-wise): keeps {len(new_keep)}, drops {len(new_drop)}")
    print(f"  kept by old, dropped by new: {len(old_kept_new_dropped)} "
          f"(matching text of split: {by_split}; a pair can match several)")
    print(f"  dropped by old, kept by new: {len(set(p.qualname for p in candidates) - {p.qualname for p in old_keep} - new_drop)}")
    print(f"  of the old first {n_first} pairs, now dropped: {len(first_old & new_drop)}")
    for p in old_kept_new_dropped[:3]:
        print("   e.g.", p.qualname, "|", p.summary[:80])
