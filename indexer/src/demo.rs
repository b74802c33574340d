//! `stk-indexer demo`: the whole economy on one machine, no setup. SQLite + the in-process chain.
//!
//! 1. The STK program is initialized on the in-process chain with a test quote mint ("USDC"), three
//!    community oracles (threshold 2) and an admin.
//! 2. The service starts its real HTTP API on 127.0.0.1; ~500 members are created through it, bind
//!    their wallets with signed challenges, and are activated.
//! 3. Four epochs of activity are posted through `POST /v1/activities`, by three behaviour profiles:
//!    steady (a little on most days, every epoch), bursty (everything on one day, some epochs) and
//!    farmers (one kind at the maximum rate, every day).
//! 4. Each epoch runs through the pipeline: frozen, scored, attested by the service's oracle; a second
//!    oracle fetches the epoch log over HTTP (`GET /v1/epochs/{n}/log`), verifies the digest, the rules
//!    hash and every wallet proof, recomputes the root and attests; the root finalizes and the STK is
//!    distributed chunk by chunk.
//! 5. Subscription revenue goes into the buyback vault, a window opens, some members sell back; an
//!    investor buys at the premium; a member pays for access in STK.
//! 6. The tables: STK per profile, supply, vault and its coverage, treasury — and the invariants.
use std::{collections::HashMap, fmt::Write as _, sync::Arc, time::Instant};

use anyhow::{bail, Context};
use ed25519_dalek::Signer as _;
use serde_json::json;
use solana_sdk::{pubkey::Pubkey, signature::Keypair, signer::Signer};
use stk::{client, BuyPremiumArgs, OpenBuybackWindowArgs, PayAccessArgs, SellBackArgs};
use tokio_util::sync::CancellationToken;

use crate::{
    chain::{ops, Chain},
    http::{AppState, Server},
    local::{EconomyOptions, LocalEconomy, STK, USDC},
    pipeline::{Pipeline, SendOptions, State},
    store::Store,
};

/// The rules the demo scores with (the committed example file).
pub const DEMO_RULES: &str = include_str!("../../rules/rules.v1.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    Steady,
    Bursty,
    Farmer,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Steady, Profile::Bursty, Profile::Farmer];
    pub fn name(self) -> &'static str {
        match self {
            Profile::Steady => "steady",
            Profile::Bursty => "bursty",
            Profile::Farmer => "farmer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub members: usize,
    pub epochs: u64,
    /// `sqlite://...` or `postgres://...`; `None`: a temporary SQLite file.
    pub database: Option<String>,
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            members: 498,
            epochs: 4,
            database: None,
            progress: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileStats {
    pub members: usize,
    pub raw_events: u64,
    /// STK received from epoch distributions, base units.
    pub received: u64,
}

impl ProfileStats {
    /// STK base units received per raw event posted.
    pub fn per_event(&self) -> f64 {
        self.received as f64 / self.raw_events.max(1) as f64
    }
}

/// Everything the demo measured, for the tables and for the tests.
#[derive(Debug, Clone, Default)]
pub struct DemoOutcome {
    pub profiles: Vec<(Profile, ProfileStats)>,
    pub epochs: Vec<EpochSummary>,
    /// Per recipient token account: (allocated over all epochs, balance before the market step).
    pub allocated_vs_held: Vec<(u64, u64)>,
    pub supply: u64,
    pub total_distributed: u64,
    pub total_premium_minted: u64,
    pub total_burned_sell_back: u64,
    pub total_burned_access: u64,
    pub revenue_deposited: u64,
    pub quote_paid_out: u64,
    pub vault_balance: u64,
    pub treasury_balance: u64,
    pub buyback_price: u64,
    pub sellers: usize,
    pub elapsed_secs: f64,
}

#[derive(Debug, Clone, Default)]
pub struct EpochSummary {
    pub epoch: u64,
    pub events: u64,
    pub recipients: u32,
    pub chunks: u32,
    pub total: u64,
    pub fees: u64,
}

/// Deterministic xorshift64* (the demo's numbers are the same every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Member {
    id: String,
    wallet: Keypair,
    profile: Profile,
}

