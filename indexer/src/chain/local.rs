//! The in-process chain behind the [`Chain`] trait.
use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use async_trait::async_trait;
use solana_rpc_client_api::response::{UiCompiledInstruction, UiInnerInstructions, UiInstruction};
use solana_sdk::{
    account::Account,
    instruction::Instruction,
    message::AddressLookupTableAccount,
    pubkey::Pubkey,
    signature::{Keypair, Signature},
    transaction::{TransactionError, VersionedTransaction},
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
    /// Executed transactions, kept once a JSON-RPC endpoint serves this chain
    /// ([`LocalChainClient::keep_history`]): what `getTransaction` and `getSignaturesForAddress` answer,
    /// for the endpoint's own transactions and the local pipeline's alike.
    history: Arc<std::sync::Mutex<History>>,
    keep_history: Arc<AtomicBool>,
}

/// A transaction executed on the in-process chain, with what a node reports about it.
#[derive(Debug, Clone)]
pub struct ExecutedTx {
    pub tx: VersionedTransaction,
    pub slot: u64,
    pub err: Option<TransactionError>,
    /// Signature fee plus priority fee, in lamports.
    pub fee: u64,
    pub compute_units: u64,
    pub pre_balances: Vec<u64>,
    pub post_balances: Vec<u64>,
    /// Addresses loaded from lookup tables: (writable, readonly).
    pub loaded: (Vec<Pubkey>, Vec<Pubkey>),
    pub inner: Vec<UiInnerInstructions>,
    pub logs: Vec<String>,
    pub block_time: i64,
}

/// The kept transactions.
#[derive(Debug, Default)]
pub struct History {
    pub txs: HashMap<Signature, ExecutedTx>,
    /// Per address, oldest first.
    pub by_address: HashMap<Pubkey, Vec<Signature>>,
    /// Transactions that succeeded.
    pub succeeded: u64,
}

/// Why [`LocalChainClient::execute`] did not execute a transaction.
#[derive(Debug)]
pub enum ExecuteError {
    /// Its simulation failed (preflight): nothing was executed.
    Preflight {
        err: TransactionError,
        logs: Vec<String>,
        units: u64,
    },
    /// The in-process bank did not answer.
    Bank(String),
}

