//! A Solana JSON-RPC 2.0 endpoint over HTTP, backed by the in-process chain ([`LocalChainClient`]: the
//! real runtime with the STK program and the real SPL programs). `serve --local` runs it next to the
//! local pipeline on the same bank, so the Solana CLI, `solana-rpc-client`, `@solana/kit`/web3.js,
//! a browser wallet and this project's own commands can talk to the local chain like to a cluster.
//! The tests run `RpcChain` and the pipeline against it over real HTTP.
//!
//! Answers carry the wire shapes of an agave 3.1 node: they are built from the very types the 3.1
//! client deserializes (`solana-rpc-client-api`, `solana-account-decoder`), with the validator's error
//! codes (-32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid params,
//! -32002 preflight failure with the simulation in `data`, -32003 signature verification failure,
//! -32015 unsupported transaction version).
//!
//! What differs from a validator, on purpose:
//! * Block height is the endpoint's own counter: it moves only when [`RpcServer::advance_block_height`]
//!   is called (or with [`Faults::expire_on_drop`]). A blockhash handed out by `getLatestBlockhash` is
//!   valid until `height + VALID_BLOCKS`; a transaction with an expired or unknown blockhash fails
//!   preflight with `BlockhashNotFound`, like on a real node.
//! * The chain moves as it is watched: every `getSlot` advances the bank one slot.
//! * Signature statuses climb one commitment level per poll (processed, confirmed, finalized).
//! * History (`getTransaction`, `getSignaturesForAddress`, `getSignatureStatuses`) covers the
//!   transactions executed since the endpoint started, through it or through the local pipeline on the
//!   same chain (the bank keeps none of its own).
//! * `getProgramAccounts` / `getTokenAccountsByOwner` scan the accounts this chain has seen (every
//!   account of every transaction through the endpoint or the local pipeline, airdrop recipients,
//!   every account looked up): the in-process bank cannot list accounts.
//! * `simulateTransaction` does not return post-simulation `accounts` (the in-process bank does not
//!   expose them): asking for them is an invalid-params error, never a silent `null`.
//!
//! Bounds: a request body is at most [`MAX_REQUEST_BODY`] bytes (the validator's 50 KiB; larger is
//! HTTP 413 before anything is parsed), a batch at most [`MAX_BATCH`] calls.
// agave 3.1 marks solana-program-test's context "for the Agave Unstable API"; it is the bank we serve.
#![allow(deprecated)]

mod methods;
mod params;
mod transactions;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde_json::{json, Value};
use solana_sdk::{hash::Hash, signature::Signature, transaction::TransactionError};
use stk_localnet::LocalChain;
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

use super::local::LocalChainClient;

/// Blocks a blockhash stays valid for (the cluster's 150).
pub const VALID_BLOCKS: u64 = 150;
/// Largest request body accepted (the validator's `MAX_REQUEST_BODY_SIZE`, 50 KiB).
pub const MAX_REQUEST_BODY: usize = 50 * 1024;
/// Most calls in one batch request.
pub const MAX_BATCH: usize = 100;
/// The port a validator serves JSON-RPC on.
pub const DEFAULT_PORT: u16 = 8899;

/// Fault switches (for the tests of clients: lost packets, lost answers, a node that fails).
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// The next N `sendTransaction` calls answer with the signature and do nothing (a leader that
    /// never got the packet).
    pub drop_sends: usize,
    /// The next N transactions are executed, then their `sendTransaction` answers HTTP 503 (the
    /// answer is lost on the way back).
    pub lose_send_responses: usize,
    /// The next N requests of any method answer HTTP 503 before doing anything.
    pub fail_requests: usize,
    /// Every dropped send also moves the block height past every blockhash handed out so far.
    pub expire_on_drop: bool,
}

/// What happened to one `sendTransaction` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Dropped,
    Executed,
    /// Executed, answer lost (HTTP 503).
    ResponseLost,
    /// Preflight (or signature check) rejected it.
    Rejected(TransactionError),
    /// Failed on chain (only with skipPreflight).
    Failed(TransactionError),
}

#[derive(Debug, Clone)]
pub struct SendRecord {
    pub signature: Signature,
    pub blockhash: Hash,
    /// The blockhash's last valid block height (None: a blockhash the endpoint never handed out).
    pub last_valid: Option<u64>,
    /// The endpoint's block height when the request arrived.
    pub height: u64,
    pub outcome: SendOutcome,
}

