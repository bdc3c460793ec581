"""Mutation capture: proxies, operation records, JSON normal form.

Knows nothing of disk or processes: an owner hands a proxy its callback and
receives one ``Op`` per mutation.
"""

from tastypy.keys import check_key
from tastypy.observe.apply import apply
from tastypy.observe.normal import copy, decode, encode, format_path, normalize, text_if_normal
from tastypy.observe.op import Op
from tastypy.observe.proxy import (
    READ_ONLY,
    WRITABLE,
    ObservableDict,
    ObservableList,
    ReadOnlyDict,
    ReadOnlyList,
    proxy_of,
    unwrap,
)
from tastypy.observe.recorder import APPLIED, Recorder

__all__ = [
    "APPLIED",
    "READ_ONLY",
    "WRITABLE",
    "ObservableDict",
    "ObservableList",
    "Op",
    "ReadOnlyDict",
    "ReadOnlyList",
    "Recorder",
    "apply",
    "check_key",
    "copy",
    "decode",
    "encode",
    "format_path",
    "normalize",
    "proxy_of",
    "text_if_normal",
    "unwrap",
]
