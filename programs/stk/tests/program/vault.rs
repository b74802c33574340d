//! Buyback vault (the premium sale and treasury moves: `premium.rs`; access payments: `access.rs`).
use anchor_lang::prelude::Pubkey;
use solana_sdk::{signature::Keypair, signer::Signer};
use stk::{
    client,
    constants::*,
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::Member,
    OpenBuybackWindowArgs, SellBackArgs,
};

use crate::harness::*;

/// Price: 0.25 USDC per STK.
pub(crate) const PRICE: u64 = 250_000;

pub(crate) struct Holder {
    pub wallet: Keypair,
    pub stk: Pubkey,
    pub quote: Pubkey,
}

/// An env whose members hold `amount` STK each (paid through a real epoch) and whose vault holds
/// `vault` quote.
pub(crate) async fn env_with_holders(n: usize, amount: u64, vault: u64) -> (Env, Vec<Holder>) {
    let mut env = Env::new().await;
    let members = env.members(n).await;
    let t = EpochTree::build(
        0,
        members
            .iter()
            .map(|m| Allocation {
                token_account: m.1,
                amount,
            })
            .collect(),
        MAX_CHUNK_RECIPIENTS,
    )
    .unwrap();
    // Epoch 0's own revenue (the emission rule) is part of `vault` when `vault` covers it.
    let funded = env.fund_epoch(0, t.total).await;
    let vault = vault.saturating_sub(funded);
    env.finalize(&t).await;
    env.distribute_chunk(&t, 0).await.unwrap();
    let mut holders = Vec::new();
    for (wallet, stk) in members {
        env.airdrop(&wallet.pubkey(), 1_000_000_000).await;
        let quote = env.fund_quote(&wallet.pubkey(), 0).await;
        holders.push(Holder { wallet, stk, quote });
    }
    if vault > 0 {
        let platform = Keypair::new();
        let source = env.fund_quote(&platform.pubkey(), vault).await;
        let ix = client::deposit_revenue(platform.pubkey(), source, vault);
        env.send(&[ix], &[&platform]).await.unwrap();
    }
    (env, holders)
}

pub(crate) async fn open_window(
    env: &mut Env,
    capacity: u64,
    per_member_cap: u64,
) -> super::harness::TxResult {
    let admin = env.admin();
    let ix = client::open_buyback_window(
        admin.pubkey(),
        OpenBuybackWindowArgs {
            price: PRICE,
            capacity,
            per_member_cap,
            duration_secs: 7 * DAY,
        },
    );
    env.send(&[ix], &[&admin]).await
}

pub(crate) async fn sell(
    env: &mut Env,
    h: &Holder,
    stk_amount: u64,
    min_quote_out: u64,
) -> super::harness::TxResult {
    let ix = client::sell_back(
        h.wallet.pubkey(),
        h.stk,
        h.quote,
        SellBackArgs {
            stk_amount,
            min_quote_out,
        },
    );
    let wallet = h.wallet.insecure_clone();
    env.send(&[ix], &[&wallet]).await
}

#[tokio::test]
async fn deposit_and_sell_back() {
    let (mut env, holders) = env_with_holders(2, 100 * STK, 30 * USDC).await;
    assert_eq!(env.balance(&client::vault_address()).await, 30 * USDC);
    assert_eq!(env.config().await.total_revenue_deposited, 30 * USDC);

    // No window yet.
    assert_stk(
        sell(&mut env, &holders[0], STK, 0).await,
        StkError::WindowClosed,
    );
    open_window(&mut env, 20 * USDC, 15 * USDC).await.unwrap();
    let config = env.config().await;
    assert_eq!(config.window_id, 1);
    assert_eq!(config.buyback_price, PRICE);
    assert_eq!(config.window_capacity, 20 * USDC);

    // 40 STK at 0.25 = 10 USDC.
    sell(&mut env, &holders[0], 40 * STK, 10 * USDC)
        .await
        .unwrap();
    assert_eq!(env.balance(&holders[0].stk).await, 60 * STK);
    assert_eq!(env.balance(&holders[0].quote).await, 10 * USDC);
    assert_eq!(env.balance(&client::vault_address()).await, 20 * USDC);
    assert_eq!(env.supply().await, 160 * STK);
    let member: Member = env
        .anchor(&client::member_address(&holders[0].wallet.pubkey()))
        .await;
    assert_eq!(member.window_used, 10 * USDC);
    assert_eq!(member.total_sold_stk, 40 * STK);
    let config = env.config().await;
    assert_eq!(config.window_used, 10 * USDC);
    assert_eq!(config.total_burned_sell_back, 40 * STK);
    assert_eq!(config.total_quote_paid_out, 10 * USDC);

    // Rounds in favour of the vault: 1 base unit of STK is worth 0.25 base units of quote -> refused.
    assert_stk(
        sell(&mut env, &holders[0], 1, 0).await,
        StkError::ZeroAmount,
    );
    // 3 base units -> 0.75 -> 0 ... 5 -> 1.25 -> 1.
    sell(&mut env, &holders[1], 5, 1).await.unwrap();
    assert_eq!(env.balance(&holders[1].quote).await, 1);
}

