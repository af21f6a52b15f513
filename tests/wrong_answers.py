"""The answer sets of every lesson for the nbgrader round trip, one module per lesson in tests/answers/.

``WRONG[lesson]``: realistic wrong answers (lists of ``{grade_id: (code, passes_visible)}``);
``DELEGATE[lesson]``: ``{grade_id: code}``, each exercise answered by calling or aliasing asymkit.
"""
from answers import lesson01, lesson02, lesson03, lesson04, lesson05, lesson06

_MODULES = {"01_bi_encoder": lesson01, "02_faiss": lesson02, "03_twin_tower": lesson03,
            "04_cross_encoder": lesson04, "05_asymmetry": lesson05, "06_magnitude_cheating": lesson06}

WRONG = {lesson: module.WRONG for lesson, module in _MODULES.items()}
DELEGATE = {lesson: module.DELEGATE for lesson, module in _MODULES.items()}
