import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asymkit import checkpoints, corpora, losses, mining, towers, train


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(5, 8, generator=g) * 3
    d = torch.randn(5, 8, generator=g) * 0.5
    neg = torch.randn(5, 2, 8, generator=g)
    return q, d, neg


# --------------------------------------------------------------------------- losses

def test_info_nce_equals_cross_entropy_on_cosine(batch):
    q, d, _ = batch
    S = F.normalize(q, dim=1) @ F.normalize(d, dim=1).T / 0.05
    assert losses.info_nce(q, d, 0.05) == pytest.approx(float(F.cross_entropy(S, torch.arange(5))), rel=1e-6)


def test_info_nce_raw_dot_and_hand_computed_two_by_two():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    d = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    # raw dot, temperature 1: S = [[2, 1], [0, 2]]
    expected = (-(2 - math.log(math.exp(2) + math.exp(1))) - (2 - math.log(math.exp(0) + math.exp(2)))) / 2
    assert float(losses.info_nce(q, d, 1.0, normalize=False)) == pytest.approx(expected, rel=1e-6)
    # cosine, temperature 0.5: S = [[1, 1/sqrt2], [0, 1/sqrt2]] / 0.5
    c = 1 / math.sqrt(2)
    l1 = -(2 - math.log(math.exp(2) + math.exp(2 * c)))
    l2 = -(2 * c - math.log(math.exp(0) + math.exp(2 * c)))
    assert float(losses.info_nce(q, d, 0.5)) == pytest.approx((l1 + l2) / 2, rel=1e-6)


def test_hard_negatives_join_every_query_candidates(batch):
    q, d, neg = batch
    cand = torch.cat([d, neg.reshape(-1, 8)])
    S = F.normalize(q, dim=1) @ F.normalize(cand, dim=1).T / 0.1
    ref = F.cross_entropy(S, torch.arange(5))
    assert float(losses.info_nce(q, d, 0.1, hard_negatives=neg)) == pytest.approx(float(ref), rel=1e-6)
    assert float(losses.InfoNCELoss(0.1)(q, d, neg)) == pytest.approx(float(ref), rel=1e-6)


def test_margin_loss_hand_computed():
    q = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[1.0, 1.0]])        # cosine 0.7071
    neg = torch.tensor([[1.0, 0.0]])        # cosine 1
    assert float(losses.margin_loss(q, pos, neg, margin=0.2)) == pytest.approx(0.2 - 1 / math.sqrt(2) + 1, rel=1e-6)
    assert float(losses.margin_loss(q, neg, pos, margin=0.2)) == 0.0          # separated by more than the margin
    assert float(losses.MarginLoss(0.2, normalize=False)(q, pos, neg)) == pytest.approx(0.2)


def test_loss_errors(batch):
    q, d, neg = batch
    with pytest.raises(ValueError, match=r"mismatched batch: queries \(5, 8\) vs positive documents \(4, 8\)"):
        losses.info_nce(q, d[:4])
    with pytest.raises(ValueError, match="batch is empty"):
        losses.info_nce(q[:0], d[:0])
    for t in (0, -0.1):
        with pytest.raises(ValueError, match="temperature must be > 0"):
            losses.info_nce(q, d, t)
        with pytest.raises(ValueError, match="temperature must be > 0"):
            losses.InfoNCELoss(t)
    with pytest.raises(ValueError, match=r"hard_negatives must be \(B=5, n, dim=8\)"):
        losses.info_nce(q, d, hard_negatives=neg[:3])


# --------------------------------------------------------------------------- towers

def test_residual_towers_start_as_identity():
    model = towers.TowerModel(8)
    x = torch.randn(3, 8)
    assert torch.equal(model.encode_queries(x), x) and torch.equal(model.encode_documents(x), x)
    assert not torch.equal(towers.TowerModel(8, residual=False).encode_queries(x), x)
    with pytest.raises(ValueError, match="out_dim=4 must equal dim=8"):
        towers.ProjectionTower(8, residual=True, out_dim=4)


