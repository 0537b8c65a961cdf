"""The reader's training examples (train/reader_data.py, train/rewrites.py): the negatives that teach it to need the
answer, not only the topic. No torch needed: examples are built from text with the tokenizer."""

from __future__ import annotations

import dataclasses
import json
import lzma
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.models.reader import base_model_folder
from qa.models.reader_inputs import PairEncoder
from qa.text.spans import split_sentences
from qa.text.terms import question_stopwords
from train.corpus import Corpus, Paragraph, QuestionRow, load_corpus
from train.reader_data import ExampleMaker, Miner, mining_vectors
from train.rewrites import (
    Rewording,
    contains_answer,
    contrast_swap,
    name_words,
    names_in,
    swapped_question,
    with_vague_answer,
    without_answer,
    without_answer_span,
)


def paragraph(text: str) -> Paragraph:
    return Paragraph("article", text, tuple(split_sentences(text)))


VOTE = paragraph(
    "The bill passed by 118 votes to 97 on Friday. Thirty members abstained. "
    "It now goes to the president, who has 20 days to sign it."
)


def test_without_answer_drops_the_sentences_that_hold_it() -> None:
    stripped = without_answer(VOTE, ("118 votes",))
    assert stripped is not None
    assert "118" not in stripped.text
    assert stripped.text.startswith("Thirty members abstained.")
    assert len(stripped.sentences) == 2


def test_without_answer_gives_up_when_one_sentence_would_be_left() -> None:
    short = paragraph("The bill passed by 118 votes. Thirty members abstained.")
    assert without_answer(short, ("118 votes",)) is None


def test_without_answer_span_keeps_the_sentence_but_not_the_answer() -> None:
    cut = without_answer_span(VOTE, ("118 VOTES", "118"))
    assert cut is not None
    assert "118" not in cut.text
    # The question's own words stay: only what it asks for is gone.
    assert cut.text.startswith("The bill passed by to 97 on Friday.")
    assert "  " not in cut.text
    assert len(cut.sentences) == 3
    assert all(cut.text[start:end].strip() for start, end in cut.sentences)


def test_without_answer_span_is_none_when_the_answer_is_not_there() -> None:
    assert without_answer_span(VOTE, ("a landslide",)) is None
    assert without_answer_span(VOTE, ("  ",)) is None


def test_names_in_a_question_are_its_capitalised_words_past_the_first() -> None:
    assert names_in("How much have rents risen in Lisbon?") == ["Lisbon"]
    assert names_in("What did Angela Ruiz-Whitfield say about the Super Bowl?") == [
        "Angela Ruiz-Whitfield",
        "Super Bowl",
    ]
    assert names_in("Who won the vote?") == []


RENTS = paragraph("Rents in Lisbon rose 9% in 2023, the statistics office said. Porto saw less.")


def test_a_swapped_question_names_something_its_paragraph_does_not() -> None:
    rng = random.Random(3)
    for _ in range(20):
        swapped = swapped_question(
            "How much have rents risen in Lisbon?", RENTS, ["Madrid", "Porto", "Braga"], rng
        )
        assert swapped is not None
        assert swapped.startswith("How much have rents risen in ")
        name = swapped.removeprefix("How much have rents risen in ").rstrip("?")
        assert name in ("Madrid", "Braga")  # never a name the paragraph has (Porto)
    # A year the paragraph has becomes one it does not have.
    year = swapped_question("How much did rents rise in 2023?", RENTS, ["Madrid"], rng)
    assert year is not None and "2023" not in year
    assert year.removeprefix("How much did rents rise in ").rstrip("?") not in RENTS.text


def test_no_swap_when_the_question_names_nothing_its_paragraph_does() -> None:
    assert swapped_question("How much did rents rise?", RENTS, ["Madrid"], random.Random(1)) is None
    assert swapped_question("How much did rents rise in Faro?", RENTS, ["Madrid"], random.Random(1)) is None


MAYORS = paragraph("Tom Baptiste was the town's first mayor. He was elected in March 1990. Rents rose.")


