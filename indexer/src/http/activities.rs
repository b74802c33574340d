//! `POST /v1/activities`: batch ingestion.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::error::{ApiError, ErrorBody};
use super::extract::{scope, Authorized, JsonBody};
use super::AppState;
use crate::config::IngestConfig;
use crate::ingest::{self, ActivityBatch, BatchResponse, MAX_BATCH};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/activities", post(post_activities))
}

/// Ingests a batch of up to 1,000 events.
#[utoipa::path(post, path = "/v1/activities", tag = "activities",
    request_body = ActivityBatch,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Per-item results", body = BatchResponse),
        (status = 400, description = "Malformed JSON, wrong types, more than 1,000 events, too deep", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "The key lacks the `ingest` scope, or reports as a source the rules do not define", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub(super) async fn post_activities(
    State(st): State<AppState>,
    key: Authorized<scope::Ingest>,
    JsonBody(batch): JsonBody<ActivityBatch>,
) -> Result<Json<BatchResponse>, ApiError> {
    check_batch(&batch, &st.config().ingest)?;
    let reporter = ingest::Reporter::for_source(st.rules(), key.0.source.as_deref())
        .map_err(|m| ApiError::new(StatusCode::FORBIDDEN, "unknown_source", m))?;
    let intake = ingest::Intake {
        rules: st.rules(),
        reporter,
    };
    let results = ingest::ingest_batch(st.store(), st.config(), &intake, &batch.events).await?;
    Ok(Json(ingest::summarize(results)))
}

/// Request-level limits: the whole batch is refused (per-item problems are reported per item).
fn check_batch(batch: &ActivityBatch, cfg: &IngestConfig) -> Result<(), ApiError> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "{} events in one batch; at most {MAX_BATCH}",
                batch.events.len()
            ),
        ));
    }
    let depth = ingest::max_attributes_depth(&batch.events);
    if depth > cfg.max_attributes_depth {
        return Err(ApiError::bad_request(
            "too_deep",
            format!(
                "attributes nested {depth} levels deep; at most {}",
                cfg.max_attributes_depth
            ),
        ));
    }
    Ok(())
}
