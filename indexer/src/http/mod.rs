//! The HTTP API (axum): shared state, the router (one sub-router per resource, merged here, with the
//! middleware), the server and the OpenAPI document.
//!
//! `extract` holds the request extractors (API key, JSON body), `error` the one error type, `wire`
//! the request and response bodies; `activities`, `members`, `wallets`, `epochs` and `ops` each own
//! their routes and thin handlers over the domain modules.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::auth::RateLimiter;
use crate::config::Config;
use crate::store::Store;

mod actions;
mod activities;
mod discourse;
mod epochs;
pub mod error;
pub mod extract;
mod members;
mod ops;
mod records;
mod serve;
mod views;
mod wallets;
pub mod web;
pub mod wire;

use error::{ApiError, ErrorBody};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Config,
    rules: Arc<stk_scoring::RuleSet>,
    /// The text of the rules file `rules` was parsed from (served to oracles with each epoch log).
    rules_toml: OnceLock<Arc<str>>,
    limiter: RateLimiter,
    /// Public reads, per client address.
    public_limiter: RateLimiter,
    metrics: PrometheusHandle,
    /// The web app: member sessions, the cluster connection.
    web: web::WebState,
}

/// Why a rules text is not served with epoch logs.
#[derive(Debug, thiserror::Error)]
pub enum RulesTextError {
    #[error(transparent)]
    Parse(#[from] stk_scoring::RulesError),
    #[error("the rules text hashes to {}, the service runs rules {}",
        hex::encode(.text), hex::encode(.running))]
    Mismatch { text: [u8; 32], running: [u8; 32] },
}

impl AppState {
    pub fn new(store: Store, config: Config, rules: Arc<stk_scoring::RuleSet>) -> Self {
        let limiter = RateLimiter::new(&config.rate_limit);
        let public_limiter = RateLimiter::public(&config.rate_limit);
        let metrics = crate::metrics::handle();
        crate::ingest::register_metrics();
        let state = Self {
            inner: Arc::new(Inner {
                store,
                config,
                rules,
                rules_toml: OnceLock::new(),
                limiter,
                public_limiter,
                metrics,
                web: web::WebState::default(),
            }),
        };
        // The rules text for oracles: the configured rules file, if it is the rules being run.
        if let Ok(text) = std::fs::read_to_string(&state.inner.config.scoring.rules_path) {
            if let Err(e) = state.set_rules_toml(&text) {
                tracing::warn!(path = %state.inner.config.scoring.rules_path.display(), error = %e,
                    "rules file not served to oracles");
            }
        }
        state
    }
    /// Sets the rules text served with epoch logs; it must parse to the rules this state runs.
    pub fn set_rules_toml(&self, text: &str) -> Result<(), RulesTextError> {
        let parsed = stk_scoring::RuleSet::from_toml(text)?;
        if parsed.hash() != self.inner.rules.hash() {
            return Err(RulesTextError::Mismatch {
                text: parsed.hash(),
                running: self.inner.rules.hash(),
            });
        }
        let _ = self.inner.rules_toml.set(Arc::from(text));
        Ok(())
    }
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    fn rules(&self) -> &stk_scoring::RuleSet {
        &self.inner.rules
    }
    /// The rules text served with epoch logs, once set.
    fn rules_toml(&self) -> Option<&str> {
        self.inner.rules_toml.get().map(|t| &**t)
    }
    fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }
    fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }
    fn web(&self) -> &web::WebState {
        &self.inner.web
    }
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "SysTok indexer API", description = "Activity ingestion, members, wallet binding, confirmations, vouches, epochs and receipts."),
    paths(activities::post_activities, members::create_member, members::activate_member,
          members::deactivate_member, members::get_member, wallets::wallet_challenge,
          wallets::bind_wallet, epochs::list_epochs, epochs::get_epoch, epochs::get_receipt,
          epochs::get_epoch_log, members::get_timeline, records::post_confirmation,
          records::post_vouch, records::put_subscription, records::post_manifest, discourse::post_webhook, ops::healthz,
          ops::readyz, ops::metrics, web::create_session, web::get_session,
          web::session_challenge, web::session_bind, views::economy, views::wallet_state, views::plans,
          web::send_tx, web::attestations),
    components(schemas(ErrorBody, crate::ingest::ActivityBatch, crate::ingest::EventIn,
        crate::ingest::BatchResponse, crate::ingest::ItemResult, crate::ingest::ItemStatus,
        crate::ingest::RejectReason, wire::CreateMember, wire::MemberView, wire::MemberSummary,
        wire::MemberEpochView, wire::Challenge, wire::BindWallet, wire::EpochView, wire::EpochList,
        wire::Status, crate::oracle::EpochLogResponse, crate::oracle::BindingProof,
        crate::oracle::ServedAllocation, crate::watcher::Timeline, crate::watcher::TimelineItem,
        crate::watcher::TimelineTotals, crate::records::ConfirmationIn,
        crate::records::ConfirmationView, crate::records::VouchIn, crate::records::SubscriptionIn,
        crate::records::ManifestIn, records::Ack, discourse::WebhookAnswer,
        crate::discourse::Outcome, crate::discourse::Status, web::WebSession, crate::member_tx::PlanList,
        web::SendTx, web::Sent, web::Attestations, web::ChainEpoch, web::OracleApproval,
        crate::member_tx::Economy, crate::member_tx::WalletState,
        crate::member_tx::Plan)),
    modifiers(&SecurityAddon),
)]
pub struct ApiDoc;

