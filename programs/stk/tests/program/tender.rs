//! Pro-rata tender windows (issue 13): announced ahead at a price and capacity by rule, orders
//! escrowed per (window, member), one O(1) settlement, claims that close the order.
use anchor_lang::prelude::Pubkey;
use solana_sdk::{signature::Keypair, signer::Signer};
use stk::{
    client,
    constants::*,
    economy::{buyback_price, window_capacity, Backing},
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::{Order, TenderWindow},
    AnnounceTenderWindowArgs, PlaceOrderArgs,
};

use crate::harness::*;

struct Holder {
    wallet: Keypair,
    stk: Pubkey,
    quote: Pubkey,
}

/// Members holding `amounts` STK (paid through a real epoch); `revenue` deposited in the current
/// period, then the clock moved to the next period (so it is the last period's inflow).
async fn setup(amounts: &[u64], revenue: u64) -> (Env, Vec<Holder>) {
    let mut env = Env::new().await;
    let mut members = Vec::new();
    for _ in amounts {
        let wallet = Keypair::new();
        let stk = env.stk_account(&wallet.pubkey()).await;
        members.push((wallet, stk));
    }
    let mut allocations: Vec<Allocation> = members
        .iter()
        .zip(amounts)
        .map(|((_, stk), amount)| Allocation {
            token_account: *stk,
            amount: *amount,
        })
        .collect();
    allocations.sort_by_key(|a| a.token_account);
    let t = EpochTree::build(0, allocations, MAX_CHUNK_RECIPIENTS).unwrap();
    // Epoch 0's own revenue (the emission rule) is part of `revenue`: the vault ends with `revenue`.
    let funded = env.fund_epoch(0, t.total).await;
    let revenue = revenue
        .checked_sub(funded)
        .expect("revenue covers epoch 0's emission");
    env.finalize(&t).await;
    env.distribute_chunk(&t, 0).await.unwrap();
    let mut holders = Vec::new();
    for (wallet, stk) in members {
        env.airdrop(&wallet.pubkey(), 1_000_000_000).await;
        let quote = env.fund_quote(&wallet.pubkey(), 0).await;
        holders.push(Holder { wallet, stk, quote });
    }
    let platform = Keypair::new();
    let source = env.fund_quote(&platform.pubkey(), revenue).await;
    let ix = client::deposit_revenue(platform.pubkey(), source, revenue);
    env.send(&[ix], &[&platform]).await.unwrap();
    let now = env.now().await;
    env.set_time(now + EPOCH_SECS).await;
    (env, holders)
}

/// The rule price and capacity the program will check, from the chain's state.
async fn rule(env: &mut Env) -> (u64, u64) {
    let config = env.config().await;
    let vault = env.balance(&client::vault_address()).await;
    let supply = env.supply().await;
    let backing = Backing {
        vault: vault - config.tender_reserved,
        floating: supply - config.escrowed_stk,
    };
    let price = buyback_price(backing.floor_price().unwrap(), BUYBACK_SPREAD_BPS).unwrap();
    // The inflow of the last period: everything deposited by `setup`.
    let capacity = window_capacity(
        config.total_revenue_deposited,
        backing.vault,
        WINDOW_MAX_VAULT_BPS,
    )
    .unwrap();
    (price, capacity)
}

async fn announce(env: &mut Env, id: u64, price: u64, capacity: u64) -> TxResult {
    let now = env.now().await;
    let admin = env.admin();
    let ix = client::announce_tender_window(
        admin.pubkey(),
        AnnounceTenderWindowArgs {
            window_id: id,
            price,
            capacity,
            opens_at: now + 60,
            closes_at: now + DAY,
        },
    );
    env.send(&[ix], &[&admin]).await
}

async fn order(env: &mut Env, h: &Holder, id: u64, amount: u64) -> TxResult {
    let ix = client::place_order(
        h.wallet.pubkey(),
        h.stk,
        PlaceOrderArgs {
            window_id: id,
            stk_amount: amount,
        },
    );
    let w = h.wallet.insecure_clone();
    env.send(&[ix], &[&w]).await
}

async fn claim(env: &mut Env, h: &Holder, id: u64) -> TxResult {
    let ix = client::claim_order(h.wallet.pubkey(), h.stk, h.quote, id);
    let w = h.wallet.insecure_clone();
    env.send(&[ix], &[&w]).await
}

async fn settle(env: &mut Env, id: u64) -> TxResult {
    env.send(&[client::settle_window(id)], &[]).await
}

async fn window(env: &mut Env, id: u64) -> TenderWindow {
    env.anchor(&client::window_address(id)).await
}

async fn open_time(env: &mut Env, id: u64) {
    let w = window(env, id).await;
    env.set_time(w.opens_at).await;
}

async fn close_time(env: &mut Env, id: u64) {
    let w = window(env, id).await;
    env.set_time(w.closes_at).await;
}

