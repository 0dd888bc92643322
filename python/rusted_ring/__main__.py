"""``python -m rusted_ring stats``: a table of ring statistics, once or like ``top``;
``python -m rusted_ring unlink``: remove shared rings by name;
``python -m rusted_ring bridge out|in``: carry a ring through NATS JetStream.

    python -m rusted_ring stats                     # every shared ring in /dev/shm
    python -m rusted_ring stats --shared strokes    # a ring in shared memory, any process's
    python -m rusted_ring stats --pools             # the default pools of a new process
    python -m rusted_ring stats --shared strokes --watch --interval 0.5
    python -m rusted_ring stats --shared strokes --json
    python -m rusted_ring unlink strokes            # e.g. left behind by a crashed writer

``unlink`` removes each name as ``Ring.unlink_shared`` does: processes that have
the ring open keep using it, and its memory goes with the last of them. It
prints one line per name removed; a name that does not exist (or cannot be
removed) gets one line on stderr, and the exit status is then 1.

``bridge out`` reads a shared ring through a durable reader (``bridge>STREAM``,
or ``--reader``) and publishes its events to a JetStream stream; ``bridge in``
writes a stream's events into a shared ring through a durable consumer (see
rusted_ring.bridge for the guarantees and the framing, which need
``pip install 'rusted_ring[bridge]'``):

    python -m rusted_ring bridge out --shared strokes --nats nats://127.0.0.1:4222 --stream STROKES
    python -m rusted_ring bridge in --nats nats://host:4222 --stream STROKES --shared strokes \
        --create 64,65536 [--from-start | --from-sequence N | --from-time T] [--reset]

Both run until SIGTERM or SIGINT (Ctrl-C), then stop cleanly (``out`` waits for
the messages in flight and parks its reader) and exit 0; ``--metrics-port``
serves Prometheus metrics (rusted_ring.bridge.prometheus_collector), and
``--stats SECONDS`` prints the bridge's stats as JSON lines on stderr. Exit
status 1 with a message on stderr when the bridge cannot go on (no server, no
stream, a message of another format, an event too large for the ring, ...).

``--json`` prints one JSON object (with ``--watch``, one object per line per
refresh). Exit status of ``stats``: 0 on success and on Ctrl-C in ``--watch``, 1 when the
shared ring cannot be opened (missing, or a segment that is not a rusted_ring
ring) or /dev/shm cannot be read, 2 for bad arguments.

Without ``--shared`` or ``--pools`` the command lists every rusted_ring ring in
/dev/shm, where POSIX shared memory lives: each file there is opened as
``Ring.open_shared`` opens it, without waiting (a ring still being created is
skipped) and only if this user owns it (``--allow-other-user`` lists the others'
too). Anything else there -- other programs' segments, files too short or damaged
to be a ring, files that cannot be opened -- is skipped and counted (``--json``
says why for each). Opening a file that is not a ring reads its first bytes and
changes nothing in it, and the listing never closes a ring.

The default pools belong to each process and are created on first use, so
``--pools`` shows what a new process gets: the configured capacities and slot
sizes, before any pool exists. Watch a running program's pools from inside it
(rusted_ring.Monitor, rusted_ring.snapshot) or share a ring by name.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import _core
from .monitor import PressureLevel
from .snapshots import followed
from .stats import PoolStats, SystemHealth, health_check

PROG = "python -m rusted_ring"
SHM_DIR = "/dev/shm"              # where glibc's shm_open keeps POSIX shared memory
BRIDGE_MARKER_PREFIX = "rusted_ring.bridge."   # bridge in's markers (rusted_ring/bridge.py)
_CLEAR = "\x1b[H\x1b[2J"          # cursor home, clear the screen
_STATE = {PressureLevel.NORMAL: "ok", PressureLevel.UNDER_PRESSURE: "under pressure",
          PressureLevel.THROTTLE: "THROTTLE"}


# ---- reports: plain data, what --json prints --------------------------------------------

def pools_report() -> dict[str, Any]:
    """The default pools of this process as plain data."""
    stats = PoolStats.collect_all()
    pools = [{**s.as_dict(), "exists": s.exists, "health": s.health.name} for s in stats]
    return {"timestamp": time.time(), "health": health_check(stats).name, "pools": pools}


def ring_report(ring: _core.Ring) -> dict[str, Any]:
    """`ring.stats()` as plain data, with the health and each reader's pressure level."""
    stats = ring.stats()
    for reader in stats["readers"]:
        reader["level"] = PressureLevel.of(reader["backpressure"]).name
    health = SystemHealth.from_backpressure(stats["max_backpressure"]).name
    return {"timestamp": time.time(), "health": health, **stats}


