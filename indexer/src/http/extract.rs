//! Request extractors: the platform API key and JSON bodies, both rejecting with [`ApiError`].

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;
use std::marker::PhantomData;

use crate::auth::{self, ApiPrincipal, Scope};

/// The scope a route requires, as a type: a handler takes [`Authorized<S>`], so no write route can
/// be authenticated without naming its scope.
pub trait RequiredScope {
    const SCOPE: Scope;
}

/// Marker types of [`RequiredScope`].
pub mod scope {
    use super::{RequiredScope, Scope};
    pub struct Ingest;
    pub struct Members;
    pub struct Wallets;
    pub struct Confirm;
    impl RequiredScope for Confirm {
        const SCOPE: Scope = Scope::Confirm;
    }
    impl RequiredScope for Ingest {
        const SCOPE: Scope = Scope::Ingest;
    }
    impl RequiredScope for Members {
        const SCOPE: Scope = Scope::Members;
    }
    impl RequiredScope for Wallets {
        const SCOPE: Scope = Scope::Wallets;
    }
}

/// An authenticated, rate-limited platform caller whose key holds scope `S` (else 403
/// `forbidden`).
pub struct Authorized<S: RequiredScope>(pub ApiPrincipal, PhantomData<S>);

impl<S: RequiredScope> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ApiKey(principal) = ApiKey::from_request_parts(parts, state).await?;
        if !principal.allows(S::SCOPE) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this API key lacks the `{}` scope required by this route",
                    S::SCOPE
                ),
            ));
        }
        Ok(Authorized(principal, PhantomData))
    }
}

/// An authenticated, rate-limited platform caller (`Authorization: Bearer <key>`), any scope.
pub struct ApiKey(pub ApiPrincipal);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <API key>"))?;
        let presented = header
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::unauthorized("Authorization must be: Bearer <API key>"))?;
        let principal = auth::verify_key(state.store(), presented)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
        state
            .limiter()
            .check(&principal.key_id)
            .map_err(|wait| ApiError::rate_limited(wait.as_secs_f64().ceil() as u64))?;
        Ok(ApiKey(principal))
    }
}

/// The token of `Bearer <token>`; the scheme name is case-insensitive (RFC 7235 §2.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A JSON body with JSON errors: 415 unless `Content-Type: application/json`, 413 over the body
/// limit, 400 for malformed JSON, wrong types, unknown fields or excessive nesting.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is too large",
                )
            } else {
                ApiError::bad_request("bad_body", rej.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            let msg = e.to_string();
            match e.classify() {
                _ if msg.contains("recursion limit") => {
                    ApiError::bad_request("too_deep", "JSON nesting is too deep")
                }
                _ if msg.contains(crate::limits::TOO_LONG) => {
                    ApiError::bad_request("too_long", msg)
                }
                Category::Data => ApiError::bad_request("invalid_body", msg),
                _ => ApiError::bad_request("malformed_json", msg),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for h in ["Bearer k", "bearer k", "BEARER k", "bEaReR   k  "] {
            assert_eq!(bearer_token(h), Some("k"), "{h}");
        }
        for h in ["Basic k", "Bearer", "Bearer ", "Bearerk", "k"] {
            assert_eq!(bearer_token(h), None, "{h}");
        }
    }
}
