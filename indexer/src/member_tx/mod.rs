//! The member and investor transactions (tender orders and claims, pay for access, buy at the
//! premium) and the economy's state (`views.rs`), read from any cluster: what the web app and the
//! Solana Actions endpoints serve.
//! Every instruction comes from the program crate's builders (`stk::client`); the transaction is a
//! v0 message paid by the wallet, left unsigned for the wallet to sign.

use anchor_spl::associated_token::{
    get_associated_token_address, spl_associated_token_account as ata,
};
use serde::Serialize;
use solana_sdk::{
    hash::Hash,
    instruction::Instruction,
    message::{v0, VersionedMessage},
    pubkey::Pubkey,
    signature::Signature,
    transaction::VersionedTransaction,
};
use stk::{
    client,
    constants::{BPS_DENOMINATOR, BUYBACK_SPREAD_BPS, WINDOW_MAX_VAULT_BPS},
    economy,
    math::premium_price,
    state::{Config, Order, TenderWindow},
    BuyPremiumArgs, PayAccessArgs, PlaceOrderArgs,
};

use crate::chain::{ops, Chain, ChainError};

mod views;
pub use views::*;

/// Slippage above 50 % is refused (a typo, not a choice).
pub const MAX_SLIPPAGE_BPS: u64 = 5_000;

/// An access plan as the chain holds it (`set_plan`), priced in STK at the current floor with
/// `stk::economy::access_price_stk`, the function `pay_access` charges with.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub id: u32,
    /// Access period of one payment, in seconds.
    pub period_secs: u64,
    /// The period in whole days (rounded down).
    pub days: u64,
    /// The subscription's fiat price, in quote base units.
    pub fiat_price: u64,
    /// Discount for paying in STK, in basis points.
    pub discount_bps: u16,
    pub active: bool,
    /// STK base units at the current floor (what `pay_access` burns now); `null` while there is no
    /// floor.
    pub price: Option<u64>,
}

impl Plan {
    fn at_floor(p: &stk::state::Plan, floor_price: Option<u64>) -> Self {
        Self {
            id: p.id,
            period_secs: p.period_secs,
            days: p.period_secs / 86_400,
            fiat_price: p.fiat_price,
            discount_bps: p.discount_bps,
            active: p.active,
            price: floor_price.and_then(|f| p.price_stk(f)),
        }
    }
}

/// The plans on chain and the floor they are priced at.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanList {
    /// Quote base units per whole STK (vault / floating STK); `null` while there is no floor.
    pub floor_price: Option<u64>,
    pub quote_decimals: u8,
    pub plans: Vec<Plan>,
}

/// The floor `pay_access` converts at: `Config::backing(vault, supply).floor_price()`, `None` while
/// nothing floats or the vault holds less than a quote unit per STK.
pub async fn floor_price(chain: &dyn Chain) -> Result<Option<u64>, TxError> {
    let config = config(chain).await?;
    let vault = ops::token_balance(chain, &config.vault).await?;
    let supply = ops::mint_supply(chain, &config.stk_mint).await?;
    let backing = config
        .backing(vault, supply)
        .map_err(|e| TxError::Invalid(e.to_string()))?;
    Ok(backing.floor_price().filter(|f| *f > 0))
}

/// Every plan on chain (active or not) by id, priced at the current floor.
pub async fn plans(chain: &dyn Chain) -> Result<PlanList, TxError> {
    let config = config(chain).await?;
    let floor_price = floor_price(chain).await?;
    let quote_decimals = ops::mint_decimals(chain, &config.quote_mint).await?;
    let plans = ops::plans(chain)
        .await?
        .iter()
        .map(|p| Plan::at_floor(p, floor_price))
        .collect();
    Ok(PlanList {
        floor_price,
        quote_decimals,
        plans,
    })
}

/// One plan priced at the current floor; refused when it does not exist, is inactive or there is no
/// floor (the program would refuse the payment).
pub async fn plan(chain: &dyn Chain, plan_id: u32) -> Result<Plan, TxError> {
    let p = ops::plans(chain)
        .await?
        .into_iter()
        .find(|p| p.id == plan_id)
        .ok_or_else(|| TxError::Invalid(format!("no plan {plan_id}")))?;
    if !p.active {
        return Err(TxError::Invalid(format!("plan {plan_id} is not active")));
    }
    let floor = floor_price(chain).await?.ok_or_else(|| {
        TxError::Invalid("no floor yet: nothing floats or the vault is empty".into())
    })?;
    Ok(Plan::at_floor(&p, Some(floor)))
}

/// Why a transaction is not built.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("the STK program is not initialized on this cluster")]
    NotInitialized,
    #[error("{0}")]
    Invalid(String),
    #[error("cluster: {0}")]
    Chain(#[from] ChainError),
}

