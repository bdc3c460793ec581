"""``URL#NAME``: how the command line names a RedisPOD or RedisTracker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tastypy.redis.connect import check_name

if TYPE_CHECKING:
    from tastypy.redis.face import RedisPOD

#: The URL schemes redis-py takes.
SCHEMES = ("redis://", "rediss://", "unix://")


def is_target(text: str) -> bool:
    """Whether ``text`` names a POD in Redis (``redis://host:6379/0#crawl``) rather than a folder."""
    return text.startswith(SCHEMES) and "#" in text


def open_target(text: str, tracker: bool | None = None, **options: Any) -> RedisPOD[Any, Any]:
    """The RedisPOD or RedisTracker that ``URL#NAME`` names.

    ``tracker=None`` opens it as what it holds (a RedisTracker if it was
    made one, else a RedisPOD); True or False asks for that kind (the
    ``ValueError`` of a mismatch names both). ``options``: ``max_tries``
    (trackers), ``lease``, ``allow_eviction``.
    """
    from tastypy.redis import RedisPOD, RedisTracker  # ImportError naming the extra without redis-py
    from tastypy.redis.link import RedisLink

    if not is_target(text):
        raise ValueError(f"{text!r} is not URL#NAME (e.g. redis://host:6379/0#crawl)")
    url, _, name = text.rpartition("#")
    check_name(name)
    if tracker is None:
        probe = RedisLink(url, name, "pod", allow_eviction=options.get("allow_eviction", False))
        try:
            tracker = probe.call("_stored_kind") == "tracker"
        finally:
            probe.close()
    if tracker:
        return RedisTracker(url, name, **options)
    options.pop("max_tries", None)
    return RedisPOD(url, name, **options)
