"""Django's Redis cache, made to survive Redis going away: while Redis does not answer, the cache holds
nothing (reads miss, writes are dropped) instead of raising, so pages are rendered uncached and replies still
post; when Redis answers again, caching resumes by itself.

Why a subclass and not a setting: Django's `RedisCache` raises `redis.exceptions.ConnectionError` from every
call while Redis is down, and every cache user (the page cache, the login and ping limits, thread summaries,
avatars, `{% cache %}` fragments) would turn it into a 500. One guard around every method here is the one
place that decides what "unavailable" means.

What counts as unavailable: no connection or a lost one (`ConnectionError`, which covers a Redis still loading
its data and a failed authentication), no answer in time (`TimeoutError`), and a Redis that refuses writes
(`ReadOnlyError`: a replica after a failover; `OutOfMemoryError`: full, without eviction). A refused write
may be a page-cache invalidation, so it must count as an outage too (see `recovered`). Any other
`RedisError` (a wrong type, a bad command) is a bug and is raised.

What it costs: the sockets time out after 0.25 s unless the URL says otherwise (`?socket_timeout=…`,
`?socket_connect_timeout=…`), so a hung Redis (stopped, or its packets dropped) stalls a request for a
quarter of a second, not for the kernel's minutes. After a failure the process leaves Redis alone for
RETRY_SECONDS (a small circuit breaker, per process and per server, shared by every thread's cache object):
an outage costs one timeout per second per process, not one per cache call. Then one PING decides; a
daemon thread sends it even when no request comes, so a process that missed an invalidation catches up
within about a second of Redis answering again, not at its next request.

One warning is logged per outage, one info line when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.dispatch import Signal

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
)
RETRY_SECONDS = 1.0
DEFAULT_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
URL_OPTIONS = ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT")  # django-cache-url puts `?socket_timeout=` here

# Sent once per outage, by the process that saw Redis fail, when Redis answers again and before the call
# that found it back goes on. Redis may have kept its data through the outage (it was stopped, or cut off),
# so it may still hold what was true before it: receivers set right what this process could not write
# meanwhile (the page cache moves its version on).
recovered = Signal()


class Circuit:
    """Whether this process may ask one Redis server now. `down` is the error's kind while it is out."""

    def __init__(self, name: str):
        self.name = name
        self.lock = threading.Lock()
        self.down: str | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.recovering: int | None = None  # the thread that found Redis back and is running `recovered`
        self.prober: threading.Thread | None = None

    def broke(self, error: Exception, probe: Callable[[], object]) -> None:
        with self.lock:
            self.failures += 1
            self.retry_at = time.monotonic() + RETRY_SECONDS
            if self.down is None:
                self.down = type(error).__name__
                logger.warning("Redis at %s is unavailable (%s: %s): caching nothing until it answers again",
                               self.name, self.down, error)  # fmt: skip
            if self.prober is None or not self.prober.is_alive():
                self.prober = threading.Thread(target=self._probe_until_back, args=(probe,), daemon=True)
                self.prober.start()

    def closed(self, probe: Callable[[], object]) -> bool:
        """May this call go to Redis? Yes when it is up; while it is out, at most once per RETRY_SECONDS
        one thread sends one PING, and when that answers, the outage ends (`_recover`)."""
        if self.down is None or self.recovering == threading.get_ident():
            return True
        with self.lock:
            if self.down is None:
                return True
            if self.recovering is not None or time.monotonic() < self.retry_at:
                return False
            self.retry_at = time.monotonic() + RETRY_SECONDS
            self.recovering = threading.get_ident()
        try:
            return self._recover(probe)
        finally:
            self.recovering = None

    def _recover(self, probe: Callable[[], object]) -> bool:
        """The receivers of `recovered` run first: their calls go to Redis while every other thread still
        sees the outage (so none reads what they are about to set right); if one of their calls fails,
        Redis is still out."""
        failures = self.failures
        try:
            probe()
        except UNAVAILABLE:
            return False
        recovered.send(sender=Circuit, location=self.name)
        with self.lock:
            if self.failures != failures:
                return False
            logger.info("Redis at %s answers again after %s: caching resumes", self.name, self.down)
            self.down = None
        return True

    def _probe_until_back(self, probe: Callable[[], object]) -> None:
        while self.down is not None:
            time.sleep(RETRY_SECONDS)
            self.closed(probe)


