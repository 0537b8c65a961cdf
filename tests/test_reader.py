"""The reader: shipped in the package and checked when it loads, the same numbers in NumPy as in
the framework it was trained with, a clear error when damaged, and the fast path without it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from qa import QA, build_index
from qa.evaluation import load_questions
from qa.models.reader import (
    CALIBRATION_FILE,
    SETTINGS_FILE,
    WEIGHTS_FILE,
    WEIGHTS_FOLDER,
    PassageReader,
    ReaderUnavailableError,
    base_model_folder,
    packaged_reader,
)
from qa.models.reader_inputs import PairEncoder
from qa.text.spans import split_sentences
from tests.conftest import SEED, FakeEncoder, WordReader

QUESTIONS = Path(__file__).resolve().parent.parent / "examples" / "questions"

PASSAGES = [
    "Chasiv Yar lies 10 kilometers west of the front line. Soldiers there expect Bakhmut to fall.",
    "The harbour bridge reopened on Friday after two years of repairs costing 40 million euros.",
    "x",
    "A long paragraph. " * 200,  # past the reader's windows: its last sentences unread
]


def _pairs() -> list[tuple[str, list[tuple[int, int]]]]:
    return [(text, split_sentences(text)) for text in PASSAGES]


def test_the_reader_ships_with_the_package_and_its_checksum_is_recorded() -> None:
    settings = json.loads((WEIGHTS_FOLDER / SETTINGS_FILE).read_text(encoding="utf-8"))
    weights = WEIGHTS_FOLDER / WEIGHTS_FILE
    assert weights.stat().st_size <= 25 * 1024 * 1024
    assert len(settings["weights_sha256"]) == 64
    reader = packaged_reader()
    assert reader is packaged_reader()  # loaded once per process
    assert reader.version == settings["version"]
    assert 0.0 < reader.calibration.abstain_below < 1.0
    calibration = json.loads((WEIGHTS_FOLDER / CALIBRATION_FILE).read_text(encoding="utf-8"))
    assert calibration["reader_version"] == reader.version  # the threshold belongs to this version
    assert calibration["reader_weights_sha256"] == settings["weights_sha256"]  # and to these weights


def test_readings_have_a_probability_and_a_logit_per_sentence() -> None:
    readings = packaged_reader().read("How far is Chasiv Yar from the front line?", _pairs())
    assert len(readings) == len(PASSAGES)
    for reading, (_, spans) in zip(readings, _pairs(), strict=True):
        assert 0.0 <= reading.probability <= 1.0
        assert len(reading.sentences) == len(spans)
    assert all(np.isfinite(readings[0].sentences))
    # The first sentence answers; the bridge does not.
    assert readings[0].sentences[0] > readings[0].sentences[1]
    assert readings[0].logit > readings[1].logit
    # The long paragraph is read in windows, as far as they reach: its last sentences are not.
    assert np.isfinite(readings[3].sentences[0]) and readings[3].sentences[-1] == float("-inf")
    # Alone or among others, a passage reads the same.
    alone = packaged_reader().read("How far is Chasiv Yar from the front line?", _pairs()[1:2])[0]
    assert alone.logit == pytest.approx(readings[1].logit, abs=1e-4)


def test_a_title_is_read_before_the_passage_and_belongs_to_no_sentence() -> None:
    inputs = PairEncoder(base_model_folder() / "tokenizer.json", 64)
    text, spans = _pairs()[0]
    plain = inputs.encode("how far", text, spans)
    titled = inputs.encode("how far", text, spans, title="Donbas dispatch")
    heading = inputs.encode("", "Donbas dispatch.", ()).ids[2:-1]
    start = titled.type_ids.index(1)
    assert titled.ids[start : start + len(heading)] == heading
    assert titled.sentence_of_token[start : start + len(heading)] == [-1] * len(heading)
    # The window holds: the passage gives up the title's room, its tokens keep their sentences.
    assert len(titled.ids) <= 64
    kept = len(titled.ids) - start - len(heading) - 1
    assert titled.ids[start + len(heading) : -1] == plain.ids[start : start + kept]
    assert (
        titled.sentence_of_token[start + len(heading) : -1] == plain.sentence_of_token[start : start + kept]
    )
    assert inputs.encode("how far", text, spans, title="  ") == plain  # a blank title is none


def test_a_long_passage_is_read_in_windows_that_start_where_a_sentence_starts() -> None:
    inputs = PairEncoder(base_model_folder() / "tokenizer.json", 48)
    text = " ".join(f"Sentence number {n} tells of the harbour bridge and its repairs." for n in range(12))
    spans = split_sentences(text)
    windows = inputs.encode_windows("how far", text, spans, max_windows=20)
    # The first window is what training reads (and encode gives); a passage that fits is one pair.
    assert windows[0] == inputs.encode("how far", text, spans)
    assert inputs.encode_windows("how far", "A short one.", [(0, 12)]) == [
        inputs.encode("how far", "A short one.", [(0, 12)])
    ]
    assert len(windows) > 1 and all(len(w.ids) <= 48 for w in windows)
    owners = [[o for o in w.sentence_of_token if o >= 0] for w in windows]
    # Each window after the first starts with the sentence the window before it cut (or the next
    # one, when it ended on a sentence's end), from that sentence's first token.
    for before, after, window in zip(owners, owners[1:], windows[1:], strict=False):
        assert after[0] in (before[-1], before[-1] + 1)
        first = window.type_ids.index(1)
        assert window.sentence_of_token[first] == after[0]
    # Together they read the whole passage: every sentence, up to its last token.
    assert sorted({o for w in owners for o in w}) == list(range(len(spans)))
    tokens = Tokenizer.from_file(str(base_model_folder() / "tokenizer.json"))
    tokens.no_truncation()
    assert windows[-1].ids[-2] == tokens.encode(text, add_special_tokens=False).ids[-1]
    # The number of windows is capped: what is past the last one is not read.
    capped = inputs.encode_windows("how far", text, spans, max_windows=2)
    assert capped == windows[:2]


def test_an_answer_past_the_first_window_is_read() -> None:
    question = "How far is Chasiv Yar from the front line?"
    filler = "The council met on Tuesday to discuss the new parking rules for the town centre. " * 14
    answer = "Chasiv Yar lies 10 kilometers west of the front line."
    text = filler + answer
    spans = split_sentences(text)
    reader = packaged_reader()
    assert len(reader._inputs.encode_windows(question, text, spans)) > 1  # the answer is past the first
    long, plain = reader.read(question, [(text, spans), (filler, split_sentences(filler))])
    # Its sentence is read and chosen, and it makes the passage answer as it does alone.
    assert np.isfinite(long.sentences[-1]) and int(np.argmax(long.sentences)) == len(spans) - 1
    alone = reader.read(question, [(answer, [(0, len(answer))])])[0]
    assert long.logit > plain.logit + 3
    assert long.logit == pytest.approx(alone.logit, abs=3)


def test_titles_are_read_only_by_a_reader_trained_with_them(tmp_path: Path) -> None:
    question = "How far is Chasiv Yar from the front line?"
    titles = ["War in Ukraine", "Harbour news", "x", "Long"]
    untitled_folder = _copy(tmp_path / "untitled")
    _edit(untitled_folder / SETTINGS_FILE, reads_titles=False)
    untitled = PassageReader(untitled_folder)
    # A reader trained without titles would read one as a sentence of the passage: it is not given.
    assert [r.logit for r in untitled.read(question, _pairs(), titles)] == [
        r.logit for r in untitled.read(question, _pairs())
    ]
    folder = _copy(tmp_path / "titled")
    _edit(folder / SETTINGS_FILE, reads_titles=True)
    titled = PassageReader(folder)
    with_titles = titled.read(question, _pairs(), titles)
    without = titled.read(question, _pairs())
    assert with_titles[0].logit != pytest.approx(without[0].logit, abs=1e-3)
    assert [len(r.sentences) for r in with_titles] == [len(r.sentences) for r in without]
    with pytest.raises(ValueError, match="2 titles for 4 passages"):
        titled.read(question, _pairs(), titles[:2])


@pytest.mark.slow
def test_the_numpy_forward_matches_the_training_framework() -> None:
    import torch
    from safetensors.numpy import load_file
    from transformers import BertConfig, BertModel

    settings = json.loads((WEIGHTS_FOLDER / SETTINGS_FILE).read_text(encoding="utf-8"))
    shipped = {
        k: torch.from_numpy(v.astype(np.float32))
        for k, v in load_file(str(WEIGHTS_FOLDER / WEIGHTS_FILE)).items()
    }
    base = base_model_folder()
    shipped["embeddings.word_embeddings.weight"] = torch.from_numpy(
        load_file(str(base / "model.safetensors"))["embeddings.word_embeddings.weight"]
    )
    config = BertConfig.from_pretrained(str(base))
    config.max_position_embeddings = settings["max_tokens"]
    model = BertModel(config, add_pooling_layer=False).eval()
    heads = {k: shipped.pop(k) for k in list(shipped) if k.startswith(("passage_head", "token_head"))}
    model.load_state_dict(shipped, strict=False)
    inputs = PairEncoder(base / "tokenizer.json", settings["max_tokens"])
    question = "how far is chasiv yar from the front line"
    reader = packaged_reader()
    readings = reader.read(question, _pairs())
    for (text, spans), reading in zip(_pairs(), readings, strict=True):
        # The same windows read in torch: the passage's best window, each sentence's best.
        logits, sentences = [], np.full(len(spans), -np.inf)
        for pair in inputs.encode_windows(question, text, spans):
            with torch.no_grad():
                hidden = model(
                    input_ids=torch.tensor([pair.ids]), token_type_ids=torch.tensor([pair.type_ids])
                ).last_hidden_state[0]
                logits.append(
                    float(hidden[0] @ heads["passage_head.weight"][0] + heads["passage_head.bias"][0])
                )
                tokens = (hidden @ heads["token_head.weight"][0] + heads["token_head.bias"][0]).numpy()
            owners = np.array(pair.sentence_of_token)
            for number in range(len(spans)):
                inside = owners == number
                if inside.any():
                    sentences[number] = max(sentences[number], float(tokens[inside].mean()))
        assert reading.logit == pytest.approx(max(logits), abs=1e-4)
        assert reading.sentences == pytest.approx(tuple(sentences), abs=1e-4)
    assert np.isfinite(readings[3].sentences[40]) and readings[3].sentences[-1] == float("-inf")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "reader"
    shutil.copytree(WEIGHTS_FOLDER, folder)
    return folder


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / WEIGHTS_FILE).unlink(), "missing"),
        (lambda f: (f / SETTINGS_FILE).unlink(), "reader.json is missing"),
        (lambda f: _flip_a_byte(f / WEIGHTS_FILE), "damaged"),
        (lambda f: (f / WEIGHTS_FILE).write_bytes(b""), "damaged"),
        (lambda f: (f / SETTINGS_FILE).write_text("{not json", encoding="utf-8"), "cannot be read"),
        (lambda f: _edit(f / CALIBRATION_FILE, reader_version="0.0"), "refit"),
        # Same version, other weights: two exports whose steps add up alike.
        (lambda f: _edit(f / CALIBRATION_FILE, reader_weights_sha256="0" * 64), "other weights"),
    ],
)
def test_a_damaged_or_missing_reader_is_a_clear_error(tmp_path: Path, damage: object, message: str) -> None:
    folder = _copy(tmp_path)
    damage(folder)  # type: ignore[operator]
    with pytest.raises(ReaderUnavailableError, match=message) as caught:
        PassageReader(folder)
    assert "reader=False" in str(caught.value) or "refit" in message


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_the_fast_path_works_when_the_reader_cannot_load(
    tmp_path: Path, articles: Path, fake_encoder: FakeEncoder
) -> None:
    folder = _copy(tmp_path)
    _flip_a_byte(folder / WEIGHTS_FILE)
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with pytest.raises(ReaderUnavailableError, match="reader=False"):
        QA.open("idx", encoder=fake_encoder, reader=PassageReader(folder))
    with QA.open("idx", encoder=fake_encoder, reader=False) as qa:
        answer = qa.ask("When did the harbour bridge reopen?")
        assert answer.citations[0].article_id == "news/harbour.txt"
        assert qa.reader is None


@pytest.fixture(scope="module")
def seed_qa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QA]:
    """The seed article alone, indexed with the real model: a one-article index."""
    folder = tmp_path_factory.mktemp("seed") / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    index = folder.parent / "index"
    build_index(folder, index, show_progress=False)
    with QA.open(index) as qa:
        yield qa


@pytest.mark.slow
def test_a_one_article_index_answers_its_paraphrases_and_abstains_off_topic(seed_qa: QA) -> None:
    paraphrases = load_questions(QUESTIONS / "seed-paraphrases.jsonl")
    off_topic = load_questions(QUESTIONS / "seed-off-topic.jsonl")
    answered = [seed_qa.ask(q.text) for q in paraphrases]
    # Target: none abstains; measured with reader 1.20175: 2 of 24 ("what is mined in bakhmut",
    # "How are Ukrainian units pulling out?"; docs/BENCHMARKS.md).
    assert len([q.text for q, a in zip(paraphrases, answered, strict=True) if a.abstained]) <= 2
    right = sum(a.citations[0].paragraph == q.paragraph for q, a in zip(paraphrases, answered, strict=True))
    assert right >= 0.6 * len(paraphrases)  # measured: 15 of 24 (the fast path 16)
    abstained = sum(seed_qa.ask(q.text).abstained for q in off_topic)
    assert abstained >= 0.75 * len(off_topic)  # target 90%; measured with reader 1.20175: 17 of 20


@pytest.mark.slow
def test_the_verdict_does_not_depend_on_the_size_of_the_index(seed_qa: QA, real_index: Path) -> None:
    """The same question with the same passage on top gets the same verdict over one article
    and over the 67 of the sample corpus (whose news folder holds the same article)."""
    with QA.open(real_index) as big:
        for question in ("how far is chasiv yar from the front line", "Who is Zelensky's wife?"):
            small, large = seed_qa.ask(question), big.ask(question)
            assert small.citations[0].text == large.citations[0].text
            assert small.abstained == large.abstained
            assert small.citations[0].score == pytest.approx(large.citations[0].score, abs=1.5)


@pytest.mark.slow
def test_answers_carry_the_readers_confidence_and_abstain_below_its_threshold(seed_qa: QA) -> None:
    threshold = seed_qa.reader.calibration.abstain_below if seed_qa.reader is not None else None
    assert threshold is not None
    answered = seed_qa.ask("how far is chasiv yar from the front line")
    off_topic = seed_qa.ask("How much does a Tesla Model 3 cost?")
    for answer in (answered, off_topic):
        assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
        assert answer.abstained == (answer.confidence < threshold)
        read = [c.confidence for c in answer.citations if c.confidence is not None]
        assert read, "the passages the reader read carry its probability"
        assert answer.confidence == pytest.approx(max(read), abs=1e-4)
        assert answer.to_dict()["confidence"] == answer.confidence
    assert (answered.confidence or 0.0) > (off_topic.confidence or 1.0)
    hits = seed_qa.search("chasiv yar front line", top_k=3)
    assert all(h.confidence is not None for h in hits)
    fast = seed_qa.ask("how far is chasiv yar from the front line", reader=False)
    assert fast.confidence is None and all(c.confidence is None for c in fast.citations)


def test_scores_fall_down_the_list_past_the_passages_read(articles: Path, fake_encoder: FakeEncoder) -> None:
    """The passages past those the reader read keep their order, scored below every one read."""
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    with QA.open("idx", encoder=fake_encoder, reader=WordReader()) as qa:
        for question in ("When did the harbour bridge reopen?", "Which comet did astronomers photograph?"):
            cited = qa.ask(question, top_k=8).citations
            read = [c for c in cited if c.confidence is not None]
            assert len(read) == WordReader.calibration.read_pool < len(cited)
            assert list(cited[: len(read)]) == read  # those read come first
            scores = [c.score for c in cited]
            assert scores == sorted(scores, reverse=True)


def test_the_reader_is_given_each_passage_title(articles: Path, fake_encoder: FakeEncoder) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    reader = WordReader()
    with QA.open("idx", encoder=fake_encoder, reader=reader) as qa:
        cited = qa.ask("When did the harbour bridge reopen?", top_k=8).citations
    read = [c for c in cited if c.confidence is not None]
    assert len(reader.titles) == len(read)
    assert sorted(reader.titles) == sorted(c.title for c in read)
    assert all(reader.titles)
