//! The report: one row per scenario (throughput, latency percentiles, failed
//! calls by outcome, throughput as a ratio to the ceiling of the same run) and
//! each service process's memory, as a Markdown table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::Scenario;
use crate::load::Measured;
use crate::scenarios::RESERVATION_FAILED;

/// One scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub scenario: Scenario,
    pub calls: u64,
    pub per_second: f64,
    /// Throughput divided by the ceiling's (1.0 for the ceiling itself).
    pub ratio_to_ceiling: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Calls that did not end well, by gRPC status code (or reservation state).
    pub failed: BTreeMap<String, u64>,
}

impl Row {
    pub fn new(scenario: Scenario, measured: &Measured, ceiling_per_second: Option<f64>) -> Self {
        let secs = measured.elapsed.as_secs_f64().max(f64::EPSILON);
        let per_second = measured.calls() as f64 / secs;
        let ms = |q: f64| measured.latency.value_at_quantile(q) as f64 / 1000.0;
        Self {
            scenario,
            calls: measured.calls(),
            per_second,
            ratio_to_ceiling: ceiling_per_second.map_or(1.0, |c| if c > 0.0 { per_second / c } else { 0.0 }),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: measured.latency.max() as f64 / 1000.0,
            failed: measured.failed.clone(),
        }
    }

    /// Whether a call failed where none may: any gRPC error, or a FAILED
    /// reservation on uncontended inventory (on contended inventory, FAILED —
    /// sold out — is the expected answer for most buyers).
    pub fn has_errors(&self) -> bool {
        self.calls == 0
            || self
                .failed
                .keys()
                .any(|why| !(self.scenario == Scenario::CheckoutContended && why == RESERVATION_FAILED))
    }
}

/// One process's memory, KiB.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Memory {
    pub process: String,
    pub idle_kib: u64,
    pub end_kib: u64,
    pub peak_kib: u64,
}

/// `pgbench -b simple-update` against the same PostgreSQL server, in the same run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pgbench {
    pub clients: u16,
    pub tps: f64,
    /// The checkout scenario's throughput divided by pgbench's tps (when it ran).
    pub checkout_ratio: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub machine: String,
    /// Where the services kept their data: SQLite, PostgreSQL, or given endpoints.
    pub database: String,
    pub shape: String,
    pub rows: Vec<Row>,
    pub memory: Vec<Memory>,
    pub pgbench: Option<Pgbench>,
}

impl Report {
    /// Whether any scenario had calls that must not fail.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(Row::has_errors)
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {}. Data: {}. Load: {}.\n",
            self.machine, self.database, self.shape
        );
        out.push_str("| scenario | calls | calls/s | ratio to ceiling | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | failed |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for r in &self.rows {
            let failed = if r.failed.is_empty() {
                "0".to_owned()
            } else {
                r.failed
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                r.scenario.name(),
                r.calls,
                r.per_second,
                r.ratio_to_ceiling,
                r.p50_ms,
                r.p90_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms,
                failed
            );
        }
        if !self.memory.is_empty() {
            out.push_str("\n| process | RSS idle MiB | RSS at end MiB | RSS peak MiB |\n|---|---:|---:|---:|\n");
            for m in &self.memory {
                let mib = |kib: u64| kib as f64 / 1024.0;
                let _ = writeln!(
                    out,
                    "| {} | {:.1} | {:.1} | {:.1} |",
                    m.process,
                    mib(m.idle_kib),
                    mib(m.end_kib),
                    mib(m.peak_kib)
                );
            }
        }
        if let Some(p) = &self.pgbench {
            let _ = writeln!(
                out,
                "\n`pgbench -b simple-update` on the same server, {} clients: {:.0} tps; checkout / pgbench: {}",
                p.clients,
                p.tps,
                p.checkout_ratio
                    .map_or_else(|| "checkout not run".to_owned(), |r| format!("{r:.3}"))
            );
        }
        out
    }
}

/// What this machine is, for the report: CPUs and memory from `/proc`.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown memory".into(),
            |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    format!(
        "{cpus} CPUs ({model}), {memory}, {} build, loopback",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    )
}
