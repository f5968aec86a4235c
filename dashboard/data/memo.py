"""Values derived from one dataset version, kept with it: :class:`Memo` (what
``Dataset.memo`` uses) and the :class:`MemoFn` protocol the pure code (figures, timeline)
takes, with :func:`no_memo` when there is nothing to keep them on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

T = TypeVar("T")
#: per-version memo bounds (:meth:`Dataset.memo`, :meth:`Dataset.answer`): a full /perseverance answer is ~240 KB
MEMO_MAX_ENTRIES = 256
MEMO_MAX_BYTES = 32 * 1024 * 1024


class Memo:
    """A small thread-safe memo, bounded by entry count and by the bytes of its ``bytes``
    values: past either bound it starts over (a rebuild costs one computation, never a
    wrong answer)."""

    def __init__(self, max_entries: int = MEMO_MAX_ENTRIES, max_bytes: int = MEMO_MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._values: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = build()
        size = len(value) if isinstance(value, bytes | bytearray) else 0
        with self._lock:
            if len(self._values) >= self.max_entries or self._bytes + size > self.max_bytes:
                self._values.clear()
                self._bytes = 0
            self._values[key] = value
            self._bytes += size
        return value


class MemoFn(Protocol):
    """``memo(key, build)``: ``build()``'s value for ``key``, maybe remembered. The pure
    code (figures, timeline) takes one so that what it derives from a dataset version
    lives on that version (:meth:`Dataset.memo`), not in a module-level cache."""

    def __call__(self, key: Hashable, build: Callable[[], T], /) -> T: ...


def no_memo(key: Hashable, build: Callable[[], T]) -> T:
    """The memo that remembers nothing: ``build()`` on every call."""
    return build()
