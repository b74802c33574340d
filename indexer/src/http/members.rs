//! Members: create, activate, deactivate, summary and timeline.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ErrorBody};
use super::extract::{scope, Authorized, JsonBody};
use super::wire::{encode_cursor, CreateMember, MemberSummary, MemberView, PageQuery};
use super::AppState;
use crate::ingest;
use crate::store::TimelineKey;

/// The keyed routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members", post(create_member))
        .route("/v1/members/{id}/activate", post(activate_member))
        .route("/v1/members/{id}/deactivate", post(deactivate_member))
}

/// The public reads (rate-limited per client address by the caller).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{id}", get(get_member))
        .route("/v1/members/{id}/timeline", get(get_timeline))
}

/// 404 `unknown_member`.
pub(super) fn member_not_found() -> ApiError {
    ApiError::not_found("unknown_member", "no such member")
}

/// Creates an inactive member.
#[utoipa::path(post, path = "/v1/members", tag = "members",
    request_body = CreateMember, security(("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = MemberView),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 409, description = "Member exists", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `members` scope", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),
    ))]
pub(super) async fn create_member(
    State(st): State<AppState>,
    _key: Authorized<scope::Members>,
    JsonBody(body): JsonBody<CreateMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    ingest::check_id(&body.id).map_err(|m| ApiError::bad_request("invalid_id", m.to_string()))?;
    if !st.store().create_member(&body.id).await? {
        return Err(ApiError::conflict(
            "member_exists",
            "a member with this id exists",
        ));
    }
    let m = st
        .store()
        .member(&body.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

async fn set_status(st: &AppState, id: &str, active: bool) -> Result<Json<MemberView>, ApiError> {
    if ingest::check_id(id).is_err() {
        return Err(member_not_found());
    }
    match st.store().set_member_status(id, active).await? {
        Some(m) => Ok(Json(m.into())),
        None => Err(member_not_found()),
    }
}

/// Activates a member (inactive members earn nothing).
#[utoipa::path(post, path = "/v1/members/{id}/activate", tag = "members",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `members` scope", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),))]
pub(super) async fn activate_member(
    State(st): State<AppState>,
    _key: Authorized<scope::Members>,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    set_status(&st, &id, true).await
}

/// Deactivates a member.
#[utoipa::path(post, path = "/v1/members/{id}/deactivate", tag = "members",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `members` scope", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),))]
pub(super) async fn deactivate_member(
    State(st): State<AppState>,
    _key: Authorized<scope::Members>,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    set_status(&st, &id, false).await
}

/// A member's status, wallet and per-epoch points, allocation and receipt (epochs paginated,
/// newest first).
#[utoipa::path(get, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = MemberSummary), (status = 404, body = ErrorBody),
              (status = 400, description = "invalid_cursor, too_long", body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn get_member(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<MemberSummary>, ApiError> {
    if ingest::check_id(&id).is_err() {
        return Err(member_not_found());
    }
    let limit = page.limit();
    let before: Option<u64> = page.cursor()?;
    let m = st.store().member(&id).await?.ok_or_else(member_not_found)?;
    let mut epochs = st
        .store()
        .member_epochs_page(&id, before, limit as i64 + 1)
        .await?;
    let more = epochs.len() > limit;
    epochs.truncate(limit);
    let next_cursor = more
        .then(|| epochs.last().map(|e| encode_cursor(&e.epoch)))
        .flatten();
    let mut summary = MemberSummary::new(m, epochs).map_err(|err| {
        tracing::error!(error = %err, "stored receipt is not JSON");
        ApiError::internal()
    })?;
    summary.next_cursor = next_cursor;
    Ok(Json(summary))
}

/// A member's timeline: activities, per-epoch points and allocation, STK received per epoch, sold
/// back, spent on access (from the chain watcher), with totals; oldest first, paginated.
#[utoipa::path(get, path = "/v1/members/{id}/timeline", tag = "members",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = crate::watcher::Timeline), (status = 404, body = ErrorBody),
              (status = 400, description = "invalid_cursor, too_long", body = ErrorBody),
              (status = 429, description = "rate_limited (per client address; Retry-After)", body = ErrorBody)))]
pub(super) async fn get_timeline(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<crate::watcher::Timeline>, ApiError> {
    if ingest::check_id(&id).is_err() {
        return Err(member_not_found());
    }
    let after: TimelineKey = page.cursor()?.unwrap_or_else(TimelineKey::start);
    let (mut timeline, next) = crate::watcher::timeline(st.store(), &id, &after, page.limit())
        .await?
        .ok_or_else(member_not_found)?;
    timeline.next_cursor = next.map(|k| encode_cursor(&k));
    Ok(Json(timeline))
}