def shm_report(allow_other_user: bool = False, folder: str = SHM_DIR) -> dict[str, Any]:
    """Every rusted_ring ring in `folder` (/dev/shm) as plain data, and what was skipped.

    Each ring is opened by name, read and dropped (never closed); a name removed
    while the listing runs is left out.
    """
    rings: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    with os.scandir(folder) as entries:
        names = sorted((e.name, e.is_file(follow_symlinks=False)) for e in entries)
    for name, regular in names:
        if not regular:           # a folder, a link, a FIFO: shm_open never makes one
            skipped.append({"name": name, "reason": "not a regular file"})
            continue
        if name.startswith(BRIDGE_MARKER_PREFIX):
            skipped.append({"name": name, "reason": "the marker of a bridge in: how far it wrote "
                            "the stream into its ring (bridge in --reset clears it)"})
            continue
        try:
            ring = _core.Ring.open_shared(name, timeout=0, allow_other_user=allow_other_user)
        except _core.SharedMemoryNotFound:
            continue              # removed since the folder was read
        except _core.SharedMemoryForeignOwner as e:
            skipped.append({"name": name, "reason": f"{e.strerror} (--allow-other-user lists it)"})
            continue
        except (_core.SharedMemoryError, OSError, ValueError) as e:
            skipped.append({"name": name, "reason": str(e)})
            continue
        s = ring.stats()
        del ring
        rings.append({
            "name": s["name"], "slot_size": s["slot_size"], "capacity": s["capacity"],
            "mode": s["mode"], "producers": s["producers"], "memory_bytes": s["memory_bytes"],
            "published": s["published"], "writer_alive": s["writer_alive"],
            "writer_pid": s["writer_pid"], "writer_processes": s["writer_processes"],
            "reader_count": s["reader_count"], "max_backpressure": s["max_backpressure"],
            "closed": s["closed"],
            "health": SystemHealth.from_backpressure(s["max_backpressure"]).name,
        })
    return {"timestamp": time.time(), "folder": folder, "rings": rings, "skipped": skipped}


# ---- tables ---------------------------------------------------------------------------

def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers and percentages right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float)) or str(row[i]).endswith("%")
                                  for row in rows)
               for i in range(len(headers))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric))
             for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def pools_table(report: dict[str, Any]) -> str:
    """The text of `pools_report()`."""
    rows = [(p["pool_id"], p["slot_size"], p["capacity"],
             _size(p["memory_bytes"]) if p["exists"] else "not created",
             p["published"], p["reader_count"], _percent(p["current_backpressure"]), p["health"])
            for p in report["pools"]]
    table = _table(("POOL", "SLOT", "CAPACITY", "MEMORY", "PUBLISHED", "READERS", "BACKPRESSURE",
                    "HEALTH"), rows)
    return f"default pools of process {os.getpid()}    health {report['health']}\n\n{table}"


def _writer(ring: dict[str, Any]) -> str:
    if not ring["writer_alive"]:
        return "none"
    if ring["producers"] == "single" and ring["writer_pid"]:
        return f"pid {ring['writer_pid']}"
    n = ring["writer_processes"]
    return f"{n} process{'es' if n != 1 else ''}"


