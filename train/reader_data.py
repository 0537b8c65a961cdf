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

import hashlib
import json
import lzma
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.models.embed import Encoder, encode_queries
from qa.models.reader import file_sha256
from qa.models.reader_inputs import PairEncoder
from qa.search.answer_types import AnswerKind, expected_kind
from qa.search.retriever import CANDIDATES, DENSE_WEIGHT
from qa.text.spans import split_sentences
from qa.text.terms import question_stopwords

# Which files, and whether their "articles" group related paragraphs (reddit's one "article"
# holds 2,035 unrelated comments).
SOURCES = {
    "squad-train": ("squad-train-v1.1.json.xz", True),
    "new_wiki": ("squadshifts-new_wiki-v1.0.json.xz", True),
    "reddit": ("squadshifts-reddit-v1.0.json.xz", False),
    "amazon": ("squadshifts-amazon_reviews-v1.0.json.xz", True),
}


@dataclass(frozen=True)
class Paragraph:
    article: str
    text: str
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class QuestionRow:
    text: str
    paragraph: int
    answers: tuple[str, ...]
    answer_start: int


@dataclass
class Corpus:
    paragraphs: list[Paragraph]
    questions: list[QuestionRow]
    sha256: dict[str, str]


def load_corpus(folder: Path, sources: list[str]) -> Corpus:
    paragraphs: list[Paragraph] = []
    questions: list[QuestionRow] = []
    sha: dict[str, str] = {}
    for name in sources:
        filename, grouped = SOURCES[name]
        path = folder / filename
        sha[filename] = file_sha256(path)
        with lzma.open(path) as handle:
            data = json.load(handle)["data"]
        for article_number, article in enumerate(data):
            for paragraph_number, paragraph in enumerate(article["paragraphs"]):
                text = paragraph["context"]
                key = f"{name}/{article_number}" + ("" if grouped else f"/{paragraph_number}")
                index = len(paragraphs)
                paragraphs.append(Paragraph(key, text, tuple(split_sentences(text))))
                for qa in paragraph["qas"]:
                    answers = tuple(a["text"] for a in qa["answers"] if a["text"].strip())
                    if not answers:
                        continue
                    first = qa["answers"][0]
                    start = int(first["answer_start"])
                    if text[start : start + len(first["text"])] != first["text"]:
                        start = text.find(first["text"])
                    if start < 0:
                        continue
                    questions.append(QuestionRow(qa["question"].strip(), index, answers, start))
    return Corpus(paragraphs, questions, sha)


def sentence_of(paragraph: Paragraph, char: int) -> int:
    for number, (start, end) in enumerate(paragraph.sentences):
        if start <= char < end:
            return number
    # Between two sentences (whitespace): the next one.
    for number, (start, _) in enumerate(paragraph.sentences):
        if char < start:
            return number
    return len(paragraph.sentences) - 1


_WORD = re.compile(r"\w+", re.UNICODE)


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
    words = [w for w in _WORD.findall(question.lower()) if w not in stopwords]
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


def contains_answer(paragraph: Paragraph, answers: tuple[str, ...]) -> bool:
    lowered = paragraph.text.lower()
    return any(a.lower() in lowered for a in answers)


def without_answer(paragraph: Paragraph, answers: tuple[str, ...]) -> Paragraph | None:
    """The paragraph less every sentence that holds an answer; None when too little is left."""
    kept = [
        paragraph.text[start:end]
        for start, end in paragraph.sentences
        if not any(a.lower() in paragraph.text[start:end].lower() for a in answers)
    ]
    text = " ".join(kept)
    if len(kept) < 2 or any(a.lower() in text.lower() for a in answers):
        return None  # one sentence left says little; an answer across two sentences survives
    return Paragraph(paragraph.article, text, tuple(split_sentences(text)))


