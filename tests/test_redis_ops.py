"""The Lua Op engine against Python's ``apply``, on a real redis-server.

For any JSON value and any Op, the engine either gives the same JSON text,
the same result and the same error as ``observe.apply`` followed by
``observe.encode``, or asks for the Python path (``FALLBACK``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import Owner, json_scalars, json_values, mutations, perform

from tastypy.observe import Op, Recorder, encode
from tastypy.records import bits_of
from tastypy.redis import ops

redis = pytest.importorskip("redis")

KEY = "value"
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def client(redis_server: Any) -> Any:
    with redis.Redis.from_url(redis_server.url) as client:
        yield client


@pytest.fixture
def pod(redis_url: str) -> Any:
    """A RedisPOD, to apply Ops by the path users take (Lua engine, else Python and compare-and-set)."""
    from tastypy.redis import RedisPOD

    made = RedisPOD(redis_url, "ops")
    yield made
    made.close()


def stored(pod: Any) -> str:
    """The text the RedisPOD holds for ``KEY``."""
    with redis.Redis.from_url(pod.url, decode_responses=True) as raw:
        text: str = raw.hget("tastypy:{ops}:values", encode(KEY))
    return text


def run_lua(client: Any, text: str, op: Op) -> tuple:
    """What the engine does: ('ok', new text, result), ('error', text, exc) or ('fallback',)."""
    client.set(KEY, text.encode())
    reply = client.eval(ops.APPLY_SCRIPT, 1, KEY, *ops.op_args(op))
    stored = client.get(KEY).decode()
    if reply[0] == 1:
        return "ok", stored, ops.decode_result(op, reply[1])
    if reply[1] == ops.FALLBACK.encode():
        assert stored == text
        return ("fallback",)
    return "error", stored, ops.error(reply[1], reply[2])


def run_python(text: str, op: Op) -> tuple:
    try:
        new, result = ops.apply_text(text, op)
    except Exception as exc:  # noqa: BLE001 -- any error apply raises is part of the contract
        return "error", text, exc
    return "ok", new, result


def same(lua: tuple, python: tuple) -> bool:
    """Equal texts and results (by type and JSON text: ``1 == 1.0 == True`` in Python)."""
    if lua[0] != python[0] or lua[1] != python[1]:
        return False
    if lua[0] == "error":
        return type(lua[2]) is type(python[2]) and lua[2].args == python[2].args
    return type(lua[2]) is type(python[2]) and encode(lua[2]) == encode(python[2])


def check(client: Any, text: str, op: Op) -> tuple:
    lua = run_lua(client, text, op)
    python = run_python(text, op)
    if lua[0] != "fallback":
        assert same(lua, python), (text, op, lua, python)
    return lua


def recorded(m: Any) -> Op | None:
    """The ``Op`` the ``.set`` recorder sends for mutation ``m`` of ``pod[KEY]``."""
    sent: list = []
    try:
        perform(m, Recorder(sent.append)[KEY])
    except TypeError:  # sort(key=...): a function is no JSON
        return None
    return sent[0]


def proxied(value: Any, m: Any) -> list:
    """The ``Op`` s a POD's proxy reports for ``m`` (none when it failed or changed nothing)."""
    owner = Owner({KEY: json.loads(encode(value))})
    try:
        perform(m, owner[KEY])
    except Exception:  # noqa: BLE001 -- a proxy that refused reports nothing
        return []
    return owner.ops


@st.composite
def bad_paths(draw: Any, value: Any) -> Op:
    """An Op whose path may miss: an absent key, an index out of range, a scalar."""
    path: tuple = ()
    node = value
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        where = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path, node = path + (where,), node[where]
    step = draw(st.text(max_size=2) | st.integers(-6, 6) | st.none() | st.booleans())
    method, args = draw(st.sampled_from([
        ("append", (1,)), ("__setitem__", ("a", 1)), ("pop", ()), ("__iadd__", (1,)),
        ("__delitem__", (0,)), ("clear", ()),
    ]))
    return Op((KEY,) + path + (step,), method, args)


@SETTINGS
@given(st.data())
def test_engine_matches_python_apply(client: Any, data: Any) -> None:
    value = data.draw(json_values(max_leaves=10).filter(lambda v: isinstance(v, (dict, list))))
    for _ in range(3):
        text = encode(value)
        m = data.draw(mutations(value))
        candidates = [recorded(m), *proxied(value, m), data.draw(bad_paths(value))]
        for op in candidates:
            if op is not None:
                check(client, text, op)
        # Carry on from the new value (the engine's splices must stay valid input).
        op = next((o for o in candidates[:-1] if o is not None), None)
        if op is not None and run_python(text, op)[0] == "ok":
            value = json.loads(ops.apply_text(text, op)[0])


