//! HTTP API (axum): routes, extractors, middleware and the OpenAPI document.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{self, ApiPrincipal, RateLimiter};
use crate::config::Config;
use crate::error::{code_for_status, ApiError, ErrorBody};
use crate::ingest::{self, ActivityBatch, BatchResponse, MAX_BATCH};
use crate::store::{EpochRow, MemberRow, Store};
use crate::wallet::{self, BindError, ChallengeError};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Config,
    rules: Arc<stk_scoring::Rules>,
    /// The text of the rules file `rules` was parsed from (served to oracles with each epoch log).
    rules_toml: std::sync::OnceLock<Arc<str>>,
    limiter: RateLimiter,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(store: Store, config: Config, rules: Arc<stk_scoring::Rules>) -> Self {
        let limiter = RateLimiter::new(&config.rate_limit);
        let state = Self {
            inner: Arc::new(Inner {
                store,
                config,
                rules,
                rules_toml: std::sync::OnceLock::new(),
                limiter,
                metrics: crate::metrics::handle(),
            }),
        };
        // The rules text for oracles: the configured rules file, if it is the rules being run.
        if let Ok(text) = std::fs::read_to_string(&state.inner.config.scoring.rules_path) {
            if let Err(e) = state.set_rules_toml(&text) {
                tracing::warn!(path = %state.inner.config.scoring.rules_path.display(), error = %e,
                    "rules file not served to oracles");
            }
        }
        state
    }
    /// Sets the rules text served with epoch logs; it must parse to the rules this state runs.
    pub fn set_rules_toml(&self, text: &str) -> Result<(), String> {
        let parsed = stk_scoring::Rules::from_toml(text).map_err(|e| e.to_string())?;
        if parsed.hash() != self.inner.rules.hash() {
            return Err(format!(
                "the rules text hashes to {}, the service runs rules {}",
                hex::encode(parsed.hash()),
                hex::encode(self.inner.rules.hash())
            ));
        }
        let _ = self.inner.rules_toml.set(Arc::from(text));
        Ok(())
    }
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
}

// ------------------------------------------------------------------ extractors

/// An authenticated, rate-limited platform caller (`Authorization: Bearer <key>`).
pub struct ApiKey(pub ApiPrincipal);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <API key>"))?;
        let presented = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("Authorization must be: Bearer <API key>"))?;
        let principal = auth::verify_key(&state.inner.store, presented)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        state
            .inner
            .limiter
            .check(&principal.key_id)
            .map_err(|wait| ApiError::rate_limited(wait.as_secs_f64().ceil() as u64))?;
        Ok(ApiKey(principal))
    }
}

/// A JSON body with JSON errors: 415 unless `Content-Type: application/json`, 413 over the body
/// limit, 400 for malformed JSON, wrong types, unknown fields or excessive nesting.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is too large",
                )
            } else {
                ApiError::bad_request("bad_body", rej.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            let msg = e.to_string();
            match e.classify() {
                _ if msg.contains("recursion limit") => {
                    ApiError::bad_request("too_deep", "JSON nesting is too deep")
                }
                Category::Data => ApiError::bad_request("invalid_body", msg),
                _ => ApiError::bad_request("malformed_json", msg),
            }
        })
    }
}

