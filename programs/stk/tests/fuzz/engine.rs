//! Stateful fuzzing of the STK program on the in-process chain (`stk-localnet`).
//!
//! Each sequence starts a fresh chain (initialize on randomly prefunded addresses), then runs random
//! steps: every instruction, valid and invalid (random signers, amounts at the edges, substituted
//! accounts, tampered chunks and proofs), clock jumps, and lamports sent to addresses the program will
//! create. After every step it checks the economy's invariants against the chain and against a model
//! built only from the emitted events; a token balance that changed without its event is a failure.
//!
//! Deterministic: a sequence is fully determined by its seed (`seed + sequence index`), printed on failure.
//! Shared by the `fuzz` test (bounded) and `cargo run --release -p stk --example fuzz` (long runs).
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    time::{Duration, Instant},
};

use anchor_lang::prelude::Pubkey;
use rand_chacha::{
    rand_core::{RngCore, SeedableRng},
    ChaCha8Rng,
};
use solana_sdk::{
    instruction::{Instruction, InstructionError},
    signature::Keypair,
    signer::Signer,
    transaction::TransactionError,
};
use stk::{
    client::{self, StkEvent},
    constants::*,
    economy::{access_price_stk, buyback_price, emission_cap, window_capacity, Fill},
    merkle::{Allocation, EpochTree},
    state::{Config, Epoch, Plan},
    AnnounceTenderWindowArgs, BuyPremiumArgs, DistributeArgs, InitializeArgs, Limits,
    PayAccessArgs, PlaceOrderArgs, SetPlanArgs,
};
use stk_localnet::{BanksClientError, ComputeBudgetInstruction, LocalChain};

const STK: u64 = 1_000_000;
const USDC: u64 = 1_000_000;
const EPOCH_SECS: i64 = 86_400;
/// Lamports measured to block an address under Anchor's `init` (below any account's rent exemption).
const DUST: u64 = 890_880;
/// More than any account's rent exemption.
const PLENTY: u64 = 3_000_000_000;
const CAP: u64 = 1_000 * STK;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct FuzzConfig {
    pub seed: u64,
    pub sequences: u64,
    pub steps: u64,
}

/// What was run.
#[derive(Debug, Default)]
pub struct Report {
    pub sequences: u64,
    pub steps: u64,
    /// Transactions per instruction: (succeeded, refused).
    pub instructions: BTreeMap<&'static str, (u64, u64)>,
    /// Steps that are not program instructions (clock jumps, lamports sent to future addresses).
    pub other_steps: BTreeMap<&'static str, u64>,
    pub invariant_checks: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let (ok, err) = self
            .instructions
            .values()
            .fold((0, 0), |(a, b), (o, e)| (a + o, b + e));
        let _ = writeln!(
            out,
            "sequences {}  steps {}  transactions {} (ok {ok}, refused {err})  invariant checks {}  elapsed {:.1} s",
            self.sequences,
            self.steps,
            ok + err,
            self.invariant_checks,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(out, "{:<26}{:>10}{:>10}", "instruction", "ok", "refused");
        for (name, (ok, err)) in &self.instructions {
            let _ = writeln!(out, "{name:<26}{ok:>10}{err:>10}");
        }
        for (name, n) in &self.other_steps {
            let _ = writeln!(out, "{name:<26}{n:>10}");
        }
        out
    }

    fn merge(&mut self, other: Report) {
        self.sequences += other.sequences;
        self.steps += other.steps;
        self.invariant_checks += other.invariant_checks;
        for (k, (o, e)) in other.instructions {
            let entry = self.instructions.entry(k).or_default();
            entry.0 += o;
            entry.1 += e;
        }
        for (k, n) in other.other_steps {
            *self.other_steps.entry(k).or_default() += n;
        }
    }
}

/// Runs `config.sequences` sequences of `config.steps` steps; the error names the failing sequence's
/// seed, the step, the broken invariant and the steps that led there.
pub async fn run(config: FuzzConfig) -> Result<Report, String> {
    let started = Instant::now();
    let mut report = Report::default();
    for i in 0..config.sequences {
        let seed = config.seed.wrapping_add(i);
        let mut world = World::new(seed).await;
        for step in 0..config.steps {
            if let Err(e) = world.step().await {
                return Err(format!(
                    "invariant broken: {e}\n  sequence seed {seed} (run {i}), step {step}\n  \
                     reproduce: cargo run --release -p stk --example fuzz -- --seed {seed} --sequences 1 --steps {}\n  \
                     last steps:\n{}",
                    config.steps,
                    world.log.join("\n")
                ));
            }
        }
        world
            .check_all_epochs()
            .await
            .map_err(|e| format!("invariant broken at the end of sequence seed {seed}: {e}"))?;
        world.report.sequences = 1;
        report.merge(std::mem::take(&mut world.report));
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

struct Rng(ChaCha8Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// One of `edges` (40%) or a uniform value in `1..=typical`.
    fn amount(&mut self, typical: u64, edges: &[u64]) -> u64 {
        if self.chance(40) && !edges.is_empty() {
            *self.pick(edges)
        } else {
            1 + self.below(typical.max(1))
        }
    }
}

struct Actor {
    wallet: Keypair,
    stk: Pubkey,
    quote: Pubkey,
}

/// The model: running totals rebuilt from the emitted events only.
#[derive(Default)]
struct Model {
    distributed: u64,
    premium_minted: u64,
    burned_sell_back: u64,
    burned_access: u64,
    deposited: u64,
    funded: u64,
    paid_out: u64,
    withdrawn: u64,
    premium_quote: u64,
    /// The vault's share of the premium sales.
    premium_to_vault: u64,
    /// (epoch account, chunk) pairs paid.
    paid_chunks: HashSet<(Pubkey, u32)>,
    /// Per epoch account: (amount, chunks) paid.
    epoch_paid: HashMap<Pubkey, (u64, u32)>,
    /// Epoch number -> the root that finalized it.
    finalized: HashMap<u64, [u8; 32]>,
    /// Distribute mints (time, amount) since the limits last changed.
    mints: Vec<(i64, u64)>,
    /// Window id -> (capacity, per-member cap, quote sold, per member sold).
    windows: HashMap<u64, (u64, u64, u64, HashMap<Pubkey, u64>)>,
    allowed: HashSet<Pubkey>,
    /// Roots attested but not finalized: (epoch, root).
    pending: HashSet<(u64, [u8; 32])>,
    /// Addresses sent lamports before the program created an account there.
    prefunded: HashMap<Pubkey, u64>,
    /// Tender window id -> its fill (price, filled once settled, requested) and whether it is settled.
    tenders: HashMap<u64, (Fill, bool)>,
    /// Revenue period -> the emission allowance its deposits earned (from `RevenueDeposited`).
    allowances: HashMap<u64, u64>,
    /// Tender window id -> member -> escrowed STK of the member's open order.
    orders: HashMap<u64, HashMap<Pubkey, u64>>,
    /// Steps whose floor fell for a stated cause (emission, first-come sale, a window's reservation,
    /// unfilled STK back), and steps after which it was checked. A premium sale is no such cause.
    floor_checks: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Attest,
    Distribute,
    Deposit,
    BuyPremium,
    PayAccess,
    SetInvestor,
    UpdateLimits,
    SetPaused,
    SetOracles,
    ProposeAdmin,
    AcceptAdmin,
    WithdrawTreasury,
    FundVault,
    AnnounceTender,
    PlaceOrder,
    SettleTender,
    ClaimOrder,
    SetPlan,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Attest => "attest_epoch",
            Kind::Distribute => "distribute",
            Kind::Deposit => "deposit_revenue",
            Kind::BuyPremium => "buy_premium",
            Kind::PayAccess => "pay_access",
            Kind::SetInvestor => "set_investor",
            Kind::UpdateLimits => "update_limits",
            Kind::SetPaused => "set_paused",
            Kind::SetOracles => "set_oracles",
            Kind::ProposeAdmin => "propose_admin",
            Kind::AcceptAdmin => "accept_admin",
            Kind::WithdrawTreasury => "withdraw_treasury",
            Kind::FundVault => "fund_vault_from_treasury",
            Kind::AnnounceTender => "announce_tender_window",
            Kind::PlaceOrder => "place_order",
            Kind::SettleTender => "settle_window",
            Kind::ClaimOrder => "claim_order",
            Kind::SetPlan => "set_plan",
        }
    }

    fn admin_only(self) -> bool {
        matches!(
            self,
            Kind::AnnounceTender
                | Kind::SetInvestor
                | Kind::UpdateLimits
                | Kind::SetPaused
                | Kind::SetOracles
                | Kind::ProposeAdmin
                | Kind::WithdrawTreasury
                | Kind::FundVault
                | Kind::SetPlan
        )
    }
}

/// One transaction to send, with what the checks need to know about it.
struct Action {
    kind: Kind,
    ix: Instruction,
    signer: Option<Keypair>,
    /// The STK / quote token accounts the instruction was given (source or destination).
    stk_account: Option<Pubkey>,
    quote_account: Option<Pubkey>,
    /// `min_quote_out` / `max_quote_in`.
    bound: u64,
    describe: String,
}

