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
    /// Discourse username (case-insensitive; lowercased when the configuration is loaded) ->
    /// member id.
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
        self.users
            .get(username)
            .or_else(|| self.users.get(&username.to_lowercase()))
            .map(String::as_str)
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

    /// Reads `secret_file`s into `secret` and lowercases the usernames (Discourse usernames are
    /// case-insensitive; two keys differing only by case are an error).
    pub(crate) fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        for (name, s) in self.sources.iter_mut() {
            let mut users = BTreeMap::new();
            for (u, m) in std::mem::take(&mut s.users) {
                if users.insert(u.to_lowercase(), m).is_some() {
                    return Err(ConfigError::Invalid(format!(
                        "discourse.sources.{name}.users: {u:?} is listed twice (usernames are \
                         case-insensitive)"
                    )));
                }
            }
            s.users = users;
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
            for k in s.user_ids.keys() {
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

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn secrets_come_from_a_file_or_the_environment_and_are_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[discourse.sources.discourse]\nsecret = \"in-the-file-123\"\n",
        )
        .unwrap();
        let e = Config::load(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("secret_file"), "{e}");

        let secret = dir.path().join("secret");
        std::fs::write(&secret, "from-a-file-0123\n").unwrap();
        std::fs::write(
            &path,
            format!(
                "[discourse.sources.discourse]\nsecret_file = {:?}\ninstance = \"https://f.example\"\n\
                 [discourse.sources.discourse.users]\nAlice = \"alice\"\n\
                 [discourse.sources.discourse.user_ids]\n\"77\" = \"bob\"\n",
                secret.display().to_string()
            ),
        )
        .unwrap();
        let c = Config::load(Some(&path)).unwrap();
        let s = &c.discourse.sources["discourse"];
        assert_eq!(s.secret.as_ref().unwrap().expose(), b"from-a-file-0123");
        assert_eq!(s.member_of("ALICE", None), Some("alice"));
        assert_eq!(s.member_of("renamed", Some(77)), Some("bob"));
        assert_eq!(s.member_of("nobody", Some(1)), None);
        let printed = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
        assert!(!printed.contains("from-a-file-0123"), "{printed}");

        // Too short (Discourse's own minimum is 12) or missing.
        std::fs::write(&secret, "short").unwrap();
        let e = Config::load(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("at least 12"), "{e}");
    }
}
