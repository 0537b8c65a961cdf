"""The JSON the API takes and gives. Answers, hits and articles are the Python API's own result
types (qa.results), so the API returns what ``QA.ask`` returns and ``qa ask --json`` prints."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from qa import MAX_QUESTION_CHARS, MAX_TOP_K, ArticleSummary, ArticleView, Citation, Hit, IndexInfo

_STRICT = ConfigDict(extra="forbid", strict=True)  # "5" is not a number and "topk" is a typo: 422


class Scoped(BaseModel):
    model_config = _STRICT

    as_of: str | None = Field(
        None,
        description="ask as of this date (ISO 8601; default now): nothing published later is cited, "
        "and questions about the present prefer the latest stories before it",
        examples=["2024-03-01"],
    )
    since: str | None = Field(None, description="only articles published on or after this date (ISO 8601)")
    until: str | None = Field(None, description="only articles published on or before this date (ISO 8601)")
    sources: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="only articles from these sites (URL host), folders or files"
    )


class Thresholded(Scoped):
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="answer only when the reader's confidence is at least this (0-1), for this "
        "question; default: the server's threshold (GET /v1/info reader.abstain_below)",
        examples=[0.8],
    )


class AskRequest(Thresholded):
    question: str = Field(
        description="the question, as a person would ask it", examples=["Who won Super Bowl 50?"]
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="passages to cite at most")
    reader: bool = Field(True, description="false: skip the reader (faster; retrieval scores alone)")


class ChatAskRequest(Thresholded):
    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="the next question; may refer back (who, they, the same...)",
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="passages to cite at most")


class SearchRequest(Scoped):
    query: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="words or a question",
        examples=["Levi's Stadium cost"],
    )
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="passages to return")
    reader: bool = Field(True, description="false: skip the reader (faster; retrieval scores alone)")


class AnswerBody(BaseModel):
    """An extractive answer: sentences from the articles, with [n] markers into ``citations``."""

    question: str
    answer: str = Field(description="the answering sentence(s) with [n] markers, or why it abstained")
    abstained: bool = Field(description="true when nothing in the articles answers the question")
    resolved_query: str = Field(description="what was searched: the question, or a follow-up in context")
    confidence: float | None = Field(
        description="the reader's calibrated probability (0-1) that the articles answer; it abstains "
        "below its threshold (GET /v1/info). null when the reader was off"
    )
    citations: list[Citation] = Field(description="best first; when abstaining, the closest matches")


class ChatCreated(BaseModel):
    chat_id: str
    idle_expiry_s: int = Field(description="the chat is forgotten after this long without a question")


class ReaderState(BaseModel):
    enabled: bool
    version: str | None = None
    abstain_below: float | None = Field(
        None,
        description="answers whose confidence is under this abstain: the threshold in use (the reader "
        "version's, or the server's --min-confidence); a probability, unlike index.abstain_below",
    )


class ServerInfo(BaseModel):
    version: str = Field(description="article-qa's version")
    index: IndexInfo
    reader: ReaderState


class Health(BaseModel):
    status: str = "ok"


__all__ = [
    "AnswerBody",
    "ArticleSummary",
    "ArticleView",
    "AskRequest",
    "ChatAskRequest",
    "ChatCreated",
    "Health",
    "Hit",
    "SearchRequest",
    "ServerInfo",
]