async fn fallback() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// Public reads (the routes that need no key, under `/v1/`) take a token from their client address's bucket
/// (`rate_limit.public_*`); an empty bucket is a 429 with `Retry-After`. The address comes from the
/// accept loop (`ConnectInfo`); the service is meant to face clients directly, or a proxy must
/// enforce its own per-client limit.
async fn public_rate_limit(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    {
        let ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        if let Err(wait) = st.inner.public_limiter.check(&ip) {
            return ApiError::public_rate_limited(wait.as_secs_f64().ceil() as u64).into_response();
        }
    }
    next.run(req).await
}

/// The full router: every resource's routes, the JSON 404 fallback and the middleware.
pub fn router(state: AppState) -> Router {
    let cfg = state.inner.config.server.clone();
    let limited = state.clone();
    // Public reads: every route that needs no key, except operations (probes, metrics).
    let public = Router::new()
        .merge(members::public_router())
        .merge(epochs::router())
        .merge(web::public_router())
        .merge(actions::router(state.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            limited,
            public_rate_limit,
        ));
    Router::new()
        .merge(activities::router())
        .merge(members::router())
        .merge(wallets::router())
        .merge(records::router())
        .merge(discourse::router())
        .merge(public)
        .merge(ops::router())
        .merge(web::router())
        .fallback(fallback)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(cfg.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(cfg.request_timeout_secs),
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(TraceLayer::new_for_http())
}

/// A running HTTP server.
pub struct Server {
    pub addr: SocketAddr,
    pub token: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
}

/// Connection-level limits of the accept loop (from `[server]`).
#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    shutdown_grace: Duration,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves until `token` is cancelled.
    ///
    /// The accept loop enforces the `[server]` connection limits: a request head must arrive within
    /// `header_read_timeout_secs` (this also bounds the wait for the next request on a kept-alive
    /// connection), a connection on which no byte moves for `idle_timeout_secs` is closed, and at
    /// most `max_connections` are served at once: over the limit the loop stops accepting, so new
    /// connections wait in the listen backlog until a slot frees (stalled ones free theirs at the
    /// timeouts above). On shutdown it stops accepting, lets in-flight requests finish and cuts
    /// whatever is still open after `shutdown_grace_secs`.
    pub async fn start(
        listen: SocketAddr,
        state: AppState,
        token: CancellationToken,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let cfg = &state.inner.config.server;
        let limits = ConnLimits {
            header_read_timeout: Duration::from_secs(cfg.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(cfg.idle_timeout_secs),
            max_connections: cfg.max_connections,
            shutdown_grace: Duration::from_secs(cfg.shutdown_grace_secs),
        };
        let app = router(state);
        let handle = tokio::spawn(serve::accept_loop(listener, app, limits, token.clone()));
        tracing::info!(%addr, "listening");
        Ok(Self {
            addr,
            token,
            handle,
        })
    }

    /// Stops accepting, lets in-flight requests finish (at most `shutdown_grace_secs`), and waits.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.token.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after its token is cancelled).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.handle.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
