"""``python -m rusted_ring stats``: a table of ring statistics, once or like ``top``;
``python -m rusted_ring unlink``: remove shared rings by name.

    python -m rusted_ring stats                     # the default pools of a new process
    python -m rusted_ring stats --shared strokes    # a ring in shared memory, any process's
    python -m rusted_ring stats --shared strokes --watch --interval 0.5
    python -m rusted_ring stats --shared strokes --json
    python -m rusted_ring unlink strokes            # e.g. left behind by a crashed writer

``unlink`` removes each name as ``Ring.unlink_shared`` does: processes that have
the ring open keep using it, and its memory goes with the last of them. It
prints one line per name removed; a name that does not exist (or cannot be
removed) gets one line on stderr, and the exit status is then 1.

``--json`` prints one JSON object (with ``--watch``, one object per line per
refresh). Exit status of ``stats``: 0 on success and on Ctrl-C in ``--watch``, 1 when the
shared ring cannot be opened (missing, or a segment that is not a rusted_ring
ring), 2 for bad arguments.

The default pools belong to each process and are created on first use, so
without ``--shared`` the table shows what a new process gets: the configured
capacities and slot sizes, before any pool exists. Watch a running program's
pools from inside it (rusted_ring.Monitor, rusted_ring.snapshot) or share a
ring by name.
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
from .stats import PoolStats, SystemHealth, health_check

PROG = "python -m rusted_ring"
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
        f"(dead producers {r['claims_recovered']})",
        f"readers {r['reader_count']}    max backpressure {_percent(r['max_backpressure'])}    "
        f"health {r['health']}",
    ]
    if r["readers"]:
        rows = [(e["index"], e["pid"], "yes" if e["alive"] else "NO", e["cursor"], e["lag"],
                 e["pinned"], e["lost"], _percent(e["backpressure"]),
                 _STATE[PressureLevel[e["level"]]], e["wait"])
                for e in r["readers"]]
        lines += ["", _table(("READER", "PID", "ALIVE", "CURSOR", "LAG", "PINNED", "LOST",
                              "BACKPRESSURE", "STATE", "WAIT"), rows)]
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
        description="Print a table of the default pools (those of a new process: their "
                    "configuration), or of a ring in shared memory.")
    stats.add_argument("--shared", metavar="NAME",
                       help="a shared ring's name, as given to Ring.create_shared (e.g. strokes)")
    stats.add_argument("--allow-other-user", action="store_true",
                       help="open the shared ring even if another user owns its segment")
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
    else:
        report, render = pools_report, pools_table
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


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "stats":
            return stats_command(args)
        if args.command == "unlink":
            return unlink_command(args)
        raise AssertionError(f"unknown command {args.command}")
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
