use anchor_lang::prelude::*;

use crate::{
    constants::{CONFIG_SEED, INVESTOR_SEED},
    error::StkError,
    events::InvestorSet,
    state::{Config, Investor},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(wallet: Pubkey)]
pub struct SetInvestor<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        init_if_needed, payer = admin, space = 8 + Investor::INIT_SPACE,
        seeds = [INVESTOR_SEED, wallet.as_ref()], bump,
    )]
    pub investor: Box<Account<'info, Investor>>,
    pub system_program: Program<'info, System>,
}

/// Adds a wallet to (or removes it from) the investor allowlist.
pub fn handler(ctx: Context<SetInvestor>, wallet: Pubkey, allowed: bool) -> Result<()> {
    let investor = &mut ctx.accounts.investor;
    investor.wallet = wallet;
    investor.allowed = allowed;
    investor.bump = ctx.bumps.investor;
    emit_cpi!(InvestorSet { wallet, allowed });
    Ok(())
}
