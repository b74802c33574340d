//! The JSON-RPC methods.
use anchor_spl::token::spl_token;
use base64::{prelude::BASE64_STANDARD, Engine};
use serde_json::{json, Value};
use solana_account_decoder::{
    encode_ui_account,
    parse_account_data::{AccountAdditionalDataV3, SplTokenAdditionalDataV2},
    parse_token::{get_token_account_mint, token_amount_to_ui_amount_v3},
    UiAccount, UiAccountEncoding, UiDataSliceConfig,
};
use solana_rpc_client_api::{
    config::{
        RpcAccountInfoConfig, RpcContextConfig, RpcProgramAccountsConfig, RpcTokenAccountsFilter,
    },
    filter::RpcFilterType,
    request::{MAX_GET_PROGRAM_ACCOUNT_FILTERS, MAX_MULTIPLE_ACCOUNTS},
    response::RpcBlockhash,
};
use solana_sdk::{
    account::Account, hash::Hash, message::VersionedMessage, program_pack::Pack, pubkey::Pubkey,
    signature::Signature, transaction::VersionedTransaction,
};

use super::{
    params::{self, parse, MAX_BASE64_SIZE, PACKET_DATA_SIZE},
    Inner, RpcFailure, RpcResult, VALID_BLOCKS,
};
use crate::chain::local::fee_of;

/// The agave line this endpoint speaks for.
const SOLANA_CORE: &str = "3.1.12";
/// Largest account data returned in base58.
const MAX_BASE58_BYTES: usize = 128;
/// The token programs whose accounts `getToken*` understand.
const TOKEN_2022: Pubkey = solana_sdk::pubkey!("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

pub(super) fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("RPC types serialize")
}

fn is_token_program(key: &Pubkey) -> bool {
    *key == spl_token::ID || *key == TOKEN_2022
}

fn data_slice_len(account: &Account, slice: Option<UiDataSliceConfig>) -> usize {
    let len = account.data.len();
    match slice {
        Some(s) if s.offset >= len => 0,
        Some(s) => s.length.min(len - s.offset),
        None => len,
    }
}

fn filter_allows(filter: &RpcFilterType, account: &Account) -> bool {
    match filter {
        RpcFilterType::DataSize(size) => account.data.len() as u64 == *size,
        RpcFilterType::Memcmp(compare) => compare.bytes_match(&account.data),
        RpcFilterType::TokenAccountState => {
            is_token_program(&account.owner)
                && spl_token::state::Account::unpack(&account.data).is_ok()
        }
    }
}

fn verify_filters(filters: &[RpcFilterType]) -> Result<(), RpcFailure> {
    if filters.len() > MAX_GET_PROGRAM_ACCOUNT_FILTERS {
        return Err(RpcFailure::invalid_params(format!(
            "Too many filters provided; max {MAX_GET_PROGRAM_ACCOUNT_FILTERS}"
        )));
    }
    for filter in filters {
        filter.verify().map_err(|e| {
            RpcFailure::invalid_params(format!("Invalid param: {filter:?}, error: {e:?}"))
        })?;
    }
    Ok(())
}

fn token_amount_json(amount: u64, decimals: u8) -> Value {
    json_of(&token_amount_to_ui_amount_v3(
        amount,
        &SplTokenAdditionalDataV2::with_decimals(decimals),
    ))
}

