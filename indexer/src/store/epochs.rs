//! Epochs: their state, the scoring inputs and the scored results (allocations, receipts, tree).
//!
//! The state is the [`EpochState`] type everywhere; its text form exists only in the `epochs.state`
//! column and is parsed once, when a row is read.
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::distribution::EpochTreeRows;
use super::{begin_write, now_unix, to_i64, to_u64, Store, StoreError, StoreResult};

/// The persisted states of an epoch, in pipeline order (DESIGN.md §4):
/// `open → frozen → scored → attested → finalized → distributing → done`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EpochState {
    /// Accepting activity.
    Open,
    /// No more activity accepted (the epoch ended).
    Frozen,
    /// Allocations, receipts and the allocation tree are stored.
    Scored,
    /// Our oracle's attestation is confirmed on chain (or we run no oracle).
    Attested,
    /// The program has seen `threshold` identical attestations.
    Finalized,
    /// Chunks are being paid.
    Distributing,
    /// Every chunk is paid.
    Done,
}

impl EpochState {
    pub const ALL: [EpochState; 7] = [
        EpochState::Open,
        EpochState::Frozen,
        EpochState::Scored,
        EpochState::Attested,
        EpochState::Finalized,
        EpochState::Distributing,
        EpochState::Done,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            EpochState::Open => "open",
            EpochState::Frozen => "frozen",
            EpochState::Scored => "scored",
            EpochState::Attested => "attested",
            EpochState::Finalized => "finalized",
            EpochState::Distributing => "distributing",
            EpochState::Done => "done",
        }
    }

    /// Whether the epoch has results (scored or any later state): its log can be published.
    pub fn is_scored(self) -> bool {
        self >= EpochState::Scored
    }
}

impl fmt::Display for EpochState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown epoch state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for EpochState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EpochState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// Parses the `state` column (the one place where the text becomes the type).
pub(super) fn state_of(epoch: u64, s: &str) -> StoreResult<EpochState> {
    s.parse()
        .map_err(|e: UnknownState| StoreError::Corrupt(format!("epoch {epoch}: {e}")))
}

/// The one statement that creates an epoch row (in state `open`) if it does not exist yet.
pub(super) const INSERT_OPEN_EPOCH: &str =
    "INSERT INTO epochs (epoch, state, starts_at, ends_at, budget, created_at) \
     VALUES ($1, 'open', $2, $3, $4, $5) ON CONFLICT (epoch) DO NOTHING";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRow {
    pub epoch: u64,
    pub state: EpochState,
    pub starts_at: i64,
    pub ends_at: i64,
    pub budget: u64,
    pub rules_version: Option<i64>,
    pub rules_hash: Option<String>,
    pub activity_digest: Option<String>,
    pub total_score: Option<String>,
    pub total_amount: Option<u64>,
    pub event_count: u64,
    pub scored_at: Option<i64>,
}

/// Window and budget used when an epoch row is first created.
#[derive(Debug, Clone, Copy)]
pub struct EpochTemplate {
    pub genesis: i64,
    pub duration_secs: i64,
    pub budget: u64,
}

impl EpochTemplate {
    pub fn window(&self, epoch: u64) -> (i64, i64) {
        let start = self.genesis + epoch as i64 * self.duration_secs;
        (start, start + self.duration_secs)
    }
}

/// Data of one member for building a scoring input.
#[derive(Debug, Clone)]
pub struct ScoringMember {
    pub id: String,
    pub active: bool,
    pub recent_active_epochs: u32,
    /// The wallet bound now (recipients are frozen from it when the epoch is scored).
    pub wallet: Option<String>,
}

/// One stored event, as the scorer needs it.
#[derive(Debug, Clone)]
pub struct ScoringEvent {
    pub id: String,
    pub member: String,
    pub kind: String,
    pub occurred_at: i64,
    pub confirmations: Vec<String>,
}

