import numpy as np
import pytest

from asymkit import index as ix
from asymkit import search


@pytest.fixture
def one_thread():
    """FAISS on one thread for this test: a multithreaded HNSW build inserts nodes in a racy order, so its
    graph (and the recall it gives) can differ from run to run. Restores the thread count afterwards."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def clustered():
    """Vectors with cluster structure, like real embeddings (pure noise is a worst case for ANN)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(64, 32))
    D = centres[rng.integers(0, 64, 6000)] + 0.35 * rng.normal(size=(6000, 32))
    Q = centres[rng.integers(0, 64, 200)] + 0.35 * rng.normal(size=(200, 32))
    D *= rng.uniform(0.5, 2.0, size=(6000, 1))  # norms vary: cosine must normalise
    return Q.astype(np.float32), D.astype(np.float32)


def brute(Q, D, k, metric):
    if metric == "cosine":
        Q, D = Q / np.linalg.norm(Q, axis=1, keepdims=True), D / np.linalg.norm(D, axis=1, keepdims=True)
    S = -((Q[:, None, :] - D[None, :, :]) ** 2).sum(-1) if metric == "l2" else Q @ D.T
    return np.argsort(-S, axis=1, kind="stable")[:, :k], S


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_flat_is_exact(clustered, metric):
    Q, D = clustered
    Q, D = Q[:50], D[:800]
    with pytest.warns(UserWarning, match="norms range") if metric == "ip" else _nothing():
        idx = ix.build_index(D, "flat", metric)
    scores, ids = idx.search(Q, 10)
    ref, S = brute(Q, D, 10, metric)
    np.testing.assert_array_equal(ids, ref)
    np.testing.assert_allclose(scores, np.take_along_axis(S, ids, 1), rtol=1e-4, atol=1e-3)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("kind, params, depth, floor", [
    ("hnsw", dict(M=16, ef_search=64), 10, 0.95),
    ("ivf", dict(nlist=64, nprobe=16), 10, 0.95),
    ("sq8", {}, 10, 0.90),
    # 8 bytes per vector cannot order near-ties: the standard check for a compressed index is
    # how much of the exact top-10 it keeps in its top-100, which a re-ranking step then sorts.
    ("ivfpq", dict(nlist=16, nprobe=16, pq_m=8, pq_bits=6), 100, 0.80),
])
def test_ann_recall_against_brute_force(clustered, one_thread, kind, params, depth, floor):
    Q, D = clustered
    exact, _ = brute(Q, D, 10, "cosine")
    idx = ix.build_index(D, kind, "cosine", **params)
    _, ids = idx.search(Q, depth)
    found = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids, exact)])
    assert found >= floor
    assert ix.recall_at_k(ids, exact, 10) > 0.1  # and far above chance (10 / 6000)


def test_knobs_trade_recall(clustered, one_thread):
    Q, D = clustered
    exact, _ = brute(Q, D, 10, "cosine")
    ivf = ix.build_index(D, "ivf", "cosine", nlist=64)
    low = ix.recall_at_k(ivf.set_search_params(nprobe=1).search(Q, 10)[1], exact, 10)
    high = ix.recall_at_k(ivf.set_search_params(nprobe=64).search(Q, 10)[1], exact, 10)
    assert low < high and high == pytest.approx(1.0)
    hnsw = ix.build_index(D, "hnsw", "cosine", M=8)
    low = ix.recall_at_k(hnsw.set_search_params(ef_search=10).search(Q, 10)[1], exact, 10)
    high = ix.recall_at_k(hnsw.set_search_params(ef_search=256).search(Q, 10)[1], exact, 10)
    assert low < high


def test_builds_are_deterministic(clustered, one_thread):
    Q, D = clustered
    a = ix.build_index(D, "ivf", "cosine", nlist=32).search(Q, 10)[1]
    b = ix.build_index(D, "ivf", "cosine", nlist=32).search(Q, 10)[1]
    np.testing.assert_array_equal(a, b)
    a = ix.build_index(D, "hnsw", "cosine", M=8).search(Q, 10)[1]     # single-threaded: the same graph
    b = ix.build_index(D, "hnsw", "cosine", M=8).search(Q, 10)[1]
    np.testing.assert_array_equal(a, b)


def test_memory_reflects_compression(clustered):
    _, D = clustered
    flat = ix.build_index(D, "flat").memory_bytes()
    assert flat >= D.nbytes                             # N * d * 4 bytes, plus a small header
    assert flat < D.nbytes * 1.01
    assert ix.build_index(D, "sq8").memory_bytes() < flat / 3.5
    assert ix.build_index(D, "ivfpq", nlist=16, pq_m=8, pq_bits=6).memory_bytes() < flat / 8
    assert ix.build_index(D, "hnsw", M=16).memory_bytes() > flat