impl Inner {
    pub(super) async fn dispatch(&mut self, method: &str, params: &[Value]) -> RpcResult {
        match method {
            "getHealth" => Ok(json!("ok")),
            "getGenesisHash" => {
                let chain = self.chain.clone();
                let hash = chain.with(async |c| c.ctx.genesis_config().hash()).await;
                Ok(json!(hash.to_string()))
            }
            "getVersion" => Ok(json!({ "solana-core": SOLANA_CORE, "feature-set": feature_set() })),
            "getSlot" => {
                let cfg: Option<RpcContextConfig> = parse(params, 1)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                let chain = self.chain.clone();
                let slot = chain
                    .with(async |c| {
                        let slot = c.slot().await;
                        c.advance_slots(1).await;
                        slot
                    })
                    .await;
                Ok(json!(slot))
            }
            "getBlockHeight" => {
                let cfg: Option<RpcContextConfig> = parse(params, 1)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                Ok(json!(self.height))
            }
            "getEpochInfo" => self.epoch_info(params).await,
            "getLatestBlockhash" => {
                let cfg: Option<RpcContextConfig> = parse(params, 1)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                self.latest_blockhash().await
            }
            "isBlockhashValid" => {
                let (hash, cfg): (String, Option<RpcContextConfig>) = parse(params, 2)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                let hash: Hash = hash
                    .parse()
                    .map_err(|e| RpcFailure::invalid_params(format!("Invalid param: {e:?}")))?;
                let valid = self
                    .blockhashes
                    .get(&hash)
                    .is_some_and(|last| *last >= self.height);
                self.with_context(json!(valid)).await
            }
            "getFeeForMessage" => self.fee_for_message(params).await,
            "getMinimumBalanceForRentExemption" => {
                let (len, _cfg): (usize, Option<Value>) = parse(params, 2)?;
                // No account is larger (and the rent arithmetic stays in range).
                const MAX_PERMITTED_DATA_LENGTH: usize = 10 * 1024 * 1024;
                if len > MAX_PERMITTED_DATA_LENGTH {
                    return Err(RpcFailure::invalid_params(format!(
                        "Invalid params: data length {len} exceeds {MAX_PERMITTED_DATA_LENGTH} bytes."
                    )));
                }
                let rent = self
                    .chain
                    .with(async |c| c.ctx.banks_client.get_rent().await)
                    .await
                    .map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
                Ok(json!(rent.minimum_balance(len)))
            }
            "getBalance" => {
                let (key, cfg): (String, Option<RpcContextConfig>) = parse(params, 2)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                let key = params::pubkey(&key)?;
                let lamports = self.account(&key).await.map_or(0, |a| a.lamports);
                self.with_context(json!(lamports)).await
            }
            "getAccountInfo" => {
                let (key, cfg): (String, Option<RpcAccountInfoConfig>) = parse(params, 2)?;
                let cfg = cfg.unwrap_or_default();
                self.min_context_slot(cfg.min_context_slot).await?;
                let key = params::pubkey(&key)?;
                let value = match self.account(&key).await {
                    Some(account) => Some(self.encode(&key, &account, &cfg).await?),
                    None => None,
                };
                self.with_context(json_of(&value)).await
            }
            "getMultipleAccounts" => {
                let (keys, cfg): (Vec<String>, Option<RpcAccountInfoConfig>) = parse(params, 2)?;
                if keys.len() > MAX_MULTIPLE_ACCOUNTS {
                    return Err(RpcFailure::invalid_params(format!(
                        "Too many inputs provided; max {MAX_MULTIPLE_ACCOUNTS}"
                    )));
                }
                let cfg = cfg.unwrap_or_default();
                self.min_context_slot(cfg.min_context_slot).await?;
                let keys = keys
                    .iter()
                    .map(|k| params::pubkey(k))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut values = Vec::with_capacity(keys.len());
                for key in &keys {
                    values.push(match self.account(key).await {
                        Some(account) => Some(self.encode(key, &account, &cfg).await?),
                        None => None,
                    });
                }
                self.with_context(json_of(&values)).await
            }
            "getProgramAccounts" => self.program_accounts(params).await,
            "getTokenAccountsByOwner" => self.token_accounts_by_owner(params).await,
            "getTokenAccountBalance" => {
                let (key, cfg): (String, Option<RpcContextConfig>) = parse(params, 2)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                let key = params::pubkey(&key)?;
                let account = self.account(&key).await.ok_or_else(|| {
                    RpcFailure::invalid_params("Invalid param: could not find account")
                })?;
                let token = (is_token_program(&account.owner))
                    .then(|| spl_token::state::Account::unpack(&account.data).ok())
                    .flatten()
                    .ok_or_else(|| {
                        RpcFailure::invalid_params("Invalid param: not a Token account")
                    })?;
                let decimals = self.mint_decimals(&token.mint).await?;
                self.with_context(token_amount_json(token.amount, decimals))
                    .await
            }
            "getTokenSupply" => {
                let (key, cfg): (String, Option<RpcContextConfig>) = parse(params, 2)?;
                self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
                    .await?;
                let key = params::pubkey(&key)?;
                let account = self.account(&key).await.ok_or_else(|| {
                    RpcFailure::invalid_params("Invalid param: could not find account")
                })?;
                let mint = (is_token_program(&account.owner))
                    .then(|| spl_token::state::Mint::unpack(&account.data).ok())
                    .flatten()
                    .ok_or_else(|| RpcFailure::invalid_params("Invalid param: not a Token mint"))?;
                self.with_context(token_amount_json(mint.supply, mint.decimals))
                    .await
            }
            "getSignatureStatuses" => self.signature_statuses(params).await,
            "getTransaction" => self.get_transaction(params),
            "getSignaturesForAddress" => self.signatures_for_address(params),
            "sendTransaction" => self.send_transaction(params).await,
            "simulateTransaction" => self.simulate_transaction(params).await,
            "requestAirdrop" => self.request_airdrop(params).await,
            _ => Err(RpcFailure::new(-32601, "Method not found")),
        }
    }

    pub(super) async fn slot(&self) -> u64 {
        self.chain.with(async |c| c.slot().await).await
    }

