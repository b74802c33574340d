//! Adversarial benchmark for the scoring rules: the judge of any rules change (DESIGN §5).
//!
//! Run: `cargo run --release -p stk-scoring --example adversarial`
//!
//! Simulates 6 warm-up + 40 measured 7-day epochs (genesis on a Thursday, so epochs straddle
//! Monday weeks and month ends) of 500 honest steady members (20 of them the masters named in
//! `rules/rules.v2.toml`) plus small groups of actors playing one strategy each, and scores every
//! epoch with BOTH `rules/rules.v1.toml` (`score_epoch`) and `rules/rules.v2.toml`
//! (`score_epoch_v2`, member state carried from epoch to epoch). Every actor's events come from the
//! same generator as the honest members' (`World::emit_*`); strategies differ only in what they
//! call it with. Deterministic (xorshift64*, fixed seed).
//!
//! Output: `strategy | class | events | v1 reward / steady | v2 reward / steady`, where reward is
//! STK per epoch per person (summed over a person's accounts) and steady is the mean of the 480
//! non-master steady members in the same epochs. Then, as the last two lines:
//! `worst gaming ratio: X.XX (strategy)` over the strategies that add no genuine contribution
//! (for strategies that add gaming on top of a steady member's genuine work, the gaming part is
//! `ratio - 1`), and `honest cost: Y.Y%` = change from v1 to v2 of the steady members' share of
//! the budget in a second world with honest members only.
// Actors are indices into several parallel per-actor vectors.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use stk_scoring::{
    score_epoch, score_epoch_v2, Auth, Confirmation, EpochInput, EpochInputV2, Event, EventV2,
    MemberInput, MemberState, MemberV2, Rules, RulesV2, Vouch,
};

const V1_RULES: &str = include_str!("../../rules/rules.v1.toml");
const V2_RULES: &str = include_str!("../../rules/rules.v2.toml");

/// Thursday 2024-01-04 00:00:00 UTC.
const GENESIS: i64 = 1_704_326_400;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
const WARMUP: u64 = 6;
const MEASURED: u64 = 40;
const BUDGET: u64 = 1_000_000 * 1_000_000;
const STEADY: usize = 500;
const MASTERS: usize = 20;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True with probability `p_permille / 1000`.
    fn chance(&mut self, p_permille: u64) -> bool {
        self.below(1000) < p_permille
    }
}

/// Honest activity profile (probabilities per day, in permille).
#[derive(Clone, Copy)]
struct Profile {
    practice: u64,
    help: u64,
    review: u64,
    mentoring: u64,
    system: u64,
}

