//! Scoring v2's accountable records, checked before they are stored:
//!
//! * a **confirmation** is the confirmer's own record about one event of another member — signed
//!   by the confirmer's bound wallet over [`evidence::confirmation_message`], or posted by a key
//!   whose rules source `authenticates_confirmers` (the platform authenticated the confirmer);
//! * a **vouch** (or its revocation) likewise, over [`evidence::vouch_message`], with an
//!   `issued_at` close to now and newer than the pair's last statement (an old message cannot be
//!   replayed to undo a revocation);
//! * a **subscription** end reported by the platform (eligibility);
//! * a **manifest**: a signing source's statement of what it sent for an epoch.
//!
//! Wire bodies live here too: the HTTP handlers are thin.

use serde::{Deserialize, Serialize};
use stk_scoring::RuleSet;
use utoipa::ToSchema;

use crate::auth::ApiPrincipal;
use crate::config::Config;
use crate::evidence::{self, SignatureError, SourceEvent};
use crate::ingest::{check_id, parse_timestamp};
use crate::limits;
use crate::store::{
    ConfirmVerdict, EpochState, ManifestRow, MemberRow, NewConfirmation, Store, StoreError,
    VouchRecord, VouchVerdict,
};

/// How far a signed vouch's `issued_at` may be from the server's clock.
pub const VOUCH_CLOCK_WINDOW_SECS: i64 = 600;

/// Body of `POST /v1/confirmations`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationIn {
    /// Idempotency key of the record (same rules as event ids).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub id: String,
    /// The member confirming.
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub confirmer: String,
    /// The confirmed event's id (its member and kind are taken from the stored event).
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub event: String,
    /// The confirmer's wallet signature (base58) over the canonical confirmation message. Without
    /// it the key's source must authenticate confirmers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limits::opt_string::<_, { limits::MAX_SIGNATURE_CHARS }>"
    )]
    #[schema(max_length = 88)]
    pub signature: Option<String>,
    /// Posted by a source that signs (a `pubkey` in the rules) without a wallet signature: the
    /// source's signature (base58) over `evidence::source_confirmation_message`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limits::opt_string::<_, { limits::MAX_SIGNATURE_CHARS }>"
    )]
    #[schema(max_length = 88)]
    pub source_signature: Option<String>,
}

/// A stored confirmation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
pub struct ConfirmationView {
    pub id: String,
    pub confirmer: String,
    pub claimant: String,
    pub kind: String,
    pub event: String,
    pub epoch: u64,
    /// `wallet` or `source:<name>`.
    pub auth: String,
    /// `recorded`, or `duplicate` for a retry of the same record.
    pub status: String,
}

/// Body of `POST /v1/vouches`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VouchIn {
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub voucher: String,
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_ID_FIELD_BYTES }>")]
    #[schema(max_length = 512)]
    pub member: String,
    /// `true` revokes the voucher's standing vouch.
    #[serde(default)]
    pub revoke: bool,
    /// RFC 3339, within 10 minutes of the server's clock; signed with the message.
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_TIMESTAMP_CHARS }>")]
    #[schema(max_length = 64)]
    pub issued_at: String,
    /// The voucher's wallet signature (base58) over the canonical vouch message. Without it the
    /// key's source must authenticate confirmers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "limits::opt_string::<_, { limits::MAX_SIGNATURE_CHARS }>"
    )]
    #[schema(max_length = 88)]
    pub signature: Option<String>,
}

/// Body of `PUT /v1/members/{id}/subscription`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionIn {
    /// End of the paid period (RFC 3339); `null` ends it.
    #[serde(deserialize_with = "limits::opt_string::<_, { limits::MAX_TIMESTAMP_CHARS }>")]
    #[schema(max_length = 64)]
    pub active_until: Option<String>,
}

/// Body of `POST /v1/sources/manifests`: the key's source's statement of what it sent for an epoch.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestIn {
    pub epoch: u64,
    /// Events the source reported for the epoch.
    pub events: u64,
    /// Hex sha256 (see `evidence::manifest_digest`).
    #[serde(deserialize_with = "limits::string::<_, 64>")]
    #[schema(max_length = 64)]
    pub digest: String,
    /// The source's signature (base58) over `evidence::manifest_message`.
    #[serde(deserialize_with = "limits::string::<_, { limits::MAX_SIGNATURE_CHARS }>")]
    #[schema(max_length = 88)]
    pub signature: String,
}

