//! The JSON-RPC methods that take or report transactions: sending, simulating, airdrops,
//! signature statuses and history, `getTransaction`.
use base64::{prelude::BASE64_STANDARD, Engine};
use serde_json::{json, Value};
use solana_commitment_config::CommitmentLevel;
use solana_rpc_client_api::{
    config::{
        RpcEncodingConfigWrapper, RpcRequestAirdropConfig, RpcSendTransactionConfig,
        RpcSignatureStatusConfig, RpcSignaturesForAddressConfig, RpcSimulateTransactionConfig,
        RpcTransactionConfig,
    },
    request::{
        MAX_GET_CONFIRMED_SIGNATURES_FOR_ADDRESS2_LIMIT, MAX_GET_SIGNATURE_STATUSES_QUERY_ITEMS,
    },
    response::{
        OptionSerializer, RpcBlockhash, RpcConfirmedTransactionStatusWithSignature,
        RpcSimulateTransactionResult, TransactionConfirmationStatus, UiCompiledInstruction,
        UiInnerInstructions, UiInstruction, UiLoadedAddresses, UiTransactionReturnData,
        UiTransactionStatusMeta,
    },
};
use solana_sdk::{
    hash::Hash,
    message::{AddressLookupTableAccount, VersionedMessage},
    signer::Signer,
    transaction::{TransactionError, TransactionVersion, VersionedTransaction},
};
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, EncodedTransaction,
    EncodedTransactionWithStatusMeta, TransactionBinaryEncoding, TransactionStatus,
    UiAddressTableLookup, UiMessage, UiRawMessage, UiTransaction, UiTransactionEncoding,
};
use stk_localnet::alt;

use super::{
    methods::json_of,
    params::{self, decode_transaction, parse},
    Inner, RpcFailure, RpcResult, SendOutcome, SendRecord,
};
use crate::chain::local::{fee_of, ExecuteError};

/// Most lamports one `requestAirdrop` hands out (the faucet's cap).
pub const MAX_AIRDROP_LAMPORTS: u64 = 1_000 * 1_000_000_000;