/// Lamports per signature (the runtime's default fee).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// Priority fee of a transaction: compute-unit price (micro-lamports) x limit, rounded up.
pub fn priority_fee(tx: &VersionedTransaction) -> u64 {
    let keys = tx.message.static_account_keys();
    let budget = stk_localnet::ComputeBudgetInstruction::set_compute_unit_limit(0).program_id;
    let (mut price, mut limit) = (0u128, 200_000u128);
    for ix in tx.message.instructions() {
        if keys.get(ix.program_id_index as usize) != Some(&budget) {
            continue;
        }
        match ix.data.split_first() {
            Some((2, rest)) if rest.len() >= 4 => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&rest[..4]);
                limit = u128::from(u32::from_le_bytes(b));
            }
            Some((3, rest)) if rest.len() >= 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[..8]);
                price = u128::from(u64::from_le_bytes(b));
            }
            _ => {}
        }
    }
    u64::try_from(price.saturating_mul(limit).div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// The fee a transaction pays: per required signature, plus its priority fee.
pub fn fee_of(tx: &VersionedTransaction) -> u64 {
    let signatures = u64::from(tx.message.header().num_required_signatures);
    LAMPORTS_PER_SIGNATURE
        .saturating_mul(signatures)
        .saturating_add(priority_fee(tx))
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
            history: Arc::new(std::sync::Mutex::new(History::default())),
            keep_history: Arc::new(AtomicBool::new(false)),
        }
    }

    /// From now on every transaction sent through this client is executed with its details kept in
    /// the [`History`] (the JSON-RPC endpoint turns this on).
    pub fn keep_history(&self) {
        self.keep_history.store(true, Ordering::SeqCst);
    }

    /// Reads the kept transactions.
    pub fn history<R>(&self, f: impl FnOnce(&History) -> R) -> R {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        f(&history)
    }

    /// Simulates `tx` (with CPI recording), then, unless `preflight` and the simulation failed,
    /// executes it and keeps it: in the history (with balances, logs and inner instructions), its
    /// program events (for [`Chain::events`]) and its accounts. `Ok` carries the execution's own
    /// error, if any (a transaction that failed on chain is kept too).
    // agave 3.1 marks solana-program-test's context "for the Agave Unstable API"; it is our bank.
    #[allow(deprecated)]
    pub async fn execute(
        &self,
        tx: VersionedTransaction,
        tables: &[AddressLookupTableAccount],
        preflight: bool,
    ) -> Result<ExecutedTx, ExecuteError> {
        let signature = tx.signatures[0];
        let keys = stk_localnet::message_keys(&tx, tables);
        let mut chain = self.chain.lock().await;
        let simulation = chain
            .ctx
            .banks_client
            .simulate_transaction(tx.clone())
            .await
            .map_err(|e| ExecuteError::Bank(e.to_string()))?;
        let (logs, units, inner_raw) = match simulation.simulation_details {
            Some(d) => (d.logs, d.units_consumed, d.inner_instructions),
            None => (Vec::new(), 0, None),
        };
        if let Some(Err(err)) = &simulation.result {
            // Without details it did not even load: it cannot be executed either.
            if preflight || inner_raw.is_none() {
                return Err(ExecuteError::Preflight {
                    err: err.clone(),
                    logs,
                    units,
                });
            }
        }
        let mut pre_balances = Vec::with_capacity(keys.len());
        for k in &keys {
            pre_balances.push(chain.lamports(k).await);
        }
        let slot = chain.slot().await;
        let block_time = chain.now().await;
        let outcome = chain.process(tx.clone()).await;
        let mut post_balances = Vec::with_capacity(keys.len());
        for k in &keys {
            post_balances.push(chain.lamports(k).await);
        }
        // The chain stays locked until the transaction is recorded: history and events keep the
        // order of execution even with several senders.
        let (err, compute_units) = match outcome {
            Ok((_, cost)) => (None, cost.compute_units),
            Err(BanksClientError::TransactionError(e)) => (Some(e), units),
            Err(e) => return Err(ExecuteError::Bank(e.to_string())),
        };
        let events: Vec<stk::client::StkEvent> = if err.is_none() {
            inner_raw
                .iter()
                .flatten()
                .flatten()
                .filter(|i| keys.get(i.instruction.program_id_index as usize) == Some(&stk::ID))
                .filter_map(|i| stk::client::decode_event(&i.instruction.data))
                .collect()
        } else {
            Vec::new()
        };
        let inner = inner_raw
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter(|(_, list)| !list.is_empty())
            .map(|(index, list)| UiInnerInstructions {
                index: u8::try_from(index).unwrap_or(u8::MAX),
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
        let statics = tx.message.static_account_keys().len().min(keys.len());
        let writable_loaded: usize = tx
            .message
            .address_table_lookups()
            .unwrap_or_default()
            .iter()
            .map(|l| l.writable_indexes.len())
            .sum();
        let split = (statics + writable_loaded).min(keys.len());
        let loaded = (keys[statics..split].to_vec(), keys[split..].to_vec());
        let executed = ExecutedTx {
            fee: fee_of(&tx),
            tx,
            slot,
            err,
            compute_units,
            pre_balances,
            post_balances,
            loaded,
            inner,
            logs,
            block_time,
        };
        {
            let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            for k in &keys {
                let list = history.by_address.entry(*k).or_default();
                if list.last() != Some(&signature) {
                    list.push(signature);
                }
            }
            if executed.err.is_none() {
                history.succeeded = history.succeeded.saturating_add(1);
            }
            history.txs.insert(signature, executed.clone());
        }
        self.record_external(&signature, slot, &keys, events).await;
        drop(chain);
        Ok(executed)
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
        if self.keep_history.load(Ordering::SeqCst) {
            drop(chain);
            let signature = tx.signatures[0];
            let executed = self.execute(tx, tables, true).await.map_err(|e| match e {
                ExecuteError::Preflight { err, .. } => ChainError::Transaction(err),
                ExecuteError::Bank(e) => ChainError::Transport(e),
            })?;
            if let Some(err) = executed.err {
                return Err(ChainError::Transaction(err));
            }
            let payer_lamports = match (
                executed.pre_balances.first(),
                executed.post_balances.first(),
            ) {
                (Some(pre), Some(post)) => pre.saturating_sub(*post),
                _ => 0,
            };
            return Ok(Sent {
                signature,
                slot: executed.slot,
                compute_units: executed.compute_units,
                payer_lamports,
            });
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