/// Floor 0.2 USDC (40 USDC behind 200 STK). The admin lowers the price to 0.1; capacity 10 USDC buys
/// 100 STK; orders of 150 and 50 STK (200 requested) are each filled at one half: 75 STK for 7.5 USDC
/// and 25 STK for 2.5 USDC; 75 and 25 STK come back; the filled STK is burned; the orders are closed
/// and their rent returned.
#[tokio::test]
async fn tender_window_fills_every_order_at_one_ratio() {
    let (mut env, h) = setup(&[150 * STK, 50 * STK], 40 * USDC).await;
    let (rule_price, rule_capacity) = rule(&mut env).await;
    assert_eq!((rule_price, rule_capacity), (196_000, 10 * USDC));
    announce(&mut env, 1, 100_000, 10 * USDC).await.unwrap();
    let config = env.config().await;
    assert_eq!(config.tender_reserved, 10 * USDC);
    assert_eq!(config.tender_window_count, 1);

    open_time(&mut env, 1).await;
    order(&mut env, &h[0], 1, 100 * STK).await.unwrap();
    order(&mut env, &h[1], 1, 50 * STK).await.unwrap();
    // A second placement adds to the member's order.
    order(&mut env, &h[0], 1, 50 * STK).await.unwrap();
    let o: Order = env
        .anchor(&client::order_address(1, &h[0].wallet.pubkey()))
        .await;
    assert_eq!(o.amount, 150 * STK);
    assert_eq!(
        env.balance(&client::window_escrow_address(1)).await,
        200 * STK
    );
    assert_eq!(env.config().await.escrowed_stk, 200 * STK);
    assert_eq!(window(&mut env, 1).await.open_orders, 2);

    close_time(&mut env, 1).await;
    settle(&mut env, 1).await.unwrap();
    let w = window(&mut env, 1).await;
    assert!(w.settled);
    assert_eq!((w.requested, w.filled), (200 * STK, 100 * STK));

    let order_key = client::order_address(1, &h[0].wallet.pubkey());
    let rent = env.account(&order_key).await.unwrap().lamports;
    let lamports_before = env.account(&h[0].wallet.pubkey()).await.unwrap().lamports;
    claim(&mut env, &h[0], 1).await.unwrap();
    claim(&mut env, &h[1], 1).await.unwrap();
    assert_eq!(env.balance(&h[0].quote).await, 7_500_000);
    assert_eq!(env.balance(&h[1].quote).await, 2_500_000);
    assert_eq!(env.balance(&h[0].stk).await, 75 * STK);
    assert_eq!(env.balance(&h[1].stk).await, 25 * STK);
    assert_eq!(env.supply().await, 100 * STK);
    assert_eq!(env.balance(&client::vault_address()).await, 30 * USDC);
    assert_eq!(env.balance(&client::window_escrow_address(1)).await, 0);
    // The order account is gone and its rent is back with the member (the fee payer is not the member).
    assert!(env.account(&order_key).await.is_none());
    let lamports_after = env.account(&h[0].wallet.pubkey()).await.unwrap().lamports;
    assert_eq!(lamports_after, lamports_before + rent);
    let config = env.config().await;
    assert_eq!((config.tender_reserved, config.escrowed_stk), (0, 0));
    assert_eq!(config.total_burned_sell_back, 100 * STK);
    assert_eq!(config.total_quote_paid_out, 10 * USDC);
    // The floor rose: 30 USDC behind 100 STK (0.3) against 0.2 before.
    assert_eq!(
        Backing {
            vault: 30 * USDC,
            floating: 100 * STK
        }
        .floor_price(),
        Some(300_000)
    );
}

