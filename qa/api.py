"""The QA facade: the one entry point the CLI, the web app and Python users share.

It only composes: encoder -> retriever (candidates, fusion, follow-up context) -> ranker
(answering sentences, final order, copies) -> answerer (numbering, abstention).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

from qa.errors import BadInputError, IndexCorruptError, NotFoundError, QAError
from qa.models.embed import (
    BackgroundEncoder,
    Encoder,
    encode_queries,
    query_encoder,
)
from qa.models.reader import BackgroundReader, packaged_reader
from qa.results import Answer, ArticleSummary, ArticleView, Citation, Hit, IndexInfo, ParagraphView
from qa.search.abstention import DEFAULT_ABSTAIN_BELOW, abstain_threshold
from qa.search.answerer import assemble
from qa.search.conversation import Chat
from qa.search.evidence import Evidence, Ranking
from qa.search.inputs import check_min_confidence, check_question, check_top_k
from qa.search.protocols import PassageReader
from qa.search.ranking import Ranker
from qa.search.retriever import Query, Retriever
from qa.search.scope import Ids, PublicationIndex, Scope, newest_moment
from qa.search.sentences import analyse_question
from qa.storage.generation import Generation, describe, open_generation, read_checked_manifest
from qa.storage.generations import CURRENT, current_name, read_pointer
from qa.storage.manifest import Manifest
from qa.storage.rows import PassageRow
from qa.text.terms import default_analyzer

logger = logging.getLogger(__name__)

MAX_CONTEXT_WORDS = 60  # a long conversation keeps only its latest words as a follow-up's context
# SQLite's primary result codes for a file that is damaged or cannot be read.
_DAMAGED = frozenset({10, 11, 26})  # SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB


def index_info(index: str | os.PathLike[str] = "index") -> IndexInfo:
    """Describe an index without loading its model; checks every file's size and fingerprint."""
    return _checked_info(Path(index), thorough=False)


def verify_index(index: str | os.PathLike[str] = "index") -> IndexInfo:
    """Read every byte of the live generation against its sha256 (and check Milvus, if used).

    Opening an index only checks sizes and sampled fingerprints; run this after copying an
    index or when in doubt. Raises IndexCorruptError naming the damaged file.
    """
    return _checked_info(Path(index), thorough=True)


def _checked_info(index_dir: Path, thorough: bool) -> IndexInfo:
    path, manifest = read_checked_manifest(index_dir, thorough=thorough)
    known = abstain_threshold(manifest.model)
    return describe(index_dir, path, manifest, DEFAULT_ABSTAIN_BELOW if known is None else known)


def _encoder_for(manifest: Manifest, index_dir: Path, background: bool = False) -> Encoder:
    """The model the index was built with: the packaged default, or its recorded folder."""
    model_path = manifest.model.path
    if model_path is not None and not Path(model_path).is_dir():
        raise BadInputError(
            f"Index '{index_dir}' was built with the model in '{model_path}', which is gone. "
            "Put the model back there, or rebuild with: qa build ARTICLES --model PATH --force"
        )

    def load() -> Encoder:
        return query_encoder(model_path)

    if background:
        return BackgroundEncoder(load, manifest.model.name, manifest.model.dim)
    return load()


