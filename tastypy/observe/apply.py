"""Apply an ``Op`` to a mapping: how a server replays what a client recorded."""

from __future__ import annotations

import operator
from typing import Any

from tastypy.observe.normal import copy
from tastypy.observe.op import Op
from tastypy.observe.proxy import MUTATORS, WRITABLE, unwrap
from tastypy.observe.recorder import INPLACE

_OPERATORS = {name: getattr(operator, name.strip("_")) for name in INPLACE}
_ALLOWED = set(MUTATORS[dict]) | set(MUTATORS[list])


def apply(op: Op, root: Any) -> Any:
    """Carry out ``op`` on ``root`` (a POD, or any mapping) and return the result.

    Navigation goes through ``root[...]``, so on a POD the change is observed
    like any other (dirty marks, tracker counts). On a plain ``dict`` root the
    values below the top level change exactly as through a proxy (normal form,
    no shared objects). Only mutating methods of ``dict``, ``list`` and the
    in-place operators are allowed. ``op`` itself is never changed, so it can
    be applied again.
    """
    path, method, given, given_kwargs = op
    inplace = _OPERATORS.get(method)
    if inplace is not None:  # the hot case (a shared counter): no generic argument copying
        if not path:
            raise TypeError(f"{method} needs a key to act on")
        parent = root
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        value = parent[last]
        if type(value) in WRITABLE:
            value = _observed(value, path, root)
        result = inplace(value, *map(copy, given))
        if result is not value:  # numbers, strings: store the new value
            parent[last] = result
        return None
    # The Op's objects must not become part of root: later changes to root
    # would change the Op too.
    args = tuple(copy(a) for a in given)
    kwargs = {k: copy(v) for k, v in given_kwargs}
    if method not in _ALLOWED:
        raise TypeError(f"{method}() is not a mutation tastypy records")
    target = _follow(root, path)
    if not path:
        return getattr(target, method)(*args, **kwargs)
    observed = _observed(target, path, root)
    result = getattr(observed, method)(*args, **kwargs)
    return result if observed is target else unwrap(result)


def _follow(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        root = root[step]
    return root


def _observed(value: Any, path: tuple[Any, ...], root: Any) -> Any:
    """``value``, a plain container at ``path`` in ``root``, behind a proxy.

    A POD hands out proxies already; plain data gets one that reports to
    nobody, for its normalizing and copying mutators (``*=`` on a plain list
    would repeat references, ``d[1] = v`` would keep an int key).
    """
    proxy_class = WRITABLE.get(type(value))
    if proxy_class is None:
        return value
    return proxy_class(value, path, _ignore, root[path[0]])


def _ignore(op: Op, root: Any) -> None:
    """The owner of a proxy over plain data: nothing to tell."""
