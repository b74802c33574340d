//! `stk-indexer`: the SysTok off-chain service (DESIGN.md §4), first half: activity ingestion,
//! members and wallet binding proofs, explainable scoring with `stk-scoring`, on SQLite or
//! PostgreSQL. The binary (`src/main.rs`) only parses the command line and calls [`cli::run`].
//!
//! The `local` feature (default) adds [`dev`]: the in-process chain's economy, the demo and the
//! benches. `cargo build -p stk-indexer --release --no-default-features` builds the service without
//! them (and without solana-program-test).

pub mod auth;
pub mod chain;
pub mod cli;
pub mod config;
#[cfg(feature = "local")]
pub mod dev;
pub mod discourse;
pub mod epoch;
pub mod evidence;
pub mod fmt;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod member_tx;
pub mod metrics;
pub mod oracle;
pub mod pipeline;
pub mod records;
pub mod rules_diff;
pub mod store;
pub mod wallet;
pub mod watcher;

/// The paths the tests and the end-to-end crate use (`stk_indexer::demo`, `stk_indexer::local`).
#[cfg(feature = "local")]
pub use dev::{demo, local};
pub use stk_scoring as scoring;
