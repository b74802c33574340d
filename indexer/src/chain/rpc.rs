//! A Solana cluster over JSON-RPC behind the [`Chain`] trait.
//!
//! # Sending
//! [`RpcChain::send`] compiles a v0 message against the latest blockhash, signs it and submits it with
//! preflight. From then on the **same signed transaction** is re-sent (every
//! [`RpcOptions::resend_interval`]) while its blockhash is valid, and its status is polled until it
//! reaches the configured commitment. It is re-signed with a new blockhash only once the node's block
//! height has passed the blockhash's `last_valid_block_height` *and* the signature is still unknown
//! (checked again, with history, after the height has passed): from then on the old transaction can
//! never land, so the new one cannot make the instructions run twice. Re-signs are bounded by
//! [`RpcOptions::max_resigns`].
//!
//! # Errors
//! * A transaction that fails (on chain, or in the preflight of its first submission) is
//!   [`ChainError::Transaction`]: final, never retried.
//! * Transport failures (connection refused, timeouts, HTTP 5xx/429, unhealthy node) are retried with
//!   exponential backoff ([`RpcOptions::max_retries`] retries per call), then surface as
//!   [`ChainError::Transport`].
//! * A transaction not confirmed within [`RpcOptions::confirm_timeout`] (or after
//!   [`RpcOptions::max_resigns`] expired blockhashes) is [`ChainError::NotConfirmed`]; the message
//!   says until which block height it may still land.
use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use serde_json::json;
use solana_commitment_config::CommitmentConfig;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_rpc_client::{
    nonblocking::rpc_client::RpcClient, rpc_client::GetConfirmedSignaturesForAddress2Config,
};
use solana_rpc_client_api::{
    client_error::{Error as ClientError, ErrorKind as ClientErrorKind},
    config::{RpcAccountInfoConfig, RpcSendTransactionConfig, RpcTransactionConfig},
    custom_error,
    request::{RpcError, RpcRequest},
    response::{Response, UiAccount, UiAccountEncoding},
};
use solana_sdk::{
    account::Account,
    hash::Hash,
    instruction::Instruction,
    message::{v0, AddressLookupTableAccount, VersionedMessage},
    pubkey::Pubkey,
    signature::{Keypair, Signature},
    signer::Signer,
    transaction::{TransactionError, VersionedTransaction},
};
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, TransactionStatus, UiInstruction,
    UiParsedInstruction, UiTransactionEncoding,
};
use tokio::time::{sleep, Instant};

use super::{Chain, ChainError, ChainEvent, Sent};

/// Accounts per `getMultipleAccounts` call (the RPC limit).
const ACCOUNTS_PER_CALL: usize = 100;
/// Signatures per `getSignaturesForAddress` call (the RPC limit).
const MAX_SIGNATURE_PAGE: usize = 1000;
/// The Clock sysvar's address.
const CLOCK_SYSVAR: Pubkey = solana_sdk::pubkey!("SysvarC1ock11111111111111111111111111111111");
/// Offset of `unix_timestamp` (i64 LE) in the Clock sysvar: after slot, epoch_start_timestamp, epoch,
/// leader_schedule_epoch (u64/i64 each).
const CLOCK_UNIX_TIMESTAMP: std::ops::Range<usize> = 32..40;

/// How [`RpcChain`] talks to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcOptions {
    /// When set, `send` prepends `SetComputeUnitLimit` (unless the caller's instructions already hold
    /// a compute-budget instruction).
    pub compute_unit_limit: Option<u32>,
    /// When set, `send` prepends `SetComputeUnitPrice` (priority fee; same exception as above).
    pub compute_unit_price_micro_lamports: Option<u64>,
    /// Retries of one RPC call after a transport failure (so at most `max_retries + 1` attempts).
    pub max_retries: usize,
    /// First backoff delay between retries (doubles each retry, with jitter, up to 32x).
    pub retry_min_delay: Duration,
    /// How long `send` waits for confirmation in total (all re-signs included).
    pub confirm_timeout: Duration,
    /// Between two status polls (and slot polls in `wait_past_slot`).
    pub poll_interval: Duration,
    /// Between two submissions of the same signed transaction while it is unknown and valid.
    pub resend_interval: Duration,
    /// New blockhashes `send` signs with after the previous one expired unconfirmed.
    pub max_resigns: usize,
    /// HTTP timeout of one RPC request.
    pub request_timeout: Duration,
    /// Signatures per `getSignaturesForAddress` page in `events` (at most 1,000).
    pub signature_page_size: usize,
}