// ------------------------------------------------------------------ views

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberSummary {
    #[serde(flatten)]
    pub member: MemberView,
    pub epochs: Vec<MemberEpochView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EpochView {
    pub epoch: u64,
    /// `open` accepts activity; anything else (`frozen`, `scored`, ...) does not.
    pub state: String,
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EpochList {
    pub epochs: Vec<EpochView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMember {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
pub struct ChallengeQuery {
    /// Base58 ed25519 public key of the wallet to bind.
    pub wallet: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    pub nonce: String,
    /// The exact text the wallet must sign (UTF-8 bytes, ed25519, like `signMessage`).
    pub message: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindWallet {
    pub wallet: String,
    pub nonce: String,
    /// Base58 ed25519 signature over the challenge message.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    pub status: String,
}

// ------------------------------------------------------------------ handlers

/// Ingests a batch of up to 1,000 events.
#[utoipa::path(post, path = "/v1/activities", tag = "activities",
    request_body = ActivityBatch,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Per-item results", body = BatchResponse),
        (status = 400, description = "Malformed JSON, wrong types, more than 1,000 events, too deep", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
async fn post_activities(
    State(st): State<AppState>,
    _key: ApiKey,
    JsonBody(batch): JsonBody<ActivityBatch>,
) -> Result<Json<BatchResponse>, ApiError> {
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
    if depth > st.inner.config.ingest.max_attributes_depth {
        return Err(ApiError::bad_request(
            "too_deep",
            format!(
                "attributes nested {depth} levels deep; at most {}",
                st.inner.config.ingest.max_attributes_depth
            ),
        ));
    }
    let results = ingest::ingest_batch(
        &st.inner.store,
        &st.inner.config,
        &st.inner.rules,
        &batch.events,
    )
    .await?;
    Ok(Json(ingest::summarize(results)))
}

/// Creates an inactive member.
#[utoipa::path(post, path = "/v1/members", tag = "members",
    request_body = CreateMember, security(("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = MemberView),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 409, description = "Member exists", body = ErrorBody),
    ))]
async fn create_member(
    State(st): State<AppState>,
    _key: ApiKey,
    JsonBody(body): JsonBody<CreateMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    ingest::check_id(&body.id).map_err(|m| ApiError::bad_request("invalid_id", m))?;
    if !st.inner.store.create_member(&body.id).await? {
        return Err(ApiError::conflict(
            "member_exists",
            "a member with this id exists",
        ));
    }
    let m = st
        .inner
        .store
        .member(&body.id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

async fn set_status(st: &AppState, id: &str, active: bool) -> Result<Json<MemberView>, ApiError> {
    if ingest::check_id(id).is_err() {
        return Err(member_not_found());
    }
    match st.inner.store.set_member_status(id, active).await? {
        Some(m) => Ok(Json(m.into())),
        None => Err(member_not_found()),
    }
}

fn member_not_found() -> ApiError {
    ApiError::not_found("unknown_member", "no such member")
}

/// Activates a member (inactive members earn nothing).
#[utoipa::path(post, path = "/v1/members/{id}/activate", tag = "members",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody)))]
async fn activate_member(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    set_status(&st, &id, true).await
}

/// Deactivates a member.
#[utoipa::path(post, path = "/v1/members/{id}/deactivate", tag = "members",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = ErrorBody)))]
async fn deactivate_member(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    set_status(&st, &id, false).await
}

/// A member's status, wallet and per-epoch points, allocation and receipt.
#[utoipa::path(get, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path)),
    responses((status = 200, body = MemberSummary), (status = 404, body = ErrorBody)))]
async fn get_member(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MemberSummary>, ApiError> {
    if ingest::check_id(&id).is_err() {
        return Err(member_not_found());
    }
    let m = st
        .inner
        .store
        .member(&id)
        .await?
        .ok_or_else(member_not_found)?;
    let epochs = st.inner.store.member_epochs(&id).await?;
    let epochs = epochs
        .into_iter()
        .map(|e| {
            let receipt = match e.receipt {
                Some(r) => Some(serde_json::from_str(&r).map_err(|err| {
                    tracing::error!(error = %err, "stored receipt is not JSON");
                    ApiError::internal()
                })?),
                None => None,
            };
            Ok(MemberEpochView {
                epoch: e.epoch,
                events: e.events,
                score: e.score,
                amount: e.amount,
                receipt,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(MemberSummary {
        member: m.into(),
        epochs,
    }))
}

/// Issues a single-use wallet binding challenge.
#[utoipa::path(get, path = "/v1/members/{id}/wallet/challenge", tag = "wallets",
    params(("id" = String, Path), ChallengeQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = Challenge),
        (status = 400, description = "Invalid wallet", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn wallet_challenge(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Json<Challenge>, ApiError> {
    let now = crate::store::now_unix();
    let ttl = st.inner.config.wallet.challenge_ttl_secs;
    let ch = wallet::issue_challenge(&st.inner.store, &id, &q.wallet, now, ttl)
        .await
        .map_err(|e| match e {
            ChallengeError::UnknownMember => member_not_found(),
            ChallengeError::InvalidWallet(_) => {
                ApiError::bad_request("invalid_wallet", e.to_string())
            }
            ChallengeError::Store(e) => e.into(),
        })?;
    Ok(Json(Challenge {
        nonce: ch.nonce,
        message: ch.message,
        expires_at: wallet::rfc3339(ch.expires_at),
    }))
}

/// Binds a wallet with a signed challenge.
#[utoipa::path(post, path = "/v1/members/{id}/wallet", tag = "wallets",
    params(("id" = String, Path)), request_body = BindWallet, security(("api_key" = [])),
    responses(
        (status = 200, description = "Bound", body = MemberView),
        (status = 400, description = "invalid_wallet, unknown_challenge, wallet_mismatch, invalid_signature", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "challenge_used (replay) or wallet_in_use", body = ErrorBody),
        (status = 410, description = "challenge_expired", body = ErrorBody),
    ))]
async fn bind_wallet(
    State(st): State<AppState>,
    _key: ApiKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BindWallet>,
) -> Result<Json<MemberView>, ApiError> {
    let now = crate::store::now_unix();
    let m = wallet::bind(
        &st.inner.store,
        &id,
        &body.wallet,
        &body.nonce,
        &body.signature,
        now,
    )
    .await
    .map_err(|e| {
        let msg = e.to_string();
        match e {
            BindError::UnknownMember => member_not_found(),
            BindError::InvalidWallet(_) => ApiError::bad_request("invalid_wallet", msg),
            BindError::UnknownChallenge => ApiError::bad_request("unknown_challenge", msg),
            BindError::WalletMismatch => ApiError::bad_request("wallet_mismatch", msg),
            BindError::ChallengeUsed | BindError::ChallengeRaced => {
                ApiError::conflict("challenge_used", msg)
            }
            BindError::ChallengeExpired => {
                ApiError::new(StatusCode::GONE, "challenge_expired", msg)
            }
            BindError::InvalidSignature(_) => ApiError::bad_request("invalid_signature", msg),
            BindError::WalletInUse => ApiError::conflict("wallet_in_use", msg),
            BindError::Store(e) => e.into(),
        }
    })?;
    Ok(Json(m.into()))
}

/// All epochs with activity or results, newest first.
#[utoipa::path(get, path = "/v1/epochs", tag = "epochs",
    responses((status = 200, body = EpochList)))]
async fn list_epochs(State(st): State<AppState>) -> Result<Json<EpochList>, ApiError> {
    let epochs = st.inner.store.epochs().await?;
    Ok(Json(EpochList {
        epochs: epochs.into_iter().map(EpochView::from).collect(),
    }))
}

/// One epoch. An epoch without stored activity that has started is reported `open` and empty.
#[utoipa::path(get, path = "/v1/epochs/{n}", tag = "epochs",
    params(("n" = u64, Path)),
    responses((status = 200, body = EpochView), (status = 404, body = ErrorBody)))]
async fn get_epoch(
    State(st): State<AppState>,
    Path(n): Path<u64>,
) -> Result<Json<EpochView>, ApiError> {
    let cfg = &st.inner.config;
    let current = cfg.epoch_of(crate::store::now_unix());
    if current.is_none_or(|c| n > c) {
        return Err(ApiError::not_found(
            "unknown_epoch",
            "this epoch has not started",
        ));
    }
    if let Some(e) = st.inner.store.epoch(n).await? {
        return Ok(Json(e.into()));
    }
    let (starts_at, ends_at) = cfg.epoch_window(n);
    Ok(Json(
        EpochRow {
            epoch: n,
            state: "open".into(),
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
        .into(),
    ))
}

/// A member's scoring receipt for an epoch.
#[utoipa::path(get, path = "/v1/epochs/{n}/receipts/{member}", tag = "epochs",
    params(("n" = u64, Path), ("member" = String, Path)),
    responses((status = 200, description = "The receipt (see stk-scoring's Receipt)", body = Object),
              (status = 404, body = ErrorBody)))]
async fn get_receipt(
    State(st): State<AppState>,
    Path((n, member)): Path<(u64, String)>,
) -> Result<Response, ApiError> {
    let nf = || ApiError::not_found("no_receipt", "no receipt for this member and epoch");
    if ingest::check_id(&member).is_err() || n > i64::MAX as u64 {
        return Err(nf());
    }
    let r = st.inner.store.receipt(n, &member).await?.ok_or_else(nf)?;
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
              (status = 409, description = "not_scored, rules_unavailable, rules_mismatch, log_unavailable", body = ErrorBody)))]
async fn get_epoch_log(
    State(st): State<AppState>,
    Path(n): Path<u64>,
) -> Result<Json<crate::oracle::EpochLogResponse>, ApiError> {
    use crate::oracle::LogServeError as E;
    if n > i64::MAX as u64 {
        return Err(ApiError::not_found("unknown_epoch", "no such epoch"));
    }
    let rules_toml = st.inner.rules_toml.get().map(|t| &**t);
    crate::oracle::epoch_log(
        &st.inner.store,
        &st.inner.config,
        &st.inner.rules,
        rules_toml,
        n,
    )
    .await
    .map(Json)
    .map_err(|e| match e {
        E::Unknown(_) => ApiError::not_found("unknown_epoch", e.to_string()),
        E::NotScored { .. } => ApiError::conflict("not_scored", e.to_string()),
        E::RulesUnavailable => ApiError::conflict("rules_unavailable", e.to_string()),
        E::RulesMismatch { .. } => ApiError::conflict("rules_mismatch", e.to_string()),
        E::LogUnavailable { .. } => ApiError::conflict("log_unavailable", e.to_string()),
        E::Store(e) => e.into(),
    })
}

/// A member's timeline: activities, per-epoch points and allocation, STK received per epoch, sold
/// back, spent on access (from the chain watcher), with totals.
#[utoipa::path(get, path = "/v1/members/{id}/timeline", tag = "members",
    params(("id" = String, Path)),
    responses((status = 200, body = crate::watcher::Timeline), (status = 404, body = ErrorBody)))]
