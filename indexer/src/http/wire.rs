//! Request and response bodies of the API (and their OpenAPI schemas), with the conversions from
//! stored rows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Config;
use crate::limits;
use crate::store::{EpochRow, EpochState, MemberEpochRow, MemberRow};
use crate::wallet::{self, IssuedChallenge};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub id: String,
    /// `inactive` or `active`.
    pub status: String,
    /// Bound wallet (base58), if any.
    pub wallet: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<MemberRow> for MemberView {
    fn from(m: MemberRow) -> Self {
        Self {
            id: m.id,
            status: m.status,
            wallet: m.wallet,
            created_at: wallet::rfc3339(m.created_at),
            updated_at: wallet::rfc3339(m.updated_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberEpochView {
    pub epoch: u64,
    /// Stored events of the member in this epoch.
    pub events: u64,
    /// Score (milli-points after multipliers), once the epoch is scored and the member qualified.
    pub score: Option<String>,
    /// Allocation in STK base units.
    pub amount: Option<u64>,
    /// The scoring receipt, once the epoch is scored.
    #[schema(value_type = Option<Object>)]
    pub receipt: Option<serde_json::Value>,
}

impl TryFrom<MemberEpochRow> for MemberEpochView {
    /// The stored receipt is not JSON.
    type Error = serde_json::Error;

    fn try_from(e: MemberEpochRow) -> Result<Self, Self::Error> {
        let receipt = e.receipt.as_deref().map(serde_json::from_str).transpose()?;
        Ok(Self {
            epoch: e.epoch,
            events: e.events,
            score: e.score,
            amount: e.amount,
            receipt,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberSummary {
    #[serde(flatten)]
    pub member: MemberView,
    /// Newest first, at most `limit`.
    pub epochs: Vec<MemberEpochView>,
    /// Pass as `cursor` to get the next page of `epochs`; `null` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl MemberSummary {
    /// The member with its epochs (in the order given); fails when a stored receipt is not JSON.
    pub fn new(member: MemberRow, epochs: Vec<MemberEpochRow>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            member: member.into(),
            epochs: epochs
                .into_iter()
                .map(MemberEpochView::try_from)
                .collect::<Result<_, _>>()?,
            next_cursor: None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EpochView {
    pub epoch: u64,
    /// `open` accepts activity; anything else (`frozen`, `scored`, ...) does not.
    pub state: EpochState,
    pub starts_at: String,
    pub ends_at: String,
    /// Budget in STK base units.
    pub budget: u64,
    pub rules_version: Option<i64>,
    pub rules_hash: Option<String>,
    pub activity_digest: Option<String>,
    pub total_score: Option<String>,
    pub total_amount: Option<u64>,
    pub events: u64,
    pub scored_at: Option<String>,
}

impl From<EpochRow> for EpochView {
    fn from(e: EpochRow) -> Self {
        Self {
            epoch: e.epoch,
            state: e.state,
            starts_at: wallet::rfc3339(e.starts_at),
            ends_at: wallet::rfc3339(e.ends_at),
            budget: e.budget,
            rules_version: e.rules_version,
            rules_hash: e.rules_hash,
            activity_digest: e.activity_digest,
            total_score: e.total_score,
            total_amount: e.total_amount,
            events: e.event_count,
            scored_at: e.scored_at.map(wallet::rfc3339),
        }
    }
}

impl EpochView {
    /// Epoch `n` as it is before anything about it is stored: `open`, empty, the configured budget.
    pub fn unstored(n: u64, cfg: &Config) -> Self {
        let (starts_at, ends_at) = cfg.epoch_window(n);
        EpochRow {
            epoch: n,
            state: EpochState::Open,
            starts_at,
            ends_at,
            budget: cfg.epoch.budget,
            rules_version: None,
            rules_hash: None,
            activity_digest: None,
            total_score: None,
            total_amount: None,
            event_count: 0,
            scored_at: None,
        }
        .into()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EpochList {
    /// Newest first, at most `limit`.
    pub epochs: Vec<EpochView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Pagination of a list endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: default 100; values over 500 are clamped to 500 (0 counts as 1).
    #[param(minimum = 0, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque).
    #[serde(
        default,
        deserialize_with = "limits::opt_string::<_, { limits::MAX_CURSOR_CHARS }>"
    )]
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size: default, clamped to `1..=MAX_PAGE`.
    pub fn limit(&self) -> usize {
        self.limit
            .map_or(limits::DEFAULT_PAGE, |l| l as usize)
            .clamp(1, limits::MAX_PAGE)
    }

    /// The decoded cursor, if any; a cursor this service did not produce is `Err`.
    pub fn cursor<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, InvalidCursor> {
        let Some(c) = &self.cursor else {
            return Ok(None);
        };
        let bytes = hex::decode(c).map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| InvalidCursor)
    }
}

/// A `cursor` that is not one this service produced.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cursor is not a next_cursor of this endpoint")]
pub struct InvalidCursor;

/// Encodes a position as an opaque cursor.
pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    hex::encode(serde_json::to_vec(key).expect("a key serializes"))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
pub struct ChallengeQuery {
    /// Base58 ed25519 public key of the wallet to bind (at most 44 characters).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_WALLET_CHARS }>")]
    #[param(max_length = 44)]
    pub wallet: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    pub nonce: String,
    /// The exact text the wallet must sign (UTF-8 bytes, ed25519, like `signMessage`).
    pub message: String,
    pub expires_at: String,
}

impl From<IssuedChallenge> for Challenge {
    fn from(c: IssuedChallenge) -> Self {
        Self {
            nonce: c.nonce,
            message: c.message,
            expires_at: wallet::rfc3339(c.expires_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindWallet {
    /// Base58 ed25519 public key (at most 44 characters).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_WALLET_CHARS }>")]
    #[schema(max_length = 44)]
    pub wallet: String,
    /// The challenge's nonce (64 hex characters).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_NONCE_CHARS }>")]
    #[schema(max_length = 64)]
    pub nonce: String,
    /// Base58 ed25519 signature over the challenge message (at most 88 characters).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_SIGNATURE_CHARS }>")]
    #[schema(max_length = 88)]
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> MemberRow {
        MemberRow {
            id: "alice".into(),
            status: "active".into(),
            wallet: None,
            created_at: 1_800_000_000,
            updated_at: 1_800_000_000,
        }
    }

    fn member_epoch(receipt: Option<&str>) -> MemberEpochRow {
        MemberEpochRow {
            epoch: 3,
            events: 2,
            score: Some("1500".into()),
            amount: Some(7),
            receipt: receipt.map(str::to_owned),
        }
    }

    #[test]
    fn member_summary_parses_receipts() {
        let s = MemberSummary::new(
            member(),
            vec![
                member_epoch(Some(r#"{"member":"alice"}"#)),
                member_epoch(None),
            ],
        )
        .unwrap();
        assert_eq!(s.member.created_at, "2027-01-15T08:00:00Z");
        assert_eq!(s.epochs.len(), 2);
        assert_eq!(
            s.epochs[0].receipt,
            Some(serde_json::json!({"member": "alice"}))
        );
        assert_eq!(s.epochs[1].receipt, None);
        assert!(MemberSummary::new(member(), vec![member_epoch(Some("not json"))]).is_err());
    }

    #[test]
    fn unstored_epoch_is_open_and_empty() {
        let cfg = Config::default();
        let v = EpochView::unstored(2, &cfg);
        let (starts_at, ends_at) = cfg.epoch_window(2);
        assert_eq!(v.state, EpochState::Open);
        assert_eq!(v.starts_at, wallet::rfc3339(starts_at));
        assert_eq!(v.ends_at, wallet::rfc3339(ends_at));
        assert_eq!(v.budget, cfg.epoch.budget);
        assert_eq!((v.events, v.total_amount, v.scored_at), (0, None, None));
    }
}