/// `create_associated_token_account_idempotent` for `owner`'s account of `mint`, paid by `payer`.
pub fn create_ata(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    ata::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        mint,
        &anchor_spl::token::ID,
    )
}

/// Parses a decimal amount ("12", "0.5", "1_000") into base units of `decimals`, exactly.
pub fn parse_amount(s: &str, decimals: u8) -> anyhow::Result<u64> {
    let clean: String = s.chars().filter(|c| *c != '_' && *c != ',').collect();
    let (whole, frac) = clean.split_once('.').unwrap_or((&clean, ""));
    if whole.is_empty() && frac.is_empty() {
        anyhow::bail!("amount {s:?} is empty");
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        anyhow::bail!("amount {s:?} is not a non-negative decimal number");
    }
    if frac.len() > decimals as usize {
        anyhow::bail!("amount {s:?} has more than {decimals} decimals");
    }
    let scale = 10u64
        .checked_pow(u32::from(decimals))
        .ok_or_else(|| anyhow::anyhow!("too many decimals"))?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| anyhow::anyhow!("amount {s:?} is too large"))?
    };
    let frac_units: u64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = decimals as usize);
        padded
            .parse()
            .map_err(|_| anyhow::anyhow!("amount {s:?} is invalid"))?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(|| anyhow::anyhow!("amount {s:?} is too large"))
}

/// Base units as a decimal string.
pub fn fmt_amount(units: u64, decimals: u8) -> String {
    let scale = 10u64.pow(u32::from(decimals.min(19)));
    if decimals == 0 {
        return units.to_string();
    }
    let frac = format!("{:0width$}", units % scale, width = decimals as usize);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (units / scale).to_string()
    } else {
        format!("{}.{frac}", units / scale)
    }
}

/// The 32-byte payment reference: 64 hex digits as given, or the SHA-256 of the text.
pub fn reference_bytes(text: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut out = [0u8; 32];
    if text.len() == 64 {
        if let Ok(bytes) = hex::decode(text) {
            out.copy_from_slice(&bytes);
            return out;
        }
    }
    out.copy_from_slice(&sha2::Sha256::digest(text.as_bytes()));
    out
}

/// `amount` less `slippage_bps`, rounded down.
pub fn less_slippage(amount: u64, slippage_bps: u64) -> u64 {
    let bps = slippage_bps.min(BPS_DENOMINATOR);
    (u128::from(amount) * u128::from(BPS_DENOMINATOR - bps) / u128::from(BPS_DENOMINATOR)) as u64
}

/// `amount` plus `slippage_bps`, rounded up (saturating).
pub fn plus_slippage(amount: u64, slippage_bps: u64) -> u64 {
    let d = u128::from(BPS_DENOMINATOR);
    let v = (u128::from(amount) * (d + u128::from(slippage_bps))).div_ceil(d);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// An unsigned v0 transaction paid by `payer` (signatures left empty for the wallet).
pub fn unsigned_v0(
    payer: &Pubkey,
    ixs: &[Instruction],
    blockhash: Hash,
) -> Result<VersionedTransaction, TxError> {
    let message = v0::Message::try_compile(payer, ixs, &[], blockhash)
        .map_err(|e| TxError::Invalid(format!("compiling the transaction: {e}")))?;
    let signatures = vec![Signature::default(); message.header.num_required_signatures as usize];
    Ok(VersionedTransaction {
        signatures,
        message: VersionedMessage::V0(message),
    })
}

async fn config(chain: &dyn Chain) -> Result<stk::state::Config, TxError> {
    ops::config(chain).await?.ok_or(TxError::NotInitialized)
}

/// The tender-window rule at the chain's state and clock: the floor and the most the next window
/// may offer (`stk::economy::buyback_price` and `window_capacity`, the very functions the program
/// checks `announce_tender_window` with).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TenderRule {
    /// The id the next window must take.
    pub window_id: u64,
    /// Quote base units per whole STK: free vault / floating STK.
    pub floor_price: u64,
    /// The highest price the next window may have.
    pub price: u64,
    /// The largest capacity the next window may have.
    pub capacity: u64,
    pub last_period_inflow: u64,
    /// A window was already announced in the current period (the program will refuse another).
    pub announced_this_period: bool,
}

pub async fn tender_rule(chain: &dyn Chain) -> Result<TenderRule, TxError> {
    let config = config(chain).await?;
    let now = chain.unix_time().await?;
    let vault = ops::token_balance(chain, &config.vault).await?;
    let supply = ops::mint_supply(chain, &config.stk_mint).await?;
    tender_rule_at(&config, now, vault, supply)
}