impl Default for RpcOptions {
    fn default() -> Self {
        Self {
            compute_unit_limit: None,
            compute_unit_price_micro_lamports: None,
            max_retries: 5,
            retry_min_delay: Duration::from_millis(250),
            confirm_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_millis(500),
            resend_interval: Duration::from_secs(2),
            max_resigns: 3,
            request_timeout: Duration::from_secs(30),
            signature_page_size: MAX_SIGNATURE_PAGE,
        }
    }
}

/// A Solana cluster over JSON-RPC.
pub struct RpcChain {
    rpc: RpcClient,
    /// The URL without credentials or query (API keys often ride in it), for messages and logs.
    url: String,
    commitment: CommitmentConfig,
    options: RpcOptions,
}

/// What happened to one signed transaction.
enum Attempt {
    Confirmed {
        slot: u64,
    },
    /// Its blockhash expired and the signature is unknown: it can never land.
    Expired,
}

/// Outcome of one submission (`sendTransaction`, retried on transport errors).
enum Submitted {
    /// The node accepted it (or had already processed it).
    Accepted,
    /// Preflight rejected it: the transaction error, and whether an earlier request for the same
    /// signature may have reached the node (then this rejection decides nothing).
    Rejected {
        error: TransactionError,
        maybe_sent_before: bool,
    },
    /// The node does not know its blockhash (expired, or the node lags): this copy was not taken.
    UnknownBlockhash,
}

impl RpcChain {
    pub fn new(url: &str, commitment: CommitmentConfig, options: RpcOptions) -> Self {
        let rpc = RpcClient::new_with_timeout_and_commitment(
            url.to_string(),
            options.request_timeout,
            commitment,
        );
        Self {
            rpc,
            url: redact_url(url),
            commitment,
            options,
        }
    }

    pub fn options(&self) -> &RpcOptions {
        &self.options
    }

    pub fn commitment(&self) -> CommitmentConfig {
        self.commitment
    }

    /// The commitment for history calls (`getTransaction`, `getSignaturesForAddress`), which do not
    /// accept `processed`.
    fn history_commitment(&self) -> CommitmentConfig {
        if self.commitment.is_confirmed() || self.commitment.is_finalized() {
            self.commitment
        } else {
            CommitmentConfig::confirmed()
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.options.retry_min_delay)
            .with_max_delay(self.options.retry_min_delay * 32)
            .with_max_times(self.options.max_retries)
            .with_jitter()
    }

