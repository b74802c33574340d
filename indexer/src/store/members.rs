//! Members, their platform API keys and wallet challenges (and the binding proofs they produce).
use super::{begin_write, is_unique_violation, now_unix, to_u64, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberRow {
    pub id: String,
    pub status: String,
    pub wallet: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub revoked_at: Option<i64>,
    /// Comma-separated scope names.
    pub scopes: String,
    /// The rules source the key reports as.
    pub source: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub nonce: String,
    pub member_id: String,
    pub wallet: String,
    pub message: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// One epoch in a member's summary.
#[derive(Debug, Clone)]
pub struct MemberEpochRow {
    pub epoch: u64,
    pub events: u64,
    pub score: Option<String>,
    pub amount: Option<u64>,
    pub receipt: Option<String>,
}

const MEMBER_SELECT: &str =
    "SELECT id, status, wallet, created_at, updated_at FROM members WHERE id = $1";
type MemberTuple = (String, String, Option<String>, i64, i64);

fn member_row((id, status, wallet, created_at, updated_at): MemberTuple) -> MemberRow {
    MemberRow {
        id,
        status,
        wallet,
        created_at,
        updated_at,
    }
}

/// Outcome of a wallet binding attempt at the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    /// Used, expired or not this member's (raced with another request).
    ChallengeUnusable,
    WalletInUse,
}

impl Store {
    /// Creates an inactive member; `Ok(false)` if the id exists.
    pub async fn create_member(&self, id: &str) -> StoreResult<bool> {
        let now = now_unix();
        let res = write_pool!(self, p => sqlx::query(
            "INSERT INTO members (id, status, wallet, created_at, updated_at) \
             VALUES ($1, 'inactive', NULL, $2, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(res == 1)
    }

    /// Sets `status`; `Ok(None)` if the member does not exist. The updated row comes back from the
    /// same statement (`RETURNING`), so no read goes through the writer.
    pub async fn set_member_status(
        &self,
        id: &str,
        active: bool,
    ) -> StoreResult<Option<MemberRow>> {
        let status = if active { "active" } else { "inactive" };
        let row = write_pool!(self, p => sqlx::query_as::<_, MemberTuple>(
            "UPDATE members SET status = $1, updated_at = $2 WHERE id = $3 \
             RETURNING id, status, wallet, created_at, updated_at",
        )
        .bind(status)
        .bind(now_unix())
        .bind(id)
        .fetch_optional(p)
        .await?);
        Ok(row.map(member_row))
    }

    pub async fn member(&self, id: &str) -> StoreResult<Option<MemberRow>> {
        let row = read_pool!(self, p => sqlx::query_as::<_, MemberTuple>(MEMBER_SELECT)
            .bind(id)
            .fetch_optional(p)
            .await?);
        Ok(row.map(member_row))
    }

    /// Per-epoch events, allocation and receipt of a member, newest epoch first: the epochs below
    /// `before` (exclusive) with activity or results of the member, at most `limit` of them.
    pub async fn member_epochs_page(
        &self,
        id: &str,
        before: Option<u64>,
        limit: i64,
    ) -> StoreResult<Vec<MemberEpochRow>> {
        let before = match before {
            Some(b) => super::to_i64(b, "epoch")?,
            None => i64::MAX,
        };
        // One index probe per epoch row (epochs are few), never a scan of the member's activities.
        let page: Vec<i64> = read_pool!(self, p => sqlx::query_scalar::<_, i64>(
            "SELECT e.epoch FROM epochs e WHERE e.epoch < $2 AND (\
             EXISTS (SELECT 1 FROM activities a WHERE a.member_id = $1 AND a.epoch = e.epoch) \
             OR EXISTS (SELECT 1 FROM allocations l WHERE l.member_id = $1 AND l.epoch = e.epoch) \
             OR EXISTS (SELECT 1 FROM receipts r WHERE r.member_id = $1 AND r.epoch = e.epoch)) \
             ORDER BY e.epoch DESC LIMIT $3",
        )
        .bind(id)
        .bind(before)
        .bind(limit)
        .fetch_all(p)
        .await?);
        let (Some(&hi), Some(&lo)) = (page.first(), page.last()) else {
            return Ok(Vec::new());
        };
        // Per epoch, an index probe on activities (epoch, member_id).
        let counts = read_pool!(self, p => sqlx::query_as::<_, (i64, i64)>(
            "SELECT e.epoch, (SELECT COUNT(*) FROM activities a WHERE a.epoch = e.epoch AND a.member_id = $1) \
             FROM epochs e WHERE e.epoch >= $2 AND e.epoch <= $3",
        )
        .bind(id)
        .bind(lo)
        .bind(hi)
        .fetch_all(p)
        .await?);
        let allocs = read_pool!(self, p => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT epoch, score, amount FROM allocations WHERE member_id = $1 AND epoch >= $2 AND epoch <= $3",
        )
        .bind(id)
        .bind(lo)
        .bind(hi)
        .fetch_all(p)
        .await?);
        let receipts = read_pool!(self, p => sqlx::query_as::<_, (i64, String)>(
            "SELECT epoch, receipt FROM receipts WHERE member_id = $1 AND epoch >= $2 AND epoch <= $3",
        )
        .bind(id)
        .bind(lo)
        .bind(hi)
        .fetch_all(p)
        .await?);
        let mut by_epoch: std::collections::BTreeMap<u64, MemberEpochRow> = Default::default();
        let blank = |epoch| MemberEpochRow {
            epoch,
            events: 0,
            score: None,
            amount: None,
            receipt: None,
        };
        for (epoch, n) in counts.into_iter().filter(|&(_, n)| n > 0) {
            let epoch = to_u64(epoch, "epoch")?;
            by_epoch.entry(epoch).or_insert_with(|| blank(epoch)).events = to_u64(n, "count")?;
        }
        for (epoch, score, amount) in allocs {
            let epoch = to_u64(epoch, "epoch")?;
            let e = by_epoch.entry(epoch).or_insert_with(|| blank(epoch));
            e.score = Some(score);
            e.amount = Some(to_u64(amount, "amount")?);
        }
        for (epoch, receipt) in receipts {
            let epoch = to_u64(epoch, "epoch")?;
            by_epoch
                .entry(epoch)
                .or_insert_with(|| blank(epoch))
                .receipt = Some(receipt);
        }
        Ok(by_epoch.into_values().rev().collect())
    }

    // ---------------------------------------------------------------- API keys

    pub async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        scopes: &str,
        source: Option<&str>,
    ) -> StoreResult<bool> {
        let res = write_pool!(self, p => sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, created_at, scopes, source) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(key_hash)
        .bind(now_unix())
        .bind(scopes)
        .bind(source)
        .execute(p)
        .await
        .map(|_| ()));
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        type KeyTuple = (String, String, String, Option<i64>, String, Option<String>);
        let row = read_pool!(self, p => sqlx::query_as::<_, KeyTuple>(
            "SELECT id, name, key_hash, revoked_at, scopes, source FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?);
        Ok(row.map(
            |(id, name, key_hash, revoked_at, scopes, source)| ApiKeyRow {
                id,
                name,
                key_hash,
                revoked_at,
                scopes,
                source,
            },
        ))
    }

    /// Revokes the key called `name`; false if there is no such active key.
    pub async fn revoke_api_key(&self, name: &str) -> StoreResult<bool> {
        let n = write_pool!(self, p => sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
        )
        .bind(now_unix())
        .bind(name)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    // ---------------------------------------------------------------- wallet challenges

    /// Deletes the challenges that expired before `before` (used or not: a binding keeps its own
    /// copy of the signed message). Returns how many were deleted.
    pub async fn purge_challenges(&self, before: i64) -> StoreResult<u64> {
        Ok(write_pool!(self, p => sqlx::query(
            "DELETE FROM wallet_challenges WHERE expires_at < $1",
        )
        .bind(before)
        .execute(p)
        .await?
        .rows_affected()))
    }

    pub async fn insert_challenge(&self, c: &ChallengeRow) -> StoreResult<()> {
        write_pool!(self, p => sqlx::query(
            "INSERT INTO wallet_challenges (nonce, member_id, wallet, message, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.nonce)
        .bind(&c.member_id)
        .bind(&c.wallet)
        .bind(&c.message)
        .bind(c.expires_at)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn challenge(&self, nonce: &str) -> StoreResult<Option<ChallengeRow>> {
        let row = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, String, i64, Option<i64>)>(
            "SELECT nonce, member_id, wallet, message, expires_at, used_at \
             FROM wallet_challenges WHERE nonce = $1",
        )
        .bind(nonce)
        .fetch_optional(p)
        .await?);
        Ok(row.map(
            |(nonce, member_id, wallet, message, expires_at, used_at)| ChallengeRow {
                nonce,
                member_id,
                wallet,
                message,
                expires_at,
                used_at,
            },
        ))
    }

    /// Atomically consumes the challenge (unused, unexpired) and binds the wallet. The proof (the
    /// challenge's message and the wallet's `signature` over it) goes into `wallet_bindings` in the same
    /// transaction, so oracles can re-check every binding.
    pub async fn consume_challenge_and_bind(
        &self,
        nonce: &str,
        member: &str,
        wallet: &str,
        signature: &str,
        now: i64,
    ) -> StoreResult<BindOutcome> {
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            let used = sqlx::query(
                "UPDATE wallet_challenges SET used_at = $1 \
                 WHERE nonce = $2 AND member_id = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(nonce)
            .bind(member)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if used != 1 {
                return Ok(BindOutcome::ChallengeUnusable);
            }
            let taken: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM members WHERE wallet = $1 AND id <> $2",
            )
            .bind(wallet)
            .bind(member)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Ok(BindOutcome::WalletInUse);
            }
            let res = sqlx::query("UPDATE members SET wallet = $1, updated_at = $2 WHERE id = $3")
                .bind(wallet)
                .bind(now)
                .bind(member)
                .execute(&mut *tx)
                .await;
            match res {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(BindOutcome::WalletInUse),
                Err(e) => return Err(e.into()),
            }
            sqlx::query(
                "INSERT INTO wallet_bindings (member_id, wallet, message, signature, bound_at) \
                 SELECT $1, $2, message, $3, $4 FROM wallet_challenges WHERE nonce = $5",
            )
            .bind(member)
            .bind(wallet)
            .bind(signature)
            .bind(now)
            .bind(nonce)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(BindOutcome::Bound)
        })
    }

    /// The member bound to `wallet`: the current binding, else the newest proof for that wallet.
    pub async fn member_of_wallet(&self, wallet: &str) -> StoreResult<Option<String>> {
        let current = read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT id FROM members WHERE wallet = $1",
        )
        .bind(wallet)
        .fetch_optional(p)
        .await?);
        if current.is_some() {
            return Ok(current);
        }
        Ok(read_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT member_id FROM wallet_bindings WHERE wallet = $1 ORDER BY bound_at DESC, id DESC LIMIT 1",
        )
        .bind(wallet)
        .fetch_optional(p)
        .await?))
    }
}
