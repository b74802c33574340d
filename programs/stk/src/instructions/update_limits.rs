use anchor_lang::prelude::*;

use crate::{events::LimitsUpdated, instructions::AdminUpdate, state::Limits};

/// Replaces the limits and bumps `config_version`.
pub fn handler(ctx: Context<AdminUpdate>, limits: Limits) -> Result<()> {
    let config = &mut ctx.accounts.config;
    config.apply_limits(&limits)?;
    config.bump_version()?;
    emit_cpi!(LimitsUpdated {
        max_emission_per_epoch: limits.max_emission_per_epoch,
        rate_window_secs: limits.rate_window_secs,
        rate_threshold: limits.rate_threshold,
        max_supply: limits.max_supply,
        premium_bps: limits.premium_bps,
        investor_allocation_remaining: limits.investor_allocation_remaining,
        investor_allowlist: limits.investor_allowlist,
        emission_inflow_bps: limits.emission_inflow_bps,
        genesis_price: limits.genesis_price,
        config_version: config.config_version,
    });
    Ok(())
}