/// Token balances and supply at one moment.
#[derive(Clone)]
struct Snapshot {
    balances: HashMap<Pubkey, u64>,
    supply: u64,
    now: i64,
}

struct World {
    chain: LocalChain,
    rng: Rng,
    admins: [Keypair; 2],
    admin: usize,
    oracles: Vec<Keypair>,
    members: Vec<Actor>,
    mallory: Actor,
    platform: Actor,
    quote_mint: Pubkey,
    genesis: i64,
    trees: BTreeMap<u64, Vec<EpochTree>>,
    /// Every tracked token account and its owner wallet.
    owners: HashMap<Pubkey, Pubkey>,
    model: Model,
    report: Report,
    log: Vec<String>,
}

fn custom_code(e: &BanksClientError) -> String {
    let err = match e {
        BanksClientError::TransactionError(e) => e,
        BanksClientError::SimulationError { err, .. } => err,
        other => return format!("{other:?}"),
    };
    match err {
        TransactionError::InstructionError(_, InstructionError::Custom(c)) => format!("#{c}"),
        other => format!("{other:?}"),
    }
}

macro_rules! check {
    ($world:expr, $cond:expr, $($msg:tt)+) => {{
        $world.report.invariant_checks += 1;
        if !$cond {
            return Err(format!($($msg)+));
        }
    }};
}

impl World {
    async fn new(seed: u64) -> Self {
        let mut rng = Rng(ChaCha8Rng::seed_from_u64(seed));
        let mut chain = LocalChain::start().await;
        let genesis = chain.now().await - 3 * EPOCH_SECS;
        let admins = [Keypair::new(), Keypair::new()];
        let oracles: Vec<Keypair> = (0..4).map(|_| Keypair::new()).collect();
        let quote_authority = Keypair::new();
        let quote_mint = Keypair::new();
        for key in admins.iter().chain(&oracles) {
            chain.airdrop(&key.pubkey(), 10_000_000_000).await.unwrap();
        }
        let mut model = Model::default();
        // initialize on addresses that may already hold lamports.
        for address in [
            client::config_address(),
            client::mint_address(),
            client::vault_address(),
            client::treasury_address(),
        ] {
            let lamports = *rng.pick(&[0, DUST, PLENTY]);
            if lamports > 0 {
                chain.airdrop(&address, lamports).await.unwrap();
                model.prefunded.insert(address, lamports);
            }
        }
        chain
            .create_mint(&quote_mint, &quote_authority.pubkey(), 6)
            .await
            .unwrap();
        let limits = Limits {
            max_emission_per_epoch: CAP,
            rate_window_secs: 2 * EPOCH_SECS as u64,
            rate_threshold: 1_500 * STK,
            max_supply: 5_000 * STK,
            premium_bps: PREMIUM_MIN_FLOOR_MULTIPLE_BPS + rng.below(170_001),
            investor_allocation_remaining: 600 * STK,
            investor_allowlist: rng.chance(50),
            emission_inflow_bps: rng.below(10_001),
            genesis_price: 1 + rng.below(100_000),
        };
        let args = InitializeArgs {
            oracles: oracles[..3].iter().map(|o| o.pubkey()).collect(),
            threshold: 2,
            genesis_ts: genesis,
            epoch_duration: EPOCH_SECS,
            limits,
        };
        let ix = client::initialize(admins[0].pubkey(), quote_mint.pubkey(), args);
        chain
            .send(&[ix], &[&admins[0]])
            .await
            .expect("initialize on prefunded addresses");

        // Access plans 1 (cheap) and 2 (dear), their addresses possibly prefunded; plan 3 is left for
        // `set_plan` steps, plan 4 never exists.
        for (id, fiat_price) in [(1u32, USDC), (2, 50 * USDC)] {
            let address = client::plan_address(id);
            let lamports = *rng.pick(&[0, DUST, PLENTY]);
            if lamports > 0 {
                chain.airdrop(&address, lamports).await.unwrap();
                model.prefunded.insert(address, lamports);
            }
            let args = SetPlanArgs {
                id,
                period_secs: 30 * 86_400,
                fiat_price,
                discount_bps: rng.below(u64::from(MAX_PLAN_DISCOUNT_BPS) + 1) as u16,
                active: true,
            };
            chain
                .send(&[client::set_plan(admins[0].pubkey(), args)], &[&admins[0]])
                .await
                .expect("set_plan on a prefunded address");
        }

        let mut owners = HashMap::new();
        let quote = (quote_mint.pubkey(), quote_authority);
        let mut members = Vec::new();
        for i in 0..6 {
            // Members 4 and 5 are the investors (they hold quote to buy with).
            let amount = if i >= 4 { 20_000 * USDC } else { 0 };
            members.push(new_actor(&mut chain, &quote, amount).await);
        }
        let mallory = new_actor(&mut chain, &quote, 100 * USDC).await;
        let platform = new_actor(&mut chain, &quote, 1_000_000 * USDC).await;
        for a in members.iter().chain([&mallory, &platform]) {
            owners.insert(a.stk, a.wallet.pubkey());
            owners.insert(a.quote, a.wallet.pubkey());
        }
        for admin in &admins {
            let quote = chain
                .ata(&admin.pubkey(), &quote_mint.pubkey())
                .await
                .unwrap();
            owners.insert(quote, admin.pubkey());
        }
        owners.insert(client::vault_address(), client::vault_authority());
        owners.insert(client::treasury_address(), client::vault_authority());

        Self {
            chain,
            rng,
            admins,
            admin: 0,
            oracles,
            members,
            mallory,
            platform,
            quote_mint: quote_mint.pubkey(),
            genesis,
            trees: BTreeMap::new(),
            owners,
            model,
            report: Report::default(),
            log: Vec::new(),
        }
    }

    fn admin(&self) -> Keypair {
        self.admins[self.admin].insecure_clone()
    }

    /// The admin (`percent`% of the time), else someone who is not.
    fn admin_or_stranger(&mut self, percent: u64) -> Keypair {
        if self.rng.chance(percent) {
            self.admin()
        } else if self.rng.chance(50) {
            self.mallory.wallet.insecure_clone()
        } else {
            self.admins[1 - self.admin].insecure_clone()
        }
    }

    fn stk_accounts(&self) -> Vec<Pubkey> {
        self.members
            .iter()
            .chain([&self.mallory])
            .map(|a| a.stk)
            .collect()
    }

    async fn config(&mut self) -> Config {
        self.chain
            .anchor(&client::config_address())
            .await
            .expect("config exists")
    }

    async fn snapshot(&mut self) -> Snapshot {
        let mut balances = HashMap::new();
        let keys: Vec<Pubkey> = self.owners.keys().copied().collect();
        for key in keys {
            balances.insert(key, self.chain.token_balance(&key).await);
        }
        Snapshot {
            balances,
            supply: self.chain.mint_supply(&client::mint_address()).await,
            now: self.chain.now().await,
        }
    }

    fn note(&mut self, line: String) {
        if self.log.len() == 40 {
            self.log.remove(0);
        }
        self.log.push(line);
    }

    /// One step: a program instruction (most of the time), a clock jump or lamports sent to an address
    /// the program will create an account at; then the invariants.
    async fn step(&mut self) -> Result<(), String> {
        self.report.steps += 1;
        let roll = self.rng.below(100);
        if roll < 6 {
            let secs = *self
                .rng
                .pick(&[1, 60, 3_600, EPOCH_SECS / 2, EPOCH_SECS, 3 * EPOCH_SECS]);
            let now = self.chain.now().await;
            self.chain.set_time(now + secs).await;
            *self.report.other_steps.entry("clock jump").or_default() += 1;
            self.note(format!("clock +{secs}s"));
            return self.check_prefunded().await;
        }
        if roll < 9 {
            let c = self.config().await;
            let now = self.chain.now().await;
            // Into the last tender window's order time, or past its close.
            let last: Option<stk::state::TenderWindow> = self
                .chain
                .anchor(&client::window_address(c.tender_window_count))
                .await;
            if let Some(w) = last.filter(|w| !w.settled && self.rng.chance(70)) {
                let to = if now < w.opens_at {
                    w.opens_at
                } else {
                    w.closes_at.max(now)
                };
                self.chain.set_time(to).await;
                *self
                    .report
                    .other_steps
                    .entry("clock to tender window")
                    .or_default() += 1;
                self.note(format!("clock to {to} (tender window)"));
                return self.check_prefunded().await;
            }
            if c.period_inflow > 0 {
                // To the start of the next revenue period: a tender window's capacity is the last
                // period's inflow.
                let period = c.period_at(now).unwrap_or(0) as i64;
                let next = c.genesis_ts + (period + 1) * c.epoch_duration;
                self.chain.set_time(next).await;
                *self
                    .report
                    .other_steps
                    .entry("clock to next period")
                    .or_default() += 1;
                self.note(format!("clock to {next} (next period)"));
                return self.check_prefunded().await;
            }
        }
        if roll < 13 {
            self.prefund_future_address().await;
            *self
                .report
                .other_steps
                .entry("prefund address")
                .or_default() += 1;
            return self.check_prefunded().await;
        }
        let config = self.config().await;
        let before = self.snapshot().await;
        let action = self.choose(&config, &before).await;
        let payer = self.chain.payer();
        let mut signers = vec![&payer];
        if let Some(s) = &action.signer {
            signers.push(s);
        }
        // A compute-unit limit that differs per step keeps every transaction's signature unique (the
        // bank drops a repeated one), without waiting for a new blockhash.
        let unique = ComputeBudgetInstruction::set_compute_unit_limit(
            1_000_000 + (self.report.steps % 100_000) as u32,
        );
        let tx = self
            .chain
            .v0_transaction_signed(&signers, &[unique, action.ix.clone()], &[])
            .await;
        let result = self.chain.process_recording(tx, &[]).await;
        let after = self.snapshot().await;
        let events = match result {
            Ok((_, _, events)) => {
                self.note(format!("ok   {}", action.describe));
                Some(events)
            }
            Err(e) => {
                self.note(format!("err  {} -> {}", action.describe, custom_code(&e)));
                None
            }
        };
        let entry = self
            .report
            .instructions
            .entry(action.kind.name())
            .or_default();
        if events.is_some() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        self.check_step(&action, &config, &before, &after, events.as_deref())
            .await?;
        self.check_global(&after).await?;
        self.check_prefunded().await
    }

