use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount};

use crate::{
    constants::*,
    error::StkError,
    events::AccessPaid,
    state::{Config, Member},
};

#[event_cpi]
#[derive(Accounts)]
pub struct PayAccess<'info> {
    #[account(mut)]
    pub member: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the member's `Member`, created by the handler when missing (the address may already hold
    /// lamports: `utils::create_pda`), loaded and checked as a `Member` otherwise.
    #[account(mut, seeds = [MEMBER_SEED, member.key().as_ref()], bump)]
    pub member_state: UncheckedAccount<'info>,
    #[account(mut, address = config.stk_mint @ StkError::WrongMint)]
    pub stk_mint: Box<Account<'info, Mint>>,
    #[account(
        mut,
        constraint = member_stk.mint == config.stk_mint @ StkError::WrongMint,
        token::authority = member,
    )]
    pub member_stk: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayAccessArgs {
    pub stk_amount: u64,
    /// Platform plan identifier (the service maps it to an access period).
    pub plan: u32,
    /// Caller's reference (e.g. hash of an order id) the service matches the payment with.
    pub reference: [u8; 32],
}

/// A member pays for platform access in STK: the STK is burned and an `AccessPaid` event is emitted.
pub fn handler(ctx: Context<PayAccess>, args: PayAccessArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    require!(!config.is_paused(PAUSE_ACCESS), StkError::Paused);
    require!(args.stk_amount > 0, StkError::ZeroAmount);
    token::burn(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Burn {
                mint: ctx.accounts.stk_mint.to_account_info(),
                from: ctx.accounts.member_stk.to_account_info(),
                authority: ctx.accounts.member.to_account_info(),
            },
        ),
        args.stk_amount,
    )?;
    let mut member = Member::load_or_create(
        ctx.accounts.member.as_ref(),
        ctx.accounts.member_state.as_ref(),
        ctx.accounts.system_program.as_ref(),
        ctx.bumps.member_state,
    )?;
    member.total_access_paid = member
        .total_access_paid
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    config.total_burned_access = config
        .total_burned_access
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    emit_cpi!(AccessPaid {
        member: ctx.accounts.member.key(),
        stk_amount: args.stk_amount,
        plan: args.plan,
        reference: args.reference,
    });
    member.save()
}
