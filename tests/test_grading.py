"""The anti-delegation checks the hidden tests use (asymkit.grading) and the lessons' fallback."""
import functools

import pytest
import torch

from asymkit import fallback, metrics, search, towers
from asymkit.metrics import ndcg_at_k as imported_alias
from asymkit import grading

RANKING, RELS = ["a", "b"], {"b": 2}


def own_ndcg(ranking, rels, k):
    return 0.5


@pytest.mark.parametrize("answer", [
    metrics.ndcg_at_k,                                        # an alias
    imported_alias,                                           # from asymkit.metrics import ndcg_at_k as ...
    functools.partial(metrics.ndcg_at_k),                     # a partial
    lambda r, rels, k: metrics.ndcg_at_k(r, rels, k),         # a wrapper
])
def test_every_way_of_calling_the_library_is_switched_off(answer):
    with grading.forbidden(metrics.ndcg_at_k):
        with pytest.raises(grading.Delegated, match="your own code"):
            answer(RANKING, RELS, 10)


def test_the_library_is_restored_after_the_block_even_when_it_fails():
    expected = metrics.ndcg_at_k(RANKING, RELS, 10)
    with pytest.raises(grading.Delegated):
        with grading.forbidden(metrics.ndcg_at_k, search.top_k):
            metrics.ndcg_at_k(RANKING, RELS, 10)
    assert metrics.ndcg_at_k(RANKING, RELS, 10) == expected
    with grading.forbidden(metrics.ndcg_at_k):
        assert own_ndcg(RANKING, RELS, 10) == 0.5             # the learner's own code runs


def test_a_class_and_its_subclasses_are_switched_off_and_restored():
    class Mine(towers.TowerModel):
        pass

    with grading.forbidden(towers.TowerModel):
        with pytest.raises(grading.Delegated):
            towers.TowerModel(4)
        with pytest.raises(grading.Delegated):
            Mine(4)
    q, d = towers.TowerModel(4)(torch.zeros(2, 4), torch.zeros(2, 4))
    assert q.shape == (2, 4)


def test_assert_own():
    for answer in (metrics.ndcg_at_k, imported_alias, functools.partial(metrics.ndcg_at_k)):
        with pytest.raises(grading.Delegated, match="not your own"):
            grading.assert_own(answer, metrics.ndcg_at_k)
    with pytest.raises(grading.Delegated, match="comes from asymkit.search"):
        grading.assert_own(search.top_k, metrics.ndcg_at_k)       # another asymkit function is not own work
    grading.assert_own(own_ndcg, metrics.ndcg_at_k)
    with pytest.raises(TypeError, match="cannot switch off"):
        with grading.forbidden(42):
            pass


def test_use_mine_falls_back_only_for_a_stub(capsys):
    def stub():
        raise NotImplementedError()

    assert fallback.use_mine(lambda: 1, lambda: 2, "Exercise 1") == 1
    assert capsys.readouterr().out == ""
    assert fallback.use_mine(stub, lambda: 2, "Exercise 1 (top_k)") == 2
    assert capsys.readouterr().out == "Exercise 1 (top_k) is not done yet: using the library's version for now\n"
    with pytest.raises(ZeroDivisionError):                       # a bug in the learner's code is shown, not hidden
        fallback.use_mine(lambda: 1 / 0, lambda: 2, "Exercise 1")


def test_mine_or_library_picks_the_learner_s_function_once_it_runs(capsys):
    def stub(x):
        raise NotImplementedError()

    def mine(x):
        return x + 1

    assert fallback.mine_or_library(mine, abs, "Exercise 2", 1) is mine
    assert fallback.mine_or_library(stub, abs, "Exercise 2 (step)", 1) is abs
    assert capsys.readouterr().out == "Exercise 2 (step) is not done yet: using the library's version for now\n"


# --------------------------------------------------------------------------- own_work: all of asymkit off, an allow-list

