"""RedisPOD and RedisTracker on a real 3-primary Redis Cluster started by these tests.

The face behaviour tests of test_shared.py and test_shared_tracker.py run
here again with the cluster as their host (their names fall on all three
nodes), then what only a cluster has: the function library on every node,
work spread over the nodes, a busy name's slot moved mid-run.
"""

from __future__ import annotations

import collections
import time

import pytest
import redis
from borrow import borrow
from redis.cluster import RedisCluster as ClusterClient
from redis_server import RedisCluster
from test_redis_support import JOIN, ctx, run_procs
from test_shared_support import LEASE, Faces, _session_servers, no_orphans  # noqa: F401  (fixture)

import tastypy
from tastypy.redis import scripts

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    _session_servers.update(process.pid for process in started.processes)
    yield started
    started.stop()
    _session_servers.difference_update(process.pid for process in started.processes)


@pytest.fixture
def cluster_url(cluster):
    """The cluster's URL, every primary emptied (the function libraries stay)."""
    with ClusterClient.from_url(cluster.url) as client:
        client.flushall()
    return cluster.url


borrow(globals(), "cluster_url")


def _node_of(client, name: str) -> str:
    return client.get_node_from_key(f"tastypy:{{{name}}}:values").name


def names_on_every_node(url: str, per_node: int = 1) -> list[str]:
    """Tracker names whose slots lie on each primary, ``per_node`` of each."""
    with ClusterClient.from_url(url) as client:
        found: dict[str, list[str]] = collections.defaultdict(list)
        for n in range(1000):
            name = f"w{n}"
            node = _node_of(client, name)
            if len(found[node]) < per_node:
                found[node].append(name)
            if len(found) == len(client.get_primaries()) and all(len(v) == per_node for v in found.values()):
                return [name for names in found.values() for name in names]
    raise AssertionError("no names found on every node")


def test_the_url_or_the_server_says_cluster(cluster_url):
    for url in (cluster_url, cluster_url + "?cluster=true"):
        pod = tastypy.RedisPOD(url, "p")
        pod["a"] = [1]
        pod.set["a"].append(2)
        assert pod._link._cluster and dict(pod.items()) == {"a": [1, 2]}
        pod.close()
    with pytest.raises(ValueError, match=r"cluster= .* true or false, not 'maybe'"):
        tastypy.RedisPOD(cluster_url + "?cluster=maybe", "p")


def test_names_on_every_node_work_and_the_library_is_on_every_primary(cluster, cluster_url):
    names = names_on_every_node(cluster_url)
    assert len(names) == 3
    for name in names:
        with tastypy.RedisTracker(cluster_url, name) as tracker:
            tracker.add_many(range(3))
            assert list(tracker.try_keys()) == [0, 1, 2]
    for index in range(3):
        with redis.Redis.from_url(cluster.node_url(index)) as node:
            assert node.function_list(library=f"tastypy_{scripts.VERSION}")


def test_a_node_that_lost_the_library_gets_it_again(cluster_url):
    name = names_on_every_node(cluster_url)[0]
    tracker = tastypy.RedisTracker(cluster_url, name)
    tracker.add("a")
    with ClusterClient.from_url(cluster_url) as client:
        host, port = _node_of(client, name).rsplit(":", 1)
    with redis.Redis(host=host, port=int(port)) as node:
        node.function_flush()  # only the name's node lacks it now
    tracker.mark_done("a")  # Function not found: loaded again, then run
    assert tracker.done("a") and tracker.num_done() == 1
    tracker.close()


def crawl(tracker, seen):
    for key in tracker.try_keys():
        seen.put((tracker.name, key))
        tracker.mark_done(key)


def test_four_workers_on_names_spread_over_every_node(cluster_url):
    names = names_on_every_node(cluster_url)
    trackers = [tastypy.RedisTracker(cluster_url, name, max_tries=1, lease=LEASE) for name in names]
    for tracker in trackers:
        tracker.add_many(range(60))
    context = ctx("spawn")
    seen = context.Queue()
    run_procs(context, crawl, [(tracker, seen) for tracker in trackers for _ in range(4)], timeout=JOIN)
    tried = collections.Counter(seen.get(timeout=10) for _ in range(3 * 60))
    assert set(tried.values()) == {1} and len(tried) == 180
    for tracker in trackers:
        assert tracker.num_done() == tracker.num_tried() == 60
        assert all(tracker[key]["_tries"] == 1 for key in range(60))
        tracker.close()



def slow_crawl(tracker, seen):
    for key in tracker.try_keys():
        time.sleep(0.005)
        seen.put(key)
        tracker.mark_done(key)


def migrate_slot(cluster_url: str, name: str) -> str:
    """Move ``name``'s slot to another primary, key by key, as ``redis-cli --cluster reshard`` does."""
    with ClusterClient.from_url(cluster_url, decode_responses=True) as client:
        slot = client.keyslot(f"tastypy:{{{name}}}:values")
        source = client.nodes_manager.get_node_from_slot(slot)
        target = next(node for node in client.get_primaries() if node.name != source.name)
    nodes = {}
    for node in (source, target):
        nodes[node.name] = redis.Redis(host=node.host, port=node.port, decode_responses=True)
    src, dst = nodes[source.name], nodes[target.name]
    try:
        src_id, dst_id = src.cluster("MYID"), dst.cluster("MYID")
        dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        while True:
            keys = src.execute_command("CLUSTER GETKEYSINSLOT", slot, 1)
            if not keys:
                break
            src.execute_command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
            time.sleep(0.05)  # one key at a time, calls in between: ASK and TRYAGAIN meanwhile
        for node in (dst, src):
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        return target.name
    finally:
        for node in nodes.values():
            node.close()


def test_a_busy_names_slot_moves_to_another_node_mid_run(cluster_url):
    name = names_on_every_node(cluster_url)[0]
    tracker = tastypy.RedisTracker(cluster_url, name, max_tries=1, lease=5.0)
    tracker.add_many(range(400))
    context = ctx("spawn")
    seen = context.Queue()
    procs = [context.Process(target=slow_crawl, args=(tracker, seen)) for _ in range(4)]
    for proc in procs:
        proc.start()
    got = []
    while len(got) < 40:
        got.append(seen.get(timeout=JOIN))
    moved_to = migrate_slot(cluster_url, name)
    assert len(got) < 400  # workers were busy all along
    while len(got) < 400:
        got.append(seen.get(timeout=JOIN))
    for proc in procs:
        proc.join(JOIN)
    assert [proc.exitcode for proc in procs] == [0] * 4
    assert sorted(got) == list(range(400))
    assert tracker.num_done() == tracker.num_tried() == 400
    assert all(record["_tries"] == 1 and record["_done"] for _, record in tracker.items())
    with ClusterClient.from_url(cluster_url) as client:
        assert _node_of(client, name) == moved_to
    tracker.close()


def test_the_command_line_reads_names_on_every_node(cluster_url):
    from cli_helpers import tastypy as command

    names = names_on_every_node(cluster_url)
    for name in names:
        tastypy.RedisTracker(cluster_url, name, init={"a": {}, "b": {}}).close()
        result = command("keys", f"{cluster_url}#{name}")
        assert result.returncode == 0 and result.stdout.split() == ['"a"', '"b"'], result.stderr
