//! `stk-sim`: the economy v2 simulator of issue 13.
//!
//! A cadCAD-shaped loop in Rust: the state is an [`economy::Economy`] (every STK and quote base unit)
//! plus the members around it; each week applies the policies in a fixed order (membership, revenue
//! and access payments, emission, premium sale, tender window), and every balance moves only through
//! the program crate's own rule functions (`stk::economy`, `stk::math`) and the scoring crate's
//! budget split (`stk_scoring::split_budget`). The conservation identities are checked after every
//! step and inside every window; a violation stops the run with an error.
pub mod economy;
pub mod output;
pub mod stats;
pub mod world;

pub use economy::{ConservationError, EconParams, Economy, Rules};
pub use stats::{monte_carlo, percentile, targets, MonteCarlo, RunSummary, Target};
pub use world::{run, Scenario, Week};