def without_answer_span(paragraph: Paragraph, answers: tuple[str, ...]) -> Paragraph | None:
    """The paragraph with every occurrence of every answer cut out of its sentences; None when no
    answer occurs. The sentence that answered still says what the question is about ("a lorry
    driver was killed near Betanzos") but no longer what it asks ("his name")."""
    text, cuts = paragraph.text, 0
    for answer in sorted({a.strip() for a in answers if a.strip()}, key=len, reverse=True):
        text, count = re.subn(re.escape(answer), " ", text, flags=re.IGNORECASE)
        cuts += count
    text = re.sub(r" {2,}", " ", text).strip()
    if not cuts or len(text) < 20:
        return None
    return Paragraph(paragraph.article, text, tuple(split_sentences(text)))


# Words that stand where an answer of a kind was and say nothing of it ("a lorry driver was killed"
# without his name; "the storm killed several people" without how many).
VAGUE_ANSWERS: dict[AnswerKind, tuple[str, ...]] = {
    # Not "officials" nor "a woman", which answer "who?" in their way; not "that year", which an
    # earlier sentence's year may answer.
    AnswerKind.PERSON: ("someone", "somebody"),
    AnswerKind.NUMBER: ("several", "a number of", "many", "some"),
    AnswerKind.MONEY: ("an undisclosed sum", "a large sum", "an unknown amount"),
    AnswerKind.DATE: ("at one point", "later", "once"),
    AnswerKind.PLACE: ("the area", "a nearby town", "another city"),
}


def with_vague_answer(
    paragraph: Paragraph, answers: tuple[str, ...], question: str, rng: random.Random
) -> Paragraph | None:
    """The paragraph with every occurrence of every answer replaced by a vague word of the kind the
    question asks for: "the storm killed 12 people" becomes "the storm killed several people".
    The sentence still reads as news does when it leaves out the detail asked for, where a span
    miss leaves a hole a reader can learn to spot. None when the question's kind has no vague
    words (why, what) or no answer occurs."""
    kind = expected_kind(question)
    if kind not in VAGUE_ANSWERS:
        return None
    filler = rng.choice(VAGUE_ANSWERS[kind])
    text, cuts = paragraph.text, 0
    for answer in sorted({a.strip() for a in answers if a.strip()}, key=len, reverse=True):
        pattern = rf"(?<!\w){re.escape(answer)}(?!\w)"
        text, count = re.subn(pattern, lambda _: filler, text, flags=re.IGNORECASE)
        cuts += count
    if not cuts or contains_answer(Paragraph(paragraph.article, text, ()), answers):
        return None  # an answer inside a word, or one answer inside another, is still there
    return Paragraph(paragraph.article, text, tuple(split_sentences(text)))


_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w'-]*[a-z][\w'-]*(?: [A-Z][\w'-]*[a-z][\w'-]*)*")
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


def names_in(question: str) -> list[str]:
    """Capitalised words and runs of them past the first word ("Angela Ruiz-Whitfield", "Porto")."""
    return [m.group(0) for m in _NAME.finditer(question)]


def name_swap(
    question: str, paragraph: Paragraph, names: list[str], rng: random.Random
) -> tuple[str, str] | None:
    """A name (or year) of ``question`` that ``paragraph`` mentions, and one it does not to put in
    its place: (old, new). None when the question names nothing the paragraph does."""
    lowered = paragraph.text.lower()
    shared = [n for n in names_in(question) if n.lower() in lowered]
    years = [m.group(0) for m in _YEAR.finditer(question) if m.group(0) in paragraph.text]
    if not shared and not years:
        return None
    if years and (not shared or rng.random() < 0.3):
        year = rng.choice(years)
        other = str(int(year) + rng.choice([-7, -3, -2, -1, 1, 2, 3, 7]))
        return None if other in paragraph.text else (year, other)
    name = rng.choice(shared)
    for _ in range(5):
        other = rng.choice(names)
        if other.lower() not in lowered and name.lower() not in other.lower():
            return name, other
    return None