def test_shared_vs_twin_parameters():
    shared, twin = towers.TowerModel(8, shared=True), towers.TowerModel(8, shared=False)
    assert shared.query_tower is shared.doc_tower
    assert sum(p.numel() for p in twin.parameters()) == 2 * sum(p.numel() for p in shared.parameters())


def test_gradients_reach_only_the_tower_that_was_used():
    model = towers.TowerModel(8)
    model.encode_queries(torch.randn(4, 8, generator=torch.Generator().manual_seed(0))).sum().backward()
    assert all(p.grad is not None for p in model.query_tower.parameters())
    assert all(p.grad is None for p in model.doc_tower.parameters())


def test_group_scores_are_each_querys_cosines_with_its_own_candidates_through_the_towers():
    rng = np.random.default_rng(0)
    Q, G = rng.normal(size=(5, 8)).astype(np.float32), rng.normal(size=(5, 3, 8)).astype(np.float32)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)
    got = towers.group_scores(towers.TowerModel(8), Q, G)                 # identity towers: plain cosines
    np.testing.assert_allclose(got, np.einsum("nd,nmd->nm", unit(Q), unit(G)), atol=1e-5)
    model = towers.TowerModel(8, shared=False)
    with torch.no_grad():
        model.doc_tower.net.weight.copy_(torch.as_tensor(rng.normal(size=(8, 8)), dtype=torch.float32))
    Wd = np.eye(8) + model.doc_tower.net.weight.detach().numpy().T          # the document tower only
    np.testing.assert_allclose(towers.group_scores(model, Q, G),
                               np.einsum("nd,nmd->nm", unit(Q), unit(G @ Wd)), atol=1e-4)
    for bad_q, bad_g in [(Q[:4], G), (Q, G[:, :, :7]), (Q, G[:, 0])]:
        with pytest.raises(ValueError, match=r"queries must be \(n, dim\) and groups \(n, m, dim\)"):
            towers.group_scores(model, bad_q, bad_g)


# --------------------------------------------------------------------------- training

def paired_data(n=600, dim=16, seed=0):
    """Documents are a fixed rotation of their queries plus noise: a twin tower can learn the map."""
    R, _ = np.linalg.qr(np.random.default_rng(42).normal(size=(dim, dim)))   # one map for every split
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, dim)).astype(np.float32)
    D = (Q @ R + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)
    return Q, D


def task_from(Q, D):
    ids = [f"i{i}" for i in range(len(Q))]
    return corpora.RetrievalTask(ids, Q, ids, D, {i: {i: 1} for i in ids})


def test_training_improves_dev_and_records_the_monitor():
    Q, D = paired_data()
    dev = task_from(*paired_data(200, seed=1))
    model = towers.TowerModel(16)
    cfg = train.TrainConfig(epochs=4, batch_size=32, lr=3e-3, device="cpu", monitor_size=128)
    hist = train.train_towers(model, Q, D, cfg, dev=dev, progress=False)
    assert [r["epoch"] for r in hist.records][0] == 0 and len(hist.records) >= 2
    assert hist.records[-1]["loss"] < hist.records[0]["loss"]
    assert max(hist.column("dev_ndcg10")) > hist.records[0]["dev_ndcg10"] + 0.1
    assert hist.best_epoch == int(np.argmax(hist.column("dev_ndcg10")))
    after = train.evaluate_towers(model, dev, "cosine")["NDCG@10"]
    assert after == pytest.approx(max(hist.column("dev_ndcg10")))   # the best epoch is restored


def test_monitor_statistics_by_hand():
    model = towers.TowerModel(2)                          # identity at start
    q = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    stats = train.monitor(model, q, d, train.TrainConfig(normalize=False, temperature=1.0))
    assert stats["pos_sim"] == pytest.approx((3 + 2) / 2)   # diagonal of q @ d.T
    assert stats["neg_sim"] == pytest.approx(0.0)
    assert stats["q_norm_mean"] == pytest.approx(2.0) and stats["d_norm_mean"] == pytest.approx(1.5)
    assert stats["q_norm_std"] == pytest.approx(float(torch.tensor([3.0, 1.0]).std()))
    assert stats["q_std"] == pytest.approx(float(q.std()))
    cos = train.monitor(model, q, d, train.TrainConfig(normalize=True))
    assert cos["pos_sim"] == pytest.approx(1.0)


