//! Parameter parsing with the validator's error shapes: positional parameters deserialized into the
//! 3.1 client's own config types, trailing optional ones may be left out.
use base64::{prelude::BASE64_STANDARD, Engine};
use serde::de::DeserializeOwned;
use serde_json::Value;
use solana_sdk::{pubkey::Pubkey, signature::Signature, transaction::VersionedTransaction};
use solana_transaction_status_client_types::UiTransactionEncoding;

use super::RpcFailure;

/// Deserializes `params` (padded with `null` up to `n`) as one tuple of `n` parameters.
pub(crate) fn parse<T: DeserializeOwned>(params: &[Value], n: usize) -> Result<T, RpcFailure> {
    if params.len() > n {
        return Err(RpcFailure::invalid_params(format!(
            "Invalid params: invalid length {}, expected at most {n}.",
            params.len()
        )));
    }
    let mut padded = params.to_vec();
    padded.resize(n, Value::Null);
    let value = if n == 1 {
        padded.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(padded)
    };
    serde_json::from_value(value)
        .map_err(|e| RpcFailure::invalid_params(format!("Invalid params: {e}.")))
}

pub(crate) fn pubkey(s: &str) -> Result<Pubkey, RpcFailure> {
    s.parse()
        .map_err(|e| RpcFailure::invalid_params(format!("Invalid param: {e:?}")))
}

pub(crate) fn signature(s: &str) -> Result<Signature, RpcFailure> {
    s.parse()
        .map_err(|e| RpcFailure::invalid_params(format!("Invalid param: {e:?}")))
}

/// Largest transaction on the wire, and its largest encodings (the validator's limits).
pub(super) const PACKET_DATA_SIZE: usize = 1232;
const MAX_BASE58_SIZE: usize = 1683;
pub(super) const MAX_BASE64_SIZE: usize = 1644;

/// Decodes a wire transaction with the validator's size limits and messages.
pub(super) fn decode_transaction(
    blob: &str,
    encoding: Option<UiTransactionEncoding>,
) -> Result<VersionedTransaction, RpcFailure> {
    const TYPE: &str = "solana_transaction::versioned::VersionedTransaction";
    let bytes = match encoding.unwrap_or(UiTransactionEncoding::Base58) {
        UiTransactionEncoding::Base58 => {
            if blob.len() > MAX_BASE58_SIZE {
                return Err(RpcFailure::invalid_params(format!(
                    "base58 encoded {TYPE} too large: {} bytes (max: encoded/raw {MAX_BASE58_SIZE}/{PACKET_DATA_SIZE})",
                    blob.len()
                )));
            }
            bs58::decode(blob).into_vec().map_err(|e| {
                RpcFailure::invalid_params(format!("invalid base58 encoding: {e:?}"))
            })?
        }
        UiTransactionEncoding::Base64 => {
            if blob.len() > MAX_BASE64_SIZE {
                return Err(RpcFailure::invalid_params(format!(
                    "base64 encoded {TYPE} too large: {} bytes (max: encoded/raw {MAX_BASE64_SIZE}/{PACKET_DATA_SIZE})",
                    blob.len()
                )));
            }
            BASE64_STANDARD.decode(blob).map_err(|e| {
                RpcFailure::invalid_params(format!("invalid base64 encoding: {e:?}"))
            })?
        }
        other => {
            return Err(RpcFailure::invalid_params(format!(
                "unsupported encoding: {other}. Supported encodings: base58, base64"
            )))
        }
    };
    if bytes.len() > PACKET_DATA_SIZE {
        return Err(RpcFailure::invalid_params(format!(
            "decoded {TYPE} too large: {} bytes (max: {PACKET_DATA_SIZE} bytes)",
            bytes.len()
        )));
    }
    use bincode::Options as _;
    let tx: VersionedTransaction = bincode::options()
        .with_limit(PACKET_DATA_SIZE as u64)
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .deserialize_from(&bytes[..])
        .map_err(|e| RpcFailure::invalid_params(format!("failed to deserialize {TYPE}: {e}")))?;
    tx.sanitize()
        .map_err(|e| RpcFailure::invalid_params(format!("invalid transaction: {e}")))?;
    if tx.signatures.is_empty() {
        return Err(RpcFailure::invalid_params(
            "invalid transaction: no signatures",
        ));
    }
    Ok(tx)
}
