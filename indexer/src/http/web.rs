//! The web app for members and investors: the page and its assets (embedded in the binary), the
//! member sessions that let a page bind a wallet, and the JSON the pages read from the cluster
//! (economy, a wallet's balances, access plans) and the relay that sends a wallet-signed transaction.
//!
//! How a member proves who they are: the platform (which knows its logged-in member) asks
//! `POST /v1/members/{id}/web-session` with its API key (scope `wallets`) and sends the member to the
//! returned `url`; the session token rides in the URL fragment (never sent to a server, never in
//! logs), the page keeps it in `sessionStorage` and sends it as `X-Member-Session` to the two
//! binding routes. A token lives `SESSION_TTL_SECS`, is held in memory only (a restart ends every
//! session) and lets its holder do one thing: bind a wallet (with that wallet's signature) to that
//! member.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::transaction::VersionedTransaction;

use super::error::{ApiError, ErrorBody};
use super::extract::{scope, Authorized, JsonBody};
use super::members::member_not_found;
use super::views;
use super::wire::{BindWallet, Challenge, ChallengeQuery, MemberView};
use super::AppState;
use crate::chain::rpc::RpcChain;
use crate::member_tx::TxError;
use crate::{ingest, wallet};

/// How long a member session lives.
pub const SESSION_TTL_SECS: i64 = 15 * 60;
/// Sessions held at once (the oldest expired ones are dropped first; over it, new ones are refused).
pub const MAX_SESSIONS: usize = 10_000;
/// A signed transaction is at most one packet.
const MAX_TX_BYTES: usize = 1232;

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
pub(super) const ICON_SVG: &str = include_str!("../../web/icon.svg");

/// The page's Content-Security-Policy: nothing but this origin's own script, style and JSON.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The web app's state: member sessions and the cluster connection.
#[derive(Default)]
pub struct WebState {
    sessions: Mutex<HashMap<String, Session>>,
    cluster: OnceLock<Option<Cluster>>,
    blockchain_id: tokio::sync::OnceCell<String>,
}

#[derive(Clone)]
struct Session {
    member: String,
    expires_at: i64,
}

pub(super) struct Cluster {
    pub chain: RpcChain,
    pub rpc: RpcClient,
}

impl AppState {
    /// The cluster the pages read and send to: `chain.rpc_url` (`serve --local` sets it to its
    /// own JSON-RPC endpoint); `None` when unset.
    pub(super) fn cluster(&self) -> Option<&Cluster> {
        self.web()
            .cluster
            .get_or_init(|| {
                let url = self.config().chain.rpc_url.as_deref()?;
                let commitment = match self.config().chain.commitment.as_str() {
                    "processed" => CommitmentConfig::processed(),
                    "finalized" => CommitmentConfig::finalized(),
                    _ => CommitmentConfig::confirmed(),
                };
                Some(Cluster {
                    chain: RpcChain::new(url, commitment, Default::default()),
                    rpc: RpcClient::new_with_commitment(url.to_owned(), commitment),
                })
            })
            .as_ref()
    }

    pub(super) fn cluster_or_503(&self) -> Result<&Cluster, ApiError> {
        self.cluster().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_cluster",
                "this service has no cluster (set chain.rpc_url, or run serve --local)",
            )
        })
    }

    /// The CAIP-2 id of the cluster (`solana:` + the first 32 characters of its genesis hash).
    pub(super) async fn blockchain_id(&self) -> Result<String, ApiError> {
        let c = self.cluster_or_503()?;
        self.web()
            .blockchain_id
            .get_or_try_init(|| async {
                let h = c.rpc.get_genesis_hash().await.map_err(|e| {
                    tracing::warn!(error = %e, "getGenesisHash");
                    cluster_unavailable()
                })?;
                let s = h.to_string();
                Ok::<_, ApiError>(format!("solana:{}", &s[..s.len().min(32)]))
            })
            .await
            .cloned()
    }
}

