"""Final passage ranking: retrieval scores plus what the passage's best sentence shows.

A lede that restates the question has high similarity but adds nothing and holds no answer of
the kind asked for; the paragraph after it, which names the answer, does. So the ranking looks
at a few more candidates than it returns (and at the paragraph right after each of the best),
scores each passage's sentences (:mod:`qa.search.sentences`) and combines a handful of features
with weights fitted on the SQuAD tune questions and our news questions (bench/fit_weights.py,
docs/BENCHMARKS.md).
Identical paragraphs (syndicated copies) are ranked once, naming the other articles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np

from qa.search.evidence import Evidence, Ranking
from qa.search.protocols import PassageReader, PassageStore
from qa.search.reading import read_best, score_unread_below
from qa.search.recency import newest_moment, recency_bonus
from qa.search.retriever import Candidate, Retrieval
from qa.search.sentences import SENTENCE_WEIGHTS, Question, SentenceScore, best_sentence, score_sentences
from qa.storage.rows import PassageRow
from qa.text.terms import Analyzer

# No position feature on purpose: fitted on our news questions it learned "never the lede",
# which only reflects how those questions were written; real readers' answers are often in it.
PASSAGE_FEATURES = ("dense", "lexical", "sentence", "kind", "novelty", "title_share")
# Fitted by bench/fit_weights.py (listwise logistic regression over the candidates of each
# SQuAD tune question and the news questions); see docs/BENCHMARKS.md for the fit and its check
# on held-out halves.
PASSAGE_WEIGHTS = np.array([6.198, 3.100, 0.628, 0.099, 1.251, 4.062], dtype=np.float32)
RERANK_POOL = 10  # candidates whose sentences are scored (at least top_k); 10 and 20 rank alike
NEIGHBOURS_OF = 3  # the next paragraph of this many top candidates joins the pool
# A sentence with at least this share of the question's content words restates it (measured:
# with 0.5 and "the answer is the next paragraph's first sentence", SQuAD hit@1 -0.3 points,
# news lede-echo questions 0 -> 6 of 17; docs/BENCHMARKS.md).
RESTATES_SHARE = 0.5
# Extra score for passages of the articles a follow-up's previous answer cited: a follow-up is
# about the same story unless its own words point elsewhere. On the fitted scale, 1.5 is what
# 0.24 of cosine similarity is worth (dense weight 6.2), as the 0.15 of the old 0.6-weighted
# fusion was.
ARTICLE_BOOST = 1.5
FOLLOW_UP_EXTRA = 5  # passages of those articles scored even when the fusion ranks them lower
# Two paragraphs of one syndicated story (copies of each other, qa.ingest.syndication) sharing
# this share of the shorter one's words are one paragraph, edited: cited once.
SAME_PARAGRAPH_OVERLAP = 0.6
_WORDS = re.compile(r"\w+")


def passage_features(
    candidate: Candidate, passage: PassageRow, best: SentenceScore, question: Question, analyzer: Analyzer
) -> np.ndarray:
    """PASSAGE_FEATURES of one candidate whose answering sentence is ``best``."""
    title_terms = analyzer.content_terms(f"{passage.title} {passage.section or ''}")
    topic = question.topic_terms or question.terms
    title_share = len(topic & title_terms) / len(topic) if topic else 0.0
    return np.array(
        [
            candidate.dense,
            candidate.lexical,
            best.score,
            float(best.holds_kind),
            best.novelty,
            title_share,
        ],
        dtype=np.float32,
    )


class Ranker:
    def __init__(
        self,
        store: PassageStore,
        analyzer: Analyzer,
        weights: np.ndarray = PASSAGE_WEIGHTS,
        sentence_weights: np.ndarray = SENTENCE_WEIGHTS,
        pool: int = RERANK_POOL,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.weights = weights
        self.sentence_weights = sentence_weights
        self.pool_size = pool

    def rank(
        self,
        question: Question,
        retrieval: Retrieval,
        top_k: int,
        prefer_articles: tuple[str, ...] = (),
        as_of: dt.datetime | None = None,
        reader: PassageReader | None = None,
    ) -> Ranking:
        """The ``top_k`` best passages, one per distinct text, best first.

        ``as_of``: when the question is asked; a question about the present then prefers the
        stories published closest before it (qa.search.recency). ``reader``: reads the best
        candidates with the question and has the last word on their order, their answering
        sentences and whether the articles answer (qa.search.reading).
        """
        now = as_of if question.present else None
        evidence = self.score(question, self.pool(retrieval, top_k, prefer_articles), prefer_articles, now)
        evidence.sort(key=lambda e: (-e.score, e.passage.id))
        # Over every candidate, not only those scored: the same however many answers were asked for.
        best_dense = max((c.resolved_dense for c in retrieval.candidates), default=0.0)
        if reader is None:
            evidence = self._answer_after_restatement(question, retrieval, evidence, prefer_articles, now)
            return Ranking(self._distinct(evidence)[:top_k], best_dense, retrieval.coverage, now)
        evidence = read_best(reader, question, self._distinct(evidence))
        # A lede that restates the question still reads as answering it (the reader was not
        # trained on news ledes): the same rule as the fast path's puts the next paragraph first.
        evidence = self._answer_after_restatement(question, retrieval, evidence, prefer_articles, now)
        if evidence and evidence[0].reading is None:  # that paragraph was not among those read
            evidence[0] = read_best(reader, question, evidence[:1])[0]
        evidence = score_unread_below(reader, evidence)
        # Answer when some passage read is likely to answer (a restating lede counts: the answer
        # is right after it, and cited first).
        readings = [e.reading.probability for e in evidence if e.reading is not None]
        return Ranking(
            evidence[:top_k],
            best_dense,
            retrieval.coverage,
            now,
            answer_probability=max(readings, default=0.0),
            abstain_below_probability=reader.calibration.abstain_below,
        )

    def _answer_after_restatement(
        self,
        question: Question,
        retrieval: Retrieval,
        ranked: list[Evidence],
        prefer_articles: tuple[str, ...],
        now: dt.datetime | None,
    ) -> list[Evidence]:
        """Put the next paragraph first when the best one is a lede that only restates the question.

        News ledes often restate what a reader asks ("A common disorder is getting a new name")
        and give the answer in the next paragraph. When the question wants a kind of answer (a
        name, a date, a number) that the best passage's sentence lacks while the paragraph after
        it holds one, that paragraph answers; the lede stays right behind it.
        """
        if question.kind is None or not ranked or ranked[0].sentence.holds_kind:
            return ranked
        top = ranked[0]
        if top.sentence.share < RESTATES_SHARE:
            return ranked  # it does not restate the question, it is about something else
        # Only a lede: every lede echo this fixed opened its article, and every SQuAD answer it
        # moved away from (9 of 1,200 with the reader) was a later paragraph, one that restates
        # the question because it answers it in other words.
        if top.passage.id not in self.store.ledes([top.passage.id]):
            return ranked
        following = self.store.neighbours([top.passage.id]).get(top.passage.id)
        if following is None or not retrieval.admits(following):
            return ranked
        found = [e for e in ranked if e.passage.id == following]
        if not found:
            found = self.score(question, retrieval.score([following]), prefer_articles, now)
        after = found[0]
        # The answer comes right after the restatement: in the next paragraph's first sentence.
        if not after.sentence.holds_kind or after.sentence.start != after.sentences[0].start:
            return ranked
        return [after, top, *(e for e in ranked[1:] if e.passage.id != following)]

    def pool(
        self, retrieval: Retrieval, top_k: int, prefer_articles: tuple[str, ...] = ()
    ) -> list[Candidate]:
        """The candidates worth scoring sentence by sentence: the best few and their next
        paragraphs, and for a follow-up the best few of the articles it is about."""
        pool = list(retrieval.candidates[: max(self.pool_size, top_k)])
        seen = {c.passage_id for c in pool}
        if prefer_articles:
            rest = retrieval.candidates[len(pool) :]
            rows = self.store.passages([c.passage_id for c in rest])
            preferred = set(prefer_articles)
            pool += [c for c in rest if rows[c.passage_id].article_id in preferred][:FOLLOW_UP_EXTRA]
            seen = {c.passage_id for c in pool}
        following = self.store.neighbours([c.passage_id for c in pool[:NEIGHBOURS_OF]])
        extra = [
            pid for pid in dict.fromkeys(following.values()) if pid not in seen and retrieval.admits(pid)
        ]
        return pool + retrieval.score(extra)

    def score(
        self,
        question: Question,
        pool: list[Candidate],
        prefer_articles: tuple[str, ...] = (),
        now: dt.datetime | None = None,
    ) -> list[Evidence]:
        """Every candidate of ``pool`` with its best sentence and final score, in pool order.

        ``now``: for a question about the present, when it is asked (the recency prior).
        """
        ids = [c.passage_id for c in pool]
        rows = self.store.passages(ids)
        # The recency prior counts age from the newest candidate (all published by as_of): a
        # question about the present prefers the latest of the stories that could answer it.
        newest = newest_moment(r.published for r in rows.values()) if now is not None else None
        sentences = self.store.sentences(ids)
        vectors = self.store.vectors(s.vector_key for pid in ids for s in sentences[pid])
        preferred = set(prefer_articles)
        out: list[Evidence] = []
        for candidate in pool:
            passage = rows[candidate.passage_id]
            scores = score_sentences(
                question,
                passage,
                sentences[candidate.passage_id],
                vectors,
                self.analyzer,
                self.sentence_weights,
            )
            best = best_sentence(scores, question)
            features = passage_features(candidate, passage, best, question, self.analyzer)
            score = float(features @ self.weights)
            if passage.article_id in preferred:
                score += ARTICLE_BOOST
            if newest is not None:
                score += recency_bonus(passage.published, newest)
            out.append(Evidence(passage, candidate, best, tuple(scores), features, score))
        return out

    def _distinct(self, ranked: list[Evidence]) -> list[Evidence]:
        """Keep the best-ranked copy of each text, and of each paragraph of a syndicated story;
        name the articles of the other copies."""
        copies = self.store.copies(e.passage.text_hash for e in ranked)
        kept: list[tuple[Evidence, list[str], frozenset[str]]] = []  # evidence, also_in, its words
        seen: set[str] = set()
        for e in ranked:
            if e.passage.text_hash in seen:
                continue
            seen.add(e.passage.text_hash)
            words = frozenset(_WORDS.findall(e.passage.text.lower()))
            same = next(
                (
                    (k, others)
                    for k, others, k_words in kept
                    if k.passage.story == e.passage.story
                    and k.passage.article_id != e.passage.article_id
                    and _overlap(words, k_words) >= SAME_PARAGRAPH_OVERLAP
                ),
                None,
            )
            if same is not None:  # the same paragraph of the same wire story, edited: cite it once
                same[1].append(e.passage.article_id)
                continue
            others = [
                a
                for pid, a in copies.get(e.passage.text_hash, [])
                if pid != e.passage.id and a != e.passage.article_id
            ]
            kept.append((e, others, words))
        out: list[Evidence] = []
        for e, others, _ in kept:
            also = tuple(dict.fromkeys(a for a in others if a != e.passage.article_id))
            out.append(dataclasses.replace(e, also_in=also) if also else e)
        return out


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))
