//! Evidence a third party can check (rules v2): what a source signs, what a member's wallet signs,
//! and the functions that verify them. The indexer checks them when records arrive; every oracle
//! checks them again from the published log (`oracle::verify`), so an invented, altered or omitted
//! record is caught by someone who does not trust the service.
//!
//! Byte formats (all UTF-8, ed25519 over the exact bytes, signatures base58 as Solana's):
//!
//! * **Source event**: `stk-source-event-v1\n` followed by the compact JSON
//!   `{"source":…,"id":…,"member":…,"kind":…,"occurred_at":<unix seconds>}` (fields in this order,
//!   serde_json escaping).
//! * **Source manifest** for an epoch: `stk-source-manifest-v1\n` followed by
//!   `{"source":…,"epoch":N,"events":COUNT,"digest":"<hex>"}`, where `digest` is
//!   `sha256("stk-source-manifest-v1" || for each event of that source in the epoch, ordered by
//!   (occurred_at, id): the event's JSON above || "\n")`.
//! * **Source confirmation**: a signing source that posts a confirmation for a confirmer it
//!   authenticated signs `stk-source-confirmation-v1\n` followed by
//!   `{"source":…,"id":…,"confirmer":…,"claimant":…,"kind":…,"event":…}`.
//! * **Confirmation** signed by the confirmer's bound wallet (a wallet's `signMessage`):
//!   ```text
//!   SysTok confirmation
//!   id: {confirmation id}
//!   confirmer: {member id}
//!   claimant: {member id}
//!   kind: {activity kind}
//!   event: {event id}
//!   ```
//! * **Vouch** (or its revocation) signed by the voucher's bound wallet:
//!   ```text
//!   SysTok vouch
//!   action: vouch | revoke
//!   voucher: {member id}
//!   member: {member id}
//!   issued_at: {RFC 3339 UTC}
//!   ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const SOURCE_EVENT_DOMAIN: &str = "stk-source-event-v1";
pub const SOURCE_MANIFEST_DOMAIN: &str = "stk-source-manifest-v1";
pub const SOURCE_CONFIRMATION_DOMAIN: &str = "stk-source-confirmation-v1";

/// The fields of an event a source signs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SourceEvent<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub member: &'a str,
    pub kind: &'a str,
    pub occurred_at: i64,
}

fn json_line(e: &SourceEvent<'_>) -> Vec<u8> {
    serde_json::to_vec(e).expect("plain struct serializes")
}

/// The bytes a source signs for one event.
pub fn source_event_message(e: &SourceEvent<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(SOURCE_EVENT_DOMAIN.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&json_line(e));
    out
}

/// The manifest digest of a source's events in an epoch (sorted here by `(occurred_at, id)`).
pub fn manifest_digest(events: &mut [SourceEvent<'_>]) -> [u8; 32] {
    events.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.id.cmp(b.id)));
    let mut h = Sha256::new();
    h.update(SOURCE_MANIFEST_DOMAIN.as_bytes());
    for e in events.iter() {
        h.update(json_line(e));
        h.update(b"\n");
    }
    h.finalize().into()
}

/// The bytes a source signs for its manifest of an epoch.
pub fn manifest_message(source: &str, epoch: u64, events: u64, digest_hex: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct M<'a> {
        source: &'a str,
        epoch: u64,
        events: u64,
        digest: &'a str,
    }
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(SOURCE_MANIFEST_DOMAIN.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(
        &serde_json::to_vec(&M {
            source,
            epoch,
            events,
            digest: digest_hex,
        })
        .expect("plain struct serializes"),
    );
    out
}

/// The fields of a confirmation a signing source signs when it posts one for a confirmer it
/// authenticated.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SourceConfirmation<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub confirmer: &'a str,
    pub claimant: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
}

/// The bytes a signing source signs for a confirmation it relays.
pub fn source_confirmation_message(c: &SourceConfirmation<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(SOURCE_CONFIRMATION_DOMAIN.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&serde_json::to_vec(c).expect("plain struct serializes"));
    out
}

/// The message a confirmer's wallet signs.
pub fn confirmation_message(
    id: &str,
    confirmer: &str,
    claimant: &str,
    kind: &str,
    event: &str,
) -> String {
    format!(
        "SysTok confirmation\nid: {id}\nconfirmer: {confirmer}\nclaimant: {claimant}\nkind: {kind}\nevent: {event}"
    )
}

/// The message a voucher's wallet signs.
pub fn vouch_message(revoke: bool, voucher: &str, member: &str, issued_at: &str) -> String {
    let action = if revoke { "revoke" } else { "vouch" };
    format!("SysTok vouch\naction: {action}\nvoucher: {voucher}\nmember: {member}\nissued_at: {issued_at}")
}

/// Why a signature does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public key is not a base58 ed25519 key")]
    BadKey,
    #[error("signature is not 64 base58-encoded bytes")]
    Malformed,
    #[error("signature does not verify")]
    Invalid,
}

pub fn parse_pubkey(b58: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes: [u8; 32] = bs58::decode(b58)
        .into_vec()
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(SignatureError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::BadKey)
}

/// Checks an ed25519 signature (base58) of `message` by `key`.
pub fn verify(
    key: &VerifyingKey,
    message: &[u8],
    signature_b58: &str,
) -> Result<(), SignatureError> {
    if signature_b58.len() > crate::limits::MAX_SIGNATURE_CHARS {
        return Err(SignatureError::Malformed);
    }
    let bytes: [u8; 64] = bs58::decode(signature_b58)
        .into_vec()
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(SignatureError::Malformed)?;
    key.verify_strict(message, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Invalid)
}

/// Signs `message` (base58 signature): what a source or a test wallet does.
pub fn sign(key: &SigningKey, message: &[u8]) -> String {
    bs58::encode(key.sign(message).to_bytes()).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_and_manifest_bytes_are_fixed() {
        let e = SourceEvent {
            source: "app",
            id: "e\"1",
            member: "m1",
            kind: "practice_session",
            occurred_at: 42,
        };
        assert_eq!(
            String::from_utf8(source_event_message(&e)).unwrap(),
            "stk-source-event-v1\n{\"source\":\"app\",\"id\":\"e\\\"1\",\"member\":\"m1\",\"kind\":\"practice_session\",\"occurred_at\":42}"
        );
        let mut a = [e, SourceEvent { id: "a", ..e }];
        let mut b = [SourceEvent { id: "a", ..e }, e];
        assert_eq!(
            manifest_digest(&mut a),
            manifest_digest(&mut b),
            "order-free"
        );
        let mut c = [e];
        assert_ne!(manifest_digest(&mut a), manifest_digest(&mut c));
        assert_eq!(
            String::from_utf8(manifest_message("app", 3, 2, "ab")).unwrap(),
            "stk-source-manifest-v1\n{\"source\":\"app\",\"epoch\":3,\"events\":2,\"digest\":\"ab\"}"
        );
    }

    #[test]
    fn signatures_verify_only_for_their_bytes_and_key() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let sig = sign(&key, b"hello");
        assert_eq!(verify(&key.verifying_key(), b"hello", &sig), Ok(()));
        assert_eq!(
            verify(&key.verifying_key(), b"hellO", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&other.verifying_key(), b"hello", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&key.verifying_key(), b"hello", "not base58!"),
            Err(SignatureError::Malformed)
        );
        let pk = bs58::encode(key.verifying_key().to_bytes()).into_string();
        assert!(parse_pubkey(&pk).is_ok());
        assert_eq!(parse_pubkey("abc"), Err(SignatureError::BadKey));
    }
}
