"""SharedPOD: one server process, many client processes, nothing lost.

The tests taking the ``face`` fixture run on a RedisPOD too: what users rely
on holds on both hosts.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time

import pytest
from helpers import fresh_items
from test_shared_support import ctx, face_fixture, no_orphans, run_procs  # noqa: F401  (fixtures)

import tastypy
from tastypy.shared import face as client_face
from tastypy.shared.link import Link

pytestmark = pytest.mark.timeout(120)


# -- workers (module level: spawn and forkserver import them) ------------------


def seed_worker(pod, proc_num, num_procs):
    for i in pod:
        if i % num_procs == proc_num:
            pod[i] = i**2


def increment(shared, times):
    for _ in range(times):
        shared.set["stats"]["n"] += 1


_pool_shared = None


def pool_init(shared):
    global _pool_shared
    _pool_shared = shared


def pool_task(i):
    _pool_shared.set["stats"]["n"] += 1
    return i


def pool_task_with_arg(shared, i):
    shared.set["stats"]["n"] += 1
    return i


def natural_mutations(shared):
    shared["a"]["l"].append(3)
    record = shared["a"]
    record["d"]["x"] = [1]
    record["d"]["x"].extend([2, 3])
    shared["l"][0]["deep"] = True


def add_keys(shared, prefix, count):
    shared.update((f"{prefix}{i}", i) for i in range(count))


def locked_read_modify_write(shared, times):
    for _ in range(times):
        with shared.locked():
            value = shared["n"]
            time.sleep(0.001)  # another process would slip in here without the lock
            shared["n"] = value + 1


def from_queue(queue, done):
    shared = queue.get(timeout=30)
    shared["from queue"] = True
    done.put(True)


def from_pipe(conn):
    shared = conn.recv()
    shared["from pipe"] = True
    conn.send(True)


# -- the seed example, start methods, ways to pass the client -------------------


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_seed_example_runs_under_each_start_method(face, method):
    pod = face.pod(init=[(i, None) for i in range(25)])
    try:
        run_procs(ctx(method), seed_worker, [(pod, i, 5) for i in range(5)])
        assert list(pod.items()) == [(i, i**2) for i in range(25)]
    finally:
        pod.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_initializer_shares_the_client(face, method):
    with face.pod(init={"stats": {"n": 0}}) as shared:
        with ctx(method).Pool(2, initializer=pool_init, initargs=(shared,)) as pool:
            assert sorted(pool.map_async(pool_task, range(40)).get(timeout=60)) == list(range(40))
        assert shared["stats"]["n"] == 40


def test_pool_task_arguments_carry_the_client(face):
    with face.pod(init={"stats": {"n": 0}}) as shared:
        with ctx("fork").Pool(2) as pool:
            result = pool.starmap_async(pool_task_with_arg, [(shared, i) for i in range(40)])
            assert sorted(result.get(timeout=60)) == list(range(40))
        assert shared["stats"]["n"] == 40


def test_queue_and_pipe_carry_the_client(face):
    context = ctx("spawn")
    with face.pod() as shared:
        queue, done = context.Queue(), context.Queue()
        proc = context.Process(target=from_queue, args=(queue, done))
        proc.start()
        queue.put(shared)
        assert done.get(timeout=60)
        proc.join(30)
        ours, theirs = context.Pipe()
        proc = context.Process(target=from_pipe, args=(theirs,))
        proc.start()
        ours.send(shared)
        assert ours.poll(60) and ours.recv()
        proc.join(30)
        assert shared["from queue"] and shared["from pipe"]


def test_client_pickles_to_address_and_key_only(tmp_path):
    with tastypy.SharedPOD(tmp_path / "p", init={"a": 1}) as shared:
        data = pickle.dumps(shared)
        assert len(data) < 400
        again = pickle.loads(data)
        assert again["a"] == 1 and again.path == shared.path
        assert repr(again) == f"SharedPersistentOrderedDict({str(shared.path)!r})"


# -- .set: atomic operations --------------------------------------------------------


def test_set_increments_from_four_processes_lose_nothing(face):
    with face.pod(init={"stats": {"n": 0}}) as shared:
        run_procs(ctx("fork"), increment, [(shared, 500)] * 4)
        assert shared["stats"]["n"] == 2000
    if face.kind == "shared":  # closed: on disk
        assert dict(tastypy.POD(shared.path, mode="r"))["stats"] == {"n": 2000}
    else:  # closed: still in Redis
        assert type(shared)(face.where, shared.name)["stats"] == {"n": 2000}


def _start() -> dict:
    return {"a": {"n": 1, "l": [1, 2, 3], "d": {"x": [0]}, "s": "ab"}, "k": [5, 6]}


SET_FORMS = [
    ("+= on a nested number", lambda s: s["a"]["n"].__iadd__(1), lambda d: d["a"].__setitem__("n", 2)),
    ("-= on a nested number", lambda s: s["a"]["n"].__isub__(3), lambda d: d["a"].__setitem__("n", -2)),
    ("*= on a nested number", lambda s: s["a"]["n"].__imul__(7), lambda d: d["a"].__setitem__("n", 7)),
    ("+= on a string", lambda s: s["a"]["s"].__iadd__("c"), lambda d: d["a"].__setitem__("s", "abc")),
    ("+= on a list", lambda s: s["a"]["l"].__iadd__([4]), lambda d: d["a"]["l"].append(4)),
    ("append", lambda s: s["a"]["l"].append(9), lambda d: d["a"]["l"].append(9)),
    ("extend", lambda s: s["a"]["l"].extend([7, 8]), lambda d: d["a"]["l"].extend([7, 8])),
    ("insert", lambda s: s["a"]["l"].insert(0, 0), lambda d: d["a"]["l"].insert(0, 0)),
    ("remove", lambda s: s["a"]["l"].remove(2), lambda d: d["a"]["l"].remove(2)),
    ("pop", lambda s: s["a"]["l"].pop(), lambda d: d["a"]["l"].pop()),
    ("reverse", lambda s: s["a"]["l"].reverse(), lambda d: d["a"]["l"].reverse()),
    ("sort", lambda s: s["a"]["l"].sort(reverse=True), lambda d: d["a"]["l"].sort(reverse=True)),
    ("clear a list", lambda s: s["a"]["l"].clear(), lambda d: d["a"]["l"].clear()),
    (
        "slice assignment",
        lambda s: s["a"]["l"].__setitem__(slice(None), [4]),
        lambda d: d["a"].__setitem__("l", [4]),
    ),
    (
        "index assignment",
        lambda s: s["a"]["l"].__setitem__(1, "x"),
        lambda d: d["a"]["l"].__setitem__(1, "x"),
    ),
    ("del an index", lambda s: s["a"]["l"].__delitem__(0), lambda d: d["a"]["l"].__delitem__(0)),
    (
        "dict item at depth",
        lambda s: s["a"]["d"].__setitem__("y", {"z": 1}),
        lambda d: d["a"]["d"].__setitem__("y", {"z": 1}),
    ),
    ("append at depth 3", lambda s: s["a"]["d"]["x"].append(1), lambda d: d["a"]["d"]["x"].append(1)),
    ("del a dict item", lambda s: s["a"].__delitem__("s"), lambda d: d["a"].__delitem__("s")),
    ("dict update", lambda s: s["a"].update({"n": 5, "m": 6}), lambda d: d["a"].update({"n": 5, "m": 6})),
    ("dict setdefault", lambda s: s["a"].setdefault("q", [1]), lambda d: d["a"].setdefault("q", [1])),
    ("dict pop", lambda s: s["a"].pop("n"), lambda d: d["a"].pop("n")),
    ("dict clear", lambda s: s["a"].clear(), lambda d: d["a"].clear()),
    ("top-level assignment", lambda s: s.__setitem__("new", (1, 2)), lambda d: d.__setitem__("new", [1, 2])),
    ("top-level del", lambda s: s.__delitem__("k"), lambda d: d.__delitem__("k")),
    ("top-level +=", lambda s: s["k"].__iadd__([7]), lambda d: d["k"].append(7)),
    ("top-level update", lambda s: s.update({"z": 1}), lambda d: d.update({"z": 1})),
]


@pytest.fixture
def scratch(face):
    with face.pod() as shared:
        yield shared


@pytest.mark.parametrize("form", SET_FORMS, ids=[f[0] for f in SET_FORMS])
def test_every_set_form_is_applied_on_the_server(scratch, form):
    _, on_set, on_dict = form
    scratch.clear()
    scratch.update(_start())
    expected = _start()
    on_dict(expected)
    on_set(scratch.set)
    assert dict(scratch.items()) == expected


def test_set_returns_what_the_method_returns(scratch):
    scratch.clear()
    scratch["a"] = {"l": [1, 2, 3], "d": {"k": "v"}}
    assert scratch.set["a"]["l"].pop() == 3
    assert scratch.set["a"]["d"].pop("k") == "v"
    assert scratch.set["a"]["d"].setdefault("q", {"r": 1}) == {"r": 1}


def test_augmented_set_statement_forms(scratch):
    scratch.clear()
    scratch["c"] = {"n": 0, "l": []}
    scratch.set["c"]["n"] += 5
    scratch.set["c"]["n"] -= 1
    scratch.set["c"]["l"] += ["x"]
    scratch.set["c"]["l"][0] = "y"
    scratch.set["c"]["l"][:] = [4]
    scratch.set["t"] = {"v": 1}
    assert scratch["c"] == {"n": 4, "l": [4]} and scratch["t"] == {"v": 1}


# -- natural mutation, iteration -------------------------------------------------------


def test_natural_mutation_of_a_read_value_is_forwarded(face):
    init = {"a": {"l": [1, 2], "d": {}}, "l": [{}]}
    with face.pod(init=init) as shared:
        run_procs(ctx("fork"), natural_mutations, [(shared,)])
        assert shared["a"] == {"l": [1, 2, 3], "d": {"x": [1, 2, 3]}}
        assert shared["l"] == [{"deep": True}]
        value = shared["a"]
        assert isinstance(value, dict) and value == {"l": [1, 2, 3], "d": {"x": [1, 2, 3]}}


def test_iteration_is_chunked_and_reaches_keys_added_meanwhile(face, monkeypatch):
    calls = []
    real = face.link.call

    def counting(self, name, *args, **kwargs):
        calls.append(name)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(face.link, "call", counting)
    with face.pod(init=[(i, i) for i in range(2600)]) as shared:
        seen = []
        for key in shared:
            seen.append(key)
            if key == 0:  # another process writes while this loop runs
                run_procs(ctx("fork"), add_keys, [(shared, "new", 500)])
        assert seen == list(range(2600)) + [f"new{i}" for i in range(500)]
        assert calls.count("keys") == 5  # 3,100 keys in 4 chunks, then an empty one: nothing added since
        items = list(shared.items())
        assert items[:2] == [(0, 0), (1, 1)] and len(items) == 3100
        assert list(shared.values())[-1] == 499


# -- the mapping and POD methods ---------------------------------------------------


def test_mapping_methods_are_forwarded(face):
    with face.pod(init={"a": 1, (1, "x"): [1]}) as shared:
        assert len(shared) == 2 and "a" in shared and (1, "x") in shared and 1.5 not in shared
        assert list(shared) == ["a", (1, "x")]
        assert shared.get("a") == 1 and shared.get("zz", 5) == 5
        assert shared == {"a": 1, (1, "x"): [1]} and shared != {"a": 2} and shared != {"a": 1}
        assert shared.setdefault("b", {"c": 1}) == {"c": 1}
        shared.setdefault("b", {"c": 2})["c"] += 1  # a natural mutation
        assert shared["b"] == {"c": 2}
        assert shared.pop("b") == {"c": 2} and shared.pop("b", None) is None
        assert shared.popitem() == ((1, "x"), [1])  # the last one, as dict.popitem()
        shared.update({"x": 1}, y=2)
        shared["z"] = {"t": (1, 2)}
        assert shared["z"] == {"t": [1, 2]}
        del shared["x"]
        assert list(shared.keys()) == ["a", "y", "z"]
        assert list(shared.values()) == [1, 2, {"t": [1, 2]}]
        assert next(shared.iteritems()) == ("a", 1)
        if face.kind == "shared":  # Redis has no unsynced state: see test_redis.py
            assert shared.dirty() >= {"y", "z"}
            shared.sync()
            assert shared.dirty() == set()
            shared["tmp"] = 1
            shared.revert()
            assert "tmp" not in shared
        shared.clear()
        assert len(shared) == 0 and list(shared) == []


def test_errors_reach_the_caller_with_type_and_message(face):
    with face.pod(init={"a": {"l": []}}) as shared:
        with pytest.raises(KeyError) as err:
            shared["missing"]
        assert err.value.args == ("missing",)
        with pytest.raises(KeyError):
            del shared["missing"]
        with pytest.raises(KeyError):
            shared.pop("missing")
        with pytest.raises(TypeError, match="set"):
            shared.update([("ok", 1), ("bad", {3})])
        with pytest.raises(TypeError, match="set"):
            shared["b"] = {1, 2}
        with pytest.raises(TypeError, match="float"):
            shared[1.5] = 1
        with pytest.raises(KeyError):
            shared.set["missing"]["n"] += 1
        with pytest.raises(TypeError, match="not a mutation"):
            shared.set["a"]["l"].index(1)
        with pytest.raises(TypeError, match="set"):
            shared.set["a"]["l"].append({3})
        with pytest.raises(IndexError):
            shared.set["a"]["l"].pop()
        assert dict(shared.items()) == {"a": {"l": []}}
        shared.clear()
        with pytest.raises(KeyError, match="empty"):
            shared.popitem()


class _Unpicklable(Exception):
    """An error whose argument (a lambda) no pickle can carry."""


def test_an_error_that_does_not_pickle_arrives_as_runtime_error(tmp_path, monkeypatch):
    # The server is forked from here, so the patched method is the server's too.
    def dirty(self):
        raise _Unpicklable(lambda: None)

    monkeypatch.setattr(tastypy.POD, "dirty", dirty)
    with tastypy.SharedPOD(tmp_path / "p", init={"a": 1}) as shared:
        with pytest.raises(RuntimeError, match="^_Unpicklable: <function"):
            shared.dirty()
        assert dict(shared) == {"a": 1}  # the server goes on serving


def test_a_second_writer_on_the_folder_gets_locked_error(tmp_path):
    with tastypy.SharedPOD(tmp_path / "p", init={"a": 1}) as shared:
        shared.sync()
        with pytest.raises(tastypy.LockedError, match=str(tmp_path / "p")):
            tastypy.SharedPOD(tmp_path / "p")
        with pytest.raises(tastypy.LockedError):
            tastypy.POD(tmp_path / "p")
        assert dict(tastypy.POD(tmp_path / "p", mode="r")) == {"a": 1}
    pod = tastypy.POD(tmp_path / "p")  # free again once closed
    pod.close()


def test_bad_init_fails_at_construction(tmp_path):
    with pytest.raises(TypeError, match="set"):
        tastypy.SharedPOD(tmp_path / "p", init={"a": {1}})
    open(tmp_path / "f", "w").close()
    with pytest.raises(NotADirectoryError, match="is a file"):
        tastypy.SharedPOD(tmp_path / "f")


# -- locking -----------------------------------------------------------------------------


def test_locked_gives_one_process_at_a_time(face):
    with face.pod(init={"n": 0}) as shared:
        run_procs(ctx("fork"), locked_read_modify_write, [(shared, 40)] * 3)
        assert shared["n"] == 120


def hold_lock_then_release(shared, held, release):
    with shared.locked(), shared.locked():  # reentrant in the holder
        held.set()
        release.wait(30)


def test_lock_timeout_and_unlock_errors(face):
    context = ctx("fork")
    with face.pod(init={"n": 0}) as shared:
        held, release = context.Event(), context.Event()
        proc = context.Process(target=hold_lock_then_release, args=(shared, held, release))
        proc.start()
        try:
            assert held.wait(30)
            assert shared.lock(timeout=0.3) is False
            with pytest.raises(RuntimeError, match="does not hold"):
                shared.unlock()
        finally:
            release.set()
            proc.join(30)
        assert shared.lock(timeout=30) is True
        shared.unlock()


# -- lifecycle ---------------------------------------------------------------------------


def test_close_syncs_and_stops_the_server(tmp_path, folder):
    shared = tastypy.SharedPOD(folder, sync_at=10**6)
    shared["a"] = [1]
    copy = pickle.loads(pickle.dumps(shared))
    pid = shared._server.pid
    shared.close()
    assert fresh_items(folder) == [("a", [1])]
    assert not _running(pid)
    with pytest.raises(ValueError, match="closed"):
        copy["a"]
    shared.close()  # twice is fine


def test_user_address_and_authkey(tmp_path):
    address = str(tmp_path / "my.sock")
    with tastypy.SharedPOD(tmp_path / "p", address=address, authkey=b"secret") as shared:
        shared["a"] = 1
        assert shared._address == address
        other = client_face._rebuild(type(shared), Link(address, b"wrong", shared.path, "SharedPOD"))
        with pytest.raises(multiprocessing.AuthenticationError):
            other["a"]
        assert shared["a"] == 1


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_server_exits_when_signalled(tmp_path, folder):
    shared = tastypy.SharedPOD(folder, sync_at=10**6)
    shared["a"] = 1
    os.kill(shared._server.pid, signal.SIGTERM)
    shared._server.stop()
    assert fresh_items(folder) == [("a", 1)]
    with pytest.raises(ValueError, match="closed"):
        shared["a"]
    shared.close()


def test_no_server_process_is_left_by_these_tests():
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("tastypy server")]
