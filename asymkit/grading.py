"""What the hidden tests use: the learner's function against the reference, on generated inputs, with asymkit off.

Every exercise has an implementation in the library (the lessons fall back to it until the learner's own is
done). A hidden test must give points only for the learner's own, correct code, so it:

1. checks that the learner's object is their own, not the library's (:func:`assert_own`);
2. runs the learner's function with **all of asymkit switched off** except what the exercise hands the learner
   (:func:`own_work`, an allow-list: :data:`ALLOW`). Calling any other asymkit function, public or private, from
   any module, however it is reached (an alias, a partial, a lambda, a copy of the function object, a child
   process, a fresh import), raises :class:`Delegated` and costs the exercise;
3. compares the learner's function with the reference on many generated inputs (:func:`differential`): the
   dtypes, ties, unsorted inputs, short lists, ``-1`` sentinels and degenerate sizes that real mistakes depend on,
   from Hypothesis strategies with a fixed number of cases and a fixed seed, so grading is fast and the same every
   time. The first failing case (shrunk to the smallest Hypothesis finds) is reported in plain words;
4. checks that no input was modified, whatever its dtype (:func:`differential` does it on every case).

    from asymkit import grading
    grading.assert_own(ndcg_at_k, metrics.ndcg_at_k)
    grading.differential(ndcg_at_k, metrics.ndcg_at_k,
                         grading.rankings().map(lambda c: grading.Case(c, names=("ranking", "rels", "k"))),
                         name="ndcg_at_k", exercise="ex3_ndcg", compare=grading.close)

``forbidden`` (switch off named functions only) stays for the capstone, which runs whole systems and hands them
parts of the library.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import importlib.abc
import inspect
import math
import os
import re
import sys
import threading
import types
from typing import Any, Callable, Iterator, Sequence

import numpy as np


class Delegated(AssertionError):
    """Raised when an exercise's answer calls asymkit's code instead of its own."""


class GraderError(RuntimeError):
    """A hidden test that failed by itself (its strategy, comparator or reference): a bug to report, not a mistake
    of the learner's."""


_MESSAGE = ("this exercise must be answered with your own code: it called asymkit's {what}, which earns no points "
            "(the lesson falls back to the library only while the exercise is not done)")


def _fail(what: str) -> None:
    _STATE.calls.append(what)
    raise Delegated(_MESSAGE.format(what=what))


# --------------------------------------------------------------------------- switching code off

_RAISERS: dict[tuple[str, int], types.CodeType] = {}


def _raiser_code(what: str, n_free: int) -> types.CodeType:
    """The code of a function that raises :class:`Delegated` naming ``what``, with ``n_free`` free variables (so
    it can replace the code of a closure too: CPython only checks their number)."""
    key = (what, n_free)
    if key not in _RAISERS:
        free = [f"_v{i}" for i in range(n_free)]
        body = f"    {', '.join(free)}\n" if free else ""
        src = (f"def _outer():\n" + (f"    {' = '.join(free)} = None\n" if free else "")
               + "    def _switched_off(*args, **kwargs):\n"
               + "".join("    " + line + "\n" for line in body.splitlines())
               + f"        __import__('asymkit.grading', fromlist=['_fail'])._fail({what!r})\n"
               + "    return _switched_off\n")
        ns: dict = {}
        exec(compile(src, "<asymkit.grading: switched off>", "exec"), ns)
        _RAISERS[key] = ns["_outer"]().__code__
    return _RAISERS[key]


def _functions(target: Any) -> list:
    """The plain Python functions behind a target: a function, a method or a partial."""
    if isinstance(target, functools.partial):
        return _functions(target.func)
    if inspect.ismethod(target):
        return _functions(target.__func__)
    if inspect.isfunction(target):
        inner = inspect.unwrap(target)
        return [target] if inner is target else [target, inner]
    raise TypeError(f"cannot switch off {target!r}: pass a Python function, method, partial or class")


def _swap(fn: types.FunctionType, what: str, saved: list) -> None:
    if fn.__code__.co_filename.startswith("<asymkit.grading"):
        return                                            # already switched off (an alias seen twice)
    saved.append((fn, fn.__code__))
    fn.__code__ = _raiser_code(what, len(fn.__code__.co_freevars))


