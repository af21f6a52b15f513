"""asymkit.cross, the reranker losses, asymkit.pipeline and asymkit.calibration."""
import math

import numpy as np
import pytest
import torch

from asymkit import (calibration, checkpoints, cross, cross_recipe, cross_training, distillation, hardware, losses,
                     pipeline, score_cache)


# --------------------------------------------------------------------------- losses, by hand

def test_listwise_softmax_matches_hand_computation():
    s = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]])
    expect = (-(2 - math.log(math.e ** 2 + math.e + 1)) - (0 - math.log(1 + math.e + math.e ** 3))) / 2
    assert losses.listwise_softmax(s).item() == pytest.approx(expect, rel=1e-6)


def test_listwise_softmax_wants_column_zero():
    good = torch.tensor([[5.0, 0.0, 0.0]])
    bad = torch.tensor([[0.0, 5.0, 0.0]])
    assert losses.listwise_softmax(good) < 0.02 < 4.0 < losses.listwise_softmax(bad)


def test_pairwise_margin_by_hand():
    pos, neg = torch.tensor([1.0, 0.0]), torch.tensor([[0.5, 2.0], [-3.0, 0.0]])
    # relu(1 - 1 + .5)=.5, relu(1 - 1 + 2)=2, relu(1 - 0 - 3)=0, relu(1 - 0 + 0)=1 -> mean 3.5/4
    assert losses.pairwise_margin(pos, neg, margin=1.0).item() == pytest.approx(0.875)


def test_pointwise_bce_by_hand():
    s, y = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    expect = (math.log(2) + math.log(1 + math.e ** 2)) / 2
    assert losses.pointwise_bce(s, y).item() == pytest.approx(expect, rel=1e-6)


def test_kl_distillation_is_zero_for_a_copy_and_positive_otherwise():
    t = torch.tensor([[3.0, 1.0, 0.0]])
    assert losses.kl_distillation(t.clone(), t).item() == pytest.approx(0.0, abs=1e-7)
    assert losses.kl_distillation(t + 5.0, t).item() == pytest.approx(0.0, abs=1e-6)   # shift-invariant
    assert losses.kl_distillation(torch.tensor([[0.0, 1.0, 3.0]]), t).item() > 0.5


def test_margin_mse_by_hand():
    sp, sn = torch.tensor([1.0]), torch.tensor([[0.0, 0.5]])
    tp, tn = torch.tensor([4.0]), torch.tensor([[2.0, 4.0]])
    # student margins 1, .5; teacher margins 2, 0 -> ((1-2)^2 + (.5-0)^2) / 2
    assert losses.margin_mse(sp, sn, tp, tn).item() == pytest.approx(0.625)


@pytest.mark.parametrize("bad", [torch.zeros(3), torch.zeros(0, 3), torch.zeros(2, 1)])
def test_group_losses_reject_bad_shapes(bad):
    with pytest.raises(ValueError, match="column 0"):
        losses.listwise_softmax(bad)


def test_group_loss_dispatch_and_unknown():
    s = torch.tensor([[1.0, 0.0]])
    assert cross_training.group_loss(s, "listwise").item() == pytest.approx(losses.listwise_softmax(s).item())
    assert cross_training.group_loss(s, "pairwise", 1.0).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        cross_training.group_loss(s, "ranknet")


# --------------------------------------------------------------------------- the model

@pytest.fixture(scope="module")
def model():
    # float32: the tests below compare two computations of the same scores to 1e-5, which bf16 rounding
    # (precision "auto" on a CPU with native bf16) would not meet
    return cross.CrossEncoderModel(max_length=24, max_query_length=8, train_layers=1, device="cpu", precision="fp32")


def test_joint_input_layout(model):
    tok = model.tokenizer
    batch = model.build_inputs(["sort a list"], ["return a new sorted list"])
    ids = batch["input_ids"][0].tolist()
    q = tok("sort a list", add_special_tokens=False)["input_ids"]
    d = tok("return a new sorted list", add_special_tokens=False)["input_ids"]
    assert ids == [tok.cls_token_id, *q, tok.sep_token_id, *d, tok.sep_token_id]
    assert batch["token_type_ids"][0].tolist() == [0] * (len(q) + 2) + [1] * (len(d) + 1)


def test_truncation_keeps_the_query_and_cuts_the_document(model):
    tok = model.tokenizer
    query, doc = "open a file", "word " * 100
    batch = model.build_inputs([query, "x"], [doc, "y"])
    ids, mask = batch["input_ids"][0], batch["attention_mask"]
    q = tok(query, add_special_tokens=False)["input_ids"]
    assert len(ids) == model.max_length and ids[1:1 + len(q)].tolist() == q
    assert ids[len(q) + 1].item() == tok.sep_token_id and ids[-1].item() == tok.sep_token_id
    assert mask[1].sum().item() < model.max_length and batch["input_ids"][1, -1].item() == tok.pad_token_id
    long_query = "token " * 50                         # longer than max_query_length: cut to it
    ids = model.build_inputs([long_query], ["doc"])["input_ids"][0].tolist()
    assert ids.index(tok.sep_token_id) == 1 + model.max_query_length


def test_build_inputs_errors(model):
    with pytest.raises(ValueError, match="one query per document"):
        model.build_inputs(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="at least one"):
        model.build_inputs([], [])
    with pytest.raises(TypeError, match="lists"):
        model.build_inputs("a", "b")


