//! Command line (clap derive). `main.rs` only calls [`run`].

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use solana_sdk::signer::Signer as _;

use crate::config::Config;
use crate::ingest::{self, EventIn, ItemStatus};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "stk-indexer",
    version,
    about = "SysTok indexer: activity ingestion, members, wallets, scoring"
)]
pub struct Cli {
    /// TOML configuration file (values are overridden by STK_* environment variables).
    #[arg(long, global = true, env = "STK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole economy locally, no setup: in-process chain + SQLite, ~500 members, four epochs,
    /// buyback, premium sale, access payment; prints the tables and checks the invariants.
    Demo {
        #[arg(long, default_value_t = 498)]
        members: usize,
        #[arg(long, default_value_t = 4)]
        epochs: u64,
        /// sqlite://... or postgres://... (default: a temporary SQLite file).
        #[arg(long)]
        database: Option<String>,
    },
    /// Run the HTTP API (migrates first). Stops gracefully on ctrl-c / SIGTERM.
    Serve {
        /// Bring an in-process chain (the real runtime with the STK program, one oracle: this service)
        /// and run the epoch pipeline against it; no cluster needed.
        #[arg(long)]
        local: bool,
    },
    /// Apply database migrations.
    Migrate,
    /// Ingest a JSON Lines file (one event per line), in batches of 1,000.
    Ingest {
        file: PathBuf,
        /// Skip the lines recorded as done in FILE.progress by an earlier run.
        #[arg(long)]
        resume: bool,
    },
    /// Manage members.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Manage platform API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Epoch operations.
    Epoch {
        #[command(subcommand)]
        action: EpochAction,
    },
    /// Print a member's receipt for an epoch, human-readably.
    Explain { member: String, epoch: u64 },
    /// Oracle mode: recompute a published epoch and attest it only if it is identical.
    Oracle {
        #[command(subcommand)]
        action: OracleAction,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Create an (inactive) member.
    Add {
        id: String,
    },
    Activate {
        id: String,
    },
    Deactivate {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; it is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// Scopes of the key (repeat or comma-separate): ingest, members, wallets, admin (all).
        /// Default: every scope.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<crate::auth::Scope>,
    },
    /// Revoke the key with this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EpochAction {
    /// Score an ended epoch and store allocations + receipts (marks it scored).
    Score {
        epoch: u64,
        /// Print the allocation table without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop accepting activity for an epoch.
    Freeze { epoch: u64 },
    /// Run an ended epoch through the pipeline against the configured cluster (`chain.rpc_url`):
    /// freeze, score, attest with this service's oracle key, wait for the threshold, distribute.
    Run {
        epoch: u64,
        /// Keep polling this long for the other oracles' attestations (0: one pass).
        #[arg(long, default_value_t = 0)]
        wait_secs: u64,
    },
    /// The pipeline state of every epoch (or of one), with chunks paid.
    Status { epoch: Option<u64> },
}

#[derive(Debug, Subcommand)]
pub enum OracleAction {
    /// Fetch epoch N's log, rules and binding proofs from SOURCE (`GET /v1/epochs/N/log`), verify
    /// them, recompute the allocation and its root, and attest it on the cluster only if every value
    /// is identical; otherwise print what differs and exit non-zero.
    Attest {
        epoch: u64,
        /// Base URL of the publishing service, e.g. https://stk.example.org
        #[arg(long)]
        source: String,
        /// The oracle's keypair file (Solana CLI JSON). Default: $STK_ORACLE_KEYPAIR, else
        /// ~/.config/solana/id.json.
        #[arg(long)]
        keypair: Option<PathBuf>,
        /// Solana JSON-RPC URL of the cluster (not needed with --dry-run).
        #[arg(long, env = "STK_CLUSTER_URL", required_unless_present = "dry_run")]
        cluster: Option<String>,
        /// Another service (e.g. a mirror) serving the same epoch: the first line where the two logs
        /// differ is reported.
        #[arg(long)]
        compare: Option<String>,
        /// Verify and recompute only; attest nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// One epoch of N recipients through the whole pipeline on the in-process chain; prints the time
    /// of each stage and transactions and fees per 1,000 recipients.
    Pipeline {
        #[arg(long, default_value_t = 12_000)]
        recipients: usize,
    },
    /// Start the real server on 127.0.0.1:0 and POST batches of 1,000 events from concurrent
    /// clients into a fresh database; checks nothing was lost and prints events/s.
    Ingest {
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// sqlite://... or postgres://... (a fresh database is created on that server and
        /// dropped afterwards). Default: a temporary SQLite file.
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
}

/// Parses the command line and runs it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Demo {
            members,
            epochs,
            database,
        } => {
            if members < 3 || epochs == 0 {
                bail!("the demo needs at least 3 members and 1 epoch");
            }
            let outcome = crate::demo::run(crate::demo::DemoOptions {
                members,
                epochs,
                database,
                progress: true,
            })
            .await?;
            println!("{}", crate::demo::report(&outcome));
            if !crate::demo::invariants_hold(&outcome) {
                bail!("an invariant of the economy does not hold (see above)");
            }
            Ok(())
        }
        Command::Serve { local } => serve(cfg, local).await,
        Command::Migrate => {
            let store = connect(&cfg).await?;
            println!("migrations applied ({})", store.backend_name());
            store.close().await;
            Ok(())
        }
        Command::Ingest { file, resume } => {
            let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
            let store = connect(&cfg).await?;
            let token = CancellationToken::new();
            let t = token.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("interrupted: finishing the current batch, then stopping (re-run with --resume)");
                    t.cancel();
                }
            });
            let mut out = std::io::stdout().lock();
            let s = ingest_file(&store, &cfg, &rules, &file, resume, &token, &mut out).await;
            store.close().await;
            let s = s?;
            if s.interrupted {
                bail!("interrupted after line {}", s.last_line);
            }
            Ok(())
        }
        Command::Member { action } => {
            let store = connect(&cfg).await?;
            let r = member(&store, action).await;
            store.close().await;
            r
        }
        Command::Keys { action } => {
            let store = connect(&cfg).await?;
            let r = keys(&store, action).await;
            store.close().await;
            r
        }
        Command::Epoch { action } => {
            let store = connect(&cfg).await?;
            let r = epoch_cmd(&store, &cfg, action).await;
            store.close().await;
            r
        }
        Command::Oracle { action } => oracle_cmd(action).await,
        Command::Explain { member, epoch } => {
            let store = connect(&cfg).await?;
            let r = store.receipt(epoch, &member).await;
            store.close().await;
            let Some(json) = r? else {
                bail!("no receipt for member {member:?} in epoch {epoch} (is the epoch scored?)");
            };
            let receipt: stk_scoring::Receipt =
                serde_json::from_str(&json).context("stored receipt does not parse")?;
            print!("{}", crate::epoch::explain(&receipt));
            Ok(())
        }
        Command::Bench {
            action: BenchAction::Pipeline { recipients },
        } => {
            let result = crate::bench_pipeline::run(recipients).await?;
            print!("{}", crate::bench_pipeline::report(&result));
            Ok(())
        }
        Command::Bench {
            action:
                BenchAction::Ingest {
                    events,
                    database,
                    clients,
                },
        } => {
            let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
            let report = crate::bench::bench_ingest(
                crate::bench::BenchOptions {
                    events,
                    database,
                    clients,
                },
                rules,
            )
            .await?;
            println!("{report}");
            Ok(())
        }
    }
}

