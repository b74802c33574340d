//! `stk-indexer demo`: the whole economy on one machine, no setup. SQLite + the in-process chain.
//!
//! 1. The STK program is initialized on the in-process chain with a test quote mint ("USDC"), three
//!    community oracles (threshold 2) and an admin.
//! 2. The service starts its real HTTP API on 127.0.0.1; ~500 members are created through it, bind
//!    their wallets with signed challenges, and are activated.
//! 3. Four epochs of activity are posted through `POST /v1/activities`, by three behaviour profiles:
//!    steady (a little on most days, every epoch), bursty (everything on one day, some epochs) and
//!    farmers (one kind at the maximum rate, every day).
//! 4. Each epoch runs through the pipeline: frozen, scored, attested by the service's oracle; a second
//!    oracle fetches the epoch log over HTTP (`GET /v1/epochs/{n}/log`), verifies the digest, the rules
//!    hash and every wallet proof, recomputes the root and attests; the root finalizes and the STK is
//!    distributed chunk by chunk.
//! 5. Subscription revenue goes into the buyback vault, a window opens, some members sell back; an
//!    investor buys at 10x the floor (a share of the price to the vault, so the floor holds); a
//!    member pays for access in STK.
//! 6. The tables: STK per profile, supply, vault and its coverage, treasury — and the invariants.
//!
//! With `rules_v2` (`demo --rules v2`) the same community is scored with rules v2 (`v2.rs`): the
//! platform reports subscriptions, the masters vouch for the members, practice sessions come from
//! an observed source, help is confirmed by the helped member's wallet-signed record, and the
//! service's clock follows the replayed days.
//!
//! Files: `flow.rs` runs the steps above, `activity.rs` generates each profile's events,
//! `v2.rs` the rules-v2 records, `report.rs` prints the tables.

mod activity;
mod flow;
mod report;
mod v2;

pub use crate::fmt::fmt_units;
pub use flow::run;
pub use report::report;

/// The rules the demo scores with (the committed example file).
pub const DEMO_RULES: &str = include_str!("../../../../rules/rules.v1.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Steady,
    Bursty,
    Farmer,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Steady, Profile::Bursty, Profile::Farmer];
    pub fn name(self) -> &'static str {
        match self {
            Profile::Steady => "steady",
            Profile::Bursty => "bursty",
            Profile::Farmer => "farmer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub members: usize,
    pub epochs: u64,
    /// `sqlite://...` or `postgres://...`; `None`: a temporary SQLite file.
    pub database: Option<String>,
    pub progress: bool,
    /// Score with rules v2 (`rules/rules.v2.toml` with the demo's masters) instead of v1.
    pub rules_v2: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            members: 498,
            epochs: 4,
            database: None,
            progress: true,
            rules_v2: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileStats {
    pub members: usize,
    pub raw_events: u64,
    /// STK received from epoch distributions, base units.
    pub received: u64,
}

impl ProfileStats {
    /// STK base units received per raw event posted.
    pub fn per_event(&self) -> f64 {
        self.received as f64 / self.raw_events.max(1) as f64
    }
}

/// Everything the demo measured, for the tables and for the tests.
#[derive(Debug, Clone, Default)]
pub struct DemoOutcome {
    pub profiles: Vec<(Profile, ProfileStats)>,
    pub epochs: Vec<EpochSummary>,
    /// Per recipient token account: (allocated over all epochs, balance before the market step).
    pub allocated_vs_held: Vec<(u64, u64)>,
    pub supply: u64,
    pub total_distributed: u64,
    pub total_premium_minted: u64,
    /// Quote paid for premium purchases, and the vault's share of it.
    pub premium_quote_in: u64,
    pub premium_to_vault: u64,
    /// The floor after the premium sale is not below the floor before it (exact ratios).
    pub premium_floor_kept: bool,
    pub total_burned_sell_back: u64,
    pub total_burned_access: u64,
    pub revenue_deposited: u64,
    pub quote_paid_out: u64,
    pub vault_balance: u64,
    pub treasury_balance: u64,
    /// The tender window's price (quote base units per STK) and how many members sold in it.
    pub buyback_price: u64,
    pub sellers: usize,
    /// Orders placed (and claimed) in the demo's tender window.
    pub tender_orders: usize,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, Default)]
pub struct EpochSummary {
    pub epoch: u64,
    pub events: u64,
    pub recipients: u32,
    pub chunks: u32,
    pub total: u64,
    pub fees: u64,
}

/// Quote the vault pays for `stk` at `price` (rounded down, as the program does).
pub fn quote_for(stk: u64, price: u64) -> u64 {
    stk::math::sell_back_quote(stk, price).unwrap_or(0)
}

/// The demo's invariants; the CLI exits non-zero when one fails.
pub fn invariants_hold(o: &DemoOutcome) -> bool {
    let burned = o.total_burned_sell_back + o.total_burned_access;
    let order: Vec<f64> = o.profiles.iter().map(|(_, p)| p.per_event()).collect();
    o.allocated_vs_held.iter().all(|(a, h)| a == h)
        && o.supply + burned == o.total_distributed + o.total_premium_minted
        && o.quote_paid_out + o.vault_balance == o.revenue_deposited + o.premium_to_vault
        && o.treasury_balance == o.premium_quote_in - o.premium_to_vault
        && o.premium_floor_kept
        && order.len() == 3
        && order[0] > order[1]
        && order[1] > order[2]
}