def test_scores_are_batch_independent_and_training_moves_them(model):
    qs, ds = ["sort a list", "open a file", "join paths"], ["return sorted items", "open the file", "join two paths"]
    one_by_one = np.array([model.score([q], [d])[0] for q, d in zip(qs, ds)])
    assert np.allclose(model.score(qs, ds, batch_size=2), one_by_one, atol=1e-5)
    before = model.head.weight.detach().clone()
    frozen = model.backbone.embeddings.word_embeddings.weight.detach().clone()
    log = cross_training.train_cross_encoder(model, qs, ds, [[ds[1], ds[2]], [ds[0], ds[2]], [ds[0], ds[1]]],
                                    cross_training.CrossTrainConfig(steps=3, queries_per_step=2, n_negatives=2, warmup=1),
                                    progress=False)
    assert [r["step"] for r in log] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in log)
    assert not torch.equal(before, model.head.weight)                                  # the head trained
    assert torch.equal(frozen, model.backbone.embeddings.word_embeddings.weight)       # embeddings frozen


def test_length_grouped_scores_and_gradients_equal_one_padded_batch(model):
    """Training scores its step in micro-batches of similar length: same scores, same gradients."""
    qs = ["sort", "open", "join", "split", "read"]
    ds = [" ".join(["list"] * n) for n in (7, 2, 12, 4, 17)]       # distinct lengths, none cut at 24 tokens
    model.eval()                                                   # no dropout: both paths must agree exactly
    lengths = model.build_inputs(qs, ds)["attention_mask"].sum(1)
    assert len(set(lengths.tolist())) == len(qs)                   # the grouping really reorders the pairs
    grads = []
    for run in (lambda: model(qs, ds), lambda: model.score_by_length(qs, ds, 2)):
        model.zero_grad()
        out = run()
        (out * torch.arange(1.0, 6.0)).sum().backward()             # a different weight per pair
        grads.append((out.detach().clone(), model.head.weight.grad.clone()))
    (full, g_full), (grouped, g_grouped) = grads
    assert torch.allclose(grouped, full, atol=1e-5)
    assert torch.allclose(g_grouped, g_full, atol=1e-4)
    assert np.allclose(model.score(qs, ds, batch_size=2), full.numpy(), atol=1e-5)
    model.zero_grad()


def test_training_errors(model):
    with pytest.raises(ValueError, match="one of each per query"):
        cross_training.train_cross_encoder(model, ["q"], ["d"], [], progress=False)
    with pytest.raises(ValueError, match="fewer than n_negatives"):
        cross_training.train_cross_encoder(model, ["q"], ["d"], [["n"]], cross_training.CrossTrainConfig(n_negatives=3),
                                  progress=False)
    for bad in ({"micro_batch": 0}, {"queries_per_step": 0}, {"n_negatives": 0}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be >= 1"):
            cross_training.train_cross_encoder(model, ["q"], ["d"], [["n"]], cross_training.CrossTrainConfig(**{"n_negatives": 1, **bad}),
                                      progress=False)


def test_checkpoint_round_trip_is_bit_exact(model, tmp_path):
    path = checkpoints.save_checkpoint(model, tmp_path / "cross.safetensors")
    again, _ = checkpoints.load_checkpoint(path)
    assert type(again) is cross.CrossEncoderModel and again.config == model.config
    qs, ds = ["sort a list"], ["return sorted items"]
    assert np.array_equal(again.score(qs, ds), model.score(qs, ds))
    assert again.fingerprint() == model.fingerprint()


def test_score_cache_reuses_and_survives_corruption(model, tmp_path):
    cache = score_cache.ScoreCache(model, tmp_path)
    first = cache.score(["a", "b"], ["c", "d"])
    assert np.allclose(first, model.score(["a", "b"], ["c", "d"]), atol=1e-6)
    cache.model = None                                             # a cached pair never reaches the model
    assert np.array_equal(cache.score(["b"], ["d"]), first[1:])
    cache.path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="corrupt"):
        fresh = score_cache.ScoreCache(model, tmp_path)
    assert fresh.scores == {} and np.allclose(fresh.score(["a"], ["c"]), first[:1], atol=1e-6)


# --------------------------------------------------------------------------- pipeline

def test_rerank_reorders_only_the_top_r_and_keeps_every_id():
    ids = ["a", "b", "c", "d", "e"]
    out = pipeline.rerank(ids, [0.1, 0.9, 0.5, 7.0, 9.0], r=3)
    assert out == ["b", "c", "a", "d", "e"]               # d, e are beyond R: untouched despite high scores
    assert sorted(out) == sorted(ids)
    assert pipeline.rerank(ids, [], r=0) == ids
    assert pipeline.rerank(ids, [1, 1, 1, 1, 1], r=5) == ids   # ties keep the first-stage order
    assert pipeline.rerank(ids, [0.0, float("inf"), 1.0, float("nan")], r=3) == ["b", "c", "a", "d", "e"]  # NaN beyond R


@pytest.mark.parametrize("args, match", [((["a", "b"], [1, 2, 3], 3), "r=3 > K=2"),
                                         (([], [], 0), "no candidates"),
                                         ((["a", "b", "c"], [1.0], 2), "scores for the top r=2"),
                                         ((["a"], [1.0], -1), "non-negative"),
                                         ((["a", "b", "c"], [1.0, float("nan"), 2.0], 3), "score 1 .* is NaN")])
def test_rerank_errors(args, match):
    with pytest.raises(ValueError, match=match):
        pipeline.rerank(*args)


