use anchor_lang::{prelude::*, solana_program::bpf_loader_upgradeable};
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::{
    constants::*,
    error::StkError,
    events::Initialized,
    math::RateWindow,
    state::{Config, Limits},
};

#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(init, payer = admin, space = 8 + Config::INIT_SPACE, seeds = [CONFIG_SEED], bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        init, payer = admin, seeds = [MINT_SEED], bump,
        mint::decimals = STK_DECIMALS, mint::authority = emission_authority,
    )]
    pub stk_mint: Box<Account<'info, Mint>>,
    /// CHECK: PDA that holds the STK mint authority; it signs only inside this program.
    #[account(seeds = [EMISSION_AUTHORITY_SEED], bump)]
    pub emission_authority: UncheckedAccount<'info>,
    pub quote_mint: Box<Account<'info, Mint>>,
    /// CHECK: PDA that owns the vault and the treasury token accounts.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    #[account(
        init, payer = admin, seeds = [VAULT_SEED], bump,
        token::mint = quote_mint, token::authority = vault_authority,
    )]
    pub vault: Box<Account<'info, TokenAccount>>,
    #[account(
        init, payer = admin, seeds = [TREASURY_SEED], bump,
        token::mint = quote_mint, token::authority = vault_authority,
    )]
    pub treasury: Box<Account<'info, TokenAccount>>,
    /// The program's ProgramData account; required when the program is deployed upgradeable, so only
    /// the upgrade authority can initialize (no front-running of `initialize` after a deploy).
    pub program_data: Option<Account<'info, ProgramData>>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct InitializeArgs {
    pub oracles: Vec<Pubkey>,
    pub threshold: u8,
    pub genesis_ts: i64,
    pub epoch_duration: i64,
    pub limits: Limits,
}

impl Initialize<'_> {
    fn check_upgrade_authority(&self) -> Result<()> {
        require_keys_eq!(self.program.key(), crate::ID);
        // A builtin (the in-process test runtime) or a non-upgradeable deploy has no upgrade authority
        // to compare with; an upgradeable deploy must be initialized by its upgrade authority.
        if *self.program.owner != bpf_loader_upgradeable::ID {
            return Ok(());
        }
        let program_data = self
            .program_data
            .as_ref()
            .ok_or(StkError::NotUpgradeAuthority)?;
        let (expected, _) =
            Pubkey::find_program_address(&[crate::ID.as_ref()], &bpf_loader_upgradeable::ID);
        require_keys_eq!(program_data.key(), expected, StkError::NotUpgradeAuthority);
        require!(
            program_data.upgrade_authority_address == Some(self.admin.key()),
            StkError::NotUpgradeAuthority
        );
        Ok(())
    }
}

pub fn handler(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
    ctx.accounts.check_upgrade_authority()?;
    let config = &mut ctx.accounts.config;
    config.admin = ctx.accounts.admin.key();
    config.pending_admin = Pubkey::default();
    config.stk_mint = ctx.accounts.stk_mint.key();
    config.quote_mint = ctx.accounts.quote_mint.key();
    config.vault = ctx.accounts.vault.key();
    config.treasury = ctx.accounts.treasury.key();
    config.store_oracle_set(&args.oracles, args.threshold)?;
    config.config_version = 1;
    config.genesis_ts = args.genesis_ts;
    config.epoch_duration = args.epoch_duration;
    config.next_epoch = 0;
    config.mint_rate = RateWindow::default();
    config.bump = ctx.bumps.config;
    config.mint_bump = ctx.bumps.stk_mint;
    config.emission_authority_bump = ctx.bumps.emission_authority;
    config.vault_authority_bump = ctx.bumps.vault_authority;
    config.apply_limits(&args.limits)?;

    emit_cpi!(Initialized {
        admin: config.admin,
        stk_mint: config.stk_mint,
        quote_mint: config.quote_mint,
        oracle_count: config.oracle_count,
        threshold: config.threshold,
        genesis_ts: config.genesis_ts,
        epoch_duration: config.epoch_duration,
    });
    Ok(())
}
