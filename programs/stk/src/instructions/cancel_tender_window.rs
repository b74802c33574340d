use anchor_lang::prelude::*;

use crate::{
    constants::*,
    error::StkError,
    events::TenderWindowCancelled,
    state::{Config, TenderWindow},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(window_id: u64)]
pub struct CancelTenderWindow<'info> {
    pub admin: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [WINDOW_SEED, &window_id.to_le_bytes()], bump = window.bump)]
    pub window: Box<Account<'info, TenderWindow>>,
}

/// The admin cancels a window before it closes: its capacity becomes 0 (the reservation goes back to the
/// vault), so its settlement fills nothing and every claim returns the whole order. The only other change
/// the admin can make to a window is announcing it below the rule.
pub fn handler(ctx: Context<CancelTenderWindow>, window_id: u64) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    let window = &mut ctx.accounts.window;
    require!(
        !window.settled && now < window.closes_at,
        StkError::WindowNotOpen
    );
    config.tender_reserved = config
        .tender_reserved
        .checked_sub(window.capacity)
        .ok_or(StkError::MathOverflow)?;
    let released = window.capacity;
    window.capacity = 0;
    emit_cpi!(TenderWindowCancelled {
        window_id,
        released,
    });
    Ok(())
}
