use anchor_lang::prelude::*;
use anchor_spl::token::{self, Burn, Mint, Token, TokenAccount, Transfer};

use crate::{
    constants::*,
    error::StkError,
    events::OrderClaimed,
    state::{Config, Order, TenderWindow},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(window_id: u64)]
pub struct ClaimOrder<'info> {
    #[account(mut)]
    pub member: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [WINDOW_SEED, &window_id.to_le_bytes()], bump = window.bump)]
    pub window: Box<Account<'info, TenderWindow>>,
    #[account(
        mut,
        seeds = [ORDER_SEED, &window_id.to_le_bytes(), member.key().as_ref()],
        bump = order.bump,
        close = member,
    )]
    pub order: Box<Account<'info, Order>>,
    #[account(mut, seeds = [WINDOW_ESCROW_SEED, &window_id.to_le_bytes()], bump = window.escrow_bump)]
    pub escrow: Box<Account<'info, TokenAccount>>,
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
    /// CHECK: PDA owning the vault and the escrow.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump = config.vault_authority_bump)]
    pub vault_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
}

/// Claims a settled order: quote for the filled part (rounded down, `Fill::claim`), the filled STK
/// burned, the unfilled STK back to the member; the order account is closed and its rent returned.
pub fn handler(mut ctx: Context<ClaimOrder>, window_id: u64) -> Result<()> {
    let accounts = &mut ctx.accounts;
    require!(!accounts.config.is_paused(PAUSE_BUYBACK), StkError::Paused);
    require!(accounts.window.settled, StkError::WindowNotSettled);
    require!(
        accounts.order.window_id == window_id && accounts.order.member == accounts.member.key(),
        StkError::WrongOrder
    );
    let amount = accounts.order.amount;
    let claim = accounts
        .window
        .fill()
        .claim(amount)
        .ok_or(StkError::WrongOrder)?;
    let signer: &[&[&[u8]]] = &[&[
        VAULT_AUTHORITY_SEED,
        &[accounts.config.vault_authority_bump],
    ]];
    let program = accounts.token_program.key();
    if claim.filled_stk > 0 {
        token::burn(
            CpiContext::new_with_signer(
                program,
                Burn {
                    mint: accounts.stk_mint.to_account_info(),
                    from: accounts.escrow.to_account_info(),
                    authority: accounts.vault_authority.to_account_info(),
                },
                signer,
            ),
            claim.filled_stk,
        )?;
    }
    if claim.returned_stk > 0 {
        token::transfer(
            CpiContext::new_with_signer(
                program,
                Transfer {
                    from: accounts.escrow.to_account_info(),
                    to: accounts.member_stk.to_account_info(),
                    authority: accounts.vault_authority.to_account_info(),
                },
                signer,
            ),
            claim.returned_stk,
        )?;
    }
    if claim.quote > 0 {
        token::transfer(
            CpiContext::new_with_signer(
                program,
                Transfer {
                    from: accounts.vault.to_account_info(),
                    to: accounts.member_quote.to_account_info(),
                    authority: accounts.vault_authority.to_account_info(),
                },
                signer,
            ),
            claim.quote,
        )?;
    }

    let window = &mut accounts.window;
    window.paid_out = window
        .paid_out
        .checked_add(claim.quote)
        .ok_or(StkError::MathOverflow)?;
    window.open_orders = window
        .open_orders
        .checked_sub(1)
        .ok_or(StkError::MathOverflow)?;
    // What this claim takes, plus (at the last claim) the rounding dust no claim will take.
    let mut released = claim.quote;
    if window.open_orders == 0 {
        let max_payout = window.fill().max_payout().ok_or(StkError::MathOverflow)?;
        released = max_payout
            .checked_sub(window.paid_out)
            .and_then(|dust| dust.checked_add(claim.quote))
            .ok_or(StkError::MathOverflow)?;
    }
    let config = &mut accounts.config;
    config.tender_reserved = config
        .tender_reserved
        .checked_sub(released)
        .ok_or(StkError::MathOverflow)?;
    config.escrowed_stk = config
        .escrowed_stk
        .checked_sub(amount)
        .ok_or(StkError::MathOverflow)?;
    config.total_burned_sell_back = config
        .total_burned_sell_back
        .checked_add(claim.filled_stk)
        .ok_or(StkError::MathOverflow)?;
    config.total_quote_paid_out = config
        .total_quote_paid_out
        .checked_add(claim.quote)
        .ok_or(StkError::MathOverflow)?;
    let event = OrderClaimed {
        window_id,
        member: accounts.member.key(),
        order_amount: amount,
        filled_stk: claim.filled_stk,
        quote_amount: claim.quote,
        returned_stk: claim.returned_stk,
    };
    emit_cpi!(event);
    Ok(())
}
