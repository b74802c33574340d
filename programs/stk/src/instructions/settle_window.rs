use anchor_lang::prelude::*;

use crate::{
    constants::*,
    economy::settle_window,
    error::StkError,
    events::TenderWindowSettled,
    state::{Config, TenderWindow},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(window_id: u64)]
pub struct SettleWindow<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [WINDOW_SEED, &window_id.to_le_bytes()], bump = window.bump)]
    pub window: Box<Account<'info, TenderWindow>>,
}

/// Settles a closed window in O(1): one fill ratio `min(1, capacity in STK / requested)` for every
/// order (`economy::settle_window`). Anyone may call it, once. The capacity the fill does not need is
/// released back to the vault's free balance.
pub fn handler(ctx: Context<SettleWindow>, _window_id: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    let window = &mut ctx.accounts.window;
    require!(!window.settled, StkError::WindowAlreadySettled);
    require!(now >= window.closes_at, StkError::WindowNotClosed);
    let fill = settle_window(window.capacity, window.price, window.requested)
        .ok_or(StkError::InvalidWindow)?;
    let max_payout = fill.max_payout().ok_or(StkError::MathOverflow)?;
    let mut released = window
        .capacity
        .checked_sub(max_payout)
        .ok_or(StkError::MathOverflow)?;
    if window.open_orders == 0 {
        // Nobody to pay: the whole reservation goes back.
        released = window.capacity;
    }
    config.tender_reserved = config
        .tender_reserved
        .checked_sub(released)
        .ok_or(StkError::MathOverflow)?;
    window.filled = fill.filled;
    window.settled = true;
    emit_cpi!(TenderWindowSettled {
        window_id: window.id,
        requested: window.requested,
        filled: fill.filled,
        price: window.price,
        released,
    });
    Ok(())
}
