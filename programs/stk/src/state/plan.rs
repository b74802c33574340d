use anchor_lang::prelude::*;

use crate::constants::{MAX_PLAN_DISCOUNT_BPS, MAX_PLAN_ID, MAX_PLAN_PERIOD_SECS};

/// An access plan, `["plan", id]`: what a member gets (`period_secs` of access) and what it costs
/// (`fiat_price` in quote base units; in STK the fiat price less `discount_bps`, converted at the
/// floor when paid: `economy::access_price_stk`). Created and updated by the admin (`set_plan`);
/// `active = false` stops new payments.
#[account]
#[derive(InitSpace, Debug, PartialEq, Eq)]
pub struct Plan {
    pub id: u32,
    /// Access period bought by one payment, in seconds.
    pub period_secs: u64,
    /// The subscription's fiat price, in quote base units (e.g. USDC with 6 decimals).
    pub fiat_price: u64,
    /// Discount for paying in STK, in basis points (at most `MAX_PLAN_DISCOUNT_BPS`).
    pub discount_bps: u16,
    pub active: bool,
    pub bump: u8,
    pub _reserved: [u8; 32],
}

impl Plan {
    /// Whether the terms are acceptable: id in `1..=MAX_PLAN_ID`, period in
    /// `1..=MAX_PLAN_PERIOD_SECS`, a positive fiat price, a discount of at most
    /// `MAX_PLAN_DISCOUNT_BPS`.
    pub fn valid_terms(id: u32, period_secs: u64, fiat_price: u64, discount_bps: u16) -> bool {
        (1..=MAX_PLAN_ID).contains(&id)
            && (1..=MAX_PLAN_PERIOD_SECS).contains(&period_secs)
            && fiat_price > 0
            && discount_bps <= MAX_PLAN_DISCOUNT_BPS
    }

    /// The STK price of this plan at `floor_price` (`economy::access_price_stk`); `None` without a
    /// floor.
    pub fn price_stk(&self, floor_price: u64) -> Option<u64> {
        crate::economy::access_price_stk(self.fiat_price, u64::from(self.discount_bps), floor_price)
    }
}
