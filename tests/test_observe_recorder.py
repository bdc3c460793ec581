"""The ``.set`` recorder emits one ``Op`` per mutation; ``apply`` replays it exactly."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from strategies import Owner, to_json
from tastypy.observe import APPLIED, Op, Recorder, apply, unwrap

INITIAL = {
    "a": {"n": 7, "f": 2.5, "s": "ab", "l": [3, 1, 2], "d": {"x": 1}, "b": True},
    "l": [1, 2, 3],
    "k": "old",
    (1, "t"): {"deep": [[0]]},
    5: [0],
}


def _iadd(r):
    r["a"]["n"] += 1


def _isub(r):
    r["a"]["n"] -= 10


def _imul(r):
    r["a"]["n"] *= 3


def _itruediv(r):
    r["a"]["n"] /= 2


def _ifloordiv(r):
    r["a"]["n"] //= 2


def _imod(r):
    r["a"]["n"] %= 4


def _ipow(r):
    r["a"]["n"] **= 2


def _ilshift(r):
    r["a"]["n"] <<= 2


def _irshift(r):
    r["a"]["n"] >>= 1


def _iand(r):
    r["a"]["n"] &= 3


def _ior(r):
    r["a"]["n"] |= 8


def _ixor(r):
    r["a"]["n"] ^= 5


def _float_iadd(r):
    r["a"]["f"] += 0.25


def _bool_iadd(r):
    r["a"]["b"] += 1


def _str_iadd(r):
    r["a"]["s"] += "cd"


def _str_imul(r):
    r["a"]["s"] *= 3


def _list_iadd(r):
    r["a"]["l"] += (4, (5,))


def _list_imul(r):
    r["a"]["l"] *= 2


def _dict_ior(r):
    r["a"]["d"] |= {"y": (2,)}


def _top_level_iadd(r):
    r[5] += [1]


def _slice_all(r):
    r["l"][:] = [4]


def _slice_part(r):
    r["l"][1:] = (7, 8, 9)


def _set_key(r):
    r["k"] = {"v": (1, 2)}


def _set_new_tuple_key(r):
    r[("n", 2)] = [3]


def _set_nested(r):
    r["a"]["l"][0] = [9]


def _set_deep(r):
    r[(1, "t")]["deep"][0][0] = "x"


def _del_key(r):
    del r["k"]


def _del_nested(r):
    del r["a"]["l"][0]


def _del_slice(r):
    del r["l"][::2]


# Each is one mutation written once: run on a Recorder it emits Ops; run on a
# plain dict it is the mutation itself. ``mapping.*`` change top-level keys.
FORMS = {
    "number.__iadd__": _iadd,
    "number.__isub__": _isub,
    "number.__imul__": _imul,
    "number.__itruediv__": _itruediv,
    "number.__ifloordiv__": _ifloordiv,
    "number.__imod__": _imod,
    "number.__ipow__": _ipow,
    "number.__ilshift__": _ilshift,
    "number.__irshift__": _irshift,
    "number.__iand__": _iand,
    "number.__ior__": _ior,
    "number.__ixor__": _ixor,
    "float.__iadd__": _float_iadd,
    "bool.__iadd__": _bool_iadd,
    "str.__iadd__": _str_iadd,
    "str.__imul__": _str_imul,
    "list.__iadd__": _list_iadd,
    "list.__imul__": _list_imul,
    "dict.__ior__": _dict_ior,
    "list.__iadd__top_level": _top_level_iadd,
    "list.append": lambda r: r["a"]["l"].append({"x": (1,)}),
    "list.extend": lambda r: r["a"]["l"].extend([4, 5]),
    "list.insert": lambda r: r["a"]["l"].insert(1, 0),
    "list.remove": lambda r: r["a"]["l"].remove(1),
    "list.pop": lambda r: r["a"]["l"].pop(),
    "list.pop_index": lambda r: r["a"]["l"].pop(0),
    "list.clear": lambda r: r["a"]["l"].clear(),
    "list.sort": lambda r: r["a"]["l"].sort(),
    "list.sort_reverse": lambda r: r["a"]["l"].sort(reverse=True),
    "list.reverse": lambda r: r["a"]["l"].reverse(),
    "list.__setitem__slice_all": _slice_all,
    "list.__setitem__slice": _slice_part,
    "list.__setitem__index": _set_nested,
    "list.__setitem__deep": _set_deep,
    "list.__delitem__index": _del_nested,
    "list.__delitem__slice": _del_slice,
    "mapping.__setitem__": _set_key,
    "mapping.__setitem__tuple_key": _set_new_tuple_key,
    "mapping.__delitem__": _del_key,
    "dict.update": lambda r: r["a"].update({"n": 0, "new": [1]}, kw=(2,)),
    "dict.update_pairs": lambda r: r["a"].update([("n", 1)]),
    "dict.pop": lambda r: r["a"].pop("n"),
    "dict.pop_default": lambda r: r["a"].pop("zz", None),
    "dict.popitem": lambda r: r["a"].popitem(),
    "dict.setdefault": lambda r: r["a"].setdefault("z", []),
    "dict.clear": lambda r: r["a"].clear(),
    "mapping.update": lambda r: r.update({"k": 1, 9: (2,), ("u", 1): {}}, kw=3),
    "mapping.pop": lambda r: r.pop((1, "t")),
    "mapping.pop_int_key": lambda r: r.pop(5),
    "mapping.setdefault": lambda r: r.setdefault(("s", (1,)), (0,)),
    "mapping.clear": lambda r: r.clear(),
}


def _record(form):
    ops = []
    form(Recorder(ops.append))
    return ops


@pytest.mark.parametrize("name", sorted(FORMS))
def test_each_set_form_emits_exactly_one_op(name):
    ops = _record(FORMS[name])
    assert len(ops) == 1
    assert type(ops[0]) is Op


@pytest.mark.parametrize("name", sorted(FORMS))
def test_applying_the_op_on_a_plain_root_equals_doing_the_mutation(name):
    (op,) = _record(FORMS[name])
    direct = copy.deepcopy(INITIAL)
    FORMS[name](direct)
    replayed = copy.deepcopy(INITIAL)
    apply(op, replayed)
    assert replayed.keys() == direct.keys()
    for key in direct:  # top-level keys keep their type; values take the JSON form
        assert json.dumps(replayed[key]) == json.dumps(to_json(direct[key]))


# ``mapping.*`` act on the mapping itself: a POD's own methods, not its proxies.
@pytest.mark.parametrize("name", sorted(n for n in FORMS if not n.startswith("mapping.")))
def test_applying_the_op_through_proxies_reports_the_same_change(name):
    # What a server does with a POD root: the change goes through its proxies.
    (op,) = _record(FORMS[name])
    owner = Owner(copy.deepcopy(INITIAL))
    apply(op, owner)
    direct = copy.deepcopy(INITIAL)
    FORMS[name](direct)
    assert owner.data == to_json_values(direct)
    assert bool(owner.ops) == (direct != INITIAL)
    replica = copy.deepcopy(INITIAL)
    for reported in owner.ops:
        apply(reported, replica)
    assert replica == owner.data


def to_json_values(data):
    return {key: to_json(value) for key, value in data.items()}


def test_the_ops_of_the_set_forms():
    assert _record(_iadd) == [Op(("a", "n"), "__iadd__", (1,))]
    assert _record(_slice_all) == [Op(("l",), "__setitem__", (slice(None), [4]))]
    assert _record(_set_key) == [Op((), "__setitem__", ("k", {"v": [1, 2]}))]
    assert _record(_del_key) == [Op((), "__delitem__", ("k",))]
    assert _record(FORMS["list.append"]) == [Op(("a", "l"), "append", ({"x": [1]},))]
    assert _record(FORMS["list.sort_reverse"]) == [
        Op(("a", "l"), "sort", (), (("reverse", True),))
    ]
    assert _record(FORMS["dict.update"]) == [
        Op(("a",), "update", ({"n": 0, "new": [1]},), (("kw", [2]),))
    ]
    assert _record(_str_iadd) == [Op(("a", "s"), "__iadd__", ("cd",))]


def test_top_level_keys_in_method_arguments_keep_their_type():
    assert _record(FORMS["mapping.update"]) == [
        Op((), "update", ({"k": 1, 9: [2], ("u", 1): {}},), (("kw", 3),))
    ]
    assert _record(FORMS["mapping.pop"]) == [Op((), "pop", ((1, "t"),))]
    assert _record(FORMS["mapping.setdefault"]) == [
        Op((), "setdefault", (("s", (1,)), [0]))
    ]
    assert _record(_set_new_tuple_key) == [Op((), "__setitem__", (("n", 2), [3]))]


def test_the_recorder_refuses_bad_data_and_bad_top_level_keys_at_once():
    ops = []
    r = Recorder(ops.append)
    with pytest.raises(TypeError, match=r"value at \['a'\]\['l'\]\[0\]\[1\]: set"):
        r["a"]["l"].append([1, {2}])
    with pytest.raises(ValueError, match="nan"):
        r["a"]["n"] += float("nan")
    with pytest.raises(TypeError, match=r"value at \['k'\]: set"):
        r["k"] = {1}
    with pytest.raises(TypeError, match="float"):
        r.pop(1.5)
    with pytest.raises(TypeError, match="list"):
        r.update({"ok": 1, (1, [2]): 0})
    assert ops == []


def test_augmented_assignment_does_not_record_the_assignment_back():
    ops = []
    r = Recorder(ops.append)
    item = r["a"]
    item["n"] += 1  # Python then runs item['n'] = <result>, which must stay silent
    item["n"] = APPLIED
    assert len(ops) == 1
    assert repr(APPLIED) == "<applied>"


def test_the_recorder_returns_what_emit_returns():
    r = Recorder(lambda op: ("done", op.method))
    assert r["a"]["l"].pop() == ("done", "pop")
    assert r["a"].setdefault("x", 1) == ("done", "setdefault")


def test_the_recorder_names_its_path_and_hides_private_names():
    r = Recorder(lambda op: None)
    assert repr(r["a"][0]) == "<recorder at ['a'][0]>"
    assert repr(r) == "<recorder at top level>"
    with pytest.raises(AttributeError):
        r["a"]._private
    with pytest.raises(AttributeError):
        r.__deepcopy__


@pytest.mark.parametrize(
    "method", ["__class__", "copy", "__init__", "__getitem__", "get", "keys", "mark_dirty",
               "__reduce__", "index", "__setattr__", "sync"]
)
def test_apply_refuses_a_method_that_is_not_a_mutation(method):
    root = copy.deepcopy(INITIAL)
    with pytest.raises(TypeError, match="not a mutation"):
        apply(Op(("a",), method, ()), root)
    with pytest.raises(TypeError, match="not a mutation"):
        apply(Op((), method, ()), root)
    assert root == INITIAL


def test_apply_refuses_an_in_place_operator_without_a_key():
    root = {"n": 1}
    with pytest.raises(TypeError, match="needs a key"):
        apply(Op((), "__iadd__", (1,)), root)
    assert root == {"n": 1}


def test_apply_returns_what_the_method_returns_as_plain_data():
    root = copy.deepcopy(INITIAL)
    assert apply(Op(("a", "l"), "pop", (0,)), root) == 3
    result = apply(Op(("a",), "setdefault", ("z", [1])), root)
    assert result == [1] and type(result) is list
    assert result is root["a"]["z"]
    assert apply(Op(("a", "l"), "append", (0,)), root) is None


def test_apply_on_a_plain_root_gives_values_the_json_form():
    root = {"a": {}, "l": [[1]]}
    apply(Op(("a",), "__setitem__", (1, (2,))), root)
    apply(Op(("a",), "update", ({None: 0},)), root)
    apply(Op(("l",), "__imul__", (2,)), root)
    assert root == {"a": {"1": [2], "null": 0}, "l": [[1], [1]]}
    assert root["l"][0] is not root["l"][1]  # ``*=`` did not repeat one list


def test_apply_never_hands_the_ops_own_objects_to_the_root():
    ops = [
        Op((), "__setitem__", ("k", {"l": [1]})),
        Op(("k", "l"), "append", ([2],)),
        Op(("k",), "update", ({"m": [3]},)),
        Op(("k", "l"), "__iadd__", ([[4]],)),
        Op((), "update", ({"u": [5]},)),
    ]
    frozen = pickle.dumps(ops)
    first, second = {}, {}
    for op in ops:
        apply(op, first)
    for container in (first["k"]["l"], first["k"]["l"][1], first["k"]["m"], first["u"]):
        container.append("changed")
    assert pickle.dumps(ops) == frozen
    for op in ops:
        apply(op, second)
    assert second == {"k": {"l": [1, [2], [4]], "m": [3]}, "u": [5]}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_an_op_survives_pickling(name):
    (op,) = _record(FORMS[name])
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(op, protocol))
        assert back == op and type(back) is Op
        assert back.path == op.path and back.args == op.args and back.kwargs == op.kwargs


def test_an_op_is_a_small_named_tuple():
    op = Op(("k", 0), "append", (1,))
    assert op == (("k", 0), "append", (1,), ())
    assert op.key == "k"
    assert Op((), "__setitem__", ("k", 1)).key == "k"
    with pytest.raises(AttributeError):
        op.method = "pop"


def test_a_proxy_op_replays_through_apply_onto_an_owner():
    owner = Owner({"k": {"l": [1]}})
    proxy = owner["k"]
    proxy["l"].append(2)
    replica = Owner({"k": {"l": [1]}})
    for op in owner.ops:
        apply(pickle.loads(pickle.dumps(op)), replica)
    assert replica.data == owner.data
    assert replica.ops == owner.ops
    assert unwrap(replica["k"]) == {"l": [1, 2]}
