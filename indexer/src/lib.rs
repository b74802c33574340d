//! `stk-indexer`: the SysTok off-chain service (DESIGN.md §4), first half: activity ingestion,
//! members and wallet binding proofs, explainable scoring with `stk-scoring`, on SQLite or
//! PostgreSQL. The binary (`src/main.rs`) only parses the command line and calls [`cli::run`].

pub mod auth;
pub mod bench;
pub mod bench_pipeline;
pub mod chain;
pub mod cli;
pub mod config;
pub mod demo;
pub mod epoch;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod local;
pub mod metrics;
pub mod oracle;
pub mod pipeline;
pub mod store;
pub mod wallet;
pub mod watcher;

pub use stk_scoring as scoring;
