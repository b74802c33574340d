//! Squatting: every address the program creates an account at can be computed by anyone, who can send
//! it lamports first. Each account must still be created (the lamports stay in it), on a runtime without
//! SIMD-0312's `CreateAccountAllowPrefund` (this one).
use anchor_lang::prelude::Pubkey;
use anchor_spl::token::spl_token;
use solana_sdk::{program_pack::Pack, signature::Keypair, signer::Signer};
use stk::{
    client,
    constants::*,
    economy::access_price_stk,
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::{Epoch, Investor, Member, Plan},
    BuyPremiumArgs, PayAccessArgs, SetPlanArgs,
};

use crate::harness::*;

/// What was measured to block a member for good: the rent-exempt minimum of an empty account, less
/// than any of the program's accounts needs.
const DUST: u64 = 890_880;
/// More than the rent-exempt minimum of any account the program creates.
const PLENTY: u64 = 5_000_000_000;

/// The address holds what was sent to it, topped up to the rent-exempt minimum of `len` bytes.
async fn assert_created_keeping_prefund(env: &mut Env, address: &Pubkey, len: usize, prefund: u64) {
    let account = env.account(address).await.expect("account created");
    assert_eq!(account.data.len(), len, "size of {address}");
    let rent = env.rent_exempt(len).await;
    assert!(
        prefund != rent,
        "test amounts are below or above rent exemption"
    );
    assert_eq!(
        account.lamports,
        prefund.max(rent),
        "{address}: the prefund stays in the account (topped up to rent exemption when below it)"
    );
}

