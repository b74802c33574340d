//! Access plans (issue 13): a `Plan` account per plan set by the admin, and `pay_access`, which burns
//! the plan's fiat price less its discount converted at the floor, with `AccessPaid` as the receipt.
use anchor_lang::prelude::Pubkey;
use solana_sdk::{instruction::Instruction, signature::Keypair, signer::Signer};
use stk::{
    client::{self, StkEvent},
    constants::*,
    economy::{access_price_stk, Backing},
    error::StkError,
    events::{AccessPaid, PlanSet},
    state::{Member, Plan},
    PayAccessArgs, SetPlanArgs,
};

use crate::harness::*;

/// Lamports below the rent exemption of a `Plan`, and above it.
const DUST: u64 = 890_880;
const PLENTY: u64 = 5_000_000_000;

struct Holder {
    wallet: Keypair,
    stk: Pubkey,
}

/// Three members holding 10,000 STK each (paid through a real epoch) and `vault` quote deposited
/// (epoch 0's revenue, 30,000 STK at 0.01 USDC and 50% = 600 USDC, included when `vault` covers it).
async fn setup(vault: u64) -> (Env, Vec<Holder>) {
    let (env, members) = crate::vault::env_with_members(3, 10_000 * STK, vault).await;
    let holders = members
        .into_iter()
        .map(|(wallet, stk)| Holder { wallet, stk })
        .collect();
    (env, holders)
}

fn plan_args(id: u32, days: u64, fiat_price: u64, discount_bps: u16) -> SetPlanArgs {
    SetPlanArgs {
        id,
        period_secs: days * DAY as u64,
        fiat_price,
        discount_bps,
        active: true,
    }
}

/// Sends `ixs` (fee payer: the chain's payer; `signer` signs too) and returns the STK events.
async fn send_recording(
    env: &mut Env,
    ixs: &[Instruction],
    signer: &Keypair,
) -> Result<Vec<StkEvent>, BanksClientError> {
    let payer = env.payer();
    let tx = env
        .chain
        .v0_transaction_signed(&[&payer, signer], ixs, &[])
        .await;
    env.chain
        .process_recording(tx, &[])
        .await
        .map(|(_, _, events)| events)
}

async fn set_plan(env: &mut Env, args: SetPlanArgs) -> TxResult {
    let admin = env.admin();
    env.send(&[client::set_plan(admin.pubkey(), args)], &[&admin])
        .await
}

fn pay_ix(h: &Holder, plan_id: u32, max_stk_in: u64) -> Instruction {
    client::pay_access(
        h.wallet.pubkey(),
        h.stk,
        PayAccessArgs {
            plan_id,
            max_stk_in,
            reference: [7; 32],
        },
    )
}

async fn pay(env: &mut Env, h: &Holder, plan_id: u32, max_stk_in: u64) -> TxResult {
    let w = h.wallet.insecure_clone();
    env.send(&[pay_ix(h, plan_id, max_stk_in)], &[&w]).await
}

#[tokio::test]
async fn set_plan_creates_updates_and_deactivates() {
    let mut env = Env::new().await;
    let admin = env.admin();
    let args = plan_args(1, 30, 10 * USDC, 2_000);
    let ix = client::set_plan(admin.pubkey(), args);
    let events = send_recording(&mut env, &[ix], &admin).await.unwrap();
    assert_eq!(
        events,
        vec![StkEvent::PlanSet(PlanSet {
            plan_id: 1,
            period_secs: 30 * 86_400,
            fiat_price: 10 * USDC,
            discount_bps: 2_000,
            active: true,
            created: true,
        })]
    );
    let plan: Plan = env.anchor(&client::plan_address(1)).await;
    assert_eq!(
        (
            plan.id,
            plan.period_secs,
            plan.fiat_price,
            plan.discount_bps,
            plan.active
        ),
        (1, 30 * 86_400, 10 * USDC, 2_000, true)
    );
    let bump = plan.bump;
    assert_eq!(
        Pubkey::create_program_address(&[PLAN_SEED, &1u32.to_le_bytes(), &[bump]], &stk::ID)
            .unwrap(),
        client::plan_address(1)
    );

    // Update: a new price and discount; then deactivation (the account stays, `active` is false).
    let ix = client::set_plan(
        admin.pubkey(),
        SetPlanArgs {
            fiat_price: 12 * USDC,
            discount_bps: 5_000,
            active: false,
            ..args
        },
    );
    let events = send_recording(&mut env, &[ix], &admin).await.unwrap();
    assert!(
        matches!(&events[..], [StkEvent::PlanSet(e)] if !e.created && !e.active && e.discount_bps == 5_000)
    );
    let plan: Plan = env.anchor(&client::plan_address(1)).await;
    assert_eq!(
        (plan.fiat_price, plan.discount_bps, plan.active, plan.bump),
        (12 * USDC, 5_000, false, bump)
    );
}

