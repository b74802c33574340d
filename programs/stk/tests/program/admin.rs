//! initialize and the admin-only instructions.
use anchor_lang::prelude::{AccountMeta, Pubkey};
use anchor_spl::token::spl_token;
use solana_sdk::{program_pack::Pack, signature::Keypair, signer::Signer};
use stk::{client, constants::*, error::StkError, state::Investor};

use crate::harness::*;

#[tokio::test]
async fn initialize_sets_up_mint_vault_treasury_and_config() {
    let mut env = Env::new().await;
    let config = env.config().await;
    assert_eq!(config.admin, env.admin.pubkey());
    assert_eq!(config.pending_admin, Pubkey::default());
    assert_eq!(config.stk_mint, client::mint_address());
    assert_eq!(config.quote_mint, env.quote_mint);
    assert_eq!(config.vault, client::vault_address());
    assert_eq!(config.treasury, client::treasury_address());
    assert_eq!(config.oracle_count, 3);
    assert_eq!(config.threshold, 2);
    assert_eq!(config.config_version, 1);
    assert_eq!(config.genesis_ts, env.genesis);
    assert_eq!(config.epoch_duration, EPOCH_SECS);
    assert_eq!(config.max_supply, default_limits().max_supply);
    config.invariant().unwrap();

    let mint = env.account(&client::mint_address()).await.unwrap();
    let mint = spl_token::state::Mint::unpack(&mint.data).unwrap();
    assert_eq!(mint.decimals, STK_DECIMALS);
    assert_eq!(mint.supply, 0);
    assert_eq!(
        Option::<Pubkey>::from(mint.mint_authority),
        Some(client::emission_authority())
    );
    assert_eq!(Option::<Pubkey>::from(mint.freeze_authority), None);

    for account in [client::vault_address(), client::treasury_address()] {
        let data = env.account(&account).await.unwrap().data;
        let token = spl_token::state::Account::unpack(&data).unwrap();
        assert_eq!(token.mint, env.quote_mint);
        assert_eq!(token.owner, client::vault_authority());
    }

    // Only once.
    let admin = env.admin();
    let quote_mint = env.quote_mint;
    let args = stk::InitializeArgs {
        oracles: vec![admin.pubkey()],
        threshold: 1,
        genesis_ts: 0,
        epoch_duration: EPOCH_SECS,
        limits: default_limits(),
    };
    let ix = client::initialize(admin.pubkey(), quote_mint, args);
    assert!(env.send(&[ix], &[&admin]).await.is_err());
}

#[tokio::test]
async fn only_the_admin_changes_config() {
    let mut env = Env::new().await;
    let mallory = Keypair::new();
    env.airdrop(&mallory.pubkey(), 1_000_000_000).await;
    let m = mallory.pubkey();
    for ix in [
        client::set_oracles(m, vec![m], 1),
        client::update_limits(m, default_limits()),
        client::set_paused(m, PAUSE_ALL),
        client::propose_admin(m, m),
        client::set_investor(m, m, true),
        client::withdraw_treasury(m, client::vault_address(), 1),
        client::fund_vault_from_treasury(m, 1),
    ] {
        assert_stk(env.send(&[ix], &[&mallory]).await, StkError::Unauthorized);
    }
    // The real admin's key without its signature.
    let mut ix = client::set_paused(env.admin.pubkey(), PAUSE_ALL);
    ix.accounts[0] = AccountMeta::new_readonly(env.admin.pubkey(), false);
    assert_code(env.send(&[ix], &[]).await, anchor_err::ACCOUNT_NOT_SIGNER);
    assert_eq!(env.config().await.paused, 0);
}

#[tokio::test]
async fn set_oracles_validates_and_bumps_version() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let a = Keypair::new().pubkey();
    let b = Keypair::new().pubkey();
    for (oracles, threshold) in [
        (vec![], 1),
        (vec![a], 0),
        (vec![a], 2),
        (vec![a, a], 1),
        (vec![Pubkey::default()], 1),
        ((0..11).map(|_| Keypair::new().pubkey()).collect(), 1),
    ] {
        let ix = client::set_oracles(admin.pubkey(), oracles, threshold);
        assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidOracleSet);
    }
    let ix = client::set_oracles(admin.pubkey(), vec![a, b], 2);
    env.send(&[ix], &[&admin]).await.unwrap();
    let config = env.config().await;
    assert_eq!(config.oracle_count, 2);
    assert_eq!(&config.oracles[..2], &[a, b]);
    assert_eq!(config.threshold, 2);
    assert_eq!(config.config_version, 2);
    // A removed oracle can no longer attest.
    let members = env.members(1).await;
    let t = tree(0, &[members[0].1], STK, 1);
    assert_stk(env.attest(0, &attest_args(&t)).await, StkError::NotOracle);
}

