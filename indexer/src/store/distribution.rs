//! Distribution: the allocation tree of a scored epoch (recipients, chunks, root), chunk payments and
//! the address lookup tables that carry the recipients.
use super::epochs::{state_of, EpochState};
use super::{begin_write, now_unix, to_i64, to_u64, Store, StoreError, StoreResult};

/// One recipient of an epoch, frozen at scoring time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRow {
    pub member_id: String,
    pub wallet: String,
    pub token_account: String,
    pub amount: u64,
    pub chunk_index: u32,
}

/// The tree of a scored epoch, written in the same transaction as its allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochTreeRows {
    pub root: String,
    pub recipients: Vec<RecipientRow>,
    /// (chunk index, recipients, amount)
    pub chunks: Vec<(u32, u32, u64)>,
}

/// What the pipeline needs of a scored epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochPlan {
    pub epoch: u64,
    pub state: EpochState,
    pub root: [u8; 32],
    pub total_amount: u64,
    pub chunk_count: u32,
    pub recipient_count: u32,
    pub activity_digest: [u8; 32],
    pub rules_hash: [u8; 32],
}

/// A chunk's payment record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRow {
    pub chunk_index: u32,
    pub recipients: u32,
    pub amount: u64,
    pub lookup_table: Option<String>,
    pub signature: Option<String>,
    pub paid_at: Option<i64>,
}

fn hex32(s: Option<String>, what: &str) -> StoreResult<[u8; 32]> {
    let s = s.ok_or_else(|| StoreError::Corrupt(format!("{what} missing")))?;
    let bytes = hex::decode(&s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

type PlanTuple = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// The scored epoch's plan, if it has been scored with a tree.
    pub async fn epoch_plan(&self, epoch: u64) -> StoreResult<Option<EpochPlan>> {
        let ep = to_i64(epoch, "epoch")?;
        let row = read_pool!(self, p => sqlx::query_as::<_, PlanTuple>(
            "SELECT state, root, total_amount, chunk_count, recipient_count, activity_digest, rules_hash \
             FROM epochs WHERE epoch = $1",
        )
        .bind(ep)
        .fetch_optional(p)
        .await?);
        let Some((state, root, total, chunks, recipients, digest, rules)) = row else {
            return Ok(None);
        };
        if root.is_none() {
            return Ok(None);
        }
        Ok(Some(EpochPlan {
            epoch,
            state: state_of(epoch, &state)?,
            root: hex32(root, "root")?,
            total_amount: to_u64(total.unwrap_or(0), "amount")?,
            chunk_count: to_u64(chunks.unwrap_or(0), "chunk_count")? as u32,
            recipient_count: to_u64(recipients.unwrap_or(0), "recipient_count")? as u32,
            activity_digest: hex32(digest, "activity_digest")?,
            rules_hash: hex32(rules, "rules_hash")?,
        }))
    }

    /// Recipients of an epoch in tree order (ascending token account).
    pub async fn epoch_recipients(&self, epoch: u64) -> StoreResult<Vec<RecipientRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, i64, i64)>(
            "SELECT member_id, wallet, token_account, amount, chunk_index FROM epoch_recipients \
             WHERE epoch = $1 ORDER BY chunk_index, token_account",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(member_id, wallet, token_account, amount, chunk)| {
                Ok(RecipientRow {
                    member_id,
                    wallet,
                    token_account,
                    amount: to_u64(amount, "amount")?,
                    chunk_index: to_u64(chunk, "chunk")? as u32,
                })
            })
            .collect()
    }

    pub async fn epoch_chunks(&self, epoch: u64) -> StoreResult<Vec<ChunkRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (i64, i64, i64, Option<String>, Option<String>, Option<i64>)>(
            "SELECT chunk_index, recipients, amount, lookup_table, signature, paid_at FROM epoch_chunks \
             WHERE epoch = $1 ORDER BY chunk_index",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(i, r, a, lookup_table, signature, paid_at)| {
                Ok(ChunkRow {
                    chunk_index: to_u64(i, "chunk")? as u32,
                    recipients: to_u64(r, "recipients")? as u32,
                    amount: to_u64(a, "amount")?,
                    lookup_table,
                    signature,
                    paid_at,
                })
            })
            .collect()
    }

    /// Records that a chunk is paid (with the signature that paid it, if this service sent it).
    /// Idempotent: a chunk already recorded keeps its first record.
    pub async fn mark_chunk_paid(
        &self,
        epoch: u64,
        chunk: u32,
        signature: Option<&str>,
    ) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query(
            "UPDATE epoch_chunks SET signature = COALESCE(signature, $1), paid_at = COALESCE(paid_at, $2) \
             WHERE epoch = $3 AND chunk_index = $4",
        )
        .bind(signature)
        .bind(now_unix())
        .bind(to_i64(epoch, "epoch")?)
        .bind(i64::from(chunk))
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Records a lookup table created for chunks `first..=last` of an epoch.
    pub async fn record_lookup_table(
        &self,
        epoch: u64,
        first: u32,
        last: u32,
        address: &str,
    ) -> StoreResult<()> {
        let ep = to_i64(epoch, "epoch")?;
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            sqlx::query(
                "INSERT INTO lookup_tables (address, epoch, first_chunk, last_chunk, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING",
            )
            .bind(address)
            .bind(ep)
            .bind(i64::from(first))
            .bind(i64::from(last))
            .bind(now_unix())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE epoch_chunks SET lookup_table = $1 \
                 WHERE epoch = $2 AND chunk_index >= $3 AND chunk_index <= $4",
            )
            .bind(address)
            .bind(ep)
            .bind(i64::from(first))
            .bind(i64::from(last))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Lookup tables of an epoch not yet deactivated.
    pub async fn active_lookup_tables(&self, epoch: u64) -> StoreResult<Vec<String>> {
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT address FROM lookup_tables WHERE epoch = $1 AND deactivated_at IS NULL ORDER BY first_chunk",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?))
    }

    pub async fn mark_lookup_table_deactivated(&self, address: &str) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query("UPDATE lookup_tables SET deactivated_at = $1 WHERE address = $2")
            .bind(now_unix())
            .bind(address)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Lookup tables deactivated but not yet closed.
    pub async fn deactivated_lookup_tables(&self) -> StoreResult<Vec<String>> {
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT address FROM lookup_tables WHERE deactivated_at IS NOT NULL AND closed_at IS NULL \
             ORDER BY deactivated_at",
        )
        .fetch_all(p)
        .await?))
    }

    pub async fn mark_lookup_table_closed(&self, address: &str) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query("UPDATE lookup_tables SET closed_at = $1 WHERE address = $2")
            .bind(now_unix())
            .bind(address)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }
}
