"""The lessons' one rule for exercises: the learner's code carries the lesson.

After an exercise, the next cells call the learner's function. While the exercise is still the stub
(which raises ``NotImplementedError``), they fall back to the library's version and say so in one
line, so the notebook always runs top to bottom:

    scores = use_mine(lambda: my_top_k(Q, D, 10), lambda: search.top_k(Q, D, 10), "Exercise 1 (top_k_cosine)")

Any other error in the learner's code is not hidden: it is raised, where the learner can read it.
"""
from __future__ import annotations

from typing import Any, Callable


def use_mine(mine: Callable[[], Any], library: Callable[[], Any], name: str) -> Any:
    """``mine()``; or, if it raises ``NotImplementedError`` (an exercise not done yet), ``library()``
    after printing that ``name`` is not done yet."""
    try:
        return mine()
    except NotImplementedError:
        print(f"{name} is not done yet: using the library's version for now")
        return library()


def mine_or_library(mine: Callable, library: Callable, name: str, *example: Any) -> Callable:
    """The function a lesson should call from now on: ``mine`` once one call on ``example`` runs, else
    ``library`` (saying so once, as :func:`use_mine` does). For functions handed to a training loop or a
    pipeline, which must be chosen before they are called."""
    return use_mine(lambda: (mine(*example), mine)[1], lambda: library, name)
