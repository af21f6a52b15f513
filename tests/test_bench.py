"""asymkit-bench's whole-course timing: one empty cache shared by the lessons, in order, and a true total."""
from pathlib import Path

from asymkit.tools import bench, course


def test_cold_course_runs_every_lesson_in_order_on_one_fresh_cache(monkeypatch, tmp_path):
    calls = []

    def fake_run(path, env):
        seen = sorted(p.name for p in Path(env["ASYMKIT_CACHE"]).iterdir())
        calls.append((Path(path).stem, env["ASYMKIT_CACHE"], env["ASYMKIT_FAST"], seen))
        Path(env["ASYMKIT_CACHE"], Path(path).stem).write_text("filled")           # a lesson fills the cache
        return {"01_a": 2.0, "02_b": 3.5}[Path(path).stem]

    monkeypatch.setattr(course, "run_notebook", fake_run)
    monkeypatch.setattr(course, "notebook_path", lambda root, kind, lesson: tmp_path / f"{lesson}.ipynb")
    result = bench.time_course_cold(["01_a", "02_b"], "fast")

    assert [c[0] for c in calls] == ["01_a", "02_b"]
    assert calls[0][1] == calls[1][1], "the lessons must share one cache, as a learner's course does"
    assert not Path(calls[0][1]).exists(), "the temporary cache is removed afterwards"
    assert {c[2] for c in calls} == {"1"}
    assert [c[3] for c in calls] == [[], ["01_a"]], "empty for the first lesson, then what it left"
    assert result == {"mode": "fast", "lessons": {"01_a": 2.0, "02_b": 3.5}, "total_s": 5.5}
