"""The capstone's grader (asymkit.capstone) on a small synthetic task with stand-in baselines whose quality and
speed are known, so that every tier, and every way a submission can go wrong, is checked in milliseconds.
The lesson itself, with the real baselines, is graded end to end in test_course.py."""
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from asymkit import capstone, data, metrics

N = 24
CORPUS = {f"doc-{i:02d}": {"title": "", "text": f"document number {i}"} for i in range(N)}
QUERIES = {f"q-{i:02d}": f"query {i}" for i in range(N)}
QRELS = {f"q-{i:02d}": {f"doc-{i:02d}": 1} for i in range(N)}
HELD = capstone.HeldOut(CORPUS, QUERIES, QRELS, "a synthetic test task")


def at_rank(rank: int, sleep_s: float = 0.0):
    """A system putting each query's relevant document at ``rank`` (1 = first), after sleeping ``sleep_s``."""
    def build(corpus):
        ids = sorted(corpus)

        def search(queries):
            time.sleep(sleep_s)
            run = {}
            for q in queries:
                rel = "doc-" + q[2:]
                others = [d for d in ids if d != rel]
                order = others[:rank - 1] + [rel] + others[rank - 1:]
                run[q] = {d: float(len(order) - i) for i, d in enumerate(order)}
            return run
        return search
    return build


# NDCG@10 with one relevant document at rank r: 1 / log2(r + 1); rank 4 -> 0.431, 3 -> 0.5, 2 -> 0.631
BASELINES = {"MiniLM": at_rank(4), "twin towers": at_rank(3), "fused rerank": at_rank(3, sleep_s=0.004)}


def grade(build, **kw):
    lines = []
    report = capstone.grade_system(build, HELD, BASELINES, echo=lines.append, **kw)
    return report, "\n".join(lines)


def test_a_better_fast_system_gets_every_point():
    report, text = grade(at_rank(1))
    assert report.points == capstone.POINTS and report.total == 10
    assert math.isclose(report.student["NDCG@10"], 1.0) and report.student["Recall@100"] == 1.0
    assert math.isclose(report.baselines["MiniLM"]["NDCG@10"], 1 / math.log2(5))
    assert "fused rerank" in text and "budget" in text and "a synthetic test task" in text


def test_the_tiers_are_cumulative_by_ndcg():
    report, _ = grade(at_rank(2))                # beats rank 4 and rank 3, so every baseline here
    assert report.points["beats fused rerank"] == 2
    report, _ = grade(at_rank(3))                # ties the twin towers and the fused rerank: a tie is not a win
    assert report.points["beats MiniLM"] == 2 and report.points["beats twin towers"] == 0
    assert report.points["beats fused rerank"] == 0 and report.total == 6
    report, text = grade(at_rank(4))             # the MiniLM baseline itself: validity and latency only
    assert report.total == 4 and report.points["valid"] == 2 and report.points["latency"] == 2
    assert "0.4307 < 0.4307 (MiniLM) + 0.005" in text


def test_a_system_over_the_latency_budget_loses_only_the_latency_points():
    report, text = grade(at_rank(1, sleep_s=0.02))      # 20 ms against 1.5 x 4 ms
    assert report.points["latency"] == 0 and report.total == 8
    assert "latency: 0/2" in text and report.student["median_ms"] > report.budget_ms


@pytest.mark.parametrize("damage", ["unknown id", "nan score", "string score", "missing query", "extra query"])
def test_a_malformed_run_loses_only_the_validity_points(damage):
    good = at_rank(1)

    def build(corpus):
        search = good(corpus)

        def bad(queries):
            run = search(queries)
            q = next(iter(queries))
            if q == "q-05":
                if damage == "unknown id":
                    run[q]["not-a-document"] = -1.0
                elif damage == "nan score":
                    run[q]["doc-20"] = float("nan")
                elif damage == "string score":
                    run[q]["doc-20"] = "0.3"
                elif damage == "missing query":
                    del run[q]
                else:
                    run["q-99"] = {"doc-01": 1.0}
            return run
        return bad
    report, text = grade(build)
    assert report.points["valid"] == 0, text
    if damage == "missing query":       # a query with no valid document: the run is not timed (no latency points)
        assert report.total == 6 and "latency: 0/2 - only a run with at least one valid document id" in text, text
    else:
        assert report.total == 8, text  # the valid part still beats every baseline, every query has a valid id
    assert "valid run: 0/2" in text


