//! `stk-indexer member add|activate|deactivate ID`.

use anyhow::bail;
use clap::Subcommand;

use crate::config::Config;
use crate::ingest;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Create an (inactive) member.
    Add {
        id: String,
    },
    Activate {
        id: String,
    },
    Deactivate {
        id: String,
    },
}

pub(super) async fn run(cfg: &Config, action: MemberAction) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    let r = member(&store, action).await;
    store.close().await;
    r
}

async fn member(store: &Store, action: MemberAction) -> anyhow::Result<()> {
    match action {
        MemberAction::Add { id } => {
            if let Err(m) = ingest::check_id(&id) {
                bail!("invalid member id: {m}");
            }
            if !store.create_member(&id).await? {
                bail!("member {id:?} already exists");
            }
            println!("member {id} created (inactive)");
        }
        MemberAction::Activate { id } => match store.set_member_status(&id, true).await? {
            Some(m) => println!("member {} is {}", m.id, m.status),
            None => bail!("no member {id:?}"),
        },
        MemberAction::Deactivate { id } => match store.set_member_status(&id, false).await? {
            Some(m) => println!("member {} is {}", m.id, m.status),
            None => bail!("no member {id:?}"),
        },
    }
    Ok(())
}