def shm_table(report: dict[str, Any]) -> str:
    """The text of `shm_report()`."""
    rows = [(r["name"], r["slot_size"], r["capacity"], r["mode"], r["producers"], _writer(r),
             r["reader_count"], r["published"], _size(r["memory_bytes"]), r["health"],
             "closed" if r["closed"] else "open")
            for r in report["rings"]]
    if rows:
        text = _table(("NAME", "SLOT", "CAPACITY", "MODE", "PRODUCERS", "WRITER", "READERS",
                       "PUBLISHED", "MEMORY", "HEALTH", "STATE"), rows)
    else:
        text = f"no rusted_ring rings in {report['folder']}"
    if report["skipped"]:
        n = len(report["skipped"])
        text += (f"\n\n{n} other file{'s' if n != 1 else ''} in {report['folder']} skipped: not "
                 f"rusted_ring rings, or not readable here (--json says why)")
    return text


def ring_table(report: dict[str, Any]) -> str:
    """The text of `ring_report()`."""
    r = report
    writer = (f"writer pid {r['writer_pid']}" if r["writer_pid"] else f"{r['writers']} writer(s)")
    lines = [
        f"ring {r['name'] or '(unnamed)'}    {r['mode']}, {r['producers']} producer    "
        f"{writer} ({'alive' if r['writer_alive'] else 'none alive'})    "
        f"writer wait {r['writer_wait']}"
        f"{'    CLOSED' if r['closed'] else ''}",
        f"capacity {r['capacity']} x {r['slot_size']} bytes    memory {_size(r['memory_bytes'])}    "
        f"published {r['published']}    writer stalls {r['writer_stalls']}    "
        f"readers evicted {r['readers_evicted']}    abandoned {r['abandoned']} "
        f"(dead producers {r['claims_recovered']})    upstream lost {r['upstream_lost']}",
        f"readers {r['reader_count']}    max backpressure {_percent(r['max_backpressure'])}    "
        f"health {r['health']}",
    ]
    if r["readers"]:
        names = {e["index"]: e["name"] for e in r["readers"]}
        rows = [(e["index"], e["name"] or "-", e["pid"],
                 "parked" if e["parked"] else "yes" if e["alive"] else "NO",
                 e["cursor"], e["lag"], e["pinned"], e["lost"], _percent(e["backpressure"]),
                 _STATE[PressureLevel[e["level"]]], e["wait"],
                 ",".join(str(x) for x in followed(e["after"], names)) or "-",
                 "yes" if e["writable"] else "-", "yes" if e["durable"] else "-")
                for e in r["readers"]]
        lines += ["", _table(("READER", "NAME", "PID", "ALIVE", "CURSOR", "LAG", "PINNED", "LOST",
                              "BACKPRESSURE", "STATE", "WAIT", "AFTER", "WRITES", "DURABLE"),
                             rows)]
    else:
        lines += ["", "no readers"]
    return "\n".join(lines)


# ---- the command ----------------------------------------------------------------------