def test_sweep_never_returns_ids_outside_the_candidates_and_frontier():
    rng = np.random.default_rng(0)
    qids = [f"q{i}" for i in range(20)]
    cands = [[f"d{j}" for j in rng.permutation(50)[:30]] for _ in qids]
    qrels = {q: {c[5]: 1} for q, c in zip(qids, cands)}
    scores = [np.where(np.array(c[:20]) == next(iter(qrels[q])), 10.0, rng.normal(size=20))
              for q, c in zip(qids, cands)]
    for q, c, s in zip(qids, cands, scores):
        for k, r in ((10, 5), (30, 20)):
            assert set(pipeline.rerank(c[:k], s, r)) == set(c[:k])
    rows = pipeline.sweep(qids, qids, cands, scores, qrels, ks=[5, 10, 30], rs=[0, 5, 10, 20],
                          ann_ms={5: 1.0, 10: 1.0, 30: 1.5}, cross_ms={0: 0.0, 5: 5.0, 10: 10.0, 20: 20.0})
    assert all(r["R"] <= r["K"] for r in rows) and len(rows) == 3 + 3 + 4 - 1
    best = max(rows, key=lambda r: r["NDCG@10"])
    assert best["NDCG@10"] == pytest.approx(1.0) and best["R"] >= 10    # the positive sits at position 5
    assert next(r for r in rows if r["K"] == 5 and r["R"] == 5)["NDCG@10"] == 0.0   # K=5 never saw it
    front = pipeline.frontier(rows)
    assert [r["ms"] for r in front] == sorted(r["ms"] for r in front)
    assert all(a["NDCG@10"] < b["NDCG@10"] for a, b in zip(front, front[1:]))


def test_frontier_keeps_the_smallest_k_among_equal_quality_and_r():
    # K=20 and K=50 rerank the same R=10 and tie on quality; the timer (noise) made the larger K look faster
    rows = [{"K": 10, "R": 0, "NDCG@10": 0.40, "ms": 1.0},
            {"K": 20, "R": 10, "NDCG@10": 0.50, "ms": 10.2}, {"K": 50, "R": 10, "NDCG@10": 0.50, "ms": 10.1},
            {"K": 10, "R": 10, "NDCG@10": 0.50, "ms": 10.3}, {"K": 50, "R": 20, "NDCG@10": 0.55, "ms": 20.0}]
    front = pipeline.frontier(rows)
    assert [(r["K"], r["R"]) for r in front] == [(10, 0), (10, 10), (50, 20)]
    assert pipeline.frontier(list(reversed(rows))) == front, "the order of the rows does not matter"
    # without K and R, equal quality is decided by ms alone
    plain = [{"NDCG@10": 0.5, "ms": 2.0}, {"NDCG@10": 0.5, "ms": 1.0}, {"NDCG@10": 0.6, "ms": 3.0}]
    assert pipeline.frontier(plain) == [plain[1], plain[2]]


class _SlowFirstCall:
    """Stands in for an encoder, a FAISS index and a cross-encoder on a fake clock ``now`` (a one-item list of
    seconds): the first call costs ``first_s`` (one-time set-up), each later call 1 ms per item (k, pairs or
    texts), plus ``hiccup_s`` for the calls made while ``hiccup[0]`` is set (the machine busy elsewhere); records
    the sizes it was called with."""

    def __init__(self, now, first_s=0.4, hiccup=None, hiccup_s=1.0):
        self.now, self.first_s, self.calls = now, first_s, []
        self.hiccup, self.hiccup_s = hiccup or [False], hiccup_s

    def _call(self, size):
        self.now[0] += self.first_s if not self.calls else size / 1000
        self.now[0] += self.hiccup_s if self.hiccup[0] else 0.0
        self.calls.append(size)

    def search(self, q, k):
        self._call(k)

    def score(self, queries, docs):
        assert len(queries) == len(docs)
        self._call(len(docs))

    def encode(self, texts, **_):
        self._call(len(texts))

    @property
    def model(self):
        return self


def test_time_stages_warms_up_then_takes_the_median_of_single_query_calls(monkeypatch):
    n_q = 5
    Q = np.zeros((n_q, 4), dtype=np.float32)
    cands = [[f"d{j}" for j in range(6)] for _ in range(n_q)]
    doc_text = {f"d{j}": f"doc {j}" for j in range(6)}
    texts = [f"q{i}" for i in range(n_q)]
    now, hiccup = [0.0], [False]
    monkeypatch.setattr(pipeline.time, "perf_counter", lambda: now[0])
    index, model, encoder = (_SlowFirstCall(now, hiccup=hiccup) for _ in range(3))
    real_search = index.search

    def search(q, k):                       # the machine is busy while the 4th query is timed: every stage of it
        hiccup[0] = len(index.calls) >= 1 + 2 * 3
        real_search(q, k)
    index.search = search
    encode_ms, ann_ms, cross_ms = pipeline.time_stages(index, Q, texts, cands, doc_text, model, ks=[2, 6],
                                                       rs=[0, 3, 5], n_queries=4, encoder=encoder, warmup=1)
    # ms per query = 1 ms per item: the 0.4 s first call is charged to no stage, and the one slow query (an extra
    # second on each stage it touched) does not move a median of 4
    assert encode_ms == pytest.approx(1.0)
    assert ann_ms == pytest.approx({2: 2.0, 6: 6.0}) and cross_ms == pytest.approx({0: 0.0, 3: 3.0, 5: 5.0})
    # one warm-up call per stage at its largest size, then one call per query, setting and stage: none batched
    assert index.calls == [6] + [2, 6] * 4 and model.calls == [5] + [3, 5] * 4 and encoder.calls == [1] * 5
    assert all(size == 1 for size in encoder.calls), "each query encoded alone"
    with pytest.raises(ValueError, match="at least one query"):
        pipeline.time_stages(index, Q, [], [], doc_text, model, ks=[2], rs=[3], n_queries=2)
    with pytest.raises(ValueError, match="at least one query"):
        pipeline.time_stages(index, Q, ["q0"], cands, doc_text, model, ks=[2], rs=[3], n_queries=0)
    with pytest.raises(ValueError, match="warmup"):
        pipeline.time_stages(index, Q, texts, cands, doc_text, model, ks=[2], rs=[3], warmup=-1)