/// [`tender_rule`] from state already read: the config, the clock, the vault's balance and the supply.
pub fn tender_rule_at(
    config: &Config,
    now: i64,
    vault: u64,
    supply: u64,
) -> Result<TenderRule, TxError> {
    let mut config = config.clone();
    let invalid = |e: anchor_lang::error::Error| TxError::Invalid(e.to_string());
    config.roll_period(now).map_err(invalid)?;
    let backing = config.backing(vault, supply).map_err(invalid)?;
    let floor_price = backing.floor_price().ok_or_else(|| {
        TxError::Invalid("no floor yet: nothing floats or the vault is empty".into())
    })?;
    let overflow = || TxError::Invalid("overflow".into());
    let price = economy::buyback_price(floor_price, BUYBACK_SPREAD_BPS).ok_or_else(overflow)?;
    let capacity = economy::window_capacity(
        config.last_period_inflow,
        backing.vault,
        WINDOW_MAX_VAULT_BPS,
    )
    .ok_or_else(overflow)?;
    Ok(TenderRule {
        window_id: config.tender_window_count.saturating_add(1),
        floor_price,
        price,
        capacity,
        last_period_inflow: config.last_period_inflow,
        announced_this_period: config.tender_window_count > 0
            && config.last_window_period >= config.period_index,
    })
}

/// A tender window's state, `None` when it does not exist.
pub async fn tender_window(
    chain: &dyn Chain,
    window_id: u64,
) -> Result<Option<TenderWindow>, TxError> {
    Ok(ops::anchor_account(chain, &client::window_address(window_id)).await?)
}

/// A member's order in a window, `None` when there is none (never placed, or already claimed).
pub async fn tender_order(
    chain: &dyn Chain,
    window_id: u64,
    member: &Pubkey,
) -> Result<Option<Order>, TxError> {
    Ok(ops::anchor_account(chain, &client::order_address(window_id, member)).await?)
}

/// Placing (or adding to) an order of `stk_amount` in window `window_id`.
pub async fn place_order(
    chain: &dyn Chain,
    member: Pubkey,
    window_id: u64,
    stk_amount: u64,
) -> Result<Vec<Instruction>, TxError> {
    if stk_amount == 0 {
        return Err(TxError::Invalid("amount must be positive".into()));
    }
    let window = tender_window(chain, window_id)
        .await?
        .ok_or_else(|| TxError::Invalid(format!("no tender window #{window_id}")))?;
    let now = chain.unix_time().await?;
    if window.settled || now < window.opens_at || now >= window.closes_at {
        return Err(TxError::Invalid(format!(
            "tender window #{window_id} takes orders from {} to {} (now {now})",
            window.opens_at, window.closes_at
        )));
    }
    Ok(vec![client::place_order(
        member,
        client::stk_ata(&member),
        PlaceOrderArgs {
            window_id,
            stk_amount,
        },
    )])
}

/// What a claim of `member`'s order in a settled window pays (`Fill::claim`) and its instructions.
pub struct OrderClaim {
    pub claim: economy::Claim,
    pub ixs: Vec<Instruction>,
}

pub async fn claim_order(
    chain: &dyn Chain,
    member: Pubkey,
    window_id: u64,
) -> Result<OrderClaim, TxError> {
    let config = config(chain).await?;
    let window = tender_window(chain, window_id)
        .await?
        .ok_or_else(|| TxError::Invalid(format!("no tender window #{window_id}")))?;
    if !window.settled {
        return Err(TxError::Invalid(format!(
            "tender window #{window_id} is not settled yet"
        )));
    }
    let order = tender_order(chain, window_id, &member)
        .await?
        .ok_or_else(|| {
            TxError::Invalid(format!(
                "no order of {member} in window #{window_id} (or already claimed)"
            ))
        })?;
    let claim = window
        .fill()
        .claim(order.amount)
        .ok_or_else(|| TxError::Invalid("order larger than the window".into()))?;
    let member_quote = get_associated_token_address(&member, &config.quote_mint);
    let ixs = vec![
        create_ata(&member, &member, &config.quote_mint),
        client::claim_order(member, client::stk_ata(&member), member_quote, window_id),
    ];
    Ok(OrderClaim { claim, ixs })
}

/// A payment for a plan: its price at the current floor, the most the transaction may burn (the
/// price plus slippage: the floor moves) and the instructions.
pub struct PayAccess {
    pub plan: Plan,
    pub price: u64,
    pub max_stk_in: u64,
    pub ixs: Vec<Instruction>,
}

