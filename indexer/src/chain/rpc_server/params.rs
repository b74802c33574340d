//! Parameter parsing with the validator's error shapes: positional parameters deserialized into the
//! 3.1 client's own config types, trailing optional ones may be left out.
use serde::de::DeserializeOwned;
use serde_json::Value;
use solana_sdk::{pubkey::Pubkey, signature::Signature};

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