    pub(super) async fn with_context(&self, value: Value) -> RpcResult {
        Ok(json!({
            "context": { "slot": self.slot().await, "apiVersion": SOLANA_CORE },
            "value": value,
        }))
    }

    /// The validator's -32016 when the caller wants a later slot than the node has.
    pub(super) async fn min_context_slot(&self, min: Option<u64>) -> Result<(), RpcFailure> {
        let Some(min) = min else { return Ok(()) };
        let slot = self.slot().await;
        if slot < min {
            return Err(RpcFailure::Error {
                code: -32016,
                message: "Minimum context slot has not been reached".into(),
                data: Some(json!({ "contextSlot": slot })),
            });
        }
        Ok(())
    }

    /// An account, remembered for the account scans when it exists.
    pub(super) async fn account(&self, key: &Pubkey) -> Option<Account> {
        let key = *key;
        let account = self.chain.with(async |c| c.account(&key).await).await;
        if account.is_some() {
            self.chain.note_accounts(&[key]);
        }
        account
    }

    pub(super) async fn mint_decimals(&self, mint: &Pubkey) -> Result<u8, RpcFailure> {
        let account = self
            .account(mint)
            .await
            .ok_or_else(|| RpcFailure::invalid_params("Invalid param: could not find mint"))?;
        spl_token::state::Mint::unpack(&account.data)
            .map(|m| m.decimals)
            .map_err(|_| RpcFailure::invalid_params("Invalid param: not a Token mint"))
    }

    /// An account in the requested encoding (default: the legacy base58 string, as the validator).
    pub(super) async fn encode(
        &self,
        key: &Pubkey,
        account: &Account,
        cfg: &RpcAccountInfoConfig,
    ) -> Result<UiAccount, RpcFailure> {
        let encoding = cfg.encoding.unwrap_or(UiAccountEncoding::Binary);
        match encoding {
            UiAccountEncoding::Binary | UiAccountEncoding::Base58
                if data_slice_len(account, cfg.data_slice) > MAX_BASE58_BYTES =>
            {
                return Err(RpcFailure::invalid_params(format!(
                    "Encoded binary (base 58) data should be less than {MAX_BASE58_BYTES} bytes, please use Base64 encoding."
                )));
            }
            UiAccountEncoding::JsonParsed if cfg.data_slice.is_some() => {
                return Err(RpcFailure::invalid_params(
                    "Sliced account data can only be encoded using binary (base 58) or base64 encoding.",
                ));
            }
            _ => {}
        }
        let additional =
            if encoding == UiAccountEncoding::JsonParsed && is_token_program(&account.owner) {
                match get_token_account_mint(&account.data) {
                    Some(mint) => self.mint_decimals(&mint).await.ok().map(|decimals| {
                        AccountAdditionalDataV3 {
                            spl_token_additional_data: Some(
                                SplTokenAdditionalDataV2::with_decimals(decimals),
                            ),
                        }
                    }),
                    None => None,
                }
            } else {
                None
            };
        Ok(encode_ui_account(
            key,
            account,
            encoding,
            additional,
            cfg.data_slice,
        ))
    }

    async fn epoch_info(&mut self, params: &[Value]) -> RpcResult {
        let cfg: Option<RpcContextConfig> = parse(params, 1)?;
        self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
            .await?;
        let (clock, schedule) = self
            .chain
            .with(async |c| {
                let clock = c.clock().await;
                let schedule = c
                    .ctx
                    .banks_client
                    .get_sysvar::<solana_sdk::epoch_schedule::EpochSchedule>()
                    .await;
                (clock, schedule)
            })
            .await;
        let schedule =
            schedule.map_err(|e| RpcFailure::new(-32603, format!("Internal error: {e}")))?;
        let (epoch, slot_index) = schedule.get_epoch_and_slot_index(clock.slot);
        Ok(json!({
            "absoluteSlot": clock.slot,
            "blockHeight": self.height,
            "epoch": epoch,
            "slotIndex": slot_index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": self.chain.history(|h| h.succeeded),
        }))
    }

    pub(super) async fn latest_blockhash(&mut self) -> RpcResult {
        let blockhash = match self.frozen_blockhash {
            Some(hash) => hash,
            None => self.chain.with(async |c| c.blockhash().await).await,
        };
        self.last_blockhash = Some(blockhash);
        let height = self.height;
        let last_valid = *self
            .blockhashes
            .entry(blockhash)
            .or_insert(height.saturating_add(VALID_BLOCKS));
        let value = RpcBlockhash {
            blockhash: blockhash.to_string(),
            last_valid_block_height: last_valid,
        };
        self.with_context(json_of(&value)).await
    }

