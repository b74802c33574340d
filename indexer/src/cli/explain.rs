//! `stk-indexer explain MEMBER EPOCH`: a member's receipt, human-readable.

use anyhow::{bail, Context};

use crate::config::Config;

pub(super) async fn run(cfg: &Config, member: String, epoch: u64) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    let r = store.receipt(epoch, &member).await;
    store.close().await;
    let Some(json) = r? else {
        bail!("no receipt for member {member:?} in epoch {epoch} (is the epoch scored?)");
    };
    let receipt: stk_scoring::AnyReceipt =
        serde_json::from_str(&json).context("stored receipt does not parse")?;
    print!("{}", crate::epoch::explain_any(&receipt));
    Ok(())
}