def test_retrieve_returns_run_with_doc_ids(clustered):
    Q, D = clustered
    idx = ix.build_index(D[:100], "flat")
    doc_ids = [f"d{i}" for i in range(100)]
    run = idx.retrieve(["q0", "q1"], Q[:2], doc_ids, k=5)
    exact = search.retrieve(["q0", "q1"], Q[:2], doc_ids, D[:100], k=5)
    assert {q: list(r) for q, r in run.items()} == {q: list(r) for q, r in exact.items()}
    for q in run:
        assert list(run[q].values()) == pytest.approx(list(exact[q].values()), abs=1e-5)
    with pytest.raises(ValueError, match="3 doc ids for an index of 100 vectors"):
        idx.retrieve(["q0"], Q[:1], ["a", "b", "c"], k=5)


def test_recall_at_k_ignores_missing_and_order():
    exact = np.array([[1, 2, 3, 4]])
    assert ix.recall_at_k(np.array([[4, 3, 2, 1]]), exact, 4) == 1.0
    assert ix.recall_at_k(np.array([[1, -1, -1, -1]]), np.array([[1, -1, 2, 3]]), 4) == 0.25
    assert ix.recall_at_k(np.array([[1, 9, 2, 3]]), exact, 2) == 0.5


def test_save_load_round_trip(tmp_path, clustered):
    Q, D = clustered
    for kind, params in [("flat", {}), ("hnsw", dict(M=8, ef_search=40)), ("ivf", dict(nlist=32, nprobe=4))]:
        idx = ix.build_index(D, kind, "cosine", **params)
        path = idx.save(tmp_path / f"{kind}.faiss")
        back = ix.AnnIndex.load(path)
        assert (back.kind, back.metric, back.ntotal) == (kind, "cosine", len(D))
        np.testing.assert_array_equal(back.search(Q, 10)[1], idx.search(Q, 10)[1])


def test_save_never_overwrites(tmp_path, clustered):
    _, D = clustered
    idx = ix.build_index(D[:100], "flat")
    path = idx.save(tmp_path / "a.faiss")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ix.build_index(D[100:300], "flat").save(path)
    assert path.read_bytes() == before


def test_load_missing_and_corrupt(tmp_path, clustered):
    _, D = clustered
    with pytest.raises(FileNotFoundError, match="missing: build the index"):
        ix.AnnIndex.load(tmp_path / "nope.faiss")
    path = ix.build_index(D[:500], "flat").save(tmp_path / "x.faiss")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="not a readable FAISS index"):
        ix.AnnIndex.load(path)
    path2 = ix.build_index(D[:500], "flat").save(tmp_path / "y.faiss")
    path2.with_name("y.faiss.json").write_text("{")
    with pytest.raises(ValueError, match="y.faiss.json is corrupt"):
        ix.AnnIndex.load(path2)


def test_dimension_mismatch(clustered):
    Q, D = clustered
    idx = ix.build_index(D[:100], "flat")
    with pytest.raises(ValueError, match="queries have dim 16 but the index has dim 32"):
        idx.search(Q[:, :16], 5)
    with pytest.raises(ValueError, match="vectors have dim 8 but the index has dim 32"):
        idx.add(D[:10, :8])


def test_too_few_training_vectors_says_how_many(clustered):
    _, D = clustered
    with pytest.raises(ValueError, match=r"nlist=256 needs at least 9984 vectors .* got 6000: .* nlist=128"):
        ix.build_index(D, "ivf", nlist=256)
    with pytest.raises(ValueError, match="pq_bits=8 .* needs at least 9984 vectors, got 5000"):
        ix.build_index(D[:5000], "ivfpq", nlist=4, pq_m=8)
    with pytest.raises(ValueError, match="pq_m=7 must divide the dimension 32"):
        ix.build_index(D, "ivfpq", nlist=16, pq_m=7)


def test_ip_on_unit_vectors_does_not_warn(clustered, recwarn):
    _, D = clustered
    ix.build_index(D / np.linalg.norm(D, axis=1, keepdims=True), "flat", "ip")
    assert not [w for w in recwarn if "norms range" in str(w.message)]