def swapped_question(question: str, paragraph: Paragraph, names: list[str], rng: random.Random) -> str | None:
    """The question about someone, somewhere or some year its paragraph does not mention: one
    name it shares with the paragraph replaced by another name (or one year by another year).
    "How much have rents risen in Lisbon?" becomes "... in Porto?": every other word still matches
    and the paragraph no longer answers. None when the question names nothing the paragraph does."""
    swap = name_swap(question, paragraph, names, rng)
    return None if swap is None else replace_word(question, *swap)


def replace_word(text: str, old: str, new: str) -> str:
    """``text`` with its first ``old`` (as a whole word or words) replaced by ``new``."""
    # Not \b: a name may end in a non-word character ("the Beatles'"), where \b never matches.
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: new, text, count=1)


# Words that say which fact of a kind a question asks for ("first" or "fifth", "rose" or "fell",
# "March" or "July"). Each group holds classes of such words; a word is swapped only for a word of
# another class of its group (never a synonym: "largest" and "biggest" share a class).
ORDINALS = (("first",), ("second",), ("third",), ("fourth",), ("fifth",), ("last", "final"))
CONTRAST_GROUPS: tuple[tuple[tuple[str, ...], ...], ...] = (
    ORDINALS,
    (("before",), ("after",)),
    (("earliest",), ("latest",)),
    (("largest", "biggest", "greatest"), ("smallest",)),
    (("highest",), ("lowest",)),
    (("longest",), ("shortest",)),
    (("oldest",), ("youngest", "newest")),
    (("best",), ("worst",)),
    (("maximum",), ("minimum",)),
    (("north",), ("south",), ("east",), ("west",)),
    (("northern",), ("southern",), ("eastern",), ("western",)),
    tuple(
        (month,)
        for month in "january february march april june july august september october november "
        "december".split()  # not "may", which is mostly a verb
    ),
    tuple((day,) for day in "monday tuesday wednesday thursday friday saturday sunday".split()),
    (("male",), ("female",)),
    (("men",), ("women",)),
    (("boys",), ("girls",)),
    tuple((number,) for number in "two three four five six seven eight nine ten".split()),
    (("rise",), ("fall",)),
    (("rose",), ("fell",)),
    (("risen",), ("fallen",)),
    (("increase",), ("decrease",)),
    (("increased",), ("decreased",)),
    (("imports",), ("exports",)),
    (("import",), ("export",)),
    (("winter",), ("summer",)),
    (("upper",), ("lower",)),
    (("morning",), ("evening", "night")),
    (("born", "birth"), ("died", "death")),
    (("killed", "dead"), ("injured", "wounded", "hurt")),
    (("profit", "profits"), ("loss", "losses")),
    (("begin", "start"), ("end", "finish")),
    (("began", "started"), ("ended", "finished")),
    (("opened",), ("closed",)),
    (("husband",), ("wife",)),
    (("father",), ("mother",)),
    (("son",), ("daughter",)),
    (("brother",), ("sister",)),
    (("king",), ("queen",)),
)
# Words before an ordinal that make it an adjective ("the first mayor", "her second child"); a
# possessive ("Britain's first", whose "s" is a word of its own) too.
_DETERMINERS = frozenset("the a an his her its their our my your this that".split())
# word -> (its group, the index of its class in the group)
_CONTRAST_CLASS = {
    word: (group, number)
    for group in CONTRAST_GROUPS
    for number, members in enumerate(group)
    for word in members
}


