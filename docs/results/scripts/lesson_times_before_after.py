"""Warm-cache wall time of each lesson's solution notebook: before (commit 8bfc512, worktree /tmp/old-base)
and after (this checkout), alternating, same machine, fresh kernel each run, on a cache both have filled.

    git worktree add /tmp/old-base 8bfc512
    python docs/results/scripts/lesson_times_before_after.py fast,default [lesson ...]
"""
import json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the checkout
from asymkit.tools import course
L = sys.argv[2:] or ["01_bi_encoder","02_faiss","03_twin_tower","04_cross_encoder","05_asymmetry","06_magnitude_cheating"]
modes = sys.argv[1].split(",")
out = []
for lesson in L:
    for mode in modes:
        env = {"ASYMKIT_FAST": "1" if mode == "fast" else "0"}
        row = {"lesson": lesson, "mode": mode}
        for label, root, extra in (("after", Path(__file__).resolve().parents[3], {}), ("before", Path("/tmp/old-base"), {"PYTHONPATH": "/tmp/old-base"})):
            try:
                row[label] = round(course.run_notebook(course.notebook_path(root, "solutions", lesson), {**env, **extra}), 1)
            except Exception as e:
                row[label] = f"failed: {str(e)[:200]}"
        if isinstance(row["before"], float) and isinstance(row["after"], float):
            row["change"] = f"{row['after'] / row['before'] - 1:+.0%}"
        print(json.dumps(row), flush=True)
        out.append(row)
