//! The epoch pipeline end to end on the in-process chain (the real runtime, the STK program, the real
//! SPL Token program) with a real SQLite file: a full run, crash safety at every step, resumption.
use std::{path::PathBuf, sync::Arc};

use solana_sdk::{pubkey::Pubkey, signer::Signer};
use stk::client;
use stk_indexer::{
    chain::{ops, Chain},
    local::{EconomyOptions, LocalEconomy},
    pipeline::{self, FailPoint, Pipeline, PipelineError, SendOptions, State},
    store::{NewActivity, Store},
};

struct World {
    economy: LocalEconomy,
    store: Store,
    pipeline: Pipeline,
    _dir: tempfile::TempDir,
    /// (member, wallet)
    members: Vec<(String, Pubkey)>,
}

fn rules_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/rules.v1.toml")
}

/// `members` members with wallets; activity in epoch 0 (every member a few events on several days).
async fn world(members: usize) -> World {
    let economy = LocalEconomy::start(EconomyOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("stk.db").display());
    let mut cfg = economy.config(&url);
    cfg.scoring.rules_path = rules_path();
    let store = Store::connect(&cfg.database).await.unwrap();
    store.migrate().await.unwrap();
    let rules = stk_indexer::epoch::load_rules(&cfg.scoring.rules_path).unwrap();

    let mut list = Vec::new();
    for i in 0..members {
        let id = format!("member-{i:04}");
        let wallet = economy.add_member(&store, &id).await.unwrap();
        list.push((id, wallet.pubkey()));
    }
    let (start, _) = cfg.epoch_window(0);
    let kinds = ["practice_session", "help_given", "review"];
    let mut events = Vec::new();
    for (i, (id, _)) in list.iter().enumerate() {
        for day in 0..(2 + i % 5) {
            events.push(NewActivity {
                id: format!("{id}-{day}"),
                member: id.clone(),
                kind: kinds[(i + day) % kinds.len()].to_string(),
                occurred_at: start + day as i64 * 86_400 + 3_600 + i as i64,
                epoch: 0,
                attributes: None,
                confirmations: vec![],
            });
        }
    }
    let template = stk_indexer::epoch::template(&cfg);
    store.ingest(&events, template).await.unwrap();

    let pipeline = Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg),
        rules: Arc::new(rules),
        chain: Arc::new(economy.chain.clone()),
        payer: economy.payer.clone(),
        oracle: Some(economy.oracles[0].clone()),
        send: SendOptions {
            // Small tables so an epoch spans several of them.
            chunks_per_table: 2,
            ..SendOptions::default()
        },
        fail: None,
        progress: false,
    };
    World {
        economy,
        store,
        pipeline,
        _dir: dir,
        members: list,
    }
}

/// The second oracle's approval, from the stored plan (an honest oracle that agrees).
async fn second_oracle(w: &World, n: u64) {
    let plan = w.store.epoch_plan(n).await.unwrap().expect("scored");
    pipeline::attest(w.pipeline.chain.as_ref(), &w.economy.oracles[1], &plan)
        .await
        .unwrap();
}

/// Runs epoch `n` to done (the second oracle attests when needed); returns the final report.
async fn finish(w: &World, n: u64) {
    for _ in 0..4 {
        let (state, _) = w.pipeline.run(n).await.unwrap();
        match state {
            State::Done => return,
            State::Attested => second_oracle(w, n).await,
            other => panic!("run stopped at {other}"),
        }
    }
    panic!("epoch {n} did not finish");
}

/// Balances equal the stored allocations exactly; supply equals their sum; every chunk paid once.
async fn assert_paid_exactly(w: &World, n: u64) {
    let chain: &dyn Chain = w.pipeline.chain.as_ref();
    let recipients = w.store.epoch_recipients(n).await.unwrap();
    assert!(!recipients.is_empty());
    let accounts: Vec<Pubkey> = recipients
        .iter()
        .map(|r| r.token_account.parse().unwrap())
        .collect();
    let balances = ops::token_balances(chain, &accounts).await.unwrap();
    for (r, b) in recipients.iter().zip(balances) {
        assert_eq!(
            b, r.amount,
            "{} holds {b}, allocated {}",
            r.member_id, r.amount
        );
        let expected = anchor_spl::associated_token::get_associated_token_address(
            &r.wallet.parse().unwrap(),
            &client::mint_address(),
        );
        assert_eq!(r.token_account, expected.to_string());
    }
    let plan = w.store.epoch_plan(n).await.unwrap().unwrap();
    let total: u64 = recipients.iter().map(|r| r.amount).sum();
    assert_eq!(total, plan.total_amount);
    assert_eq!(
        ops::mint_supply(chain, &client::mint_address())
            .await
            .unwrap(),
        total,
        "supply must equal the allocations: nothing paid twice"
    );
    let on_chain = ops::epoch(chain, n, &plan.root).await.unwrap().unwrap();
    assert!(on_chain.is_complete());
    assert_eq!(on_chain.distributed_amount, total);
    let events = chain.events(None, 10_000).await.unwrap();
    let distributed = events
        .iter()
        .filter(|e| matches!(&e.event, stk::client::StkEvent::ChunkDistributed(c) if c.epoch == n))
        .count();
    assert_eq!(
        distributed as u32, plan.chunk_count,
        "one ChunkDistributed per chunk"
    );
    assert!(w
        .store
        .epoch_chunks(n)
        .await
        .unwrap()
        .iter()
        .all(|c| c.paid_at.is_some()));
    assert_eq!(w.pipeline.state(n).await.unwrap(), State::Done);
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
    };
    let verdicts = w.store.ingest(&[late], template).await.unwrap();
    assert!(matches!(
        verdicts[0],
        stk_indexer::store::Verdict::FrozenEpoch { .. }
    ));
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