import importlib
import pkgutil
import subprocess
import sys
import types

import numpy as np

import asymkit


def every_asymkit_function():
    """An independent walk: import every asymkit module (the tools too), then every function and method defined in
    the package's files, by qualified name."""
    for info in pkgutil.walk_packages(asymkit.__path__, "asymkit."):
        importlib.import_module(info.name)
    found = {}
    for name, module in list(sys.modules.items()):
        if not (name == "asymkit" or name.startswith("asymkit.")) or name in ("asymkit.grading", "asymkit.fallback"):
            continue
        for value in vars(module).values():
            members = [value]
            if isinstance(value, type) and value.__module__.startswith("asymkit"):
                members = [m.__func__ if isinstance(m, (staticmethod, classmethod)) else m
                           for n, m in vars(value).items() if n not in grading._HARMLESS]
                members += [m.fget for m in vars(value).values() if isinstance(m, property)]
            for fn in members:
                if isinstance(fn, types.FunctionType) and fn.__code__.co_filename.startswith(asymkit.__path__[0]) \
                        and not fn.__code__.co_filename.endswith(("grading.py", "fallback.py")):
                    found.setdefault(f"{fn.__module__}.{fn.__qualname__}", fn)
    return found


@pytest.mark.parametrize("exercise", sorted(grading.ALLOW))
def test_own_work_switches_off_every_function_of_asymkit_but_the_allow_list(exercise):
    allow = grading.allowed(exercise)
    allowed_modules = {m.__name__ for m in allow if isinstance(m, types.ModuleType)}
    always = set(grading._resolve(grading.ALWAYS_ALLOWED))            # the warnings hook every lesson installs
    functions = {n: f for n, f in every_asymkit_function().items()
                 if f.__module__ not in allowed_modules and f not in always}
    assert len(functions) > 300, "the walk found too few functions"
    still_on = []
    with pytest.raises(grading.Delegated):
        with grading.own_work(allow):
            for name, fn in functions.items():
                try:
                    fn()
                except grading.Delegated:
                    continue
                except BaseException as err:  # noqa: BLE001
                    still_on.append(f"{name}: {type(err).__name__}")
                else:
                    still_on.append(name)
    assert not still_on, f"{len(still_on)} functions were not switched off, e.g. {still_on[:5]}"
    metrics.ndcg_at_k(RANKING, RELS, 10)                        # restored afterwards


def test_the_allowed_objects_keep_working():
    model = towers.TowerModel(4, seed=0)
    with grading.own_work(grading.allowed("ex2_training_step")):
        q, d = model(torch.zeros(2, 4), torch.zeros(2, 4))
    assert q.shape == (2, 4)
    with pytest.raises(grading.Delegated, match="towers"):
        with grading.own_work(grading.allowed("ex1_top_k")):
            model(torch.zeros(2, 4), torch.zeros(2, 4))


def clone(fn):
    return types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)




RECALL_ARGS = (["q"], np.array([[0, 1]]), ["a", "b"], {"q": {"b": 1}}, [1, 2])


@pytest.mark.parametrize("escape", [
    lambda: search.recall_at_depths,                                             # a public function of another module
    lambda: functools.partial(search.recall_at_depths),
    lambda: clone(search.recall_at_depths),                                      # a copy of its code
])
def test_delegation_through_any_function_is_refused(escape):
    assert np.allclose(search.recall_at_depths(*RECALL_ARGS), [0.0, 1.0])
    with pytest.raises(grading.Delegated, match="recall_at_depths"):
        with grading.own_work():
            try:
                escape()(*RECALL_ARGS)
            except grading.Delegated:
                pass                                                             # caught: still refused at the end
            except Exception:
                pass


def test_processes_imports_and_reloads_are_refused():
    with pytest.raises(grading.Delegated, match="process"):
        with grading.own_work():
            subprocess.run([sys.executable, "-c", "print(1)"], check=False)
    with pytest.raises(grading.Delegated, match="imported or reloaded"):
        with grading.own_work():
            importlib.reload(metrics)
    assert subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True).returncode == 0