impl Inner {
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
    pub(super) async fn tables(
        &self,
        tx: &VersionedTransaction,
    ) -> Result<Vec<AddressLookupTableAccount>, TransactionError> {
        let mut out = Vec::new();
        for lookup in tx.message.address_table_lookups().unwrap_or_default() {
            let account = self
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

    pub(super) async fn send_transaction(&mut self, params: &[Value]) -> RpcResult {
        let (blob, cfg): (String, Option<RpcSendTransactionConfig>) = parse(params, 2)?;
        let cfg = cfg.unwrap_or_default();
        let tx = decode_transaction(&blob, cfg.encoding)?;
        self.min_context_slot(cfg.min_context_slot).await?;
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
            return Err(RpcFailure::new(
                -32003,
                "Transaction signature verification failure",
            ));
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
                self.height = self.height.max(highest).saturating_add(1);
                self.chain.with(async |c| c.advance_slots(1).await).await;
            }
            return Ok(json!(signature.to_string()));
        }
        // Checks a node makes before (and regardless of) simulation.
        let early = if self.chain.history(|h| h.txs.contains_key(&signature)) {
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
        match self.execute(tx, !cfg.skip_preflight).await {
            Ok(err) => {
                record.outcome = match err {
                    Some(e) => SendOutcome::Failed(e),
                    None => SendOutcome::Executed,
                };
            }
            Err((err, failure)) => {
                record.outcome = SendOutcome::Rejected(err);
                self.sends.push(record);
                return Err(failure);
            }
        }
        if self.faults.lose_send_responses > 0 {
            self.faults.lose_send_responses -= 1;
            record.outcome = SendOutcome::ResponseLost;
            self.sends.push(record);
            return Err(RpcFailure::Http(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
        self.sends.push(record);
        Ok(json!(signature.to_string()))
    }

    /// Runs `tx` on the bank and keeps it in the chain's history. With `preflight`, a transaction
    /// whose simulation fails is not executed (`Err`: the error and the -32002 answer). `Ok`:
    /// executed, with its error.
    pub(super) async fn execute(
        &mut self,
        tx: VersionedTransaction,
        preflight: bool,
    ) -> Result<Option<TransactionError>, (TransactionError, RpcFailure)> {
        let tables = match self.tables(&tx).await {
            Ok(t) => t,
            Err(err) => return Err((err.clone(), Self::preflight_failure(err, Vec::new(), None))),
        };
        match self.chain.execute(tx, &tables, preflight).await {
            Ok(executed) => Ok(executed.err),
            Err(ExecuteError::Preflight { err, logs, units }) => {
                Err((err.clone(), Self::preflight_failure(err, logs, Some(units))))
            }
            Err(ExecuteError::Bank(e)) => Err((
                TransactionError::ClusterMaintenance,
                RpcFailure::new(-32603, format!("Internal error: {e}")),
            )),
        }
    }

    pub(super) async fn simulate_transaction(&mut self, params: &[Value]) -> RpcResult {
        let (blob, cfg): (String, Option<RpcSimulateTransactionConfig>) = parse(params, 2)?;
        let cfg = cfg.unwrap_or_default();
        let mut tx = decode_transaction(&blob, cfg.encoding)?;
        self.min_context_slot(cfg.min_context_slot).await?;
        if cfg.sig_verify && cfg.replace_recent_blockhash {
            return Err(RpcFailure::invalid_params(
                "sigVerify may not be used with replaceRecentBlockhash",
            ));
        }
        if cfg.accounts.is_some() {
            return Err(RpcFailure::invalid_params(
                "Invalid params: `accounts` (post-simulation account state) is not available from this endpoint's in-process bank.",
            ));
        }
        if cfg.sig_verify && !tx.verify_with_results().iter().all(|ok| *ok) {
            return Err(RpcFailure::new(
                -32003,
                "Transaction signature verification failure",
            ));
        }
        let replacement = if cfg.replace_recent_blockhash {
            let answer = self.latest_blockhash().await?;
            let value: RpcBlockhash = serde_json::from_value(answer["value"].clone())
                .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
            let hash: Hash = value
                .blockhash
                .parse()
                .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e:?}")))?;
            tx.message.set_recent_blockhash(hash);
            Some(value)
        } else {
            None
        };
        let tables = self.tables(&tx).await;
        let keys = match &tables {
            Ok(t) => stk_localnet::message_keys(&tx, t),
            Err(_) => tx.message.static_account_keys().to_vec(),
        };
        let mut pre_balances = Vec::with_capacity(keys.len());
        for k in &keys {
            pre_balances.push(self.account(k).await.map_or(0, |a| a.lamports));
        }
        let fee = fee_of(&tx);
        let chain = self.chain.clone();
        let simulation = match tables {
            Err(err) => (Some(err), Vec::new(), 0, None, None),
            Ok(_) => {
                let sim = chain
                    .with(async |c| c.ctx.banks_client.simulate_transaction(tx).await)
                    .await
                    .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
                let err = match sim.result {
                    Some(Err(e)) => Some(e),
                    _ => None,
                };
                match sim.simulation_details {
                    Some(d) => (
                        err,
                        d.logs,
                        d.units_consumed,
                        d.return_data,
                        d.inner_instructions,
                    ),
                    None => (err, Vec::new(), 0, None, None),
                }
            }
        };
        let (err, logs, units, return_data, inner) = simulation;
        let inner_instructions = cfg.inner_instructions.then(|| {
            inner
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
                .collect()
        });
        let value = RpcSimulateTransactionResult {
            err: err.map(Into::into),
            logs: Some(logs),
            accounts: None,
            units_consumed: Some(units),
            loaded_accounts_data_size: None,
            return_data: return_data.map(UiTransactionReturnData::from),
            inner_instructions,
            replacement_blockhash: replacement,
            fee: Some(fee),
            pre_balances: Some(pre_balances),
            post_balances: None,
            pre_token_balances: None,
            post_token_balances: None,
            loaded_addresses: None,
        };
        self.with_context(json_of(&value)).await
    }

    pub(super) async fn request_airdrop(&mut self, params: &[Value]) -> RpcResult {
        let (to, lamports, _cfg): (String, u64, Option<RpcRequestAirdropConfig>) =
            parse(params, 3)?;
        let to = params::pubkey(&to)?;
        if lamports == 0 || lamports > MAX_AIRDROP_LAMPORTS {
            return Err(RpcFailure::invalid_params(format!(
                "Invalid params: lamports must be between 1 and {MAX_AIRDROP_LAMPORTS} (the faucet's cap per request)"
            )));
        }
        let chain = self.chain.clone();
        let faucet = chain.payer().await;
        let ix = anchor_lang::solana_program::system_instruction::transfer(
            &faucet.pubkey(),
            &to,
            lamports,
        );
        // The same airdrop twice under one blockhash would be the same transaction (a replay):
        // move to a new blockhash first, as a faucet's next request would.
        let mut attempts = 0;
        let tx = loop {
            let blockhash = chain.with(async |c| c.blockhash().await).await;
            let message = solana_sdk::message::v0::Message::try_compile(
                &faucet.pubkey(),
                std::slice::from_ref(&ix),
                &[],
                blockhash,
            )
            .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
            let tx = VersionedTransaction::try_new(VersionedMessage::V0(message), &[&faucet])
                .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
            if !self
                .chain
                .history(|h| h.txs.contains_key(&tx.signatures[0]))
                || attempts >= 3
            {
                break tx;
            }
            attempts += 1;
            chain.with(async |c| c.advance_slots(1).await).await;
        };
        let signature = tx.signatures[0];
        match self.execute(tx, true).await {
            Ok(None) => Ok(json!(signature.to_string())),
            Ok(Some(err)) | Err((err, _)) => Err(RpcFailure::new(
                -32603,
                format!("Internal error: airdrop failed: {err}"),
            )),
        }
    }

    pub(super) async fn signature_statuses(&mut self, params: &[Value]) -> RpcResult {
        let (sigs, _cfg): (Vec<String>, Option<RpcSignatureStatusConfig>) = parse(params, 2)?;
        if sigs.len() > MAX_GET_SIGNATURE_STATUSES_QUERY_ITEMS {
            return Err(RpcFailure::invalid_params(format!(
                "Too many inputs provided; max {MAX_GET_SIGNATURE_STATUSES_QUERY_ITEMS}"
            )));
        }
        let sigs = sigs
            .iter()
            .map(|s| params::signature(s))
            .collect::<Result<Vec<_>, _>>()?;
        let records: Vec<Option<(u64, Option<TransactionError>)>> = self.chain.history(|h| {
            sigs.iter()
                .map(|s| h.txs.get(s).map(|r| (r.slot, r.err.clone())))
                .collect()
        });
        let mut values = Vec::with_capacity(sigs.len());
        for (signature, record) in sigs.into_iter().zip(records) {
            let Some((slot, err)) = record else {
                values.push(None);
                continue;
            };
            let polls = self.status_polls.entry(signature).or_default();
            let (confirmations, level) = match *polls {
                0 => (Some(0), TransactionConfirmationStatus::Processed),
                1 => (Some(1), TransactionConfirmationStatus::Confirmed),
                _ => (None, TransactionConfirmationStatus::Finalized),
            };
            *polls = polls.saturating_add(1);
            values.push(Some(TransactionStatus {
                slot,
                confirmations,
                status: match &err {
                    Some(e) => Err(e.clone()),
                    None => Ok(()),
                },
                err,
                confirmation_status: Some(level),
            }));
        }
        self.with_context(json_of(&values)).await
    }

    pub(super) fn signatures_for_address(&self, params: &[Value]) -> RpcResult {
        let (address, cfg): (String, Option<RpcSignaturesForAddressConfig>) = parse(params, 2)?;
        let address = params::pubkey(&address)?;
        let cfg = cfg.unwrap_or_default();
        if cfg
            .commitment
            .is_some_and(|c| c.commitment == CommitmentLevel::Processed)
        {
            return Err(RpcFailure::invalid_params(
                "Method does not support commitment below `confirmed`",
            ));
        }
        let limit = cfg
            .limit
            .unwrap_or(MAX_GET_CONFIRMED_SIGNATURES_FOR_ADDRESS2_LIMIT);
        if !(1..=MAX_GET_CONFIRMED_SIGNATURES_FOR_ADDRESS2_LIMIT).contains(&limit) {
            return Err(RpcFailure::invalid_params(format!(
                "Invalid limit; max {MAX_GET_CONFIRMED_SIGNATURES_FOR_ADDRESS2_LIMIT}"
            )));
        }
        let before = cfg.before.as_deref().map(params::signature).transpose()?;
        let until = cfg.until.as_deref().map(params::signature).transpose()?;
        let out = self.chain.history(|h| {
            let empty = Vec::new();
            let list = h.by_address.get(&address).unwrap_or(&empty);
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
                let Some(record) = h.txs.get(signature) else {
                    continue;
                };
                out.push(RpcConfirmedTransactionStatusWithSignature {
                    signature: signature.to_string(),
                    slot: record.slot,
                    err: record.err.clone().map(Into::into),
                    memo: None,
                    block_time: Some(record.block_time),
                    confirmation_status: Some(TransactionConfirmationStatus::Finalized),
                });
            }
            out
        });
        Ok(json_of(&out))
    }

    pub(super) fn get_transaction(&self, params: &[Value]) -> RpcResult {
        let (signature, cfg): (
            String,
            Option<RpcEncodingConfigWrapper<RpcTransactionConfig>>,
        ) = parse(params, 2)?;
        let signature = params::signature(&signature)?;
        let cfg = cfg.map(|c| c.convert_to_current()).unwrap_or_default();
        let encoding = cfg.encoding.unwrap_or(UiTransactionEncoding::Json);
        if cfg
            .commitment
            .is_some_and(|c| c.commitment == CommitmentLevel::Processed)
        {
            return Err(RpcFailure::invalid_params(
                "Method does not support commitment below `confirmed`",
            ));
        }
        let Some(record) = self.chain.history(|h| h.txs.get(&signature).cloned()) else {
            return Ok(Value::Null);
        };
        let version = match &record.tx.message {
            VersionedMessage::Legacy(_) => TransactionVersion::LEGACY,
            VersionedMessage::V0(_) => {
                if cfg.max_supported_transaction_version.is_none() {
                    return Err(RpcFailure::new(
                        -32015,
                        "Transaction version (0) is not supported by the requesting client. \
                         Please try the request again with the following configuration \
                         parameter: \"maxSupportedTransactionVersion\": 0",
                    ));
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
        let transaction = match encoding {
            UiTransactionEncoding::Base64 | UiTransactionEncoding::Base58 => {
                let bytes = bincode::serialize(&record.tx).map_err(|e| {
                    RpcFailure::new(-32603, format!("Internal error: {e}"))
                })?;
                if encoding == UiTransactionEncoding::Base64 {
                    EncodedTransaction::Binary(
                        BASE64_STANDARD.encode(bytes),
                        TransactionBinaryEncoding::Base64,
                    )
                } else {
                    EncodedTransaction::Binary(
                        bs58::encode(bytes).into_string(),
                        TransactionBinaryEncoding::Base58,
                    )
                }
            }
            UiTransactionEncoding::Json => EncodedTransaction::Json(ui_transaction(&record.tx)),
            other => {
                return Err(RpcFailure::invalid_params(format!(
                    "Invalid params: encoding {other} is not served by this endpoint for transactions (use json, base58 or base64)."
                )))
            }
        };
        let result = EncodedConfirmedTransactionWithStatusMeta {
            slot: record.slot,
            transaction: EncodedTransactionWithStatusMeta {
                transaction,
                meta: Some(meta),
                version: Some(version),
            },
            block_time: Some(record.block_time),
        };
        Ok(json_of(&result))
    }
}

/// The `json` encoding of a transaction: its raw message.
fn ui_transaction(tx: &VersionedTransaction) -> UiTransaction {
    let message = &tx.message;
    UiTransaction {
        signatures: tx.signatures.iter().map(ToString::to_string).collect(),
        message: UiMessage::Raw(UiRawMessage {
            header: *message.header(),
            account_keys: message
                .static_account_keys()
                .iter()
                .map(ToString::to_string)
                .collect(),
            recent_blockhash: message.recent_blockhash().to_string(),
            instructions: message
                .instructions()
                .iter()
                .map(|ix| UiCompiledInstruction::from(ix, None))
                .collect(),
            address_table_lookups: message
                .address_table_lookups()
                .map(|l| l.iter().map(UiAddressTableLookup::from).collect()),
        }),
    }
}
