use anchor_lang::prelude::*;
use anchor_spl::token::{self, Mint, MintTo, Token, TokenAccount, Transfer};

use crate::{
    constants::*,
    error::StkError,
    events::PremiumPurchased,
    math::premium_quote,
    state::{Config, Investor},
};

#[event_cpi]
#[derive(Accounts)]
pub struct BuyPremium<'info> {
    pub investor: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// Required when the allowlist is on.
    #[account(mut, seeds = [INVESTOR_SEED, investor.key().as_ref()], bump = investor_state.bump)]
    pub investor_state: Option<Box<Account<'info, Investor>>>,
    #[account(mut, address = config.stk_mint @ StkError::WrongMint)]
    pub stk_mint: Box<Account<'info, Mint>>,
    #[account(mut, constraint = investor_stk.mint == config.stk_mint @ StkError::WrongMint)]
    pub investor_stk: Box<Account<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = investor_quote.mint == config.quote_mint @ StkError::WrongMint,
        token::authority = investor,
    )]
    pub investor_quote: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = config.treasury @ StkError::WrongTreasury)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    /// CHECK: PDA holding the mint authority.
    #[account(seeds = [EMISSION_AUTHORITY_SEED], bump = config.emission_authority_bump)]
    pub emission_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuyPremiumArgs {
    pub stk_amount: u64,
    pub max_quote_in: u64,
}

/// An investor buys newly minted STK at `buyback_price × premium`, paid into the treasury, within the
/// remaining investor allocation.
pub fn handler(ctx: Context<BuyPremium>, args: BuyPremiumArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    require!(!config.is_paused(PAUSE_SALE), StkError::Paused);
    require!(args.stk_amount > 0, StkError::ZeroAmount);
    require!(config.buyback_price > 0, StkError::PriceNotSet);
    // Never sell below the buyback price (a config written before this check existed may hold less).
    config.check_prices()?;
    if config.investor_allowlist {
        let allowed = ctx
            .accounts
            .investor_state
            .as_ref()
            .is_some_and(|i| i.allowed);
        require!(allowed, StkError::NotAllowlisted);
    }
    require!(
        args.stk_amount <= config.investor_allocation_remaining,
        StkError::AllocationExceeded
    );
    let supply = ctx
        .accounts
        .stk_mint
        .supply
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    require!(supply <= config.max_supply, StkError::MaxSupplyExceeded);
    let quote = premium_quote(args.stk_amount, config.buyback_price, config.premium_bps)?;
    require!(quote <= args.max_quote_in, StkError::SlippageExceeded);

    token::transfer(
        CpiContext::new(
            ctx.accounts.token_program.key(),
            Transfer {
                from: ctx.accounts.investor_quote.to_account_info(),
                to: ctx.accounts.treasury.to_account_info(),
                authority: ctx.accounts.investor.to_account_info(),
            },
        ),
        quote,
    )?;
    let signer: &[&[&[u8]]] = &[&[EMISSION_AUTHORITY_SEED, &[config.emission_authority_bump]]];
    token::mint_to(
        CpiContext::new_with_signer(
            ctx.accounts.token_program.key(),
            MintTo {
                mint: ctx.accounts.stk_mint.to_account_info(),
                to: ctx.accounts.investor_stk.to_account_info(),
                authority: ctx.accounts.emission_authority.to_account_info(),
            },
            signer,
        ),
        args.stk_amount,
    )?;

    config.investor_allocation_remaining = config
        .investor_allocation_remaining
        .checked_sub(args.stk_amount)
        .ok_or(StkError::AllocationExceeded)?;
    config.total_premium_minted = config
        .total_premium_minted
        .checked_add(args.stk_amount)
        .ok_or(StkError::MathOverflow)?;
    config.total_premium_quote_in = config
        .total_premium_quote_in
        .checked_add(quote)
        .ok_or(StkError::MathOverflow)?;
    if let Some(investor) = ctx.accounts.investor_state.as_mut() {
        investor.total_bought_stk = investor
            .total_bought_stk
            .checked_add(args.stk_amount)
            .ok_or(StkError::MathOverflow)?;
        investor.total_paid_quote = investor
            .total_paid_quote
            .checked_add(quote)
            .ok_or(StkError::MathOverflow)?;
    }
    emit_cpi!(PremiumPurchased {
        investor: ctx.accounts.investor.key(),
        stk_amount: args.stk_amount,
        quote_amount: quote,
        price: config.buyback_price,
        premium_bps: config.premium_bps,
    });
    Ok(())
}
