"""A RedisPOD over TLS (``rediss://``), against a real redis-server with a certificate made here."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from redis_server import RedisServer, free_ports

import tastypy

pytestmark = pytest.mark.timeout(60)


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "1", "-subj", "/CN=tastypy test CA", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "1", "-extfile", "san.ext", cwd=folder)
    (port,) = free_ports(1)
    server = RedisServer(
        folder / "redis", "--tls-port", str(port), "--tls-cert-file", str(folder / "server.crt"),
        "--tls-key-file", str(folder / "server.key"), "--tls-ca-cert-file", str(folder / "ca.crt"),
        "--tls-auth-clients", "no",
    ).start()
    yield f"rediss://127.0.0.1:{port}/0", folder / "ca.crt"
    server.stop()


def test_a_tracker_works_over_tls(tls):
    url, ca = tls
    tracker = tastypy.RedisTracker(f"{url}?ssl_ca_certs={ca}&ssl_cert_reqs=required", "t", init={"a": {}, "b": {}})
    assert list(tracker.try_keys()) == ["a", "b"]
    with tracker.locked():
        tracker.set["a"]["n"] = 1
    assert tracker["a"]["n"] == 1
    tracker.drop()
    tracker.close()


def test_a_certificate_that_is_not_trusted_is_a_clear_error(tls):
    url, _ = tls
    with pytest.raises(ConnectionError, match=r"cannot use Redis at rediss://127\.0\.0\.1:\d+/0\?ssl_cert_reqs=required#t"):
        tastypy.RedisPOD(f"{url}?ssl_cert_reqs=required", "t")
