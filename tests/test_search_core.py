"""The search core's contracts: stable passage keys, headings as sections, copies cited once,
articles and passages by id, follow-ups that say what they searched, typed manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import QA, BadInputError, build_index
from qa.errors import IndexCorruptError
from qa.storage.generations import generations
from tests.conftest import FAKE_ABSTAIN, FakeEncoder, WordReader

STORY = """Storm batters the coast

A powerful storm hit the northern coast on Tuesday, officials said.

What happens next

Crews from three regions will clear fallen trees along the coastal road by Friday.

The weather service expects calmer winds this weekend.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "wire").mkdir(parents=True)
    (folder / "storm.txt").write_text(STORY, encoding="utf-8")
    shared = "The central bank raised its key interest rate to 4.5 percent on Thursday."
    (folder / "wire" / "bank-a.txt").write_text(
        f"Bank raises rates\n\n{shared}\n\nMarkets fell.\n", encoding="utf-8"
    )
    (folder / "wire" / "bank-b.txt").write_text(
        f"Rates go up again\n\n{shared}\n\nAnalysts expected it.\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def qa(corpus: Path, fake_encoder: FakeEncoder) -> QA:
    build_index(corpus, "idx", encoder=fake_encoder, show_progress=False)
    return QA.open("idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN)


def test_a_subheading_is_never_cited_and_becomes_the_section_of_the_text_under_it(qa: QA) -> None:
    for hit in qa.search("What happens next", top_k=10):
        assert hit.text != "What happens next"
    hit = qa.search("crews clear fallen trees coastal road", top_k=1)[0]
    assert (hit.paragraph, hit.section) == (3, "What happens next")
    article = qa.article("storm.txt")
    assert [(p.number, p.heading) for p in article.paragraphs] == [
        (1, False),
        (2, True),
        (3, False),
        (4, False),
    ]
    assert article.paragraphs[1].text == "What happens next"
    assert article.text[article.paragraphs[2].start : article.paragraphs[2].end] == article.paragraphs[2].text
    assert qa.info().headings == 1


def test_the_same_paragraph_in_two_articles_is_cited_once_naming_the_other(qa: QA) -> None:
    answer = qa.ask("What did the central bank raise its interest rate to?", top_k=5)
    texts = [c.text for c in answer.citations]
    assert len(texts) == len(set(texts))
    top = answer.citations[0]
    assert "4.5 percent" in top.text
    other = {"wire/bank-a.txt", "wire/bank-b.txt"} - {top.article_id}
    assert top.also_in == tuple(other)


def test_passage_keys_survive_rebuilds_while_the_text_stays(
    qa: QA, corpus: Path, fake_encoder: FakeEncoder
) -> None:
    hit = qa.search("crews clear fallen trees", top_k=1)[0]
    assert hit.passage_key.startswith("storm.txt@")
    assert qa.passage(hit.passage_key).text == hit.text
    (corpus / "new.txt").write_text("Volcano news\n\nThe volcano erupted at dawn.\n", encoding="utf-8")
    path = corpus / "storm.txt"
    path.write_text(path.read_text().replace("calmer winds", "light rain"), encoding="utf-8")
    build_index(corpus, "idx", encoder=fake_encoder, show_progress=False)
    assert [g.name for g in generations(Path("idx"))] == ["gen-000002"]
    again = qa.search("crews clear fallen trees", top_k=1)[0]
    assert again.passage_key == hit.passage_key  # unchanged paragraph: same key
    edited = qa.article("storm.txt").paragraphs[3]
    assert "light rain" in edited.text
    with pytest.raises(BadInputError, match="edited or removed"):
        qa.passage("storm.txt@0000000000000000")
    with pytest.raises(BadInputError, match=r"No article 'missing\.txt'"):
        qa.article("missing.txt")


def test_citations_carry_keys_that_open_their_passage(qa: QA) -> None:
    answer = qa.ask("When did the storm hit the coast?")
    for c in answer.citations:
        assert qa.passage(c.passage_key).text == c.text


def test_a_follow_up_says_what_it_searched_for(qa: QA) -> None:
    chat = qa.chat()
    first = chat.ask("When did the storm hit the northern coast?")
    assert first.resolved_query == "When did the storm hit the northern coast?"
    follow = chat.ask("What happens to the road next?")
    assert (
        follow.resolved_query == "When did the storm hit the northern coast? What happens to the road next?"
    )
    assert follow.question == "What happens to the road next?"
    assert follow.citations[0].article_id == "storm.txt"


def test_an_unknown_index_type_fails_before_anything_is_written(
    corpus: Path, fake_encoder: FakeEncoder
) -> None:
    with pytest.raises(BadInputError, match="Unknown index type 'IVF'"):
        build_index(corpus, "idx", encoder=fake_encoder, show_progress=False, index_type="IVF")
    assert generations(Path("idx")) == []


def test_a_model_folder_that_is_not_a_model_is_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(BadInputError, match="not a sentence-transformers model folder"):
        build_index(corpus, "idx", model=tmp_path / "not-a-model", show_progress=False)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(model="all-MiniLM-L6-v2"), "'model' must be a JSON object"),
        (lambda m: m.update(files=[]), "'files' must list"),
        (lambda m: m.update(files={}), "'files' must list"),
        (lambda m: m["model"].update(dim="384"), "field 'dim' should be int"),
        (lambda m: m["counts"].pop("articles"), "missing the field 'articles'"),
        (lambda m: m.update(extra=1), "unknown fields"),
        (lambda m: m["files"].pop("vectors.faiss"), "does not list vectors.faiss"),
    ],
)
def test_a_hand_edited_manifest_is_refused_naming_the_field(
    corpus: Path, fake_encoder: FakeEncoder, edit: object, match: str
) -> None:
    build_index(corpus, "idx", encoder=fake_encoder, show_progress=False)
    path = Path("idx/gen-000001/manifest.json")
    manifest = json.loads(path.read_text())
    edit(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match=match):
        QA.open("idx", encoder=fake_encoder)