/// A transaction executed on the chain behind the endpoint (through it, or by the local pipeline).
pub type TxRecord = super::local::ExecutedTx;

pub(crate) struct Inner {
    chain: LocalChainClient,
    height: u64,
    blockhashes: HashMap<Hash, u64>,
    /// The last blockhash `getLatestBlockhash` returned.
    last_blockhash: Option<Hash>,
    /// While set, `getLatestBlockhash` keeps answering this one (a node whose blockhash has not moved).
    frozen_blockhash: Option<Hash>,
    status_polls: HashMap<Signature, u32>,
    faults: Faults,
    sends: Vec<SendRecord>,
    calls: HashMap<String, usize>,
}

/// A running endpoint. Dropping it stops the server.
pub struct RpcServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicUsize>,
}

impl RpcServer {
    /// Serves `chain` on `addr` (port 0: a free port).
    pub async fn start(chain: LocalChainClient, addr: SocketAddr) -> std::io::Result<Self> {
        chain.keep_history();
        let inner = Arc::new(Mutex::new(Inner {
            chain,
            height: 1_000,
            blockhashes: HashMap::new(),
            last_blockhash: None,
            frozen_blockhash: None,
            status_polls: HashMap::new(),
            faults: Faults::default(),
            sends: Vec::new(),
            calls: HashMap::new(),
        }));
        let requests = Arc::new(AtomicUsize::new(0));
        let state = AppState {
            inner: inner.clone(),
            requests: requests.clone(),
        };
        let app = Router::new()
            .route("/", post(handle))
            .route("/health", get(health))
            // The body is read into memory only up to the limit (HTTP 413 beyond it).
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
            .with_state(state);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "JSON-RPC endpoint stopped");
            }
        });
        Ok(Self {
            url: format!("http://{addr}"),
            addr,
            inner,
            requests,
            server,
        })
    }

    /// Serves a fresh in-process chain on 127.0.0.1 (a free port).
    pub async fn start_local(chain: LocalChain) -> std::io::Result<Self> {
        Self::start(
            LocalChainClient::new(chain),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
    }

    /// The chain behind the endpoint (the same bank, shared).
    pub async fn chain(&self) -> LocalChainClient {
        self.inner.lock().await.chain.clone()
    }

    pub async fn set_faults(&self, faults: Faults) {
        self.inner.lock().await.faults = faults;
    }

    pub async fn faults(&self) -> Faults {
        self.inner.lock().await.faults.clone()
    }

    pub async fn drop_sends(&self, n: usize) {
        self.inner.lock().await.faults.drop_sends = n;
    }

    pub async fn lose_send_responses(&self, n: usize) {
        self.inner.lock().await.faults.lose_send_responses = n;
    }

    pub async fn fail_requests(&self, n: usize) {
        self.inner.lock().await.faults.fail_requests = n;
    }

    /// Moves the block height `n` blocks ahead (and the bank one slot, so a new blockhash exists).
    pub async fn advance_block_height(&self, n: u64) {
        let mut inner = self.inner.lock().await;
        inner.height = inner.height.saturating_add(n);
        inner.chain.with(async |c| c.advance_slots(1).await).await;
    }

    /// While `frozen`, `getLatestBlockhash` keeps returning the blockhash it returned last.
    pub async fn freeze_blockhash(&self, frozen: bool) {
        let mut inner = self.inner.lock().await;
        inner.frozen_blockhash = if frozen { inner.last_blockhash } else { None };
    }

    pub async fn block_height(&self) -> u64 {
        self.inner.lock().await.height
    }

    /// Every `sendTransaction` request so far.
    pub async fn sends(&self) -> Vec<SendRecord> {
        self.inner.lock().await.sends.clone()
    }

    pub async fn transaction(&self, signature: &Signature) -> Option<TxRecord> {
        let chain = self.chain().await;
        chain.history(|h| h.txs.get(signature).cloned())
    }

    /// Transactions executed on the chain since the endpoint started (successful or not; through the
    /// endpoint or the local pipeline).
    pub async fn executed(&self) -> usize {
        let chain = self.chain().await;
        chain.history(|h| h.txs.len())
    }

    /// Requests received by method (requests failed by `fail_requests` included).
    pub async fn calls(&self, method: &str) -> usize {
        self.inner
            .lock()
            .await
            .calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// HTTP requests received, of any method.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Direct access to the chain behind the endpoint.
    pub async fn with_chain<R>(&self, f: impl AsyncFnOnce(&mut LocalChain) -> R) -> R {
        let chain = self.chain().await;
        chain.with(f).await
    }
}

/// An error answer: a JSON-RPC error object, or an HTTP-level failure.
pub(crate) enum RpcFailure {
    Error {
        code: i64,
        message: String,
        data: Option<Value>,
    },
    Http(StatusCode),
}

impl RpcFailure {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(-32602, message)
    }

    fn object(&self) -> Value {
        match self {
            Self::Error {
                code,
                message,
                data,
            } => {
                let mut error = json!({ "code": code, "message": message });
                if let Some(data) = data {
                    error["data"] = data.clone();
                }
                error
            }
            Self::Http(status) => json!({ "code": -32603, "message": status.to_string() }),
        }
    }
}