const STEADY_P: Profile = Profile {
    practice: 800,
    help: 300,
    review: 80,
    mentoring: 20,
    system: 5,
};
const EXTRA_P: Profile = Profile {
    practice: 950,
    help: 550,
    review: 200,
    mentoring: 60,
    system: 15,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Adds no genuine contribution.
    Gaming,
    /// A steady member's genuine work plus gaming on top: the gaming part is `ratio - 1`.
    GamingOnTop,
    /// Genuine work, reshaped (bursts, late logging, minimal effort, breaks).
    Reshaped,
    /// Genuine (and possibly extra) contribution.
    Honest,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Strategy {
    Steady,
    ReviewClaims,
    EveryCapAlone,
    BoundaryBurst,
    Ring,
    RingInvented,
    RingEveryCap,
    Sybils(usize),
    SybilsColluder,
    SybilsColluderPaid,
    Farmer,
    TwoEvents,
    Backfill,
    SteadyExtra,
    Newcomer,
    NewcomerUnvouched,
    Lifelong,
    SixWeeks,
    Vacation,
}

struct Actor {
    id: String,
    strategy: Strategy,
    /// Index of the person (several accounts share one person).
    person: usize,
    /// First measured epoch (relative) the account exists; `None` = exists from the start.
    joins: Option<u64>,
    initial_tenure: u32,
    subscribed: bool,
}

struct World {
    rng: Rng,
    actors: Vec<Actor>,
    /// Accounts that confirm honest members' work (established steady members + masters).
    helpers: Vec<usize>,
    events: Vec<EventV2>,
    confirmations: Vec<Confirmation>,
    vouches: Vec<Vouch>,
    seq: u64,
    /// Per actor: events emitted this epoch.
    emitted: Vec<u64>,
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{:08}", self.seq)
    }

    /// THE generator: one event of `kind` by actor `a` at `at`, reported by `source`, received
    /// `delay` seconds later (capped at `received_cap`).
    fn emit(&mut self, a: usize, kind: &str, at: i64, source: &str, received_at: i64) -> String {
        let id = self.id("e");
        self.events.push(EventV2 {
            id: id.clone(),
            member: self.actors[a].id.clone(),
            kind: kind.to_owned(),
            occurred_at: at,
            received_at,
            source: source.to_owned(),
        });
        self.emitted[a] += 1;
        id
    }

    fn confirm(&mut self, by: usize, a: usize, kind: &str, event: &str, at: i64) {
        let id = self.id("c");
        self.confirmations.push(Confirmation {
            id,
            confirmer: self.actors[by].id.clone(),
            claimant: self.actors[a].id.clone(),
            kind: kind.to_owned(),
            event: event.to_owned(),
            confirmed_at: at,
            auth: Auth::Wallet,
        });
    }

    fn random_helper(&mut self, not: usize) -> usize {
        loop {
            let h = self.helpers[self.rng.below(self.helpers.len() as u64) as usize];
            if h != not {
                return h;
            }
        }
    }

    /// One honest day of actor `a` with `p`, on day starting `d0`, confirmations until `end`.
    /// `received` = Some(t): everything is logged at `t` (late logging); else within minutes.
    fn honest_day(&mut self, a: usize, p: Profile, d0: i64, end: i64, received: Option<i64>) {
        let at = |rng: &mut Rng| d0 + 7 * 3_600 + rng.below(15 * 3_600) as i64;
        let rec = |rng: &mut Rng, t: i64| received.unwrap_or(t + rng.below(600) as i64);
        if self.rng.chance(p.practice) {
            let t = at(&mut self.rng);
            let r = rec(&mut self.rng, t);
            self.emit(a, "practice_session", t, "app", r);
        }
        for (kind, prob, n_conf) in [
            ("help_given", p.help, 1),
            ("review", p.review, 1),
            ("mentoring", p.mentoring, 1),
            ("system_built", p.system, 2),
        ] {
            if self.rng.chance(prob) {
                let t = at(&mut self.rng);
                let r = rec(&mut self.rng, t);
                let e = self.emit(a, kind, t, "member", r);
                for _ in 0..n_conf {
                    // The helped member confirms (85% of the time), within a day.
                    if self.rng.chance(850) {
                        let h = self.random_helper(a);
                        let c = (t + self.rng.below(DAY as u64) as i64).min(end - 1);
                        self.confirm(h, a, kind, &e, c.max(t));
                    }
                }
            }
        }
    }

    /// Claims at every v1 cap of `kinds` on day `d0` (practice 2, help 3, review 2, ...),
    /// spaced beyond the cooldowns. Returns the events with their kinds.
    fn every_cap_day(&mut self, a: usize, d0: i64, kinds: &[&str]) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        for &kind in kinds {
            let (n, gap) = match kind {
                "practice_session" => (2, 3_700),
                "help_given" => (3, 1_900),
                "review" => (2, 3_700),
                "mentoring" => (1, 0),
                _ => (1, 0),
            };
            for i in 0..n {
                let t = d0 + 8 * 3_600 + i * gap + self.rng.below(60) as i64;
                let src = if kind == "practice_session" {
                    "app"
                } else {
                    "member"
                };
                let e = self.emit(a, kind, t, src, t + 60);
                out.push((e, kind.to_owned(), t));
            }
        }
        out
    }
}

fn actor_group(
    actors: &mut Vec<Actor>,
    strategy: Strategy,
    people: usize,
    accounts: usize,
    joins: Option<u64>,
    tenure: u32,
    subscribed: bool,
) {
    let name = format!("{strategy:?}")
        .to_lowercase()
        .replace(['(', ')'], "");
    for p in 0..people {
        let person = actors.len();
        for k in 0..accounts {
            actors.push(Actor {
                id: format!("{name}-{p:02}-{k:02}"),
                strategy,
                person,
                joins,
                initial_tenure: tenure,
                subscribed,
            });
        }
    }
}

