"""Training examples for the reader: (question, passage) groups mined from the open QA data.

Each example is one question with its own paragraph (the positive, with the index of the
sentence that holds the answer) and ``negatives`` other paragraphs that BM25 (or, for a share of
the questions, the product's own dense + BM25 retrieval) ranks high for the question but that do
not contain any of its answers (hard negatives).
Some questions are rewritten the way people type into a search box (lower case, no question mark,
only the content words) so the reader does not learn that only well-formed questions match.

Everything is derived from a seed and the question's position, so a resumed run sees exactly the
examples it would have seen without the interruption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.models.embed import Encoder, encode_queries
from qa.models.reader_inputs import PairEncoder
from qa.search.retriever import CANDIDATES, DENSE_WEIGHT
from qa.text.terms import question_stopwords
from train.corpus import Corpus, Paragraph, sentence_of
from train.rewrites import (
    WORD,
    Rewording,
    contains_answer,
    contrast_swap,
    name_swap,
    name_words,
    names_in,
    replace_word,
    with_vague_answer,
    without_answer,
    without_answer_span,
)


def typed_form(rng: random.Random) -> str:
    """How a question is typed, drawn: mostly as asked, else as a hurried stranger types it."""
    draw = rng.random()
    return "asked" if draw < 0.6 else "lower" if draw < 0.85 else "keywords"


def as_typed(question: str, form: str, stopwords: frozenset[str]) -> str:
    """``question`` in ``form``: as asked, lower case without "?", or only its content words."""
    if form == "asked":
        return question
    if form == "lower":
        return question.lower().rstrip(" ?").strip()
    words = [w for w in WORD.findall(question.lower()) if w not in stopwords]
    return " ".join(words) or question.lower()


@dataclass(frozen=True)
class Sequence:
    ids: list[int]
    type_ids: list[int]
    sentence_of_token: list[int]  # -1 outside the passage


@dataclass(frozen=True)
class Example:
    sequences: list[Sequence]  # positive first
    gold_sentence: int  # in the positive; -1 when no sentence loss


@dataclass(frozen=True)
class MiningVectors:
    """Unit vectors of every training paragraph and question, by the product's embedding model."""

    paragraphs: np.ndarray  # (paragraphs, dim), row i for corpus.paragraphs[i]
    questions: np.ndarray  # (questions, dim), row i for corpus.questions[i]


def mining_vectors(corpus: Corpus, encoder: Encoder, cache: Path, batch: int = 2048) -> MiningVectors:
    """Every paragraph and question of ``corpus`` embedded by ``encoder`` (questions as queries),
    kept in ``cache`` (float16) under a name made of the data files' sha256s in corpus order and
    the model's name, so later stages and resumed runs reuse them (about 20 minutes on 2 cores for
    all four sets). Paragraphs past the model's window are embedded from their start only (the
    product averages windows): close enough to mine negatives with."""
    key = hashlib.sha256(json.dumps([list(corpus.sha256.items()), encoder.name]).encode()).hexdigest()[:16]
    path = cache / f"mining-vectors-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            kept = MiningVectors(*(stored[k].astype(np.float32) for k in ("paragraphs", "questions")))
        if (len(kept.paragraphs), len(kept.questions)) == (len(corpus.paragraphs), len(corpus.questions)):
            return kept
    chunks = []
    texts = [p.text for p in corpus.paragraphs]
    for start in tqdm(range(0, len(texts), batch), desc="embedding paragraphs", unit="batch"):
        chunks.append(encoder.encode(texts[start : start + batch]))
    paragraphs = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), dtype=np.float32)
    chunks = []
    questions = [q.text for q in corpus.questions]
    for start in tqdm(range(0, len(questions), batch), desc="embedding questions", unit="batch"):
        chunks.append(encode_queries(encoder, questions[start : start + batch]))
    asked = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    made = MiningVectors(paragraphs.astype(np.float16), asked.astype(np.float16))
    np.savez(partial, paragraphs=made.paragraphs, questions=made.questions)
    partial.replace(path)  # a run stopped mid-write leaves no half file under the real name
    # As a resumed run will read them back: the same float16 values, so the same negatives.
    return MiningVectors(made.paragraphs.astype(np.float32), made.questions.astype(np.float32))


