"""The reference capstone solution, autograded with ASYMKIT_CAPSTONE_BEIR set and an empty cache (fast mode)."""
import os, sys, tempfile, time, json
from pathlib import Path
cache = Path(tempfile.mkdtemp(prefix="cold-cache-"))
os.environ.update({"ASYMKIT_FAST": "1", "ASYMKIT_CACHE": str(cache), "ASYMKIT_USER_CACHE": str(cache)})
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from asymkit import capstone, data
from asymkit.tools import course
from answers import lesson07
REPO = Path(__file__).resolve().parents[2]
tmp = Path(tempfile.mkdtemp(prefix="cold-capstone-"))
t0 = time.time()
# the instructor's folder: written from a separate warm cache, so the grading cache stays empty
os.environ["ASYMKIT_CACHE"] = os.environ["ASYMKIT_USER_CACHE"] = str(Path.home() / ".cache/asymkit")
corpus, queries, qrels = data.load_heldout()
data.write_beir(tmp / "beir", corpus, queries, {"test": qrels})
os.environ["ASYMKIT_CACHE"] = os.environ["ASYMKIT_USER_CACHE"] = str(cache)
os.environ[capstone.BEIR_ENV] = str(tmp / "beir")
print("cache files before:", sum(1 for _ in cache.rglob("*")))
work = tmp / "course"
course.generate(work, ["07_capstone"], REPO)
nb = work / "lessons" / "07_capstone" / "07_capstone.ipynb"
sub = course.fill_student_notebook(nb, {lesson07.CELL: course.solution_sources("07_capstone", REPO)[lesson07.CELL]}, tmp / "full.ipynb")
t1 = time.time()
scores = course.autograde(work, "07_capstone", {"full": sub}, REPO)
print("scores:", scores)
print(f"autograde wall {time.time() - t1:.0f} s; all {time.time() - t0:.0f} s")
import nbformat
for c in nbformat.read(work / "autograded" / "full" / "07_capstone" / "07_capstone.ipynb", as_version=4).cells:
    if c.metadata.get("nbgrader", {}).get("grade_id") == "capstone_system_tests":
        print("".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")[-2500:])
