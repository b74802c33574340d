//! `stk-indexer bench pipeline|ingest` (the `local` feature; see `crate::dev::bench`).

use clap::Subcommand;

use crate::config::Config;

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

#[cfg(feature = "local")]
pub(super) async fn run(cfg: &Config, action: BenchAction) -> anyhow::Result<()> {
    use crate::dev::bench;

    match action {
        BenchAction::Pipeline { recipients } => {
            let result = bench::pipeline::run(recipients).await?;
            print!("{}", bench::pipeline::report(&result));
            Ok(())
        }
        BenchAction::Ingest {
            events,
            database,
            clients,
        } => {
            let rules = crate::epoch::load_rules(&cfg.scoring.rules_path)?;
            let report = bench::ingest::bench_ingest(
                bench::ingest::BenchOptions {
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

#[cfg(not(feature = "local"))]
pub(super) async fn run(_cfg: &Config, action: BenchAction) -> anyhow::Result<()> {
    match action {
        BenchAction::Pipeline { .. } => anyhow::bail!("bench pipeline: {}", super::NO_LOCAL),
        // The ingestion bench needs no chain, but it ships with the other development tools.
        BenchAction::Ingest { .. } => {
            anyhow::bail!("bench ingest: this build has no benches; rebuild with --features local")
        }
    }
}