def test_training_is_seeded():
    """Randomly initialised towers (residual=False), built one after the other: the same model seed and the
    same TrainConfig.seed give the same run; another model seed gives another."""
    Q, D = paired_data(200)
    cfg = train.TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu")
    a, b = towers.TowerModel(16, residual=False), towers.TowerModel(16, residual=False)
    assert a.query_tower.net.weight.abs().sum() > 0
    ha = train.train_towers(a, Q, D, cfg, progress=False)
    hb = train.train_towers(b, Q, D, cfg, progress=False)
    assert ha.column("loss") == hb.column("loss")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    hc = train.train_towers(towers.TowerModel(16, residual=False, seed=1), Q, D, cfg, progress=False)
    assert hc.column("loss") != ha.column("loss")


def test_batch_statistics_in_batch_accuracy_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    d = torch.tensor([[1.0, 0.0], [1.0, -0.1], [0.0, -1.0]])
    # cosine rows: query 0 its own (1 > 0.995 > 0); query 1 prefers doc 0 (0 > -0.0995); query 2 its own (1)
    stats = train.batch_statistics(q, d, normalize=True)
    assert stats["in_batch_acc"] == pytest.approx(2 / 3)
    assert train.batch_statistics(q, q, normalize=True)["in_batch_acc"] == pytest.approx(1.0)
    tie = torch.ones(2, 2)
    assert train.batch_statistics(tie, tie)["in_batch_acc"] == 0.0       # a tie is not a win


def test_custom_loss_step_and_statistics_are_the_ones_used():
    Q, D = paired_data(200)
    cfg = train.TrainConfig(epochs=2, batch_size=32, lr=1e-2, device="cpu")
    calls = {"loss": 0, "step": 0, "stats": 0}

    def my_loss(q, d, temperature, normalize):
        calls["loss"] += 1
        return losses.info_nce(q, d, temperature, normalize)

    def my_step(model, optimizer, q_in, d_in, batch_loss):
        calls["step"] += 1
        return train.training_step(model, optimizer, q_in, d_in, batch_loss)

    def my_stats(q, d, normalize):
        calls["stats"] += 1
        return {**train.batch_statistics(q, d, normalize), "mine": 1.0}

    ref = train.train_towers(towers.TowerModel(16, residual=False), Q, D, cfg, progress=False)
    got = train.train_towers(towers.TowerModel(16, residual=False), Q, D, cfg, progress=False,
                             loss_fn=my_loss, step_fn=my_step, statistics_fn=my_stats)
    assert got.column("loss") == ref.column("loss") and got.column("pos_sim") == ref.column("pos_sim")
    assert calls["step"] == 2 * math.ceil(200 / 32) and calls["stats"] == 3 and calls["loss"] > calls["step"]
    assert got.column("mine") == [1.0, 1.0, 1.0]

    def lazy_step(model, optimizer, q_in, d_in, batch_loss):        # forgets optimizer.step()
        q, d = model(q_in, d_in)
        loss = batch_loss(q, d)
        loss.backward()
        return loss.item()

    model = towers.TowerModel(16, residual=False)
    before = [p.detach().clone() for p in model.parameters()]
    train.train_towers(model, Q, D, cfg, progress=False, step_fn=lazy_step)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_custom_loss_and_step_errors():
    Q, D = paired_data(64)
    cfg = train.TrainConfig(epochs=1, batch_size=32, device="cpu")
    hard = mining.mine_hard_negatives(Q, D, [[i] for i in range(len(Q))], n=2, depth=10)
    with pytest.raises(ValueError, match="fifth argument"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, doc_bank=D, hard_negative_ids=hard, progress=False,
                           loss_fn=lambda q, d, t, n: losses.info_nce(q, d, t, n))
    with pytest.raises(TypeError, match="step_fn must return"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, step_fn=lambda *a: None)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, step_fn=lambda *a: float("nan"))
    with pytest.raises(TypeError, match="statistics_fn must return a dict"):
        train.train_towers(towers.TowerModel(16), Q, D, cfg, progress=False, statistics_fn=lambda q, d, n: 1.0)


