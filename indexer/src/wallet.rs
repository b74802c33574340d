//! Wallet binding proofs.
//!
//! The wallet signs the UTF-8 bytes of the challenge message directly with ed25519, as Solana
//! wallets' `signMessage` does (no off-chain-message envelope):
//!
//! ```text
//! SysTok wallet binding
//! member: {member id}
//! wallet: {base58 public key}
//! nonce: {64 hex chars}
//! expires: {RFC 3339 UTC}
//! ```
//!
//! The nonce is random, stored, short-lived and single-use. [`issue_challenge`] stores one for a
//! member and wallet; [`bind`] checks a signed challenge and binds the wallet.

use ed25519_dalek::{Signature, VerifyingKey};
use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ingest;
use crate::limits::{MAX_SIGNATURE_CHARS, MAX_WALLET_CHARS};
use crate::store::{BindOutcome, ChallengeRow, MemberRow, Store, StoreError};

/// Why a binding proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("wallet is not a base58 ed25519 public key")]
    InvalidWallet,
    #[error("signature is not 64 base58-encoded bytes")]
    MalformedSignature,
    #[error("signature does not verify for this wallet and message")]
    BadSignature,
}

/// Why no challenge was issued.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error("no such member")]
    UnknownMember,
    #[error(transparent)]
    InvalidWallet(WalletError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a wallet was not bound. Checked in this order.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("no such member")]
    UnknownMember,
    #[error(transparent)]
    InvalidWallet(WalletError),
    #[error("no such challenge for this member")]
    UnknownChallenge,
    #[error("the challenge was issued for another wallet")]
    WalletMismatch,
    #[error("this challenge was already used; request a new one")]
    ChallengeUsed,
    #[error("this challenge has expired; request a new one")]
    ChallengeExpired,
    /// The signature is malformed or does not verify ([`WalletError::MalformedSignature`] or
    /// [`WalletError::BadSignature`]).
    #[error(transparent)]
    InvalidSignature(WalletError),
    /// The challenge was consumed or expired by a concurrent request after the checks above.
    #[error("this challenge was already used or just expired; request a new one")]
    ChallengeRaced,
    #[error("this wallet is bound to another member")]
    WalletInUse,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored challenge: the wallet must sign `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub nonce: String,
    pub message: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Is `id` a well-formed id of a stored member?
async fn member_exists(store: &Store, id: &str) -> Result<bool, StoreError> {
    Ok(ingest::check_id(id).is_ok() && store.member(id).await?.is_some())
}

/// Stores a new single-use challenge for binding `wallet` to `member`, valid for `ttl_secs` from
/// `now`.
pub async fn issue_challenge(
    store: &Store,
    member: &str,
    wallet: &str,
    now: i64,
    ttl_secs: i64,
) -> Result<IssuedChallenge, ChallengeError> {
    if !member_exists(store, member).await? {
        return Err(ChallengeError::UnknownMember);
    }
    parse_wallet(wallet).map_err(ChallengeError::InvalidWallet)?;
    // Expired challenges are purged here, so the table holds at most what was issued within about
    // two TTLs (an expired one is kept one more TTL, so a late client still gets `challenge_expired`).
    let purged = store.purge_challenges(now - ttl_secs).await?;
    if purged > 0 {
        tracing::debug!(purged, "expired wallet challenges purged");
    }
    let nonce = new_nonce();
    let expires_at = now + ttl_secs;
    let message = challenge_message(member, wallet, &nonce, expires_at);
    store
        .insert_challenge(&ChallengeRow {
            nonce: nonce.clone(),
            member_id: member.to_owned(),
            wallet: wallet.to_owned(),
            message: message.clone(),
            expires_at,
            used_at: None,
        })
        .await?;
    Ok(IssuedChallenge {
        nonce,
        message,
        expires_at,
    })
}

/// Binds `wallet` to `member` with the wallet's `signature` over the message of the challenge
/// `nonce`; the proof is stored with the binding. Returns the member as bound.
pub async fn bind(
    store: &Store,
    member: &str,
    wallet: &str,
    nonce: &str,
    signature: &str,
    now: i64,
) -> Result<MemberRow, BindError> {
    if !member_exists(store, member).await? {
        return Err(BindError::UnknownMember);
    }
    parse_wallet(wallet).map_err(BindError::InvalidWallet)?;
    if nonce.len() != 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BindError::UnknownChallenge);
    }
    let ch = store
        .challenge(nonce)
        .await?
        .ok_or(BindError::UnknownChallenge)?;
    if ch.member_id != member {
        return Err(BindError::UnknownChallenge);
    }
    if ch.wallet != wallet {
        return Err(BindError::WalletMismatch);
    }
    if ch.used_at.is_some() {
        return Err(BindError::ChallengeUsed);
    }
    if ch.expires_at <= now {
        return Err(BindError::ChallengeExpired);
    }
    verify(wallet, &ch.message, signature).map_err(|e| match e {
        WalletError::InvalidWallet => BindError::InvalidWallet(e),
        WalletError::MalformedSignature | WalletError::BadSignature => {
            BindError::InvalidSignature(e)
        }
    })?;
    match store
        .consume_challenge_and_bind(nonce, member, wallet, signature, now)
        .await?
    {
        BindOutcome::Bound => {}
        BindOutcome::ChallengeUnusable => return Err(BindError::ChallengeRaced),
        BindOutcome::WalletInUse => return Err(BindError::WalletInUse),
    }
    store.member(member).await?.ok_or(BindError::UnknownMember)
}

/// Parses a base58 Solana address that is a valid ed25519 point.
pub fn parse_wallet(s: &str) -> Result<VerifyingKey, WalletError> {
    // Base58 decoding is quadratic: bound the input before decoding it.
    if s.is_empty() || s.len() > MAX_WALLET_CHARS {
        return Err(WalletError::InvalidWallet);
    }
    let bytes = bs58::decode(s)
        .into_vec()
        .map_err(|_| WalletError::InvalidWallet)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| WalletError::InvalidWallet)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| WalletError::InvalidWallet)
}

pub fn new_nonce() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ts.to_string())
}

/// The exact text the wallet signs.
pub fn challenge_message(member: &str, wallet: &str, nonce: &str, expires_at: i64) -> String {
    format!(
        "SysTok wallet binding\nmember: {member}\nwallet: {wallet}\nnonce: {nonce}\nexpires: {}",
        rfc3339(expires_at)
    )
}

/// Verifies a base58 signature by `wallet` over `message`'s UTF-8 bytes (strict ed25519).
pub fn verify(wallet: &str, message: &str, signature_b58: &str) -> Result<(), WalletError> {
    let key = parse_wallet(wallet)?;
    if signature_b58.len() > MAX_SIGNATURE_CHARS {
        return Err(WalletError::MalformedSignature);
    }
    let sig = bs58::decode(signature_b58)
        .into_vec()
        .map_err(|_| WalletError::MalformedSignature)?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| WalletError::MalformedSignature)?;
    key.verify_strict(message.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| WalletError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn sign_and_verify() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let wallet = bs58::encode(sk.verifying_key().as_bytes()).into_string();
        let msg = challenge_message("alice", &wallet, &new_nonce(), 1_800_000_000);
        assert!(msg.contains("expires: 2027-01-15T08:00:00Z"), "{msg}");
        let sig = bs58::encode(sk.sign(msg.as_bytes()).to_bytes()).into_string();
        assert_eq!(verify(&wallet, &msg, &sig), Ok(()));
        assert_eq!(
            verify(&wallet, &format!("{msg} "), &sig),
            Err(WalletError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let other_wallet = bs58::encode(other.verifying_key().as_bytes()).into_string();
        assert_eq!(
            verify(&other_wallet, &msg, &sig),
            Err(WalletError::BadSignature)
        );
        assert_eq!(
            verify(&wallet, &msg, "abc"),
            Err(WalletError::MalformedSignature)
        );
        assert_eq!(verify("0OIl", &msg, &sig), Err(WalletError::InvalidWallet));
    }

    async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let cfg = crate::config::DatabaseConfig {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("stk.db").display()),
            ..Default::default()
        };
        let store = Store::connect(&cfg).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn challenge_then_bind() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir).await;
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let wallet = bs58::encode(sk.verifying_key().as_bytes()).into_string();
        let now = 1_800_000_000;
        assert!(matches!(
            issue_challenge(&store, "alice", &wallet, now, 300).await,
            Err(ChallengeError::UnknownMember)
        ));
        assert!(store.create_member("alice").await.unwrap());
        assert!(matches!(
            issue_challenge(&store, "alice", "0OIl", now, 300).await,
            Err(ChallengeError::InvalidWallet(WalletError::InvalidWallet))
        ));
        let ch = issue_challenge(&store, "alice", &wallet, now, 300)
            .await
            .unwrap();
        assert_eq!(ch.expires_at, now + 300);
        assert_eq!(
            ch.message,
            challenge_message("alice", &wallet, &ch.nonce, now + 300)
        );
        let sig = bs58::encode(sk.sign(ch.message.as_bytes()).to_bytes()).into_string();
        let bind_at = |nonce: String, sig: String, at: i64| {
            let (store, wallet) = (store.clone(), wallet.clone());
            async move { bind(&store, "alice", &wallet, &nonce, &sig, at).await }
        };
        assert!(matches!(
            bind_at(ch.nonce.clone(), sig.clone(), now + 300).await,
            Err(BindError::ChallengeExpired)
        ));
        assert!(matches!(
            bind_at(ch.nonce.clone(), "abc".into(), now).await,
            Err(BindError::InvalidSignature(WalletError::MalformedSignature))
        ));
        assert!(matches!(
            bind_at("ab".repeat(32), sig.clone(), now).await,
            Err(BindError::UnknownChallenge)
        ));
        let m = bind_at(ch.nonce.clone(), sig.clone(), now).await.unwrap();
        assert_eq!(m.wallet.as_deref(), Some(wallet.as_str()));
        assert!(matches!(
            bind_at(ch.nonce.clone(), sig, now).await,
            Err(BindError::ChallengeUsed)
        ));
    }
}