    /// Runs one RPC call, retrying transport failures with exponential backoff.
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        f.retry(self.backoff())
            .when(is_transient)
            .notify(|e, delay| {
                tracing::warn!(url = %self.url, call = what, error = %e, ?delay, "RPC call failed; retrying")
            })
            .await
    }

    /// Like [`RpcChain::call`], with the error mapped to [`ChainError::Transport`] (or `Invalid` for
    /// answers that retrying cannot fix).
    async fn read<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ChainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        self.call(what, f).await.map_err(|e| transport(what, &e))
    }

    /// The caller's instructions, behind the configured compute-budget instructions unless the caller
    /// brought its own.
    fn with_compute_budget(&self, ixs: &[Instruction]) -> Vec<Instruction> {
        let budget_program = compute_budget_program();
        let mut out = Vec::with_capacity(ixs.len() + 2);
        if !ixs.iter().any(|ix| ix.program_id == budget_program) {
            if let Some(units) = self.options.compute_unit_limit {
                out.push(ComputeBudgetInstruction::set_compute_unit_limit(units));
            }
            if let Some(price) = self.options.compute_unit_price_micro_lamports {
                out.push(ComputeBudgetInstruction::set_compute_unit_price(price));
            }
        }
        out.extend_from_slice(ixs);
        out
    }

    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        self.read("getLatestBlockhash", || {
            self.rpc
                .get_latest_blockhash_with_commitment(self.commitment)
        })
        .await
    }

    async fn status(
        &self,
        signature: &Signature,
        history: bool,
    ) -> Result<Option<TransactionStatus>, ChainError> {
        let sigs = [*signature];
        let statuses = self
            .read("getSignatureStatuses", || async {
                if history {
                    self.rpc.get_signature_statuses_with_history(&sigs).await
                } else {
                    self.rpc.get_signature_statuses(&sigs).await
                }
            })
            .await?;
        Ok(statuses.value.into_iter().next().flatten())
    }

    /// Signs `ixs` with a blockhash other than `expired`, and one that gives a signature the cluster
    /// has not seen (an identical earlier call within the same blockhash would otherwise be taken for
    /// this one). Returns the transaction and its blockhash's last valid block height.
    async fn sign(
        &self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
        expired: Option<Hash>,
        deadline: Instant,
    ) -> Result<(VersionedTransaction, u64), ChainError> {
        let mut avoid: HashSet<Hash> = expired.into_iter().collect();
        loop {
            let (blockhash, last_valid) = self.latest_blockhash().await?;
            if !avoid.contains(&blockhash) {
                let message =
                    v0::Message::try_compile(&signers[0].pubkey(), ixs, tables, blockhash)
                        .map_err(|e| {
                            ChainError::Invalid(format!("message does not compile: {e}"))
                        })?;
                let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), signers)
                    .map_err(|e| ChainError::Invalid(format!("signing failed: {e}")))?;
                if self.status(&tx.signatures[0], false).await?.is_none() {
                    return Ok((tx, last_valid));
                }
                tracing::debug!(signature = %tx.signatures[0], "identical transaction already processed; waiting for a new blockhash");
                avoid.insert(blockhash);
            }
            if Instant::now() >= deadline {
                return Err(ChainError::NotConfirmed(format!(
                    "no new blockhash within {:?}",
                    self.options.confirm_timeout
                )));
            }
            sleep(self.options.poll_interval).await;
        }
    }

    /// One `sendTransaction` with preflight, retried on transport errors.
    async fn submit(
        &self,
        tx: &VersionedTransaction,
        sent_before: bool,
    ) -> Result<Submitted, ChainError> {
        let config = RpcSendTransactionConfig {
            skip_preflight: false,
            preflight_commitment: Some(self.commitment.commitment),
            encoding: Some(UiTransactionEncoding::Base64),
            // This client re-sends by itself while the blockhash is valid.
            max_retries: Some(0),
            min_context_slot: None,
        };
        // Set once a request may have reached the node without us learning the answer.
        let reached = AtomicBool::new(sent_before);
        let result = self
            .call("sendTransaction", || async {
                let r = self.rpc.send_transaction_with_config(tx, config).await;
                if matches!(&r, Err(e) if is_transient(e)) {
                    reached.store(true, Ordering::Relaxed);
                }
                r
            })
            .await;
        match result {
            Ok(_) => Ok(Submitted::Accepted),
            Err(e) => match e.get_transaction_error() {
                Some(TransactionError::AlreadyProcessed) => Ok(Submitted::Accepted),
                Some(TransactionError::BlockhashNotFound) => Ok(Submitted::UnknownBlockhash),
                Some(error) => Ok(Submitted::Rejected {
                    error,
                    maybe_sent_before: reached.load(Ordering::Relaxed),
                }),
                None => Err(match rpc_code(&e) {
                    Some(
                        custom_error::JSON_RPC_SERVER_ERROR_TRANSACTION_SIGNATURE_VERIFICATION_FAILURE
                        | custom_error::JSON_RPC_SERVER_ERROR_TRANSACTION_PRECOMPILE_VERIFICATION_FAILURE
                        | custom_error::JSON_RPC_SERVER_ERROR_TRANSACTION_SIGNATURE_LEN_MISMATCH,
                    ) => ChainError::Invalid(format!("sendTransaction rejected the transaction: {e}")),
                    _ => transport("sendTransaction", &e),
                }),
            },
        }
    }

    /// Submits `tx` (and re-sends it while it is unknown and valid) until it reaches the commitment,
    /// fails, or its blockhash expires unseen.
    async fn drive(
        &self,
        tx: &VersionedTransaction,
        last_valid: u64,
        deadline: Instant,
    ) -> Result<Attempt, ChainError> {
        let signature = tx.signatures[0];
        let may_land = |e: ChainError| match e {
            ChainError::Transport(m) => ChainError::Transport(format!(
                "{m} (transaction {signature} may still land until block height {last_valid})"
            )),
            other => other,
        };
        let mut sent_before = false;
        let mut last_sent: Option<Instant> = None;
        loop {
            // `sign` has just checked that a fresh signature is unknown.
            let mut status = match last_sent {
                None => None,
                Some(_) => self.status(&signature, false).await.map_err(may_land)?,
            };
            if status.is_none() {
                let due = last_sent.is_none_or(|t| t.elapsed() >= self.options.resend_interval);
                if due {
                    match self.submit(tx, sent_before).await.map_err(may_land)? {
                        Submitted::Accepted => sent_before = true,
                        Submitted::UnknownBlockhash => {}
                        Submitted::Rejected {
                            error,
                            maybe_sent_before,
                        } => {
                            if !maybe_sent_before {
                                // Preflight of the first copy: it never reached the cluster.
                                return Err(ChainError::Transaction(error));
                            }
                            // An earlier copy may be in flight: its own fate decides.
                            tracing::debug!(%signature, %error, "re-sent copy rejected by preflight");
                            sent_before = true;
                        }
                    }
                    last_sent = Some(Instant::now());
                    status = self.status(&signature, false).await.map_err(may_land)?;
                }
            }
            if status.is_none() {
                let height = self
                    .read("getBlockHeight", || self.rpc.get_block_height())
                    .await
                    .map_err(may_land)?;
                if height > last_valid {
                    // Decisive: read after the height passed, with history.
                    status = self.status(&signature, true).await.map_err(may_land)?;
                    if status.is_none() {
                        return Ok(Attempt::Expired);
                    }
                }
            }
            if let Some(status) = status {
                if let Some(error) = status.err {
                    return Err(ChainError::Transaction(error));
                }
                if status.satisfies_commitment(self.commitment) {
                    return Ok(Attempt::Confirmed { slot: status.slot });
                }
            }
            if Instant::now() >= deadline {
                return Err(ChainError::NotConfirmed(format!(
                    "transaction {signature} not confirmed within {:?}; it may still land until \
                     block height {last_valid}",
                    self.options.confirm_timeout
                )));
            }
            sleep(self.options.poll_interval).await;
        }
    }

    /// The confirmed transaction with its metadata, if the node serves it.
    async fn transaction(
        &self,
        signature: &Signature,
    ) -> Result<EncodedConfirmedTransactionWithStatusMeta, ChainError> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(self.history_commitment()),
            max_supported_transaction_version: Some(0),
        };
        let found: Option<EncodedConfirmedTransactionWithStatusMeta> = self
            .read("getTransaction", || {
                self.rpc.send(
                    RpcRequest::GetTransaction,
                    json!([signature.to_string(), config]),
                )
            })
            .await?;
        // Listed by the node but not served (yet): a later call will find it.
        found.ok_or_else(|| {
            ChainError::Transport(format!(
                "getTransaction: the node does not serve {signature} yet"
            ))
        })
    }

    /// Signatures of successful STK transactions after `cursor`, oldest first.
    async fn signatures_after(
        &self,
        cursor: Option<Signature>,
    ) -> Result<Vec<(Signature, u64)>, ChainError> {
        let page = self
            .options
            .signature_page_size
            .clamp(1, MAX_SIGNATURE_PAGE);
        let mut newest_first = Vec::new();
        let mut before = None;
        loop {
            let config = || GetConfirmedSignaturesForAddress2Config {
                before,
                until: cursor,
                limit: Some(page),
                commitment: Some(self.history_commitment()),
            };
            let batch = self
                .read("getSignaturesForAddress", || {
                    self.rpc
                        .get_signatures_for_address_with_config(&stk::ID, config())
                })
                .await?;
            let full = batch.len() >= page;
            for s in batch {
                let signature: Signature = s.signature.parse().map_err(|_| {
                    ChainError::Transport(format!(
                        "node returned a bad signature {:?}",
                        s.signature
                    ))
                })?;
                before = Some(signature);
                if s.err.is_none() {
                    newest_first.push((signature, s.slot));
                }
            }
            if !full {
                break;
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }

    /// The STK events of one transaction, in execution order.
    fn decode_events(
        signature: &Signature,
        tx: &EncodedConfirmedTransactionWithStatusMeta,
    ) -> Result<Vec<stk::client::StkEvent>, ChainError> {
        let bad = |what: &str| ChainError::Transport(format!("transaction {signature}: {what}"));
        let decoded = tx
            .transaction
            .transaction
            .decode()
            .ok_or_else(|| bad("transaction does not decode"))?;
        let Some(meta) = &tx.transaction.meta else {
            return Err(bad("no status meta"));
        };
        if meta.err.is_some() {
            return Ok(Vec::new());
        }
        let mut keys = decoded.message.static_account_keys().to_vec();
        if let Some(loaded) = meta.loaded_addresses.as_ref().map(Clone::clone) {
            for k in loaded.writable.iter().chain(&loaded.readonly) {
                keys.push(k.parse().map_err(|_| bad("bad loaded address"))?);
            }
        }
        let event_authority = stk::client::event_authority();
        let inner = meta
            .inner_instructions
            .as_ref()
            .map(|v| v.clone())
            .unwrap_or_default();
        let mut events = Vec::new();
        for group in &inner {
            for ix in &group.instructions {
                let (program, first_account, data) = match ix {
                    UiInstruction::Compiled(c) => (
                        keys.get(c.program_id_index as usize).copied(),
                        c.accounts
                            .first()
                            .and_then(|i| keys.get(*i as usize).copied()),
                        &c.data,
                    ),
                    UiInstruction::Parsed(UiParsedInstruction::PartiallyDecoded(p)) => (
                        p.program_id.parse().ok(),
                        p.accounts.first().and_then(|a| a.parse().ok()),
                        &p.data,
                    ),
                    UiInstruction::Parsed(UiParsedInstruction::Parsed(_)) => continue,
                };
                // Only the program itself can sign as its event authority, so this is a real event.
                if program != Some(stk::ID) || first_account != Some(event_authority) {
                    continue;
                }
                let bytes = bs58::decode(data)
                    .into_vec()
                    .map_err(|_| bad("inner instruction data is not base58"))?;
                if let Some(event) = stk::client::decode_event(&bytes) {
                    events.push(event);
                }
            }
        }
        Ok(events)
    }
}

#[async_trait]
impl Chain for RpcChain {
    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn account(&self, key: &Pubkey) -> Result<Option<Account>, ChainError> {
        let config = RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            data_slice: None,
            commitment: Some(self.commitment),
            min_context_slot: None,
        };
        // `RpcClient::get_ui_account_with_config` turns every error (transport ones included) into a
        // user message; call the method directly to keep them apart.
        let response: Response<Option<UiAccount>> = self
            .read("getAccountInfo", || {
                self.rpc.send(
                    RpcRequest::GetAccountInfo,
                    json!([key.to_string(), config.clone()]),
                )
            })
            .await?;
        response.value.map(|a| decode_account(key, &a)).transpose()
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let config = RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            data_slice: None,
            commitment: Some(self.commitment),
            min_context_slot: None,
        };
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(ACCOUNTS_PER_CALL) {
            let response = self
                .read("getMultipleAccounts", || {
                    self.rpc
                        .get_multiple_ui_accounts_with_config(batch, config.clone())
                })
                .await?;
            if response.value.len() != batch.len() {
                return Err(ChainError::Transport(format!(
                    "getMultipleAccounts returned {} accounts for {} keys",
                    response.value.len(),
                    batch.len()
                )));
            }
            for (key, account) in batch.iter().zip(response.value) {
                out.push(account.map(|a| decode_account(key, &a)).transpose()?);
            }
        }
        Ok(out)
    }

    async fn send(
        &self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> Result<Sent, ChainError> {
        if signers.is_empty() {
            return Err(ChainError::Invalid(
                "a transaction needs a fee payer".into(),
            ));
        }
        let ixs = self.with_compute_budget(ixs);
        let deadline = Instant::now() + self.options.confirm_timeout;
        let mut expired = None;
        let mut resigns = 0;
        let (signature, slot) = loop {
            let (tx, last_valid) = self.sign(&ixs, signers, tables, expired, deadline).await?;
            let signature = tx.signatures[0];
            match self.drive(&tx, last_valid, deadline).await? {
                Attempt::Confirmed { slot } => break (signature, slot),
                Attempt::Expired => {
                    if resigns >= self.options.max_resigns {
                        return Err(ChainError::NotConfirmed(format!(
                            "transaction {signature} expired unconfirmed (block height passed \
                             {last_valid}) after {resigns} re-signs"
                        )));
                    }
                    resigns += 1;
                    tracing::info!(%signature, last_valid, resigns, "blockhash expired unseen; re-signing");
                    expired = Some(*tx.message.recent_blockhash());
                }
            }
        };
        // Cost figures are best effort: a node without the transaction yet reports zeros.
        let (compute_units, payer_lamports, slot) = match self.transaction(&signature).await {
            Ok(tx) => {
                let meta = tx.transaction.meta.as_ref();
                let units = meta
                    .and_then(|m| Option::<u64>::from(m.compute_units_consumed.clone()))
                    .unwrap_or(0);
                let spent = meta
                    .and_then(|m| {
                        Some(
                            m.pre_balances
                                .first()?
                                .saturating_sub(*m.post_balances.first()?),
                        )
                    })
                    .unwrap_or(0);
                (units, spent, tx.slot)
            }
            Err(e) => {
                tracing::debug!(%signature, error = %e, "no transaction metadata; reporting zero cost");
                (0, 0, slot)
            }
        };
        Ok(Sent {
            signature,
            slot,
            compute_units,
            payer_lamports,
        })
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.read("getSlot", || self.rpc.get_slot()).await
    }

    async fn unix_time(&self) -> Result<i64, ChainError> {
        let account = self
            .account(&CLOCK_SYSVAR)
            .await?
            .ok_or_else(|| ChainError::Transport("the node has no Clock sysvar".into()))?;
        let bytes: [u8; 8] = account
            .data
            .get(CLOCK_UNIX_TIMESTAMP)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ChainError::Transport("the Clock sysvar is too short".into()))?;
        Ok(i64::from_le_bytes(bytes))
    }

    async fn wait_past_slot(&self, slot: u64) -> Result<(), ChainError> {
        let deadline = Instant::now() + self.options.confirm_timeout;
        loop {
            let current = self.slot().await?;
            if current > slot {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ChainError::Transport(format!(
                    "the cluster stayed at slot {current} (waiting to pass {slot}) for {:?}",
                    self.options.confirm_timeout
                )));
            }
            sleep(self.options.poll_interval).await;
        }
    }

    /// Events of successful STK transactions after the transaction `cursor` (a signature), oldest
    /// first. A transaction's events are never split across calls (its signature is the cursor of
    /// each): a call returns at most `limit` events, except that a single transaction with more
    /// events than `limit` is returned whole.
    async fn events(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let cursor = cursor
            .map(|c| {
                c.parse::<Signature>()
                    .map_err(|_| ChainError::Invalid(format!("bad event cursor {c:?}")))
            })
            .transpose()?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for (signature, slot) in self.signatures_after(cursor).await? {
            let tx = self.transaction(&signature).await?;
            let events = Self::decode_events(&signature, &tx)?;
            if events.is_empty() {
                continue;
            }
            if !out.is_empty() && out.len() + events.len() > limit {
                break;
            }
            let text = signature.to_string();
            out.extend(events.into_iter().map(|event| ChainEvent {
                cursor: text.clone(),
                signature: text.clone(),
                slot,
                event,
            }));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}

fn decode_account(key: &Pubkey, account: &UiAccount) -> Result<Account, ChainError> {
    account.decode::<Account>().ok_or_else(|| {
        ChainError::Transport(format!("account {key} came back in an unreadable encoding"))
    })
}

/// `scheme://host[:port]/path`: drops `user:password@`, the query and the fragment.
fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

fn compute_budget_program() -> Pubkey {
    ComputeBudgetInstruction::set_compute_unit_limit(0).program_id
}

fn rpc_code(e: &ClientError) -> Option<i64> {
    match e.kind() {
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) => Some(*code),
        _ => None,
    }
}

