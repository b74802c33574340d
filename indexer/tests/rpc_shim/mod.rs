//! A small Solana JSON-RPC 2.0 node over HTTP, backed by the in-process chain (`stk_localnet::LocalChain`:
//! the real runtime with the STK program and the real SPL programs). It serves exactly the methods
//! `RpcChain` uses, with the JSON shapes of an agave 3.1 node (answers are built from the very types
//! the 3.1 client deserializes), plus fault switches for the tests.
//!
//! * Block height is the shim's own counter: it moves only when a test calls
//!   [`Shim::advance_block_height`] (or with [`Faults::expire_on_drop`]). A blockhash handed out by
//!   `getLatestBlockhash` is valid until `height + VALID_BLOCKS`; a transaction with an expired or
//!   unknown blockhash fails preflight with `BlockhashNotFound`, like on a real node.
//! * The chain moves as it is watched: every `getSlot` advances the bank one slot.
//! * Signature statuses climb one commitment level per poll (processed, confirmed, finalized).
//! * `sendTransaction` verifies signatures, rejects replays (`AlreadyProcessed`), runs preflight
//!   (simulation on the bank; failure → JSON-RPC error -32002 with `data.err`), then executes the
//!   transaction and records its real inner instructions for `getTransaction`.
#![allow(dead_code)]
// agave 3.1 marks solana-program-test's context "for the Agave Unstable API"; it is the bank we serve.
#![allow(deprecated)]

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::post, Json, Router};
use base64::{prelude::BASE64_STANDARD, Engine};
use serde_json::{json, Value};
use solana_rpc_client_api::response::{
    OptionSerializer, RpcBlockhash, RpcConfirmedTransactionStatusWithSignature,
    RpcSimulateTransactionResult, TransactionConfirmationStatus, UiAccount, UiAccountData,
    UiAccountEncoding, UiCompiledInstruction, UiInnerInstructions, UiInstruction,
    UiLoadedAddresses, UiTransactionStatusMeta,
};
use solana_sdk::{
    account::Account,
    hash::Hash,
    message::{AddressLookupTableAccount, VersionedMessage},
    pubkey::Pubkey,
    signature::Signature,
    transaction::{TransactionError, TransactionVersion, VersionedTransaction},
};
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, EncodedTransaction,
    EncodedTransactionWithStatusMeta, TransactionBinaryEncoding, TransactionStatus,
};
use stk_localnet::{alt, BanksClientError, LocalChain};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

/// Blocks a blockhash stays valid for (the cluster's 150).
pub const VALID_BLOCKS: u64 = 150;
/// Lamports per signature (the runtime's default fee).
const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// Fault switches.
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
    /// The blockhash's last valid block height (None: a blockhash the shim never handed out).
    pub last_valid: Option<u64>,
    /// The shim's block height when the request arrived.
    pub height: u64,
    pub outcome: SendOutcome,
}

/// A transaction on the shim's chain.
#[derive(Debug, Clone)]
pub struct TxRecord {
    pub tx: VersionedTransaction,
    pub slot: u64,
    pub err: Option<TransactionError>,
    pub fee: u64,
    pub compute_units: u64,
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
    pub loaded: (Vec<Pubkey>, Vec<Pubkey>),
    pub inner: Vec<UiInnerInstructions>,
    pub logs: Vec<String>,
    pub block_time: i64,
}

struct Inner {
    chain: LocalChain,
    height: u64,
    blockhashes: HashMap<Hash, u64>,
    /// The last blockhash `getLatestBlockhash` returned.
    last_blockhash: Option<Hash>,
    /// While set, `getLatestBlockhash` keeps answering this one (a node whose blockhash has not moved).
    frozen_blockhash: Option<Hash>,
    txs: HashMap<Signature, TxRecord>,
    /// Per address, oldest first.
    by_address: HashMap<Pubkey, Vec<Signature>>,
    status_polls: HashMap<Signature, u32>,
    faults: Faults,
    sends: Vec<SendRecord>,
    calls: HashMap<String, usize>,
}

