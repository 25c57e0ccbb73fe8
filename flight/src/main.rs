//! `travel-flight`: the flight service as its own process.

use clap::Parser;
use travel_flight::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    travel::telemetry::init(&config.host.telemetry);
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "flight service listening");
    app.run_until_stopped(travel::server::shutdown_signal()).await
}
