//! `stk-indexer admin …`: the operator's commands on any cluster (see `cluster.rs` for the flags).
use anchor_spl::associated_token::get_associated_token_address;
use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use solana_sdk::{instruction::AccountMeta, pubkey::Pubkey};
use stk::{
    client,
    constants::{PAUSE_ACCESS, PAUSE_ALL, PAUSE_BUYBACK, PAUSE_EMISSION, PAUSE_SALE, STK_DECIMALS},
    InitializeArgs, Limits,
};

use super::cluster::{fmt_amount, parse_amount, Session};
use crate::chain::Chain;

/// The upgradeable loader (its ProgramData account proves who may initialize).
const BPF_LOADER_UPGRADEABLE: Pubkey =
    solana_sdk::pubkey!("BPFLoaderUpgradeab1e11111111111111111111111");

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Flow {
    Emission,
    Buyback,
    Sale,
    Access,
    All,
}

impl Flow {
    fn mask(self) -> u8 {
        match self {
            Self::Emission => PAUSE_EMISSION,
            Self::Buyback => PAUSE_BUYBACK,
            Self::Sale => PAUSE_SALE,
            Self::Access => PAUSE_ACCESS,
            Self::All => PAUSE_ALL,
        }
    }
}

/// Limits; amounts in whole STK (decimals allowed). In `update-limits` an omitted one keeps its value.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    #[arg(long)]
    pub max_emission_per_epoch: Option<String>,
    #[arg(long)]
    pub rate_window_secs: Option<u64>,
    #[arg(long)]
    pub rate_threshold: Option<String>,
    #[arg(long)]
    pub max_supply: Option<String>,
    /// Premium price as a multiple of the floor in bps (100000 = 10x; 30000..=1000000).
    #[arg(long)]
    pub premium_bps: Option<u64>,
    #[arg(long)]
    pub investor_allocation: Option<String>,
    /// true: only allowlisted investors may buy at the premium.
    #[arg(long)]
    pub investor_allowlist: Option<bool>,
    /// The emission rule: an epoch may mint, valued at the floor, at most this share (bps, 0..=10000)
    /// of the revenue deposited during it.
    #[arg(long)]
    pub emission_inflow_bps: Option<u64>,
    /// Quote base units per whole STK at which emission is valued before a floor exists.
    #[arg(long)]
    pub genesis_price: Option<u64>,
}

impl LimitArgs {
    fn apply(&self, base: Limits) -> anyhow::Result<Limits> {
        let stk = |v: &Option<String>, current: u64| -> anyhow::Result<u64> {
            v.as_deref()
                .map_or(Ok(current), |s| parse_amount(s, STK_DECIMALS))
        };
        Ok(Limits {
            max_emission_per_epoch: stk(&self.max_emission_per_epoch, base.max_emission_per_epoch)?,
            rate_window_secs: self.rate_window_secs.unwrap_or(base.rate_window_secs),
            rate_threshold: stk(&self.rate_threshold, base.rate_threshold)?,
            max_supply: stk(&self.max_supply, base.max_supply)?,
            premium_bps: self.premium_bps.unwrap_or(base.premium_bps),
            investor_allocation_remaining: stk(
                &self.investor_allocation,
                base.investor_allocation_remaining,
            )?,
            investor_allowlist: self.investor_allowlist.unwrap_or(base.investor_allowlist),
            emission_inflow_bps: self.emission_inflow_bps.unwrap_or(base.emission_inflow_bps),
            genesis_price: self.genesis_price.unwrap_or(base.genesis_price),
        })
    }
}

/// The defaults of `admin init` (whole STK): 250,000 per epoch, 500,000 per 7-day window, 100 M max
/// supply, premium 10x, 10 M for investors, no allowlist.
fn default_limits() -> Limits {
    const STK: u64 = stk::constants::STK_UNIT;
    Limits {
        max_emission_per_epoch: 250_000 * STK,
        rate_window_secs: 7 * 86_400,
        rate_threshold: 500_000 * STK,
        max_supply: 100_000_000 * STK,
        premium_bps: 100_000,
        investor_allocation_remaining: 10_000_000 * STK,
        investor_allowlist: false,
        emission_inflow_bps: 5_000,
        genesis_price: 10_000,
    }
}