class QA:
    """Question answering over one index folder. Thread-safe; picks up rebuilt indexes."""

    def __init__(
        self,
        index_dir: Path,
        encoder: Encoder,
        generation: Generation,
        abstain_below: float | None = None,
        reader: PassageReader | None = None,
        min_confidence: float | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.encoder = encoder
        self.reader = reader
        self._abstain_override = abstain_below
        self._min_confidence = check_min_confidence(min_confidence)
        self._lock = threading.RLock()
        self._last_refresh_problem: str | None = None
        self._use(generation)

    @classmethod
    def open(
        cls,
        index: str | os.PathLike[str] = "index",
        *,
        encoder: Encoder | None = None,
        abstain_below: float | None = None,
        background_model: bool = False,
        reader: bool | PassageReader = True,
        min_confidence: float | None = None,
    ) -> QA:
        """Open the live generation of ``index`` and load its embedding model (unless given one).

        ``reader``: the reader that reads each question with the best passages (qa.models.reader):
        True loads the one shipped with the package (a missing or damaged copy raises
        ReaderUnavailableError), False answers without it (the fast path; ``ask(..., reader=False)``
        does the same for one question).

        ``min_confidence`` (0 to 1): answer only when the reader's calibrated probability that
        the articles answer is at least this; by default the threshold fitted for the reader's
        version (``qa eval`` shows how each threshold does on your own questions).

        ``abstain_below`` overrides the fast path's evidence threshold under which answers
        abstain; by default it is the one recorded for the index's model. With ``background_model`` the
        model loads in a thread: ``open`` returns in a fraction of a second, questions asked
        before the model is ready wait for it (see :meth:`model_ready`).
        """
        index_dir = Path(index)
        check_min_confidence(min_confidence)  # a bad value fails before anything loads
        if min_confidence is not None and reader is False:
            logger.warning(
                "min_confidence %s is ignored without the reader: the fast path abstains on "
                "retrieval evidence (set its threshold with qa build --abstain-below).",
                min_confidence,
            )
        checked = read_checked_manifest(index_dir)  # a missing or damaged index fails before the model loads
        loaded: PassageReader | None
        if reader is True:
            loaded = BackgroundReader() if background_model else packaged_reader()
        else:
            loaded = None if reader is False else reader
        encoder = encoder or _encoder_for(checked[1], index_dir, background_model)
        if current_name(index_dir) != checked[0].name:  # a build published while the model loaded
            checked = read_checked_manifest(index_dir)
        generation = open_generation(index_dir, encoder, checked)
        return cls(index_dir, encoder, generation, abstain_below, loaded, min_confidence)

    def _use(self, generation: Generation) -> None:
        self._generation = generation
        self._retriever = Retriever(generation.vectors, generation.lexical)
        self._ranker = Ranker(generation.store, default_analyzer())
        self._publications: PublicationIndex | None = None  # loaded on the first scoped question
        self._newest_publication: float | None = None  # NaN when no article is dated
        known = abstain_threshold(generation.manifest.model)
        if self._abstain_override is not None:
            self.abstain_below = self._abstain_override
        elif known is not None:
            self.abstain_below = known
        else:
            logger.warning(
                "No abstention threshold is recorded for model %r; using %.2f, calibrated for "
                "all-MiniLM-L6-v2. Calibrate one with qa eval and rebuild with --abstain-below.",
                generation.manifest.model.name,
                DEFAULT_ABSTAIN_BELOW,
            )
            self.abstain_below = DEFAULT_ABSTAIN_BELOW

    @property
    def model_ready(self) -> bool:
        """False only while a model (or the reader) opened with ``background_model=True`` is still loading."""
        return (not isinstance(self.encoder, BackgroundEncoder) or self.encoder.ready) and (
            not isinstance(self.reader, BackgroundReader) or self.reader.ready
        )

    def wait_for_model(self, timeout: float | None = None) -> None:
        """Block until the model and the reader are loaded; raises a load error, or TimeoutError."""
        if isinstance(self.encoder, BackgroundEncoder):
            self.encoder.wait(timeout)
        if isinstance(self.reader, BackgroundReader):
            self.reader.wait(timeout)

    @property
    def min_confidence(self) -> float | None:
        """The reader's probability under which answers abstain: the ``min_confidence`` given to
        :meth:`open`, else the one fitted for the reader's version; None without the reader."""
        if self.reader is None:
            return None
        if self._min_confidence is not None:
            return self._min_confidence
        return self.reader.calibration.abstain_below

    @property
    def generation(self) -> str:
        return self._generation.path.name

    def refresh(self) -> bool:
        """Switch to a newer published generation, if any. Called before every question."""
        with self._lock:
            pointer = read_pointer(self.index_dir)
            serving = self._generation.path.name
            if pointer.name == serving:
                self._last_refresh_problem = None
                return False
            if pointer.name is None:  # CURRENT gone or damaged: keep answering from what is open
                self._warn_once(f"{self.index_dir / CURRENT} {pointer.problem or 'is missing'}")
                return False
            try:
                fresh = open_generation(self.index_dir, self.encoder)
            # A damaged new generation, or one a later build already tidied away, must not stop
            # the one that works.
            except (QAError, OSError, sqlite3.Error, RuntimeError) as err:
                self._warn_once(f"generation {pointer.name} cannot be opened ({err})")
                return False
            old = self._generation
            self._use(fresh)
            old.close()
            logger.info("Switched to index generation %s", self._generation.path.name)
            return True

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock on the newest generation; a file damaged since it was opened (SQLite
        checks pages as it reads them) is an IndexCorruptError, not a raw sqlite3 one."""
        with self._lock:
            self.refresh()
            try:
                yield
            except sqlite3.DatabaseError as err:
                if getattr(err, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
                    raise  # not the file's fault (e.g. a closed QA): a bug to see as it is
                raise IndexCorruptError(
                    f"Index generation '{self._generation.path}' cannot be read ({err}). Check it "
                    f"with: qa verify --index {self.index_dir}; rebuild with: qa build ARTICLES "
                    f"--index {self.index_dir} --force"
                ) from None

    def _warn_once(self, problem: str) -> None:
        if problem != self._last_refresh_problem:
            self._last_refresh_problem = problem
            logger.warning("%s; still answering from generation %s", problem, self.generation)

    def close(self) -> None:
        self._generation.close()

    def __enter__(self) -> QA:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> IndexInfo:
        """The live generation: when and how it was built, counts, size on disk."""
        g = self._generation
        return describe(self.index_dir, g.path, g.manifest, self.abstain_below)

    def chat(self) -> Chat:
        return Chat(self)

    def search(
        self,
        query: str,
        top_k: int = 10,
        *,
        as_of: object = None,
        since: object = None,
        until: object = None,
        sources: Iterable[str] | str | None = None,
        reader: bool = True,
    ) -> list[Hit]:
        """Ranked passages for ``query``, without answer assembly (same order as ``ask``).

        ``as_of``, ``since``, ``until``, ``sources`` and ``reader`` work as for :meth:`ask`.
        """
        text = check_question(query)
        top_k = check_top_k(top_k)
        scope = Scope.make(as_of, since, until, sources)
        with self._reading():
            return [_hit(e) for e in self._rank(text, None, top_k, (), scope, reader).evidence]

    def ask(
        self,
        question: str,
        top_k: int = 5,
        *,
        context: str | None = None,
        prefer_articles: tuple[str, ...] = (),
        as_of: object = None,
        since: object = None,
        until: object = None,
        sources: Iterable[str] | str | None = None,
        reader: bool = True,
        min_confidence: float | None = None,
    ) -> Answer:
        """Answer ``question`` from the articles, citing the passages and sentences used.

        ``as_of`` (a date, date-time or ISO 8601 text; default now) is when the question is
        asked: nothing published after it is cited, and a question about the present ("so
        far", "latest", "has risen") prefers the stories published closest before it.
        ``since`` and ``until`` keep dated articles inside that range; ``sources`` keeps
        articles whose site (URL host), folder or file is one of those named.
        ``context`` (the earlier question) and ``prefer_articles`` are how a :class:`Chat`
        resolves follow-ups; most callers leave them out. ``reader=False`` skips the reader (the
        fast path: the ranking and abstention rule of the retrieval scores alone), as does a QA
        opened with ``reader=False``. ``min_confidence`` (0 to 1) sets the reader's threshold for
        this question only (default: the one given to :meth:`open`, else the reader version's);
        it has no effect on the fast path.
        """
        text = check_question(question)
        top_k = check_top_k(top_k)
        threshold = check_min_confidence(min_confidence)
        if threshold is None:
            threshold = self._min_confidence
        scope = Scope.make(as_of, since, until, sources)
        if context is not None:
            context = " ".join(context.split()[-MAX_CONTEXT_WORDS:])
        with self._reading():
            ranked = self._rank(text, context, top_k, prefer_articles, scope, reader)
            if threshold is not None and ranked.answer_probability is not None:
                ranked = replace(ranked, abstain_below_probability=threshold)
            resolved = text if context is None else f"{context} {text}"
            return assemble(text, ranked, self.abstain_below, resolved)

    def _rank(
        self,
        text: str,
        context: str | None,
        top_k: int,
        prefer_articles: tuple[str, ...],
        scope: Scope,
        read: bool = True,
    ) -> Ranking:
        resolved = None if context is None else f"{context} {text}"
        vectors = encode_queries(self.encoder, [text] if resolved is None else [text, resolved])
        query = Query(text, vectors[0], resolved, None if resolved is None else vectors[1])
        question = analyse_question(text, vectors[0], default_analyzer(), context=resolved)
        retrieval = self._retriever.retrieve(query, pool=max(50, 2 * top_k), allowed=self._allowed(scope))
        reader = self.reader if read else None
        return self._ranker.rank(question, retrieval, top_k, prefer_articles, scope.as_of, reader)

    def _allowed(self, scope: Scope) -> Ids | None:
        """The passage ids ``scope`` admits (None: all), from publication data read once per generation."""
        if not scope.filters and self._publications is None:
            # Usually nothing is newer than the question: the distinct dates say so (~2 s less at 10^6).
            if self._newest_publication is None:
                self._newest_publication = newest_moment(self._generation.store.publication_dates())
            if not self._newest_publication > scope.as_of.timestamp():
                return None
        if self._publications is None:
            self._publications = PublicationIndex.from_rows(self._generation.store.publication_rows())
        return self._publications.allowed(scope)

    def passage(self, key: str) -> Hit:
        """The passage a ``passage_key`` names (from a Hit or Citation, even of an earlier build)."""
        if not isinstance(key, str) or not key:
            raise BadInputError(f"A passage key is text like 'news/story.txt@1a2b…', got {key!r}.")
        with self._reading():
            row = self._generation.store.passage_by_key(key)
        if row is None:
            raise NotFoundError(
                f"No passage {key!r} in this index: the paragraph was edited or removed since the key "
                "was handed out. Search again for its current version."
            )
        return _hit_of(row, score=0.0)

    def articles(self) -> list[ArticleSummary]:
        """Every indexed article (id, title, url, date, paragraph count), in index order."""
        with self._reading():
            return [ArticleSummary(*row) for row in self._generation.store.article_list()]

    def article(self, article_id: str) -> ArticleView:
        """A whole article with its paragraphs, flags and keys (for a source viewer)."""
        if not isinstance(article_id, str) or not article_id:
            raise BadInputError(f"An article id is text like 'news/story.txt', got {article_id!r}.")
        with self._reading():
            found = self._generation.store.article(article_id)
        if found is None:
            raise NotFoundError(
                f"No article {article_id!r} in this index. Article ids are paths relative to the "
                "articles folder, as citations show them."
            )
        record, rows = found
        return ArticleView(
            **asdict(record),
            paragraphs=tuple(
                ParagraphView(
                    number=r.paragraph,
                    start=r.start,
                    end=r.end,
                    text=r.text,
                    passage_key=r.key,
                    boilerplate=r.boilerplate,
                    heading=r.heading,
                    section=r.section,
                    page=r.page,
                )
                for r in rows
            ),
        )


def _hit_of(
    row: PassageRow, score: float, also_in: tuple[str, ...] = (), confidence: float | None = None
) -> Hit:
    return Hit(
        passage_key=row.key,
        score=round(score, 4),
        article_id=row.article_id,
        title=row.title,
        url=row.url,
        published=row.published,
        source_path=row.source_path,
        paragraph=row.paragraph,
        text=row.text,
        start=row.start,
        end=row.end,
        section=row.section,
        also_in=also_in,
        page=row.page,
        confidence=confidence,
    )


def _hit(e: Evidence) -> Hit:
    confidence = round(e.reading.probability, 4) if e.reading is not None else None
    return _hit_of(e.passage, e.score, e.also_in, confidence)


__all__ = ["QA", "Citation", "check_question", "check_top_k", "index_info", "verify_index"]
