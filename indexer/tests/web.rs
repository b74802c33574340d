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
    let s = web_unpaid(members).await;
    finish(&s.w, 0).await;
    s
}

/// Like [`web`], epoch 0 not yet run through the pipeline.
pub async fn web_unpaid(members: usize) -> Web {
    let w = world(WorldOptions::new(members)).await;
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
    /// Revenue into the buyback vault (the admin deposits `amount` quote): the floor.
    pub async fn deposit(&self, amount: u64) {
        let admin = self.w.economy.admin.clone();
        let source = self
            .w
            .economy
            .fund_quote(&admin.pubkey(), amount)
            .await
            .unwrap();
        let ix = client::deposit_revenue(admin.pubkey(), source, amount);
        self.chain().send(&[ix], &[&admin], &[]).await.unwrap();
    }
    /// A pro-rata tender window by rule, open for orders: 100 USDC of revenue this period, the clock
    /// moved to the next period (so it is the last period's inflow), the window announced at the
    /// rule's price and capacity, the clock moved to its opening.
    pub async fn tender_window(&self) -> stk::AnnounceTenderWindowArgs {
        self.deposit(100 * USDC).await;
        let config = ops::config(self.chain()).await.unwrap().unwrap();
        let next = config.genesis_ts + (config.period_index as i64 + 1) * config.epoch_duration;
        self.w
            .economy
            .chain
            .with(async |c| c.set_time(next).await)
            .await;
        let rule = stk_indexer::member_tx::tender_rule(self.chain())
            .await
            .unwrap();
        let args = stk::AnnounceTenderWindowArgs {
            window_id: rule.window_id,
            price: rule.price,
            capacity: rule.capacity,
            opens_at: next + 60,
            closes_at: next + 3600,
        };
        let admin = self.w.economy.admin.clone();
        self.chain()
            .send(
                &[client::announce_tender_window(admin.pubkey(), args)],
                &[&admin],
                &[],
            )
            .await
            .unwrap();
        self.w
            .economy
            .chain
            .with(async |c| c.set_time(args.opens_at).await)
            .await;
        args
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
    assert!(js.contains("ru: {") && js.contains("en: {"));
    // The JSON routes of the pages are in the OpenAPI document.
    let doc = s.get("/openapi.json").await.body;
    for (path, method) in [
        ("/v1/members/{id}/web-session", "post"),
        ("/v1/session", "get"),
        ("/v1/session/wallet/challenge", "get"),
        ("/v1/session/wallet", "post"),
        ("/v1/economy", "get"),
        ("/v1/wallets/{wallet}/state", "get"),
        ("/v1/access/plans", "get"),
        ("/v1/tx/send", "post"),
        ("/v1/epochs/{n}/attestations", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["Economy"].is_object());
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
    // The buyback rule the next tender window must follow (the very functions the program checks).
    let rule = stk_indexer::member_tx::tender_rule(s.chain())
        .await
        .unwrap();
    assert_eq!(e.body["buyback_rule_price"], rule.price);
    assert_eq!(e.body["next_window_capacity"], rule.capacity);
    assert_eq!(e.body["tender_windows"], config.tender_window_count);

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
        "/api/actions/place-order",
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
    let r = s.get("/api/actions/place-order").await;
    assert_eq!(r.body["type"], "action");
    assert!(r.body["icon"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/assets/icon.svg", s.base)));
    assert_eq!(r.body["disabled"], true, "no tender window is open");
    let link = &r.body["links"]["actions"][0];
    assert_eq!(link["type"], "transaction");
    assert!(link["href"].as_str().unwrap().contains("{amount}"));
    assert_eq!(link["parameters"][0]["name"], "amount");
    // Each period's revenue backs epoch 0's STK: there is a floor, and the three plans on chain are
    // priced at it.
    let plans = s.get("/v1/access/plans").await;
    assert_eq!(plans.status, StatusCode::OK, "{}", plans.text);
    let floor = stk_indexer::member_tx::floor_price(s.chain())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plans.body["floor_price"], floor);
    assert_eq!(plans.body["plans"].as_array().unwrap().len(), 3);
    assert_eq!(
        plans.body["plans"][0]["price"],
        stk::economy::access_price_stk(10 * USDC, 2_000, floor).unwrap()
    );
    // With revenue in the vault the three plans on chain are priced at the floor.
    s.deposit(100 * USDC).await;
    let r = s.get("/api/actions/pay-access").await;
    assert_eq!(r.body["disabled"], Value::Null, "{}", r.text);
    assert_eq!(r.body["links"]["actions"].as_array().unwrap().len(), 3);
    for l in r.body["links"]["actions"].as_array().unwrap() {
        assert!(l["href"]
            .as_str()
            .unwrap()
            .starts_with("/api/actions/pay-access?plan="));
    }
    assert!(r.body["links"]["actions"][0]["label"]
        .as_str()
        .unwrap()
        .starts_with("30 days: "));
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
            "/api/actions/place-order?amount=1",
            json!({"account": "nope"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/place-order?amount=1",
            json!({"account": account}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/actions/place-order",
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
async fn actions_pay_access_and_buy_premium_on_chain() {
    let s = web(2).await;
    let (_, member) = &s.w.members[0];
    let me = member.pubkey();
    let account = json!({ "account": me.to_string() });
    let stk0 = s.stk_of(&me).await;
    assert!(stk0 >= 2 * STK, "member holds {stk0}");

    // Revenue in the vault: the floor the premium sale is priced at.
    s.deposit(100 * USDC).await;

    // Buy 12 STK at 10x the floor with quote of its own; a maximum below the price is refused.
    let investor = Keypair::new();
    let inv = investor.pubkey();
    s.w.economy
        .chain
        .with(async |c| c.airdrop(&inv, SOL).await.unwrap())
        .await;
    s.w.economy.chain.note_accounts(&[inv]);
    let config = ops::config(s.chain()).await.unwrap().unwrap();
    let quote = stk_indexer::member_tx::premium_quote(s.chain(), &config, 12 * STK)
        .await
        .unwrap();
    let e = s.get("/v1/economy").await;
    assert_eq!(e.body["floor_price"], quote.floor_price);
    assert_eq!(e.body["premium_price"], quote.price);
    assert_eq!(quote.to_vault + quote.to_treasury, quote.paid);
    let (vault0, treasury0) = (
        e.body["vault"].as_u64().unwrap(),
        e.body["treasury"].as_u64().unwrap(),
    );
    let cost = quote.paid;
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
    assert_action_headers(&r);
    assert_eq!(r.body["type"], "transaction");
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
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), &investor)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert!(sent.body["signature"].as_str().unwrap().len() > 60);
    assert_eq!(s.stk_of(&inv).await, 12 * STK);
    assert_eq!(s.quote_of(&inv).await, 5 * USDC);
    // The vault's share went to the vault, the rest to the treasury.
    let e = s.get("/v1/economy").await;
    assert_eq!(e.body["vault"], vault0 + quote.to_vault);
    assert_eq!(e.body["treasury"], treasury0 + quote.to_treasury);

    // Plan 1 on chain, priced at the floor: 10 USDC less 20%, converted at vault / floating STK.
    let plans = s.get("/v1/access/plans").await;
    assert_eq!(plans.status, StatusCode::OK, "{}", plans.text);
    let floor = plans.body["floor_price"].as_u64().unwrap();
    let supply = ops::mint_supply(s.chain(), &client::mint_address())
        .await
        .unwrap();
    let vault = ops::token_balance(s.chain(), &client::vault_address())
        .await
        .unwrap();
    assert_eq!(
        u128::from(floor),
        u128::from(vault) * u128::from(STK) / u128::from(supply)
    );
    let p1 = &plans.body["plans"][0];
    assert_eq!(
        (
            &p1["id"],
            &p1["days"],
            &p1["period_secs"],
            &p1["fiat_price"],
            &p1["discount_bps"]
        ),
        (
            &json!(1),
            &json!(30),
            &json!(30 * 86_400),
            &json!(10 * USDC),
            &json!(2_000)
        )
    );
    let price = stk::economy::access_price_stk(10 * USDC, 2_000, floor).unwrap();
    assert_eq!(p1["price"], price);
    // Paying in STK is cheaper than the fiat price at the floor.
    assert!(u128::from(price) * u128::from(floor) < u128::from(10 * USDC) * u128::from(STK));

    // The member pays plan 1 with the platform's order reference; the price is burned.
    let stk_before = s.stk_of(&me).await;
    let r = s
        .req(
            Method::POST,
            "/api/actions/pay-access?plan=1&reference=order-42&slippage=0.5",
            &[],
            Some(account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let reference = hex::encode(stk_indexer::member_tx::reference_bytes("order-42"));
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains(&reference), "{message}");
    let at_most = stk_indexer::member_tx::plus_slippage(price, 50);
    assert!(
        message.contains(&format!(
            "Pay {} STK (at most {})",
            stk_indexer::member_tx::fmt_amount(price, 6),
            stk_indexer::member_tx::fmt_amount(at_most, 6)
        )),
        "{message}"
    );
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), member)
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(s.stk_of(&me).await, stk_before - price);
    // The investor's 12 STK are less than the price: the transaction fails on chain, nothing moves.
    let r = s
        .req(
            Method::POST,
            "/api/actions/pay-access?plan=1",
            &[],
            Some(investor_account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = s
        .sign_and_relay(r.body["transaction"].as_str().unwrap(), &investor)
        .await;
    assert_eq!(
        sent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        sent.text
    );
    assert_eq!(s.stk_of(&inv).await, 12 * STK);
    // A deactivated plan is refused before any transaction is built.
    let admin = s.w.economy.admin.clone();
    let ix = client::set_plan(
        admin.pubkey(),
        stk::SetPlanArgs {
            id: 2,
            period_secs: 90 * 86_400,
            fiat_price: 27 * USDC,
            discount_bps: 2_000,
            active: false,
        },
    );
    s.chain().send(&[ix], &[&admin], &[]).await.unwrap();
    let r = s
        .req(
            Method::POST,
            "/api/actions/pay-access?plan=2",
            &[],
            Some(account.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("not active"));
    let plans = s.get("/v1/access/plans").await;
    let ids: Vec<&Value> = plans.body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&json!(1), &json!(3)], "only active plans are offered");
    let e = s.get("/v1/economy").await;
    assert_eq!(e.body["total_premium_minted"], 12 * STK);
    assert_eq!(e.body["total_burned_sell_back"], 0);
    assert_eq!(e.body["total_burned_access"], price);
}

// ---------- the real browser ----------

/// A WebDriver session on headless Chromium through `chromedriver` (the W3C protocol over HTTP).
struct Browser {
    driver: std::process::Child,
    base: String,
    http: reqwest::Client,
}

/// Chromium and its driver, or why the browser test cannot run.
fn browser_binaries() -> Result<(String, String), String> {
    let find = |names: &[&str]| {
        names
            .iter()
            .map(std::path::Path::new)
            .find(|p| p.exists())
            .map(|p| p.display().to_string())
    };
    let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .ok_or("chromium is not installed (scripts/install-chromium.sh)")?;
    let driver = find(&["/usr/bin/chromedriver"])
        .ok_or("chromedriver is not installed (scripts/install-chromium.sh)")?;
    Ok((chromium, driver))
}

impl Browser {
    async fn start(chromium: &str, driver: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let b = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(r) = b.http.get(format!("{}/status", b.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = chromium;
        b
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        if v["value"]["error"].is_string() {
            panic!("webdriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// A new browser window `width` × `height` CSS pixels (a phone's viewport when narrow).
    async fn session(&self, chromium: &str, width: u32, height: u32) -> Tab<'_> {
        self.session_with(chromium, width, height, None).await
    }

    /// Like [`Browser::session`], asking for `accept_language` when given.
    async fn session_with(
        &self,
        chromium: &str,
        width: u32,
        height: u32,
        accept_language: Option<&str>,
    ) -> Tab<'_> {
        let mut options = json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}"), "--hide-scrollbars",
                     "--force-device-scale-factor=1"],
        });
        if let Some(l) = accept_language {
            options["prefs"] = json!({ "intl.accept_languages": l });
        }
        if width < 500 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true }
            });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let v = self.call(Method::POST, "/session", Some(caps)).await;
        Tab {
            b: self,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

struct Tab<'a> {
    b: &'a Browser,
    id: String,
}

impl Tab<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.b
            .call(method, &format!("/session/{}{path}", self.id), body)
            .await
    }
    async fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }
    async fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }
    async fn js_async(&self, script: &str, args: Value) -> Value {
        self.call(
            Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }
    /// Waits (up to 30 s) until `cond` (a JS expression) is true.
    async fn wait(&self, cond: &str) {
        for _ in 0..300 {
            if self.js(&format!("return !!({cond});"), json!([])).await == true {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let text = self.js("return document.body.innerText;", json!([])).await;
        panic!("timed out waiting for {cond}; page: {text}");
    }
    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }
    async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call(
            Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }
    /// Presses Enter on the element (keyboard use, not a click).
    async fn enter(&self, css: &str) {
        let e = self.element(css).await;
        self.call(
            Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": "\u{E007}" })),
        )
        .await;
    }
    /// Presses `key` (a WebDriver key code) on whatever has the focus.
    async fn press(&self, key: &str) {
        self.call(
            Method::POST,
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                    { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
                ]}]}),
            ),
        )
        .await;
    }
    async fn fill(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.call(
            Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }
    async fn text(&self) -> String {
        self.js(
            "return document.querySelector('main').innerText;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }
    async fn screenshot(&self, path: &std::path::Path) {
        let v = self.call(Method::GET, "/screenshot", None).await;
        let png = BASE64_STANDARD.decode(v.as_str().unwrap()).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).unwrap();
    }
    async fn a11y(&self, what: &str) {
        let problems = self.js(include_str!("browser/a11y.js"), json!([])).await;
        assert_eq!(problems, json!([]), "accessibility problems on {what}");
    }
    async fn install_wallet(&self, k: &Keypair) {
        let bytes = k.to_bytes();
        let r = self
            .js_async(
                include_str!("browser/test_wallet.js"),
                json!([
                    hex::encode(&bytes[..32]),
                    k.pubkey().to_string(),
                    hex::encode(&bytes[32..])
                ]),
            )
            .await;
        assert_eq!(r, true, "test wallet: {r}");
    }
    async fn close(self) {
        self.call(Method::DELETE, "", None).await;
    }
}

/// Where screenshots go: `docs/screenshots/` with `STK_SCREENSHOTS=update`, else a temporary
/// directory (they are taken and checked either way).
/// STK base units as the page writes them in English (`1,234.5`).
fn en_us_stk(units: u64) -> String {
    let whole = (units / STK).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let frac = format!("{:06}", units % STK);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    }
}

