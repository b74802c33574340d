//! `stk-indexer bench ingest`: events/s through HTTP into a fresh database, nothing lost.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ingest::{ActivityBatch, EventIn, MAX_BATCH};
use crate::store::{scratch::ScratchDatabase, Store};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub events: u64,
    pub database: Option<String>,
    pub clients: usize,
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub backend: &'static str,
    pub events: u64,
    pub batches: usize,
    pub clients: usize,
    pub elapsed: Duration,
    pub stored: u64,
}

impl BenchReport {
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backend {}: {} events in {} batches of <= {} from {} concurrent clients in {:.3}s = {:.0} events/s; rows stored {} (nothing lost)",
            self.backend,
            self.events,
            self.batches,
            MAX_BATCH,
            self.clients,
            self.elapsed.as_secs_f64(),
            self.events_per_sec(),
            self.stored
        )
    }
}

/// Runs the ingestion benchmark.
pub async fn bench_ingest(
    opts: BenchOptions,
    rules: stk_scoring::RuleSet,
) -> anyhow::Result<BenchReport> {
    if opts.events == 0 || opts.clients == 0 {
        bail!("--events and --clients must be positive");
    }
    let (scratch, url) =
        ScratchDatabase::create(opts.database.as_deref(), rand::thread_rng().gen()).await?;
    let r = run(&opts, rules, &url).await;
    scratch.remove().await;
    r
}

async fn run(
    opts: &BenchOptions,
    rules: stk_scoring::RuleSet,
    url: &str,
) -> anyhow::Result<BenchReport> {
    let now = crate::store::now_unix();
    let mut cfg = Config::default();
    cfg.database.url = url.to_owned();
    cfg.database.max_connections = (opts.clients as u32).clamp(2, 16);
    cfg.epoch.genesis = now - 24 * 3600;
    cfg.rate_limit.per_second = 1e9;
    cfg.rate_limit.burst = u32::MAX;
    cfg.server.listen = "127.0.0.1:0".parse().expect("static address");
    let kinds: Vec<String> = match &rules {
        stk_scoring::RuleSet::V1(r) => r.kinds.keys().cloned().collect(),
        stk_scoring::RuleSet::V2(r) => r.kinds.keys().cloned().collect(),
    };
    if kinds.is_empty() {
        bail!("the rules define no kinds");
    }

    let store = Store::connect(&cfg.database).await?;
    store.migrate().await?;
    let members: Vec<String> = (0..1_000).map(|i| format!("bench-m{i:04}")).collect();
    for m in &members {
        store.create_member(m).await?;
    }
    let key = crate::auth::create_key(&store, "bench")
        .await?
        .context("creating the bench key")?;

    // Bodies are built before the clock starts so the clients cost the server little CPU.
    let mut rng = rand::thread_rng();
    let mut bodies = Vec::new();
    let mut sent = 0u64;
    while sent < opts.events {
        let n = (opts.events - sent).min(MAX_BATCH as u64);
        let events = (sent..sent + n)
            .map(|i| EventIn {
                id: format!("bench-e{i:010}"),
                member: members[rng.gen_range(0..members.len())].clone(),
                kind: kinds[(i as usize) % kinds.len()].clone(),
                occurred_at: crate::wallet::rfc3339(now - rng.gen_range(0..3_600)),
                attributes: Some(serde_json::Map::from_iter([(
                    "source".to_owned(),
                    serde_json::Value::from("bench"),
                )])),
                confirmations: Vec::new(),
                signature: None,
            })
            .collect();
        bodies.push(bytes_of(&ActivityBatch { events })?);
        sent += n;
    }
    let batches = bodies.len();

    let token = CancellationToken::new();
    let state = crate::http::AppState::new(store.clone(), cfg.clone(), Arc::new(rules));
    let server = crate::http::Server::start(cfg.server.listen, state, token.clone()).await?;
    let endpoint = format!("http://{}/v1/activities", server.addr);
    let client = reqwest::Client::new();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));

    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.clients {
        let (client, endpoint, bodies, next) = (
            client.clone(),
            endpoint.clone(),
            bodies.clone(),
            next.clone(),
        );
        let auth = format!("Bearer {}", key.key);
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let resp = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .header("authorization", &auth)
                    .body(body.clone())
                    .send()
                    .await?;
                let status = resp.status();
                let out: serde_json::Value = resp.json().await?;
                if !status.is_success() {
                    bail!("batch {i}: HTTP {status}: {out}");
                }
                accepted += out["accepted"].as_u64().unwrap_or(0);
            }
            Ok::<u64, anyhow::Error>(accepted)
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.context("client task panicked")??;
    }
    let elapsed = start.elapsed();
    server.shutdown().await?;

    let stored = store.count_activities(Some("bench-e")).await?;
    store.close().await;
    if accepted != opts.events || stored != opts.events {
        bail!(
            "lost events: sent {}, accepted {accepted}, stored {stored}",
            opts.events
        );
    }
    Ok(BenchReport {
        backend: if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        },
        events: opts.events,
        batches,
        clients: opts.clients,
        elapsed,
        stored,
    })
}

fn bytes_of(batch: &ActivityBatch) -> anyhow::Result<bytes_alias::Bytes> {
    Ok(bytes_alias::Bytes::from(serde_json::to_vec(batch)?))
}

mod bytes_alias {
    pub use axum::body::Bytes;
}