def test_a_contrast_swap_asks_for_another_fact_of_the_same_kind() -> None:
    rng = random.Random(5)
    seen = set()
    for _ in range(60):
        found = contrast_swap("Who was the first mayor of the town?", MAYORS, rng)
        assert found is not None
        old, new = found
        assert old == "first"
        seen.add(new)
    # Any other ordinal, never the one asked, nor a synonym of it.
    assert seen == {"second", "third", "fourth", "fifth", "last", "final"}
    # A capitalised word keeps its capital; a class the paragraph mentions is never swapped in.
    months = {contrast_swap("What happened in March?", MAYORS, rng) for _ in range(60)}
    assert ("March", "July") in months and all(f is not None and f[1][0].isupper() for f in months)
    # The news near miss: the story gives the dead, the question asks for the injured.
    storm = paragraph("Storm Oriana killed two people in Galicia on Sunday.")
    for _ in range(20):
        found = contrast_swap("How many people were killed by the storm?", storm, rng)
        assert found is not None and found[0] == "killed" and found[1] in ("injured", "wounded", "hurt")
    both = paragraph("Rents rose in Lisbon and fell in Porto.")
    assert contrast_swap("How much did rents rise in Lisbon?", both, rng) is None  # "rise" not there
    assert contrast_swap("Where did rents rose?", both, rng) is None  # "fell" is there: answered


def test_no_contrast_swap_without_such_a_word_in_question_and_paragraph() -> None:
    rng = random.Random(1)
    assert contrast_swap("Who was the mayor of the town?", MAYORS, rng) is None
    # "last" is a word the question asks for, but the paragraph says nothing last: nothing to turn.
    assert contrast_swap("Who was the last mayor?", MAYORS, rng) is None
    # "first" as an adverb turns only to "last".
    made = paragraph("Rayon was first made in France in 1884.")
    for _ in range(10):
        assert contrast_swap("When was rayon first made?", made, rng) == ("first", "last")
    # "second" as a unit is no ordinal.
    speed = paragraph("The port moves data at 10 gigabits per second, the first to do so.")
    assert contrast_swap("How fast per second is the port?", speed, rng) is None
    # "largest" and "biggest" are one class: never swapped for each other.
    big = paragraph("Porto is the largest port and the biggest city of the north.")
    for _ in range(20):
        found = contrast_swap("Which is the largest port?", big, rng)
        assert found is not None and found[1] == "smallest"


STORM = paragraph("Storm Oriana killed 12 people in Galicia. Roofs were torn off in Vigo.")


def test_a_vague_miss_tells_of_the_event_without_the_detail_asked_for() -> None:
    rng = random.Random(2)
    blurred = with_vague_answer(STORM, ("12",), "How many people did Storm Oriana kill?", rng)
    assert blurred is not None
    first = blurred.text[: blurred.sentences[0][1]]
    assert re.fullmatch(r"Storm Oriana killed (several|a number of|many|some) people in Galicia\.", first)
    assert len(blurred.sentences) == 2 and "Vigo" in blurred.text
    where = with_vague_answer(STORM, ("Galicia",), "Where did Storm Oriana kill 12 people?", rng)
    assert where is not None and "Galicia" not in where.text and "12 people" in where.text
    # Every occurrence, whatever its case.
    twice = paragraph("Oslo is cold. In OSLO, it snows.")
    gone = with_vague_answer(twice, ("Oslo",), "Where does it snow?", rng)
    assert gone is not None and "oslo" not in gone.text.lower() and len(gone.sentences) == 2


def test_no_vague_miss_for_open_questions_or_answers_not_there() -> None:
    rng = random.Random(1)
    assert with_vague_answer(STORM, ("12",), "Why was the storm so strong?", rng) is None  # no vague "why"
    assert with_vague_answer(STORM, ("14",), "How many people did it kill?", rng) is None
    # An answer found only inside a longer word is still there after a whole-word replace.
    mixed = paragraph("Oslovians left Oslo.")
    assert with_vague_answer(mixed, ("Oslo",), "Where did they leave?", rng) is None


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("traindata")
    paragraphs = [
        {
            "context": VOTE.text,
            "qas": [
                {
                    "question": "How many votes did the bill get?",
                    "answers": [{"text": "118", "answer_start": 19}],
                }
            ],
        },
        {
            "context": "The president vetoed a bill on housing last year. Parliament overrode the veto.",
            "qas": [],
        },
        {"context": "Rents in Lisbon rose by 9% last year. Porto saw a smaller rise.", "qas": []},
        {"context": "Members of parliament are elected every four years. There are 230 seats.", "qas": []},
    ]
    data = {"data": [{"title": "Vote", "paragraphs": paragraphs}]}
    with lzma.open(folder / "squad-train-v1.1.json.xz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    return folder


def test_a_span_miss_joins_the_negatives_with_the_question_words_and_without_the_answer(
    tiny_corpus: Path,
) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    maker = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1, span_miss=1.0)
    example = maker.example(0)
    assert example is not None
    assert len(example.sequences) == 4  # the positive and three negatives
    cut = without_answer_span(corpus.paragraphs[0], corpus.questions[0].answers)
    assert cut is not None
    # Whatever the question became (maybe a search-box rewrite), the passage side is the cut text.
    wanted = passage_ids(
        encoder.encode("q", cut.text, cut.sentences).ids,
        encoder.encode("q", cut.text, cut.sentences).type_ids,
    )
    assert wanted in [passage_ids(s.ids, s.type_ids) for s in example.sequences[1:]]
    assert passage_ids(example.sequences[0].ids, example.sequences[0].type_ids) != wanted
    without = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1).example(0)
    assert without is not None
    assert wanted not in [passage_ids(s.ids, s.type_ids) for s in without.sequences]


