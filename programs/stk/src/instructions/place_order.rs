use anchor_lang::prelude::*;
use anchor_spl::token::{self, Token, TokenAccount, Transfer};

use crate::{
    constants::*,
    error::StkError,
    events::OrderPlaced,
    state::{Config, Order, TenderWindow},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: PlaceOrderArgs)]
pub struct PlaceOrder<'info> {
    #[account(mut)]
    pub member: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [WINDOW_SEED, &args.window_id.to_le_bytes()], bump = window.bump)]
    pub window: Box<Account<'info, TenderWindow>>,
    /// CHECK: the member's `Order` in this window, created by the handler on the first placement (the
    /// address may already hold lamports: `utils::create_pda`), loaded and checked as an `Order` after.
    #[account(
        mut,
        seeds = [ORDER_SEED, &args.window_id.to_le_bytes(), member.key().as_ref()],
        bump,
    )]
    pub order: UncheckedAccount<'info>,
    #[account(
        mut,
        seeds = [WINDOW_ESCROW_SEED, &args.window_id.to_le_bytes()],
        bump = window.escrow_bump,
    )]
    pub escrow: Box<Account<'info, TokenAccount>>,
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
pub struct PlaceOrderArgs {
    pub window_id: u64,
    /// STK base units to offer (escrowed until the claim); adds to an existing order.
    pub stk_amount: u64,
}

/// Escrows STK in the member's order while the window is open. The arrival time plays no role: every
/// order of the window is filled at the same ratio at settlement.
pub fn handler(ctx: Context<PlaceOrder>, args: PlaceOrderArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    let window = &mut ctx.accounts.window;
    require!(!config.is_paused(PAUSE_BUYBACK), StkError::Paused);
    require!(args.stk_amount > 0, StkError::ZeroAmount);
    require!(
        !window.settled && now >= window.opens_at && now < window.closes_at,
        StkError::WindowNotOpen
    );
    let bump = ctx.bumps.order;
    let member_key = ctx.accounts.member.key();
    let id = args.window_id.to_le_bytes();
    let mut order = PdaAccount::<Order>::init_if_needed(
        PdaCreation {
            payer: ctx.accounts.member.as_ref(),
            account: ctx.accounts.order.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[ORDER_SEED, &id, member_key.as_ref(), &[bump]],
    )?;
    if order.created {
        order.window_id = args.window_id;
        order.member = member_key;
        order.bump = bump;
        window.open_orders = window
            .open_orders
            .checked_add(1)
            .ok_or(StkError::MathOverflow)?;
    }
    token::transfer(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.member_stk.to_account_info(),
                to: ctx.accounts.escrow.to_account_info(),
                authority: ctx.accounts.member.to_account_info(),
            },
        ),
        args.stk_amount,
    )?;
    order.amount = order
        .amount
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    window.requested = window
        .requested
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    config.escrowed_stk = config
        .escrowed_stk
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    emit_cpi!(OrderPlaced {
        window_id: args.window_id,
        member: member_key,
        stk_amount: args.stk_amount,
        order_amount: order.amount,
        window_requested: window.requested,
    });
    order.save()
}
