"""The anti-delegation checks the hidden tests use (asymkit.tools.grading) and the lessons' fallback."""
import functools

import pytest
import torch

from asymkit import fallback, metrics, search, towers
from asymkit.metrics import ndcg_at_k as imported_alias
from asymkit.tools import grading

RANKING, RELS = ["a", "b"], {"b": 2}


def own_ndcg(ranking, rels, k):
    return 0.5


@pytest.mark.parametrize("answer", [
    metrics.ndcg_at_k,                                        # an alias
    imported_alias,                                           # from asymkit.metrics import ndcg_at_k as ...
    functools.partial(metrics.ndcg_at_k),                     # a partial
    lambda r, rels, k: metrics.ndcg_at_k(r, rels, k),         # a wrapper
])
def test_every_way_of_calling_the_library_is_switched_off(answer):
    with grading.forbidden(metrics.ndcg_at_k):
        with pytest.raises(grading.Delegated, match="your own code"):
            answer(RANKING, RELS, 10)


def test_the_library_is_restored_after_the_block_even_when_it_fails():
    expected = metrics.ndcg_at_k(RANKING, RELS, 10)
    with pytest.raises(grading.Delegated):
        with grading.forbidden(metrics.ndcg_at_k, search.top_k):
            metrics.ndcg_at_k(RANKING, RELS, 10)
    assert metrics.ndcg_at_k(RANKING, RELS, 10) == expected
    with grading.forbidden(metrics.ndcg_at_k):
        assert own_ndcg(RANKING, RELS, 10) == 0.5             # the learner's own code runs


def test_a_class_and_its_subclasses_are_switched_off_and_restored():
    class Mine(towers.TowerModel):
        pass

    with grading.forbidden(towers.TowerModel):
        with pytest.raises(grading.Delegated):
            towers.TowerModel(4)
        with pytest.raises(grading.Delegated):
            Mine(4)
    q, d = towers.TowerModel(4)(torch.zeros(2, 4), torch.zeros(2, 4))
    assert q.shape == (2, 4)


def test_assert_own():
    for answer in (metrics.ndcg_at_k, imported_alias, functools.partial(metrics.ndcg_at_k)):
        with pytest.raises(grading.Delegated, match="not your own"):
            grading.assert_own(answer, metrics.ndcg_at_k)
    with pytest.raises(grading.Delegated, match="comes from asymkit.search"):
        grading.assert_own(search.top_k, metrics.ndcg_at_k)       # another asymkit function is not own work
    grading.assert_own(own_ndcg, metrics.ndcg_at_k)
    with pytest.raises(TypeError, match="cannot switch off"):
        with grading.forbidden(42):
            pass


def test_use_mine_falls_back_only_for_a_stub(capsys):
    def stub():
        raise NotImplementedError()

    assert fallback.use_mine(lambda: 1, lambda: 2, "Exercise 1") == 1
    assert capsys.readouterr().out == ""
    assert fallback.use_mine(stub, lambda: 2, "Exercise 1 (top_k)") == 2
    assert capsys.readouterr().out == "Exercise 1 (top_k) is not done yet: using the library's version for now\n"
    with pytest.raises(ZeroDivisionError):                       # a bug in the learner's code is shown, not hidden
        fallback.use_mine(lambda: 1 / 0, lambda: 2, "Exercise 1")


def test_mine_or_library_picks_the_learner_s_function_once_it_runs(capsys):
    def stub(x):
        raise NotImplementedError()

    def mine(x):
        return x + 1

    assert fallback.mine_or_library(mine, abs, "Exercise 2", 1) is mine
    assert fallback.mine_or_library(stub, abs, "Exercise 2 (step)", 1) is abs
    assert capsys.readouterr().out == "Exercise 2 (step) is not done yet: using the library's version for now\n"