def passage_ids(ids: list[int], type_ids: list[int]) -> list[int]:
    return [i for i, t in zip(ids, type_ids, strict=True) if t == 1]


def lisbon_corpus(tiny_corpus: Path, question: str) -> Corpus:
    """The tiny corpus with a question naming Lisbon, which its paragraph mentions (its own
    question names nothing), and another question naming Madrid (a name to swap in)."""
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    corpus.questions[0] = dataclasses.replace(corpus.questions[0], text=question)
    corpus.paragraphs[0] = paragraph(VOTE.text.replace("on Friday", "on Friday in Lisbon"))
    corpus.questions.append(dataclasses.replace(corpus.questions[0], text="What did Madrid decide?"))
    return corpus


def name_swap_draws(
    corpus: Corpus, encoder: PairEncoder, seeds: int, rewording: Rewording | None, reword: float
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...] | None]]:
    """Per seed, question 0's name-swap example: the positive's question ids, and the swapped
    question's ids when the last negative is the positive's own paragraph (None: no swap drawn)."""
    for seed in range(seeds):
        maker = ExampleMaker(
            corpus,
            Miner(corpus),
            encoder,
            negatives=3,
            seed=seed,
            name_swap=1.0,
            reword=reword,
            rewording=rewording,
        )
        example = maker.example(0)
        assert example is not None and len(example.sequences) == 4
        positive, last = example.sequences[0], example.sequences[-1]
        swapped = passage_ids(last.ids, last.type_ids) == passage_ids(positive.ids, positive.type_ids)
        yield (
            question_ids(positive.ids, positive.type_ids),
            question_ids(last.ids, last.type_ids) if swapped else None,
        )


def test_a_name_swap_adds_the_paragraph_with_a_question_it_does_not_answer(tiny_corpus: Path) -> None:
    corpus = lisbon_corpus(tiny_corpus, "How many votes did the bill get on Friday in Lisbon?")
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    example = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1, name_swap=1.0).example(0)
    assert example is not None
    assert len(example.sequences) == 4
    last = example.sequences[-1]
    # The last negative reads the positive's own paragraph, with another question.
    assert passage_ids(last.ids, last.type_ids) == passage_ids(
        example.sequences[0].ids, example.sequences[0].type_ids
    )
    assert last.ids != example.sequences[0].ids
    # The positive's question (in whatever form it was typed) with Lisbon turned to Madrid.
    lisbon, madrid = (encoder.encode(w, "", ()).ids[1] for w in ("lisbon", "madrid"))
    asked = question_ids(example.sequences[0].ids, example.sequences[0].type_ids)
    assert question_ids(last.ids, last.type_ids) == tuple(madrid if i == lisbon else i for i in asked)


def test_the_swapped_question_is_typed_and_reworded_as_the_query_is(
    tiny_corpus: Path, rewording: Rewording
) -> None:
    """Over many draws (as asked, lower case, key words; reworded or not) the name-swap negative
    differs from the positive's question only by the name: never by its form or wording."""
    corpus = lisbon_corpus(tiny_corpus, "How many votes did the bill get in Lisbon?")
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    lisbon, madrid, mark = (encoder.encode(w, "", ()).ids[1] for w in ("lisbon", "madrid", "?"))
    forms = set()
    for asked, swapped in name_swap_draws(corpus, encoder, 40, rewording, reword=0.5):
        assert lisbon in asked  # the name is never reworded away, whatever the form
        if swapped is None:
            continue  # no other name drawn in five tries: no swap this time
        assert swapped == tuple(madrid if i == lisbon else i for i in asked)
        forms.add(mark in asked)
    assert forms == {True, False}  # swaps both as asked and as typed in a search box


