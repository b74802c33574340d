//! An STK economy on the in-process chain (the real runtime with the STK program and the real SPL
//! Token program) with the indexer around it: a real database, the real HTTP server on 127.0.0.1:0,
//! members with bound wallets and activity in epoch 0, and the service's pipeline (oracle 0 of a
//! 2-of-3 set). Shared by the pipeline, oracle and watcher tests.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc};

use solana_sdk::{pubkey::Pubkey, signature::Keypair};
use stk::client;
use stk_indexer::{
    chain::{ops, Chain},
    http::{AppState, Server},
    local::{EconomyOptions, LocalEconomy},
    pipeline::{self, Pipeline, SendOptions, State},
    store::{NewActivity, Store},
};
use tokio_util::sync::CancellationToken;

pub struct World {
    pub economy: LocalEconomy,
    pub store: Store,
    pub pipeline: Pipeline,
    pub base: String,
    pub server: Server,
    pub dir: tempfile::TempDir,
    /// (member id, wallet)
    pub members: Vec<(String, Keypair)>,
}

/// How a world is built.
pub struct WorldOptions {
    pub members: usize,
    /// Member `i` is active on `min_days + i % day_spread` days of epoch 0.
    pub min_days: usize,
    pub day_spread: usize,
    /// `None`: a SQLite file in the world's temporary directory.
    pub database_url: Option<String>,
    pub chunks_per_table: usize,
    /// Revenue deposited in each period (`EconomyOptions::revenue_per_epoch`; `None`: what the budget
    /// needs).
    pub revenue_per_epoch: Option<u64>,
}

impl WorldOptions {
    pub fn new(members: usize) -> Self {
        Self {
            members,
            min_days: 2,
            day_spread: 5,
            database_url: None,
            chunks_per_table: SendOptions::default().chunks_per_table,
            revenue_per_epoch: None,
        }
    }
}

pub fn rules_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/rules.v1.toml")
}

pub async fn world(o: WorldOptions) -> World {
    let economy = LocalEconomy::start(EconomyOptions {
        revenue_per_epoch: o.revenue_per_epoch,
        ..EconomyOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = o
        .database_url
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("stk.db").display()));
    let mut cfg = economy.config(&url);
    cfg.scoring.rules_path = rules_path();
    cfg.server.listen = "127.0.0.1:0".parse().unwrap();
    let store = Store::connect(&cfg.database).await.unwrap();
    store.migrate().await.unwrap();
    let rules = Arc::new(stk_indexer::epoch::load_rules(&cfg.scoring.rules_path).unwrap());

    let mut members = Vec::new();
    for i in 0..o.members {
        let id = format!("member-{i:03}");
        let wallet = economy.add_member(&store, &id).await.unwrap();
        members.push((id, wallet));
    }
    let (start, _) = cfg.epoch_window(0);
    let kinds = ["practice_session", "help_given", "review"];
    let mut events = Vec::new();
    for (i, (id, _)) in members.iter().enumerate() {
        for day in 0..(o.min_days + i % o.day_spread) {
            events.push(NewActivity {
                id: format!("{id}-{day}"),
                member: id.clone(),
                kind: kinds[(i + day) % kinds.len()].to_string(),
                occurred_at: start + day as i64 * 86_400 + 3_600 + i as i64,
                epoch: 0,
                attributes: None,
                confirmations: vec![],
                source: "member".into(),
                signature: None,
            });
        }
    }
    store
        .ingest(&events, stk_indexer::epoch::template(&cfg))
        .await
        .unwrap();

    let state = AppState::new(store.clone(), cfg.clone(), rules.clone());
    let server = Server::start(cfg.server.listen, state, CancellationToken::new())
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let pipeline = Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg),
        rules,
        chain: Arc::new(economy.chain.clone()),
        payer: economy.payer.clone(),
        oracle: Some(economy.oracles[0].clone()),
        send: SendOptions {
            chunks_per_table: o.chunks_per_table,
            ..SendOptions::default()
        },
        fail: None,
        progress: false,
    };
    World {
        economy,
        store,
        pipeline,
        base,
        server,
        dir,
        members,
    }
}

impl World {
    pub fn chain(&self) -> &dyn Chain {
        self.pipeline.chain.as_ref()
    }
}

/// The second oracle's approval of the stored plan (an honest oracle that agrees).
pub async fn second_oracle(w: &World, n: u64) {
    let plan = w.store.epoch_plan(n).await.unwrap().expect("scored");
    pipeline::attest(w.chain(), &w.economy.oracles[1], &plan)
        .await
        .unwrap();
}

/// Runs epoch `n` to done, the second oracle attesting when the pipeline waits for it.
pub async fn finish(w: &World, n: u64) {
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

/// Balances equal the stored allocations exactly, each in the STK account of the member's wallet;
/// supply equals their sum; every chunk is paid once (one `ChunkDistributed` each) and recorded.
pub async fn assert_paid_exactly(w: &World, n: u64) {
    let chain = w.chain();
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
