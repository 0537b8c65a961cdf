"""The MCP server: tools an assistant calls to answer from the articles, with citations.

Built on the official ``mcp`` SDK (MCPServer). The same tools run over stdio (``qa mcp``, started
by an MCP client such as Claude Desktop) and over streamable HTTP at ``/mcp`` of ``qa serve``,
behind that server's tokens. Each tool returns text for the model to read and the same content as
structured data (with an output schema) for the client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.routing import Route

from qa import MAX_TOP_K, QA, Answer, Hit, QAError, __version__
from qa.server.binding import is_loopback

logger = logging.getLogger(__name__)

INSTRUCTIONS = """article-qa answers questions from a fixed collection of articles (mostly news) and
cites the article, paragraph and sentence each answer comes from. Call `ask` for a question the
articles may answer, `search` to browse what they say about a name or topic, and `read_article` to
read the text around a citation. Answers are sentences quoted from the articles, never generated:
quote them with their citations, and when `abstained` is true tell the user the articles do not say."""

ASK = """Answer a question from the articles. Returns the answering sentence(s) with [n] markers and,
for each n, the citation: article title, url, publication date, paragraph number, the sentence and
a passage_key. Use it first for any factual question about events, people or places the articles
may cover. When `abstained` is true the articles do not answer it: say so instead of guessing (the
citations are then only the closest matches). Dates: `as_of` asks as of a day in the past;
`since`/`until` keep articles published in a range (ISO 8601, e.g. 2024-03-01). `confidence` is the
reader's probability that the articles answer (per citation: that this passage does);
`min_confidence` moves the bar it must clear for this question."""

SEARCH = """List the passages that match a query best (whole paragraphs, best first), without
choosing an answer. Use it for broad topics, names or events where no single sentence answers,
to see what the articles cover, or when `ask` abstained and you want to look further."""

READ_ARTICLE = """Read a whole article by its article_id (from `ask` or `search` results), or only
paragraph N of it (1-based, as citations number them). Use it to give context around a citation,
to summarise an article, or to check what a cited paragraph says in full."""

_SCOPE_HELP = {
    "as_of": "ask as of this date (ISO 8601); nothing published later is cited",
    "since": "only articles published on or after this date (ISO 8601)",
    "until": "only articles published on or before this date (ISO 8601)",
    "sources": "only articles from these sites (URL host), folders or files",
}


class CitationOut(BaseModel):
    number: int
    title: str
    url: str | None
    published: str | None
    article_id: str
    paragraph: int
    sentence: str
    passage_key: str
    confidence: float | None = Field(
        None, description="the reader's probability (0-1) that this passage answers; null if not read"
    )


class AskOut(BaseModel):
    answer: str = Field(description="the answering sentences with [n] markers")
    abstained: bool = Field(description="true when the articles do not answer the question")
    confidence: float | None = Field(
        description="the reader's calibrated probability (0-1) that the articles answer; null without the reader"
    )
    citations: list[CitationOut]


class HitOut(BaseModel):
    rank: int
    title: str
    url: str | None
    published: str | None
    article_id: str
    paragraph: int
    text: str
    passage_key: str


class SearchOut(BaseModel):
    hits: list[HitOut]


class ParagraphOut(BaseModel):
    number: int
    text: str
    passage_key: str


class ArticleOut(BaseModel):
    article_id: str
    title: str
    url: str | None
    published: str | None
    byline: str | None
    paragraphs: list[ParagraphOut]


def _call(work: Callable[[], Any]) -> Any:
    """Run ``work``; the library's own errors reach the assistant as tool errors it can read."""
    try:
        return work()
    except QAError as err:
        raise ToolError(str(err)) from None


def _answer_text(answer: Answer) -> str:
    lines = [answer.text, ""]
    if answer.confidence is not None:  # what the verdict rests on, for an assistant to weigh
        lines += [f"Confidence that the articles answer: {answer.confidence:.2f}", ""]
    lines.append("Closest matches:" if answer.abstained else "Sources:")
    for c in answer.citations:
        when = f", {c.published[:10]}" if c.published else ""
        lines.append(f"[{c.number}] {c.title}{when}, paragraph {c.paragraph} ({c.url or c.article_id})")
        lines.append(f'    "{c.sentence}"')
    return "\n".join(lines)


def _hit_out(rank: int, h: Hit) -> HitOut:
    return HitOut(
        rank=rank,
        title=h.title,
        url=h.url,
        published=h.published,
        article_id=h.article_id,
        paragraph=h.paragraph,
        text=h.text,
        passage_key=h.passage_key,
    )


