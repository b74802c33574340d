//! Scratch databases for benchmarks: a fresh SQLite file or a new PostgreSQL database, created for
//! one run and removed afterwards.
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::ConnectOptions;

/// Why a scratch database could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error("parsing the PostgreSQL URL: {0}")]
    BadUrl(sqlx::Error),
    #[error("{0} exists; the benchmark needs a fresh database file")]
    FileExists(String),
    #[error("unsupported database URL {0:?}")]
    Unsupported(String),
    #[error("creating the scratch database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A database created for one run.
pub enum ScratchDatabase {
    SqliteFile(std::path::PathBuf),
    Postgres { admin: PgPool, name: String },
}

impl ScratchDatabase {
    /// Creates the scratch database next to `database` (a server URL or an SQLite file that must not
    /// exist yet), or in the temporary directory; returns it and the URL to connect to. `tag` makes
    /// the name unique.
    pub async fn create(
        database: Option<&str>,
        tag: u64,
    ) -> Result<(ScratchDatabase, String), ScratchError> {
        match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let opts: PgConnectOptions = url.parse().map_err(ScratchError::BadUrl)?;
                let admin = PgPool::connect_with(opts.clone()).await?;
                // The name is ours (a fixed prefix and a hex number): safe to splice.
                let name = format!("stk_bench_{tag:016x}");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await?;
                let url = opts.database(&name).to_url_lossy().to_string();
                Ok((ScratchDatabase::Postgres { admin, name }, url))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                if std::path::Path::new(&path).exists() {
                    return Err(ScratchError::FileExists(path));
                }
                Ok((
                    ScratchDatabase::SqliteFile(path.clone().into()),
                    format!("sqlite://{path}?mode=rwc"),
                ))
            }
            Some(other) => Err(ScratchError::Unsupported(other.to_string())),
            None => {
                let path = std::env::temp_dir().join(format!("stk-bench-{tag:016x}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Ok((ScratchDatabase::SqliteFile(path), url))
            }
        }
    }

    /// Removes the database (best effort: a benchmark's result does not depend on it).
    pub async fn remove(self) {
        match self {
            ScratchDatabase::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            ScratchDatabase::Postgres { admin, name } => {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await;
                admin.close().await;
            }
        }
    }
}
