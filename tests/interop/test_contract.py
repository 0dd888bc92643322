"""The same value means the same thing in Python and Lua.

Each case runs one child process per language (children/py_contract.py and
children/lua_contract.lua) against a shared ring this test made:

- Timeouts: a table of values (None / nil, 0, 0.001, inf, -1, nan, -0.0) fed
  to next() on an empty ring and to add() on a full one must give the same
  outcome in both languages, and a negative or NaN value the same message (the
  core's). None / nil is each language's documented default: for Python's
  next() and add(), wait without limit; for Lua's, don't wait. A call that must
  wait is proven to wait: the test lets it go on only once the child is asleep
  in the kernel (state S), by publishing an event or releasing a slot.
- Stats: the keys of ring:stats() and of each reader entry are the same in both
  languages, and a Python reader's pinned events are what Lua sees.
- Thresholds and health bands: the same answers at and around 0.5, 0.8 and 0.9.
- Durable readers: the same refusals with the core's messages (a durable
  reader without a name, a plain opener of a parked name, a durable opener of
  a live name, drop_reader of an unknown or plain reader), the same instance,
  and either language resumes the other's parked reader at its place.
- Wait strategies: the same names open a reader and a writer that wait the same
  way in both languages, each says its own, this process's stats of the shared
  ring show them, and an unknown name is refused with the core's message.
"""
import math

import pytest

import rusted_ring as rr
from conftest import LIMIT, asleep, wait_until

LANGS = ["python", "lua"]
VALUES = ["none", "0", "0.001", "inf", "-1", "nan", "-0.0"]

# What each value does, by operation: "waits" (until the test lets it go on),
# "nothing" / "full" (gives up: at once, or after waiting its timeout), "error".
EXPECTED = {
    "next": {"0": "nothing", "0.001": "nothing", "inf": "waits", "-1": "error", "nan": "error",
             "-0.0": "nothing"},
    "add": {"0": "full", "0.001": "full", "inf": "waits", "-1": "error", "nan": "error",
            "-0.0": "full"},
}
DEFAULTS = {("python", "next"): "waits", ("python", "add"): "waits",
            ("lua", "next"): "nothing", ("lua", "add"): "full"}
OUTCOME_OF_A_WAIT = {"next": "event", "add": "ok"}


def start(spawn, lang, *args):
    return spawn.py("py_contract.py", *args) if lang == "python" else spawn.lua("lua_contract.lua", *args)


def expected(lang, op, value):
    return DEFAULTS[(lang, op)] if value == "none" else EXPECTED[op][value]


def run_case(shm, spawn, lang, op, value):
    """Run one child's call; let a waiting call go on once it sleeps. Returns its outcome."""
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 1)
    gate = ring.reader()                      # gates the ring: add() finds it full
    if op == "add":
        w = ring.writer()
        w.add(b"fills the slot")
        w.close()                             # the child's writer is the ring's next one
    child = start(spawn, lang, name, op, value)
    assert child.read_json() == {"ready": True}
    if expected(lang, op, value) == "waits":
        wait_until(lambda: asleep(child.pid) or not child.running(), LIMIT,
                   "the child to wait in its call")
        if child.running():
            if op == "next":
                ring.writer().add(b"let it go")
            else:
                # read the event, let it go, and move past it: the slot is free (an
                # Event still referenced would keep it pinned)
                assert gate.next() is not None
                # moving past it frees the slot; the woken child may publish at once,
                # so this call can already return the child's event
                gate.next()
    got = child.finish()
    ring.close()
    return got


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("op", ["next", "add"])
def test_a_timeout_value_means_the_same_in_python_and_lua(shm, spawn, op, value):
    outcomes = {}
    for lang in LANGS:
        got = run_case(shm, spawn, lang, op, value)
        want = expected(lang, op, value)
        want = OUTCOME_OF_A_WAIT[op] if want == "waits" else want
        assert got["outcome"] == want, (lang, got)
        if value == "0.001" and lang == "python":
            assert got["elapsed"] >= 0.001, got           # it waited its timeout
        if value in ("0.001", "0", "-0.0") and lang == "lua":
            assert got["message"] == ("timeout" if value == "0.001" else
                                      "empty" if op == "next" else "full"), got
        outcomes[lang] = got
    if expected("python", op, value) == "error":
        # the core's message, word for word, in both languages
        assert outcomes["python"]["message"] in outcomes["lua"]["message"], outcomes
        assert outcomes["python"]["message"].startswith("timeout must be")


