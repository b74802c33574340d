//! Scoring an epoch from the store with `stk-scoring`, and the human-readable outputs
//! (allocation table, receipt explanation).
//!
//! Scoring for real first moves the epoch to `frozen` (no more activity is accepted for it), then
//! reads its events, scores them and stores allocations + receipts while moving it to `scored`.
//! A failure after the freeze leaves it `frozen`, and scoring can simply be run again.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use anchor_spl::associated_token::get_associated_token_address;
use solana_sdk::pubkey::Pubkey;
use stk::{
    constants::MAX_CHUNK_RECIPIENTS,
    merkle::{Allocation, EpochTree},
};
use stk_scoring::{EpochInput, EpochScore, Event, MemberInput, Receipt, Rules};

use crate::config::Config;
use crate::store::{EpochState, EpochTreeRows, RecipientRow};
use crate::store::{EpochTemplate, ScoredEpoch, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("epoch {epoch} ends at {ends_at}; it cannot be scored before it ends (use --dry-run to preview)")]
    NotEnded { epoch: u64, ends_at: String },
    #[error("epoch {epoch} is already {state}")]
    AlreadyScored { epoch: u64, state: EpochState },
    #[error("epoch {0} is out of range")]
    OutOfRange(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("scoring: {0}")]
    Scoring(#[from] stk_scoring::ScoringError),
    #[error("allocation tree: {0}")]
    Tree(String),
}

/// Reads and parses the rules file.
pub fn load_rules(path: &Path) -> anyhow::Result<Rules> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read rules file {}: {e}", path.display()))?;
    Rules::from_toml(&text)
        .map_err(|e| anyhow::anyhow!("invalid rules file {}: {e}", path.display()))
}

pub fn template(cfg: &Config) -> EpochTemplate {
    EpochTemplate {
        genesis: cfg.epoch.genesis,
        duration_secs: cfg.epoch.duration_secs,
        budget: cfg.epoch.budget,
    }
}

/// Builds the canonical scoring input of epoch `n` from the store.
pub async fn build_input(
    store: &Store,
    cfg: &Config,
    rules: &Rules,
    n: u64,
) -> Result<EpochInput, EpochError> {
    Ok(build_input_with_wallets(store, cfg, rules, n).await?.0)
}

/// Like [`build_input`], with each member's bound wallet, read in the same pass.
pub async fn build_input_with_wallets(
    store: &Store,
    cfg: &Config,
    rules: &Rules,
    n: u64,
) -> Result<(EpochInput, HashMap<String, String>), EpochError> {
    if n > (i64::MAX / cfg.epoch.duration_secs) as u64 / 2 {
        return Err(EpochError::OutOfRange(n));
    }
    let (starts_at, ends_at) = cfg.epoch_window(n);
    let budget = match store.epoch(n).await? {
        Some(row) => row.budget,
        None => cfg.epoch.budget,
    };
    let scoring_members = store
        .scoring_members(n, rules.consistency.lookback_epochs)
        .await?;
    let wallets: HashMap<String, String> = scoring_members
        .iter()
        .filter_map(|m| m.wallet.clone().map(|w| (m.id.clone(), w)))
        .collect();
    let members = scoring_members
        .into_iter()
        .map(|m| MemberInput {
            id: m.id,
            active: m.active,
            recent_active_epochs: m.recent_active_epochs,
        })
        .collect();
    let events = store
        .scoring_events(n)
        .await?
        .into_iter()
        .map(|e| Event {
            id: e.id,
            member: e.member,
            kind: e.kind,
            occurred_at: e.occurred_at,
            confirmations: e.confirmations,
        })
        .collect();
    let mut input = EpochInput {
        epoch: n,
        starts_at,
        ends_at,
        budget,
        members,
        events,
    };
    input.canonicalize();
    Ok((input, wallets))
}