@contextlib.contextmanager
def forbidden(*targets: Any) -> Iterator[None]:
    """Within the block, calling any of ``targets`` raises :class:`Delegated`; restored afterwards (also when the
    block fails). A class is switched off through its ``__init__``, ``forward`` and ``__call__``."""
    saved: list = []
    attributes = []
    try:
        for target in targets:
            if inspect.isclass(target):                  # the class object is shared by every alias of it
                names = [n for n in ("__init__", "forward", "__call__") if n in target.__dict__]
                if not names:
                    raise TypeError(f"{target.__qualname__} defines none of __init__, forward, __call__")
                for name in names:
                    attributes.append((target, name, target.__dict__[name]))
                    setattr(target, name, _switched_off_method(f"{target.__qualname__}.{name}"))
                continue
            for fn in _functions(target):
                _swap(fn, fn.__qualname__, saved)
        yield
    finally:
        for fn, code in reversed(saved):
            fn.__code__ = code
        for cls, name, original in reversed(attributes):
            setattr(cls, name, original)


def _switched_off_method(what: str):
    def method(*args, **kwargs):
        _fail(what)
    return method


# Dunder methods that cannot compute an exercise's result and that Python itself calls (printing, comparing,
# hashing, containers): they stay on, so the objects an exercise is handed still behave.
_HARMLESS = {"__repr__", "__str__", "__format__", "__eq__", "__ne__", "__hash__", "__len__", "__iter__",
             "__contains__", "__bool__", "__getattr__", "__getattribute__", "__setattr__", "__delattr__", "__dir__",
             "__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__copy__", "__deepcopy__",
             "__post_init__", "__init_subclass__", "__class_getitem__", "__subclasshook__", "__lt__", "__le__",
             "__gt__", "__ge__", "__enter__", "__exit__", "__del__"}

_HERE = os.path.dirname(os.path.abspath(__file__))
_SELF = {os.path.join(_HERE, "grading.py"), os.path.join(_HERE, "fallback.py")}


@functools.lru_cache(maxsize=4096)
def _in_library(filename: str) -> bool:
    filename = os.path.abspath(filename) if filename and not filename.startswith("<") else filename
    return filename.startswith(_HERE + os.sep) and filename not in _SELF


def _is_library_source(path) -> bool:
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real.startswith(_HERE + os.sep) and real.endswith((".py", ".pyc")) and real not in _SELF


def _library_modules() -> list[types.ModuleType]:
    return [m for name, m in list(sys.modules.items())
            if isinstance(m, types.ModuleType) and (name == "asymkit" or name.startswith("asymkit."))
            and _in_library(os.path.abspath(getattr(m, "__file__", "") or ""))]


def _members(obj: Any) -> Iterator[tuple[str, types.FunctionType]]:
    """``(name, function)`` for every plain function reachable from a module or class namespace (unwrapped)."""
    for name, value in list(vars(obj).items()):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            for part in (value.fget, value.fset, value.fdel):
                if inspect.isfunction(part):
                    yield name, part
            continue
        if isinstance(value, functools.partial):
            value = value.func
        if inspect.isfunction(value):
            yield name, value
            inner = inspect.unwrap(value)
            if inner is not value and inspect.isfunction(inner):
                yield name, inner


_FOUND: dict[tuple, dict] = {}


def library_functions() -> dict[int, tuple[str, types.FunctionType]]:
    """Every function of the imported asymkit modules (module level and in their classes), by id:
    ``{id: (qualified name, function)}``. What :func:`own_work` switches off, less its allow-list. Walked again
    whenever another asymkit module has been imported or a module's namespace has grown."""
    modules = _library_modules()
    key = tuple((m.__name__, id(m), len(vars(m))) for m in modules)
    if key in _FOUND:
        return _FOUND[key]
    _FOUND.clear()
    found: dict[int, tuple[str, types.FunctionType]] = {}
    _FOUND[key] = found
    for module in modules:
        for _, fn in _members(module):
            if _in_library(fn.__code__.co_filename):
                found.setdefault(id(fn), (f"{fn.__module__}.{fn.__qualname__}", fn))
        for value in list(vars(module).values()):
            if inspect.isclass(value) and _in_library(os.path.abspath(inspect.getfile(value))
                                                      if _has_file(value) else ""):
                for name, fn in _members(value):
                    if name in _HARMLESS or not _in_library(fn.__code__.co_filename):
                        continue
                    found.setdefault(id(fn), (f"{fn.__module__}.{fn.__qualname__}", fn))
    return found