    async fn prefund_future_address(&mut self) {
        let mut candidates: Vec<Pubkey> = Vec::new();
        for a in self.members.iter().chain([&self.mallory]) {
            candidates.push(client::member_address(&a.wallet.pubkey()));
            candidates.push(client::investor_address(&a.wallet.pubkey()));
        }
        for trees in self.trees.values() {
            for t in trees {
                candidates.push(client::epoch_address(t.epoch, &t.root()));
            }
        }
        candidates.push(client::plan_address(3));
        let address = *self.rng.pick(&candidates);
        if self
            .chain
            .account(&address)
            .await
            .is_some_and(|a| a.owner == stk::ID)
        {
            return;
        }
        let lamports = *self.rng.pick(&[DUST, PLENTY, DUST + 1]);
        self.chain.airdrop(&address, lamports).await.unwrap();
        *self.model.prefunded.entry(address).or_default() += lamports;
        self.note(format!("prefund {address} with {lamports}"));
    }

    /// A candidate tree for epoch `n` (an existing one, or a new one: recipients, totals at the edges
    /// of the per-epoch cap, 1..=3 recipients per chunk).
    fn tree_for(&mut self, n: u64) -> EpochTree {
        let existing = self.trees.get(&n).map_or(0, |t| t.len());
        if existing > 0 && (existing >= 3 || self.rng.chance(60)) {
            let i = self.rng.below(existing as u64) as usize;
            return self.trees[&n][i].clone();
        }
        let accounts = self.stk_accounts();
        let mut chosen: Vec<Pubkey> = accounts
            .iter()
            .copied()
            .filter(|_| self.rng.chance(60))
            .collect();
        if chosen.is_empty() {
            chosen.push(*self.rng.pick(&accounts));
        }
        let count = chosen.len() as u64;
        // What the epoch's revenue allows (the emission rule): mostly stay within it, sometimes one
        // base unit above it.
        let allowed = self.model.allowances.get(&n).copied().unwrap_or(0).min(CAP);
        let total = match self.rng.below(8) {
            0 => CAP - 1,
            1 => CAP,
            2 => CAP + 1,
            3 => count,
            4 => allowed.saturating_add(1),
            5 => count + self.rng.below(CAP / 2),
            _ if allowed >= count => count + self.rng.below(allowed - count + 1),
            _ => count + self.rng.below(CAP / 2),
        }
        .max(count);
        let mut left = total - count;
        let mut allocations = Vec::new();
        for (i, token_account) in chosen.iter().enumerate() {
            let extra = if i + 1 == chosen.len() {
                left
            } else {
                self.rng.below(left + 1)
            };
            left -= extra;
            allocations.push(Allocation {
                token_account: *token_account,
                amount: 1 + extra,
            });
        }
        let chunk = 1 + self.rng.below(3) as usize;
        let tree = EpochTree::build(n, allocations, chunk).expect("valid tree");
        self.trees.entry(n).or_default().push(tree.clone());
        tree
    }

