//! The canonical activity log kept per scored epoch (published to oracles), and the binding proofs of
//! an epoch's recipients.
use super::{now_unix, to_i64, Store, StoreResult};

/// A recipient of a scored epoch with one proof of its binding (none when the join found none).
#[derive(Debug, Clone)]
pub struct RecipientProofRow {
    pub member: String,
    pub wallet: String,
    pub amount: i64,
    pub message: Option<String>,
    pub signature: Option<String>,
    pub bound_at: Option<i64>,
}

impl Store {
    /// Keeps the canonical log of a scored epoch (written when the epoch is scored; the same epoch
    /// scored again after a crash replaces it together with its digest).
    pub async fn save_epoch_log(&self, epoch: u64, digest: &str, log: &str) -> StoreResult<()> {
        let ep = to_i64(epoch, "epoch")?;
        write_pool!(self, p => sqlx::query(
            "INSERT INTO epoch_logs (epoch, activity_digest, log, stored_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (epoch) DO UPDATE SET activity_digest = excluded.activity_digest, \
             log = excluded.log, stored_at = excluded.stored_at",
        )
        .bind(ep)
        .bind(digest)
        .bind(log)
        .bind(now_unix())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Keeps a rules text by its rules hash (the first text stored for a hash stays).
    pub async fn save_rules_text(&self, rules_hash: &str, text: &str) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query(
            "INSERT INTO rules_texts (rules_hash, text, stored_at) VALUES ($1, $2, $3) \
             ON CONFLICT (rules_hash) DO NOTHING",
        )
        .bind(rules_hash)
        .bind(text)
        .bind(now_unix())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// A rules text the service ran, by rules hash.
    pub async fn rules_text(&self, rules_hash: &str) -> StoreResult<Option<String>> {
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT text FROM rules_texts WHERE rules_hash = $1",
        )
        .bind(rules_hash)
        .fetch_optional(p)
        .await?))
    }

    /// The newest proof (message, signature) that `wallet` was bound to `member`.
    pub async fn binding_proof(
        &self,
        member: &str,
        wallet: &str,
    ) -> StoreResult<Option<(String, String)>> {
        Ok(read_pool!(self, p => sqlx::query_as::<_, (String, String)>(
            "SELECT message, signature FROM wallet_bindings WHERE member_id = $1 AND wallet = $2 \
             ORDER BY bound_at DESC, id DESC LIMIT 1",
        )
        .bind(member)
        .bind(wallet)
        .fetch_optional(p)
        .await?))
    }

    /// The stored canonical log of an epoch: (activity digest, log).
    pub async fn epoch_log(&self, epoch: u64) -> StoreResult<Option<(String, String)>> {
        Ok(read_pool!(self, p => sqlx::query_as::<_, (String, String)>(
            "SELECT activity_digest, log FROM epoch_logs WHERE epoch = $1",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_optional(p)
        .await?))
    }

    /// Every recipient of an epoch joined with every proof of its (member, wallet) binding, by member
    /// then proof age (a recipient without proof comes once, with `None`s).
    pub async fn recipient_proofs(&self, epoch: u64) -> StoreResult<Vec<RecipientProofRow>> {
        let rows = read_pool!(self, p => sqlx::query_as::<_, (String, String, i64, Option<String>, Option<String>, Option<i64>)>(
            "SELECT r.member_id, r.wallet, r.amount, b.message, b.signature, b.bound_at \
             FROM epoch_recipients r LEFT JOIN wallet_bindings b \
             ON b.member_id = r.member_id AND b.wallet = r.wallet \
             WHERE r.epoch = $1 ORDER BY r.member_id, b.bound_at, b.id",
        )
        .bind(to_i64(epoch, "epoch")?)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(
                |(member, wallet, amount, message, signature, bound_at)| RecipientProofRow {
                    member,
                    wallet,
                    amount,
                    message,
                    signature,
                    bound_at,
                },
            )
            .collect())
    }
}
