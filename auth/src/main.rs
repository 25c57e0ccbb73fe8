//! `travel-auth`: the auth service as its own process.

use clap::Parser;
use travel_auth::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if config.generate_signing_key {
        println!("{}", travel_auth::signing_keys::new_key_line()?);
        return Ok(());
    }
    let telemetry = travel::telemetry::init(&config.host.telemetry, "travel-auth")?;
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), metrics = %app.metrics_url(), "auth service listening");
    let served = app.run_until_stopped(travel::server::shutdown_signal()).await;
    telemetry.shutdown().await;
    served
}
