"""One module of answer sets per lesson: see tests/wrong_answers.py."""
