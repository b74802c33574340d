use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::{constants::CONFIG_SEED, error::StkError, events::BuybackWindowOpened, state::Config};

#[event_cpi]
#[derive(Accounts)]
pub struct OpenBuybackWindow<'info> {
    pub admin: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenBuybackWindowArgs {
    /// Quote base units paid per whole STK.
    pub price: u64,
    /// Quote base units the window may pay out in total; at most the vault balance.
    pub capacity: u64,
    /// Quote base units one member may receive in this window.
    pub per_member_cap: u64,
    pub duration_secs: i64,
}

/// Opens a new buyback window (replacing any open one) and sets the buyback price.
pub fn handler(ctx: Context<OpenBuybackWindow>, args: OpenBuybackWindowArgs) -> Result<()> {
    require!(
        args.price > 0 && args.capacity > 0 && args.per_member_cap > 0 && args.duration_secs > 0,
        StkError::InvalidWindow
    );
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    // The quote reserved for tender windows is not available to a first-come window.
    let free = ctx
        .accounts
        .vault
        .amount
        .saturating_sub(config.tender_reserved);
    require!(args.capacity <= free, StkError::CapacityExceedsVault);
    config.window_id = config
        .window_id
        .checked_add(1)
        .ok_or(StkError::MathOverflow)?;
    config.buyback_price = args.price;
    config.window_capacity = args.capacity;
    config.window_used = 0;
    config.window_member_cap = args.per_member_cap;
    config.window_closes_at = now
        .checked_add(args.duration_secs)
        .ok_or(StkError::MathOverflow)?;
    emit_cpi!(BuybackWindowOpened {
        window_id: config.window_id,
        price: args.price,
        capacity: args.capacity,
        per_member_cap: args.per_member_cap,
        closes_at: config.window_closes_at,
    });
    Ok(())
}
