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
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{
    config::RpcAccountInfoConfig,
    request::RpcRequest,
    response::{Response, UiAccount, UiAccountEncoding},
};
use solana_sdk::{
    account::Account, instruction::Instruction, message::AddressLookupTableAccount, pubkey::Pubkey,
    signature::Keypair,
};
use tokio::time::{sleep, Instant};

use super::{Chain, ChainError, ChainEvent, Sent};

mod errors;
mod events;
mod keypair;
mod send;

pub use keypair::load_keypair;

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
        self.send_and_confirm(ixs, signers, tables).await
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
        self.events_after(cursor, limit).await
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

#[cfg(test)]
mod tests {
    use solana_compute_budget_interface::ComputeBudgetInstruction;

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
