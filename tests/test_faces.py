"""Parity of the faces: what works on a POD or Tracker exists on every face of it, sync and async.

One row a face: the in-process model, the face, and the differences that are
deliberate, each with its reason. A Redis face is one more row.
"""

from __future__ import annotations

import inspect

import pytest

import tastypy
from tastypy.shared import SharedPOD, SharedTracker

#: Constructor parameters that differ on purpose: name -> why.
SHARED_INIT = {
    "mode": "absent: the server owns the folder as its one writer; read-only is POD(mode='r')",
    "address": "extra: where the server listens (a private socket by default)",
    "authkey": "extra: the key clients prove at connect (random by default)",
}

REDIS_INIT = {
    "path": "absent: the data lives in a Redis database, not a folder",
    "gzipped": "absent: no files (Redis persists by its own RDB/AOF settings)",
    "file_size": "absent: no shard files",
    "sync_at": "absent: every change is in Redis when the call returns",
    "mode": "absent: read-only is the Redis server's business (ACLs), not a mode",
    "url": "extra: the Redis server, as redis.Redis.from_url takes it",
    "name": "extra: the POD's name inside that database",
    "lease": "extra: seconds a dead process's claims and lock outlive it",
    "allow_eviction": "extra: proceed on a Redis server whose maxmemory-policy may evict keys",
}

#: (model, face, {public name: why it is absent from the face})
FACES = {
    "SharedPOD": (tastypy.POD, SharedPOD, {}),
    "SharedTracker": (tastypy.ProgressTracker, SharedTracker, {}),
    "RedisPOD": (tastypy.POD, tastypy.RedisPOD, {"path": "a Redis name has url and name instead"}),
    "RedisTracker": (
        tastypy.ProgressTracker, tastypy.RedisTracker, {"path": "a Redis name has url and name instead"},
    ),
}

#: Constructor differences, per face.
INITS = {
    "SharedPOD": SHARED_INIT, "SharedTracker": SHARED_INIT,
    "RedisPOD": REDIS_INIT,
    "RedisTracker": {**REDIS_INIT, "prefetch": "extra: keys a try_keys() loop claims per round trip"},
}


def _public(cls: type) -> list:
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def _shape(cls: type, name: str) -> str:
    attr = inspect.getattr_static(cls, name)
    return "property" if isinstance(attr, property) else "method" if callable(attr) else "data"


def _params(function) -> list:
    """Names, kinds and defaults of ``function``'s parameters (a bare ``object()`` default: a sentinel)."""
    params = []
    for param in inspect.signature(function).parameters.values():
        default = param.default
        if type(default) is object:
            default = "<sentinel>"
        params.append((param.name, param.kind, default))
    return params


@pytest.mark.parametrize("face", FACES)
def test_every_public_name_of_the_model_is_on_the_face(face):
    model, cls, absent = FACES[face]
    missing = [name for name in _public(model) if name not in absent and not hasattr(cls, name)]
    assert missing == []
    assert [name for name in absent if hasattr(cls, name)] == []  # the list stays true


@pytest.mark.parametrize("face", FACES)
def test_each_name_has_the_same_shape_and_signature(face):
    model, cls, absent = FACES[face]
    for name in _public(model):
        if name in absent:
            continue
        assert _shape(cls, name) == _shape(model, name), name
        if _shape(model, name) == "method":
            assert _params(getattr(cls, name)) == _params(getattr(model, name)), name


@pytest.mark.parametrize("face", FACES)
def test_constructors_differ_only_as_listed(face):
    model, cls, _ = FACES[face]
    ours = {name: value for name, *value in _params(model.__init__)}
    theirs = {name: value for name, *value in _params(cls.__init__)}
    listed = INITS[face]
    assert sorted(set(ours) - set(theirs)) == sorted(n for n, why in listed.items() if why.startswith("absent"))
    assert sorted(set(theirs) - set(ours)) == sorted(n for n, why in listed.items() if why.startswith("extra"))
    shared = [name for name in ours if name in theirs]
    assert [(name, ours[name]) for name in shared] == [(name, theirs[name]) for name in shared]


# -- the async faces, each beside its sync twin ------------------------------------------

#: Names of the sync faces an async face has under another name or not at all: why.
ASYNC_ABSENT = {
    "close": "aclose(): closing may wait (a sync, a server's stop), so it is a coroutine",
    "set": "changes(): a value read is a plain copy, so nested changes are recorded in an async with block",
    "iterkeys": "an alias kept for 0.x code, which has no async face",
    "itervalues": "an alias kept for 0.x code, which has no async face",
    "iteritems": "an alias kept for 0.x code, which has no async face",
}

#: The mapping dunders that may wait, and the coroutine the async faces have for each.
ASYNC_DUNDERS = {
    "__getitem__": "getitem", "__setitem__": "setitem", "__delitem__": "delitem",
    "__contains__": "contains", "__len__": "length",
}  # fmt: skip

#: async face -> its sync twin (whose public names and signatures it has)
ASYNC_TWINS = {
    tastypy.AsyncPOD: tastypy.POD,
    tastypy.AsyncTracker: tastypy.Tracker,
    tastypy.AsyncSharedPOD: tastypy.SharedPOD,
    tastypy.AsyncSharedTracker: tastypy.SharedTracker,
    tastypy.AsyncRedisPOD: tastypy.RedisPOD,
    tastypy.AsyncRedisTracker: tastypy.RedisTracker,
}


@pytest.mark.parametrize("face", ASYNC_TWINS, ids=lambda cls: cls.__name__)
def test_every_public_name_of_the_sync_twin_is_on_the_async_face(face):
    twin = ASYNC_TWINS[face]
    missing = [name for name in _public(twin) if name not in ASYNC_ABSENT and not hasattr(face, name)]
    assert missing == []
    assert [name for name in ASYNC_DUNDERS.values() if not hasattr(face, name)] == []
    assert [name for name in ASYNC_DUNDERS if hasattr(face, name)] == []  # no sync dunder that would block


@pytest.mark.parametrize("face", ASYNC_TWINS, ids=lambda cls: cls.__name__)
def test_each_async_method_is_a_coroutine_or_an_async_iterator_with_the_twins_signature(face):
    twin = ASYNC_TWINS[face]
    names = [name for name in _public(twin) if name not in ASYNC_ABSENT]
    names += [name for name in ASYNC_DUNDERS if hasattr(twin, name)]
    for name in names:
        ours = ASYNC_DUNDERS.get(name, name)
        assert _shape(face, ours) == _shape(twin, name), name
        if _shape(twin, name) != "method":
            continue
        method = getattr(face, ours)
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method) or (
            "Async" in str(inspect.signature(method).return_annotation)
        ), f"{face.__name__}.{ours} neither a coroutine nor an async iterator"
        assert _params(method) == _params(getattr(twin, name)), name
