//! `stk-indexer keys create|revoke --name NAME`: platform API keys.

use anyhow::bail;
use clap::Subcommand;

use crate::config::Config;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; it is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Revoke the key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

pub(super) async fn run(cfg: &Config, action: KeysAction) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    let r = keys(&store, action).await;
    store.close().await;
    r
}

async fn keys(store: &Store, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Create { name } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                bail!("key name must be non-empty printable text");
            }
            let Some(k) = crate::auth::create_key(store, &name).await? else {
                bail!("a key named {name:?} already exists");
            };
            eprintln!(
                "API key {:?} created; it is shown only now, store it safely:",
                k.name
            );
            println!("{}", k.key);
        }
        KeysAction::Revoke { name } => {
            if !store.revoke_api_key(&name).await? {
                bail!("no active key named {name:?}");
            }
            println!("key {name:?} revoked");
        }
    }
    Ok(())
}
