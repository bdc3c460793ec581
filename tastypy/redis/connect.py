"""Where a RedisPOD lives: its URL (password masked in messages), its name, its Redis keys."""

from __future__ import annotations

import urllib.parse
from typing import Any

from tastypy.errors import TastypyError
from tastypy.redis import plan

#: Seconds to connect, and to wait for any reply, before an error (never a hang).
CONNECT_TIMEOUT = 3.0
REPLY_TIMEOUT = 10.0

#: The suffixes of a name's Redis keys, in the order scripts get them (each
#: script only the first few it needs): values (hash), meta (hash: kind,
#: insertion counter, tracker counters), claims (sorted set by expiry),
#: owners (hash key -> loop), order (sorted set by insertion number),
#: orphans (sorted set), loops (hash loop -> key).
PARTS = ("values", "meta", "claims", "owners", "order", "orphans", "loops", "due")
#: The Redis type of each part, then of the lock.
TYPES = ("hash", "hash", "zset", "hash", "zset", "zset", "hash", "zset", "string")


def check_name(name: Any) -> str:
    """Refuse a name that is not a non-empty str without braces (the hash tag)."""
    if type(name) is not str or not name or "{" in name or "}" in name:
        raise ValueError(
            f"a Redis name must be a non-empty str without '{{' or '}}', not {name!r}"
        )
    return name


def redis_keys(name: str) -> list[str]:
    """The Redis keys of ``name``, all in one hash tag (one Cluster slot)."""
    return [f"tastypy:{{{name}}}:{part}" for part in PARTS]


def lock_key(name: str) -> str:
    """The Redis key of ``name``'s user lock."""
    return f"tastypy:{{{name}}}:lock"


def pattern(name: str) -> str:
    """A SCAN pattern matching every Redis key of ``name`` and no other name's."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in name)
    return f"tastypy:{{{escaped}}}:*"


def mask(url: str) -> str:
    """``url`` with its password (in the authority or the query) replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        netloc = f"{auth}@{host}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k == "password" for k, _ in pairs):
            query = "&".join(
                f"{k}=***" if k == "password" else f"{k}={v}" for k, v in pairs
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    # By hand: urlunsplit would turn unix:///path into unix:/path.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def client(url: str) -> Any:
    """A fresh redis-py client for ``url`` (its own connection pools), with time limits.

    A Redis Cluster (the URL says ``?cluster=true``, or the server says
    ``cluster_enabled:1``) gets a ``RedisCluster``, which follows each
    name's slot as it moves (MOVED, ASK, TRYAGAIN). A single server gets
    one retry, on a connection error only: a socket left from before a
    server restart is replaced once. A reply that times out is never sent
    again (the call may have been applied). ``tastypy.aio.redis_link``
    makes the ``redis.asyncio`` twin from the same parts.
    """
    import redis
    from redis.retry import Retry

    url, cluster = cluster_flag(url)
    if cluster is not True:
        single = redis.Redis.from_url(url, retry=Retry(*retry_policy()), **OPTIONS)
        if cluster is False or not plan.run(cluster_enabled(), single):
            return single
        single.close()
    from redis.cluster import RedisCluster

    return RedisCluster.from_url(cluster_url(url), **OPTIONS)


#: The options of every client: time limits, and replies as str.
OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": CONNECT_TIMEOUT,
    "socket_timeout": REPLY_TIMEOUT,
    "decode_responses": True,
}


def retry_policy() -> tuple[Any, int, tuple[type[Exception], ...]]:
    """``Retry``'s arguments: once, at once, on a connection error only."""
    import redis
    from redis.backoff import NoBackoff

    return NoBackoff(), 1, (redis.ConnectionError,)


def cluster_url(url: str) -> str:
    """``url`` if a Cluster can be reached at it (over TCP), else the ValueError that says so."""
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"a Redis Cluster is reached over TCP (redis:// or rediss://), not {mask(url)}")
    return url


def cluster_flag(url: str) -> tuple[str, bool | None]:
    """``url`` without its ``cluster=`` query parameter, and what that said (None: ask the server)."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    said = [v for k, v in pairs if k == "cluster"]
    if not said:
        return url, None
    value = said[-1].lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"cluster= in a Redis URL is true or false, not {said[-1]!r} ({mask(url)})")
    query = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "cluster"])
    # By hand: urlunsplit would turn unix:///path into unix:/path.
    rest = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
    return rest, value in ("true", "yes", "1")


def cluster_enabled() -> plan.Plan[bool]:
    """Whether the server says it is a Cluster node."""
    import redis

    try:
        info = yield plan.call("info", "cluster")
    except redis.ResponseError:
        return False  # INFO refused (ACL) or renamed: a Cluster must then be named in the URL
    return bool(info.get("cluster_enabled"))


def is_cluster(redis_client: Any) -> bool:
    """Whether ``redis_client`` is a ``RedisCluster``."""
    return hasattr(redis_client, "get_primaries")


class EvictionError(TastypyError):
    """The Redis server may delete a name's keys by itself (its ``maxmemory-policy`` evicts)."""


#: The only ``maxmemory-policy`` under which Redis never deletes a key by itself.
SAFE_POLICY = "noeviction"


def eviction_policies(cluster: bool) -> plan.Plan[set[str] | None]:
    """The ``maxmemory-policy`` of the server (of every primary of a Cluster); None if not allowed to ask."""
    import redis

    try:
        if cluster:
            infos = (yield plan.call("info", "memory", target_nodes="primaries")).values()
        else:
            infos = [(yield plan.call("info", "memory"))]
    except redis.ResponseError:
        return None  # INFO refused (ACL) or renamed
    return {str(info.get("maxmemory_policy", SAFE_POLICY)) for info in infos}


def unreachable(where: str, url: str, error: Exception) -> ConnectionError:
    """The error for a server that cannot be used: names the URL, never its password."""
    reason = str(error) or type(error).__name__
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    return ConnectionError(
        f"cannot use Redis at {where}: {reason}; check that the server runs, "
        "and the URL's host, port, password and database"
    )


def _password(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return urllib.parse.unquote(parts.password)
    for k, v in urllib.parse.parse_qsl(parts.query):
        if k == "password":
            return v
    return None
