"""The open QA data the reader is trained on: SQuAD v1.1 train and SQuADShifts, read into
paragraphs (with their sentences) and questions (with their answers)."""

from __future__ import annotations

import json
import lzma
from dataclasses import dataclass
from pathlib import Path

from qa.models.reader import file_sha256
from qa.text.spans import split_sentences

# Which files, and whether their "articles" group related paragraphs (reddit's one "article"
# holds 2,035 unrelated comments).
SOURCES = {
    "squad-train": ("squad-train-v1.1.json.xz", True),
    "new_wiki": ("squadshifts-new_wiki-v1.0.json.xz", True),
    "reddit": ("squadshifts-reddit-v1.0.json.xz", False),
    "amazon": ("squadshifts-amazon_reviews-v1.0.json.xz", True),
}
# Sources whose article titles name their subject ("Dwight_D._Eisenhower"); reddit's and amazon's
# are file names ("Amazon_Reviews_2030"), so their paragraphs are read untitled.
TITLED = frozenset({"squad-train", "new_wiki"})


@dataclass(frozen=True)
class Paragraph:
    article: str
    text: str
    sentences: tuple[tuple[int, int], ...]
    title: str = ""  # the article's title, as a reader trained with titles reads it


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
            title = article["title"].replace("_", " ").strip() if name in TITLED else ""
            for paragraph_number, paragraph in enumerate(article["paragraphs"]):
                text = paragraph["context"]
                key = f"{name}/{article_number}" + ("" if grouped else f"/{paragraph_number}")
                index = len(paragraphs)
                paragraphs.append(Paragraph(key, text, tuple(split_sentences(text)), title))
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