#[tokio::test]
async fn update_limits_and_pause() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let mut limits = default_limits();
    limits.max_emission_per_epoch = 7;
    limits.premium_bps = 50_000;
    limits.investor_allowlist = true;
    let ix = client::update_limits(admin.pubkey(), limits);
    env.send(&[ix], &[&admin]).await.unwrap();
    let config = env.config().await;
    assert_eq!(config.max_emission_per_epoch, 7);
    assert_eq!(config.premium_bps, 50_000);
    assert!(config.investor_allowlist);
    assert_eq!(config.config_version, 2);

    let mut bad = default_limits();
    bad.max_emission_per_epoch = bad.max_supply + 1;
    let ix = client::update_limits(admin.pubkey(), bad);
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidLimits);
    bad = default_limits();
    bad.premium_bps = u64::MAX;
    let ix = client::update_limits(admin.pubkey(), bad);
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidLimits);

    let ix = client::set_paused(admin.pubkey(), PAUSE_BUYBACK | PAUSE_ACCESS);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_eq!(env.config().await.paused, PAUSE_BUYBACK | PAUSE_ACCESS);
    let ix = client::set_paused(admin.pubkey(), 0x80);
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidLimits);
}

#[tokio::test]
async fn admin_transfer_is_two_step() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let next = Keypair::new();
    let mallory = Keypair::new();
    env.airdrop(&next.pubkey(), 1_000_000_000).await;
    env.airdrop(&mallory.pubkey(), 1_000_000_000).await;

    // Nothing pending: nobody can accept.
    let ix = client::accept_admin(mallory.pubkey());
    assert_stk(
        env.send(&[ix], &[&mallory]).await,
        StkError::NotPendingAdmin,
    );

    let ix = client::propose_admin(admin.pubkey(), next.pubkey());
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_eq!(env.config().await.pending_admin, next.pubkey());
    assert_eq!(env.config().await.admin, admin.pubkey());

    let ix = client::accept_admin(mallory.pubkey());
    assert_stk(
        env.send(&[ix], &[&mallory]).await,
        StkError::NotPendingAdmin,
    );

    let ix = client::accept_admin(next.pubkey());
    env.send(&[ix], &[&next]).await.unwrap();
    let config = env.config().await;
    assert_eq!(config.admin, next.pubkey());
    assert_eq!(config.pending_admin, Pubkey::default());

    // The old admin is out.
    let ix = client::set_paused(admin.pubkey(), PAUSE_ALL);
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::Unauthorized);
    let ix = client::set_paused(next.pubkey(), PAUSE_ALL);
    env.send(&[ix], &[&next]).await.unwrap();
}

#[tokio::test]
async fn set_investor_manages_the_allowlist() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let investor = Keypair::new().pubkey();
    let ix = client::set_investor(admin.pubkey(), investor, true);
    env.send(&[ix], &[&admin]).await.unwrap();
    let entry: Investor = env.anchor(&client::investor_address(&investor)).await;
    assert_eq!(entry.wallet, investor);
    assert!(entry.allowed);
    let ix = client::set_investor(admin.pubkey(), investor, false);
    env.send(&[ix], &[&admin]).await.unwrap();
    let entry: Investor = env.anchor(&client::investor_address(&investor)).await;
    assert!(!entry.allowed);
}

#[tokio::test]
async fn premium_is_at_least_the_minimum_multiple_of_the_floor() {
    // initialize: one bps below 3x is refused, exactly 3x accepted.
    let mut limits = default_limits();
    limits.premium_bps = PREMIUM_MIN_FLOOR_MULTIPLE_BPS - 1;
    assert_stk(
        Env::build(limits, 2, &[]).await.map(|_| ()),
        StkError::PremiumBelowMinMultiple,
    );
    limits.premium_bps = PREMIUM_MIN_FLOOR_MULTIPLE_BPS;
    let mut env = Env::with(limits, 2).await;
    assert_eq!(env.config().await.premium_bps, 30_000);

    // update_limits: the same boundary, the old 1x, and zero; above 100x is an invalid limit.
    let admin = env.admin();
    for bps in [PREMIUM_MIN_FLOOR_MULTIPLE_BPS - 1, 10_000, 1, 0] {
        let ix = client::update_limits(
            admin.pubkey(),
            stk::Limits {
                premium_bps: bps,
                ..default_limits()
            },
        );
        assert_stk(
            env.send(&[ix], &[&admin]).await,
            StkError::PremiumBelowMinMultiple,
        );
    }
    let ix = client::update_limits(
        admin.pubkey(),
        stk::Limits {
            premium_bps: MAX_PREMIUM_BPS + 1,
            ..default_limits()
        },
    );
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::InvalidLimits);
    let ix = client::update_limits(
        admin.pubkey(),
        stk::Limits {
            premium_bps: PREMIUM_MIN_FLOOR_MULTIPLE_BPS + 1,
            ..default_limits()
        },
    );
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_eq!(env.config().await.premium_bps, 30_001);
}
