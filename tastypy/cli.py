"""The ``tastypy`` command: look into a folder, move data in and out, run the demo.

Every subcommand opens the folder read-only unless it must write. Where a
folder is taken, ``URL#NAME`` names a RedisPOD or RedisTracker instead
(``redis://host:6379/0#crawl``). A user mistake (missing folder, not a
tastypy folder, damaged file, bad key, unreachable Redis) ends with one
line on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tastypy import __version__, exits, migrate, progress, retry
from tastypy.errors import LockedError, TastypyError
from tastypy.keys import key_from_json
from tastypy.observe import unwrap
from tastypy.pod import POD
from tastypy.records import folder_kind
from tastypy.redis.target import is_target
from tastypy.store import Store, writer_pid
from tastypy.store.format import MANIFEST
from tastypy.store.manifest import SHARD_NAME


class UserError(Exception):
    """A mistake on the command line: its message is all the user sees."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except BrokenPipeError:
        # The reader left (``tastypy export X | head``): stop quietly, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UserError, TastypyError, OSError) as exc:
        print(f"tastypy {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # redis.RedisError (NOPERM, OOM, MOVED...) of a URL#NAME target: one
        # line too. Told by its module, so the command line needs no redis-py.
        if not type(exc).__module__.startswith("redis."):
            raise
        where = next((_masked(v) for v in vars(args).values() if isinstance(v, str) and is_target(v)), "Redis")
        print(f"tastypy {args.command}: {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (the docs render their command-line reference from it)."""
    parser = argparse.ArgumentParser(
        prog="tastypy", description="Look into tastypy folders, and run the demo."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    sub = command("demo", _run_demo, "crawl a generated site with a resumable job (Ctrl-C, rerun)")
    sub.add_argument("folder", nargs="?", default="tastypy-demo", help="where the job keeps its state")
    sub.add_argument("--pages", type=_positive, default=3000, help="pages of the site (3000)")
    sub.add_argument("--workers", type=_positive, default=4, help="worker processes (4)")
    sub.add_argument("--fail-rate", type=_rate, default=0.1, help="chance a fetch fails (0.1)")
    sub.add_argument("--seed", type=int, default=7, help="the site's random seed (7)")
    sub.add_argument(
        "--redis", metavar="URL", default=None,
        help="keep the state in this Redis database (the folder argument is its name there)",
    )
    sub.add_argument(
        "--async", dest="use_async", action="store_true",
        help="crawl in one process with asyncio: 25 coroutines a worker on an AsyncTracker (not with --redis)",
    )

    sub = command("info", _run_info, "kind, size, last sync and writer of a folder")
    sub.add_argument("path")
    sub = command("get", _run_get, "print the value of KEY as JSON")
    sub.add_argument("path")
    sub.add_argument("key", help="JSON ('\"a\"', 3, '[\"site\", 3]') or a plain string")
    sub = command("keys", _run_keys, "print the keys as JSON, one a line")
    sub.add_argument("path")
    sub.add_argument("--limit", type=_positive, default=None, help="print at most N keys")
    sub = command("export", _run_export, 'write every entry as a JSON line {"key": ..., "value": ...}')
    sub.add_argument("path")
    sub.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    sub = command(
        "import", _run_import,
        "add or replace the entries of a JSON lines file (as export writes), or of a sqlitedict or shelve file",
    )
    sub.add_argument("path")
    sub.add_argument("file", help="the JSON lines file ('-' for stdin), or the file --from names")
    sub.add_argument(
        "--from", dest="source", choices=migrate.KINDS, default=None,
        help="FILE is a sqlitedict or shelve file: reading it unpickles it, which can run code, so only"
        " files you trust; values that are not JSON data are listed on stderr (exit status 1)",
    )
    sub.add_argument("--table", default=None, help="the table of a sqlitedict file (unnamed)")
    sub = command("check", _run_check, "verify every file of a folder (exit 1 when damaged)")
    sub.add_argument("path")
    sub = command("progress", _run_progress, "done / tried / aborted / todo of a tracker")
    sub.add_argument("path")
    sub.add_argument("--watch", action="store_true", help="refresh while another process runs the job")
    sub.add_argument("--every", type=float, default=1.0, help="seconds between refreshes (1)")
    sub = command("failures", _run_failures, "what failed in a tracker: counts by error type, an example key each")
    sub.add_argument("path")
    sub.add_argument("--by", choices=("type", "message"), default="type", help="group by the error's type (or message)")
    sub = command("retry", _run_retry, "put failed keys back to do: tries to 0, not aborted, due now")
    sub.add_argument("path")
    sub.add_argument("--aborted", action="store_true", help="every aborted key (with or without an error) instead")
    sub.add_argument("--error", metavar="TYPE", default=None, help="only keys whose last error is of this type")
    sub.add_argument("--dry-run", action="store_true", help="count them, change nothing")
    sub = command("compact", _run_compact, "fold the journal into fresh shard files")
    sub.add_argument("path")
    sub = command("serve", _run_serve, "watch a tracker's job in the browser (a page and JSON endpoints)")
    sub.add_argument("path", help="the tracker's folder, or URL#NAME of a RedisTracker")
    sub.add_argument("--port", type=int, default=8024, help="port to listen on (8024; 0: any free port)")
    sub.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; the page shows the job to whoever reaches it)",
    )
    sub.add_argument(
        "--allow-write", action="store_true",
        help="let the page retry and unabort keys, with a token printed here (a folder: only while no writer runs)",
    )
    sub.add_argument("--every", type=float, default=1.0, help="seconds between refreshes (1)")
    return parser


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return number


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return rate


# -- opening -----------------------------------------------------------------


def _tastypy_folder(text: str) -> Path:
    """The folder ``text`` names; UserError unless it is a tastypy folder."""
    path = Path(text).expanduser()
    if not path.exists():
        raise UserError(f"{text}: no such folder")
    if not path.is_dir():
        raise UserError(f"{text} is a file, not a tastypy folder")
    if not _is_tastypy(path):
        raise UserError(f"{text} is not a tastypy folder (no {MANIFEST}, no 0.json)")
    return path


def _is_tastypy(path: Path) -> bool:
    return (path / MANIFEST).exists() or any(SHARD_NAME.fullmatch(p.name) for p in path.iterdir())


def _reader(text: str) -> Any:
    """A POD read-only, or for ``URL#NAME`` the RedisPOD or RedisTracker it names."""
    if is_target(text):
        return _redis(text)
    return POD(_tastypy_folder(text), mode="r")


def _redis(text: str, **options: Any) -> Any:
    from tastypy.redis.target import open_target

    try:
        return open_target(text, **options)
    except (ValueError, ImportError) as exc:
        raise UserError(str(exc)) from None


def _masked(text: str) -> str:
    """``URL#NAME`` with the URL's password masked, for messages."""
    from tastypy.redis.connect import mask

    url, _, name = text.rpartition("#")
    return f"{mask(url)}#{name}"


def _folder_only(text: str, what: str) -> None:
    if is_target(text):
        raise UserError(f"{what} works on folders; Redis keeps its own files (see its AOF settings)")


def parse_key(text: str) -> Any:
    """A key from the command line: JSON (arrays become tuples), else the plain string."""
    try:
        obj = json.loads(text)
    except ValueError:
        if text.lstrip()[:1] in ('"', "[", "{"):
            raise UserError(f"bad key {text!r}: it starts like JSON but is not valid JSON") from None
        return text
    key = key_from_json(obj)
    if key is None:
        raise UserError(
            f"bad key {text!r}: a key is a string, an integer or an array of them"
            f" (to mean the string, quote it: '\"{text}\"')"
        )
    return key


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _values(pod: POD) -> Iterator[Any]:
    """The plain values (a POD hands out proxies of dicts and lists)."""
    return map(unwrap, pod.values())


def _kind(pod: POD, text: str) -> str:
    """'Tracker', 'POD' or 'empty' (``records.folder_kind``); UserError for a damaged record."""
    try:
        return folder_kind(zip(pod, _values(pod)))
    except ValueError as exc:
        raise UserError(f"{text}: {exc}") from None


# -- subcommands -----------------------------------------------------------------


def _run_info(args: argparse.Namespace) -> None:
    if is_target(args.path):
        _redis_info(args.path)
        return
    path = _tastypy_folder(args.path)
    store = Store(path.absolute(), read_only=True)
    try:
        facts = store.info()
    finally:
        store.close()
    with POD(path, mode="r") as pod:
        kind = _kind(pod, args.path)
        counts = progress.Counts.of_records(_values(pod)) if kind == "Tracker" else None
    synced = _sync_time(facts["last_sync"], args.path)
    rows = [
        ("path", str(path.absolute())),
        ("kind", kind),
        ("entries", f"{facts['entries']:,}"),
        ("shards", f"{facts['shards']:,}"),
        ("bytes", f"{facts['bytes']:,}"),
        ("gzipped", "yes" if facts["gzipped"] else "no"),
        ("last sync", synced),
        ("writer", f"pid {facts['writer_pid']}" if facts["writer_pid"] else "none"),
    ]
    if counts is not None:
        rows.append(("done", f"{counts.done:,} of {counts.total:,}"))
        with contextlib.closing(Store(path.absolute(), read_only=True)) as store:
            rows += _waiting_rows(retry.folder_items(store.items()))
    for name, value in rows:
        print(f"{name + ':':<11}{value}")


def _waiting_rows(items: Any) -> list[tuple[str, str]]:
    """``waiting`` and ``next due`` rows, when any key has a ``_retry_at``."""
    count, first = retry.waiting(items, time.time())
    if first is None:
        return []
    when = datetime.datetime.fromtimestamp(first).isoformat(" ", "seconds")
    return [("waiting", f"{count:,}"), ("next due", when)]


def _redis_info(text: str) -> None:
    with _redis(text) as pod:
        from tastypy.redis import RedisTracker  # importable: _redis opened one

        kind = "Tracker" if isinstance(pod, RedisTracker) else _kind(pod, text)
        counts = progress.Counts.of_records(_values(pod)) if kind == "Tracker" else None
        rows = [("redis", _masked(text)), ("kind", kind), ("entries", f"{len(pod):,}")]
    if counts is not None:
        rows.append(("done", f"{counts.done:,} of {counts.total:,}"))
        with _redis(text) as pod:
            rows += _waiting_rows((key, unwrap(value)) for key, value in pod.items())
    for name, value in rows:
        print(f"{name + ':':<11}{value}")


def _sync_time(synced: Any, text: str) -> str:
    """The last sync as local time; UserError if the manifest holds no time."""
    if synced is None or synced == 0:
        return "never"
    try:
        if type(synced) not in (int, float):
            raise TypeError
        return datetime.datetime.fromtimestamp(synced).isoformat(" ", "seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        raise UserError(
            f"{text}: {MANIFEST} gives {_json(synced)} as the time of the last sync,"
            " which is not a time: the manifest is damaged"
        ) from None


def _run_get(args: argparse.Namespace) -> None:
    key = parse_key(args.key)
    with _reader(args.path) as pod:
        if key not in pod:
            raise UserError(f"{args.path} has no key {_json(key)}")
        print(_json(unwrap(pod[key])))


def _run_keys(args: argparse.Namespace) -> None:
    with _reader(args.path) as pod:
        for n, key in enumerate(pod):
            if args.limit is not None and n >= args.limit:
                break
            print(_json(key))


def _run_export(args: argparse.Namespace) -> None:
    with _reader(args.path) as pod:
        lines = (_json({"key": key, "value": value}) + "\n" for key, value in zip(pod, _values(pod)))
        if args.output == "-":
            sys.stdout.writelines(lines)
            return
        with open(args.output, "w", encoding="utf-8") as out:
            out.writelines(lines)


def _run_import(args: argparse.Namespace) -> int | None:
    if is_target(args.path):
        _import_redis(args)
        return None
    path = Path(args.path).expanduser()
    if path.is_dir() and any(path.iterdir()) and not _is_tastypy(path):
        raise UserError(f"{args.path} is a folder that is not a tastypy folder: import into a new path")
    if path.is_dir():
        _check_no_writer(path, args.path)
    if args.table is not None and args.source != "sqlitedict":
        raise UserError("--table names a table of a sqlitedict file: use it with --from sqlitedict")
    if args.source is not None:
        return _import_pickles(args, path)
    pairs = list(_read_entries(args.file))
    try:
        pod = POD(path)
    except LockedError:
        _check_no_writer(path, args.path)
        raise
    with pod:
        done = _import_pairs(pod, pairs, args.file, args.path)
    print(done)  # once closed: the import is synced
    return None


def _import_pairs(pod: Any, pairs: list[tuple[Any, Any]], file: str, where: str) -> str:
    """Add or replace ``pairs`` in ``pod`` all at once; the line that says how many were new."""
    new = sum(key not in pod for key, _ in pairs)
    try:
        pod.update(pairs)  # checks every value before storing any
    except (TypeError, ValueError, RecursionError) as exc:
        raise UserError(f"{file}: {exc}; nothing was imported") from None
    return f"imported {len(pairs):,} entries into {where} ({new:,} new, {len(pairs) - new:,} replaced)"


def _import_redis(args: argparse.Namespace) -> None:
    if args.source is not None:
        raise UserError("--from copies into a folder: import into a folder, then export it to Redis")
    pairs = list(_read_entries(args.file))
    with _redis(args.path) as pod:
        done = _import_pairs(pod, pairs, args.file, _masked(args.path))
    print(done)


def _import_pickles(args: argparse.Namespace, path: Path) -> int:
    """Copy a sqlitedict or shelve file; list on stderr what was not copied (exit 1 if any)."""
    try:
        skipped = migrate.copy_from(args.source, args.file, path, table=args.table or "unnamed")
    except LockedError:
        _check_no_writer(path, args.path)
        raise
    for line in migrate.skipped_lines(skipped):
        print(f"tastypy import: {line}", file=sys.stderr)
    not_copied = f"; {len(skipped):,} not copied (listed on stderr)" if skipped else ""
    print(f"imported the {args.source} file {args.file} into {args.path}{not_copied}")
    return 1 if skipped else 0


def _check_no_writer(path: Path, text: str) -> None:
    pid = writer_pid(path)
    if pid is not None:
        raise UserError(f"{text} is held by a writer (process {pid}): stop it first; nothing was imported")


def _read_entries(name: str) -> Iterator[tuple[Any, Any]]:
    """The (key, value) pairs of a JSON lines file; UserError naming the bad line."""
    source = sys.stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    with source:
        for n, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise UserError(f"{name} line {n}: not valid JSON; nothing was imported") from None
            except RecursionError:
                raise UserError(f"{name} line {n}: nested too deeply; nothing was imported") from None
            try:
                json.dumps(entry, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(
                    f"{name} line {n}: a string holds a lone surrogate (\\ud800-\\udfff),"
                    " which cannot be stored; nothing was imported"
                ) from None
            except RecursionError:
                raise UserError(f"{name} line {n}: nested too deeply; nothing was imported") from None
            if not isinstance(entry, dict) or set(entry) != {"key", "value"}:
                raise UserError(
                    f'{name} line {n}: expected {{"key": ..., "value": ...}}; nothing was imported'
                )
            key = key_from_json(entry["key"])
            if key is None:
                raise UserError(
                    f"{name} line {n}: the key {_json(entry['key'])} is not a string, integer"
                    " or array of them; nothing was imported"
                )
            yield key, entry["value"]


def _run_check(args: argparse.Namespace, quiet: bool = False) -> None:
    _folder_only(args.path, "check")
    path = _tastypy_folder(args.path)
    store = Store(path.absolute(), read_only=True)
    try:
        facts = store.info()  # reads every shard and the journal: damage raises
    finally:
        store.close()
    if not quiet:
        print(f"{args.path}: sound, {facts['entries']:,} entries in {facts['shards']:,} shards")


def _run_progress(args: argparse.Namespace) -> None:
    if args.watch and not is_target(args.path):
        _watch_folder(args)
        return
    with _reader(args.path) as pod:
        counts = _tracker_counts(pod, args.path)
        if not args.watch:
            _print_counts(counts)
            for name, value in _waiting_rows((key, unwrap(value)) for key, value in pod.items()):
                print(f"{name}: {value}")
            return
        if hasattr(pod, "num_done"):  # a RedisTracker: its counters, O(1) a tick
            _watch(args, counts, lambda: progress.Counts.of_tracker(pod))
        else:  # Redis records of a RedisPOD: counted again each tick
            _watch(args, counts, lambda: _tracker_counts(pod, args.path))


def _watch_folder(args: argparse.Namespace) -> None:
    """Follow a folder: count once, then each tick only what was committed since (the journal tail)."""
    from tastypy.serve.watch import FolderWatch

    path = _tastypy_folder(args.path)
    try:
        watch = FolderWatch(path)
    except ValueError:
        with _reader(args.path) as pod:
            _tracker_counts(pod, args.path)  # the UserError that names the problem
        raise

    def counts() -> progress.Counts:
        watch.refresh()
        c = watch.counts(time.time())
        return progress.Counts(c["total"], c["done"], c["tried"], c["aborted"], c["todo"])

    try:
        _watch(args, counts(), counts)
    finally:
        watch.close()


def _watch(args: argparse.Namespace, counts: progress.Counts, read: Any) -> None:
    """Show ``read()`` every ``--every`` seconds until nothing is left to do or Ctrl-C."""
    bar = None
    try:
        print(f"watching {args.path} read-only (Ctrl-C to stop)", flush=True)
        bar = progress.LiveBar(counts, file=sys.stdout)
        while counts.todo:
            time.sleep(args.every)
            counts = read()
            bar.update(counts)
        bar.update(counts, force=True)
    except KeyboardInterrupt:
        pass
    finally:
        if bar is not None:
            bar.close()
    _print_counts(counts)


def _tracker_counts(pod: POD, text: str) -> progress.Counts:
    if _kind(pod, text) == "POD":
        raise UserError(f"{text} is not a tracker: not every value holds _done, _tries and _aborted")
    return progress.Counts.of_records(_values(pod))


def _print_counts(counts: progress.Counts) -> None:
    bar = progress.static_bar(counts)
    if bar:
        print(bar)
    share = (lambda n: 100 * n / counts.total) if counts.total else (lambda n: 0.0)
    for name in ("done", "tried", "aborted", "todo"):
        n = getattr(counts, name)
        print(f"{name:<8}{n:>12,}  {share(n):6.2f} %")
    print(f"{'total':<8}{counts.total:>12,}")


def _failure_items(text: str) -> Iterator[tuple[Any, Any]]:
    """``(key, record)`` that may hold a failure: on a folder, only records whose text names one."""
    if is_target(text):
        with _redis(text) as pod:
            yield from ((key, unwrap(value)) for key, value in pod.items())
        return
    with contextlib.closing(Store(_tastypy_folder(text).absolute(), read_only=True)) as store:
        yield from retry.folder_items(store.items())


def _run_failures(args: argparse.Namespace) -> None:
    groups = retry.groups(_failure_items(args.path), args.by)
    if not groups:
        print(f"{args.path}: no failures")
        return
    width = max(len(name) for name in groups)
    print(f"{'keys':>8} {'aborted':>8}  {args.by:<{width}}  example key")
    for name, group in groups.items():
        print(f"{group.count:>8,} {group.aborted:>8,}  {name:<{width}}  {_json(group.example)}")


def _run_retry(args: argparse.Namespace) -> None:
    if is_target(args.path):
        with _redis(args.path) as tracker:
            items = ((key, unwrap(value)) for key, value in tracker.items())
            keys = list(retry.chosen(items, args.aborted, args.error))
            n = len(keys) if args.dry_run else tracker.retry(keys)
    else:
        # On the folder's texts: only the chosen records are decoded, changed
        # and written, as the writer (a running job refuses it). In commits of
        # a shard's size: each is a journal append, where one commit of them
        # all would rewrite every shard; a retry cut short is run again.
        path = _tastypy_folder(args.path).absolute()
        with contextlib.closing(Store(path, read_only=args.dry_run)) as store:
            changes = retry.reset_texts(store.items(), args.aborted, args.error)
            if not args.dry_run:
                for start in range(0, len(changes), store.file_size):
                    with exits.critical():
                        store.commit(changes[start : start + store.file_size])
        n = len(changes)
    if args.dry_run:
        print(f"{args.path}: would retry {n:,} keys")
    else:
        print(f"{args.path}: {n:,} keys to do again")


def _run_compact(args: argparse.Namespace) -> None:
    _folder_only(args.path, "compact")
    path = _tastypy_folder(args.path)
    _run_check(args, quiet=True)  # a damaged folder is left as it is
    try:
        store = Store(path.absolute())
    except LockedError:
        raise UserError(
            f"{args.path} is held by a writer (process {writer_pid(path)}): compact it once that process ends"
        ) from None
    try:
        before = store.info()["bytes"]
        if not store.compact():
            print(f"{args.path}: nothing to compact ({before:,} bytes)")
            return
        after = store.info()["bytes"]
    finally:
        store.close()
    print(f"{args.path}: compacted, {before:,} -> {after:,} bytes")


def _run_demo(args: argparse.Namespace) -> int:
    from tastypy import demo

    if args.redis is not None:
        if args.use_async:
            raise UserError("--async runs on a folder; leave out --redis")
        if is_target(args.redis) or not is_target(f"{args.redis}#{args.folder}"):
            raise UserError(f"--redis takes a Redis URL (redis://host:6379/0), not {args.redis!r}")
        try:
            return demo.run(
                args.folder, pages=args.pages, workers=args.workers, fail_rate=args.fail_rate,
                seed=args.seed, redis=args.redis,
            )
        except (ValueError, ImportError) as exc:
            raise UserError(str(exc)) from None
    if Path(args.folder).expanduser().exists():
        with _reader(args.folder) as pod:
            if _kind(pod, args.folder) == "POD":
                raise UserError(f"{args.folder} holds a POD, not the demo's tracker: choose another folder")
    return (demo.run_async if args.use_async else demo.run)(
        Path(args.folder).expanduser(), pages=args.pages, workers=args.workers,
        fail_rate=args.fail_rate, seed=args.seed,
    )


def _run_serve(args: argparse.Namespace) -> None:
    from tastypy.serve.server import Server
    from tastypy.serve.watch import open_watch

    if args.every <= 0:
        raise UserError(f"--every takes a number of seconds above 0, not {args.every}")
    if not is_target(args.path):
        _tastypy_folder(args.path)
    try:
        watch = open_watch(args.path)
    except (ValueError, ImportError) as exc:
        raise UserError(str(exc)) from None
    try:
        server = Server(watch, host=args.host, port=args.port, allow_write=args.allow_write, every=args.every)
    except BaseException:
        watch.close()
        raise
    with server:
        fragment = f"#token={server.token}" if server.token else ""
        shown = _masked(args.path) if is_target(args.path) else args.path
        print(f"serving {shown} at {server.url}{fragment}", flush=True)
        print("read-only" if server.token is None else "writes allowed with this token", "(Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
