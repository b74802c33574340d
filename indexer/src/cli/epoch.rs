//! `stk-indexer epoch score|freeze|run|status`.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;

use crate::config::Config;
use crate::store::{EpochState, Store, StoreError};

#[derive(Debug, Subcommand)]
pub enum EpochAction {
    /// Score an ended epoch and store allocations + receipts (marks it scored).
    Score {
        epoch: u64,
        /// Print the allocation table without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop accepting activity for an epoch.
    Freeze { epoch: u64 },
    /// Run an ended epoch through the pipeline against the configured cluster (`chain.rpc_url`):
    /// freeze, score, attest with this service's oracle key, wait for the threshold, distribute.
    Run {
        epoch: u64,
        /// Keep polling this long for the other oracles' attestations (0: one pass).
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
    /// The pipeline state of every epoch (or of one), with chunks paid.
    Status { epoch: Option<u64> },
}

pub(super) async fn run(cfg: &Config, action: EpochAction) -> anyhow::Result<()> {
    let store = super::connect(cfg).await?;
    let r = epoch_cmd(&store, cfg, action).await;
    store.close().await;
    r
}

async fn epoch_cmd(store: &Store, cfg: &Config, action: EpochAction) -> anyhow::Result<()> {
    match action {
        EpochAction::Score { epoch, dry_run } => {
            let rules =
                crate::epoch::load_and_archive_rules(store, &cfg.scoring.rules_path).await?;
            let run = crate::epoch::score(store, cfg, &rules, epoch, dry_run).await?;
            print!("{}", crate::epoch::allocation_table(&run));
            eprintln!("scored in {:.3}s", run.elapsed.as_secs_f64());
        }
        EpochAction::Run { epoch, wait_secs } => {
            let pipeline = rpc_pipeline(cfg, store).await?;
            let report = pipeline
                .run_until_done(
                    epoch,
                    std::time::Duration::from_secs(5),
                    std::time::Duration::from_secs(wait_secs),
                )
                .await?;
            let state = pipeline.state(epoch).await?;
            for (from, to) in &report.transitions {
                println!("epoch {epoch}: {from} -> {to}");
            }
            println!(
                "epoch {epoch} is {state}: {} chunks sent, {} found paid, {} token accounts and {} lookup tables created, {} lamports in fees",
                report.chunks_sent,
                report.chunks_found_paid,
                report.token_accounts_created,
                report.lookup_tables_created,
                report.fee_lamports
            );
            if state == crate::pipeline::State::Attested {
                println!("waiting for the other oracles: run again (or pass --wait-secs)");
            }
        }
        EpochAction::Status { epoch } => {
            let mut rows = store.epochs().await?;
            rows.retain(|r| epoch.is_none_or(|n| r.epoch == n));
            rows.sort_by_key(|r| r.epoch);
            if rows.is_empty() {
                bail!("no epoch {}", epoch.map_or("yet".into(), |n| n.to_string()));
            }
            println!(
                "{:>6} {:<13} {:>8} {:>22} {:>11}  root",
                "epoch", "state", "events", "allocated (STK)", "chunks paid"
            );
            for r in rows {
                let chunks = store.epoch_chunks(r.epoch).await?;
                let paid = chunks.iter().filter(|c| c.paid_at.is_some()).count();
                let root = store
                    .epoch_plan(r.epoch)
                    .await?
                    .map_or("-".to_string(), |p| hex::encode(p.root));
                println!(
                    "{:>6} {:<13} {:>8} {:>22} {:>5}/{:<5}  {root}",
                    r.epoch,
                    r.state,
                    r.event_count,
                    r.total_amount.map_or("-".into(), crate::fmt::fmt_units),
                    paid,
                    chunks.len()
                );
            }
        }
        EpochAction::Freeze { epoch } => {
            match store
                .transition_epoch(
                    epoch,
                    &[EpochState::Open, EpochState::Frozen],
                    EpochState::Frozen,
                    crate::epoch::template(cfg),
                )
                .await
            {
                Ok(prev) => println!("epoch {epoch}: {prev} -> frozen"),
                Err(StoreError::WrongState { actual, .. }) => {
                    bail!("epoch {epoch} is {actual}; cannot freeze")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn rpc_pipeline(cfg: &Config, store: &Store) -> anyhow::Result<crate::pipeline::Pipeline> {
    let (chain, payer, oracle) = super::rpc_parts(cfg)?;
    Ok(crate::pipeline::Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg.clone()),
        rules: Arc::new(
            crate::epoch::load_and_archive_rules(store, &cfg.scoring.rules_path).await?,
        ),
        chain,
        payer,
        oracle,
        send: super::send_options(cfg),
        fail: None,
        progress: std::io::stderr().is_terminal(),
    })
}
