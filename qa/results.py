"""Typed, frozen results returned by the public API."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One ranked passage from :meth:`qa.QA.search`.

    ``passage_key`` names the passage across rebuilds while its text and article stay the same;
    :meth:`qa.QA.passage` looks it up.
    """

    passage_key: str
    score: float
    article_id: str
    title: str
    url: str | None
    published: str | None
    source_path: str
    paragraph: int
    text: str
    start: int
    end: int
    section: str | None = None  # the subheading the passage sits under
    also_in: tuple[str, ...] = ()  # other articles with the same paragraph (syndicated copies)
    page: int | None = None  # the page the passage starts on, for paged sources (PDF)
    # The reader's calibrated probability that this passage answers the query; None when the
    # reader did not read it (the fast path, or past the candidates it reads).
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.paragraph < 1:
            raise ValueError(f"paragraph numbers are 1-based, got {self.paragraph}")
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad passage offsets {self.start}..{self.end}")

    def __repr__(self) -> str:
        return f"Hit({self.score:.3f}, {self.article_id!r} ¶{self.paragraph}, {self.text[:40]!r})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "also_in": list(self.also_in)}  # JSON has lists, not tuples


@dataclass(frozen=True)
class Citation:
    """A cited passage and, inside it, the sentence that answers."""

    number: int
    score: float
    passage_key: str
    article_id: str
    title: str
    url: str | None
    published: str | None
    source_path: str
    paragraph: int
    text: str
    start: int
    end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    section: str | None = None  # the subheading the passage sits under
    also_in: tuple[str, ...] = ()  # other articles with the same paragraph (syndicated copies)
    page: int | None = None  # the page the passage starts on, for paged sources (PDF)
    # The reader's calibrated probability that this passage answers the question; None when the
    # reader did not read it (the fast path, or past the candidates it reads).
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError(f"citation numbers are 1-based, got {self.number}")
        if not self.start <= self.sentence_start <= self.sentence_end <= self.end:
            raise ValueError(
                f"sentence {self.sentence_start}..{self.sentence_end} lies outside "
                f"its passage {self.start}..{self.end}"
            )

    def __repr__(self) -> str:
        return (
            f"Citation([{self.number}] {self.score:.3f}, {self.article_id!r} "
            f"¶{self.paragraph}, {self.sentence[:50]!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "also_in": list(self.also_in)}  # JSON has lists, not tuples


@dataclass(frozen=True)
class Answer:
    """An extractive answer: sentences from the articles with ``[n]`` markers."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    resolved_query: str = ""  # what retrieval searched for: the question, or a follow-up in context
    # The reader's calibrated probability that the articles answer (its best reading of the
    # passages it read, cited or not); the answer abstains below the reader version's threshold
    # or ``min_confidence``. None on the fast path, which abstains on retrieval evidence instead.
    confidence: float | None = None

    def __post_init__(self) -> None:
        numbers = [c.number for c in self.citations]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"citations must be numbered 1..N in order, got {numbers}")
        used = [int(n) for n in re.findall(r"\[(\d+)\]", self.text)]
        if any(not 1 <= n <= len(numbers) for n in used):
            raise ValueError(f"the answer cites {used} but has {len(numbers)} citations")
        if not self.resolved_query:
            object.__setattr__(self, "resolved_query", self.question)

    def __repr__(self) -> str:
        state = "abstained" if self.abstained else f"{len(self.citations)} citations"
        return f"Answer({self.text[:60]!r}, {state})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "resolved_query": self.resolved_query,
            "confidence": self.confidence,
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class SkippedFile:
    """A file the build could not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did. ``up_to_date`` means nothing changed and no generation was written."""

    index_dir: str
    generation: str
    up_to_date: bool
    articles: int
    passages: int
    added: int
    changed: int
    removed: int
    unchanged: int
    embedded: int
    boilerplate: int
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)
    reused_files: int = 0  # files not parsed again: same bytes as in the previous build
    undated: int = 0  # articles with no publication date in their source (never guessed)
    syndicated: int = 0  # articles that are near-copies of another (a wire story republished)
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def summary(self) -> str:
        if self.up_to_date:
            head = f"Index {self.index_dir} is up to date ({self.generation})"
        else:
            head = f"Built {self.generation} in {self.index_dir} in {self.seconds:.1f}s"
        parts = [
            f"{self.articles} articles, {self.passages} passages ({self.boilerplate} boilerplate)",
            f"added {self.added}, changed {self.changed}, removed {self.removed}, unchanged {self.unchanged}",
            f"embedded {self.embedded} passages",
        ]
        if self.undated:
            parts.append(f"{self.undated} undated")
        if self.syndicated:
            parts.append(f"{self.syndicated} syndicated copies")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} files")
        return head + ": " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParagraphView:
    """One paragraph of an article as the index holds it."""

    number: int
    start: int
    end: int
    text: str
    passage_key: str
    boilerplate: str | None  # why it is not article text (never cited), or None
    heading: bool  # a subheading: shown, never cited alone
    section: str | None
    page: int | None = None  # paged sources (PDF): the page it starts on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArticleSummary:
    """One indexed article, as :meth:`qa.QA.articles` lists it."""

    article_id: str
    title: str
    url: str | None
    published: str | None
    paragraphs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArticleView:
    """A whole indexed article: what a source viewer shows around a citation."""

    article_id: str
    title: str
    url: str | None
    published: str | None
    byline: str | None
    source_path: str
    text: str
    paragraphs: tuple[ParagraphView, ...]

    def to_dict(self) -> dict[str, Any]:
        view = asdict(self)
        return {**view, "paragraphs": list(view["paragraphs"])}  # JSON has lists, not tuples


@dataclass(frozen=True)
class IndexInfo:
    """What ``qa info`` and :meth:`qa.QA.info` report about the live generation."""

    index: str
    generation: str
    created: str
    qa_version: str
    format_version: int
    model: str
    model_path: str | None
    dim: int
    abstain_below: float
    index_type: str
    articles: int
    passages: int
    searchable: int
    boilerplate: int
    headings: int
    source: str
    size_bytes: int
    ef_search: int | None = None  # HNSW search depth; None for an exact (Flat) index
    vector_store: str | None = None  # milvus://HOST:PORT/COLLECTION when the vectors are in Milvus
    vectors: int = 0  # cached paragraph and sentence vectors in use
    segments: int = 0  # vector segments the generation reads (shared with earlier generations)
    parts: int = 1  # its own part and the earlier generations' parts it reads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
