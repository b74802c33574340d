//! The emission rule (issue 13, part 4): an epoch's emission, valued at the floor, is bounded by
//! `emission_inflow_bps` of its own revenue period's vault inflow — enforced at attestation.
use anchor_lang::prelude::Pubkey;
use solana_sdk::signer::Signer;
use stk::{
    client,
    constants::MAX_CHUNK_RECIPIENTS,
    economy::Backing,
    error::StkError,
    merkle::{Allocation, EpochTree},
};

use crate::harness::*;

/// A tree paying exactly `total` to `accounts` (the remainder to the first one).
fn exact_tree(epoch: u64, accounts: &[Pubkey], total: u64) -> EpochTree {
    let n = accounts.len() as u64;
    let allocations = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| Allocation {
            token_account: *a,
            amount: total / n + if i == 0 { total % n } else { 0 },
        })
        .collect();
    EpochTree::build(epoch, allocations, MAX_CHUNK_RECIPIENTS).unwrap()
}

async fn backing(env: &mut Env) -> Backing {
    let config = env.config().await;
    let vault = env.balance(&client::vault_address()).await;
    let supply = env.supply().await;
    config.backing(vault, supply).unwrap()
}

async fn attest_both(env: &mut Env, t: &EpochTree) -> TxResult {
    let args = attest_args(t);
    env.attest_unfunded(0, &args).await?;
    env.attest_unfunded(1, &args).await
}

#[tokio::test]
async fn emission_above_the_inflow_bound_is_refused() {
    let mut env = Env::new().await;
    let members = env.members(4).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();

    // No revenue was ever deposited: there is no ledger, and no epoch may mint anything.
    let t = exact_tree(2, &accounts, 4 * STK);
    assert_stk(
        env.attest_unfunded(0, &attest_args(&t)).await,
        StkError::EmissionAboveInflow,
    );

    // 100 USDC in epoch 2's period, no floor yet: valued at the genesis price (0.01 USDC per STK),
    // 50% of it allows 100 × 0.5 / 0.01 = 5,000 STK.
    env.deposit_in_epoch(2, 100 * USDC).await;
    assert_eq!(env.allowance(2).await, 5_000 * STK);
    // Revenue of a later period does not count for epoch 2.
    env.deposit_in_epoch(3, 1_000 * USDC).await;
    assert_eq!(env.allowance(2).await, 5_000 * STK);
    assert_eq!(env.allowance(3).await, 50_000 * STK);
    assert_eq!(env.allowance(4).await, 0);

    // One base unit above the allowance is refused, the allowance itself is accepted.
    let over = exact_tree(2, &accounts, 5_000 * STK + 1);
    assert_stk(
        env.attest_unfunded(0, &attest_args(&over)).await,
        StkError::EmissionAboveInflow,
    );
    let t = exact_tree(2, &accounts, 5_000 * STK);
    attest_both(&mut env, &t).await.unwrap();
    env.distribute_chunk(&t, 0).await.unwrap();
    assert_eq!(env.supply().await, 5_000 * STK);

    // An epoch without inflow of its own mints nothing, whatever the vault holds.
    let t4 = exact_tree(4, &accounts, 4);
    assert_stk(
        attest_both(&mut env, &t4).await,
        StkError::EmissionAboveInflow,
    );

    // Now there is a floor: 1,100 USDC behind 5,000 STK = 0.22 USDC per STK. 110 USDC in epoch 5's
    // period allows 110 × 0.5 / 0.22 = 250 STK.
    let before = backing(&mut env).await;
    assert_eq!(
        before,
        Backing {
            vault: 1_100 * USDC,
            floating: 5_000 * STK
        }
    );
    env.deposit_in_epoch(5, 110 * USDC).await;
    assert_eq!(env.allowance(5).await, 250 * STK);
    let over = exact_tree(5, &accounts, 250 * STK + 1);
    assert_stk(
        attest_both(&mut env, &over).await,
        StkError::EmissionAboveInflow,
    );
    let t5 = exact_tree(5, &accounts, 250 * STK);
    attest_both(&mut env, &t5).await.unwrap();
    env.distribute_chunk(&t5, 0).await.unwrap();
    // The floor after the inflow and the emission (1,210 / 5,250) is not below the floor before.
    let after = backing(&mut env).await;
    assert_eq!(
        after,
        Backing {
            vault: 1_210 * USDC,
            floating: 5_250 * STK
        }
    );
    assert!(after.floor_at_least(&before));
}

#[tokio::test]
async fn the_emission_rule_is_validated_and_governed() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let mut limits = default_limits();
    limits.emission_inflow_bps = 10_001;
    assert_stk(
        env.send(&[client::update_limits(admin.pubkey(), limits)], &[&admin])
            .await,
        StkError::InvalidLimits,
    );
    let mut limits = default_limits();
    limits.genesis_price = 0;
    assert_stk(
        env.send(&[client::update_limits(admin.pubkey(), limits)], &[&admin])
            .await,
        StkError::InvalidLimits,
    );
    // A lower share lowers what the same inflow allows: 25% of 100 USDC at 0.01 = 2,500 STK.
    let mut limits = default_limits();
    limits.emission_inflow_bps = 2_500;
    env.send(&[client::update_limits(admin.pubkey(), limits)], &[&admin])
        .await
        .unwrap();
    env.deposit_in_epoch(1, 100 * USDC).await;
    assert_eq!(env.allowance(1).await, 2_500 * STK);
    // A share of 0 stops emission altogether.
    let mut limits = default_limits();
    limits.emission_inflow_bps = 0;
    env.send(&[client::update_limits(admin.pubkey(), limits)], &[&admin])
        .await
        .unwrap();
    env.deposit_in_epoch(2, 100 * USDC).await;
    assert_eq!(env.allowance(2).await, 0);
}
