//! Reading history: one transaction with its metadata, the program's signatures page by page, and
//! the STK events of a transaction (from its inner instructions, not its logs).
use serde_json::json;
use solana_rpc_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_rpc_client_api::{config::RpcTransactionConfig, request::RpcRequest};
use solana_sdk::signature::Signature;
use solana_transaction_status_client_types::{
    EncodedConfirmedTransactionWithStatusMeta, UiInstruction, UiParsedInstruction,
    UiTransactionEncoding,
};

use super::{RpcChain, MAX_SIGNATURE_PAGE};
use crate::chain::{ChainError, ChainEvent};

impl RpcChain {
    /// [`Chain::events`](crate::chain::Chain::events) of this chain, as documented on
    /// `impl Chain for RpcChain` (`rpc/mod.rs`).
    pub(super) async fn events_after(
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

    /// The confirmed transaction with its metadata, if the node serves it.
    pub(super) async fn transaction(
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
