"""A byte-bounded LRU holding one generation at a time: the in-memory copy of what the archive keeps.

`archive.kept.Shelf` (kept responses) and `archive.replay.Replay` (recorded answers) each keep one per
process. Their values are good for one generation of the archive (`Shelf.generation`); a value of
another generation makes everything held before stale, so it is all dropped at once rather than aged out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationLRU(Generic[K, V]):
    """At most `max_bytes` (by `sizeof` of each value) and `max_items` values, least recently used out first.
    Thread-safe (waitress serves from several threads); a value larger than the bound is not kept."""

    def __init__(self, max_bytes: int, sizeof: Callable[[V], int], max_items: int | None = None) -> None:
        self._values: LRUCache[K, V] = LRUCache(maxsize=max_bytes, getsizeof=sizeof)
        self.max_items = max_items
        self.generation = ""
        self._lock = threading.Lock()

    def get(self, key: K, generation: str | None = None) -> V | None:
        """The value kept under `key`, now the most recently used. Given a `generation`, only a value of that
        generation; a different one is adopted, dropping everything held."""
        with self._lock:
            if generation is not None and generation != self.generation:
                self._adopt(generation)
                return None
            return self._values.get(key)

    def put(self, generation: str, key: K, value: V) -> bool:
        """Keep `value` under `key` in `generation` (adopted when it is not the current one); False when
        the value alone is over the byte bound."""
        with self._lock:
            if generation != self.generation:
                self._adopt(generation)
            if self._values.getsizeof(value) > self._values.maxsize:
                self._values.pop(key, None)
                return False
            self._values[key] = value
            while self.max_items is not None and len(self._values) > self.max_items:
                self._values.popitem()
            return True

    @property
    def held_bytes(self) -> int:
        return int(self._values.currsize)

    def __len__(self) -> int:
        return len(self._values)

    def _adopt(self, generation: str) -> None:
        self._values.clear()
        self.generation = generation
