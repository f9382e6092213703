"""Uploads are read in a separate process, one at a time, at a lower CPU priority than the app.

Reading a file is the one costly thing a visitor can ask for, and anyone can ask for it many times at once. In the
app's own process it would compete for the interpreter lock and the cores with every cheap request; in one worker
process at a lower priority (``nice`` + ``NICENESS``) it queues behind them instead, and its memory is its own. A
request that fails in the worker comes back as the same ``UserError``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from .uploads import APP, Limits, ProfileSchema, UploadReport, parse_profiles

NICENESS = 10
_schema: ProfileSchema | None = None
_limits: Limits = APP


def _start(schema: ProfileSchema, limits: Limits) -> None:
    global _schema, _limits
    _schema, _limits = schema, limits
    try:
        os.nice(NICENESS)
    except OSError:  # a platform without nice: the worker still isolates the reading
        pass


def _parse(path, mutations) -> UploadReport:
    return parse_profiles(path, _schema, _limits, None, mutations)


class UploadReader:
    """``read(path, mutations)`` -> UploadReport, in the worker process."""

    def __init__(self, schema: ProfileSchema, limits: Limits = APP):
        # spawn, not fork: the app's process runs threads (Gradio's, onnxruntime's), which fork would copy badly
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(schema, limits))

    def read(self, path, mutations=None) -> UploadReport:
        return self.pool.submit(_parse, path, mutations).result()
