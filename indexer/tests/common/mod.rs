//! Test harness: the real server on 127.0.0.1:0 over a fresh database per test.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: `CREATE DATABASE stk_test_<random>` on the
//! server named by `STK_TEST_DATABASE_URL`, dropped when the test ends. Without that variable the
//! PostgreSQL half prints that it is skipped, unless `CI=true`, where it fails.
#![allow(dead_code)]

pub mod world;

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use rand::{Rng, RngCore};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::ConnectOptions;
use stk_indexer::config::Config;
use stk_indexer::http::{AppState, Server};
use stk_indexer::store::Store;
use tokio_util::sync::CancellationToken;

pub const WEEK: i64 = 7 * 24 * 3600;
pub const DAY: i64 = 24 * 3600;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend, or `None` (skip) when `STK_TEST_DATABASE_URL` is unset outside CI.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("STK_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "CI=true but STK_TEST_DATABASE_URL is not set: the PostgreSQL tests must \
                         run in CI (e.g. STK_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
                    );
                }
                // Written to the real stderr (not the captured one) so the skip is visible.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: PostgreSQL test (set STK_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run it)"
                );
                None
            }
        }
    }
}

/// Generates `mod sqlite { .. }` and `mod postgres { .. }` with one `#[tokio::test]` per listed
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = $crate::common::Backend::postgres() {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub store: Store,
    pub config: Config,
    pub rules: Arc<stk_scoring::RuleSet>,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    token: CancellationToken,
    server: Option<Server>,
    pg_cleanup: Option<(PgConnectOptions, String)>,
}

pub fn rules() -> stk_scoring::RuleSet {
    stk_scoring::RuleSet::from_toml(&rules_v1_text()).expect("valid rules")
}

pub fn rules_v1_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/rules.v1.toml"
    ))
    .expect("rules/rules.v1.toml")
}

pub fn now() -> i64 {
    stk_indexer::store::now_unix()
}

pub fn rfc3339(ts: i64) -> String {
    stk_indexer::wallet::rfc3339(ts)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the server with the test defaults, adjusted by `adjust`.
///
/// Epochs are weekly with genesis 3 weeks + 1 hour ago: epochs 0..=2 have ended, epoch 3 is open.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with_rules(backend, &rules_v1_text(), adjust).await
}

