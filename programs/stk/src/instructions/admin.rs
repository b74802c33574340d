//! Accounts shared by the admin-only setters (`set_oracles`, `update_limits`, `set_paused`,
//! `propose_admin`): the admin signs, and `has_one` ties it to the config.
use anchor_lang::prelude::*;

use crate::{constants::CONFIG_SEED, error::StkError, state::Config};

#[event_cpi]
#[derive(Accounts)]
pub struct AdminUpdate<'info> {
    pub admin: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
}