def test_training_with_hard_negatives_runs_and_validates_ids():
    Q, D = paired_data(200)
    hard = mining.mine_hard_negatives(Q, D, [[i] for i in range(len(Q))], n=2, depth=10)
    model = towers.TowerModel(16)
    cfg = train.TrainConfig(epochs=1, batch_size=32, device="cpu")
    hist = train.train_towers(model, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, progress=False)
    # the towers start as the identity (zero-initialised) and training is seeded: the monitor's loss fell
    # 12.039 -> 11.972 (-0.067) in this epoch's 7 steps at lr 1e-4; no step at all would leave it unchanged
    assert hist.records[0]["loss"] - hist.records[1]["loss"] > 0.03
    with pytest.raises(ValueError, match="indices into doc_bank"):
        train.train_towers(model, Q, D, cfg, doc_bank=D[:5], hard_negative_ids=hard, progress=False)
    with pytest.raises(ValueError, match="pass doc_bank too"):
        train.train_towers(model, Q, D, cfg, hard_negative_ids=hard, progress=False)


def test_distillation_pulls_the_student_toward_the_teacher():
    Q, D = paired_data(200)
    hard = mining.mine_hard_negatives(Q, D, [[i] for i in range(len(Q))], n=2, depth=10)
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(len(Q), 3)).astype(np.float32) * 5       # a teacher with its own, odd opinion
    cfg = train.TrainConfig(epochs=3, batch_size=32, lr=3e-3, device="cpu", distill_weight=5.0)

    def agreement(model):   # KL of the student's softmax over (positive, negatives) from the teacher's
        with torch.no_grad():
            q, d = model(torch.as_tensor(Q), torch.as_tensor(D))
            negs = model.encode_documents(torch.as_tensor(D[hard.reshape(-1)])).reshape(len(Q), 2, -1)
            cand = torch.nn.functional.normalize(torch.cat([d[:, None], negs], 1), dim=-1)
            s = (torch.nn.functional.normalize(q, dim=-1)[:, None] * cand).sum(-1) / cfg.temperature
            return float(losses.kl_distillation(s, torch.as_tensor(teacher)))

    plain, distilled = towers.TowerModel(16), towers.TowerModel(16)
    train.train_towers(plain, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, progress=False)
    train.train_towers(distilled, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, teacher_scores=teacher, progress=False)
    assert agreement(distilled) < 0.8 * agreement(plain)
    half = teacher.copy()
    half[::2] = np.nan                                                    # no teacher for every other pair
    partial = towers.TowerModel(16)
    train.train_towers(partial, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, teacher_scores=half, progress=False)
    assert agreement(distilled) < agreement(partial) < agreement(plain)
    with pytest.raises(ValueError, match="pass hard_negative_ids"):
        train.train_towers(plain, Q, D, cfg, teacher_scores=teacher, progress=False)
    with pytest.raises(ValueError, match=r"teacher_scores must be \(N=200, 1 \+ n=3\)"):
        train.train_towers(plain, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, teacher_scores=teacher[:, :2],
                           progress=False)
    bad = teacher.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="whole row NaN"):
        train.train_towers(plain, Q, D, cfg, doc_bank=D, hard_negative_ids=hard, teacher_scores=bad, progress=False)


