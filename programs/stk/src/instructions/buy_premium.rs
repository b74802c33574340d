use anchor_lang::prelude::*;
use anchor_spl::token::{self, Mint, MintTo, Token, TokenAccount, Transfer};

use crate::{
    constants::*,
    economy::premium_split,
    error::StkError,
    events::PremiumPurchased,
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
    /// Receives the vault's share of the purchase.
    #[account(mut, address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    /// Receives the rest.
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

/// An investor buys newly minted STK at `premium_bps` times the floor, within the remaining investor
/// allocation. The vault gets its share of the price (the published share, at least `1 / premium`, and
/// never less than the exact backing of the new STK), so the sale never lowers the floor; the treasury
/// gets the rest. Not revenue: the period's inflow (and so the tender capacity) is unchanged.
pub fn handler(ctx: Context<BuyPremium>, args: BuyPremiumArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    require!(!config.is_paused(PAUSE_SALE), StkError::Paused);
    require!(args.stk_amount > 0, StkError::ZeroAmount);
    // Never below the published minimum multiple (a config written before this rule may hold less).
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

    let backing = config.backing(ctx.accounts.vault.amount, ctx.accounts.stk_mint.supply)?;
    let floor_price = backing
        .floor_price()
        .filter(|&f| f > 0)
        .ok_or(StkError::NoFloor)?;
    let split = premium_split(args.stk_amount, backing, config.premium_terms()?)
        .ok_or(StkError::MathOverflow)?;
    require!(split.paid <= args.max_quote_in, StkError::SlippageExceeded);

    for (to, amount) in [
        (ctx.accounts.vault.to_account_info(), split.to_vault),
        (ctx.accounts.treasury.to_account_info(), split.to_treasury),
    ] {
        if amount == 0 {
            continue;
        }
        token::transfer(
            CpiContext::new(
                ctx.accounts.token_program.key(),
                Transfer {
                    from: ctx.accounts.investor_quote.to_account_info(),
                    to,
                    authority: ctx.accounts.investor.to_account_info(),
                },
            ),
            amount,
        )?;
    }
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
        .checked_add(split.paid)
        .ok_or(StkError::MathOverflow)?;
    config.total_premium_to_vault = config
        .total_premium_to_vault
        .checked_add(split.to_vault)
        .ok_or(StkError::MathOverflow)?;
    if let Some(investor) = ctx.accounts.investor_state.as_mut() {
        investor.total_bought_stk = investor
            .total_bought_stk
            .checked_add(args.stk_amount)
            .ok_or(StkError::MathOverflow)?;
        investor.total_paid_quote = investor
            .total_paid_quote
            .checked_add(split.paid)
            .ok_or(StkError::MathOverflow)?;
    }
    emit_cpi!(PremiumPurchased {
        investor: ctx.accounts.investor.key(),
        stk_amount: args.stk_amount,
        quote_amount: split.paid,
        floor_price,
        premium_bps: config.premium_bps,
        to_vault: split.to_vault,
        to_treasury: split.to_treasury,
    });
    Ok(())
}