_circuits: dict[str, Circuit] = {}
_circuits_lock = threading.Lock()


def circuit_for(location: str) -> Circuit:
    with _circuits_lock:
        return _circuits.setdefault(location, Circuit(location))


Method = TypeVar("Method", bound=Callable[..., Any])


def guarded(method: Method, answer: Callable[..., Any]) -> Method:
    """`method` of Django's RedisCache, or, while Redis is unavailable, `answer` (called with the same
    arguments): what a cache that holds nothing would say."""

    @wraps(method)
    def call(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        if self.circuit.closed(self.ping):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as error:
                self.circuit.broke(error, self.ping)
        return answer(*args, **kwargs)

    return call  # type: ignore[return-value]


def holding(value: object) -> Callable[..., object]:
    """An answer that is always `value` (immutable ones only: it is shared)."""
    return lambda *args, **kwargs: value


def not_found(key: str, *args: object, **kwargs: object) -> int:
    raise ValueError(f"Key {key!r} not found (Redis is unavailable).")  # what incr() says of a missing key


class ReusedClient(RedisCacheClient):
    """Django's Redis client, keeping one `redis.Redis` per connection pool: Django's makes a new one for
    every call, which cost more than the round trip itself (about 150 µs of a 250 µs `get`), and the page
    cache reads the version on every request. A `redis.Redis` is safe to share between threads."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._clients: dict[redis.ConnectionPool, redis.Redis] = {}

    def get_client(self, key: str | None = None, *, write: bool = False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        if pool not in self._clients:
            self._clients[pool] = self._client(connection_pool=pool)
        return self._clients[pool]


class RedisCache(DjangoRedisCache):
    """Django's Redis cache that holds nothing while Redis is unavailable; see the module docstring.

    What each call answers meanwhile, by Django's cache API: `get` its default, `get_many` nothing, `add`,
    `touch`, `delete`, `has_key` and `clear` False (nothing stored, touched, found or flushed), `set_many`
    every key (the keys that failed), `incr` ValueError (as for any missing key), `set` and
    `delete_many` nothing (they never answer). What BaseCache builds on these (`get_or_set`, `decr`, the
    async methods, …) follows.
    """

    def __init__(self, server: str | list[str], params: dict[str, Any]):
        super().__init__(server, params)
        self._class = ReusedClient
        from_url = {name.lower(): float(params[name]) for name in URL_OPTIONS if name in params}
        self._options = {**DEFAULT_OPTIONS, **from_url, **self._options}
        self.circuit = circuit_for(",".join(self._servers))

    @property
    def unavailable(self) -> str | None:
        """Why Redis does not answer (the error's kind), or None while it does: for /healthz."""
        return self.circuit.down

    def ping(self) -> None:
        self._cache.get_client(write=True).ping()

    get = guarded(DjangoRedisCache.get, lambda key, default=None, version=None: default)
    get_many = guarded(DjangoRedisCache.get_many, lambda keys, version=None: {})
    add = guarded(DjangoRedisCache.add, holding(False))
    set = guarded(DjangoRedisCache.set, holding(None))
    touch = guarded(DjangoRedisCache.touch, holding(False))
    delete = guarded(DjangoRedisCache.delete, holding(False))
    has_key = guarded(DjangoRedisCache.has_key, holding(False))
    incr = guarded(DjangoRedisCache.incr, not_found)
    set_many = guarded(DjangoRedisCache.set_many, lambda data, *args, **kwargs: list(data))
    delete_many = guarded(DjangoRedisCache.delete_many, holding(None))
    clear = guarded(DjangoRedisCache.clear, holding(False))