RESTATING = (
    "Who will lead the harbour rebuilding project is what everyone asks about the harbour rebuilding project."
)
ANSWER = "Maria Lopez, an engineer from Vigo, will run it from May."


@pytest.mark.parametrize("reader", [False, True])
@pytest.mark.parametrize(("opening", "moved"), [("", True), ("The town council met on Monday.\n\n", False)])
def test_only_a_lede_that_restates_the_question_gives_way_to_the_next_paragraph(
    tmp_path: Path, fake_encoder: FakeEncoder, opening: str, moved: bool, reader: bool
) -> None:
    # A lede that restates the question leaves the answer to the next paragraph; a later paragraph
    # that restates it is answering in other words and keeps its place.
    folder = tmp_path / "harbour"
    folder.mkdir()
    (folder / "harbour.txt").write_text(
        f"Harbour plans\n\n{opening}{RESTATING}\n\n{ANSWER}\n", encoding="utf-8"
    )
    build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    restating = 2 if opening else 1
    with QA.open(
        "idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN, reader=WordReader() if reader else False
    ) as qa:
        citations = qa.ask("Who will lead the harbour rebuilding project?").citations
    assert citations[0].paragraph == (restating + 1 if moved else restating), citations[:2]
    assert citations[1].paragraph == (restating if moved else restating + 1)


def test_the_store_knows_which_passages_open_their_articles(qa: QA) -> None:
    # storm.txt: a lede (1), a subheading (2), two paragraphs under it (3, 4).
    passages = {
        (h.article_id, h.paragraph): h for h in qa.search("storm coast crews trees weather", top_k=10)
    }
    lede, after_heading = passages[("storm.txt", 1)], passages[("storm.txt", 3)]
    store = qa._generation.store
    rows = [store.passage_by_key(hit.passage_key) for hit in (lede, after_heading)]
    ids = [row.id for row in rows if row is not None]
    assert len(ids) == 2 and store.ledes(ids) == {ids[0]}
    assert store.ledes([]) == set()