def test_training_errors():
    Q, D = paired_data(50)
    model = towers.TowerModel(16)
    with pytest.raises(ValueError, match="differ: row i of each is one pair"):
        train.train_towers(model, Q, D[:40], train.TrainConfig(device="cpu"), progress=False)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        train.train_towers(model, Q, D, train.TrainConfig(temperature=0, device="cpu"), progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        train.train_towers(model, Q[:0], D[:0], train.TrainConfig(device="cpu"), progress=False)
    bad = Q.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train.train_towers(model, bad, D, train.TrainConfig(device="cpu"), progress=False)


@pytest.mark.parametrize("shared", [False, True])
def test_checkpoint_round_trip_is_bit_exact(tmp_path, shared):
    Q, D = paired_data(100)
    model = towers.TowerModel(16, shared=shared, hidden=8)
    hist = train.train_towers(model, Q, D, train.TrainConfig(epochs=1, batch_size=16, lr=1e-2, device="cpu"),
                              progress=False)
    path = checkpoints.save_checkpoint(model, tmp_path / "towers.safetensors", hist)
    back, back_hist = checkpoints.load_checkpoint(path)
    assert back.config == model.config and back_hist.records == hist.records
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    assert (back.query_tower is back.doc_tower) == shared
    with pytest.raises(FileExistsError, match="overwrite=True"):
        checkpoints.save_checkpoint(model, path)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train and save_checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "none.safetensors")
    path = checkpoints.save_checkpoint(towers.TowerModel(4), tmp_path / "m.safetensors")
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoints.load_checkpoint(path)
    path.with_name("m.safetensors.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"m.safetensors.json is corrupt .*retrain"):
        checkpoints.load_checkpoint(path)
    path.with_name("m.safetensors.json").write_text('{"type": "NoSuchModel", "config": {}}')
    with pytest.raises(ValueError, match=r"m.safetensors.json is corrupt .*retrain"):
        checkpoints.load_checkpoint(path)


# --------------------------------------------------------------------------- mining

def test_mined_negatives_exclude_positives_and_respect_the_guard():
    rng = np.random.default_rng(0)
    D = rng.normal(size=(50, 8)).astype(np.float32)
    Q = D[:10] + 0.01 * rng.normal(size=(10, 8)).astype(np.float32)
    D[10] = D[0]                                  # an unjudged exact copy of query 0's answer
    positives = [[i] for i in range(10)]
    neg = mining.mine_hard_negatives(Q, D, positives, n=3, depth=20)
    assert neg.shape == (10, 3)
    for i in range(10):
        assert i not in neg[i] and len(set(neg[i].tolist())) == 3
    assert 10 not in neg[0], "a copy of the positive scores like the positive: the guard must drop it"
    unguarded = mining.mine_hard_negatives(Q, D, positives, n=3, depth=20, max_ratio=np.inf)
    assert unguarded[0, 0] == 10
    cos = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (D / np.linalg.norm(D, axis=1, keepdims=True)).T
    ranked = [j for j in np.argsort(-cos[3]) if j != 3]
    assert unguarded[3].tolist() == ranked[:3], "hard = the top-ranked non-positives"
    skipped = mining.mine_hard_negatives(Q, D, positives, n=3, depth=20, skip_top=2, max_ratio=np.inf)
    assert skipped[3].tolist() == ranked[2:5]
    strict, filled = mining.mine_hard_negatives(Q, D, positives, n=3, depth=20, max_ratio=-1.0, return_filled=True)
    assert filled.all(), "a guard that rejects everything leaves only random fills, and says so"
    assert all(i not in strict[i] for i in range(10))
    _, none_filled = mining.mine_hard_negatives(Q, D, positives, n=3, depth=20, max_ratio=np.inf, return_filled=True)
    assert not none_filled.any()


def test_mining_errors():
    D = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError, match="one list per query"):
        mining.mine_hard_negatives(D[:2], D, [[0]], n=1, depth=2)
    with pytest.raises(ValueError, match="too few"):
        mining.mine_hard_negatives(D[:2], D, [[0], [1]], n=3, depth=3)
    with pytest.raises(ValueError, match="metric must be 'cosine' or 'ip'"):
        mining.mine_hard_negatives(D[:2], D, [[0], [1]], n=1, depth=2, metric="l2")


# --------------------------------------------------------------------------- export

