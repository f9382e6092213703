"""A ``UserError`` becomes a message in the page and for API clients, never a stack trace."""

from __future__ import annotations

import functools

import gradio as gr

from drugresponse.errors import UserError


def friendly(fn):
    """Wrap a handler: its ``UserError`` is shown as a message (``gr.Error``)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            message = str(exc)
        # Raised outside the except block, so the UserError is not kept as the message's context: Gradio holds on
        # to an event's error, and the error's traceback would hold the failed request's frames (an upload's bytes).
        raise gr.Error(message)
    return wrapper
