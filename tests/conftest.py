import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty ASYMKIT_CACHE for tests that write caches."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ASYMKIT_CACHE", str(folder))
    monkeypatch.delenv("ASYMKIT_USER_CACHE", raising=False)    # the one folder, read and written
    return folder