/// Builds the population: 500 steady members (20 masters) + the strategy groups.
fn population(gaming: bool, rng: &mut Rng) -> Vec<Actor> {
    let mut actors = Vec::new();
    for i in 0..STEADY {
        actors.push(Actor {
            id: if i < MASTERS {
                format!("master-{:02}", i + 1)
            } else {
                format!("steady-{i:03}")
            },
            strategy: Strategy::Steady,
            person: i,
            joins: None,
            // Steady members have been around for 0..=2 years.
            initial_tenure: rng.below(105) as u32,
            subscribed: true,
        });
    }
    let est = 52; // established actors: one year of history
    if gaming {
        actor_group(&mut actors, Strategy::ReviewClaims, 5, 1, None, est, true);
        actor_group(&mut actors, Strategy::EveryCapAlone, 5, 1, None, est, true);
        actor_group(&mut actors, Strategy::BoundaryBurst, 5, 1, None, est, true);
        actor_group(&mut actors, Strategy::Ring, 10, 1, None, est, true);
        actor_group(&mut actors, Strategy::RingInvented, 10, 1, None, est, true);
        actor_group(&mut actors, Strategy::RingEveryCap, 10, 1, None, est, true);
        for n in [2, 5, 10] {
            // Fresh accounts of one person; they even pay a subscription each.
            actor_group(&mut actors, Strategy::Sybils(n), 1, n, Some(0), 0, true);
        }
        // 5 fresh sybils without subscription + the colluding trusted member (account 0 of the
        // group is the colluder: an established steady member).
        actor_group(
            &mut actors,
            Strategy::SybilsColluder,
            1,
            6,
            Some(0),
            0,
            false,
        );
        // The same with every sybil paying a subscription (eligible without vouches).
        actor_group(
            &mut actors,
            Strategy::SybilsColluderPaid,
            1,
            6,
            Some(0),
            0,
            true,
        );
        // The colluder (account 0 of each group) is an established, trusted, subscribed member.
        for s in [Strategy::SybilsColluder, Strategy::SybilsColluderPaid] {
            if let Some(c) = actors.iter_mut().find(|a| a.strategy == s) {
                c.joins = None;
                c.initial_tenure = est;
                c.subscribed = true;
            }
        }
        actor_group(&mut actors, Strategy::Farmer, 5, 1, None, est, true);
        actor_group(&mut actors, Strategy::TwoEvents, 5, 1, None, est, true);
        actor_group(&mut actors, Strategy::Backfill, 5, 1, None, est, true);
    }
    actor_group(&mut actors, Strategy::SteadyExtra, 10, 1, None, est, true);
    for j in 0..4 {
        actor_group(
            &mut actors,
            Strategy::Newcomer,
            5,
            1,
            Some(10 * j + 5),
            0,
            true,
        );
    }
    actor_group(
        &mut actors,
        Strategy::NewcomerUnvouched,
        5,
        1,
        Some(5),
        0,
        true,
    );
    actor_group(
        &mut actors,
        Strategy::Lifelong,
        20,
        1,
        None,
        104 - WARMUP as u32,
        true,
    );
    actor_group(
        &mut actors,
        Strategy::SixWeeks,
        20,
        1,
        None,
        6 - WARMUP as u32,
        true,
    );
    actor_group(&mut actors, Strategy::Vacation, 10, 1, None, est, true);
    // Unique ids for repeated groups (newcomer cohorts).
    let mut seen = BTreeMap::new();
    for a in &mut actors {
        let n = seen.entry(a.id.clone()).or_insert(0u32);
        if *n > 0 {
            a.id = format!("{}-{n}", a.id);
        }
        *n += 1;
    }
    actors
}

struct Outcome {
    /// Per actor: total STK (v1, v2) over the measured epochs and epochs existing.
    v1: Vec<u128>,
    v2: Vec<u128>,
    events: Vec<u64>,
    epochs: Vec<u64>,
    /// Per actor: v2 reward in their first measured epoch (newcomers).
    first_v2: Vec<Option<u64>>,
    first_steady_v2: Vec<Option<u64>>,
    /// v2 reward of the first measured epoch per actor.
    epoch0_v2: Vec<u64>,
}