/// A running shim. Dropping it stops the server.
pub struct Shim {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicUsize>,
    server: JoinHandle<()>,
}

impl Drop for Shim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicUsize>,
}

type RpcResult = Result<Value, RpcFailure>;

enum RpcFailure {
    /// A JSON-RPC error object.
    Error {
        code: i64,
        message: String,
        data: Option<Value>,
    },
    /// An HTTP-level failure.
    Http(StatusCode),
}

fn invalid_params(message: impl Into<String>) -> RpcFailure {
    RpcFailure::Error {
        code: -32602,
        message: message.into(),
        data: None,
    }
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("RPC types serialize")
}

impl Shim {
    /// Serves `chain` on 127.0.0.1 (a free port).
    pub async fn start(chain: LocalChain) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            chain,
            height: 1_000,
            blockhashes: HashMap::new(),
            last_blockhash: None,
            frozen_blockhash: None,
            txs: HashMap::new(),
            by_address: HashMap::new(),
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
        let app = Router::new().route("/", post(handle)).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("shim server runs");
        });
        Self {
            url,
            inner,
            requests,
            server,
        }
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
        inner.height += n;
        inner.chain.advance_slots(1).await;
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
        self.inner.lock().await.txs.get(signature).cloned()
    }

    /// Transactions executed on the chain (successful or not).
    pub async fn executed(&self) -> usize {
        self.inner.lock().await.txs.len()
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

    /// Direct access to the chain behind the shim.
    pub async fn with_chain<R>(&self, f: impl AsyncFnOnce(&mut LocalChain) -> R) -> R {
        let mut inner = self.inner.lock().await;
        f(&mut inner.chain).await
    }
}

async fn handle(
    State(state): State<AppState>,
    Json(request): Json<Value>,
) -> axum::response::Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let params = match &request["params"] {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let mut inner = state.inner.lock().await;
    *inner.calls.entry(method.clone()).or_default() += 1;
    if inner.faults.fail_requests > 0 {
        inner.faults.fail_requests -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable").into_response();
    }
    let result = inner.dispatch(&method, &params).await;
    drop(inner);
    match result {
        Ok(result) => Json(json!({ "jsonrpc": "2.0", "id": id, "result": result })).into_response(),
        Err(RpcFailure::Http(status)) => (status, "unavailable").into_response(),
        Err(RpcFailure::Error {
            code,
            message,
            data,
        }) => {
            let mut error = json!({ "code": code, "message": message });
            if let Some(data) = data {
                error["data"] = data;
            }
            Json(json!({ "jsonrpc": "2.0", "id": id, "error": error })).into_response()
        }
    }
}

fn param_str(params: &[Value], i: usize) -> Result<&str, RpcFailure> {
    params
        .get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params(format!("parameter {i} must be a string")))
}

fn parse_pubkey(s: &str) -> Result<Pubkey, RpcFailure> {
    s.parse()
        .map_err(|_| invalid_params(format!("Invalid param: {s:?} is not a pubkey")))
}

fn parse_signature(s: &str) -> Result<Signature, RpcFailure> {
    s.parse()
        .map_err(|_| invalid_params(format!("Invalid param: {s:?} is not a signature")))
}

fn config(params: &[Value], i: usize) -> Value {
    params.get(i).cloned().unwrap_or(Value::Null)
}

fn ui_account(account: &Account) -> UiAccount {
    UiAccount {
        lamports: account.lamports,
        data: UiAccountData::Binary(
            BASE64_STANDARD.encode(&account.data),
            UiAccountEncoding::Base64,
        ),
        owner: account.owner.to_string(),
        executable: account.executable,
        rent_epoch: account.rent_epoch,
        space: Some(account.data.len() as u64),
    }
}