async fn get_timeline(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::watcher::Timeline>, ApiError> {
    if ingest::check_id(&id).is_err() {
        return Err(member_not_found());
    }
    crate::watcher::timeline(&st.inner.store, &id)
        .await?
        .map(Json)
        .ok_or_else(member_not_found)
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Status)))]
async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Status), (status = 503, body = ErrorBody)))]
async fn readyz(State(st): State<AppState>) -> Result<Json<Status>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), st.inner.store.ping()).await {
        Ok(Ok(())) => Ok(Json(Status {
            status: "ready".into(),
        })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "database unreachable",
            ))
        }
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "database did not answer in time",
        )),
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        st.inner.metrics.render(),
    )
        .into_response()
}

async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()),
    )
        .into_response()
}

async fn fallback() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// Turns any non-JSON error response produced below the handlers (body limit, timeout, path or
/// query parsing, method not allowed) into the JSON error shape.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut out = ApiError::new(status, code_for_status(status), message).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "SysTok indexer API", description = "Activity ingestion, members, wallet binding, epochs and receipts."),
    paths(post_activities, create_member, activate_member, deactivate_member, get_member,
          wallet_challenge, bind_wallet, list_epochs, get_epoch, get_receipt, get_epoch_log, get_timeline, healthz, readyz, metrics),
    components(schemas(ErrorBody, ActivityBatch, ingest::EventIn, BatchResponse, ingest::ItemResult,
        ingest::ItemStatus, ingest::RejectReason, CreateMember, MemberView, MemberSummary,
        MemberEpochView, Challenge, BindWallet, EpochView, EpochList, Status,
        crate::oracle::EpochLogResponse, crate::oracle::BindingProof, crate::oracle::ServedAllocation,
        crate::watcher::Timeline, crate::watcher::TimelineItem, crate::watcher::TimelineTotals)),
    modifiers(&SecurityAddon),
)]
pub struct ApiDoc;

