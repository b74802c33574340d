use anchor_lang::{prelude::*, solana_program::bpf_loader_upgradeable};
use anchor_spl::token::{self, InitializeAccount3, InitializeMint2, Mint, Token, TokenAccount};

use crate::{
    constants::*,
    error::StkError,
    events::Initialized,
    math::RateWindow,
    state::{Config, Limits},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    /// CHECK: created by the handler (`utils::create_pda`: the address may already hold lamports).
    #[account(mut, seeds = [CONFIG_SEED], bump)]
    pub config: UncheckedAccount<'info>,
    /// CHECK: created by the handler, then `InitializeMint2` (decimals 6, authority `emission_authority`,
    /// no freeze authority).
    #[account(mut, seeds = [MINT_SEED], bump)]
    pub stk_mint: UncheckedAccount<'info>,
    /// CHECK: PDA that holds the STK mint authority; it signs only inside this program.
    #[account(seeds = [EMISSION_AUTHORITY_SEED], bump)]
    pub emission_authority: UncheckedAccount<'info>,
    pub quote_mint: Box<Account<'info, Mint>>,
    /// CHECK: PDA that owns the vault and the treasury token accounts.
    #[account(seeds = [VAULT_AUTHORITY_SEED], bump)]
    pub vault_authority: UncheckedAccount<'info>,
    /// CHECK: created by the handler, then `InitializeAccount3` (mint `quote_mint`, owner `vault_authority`).
    #[account(mut, seeds = [VAULT_SEED], bump)]
    pub vault: UncheckedAccount<'info>,
    /// CHECK: created by the handler, then `InitializeAccount3` (mint `quote_mint`, owner `vault_authority`).
    #[account(mut, seeds = [TREASURY_SEED], bump)]
    pub treasury: UncheckedAccount<'info>,
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

impl<'info> Initialize<'info> {
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

    fn creation<'a>(&'a self, account: &'a AccountInfo<'info>) -> PdaCreation<'a, 'info> {
        PdaCreation {
            payer: self.admin.as_ref(),
            account,
            system_program: self.system_program.as_ref(),
        }
    }

    /// Creates the STK mint: decimals 6, mint authority `emission_authority`, no freeze authority.
    fn create_mint(&self, bump: u8) -> Result<()> {
        self.creation(self.stk_mint.as_ref()).create(
            Mint::LEN,
            &token::ID,
            &[MINT_SEED, &[bump]],
        )?;
        let accounts = InitializeMint2 {
            mint: self.stk_mint.to_account_info(),
        };
        token::initialize_mint2(
            CpiContext::new(self.token_program.key(), accounts),
            STK_DECIMALS,
            &self.emission_authority.key(),
            None,
        )
    }

    /// Creates a quote-mint token account (the vault or the treasury) owned by `vault_authority`.
    fn create_quote_account(&self, account: &AccountInfo<'info>, seeds: &[&[u8]]) -> Result<()> {
        self.creation(account)
            .create(TokenAccount::LEN, &token::ID, seeds)?;
        let accounts = InitializeAccount3 {
            account: account.clone(),
            mint: self.quote_mint.to_account_info(),
            authority: self.vault_authority.to_account_info(),
        };
        token::initialize_account3(CpiContext::new(self.token_program.key(), accounts))
    }
}

pub fn handler(ctx: Context<Initialize>, args: InitializeArgs) -> Result<()> {
    ctx.accounts.check_upgrade_authority()?;
    let accounts = &ctx.accounts;
    let bumps = &ctx.bumps;
    // Each account is created whether or not its address already holds lamports (`utils::create_pda`).
    accounts.create_mint(bumps.stk_mint)?;
    accounts.create_quote_account(accounts.vault.as_ref(), &[VAULT_SEED, &[bumps.vault]])?;
    accounts.create_quote_account(
        accounts.treasury.as_ref(),
        &[TREASURY_SEED, &[bumps.treasury]],
    )?;
    let mut config = PdaAccount::<Config>::init(
        accounts.creation(accounts.config.as_ref()),
        &[CONFIG_SEED, &[bumps.config]],
    )?;
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
    config.save()?;

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
