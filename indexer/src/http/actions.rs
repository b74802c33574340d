//! Solana Actions: `GET /actions.json` and, under `/api/actions/`, `place-order` and
//! `claim-order` (pro-rata tender windows), `pay-access` and `buy-premium`. `GET` answers the action's metadata, `POST {"account"}` a base64 v0 transaction
//! (built with the program crate's builders, paid by `account`, unsigned) and a message; `OPTIONS`
//! is the CORS preflight. Every answer carries `Access-Control-Allow-Origin: *`, `X-Action-Version`
//! and `X-Blockchain-Ids` (the cluster's CAIP-2 id, from its genesis hash); errors are JSON with a
//! `message`.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stk::constants::STK_DECIMALS;

use super::error::ApiError;
use super::extract::JsonBody;
use super::views::parse_wallet;
use super::AppState;
use crate::chain::Chain;
use crate::member_tx::{self, fmt_amount, parse_amount, unsigned_v0};

/// The version of the Actions specification these endpoints follow.
pub const ACTION_VERSION: &str = "2.4";
const ALLOW_HEADERS: &str = "Content-Type, Authorization, Content-Encoding, Accept-Encoding, \
X-Accept-Action-Version, X-Accept-Blockchain-Ids";
/// Longest query value accepted (amounts, references).
const MAX_PARAM_CHARS: usize = 80;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/actions.json", get(actions_json).options(preflight))
        .route(
            "/api/actions/place-order",
            get(place_order_get)
                .post(place_order_post)
                .options(preflight),
        )
        .route(
            "/api/actions/claim-order",
            get(claim_order_get)
                .post(claim_order_post)
                .options(preflight),
        )
        .route(
            "/api/actions/pay-access",
            get(pay_access_get).post(pay_access_post).options(preflight),
        )
        .route(
            "/api/actions/buy-premium",
            get(buy_premium_get)
                .post(buy_premium_post)
                .options(preflight),
        )
        .layer(axum::middleware::from_fn_with_state(state, action_headers))
}

/// Adds the CORS and Actions headers to every answer (errors included).
async fn action_headers(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST,PUT,OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Action-Version, X-Blockchain-Ids"),
    );
    h.insert("x-action-version", HeaderValue::from_static(ACTION_VERSION));
    if let Ok(id) = st.blockchain_id().await {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-blockchain-ids", v);
        }
    }
    resp
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn actions_json() -> Json<Value> {
    Json(json!({
        "rules": [
            { "pathPattern": "/api/actions/**", "apiPath": "/api/actions/**" },
        ]
    }))
}

/// This service's origin as the client reached it (for the absolute icon URL).
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

#[derive(Serialize)]
struct ActionGet {
    #[serde(rename = "type")]
    kind: &'static str,
    icon: String,
    title: String,
    description: String,
    label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
    links: Links,
}

#[derive(Serialize)]
struct Links {
    actions: Vec<LinkedAction>,
}

#[derive(Serialize)]
struct LinkedAction {
    #[serde(rename = "type")]
    kind: &'static str,
    label: String,
    href: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parameters: Vec<Value>,
}

fn param(kind: &str, name: &str, label: &str, required: bool) -> Value {
    json!({ "type": kind, "name": name, "label": label, "required": required })
}

