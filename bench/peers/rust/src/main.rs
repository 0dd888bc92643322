//! The Rust seed crate rusted-ring 0.5.6 on the C core's workloads
//! (bench/c/bench_core.c sections a and c), run by bench/run.py in the same
//! benchmark run as the C core.
//!
//!   a. one thread, write-only, 64 B payloads, a ring of 4096 slots nobody
//!      reads: `EventUtils::create_pooled_event::<64>` from a byte buffer then
//!      `Writer::add` (what rr_writer_add does from a buffer), and `Writer::add`
//!      of an event built beforehand;
//!   c. one writer thread -> one reader thread, 64 B: the writer adds events
//!      built from byte buffers, the reader calls `Reader::next` until it has
//!      taken as many events as were written.
//!
//! The seed has no backpressure and no lap detection: its writer never waits
//! and its reader is handed whatever a slot holds. Every payload carries its
//! sequence in its first and last 8 bytes, and the reader counts the events
//! it was handed with the wrong sequence (overwritten before it read them:
//! "stale") and with different first and last words (written while it copied
//! them: "torn"). Those counts are reported, never hidden; the C core's
//! overwrite mode counts the same situation as `lost` and never delivers such
//! an event.
//!
//! Payloads come from a rotating set of buffers stamped SRC_AHEAD events in
//! advance, as in bench_core.c, so neither side pays a store-forwarding stall.
//! Each figure is the best of REPEATS runs of an event count calibrated to
//! take about TARGET_S seconds.
//!
//!   seed_peer [--quick] [--repeats N] [--json FILE]

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rusted_ring::{EventUtils, PooledEvent, Reader, RingBuffer, Writer};

const SLOTS: usize = 4096;
const PAYLOAD: usize = 64;
const SRC_N: usize = 128;
const SRC_AHEAD: usize = 32;
const TARGET_S: f64 = 0.4;
const TARGET_QUICK: f64 = 0.06;
/// A threaded run that makes no progress for this long is reported as stalled.
const STALL: Duration = Duration::from_secs(10);

type Ring = RingBuffer<PAYLOAD, SLOTS>;

struct Config {
    target_s: f64,
    repeats: usize,
}

#[derive(Clone, Default)]
struct RunOut {
    seconds: f64,
    delivered: u64,
    stale: u64,
    torn: u64,
    ok: bool,
    note: String,
}

struct Result {
    section: &'static str,
    name: &'static str,
    events: u64,
    best: RunOut,
}

/// The seed's rings are `&'static`; each run leaks one (512 KiB) on purpose.
fn new_ring() -> &'static Ring {
    Box::leak(Box::new(Ring::new()))
}

fn published(ring: &'static Ring) -> usize {
    // The seed exposes its cursor as a public UnsafeCell; read it once the
    // writer is done (the same thread, or after join).
    unsafe { *ring.published_sequence.get() }
}

/// SRC_N payload buffers; buffer k % SRC_N carries sequence k at both ends.
struct Source {
    bufs: Vec<[u8; PAYLOAD]>,
}

impl Source {
    fn new() -> Self {
        let mut s = Source { bufs: vec![[0xA5u8; PAYLOAD]; SRC_N] };
        for k in 0..SRC_AHEAD as u64 {
            s.stamp(k);
        }
        s
    }
    #[inline(always)]
    fn stamp(&mut self, k: u64) {
        let b = &mut self.bufs[k as usize % SRC_N];
        b[..8].copy_from_slice(&k.to_ne_bytes());
        b[PAYLOAD - 8..].copy_from_slice(&k.to_ne_bytes());
    }
    /// Event i's payload; stamps event i + SRC_AHEAD for later.
    #[inline(always)]
    fn one(&mut self, i: u64) -> &[u8; PAYLOAD] {
        self.stamp(i + SRC_AHEAD as u64);
        &self.bufs[i as usize % SRC_N]
    }
}

fn head_tail(ev: &PooledEvent<PAYLOAD>) -> (u64, u64) {
    let head = u64::from_ne_bytes(ev.data[..8].try_into().unwrap());
    let tail = u64::from_ne_bytes(ev.data[PAYLOAD - 8..].try_into().unwrap());
    (head, tail)
}

// ---- a. one thread, write-only ---------------------------------------------------------

