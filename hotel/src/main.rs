//! `travel-hotel`: the hotel service as its own process.

use clap::Parser;
use travel_hotel::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    travel::telemetry::init(&config.host.telemetry);
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "hotel service listening");
    app.run_until_stopped(travel::server::shutdown_signal()).await
}
