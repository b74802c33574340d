//! The web app and the Solana Actions over real HTTP, against the in-process chain through the
//! project's JSON-RPC endpoint (what `serve --local` runs): the page and its headers, member
//! sessions and wallet binding, the economy read from chain, the epochs' attestations, and the
//! Actions (metadata, CORS, errors) whose transactions a wallet key signs and the service relays —
//! then the balances are checked on chain.

mod common;

use base64::{prelude::BASE64_STANDARD, Engine};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use solana_sdk::{
    pubkey::Pubkey, signature::Keypair, signer::Signer, transaction::VersionedTransaction,
};
use stk::client;
use stk_indexer::{
    chain::{ops, rpc_server::RpcServer, Chain},
    http::{AppState, Server},
};
use tokio_util::sync::CancellationToken;

use common::world::{finish, world, World, WorldOptions};

const SOL: u64 = 1_000_000_000;
const STK: u64 = 1_000_000;
const USDC: u64 = 1_000_000;

/// A world with epoch 0 paid, its chain behind a JSON-RPC endpoint, and a second server (the web
/// app's) that reads and sends through that endpoint.
pub struct Web {
    pub w: World,
    pub _node: RpcServer,
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    _server: Server,
}

pub async fn web(members: usize) -> Web {
    let w = world(WorldOptions::new(members)).await;
    finish(&w, 0).await;
    let node = RpcServer::start(w.economy.chain.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut known: Vec<Pubkey> = w.members.iter().map(|(_, k)| k.pubkey()).collect();
    known.extend([
        w.economy.admin.pubkey(),
        w.economy.payer.pubkey(),
        w.economy.quote_mint,
    ]);
    w.economy.chain.note_accounts(&known);
    let mut cfg = (*w.pipeline.cfg).clone();
    cfg.chain.rpc_url = Some(node.url.clone());
    cfg.chain.commitment = "processed".into();
    let rules = w.pipeline.rules.clone();
    let state = AppState::new(w.store.clone(), cfg.clone(), rules);
    let server = Server::start(cfg.server.listen, state, CancellationToken::new())
        .await
        .unwrap();
    let key = stk_indexer::auth::create_key(&w.store, "web-platform")
        .await
        .unwrap()
        .unwrap()
        .key;
    // Every member pays its own fees.
    for (_, k) in &w.members {
        let pk = k.pubkey();
        w.economy
            .chain
            .with(async |c| c.airdrop(&pk, 2 * SOL).await.unwrap())
            .await;
    }
    Web {
        base: format!("http://{}", server.addr),
        w,
        _node: node,
        key,
        http: reqwest::Client::new(),
        _server: server,
    }
}

pub struct R {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Web {
    pub async fn req(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> R {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        R {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }
    pub async fn get(&self, path: &str) -> R {
        self.req(Method::GET, path, &[], None).await
    }
    pub fn chain(&self) -> &dyn Chain {
        self.w.chain()
    }
    pub async fn stk_of(&self, wallet: &Pubkey) -> u64 {
        ops::token_balance(self.chain(), &client::stk_ata(wallet))
            .await
            .unwrap()
    }
    pub async fn quote_of(&self, wallet: &Pubkey) -> u64 {
        let ata = anchor_spl::associated_token::get_associated_token_address(
            wallet,
            &self.w.economy.quote_mint,
        );
        ops::token_balance(self.chain(), &ata).await.unwrap()
    }
    /// Fills the vault with `amount` quote and opens a sell-back window.
    pub async fn open_window(&self, amount: u64, price: u64, per_member_cap: u64) {
        let admin = self.w.economy.admin.clone();
        let source = self
            .w
            .economy
            .fund_quote(&admin.pubkey(), amount)
            .await
            .unwrap();
        let ixs = [
            client::deposit_revenue(admin.pubkey(), source, amount),
            client::open_buyback_window(
                admin.pubkey(),
                stk::OpenBuybackWindowArgs {
                    price,
                    capacity: amount,
                    per_member_cap,
                    duration_secs: 3600,
                },
            ),
        ];
        self.chain().send(&ixs, &[&admin], &[]).await.unwrap();
    }
    /// Signs an Actions transaction with `signer` (the fee payer) and sends it through `/v1/tx/send`.
    pub async fn sign_and_relay(&self, b64: &str, signer: &Keypair) -> R {
        let bytes = BASE64_STANDARD.decode(b64).unwrap();
        let mut tx: VersionedTransaction = bincode::deserialize(&bytes).unwrap();
        assert!(matches!(
            tx.message,
            solana_sdk::message::VersionedMessage::V0(_)
        ));
        assert_eq!(tx.message.static_account_keys()[0], signer.pubkey());
        assert_eq!(tx.signatures.len(), 1, "only the wallet signs");
        tx.signatures[0] = signer.sign_message(&tx.message.serialize());
        let signed = BASE64_STANDARD.encode(bincode::serialize(&tx).unwrap());
        self.req(
            Method::POST,
            "/v1/tx/send",
            &[],
            Some(json!({ "transaction": signed })),
        )
        .await
    }
}

fn assert_action_headers(r: &R) {
    let h = |k: &str| r.headers.get(k).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(h("x-action-version").as_deref(), Some("2.4"));
    let ids = h("x-blockchain-ids").expect("X-Blockchain-Ids");
    assert!(ids.starts_with("solana:") && ids.len() > 10, "{ids}");
    assert!(h("access-control-allow-headers")
        .unwrap()
        .contains("Content-Type"));
    assert!(h("access-control-expose-headers")
        .unwrap()
        .contains("X-Blockchain-Ids"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_assets_language_and_security_headers() {
    let s = web(2).await;
    let r = s
        .req(
            Method::GET,
            "/",
            &[("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("<html lang=\"ru\">"), "{}", &r.text[..200]);
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // No inline script: every <script> loads a file.
    assert_eq!(
        r.text.matches("<script").count(),
        r.text.matches("<script src=").count()
    );
    let r = s
        .req(Method::GET, "/", &[("accept-language", "en-GB,en")], None)
        .await;
    assert!(r.text.contains("<html lang=\"en\">"));
    for (path, ty) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.headers["content-type"].to_str().unwrap().starts_with(ty));
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
    // The script never writes HTML: no innerHTML/outerHTML/insertAdjacentHTML/document.write.
    let js = s.get("/assets/app.js").await.text;
    for bad in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(bad), "app.js uses {bad}");
    }
    // Both languages have every key the English text has.
    assert!(js.contains("ru: {") && js.contains("en: {"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_session_binds_the_members_wallet() {
    let s = web(2).await;
    let member = "web-member";
    s.w.store.create_member(member).await.unwrap();
    // No key, no session.
    let r = s
        .req(
            Method::POST,
            &format!("/v1/members/{member}/web-session"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {}", s.key);
    let r = s
        .req(
            Method::POST,
            "/v1/members/nobody/web-session",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s
        .req(
            Method::POST,
            &format!("/v1/members/{member}/web-session"),
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert_eq!(
        r.body["url"].as_str().unwrap(),
        format!("/?member={member}#session={token}")
    );
    // The session says whose it is; a wrong token is refused.
    let r = s
        .req(
            Method::GET,
            "/v1/session",
            &[("x-member-session", &token)],
            None,
        )
        .await;
    assert_eq!(r.body["member"], member);
    let wrong = "0".repeat(64);
    let r = s
        .req(
            Method::GET,
            "/v1/session",
            &[("x-member-session", &wrong)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The wallet signs the challenge; the binding is the member's.
    let wallet = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let address = bs58::encode(wallet.verifying_key().as_bytes()).into_string();
    let r = s
        .req(
            Method::GET,
            &format!("/v1/session/wallet/challenge?wallet={address}"),
            &[("x-member-session", &wrong)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let ch = s
        .req(
            Method::GET,
            &format!("/v1/session/wallet/challenge?wallet={address}"),
            &[("x-member-session", &token)],
            None,
        )
        .await;
    assert_eq!(ch.status, StatusCode::OK, "{}", ch.text);
    let message = ch.body["message"].as_str().unwrap();
    assert!(message.contains(member));
    use ed25519_dalek::Signer as _;
    let sig = bs58::encode(wallet.sign(message.as_bytes()).to_bytes()).into_string();
    // A signature by another key is refused.
    let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
    let bad = bs58::encode(other.sign(message.as_bytes()).to_bytes()).into_string();
    let r = s
        .req(
            Method::POST,
            "/v1/session/wallet",
            &[("x-member-session", &token)],
            Some(json!({"wallet": address, "nonce": ch.body["nonce"], "signature": bad})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "invalid_signature");
    let r = s
        .req(
            Method::POST,
            "/v1/session/wallet",
            &[("x-member-session", &token)],
            Some(json!({"wallet": address, "nonce": ch.body["nonce"], "signature": sig})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["wallet"], address);
    let m = s.get(&format!("/v1/members/{member}")).await;
    assert_eq!(m.body["wallet"], address);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn economy_wallet_state_and_attestations_come_from_the_chain() {
    let s = web(3).await;
    let e = s.get("/v1/economy").await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let config = ops::config(s.chain()).await.unwrap().unwrap();
    let paid: u64 =
        s.w.store
            .epoch_recipients(0)
            .await
            .unwrap()
            .iter()
            .map(|r| r.amount)
            .sum();
    assert!(paid > 0);
    assert_eq!(e.body["total_distributed"], config.total_distributed);
    assert_eq!(e.body["total_distributed"], paid);
    assert_eq!(e.body["supply"], paid);
    assert_eq!(e.body["buyback_price"], config.buyback_price);
    assert_eq!(e.body["window"]["open"], false);

    let (_, k) = &s.w.members[0];
    let st = s.get(&format!("/v1/wallets/{}/state", k.pubkey())).await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.text);
    assert_eq!(st.body["stk"], s.stk_of(&k.pubkey()).await);
    assert!(st.body["stk"].as_u64().unwrap() > 0);
    assert_eq!(st.body["lamports"], 2 * SOL);
    let bad = s.get("/v1/wallets/not-a-wallet/state").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let a = s.get("/v1/epochs/0/attestations").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let plan = s.w.store.epoch_plan(0).await.unwrap().unwrap();
    assert_eq!(a.body["root"], hex::encode(plan.root));
    let oracles = a.body["chain"]["oracles"].as_array().unwrap();
    assert_eq!(oracles.len(), s.w.economy.oracles.len());
    // The two oracles that attested (the service and the second one); the third did not.
    let approved: Vec<bool> = oracles.iter().map(|o| o["approved"] == true).collect();
    assert_eq!(approved, [true, true, false], "{}", a.text);
    assert_eq!(
        oracles[0]["oracle"],
        s.w.economy.oracles[0].pubkey().to_string()
    );
    assert_eq!(a.body["chain"]["finalized"], true);
    let none = s.get("/v1/epochs/5/attestations").await;
    assert_eq!(none.body["root"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_metadata_cors_and_errors() {
    let s = web(1).await;
    let r = s.get("/actions.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_action_headers(&r);
    assert_eq!(r.body["rules"][0]["pathPattern"], "/api/actions/**");
    for path in [
        "/actions.json",
        "/api/actions/sell-back",
        "/api/actions/pay-access",
        "/api/actions/buy-premium",
    ] {
        let r = s
            .req(
                Method::OPTIONS,
                path,
                &[
                    ("origin", "https://dial.to"),
                    ("access-control-request-method", "POST"),
                ],
                None,
            )
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert_action_headers(&r);
        let get = s.get(path).await;
        assert_eq!(get.status, StatusCode::OK, "{path}: {}", get.text);
        assert_action_headers(&get);
    }
    let r = s.get("/api/actions/sell-back").await;
    assert_eq!(r.body["type"], "action");
    assert!(r.body["icon"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/assets/icon.svg", s.base)));
    assert_eq!(r.body["disabled"], true, "no window is open");
    let link = &r.body["links"]["actions"][0];
    assert_eq!(link["type"], "transaction");
    assert!(link["href"].as_str().unwrap().contains("{amount}"));
    assert_eq!(link["parameters"][0]["name"], "amount");
    let r = s.get("/api/actions/pay-access").await;
    assert_eq!(r.body["links"]["actions"].as_array().unwrap().len(), 3);
    for l in r.body["links"]["actions"].as_array().unwrap() {
        assert!(l["href"]
            .as_str()
            .unwrap()
            .starts_with("/api/actions/pay-access?plan="));
    }
    let r = s.get("/api/actions/buy-premium").await;
    assert!(
        r.body["description"].as_str().unwrap().contains("premium")
            || r.body["description"].as_str().unwrap().contains("STK")
    );

    // Errors: JSON with a message, with the Actions headers.
    let (_, k) = &s.w.members[0];
    let account = k.pubkey().to_string();
    let cases: [(&str, Value, StatusCode); 6] = [
        (
            "/api/actions/sell-back?amount=1",
            json!({"account": "nope"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/sell-back?amount=1",
            json!({"account": account}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/sell-back",
            json!({"account": account}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/pay-access?plan=99",
            json!({"account": account}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/buy-premium?amount=1.0000001",
            json!({"account": account}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/buy-premium?amount=1",
            json!({}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, body, status) in cases {
        let r = s.req(Method::POST, path, &[], Some(body)).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(r.body["message"].as_str().is_some(), "{path}: {}", r.text);
        assert_action_headers(&r);
    }
    let long = format!("/api/actions/buy-premium?amount={}", "1".repeat(200));
    let r = s
        .req(Method::POST, &long, &[], Some(json!({"account": account})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The relay takes only signed transactions of the STK program.
    let r = s
        .req(
            Method::POST,
            "/v1/tx/send",
            &[],
            Some(json!({"transaction": "AAAA"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_sell_back_pay_access_buy_premium_on_chain() {
    let s = web(2).await;
    let (_, member) = &s.w.members[0];
    let me = member.pubkey();
    let account = json!({ "account": me.to_string() });
    let stk0 = s.stk_of(&me).await;
    assert!(stk0 >= 2 * STK, "member holds {stk0}");

    // Sell back 1 STK at 0.5 quote in an open window.
    s.open_window(100 * USDC, USDC / 2, 10 * USDC).await;
    let e = s.get("/v1/economy").await;
    assert_eq!(e.body["window"]["open"], true);
    let r = s
        .req(
            Method::POST,
            "/api/actions/sell-back?amount=1&slippage=0.5",
            &[],
            Some(account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_action_headers(&r);
    assert_eq!(r.body["type"], "transaction");
    assert!(r.body["message"].as_str().unwrap().contains("Sell 1 STK"));
    // Unsigned, it is not relayed.
    let unsigned = s
        .req(
            Method::POST,
            "/v1/tx/send",
            &[],
            Some(json!({"transaction": r.body["transaction"]})),
        )
        .await;
    assert_eq!(
        unsigned.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unsigned.text
    );
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), member)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert!(sent.body["signature"].as_str().unwrap().len() > 60);
    assert_eq!(s.stk_of(&me).await, stk0 - STK);
    assert_eq!(s.quote_of(&me).await, USDC / 2);
    let st = s.get(&format!("/v1/wallets/{me}/state")).await;
    assert_eq!(st.body["window_remaining_for_me"], 10 * USDC - USDC / 2);
    assert_eq!(st.body["total_sold_stk"], STK);

    // Buy 12 STK at the premium with quote of its own; a maximum below the price is refused.
    let investor = Keypair::new();
    let inv = investor.pubkey();
    s.w.economy
        .chain
        .with(async |c| c.airdrop(&inv, SOL).await.unwrap())
        .await;
    s.w.economy.chain.note_accounts(&[inv]);
    let config = ops::config(s.chain()).await.unwrap().unwrap();
    let cost =
        stk::math::premium_quote(12 * STK, config.buyback_price, config.premium_bps).unwrap();
    s.w.economy.fund_quote(&inv, cost + 5 * USDC).await.unwrap();
    let investor_account = json!({"account": inv.to_string()});
    let too_low = s
        .req(
            Method::POST,
            &format!(
                "/api/actions/buy-premium?amount=12&max_quote_in={}",
                cost - 1
            ),
            &[],
            Some(investor_account.clone()),
        )
        .await;
    assert_eq!(too_low.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_low.body["error"], "price_above_maximum");
    assert_action_headers(&too_low);
    let r = s
        .req(
            Method::POST,
            &format!("/api/actions/buy-premium?amount=12&max_quote_in={cost}"),
            &[],
            Some(investor_account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), &investor)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(s.stk_of(&inv).await, 12 * STK);
    assert_eq!(s.quote_of(&inv).await, 5 * USDC);

    // Pay for plan 1 (10 STK, burned) with the platform's order reference.
    let plan1 = stk_indexer::member_tx::plan(1).unwrap();
    let r = s
        .req(
            Method::POST,
            "/api/actions/pay-access?plan=1&reference=order-42",
            &[],
            Some(investor_account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reference = hex::encode(stk_indexer::member_tx::reference_bytes("order-42"));
    assert!(r.body["message"].as_str().unwrap().contains(&reference));
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), &investor)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(s.stk_of(&inv).await, 12 * STK - plan1.price);
    // Paying again with what is left (2 STK) fails on chain, and nothing moves.
    let r = s
        .req(
            Method::POST,
            "/api/actions/pay-access?plan=1",
            &[],
            Some(investor_account.clone()),
        )
        .await;
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), &investor)
        .await;
    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sent.text
    );
    assert_eq!(s.stk_of(&inv).await, 12 * STK - plan1.price);
    let e = s.get("/v1/economy").await;
    assert_eq!(e.body["total_premium_minted"], 12 * STK);
    assert_eq!(e.body["total_burned_sell_back"], STK);
    assert_eq!(e.body["total_burned_access"], plan1.price);
}
