//! SysTok (STK): contribution rewards on Solana.
//!
//! The program owns the STK mint through the `["emission_authority"]` PDA. Community oracles attest each
//! epoch's reward root (k of n identical attestations); finalized roots are paid chunk by chunk, at most
//! once, under a per-epoch cap, a windowed rate limit, `max_supply` and the emission its epoch's revenue
//! allows. A buyback vault funded with subscription revenue buys STK back (burned) in pro-rata tender
//! windows at a price and capacity set by rule; investors buy new STK at a multiple of the
//! floor (vault / floating STK), a share of each purchase going to the vault so the floor never falls and
//! the rest to the treasury; members pay for access plans in STK (the plan's fiat price less its
//! discount, converted at the floor, burned).
//!
//! This file only dispatches: each instruction lives in `instructions/<name>.rs`.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

#[cfg(not(target_os = "solana"))]
pub mod client;
pub mod constants;
pub mod economy;
pub mod error;
pub mod events;
pub mod instructions;
pub mod math;
pub mod merkle;
pub mod state;
pub mod utils;

pub use instructions::*;
pub use state::Limits;

declare_id!("GkTMdtEG5nCKVFXP4QV7HjVHTAUZmDCnhDwjvgZX4UtJ");

#[program]
pub mod stk {
    use super::*;

    // --- configuration (admin) ---
    pub fn initialize(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
        instructions::initialize::handler(ctx, args)
    }
    pub fn set_oracles(ctx: Context<AdminUpdate>, args: SetOraclesArgs) -> Result<()> {
        instructions::set_oracles::handler(ctx, args)
    }
    pub fn update_limits(ctx: Context<AdminUpdate>, limits: Limits) -> Result<()> {
        instructions::update_limits::handler(ctx, limits)
    }
    pub fn set_paused(ctx: Context<AdminUpdate>, paused: u8) -> Result<()> {
        instructions::set_paused::handler(ctx, paused)
    }
    pub fn propose_admin(ctx: Context<AdminUpdate>, pending_admin: Pubkey) -> Result<()> {
        instructions::propose_admin::handler(ctx, pending_admin)
    }
    pub fn accept_admin(ctx: Context<AcceptAdmin>) -> Result<()> {
        instructions::accept_admin::handler(ctx)
    }
    pub fn set_investor(ctx: Context<SetInvestor>, wallet: Pubkey, allowed: bool) -> Result<()> {
        instructions::set_investor::handler(ctx, wallet, allowed)
    }
    pub fn set_plan(ctx: Context<SetPlan>, args: SetPlanArgs) -> Result<()> {
        instructions::set_plan::handler(ctx, args)
    }

    // --- emission ---
    pub fn attest_epoch(ctx: Context<AttestEpoch>, args: AttestEpochArgs) -> Result<()> {
        instructions::attest_epoch::handler(ctx, args)
    }
    pub fn distribute<'info>(
        ctx: Context<'info, Distribute<'info>>,
        args: DistributeArgs,
    ) -> Result<()> {
        instructions::distribute::handler(ctx, args)
    }

    // --- buyback vault, premium sale, access ---
    pub fn deposit_revenue(ctx: Context<DepositRevenue>, amount: u64) -> Result<()> {
        instructions::deposit_revenue::handler(ctx, amount)
    }
    pub fn announce_tender_window(
        ctx: Context<AnnounceTenderWindow>,
        args: AnnounceTenderWindowArgs,
    ) -> Result<()> {
        instructions::announce_tender_window::handler(ctx, args)
    }
    pub fn cancel_tender_window(ctx: Context<CancelTenderWindow>, window_id: u64) -> Result<()> {
        instructions::cancel_tender_window::handler(ctx, window_id)
    }
    pub fn place_order(ctx: Context<PlaceOrder>, args: PlaceOrderArgs) -> Result<()> {
        instructions::place_order::handler(ctx, args)
    }
    pub fn settle_window(ctx: Context<SettleWindow>, window_id: u64) -> Result<()> {
        instructions::settle_window::handler(ctx, window_id)
    }
    pub fn claim_order(ctx: Context<ClaimOrder>, window_id: u64) -> Result<()> {
        instructions::claim_order::handler(ctx, window_id)
    }
    pub fn buy_premium(ctx: Context<BuyPremium>, args: BuyPremiumArgs) -> Result<()> {
        instructions::buy_premium::handler(ctx, args)
    }
    pub fn pay_access(ctx: Context<PayAccess>, args: PayAccessArgs) -> Result<()> {
        instructions::pay_access::handler(ctx, args)
    }
    pub fn withdraw_treasury(ctx: Context<WithdrawTreasury>, amount: u64) -> Result<()> {
        instructions::withdraw_treasury::handler(ctx, amount)
    }
    pub fn fund_vault_from_treasury(
        ctx: Context<FundVaultFromTreasury>,
        amount: u64,
    ) -> Result<()> {
        instructions::fund_vault_from_treasury::handler(ctx, amount)
    }
}
