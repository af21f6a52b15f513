"""The lessons' prose: self-contained, short, numbered, and with no measured number typed into it.

A measured figure in markdown goes stale on another machine, Python or mode: every number the prose
discusses is printed by a cell above it, and the prose says "the table above". The check looks for a
percentage, a ±, a decimal number, a timing, or a thousands-grouped count in the markdown of a solution
notebook, outside math (``$...$``), inline code, links and the allow-list below, which holds the figures
that are not measurements (hyperparameters, formulas' constants, dataset-independent sizes).

One kind of line may type timings and counts: a **first-run note**, a line that starts with ``⏱`` and sits above a
cell that can take more than about half a minute on a cold cache. It says what the cell does and how long it took
where it was measured, in both modes ("⏱ First run: encodes 12,000 pairs, about 7 minutes on 2 CPU cores (fast mode:
about 1 minute); then cached."), so a learner knows a wait is coming. Such a note must name the machine (``2 CPU
cores``) and fast mode, and is not counted as prose.
"""
import re
from pathlib import Path

import nbformat
import pytest

from asymkit.tools import course

REPO = Path(__file__).resolve().parent.parent
LESSONS = course.lesson_ids(REPO)
MAX_WORDS = 2_500

# A figure that is not a measurement: it may be typed. Each entry says what it is.
ALLOWED = {
    "0.05": "the InfoNCE temperature the course trains with (a hyperparameter)",
    "0.1": "a temperature or learning-rate value named as a hyperparameter",
    "1.5": "the magnitude alarm's growth threshold (a hyperparameter)",
    "0.5": "a probability or threshold named in a formula's explanation",
    "100%": "a recall of the exact search, by definition",
    "10,000": "a configured corpus size",
    "20,000": "a configured corpus size (fast mode)",
    "100,000": "a configured corpus size",
    "30,522": "the size of MiniLM's vocabulary (a property of the model)",
    "12,000": "a configured number of training pairs",
    "2,000": "a configured number of training pairs (fast mode)",
    "1,000": "a configured cut-off K",
}

MEASURED = re.compile(
    r"±"                                                   # an uncertainty
    r"|[-+−]?\d+(?:\.\d+)?\s?%"                            # a percentage
    r"|\b\d+(?:\.\d+)?\s?(?:ms|µs|s|sec|seconds?|minutes?|min|hours?|h)\b"   # a timing
    r"|\b\d+\.\d+\b"                                       # a decimal score
    r"|\b\d{1,3}(?:,\d{3})+\b"                             # a thousands-grouped count
)
# Removed before the check: math, code, links' targets, URLs, arXiv ids, and headings' section numbers.
STRIP = [re.compile(p, re.S) for p in (
    r"\$\$.*?\$\$", r"\$[^$\n]+\$", r"```.*?```", r"`[^`\n]+`", r"\]\([^)]*\)", r"https?://\S+",
    r"arXiv:\s?\d{4}\.\d{4,5}", r"<[^>]+>",
)]
FIRST_RUN_NOTE = re.compile(r"^⏱.*$", re.M)
FIRST_RUN_FIGURES = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:ms|µs|s|sec|seconds?|minutes?|min|hours?|h)\b"   # a timing
    r"|\b\d{1,3}(?:,\d{3})+\b"                                               # a count of what it processes
)
SEED_CITATION = re.compile(r"\bseeds?\b\s*\d{3}|§|\.\./shared|seeds/", re.I)


def markdown(lesson: str) -> list[str]:
    nb = nbformat.read(course.notebook_path(REPO, "solutions", lesson), as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def first_run_notes(lesson: str) -> list[str]:
    return [m.group(0) for s in markdown(lesson) for m in FIRST_RUN_NOTE.finditer(s)]


def typed_figures(text: str) -> list[str]:
    text = FIRST_RUN_NOTE.sub(lambda m: FIRST_RUN_FIGURES.sub(" ", m.group(0)), text)
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    found = [m.group(0).strip() for m in MEASURED.finditer(text)]
    return [f for f in found if f not in ALLOWED and f.replace(" ", "") not in ALLOWED]


def prose_words(lesson: str) -> int:
    return sum(len(FIRST_RUN_NOTE.sub(" ", s).split()) for s in markdown(lesson))


@pytest.mark.parametrize("text, expected", [
    ("NDCG@10 went from 0.4974 to 0.4992 (+7.3%) in 12.5 s", ["0.4974", "0.4992", "+7.3%", "12.5 s"]),
    ("the 2,385 embedded documents; 3 ± 1", ["2,385", "±"]),
    ("temperature $\\tau = 0.05$ and `lr=3e-4`, see [the paper](https://arxiv.org/abs/1807.03748)", []),
    ("the table above shows it; 3 lessons, K = 100", []),
    ("⏱ First run: encodes 12,000 pairs, about 7 minutes on 2 CPU cores (fast mode: 2,000 pairs, 50 s).", []),
    ("⏱ First run: about 7 minutes on 2 CPU cores, fast mode 1 min; then NDCG@10 0.6343", ["0.6343"]),
    ("encodes 13,000 pairs in about 7 minutes\n⏱ fine: 3 min", ["13,000", "7 minutes"]),
])
def test_the_typed_figure_check_itself(text, expected):
    assert typed_figures(text) == expected


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_measured_number_is_typed_into_the_prose(lesson):
    typed = {f for s in markdown(lesson) for f in typed_figures(s)}
    assert not typed, (f"{lesson}: the prose types measured figures {sorted(typed)}: print them in a cell and "
                       "refer to its output, or add a non-measurement to ALLOWED with what it is")


@pytest.mark.parametrize("lesson", LESSONS)
def test_first_run_notes_name_the_machine_and_both_modes(lesson):
    for note in first_run_notes(lesson):
        assert "2 CPU cores" in note and "fast mode" in note, (
            f"{lesson}: a first-run note says where it was measured ('2 CPU cores') and what fast mode takes: {note!r}")


@pytest.mark.parametrize("lesson", LESSONS)
def test_prose_is_short_and_numbered_in_order(lesson):
    assert prose_words(lesson) <= MAX_WORDS, f"{lesson}: {prose_words(lesson)} words of prose (at most {MAX_WORDS})"
    numbers = [int(m.group(1)) for s in markdown(lesson) for m in re.finditer(r"^## (\d+)\. ", s, re.M)]
    assert numbers == list(range(1, len(numbers) + 1)), f"{lesson}: sections numbered {numbers}"
    assert len(numbers) >= 3, f"{lesson}: number the lesson's sections (## 1. ..., ## 2. ...)"


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_is_self_contained_and_ends_with_reading_and_answers(lesson):
    text = "\n".join(markdown(lesson))
    cited = SEED_CITATION.findall(text)
    assert not cited, f"{lesson}: cites the course's source notes ({cited[:3]}): explain in place instead"
    assert "## Further reading" in text, f"{lesson}: end with a '## Further reading' section"
    reading = text.split("## Further reading", 1)[1]
    assert len(re.findall(r"^\s*[-*] ", reading, re.M)) >= 3, f"{lesson}: list at least three readings"
    check = text.split("Check yourself", 1)
    assert len(check) == 2 and "<details>" in check[1], f"{lesson}: 'Check yourself' with collapsed <details> answers"


def test_no_seed_citations_in_readme_or_library():
    files = [REPO / "README.md", *sorted((REPO / "asymkit").rglob("*.py"))]
    cited = {str(f.relative_to(REPO)): SEED_CITATION.findall(f.read_text()) for f in files}
    cited = {f: c for f, c in cited.items() if c}
    assert not cited, f"source notes cited (a learner does not have them): {cited}"
