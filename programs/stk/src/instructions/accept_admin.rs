use anchor_lang::prelude::*;

use crate::{constants::CONFIG_SEED, error::StkError, events::AdminAccepted, state::Config};

#[event_cpi]
#[derive(Accounts)]
pub struct AcceptAdmin<'info> {
    pub new_admin: Signer<'info>,
    #[account(
        mut, seeds = [CONFIG_SEED], bump = config.bump,
        constraint = config.pending_admin != Pubkey::default()
            && config.pending_admin == new_admin.key() @ StkError::NotPendingAdmin,
    )]
    pub config: Box<Account<'info, Config>>,
}

/// Second step of an admin transfer: only the pending admin can complete it.
pub fn handler(ctx: Context<AcceptAdmin>) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let previous_admin = config.admin;
    config.admin = ctx.accounts.new_admin.key();
    config.pending_admin = Pubkey::default();
    emit_cpi!(AdminAccepted {
        previous_admin,
        admin: config.admin,
    });
    Ok(())
}
