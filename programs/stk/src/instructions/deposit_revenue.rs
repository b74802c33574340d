use anchor_lang::prelude::*;
use anchor_spl::token::{self, Mint, Token, TokenAccount, Transfer};

use crate::{
    constants::{CONFIG_SEED, INFLOW_LEDGER_SEED},
    economy::emission_cap,
    error::StkError,
    events::RevenueDeposited,
    state::{Config, InflowLedger},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
pub struct DepositRevenue<'info> {
    /// Pays the inflow ledger's rent when this is the first deposit ever.
    #[account(mut)]
    pub depositor: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the `InflowLedger`, created by the handler on the first deposit (the address may already
    /// hold lamports: `utils::create_pda`), loaded and checked as an `InflowLedger` otherwise.
    #[account(mut, seeds = [INFLOW_LEDGER_SEED], bump)]
    pub inflow_ledger: UncheckedAccount<'info>,
    /// The STK mint: its supply is the floating STK the emission allowance is computed against.
    #[account(address = config.stk_mint @ StkError::WrongMint)]
    pub stk_mint: Box<Account<'info, Mint>>,
    #[account(
        mut,
        constraint = source.mint == config.quote_mint @ StkError::WrongMint,
        token::authority = depositor,
    )]
    pub source: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// Moves subscription revenue (quote tokens) into the buyback vault. Anyone may deposit.
///
/// The deposit is recorded in its revenue period (`(now - genesis_ts) / epoch_duration`, the epoch
/// running now): in `Config` for the tender capacity rule, and in the inflow ledger with the emission it
/// allows that epoch — `economy::emission_cap` against the backing **before** the deposit, so the epoch's
/// emission, valued at the floor, is at most `emission_inflow_bps` of what came in and the floor after
/// the inflow and the emission is never below the floor before them.
pub fn handler(ctx: Context<DepositRevenue>, amount: u64) -> Result<()> {
    require!(amount > 0, StkError::ZeroAmount);
    let now = Clock::get()?.unix_timestamp;
    let before = ctx
        .accounts
        .config
        .backing(ctx.accounts.vault.amount, ctx.accounts.stk_mint.supply)?;
    let allowance = emission_cap(
        before,
        amount,
        ctx.accounts.config.emission_inflow_bps,
        ctx.accounts.config.genesis_price,
    )
    .ok_or(StkError::MathOverflow)?;

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

    let bump = ctx.bumps.inflow_ledger;
    let mut ledger = PdaAccount::<InflowLedger>::init_if_needed(
        PdaCreation {
            payer: ctx.accounts.depositor.as_ref(),
            account: ctx.accounts.inflow_ledger.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[INFLOW_LEDGER_SEED, &[bump]],
    )?;
    if ledger.created {
        ledger.bump = bump;
    }

    let config = &mut ctx.accounts.config;
    // Record the inflow in the current revenue period (the next period's window capacity rule).
    config.roll_period(now)?;
    let period = config.period_at(now)?;
    let record = ledger.add(period, amount, allowance)?;
    ledger.save()?;
    if period == config.period_index {
        config.period_inflow = config
            .period_inflow
            .checked_add(amount)
            .ok_or(StkError::MathOverflow)?;
    }
    config.total_revenue_deposited = config
        .total_revenue_deposited
        .checked_add(amount)
        .ok_or(StkError::MathOverflow)?;
    ctx.accounts.vault.reload()?;
    emit_cpi!(RevenueDeposited {
        depositor: ctx.accounts.depositor.key(),
        amount,
        vault_balance: ctx.accounts.vault.amount,
        period,
        period_inflow: record.inflow,
        emission_allowance: record.emission_allowance,
    });
    Ok(())
}
