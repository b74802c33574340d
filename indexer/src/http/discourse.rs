//! `POST /v1/sources/discourse/{source}`: Discourse webhooks, as Discourse sends them.
//!
//! Authenticated by the webhook's HMAC (`X-Discourse-Event-Signature`), not by an API key. Every
//! refusal of the request itself (unknown source, wrong content type, oversized body, missing or
//! wrong signature, wrong instance, malformed headers or body) happens before anything is stored.
//! A processed delivery is answered 200 and its answer is kept by `X-Discourse-Event-Id`: a retry
//! gets the same answer (`replay: true`) and changes nothing. A refused event (outside the ingest
//! window, unknown forum user, frozen epoch) is a 4xx so that Discourse shows the delivery as
//! failed (and retries it, which is harmless).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::discourse::{self, Forum, Outcome};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sources/discourse/{source}", post(post_webhook))
}

/// The answer to one webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookAnswer {
    /// `X-Discourse-Event-Id`.
    pub delivery: i64,
    /// `X-Discourse-Event`.
    pub event: String,
    /// True when this delivery was already processed: the stored answer, nothing changed.
    pub replay: bool,
    pub outcome: Outcome,
}

/// The expected `X-Discourse-Event-Type` of the events the mapping reads.
fn event_type_of(event: &str) -> Option<&'static str> {
    Some(match event {
        "ping" => "ping",
        "post_created" | "post_edited" | "post_destroyed" | "post_recovered" => "post",
        "topic_created" | "topic_edited" | "topic_destroyed" | "topic_recovered" => "topic",
        "post_liked" => "like",
        "accepted_solution" | "unaccepted_solution" => "solved",
        _ => return None,
    })
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            ApiError::bad_request("bad_header", format!("{name} is not visible ASCII"))
        }),
    }
}

fn short_token(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// Receives a Discourse webhook for forum source `source`.
#[utoipa::path(post, path = "/v1/sources/discourse/{source}", tag = "sources",
    params(("source" = String, Path, description = "The rules source (`[sources.<name>.forum]`) and `[discourse.sources.<name>]`"),
        ("X-Discourse-Event-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>"),
        ("X-Discourse-Event" = String, Header, description = "e.g. post_created"),
        ("X-Discourse-Event-Type" = String, Header, description = "e.g. post"),
        ("X-Discourse-Event-Id" = i64, Header, description = "delivery id (idempotency)"),
        ("X-Discourse-Instance" = Option<String>, Header, description = "the forum's base URL")),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "Processed (accepted, duplicate, confirmed, withdrawn, kept, ignored, pong) or a replay", body = WebhookAnswer),
        (status = 400, description = "bad_header, event_type_mismatch, malformed_json, invalid_body", body = ErrorBody),
        (status = 401, description = "missing_signature, bad_signature", body = ErrorBody),
        (status = 403, description = "wrong_instance", body = ErrorBody),
        (status = 404, description = "unknown_source", body = ErrorBody),
        (status = 409, description = "frozen_epoch", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_media_type (set the webhook's content type to application/json)", body = ErrorBody),
        (status = 422, description = "outside_window, unknown_user, unknown_member, ... (nothing stored)", body = ErrorBody),
    ))]
pub(super) async fn post_webhook(
    State(st): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let cfg = st.config();
    let unknown = || {
        ApiError::not_found(
            "unknown_source",
            "no Discourse source of that name is configured with a forum mapping in the rules",
        )
    };
    if source.len() > 64 {
        return Err(unknown());
    }
    let forum = Forum::new(cfg, st.rules(), &source).map_err(|e| {
        tracing::warn!(source = %source.escape_debug(), error = %e, "discourse webhook for an unusable source");
        unknown()
    })?;
    let is_json = header_str(&headers, header::CONTENT_TYPE.as_str())?
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json (the webhook's content type in Discourse)",
        ));
    }
    // The raw body, bounded, before anything reads it.
    let limit = cfg.discourse.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the webhook body exceeds {limit} bytes"),
        )
    };
    let declared =
        header_str(&headers, header::CONTENT_LENGTH.as_str())?.and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let secret = forum
        .source
        .secret
        .as_ref()
        .ok_or_else(ApiError::internal)?;
    discourse::verify_signature(
        secret.expose(),
        &raw,
        header_str(&headers, "x-discourse-event-signature")?,
    )
    .map_err(|e| {
        let code = match e {
            discourse::SignatureError::Missing => "missing_signature",
            _ => "bad_signature",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
    })?;
    if let Some(expected) = &forum.source.instance {
        let got = header_str(&headers, "x-discourse-instance")?.unwrap_or("");
        if got.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_instance",
                "X-Discourse-Instance is not the forum configured for this source",
            ));
        }
    }
    let event_type = header_str(&headers, "x-discourse-event-type")?
        .filter(|v| short_token(v))
        .ok_or_else(|| {
            ApiError::bad_request("bad_header", "X-Discourse-Event-Type is missing or invalid")
        })?;
    let event = match header_str(&headers, "x-discourse-event")? {
        Some(v) if short_token(v) => v,
        None if event_type == "ping" => "ping",
        _ => {
            return Err(ApiError::bad_request(
                "bad_header",
                "X-Discourse-Event is missing or invalid",
            ))
        }
    };
    if event_type_of(event).is_some_and(|t| t != event_type) {
        return Err(ApiError::bad_request(
            "event_type_mismatch",
            format!("event {event} does not come with X-Discourse-Event-Type {event_type}"),
        ));
    }
    let delivery = header_str(&headers, "x-discourse-event-id")?
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|&v| v >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_header",
                "X-Discourse-Event-Id is missing or not a number",
            )
        })?;
    if let Some((stored_event, outcome)) = st.store().discourse_delivery(&source, delivery).await? {
        let outcome: Outcome = serde_json::from_str(&outcome).map_err(|e| {
            tracing::error!(error = %e, "stored discourse outcome does not parse");
            ApiError::internal()
        })?;
        return Ok(Json(WebhookAnswer {
            delivery,
            event: stored_event,
            replay: true,
            outcome,
        }));
    }
    let value: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    let outcome = forum
        .webhook(st.store(), cfg, event, &value)
        .await?
        .map_err(|e| ApiError::bad_request("invalid_body", e))?;
    tracing::info!(source = %source, event, delivery, status = ?outcome.status,
        activity = ?outcome.activity, "discourse webhook");
    if !outcome.is_final() {
        let reason = outcome.reason.as_deref().unwrap_or("rejected");
        let code: &'static str = match reason {
            "outside_window" => "outside_window",
            "unknown_user" => "unknown_user",
            "unknown_member" => "unknown_member",
            "frozen_epoch" => "frozen_epoch",
            "future_timestamp" => "future_timestamp",
            "bad_timestamp" => "bad_timestamp",
            _ => "rejected",
        };
        let status = if code == "frozen_epoch" {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return Err(ApiError::new(
            status,
            code,
            outcome.detail.unwrap_or_else(|| reason.to_owned()),
        ));
    }
    let text = serde_json::to_string(&outcome).expect("an outcome serializes");
    st.store()
        .record_discourse_delivery(&source, delivery, event, &text)
        .await?;
    Ok(Json(WebhookAnswer {
        delivery,
        event: event.to_owned(),
        replay: false,
        outcome,
    }))
}
