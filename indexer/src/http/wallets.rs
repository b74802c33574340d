//! Wallet binding: challenge, then signed proof. The checks live in [`crate::wallet`]; this module
//! maps their errors to HTTP.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ErrorBody};
use super::extract::{scope, Authorized, JsonBody};
use super::members::member_not_found;
use super::wire::{BindWallet, Challenge, ChallengeQuery, MemberView};
use super::AppState;
use crate::wallet::{self, BindError, ChallengeError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{id}/wallet/challenge", get(wallet_challenge))
        .route("/v1/members/{id}/wallet", post(bind_wallet))
}

/// Issues a single-use wallet binding challenge.
#[utoipa::path(get, path = "/v1/members/{id}/wallet/challenge", tag = "wallets",
    params(("id" = String, Path), ChallengeQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = Challenge),
        (status = 400, description = "Invalid wallet", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `wallets` scope", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),
    ))]
pub(super) async fn wallet_challenge(
    State(st): State<AppState>,
    _key: Authorized<scope::Wallets>,
    Path(id): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Json<Challenge>, ApiError> {
    let now = crate::store::now_unix();
    let ttl = st.config().wallet.challenge_ttl_secs;
    let ch = wallet::issue_challenge(st.store(), &id, &q.wallet, now, ttl).await?;
    Ok(Json(ch.into()))
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
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks the `wallets` scope", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody),
    ))]
pub(super) async fn bind_wallet(
    State(st): State<AppState>,
    _key: Authorized<scope::Wallets>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<BindWallet>,
) -> Result<Json<MemberView>, ApiError> {
    let now = crate::store::now_unix();
    let m = wallet::bind(
        st.store(),
        &id,
        &body.wallet,
        &body.nonce,
        &body.signature,
        now,
    )
    .await?;
    Ok(Json(m.into()))
}

impl From<ChallengeError> for ApiError {
    fn from(e: ChallengeError) -> Self {
        match e {
            ChallengeError::UnknownMember => member_not_found(),
            ChallengeError::InvalidWallet(_) => {
                ApiError::bad_request("invalid_wallet", e.to_string())
            }
            ChallengeError::Store(e) => e.into(),
        }
    }
}

impl From<BindError> for ApiError {
    fn from(e: BindError) -> Self {
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
    }
}
