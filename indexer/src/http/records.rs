//! Scoring v2's records: `POST /v1/confirmations`, `POST /v1/vouches`,
//! `PUT /v1/members/{id}/subscription` and `POST /v1/sources/manifests`. The checks live in
//! [`crate::records`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{scope, Authorized, JsonBody};
use super::AppState;
use crate::records::{
    self, ConfirmationIn, ConfirmationView, ManifestIn, RecordError, SubscriptionIn, VouchIn,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/confirmations", post(post_confirmation))
        .route("/v1/vouches", post(post_vouch))
        .route("/v1/members/{id}/subscription", put(put_subscription))
        .route("/v1/sources/manifests", post(post_manifest))
}

/// A stored acknowledgement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ack {
    pub status: String,
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        let msg = e.to_string();
        match e {
            RecordError::InvalidId { .. } => ApiError::bad_request("invalid_id", msg),
            RecordError::UnknownEvent(_) => ApiError::not_found("unknown_event", msg),
            RecordError::UnknownMember(_) => ApiError::not_found("member_not_found", msg),
            RecordError::SelfRecord => ApiError::bad_request("self_record", msg),
            RecordError::FrozenEpoch { .. } => ApiError::conflict("frozen_epoch", msg),
            RecordError::EpochEnded { .. } => ApiError::conflict("epoch_ended", msg),
            RecordError::Conflict(_) => ApiError::conflict("conflict", msg),
            RecordError::NoWallet(_) => ApiError::bad_request("no_wallet", msg),
            RecordError::Signature(_) | RecordError::SourceSignatureRequired => {
                ApiError::bad_request("invalid_signature", msg)
            }
            RecordError::Unauthenticated => {
                ApiError::new(StatusCode::FORBIDDEN, "unauthenticated_record", msg)
            }
            RecordError::BadTime(_) => ApiError::bad_request("bad_timestamp", msg),
            RecordError::Stale => ApiError::conflict("stale", msg),
            RecordError::NothingToRevoke => ApiError::not_found("nothing_to_revoke", msg),
            RecordError::NotASigningSource => {
                ApiError::new(StatusCode::FORBIDDEN, "not_a_signing_source", msg)
            }
            RecordError::Store(e) => e.into(),
        }
    }
}

/// Records a confirmation: the confirmer's own record about another member's event.
#[utoipa::path(post, path = "/v1/confirmations", tag = "records",
    request_body = ConfirmationIn, security(("api_key" = [])),
    responses(
        (status = 200, description = "Recorded (or a retry of the same record)", body = ConfirmationView),
        (status = 400, description = "invalid_id, self_record, no_wallet, invalid_signature", body = ErrorBody),
        (status = 403, description = "forbidden (no `confirm` scope) or unauthenticated_record", body = ErrorBody),
        (status = 404, description = "unknown_event, member_not_found", body = ErrorBody),
        (status = 409, description = "conflict (id taken, or already confirmed), epoch_ended, frozen_epoch", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    ))]
pub(super) async fn post_confirmation(
    State(st): State<AppState>,
    key: Authorized<scope::Confirm>,
    JsonBody(body): JsonBody<ConfirmationIn>,
) -> Result<Json<ConfirmationView>, ApiError> {
    let view = records::confirm(st.store(), st.config(), st.rules(), &key.0, &body).await?;
    Ok(Json(view))
}

/// Records a vouch (or revokes one).
#[utoipa::path(post, path = "/v1/vouches", tag = "records",
    request_body = VouchIn, security(("api_key" = [])),
    responses(
        (status = 200, body = Ack),
        (status = 400, description = "invalid_id, self_record, bad_timestamp, no_wallet, invalid_signature", body = ErrorBody),
        (status = 403, description = "forbidden or unauthenticated_record", body = ErrorBody),
        (status = 404, description = "member_not_found, nothing_to_revoke", body = ErrorBody),
        (status = 409, description = "stale (a newer statement is stored)", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    ))]
pub(super) async fn post_vouch(
    State(st): State<AppState>,
    key: Authorized<scope::Confirm>,
    JsonBody(body): JsonBody<VouchIn>,
) -> Result<Json<Ack>, ApiError> {
    records::vouch(st.store(), st.rules(), &key.0, &body).await?;
    Ok(Json(Ack {
        status: if body.revoke { "revoked" } else { "vouched" }.to_owned(),
    }))
}

/// Reports a member's paid subscription (eligibility under rules v2).
#[utoipa::path(put, path = "/v1/members/{id}/subscription", tag = "records",
    params(("id" = String, Path)), request_body = SubscriptionIn, security(("api_key" = [])),
    responses(
        (status = 200, body = Ack),
        (status = 400, description = "invalid_id, bad_timestamp", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "member_not_found", body = ErrorBody),
    ))]
pub(super) async fn put_subscription(
    State(st): State<AppState>,
    _key: Authorized<scope::Confirm>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SubscriptionIn>,
) -> Result<Json<Ack>, ApiError> {
    let until = records::subscribe(st.store(), &id, &body).await?;
    Ok(Json(Ack {
        status: match until {
            Some(t) => format!("subscribed until {}", crate::wallet::rfc3339(t)),
            None => "not subscribed".to_owned(),
        },
    }))
}

/// A signing source's manifest of an epoch: how many events it sent and their digest, signed.
#[utoipa::path(post, path = "/v1/sources/manifests", tag = "records",
    request_body = ManifestIn, security(("api_key" = [])),
    responses(
        (status = 200, body = Ack),
        (status = 400, description = "invalid_signature", body = ErrorBody),
        (status = 403, description = "forbidden (no `ingest` scope) or not_a_signing_source", body = ErrorBody),
        (status = 409, description = "frozen_epoch", body = ErrorBody),
    ))]
pub(super) async fn post_manifest(
    State(st): State<AppState>,
    key: Authorized<scope::Ingest>,
    JsonBody(body): JsonBody<ManifestIn>,
) -> Result<Json<Ack>, ApiError> {
    records::manifest(st.store(), st.config(), st.rules(), &key.0, &body).await?;
    Ok(Json(Ack {
        status: "recorded".to_owned(),
    }))
}