/// Like [`spawn_app_with`], running the rules `rules_text` (served to oracles with epoch logs).
pub async fn spawn_app_with_rules(
    backend: Backend,
    rules_text: &str,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.epoch.genesis = now() - 3 * WEEK - 3600;
    config.epoch.duration_secs = WEEK;
    config.epoch.budget = 1_000_000_000;
    config.rate_limit.per_second = 10_000.0;
    config.rate_limit.burst = 10_000;
    config.rate_limit.public_per_second = 10_000.0;
    config.rate_limit.public_burst = 10_000;
    config.database.connect_timeout_secs = 5;
    let mut pg_cleanup = None;
    match backend {
        Backend::Sqlite => {
            config.database.url =
                format!("sqlite://{}?mode=rwc", dir.path().join("stk.db").display());
        }
        Backend::Postgres(url) => {
            let opts: PgConnectOptions = url.parse().expect("STK_TEST_DATABASE_URL parses");
            let admin = PgPool::connect_with(opts.clone())
                .await
                .expect("connect to PostgreSQL");
            let name = format!("stk_test_{:016x}", rand::thread_rng().gen::<u64>());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .expect("CREATE DATABASE");
            admin.close().await;
            config.database.url = opts.clone().database(&name).to_url_lossy().to_string();
            config.database.max_connections = 4;
            pg_cleanup = Some((opts, name));
        }
    }
    let rules_path = dir.path().join("rules.toml");
    std::fs::write(&rules_path, rules_text).expect("write rules");
    config.scoring.rules_path = rules_path;
    adjust(&mut config);
    config.validate().expect("test config is valid");
    let rules = Arc::new(stk_scoring::RuleSet::from_toml(rules_text).expect("valid rules"));
    let store = Store::connect(&config.database).await.expect("connect");
    store.migrate().await.expect("migrate");
    let key = stk_indexer::auth::create_key(&store, "test-platform")
        .await
        .expect("create key")
        .expect("fresh name")
        .key;
    store
        .save_rules_text(&hex::encode(rules.hash()), rules_text)
        .await
        .expect("archive rules");
    let token = CancellationToken::new();
    let state = AppState::new(store.clone(), config.clone(), rules.clone());
    let server = Server::start(config.server.listen, state, token.clone())
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        key,
        store,
        config,
        rules,
        client: reqwest::Client::new(),
        dir,
        token,
        server: Some(server),
        pg_cleanup,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some((opts, name)) = self.pg_cleanup.take() {
            // Own runtime on its own thread: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = PgPool::connect_with(opts).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&admin)
                        .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Shuts the server down (stop accepting, drain, cut after the grace period) and waits.
    pub async fn shutdown_server(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("server stops cleanly");
        }
    }

    /// The server's `host:port`.
    pub fn authority(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn finish(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends only a request's head over a raw TCP connection and reads the response. For limits the
    /// server enforces from the headers alone (a declared body over the limit): sending the body
    /// too would race with the server answering and closing early (the client then sees a broken
    /// pipe instead of the response).
    pub async fn head_only(&self, method: &str, path: &str, headers: &[(&str, String)]) -> Resp {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority = self.base.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connect");
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write head");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, text) = raw.split_once("\r\n\r\n").expect("a complete response");
        let mut lines = head.lines();
        let code: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .expect("status line");
        let mut map = reqwest::header::HeaderMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                if let (Ok(k), Ok(v)) = (
                    reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()),
                    reqwest::header::HeaderValue::from_str(v.trim()),
                ) {
                    map.insert(k, v);
                }
            }
        }
        Resp {
            status: StatusCode::from_u16(code).expect("status code"),
            headers: map,
            body: serde_json::from_str(text).unwrap_or(Value::Null),
            text: text.to_string(),
        }
    }

    /// POST with the API key and a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.post_raw(
            path,
            serde_json::to_vec(body).unwrap(),
            Some("application/json"),
            Some(&self.key),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
        key: Option<&str>,
    ) -> Resp {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        Self::finish(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::finish(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn get_auth(&self, path: &str) -> Resp {
        Self::finish(
            self.client
                .get(self.url(path))
                .header("authorization", format!("Bearer {}", self.key))
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn create_member(&self, id: &str) {
        let r = self.post("/v1/members", &json!({ "id": id })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    pub async fn activate(&self, id: &str) {
        let r = self
            .post(&format!("/v1/members/{}/activate", enc(id)), &json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    /// Binds a fresh wallet through the challenge flow; returns its key.
    pub async fn bind_new_wallet(&self, member: &str) -> SigningKey {
        let sk = new_keypair();
        let wallet = wallet_of(&sk);
        let ch = self
            .get_auth(&format!(
                "/v1/members/{}/wallet/challenge?wallet={wallet}",
                enc(member)
            ))
            .await;
        assert_eq!(ch.status, StatusCode::OK, "{}", ch.text);
        let msg = ch.body["message"].as_str().unwrap();
        let sig = bs58::encode(sk.sign(msg.as_bytes()).to_bytes()).into_string();
        let r = self
            .post(
                &format!("/v1/members/{}/wallet", enc(member)),
                &json!({"wallet": wallet, "nonce": ch.body["nonce"], "signature": sig}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        sk
    }

    /// An active member with a bound wallet.
    pub async fn active_member(&self, id: &str) {
        self.create_member(id).await;
        self.activate(id).await;
        self.bind_new_wallet(id).await;
    }

    pub async fn activities_count(&self) -> u64 {
        self.store.count_activities(None).await.unwrap()
    }

    /// Start of epoch `n`.
    pub fn epoch_start(&self, n: u64) -> i64 {
        self.config.epoch_window(n).0
    }

    pub async fn healthy(&self) {
        let r = self.get("/healthz").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = self.get("/readyz").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}

pub fn new_keypair() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

pub fn wallet_of(sk: &SigningKey) -> String {
    bs58::encode(sk.verifying_key().as_bytes()).into_string()
}

/// Percent-encodes a path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn event(id: &str, member: &str, kind: &str, ts: i64) -> Value {
    json!({ "id": id, "member": member, "kind": kind, "occurred_at": rfc3339(ts) })
}