fn simulate(gaming: bool) -> (Vec<Actor>, Outcome) {
    let v1 = Rules::from_toml(V1_RULES).expect("v1 rules");
    let v2 = RulesV2::from_toml(V2_RULES).expect("v2 rules");
    let mut rng = Rng(0x5EED_0000_ADAB_0001 ^ u64::from(gaming));
    let actors = population(gaming, &mut rng);
    let n = actors.len();
    let mut w = World {
        rng,
        helpers: (0..STEADY).collect(),
        actors,
        events: Vec::new(),
        confirmations: Vec::new(),
        vouches: Vec::new(),
        seq: 0,
        emitted: vec![0; n],
    };
    let mut states: Vec<MemberState> = w
        .actors
        .iter()
        .map(|a| MemberState {
            tenure_epochs: a.initial_tenure,
            trust: 0,
            carry: vec![],
        })
        .collect();
    // v1 history: qualified flags of the last epochs.
    let mut v1_hist: Vec<Vec<bool>> = w
        .actors
        .iter()
        .map(|a| vec![true; a.initial_tenure.min(6) as usize])
        .collect();
    let mut out = Outcome {
        v1: vec![0; n],
        v2: vec![0; n],
        events: vec![0; n],
        epochs: vec![0; n],
        first_v2: vec![None; n],
        first_steady_v2: vec![None; n],
        epoch0_v2: vec![0; n],
    };
    let ring_of =
        |s: Strategy| -> Vec<usize> { (0..n).filter(|&i| w.actors[i].strategy == s).collect() };
    let rings: Vec<(Strategy, Vec<usize>)> = [
        Strategy::Ring,
        Strategy::RingInvented,
        Strategy::RingEveryCap,
    ]
    .into_iter()
    .map(|s| (s, ring_of(s)))
    .collect();
    let mut sybil_groups: Vec<(Strategy, Vec<usize>)> = Vec::new();
    for s in [
        Strategy::Sybils(2),
        Strategy::Sybils(5),
        Strategy::Sybils(10),
        Strategy::SybilsColluder,
        Strategy::SybilsColluderPaid,
    ] {
        let g = ring_of(s);
        if !g.is_empty() {
            sybil_groups.push((s, g));
        }
    }
    let colluders: Vec<usize> = sybil_groups
        .iter()
        .filter(|(s, _)| matches!(s, Strategy::SybilsColluder | Strategy::SybilsColluderPaid))
        .map(|(_, g)| g[0])
        .collect();

    for e in 0..WARMUP + MEASURED {
        let start = GENESIS + e as i64 * WEEK;
        let end = start + WEEK;
        let measured = e >= WARMUP;
        let rel = e.saturating_sub(WARMUP);
        w.events.clear();
        w.confirmations.clear();
        w.vouches.clear();
        w.emitted.fill(0);
        let exists = |a: &Actor| match a.joins {
            None => true,
            Some(j) => measured && rel >= j,
        };
        let live: Vec<bool> = w.actors.iter().map(exists).collect();

        for a in 0..n {
            if !live[a] {
                continue;
            }
            let strat = if measured {
                w.actors[a].strategy
            } else {
                Strategy::Steady
            };
            let is_colluder = colluders.contains(&a);
            for d in 0..7 {
                let d0 = start + d * DAY;
                match strat {
                    Strategy::Steady
                    | Strategy::Newcomer
                    | Strategy::NewcomerUnvouched
                    | Strategy::Lifelong
                    | Strategy::SixWeeks
                    | Strategy::Ring
                    | Strategy::RingInvented => w.honest_day(a, STEADY_P, d0, end, None),
                    Strategy::SybilsColluder | Strategy::SybilsColluderPaid if is_colluder => {
                        w.honest_day(a, STEADY_P, d0, end, None)
                    }
                    Strategy::SteadyExtra => w.honest_day(a, EXTRA_P, d0, end, None),
                    Strategy::Vacation => {
                        // 4 weeks off every 16.
                        if rel % 16 < 12 {
                            w.honest_day(a, STEADY_P, d0, end, None)
                        }
                    }
                    Strategy::ReviewClaims => {
                        for i in 0..2 {
                            let t = d0 + 9 * 3_600 + i * 4 * 3_600;
                            w.emit(a, "review", t, "member", t + 30);
                        }
                    }
                    Strategy::EveryCapAlone => {
                        w.every_cap_day(a, d0, &["practice_session", "help_given", "review"]);
                    }
                    Strategy::Farmer => {
                        for i in 0..16 {
                            let t = d0 + 6 * 3_600 + i * 3_700;
                            w.emit(a, "practice_session", t, "app", t + 30);
                        }
                    }
                    Strategy::BoundaryBurst => {
                        // A week's honest work squeezed into the epoch's first and last day:
                        // 3-4 "days" of the profile on each of them.
                        if d == 0 || d == 6 {
                            for _ in 0..4 {
                                w.honest_day(a, STEADY_P, d0, end, None);
                            }
                        }
                    }
                    Strategy::Backfill => {
                        // Nothing during the week; the whole week logged in the last hour.
                        w.honest_day(a, STEADY_P, d0, end, Some(end - 3_600));
                    }
                    Strategy::TwoEvents => {
                        if d == 2 {
                            let t = d0 + 10 * 3_600;
                            w.emit(a, "practice_session", t, "app", t + 30);
                            let e2 = w.emit(a, "help_given", t + 7_200, "member", t + 7_230);
                            let h = w.random_helper(a);
                            w.confirm(h, a, "help_given", &e2, t + 9_000);
                        }
                    }
                    Strategy::RingEveryCap
                    | Strategy::Sybils(_)
                    | Strategy::SybilsColluder
                    | Strategy::SybilsColluderPaid => {
                        // Claims at every cap; confirmations from the group below.
                    }
                }
            }
        }
        // Onboarding: every member who joined honestly was vouched for by two established members
        // (standing vouches, re-sent every epoch; fixed vouchers per member). Only the
        // "no vouches" newcomers and the sybils lack them. Vouches matter during probation only.
        for a in 0..n {
            let s = w.actors[a].strategy;
            let onboarded = !matches!(
                s,
                Strategy::NewcomerUnvouched
                    | Strategy::Sybils(_)
                    | Strategy::SybilsColluder
                    | Strategy::SybilsColluderPaid
            ) || w.actors[a].joins.is_none();
            if live[a] && onboarded && w.actors[a].initial_tenure < 12 + WARMUP as u32 {
                // Vouchers: established steady members (a vouch counts from tenure >= 12 only).
                let established: Vec<usize> = (MASTERS..STEADY)
                    .filter(|&v| w.actors[v].initial_tenure >= 12)
                    .collect();
                for k in 0..2u64 {
                    let v =
                        established[((a as u64 * 7 + k * 131) % established.len() as u64) as usize];
                    w.vouches.push(Vouch {
                        voucher: w.actors[v].id.clone(),
                        member: w.actors[a].id.clone(),
                        auth: Auth::Wallet,
                    });
                }
            }
        }
        // Rings and sybil groups: every cap claimed and confirmed by every other member.
        if measured {
            let all_kinds = [
                "practice_session",
                "help_given",
                "review",
                "mentoring",
                "system_built",
            ];
            let mut groups: Vec<(Strategy, Vec<usize>)> = rings.clone();
            groups.extend(sybil_groups.iter().cloned());
            for (s, g) in &groups {
                let members: Vec<usize> = g
                    .iter()
                    .copied()
                    .filter(|&a| live[a] && !colluders.contains(&a))
                    .collect();
                for &a in &members {
                    let claims: Vec<(String, String, i64)> = match s {
                        Strategy::Ring => {
                            // Extra help claims at the v1 cap every day.
                            let mut c = Vec::new();
                            for d in 0..7 {
                                c.extend(w.every_cap_day(a, start + d * DAY, &["help_given"]));
                            }
                            c
                        }
                        Strategy::RingInvented => {
                            let mut c = Vec::new();
                            for d in 0..7 {
                                c.extend(w.every_cap_day(a, start + d * DAY, &["help_given"]));
                            }
                            c.extend(w.every_cap_day(a, start + 2 * DAY, &["mentoring"]));
                            c.extend(w.every_cap_day(a, start + 4 * DAY, &["system_built"]));
                            c
                        }
                        _ => {
                            let mut c = Vec::new();
                            for d in 0..7 {
                                c.extend(w.every_cap_day(a, start + d * DAY, &all_kinds));
                            }
                            c
                        }
                    };
                    // Worst case: each claim confirmed by the next peers in turn, so that every
                    // (confirmer, claimant, kind) is used once and budgets are spread.
                    let peers: Vec<usize> = members.iter().copied().filter(|&b| b != a).collect();
                    let mut turn = 0usize;
                    for (ev, kind, t) in claims {
                        if kind == "practice_session" || peers.is_empty() {
                            continue;
                        }
                        let need = if kind == "system_built" { 2 } else { 1 };
                        for _ in 0..need {
                            let b = peers[turn % peers.len()];
                            turn += 1;
                            w.confirm(b, a, &kind, &ev, t + 600);
                        }
                    }
                }
                if matches!(s, Strategy::SybilsColluder | Strategy::SybilsColluderPaid) {
                    let c = g[0];
                    // The colluder vouches for every sybil and confirms their events first.
                    for &a in &members {
                        w.vouches.push(Vouch {
                            voucher: w.actors[c].id.clone(),
                            member: w.actors[a].id.clone(),
                            auth: Auth::Wallet,
                        });
                        for &b in &members {
                            if b != a {
                                w.vouches.push(Vouch {
                                    voucher: w.actors[b].id.clone(),
                                    member: w.actors[a].id.clone(),
                                    auth: Auth::Wallet,
                                });
                            }
                        }
                    }
                    let targets: Vec<(usize, String, String, i64)> = w
                        .events
                        .iter()
                        .filter(|e| members.iter().any(|&a| w.actors[a].id == e.member))
                        .filter(|e| e.kind != "practice_session")
                        .map(|e| {
                            let a = members
                                .iter()
                                .copied()
                                .find(|&a| w.actors[a].id == e.member)
                                .unwrap_or(0);
                            (a, e.id.clone(), e.kind.clone(), e.occurred_at)
                        })
                        .collect();
                    for (a, ev, kind, t) in targets {
                        w.confirm(c, a, &kind, &ev, t + 300);
                    }
                }
            }
        }

        // ---- Score with v2. ----
        let ids: Vec<usize> = (0..n).filter(|&a| live[a]).collect();
        let input2 = EpochInputV2 {
            epoch: e,
            starts_at: start,
            ends_at: end,
            budget: BUDGET,
            members: ids
                .iter()
                .map(|&a| MemberV2 {
                    id: w.actors[a].id.clone(),
                    active: true,
                    subscribed: w.actors[a].subscribed,
                    state: states[a].clone(),
                })
                .collect(),
            events: w.events.clone(),
            confirmations: w.confirmations.clone(),
            vouches: w.vouches.clone(),
        };
        let s2 = score_epoch_v2(&v2, &input2).expect("v2 scoring");
        if std::env::var_os("ADV_DEBUG").is_some() {
            for r in &s2.receipts {
                let a = w.actors.iter().position(|x| x.id == r.member);
                let show = a.is_some_and(|a| {
                    let s = w.actors[a].strategy;
                    std::env::var("ADV_DEBUG").is_ok_and(|v| v == format!("{s:?}"))
                });
                if show && measured {
                    eprintln!(
                        "{} e{rel} raw {} cap {} tenure {} trust {} tf {} elig {} score {} amount {} counted {} dropped {:?}",
                        r.member, r.raw_points, s2.ceiling, r.tenure_bps, r.trust, r.trust_factor_bps,
                        r.eligible, r.score, r.amount, r.counted.len(),
                        r.dropped.iter().map(|d| format!("{}:{:?}", d.kind, d.reason)).collect::<Vec<_>>()
                    );
                }
            }
        }
        let idx: BTreeMap<&str, usize> = w
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.as_str(), i))
            .collect();
        let mut paid2 = vec![0u64; n];
        for al in &s2.allocations {
            paid2[idx[al.member.as_str()]] = al.amount;
        }
        for st in &s2.next_states {
            states[idx[st.member.as_str()]] = st.state.clone();
        }

        // ---- Score with v1 on the same activity. ----
        let mut conf_by_event: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &w.confirmations {
            conf_by_event
                .entry(c.event.as_str())
                .or_default()
                .push(c.confirmer.clone());
        }
        let input1 = EpochInput {
            epoch: e,
            starts_at: start,
            ends_at: end,
            budget: BUDGET,
            members: ids
                .iter()
                .map(|&a| MemberInput {
                    id: w.actors[a].id.clone(),
                    active: true,
                    recent_active_epochs: v1_hist[a].iter().rev().take(6).filter(|&&q| q).count()
                        as u32,
                })
                .collect(),
            events: w
                .events
                .iter()
                .map(|x| Event {
                    id: x.id.clone(),
                    member: x.member.clone(),
                    kind: x.kind.clone(),
                    occurred_at: x.occurred_at,
                    confirmations: conf_by_event
                        .get(x.id.as_str())
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect(),
        };
        let s1 = score_epoch(&v1, &input1).expect("v1 scoring");
        let mut paid1 = vec![0u64; n];
        let mut q1 = vec![false; n];
        for r in &s1.receipts {
            if let Some(&i) = idx.get(r.member.as_str()) {
                paid1[i] = r.amount;
                q1[i] = r.qualified;
            }
        }
        for &a in &ids {
            v1_hist[a].push(q1[a]);
        }

        if measured {
            let steady_ids: Vec<usize> = (MASTERS..STEADY).collect();
            let steady_mean =
                steady_ids.iter().map(|&a| paid2[a]).sum::<u64>() / steady_ids.len() as u64;
            for &a in &ids {
                out.v1[a] += u128::from(paid1[a]);
                out.v2[a] += u128::from(paid2[a]);
                out.events[a] += w.emitted[a];
                out.epochs[a] += 1;
                if out.first_v2[a].is_none() {
                    out.first_v2[a] = Some(paid2[a]);
                    out.first_steady_v2[a] = Some(steady_mean);
                }
                if rel < 2 {
                    out.epoch0_v2[a] += paid2[a];
                }
            }
        }
    }
    (w.actors, out)
}

