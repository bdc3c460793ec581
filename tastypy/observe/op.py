"""``Op``: one recorded mutation, the single mutation language of tastypy."""

from __future__ import annotations

from typing import Any, NamedTuple


class Op(NamedTuple):
    """A mutation: call ``method`` on the container found at ``path``.

    ``path`` starts at the top-level key (``('k', 'tags', 3)``); an empty path
    means the mapping itself (``.set['k'] = v``). ``args`` and ``kwargs`` are
    already in JSON normal form (``kwargs`` as a tuple of pairs, so that an
    ``Op`` stays hashable-free, small and picklable). The in-place operators
    (``__iadd__`` …) act on the value at ``path`` and store the result back
    there, so they work on numbers and strings too.
    """

    path: tuple[Any, ...]
    method: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> Any:
        """The top-level key this operation changes."""
        return self.path[0] if self.path else self.args[0]
