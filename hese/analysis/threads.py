"""Threads for work that releases the GIL, capped by the CPUs this process may use and ``OMP_NUM_THREADS``."""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor

MAX_THREADS = 8  # parallel jobs beyond this add memory (work arrays per thread) and little speed


def usable_threads() -> int:
    """Threads for parallel work: the CPUs this process may use, at most ``OMP_NUM_THREADS`` and :data:`MAX_THREADS`."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        limit = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        limit = cpus
    return max(1, min(cpus, limit, MAX_THREADS))


def thread_pool() -> Executor:
    """A pool of :func:`usable_threads` threads, or, for one thread, an executor that runs each job as it is submitted.

    For work that releases the GIL (FFTs, KD-tree queries, large numpy operations).
    """
    threads = usable_threads()
    return ThreadPoolExecutor(threads) if threads > 1 else _Inline()


class _Inline(Executor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        job: Future = Future()
        try:
            job.set_result(fn(*args, **kwargs))
        except BaseException as err:  # kept for whoever asks for the result, as in a pool
            job.set_exception(err)
        return job