/// Why a record was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{what}: {detail}")]
    InvalidId { what: &'static str, detail: String },
    #[error("no such event {0:?}")]
    UnknownEvent(String),
    #[error("no such member {0:?}")]
    UnknownMember(String),
    #[error("a member cannot confirm or vouch for themselves")]
    SelfRecord,
    #[error("the event's epoch {epoch} ended at {ends_at}; a confirmation counts only within it")]
    EpochEnded { epoch: u64, ends_at: String },
    #[error("epoch {epoch} is {state} and takes no more records")]
    FrozenEpoch { epoch: u64, state: EpochState },
    #[error("record id {0:?} is taken by another record, or this confirmer already confirmed this event")]
    Conflict(String),
    #[error("member {0:?} has no bound wallet to sign with")]
    NoWallet(String),
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("not authenticated: sign with the member's wallet, or post with a key whose rules source authenticates confirmers")]
    Unauthenticated,
    #[error("this key's source signs what it reports: source_signature is required")]
    SourceSignatureRequired,
    #[error("issued_at: {0}")]
    BadTime(String),
    #[error("a newer statement about this voucher and member is already stored")]
    Stale,
    #[error("there is no standing vouch to revoke")]
    NothingToRevoke,
    #[error("this API key reports as no rules source with a public key; only a signing source sends manifests")]
    NotASigningSource,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn id_ok(what: &'static str, id: &str) -> Result<(), RecordError> {
    check_id(id).map_err(|e| RecordError::InvalidId {
        what,
        detail: e.to_string(),
    })
}

/// The `source:<name>` auth of a key whose source authenticates confirmers (rules v2).
fn source_auth(rules: &RuleSet, key: &ApiPrincipal) -> Option<String> {
    let name = key.source.as_deref()?;
    let ok = rules
        .v2()
        .and_then(|r| r.sources.get(name))
        .is_some_and(|s| s.authenticates_confirmers);
    ok.then(|| format!("source:{name}"))
}

/// Checks that `author`'s bound wallet signed `message`; returns the wallet.
fn wallet_signed(author: MemberRow, message: &str, signature: &str) -> Result<String, RecordError> {
    let wallet = author.wallet.ok_or(RecordError::NoWallet(author.id))?;
    evidence::verify(
        &evidence::parse_pubkey(&wallet)?,
        message.as_bytes(),
        signature,
    )?;
    Ok(wallet)
}

/// Checks and stores a confirmation.
pub async fn confirm(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
    key: &ApiPrincipal,
    c: &ConfirmationIn,
) -> Result<ConfirmationView, RecordError> {
    id_ok("id", &c.id)?;
    id_ok("confirmer", &c.confirmer)?;
    id_ok("event", &c.event)?;
    let event = store
        .event_brief(&c.event)
        .await?
        .ok_or_else(|| RecordError::UnknownEvent(c.event.clone()))?;
    if event.member == c.confirmer {
        return Err(RecordError::SelfRecord);
    }
    // A confirmation counts only when given within its event's epoch (scoring refuses it as
    // `OutsideEpoch` otherwise): say so now rather than store a record that cannot count.
    let (_, ends_at) = cfg.epoch_window(event.epoch);
    if crate::store::now_unix() >= ends_at {
        return Err(RecordError::EpochEnded {
            epoch: event.epoch,
            ends_at: crate::wallet::rfc3339(ends_at),
        });
    }
    let confirmer = store
        .member(&c.confirmer)
        .await?
        .ok_or_else(|| RecordError::UnknownMember(c.confirmer.clone()))?;
    let (auth, wallet, message, signature) = match &c.signature {
        Some(sig) => {
            let message = evidence::confirmation_message(
                &c.id,
                &c.confirmer,
                &event.member,
                &event.kind,
                &event.id,
            );
            let wallet = wallet_signed(confirmer, &message, sig)?;
            (
                "wallet".to_owned(),
                Some(wallet),
                Some(message),
                Some(sig.clone()),
            )
        }
        None => {
            let auth = source_auth(rules, key).ok_or(RecordError::Unauthenticated)?;
            // A source that signs its events signs the confirmations it relays too.
            let source = key.source.as_deref().unwrap_or_default();
            let pubkey = rules
                .v2()
                .and_then(|r| r.sources.get(source))
                .and_then(|s| s.pubkey.as_deref());
            let signature = match pubkey {
                None => None,
                Some(pk) => {
                    let sig = c
                        .source_signature
                        .as_deref()
                        .ok_or(RecordError::SourceSignatureRequired)?;
                    let bytes =
                        evidence::source_confirmation_message(&evidence::SourceConfirmation {
                            source,
                            id: &c.id,
                            confirmer: &c.confirmer,
                            claimant: &event.member,
                            kind: &event.kind,
                            event: &event.id,
                        });
                    evidence::verify(&evidence::parse_pubkey(pk)?, &bytes, sig)?;
                    Some(sig.to_owned())
                }
            };
            (auth, None, None, signature)
        }
    };
    let record = NewConfirmation {
        id: c.id.clone(),
        confirmer: c.confirmer.clone(),
        event: event.clone(),
        auth: auth.clone(),
        wallet,
        message,
        signature,
        confirmed_at: crate::store::now_unix(),
    };
    let status = match store
        .record_confirmation(&record, crate::epoch::template(cfg))
        .await?
    {
        ConfirmVerdict::Recorded => "recorded",
        ConfirmVerdict::Duplicate => "duplicate",
        ConfirmVerdict::Conflict => return Err(RecordError::Conflict(c.id.clone())),
        ConfirmVerdict::UnknownConfirmer => {
            return Err(RecordError::UnknownMember(c.confirmer.clone()))
        }
        ConfirmVerdict::FrozenEpoch { epoch, state } => {
            return Err(RecordError::FrozenEpoch { epoch, state })
        }
    };
    Ok(ConfirmationView {
        id: c.id.clone(),
        confirmer: c.confirmer.clone(),
        claimant: event.member,
        kind: event.kind,
        event: event.id,
        epoch: event.epoch,
        auth,
        status: status.to_owned(),
    })
}