fn write_create_add(n: u64) -> RunOut {
    let ring = new_ring();
    let w = Writer::new(ring);
    let mut src = Source::new();
    let t0 = Instant::now();
    for i in 0..n {
        let ev = EventUtils::create_pooled_event::<PAYLOAD>(src.one(i), 1).unwrap();
        black_box(w.add(ev));
    }
    let seconds = t0.elapsed().as_secs_f64();
    finish_write(ring, n, seconds)
}

fn write_prebuilt_add(n: u64) -> RunOut {
    let ring = new_ring();
    let w = Writer::new(ring);
    let mut evs: Vec<PooledEvent<PAYLOAD>> = (0..SRC_N as u64)
        .map(|k| {
            let mut b = [0xA5u8; PAYLOAD];
            b[..8].copy_from_slice(&k.to_ne_bytes());
            b[PAYLOAD - 8..].copy_from_slice(&k.to_ne_bytes());
            EventUtils::create_pooled_event::<PAYLOAD>(&b, 1).unwrap()
        })
        .collect();
    let t0 = Instant::now();
    for i in 0..n {
        let k = (i + SRC_AHEAD as u64) as usize % SRC_N;
        evs[k].data[..8].copy_from_slice(&(i + SRC_AHEAD as u64).to_ne_bytes());
        black_box(w.add(evs[i as usize % SRC_N]));
    }
    let seconds = t0.elapsed().as_secs_f64();
    finish_write(ring, n, seconds)
}

fn finish_write(ring: &'static Ring, n: u64, seconds: f64) -> RunOut {
    let last = unsafe { (*ring.data.get())[(n as usize - 1) % SLOTS] };
    let (head, _) = head_tail(&last);
    let ok = published(ring) as u64 == n && head == n - 1;
    RunOut { seconds, ok, note: if ok { String::new() } else { "count check failed".into() }, ..Default::default() }
}

// ---- c. one writer thread -> one reader thread -----------------------------------------

fn threads(n: u64) -> RunOut {
    let ring = new_ring();
    let go = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut reader: Reader<PAYLOAD, SLOTS> = Reader::new(ring);

    let (g, p, d) = (go.clone(), progress.clone(), done.clone());
    let rt = thread::spawn(move || {
        while !g.load(Ordering::Acquire) {
            spin_loop();
        }
        let (mut seen, mut stale, mut torn) = (0u64, 0u64, 0u64);
        while seen < n {
            match reader.next() {
                Some(ev) => {
                    let (head, tail) = head_tail(&ev);
                    stale += (head != seen) as u64;
                    torn += (head != tail) as u64;
                    seen += 1;
                    if seen % 4096 == 0 {
                        p.store(seen, Ordering::Relaxed);
                    }
                }
                None => spin_loop(),
            }
        }
        d.store(true, Ordering::Release);
        (Instant::now(), seen, stale, torn)
    });

    let w = Writer::new(ring);
    let mut src = Source::new();
    let t0 = Instant::now();
    go.store(true, Ordering::Release);
    for i in 0..n {
        let ev = EventUtils::create_pooled_event::<PAYLOAD>(src.one(i), 1).unwrap();
        w.add(ev);
    }
    // Watchdog: the seed's reader reads a plain (non-atomic) cursor.
    let mut last = (Instant::now(), 0u64);
    while !done.load(Ordering::Acquire) {
        thread::sleep(Duration::from_millis(1));
        let p = progress.load(Ordering::Relaxed);
        if p != last.1 {
            last = (Instant::now(), p);
        } else if last.0.elapsed() > STALL {
            return RunOut {
                seconds: t0.elapsed().as_secs_f64(),
                delivered: p,
                ok: false,
                note: format!("reader stalled after {p} of {n} events"),
                ..Default::default()
            };
        }
    }
    let (t_end, seen, stale, torn) = rt.join().unwrap();
    let ok = published(ring) as u64 == n && seen == n;
    RunOut {
        seconds: (t_end - t0).as_secs_f64(),
        delivered: seen,
        stale,
        torn,
        ok,
        note: if ok { String::new() } else { "count check failed".into() },
    }
}

// ---- measuring -----------------------------------------------------------------------------

fn calibrate(cfg: &Config, run: fn(u64) -> RunOut) -> u64 {
    let mut n = 1024u64;
    let mut o;
    loop {
        o = run(n);
        if !o.ok || o.seconds >= cfg.target_s / 10.0 || n >= 1 << 36 {
            break;
        }
        n *= 4;
    }
    let m = (n as f64 * cfg.target_s / o.seconds.max(1e-9)) as u64 / 64 * 64;
    m.max(64)
}

