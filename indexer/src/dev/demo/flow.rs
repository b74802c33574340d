//! The demo's run: the economy, the API, members and activity, the epochs through the pipeline and a
//! second oracle, then the market (buyback, premium sale, access payment).
use std::{collections::HashMap, sync::Arc, time::Instant};

use anyhow::{bail, Context};
use ed25519_dalek::Signer as _;
use serde_json::json;
use solana_sdk::{pubkey::Pubkey, signature::Keypair, signer::Signer};
use stk::client;
use tokio_util::sync::CancellationToken;

use super::activity::{activity, Member, Rng};
use super::{DemoOptions, DemoOutcome, EpochSummary, Profile, ProfileStats, DEMO_RULES};
use crate::{
    chain::{ops, Chain},
    dev::local::{EconomyOptions, LocalEconomy, STK, USDC},
    fmt::fmt_units,
    http::{AppState, Server},
    pipeline::{Pipeline, SendOptions, State},
    store::Store,
};

/// Runs the demo; prints progress to stderr when `options.progress`.
pub async fn run(options: DemoOptions) -> anyhow::Result<DemoOutcome> {
    let started = Instant::now();
    let say = |s: &str| {
        if options.progress {
            eprintln!("{s}");
        }
    };
    // The member ids are fixed (`<profile>-<index>`), so the v2 masters are known up front.
    let steady_names: Vec<String> = (0..options.members)
        .filter(|i| Profile::ALL[i % 3] == Profile::Steady)
        .map(|i| format!("{}-{i:03}", Profile::Steady.name()))
        .collect();
    let masters = super::v2::masters(&steady_names);
    let rules_text = if options.rules_v2 {
        super::v2::rules_text(&masters)?
    } else {
        DEMO_RULES.to_owned()
    };
    let rules = Arc::new(stk_scoring::RuleSet::from_toml(&rules_text).context("demo rules")?);

    say(
        "• starting the in-process chain and initializing the STK program (3 oracles, threshold 2)",
    );
    let economy = LocalEconomy::start(EconomyOptions {
        epochs_ago: options.epochs as i64 + 1,
        ..EconomyOptions::default()
    })
    .await?;
    let chain: Arc<dyn Chain> = Arc::new(economy.chain.clone());

    let dir = tempfile::tempdir()?;
    let url = options
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display()));
    let mut cfg = economy.config(&url);
    // The rules file the service reads is the one the demo scores with.
    let rules_path = dir.path().join("rules.toml");
    std::fs::write(&rules_path, &rules_text)?;
    cfg.scoring.rules_path = rules_path;
    cfg.rate_limit.per_second = 100_000.0;
    cfg.rate_limit.burst = 100_000;
    let store = Store::connect(&cfg.database).await?;
    store.migrate().await?;

    let token = CancellationToken::new();
    store
        .save_rules_text(&hex::encode(rules.hash()), &rules_text)
        .await?;
    let state = AppState::new(store.clone(), cfg.clone(), rules.clone());
    // Oracles are served the exact rules text the demo scores with.
    state
        .set_rules_toml(&rules_text)
        .map_err(|e| anyhow::anyhow!("demo rules: {e}"))?;
    let server = Server::start("127.0.0.1:0".parse()?, state, token.clone()).await?;
    let base = format!("http://{}", server.addr);
    let key = crate::auth::create_key(&store, "demo-platform")
        .await?
        .context("creating the demo API key")?
        .key;
    let http = reqwest::Client::new();
    say(&format!("• API on {base} (SQLite: {url})"));

    // Members, through the API.
    say(&format!(
        "• {} members join, bind their wallets (signed challenges) and are activated",
        options.members
    ));
    let mut members = Vec::with_capacity(options.members);
    for i in 0..options.members {
        let profile = Profile::ALL[i % 3];
        let id = format!("{}-{i:03}", profile.name());
        let wallet = Keypair::new();
        let address = wallet.pubkey().to_string();
        expect_ok(
            http.post(format!("{base}/v1/members"))
                .bearer_auth(&key)
                .json(&json!({"id": id}))
                .send()
                .await?,
        )
        .await?;
        let challenge: crate::http::wire::Challenge = expect_ok(
            http.get(format!("{base}/v1/members/{id}/wallet/challenge"))
                .query(&[("wallet", &address)])
                .bearer_auth(&key)
                .send()
                .await?,
        )
        .await?
        .json()
        .await?;
        let signing = ed25519_dalek::SigningKey::from_bytes(
            wallet.secret_bytes()[..32]
                .try_into()
                .expect("32-byte secret"),
        );
        let signature =
            bs58::encode(signing.sign(challenge.message.as_bytes()).to_bytes()).into_string();
        expect_ok(
            http.post(format!("{base}/v1/members/{id}/wallet"))
                .bearer_auth(&key)
                .json(&json!({"wallet": address, "nonce": challenge.nonce, "signature": signature}))
                .send()
                .await?,
        )
        .await?;
        expect_ok(
            http.post(format!("{base}/v1/members/{id}/activate"))
                .bearer_auth(&key)
                .send()
                .await?,
        )
        .await?;
        members.push(Member {
            id,
            wallet,
            profile,
        });
    }
    // Rules v2: an observed source (the app) reports practice; the platform reports subscriptions;
    // the masters vouch for the members; the service's clock follows the replayed days.
    let mut app_key = String::new();
    let replay = if options.rules_v2 {
        app_key = crate::auth::create_key_with_scopes(
            &store,
            "demo-app",
            &[crate::auth::Scope::Ingest],
            Some("app"),
        )
        .await?
        .context("creating the app's key")?
        .key;
        let replay = super::v2::Replay;
        crate::store::set_clock(Some(cfg.epoch_window(0).0 + 60));
        say(&format!(
            "• rules v2: subscriptions reported, {} masters vouch for the members",
            masters.len()
        ));
        let paid_until = cfg.epoch_window(options.epochs).1 + 7 * 86_400;
        super::v2::onboard(&http, &base, &key, &members, &masters, paid_until).await?;
        Some(replay)
    } else {
        None
    };
    let steady_ids: Vec<String> = members
        .iter()
        .filter(|m| m.profile == Profile::Steady)
        .map(|m| m.id.clone())
        .collect();

    // Activity, through the API, in batches of 1,000.
    let mut rng = Rng(0x5157_0b5e_55ed_2026);
    let mut raw: HashMap<Profile, u64> = HashMap::new();
    let mut per_epoch_events = vec![0u64; options.epochs as usize];
    for epoch in 0..options.epochs {
        let (start, _) = cfg.epoch_window(epoch);
        let mut events = Vec::new();
        for m in &members {
            let a = activity(m, epoch, start, &mut rng, &steady_ids);
            *raw.entry(m.profile).or_default() += a.len() as u64;
            events.extend(a);
        }
        per_epoch_events[epoch as usize] = events.len() as u64;
        if options.rules_v2 {
            super::v2::post_epoch(&http, &base, &key, &app_key, &members, start, events).await?;
            continue;
        }
        for batch in events.chunks(1_000) {
            let r: serde_json::Value = expect_ok(
                http.post(format!("{base}/v1/activities"))
                    .bearer_auth(&key)
                    .json(&json!({"events": batch}))
                    .send()
                    .await?,
            )
            .await?
            .json()
            .await?;
            if r["rejected"].as_u64().unwrap_or(0) > 0 {
                bail!("the API rejected demo events: {r}");
            }
        }
    }
    // The replay is over: the wall clock again (every epoch has ended by it).
    drop(replay);
    say(&format!(
        "• {} events posted over {} epochs (steady {}, bursty {}, farmer {})",
        per_epoch_events.iter().sum::<u64>(),
        options.epochs,
        raw.get(&Profile::Steady).unwrap_or(&0),
        raw.get(&Profile::Bursty).unwrap_or(&0),
        raw.get(&Profile::Farmer).unwrap_or(&0)
    ));

    // The pipeline: the service runs oracle 0; oracle 1 is another community operator.
    let pipeline = Pipeline {
        store: store.clone(),
        cfg: Arc::new(cfg.clone()),
        rules: rules.clone(),
        chain: chain.clone(),
        payer: economy.payer.clone(),
        oracle: Some(economy.oracles[0].clone()),
        send: SendOptions::default(),
        fail: None,
        progress: options.progress,
    };
    let mut epochs = Vec::new();
    for epoch in 0..options.epochs {
        let (state, first) = pipeline.run(epoch).await?;
        if state != State::Attested {
            bail!("epoch {epoch} stopped at {state} before the other oracles");
        }
        let plan = store
            .epoch_plan(epoch)
            .await?
            .context("scored epoch has a plan")?;
        second_oracle(&base, chain.as_ref(), &economy.oracles[1], epoch, &plan).await?;
        let (state, second) = pipeline.run(epoch).await?;
        if state != State::Done {
            bail!("epoch {epoch} stopped at {state}");
        }
        say(&format!(
            "• epoch {epoch}: {} recipients, {} chunks, {} STK distributed",
            plan.recipient_count,
            plan.chunk_count,
            fmt_units(plan.total_amount)
        ));
        epochs.push(EpochSummary {
            epoch,
            events: per_epoch_events[epoch as usize],
            recipients: plan.recipient_count,
            chunks: plan.chunk_count,
            total: plan.total_amount,
            fees: first.fee_lamports + second.fee_lamports,
        });
    }

    // What every member was allocated and what they hold (before anyone sells or spends).
    let mut allocated: HashMap<String, (String, u64)> = HashMap::new();
    for epoch in 0..options.epochs {
        for r in store.epoch_recipients(epoch).await? {
            let e = allocated
                .entry(r.token_account.clone())
                .or_insert((r.member_id.clone(), 0));
            e.1 += r.amount;
        }
    }
    let accounts: Vec<Pubkey> = allocated
        .keys()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let held = ops::token_balances(chain.as_ref(), &accounts).await?;
    let mut outcome = DemoOutcome::default();
    let mut received: HashMap<Profile, u64> = HashMap::new();
    let by_id: HashMap<&str, Profile> =
        members.iter().map(|m| (m.id.as_str(), m.profile)).collect();
    for (account, balance) in accounts.iter().zip(&held) {
        let (member, amount) = &allocated[&account.to_string()];
        outcome.allocated_vs_held.push((*amount, *balance));
        *received.entry(by_id[member.as_str()]).or_default() += amount;
    }
    for p in Profile::ALL {
        outcome.profiles.push((
            p,
            ProfileStats {
                members: members.iter().filter(|m| m.profile == p).count(),
                raw_events: raw.get(&p).copied().unwrap_or(0),
                received: received.get(&p).copied().unwrap_or(0),
            },
        ));
    }

    // The market: revenue into the vault, a tender window by rule, sellers, an investor, an access
    // payment.
    say("• subscription revenue funds the buyback vault; a tender window by rule; members offer STK");
    let platform = Keypair::new();
    economy
        .chain
        .airdrop(&platform.pubkey(), 10_000_000_000)
        .await?;
    let revenue = 20_000 * USDC;
    let source = economy.fund_quote(&platform.pubkey(), revenue).await?;
    chain
        .send(
            &[client::deposit_revenue(platform.pubkey(), source, revenue)],
            &[&platform],
            &[],
        )
        .await?;
    let admin = economy.admin.clone();
    // A pro-rata tender window by rule: once the clock reaches the next revenue period, the revenue
    // above is the last period's inflow; the admin announces the window ahead at the rule's price and
    // capacity; members order (arrival order does not matter), anyone settles, each claims.
    let config = ops::config(chain.as_ref()).await?.context("config")?;
    let next = config.genesis_ts + (config.period_index as i64 + 1) * config.epoch_duration;
    economy.chain.with(async |c| c.set_time(next).await).await;
    let rule = crate::member_tx::tender_rule(chain.as_ref()).await?;
    let window = stk::AnnounceTenderWindowArgs {
        window_id: rule.window_id,
        price: rule.price,
        capacity: rule.capacity,
        opens_at: next + 60,
        closes_at: next + 86_400,
    };
    chain
        .send(
            &[client::announce_tender_window(admin.pubkey(), window)],
            &[&admin],
            &[],
        )
        .await?;
    economy
        .chain
        .with(async |c| c.set_time(window.opens_at).await)
        .await;
    let mut orders = Vec::new();
    for m in members.iter().step_by(5) {
        let balance =
            ops::token_balance(chain.as_ref(), &client::stk_ata(&m.wallet.pubkey())).await?;
        if balance < 10 * STK {
            continue;
        }
        economy
            .chain
            .airdrop(&m.wallet.pubkey(), 100_000_000)
            .await?;
        let ixs = crate::member_tx::place_order(
            chain.as_ref(),
            m.wallet.pubkey(),
            window.window_id,
            balance / 2,
        )
        .await?;
        chain.send(&ixs, &[&m.wallet], &[]).await?;
        orders.push(m);
    }
    economy
        .chain
        .with(async |c| c.set_time(window.closes_at).await)
        .await;
    chain
        .send(&[client::settle_window(window.window_id)], &[&admin], &[])
        .await?;
    for m in &orders {
        let claim =
            crate::member_tx::claim_order(chain.as_ref(), m.wallet.pubkey(), window.window_id)
                .await?;
        chain.send(&claim.ixs, &[&m.wallet], &[]).await?;
    }
    outcome.tender_orders = orders.len();
    say(&format!(
        "• tender window #{} by rule (price {}, capacity {} USDC): {} orders, one fill ratio, each claimed",
        window.window_id,
        fmt_units(window.price),
        fmt_units(window.capacity),
        orders.len()
    ));
    say("• an investor buys at the premium; a member pays for access");
    // The premium sale is priced at 10x the floor; a share goes to the vault, so the floor holds.
    let investor = Keypair::new();
    economy
        .chain
        .airdrop(&investor.pubkey(), 1_000_000_000)
        .await?;
    let floor_before = backing(chain.as_ref()).await?;
    let purchase =
        crate::member_tx::buy_premium(chain.as_ref(), investor.pubkey(), 50_000 * STK, 0, None)
            .await?;
    economy
        .fund_quote(&investor.pubkey(), purchase.quote.paid)
        .await?;
    chain.send(&purchase.ixs, &[&investor], &[]).await?;
    let floor_after = backing(chain.as_ref()).await?;
    outcome.premium_floor_kept = floor_after.floor_at_least(&floor_before);
    let p = purchase.quote;
    say(&format!(
        "• premium sale: 50,000 STK at {} USDC ({} bps of the floor {}) for {} USDC: {} to the vault, {} to the treasury",
        fmt_units(p.price),
        p.premium_bps,
        fmt_units(p.floor_price),
        fmt_units(p.paid),
        fmt_units(p.to_vault),
        fmt_units(p.to_treasury)
    ));
    // Plan 1 (30 days) at the floor: its fiat price less the discount, in STK, burned. The first
    // member holding the price pays it.
    let plan = crate::member_tx::plan(chain.as_ref(), 1)
        .await
        .map_err(|e| anyhow::anyhow!("plan 1: {e}"))?;
    let price = plan.price.context("plan 1 has a price at the floor")?;
    let mut payer_member = None;
    for m in &members {
        let held = ops::token_balance(chain.as_ref(), &client::stk_ata(&m.wallet.pubkey())).await?;
        if held >= price {
            payer_member = Some(m);
            break;
        }
    }
    let payer_member = payer_member.context("no member holds the price of plan 1")?;
    economy
        .chain
        .airdrop(&payer_member.wallet.pubkey(), 100_000_000)
        .await?;
    let pay =
        crate::member_tx::pay_access(chain.as_ref(), payer_member.wallet.pubkey(), 1, 0, [42; 32])
            .await
            .map_err(|e| anyhow::anyhow!("pay_access: {e}"))?;
    chain.send(&pay.ixs, &[&payer_member.wallet], &[]).await?;

    let config = ops::config(chain.as_ref()).await?.context("config")?;
    outcome.epochs = epochs;
    outcome.supply = ops::mint_supply(chain.as_ref(), &client::mint_address()).await?;
    outcome.total_distributed = config.total_distributed;
    outcome.total_premium_minted = config.total_premium_minted;
    outcome.premium_quote_in = config.total_premium_quote_in;
    outcome.premium_to_vault = config.total_premium_to_vault;
    outcome.total_burned_sell_back = config.total_burned_sell_back;
    outcome.total_burned_access = config.total_burned_access;
    outcome.revenue_deposited = config.total_revenue_deposited;
    outcome.quote_paid_out = config.total_quote_paid_out;
    outcome.vault_balance = ops::token_balance(chain.as_ref(), &client::vault_address()).await?;
    outcome.treasury_balance =
        ops::token_balance(chain.as_ref(), &client::treasury_address()).await?;
    outcome.buyback_price = window.price;
    outcome.sellers = outcome.tender_orders;
    outcome.elapsed_secs = started.elapsed().as_secs_f64();

    server.shutdown().await?;
    store.close().await;
    Ok(outcome)
}

/// The published backing (free vault behind floating STK) at the chain's state.
async fn backing(chain: &dyn Chain) -> anyhow::Result<stk::economy::Backing> {
    let config = ops::config(chain).await?.context("config")?;
    let vault = ops::token_balance(chain, &config.vault).await?;
    let supply = ops::mint_supply(chain, &config.stk_mint).await?;
    config
        .backing(vault, supply)
        .map_err(|e| anyhow::anyhow!("backing: {e}"))
}

/// The second community oracle: an independent operator fetches the epoch's log, rules and wallet
/// proofs over HTTP, recomputes the root itself and attests only if everything is identical.
async fn second_oracle(
    base: &str,
    chain: &dyn Chain,
    oracle: &Keypair,
    epoch: u64,
    plan: &crate::store::EpochPlan,
) -> anyhow::Result<()> {
    let source = crate::oracle::fetch(base, epoch).await?;
    let outcome = crate::oracle::verify_and_attest(&source, chain, oracle).await?;
    if outcome.plan.root != plan.root {
        bail!("the second oracle recomputed another root for epoch {epoch}");
    }
    Ok(())
}

async fn expect_ok(r: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if r.status().is_success() {
        return Ok(r);
    }
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    bail!("API answered {status}: {body}")
}