pub async fn pay_access(
    chain: &dyn Chain,
    member: Pubkey,
    plan_id: u32,
    slippage_bps: u64,
    reference: [u8; 32],
) -> Result<PayAccess, TxError> {
    if slippage_bps > MAX_SLIPPAGE_BPS {
        return Err(TxError::Invalid("slippage is at most 50%".into()));
    }
    let plan = plan(chain, plan_id).await?;
    let price = plan
        .price
        .ok_or_else(|| TxError::Invalid("the plan's price does not fit".into()))?;
    let max_stk_in = plus_slippage(price, slippage_bps);
    let ix = client::pay_access(
        member,
        client::stk_ata(&member),
        PayAccessArgs {
            plan_id,
            max_stk_in,
            reference,
        },
    );
    Ok(PayAccess {
        plan,
        price,
        max_stk_in,
        ixs: vec![ix],
    })
}

/// The premium sale at the chain's state: the floor it is priced at and how a purchase is paid and
/// split (`stk::economy::premium_split` with `Config::premium_terms`, what the program computes).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PremiumQuote {
    /// Quote base units per whole STK: free vault / floating STK, rounded down.
    pub floor_price: u64,
    /// The multiple of the floor, in bps (100 000 = 10x).
    pub premium_bps: u64,
    /// Quote base units per whole STK: `floor_price × premium_bps / 10 000`, rounded up.
    pub price: u64,
    /// The vault's share of each purchase, in bps (the published share, at least `1 / premium`).
    pub vault_share_bps: u64,
    /// What the purchase costs in total, and its parts.
    pub paid: u64,
    pub to_vault: u64,
    pub to_treasury: u64,
}

/// Prices `stk_amount` STK base units at the premium against the chain's vault and supply.
pub async fn premium_quote(
    chain: &dyn Chain,
    config: &Config,
    stk_amount: u64,
) -> Result<PremiumQuote, TxError> {
    let invalid = |e: anchor_lang::error::Error| TxError::Invalid(e.to_string());
    let vault = ops::token_balance(chain, &config.vault).await?;
    let supply = ops::mint_supply(chain, &config.stk_mint).await?;
    let backing = config.backing(vault, supply).map_err(invalid)?;
    let floor_price = backing.floor_price().filter(|&f| f > 0).ok_or_else(|| {
        TxError::Invalid(
            "no floor yet: nothing floats or the vault is empty, so there is no premium price"
                .into(),
        )
    })?;
    let terms = config.premium_terms().map_err(invalid)?;
    let split = economy::premium_split(stk_amount, backing, terms)
        .ok_or_else(|| TxError::Invalid("the amount is too large to price".into()))?;
    Ok(PremiumQuote {
        floor_price,
        premium_bps: config.premium_bps,
        price: u64::try_from(premium_price(floor_price, config.premium_bps)).unwrap_or(u64::MAX),
        vault_share_bps: terms.vault_share_bps,
        paid: split.paid,
        to_vault: split.to_vault,
        to_treasury: split.to_treasury,
    })
}

/// A purchase at the premium: its price and split, and the instructions (`max_quote_in` is the quote
/// plus slippage, or the caller's maximum).
pub struct BuyPremium {
    pub quote: PremiumQuote,
    pub max_quote_in: u64,
    pub ixs: Vec<Instruction>,
}

pub async fn buy_premium(
    chain: &dyn Chain,
    investor: Pubkey,
    stk_amount: u64,
    slippage_bps: u64,
    max_quote_in: Option<u64>,
) -> Result<BuyPremium, TxError> {
    if stk_amount == 0 {
        return Err(TxError::Invalid("amount must be positive".into()));
    }
    if slippage_bps > MAX_SLIPPAGE_BPS {
        return Err(TxError::Invalid("slippage is at most 50%".into()));
    }
    let config = config(chain).await?;
    let quote = premium_quote(chain, &config, stk_amount).await?;
    let max_quote_in = max_quote_in.unwrap_or_else(|| plus_slippage(quote.paid, slippage_bps));
    let investor_quote = get_associated_token_address(&investor, &config.quote_mint);
    let ixs = vec![
        create_ata(&investor, &investor, &config.stk_mint),
        client::buy_premium(
            investor,
            client::stk_ata(&investor),
            investor_quote,
            config.investor_allowlist,
            BuyPremiumArgs {
                stk_amount,
                max_quote_in,
            },
        ),
    ];
    Ok(BuyPremium {
        quote,
        max_quote_in,
        ixs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_rounds_against_the_wallet() {
        assert_eq!(less_slippage(1_000, 100), 990);
        assert_eq!(less_slippage(999, 100), 989);
        assert_eq!(plus_slippage(1_000, 100), 1_010);
        assert_eq!(plus_slippage(999, 100), 1_009);
        assert_eq!(plus_slippage(u64::MAX, 100), u64::MAX);
    }
}
