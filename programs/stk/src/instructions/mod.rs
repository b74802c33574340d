//! One module per instruction: Accounts -> Args -> handler. The glob re-exports give the `#[program]`
//! macro the generated client types at the crate root; every module's `handler` is called by path.
#![allow(ambiguous_glob_reexports)]

pub mod accept_admin;
pub mod admin;
pub mod announce_tender_window;
pub mod attest_epoch;
pub mod buy_premium;
pub mod cancel_tender_window;
pub mod claim_order;
pub mod deposit_revenue;
pub mod distribute;
pub mod fund_vault_from_treasury;
pub mod initialize;
pub mod pay_access;
pub mod place_order;
pub mod propose_admin;
pub mod set_investor;
pub mod set_oracles;
pub mod set_paused;
pub mod set_plan;
pub mod settle_window;
pub mod update_limits;
pub mod withdraw_treasury;

pub use accept_admin::*;
pub use admin::*;
pub use announce_tender_window::*;
pub use attest_epoch::*;
pub use buy_premium::*;
pub use cancel_tender_window::*;
pub use claim_order::*;
pub use deposit_revenue::*;
pub use distribute::*;
pub use fund_vault_from_treasury::*;
pub use initialize::*;
pub use pay_access::*;
pub use place_order::*;
pub use set_investor::*;
pub use set_oracles::*;
pub use set_plan::*;
pub use settle_window::*;
pub use withdraw_treasury::*;