def test_rewording_keeps_the_names_of_a_question_typed_in_lower_case(rewording: Rewording) -> None:
    passage = "Rents in Lisbon rose sharply last year, official figures showed."
    keep = frozenset({"lisbon"})
    for seed in range(30):
        reworded = rewording.reword(
            "how sharply did rents rise in lisbon", passage, random.Random(seed), keep
        )
        assert reworded is None or " lisbon" in reworded
    swapped_names = {
        rewording.reword("how sharply did rents rise in lisbon", passage, random.Random(seed))
        for seed in range(30)
    }
    assert any(r is not None and "lisbon" not in r for r in swapped_names)  # what keep prevents


def test_rewording_leaves_hyphenated_names_whole(rewording: Rewording) -> None:
    passage = "A shipyard in Goa is constructing the Indian-made ship, the navy's largest."
    reworded = [
        rewording.reword("Who is constructing the Indian-made ship?", passage, random.Random(seed))
        for seed in range(30)
    ]
    assert any(r is not None for r in reworded)  # "constructing" and "ship" are swapped
    assert all("Indian-made" in r for r in reworded if r is not None)
    # Typed as key words the hyphen is gone: the name's words are kept all the same.
    keep = name_words("Who is constructing the Indian-made ship?")
    assert {"indian", "made"} <= keep
    typed = [
        rewording.reword("constructing indian made ship", passage, random.Random(seed), keep)
        for seed in range(30)
    ]
    assert any(r is not None for r in typed)
    assert all("indian made" in r for r in typed if r is not None)


class ForgetfulRewording(Rewording):
    """Rewords every question by dropping "lisbon": a rewording that loses the name to swap."""

    def __init__(self) -> None:
        pass

    def reword(
        self, question: str, passage: str, rng: random.Random, keep: frozenset[str] = frozenset()
    ) -> str | None:
        return re.sub(r"(?i)\s*\blisbon\b", "", question)


def test_a_rewording_that_loses_the_name_to_swap_is_not_taken(tiny_corpus: Path) -> None:
    corpus = lisbon_corpus(tiny_corpus, "How many votes did the bill get in Lisbon?")
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    lisbon, madrid = (encoder.encode(w, "", ()).ids[1] for w in ("lisbon", "madrid"))
    swaps = 0
    for asked, swapped in name_swap_draws(corpus, encoder, 20, ForgetfulRewording(), reword=1.0):
        if swapped is not None:
            swaps += 1
            assert lisbon in asked  # the rewording was refused, the name swapped
            assert swapped == tuple(madrid if i == lisbon else i for i in asked)
    assert swaps > 0


def test_a_name_swap_finds_its_hyphenated_name_in_the_reworded_question(
    tiny_corpus: Path, rewording: Rewording
) -> None:
    """Rewording once turned "Indian-made" into "Indian-manufactured", and the name swap that
    was to replace "Indian-made" found nothing: training stopped on an assertion."""
    corpus = lisbon_corpus(tiny_corpus, "How many votes did the Indian-made bill get?")
    corpus.paragraphs[0] = paragraph(VOTE.text.replace("The bill", "The Indian-made bill"))
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    madrid = encoder.encode("madrid", "", ()).ids[1]
    swaps = 0
    for asked, swapped in name_swap_draws(corpus, encoder, 40, rewording, reword=1.0):
        if swapped is not None:
            swaps += 1
            assert madrid in swapped
            assert madrid not in asked
    assert swaps > 0


def test_every_example_has_one_positive_and_the_same_number_of_negatives(tiny_corpus: Path) -> None:
    """The loss groups sequences by negatives + 1: near misses, a same-article paragraph and a
    swapped question all at once must still make exactly that many."""
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    corpus.questions[0] = dataclasses.replace(
        corpus.questions[0], text="How many votes did the bill get on Friday in Lisbon?"
    )
    lisbon = VOTE.text.replace("on Friday", "on Friday in Lisbon")
    # Kept in its article, so that the article's other paragraphs can be drawn as negatives.
    corpus.paragraphs[0] = Paragraph(corpus.paragraphs[0].article, lisbon, tuple(split_sentences(lisbon)))
    corpus.questions.append(dataclasses.replace(corpus.questions[0], text="What did Madrid decide?"))
    sizes = set()
    for seed in range(12):  # the same-article paragraph is drawn half the time
        maker = ExampleMaker(
            corpus,
            Miner(corpus),
            encoder,
            negatives=3,
            seed=seed,
            near_miss=1.0,
            span_miss=1.0,
            name_swap=1.0,
        )
        example = maker.example(0)
        assert example is not None
        sizes.add(len(example.sequences))
    assert sizes == {4}


