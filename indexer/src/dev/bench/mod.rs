//! `stk-indexer bench`: [`ingest`] (events/s through HTTP into a fresh database) and [`pipeline`]
//! (one epoch of N recipients through the whole pipeline on the in-process chain).

pub mod ingest;
pub mod pipeline;