/// Failures that the same call may not hit again: the node was unreachable, slow, overloaded or
/// behind.
fn is_transient(e: &ClientError) -> bool {
    match e.kind() {
        ClientErrorKind::Io(_) | ClientErrorKind::Middleware(_) => true,
        ClientErrorKind::Reqwest(r) => match r.status() {
            Some(status) => {
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
            }
            // Connecting, timing out, a cut body...
            None => true,
        },
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) => matches!(
            *code,
            custom_error::JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY
                | custom_error::JSON_RPC_SERVER_ERROR_BLOCK_NOT_AVAILABLE
                | custom_error::JSON_RPC_SERVER_ERROR_MIN_CONTEXT_SLOT_NOT_REACHED
                | custom_error::JSON_RPC_SERVER_ERROR_BLOCK_STATUS_NOT_AVAILABLE_YET
                | custom_error::JSON_RPC_SERVER_ERROR_LONG_TERM_STORAGE_UNREACHABLE
                // JSON-RPC "internal error"
                | -32603
        ),
        _ => false,
    }
}

fn transport(what: &str, e: &ClientError) -> ChainError {
    ChainError::Transport(format!("{what}: {e}"))
}

/// Loads a signing key: from the environment variable `env_var` when it is set (the Solana CLI's JSON
/// array of 64 bytes, e.g. `STK_KEYPAIR='[12,34,...]'`), else from the file `path`, else from
/// `~/.config/solana/id.json` (the Solana CLI's default key). Errors name the source and what is
/// wrong with it, never the key's bytes.
pub fn load_keypair(path: Option<&Path>, env_var: &str) -> anyhow::Result<Keypair> {
    if let Some(value) = std::env::var_os(env_var) {
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("environment variable {env_var} is not UTF-8"))?;
        if !value.trim().is_empty() {
            return parse_keypair(&value)
                .map_err(|e| anyhow::anyhow!("keypair in environment variable {env_var}: {e}"));
        }
    }
    let path: PathBuf = match path {
        Some(p) => p.to_path_buf(),
        None => default_keypair_path()?,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "keypair file {} does not exist (create one with `solana-keygen new -o {}` or set {env_var})",
            path.display(),
            path.display()
        ),
        _ => anyhow::anyhow!("cannot read keypair file {}: {e}", path.display()),
    })?;
    parse_keypair(&text).map_err(|e| anyhow::anyhow!("keypair file {}: {e}", path.display()))
}