/// Prefunds every address the program creates (the four `initialize` creates only when
/// `including_initialize`), then runs every flow that creates them.
async fn every_flow_on_prefunded_addresses(prefund: u64, including_initialize: bool) {
    let fixed = [
        client::config_address(),
        client::mint_address(),
        client::vault_address(),
        client::treasury_address(),
    ];
    let prefunds: Vec<(Pubkey, u64)> = fixed
        .iter()
        .filter(|_| including_initialize)
        .map(|a| (*a, prefund))
        .collect();
    let init_prefund = if including_initialize { prefund } else { 0 };
    let mut limits = default_limits();
    limits.investor_allowlist = true;
    let mut env = Env::build(limits, 2, &prefunds)
        .await
        .expect("initialize on prefunded addresses");

    // initialize: config, mint, vault, treasury.
    let config = env.config().await;
    config.invariant().unwrap();
    assert_eq!(config.admin, env.admin.pubkey());
    assert_eq!(config.stk_mint, client::mint_address());
    let config_len = 8 + <stk::state::Config as anchor_lang::Space>::INIT_SPACE;
    assert_created_keeping_prefund(
        &mut env,
        &client::config_address(),
        config_len,
        init_prefund,
    )
    .await;
    let mint = env.account(&client::mint_address()).await.unwrap();
    assert_eq!(mint.owner, spl_token::ID);
    let mint = spl_token::state::Mint::unpack(&mint.data).unwrap();
    assert_eq!(mint.decimals, STK_DECIMALS);
    assert_eq!(
        Option::<Pubkey>::from(mint.mint_authority),
        Some(client::emission_authority())
    );
    assert_eq!(Option::<Pubkey>::from(mint.freeze_authority), None);
    let mint_len = spl_token::state::Mint::LEN;
    assert_created_keeping_prefund(&mut env, &client::mint_address(), mint_len, init_prefund).await;
    for account in [client::vault_address(), client::treasury_address()] {
        let data = env.account(&account).await.unwrap();
        assert_eq!(data.owner, spl_token::ID);
        let token = spl_token::state::Account::unpack(&data.data).unwrap();
        assert_eq!(token.mint, env.quote_mint);
        assert_eq!(token.owner, client::vault_authority());
        assert_eq!(token.amount, 0);
        let len = spl_token::state::Account::LEN;
        assert_created_keeping_prefund(&mut env, &account, len, init_prefund).await;
    }

    // attest + distribute: the epoch's address is known as soon as its root is published.
    let members = env.members(2).await;
    let t = EpochTree::build(
        0,
        members
            .iter()
            .map(|m| Allocation {
                token_account: m.1,
                amount: 100 * STK,
            })
            .collect(),
        MAX_CHUNK_RECIPIENTS,
    )
    .unwrap();
    let epoch_address = client::epoch_address(0, &t.root());
    env.airdrop(&epoch_address, prefund).await;
    // The inflow ledger is created by the first deposit, whoever makes it first.
    let ledger = client::inflow_ledger_address();
    env.airdrop(&ledger, prefund).await;
    // Epoch 0's revenue is part of the 100 USDC deposited below: the vault ends as computed there.
    let funded = env.fund_epoch(0, t.total).await;
    env.finalize(&t).await;
    let ledger_len = 8 + <stk::state::InflowLedger as anchor_lang::Space>::INIT_SPACE;
    assert_created_keeping_prefund(&mut env, &ledger, ledger_len, prefund).await;
    env.distribute_chunk(&t, 0).await.unwrap();
    let epoch: Epoch = env.epoch(0, &t.root()).await;
    assert!(epoch.finalized && epoch.is_complete());
    assert_eq!(epoch.approvals, 0b11);
    let epoch_len = 8 + <Epoch as anchor_lang::Space>::INIT_SPACE;
    assert_created_keeping_prefund(&mut env, &epoch_address, epoch_len, prefund).await;
    assert_eq!(env.supply().await, 200 * STK);

    // pay_access (member 1) on a prefunded `Member` address.
    let platform = Keypair::new();
    let source = env
        .fund_quote(&platform.pubkey(), 100 * USDC - funded)
        .await;
    let ix = client::deposit_revenue(platform.pubkey(), source, 100 * USDC - funded);
    env.send(&[ix], &[&platform]).await.unwrap();
    let admin = env.admin();
    let member_len = 8 + <Member as anchor_lang::Space>::INIT_SPACE;
    let (payer, payer_stk) = (members[1].0.insecure_clone(), members[1].1);
    env.airdrop(&payer.pubkey(), 1_000_000_000).await;
    env.airdrop(&client::member_address(&payer.pubkey()), prefund)
        .await;

    // set_plan on a prefunded `Plan` address, then pay_access for it.
    let plan_address = client::plan_address(1);
    env.airdrop(&plan_address, prefund).await;
    let ix = client::set_plan(
        admin.pubkey(),
        SetPlanArgs {
            id: 1,
            period_secs: 30 * DAY as u64,
            fiat_price: 10 * USDC,
            discount_bps: 2_000,
            active: true,
        },
    );
    env.send(&[ix], &[&admin]).await.unwrap();
    let plan: Plan = env.anchor(&plan_address).await;
    assert!(plan.active && plan.id == 1 && plan.fiat_price == 10 * USDC);
    let plan_len = 8 + <Plan as anchor_lang::Space>::INIT_SPACE;
    assert_created_keeping_prefund(&mut env, &plan_address, plan_len, prefund).await;
    // Vault 100 USDC behind 200 floating STK: floor 0.5 USDC per STK; 8 USDC (10 less 20%) = 16 STK.
    let floor = 500_000;
    let price = access_price_stk(10 * USDC, 2_000, floor).unwrap();
    assert_eq!(price, 16 * STK);
    let args = PayAccessArgs {
        plan_id: 1,
        max_stk_in: price,
        reference: [1; 32],
    };
    let ix = client::pay_access(payer.pubkey(), payer_stk, args);
    env.send(&[ix], &[&payer]).await.unwrap();
    let address = client::member_address(&payer.pubkey());
    let member: Member = env.anchor(&address).await;
    assert_eq!(
        (member.wallet, member.total_access_paid),
        (payer.pubkey(), price)
    );
    assert_created_keeping_prefund(&mut env, &address, member_len, prefund).await;

    // set_investor on a prefunded `Investor` address, then buy_premium with the allowlist on.
    let investor = Keypair::new();
    let address = client::investor_address(&investor.pubkey());
    env.airdrop(&address, prefund).await;
    let ix = client::set_investor(admin.pubkey(), investor.pubkey(), true);
    env.send(&[ix], &[&admin]).await.unwrap();
    let entry: Investor = env.anchor(&address).await;
    assert!(entry.allowed && entry.wallet == investor.pubkey());
    let investor_len = 8 + <Investor as anchor_lang::Space>::INIT_SPACE;
    assert_created_keeping_prefund(&mut env, &address, investor_len, prefund).await;
    let investor_quote = env.fund_quote(&investor.pubkey(), 1_000 * USDC).await;
    let investor_stk = env.stk_account(&investor.pubkey()).await;
    let ix = client::buy_premium(
        investor.pubkey(),
        investor_stk,
        investor_quote,
        true,
        // The floor is 100 USDC behind 184 STK (after the access payment): 0.543478 (rounded down);
        // 10 STK at 10x cost 54.3478 USDC, of which the vault takes the exact backing of 10 STK,
        // 5.434783 (rounded up; more than its 10% share, 5.43478).
        BuyPremiumArgs {
            stk_amount: 10 * STK,
            max_quote_in: 54_347_800,
        },
    );
    env.send(&[ix], &[&investor]).await.unwrap();
    assert_eq!(env.balance(&investor_stk).await, 10 * STK);
    assert_eq!(env.balance(&client::treasury_address()).await, 48_913_017);
    assert_eq!(
        env.balance(&client::vault_address()).await,
        100 * USDC + 5_434_783
    );
    let entry: Investor = env.anchor(&address).await;
    assert_eq!(entry.total_bought_stk, 10 * STK);

    // An existing `Member` that receives lamports keeps working (it is loaded, not created again).
    let address = client::member_address(&payer.pubkey());
    env.airdrop(&address, prefund).await;
    let args = PayAccessArgs {
        plan_id: 1,
        max_stk_in: u64::MAX,
        reference: [2; 32],
    };
    let ix = client::pay_access(payer.pubkey(), payer_stk, args);
    env.send(&[ix], &[&payer]).await.unwrap();
    let member: Member = env.anchor(&address).await;
    assert!(member.total_access_paid > price);
}

#[tokio::test]
async fn every_account_is_created_on_an_address_prefunded_below_rent() {
    every_flow_on_prefunded_addresses(DUST, true).await;
}

/// The same flows on a plainly initialized program: the epoch, member and investor addresses alone.
#[tokio::test]
async fn epoch_member_and_investor_are_created_on_prefunded_addresses() {
    every_flow_on_prefunded_addresses(DUST, false).await;
}

#[tokio::test]
async fn every_account_is_created_on_an_address_prefunded_above_rent() {
    every_flow_on_prefunded_addresses(PLENTY, true).await;
}

#[tokio::test]
async fn initialize_refuses_an_existing_account() {
    let mut env = Env::new().await;
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
    assert_stk(env.send(&[ix], &[&admin]).await, StkError::AddressInUse);
}