    async fn choose(&mut self, config: &Config, before: &Snapshot) -> Action {
        let kinds = [
            (Kind::Attest, 16),
            (Kind::Distribute, 16),
            (Kind::Deposit, 6),
            (Kind::BuyPremium, 14),
            (Kind::PayAccess, 6),
            (Kind::SetInvestor, 4),
            (Kind::UpdateLimits, 5),
            (Kind::SetPaused, 3),
            (Kind::SetOracles, 2),
            (Kind::ProposeAdmin, 2),
            (Kind::AcceptAdmin, 2),
            (Kind::WithdrawTreasury, 4),
            (Kind::FundVault, 6),
            (Kind::AnnounceTender, 10),
            (Kind::PlaceOrder, 12),
            (Kind::SettleTender, 5),
            (Kind::ClaimOrder, 10),
            (Kind::SetPlan, 4),
        ];
        let total: u64 = kinds.iter().map(|k| k.1).sum();
        let mut roll = self.rng.below(total);
        let mut kind = Kind::Attest;
        for (k, w) in kinds {
            if roll < w {
                kind = k;
                break;
            }
            roll -= w;
        }
        let bal = |key: &Pubkey| before.balances.get(key).copied().unwrap_or(0);
        let mut action = Action {
            kind,
            ix: client::set_paused(Pubkey::default(), 0),
            signer: None,
            stk_account: None,
            quote_account: None,
            bound: 0,
            describe: String::new(),
        };
        match kind {
            Kind::Attest => {
                let current = ((before.now - self.genesis) / EPOCH_SECS).max(0) as u64;
                let mut pending: Vec<(u64, [u8; 32])> = self
                    .model
                    .pending
                    .iter()
                    .filter(|(n, _)| *n >= config.next_epoch)
                    .copied()
                    .collect();
                pending.sort();
                // Mostly push a root some oracle already attested towards the threshold.
                let tree = if !pending.is_empty() && self.rng.chance(60) {
                    let (n, root) = *self.rng.pick(&pending);
                    self.trees[&n]
                        .iter()
                        .find(|t| t.root() == root)
                        .cloned()
                        .unwrap_or_else(|| self.tree_for(n))
                } else {
                    // Mostly an ended epoch whose period brought revenue (the emission rule), else any.
                    let mut funded: Vec<u64> = self
                        .model
                        .allowances
                        .iter()
                        .filter(|(e, a)| **e >= config.next_epoch && **e < current && **a > 0)
                        .map(|(e, _)| *e)
                        .collect();
                    funded.sort();
                    let n = if !funded.is_empty() && self.rng.chance(70) {
                        *self.rng.pick(&funded)
                    } else {
                        self.rng.below(current + 2)
                    };
                    self.tree_for(n)
                };
                let n = tree.epoch;
                let mut args = client::attest_args(&tree, [7; 32], [9; 32]);
                match self.rng.below(20) {
                    0 => args.rules_hash = [self.rng.below(255) as u8; 32],
                    1 => args.total_amount = *self.rng.pick(&[0, 1, CAP + 1, u64::MAX]),
                    2 => args.chunk_count = *self.rng.pick(&[0, MAX_CHUNKS + 1, u32::MAX]),
                    3 => args.recipient_count = *self.rng.pick(&[0, u32::MAX]),
                    _ => {}
                }
                let current_oracles: Vec<Pubkey> =
                    config.oracles[..config.oracle_count as usize].to_vec();
                let signer = if self.rng.chance(85) {
                    let key = *self.rng.pick(&current_oracles);
                    self.oracles
                        .iter()
                        .find(|o| o.pubkey() == key)
                        .unwrap_or(&self.oracles[0])
                        .insecure_clone()
                } else if self.rng.chance(50) {
                    self.rng.pick(&self.oracles).insecure_clone()
                } else {
                    self.admin_or_stranger(30)
                };
                action.describe = format!(
                    "attest epoch {n} root {} total {} by {}",
                    hex8(&args.root),
                    args.total_amount,
                    signer.pubkey()
                );
                action.ix = client::attest_epoch(signer.pubkey(), args);
                action.signer = Some(signer);
            }
            Kind::Distribute => {
                let mut finalized: Vec<(u64, [u8; 32])> =
                    self.model.finalized.iter().map(|(n, r)| (*n, *r)).collect();
                finalized.sort();
                let tree = if !finalized.is_empty() && self.rng.chance(75) {
                    let (n, root) = *self.rng.pick(&finalized);
                    self.trees[&n].iter().find(|t| t.root() == root).cloned()
                } else {
                    self.pick_epoch_with_trees().map(|n| {
                        let i = self.rng.below(self.trees[&n].len() as u64) as usize;
                        self.trees[&n][i].clone()
                    })
                };
                let Some(tree) = tree else {
                    return self.fallback_pause(action);
                };
                let n = tree.epoch;
                let address = client::epoch_address(n, &tree.root());
                let unpaid: Vec<u32> = (0..tree.chunk_count())
                    .filter(|c| !self.model.paid_chunks.contains(&(address, *c)))
                    .collect();
                let chunk = if !unpaid.is_empty() && self.rng.chance(80) {
                    *self.rng.pick(&unpaid)
                } else {
                    self.rng.below(tree.chunk_count() as u64) as u32
                };
                let c = &tree.chunks[chunk as usize];
                let mut args = DistributeArgs {
                    epoch: n,
                    root: tree.root(),
                    chunk_index: chunk,
                    amounts: c.recipients.iter().map(|r| r.amount).collect(),
                    proof: tree.proof(chunk),
                };
                let mut recipients: Vec<Pubkey> =
                    c.recipients.iter().map(|r| r.token_account).collect();
                let tamper = self.rng.below(28);
                match tamper {
                    0 => args.amounts[0] = args.amounts[0].wrapping_add(1),
                    1 => args.amounts[0] = u64::MAX,
                    2 if !args.proof.is_empty() => {
                        args.proof.pop();
                    }
                    3 => args.proof.push([1; 32]),
                    4 if recipients.len() > 1 => recipients.reverse(),
                    5 => recipients[0] = self.mallory.stk,
                    6 => args.chunk_index = tree.chunk_count(),
                    7 => {
                        recipients.pop();
                    }
                    _ => {}
                }
                action.describe = format!(
                    "distribute epoch {n} root {} chunk {chunk} tamper {tamper}",
                    hex8(&args.root)
                );
                action.ix = client::distribute(args, &recipients);
            }
            Kind::Deposit => {
                let who = if self.rng.chance(80) {
                    self.platform.wallet.insecure_clone()
                } else {
                    self.mallory.wallet.insecure_clone()
                };
                let source = stk_localnet_ata(&who.pubkey(), &self.quote_mint);
                let b = bal(&source);
                let amount = self
                    .rng
                    .amount(500 * USDC, &[0, 1, b, b.saturating_add(1), u64::MAX]);
                action.describe = format!("deposit {amount} from {}", who.pubkey());
                action.ix = client::deposit_revenue(who.pubkey(), source, amount);
                action.quote_account = Some(source);
                action.signer = Some(who);
            }
            Kind::AnnounceTender => {
                let signer = self.admin_or_stranger(90);
                let mut c = Config::clone(config);
                let _ = c.roll_period(before.now);
                let backing = c.backing(bal(&client::vault_address()), before.supply).ok();
                let rule_price = backing
                    .and_then(|b| b.floor_price())
                    .and_then(|f| buyback_price(f, BUYBACK_SPREAD_BPS))
                    .unwrap_or(1);
                let rule_capacity = backing
                    .and_then(|b| {
                        window_capacity(c.last_period_inflow, b.vault, WINDOW_MAX_VAULT_BPS)
                    })
                    .unwrap_or(1);
                let price = *self.rng.pick(&[
                    rule_price,
                    rule_price,
                    rule_price,
                    rule_price,
                    rule_price / 2,
                    rule_price.saturating_add(1),
                    0,
                ]);
                let capacity = *self.rng.pick(&[
                    rule_capacity,
                    rule_capacity,
                    rule_capacity,
                    rule_capacity,
                    rule_capacity / 3,
                    rule_capacity.saturating_add(1),
                    0,
                ]);
                let next = config.tender_window_count + 1;
                let window_id = if self.rng.chance(90) { next } else { next + 1 };
                let opens_at = before.now + *self.rng.pick(&[60, 60, 60, 3_600, 0, -1]);
                let closes_at = opens_at
                    + *self
                        .rng
                        .pick(&[7_200, 7_200, EPOCH_SECS / 2, 0, 8 * 86_400]);
                let args = AnnounceTenderWindowArgs {
                    window_id,
                    price,
                    capacity,
                    opens_at,
                    closes_at,
                };
                action.describe = format!(
                    "announce tender {args:?} (rule {rule_price} / {rule_capacity}, period {} inflow {} last {}) by {}",
                    c.period_index,
                    c.period_inflow,
                    c.last_period_inflow,
                    signer.pubkey()
                );
                action.ix = client::announce_tender_window(signer.pubkey(), args);
                action.signer = Some(signer);
            }
            Kind::PlaceOrder => {
                let (member, mut stk, _) = self.pick_holder(before);
                if self.rng.chance(5) {
                    let all = self.stk_accounts();
                    stk = *self.rng.pick(&all);
                }
                let count = config.tender_window_count;
                let window_id = *self
                    .rng
                    .pick(&[count, count, count, count.saturating_sub(1)]);
                let b = bal(&stk);
                let stk_amount = self
                    .rng
                    .amount(b.max(1) / 2 + 1, &[0, 1, b, b.saturating_add(1)]);
                action.describe = format!(
                    "place_order {stk_amount} in #{window_id} from {stk} by {}",
                    member.pubkey()
                );
                action.ix = client::place_order(
                    member.pubkey(),
                    stk,
                    PlaceOrderArgs {
                        window_id,
                        stk_amount,
                    },
                );
                action.stk_account = Some(stk);
                action.signer = Some(member);
            }
            Kind::SettleTender => {
                let count = config.tender_window_count;
                let window_id = *self
                    .rng
                    .pick(&[count, count, count.saturating_sub(1), count + 1]);
                action.describe = format!("settle_window #{window_id}");
                action.ix = client::settle_window(window_id);
            }
            Kind::ClaimOrder => {
                let (member, mut stk, mut quote) = self.pick_holder(before);
                if self.rng.chance(5) {
                    let all = self.stk_accounts();
                    stk = *self.rng.pick(&all);
                }
                if self.rng.chance(5) {
                    quote = client::vault_address();
                }
                let count = config.tender_window_count;
                let window_id = *self.rng.pick(&[count, count, count.saturating_sub(1)]);
                action.describe = format!(
                    "claim_order #{window_id} to {stk}/{quote} by {}",
                    member.pubkey()
                );
                action.ix = client::claim_order(member.pubkey(), stk, quote, window_id);
                action.stk_account = Some(stk);
                action.quote_account = Some(quote);
                action.signer = Some(member);
            }
            Kind::BuyPremium => {
                let (buyer, buyer_stk, buyer_quote) = if self.rng.chance(75) {
                    let a = &self.members[4 + self.rng.below(2) as usize];
                    (a.wallet.insecure_clone(), a.stk, a.quote)
                } else {
                    self.pick_actor()
                };
                let listed = if config.investor_allowlist {
                    self.rng.chance(85)
                } else {
                    self.rng.chance(15)
                };
                let remaining = config.investor_allocation_remaining;
                let room = config.max_supply.saturating_sub(before.supply);
                let stk_amount = self.rng.amount(
                    200 * STK,
                    &[
                        0,
                        1,
                        remaining,
                        remaining.saturating_add(1),
                        room,
                        room.saturating_add(1),
                        u64::MAX,
                    ],
                );
                let cost = config
                    .backing(bal(&client::vault_address()), before.supply)
                    .ok()
                    .zip(config.premium_terms().ok())
                    .and_then(|(b, t)| stk::economy::premium_split(stk_amount, b, t))
                    .map_or(u64::MAX, |s| s.paid);
                let max_quote_in = *self.rng.pick(&[u64::MAX, cost, cost.saturating_sub(1)]);
                action.describe = format!(
                    "buy_premium {stk_amount} max {max_quote_in} listed {listed} by {}",
                    buyer.pubkey()
                );
                action.ix = client::buy_premium(
                    buyer.pubkey(),
                    buyer_stk,
                    buyer_quote,
                    listed,
                    BuyPremiumArgs {
                        stk_amount,
                        max_quote_in,
                    },
                );
                action.stk_account = Some(buyer_stk);
                action.quote_account = Some(buyer_quote);
                action.bound = max_quote_in;
                action.signer = Some(buyer);
            }
            Kind::PayAccess => {
                let (payer, mut stk, _) = self.pick_holder(before);
                if self.rng.chance(8) {
                    let all = self.stk_accounts();
                    stk = *self.rng.pick(&all);
                }
                let plan_id = *self.rng.pick(&[1, 1, 1, 2, 3, 4]);
                // The price the program will charge, from the state before the step (`None`: no
                // plan, or no floor).
                let plan: Option<Plan> = self.chain.anchor(&client::plan_address(plan_id)).await;
                let floor = config
                    .backing(bal(&client::vault_address()), before.supply)
                    .ok()
                    .and_then(|b| b.floor_price());
                let price = plan
                    .zip(floor)
                    .and_then(|(p, f)| p.price_stk(f))
                    .unwrap_or(1 + self.rng.below(100 * STK));
                let extra = self.rng.below(STK);
                let max_stk_in = *self.rng.pick(&[
                    price,
                    price,
                    price.saturating_sub(1),
                    price.saturating_add(extra),
                    u64::MAX,
                    0,
                ]);
                action.describe = format!(
                    "pay_access plan {plan_id} (price {price}) max {max_stk_in} from {stk} by {}",
                    payer.pubkey()
                );
                action.ix = client::pay_access(
                    payer.pubkey(),
                    stk,
                    PayAccessArgs {
                        plan_id,
                        max_stk_in,
                        reference: [self.rng.below(256) as u8; 32],
                    },
                );
                action.stk_account = Some(stk);
                action.bound = max_stk_in;
                action.signer = Some(payer);
            }
            Kind::SetPlan => {
                let signer = self.admin_or_stranger(85);
                let id = *self.rng.pick(&[1, 2, 3, 3, 0, MAX_PLAN_ID + 1]);
                let args = SetPlanArgs {
                    id,
                    period_secs: *self.rng.pick(&[
                        0,
                        1,
                        30 * 86_400,
                        MAX_PLAN_PERIOD_SECS,
                        MAX_PLAN_PERIOD_SECS + 1,
                    ]),
                    fiat_price: self.rng.amount(100 * USDC, &[0, 1, u64::MAX]),
                    discount_bps: *self.rng.pick(&[
                        0,
                        2_000,
                        MAX_PLAN_DISCOUNT_BPS,
                        MAX_PLAN_DISCOUNT_BPS + 1,
                        10_000,
                    ]),
                    active: self.rng.chance(80),
                };
                action.describe = format!("set_plan {args:?} by {}", signer.pubkey());
                action.ix = client::set_plan(signer.pubkey(), args);
                action.signer = Some(signer);
            }
            Kind::SetInvestor => {
                let signer = self.admin_or_stranger(85);
                let wallet = self.pick_actor().0.pubkey();
                let allowed = self.rng.chance(75);
                action.describe = format!("set_investor {wallet} {allowed} by {}", signer.pubkey());
                action.ix = client::set_investor(signer.pubkey(), wallet, allowed);
                action.signer = Some(signer);
            }
            Kind::UpdateLimits => {
                let signer = self.admin_or_stranger(85);
                let mut limits = Limits {
                    max_emission_per_epoch: config.max_emission_per_epoch,
                    rate_window_secs: config.mint_rate.window_secs,
                    rate_threshold: config.mint_rate.threshold,
                    max_supply: config.max_supply,
                    premium_bps: config.premium_bps,
                    investor_allocation_remaining: config.investor_allocation_remaining,
                    investor_allowlist: config.investor_allowlist,
                    emission_inflow_bps: config.emission_inflow_bps,
                    genesis_price: config.genesis_price,
                };
                let supply = before.supply;
                for _ in 0..1 + self.rng.below(2) {
                    match self.rng.below(7) {
                        0 => {
                            limits.premium_bps = *self.rng.pick(&[
                                0,
                                10_000,
                                PREMIUM_MIN_FLOOR_MULTIPLE_BPS - 1,
                                PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
                                PREMIUM_MIN_FLOOR_MULTIPLE_BPS + 1,
                                100_000,
                                MAX_PREMIUM_BPS,
                                MAX_PREMIUM_BPS + 1,
                            ])
                        }
                        1 => {
                            limits.max_emission_per_epoch = *self.rng.pick(&[
                                0,
                                CAP - 1,
                                CAP,
                                limits.max_supply.saturating_add(1),
                            ])
                        }
                        2 => {
                            limits.max_supply = *self.rng.pick(&[
                                supply.saturating_sub(1),
                                supply,
                                supply.saturating_add(STK),
                                5_000 * STK,
                                u64::MAX,
                            ])
                        }
                        3 => {
                            limits.rate_window_secs =
                                *self
                                    .rng
                                    .pick(&[0, 1, EPOCH_SECS as u64, 2 * EPOCH_SECS as u64])
                        }
                        4 => {
                            limits.rate_threshold =
                                *self.rng.pick(&[0, 1, CAP, 1_500 * STK, u64::MAX])
                        }
                        5 => {
                            limits.investor_allocation_remaining =
                                *self.rng.pick(&[0, 1, 600 * STK, u64::MAX])
                        }
                        _ => limits.investor_allowlist = !limits.investor_allowlist,
                    }
                }
                action.describe = format!("update_limits {limits:?} by {}", signer.pubkey());
                action.ix = client::update_limits(signer.pubkey(), limits);
                action.signer = Some(signer);
            }
            Kind::SetPaused => {
                let signer = self.admin_or_stranger(85);
                let paused = if self.rng.chance(70) {
                    0
                } else {
                    *self.rng.pick(&[
                        PAUSE_EMISSION,
                        PAUSE_BUYBACK,
                        PAUSE_SALE,
                        PAUSE_ACCESS,
                        PAUSE_ALL,
                        0x80,
                    ])
                };
                action.describe = format!("set_paused {paused:#x} by {}", signer.pubkey());
                action.ix = client::set_paused(signer.pubkey(), paused);
                action.signer = Some(signer);
            }
            Kind::SetOracles => {
                let signer = self.admin_or_stranger(85);
                let mut oracles: Vec<Pubkey> = self
                    .oracles
                    .iter()
                    .map(|o| o.pubkey())
                    .filter(|_| self.rng.chance(75))
                    .collect();
                if self.rng.chance(10) && !oracles.is_empty() {
                    oracles.push(oracles[0]);
                }
                let threshold = self.rng.below(oracles.len() as u64 + 2) as u8;
                action.describe = format!(
                    "set_oracles {} threshold {threshold} by {}",
                    oracles.len(),
                    signer.pubkey()
                );
                action.ix = client::set_oracles(signer.pubkey(), oracles, threshold);
                action.signer = Some(signer);
            }
            Kind::ProposeAdmin => {
                let signer = self.admin_or_stranger(80);
                // Only the other admin key is ever proposed (so the world keeps an admin it can sign
                // for); strangers propose, and accept, and are refused.
                let pending = self.admins[1 - self.admin].pubkey();
                action.describe = format!("propose_admin {pending} by {}", signer.pubkey());
                action.ix = client::propose_admin(signer.pubkey(), pending);
                action.signer = Some(signer);
            }
            Kind::AcceptAdmin => {
                let signer = if self.rng.chance(70) {
                    self.admins[1 - self.admin].insecure_clone()
                } else {
                    self.admin_or_stranger(30)
                };
                action.describe = format!("accept_admin by {}", signer.pubkey());
                action.ix = client::accept_admin(signer.pubkey());
                action.signer = Some(signer);
            }
            Kind::WithdrawTreasury => {
                let signer = self.admin_or_stranger(85);
                let treasury = bal(&client::treasury_address());
                let destination = stk_localnet_ata(&signer.pubkey(), &self.quote_mint);
                let destination = if self.owners.contains_key(&destination) {
                    destination
                } else {
                    self.mallory.quote
                };
                let amount = self.rng.amount(
                    treasury.max(1),
                    &[0, 1, treasury, treasury.saturating_add(1), u64::MAX],
                );
                action.describe = format!("withdraw_treasury {amount} by {}", signer.pubkey());
                action.ix = client::withdraw_treasury(signer.pubkey(), destination, amount);
                action.quote_account = Some(destination);
                action.signer = Some(signer);
            }
            Kind::FundVault => {
                let signer = self.admin_or_stranger(85);
                let treasury = bal(&client::treasury_address());
                let amount = self.rng.amount(
                    treasury.max(1),
                    &[0, 1, treasury, treasury.saturating_add(1), u64::MAX],
                );
                action.describe = format!("fund_vault {amount} by {}", signer.pubkey());
                action.ix = client::fund_vault_from_treasury(signer.pubkey(), amount);
                action.signer = Some(signer);
            }
        }
        action
    }

