//! The records scoring v2 reads besides activities: accountable confirmations, standing vouches,
//! subscriptions, the member state carried from epoch to epoch, and sources' per-epoch manifests.
use std::collections::HashMap;

use super::epochs::{state_of, EpochState, EpochTemplate, INSERT_OPEN_EPOCH};
use super::{begin_write, is_unique_violation, now_unix, to_i64, to_u64, Store, StoreResult};

/// The stored facts of an event a confirmation refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBrief {
    pub id: String,
    pub member: String,
    pub kind: String,
    pub epoch: u64,
}

/// A confirmation ready to be stored (authenticated by the caller).
#[derive(Debug, Clone)]
pub struct NewConfirmation {
    pub id: String,
    pub confirmer: String,
    pub event: EventBrief,
    /// `wallet` or `source:<name>` (the scoring crate's `Auth` encoding).
    pub auth: String,
    pub wallet: Option<String>,
    pub message: Option<String>,
    pub signature: Option<String>,
    pub confirmed_at: i64,
}

/// The database's verdict on a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmVerdict {
    Recorded,
    /// The same id was already stored for the same confirmer and event (a retry).
    Duplicate,
    /// The id is taken by another record, or the confirmer already confirmed this event.
    Conflict,
    UnknownConfirmer,
    FrozenEpoch {
        epoch: u64,
        state: EpochState,
    },
}

/// A stored vouch or its revocation.
#[derive(Debug, Clone)]
pub struct VouchRecord {
    pub voucher: String,
    pub member: String,
    pub auth: String,
    pub wallet: Option<String>,
    pub message: Option<String>,
    pub signature: Option<String>,
    /// When the voucher made the statement (Unix seconds; for a signed one, its `issued_at`).
    pub at: i64,
    pub revoke: bool,
}

/// The database's verdict on a vouch or revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VouchVerdict {
    Recorded,
    /// A newer statement about the same pair is stored (an old message replayed, or out of order).
    Stale,
    /// A revocation of a vouch that does not exist or is already revoked.
    NothingToRevoke,
    UnknownMember,
}

/// One confirmation of an epoch, as the scorer needs it.
#[derive(Debug, Clone)]
pub struct ConfirmationRow {
    pub id: String,
    pub confirmer: String,
    pub claimant: String,
    pub kind: String,
    pub event: String,
    pub confirmed_at: i64,
    pub auth: String,
    pub wallet: Option<String>,
    pub message: Option<String>,
    pub signature: Option<String>,
}

/// One vouch in force.
#[derive(Debug, Clone)]
pub struct VouchRow {
    pub voucher: String,
    pub member: String,
    pub auth: String,
    pub wallet: Option<String>,
    pub message: Option<String>,
    pub signature: Option<String>,
}

/// One member as v2 scoring needs it.
#[derive(Debug, Clone)]
pub struct MemberV2Row {
    pub id: String,
    pub active: bool,
    pub wallet: Option<String>,
    pub subscribed_until: Option<i64>,
    /// The carried state (JSON) from the newest scored epoch before this one.
    pub state: Option<String>,
    /// Epochs before this one in which the member was paid (any rules format).
    pub paid_epochs: u32,
}

/// One event as v2 scoring (and its evidence) needs it.
#[derive(Debug, Clone)]
pub struct EventV2Row {
    pub id: String,
    pub member: String,
    pub kind: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub source: String,
    pub signature: Option<String>,
}

/// A source's signed statement of what it sent for an epoch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ManifestRow {
    pub source: String,
    pub epoch: u64,
    pub events: u64,
    pub digest: String,
    pub signature: String,
}

type ConfTuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// The member, kind and epoch of a stored event.
    pub async fn event_brief(&self, id: &str) -> StoreResult<Option<EventBrief>> {
        let row = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, i64)>(
            "SELECT id, member_id, kind, epoch FROM activities WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?);
        row.map(|(id, member, kind, epoch)| {
            Ok(EventBrief {
                id,
                member,
                kind,
                epoch: to_u64(epoch, "epoch")?,
            })
        })
        .transpose()
    }

    /// Stores a confirmation if the confirmer exists and the event's epoch is still open, in one
    /// transaction (the epoch row is read under the write lock / `FOR SHARE`, as ingestion does).
    pub async fn record_confirmation(
        &self,
        c: &NewConfirmation,
        template: EpochTemplate,
    ) -> StoreResult<ConfirmVerdict> {
        let now = now_unix();
        let budget = to_i64(template.budget, "budget")?;
        let e = c.event.epoch;
        let ep = to_i64(e, "epoch")?;
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let known: Option<String> = sqlx::query_scalar("SELECT id FROM members WHERE id = $1")
                .bind(&c.confirmer)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Ok(ConfirmVerdict::UnknownConfirmer);
            }
            open_epoch!(tx, e, template, budget, now);
            let state = locked_epoch_state!(self, tx, e);
            if state != EpochState::Open {
                return Ok(ConfirmVerdict::FrozenEpoch { epoch: e, state });
            }
            let existing: Option<(String, String)> =
                sqlx::query_as("SELECT confirmer, event FROM confirmations WHERE id = $1")
                    .bind(&c.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some((confirmer, event)) = existing {
                return Ok(if confirmer == c.confirmer && event == c.event.id {
                    ConfirmVerdict::Duplicate
                } else {
                    ConfirmVerdict::Conflict
                });
            }
            let res = sqlx::query(
                "INSERT INTO confirmations (id, confirmer, claimant, kind, event, epoch, auth, \
                 wallet, message, signature, confirmed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&c.id)
            .bind(&c.confirmer)
            .bind(&c.event.member)
            .bind(&c.event.kind)
            .bind(&c.event.id)
            .bind(ep)
            .bind(&c.auth)
            .bind(c.wallet.as_deref())
            .bind(c.message.as_deref())
            .bind(c.signature.as_deref())
            .bind(c.confirmed_at)
            .execute(&mut *tx)
            .await;
            match res {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(ConfirmVerdict::Conflict),
                Err(e) => return Err(e.into()),
            }
            tx.commit().await?;
            Ok(ConfirmVerdict::Recorded)
        })
    }

    /// Stores a vouch (or revokes one) unless a newer statement about the pair is stored.
    pub async fn record_vouch(&self, v: &VouchRecord) -> StoreResult<VouchVerdict> {
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE id = $1 OR id = $2")
                .bind(&v.voucher)
                .bind(&v.member)
                .fetch_one(&mut *tx)
                .await?;
            if n < 2 {
                return Ok(VouchVerdict::UnknownMember);
            }
            // The pair's newest statement: (at, revoke).
            let last: Option<(i64, i64)> = sqlx::query_as(
                "SELECT at, revoke FROM vouch_statements WHERE voucher = $1 AND member = $2 \
                 ORDER BY at DESC LIMIT 1",
            )
            .bind(&v.voucher)
            .bind(&v.member)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((at, _)) = last {
                if v.at <= at {
                    return Ok(VouchVerdict::Stale);
                }
            }
            if v.revoke && !matches!(last, Some((_, 0))) {
                return Ok(VouchVerdict::NothingToRevoke);
            }
            sqlx::query(
                "INSERT INTO vouch_statements (voucher, member, at, revoke, auth, wallet, message, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&v.voucher)
            .bind(&v.member)
            .bind(v.at)
            .bind(i64::from(v.revoke))
            .bind(&v.auth)
            .bind(v.wallet.as_deref())
            .bind(v.message.as_deref())
            .bind(v.signature.as_deref())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(VouchVerdict::Recorded)
        })
    }

    /// Sets a member's paid subscription end (Unix seconds; `None` clears it). False for an
    /// unknown member.
    pub async fn set_subscription(&self, member: &str, until: Option<i64>) -> StoreResult<bool> {
        let n = write_pool!(self, p => sqlx::query(
            "UPDATE members SET subscribed_until = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(until)
        .bind(now_unix())
        .bind(member)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Every member with its wallet, subscription and the state carried into epoch `epoch` (the
    /// newest stored state of an earlier epoch), by id.
    pub async fn scoring_members_v2(&self, epoch: u64) -> StoreResult<Vec<MemberV2Row>> {
        let ep = to_i64(epoch, "epoch")?;
        let members = read_pool!(self, p => sqlx::query_as::<_, (String, String, Option<String>, Option<i64>)>(
            "SELECT id, status, wallet, subscribed_until FROM members ORDER BY id",
        )
        .fetch_all(p)
        .await?);
        let states = read_pool!(self, p => sqlx::query_as::<_, (String, String)>(
            "SELECT s.member_id, s.state FROM member_states s JOIN \
             (SELECT member_id, MAX(epoch) AS e FROM member_states WHERE epoch < $1 GROUP BY member_id) l \
             ON s.member_id = l.member_id AND s.epoch = l.e",
        )
        .bind(ep)
        .fetch_all(p)
        .await?);
        let mut states: HashMap<String, String> = states.into_iter().collect();
        let paid = read_pool!(self, p => sqlx::query_as::<_, (String, i64)>(
            "SELECT member_id, COUNT(*) FROM allocations WHERE epoch < $1 AND amount > 0 \
             GROUP BY member_id",
        )
        .bind(ep)
        .fetch_all(p)
        .await?);
        let paid: HashMap<String, i64> = paid.into_iter().collect();
        Ok(members
            .into_iter()
            .map(|(id, status, wallet, subscribed_until)| MemberV2Row {
                active: status == "active" && wallet.is_some(),
                state: states.remove(&id),
                paid_epochs: u32::try_from(paid.get(&id).copied().unwrap_or(0)).unwrap_or(u32::MAX),
                id,
                wallet,
                subscribed_until,
            })
            .collect())
    }

    /// Every event of an epoch with its source and receipt time, in canonical order.
    pub async fn scoring_events_v2(&self, epoch: u64) -> StoreResult<Vec<EventV2Row>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, i64, i64, String, Option<String>)>(
            "SELECT id, member_id, kind, occurred_at, received_at, source, signature FROM activities \
             WHERE epoch = $1 ORDER BY occurred_at, id",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, member, kind, occurred_at, received_at, source, signature)| EventV2Row {
                    id,
                    member,
                    kind,
                    occurred_at,
                    received_at,
                    source,
                    signature,
                },
            )
            .collect())
    }

    /// Every confirmation of events of an epoch, by `(confirmed_at, id)`.
    pub async fn scoring_confirmations(&self, epoch: u64) -> StoreResult<Vec<ConfirmationRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, ConfTuple>(
            "SELECT id, confirmer, claimant, kind, event, confirmed_at, auth, wallet, message, signature \
             FROM confirmations WHERE epoch = $1 ORDER BY confirmed_at, id",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    confirmer,
                    claimant,
                    kind,
                    event,
                    confirmed_at,
                    auth,
                    wallet,
                    message,
                    signature,
                )| {
                    ConfirmationRow {
                        id,
                        confirmer,
                        claimant,
                        kind,
                        event,
                        confirmed_at,
                        auth,
                        wallet,
                        message,
                        signature,
                    }
                },
            )
            .collect())
    }

    /// The vouches in force at `at`: each pair whose newest statement before `at` is a vouch, with
    /// that statement (its proof).
    pub async fn vouches_at(&self, at: i64) -> StoreResult<Vec<VouchRow>> {
        type VouchTuple = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows = read_pool!(self, p => sqlx::query_as::<_, VouchTuple>(
            "SELECT s.voucher, s.member, s.auth, s.wallet, s.message, s.signature \
             FROM vouch_statements s JOIN \
             (SELECT voucher, member, MAX(at) AS at FROM vouch_statements WHERE at < $1 \
              GROUP BY voucher, member) l \
             ON s.voucher = l.voucher AND s.member = l.member AND s.at = l.at \
             WHERE s.revoke = 0 ORDER BY s.voucher, s.member",
        )
        .bind(at)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(
                |(voucher, member, auth, wallet, message, signature)| VouchRow {
                    voucher,
                    member,
                    auth,
                    wallet,
                    message,
                    signature,
                },
            )
            .collect())
    }

    /// Epochs before `epoch` that have a row but are not scored yet (open or frozen), ascending.
    pub async fn unscored_before(&self, epoch: u64) -> StoreResult<Vec<u64>> {
        let rows = read_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT epoch FROM epochs WHERE epoch < $1 AND state IN ('open', 'frozen') ORDER BY epoch",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        rows.into_iter().map(|e| to_u64(e, "epoch")).collect()
    }

    /// Stores (replaces) a source's manifest for an epoch while the epoch is open or frozen.
    pub async fn record_manifest(
        &self,
        m: &ManifestRow,
        template: EpochTemplate,
    ) -> StoreResult<Result<(), EpochState>> {
        let ep = to_i64(m.epoch, "epoch")?;
        let now = now_unix();
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let budget = to_i64(template.budget, "budget")?;
            open_epoch!(tx, m.epoch, template, budget, now);
            let state = locked_epoch_state!(self, tx, m.epoch);
            // A frozen epoch takes no more events, so a manifest of what was sent can still come.
            if !matches!(state, EpochState::Open | EpochState::Frozen) {
                return Ok(Err(state));
            }
            sqlx::query(
                "INSERT INTO source_manifests (source, epoch, events, digest, signature, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, epoch) DO UPDATE SET \
                 events = excluded.events, digest = excluded.digest, signature = excluded.signature, \
                 received_at = excluded.received_at",
            )
            .bind(&m.source)
            .bind(ep)
            .bind(to_i64(m.events, "count")?)
            .bind(&m.digest)
            .bind(&m.signature)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    /// The manifests of an epoch, by source.
    pub async fn manifests(&self, epoch: u64) -> StoreResult<Vec<ManifestRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, i64, i64, String, String)>(
            "SELECT source, epoch, events, digest, signature FROM source_manifests WHERE epoch = $1 \
             ORDER BY source",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(source, epoch, events, digest, signature)| {
                Ok(ManifestRow {
                    source,
                    epoch: to_u64(epoch, "epoch")?,
                    events: to_u64(events, "count")?,
                    digest,
                    signature,
                })
            })
            .collect()
    }
}