fn cluster_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "cluster_unavailable",
        "the cluster did not answer",
    )
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::NotInitialized => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_initialized",
                e.to_string(),
            ),
            TxError::Invalid(m) => ApiError::bad_request("invalid_request", m),
            TxError::Chain(e) => {
                tracing::warn!(error = %e, "cluster read");
                cluster_unavailable()
            }
        }
    }
}

/// The page, its assets and the page-less routes (sessions with a platform key).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/assets/icon.svg", get(icon_svg))
        .route("/v1/members/{id}/web-session", post(create_session))
        .route("/v1/session", get(get_session))
        .route("/v1/session/wallet/challenge", get(session_challenge))
        .route("/v1/session/wallet", post(session_bind))
}

/// The public reads of the pages (rate-limited per client address by the caller).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/v1/economy", get(views::economy))
        .route("/v1/wallets/{wallet}/state", get(views::wallet_state))
        .route("/v1/access/plans", get(views::plans))
        .route("/v1/tx/send", post(send_tx))
        .route("/v1/epochs/{n}/attestations", get(attestations))
}

/// `ru` or `en`: the first of them in `Accept-Language` by quality (English when neither).
pub fn language(headers: &HeaderMap) -> &'static str {
    let Some(v) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return "en";
    };
    let mut best: (&'static str, f32) = ("en", -1.0);
    for part in v.split(',').take(32) {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = match tag.split('-').next() {
            Some("ru") => "ru",
            Some("en") => "en",
            _ => continue,
        };
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

fn page_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 5] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ]
}

async fn index(headers: HeaderMap) -> Response {
    let lang = language(&headers);
    let html = INDEX_HTML.replacen("<html lang=\"en\">", &format!("<html lang=\"{lang}\">"), 1);
    let mut resp = (page_headers("text/html; charset=utf-8"), html).into_response();
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    resp
}

async fn app_js() -> Response {
    (page_headers("text/javascript; charset=utf-8"), APP_JS).into_response()
}

async fn app_css() -> Response {
    (page_headers("text/css; charset=utf-8"), APP_CSS).into_response()
}

async fn icon_svg() -> Response {
    (page_headers("image/svg+xml"), ICON_SVG).into_response()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebSession {
    pub member: String,
    /// Send as `X-Member-Session`; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub expires_at: String,
    /// Where to send the member: the page, with the token in the fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Issues a member session for the web app (the platform vouches that its user is this member).
#[utoipa::path(post, path = "/v1/members/{id}/web-session", tag = "web",
    params(("id" = String, Path)), security(("api_key" = [])),
    responses(
        (status = 200, description = "The session: send the member to `url`", body = WebSession),
        (status = 404, body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `wallets` scope", body = ErrorBody),
        (status = 503, description = "too_many_sessions", body = ErrorBody),
    ))]
pub(super) async fn create_session(
    State(st): State<AppState>,
    _key: Authorized<scope::Wallets>,
    Path(id): Path<String>,
) -> Result<Json<WebSession>, ApiError> {
    if ingest::check_id(&id).is_err() || st.store().member(&id).await?.is_none() {
        return Err(member_not_found());
    }
    let now = crate::store::now_unix();
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let token = hex::encode(b);
    let expires_at = now + SESSION_TTL_SECS;
    {
        let mut sessions = st.web().sessions.lock().expect("sessions lock");
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires_at > now);
        }
        if sessions.len() >= MAX_SESSIONS {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_sessions",
                "too many open sessions; try again later",
            ));
        }
        sessions.insert(
            token.clone(),
            Session {
                member: id.clone(),
                expires_at,
            },
        );
    }
    Ok(Json(WebSession {
        url: Some(format!("/?member={}#session={token}", urlencode_id(&id))),
        member: id,
        token: Some(token),
        expires_at: wallet::rfc3339(expires_at),
    }))
}