    async fn fee_for_message(&mut self, params: &[Value]) -> RpcResult {
        let (blob, cfg): (String, Option<RpcContextConfig>) = parse(params, 2)?;
        self.min_context_slot(cfg.and_then(|c| c.min_context_slot))
            .await?;
        if blob.len() > MAX_BASE64_SIZE {
            return Err(RpcFailure::invalid_params(format!(
                "base64 encoded solana_message::VersionedMessage too large: {} bytes (max: encoded/raw {MAX_BASE64_SIZE}/{PACKET_DATA_SIZE})",
                blob.len()
            )));
        }
        let bytes = BASE64_STANDARD
            .decode(&blob)
            .map_err(|e| RpcFailure::invalid_params(format!("invalid base64 encoding: {e:?}")))?;
        use bincode::Options as _;
        let message: VersionedMessage = bincode::options()
            .with_limit(PACKET_DATA_SIZE as u64)
            .with_fixint_encoding()
            .allow_trailing_bytes()
            .deserialize_from(&bytes[..])
            .map_err(|e| {
                RpcFailure::invalid_params(format!(
                    "failed to deserialize solana_message::VersionedMessage: {e}"
                ))
            })?;
        message
            .sanitize()
            .map_err(|e| RpcFailure::invalid_params(format!("invalid transaction message: {e}")))?;
        // Like the validator: null for a blockhash the node does not know (or that expired).
        let known = self
            .blockhashes
            .get(message.recent_blockhash())
            .is_some_and(|last| *last >= self.height);
        let value = known.then(|| {
            let tx = VersionedTransaction {
                signatures: vec![
                    Signature::default();
                    usize::from(message.header().num_required_signatures)
                ],
                message,
            };
            fee_of(&tx)
        });
        self.with_context(json!(value)).await
    }

    async fn program_accounts(&mut self, params: &[Value]) -> RpcResult {
        let (program, cfg): (String, Option<RpcProgramAccountsConfig>) = parse(params, 2)?;
        let program = params::pubkey(&program)?;
        let cfg = cfg.unwrap_or_default();
        let filters = cfg.filters.unwrap_or_default();
        verify_filters(&filters)?;
        self.min_context_slot(cfg.account_config.min_context_slot)
            .await?;
        let mut out = Vec::new();
        for key in self.chain.seen_accounts() {
            let Some(account) = self.account(&key).await else {
                continue;
            };
            if account.owner != program || !filters.iter().all(|f| filter_allows(f, &account)) {
                continue;
            }
            let ui = self.encode(&key, &account, &cfg.account_config).await?;
            out.push(json!({ "pubkey": key.to_string(), "account": json_of(&ui) }));
        }
        if cfg.with_context.unwrap_or(false) {
            self.with_context(Value::Array(out)).await
        } else {
            Ok(Value::Array(out))
        }
    }

    async fn token_accounts_by_owner(&mut self, params: &[Value]) -> RpcResult {
        let (owner, filter, cfg): (String, RpcTokenAccountsFilter, Option<RpcAccountInfoConfig>) =
            parse(params, 3)?;
        let owner = params::pubkey(&owner)?;
        let cfg = cfg.unwrap_or_default();
        self.min_context_slot(cfg.min_context_slot).await?;
        let (program, mint) = match filter {
            RpcTokenAccountsFilter::Mint(mint) => {
                let mint = params::pubkey(&mint)?;
                let account = self.account(&mint).await.ok_or_else(|| {
                    RpcFailure::invalid_params("Invalid param: could not find mint")
                })?;
                if !is_token_program(&account.owner) {
                    return Err(RpcFailure::invalid_params(
                        "Invalid param: not a Token mint",
                    ));
                }
                (account.owner, Some(mint))
            }
            RpcTokenAccountsFilter::ProgramId(program) => {
                let program = params::pubkey(&program)?;
                if !is_token_program(&program) {
                    return Err(RpcFailure::invalid_params(
                        "Invalid param: unrecognized Token program id",
                    ));
                }
                (program, None)
            }
        };
        let mut out = Vec::new();
        for key in self.chain.seen_accounts() {
            let Some(account) = self.account(&key).await else {
                continue;
            };
            if account.owner != program {
                continue;
            }
            let Ok(token) = spl_token::state::Account::unpack(&account.data) else {
                continue;
            };
            if token.owner != owner || mint.is_some_and(|m| m != token.mint) {
                continue;
            }
            let ui = self.encode(&key, &account, &cfg).await?;
            out.push(json!({ "pubkey": key.to_string(), "account": json_of(&ui) }));
        }
        self.with_context(Value::Array(out)).await
    }
}

/// The first four bytes of the feature set's identifier, as an agave 3.1.12 node reports it in
/// `getVersion` (the runtime this endpoint runs).
fn feature_set() -> u32 {
    let id = agave_feature_set::ID.to_bytes();
    u32::from_le_bytes([id[0], id[1], id[2], id[3]])
}
