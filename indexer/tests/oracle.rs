//! Oracle mode end to end on the in-process chain (the real runtime with the STK program), a real
//! SQLite file and the real HTTP server on 127.0.0.1:0: the service publishes the epoch log, a second
//! oracle recomputes and attests it, and a third oracle fed a tampered log can never finalize.

use solana_sdk::{pubkey::Pubkey, signer::Signer};
use stk::{client, error::StkError, AttestEpochArgs};
use stk_indexer::{
    chain::ops,
    oracle::{self, Difference, EpochLogResponse, OracleError},
    pipeline::{self, Attestation, PipelineError, State},
    scoring::{EpochInput, Event},
    store::EpochState,
};

mod common;

use common::world::{assert_paid_exactly, rules_path, world as build_world, World, WorldOptions};

/// `n` members with bound wallets, active 1–5 days of epoch 0; the service's pipeline attests as
/// oracle 0; the API serves on 127.0.0.1:0.
async fn world(n: usize) -> World {
    build_world(WorldOptions {
        min_days: 1,
        ..WorldOptions::new(n)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_oracle_recomputes_the_published_log_and_the_epoch_completes() {
    let w = world(40).await;
    let http = reqwest::Client::new();

    // Never seen: 404; not scored yet: 409 (JSON errors).
    let r = http
        .get(format!("{}/v1/epochs/3/log", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unknown_epoch", "{body}");
    let r = http
        .get(format!("{}/v1/epochs/0/log", w.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_scored", "{body}");
    match oracle::fetch(&w.base, 0).await {
        Err(OracleError::Source { status: 409, .. }) => {}
        other => panic!("expected a 409 from the source, got {other:?}"),
    }

    // The service's pipeline (oracle 0) scores and attests; 2 of 3 are needed.
    let (state, _) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Attested);

    // Oracle 1 fetches the published log over HTTP.
    let served = oracle::fetch(&w.base, 0).await.unwrap();
    // An answer over the oracle's bound is refused, not read.
    match oracle::fetch_bounded(&w.base, 0, 100).await {
        Err(OracleError::Fetch { message, .. }) if message.contains("larger than 100 bytes") => {}
        other => panic!("expected the bound to refuse, got {other:?}"),
    }
    let plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    let row = w.store.epoch(0).await.unwrap().unwrap();
    assert_eq!(served.epoch, 0);
    assert_eq!(served.state, EpochState::Attested);
    assert_eq!(
        served.root.as_deref(),
        Some(hex::encode(plan.root).as_str())
    );
    assert_eq!(Some(served.activity_digest.clone()), row.activity_digest);
    assert_eq!(Some(served.rules_hash.clone()), row.rules_hash);
    assert_eq!(
        served.rules_toml,
        std::fs::read_to_string(rules_path()).unwrap(),
        "the exact rules file text"
    );
    // The log is exactly the bytes whose digest is attested.
    let input = EpochInput::from_canonical_log(served.log.as_bytes()).unwrap();
    assert_eq!(hex::encode(input.activity_digest()), served.activity_digest);
    // One binding proof per paid member, with the wallet frozen at scoring time.
    let recipients = w.store.epoch_recipients(0).await.unwrap();
    assert_eq!(served.bindings.len(), recipients.len());
    for r in &recipients {
        let b = served
            .bindings
            .iter()
            .find(|b| b.member == r.member_id)
            .unwrap();
        assert_eq!(b.wallet, r.wallet);
        stk_indexer::wallet::verify(&b.wallet, &b.message, &b.signature).unwrap();
    }

    // A later activation change does not change the published log (it is kept, not rebuilt).
    w.store
        .set_member_status("member-001", false)
        .await
        .unwrap();
    let again = oracle::fetch(&w.base, 0).await.unwrap();
    assert_eq!(again.log, served.log);

    let out = oracle::verify_and_attest(&served, w.chain(), &w.economy.oracles[1])
        .await
        .unwrap();
    assert!(matches!(out.attestation, Attestation::Sent(_)));
    assert!(out.finalized, "oracles 0 and 1 reach the threshold");
    assert_eq!(out.plan.root, plan.root);
    assert_eq!(out.plan.total_amount, plan.total_amount);
    assert_eq!(out.approvals.count_ones(), 2);
    // Idempotent: a second run changes nothing.
    let out = oracle::verify_and_attest(&served, w.chain(), &w.economy.oracles[1])
        .await
        .unwrap();
    assert_eq!(out.attestation, Attestation::AlreadyCounted);

    let (state, report) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Done);
    assert_eq!(report.chunks_sent, plan.chunk_count as usize);
    assert_paid_exactly(&w, 0).await;
    let done = oracle::fetch(&w.base, 0).await.unwrap();
    assert_eq!(done.state, EpochState::Done);
    assert_eq!(done.log, served.log);
}

/// The served log with one extra event for `member` (still a valid canonical log).
fn tamper(served: &EpochLogResponse, member: &str) -> String {
    let mut input = EpochInput::from_canonical_log(served.log.as_bytes()).unwrap();
    input.events.push(Event {
        id: "forged-extra-review".into(),
        member: member.into(),
        kind: "review".into(),
        occurred_at: input.starts_at + 5 * 86_400 + 7,
        confirmations: vec![],
    });
    input.canonicalize();
    String::from_utf8(input.canonical_log()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_log_never_finalizes_and_the_honest_root_is_paid() {
    let w = world(40).await;
    assert_eq!(w.pipeline.run(0).await.unwrap().0, State::Attested);
    let served = oracle::fetch(&w.base, 0).await.unwrap();
    let honest_plan = w.store.epoch_plan(0).await.unwrap().unwrap();
    let victim = "member-002";

    // (a) Oracle 2 is fed a tampered log but checks it against the served root: it refuses and says
    // what differs, and nothing is attested.
    let mut fed = served.clone();
    fed.log = tamper(&served, victim);
    let err = oracle::verify_and_attest_against(
        &fed,
        Some(&served.log),
        w.chain(),
        &w.economy.oracles[2],
    )
    .await
    .unwrap_err();
    let OracleError::Mismatch(m) = err else {
        panic!("expected a mismatch, got {err}");
    };
    let report = m.to_string();
    println!("{report}");
    assert!(m
        .differences
        .iter()
        .any(|d| matches!(d, Difference::ActivityDigest { served: s, .. } if *s == served.activity_digest)));
    assert!(m.differences.iter().any(
        |d| matches!(d, Difference::Root { served: s, computed: Some(_) } if *s == served.root)
    ));
    let amounts = m.amount_differences();
    assert!(amounts.contains(&victim), "{report}");
    let forged_line = m.differences.iter().find_map(|d| match d {
        Difference::LogLine {
            line,
            served: Some(text),
            ..
        } if text.contains("forged-extra-review") => Some(*line),
        _ => None,
    });
    assert!(forged_line.is_some_and(|l| l > 1), "{report}");
    assert!(report.contains("activity_digest differs") && report.contains("root differs"));
    assert!(report.contains(&format!("amount of {victim} differs")));
    let on_chain = ops::epoch(w.chain(), 0, &honest_plan.root)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(on_chain.approvals, 0b001, "only oracle 0 so far");

    // (b) A malicious oracle 2 attests the tampered root anyway.
    let rules = stk_indexer::epoch::load_rules(&rules_path()).unwrap();
    let tampered_input = EpochInput::from_canonical_log(fed.log.as_bytes()).unwrap();
    let score = stk_indexer::scoring::score_epoch(rules.v1().unwrap(), &tampered_input).unwrap();
    let wallets = served
        .bindings
        .iter()
        .map(|b| (b.member.clone(), b.wallet.clone()))
        .collect();
    let tree = stk_indexer::epoch::allocation_tree(0, &score.allocations, &wallets)
        .unwrap()
        .unwrap();
    let bad_root: [u8; 32] = hex::decode(&tree.root).unwrap().try_into().unwrap();
    assert_ne!(bad_root, honest_plan.root);
    let bad_args = AttestEpochArgs {
        epoch: 0,
        root: bad_root,
        total_amount: score.allocations.iter().map(|a| a.amount).sum(),
        chunk_count: tree.chunks.len() as u32,
        recipient_count: tree.recipients.len() as u32,
        activity_digest: score.activity_digest,
        rules_hash: score.rules_hash,
    };
    let evil = &w.economy.oracles[2];
    w.chain()
        .send(
            &[client::attest_epoch(evil.pubkey(), bad_args.clone())],
            &[evil],
            &[],
        )
        .await
        .unwrap();
    let bad = ops::epoch(w.chain(), 0, &bad_root).await.unwrap().unwrap();
    assert!(!bad.finalized);
    assert_eq!(bad.approval_count(), 1);

    // The honest oracle 1 verifies the untampered log and attests: the honest root finalizes.
    let out = oracle::verify_and_attest(&served, w.chain(), &w.economy.oracles[1])
        .await
        .unwrap();
    assert!(out.finalized);
    assert_eq!(out.plan.root, honest_plan.root);
    let (state, _) = w.pipeline.run(0).await.unwrap();
    assert_eq!(state, State::Done);
    assert_paid_exactly(&w, 0).await;

    // The tampered root stays unfinalized forever: no oracle can approve it any more...
    let late = w
        .chain()
        .send(
            &[client::attest_epoch(
                w.economy.oracles[1].pubkey(),
                bad_args.clone(),
            )],
            &[&*w.economy.oracles[1]],
            &[],
        )
        .await
        .unwrap_err();
    assert!(late.is_stk(StkError::EpochAlreadyFinalized), "{late}");
    let bad_plan = stk_indexer::store::EpochPlan {
        epoch: 0,
        state: EpochState::Scored,
        root: bad_root,
        total_amount: bad_args.total_amount,
        chunk_count: bad_args.chunk_count,
        recipient_count: bad_args.recipient_count,
        activity_digest: bad_args.activity_digest,
        rules_hash: bad_args.rules_hash,
    };
    assert!(matches!(
        pipeline::attest(w.chain(), &w.economy.oracles[0], &bad_plan).await,
        Err(PipelineError::Superseded { .. })
    ));
    let bad = ops::epoch(w.chain(), 0, &bad_root).await.unwrap().unwrap();
    assert!(!bad.finalized);
    assert_eq!(bad.distributed_amount, 0);

    // ...and it cannot be distributed.
    let allocations = tree
        .recipients
        .iter()
        .map(|r| stk::merkle::Allocation {
            token_account: r.token_account.parse().unwrap(),
            amount: r.amount,
        })
        .collect();
    let bad_tree =
        stk::merkle::EpochTree::build(0, allocations, stk::constants::MAX_CHUNK_RECIPIENTS)
            .unwrap();
    assert_eq!(bad_tree.root(), bad_root);
    let c = &bad_tree.chunks[0];
    let args = stk::DistributeArgs {
        epoch: 0,
        root: bad_root,
        chunk_index: 0,
        amounts: c.recipients.iter().map(|r| r.amount).collect(),
        proof: bad_tree.proof(0),
    };
    let accounts: Vec<Pubkey> = c.recipients.iter().map(|r| r.token_account).collect();
    let ixs = [
        stk_localnet::ComputeBudgetInstruction::set_compute_unit_limit(1_400_000),
        client::distribute(args, &accounts),
    ];
    let tables = ops::create_lookup_table(
        w.chain(),
        &w.economy.payer,
        &client::distribute_fixed_accounts(0, &bad_root)
            .into_iter()
            .chain(accounts.iter().copied())
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let refused = w
        .chain()
        .send(&ixs, &[&*w.economy.payer], &[tables])
        .await
        .unwrap_err();
    assert!(
        refused.is_stk(StkError::EpochNotFinalized)
            || refused.is_stk(StkError::EpochAlreadyFinalized),
        "{refused}"
    );
    // Supply is still exactly the honest allocation.
    assert_eq!(
        ops::mint_supply(w.chain(), &client::mint_address())
            .await
            .unwrap(),
        honest_plan.total_amount
    );
    assert_eq!(w.members.len(), 40);
}

/// A hostile source streaming an endless body (chunked, no length) cannot make an oracle buffer it:
/// the fetch stops at its bound.
#[tokio::test]
async fn an_endless_answer_is_cut_at_the_bound() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = sock.read(&mut head).await;
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0usize;
        // At most 256 MiB, so the test ends even if the client kept reading.
        while sent < 256 << 20 {
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if sock.write_all(&framed).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let started = std::time::Instant::now();
    match oracle::fetch_bounded(&base, 0, 1 << 20).await {
        Err(OracleError::Fetch { message, .. }) => {
            assert!(message.contains("larger than"), "{message}")
        }
        other => panic!("expected the bound to refuse, got {other:?}"),
    }
    let sent = server.await.unwrap();
    assert!(sent < 64 << 20, "the server got to send {sent} bytes");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