NUMBERS = st.integers() | st.integers(-(2**54), 2**54) | st.sampled_from(
    [2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 0, 1, -1]
)


def _repeats(value: Any, arg: Any) -> int:
    """How many times ``value * arg`` repeats a str or list (0 when it is not a repetition)."""
    for seq, count in ((value, arg), (arg, value)):
        if isinstance(seq, (str, list)) and type(count) is int:
            return abs(count)
    return 0


@SETTINGS
@given(
    st.one_of(NUMBERS, json_scalars(), st.lists(json_scalars(), max_size=2)),
    st.sampled_from(["__iadd__", "__isub__", "__ior__", "__imul__"]),
    st.one_of(NUMBERS, json_scalars(), st.lists(json_scalars(), max_size=2)),
)
def test_inplace_operators_match_python(client: Any, value: Any, method: str, arg: Any) -> None:
    # A sequence repeated 2**40 times is a real allocation (20 GB were seen): keep repeats small.
    assume(not (method == "__imul__" and _repeats(value, arg) > 1000))
    op = Op((KEY, "n"), method, (arg,))
    lua = check(client, encode({"n": value, "z": []}), op)
    both_small = all(type(x) is int and abs(x) < 2**53 for x in (value, arg))
    if method in ("__iadd__", "__isub__") and both_small:
        total = value + arg if method == "__iadd__" else value - arg
        assert lua[0] == ("ok" if abs(total) < 2**53 else "fallback")


@pytest.mark.parametrize(
    "value, op, text, result",
    [
        ({"a": [], "b": {}}, Op((KEY, "a"), "append", ([],)), '{"a":[[]],"b":{}}', None),
        ({"z": 1, "a": 2}, Op((KEY,), "__setitem__", ("m", {})), '{"z":1,"a":2,"m":{}}', None),
        ({"z": 1, "a": 2}, Op((KEY,), "__setitem__", ("z", [])), '{"z":[],"a":2}', None),
        ({"n": 1234567890123456789}, Op((KEY,), "__setitem__", ("m", 1)),
         '{"n":1234567890123456789,"m":1}', None),
        ([1234567890123456789], Op((KEY,), "pop", ()), "[]", 1234567890123456789),
        ({"s": 'a"\\\u0000'}, Op((KEY, "s"), "__iadd__", ("\U0001d11e\n",)),
         '{"s":"a\\"\\\\\\u0000\U0001d11e\\n"}', None),
        ({"n": 41}, Op((KEY, "n"), "__iadd__", (1,)), '{"n":42}', None),
        ({"n": -5}, Op((KEY, "n"), "__isub__", (-10,)), '{"n":5}', None),
        ([0, 1, 2, 3], Op((KEY,), "__delitem__", (slice(1, -1),)), "[0,3]", None),
        ([0, 1, 2, 3], Op((KEY,), "__setitem__", (slice(None), [3, 2])), "[3,2]", None),
        ({"a": 1}, Op((KEY,), "setdefault", (1, [])), '{"a":1,"1":[]}', []),
        ({"a": 1}, Op((KEY,), "pop", ("b", None)), '{"a":1}', None),
        ({"a": 1, "b": 2}, Op((KEY,), "popitem", ()), '{"a":1}', ("b", 2)),
        ({"a": 1}, Op((KEY,), "update", ({"b": [], "a": 0},), (("c", {}),)),
         '{"a":0,"b":[],"c":{}}', None),
    ],
)
def test_hot_methods_run_in_lua(client: Any, value: Any, op: Op, text: str, result: Any) -> None:
    lua = check(client, encode(value), op)
    assert lua[0] == "ok"
    assert lua[1:] == (text, result)


