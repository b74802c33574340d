//! Member and investor commands on any cluster: `balance`, the tender orders, `buy-premium`, `pay-access`
//! (see `cluster.rs` for the flags).
use anchor_spl::associated_token::get_associated_token_address;
use anyhow::{anyhow, bail, Context};
use serde_json::json;
use solana_sdk::pubkey::Pubkey;
use stk::{client, constants::STK_DECIMALS};

use super::cluster::{fmt_amount, parse_amount, parse_percent_bps, Session};

/// `balance [WALLET]`: SOL, STK and quote of a wallet, and what it paid for access.
pub(super) async fn balance(
    s: &Session,
    wallet: Option<Pubkey>,
    as_json: bool,
) -> anyhow::Result<()> {
    let wallet = match wallet {
        Some(w) => w,
        None => s.signer()?,
    };
    let config = s.config().await?;
    let decimals = s.mint_decimals(&config.quote_mint).await?;
    let sol = s.account(&wallet).await?.map_or(0, |a| a.lamports);
    let stk_account = client::stk_ata(&wallet);
    let quote_account = get_associated_token_address(&wallet, &config.quote_mint);
    let stk = s.token_balance(&stk_account).await?;
    let quote = s.token_balance(&quote_account).await?;
    let member: Option<stk::state::Member> =
        crate::chain::ops::anchor_account(s.chain.as_ref(), &client::member_address(&wallet))
            .await
            .context("reading the member account")?;
    let (sold, received, access) = member.as_ref().map_or((0, 0, 0), |m| {
        (
            m.total_sold_stk,
            m.total_quote_received,
            m.total_access_paid,
        )
    });
    if as_json {
        let value = json!({
            "wallet": wallet.to_string(),
            "lamports": sol,
            "stk": { "account": stk_account.to_string(), "amount": stk },
            "quote": { "account": quote_account.to_string(), "mint": config.quote_mint.to_string(), "amount": quote, "decimals": decimals },
            "total_sold_stk": sold,
            "total_quote_received": received,
            "total_access_paid": access,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("wallet  {wallet}");
    println!("SOL     {}", fmt_amount(sol, 9));
    println!("STK     {} ({stk_account})", fmt_amount(stk, STK_DECIMALS));
    println!("quote   {} ({quote_account})", fmt_amount(quote, decimals));
    if member.is_some() {
        println!(
            "sold back {} STK for {} quote; paid {} STK for access",
            fmt_amount(sold, STK_DECIMALS),
            fmt_amount(received, decimals),
            fmt_amount(access, STK_DECIMALS)
        );
    }
    Ok(())
}

/// The window a tender command is about: `--window`, or the last announced one.
async fn window_id(s: &Session, window: Option<u64>) -> anyhow::Result<u64> {
    match window {
        Some(w) => Ok(w),
        None => {
            let config = s.config().await?;
            if config.tender_window_count == 0 {
                bail!("no tender window has been announced yet");
            }
            Ok(config.tender_window_count)
        }
    }
}

fn tx_error(e: crate::member_tx::TxError) -> anyhow::Error {
    anyhow!("{e}")
}

/// `place-order AMOUNT [--window N]`: escrows STK in the member's order of a tender window.
pub(super) async fn place_order(
    s: &Session,
    amount: &str,
    window: Option<u64>,
) -> anyhow::Result<()> {
    let me = s.signer()?;
    let id = window_id(s, window).await?;
    let config = s.config().await?;
    let decimals = s.mint_decimals(&config.quote_mint).await?;
    let stk_amount = parse_amount(amount, STK_DECIMALS)?;
    let chain = s.chain.as_ref();
    let w = crate::member_tx::tender_window(chain, id)
        .await
        .map_err(tx_error)?
        .ok_or_else(|| anyhow!("no tender window #{id}"))?;
    let member_stk = client::stk_ata(&me);
    let held = s.token_balance(&member_stk).await?;
    if held < stk_amount {
        bail!(
            "insufficient funds: {me} holds {} STK, cannot offer {}",
            fmt_amount(held, STK_DECIMALS),
            fmt_amount(stk_amount, STK_DECIMALS)
        );
    }
    let ixs = crate::member_tx::place_order(chain, me, id, stk_amount)
        .await
        .map_err(tx_error)?;
    let summary = vec![
        format!(
            "tender window #{id}: price {} quote per STK, capacity {} quote, orders from {} to {}",
            fmt_amount(w.price, decimals),
            fmt_amount(w.capacity, decimals),
            w.opens_at,
            w.closes_at
        ),
        format!(
            "offer {} STK (you hold {}); {} STK requested so far; every order is filled at the same ratio",
            fmt_amount(stk_amount, STK_DECIMALS),
            fmt_amount(held, STK_DECIMALS),
            fmt_amount(w.requested, STK_DECIMALS)
        ),
        format!("expected: {member_stk} -{stk_amount} STK units (escrowed until your claim)"),
    ];
    s.execute("place order", &ixs, &summary, true).await?;
    Ok(())
}

/// `settle-window [--window N]`: anyone settles a closed window once.
pub(super) async fn settle_window(s: &Session, window: Option<u64>) -> anyhow::Result<()> {
    let id = window_id(s, window).await?;
    let w = crate::member_tx::tender_window(s.chain.as_ref(), id)
        .await
        .map_err(tx_error)?
        .ok_or_else(|| anyhow!("no tender window #{id}"))?;
    let fill = stk::economy::settle_window(w.capacity, w.price, w.requested)
        .ok_or_else(|| anyhow!("window #{id} has no price"))?;
    let summary = vec![format!(
        "settle tender window #{id}: {} STK requested, {} STK filled (ratio {:.6})",
        fmt_amount(w.requested, STK_DECIMALS),
        fmt_amount(fill.filled, STK_DECIMALS),
        if w.requested == 0 {
            1.0
        } else {
            fill.filled as f64 / w.requested as f64
        }
    )];
    s.execute(
        "settle window",
        &[client::settle_window(id)],
        &summary,
        true,
    )
    .await?;
    Ok(())
}

/// `claim-order [--window N]`: the member's claim of a settled window.
pub(super) async fn claim_order(s: &Session, window: Option<u64>) -> anyhow::Result<()> {
    let me = s.signer()?;
    let id = window_id(s, window).await?;
    let config = s.config().await?;
    let decimals = s.mint_decimals(&config.quote_mint).await?;
    let c = crate::member_tx::claim_order(s.chain.as_ref(), me, id)
        .await
        .map_err(tx_error)?;
    let summary = vec![format!(
        "claim window #{id}: {} STK filled (burned) for {} quote, {} STK back, the order's rent back",
        fmt_amount(c.claim.filled_stk, STK_DECIMALS),
        fmt_amount(c.claim.quote, decimals),
        fmt_amount(c.claim.returned_stk, STK_DECIMALS)
    )];
    s.execute("claim order", &c.ixs, &summary, true).await?;
    Ok(())
}

/// `buy-premium AMOUNT [--slippage PCT]`: buys new STK at the premium multiple of the floor; shows the
/// floor, the price and the split between the vault and the treasury, then pays at most the price plus
/// the slippage (`max_quote_in`).
pub(super) async fn buy_premium(s: &Session, amount: &str, slippage: &str) -> anyhow::Result<()> {
    let me = s.signer()?;
    let config = s.config().await?;
    let decimals = s.mint_decimals(&config.quote_mint).await?;
    let stk_amount = parse_amount(amount, STK_DECIMALS)?;
    let bps = parse_percent_bps(slippage)?;
    let b = crate::member_tx::buy_premium(s.chain.as_ref(), me, stk_amount, bps, None)
        .await
        .map_err(tx_error)?;
    let p = b.quote;
    let investor_stk = client::stk_ata(&me);
    let investor_quote = get_associated_token_address(&me, &config.quote_mint);
    let held = s.token_balance(&investor_quote).await?;
    let q = |v: u64| fmt_amount(v, decimals);
    let summary = vec![
        format!("floor {} quote per STK (the vault behind the floating STK)", q(p.floor_price)),
        format!(
            "premium price {} quote per STK ({} bps of the floor)",
            q(p.price),
            p.premium_bps
        ),
        format!(
            "buy {} STK for {} quote: {} to the vault ({} bps share, the floor does not fall), {} to the treasury",
            fmt_amount(stk_amount, STK_DECIMALS),
            q(p.paid),
            q(p.to_vault),
            p.vault_share_bps,
            q(p.to_treasury)
        ),
        format!(
            "you hold {} quote; at most {} with {slippage}% slippage",
            q(held),
            q(b.max_quote_in)
        ),
        format!(
            "expected: {investor_quote} -{} quote units, {} +{} (vault), {} +{} (treasury), {investor_stk} +{stk_amount} STK units (minted)",
            p.paid,
            config.vault,
            p.to_vault,
            config.treasury,
            p.to_treasury
        ),
    ];
    if config.investor_allowlist && s.account(&client::investor_address(&me)).await?.is_none() {
        bail!("the investor allowlist is on and {me} is not on it (admin: `stk-indexer admin set-investor {me}`)");
    }
    if held < b.max_quote_in {
        bail!(
            "insufficient funds: {me} holds {} quote, the purchase may cost up to {}",
            q(held),
            q(b.max_quote_in)
        );
    }
    s.execute("buy at the premium", &b.ixs, &summary, true)
        .await?;
    Ok(())
}

/// The 32-byte payment reference: 64 hex digits as given, or the SHA-256 of the text.
pub fn reference_bytes(text: &str) -> [u8; 32] {
    crate::member_tx::reference_bytes(text)
}

/// `pay-access --plan ID --reference REF [--slippage PCT]`: shows the plan and its price at the
/// floor, then burns it (at most the price plus the slippage: the floor may move before it lands).
pub(super) async fn pay_access(
    s: &Session,
    plan_id: u32,
    reference: &str,
    slippage: &str,
) -> anyhow::Result<()> {
    let me = s.signer()?;
    let config = s.config().await?;
    let decimals = s.mint_decimals(&config.quote_mint).await?;
    let bps = parse_percent_bps(slippage)?;
    let reference = reference_bytes(reference);
    let p = crate::member_tx::pay_access(s.chain.as_ref(), me, plan_id, bps, reference)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let floor = crate::member_tx::floor_price(s.chain.as_ref())
        .await
        .map_err(|e| anyhow!("{e}"))?
        .unwrap_or(0);
    let member_stk = client::stk_ata(&me);
    let held = s.token_balance(&member_stk).await?;
    let summary = vec![
        format!(
            "plan {plan_id}: {} days of access, fiat price {} quote, {}% off in STK",
            p.plan.days,
            fmt_amount(p.plan.fiat_price, decimals),
            fmt_amount(u64::from(p.plan.discount_bps), 2)
        ),
        format!(
            "price {} STK at the floor {} quote per STK; at most {} with {slippage}% slippage",
            fmt_amount(p.price, STK_DECIMALS),
            fmt_amount(floor, decimals),
            fmt_amount(p.max_stk_in, STK_DECIMALS)
        ),
        format!(
            "you hold {} STK; reference {}",
            fmt_amount(held, STK_DECIMALS),
            hex::encode(reference)
        ),
        format!("expected: {member_stk} -{} STK units (burned)", p.price),
    ];
    if held < p.price {
        bail!(
            "insufficient funds: {me} holds {} STK, plan {plan_id} costs {}",
            fmt_amount(held, STK_DECIMALS),
            fmt_amount(p.price, STK_DECIMALS)
        );
    }
    s.execute("pay for access", &p.ixs, &summary, true).await?;
    Ok(())
}
