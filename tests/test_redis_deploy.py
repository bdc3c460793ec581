"""What "Deploying Redis" tells users to set up works as it says: the ACL user it shows."""

from __future__ import annotations

import pytest
import redis

import tastypy

pytestmark = pytest.mark.timeout(60)

#: The ACL rule of docs/deploying-redis.rst, word for word.
DOCUMENTED = "on >secret ~tastypy:* +@read +@write +@scripting +@connection +info +type +scan +time -flushall -flushdb"


@pytest.fixture
def admin(redis_url):
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield client
        client.acl_deluser("app")


def _as(redis_url: str, user: str) -> str:
    return redis_url.replace("unix://", f"unix://{user}:secret@")


def _work(url: str) -> None:
    tracker = tastypy.RedisTracker(url, "crawl", max_tries=2, init={k: {} for k in range(5)})
    for key in tracker.try_keys():
        tracker.set[key]["n"] = 1
        tracker.mark_done(key)
    with tracker.locked():
        assert tracker.num_done() == 5 and list(tracker.todo_keys()) == []
    tracker.drop()
    assert len(tracker) == 0
    tracker.close()


def test_the_documented_acl_user_can_do_everything(redis_url, admin):
    admin.execute_command("ACL SETUSER app", *DOCUMENTED.split())
    admin.function_flush()  # the user loads the library itself
    _work(_as(redis_url, "app"))
    assert admin.function_list()


def test_a_user_without_function_load_or_info_still_works(redis_url, admin):
    admin.execute_command("ACL SETUSER app", *DOCUMENTED.split(), "-function|load", "-info")
    admin.function_flush()
    _work(_as(redis_url, "app"))  # EVALSHA, and the policy unchecked
    assert not admin.function_list()
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(_as(redis_url, "app")).set("other:key", 1)


def test_a_server_with_info_renamed_still_works(tmp_path):
    from redis_server import RedisServer

    server = RedisServer(tmp_path / "renamed", "--rename-command", "INFO", "").start()
    try:
        _work(server.url)  # no cluster found, the policy unchecked
    finally:
        server.stop()