def test_bad_arguments(clustered):
    Q, D = clustered
    with pytest.raises(ValueError, match="kind must be one of"):
        ix.build_index(D, "annoy")
    with pytest.raises(ValueError, match="metric must be one of"):
        ix.build_index(D, "flat", "hamming")
    with pytest.raises(ValueError, match="contains NaN"):
        ix.build_index(np.full((10, 4), np.nan), "flat")
    idx = ix.build_index(D, "hnsw", M=8)
    with pytest.raises(ValueError, match="nprobe applies to IVF"):
        idx.set_search_params(nprobe=4)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        idx.search(Q, 0)


def test_suggest_nlist():
    assert ix.suggest_nlist(100_000) == 1024
    assert ix.suggest_nlist(20_000) == 512
    assert ix.MIN_POINTS_PER_CENTROID * ix.suggest_nlist(3000) <= 3000


def test_queries_per_second_is_one_over_the_median_single_query_time_after_a_warm_up(clustered, monkeypatch):
    import faiss

    Q, D = clustered
    idx = ix.build_index(D[:500], "flat")
    real, now, calls = idx.index, [0.0], []

    class Clocked:
        """The real FAISS index on a fake clock: a first search costs 50 ms (set-up), then 1 ms + 0.1 ms a query,
        and every 7th call 30 ms more (another process took the CPU)."""
        d, ntotal, is_trained = real.d, real.ntotal, True

        def search(self, X, k):
            now[0] += (0.05 if not calls else 0.0) + 0.001 + 0.0001 * len(X) + (0.03 if len(calls) % 7 == 6 else 0.0)
            calls.append((len(X), k, faiss.omp_get_max_threads()))
            return real.search(X, k)

    idx.index = Clocked()
    monkeypatch.setattr(ix.time, "perf_counter", lambda: now[0])
    threads = faiss.omp_get_max_threads()
    # one at a time: 10 untimed warm-up calls (the 50 ms set-up among them), then 3 x 60 timed calls of 1.1 ms,
    # a seventh of them 31.1 ms: the median is 1.1 ms, where the mean would be 5.4 ms
    got = ix.queries_per_second(idx, Q[:60], k=5, repeat=3)
    assert got == pytest.approx(1 / 0.0011), f"expected 1 / median = {1 / 0.0011:.1f} q/s, got {got:.1f}"
    assert calls == [(1, 5, 1)] * (10 + 180) and faiss.omp_get_max_threads() == threads   # on 1 thread, then restored
    calls.clear()
    assert ix.queries_per_second(idx, Q[:60], repeat=1, warmup=0) == pytest.approx(1 / 0.0011)
    assert len(calls) == 60
    calls.clear()
    # as a batch: one search of 1 ms + 20 x 0.1 ms; best of 2 runs
    now[0] = 0.0
    assert ix.queries_per_second(idx, Q[:20], one_at_a_time=False, repeat=2) == pytest.approx(20 / 0.003)
    assert calls == [(20, 10, 1)] * 2


def test_median_seconds_warms_up_then_times_each_call(monkeypatch):
    now, seen = [0.0], []

    def call(i):                                   # query i takes i ms; the first call 1 s more (set-up)
        now[0] += (1.0 if not seen else 0.0) + i / 1000
        seen.append(i)

    monkeypatch.setattr(ix.time, "perf_counter", lambda: now[0])
    got = ix.median_seconds(call, 5, warmup=2, repeat=2)
    assert seen == [0, 1] + [0, 1, 2, 3, 4] * 2, f"expected 2 warm-up calls then each query twice, got {seen}"
    assert got == pytest.approx(0.002), f"expected the median 2 ms, got {got * 1000:.3f} ms"
    with pytest.raises(ValueError, match="at least one query"):
        ix.median_seconds(call, 0)
    with pytest.raises(ValueError, match="repeat"):
        ix.median_seconds(call, 5, repeat=0)


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_rescore_is_exact_search_restricted_to_the_candidates(clustered, metric):
    Q, D = clustered
    rng = np.random.default_rng(1)
    cand = np.array([rng.permutation(len(D))[:50] for _ in range(len(Q))])      # (n_q, 50) in no useful order
    _, S = brute(Q, D, 1, metric)
    scores, ids = ix.rescore(Q, D, cand, 10, metric=metric, batch_size=64)
    assert scores.shape == ids.shape == (len(Q), 10)
    for q in range(len(Q)):
        best = cand[q][np.argsort(-S[q, cand[q]], kind="stable")[:10]]
        assert np.array_equal(ids[q], best)
        assert np.allclose(scores[q], S[q, best], atol=1e-5)


