"""The BM25 miner, the false-negative estimate and the in-batch margin loss (lesson 03's comparisons)."""
import numpy as np
import pytest
import torch

from asymkit import lexical, losses, mining

DOCS = ["Read and write ZIP archives with compression.",            # 0
        "Read and write tar archives.",                              # 1
        "Compress data with the zlib library.",                      # 2
        "Create a ZIP archive of a folder.",                         # 3
        "The process runs a command and waits.",                     # 4
        "A cat sits on the mat.",                                    # 5
        "Parse command line options and arguments."]                 # 6
QUERIES = ["read zip archives", "run a shell command", "compress bytes with zlib"]
POSITIVES = [[0], [4], [2]]


def brute_ranking(query: str, positives: list[int]) -> tuple[list[int], np.ndarray]:
    """Every document by BM25 score, best first (ties by index), the positives and zero scores left out."""
    s = lexical.BM25({str(j): {"title": "", "text": t} for j, t in enumerate(DOCS)}).scores([query])[0]
    order = sorted((j for j in range(len(DOCS)) if s[j] > 0 and j not in positives), key=lambda j: (-s[j], j))
    return order, s


def test_bm25_miner_takes_the_top_lexical_non_positives():
    ids, filled = mining.mine_bm25_negatives(QUERIES, DOCS, POSITIVES, n=2, depth=5, max_ratio=np.inf,
                                             return_filled=True)
    assert ids.shape == (3, 2) and filled.shape == (3, 2)
    for i, q in enumerate(QUERIES):
        order, _ = brute_ranking(q, POSITIVES[i])
        want = order[:2]
        assert ids[i, :len(want)].tolist() == want and not filled[i, :len(want)].any()
        assert filled[i, len(want):].all(), "slots with no document sharing a word are random fills"
        assert not set(ids[i].tolist()) & set(POSITIVES[i]), "a positive is never a negative"


def test_bm25_guard_skip_top_and_fill():
    queries = ["read write zip archives", *QUERIES[1:]]      # query 0: documents 1 and 3 score apart, below 0
    order, s = brute_ranking(queries[0], [0])
    ratio = 0.5 * (s[order[0]] + s[order[1]]) / s[0]          # between the two best candidates' ratios
    assert s[order[0]] > ratio * s[0] > s[order[1]]
    guarded = mining.mine_bm25_negatives(queries, DOCS, POSITIVES, n=1, depth=5, max_ratio=ratio)
    assert guarded[0, 0] == order[1], "the guard drops a candidate scoring >= max_ratio x the positive"
    skipped = mining.mine_bm25_negatives(queries, DOCS, POSITIVES, n=1, depth=5, skip_top=1, max_ratio=np.inf)
    assert skipped[0, 0] == order[1], "skip_top drops the first ranked non-positive"
    strict, filled = mining.mine_bm25_negatives(QUERIES, DOCS, POSITIVES, n=2, depth=5, max_ratio=0.0,
                                                return_filled=True)
    assert filled.all(), "nothing scores below 0: every slot is a random fill"
    assert all(not set(row) & set(p) and len(set(row)) == 2 for row, p in zip(strict.tolist(), POSITIVES))
    again = mining.mine_bm25_negatives(QUERIES, DOCS, POSITIVES, n=2, depth=5, max_ratio=0.0)
    assert np.array_equal(strict, again), "the random fills are seeded"


def test_bm25_miner_shares_the_dense_miners_interface():
    dense = np.eye(len(DOCS), dtype=np.float32)
    for miner, Q, D in ((mining.mine_hard_negatives, dense[:3], dense), (mining.mine_bm25_negatives, QUERIES, DOCS)):
        with pytest.raises(ValueError, match="one list per query"):
            miner(Q, D, POSITIVES[:2], n=1, depth=5)
        with pytest.raises(ValueError, match="depth >= n"):
            miner(Q, D, POSITIVES, n=3, depth=3, skip_top=1)
        with pytest.raises(ValueError, match="too few"):
            miner(Q, D, POSITIVES, n=6, depth=7)
    with pytest.raises(TypeError, match="list of strings"):
        mining.mine_bm25_negatives(dense[:3], dense, POSITIVES, n=1, depth=5)
    with pytest.raises(ValueError, match="block must be"):
        mining.mine_bm25_negatives(QUERIES, DOCS, POSITIVES, n=1, depth=5, block=0)