/// Results of scoring one epoch, ready to be written.
#[derive(Debug, Clone)]
pub struct ScoredEpoch {
    pub epoch: u64,
    pub rules_version: i64,
    pub rules_hash: String,
    pub activity_digest: String,
    pub total_score: String,
    pub total_amount: u64,
    pub event_count: u64,
    /// (member, score as decimal text, amount): members with a positive amount.
    pub allocations: Vec<(String, String, u64)>,
    /// (member, receipt JSON): every member with events.
    pub receipts: Vec<(String, String)>,
    /// The allocation tree (recipients, chunks, root); `None` when nobody is paid.
    pub tree: Option<EpochTreeRows>,
    /// (member, state JSON) carried into the next epoch (rules v2; only states that changed).
    pub states: Vec<(String, String)>,
}

impl Store {
    fn epoch_from_tuple(t: EpochTuple) -> StoreResult<EpochRow> {
        let (
            epoch,
            state,
            starts_at,
            ends_at,
            budget,
            rules_version,
            rules_hash,
            digest,
            ts,
            ta,
            n,
            scored_at,
        ) = t;
        let epoch = to_u64(epoch, "epoch")?;
        Ok(EpochRow {
            epoch,
            state: state_of(epoch, &state)?,
            starts_at,
            ends_at,
            budget: to_u64(budget, "budget")?,
            rules_version,
            rules_hash,
            activity_digest: digest,
            total_score: ts,
            total_amount: ta.map(|a| to_u64(a, "amount")).transpose()?,
            event_count: to_u64(n, "count")?,
            scored_at,
        })
    }

