"""A bounded pool for questions: a few worker threads and a short queue; beyond that, "busy".

Answering is CPU work (NumPy, SQLite); the event loop must stay free to accept requests and to say
503 quickly when the server is full, instead of letting requests pile up until clients time out.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from qa.server.problems import ServerBusy

T = TypeVar("T")


class WorkerPool:
    def __init__(self, workers: int = 4, queue: int = 32) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a pool needs at least one worker and a queue of 0 or more")
        self.workers = workers
        self.limit = workers + queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="qa-api")
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Requests running or waiting now."""
        return self._admitted

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a worker thread; ServerBusy when ``workers + queue`` are already admitted."""
        with self._lock:
            if self._admitted >= self.limit:
                raise ServerBusy()
            self._admitted += 1
        future: Future[T] = self._executor.submit(work)
        # Released when the work ends, not when the client gives up: abandoned work still holds a worker.
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[T]) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
