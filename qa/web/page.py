"""The Gradio page: chat, sources panel, source viewer, corpus panel, feedback and export.

Everything shown is rendered by :mod:`qa.web.render` from :class:`qa.web.session.Entry` objects
kept in the session's state; this module only lays out components and wires events.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from qa.api import QA
from qa.errors import QAError
from qa.results import ArticleSummary
from qa.web.records import WRONG_CITATION, append_feedback, feedback_record, write_exports
from qa.web.render import (
    EMPTY_ARTICLE,
    EMPTY_SOURCES,
    article_html,
    article_list_html,
    corpus_html,
    escape_text,
    sources_html,
)
from qa.web.session import (
    LOADING_TEXT,
    READING_TEXT,
    Entry,
    Message,
    ask,
    entry_of_message,
    example_questions,
    input_problem,
    messages,
    question_markdown,
    scope_of,
    scope_problem,
    source_choices,
)

logger = logging.getLogger(__name__)

CSS = """
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px;
  margin: 8px 0; background: var(--background-fill-secondary); }
.qa-card.qa-cited { border-left: 4px solid #b8860b; }
.qa-card.qa-other { font-size: 0.93em; background: transparent; }
.qa-card-head { font-weight: 600; }
.qa-num { color: #9a6f00; }
.dark .qa-num { color: #f0c040; }
.qa-meta { color: var(--body-text-color-subdued); font-size: 0.88em; }
.qa-also { color: var(--body-text-color-subdued); font-size: 0.88em; margin: 0.2em 0; }
.qa-passage { margin: 6px 0; line-height: 1.5; }
.qa-actions { display: flex; gap: 12px; align-items: center; font-size: 0.9em; }
.qa-open { cursor: pointer; border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 1px 10px; font-size: 0.85rem; font-weight: 500; background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color); }
.qa-open.qa-link { border: none; background: none; padding: 0; text-decoration: underline;
  color: var(--link-text-color); text-align: left; }
.qa-details { font-size: 0.8em; color: var(--body-text-color-subdued); margin-top: 4px; }
.qa-others { margin: 14px 0 4px; font-size: 0.95em; color: var(--body-text-color-subdued); }
.qa-sources-for { font-size: 0.9em; color: var(--body-text-color-subdued); margin: 0; }
/* Dark text on yellow in both themes: the highlight must stay readable (contrast > 7:1). */
mark, .qa-passage mark, .qa-para mark { background: #ffe98a; color: #1b1b1b; padding: 0 2px;
  border-radius: 3px; }
.dark mark, .dark .qa-passage mark, .dark .qa-para mark { background: #5c4a00; color: #fff6d5; }
a.qa-ref { text-decoration: none; font-weight: 600; color: var(--link-text-color); cursor: pointer; }
.qa-notfound { font-weight: 700; color: #a33a00; }
.dark .qa-notfound { color: #ffb38a; }
.qa-searched { font-size: 0.88em; color: var(--body-text-color-subdued); font-style: italic; }
.qa-flash { outline: 3px solid #b8860b; outline-offset: 2px; }
.qa-article { line-height: 1.55; }
.qa-para { padding: 4px 6px; margin: 4px 0; border-radius: 4px; }
.qa-para.qa-target { background: rgba(255, 200, 0, 0.14); border-left: 3px solid #b8860b; }
.qa-para.qa-boilerplate { color: var(--body-text-color-subdued); font-style: italic; }
.qa-para.qa-heading { font-weight: 700; }
.qa-pnum { display: inline-block; min-width: 1.8em; color: var(--body-text-color-subdued);
  font-size: 0.8em; }
.qa-label { font-size: 0.8em; border: 1px solid var(--border-color-primary); border-radius: 4px;
  padding: 0 4px; font-style: normal; }
.qa-corpus th { text-align: left; padding-right: 10px; font-weight: 600; }
.qa-articles { padding-left: 1.1em; }
#qa-status p { margin: 0; }
@media (max-width: 700px) { #qa-chat { height: 52vh !important; } }
"""

# Delegated click handling: [n] markers scroll to their card (asking the server for that turn's
# sources when another turn is shown); "Open article" controls ask the server for the article.
HEAD = """
<script>
(() => {
  const send = (id, value) => {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    const button = document.querySelector(`#${id}-btn`);
    if (!box || !button) return;
    box.value = value;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => button.click(), 0);
  };
  window.qaFocus = (id) => {
    const card = document.getElementById(id);
    if (!card) return false;
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.classList.add("qa-flash");
    setTimeout(() => card.classList.remove("qa-flash"), 1800);
    return true;
  };
  window.qaFocusTarget = () => {
    const target = document.querySelector("#qa-viewer .qa-target");
    if (target) target.scrollIntoView({ behavior: "smooth", block: "center" });
  };
  document.addEventListener("click", (event) => {
    const ref = event.target.closest && event.target.closest("a.qa-ref");
    if (ref) {
      event.preventDefault();
      const id = ref.getAttribute("href").slice(1);
      if (!window.qaFocus(id)) send("qa-show", id);
      return;
    }
    const open = event.target.closest && event.target.closest(".qa-open");
    if (open) {
      event.preventDefault();
      send("qa-open", open.getAttribute("data-open"));
    }
  });
})();
</script>
"""

FOCUS_CARD_JS = "(id) => { window.qaFocus(id); }"
FOCUS_TARGET_JS = "() => { setTimeout(window.qaFocusTarget, 300); }"


def build_page(qa: QA, exports_root: Path) -> gr.Blocks:
    """The chat page over ``qa``; chat exports are written under ``exports_root``."""
    articles = qa.articles()
    with gr.Blocks(title="article-qa") as page:
        gr.HTML(
            f'<h1 style="margin:0">article-qa</h1><p class="qa-meta" id="qa-header">Answers from '
            f"{len(articles):,} articles, each with the passage and sentence it comes from.</p>"
        )
        entries = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=340):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=520,
                    elem_id="qa-chat",
                    latex_delimiters=[],  # "$$" in an article is text, not maths
                    buttons=["copy", "copy_all"],  # no share button: nothing leaves this machine
                    feedback_options=("Like", "Dislike", WRONG_CITATION),
                    placeholder="Ask about the articles. Every answer cites its paragraph and sentence.",
                )
                question = gr.Textbox(
                    placeholder="Ask a question about the articles…",
                    show_label=False,
                    elem_id="qa-question",
                    submit_btn=True,
                    lines=1,
                    max_lines=6,
                )
                status = gr.Markdown("", elem_id="qa-status")
                with gr.Row():
                    clear = gr.Button("New conversation", elem_id="qa-clear", size="sm", min_width=0)
                    export_md = gr.DownloadButton(
                        "Export .md", elem_id="qa-export-md", size="sm", interactive=False, min_width=0
                    )
                    export_json = gr.DownloadButton(
                        "Export .json", elem_id="qa-export-json", size="sm", interactive=False, min_width=0
                    )
            with gr.Column(scale=2, min_width=340):
                sources = gr.HTML(EMPTY_SOURCES, elem_id="qa-sources", label="Sources")
                examples = gr.Dataset(
                    components=["textbox"],
                    samples=[[q] for q in example_questions(articles)],
                    label="Try asking",
                    elem_id="qa-examples",
                )
                with gr.Accordion("Time and sources", open=False, elem_id="qa-scope"):
                    with gr.Row():
                        as_of = gr.DateTime(
                            include_time=False,
                            type="string",
                            label="As of",
                            info="Nothing published later is cited (blank: today)",
                            elem_id="qa-as-of",
                        )
                    with gr.Row():
                        since = gr.DateTime(
                            include_time=False, type="string", label="Published since", elem_id="qa-since"
                        )
                        until = gr.DateTime(
                            include_time=False, type="string", label="Published until", elem_id="qa-until"
                        )
                    picked_sources = gr.Dropdown(
                        choices=source_choices(articles),
                        multiselect=True,
                        label="Sources",
                        info="Sites and folders to answer from (none: all)",
                        elem_id="qa-source-pick",
                    )
                with gr.Accordion("Corpus", open=False, elem_id="qa-corpus"):
                    corpus = gr.HTML(corpus_html(qa.info()))
                    title_filter = gr.Textbox(
                        placeholder="Filter articles by title…", show_label=False, elem_id="qa-filter"
                    )
                    article_list = gr.HTML(article_list_html(articles), elem_id="qa-article-list")
        with gr.Sidebar(position="right", open=False, width=520, elem_id="qa-viewer-panel") as viewer_panel:
            viewer = gr.HTML(EMPTY_ARTICLE, elem_id="qa-viewer")
        # Requests from the page's own script (see HEAD): hidden, but in the page.
        show_request = gr.Textbox(visible="hidden", elem_id="qa-show")
        show_button = gr.Button(visible="hidden", elem_id="qa-show-btn")
        open_request = gr.Textbox(visible="hidden", elem_id="qa-open")
        open_button = gr.Button(visible="hidden", elem_id="qa-open-btn")

        outputs = [chatbot, sources, entries, question, status, export_md, export_json]

        def on_submit(
            message: str,
            state: list[Entry],
            as_of_day: object,
            since_day: object,
            until_day: object,
            chosen: object,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            scope = scope_of(as_of_day, since_day, until_day, chosen)
            problem = input_problem(message) or scope_problem(scope)
            if problem is not None:  # nothing is sent or cut: the text stays for fixing
                yield (gr.skip(), gr.skip(), state, message, f"⚠️ {problem}", gr.skip(), gr.skip())
                return
            # The box is emptied now, not when the answer comes: a next question typed while this
            # one is answered stays in the box.
            loading = not qa.model_ready
            pending: list[Message] = [
                *messages(state),
                {"role": "user", "content": question_markdown(message)},
                {
                    "role": "assistant",
                    "content": f'<span class="qa-loading">{LOADING_TEXT if loading else READING_TEXT}</span>',
                },
            ]
            yield (
                pending,
                gr.skip(),
                state,
                "",
                "Loading the model…" if loading else "",
                gr.skip(),
                gr.skip(),
            )
            entry = ask(qa, message, state, scope)
            new_state = [*state, entry]
            folder = exports_root / (request.session_hash or "anonymous")
            md_file, json_file = write_exports(new_state, qa.generation, folder)
            panel = sources_html(entry.answer, len(state)) if entry.answer else gr.skip()
            yield (
                messages(new_state),
                panel,
                new_state,
                gr.skip(),
                "",
                gr.DownloadButton(value=str(md_file), interactive=True),
                gr.DownloadButton(value=str(json_file), interactive=True),
            )

        inputs = [question, entries, as_of, since, until, picked_sources]
        question.submit(on_submit, inputs, outputs, api_visibility="private")
        examples.click(
            lambda sample: sample[0], examples, question, api_visibility="private", queue=False
        ).then(on_submit, inputs, outputs, api_visibility="private")

        def reset() -> tuple[Any, ...]:
            return (
                [],
                EMPTY_SOURCES,
                [],
                "",
                "",
                gr.DownloadButton(value=None, interactive=False),
                gr.DownloadButton(value=None, interactive=False),
            )

        clear.click(reset, None, outputs, api_visibility="private")
        # The chat's own trash button empties only the chat: reset the rest of the conversation.
        chatbot.clear(reset, None, outputs, api_visibility="private")

        def on_like(state: list[Entry], data: gr.LikeData) -> str:
            index = data.index if isinstance(data.index, int) else data.index[0]
            entry = entry_of_message(state, index)
            if entry is None:
                return gr.skip()
            record = feedback_record(entry, qa.generation, data.liked)
            try:
                path = append_feedback(qa.index_dir, record)
            except OSError as err:
                return f"⚠️ Feedback could not be saved ({escape_text(str(err))})."
            what = "thanks" if record["rating"] == "up" else f"noted ({record['reason'] or 'not helpful'})"
            return f"Feedback {what}: saved to `{path.name}` beside the index."

        chatbot.like(on_like, [entries], [status], api_visibility="private")

        def show_turn(card: str, state: list[Entry]) -> str:
            parts = card.removeprefix("qa-src-").split("-")
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                return gr.skip()
            turn = int(parts[0])
            if not 0 <= turn < len(state) or state[turn].answer is None:
                return gr.skip()
            return sources_html(state[turn].answer, turn)

        show_button.click(show_turn, [show_request, entries], [sources], api_visibility="private").then(
            None, [show_request], None, js=FOCUS_CARD_JS
        )

        def open_source(request: str) -> tuple[str, gr.Sidebar]:
            return open_article(qa, request), gr.Sidebar(open=True)

        open_button.click(open_source, [open_request], [viewer, viewer_panel], api_visibility="private").then(
            None, None, None, js=FOCUS_TARGET_JS
        )

        listed: dict[str, list[ArticleSummary]] = {}  # generation -> its articles, read once

        def filter_articles(query: str) -> str:
            qa.refresh()
            if qa.generation not in listed:
                listed.clear()
                listed[qa.generation] = qa.articles()
            return article_list_html(listed[qa.generation], query)

        title_filter.change(filter_articles, [title_filter], [article_list], api_visibility="private")
        page.load(lambda: corpus_html(qa.info()), None, [corpus], api_visibility="private")

        def ask_api(
            question: str,
            top_k: int = 5,
            as_of: str = "",
            since: str = "",
            until: str = "",
            sources: list[str] | None = None,
        ) -> dict[str, Any]:
            """Answer one question; the same JSON as `qa ask --json`. Dates are ISO 8601 ('' for
            none: as of now, no range); sources are site, folder or file names."""
            try:
                return qa.ask(question, top_k=top_k, **scope_of(as_of, since, until, sources or [])).to_dict()
            except QAError as err:
                raise gr.Error(str(err)) from err  # shown to API callers even with show_error=False

        gr.api(ask_api, api_name="ask")
    return page


def open_article(qa: QA, request: str) -> str:
    """The source viewer's HTML for a request from the page: a cited passage or a whole article."""
    try:
        wanted = json.loads(request)
        if not isinstance(wanted, dict):
            raise ValueError("not an object")
    except ValueError:
        return '<p class="qa-empty">That link is not a source this page made.</p>'
    try:
        if isinstance(wanted.get("article"), str):
            return article_html(qa.article(wanted["article"]))
        hit = qa.passage(wanted.get("key"))  # type: ignore[arg-type]
        start, end = wanted.get("start"), wanted.get("end")
        sentence = (start, end) if isinstance(start, int) and isinstance(end, int) else None
        return article_html(qa.article(hit.article_id), hit.paragraph, sentence)
    except QAError as err:
        return f'<p class="qa-error">⚠️ {escape_text(str(err))}</p>'
