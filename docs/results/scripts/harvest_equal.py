"""Check that one shared parse of site-packages gives the same training pairs as the old parse of the
training packages alone, and time both. Run: ASYMKIT_CACHE=/tmp/x python docs/results/scripts/harvest_equal.py"""
import hashlib, sysconfig, time
from pathlib import Path
from asymkit import data
purelib = Path(sysconfig.get_paths()["purelib"])
t = time.perf_counter()
jobs = [job for pkg in data.TRAINING_PACKAGES if (purelib / pkg).is_dir() for job in data._source_files(purelib / pkg, pkg)]
old_pairs = sorted(data.docstring_pairs(list(data._docstrings(jobs))), key=lambda p: hashlib.sha1(p.qualname.encode()).hexdigest())
t1 = time.perf_counter()
passages, pairs = data._harvest_site_packages()
t2 = time.perf_counter()
print("old training-pairs parse", round(t1 - t, 1), "s; shared harvest", round(t2 - t1, 1), "s")
print("pairs equal:", [p.__dict__ for p in old_pairs] == [p.__dict__ for p in pairs], len(old_pairs), len(pairs), "passages", len(passages))