/// Member ids are `[A-Za-z0-9._:-]`-like (see `ingest::check_id`); anything else is escaped.
fn urlencode_id(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The member of a valid `X-Member-Session`.
pub struct MemberSession(String, i64);

impl FromRequestParts<AppState> for MemberSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get("x-member-session")
            .and_then(|v| v.to_str().ok())
            .filter(|t| t.len() == 64)
            .ok_or_else(|| ApiError::unauthorized("missing or malformed X-Member-Session"))?;
        let now = crate::store::now_unix();
        let mut sessions = st.web().sessions.lock().expect("sessions lock");
        match sessions.get(token) {
            Some(s) if s.expires_at > now => Ok(MemberSession(s.member.clone(), s.expires_at)),
            Some(_) => {
                sessions.remove(token);
                Err(ApiError::unauthorized("the session has expired"))
            }
            None => Err(ApiError::unauthorized("unknown session")),
        }
    }
}

/// The member of the session (`X-Member-Session`).
#[utoipa::path(get, path = "/v1/session", tag = "web",
    params(("X-Member-Session" = String, Header)),
    responses((status = 200, body = WebSession), (status = 401, body = ErrorBody)))]
pub(super) async fn get_session(s: MemberSession) -> Json<WebSession> {
    Json(WebSession {
        member: s.0,
        token: None,
        expires_at: wallet::rfc3339(s.1),
        url: None,
    })
}

/// A wallet binding challenge for the session's member.
#[utoipa::path(get, path = "/v1/session/wallet/challenge", tag = "web",
    params(("X-Member-Session" = String, Header), ChallengeQuery),
    responses((status = 200, body = Challenge), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub(super) async fn session_challenge(
    State(st): State<AppState>,
    s: MemberSession,
    Query(q): Query<ChallengeQuery>,
) -> Result<Json<Challenge>, ApiError> {
    let now = crate::store::now_unix();
    let ttl = st.config().wallet.challenge_ttl_secs;
    let ch = wallet::issue_challenge(st.store(), &s.0, &q.wallet, now, ttl).await?;
    Ok(Json(ch.into()))
}

/// Binds a wallet to the session's member with the signed challenge.
#[utoipa::path(post, path = "/v1/session/wallet", tag = "web",
    params(("X-Member-Session" = String, Header)), request_body = BindWallet,
    responses((status = 200, body = MemberView),
        (status = 400, description = "invalid_wallet, unknown_challenge, wallet_mismatch, invalid_signature", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "challenge_used or wallet_in_use", body = ErrorBody),
        (status = 410, description = "challenge_expired", body = ErrorBody)))]
