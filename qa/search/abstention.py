"""When to say "not found": the reader's verdict, or (fast path) the evidence of the best passages.

With the reader (the default), the answer abstains when its calibrated probability that the best
passage answers is under the threshold shipped with it (qa/models/reader_weights/calibration.json).
The rest of this module is the fast path's rule, used when the reader is off.

Two signals, both cheap and both measured (bench/fit_weights.py, docs/BENCHMARKS.md):

- *coverage*: the idf-weighted share of the question's content words that occur anywhere in the
  articles. A question about something the articles never mention ("Who won the Tour de France
  this year?") has rare words no article uses.
- *similarity*: the highest cosine of the question with any passage scored, with a small bonus
  when the answering sentence holds the kind of answer asked for.

Evidence = similarity + EVIDENCE_COVERAGE_WEIGHT * coverage. Readers' paraphrases sit at lower
cosines than SQuAD's copied wording, so the rule was calibrated on paraphrased news questions
and off-topic ones (examples/questions/news.jsonl), then checked on SQuAD.

The threshold depends on the embedding model (another model's cosines sit elsewhere), so it is
recorded in the index manifest; this is the value calibrated for all-MiniLM-L6-v2.
"""

from __future__ import annotations

from qa.search.evidence import Ranking
from qa.storage.manifest import ModelInfo

EVIDENCE_KIND_WEIGHT = 0.05
EVIDENCE_COVERAGE_WEIGHT = 0.4
DEFAULT_ABSTAIN_BELOW = 0.785
# Thresholds calibrated by this version for models it knows; an index built with another model
# records its own (``qa build --model PATH --abstain-below X``).
CALIBRATED_ABSTAIN_BELOW = {"all-MiniLM-L6-v2": DEFAULT_ABSTAIN_BELOW}


def reported(probability: float) -> float:
    """A probability as answers report it (4 places): what users see is what the bar compares."""
    return round(probability, 4)


def abstain_threshold(model: ModelInfo) -> float | None:
    """The threshold for an index: the one recorded with it, else this version's for its model."""
    return (
        model.abstain_below if model.abstain_below is not None else CALIBRATED_ABSTAIN_BELOW.get(model.name)
    )


def strength(ranking: Ranking) -> float:
    """How well the articles answer: what abstention is decided on."""
    if not ranking.evidence:
        return 0.0
    top = ranking.evidence[0].sentence
    return (
        ranking.best_dense
        + EVIDENCE_KIND_WEIGHT * float(top.holds_kind)
        + EVIDENCE_COVERAGE_WEIGHT * ranking.coverage
    )


def abstains(ranking: Ranking, abstain_below: float) -> bool:
    """With the reader: its calibrated probability that the best passage answers, against the
    reader's own threshold (the same for any index). Without it: the evidence rule above."""
    if not ranking.evidence:
        return True  # nothing to cite (a scope that admits no passage), whatever the threshold
    if ranking.answer_probability is not None:
        # Compared as reported, so a bar set to a confidence an answer showed admits it.
        return reported(ranking.answer_probability) < ranking.abstain_below_probability
    return strength(ranking) < abstain_below