def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="rusted_ring tools.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stats = commands.add_parser(
        "stats", help="print ring statistics",
        description="List every rusted_ring ring in /dev/shm (the default), or print a table "
                    "of one ring in shared memory (--shared), or of the default pools "
                    "(--pools: those of a new process, their configuration).")
    which = stats.add_mutually_exclusive_group()
    which.add_argument("--shared", metavar="NAME",
                       help="a shared ring's name, as given to Ring.create_shared (e.g. strokes)")
    which.add_argument("--pools", action="store_true",
                       help="the default pools a new process gets")
    stats.add_argument("--allow-other-user", action="store_true",
                       help="open shared rings even if another user owns their segments")
    stats.add_argument("--json", action="store_true",
                       help="print JSON for scripts (with --watch: one object per line)")
    stats.add_argument("--watch", action="store_true",
                       help="refresh in place like top until Ctrl-C")
    stats.add_argument("-i", "--interval", type=_positive, default=1.0, metavar="SECONDS",
                       help="seconds between refreshes with --watch (default 1)")
    stats.add_argument("-n", "--count", type=_count, metavar="N",
                       help="with --watch, stop after N refreshes")
    unlink = commands.add_parser(
        "unlink", help="remove shared rings by name",
        description="Remove shared rings' names, as Ring.unlink_shared does (for example a ring "
                    "left behind by a process that crashed, which create_shared then reports as "
                    "existing). Processes that have a ring open keep using it.")
    unlink.add_argument("names", nargs="+", metavar="NAME",
                        help="a shared ring's name, as given to Ring.create_shared (e.g. strokes)")
    bridge = commands.add_parser(
        "bridge", help="carry a shared ring through NATS JetStream",
        description="Publish a shared ring's events to a JetStream stream (out), or write a "
                    "stream's events into a shared ring (in); exactly once, in order.")
    ways = bridge.add_subparsers(dest="direction", metavar="DIRECTION", required=True)
    out = ways.add_parser("out", help="a shared ring -> a JetStream stream",
                          description="Read a shared ring through a durable reader and publish "
                                      "its events to a JetStream stream.")
    inn = ways.add_parser("in", help="a JetStream stream -> a shared ring",
                          description="Write a JetStream stream's events into a shared ring "
                                      "through a durable consumer.")
    for p in (out, inn):
        p.add_argument("--nats", required=True, metavar="URL",
                       help="the NATS server, e.g. nats://127.0.0.1:4222")
        p.add_argument("--stream", required=True, metavar="STREAM", help="the JetStream stream")
        p.add_argument("--shared", required=True, metavar="NAME", help="the shared ring's name")
        p.add_argument("--connect-timeout", type=_positive, default=5.0, metavar="SECONDS",
                       help="give up connecting after this long (default 5)")
        p.add_argument("--metrics-port", type=int, metavar="PORT",
                       help="serve Prometheus metrics on this port")
        p.add_argument("--stats", type=_positive, metavar="SECONDS",
                       help="print the bridge's stats as a JSON line on stderr this often")
    out.add_argument("--subject", metavar="S", help="the subject (default rusted_ring.NAME)")
    out.add_argument("--reader", metavar="NAME",
                     help="the durable reader's name (default bridge>STREAM; 31 bytes at most)")
    out.add_argument("--no-create-stream", action="store_true",
                     help="fail if the stream does not exist (default: create it, file storage)")
    out.add_argument("--takeover", action="store_true",
                     help="publish even if the stream's last message comes from another "
                          "source (host or ring); default: refuse, one Out per stream")
    inn.add_argument("--create", metavar="SLOT_SIZE,CAPACITY",
                     help="create the ring if it does not exist (else check that it has these)")
    inn.add_argument("--durable", metavar="NAME",
                     help="the durable consumer's name (default rr-HOST-NAME: one per "
                          "machine and ring)")
    inn.add_argument("--subject", metavar="S", help="only this subject of the stream")
    start = inn.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true",
                       help="a new consumer starts at the stream's first message (the default)")
    start.add_argument("--from-sequence", type=_count, metavar="N",
                       help="a new consumer starts at stream sequence N (JetStream's, from 1)")
    start.add_argument("--from-time", metavar="T",
                       help="a new consumer starts at the first message stored at or after T "
                            "(ISO 8601, UTC unless it says; or unix seconds)")
    inn.add_argument("--reset", action="store_true",
                     help="delete the durable consumer and clear the marker first, to start "
                          "again as asked")
    return parser


def unlink_command(args: argparse.Namespace) -> int:
    """Run ``unlink`` with parsed arguments; returns the exit status."""
    status = 0
    for name in args.names:
        try:
            _core.Ring.unlink_shared(name)
        except _core.SharedMemoryNotFound:
            print(f"{PROG} unlink: no shared ring named {name!r}", file=sys.stderr)
            status = 1
        except (ValueError, OSError) as e:   # a bad name, or a segment we may not remove
            print(f"{PROG} unlink: cannot remove {name!r}: {e}", file=sys.stderr)
            status = 1
        else:
            print(f"removed shared ring {name!r}")
    return status


