use anchor_lang::prelude::*;

/// Optional per-member state, `["member", wallet]`: buyback usage per window and access payments.
#[account]
#[derive(InitSpace, Debug)]
pub struct Member {
    pub wallet: Pubkey,
    /// Window the `window_used` counter belongs to; a new window resets it.
    pub window_id: u64,
    pub window_used: u64,
    pub total_sold_stk: u64,
    pub total_quote_received: u64,
    pub total_access_paid: u64,
    pub bump: u8,
    pub _reserved: [u8; 32],
}
