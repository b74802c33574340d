use anchor_lang::prelude::*;

use crate::{constants::PAUSE_ALL, error::StkError, events::PausedSet, instructions::AdminUpdate};

/// Sets the `PAUSE_*` bitmask (emission, buyback, sale, access).
pub fn handler(ctx: Context<AdminUpdate>, paused: u8) -> Result<()> {
    require!(paused & !PAUSE_ALL == 0, StkError::InvalidLimits);
    ctx.accounts.config.paused = paused;
    emit_cpi!(PausedSet { paused });
    Ok(())
}