#[tokio::test]
async fn set_plan_refuses_strangers_and_terms_out_of_bounds() {
    let mut env = Env::new().await;
    let mallory = Keypair::new();
    env.airdrop(&mallory.pubkey(), 1_000_000_000).await;
    let ix = client::set_plan(mallory.pubkey(), plan_args(1, 30, 10 * USDC, 2_000));
    assert_stk(env.send(&[ix], &[&mallory]).await, StkError::Unauthorized);
    assert!(env.account(&client::plan_address(1)).await.is_none());

    let max_days = MAX_PLAN_PERIOD_SECS / DAY as u64;
    let bad = [
        plan_args(1, 30, 10 * USDC, MAX_PLAN_DISCOUNT_BPS + 1),
        plan_args(1, 30, 10 * USDC, 10_000),
        plan_args(1, 0, 10 * USDC, 2_000),
        SetPlanArgs {
            period_secs: MAX_PLAN_PERIOD_SECS + 1,
            ..plan_args(1, 30, 10 * USDC, 2_000)
        },
        plan_args(1, 30, 0, 2_000),
        plan_args(0, 30, 10 * USDC, 2_000),
        plan_args(MAX_PLAN_ID + 1, 30, 10 * USDC, 2_000),
    ];
    for args in bad {
        assert_stk(set_plan(&mut env, args).await, StkError::InvalidPlan);
    }
    // The bounds themselves are accepted.
    set_plan(
        &mut env,
        plan_args(MAX_PLAN_ID, max_days, 1, MAX_PLAN_DISCOUNT_BPS),
    )
    .await
    .unwrap();
    set_plan(&mut env, plan_args(1, 1, u64::MAX, 0))
        .await
        .unwrap();
    // An update out of bounds leaves the plan as it was.
    assert_stk(
        set_plan(&mut env, plan_args(1, 30, 10 * USDC, 6_000)).await,
        StkError::InvalidPlan,
    );
    let plan: Plan = env.anchor(&client::plan_address(1)).await;
    assert_eq!((plan.fiat_price, plan.discount_bps), (u64::MAX, 0));
}

#[tokio::test]
async fn set_plan_creates_on_prefunded_addresses() {
    let mut env = Env::new().await;
    let len = 8 + <Plan as anchor_lang::Space>::INIT_SPACE;
    let rent = env.rent_exempt(len).await;
    for (id, prefund) in [(1u32, DUST), (2, PLENTY)] {
        let address = client::plan_address(id);
        env.airdrop(&address, prefund).await;
        set_plan(&mut env, plan_args(id, 30, 10 * USDC, 2_000))
            .await
            .unwrap();
        let account = env.account(&address).await.unwrap();
        assert_eq!(account.owner, stk::ID);
        assert_eq!(account.data.len(), len);
        assert_eq!(account.lamports, prefund.max(rent), "the prefund stays");
        let plan: Plan = env.anchor(&address).await;
        assert!(plan.active && plan.id == id);
        // More lamports sent to an existing plan do not stop its updates.
        env.airdrop(&address, prefund).await;
        set_plan(&mut env, plan_args(id, 90, 27 * USDC, 1_000))
            .await
            .unwrap();
        let plan: Plan = env.anchor(&address).await;
        assert_eq!(plan.fiat_price, 27 * USDC);
    }
}