fn screenshot_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    if std::env::var("STK_SCREENSHOTS").as_deref() == Ok("update") {
        let d = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    } else {
        tmp.path().to_path_buf()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_member_binds_earns_sells_pays_and_invests() {
    let (chromium, driver) = match browser_binaries() {
        Ok(b) => b,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED browser test: {why}; CI runs it after scripts/install-chromium.sh");
            return;
        }
        Err(why) => panic!("CI is set and {why}"),
    };
    let s = web_unpaid(3).await;
    // A new member with activity in epoch 0 and no wallet yet; the browser's wallet is a known key.
    let member = "web-member";
    let wallet = Keypair::new();
    let me = wallet.pubkey();
    s.w.store.create_member(member).await.unwrap();
    s.w.store.set_member_status(member, true).await.unwrap();
    let cfg = s.w.pipeline.cfg.clone();
    let (start, _) = cfg.epoch_window(0);
    let events: Vec<_> = (0..5)
        .map(|day| stk_indexer::store::NewActivity {
            id: format!("{member}-{day}"),
            member: member.into(),
            kind: ["practice_session", "help_given", "review"][day % 3].into(),
            occurred_at: start + day as i64 * 86_400 + 7_200,
            epoch: 0,
            attributes: None,
            confirmations: vec![],
            source: "member".into(),
            signature: None,
        })
        .collect();
    s.w.store
        .ingest(&events, stk_indexer::epoch::template(&cfg))
        .await
        .unwrap();
    s.w.economy
        .chain
        .with(async |c| c.airdrop(&me, 2 * SOL).await.unwrap())
        .await;
    s.w.economy.chain.note_accounts(&[me]);

    // The platform opens a session for its member.
    let auth = format!("Bearer {}", s.key);
    let r = s
        .req(
            Method::POST,
            &format!("/v1/members/{member}/web-session"),
            &[("authorization", &auth)],
            None,
        )
        .await;
    let url = format!("{}{}", s.base, r.body["url"].as_str().unwrap());

    let browser = Browser::start(&chromium, &driver).await;
    let tab = browser.session(&chromium, 1280, 900).await;
    tab.goto(&url).await;
    tab.wait("document.querySelector('main h1') && document.querySelector('#bind-h')")
        .await;
    // The session left the address bar.
    let loc = tab.js("return location.href;", json!([])).await;
    assert!(!loc.as_str().unwrap().contains("session="), "{loc}");
    tab.install_wallet(&wallet).await;
    // Connect with the keyboard.
    tab.enter("#connect").await;
    tab.wait("document.querySelector('#bind')").await;
    tab.enter("#bind").await;
    tab.wait("document.querySelector('.status p.ok')").await;
    let m = s.get(&format!("/v1/members/{member}")).await;
    assert_eq!(m.body["wallet"], me.to_string(), "bound through the page");

    // The epoch runs; the page shows the rewards, the receipt in words and the timeline.
    finish(&s.w, 0).await;
    stk_indexer::watcher::run_once(&s.w.store, s.chain())
        .await
        .unwrap();
    let earned = s.stk_of(&me).await;
    assert!(earned > 20 * STK, "earned {earned}");
    tab.js("location.reload();", json!([])).await;
    tab.wait("document.querySelector('svg.chart') && document.querySelector('details.receipt')")
        .await;
    tab.install_wallet(&wallet).await;
    tab.click("#connect").await;
    tab.wait("document.querySelector('.result')").await;
    tab.js(
        "document.querySelectorAll('details').forEach(d => d.open = true);",
        json!([]),
    )
    .await;
    let text = tab.text().await;
    assert!(text.contains("Receipts, explained"), "{text}");
    assert!(text.contains("events counted"), "{text}");
    assert!(text.contains("Qualified"), "{text}");
    assert!(
        text.contains("Received"),
        "timeline shows the payment: {text}"
    );
    tab.a11y("member").await;

    // The check finds what it looks for: an unlabelled field and low-contrast text fail it.
    tab.js(
        "const i = document.createElement('input'); i.id = 'probe'; document.querySelector('main').append(i);\
         const p = document.createElement('p'); p.id = 'probe2'; p.textContent = 'faint'; p.style.color = '#ddd'; document.querySelector('main').append(p);",
        json!([]),
    )
    .await;
    let problems = tab.js(include_str!("browser/a11y.js"), json!([])).await;
    let problems = problems.to_string();
    assert!(
        problems.contains("control without a label: input#probe"),
        "{problems}"
    );
    assert!(problems.contains("contrast p#probe2"), "{problems}");

    // Offer 1 STK in a pro-rata tender window, through the page: none is announced yet, so no order
    // can be placed; then a window by rule opens, the member orders, anyone settles, the member
    // claims through the page.
    tab.goto(&format!("{}/#/sell", s.base)).await;
    tab.install_wallet(&wallet).await;
    tab.click("#connect").await;
    tab.wait(
        "document.querySelector('#tender-terms') \
         && document.querySelector('#tender-terms').textContent.includes('No tender window') \
         && document.querySelector('#place-order').disabled",
    )
    .await;
    let window = s.tender_window().await;
    tab.js("location.reload();", json!([])).await;
    tab.install_wallet(&wallet).await;
    tab.click("#connect").await;
    tab.wait(
        "document.querySelector('#tender-terms') \
         && document.querySelector('#tender-terms').textContent.includes('Tender window #1') \
         && !document.querySelector('#place-order').disabled",
    )
    .await;
    let text = tab.text().await;
    assert!(text.contains("Floor"), "{text}");
    tab.fill("#order-amount", "1").await;
    tab.a11y("sell").await;
    tab.click("#place-order").await;
    tab.wait("document.querySelector('.result')").await;
    assert_eq!(s.stk_of(&me).await, earned - STK);
    s.w.economy
        .chain
        .with(async |c| c.set_time(window.closes_at).await)
        .await;
    let admin = s.w.economy.admin.clone();
    s.chain()
        .send(&[client::settle_window(1)], &[&admin], &[])
        .await
        .unwrap();
    let claim = stk_indexer::member_tx::claim_order(s.chain(), me, 1)
        .await
        .unwrap()
        .claim;
    // The window's capacity covers the order: filled whole, at the window's price (rounded down).
    assert_eq!(claim.filled_stk, STK);
    let sold_quote = claim.quote;
    assert_eq!(sold_quote, window.price);
    tab.js("document.querySelector('.result').remove();", json!([]))
        .await;
    tab.click("#claim-order").await;
    tab.wait("document.querySelector('.result')").await;
    assert_eq!(s.quote_of(&me).await, sold_quote);
    assert_eq!(s.stk_of(&me).await, earned - STK);

    // Pay for plan 1 (10 STK).
    tab.goto(&format!("{}/?reference=order-7#/access", s.base))
        .await;
    tab.install_wallet(&wallet).await;
    tab.click("#connect").await;
    tab.wait("document.querySelector('#pay')").await;
    tab.a11y("access").await;
    let text = tab.text().await;
    assert!(text.contains("30 days"), "{text}");
    assert!(text.contains("20% off in STK"), "{text}");
    // The price the page shows is the one the program will charge now.
    let price = stk_indexer::member_tx::plan(s.chain(), 1)
        .await
        .unwrap()
        .price
        .unwrap();
    assert!(
        text.contains(&format!("30 days — {} STK", en_us_stk(price))),
        "{text}"
    );
    tab.enter("#pay").await;
    tab.wait("document.querySelector('.result')").await;
    let text = tab.text().await;
    assert!(text.contains("Receipt: plan 1"), "{text}");
    let reference = hex::encode(stk_indexer::member_tx::reference_bytes("order-7"));
    assert!(text.contains(&reference[..4]), "{text}");
    // The payment on chain carries the platform's reference (the watcher's ledger).
    stk_indexer::watcher::run_once(&s.w.store, s.chain())
        .await
        .unwrap();
    let events = stk_indexer::watcher::chain_events(&s.w.store)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|(_, _, name, _, data)| name == "AccessPaid" && data.contains(&reference)),
        "reference {reference} not in {events:?}"
    );
    assert_eq!(s.stk_of(&me).await, earned - STK - price);

    // Buy 1 STK at the premium with a maximum price.
    let config = ops::config(s.chain()).await.unwrap().unwrap();
    let cost = stk_indexer::member_tx::premium_quote(s.chain(), &config, STK)
        .await
        .unwrap()
        .paid;
    s.w.economy.fund_quote(&me, cost).await.unwrap();
    tab.goto(&format!("{}/#/investor", s.base)).await;
    tab.install_wallet(&wallet).await;
    tab.click("#connect").await;
    tab.wait("document.querySelector('#buy')").await;
    tab.a11y("investor").await;
    tab.click("#buy").await;
    tab.wait("document.querySelector('.result')").await;
    assert_eq!(s.stk_of(&me).await, earned - STK - price + STK);
    assert_eq!(s.quote_of(&me).await, sold_quote);

    // The member's own record now holds what the wallet did on chain.
    stk_indexer::watcher::run_once(&s.w.store, s.chain())
        .await
        .unwrap();
    tab.goto(&format!("{}/?member={member}#/member", s.base))
        .await;
    tab.wait("document.querySelector('main table tbody tr')")
        .await;
    let text = tab.text().await;
    for what in ["Sold back", "Paid for access", "Bought at premium"] {
        assert!(text.contains(what), "timeline lacks {what}: {text}");
    }
    // Export: the member's whole record as CSV and JSON (captured from the Blob the page downloads).
    tab.js(
        "window.__blobs = []; const o = URL.createObjectURL; URL.createObjectURL = (b) => { window.__blobs.push(b); return o(b); };",
        json!([]),
    )
    .await;
    tab.enter("#export-csv").await;
    tab.wait("window.__blobs.length === 1").await;
    tab.click("#export-json").await;
    tab.wait("window.__blobs.length === 2").await;
    let read = "Promise.all(window.__blobs.map(b => b.text())).then(arguments[0]);";
    let files = tab.js_async(read, json!([])).await;
    let csv = files[0].as_str().unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "type,at,epoch,id,kind,score,amount,quote_amount,signature,slot"
    );
    let rows: Vec<&str> = lines.collect();
    let exported: Value = serde_json::from_str(files[1].as_str().unwrap()).unwrap();
    let items = exported["items"].as_array().unwrap();
    assert_eq!(exported["member"], member);
    assert_eq!(rows.len(), items.len());
    let api_items = s
        .get(&format!("/v1/members/{member}/timeline?limit=500"))
        .await;
    assert_eq!(items, api_items.body["items"].as_array().unwrap());
    for kind in [
        "activity",
        "points",
        "received",
        "sold_back",
        "paid_access",
        "bought_premium",
    ] {
        assert!(
            rows.iter().any(|r| r.starts_with(&format!("{kind},"))),
            "{kind}: {csv}"
        );
    }
    // The language switch (the select).
    tab.click("#lang option[value=ru]").await;
    tab.wait("document.querySelector('main h1').textContent === 'Участник' && document.querySelector('main table')")
        .await;
    let text = tab.text().await;
    assert!(text.contains("Лента активности"), "{text}");
    tab.click("#lang option[value=en]").await;
    tab.wait("document.querySelector('main h1').textContent === 'Member' && document.querySelector('main table')")
        .await;

    // The public pages.
    for page in ["economy", "epochs"] {
        tab.goto(&format!("{}/#/{page}", s.base)).await;
        tab.wait("document.querySelector('main h1') && !document.querySelector('main p.hint')")
            .await;
        tab.a11y(page).await;
    }
    tab.wait("document.querySelector('main td ul')").await;
    let text = tab.text().await;
    assert!(text.contains("2 of 3 (threshold 2)"), "{text}");
    tab.close().await;

    // Keyboard: in a fresh window the first Tab reaches the skip link, Enter moves the focus to the
    // content and the page stays where it is.
    let tab = browser.session(&chromium, 1280, 900).await;
    tab.goto(&format!("{}/#/epochs", s.base)).await;
    tab.wait("document.querySelector('main td')").await;
    tab.press("\u{E004}").await;
    let focused = "const a = document.activeElement; return a.id || a.tagName + ' ' + a.outerHTML.slice(0, 80);";
    assert_eq!(tab.js(focused, json!([])).await, "skip");
    tab.press("\u{E007}").await;
    assert_eq!(tab.js(focused, json!([])).await, "main");
    assert_eq!(tab.js("return location.hash;", json!([])).await, "#/epochs");
    tab.close().await;

    // Screenshots: every page, both languages, desktop and phone width.
    let tmp = tempfile::tempdir().unwrap();
    let dir = screenshot_dir(&tmp);
    for (width, height, name) in [(1280, 1500, "desktop"), (390, 1400, "phone")] {
        let tab = browser.session(&chromium, width, height).await;
        for lang in ["en", "ru"] {
            for page in ["member", "sell", "access", "investor", "economy", "epochs"] {
                let q = if page == "member" {
                    format!("?member={member}&lang={lang}")
                } else {
                    format!("?lang={lang}")
                };
                tab.goto(&format!("{}/{q}#/{page}", s.base)).await;
                tab.install_wallet(&wallet).await;
                tab.wait("document.querySelector('main h1') && !document.querySelector('main p.hint:only-of-type')")
                    .await;
                if page != "economy" && page != "epochs" {
                    tab.click("#connect").await;
                    tab.wait("document.querySelector('#connect').textContent.includes('…')")
                        .await;
                }
                tab.wait(&format!("document.documentElement.lang === '{lang}'"))
                    .await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                tab.a11y(&format!("{page} {lang} {name}")).await;
                tab.screenshot(&dir.join(format!("{page}-{lang}-{name}.png")))
                    .await;
            }
        }
        tab.close().await;
    }
    // A browser that asks for Russian (Accept-Language) gets Russian without choosing.
    let tab = browser
        .session_with(&chromium, 1280, 900, Some("ru-RU,ru"))
        .await;
    tab.goto(&format!("{}/#/economy", s.base)).await;
    tab.wait("document.querySelector('main h1')").await;
    let h1 = tab
        .js(
            "return document.querySelector('main h1').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(h1, "Экономика");
    tab.close().await;
}