def _has_file(cls) -> bool:
    try:
        inspect.getfile(cls)
        return True
    except (TypeError, OSError):
        return False


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _allowed(allow: Sequence[Any]) -> tuple[set[int], set[str]]:
    """``(ids of allowed functions, allowed source files)`` for an allow-list of modules, classes and functions."""
    ids: set[int] = set()
    files: set[str] = set()
    for item in allow:
        if inspect.ismodule(item):
            files.add(os.path.abspath(item.__file__))
            for _, fn in _members(item):
                ids.add(id(fn))
            for value in vars(item).values():
                if inspect.isclass(value):
                    for _, fn in _members(value):
                        ids.add(id(fn))
        elif inspect.isclass(item):
            for cls in item.__mro__:
                for _, fn in _members(cls):
                    ids.add(id(fn))
        else:
            for fn in _functions(item):
                ids.add(id(fn))
    return ids, files


class _Shared:
    """Process-wide state of :func:`own_work` (the audit hook cannot be removed, so it is installed once)."""

    def __init__(self):
        self.active = 0
        self.busy = 0                  # > 0 while the grader itself sets the profiler or restores code
        self.calls: list[str] = []
        self.hooked = False


_STATE = _Shared()


class _NoImports(importlib.abc.MetaPathFinder):
    """While :func:`own_work` is on: no asymkit module may be imported afresh or reloaded (it would bring back
    functions that were not switched off)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "asymkit" or fullname.startswith("asymkit."):
            _fail(f"module {fullname} (imported or reloaded while the exercise ran)")
        return None


# The audit events by which Python starts a process (the capstone's guard watches the same ones).
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile",
                   "pty.spawn", "os.fork", "os.forkpty")


def _audit(event: str, args: tuple) -> None:
    if not _STATE.active or _STATE.busy:
        return
    if event in PROCESS_EVENTS:
        _fail(f"help through a new process ({event}), which is not your function's own work")
    elif event in ("sys.setprofile", "sys.settrace"):
        if sys._getframe(1).f_code.co_filename == threading.__file__:
            return                                    # a new thread installs the profile own_work asked for
        _fail(f"the grader's watch ({event} while graded): leave the profiler and tracer alone")
    elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) and _is_library_source(args[0]):
        _fail(f"source file {os.fsdecode(args[0])} (read while graded: running a copy of the library's code is "
              "still the library's code)")
    elif event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
        _fail("a function's code changed while graded (setting __code__)")


# A copy of the library's code made from its source (exec, compile) under another file name is found by its names,
# its variables and its constants (the docstring among them; not its bytecode, which compiler flags change). Only code
# that comes neither from a notebook cell (a learner's own code may be written exactly as the library's) nor from a
# file on disk is compared.
_FINGERPRINT_MIN = 40


def _fingerprint(code: types.CodeType) -> tuple:
    consts = tuple(repr(c) for c in code.co_consts if not isinstance(c, types.CodeType))
    return code.co_names, code.co_varnames, code.co_argcount, consts


def _synthetic(filename: str) -> bool:
    """A code object's file that is neither a notebook cell's nor a module's on disk: source run by exec()."""
    if re.search(r"ipykernel_\d+[/\\]\d+\.py$|^<ipython-input-", filename):
        return False
    return filename.startswith("<") or not os.path.exists(filename)


def _fingerprints() -> dict[tuple, str]:
    out = {}
    for qualname, fn in library_functions().values():
        code = fn.__code__
        if len(code.co_code) >= _FINGERPRINT_MIN and _in_library(code.co_filename):
            out.setdefault(_fingerprint(code), qualname)
    return out


def copies(collected: bool = False) -> list[str]:
    """Function objects that run asymkit's code without being asymkit's functions: copies made with
    ``types.FunctionType`` from a library function's code, functions of a second load of a library file, and
    functions compiled from the library's source under another name."""
    import gc

    if collected:
        gc.collect()                                   # garbage that nothing can call any more is no copy
    known = library_functions()
    codes = {id(fn.__code__): q for q, fn in known.values() if _in_library(fn.__code__.co_filename)}
    places = {(fn.__code__.co_filename, fn.__code__.co_firstlineno, fn.__code__.co_name): q
              for q, fn in known.values() if _in_library(fn.__code__.co_filename)}
    prints = _fingerprints()
    found = []
    for obj in gc.get_objects():
        if type(obj) is not types.FunctionType or id(obj) in known:
            continue
        code = obj.__code__
        name = codes.get(id(code))
        if name is None and _in_library(code.co_filename):
            name = places.get((code.co_filename, code.co_firstlineno, code.co_name))
        if name is None and len(code.co_code) >= _FINGERPRINT_MIN and _synthetic(code.co_filename):
            name = prints.get(_fingerprint(code))
        if name is not None:
            found.append(name)
    if found and not collected:
        return copies(collected=True)
    return sorted(set(found))


