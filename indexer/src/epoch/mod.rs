//! Scoring an epoch from the store with `stk-scoring`; the human-readable outputs (allocation
//! table, receipts explained) are in `explain`.
//!
//! Scoring for real first moves the epoch to `frozen` (no more activity is accepted for it), then
//! reads its events, scores them and stores allocations + receipts while moving it to `scored`.
//! A failure after the freeze leaves it `frozen`, and scoring can simply be run again.

use std::path::Path;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use anchor_spl::associated_token::get_associated_token_address;
use solana_sdk::pubkey::Pubkey;
use stk::{
    constants::MAX_CHUNK_RECIPIENTS,
    merkle::{Allocation, EpochTree},
};
use stk_scoring::{
    Allocation as Alloc, AnyInput, AnyScore, Auth, Confirmation, EpochInput, EpochInputV2, Event,
    EventV2, MemberInput, MemberState, MemberV2, RuleSet, Rules, Vouch,
};

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
    #[error("scoring: {0}")]
    Format(#[from] stk_scoring::AnyError),
    #[error("epoch {epoch} carries member state from earlier epochs, and epochs {earlier:?} are not scored yet; score them first")]
    EarlierUnscored { epoch: u64, earlier: Vec<u64> },
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("epoch {epoch}: the evidence oracles will check does not hold, so it is not scored (fix it, e.g. have the source post its manifest, and score again):\n  {}", .problems.join("\n  "))]
    Evidence { epoch: u64, problems: Vec<String> },
    #[error("allocation tree: {0}")]
    Tree(String),
}

/// Reads and parses the rules file (either format, chosen by its `format` key).
pub fn load_rules(path: &Path) -> anyhow::Result<RuleSet> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read rules file {}: {e}", path.display()))?;
    RuleSet::from_toml(&text)
        .map_err(|e| anyhow::anyhow!("invalid rules file {}: {e}", path.display()))
}

/// Reads and parses the rules file and keeps its text in the store by rules hash, so that epochs
/// scored with it can be served with it (to oracles) after the rules change.
pub async fn load_and_archive_rules(store: &Store, path: &Path) -> anyhow::Result<RuleSet> {
    let rules = load_rules(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read rules file {}: {e}", path.display()))?;
    store
        .save_rules_text(&hex::encode(rules.hash()), &text)
        .await?;
    Ok(rules)
}

pub fn template(cfg: &Config) -> EpochTemplate {
    EpochTemplate {
        genesis: cfg.epoch.genesis,
        duration_secs: cfg.epoch.duration_secs,
        budget: cfg.epoch.budget,
    }
}

/// Builds the canonical scoring input of epoch `n` from the store, in the rules' format.
pub async fn build_input(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
    n: u64,
) -> Result<AnyInput, EpochError> {
    Ok(build_input_with_wallets(store, cfg, rules, n).await?.input)
}

/// A scoring input with what scoring it needs from the store besides: each member's bound wallet
/// and (format 2) the state each member carried in, as stored.
pub struct BuiltInput {
    pub input: AnyInput,
    pub wallets: HashMap<String, String>,
    pub carried: HashMap<String, MemberState>,
}

/// Like [`build_input`], with each member's bound wallet, read in the same pass.
pub async fn build_input_with_wallets(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
    n: u64,
) -> Result<BuiltInput, EpochError> {
    if n > (i64::MAX / cfg.epoch.duration_secs) as u64 / 2 {
        return Err(EpochError::OutOfRange(n));
    }
    let budget = match store.epoch(n).await? {
        Some(row) => row.budget,
        None => cfg.epoch.budget,
    };
    match rules {
        RuleSet::V1(r) => build_v1(store, cfg, r, n, budget).await,
        RuleSet::V2(_) => build_v2(store, cfg, n, budget).await,
    }
}

async fn build_v1(
    store: &Store,
    cfg: &Config,
    rules: &Rules,
    n: u64,
    budget: u64,
) -> Result<BuiltInput, EpochError> {
    let (starts_at, ends_at) = cfg.epoch_window(n);
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
    Ok(BuiltInput {
        input: AnyInput::V1(input),
        wallets,
        carried: HashMap::new(),
    })
}

/// The scoring crate's `Auth` from its stored text (`wallet`, `source:<name>`).
pub fn parse_auth(text: &str) -> Result<Auth, EpochError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| EpochError::Corrupt(format!("auth {text:?}: {e}")))
}