def contrast_swap(question: str, paragraph: Paragraph, rng: random.Random) -> tuple[str, str] | None:
    """A word of ``question`` that says which fact it asks for and that ``paragraph`` uses too
    ("first"), and a word for another fact of that kind to put in its place ("fifth"): (old, new),
    as cased in the question. The paragraph says nothing of the new word's class, nor does the
    question: "Who was the city's first mayor?" becomes "... fifth mayor?", which a paragraph
    naming only the first does not answer. None when the question has no such word."""
    in_paragraph = {w.lower() for w in _WORD.findall(paragraph.text)}
    in_question = {w.lower() for w in _WORD.findall(question)}
    found: list[tuple[str, list[str]]] = []
    words = _WORD.findall(question)
    for before, word in zip(["", *words], words, strict=False):
        entry = _CONTRAST_CLASS.get(word.lower())
        if entry is None or word.lower() not in in_paragraph:
            continue
        if word.lower() == "second" and before.lower() == "per":
            continue  # a unit ("10 gigabits per second"), not an ordinal
        group, own = entry
        others = [
            other
            for number, members in enumerate(group)
            if number != own and not (set(members) & (in_paragraph | in_question))
            for other in members
        ]
        if group is ORDINALS and before.lower() not in _DETERMINERS | {"s"}:
            # An adverb ("when was rayon first made?") turns only to "last", not to "third".
            others = [o for o in others if o in ("first", "last")]
        if others:
            found.append((word, others))
    if not found:
        return None
    old, others = rng.choice(found)
    new = rng.choice(others)
    return old, new.capitalize() if old[0].isupper() else new


def name_words(question: str) -> frozenset[str]:
    """Every word of the question's names, lower-cased, whatever form it is typed in: its
    capitalised words and the rest of its names ("made" of "Indian-made", which a question typed
    as key words splits off)."""
    capitalised = {w.lower() for w in re.findall(r"\b[A-Z]\w*", question)}
    return frozenset(capitalised | {w.lower() for name in names_in(question) for w in _WORD.findall(name)})


# Words whose neighbours ask for another fact ("first" -> "second", "year" -> "month",
# "kilometres" -> "miles"): never swapped, nor swapped in.
CONTRASTS = frozenset(
    """first second third fourth fifth last final next previous latest earliest early late later
    earlier before after more less most least many much few largest smallest biggest highest lowest
    longest shortest oldest youngest best worst north south east west northern southern eastern
    western year years month months week weeks hour hours minute minutes second seconds century
    centuries decade decades today yesterday tomorrow morning evening night daily weekly monthly
    annual annually one two three four five six seven eight nine ten eleven twelve twenty hundred
    thousand million billion half percent kilometres kilometers miles metres meters feet inches
    pounds dollars euros january february march april june july august september october november
    december monday tuesday wednesday thursday friday saturday sunday male female women without
    against""".split()
)


# A lower-case word of four letters or more, not part of a hyphenated compound: "made" in
# "Indian-made" belongs to a name that a name swap may replace whole.
_SWAPPABLE = re.compile(r"(?<![\w-])[a-z]{4,}(?![\w-])")