/// Activity of one member in one epoch, as API events.
fn activity(
    m: &Member,
    epoch: u64,
    start: i64,
    rng: &mut Rng,
    peers: &[String],
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut push = |kind: &str, ts: i64, confirmations: Vec<String>| {
        out.push(json!({
            "id": format!("{}-e{epoch}-{}", m.id, out.len()),
            "member": m.id,
            "kind": kind,
            "occurred_at": crate::wallet::rfc3339(ts),
            "attributes": {"source": "demo"},
            "confirmations": confirmations,
        }));
    };
    const DAY: i64 = 86_400;
    match m.profile {
        Profile::Steady => {
            // Most days: a practice session, and on some days help given (confirmed by a peer).
            for day in 0..7 {
                if rng.below(7) < 5 {
                    let t = start + day * DAY + 8 * 3_600 + rng.below(3_600) as i64;
                    push("practice_session", t, vec![]);
                    if rng.below(3) == 0 {
                        let peer = peers[rng.below(peers.len() as u64) as usize].clone();
                        let peer = if peer == m.id { vec![] } else { vec![peer] };
                        push("help_given", t + 4 * 3_600, peer);
                    }
                }
            }
        }
        Profile::Bursty => {
            // Nothing in most epochs; then a whole week's worth in one afternoon.
            if epoch % 2 == 1 {
                let t = start + 2 * DAY + 14 * 3_600;
                for i in 0..8 {
                    push("practice_session", t + i * 600, vec![]);
                }
                for i in 0..4 {
                    push("help_given", t + 7_200 + i * 600, vec![]);
                }
            }
        }
        Profile::Farmer => {
            // The same easy kind, every hour of the waking day, every day.
            for day in 0..7 {
                for hour in 0..16 {
                    push(
                        "practice_session",
                        start + day * DAY + (6 + hour) * 3_600,
                        vec![],
                    );
                }
            }
        }
    }
    out
}

