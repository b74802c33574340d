//! `[discourse]` configuration: per forum source, the webhook secret (environment or file, never
//! the TOML file), the expected instance and the forum user -> member maps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Discourse's own minimum webhook secret length.
pub const MIN_SECRET_LEN: usize = 12;

/// A secret string: never printed, never serialized back.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DiscourseConfig {
    /// Largest webhook body read, bytes (413 above it, before any parsing).
    pub max_body_bytes: usize,
    /// Forum sources by rules source name (`[sources.<name>.forum]` in the rules).
    pub sources: BTreeMap<String, DiscourseSource>,
}

impl Default for DiscourseConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            sources: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DiscourseSource {
    /// The webhook secret, from `STK_DISCOURSE__SOURCES__<NAME>__SECRET` (refused in the file).
    pub secret: Option<Secret>,
    /// Or read the secret from this file (trailing whitespace trimmed).
    pub secret_file: Option<PathBuf>,
    /// When set, `X-Discourse-Instance` must equal it (e.g. `https://forum.example.org`).
    pub instance: Option<String>,
    /// Discourse username (case-insensitive) -> member id.
    pub users: BTreeMap<String, String>,
    /// Discourse user id -> member id (survives username changes).
    pub user_ids: BTreeMap<String, String>,
}

impl DiscourseSource {
    /// The member a forum user maps to: by user id first, then by username.
    pub fn member_of(&self, username: &str, user_id: Option<i64>) -> Option<&str> {
        if let Some(id) = user_id {
            if let Some(m) = self.user_ids.get(&id.to_string()) {
                return Some(m);
            }
        }
        let lower = username.to_lowercase();
        self.users
            .iter()
            .find(|(u, _)| u.to_lowercase() == lower)
            .map(|(_, m)| m.as_str())
    }
}

impl DiscourseConfig {
    /// Refuses a webhook secret written in the TOML file.
    pub(crate) fn check_no_secrets_in_toml(value: &toml::Value) -> Result<(), ConfigError> {
        let sources = value
            .get("discourse")
            .and_then(|d| d.get("sources"))
            .and_then(|s| s.as_table());
        for (name, s) in sources.into_iter().flatten() {
            if s.get("secret").is_some() {
                return Err(ConfigError::Invalid(format!(
                    "discourse.sources.{name}.secret in the config file: secrets are accepted \
                     only from the environment (STK_DISCOURSE__SOURCES__{}__SECRET) or from a \
                     file (secret_file)",
                    name.to_uppercase()
                )));
            }
        }
        Ok(())
    }

    /// Reads `secret_file`s into `secret`.
    pub(crate) fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        for s in self.sources.values_mut() {
            if let Some(path) = &s.secret_file {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                s.secret = Some(Secret(text.trim_end().to_owned()));
            }
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 || self.max_body_bytes > 16 * 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "discourse.max_body_bytes must be in 1..=16777216".into(),
            ));
        }
        for (name, s) in &self.sources {
            match &s.secret {
                Some(k) if k.0.len() >= MIN_SECRET_LEN => {}
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "discourse.sources.{name}: a webhook secret of at least {MIN_SECRET_LEN} \
                         characters is required (STK_DISCOURSE__SOURCES__{}__SECRET or secret_file)",
                        name.to_uppercase()
                    )))
                }
            }
            for (k, _) in &s.user_ids {
                if k.parse::<i64>().is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "discourse.sources.{name}.user_ids: {k:?} is not a Discourse user id"
                    )));
                }
            }
        }
        Ok(())
    }
}