def test_a_contrast_swap_reads_the_paragraph_with_another_fact_asked(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    corpus.questions[0] = dataclasses.replace(
        corpus.questions[0], text="How many votes did the bill get first?"
    )
    text = VOTE.text.replace("on Friday", "on Friday, first time round")
    corpus.paragraphs[0] = Paragraph(corpus.paragraphs[0].article, text, tuple(split_sentences(text)))
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    first = encoder.encode("first", "", ()).ids[1]
    ordinals = {
        encoder.encode(w, "", ()).ids[1] for w in ("second", "third", "fourth", "fifth", "last", "final")
    }
    swapped = 0
    for seed in range(10):
        example = ExampleMaker(
            corpus, Miner(corpus), encoder, negatives=3, seed=seed, contrast_swap=1.0
        ).example(0)
        assert example is not None and len(example.sequences) == 4
        positive, last = example.sequences[0], example.sequences[-1]
        # The last negative is the positive's paragraph, its question with "first" turned.
        assert passage_ids(last.ids, last.type_ids) == passage_ids(positive.ids, positive.type_ids)
        asked, turned = question_ids(positive.ids, positive.type_ids), question_ids(last.ids, last.type_ids)
        assert len(asked) == len(turned)
        changed = [(a, b) for a, b in zip(asked, turned, strict=True) if a != b]
        assert len(changed) == 1 and changed[0][0] == first and changed[0][1] in ordinals
        swapped += 1
        plain = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=seed).example(0)
        assert plain is not None
        # Without it, the same draws: the same positive, and no question but the positive's.
        assert plain.sequences[0].ids == positive.ids
        assert all(question_ids(s.ids, s.type_ids) == asked for s in plain.sequences)
    assert swapped == 10


def test_a_vague_miss_joins_the_negatives_and_leaves_the_other_draws(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    seen = 0
    for seed in range(6):
        example = ExampleMaker(
            corpus, Miner(corpus), encoder, negatives=3, seed=seed, vague_miss=1.0
        ).example(0)
        plain = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=seed).example(0)
        assert example is not None and plain is not None and len(example.sequences) == 4
        assert example.sequences[0].ids == plain.sequences[0].ids  # the same positive, as typed
        first = passage_ids(example.sequences[1].ids, example.sequences[1].type_ids)
        for filler in ("several", "a number of", "many", "some"):
            blurred = VOTE.text.replace("118", filler)
            if first == passage_ids(*_pair(encoder, blurred)):
                seen += 1
    assert seen == 6  # "How many votes": 118 turned vague, read first among the negatives


def _pair(encoder: PairEncoder, text: str) -> tuple[list[int], list[int]]:
    pair = encoder.encode("q", text, tuple(split_sentences(text)))
    return pair.ids, pair.type_ids


def test_short_passages_cut_every_passage_to_a_few_sentences_and_keep_the_answer(tiny_corpus: Path) -> None:
    from tokenizers import Tokenizer

    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    words = Tokenizer.from_file(str(base_model_folder() / "tokenizer.json"))
    gold = corpus.paragraphs[0]
    # An answer in the last sentence, so that a cut passage numbers its sentences anew.
    corpus.questions[0] = dataclasses.replace(
        corpus.questions[0],
        text="How long does the president have to sign it?",
        answers=("20 days",),
        answer_start=gold.text.index("20 days"),
    )
    lengths = set()
    for seed in range(8):
        maker = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=seed, short_passages=1.0)
        example = maker.example(0)
        assert example is not None and len(example.sequences) == 4
        positive = example.sequences[0]
        # The answer stays in the positive, in the sentence numbered gold_sentence there.
        answering = [
            i
            for i, s in zip(positive.ids, positive.sentence_of_token, strict=True)
            if s == example.gold_sentence
        ]
        assert "20 days" in words.decode(answering)
        for sequence in example.sequences:
            assert 1 <= len({s for s in sequence.sentence_of_token if s >= 0}) <= 3
        lengths.add(len({s for s in positive.sentence_of_token if s >= 0}))
    assert min(lengths) < len(gold.sentences)  # cut, not only read whole
    whole = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1).example(0)
    assert whole is not None
    assert len({s for s in whole.sequences[0].sentence_of_token if s >= 0}) == len(gold.sentences)