async fn connect(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&cfg.database)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("running migrations")?;
    Ok(store)
}

async fn serve(mut cfg: Config, local: bool) -> anyhow::Result<()> {
    let rules = Arc::new(crate::epoch::load_rules(&cfg.scoring.rules_path)?);
    let rules_text = std::fs::read_to_string(&cfg.scoring.rules_path)?;
    let token = CancellationToken::new();
    // The chain: an in-process one (--local), the configured cluster, or none (API only).
    let mut local_chain = None;
    let pipeline_parts = if local {
        let economy = crate::local::LocalEconomy::start(crate::local::EconomyOptions {
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
            "in-process chain: STK program initialized (admin {}, oracle {} = this service, epoch 0 starts now, {} s epochs)",
            economy.admin.pubkey(),
            economy.oracles[0].pubkey(),
            cfg.epoch.duration_secs
        );
        local_chain = Some(economy.chain.clone());
        let chain: Arc<dyn crate::chain::Chain> = Arc::new(economy.chain.clone());
        Some((
            chain,
            economy.payer.clone(),
            Some(economy.oracles[0].clone()),
        ))
    } else if cfg.chain.rpc_url.is_some() {
        let (chain, payer, oracle) = rpc_parts(&cfg)?;
        Some((chain, payer, oracle))
    } else {
        None
    };
    let store = connect(&cfg).await?;
    tracing::info!(
        backend = store.backend_name(),
        rules_version = rules.version,
        rules_hash = %hex::encode(rules.hash()),
        "starting"
    );
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
            send: send_options(&cfg),
            fail: None,
            progress: false,
        };
        tasks.push(pipeline.spawn_scheduler(interval, token.clone(), local_chain));
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

fn send_options(cfg: &Config) -> crate::pipeline::SendOptions {
    crate::pipeline::SendOptions {
        compute_unit_limit: cfg.chain.compute_unit_limit,
        compute_unit_price_micro_lamports: cfg.chain.compute_unit_price_micro_lamports,
        ..Default::default()
    }
}

type ChainParts = (
    Arc<dyn crate::chain::Chain>,
    Arc<solana_sdk::signature::Keypair>,
    Option<Arc<solana_sdk::signature::Keypair>>,
);

/// The configured cluster and this service's keys (payer; oracle when configured).
fn rpc_parts(cfg: &Config) -> anyhow::Result<ChainParts> {
    use solana_commitment_config::CommitmentConfig;
    let url = cfg
        .chain
        .rpc_url
        .as_deref()
        .context("chain.rpc_url is not set (STK_CHAIN__RPC_URL or [chain] rpc_url)")?;
    let commitment = match cfg.chain.commitment.as_str() {
        "processed" => CommitmentConfig::processed(),
        "confirmed" => CommitmentConfig::confirmed(),
        "finalized" => CommitmentConfig::finalized(),
        other => bail!("chain.commitment {other:?}: use processed, confirmed or finalized"),
    };
    let chain = crate::chain::rpc::RpcChain::new(url, commitment, Default::default());
    let payer =
        crate::chain::rpc::load_keypair(cfg.chain.payer_keypair.as_deref(), "STK_PAYER_KEYPAIR")
            .context("the service's fee payer")?;
    let oracle =
        if cfg.chain.oracle_keypair.is_some() || std::env::var_os("STK_ORACLE_KEYPAIR").is_some() {
            Some(Arc::new(
                crate::chain::rpc::load_keypair(
                    cfg.chain.oracle_keypair.as_deref(),
                    "STK_ORACLE_KEYPAIR",
                )
                .context("the service's oracle key")?,
            ))
        } else {
            None
        };
    Ok((Arc::new(chain), Arc::new(payer), oracle))
}

async fn rpc_pipeline(cfg: &Config, store: &Store) -> anyhow::Result<crate::pipeline::Pipeline> {
    let (chain, payer, oracle) = rpc_parts(cfg)?;
    Ok(crate::pipeline::Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg.clone()),
        rules: Arc::new(crate::epoch::load_rules(&cfg.scoring.rules_path)?),
        chain,
        payer,
        oracle,
        send: send_options(cfg),
        fail: None,
        progress: std::io::stderr().is_terminal(),
    })
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