/// The tender-window Actions: place an order (two members), the window is settled, each claims; the
/// balances on chain are what the claim message announced, and a second claim is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_place_order_and_claim_on_chain() {
    let s = web(2).await;
    let admin = s.w.economy.admin.clone();
    let r = s.get("/api/actions/place-order").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_action_headers(&r);
    assert_eq!(r.body["disabled"], true);
    assert!(r.body["description"]
        .as_str()
        .unwrap()
        .contains("No tender window"));
    let member0 = s.w.members[0].1.pubkey();
    let none = s
        .req(
            Method::POST,
            "/api/actions/place-order?amount=1",
            &[],
            Some(json!({ "account": member0.to_string() })),
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.text);
    assert_eq!(none.body["error"], "no_window");

    // Revenue this period, then the next period: the window's capacity comes from it.
    let source =
        s.w.economy
            .fund_quote(&admin.pubkey(), 100 * USDC)
            .await
            .unwrap();
    s.chain()
        .send(
            &[client::deposit_revenue(admin.pubkey(), source, 100 * USDC)],
            &[&admin],
            &[],
        )
        .await
        .unwrap();
    let config = ops::config(s.chain()).await.unwrap().unwrap();
    let next = config.genesis_ts + (config.period_index as i64 + 1) * config.epoch_duration;
    s.w.economy
        .chain
        .with(async |c| c.set_time(next).await)
        .await;
    let rule = stk_indexer::member_tx::tender_rule(s.chain())
        .await
        .unwrap();
    // The world deposited each period's emission revenue (2,000 USDC: 100,000 STK at 0.01 USDC and
    // 50%) in periods 0..=4; with these 100 USDC the last period brought 2,100 USDC and the vault holds
    // 10,100: capacity = min(2,100, 25% of 10,100) = 2,100 USDC.
    assert_eq!(config.period_inflow, 2_100 * USDC);
    assert_eq!(rule.capacity, 2_100 * USDC);
    let args = stk::AnnounceTenderWindowArgs {
        window_id: 1,
        price: rule.price,
        capacity: rule.capacity,
        opens_at: next + 60,
        closes_at: next + 3600,
    };
    s.chain()
        .send(
            &[client::announce_tender_window(admin.pubkey(), args)],
            &[&admin],
            &[],
        )
        .await
        .unwrap();
    s.w.economy
        .chain
        .with(async |c| c.set_time(args.opens_at).await)
        .await;
    let r = s.get("/api/actions/place-order").await;
    assert_eq!(r.body["disabled"], Value::Null, "{}", r.text);
    assert!(r.body["description"]
        .as_str()
        .unwrap()
        .contains("Tender window #1"));

    let mut before = Vec::new();
    for (_, member) in &s.w.members {
        let me = member.pubkey();
        before.push((s.stk_of(&me).await, s.quote_of(&me).await));
        let r = s
            .req(
                Method::POST,
                "/api/actions/place-order?amount=1",
                &[],
                Some(json!({ "account": me.to_string() })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains("Offer 1 STK"));
        let sent = s
            .sign_and_relay(r.body["transaction"].as_str().unwrap(), member)
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
        assert_eq!(s.stk_of(&me).await, before.last().unwrap().0 - STK);
    }
    s.w.economy
        .chain
        .with(async |c| c.set_time(args.closes_at).await)
        .await;
    s.chain()
        .send(&[client::settle_window(1)], &[&admin], &[])
        .await
        .unwrap();
    for (i, (_, member)) in s.w.members.iter().enumerate() {
        let me = member.pubkey();
        let expected = stk_indexer::member_tx::claim_order(s.chain(), me, 1)
            .await
            .unwrap()
            .claim;
        let account = json!({ "account": me.to_string() });
        let r = s
            .req(
                Method::POST,
                "/api/actions/claim-order",
                &[],
                Some(account.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let sent = s
            .sign_and_relay(r.body["transaction"].as_str().unwrap(), member)
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
        let (stk0, quote0) = before[i];
        assert!(expected.quote > 0);
        assert_eq!(s.stk_of(&me).await, stk0 - expected.filled_stk);
        assert_eq!(s.quote_of(&me).await, quote0 + expected.quote);
        assert!(s
            .chain()
            .account(&client::order_address(1, &me))
            .await
            .unwrap()
            .is_none());
        let again = s
            .req(Method::POST, "/api/actions/claim-order", &[], Some(account))
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    }
}
