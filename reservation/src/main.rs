//! `travel-reservation`: the reservation service as its own process.

use clap::Parser;
use travel_reservation::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let telemetry = travel::telemetry::init(&config.host.telemetry, "travel-reservation")?;
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), metrics = %app.metrics_url(), "reservation service listening");
    let served = app.run_until_stopped(travel::server::shutdown_signal()).await;
    telemetry.shutdown().await;
    served
}