#[tokio::test]
async fn sell_back_limits() {
    let (mut env, holders) = env_with_holders(3, 100 * STK, 30 * USDC).await;
    // Capacity above the vault balance is refused at open (so no window can promise more than it holds).
    assert_stk(
        open_window(&mut env, 30 * USDC + 1, USDC).await,
        StkError::CapacityExceedsVault,
    );
    assert_stk(
        open_window(&mut env, u64::MAX, USDC).await,
        StkError::CapacityExceedsVault,
    );
    open_window(&mut env, 12 * USDC, 7 * USDC).await.unwrap();

    // min_quote_out unmet.
    assert_stk(
        sell(&mut env, &holders[0], 4 * STK, USDC + 1).await,
        StkError::SlippageExceeded,
    );
    // Per-member cap: 7 USDC = 28 STK.
    assert_stk(
        sell(&mut env, &holders[0], 29 * STK, 0).await,
        StkError::MemberCapExceeded,
    );
    sell(&mut env, &holders[0], 28 * STK, 0).await.unwrap();
    assert_stk(
        sell(&mut env, &holders[0], 4 * STK, 0).await,
        StkError::MemberCapExceeded,
    );
    // Window capacity: 5 USDC left.
    assert_stk(
        sell(&mut env, &holders[1], 24 * STK, 0).await,
        StkError::WindowCapacityExceeded,
    );
    sell(&mut env, &holders[1], 20 * STK, 0).await.unwrap();
    assert_stk(
        sell(&mut env, &holders[2], 4, 0).await,
        StkError::WindowCapacityExceeded,
    );
    // u64::MAX: checked math, no panic (at 0.25 the quote fits u64 and is refused by the capacity;
    // the overflowing product is covered by math::tests).
    assert_stk(
        sell(&mut env, &holders[2], u64::MAX, 0).await,
        StkError::WindowCapacityExceeded,
    );

    // Vault: 18 USDC left. A new window of 18 USDC; a sale of more than the vault holds is refused.
    open_window(&mut env, 18 * USDC, 100 * USDC).await.unwrap();
    assert_stk(
        sell(&mut env, &holders[2], 100 * STK, 0).await,
        StkError::WindowCapacityExceeded,
    );
    // The window closes.
    let now = env.now().await;
    env.set_time(now + 7 * DAY).await;
    assert_stk(
        sell(&mut env, &holders[2], STK, 0).await,
        StkError::WindowClosed,
    );
    assert_eq!(env.balance(&client::vault_address()).await, 18 * USDC);
}

#[tokio::test]
async fn sell_back_refuses_wrong_accounts_and_pause() {
    let (mut env, holders) = env_with_holders(2, 100 * STK, 30 * USDC).await;
    open_window(&mut env, 20 * USDC, 20 * USDC).await.unwrap();
    let h = &holders[0];
    let args = SellBackArgs {
        stk_amount: STK,
        min_quote_out: 0,
    };

    // The vault replaced by another quote account.
    let mut ix = client::sell_back(h.wallet.pubkey(), h.stk, h.quote, args);
    let vault = client::vault_address();
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == vault)
        .for_each(|m| m.pubkey = holders[1].quote);
    let wallet = h.wallet.insecure_clone();
    assert_stk(env.send(&[ix], &[&wallet]).await, StkError::WrongVault);
    // Paying STK from a quote account.
    let ix = client::sell_back(h.wallet.pubkey(), h.quote, holders[1].quote, args);
    assert_stk(env.send(&[ix], &[&wallet]).await, StkError::WrongMint);
    // Being paid into an STK account.
    let ix = client::sell_back(h.wallet.pubkey(), h.stk, holders[1].stk, args);
    assert_stk(env.send(&[ix], &[&wallet]).await, StkError::WrongMint);
    // The same account as both sides is refused by Anchor (duplicate mutable account, 2040).
    let ix = client::sell_back(h.wallet.pubkey(), h.stk, h.stk, args);
    assert_code(env.send(&[ix], &[&wallet]).await, 2040);
    // The STK mint replaced by the quote mint.
    let mut ix = client::sell_back(h.wallet.pubkey(), h.stk, h.quote, args);
    let mint = client::mint_address();
    let quote_mint = env.quote_mint;
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == mint)
        .for_each(|m| m.pubkey = quote_mint);
    assert_stk(env.send(&[ix], &[&wallet]).await, StkError::WrongMint);

    let admin = env.admin();
    let ix = client::set_paused(admin.pubkey(), PAUSE_BUYBACK);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_stk(sell(&mut env, h, STK, 0).await, StkError::Paused);
}

#[tokio::test]
async fn deposit_refuses_wrong_vault_and_zero() {
    let mut env = Env::new().await;
    let platform = Keypair::new();
    let source = env.fund_quote(&platform.pubkey(), 10 * USDC).await;
    let other = env.fund_quote(&Keypair::new().pubkey(), 0).await;
    let mut ix = client::deposit_revenue(platform.pubkey(), source, USDC);
    let vault = client::vault_address();
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == vault)
        .for_each(|m| m.pubkey = other);
    assert_stk(env.send(&[ix], &[&platform]).await, StkError::WrongVault);
    let ix = client::deposit_revenue(platform.pubkey(), source, 0);
    assert_stk(env.send(&[ix], &[&platform]).await, StkError::ZeroAmount);
}
