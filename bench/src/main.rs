//! `travel-bench`: runs the scenarios and prints the table; see `--help`.
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() == Some(travel_bench::ceiling::SERVE_FLAG) {
        return match travel_bench::ceiling::serve().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("travel-bench ceiling server: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let args = travel_bench::cli::Args::parse();
    match travel_bench::run(args).await {
        Ok(report) if report.failed() => {
            eprintln!("some calls failed: see the errors column");
            std::process::ExitCode::FAILURE
        }
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("travel-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
