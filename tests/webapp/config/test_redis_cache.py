"""The Redis cache backend (production sessions and throttles) against the real Redis."""

import os
import threading
import uuid

from webapp.config.cache import ReusedClientRedisCache


def _cache() -> ReusedClientRedisCache:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    return ReusedClientRedisCache(url, {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


def test_cache_round_trips_values_and_reuses_one_client():
    cache = _cache()
    cache.set("session", {"_auth_user_id": "7"}, timeout=30)
    assert cache.get("session") == {"_auth_user_id": "7"}
    assert cache.add("failures", 0, timeout=30) and cache.incr("failures") == 1
    cache.delete("session")
    assert cache.get("session") is None
    client = cache._cache.get_client()
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client  # one server: one pool, one client


def test_one_client_serves_many_threads():
    cache = _cache()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"k{n}-{i}", i, timeout=30)
                assert cache.get(f"k{n}-{i}") == i
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []  # keys expire in 30 s; no FLUSHDB: the test broker shares this db
