//! Buyback vault, premium sale, treasury moves (access payments: `access.rs`).
use anchor_lang::prelude::Pubkey;
use solana_sdk::{signature::Keypair, signer::Signer};
use stk::{
    client,
    constants::*,
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::Member,
    BuyPremiumArgs, OpenBuybackWindowArgs, SellBackArgs,
};

use crate::harness::*;

/// Price: 0.25 USDC per STK.
const PRICE: u64 = 250_000;

struct Holder {
    wallet: Keypair,
    stk: Pubkey,
    quote: Pubkey,
}

/// An env whose members hold `amount` STK each (paid through a real epoch) and whose vault holds
/// `vault` quote.
async fn env_with_holders(n: usize, amount: u64, vault: u64) -> (Env, Vec<Holder>) {
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

async fn open_window(
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

async fn sell(
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

async fn buy(
    env: &mut Env,
    investor: &Keypair,
    listed: bool,
    stk_amount: u64,
    max_quote_in: u64,
) -> super::harness::TxResult {
    let stk = env.stk_account(&investor.pubkey()).await;
    let quote_mint = env.quote_mint;
    let quote = env.ata(&investor.pubkey(), &quote_mint).await;
    let ix = client::buy_premium(
        investor.pubkey(),
        stk,
        quote,
        listed,
        BuyPremiumArgs {
            stk_amount,
            max_quote_in,
        },
    );
    env.send(&[ix], &[investor]).await
}

#[tokio::test]
async fn buy_premium_at_ten_times_the_buyback_price() {
    let (mut env, _) = env_with_holders(1, STK, 10 * USDC).await;
    let investor = Keypair::new();
    env.fund_quote(&investor.pubkey(), 1_000 * USDC).await;
    // No price set yet.
    assert_stk(
        buy(&mut env, &investor, false, STK, u64::MAX).await,
        StkError::PriceNotSet,
    );
    open_window(&mut env, USDC, USDC).await.unwrap();

    // 100 STK at 0.25 × 10 = 250 USDC.
    assert_stk(
        buy(&mut env, &investor, false, 100 * STK, 250 * USDC - 1).await,
        StkError::SlippageExceeded,
    );
    buy(&mut env, &investor, false, 100 * STK, 250 * USDC)
        .await
        .unwrap();
    let stk = client::stk_ata(&investor.pubkey());
    assert_eq!(env.balance(&stk).await, 100 * STK);
    assert_eq!(env.balance(&client::treasury_address()).await, 250 * USDC);
    let config = env.config().await;
    assert_eq!(config.total_premium_minted, 100 * STK);
    assert_eq!(config.total_premium_quote_in, 250 * USDC);
    assert_eq!(
        config.investor_allocation_remaining,
        default_limits().investor_allocation_remaining - 100 * STK
    );
    // Rounds up for the treasury: 1 base unit costs 2.5 -> 3.
    let before = env.balance(&client::treasury_address()).await;
    buy(&mut env, &investor, false, 1, 3).await.unwrap();
    assert_eq!(env.balance(&client::treasury_address()).await, before + 3);

    // Beyond the allocation, u64::MAX, paused.
    let remaining = env.config().await.investor_allocation_remaining;
    assert_stk(
        buy(&mut env, &investor, false, remaining + 1, u64::MAX).await,
        StkError::AllocationExceeded,
    );
    assert_stk(
        buy(&mut env, &investor, false, u64::MAX, u64::MAX).await,
        StkError::AllocationExceeded,
    );
    let admin = env.admin();
    let ix = client::set_paused(admin.pubkey(), PAUSE_SALE);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_stk(
        buy(&mut env, &investor, false, STK, u64::MAX).await,
        StkError::Paused,
    );
}

#[tokio::test]
async fn buy_premium_allowlist_treasury_and_supply() {
    let (mut env, _) = env_with_holders(1, STK, 10 * USDC).await;
    open_window(&mut env, USDC, USDC).await.unwrap();
    let admin = env.admin();
    let mut limits = default_limits();
    limits.investor_allowlist = true;
    limits.max_supply = 1_000 * STK;
    limits.max_emission_per_epoch = 1_000 * STK;
    let ix = client::update_limits(admin.pubkey(), limits);
    env.send(&[ix], &[&admin]).await.unwrap();

    let investor = Keypair::new();
    env.fund_quote(&investor.pubkey(), 10_000 * USDC).await;
    // Not allowlisted: with no entry, and with an entry that is not allowed.
    assert_stk(
        buy(&mut env, &investor, false, STK, u64::MAX).await,
        StkError::NotAllowlisted,
    );
    let ix = client::set_investor(admin.pubkey(), investor.pubkey(), false);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_stk(
        buy(&mut env, &investor, true, STK, u64::MAX).await,
        StkError::NotAllowlisted,
    );
    let ix = client::set_investor(admin.pubkey(), investor.pubkey(), true);
    env.send(&[ix], &[&admin]).await.unwrap();
    buy(&mut env, &investor, true, STK, u64::MAX).await.unwrap();

    // Wrong treasury.
    let stk = client::stk_ata(&investor.pubkey());
    let quote_mint = env.quote_mint;
    let quote = env.ata(&investor.pubkey(), &quote_mint).await;
    let mut ix = client::buy_premium(
        investor.pubkey(),
        stk,
        quote,
        true,
        BuyPremiumArgs {
            stk_amount: STK,
            max_quote_in: u64::MAX,
        },
    );
    let treasury = client::treasury_address();
    let vault = client::vault_address();
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == treasury)
        .for_each(|m| m.pubkey = vault);
    assert_stk(env.send(&[ix], &[&investor]).await, StkError::WrongTreasury);

    // max_supply: supply is 2 STK, the cap 1,000 STK.
    assert_stk(
        buy(&mut env, &investor, true, 999 * STK, u64::MAX).await,
        StkError::MaxSupplyExceeded,
    );
    buy(&mut env, &investor, true, 998 * STK, u64::MAX)
        .await
        .unwrap();
    assert_eq!(env.supply().await, 1_000 * STK);
}

#[tokio::test]
async fn treasury_withdrawal_and_vault_funding() {
    let (mut env, _) = env_with_holders(1, STK, 0).await;
    open_window_with_price_only(&mut env).await;
    let investor = Keypair::new();
    env.fund_quote(&investor.pubkey(), 1_000 * USDC).await;
    buy(&mut env, &investor, false, 100 * STK, u64::MAX)
        .await
        .unwrap();
    assert_eq!(env.balance(&client::treasury_address()).await, 250 * USDC);

    let admin = env.admin();
    let ix = client::fund_vault_from_treasury(admin.pubkey(), 200 * USDC);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_eq!(env.balance(&client::vault_address()).await, 200 * USDC + 1);
    let ops = env.fund_quote(&admin.pubkey(), 0).await;
    let ix = client::withdraw_treasury(admin.pubkey(), ops, 50 * USDC);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_eq!(env.balance(&ops).await, 50 * USDC);
    assert_eq!(env.balance(&client::treasury_address()).await, 0);

    let ix = client::withdraw_treasury(admin.pubkey(), ops, 1);
    assert_stk(
        env.send(&[ix], &[&admin]).await,
        StkError::InsufficientTreasury,
    );
    let ix = client::fund_vault_from_treasury(admin.pubkey(), u64::MAX);
    assert_stk(
        env.send(&[ix], &[&admin]).await,
        StkError::InsufficientTreasury,
    );
}

/// Sets the buyback price with a minimal window backed by a 1-unit vault deposit.
async fn open_window_with_price_only(env: &mut Env) {
    let platform = Keypair::new();
    let source = env.fund_quote(&platform.pubkey(), 1).await;
    let ix = client::deposit_revenue(platform.pubkey(), source, 1);
    env.send(&[ix], &[&platform]).await.unwrap();
    open_window(env, 1, 1).await.unwrap();
}

#[tokio::test]
async fn the_premium_price_is_never_below_the_buyback_price() {
    let (mut env, holders) = env_with_holders(1, 100 * STK, 100 * USDC).await;
    let admin = env.admin();
    let at = |premium_bps| {
        client::update_limits(
            admin.pubkey(),
            stk::Limits {
                premium_bps,
                ..default_limits()
            },
        )
    };
    // Exactly 1x: buying and selling straight back gains nothing (rounding favours the program).
    env.send(&[at(MIN_PREMIUM_BPS)], &[&admin]).await.unwrap();
    open_window(&mut env, 50 * USDC, 50 * USDC).await.unwrap();
    let investor = Keypair::new();
    env.airdrop(&investor.pubkey(), 1_000_000_000).await;
    let quote = env.fund_quote(&investor.pubkey(), 10 * USDC).await;
    for stk_amount in [4 * STK, 5] {
        buy(&mut env, &investor, false, stk_amount, u64::MAX)
            .await
            .unwrap();
        let h = Holder {
            wallet: investor.insecure_clone(),
            stk: client::stk_ata(&investor.pubkey()),
            quote,
        };
        sell(&mut env, &h, stk_amount, 0).await.unwrap();
    }
    // 4 STK: paid 1 USDC, got 1 USDC back; 5 base units: paid 2 (1.25 up), got 1 (1.25 down).
    assert_eq!(env.balance(&quote).await, 10 * USDC - 1);

    // A config stored below 1x (by an earlier program version): no window may open at any price over
    // it, and no premium sale happens, until the admin raises the premium to at least 1x.
    env.overwrite_config(|c| c.premium_bps = MIN_PREMIUM_BPS - 1)
        .await;
    assert_stk(
        open_window(&mut env, 50 * USDC, 50 * USDC).await,
        StkError::PremiumBelowBuyback,
    );
    assert_stk(
        buy(&mut env, &investor, false, 4 * STK, u64::MAX).await,
        StkError::PremiumBelowOneX,
    );
    // The holders still sell back in the window already open.
    sell(&mut env, &holders[0], 4 * STK, USDC).await.unwrap();
    assert_stk(
        env.send(&[at(MIN_PREMIUM_BPS - 1)], &[&admin]).await,
        StkError::PremiumBelowOneX,
    );
    env.send(&[at(MIN_PREMIUM_BPS)], &[&admin]).await.unwrap();
    open_window(&mut env, 50 * USDC, 50 * USDC).await.unwrap();
    buy(&mut env, &investor, false, 4 * STK, USDC)
        .await
        .unwrap();
}