def build_server(qa: QA) -> MCPServer:
    """An MCP server with the tools ``ask``, ``search`` and ``read_article`` over ``qa``."""
    server: MCPServer = MCPServer(
        name="article-qa", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False, idempotent_hint=True)

    # Plain (not async) tools: the SDK runs them on worker threads, off the event loop.
    @server.tool(name="ask", title="Answer from the articles", description=ASK, annotations=read_only)
    def ask(
        question: Annotated[str, Field(description="the question, in the user's words")],
        top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="citations at most")] = 5,
        as_of: Annotated[str | None, Field(description=_SCOPE_HELP["as_of"])] = None,
        since: Annotated[str | None, Field(description=_SCOPE_HELP["since"])] = None,
        until: Annotated[str | None, Field(description=_SCOPE_HELP["until"])] = None,
        sources: Annotated[list[str] | None, Field(description=_SCOPE_HELP["sources"])] = None,
        min_confidence: Annotated[
            float | None,
            Field(
                ge=0.0,
                le=1.0,
                strict=True,  # true or "0.8" is a mistake, as in the REST API, not 1.0 or 0.8
                description="answer only when the reader is at least this sure (0-1): higher gives "
                "fewer, safer answers, lower more. Default: the server's threshold",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, AskOut]:
        answer: Answer = _call(
            lambda: qa.ask(
                question,
                top_k,
                as_of=as_of,
                since=since,
                until=until,
                sources=sources,
                min_confidence=min_confidence,
            )
        )
        out = AskOut(
            answer=answer.text,
            abstained=answer.abstained,
            confidence=answer.confidence,
            citations=[
                CitationOut(
                    number=c.number,
                    title=c.title,
                    url=c.url,
                    published=c.published,
                    article_id=c.article_id,
                    paragraph=c.paragraph,
                    sentence=c.sentence,
                    passage_key=c.passage_key,
                    confidence=c.confidence,
                )
                for c in answer.citations
            ],
        )
        return CallToolResult(
            content=[TextContent(type="text", text=_answer_text(answer))],
            structured_content=out.model_dump(mode="json"),
        )

    @server.tool(name="search", title="Search the articles", description=SEARCH, annotations=read_only)
    def search(
        query: Annotated[str, Field(description="words, a name or a question")],
        top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="passages at most")] = 10,
        as_of: Annotated[str | None, Field(description=_SCOPE_HELP["as_of"])] = None,
        since: Annotated[str | None, Field(description=_SCOPE_HELP["since"])] = None,
        until: Annotated[str | None, Field(description=_SCOPE_HELP["until"])] = None,
        sources: Annotated[list[str] | None, Field(description=_SCOPE_HELP["sources"])] = None,
    ) -> Annotated[CallToolResult, SearchOut]:
        hits: list[Hit] = _call(
            lambda: qa.search(query, top_k, as_of=as_of, since=since, until=until, sources=sources)
        )
        out = SearchOut(hits=[_hit_out(rank, h) for rank, h in enumerate(hits, start=1)])
        lines = [
            f"{h.rank}. {h.title}{f', {h.published[:10]}' if h.published else ''}, paragraph {h.paragraph} "
            f"(article_id {h.article_id})\n    {h.text}"
            for h in out.hits
        ]
        text = "\n".join(lines) if lines else "No passage matches."
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=out.model_dump(mode="json")
        )

    @server.tool(
        name="read_article", title="Read an article", description=READ_ARTICLE, annotations=read_only
    )
    def read_article(
        article_id: Annotated[str, Field(description="the article_id from ask or search")],
        paragraph: Annotated[int | None, Field(ge=1, description="only this paragraph (1-based)")] = None,
    ) -> Annotated[CallToolResult, ArticleOut]:
        view = _call(lambda: qa.article(article_id))
        paragraphs = [p for p in view.paragraphs if p.boilerplate is None]
        if paragraph is not None:
            paragraphs = [p for p in view.paragraphs if p.number == paragraph]
            if not paragraphs:
                raise ToolError(
                    f"Article {article_id!r} has paragraphs 1 to {len(view.paragraphs)}, not {paragraph}."
                )
        out = ArticleOut(
            article_id=view.article_id,
            title=view.title,
            url=view.url,
            published=view.published,
            byline=view.byline,
            paragraphs=[
                ParagraphOut(number=p.number, text=p.text, passage_key=p.passage_key) for p in paragraphs
            ],
        )
        head = [view.title] + [x for x in (view.published, view.byline, view.url) if x]
        body = [f"[paragraph {p.number}] {p.text}" for p in out.paragraphs]
        return CallToolResult(
            content=[TextContent(type="text", text="\n".join(head) + "\n\n" + "\n\n".join(body))],
            structured_content=out.model_dump(mode="json"),
        )

    return server


def run_stdio(index: str, *, reader: bool = True, min_confidence: float | None = None) -> None:
    """``qa mcp``: serve ``index`` on stdin/stdout until the client closes them."""
    from qa import index_info

    index_info(index)  # a missing or damaged index is said (on stderr) before the model loads
    with QA.open(index, reader=reader, min_confidence=min_confidence) as qa:
        logger.info("MCP server on stdio for %s", index)
        build_server(qa).run("stdio")


def http_route(qa: QA, host: str) -> tuple[Route, Callable[[], AbstractAsyncContextManager[None]]]:
    """The streamable HTTP endpoint as a route for ``/mcp`` of the API, and its lifespan.

    Stateless, with plain JSON replies: each request stands alone, like the REST routes. On
    loopback the SDK's DNS-rebinding guard stays on (a web page must not reach a local server
    through a rebound name); elsewhere the tokens guard the endpoint.
    """
    server = build_server(qa)
    security = None if is_loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    server.streamable_http_app(
        json_response=True, stateless_http=True, transport_security=security, host=host
    )
    manager = server.session_manager

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with manager.run():
            yield

    route = Route("/mcp", StreamableHTTPASGIApp(manager), methods=["GET", "POST", "DELETE"])
    return route, lifespan