pub(super) async fn session_bind(
    State(st): State<AppState>,
    s: MemberSession,
    JsonBody(body): JsonBody<BindWallet>,
) -> Result<Json<MemberView>, ApiError> {
    let now = crate::store::now_unix();
    let m = wallet::bind(
        st.store(),
        &s.0,
        &body.wallet,
        &body.nonce,
        &body.signature,
        now,
    )
    .await?;
    Ok(Json(m.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SendTx {
    /// Base64 of the signed transaction.
    transaction: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sent {
    signature: String,
}

/// Relays a wallet-signed transaction of the STK program to the cluster and waits for it.
#[utoipa::path(post, path = "/v1/tx/send", tag = "web", request_body = SendTx,
    responses((status = 200, body = Sent),
        (status = 400, description = "invalid_transaction", body = ErrorBody),
        (status = 422, description = "transaction_failed: the cluster refused it", body = ErrorBody),
        (status = 503, description = "no_cluster", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody)))]
pub(super) async fn send_tx(
    State(st): State<AppState>,
    JsonBody(body): JsonBody<SendTx>,
) -> Result<Json<Sent>, ApiError> {
    use base64::Engine as _;
    if body.transaction.len() > MAX_TX_BYTES * 4 / 3 + 4 {
        return Err(ApiError::bad_request(
            "invalid_transaction",
            "transaction too large",
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&body.transaction)
        .map_err(|_| ApiError::bad_request("invalid_transaction", "not base64"))?;
    let tx: VersionedTransaction = bincode::deserialize(&bytes)
        .map_err(|_| ApiError::bad_request("invalid_transaction", "not a transaction"))?;
    if !tx.message.static_account_keys().contains(&stk::ID) {
        return Err(ApiError::bad_request(
            "invalid_transaction",
            "only transactions of the STK program are relayed",
        ));
    }
    if tx.verify_with_results().iter().any(|ok| !ok) {
        return Err(ApiError::bad_request(
            "invalid_transaction",
            "the transaction is not fully signed",
        ));
    }
    let c = st.cluster_or_503()?;
    match c.rpc.send_and_confirm_transaction(&tx).await {
        Ok(sig) => Ok(Json(Sent {
            signature: sig.to_string(),
        })),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "transaction_failed",
            e.to_string(),
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Attestations {
    epoch: u64,
    /// Root of the allocation tree (hex); `null` until the epoch is scored with someone paid.
    root: Option<String>,
    total_amount: Option<u64>,
    recipient_count: Option<u32>,
    /// The epoch's account on chain; `null` before the first attestation (or with no cluster).
    chain: Option<ChainEpoch>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChainEpoch {
    threshold: u8,
    oracles: Vec<OracleApproval>,
    finalized: bool,
    finalized_at: Option<i64>,
    distributed_amount: u64,
    distributed_chunks: u32,
    chunk_count: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OracleApproval {
    oracle: String,
    approved: bool,
}

/// The epoch's root and which oracles attested it on chain.
#[utoipa::path(get, path = "/v1/epochs/{n}/attestations", tag = "web",
    params(("n" = u64, Path)),
    responses((status = 200, body = Attestations),
        (status = 502, description = "cluster_unavailable", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody)))]
pub(super) async fn attestations(
    State(st): State<AppState>,
    Path(n): Path<u64>,
) -> Result<Json<Attestations>, ApiError> {
    let plan = st.store().epoch_plan(n).await?;
    let mut out = Attestations {
        epoch: n,
        root: plan.as_ref().map(|p| hex::encode(p.root)),
        total_amount: plan.as_ref().map(|p| p.total_amount),
        recipient_count: plan.as_ref().map(|p| p.recipient_count),
        chain: None,
    };
    if let (Some(plan), Some(c)) = (plan, st.cluster()) {
        let read = async {
            let config = crate::chain::ops::config(&c.chain).await?;
            let epoch = crate::chain::ops::epoch(&c.chain, n, &plan.root).await?;
            Ok::<_, crate::chain::ChainError>((config, epoch))
        };
        match read.await {
            Ok((Some(config), Some(e))) => {
                out.chain = Some(ChainEpoch {
                    threshold: config.threshold,
                    oracles: config.oracles[..config.oracle_count as usize]
                        .iter()
                        .enumerate()
                        .map(|(i, o)| OracleApproval {
                            oracle: o.to_string(),
                            approved: e.approvals & (1 << i) != 0,
                        })
                        .collect(),
                    finalized: e.finalized,
                    finalized_at: e.finalized.then_some(e.finalized_at),
                    distributed_amount: e.distributed_amount,
                    distributed_chunks: e.distributed_chunks,
                    chunk_count: e.chunk_count,
                })
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "epoch account");
                return Err(cluster_unavailable());
            }
        }
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_by_quality() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
            language(&m)
        };
        assert_eq!(h("ru-RU,ru;q=0.9,en;q=0.8"), "ru");
        assert_eq!(h("en-US,en;q=0.9,ru;q=0.8"), "en");
        assert_eq!(h("de, ru;q=0.5, en;q=0.4"), "ru");
        assert_eq!(h("fr"), "en");
        assert_eq!(language(&HeaderMap::new()), "en");
    }
}
