"""Build everything the lessons compute once (data, embeddings, trained models, cached scores) into one cache.

    asymkit-prepare                    # every lesson, in the mode ASYMKIT_FAST says (default: full size)
    asymkit-prepare --fast             # fast mode
    asymkit-prepare --cache /srv/asymkit-cache --fast      # into that folder (else ASYMKIT_CACHE or ~/.cache/asymkit)
    asymkit-prepare --lessons 01_bi_encoder 02_faiss --force

For a class: run it once where you build the class image (or on the shared server), into a folder every student
can read, and point ``ASYMKIT_CACHE`` at it for everyone. Students' lessons then read it and compute nothing
anew; whatever they do compute goes to their own ``ASYMKIT_USER_CACHE`` (default ``~/.cache/asymkit``).

One step per lesson, in order, after the dataset: the step runs that lesson's student notebook (``lessons/``)
top to bottom in a fresh kernel, with a progress bar over its cells, exactly as a student first meets it; the
exercises are not done, so each lesson falls back on the library's version of them, which builds and caches
the same data, vectors and models a student's run reads. Only the exercises' own cells may fail there;
any other error stops the step with the cell's number.

Idempotent: each finished step is recorded in ``prepared.json`` in the cache (with the files it added), and is
skipped next time while the lesson, the asymkit source and the installed packages are unchanged and its files
are still there. ``--force`` runs every step again (a warm cache makes that quick). At the end every file is made
readable by every user, and a summary gives each step's time and what it added.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

from . import course

STAMP = "prepared.json"
DATASET = "dataset"


def code_digest() -> str:
    """A digest of asymkit's own source: a changed library may cache under other keys."""
    h = hashlib.sha1()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def tree(folder: Path) -> dict[str, int]:
    """``{relative path: size}`` of every file under ``folder``."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(folder))] = path.stat().st_size
    return out


def _exercise_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def execute_lesson(path: Path, env: dict[str, str] | None = None, progress: bool = True,
                   timeout: int = 3600) -> dict:
    """Run a student notebook top to bottom in a fresh kernel, in a scratch copy of its folder.

    The exercises' own cells (the answer stubs and their test cells) may fail, as they do for a student who has
    not done them; any other failing cell raises ``RuntimeError`` naming it. Returns ``{"seconds", "cells",
    "exercise_errors"}``.
    """
    import nbformat
    from nbclient import NotebookClient
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        with tempfile.TemporaryDirectory(prefix="asymkit-lesson-") as scratch:
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": scratch}})
            code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
            failed = 0
            start = time.perf_counter()
            with client.setup_kernel():
                with tqdm(total=len(code), desc=path.stem, unit="cell", disable=not progress, leave=True) as bar:
                    for i in code:
                        cell = client.execute_cell(nb.cells[i], i)
                        bar.update()
                        errors = [o for o in cell.outputs if o.output_type == "error"]
                        if not errors:
                            continue
                        if not _exercise_cell(cell):
                            err = errors[0]
                            raise RuntimeError(f"{path.name}, cell {i + 1}: {err.ename}: {err.evalue}\n"
                                               f"{cell.source[:500]}")
                        failed += 1
            return {"seconds": time.perf_counter() - start, "cells": len(code), "exercise_errors": failed}
    finally:
        os.environ.clear()
        os.environ.update(old)


def _dataset_step(fast: bool) -> None:
    from asymkit import data

    data.load_stdlib(fast=fast)


def _key(step: str, fast: bool, lessons_dir: Path) -> str:
    from asymkit import data

    h = hashlib.sha1(f"{step}|{'fast' if fast else 'default'}|{code_digest()}|{data._environment_fingerprint()}"
                     .encode())
    if step != DATASET:
        h.update(course.notebook_path(lessons_dir.parent, lessons_dir.name, step).read_bytes())
    return h.hexdigest()[:16]


def make_readable(folder: Path) -> None:
    """Every file and folder readable by every user (atomic writes create their files 0600)."""
    for path in [folder, *folder.rglob("*")]:
        try:
            mode = path.stat().st_mode
            extra = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
            if path.is_dir():
                extra |= stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
            if mode & extra != extra:
                path.chmod(mode | extra)
        except OSError:
            pass                                           # not ours: left as it is


def prepare(cache: Path, fast: bool, lessons: list[str], lessons_dir: Path, force: bool = False,
            progress: bool = True, say=print) -> list[dict]:
    """Run the steps into ``cache`` (which must be writable); returns one row per step."""
    cache.mkdir(parents=True, exist_ok=True)
    names = ("ASYMKIT_CACHE", "ASYMKIT_USER_CACHE", "ASYMKIT_FAST")
    old = {k: os.environ.get(k) for k in names}
    os.environ["ASYMKIT_CACHE"] = str(cache)
    os.environ.pop("ASYMKIT_USER_CACHE", None)             # write into the prepared folder itself
    os.environ["ASYMKIT_FAST"] = "1" if fast else "0"
    try:
        return _steps(cache, fast, lessons, lessons_dir, force, progress, say)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _steps(cache, fast, lessons, lessons_dir, force, progress, say) -> list[dict]:
    from tqdm.auto import tqdm

    stamp_path = cache / STAMP
    try:
        stamps = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    except (OSError, ValueError):
        stamps = {}                                         # unreadable: every step runs again
    mode = "fast" if fast else "default"
    rows = []
    for step in [DATASET, *lessons]:
        name = f"{mode}/{step}"
        key = _key(step, fast, lessons_dir)
        done = stamps.get(name, {})
        if not force and done.get("key") == key and all((cache / f).exists() for f in done.get("files", [])):
            rows.append({"step": step, "mode": mode, "status": "done before", "seconds": done.get("seconds", 0.0),
                         "files": len(done.get("files", [])), "bytes": done.get("bytes", 0)})
            say(f"{step}: already prepared ({mode} mode), skipped")
            continue
        before = tree(cache)
        start = time.perf_counter()
        if step == DATASET:
            with tqdm(total=1, desc="dataset", unit="step", disable=not progress) as bar:
                _dataset_step(fast)
                bar.update()
        else:
            execute_lesson(course.notebook_path(lessons_dir.parent, lessons_dir.name, step), progress=progress)
        seconds = time.perf_counter() - start
        after = tree(cache)
        added = sorted(f for f in after if f != STAMP and after[f] != before.get(f))
        size = sum(after[f] for f in added)
        stamps[name] = {"key": key, "seconds": round(seconds, 1), "files": added, "bytes": size}
        stamp_path.write_text(json.dumps(stamps, indent=1))
        rows.append({"step": step, "mode": mode, "status": "built", "seconds": round(seconds, 1),
                     "files": len(added), "bytes": size})
    make_readable(cache)
    return rows


def summary(rows: list[dict], cache: Path) -> str:
    lines = [f"{'step':24s} {'mode':8s} {'status':12s} {'time':>9s} {'files':>6s} {'added':>10s}"]
    for r in rows:
        lines.append(f"{r['step']:24s} {r['mode']:8s} {r['status']:12s} {r['seconds']:8.1f}s {r['files']:6d} "
                     f"{r['bytes'] / 2**20:8.1f} MB")
    built = sum(r["seconds"] for r in rows if r["status"] == "built")
    lines.append(f"{'total':24s} {'':8s} {'':12s} {built:8.1f}s   (steps built this time)")
    lines.append(f"\ncache {cache}:")
    sizes: dict[str, int] = {}
    for rel, size in tree(cache).items():
        top = rel.split(os.sep)[0]
        sizes[top] = sizes.get(top, 0) + size
    for top, size in sorted(sizes.items()):
        lines.append(f"  {top:20s} {size / 2**20:9.1f} MB")
    lines.append(f"  {'all':20s} {sum(sizes.values()) / 2**20:9.1f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asymkit-prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="fast mode (default: what ASYMKIT_FAST says)")
    parser.add_argument("--cache", type=Path, help="the folder to fill (default: ASYMKIT_CACHE or ~/.cache/asymkit)")
    parser.add_argument("--lessons", nargs="*", help="lesson ids (default: all, in order)")
    parser.add_argument("--lessons-dir", type=Path, help="the student notebooks (default: the course's lessons/)")
    parser.add_argument("--force", action="store_true", help="run every step again, done or not")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", type=Path, help="also write the steps' rows to this file")
    args = parser.parse_args(argv)

    from asymkit import settings

    lessons_dir = (args.lessons_dir or course.repo_root() / "lessons").resolve()
    available = sorted(p.name for p in lessons_dir.iterdir() if (p / f"{p.name}.ipynb").exists()) \
        if lessons_dir.is_dir() else []
    if not available:
        parser.error(f"no lessons in {lessons_dir}: pass --lessons-dir, the folder holding <id>/<id>.ipynb")
    lessons = args.lessons or available
    unknown = sorted(set(lessons) - set(available))
    if unknown:
        parser.error(f"unknown lessons {unknown}; choose from {available}")
    if args.cache is None:
        if os.environ.get("ASYMKIT_USER_CACHE") or settings.shared_cache_dir() is not None:
            parser.error("ASYMKIT_CACHE is shared here (read-only for you, or ASYMKIT_USER_CACHE is set): run "
                         "asymkit-prepare as the user who owns it, or name the folder to fill with --cache")
        cache = settings.cache_dir()
    else:
        cache = args.cache.expanduser().resolve()
        if not settings._can_write(cache):
            parser.error(f"{cache} is not writable by you: asymkit-prepare fills it, so run it as its owner")
    fast = args.fast or settings.fast_mode()
    print(f"asymkit-prepare: {'fast' if fast else 'default'} mode, into {cache}", flush=True)
    start = time.perf_counter()
    rows = prepare(cache, fast, lessons, lessons_dir, force=args.force, progress=not args.no_progress)
    print("\n" + summary(rows, cache))
    print(f"\nwall time {time.perf_counter() - start:.1f} s. Students: ASYMKIT_CACHE={cache} (read-only for them is fine)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def read_only_prefix(folder: Path) -> list[str]:
    """A command prefix that runs a program with ``folder`` read-only for it, as a class's shared cache is.

    As root (who may write anywhere, whatever the permissions): a private mount namespace in which ``folder`` is a
    read-only bind mount (``unshare`` and ``mount``, from util-linux). As another user: nothing, and
    :func:`run_as_student` clears the folder's write bits while the program runs.
    """
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        raise RuntimeError("running as root, and unshare (util-linux) is missing: install util-linux, or run this as "
                           "a user who cannot write the shared cache")
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", READ_ONLY_MOUNT, str(folder)]


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~bits))


def run_as_student(notebook: Path, shared: Path, home: Path, env: dict[str, str] | None = None,
                   timeout: int = 3600, read_only: bool = True) -> dict:
    """Run a lesson as a student of a class would: with ``ASYMKIT_CACHE=shared``, which they cannot write, and a
    home of their own (so their cache is ``home/.cache/asymkit``), in a fresh process and kernel.

    ``shared`` is read-only for the lesson (:func:`read_only_prefix`): a write into it fails as it would for a
    student. Returns :func:`execute_lesson`'s dict plus ``"wall_s"`` (the whole process) or ``{"error": ...}``.
    ``read_only=False`` runs it the same way with ``shared`` as an ordinary, writable cache.
    """
    import subprocess

    home.mkdir(parents=True, exist_ok=True)
    out = home / "result.json"
    prefix = read_only_prefix(shared) if read_only else []
    child = {k: v for k, v in os.environ.items() if k not in ("ASYMKIT_USER_CACHE", "XDG_CACHE_HOME")}
    child.update(env or {})
    child.update(ASYMKIT_CACHE=str(shared), HOME=str(home), JUPYTER_RUNTIME_DIR=str(home / ".jupyter-runtime"),
                 JUPYTER_DATA_DIR=str(home / ".jupyter-data"), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                 IPYTHONDIR=str(home / ".ipython"), MPLCONFIGDIR=str(home / ".matplotlib"), TMPDIR=str(home))
    freeze = read_only and not prefix
    if freeze:
        _set_writable(shared, False)
    start = time.perf_counter()
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "asymkit.tools.prepare", "--run-one", str(notebook),
                               str(out)], env=child, capture_output=True, text=True, timeout=timeout, cwd=home)
    finally:
        wall = time.perf_counter() - start
        if freeze:
            _set_writable(shared, True)
    try:
        result = json.loads(out.read_text())
        out.unlink()
    except (OSError, ValueError):
        result = {"error": f"exit {proc.returncode}: {(proc.stdout + proc.stderr)[-3000:]}"}
    result["wall_s"] = wall
    return result


def _run_one(argv: list[str]) -> int:
    """``python -m asymkit.tools.prepare --run-one NOTEBOOK OUT.json``: one lesson, for the shared-cache checks."""
    path, out = Path(argv[0]), Path(argv[1])
    try:
        result = execute_lesson(path, progress=False)
    except RuntimeError as err:
        result = {"error": str(err)}
    out.write_text(json.dumps(result))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-one"]:
        sys.exit(_run_one(sys.argv[2:]))
    sys.exit(main())