/// Priority fee of a message: compute-unit price (µlamports) × limit, rounded up.
fn priority_fee(tx: &VersionedTransaction) -> u64 {
    let keys = tx.message.static_account_keys();
    let budget = stk_localnet::ComputeBudgetInstruction::set_compute_unit_limit(0).program_id;
    let (mut price, mut limit) = (0u128, 200_000u128);
    for ix in tx.message.instructions() {
        if keys.get(ix.program_id_index as usize) != Some(&budget) {
            continue;
        }
        match ix.data.split_first() {
            Some((2, rest)) if rest.len() >= 4 => {
                limit = u32::from_le_bytes(rest[..4].try_into().unwrap()) as u128;
            }
            Some((3, rest)) if rest.len() >= 8 => {
                price = u64::from_le_bytes(rest[..8].try_into().unwrap()) as u128;
            }
            _ => {}
        }
    }
    (price * limit).div_ceil(1_000_000) as u64
}

impl Inner {
    async fn dispatch(&mut self, method: &str, params: &[Value]) -> RpcResult {
        match method {
            "getLatestBlockhash" => self.latest_blockhash().await,
            "getBlockHeight" => Ok(json!(self.height)),
            "getSlot" => {
                let slot = self.chain.slot().await;
                self.chain.advance_slots(1).await;
                Ok(json!(slot))
            }
            "sendTransaction" => self.send_transaction(params).await,
            "getSignatureStatuses" => self.signature_statuses(params).await,
            "getAccountInfo" => {
                let key = parse_pubkey(param_str(params, 0)?)?;
                check_base64(&config(params, 1))?;
                let account = self.chain.account(&key).await;
                let value = account.as_ref().map(ui_account);
                Ok(json!({ "context": self.context().await, "value": json_of(&value) }))
            }
            "getMultipleAccounts" => {
                let keys = params
                    .first()
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid_params("parameter 0 must be an array of pubkeys"))?;
                if keys.len() > 100 {
                    return Err(invalid_params("Too many inputs provided; max 100"));
                }
                check_base64(&config(params, 1))?;
                let mut values = Vec::new();
                for key in keys {
                    let key = parse_pubkey(key.as_str().unwrap_or_default())?;
                    values.push(self.chain.account(&key).await.as_ref().map(ui_account));
                }
                Ok(json!({ "context": self.context().await, "value": json_of(&values) }))
            }
            "getSignaturesForAddress" => self.signatures_for_address(params),
            "getTransaction" => self.get_transaction(params),
            _ => Err(RpcFailure::Error {
                code: -32601,
                message: "Method not found".into(),
                data: None,
            }),
        }
    }

    async fn context(&mut self) -> Value {
        json!({ "slot": self.chain.slot().await })
    }

    async fn latest_blockhash(&mut self) -> RpcResult {
        let blockhash = match self.frozen_blockhash {
            Some(hash) => hash,
            None => self
                .chain
                .ctx
                .banks_client
                .get_latest_blockhash()
                .await
                .expect("the in-process bank answers"),
        };
        self.last_blockhash = Some(blockhash);
        let height = self.height;
        let last_valid = *self
            .blockhashes
            .entry(blockhash)
            .or_insert(height + VALID_BLOCKS);
        let value = RpcBlockhash {
            blockhash: blockhash.to_string(),
            last_valid_block_height: last_valid,
        };
        Ok(json!({ "context": self.context().await, "value": json_of(&value) }))
    }

    fn preflight_failure(
        err: TransactionError,
        logs: Vec<String>,
        units: Option<u64>,
    ) -> RpcFailure {
        let message = format!("Transaction simulation failed: {err}");
        let data = RpcSimulateTransactionResult {
            err: Some(err.into()),
            logs: Some(logs),
            accounts: None,
            units_consumed: units,
            loaded_accounts_data_size: None,
            return_data: None,
            inner_instructions: None,
            replacement_blockhash: None,
            fee: None,
            pre_balances: None,
            post_balances: None,
            pre_token_balances: None,
            post_token_balances: None,
            loaded_addresses: None,
        };
        RpcFailure::Error {
            code: -32002,
            message,
            data: Some(json_of(&data)),
        }
    }

    /// The lookup tables a v0 transaction uses, read from the bank.
    async fn tables(
        &mut self,
        tx: &VersionedTransaction,
    ) -> Result<Vec<AddressLookupTableAccount>, TransactionError> {
        let mut out = Vec::new();
        for lookup in tx.message.address_table_lookups().unwrap_or_default() {
            let account = self
                .chain
                .account(&lookup.account_key)
                .await
                .ok_or(TransactionError::AddressLookupTableNotFound)?;
            let table = alt::state::AddressLookupTable::deserialize(&account.data)
                .map_err(|_| TransactionError::InvalidAddressLookupTableData)?;
            out.push(AddressLookupTableAccount {
                key: lookup.account_key,
                addresses: table.addresses.to_vec(),
            });
        }
        Ok(out)
    }

    async fn send_transaction(&mut self, params: &[Value]) -> RpcResult {
        let blob = param_str(params, 0)?;
        let cfg = config(params, 1);
        let bytes = match cfg["encoding"].as_str().unwrap_or("base58") {
            "base64" => BASE64_STANDARD
                .decode(blob)
                .map_err(|e| invalid_params(format!("invalid base64 encoding: {e}")))?,
            "base58" => bs58::decode(blob)
                .into_vec()
                .map_err(|e| invalid_params(format!("invalid base58 encoding: {e}")))?,
            other => return Err(invalid_params(format!("unsupported encoding {other}"))),
        };
        let tx: VersionedTransaction = bincode::deserialize(&bytes).map_err(|e| {
            invalid_params(format!("failed to deserialize VersionedTransaction: {e}"))
        })?;
        let signature = tx.signatures[0];
        let blockhash = *tx.message.recent_blockhash();
        let last_valid = self.blockhashes.get(&blockhash).copied();
        let mut record = SendRecord {
            signature,
            blockhash,
            last_valid,
            height: self.height,
            outcome: SendOutcome::Executed,
        };
        if !tx.verify_with_results().iter().all(|ok| *ok) {
            record.outcome = SendOutcome::Rejected(TransactionError::SignatureFailure);
            self.sends.push(record);
            return Err(RpcFailure::Error {
                code: -32003,
                message: "Transaction signature verification failure".into(),
                data: None,
            });
        }
        if self.faults.drop_sends > 0 {
            self.faults.drop_sends -= 1;
            record.outcome = SendOutcome::Dropped;
            self.sends.push(record);
            if self.faults.expire_on_drop {
                let highest = self
                    .blockhashes
                    .values()
                    .copied()
                    .max()
                    .unwrap_or(self.height);
                self.height = self.height.max(highest) + 1;
                self.chain.advance_slots(1).await;
            }
            return Ok(json!(signature.to_string()));
        }
        let skip_preflight = cfg["skipPreflight"].as_bool().unwrap_or(false);
        // Checks a node makes before (and regardless of) simulation.
        let early = if self.txs.contains_key(&signature) {
            Some(TransactionError::AlreadyProcessed)
        } else if last_valid.is_none_or(|lv| lv < self.height) {
            Some(TransactionError::BlockhashNotFound)
        } else {
            None
        };
        if let Some(err) = early {
            record.outcome = SendOutcome::Rejected(err.clone());
            self.sends.push(record);
            return Err(Self::preflight_failure(err, Vec::new(), None));
        }
        let tables = match self.tables(&tx).await {
            Ok(t) => t,
            Err(err) => {
                record.outcome = SendOutcome::Rejected(err.clone());
                self.sends.push(record);
                return Err(Self::preflight_failure(err, Vec::new(), None));
            }
        };
        let simulation = self
            .chain
            .ctx
            .banks_client
            .simulate_transaction(tx.clone())
            .await
            .expect("the in-process bank simulates");
        let details = simulation
            .simulation_details
            .unwrap_or_else(|| panic!("simulation of {signature} returned no details"));
        if let Some(Err(err)) = simulation.result {
            if !skip_preflight {
                record.outcome = SendOutcome::Rejected(err.clone());
                self.sends.push(record);
                return Err(Self::preflight_failure(
                    err,
                    details.logs,
                    Some(details.units_consumed),
                ));
            }
        }
        // Execute for real.
        let keys = stk_localnet::message_keys(&tx, &tables);
        let mut pre_balances = Vec::with_capacity(keys.len());
        for k in &keys {
            pre_balances.push(self.chain.lamports(k).await);
        }
        let slot = self.chain.slot().await;
        let block_time = self.chain.now().await;
        let (err, compute_units) = match self.chain.process(tx.clone()).await {
            Ok((_, cost)) => (None, cost.compute_units),
            Err(BanksClientError::TransactionError(e)) => (Some(e), details.units_consumed),
            Err(e) => panic!("the in-process bank failed: {e}"),
        };
        let mut post_balances = Vec::with_capacity(keys.len());
        for k in &keys {
            post_balances.push(self.chain.lamports(k).await);
        }
        let inner = details
            .inner_instructions
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(index, list)| UiInnerInstructions {
                index: index as u8,
                instructions: list
                    .iter()
                    .map(|i| {
                        UiInstruction::Compiled(UiCompiledInstruction::from(
                            &i.instruction,
                            Some(u32::from(i.stack_height)),
                        ))
                    })
                    .collect(),
            })
            .collect();
        let statics = tx.message.static_account_keys().len();
        let writable_loaded: usize = tx
            .message
            .address_table_lookups()
            .unwrap_or_default()
            .iter()
            .map(|l| l.writable_indexes.len())
            .sum();
        let loaded = (
            keys[statics..statics + writable_loaded].to_vec(),
            keys[statics + writable_loaded..].to_vec(),
        );
        let fee = LAMPORTS_PER_SIGNATURE * tx.signatures.len() as u64 + priority_fee(&tx);
        for k in &keys {
            let list = self.by_address.entry(*k).or_default();
            if list.last() != Some(&signature) {
                list.push(signature);
            }
        }
        self.txs.insert(
            signature,
            TxRecord {
                tx,
                slot,
                err: err.clone(),
                fee,
                compute_units,
                pre_balances,
                post_balances,
                loaded,
                inner,
                logs: details.logs,
                block_time,
            },
        );
        record.outcome = match err {
            Some(e) => SendOutcome::Failed(e),
            None => SendOutcome::Executed,
        };
        if self.faults.lose_send_responses > 0 {
            self.faults.lose_send_responses -= 1;
            record.outcome = SendOutcome::ResponseLost;
            self.sends.push(record);
            return Err(RpcFailure::Http(StatusCode::SERVICE_UNAVAILABLE));
        }
        self.sends.push(record);
        Ok(json!(signature.to_string()))
    }

    async fn signature_statuses(&mut self, params: &[Value]) -> RpcResult {
        let sigs = params
            .first()
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_params("parameter 0 must be an array of signatures"))?;
        if sigs.len() > 256 {
            return Err(invalid_params("Too many inputs provided; max 256"));
        }
        let mut values = Vec::new();
        for s in sigs {
            let signature = parse_signature(s.as_str().unwrap_or_default())?;
            let Some(record) = self.txs.get(&signature) else {
                values.push(None);
                continue;
            };
            let polls = self.status_polls.entry(signature).or_default();
            let (confirmations, level) = match *polls {
                0 => (Some(0), TransactionConfirmationStatus::Processed),
                1 => (Some(1), TransactionConfirmationStatus::Confirmed),
                _ => (None, TransactionConfirmationStatus::Finalized),
            };
            *polls += 1;
            values.push(Some(TransactionStatus {
                slot: record.slot,
                confirmations,
                status: match &record.err {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                },
                err: record.err.clone(),
                confirmation_status: Some(level),
            }));
        }
        Ok(json!({ "context": self.context().await, "value": json_of(&values) }))
    }

    fn signatures_for_address(&self, params: &[Value]) -> RpcResult {
        let address = parse_pubkey(param_str(params, 0)?)?;
        let cfg = config(params, 1);
        let limit = cfg["limit"].as_u64().unwrap_or(1000) as usize;
        if !(1..=1000).contains(&limit) {
            return Err(invalid_params("Invalid limit; max 1000"));
        }
        let before = cfg["before"].as_str().map(parse_signature).transpose()?;
        let until = cfg["until"].as_str().map(parse_signature).transpose()?;
        let list = self.by_address.get(&address).cloned().unwrap_or_default();
        let mut out = Vec::new();
        let mut started = before.is_none();
        for signature in list.iter().rev() {
            if !started {
                started = Some(*signature) == before;
                continue;
            }
            if Some(*signature) == until || out.len() >= limit {
                break;
            }
            let record = &self.txs[signature];
            out.push(RpcConfirmedTransactionStatusWithSignature {
                signature: signature.to_string(),
                slot: record.slot,
                err: record.err.clone().map(Into::into),
                memo: None,
                block_time: Some(record.block_time),
                confirmation_status: Some(TransactionConfirmationStatus::Finalized),
            });
        }
        Ok(json_of(&out))
    }

    fn get_transaction(&self, params: &[Value]) -> RpcResult {
        let signature = parse_signature(param_str(params, 0)?)?;
        let cfg = config(params, 1);
        let encoding = cfg["encoding"].as_str().unwrap_or("json");
        if encoding != "base64" {
            return Err(invalid_params(format!(
                "the shim serves base64 only, not {encoding}"
            )));
        }
        if cfg["commitment"].as_str() == Some("processed") {
            return Err(invalid_params(
                "Method does not support commitment below `confirmed`",
            ));
        }
        let Some(record) = self.txs.get(&signature) else {
            return Ok(Value::Null);
        };
        let version = match &record.tx.message {
            VersionedMessage::Legacy(_) => TransactionVersion::LEGACY,
            VersionedMessage::V0(_) => {
                if cfg["maxSupportedTransactionVersion"].as_u64().is_none() {
                    return Err(RpcFailure::Error {
                        code: -32015,
                        message:
                            "Transaction version (0) is not supported by the requesting client. \
                                  Please try the request again with the following configuration \
                                  parameter: \"maxSupportedTransactionVersion\": 0"
                                .into(),
                        data: None,
                    });
                }
                TransactionVersion::Number(0)
            }
        };
        let is_v0 = matches!(version, TransactionVersion::Number(_));
        let meta = UiTransactionStatusMeta {
            err: record.err.clone().map(Into::into),
            status: match &record.err {
                Some(e) => Err(e.clone().into()),
                None => Ok(()),
            },
            fee: record.fee,
            pre_balances: record.pre_balances.clone(),
            post_balances: record.post_balances.clone(),
            inner_instructions: OptionSerializer::Some(record.inner.clone()),
            log_messages: OptionSerializer::Some(record.logs.clone()),
            pre_token_balances: OptionSerializer::None,
            post_token_balances: OptionSerializer::None,
            rewards: OptionSerializer::None,
            loaded_addresses: if is_v0 {
                OptionSerializer::Some(UiLoadedAddresses {
                    writable: record.loaded.0.iter().map(ToString::to_string).collect(),
                    readonly: record.loaded.1.iter().map(ToString::to_string).collect(),
                })
            } else {
                OptionSerializer::Skip
            },
            return_data: OptionSerializer::Skip,
            compute_units_consumed: OptionSerializer::Some(record.compute_units),
            cost_units: OptionSerializer::Skip,
        };
        let bytes = bincode::serialize(&record.tx).expect("transactions serialize");
        let result = EncodedConfirmedTransactionWithStatusMeta {
            slot: record.slot,
            transaction: EncodedTransactionWithStatusMeta {
                transaction: EncodedTransaction::Binary(
                    BASE64_STANDARD.encode(bytes),
                    TransactionBinaryEncoding::Base64,
                ),
                meta: Some(meta),
                version: Some(version),
            },
            block_time: Some(record.block_time),
        };
        Ok(json_of(&result))
    }
}

fn check_base64(cfg: &Value) -> Result<(), RpcFailure> {
    match cfg["encoding"].as_str() {
        Some("base64") => Ok(()),
        other => Err(invalid_params(format!(
            "the shim serves accounts in base64 only, not {other:?}"
        ))),
    }
}
