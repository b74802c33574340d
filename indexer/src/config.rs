//! Service configuration: defaults, then an optional TOML file, then `STK_` environment variables
//! (`__` separates nesting levels, e.g. `STK_DATABASE__URL`).
//!
//! Secrets never live in the TOML file: a database URL carrying a password is refused there and must
//! come from `STK_DATABASE__URL` or from a file named by `database.url_file`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Errors while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub epoch: EpochConfig,
    pub ingest: IngestConfig,
    pub rate_limit: RateLimitConfig,
    pub scoring: ScoringConfig,
    pub wallet: WalletConfig,
    pub chain: ChainConfig,
    /// Discourse forum sources (webhook secrets, forum user -> member maps).
    pub discourse: crate::discourse::DiscourseConfig,
}

/// The Solana cluster the epoch pipeline talks to. Keys are read from files or from the environment
/// (`STK_PAYER_KEYPAIR`, `STK_ORACLE_KEYPAIR`: the JSON byte array), never from this file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChainConfig {
    /// JSON-RPC URL of the cluster. Unset: `serve` runs no pipeline (`serve --local` brings its own chain).
    pub rpc_url: Option<String>,
    /// processed | confirmed | finalized
    pub commitment: String,
    /// Fee payer of the service (token accounts, lookup tables, distribution). Default: the Solana
    /// CLI's `~/.config/solana/id.json`.
    pub payer_keypair: Option<PathBuf>,
    /// This service's oracle key, when it is one of the community oracles.
    pub oracle_keypair: Option<PathBuf>,
    pub compute_unit_limit: u32,
    pub compute_unit_price_micro_lamports: u64,
    /// How often `serve` advances ended epochs through the pipeline.
    pub scheduler_interval_secs: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_url: None,
            commitment: "confirmed".into(),
            payer_keypair: None,
            oracle_keypair: None,
            compute_unit_limit: 600_000,
            compute_unit_price_micro_lamports: 1_000,
            scheduler_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Whole-request timeout.
    pub request_timeout_secs: u64,
    /// Maximum request body size in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// A request head (request line + headers) must arrive within this time, counted from the
    /// connection's start or the end of the previous response; else the connection is closed.
    pub header_read_timeout_secs: u64,
    /// A connection on which no byte moves in either direction for this long is closed (must
    /// exceed `request_timeout_secs`).
    pub idle_timeout_secs: u64,
    /// Connections served at once; over it, new connections wait in the listen backlog.
    pub max_connections: usize,
    /// On shutdown, in-flight requests get this long to finish; then connections are cut.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH[?mode=rwc]` or `postgres://...`.
    pub url: String,
    /// Read the URL from this file instead (for URLs carrying a password).
    pub url_file: Option<PathBuf>,
    /// Connection pool size (readers for SQLite; SQLite always has a single writer connection).
    pub max_connections: u32,
    /// Seconds to keep retrying the first connection at start-up.
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EpochConfig {
    /// Start of epoch 0, unix seconds.
    pub genesis: i64,
    /// Length of an epoch in seconds.
    pub duration_secs: i64,
    /// Budget of each new epoch in base units (STK has 6 decimals).
    pub budget: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IngestConfig {
    /// Accepted clock skew for `occurred_at` in the future, seconds.
    pub max_clock_skew_secs: i64,
    /// Maximum size of an event's serialized `attributes` object, bytes.
    pub max_attributes_bytes: usize,
    /// Maximum nesting depth of `attributes` (deeper is a request-level 400).
    pub max_attributes_depth: usize,
    /// Maximum number of peer confirmations on one event.
    pub max_confirmations: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RateLimitConfig {
    /// Sustained requests per second per API key.
    pub per_second: f64,
    /// Bucket size (burst) per API key.
    pub burst: u32,
    /// Sustained public reads (`GET /v1/...`) per second per client IP address.
    pub public_per_second: f64,
    /// Bucket size (burst) of public reads per client IP address.
    pub public_burst: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ScoringConfig {
    /// The versioned rules file.
    pub rules_path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WalletConfig {
    /// Lifetime of a wallet-binding challenge, seconds.
    pub challenge_ttl_secs: i64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 30,
            body_limit_bytes: 2 * 1024 * 1024,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            shutdown_grace_secs: 10,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://stk.db?mode=rwc".into(),
            url_file: None,
            max_connections: 8,
            connect_timeout_secs: 30,
        }
    }
}

impl Default for EpochConfig {
    fn default() -> Self {
        Self {
            // 2026-01-01T00:00:00Z
            genesis: 1_767_225_600,
            duration_secs: 7 * 24 * 3600,
            // 100,000 STK
            budget: 100_000_000_000,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: 300,
            max_attributes_bytes: 8 * 1024,
            max_attributes_depth: 16,
            max_confirmations: 32,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 200.0,
            burst: 400,
            public_per_second: 20.0,
            public_burst: 60,
        }
    }
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            rules_path: PathBuf::from("rules/rules.v1.toml"),
        }
    }
}

