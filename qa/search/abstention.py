"""When to say "not found": the evidence for the best passage, against a per-model threshold.

Evidence = cosine of question and passage + a weight times the share of the question's content
words in the answering sentence + a bonus when that sentence holds the kind of answer asked for.
The threshold depends on the embedding model (cosines of another model sit elsewhere), so it is
recorded in the index manifest; this is the value calibrated for all-MiniLM-L6-v2 on SQuAD
questions asked with and without their article and on paraphrased news questions
(bench/fit_weights.py, docs/BENCHMARKS.md).
"""

from __future__ import annotations

from qa.search.ranking import Evidence

EVIDENCE_SHARE_WEIGHT = 0.6
EVIDENCE_KIND_WEIGHT = 0.0
DEFAULT_ABSTAIN_BELOW = 0.63


def strength(evidence: Evidence) -> float:
    """How well a passage answers: what abstention is decided on."""
    sentence = evidence.sentence
    return (
        evidence.candidate.dense
        + EVIDENCE_SHARE_WEIGHT * sentence.share
        + EVIDENCE_KIND_WEIGHT * float(sentence.holds_kind)
    )


def abstains(ranked: list[Evidence], abstain_below: float) -> bool:
    return not ranked or strength(ranked[0]) < abstain_below