def test_assert_own_catches_a_copied_function():
    with pytest.raises(grading.Delegated, match="runs the code of asymkit|holds a copy of asymkit"):
        grading.assert_own(types.FunctionType(metrics.ndcg_at_k.__code__, {"__name__": "__main__"}), metrics.ndcg_at_k)


# --------------------------------------------------------------------------- differential

def reference_top(x, k):
    """The top k values of a 1-D list, best first; ValueError for k < 1."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return sorted(x, reverse=True)[:k]


def top_cases():
    from hypothesis import strategies as st
    return st.builds(lambda x, k: grading.Case((x, k), names=("x", "k")),
                     st.lists(st.integers(-3, 3), max_size=6), st.integers(0, 8))


def test_differential_passes_a_right_answer_and_reports_a_wrong_one_in_plain_words():
    def mine(x, k):
        if k < 1:
            raise ValueError("k")
        return sorted(x)[::-1][:k]

    calls = []
    counted = lambda x, k: (calls.append(1), mine(x, k))[1]
    assert grading.differential(counted, reference_top, top_cases(), name="top", exercise="ex1_top_k",
                                compare=grading.exactly, max_examples=30) is None      # never a number: see its doc
    assert len(calls) >= 30

    def forgets_the_cut(x, k):
        if k < 1:
            raise ValueError("k")
        return sorted(x, reverse=True)

    with pytest.raises(AssertionError, match=r"top\(x=\[.*\], k=\d+\): expected \[.*\], got \[.*\]"):
        grading.differential(forgets_the_cut, reference_top, top_cases(), name="top", exercise="ex1_top_k",
                             compare=grading.exactly)

    def never_raises(x, k):
        return sorted(x, reverse=True)[:max(k, 0)]

    with pytest.raises(AssertionError, match="must raise ValueError"):
        grading.differential(never_raises, reference_top, top_cases(), name="top", exercise="ex1_top_k",
                             compare=grading.exactly)


def test_differential_catches_an_in_place_edit_of_any_dtype():
    def reference(a):
        return np.asarray(a, dtype=np.float64) / 2

    def in_place_if_float32(a):
        x = np.asarray(a, dtype=np.float32)              # no copy when a is float32 already
        x /= 2
        return x

    cases = grading.arrays().map(lambda a: grading.Case((a,), names=("a",)))
    with pytest.raises(AssertionError, match="changed its input a .dtype float32"):
        grading.differential(in_place_if_float32, reference, cases, name="half", exercise="ex1_top_k")


def test_differential_refuses_delegation():
    with pytest.raises(grading.Delegated, match="search"):
        grading.differential(lambda a: search.l2_normalize(a), search.l2_normalize,
                             grading.arrays(dtypes=("float32",)).map(lambda a: grading.Case((a,))),
                             name="norm", exercise="ex1_top_k")


def test_generated_inputs_cover_what_mistakes_depend_on():
    from hypothesis import given, settings
    seen = {"dtypes": set(), "strided": False, "ties": False, "empty": False, "short": False, "zero_grade": False}

    @settings(max_examples=200, derandomize=True, database=None)
    @given(grading.arrays(), grading.rankings())
    def look(a, case):
        ranking, rels, k = case
        seen["dtypes"].add(a.dtype.name)
        seen["strided"] |= not a.flags.c_contiguous
        seen["ties"] |= len(np.unique(a)) < a.size
        seen["empty"] |= not ranking
        seen["short"] |= len(ranking) < k and sum(r > 0 for r in rels.values()) > len(ranking)
        seen["zero_grade"] |= 0 in rels.values()

    look()
    assert seen.pop("dtypes") == {"float32", "float64", "int64"} and all(seen.values()), seen


def test_a_copy_run_in_a_thread_is_refused_too():
    from concurrent.futures import ThreadPoolExecutor

    with pytest.raises(grading.Delegated, match="recall_at_depths"):
        with grading.own_work():
            with ThreadPoolExecutor(1) as pool:
                pool.submit(clone(search.recall_at_depths), *RECALL_ARGS).result()


# --------------------------------------------------------------------------- escapes an adversary tried

import os
import queue
import threading
import warnings

from asymkit import settings


def test_a_warning_from_the_learner_s_own_code_is_not_delegation():
    settings.warnings_to_stdout()                               # every lesson's first cell does this
    with grading.own_work():
        warnings.warn("a right answer may warn")


@pytest.mark.parametrize("escape", ["library source under another name", "profiler off", "code put back", "fork"])
def test_escapes_from_the_watch_are_refused(escape):
    saved_code = search.select_top_k.__code__
    Q, D = np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32)
    with pytest.raises(grading.Delegated):
        with grading.own_work():
            if escape == "library source under another name":
                ns = {}
                exec(compile(open(search.__file__).read(), "/tmp/my_search.py", "exec"), ns)
                ns["top_k"](Q, D, 2)
            elif escape == "profiler off":
                sys.setprofile(None)
                clone(search.recall_at_depths)(*RECALL_ARGS)
            elif escape == "code put back":
                search.select_top_k.__code__ = saved_code
            else:
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
    assert search.select_top_k.__code__ is saved_code


def test_a_thread_the_notebook_started_before_grading_fails_the_grade():
    jobs, done = queue.Queue(), queue.Queue()
    main_globals = {"__name__": "__main__", "jobs": jobs, "done": done, "CLONED": lambda *a: None}
    exec("def worker():\n    while True:\n        job = jobs.get()\n        if job is None:\n            return\n"
         "        done.put(CLONED(*job))\n", main_globals)
    thread = threading.Thread(target=main_globals["worker"], daemon=True)
    thread.start()
    try:
        with pytest.raises(grading.Delegated, match="another thread"):
            with grading.own_work():
                pass
    finally:
        jobs.put(None)
        thread.join(5)


def test_a_replaced_library_function_is_found_before_any_expected_answer_is_computed(monkeypatch):
    assert grading.tampered() == []
    monkeypatch.setattr(search, "smallest_k_for_recall", lambda ks, recalls, target: 1)   # a recorder, a memo...
    monkeypatch.setattr(towers.TowerModel, "forward", lambda self, q, d: (q, d))
    assert grading.tampered() == ["asymkit.search.smallest_k_for_recall", "asymkit.towers.TowerModel.forward"]
    with pytest.raises(grading.Delegated, match="replaced or changed asymkit's asymkit.search.smallest_k_for_recall"):
        grading.assert_own(lambda: 0)


def test_a_broken_hidden_test_is_the_grader_s_error_not_the_learner_s():
    def broken_compare(got, want):
        raise KeyError("a bug in the hidden test")

    with pytest.raises(grading.GraderError, match="comparison failed"):
        grading.differential(lambda x, k: reference_top(x, k), reference_top, top_cases(), name="top",
                             exercise="ex1_top_k", compare=broken_compare)


def test_copies_of_the_library_s_code_held_by_a_notebook_are_found():
    import inspect as _inspect

    assert grading.copies() == []
    held = clone(metrics.ndcg_at_k)                                    # types.FunctionType on its code
    ns = {"__name__": "notes"}
    exec(compile(_inspect.getsource(search), "<my notes>", "exec"), ns)   # its source, under another name
    found = grading.copies()
    assert "asymkit.metrics.ndcg_at_k" in found and "asymkit.search.top_k" in found, found
    with pytest.raises(grading.Delegated, match="holds a copy of asymkit's"):
        grading.assert_own(lambda: 0)
    del held, ns
    assert grading.copies() == []
