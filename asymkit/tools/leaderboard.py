"""The capstone's instructor leaderboard: autograded lesson 07 notebooks -> a ranked table (CSV and Markdown).

    asymkit-leaderboard autograded/                     # nbgrader's folder: autograded/<student>/07_capstone/*.ipynb
    asymkit-leaderboard autograded/ --out results/      # also writes results/leaderboard.csv and leaderboard.md
    asymkit-leaderboard autograded/ --gradebook gradebook.db   # adds each student's total score (manual points too)

Each graded notebook's capstone grade cell prints one ``CAPSTONE-RESULT {json}`` line (asymkit.capstone); the
grader keeps everything a submission prints out of that cell, so the line cannot be forged from the notebook. Ranked
by held-out NDCG@10, then by median latency; a notebook without a result (its system failed the visible checks, or
it was not autograded) is listed last with the reason.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

import nbformat

from asymkit.capstone import RESULT_TAG          # a light import: no torch, no model

ASSIGNMENT = "07_capstone"
GRADE_CELL = "capstone_system_tests"
COLUMNS = ["rank", "student", "auto_points", "NDCG@10", "Recall@100", "median_ms", "budget_ms", "total_score", "note"]


def notebooks(folder: Path, assignment: str = ASSIGNMENT) -> dict[str, Path]:
    """``{student: notebook}`` under an nbgrader ``autograded/`` folder (``<student>/<assignment>/*.ipynb``)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: pass nbgrader's autograded/ folder "
                                f"(it holds <student>/{assignment}/{assignment}.ipynb)")
    found = {}
    for student in sorted(p for p in folder.iterdir() if p.is_dir()):
        nbs = sorted((student / assignment).glob("*.ipynb"))
        if nbs:
            found[student.name] = nbs[0]
    if not found:
        raise FileNotFoundError(f"no {assignment} notebooks under {folder}: expected {folder}/<student>/{assignment}/"
                                f"{assignment}.ipynb (run nbgrader autograde {assignment} first)")
    return found


def result_of(path: Path) -> tuple[dict | None, str]:
    """``(result, note)``: the parsed ``CAPSTONE-RESULT`` of a graded notebook, or ``None`` and why not."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 - a broken file is reported, not fatal for the other students
        return None, f"unreadable notebook ({type(err).__name__})"
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == GRADE_CELL]
    if not cells:
        return None, f"no grade cell {GRADE_CELL!r} (not lesson 07?)"
    outputs = cells[0].get("outputs", [])
    lines = [ln for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout"
             for ln in o.get("text", "").splitlines() if ln.startswith(RESULT_TAG + " ")]
    if not lines:
        errors = [o for o in outputs if o.get("output_type") == "error"]
        why = f"{errors[0].get('ename')}: {str(errors[0].get('evalue'))[:80]}" if errors else "never graded"
        return None, f"no result ({why})"
    try:
        return json.loads(lines[-1][len(RESULT_TAG) + 1:]), ""
    except json.JSONDecodeError:
        return None, "unreadable result line"


def total_scores(gradebook: Path, assignment: str = ASSIGNMENT) -> dict[str, float]:
    """``{student: total score}`` of the assignment in an nbgrader gradebook (autograded and manual points)."""
    from nbgrader.api import Gradebook, MissingEntry

    if not gradebook.exists():
        raise FileNotFoundError(f"{gradebook} does not exist: pass the course's gradebook.db")
    out = {}
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        for student in gb.students:
            try:
                out[student.id] = float(gb.find_submission(assignment, student.id).score)
            except MissingEntry:
                continue
    return out


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def table(results: dict[str, tuple[dict | None, str]], totals: dict[str, float] | None = None) -> list[dict]:
    """Rows ranked by NDCG@10 (descending), then median ms (ascending), then name; unranked rows last."""
    def key(student):
        r = results[student][0]
        ndcg, ms = r.get("NDCG@10"), r.get("median_ms")
        return (-ndcg if ndcg is not None else math.inf, ms if ms is not None else math.inf, student)

    ranked = sorted((s for s, (r, _) in results.items() if r is not None), key=key)
    rows = []
    for i, s in enumerate(ranked, start=1):
        r = results[s][0]
        rows.append({"rank": i, "student": s, "auto_points": r.get("points"), "NDCG@10": r.get("NDCG@10"),
                     "Recall@100": r.get("Recall@100"), "median_ms": r.get("median_ms"),
                     "budget_ms": r.get("budget_ms"), "total_score": (totals or {}).get(s), "note": ""})
    for s in sorted(set(results) - set(ranked)):
        rows.append({**{c: None for c in COLUMNS}, "student": s, "total_score": (totals or {}).get(s),
                     "note": results[s][1]})
    return rows


def _cell(value, column: str) -> str:
    if value is None:
        return "" if column != "rank" else "-"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4f}" if column in ("NDCG@10", "Recall@100") else f"{value:.1f}" if column.endswith("ms") \
            else f"{value:g}"
    return str(value)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row[c], c) for c in COLUMNS})
    return buf.getvalue()


def to_markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[c], c) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asymkit-leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autograded", type=Path, help="nbgrader's autograded/ folder")
    parser.add_argument("--out", type=Path, help="folder to write leaderboard.csv and leaderboard.md into")
    parser.add_argument("--gradebook", type=Path, help="nbgrader's gradebook.db, for each student's total score")
    parser.add_argument("--assignment", default=ASSIGNMENT, help=f"assignment id (default {ASSIGNMENT})")
    args = parser.parse_args(argv)
    try:
        found = notebooks(args.autograded, args.assignment)
        totals = total_scores(args.gradebook, args.assignment) if args.gradebook else None
    except FileNotFoundError as err:
        print(f"asymkit-leaderboard: {err}", file=sys.stderr)
        return 2
    rows = table({s: result_of(p) for s, p in found.items()}, totals)
    markdown = to_markdown(rows)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        outputs = {"leaderboard.csv": to_csv(rows), "leaderboard.md": markdown}
        for name, text in outputs.items():
            target = args.out / name
            if target.exists() and target.read_text().splitlines()[:1] != text.splitlines()[:1]:
                print(f"asymkit-leaderboard: {target} exists and is not a leaderboard this command wrote: "
                      "move it away or pass another --out folder", file=sys.stderr)
                return 2
        for name, text in outputs.items():
            target = args.out / name
            target.write_text(text)
            print(f"wrote {target}")
    print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