@pytest.mark.parametrize("shared", [False, True])
def test_sentence_transformers_export_reproduces_asymkit(tmp_path, tmp_cache, shared):
    from sentence_transformers import SentenceTransformer

    from asymkit import encoders, export

    texts = ["Return the sum of two numbers.", "Open a file and return a stream object."]
    enc = encoders.BiEncoder(device="cpu")
    X = enc.encode(texts)                                            # the towers' input: normalised MiniLM
    model = towers.TowerModel(384, shared=shared)
    with torch.no_grad():                                            # make the two towers really different
        g = torch.Generator().manual_seed(0)
        model.query_tower.net.weight.normal_(0, 0.05, generator=g)
        model.doc_tower.net.bias.normal_(0, 0.05, generator=g)
    path = export.export_sentence_transformers(model, tmp_path / "st", similarity="dot")
    st = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    np.testing.assert_allclose(st.encode_query(texts), towers.encode(model.encode_queries, X), atol=1e-5)
    np.testing.assert_allclose(st.encode_document(texts), towers.encode(model.encode_documents, X), atol=1e-5)
    assert st.similarity_fn_name == "dot"
    if not shared:
        assert not np.allclose(st.encode_query(texts), st.encode_document(texts), atol=1e-3)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_sentence_transformers(model, path)


def test_mlp_towers_do_not_export(tmp_path):
    from asymkit import export

    with pytest.raises(ValueError, match="only linear towers"):
        export.export_sentence_transformers(towers.TowerModel(384, hidden=16), tmp_path / "x")


# --------------------------------------------------------------------------- fine-tuning the transformer

def test_transformer_tower_fine_tunes_only_its_top_layers(tmp_cache):
    from asymkit import encoders

    queries = ["Return the sum of two numbers.", "Open a file for reading.", "Sort a list in place.",
               "Parse a date string.", "Join path components.", "Compute a SHA-1 digest."]
    docs = ["Adds a and b and returns the result.", "The file is opened in text mode by default.",
            "The sort is stable; the list is modified.", "The format follows ISO 8601.",
            "Separators are inserted between the parts.", "The digest is returned as bytes."]
    model = towers.TransformerTowerModel(shared=True, train_layers=1, device="cpu")
    layers = model.query_tower.st[0].auto_model.encoder.layer
    top_before = [p.detach().clone() for p in layers[-1].parameters()]
    low_before = [p.detach().clone() for p in layers[0].parameters()]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".encoder.layer.5." in n for n in trainable), "only the top layer trains"

    # before training, the tower is exactly the pretrained encoder
    start = towers.encode(model.encode_queries, queries[:2], normalize=True)
    np.testing.assert_allclose(start, encoders.BiEncoder(device="cpu").encode(queries[:2]), atol=1e-5)

    cfg = train.TrainConfig(epochs=2, batch_size=3, lr=1e-4, device="cpu", monitor_size=6)
    hist = train.train_towers(model, queries, docs, cfg, progress=False)
    assert len(hist.records) == 3 and np.isfinite(hist.column("loss")).all()
    assert any(not torch.equal(a, b) for a, b in zip(top_before, layers[-1].parameters())), "the top layer moved"
    assert all(torch.equal(a, b) for a, b in zip(low_before, layers[0].parameters())), "the frozen layers did not"
    with pytest.raises(ValueError, match="train_layers must be between 0 and 6"):
        towers.TransformerTower(train_layers=7, device="cpu")


def test_transformer_twin_towers_are_separate_networks(tmp_cache):
    model = towers.TransformerTowerModel(shared=False, train_layers=0, device="cpu")
    assert model.query_tower is not model.doc_tower
    assert not any(p.requires_grad for p in model.parameters())


class _DeviceProbe(torch.nn.Module):
    """Towers whose weights live on another device ("meta" stands in for a GPU): records where inputs arrive."""

    def __init__(self, device="meta"):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2, device=device))
        self.seen = []

    def _tower(self, x):
        self.seen.append(x.device.type)
        out = torch.tensor(np.random.default_rng(len(self.seen)).normal(size=(len(x), 4)), dtype=torch.float32,
                           requires_grad=True)
        return out * 1.0                       # like a real tower: needs grad unless encoded under no_grad

    encode_queries = encode_documents = _tower


