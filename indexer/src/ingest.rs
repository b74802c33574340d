//! Activity ingestion shared by `POST /v1/activities` and `stk-indexer ingest`: wire types,
//! per-item validation (no I/O) and the single-transaction write through the store.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::config::Config;
use crate::limits;
use crate::store::{EpochTemplate, NewActivity, Store, StoreResult, Verdict};

/// Maximum events per batch.
pub use crate::store::activities::MAX_BATCH;
/// Maximum length of an id (event or member), bytes.
pub const MAX_ID_BYTES: usize = 128;

/// One incoming event.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Idempotency key: 1..=128 bytes, no control or invisible formatting characters.
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub id: String,
    /// Member id (must exist).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub member: String,
    /// Activity kind (must be a kind of the rules file).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub kind: String,
    /// RFC 3339 timestamp, e.g. `2026-03-01T12:00:00Z`.
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_TIMESTAMP_CHARS }>")]
    #[schema(max_length = 64)]
    pub occurred_at: String,
    /// Free-form JSON object, size-limited.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Ids of members confirming this event.
    #[serde(
        default,
        deserialize_with = "limits::strings::<_, { limits::MAX_ID_FIELD_BYTES }, { limits::MAX_LIST_ITEMS }>"
    )]
    pub confirmations: Vec<String>,
    /// The source's ed25519 signature (base58) over the canonical event bytes
    /// (`evidence::source_event_message`): required when the key's source has a `pubkey` in the
    /// rules (format 2).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limits::opt_string::<_, { limits::MAX_SIGNATURE_CHARS }>"
    )]
    #[schema(max_length = 88)]
    pub signature: Option<String>,
}

/// Who is delivering a batch: the rules source of the API key (format 2), with its public key when
/// the rules give one.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// `member` for a key without a source (self-reports relayed by the platform).
    pub source: String,
    pub pubkey: Option<ed25519_dalek::VerifyingKey>,
}

impl Reporter {
    /// A reporter of members' self-reports.
    pub fn members() -> Self {
        Self {
            source: "member".to_owned(),
            pubkey: None,
        }
    }

    /// The reporter for a key bound to `source` (or none) under `rules`. A source the rules do not
    /// name is an error (the key was made for other rules).
    pub fn for_source(rules: &stk_scoring::RuleSet, source: Option<&str>) -> Result<Self, String> {
        let Some(name) = source else {
            return Ok(Self::members());
        };
        let Some(r2) = rules.v2() else {
            // Format 1 has no sources: everything is scored alike.
            return Ok(Self {
                source: name.to_owned(),
                pubkey: None,
            });
        };
        let rule = r2.sources.get(name).ok_or_else(|| {
            format!("this API key reports as source {name:?}, which the rules do not define")
        })?;
        let pubkey = rule
            .pubkey
            .as_deref()
            .map(crate::evidence::parse_pubkey)
            .transpose()
            .map_err(|e| format!("sources.{name}.pubkey: {e}"))?;
        Ok(Self {
            source: name.to_owned(),
            pubkey,
        })
    }
}

/// What a batch is checked against: the rules and who delivers it.
#[derive(Debug, Clone)]
pub struct Intake<'a> {
    pub rules: &'a stk_scoring::RuleSet,
    pub reporter: Reporter,
}

impl<'a> Intake<'a> {
    /// Members' self-reports (a key without a source, or the JSON Lines import by default).
    pub fn members(rules: &'a stk_scoring::RuleSet) -> Self {
        Self {
            rules,
            reporter: Reporter::members(),
        }
    }
}

/// Request body of `POST /v1/activities`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBatch {
    pub events: Vec<EventIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Accepted,
    Duplicate,
    Rejected,
}

/// Why an item was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    InvalidId,
    UnknownKind,
    UnknownMember,
    BadTimestamp,
    FutureTimestamp,
    FrozenEpoch,
    InvalidConfirmation,
    AttributesTooLarge,
    /// Rules v2: `occurred_at` is older than the rules' ingest window (a week cannot be back-filled).
    OutsideWindow,
    /// The source signs its events and the signature is missing or does not verify.
    BadSignature,
}

impl RejectReason {
    pub const ALL: [RejectReason; 10] = [
        RejectReason::InvalidId,
        RejectReason::UnknownKind,
        RejectReason::UnknownMember,
        RejectReason::BadTimestamp,
        RejectReason::FutureTimestamp,
        RejectReason::FrozenEpoch,
        RejectReason::InvalidConfirmation,
        RejectReason::AttributesTooLarge,
        RejectReason::OutsideWindow,
        RejectReason::BadSignature,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidId => "invalid_id",
            RejectReason::UnknownKind => "unknown_kind",
            RejectReason::UnknownMember => "unknown_member",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::FrozenEpoch => "frozen_epoch",
            RejectReason::InvalidConfirmation => "invalid_confirmation",
            RejectReason::AttributesTooLarge => "attributes_too_large",
            RejectReason::OutsideWindow => "outside_window",
            RejectReason::BadSignature => "bad_signature",
        }
    }
}

