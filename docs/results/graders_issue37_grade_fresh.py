"""Grade a file of fresh wrong answers (default: graders_issue37_fresh_answers.py beside this script, written by an
adversary who read neither solutions/ nor tests/) through nbgrader's autograde, in fast mode: one submission per
(lesson, slot), answers packed so that each submission holds at most one answer per exercise. Prints each answer's
points for its exercise and the count caught.

    .venv/bin/python docs/results/graders_issue37_grade_fresh.py [answers.py] [lesson ...]
"""
import json, os, runpy, sys, tempfile
from pathlib import Path
os.environ.setdefault("ASYMKIT_FAST", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from asymkit.tools import course

REPO = Path(__file__).resolve().parents[2]


def main():
    FRESH = runpy.run_path(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("graders_issue37_fresh_answers.py")))["FRESH"]
    only = sys.argv[2:]
    results = []
    for lesson, answers in FRESH.items():
        if only and lesson not in only:
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"fresh-{lesson}-"))
        work = tmp / "course"
        course.generate(work, [lesson], REPO)
        student_nb = work / "lessons" / lesson / f"{lesson}.ipynb"
        slots = []
        for i, a in enumerate(answers):
            for slot in slots:
                if a["grade_id"] not in slot:
                    slot[a["grade_id"]] = i
                    break
            else:
                slots.append({a["grade_id"]: i})
        subs = {}
        for n, slot in enumerate(slots):
            subs[f"fresh{n}"] = course.fill_student_notebook(student_nb, {g: answers[i]["code"] for g, i in slot.items()},
                                                             tmp / f"fresh{n}.ipynb")
        scores = course.autograde(work, lesson, subs, REPO, workers=2)
        for n, slot in enumerate(slots):
            for gid, i in slot.items():
                got, mx = scores[f"fresh{n}"][f"{gid}_tests"]
                a = answers[i]
                results.append((lesson, gid, a["what"], got, mx))
                print(f"{lesson} {gid}: {got}/{mx} {'CAUGHT' if got == 0 else 'MISSED'} - {a['what']}", flush=True)
    caught = sum(1 for r in results if r[3] == 0)
    print(f"caught {caught} of {len(results)}")
    Path(tempfile.gettempdir(), "fresh-results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
