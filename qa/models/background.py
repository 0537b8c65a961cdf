"""Something slow to load, loading in a thread: asking for it waits, and re-raises its error."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundLoad(Generic[T]):
    def __init__(self, load: Callable[[], T], what: str) -> None:
        self._what = what
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._load, args=(load,), name=f"qa-load-{what}", daemon=True).start()

    def _load(self, load: Callable[[], T]) -> None:
        try:
            self._value = load()
        except BaseException as err:  # handed to the thread that asks for it
            self._error = err
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        """True once loaded (or failed to load: ``wait`` then raises)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> T:
        if not self._done.wait(timeout):
            raise TimeoutError(f"the {self._what} did not load within {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value
