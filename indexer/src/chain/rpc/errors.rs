//! RPC calls with retries, and which failures are transient.
use backon::{ExponentialBuilder, Retryable};
use solana_rpc_client_api::{
    client_error::{Error as ClientError, ErrorKind as ClientErrorKind},
    custom_error,
    request::RpcError,
};

use super::RpcChain;
use crate::chain::ChainError;

impl RpcChain {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.options.retry_min_delay)
            .with_max_delay(self.options.retry_min_delay * 32)
            .with_max_times(self.options.max_retries)
            .with_jitter()
    }

    /// Runs one RPC call, retrying transport failures with exponential backoff.
    pub(super) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        f.retry(self.backoff())
            .when(is_transient)
            .notify(|e, delay| {
                tracing::warn!(url = %self.url, call = what, error = %e, ?delay, "RPC call failed; retrying")
            })
            .await
    }

    /// Like [`RpcChain::call`], with the error mapped to [`ChainError::Transport`] (or `Invalid` for
    /// answers that retrying cannot fix).
    pub(super) async fn read<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ChainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        self.call(what, f).await.map_err(|e| transport(what, &e))
    }
}

pub(super) fn rpc_code(e: &ClientError) -> Option<i64> {
    match e.kind() {
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) => Some(*code),
        _ => None,
    }
}

/// Failures that the same call may not hit again: the node was unreachable, slow, overloaded or
/// behind.
pub(super) fn is_transient(e: &ClientError) -> bool {
    match e.kind() {
        ClientErrorKind::Io(_) | ClientErrorKind::Middleware(_) => true,
        ClientErrorKind::Reqwest(r) => match r.status() {
            Some(status) => {
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
            }
            // Connecting, timing out, a cut body...
            None => true,
        },
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code, .. }) => matches!(
            *code,
            custom_error::JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY
                | custom_error::JSON_RPC_SERVER_ERROR_BLOCK_NOT_AVAILABLE
                | custom_error::JSON_RPC_SERVER_ERROR_MIN_CONTEXT_SLOT_NOT_REACHED
                | custom_error::JSON_RPC_SERVER_ERROR_BLOCK_STATUS_NOT_AVAILABLE_YET
                | custom_error::JSON_RPC_SERVER_ERROR_LONG_TERM_STORAGE_UNREACHABLE
                // JSON-RPC "internal error"
                | -32603
        ),
        _ => false,
    }
}

pub(super) fn transport(what: &str, e: &ClientError) -> ChainError {
    ChainError::Transport(format!("{what}: {e}"))
}