@pytest.mark.parametrize(
    "value, op, error",
    [
        ({"a": 1}, Op((KEY, "x"), "append", (1,)), KeyError("x")),
        ({"a": 1}, Op((KEY, 1), "append", (1,)), KeyError(1)),
        ({"a": 1}, Op((KEY,), "__delitem__", ("b",)), KeyError("b")),
        ({}, Op((KEY,), "popitem", ()), KeyError("popitem(): dictionary is empty")),
        ([], Op((KEY, 0), "append", (1,)), IndexError("list index out of range")),
        ([], Op((KEY,), "pop", ()), IndexError("pop from empty list")),
        ([1], Op((KEY,), "pop", (-2,)), IndexError("pop index out of range")),
        ([1], Op((KEY,), "__setitem__", (1, 0)), IndexError("list assignment index out of range")),
        ([1], Op((KEY,), "__delitem__", (-2,)), IndexError("list assignment index out of range")),
    ],
)
def test_errors_are_pythons(client: Any, value: Any, op: Op, error: Exception) -> None:
    lua = check(client, encode(value), op)
    assert lua[0] == "error"
    assert type(lua[2]) is type(error) and lua[2].args == error.args


@pytest.mark.parametrize(
    "value, op",
    [
        ({"n": 2**53 - 1}, Op((KEY, "n"), "__iadd__", (1,))),
        ({"n": 1234567890123456789}, Op((KEY, "n"), "__iadd__", (1,))),
        ({"n": 1.5}, Op((KEY, "n"), "__iadd__", (1,))),
        ({"n": True}, Op((KEY, "n"), "__iadd__", (1,))),
        ([1, 1.0, True], Op((KEY,), "remove", (True,))),
        ([2, 1], Op((KEY,), "sort", ())),
        ([2, 1], Op((KEY,), "__imul__", (2,))),
        ({"a": 1}, Op((KEY,), "append", (1,))),
        ([1], Op((KEY, "a"), "append", (1,))),
        ([1], Op((KEY,), "__setitem__", (slice(None, None, -1), [2]))),
        ([1], Op((KEY,), "__setitem__", (slice(0, 1), "ab"))),
        ([1], Op((KEY,), "append", ({1, 2},))),
        ([1], Op((KEY,), "append", (slice(1),))),
        ({}, Op((KEY,), "__setitem__", ("a", slice(1)))),
        ({}, Op((KEY,), "update", (), (("a", slice(1)),))),
    ],
)
def test_what_only_python_decides_falls_back(client: Any, pod: Any, value: Any, op: Op) -> None:
    assert run_lua(client, encode(value), op) == ("fallback",)
    pod[KEY] = value
    try:
        expected: Any = ops.apply_text(encode(value), op)
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)):
            pod._link.call("apply", op)  # the RedisPOD's own path: engine, then Python
        assert stored(pod) == encode(value)
        return
    assert pod._link.call("apply", op) == expected[1]
    assert stored(pod) == expected[0]


def test_int_past_2_53_stays_exact_through_python(pod: Any) -> None:
    pod[KEY] = {"n": 9007199254740991}
    for _ in range(3):
        pod.set[KEY]["n"] += 1
    assert stored(pod) == '{"n":9007199254740994}'
    pod.set[KEY]["n"] -= 3
    assert stored(pod) == '{"n":9007199254740991}'


def test_op_args_refuse_ops_of_the_mapping_itself() -> None:
    with pytest.raises(ValueError, match="host"):
        ops.op_args(Op((), "__setitem__", ("k", 1)))


# -- record bits -----------------------------------------------------------------

BITS_SCRIPT = ops.LUA_LIBRARY + """
local bits, tries = tastypy_record_bits(ARGV[1])
if not bits then
  return false
end
return {bits, tries}
"""


def record_bits(client: Any, text: str) -> Any:
    return client.eval(BITS_SCRIPT, 0, text.encode())


records = st.fixed_dictionaries(
    {"_done": st.booleans(), "_tries": st.integers(0, 2**40), "_aborted": st.booleans()},
    optional={"x": json_values(max_leaves=4), "_y": st.text(max_size=3)},
)


@SETTINGS
@given(records, st.randoms(use_true_random=False))
def test_record_bits_match_bits_of(client: Any, record: dict, rnd: Any) -> None:
    items = list(record.items())
    rnd.shuffle(items)
    record = dict(items)
    assert record_bits(client, encode(record)) == [bits_of(record), record["_tries"]]


@pytest.mark.parametrize(
    "record",
    [
        {}, [], {"_done": True, "_tries": 0}, {"_done": 1, "_tries": 0, "_aborted": False},
        {"_done": True, "_tries": -1, "_aborted": False},
        {"_done": True, "_tries": 1.0, "_aborted": False},
        {"_done": False, "_tries": 0, "_aborted": None},
    ],
)
def test_record_bits_refuse_a_bad_record(client: Any, record: Any) -> None:
    assert record_bits(client, encode(record)) is None
