"""The answer sets of every lesson for the nbgrader round trip, one module per lesson in tests/answers/.

``WRONG[lesson]`` is a list of submissions; each maps a solution cell's grade_id to ``(code, passes_visible)``.
``passes_visible=True`` marks a *sneaky* mistake that the visible tests let through: the round trip checks
that a learner would indeed see them pass, and that the hidden tests still take the points away. The first
submission covers every exercise.

``DELEGATE[lesson]`` maps every exercise's grade_id to an answer that calls or aliases asymkit's
implementation of the same idea: correct, so it passes the visible tests, and worth 0 points in the hidden
tests (asymkit.grading.py).
"""
from answers import lesson01, lesson02, lesson03, lesson04, lesson05, lesson06

_MODULES = {"01_bi_encoder": lesson01, "02_faiss": lesson02, "03_twin_tower": lesson03,
            "04_cross_encoder": lesson04, "05_asymmetry": lesson05, "06_magnitude_cheating": lesson06}

WRONG = {lesson: module.WRONG for lesson, module in _MODULES.items()}
DELEGATE = {lesson: module.DELEGATE for lesson, module in _MODULES.items()}
