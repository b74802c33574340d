use anchor_lang::prelude::*;

use crate::{
    constants::{
        BPS_DENOMINATOR, MAX_ORACLES, MAX_PREMIUM_BPS, PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
        PREMIUM_VAULT_SHARE_BPS,
    },
    economy::{premium_vault_share_bps, PremiumTerms},
    error::StkError,
    math::RateWindow,
};

/// The program's single configuration account, `["config"]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Config {
    pub admin: Pubkey,
    /// Second step of an admin transfer; `Pubkey::default()` when none is pending.
    pub pending_admin: Pubkey,
    pub stk_mint: Pubkey,
    pub quote_mint: Pubkey,
    pub vault: Pubkey,
    pub treasury: Pubkey,

    pub oracles: [Pubkey; MAX_ORACLES],
    pub oracle_count: u8,
    pub threshold: u8,
    /// Bumped whenever the oracle set or the limits change; approvals made under an older version
    /// do not count.
    pub config_version: u32,

    pub genesis_ts: i64,
    pub epoch_duration: i64,
    /// Lowest epoch that may still be attested: every epoch below it is finalized or closed.
    pub next_epoch: u64,

    pub max_emission_per_epoch: u64,
    pub mint_rate: RateWindow,
    pub max_supply: u64,

    /// Unused since economy v2 (the first-come buyback window was retired for pro-rata tender
    /// windows); kept, like the `window_*` fields below, so the account layout is unchanged.
    pub buyback_price: u64,
    /// The premium sale's price as a multiple of the floor, in bps (100_000 = 10x); at least
    /// `PREMIUM_MIN_FLOOR_MULTIPLE_BPS`, at most `MAX_PREMIUM_BPS`.
    pub premium_bps: u64,
    pub investor_allocation_remaining: u64,
    pub investor_allowlist: bool,

    pub window_id: u64,
    pub window_closes_at: i64,
    pub window_capacity: u64,
    pub window_used: u64,
    pub window_member_cap: u64,

    /// `PAUSE_*` bitmask.
    pub paused: u8,

    pub total_distributed: u64,
    pub total_premium_minted: u64,
    pub total_burned_sell_back: u64,
    pub total_burned_access: u64,
    pub total_revenue_deposited: u64,
    pub total_quote_paid_out: u64,
    /// Quote paid for premium purchases in total (vault and treasury shares together).
    pub total_premium_quote_in: u64,

    pub bump: u8,
    pub mint_bump: u8,
    pub emission_authority_bump: u8,
    pub vault_authority_bump: u8,

    // --- economy v2 (issue 13), carved out of the reserved bytes (the account size is unchanged) ---
    /// STK escrowed in open tender orders (not floating).
    pub escrowed_stk: u64,
    /// Quote the vault owes to announced tender windows (their capacity until settlement, then what
    /// their claims may still take); not available to new windows or to `sell_back`.
    pub tender_reserved: u64,
    /// Index of the revenue period (`(now - genesis_ts) / epoch_duration`) `period_inflow` belongs to.
    pub period_index: u64,
    /// Vault inflow (deposited revenue) recorded in period `period_index`.
    pub period_inflow: u64,
    /// Vault inflow recorded in period `period_index - 1` (0 when nothing came in then).
    pub last_period_inflow: u64,
    /// Number of tender windows announced (the last window's id; ids start at 1).
    pub tender_window_count: u64,
    /// Period in which the last tender window was announced (one window per period: the fixed cadence).
    pub last_window_period: u64,
    /// The vault's share of all premium purchases (issue 13 part 5); the treasury got
    /// `total_premium_quote_in - total_premium_to_vault`.
    pub total_premium_to_vault: u64,
    /// Share of a deposit's value that the period's epoch may mint, valued at the floor, in bps (at
    /// most 10_000: emission never exceeds the inflow that backs it). `Limits::emission_inflow_bps`.
    pub emission_inflow_bps: u64,
    /// Quote base units per whole STK at which emission is valued while there is no floor yet (nothing
    /// floating or an empty vault). `Limits::genesis_price`.
    pub genesis_price: u64,

    pub _reserved: [u8; 48],
}

impl Config {
    /// The revenue period of `now`: `(now - genesis_ts) / epoch_duration`, 0 before genesis.
    pub fn period_at(&self, now: i64) -> Result<u64> {
        let since = now.saturating_sub(self.genesis_ts).max(0);
        let p = since
            .checked_div(self.epoch_duration)
            .ok_or(StkError::MathOverflow)?;
        u64::try_from(p).map_err(|_| error!(StkError::MathOverflow))
    }

    /// Moves the inflow record to the period of `now`: the finished period's inflow becomes
    /// `last_period_inflow` (0 when one or more periods without any record passed in between).
    pub fn roll_period(&mut self, now: i64) -> Result<()> {
        let p = self.period_at(now)?;
        if p > self.period_index {
            self.last_period_inflow = if p == self.period_index.saturating_add(1) {
                self.period_inflow
            } else {
                0
            };
            self.period_inflow = 0;
            self.period_index = p;
        }
        Ok(())
    }

    /// The vault's backing of the floating STK: the vault less what tender windows are owed, behind
    /// the supply less the escrowed STK (`economy::floating_supply`; the treasury holds no STK).
    pub fn backing(&self, vault_balance: u64, supply: u64) -> Result<crate::economy::Backing> {
        let vault = vault_balance
            .checked_sub(self.tender_reserved)
            .ok_or(StkError::InsufficientVault)?;
        let floating = crate::economy::floating_supply(supply, 0, self.escrowed_stk)
            .ok_or(StkError::MathOverflow)?;
        Ok(crate::economy::Backing { vault, floating })
    }