    /// All epochs with activity or results, newest first.
    pub async fn epochs(&self) -> StoreResult<Vec<EpochRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, EpochTuple>(EPOCH_SELECT_ALL)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Self::epoch_from_tuple).collect()
    }

    pub async fn epoch(&self, epoch: u64) -> StoreResult<Option<EpochRow>> {
        let row = read_pool!(self, p => sqlx::query_as::<_, EpochTuple>(EPOCH_SELECT_ONE)
            .bind(to_i64(epoch, "epoch")?)
            .fetch_optional(p)
            .await?);
        row.map(Self::epoch_from_tuple).transpose()
    }

    /// Moves an epoch to `to` if it currently is in one of `from` (creating it as `open` first if
    /// missing). Returns the state before the change; [`StoreError::WrongState`] when the epoch is in
    /// none of `from` (or was moved by someone else meanwhile).
    pub async fn transition_epoch(
        &self,
        epoch: u64,
        from: &[EpochState],
        to: EpochState,
        template: EpochTemplate,
    ) -> StoreResult<EpochState> {
        let (s, e) = template.window(epoch);
        let ep = to_i64(epoch, "epoch")?;
        let budget = to_i64(template.budget, "budget")?;
        let wrong = |actual| StoreError::WrongState {
            epoch,
            actual,
            expected: from.to_vec(),
        };
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            sqlx::query(INSERT_OPEN_EPOCH)
                .bind(ep)
                .bind(s)
                .bind(e)
                .bind(budget)
                .bind(now_unix())
                .execute(&mut *tx)
                .await?;
            let current: String = sqlx::query_scalar("SELECT state FROM epochs WHERE epoch = $1")
                .bind(ep)
                .fetch_one(&mut *tx)
                .await?;
            let current = state_of(epoch, &current)?;
            if !from.contains(&current) {
                return Err(wrong(current));
            }
            // This UPDATE waits for in-flight ingestion batches holding FOR SHARE locks
            // (PostgreSQL) and only applies if nobody changed the state meanwhile.
            let changed = sqlx::query("UPDATE epochs SET state = $1 WHERE epoch = $2 AND state = $3")
                .bind(to.as_str())
                .bind(ep)
                .bind(current.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                let now_state: String = sqlx::query_scalar("SELECT state FROM epochs WHERE epoch = $1")
                    .bind(ep)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(wrong(state_of(epoch, &now_state)?));
            }
            tx.commit().await?;
            Ok(current)
        })
    }

    /// Lowers a frozen (not yet scored) epoch's budget to `cap` when it is above: the emission the
    /// chain allows the epoch (its period's vault inflow). A budget at or below `cap`, or an epoch in
    /// any other state, is left as it is. Returns the epoch's budget afterwards.
    pub async fn cap_epoch_budget(&self, epoch: u64, cap: u64) -> StoreResult<u64> {
        let ep = to_i64(epoch, "epoch")?;
        let cap = to_i64(cap, "budget")?;
        write_pool!(self, p => sqlx::query(
            "UPDATE epochs SET budget = $1, updated_at = $2 WHERE epoch = $3 AND state = $4 AND budget > $1",
        )
        .bind(cap)
        .bind(now_unix())
        .bind(ep)
        .bind(EpochState::Frozen.as_str())
        .execute(p)
        .await?
        .rows_affected());
        self.epoch(epoch)
            .await?
            .map(|row| row.budget)
            .ok_or_else(|| StoreError::Corrupt(format!("epoch {epoch} has no row")))
    }

    /// Moves an epoch from `from` to `to` (pipeline steps after `scored`);
    /// [`StoreError::WrongState`] when it is not in `from` any more.
    pub async fn advance_epoch(
        &self,
        epoch: u64,
        from: EpochState,
        to: EpochState,
    ) -> StoreResult<()> {
        let now = now_unix();
        let done_at = (to == EpochState::Done).then_some(now);
        let finalized_at = (to == EpochState::Finalized).then_some(now);
        let ep = to_i64(epoch, "epoch")?;
        let changed = write_pool!(self, p => sqlx::query(
            "UPDATE epochs SET state = $1, updated_at = $2, \
             done_at = COALESCE($3, done_at), finalized_at = COALESCE($4, finalized_at) \
             WHERE epoch = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(done_at)
        .bind(finalized_at)
        .bind(ep)
        .bind(from.as_str())
        .execute(p)
        .await?
        .rows_affected());
        if changed == 1 {
            return Ok(());
        }
        let actual: Option<String> = read_pool!(self, p => sqlx::query_scalar(
            "SELECT state FROM epochs WHERE epoch = $1",
        )
        .bind(ep)
        .fetch_optional(p)
        .await?);
        let actual =
            actual.ok_or_else(|| StoreError::Corrupt(format!("epoch {epoch} has no row")))?;
        Err(StoreError::WrongState {
            epoch,
            actual: state_of(epoch, &actual)?,
            expected: vec![from],
        })
    }

    /// Records the signature of our oracle's attestation.
    pub async fn record_attestation(&self, epoch: u64, signature: &str) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query("UPDATE epochs SET attest_signature = $1 WHERE epoch = $2")
            .bind(signature)
            .bind(to_i64(epoch, "epoch")?)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Members with activity flags and the count of recent epochs with a positive allocation.
    pub async fn scoring_members(&self, epoch: u64, k: u32) -> StoreResult<Vec<ScoringMember>> {
        let members = read_pool!(self, p => sqlx::query_as::<_, (String, String, Option<String>)>(
            "SELECT id, status, wallet FROM members ORDER BY id",
        )
        .fetch_all(p)
        .await?);
        let lo = epoch.saturating_sub(k as u64);
        let recent = read_pool!(self, p => sqlx::query_as::<_, (String, i64)>(
            "SELECT member_id, COUNT(*) FROM allocations \
             WHERE epoch >= $1 AND epoch < $2 AND amount > 0 GROUP BY member_id",
        )
        .bind(to_i64(lo, "epoch")?)
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        let recent: HashMap<String, i64> = recent.into_iter().collect();
        Ok(members
            .into_iter()
            .map(|(id, status, wallet)| ScoringMember {
                active: status == "active" && wallet.is_some(),
                recent_active_epochs: recent.get(&id).copied().unwrap_or(0) as u32,
                id,
                wallet,
            })
            .collect())
    }

    /// All events of an epoch.
    pub async fn scoring_events(&self, epoch: u64) -> StoreResult<Vec<ScoringEvent>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, i64, String)>(
            "SELECT id, member_id, kind, occurred_at, confirmations FROM activities WHERE epoch = $1 \
             ORDER BY occurred_at, id",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(id, member, kind, occurred_at, confs)| {
                let confirmations: Vec<String> = serde_json::from_str(&confs)
                    .map_err(|e| StoreError::Corrupt(format!("confirmations of {id}: {e}")))?;
                Ok(ScoringEvent {
                    id,
                    member,
                    kind,
                    occurred_at,
                    confirmations,
                })
            })
            .collect()
    }

    /// Writes allocations and receipts and marks the epoch `scored`, in one transaction.
    pub async fn store_scored_epoch(&self, s: &ScoredEpoch) -> StoreResult<()> {
        let ep = to_i64(s.epoch, "epoch")?;
        let total_amount = to_i64(s.total_amount, "amount")?;
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            sqlx::query("DELETE FROM receipts WHERE epoch = $1").bind(ep).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM allocations WHERE epoch = $1").bind(ep).execute(&mut *tx).await?;
            for (member, score, amount) in &s.allocations {
                sqlx::query("INSERT INTO allocations (epoch, member_id, score, amount) VALUES ($1, $2, $3, $4)")
                    .bind(ep)
                    .bind(member)
                    .bind(score)
                    .bind(to_i64(*amount, "amount")?)
                    .execute(&mut *tx)
                    .await?;
            }
            for (member, receipt) in &s.receipts {
                sqlx::query("INSERT INTO receipts (epoch, member_id, receipt) VALUES ($1, $2, $3)")
                    .bind(ep)
                    .bind(member)
                    .bind(receipt)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM member_states WHERE epoch = $1").bind(ep).execute(&mut *tx).await?;
            for (member, state) in &s.states {
                sqlx::query("INSERT INTO member_states (member_id, epoch, state) VALUES ($1, $2, $3)")
                    .bind(member)
                    .bind(ep)
                    .bind(state)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM epoch_recipients WHERE epoch = $1").bind(ep).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM epoch_chunks WHERE epoch = $1").bind(ep).execute(&mut *tx).await?;
            if let Some(tree) = &s.tree {
                for r in &tree.recipients {
                    sqlx::query(
                        "INSERT INTO epoch_recipients (epoch, member_id, wallet, token_account, amount, chunk_index) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(ep)
                    .bind(&r.member_id)
                    .bind(&r.wallet)
                    .bind(&r.token_account)
                    .bind(to_i64(r.amount, "amount")?)
                    .bind(i64::from(r.chunk_index))
                    .execute(&mut *tx)
                    .await?;
                }
                for (index, recipients, amount) in &tree.chunks {
                    sqlx::query(
                        "INSERT INTO epoch_chunks (epoch, chunk_index, recipients, amount) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(ep)
                    .bind(i64::from(*index))
                    .bind(i64::from(*recipients))
                    .bind(to_i64(*amount, "amount")?)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "UPDATE epochs SET root = $1, chunk_count = $2, recipient_count = $3 WHERE epoch = $4",
            )
            .bind(s.tree.as_ref().map(|t| t.root.clone()))
            .bind(s.tree.as_ref().map(|t| t.chunks.len() as i64))
            .bind(s.tree.as_ref().map(|t| t.recipients.len() as i64))
            .bind(ep)
            .execute(&mut *tx)
            .await?;
            let updated = sqlx::query(
                "UPDATE epochs SET state = 'scored', rules_version = $1, rules_hash = $2, \
                 activity_digest = $3, total_score = $4, total_amount = $5, event_count = $6, \
                 scored_at = $7 WHERE epoch = $8 AND state = 'frozen'",
            )
            .bind(s.rules_version)
            .bind(&s.rules_hash)
            .bind(&s.activity_digest)
            .bind(&s.total_score)
            .bind(total_amount)
            .bind(to_i64(s.event_count, "count")?)
            .bind(now_unix())
            .bind(ep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                let actual: String = sqlx::query_scalar("SELECT state FROM epochs WHERE epoch = $1")
                    .bind(ep)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(StoreError::WrongState {
                    epoch: s.epoch,
                    actual: state_of(s.epoch, &actual)?,
                    expected: vec![EpochState::Frozen],
                });
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The stored receipt JSON of a member for an epoch.
    pub async fn receipt(&self, epoch: u64, member: &str) -> StoreResult<Option<String>> {
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT receipt FROM receipts WHERE epoch = $1 AND member_id = $2",
        )
        .bind(to_i64(epoch, "epoch")?)
        .bind(member)
        .fetch_optional(p)
        .await?))
    }

    /// A member's scored results after `after` in timeline order (end of the epoch, epoch), at
    /// most `limit`: (epoch, score, amount, end of the epoch).
    pub async fn member_points_page(
        &self,
        member: &str,
        after: &super::TimelineKey,
        limit: i64,
    ) -> StoreResult<Vec<(u64, String, u64, i64)>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT a.epoch, a.score, a.amount, e.ends_at FROM allocations a \
             JOIN epochs e ON e.epoch = a.epoch WHERE a.member_id = $1 \
             AND (e.ends_at > $2 OR (e.ends_at = $2 AND ($3 < 1 OR ($3 = 1 AND a.epoch > $4)))) \
             ORDER BY e.ends_at, a.epoch LIMIT $5",
        )
        .bind(member)
        .bind(after.at)
        .bind(after.rank)
        .bind(after.epoch)
        .bind(limit)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(epoch, score, amount, at)| {
                Ok((
                    to_u64(epoch, "epoch")?,
                    score,
                    to_u64(amount, "amount")?,
                    at,
                ))
            })
            .collect()
    }

    /// Epochs with activity or results below `before` (exclusive), newest first, at most `limit`.
    pub async fn epochs_page(&self, before: Option<u64>, limit: i64) -> StoreResult<Vec<EpochRow>> {
        let before = match before {
            Some(b) => to_i64(b, "epoch")?,
            None => i64::MAX,
        };
        let rows = read_pool!(self, p => sqlx::query_as::<_, EpochTuple>(EPOCH_SELECT_PAGE)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Self::epoch_from_tuple).collect()
    }
}

