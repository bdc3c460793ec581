"""Apply an ``Op`` to a mapping: how a server replays what a client recorded."""

from __future__ import annotations

import operator
from typing import Any

from tastypy.observe.op import Op
from tastypy.observe.proxy import MUTATORS
from tastypy.observe.recorder import INPLACE

_OPERATORS = {name: getattr(operator, name.strip("_")) for name in INPLACE}
_ALLOWED = set(MUTATORS[dict]) | set(MUTATORS[list])


def apply(op: Op, root: Any) -> Any:
    """Carry out ``op`` on ``root`` (a POD, or any mapping) and return the result.

    Navigation goes through ``root[...]``, so on a POD the change is observed
    like any other (dirty marks, tracker counts). Only mutating methods of
    ``dict``, ``list`` and the in-place operators are allowed.
    """
    path, method, args, kwargs = op
    if method in _OPERATORS:
        if not path:
            raise TypeError(f"{method} needs a key to act on")
        parent = _walk(root, path[:-1])
        parent[path[-1]] = _OPERATORS[method](parent[path[-1]], *args)
        return None
    if method not in _ALLOWED:
        raise TypeError(f"{method}() is not a mutation tastypy records")
    return getattr(_walk(root, path), method)(*args, **dict(kwargs))


def _walk(root: Any, path: tuple) -> Any:
    for step in path:
        root = root[step]
    return root
