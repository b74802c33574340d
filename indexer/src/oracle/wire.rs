//! The published epoch log: what `GET /v1/epochs/{n}/log` serves and an oracle fetches.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::EpochState;

/// `GET /v1/epochs/{n}/log`: everything an oracle needs to recompute an epoch's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EpochLogResponse {
    pub epoch: u64,
    /// `scored`, `attested`, `finalized`, `distributing` or `done`.
    pub state: EpochState,
    /// Root of the allocation tree (hex); `null` when nobody is paid.
    pub root: Option<String>,
    /// `sha256("stk-activity-v1" || log)`, hex.
    pub activity_digest: String,
    /// `sha256("stk-rules-v1" || canonical rules)`, hex.
    pub rules_hash: String,
    /// The rules file, verbatim.
    pub rules_toml: String,
    /// The canonical activity log (stk-scoring JSON Lines), exactly the bytes whose digest is attested.
    pub log: String,
    /// The wallet-binding proof of every paid member (the binding in force when the epoch was scored).
    pub bindings: Vec<BindingProof>,
    /// The service's own allocation (paid members), only to explain differences: oracles recompute it.
    #[serde(default)]
    pub allocations: Vec<ServedAllocation>,
    #[serde(default)]
    pub total_amount: Option<u64>,
    #[serde(default)]
    pub recipient_count: Option<u32>,
    #[serde(default)]
    pub chunk_count: Option<u32>,
    /// Rules v2: what lets an oracle check the records themselves, not only the arithmetic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EpochEvidence>,
}

/// The evidence behind a v2 log (see `crate::evidence` for every byte format).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EpochEvidence {
    /// The signing sources' signatures of their events, by event id.
    pub event_signatures: Vec<EventSignature>,
    /// Each signing source's signed statement of what it sent for the epoch.
    pub manifests: Vec<crate::store::ManifestRow>,
    /// The signing sources' signatures of the confirmations they relayed, by confirmation id.
    #[serde(default)]
    pub source_confirmations: Vec<EventSignature>,
    /// Wallet-signed confirmations and vouches of the log.
    pub signed_records: Vec<SignedRecord>,
    /// Proofs that the wallets of `signed_records` belong to their signers.
    pub bindings: Vec<BindingProof>,
    /// For forum sources (which cannot sign): the forum usernames mapped to the members with forum
    /// activity in the epoch, so an oracle can re-check each post against the forum.
    #[serde(default)]
    pub forum_users: Vec<ForumUserLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ForumUserLink {
    pub source: String,
    pub username: String,
    pub member: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventSignature {
    pub id: String,
    pub signature: String,
}

/// A confirmation (`kind = "confirmation"`, `id` its id) or vouch (`kind = "vouch"`, `id` =
/// `voucher/member`) signed by its author's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedRecord {
    pub kind: String,
    pub id: String,
    pub signer: String,
    pub wallet: String,
    pub message: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BindingProof {
    pub member: String,
    pub wallet: String,
    /// The challenge message the wallet signed (see `wallet::challenge_message`).
    pub message: String,
    /// Base58 ed25519 signature by `wallet` over `message`'s UTF-8 bytes.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServedAllocation {
    pub member: String,
    pub wallet: String,
    pub amount: u64,
}
