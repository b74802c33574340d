//! Every state change emits one of these through `emit_cpi!` (self-CPI), so an indexer reads them from
//! the transaction's inner instructions, not from truncatable logs.
use anchor_lang::prelude::*;

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initialized {
    pub admin: Pubkey,
    pub stk_mint: Pubkey,
    pub quote_mint: Pubkey,
    pub oracle_count: u8,
    pub threshold: u8,
    pub genesis_ts: i64,
    pub epoch_duration: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OraclesSet {
    pub oracles: Vec<Pubkey>,
    pub threshold: u8,
    pub config_version: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsUpdated {
    pub max_emission_per_epoch: u64,
    pub rate_window_secs: u64,
    pub rate_threshold: u64,
    pub max_supply: u64,
    pub premium_bps: u64,
    pub investor_allocation_remaining: u64,
    pub investor_allowlist: bool,
    pub emission_inflow_bps: u64,
    pub genesis_price: u64,
    pub config_version: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausedSet {
    pub paused: u8,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminProposed {
    pub admin: Pubkey,
    pub pending_admin: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccepted {
    pub previous_admin: Pubkey,
    pub admin: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvestorSet {
    pub wallet: Pubkey,
    pub allowed: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochAttested {
    pub epoch: u64,
    pub root: [u8; 32],
    pub oracle: Pubkey,
    pub approvals: u16,
    pub config_version: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochFinalized {
    pub epoch: u64,
    pub root: [u8; 32],
    pub total_amount: u64,
    pub chunk_count: u32,
    pub recipient_count: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDistributed {
    pub epoch: u64,
    pub root: [u8; 32],
    pub chunk_index: u32,
    pub recipients: Vec<Pubkey>,
    pub amounts: Vec<u64>,
    pub chunk_total: u64,
    pub distributed_amount: u64,
    pub complete: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueDeposited {
    pub depositor: Pubkey,
    pub amount: u64,
    pub vault_balance: u64,
    /// The revenue period (= epoch) the deposit counts for.
    pub period: u64,
    /// The period's inflow and emission allowance after this deposit (`state::PeriodInflow`).
    pub period_inflow: u64,
    pub emission_allowance: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiumPurchased {
    pub investor: Pubkey,
    pub stk_amount: u64,
    /// Quote paid in total (`to_vault + to_treasury`).
    pub quote_amount: u64,
    /// The floor the sale was priced at: quote base units per whole STK, rounded down.
    pub floor_price: u64,
    /// The multiple of the floor, in bps.
    pub premium_bps: u64,
    /// The vault's share of `quote_amount`.
    pub to_vault: u64,
    /// The treasury's share of `quote_amount`.
    pub to_treasury: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPaid {
    pub member: Pubkey,
    pub plan_id: u32,
    /// Access period bought, in seconds (the plan's at payment).
    pub period_secs: u64,
    /// STK burned: the plan's fiat price less its discount, converted at `floor_price`, rounded up.
    pub stk_amount: u64,
    /// The plan's fiat price (quote base units) and STK discount (bps) at payment.
    pub fiat_price: u64,
    pub discount_bps: u16,
    /// The floor the price was converted at: quote base units per whole STK.
    pub floor_price: u64,
    /// The payer's reference (e.g. hash of the platform's order id).
    pub reference: [u8; 32],
}

/// An access plan was created or changed by the admin.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSet {
    pub plan_id: u32,
    pub period_secs: u64,
    pub fiat_price: u64,
    pub discount_bps: u16,
    pub active: bool,
    /// The plan account was created by this instruction (else updated).
    pub created: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreasuryWithdrawn {
    pub destination: Pubkey,
    pub amount: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultFunded {
    pub amount: u64,
    pub vault_balance: u64,
}

/// A tender window was announced: price and capacity are known before it opens.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenderWindowAnnounced {
    pub window_id: u64,
    pub price: u64,
    pub capacity: u64,
    pub opens_at: i64,
    pub closes_at: i64,
    /// The rule price (floor less the published spread) and rule capacity at announcement.
    pub rule_price: u64,
    pub rule_capacity: u64,
    /// The floor at announcement: quote base units per whole STK.
    pub floor_price: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced {
    pub window_id: u64,
    pub member: Pubkey,
    pub stk_amount: u64,
    /// The member's order in total after this placement.
    pub order_amount: u64,
    pub window_requested: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenderWindowSettled {
    pub window_id: u64,
    pub requested: u64,
    pub filled: u64,
    pub price: u64,
    /// Quote released back to the vault's free balance (capacity the fill does not need).
    pub released: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderClaimed {
    pub window_id: u64,
    pub member: Pubkey,
    pub order_amount: u64,
    /// STK bought and burned.
    pub filled_stk: u64,
    pub quote_amount: u64,
    /// Unfilled STK returned to the member.
    pub returned_stk: u64,
}

/// The admin cancelled a window: its capacity is 0, every order comes back whole.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenderWindowCancelled {
    pub window_id: u64,
    /// Quote released from the reservation.
    pub released: u64,
}