async fn pay_access_get(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ActionGet>, ApiError> {
    let c = st.cluster_or_503()?;
    let list = member_tx::plans(&c.chain).await?;
    let q = |v| fmt_amount(v, list.quote_decimals);
    let actions: Vec<LinkedAction> = list
        .plans
        .iter()
        .filter(|p| p.active)
        .filter_map(|p| {
            let price = p.price?;
            Some(LinkedAction {
                kind: "transaction",
                label: format!(
                    "{} days: {} STK (fiat {}, -{}%)",
                    p.days,
                    fmt_amount(price, STK_DECIMALS),
                    q(p.fiat_price),
                    fmt_amount(u64::from(p.discount_bps), 2)
                ),
                href: format!(
                    "/api/actions/pay-access?plan={}&reference={{reference}}&slippage={{slippage}}",
                    p.id
                ),
                parameters: vec![
                    param("text", "reference", "Order reference", false),
                    param("number", "slippage", "Slippage, % (default 1)", false),
                ],
            })
        })
        .collect();
    let description = match list.floor_price {
        Some(f) => format!(
            "Pay for platform access in STK, below the fiat price: the plan's fiat price less its \
             discount, converted at the floor ({} quote per STK); the STK is burned.",
            q(f)
        ),
        None => "No floor yet: access cannot be paid in STK.".into(),
    };
    Ok(Json(ActionGet {
        kind: "action",
        icon: format!("{}/assets/icon.svg", origin(&headers)),
        title: "SysTok: pay for access".into(),
        description,
        label: "Pay".into(),
        disabled: actions.is_empty().then_some(true),
        links: Links { actions },
    }))
}

async fn buy_premium_get(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ActionGet>, ApiError> {
    let c = st.cluster_or_503()?;
    let e = member_tx::economy(&c.chain).await?;
    let q = |v| fmt_amount(v, e.quote_decimals);
    Ok(Json(ActionGet {
        kind: "action",
        icon: format!("{}/assets/icon.svg", origin(&headers)),
        title: "SysTok: buy STK at the premium".into(),
        description: format!(
            "Newly minted STK at {} quote per STK ({} bps of the floor, {} quote); {}% of each purchase goes to the buyback vault so the floor does not fall, the rest to the treasury; {} STK left for investors.{}",
            q(e.premium_price),
            e.premium_bps,
            q(e.floor_price),
            fmt_amount(e.premium_vault_share_bps, 2),
            fmt_amount(e.investor_allocation_remaining, STK_DECIMALS),
            if e.investor_allowlist { " Allowlisted wallets only." } else { "" }
        ),
        label: "Buy".into(),
        disabled: (e.investor_allocation_remaining == 0 || e.premium_price == 0).then_some(true),
        links: Links {
            actions: vec![LinkedAction {
                kind: "transaction",
                label: "Buy".into(),
                href: "/api/actions/buy-premium?amount={amount}&slippage={slippage}".into(),
                parameters: vec![
                    param("number", "amount", "STK to buy", true),
                    param("number", "slippage", "Slippage, % (default 1)", false),
                ],
            }],
        },
    }))
}

#[derive(Deserialize)]
pub struct PostBody {
    account: String,
}

#[derive(Deserialize, Default)]
pub struct AmountQuery {
    amount: Option<String>,
    slippage: Option<String>,
    /// buy-premium: the most quote (base units) to pay, instead of a slippage.
    max_quote_in: Option<u64>,
}

#[derive(Deserialize, Default)]
pub struct PlanQuery {
    plan: Option<u32>,
    reference: Option<String>,
    slippage: Option<String>,
}

#[derive(Serialize)]
pub struct ActionPost {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Base64 of the unsigned v0 transaction.
    transaction: String,
    message: String,
}

fn bounded(v: &Option<String>, what: &str) -> Result<(), ApiError> {
    match v {
        Some(s) if s.len() > MAX_PARAM_CHARS => Err(ApiError::bad_request(
            "invalid_request",
            format!("{what} is too long"),
        )),
        _ => Ok(()),
    }
}

fn stk_amount(q: &AmountQuery) -> Result<u64, ApiError> {
    bounded(&q.amount, "amount")?;
    let s = q
        .amount
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("invalid_request", "amount is required"))?;
    parse_amount(s.trim(), STK_DECIMALS)
        .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))
}

fn slippage_bps(q: &AmountQuery) -> Result<u64, ApiError> {
    bounded(&q.slippage, "slippage")?;
    match q
        .slippage
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Ok(100),
        Some(s) => parse_amount(s, 2)
            .map_err(|e| ApiError::bad_request("invalid_request", format!("slippage: {e}"))),
    }
}

async fn transaction(
    st: &AppState,
    payer: &solana_sdk::pubkey::Pubkey,
    ixs: &[solana_sdk::instruction::Instruction],
) -> Result<String, ApiError> {
    use base64::Engine as _;
    let c = st.cluster_or_503()?;
    let blockhash = c.rpc.get_latest_blockhash().await.map_err(|e| {
        tracing::warn!(error = %e, "getLatestBlockhash");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cluster_unavailable",
            "the cluster did not answer",
        )
    })?;
    let tx = unsigned_v0(payer, ixs, blockhash)?;
    let bytes = bincode::serialize(&tx).map_err(|_| ApiError::internal())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[derive(Deserialize, Default)]