def _open_shared(name: str, allow_other_user: bool = False) -> _core.Ring:
    """Open a shared ring for reading its stats, or exit 1 saying why not."""
    try:
        return _core.Ring.open_shared(name, allow_other_user=allow_other_user)
    except _core.SharedMemoryNotFound:
        _fail(f"no shared ring named {name!r}; is the process that creates it running?")
    except _core.SharedMemoryForeignOwner as e:
        _fail(f"cannot open shared ring {name!r}: {e.strerror} (--allow-other-user opens it anyway)")
    except _core.SharedMemoryError as e:
        _fail(f"cannot open shared ring {name!r}: {e}")
    except ValueError as e:       # a name the core rejects, saying which rule it breaks
        _fail(f"bad shared ring name {name!r}: {e}")
    raise AssertionError("unreachable")


def _listing(allow_other_user: bool) -> dict[str, Any]:
    """`shm_report()`, or exit 1 when /dev/shm cannot be read."""
    try:
        return shm_report(allow_other_user)
    except OSError as e:
        _fail(f"cannot list {SHM_DIR}: {e.strerror or e}")
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    print(f"{PROG} stats: {message}", file=sys.stderr)
    raise SystemExit(1)


def _show(report: dict[str, Any], render: Callable[[dict[str, Any]], str], args: argparse.Namespace,
          watching: bool) -> None:
    out = sys.stdout
    if args.json:
        out.write(json.dumps(report, separators=(",", ":")) if watching
                  else json.dumps(report, indent=2))
        out.write("\n")
    else:
        text = render(report)
        if watching:
            stamp = time.strftime("%H:%M:%S", time.localtime(report["timestamp"]))
            text = (f"{PROG} stats    {stamp}    every {args.interval:g} s, Ctrl-C quits\n\n"
                    f"{text}\n")
            out.write(_CLEAR + text if out.isatty() else text + "\n")
        else:
            out.write(text + "\n")
    out.flush()


def stats_command(args: argparse.Namespace) -> int:
    """Run ``stats`` with parsed arguments; returns the exit status."""
    if args.shared is not None:
        # Reading stats only: the handle is dropped, never closed (close() would
        # end the stream for every process using the ring).
        ring = _open_shared(args.shared, args.allow_other_user)
        report: Callable[[], dict[str, Any]] = functools.partial(ring_report, ring)
        render = ring_table
    elif args.pools:
        report, render = pools_report, pools_table
    else:
        report, render = functools.partial(_listing, args.allow_other_user), shm_table
    if not args.watch:
        _show(report(), render, args, watching=False)
        return 0
    shown = 0
    try:
        while True:
            _show(report(), render, args, watching=True)
            shown += 1
            if args.count is not None and shown >= args.count:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def _geometry(text: str) -> tuple[int, int]:
    try:
        slot, cap = (int(x) for x in text.split(","))
    except ValueError:
        raise SystemExit(f"{PROG} bridge in: --create takes SLOT_SIZE,CAPACITY (e.g. 64,65536), "
                         f"not {text!r}") from None
    return slot, cap


