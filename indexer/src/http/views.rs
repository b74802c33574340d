//! The chain's state as the pages read it: the economy, a wallet's standing, the access plans.
use axum::extract::{Path, State};
use axum::Json;
use solana_sdk::pubkey::Pubkey;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::{limits, member_tx};

/// The economy as the program's accounts state it.
#[utoipa::path(get, path = "/v1/economy", tag = "web",
    responses((status = 200, body = member_tx::Economy),
        (status = 503, description = "no_cluster, not_initialized", body = ErrorBody),
        (status = 502, description = "cluster_unavailable", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody)))]
pub(super) async fn economy(
    State(st): State<AppState>,
) -> Result<Json<member_tx::Economy>, ApiError> {
    let c = st.cluster_or_503()?;
    Ok(Json(member_tx::economy(&c.chain).await?))
}

pub(super) fn parse_wallet(w: &str) -> Result<Pubkey, ApiError> {
    if w.len() > limits::MAX_WALLET_CHARS {
        return Err(ApiError::bad_request(
            "invalid_wallet",
            "not a wallet address",
        ));
    }
    w.parse()
        .map_err(|_| ApiError::bad_request("invalid_wallet", "not a wallet address"))
}

/// A wallet's balances and standing with the program.
#[utoipa::path(get, path = "/v1/wallets/{wallet}/state", tag = "web",
    params(("wallet" = String, Path)),
    responses((status = 200, body = member_tx::WalletState),
        (status = 400, description = "invalid_wallet", body = ErrorBody),
        (status = 503, description = "no_cluster, not_initialized", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody)))]
pub(super) async fn wallet_state(
    State(st): State<AppState>,
    Path(w): Path<String>,
) -> Result<Json<member_tx::WalletState>, ApiError> {
    let wallet = parse_wallet(&w)?;
    let c = st.cluster_or_503()?;
    Ok(Json(member_tx::wallet_state(&c.chain, wallet).await?))
}

/// The active access plans as the chain holds them, priced in STK at the current floor.
#[utoipa::path(get, path = "/v1/access/plans", tag = "web",
    responses((status = 200, body = member_tx::PlanList),
        (status = 503, description = "no_cluster, not_initialized", body = ErrorBody),
        (status = 502, description = "cluster_unavailable", body = ErrorBody),
        (status = 429, description = "rate_limited (Retry-After)", body = ErrorBody)))]
pub(super) async fn plans(
    State(st): State<AppState>,
) -> Result<Json<member_tx::PlanList>, ApiError> {
    let c = st.cluster_or_503()?;
    let mut list = member_tx::plans(&c.chain).await?;
    list.plans.retain(|p| p.active);
    Ok(Json(list))
}