class Miner:
    """Hard negatives: the paragraphs that BM25 ranks high for a question, or with ``vectors``,
    those that the product's own retrieval ranks high (dense cosine and BM25 fused as in
    qa.search.retriever), which are the candidates the reader meets at query time."""

    def __init__(self, corpus: Corpus, vectors: MiningVectors | None = None) -> None:
        import bm25s
        import Stemmer

        if vectors is not None and (
            len(vectors.paragraphs) != len(corpus.paragraphs)
            or len(vectors.questions) != len(corpus.questions)
        ):
            raise ValueError("the mining vectors are not those of this corpus")
        self.corpus = corpus
        self.vectors = vectors
        self._stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(
            [p.text for p in corpus.paragraphs], stopwords="en", stemmer=self._stemmer, show_progress=False
        )
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    def candidates(self, question: str, k: int = 30) -> list[int]:
        """BM25's best ``k`` paragraphs for ``question``, best first."""
        import bm25s

        tokens = bm25s.tokenize([question], stopwords="en", stemmer=self._stemmer, show_progress=False)
        k = min(k, len(self.corpus.paragraphs))
        results, _ = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [int(i) for i in np.asarray(results)[0]]

    def fused_candidates(self, question_index: int, k: int = 30) -> list[int]:
        """The best ``k`` paragraphs for corpus question ``question_index`` as qa.search.retriever
        ranks candidates: over the union of the best CANDIDATES by cosine and by BM25,
        DENSE_WEIGHT x cosine + the rest x BM25 over the question's best BM25 score."""
        if self.vectors is None:
            raise ValueError("fused mining needs the mining vectors")
        pool = min(max(k, CANDIDATES), len(self.corpus.paragraphs))
        lexical = self.bm25_scores(self.corpus.questions[question_index].text)
        best = float(lexical.max()) if len(lexical) else 0.0
        dense = self.vectors.paragraphs @ self.vectors.questions[question_index]
        found = np.union1d(_best(dense, pool), _best(lexical, pool))
        share = lexical[found] / best if best > 0 else np.zeros(len(found))
        fused = DENSE_WEIGHT * dense[found] + (1 - DENSE_WEIGHT) * share
        return [int(found[i]) for i in sorted(range(len(found)), key=lambda i: (-fused[i], found[i]))[:k]]

    def bm25_scores(self, question: str) -> np.ndarray:
        """BM25 of ``question`` against every paragraph (0 for those sharing none of its words)."""
        import bm25s

        tokens = bm25s.tokenize(
            [question], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )[0]
        known = [t for t in tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.corpus.paragraphs), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)


def _best(scores: np.ndarray, count: int) -> np.ndarray:
    """Indexes of the ``count`` highest ``scores`` (in no order)."""
    return np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))


def sentence_window(paragraph: Paragraph, first: int, count: int) -> Paragraph:
    """Sentences ``first`` .. ``first + count - 1`` of ``paragraph`` as a paragraph of their own."""
    spans = paragraph.sentences[first : first + count]
    start, end = spans[0][0], spans[-1][1]
    return dataclasses.replace(
        paragraph, text=paragraph.text[start:end], sentences=tuple((a - start, b - start) for a, b in spans)
    )


def short_window(paragraph: Paragraph, rng: random.Random, keep: int | None = None) -> tuple[Paragraph, int]:
    """A run of 1 to 3 sentences of ``paragraph``, as long as news paragraphs are (containing
    sentence ``keep`` when given), and where sentence 0 of the run lies in the paragraph."""
    total = len(paragraph.sentences)
    count = min(total, rng.choice((1, 2, 2, 3)))
    if keep is None:
        first = rng.randrange(total - count + 1)
    else:
        first = rng.randint(max(0, keep - count + 1), min(keep, total - count))
    return sentence_window(paragraph, first, count), first


