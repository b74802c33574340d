//! Command line (clap derive). `main.rs` only calls [`run`]; each subcommand lives in its own file.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

mod admin;
mod bench;
mod cluster;
mod demo;
mod epoch;
mod explain;
mod ingest;
mod keys;
mod member;
mod migrate;
mod oracle;
mod rules;
mod serve;
mod sources;
mod status;
mod wallet_cmds;

pub use admin::AdminAction;
pub use bench::BenchAction;
pub use cluster::{ClusterArgs, TxArgs};
pub use epoch::EpochAction;
pub use ingest::{ingest_file, IngestSummary};
pub use keys::KeysAction;
pub use member::MemberAction;
pub use oracle::OracleAction;
pub use sources::{backfill_with_progress, DiscourseAction, SourcesAction};

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
        /// The scoring rules: `v1` (rules/rules.v1.toml) or `v2` (rules/rules.v2.toml with the demo's
        /// masters; subscriptions, vouches, an observed source, signed confirmations).
        #[arg(long, default_value = "v1", value_parser = ["v1", "v2"])]
        rules: String,
    },
    /// Run the HTTP API (migrates first). Stops gracefully on ctrl-c / SIGTERM.
    Serve {
        /// Bring an in-process chain (the real runtime with the STK program, one oracle: this service)
        /// and run the epoch pipeline against it; no cluster needed.
        #[arg(long)]
        local: bool,
        /// With --local: where the Solana JSON-RPC endpoint over the in-process chain listens (the
        /// Solana CLI, wallets and `stk-indexer admin|balance|sell-back|... -u URL` talk to it).
        #[arg(long, default_value = "127.0.0.1:8899")]
        rpc_listen: std::net::SocketAddr,
    },
    /// Apply database migrations.
    Migrate,
    /// Ingest a JSON Lines file (one event per line), in batches of 1,000.
    Ingest {
        file: PathBuf,
        /// Skip the lines recorded as done in FILE.progress by an earlier run.
        #[arg(long)]
        resume: bool,
        /// Import as this rules source (`[sources.NAME]`: observed evidence); default: members'
        /// self-reports.
        #[arg(long)]
        source: Option<String>,
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
    /// Rules governance: `rules diff OLD NEW --epoch N`.
    Rules {
        #[command(subcommand)]
        action: rules::RulesAction,
    },
    /// Oracle mode: recompute a published epoch and attest it only if it is identical.
    Oracle {
        #[command(subcommand)]
        action: OracleAction,
    },
    /// Activity sources: `sources discourse backfill|unknown-users`.
    Sources {
        #[command(subcommand)]
        action: SourcesAction,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
    /// Operator commands on a cluster (Solana CLI flags: -u URL, -k KEYPAIR, --dry-run, --sign-only).
    Admin {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
        #[command(subcommand)]
        action: Box<AdminAction>,
    },
    /// SOL, STK and quote balances of a wallet (default: the keypair's).
    Balance {
        wallet: Option<solana_sdk::pubkey::Pubkey>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Offer STK in a pro-rata tender window (escrowed until your claim; every order of the window
    /// is filled at the same ratio, whenever it was sent).
    PlaceOrder {
        /// STK to offer (decimals allowed).
        amount: String,
        /// Window id (default: the last announced window).
        #[arg(long)]
        window: Option<u64>,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Settle a closed tender window (anyone may; once): fixes its one fill ratio.
    SettleWindow {
        /// Window id (default: the last announced window).
        #[arg(long)]
        window: Option<u64>,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Claim your order in a settled tender window: quote for the filled part, the rest of your STK
    /// back, the order account's rent back.
    ClaimOrder {
        /// Window id (default: the last announced window).
        #[arg(long)]
        window: Option<u64>,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Buy STK at the premium price (investors).
    BuyPremium {
        /// STK to buy (decimals allowed).
        amount: String,
        /// Accepted excess over the quote, in percent (sets max_quote_in).
        #[arg(long, default_value = "0")]
        slippage: String,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Pay for an access plan in STK (burned): the plan's fiat price less its discount, converted at
    /// the floor (shows the plan and the price first).
    PayAccess {
        /// The plan's id (`admin plans` lists them).
        #[arg(long)]
        plan: u32,
        /// Payment reference: 64 hex digits, or any text (its SHA-256 is used).
        #[arg(long)]
        reference: String,
        /// Accepted excess over the price, in percent (sets max_stk_in; the floor may move).
        #[arg(long, default_value = "1")]
        slippage: String,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        tx: TxArgs,
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
            rules,
        } => demo::run(members, epochs, database, rules == "v2").await,
        Command::Serve { local, rpc_listen } => serve::run(cfg, local, rpc_listen).await,
        Command::Migrate => migrate::run(&cfg).await,
        Command::Ingest {
            file,
            resume,
            source,
        } => ingest::run(&cfg, file, resume, source).await,
        Command::Member { action } => member::run(&cfg, action).await,
        Command::Keys { action } => keys::run(&cfg, action).await,
        Command::Epoch { action } => epoch::run(&cfg, action).await,
        Command::Oracle { action } => oracle::run(action).await,
        Command::Explain { member, epoch } => explain::run(&cfg, member, epoch).await,
        Command::Rules { action } => rules::run(&cfg, action).await,
        Command::Bench { action } => bench::run(&cfg, action).await,
        Command::Admin {
            cluster,
            tx,
            action,
        } => {
            // `status` and `plans` only read: no keypair needed.
            let session = if matches!(
                *action,
                AdminAction::Status { .. } | AdminAction::Plans { .. }
            ) {
                cluster::Session::open_read_only(&cluster)?
            } else {
                cluster::Session::open(&cluster, &tx)?
            };
            admin::run(&session, *action).await
        }
        Command::Balance {
            wallet,
            json,
            cluster,
        } => {
            let session = cluster::Session::open_read_only(&cluster)?;
            wallet_cmds::balance(&session, wallet, json).await
        }
        Command::PlaceOrder {
            amount,
            window,
            cluster,
            tx,
        } => {
            wallet_cmds::place_order(&cluster::Session::open(&cluster, &tx)?, &amount, window).await
        }
        Command::SettleWindow {
            window,
            cluster,
            tx,
        } => wallet_cmds::settle_window(&cluster::Session::open(&cluster, &tx)?, window).await,
        Command::ClaimOrder {
            window,
            cluster,
            tx,
        } => wallet_cmds::claim_order(&cluster::Session::open(&cluster, &tx)?, window).await,
        Command::BuyPremium {
            amount,
            slippage,
            cluster,
            tx,
        } => {
            wallet_cmds::buy_premium(&cluster::Session::open(&cluster, &tx)?, &amount, &slippage)
                .await
        }
        Command::PayAccess {
            plan,
            reference,
            slippage,
            cluster,
            tx,
        } => {
            let session = cluster::Session::open(&cluster, &tx)?;
            wallet_cmds::pay_access(&session, plan, &reference, &slippage).await
        }
        Command::Sources { action } => sources::run(&cfg, action).await,
    }
}

/// What `serve --local`, `demo` and `bench pipeline` answer in a build without the `local` feature.
#[cfg(not(feature = "local"))]
const NO_LOCAL: &str = "this build has no in-process chain; rebuild with --features local";

async fn connect(cfg: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&cfg.database)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("running migrations")?;
    Ok(store)
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
