//! `stk-indexer bench pipeline`: one epoch of N recipients (default 12,000) through the whole pipeline on
//! the in-process chain (real runtime, real SPL Token) with a SQLite file: freeze, score, attest (two of
//! three oracles), token accounts, lookup tables, distribution. Prints the time of each stage and the
//! transactions and fee lamports per 1,000 recipients.
use std::{sync::Arc, time::Instant};

use anyhow::{bail, Context};
use solana_sdk::signer::Signer;

use crate::{
    chain::{ops, Chain},
    dev::local::{bind_wallet, EconomyOptions, LocalEconomy, STK},
    pipeline::{self, FailPoint, Pipeline, PipelineError, SendOptions, State},
    store::{NewActivity, Store},
};

#[derive(Debug, Clone, Default)]
pub struct PipelineBench {
    pub recipients: u32,
    pub chunks: u32,
    pub setup_secs: f64,
    pub score_secs: f64,
    pub attest_secs: f64,
    pub prepare_secs: f64,
    pub distribute_secs: f64,
    pub token_accounts_created: usize,
    pub lookup_tables: usize,
    pub distribute_fee_lamports: u64,
    pub prepare_lamports: u64,
}

pub async fn run(members: usize) -> anyhow::Result<PipelineBench> {
    if members == 0 {
        bail!("--recipients must be at least 1");
    }
    let t = Instant::now();
    let budget = (members as u64) * 10 * STK;
    let defaults = EconomyOptions::default();
    let options = EconomyOptions {
        budget_per_epoch: budget,
        limits: stk::Limits {
            max_emission_per_epoch: budget,
            rate_threshold: budget,
            ..defaults.limits
        },
        ..defaults
    };
    let economy = LocalEconomy::start(options).await?;
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let cfg = economy.config(&url);
    let store = Store::connect(&cfg.database).await?;
    store.migrate().await?;
    let rules = stk_scoring::RuleSet::from_toml(crate::dev::demo::DEMO_RULES)?;

    eprintln!("• {members} members with wallets and activity ...");
    let (start, _) = cfg.epoch_window(0);
    let template = crate::epoch::template(&cfg);
    let mut events = Vec::with_capacity(members * 3);
    for i in 0..members {
        let id = format!("m{i:06}");
        bind_wallet(&store, &id, &solana_sdk::signature::Keypair::new()).await?;
        store.set_member_status(&id, true).await?;
        for (day, kind) in [(0, "practice_session"), (1, "help_given"), (2, "review")] {
            events.push(NewActivity {
                id: format!("{id}-{day}"),
                member: id.clone(),
                kind: kind.into(),
                occurred_at: start + day * 86_400 + 3_600 + (i % 3_000) as i64,
                epoch: 0,
                attributes: None,
                confirmations: vec![],
                source: "member".into(),
                signature: None,
            });
        }
    }
    for batch in events.chunks(1_000) {
        store.ingest(batch, template).await?;
    }
    let setup_secs = t.elapsed().as_secs_f64();

    let chain: Arc<dyn Chain> = Arc::new(economy.chain.clone());
    let mut p = Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg),
        rules: Arc::new(rules),
        chain: chain.clone(),
        payer: economy.payer.clone(),
        oracle: Some(economy.oracles[0].clone()),
        send: SendOptions::default(),
        fail: Some(FailPoint::AfterTransition(State::Scored)),
        progress: true,
    };
    eprintln!("• freeze + score ...");
    let t = Instant::now();
    expect_injected(p.run(0).await)?;
    let score_secs = t.elapsed().as_secs_f64();

    eprintln!("• attest (oracles 0 and 1) ...");
    let t = Instant::now();
    p.fail = None;
    let (state, _) = p.run(0).await?;
    if state != State::Attested {
        bail!("expected attested, got {state}");
    }
    let plan = store.epoch_plan(0).await?.context("plan")?;
    pipeline::attest(chain.as_ref(), &economy.oracles[1], &plan).await?;
    let attest_secs = t.elapsed().as_secs_f64();

    eprintln!("• token accounts + lookup tables ...");
    let payer_before = ops_lamports(chain.as_ref(), &economy.payer.pubkey()).await?;
    let t = Instant::now();
    p.fail = Some(FailPoint::AfterTransition(State::Distributing));
    expect_injected(p.run(0).await)?;
    let prepare_secs = t.elapsed().as_secs_f64();
    let prepare_lamports =
        payer_before - ops_lamports(chain.as_ref(), &economy.payer.pubkey()).await?;

    eprintln!("• distribute {} chunks ...", plan.chunk_count);
    p.fail = None;
    let t = Instant::now();
    let (state, report) = p.run(0).await?;
    let distribute_secs = t.elapsed().as_secs_f64();
    if state != State::Done {
        bail!("expected done, got {state}");
    }
    let supply = ops::mint_supply(chain.as_ref(), &stk::client::mint_address()).await?;
    if supply != plan.total_amount {
        bail!("supply {supply} != allocated {}", plan.total_amount);
    }
    let chunks = store.epoch_chunks(0).await?;
    let tables: std::collections::BTreeSet<_> = chunks
        .iter()
        .filter_map(|c| c.lookup_table.clone())
        .collect();
    Ok(PipelineBench {
        recipients: plan.recipient_count,
        chunks: plan.chunk_count,
        setup_secs,
        score_secs,
        attest_secs,
        prepare_secs,
        distribute_secs,
        token_accounts_created: plan.recipient_count as usize,
        lookup_tables: tables.len(),
        distribute_fee_lamports: report.fee_lamports,
        prepare_lamports,
    })
}

async fn ops_lamports(chain: &dyn Chain, key: &solana_sdk::pubkey::Pubkey) -> anyhow::Result<u64> {
    Ok(chain.account(key).await?.map_or(0, |a| a.lamports))
}

fn expect_injected(
    r: Result<(State, crate::pipeline::RunReport), PipelineError>,
) -> anyhow::Result<()> {
    match r {
        Err(PipelineError::Injected(_)) => Ok(()),
        Err(e) => Err(e.into()),
        Ok((state, _)) => bail!("the run ended at {state} before the measured stage"),
    }
}

pub fn report(b: &PipelineBench) -> String {
    let per_1000 = |v: f64| v * 1_000.0 / b.recipients.max(1) as f64;
    let pipeline_secs = b.score_secs + b.attest_secs + b.prepare_secs + b.distribute_secs;
    format!(
        "recipients                      {}\n\
         chunks (distribute txs)         {} ({:.1} per 1,000 recipients)\n\
         lookup tables                   {}\n\
         setup (members, activity)       {:.2} s (not part of the pipeline)\n\
         freeze + score + tree           {:.2} s\n\
         attest (2 oracles)              {:.2} s\n\
         token accounts + lookup tables  {:.2} s ({} accounts created, {} lamports incl. rent)\n\
         distribute                      {:.2} s\n\
         pipeline total                  {:.2} s\n\
         distribute fees                 {} lamports ({:.0} per 1,000 recipients)\n",
        b.recipients,
        b.chunks,
        per_1000(b.chunks as f64),
        b.lookup_tables,
        b.setup_secs,
        b.score_secs,
        b.attest_secs,
        b.prepare_secs,
        b.token_accounts_created,
        b.prepare_lamports,
        b.distribute_secs,
        pipeline_secs,
        b.distribute_fee_lamports,
        per_1000(b.distribute_fee_lamports as f64),
    )
}
