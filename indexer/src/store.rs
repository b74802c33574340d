//! Persistence over SQLite (default) or PostgreSQL, chosen by the database URL.
//!
//! `Store` is an enum over the two pools so that each backend gets its own SQL where it matters
//! (bulk inserts, list parameters, row locks). Plain statements are written once with `$N`
//! placeholders, which both drivers accept.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`, one writer connection (writes are serialized
//! in-process instead of failing with `SQLITE_BUSY`) and a pool of readers.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use crate::config::DatabaseConfig;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("value out of range: {0}")]
    Range(String),
    #[error("conflict: {0}")]
    Conflict(String),
}

/// The statement that opens a write transaction: SQLite takes the write lock up front
/// (`BEGIN IMMEDIATE`, so a read-then-write transaction cannot fail with a stale snapshot when
/// another process wrote meanwhile); PostgreSQL uses a plain `BEGIN`.
trait WriteBegin {
    const BEGIN: &'static str;
}

impl WriteBegin for SqlitePool {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl WriteBegin for PgPool {
    const BEGIN: &'static str = "BEGIN";
}

fn begin_write<P: WriteBegin>(_: &P) -> &'static str {
    P::BEGIN
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database: SQLite file or PostgreSQL server.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool that serves reads.
macro_rules! read_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite { reader: $pool, .. } => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that serves writes.
macro_rules! write_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite { writer: $pool, .. } => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRow {
    pub epoch: u64,
    pub state: String,
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

/// An event that passed the in-memory checks and is ready for the database checks.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub id: String,
    pub member: String,
    pub kind: String,
    pub occurred_at: i64,
    pub epoch: u64,
    /// Serialized JSON object, if any.
    pub attributes: Option<String>,
    /// Confirming members (de-duplicated; unknown or inactive confirmers are ignored by scoring).
    pub confirmations: Vec<String>,
}

/// The database's verdict on one `NewActivity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Inserted,
    Duplicate,
    UnknownMember,
    FrozenEpoch { epoch: u64, state: String },
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
    pub tree: Option<pipeline::EpochTreeRows>,
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

/// Completes the verdicts of a batch: each candidate that reached the INSERT is `Inserted` when its id
/// came back from `RETURNING id`, else a `Duplicate` (the row already existed).
fn settle(
    mut verdicts: Vec<Option<Verdict>>,
    todo: &[usize],
    cands: &[NewActivity],
    mut inserted: HashSet<String>,
) -> Vec<Verdict> {
    for &i in todo {
        verdicts[i] = Some(if inserted.remove(&cands[i].id) {
            Verdict::Inserted
        } else {
            Verdict::Duplicate
        });
    }
    verdicts
        .into_iter()
        .map(|v| v.expect("all classified"))
        .collect()
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

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Range(format!("{what} {v} exceeds i64")))
}

fn to_u64(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Row counts of the SQLite multi-row insert statements: a full batch is one statement, any other
/// size is covered by at most ten power-of-two chunks, so a handful of prepared statements stay
/// cached per connection.
const SQLITE_CHUNKS: [usize; 11] = [
    1,
    2,
    4,
    8,
    16,
    32,
    64,
    128,
    256,
    512,
    crate::ingest::MAX_BATCH,
];

/// The largest chunk size not above `n` (n >= 1).
fn sqlite_chunk(n: usize) -> usize {
    *SQLITE_CHUNKS
        .iter()
        .rev()
        .find(|&&c| c <= n)
        .expect("1 is a chunk size")
}

/// Multi-row insert statement for SQLite for `rows` rows (one of `SQLITE_CHUNKS`).
fn sqlite_insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        SQLITE_CHUNKS
            .iter()
            .map(|&n| {
                let mut s = String::from(
                    "INSERT INTO activities (id, member_id, kind, occurred_at, epoch, attributes, \
                     confirmations, received_at) VALUES ",
                );
                for r in 0..n {
                    if r > 0 {
                        s.push(',');
                    }
                    // Anonymous `?` parameters: SQLite resolves named ones (`$N`) by a linear
                    // scan per bind, which is quadratic for thousands of parameters.
                    s.push_str("(?,?,?,?,?,?,?,?)");
                }
                s.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
                s
            })
            .collect()
    });
    let i = SQLITE_CHUNKS
        .iter()
        .position(|&c| c == rows)
        .expect("a chunk size");
    &all[i]
}

