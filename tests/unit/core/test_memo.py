import threading

import pytest

from portal.core.apipaging import envelope
from portal.core.memo import BoundedCache, bounded


def test_least_recently_used_entry_is_evicted_first():
    cache = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache
    assert cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_get_or_compute_computes_once_per_key():
    calls = []
    cache = BoundedCache(4)
    for _ in range(3):
        assert cache.get_or_compute("k", lambda: calls.append(1) or "v") == "v"
    assert calls == [1]


def test_a_cached_none_is_a_hit():
    calls = []
    cache = BoundedCache(1)
    cache.get_or_compute("k", lambda: calls.append(1))
    cache.get_or_compute("k", lambda: calls.append(1))
    assert calls == [1]


def test_bounded_decorator_memoises_by_arguments_and_can_be_cleared():
    calls = []

    @bounded(maxsize=8)
    def square(n):
        calls.append(n)
        return n * n

    assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert calls == [3, 4]
    square.cache.clear()
    square(3)
    assert calls == [3, 4, 3]


def test_threads_share_one_bounded_cache():
    cache = BoundedCache(50)

    def fill(offset):
        for i in range(200):
            cache.put(offset + i, i)

    threads = [threading.Thread(target=fill, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError):
        BoundedCache(0)


def test_envelope_counts_pages():
    assert envelope([1, 2], 41, 2, 20) == {
        "items": [1, 2],
        "total": 41,
        "page": 2,
        "per_page": 20,
        "pages": 3,
    }
    assert envelope([], 0, 1, 20)["pages"] == 1
