//! Epochs: the list, one epoch, a member's receipt, and the canonical log served to oracles.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ErrorBody};
use super::wire::{encode_cursor, EpochList, EpochView, PageQuery};
use super::AppState;
use crate::ingest;
use crate::oracle::{EpochLogResponse, LogServeError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/epochs", get(list_epochs))
        .route("/v1/epochs/{n}", get(get_epoch))
        .route("/v1/epochs/{n}/receipts/{member}", get(get_receipt))
        .route("/v1/epochs/{n}/log", get(get_epoch_log))
}

/// Epochs with activity or results, newest first, one page at a time.
#[utoipa::path(get, path = "/v1/epochs", tag = "epochs", params(PageQuery),
    responses((status = 200, body = EpochList),
              (status = 400, description = "invalid_cursor, too_long", body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn list_epochs(
    State(st): State<AppState>,
    Query(page): Query<PageQuery>,
) -> Result<Json<EpochList>, ApiError> {
    let limit = page.limit();
    let before: Option<u64> = page.cursor()?;
    let mut epochs = st.store().epochs_page(before, limit as i64 + 1).await?;
    let more = epochs.len() > limit;
    epochs.truncate(limit);
    let next_cursor = more
        .then(|| epochs.last().map(|e| encode_cursor(&e.epoch)))
        .flatten();
    Ok(Json(EpochList {
        epochs: epochs.into_iter().map(EpochView::from).collect(),
        next_cursor,
    }))
}

/// One epoch. An epoch without stored activity that has started is reported `open` and empty.
#[utoipa::path(get, path = "/v1/epochs/{n}", tag = "epochs",
    params(("n" = u64, Path)),
    responses((status = 200, body = EpochView), (status = 404, body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn get_epoch(
    State(st): State<AppState>,
    Path(n): Path<u64>,
) -> Result<Json<EpochView>, ApiError> {
    let current = st.config().epoch_of(crate::store::now_unix());
    if current.is_none_or(|c| n > c) {
        return Err(ApiError::not_found(
            "unknown_epoch",
            "this epoch has not started",
        ));
    }
    let view = match st.store().epoch(n).await? {
        Some(e) => e.into(),
        None => EpochView::unstored(n, st.config()),
    };
    Ok(Json(view))
}

/// A member's scoring receipt for an epoch.
#[utoipa::path(get, path = "/v1/epochs/{n}/receipts/{member}", tag = "epochs",
    params(("n" = u64, Path), ("member" = String, Path)),
    responses((status = 200, description = "The receipt (see stk-scoring's Receipt)", body = Object),
              (status = 404, body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn get_receipt(
    State(st): State<AppState>,
    Path((n, member)): Path<(u64, String)>,
) -> Result<Response, ApiError> {
    let nf = || ApiError::not_found("no_receipt", "no receipt for this member and epoch");
    if ingest::check_id(&member).is_err() || n > i64::MAX as u64 {
        return Err(nf());
    }
    let r = st.store().receipt(n, &member).await?.ok_or_else(nf)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r,
    )
        .into_response())
}

/// The canonical activity log of a scored epoch, the exact rules text and the recipients' wallet
/// binding proofs: everything an oracle needs to recompute the root (`stk-indexer oracle attest`).
#[utoipa::path(get, path = "/v1/epochs/{n}/log", tag = "epochs",
    params(("n" = u64, Path)),
    responses((status = 200, body = crate::oracle::EpochLogResponse),
              (status = 404, description = "unknown_epoch", body = ErrorBody),
              (status = 409, description = "not_scored, rules_unavailable, rules_mismatch, log_unavailable", body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn get_epoch_log(
    State(st): State<AppState>,
    Path(n): Path<u64>,
) -> Result<Json<EpochLogResponse>, ApiError> {
    if n > i64::MAX as u64 {
        return Err(ApiError::not_found("unknown_epoch", "no such epoch"));
    }
    let log =
        crate::oracle::epoch_log(st.store(), st.config(), st.rules(), st.rules_toml(), n).await?;
    Ok(Json(log))
}

impl From<LogServeError> for ApiError {
    fn from(e: LogServeError) -> Self {
        use LogServeError as E;
        match e {
            E::Unknown(_) => ApiError::not_found("unknown_epoch", e.to_string()),
            E::NotScored { .. } => ApiError::conflict("not_scored", e.to_string()),
            E::RulesUnavailable => ApiError::conflict("rules_unavailable", e.to_string()),
            E::RulesMismatch { .. } => ApiError::conflict("rules_mismatch", e.to_string()),
            E::LogUnavailable { .. } => ApiError::conflict("log_unavailable", e.to_string()),
            E::Store(e) => e.into(),
        }
    }
}
