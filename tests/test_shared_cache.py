"""A class's shared cache: ASYMKIT_CACHE prepared once (asymkit-prepare), read-only for students, who compute
nothing anew and write only to their own cache."""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from asymkit import settings
from asymkit.encoders import EmbeddingCache
from asymkit.tools import course, prepare

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def layers(tmp_path, monkeypatch):
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    shared.mkdir()
    monkeypatch.setenv("ASYMKIT_CACHE", str(shared))
    monkeypatch.setenv("ASYMKIT_USER_CACHE", str(mine))
    return shared, mine


def test_with_a_user_cache_the_shared_one_is_read_and_never_written(layers):
    shared, mine = layers
    assert settings.cache_dir() == mine and settings.shared_cache_dir() == shared
    assert settings.cache_layers() == [mine, shared]
    (shared / "models").mkdir()
    (shared / "models" / "a.bin").write_text("shared")
    assert settings.cached_path("models/a.bin") == shared / "models" / "a.bin"
    assert settings.cached_path("models/new.bin") == mine / "models" / "new.bin", "a new entry goes to the user's"
    (mine / "models").mkdir()
    (mine / "models" / "a.bin").write_text("mine")
    assert settings.cached_path("models/a.bin") == mine / "models" / "a.bin", "the user's own copy comes first"
    assert settings.in_shared_cache(shared / "models" / "a.bin") and not settings.in_shared_cache(mine / "x")


def test_without_a_shared_cache_there_is_one_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ASYMKIT_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("ASYMKIT_USER_CACHE", raising=False)
    assert settings.cache_layers() == [tmp_path / "c"] and settings.shared_cache_dir() is None
    monkeypatch.delenv("ASYMKIT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ASYMKIT_USER_CACHE", str(tmp_path / "u"))
    assert settings.cache_layers() == [tmp_path / "u"], "ASYMKIT_USER_CACHE alone is just the cache"


def test_embedding_shards_are_read_from_both_and_written_to_the_users(layers):
    shared, mine = layers
    big = EmbeddingCache(shared / "emb")
    big.put(["k1", "k2"], np.ones((2, 3), np.float32))
    cache = EmbeddingCache(mine / "emb", also_read=[shared / "emb"])
    assert set(cache.get(["k1", "k2", "k3"])) == {"k1", "k2"}
    before = sorted(p.name for p in (shared / "emb").iterdir())
    cache.put(["k3"], np.zeros((1, 3), np.float32))
    assert sorted(p.name for p in (shared / "emb").iterdir()) == before, "nothing new in the shared folder"
    assert len(list((mine / "emb").glob("*.npz"))) == 1 and len(EmbeddingCache(mine / "emb", [shared / "emb"])) == 3


def test_a_corrupt_shard_in_the_shared_cache_is_skipped_and_kept(layers):
    shared, mine = layers
    (shared / "emb").mkdir()
    bad = shared / "emb" / "broken.npz"
    bad.write_bytes(b"not a zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(EmbeddingCache(mine / "emb", also_read=[shared / "emb"])) == 0
    assert bad.exists(), "never removed from the shared cache"
    assert any("shared cache is corrupt" in str(w.message) and "asymkit-prepare" in str(w.message) for w in caught)


def test_the_dataset_is_read_from_the_shared_cache(tmp_path, monkeypatch):
    from asymkit import data

    data.load_stdlib(fast=True)                            # in the session's cache, then copied as the shared one
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    shutil.copytree(settings.cached_path("datasets"), shared / "datasets")
    monkeypatch.setenv("ASYMKIT_CACHE", str(shared))
    monkeypatch.setenv("ASYMKIT_USER_CACHE", str(mine))
    monkeypatch.setattr(data, "build_stdlib_dataset", lambda *a, **k: pytest.fail("rebuilt instead of read"))
    assert data.load_stdlib(fast=True).sizes()["corpus"] > 0
    held = data._heldout_folder()
    assert held.parent == shared / "datasets", "the held-out split is read from the shared cache too"
    assert data._heldout_folders() == [mine / "datasets" / held.name, held], "the capstone guard protects both"
    assert not any(p.is_file() for p in mine.rglob("*")), "nothing written to the user's cache"


def read_only_unavailable() -> str | None:
    """Why a read-only folder cannot be made here, or None."""
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        return "running as root without unshare (util-linux): root writes anywhere, so nothing here is read-only"
    return None


def test_a_read_only_cache_sends_writes_to_the_users_home(tmp_path):
    why = read_only_unavailable()
    if why:
        pytest.skip(why)
    shared, home = tmp_path / "shared", tmp_path / "home"
    shared.mkdir()
    home.mkdir()
    code = ("from asymkit import settings; import json; "
            "print(json.dumps([str(settings.cache_dir()), str(settings.shared_cache_dir())]))")
    env = {k: v for k, v in os.environ.items() if k != "ASYMKIT_USER_CACHE"}
    env.update(ASYMKIT_CACHE=str(shared), HOME=str(home))
    prefix = prepare.read_only_prefix(shared)
    if not prefix:
        shared.chmod(0o555)
    try:
        out = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=120)
    finally:
        shared.chmod(0o755)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [str(home / ".cache" / "asymkit"), str(shared)]
    assert list(shared.iterdir()) == []


@pytest.mark.slow
def test_lessons_run_from_a_prepared_read_only_cache_without_computing_anything(tmp_path):
    """asymkit-prepare fills a cache; lessons 01 and 04 (the dataset, MiniLM's vectors, the trained cross-encoder,
    its scores, the towers) then run as a student for whom it is read-only: no cell other than the exercises' fails,
    nothing is written to the student's own cache, and the shared folder is unchanged. (asymkit-bench
    --shared-cache times every lesson this way.)"""
    why = read_only_unavailable()
    if why:
        pytest.skip(why)
    lessons = ["01_bi_encoder", "04_cross_encoder"]
    rows = prepare.prepare(settings.cache_dir(), True, lessons, REPO / "lessons", progress=False)
    assert [r["step"] for r in rows] == ["dataset", *lessons]
    again = prepare.prepare(settings.cache_dir(), True, lessons, REPO / "lessons", progress=False)
    assert {r["status"] for r in again} == {"done before"}, "a second prepare finds every step done"
    shared = tmp_path / "shared"                           # the class's copy, as an image build would leave it
    shutil.copytree(settings.cache_dir(), shared)
    prepare.make_readable(shared)
    try:
        before = prepare.tree(shared)
        for lesson in lessons:
            home = tmp_path / f"home-{lesson}"
            result = prepare.run_as_student(course.notebook_path(REPO, "lessons", lesson), shared, home,
                                            {"ASYMKIT_FAST": "1"})
            assert "error" not in result, f"{lesson}: {result['error']}"
            assert result["exercise_errors"] >= 1, "the student notebook's exercises are not done: their tests fail"
            written = sorted(str(p.relative_to(home)) for p in home.rglob("*")
                             if p.is_file() and p.relative_to(home).parts[:2] == (".cache", "asymkit"))
            assert written == [], f"{lesson} computed again what the shared cache holds: {written}"
            shutil.rmtree(home, ignore_errors=True)
        assert prepare.tree(shared) == before, "the shared cache is unchanged"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
