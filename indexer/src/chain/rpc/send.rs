//! Sending: sign against the latest blockhash, submit with preflight, re-send the same signed
//! transaction while it is valid, poll its status, re-sign only once the old one can never land
//! (see the module docs of [`super`]).
use std::{
    collections::HashSet,
    sync::atomic::{AtomicBool, Ordering},
};

use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_rpc_client_api::{config::RpcSendTransactionConfig, custom_error};
use solana_sdk::{
    hash::Hash,
    instruction::Instruction,
    message::{v0, AddressLookupTableAccount, VersionedMessage},
    pubkey::Pubkey,
    signature::{Keypair, Signature},
    signer::Signer,
    transaction::{TransactionError, VersionedTransaction},
};
use solana_transaction_status_client_types::{TransactionStatus, UiTransactionEncoding};
use tokio::time::{sleep, Instant};

use super::errors::{is_transient, rpc_code, transport};
use super::RpcChain;
use crate::chain::{ChainError, Sent};

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
    /// [`Chain::send`](crate::chain::Chain::send) on a cluster: sign, submit, re-send and confirm (as
    /// the module docs of [`super`] describe), then read what it cost.
    pub(super) async fn send_and_confirm(
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

    /// The caller's instructions, behind the configured compute-budget instructions unless the caller
    /// brought its own.
    pub(super) fn with_compute_budget(&self, ixs: &[Instruction]) -> Vec<Instruction> {
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
}

fn compute_budget_program() -> Pubkey {
    ComputeBudgetInstruction::set_compute_unit_limit(0).program_id
}
