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
