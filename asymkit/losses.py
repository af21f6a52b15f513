"""Contrastive losses for bi-encoders and twin towers.

InfoNCE with in-batch negatives: for a batch of B (query, positive document) pairs,
every other query's positive is a negative for this query, so one matrix product gives
a B-way classification problem whose right answer is the diagonal:

    S = sim(Q, D) / temperature          # (B, B [+ B*n hard negatives])
    loss = cross_entropy(S, labels=[0, 1, ..., B-1])

``normalize=True`` makes ``sim`` the cosine; ``False`` uses the raw dot product, which
lets a model lower the loss by growing vector norms instead of learning directions
(lesson 06). The temperature sets how peaked the softmax is: small values
(0.02-0.1) punish the hardest negatives most and suit cosine scores in [-1, 1]; 1.0
with cosine gives a weak, flat signal. With normalisation, ``scale = 1 / temperature``
(sentence-transformers' MultipleNegativesRankingLoss uses scale 20, i.e. temperature 0.05).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _check_pair(q: torch.Tensor, d: torch.Tensor) -> None:
    if q.ndim != 2 or d.ndim != 2:
        raise ValueError(f"queries and documents must be (B, dim) tensors, got {tuple(q.shape)} and {tuple(d.shape)}")
    if q.shape[0] == 0:
        raise ValueError("the batch is empty: pass at least one (query, document) pair")
    if q.shape != d.shape:
        raise ValueError(f"mismatched batch: queries {tuple(q.shape)} vs positive documents {tuple(d.shape)}; "
                         "row i of each must be one pair")


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}: it divides the similarities")


def similarity(q: torch.Tensor, d: torch.Tensor, normalize: bool) -> torch.Tensor:
    """``(B, dim) x (M, dim) -> (B, M)``: cosine if ``normalize`` else the raw dot product."""
    if normalize:
        q, d = F.normalize(q, p=2, dim=-1), F.normalize(d, p=2, dim=-1)
    return q @ d.T


def _candidates(q: torch.Tensor, d: torch.Tensor, hard_negatives: torch.Tensor | None) -> torch.Tensor:
    """Every query's candidates: the batch's documents ``(B, dim)``, then the ``(B, n, dim)`` hard negatives, if any,
    flattened: ``(B + B*n, dim)``."""
    if hard_negatives is None:
        return d
    if hard_negatives.ndim != 3 or hard_negatives.shape[0] != q.shape[0] or hard_negatives.shape[2] != q.shape[1]:
        raise ValueError(f"hard_negatives must be (B={q.shape[0]}, n, dim={q.shape[1]}), "
                         f"got {tuple(hard_negatives.shape)}")
    return torch.cat([d, hard_negatives.reshape(-1, d.shape[1])])


def info_nce(q: torch.Tensor, d: torch.Tensor, temperature: float = 0.05, normalize: bool = True,
             hard_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with in-batch negatives (and optional hard negatives), averaged over the batch.

    Args:
        q: ``(B, dim)`` query embeddings.
        d: ``(B, dim)`` their positive documents (row i answers query i).
        temperature: divides the similarities, > 0.
        normalize: cosine (True) or raw dot product (False).
        hard_negatives: ``(B, n, dim)`` extra negatives; every query is scored against all B*n of them.
    """
    _check_pair(q, d)
    _check_temperature(temperature)
    candidates = _candidates(q, d, hard_negatives)                    # (B, dim) or (B + B*n, dim)
    scores = similarity(q, candidates, normalize) / temperature       # (B, B [+ B*n])
    labels = torch.arange(q.shape[0], device=q.device)                # the diagonal is right
    return F.cross_entropy(scores, labels)


