"""The course in a real browser: Chromium (the distribution's package) driven by Playwright against JupyterLab
started as README's course command does.

What a learner sees: lesson 01's first cells run and show the dataset sizes, the encoding progress bar (a widget)
and rendered math; the first exercise, typed in, prints that its visible tests passed; further down a plot is an
image; nbgrader's Validate button reports success on a solved notebook; every lesson opens and renders.
Screenshots go to ``ASYMKIT_ARTIFACTS`` (default ``artifacts/browser/`` in the repository; not committed).

Needs ``pip install playwright`` (in the test extras) and a Chromium: ``apt-get install chromium`` (Debian) or
``ASYMKIT_CHROMIUM=/path/to/chrome``. Playwright's own browser download is not used. Without them, these tests skip.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from asymkit import data
from asymkit.tools import course
from labserver import REPO, jupyter_lab

LESSON = "01_bi_encoder"
SOLVED = "solved.ipynb"                                    # lesson 01 with every exercise answered, beside it
ARTIFACTS = Path(os.environ.get("ASYMKIT_ARTIFACTS") or REPO / "artifacts" / "browser")
CELL_TIMEOUT_MS = 240_000


def chromium_path() -> str | None:
    named = os.environ.get("ASYMKIT_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install playwright "
                                   "(it is in the test extras: pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found: apt-get install chromium (Debian/Ubuntu), or set ASYMKIT_CHROMIUM to a "
                    "Chromium or Chrome executable")
    with sync_api.sync_playwright() as p:
        # --no-sandbox: Chromium refuses to start its sandbox as root (CI, containers)
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a copy of lessons/ with the solved lesson 01 beside the student one, on a cache that holds
    the dataset but no vectors yet: lesson 01 encodes its corpus, so its progress bar shows."""
    root = tmp_path_factory.mktemp("browser")
    lessons = root / "lessons"
    shutil.copytree(REPO / "lessons", lessons, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    course.fill_student_notebook(lessons / LESSON / f"{LESSON}.ipynb", course.solution_sources(LESSON, REPO),
                                 lessons / LESSON / SOLVED)
    data.load_stdlib()                                     # the dataset, in the session's own cache
    from asymkit import settings

    cache = root / "cache"
    shutil.copytree(settings.cached_path("datasets"), cache / "datasets")
    # a learner's environment: no ASYMKIT_USER_CACHE, and no MPLBACKEND (the suite's Agg would hide every plot)
    env = {k: v for k, v in os.environ.items() if k not in ("ASYMKIT_USER_CACHE", "MPLBACKEND")}
    env["ASYMKIT_CACHE"] = str(cache)
    with jupyter_lab(root, "lessons/", cwd=root, env=env) as (base, token, _):
        yield base, token


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def open_notebook(page, lab, relpath: str):
    base, token = lab
    page.goto(f"{base}/lab/tree/{relpath}?reset&token={token}")    # reset: only this notebook open, no old tabs
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").first.wait_for()
    # the kernel is up when the toolbar's indicator says idle
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
                 ).wait_for(timeout=120_000)
    news = page.get_by_role("button", name="No", exact=True)  # "get notified about official Jupyter news?" toast
    if news.count():
        news.first.click()
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def run_menu(page, item: str):
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has_text=re.compile(f"^{re.escape(item)}")).first.click()


def wait_ran(cell, timeout=CELL_TIMEOUT_MS):
    """Until the cell's prompt shows an execution count (``[3]:``, not ``[*]:`` or ``[ ]:``)."""
    cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).first.wait_for(timeout=timeout)


def code_cells_before(cells, stop: int) -> list[int]:
    return [i for i in range(stop) if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or "")]


def first_exercise(cells) -> int:
    """The index of the first answer cell. JupyterLab renders a long notebook's cells as they come into view, so
    wait for it to be drawn first."""
    cells.filter(has_text="YOUR CODE HERE").first.wait_for()
    index = cells.evaluate_all("els => els.findIndex(e => e.innerText.includes('YOUR CODE HERE'))")
    assert index >= 0, "no exercise cell (YOUR CODE HERE) in the notebook"
    return index


def render_all(page):
    """Scroll the open notebook from top to bottom, so that JupyterLab draws every cell."""
    page.evaluate("""async () => {
        const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'));
        const outer = panel.querySelector('.jp-WindowedPanel-outer');
        for (let y = 0; y <= outer.scrollHeight; y += outer.clientHeight / 2) {
            outer.scrollTo(0, y);
            await new Promise(r => setTimeout(r, 60));
        }
    }""")


