use anchor_lang::prelude::*;

use crate::{
    constants::MEMBER_SEED,
    utils::{PdaAccount, PdaCreation},
};

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

impl Member {
    /// Loads the `Member` of `wallet` (a signer, who pays for it), creating it when missing.
    pub fn load_or_create<'info>(
        wallet: &AccountInfo<'info>,
        account: &AccountInfo<'info>,
        system_program: &AccountInfo<'info>,
        bump: u8,
    ) -> Result<PdaAccount<'info, Member>> {
        let mut member = PdaAccount::<Member>::init_if_needed(
            PdaCreation {
                payer: wallet,
                account,
                system_program,
            },
            &[MEMBER_SEED, wallet.key.as_ref(), &[bump]],
        )?;
        if member.created {
            member.wallet = *wallet.key;
            member.bump = bump;
        }
        Ok(member)
    }
}
