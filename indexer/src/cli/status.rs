//! `stk-indexer admin status` and `admin plans`: the program's state on a cluster (need no keypair),
//! pretty or JSON.
use anyhow::{anyhow, Context};
use serde_json::json;
use solana_sdk::pubkey::Pubkey;
use stk::constants::STK_DECIMALS;

use super::admin::flows_text;
use super::cluster::{fmt_amount, Session};
use crate::chain::{ops, Chain};

pub(super) async fn status(s: &Session, as_json: bool) -> anyhow::Result<()> {
    let c = s.config().await?;
    let now = s
        .chain
        .unix_time()
        .await
        .context("reading the cluster clock")?;
    let supply = crate::chain::ops::mint_supply(s.chain.as_ref(), &c.stk_mint)
        .await
        .context("reading the STK supply")?;
    let decimals = s.mint_decimals(&c.quote_mint).await?;
    let vault = s.token_balance(&c.vault).await?;
    let treasury = s.token_balance(&c.treasury).await?;
    let current_epoch = if now >= c.genesis_ts && c.epoch_duration > 0 {
        Some((now - c.genesis_ts) / c.epoch_duration)
    } else {
        None
    };
    let window_open = c.window_closes_at > now;
    let oracles: Vec<String> = c.oracles[..usize::from(c.oracle_count).min(c.oracles.len())]
        .iter()
        .map(ToString::to_string)
        .collect();
    let chain = s.chain.as_ref();
    // The emission rule: what the running epoch and the next one to attest may mint.
    let allowance = |e: u64| ops::emission_allowance(chain, &c, e);
    let current_allowance = match current_epoch {
        Some(e) => Some(
            allowance(e as u64)
                .await
                .context("reading the inflow ledger")?,
        ),
        None => None,
    };
    let next_allowance = allowance(c.next_epoch)
        .await
        .context("reading the inflow ledger")?;
    // Tender windows: the rule for the next one and the last one announced.
    let rule = crate::member_tx::tender_rule(chain).await;
    let last_window = if c.tender_window_count > 0 {
        crate::member_tx::tender_window(chain, c.tender_window_count)
            .await
            .context("reading the last tender window")?
    } else {
        None
    };
    let emission_rule = json!({
        "inflow_bps": c.emission_inflow_bps,
        "genesis_price": c.genesis_price,
        "current_epoch_allowance": current_allowance,
        "next_to_attest_allowance": next_allowance,
    });
    let tender = json!({
        "windows_announced": c.tender_window_count,
        "reserved_quote": c.tender_reserved,
        "escrowed_stk": c.escrowed_stk,
        "rule": rule.as_ref().ok().map(|r| json!({
            "next_window_id": r.window_id,
            "floor_price": r.floor_price,
            "max_price": r.price,
            "max_capacity": r.capacity,
            "last_period_inflow": r.last_period_inflow,
            "announced_this_period": r.announced_this_period,
        })),
        "rule_unavailable": rule.as_ref().err().map(ToString::to_string),
        "last_window": last_window.as_ref().map(|w| json!({
            "id": w.id,
            "price": w.price,
            "capacity": w.capacity,
            "opens_at": w.opens_at,
            "closes_at": w.closes_at,
            "requested": w.requested,
            "filled": w.filled,
            "paid_out": w.paid_out,
            "open_orders": w.open_orders,
            "settled": w.settled,
        })),
    });
    let value = json!({
        "url": s.url,
        "program": stk::ID.to_string(),
        "admin": c.admin.to_string(),
        "pending_admin": (c.pending_admin != Pubkey::default()).then(|| c.pending_admin.to_string()),
        "oracles": oracles,
        "threshold": c.threshold,
        "config_version": c.config_version,
        "paused": flows_text(c.paused),
        "paused_mask": c.paused,
        "stk_mint": c.stk_mint.to_string(),
        "stk_supply": supply,
        "max_supply": c.max_supply,
        "quote_mint": c.quote_mint.to_string(),
        "quote_decimals": decimals,
        "genesis_ts": c.genesis_ts,
        "epoch_duration": c.epoch_duration,
        "chain_time": now,
        "current_epoch": current_epoch,
        "next_epoch_to_attest": c.next_epoch,
        "max_emission_per_epoch": c.max_emission_per_epoch,
        "rate_window_secs": c.mint_rate.window_secs,
        "rate_threshold": c.mint_rate.threshold,
        "premium_bps": c.premium_bps,
        "investor_allocation_remaining": c.investor_allocation_remaining,
        "investor_allowlist": c.investor_allowlist,
        "vault": { "address": c.vault.to_string(), "balance": vault },
        "treasury": { "address": c.treasury.to_string(), "balance": treasury },
        "window": {
            "id": c.window_id,
            "open": window_open,
            "closes_at": c.window_closes_at,
            "price": c.buyback_price,
            "capacity": c.window_capacity,
            "used": c.window_used,
            "per_member_cap": c.window_member_cap,
        },
        "emission_rule": emission_rule,
        "tender": tender,
        "totals": {
            "distributed": c.total_distributed,
            "premium_minted": c.total_premium_minted,
            "burned_sell_back": c.total_burned_sell_back,
            "burned_access": c.total_burned_access,
            "revenue_deposited": c.total_revenue_deposited,
            "quote_paid_out": c.total_quote_paid_out,
            "premium_quote_in": c.total_premium_quote_in,
            "premium_to_vault": c.total_premium_to_vault,
        },
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let q = |v: u64| fmt_amount(v, decimals);
    let t = |v: u64| fmt_amount(v, STK_DECIMALS);
    println!("STK program {} on {}", stk::ID, s.url);
    println!("admin            {}", c.admin);
    if c.pending_admin != Pubkey::default() {
        println!("pending admin    {}", c.pending_admin);
    }
    println!(
        "oracles          {} of {}: {}",
        c.threshold,
        oracles.len(),
        oracles.join(", ")
    );
    println!("config version   {}", c.config_version);
    println!("paused           {}", flows_text(c.paused));
    println!(
        "STK supply       {} of max {} (mint {})",
        t(supply),
        t(c.max_supply),
        c.stk_mint
    );
    match current_epoch {
        Some(e) => println!(
            "epochs           current {e}, next to attest {} ({} s each, genesis {})",
            c.next_epoch, c.epoch_duration, c.genesis_ts
        ),
        None => println!(
            "epochs           epoch 0 starts at {} (chain time {now})",
            c.genesis_ts
        ),
    }
    println!(
        "emission limits  {} STK per epoch, {} STK per {} s window",
        t(c.max_emission_per_epoch),
        t(c.mint_rate.threshold),
        c.mint_rate.window_secs
    );
    println!(
        "premium          {} bps of the floor, investor allocation left {} STK, allowlist {}",
        c.premium_bps,
        t(c.investor_allocation_remaining),
        c.investor_allowlist
    );
    println!("vault            {} quote ({})", q(vault), c.vault);
    println!("treasury         {} quote ({})", q(treasury), c.treasury);
    if window_open {
        println!(
            "window           #{} open until {} ({} s left): price {} quote/STK, paid {} of {} quote, {} quote per member",
            c.window_id, c.window_closes_at, c.window_closes_at - now, q(c.buyback_price), q(c.window_used), q(c.window_capacity), q(c.window_member_cap)
        );
    } else {
        println!(
            "window           closed (last #{}, price {} quote/STK)",
            c.window_id,
            q(c.buyback_price)
        );
    }
    println!(
        "emission rule    an epoch mints at most {} bps of its period's inflow valued at the floor (genesis price {} quote/STK); next to attest (#{}) may mint {} STK{}",
        c.emission_inflow_bps,
        q(c.genesis_price),
        c.next_epoch,
        t(next_allowance),
        match (current_epoch, current_allowance) {
            (Some(e), Some(a)) => format!(", the running epoch #{e} has earned {} STK so far", t(a)),
            _ => String::new(),
        }
    );
    match &rule {
        Ok(r) => println!(
            "tender rule      floor {} quote/STK; next window #{} at most {} quote/STK and {} quote{}",
            q(r.floor_price),
            r.window_id,
            q(r.price),
            q(r.capacity),
            if r.announced_this_period {
                " (one was already announced this period)"
            } else {
                ""
            }
        ),
        Err(e) => println!("tender rule      {e}"),
    }
    match &last_window {
        Some(w) => {
            let state = if w.settled {
                format!(
                    "settled: filled {} of {} STK requested, paid {} quote, {} orders to claim",
                    t(w.filled),
                    t(w.requested),
                    q(w.paid_out),
                    w.open_orders
                )
            } else if now < w.opens_at {
                format!("announced, opens in {} s", w.opens_at - now)
            } else if now < w.closes_at {
                format!(
                    "open for {} s more: {} STK requested in {} orders",
                    w.closes_at - now,
                    t(w.requested),
                    w.open_orders
                )
            } else {
                format!(
                    "closed, waiting to be settled: {} STK requested",
                    t(w.requested)
                )
            };
            println!(
                "tender window    #{}: {} quote/STK, capacity {} quote, {state}",
                w.id,
                q(w.price),
                q(w.capacity)
            );
        }
        None => println!("tender window    none announced yet"),
    }
    Ok(())
}

/// `admin plans`: the access plans on chain and their STK prices at the floor.
pub(super) async fn plans(s: &Session, as_json: bool) -> anyhow::Result<()> {
    let list = crate::member_tx::plans(s.chain.as_ref())
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let q = |v: u64| fmt_amount(v, list.quote_decimals);
    match list.floor_price {
        Some(f) => println!("floor {} quote per STK", q(f)),
        None => println!("no floor yet (nothing floats or the vault is empty)"),
    }
    if list.plans.is_empty() {
        println!("no plans (admin: `stk-indexer admin set-plan --id 1 --period-days 30 --fiat-price 10 --discount-bps 2000`)");
    }
    for p in &list.plans {
        println!(
            "plan {}: {} days, fiat {} quote, {}% off, {} STK{}",
            p.id,
            p.days,
            q(p.fiat_price),
            fmt_amount(u64::from(p.discount_bps), 2),
            p.price
                .map_or_else(|| "-".into(), |v| fmt_amount(v, STK_DECIMALS)),
            if p.active { "" } else { " (inactive)" }
        );
    }
    Ok(())
}
