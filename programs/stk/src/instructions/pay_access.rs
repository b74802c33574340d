use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount};

use crate::{
    constants::*,
    error::StkError,
    events::AccessPaid,
    state::{Config, Member, Plan},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: PayAccessArgs)]
pub struct PayAccess<'info> {
    #[account(mut)]
    pub member: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// The plan paid for (`["plan", args.plan_id]`).
    #[account(seeds = [PLAN_SEED, &args.plan_id.to_le_bytes()], bump = plan.bump)]
    pub plan: Box<Account<'info, Plan>>,
    /// CHECK: the member's `Member`, created by the handler when missing (the address may already hold
    /// lamports: `utils::create_pda`), loaded and checked as a `Member` otherwise.
    #[account(mut, seeds = [MEMBER_SEED, member.key().as_ref()], bump)]
    pub member_state: UncheckedAccount<'info>,
    /// The buyback vault: with the supply, it sets the floor the price is converted at.
    #[account(address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
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
    /// The plan paid for.
    pub plan_id: u32,
    /// The most STK (base units) the member accepts to burn: the price moves with the floor.
    pub max_stk_in: u64,
    /// Caller's reference (e.g. hash of an order id) the service matches the payment with.
    pub reference: [u8; 32],
}

/// A member pays for a plan in STK: its fiat price less the plan's discount, converted at the floor
/// (`economy::access_price_stk`, rounded up), is burned, and `AccessPaid` is the receipt.
pub fn handler(ctx: Context<PayAccess>, args: PayAccessArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    require!(!config.is_paused(PAUSE_ACCESS), StkError::Paused);
    let plan = &ctx.accounts.plan;
    require!(plan.active, StkError::PlanInactive);
    let backing = config.backing(ctx.accounts.vault.amount, ctx.accounts.stk_mint.supply)?;
    let floor_price = backing
        .floor_price()
        .filter(|f| *f > 0)
        .ok_or(StkError::NoFloor)?;
    let price = plan.price_stk(floor_price).ok_or(StkError::MathOverflow)?;
    require!(price > 0, StkError::ZeroAmount);
    require!(price <= args.max_stk_in, StkError::SlippageExceeded);
    token::burn(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Burn {
                mint: ctx.accounts.stk_mint.to_account_info(),
                from: ctx.accounts.member_stk.to_account_info(),
                authority: ctx.accounts.member.to_account_info(),
            },
        ),
        price,
    )?;
    let mut member = Member::load_or_create(
        ctx.accounts.member.as_ref(),
        ctx.accounts.member_state.as_ref(),
        ctx.accounts.system_program.as_ref(),
        ctx.bumps.member_state,
    )?;
    member.total_access_paid = member
        .total_access_paid
        .checked_add(price)
        .ok_or(StkError::MathOverflow)?;
    config.total_burned_access = config
        .total_burned_access
        .checked_add(price)
        .ok_or(StkError::MathOverflow)?;
    emit_cpi!(AccessPaid {
        member: ctx.accounts.member.key(),
        plan_id: plan.id,
        period_secs: plan.period_secs,
        stk_amount: price,
        fiat_price: plan.fiat_price,
        discount_bps: plan.discount_bps,
        floor_price,
        reference: args.reference,
    });
    member.save()
}
