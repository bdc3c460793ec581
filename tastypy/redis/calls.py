"""Running a Redis link's scripts: as Redis 7 functions (``FCALL``), else by ``EVALSHA``."""

from __future__ import annotations

import hashlib
from typing import Any

from tastypy.redis import plan, scripts
from tastypy.redis.connection import Connection
from tastypy.redis.plan import Plan

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

    def _run(self, script: str, *args: Any) -> Plan[Any]:
        """Run an operation's script with the keys it uses and the caller's kind."""
        count = scripts.KEYS[script]
        return self._eval(script, count, *self._rkeys[:count], self.kind, *args)

    def _eval(self, script: str, *args: Any) -> Plan[Any]:
        """Run ``script`` (``args``: the number of keys, keys, then ARGV) as a function, else by EVALSHA."""
        import redis

        if self._fcall:
            try:
                return (yield plan.call("fcall", scripts.FUNCTIONS[script], *args))
            except redis.ResponseError as error:
                if str(error).startswith("Function not found"):  # first use, or a flushed server
                    yield from self._load()
                elif isinstance(error, redis.exceptions.NoPermissionError) or str(error).startswith(
                    "unknown command"
                ):
                    self._fcall = False  # Redis < 7, or FCALL not allowed to this user
                else:
                    raise
            if self._fcall:
                return (yield plan.call("fcall", scripts.FUNCTIONS[script], *args))
        try:
            return (yield plan.call("evalsha", _SHAS[script], *args))
        except redis.exceptions.NoScriptError:  # a restarted server forgot it
            return (yield plan.call("eval", scripts.SCRIPTS[script], *args))

    def _load(self) -> Plan[None]:
        """Load the function library (on every primary of a Cluster); where refused, use EVALSHA from now on.

        REPLACE: a library's name is its version, so the one loaded is this
        same code (loaded meanwhile by another client, or kept by a node).
        """
        import redis

        try:
            yield plan.call("function_load", scripts.LIBRARY, replace=True)
        except redis.ResponseError:
            self._fcall = False  # no right to FUNCTION LOAD