/// Decides every candidate's fate from the facts read inside the ingestion transaction.
/// `None` means "try to insert".
fn classify(
    cands: &[NewActivity],
    known_members: &HashSet<String>,
    epoch_states: &HashMap<u64, String>,
) -> Vec<Option<Verdict>> {
    cands
        .iter()
        .map(|c| {
            if !known_members.contains(&c.member) {
                return Some(Verdict::UnknownMember);
            }
            match epoch_states.get(&c.epoch) {
                Some(state) if state != "open" => Some(Verdict::FrozenEpoch {
                    epoch: c.epoch,
                    state: state.clone(),
                }),
                _ => None,
            }
        })
        .collect()
}

impl Store {
    /// Connects (retrying for `connect_timeout_secs`) and returns the store; does not migrate.
    pub async fn connect(cfg: &DatabaseConfig) -> StoreResult<Self> {
        let url = cfg.url.clone();
        let max = cfg.max_connections.max(1);
        let deadline = Duration::from_secs(cfg.connect_timeout_secs);
        let attempt = || async {
            if url.starts_with("sqlite:") {
                let opts = SqliteConnectOptions::from_str(&url)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    // 64 MiB page cache per connection: the activity indexes stay in memory.
                    .pragma("cache_size", "-65536")
                    .busy_timeout(Duration::from_secs(10));
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts.clone())
                    .await?;
                let reader = SqlitePoolOptions::new()
                    .max_connections(max)
                    .connect_with(opts.create_if_missing(false))
                    .await?;
                Ok::<_, sqlx::Error>(Store::Sqlite { writer, reader })
            } else {
                let opts = PgConnectOptions::from_str(&url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(Store::Postgres(pool))
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_total_delay(Some(deadline))
            .without_max_times();
        Ok(attempt
            .retry(backoff)
            .when(|e| matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
            .notify(|e, d| tracing::warn!(error = %e, retry_in = ?d, "database not reachable yet"))
            .await?)
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Applies the backend's migrations (idempotent).
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Store::Sqlite { writer, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(writer).await?
            }
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Closes all connections.
    pub async fn close(&self) {
        match self {
            Store::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }

    /// A trivial round trip, for readiness.
    pub async fn ping(&self) -> StoreResult<()> {
        read_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    // ---------------------------------------------------------------- members

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

    /// Sets `status`; `Ok(None)` if the member does not exist.
    pub async fn set_member_status(
        &self,
        id: &str,
        active: bool,
    ) -> StoreResult<Option<MemberRow>> {
        let status = if active { "active" } else { "inactive" };
        let n = write_pool!(self, p => sqlx::query(
            "UPDATE members SET status = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(status)
        .bind(now_unix())
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        if n == 0 {
            return Ok(None);
        }
        self.member_writer_view(id).await
    }

    /// Reads a member through the writer pool (read-your-writes right after an update).
    async fn member_writer_view(&self, id: &str) -> StoreResult<Option<MemberRow>> {
        let row = write_pool!(self, p => sqlx::query_as::<_, MemberTuple>(MEMBER_SELECT)
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

    /// Per-epoch events, allocation and receipt of a member, newest epoch first.
    pub async fn member_epochs(&self, id: &str) -> StoreResult<Vec<MemberEpochRow>> {
        let counts = read_pool!(self, p => sqlx::query_as::<_, (i64, i64)>(
            "SELECT epoch, COUNT(*) FROM activities WHERE member_id = $1 GROUP BY epoch",
        )
        .bind(id)
        .fetch_all(p)
        .await?);
        let allocs = read_pool!(self, p => sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT epoch, score, amount FROM allocations WHERE member_id = $1",
        )
        .bind(id)
        .fetch_all(p)
        .await?);
        let receipts = read_pool!(self, p => sqlx::query_as::<_, (i64, String)>(
            "SELECT epoch, receipt FROM receipts WHERE member_id = $1",
        )
        .bind(id)
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
        for (epoch, n) in counts {
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

    pub async fn insert_api_key(&self, id: &str, name: &str, key_hash: &str) -> StoreResult<bool> {
        let res = write_pool!(self, p => sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(key_hash)
        .bind(now_unix())
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
        let row = read_pool!(self, p => sqlx::query_as::<_, (String, String, String, Option<i64>)>(
            "SELECT id, name, key_hash, revoked_at FROM api_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(id, name, key_hash, revoked_at)| ApiKeyRow {
            id,
            name,
            key_hash,
            revoked_at,
        }))
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
        let row = write_pool!(self, p => sqlx::query_as::<_, (String, String, String, String, i64, Option<i64>)>(
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

    // ---------------------------------------------------------------- activities

    /// Checks members, confirmers and epoch states and inserts what passes, all in ONE transaction.
    /// Returns one verdict per candidate, in order.
    pub async fn ingest(
        &self,
        cands: &[NewActivity],
        template: EpochTemplate,
    ) -> StoreResult<Vec<Verdict>> {
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_unix();
        let mut names: Vec<&str> = cands.iter().map(|c| c.member.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut epochs: Vec<u64> = cands.iter().map(|c| c.epoch).collect();
        epochs.sort_unstable();
        epochs.dedup();
        let budget = to_i64(template.budget, "budget")?;

        match self {
            Store::Sqlite { writer, .. } => {
                // BEGIN IMMEDIATE: take the write lock up front; there is one writer connection anyway.
                let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                let names_json = serde_json::to_string(&names).expect("strings serialize");
                let known: HashSet<String> = sqlx::query_scalar::<_, String>(
                    "SELECT id FROM members WHERE id IN (SELECT value FROM json_each($1))",
                )
                .bind(names_json)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
                let mut states = HashMap::new();
                for &e in &epochs {
                    let (s, en) = template.window(e);
                    // Creates the epoch row if missing and returns its state in one round trip
                    // (the no-op update only exists to make RETURNING yield the existing row).
                    let state: String = sqlx::query_scalar(
                        "INSERT INTO epochs (epoch, state, starts_at, ends_at, budget, created_at) \
                         VALUES ($1, 'open', $2, $3, $4, $5) \
                         ON CONFLICT (epoch) DO UPDATE SET epoch = excluded.epoch RETURNING state",
                    )
                    .bind(to_i64(e, "epoch")?)
                    .bind(s)
                    .bind(en)
                    .bind(budget)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    states.insert(e, state);
                }
                let verdicts = classify(cands, &known, &states);
                let todo: Vec<usize> = (0..cands.len())
                    .filter(|&i| verdicts[i].is_none())
                    .collect();
                let mut inserted: HashSet<String> = HashSet::with_capacity(todo.len());
                let mut rest = &todo[..];
                while !rest.is_empty() {
                    let n = sqlite_chunk(rest.len());
                    let (chunk, tail) = rest.split_at(n);
                    rest = tail;
                    let mut q = sqlx::query(sqlite_insert_sql(n));
                    for &i in chunk {
                        let c = &cands[i];
                        q = q
                            .bind(c.id.as_str())
                            .bind(c.member.as_str())
                            .bind(c.kind.as_str())
                            .bind(c.occurred_at)
                            .bind(c.epoch as i64)
                            .bind(c.attributes.as_deref())
                            .bind(
                                serde_json::to_string(&c.confirmations).expect("strings serialize"),
                            )
                            .bind(now);
                    }
                    for row in q.fetch_all(&mut *tx).await? {
                        inserted.insert(row.try_get::<String, _>(0)?);
                    }
                }
                tx.commit().await?;
                Ok(settle(verdicts, &todo, cands, inserted))
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
                let known: HashSet<String> =
                    sqlx::query_scalar::<_, String>("SELECT id FROM members WHERE id = ANY($1)")
                        .bind(&names)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .collect();
                let epoch_ids: Vec<i64> = epochs
                    .iter()
                    .map(|&e| to_i64(e, "epoch"))
                    .collect::<StoreResult<_>>()?;
                let starts: Vec<i64> = epochs.iter().map(|&e| template.window(e).0).collect();
                let ends: Vec<i64> = epochs.iter().map(|&e| template.window(e).1).collect();
                sqlx::query(
                    "INSERT INTO epochs (epoch, state, starts_at, ends_at, budget, created_at) \
                     SELECT e, 'open', s, en, $4, $5 FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[]) AS t(e, s, en) \
                     ON CONFLICT (epoch) DO NOTHING",
                )
                .bind(&epoch_ids)
                .bind(&starts)
                .bind(&ends)
                .bind(budget)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // FOR SHARE: a concurrent freeze (UPDATE of the epoch row) waits for this batch to
                // commit, so a frozen epoch's activity set cannot change after the freeze.
                let states: HashMap<u64, String> = sqlx::query_as::<_, (i64, String)>(
                    "SELECT epoch, state FROM epochs WHERE epoch = ANY($1) ORDER BY epoch FOR SHARE",
                )
                .bind(&epoch_ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(e, s)| (e as u64, s))
                .collect();
                let verdicts = classify(cands, &known, &states);
                let mut todo: Vec<usize> = (0..cands.len())
                    .filter(|&i| verdicts[i].is_none())
                    .collect();
                // Insert in id order: concurrent batches with overlapping ids then take their row
                // locks in the same order and cannot deadlock.
                todo.sort_unstable_by(|&a, &b| cands[a].id.cmp(&cands[b].id));
                let mut inserted: HashSet<String> = HashSet::with_capacity(todo.len());
                if !todo.is_empty() {
                    let mut ids = Vec::with_capacity(todo.len());
                    let mut members = Vec::with_capacity(todo.len());
                    let mut kinds = Vec::with_capacity(todo.len());
                    let mut ats = Vec::with_capacity(todo.len());
                    let mut eps = Vec::with_capacity(todo.len());
                    let mut attrs: Vec<Option<String>> = Vec::with_capacity(todo.len());
                    let mut confs = Vec::with_capacity(todo.len());
                    for &i in &todo {
                        let c = &cands[i];
                        ids.push(c.id.clone());
                        members.push(c.member.clone());
                        kinds.push(c.kind.clone());
                        ats.push(c.occurred_at);
                        eps.push(c.epoch as i64);
                        attrs.push(c.attributes.clone());
                        confs.push(
                            serde_json::to_string(&c.confirmations).expect("strings serialize"),
                        );
                    }
                    let rows = sqlx::query_scalar::<_, String>(
                        "INSERT INTO activities (id, member_id, kind, occurred_at, epoch, attributes, \
                         confirmations, received_at) \
                         SELECT *, $8 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], \
                         $5::bigint[], $6::text[], $7::text[]) \
                         ON CONFLICT (id) DO NOTHING RETURNING id",
                    )
                    .bind(&ids)
                    .bind(&members)
                    .bind(&kinds)
                    .bind(&ats)
                    .bind(&eps)
                    .bind(&attrs)
                    .bind(&confs)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                    inserted.extend(rows);
                }
                tx.commit().await?;
                Ok(settle(verdicts, &todo, cands, inserted))
            }
        }
    }

    /// Number of stored activities (optionally only ids starting with `prefix`).
    pub async fn count_activities(&self, prefix: Option<&str>) -> StoreResult<u64> {
        let n: i64 = match prefix {
            None => read_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM activities")
                .fetch_one(p)
                .await?),
            Some(prefix) => read_pool!(self, p => sqlx::query_scalar(
                "SELECT COUNT(*) FROM activities WHERE substr(id, 1, CAST($1 AS INTEGER)) = $2",
            )
            .bind(prefix.chars().count() as i64)
            .bind(prefix)
            .fetch_one(p)
            .await?),
        };
        to_u64(n, "count")
    }

    /// Whether an activity with this id is stored.
    pub async fn activity_exists(&self, id: &str) -> StoreResult<bool> {
        let n: i64 = read_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM activities WHERE id = $1",
        )
        .bind(id)
        .fetch_one(p)
        .await?);
        Ok(n > 0)
    }

    // ---------------------------------------------------------------- epochs

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
        Ok(EpochRow {
            epoch: to_u64(epoch, "epoch")?,
            state,
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
        let row = write_pool!(self, p => sqlx::query_as::<_, EpochTuple>(EPOCH_SELECT_ONE)
            .bind(to_i64(epoch, "epoch")?)
            .fetch_optional(p)
            .await?);
        row.map(Self::epoch_from_tuple).transpose()
    }

    /// Moves an epoch to `to` if it currently is in one of `from` (creating it as `open` first if
    /// missing). Returns the state before the change, or `Err` state if not allowed.
    pub async fn transition_epoch(
        &self,
        epoch: u64,
        from: &[&str],
        to: &str,
        template: EpochTemplate,
    ) -> StoreResult<Result<String, String>> {
        let (s, e) = template.window(epoch);
        let ep = to_i64(epoch, "epoch")?;
        let budget = to_i64(template.budget, "budget")?;
        write_pool!(self, p => {
            let mut tx = p.begin_with(begin_write(p)).await?;
            sqlx::query(
                "INSERT INTO epochs (epoch, state, starts_at, ends_at, budget, created_at) \
                 VALUES ($1, 'open', $2, $3, $4, $5) ON CONFLICT (epoch) DO NOTHING",
            )
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
            if !from.contains(&current.as_str()) {
                return Ok(Err(current));
            }
            // This UPDATE waits for in-flight ingestion batches holding FOR SHARE locks
            // (PostgreSQL) and only applies if nobody changed the state meanwhile.
            let changed = sqlx::query("UPDATE epochs SET state = $1 WHERE epoch = $2 AND state = $3")
                .bind(to)
                .bind(ep)
                .bind(&current)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                let now_state: String = sqlx::query_scalar("SELECT state FROM epochs WHERE epoch = $1")
                    .bind(ep)
                    .fetch_one(&mut *tx)
                    .await?;
                return Ok(Err(now_state));
            }
            tx.commit().await?;
            Ok(Ok(current))
        })
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
                return Err(StoreError::Conflict(format!(
                    "epoch {} is not frozen any more; not storing its results",
                    s.epoch
                )));
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
}

/// Outcome of a wallet binding attempt at the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    /// Used, expired or not this member's (raced with another request).
    ChallengeUnusable,
    WalletInUse,
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
     COALESCE(e.event_count, (SELECT COUNT(*) FROM activities a WHERE a.epoch = e.epoch)), \
     e.scored_at FROM epochs e ORDER BY e.epoch DESC";

const EPOCH_SELECT_ONE: &str = "SELECT e.epoch, e.state, e.starts_at, e.ends_at, e.budget, \
     e.rules_version, e.rules_hash, e.activity_digest, e.total_score, e.total_amount, \
     COALESCE(e.event_count, (SELECT COUNT(*) FROM activities a WHERE a.epoch = e.epoch)), \
     e.scored_at FROM epochs e WHERE e.epoch = $1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_chunks_cover_any_batch() {
        for n in 1..=crate::ingest::MAX_BATCH {
            let (mut left, mut parts) = (n, 0);
            while left > 0 {
                let c = sqlite_chunk(left);
                assert!(c <= left);
                let sql = sqlite_insert_sql(c);
                assert_eq!(sql.matches('?').count(), 8 * c);
                left -= c;
                parts += 1;
            }
            assert!(parts <= 10, "{n} needs {parts} statements");
        }
        assert_eq!(sqlite_chunk(1000), 1000);
    }
}

/// The epoch pipeline's tables (tree, chunks, lookup tables, state after `scored`).
pub mod pipeline;
