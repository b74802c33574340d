use anchor_lang::prelude::*;

/// Allowlist entry, `["investor", wallet]`, consulted when `Config.investor_allowlist` is on.
#[account]
#[derive(InitSpace, Debug)]
pub struct Investor {
    pub wallet: Pubkey,
    pub allowed: bool,
    pub total_bought_stk: u64,
    pub total_paid_quote: u64,
    pub bump: u8,
    pub _reserved: [u8; 32],
}