def _notebook_threads() -> list[str]:
    """Other threads that are running the notebook's code (a frame whose globals are ``__main__``'s)."""
    found = []
    me = threading.get_ident()
    for tid, frame in sys._current_frames().items():
        if tid == me:
            continue
        f = frame
        while f is not None:
            if f.f_globals.get("__name__") == "__main__":
                found.append(f"{f.f_code.co_name} (line {f.f_lineno})")
                break
            f = f.f_back
    return found


@functools.lru_cache(maxsize=None)
def _defined_names(filename: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The top-level functions and classes a module's source defines, and the methods of each class."""
    import ast

    tree = ast.parse(open(filename, encoding="utf-8").read())
    top, methods = [], {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top.append(node.name)
        if isinstance(node, ast.ClassDef):
            methods[node.name] = tuple(n.name for n in node.body if isinstance(n, (ast.FunctionDef,
                                                                                   ast.AsyncFunctionDef)))
    return tuple(top), methods


def tampered() -> list[str]:
    """asymkit's functions, classes and methods that the notebook replaced or changed (a module attribute, a method,
    a function's code): the grader needs the library as it ships, to compute the expected answers."""
    found = []

    def ours(fn) -> bool:
        target = inspect.unwrap(fn) if callable(fn) else fn
        target = getattr(target, "__func__", target)
        if isinstance(target, property):
            target = target.fget
        return inspect.isfunction(target) and (_in_library(target.__code__.co_filename)
                                               or target.__code__.co_filename.startswith("<asymkit.grading"))

    for module in _library_modules():
        top, methods = _defined_names(os.path.abspath(module.__file__))
        for name in top:
            value = vars(module).get(name)
            if value is None:
                continue
            if inspect.isclass(value):
                if not (_has_file(value) and _in_library(inspect.getfile(value))):
                    found.append(f"{module.__name__}.{name}")
                    continue
                found += [f"{module.__name__}.{name}.{m}" for m in methods.get(name, ())
                          if m in value.__dict__ and not ours(value.__dict__[m])]
            elif not ours(value):
                found.append(f"{module.__name__}.{name}")
    return found


def check_untampered() -> None:
    """Raise :class:`Delegated` if the notebook replaced part of asymkit (see :func:`tampered`) or holds a copy of
    its code (see :func:`copies`)."""
    held = copies()
    if held:
        raise Delegated(f"your notebook holds a copy of asymkit's {', '.join(held[:3])} (a function made from its code "
                        "or its source): an exercise's answer must be your own code. Remove it, restart the kernel "
                        "and run the notebook again")
    found = tampered()
    if found:
        raise Delegated(f"your notebook replaced or changed asymkit's {', '.join(found[:3])}: the grader computes the "
                        "expected answers with the library as it ships. Remove the code that changes it, restart the "
                        "kernel and run the notebook again")


# Always on: what every lesson installs in its first cell and Python then calls by itself (warnings are shown on
# standard output through a hook that asymkit.settings.warnings_to_stdout makes); it computes no exercise's answer.
ALWAYS_ALLOWED = ("asymkit.settings:warnings_to_stdout",)


@contextlib.contextmanager
def own_work(allow: Sequence[Any] = (), name: str = "your function") -> Iterator[None]:
    """Run a learner's function with every asymkit function switched off except ``allow`` (modules, classes or
    functions the exercise hands the learner) and :data:`ALWAYS_ALLOWED`. Within the block:

    - calling a switched-off function, through any alias, raises :class:`Delegated`;
    - running any other code of the library (a copy of a function object, ``types.FunctionType`` on a saved code
      object, the library's source run under another file name) is recorded, and so is changing a function's code,
      the profiler or the tracer; the block then raises :class:`Delegated` when it ends;
    - importing or reloading an asymkit module, or starting a process, raises :class:`Delegated`;
    - another thread running the notebook's code while the block runs fails it.

    A :class:`Delegated` that the learner's code caught still fails the block when it ends."""
    allow = tuple(allow) + _resolve(ALWAYS_ALLOWED)
    allowed_ids, allowed_files = _allowed(allow)
    functions = library_functions()
    allowed_codes = {id(c) for i, (_, fn) in functions.items() if i in allowed_ids for c in _codes(fn.__code__)}
    prints = {f: q for f, q in _fingerprints().items()
              if not any(q == functions[i][0] for i in allowed_ids if i in functions)}
    saved: list = []
    seen: list[str] = []
    hook_codes: dict[int, str | None] = {}

    def profile(frame, event, arg):
        if event != "call" or seen:
            return
        code = frame.f_code
        key = id(code)
        if key not in hook_codes:
            filename = code.co_filename
            hit = None
            if _in_library(filename) and filename not in allowed_files and key not in allowed_codes:
                hit = f"{frame.f_globals.get('__name__', '?')}.{getattr(code, 'co_qualname', code.co_name)}"
            elif len(code.co_code) >= _FINGERPRINT_MIN and _synthetic(filename):
                hit = prints.get(_fingerprint(code))
            hook_codes[key] = hit
        if hook_codes[key]:
            seen.append(hook_codes[key])

    if not _STATE.hooked:
        sys.addaudithook(_audit)
        _STATE.hooked = True
    busy = _notebook_threads()
    if busy:
        raise Delegated(f"another thread runs your notebook's code ({busy[0]}) while {name} is graded: stop it, "
                        "restart the kernel and run the notebook again")
    finder = _NoImports()
    before = len(_STATE.calls)
    old_profile = sys.getprofile()
    old_thread_profile = threading.getprofile() if hasattr(threading, "getprofile") else None
    try:
        for i, (qualname, fn) in functions.items():
            if i not in allowed_ids and os.path.abspath(fn.__code__.co_filename) not in allowed_files:
                _swap(fn, qualname, saved)
        sys.meta_path.insert(0, finder)
        sys.setprofile(profile)
        threading.setprofile(profile)                    # threads the learner's code starts
        _STATE.active += 1
        yield
    finally:
        _STATE.active -= 1
        _STATE.busy += 1
        try:
            intact = sys.getprofile() is profile
            sys.setprofile(old_profile)
            threading.setprofile(old_thread_profile)
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)
            changed_code = [q for fn, code in saved if not fn.__code__.co_filename.startswith("<asymkit.grading")
                            for q in [fn.__qualname__]]
            for fn, code in reversed(saved):
                fn.__code__ = code
        finally:
            _STATE.busy -= 1
    calls = _STATE.calls[before:]
    del _STATE.calls[before:]
    if calls:
        raise Delegated(f"{name} called asymkit's {calls[0]}: this exercise must be answered with your own code, "
                        "which earns no points otherwise (the lesson falls back to the library only while the "
                        "exercise is not done)")
    if seen:
        raise Delegated(f"{name} ran asymkit's code ({seen[0]}), which earns no points: write it yourself")
    if not intact or changed_code:
        raise Delegated(f"{name} changed the grader's watch ({'the profiler' if not intact else changed_code[0]}) "
                        "while it was graded")
    busy = _notebook_threads()
    if busy:
        raise Delegated(f"another thread ran your notebook's code ({busy[0]}) while {name} was graded")


# --------------------------------------------------------------------------- which asymkit each exercise is handed

# For each exercise (its grade id), what of asymkit the learner's function may run while it is graded: the
# objects the exercise hands the learner (a model to step, a setup to align). Everything else is switched off.
ALLOW: dict[str, tuple[str, ...]] = {
    "ex1_top_k": (), "ex2_recall_rr": (), "ex3_ndcg": (), "ex4_cutoff": (),                 # 01
    "ex1_metric": (), "ex2_recall": (), "ex3_rescore": (),                                  # 02
    "ex1_info_nce": (), "ex2_training_step": ("asymkit.towers",), "ex3_hard_negatives": (),  # 03
    "ex1_listwise": (), "ex2_rerank": (), "ex3_fusion": (),                                 # 04
    "ex1_k_occurrence": (), "ex2_asymmetry_stats": (), "ex3_alignment": (),                 # 05
    "ex1_batch_statistics": (), "ex2_fixed_loss": (), "ex3_early_warning": (),              # 06
}


def allowed(exercise: str) -> tuple:
    """The modules, classes and functions of asymkit that ``exercise`` (a grade id) may run."""
    if exercise not in ALLOW:
        raise KeyError(f"no allow-list for exercise {exercise!r}: add it to asymkit.grading.ALLOW")
    return _resolve(ALLOW[exercise])


def _resolve(names: Sequence[str]) -> tuple:
    """``"module"`` or ``"module:attribute"`` names -> the objects."""
    out = []
    for dotted in names:
        module, _, attr = dotted.partition(":")
        obj = __import__(module, fromlist=["_"])
        out.append(getattr(obj, attr) if attr else obj)
    return tuple(out)


# --------------------------------------------------------------------------- the learner's object is their own

def _origin(obj: Any) -> Any:
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__func__", obj)


def assert_own(answer: Any, *library: Any, name: str | None = None) -> None:
    """Fail if ``answer`` is (an alias or partial of) one of the ``library`` objects, or any object that
    asymkit defines: the exercise asks for the learner's own function or class. Also fails if the notebook replaced
    part of asymkit (:func:`check_untampered`): the expected answers are computed with the library."""
    check_untampered()
    label = name or getattr(answer, "__name__", repr(answer))
    origin = _origin(answer)
    for lib in library:
        if origin is _origin(lib):
            raise Delegated(f"{label} is asymkit's {getattr(lib, '__qualname__', lib)!s}, not your own: write it "
                            "yourself (delegating earns no points)")
    module = getattr(origin, "__module__", "") or ""
    if module == "asymkit" or module.startswith("asymkit."):
        raise Delegated(f"{label} comes from {module}, not from your notebook: write it yourself "
                        "(delegating earns no points)")
    code = getattr(origin, "__code__", None)
    if code is not None and _in_library(code.co_filename):
        raise Delegated(f"{label} runs the code of asymkit's {code.co_name}, not your own: write it yourself "
                        "(delegating earns no points)")


# --------------------------------------------------------------------------- inputs unchanged

def snapshot(value: Any) -> Any:
    """A deep copy of the data in ``value`` (arrays, tensors, lists, dicts, dataclasses), to compare after a call."""
    return copy.deepcopy(value)


def changed(before: Any, after: Any) -> bool:
    """Whether ``after`` differs from the ``before`` snapshot: values, dtypes and shapes, NaNs equal to NaNs."""
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and before.dtype == after.dtype and before.shape == after.shape
                    and np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
    if type(before).__module__.startswith("torch") and hasattr(before, "shape") and hasattr(before, "dtype"):
        import torch
        return not (isinstance(after, torch.Tensor) and before.dtype == after.dtype and before.shape == after.shape
                    and torch.equal(torch.nan_to_num(before.detach()), torch.nan_to_num(after.detach()))
                    and bool((before.isnan() == after.isnan()).all()))
    if isinstance(before, dict):
        return not isinstance(after, dict) or list(before) != list(after) or \
            any(changed(before[k], after[k]) for k in before)
    if isinstance(before, (list, tuple)):
        return type(before) is not type(after) or len(before) != len(after) or \
            any(changed(a, b) for a, b in zip(before, after))
    if dataclasses.is_dataclass(before) and not isinstance(before, type):
        return type(before) is not type(after) or any(
            changed(getattr(before, f.name), getattr(after, f.name)) for f in dataclasses.fields(before))
    if isinstance(before, float) and isinstance(after, float) and math.isnan(before) and math.isnan(after):
        return False
    try:
        return bool(before != after)
    except Exception:  # noqa: BLE001 - an object without a usable ==: not data this check compares
        return False


# --------------------------------------------------------------------------- comparing answers

def short(value: Any, limit: int = 300) -> str:
    """``value`` in a few words for a message: arrays and tensors as nested lists, rounded."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, separator=", ", threshold=40, max_line_width=10_000)
        text = f"{text} (dtype {value.dtype})" if value.dtype.kind not in "fiub" else text
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: {short(v, 60)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def close(got: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-6) -> str | None:
    """``None`` if ``got`` matches ``expected`` (numbers, arrays, tensors, dicts or lists of them, ``None``) within
    the tolerances, else what differs, in words."""
    if expected is None or isinstance(expected, (str, bool)):
        return None if got == expected and type(got) is type(expected) or (expected is None and got is None) \
            else f"expected {short(expected)}, got {short(got)}"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got a {type(got).__name__}"
        missing = [k for k in expected if k not in got]
        if missing:
            return f"the key {missing[0]!r} is missing"
        for key in expected:
            why = close(got[key], expected[key], rtol, atol)
            if why:
                return f"{key}: {why}"
        return None
    try:
        g, e = as_array(got).astype(np.float64), as_array(expected).astype(np.float64)
    except (TypeError, ValueError):
        return f"expected {short(expected)}, got {short(got)} (not numbers)"
    if g.shape != e.shape:
        return f"expected shape {e.shape}, got shape {g.shape}: {short(got)}"
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        return f"expected {short(expected)}, got {short(got)}"
    return None


def exactly(got: Any, expected: Any) -> str | None:
    """``None`` if ``got`` equals ``expected`` exactly (lists, ids, ``None``), else what differs."""
    if isinstance(expected, np.ndarray) or hasattr(expected, "detach"):
        g, e = as_array(got), as_array(expected)
        return None if g.shape == e.shape and np.array_equal(g, e) else f"expected {short(e)}, got {short(g)}"
    if expected is None:
        return None if got is None else f"expected None, got {short(got)}"
    g = got.tolist() if isinstance(got, np.ndarray) else got
    try:
        same = bool(g == expected)
    except Exception:  # noqa: BLE001 - an answer whose == raises is not equal
        same = False
    return None if same else f"expected {short(expected)}, got {short(got)}"


# --------------------------------------------------------------------------- the differential test

@dataclasses.dataclass
class Case:
    """One generated call: positional ``args``, keyword ``kwargs``, and how to describe it in a message."""

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    names: tuple = ()                  # the parameters' names, for the message

    def describe(self) -> str:
        parts = [f"{n}={short(a, 160)}" for n, a in zip(self.names or [f"arg{i}" for i in range(len(self.args))],
                                                         self.args)]
        parts += [f"{k}={short(v, 120)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


class _Mismatch(Exception):
    pass


def _outcome(fn: Callable, case: Case) -> tuple[str, Any]:
    try:
        return "value", fn(*case.args, **case.kwargs)
    except Delegated:
        raise
    except Exception as err:  # noqa: BLE001 - an exception is an outcome to compare
        return "raises", err


def differential(mine: Callable, reference: Callable, cases: Any, *, name: str, exercise: str,
                 compare: Callable[[Any, Any], str | None] = close, examples: Sequence[Case] = (),
                 max_examples: int = 60, mutable: Sequence[int] = (), shrink: bool = True,
                 hint: Callable[[Case, Any, Any], str] | None = None) -> int:
    """Compare ``mine`` with ``reference`` on ``examples`` and on ``max_examples`` cases drawn from the Hypothesis
    strategy ``cases`` (which yields :class:`Case`), with a fixed seed. For each case:

    - the reference runs first, on its own copy of the inputs, with the library on;
    - ``mine`` runs under :func:`own_work` with ``exercise``'s allow-list: delegating raises :class:`Delegated`;
    - every input (other than the positions in ``mutable``, e.g. a model that a training step must change) must be
      unchanged after the call, whatever its dtype;
    - where the reference raises ``ValueError``, ``mine`` must raise ``ValueError`` too; elsewhere
      ``compare(got, expected)`` must return ``None`` (else it says what differs).

    Raises ``AssertionError`` with the first failing case in plain words, :class:`Delegated` for delegation; returns
    ``None`` (a number on a test cell's last line would be read by nbgrader as partial credit). A failure of the
    hidden test itself (its strategy, comparator or reference) is raised as :class:`GraderError`, never reported as
    the learner's mistake."""
    from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings

    check_untampered()
    allow = allowed(exercise)

    def run(case: Case) -> None:
        want_kind, want = _outcome(reference, copy.deepcopy(case))
        before = snapshot(case.args), snapshot(case.kwargs)
        with own_work(allow, name):
            got_kind, got = _outcome(mine, case)
        where = f"{name}({case.describe()})"
        for i, (a, b) in enumerate(zip(before[0], case.args)):
            if i not in mutable and changed(a, b):
                arg = case.names[i] if i < len(case.names) else f"argument {i + 1}"
                raise _Mismatch(f"{where} changed its input {arg} (dtype {getattr(a, 'dtype', type(a).__name__)}): "
                                "work on a copy, never on the caller's data")
        for key in case.kwargs:
            if changed(before[1][key], case.kwargs[key]):
                raise _Mismatch(f"{where} changed its input {key}: work on a copy, never on the caller's data")
        if want_kind == "raises":
            if isinstance(want, ValueError) and not (got_kind == "raises" and isinstance(got, ValueError)):
                raise _Mismatch(f"{where} must raise ValueError ({str(want)[:160]}), "
                                + (f"but it raised {type(got).__name__}: {str(got)[:160]}" if got_kind == "raises"
                                   else f"but it returned {short(got)}"))
            if not isinstance(want, ValueError):
                raise GraderError(f"the reference failed on {where}: {want!r}")    # a bug in the hidden test
            return
        if got_kind == "raises":
            raise _Mismatch(f"{where} raised {type(got).__name__}: {str(got)[:200]}, expected {short(want)}")
        try:
            why = compare(got, want)
        except Exception as err:  # noqa: BLE001 - the comparator must say what differs, never raise
            if isinstance(got, type(want)) or got is None:
                raise GraderError(f"the comparison failed on {where}: {err!r}") from err
            why = f"expected {short(want)}, got a {type(got).__name__}: {short(got)}"
        if why:
            extra = hint(case, got, want) if hint else ""
            raise _Mismatch(f"{where}: {why}" + (f" ({extra})" if extra else ""))

    for case in examples:
        try:
            run(case)
        except _Mismatch as err:
            raise AssertionError(str(err)) from None

    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())

    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None, phases=phases,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False,
              report_multiple_bugs=False)
    @given(cases)
    def check(case):
        run(case)

    try:
        check()
    except _Mismatch as err:
        raise AssertionError(str(err)) from None
    except Delegated as err:
        raise Delegated(str(err)) from None
    except (AssertionError, GraderError):
        raise
    except Exception as err:  # noqa: BLE001
        from hypothesis.errors import Flaky
        if isinstance(err, Flaky):
            raise AssertionError(f"{name} gave different results for the same input (it must depend on its "
                                 "inputs only)") from None
        raise GraderError(f"the hidden test failed by itself ({type(err).__name__}: {str(err)[:300]}): tell your "
                          "instructor") from err
    return None


