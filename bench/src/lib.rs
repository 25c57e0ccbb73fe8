//! `travel-bench`, the platform's load generator: it starts the services (or
//! takes their endpoints), creates what the scenarios need through the public
//! API, runs each scenario after a warm-up against the same run's ceiling (a
//! bare tonic health server), and reports. Modules: the flags ([`cli`]), the
//! baseline ([`ceiling`]), the service processes ([`services`]), accounts and
//! catalog ([`fixtures`]), one call of each scenario ([`scenarios`]), closed
//! and open loop ([`load`]), the table ([`report`]), PostgreSQL and pgbench
//! ([`postgres`]).
#![forbid(unsafe_code)]

pub mod ceiling;
pub mod cli;
pub mod fixtures;
pub mod load;
pub mod postgres;
pub mod report;
pub mod scenarios;
pub mod services;

use std::io::Write as _;

use anyhow::Context;

use cli::{Args, Scenario};
use load::Shape;
use report::{Memory, Report, Row};
use services::{Accounts, Endpoints, Services};

/// The services a started stack has a database for.
const SERVICES: [&str; 4] = ["auth", "flight", "hotel", "reservation"];

/// Runs the bench as `args` say: the report, also written to its files. With
/// `--postgres`, the services' databases are dropped at the end, whatever happened.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let databases = match &args.postgres {
        Some(url) => Some(postgres::Databases::create(url, &SERVICES).await?),
        None => None,
    };
    let report = run_on(&args, databases.as_ref()).await;
    if let Some(databases) = databases {
        databases.drop_all().await?;
    }
    report
}

async fn run_on(args: &Args, databases: Option<&postgres::Databases>) -> anyhow::Result<Report> {
    let ceiling = ceiling::Ceiling::start()?;
    let accounts = Accounts {
        admin_email: args.admin_email.clone(),
        admin_password: args.admin_password.clone(),
        service_client_id: args.service_client_id.clone(),
        service_client_secret: args.service_client_secret.clone(),
    };
    let (services, endpoints) = match (&args.auth, &args.flight, &args.hotel, &args.reservation) {
        (Some(auth), Some(flight), Some(hotel), Some(reservation)) => (
            None,
            Endpoints {
                auth: auth.clone(),
                flight: flight.clone(),
                hotel: hotel.clone(),
                reservation: reservation.clone(),
            },
        ),
        _ => {
            let bin_dir = match &args.bin_dir {
                Some(dir) => dir.clone(),
                None => services::own_dir()?,
            };
            let logs = &args.logs;
            eprintln!(
                "starting the services from {} (their logs: {}/travel-<service>.log)",
                bin_dir.display(),
                logs.display()
            );
            let storage = if databases.is_some() { "PostgreSQL" } else { "SQLite" };
            eprintln!("the services keep their data on {storage}");
            let started = Services::start(&bin_dir, logs, &accounts, databases).await?;
            let endpoints = started.endpoints.clone();
            (Some(started), endpoints)
        }
    };
    let mut processes: Vec<(String, u32)> = vec![("ceiling".into(), ceiling.pid())];
    if let Some(started) = &services {
        processes.extend(started.pids().into_iter().map(|(name, pid)| (name.to_owned(), pid)));
    }
    let idle: Vec<u64> = processes
        .iter()
        .map(|(_, pid)| services::memory(*pid).map_or(0, |(rss, _)| rss))
        .collect();

    eprintln!("creating accounts and the catalog");
    let fixtures = fixtures::Fixtures::create(
        &endpoints,
        (&accounts.admin_email, &accounts.admin_password),
        (&accounts.service_client_id, &accounts.service_client_secret),
    )
    .await
    .context("cannot set up the scenarios")?;
    let calls = scenarios::Calls::new(fixtures, &endpoints, &ceiling.url, usize::from(args.connections))?;

    let mut rows: Vec<Row> = Vec::new();
    let mut ceiling_rate = None;
    for scenario in args.plan() {
        let shape = match args.rate {
            Some(rate) => Shape::Open(rate),
            None if scenario.books() => Shape::Closed(usize::from(args.checkout_callers)),
            None => Shape::Closed(usize::from(args.connections) * usize::from(args.streams)),
        };
        let name = scenario.name();
        let measured = load::run(&calls, scenario, shape, args.warmup, args.duration, |done, left| {
            eprint!("\r{name:<20} {done:>9} calls, {:>4.0}s left   ", left.as_secs_f64());
            let _ = std::io::stderr().flush();
        })
        .await;
        let row = Row::new(scenario, &measured, ceiling_rate);
        eprintln!(
            "\r{name:<20} {:>9} calls, {:>9.0}/s, p50 {:.2} ms, p99 {:.2} ms, failed {:?}",
            row.calls, row.per_second, row.p50_ms, row.p99_ms, row.failed
        );
        if scenario == Scenario::Ceiling {
            ceiling_rate = Some(row.per_second);
        }
        rows.push(row);
    }

    let memory = processes
        .iter()
        .zip(idle)
        .map(|((process, pid), idle_kib)| {
            let (end_kib, peak_kib) = services::memory(*pid).unwrap_or((0, 0));
            Memory {
                process: process.clone(),
                idle_kib,
                end_kib,
                peak_kib,
            }
        })
        .collect();
    let pgbench = match (&args.postgres, args.pgbench) {
        (Some(url), true) => {
            eprintln!(
                "pgbench -b simple-update, {} clients, {:?}",
                args.checkout_callers, args.duration
            );
            let tps = postgres::pgbench(url, args.checkout_callers, args.duration).await?;
            let checkout = rows.iter().find(|r| r.scenario == Scenario::Checkout);
            eprintln!("pgbench              {tps:>9.0} tps");
            Some(report::Pgbench {
                clients: args.checkout_callers,
                tps,
                checkout_ratio: checkout.map(|r| if tps > 0.0 { r.per_second / tps } else { 0.0 }),
            })
        }
        _ => None,
    };
    let shape = match args.rate {
        Some(rate) => format!("open loop, {rate} calls/s"),
        None => format!(
            "closed loop, {} connections x {} callers each (booking scenarios: {} callers), {:?} per scenario after {:?} of warm-up",
            args.connections, args.streams, args.checkout_callers, args.duration, args.warmup
        ),
    };
    let report = Report {
        machine: report::machine(),
        database: if databases.is_some() {
            "PostgreSQL"
        } else if services.is_some() {
            "SQLite"
        } else {
            "given endpoints"
        }
        .into(),
        shape,
        rows,
        memory,
        pgbench,
    };
    let markdown = report.markdown();
    println!("{markdown}");
    std::fs::write(&args.markdown, &markdown).with_context(|| format!("cannot write {}", args.markdown.display()))?;
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&args.json, json).with_context(|| format!("cannot write {}", args.json.display()))?;
    drop(services);
    Ok(report)
}
