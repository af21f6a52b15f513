"""What the hidden tests use to give no points for delegating an exercise to asymkit.

Every exercise has an implementation in the library (the lessons fall back to it until the learner's
own is done). An answer that merely calls or aliases it must earn nothing, so a hidden test:

1. checks that the learner's object is their own, not the library's (``assert_own``), and
2. runs its asserts with the library's implementations switched off (``forbidden``): any call to them,
   however it is reached (``metrics.ndcg_at_k``, ``from asymkit.metrics import ndcg_at_k as f``, a
   ``functools.partial``, a lambda), raises :class:`Delegated`, which fails the test cell.

    from asymkit.tools import grading
    grading.assert_own(ndcg_at_k, metrics.ndcg_at_k)
    with grading.forbidden(metrics.ndcg_at_k, metrics.evaluate):
        assert abs(ndcg_at_k(["a", "b"], {"b": 2}, 10) - 0.6309) < 1e-4

``forbidden`` swaps the *code* of each function (so every alias of it is switched off too) and puts it
back when the block ends, also when an assert in the block fails. A class is switched off through its
``__init__`` and ``forward`` (where it defines them).
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Iterator


class Delegated(AssertionError):
    """Raised by a library function that an exercise must not call."""


def _switched_off(*args, **kwargs):
    # This code runs as the switched-off function's, with that module's globals: only builtins are safe here.
    raise __import__("asymkit.tools.grading", fromlist=["Delegated"]).Delegated("this exercise must be answered with your own code: it called asymkit's implementation "
                    "of the same idea, which earns no points (the lesson falls back to it only while the "
                    "exercise is not done)")


def _functions(target: Any) -> list:
    """The plain Python functions behind a target: a function, a method or a partial."""
    if isinstance(target, functools.partial):
        return _functions(target.func)
    if inspect.ismethod(target):
        return _functions(target.__func__)
    if inspect.isfunction(target):
        return [inspect.unwrap(target)]
    raise TypeError(f"cannot switch off {target!r}: pass a Python function, method, partial or class")


def _raiser(*args, **kwargs):
    _switched_off()


@contextlib.contextmanager
def forbidden(*targets: Any) -> Iterator[None]:
    """Within the block, calling any of ``targets`` raises :class:`Delegated`; restored afterwards."""
    codes, attributes = [], []
    try:
        for target in targets:
            if inspect.isclass(target):                     # the class object is shared by every alias of it
                names = [n for n in ("__init__", "forward", "__call__") if n in target.__dict__]
                if not names:
                    raise TypeError(f"{target.__qualname__} defines none of __init__, forward, __call__")
                for name in names:
                    attributes.append((target, name, target.__dict__[name]))
                    setattr(target, name, _raiser)
                continue
            for fn in _functions(target):
                if fn.__code__.co_freevars:
                    raise TypeError(f"{fn.__qualname__} is a closure: forbid the function that makes it instead")
                codes.append((fn, fn.__code__))
                fn.__code__ = _switched_off.__code__
        yield
    finally:
        for fn, code in reversed(codes):
            fn.__code__ = code
        for cls, name, original in reversed(attributes):
            setattr(cls, name, original)


def _origin(obj: Any) -> Any:
    while isinstance(obj, functools.partial):
        obj = obj.func
    return getattr(obj, "__func__", obj)


def assert_own(answer: Any, *library: Any, name: str | None = None) -> None:
    """Fail if ``answer`` is (an alias or partial of) one of the ``library`` objects, or any object that
    asymkit defines: the exercise asks for the learner's own function or class."""
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