impl Default for WalletConfig {
    fn default() -> Self {
        Self {
            challenge_ttl_secs: 300,
        }
    }
}

#[allow(clippy::derivable_impls)]
impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            epoch: EpochConfig::default(),
            ingest: IngestConfig::default(),
            rate_limit: RateLimitConfig::default(),
            scoring: ScoringConfig::default(),
            wallet: WalletConfig::default(),
            chain: ChainConfig::default(),
            discourse: Default::default(),
        }
    }
}

/// True when a database URL carries a password (`scheme://user:password@host`).
fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.contains(':'),
        None => false,
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `STK_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            Self::check_no_secrets_in_toml(&text)?;
            figment = figment.merge(Toml::string(&text));
        }
        figment = figment.merge(Env::prefixed("STK_").split("__"));
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if let Some(path) = &config.database.url_file {
            let url = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            config.database.url = url.trim().to_owned();
        }
        config.discourse.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn check_no_secrets_in_toml(text: &str) -> Result<(), ConfigError> {
        let value: toml::Value = text
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("config file is not valid TOML: {e}")))?;
        let url = value
            .get("database")
            .and_then(|d| d.get("url"))
            .and_then(|u| u.as_str());
        if url.is_some_and(url_has_password) {
            return Err(ConfigError::Invalid(
                "database.url in the config file carries a password: secrets are accepted only from \
                 the environment (STK_DATABASE__URL) or from a file (database.url_file)"
                    .into(),
            ));
        }
        crate::discourse::DiscourseConfig::check_no_secrets_in_toml(&value)
    }

    /// Checks values that would make the service misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.epoch.duration_secs <= 0 {
            return bad("epoch.duration_secs must be positive");
        }
        if i64::try_from(self.epoch.budget).is_err() {
            return bad("epoch.budget must fit in a signed 64-bit integer");
        }
        if !self.rate_limit.per_second.is_finite()
            || self.rate_limit.per_second <= 0.0
            || self.rate_limit.burst == 0
        {
            return bad("rate_limit.per_second and rate_limit.burst must be positive");
        }
        if !self.rate_limit.public_per_second.is_finite()
            || self.rate_limit.public_per_second <= 0.0
            || self.rate_limit.public_burst == 0
        {
            return bad(
                "rate_limit.public_per_second and rate_limit.public_burst must be positive",
            );
        }
        let srv = &self.server;
        if srv.header_read_timeout_secs == 0
            || srv.request_timeout_secs == 0
            || srv.max_connections == 0
        {
            return bad(
                "server.header_read_timeout_secs, server.request_timeout_secs and \
                 server.max_connections must be positive",
            );
        }
        if srv.idle_timeout_secs <= srv.request_timeout_secs {
            return bad("server.idle_timeout_secs must exceed server.request_timeout_secs");
        }
        if self.wallet.challenge_ttl_secs <= 0 {
            return bad("wallet.challenge_ttl_secs must be positive");
        }
        if self.ingest.max_clock_skew_secs < 0 {
            return bad("ingest.max_clock_skew_secs must not be negative");
        }
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return bad("database.url must start with sqlite:, postgres:// or postgresql://");
        }
        self.discourse.validate()
    }

    /// Epoch index of a unix timestamp, `None` before genesis.
    pub fn epoch_of(&self, ts: i64) -> Option<u64> {
        if ts < self.epoch.genesis {
            return None;
        }
        Some(((ts - self.epoch.genesis) / self.epoch.duration_secs) as u64)
    }

    /// `[starts_at, ends_at)` of an epoch, unix seconds.
    pub fn epoch_window(&self, epoch: u64) -> (i64, i64) {
        let start = self.epoch.genesis + (epoch as i64) * self.epoch.duration_secs;
        (start, start + self.epoch.duration_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_detection() {
        assert!(url_has_password("postgres://u:secret@h/db"));
        assert!(!url_has_password("postgres://u@h/db"));
        assert!(!url_has_password("sqlite://stk.db?mode=rwc"));
        assert!(!url_has_password("postgres://h/db?x=a:b@c"));
    }

    #[test]
    fn toml_with_password_is_refused_and_epoch_math() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[database]\nurl = \"postgres://u:pw@localhost/x\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");

        std::fs::write(
            &path,
            "[epoch]\ngenesis = 1000\nduration_secs = 100\n[database]\nurl = \"sqlite://x.db\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.epoch.genesis, 1000);
        assert_eq!(c.database.url, "sqlite://x.db");
        assert_eq!(c.epoch_of(999), None);
        assert_eq!(c.epoch_of(1000), Some(0));
        assert_eq!(c.epoch_of(1099), Some(0));
        assert_eq!(c.epoch_of(1100), Some(1));
        assert_eq!(c.epoch_window(2), (1200, 1300));
    }
}