def test_towers_are_encoded_where_the_model_is():
    """A model trained on a GPU (the default device when one is present) is encoded on that GPU: the lessons call
    encode / evaluate_towers / group_scores without a device, and CPU inputs to GPU weights would crash."""
    X = np.ones((5, 3), dtype=np.float32)
    probe = _DeviceProbe()
    assert towers.encode(probe.encode_queries, X, batch_size=2).shape == (5, 4)
    assert probe.seen == ["meta"] * 3
    task = corpora.RetrievalTask(["q0", "q1"], X[:2], ["d0", "d1", "d2"], X[:3], {"q0": {"d0": 1}, "q1": {"d2": 1}})
    probe.seen.clear()
    assert 0.0 <= train.evaluate_towers(probe, task, "cosine", ["NDCG@10"])["NDCG@10"] <= 1.0
    assert probe.seen == ["meta", "meta"], "evaluate_towers without a device uses the model's"
    probe.seen.clear()
    assert towers.group_scores(probe, X[:2], np.ones((2, 3, 3), dtype=np.float32)).shape == (2, 3)
    assert probe.seen == ["meta", "meta"]
    probe.seen.clear()
    towers.encode(probe.encode_queries, X, device="cpu")
    assert probe.seen == ["cpu"], "an explicit device still wins"
    assert towers.encode(lambda x: x * 2, X).shape == (5, 3), "a plain function runs on the CPU"


def test_transformer_tower_max_length_cuts_both_towers_and_survives_a_checkpoint(tmp_path, tmp_cache):
    from asymkit import encoders

    long = ["Sort a list in place. " + "The file is opened in text mode by default, unless told otherwise. " * 30]
    model = towers.TransformerTowerModel(shared=False, train_layers=0, device="cpu", max_length=16)
    assert model.query_tower.st.max_seq_length == 16 and model.doc_tower.st.max_seq_length == 16
    cut = towers.encode(model.encode_documents, long, normalize=True)
    np.testing.assert_allclose(cut, encoders.BiEncoder(device="cpu", max_seq_length=16, cache=False).encode(long),
                               atol=1e-5)
    full = towers.encode(towers.TransformerTowerModel(train_layers=0, device="cpu").encode_documents, long,
                         normalize=True)
    assert float((cut @ full.T)[0, 0]) < 0.99, "16 tokens of this text must not embed like 256"
    back, _ = checkpoints.load_checkpoint(checkpoints.save_checkpoint(model, tmp_path / "cut.safetensors"))
    assert back.config["max_length"] == 16 and back.doc_tower.st.max_seq_length == 16
    for bad in (0, 1, 2.5, True, "16"):
        with pytest.raises(ValueError, match="max_length must be"):
            towers.TransformerTower(train_layers=0, device="cpu", max_length=bad)


def test_transformer_checkpoint_round_trip_is_bit_exact(tmp_path):
    model = towers.TransformerTowerModel(shared=True, train_layers=1, device="cpu")
    with torch.no_grad():                        # stand-in for training: move the trainable layer
        for p in model.query_tower.st[0].auto_model.encoder.layer[-1].parameters():
            p.add_(0.01)
    path = checkpoints.save_checkpoint(model, tmp_path / "ft.safetensors")
    back, _ = checkpoints.load_checkpoint(path)
    assert isinstance(back, towers.TransformerTowerModel) and back.config == model.config
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)


# --------------------------------------------------------------------------- lesson 06: the loss switch and the alarm