def margin_loss(q: torch.Tensor, d_pos: torch.Tensor, d_neg: torch.Tensor, margin: float = 0.2,
                normalize: bool = True) -> torch.Tensor:
    """Triplet margin loss: ``mean(relu(margin - s(q, d+) + s(q, d-)))``.

    ``d_neg`` is ``(B, dim)`` (one negative per query) or ``(B, n, dim)`` (averaged over n).
    """
    _check_pair(q, d_pos)
    if d_neg.ndim == 2:
        d_neg = d_neg[:, None, :]
    if d_neg.shape[0] != q.shape[0] or d_neg.shape[2] != q.shape[1]:
        raise ValueError(f"negatives must be (B={q.shape[0]}, [n,] dim={q.shape[1]}), got {tuple(d_neg.shape)}")
    if normalize:
        q, d_pos, d_neg = (F.normalize(x, p=2, dim=-1) for x in (q, d_pos, d_neg))
    s_pos = (q * d_pos).sum(-1)                                       # (B,)
    s_neg = torch.einsum("bd,bnd->bn", q, d_neg)                      # (B, n)
    return F.relu(margin - s_pos[:, None] + s_neg).mean()


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce`: ``loss_fn(q, d, hard_negatives=None)``.

    Defaults: cosine (``normalize=True``) at ``temperature=0.05``, the standard for
    retrieval fine-tuning. Prefer it whenever a batch of pairs is all you have; add hard
    negatives when in-batch negatives become too easy.
    """

    def __init__(self, temperature: float = 0.05, normalize: bool = True):
        super().__init__()
        _check_temperature(temperature)
        self.temperature, self.normalize = temperature, normalize

    def forward(self, q, d, hard_negatives=None):
        return info_nce(q, d, self.temperature, self.normalize, hard_negatives)


class MarginLoss(nn.Module):
    """Module form of :func:`margin_loss`. Needs explicit negatives; cares only about the
    order of positive vs negative up to ``margin``, so it gives no signal once pairs are separated."""

    def __init__(self, margin: float = 0.2, normalize: bool = True):
        super().__init__()
        self.margin, self.normalize = margin, normalize

    def forward(self, q, d_pos, d_neg):
        return margin_loss(q, d_pos, d_neg, self.margin, self.normalize)



def in_batch_margin(q: torch.Tensor, d: torch.Tensor, margin: float = 0.2, normalize: bool = True,
                    hard_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """Triplet margin loss over the same candidates as :func:`info_nce`, averaged over every (query, negative) pair.

    For query ``i`` the negatives are the other ``B - 1`` documents of the batch (and all ``B * n`` hard
    negatives, if given, ``(B, n, dim)``): ``mean_{i, j != i} relu(margin - s(q_i, d_i) + s(q_i, d_j))``.
    Where InfoNCE's softmax weighs each negative by how close it scores to the positive, here every negative
    that is already ``margin`` below the positive contributes nothing, and the others count equally.
    """
    _check_pair(q, d)
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}: it is how far below the positive a negative must score")
    candidates = _candidates(q, d, hard_negatives)                    # (B, dim) or (B + B*n, dim)
    S = similarity(q, candidates, normalize)                          # (B, B [+ B*n])
    B = q.shape[0]
    pos = S[torch.arange(B), torch.arange(B)]                         # (B,) the diagonal
    is_neg = torch.ones_like(S, dtype=torch.bool)
    is_neg[torch.arange(B), torch.arange(B)] = False                  # every other column is a negative
    if not is_neg.any():
        raise ValueError("one pair and no hard negatives: there is no negative to compare with, use B >= 2")
    return F.relu(margin - pos[:, None] + S)[is_neg].mean()


class InBatchMarginLoss(nn.Module):
    """:func:`in_batch_margin` with the call of :func:`asymkit.train.train_towers`' ``loss_fn``:
    ``loss_fn(q, d, temperature, normalize, hard_negatives=None)``.

    A margin loss has no temperature: the one the loop passes is ignored, ``margin`` plays its part
    (cosines, so 0.1-0.5 are the usual values; choose on dev). Prefer InfoNCE unless you need scores with
    a fixed gap between answers and non-answers.

    >>> train.train_towers(model, Q, D, config, loss_fn=InBatchMarginLoss(margin=0.2))
    """

    def __init__(self, margin: float = 0.2):
        super().__init__()
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = margin

    def forward(self, q, d, temperature=None, normalize=True, hard_negatives=None):
        return in_batch_margin(q, d, self.margin, normalize, hard_negatives)

# --------------------------------------------------------------------------- reranker losses
# Scores here are a cross-encoder's (or any scorer's) outputs for groups of candidates: a
# ``(B, 1 + n)`` matrix whose column 0 is the query's positive and columns 1..n its negatives.

def _check_group(scores: torch.Tensor) -> None:
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] < 2:
        raise ValueError(f"scores must be (B, 1 + n) with B >= 1 and n >= 1 (column 0 = the positive), "
                         f"got {tuple(scores.shape)}")


def listwise_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Listwise loss: softmax over each row, cross-entropy against column 0 (the positive).

    ``mean_i( -log( exp(s_i0) / sum_j exp(s_ij) ) )``; the scores are used as logits.
    """
    _check_group(scores)
    return F.cross_entropy(scores, torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device))


def pairwise_margin(pos: torch.Tensor, neg: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Pairwise hinge loss: ``mean(relu(margin - s+ + s-))`` over every (positive, negative) pair.

    ``pos`` is ``(B,)``, ``neg`` is ``(B,)`` or ``(B, n)``.
    """
    if neg.ndim == 1:
        neg = neg[:, None]
    if pos.ndim != 1 or neg.ndim != 2 or neg.shape[0] != pos.shape[0] or pos.shape[0] == 0:
        raise ValueError(f"pos must be (B,) and neg (B,) or (B, n), got {tuple(pos.shape)} and {tuple(neg.shape)}")
    return F.relu(margin - pos[:, None] + neg).mean()


def pointwise_bce(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Pointwise loss: binary cross-entropy of ``sigmoid(score)`` against 0/1 labels, same shape."""
    if scores.shape != labels.shape or scores.numel() == 0:
        raise ValueError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} must have the same, "
                         "non-empty shape")
    return F.binary_cross_entropy_with_logits(scores, labels.to(scores.dtype))


def kl_distillation(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Distillation over a candidate list: ``T^2 * KL(softmax(teacher / T) || softmax(student / T))``,
    averaged over the B rows of the ``(B, m)`` score matrices (Hinton et al., 2015).

    The ``T^2`` factor is Hinton et al.'s (2015, "Distilling the Knowledge in a Neural Network"):
    the gradient of the softened KL with respect to the student's scores shrinks roughly as
    ``1 / T^2`` (for large ``T``, per row of ``m`` scores, it tends to ``(s - mean(s) - t + mean(t)) / (m T^2)``),
    so multiplying by ``T^2`` keeps its magnitude about the same whatever the temperature.
    The distillation weight and the temperature then stay separate knobs: changing ``T`` changes
    how soft the targets are, not how much the term counts. At ``T = 1`` nothing changes.
    """
    if student.shape != teacher.shape or student.ndim != 2 or student.numel() == 0:
        raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} scores must be the "
                         "same (B, m) shape: one row of candidate scores per query")
    _check_temperature(temperature)
    target = F.softmax(teacher.detach() / temperature, dim=1)
    kl = F.kl_div(F.log_softmax(student / temperature, dim=1), target, reduction="batchmean")
    return kl * temperature ** 2


def margin_mse(student_pos: torch.Tensor, student_neg: torch.Tensor, teacher_pos: torch.Tensor,
               teacher_neg: torch.Tensor) -> torch.Tensor:
    """MarginMSE distillation: ``mean(((s+ - s-) - (t+ - t-))^2)``; the student copies the teacher's
    margins, not its scale. All four are ``(B,)`` or ``(B, n)`` (negatives) shaped alike."""
    s, t = student_pos[..., None] - student_neg if student_neg.ndim == 2 else student_pos - student_neg, \
        teacher_pos[..., None] - teacher_neg if teacher_neg.ndim == 2 else teacher_pos - teacher_neg
    if s.shape != t.shape:
        raise ValueError(f"student margins {tuple(s.shape)} and teacher margins {tuple(t.shape)} differ")
    return ((s - t.detach()) ** 2).mean()