def test_time_stages_mean_would_be_fooled_but_the_median_is_not(monkeypatch):
    """Under load a mean over few queries ranked R=20 below R=10; with one query in three slow, the median still
    orders R by cost."""
    n_q = 9
    Q = np.zeros((n_q, 4), dtype=np.float32)
    cands = [[f"d{j}" for j in range(20)] for _ in range(n_q)]
    doc_text = {f"d{j}": f"doc {j}" for j in range(20)}
    now, hiccup = [0.0], [False]
    monkeypatch.setattr(pipeline.time, "perf_counter", lambda: now[0])
    index, model = _SlowFirstCall(now, hiccup=hiccup), _SlowFirstCall(now, hiccup=hiccup, hiccup_s=0.2)
    real_score = model.score

    def score(queries, docs):               # every third R=10 call lands on a busy moment
        hiccup[0] = len(docs) == 10 and (len(model.calls) // 2) % 3 == 0
        real_score(queries, docs)
        hiccup[0] = False
    model.score = score
    _, _, cross_ms = pipeline.time_stages(index, Q, [f"q{i}" for i in range(n_q)], cands, doc_text, model,
                                          ks=[20], rs=[10, 20], n_queries=n_q, warmup=1)
    assert cross_ms[10] == pytest.approx(10.0) and cross_ms[20] == pytest.approx(20.0)
    assert cross_ms[10] < cross_ms[20]


def test_fuse_interpolates_z_scores_and_tune_alpha_finds_the_useful_mix():
    f, c = np.array([0.9, 0.8, 0.7]), np.array([-1.0, 5.0, 2.0])
    zf, zc = (f - f.mean()) / f.std(), (c - c.mean()) / c.std()
    assert np.allclose(pipeline.fuse(f, c, 0.3), 0.3 * zc + 0.7 * zf)
    assert np.allclose(pipeline.fuse(f, c, 0.0), zf) and np.allclose(pipeline.fuse(f, c, 1.0), zc)
    assert np.allclose(pipeline.fuse(f, c * 100 + 7, 0.5), pipeline.fuse(f, c, 0.5))   # scale-free
    assert np.allclose(pipeline.fuse([1.0, 1.0], [2.0, 3.0], 0.5), [-0.5, 0.5])         # a flat list adds nothing
    for bad, match in [(([1.0], [1.0, 2.0], 0.5), "must be two"), (([1.0, np.nan], [1.0, 2.0], 0.5), "NaN"),
                       (([1.0, 2.0], [1.0, 2.0], 1.5), r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=match):
            pipeline.fuse(*bad)
    # first stage puts the answer 2nd, the cross-encoder 3rd: only a mix ranks it first
    qids, cands = ["q"], [["a", "b", "c"]]
    qrels = {"q": {"b": 1}}
    first, crs = [np.array([1.0, 0.9, 0.0])], [np.array([0.0, 0.9, 1.0])]
    best, values = pipeline.tune_alpha(qids, cands, first, crs, qrels, r=3)
    assert values[0.0] < 1.0 and values[1.0] < 1.0 and values[best] == pytest.approx(1.0) and 0 < best < 1
    rows = pipeline.sweep(qids, qids, cands, crs, qrels, ks=[3], rs=[0, 3], ann_ms={3: 1.0},
                          cross_ms={0: 0.0, 3: 3.0}, first_scores=first, alpha=best)
    assert [r["NDCG@10"] for r in rows][1] == pytest.approx(1.0)


def test_precision_setting(model):
    with pytest.raises(ValueError, match="precision must be one of"):
        cross.CrossEncoderModel(precision="fp16", device="cpu")
    assert hardware.native_bf16("mps") is False
    fp32 = cross.CrossEncoderModel(max_length=24, max_query_length=8, train_layers=1, device="cpu", precision="fp32")
    bf16 = cross.CrossEncoderModel(max_length=24, max_query_length=8, train_layers=1, device="cpu", precision="bf16")
    assert not fp32.bf16 and bf16.bf16
    auto = cross.CrossEncoderModel(max_length=24, max_query_length=8, train_layers=1, device="cpu", precision="auto")
    assert auto.bf16 == hardware.native_bf16("cpu")
    pairs = (["sort a list", "open a file"], ["return a new sorted list", "open file and return a stream"])
    a, b = fp32.score(*pairs), bf16.score(*pairs)
    assert a.dtype == b.dtype == np.float32 and np.allclose(a, b, atol=0.1)   # same weights, bf16 rounding only


def test_native_bf16_reads_the_cpu_flags_and_asks_cuda(monkeypatch):
    for flags, native in [("flags\t\t: fpu sse2 avx avx2 fma\n", False),        # AVX2 only: bf16 is emulated
                          ("flags\t\t: avx2 avx512f avx512bw avx512_vnni\n", False),   # AVX-512 without bf16
                          ("flags\t\t: avx2 avx512f avx512_bf16\n", True),
                          ("flags\t\t: avx2 amx_tile amx_bf16\n", True),
                          ("", False)]:                                          # /proc/cpuinfo unreadable
        monkeypatch.setattr(hardware, "_cpu_flags", lambda flags=flags: flags)
        assert hardware.native_bf16("cpu") is native, flags
    for available, supported in [(False, True), (True, False), (True, True)]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda available=available: available)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, supported=supported, **kw: supported)
        assert hardware.native_bf16("cuda") is (available and supported)


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch):
    for native in (True, False):
        monkeypatch.setattr(hardware, "native_bf16", lambda device_type="cpu", native=native: native)
        assert hardware.use_bf16("auto", "cpu") is native
        assert hardware.use_bf16("auto", "cuda") is False, "on a GPU bf16 autocast made this small model slower"
        assert hardware.use_bf16("bf16", "cuda") is True and hardware.use_bf16("fp32", "cpu") is False
    with pytest.raises(ValueError, match="precision must be one of"):
        hardware.use_bf16("fp16", "cpu")