fn label(s: Strategy) -> (String, Class) {
    use Strategy as S;
    match s {
        S::Steady => ("steady (baseline)".into(), Class::Honest),
        S::ReviewClaims => ("2 self-reported reviews a day".into(), Class::Gaming),
        S::EveryCapAlone => (
            "every cap practice+help+review, alone".into(),
            Class::Gaming,
        ),
        S::BoundaryBurst => (
            "week's work in 2 days at the boundary".into(),
            Class::Reshaped,
        ),
        S::Ring => (
            "ring of 10 confirming each other".into(),
            Class::GamingOnTop,
        ),
        S::RingInvented => (
            "ring + invented mentoring & system".into(),
            Class::GamingOnTop,
        ),
        S::RingEveryCap => ("ring of 10 at every cap".into(), Class::Gaming),
        S::Sybils(k) => (
            format!("1 person, {k} accounts at every cap"),
            Class::Gaming,
        ),
        S::SybilsColluder => (
            "5 sybils + colluding trusted member".into(),
            Class::GamingOnTop,
        ),
        S::SybilsColluderPaid => (
            "5 subscribed sybils + colluding member".into(),
            Class::GamingOnTop,
        ),
        S::Farmer => ("farmer: 16 practice a day".into(), Class::Gaming),
        S::TwoEvents => ("2 events per epoch".into(), Class::Reshaped),
        S::Backfill => ("week back-filled at epoch end".into(), Class::Reshaped),
        S::SteadyExtra => ("steady + extra genuine work".into(), Class::Honest),
        S::Newcomer => (
            "honest newcomer, vouched by 2 (all epochs)".into(),
            Class::Honest,
        ),
        S::NewcomerUnvouched => ("honest newcomer, no vouches".into(), Class::Honest),
        S::Lifelong => ("lifelong (2 years of history)".into(), Class::Honest),
        S::SixWeeks => ("6 weeks of history".into(), Class::Honest),
        S::Vacation => ("vacation 4 of every 16 weeks".into(), Class::Honest),
    }
}