fn current_limits(c: &stk::state::Config) -> Limits {
    Limits {
        max_emission_per_epoch: c.max_emission_per_epoch,
        rate_window_secs: c.mint_rate.window_secs,
        rate_threshold: c.mint_rate.threshold,
        max_supply: c.max_supply,
        premium_bps: c.premium_bps,
        investor_allocation_remaining: c.investor_allocation_remaining,
        investor_allowlist: c.investor_allowlist,
        emission_inflow_bps: c.emission_inflow_bps,
        genesis_price: c.genesis_price,
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Initialize the program (signer: the program's upgrade authority, who becomes the admin).
    Init {
        /// The quote token (e.g. USDC) mint of the buyback vault and the treasury.
        #[arg(long)]
        quote_mint: Pubkey,
        /// Oracle keys, comma-separated (1..=10).
        #[arg(long, value_delimiter = ',', required = true)]
        oracles: Vec<Pubkey>,
        #[arg(long)]
        threshold: u8,
        /// Start of epoch 0 (unix seconds; default: the cluster's clock now).
        #[arg(long)]
        genesis: Option<i64>,
        #[arg(long, default_value_t = 7 * 86_400)]
        epoch_duration: i64,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Replace the oracle set and threshold.
    SetOracles {
        #[arg(long, value_delimiter = ',', required = true)]
        oracles: Vec<Pubkey>,
        #[arg(long)]
        threshold: u8,
    },
    /// Change limits (omitted ones keep their current value).
    UpdateLimits {
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Pause a flow: emission, buyback, sale, access or all.
    Pause { flow: Flow },
    /// Unpause a flow.
    Unpause { flow: Flow },
    /// First step of an admin transfer.
    ProposeAdmin { new_admin: Pubkey },
    /// Second step: the proposed admin (this keypair) accepts.
    AcceptAdmin,
    /// Allow (or with --remove, disallow) an investor wallet.
    SetInvestor {
        wallet: Pubkey,
        #[arg(long)]
        remove: bool,
    },
    /// Deposit quote tokens (revenue) into the buyback vault.
    DepositRevenue {
        /// Amount in quote tokens (decimals allowed).
        amount: String,
        /// Source token account (default: the signer's associated account of the quote mint).
        #[arg(long)]
        source: Option<Pubkey>,
    },
    /// Announce the next pro-rata tender window, by rule: price at most the floor less the published
    /// spread, capacity at most the last period's vault inflow and a share of the vault (defaults:
    /// exactly the rule). One window per revenue period; it opens `--opens-in` seconds from now.
    AnnounceWindow {
        /// Price in quote tokens per whole STK (default: the rule price; may only be lower).
        #[arg(long)]
        price: Option<String>,
        /// Quote tokens the window buys with (default: the rule capacity; may only be lower).
        #[arg(long)]
        capacity: Option<String>,
        /// Seconds from now until orders open (the window is announced ahead).
        #[arg(long, default_value_t = 3_600)]
        opens_in: i64,
        /// Seconds orders stay open.
        #[arg(long, default_value_t = 86_400)]
        duration_secs: i64,
    },
    /// Cancel a tender window before it closes: capacity 0, every order comes back whole at its claim.
    CancelWindow {
        /// Window id.
        window: u64,
    },
    /// Move quote tokens out of the treasury.
    WithdrawTreasury {
        amount: String,
        /// Destination token account (default: the signer's associated account of the quote mint).
        #[arg(long)]
        destination: Option<Pubkey>,
    },
    /// Move quote tokens from the treasury to the buyback vault.
    FundVault { amount: String },
    /// Create or update an access plan: what one payment buys and its fiat price; members pay the
    /// fiat price less the discount, converted at the floor, in STK (burned).
    SetPlan {
        /// Plan id (1..=64).
        #[arg(long)]
        id: u32,
        /// Access period of one payment, in days (at most 3 × 366).
        #[arg(long)]
        period_days: u64,
        /// The subscription's fiat price, in quote tokens (decimals allowed).
        #[arg(long)]
        fiat_price: String,
        /// Discount for paying in STK, in basis points (0..=5000).
        #[arg(long, default_value_t = 0)]
        discount_bps: u16,
        /// Stop new payments for this plan (set it again without the flag to reactivate).
        #[arg(long)]
        inactive: bool,
    },
    /// The access plans on chain and their STK prices at the current floor.
    Plans {
        #[arg(long)]
        json: bool,
    },
    /// Config, supply, epochs, vault, window and treasury.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(s: &Session, action: AdminAction) -> anyhow::Result<()> {
    let me = || s.signer();
    match action {
        AdminAction::Init {
            quote_mint,
            oracles,
            threshold,
            genesis,
            epoch_duration,
            limits,
        } => {
            let genesis = match genesis {
                Some(g) => g,
                None => s
                    .chain
                    .unix_time()
                    .await
                    .context("reading the cluster clock")?,
            };
            let limits = limits.apply(default_limits())?;
            let summary = vec![
                format!("admin: {}", me()?),
                format!("quote mint: {quote_mint}"),
                format!(
                    "oracles ({threshold} of {}): {}",
                    oracles.len(),
                    join(&oracles)
                ),
                format!("epoch 0 starts at {genesis}, epochs of {epoch_duration} s"),
                format!("limits: {}", limits_text(&limits)),
            ];
            let mut ix = client::initialize(
                me()?,
                quote_mint,
                InitializeArgs {
                    oracles,
                    threshold,
                    genesis_ts: genesis,
                    epoch_duration,
                    limits,
                },
            );
            // An upgradeable deploy is initialized by its upgrade authority: pass the program's
            // ProgramData account in the builder's optional `program_data` slot (index 8, which the
            // builder fills with the program id for "none").
            if s.account(&stk::ID)
                .await?
                .is_some_and(|a| a.owner == BPF_LOADER_UPGRADEABLE)
            {
                let program_data =
                    Pubkey::find_program_address(&[stk::ID.as_ref()], &BPF_LOADER_UPGRADEABLE).0;
                let slot = ix
                    .accounts
                    .get_mut(8)
                    .filter(|m| m.pubkey == stk::ID)
                    .ok_or_else(|| {
                        anyhow!("initialize's account list changed: update admin init")
                    })?;
                *slot = AccountMeta::new_readonly(program_data, false);
            }
            s.execute("initialize", &[ix], &summary, false).await?;
        }
        AdminAction::SetOracles { oracles, threshold } => {
            let summary = vec![format!(
                "oracles ({threshold} of {}): {}",
                oracles.len(),
                join(&oracles)
            )];
            let ix = client::set_oracles(me()?, oracles, threshold);
            s.execute("set oracles", &[ix], &summary, false).await?;
        }
        AdminAction::UpdateLimits { limits } => {
            let config = s.config().await?;
            let limits = limits.apply(current_limits(&config))?;
            let summary = vec![format!("limits: {}", limits_text(&limits))];
            let ix = client::update_limits(me()?, limits);
            s.execute("update limits", &[ix], &summary, false).await?;
        }
        AdminAction::Pause { flow } | AdminAction::Unpause { flow } => {
            let pause = matches!(action, AdminAction::Pause { .. });
            let config = s.config().await?;
            let paused = if pause {
                config.paused | flow.mask()
            } else {
                config.paused & !flow.mask()
            };
            let summary = vec![format!(
                "paused flows: {} -> {}",
                flows_text(config.paused),
                flows_text(paused)
            )];
            let ix = client::set_paused(me()?, paused);
            let what = if pause { "pause" } else { "unpause" };
            s.execute(what, &[ix], &summary, false).await?;
        }
        AdminAction::ProposeAdmin { new_admin } => {
            let ix = client::propose_admin(me()?, new_admin);
            let summary = vec![format!(
                "proposed admin: {new_admin} (must run accept-admin)"
            )];
            s.execute("propose admin", &[ix], &summary, false).await?;
        }
        AdminAction::AcceptAdmin => {
            let ix = client::accept_admin(me()?);
            let summary = vec![format!("new admin: {}", me()?)];
            s.execute("accept admin", &[ix], &summary, false).await?;
        }
        AdminAction::SetInvestor { wallet, remove } => {
            let ix = client::set_investor(me()?, wallet, !remove);
            let summary = vec![format!(
                "investor {wallet}: {}",
                if remove { "not allowed" } else { "allowed" }
            )];
            s.execute("set investor", &[ix], &summary, false).await?;
        }
        AdminAction::DepositRevenue { amount, source } => {
            let config = s.config().await?;
            let decimals = s.mint_decimals(&config.quote_mint).await?;
            let units = parse_amount(&amount, decimals)?;
            let source = source.unwrap_or_else(|| {
                get_associated_token_address(&me_or_default(s), &config.quote_mint)
            });
            let held = s.token_balance(&source).await?;
            let summary = vec![
                format!(
                    "deposit {} quote from {source} (holds {})",
                    fmt_amount(units, decimals),
                    fmt_amount(held, decimals)
                ),
                format!("to the buyback vault {}", config.vault),
                format!("expected: {source} -{units}, vault +{units} (base units)"),
            ];
            if held < units {
                bail!(
                    "insufficient funds: {source} holds {} quote, cannot deposit {}",
                    fmt_amount(held, decimals),
                    fmt_amount(units, decimals)
                );
            }
            let ix = client::deposit_revenue(me()?, source, units);
            s.execute("deposit revenue", &[ix], &summary, true).await?;
        }
        AdminAction::AnnounceWindow {
            price,
            capacity,
            opens_in,
            duration_secs,
        } => {
            let config = s.config().await?;
            let decimals = s.mint_decimals(&config.quote_mint).await?;
            let rule = crate::member_tx::tender_rule(s.chain.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let price = match price {
                Some(p) => parse_amount(&p, decimals)?,
                None => rule.price,
            };
            let capacity = match capacity {
                Some(c) => parse_amount(&c, decimals)?,
                None => rule.capacity,
            };
            let now = s
                .chain
                .unix_time()
                .await
                .context("reading the cluster clock")?;
            let opens_at = now.saturating_add(opens_in);
            let args = stk::AnnounceTenderWindowArgs {
                window_id: rule.window_id,
                price,
                capacity,
                opens_at,
                closes_at: opens_at.saturating_add(duration_secs),
            };
            let q = |v: u64| fmt_amount(v, decimals);
            let mut summary = vec![
                format!(
                    "floor {} quote per STK; rule: price at most {}, capacity at most {} (last period's inflow {})",
                    q(rule.floor_price),
                    q(rule.price),
                    q(rule.capacity),
                    q(rule.last_period_inflow)
                ),
                format!(
                    "tender window #{}: price {} quote per STK, capacity {} quote, orders from {} to {}",
                    args.window_id,
                    q(price),
                    q(capacity),
                    args.opens_at,
                    args.closes_at
                ),
            ];
            if price > rule.price || capacity > rule.capacity {
                summary.push("above the rule: the program will refuse".into());
            }
            if rule.announced_this_period {
                summary.push(
                    "a window was already announced this period: the program will refuse".into(),
                );
            }
            let ix = client::announce_tender_window(me()?, args);
            s.execute("announce tender window", &[ix], &summary, false)
                .await?;
        }
        AdminAction::CancelWindow { window } => {
            let summary = vec![format!(
                "cancel tender window #{window}: its capacity becomes 0, the reservation goes back to the vault, every order is returned whole"
            )];
            let ix = client::cancel_tender_window(me()?, window);
            s.execute("cancel tender window", &[ix], &summary, false)
                .await?;
        }
        AdminAction::WithdrawTreasury {
            amount,
            destination,
        } => {
            let config = s.config().await?;
            let decimals = s.mint_decimals(&config.quote_mint).await?;
            let units = parse_amount(&amount, decimals)?;
            let destination = destination.unwrap_or_else(|| {
                get_associated_token_address(&me_or_default(s), &config.quote_mint)
            });
            let treasury = s.token_balance(&config.treasury).await?;
            let summary = vec![
                format!(
                    "withdraw {} quote from the treasury (holds {}) to {destination}",
                    fmt_amount(units, decimals),
                    fmt_amount(treasury, decimals)
                ),
                format!("expected: treasury -{units}, {destination} +{units} (base units)"),
            ];
            let ix = client::withdraw_treasury(me()?, destination, units);
            s.execute("withdraw treasury", &[ix], &summary, true)
                .await?;
        }
        AdminAction::FundVault { amount } => {
            let config = s.config().await?;
            let decimals = s.mint_decimals(&config.quote_mint).await?;
            let units = parse_amount(&amount, decimals)?;
            let treasury = s.token_balance(&config.treasury).await?;
            let summary = vec![
                format!(
                    "move {} quote from the treasury (holds {}) to the buyback vault",
                    fmt_amount(units, decimals),
                    fmt_amount(treasury, decimals)
                ),
                format!("expected: treasury -{units}, vault +{units} (base units)"),
            ];
            let ix = client::fund_vault_from_treasury(me()?, units);
            s.execute("fund vault", &[ix], &summary, true).await?;
        }
        AdminAction::SetPlan {
            id,
            period_days,
            fiat_price,
            discount_bps,
            inactive,
        } => {
            let config = s.config().await?;
            let decimals = s.mint_decimals(&config.quote_mint).await?;
            let args = stk::SetPlanArgs {
                id,
                period_secs: period_days
                    .checked_mul(86_400)
                    .ok_or_else(|| anyhow!("--period-days {period_days} is too long"))?,
                fiat_price: parse_amount(&fiat_price, decimals)?,
                discount_bps,
                active: !inactive,
            };
            let existing = crate::chain::ops::plans(s.chain.as_ref())
                .await
                .context("reading the plans")?
                .into_iter()
                .find(|p| p.id == id);
            let floor = crate::member_tx::floor_price(s.chain.as_ref())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let price = floor.and_then(|f| {
                stk::economy::access_price_stk(args.fiat_price, u64::from(discount_bps), f)
            });
            let mut summary = vec![format!(
                "plan {id} ({}): {period_days} days, fiat price {} quote, {}% off in STK, {}",
                if existing.is_some() { "update" } else { "new" },
                fmt_amount(args.fiat_price, decimals),
                fmt_amount(u64::from(discount_bps), 2),
                if args.active { "active" } else { "inactive" }
            )];
            summary.push(match (floor, price) {
                (Some(f), Some(p)) => format!(
                    "at the floor {} quote per STK it costs {} STK",
                    fmt_amount(f, decimals),
                    fmt_amount(p, STK_DECIMALS)
                ),
                _ => "no floor yet: members cannot pay in STK until there is one".into(),
            });
            if !stk::state::Plan::valid_terms(id, args.period_secs, args.fiat_price, discount_bps) {
                summary.push(format!(
                    "outside the bounds (id 1..={}, 1..={} days, fiat price > 0, discount at most {} bps): the program will refuse",
                    stk::constants::MAX_PLAN_ID,
                    stk::constants::MAX_PLAN_PERIOD_SECS / 86_400,
                    stk::constants::MAX_PLAN_DISCOUNT_BPS
                ));
            }
            let ix = client::set_plan(me()?, args);
            s.execute("set plan", &[ix], &summary, false).await?;
        }
        AdminAction::Plans { json } => super::status::plans(s, json).await?,
        AdminAction::Status { json } => super::status::status(s, json).await?,
    }
    Ok(())
}

fn me_or_default(s: &Session) -> Pubkey {
    s.signer().unwrap_or_default()
}

fn join(keys: &[Pubkey]) -> String {
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn limits_text(l: &Limits) -> String {
    format!(
        "max emission/epoch {} STK, rate {} STK per {} s, max supply {} STK, premium {} bps, investor allocation {} STK, allowlist {}, emission share of inflow {} bps, genesis price {} quote units/STK",
        fmt_amount(l.max_emission_per_epoch, STK_DECIMALS),
        fmt_amount(l.rate_threshold, STK_DECIMALS),
        l.rate_window_secs,
        fmt_amount(l.max_supply, STK_DECIMALS),
        l.premium_bps,
        fmt_amount(l.investor_allocation_remaining, STK_DECIMALS),
        l.investor_allowlist,
        l.emission_inflow_bps,
        l.genesis_price
    )
}

pub(super) fn flows_text(mask: u8) -> String {
    let names: Vec<&str> = [
        (PAUSE_EMISSION, "emission"),
        (PAUSE_BUYBACK, "buyback"),
        (PAUSE_SALE, "sale"),
        (PAUSE_ACCESS, "access"),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, n)| *n)
    .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
