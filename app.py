"""Web chat over the article index: ``python app.py`` (binds 127.0.0.1:7860).

Builds ``index/`` from ``examples/articles/`` on first start when no index exists. All answers
come from ``qa.api``; this file only lays out the page.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr

from qa import MAX_QUESTION_CHARS, QA, Chat, QAError, Turn, build_index, configure_logging
from qa.render import answer_markdown, escape_markdown, sources_html

logger = logging.getLogger("qa.app")
HERE = Path(__file__).resolve().parent
EXAMPLES = [
    "What did Ukraine vow to do in Bakhmut?",
    "Who won Super Bowl 50?",
    "What is the Amazon rainforest also known as?",
]
CSS = """
.qa-citation { border-left: 3px solid #888; padding: 4px 10px; margin: 8px 0; }
.qa-citation mark { background: #fff3a0; color: inherit; }
"""

Message = dict[str, Any]


def respond(
    qa: QA, message: str, history: list[Message], turns: list[Turn]
) -> tuple[list[Message], str, list[Turn], str]:
    """One chat turn: (new history, sources panel HTML, new turns, cleared textbox)."""
    history = [*history, {"role": "user", "content": escape_markdown(message)}]
    chat = Chat(qa, turns=list(turns))
    try:
        answer = chat.ask(message)
    except QAError as err:
        history.append({"role": "assistant", "content": f"⚠️ {err}"})
        return history, sources_html(None), list(turns), message
    history.append({"role": "assistant", "content": answer_markdown(answer)})
    return history, sources_html(answer), chat.turns, ""


def build_demo(qa: QA) -> gr.Blocks:
    with gr.Blocks(title="article-qa") as demo:
        gr.Markdown("# article-qa\nAsk about the articles. Every answer cites its paragraph.")
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=480,
                    elem_id="qa-chat",
                    latex_delimiters=[],  # "$$" in an article is text, not maths
                    buttons=["copy", "copy_all"],  # no share button: nothing leaves this machine
                )
                question = gr.Textbox(
                    placeholder="Ask a question about the articles…",
                    show_label=False,
                    max_length=MAX_QUESTION_CHARS,
                    elem_id="qa-question",
                    submit_btn=True,
                )
                with gr.Row():
                    clear = gr.Button("New conversation", elem_id="qa-clear")
                gr.Examples(EXAMPLES, inputs=question)
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="qa-sources")

        def on_submit(message: str, history: list[Message], state: list[Turn]) -> tuple[Any, ...]:
            return respond(qa, message, history, state)

        question.submit(
            on_submit,
            [question, chatbot, turns],
            [chatbot, sources, turns, question],
            api_visibility="private",
        )
        clear.click(
            lambda: ([], sources_html(None), [], ""),
            None,
            [chatbot, sources, turns, question],
            api_visibility="private",
        )
        # The chat's own trash button empties only the chat: reset the rest of the conversation.
        chatbot.clear(
            lambda: (sources_html(None), [], ""),
            None,
            [sources, turns, question],
            api_visibility="private",
        )

        def ask(question: str, top_k: int = 5) -> dict[str, Any]:
            """Answer one question; the same JSON as `qa ask --json`."""
            try:
                return qa.ask(question, top_k=top_k).to_dict()
            except QAError as err:
                raise gr.Error(str(err)) from err  # shown to API callers even with show_error=False

        gr.api(ask, api_name="ask")
    return demo


def ensure_index(articles: Path, index: Path) -> None:
    if (index / "CURRENT").exists():
        return
    logger.warning("No index at %s yet: building it from %s (first start only)", index, articles)
    report = build_index(articles, index, show_progress=True)
    logger.warning("%s", report.summary())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="article-qa web chat")
    parser.add_argument(
        "--articles",
        default=str(HERE / "examples" / "articles"),
        help="articles to index on first start (default: the sample corpus)",
    )
    parser.add_argument("--index", default=os.environ.get("QA_INDEX", str(HERE / "index")))
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")))
    args = parser.parse_args(argv)
    configure_logging()
    try:
        ensure_index(Path(args.articles), Path(args.index))
        qa = QA.open(args.index)
    except QAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    demo = build_demo(qa)
    demo.queue(max_size=64, default_concurrency_limit=1)
    demo.launch(server_name=args.host, server_port=args.port, share=False, css=CSS, show_error=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