def test_rescore_recovers_the_exact_top_k_from_a_compressed_index(clustered):
    Q, D = clustered
    exact = ix.build_index(D, "flat", "cosine")
    _, exact_ids = exact.search(Q, 10)
    pq = ix.build_index(D, "ivfpq", "cosine", nlist=16, nprobe=16, pq_m=8, pq_bits=6)
    _, alone = pq.search(Q, 10)
    _, cand = pq.search(Q, 100)
    _, rescored = ix.rescore(Q, D, cand, 10)
    assert ix.recall_at_k(rescored, exact_ids, 10) > ix.recall_at_k(alone, exact_ids, 10)


def test_rescore_pads_missing_candidates():
    D = np.eye(4, dtype=np.float32)
    Q = np.array([[1.0, 0.5, 0, 0]], dtype=np.float32)
    scores, ids = ix.rescore(Q, D, np.array([[3, -1, 1, -1]]), 3)
    assert ids.tolist() == [[1, 3, -1]]
    assert scores[0, 2] == -np.inf and np.isfinite(scores[0, :2]).all()
    _, ids = ix.rescore(Q, D, np.array([[0, 1]]), 5)                 # more asked for than candidates
    assert ids.tolist() == [[0, 1, -1, -1, -1]]


def test_rescore_checks_only_the_candidate_rows_for_nan():
    # rescore reads only the candidates' rows of docs (a per-query pass over the whole corpus would make
    # re-scoring slower than exact search): a NaN elsewhere is not its business, a NaN it reads is an error.
    D = np.eye(4, dtype=np.float32)
    D[0] = np.nan
    D[2, 1] = np.inf
    Q = np.array([[0.2, 0.5, 0, 1.0]], dtype=np.float32)
    scores, ids = ix.rescore(Q, D, np.array([[1, 3, -1]]), 2)        # row 0 (NaN) is not a candidate; -1 is not row 0
    assert ids.tolist() == [[3, 1]] and np.isfinite(scores).all()
    with pytest.raises(ValueError, match="docs row 2 contains NaN or inf"):
        ix.rescore(Q, D, np.array([[1, 2]]), 1)
    with pytest.raises(ValueError, match="docs row 0 contains NaN or inf"):
        ix.rescore(Q, D.astype(np.float64), np.array([[0, 3]]), 1)   # float64 docs are read the same way
    with pytest.raises(ValueError, match="2-D"):
        ix.rescore(Q, D[0], np.array([[0]]), 1)


def test_rescore_bad_arguments():
    D = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="out of range"):
        ix.rescore(D[:1], D, np.array([[7]]), 1)
    with pytest.raises(ValueError, match="n_queries, c"):
        ix.rescore(D[:2], D, np.array([[0, 1]]), 1)
    with pytest.raises(TypeError, match="integer"):
        ix.rescore(D[:1], D, np.array([[0.0]]), 1)


def test_suggest_nlist_grid_and_its_cap():
    assert ix.suggest_nlist(100_000, 1) == 256                    # sqrt(1e5) = 316 -> 256
    assert ix.suggest_nlist(100_000, 16) == 2048                  # 16 sqrt = 5060, but 39 points per cell cap at 2564
    assert ix.suggest_nlist(100_000) == ix.suggest_nlist(100_000, 4)
    for n in (50, 3000, 20_634, 102_385):
        grid = [ix.suggest_nlist(n, c) for c in (1, 4, 16)]
        assert grid == sorted(grid) and all(n >= ix.MIN_POINTS_PER_CENTROID * g or g == 1 for g in grid)
    with pytest.raises(ValueError, match="per_sqrt"):
        ix.suggest_nlist(1000, 0)
    with pytest.raises(ValueError, match="positive number"):
        ix.suggest_nlist(0)


def test_build_index_times_training_and_adding(clustered):
    _, D = clustered
    ivf = ix.build_index(D, "ivf", nlist=32)
    assert set(ivf.build_s) == {"train", "add"} and ivf.build_s["train"] > 0 and ivf.build_s["add"] > 0
    hnsw = ix.build_index(D[:500], "hnsw", M=8)
    assert hnsw.build_s["add"] > 0 and hnsw.build_s["train"] < hnsw.build_s["add"]    # a graph needs no training


