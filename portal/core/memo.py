"""The one bounded in-process cache: an LRU map shared by threads, and a decorator on it.

Per-process caches hold what is expensive to rebuild and never changes for a key (parsed
programs, transpiled circuits, calibration figures, rendered Markdown). Anything that must be
shared between processes or invalidated on writes belongs in portal/core/cache.py instead."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class BoundedCache:
    """At most ``maxsize`` entries, least recently used evicted first; safe across threads.
    ``compute`` runs outside the lock, so a slow build never blocks readers of other keys."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def bounded(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Memoise a function of hashable positional arguments in a ``BoundedCache``;
    ``fn.cache`` is the cache (tests clear it)."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        cache = BoundedCache(maxsize)

        @functools.wraps(fn)
        def wrapper(*args: Hashable) -> T:
            return cache.get_or_compute(args, lambda: fn(*args))

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper

    return decorate