/// Result for one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemResult {
    pub id: String,
    pub status: ItemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// Human-readable detail for a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Response of `POST /v1/activities`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<ItemResult>,
}

impl ItemResult {
    fn rejected(id: &str, reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            id: id.to_owned(),
            status: ItemStatus::Rejected,
            reason: Some(reason),
            detail: Some(detail.into()),
        }
    }
}

/// Characters refused in ids: control characters (C0, C1, NUL) and invisible formatting
/// characters (bidi overrides/marks, zero-width characters, BOM) that make ids look alike.
fn forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// Validates an event or member id.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong);
    }
    if id.trim() != id {
        return Err(IdError::Whitespace);
    }
    if let Some(c) = id.chars().find(|&c| forbidden_char(c)) {
        return Err(IdError::ForbiddenChar(c as u32));
    }
    Ok(())
}

/// Why an id (of an event or a member) is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than {MAX_ID_BYTES} bytes")]
    TooLong,
    #[error("id has leading or trailing whitespace")]
    Whitespace,
    #[error("id contains a forbidden character U+{0:04X}")]
    ForbiddenChar(u32),
}

/// Nesting depth of a JSON value (a scalar is 0, `{}` is 1).
pub fn json_depth(v: &Value) -> usize {
    // Iterative, so hostile input cannot overflow the stack.
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|x| (x, d + 1)));
            }
            Value::Object(o) => {
                max = max.max(d + 1);
                stack.extend(o.values().map(|x| (x, d + 1)));
            }
            _ => max = max.max(d),
        }
    }
    max
}

/// The deepest `attributes` object of a batch, for the request-level nesting check.
pub fn max_attributes_depth(events: &[EventIn]) -> usize {
    events
        .iter()
        .filter_map(|e| e.attributes.as_ref())
        .map(|m| 1 + m.values().map(json_depth).max().unwrap_or(0))
        .max()
        .unwrap_or(0)
}

pub fn parse_timestamp(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// In-memory checks of one event. `Err` is the rejection.
fn precheck(
    e: &EventIn,
    cfg: &Config,
    rules: &stk_scoring::RuleSet,
    reporter: &Reporter,
    now: i64,
) -> Result<NewActivity, ItemResult> {
    check_id(&e.id)
        .map_err(|d| ItemResult::rejected(&e.id, RejectReason::InvalidId, d.to_string()))?;
    if !rules.has_kind(&e.kind) {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::UnknownKind,
            "kind is not defined by the rules",
        ));
    }
    if check_id(&e.member).is_err() {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::UnknownMember,
            "no such member",
        ));
    }
    let Some(ts) = parse_timestamp(&e.occurred_at) else {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::BadTimestamp,
            "occurred_at is not an RFC 3339 timestamp",
        ));
    };
    if ts > now + cfg.ingest.max_clock_skew_secs {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::FutureTimestamp,
            format!(
                "occurred_at is more than {}s in the future",
                cfg.ingest.max_clock_skew_secs
            ),
        ));
    }
    if let Some(r2) = rules.v2() {
        let window = i64::try_from(r2.calendar.ingest_window_secs).unwrap_or(i64::MAX);
        if ts < now.saturating_sub(window) {
            return Err(ItemResult::rejected(
                &e.id,
                RejectReason::OutsideWindow,
                format!("occurred_at is more than {window}s before it was received"),
            ));
        }
    }
    if let Some(key) = &reporter.pubkey {
        let message = crate::evidence::source_event_message(&crate::evidence::SourceEvent {
            source: &reporter.source,
            id: &e.id,
            member: &e.member,
            kind: &e.kind,
            occurred_at: ts,
        });
        let checked = match &e.signature {
            None => Err("this source signs its events: signature is required".to_owned()),
            Some(sig) => crate::evidence::verify(key, &message, sig)
                .map_err(|err| format!("signature: {err}")),
        };
        if let Err(detail) = checked {
            return Err(ItemResult::rejected(
                &e.id,
                RejectReason::BadSignature,
                detail,
            ));
        }
    }
    let Some(epoch) = cfg.epoch_of(ts) else {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::BadTimestamp,
            "occurred_at is before the epoch genesis",
        ));
    };
    if e.confirmations.len() > cfg.ingest.max_confirmations {
        return Err(ItemResult::rejected(
            &e.id,
            RejectReason::InvalidConfirmation,
            format!("more than {} confirmations", cfg.ingest.max_confirmations),
        ));
    }
    let mut confirmations: Vec<String> = Vec::with_capacity(e.confirmations.len());
    for c in &e.confirmations {
        if let Err(d) = check_id(c) {
            return Err(ItemResult::rejected(
                &e.id,
                RejectReason::InvalidConfirmation,
                format!("confirmation: {d}"),
            ));
        }
        if !confirmations.contains(c) {
            confirmations.push(c.clone());
        }
    }
    let attributes = match &e.attributes {
        None => None,
        Some(m) => {
            let s = serde_json::to_string(m).expect("a JSON map serializes");
            if s.len() > cfg.ingest.max_attributes_bytes {
                return Err(ItemResult::rejected(
                    &e.id,
                    RejectReason::AttributesTooLarge,
                    format!(
                        "attributes exceed {} bytes",
                        cfg.ingest.max_attributes_bytes
                    ),
                ));
            }
            Some(s)
        }
    };
    Ok(NewActivity {
        id: e.id.clone(),
        member: e.member.clone(),
        kind: e.kind.clone(),
        occurred_at: ts,
        epoch,
        attributes,
        confirmations,
        source: reporter.source.clone(),
        signature: if reporter.pubkey.is_some() {
            e.signature.clone()
        } else {
            None
        },
    })
}