type EpochTuple = (
    i64,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

const EPOCH_SELECT_ALL: &str = "SELECT e.epoch, e.state, e.starts_at, e.ends_at, e.budget, \
     e.rules_version, e.rules_hash, e.activity_digest, e.total_score, e.total_amount, \
     COALESCE(e.event_count, (SELECT c.activities FROM epoch_activity_counts c WHERE c.epoch = e.epoch), 0), \
     e.scored_at FROM epochs e ORDER BY e.epoch DESC";

const EPOCH_SELECT_PAGE: &str = "SELECT e.epoch, e.state, e.starts_at, e.ends_at, e.budget, \
     e.rules_version, e.rules_hash, e.activity_digest, e.total_score, e.total_amount, \
     COALESCE(e.event_count, (SELECT c.activities FROM epoch_activity_counts c WHERE c.epoch = e.epoch), 0), \
     e.scored_at FROM epochs e WHERE e.epoch < $1 ORDER BY e.epoch DESC LIMIT $2";

const EPOCH_SELECT_ONE: &str = "SELECT e.epoch, e.state, e.starts_at, e.ends_at, e.budget, \
     e.rules_version, e.rules_hash, e.activity_digest, e.total_score, e.total_amount, \
     COALESCE(e.event_count, (SELECT c.activities FROM epoch_activity_counts c WHERE c.epoch = e.epoch), 0), \
     e.scored_at FROM epochs e WHERE e.epoch = $1";
