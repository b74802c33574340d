//! The epoch pipeline end to end on the in-process chain (the real runtime, the STK program, the real
//! SPL Token program) with a real SQLite file: a full run, crash safety at every step, resumption.

use solana_sdk::{pubkey::Pubkey, signer::Signer};
use stk::client;
use stk_indexer::{
    chain::{ops, Chain},
    pipeline::{FailPoint, PipelineError, State},
    store::NewActivity,
};

mod common;

use common::world::{
    assert_paid_exactly, finish, second_oracle, world as build_world, World, WorldOptions,
};

/// `members` members with wallets, active 2–6 days of epoch 0; lookup tables of 2 chunks so an epoch
/// spans several of them.
async fn world(members: usize) -> World {
    build_world(WorldOptions {
        chunks_per_table: 2,
        ..WorldOptions::new(members)
    })
    .await
}

/// The budget follows the chain's emission rule: an epoch whose period brought a quarter of the
/// revenue its budget needs pays a quarter of the budget; an epoch without revenue pays nothing and is
/// done without an attestation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_what_the_epochs_revenue_allows() {
    // 500 USDC per period at the genesis price (0.01 USDC per STK) and 50%: 25,000 STK, a quarter of
    // the 100,000 STK budget.
    let w = build_world(WorldOptions {
        revenue_per_epoch: Some(500_000_000),
        ..WorldOptions::new(20)
    })
    .await;
    let config = ops::config(w.chain()).await.unwrap().unwrap();
    assert_eq!(
        ops::emission_allowance(w.chain(), &config, 0)
            .await
            .unwrap(),
        25_000_000_000
    );
    finish(&w, 0).await;
    assert_eq!(
        w.store.epoch(0).await.unwrap().unwrap().budget,
        25_000_000_000
    );
    let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    assert_eq!(plan.total_amount, 25_000_000_000);
    assert_paid_exactly(&w, 0).await;

    let w = build_world(WorldOptions {
        revenue_per_epoch: Some(0),
        ..WorldOptions::new(5)
    })
    .await;
    let (state, _) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Done);
    assert_eq!(w.store.epoch(0).await.unwrap().unwrap().budget, 0);
    assert!(w.store.epoch_plan(0).await.unwrap().is_none());
    assert_eq!(
        ops::mint_supply(w.chain(), &client::mint_address())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_runs_to_done() {
    let w = world(130).await;
    let (state, report) = w.pipeline.run(0).await.unwrap();
    assert_eq!(
        state,
        State::Attested,
        "one oracle of a 2-of-3 set cannot finalize"
    );
    assert_eq!(
        report.transitions,
        vec![
            (State::Open, State::Frozen),
            (State::Frozen, State::Scored),
            (State::Scored, State::Attested)
        ]
    );
    // Running again while waiting changes nothing.
    assert_eq!(w.pipeline.run(0).await.unwrap().0, State::Attested);
    second_oracle(&w, 0).await;
    let (state, report) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Done);
    let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    assert!(plan.chunk_count >= 3, "130 recipients span several chunks");
    assert_eq!(report.chunks_sent, plan.chunk_count as usize);
    assert_eq!(report.token_accounts_created, w.members.len());
    assert_eq!(
        report.lookup_tables_created,
        (plan.chunk_count as usize).div_ceil(2)
    );
    assert_paid_exactly(&w, 0).await;
    // Done is final.
    assert_eq!(w.pipeline.run(0).await.unwrap().0, State::Done);

    // The epoch's lookup tables were deactivated; once their cooldown is over the scheduler closes
    // them and their rent returns to the payer: no rent stays locked per recipient.
    let tables: Vec<Pubkey> = w
        .store
        .epoch_chunks(0)
        .await
        .unwrap()
        .iter()
        .filter_map(|c| c.lookup_table.as_ref().map(|t| t.parse().unwrap()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        w.pipeline.reclaim_lookup_tables().await,
        0,
        "still cooling down"
    );
    w.economy
        .chain
        .with(async |c| {
            for _ in 0..=512 {
                c.advance_slots(1).await;
            }
        })
        .await;
    let payer = w.economy.payer.pubkey();
    let before = ops_lamports(&w, &payer).await;
    assert_eq!(w.pipeline.reclaim_lookup_tables().await, tables.len());
    for t in &tables {
        assert!(
            w.pipeline.chain.account(t).await.unwrap().is_none(),
            "table {t} closed"
        );
    }
    assert!(
        ops_lamports(&w, &payer).await > before,
        "the tables' rent came back"
    );
    // The epoch is frozen: no more activity is accepted for it.
    let template = stk_indexer::epoch::template(&w.pipeline.cfg);
    let (start, _) = w.pipeline.cfg.epoch_window(0);
    let late = NewActivity {
        id: "late".into(),
        member: w.members[0].0.clone(),
        kind: "practice_session".into(),
        occurred_at: start + 10,
        epoch: 0,
        attributes: None,
        confirmations: vec![],
        source: "member".into(),
        signature: None,
    };
    let verdicts = w.store.ingest(&[late], template).await.unwrap();
    assert!(matches!(
        verdicts[0],
        stk_indexer::store::Verdict::FrozenEpoch { .. }
    ));
}

async fn ops_lamports(w: &World, key: &Pubkey) -> u64 {
    w.pipeline
        .chain
        .account(key)
        .await
        .unwrap()
        .map_or(0, |a| a.lamports)
}

async fn crash_then_resume(fail: FailPoint) {
    let mut w = world(120).await;
    w.pipeline.fail = Some(fail);
    // Drive until the failure fires (the second oracle attests whenever we wait for it).
    let mut crashed = false;
    for _ in 0..4 {
        match w.pipeline.run(0).await {
            Err(PipelineError::Injected(at)) => {
                assert_eq!(at, fail);
                crashed = true;
                break;
            }
            Ok((State::Attested, _)) => second_oracle(&w, 0).await,
            Ok((state, _)) => panic!("{fail:?}: run ended at {state} without the failure"),
            Err(e) => panic!("{fail:?}: {e}"),
        }
    }
    assert!(crashed, "{fail:?} never fired");
    // A new process: same store, same chain, no failure.
    w.pipeline.fail = None;
    finish(&w, 0).await;
    assert_paid_exactly(&w, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_every_transition_then_resume() {
    for state in [
        State::Frozen,
        State::Scored,
        State::Attested,
        State::Finalized,
        State::Distributing,
        State::Done,
    ] {
        crash_then_resume(FailPoint::AfterTransition(state)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_chunks_then_resume() {
    for chunks in [1, 2] {
        crash_then_resume(FailPoint::AfterChunks(chunks)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_send_before_record_pays_once() {
    crash_then_resume(FailPoint::AfterSendBeforeRecord).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_paid_by_someone_else_is_not_paid_again() {
    let w = world(120).await;
    assert_eq!(w.pipeline.run(0).await.unwrap().0, State::Attested);
    second_oracle(&w, 0).await;
    // Prepare (token accounts + tables) but stop before distributing.
    let mut p = w.pipeline.clone();
    p.fail = Some(FailPoint::AfterTransition(State::Distributing));
    assert!(matches!(p.run(0).await, Err(PipelineError::Injected(_))));
    // A member pushes the (small) last chunk themselves: distribute is permissionless.
    let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    let recipients = w.store.epoch_recipients(0).await.unwrap();
    let allocations = recipients
        .iter()
        .map(|r| stk::merkle::Allocation {
            token_account: r.token_account.parse().unwrap(),
            amount: r.amount,
        })
        .collect();
    let tree = stk::merkle::EpochTree::build(0, allocations, stk::constants::MAX_CHUNK_RECIPIENTS)
        .unwrap();
    assert_eq!(tree.root(), plan.root);
    let last = tree.chunk_count() - 1;
    let c = &tree.chunks[last as usize];
    assert!(
        c.recipients.len() < 20,
        "the last chunk fits a transaction without a table"
    );
    let args = stk::DistributeArgs {
        epoch: 0,
        root: plan.root,
        chunk_index: last,
        amounts: c.recipients.iter().map(|r| r.amount).collect(),
        proof: tree.proof(last),
    };
    let accounts: Vec<Pubkey> = c.recipients.iter().map(|r| r.token_account).collect();
    let member = solana_sdk::signature::Keypair::new();
    w.economy
        .chain
        .airdrop(&member.pubkey(), 1_000_000_000)
        .await
        .unwrap();
    let ixs = [
        stk_localnet::ComputeBudgetInstruction::set_compute_unit_limit(1_000_000),
        client::distribute(args, &accounts),
    ];
    w.economy.chain.send(&ixs, &[&member], &[]).await.unwrap();

    let (state, report) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Done);
    assert_eq!(report.chunks_found_paid, 1);
    assert_eq!(report.chunks_sent, plan.chunk_count as usize - 1);
    assert_paid_exactly(&w, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_advances_epochs_in_order() {
    let w = world(60).await;
    let cfg = &w.pipeline.cfg;
    let template = stk_indexer::epoch::template(cfg);
    // Epoch 1: the same members again; epoch 2: one lone event (below the minimum score).
    let (start1, _) = cfg.epoch_window(1);
    let (start2, _) = cfg.epoch_window(2);
    let mut events: Vec<NewActivity> = w
        .members
        .iter()
        .enumerate()
        .flat_map(|(i, (id, _))| {
            (0..3).map(move |day| NewActivity {
                id: format!("{id}-e1-{day}"),
                member: id.clone(),
                kind: "help_given".into(),
                occurred_at: start1 + day * 86_400 + i as i64,
                epoch: 1,
                attributes: None,
                confirmations: vec![],
                source: "member".into(),
                signature: None,
            })
        })
        .collect();
    events.push(NewActivity {
        id: "lone".into(),
        member: w.members[0].0.clone(),
        kind: "practice_session".into(),
        occurred_at: start2 + 60,
        epoch: 2,
        attributes: None,
        confirmations: vec![],
        source: "member".into(),
        signature: None,
    });
    w.store.ingest(&events, template).await.unwrap();

    // One oracle of two: epoch 0 waits at attested and epoch 1 is not touched.
    let ticked = w.pipeline.tick().await.unwrap();
    assert_eq!(ticked, vec![(0, State::Attested)]);
    assert_eq!(w.pipeline.state(1).await.unwrap(), State::Open);

    second_oracle(&w, 0).await;
    let ticked = w.pipeline.tick().await.unwrap();
    assert_eq!(ticked, vec![(0, State::Done), (1, State::Attested)]);
    second_oracle(&w, 1).await;
    let ticked = w.pipeline.tick().await.unwrap();
    // Epoch 2 has nobody to pay: scored, then done without touching the chain.
    assert_eq!(ticked, vec![(1, State::Done), (2, State::Done)]);
    assert!(w.store.epoch_plan(2).await.unwrap().is_none());
    assert!(w.pipeline.tick().await.unwrap().is_empty());
    let supply = ops::mint_supply(w.pipeline.chain.as_ref(), &client::mint_address())
        .await
        .unwrap();
    let paid: u64 = w
        .store
        .epoch_recipients(0)
        .await
        .unwrap()
        .iter()
        .map(|r| r.amount)
        .sum::<u64>()
        + w.store
            .epoch_recipients(1)
            .await
            .unwrap()
            .iter()
            .map(|r| r.amount)
            .sum::<u64>();
    assert_eq!(supply, paid);
}