@pytest.fixture(scope="module")
def rewording() -> Rewording:
    return Rewording(base_model_folder(), question_stopwords())


def test_rewording_swaps_a_shared_word_for_a_neighbour_and_leaves_names_and_facts(
    rewording: Rewording,
) -> None:
    assert "murdered" in rewording.neighbours("killed")
    assert all(n[:4] != "kill" for n in rewording.neighbours("killed"))  # not "killing", "kills"
    passage = "Two people were killed in Lisbon in the first week of the storm."
    question = "How many people were killed in Lisbon in the first week?"
    seen = set()
    for seed in range(20):
        reworded = rewording.reword(question, passage, random.Random(seed))
        assert reworded is not None and reworded != question
        assert "Lisbon" in reworded and "first week" in reworded  # a name; facts asked for
        swapped = set(reworded.rstrip("?").split()) - set(question.rstrip("?").split())
        assert 1 <= len(swapped) <= 2
        seen |= swapped
    assert len(seen) > 2  # drawn among several neighbours
    # Nothing shared but names and facts: nothing to swap.
    assert rewording.reword("Who won in Lisbon in the first week?", passage, random.Random(1)) is None


def test_a_reworded_example_reads_every_passage_with_the_paraphrase(
    tiny_corpus: Path, rewording: Rewording
) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    maker = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1, reword=1.0, rewording=rewording)
    plain = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1).example(0)
    example = maker.example(0)
    assert example is not None and plain is not None and len(example.sequences) == 4
    questions = {question_ids(s.ids, s.type_ids) for s in example.sequences}
    assert len(questions) == 1  # the same (reworded) question for the positive and its negatives
    assert questions != {question_ids(s.ids, s.type_ids) for s in plain.sequences}
    assert example.gold_sentence == plain.gold_sentence
    with pytest.raises(ValueError, match="Rewording"):
        ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1, reword=0.5)


def question_ids(ids: list[int], type_ids: list[int]) -> tuple[int, ...]:
    return tuple(i for i, t in zip(ids, type_ids, strict=True) if t == 0)