def test_stats_keys_are_the_same_in_python_and_lua(shm, spawn):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 4)
    w, r = ring.writer(), ring.reader()
    for i in range(4):
        w.add(b"%d" % i)
    kept = [r.next(), r.next()]                # two events the Python reader keeps
    py = start(spawn, "python", name, "stats").finish()
    lua = start(spawn, "lua", name, "stats").finish()
    assert sorted(py["ring"]) == lua["ring"]
    assert [sorted(k) for k in py["reader"]] == lua["reader"] and len(lua["reader"]) == 1
    assert "pinned" in lua["reader"][0] and "name" in lua["ring"]
    assert py["pinned"] == lua["pinned"] == [len(kept)]
    assert py["name"] == lua["name"] == f"/{name}"
    ring.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_wait_strategy_means_the_same_in_python_and_lua_and_stats_show_it(shm, spawn, lang):
    for reader_wait, writer_wait in (("yield", "sleep"), ("spin", "block"), ("sleep", "yield"),
                                     ("block", "spin")):
        name = shm()
        ring = rr.Ring.create_shared(name, 16, 8, producers="multi")
        mine = ring.writer()                   # opened before the child's: the child's is the last
        child = start(spawn, lang, name, "wait", reader_wait, writer_wait)
        assert child.read_json() == {"ready": True, "reader": reader_wait, "writer": writer_wait}
        s = ring.stats()
        assert [e["wait"] for e in s["readers"] if e["pid"] == child.pid] == [reader_wait]
        assert s["writer_wait"] == writer_wait
        mine.add(b"go")                        # the child's reader waits for it by its strategy
        assert child.finish() == {"outcome": "go"}
        ring.close()


def test_an_unknown_wait_strategy_is_refused_with_the_same_message_in_python_and_lua(spawn):
    py = start(spawn, "python", "-", "badwait", "busy").finish()["messages"]
    lua = start(spawn, "lua", "-", "badwait", "busy").finish()["messages"]
    core = 'wait must be "block", "yield", "spin" or "sleep", got "busy"'
    assert py == [core, core]                  # the core's message, as is
    assert core in lua[0] and core in lua[1] and lua[0].startswith("ring:reader")


def test_thresholds_and_health_bands_are_the_same_in_python_and_lua(spawn):
    ratios = [0.0, 0.4999, 0.5, 0.7999, 0.8, math.nextafter(0.8, 1), 0.85, math.nextafter(0.9, 0),
              0.9, 1.0, math.nan]
    args = ["-", "bands"] + [repr(x) for x in ratios]
    py = start(spawn, "python", *args).finish()
    lua = start(spawn, "lua", *args).finish()
    assert py["bands"] == lua["bands"]
    assert [b[2] for b in py["bands"]] == ["EXCELLENT", "EXCELLENT", "GOOD", "GOOD", "GOOD", "WARNING",
                                           "WARNING", "WARNING", "CRITICAL", "CRITICAL", "CRITICAL"]
    assert py["bands"][-1] == [True, True, "CRITICAL"]   # NaN: the worst, in all three


@pytest.mark.parametrize("lang", LANGS)
def test_durable_readers_are_refused_and_resumed_the_same_way_in_python_and_lua(shm, spawn, lang):
    name = shm()
    ring = rr.Ring.create_shared(name, 16, 8)
    w = ring.writer()
    for i in range(5):
        w.add(b"event %d" % i)
    parked = ring.reader(name="parked", durable=True)
    parked.next_batch(2)
    parked.next()                       # released 0 and 1, handed out 2
    parked.close()
    plain = ring.reader(name="plain")
    w.close()
    got = start(spawn, lang, name, "durable").finish()
    m = got["messages"]
    core = [
        "a durable reader needs a name",
        "reader 'parked' is a parked durable reader (entry 0); open it with durable set to "
        "resume it where it stopped, or drop it (drop_reader)",
        "the ring already has a reader named 'plain'",
        "the ring has no reader named 'nobody' to drop",
        "reader 'plain' is not durable",
    ]
    for message, want in zip(m, core):
        assert want in message, (lang, m)
    assert "n must" in m[5] and "-1" in m[5], m
    assert got["instance"] == ring.instance and 0 < ring.instance < 2**63
    assert got["durable"] is True and got["cursor"] == 2
    s = ring.stats()
    assert s["upstream_lost"] == 7 and s["instance"] == ring.instance
    e = next(e for e in s["readers"] if e["name"] == "parked")
    assert e["durable"] and e["parked"]          # the child exited: its close parked it
    plain.close()
    ring.drop_reader("parked")