pub(crate) type RpcResult = Result<Value, RpcFailure>;

fn error_response(id: Value, error: &RpcFailure) -> Value {
    json!({ "jsonrpc": "2.0", "error": error.object(), "id": id })
}

fn json_reply(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        value.to_string(),
    )
        .into_response()
}

async fn health() -> &'static str {
    "ok"
}

async fn handle(State(state): State<AppState>, body: Bytes) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json_reply(&error_response(
            Value::Null,
            &RpcFailure::new(-32700, "Parse error"),
        ));
    };
    match request {
        Value::Array(calls) => {
            if calls.is_empty() {
                return json_reply(&error_response(
                    Value::Null,
                    &RpcFailure::new(-32600, "Invalid request"),
                ));
            }
            if calls.len() > MAX_BATCH {
                return json_reply(&error_response(
                    Value::Null,
                    &RpcFailure::new(
                        -32600,
                        format!(
                            "Invalid request: a batch holds at most {MAX_BATCH} calls, not {}",
                            calls.len()
                        ),
                    ),
                ));
            }
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                match one_call(&state, call).await {
                    Ok(Some(answer)) => answers.push(answer),
                    Ok(None) => {}
                    // A fault switch fails the whole HTTP request.
                    Err(status) => return (status, "temporarily unavailable").into_response(),
                }
            }
            if answers.is_empty() {
                // Only notifications: nothing to answer.
                return StatusCode::OK.into_response();
            }
            json_reply(&Value::Array(answers))
        }
        call => match one_call(&state, call).await {
            Ok(Some(answer)) => json_reply(&answer),
            Ok(None) => StatusCode::OK.into_response(),
            Err(status) => (status, "temporarily unavailable").into_response(),
        },
    }
}

/// One JSON-RPC call: its answer (None for a notification), or an HTTP status from a fault switch.
async fn one_call(state: &AppState, call: Value) -> Result<Option<Value>, StatusCode> {
    let Value::Object(call) = call else {
        return Ok(Some(error_response(
            Value::Null,
            &RpcFailure::new(-32600, "Invalid request"),
        )));
    };
    let id = match call.get("id") {
        None => None,
        Some(id @ (Value::Null | Value::Number(_) | Value::String(_))) => Some(id.clone()),
        Some(_) => {
            return Ok(Some(error_response(
                Value::Null,
                &RpcFailure::new(-32600, "Invalid request"),
            )))
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    let (Some(Value::String(version)), Some(Value::String(method))) =
        (call.get("jsonrpc"), call.get("method"))
    else {
        return Ok(Some(error_response(
            reply_id,
            &RpcFailure::new(-32600, "Invalid request"),
        )));
    };
    if version != "2.0" {
        return Ok(Some(error_response(
            reply_id,
            &RpcFailure::new(-32600, "Invalid request"),
        )));
    }
    let params = match call.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Ok(Some(error_response(
                reply_id,
                &RpcFailure::invalid_params("Invalid params: expected an array of parameters."),
            )))
        }
    };
    let mut inner = state.inner.lock().await;
    *inner.calls.entry(method.clone()).or_default() += 1;
    if inner.faults.fail_requests > 0 {
        inner.faults.fail_requests -= 1;
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let result = inner.dispatch(method, &params).await;
    drop(inner);
    let answer = match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "result": result, "id": reply_id }),
        Err(RpcFailure::Http(status)) => return Err(status),
        Err(error) => error_response(reply_id, &error),
    };
    Ok(id.map(|_| answer))
}
