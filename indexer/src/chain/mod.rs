//! The chain layer: one trait, two implementations.
//!
//! * [`local::LocalChainClient`]: the in-process chain (the real runtime with the STK program and the
//!   real SPL programs) for the local mode, the demo and the tests; only with the `local` feature.
//! * [`rpc::RpcChain`]: a Solana cluster over JSON-RPC.
//!
//! Keys belong to the callers (the service's fee payer, each oracle's key): the chain only moves
//! transactions and reads state. Everything else the pipeline needs is built on the trait in [`ops`].
use async_trait::async_trait;
use serde::Serialize;
use solana_sdk::{
    account::Account,
    instruction::{Instruction, InstructionError},
    message::AddressLookupTableAccount,
    pubkey::Pubkey,
    signature::{Keypair, Signature},
    transaction::TransactionError,
};
use stk::{client::StkEvent, error::StkError};

#[cfg(feature = "local")]
pub mod local;
pub mod ops;
pub mod rpc;
/// A Solana JSON-RPC endpoint over the in-process chain (`serve --local --rpc-listen`).
#[cfg(feature = "local")]
pub mod rpc_server;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The transaction executed and failed. Final: sending it again cannot help.
    #[error("transaction failed: {0}")]
    Transaction(TransactionError),
    /// The node could not be reached or answered badly; the same call may succeed later.
    #[error("chain unavailable: {0}")]
    Transport(String),
    /// The transaction was not confirmed within its blockhash's lifetime, even after re-signing.
    #[error("transaction not confirmed: {0}")]
    NotConfirmed(String),
    #[error("{0}")]
    Invalid(String),
}

impl ChainError {
    /// The custom program error of a failed transaction, if that is what this is.
    pub fn custom_code(&self) -> Option<u32> {
        match self {
            Self::Transaction(TransactionError::InstructionError(
                _,
                InstructionError::Custom(code),
            )) => Some(*code),
            _ => None,
        }
    }

    pub fn is_stk(&self, e: StkError) -> bool {
        self.custom_code() == Some(stk::client::error_code(e))
    }

    /// Worth retrying with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transport(_))
    }
}

/// A confirmed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub signature: Signature,
    pub slot: u64,
    /// Compute units the runtime metered for it.
    pub compute_units: u64,
    /// Lamports its fee payer spent (the fee, plus any rent it funded).
    pub payer_lamports: u64,
}

/// One program event, with where it came from. `cursor` orders events across calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainEvent {
    pub cursor: String,
    pub signature: String,
    pub slot: u64,
    #[serde(skip)]
    pub event: StkEvent,
}

#[async_trait]
pub trait Chain: Send + Sync {
    /// "local" or the cluster URL.
    fn describe(&self) -> String;

    async fn account(&self, key: &Pubkey) -> Result<Option<Account>, ChainError>;

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError>;

    /// Sends a v0 transaction paid by `signers[0]` and signed by all of `signers`, and waits until it
    /// is confirmed. A transaction is re-signed (new blockhash) only after its blockhash has expired.
    async fn send(
        &self,
        ixs: &[Instruction],
        signers: &[&Keypair],
        tables: &[AddressLookupTableAccount],
    ) -> Result<Sent, ChainError>;

    async fn slot(&self) -> Result<u64, ChainError>;

    /// The chain's clock (unix seconds), which decides when an epoch has ended.
    async fn unix_time(&self) -> Result<i64, ChainError>;

    /// Moves the chain's clock forward to `unix` where the chain's clock is ours to move (the in-process
    /// chain does not advance by itself); a cluster keeps its own time, so the default does nothing.
    async fn follow_wall_clock(&self, _unix: i64) -> Result<(), ChainError> {
        Ok(())
    }

    /// Returns once the chain is past `slot` (lookup-table entries become usable the slot after).
    async fn wait_past_slot(&self, slot: u64) -> Result<(), ChainError>;

    /// Program events after `cursor` (exclusive), oldest first, at most `limit`.
    async fn events(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ChainEvent>, ChainError>;
}
