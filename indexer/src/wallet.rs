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
//! The nonce is random, stored, short-lived and single-use.

use ed25519_dalek::{Signature, VerifyingKey};
use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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

/// Parses a base58 Solana address that is a valid ed25519 point.
pub fn parse_wallet(s: &str) -> Result<VerifyingKey, WalletError> {
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
}