pub struct OrderQuery {
    amount: Option<String>,
    /// The tender window (default: the last announced one).
    window: Option<u64>,
}

/// The window an order action is about: `window`, or the last announced one.
async fn order_window(
    c: &super::web::Cluster,
    window: Option<u64>,
) -> Result<(u64, stk::state::TenderWindow), ApiError> {
    let none = || ApiError::bad_request("no_window", "no tender window has been announced");
    let id = match window {
        Some(w) => w,
        None => {
            let config = ops_config(c).await?;
            if config.tender_window_count == 0 {
                return Err(none());
            }
            config.tender_window_count
        }
    };
    let w = member_tx::tender_window(&c.chain, id)
        .await?
        .ok_or_else(none)?;
    Ok((id, w))
}

async fn ops_config(c: &super::web::Cluster) -> Result<stk::state::Config, ApiError> {
    crate::chain::ops::config(&c.chain)
        .await
        .map_err(member_tx::TxError::from)?
        .ok_or_else(|| member_tx::TxError::NotInitialized.into())
}

async fn place_order_get(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<ActionGet>, ApiError> {
    let c = st.cluster_or_503()?;
    let e = member_tx::economy(&c.chain).await?;
    let q = |v| fmt_amount(v, e.quote_decimals);
    let now = c
        .chain
        .unix_time()
        .await
        .map_err(member_tx::TxError::from)?;
    let (description, open) = match order_window(c, None).await {
        Ok((id, w)) => {
            let open = !w.settled && now >= w.opens_at && now < w.closes_at;
            (
                format!(
                    "Tender window #{id}: {} quote per STK, {} quote of capacity, orders from unix {} to {}; {} STK requested so far. Every order is filled at the same ratio, whenever it was sent.",
                    q(w.price), q(w.capacity), w.opens_at, w.closes_at, fmt_amount(w.requested, STK_DECIMALS)
                ),
                open,
            )
        }
        Err(_) => ("No tender window has been announced.".to_owned(), false),
    };
    Ok(Json(ActionGet {
        kind: "action",
        icon: format!("{}/assets/icon.svg", origin(&headers)),
        title: "SysTok: place an order in the tender window".into(),
        description,
        label: "Place an order".into(),
        disabled: (!open).then_some(true),
        links: Links {
            actions: vec![LinkedAction {
                kind: "transaction",
                label: "Place an order".into(),
                href: "/api/actions/place-order?amount={amount}".into(),
                parameters: vec![param("number", "amount", "STK to offer", true)],
            }],
        },
    }))
}

async fn place_order_post(
    State(st): State<AppState>,
    Query(q): Query<OrderQuery>,
    JsonBody(body): JsonBody<PostBody>,
) -> Result<Json<ActionPost>, ApiError> {
    let account = parse_wallet(&body.account)?;
    bounded(&q.amount, "amount")?;
    let amount = parse_amount(
        q.amount
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("invalid_request", "amount is required"))?
            .trim(),
        STK_DECIMALS,
    )
    .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let c = st.cluster_or_503()?;
    let (id, _) = order_window(c, q.window).await?;
    let ixs = member_tx::place_order(&c.chain, account, id, amount).await?;
    let transaction = transaction(&st, &account, &ixs).await?;
    Ok(Json(ActionPost {
        kind: "transaction",
        transaction,
        message: format!(
            "Offer {} STK in tender window #{id} (escrowed until your claim).",
            fmt_amount(amount, STK_DECIMALS)
        ),
    }))
}

async fn claim_order_get(headers: HeaderMap) -> Json<ActionGet> {
    Json(ActionGet {
        kind: "action",
        icon: format!("{}/assets/icon.svg", origin(&headers)),
        title: "SysTok: claim your tender order".into(),
        description: "After the window is settled: quote for the filled part, the rest of your STK back, the order's rent back.".into(),
        label: "Claim".into(),
        disabled: None,
        links: Links {
            actions: vec![LinkedAction {
                kind: "transaction",
                label: "Claim".into(),
                href: "/api/actions/claim-order".into(),
                parameters: vec![],
            }],
        },
    })
}

