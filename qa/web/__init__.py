"""The web chat: rendering, handlers and the Gradio page (app.py launches it)."""
