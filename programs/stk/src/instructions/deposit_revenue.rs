use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::{constants::CONFIG_SEED, error::StkError, events::RevenueDeposited, state::Config};

#[event_cpi]
#[derive(Accounts)]
pub struct DepositRevenue<'info> {
    pub depositor: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        constraint = source.mint == config.quote_mint @ StkError::WrongMint,
        token::authority = depositor,
    )]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Moves subscription revenue (quote tokens) into the buyback vault. Anyone may deposit.
pub fn handler(ctx: Context<DepositRevenue>, amount: u64) -> Result<()> {
    require!(amount > 0, StkError::ZeroAmount);
    token::transfer(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.source.to_account_info(),
                to: ctx.accounts.vault.to_account_info(),
                authority: ctx.accounts.depositor.to_account_info(),
            },
        ),
        amount,
    )?;
    let config = &mut ctx.accounts.config;
    // Record the inflow in the current revenue period (the next period's window capacity rule).
    config.roll_period(Clock::get()?.unix_timestamp)?;
    config.period_inflow = config
        .period_inflow
        .checked_add(amount)
        .ok_or(StkError::MathOverflow)?;
    config.total_revenue_deposited = config
        .total_revenue_deposited
        .checked_add(amount)
        .ok_or(StkError::MathOverflow)?;
    ctx.accounts.vault.reload()?;
    emit_cpi!(RevenueDeposited {
        depositor: ctx.accounts.depositor.key(),
        amount,
        vault_balance: ctx.accounts.vault.amount,
    });
    Ok(())
}
