//! Program events read from the chain, the per-member STK ledger derived from them, and the
//! watcher's cursor — written together, so a batch and the cursor that covers it commit at once.
use std::collections::HashMap;

use serde::Serialize;

use super::{begin_write, now_unix, to_i64, to_u64, Store, StoreResult};

/// Where the watcher stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub cursor: String,
    pub last_signature: String,
    pub last_ordinal: i64,
}

/// A ledger row to write (its event's id is known only inside the write transaction).
#[derive(Debug, Clone)]
pub struct NewLedger {
    pub position: i64,
    pub member_id: Option<String>,
    pub wallet: String,
    pub kind: &'static str,
    pub stk_amount: u64,
    pub quote_amount: Option<u64>,
    pub epoch: Option<u64>,
}

/// A program event to write, unique by (signature, ordinal), with the ledger rows it produces.
#[derive(Debug, Clone)]
pub struct NewChainEvent {
    pub signature: String,
    pub ordinal: i64,
    pub slot: u64,
    pub name: &'static str,
    pub epoch: Option<u64>,
    /// The event's fields as JSON text.
    pub data: String,
    pub ledger: Vec<NewLedger>,
}

/// One stored ledger row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    pub member_id: Option<String>,
    pub wallet: String,
    pub kind: String,
    pub stk_amount: u64,
    pub quote_amount: Option<u64>,
    pub epoch: Option<u64>,
    pub signature: String,
    pub slot: u64,
    pub ordinal: i64,
    pub position: i64,
    pub observed_at: i64,
}

/// A stored program event: (signature, ordinal, name, epoch, data JSON).
pub type ChainEventRow = (String, i64, String, Option<i64>, String);

type LedgerTuple = (
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
    i64,
);

