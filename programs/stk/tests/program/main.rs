//! The STK program in a real in-process Solana runtime with the real SPL Token, Associated Token and
//! Address Lookup Table programs. One test binary: the runtime is linked once.
// agave 3.1 marks solana-program-test "for the Agave Unstable API"; it is the runtime we test on.
#![allow(deprecated)]

mod access;
mod admin;
mod emission;
mod fuzz;
#[path = "../fuzz/engine.rs"]
mod fuzz_engine;
mod harness;
mod inflow;
mod lookup_table;
mod prefund;
mod premium;
mod tender;
mod vault;