    /// Used when the chosen instruction has nothing to act on yet: a harmless admin call instead.
    fn fallback_pause(&mut self, mut action: Action) -> Action {
        let signer = self.mallory.wallet.insecure_clone();
        action.kind = Kind::SetPaused;
        action.describe = format!(
            "set_paused 0 by {} (nothing to distribute yet)",
            signer.pubkey()
        );
        action.ix = client::set_paused(signer.pubkey(), 0);
        action.signer = Some(signer);
        action
    }

    fn pick_epoch_with_trees(&mut self) -> Option<u64> {
        let epochs: Vec<u64> = self.trees.keys().copied().collect();
        (!epochs.is_empty()).then(|| *self.rng.pick(&epochs))
    }

    /// Mostly someone holding STK, else anyone: (wallet, STK account, quote account).
    fn pick_holder(&mut self, before: &Snapshot) -> (Keypair, Pubkey, Pubkey) {
        let holders: Vec<usize> = (0..=self.members.len())
            .filter(|i| {
                let a = self.members.get(*i).unwrap_or(&self.mallory);
                before.balances.get(&a.stk).is_some_and(|b| *b > 0)
            })
            .collect();
        if holders.is_empty() || self.rng.chance(20) {
            return self.pick_actor();
        }
        let i = *self.rng.pick(&holders);
        let a = self.members.get(i).unwrap_or(&self.mallory);
        (a.wallet.insecure_clone(), a.stk, a.quote)
    }

    /// A member or mallory: (wallet, STK account, quote account).
    fn pick_actor(&mut self) -> (Keypair, Pubkey, Pubkey) {
        let i = self.rng.below(self.members.len() as u64 + 1) as usize;
        let a = self.members.get(i).unwrap_or(&self.mallory);
        (a.wallet.insecure_clone(), a.stk, a.quote)
    }

