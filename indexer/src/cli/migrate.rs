//! `stk-indexer migrate`: apply the database migrations.

use crate::config::Config;

pub(super) async fn run(cfg: &Config) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    println!("migrations applied ({})", store.backend_name());
    store.close().await;
    Ok(())
}
