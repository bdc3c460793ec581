"""Running a RedisLink's scripts: as Redis 7 functions (``FCALL``), else by ``EVALSHA``."""

from __future__ import annotations

import hashlib
from typing import Any

from tastypy.redis import scripts
from tastypy.redis.connection import Connection

_SHAS = {name: hashlib.sha1(src.encode()).hexdigest() for name, src in scripts.SCRIPTS.items()}


class Scripts(Connection):
    """Each operation's script, run with the keys it uses and the caller's kind."""

    #: Run the scripts as Redis 7 functions (``FCALL``) where the server
    #: allows it, else by ``EVALSHA`` (tests set it False to run that path).
    functions = True
    _fcall: bool

    def _forked(self) -> None:
        super()._forked()
        self._fcall = self.functions  # each process finds out again

    def _run(self, script: str, *args: Any) -> Any:
        """Run an operation's script with the keys it uses and the caller's kind."""
        count = scripts.KEYS[script]
        return self._eval(script, count, *self._keys[:count], self.kind, *args)

    def _eval(self, script: str, *args: Any) -> Any:
        """Run ``script`` (``args``: the number of keys, keys, then ARGV) as a function, else by EVALSHA."""
        import redis

        client = self._thread_client()
        if self._fcall:
            try:
                return client.fcall(scripts.FUNCTIONS[script], *args)
            except redis.ResponseError as error:
                if str(error).startswith("Function not found"):  # first use, or a flushed server
                    self._load(client)
                elif isinstance(error, redis.exceptions.NoPermissionError) or str(error).startswith(
                    "unknown command"
                ):
                    self._fcall = False  # Redis < 7, or FCALL not allowed to this user
                else:
                    raise
            if self._fcall:
                return client.fcall(scripts.FUNCTIONS[script], *args)
        try:
            return client.evalsha(_SHAS[script], *args)
        except redis.exceptions.NoScriptError:  # a restarted server forgot it
            return client.eval(scripts.SCRIPTS[script], *args)

    def _load(self, client: Any) -> None:
        """Load the function library (on every primary of a Cluster); where refused, use EVALSHA from now on.

        REPLACE: a library's name is its version, so the one loaded is this
        same code (loaded meanwhile by another client, or kept by a node).
        """
        import redis

        try:
            client.function_load(scripts.LIBRARY, replace=True)
        except redis.ResponseError:
            self._fcall = False  # no right to FUNCTION LOAD
