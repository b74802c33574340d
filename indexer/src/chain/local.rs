//! The in-process chain behind the [`Chain`] trait.
use std::{collections::BTreeSet, sync::Arc};

use async_trait::async_trait;
use solana_sdk::{
    account::Account, instruction::Instruction, message::AddressLookupTableAccount, pubkey::Pubkey,
    signature::Keypair, transaction::TransactionError,
};
use stk_localnet::{BanksClientError, LocalChain};
use tokio::sync::Mutex;

use super::{Chain, ChainError, ChainEvent, Sent};

/// Largest transaction a cluster accepts (bytes on the wire).
pub const PACKET_DATA_SIZE: usize = 1232;
/// Most accounts one transaction may lock.
pub const MAX_TX_ACCOUNT_LOCKS: usize = 64;

/// The in-process chain, shareable across tasks. Keeps the history of program events itself (the
/// in-process bank keeps none).
#[derive(Clone)]
pub struct LocalChainClient {
    chain: Arc<Mutex<LocalChain>>,
    events: Arc<Mutex<Vec<ChainEvent>>>,
    /// Every account a transaction through this client (or the JSON-RPC endpoint on it) named: the
    /// in-process bank cannot list accounts, so `getProgramAccounts` scans these.
    seen: Arc<std::sync::Mutex<BTreeSet<Pubkey>>>,
}

fn banks_error(e: BanksClientError) -> ChainError {
    match e {
        BanksClientError::TransactionError(e) => ChainError::Transaction(e),
        BanksClientError::SimulationError { err, .. } => ChainError::Transaction(err),
        other => ChainError::Transport(other.to_string()),
    }
}

impl LocalChainClient {
    pub async fn start() -> Self {
        Self::new(LocalChain::start().await)
    }

    pub fn new(chain: LocalChain) -> Self {
        Self {
            chain: Arc::new(Mutex::new(chain)),
            events: Arc::new(Mutex::new(Vec::new())),
            seen: Arc::new(std::sync::Mutex::new(BTreeSet::new())),
        }
    }

    /// Remembers accounts for [`LocalChainClient::seen_accounts`].
    pub fn note_accounts(&self, keys: &[Pubkey]) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.extend(keys.iter().copied());
    }

    /// Every account noted so far (transactions' accounts, airdrop recipients, noted keys), in order.
    pub fn seen_accounts(&self) -> Vec<Pubkey> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().copied().collect()
    }

    /// Records a transaction executed on this chain by someone else (the JSON-RPC endpoint): its
    /// accounts, and its program events for [`Chain::events`].
    pub async fn record_external(
        &self,
        signature: &solana_sdk::signature::Signature,
        slot: u64,
        keys: &[Pubkey],
        events: Vec<stk::client::StkEvent>,
    ) {
        self.note_accounts(keys);
        if events.is_empty() {
            return;
        }
        let mut log = self.events.lock().await;
        let base = log.len();
        log.extend(events.into_iter().enumerate().map(|(i, event)| ChainEvent {
            cursor: format!("{:012}", base + i),
            signature: signature.to_string(),
            slot,
            event,
        }));
    }

    /// Direct access to the in-process chain (funding accounts, moving the clock, ...).
    pub async fn with<R>(&self, f: impl AsyncFnOnce(&mut LocalChain) -> R) -> R {
        let mut chain = self.chain.lock().await;
        f(&mut chain).await
    }

    /// The chain's funded payer (genesis account): pays for the local demo's setup.
    pub async fn payer(&self) -> Keypair {
        self.chain.lock().await.payer()
    }

    /// Moves the chain's clock to `unix` seconds.
    pub async fn set_time(&self, unix: i64) {
        self.chain.lock().await.set_time(unix).await
    }

    pub async fn airdrop(&self, to: &Pubkey, lamports: u64) -> Result<(), ChainError> {
        self.note_accounts(&[*to]);
        self.chain
            .lock()
            .await
            .airdrop(to, lamports)
            .await
            .map_err(banks_error)
    }
}

#[async_trait]
impl Chain for LocalChainClient {
    fn describe(&self) -> String {
        "local (in-process runtime)".into()
    }

    async fn account(&self, key: &Pubkey) -> Result<Option<Account>, ChainError> {
        Ok(self.chain.lock().await.account(key).await)
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut chain = self.chain.lock().await;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(chain.account(key).await);
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
        let mut chain = self.chain.lock().await;
        let tx = chain.v0_transaction_signed(signers, ixs, tables).await;
        // What a cluster refuses before executing (the in-process bank would not).
        let (size, locks) = (
            stk_localnet::transaction_size(&tx),
            stk_localnet::account_locks(&tx),
        );
        if size > PACKET_DATA_SIZE || locks > MAX_TX_ACCOUNT_LOCKS {
            return Err(ChainError::Invalid(format!(
                "transaction too large: {size} bytes (max {PACKET_DATA_SIZE}), {locks} account locks (max {MAX_TX_ACCOUNT_LOCKS})"
            )));
        }
        let slot = chain.slot().await;
        self.note_accounts(&stk_localnet::message_keys(&tx, tables));
        let (signature, cost, events) = chain
            .process_recording(tx, tables)
            .await
            .map_err(banks_error)?;
        drop(chain);
        if !events.is_empty() {
            let mut log = self.events.lock().await;
            let base = log.len();
            log.extend(events.into_iter().enumerate().map(|(i, event)| ChainEvent {
                cursor: format!("{:012}", base + i),
                signature: signature.to_string(),
                slot,
                event,
            }));
        }
        Ok(Sent {
            signature,
            slot,
            compute_units: cost.compute_units,
            payer_lamports: cost.payer_lamports,
        })
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        Ok(self.chain.lock().await.slot().await)
    }

    async fn unix_time(&self) -> Result<i64, ChainError> {
        Ok(self.chain.lock().await.now().await)
    }

    async fn follow_wall_clock(&self, unix: i64) -> Result<(), ChainError> {
        if self.unix_time().await? < unix {
            self.set_time(unix).await;
        }
        Ok(())
    }

    async fn wait_past_slot(&self, slot: u64) -> Result<(), ChainError> {
        let mut chain = self.chain.lock().await;
        let current = chain.slot().await;
        if current <= slot {
            chain.advance_slots(slot + 1 - current).await;
        }
        Ok(())
    }

    async fn events(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let start = match cursor {
            None => 0,
            Some(c) => {
                c.parse::<usize>()
                    .map_err(|_| ChainError::Invalid(format!("bad event cursor {c:?}")))?
                    + 1
            }
        };
        let log = self.events.lock().await;
        Ok(log.iter().skip(start).take(limit).cloned().collect())
    }
}

/// A failed transaction's error, for callers that want to inspect it.
pub fn transaction_error(e: &ChainError) -> Option<&TransactionError> {
    match e {
        ChainError::Transaction(t) => Some(t),
        _ => None,
    }
}
