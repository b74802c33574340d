use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::{
    constants::{CONFIG_SEED, VAULT_AUTHORITY_SEED},
    error::StkError,
    events::TreasuryWithdrawn,
    state::Config,
};

#[event_cpi]
#[derive(Accounts)]
pub struct WithdrawTreasury<'info> {
    pub admin: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, address = config.treasury @ StkError::WrongTreasury)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    #[account(mut, constraint = destination.mint == config.quote_mint @ StkError::WrongMint)]
    pub destination: Box<Account<'info, TokenAccount>>,
    /// CHECK: PDA owning the treasury.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump = config.vault_authority_bump)]
    pub vault_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

/// Moves quote out of the treasury to an admin-chosen account.
pub fn handler(ctx: Context<WithdrawTreasury>, amount: u64) -> Result<()> {
    require!(amount > 0, StkError::ZeroAmount);
    require!(
        amount <= ctx.accounts.treasury.amount,
        StkError::InsufficientTreasury
    );
    let signer: &[&[&[u8]]] = &[&[
        VAULT_AUTHORITY_SEED,
        &[ctx.accounts.config.vault_authority_bump],
    ]];
    token::transfer(
        CpiContext::new_with_signer(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.treasury.to_account_info(),
                to: ctx.accounts.destination.to_account_info(),
                authority: ctx.accounts.vault_authority.to_account_info(),
            },
            signer,
        ),
        amount,
    )?;
    emit_cpi!(TreasuryWithdrawn {
        destination: ctx.accounts.destination.key(),
        amount,
    });
    Ok(())
}