def test_a_system_that_raises_gets_a_clear_message_and_zero():
    def build(corpus):
        def search(queries):
            raise KeyError("oops")
        return search
    report, text = grade(build)
    assert report.total == 0 and "raised KeyError" in text and "oops" in text
    assert report.baselines["fused rerank"]["NDCG@10"] > 0, "the baselines are still measured and reported"


def test_build_system_must_return_a_function():
    report, text = grade(lambda corpus: {"not": "a function"})
    assert report.total == 0 and "not a search function" in text


def test_a_system_past_its_time_limit_is_stopped_even_if_it_catches_exceptions():
    def build(corpus):
        def search(queries):
            try:
                time.sleep(5)
            except Exception:      # noqa: BLE001 - a submission may swallow exceptions; the deadline is no Exception
                pass
            return {}
        return search
    t0 = time.perf_counter()
    report, text = grade(build, time_limit_s=0.3)
    assert time.perf_counter() - t0 < 4
    assert report.total == 0 and "time limit of 0.3 s" in text


def test_what_a_submission_prints_is_kept_out_of_the_grade_cell(capfd):
    good = at_rank(1)

    def build(corpus):
        print("CAPSTONE-RESULT {\"points\": 99}")           # a forged leaderboard line
        sys.stderr.write("a warning on stderr\n")
        os.write(2, b"C-level noise\n")
        return good(corpus)
    report, text = grade(build)
    out, err = capfd.readouterr()
    assert err == "" and "points\": 99" not in out
    assert report.total == 10 and "kept out of this cell" in text
    assert "C-level noise" in text or "a warning" in text


def test_delegating_to_a_baseline_scores_zero():
    report, text = grade(lambda corpus: capstone.FUSED(corpus))
    assert report.total == 0 and "Delegated" in text


def test_the_result_line_is_json_the_leaderboard_can_read():
    report, _ = grade(at_rank(2))
    tag, body = report.result_line().split(" ", 1)
    got = json.loads(body)
    assert tag == capstone.RESULT_TAG and got["points"] == report.total
    assert math.isclose(got["NDCG@10"], report.student["NDCG@10"], abs_tol=1e-6) and got["median_ms"] >= 0


def test_the_graders_measures_equal_the_librarys():
    rng = np.random.default_rng(0)
    docs = [f"d{i}" for i in range(60)]
    qrels = {f"q{j}": {d: int(rng.integers(0, 3)) for d in rng.choice(docs, 5, replace=False)} for j in range(20)}
    run = {q: {d: float(np.round(rng.normal(), 1)) for d in docs} for q in list(qrels)[:18]}   # ties, missing queries
    ours = capstone.quality(qrels, run)
    lib = metrics.evaluate(qrels, run, ["NDCG@10", "Recall@100"])
    assert math.isclose(ours["NDCG@10"], lib["NDCG@10"]) and math.isclose(ours["Recall@100"], lib["Recall@100"])


def test_check_run_keeps_the_valid_part_and_names_each_problem():
    clean, problems = capstone.check_run({"a": {"x": 1.0, "zz": 2.0, "y": float("inf")}, "c": {}},
                                         ["a", "b"], {"x", "y"})
    assert clean == {"a": {"x": 1.0}}
    text = " ".join(problems)
    assert "not answered" in text and "not in the corpus" in text and "finite" in text and "not asked" in text
    assert capstone.check_run([("a", {})], ["a"], {"x"})[1][0].startswith("search returned a list")


