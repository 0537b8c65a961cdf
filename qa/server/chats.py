"""Conversations held by the server for ``/v1/chats``: bounded in number, forgotten when idle."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from qa import QA, Chat, NotFoundError

IDLE_SECONDS = 3600.0
MAX_CHATS = 1000
KEPT_TURNS = 20  # a follow-up only looks one turn back; the rest is memory for nothing


@dataclass
class HeldChat:
    chat: Chat
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)  # one turn at a time, in order


class ChatStore:
    def __init__(
        self,
        qa: QA,
        *,
        max_chats: int = MAX_CHATS,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.qa = qa
        self.max_chats = max_chats
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._chats: OrderedDict[str, HeldChat] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._chats)

    def create(self) -> str:
        chat_id = secrets.token_urlsafe(16)
        with self._lock:
            self._forget_idle()
            while len(self._chats) >= self.max_chats:
                self._chats.popitem(last=False)  # full: the one idle longest goes first
            self._chats[chat_id] = HeldChat(Chat(self.qa), self._clock())
        return chat_id

    def get(self, chat_id: str) -> HeldChat:
        with self._lock:
            self._forget_idle()
            held = self._chats.get(chat_id)
            if held is None:
                raise NotFoundError(
                    f"No chat {chat_id!r} on this server: it was never made, was deleted, or was idle "
                    f"for over {self.idle_seconds / 60:.0f} minutes. Start one with POST /v1/chats."
                )
            held.last_used = self._clock()
            self._chats.move_to_end(chat_id)
            return held

    def delete(self, chat_id: str) -> None:
        with self._lock:
            if self._chats.pop(chat_id, None) is None:
                raise NotFoundError(f"No chat {chat_id!r} on this server (already deleted or expired).")

    @staticmethod
    def trim(held: HeldChat) -> None:
        del held.chat.turns[:-KEPT_TURNS]

    def _forget_idle(self) -> None:
        now = self._clock()
        while self._chats:
            oldest_id, oldest = next(iter(self._chats.items()))
            if now - oldest.last_used < self.idle_seconds:
                break
            del self._chats[oldest_id]