class ExampleMaker:
    def __init__(
        self,
        corpus: Corpus,
        miner: Miner,
        encoder: PairEncoder,
        negatives: int,
        seed: int,
        near_miss: float = 0.0,
        span_miss: float = 0.0,
        name_swap: float = 0.0,
        short_passages: float = 0.0,
        reword: float = 0.0,
        rewording: Rewording | None = None,
        fused_negatives: float = 0.0,
        contrast_swap: float = 0.0,
        vague_miss: float = 0.0,
        titles: bool = False,
    ) -> None:
        if reword and rewording is None:
            raise ValueError("reword needs a Rewording")
        if fused_negatives and miner.vectors is None:
            raise ValueError("fused_negatives needs a Miner with mining vectors")
        self.corpus = corpus
        self.titles = titles
        self.fused_negatives = fused_negatives
        self.contrast_swap = contrast_swap
        self.vague_miss = vague_miss
        self.reword = reword
        self.rewording = rewording
        self.near_miss = near_miss
        self.span_miss = span_miss
        self.name_swap = name_swap
        self.short_passages = short_passages
        # Names to swap in: those other questions use (people, places, teams, works).
        self._names = sorted({n for q in corpus.questions for n in names_in(q.text)}) if name_swap else []
        self.miner = miner
        self.encoder = encoder
        self.negatives = negatives
        self.seed = seed
        self._stopwords = question_stopwords()
        self._by_article: dict[str, list[int]] = {}
        for index, paragraph in enumerate(corpus.paragraphs):
            self._by_article.setdefault(paragraph.article, []).append(index)

    def order(self) -> list[int]:
        order = list(range(len(self.corpus.questions)))
        random.Random(self.seed).shuffle(order)
        return order

    def example(self, question_index: int) -> Example | None:
        rng = random.Random(f"{self.seed}:{question_index}")
        row = self.corpus.questions[question_index]
        gold = self.corpus.paragraphs[row.paragraph]
        form = typed_form(rng)
        query = as_typed(row.text, form, self._stopwords)
        # With titles, every passage of the example is read with its article's title, unless the
        # gold's title itself holds the answer ("Who was the 34th president?" over "Dwight D.
        # Eisenhower"): then its near misses, titled, would still answer.
        titled = self.titles and not any(a.lower() in gold.title.lower() for a in row.answers)
        positive = self._sequence(query, gold, titled)
        gold_sentence = sentence_of(gold, row.answer_start)
        if gold_sentence not in positive.sentence_of_token:
            return None  # the answer was cut off: the passage as read does not answer
        # Mined as the product retrieves (dense and BM25 fused) for a share of the questions, so
        # the negatives look like the candidates the reader is given at query time; else BM25's.
        # (Its own draw, so that mining this way or not leaves every other draw of the example.)
        if (
            self.fused_negatives
            and random.Random(f"{self.seed}:{question_index}:fused").random() < self.fused_negatives
        ):
            mined = self.miner.fused_candidates(question_index)
        else:
            mined = self.miner.candidates(row.text)
        pool = [
            i
            for i in mined
            if i != row.paragraph and not contains_answer(self.corpus.paragraphs[i], row.answers, titled)
        ]
        hard = pool[:10]
        chosen: list[int] = []
        extra: list[Paragraph] = []
        # A near miss: the positive itself without the sentences that hold the answer. Same names,
        # same topic, no answer: what "How much does a Tesla Model 3 cost?" meets over an article
        # on Nikola Tesla. It teaches the passage logit to need the answer, not the topic.
        if self.near_miss and rng.random() < self.near_miss:
            stripped = without_answer(gold, row.answers)
            if stripped is not None:
                extra.append(stripped)
        # A closer miss: the answer itself cut out, its sentence kept. The question's words all
        # still match; only what it asks for is gone (drawn after the near miss, so the examples
        # of a run without span misses stay as they were).
        if self.span_miss and rng.random() < self.span_miss:
            cut = without_answer_span(gold, row.answers)
            if cut is not None:
                extra.append(cut)
        # The answer turned vague ("killed 12 people" -> "killed several people"): the story tells
        # of the event and leaves out the detail asked for. Its own draws, as the contrast swap's.
        vague = random.Random(f"{self.seed}:{question_index}:vague") if self.vague_miss else None
        if vague is not None and vague.random() < self.vague_miss:
            blurred = with_vague_answer(gold, row.answers, row.text, vague)
            if blurred is not None:
                extra.append(blurred)
        # The question turned to a name or year its paragraph never mentions, read with that same
        # paragraph: the "Tesla Model 3 over the Nikola Tesla article" miss from the question's side.
        swap = None
        if self.name_swap and rng.random() < self.name_swap:
            found = name_swap(row.text, gold, self._names, rng)
            # Swapped in the query as typed (and, below, as reworded): a swapped question that
            # alone kept its capitals and "?" would tell the negative by its form, not its names.
            typed = None if found is None else tuple(as_typed(n, form, self._stopwords) for n in found)
            if typed is not None and replace_word(query, *typed) != query:
                swap = typed
        # Else the question turned to another fact of the same kind ("first" -> "fifth", "rose" ->
        # "fell"), read with its paragraph: the "Mikko Laine's goals in the regular season" miss
        # over a story of his play-off goals. Its own draws, so runs without it stay as they were.
        contrast = random.Random(f"{self.seed}:{question_index}:contrast") if self.contrast_swap else None
        if swap is None and contrast is not None and contrast.random() < self.contrast_swap:
            swap = contrast_swap(query, gold, contrast)
        # One paragraph of the same article when it has others: close in topic, another answer.
        same = [
            i
            for i in self._by_article.get(gold.article, [])
            if i != row.paragraph and not contains_answer(self.corpus.paragraphs[i], row.answers, titled)
        ]
        if same and rng.random() < 0.5:
            chosen.append(rng.choice(same))
        # Every example has the same number of sequences (the loss groups them): near misses
        # first, then the same-article paragraph, then BM25's.
        room = self.negatives - (swap is not None)
        extra = extra[:room]
        chosen = chosen[: room - len(extra)]
        while len(chosen) + len(extra) < room and hard:
            chosen.append(hard.pop(rng.randrange(min(len(hard), 5))))
        while len(chosen) + len(extra) < room:
            chosen.append(rng.randrange(len(self.corpus.paragraphs)))
        negatives = extra + [self.corpus.paragraphs[i] for i in chosen]
        read_gold = gold
        # News paragraphs run 1-3 sentences, SQuAD's 5 or more: read as short, every passage of
        # the example (so that length says nothing about the answer), with the answer kept in.
        if self.short_passages and rng.random() < self.short_passages:
            window, first = short_window(gold, rng, keep=gold_sentence)
            if contains_answer(window, row.answers):  # not an answer that runs over two sentences
                read_gold, gold_sentence = window, gold_sentence - first
                positive = self._sequence(query, read_gold, titled)
                negatives = [short_window(p, rng)[0] for p in negatives]
        # The question paraphrased: words it shares with its paragraph swapped for neighbours
        # (drawn last, so the examples of a run without rewording stay as they were).
        if self.reword and self.rewording is not None and rng.random() < self.reword:
            # A question typed in lower case has its names in lower case too: they stay.
            reworded = self.rewording.reword(query, read_gold.text, rng, name_words(row.text))
            if reworded is not None:
                read = self._sequence(reworded, read_gold, titled)
                # The name swap must still find its name in the reworded question.
                swappable = swap is None or replace_word(reworded, *swap) != reworded
                if gold_sentence in read.sentence_of_token and swappable:
                    query, positive = reworded, read
        sequences = [positive] + [self._sequence(query, p, titled) for p in negatives]
        if swap is not None:
            swapped = replace_word(query, *swap)
            assert swapped != query, (query, swap)  # rewording was refused otherwise
            sequences.append(self._sequence(swapped, read_gold, titled))
        return Example(sequences, gold_sentence)

    def _sequence(self, query: str, paragraph: Paragraph, titled: bool = False) -> Sequence:
        title = paragraph.title if titled else ""
        pair = self.encoder.encode(query, paragraph.text, paragraph.sentences, title)
        return Sequence(pair.ids, pair.type_ids, pair.sentence_of_token)
