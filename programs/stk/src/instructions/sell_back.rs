use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount, Transfer};

use crate::{
    constants::*,
    error::StkError,
    events::SoldBack,
    math::sell_back_quote,
    state::{Config, Member},
};

#[event_cpi]
#[derive(Accounts)]
pub struct SellBack<'info> {
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
    #[account(mut, constraint = member_quote.mint == config.quote_mint @ StkError::WrongMint)]
    pub member_quote: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    /// CHECK: PDA owning the vault.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump = config.vault_authority_bump)]
    pub vault_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SellBackArgs {
    pub stk_amount: u64,
    pub min_quote_out: u64,
}

/// A member sells STK back to the vault at the window's price: the STK is burned, quote is paid out.
pub fn handler(ctx: Context<SellBack>, args: SellBackArgs) -> Result<()> {
    let mut member = Member::load_or_create(
        ctx.accounts.member.as_ref(),
        ctx.accounts.member_state.as_ref(),
        ctx.accounts.system_program.as_ref(),
        ctx.bumps.member_state,
    )?;
    let config = &mut ctx.accounts.config;
    let now = Clock::get()?.unix_timestamp;

    require!(!config.is_paused(PAUSE_BUYBACK), StkError::Paused);
    require!(args.stk_amount > 0, StkError::ZeroAmount);
    require!(
        config.window_id > 0 && now < config.window_closes_at,
        StkError::WindowClosed
    );
    let quote = sell_back_quote(args.stk_amount, config.buyback_price)?;
    require!(quote > 0, StkError::ZeroAmount);
    require!(quote >= args.min_quote_out, StkError::SlippageExceeded);
    let window_used = config
        .window_used
        .checked_add(quote)
        .ok_or(StkError::MathOverflow)?;
    require!(
        window_used <= config.window_capacity,
        StkError::WindowCapacityExceeded
    );
    if member.window_id != config.window_id {
        member.window_id = config.window_id;
        member.window_used = 0;
    }
    let member_used = member
        .window_used
        .checked_add(quote)
        .ok_or(StkError::MathOverflow)?;
    require!(
        member_used <= config.window_member_cap,
        StkError::MemberCapExceeded
    );
    // The quote reserved for tender windows is not for sale first come, first served.
    let free = ctx
        .accounts
        .vault
        .amount
        .checked_sub(config.tender_reserved)
        .ok_or(StkError::InsufficientVault)?;
    require!(quote <= free, StkError::InsufficientVault);

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
    let signer: &[&[&[u8]]] = &[&[VAULT_AUTHORITY_SEED, &[config.vault_authority_bump]]];
    token::transfer(
        CpiContext::new_with_signer(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.vault.to_account_info(),
                to: ctx.accounts.member_quote.to_account_info(),
                authority: ctx.accounts.vault_authority.to_account_info(),
            },
            signer,
        ),
        quote,
    )?;

    config.window_used = window_used;
    member.window_used = member_used;
    member.total_sold_stk = member
        .total_sold_stk
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    member.total_quote_received = member
        .total_quote_received
        .checked_add(quote)
        .ok_or(StkError::MathOverflow)?;
    config.total_burned_sell_back = config
        .total_burned_sell_back
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    config.total_quote_paid_out = config
        .total_quote_paid_out
        .checked_add(quote)
        .ok_or(StkError::MathOverflow)?;
    emit_cpi!(SoldBack {
        member: ctx.accounts.member.key(),
        window_id: config.window_id,
        stk_amount: args.stk_amount,
        quote_amount: quote,
        price: config.buyback_price,
    });
    member.save()
}