fn measure(cfg: &Config, section: &'static str, name: &'static str, run: fn(u64) -> RunOut) -> Result {
    let events = calibrate(cfg, run);
    let mut best: Option<RunOut> = None;
    let mut all_ok = true;
    for _ in 0..cfg.repeats {
        let o = run(events);
        all_ok &= o.ok;
        if !o.ok {
            best = Some(o);
            break;
        }
        if best.as_ref().map_or(true, |b| o.seconds < b.seconds) {
            best = Some(o);
        }
    }
    let mut best = best.unwrap();
    best.ok = all_ok;
    let r = Result { section, name, events, best };
    print_row(&r);
    r
}

fn rate(r: &Result) -> f64 {
    r.events as f64 / r.best.seconds
}

fn print_row(r: &Result) {
    println!(
        "  {:<52} {:>13.0} {:>9.2} {:>12} {:>10} {:>8}  {}",
        r.name,
        rate(r),
        r.best.seconds * 1e9 / r.events as f64,
        r.best.delivered,
        r.best.stale,
        r.best.torn,
        if r.best.ok { "ok".to_string() } else { format!("FAILED: {}", r.best.note) }
    );
}

fn json_str(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn write_json(path: &str, cfg: &Config, quick: bool, results: &[Result]) {
    let mut out = String::new();
    out += &format!(
        "{{\n  \"crate\": \"rusted-ring 0.5.6\", \"quick\": {quick}, \"repeats\": {}, \"slots\": {SLOTS}, \"payload\": {PAYLOAD},\n  \"results\": [\n",
        cfg.repeats
    );
    for (i, r) in results.iter().enumerate() {
        out += &format!(
            "    {{\"section\": \"{}\", \"name\": \"{}\", \"events\": {}, \"seconds\": {:.6}, \"events_per_s\": {:.1}, \"ns_per_event\": {:.3}, \"delivered\": {}, \"stale\": {}, \"torn\": {}, \"ok\": {}, \"note\": \"{}\"}}{}\n",
            r.section,
            json_str(r.name),
            r.events,
            r.best.seconds,
            rate(r),
            r.best.seconds * 1e9 / r.events as f64,
            r.best.delivered,
            r.best.stale,
            r.best.torn,
            r.best.ok,
            json_str(&r.best.note),
            if i + 1 < results.len() { "," } else { "" }
        );
    }
    out += "  ]\n}\n";
    std::fs::write(path, out).expect("cannot write the JSON file");
    println!("\nwrote {path}");
}

fn main() {
    let mut cfg = Config { target_s: TARGET_S, repeats: 3 };
    let mut json: Option<String> = None;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--json" => json = args.next(),
            "--repeats" => cfg.repeats = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {
                eprintln!("usage: seed_peer [--quick] [--repeats N] [--json FILE]");
                std::process::exit(2);
            }
        }
    }
    if cfg.repeats == 0 {
        eprintln!("seed_peer: --repeats needs a positive number");
        std::process::exit(2);
    }
    if quick {
        cfg.target_s = TARGET_QUICK;
    }
    println!("rusted-ring 0.5.6 (the Rust seed crate) on the C core's workloads");
    println!(
        "each figure: best of {} runs, events per run calibrated to ~{:.2} s; RingBuffer<{PAYLOAD}, {SLOTS}>",
        cfg.repeats, cfg.target_s
    );
    println!(
        "\n  {:<52} {:>13} {:>9} {:>12} {:>10} {:>8}  check",
        "workload", "events/s", "ns/event", "delivered", "stale", "torn"
    );
    let results = vec![
        measure(&cfg, "write", "write-only create_pooled_event + add (one at a time)", write_create_add),
        measure(&cfg, "write", "write-only add of a prebuilt PooledEvent", write_prebuilt_add),
        measure(&cfg, "spsc", "1 writer -> 1 reader thread, 64 B add/next", threads),
    ];
    println!("  (stale: events handed out holding another sequence; torn: first and last words differ)");
    if let Some(path) = json {
        write_json(&path, &cfg, quick, &results);
    }
    let failed = results.iter().filter(|r| !r.best.ok).count();
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
