"""Maintainer tooling, apart from the retrieval library a learner reads.

- :mod:`asymkit.tools.course`: regenerate ``lessons/`` from ``solutions/`` with nbgrader, autograde
  submissions in a scratch course, run a notebook (``python -m asymkit.tools.course generate``).
- :mod:`asymkit.tools.bench`: lesson wall times and each lesson's headline numbers (``asymkit-bench``).
"""
