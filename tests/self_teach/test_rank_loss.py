"""The PRO + CE loss against values worked out by hand on a three-token vocabulary."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.self_teach.rank_loss import IGNORE, pro_pair_loss, rank_loss, sequence_logprobs


def _logits(rows: list[list[list[float]]]) -> torch.Tensor:
    """Logits whose softmax is the given probabilities (log p is a valid logit vector)."""
    return torch.tensor(rows, dtype=torch.float64).log()


UNIFORM = [1 / 3, 1 / 3, 1 / 3]
# chosen: prompt of two tokens, then tokens 0 and 1 predicted with p = 0.5 and 0.6
CHOSEN_P = [[0.9, 0.05, 0.05], [0.5, 0.25, 0.25], [0.2, 0.6, 0.2], UNIFORM]
CHOSEN_LABELS = [IGNORE, IGNORE, 0, 1]
# rejected: three prompt tokens, then token 2 predicted with p = 0.25
REJECTED_P = [UNIFORM, UNIFORM, [0.25, 0.5, 0.25], UNIFORM]
REJECTED_LABELS = [IGNORE, IGNORE, IGNORE, 2]


def test_one_pair_by_hand():
    logits = _logits([CHOSEN_P, REJECTED_P])
    labels = torch.tensor([CHOSEN_LABELS, REJECTED_LABELS])
    out = rank_loss(logits, labels, rank_weight=0.25)
    s_c = (math.log(0.5) + math.log(0.6)) / 2  # length-normalised: two response tokens
    s_r = math.log(0.25)
    ce = -(math.log(0.5) + math.log(0.6)) / 2
    rank = -math.log(math.exp(s_c) / (math.exp(s_c) + math.exp(s_r)))
    assert out.chosen_score == pytest.approx(s_c)
    assert out.rejected_score == pytest.approx(s_r)
    assert out.ce == pytest.approx(ce)
    assert out.rank == pytest.approx(rank)
    assert float(out.loss) == pytest.approx(ce + 0.25 * rank)


def test_prompt_tokens_carry_no_loss():
    labels = torch.tensor([CHOSEN_LABELS, REJECTED_LABELS])
    base = rank_loss(_logits([CHOSEN_P, REJECTED_P]), labels)
    changed_prompt = [[[0.01, 0.01, 0.98]] + CHOSEN_P[1:], [[0.98, 0.01, 0.01], [0.01, 0.98, 0.01]] + REJECTED_P[2:]]
    # position 0 of the chosen and positions 0-1 of the rejected predict prompt tokens only
    other = rank_loss(_logits(changed_prompt), labels)
    assert float(other.loss) == pytest.approx(float(base.loss))
    relabelled = torch.tensor([[2, IGNORE, 0, 1], [1, IGNORE, IGNORE, 2]])  # nothing predicts the first token
    assert float(rank_loss(_logits([CHOSEN_P, REJECTED_P]), relabelled).loss) == pytest.approx(float(base.loss))


def test_scores_are_normalised_by_length():
    # the same per-token probability over one and over three response tokens gives the same score
    short = [UNIFORM, UNIFORM, UNIFORM, [0.5, 0.25, 0.25]]
    long = [UNIFORM, [0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]
    sums, counts = sequence_logprobs(
        _logits([short + [UNIFORM], long + [UNIFORM]]),
        torch.tensor([[IGNORE, IGNORE, IGNORE, IGNORE, 0], [IGNORE, IGNORE, 0, 0, 0]]),
    )
    assert counts.tolist() == [1, 3]
    assert (sums / counts).tolist() == pytest.approx([math.log(0.5)] * 2)
    assert float(pro_pair_loss(torch.tensor([0.0]), torch.tensor([0.0]))) == pytest.approx(math.log(2))


def test_cross_entropy_is_token_weighted_over_the_chosen_rows():
    one = [UNIFORM, [0.5, 0.25, 0.25], UNIFORM]  # one response token, p = 0.5
    two = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], UNIFORM]  # two response tokens, p = 0.8 each
    logits = _logits([one, two, one, one])
    labels = torch.tensor([[IGNORE, IGNORE, 0], [IGNORE, 0, 1], [IGNORE, IGNORE, 1], [IGNORE, IGNORE, 2]])
    out = rank_loss(logits, labels, rank_weight=0.0)
    assert out.ce == pytest.approx(-(math.log(0.5) + 2 * math.log(0.8)) / 3)
    assert float(out.loss) == pytest.approx(out.ce)


def test_needs_chosen_and_rejected_in_equal_numbers():
    with pytest.raises(ValueError, match="equal numbers"):
        rank_loss(_logits([CHOSEN_P] * 3), torch.tensor([CHOSEN_LABELS] * 3))
