use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::{
    constants::{CONFIG_SEED, VAULT_AUTHORITY_SEED},
    error::StkError,
    events::VaultFunded,
    state::Config,
};

#[event_cpi]
#[derive(Accounts)]
pub struct FundVaultFromTreasury<'info> {
    pub admin: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, address = config.treasury @ StkError::WrongTreasury)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    /// CHECK: PDA owning the treasury and the vault.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump = config.vault_authority_bump)]
    pub vault_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

/// Moves quote from the treasury into the buyback vault (investor money backing members' exit).
pub fn handler(ctx: Context<FundVaultFromTreasury>, amount: u64) -> Result<()> {
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
                to: ctx.accounts.vault.to_account_info(),
                authority: ctx.accounts.vault_authority.to_account_info(),
            },
            signer,
        ),
        amount,
    )?;
    ctx.accounts.vault.reload()?;
    emit_cpi!(VaultFunded {
        amount,
        vault_balance: ctx.accounts.vault.amount,
    });
    Ok(())
}
