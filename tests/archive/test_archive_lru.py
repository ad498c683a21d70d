"""The archive's in-memory LRU (Shelf's kept responses, Replay's records): bounded in bytes and in
number, least recently used out first, one generation at a time."""

from __future__ import annotations

from archive.lru import GenerationLRU


def lru(max_bytes: int = 10, max_items: int | None = None) -> GenerationLRU[str, bytes]:
    return GenerationLRU(max_bytes, len, max_items)


def test_the_byte_bound_drops_the_least_recently_used_first() -> None:
    cache = lru(10)
    cache.put("g1", "a", b"aaaa")
    cache.put("g1", "b", b"bbbb")
    assert cache.get("a", "g1") == b"aaaa"  # "a" is now the most recently used
    cache.put("g1", "c", b"cccc")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"aaaa", None, b"cccc")
    assert cache.held_bytes == 8


def test_a_value_over_the_bound_is_not_kept_and_replacing_one_counts_once() -> None:
    cache = lru(10)
    cache.put("g1", "a", b"aaaa")
    assert cache.put("g1", "huge", b"x" * 11) is False
    assert cache.get("huge") is None and cache.get("a") == b"aaaa"
    cache.put("g1", "a", b"aaaaaa")
    assert (len(cache), cache.held_bytes) == (1, 6)


def test_the_number_bound_holds_too() -> None:
    cache = lru(1000, max_items=2)
    for key in "abc":
        cache.put("g1", key, b"v")
    assert [cache.get(key) for key in "abc"] == [None, b"v", b"v"]


def test_another_generation_drops_everything_held() -> None:
    cache = lru(10)
    cache.put("g1", "a", b"aaaa")
    assert cache.get("a", "g2") is None  # the archive changed: nothing of g1 is served
    assert (len(cache), cache.held_bytes, cache.generation) == (0, 0, "g2")
    cache.put("g2", "a", b"new")
    cache.put("g3", "b", b"bbb")  # a value of a newer generation: what g2 held is stale
    assert (cache.get("a"), cache.get("b", "g3")) == (None, b"bbb")
