"""Which files the app may open: only a user's upload, inside Gradio's upload folder.

An API call can name a file argument as any JSON, including a plain dict ``{"path": "/etc/passwd"}`` that Gradio does
not check. So the app resolves the path (links followed) and opens it only if it is a regular file inside the
upload folder (``GRADIO_TEMP_DIR``, or ``<temp>/gradio``). Every other path gets one message that says nothing about
it: whether it exists, what it holds, or why it was refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from drugresponse.errors import UserError

REFUSED = ("the file was not uploaded to this app. Upload it with the file input (or, from a program, with "
           "gradio_client's handle_file).")


def upload_folder() -> Path:
    """Gradio's upload folder, resolved (the same rule as ``gradio.utils.get_upload_folder``)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def uploaded_file(upload, folder: Path | None = None) -> Path:
    """The local path of an upload, or ``UserError(REFUSED)`` for anything that is not one."""
    if upload is None:
        raise UserError("no file uploaded; choose a file of sample profiles.")
    if isinstance(upload, dict):  # gr.api passes FileData as a dict; a crafted call can pass any dict
        path = upload.get("path")
    elif isinstance(upload, (str, os.PathLike)):
        path = upload
    else:
        path = getattr(upload, "path", None) or getattr(upload, "name", None)
    if not isinstance(path, (str, os.PathLike)) or not str(path) or "\x00" in str(path):
        raise UserError(REFUSED)
    root = (folder or upload_folder()).resolve()
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, an invalid name: all refused alike
        raise UserError(REFUSED) from None
    if not resolved.is_relative_to(root) or resolved == root or not resolved.is_file():
        raise UserError(REFUSED)
    return resolved