async fn member(store: &Store, action: MemberAction) -> anyhow::Result<()> {
    match action {
        MemberAction::Add { id } => {
            if let Err(m) = ingest::check_id(&id) {
                bail!("invalid member id: {m}");
            }
            if !store.create_member(&id).await? {
                bail!("member {id:?} already exists");
            }
            println!("member {id} created (inactive)");
        }
        MemberAction::Activate { id } => match store.set_member_status(&id, true).await? {
            Some(m) => println!("member {} is {}", m.id, m.status),
            None => bail!("no member {id:?}"),
        },
        MemberAction::Deactivate { id } => match store.set_member_status(&id, false).await? {
            Some(m) => println!("member {} is {}", m.id, m.status),
            None => bail!("no member {id:?}"),
        },
    }
    Ok(())
}

async fn keys(store: &Store, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Create { name, scopes } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                bail!("key name must be non-empty printable text");
            }
            let scopes = if scopes.is_empty() {
                crate::auth::Scope::ALL.to_vec()
            } else {
                scopes
            };
            let Some(k) = crate::auth::create_key_with_scopes(store, &name, &scopes).await? else {
                bail!("a key named {name:?} already exists");
            };
            eprintln!(
                "API key {:?} created with scopes {}; it is shown only now, store it safely:",
                k.name,
                crate::auth::Scope::join(&k.scopes)
            );
            println!("{}", k.key);
        }
        KeysAction::Revoke { name } => {
            if !store.revoke_api_key(&name).await? {
                bail!("no active key named {name:?}");
            }
            println!("key {name:?} revoked");
        }
    }
    Ok(())
}