/// Undersubscribed: every order is filled in full at the rule price; the unused capacity is released.
#[tokio::test]
async fn undersubscribed_window_fills_in_full_and_releases_the_rest() {
    let (mut env, h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
    let (price, capacity) = rule(&mut env).await;
    announce(&mut env, 1, price, capacity).await.unwrap();
    open_time(&mut env, 1).await;
    order(&mut env, &h[0], 1, 10 * STK).await.unwrap();
    close_time(&mut env, 1).await;
    settle(&mut env, 1).await.unwrap();
    // 10 STK at 0.196: 1.96 USDC stays reserved, the rest of the 10 USDC is released.
    assert_eq!(env.config().await.tender_reserved, 1_960_000);
    claim(&mut env, &h[0], 1).await.unwrap();
    assert_eq!(env.balance(&h[0].quote).await, 1_960_000);
    assert_eq!(env.balance(&h[0].stk).await, 90 * STK);
    assert_eq!(env.config().await.tender_reserved, 0);
}

#[tokio::test]
async fn window_price_and_capacity_above_the_rule_are_refused() {
    let (mut env, _h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
    let (price, capacity) = rule(&mut env).await;
    assert_stk(
        announce(&mut env, 1, price + 1, capacity).await,
        StkError::WindowPriceAboveRule,
    );
    assert_stk(
        announce(&mut env, 1, price, capacity + 1).await,
        StkError::WindowCapacityAboveRule,
    );
    // Not announced ahead: opening now is refused.
    let now = env.now().await;
    let admin = env.admin();
    let args = AnnounceTenderWindowArgs {
        window_id: 1,
        price,
        capacity,
        opens_at: now,
        closes_at: now + DAY,
    };
    let ix = client::announce_tender_window(admin.pubkey(), args);
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidWindow);
    // Only the admin announces.
    let intruder = env.payer();
    let ix = client::announce_tender_window(
        intruder.pubkey(),
        AnnounceTenderWindowArgs {
            opens_at: now + 60,
            ..args
        },
    );
    assert_stk(env.send(&[ix], &[&intruder]).await, StkError::Unauthorized);
    // At the rule (or below) it is accepted; a second window in the same period is not.
    announce(&mut env, 1, price, capacity).await.unwrap();
    assert_stk(
        announce(&mut env, 2, price / 2, 1).await,
        StkError::WindowCadence,
    );
    // The next period has no recorded inflow: its rule capacity is 0.
    let now = env.now().await;
    env.set_time(now + EPOCH_SECS).await;
    assert_stk(
        announce(&mut env, 2, 1, 1).await,
        StkError::WindowCapacityAboveRule,
    );
}

#[tokio::test]
async fn settle_and_claim_out_of_order_are_refused() {
    let (mut env, h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
    let (price, capacity) = rule(&mut env).await;
    announce(&mut env, 1, price, capacity).await.unwrap();
    // Before the window opens, no order.
    assert_stk(
        order(&mut env, &h[0], 1, STK).await,
        StkError::WindowNotOpen,
    );
    open_time(&mut env, 1).await;
    order(&mut env, &h[0], 1, 80 * STK).await.unwrap();
    order(&mut env, &h[1], 1, 80 * STK).await.unwrap();
    assert_stk(claim(&mut env, &h[0], 1).await, StkError::WindowNotSettled);
    assert_stk(settle(&mut env, 1).await, StkError::WindowNotClosed);
    close_time(&mut env, 1).await;
    // After the close: no order.
    assert_stk(
        order(&mut env, &h[0], 1, STK).await,
        StkError::WindowNotOpen,
    );
    settle(&mut env, 1).await.unwrap();
    assert_stk(settle(&mut env, 1).await, StkError::WindowAlreadySettled);
    // Claiming someone else's order: member 1 signs with member 0's order account.
    let mut ix = client::claim_order(h[1].wallet.pubkey(), h[1].stk, h[1].quote, 1);
    ix.accounts[3].pubkey = client::order_address(1, &h[0].wallet.pubkey());
    let w = h[1].wallet.insecure_clone();
    assert_code(env.send(&[ix], &[&w]).await, anchor_err::CONSTRAINT_SEEDS);
    claim(&mut env, &h[0], 1).await.unwrap();
    let paid = env.balance(&h[0].quote).await;
    // A second claim finds no order.
    assert_code(
        claim(&mut env, &h[0], 1).await,
        anchor_err::ACCOUNT_NOT_INITIALIZED,
    );
    assert_eq!(env.balance(&h[0].quote).await, paid);
    claim(&mut env, &h[1], 1).await.unwrap();
    // Same order, same fill: ±1 base unit at most (here exactly equal).
    assert_eq!(env.balance(&h[1].quote).await, paid);
    let config = env.config().await;
    assert_eq!((config.tender_reserved, config.escrowed_stk), (0, 0));
}

/// Sending first gives no advantage: the same two orders placed in either order get the same fills.
#[tokio::test]
async fn arrival_order_gives_no_advantage() {
    let mut results = Vec::new();
    for first in [0usize, 1] {
        let (mut env, h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
        let (price, capacity) = rule(&mut env).await;
        announce(&mut env, 1, price, capacity).await.unwrap();
        open_time(&mut env, 1).await;
        let amounts = [90 * STK, 30 * STK];
        let second = 1 - first;
        order(&mut env, &h[first], 1, amounts[first]).await.unwrap();
        order(&mut env, &h[second], 1, amounts[second])
            .await
            .unwrap();
        close_time(&mut env, 1).await;
        settle(&mut env, 1).await.unwrap();
        let mut got = Vec::new();
        for (i, holder) in h.iter().enumerate() {
            claim(&mut env, holder, 1).await.unwrap();
            let quote = env.balance(&holder.quote).await;
            let back = env.balance(&holder.stk).await - (100 * STK - amounts[i]);
            got.push((quote, amounts[i] - back));
        }
        // One ratio for both: filled_i / amount_i equal within one base unit.
        let r0 = got[0].1 as u128 * amounts[1] as u128;
        let r1 = got[1].1 as u128 * amounts[0] as u128;
        assert!(r0.abs_diff(r1) <= amounts[0].max(amounts[1]) as u128);
        results.push(got);
    }
    assert_eq!(results[0], results[1]);
    // Oversubscribed: 120 STK asked against ~51 STK of capacity; both are partly filled.
    assert!(results[0][0].1 < 90 * STK && results[0][1].1 < 30 * STK);
}

/// An attacker who sends lamports to a member's order address first does not block the order; the
/// lamports end with the member when the order is claimed.
#[tokio::test]
async fn prefunded_order_address_is_still_usable() {
    let (mut env, h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
    let (price, capacity) = rule(&mut env).await;
    let key = client::order_address(1, &h[0].wallet.pubkey());
    env.airdrop(&key, 5_000_000).await;
    // The window and escrow addresses too.
    env.airdrop(&client::window_address(1), 1_000_000).await;
    env.airdrop(&client::window_escrow_address(1), 1_000_000)
        .await;
    announce(&mut env, 1, price, capacity).await.unwrap();
    open_time(&mut env, 1).await;
    order(&mut env, &h[0], 1, 10 * STK).await.unwrap();
    let held = env.account(&key).await.unwrap().lamports;
    // The prefund (above the rent-exempt minimum) stays in the order.
    assert!(env.rent_exempt(8 + 49).await < 5_000_000);
    assert_eq!(held, 5_000_000);
    close_time(&mut env, 1).await;
    settle(&mut env, 1).await.unwrap();
    let before = env.account(&h[0].wallet.pubkey()).await.unwrap().lamports;
    claim(&mut env, &h[0], 1).await.unwrap();
    let after = env.account(&h[0].wallet.pubkey()).await.unwrap().lamports;
    assert_eq!(after, before + held);
}

/// The first-come window is retired: tender windows are the only buyback. The old instructions'
/// discriminators reach no handler (Anchor's `InstructionFallbackNotFound`, 101), whoever signs.
#[tokio::test]
async fn the_first_come_window_is_gone() {
    let (mut env, _) = setup(&[100 * STK], 40 * USDC).await;
    let admin = env.admin();
    for name in ["open_buyback_window", "sell_back"] {
        let hash = solana_sdk::hash::hash(format!("global:{name}").as_bytes());
        let mut data = hash.to_bytes()[..8].to_vec();
        data.extend_from_slice(&[0; 32]);
        let ix = solana_sdk::instruction::Instruction {
            program_id: stk::ID,
            accounts: vec![solana_sdk::instruction::AccountMeta::new(
                admin.pubkey(),
                true,
            )],
            data,
        };
        assert_code_named(env.send(&[ix], &[&admin]).await, 101, name);
    }
}

/// The admin may cancel a window before it closes (never raise it): the reservation goes back, the
/// settlement fills nothing, every order comes back whole with its rent.
#[tokio::test]
async fn cancelled_window_returns_every_order_whole() {
    let (mut env, h) = setup(&[100 * STK, 100 * STK], 40 * USDC).await;
    let (price, capacity) = rule(&mut env).await;
    announce(&mut env, 1, price, capacity).await.unwrap();
    open_time(&mut env, 1).await;
    order(&mut env, &h[0], 1, 60 * STK).await.unwrap();
    order(&mut env, &h[1], 1, 20 * STK).await.unwrap();
    let intruder = h[0].wallet.insecure_clone();
    let ix = client::cancel_tender_window(intruder.pubkey(), 1);
    assert_stk(env.send(&[ix], &[&intruder]).await, StkError::Unauthorized);
    let admin = env.admin();
    env.send(
        &[client::cancel_tender_window(admin.pubkey(), 1)],
        &[&admin],
    )
    .await
    .unwrap();
    assert_eq!(env.config().await.tender_reserved, 0);
    close_time(&mut env, 1).await;
    settle(&mut env, 1).await.unwrap();
    assert_eq!(window(&mut env, 1).await.filled, 0);
    // Too late to cancel a settled window.
    assert_stk(
        env.send(
            &[client::cancel_tender_window(admin.pubkey(), 1)],
            &[&admin],
        )
        .await,
        StkError::WindowNotOpen,
    );
    for holder in &h {
        claim(&mut env, holder, 1).await.unwrap();
        assert_eq!(env.balance(&holder.stk).await, 100 * STK);
        assert_eq!(env.balance(&holder.quote).await, 0);
    }
    assert_eq!(env.supply().await, 200 * STK);
    assert_eq!(env.balance(&client::vault_address()).await, 40 * USDC);
    let config = env.config().await;
    assert_eq!((config.tender_reserved, config.escrowed_stk), (0, 0));
}
