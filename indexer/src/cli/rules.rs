//! `stk-indexer rules diff OLD NEW --epoch N`: who gains and who loses under a rules change.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Score an epoch's stored activity under two rules files and print who gains and who loses.
    Diff {
        /// The rules file in force (e.g. rules/rules.v1.toml).
        old: PathBuf,
        /// The proposed rules file.
        new: PathBuf,
        #[arg(long)]
        epoch: u64,
        /// Rows per side (largest gains, largest losses); `--all` prints every changed member.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long)]
        all: bool,
    },
}

pub(super) async fn run(cfg: &Config, action: RulesAction) -> anyhow::Result<()> {
    let RulesAction::Diff {
        old,
        new,
        epoch,
        top,
        all,
    } = action;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p)
            .with_context(|| format!("cannot read rules file {}", p.display()))
    };
    let (old_text, new_text) = (read(&old)?, read(&new)?);
    let store = super::connect(cfg).await?;
    let diff = crate::rules_diff::diff(&store, cfg, &old_text, &new_text, epoch).await;
    store.close().await;
    print!("{}", diff?.render((!all).then_some(top)));
    Ok(())
}