fn main() {
    let t0 = std::time::Instant::now();
    let (actors, out) = simulate(true);
    let steady: Vec<usize> = (MASTERS..STEADY).collect();
    let per_epoch = |v: &[u128], a: usize| v[a] as f64 / out.epochs[a].max(1) as f64;
    let base1 = steady.iter().map(|&a| per_epoch(&out.v1, a)).sum::<f64>() / steady.len() as f64;
    let base2 = steady.iter().map(|&a| per_epoch(&out.v2, a)).sum::<f64>() / steady.len() as f64;

    // Group by strategy; a person's reward is the sum over their accounts.
    let mut order: Vec<Strategy> = Vec::new();
    for a in &actors {
        if !order.contains(&a.strategy) {
            order.push(a.strategy);
        }
    }
    println!(
        "{:<42} | {:<13} | {:>6} | {:>8} | {:>15}",
        "strategy", "class", "events", "v1 ratio", "reward / steady"
    );
    println!("{}", "-".repeat(96));
    let mut worst: (f64, String) = (f64::MIN, String::new());
    for s in order {
        let (name, class) = label(s);
        let mut persons: BTreeMap<usize, (f64, f64, f64)> = BTreeMap::new();
        for (a, act) in actors.iter().enumerate() {
            if act.strategy != s || out.epochs[a] == 0 {
                continue;
            }
            let p = persons.entry(act.person).or_default();
            p.0 += per_epoch(&out.v1, a);
            p.1 += per_epoch(&out.v2, a);
            p.2 += out.events[a] as f64 / out.epochs[a] as f64;
        }
        let k = persons.len().max(1) as f64;
        let r1 = persons.values().map(|p| p.0).sum::<f64>() / k / base1;
        let r2 = persons.values().map(|p| p.1).sum::<f64>() / k / base2;
        let ev = persons.values().map(|p| p.2).sum::<f64>() / k;
        let class_s = match class {
            Class::Gaming => "gaming",
            Class::GamingOnTop => "gaming on top",
            Class::Reshaped => "reshaped",
            Class::Honest => "honest",
        };
        println!("{name:<42} | {class_s:<13} | {ev:>6.1} | {r1:>8.2} | {r2:>15.2}");
        let gain = match class {
            Class::Gaming => Some(r2),
            Class::GamingOnTop => Some(r2 - 1.0),
            _ => None,
        };
        if let Some(g) = gain {
            if g > worst.0 {
                worst = (g, name.clone());
            }
        }
    }
    // Targeted measurements.
    let group = |s: Strategy| -> Vec<usize> {
        (0..actors.len())
            .filter(|&a| actors[a].strategy == s)
            .collect()
    };
    let mean = |g: &[usize], f: &dyn Fn(usize) -> f64| {
        g.iter().map(|&a| f(a)).sum::<f64>() / g.len() as f64
    };
    let life0 = mean(&group(Strategy::Lifelong), &|a| out.epoch0_v2[a] as f64);
    let six0 = mean(&group(Strategy::SixWeeks), &|a| out.epoch0_v2[a] as f64);
    let newc = group(Strategy::Newcomer);
    let first = mean(&newc, &|a| out.first_v2[a].unwrap_or(0) as f64)
        / mean(&newc, &|a| out.first_steady_v2[a].unwrap_or(1) as f64);
    println!("{}", "-".repeat(96));
    println!(
        "2-year vs 6-week steady member, same epochs (first 2 measured, v2): {:.2}x",
        life0 / six0.max(1.0)
    );
    println!("honest newcomer, first epoch / steady (v2): {first:.2}");

    // Honest-only world: steady members' share of the budget, v1 vs v2.
    let (h_actors, h) = simulate(false);
    let total1: u128 = h.v1.iter().sum();
    let total2: u128 = h.v2.iter().sum();
    let steady1: u128 = (0..STEADY).map(|a| h.v1[a]).sum();
    let steady2: u128 = (0..STEADY).map(|a| h.v2[a]).sum();
    let share1 = steady1 as f64 / total1 as f64;
    let share2 = steady2 as f64 / total2 as f64;
    println!(
        "honest world ({} members): steady share v1 {:.2}%, v2 {:.2}%",
        h_actors.len(),
        share1 * 100.0,
        share2 * 100.0
    );
    println!("elapsed: {:.1} s", t0.elapsed().as_secs_f64());
    println!("worst gaming ratio: {:.2} ({})", worst.0, worst.1);
    println!("honest cost: {:.1}%", (share2 / share1 - 1.0) * 100.0);
}
