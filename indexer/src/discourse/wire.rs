//! The webhook's wire: the signature Discourse puts on a body, and the payload shapes the receiver
//! and the back-fill read.
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Discourse signs the body only, not the headers: a body relabeled with another event name must
/// not undo what it reported. Deletions must carry `deleted_at`, solution events a consistent
/// `accepted_answer`.
pub(super) const MISMATCH: &str =
    "the body does not describe this event (X-Discourse-Event is not signed: \
     a deletion carries deleted_at, an (un)accepted solution its accepted_answer)";

/// Why a signature header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Discourse-Event-Signature is missing: set the webhook's secret in Discourse")]
    Missing,
    #[error("X-Discourse-Event-Signature is not sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Discourse-Event-Signature does not match the body (wrong secret or altered body)")]
    Mismatch,
}

/// Checks `sha256=<hex>` against HMAC-SHA256(secret, body) in constant time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .strip_prefix("sha256=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::Malformed)?;
    let sig = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// `sha256=<hex>` of a body (what Discourse sends; for tests and tools).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A forum user as payloads carry it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ForumUser {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub username: String,
}

/// A post (webhook `post`/`solved`/`like.post` payloads, `/posts.json` items). Unknown fields are
/// ignored: Discourse sends many.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Post {
    pub id: i64,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub user_id: Option<i64>,
    pub created_at: String,
    pub post_number: i64,
    /// 1 regular, 2 moderator action, 3 small action, 4 whisper.
    #[serde(default)]
    pub post_type: Option<i64>,
    pub topic_id: i64,
    #[serde(default)]
    pub category_id: Option<i64>,
    #[serde(default)]
    pub topic_archetype: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub user_deleted: Option<bool>,
    #[serde(default)]
    pub hidden: Option<bool>,
    /// discourse-solved: whether this post is its topic's accepted answer.
    #[serde(default)]
    pub accepted_answer: Option<bool>,
}

/// A topic (webhook `topic` payloads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Topic {
    pub id: i64,
    pub created_at: String,
    #[serde(default)]
    pub category_id: Option<i64>,
    #[serde(default)]
    pub archetype: Option<String>,
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub created_by: Option<ForumUser>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub visible: Option<bool>,
}

/// A like (webhook `like` payload: the liked post and the liker).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Like {
    pub post: Post,
    pub user: ForumUser,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked() {
        let body = br#"{"post":{"id":1}}"#;
        let good = sign(b"a-long-enough-secret", body);
        assert!(verify_signature(b"a-long-enough-secret", body, Some(&good)).is_ok());
        assert_eq!(
            verify_signature(b"another-secret!!", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"a-long-enough-secret", b"{}", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"k", body, None),
            Err(SignatureError::Missing)
        );
        for bad in ["sha1=00", "sha256=zz", &good[..good.len() - 1], &good[7..]] {
            assert_eq!(
                verify_signature(b"a-long-enough-secret", body, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
