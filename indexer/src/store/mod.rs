//! Persistence over SQLite (default) or PostgreSQL, chosen by the database URL. Every SQL statement of
//! the service lives under this module, one file per aggregate:
//!
//! | module | tables |
//! |---|---|
//! | [`members`] | members, API keys, wallet challenges, wallet-binding proofs |
//! | [`activities`] | activities (ingestion) |
//! | [`epochs`] | epochs (their [`EpochState`]), scoring inputs, allocations, receipts |
//! | [`distribution`] | an epoch's tree: recipients, chunks and their payments, lookup tables |
//! | [`records`] | scoring v2's records: confirmations, vouches, subscriptions, member states, source manifests |
//! | [`logs`] | the canonical activity log kept per scored epoch, recipients' binding proofs |
//! | [`discourse`] | Discourse sources: webhook deliveries, unknown forum users, withdrawn activities, back-fill cursors |
//! | [`chain_events`] | program events, the member ledger, the watcher's cursor |
//! | [`scratch`] | scratch PostgreSQL databases for benchmarks |
//!
//! `Store` is an enum over the two pools so that each backend gets its own SQL where it matters
//! (bulk inserts, list parameters, row locks). Plain statements are written once with `$N`
//! placeholders, which both drivers accept.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`, one writer connection (writes are serialized
//! in-process instead of failing with `SQLITE_BUSY`) and a pool of readers.

use std::str::FromStr;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::DatabaseConfig;

pub use activities::{NewActivity, Verdict};
pub use chain_events::{ChainEventRow, Cursor, LedgerRow, NewChainEvent, NewLedger};
pub use distribution::{ChunkRow, EpochPlan, EpochTreeRows, RecipientRow};
pub use epochs::{EpochRow, EpochState, EpochTemplate, ScoredEpoch, ScoringEvent, ScoringMember};
pub use logs::RecipientProofRow;
pub use members::{ApiKeyRow, BindOutcome, ChallengeRow, MemberEpochRow, MemberRow};
pub use records::{
    ConfirmVerdict, ConfirmationRow, EventBrief, EventV2Row, ManifestRow, MemberV2Row,
    NewConfirmation, VouchRecord, VouchRow, VouchVerdict,
};

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
    /// An epoch is not in a state the operation allows (someone else moved it meanwhile).
    #[error("epoch {epoch} is {actual}, not {}", list_states(expected))]
    WrongState {
        epoch: u64,
        actual: EpochState,
        expected: Vec<EpochState>,
    },
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

impl StoreError {
    /// The database is unreachable or saturated (worth a retry), not a bug or bad data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
        )
    }
}

fn list_states(states: &[EpochState]) -> String {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    names.join(" or ")
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A position in a member's timeline, for keyset pagination. Items are ordered by
/// `(at, rank, ...)`: activities (rank 0, then `id`), points (rank 1, then `epoch`), ledger
/// movements (rank 2, then `slot`, `event`, `position`). A page returns the items after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimelineKey {
    pub at: i64,
    pub rank: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default)]
    pub epoch: i64,
    #[serde(default)]
    pub slot: i64,
    #[serde(default)]
    pub event: i64,
    #[serde(default)]
    pub position: i64,
}

impl TimelineKey {
    /// Before every item.
    pub fn start() -> Self {
        Self {
            at: i64::MIN,
            rank: -1,
            ..Self::default()
        }
    }
}

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

/// Creates epoch `$e`'s row (state `open`) in transaction `$tx` if it is missing; evaluates to the
/// epoch as `i64`. A macro because the two backends' transactions are different types. Call sites
/// import `INSERT_OPEN_EPOCH` and `to_i64`.
macro_rules! open_epoch {
    ($tx:ident, $e:expr, $template:expr, $budget:expr, $now:expr) => {{
        let (starts, ends) = $template.window($e);
        let ep = to_i64($e, "epoch")?;
        sqlx::query(INSERT_OPEN_EPOCH)
            .bind(ep)
            .bind(starts)
            .bind(ends)
            .bind($budget)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        ep
    }};
}

/// The state of epoch `$e` (an existing row) read in transaction `$tx` so that it cannot change before
/// the transaction ends: SQLite's write transaction holds the lock already; on PostgreSQL the row is
/// read `FOR SHARE` (a freeze waits for the transaction). Call sites import `state_of`.
macro_rules! locked_epoch_state {
    ($store:expr, $tx:ident, $e:expr) => {{
        let e: u64 = $e;
        let state: String = sqlx::query_scalar(if $store.is_postgres() {
            "SELECT state FROM epochs WHERE epoch = $1 FOR SHARE"
        } else {
            "SELECT state FROM epochs WHERE epoch = $1"
        })
        .bind(to_i64(e, "epoch")?)
        .fetch_one(&mut *$tx)
        .await?;
        state_of(e, &state)?
    }};
}

pub mod activities;
pub mod chain_events;
pub mod discourse;
pub mod distribution;
pub mod epochs;
pub mod logs;
pub mod members;
pub mod records;
pub mod scratch;

/// Seconds added to the wall clock by [`now_unix`]: 0 in the service. Only the local demo moves it
/// ([`set_clock`]), to replay past weeks of a community in order.
static CLOCK_OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The service's clock (Unix seconds): what ingestion stamps as `received_at`, what confirmations,
/// vouches and the end-of-epoch checks compare with.
pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
        + CLOCK_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets the service's clock to `at` (Unix seconds) for this process — the local demo's replay of past
/// weeks (rules v2 check every record's time against it). Not for a running service.
#[cfg(feature = "local")]
pub fn set_clock(at: Option<i64>) {
    let offset = at.map_or(0, |t| t - time::OffsetDateTime::now_utc().unix_timestamp());
    CLOCK_OFFSET.store(offset, std::sync::atomic::Ordering::Relaxed);
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

    pub fn is_postgres(&self) -> bool {
        matches!(self, Store::Postgres(_))
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
}