/// [`LedgerTuple`] followed by the event's row id.
type LedgerPageTuple = (
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// The one mapping of a `member_ledger` row (joined with its event's ordinal) to a [`LedgerRow`].
fn ledger_row(
    (member_id, wallet, kind, stk, quote, epoch, signature, slot, ordinal, position, at): LedgerTuple,
) -> StoreResult<LedgerRow> {
    Ok(LedgerRow {
        member_id,
        wallet,
        kind,
        stk_amount: to_u64(stk, "amount")?,
        quote_amount: quote.map(|q| to_u64(q, "amount")).transpose()?,
        epoch: epoch.map(|e| to_u64(e, "epoch")).transpose()?,
        signature,
        slot: to_u64(slot, "slot")?,
        ordinal,
        position,
        observed_at: at,
    })
}

impl Store {
    pub async fn watcher_cursor(&self) -> StoreResult<Option<Cursor>> {
        let row = read_pool!(self, p => sqlx::query_as::<_, (String, String, i64)>(
            "SELECT cursor, last_signature, last_ordinal FROM watcher_cursor WHERE id = 1",
        )
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(cursor, last_signature, last_ordinal)| Cursor {
            cursor,
            last_signature,
            last_ordinal,
        }))
    }

    /// Writes a batch of events (each once: an event already stored is skipped with its ledger rows)
    /// and moves the cursor to `to`, in one transaction. Returns how many events were new.
    pub async fn store_chain_events(
        &self,
        events: &[NewChainEvent],
        to: &Cursor,
        observed_at: i64,
    ) -> StoreResult<usize> {
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let mut inserted = 0usize;
            for ev in events {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO chain_events (signature, ordinal, slot, name, epoch, data, observed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (signature, ordinal) DO NOTHING RETURNING id",
                )
                .bind(&ev.signature)
                .bind(ev.ordinal)
                .bind(to_i64(ev.slot, "slot")?)
                .bind(ev.name)
                .bind(ev.epoch.map(|e| to_i64(e, "epoch")).transpose()?)
                .bind(&ev.data)
                .bind(observed_at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else { continue };
                inserted += 1;
                for l in &ev.ledger {
                    sqlx::query(
                        "INSERT INTO member_ledger (event_id, position, member_id, wallet, kind, \
                         stk_amount, quote_amount, epoch, signature, slot, observed_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (event_id, position) DO NOTHING",
                    )
                    .bind(id)
                    .bind(l.position)
                    .bind(&l.member_id)
                    .bind(&l.wallet)
                    .bind(l.kind)
                    .bind(to_i64(l.stk_amount, "amount")?)
                    .bind(l.quote_amount.map(|q| to_i64(q, "amount")).transpose()?)
                    .bind(l.epoch.map(|e| to_i64(e, "epoch")).transpose()?)
                    .bind(&ev.signature)
                    .bind(to_i64(ev.slot, "slot")?)
                    .bind(observed_at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "INSERT INTO watcher_cursor (id, cursor, last_signature, last_ordinal, updated_at) \
                 VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, \
                 last_signature = excluded.last_signature, last_ordinal = excluded.last_ordinal, \
                 updated_at = excluded.updated_at",
            )
            .bind(&to.cursor)
            .bind(&to.last_signature)
            .bind(to.last_ordinal)
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Forgets every stored event, ledger row and the cursor.
    pub async fn reset_chain_events(&self) -> StoreResult<()> {
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            for table in ["member_ledger", "chain_events", "watcher_cursor"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The frozen recipients of one chunk: token account → (member, wallet).
    pub async fn chunk_recipients(
        &self,
        epoch: u64,
        chunk: u32,
    ) -> StoreResult<HashMap<String, (String, String)>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, String)>(
            "SELECT token_account, member_id, wallet FROM epoch_recipients WHERE epoch = $1 AND chunk_index = $2",
        )
        .bind(to_i64(epoch, "epoch")?)
        .bind(i64::from(chunk))
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(account, member, wallet)| (account, (member, wallet)))
            .collect())
    }

    /// Ledger rows (of one member, or all), in chain order.
    pub async fn ledger(&self, member: Option<&str>) -> StoreResult<Vec<LedgerRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, LedgerTuple>(
            "SELECT l.member_id, l.wallet, l.kind, l.stk_amount, l.quote_amount, l.epoch, l.signature, \
             l.slot, e.ordinal, l.position, l.observed_at \
             FROM member_ledger l JOIN chain_events e ON e.id = l.event_id \
             WHERE $1 IS NULL OR l.member_id = $1 \
             ORDER BY l.slot, e.id, l.position",
        )
        .bind(member)
        .fetch_all(p)
        .await?);
        rows.into_iter().map(ledger_row).collect()
    }

    /// A member's ledger rows after `after` in timeline order (`observed_at`, slot, event,
    /// position), at most `limit`, each with its event's row id.
    pub async fn member_ledger_page(
        &self,
        member: &str,
        after: &super::TimelineKey,
        limit: i64,
    ) -> StoreResult<Vec<(LedgerRow, i64)>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, LedgerPageTuple>(
            "SELECT l.member_id, l.wallet, l.kind, l.stk_amount, l.quote_amount, l.epoch, l.signature, \
             l.slot, e.ordinal, l.position, l.observed_at, e.id \
             FROM member_ledger l JOIN chain_events e ON e.id = l.event_id \
             WHERE l.member_id = $1 AND (l.observed_at > $2 OR (l.observed_at = $2 AND ($3 < 2 OR \
             ($3 = 2 AND (l.slot > $4 OR (l.slot = $4 AND (e.id > $5 OR (e.id = $5 AND l.position > $6)))))))) \
             ORDER BY l.observed_at, l.slot, e.id, l.position LIMIT $7",
        )
        .bind(member)
        .bind(after.at)
        .bind(after.rank)
        .bind(after.slot)
        .bind(after.event)
        .bind(after.position)
        .bind(limit)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(m, w, k, stk, q, e, sig, slot, ord, pos, at, event)| {
                Ok((
                    ledger_row((m, w, k, stk, q, e, sig, slot, ord, pos, at))?,
                    event,
                ))
            })
            .collect()
    }

    /// A member's ledger totals per kind: (kind, STK, quote), one row per kind.
    pub async fn member_ledger_totals(&self, member: &str) -> StoreResult<Vec<(String, u64, u64)>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT kind, CAST(COALESCE(SUM(stk_amount), 0) AS BIGINT), \
             CAST(COALESCE(SUM(quote_amount), 0) AS BIGINT) FROM member_ledger \
             WHERE member_id = $1 GROUP BY kind",
        )
        .bind(member)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(kind, stk, quote)| Ok((kind, to_u64(stk, "amount")?, to_u64(quote, "amount")?)))
            .collect()
    }

    /// Stored program events, in chain order.
    pub async fn chain_events(&self) -> StoreResult<Vec<ChainEventRow>> {
        Ok(read_pool!(self, p => sqlx::query_as::<_, ChainEventRow>(
            "SELECT signature, ordinal, name, epoch, data FROM chain_events ORDER BY slot, id",
        )
        .fetch_all(p)
        .await?))
    }
}
