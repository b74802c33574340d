//! Signing keys in the Solana CLI's format.
use std::path::{Path, PathBuf};

use solana_sdk::signature::Keypair;

/// Loads a signing key: from the environment variable `env_var` when it is set (the Solana CLI's JSON
/// array of 64 bytes, e.g. `STK_KEYPAIR='[12,34,...]'`), else from the file `path`, else from
/// `~/.config/solana/id.json` (the Solana CLI's default key). Errors name the source and what is
/// wrong with it, never the key's bytes.
pub fn load_keypair(path: Option<&Path>, env_var: &str) -> anyhow::Result<Keypair> {
    if let Some(value) = std::env::var_os(env_var) {
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("environment variable {env_var} is not UTF-8"))?;
        if !value.trim().is_empty() {
            return parse_keypair(&value)
                .map_err(|e| anyhow::anyhow!("keypair in environment variable {env_var}: {e}"));
        }
    }
    let path: PathBuf = match path {
        Some(p) => p.to_path_buf(),
        None => default_keypair_path()?,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "keypair file {} does not exist (create one with `solana-keygen new -o {}` or set {env_var})",
            path.display(),
            path.display()
        ),
        _ => anyhow::anyhow!("cannot read keypair file {}: {e}", path.display()),
    })?;
    parse_keypair(&text).map_err(|e| anyhow::anyhow!("keypair file {}: {e}", path.display()))
}

fn default_keypair_path() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no keypair path given and $HOME is not set"))?;
    Ok(PathBuf::from(home).join(".config/solana/id.json"))
}

/// Parses the Solana CLI's keypair format: a JSON array of 64 numbers (secret key, then public key).
/// Error messages never quote the input.
fn parse_keypair(text: &str) -> Result<Keypair, String> {
    let bytes: Vec<u8> = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a JSON array of 64 numbers in 0..=255 (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if bytes.len() != 64 {
        return Err(format!("expected 64 bytes, found {}", bytes.len()));
    }
    Keypair::try_from(bytes.as_slice())
        .map_err(|_| "the last 32 bytes are not the public key of the first 32".to_string())
}
