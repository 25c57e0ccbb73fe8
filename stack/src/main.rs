//! `travel-stack`: every service of the platform in one process, for local use.

use clap::Parser;
use tokio_util::sync::CancellationToken;
use travel_stack::{Stack, StackConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = StackConfig::parse();
    let telemetry = travel::telemetry::init(&config.telemetry, "travel-stack")?;
    // Listen for Ctrl-C/SIGTERM from the very start, so that a stop during
    // start-up (the demo catalog takes a moment) is a clean stop, too.
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        travel::server::shutdown_signal().await;
        on_signal.cancel();
    });
    let stack = tokio::select! {
        started = Stack::start(&config) => started,
        () = stop.cancelled() => {
            tracing::info!("stopped during start-up; the demo catalog finishes loading on the next start");
            telemetry.shutdown().await;
            return Ok(());
        }
    };
    let ran = match stack {
        Ok(stack) => {
            println!("{}", stack.banner());
            stack.run_until(stop.cancelled_owned()).await
        }
        Err(e) => Err(e),
    };
    telemetry.shutdown().await;
    ran
}
