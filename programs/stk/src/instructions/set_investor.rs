use anchor_lang::prelude::*;

use crate::{
    constants::{CONFIG_SEED, INVESTOR_SEED},
    error::StkError,
    events::InvestorSet,
    state::{Config, Investor},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(wallet: Pubkey)]
pub struct SetInvestor<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the wallet's `Investor`, created by the handler when missing (the address may already hold
    /// lamports: `utils::create_pda`), loaded and checked as an `Investor` otherwise.
    #[account(mut, seeds = [INVESTOR_SEED, wallet.as_ref()], bump)]
    pub investor: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Adds a wallet to (or removes it from) the investor allowlist.
pub fn handler(ctx: Context<SetInvestor>, wallet: Pubkey, allowed: bool) -> Result<()> {
    let bump = ctx.bumps.investor;
    let mut investor = PdaAccount::<Investor>::init_if_needed(
        PdaCreation {
            payer: ctx.accounts.admin.as_ref(),
            account: ctx.accounts.investor.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[INVESTOR_SEED, wallet.as_ref(), &[bump]],
    )?;
    investor.wallet = wallet;
    investor.allowed = allowed;
    investor.bump = bump;
    emit_cpi!(InvestorSet { wallet, allowed });
    investor.save()
}
