"""The ``.set`` recorder: write a mutation as code, get one ``Op``.

``shared.set['a']['n'] += 1`` reads nothing locally: indexing builds a path,
and the final call, assignment or augmented assignment hands one ``Op`` to
``emit`` (which a SharedPOD sends to its server, where read, modify and write
happen together).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tastypy.keys import check_key
from tastypy.observe.normal import format_path, normalize
from tastypy.observe.op import Op

_new = object.__new__
#: ``Op`` without ``NamedTuple.__new__``'s Python frame.
_new_op = tuple.__new__

#: Marker returned by augmented assignment: Python then assigns it back
#: (``parent['n'] = <marker>``), which must not record a second operation.
APPLIED = type("Applied", (), {"__repr__": lambda self: "<applied>"})()

INPLACE = (
    "__iadd__ __isub__ __imul__ __imatmul__ __itruediv__ __ifloordiv__ __imod__ "
    "__ipow__ __ilshift__ __irshift__ __iand__ __ixor__ __ior__"
).split()


class Recorder:
    """A path into a remote mapping; mutating it emits an ``Op``."""

    __slots__ = ("_emit", "_path")

    def __init__(self, emit: Callable[[Op], Any], path: tuple[Any, ...] = ()) -> None:
        self._emit = emit
        self._path = path

    def __repr__(self) -> str:
        return f"<recorder at {format_path(self._path) or 'top level'}>"

    def __getitem__(self, key: Any) -> Recorder:
        path = self._path
        if not path:
            check_key(key)
        # Without __init__'s frame: two are made per ``.set['k']['n'] += 1``.
        step = _new(Recorder)
        step._emit = self._emit
        step._path = path + (key,)
        return step

    def __setitem__(self, key: Any, value: Any) -> Any:
        if value is APPLIED:
            return None
        if not self._path:
            check_key(key)
        return self._emit(Op(self._path, "__setitem__", (key, _arg(value, self._path, key))))

    def __delitem__(self, key: Any) -> Any:
        if not self._path:
            check_key(key)
        return self._emit(Op(self._path, "__delitem__", (key,)))

    if TYPE_CHECKING:  # set below, for each name of INPLACE

        def __iadd__(self, other: Any) -> Any: ...

        __isub__ = __imul__ = __imatmul__ = __itruediv__ = __ifloordiv__ = __imod__ = __iadd__
        __ipow__ = __ilshift__ = __irshift__ = __iand__ = __ixor__ = __ior__ = __iadd__

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        path = self._path

        def call(*args: Any, **kwargs: Any) -> Any:
            if not path:
                return self._emit(Op(path, name, *_top_args(name, args, kwargs)))
            return self._emit(
                Op(
                    path,
                    name,
                    tuple(_arg(a, path, i) for i, a in enumerate(args)),
                    tuple((k, _arg(v, path, k)) for k, v in kwargs.items()),
                )
            )

        return call


def _top_args(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    """``args`` and ``kwargs`` of a method of the mapping itself, for an ``Op``.

    Its keys are top-level keys and keep their exact type (``1``, ``(1, 'a')``);
    only the values take the JSON normal form.
    """
    if name == "update":
        given = dict(*args)
        if given:
            args = ({check_key(k): normalize(v, (k,)) for k, v in given.items()},)
    elif args:  # pop(key, default), setdefault(key, default)
        key = check_key(args[0])
        args = (key,) + tuple(normalize(a, (key,)) for a in args[1:])
    return args, tuple((k, normalize(v, (k,))) for k, v in kwargs.items())


def _arg(value: Any, path: tuple[Any, ...], where: Any) -> Any:
    if type(value) is slice:
        return value
    return normalize(value, path + (where,))


def _inplace(method: str) -> Callable[[Recorder, Any], Any]:
    def record(self: Recorder, other: Any) -> Any:
        path = self._path
        self._emit(_new_op(Op, (path, method, (_arg(other, path, method),), ())))
        return APPLIED

    record.__name__ = method
    return record


for _method in INPLACE:
    setattr(Recorder, _method, _inplace(_method))