/// Checks and stores a vouch or its revocation.
pub async fn vouch(
    store: &Store,
    rules: &RuleSet,
    key: &ApiPrincipal,
    v: &VouchIn,
) -> Result<(), RecordError> {
    id_ok("voucher", &v.voucher)?;
    id_ok("member", &v.member)?;
    if v.voucher == v.member {
        return Err(RecordError::SelfRecord);
    }
    let at = parse_timestamp(&v.issued_at)
        .ok_or_else(|| RecordError::BadTime("not an RFC 3339 timestamp".into()))?;
    let now = crate::store::now_unix();
    if (at - now).abs() > VOUCH_CLOCK_WINDOW_SECS {
        return Err(RecordError::BadTime(format!(
            "more than {VOUCH_CLOCK_WINDOW_SECS}s from the server's clock"
        )));
    }
    let voucher = store
        .member(&v.voucher)
        .await?
        .ok_or_else(|| RecordError::UnknownMember(v.voucher.clone()))?;
    let (auth, wallet, message) = match &v.signature {
        Some(sig) => {
            let message = evidence::vouch_message(v.revoke, &v.voucher, &v.member, &v.issued_at);
            let wallet = wallet_signed(voucher, &message, sig)?;
            ("wallet".to_owned(), Some(wallet), Some(message))
        }
        None => (
            source_auth(rules, key).ok_or(RecordError::Unauthenticated)?,
            None,
            None,
        ),
    };
    match store
        .record_vouch(&VouchRecord {
            voucher: v.voucher.clone(),
            member: v.member.clone(),
            auth,
            wallet,
            message,
            signature: v.signature.clone(),
            at,
            revoke: v.revoke,
        })
        .await?
    {
        VouchVerdict::Recorded => Ok(()),
        VouchVerdict::Stale => Err(RecordError::Stale),
        VouchVerdict::NothingToRevoke => Err(RecordError::NothingToRevoke),
        VouchVerdict::UnknownMember => Err(RecordError::UnknownMember(v.member.clone())),
    }
}

/// Sets a member's subscription end.
pub async fn subscribe(
    store: &Store,
    member: &str,
    s: &SubscriptionIn,
) -> Result<Option<i64>, RecordError> {
    id_ok("member", member)?;
    let until = match &s.active_until {
        None => None,
        Some(t) => Some(
            parse_timestamp(t)
                .ok_or_else(|| RecordError::BadTime("not an RFC 3339 timestamp".into()))?,
        ),
    };
    if !store.set_subscription(member, until).await? {
        return Err(RecordError::UnknownMember(member.to_owned()));
    }
    Ok(until)
}

/// Checks a manifest's signature with the key's source's public key and stores it.
pub async fn manifest(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
    key: &ApiPrincipal,
    m: &ManifestIn,
) -> Result<(), RecordError> {
    let source = key
        .source
        .as_deref()
        .ok_or(RecordError::NotASigningSource)?;
    let pubkey = rules
        .v2()
        .and_then(|r| r.sources.get(source))
        .and_then(|s| s.pubkey.as_deref())
        .ok_or(RecordError::NotASigningSource)?;
    let message = evidence::manifest_message(source, m.epoch, m.events, &m.digest);
    evidence::verify(&evidence::parse_pubkey(pubkey)?, &message, &m.signature)?;
    let row = ManifestRow {
        source: source.to_owned(),
        epoch: m.epoch,
        events: m.events,
        digest: m.digest.clone(),
        signature: m.signature.clone(),
    };
    match store
        .record_manifest(&row, crate::epoch::template(cfg))
        .await?
    {
        Ok(()) => Ok(()),
        Err(state) => Err(RecordError::FrozenEpoch {
            epoch: m.epoch,
            state,
        }),
    }
}

/// The manifest digest of the given events of one source (what the source computes, what the
/// service and every oracle recompute).
pub fn digest_hex<'a>(source: &'a str, events: impl Iterator<Item = EventRef<'a>>) -> String {
    let mut evs: Vec<SourceEvent<'a>> = events
        .map(|e| SourceEvent {
            source,
            id: e.id,
            member: e.member,
            kind: e.kind,
            occurred_at: e.occurred_at,
        })
        .collect();
    hex::encode(evidence::manifest_digest(&mut evs))
}

/// The fields of an event that a manifest covers.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub id: &'a str,
    pub member: &'a str,
    pub kind: &'a str,
    pub occurred_at: i64,
}