# --------------------------------------------------------------------------- generated inputs (Hypothesis strategies)

DTYPES = ("float32", "float64", "int64")


def arrays(rows: tuple[int, int] = (1, 6), cols: tuple[int, int] = (1, 8), dtypes: Sequence[str] = DTYPES,
           ties: bool = True, noncontiguous: bool = True, shape: tuple[int, int] | None = None):
    """A strategy for 2-D arrays of every dtype in ``dtypes``: small integers where ``ties`` (so equal values
    happen, also across a top-k cut), else floats of varied magnitude; some are non-contiguous views."""
    from hypothesis import strategies as st

    @st.composite
    def draw_array(draw):
        n, m = shape if shape is not None else (draw(st.integers(*rows)), draw(st.integers(*cols)))
        dtype = np.dtype(draw(st.sampled_from(list(dtypes))))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        if dtype.kind in "iu" or (ties and draw(st.booleans())):
            values = rng.integers(-3, 4, size=(n, m)).astype(dtype)
        else:
            values = (rng.normal(size=(n, m)) * 10.0 ** rng.uniform(-1, 1, size=(n, 1))).astype(dtype)
        if noncontiguous and draw(st.booleans()):
            wide = np.zeros((n, 2 * m), dtype=dtype)
            wide[:, ::2] = values
            values = wide[:, ::2]                        # a strided view: not C-contiguous
        return values

    return draw_array()


def rankings(pool: int = 8, max_len: int = 10, max_k: int = 12, grades: tuple[int, int] = (0, 3)):
    """A strategy for ``(ranking, rels, k)``: a ranking of distinct doc ids (maybe empty, maybe shorter than k,
    with unjudged documents), judgements with grades in ``grades`` (zeros among them, relevant documents that were
    not retrieved, sometimes none relevant) and a cut-off ``k >= 1``."""
    from hypothesis import strategies as st

    ids = [f"d{i}" for i in range(pool)]

    @st.composite
    def draw_case(draw):
        ranking = draw(st.lists(st.sampled_from(ids), unique=True, max_size=min(max_len, pool)))
        judged = draw(st.lists(st.sampled_from(ids), unique=True, max_size=pool))
        rels = {d: draw(st.integers(*grades)) for d in judged}
        k = draw(st.integers(1, max_k))
        return ranking, rels, k

    return draw_case()     # map to grading.Case(..., names=("ranking", "rels", "k")) for differential
