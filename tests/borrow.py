"""The face tests of test_shared.py and test_shared_tracker.py, run again on another Redis.

Redis 6, a Redis Cluster and prefetching trackers take the same tests:
``borrow(globals(), "url6")`` gives a test module those tests and the
fixtures they stand on, made over the URL its own fixture gives.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import test_shared
import test_shared_tracker
from hosts import Hosts
from test_shared_support import Faces

#: A borrowed test takes one of these fixtures.
_FACE_FIXTURES = {"face", "scratch", "tracker"}


def borrow(
    namespace: dict[str, Any],
    url_fixture: str,
    *,
    modules: tuple[Any, ...] = (test_shared, test_shared_tracker),
    skip: frozenset[str] = frozenset(),
    faces: type[Faces] = Faces,
    hosts: type[Hosts] = Hosts,
) -> None:
    """Put the face tests of ``modules`` (but ``skip``) and their fixtures in ``namespace``."""

    @pytest.fixture(name="face")
    def face_fixture(request):
        made = faces("redis", request.getfixturevalue(url_fixture))
        yield made
        made.close()

    @pytest.fixture(name="any_host", params=["redis", "aio-redis"])
    def any_host_fixture(request):
        """The tests that run on every face run here on the sync and async Redis faces."""
        made = hosts(request.param, request.getfixturevalue(url_fixture))
        yield made
        made.close()

    namespace.update(
        face_fixture=face_fixture,
        any_host_fixture=any_host_fixture,
        scratch=test_shared.scratch,
        tracker=test_shared_tracker.tracker,
    )
    namespace.update(
        (name, test)
        for module in modules
        for name, test in vars(module).items()
        if name.startswith("test_") and name not in skip and _FACE_FIXTURES & set(inspect.signature(test).parameters)
    )