def test_depth_dropout_and_word_embedding_settings_take_effect_and_survive_a_checkpoint(tmp_path):
    kw = dict(max_length=24, max_query_length=8, device="cpu", precision="fp32")
    full = cross.CrossEncoderModel(train_layers=None, **kw)
    lean = cross.CrossEncoderModel(train_layers=None, n_layers=2, dropout=0.0, train_word_embeddings=False, **kw)
    assert len(lean.backbone.encoder.layer) == 2 < len(full.backbone.encoder.layer)
    assert lean.backbone.config.num_hidden_layers == 2
    drops = [m.p for m in lean.backbone.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(p == 0.0 for p in drops) and any(m.p > 0 for m in full.backbone.modules()
                                                         if isinstance(m, torch.nn.Dropout))
    word = lean.backbone.embeddings.word_embeddings.weight
    assert not word.requires_grad and full.backbone.embeddings.word_embeddings.weight.requires_grad
    assert lean.backbone.embeddings.position_embeddings.weight.requires_grad   # only the word table is frozen
    pairs = (["sort a list"] * 3, ["return a new sorted list", "open a file", "parse a date"])
    lean.train()                                                               # no dropout: train mode = eval mode
    assert torch.equal(lean(*pairs), lean(*pairs))
    path = checkpoints.save_checkpoint(lean, tmp_path / "lean.safetensors")
    again, _ = checkpoints.load_checkpoint(path)
    assert again.config == lean.config and len(again.backbone.encoder.layer) == 2
    assert np.array_equal(again.score(*pairs), lean.score(*pairs))
    for bad, match in [({"n_layers": 0}, "n_layers must be between 1 and 6"), ({"n_layers": 7}, "n_layers must be"),
                       ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"), ({"dropout": -0.1}, "dropout must be")]:
        with pytest.raises(ValueError, match=match):
            cross.CrossEncoderModel(**kw, **bad)

# --------------------------------------------------------------------------- calibration

def test_ece_by_hand():
    probs, labels = np.array([0.15, 0.15, 0.85, 0.85]), np.array([0, 1, 1, 1])
    # bin 1: conf .15 acc .5 -> .35 ; bin 8: conf .85 acc 1 -> .15 ; weighted .25
    assert calibration.expected_calibration_error(probs, labels) == pytest.approx(0.25)
    assert calibration.expected_calibration_error([0.0, 1.0], [0, 1]) == pytest.approx(0.0)


def test_calibration_reduces_ece_on_a_miscalibrated_set():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=5000)
    labels = (rng.random(5000) < 1 / (1 + np.exp(-logits))).astype(int)
    raw = logits * 4 + 3                                  # over-confident and shifted
    before = calibration.expected_calibration_error(calibration._sigmoid(raw), labels)
    platt = calibration.fit(raw, labels, "platt")
    temp = calibration.fit(raw, labels, "temperature")
    after = calibration.expected_calibration_error(platt(raw), labels)
    assert before > 0.1 and after < 0.03 and after < before
    assert platt.a == pytest.approx(0.25, rel=0.1) and platt.b == pytest.approx(-0.75, abs=0.15)
    assert calibration.expected_calibration_error(temp(raw), labels) < before
    order = np.argsort(raw)
    assert np.all(np.diff(platt(raw)[order]) >= 0)        # monotone: the ranking is kept


def test_calibration_never_reverses_the_ranking():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(float)
    backwards = -3.0 * y + rng.normal(size=500)            # relevant pairs score lower
    with pytest.warns(UserWarning, match="ranks backwards"):
        assert calibration.fit(backwards, y, "platt").a == 0.0
    with pytest.warns(UserWarning, match="cannot shift them"):
        assert calibration.fit(backwards, y, "temperature").a == 0.0
    offset = 3.0 * y + rng.normal(size=500) + 10.0          # ranks well, but every logit is large
    assert calibration.fit(offset, y, "platt").a > 0.5
    with pytest.warns(UserWarning, match="cannot shift them"):
        assert calibration.fit(offset, y, "temperature").a == 0.0
    with pytest.warns(UserWarning):
        flat = calibration.fit(backwards, y, "platt")
    assert flat(backwards) == pytest.approx(np.full(500, y.mean()))


@pytest.mark.parametrize("scores, labels, match", [([1.0, 2.0], [1], "one label"), ([], [], "at least one"),
                                                    ([1.0, np.nan], [0, 1], "NaN"), ([1.0, 2.0], [0, 2], "0 .* or 1"),
                                                    ([1.0, 2.0], [1, 1], "both relevant")])
def test_calibration_errors(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        calibration.fit(scores, labels)


def test_teacher_scores_fill_only_taught_rows_and_fuse_on_request():
    class Pairs:
        query_texts = [f"q{i}" for i in range(5)]
        doc_texts = [f"d{i}" for i in range(5)]

        def __len__(self):
            return 5

    class Scorer:                                    # score = query number + 10 x doc number
        def score(self, qs, ds):
            return np.array([int(q[1:]) + 10 * int(d[1:]) for q, d in zip(qs, ds)], dtype=np.float32)

    hard = np.array([[1, 2], [0, 2], [3, 4], [0, 1], [2, 3]])
    taught = np.array([1, 3])
    raw = distillation.teacher_scores(Scorer(), Pairs(), hard, taught)
    assert raw.shape == (5, 3) and np.isnan(raw[[0, 2, 4]]).all()
    np.testing.assert_allclose(raw[1], [1 + 10, 1 + 0, 1 + 20])          # (pair 1's positive = doc 1, then docs 0, 2)
    np.testing.assert_allclose(raw[3], [3 + 30, 3 + 0, 3 + 10])
    first = np.arange(15, dtype=np.float32).reshape(5, 3)
    fused = distillation.teacher_scores(Scorer(), Pairs(), hard, taught, first, alpha=0.5, scale=4.0)
    np.testing.assert_allclose(fused[1], 4.0 * pipeline.fuse(first[1], raw[1], 0.5), rtol=1e-6)
    assert np.isnan(fused[0]).all()
    assert np.isnan(distillation.teacher_scores(Scorer(), Pairs(), hard, [])).all()
    for args, match in [((hard[:4], taught), "one row per training pair"), ((hard, [1, 5]), "outside 0..4"),
                        ((hard, taught, first[:, :2]), r"\(5, 3\) table")]:
        with pytest.raises(ValueError, match=match):
            distillation.teacher_scores(Scorer(), Pairs(), *args)


def test_bench_lift_positive_raises_only_a_positive_below_its_best_negative():
    from asymkit.tools import bench

    t = np.array([[1.0, 3.0, 2.0], [5.0, 1.0, 4.0], [np.nan] * 3], dtype=np.float32)
    lifted = bench._lift_positive(t)
    np.testing.assert_allclose(lifted[0], [3.0, 3.0, 2.0])               # raised to the best negative
    np.testing.assert_allclose(lifted[1], [5.0, 1.0, 4.0])               # already first: unchanged
    assert np.isnan(lifted[2]).all() and t[0, 0] == 1.0                  # NaN row kept; input not modified



def test_bench_distillation_verdict_needs_a_positive_mean_and_says_when_it_is_within_noise():
    from asymkit.tools import bench

    assert bench._distillation_verdict([0.002, 0.003, 0.001, 0.002]) == "met"               # mean 0.002, s.e. 0.0004
    within = bench._distillation_verdict([0.004, -0.002, 0.003, -0.001])                   # mean 0.001, s.e. 0.0014
    assert within.startswith("met in the mean only (0.7 s.e.")
    assert bench._distillation_verdict([0.001, -0.001, 0.0, 0.0]) == "NOT met"             # mean 0
    assert bench._distillation_verdict([-0.003, -0.002, -0.004]) == "NOT met"
    for bad in ([0.001], [0.001, np.nan], [[0.001, 0.002]]):
        with pytest.raises(ValueError, match="a finite delta per seed"):
            bench._distillation_verdict(bad)


def test_bench_paired_cell_reports_mean_standard_error_and_count_per_split():
    from asymkit.tools import bench

    cell = bench._paired_cell({"dev": np.array([0.002, 0.004]), "test": np.array([-0.001, 0.003])})
    assert cell == ("dev NDCG@10 delta +0.0030 +- 0.0010 (s.e.), positive in 2 of 2 seeds; "
                    "test NDCG@10 delta +0.0010 +- 0.0020 (s.e.), positive in 1 of 2 seeds")
    assert bench._paired_cell({"test": np.zeros(3)}) == \
        "test NDCG@10 delta +0.0000 +- 0.0000 (s.e.), positive in 0 of 3 seeds"      # no change is not a gain


# --------------------------------------------------------------------------- export

@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_cross_encoder_exports_to_sentence_transformers(tmp_path, pooling):
    from sentence_transformers import CrossEncoder

    from asymkit import export

    model = cross.CrossEncoderModel(pooling=pooling, max_length=64, train_layers=1, device="cpu", precision="fp32")
    with torch.no_grad():                                  # as if trained: a real head and a moved top layer
        g = torch.Generator().manual_seed(0)
        model.head.weight.normal_(0, 0.5, generator=g)
        dense = model.backbone.encoder.layer[-1].output.dense.weight
        dense.add_(torch.randn(dense.shape, generator=g) * 0.02)
    queries = ["Return the sum of two numbers.", "Open a file and return a stream object.", "parse a date"]
    docs = ["Add a and b and return the result, an int or a float. " * 6,      # longer than 64 tokens: cut
            "open(file, mode='r') returns a file object.", "datetime.strptime parses a string into a datetime."]
    path = export.export_cross_encoder(model, tmp_path / "ce")
    loaded = CrossEncoder(str(path), device="cpu", local_files_only=True)
    got = loaded.predict(list(zip(queries, docs)))
    np.testing.assert_allclose(got, model.score(queries, docs), atol=1e-4)
    fresh = cross.CrossEncoderModel(pooling=pooling, max_length=64, train_layers=1, device="cpu", precision="fp32")
    assert not np.allclose(got, fresh.score(queries, docs), atol=1e-2)    # the trained weights travelled
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_cross_encoder(model, path)


def test_bf16_follows_the_device_the_model_is_moved_to(monkeypatch):
    """'auto' is bf16 on a CPU with native bf16 and float32 elsewhere: moving the model must re-decide."""
    monkeypatch.setattr(hardware, "native_bf16", lambda device_type="cpu": device_type == "cpu")
    auto = cross.CrossEncoderModel(max_length=24, max_query_length=8, train_layers=1, device="cpu", precision="auto")
    assert auto.bf16
    auto.to("meta")                                  # any non-CPU device: 'auto' means float32 there
    assert auto.device.type == "meta" and not auto.bf16


# --------------------------------------------------------------------------- the three losses compared (lesson 04)

def _tiny_groups():
    queries = ["sort a list", "open a file", "join two paths", "parse a date"]
    docs = ["return a sorted list", "open the file for reading", "join paths into one", "parse a date string"]
    negatives = [[docs[(i + 1) % 4], docs[(i + 2) % 4]] for i in range(4)]
    return queries, docs, negatives


def _tiny_recipe():
    return {"n_extra": 0, "config": cross_training.CrossTrainConfig(steps=2, queries_per_step=2, n_negatives=2, warmup=1),
            "model_kwargs": {"n_layers": 1, "train_layers": None, "max_length": 24, "max_query_length": 8,
                             "precision": "fp32", "dropout": 0.0}}


@pytest.mark.parametrize("fast", [True, False])
def test_loss_comparison_recipe_is_one_budget_for_every_loss(fast):
    recipe = cross_recipe.loss_comparison_recipe(fast)
    assert set(recipe) == {"n_extra", "config", "model_kwargs"}
    assert recipe["config"].steps < cross_recipe.course_recipe(fast)["config"].steps           # a reduced budget
    assert recipe == cross_recipe.loss_comparison_recipe(fast) and recipe["model_kwargs"]["max_length"] <= 64


def test_loss_comparison_models_differ_only_in_their_loss_and_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ASYMKIT_CACHE", str(tmp_path))
    groups = _tiny_groups()
    models = cross_recipe.loss_comparison_models(None, recipe=_tiny_recipe(), device="cpu", groups=groups)
    assert list(models) == list(cross_training.LOSSES)
    configs = {name: m.config for name, (m, _) in models.items()}
    assert all(c == configs["listwise"] for c in configs.values())            # same model settings for all three
    heads = [m.head.weight.detach().clone() for m, _ in models.values()]
    assert not torch.equal(heads[0], heads[1]) and not torch.equal(heads[1], heads[2])   # the loss made a difference
    assert all(len(log) == 2 and np.isfinite(log[-1]["loss"]) for _, log in models.values())
    assert len(list((tmp_path / "models").glob("cross-*.safetensors"))) == 3

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must not be trained again")

    monkeypatch.setattr(cross_recipe, "train_cross_encoder", no_training)
    again = cross_recipe.loss_comparison_models(None, recipe=_tiny_recipe(), device="cpu", groups=groups,
                                                losses=["pairwise"])
    assert torch.equal(again["pairwise"][0].head.weight, models["pairwise"][0].head.weight)
    with pytest.raises(ValueError, match="unknown loss 'ranknet'"):
        cross_recipe.loss_comparison_models(None, recipe=_tiny_recipe(), groups=groups, losses=["ranknet"])
    with pytest.raises(TypeError, match="list of names"):
        cross_recipe.loss_comparison_models(None, recipe=_tiny_recipe(), groups=groups, losses="listwise")
    with pytest.raises(ValueError, match="dataset or the training groups"):
        cross_recipe.trained_cross_encoder(None, **_tiny_recipe())


class _DictScorer:
    """A stand-in for a ScoreCache: each (query, document) pair's score looked up in a dict (0 if absent)."""

    def __init__(self, table):
        self.table = table

    def score(self, queries, docs, progress=False):
        return np.array([self.table.get((q, d), 0.0) for q, d in zip(queries, docs)], dtype=np.float32)


def _split(qids, qrels):
    cands = [[f"{q}-d{j}" for j in range(4)] for q in qids]
    first = [np.array([0.9, 0.8, 0.7, 0.6]) for _ in qids]
    return {"query_ids": qids, "query_texts": qids, "cands": cands, "first": first, "qrels": qrels}


def test_compare_losses_ranks_a_perfect_reranker_above_a_backwards_one():
    dev = _split(["a", "b"], {"a": {"a-d2": 1}, "b": {"b-d3": 1}})
    test = _split(["c", "d"], {"c": {"c-d1": 1}, "d": {"d-d3": 1}})
    doc_text = {d: d for s in (dev, test) for c in s["cands"] for d in c}
    relevant = {(q, d) for s in (dev, test) for q in s["query_ids"] for d in s["qrels"][q]}
    right = {(q, d): (5.0 if (q, d) in relevant else 0.0) for s in (dev, test) for q, c in zip(s["query_ids"], s["cands"])
             for d in c}
    wrong = {k: -v for k, v in right.items()}
    models = {"right": (right, [{"step": 1, "loss": 2.0, "seconds": 1.0}, {"step": 2, "loss": 1.0, "seconds": 3.5}]),
              "wrong": (wrong, [{"step": 1, "loss": 0.5, "seconds": 2.0}])}
    rows = cross_recipe.compare_losses(models, doc_text, dev, test, r=4, scorer=_DictScorer)
    by = {r["loss"]: r for r in rows}
    assert by["right"]["test NDCG@10"] == pytest.approx(1.0) and by["right"]["dev MRR@10"] == pytest.approx(1.0)
    assert by["wrong"]["test NDCG@10"] < by["right"]["test NDCG@10"] and by["wrong"]["test MRR@10"] < 1.0
    assert by["right"]["alpha"] == 1.0 and by["right"]["fused test NDCG@10"] == pytest.approx(1.0)
    assert by["wrong"]["alpha"] < 1.0                      # on dev the first stage beats a backwards reranker
    assert by["right"]["dev by alpha"][1.0] == max(by["right"]["dev by alpha"].values())   # the curve alpha was chosen on
    assert by["wrong"]["dev by alpha"][by["wrong"]["alpha"]] == max(by["wrong"]["dev by alpha"].values())
    assert by["right"]["train_s"] == 3.5 and by["right"]["final_loss"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least r=5 candidates"):
        cross_recipe.compare_losses(models, doc_text, dev, test, r=5, scorer=_DictScorer)
    with pytest.raises(ValueError, match="test lacks"):
        cross_recipe.compare_losses(models, doc_text, dev, {"query_ids": ["c"]}, r=4, scorer=_DictScorer)
    with pytest.raises(ValueError, match="no models"):
        cross_recipe.compare_losses({}, doc_text, dev, test, r=4, scorer=_DictScorer)


@pytest.mark.slow
def test_fast_mode_cross_encoder_has_learned_and_a_reversed_rerank_is_clearly_worse(monkeypatch):
    """Fast mode's course cross-encoder (cached by lesson 04's run, else trained here) on the fast quarter's
    held-out queries, over MiniLM's top 20: right well above a guess, a reranker sorted the wrong way clearly
    below the right one, and fused with the first stage at an alpha chosen on dev no worse than it on dev."""
    monkeypatch.setenv("ASYMKIT_FAST", "1")
    from asymkit import corpora, data, encoders, metrics, score_cache, towers

    ds = data.load_stdlib()
    enc = encoders.BiEncoder()
    dev, test = corpora.retrieval_task(ds, "dev", enc), corpora.retrieval_task(ds, "test", enc)
    query_text = corpora.all_queries(ds)
    doc_text = {d: data.doc_text(v) for d, v in ds.corpus.items()}
    ce, _ = cross_recipe.trained_cross_encoder(ds, progress=False, **cross_recipe.course_recipe())
    cache, r = score_cache.ScoreCache(ce), 20
    minilm = towers.TowerModel(384)

    def scored(task, n):
        _, _, cands, first = pipeline.first_stage(minilm, task, 50)
        ids = task.query_ids[:n]
        return ids, cands[:n], first[:n], pipeline.score_candidates(cache, [query_text[q] for q in ids], cands[:n],
                                                                    doc_text, r)

    def ndcg(ids, ranked, qrels):
        return metrics.evaluate({q: qrels[q] for q in ids}, pipeline.as_run(dict(zip(ids, ranked))), ["NDCG@10"])["NDCG@10"]

    ids, cands, first, cross = scored(test, 150)
    right = ndcg(ids, [pipeline.rerank(c, s, r) for c, s in zip(cands, cross)], test.qrels)
    wrong = ndcg(ids, [pipeline.rerank(c, -np.asarray(s), r) for c, s in zip(cands, cross)], test.qrels)
    base = ndcg(ids, cands, test.qrels)
    assert right - wrong > 0.15, f"a reversed rerank must be clearly worse: right {right:.4f}, reversed {wrong:.4f}"
    assert right > 0.7 * base, f"the cross-encoder alone must be within reach of the first stage: {right:.4f} vs {base:.4f}"
    dev_ids, dev_cands, dev_first, dev_cross = scored(dev, 100)
    right_first = []                        # lesson 04's held-out groups: a relevant candidate and 3 non-relevant ones
    for q, c, s in zip(dev_ids, dev_cands, dev_cross):
        judged = [dev.qrels[q].get(d, 0) > 0 for d in c[:r]]
        pos, neg = [i for i, j in enumerate(judged) if j], [i for i, j in enumerate(judged) if not j][:3]
        if pos and len(neg) == 3:
            right_first.append(np.argmax([s[pos[0]], *(s[i] for i in neg)]) == 0)
    assert len(right_first) >= 30 and np.mean(right_first) > 0.45, \
        f"well above a guess (25%) on held-out groups: {np.mean(right_first):.0%} of {len(right_first)}"
    alpha, by_alpha = pipeline.tune_alpha(dev_ids, dev_cands, dev_first, dev_cross, dev.qrels, r)
    assert by_alpha[alpha] >= by_alpha[0.0], "fused at the dev-chosen alpha is no worse than the first stage on dev"
    assert alpha > 0.0, f"the fused rerank must use the cross-encoder on dev: alpha {alpha}, curve {by_alpha}"