def test_known_answers_groups_identical_queries():
    texts = ["Compute the trimmed variance.", "compute the  trimmed variance", "Compute the trimmed mean.",
             "Translate a group rank into a global rank.", "Translate a global rank into a group rank."]
    answers = mining.known_answers(texts)
    assert answers[0] == answers[1] == {0, 1}, "case, punctuation and spacing do not make another query"
    assert answers[2] == {2} and answers[3] == {3} and answers[4] == {4}, "word order and words do"
    assert mining.known_answers(texts, judged=[[0, 2], [1], [2], [3], [4]])[0] == {0, 1, 2}
    with pytest.raises(ValueError, match="one list per query"):
        mining.known_answers(texts, judged=[[0]])
    with pytest.raises(TypeError, match="list of strings"):
        mining.known_answers("Compute the trimmed variance.")


def test_false_negative_rate_counts_mined_slots_only():
    answers = [{0, 1}, {1}, {2, 3}]
    ids = np.array([[1, 2], [0, 2], [3, 0]])
    assert mining.false_negative_rate(ids, answers) == {"rate": 2 / 6, "false": 2, "mined": 6}
    filled = np.array([[True, False], [False, False], [False, True]])
    assert mining.false_negative_rate(ids, answers, filled) == {"rate": 1 / 4, "false": 1, "mined": 4}
    assert mining.false_negative_rate(ids, answers, np.ones_like(filled))["rate"] == 0.0
    with pytest.raises(ValueError, match="one row per answer set"):
        mining.false_negative_rate(ids[:2], answers)
    with pytest.raises(ValueError, match="shape of negative_ids"):
        mining.false_negative_rate(ids, answers, filled[:, :1])


def brute_margin(q, d, negs, margin, normalize):
    if normalize:
        q, d = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(d, dim=1)
        negs = None if negs is None else torch.nn.functional.normalize(negs, dim=2)
    terms = []
    for i in range(len(q)):
        others = [d[j] for j in range(len(d)) if j != i] + ([] if negs is None else list(negs.reshape(-1, q.shape[1])))
        terms += [max(0.0, margin - float(q[i] @ d[i]) + float(q[i] @ o)) for o in others]
    return sum(terms) / len(terms)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("with_negatives", [False, True])
def test_in_batch_margin_matches_brute_force(normalize, with_negatives):
    g = torch.Generator().manual_seed(0)
    q, d, negs = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(5, 2, 4, generator=g)
    negs = negs if with_negatives else None
    want = brute_margin(q, d, negs, 0.3, normalize)
    assert float(losses.in_batch_margin(q, d, 0.3, normalize, negs)) == pytest.approx(want, rel=1e-5)
    loss_fn = losses.InBatchMarginLoss(margin=0.3)                # train_towers' call; the temperature is ignored
    assert float(loss_fn(q, d, 0.05, normalize, negs)) == pytest.approx(want, rel=1e-5)


def test_in_batch_margin_is_zero_once_separated_and_checks_input():
    e = torch.eye(4)
    assert float(losses.in_batch_margin(e, e, margin=0.5)) == 0.0, "cosine 1 vs 0: separated by more than 0.5"
    assert float(losses.in_batch_margin(e, e, margin=1.5)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        losses.in_batch_margin(e, e, margin=-0.1)
    with pytest.raises(ValueError, match="hard_negatives must be"):
        losses.in_batch_margin(e, e, hard_negatives=torch.randn(4, 4))
    with pytest.raises(ValueError, match="no negative"):
        losses.in_batch_margin(e[:1], e[:1])
    with pytest.raises(ValueError, match="margin must be >= 0"):
        losses.InBatchMarginLoss(margin=-1)
