"""The rank-training loss: Preference Ranking Optimization over length-normalised log-probs, plus CE.

PRO (Song et al., 2023, arXiv 2306.17492) ranks n responses with a list-wise softmax over
their scores; with one chosen and one rejected response it is

    rank = -log( exp(s_c) / (exp(s_c) + exp(s_r)) ) = softplus(s_r - s_c),

where a response's score s is its length-normalised sequence log-probability: the mean
log-probability of its tokens given the prompt. The prompt's tokens carry no loss (their
labels are IGNORE) and count in no length. The total, as the Memphis-CoT card states it:

    loss = CE(chosen) + rank_weight * mean over pairs of rank,    rank_weight = 0.25,

with CE the token-weighted mean negative log-likelihood of the chosen responses' tokens
(transformers' causal-LM loss). A batch holds the chosen rows first, then the rejected
rows in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


@dataclass
class RankLoss:
    loss: object  # the tensor to backpropagate
    ce: float
    rank: float
    chosen_score: float  # mean length-normalised log-prob of the chosen responses
    rejected_score: float


def sequence_logprobs(logits, labels):
    """(sum of the label tokens' log-probabilities, their count) per row; logits predict the next token."""
    import torch

    logits, target = logits[:, :-1].float(), labels[:, 1:]
    mask = target != IGNORE
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * mask).sum(dim=-1), mask.sum(dim=-1)


def pro_pair_loss(chosen_scores, rejected_scores):
    """PRO's ranking loss for two responses, per pair: -log softmax(chosen | {chosen, rejected})."""
    import torch.nn.functional as F

    return F.softplus(rejected_scores - chosen_scores)


def rank_loss(logits, labels, rank_weight: float = 0.25) -> RankLoss:
    """The loss of a batch of 2n rows: n chosen, then their n rejected partners."""
    n = logits.shape[0] // 2
    if logits.shape[0] != 2 * n or n == 0:
        raise ValueError(f"expected chosen and rejected rows in equal numbers, got {logits.shape[0]} rows")
    sums, counts = sequence_logprobs(logits, labels)
    scores = sums / counts.clamp(min=1)
    ce = -sums[:n].sum() / counts[:n].sum().clamp(min=1)
    rank = pro_pair_loss(scores[:n], scores[n:]).mean()
    return RankLoss(
        loss=ce + rank_weight * rank,
        ce=float(ce.detach()),
        rank=float(rank.detach()),
        chosen_score=float(scores[:n].detach().mean()),
        rejected_score=float(scores[n:].detach().mean()),
    )
