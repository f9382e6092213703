"""Uploads are read in a separate process, one at a time, at a lower CPU priority than the app, within a memory
budget and a time limit; a worker that dies or overruns is replaced, and the next upload is read as usual.

Reading a file is the one costly thing a visitor can ask for, and anyone can ask for it many times at once. In the
app's own process it would compete for the interpreter lock and the cores with every cheap request; in one worker
process at a lower priority (``nice`` + ``NICENESS``) it queues behind them instead, and its memory is its own. A
request that fails in the worker comes back as the same ``UserError``.

The worker's address space is capped (``RLIMIT_AS``) at what it holds once started and warmed (its thread pools
running, one small file read) plus ``Limits.worker_memory_mb`` (1,536 MB by default). Address space reserved but
never used would count against it, so the worker starts with ``WORKER_ENVIRONMENT``: mimalloc (polars', Arrow's)
reserves 64 MB of address space at a time instead of 1 GB, glibc keeps two malloc arenas instead of eight per core.
Past the cap an allocation fails inside the worker: as a ``MemoryError``,
answered with a ``UserError``, or in native code that cannot fail softly (the Excel reader, polars) as the worker's
death. A read that takes longer than ``Limits.read_timeout_s`` (120 s) is stopped by killing the worker. When the
worker dies or is killed the pool is replaced and the request tried once more in the fresh worker; only a file that
kills that one too is answered with a ``UserError``. The kernel's out-of-memory killer never has to choose between
the worker and the app.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from drugresponse.errors import UserError

from .uploads import APP, Limits, ProfileSchema, UploadReport, parse_profiles

NICENESS = 10
# read by the allocators as the worker process starts (it inherits the app's environment when it is spawned)
WORKER_ENVIRONMENT = {"MIMALLOC_ARENA_RESERVE": "64m",  # default: 1 GB of address space at the first allocation
                      "MALLOC_ARENA_MAX": "2"}  # default: 8 arenas per core, 64 MB of address space each
WARM_UP = b"sample,gene,modality,value\nwarm,TP53,mutation,1\n"  # read once at start, and refused (too few genes)
TOO_MUCH_MEMORY = ("this file needs more memory than an upload may use ({mb:,} MB); upload a smaller file, save it "
                   "as CSV, or read it with `drugresponse predict`.")
_schema: ProfileSchema | None = None
_limits: Limits = APP


def _start(schema: ProfileSchema, limits: Limits) -> None:
    global _schema, _limits
    _schema, _limits = schema, limits
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    try:
        os.nice(NICENESS)
    except OSError:  # a platform without nice: the worker still isolates the reading
        pass
    try:  # thread pools and lazily loaded code take their address space now, before the cap
        parse_profiles(WARM_UP, schema, limits)
    except Exception:  # refused, as it should be; whatever happens, the worker still serves
        pass
    cap_memory(limits.worker_memory_mb)


def _exit_with(app_pid: int, every_s: float = 1.0) -> None:
    """End the worker once the app has gone: an app stopped by a signal (SIGTERM from a Space or a service manager)
    does not shut its pool down, and its worker, hundreds of MB, would otherwise outlive it."""
    while os.getppid() == app_pid:
        time.sleep(every_s)
    os._exit(0)


def cap_memory(megabytes: int) -> int | None:
    """Cap this process's address space at what it holds now plus ``megabytes``; the cap, or None where the
    platform has none."""
    try:
        with open("/proc/self/status") as status:
            held = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = held + megabytes * 2**20
        cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return cap
    except (OSError, ValueError, StopIteration, AttributeError):  # no /proc, or no RLIMIT_AS: the timeout still holds
        return None


def _run(function, *args):
    """``function(*args)`` in the worker; running out of memory there is the file's doing, and said so."""
    try:
        return function(*args)
    except MemoryError:
        raise UserError(TOO_MUCH_MEMORY.format(mb=_limits.worker_memory_mb)) from None


def _parse(path, mutations) -> UploadReport:
    return parse_profiles(path, _schema, _limits, None, mutations)


class UploadReader:
    """``read(path, mutations)`` -> UploadReport, in the worker process, one at a time."""

    def __init__(self, schema: ProfileSchema, limits: Limits = APP):
        self.schema, self.limits = schema, limits
        self._lock = threading.Lock()
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        for key, value in WORKER_ENVIRONMENT.items():  # the app's own allocators have read theirs already
            os.environ.setdefault(key, value)
        # spawn, not fork: the app's process runs threads (Gradio's, onnxruntime's), which fork would copy badly
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(self.schema, self.limits))

    def read(self, path, mutations=None) -> UploadReport:
        return self.call(_parse, path, mutations)

    def call(self, function, *args):
        """``function(*args)`` in the worker, within its memory and time limits. A worker found dead (killed from
        outside, between calls) is replaced and the call made in a fresh one; the kernel's kill and the pool's
        noticing it are not instant, so a call whose worker dies is tried once more in a fresh worker, and only a
        call that kills that one too (the file itself) is answered with a ``UserError``. A call that overruns its
        time is stopped, its worker replaced."""
        with self._lock:
            for _ in range(2):
                if not all(p.is_alive() for p in (getattr(self.pool, "_processes", None) or {}).values()):
                    self._replace()  # killed between calls (by the kernel, an operator): a fresh worker
                try:
                    return self.pool.submit(_run, function, *args).result(timeout=self.limits.read_timeout_s)
                except FutureTimeout:
                    self._replace(kill=True)
                    raise UserError(f"reading this file took longer than {self.limits.read_timeout_s:.0f} s, the "
                                    "most an upload may; upload a smaller file, or use `drugresponse predict`.") from None
                except BrokenProcessPool:
                    self._replace()
            raise UserError("the reader stopped while reading this file: "
                            + TOO_MUCH_MEMORY.format(mb=self.limits.worker_memory_mb)) from None

    def _replace(self, kill: bool = False) -> None:
        """A fresh pool in place of this one, its worker started at once (so the next upload does not wait for it)."""
        old, self.pool = self.pool, self._new_pool()
        processes = list((getattr(old, "_processes", None) or {}).values())
        for process in processes if kill else []:
            process.kill()
        old.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)
        self.pool.submit(int)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
