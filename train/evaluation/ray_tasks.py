"""Run independent tasks (cross-validation folds, tuning studies) serially or as Ray tasks.

``workers=0`` and no address: in this process, one after another. Otherwise Ray: by default a local,
in-process cluster with ``workers`` CPUs and nothing to set up; ``address`` (or ``RAY_ADDRESS``) joins an
existing cluster instead. Each task is a pure function of its arguments (seeded inside), and torch runs
with the same thread count in every path, so serial, local-Ray and cluster runs give byte-identical
results. Results come back in task order. Progress counts finished tasks across workers; Ctrl-C cancels
every pending task and shuts a local cluster down, and the caller writes nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

from tqdm import tqdm

from drugresponse.errors import UserError


def set_threads(threads: int) -> None:
    """The torch (and BLAS) thread count every fit runs with: part of what makes runs reproducible."""
    import torch

    torch.set_num_threads(max(1, threads))


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError("parallel runs need Ray: `pip install 'drugresponse[scale]'` (or run with --workers 0, "
                        "serially).") from None
    return ray


def run_tasks(fn: Callable, tasks: Sequence[tuple], workers: int = 0, address: str | None = None,
              desc: str = "tasks", shared: dict | None = None, postfix: Callable | None = None) -> list:
    """``[fn(*shared_values, *task) for task in tasks]``, serially or on Ray; ``shared`` objects are sent once.

    ``postfix(results_so_far) -> dict`` adds live figures (e.g. best so far) to the progress bar.
    """
    shared = shared or {}
    address = address or os.environ.get("RAY_ADDRESS") or None
    bar = tqdm(total=len(tasks), desc=desc, unit="task", file=sys.stderr, dynamic_ncols=True)
    done: dict[int, object] = {}
    try:
        if not workers and not address:
            for i, task in enumerate(tasks):
                done[i] = fn(*shared.values(), *task)
                bar.update()
                if postfix:
                    bar.set_postfix(postfix([done[k] for k in sorted(done)]))
            return [done[i] for i in range(len(tasks))]
        return _run_on_ray(fn, tasks, workers, address, shared, bar, done, postfix)
    finally:
        bar.close()


def _run_on_ray(fn, tasks, workers, address, shared, bar, done, postfix) -> list:
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        options = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(**options, log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    refs = [ray.put(value) for value in shared.values()]
    pending = {remote.remote(*refs, *task): i for i, task in enumerate(tasks)}
    start = time.perf_counter()
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done[pending.pop(ref)] = ray.get(ref)
                bar.update()
                if postfix:
                    bar.set_postfix(postfix([done[k] for k in sorted(done)]))
        return [done[i] for i in range(len(tasks))]
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        print(f"{len(done)} of {len(tasks)} tasks finished on Ray in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        if started_here:
            ray.shutdown()