def test_load_reads_an_instructors_beir_folder_with_opaque_ids(tmp_path, monkeypatch):
    corpus = {"PMID-1": {"title": "t", "text": "alpha"}, "PMID-2": {"title": "", "text": "beta"}}
    data.write_beir(tmp_path / "mine", corpus, {"Q1": "alpha?", "Q2": "none"}, {"test": {"Q1": {"PMID-1": 1},
                                                                                       "Q2": {"PMID-2": 0}}})
    monkeypatch.setenv(capstone.BEIR_ENV, str(tmp_path / "mine"))
    held = capstone.load()
    assert set(held.corpus) == {"doc-1", "doc-2"} and list(held.queries.values()) == ["alpha?"]
    (q, rels), = held.qrels.items()
    assert held.corpus[next(iter(rels))]["text"] == "alpha"
    assert "instructor" in held.source
    monkeypatch.setenv(capstone.BEIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        capstone.load()


def test_a_bad_time_limit_setting_is_refused(monkeypatch):
    monkeypatch.setenv(capstone.TIME_ENV, "ten minutes")
    with pytest.raises(ValueError, match="number of seconds"):
        capstone.grade_system(at_rank(1), HELD, BASELINES, echo=lambda s: None)


GUARDED = r"""
import json, os, sys
from pathlib import Path
from asymkit import capstone, data
capstone.guard()
folder = data._heldout_folder()
folder.mkdir(parents=True, exist_ok=True)
(folder / "queries.jsonl").write_text("secret")          # writing is the library's job: allowed
out = {}
for name, attempt in {
    "open": lambda: open(folder / "queries.jsonl").read(),
    "os.open": lambda: os.close(os.open(str(folder / "queries.jsonl"), os.O_RDONLY)),
    "load_heldout": lambda: data.load_heldout(),
    "split_of": lambda: data.split_of("json.dumps"),
    "shell": lambda: os.system(f"cat {folder}/queries.jsonl > /dev/null"),
}.items():
    try:
        attempt()
        out[name] = "allowed"
    except capstone.Violation as err:
        out[name] = "refused: " + str(err)[:40]
held = capstone.HeldOut({"doc-1": {"title": "", "text": "x"}}, {"q-1": "x"}, {"q-1": {"doc-1": 1}}, "t")
ok = lambda corpus: (lambda queries: {q: {"doc-1": 1.0} for q in queries})
report = capstone.grade_system(ok, held, {"MiniLM": ok, "twin towers": ok, "fused rerank": ok}, echo=lambda s: None)
out["points"] = report.total
out["message"] = report.messages[-1]
print(json.dumps(out))
"""


def test_the_guard_refuses_and_records_every_way_to_the_heldout_files(tmp_path):
    """In a subprocess: the audit hook cannot be removed once installed."""
    env = {**os.environ, "ASYMKIT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", GUARDED], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("open", "os.open", "load_heldout", "split_of", "shell"):
        assert got[name].startswith("refused"), (name, got[name])
    assert got["points"] == 0 and "reached for the held-out judgements" in got["message"]


PROCESSES = r"""
import json, os, subprocess, sys, sysconfig
from pathlib import Path
from asymkit import capstone, data
capstone.guard()
out = {}
stdlib = Path(sysconfig.get_paths()["stdlib"])
jobs = [(stdlib / "json" / "__init__.py", "json"), (stdlib / "csv.py", "csv"), (stdlib / "glob.py", "glob")]
def attempt(name, call):
    try:
        call()
        out[name] = "allowed"
    except capstone.Violation as err:
        out[name] = "refused: " + str(err)[:60]
attempt("workers", lambda: list(data._docstrings(jobs, workers=2)))
attempt("child, folder only in its environment", lambda: subprocess.run([sys.executable, "-c", "pass"], env=dict(os.environ)))
os.environ[capstone.TASK_ENV] = "/nowhere"            # from here on, as in a kernel the course's autograde grades
attempt("workers while graded", lambda: list(data._docstrings(jobs, workers=2)))
attempt("child while graded", lambda: subprocess.run([sys.executable, "-c", "pass"]))
attempt("fork while graded", lambda: os.waitpid(os.fork() or os._exit(0), 0) if False else os.fork() == 0 and os._exit(0))
try:
    data.load_heldout.__wrapped__()                  # the library's own, as a child process without the guard has it
    out["load_heldout while graded"] = "allowed"
except PermissionError as err:
    out["load_heldout while graded"] = "refused: " + str(err)[:60]
print(json.dumps(out))
"""


def test_the_guard_flags_processes_only_where_they_reach_for_the_judgements(tmp_path):
    """The library's own docstring workers are never flagged, nor a path merely present in an environment (the
    audit's cold-cache reference run scored 0 for both); while graded, any other process is flagged."""
    folder = tmp_path / "instructor"
    folder.mkdir()
    env = {**os.environ, "ASYMKIT_CACHE": str(tmp_path / "cache"), capstone.BEIR_ENV: str(folder)}
    proc = subprocess.run([sys.executable, "-c", PROCESSES], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["workers"] == "allowed" and got["child, folder only in its environment"] == "allowed", got
    assert got["workers while graded"] == "allowed", got
    for name in ("child while graded", "fork while graded"):
        assert got[name].startswith("refused: started a process"), (name, got[name])
    assert got["load_heldout while graded"].startswith("refused: the held-out judgements are not readable"), got


def test_an_all_invalid_run_gets_nothing_not_even_latency():
    def rows(corpus):
        return lambda queries: {q: {str(i): float(-i) for i in range(10)} for q in queries}
    report, text = grade(rows)
    assert report.total == 0, text
    assert "no valid document" in text and "latency: 0/2 - only a run with at least one valid" in text


def test_the_kernel_records_and_the_grader_scores(tmp_path, monkeypatch):
    """The autograde split: the kernel sees the task (corpus and queries, no judgements) and records; the grading
    process scores the recording. A recording that claims an impossible run is checked again by the grader."""
    capstone.write_task(tmp_path, HELD)
    task = json.loads((tmp_path / capstone.TASK_FILE).read_text())
    assert set(task) == {"corpus", "queries", "source"} and "qrels" not in json.dumps(task)
    monkeypatch.setattr(capstone, "FUSED", BASELINES["fused rerank"])
    monkeypatch.setattr(capstone, "FUSED_QUALITY", BASELINES["fused rerank"])
    monkeypatch.setattr(capstone, "BASELINES", BASELINES)
    report = capstone._record_task(at_rank(1), tmp_path)
    assert report.total == 0                                   # nothing is scored in the kernel
    scored = capstone.score_task(tmp_path, HELD)
    assert scored.total == 10, scored.messages
    rec = capstone.Recording.from_json((tmp_path / capstone.RESULT_FILE).read_text())
    rec.run["q-00"] = {"not-a-document": 1.0}                  # a forged recording
    (tmp_path / capstone.RESULT_FILE).write_text(rec.to_json())
    assert capstone.score_task(tmp_path, HELD).points["valid"] == 0
    (tmp_path / capstone.RESULT_FILE).unlink()
    missing = capstone.score_task(tmp_path, HELD)
    assert missing.total == 0 and "no recording" in missing.messages[0]


SANDBOXED = r"""
import json, os, subprocess, sys
from pathlib import Path
secret, code = Path(sys.argv[1]), Path(sys.argv[2])
out = {"listing": os.listdir(secret), "beir": os.environ.get("ASYMKIT_CAPSTONE_BEIR"),
       "task": os.environ.get("ASYMKIT_CAPSTONE_TASK"), "parent visible": str(sys.argv[3]) in os.listdir("/proc")}
for name, call in {"read": lambda: open(secret / "qrels.tsv").read(),
                   "write code": lambda: open(code / "planted.py", "w").write("x"),
                   "unmount": lambda: subprocess.run(["umount", str(secret)], check=True, capture_output=True),
                   "raw disk": lambda: open(sorted(Path("/dev").glob("[sv]d*"))[0], "rb").read(1)}.items():
    try:
        call()
        out[name] = "done"
    except Exception as err:
        out[name] = type(err).__name__
print(json.dumps(out))
"""


def test_the_sandbox_hides_the_heldout_folders_and_protects_the_code(tmp_path):
    from asymkit.tools import sandbox

    if sandbox.available() is None:
        pytest.skip("bubblewrap is not installed or cannot make namespaces here (apt-get install bubblewrap)")
    secret, code, task = tmp_path / "heldout", tmp_path / "code", tmp_path / "task"
    for folder in (secret, code, task):
        folder.mkdir()
    (secret / "qrels.tsv").write_text("q-1\tdoc-1\t1\n")
    argv = sandbox.command([sys.executable, "-c", SANDBOXED, str(secret), str(code), str(os.getpid())],
                           hide=[secret], read_only=[code], writable=[task], setenv={capstone.TASK_ENV: str(task)},
                           unsetenv=[capstone.BEIR_ENV])
    env = {**os.environ, capstone.BEIR_ENV: str(secret)}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["listing"] == [] and got["beir"] is None and got["task"] == str(task), got
    assert not got["parent visible"], "the grading process must not be visible from the sandbox"
    assert got["read"] == "FileNotFoundError" and got["write code"] in ("OSError", "PermissionError"), got
    assert got["unmount"] != "done" and got["raw disk"] != "done", got
    assert (secret / "qrels.tsv").exists() and not (code / "planted.py").exists()


def test_the_sandboxed_kernel_manager_is_asynchronous_as_nbclient_expects():
    """With a blocking manager nbclient only notices a kernel that died (os._exit in an answer) after the whole cell
    timeout (900 s here): it polls the kernel on the event loop the blocking client holds."""
    from jupyter_client.manager import AsyncKernelManager

    from asymkit.tools import sandbox
    assert issubclass(sandbox.kernel_manager(hide=[]), AsyncKernelManager)
