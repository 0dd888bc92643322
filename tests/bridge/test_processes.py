"""The command-line bridges as processes: SIGKILL at random points, Lua at both
ends, SIGTERM, and the command line's errors."""
import asyncio
import json
import random
import signal
import subprocess
import time

import numpy as np
import pytest

import rusted_ring as rr
from conftest import (LIMIT, LUA, PYTHON, CHILD_ENV, REPO, Collector, Feeder, need_lua,
                      scaled, wait_until)
from test_bridge import consumer_idle, default_durable, run, stream_exists, stream_sequences

KILLS = 10


def _kill_run(server, shm, bridges, victim):
    """Source ring -> `bridge out` -> JetStream -> `bridge in` -> destination ring, the
    `victim` bridge killed with SIGKILL at KILLS random points and started again."""
    total = scaled(200_000, 20_000)
    src_name, dst_name = shm("src"), shm("dst")
    src = rr.Ring.create_shared(src_name, 64, 1 << 14)
    dst = rr.Ring.create_shared(dst_name, 64, 1 << 16)
    col = Collector(dst)
    feeder = Feeder(src.writer(), total)
    stream = "K" + victim.upper()
    out_args = ["out", "--shared", src_name, "--nats", server.url, "--stream", stream]
    in_args = ["in", "--shared", dst_name, "--nats", server.url, "--stream", stream,
               "--create", "64,65536"]
    procs = {"out": bridges(*out_args)}
    wait_until(lambda: run(stream_exists(server.url, stream)), LIMIT, "bridge out's stream")
    procs["in"] = bridges(*in_args)
    rng = random.Random(18)
    marks = sorted(rng.sample(range(total // 20, total * 9 // 10), KILLS))
    for mark in marks:
        def progressed():
            feeder.step()
            col.poll()
            for p in procs.values():
                if not p.running():
                    pytest.fail(f"a bridge exited: {p.stderr()}")
            return col.count >= mark
        wait_until(progressed, LIMIT, f"{mark} events", lambda: (col.count, feeder.sent))
        procs[victim].kill(signal.SIGKILL)
        for _ in range(rng.randrange(0, 40)):   # the source goes on meanwhile
            feeder.step()
            col.poll()
        procs[victim] = bridges(*(out_args if victim == "out" else in_args))

    def done():
        feeder.step()
        col.poll()
        return col.count >= total
    wait_until(done, LIMIT, f"all {total} events", lambda: (col.count, feeder.sent))
    # SIGTERM: out flushes and parks its reader; in stops after its message.
    procs["out"].kill(signal.SIGTERM)
    rc, err = procs["out"].finish()
    assert rc == 0, err
    wait_until(lambda: run(consumer_idle(server.url, stream, default_durable(dst_name))), LIMIT,
               "bridge in to take every message")
    procs["in"].kill(signal.SIGTERM)
    rc, err = procs["in"].finish()
    assert rc == 0, err
    col.poll()
    assert dst.published == total == col.count, "each event once in the destination"
    seqs = run(stream_sequences(server.url, stream))
    assert (seqs == np.arange(total)).all(), "each event once in the stream, in order"
    return err


def test_bridge_out_killed_at_ten_random_points_loses_and_duplicates_nothing(server, shm, bridges):
    _kill_run(server, shm, bridges, "out")


def test_bridge_in_killed_at_ten_random_points_loses_and_duplicates_nothing(server, shm, bridges):
    err = _kill_run(server, shm, bridges, "in")
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["direction"] == "in"


def test_a_lua_writer_through_the_python_bridges_to_a_lua_reader(server, shm, bridges):
    """Variable-length payloads with their event types, checked by the Lua reader."""
    need_lua()
    n = scaled(20_000, 2_000)
    src_name, dst_name = shm("lsrc"), shm("ldst")
    rr.Ring.create_shared(src_name, 96, 4096)
    dst = rr.Ring.create_shared(dst_name, 96, 8192)
    out = bridges("out", "--shared", src_name, "--nats", server.url, "--stream", "LUA")
    wait_until(lambda: run(stream_exists(server.url, "LUA")), LIMIT, "bridge out's stream")
    inn = bridges("in", "--shared", dst_name, "--nats", server.url, "--stream", "LUA")
    reader = subprocess.Popen([LUA, str(REPO / "tests/interop/children/lua_reader.lua"),
                               dst_name, "0", str(int(LIMIT))], env=CHILD_ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = subprocess.run([LUA, str(REPO / "tests/interop/children/lua_writer.lua"),
                             src_name, str(n)], env=CHILD_ENV, capture_output=True, text=True,
                            timeout=LIMIT)
    assert writer.returncode == 0, writer.stderr
    wait_until(lambda: dst.published >= n, LIMIT, f"{n} events in the destination",
               lambda: (dst.published, out.stderr(), inn.stderr()))
    rc, err = out.finish()     # the source ring closed: out flushes and ends
    assert rc == 0, err
    dst.close()                # end of stream for the Lua reader
    got, errs = reader.communicate(timeout=LIMIT)
    assert reader.returncode == 0, errs
    seen = json.loads(got.strip().splitlines()[-1])
    assert seen["delivered"] == n and seen["missed"] == 0, seen
    inn.kill(signal.SIGTERM)


def test_the_command_line_says_what_is_wrong(server, shm, bridges):
    name = shm("cli")
    rr.Ring.create_shared(name, 64, 64)
    long = "S" * 30
    rc, err = bridges("out", "--shared", name, "--nats", server.url, "--stream", long).finish()
    assert rc == 1 and "--reader" in err and "31" in err, err
    rc, err = bridges("in", "--shared", shm("none"), "--nats", server.url,
                      "--stream", "X").finish()
    assert rc == 1 and "no shared ring named" in err and "--create" in err, err
    rc, err = bridges("in", "--shared", name, "--nats", server.url, "--stream", "X",
                      "--create", "128,64").finish()
    assert rc == 1 and "shared ring" in err, err
    rc, err = bridges("in", "--shared", name, "--nats", "nats://127.0.0.1:1", "--stream", "X",
                      "--connect-timeout", "1").finish()
    assert rc == 1 and "cannot connect to NATS at nats://127.0.0.1:1" in err, err
    rc, err = bridges("in", "--shared", name, "--nats", server.url, "--stream", "X").finish()
    assert rc == 1 and "no JetStream stream named 'X'" in err, err


def test_bridge_in_replays_from_a_sequence_and_resumes_when_started_again(server, shm, bridges):
    from test_bridge import _publish
    _publish(server, "CLIRP", 1000)             # 10 messages of 100 events
    name = shm("replay")
    args = ["in", "--nats", server.url, "--stream", "CLIRP", "--shared", name,
            "--create", "64,4096", "--from-sequence", "4"]
    b = bridges(*args)
    wait_until(lambda: _published(name) >= 700, LIMIT, "700 events", b.stderr)
    b.kill(signal.SIGTERM)
    assert b.finish()[0] == 0
    ring = rr.Ring.open_shared(name)
    col = Collector(ring)
    col.count = 300
    col.poll()
    assert col.count == 1000
    # the same options again: resumes (nothing more to deliver), does not replay
    b = bridges(*args)
    wait_until(lambda: run(consumer_idle(server.url, "CLIRP", default_durable(name))), LIMIT, "bridge in")
    b.kill(signal.SIGTERM)
    rc, err = b.finish()
    assert rc == 0 and ring.published == 700, err
    # other options: an error saying how to reset
    rc, err = bridges(*args[:-2], "--from-start").finish()
    assert rc == 1 and "--reset" in err, err


def _published(name):
    try:
        return rr.Ring.open_shared(name, timeout=0).published
    except rr.SharedMemoryError:
        return 0