    pub fn oracle_index(&self, key: &Pubkey) -> Option<usize> {
        self.oracles[..self.oracle_count as usize]
            .iter()
            .position(|o| o == key)
    }

    pub fn is_paused(&self, flag: u8) -> bool {
        self.paused & flag != 0
    }

    /// Validates an oracle set before it is stored.
    pub fn check_oracle_set(oracles: &[Pubkey], threshold: u8) -> Result<()> {
        require!(
            !oracles.is_empty() && oracles.len() <= MAX_ORACLES,
            StkError::InvalidOracleSet
        );
        require!(
            threshold >= 1 && threshold as usize <= oracles.len(),
            StkError::InvalidOracleSet
        );
        for (i, o) in oracles.iter().enumerate() {
            require!(*o != Pubkey::default(), StkError::InvalidOracleSet);
            require!(!oracles[..i].contains(o), StkError::InvalidOracleSet);
        }
        Ok(())
    }

    pub fn store_oracle_set(&mut self, oracles: &[Pubkey], threshold: u8) -> Result<()> {
        Self::check_oracle_set(oracles, threshold)?;
        self.oracles = [Pubkey::default(); MAX_ORACLES];
        self.oracles[..oracles.len()].copy_from_slice(oracles);
        self.oracle_count = oracles.len() as u8;
        self.threshold = threshold;
        Ok(())
    }

    pub fn bump_version(&mut self) -> Result<()> {
        self.config_version = self
            .config_version
            .checked_add(1)
            .ok_or(StkError::MathOverflow)?;
        Ok(())
    }

    /// Unix time at which `epoch` ends (exclusive).
    pub fn epoch_end(&self, epoch: u64) -> Result<i64> {
        let n = i64::try_from(epoch).map_err(|_| error!(StkError::MathOverflow))?;
        n.checked_add(1)
            .and_then(|n| n.checked_mul(self.epoch_duration))
            .and_then(|d| d.checked_add(self.genesis_ts))
            .ok_or_else(|| error!(StkError::MathOverflow))
    }

    /// The premium multiple is within the published rule: `PREMIUM_MIN_FLOOR_MULTIPLE_BPS <=
    /// premium_bps` (the upper bound is part of [`Config::invariant`]). Checked wherever it changes
    /// (`initialize`, `update_limits`) and before every premium sale.
    pub fn check_prices(&self) -> Result<()> {
        require!(
            self.premium_bps >= PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
            StkError::PremiumBelowMinMultiple
        );
        Ok(())
    }

    /// The premium sale's terms: `premium_bps` over the floor, the published minimum multiple, and the
    /// vault's share (the published share, at least `1 / premium`).
    pub fn premium_terms(&self) -> Result<PremiumTerms> {
        Ok(PremiumTerms {
            multiple_bps: self.premium_bps,
            min_multiple_bps: PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
            vault_share_bps: premium_vault_share_bps(self.premium_bps, PREMIUM_VAULT_SHARE_BPS)
                .ok_or(StkError::PremiumBelowMinMultiple)?,
        })
    }

    /// The stored state is consistent (checked after every admin change).
    pub fn invariant(&self) -> Result<()> {
        Self::check_oracle_set(&self.oracles[..self.oracle_count as usize], self.threshold)?;
        self.check_prices()?;
        require!(self.epoch_duration > 0, StkError::InvalidLimits);
        require!(
            self.max_emission_per_epoch > 0
                && self.max_emission_per_epoch <= self.max_supply
                && self.mint_rate.window_secs > 0
                && self.mint_rate.threshold > 0
                && self.premium_bps <= MAX_PREMIUM_BPS
                && self.emission_inflow_bps <= BPS_DENOMINATOR
                && self.genesis_price > 0,
            StkError::InvalidLimits
        );
        Ok(())
    }
}

/// The tunable limits, set at `initialize` and by `update_limits`.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_emission_per_epoch: u64,
    pub rate_window_secs: u64,
    pub rate_threshold: u64,
    pub max_supply: u64,
    /// Premium multiple over the floor, in bps (100_000 = 10x); at least
    /// `PREMIUM_MIN_FLOOR_MULTIPLE_BPS` (3x), at most `MAX_PREMIUM_BPS` (100x).
    pub premium_bps: u64,
    pub investor_allocation_remaining: u64,
    pub investor_allowlist: bool,
    /// The emission rule: an epoch may mint at most this share (bps, ≤ 10_000) of its period's vault
    /// inflow, valued at the floor (`economy::emission_cap`), so emission never lowers the floor.
    pub emission_inflow_bps: u64,
    /// Quote base units per whole STK at which emission is valued before a floor exists (> 0).
    pub genesis_price: u64,
}

impl Config {
    /// Stores `limits` (keeping the rate window's running value) and checks the result.
    pub fn apply_limits(&mut self, limits: &Limits) -> Result<()> {
        self.max_emission_per_epoch = limits.max_emission_per_epoch;
        self.mint_rate.window_secs = limits.rate_window_secs;
        self.mint_rate.threshold = limits.rate_threshold;
        self.max_supply = limits.max_supply;
        self.premium_bps = limits.premium_bps;
        self.investor_allocation_remaining = limits.investor_allocation_remaining;
        self.investor_allowlist = limits.investor_allowlist;
        self.emission_inflow_bps = limits.emission_inflow_bps;
        self.genesis_price = limits.genesis_price;
        self.invariant()
    }
}