/// Validates and stores a batch (already checked for size and nesting). One result per event,
/// in order. A repeated id inside the batch is reported `duplicate` only after an occurrence that
/// was stored (or when the id was already stored); otherwise it gets its own verdict.
pub async fn ingest_batch(
    store: &Store,
    cfg: &Config,
    intake: &Intake<'_>,
    events: &[EventIn],
) -> StoreResult<Vec<ItemResult>> {
    let now = crate::store::now_unix();
    let mut results: Vec<Option<ItemResult>> = vec![None; events.len()];
    let mut cands = Vec::with_capacity(events.len());
    let mut cand_idx = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        match precheck(e, cfg, intake.rules, &intake.reporter, now) {
            Err(r) => results[i] = Some(r),
            Ok(c) => {
                // Repeated ids go to the store too: whether a later occurrence is a duplicate
                // depends on whether an earlier one is actually stored.
                cands.push(c);
                cand_idx.push(i);
            }
        }
    }
    let template = EpochTemplate {
        genesis: cfg.epoch.genesis,
        duration_secs: cfg.epoch.duration_secs,
        budget: cfg.epoch.budget,
    };
    let verdicts = store.ingest(&cands, template).await?;
    for ((i, c), v) in cand_idx.into_iter().zip(&cands).zip(verdicts) {
        results[i] = Some(match v {
            Verdict::Inserted => ItemResult {
                id: c.id.clone(),
                status: ItemStatus::Accepted,
                reason: None,
                detail: None,
            },
            Verdict::Duplicate => ItemResult {
                id: c.id.clone(),
                status: ItemStatus::Duplicate,
                reason: None,
                detail: None,
            },
            Verdict::UnknownMember => {
                ItemResult::rejected(&c.id, RejectReason::UnknownMember, "no such member")
            }
            Verdict::FrozenEpoch { epoch, state } => ItemResult::rejected(
                &c.id,
                RejectReason::FrozenEpoch,
                format!("epoch {epoch} is {state} and takes no more activity"),
            ),
        });
    }
    let results: Vec<ItemResult> = results
        .into_iter()
        .map(|r| r.expect("every item has a result"))
        .collect();
    record_metrics(&results);
    Ok(results)
}

/// Counts a batch's results into the ingestion metrics.
fn record_metrics(results: &[ItemResult]) {
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    let mut rejected: Vec<(&'static str, u64)> = Vec::new();
    for r in results {
        match r.status {
            ItemStatus::Accepted => accepted += 1,
            ItemStatus::Duplicate => duplicates += 1,
            ItemStatus::Rejected => {
                let reason = r.reason.map_or("unknown", RejectReason::as_str);
                match rejected.iter_mut().find(|(name, _)| *name == reason) {
                    Some(slot) => slot.1 += 1,
                    None => rejected.push((reason, 1)),
                }
            }
        }
    }
    crate::metrics::record_ingest(accepted, duplicates, &rejected);
}

/// Registers the ingestion series at zero, so dashboards see zeros rather than gaps.
pub fn register_metrics() {
    crate::metrics::record_ingest(0, 0, &RejectReason::ALL.map(|r| (r.as_str(), 0)));
}

pub fn summarize(results: Vec<ItemResult>) -> BatchResponse {
    let count = |s| results.iter().filter(|r| r.status == s).count();
    BatchResponse {
        accepted: count(ItemStatus::Accepted),
        duplicates: count(ItemStatus::Duplicate),
        rejected: count(ItemStatus::Rejected),
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("evt-1").is_ok());
        assert!(check_id("émoji-🎉").is_ok());
        assert!(check_id("'; DROP TABLE activities;--").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"x".repeat(129)).is_err());
        assert!(check_id("a\u{0}b").is_err());
        assert!(check_id("a\u{200F}b").is_err());
        assert!(check_id("a\u{202E}b").is_err());
        assert!(check_id("a\nb").is_err());
        assert!(check_id(" a").is_err());
    }

    #[test]
    fn depth() {
        let v: Value = serde_json::from_str(r#"{"a":[1,{"b":{}}]}"#).unwrap();
        assert_eq!(json_depth(&v), 4);
        assert_eq!(json_depth(&Value::Null), 0);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:10Z"), Some(10));
        assert_eq!(parse_timestamp("1970-01-01T01:00:10+01:00"), Some(10));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2026-02-30T00:00:00Z"), None);
    }
}
