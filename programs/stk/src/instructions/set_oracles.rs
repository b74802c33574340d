use anchor_lang::prelude::*;

use crate::{events::OraclesSet, instructions::AdminUpdate};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct SetOraclesArgs {
    pub oracles: Vec<Pubkey>,
    pub threshold: u8,
}

/// Replaces the oracle set and bumps `config_version`: approvals given under the old set stop counting.
pub fn handler(ctx: Context<AdminUpdate>, args: SetOraclesArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    config.store_oracle_set(&args.oracles, args.threshold)?;
    config.bump_version()?;
    config.invariant()?;
    emit_cpi!(OraclesSet {
        oracles: args.oracles,
        threshold: args.threshold,
        config_version: config.config_version,
    });
    Ok(())
}
