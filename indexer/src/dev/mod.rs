//! Development tools on the in-process chain, behind the `local` feature (on by default): the local
//! economy ([`local`], used by `serve --local`, the demo and the tests), `stk-indexer demo`
//! ([`demo`]) and the benches ([`bench`]). A production build (`--no-default-features`) has none of
//! them and no solana-program-test.

pub mod bench;
pub mod demo;
pub mod local;
