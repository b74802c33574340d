//! `stk-indexer keys create|revoke --name NAME [--scope …]`: platform API keys and their scopes.

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
        /// Scopes of the key (repeat or comma-separate): ingest, members, wallets, admin (all).
        /// Default: every scope.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<crate::auth::Scope>,
        /// The rules source this key reports as (`[sources.NAME]` of the rules file): its events
        /// are observed evidence and its confirmations count as authenticated. Default: none (the
        /// key relays members' self-reports).
        #[arg(long)]
        source: Option<String>,
    },
    /// Revoke the key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

pub(super) async fn run(cfg: &Config, action: KeysAction) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    let r = keys(&store, cfg, action).await;
    store.close().await;
    r
}

async fn keys(store: &Store, cfg: &Config, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Create {
            name,
            scopes,
            source,
        } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                bail!("key name must be non-empty printable text");
            }
            let scopes = if scopes.is_empty() {
                crate::auth::Scope::ALL.to_vec()
            } else {
                scopes
            };
            if let Some(src) = &source {
                let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
                crate::ingest::Reporter::for_source(&rules, Some(src))
                    .map_err(anyhow::Error::msg)?;
            }
            let Some(k) =
                crate::auth::create_key_with_scopes(store, &name, &scopes, source.as_deref())
                    .await?
            else {
                bail!("a key named {name:?} already exists");
            };
            eprintln!(
                "API key {:?} created with scopes {}; it is shown only now, store it safely:",
                k.name,
                crate::auth::Scope::join(&k.scopes)
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