fn default_keypair_path() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no keypair path given and $HOME is not set"))?;
    Ok(PathBuf::from(home).join(".config/solana/id.json"))
}

/// Parses the Solana CLI's keypair format: a JSON array of 64 numbers (secret key, then public key).
/// Error messages never quote the input.
fn parse_keypair(text: &str) -> Result<Keypair, String> {
    let bytes: Vec<u8> = serde_json::from_str(text).map_err(|e| {
        format!(
            "not a JSON array of 64 numbers in 0..=255 (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if bytes.len() != 64 {
        return Err(format!("expected 64 bytes, found {}", bytes.len()));
    }
    Keypair::try_from(bytes.as_slice())
        .map_err(|_| "the last 32 bytes are not the public key of the first 32".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://user:secret@rpc.example.com:8899/v1?api-key=abc#x"),
            "https://rpc.example.com:8899/v1"
        );
        assert_eq!(redact_url("http://127.0.0.1:8899"), "http://127.0.0.1:8899");
        assert_eq!(
            redact_url("https://mainnet.helius-rpc.com/?api-key=k"),
            "https://mainnet.helius-rpc.com/"
        );
    }

    #[test]
    fn compute_budget_is_prepended_unless_present() {
        let chain = RpcChain::new(
            "http://127.0.0.1:9",
            CommitmentConfig::confirmed(),
            RpcOptions {
                compute_unit_limit: Some(200_000),
                compute_unit_price_micro_lamports: Some(7),
                ..RpcOptions::default()
            },
        );
        let ix = Instruction::new_with_bytes(stk::ID, &[1], vec![]);
        let out = chain.with_compute_budget(std::slice::from_ref(&ix));
        assert_eq!(
            out,
            vec![
                ComputeBudgetInstruction::set_compute_unit_limit(200_000),
                ComputeBudgetInstruction::set_compute_unit_price(7),
                ix.clone()
            ]
        );
        let own = vec![
            ComputeBudgetInstruction::set_compute_unit_limit(5),
            ix.clone(),
        ];
        assert_eq!(chain.with_compute_budget(&own), own);
        let plain = RpcChain::new(
            "http://127.0.0.1:9",
            CommitmentConfig::confirmed(),
            RpcOptions::default(),
        );
        assert_eq!(
            plain.with_compute_budget(std::slice::from_ref(&ix)),
            vec![ix]
        );
    }
}