/// Runs the demo; prints progress to stderr when `options.progress`.
pub async fn run(options: DemoOptions) -> anyhow::Result<DemoOutcome> {
    let started = Instant::now();
    let say = |s: &str| {
        if options.progress {
            eprintln!("{s}");
        }
    };
    let rules = Arc::new(stk_scoring::Rules::from_toml(DEMO_RULES).context("demo rules")?);

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
    cfg.rate_limit.per_second = 100_000.0;
    cfg.rate_limit.burst = 100_000;
    let store = Store::connect(&cfg.database).await?;
    store.migrate().await?;

    let token = CancellationToken::new();
    let state = AppState::new(store.clone(), cfg.clone(), rules.clone());
    // Oracles are served the exact rules text the demo scores with.
    state
        .set_rules_toml(DEMO_RULES)
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

    // The market: revenue into the vault, a buyback window, sellers, an investor, an access payment.
    say("• subscription revenue funds the buyback vault; a window opens; members sell back");
    let price = 100_000; // 0.10 USDC per STK
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
    chain
        .send(
            &[client::open_buyback_window(
                admin.pubkey(),
                OpenBuybackWindowArgs {
                    price,
                    capacity: 15_000 * USDC,
                    per_member_cap: 100 * USDC,
                    duration_secs: 7 * 86_400,
                },
            )],
            &[&admin],
            &[],
        )
        .await?;
    let mut sellers = 0;
    for m in members.iter().step_by(7) {
        let stk_account = client::stk_ata(&m.wallet.pubkey());
        let balance = ops::token_balance(chain.as_ref(), &stk_account).await?;
        if balance < 10 * STK {
            continue;
        }
        economy
            .chain
            .airdrop(&m.wallet.pubkey(), 100_000_000)
            .await?;
        let quote_account = economy.fund_quote(&m.wallet.pubkey(), 0).await?;
        let sell = (balance / 2).min(900 * STK);
        let min_out = crate::demo::quote_for(sell, price);
        chain
            .send(
                &[client::sell_back(
                    m.wallet.pubkey(),
                    stk_account,
                    quote_account,
                    SellBackArgs {
                        stk_amount: sell,
                        min_quote_out: min_out,
                    },
                )],
                &[&m.wallet],
                &[],
            )
            .await?;
        sellers += 1;
    }
    say(&format!("• {sellers} members sold STK back; an investor buys at the premium; a member pays for access"));
    let investor = Keypair::new();
    economy
        .chain
        .airdrop(&investor.pubkey(), 1_000_000_000)
        .await?;
    let investor_quote = economy
        .fund_quote(&investor.pubkey(), 100_000 * USDC)
        .await?;
    let investor_stk = economy
        .chain
        .with(async |c| c.ata(&investor.pubkey(), &client::mint_address()).await)
        .await
        .map_err(|e| anyhow::anyhow!("investor token account: {e}"))?;
    chain
        .send(
            &[client::buy_premium(
                investor.pubkey(),
                investor_stk,
                investor_quote,
                false,
                BuyPremiumArgs {
                    stk_amount: 50_000 * STK,
                    max_quote_in: 50_000 * USDC,
                },
            )],
            &[&investor],
            &[],
        )
        .await?;
    let payer_member = &members[0];
    economy
        .chain
        .airdrop(&payer_member.wallet.pubkey(), 100_000_000)
        .await?;
    chain
        .send(
            &[client::pay_access(
                payer_member.wallet.pubkey(),
                client::stk_ata(&payer_member.wallet.pubkey()),
                PayAccessArgs {
                    stk_amount: 5 * STK,
                    plan: 1,
                    reference: [42; 32],
                },
            )],
            &[&payer_member.wallet],
            &[],
        )
        .await?;

    let config = ops::config(chain.as_ref()).await?.context("config")?;
    outcome.epochs = epochs;
    outcome.supply = ops::mint_supply(chain.as_ref(), &client::mint_address()).await?;
    outcome.total_distributed = config.total_distributed;
    outcome.total_premium_minted = config.total_premium_minted;
    outcome.total_burned_sell_back = config.total_burned_sell_back;
    outcome.total_burned_access = config.total_burned_access;
    outcome.revenue_deposited = config.total_revenue_deposited;
    outcome.quote_paid_out = config.total_quote_paid_out;
    outcome.vault_balance = ops::token_balance(chain.as_ref(), &client::vault_address()).await?;
    outcome.treasury_balance =
        ops::token_balance(chain.as_ref(), &client::treasury_address()).await?;
    outcome.buyback_price = config.buyback_price;
    outcome.sellers = sellers;
    outcome.elapsed_secs = started.elapsed().as_secs_f64();

    server.shutdown().await?;
    store.close().await;
    Ok(outcome)
}

