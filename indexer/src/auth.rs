//! Platform API keys and per-key rate limits.
//!
//! A key looks like `stk_<id>_<secret>`: `id` (16 hex chars) is public and selects the row,
//! `secret` (64 hex chars, 256 random bits) is never stored. The database holds
//! `hex(sha256(full key))`, compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::RateLimitConfig;
use crate::store::{Store, StoreResult};

/// A key just created: `key` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub name: String,
    pub key: String,
    pub scopes: Vec<Scope>,
}

/// What a key may do. Each write route requires one scope; `admin` implies every scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `POST /v1/activities`
    Ingest,
    /// `POST /v1/members`, `.../activate`, `.../deactivate`
    Members,
    /// `GET .../wallet/challenge`, `POST .../wallet`
    Wallets,
    /// `POST /v1/confirmations`, `POST /v1/vouches` for members the platform authenticated, and
    /// `PUT /v1/members/{id}/subscription`.
    Confirm,
    /// Everything.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::Members,
        Scope::Wallets,
        Scope::Confirm,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Members => "members",
            Scope::Wallets => "wallets",
            Scope::Confirm => "confirm",
            Scope::Admin => "admin",
        }
    }

    /// The column text of a set of scopes.
    pub fn join(scopes: &[Scope]) -> String {
        let mut v: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.join(",")
    }

    /// Parses the column text; unknown names are ignored (they grant nothing).
    pub fn parse_list(text: &str) -> Vec<Scope> {
        text.split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope {s:?} (one of ingest, members, wallets, confirm, admin)")
            })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    pub key_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The rules source this key reports as (observed evidence; confirmations it authenticated).
    pub source: Option<String>,
}

impl ApiPrincipal {
    /// Whether the key holds `scope` (directly or through `admin`).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("stk_")?;
    let (id, secret) = rest.split_once('_')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (ok(id, 16) && ok(secret, 64)).then_some((id, secret))
}

/// Creates and stores a key named `name` with every scope; `Ok(None)` if the name is taken.
pub async fn create_key(store: &Store, name: &str) -> StoreResult<Option<NewKey>> {
    create_key_with_scopes(store, name, &Scope::ALL, None).await
}

/// Creates and stores a key named `name` holding `scopes`; `Ok(None)` if the name is taken.
pub async fn create_key_with_scopes(
    store: &Store,
    name: &str,
    scopes: &[Scope],
    source: Option<&str>,
) -> StoreResult<Option<NewKey>> {
    let mut rng = rand::thread_rng();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let key = format!("stk_{id}_{}", hex::encode(secret));
    if store
        .insert_api_key(&id, name, &hash_key(&key), &Scope::join(scopes), source)
        .await?
    {
        Ok(Some(NewKey {
            id,
            name: name.to_owned(),
            key,
            scopes: scopes.to_vec(),
        }))
    } else {
        Ok(None)
    }
}

/// Checks a presented key. `Ok(None)` for any unknown, malformed or revoked key.
pub async fn verify_key(store: &Store, presented: &str) -> StoreResult<Option<ApiPrincipal>> {
    let presented_hash = Sha256::digest(presented.as_bytes());
    let Some((id, _)) = split_key(presented) else {
        return Ok(None);
    };
    let Some(row) = store.api_key(id).await? else {
        return Ok(None);
    };
    let Ok(stored) = hex::decode(&row.key_hash) else {
        return Ok(None);
    };
    let equal: bool = presented_hash.as_slice().ct_eq(stored.as_slice()).into();
    if !equal || row.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(Some(ApiPrincipal {
        key_id: row.id,
        name: row.name,
        scopes: Scope::parse_list(&row.scopes),
        source: row.source,
    }))
}

/// Buckets kept at most; past it, full buckets (idle callers) are forgotten.
const MAX_TRACKED: usize = 100_000;

/// Token buckets per caller (API key id, or client address for public reads): `burst` tokens,
/// refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// The per-API-key limiter.
    pub fn new(cfg: &RateLimitConfig) -> Self {
        Self::with_rate(cfg.per_second, cfg.burst)
    }

    /// The per-client-address limiter of public reads.
    pub fn public(cfg: &RateLimitConfig) -> Self {
        Self::with_rate(cfg.public_per_second, cfg.public_burst)
    }

    fn with_rate(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: burst as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `Err(wait)` when the bucket is empty.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            // Callers (e.g. addresses) can be many: forget those whose bucket has refilled.
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (t, at)| {
                *t + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format() {
        assert!(split_key(&format!("stk_{}_{}", "a".repeat(16), "b".repeat(64))).is_some());
        assert!(split_key("stk_short_x").is_none());
        assert!(split_key(&format!("stk_{}_{}", "g".repeat(16), "b".repeat(64))).is_none());
        assert!(split_key("").is_none());
    }

    #[test]
    fn token_bucket_refills() {
        let rl = RateLimiter::new(&RateLimitConfig {
            per_second: 2.0,
            burst: 2,
            ..RateLimitConfig::default()
        });
        let t0 = Instant::now();
        assert!(rl.check_at("k", t0).is_ok());
        assert!(rl.check_at("k", t0).is_ok());
        let wait = rl.check_at("k", t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Another key has its own bucket.
        assert!(rl.check_at("other", t0).is_ok());
        assert!(rl.check_at("k", t0 + Duration::from_millis(500)).is_ok());
        assert!(rl.check_at("k", t0 + Duration::from_millis(500)).is_err());
    }
}