/// The worked example of the issue: vault 1,000 USDC behind 30,000 floating STK, plan 1 is 10 USDC
/// for 30 days with 20% off in STK.
#[tokio::test]
async fn pay_access_burns_the_discounted_fiat_price_at_the_floor() {
    let (mut env, holders) = setup(1_000 * USDC).await;
    set_plan(&mut env, plan_args(1, 30, 10 * USDC, 2_000))
        .await
        .unwrap();
    assert_eq!(env.supply().await, 30_000 * STK);

    // Floor: 1,000 USDC × 10^6 / 30,000 STK = 33,333.33 → 33,333 quote units per STK (rounded down).
    // Price: 10 USDC × (1 − 0.2) = 8 USDC = 8,000,000 units; 8,000,000 × 10^6 / 33,333
    //      = 240,002,400.0024 → 240,002,401 STK units (rounded up): 240.002401 STK.
    let floor = 33_333;
    let price = 240_002_401;
    assert_eq!(
        Backing {
            vault: 1_000 * USDC,
            floating: 30_000 * STK
        }
        .floor_price(),
        Some(floor)
    );
    assert_eq!(access_price_stk(10 * USDC, 2_000, floor), Some(price));
    // Paying in STK is cheaper than fiat at the floor: the STK is worth 8.000000 USDC there
    // (240,002,401 × 33,333 / 10^6, rounded down), the plan's fiat price is 10 USDC; the full fiat
    // price would cost 300.003 STK.
    assert_eq!(
        price as u128 * floor as u128 / STK as u128,
        8 * USDC as u128
    );
    assert!(access_price_stk(10 * USDC, 0, floor).unwrap() == 300_003_001);

    // Slippage: a maximum below the price is refused, nothing burned.
    let h = &holders[0];
    assert_stk(
        pay(&mut env, h, 1, price - 1).await,
        StkError::SlippageExceeded,
    );
    assert_eq!(env.balance(&h.stk).await, 10_000 * STK);

    let w = h.wallet.insecure_clone();
    let events = send_recording(&mut env, &[pay_ix(h, 1, price + 1_000)], &w)
        .await
        .unwrap();
    assert_eq!(
        events,
        vec![StkEvent::AccessPaid(AccessPaid {
            member: h.wallet.pubkey(),
            plan_id: 1,
            period_secs: 30 * 86_400,
            stk_amount: price,
            fiat_price: 10 * USDC,
            discount_bps: 2_000,
            floor_price: floor,
            reference: [7; 32],
        })],
        "the receipt"
    );
    // Exactly the price is burned, not the maximum.
    assert_eq!(env.balance(&h.stk).await, 10_000 * STK - price);
    assert_eq!(env.supply().await, 30_000 * STK - price);
    let member: Member = env
        .anchor(&client::member_address(&h.wallet.pubkey()))
        .await;
    assert_eq!(member.total_access_paid, price);
    assert_eq!(env.config().await.total_burned_access, price);

    // The burn raised the floor: the same plan now costs less STK.
    let after = Backing {
        vault: 1_000 * USDC,
        floating: 30_000 * STK - price,
    }
    .floor_price()
    .unwrap();
    assert!(after > floor);
    let second = access_price_stk(10 * USDC, 2_000, after).unwrap();
    assert!(second < price);
    let events = send_recording(&mut env, &[pay_ix(h, 1, second)], &w)
        .await
        .unwrap();
    assert!(
        matches!(&events[..], [StkEvent::AccessPaid(e)] if e.stk_amount == second && e.floor_price == after)
    );
    let member: Member = env
        .anchor(&client::member_address(&h.wallet.pubkey()))
        .await;
    assert_eq!(member.total_access_paid, price + second);
    assert_eq!(env.config().await.total_burned_access, price + second);
}

