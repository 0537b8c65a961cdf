"""Rewrites of a training question or its paragraph: the near misses that teach the reader to
need the answer, not only the topic (the answer taken out, made vague, or asked of another name
or another fact of its kind), and the paraphrases that teach it how news readers ask."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import numpy as np

from qa.search.answer_types import AnswerKind, expected_kind
from qa.text.spans import split_sentences
from train.corpus import Paragraph

WORD = re.compile(r"\w+", re.UNICODE)


def contains_answer(paragraph: Paragraph, answers: tuple[str, ...], titled: bool = False) -> bool:
    """Whether the paragraph's text (and with ``titled``, its title as read) holds an answer."""
    lowered = f"{paragraph.title}\n{paragraph.text}".lower() if titled else paragraph.text.lower()
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
    return dataclasses.replace(paragraph, text=text, sentences=tuple(split_sentences(text)))


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
    return dataclasses.replace(paragraph, text=text, sentences=tuple(split_sentences(text)))


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
    return dataclasses.replace(paragraph, text=text, sentences=tuple(split_sentences(text)))


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
    in_paragraph = {w.lower() for w in WORD.findall(paragraph.text)}
    in_question = {w.lower() for w in WORD.findall(question)}
    found: list[tuple[str, list[str]]] = []
    words = WORD.findall(question)
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
    return frozenset(capitalised | {w.lower() for name in names_in(question) for w in WORD.findall(name)})


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
        shared = set(WORD.findall(passage.lower()))
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