/// The allocation tree of a scored epoch: every member with a positive amount is paid into the STK
/// associated token account of the wallet bound when the epoch was scored. `None` when nobody is paid.
pub fn allocation_tree(
    n: u64,
    score: &EpochScore,
    wallets: &HashMap<String, String>,
) -> Result<Option<EpochTreeRows>, EpochError> {
    let mint = stk::client::mint_address();
    let mut by_account: HashMap<Pubkey, (String, String)> = HashMap::new();
    let mut allocations = Vec::new();
    for a in score.allocations.iter().filter(|a| a.amount > 0) {
        let wallet = wallets
            .get(&a.member)
            .ok_or_else(|| EpochError::Tree(format!("member {} has no wallet", a.member)))?;
        let owner: Pubkey = wallet.parse().map_err(|_| {
            EpochError::Tree(format!("wallet {wallet:?} of {} is not a key", a.member))
        })?;
        let token_account = get_associated_token_address(&owner, &mint);
        by_account.insert(token_account, (a.member.clone(), wallet.clone()));
        allocations.push(Allocation {
            token_account,
            amount: a.amount,
        });
    }
    if allocations.is_empty() {
        return Ok(None);
    }
    let tree = EpochTree::build(n, allocations, MAX_CHUNK_RECIPIENTS)
        .map_err(|e| EpochError::Tree(e.to_string()))?;
    let mut recipients = Vec::with_capacity(tree.recipient_count as usize);
    for chunk in &tree.chunks {
        for r in &chunk.recipients {
            let (member_id, wallet) = by_account[&r.token_account].clone();
            recipients.push(RecipientRow {
                member_id,
                wallet,
                token_account: r.token_account.to_string(),
                amount: r.amount,
                chunk_index: chunk.index,
            });
        }
    }
    Ok(Some(EpochTreeRows {
        root: hex::encode(tree.root()),
        recipients,
        chunks: tree
            .chunks
            .iter()
            .map(|c| (c.index, c.recipients.len() as u32, c.total()))
            .collect(),
    }))
}

/// The outcome of `score`.
#[derive(Debug, Clone)]
pub struct ScoreRun {
    pub score: EpochScore,
    pub events: usize,
    pub stored: bool,
    pub elapsed: Duration,
}

