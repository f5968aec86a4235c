"""Values derived from one dataset version, kept with it: :class:`Memo` (what
``Dataset.memo`` uses) and the :class:`MemoFn` protocol the pure code (figures, timeline)
takes, with :func:`no_memo` when there is nothing to keep them on."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
#: per-version memo bounds (:meth:`Dataset.memo`, :meth:`Dataset.answer`): a full /perseverance answer is ~240 KB
MEMO_MAX_ENTRIES = 256
MEMO_MAX_BYTES = 32 * 1024 * 1024
#: what :meth:`Memo.lookup` answers for a key it does not keep, when asked to
MISSING: Any = object()


class Memo:
    """A small thread-safe memo, bounded by entry count and by the bytes of its ``bytes``
    values, that a flood of one-off keys cannot empty (keys asked twice can: they are
    promoted like real ones): a segmented LRU. A new key enters
    the *probation* segment (a quarter of the entries); a key asked for again moves to the
    *protected* one (the rest). Past a bound, the least recently used probation entry
    goes first, so 257 (or 100,000) distinct sol ranges asked once each only churn
    probation, and the answers people keep asking for (the default full range) stay. A
    rebuild costs one computation, never a wrong answer."""

    def __init__(self, max_entries: int = MEMO_MAX_ENTRIES, max_bytes: int = MEMO_MAX_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_probation = max(1, max_entries // 4)
        self._probation: OrderedDict = OrderedDict()
        self._protected: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._probation) + len(self._protected)

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        found = self.lookup(key, MISSING)
        if found is not MISSING:
            return found
        value = build()
        self.put(key, value)
        return value

    def lookup(self, key: Hashable, default: object = None) -> Any:
        """The value kept for ``key`` (a second ask promotes it, as :meth:`get` does), else
        ``default``."""
        with self._lock:
            if key in self._protected:
                self._protected.move_to_end(key)
                return self._protected[key]
            if key in self._probation:  # asked again: worth keeping
                value = self._protected[key] = self._probation.pop(key)
                while len(self._protected) > self.max_entries - self.max_probation:
                    old, old_value = self._protected.popitem(last=False)
                    self._probation[old] = old_value  # demoted, not dropped
                self._trim()
                return value
        return default

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` for ``key`` on probation (a value over ``max_bytes`` is not kept)."""
        size = len(value) if isinstance(value, bytes | bytearray) else 0
        if size > self.max_bytes:
            return
        with self._lock:
            if key not in self._probation and key not in self._protected:
                self._probation[key] = value
                self._sizes[key] = size
                self._bytes += size
                self._trim()

    def _trim(self) -> None:
        """Drop least recently used entries, probation first, until within the bounds."""
        while self._probation and (
            len(self._probation) > self.max_probation or len(self) > self.max_entries or self._bytes > self.max_bytes
        ):
            self._forget(*self._probation.popitem(last=False))
        while self._protected and (len(self) > self.max_entries or self._bytes > self.max_bytes):
            self._forget(*self._protected.popitem(last=False))

    def _forget(self, key: Hashable, _value: object) -> None:
        self._bytes -= self._sizes.pop(key, 0)


class MemoFn(Protocol):
    """``memo(key, build)``: ``build()``'s value for ``key``, maybe remembered. The pure
    code (figures, timeline) takes one so that what it derives from a dataset version
    lives on that version (:meth:`Dataset.memo`), not in a module-level cache."""

    def __call__(self, key: Hashable, build: Callable[[], T], /) -> T: ...


def no_memo(key: Hashable, build: Callable[[], T]) -> T:
    """The memo that remembers nothing: ``build()`` on every call."""
    return build()