@pytest.mark.slow
def test_lesson01_first_cells_and_the_first_exercise(page, lab):
    cells = open_notebook(page, lab, f"{LESSON}/{LESSON}.ipynb")
    ex = first_exercise(cells)
    cells.nth(ex).locator(".jp-InputArea-prompt").click()   # select the exercise cell, command mode
    run_menu(page, "Run All Above Selected Cell")
    above = code_cells_before(cells, ex)
    assert len(above) >= 3, f"lesson 01 has its data, model and encoding cells before exercise 1: {above}"
    for i in above:
        wait_ran(cells.nth(i))

    # the dataset sizes, in the output area of the cell that loads it
    sizes = next(cells.nth(i) for i in above if "load_stdlib" in cells.nth(i).inner_text())
    text = sizes.locator(".jp-OutputArea-output").all_inner_texts()
    assert re.search(r"'corpus': \d+", " ".join(text)), f"the dataset sizes are shown: {text}"
    # the encoding's progress bar: a widget (tqdm.auto over ipywidgets), not text in the output
    encode = next(cells.nth(i) for i in above if "encode_corpus" in cells.nth(i).inner_text())
    bar = encode.locator(".jp-OutputArea-output .jupyter-widgets.widget-hprogress .progress-bar")
    assert bar.count() >= 1, f"the encoding shows a progress bar widget: {encode.inner_text()[:1000]}"
    assert "width: 100%" in (bar.first.get_attribute("style") or ""), "the bar is full once the encoding is done"
    label = " ".join(encode.locator(".jp-OutputArea-output").all_inner_texts()).replace("\u2007", " ")  # tqdm's spaces
    assert re.search(r"encoding with \S+: 100%", label), label
    # rendered math: MathJax's output in a markdown cell, and no raw $$ left in it
    cells.locator(".jp-RenderedMarkdown mjx-container").first.wait_for(state="attached", timeout=30_000)
    math_cell = next(cells.nth(i) for i in range(ex) if cells.nth(i).locator("mjx-container").count())
    assert "$$" not in math_cell.locator(".jp-RenderedMarkdown").inner_text()
    sizes.scroll_into_view_if_needed()
    shot(page, "01-lesson01-first-cells.png")
    math_cell.scroll_into_view_if_needed()
    shot(page, "02-lesson01-math-and-progress-bar.png")

    # the learner types the first exercise's answer, runs it and its test cell
    answer = course.solution_sources(LESSON, REPO)["ex1_top_k"]
    editor = cells.nth(ex).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(answer)
    assert cells.nth(ex).locator(".cm-content").inner_text().strip().startswith("def top_k_cosine")
    page.keyboard.press("Shift+Enter")                     # runs the answer, moves to its test cell
    page.keyboard.press("Shift+Enter")                     # runs the test cell
    test_cell = cells.nth(ex + 1)
    wait_ran(test_cell)
    out = " ".join(test_cell.locator(".jp-OutputArea-output").all_inner_texts())
    assert "Exercise 1: visible tests passed" in out, f"the visible test's output: {out[:2000]}"
    assert not test_cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    test_cell.scroll_into_view_if_needed()
    shot(page, "03-lesson01-exercise-1-passed.png")


@pytest.mark.slow
def test_solved_lesson01_plots_and_validates(page, lab):
    cells = open_notebook(page, lab, f"{LESSON}/{SOLVED}")
    cells.first.locator(".jp-InputArea-prompt").click()
    run_menu(page, "Run All Cells")
    last = max(code_cells_before(cells, cells.count()))
    wait_ran(cells.nth(last), timeout=600_000)
    render_all(page)
    # JupyterLab draws an error (and anything on stderr) as application/vnd.jupyter.stderr
    stderr = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) "
                          ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_text_contents()
    raised = [t for t in stderr if re.search(r"Traceback|\w+Error\b|Exception\b", t)]
    assert raised == [], f"a solved notebook runs without errors: {raised[:2]}"
    render_all(page)
    img = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea .jp-RenderedImage img").first
    img.wait_for(state="attached")
    img.scroll_into_view_if_needed()
    img.wait_for()
    assert img.evaluate("i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100"), "a real plot image"
    assert img.get_attribute("src").startswith("data:image/png"), "matplotlib's PNG, inline"
    shot(page, "04-lesson01-plot.png")

    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=600_000)                      # nbgrader runs the notebook again, in its own kernel
    shot(page, "05-lesson01-validate.png")
    assert "validation-success" in (message.get_attribute("class") or ""), message.inner_text()
    assert "Success! Your notebook passes all the tests." in message.inner_text()


@pytest.mark.slow
def test_every_lesson_opens_and_renders(page, lab):
    from playwright import sync_api

    for lesson in course.lesson_ids(REPO):
        cells = open_notebook(page, lab, f"{lesson}/{lesson}.ipynb")
        render_all(page)
        title = cells.first.locator(".jp-RenderedMarkdown h1").text_content() or ""   # drawn, though scrolled away
        assert title.startswith("Lesson "), f"{lesson}: its title is rendered as a heading: {title!r}"
        n_markdown_math = sum("$" in c.source for c in course_cells(lesson) if c.cell_type == "markdown")
        if n_markdown_math:                                # MathJax typesets a moment after the cells are drawn
            page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown mjx-container").first.wait_for(
                state="attached", timeout=30_000)
        sync_api.expect(cells).to_have_count(len(course_cells(lesson)), timeout=30_000)   # every cell, drawn
        answers = cells.evaluate_all("els => els.filter(e => e.textContent.includes('YOUR CODE HERE')).length")
        assert answers >= 1, f"{lesson}: the exercises are there to fill"


def course_cells(lesson):
    import nbformat

    return nbformat.read(course.notebook_path(REPO, "lessons", lesson), as_version=4).cells