/// Scores epoch `n`. With `dry_run` nothing is written and the epoch may still be running.
pub async fn score(
    store: &Store,
    cfg: &Config,
    rules: &Rules,
    n: u64,
    dry_run: bool,
) -> Result<ScoreRun, EpochError> {
    if n > (i64::MAX / cfg.epoch.duration_secs) as u64 / 2 {
        return Err(EpochError::OutOfRange(n));
    }
    if !dry_run {
        let (_, ends_at) = cfg.epoch_window(n);
        if crate::store::now_unix() < ends_at {
            return Err(EpochError::NotEnded {
                epoch: n,
                ends_at: crate::wallet::rfc3339(ends_at),
            });
        }
        match store
            .transition_epoch(
                n,
                &[EpochState::Open, EpochState::Frozen],
                EpochState::Frozen,
                template(cfg),
            )
            .await
        {
            Ok(_) => {}
            Err(StoreError::WrongState { actual, .. }) => {
                return Err(EpochError::AlreadyScored {
                    epoch: n,
                    state: actual,
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    let (input, wallets) = build_input_with_wallets(store, cfg, rules, n).await?;
    let start = Instant::now();
    let score = stk_scoring::score_epoch(rules, &input)?;
    let elapsed = start.elapsed();
    crate::metrics::record_scoring(elapsed, !dry_run);
    if !dry_run {
        let tree = allocation_tree(n, &score, &wallets)?;
        // Oracles recompute the epoch from exactly these bytes (`GET /v1/epochs/{n}/log`).
        let log = String::from_utf8(input.canonical_log()).expect("the canonical log is JSON text");
        store
            .save_epoch_log(n, &hex::encode(score.activity_digest), &log)
            .await?;
        let total_amount = score.allocations.iter().map(|a| a.amount).sum();
        let receipts = score
            .receipts
            .iter()
            .map(|r| {
                (
                    r.member.clone(),
                    serde_json::to_string(r).expect("receipts serialize"),
                )
            })
            .collect();
        store
            .store_scored_epoch(&ScoredEpoch {
                epoch: n,
                rules_version: i64::from(rules.version),
                rules_hash: hex::encode(score.rules_hash),
                activity_digest: hex::encode(score.activity_digest),
                total_score: score.total_score.to_string(),
                total_amount,
                event_count: input.events.len() as u64,
                allocations: score
                    .allocations
                    .iter()
                    .map(|a| (a.member.clone(), a.score.to_string(), a.amount))
                    .collect(),
                receipts,
                tree,
            })
            .await?;
    }
    Ok(ScoreRun {
        events: input.events.len(),
        score,
        stored: !dry_run,
        elapsed,
    })
}

/// Formats base units as STK with 6 decimals.
pub fn stk(amount: u64) -> String {
    format!("{}.{:06}", amount / 1_000_000, amount % 1_000_000)
}

/// Formats milli-points as points with 3 decimals.
pub fn points(milli: u64) -> String {
    format!("{}.{:03}", milli / 1_000, milli % 1_000)
}

/// The allocation table of a scored epoch: one row per member with events.
pub fn allocation_table(run: &ScoreRun) -> String {
    let s = &run.score;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "epoch {}  events {}  rules {}  activity {}  budget {} STK  total score {}{}",
        s.epoch,
        run.events,
        hex::encode(s.rules_hash),
        hex::encode(s.activity_digest),
        stk(s.budget),
        s.total_score,
        if run.stored {
            ""
        } else {
            "  (dry run: nothing written)"
        }
    );
    let _ = writeln!(
        out,
        "{:<32} {:>8} {:>8} {:>14} {:>20}",
        "member", "counted", "dropped", "score", "amount (STK)"
    );
    let mut total = 0u64;
    for r in &s.receipts {
        total += r.amount;
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>8} {:>14} {:>20}",
            r.member,
            r.counted.len(),
            r.dropped.len(),
            points(r.score),
            stk(r.amount)
        );
    }
    let _ = writeln!(
        out,
        "{} members, {} allocated, allocated total {} STK",
        s.receipts.len(),
        s.allocations.len(),
        stk(total)
    );
    out
}

/// A receipt explained line by line.
pub fn explain(r: &Receipt) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "member {}  epoch {}  rules version {}",
        r.member, r.epoch, r.rules_version
    );
    let _ = writeln!(out, "counted events ({}):", r.counted.len());
    for c in &r.counted {
        let _ = writeln!(
            out,
            "  + {:<28} {:<16} base {:>9} + confirmations {:>9} ({} counted) x {:>6} bps = {:>9} points",
            c.id,
            c.kind,
            points(c.base_points),
            points(c.confirmation_points),
            c.confirmations_counted,
            c.factor_bps,
            points(c.diminished_points)
        );
    }
    let _ = writeln!(out, "dropped events ({}):", r.dropped.len());
    for d in &r.dropped {
        let _ = write!(out, "  - {:<28} {:<16} {:?}", d.id, d.kind, d.reason);
        if d.points > 0 {
            let _ = write!(out, " (would have been {} points)", points(d.points));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "raw points:              {}", points(r.raw_points));
    let _ = writeln!(
        out,
        "spread multiplier:       {} bps ({} of {} days active)",
        r.spread_multiplier_bps, r.active_days, r.epoch_days
    );
    let _ = writeln!(
        out,
        "consistency multiplier:  {} bps",
        r.consistency_multiplier_bps
    );
    let _ = writeln!(out, "score:                   {}", points(r.score));
    let _ = writeln!(
        out,
        "qualified:               {}",
        if r.qualified {
            "yes"
        } else {
            "no (below the minimum score)"
        }
    );
    let _ = writeln!(out, "amount:                  {} STK", stk(r.amount));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(stk(1_234_567), "1.234567");
        assert_eq!(stk(5), "0.000005");
        assert_eq!(points(3_000), "3.000");
        assert_eq!(points(12), "0.012");
    }
}