@pytest.fixture(scope="module")
def noise():
    """Gaussian noise in 16 dims: hard enough that IVF needs several probes (and HNSW a wide beam) for recall."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(200, 16)).astype(np.float32), rng.normal(size=(4000, 16)).astype(np.float32)


def test_smallest_setting_is_the_first_to_reach_the_target(noise, one_thread):
    Q, D = noise
    exact, _ = brute(Q, D, 10, "cosine")
    ivf = ix.build_index(D, "ivf", nlist=64)
    values = [32, 1, 4, 16, 2, 8, 64]                              # unsorted on purpose
    recalls = {v: ix.recall_at_k(ivf.set_search_params(nprobe=v).search(Q, 10)[1], exact, 10) for v in values}
    want = min(v for v in values if recalls[v] >= 0.9)
    value, recall, reached = ix.smallest_setting(ivf, values, Q, exact, 0.9)
    assert (value, reached) == (want, True) and recall == pytest.approx(recalls[want])
    assert ivf.params["nprobe"] == want                           # left at the chosen setting
    value, recall, reached = ix.smallest_setting(ivf, [1, 2], Q, exact, 1.0)
    assert (value, reached) == (2, False) and recall == pytest.approx(recalls[2])
    calls = []
    ix.smallest_setting(ivf, values, Q, exact, 0.9, recall=lambda a, e, k: calls.append(k) or 1.0)
    assert calls == [10] and ivf.params["nprobe"] == 1            # a given recall function is the one used
    with pytest.raises(ValueError, match="no search setting"):
        ix.smallest_setting(ix.build_index(D, "flat"), [1], Q, exact)
    with pytest.raises(ValueError, match="exact_ids"):
        ix.smallest_setting(ivf, [1], Q, exact[:5])


def test_build_sweep_rows(noise, one_thread):
    Q, D = noise
    exact, _ = brute(Q, D, 10, "cosine")
    tune, test = (Q[:100], exact[:100]), (Q[100:], exact[100:])
    rows = ix.build_sweep(D, "ivf", "nlist", [16, 64], tune, test, target=0.9, timing_queries=20, repeat=1, keep=64)
    assert [r["value"] for r in rows] == [16, 64] and all(r["knob"] == "nprobe" for r in rows)
    for r in rows:
        assert r["train_s"] > 0 and r["add_s"] > 0 and r["qps"] > 0 and r["bytes"] > D.nbytes
        assert r["reached"] and r["tune_recall"] >= 0.9
        idx = ix.build_index(D, "ivf", nlist=r["value"], nprobe=r["knob_value"])     # the same seed: the same index
        assert r["recall"] == pytest.approx(ix.recall_at_k(idx.search(*test[:1], 10)[1], test[1], 10))
        if r["knob_value"] > 1:                                   # the smallest setting: one less misses the target
            smaller = idx.set_search_params(nprobe=r["knob_value"] // 2).search(tune[0], 10)[1]
            assert ix.recall_at_k(smaller, tune[1], 10) < 0.9
    assert "built" in rows[1] and "built" not in rows[0]
    assert rows[1]["built"].params["nlist"] == 64 and rows[1]["built"].params["nprobe"] == rows[1]["knob_value"]
    assert rows[1]["knob_value"] >= rows[0]["knob_value"]         # finer cells need more probes for the same recall
    hnsw = ix.build_sweep(D[:1500], "hnsw", "M", [4, 16], (Q[:50], brute(Q[:50], D[:1500], 10, "cosine")[0]),
                          (Q[50:], brute(Q[50:], D[:1500], 10, "cosine")[0]), timing_queries=20, repeat=1,
                          ef_construction=32)
    assert [r["knob"] for r in hnsw] == ["ef_search"] * 2 and hnsw[0]["bytes"] < hnsw[1]["bytes"]   # links cost memory
    assert hnsw[0]["knob_value"] > hnsw[1]["knob_value"]          # a sparser graph needs a wider beam


def test_build_sweep_bad_arguments(clustered):
    Q, D = clustered
    exact, _ = brute(Q[:10], D, 10, "cosine")
    good = (Q[:10], exact)
    with pytest.raises(ValueError, match="kind must be"):
        ix.build_sweep(D, "flat", "nlist", [8], good, good)
    with pytest.raises(ValueError, match="not a build setting"):
        ix.build_sweep(D, "hnsw", "nlist", [8], good, good)
    with pytest.raises(ValueError, match="swept setting"):
        ix.build_sweep(D, "hnsw", "M", [8], good, good, M=16)
    with pytest.raises(ValueError, match="values is empty"):
        ix.build_sweep(D, "ivf", "nlist", [], good, good)
    with pytest.raises(TypeError, match="pair"):
        ix.build_sweep(D, "ivf", "nlist", [8], Q[:10], good)
    with pytest.raises(ValueError, match="exact_ids has shape"):
        ix.build_sweep(D, "ivf", "nlist", [8], (Q[:10], exact[:, :5]), good)
    with pytest.raises(ValueError, match="same vectors"):
        ix.build_sweep(D[:100], "ivf", "nlist", [1], good, good)
    with pytest.raises(ValueError, match="dim"):
        ix.build_sweep(D, "ivf", "nlist", [8], (Q[:10, :16], exact), good)