def bridge_command(args: argparse.Namespace) -> int:
    """Run ``bridge out`` / ``bridge in`` until SIGTERM/SIGINT; returns the exit status."""
    import asyncio
    import signal

    try:
        from . import bridge
    except ImportError as e:
        print(f"{PROG} bridge: {e}", file=sys.stderr)
        return 1
    me = f"{PROG} bridge {args.direction}"

    def fail(message: str) -> int:
        print(f"{me}: {message}", file=sys.stderr)
        return 1

    try:
        if args.direction == "in" and args.create:
            slot, cap = _geometry(args.create)
            ring = _core.Ring.create_shared(args.shared, slot, cap, exist_ok=True)
        else:
            ring = _core.Ring.open_shared(args.shared)
    except _core.SharedMemoryNotFound:
        hint = " (--create SLOT_SIZE,CAPACITY creates it)" if args.direction == "in" else ""
        return fail(f"no shared ring named {args.shared!r}{hint}")
    except (_core.SharedMemoryError, ValueError) as e:
        return fail(f"shared ring {args.shared!r}: {e}")

    b: bridge.Out | bridge.In
    reader: _core.Reader | None = None
    writer: _core.Writer | None = None
    if args.direction == "out":
        name = args.reader or f"bridge>{args.stream}"
        if len(name.encode()) > 31:
            return fail(f"the reader name {name!r} is {len(name.encode())} bytes; reader names "
                        "hold 31 at most: name one with --reader")
        try:
            reader = ring.reader(name=name, durable=True)
        except (_core.RingError, ValueError) as e:
            return fail(f"cannot open the durable reader {name!r} of {args.shared!r}: {e}")
        b = bridge.Out(reader, args.nats, args.stream, subject=args.subject,
                       create_stream=not args.no_create_stream,
                       connect_timeout=args.connect_timeout, takeover=args.takeover)
    else:
        try:
            writer = ring.writer()
        except _core.RingError as e:
            return fail(f"cannot write to {args.shared!r}: {e}")
        try:
            b = bridge.In(writer, args.nats, args.stream, durable=args.durable,
                          from_start=args.from_start, from_sequence=args.from_sequence,
                          from_time=args.from_time, reset=args.reset, subject=args.subject,
                          connect_timeout=args.connect_timeout)
        except ValueError as e:
            return fail(str(e))
    if args.metrics_port is not None:
        from prometheus_client import CollectorRegistry, start_http_server
        registry = CollectorRegistry()
        registry.register(bridge.prometheus_collector(b))
        try:
            start_http_server(args.metrics_port, registry=registry)
        except OSError as e:
            for end in (reader, writer):
                if end is not None:
                    end.close()
            return fail(f"cannot serve metrics on port {args.metrics_port}: {e.strerror or e}")

    async def run() -> int:
        import nats.errors
        import nats.js.errors
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(b.run())
        signals = 0

        def on_signal() -> None:
            # the first one stops (Out: waits a while for the acks in flight),
            # a second one cancels at once
            nonlocal signals
            signals += 1
            if signals == 1:
                asyncio.ensure_future(b.stop())
            else:
                task.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)

        async def report() -> None:
            while True:
                await asyncio.sleep(args.stats)
                print(json.dumps(b.stats()), file=sys.stderr, flush=True)
        reporter = asyncio.ensure_future(report()) if args.stats else None
        try:
            await task
        except bridge.BridgeError as e:
            return fail(str(e))
        except asyncio.CancelledError:
            if signals < 2:
                raise
            return fail("stopped by a second signal before every message in flight was "
                        "done; what was not is taken again at the next start")
        except (_core.RingError, OSError, nats.errors.Error, nats.js.errors.Error) as e:
            return fail(f"{type(e).__name__}: {e}")
        finally:
            if reporter is not None:
                reporter.cancel()
            await b.close()
        print(json.dumps(b.stats()), file=sys.stderr, flush=True)
        return 0

    try:
        rc = asyncio.run(run())
    finally:
        held = b.unreleased() if isinstance(b, bridge.Out) else 0
        if held:
            # Letting go of their blocks would release them: end with the
            # reader open, so the durable reader resumes at them.
            print(f"{me}: {held} events were not acked by JetStream; the next start "
                  "publishes them again", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(1)
        if reader is not None:
            reader.close()     # a durable reader parks
        if writer is not None:
            writer.close()
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "stats":
            return stats_command(args)
        if args.command == "unlink":
            return unlink_command(args)
        if args.command == "bridge":
            return bridge_command(args)
        raise AssertionError(f"unknown command {args.command}")
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
