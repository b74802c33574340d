use anchor_lang::prelude::*;
use anchor_spl::token::{self, InitializeAccount3, Mint, Token, TokenAccount};

use crate::{
    constants::*,
    economy::{buyback_price, window_capacity, window_price_allowed},
    error::StkError,
    events::TenderWindowAnnounced,
    state::{Config, TenderWindow},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: AnnounceTenderWindowArgs)]
pub struct AnnounceTenderWindow<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    #[account(address = config.vault @ StkError::WrongVault)]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(address = config.stk_mint @ StkError::WrongMint)]
    pub stk_mint: Box<Account<'info, Mint>>,
    /// CHECK: the new `TenderWindow`, created by the handler (the address may already hold lamports).
    #[account(mut, seeds = [WINDOW_SEED, &args.window_id.to_le_bytes()], bump)]
    pub window: UncheckedAccount<'info>,
    /// CHECK: the window's STK escrow, created by the handler as an SPL token account owned by the vault
    /// authority (the address may already hold lamports).
    #[account(mut, seeds = [WINDOW_ESCROW_SEED, &args.window_id.to_le_bytes()], bump)]
    pub escrow: UncheckedAccount<'info>,
    /// CHECK: PDA owning the vault and the escrows.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump = config.vault_authority_bump)]
    pub vault_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceTenderWindowArgs {
    /// Must be `config.tender_window_count + 1`.
    pub window_id: u64,
    /// Quote base units per whole STK; at most the rule price (the admin may only lower it).
    pub price: u64,
    /// Quote base units; at most the rule capacity (the admin may only lower it).
    pub capacity: u64,
    /// In the future: the window is announced ahead.
    pub opens_at: i64,
    pub closes_at: i64,
}

/// Announces the next tender window, at most one per revenue period. Its price is at most
/// `buyback_price(floor, BUYBACK_SPREAD_BPS)` and its capacity at most `window_capacity(last period's
/// vault inflow, free vault, WINDOW_MAX_VAULT_BPS)`; the capacity is reserved in the vault at once.
pub fn handler(ctx: Context<AnnounceTenderWindow>, args: AnnounceTenderWindowArgs) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let config = &mut ctx.accounts.config;
    require!(!config.is_paused(PAUSE_BUYBACK), StkError::Paused);
    config.roll_period(now)?;
    require!(
        args.window_id == config.tender_window_count.saturating_add(1),
        StkError::InvalidWindow
    );
    require!(
        config.tender_window_count == 0 || config.period_index > config.last_window_period,
        StkError::WindowCadence
    );
    let length = args.closes_at.checked_sub(args.opens_at);
    require!(
        args.opens_at > now
            && args.price > 0
            && args.capacity > 0
            && length.is_some_and(|l| l > 0 && l <= MAX_WINDOW_SECS),
        StkError::InvalidWindow
    );

    let backing = config.backing(ctx.accounts.vault.amount, ctx.accounts.stk_mint.supply)?;
    let floor_price = backing.floor_price().ok_or(StkError::NoFloor)?;
    let rule_price =
        buyback_price(floor_price, BUYBACK_SPREAD_BPS).ok_or(StkError::MathOverflow)?;
    require!(
        window_price_allowed(args.price, rule_price),
        StkError::WindowPriceAboveRule
    );
    let rule_capacity = window_capacity(
        config.last_period_inflow,
        backing.vault,
        WINDOW_MAX_VAULT_BPS,
    )
    .ok_or(StkError::MathOverflow)?;
    require!(
        args.capacity <= rule_capacity,
        StkError::WindowCapacityAboveRule
    );

    let id = args.window_id.to_le_bytes();
    let window_bump = ctx.bumps.window;
    let escrow_bump = ctx.bumps.escrow;
    let mut window = PdaAccount::<TenderWindow>::init(
        PdaCreation {
            payer: ctx.accounts.admin.as_ref(),
            account: ctx.accounts.window.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[WINDOW_SEED, &id, &[window_bump]],
    )?;
    PdaCreation {
        payer: ctx.accounts.admin.as_ref(),
        account: ctx.accounts.escrow.as_ref(),
        system_program: ctx.accounts.system_program.as_ref(),
    }
    .create(
        TokenAccount::LEN,
        &token::ID,
        &[WINDOW_ESCROW_SEED, &id, &[escrow_bump]],
    )?;
    token::initialize_account3(CpiContext::new(
        ctx.accounts.token_program.key(),
        InitializeAccount3 {
            account: ctx.accounts.escrow.to_account_info(),
            mint: ctx.accounts.stk_mint.to_account_info(),
            authority: ctx.accounts.vault_authority.to_account_info(),
        },
    ))?;

    window.id = args.window_id;
    window.price = args.price;
    window.capacity = args.capacity;
    window.opens_at = args.opens_at;
    window.closes_at = args.closes_at;
    window.bump = window_bump;
    window.escrow_bump = escrow_bump;
    window.save()?;

    config.tender_reserved = config
        .tender_reserved
        .checked_add(args.capacity)
        .ok_or(StkError::MathOverflow)?;
    config.tender_window_count = args.window_id;
    config.last_window_period = config.period_index;
    emit_cpi!(TenderWindowAnnounced {
        window_id: args.window_id,
        price: args.price,
        capacity: args.capacity,
        opens_at: args.opens_at,
        closes_at: args.closes_at,
        rule_price,
        rule_capacity,
        floor_price,
    });
    Ok(())
}
