"""Apply an ``Op`` to a value's JSON text inside Redis, atomically.

The Lua engine (``lua/apply.lua``) works on the stored text itself and never
decodes it (Redis's ``cjson`` would turn ``[]`` into ``{}``, reorder keys and
round big ints). What only Python can decide (float or big-int arithmetic,
``remove``, ``sort``, type errors...) comes back as ``FALLBACK``: the host
then reads the text, applies the Op in Python and writes the result back
if the text has not changed meanwhile (``mapping.MappingOps._apply``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tastypy.observe import Op, apply, encode

#: The engine as a function library holds it: ``tastypy_load()`` defines
#: the locals ``LUA_LIBRARY`` names (a library runs it at its first call).
LUA_ENGINE = (Path(__file__).parent / "lua" / "apply.lua").read_text(encoding="utf-8")

#: The engine, for a script to put before its own body. It defines two
#: locals: ``tastypy_apply(text, argv, first)`` -> ``new_text,
#: result_text`` or ``nil, kind, detail``, and ``tastypy_record_bits(text)``
#: -> ``bits, tries`` (done 1, tried 2, aborted 4) or ``nil``.
LUA_LIBRARY = LUA_ENGINE + "tastypy_load()\n"

#: ``kind`` of a Lua reply that asks for the Python path.
FALLBACK = "fallback"

#: Applies ``op_args`` (as ``ARGV``) to the JSON text in string key ``KEYS[1]``;
#: replies ``{1, result_text}`` or ``{0, kind, detail}``. For tests and benchmarks.
APPLY_SCRIPT = LUA_LIBRARY + """
local text = redis.call('GET', KEYS[1])
if not text then
  return redis.error_reply('no value at ' .. KEYS[1])
end
local new, result, detail = tastypy_apply(text, ARGV, 1)
if not new then
  return {0, result, detail}
end
if new ~= text then
  redis.call('SET', KEYS[1], new)
end
return {1, result}
"""

_ERRORS = {"KeyError": KeyError, "IndexError": IndexError}

# A method name the engine does not know: it answers FALLBACK at once.
_PYTHON_ONLY = [b"?", b"0", b"0", b"0"]


def op_args(op: Op) -> list[bytes]:
    """``op`` as script arguments (everything but ``op.path[0]``, the host's business).

    Layout: method, number of path steps, the steps, number of args, the
    args, number of kwargs, then name and value of each; every step, arg and
    kwarg as its JSON text (a slice as ``S<start>:<stop>:<step>``). An op the
    engine cannot read (an argument that is no JSON) becomes one it answers
    with ``FALLBACK``.
    """
    if not op.path:
        raise ValueError(f"{op.method}() of the mapping itself is the host's, not the engine's")
    try:
        steps = [_text(step) for step in op.path[1:]]
        args = [_text(arg) for arg in op.args]
        kwargs = [_text(part) for pair in op.kwargs for part in pair]
    except (TypeError, ValueError):  # UnicodeEncodeError (lone surrogates) is a ValueError
        return list(_PYTHON_ONLY)
    return [
        op.method.encode(), b"%d" % len(steps), *steps,
        b"%d" % len(args), *args, b"%d" % len(op.kwargs), *kwargs,
    ]


def _text(value: Any) -> bytes:
    if type(value) is slice:
        bounds = (value.start, value.stop, value.step)
        return b"S" + b":".join(b"" if x is None else _text(x) for x in bounds)
    return encode(value).encode()


def error(kind: bytes | str, detail: bytes | str) -> Exception:
    """The exception Python's ``apply`` raises, from the engine's ``kind`` and ``detail``."""
    kind = kind.decode() if isinstance(kind, bytes) else kind
    return _ERRORS[kind](json.loads(detail))


def decode_result(op: Op, text: bytes | str) -> Any:
    """The result of ``op`` as ``apply`` returns it, from its JSON text."""
    result = json.loads(text)
    return tuple(result) if op.method == "popitem" else result


def apply_text(text: bytes | str, op: Op) -> tuple[str, Any]:
    """The Python path: ``op`` applied to the JSON text of ``op.path[0]``'s value.

    Returns the new text and the result as ``apply`` gives them; raises what
    ``apply`` raises (then nothing is to be written).
    """
    root = {op.path[0]: json.loads(text)}
    result = apply(op, root)
    return encode(root[op.path[0]]), result