    /// The step's own invariants: balances moved exactly as the events say, and each event is one the
    /// rules allow (signer, pause, window, allowlist, caps, chunk once, prices).
    async fn check_step(
        &mut self,
        action: &Action,
        config: &Config,
        before: &Snapshot,
        after: &Snapshot,
        events: Option<&[StkEvent]>,
    ) -> Result<(), String> {
        let signer = action.signer.as_ref().map(|s| s.pubkey());
        let mut expected: HashMap<Pubkey, i128> = HashMap::new();
        let mut supply_delta: i128 = 0;
        let succeeded = events.is_some();
        let events = events.unwrap_or_default();
        // The floor before the step, moved by the step's stated causes only (emission, a first-come
        // sale, a tender window's reservation, unfilled STK back from escrow): the floor after the
        // step may not be below it. A premium sale is not a cause: it never lowers the floor.
        let mut floor_cause = config
            .backing(before.balances[&client::vault_address()], before.supply)
            .map_err(|e| format!("backing before the step: {e}"))?;
        if succeeded && action.kind.admin_only() {
            check!(
                self,
                signer == Some(config.admin),
                "{} succeeded signed by {signer:?}, not the admin {}",
                action.kind.name(),
                config.admin
            );
        }
        let vault = client::vault_address();
        let treasury = client::treasury_address();
        for event in events {
            match event {
                StkEvent::EpochAttested(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_EMISSION),
                        "attested while emission paused"
                    );
                    check!(
                        self,
                        config.oracles[..config.oracle_count as usize].contains(&e.oracle),
                        "attestation by {} who is not an oracle",
                        e.oracle
                    );
                    check!(
                        self,
                        Some(e.oracle) == signer,
                        "attestation event names another oracle"
                    );
                    check!(
                        self,
                        e.epoch >= config.next_epoch,
                        "attested epoch {} below next_epoch {}",
                        e.epoch,
                        config.next_epoch
                    );
                    let end = config.epoch_end(e.epoch).unwrap_or(i64::MAX);
                    check!(
                        self,
                        before.now >= end,
                        "attested epoch {} before it ended",
                        e.epoch
                    );
                    self.model.pending.insert((e.epoch, e.root));
                }
                StkEvent::EpochFinalized(e) => {
                    self.model.pending.retain(|(n, _)| *n != e.epoch);
                    let allowance = self.model.allowances.get(&e.epoch).copied().unwrap_or(0);
                    check!(
                        self,
                        e.total_amount <= allowance,
                        "epoch {} finalized with {} above its inflow's allowance {allowance}",
                        e.epoch,
                        e.total_amount
                    );
                    check!(
                        self,
                        e.total_amount <= config.max_emission_per_epoch,
                        "epoch {} finalized with {} above the cap {}",
                        e.epoch,
                        e.total_amount,
                        config.max_emission_per_epoch
                    );
                    check!(
                        self,
                        !self.model.finalized.contains_key(&e.epoch),
                        "epoch {} finalized twice",
                        e.epoch
                    );
                    self.model.finalized.insert(e.epoch, e.root);
                }
                StkEvent::ChunkDistributed(e) => {
                    floor_cause.floating = floor_cause.floating.saturating_add(e.chunk_total);
                    check!(
                        self,
                        !config.is_paused(PAUSE_EMISSION),
                        "distributed while emission paused"
                    );
                    check!(
                        self,
                        self.model.finalized.get(&e.epoch) == Some(&e.root),
                        "chunk paid for epoch {} under a root that did not finalize it",
                        e.epoch
                    );
                    let address = client::epoch_address(e.epoch, &e.root);
                    check!(
                        self,
                        self.model.paid_chunks.insert((address, e.chunk_index)),
                        "chunk {} of epoch {} paid twice",
                        e.chunk_index,
                        e.epoch
                    );
                    let sum: u64 = e.amounts.iter().sum();
                    check!(
                        self,
                        sum == e.chunk_total && e.recipients.len() == e.amounts.len(),
                        "chunk event totals disagree"
                    );
                    let paid = {
                        let paid = self.model.epoch_paid.entry(address).or_default();
                        paid.0 += e.chunk_total;
                        paid.1 += 1;
                        paid.0
                    };
                    check!(
                        self,
                        e.distributed_amount == paid,
                        "epoch {} distributed_amount {} but events sum to {paid}",
                        e.epoch,
                        e.distributed_amount
                    );
                    for (r, a) in e.recipients.iter().zip(&e.amounts) {
                        *expected.entry(*r).or_default() += *a as i128;
                    }
                    supply_delta += e.chunk_total as i128;
                    self.model.distributed += e.chunk_total;
                    self.model.mints.push((before.now, e.chunk_total));
                }
                StkEvent::RevenueDeposited(e) => {
                    let source = action.quote_account.unwrap_or_default();
                    check!(
                        self,
                        self.owners.get(&source) == signer.as_ref(),
                        "deposit from an account its signer does not own"
                    );
                    *expected.entry(source).or_default() -= e.amount as i128;
                    *expected.entry(vault).or_default() += e.amount as i128;
                    check!(
                        self,
                        after.balances[&vault] == e.vault_balance,
                        "RevenueDeposited.vault_balance {} but the vault holds {}",
                        e.vault_balance,
                        after.balances[&vault]
                    );
                    self.model.deposited += e.amount;
                    // The allowance grows by the emission cap of this deposit against the backing
                    // before the step, computed independently of the program.
                    let earned = emission_cap(
                        floor_cause,
                        e.amount,
                        config.emission_inflow_bps,
                        config.genesis_price,
                    )
                    .unwrap_or(u64::MAX);
                    let period = ((before.now - self.genesis).max(0) / EPOCH_SECS) as u64;
                    let previous = self.model.allowances.get(&period).copied().unwrap_or(0);
                    check!(
                        self,
                        e.period == period && e.emission_allowance == previous.saturating_add(earned),
                        "deposit of {} in period {} (expected {period}) recorded allowance {} (expected {previous} + {earned})",
                        e.amount,
                        e.period,
                        e.emission_allowance
                    );
                    self.model.allowances.insert(e.period, e.emission_allowance);
                }
                StkEvent::PremiumPurchased(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_SALE),
                        "premium sale while paused"
                    );
                    check!(
                        self,
                        !config.investor_allowlist || self.model.allowed.contains(&e.investor),
                        "premium sale to {} who is not allowlisted",
                        e.investor
                    );
                    check!(
                        self,
                        e.premium_bps >= PREMIUM_MIN_FLOOR_MULTIPLE_BPS
                            && e.premium_bps == config.premium_bps,
                        "premium sale at {} bps",
                        e.premium_bps
                    );
                    // Priced at the floor before the sale; the split as the published rule says.
                    let backing = config
                        .backing(before.balances[&vault], before.supply)
                        .map_err(|e| format!("backing before the sale: {e}"))?;
                    check!(
                        self,
                        backing.floor_price() == Some(e.floor_price) && e.floor_price > 0,
                        "premium sale at floor {} but the floor was {:?}",
                        e.floor_price,
                        backing.floor_price()
                    );
                    let split = config
                        .premium_terms()
                        .ok()
                        .and_then(|t| stk::economy::premium_split(e.stk_amount, backing, t));
                    check!(
                        self,
                        split.map(|s| (s.paid, s.to_vault, s.to_treasury))
                            == Some((e.quote_amount, e.to_vault, e.to_treasury))
                            && e.quote_amount <= action.bound,
                        "premium sale charged {}/{}/{} (expected {split:?}, max {})",
                        e.quote_amount,
                        e.to_vault,
                        e.to_treasury,
                        action.bound
                    );
                    // Independent of the rule function: at least 1/premium and at least the exact
                    // backing of the new STK to the vault.
                    check!(
                        self,
                        e.to_vault as u128 * e.premium_bps as u128
                            >= e.quote_amount as u128 * BPS_DENOMINATOR as u128
                            && e.to_vault as u128 * backing.floating as u128
                                >= e.stk_amount as u128 * backing.vault as u128,
                        "premium sale gave the vault only {} of {}",
                        e.to_vault,
                        e.quote_amount
                    );
                    check!(
                        self,
                        e.stk_amount <= config.investor_allocation_remaining,
                        "premium sale above the allocation"
                    );
                    let quote = action.quote_account.unwrap_or_default();
                    check!(
                        self,
                        self.owners.get(&quote) == Some(&e.investor) && Some(e.investor) == signer,
                        "premium paid from an account the buyer does not own"
                    );
                    *expected.entry(quote).or_default() -= e.quote_amount as i128;
                    *expected.entry(vault).or_default() += e.to_vault as i128;
                    *expected.entry(treasury).or_default() += e.to_treasury as i128;
                    *expected
                        .entry(action.stk_account.unwrap_or_default())
                        .or_default() += e.stk_amount as i128;
                    supply_delta += e.stk_amount as i128;
                    self.model.premium_minted += e.stk_amount;
                    self.model.premium_quote += e.quote_amount;
                    self.model.premium_to_vault += e.to_vault;
                }
                StkEvent::AccessPaid(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_ACCESS),
                        "access paid while paused"
                    );
                    let stk = action.stk_account.unwrap_or_default();
                    check!(
                        self,
                        self.owners.get(&stk) == Some(&e.member) && Some(e.member) == signer,
                        "access paid from {stk}, not the member's own account"
                    );
                    // The receipt states the plan as it is on chain, and the price is the plan's
                    // fiat price less its discount at the floor before the step, within the maximum.
                    let plan: Option<Plan> =
                        self.chain.anchor(&client::plan_address(e.plan_id)).await;
                    check!(
                        self,
                        plan.as_ref().is_some_and(|p| p.active
                            && p.period_secs == e.period_secs
                            && p.fiat_price == e.fiat_price
                            && p.discount_bps == e.discount_bps),
                        "access paid for plan {} that is not active with these terms: {plan:?}",
                        e.plan_id
                    );
                    let floor = config
                        .backing(before.balances[&vault], before.supply)
                        .ok()
                        .and_then(|b| b.floor_price());
                    check!(
                        self,
                        floor == Some(e.floor_price) && e.floor_price > 0,
                        "access priced at floor {} but the floor was {floor:?}",
                        e.floor_price
                    );
                    check!(
                        self,
                        access_price_stk(e.fiat_price, u64::from(e.discount_bps), e.floor_price)
                            == Some(e.stk_amount)
                            && e.stk_amount <= action.bound,
                        "access burned {} (max {}), not the plan's price",
                        e.stk_amount,
                        action.bound
                    );
                    // Paying in STK never costs more than the fiat price at the floor.
                    check!(
                        self,
                        (u128::from(e.stk_amount) - 1) * u128::from(e.floor_price)
                            < u128::from(e.fiat_price) * u128::from(STK),
                        "access in STK dearer than the fiat price"
                    );
                    *expected.entry(stk).or_default() -= e.stk_amount as i128;
                    supply_delta -= e.stk_amount as i128;
                    self.model.burned_access += e.stk_amount;
                }
                StkEvent::PlanSet(e) => {
                    check!(
                        self,
                        Plan::valid_terms(e.plan_id, e.period_secs, e.fiat_price, e.discount_bps),
                        "plan {} set with terms out of bounds: {e:?}",
                        e.plan_id
                    );
                }
                StkEvent::TreasuryWithdrawn(e) => {
                    *expected.entry(treasury).or_default() -= e.amount as i128;
                    *expected.entry(e.destination).or_default() += e.amount as i128;
                    self.model.withdrawn += e.amount;
                }
                StkEvent::VaultFunded(e) => {
                    *expected.entry(treasury).or_default() -= e.amount as i128;
                    *expected.entry(vault).or_default() += e.amount as i128;
                    check!(
                        self,
                        after.balances[&vault] == e.vault_balance,
                        "VaultFunded.vault_balance {} but the vault holds {}",
                        e.vault_balance,
                        after.balances[&vault]
                    );
                    self.model.funded += e.amount;
                }
                StkEvent::InvestorSet(e) => {
                    if e.allowed {
                        self.model.allowed.insert(e.wallet);
                    } else {
                        self.model.allowed.remove(&e.wallet);
                    }
                }
                StkEvent::LimitsUpdated(e) => {
                    check!(
                        self,
                        e.premium_bps >= PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
                        "limits accepted a premium of {} bps",
                        e.premium_bps
                    );
                    self.model.mints.clear();
                }
                StkEvent::AdminAccepted(e) => {
                    check!(
                        self,
                        Some(e.admin) == signer && config.pending_admin == e.admin,
                        "admin accepted by {} who was not pending",
                        e.admin
                    );
                    if let Some(i) = self.admins.iter().position(|a| a.pubkey() == e.admin) {
                        self.admin = i;
                    }
                }
                StkEvent::Initialized(_) => return Err("initialize ran twice".into()),
                StkEvent::OraclesSet(_) | StkEvent::PausedSet(_) | StkEvent::AdminProposed(_) => {}
                StkEvent::TenderWindowAnnounced(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_BUYBACK),
                        "announced while buyback paused"
                    );
                    // The rule, recomputed here from the state before the step.
                    let mut c = Config::clone(config);
                    c.roll_period(before.now).map_err(|e| e.to_string())?;
                    let backing = c
                        .backing(before.balances[&vault], before.supply)
                        .map_err(|e| e.to_string())?;
                    let floor = backing.floor_price().unwrap_or(0);
                    let rule_price = buyback_price(floor, BUYBACK_SPREAD_BPS).unwrap_or(0);
                    let rule_capacity =
                        window_capacity(c.last_period_inflow, backing.vault, WINDOW_MAX_VAULT_BPS)
                            .unwrap_or(0);
                    check!(
                        self,
                        e.floor_price == floor
                            && e.rule_price == rule_price
                            && e.rule_capacity == rule_capacity,
                        "announced rule {:?} but the state gives floor {floor}, price {rule_price}, capacity {rule_capacity}",
                        e
                    );
                    check!(
                        self,
                        e.price > 0
                            && e.price <= rule_price
                            && e.capacity > 0
                            && e.capacity <= rule_capacity
                            && e.opens_at > before.now
                            && e.closes_at > e.opens_at,
                        "window announced off the rule: {e:?} at {}",
                        before.now
                    );
                    check!(
                        self,
                        !(c.tender_window_count > 0 && c.last_window_period >= c.period_index),
                        "second window in period {}",
                        c.period_index
                    );
                    let fill = Fill {
                        filled: 0,
                        requested: 0,
                        price: e.price,
                    };
                    self.model.tenders.insert(e.window_id, (fill, false));
                    self.owners.insert(
                        client::window_escrow_address(e.window_id),
                        client::vault_authority(),
                    );
                    floor_cause.vault = floor_cause.vault.saturating_sub(e.capacity);
                }
                StkEvent::TenderWindowCancelled(e) => {
                    let t = self.model.tenders.get(&e.window_id).copied();
                    check!(
                        self,
                        t.is_some_and(|t| !t.1),
                        "cancelled window {} unknown or settled",
                        e.window_id
                    );
                    // Nothing moves; the settlement will fill nothing (capacity 0).
                }
                StkEvent::OrderPlaced(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_BUYBACK) && Some(e.member) == signer,
                        "order placed while paused or not by its member"
                    );
                    let stk = action.stk_account.unwrap_or_default();
                    check!(
                        self,
                        self.owners.get(&stk) == Some(&e.member),
                        "escrowed STK from {stk}, not the member's own account"
                    );
                    let settled = self.model.tenders.get(&e.window_id).map(|t| t.1);
                    check!(
                        self,
                        settled == Some(false),
                        "order in window {} that is unknown or settled",
                        e.window_id
                    );
                    let mine = self
                        .model
                        .orders
                        .entry(e.window_id)
                        .or_default()
                        .entry(e.member)
                        .or_default();
                    *mine += e.stk_amount;
                    let mine = *mine;
                    check!(
                        self,
                        mine == e.order_amount,
                        "order of {} is {} by the events, {} by the program",
                        e.member,
                        mine,
                        e.order_amount
                    );
                    *expected.entry(stk).or_default() -= e.stk_amount as i128;
                    *expected
                        .entry(client::window_escrow_address(e.window_id))
                        .or_default() += e.stk_amount as i128;
                }
                StkEvent::TenderWindowSettled(e) => {
                    let requested: u64 = self
                        .model
                        .orders
                        .get(&e.window_id)
                        .map(|o| o.values().sum())
                        .unwrap_or(0);
                    let t = self.model.tenders.get_mut(&e.window_id);
                    check!(
                        self,
                        t.as_ref().is_some_and(|t| !t.1),
                        "settled window {} unknown or settled twice",
                        e.window_id
                    );
                    if let Some(t) = t {
                        t.0.filled = e.filled;
                        t.0.requested = e.requested;
                        t.1 = true;
                    }
                    check!(
                        self,
                        requested == e.requested && e.filled <= e.requested,
                        "window {} settled with {} requested ({} by the events), {} filled",
                        e.window_id,
                        e.requested,
                        requested,
                        e.filled
                    );
                }
                StkEvent::OrderClaimed(e) => {
                    check!(
                        self,
                        !config.is_paused(PAUSE_BUYBACK) && Some(e.member) == signer,
                        "claimed while paused or not by its member"
                    );
                    let fill = self.model.tenders.get(&e.window_id).copied();
                    check!(
                        self,
                        fill.is_some_and(|f| f.1),
                        "claim in window {} that is unknown or not settled",
                        e.window_id
                    );
                    let order = self
                        .model
                        .orders
                        .get_mut(&e.window_id)
                        .and_then(|o| o.remove(&e.member));
                    check!(
                        self,
                        order == Some(e.order_amount),
                        "claimed an order of {} but the events placed {order:?}",
                        e.order_amount
                    );
                    let want = fill.and_then(|f| f.0.claim(e.order_amount));
                    check!(
                        self,
                        want.is_some_and(|c| c.filled_stk == e.filled_stk
                            && c.quote == e.quote_amount
                            && c.returned_stk == e.returned_stk),
                        "claim {e:?}, the window's one ratio gives {want:?}"
                    );
                    let stk = action.stk_account.unwrap_or_default();
                    let quote = action.quote_account.unwrap_or_default();
                    *expected.entry(stk).or_default() += e.returned_stk as i128;
                    *expected
                        .entry(client::window_escrow_address(e.window_id))
                        .or_default() -= e.order_amount as i128;
                    *expected.entry(quote).or_default() += e.quote_amount as i128;
                    *expected.entry(vault).or_default() -= e.quote_amount as i128;
                    supply_delta -= e.filled_stk as i128;
                    self.model.burned_sell_back += e.filled_stk;
                    self.model.paid_out += e.quote_amount;
                    floor_cause.floating = floor_cause.floating.saturating_add(e.returned_stk);
                }
            }
        }
        // Every tracked balance moved exactly as the events say (nothing moves on a refused step).
        for (key, was) in &before.balances {
            let now = after.balances[key];
            let delta = now as i128 - *was as i128;
            let want = expected.get(key).copied().unwrap_or(0);
            check!(
                self,
                delta == want,
                "{} changed by {delta} but its events say {want} ({})",
                key,
                action.describe
            );
        }
        for key in expected.keys() {
            check!(
                self,
                before.balances.contains_key(key),
                "an event moved untracked account {key}"
            );
        }
        let delta = after.supply as i128 - before.supply as i128;
        check!(
            self,
            delta == supply_delta,
            "supply changed by {delta} but the events say {supply_delta}"
        );
        if succeeded && supply_delta > 0 {
            let max_supply = self.config().await.max_supply;
            check!(
                self,
                after.supply <= max_supply,
                "supply {} above max_supply {max_supply}",
                after.supply
            );
        }
        let config_after = self.config().await;
        let floor_after = config_after
            .backing(after.balances[&client::vault_address()], after.supply)
            .map_err(|e| format!("backing after the step: {e}"))?;
        self.model.floor_checks += 1;
        check!(
            self,
            floor_after.floor_at_least(&floor_cause),
            "the floor fell without a stated cause: {floor_after:?} after, {floor_cause:?} before (with the step's stated causes)"
        );
        if events
            .iter()
            .any(|e| matches!(e, StkEvent::ChunkDistributed(_)))
        {
            self.check_rate(after.now).await?;
            if let Some(StkEvent::ChunkDistributed(e)) = events.first() {
                self.check_epoch(&client::epoch_address(e.epoch, &e.root))
                    .await?;
            }
        }
        Ok(())
    }

    /// The windowed rate limit: the limiter's value is within its threshold, and (independently of its
    /// arithmetic) what was minted in the last half window is at most twice the threshold.
    async fn check_rate(&mut self, now: i64) -> Result<(), String> {
        let config = self.config().await;
        let w = config.mint_rate;
        check!(
            self,
            w.last_value <= w.threshold,
            "rate limiter at {} above its threshold {}",
            w.last_value,
            w.threshold
        );
        let half = (w.window_secs / 2) as i64;
        let recent: u128 = self
            .model
            .mints
            .iter()
            .filter(|(t, _)| now - *t <= half)
            .map(|(_, a)| *a as u128)
            .sum();
        check!(
            self,
            recent <= 2 * w.threshold as u128,
            "minted {recent} within half a window of {}s (threshold {})",
            w.window_secs,
            w.threshold
        );
        Ok(())
    }

    /// One epoch account agrees with the events: bitmap, chunk count, amount within the attested total.
    async fn check_epoch(&mut self, address: &Pubkey) -> Result<(), String> {
        let Some(epoch) = self.chain.anchor::<Epoch>(address).await else {
            return Err(format!("epoch account {address} missing"));
        };
        let bits: u32 = epoch
            .distributed_bitmap
            .iter()
            .map(|b| b.count_ones())
            .sum();
        let (amount, chunks) = self
            .model
            .epoch_paid
            .get(address)
            .copied()
            .unwrap_or_default();
        check!(
            self,
            bits == epoch.distributed_chunks && chunks == bits,
            "epoch {} bitmap {bits} bits, counter {}, events {chunks}",
            epoch.epoch,
            epoch.distributed_chunks
        );
        check!(
            self,
            epoch.distributed_amount == amount && amount <= epoch.total_amount,
            "epoch {} distributed {} (events {amount}) of {}",
            epoch.epoch,
            epoch.distributed_amount,
            epoch.total_amount
        );
        check!(
            self,
            chunks == 0 || epoch.finalized,
            "epoch {} paid before it was finalized",
            epoch.epoch
        );
        Ok(())
    }

    async fn check_all_epochs(&mut self) -> Result<(), String> {
        let addresses: Vec<Pubkey> = self
            .trees
            .values()
            .flatten()
            .map(|t| client::epoch_address(t.epoch, &t.root()))
            .collect();
        for address in addresses {
            if self
                .chain
                .account(&address)
                .await
                .is_some_and(|a| a.owner == stk::ID)
            {
                self.check_epoch(&address).await?;
            }
        }
        Ok(())
    }

    /// The economy's books after every step: supply, vault and treasury against the config's totals and
    /// against the events' totals; the config's own invariant; the premium never below the minimum
    /// multiple of the floor.
    async fn check_global(&mut self, now: &Snapshot) -> Result<(), String> {
        let c = self.config().await;
        let m = &self.model;
        let supply = now.supply as i128;
        let books = c.total_distributed as i128 + c.total_premium_minted as i128
            - c.total_burned_sell_back as i128
            - c.total_burned_access as i128;
        let events = m.distributed as i128 + m.premium_minted as i128
            - m.burned_sell_back as i128
            - m.burned_access as i128;
        let vault = now.balances[&client::vault_address()] as i128;
        let vault_books =
            c.total_revenue_deposited as i128 + c.total_premium_to_vault as i128 + m.funded as i128
                - c.total_quote_paid_out as i128;
        let vault_events = m.deposited as i128 + m.premium_to_vault as i128 + m.funded as i128
            - m.paid_out as i128;
        let treasury = now.balances[&client::treasury_address()] as i128;
        let treasury_books = c.total_premium_quote_in as i128
            - c.total_premium_to_vault as i128
            - m.funded as i128
            - m.withdrawn as i128;
        let treasury_events = m.premium_quote as i128
            - m.premium_to_vault as i128
            - m.funded as i128
            - m.withdrawn as i128;
        check!(
            self,
            supply == books && supply == events,
            "supply {supply}, config books {books}, events {events}"
        );
        check!(
            self,
            vault == vault_books && vault == vault_events,
            "vault {vault}, books {vault_books}, events {vault_events}"
        );
        check!(
            self,
            treasury == treasury_books && treasury == treasury_events,
            "treasury {treasury}, books {treasury_books}, events {treasury_events}"
        );
        check!(
            self,
            c.invariant().is_ok(),
            "config invariant broken: {c:?}"
        );
        check!(
            self,
            c.premium_bps >= PREMIUM_MIN_FLOOR_MULTIPLE_BPS,
            "premium below the minimum multiple of the floor"
        );
        // Tender windows: the escrowed STK is in the escrows and in the open orders (events), the
        // reservation is in the vault.
        let mut in_escrows: u64 = 0;
        for id in self.model.tenders.keys() {
            in_escrows += now
                .balances
                .get(&client::window_escrow_address(*id))
                .copied()
                .unwrap_or(0);
        }
        let in_orders: u64 = self.model.orders.values().flat_map(|o| o.values()).sum();
        check!(
            self,
            c.escrowed_stk == in_escrows && c.escrowed_stk == in_orders,
            "escrowed {} by the config, {in_escrows} in escrows, {in_orders} in open orders",
            c.escrowed_stk
        );
        check!(
            self,
            c.tender_reserved as i128 <= vault,
            "reserved {} above the vault {vault}",
            c.tender_reserved
        );
        Ok(())
    }

    /// Lamports sent to an address before the program created its account there are still in it.
    async fn check_prefunded(&mut self) -> Result<(), String> {
        let addresses: Vec<(Pubkey, u64)> =
            self.model.prefunded.iter().map(|(k, v)| (*k, *v)).collect();
        for (address, lamports) in addresses {
            let Some(account) = self.chain.account(&address).await else {
                continue;
            };
            if account.owner == anchor_lang::system_program::ID {
                continue;
            }
            check!(
                self,
                account.lamports >= lamports,
                "{address} was sent {lamports} lamports before its account was created, holds {}",
                account.lamports
            );
            check!(
                self,
                !account.data.is_empty(),
                "{address} was assigned but not allocated"
            );
            self.model.prefunded.remove(&address);
        }
        Ok(())
    }
}

async fn new_actor(chain: &mut LocalChain, quote: &(Pubkey, Keypair), amount: u64) -> Actor {
    let wallet = Keypair::new();
    chain
        .airdrop(&wallet.pubkey(), 5_000_000_000)
        .await
        .unwrap();
    let stk = chain
        .ata(&wallet.pubkey(), &client::mint_address())
        .await
        .unwrap();
    let quote = chain
        .mint_to(&quote.0, &quote.1, &wallet.pubkey(), amount)
        .await
        .unwrap();
    Actor { wallet, stk, quote }
}

fn stk_localnet_ata(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    anchor_spl::associated_token::get_associated_token_address(owner, mint)
}

fn hex8(bytes: &[u8; 32]) -> String {
    bytes[..4].iter().map(|b| format!("{b:02x}")).collect()
}
