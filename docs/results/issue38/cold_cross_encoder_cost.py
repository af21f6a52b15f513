"""Cold-cache cost of the shared course cross-encoder, in fast mode: an empty ASYMKIT_CACHE, then
course_cross_encoder() (builds the dataset, encodes the full train split for mining, trains 150 steps)."""
import time
t0 = time.perf_counter()
from asymkit import cross_recipe, data, settings
data.load_stdlib()                                   # the fast dataset, as lesson 04's first cell builds it
t1 = time.perf_counter()
ce, log = cross_recipe.course_cross_encoder(progress=False)
t2 = time.perf_counter()
import numpy as np
steps = np.diff([0.0] + [r["seconds"] for r in log])
print(f"dataset {t1 - t0:.0f} s | course_cross_encoder {t2 - t1:.0f} s, of which training {log[-1]['seconds']:.0f} s "
      f"({len(log)} steps, median {np.median(steps):.2f} s a step)")
t3 = time.perf_counter(); cross_recipe.course_cross_encoder(progress=False); print(f"warm: {time.perf_counter() - t3:.1f} s")
