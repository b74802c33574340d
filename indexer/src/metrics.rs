//! Prometheus metrics (process-wide recorder, rendered at `GET /metrics`).
//!
//! - `stk_http_requests_total{method,route,status}` and `stk_http_request_duration_seconds{route}`
//! - `stk_events_accepted_total`, `stk_events_duplicate_total`,
//!   `stk_events_rejected_total{reason}`
//! - `stk_scoring_duration_seconds` (histogram) and `stk_epochs_scored_total`

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder on first use and returns its handle. If another recorder is
/// already installed (an embedding application), metrics go there and this handle renders a
/// private, empty registry.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ])
                .expect("static bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
            }
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "stk_http_requests_total",
        "HTTP requests by route and status"
    );
    metrics::describe_histogram!(
        "stk_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency"
    );
    metrics::describe_counter!("stk_events_accepted_total", "Events stored");
    metrics::describe_counter!(
        "stk_events_duplicate_total",
        "Events ignored because their id was already stored"
    );
    metrics::describe_counter!("stk_events_rejected_total", "Events rejected, by reason");
    metrics::describe_histogram!(
        "stk_scoring_duration_seconds",
        metrics::Unit::Seconds,
        "Time to score one epoch"
    );
    metrics::describe_counter!("stk_epochs_scored_total", "Epochs scored and stored");
    // Register every series up front so dashboards see zeros rather than gaps.
    // (The ingestion counters are registered by `ingest::register_metrics`, which knows the reasons.)
    metrics::counter!("stk_epochs_scored_total").increment(0);
}

/// Counts of one ingested batch: stored, duplicates, and rejections per reason (a reason with a zero
/// count registers its series).
pub fn record_ingest(accepted: u64, duplicates: u64, rejected: &[(&'static str, u64)]) {
    metrics::counter!("stk_events_accepted_total").increment(accepted);
    metrics::counter!("stk_events_duplicate_total").increment(duplicates);
    for &(reason, n) in rejected {
        metrics::counter!("stk_events_rejected_total", "reason" => reason).increment(n);
    }
}

pub fn record_scoring(elapsed: Duration, stored: bool) {
    metrics::histogram!("stk_scoring_duration_seconds").record(elapsed.as_secs_f64());
    if stored {
        metrics::counter!("stk_epochs_scored_total").increment(1);
    }
}

/// The `method` label: one of the standard methods, else `other`. Clients choose the method
/// freely (any token is valid HTTP); a label taken from it verbatim would grow a new series per
/// invented method, forever.
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The `status` label: the standard status codes by number; any other code (a handler cannot
/// produce one from client input, but the label set stays bounded regardless) as its class, `5xx`.
pub fn status_label(s: StatusCode) -> String {
    if s.canonical_reason().is_some() {
        s.as_u16().to_string()
    } else {
        format!("{}xx", s.as_u16() / 100)
    }
}

/// axum middleware: request count and latency per matched route. Every label is bounded: the
/// route is the matched route template (`unmatched` for anything else, never the raw path), the
/// method and status come from [`method_label`] and [`status_label`].
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = status_label(resp.status());
    metrics::counter!("stk_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("stk_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
