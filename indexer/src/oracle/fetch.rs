//! Fetching a published epoch log over HTTP. The source may be hostile: what it sends is bounded
//! ([`MAX_LOG_RESPONSE_BYTES`], [`MAX_ERROR_BODY_BYTES`]) and read incrementally, never buffered whole
//! before the bound is checked.
use super::{wire::EpochLogResponse, OracleError};

/// The largest epoch-log answer an oracle reads: the canonical log of 1M events is ~120 MB.
pub const MAX_LOG_RESPONSE_BYTES: usize = 1 << 30;
/// The largest error answer read (only its first 500 characters are shown).
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Reads at most `limit` bytes of a body; `Ok(None)` when it is longer (declared or sent).
async fn read_bounded(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Fetches `GET {base}/v1/epochs/{n}/log`.
pub async fn fetch(base: &str, n: u64) -> Result<EpochLogResponse, OracleError> {
    fetch_bounded(base, n, MAX_LOG_RESPONSE_BYTES).await
}

/// [`fetch`] reading at most `limit` bytes of the answer.
pub async fn fetch_bounded(
    base: &str,
    n: u64,
    limit: usize,
) -> Result<EpochLogResponse, OracleError> {
    let url = format!("{}/v1/epochs/{n}/log", base.trim_end_matches('/'));
    let fetch_err = |e: reqwest::Error| OracleError::Fetch {
        url: url.clone(),
        message: e.to_string(),
    };
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(fetch_err)?
        .get(&url)
        .send()
        .await
        .map_err(fetch_err)?;
    let status = resp.status();
    let cap = if status.is_success() {
        limit
    } else {
        MAX_ERROR_BODY_BYTES
    };
    let Some(body) = read_bounded(resp, cap).await.map_err(fetch_err)? else {
        return Err(OracleError::Fetch {
            url: url.clone(),
            message: format!("the answer is larger than {cap} bytes; not reading it"),
        });
    };
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{}: {}",
                    v.get("error")?.as_str()?,
                    v.get("message")?.as_str()?
                ))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(500).collect());
        return Err(OracleError::Source {
            url,
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_slice(&body).map_err(|e| OracleError::Fetch {
        url: url.clone(),
        message: format!("the answer is not an epoch log: {e}"),
    })
}