/// Quote the vault pays for `stk` at `price` (rounded down, as the program does).
pub fn quote_for(stk: u64, price: u64) -> u64 {
    stk::math::sell_back_quote(stk, price).unwrap_or(0)
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

/// Base units as a decimal amount with 6 decimals, thousands separated.
pub fn fmt_units(v: u64) -> String {
    let whole = v / 1_000_000;
    let frac = v % 1_000_000;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{frac:06}")
}

/// The demo's tables.
pub fn report(o: &DemoOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSTK per profile (rewards from {} epochs)",
        o.epochs.len()
    );
    let _ = writeln!(
        s,
        "  {:<8} {:>7} {:>10} {:>18} {:>16} {:>14}",
        "profile", "members", "raw events", "STK received", "STK per member", "STK per event"
    );
    for (p, st) in &o.profiles {
        let _ = writeln!(
            s,
            "  {:<8} {:>7} {:>10} {:>18} {:>16} {:>14}",
            p.name(),
            st.members,
            st.raw_events,
            fmt_units(st.received),
            fmt_units(st.received / st.members.max(1) as u64),
            format!("{:.3}", st.per_event() / 1_000_000.0)
        );
    }
    let _ = writeln!(s, "\nEpochs");
    let _ = writeln!(
        s,
        "  {:>5} {:>8} {:>10} {:>6} {:>18} {:>12}",
        "epoch", "events", "recipients", "chunks", "STK distributed", "fees (lamp.)"
    );
    for e in &o.epochs {
        let _ = writeln!(
            s,
            "  {:>5} {:>8} {:>10} {:>6} {:>18} {:>12}",
            e.epoch,
            e.events,
            e.recipients,
            e.chunks,
            fmt_units(e.total),
            e.fees
        );
    }
    let burned = o.total_burned_sell_back + o.total_burned_access;
    let circulating_value = stk::math::sell_back_quote(o.supply, o.buyback_price).unwrap_or(0);
    let coverage = if circulating_value == 0 {
        0.0
    } else {
        o.vault_balance as f64 * 100.0 / circulating_value as f64
    };
    let _ = writeln!(s, "\nSupply and money (STK and USDC, 6 decimals)");
    let _ = writeln!(
        s,
        "  distributed to members     {:>20} STK",
        fmt_units(o.total_distributed)
    );
    let _ = writeln!(
        s,
        "  minted to investors        {:>20} STK",
        fmt_units(o.total_premium_minted)
    );
    let _ = writeln!(
        s,
        "  burned (sold back)         {:>20} STK",
        fmt_units(o.total_burned_sell_back)
    );
    let _ = writeln!(
        s,
        "  burned (access payments)   {:>20} STK",
        fmt_units(o.total_burned_access)
    );
    let _ = writeln!(
        s,
        "  supply                     {:>20} STK",
        fmt_units(o.supply)
    );
    let _ = writeln!(
        s,
        "  buyback price              {:>20} USDC per STK",
        fmt_units(o.buyback_price)
    );
    let _ = writeln!(
        s,
        "  revenue deposited          {:>20} USDC",
        fmt_units(o.revenue_deposited)
    );
    let _ = writeln!(
        s,
        "  paid to {:>3} sellers        {:>20} USDC",
        o.sellers,
        fmt_units(o.quote_paid_out)
    );
    let _ = writeln!(
        s,
        "  vault balance              {:>20} USDC",
        fmt_units(o.vault_balance)
    );
    let _ = writeln!(
        s,
        "  vault coverage             {:>19.1}% of supply at the buyback price",
        coverage
    );
    let _ = writeln!(
        s,
        "  treasury (premium sales)   {:>20} USDC",
        fmt_units(o.treasury_balance)
    );
    let _ = writeln!(s, "\nInvariants");
    let mismatched = o.allocated_vs_held.iter().filter(|(a, h)| a != h).count();
    let _ = writeln!(
        s,
        "  balances = allocations           {} ({} recipients, {} mismatched)",
        ok(mismatched == 0),
        o.allocated_vs_held.len(),
        mismatched
    );
    let _ = writeln!(
        s,
        "  supply = distributed + premium − burned   {}",
        ok(o.supply + burned == o.total_distributed + o.total_premium_minted)
    );
    let _ = writeln!(
        s,
        "  vault paid ≤ deposited            {}",
        ok(o.quote_paid_out + o.vault_balance == o.revenue_deposited)
    );
    let order = o
        .profiles
        .iter()
        .map(|(_, p)| p.per_event())
        .collect::<Vec<_>>();
    let _ = writeln!(
        s,
        "  per raw event: steady > bursty > farmer   {}",
        ok(order.len() == 3 && order[0] > order[1] && order[1] > order[2])
    );
    let _ = writeln!(s, "\nfinished in {:.1} s", o.elapsed_secs);
    s
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "VIOLATED"
    }
}

/// The demo's invariants; the CLI exits non-zero when one fails.
pub fn invariants_hold(o: &DemoOutcome) -> bool {
    let burned = o.total_burned_sell_back + o.total_burned_access;
    let order: Vec<f64> = o.profiles.iter().map(|(_, p)| p.per_event()).collect();
    o.allocated_vs_held.iter().all(|(a, h)| a == h)
        && o.supply + burned == o.total_distributed + o.total_premium_minted
        && o.quote_paid_out + o.vault_balance == o.revenue_deposited
        && order.len() == 3
        && order[0] > order[1]
        && order[1] > order[2]
}