class FakeEncoder:
    """Vectors by hand: a paragraph's vector is chosen by its first word, a question's by its last."""

    name = "fake"
    dim = 3

    def __init__(self, by_word: dict[str, list[float]]) -> None:
        self.by_word = by_word
        self.calls = 0

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        rows = [self.by_word.get(t.split()[0], [0.0, 0.0, 1.0]) for t in texts]
        return np.array(rows, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = [self.by_word.get(t.rstrip("?").split()[-1], [0.0, 0.0, 1.0]) for t in texts]
        return np.array(rows, dtype=np.float32)


def test_fused_mining_ranks_by_meaning_as_well_as_shared_words(tiny_corpus: Path, tmp_path: Path) -> None:
    """'Members of parliament...' shares no word with the question but is nearest in meaning:
    BM25 ranks it low, the fused ranking (as the product retrieves: 0.6 x cosine + 0.4 x BM25 over
    the best BM25) first, over the answer's paragraph (BM25's best, cosine 0 here)."""
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = FakeEncoder({"The": [1.0, 0.0, 0.0], "Members": [0.0, 1.0, 0.0], "get": [0.0, 1.0, 0.0]})
    vectors = mining_vectors(corpus, encoder, tmp_path)
    miner = Miner(corpus, vectors)
    bm25 = miner.candidates(corpus.questions[0].text)
    fused = miner.fused_candidates(0)
    members = 3
    assert sorted(fused) == sorted(bm25) == [0, 1, 2, 3]
    assert bm25[0] == 0 and bm25.index(members) > 1
    assert fused[:2] == [members, 0]
    with pytest.raises(ValueError, match="mining vectors"):
        Miner(corpus).fused_candidates(0)


def test_mining_vectors_are_kept_and_reused(tiny_corpus: Path, tmp_path: Path) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    first = FakeEncoder({"The": [1.0, 0.0, 0.0]})
    made = mining_vectors(corpus, first, tmp_path)
    assert made.paragraphs.shape == (4, 3) and made.questions.shape == (1, 3)
    kept_files = [f.name for f in tmp_path.iterdir()]
    assert len(kept_files) == 1 and "partial" not in kept_files[0]
    again = FakeEncoder({})
    kept = mining_vectors(corpus, again, tmp_path)
    assert again.calls == 0
    # Exactly what the first run mined with: a resumed run makes the same negatives.
    np.testing.assert_array_equal(kept.paragraphs, made.paragraphs)
    np.testing.assert_array_equal(kept.questions, made.questions)


def test_fused_negatives_mine_with_the_vectors_for_their_share(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    with pytest.raises(ValueError, match="mining vectors"):
        ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1, fused_negatives=0.5)
    miner = Miner(corpus, mining_vectors(corpus, FakeEncoder({}), tmp_path))
    asked: list[int] = []
    fused = miner.fused_candidates

    def spy(question_index: int, k: int = 30) -> list[int]:
        asked.append(question_index)
        return fused(question_index, k)

    monkeypatch.setattr(miner, "fused_candidates", spy)
    always = ExampleMaker(corpus, miner, encoder, negatives=3, seed=1, fused_negatives=1.0).example(0)
    assert always is not None and len(always.sequences) == 4
    assert asked == [0]
    # At 0 nothing is mined with the vectors: the examples of a miner without them.
    before = ExampleMaker(corpus, Miner(corpus), encoder, negatives=3, seed=1).example(0)
    off = ExampleMaker(corpus, miner, encoder, negatives=3, seed=1, fused_negatives=0.0).example(0)
    assert asked == [0]
    assert before == off


def test_fused_mining_counts_bm25_past_its_own_best_candidates(tmp_path: Path) -> None:
    """As the product's retriever does, a paragraph that dense search finds but BM25 ranks past
    its best 50 keeps its (small) BM25 share: here it is what puts it over one BM25 never matches."""
    texts = [f"Vote on the bill number {n} was held." for n in range(55)]
    texts.append("Xray " + "report " * 30 + "mentions a vote once.")  # BM25 ranks it last of its matches
    texts.append("Yankee stadium hosted a concert.")  # no word of the question
    texts += [f"Filler paragraph {n} about gardens." for n in range(10)]
    corpus = Corpus(
        [Paragraph(f"a{i}", t, tuple(split_sentences(t))) for i, t in enumerate(texts)],
        [QuestionRow("vote bill", 0, ("number 0",), 0)],
        {"fake.json": "0"},
    )
    encoder = FakeEncoder({"Xray": [0.98, 0.199, 0.0], "Yankee": [1.0, 0.0, 0.0], "bill": [1.0, 0.0, 0.0]})
    miner = Miner(corpus, mining_vectors(corpus, encoder, tmp_path))
    xray, yankee = 55, 56
    assert miner.candidates("vote bill", k=len(texts)).index(xray) >= 50
    scores = miner.bm25_scores("vote bill")
    assert scores[xray] > 0 and scores[yankee] == 0
    # 0.6 x 0.98 + 0.4 x its share beats 0.6 x 1.0 + 0; counted as 0 it would not.
    assert miner.fused_candidates(0, k=2) == [xray, yankee]


def test_a_name_ending_in_an_apostrophe_is_swapped_too() -> None:
    tour = paragraph("The Beatles' first tour of America was managed by Brian Epstein.")
    assert names_in("Who managed the Beatles' tour?") == ["Beatles'"]
    swapped = swapped_question("Who managed the Beatles' tour?", tour, ["Rolling Stones"], random.Random(0))
    assert swapped == "Who managed the Rolling Stones tour?"


def test_titles_are_read_before_every_passage_and_leave_the_draws_alone(tiny_corpus: Path) -> None:
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    assert {p.title for p in corpus.paragraphs} == {"Vote"}  # SQuAD's titles name the subject
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    heading = encoder.encode("", "Vote.", ()).ids[2:-1]  # the title's tokens, as read
    for seed in range(6):
        options = {"negatives": 3, "seed": seed, "near_miss": 0.5, "span_miss": 0.5, "short_passages": 0.5}
        plain = ExampleMaker(corpus, Miner(corpus), encoder, **options).example(0)  # type: ignore[arg-type]
        titled = ExampleMaker(corpus, Miner(corpus), encoder, titles=True, **options).example(0)  # type: ignore[arg-type]
        assert plain is not None and titled is not None
        assert titled.gold_sentence == plain.gold_sentence
        for with_title, without in zip(titled.sequences, plain.sequences, strict=True):
            read = passage_ids(with_title.ids, with_title.type_ids)
            assert read[: len(heading)] == heading
            # The same passages and questions were drawn: only the title was put in front.
            assert read[len(heading) :] == passage_ids(without.ids, without.type_ids)
            first = with_title.type_ids.index(1)
            assert with_title.sentence_of_token[first : first + len(heading)] == [-1] * len(heading)
            assert [o for o in with_title.sentence_of_token if o >= 0] == [
                o for o in without.sentence_of_token if o >= 0
            ]


def test_a_title_that_holds_the_answer_is_not_read(tmp_path: Path) -> None:
    """Its near misses, read after a title that answers, would still answer: the example is read
    untitled; and a negative whose title holds the answer is no negative."""
    abstained = dataclasses.replace(paragraph("Thirty members abstained."), title="Passed by 118 votes")
    assert contains_answer(abstained, ("118",), titled=True)
    assert not contains_answer(abstained, ("118",), titled=False)
    assert not contains_answer(abstained, ("97",), titled=True)
    president = "Eisenhower was the 34th president of the United States. He served two terms from 1953."
    asked = {
        "question": "Who was the 34th president?",
        "answers": [{"text": "Eisenhower", "answer_start": 0}],
    }
    data = {
        "data": [
            {"title": "Dwight_D._Eisenhower", "paragraphs": [{"context": president, "qas": [asked]}]},
            {"title": "Vote", "paragraphs": [{"context": VOTE.text, "qas": []}]},
        ]
    }
    with lzma.open(tmp_path / "squad-train-v1.1.json.xz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    corpus = load_corpus(tmp_path, ["squad-train"])
    assert corpus.paragraphs[0].title == "Dwight D. Eisenhower"
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    for seed in range(4):
        plain = ExampleMaker(corpus, Miner(corpus), encoder, negatives=2, seed=seed, near_miss=1.0).example(0)
        titled = ExampleMaker(
            corpus, Miner(corpus), encoder, negatives=2, seed=seed, near_miss=1.0, titles=True
        ).example(0)
        assert plain is not None and titled is not None
        assert [s.ids for s in titled.sequences] == [s.ids for s in plain.sequences]


def test_only_subjects_are_titles(tmp_path: Path) -> None:
    """amazon's "articles" are named by file (Amazon_Reviews_2030): read untitled."""
    data = {"data": [{"title": "Amazon_Reviews_2030", "paragraphs": [{"context": "It broke.", "qas": []}]}]}
    with lzma.open(tmp_path / "squadshifts-amazon_reviews-v1.0.json.xz", "wt", encoding="utf-8") as handle:
        json.dump(data, handle)
    assert load_corpus(tmp_path, ["amazon"]).paragraphs[0].title == ""


def test_more_negatives_from_the_command_line_make_bigger_groups_that_the_loss_ranks_within(
    tiny_corpus: Path,
) -> None:
    pytest.importorskip("torch", reason="the loss needs article-qa[train]")
    pytest.importorskip("transformers", reason="the loss needs article-qa[train]")
    import torch

    from train.reader import DEFAULTS, build_parser, collate, config_from, losses

    assert config_from(build_parser().parse_args([])) == DEFAULTS
    config = config_from(build_parser().parse_args(["--negatives", "5"]))
    assert config["negatives"] == 5
    assert {k for k in config if config[k] != DEFAULTS[k]} == {"negatives"}
    corpus = load_corpus(tiny_corpus, ["squad-train"])
    encoder = PairEncoder(base_model_folder() / "tokenizer.json", 192)
    maker = ExampleMaker(corpus, Miner(corpus), encoder, negatives=config["negatives"], seed=1)
    examples = [maker.example(0), maker.example(0)]
    assert all(e is not None and len(e.sequences) == 6 for e in examples)

    class Even(torch.nn.Module):  # every passage and token scored alike
        def forward(
            self, ids: torch.Tensor, type_ids: torch.Tensor, mask: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.zeros(ids.shape[0]), torch.zeros(ids.shape)

    parts = losses(Even(), collate([e for e in examples if e is not None]), 6, config)  # type: ignore[arg-type]
    # A softmax over six even passages: log 6 (over four, as the default groups, log 4).
    assert float(parts["ranking"]) == pytest.approx(np.log(6), abs=1e-6)