/// The full router with middleware.
pub fn router(state: AppState) -> Router {
    let cfg = state.inner.config.server.clone();
    Router::new()
        .route("/v1/activities", post(post_activities))
        .route("/v1/members", post(create_member))
        .route("/v1/members/{id}", get(get_member))
        .route("/v1/members/{id}/activate", post(activate_member))
        .route("/v1/members/{id}/deactivate", post(deactivate_member))
        .route("/v1/members/{id}/wallet/challenge", get(wallet_challenge))
        .route("/v1/members/{id}/wallet", post(bind_wallet))
        .route("/v1/epochs", get(list_epochs))
        .route("/v1/epochs/{n}", get(get_epoch))
        .route("/v1/epochs/{n}/receipts/{member}", get(get_receipt))
        .route("/v1/epochs/{n}/log", get(get_epoch_log))
        .route("/v1/members/{id}/timeline", get(get_timeline))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(fallback)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(cfg.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(cfg.request_timeout_secs),
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(axum::middleware::map_response(json_errors))
        .layer(TraceLayer::new_for_http())
}

/// A running HTTP server.
pub struct Server {
    pub addr: SocketAddr,
    pub token: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves until `token` is cancelled.
    pub async fn start(
        listen: SocketAddr,
        state: AppState,
        token: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = router(state);
        let shutdown = token.clone().cancelled_owned();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
        tracing::info!(%addr, "listening");
        Ok(Self {
            addr,
            token,
            handle,
        })
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.token.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after its token is cancelled).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