class Rewording:
    """Swaps question words that the passage also uses for their neighbours in the base model's
    word embeddings ("reach" -> "attain", "killed" -> "murdered", "cost" -> "price").

    SQuAD's questions copy their paragraph's words; news readers paraphrase, and a reader trained
    only on copies scores "How strong were the fiercest gusts?" far under "What speed did the
    gusts reach?" over "gusts reaching 154 kilometres per hour". Only lower-case words are
    swapped, and the names of a question typed in lower case are passed as ``keep``: names, and so
    what ``name_swap`` teaches, are left as they are.
    """

    def __init__(self, model_folder: Path, stopwords: frozenset[str], choices: int = 4) -> None:
        from safetensors.numpy import load_file

        weights = load_file(str(model_folder / "model.safetensors"))
        matrix = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight"))
        matrix = matrix.astype(np.float32)
        self._unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        self._vocab = (model_folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self._ids = {word: number for number, word in enumerate(self._vocab)}
        self._usable = np.array(
            [
                w.isalpha() and w.islower() and len(w) >= 3 and w not in stopwords and w not in CONTRASTS
                for w in self._vocab
            ]
        )
        self._stopwords = stopwords
        self._choices = choices
        self._cache: dict[str, list[str]] = {}

    def neighbours(self, word: str) -> list[str]:
        """The nearest whole words, less those that are the same word inflected (same stem start)."""
        if word not in self._cache:
            number = self._ids.get(word)
            found: list[str] = []
            if number is not None:
                similarity = np.where(self._usable, self._unit @ self._unit[number], -1.0)
                for other in np.argsort(-similarity)[:40]:
                    candidate = self._vocab[int(other)]
                    if candidate[:4] != word[:4]:
                        found.append(candidate)
                    if len(found) == self._choices:
                        break
            self._cache[word] = found
        return self._cache[word]

    def reword(
        self, question: str, passage: str, rng: random.Random, keep: frozenset[str] = frozenset()
    ) -> str | None:
        """The question with one or two words it shares with ``passage`` swapped; None when none
        can be. Words in ``keep`` (a typed-in-lower-case question's names) are never swapped."""
        shared = set(_WORD.findall(passage.lower()))
        swappable = sorted(
            {
                w
                for w in re.findall(_SWAPPABLE, question)
                if w in shared
                and w not in keep
                and w not in self._stopwords
                and w not in CONTRASTS
                and self.neighbours(w)
            }
        )
        if not swappable:
            return None
        for word in rng.sample(swappable, min(len(swappable), rng.choice((1, 1, 2)))):
            question = re.sub(
                rf"(?<![\w-]){word}(?![\w-])", rng.choice(self.neighbours(word)), question, count=1
            )
        return question


def sentence_window(paragraph: Paragraph, first: int, count: int) -> Paragraph:
    """Sentences ``first`` .. ``first + count - 1`` of ``paragraph`` as a paragraph of their own."""
    spans = paragraph.sentences[first : first + count]
    start, end = spans[0][0], spans[-1][1]
    return Paragraph(
        paragraph.article, paragraph.text[start:end], tuple((a - start, b - start) for a, b in spans)
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
    ) -> None:
        if reword and rewording is None:
            raise ValueError("reword needs a Rewording")
        if fused_negatives and miner.vectors is None:
            raise ValueError("fused_negatives needs a Miner with mining vectors")
        self.corpus = corpus
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
        positive = self._sequence(query, gold)
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
            if i != row.paragraph and not contains_answer(self.corpus.paragraphs[i], row.answers)
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
        vague = random.Random(f"{self.seed}:{question_index}:vague")
        if self.vague_miss and vague.random() < self.vague_miss:
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
        contrast = random.Random(f"{self.seed}:{question_index}:contrast")
        if swap is None and self.contrast_swap and contrast.random() < self.contrast_swap:
            swap = contrast_swap(query, gold, contrast)
        # One paragraph of the same article when it has others: close in topic, another answer.
        same = [
            i
            for i in self._by_article.get(gold.article, [])
            if i != row.paragraph and not contains_answer(self.corpus.paragraphs[i], row.answers)
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
                positive = self._sequence(query, read_gold)
                negatives = [short_window(p, rng)[0] for p in negatives]
        # The question paraphrased: words it shares with its paragraph swapped for neighbours
        # (drawn last, so the examples of a run without rewording stay as they were).
        if self.reword and self.rewording is not None and rng.random() < self.reword:
            # A question typed in lower case has its names in lower case too: they stay.
            reworded = self.rewording.reword(query, read_gold.text, rng, name_words(row.text))
            if reworded is not None:
                read = self._sequence(reworded, read_gold)
                # The name swap must still find its name in the reworded question.
                swappable = swap is None or replace_word(reworded, *swap) != reworded
                if gold_sentence in read.sentence_of_token and swappable:
                    query, positive = reworded, read
        sequences = [positive] + [self._sequence(query, p) for p in negatives]
        if swap is not None:
            swapped = replace_word(query, *swap)
            assert swapped != query, (query, swap)  # rewording was refused otherwise
            sequences.append(self._sequence(swapped, read_gold))
        return Example(sequences, gold_sentence)

    def _sequence(self, query: str, paragraph: Paragraph) -> Sequence:
        pair = self.encoder.encode(query, paragraph.text, paragraph.sentences)
        return Sequence(pair.ids, pair.type_ids, pair.sentence_of_token)
