//! The buyback vault's revenue deposits (tender windows: `tender.rs`; the premium sale and treasury
//! moves: `premium.rs`; access payments: `access.rs`; the emission rule: `inflow.rs`).
use anchor_lang::prelude::Pubkey;
use solana_sdk::{signature::Keypair, signer::Signer};
use stk::{
    client,
    constants::*,
    error::StkError,
    merkle::{Allocation, EpochTree},
};

use crate::harness::*;

/// An env whose `n` members hold `amount` STK each (paid through a real epoch; each wallet has SOL),
/// and whose vault holds `vault` quote (or epoch 0's revenue when that is more). Returns the members'
/// (wallet, STK account).
pub(crate) async fn env_with_members(
    n: usize,
    amount: u64,
    vault: u64,
) -> (Env, Vec<(Keypair, Pubkey)>) {
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
    for (wallet, _) in &members {
        env.airdrop(&wallet.pubkey(), 1_000_000_000).await;
    }
    if vault > 0 {
        let platform = Keypair::new();
        let source = env.fund_quote(&platform.pubkey(), vault).await;
        let ix = client::deposit_revenue(platform.pubkey(), source, vault);
        env.send(&[ix], &[&platform]).await.unwrap();
    }
    (env, members)
}

/// [`env_with_members`] when the members' keys are not needed.
pub(crate) async fn env_with_holders(n: usize, amount: u64, vault: u64) -> Env {
    env_with_members(n, amount, vault).await.0
}

#[tokio::test]
async fn deposit_records_revenue_and_its_period() {
    let mut env = env_with_holders(2, 100 * STK, 30 * USDC).await;
    assert_eq!(env.balance(&client::vault_address()).await, 30 * USDC);
    let config = env.config().await;
    assert_eq!(config.total_revenue_deposited, 30 * USDC);
    // Epoch 0's revenue (200 STK at 0.01 USDC and 50% = 4 USDC) was deposited in period 0; the rest
    // (26 USDC) now, in period 20: the period's inflow, the next tender window's capacity base.
    assert_eq!(config.period_index, 20);
    assert_eq!(config.period_inflow, 26 * USDC);
    assert_eq!(env.allowance(0).await, 200 * STK);
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
