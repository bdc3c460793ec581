"""Parity of the faces: what works on a POD or Tracker exists on every face of it.

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