async fn epoch_cmd(store: &Store, cfg: &Config, action: EpochAction) -> anyhow::Result<()> {
    match action {
        EpochAction::Score { epoch, dry_run } => {
            let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
            let run = crate::epoch::score(store, cfg, &rules, epoch, dry_run).await?;
            print!("{}", crate::epoch::allocation_table(&run));
            eprintln!("scored in {:.3}s", run.elapsed.as_secs_f64());
        }
        EpochAction::Run { epoch, wait_secs } => {
            let pipeline = rpc_pipeline(cfg, store).await?;
            let report = pipeline
                .run_until_done(
                    epoch,
                    std::time::Duration::from_secs(5),
                    std::time::Duration::from_secs(wait_secs),
                )
                .await?;
            let state = pipeline.state(epoch).await?;
            for (from, to) in &report.transitions {
                println!("epoch {epoch}: {from} -> {to}");
            }
            println!(
                "epoch {epoch} is {state}: {} chunks sent, {} found paid, {} token accounts and {} lookup tables created, {} lamports in fees",
                report.chunks_sent,
                report.chunks_found_paid,
                report.token_accounts_created,
                report.lookup_tables_created,
                report.fee_lamports
            );
            if state == crate::pipeline::State::Attested {
                println!("waiting for the other oracles: run again (or pass --wait-secs)");
            }
        }
        EpochAction::Status { epoch } => {
            let mut rows = store.epochs().await?;
            rows.retain(|r| epoch.is_none_or(|n| r.epoch == n));
            rows.sort_by_key(|r| r.epoch);
            if rows.is_empty() {
                bail!("no epoch {}", epoch.map_or("yet".into(), |n| n.to_string()));
            }
            println!(
                "{:>6} {:<13} {:>8} {:>22} {:>11}  root",
                "epoch", "state", "events", "allocated (STK)", "chunks paid"
            );
            for r in rows {
                let chunks = store.epoch_chunks(r.epoch).await?;
                let paid = chunks.iter().filter(|c| c.paid_at.is_some()).count();
                let root = store
                    .epoch_plan(r.epoch)
                    .await?
                    .map_or("-".to_string(), |p| hex::encode(p.root));
                println!(
                    "{:>6} {:<13} {:>8} {:>22} {:>5}/{:<5}  {root}",
                    r.epoch,
                    r.state,
                    r.event_count,
                    r.total_amount.map_or("-".into(), crate::demo::fmt_units),
                    paid,
                    chunks.len()
                );
            }
        }
        EpochAction::Freeze { epoch } => {
            use crate::store::{EpochState, StoreError};
            match store
                .transition_epoch(
                    epoch,
                    &[EpochState::Open, EpochState::Frozen],
                    EpochState::Frozen,
                    crate::epoch::template(cfg),
                )
                .await
            {
                Ok(prev) => println!("epoch {epoch}: {prev} -> frozen"),
                Err(StoreError::WrongState { actual, .. }) => {
                    bail!("epoch {epoch} is {actual}; cannot freeze")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn oracle_cmd(action: OracleAction) -> anyhow::Result<()> {
    let OracleAction::Attest {
        epoch,
        source,
        keypair,
        cluster,
        compare,
        dry_run,
    } = action;
    let served = crate::oracle::fetch(&source, epoch).await?;
    let reference = match &compare {
        Some(url) => Some(crate::oracle::fetch(url, epoch).await?.log),
        None => None,
    };
    let refused = |e: crate::oracle::OracleError| match e {
        crate::oracle::OracleError::Mismatch(m) => {
            print!("{m}");
            anyhow::anyhow!(
                "epoch {epoch}: refused to attest ({} difference(s))",
                m.differences.len()
            )
        }
        other => other.into(),
    };
    if dry_run {
        let r = crate::oracle::verify(&served, reference.as_deref()).map_err(refused)?;
        match r.plan {
            Some(p) => println!(
                "epoch {epoch}: verified; root {} total {} STK, {} recipients, {} chunks (dry run: nothing attested)",
                hex::encode(p.root),
                crate::epoch::stk(p.total_amount),
                p.recipient_count,
                p.chunk_count
            ),
            None => println!("epoch {epoch}: verified; nobody is paid (dry run)"),
        }
        return Ok(());
    }
    let cluster = cluster.context("--cluster RPC_URL is required to attest")?;
    let oracle = crate::chain::rpc::load_keypair(keypair.as_deref(), "STK_ORACLE_KEYPAIR")?;
    let chain = crate::chain::rpc::RpcChain::new(
        &cluster,
        solana_commitment_config::CommitmentConfig::confirmed(),
        crate::chain::rpc::RpcOptions::default(),
    );
    let out =
        crate::oracle::verify_and_attest_against(&served, reference.as_deref(), &chain, &oracle)
            .await
            .map_err(refused)?;
    let p = &out.plan;
    println!(
        "epoch {epoch}: verified; root {} total {} STK, {} recipients, {} chunks",
        hex::encode(p.root),
        crate::epoch::stk(p.total_amount),
        p.recipient_count,
        p.chunk_count
    );
    match &out.attestation {
        crate::pipeline::Attestation::Sent(sig) => println!("attested: {sig}"),
        crate::pipeline::Attestation::AlreadyCounted => {
            println!("this oracle's approval already counts")
        }
    }
    println!(
        "approvals on chain: {}; finalized: {}",
        out.approvals.count_ones(),
        if out.finalized { "yes" } else { "no" }
    );
    Ok(())
}

/// Counts of an `ingest` run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub lines: u64,
    pub skipped: u64,
    pub blank: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub last_line: u64,
    pub interrupted: bool,
}

fn progress_path(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".progress");
    PathBuf::from(p)
}

fn write_progress(path: &Path, lines_done: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("progress.tmp");
    std::fs::write(&tmp, format!("{lines_done}\n"))?;
    std::fs::rename(&tmp, path)
}

/// Ingests a JSON Lines file; rejected lines are reported to `out` as `line N: ...`.
///
/// Every 1,000 events are one transaction. After each committed batch the number of lines done
/// is written to `FILE.progress`; `resume` skips those lines. Re-running without `resume` is also
/// safe: ids are idempotency keys, so already stored events come back as duplicates.
pub async fn ingest_file(
    store: &Store,
    cfg: &Config,
    rules: &stk_scoring::Rules,
    file: &Path,
    resume: bool,
    stop: &CancellationToken,
    out: &mut dyn Write,
) -> anyhow::Result<IngestSummary> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let progress_file = progress_path(file);
    let skip = if resume {
        match std::fs::read_to_string(&progress_file) {
            Ok(s) => s
                .trim()
                .parse::<u64>()
                .with_context(|| format!("corrupt progress file {}", progress_file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).context("reading the progress file"),
        }
    } else {
        0
    };
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .expect("static template"),
    );
    let mut summary = IngestSummary::default();
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    let mut batch: Vec<EventIn> = Vec::with_capacity(ingest::MAX_BATCH);
    let mut batch_lines: Vec<u64> = Vec::with_capacity(ingest::MAX_BATCH);
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).context("reading the input")?;
        let eof = n == 0;
        if !eof {
            line_no += 1;
            bar.inc(n as u64);
            if line_no <= skip {
                summary.skipped += 1;
            } else {
                summary.lines += 1;
                let text = line.trim();
                if text.is_empty() {
                    summary.blank += 1;
                } else {
                    match serde_json::from_str::<EventIn>(text) {
                        Err(e) => {
                            summary.rejected += 1;
                            writeln!(out, "line {line_no}: malformed_json: {e}")?;
                        }
                        Ok(ev) => {
                            let depth = ingest::max_attributes_depth(std::slice::from_ref(&ev));
                            if depth > cfg.ingest.max_attributes_depth {
                                summary.rejected += 1;
                                writeln!(
                                    out,
                                    "line {line_no}: id {:?}: too_deep: attributes nested {depth} levels",
                                    ev.id
                                )?;
                            } else {
                                batch.push(ev);
                                batch_lines.push(line_no);
                            }
                        }
                    }
                }
            }
        }
        if batch.len() == ingest::MAX_BATCH || (eof && !batch.is_empty()) {
            let results = ingest::ingest_batch(store, cfg, rules, &batch).await?;
            for (r, &ln) in results.iter().zip(&batch_lines) {
                match r.status {
                    ItemStatus::Accepted => summary.accepted += 1,
                    ItemStatus::Duplicate => summary.duplicates += 1,
                    ItemStatus::Rejected => {
                        summary.rejected += 1;
                        writeln!(
                            out,
                            "line {ln}: id {:?}: {}: {}",
                            r.id,
                            r.reason.map(|x| x.as_str()).unwrap_or("rejected"),
                            r.detail.as_deref().unwrap_or("")
                        )?;
                    }
                }
            }
            batch.clear();
            batch_lines.clear();
            // Every line up to line_no is now committed, or rejected and reported.
            write_progress(&progress_file, line_no).context("writing the progress file")?;
        }
        if line_no > skip {
            summary.last_line = line_no;
        }
        if eof {
            write_progress(&progress_file, line_no.max(skip))
                .context("writing the progress file")?;
            break;
        }
        if stop.is_cancelled() && batch.is_empty() {
            summary.interrupted = true;
            write_progress(&progress_file, line_no.max(skip))
                .context("writing the progress file")?;
            break;
        }
    }
    bar.finish_and_clear();
    writeln!(
        out,
        "{} lines read ({} skipped by --resume, {} blank): {} accepted, {} duplicate, {} rejected",
        summary.lines + summary.skipped,
        summary.skipped,
        summary.blank,
        summary.accepted,
        summary.duplicates,
        summary.rejected
    )?;
    Ok(summary)
}