def test_loss_switch_changes_only_the_similarity(batch):
    q, d, _ = batch
    qn, dn = F.normalize(q, dim=1), F.normalize(d, dim=1)
    for t in (0.05, 1.0):           # on unit vectors the switch changes nothing
        assert losses.info_nce(qn, dn, t, True).item() == pytest.approx(losses.info_nce(qn, dn, t, False).item(), rel=1e-5)
    # cosine ignores length; the raw dot product does not
    assert losses.info_nce(4 * q, d, 0.1, True).item() == pytest.approx(losses.info_nce(q, d, 0.1, True).item(), rel=1e-5)
    assert losses.info_nce(4 * q, d, 0.1, False).item() != pytest.approx(losses.info_nce(q, d, 0.1, False).item(), rel=1e-3)
    # the temperature divides the similarity in both
    S = qn @ dn.T
    assert losses.info_nce(qn, dn, 0.5, False).item() == pytest.approx(
        F.cross_entropy(S / 0.5, torch.arange(5)).item(), rel=1e-5)


def _records(q_norms, d_norms, pos=None):
    pos = pos or [0.5] * len(q_norms)
    return [{"epoch": e, "q_norm_mean": a, "d_norm_mean": b, "pos_sim": p}
            for e, (a, b, p) in enumerate(zip(q_norms, d_norms, pos))]


def test_magnitude_alarm_on_synthetic_histories():
    assert train.magnitude_alarm(_records([1, 1, 1], [1, 1, 1], [0.4, 0.6, 0.7])) is None        # healthy cosine run
    assert train.magnitude_alarm(_records([0.8, 0.7, 0.6], [0.8, 0.7, 0.6])) is None             # shrinking is fine
    msg = train.magnitude_alarm(_records([0.8, 1.9, 2.6], [0.8, 1.8, 2.4], [0.0, 1.9, 3.8]))
    assert msg.startswith("epoch 1:") and "magnitude cheating" in msg
    assert train.magnitude_alarm(_records([1, 1.3, 1.69, 2.2], [1, 1, 1, 1])).startswith("epoch 2:")  # vs epoch 0
    assert train.magnitude_alarm(_records([1, 1.1], [1, 1.1], [0.5, 1.2])).startswith("epoch 1:")   # pos > 1, growing
    assert train.magnitude_alarm(_records([1, 1.1], [1, 1.1], [0.5, 1.2]), max_growth=2.0) is not None
    assert train.magnitude_alarm(_records([1, 0.9], [1, 0.9], [0.5, 1.2])) is None               # pos > 1 alone is not
    with pytest.raises(ValueError, match="empty"):
        train.magnitude_alarm([])


def test_raw_dot_recipe_grows_norms_and_cosine_keeps_scores_bounded():
    Q, D = paired_data(400)
    cfg = train.TrainConfig(epochs=3, batch_size=32, lr=3e-3, temperature=1.0, normalize=False, device="cpu")
    raw = train.train_towers(towers.asymmetric_projection_model(16), Q, D, cfg, progress=False)
    assert train.magnitude_alarm(raw) is not None
    cos_cfg = train.TrainConfig(**{**cfg.__dict__, "normalize": True, "temperature": 0.05})
    cos = train.train_towers(towers.asymmetric_projection_model(16), Q, D, cos_cfg, progress=False)
    assert max(abs(x) for x in cos.column("pos_sim")) <= 1.0 + 1e-6
    assert train.magnitude_alarm(cos) is None


def test_asymmetric_projection_model_is_twin_and_random_start():
    m = towers.asymmetric_projection_model(8)
    assert m.query_tower is not m.doc_tower and not m.query_tower.residual
    x = torch.randn(3, 8)
    assert not torch.allclose(m.encode_queries(x), x)
    assert isinstance(towers.asymmetric_projection_model(8, hidden=16).query_tower.net, torch.nn.Sequential)


def test_restore_best_false_keeps_the_last_epoch():
    Q, D = paired_data(200)
    dev = task_from(*paired_data(100, seed=1))
    cfg = train.TrainConfig(epochs=3, batch_size=32, lr=3e-3, patience=3, restore_best=False, device="cpu")
    model = towers.TowerModel(16)
    hist = train.train_towers(model, Q, D, cfg, dev=dev, progress=False)
    assert train.evaluate_towers(model, dev, "cosine")["NDCG@10"] == pytest.approx(hist.records[-1]["dev_ndcg10"])