async fn build_v2(
    store: &Store,
    cfg: &Config,
    n: u64,
    budget: u64,
) -> Result<BuiltInput, EpochError> {
    let (starts_at, ends_at) = cfg.epoch_window(n);
    let rows = store.scoring_members_v2(n).await?;
    let mut wallets = HashMap::new();
    let mut carried = HashMap::new();
    let mut members = Vec::with_capacity(rows.len());
    for m in rows {
        let state: MemberState = match &m.state {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| EpochError::Corrupt(format!("state of member {}: {e}", m.id)))?,
            // No v2 state yet (the first v2 epoch after v1): tenure starts from the epochs the
            // member was paid in, so moving to v2 does not reset years of membership.
            None => MemberState {
                tenure_epochs: m.paid_epochs,
                ..MemberState::default()
            },
        };
        if let Some(w) = &m.wallet {
            wallets.insert(m.id.clone(), w.clone());
        }
        carried.insert(m.id.clone(), state.clone());
        members.push(MemberV2 {
            active: m.active,
            // Paid at some point of the epoch.
            subscribed: m.subscribed_until.is_some_and(|u| u > starts_at),
            state,
            id: m.id,
        });
    }
    let events = store
        .scoring_events_v2(n)
        .await?
        .into_iter()
        .map(|e| EventV2 {
            id: e.id,
            member: e.member,
            kind: e.kind,
            occurred_at: e.occurred_at,
            received_at: e.received_at,
            source: e.source,
        })
        .collect();
    let confirmations = store
        .scoring_confirmations(n)
        .await?
        .into_iter()
        .map(|c| {
            Ok(Confirmation {
                auth: parse_auth(&c.auth)?,
                id: c.id,
                confirmer: c.confirmer,
                claimant: c.claimant,
                kind: c.kind,
                event: c.event,
                confirmed_at: c.confirmed_at,
            })
        })
        .collect::<Result<Vec<_>, EpochError>>()?;
    let vouches = store
        .vouches_at(ends_at)
        .await?
        .into_iter()
        .map(|v| {
            Ok(Vouch {
                auth: parse_auth(&v.auth)?,
                voucher: v.voucher,
                member: v.member,
            })
        })
        .collect::<Result<Vec<_>, EpochError>>()?;
    let mut input = EpochInputV2 {
        epoch: n,
        starts_at,
        ends_at,
        budget,
        members,
        events,
        confirmations,
        vouches,
    };
    input.canonicalize();
    Ok(BuiltInput {
        input: AnyInput::V2(input),
        wallets,
        carried,
    })
}

/// The allocation tree of a scored epoch: every member with a positive amount is paid into the STK
/// associated token account of the wallet bound when the epoch was scored. `None` when nobody is paid.
pub fn allocation_tree(
    n: u64,
    scored: &[Alloc],
    wallets: &HashMap<String, String>,
) -> Result<Option<EpochTreeRows>, EpochError> {
    let mint = stk::client::mint_address();
    let mut by_account: HashMap<Pubkey, (String, String)> = HashMap::new();
    let mut allocations = Vec::new();
    for a in scored.iter().filter(|a| a.amount > 0) {
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
    pub score: AnyScore,
    pub events: usize,
    pub stored: bool,
    pub elapsed: Duration,
}

/// Scores epoch `n`. With `dry_run` nothing is written and the epoch may still be running.
///
/// Rules v2 carry member state (tenure, trust, calendar counters) from epoch to epoch, so an epoch
/// is scored for real only after every earlier epoch with activity is scored.
pub async fn score(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
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
        if rules.format() >= 2 {
            let earlier = store.unscored_before(n).await?;
            if !earlier.is_empty() {
                return Err(EpochError::EarlierUnscored { epoch: n, earlier });
            }
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
    let built = build_input_with_wallets(store, cfg, rules, n).await?;
    let input = &built.input;
    if let (false, RuleSet::V2(r2), AnyInput::V2(i2)) = (dry_run, rules, input) {
        // The service checks its records the way every oracle will, before it commits to a root.
        let evidence = crate::oracle::publish::evidence(store, cfg, n).await?;
        let mut diffs = Vec::new();
        crate::oracle::verify::check_evidence(r2, i2, &evidence, &mut diffs);
        if !diffs.is_empty() {
            return Err(EpochError::Evidence {
                epoch: n,
                problems: diffs.iter().map(|d| d.to_string()).collect(),
            });
        }
    }
    let start = Instant::now();
    let score = rules.score(input)?;
    let elapsed = start.elapsed();
    crate::metrics::record_scoring(elapsed, !dry_run);
    if !dry_run {
        let tree = allocation_tree(n, score.allocations(), &built.wallets)?;
        // Oracles recompute the epoch from exactly these bytes (`GET /v1/epochs/{n}/log`).
        let log = String::from_utf8(input.canonical_log()).expect("the canonical log is JSON text");
        store
            .save_epoch_log(n, &hex::encode(score.activity_digest()), &log)
            .await?;
        let total_amount = score.allocations().iter().map(|a| a.amount).sum();
        let receipts = score
            .receipts()
            .into_iter()
            .map(|(m, r)| {
                (
                    m.to_owned(),
                    serde_json::to_string(&r).expect("receipts serialize"),
                )
            })
            .collect();
        // Only the states that changed are written; the state going into an epoch is the newest
        // one stored before it.
        let states = score
            .next_states()
            .iter()
            .filter(|s| {
                built
                    .carried
                    .get(&s.member)
                    .map_or(s.state != MemberState::default(), |c| *c != s.state)
            })
            .map(|s| {
                (
                    s.member.clone(),
                    serde_json::to_string(&s.state).expect("states serialize"),
                )
            })
            .collect();
        store
            .store_scored_epoch(&ScoredEpoch {
                epoch: n,
                rules_version: i64::from(rules.version()),
                rules_hash: hex::encode(score.rules_hash()),
                activity_digest: hex::encode(score.activity_digest()),
                total_score: score.total_score().to_string(),
                total_amount,
                event_count: input.event_count() as u64,
                allocations: score
                    .allocations()
                    .iter()
                    .map(|a| (a.member.clone(), a.score.to_string(), a.amount))
                    .collect(),
                receipts,
                tree,
                states,
            })
            .await?;
    }
    Ok(ScoreRun {
        events: input.event_count(),
        score,
        stored: !dry_run,
        elapsed,
    })
}

mod explain;
pub use explain::{allocation_table, explain, explain_any, explain_v2, points, stk};

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
