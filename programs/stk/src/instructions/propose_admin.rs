use anchor_lang::prelude::*;

use crate::{events::AdminProposed, instructions::AdminUpdate};

/// First step of an admin transfer; `Pubkey::default()` cancels a pending proposal.
pub fn handler(ctx: Context<AdminUpdate>, pending_admin: Pubkey) -> Result<()> {
    let config = &mut ctx.accounts.config;
    config.pending_admin = pending_admin;
    emit_cpi!(AdminProposed {
        admin: config.admin,
        pending_admin,
    });
    Ok(())
}