#[tokio::test]
async fn pay_access_refuses_inactive_missing_and_substituted_plans() {
    let (mut env, holders) = setup(1_000 * USDC).await;
    set_plan(&mut env, plan_args(1, 30, 10 * USDC, 2_000))
        .await
        .unwrap();
    set_plan(&mut env, plan_args(2, 90, 1, 5_000))
        .await
        .unwrap();
    let h = &holders[0];
    let w = h.wallet.insecure_clone();

    // A plan that does not exist: there is no account to load.
    assert_code(
        pay(&mut env, h, 9, u64::MAX).await,
        anchor_err::ACCOUNT_NOT_INITIALIZED,
    );
    // Another plan's (cheaper) account under plan 1's id: the seeds do not match.
    let mut ix = pay_ix(h, 1, u64::MAX);
    let (one, two) = (client::plan_address(1), client::plan_address(2));
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == one)
        .for_each(|m| m.pubkey = two);
    assert_code(env.send(&[ix], &[&w]).await, anchor_err::CONSTRAINT_SEEDS);
    // A vault that is not the vault (a member's token account with a larger balance would lower
    // the price).
    let fake_vault = env.fund_quote(&h.wallet.pubkey(), 1_000_000 * USDC).await;
    let mut ix = pay_ix(h, 1, u64::MAX);
    let vault = client::vault_address();
    ix.accounts
        .iter_mut()
        .filter(|m| m.pubkey == vault)
        .for_each(|m| m.pubkey = fake_vault);
    assert_stk(env.send(&[ix], &[&w]).await, StkError::WrongVault);

    // Deactivated: refused; reactivated: paid.
    let inactive = SetPlanArgs {
        active: false,
        ..plan_args(1, 30, 10 * USDC, 2_000)
    };
    set_plan(&mut env, inactive).await.unwrap();
    assert_stk(pay(&mut env, h, 1, u64::MAX).await, StkError::PlanInactive);
    set_plan(&mut env, plan_args(1, 30, 10 * USDC, 2_000))
        .await
        .unwrap();
    pay(&mut env, h, 1, u64::MAX).await.unwrap();

    // Paused: refused.
    let admin = env.admin();
    let ix = client::set_paused(admin.pubkey(), PAUSE_ACCESS);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_stk(pay(&mut env, h, 1, u64::MAX).await, StkError::Paused);
}

#[tokio::test]
async fn pay_access_needs_a_floor_and_the_funds() {
    // Nothing floating: no floor, no price. (STK floating behind an empty vault, or behind less than
    // one quote unit per STK, cannot happen: emission needs its epoch's revenue, `inflow.rs`.)
    let mut env = Env::new().await;
    set_plan(&mut env, plan_args(1, 30, 10 * USDC, 2_000))
        .await
        .unwrap();
    let wallet = Keypair::new();
    env.airdrop(&wallet.pubkey(), 1_000_000_000).await;
    let stk = env.stk_account(&wallet.pubkey()).await;
    let nobody = Holder { wallet, stk };
    assert_stk(pay(&mut env, &nobody, 1, u64::MAX).await, StkError::NoFloor);

    // 600 USDC (epoch 0's revenue) behind 30,000 STK: a floor of 0.02 USDC. A plan of 1,000 USDC at
    // 20% off costs 800 / 0.02 = 40,000 STK, more than anyone holds: the token program refuses the
    // burn (insufficient funds, token error 1), nothing is burned.
    let (mut env, holders) = setup(0).await;
    let h = &holders[0];
    set_plan(&mut env, plan_args(2, 30, 1_000 * USDC, 2_000))
        .await
        .unwrap();
    assert_eq!(
        access_price_stk(1_000 * USDC, 2_000, 20_000),
        Some(40_000 * STK)
    );
    assert_code(pay(&mut env, h, 2, u64::MAX).await, 1);
    assert_eq!(env.balance(&h.stk).await, 10_000 * STK);
    assert_eq!(env.config().await.total_burned_access, 0);
}
