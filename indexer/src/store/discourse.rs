//! Discourse forum sources: webhook deliveries (idempotency), forum users mapped to no member,
//! withdrawn activities (deleted or unaccepted forum items) and back-fill cursors.
use super::epochs::{state_of, EpochState};
use super::{begin_write, now_unix, to_i64, to_u64, Store, StoreResult};

/// A forum user that maps to no member, as reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnknownUserRow {
    pub username: String,
    pub user_id: Option<i64>,
    /// Events of this user that could not be attributed.
    pub events: u64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

/// What withdrawing an activity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// Deleted from its open epoch (with the confirmations of it); it no longer counts.
    Withdrawn { epoch: u64 },
    /// It was never stored; the id is now barred from ingestion.
    NotStored,
    /// Its epoch is no longer open: the activity stays as scored.
    Kept { epoch: u64, state: EpochState },
}

/// The largest page of unknown users.
pub const MAX_UNKNOWN_PAGE: u32 = 1_000;

impl Store {
    /// The stored answer to a delivery already processed: `(event, outcome JSON)`.
    pub async fn discourse_delivery(
        &self,
        source: &str,
        delivery: i64,
    ) -> StoreResult<Option<(String, String)>> {
        Ok(read_pool!(self, p => sqlx::query_as::<_, (String, String)>(
            "SELECT event, outcome FROM discourse_deliveries WHERE source = $1 AND delivery_id = $2",
        )
        .bind(source)
        .bind(delivery)
        .fetch_optional(p)
        .await?))
    }

    /// Records a processed delivery and its answer (a concurrent twin keeps the first answer).
    pub async fn record_discourse_delivery(
        &self,
        source: &str,
        delivery: i64,
        event: &str,
        outcome: &str,
    ) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query(
            "INSERT INTO discourse_deliveries (source, delivery_id, event, outcome, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, delivery_id) DO NOTHING",
        )
        .bind(source)
        .bind(delivery)
        .bind(event)
        .bind(outcome)
        .bind(now_unix())
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Counts one more unattributable event of a forum user.
    pub async fn note_unknown_forum_user(
        &self,
        source: &str,
        username: &str,
        user_id: Option<i64>,
    ) -> StoreResult<()> {
        let now = now_unix();
        write_pool!(self, p => sqlx::query(
            "INSERT INTO discourse_unknown_users \
             (source, username, user_id, events, first_seen_at, last_seen_at) \
             VALUES ($1, $2, $3, 1, $4, $4) \
             ON CONFLICT (source, username) DO UPDATE SET \
             events = discourse_unknown_users.events + 1, last_seen_at = excluded.last_seen_at, \
             user_id = COALESCE(excluded.user_id, discourse_unknown_users.user_id)",
        )
        .bind(source)
        .bind(username)
        .bind(user_id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Unknown forum users of a source, by username, after `after` (keyset page).
    pub async fn unknown_forum_users(
        &self,
        source: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<UnknownUserRow>> {
        let limit = i64::from(limit.clamp(1, MAX_UNKNOWN_PAGE));
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, Option<i64>, i64, i64, i64)>(
            "SELECT username, user_id, events, first_seen_at, last_seen_at \
             FROM discourse_unknown_users WHERE source = $1 AND username > $2 \
             ORDER BY username LIMIT $3",
        )
        .bind(source)
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(username, user_id, events, first_seen_at, last_seen_at)| {
                Ok(UnknownUserRow {
                    username,
                    user_id,
                    events: to_u64(events, "events")?,
                    first_seen_at,
                    last_seen_at,
                })
            })
            .collect()
    }

    /// Whether an activity id was withdrawn (and may not be ingested again).
    pub async fn is_withdrawn(&self, activity: &str) -> StoreResult<bool> {
        let row: Option<String> = read_pool!(self, p => sqlx::query_scalar(
            "SELECT activity_id FROM discourse_withdrawn WHERE activity_id = $1",
        )
        .bind(activity)
        .fetch_optional(p)
        .await?);
        Ok(row.is_some())
    }

    /// Lifts a withdrawal (the forum item was recovered or accepted again).
    pub async fn unwithdraw(&self, activity: &str) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query("DELETE FROM discourse_withdrawn WHERE activity_id = $1")
            .bind(activity)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Withdraws an activity of `source`: if stored in an open epoch it is deleted with the
    /// confirmations of it and the epoch's activity count goes down, all in one transaction (the
    /// epoch row is read under the write lock / `FOR SHARE`, as ingestion does, so the epoch cannot
    /// freeze meanwhile). The id is barred from ingestion unless the epoch had already closed.
    pub async fn withdraw_activity(
        &self,
        activity: &str,
        source: &str,
        reason: &str,
    ) -> StoreResult<Withdrawal> {
        let now = now_unix();
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let stored: Option<i64> = sqlx::query_scalar(
                "SELECT epoch FROM activities WHERE id = $1 AND source = $2",
            )
            .bind(activity)
            .bind(source)
            .fetch_optional(&mut *tx)
            .await?;
            let verdict = match stored {
                None => Withdrawal::NotStored,
                Some(ep) => {
                    let epoch = to_u64(ep, "epoch")?;
                    let state = locked_epoch_state!(self, tx, epoch);
                    if state != EpochState::Open {
                        return Ok(Withdrawal::Kept { epoch, state });
                    }
                    sqlx::query("DELETE FROM confirmations WHERE event = $1")
                        .bind(activity)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM activities WHERE id = $1")
                        .bind(activity)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE epoch_activity_counts SET activities = activities - 1 \
                         WHERE epoch = $1 AND activities > 0",
                    )
                    .bind(to_i64(epoch, "epoch")?)
                    .execute(&mut *tx)
                    .await?;
                    Withdrawal::Withdrawn { epoch }
                }
            };
            sqlx::query(
                "INSERT INTO discourse_withdrawn (activity_id, source, reason, withdrawn_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (activity_id) DO NOTHING",
            )
            .bind(activity)
            .bind(source)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(verdict)
        })
    }

    /// A back-fill stream's saved cursor.
    pub async fn discourse_cursor(
        &self,
        source: &str,
        forum: &str,
        stream: &str,
    ) -> StoreResult<Option<String>> {
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT cursor FROM discourse_backfill WHERE source = $1 AND forum = $2 AND stream = $3",
        )
        .bind(source)
        .bind(forum)
        .bind(stream)
        .fetch_optional(p)
        .await?))
    }

    /// Saves a back-fill stream's cursor.
    pub async fn set_discourse_cursor(
        &self,
        source: &str,
        forum: &str,
        stream: &str,
        cursor: &str,
    ) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query(
            "INSERT INTO discourse_backfill (source, forum, stream, cursor, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, forum, stream) \
             DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(source)
        .bind(forum)
        .bind(stream)
        .bind(cursor)
        .bind(now_unix())
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }
}
