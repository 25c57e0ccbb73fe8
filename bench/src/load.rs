//! Running a scenario: closed loop (callers, each one call after another, as
//! fast as answers come; a call counts if it finishes in the measured window)
//! or open loop (calls started at a fixed rate, each one's latency counted from
//! when it was due, so that a stall shows as the latency of every call it
//! delayed instead of hiding as fewer calls; a call counts if it was due in the
//! window).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cli::Scenario;
use crate::scenarios::Calls;

/// What one scenario's measured part saw.
#[derive(Debug)]
pub struct Measured {
    /// Latency of every finished call, microseconds.
    pub latency: Histogram<u64>,
    /// Calls that ended well.
    pub ok: u64,
    /// Calls that did not, by outcome.
    pub failed: BTreeMap<String, u64>,
    /// How long it was measured.
    pub elapsed: Duration,
}

impl Measured {
    fn new() -> Self {
        Self {
            // 1 µs to 10 min, three significant figures.
            latency: Histogram::new_with_bounds(1, 600_000_000, 3).expect("fixed, valid histogram bounds"),
            ok: 0,
            failed: BTreeMap::new(),
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, took: Duration, outcome: &crate::scenarios::Outcome) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency.saturating_record(micros);
        match outcome {
            Ok(()) => self.ok += 1,
            Err(why) => *self.failed.entry(why.clone()).or_default() += 1,
        }
    }

    fn merge(&mut self, other: &Measured) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (why, n) in &other.failed {
            *self.failed.entry(why.clone()).or_default() += n;
        }
    }

    /// Calls finished in the measured part.
    pub fn calls(&self) -> u64 {
        self.ok + self.failed.values().sum::<u64>()
    }
}

/// How a run is loaded.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// This many callers, each one call after another.
    Closed(usize),
    /// This many calls a second.
    Open(u32),
}

/// Runs `scenario` for `warmup` (not recorded), then `duration`; `progress`
/// is told the calls so far about once a second.
pub async fn run(
    calls: &Calls,
    scenario: Scenario,
    shape: Shape,
    warmup: Duration,
    duration: Duration,
    progress: impl Fn(u64, Duration),
) -> Measured {
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let shared = Arc::new(Mutex::new(Measured::new()));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let work = {
        let (calls, shared, done) = (calls.clone(), shared.clone(), done.clone());
        tokio::spawn(async move {
            match shape {
                Shape::Closed(callers) => closed(calls, scenario, callers, measure_from, end, shared, done).await,
                Shape::Open(rate) => open(calls, scenario, rate, measure_from, end, shared, done).await,
            }
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    tokio::pin!(work);
    loop {
        tokio::select! {
            _ = &mut work => break,
            _ = ticker.tick() => progress(done.load(std::sync::atomic::Ordering::Relaxed), end.saturating_duration_since(Instant::now())),
        }
    }
    let mut measured = shared
        .lock()
        .map(|mut m| std::mem::replace(&mut *m, Measured::new()))
        .unwrap_or_else(|_| Measured::new());
    measured.elapsed = duration;
    measured
}

async fn closed(
    calls: Calls,
    scenario: Scenario,
    callers: usize,
    measure_from: Instant,
    end: Instant,
    shared: Arc<Mutex<Measured>>,
    done: Arc<std::sync::atomic::AtomicU64>,
) {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let (calls, shared, done) = (calls.clone(), shared.clone(), done.clone());
            tokio::spawn(async move {
                let mut mine = Measured::new();
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let outcome = calls.call(scenario, caller).await;
                    // Counted when it finishes in the measured window: calls
                    // slower than the warm-up still count once the load is steady.
                    let finished = Instant::now();
                    if finished >= measure_from && finished <= end {
                        mine.record(sent.elapsed(), &outcome);
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if let Ok(mut all) = shared.lock() {
                    all.merge(&mine);
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn open(
    calls: Calls,
    scenario: Scenario,
    rate: u32,
    measure_from: Instant,
    end: Instant,
    shared: Arc<Mutex<Measured>>,
    done: Arc<std::sync::atomic::AtomicU64>,
) {
    let every = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0u64.. {
        let due = start + every.mul_f64(n as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let (calls, shared, done) = (calls.clone(), shared.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = calls.call(scenario, n as usize).await;
            if due >= measure_from {
                if let Ok(mut all) = shared.lock() {
                    all.record(due.elapsed(), &outcome);
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
