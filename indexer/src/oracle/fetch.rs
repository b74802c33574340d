//! Fetching a published epoch log over HTTP.
use super::{wire::EpochLogResponse, OracleError};

/// Fetches `GET {base}/v1/epochs/{n}/log`.
pub async fn fetch(base: &str, n: u64) -> Result<EpochLogResponse, OracleError> {
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
    let body = resp.bytes().await.map_err(fetch_err)?;
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
