"""Cache files are replaced whole: a failed write leaves the old file, parallel writers never mix."""
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from asymkit.cachefiles import atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "scores.npz"
    target.write_bytes(b"old")

    def broken(f):
        f.write(b"half a fi")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["scores.npz"]


def _write_many(args):
    path, value = args
    for _ in range(30):
        atomic_write(path, lambda f: np.savez(f, v=np.full(20_000, value, dtype=np.float32)))


def test_parallel_writers_never_leave_a_mixed_or_broken_file(tmp_path):
    target = tmp_path / "shared.npz"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_write_many, [(target, 1.0), (target, 2.0)])
    with np.load(target) as z:
        v = z["v"]
    assert len(set(v.tolist())) == 1 and v[0] in (1.0, 2.0)
    assert [p.name for p in Path(tmp_path).iterdir()] == ["shared.npz"]
