//! `stk-indexer serve [--local]`: the HTTP API, and with a chain (`chain.rpc_url`, or `--local`: the
//! in-process one) the epoch scheduler and the event watcher.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;

pub(super) async fn run(
    mut cfg: Config,
    local: bool,
    rpc_listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let rules = Arc::new(crate::epoch::load_rules(&cfg.scoring.rules_path)?);
    let rules_text = std::fs::read_to_string(&cfg.scoring.rules_path)?;
    let token = CancellationToken::new();
    // The chain: an in-process one (--local), the configured cluster, or none (API only).
    // Keeps the local JSON-RPC endpoint running while the service runs.
    let mut _rpc_endpoint = None;
    let pipeline_parts = if local {
        let (parts, endpoint) = local_parts(&mut cfg, rpc_listen).await?;
        _rpc_endpoint = Some(endpoint);
        Some(parts)
    } else if cfg.chain.rpc_url.is_some() {
        let (chain, payer, oracle) = super::rpc_parts(&cfg)?;
        Some((chain, payer, oracle))
    } else {
        None
    };
    let store = super::connect(&cfg).await?;
    tracing::info!(
        backend = store.backend_name(),
        rules_version = rules.version(),
        rules_format = rules.format(),
        rules_hash = %hex::encode(rules.hash()),
        "starting"
    );
    store
        .save_rules_text(&hex::encode(rules.hash()), &rules_text)
        .await?;
    for name in cfg.discourse.sources.keys() {
        match crate::discourse::Forum::new(&cfg, &rules, name) {
            Ok(_) => {
                tracing::info!(source = %name, "Discourse webhook: POST /v1/sources/discourse/{name}")
            }
            Err(e) => {
                tracing::warn!(source = %name, error = %e, "Discourse source without a forum mapping: its webhooks are refused")
            }
        }
    }
    let state = crate::http::AppState::new(store.clone(), cfg.clone(), rules.clone());
    state
        .set_rules_toml(&rules_text)
        .map_err(|e| anyhow::anyhow!("rules file: {e}"))?;
    let server = crate::http::Server::start(cfg.server.listen, state, token.clone()).await?;
    println!("listening on http://{}", server.addr);
    let mut tasks = Vec::new();
    if let Some((chain, payer, oracle)) = pipeline_parts {
        let interval = std::time::Duration::from_secs(cfg.chain.scheduler_interval_secs.max(1));
        let pipeline = crate::pipeline::Pipeline {
            store: store.clone(),
            cfg: Arc::new(cfg.clone()),
            rules,
            chain: chain.clone(),
            payer,
            oracle,
            send: super::send_options(&cfg),
            fail: None,
            progress: false,
        };
        tasks.push(pipeline.spawn_scheduler(interval, token.clone()));
        tasks.push(crate::watcher::spawn(
            store.clone(),
            chain,
            interval,
            token.clone(),
        ));
        println!(
            "epoch scheduler and event watcher every {} s",
            interval.as_secs()
        );
    }
    let t = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: draining in-flight requests");
        t.cancel();
    });
    server.wait().await?;
    for task in tasks {
        let _ = task.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `--local`: an in-process chain with the STK program initialized and this service its one oracle;
/// epoch 0 starts now (`cfg.epoch.genesis` is set to it).
/// A running endpoint, held until the service stops.
type Endpoint = Box<dyn std::any::Any + Send>;

#[cfg(feature = "local")]
async fn local_parts(
    cfg: &mut Config,
    rpc_listen: std::net::SocketAddr,
) -> anyhow::Result<(super::ChainParts, Endpoint)> {
    use solana_sdk::signer::Signer as _;

    use crate::dev::local::{EconomyOptions, LocalEconomy};

    let economy = LocalEconomy::start(EconomyOptions {
        oracles: 1,
        threshold: 1,
        epochs_ago: 0,
        epoch_duration: cfg.epoch.duration_secs,
        budget_per_epoch: cfg.epoch.budget,
        ..Default::default()
    })
    .await?;
    cfg.epoch.genesis = economy.genesis;
    println!(
        "emission rule: an epoch mints at most {} bps of the revenue deposited during it, valued at the floor; \
         epoch 0 got its budget's revenue, deposit each later epoch's with `stk-indexer admin deposit-revenue` \
         (an epoch without revenue pays nothing)",
        economy.options.limits.emission_inflow_bps
    );
    println!(
            "in-process chain: STK program initialized (admin {}, oracle {} = this service, epoch 0 starts now, {} s epochs)",
            economy.admin.pubkey(),
            economy.oracles[0].pubkey(),
            cfg.epoch.duration_secs
        );
    // The accounts set up before the endpoint existed, for its account scans.
    let mut known = vec![
        economy.admin.pubkey(),
        economy.payer.pubkey(),
        economy.quote_mint,
        economy.quote_authority.pubkey(),
    ];
    known.extend(economy.oracles.iter().map(|o| o.pubkey()));
    economy.chain.note_accounts(&known);
    let endpoint = crate::chain::rpc_server::RpcServer::start(economy.chain.clone(), rpc_listen)
        .await
        .map_err(|e| anyhow::anyhow!("JSON-RPC endpoint on {rpc_listen}: {e}"))?;
    println!(
        "Solana JSON-RPC endpoint on the in-process chain: {} (e.g. `solana -u {} balance`)",
        endpoint.url, endpoint.url
    );
    // The web app reads and sends through the same endpoint.
    cfg.chain.rpc_url = Some(endpoint.url.clone());
    let chain: Arc<dyn crate::chain::Chain> = Arc::new(economy.chain.clone());
    Ok((
        (
            chain,
            economy.payer.clone(),
            Some(economy.oracles[0].clone()),
        ),
        Box::new(endpoint),
    ))
}

#[cfg(not(feature = "local"))]
async fn local_parts(
    _cfg: &mut Config,
    _rpc_listen: std::net::SocketAddr,
) -> anyhow::Result<(super::ChainParts, Endpoint)> {
    anyhow::bail!("serve --local: {}", super::NO_LOCAL)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