async fn claim_order_post(
    State(st): State<AppState>,
    Query(q): Query<OrderQuery>,
    JsonBody(body): JsonBody<PostBody>,
) -> Result<Json<ActionPost>, ApiError> {
    let account = parse_wallet(&body.account)?;
    let c = st.cluster_or_503()?;
    let e = member_tx::economy(&c.chain).await?;
    let (id, _) = order_window(c, q.window).await?;
    let claim = member_tx::claim_order(&c.chain, account, id).await?;
    let transaction = transaction(&st, &account, &claim.ixs).await?;
    Ok(Json(ActionPost {
        kind: "transaction",
        transaction,
        message: format!(
            "Claim window #{id}: {} STK sold for {} quote, {} STK back.",
            fmt_amount(claim.claim.filled_stk, STK_DECIMALS),
            fmt_amount(claim.claim.quote, e.quote_decimals),
            fmt_amount(claim.claim.returned_stk, STK_DECIMALS)
        ),
    }))
}

async fn pay_access_post(
    State(st): State<AppState>,
    Query(q): Query<PlanQuery>,
    JsonBody(body): JsonBody<PostBody>,
) -> Result<Json<ActionPost>, ApiError> {
    let account = parse_wallet(&body.account)?;
    bounded(&q.reference, "reference")?;
    let plan = q
        .plan
        .ok_or_else(|| ApiError::bad_request("invalid_request", "plan is required"))?;
    let slippage = slippage_bps(&AmountQuery {
        slippage: q.slippage.clone().filter(|s| s != "{slippage}"),
        ..Default::default()
    })?;
    let reference_text = q
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != "{reference}")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{account}:{plan}:{}", crate::store::now_unix()));
    let reference = member_tx::reference_bytes(&reference_text);
    let c = st.cluster_or_503()?;
    let p = member_tx::pay_access(&c.chain, account, plan, slippage, reference).await?;
    let transaction = transaction(&st, &account, &p.ixs).await?;
    Ok(Json(ActionPost {
        kind: "transaction",
        transaction,
        message: format!(
            "Pay {} STK (at most {}) for {} days of access (plan {}, reference {}).",
            fmt_amount(p.price, STK_DECIMALS),
            fmt_amount(p.max_stk_in, STK_DECIMALS),
            p.plan.days,
            p.plan.id,
            hex::encode(reference)
        ),
    }))
}

async fn buy_premium_post(
    State(st): State<AppState>,
    Query(q): Query<AmountQuery>,
    JsonBody(body): JsonBody<PostBody>,
) -> Result<Json<ActionPost>, ApiError> {
    let account = parse_wallet(&body.account)?;
    let amount = stk_amount(&q)?;
    let slippage = slippage_bps(&q)?;
    let c = st.cluster_or_503()?;
    let e = member_tx::economy(&c.chain).await?;
    let b = member_tx::buy_premium(&c.chain, account, amount, slippage, q.max_quote_in).await?;
    if let Some(max) = q.max_quote_in {
        if max < b.quote.paid {
            return Err(ApiError::bad_request(
                "price_above_maximum",
                format!(
                    "{} STK cost {} quote now, above your maximum {}",
                    fmt_amount(amount, STK_DECIMALS),
                    fmt_amount(b.quote.paid, e.quote_decimals),
                    fmt_amount(max, e.quote_decimals)
                ),
            ));
        }
    }
    let transaction = transaction(&st, &account, &b.ixs).await?;
    Ok(Json(ActionPost {
        kind: "transaction",
        transaction,
        message: format!(
            "Buy {} STK for {} quote (at most {}): {} to the vault, {} to the treasury.",
            fmt_amount(amount, STK_DECIMALS),
            fmt_amount(b.quote.paid, e.quote_decimals),
            fmt_amount(b.max_quote_in, e.quote_decimals),
            fmt_amount(b.quote.to_vault, e.quote_decimals),
            fmt_amount(b.quote.to_treasury, e.quote_decimals)
        ),
    }))
}
