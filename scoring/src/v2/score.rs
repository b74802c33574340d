//! `score_epoch_v2`: evidence, accountable confirmations, trust, eligibility, calendar caps,
//! tenure, ceiling, exact budget split and the next member states.

use serde::{Deserialize, Serialize};

use crate::allocate::split_budget;
use crate::fxhash::{FxBuild, FxHashMap, FxHashSet};
use crate::score::{Allocation, ScoringError};
use crate::time::{day_index, epoch_days, month_index, week_index};
use crate::v2::input::{Auth, EpochInputV2, KindCarry, MemberState};
use crate::v2::rules::{Evidence, KindRuleV2, RulesV2, TRUST_ONE};
use crate::v2::trust::personalized_pagerank;
use crate::BPS;

/// Result of scoring one epoch with rules v2.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EpochScoreV2 {
    pub epoch: u64,
    #[serde(with = "crate::hexser")]
    pub rules_hash: [u8; 32],
    #[serde(with = "crate::hexser")]
    pub activity_digest: [u8; 32],
    pub total_score: u128,
    pub budget: u64,
    /// Median of the positive raw points of eligible members with trust (0 if none).
    pub median_points: u64,
    /// Raw-points ceiling this epoch: `max(min_score, median * median_multiple_bps / BPS)`.
    pub ceiling: u64,
    /// Sorted by member id; only `amount > 0`.
    pub allocations: Vec<Allocation>,
    /// One per member id with events, confirmations given or received, or vouches; sorted by id.
    pub receipts: Vec<ReceiptV2>,
    /// State of every member of the input after this epoch, sorted by id: pass it as
    /// [`crate::MemberV2::state`] in the next epoch.
    pub next_states: Vec<MemberStateOut>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MemberStateOut {
    pub member: String,
    pub state: MemberState,
}

/// Explanation of one member's points, trust, eligibility and amount.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReceiptV2 {
    pub member: String,
    pub epoch: u64,
    pub rules_version: u32,
    /// Counted events in canonical order. Empty when not qualified (they move to `dropped`).
    pub counted: Vec<CountedEventV2>,
    pub dropped: Vec<DroppedEventV2>,
    /// Events dropped per (kind, cap reason), sorted.
    pub caps_hit: Vec<CapHit>,
    /// Confirmations of this member's events, in canonical order, counted or refused and why.
    pub confirmations_received: Vec<ConfirmationOutcome>,
    /// Confirmations this member gave, in canonical order.
    pub confirmations_given: Vec<ConfirmationOutcome>,
    /// Sum of the points of counted events.
    pub raw_points: u64,
    pub active_days: u32,
    pub epoch_days: u32,
    /// Tenure before this epoch and its multiplier.
    pub tenure_epochs: u32,
    pub tenure_bps: u64,
    /// Trust this epoch (`TRUST_ONE` = mean), this epoch's graph value and the carried value.
    pub trust: u64,
    pub trust_graph: u64,
    pub trust_carried: u64,
    pub trust_factor_bps: u64,
    pub subscribed: bool,
    /// Distinct vouchers with enough trust.
    pub vouches_counted: u32,
    pub eligible: bool,
    /// `min(raw_points, ceiling)`.
    pub capped_points: u64,
    pub ceiling_hit: bool,
    /// `capped_points * tenure_bps * trust_factor_bps / BPS^2`.
    pub score: u64,
    pub qualified: bool,
    pub amount: u64,
    /// Whether this epoch adds to `tenure_epochs`.
    pub counts_for_tenure: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CountedEventV2 {
    pub id: String,
    pub kind: String,
    pub evidence: Evidence,
    pub base_points: u64,
    /// Evidence strength: confirmed kinds the mean strength of the `required` strongest counted
    /// confirmations,
    /// claimed kinds `claimed_bps`, observed `BPS`.
    pub evidence_bps: u64,
    /// Diminishing factor (repetition within the UTC day).
    pub factor_bps: u64,
    /// `base * evidence * factor / BPS^2`.
    pub points: u64,
    /// Ids of the counted confirmations.
    pub confirmations: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DroppedEventV2 {
    pub id: String,
    pub kind: String,
    pub reason: DropReasonV2,
    /// For `NotQualified`: the points it would have earned.
    pub points: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CapHit {
    pub kind: String,
    pub reason: DropReasonV2,
    pub events: u32,
}

/// Why an event did not count (checks in this order).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReasonV2 {
    UnknownMember,
    InactiveMember,
    UnknownKind,
    OutsideEpoch,
    /// `received_at - occurred_at > calendar.ingest_window_secs`.
    Backfilled,
    /// `occurred_at > received_at + calendar.max_clock_skew_secs`.
    FromFuture,
    /// Observed kind from a source that does not observe it (or a self-report).
    NotObserved,
    /// Confirmed kind with fewer counted confirmations than required.
    Unconfirmed,
    /// Claimed kind with `claimed_bps = 0`.
    ClaimOnly,
    DailyCap,
    WeeklyCap,
    MonthlyCap,
    Cooldown,
    /// The member is not paid this epoch (not eligible, no trust, or below `min_score`).
    NotQualified,
}

/// A confirmation and what happened to it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ConfirmationOutcome {
    pub id: String,
    pub confirmer: String,
    pub claimant: String,
    pub kind: String,
    pub event: String,
    pub status: ConfirmationStatus,
    /// Strength when counted (`BPS`, or `reciprocal_bps` for a reciprocal pair); else 0.
    pub strength_bps: u64,
}

/// Checks in this order; the first that applies is reported.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfirmationStatus {
    Counted,
    /// Not signed by the confirmer's wallet nor posted by a source that authenticates confirmers.
    Unauthenticated,
    /// `confirmed_at` outside the epoch.
    OutsideEpoch,
    UnknownConfirmer,
    InactiveConfirmer,
    /// The event does not exist, or its member/kind differ from the record's claimant/kind.
    BadTarget,
    SelfConfirmation,
    /// The kind is not a confirmed kind.
    NotConfirmable,
    /// Same (confirmer, claimant, kind) already counted this epoch.
    Duplicate,
    /// The confirmer's `budget_per_epoch` is spent.
    OverBudget,
    /// The claimant is a new member (tenure below `trust.min_propagator_tenure_epochs`) and the
    /// confirmer already sponsored `max_new_members_per_epoch` other new members this epoch.
    NewMemberBudget,
    /// The confirmer's trust is below `trust.min_confirmer_trust` (still a graph edge).
    LowTrust,
    /// The confirmer's `tenure_epochs` is below `confirmations.min_confirmer_tenure_epochs`
    /// (still a graph edge).
    NewConfirmer,
}

const NONE: u32 = u32::MAX;

/// An event's fate in the member pass: `Ok((evidence_bps, factor_bps, points))` or why dropped.
type Verdict = Result<(u64, u64, u64), DropReasonV2>;

fn of(what: &'static str) -> ScoringError {
    ScoringError::Overflow(what)
}

#[derive(Clone, Copy, Default)]
struct KState {
    day: i64,
    day_count: u32,
    week: i64,
    week_count: u32,
    month: i64,
    month_count: u32,
    last_at: Option<i64>,
}

fn authenticated(rules: &RulesV2, auth: &Auth) -> bool {
    match auth {
        Auth::Wallet => true,
        Auth::Source(s) => rules
            .sources
            .get(s)
            .is_some_and(|r| r.authenticates_confirmers),
        Auth::None => false,
    }
}

/// Scores one epoch with rules v2. Deterministic: depends only on the content of `rules` and
/// `input`, not on the order of any list.
pub fn score_epoch_v2(rules: &RulesV2, input: &EpochInputV2) -> Result<EpochScoreV2, ScoringError> {
    let days = epoch_days(input.starts_at, input.ends_at).ok_or(ScoringError::EmptyWindow {
        starts_at: input.starts_at,
        ends_at: input.ends_at,
    })?;
    for n in [
        input.events.len(),
        input.members.len(),
        input.confirmations.len(),
        input.vouches.len(),
    ] {
        if u32::try_from(n).map_or(true, |v| v == NONE) {
            return Err(ScoringError::TooLarge(n));
        }
    }
    let orders = input.orders();
    let (digest, scored) = if input.events.len() < 20_000 {
        (
            input.digest_with(&orders),
            score_inner(rules, input, days, &orders),
        )
    } else {
        std::thread::scope(|s| {
            let h = s.spawn(|| input.digest_with(&orders));
            let scored = score_inner(rules, input, days, &orders);
            let d = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (d, scored)
        })
    };
    let mut out = scored?;
    out.activity_digest = digest;
    Ok(out)
}

fn score_inner(
    rules: &RulesV2,
    input: &EpochInputV2,
    days: u64,
    orders: &crate::v2::input::Orders,
) -> Result<EpochScoreV2, ScoringError> {
    let n = input.members.len();
    // Canonical member index: rank in id order.
    let mem = |r: usize| &input.members[orders.members[r] as usize];
    let mut by_id: FxHashMap<&str, u32> =
        FxHashMap::with_capacity_and_hasher(n, FxBuild::default());
    for r in 0..n {
        if by_id.insert(mem(r).id.as_str(), r as u32).is_some() {
            return Err(ScoringError::DuplicateMember(mem(r).id.clone()));
        }
    }
    let kinds: Vec<(&str, &KindRuleV2)> =
        rules.kinds.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let kind_ix: FxHashMap<&str, u32> = kinds
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i as u32))
        .collect();

    // Events: resolve once; event id -> index.
    let mut ev_by_id: FxHashMap<&str, u32> =
        FxHashMap::with_capacity_and_hasher(input.events.len(), FxBuild::default());
    for (i, e) in input.events.iter().enumerate() {
        if ev_by_id.insert(e.id.as_str(), i as u32).is_some() {
            return Err(ScoringError::DuplicateEvent(e.id.clone()));
        }
    }
    let ev_member: Vec<u32> = input
        .events
        .iter()
        .map(|e| by_id.get(e.member.as_str()).copied().unwrap_or(NONE))
        .collect();
    let ev_kind: Vec<u32> = input
        .events
        .iter()
        .map(|e| kind_ix.get(e.kind.as_str()).copied().unwrap_or(NONE))
        .collect();

    // New members (below the propagator tenure, not seeds): a confirmer or voucher can sponsor at
    // most `max_new_members_per_epoch` distinct ones per epoch.
    let mut seed_rank = vec![false; n];
    for s in &rules.trust.seeds {
        if let Some(&r) = by_id.get(s.as_str()) {
            seed_rank[r as usize] = true;
        }
    }
    let min_prop = rules.trust.min_propagator_tenure_epochs;
    let is_new = |r: u32| !seed_rank[r as usize] && mem(r as usize).state.tenure_epochs < min_prop;
    let mut sponsored: FxHashMap<u32, Vec<u32>> = FxHashMap::default();

    // --- Confirmations: accountability checks, dedup, budget (canonical order). ---
    let nc = input.confirmations.len();
    let mut c_status = vec![ConfirmationStatus::Counted; nc];
    let mut c_confirmer = vec![NONE; nc];
    let mut c_claimant = vec![NONE; nc];
    let mut c_event = vec![NONE; nc];
    {
        let mut seen_ids: FxHashSet<&str> =
            FxHashSet::with_capacity_and_hasher(nc, FxBuild::default());
        let mut pair_kind: FxHashSet<(u32, u32, u32)> =
            FxHashSet::with_capacity_and_hasher(nc, FxBuild::default());
        let mut used = vec![0u32; n];
        let max_new = rules.confirmations.max_new_members_per_epoch as usize;
        for &ci in &orders.confirmations {
            let ci = ci as usize;
            let c = &input.confirmations[ci];
            if !seen_ids.insert(c.id.as_str()) {
                return Err(ScoringError::DuplicateEvent(format!(
                    "confirmation {}",
                    c.id
                )));
            }
            let confirmer = by_id.get(c.confirmer.as_str()).copied().unwrap_or(NONE);
            let claimant = by_id.get(c.claimant.as_str()).copied().unwrap_or(NONE);
            let target = ev_by_id.get(c.event.as_str()).copied().unwrap_or(NONE);
            c_confirmer[ci] = confirmer;
            c_claimant[ci] = claimant;
            c_event[ci] = target;
            let kind = kind_ix.get(c.kind.as_str()).copied().unwrap_or(NONE);
            use ConfirmationStatus as S;
            let status = if !authenticated(rules, &c.auth) {
                S::Unauthenticated
            } else if c.confirmed_at < input.starts_at || c.confirmed_at >= input.ends_at {
                S::OutsideEpoch
            } else if confirmer == NONE {
                S::UnknownConfirmer
            } else if !mem(confirmer as usize).active {
                S::InactiveConfirmer
            } else if target == NONE
                || claimant == NONE
                || ev_member[target as usize] != claimant
                || ev_kind[target as usize] != kind
                || kind == NONE
            {
                S::BadTarget
            } else if confirmer == claimant {
                S::SelfConfirmation
            } else if kinds[kind as usize].1.evidence != Evidence::Confirmed {
                S::NotConfirmable
            } else if !pair_kind.insert((confirmer, claimant, kind)) {
                S::Duplicate
            } else if used[confirmer as usize] >= rules.confirmations.budget_per_epoch {
                S::OverBudget
            } else if is_new(claimant) && !sponsor(&mut sponsored, confirmer, claimant, max_new) {
                S::NewMemberBudget
            } else {
                used[confirmer as usize] += 1;
                S::Counted
            };
            c_status[ci] = status;
        }
    }

    // --- Vouches: authenticated, known, distinct (voucher, member). ---
    let mut vouch_edges: Vec<(u32, u32)> = Vec::new();
    for &vi in &orders.vouches {
        let v = &input.vouches[vi as usize];
        if !authenticated(rules, &v.auth) {
            continue;
        }
        let (Some(&a), Some(&b)) = (by_id.get(v.voucher.as_str()), by_id.get(v.member.as_str()))
        else {
            continue;
        };
        let max_new = rules.confirmations.max_new_members_per_epoch as usize;
        if a != b
            && mem(a as usize).active
            && (!is_new(b) || sponsor(&mut sponsored, a, b, max_new))
        {
            vouch_edges.push((a, b));
        }
    }
    vouch_edges.sort_unstable();
    vouch_edges.dedup();

    // --- Trust. ---
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(nc + vouch_edges.len());
    for ci in 0..nc {
        if c_status[ci] == ConfirmationStatus::Counted {
            edges.push((c_confirmer[ci], c_claimant[ci]));
        }
    }
    let mut pairs: Vec<(u32, u32)> = edges.clone();
    pairs.sort_unstable();
    pairs.dedup();
    edges.extend_from_slice(&vouch_edges);
    let seeds: Vec<u32> = rules
        .trust
        .seeds
        .iter()
        .filter_map(|s| by_id.get(s.as_str()).copied())
        .filter(|&s| mem(s as usize).active)
        .collect();
    // Only established members (and the seeds) pass trust on.
    edges.retain(|&(a, _)| !is_new(a));
    let mass = personalized_pagerank(
        n,
        &seeds,
        &edges,
        rules.trust.teleport_bps,
        rules.trust.iterations,
    );
    drop(edges);
    // Normalize: the median positive mass is TRUST_ONE.
    let median_mass = {
        let mut pos: Vec<u64> = mass.iter().copied().filter(|&m| m > 0).collect();
        pos.sort_unstable();
        pos.get(pos.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(1)
    };
    let mut trust_graph = vec![0u64; n];
    let mut trust_carried = vec![0u64; n];
    let mut trust = vec![0u64; n];
    for r in 0..n {
        let g = u128::from(mass[r]) * u128::from(TRUST_ONE) / u128::from(median_mass);
        trust_graph[r] = u64::try_from(g).map_err(|_| of("trust"))?;
        let c = u128::from(mem(r).state.trust) * u128::from(rules.trust.keep_bps) / u128::from(BPS);
        trust_carried[r] = u64::try_from(c).map_err(|_| of("trust"))?;
        trust[r] = trust_graph[r].max(trust_carried[r]);
    }
    let min_t = rules.trust.min_confirmer_trust;

    // Trust gate and reciprocity; counted confirmations per event.
    let mut c_strength = vec![0u64; nc];
    let mut ev_conf: Vec<(u32, u32)> = Vec::new(); // (event, confirmation)
    for ci in 0..nc {
        if c_status[ci] != ConfirmationStatus::Counted {
            continue;
        }
        let (a, b) = (c_confirmer[ci], c_claimant[ci]);
        if trust[a as usize] < min_t {
            c_status[ci] = ConfirmationStatus::LowTrust;
            continue;
        }
        // The masters (seeds) are trusted by the rules themselves: no tenure needed.
        if !seed_rank[a as usize]
            && mem(a as usize).state.tenure_epochs < rules.confirmations.min_confirmer_tenure_epochs
        {
            c_status[ci] = ConfirmationStatus::NewConfirmer;
            continue;
        }
        c_strength[ci] = if pairs.binary_search(&(b, a)).is_ok() {
            rules.confirmations.reciprocal_bps
        } else {
            BPS
        };
        ev_conf.push((c_event[ci], ci as u32));
    }
    let mut c_rank = vec![0u32; nc];
    for (r, &ci) in orders.confirmations.iter().enumerate() {
        c_rank[ci as usize] = r as u32;
    }
    ev_conf.sort_unstable_by_key(|&(e, c)| (e, c_rank[c as usize]));
    let ev_conf_start = {
        let mut s = vec![0u32; input.events.len() + 1];
        for &(e, _) in &ev_conf {
            s[e as usize + 1] += 1;
        }
        for i in 0..input.events.len() {
            s[i + 1] += s[i];
        }
        s
    };

    // Eligibility: subscription, or k distinct vouchers with trust.
    let mut vouches_ok = vec![0u32; n];
    for &(a, b) in &vouch_edges {
        if trust[a as usize] >= min_t
            && (seed_rank[a as usize]
                || mem(a as usize).state.tenure_epochs
                    >= rules.eligibility.min_voucher_tenure_epochs)
        {
            vouches_ok[b as usize] += 1;
        }
    }
    let k = rules.eligibility.vouches_required;
    let el = rules.eligibility;
    let eligible: Vec<bool> = (0..n)
        .map(|r| {
            let base = mem(r).subscribed || (k > 0 && vouches_ok[r] >= k);
            let past_probation = seed_rank[r]
                || mem(r).state.tenure_epochs >= el.probation_epochs
                || vouches_ok[r] >= el.probation_vouches;
            base && past_probation
        })
        .collect();

    // --- Per member pass over events (grouped by owner, canonical order). ---
    // Owners: members by rank, then unknown ids.
    let mut unknown: FxHashMap<&str, u32> = FxHashMap::default();
    let mut unknown_ids: Vec<&str> = Vec::new();
    let mut owner = vec![0u32; input.events.len()];
    for (i, e) in input.events.iter().enumerate() {
        owner[i] = if ev_member[i] != NONE {
            ev_member[i]
        } else {
            let next = unknown_ids.len() as u32;
            let u = *unknown.entry(e.member.as_str()).or_insert(next);
            if u == next {
                unknown_ids.push(e.member.as_str());
            }
            (n as u32).checked_add(u).ok_or(ScoringError::TooLarge(n))?
        };
    }
    let n_tags = n + unknown_ids.len();
    let mut starts = vec![0usize; n_tags + 1];
    for &o in &owner {
        starts[o as usize + 1] += 1;
    }
    for i in 0..n_tags {
        starts[i + 1] += starts[i];
    }
    let mut grouped = vec![0u32; input.events.len()];
    {
        let mut cur = starts.clone();
        for &ei in &orders.events {
            let o = owner[ei as usize] as usize;
            grouped[cur[o]] = ei;
            cur[o] += 1;
        }
    }

    struct Partial {
        raw: u64,
        active_days: u32,
        outcomes: Vec<(u32, Verdict)>,
        carry: Vec<KindCarry>,
    }
    let dim = rules.diminishing;
    let cal = rules.calendar;
    let mut st: Vec<Option<KState>> = vec![None; kinds.len()];
    let mut partial: Vec<Partial> = Vec::with_capacity(n_tags);
    for tag in 0..n_tags {
        let member = (tag < n).then(|| mem(tag));
        st.fill(None);
        if let Some(m) = member {
            for c in &m.state.carry {
                if let Some(&ki) = kind_ix.get(c.kind.as_str()) {
                    st[ki as usize] = Some(KState {
                        day: c.day,
                        day_count: c.day_count,
                        week: c.week,
                        week_count: c.week_count,
                        month: c.month,
                        month_count: c.month_count,
                        last_at: Some(c.last_at),
                    });
                }
            }
        }
        let mut raw = 0u64;
        let mut active_days = 0u32;
        let mut last_day: Option<i64> = None;
        let mut outcomes = Vec::with_capacity(starts[tag + 1] - starts[tag]);
        for &ei in &grouped[starts[tag]..starts[tag + 1]] {
            let e = &input.events[ei as usize];
            use DropReasonV2 as D;
            let verdict = (|| {
                let m = member.ok_or(D::UnknownMember)?;
                if !m.active {
                    return Err(D::InactiveMember);
                }
                let ki = ev_kind[ei as usize];
                let &(kname, rule) = kinds.get(ki as usize).ok_or(D::UnknownKind)?;
                if e.occurred_at < input.starts_at || e.occurred_at >= input.ends_at {
                    return Err(D::OutsideEpoch);
                }
                if i128::from(e.received_at) - i128::from(e.occurred_at)
                    > i128::from(cal.ingest_window_secs)
                {
                    return Err(D::Backfilled);
                }
                if i128::from(e.occurred_at) - i128::from(e.received_at)
                    > i128::from(cal.max_clock_skew_secs)
                {
                    return Err(D::FromFuture);
                }
                let evidence_bps = match rule.evidence {
                    Evidence::Observed => {
                        let ok = rules
                            .sources
                            .get(&e.source)
                            .is_some_and(|s| s.observes.iter().any(|k| k == kname));
                        if !ok {
                            return Err(D::NotObserved);
                        }
                        BPS
                    }
                    Evidence::Confirmed => {
                        let (s, t) = (
                            ev_conf_start[ei as usize] as usize,
                            ev_conf_start[ei as usize + 1] as usize,
                        );
                        if ((t - s) as u64) < u64::from(rule.confirmations_required) {
                            return Err(D::Unconfirmed);
                        }
                        // Mean of the `required` strongest confirmations: extra
                        // (e.g. reciprocal) confirmations cannot add up to a full one.
                        let k = rule.confirmations_required as usize;
                        let mut top: Vec<u64> = ev_conf[s..t]
                            .iter()
                            .map(|&(_, c)| c_strength[c as usize])
                            .collect();
                        top.sort_unstable_by(|a, b| b.cmp(a));
                        top[..k].iter().sum::<u64>() / k as u64
                    }
                    Evidence::Claimed => {
                        if rule.claimed_bps == 0 {
                            return Err(D::ClaimOnly);
                        }
                        rule.claimed_bps
                    }
                };
                let (day, week, month) = (
                    day_index(e.occurred_at),
                    week_index(e.occurred_at),
                    month_index(e.occurred_at),
                );
                let s = st[ki as usize].get_or_insert(KState {
                    day,
                    week,
                    month,
                    ..KState::default()
                });
                let dc = if s.day == day { s.day_count } else { 0 };
                let wc = if s.week == week { s.week_count } else { 0 };
                let mc = if s.month == month { s.month_count } else { 0 };
                if dc >= rule.daily_cap {
                    return Err(D::DailyCap);
                }
                if wc >= rule.weekly_cap {
                    return Err(D::WeeklyCap);
                }
                if mc >= rule.monthly_cap {
                    return Err(D::MonthlyCap);
                }
                if let Some(last) = s.last_at {
                    if i128::from(e.occurred_at) - i128::from(last) < i128::from(rule.cooldown_secs)
                    {
                        return Err(D::Cooldown);
                    }
                }
                let mut factor = BPS;
                for _ in 0..dc {
                    factor = (factor * dim.decay_bps / BPS).max(dim.floor_bps);
                }
                *s = KState {
                    day,
                    day_count: dc + 1,
                    week,
                    week_count: wc + 1,
                    month,
                    month_count: mc + 1,
                    last_at: Some(e.occurred_at),
                };
                let points = u64::try_from(
                    u128::from(rule.weight) * u128::from(evidence_bps) * u128::from(factor)
                        / u128::from(BPS * BPS),
                )
                .map_err(|_| D::UnknownKind)?;
                Ok((evidence_bps, factor, points))
            })();
            if let Ok((_, _, p)) = verdict {
                raw = raw.checked_add(p).ok_or(of("raw points"))?;
                let d = day_index(e.occurred_at);
                if last_day != Some(d) {
                    last_day = Some(d);
                    active_days += 1;
                }
            }
            outcomes.push((ei, verdict));
        }
        // Carry: counters still relevant after the epoch (current month, or a running cooldown).
        let end_month = month_index(input.ends_at - 1);
        let mut carry = Vec::new();
        for (ki, s) in st.iter().enumerate() {
            if let Some(s) = s {
                let last = s.last_at.unwrap_or(i64::MIN);
                let cooling = i128::from(last) + i128::from(kinds[ki].1.cooldown_secs)
                    > i128::from(input.ends_at);
                if s.month >= end_month || cooling {
                    carry.push(KindCarry {
                        kind: kinds[ki].0.to_owned(),
                        day: s.day,
                        day_count: s.day_count,
                        week: s.week,
                        week_count: s.week_count,
                        month: s.month,
                        month_count: s.month_count,
                        last_at: last,
                    });
                }
            }
        }
        partial.push(Partial {
            raw,
            active_days,
            outcomes,
            carry,
        });
    }

    // Ceiling on raw points relative to the median positive raw points of eligible members
    // with trust (before tenure and the trust factor, so neither is clipped).
    let mut positive: Vec<u64> = (0..n)
        .filter(|&r| eligible[r] && trust[r] > 0 && partial[r].raw > 0)
        .map(|r| partial[r].raw)
        .collect();
    positive.sort_unstable();
    let median = if positive.is_empty() {
        0
    } else {
        positive[(positive.len() - 1) / 2]
    };
    let ceiling = u64::try_from(
        u128::from(median) * u128::from(rules.ceiling.median_multiple_bps) / u128::from(BPS),
    )
    .map_err(|_| of("ceiling"))?
    .max(rules.min_score);

    // Receipt holders: owners of events, confirmers, claimants and vouch parties (known members
    // by rank, then unknown event owners).
    let mut holder = vec![false; n_tags];
    for (t, h) in holder.iter_mut().enumerate() {
        *h = starts[t + 1] > starts[t];
    }
    let mut given: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut received: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &ci in &orders.confirmations {
        let (a, b) = (c_confirmer[ci as usize], c_claimant[ci as usize]);
        if a != NONE {
            given[a as usize].push(ci);
            holder[a as usize] = true;
        }
        if b != NONE {
            received[b as usize].push(ci);
            holder[b as usize] = true;
        }
    }
    for &(a, b) in &vouch_edges {
        holder[a as usize] = true;
        holder[b as usize] = true;
    }
    let tag_id = |t: usize| -> &str {
        if t < n {
            &mem(t).id
        } else {
            unknown_ids[t - n]
        }
    };
    let mut order: Vec<usize> = (0..n_tags).filter(|&t| holder[t]).collect();
    order.sort_unstable_by(|&a, &b| tag_id(a).cmp(tag_id(b)));

    let outcome = |ci: u32| {
        let c = &input.confirmations[ci as usize];
        ConfirmationOutcome {
            id: c.id.clone(),
            confirmer: c.confirmer.clone(),
            claimant: c.claimant.clone(),
            kind: c.kind.clone(),
            event: c.event.clone(),
            status: c_status[ci as usize],
            strength_bps: c_strength[ci as usize],
        }
    };

    let epoch_days_u32 = u32::try_from(days).unwrap_or(u32::MAX);
    let mut receipts = Vec::with_capacity(order.len());
    let mut qualified_rank: Vec<usize> = Vec::new(); // receipt positions
    let mut counts_tenure = vec![false; n];
    for &t in &order {
        let p = &partial[t];
        let m = (t < n).then(|| mem(t));
        let (elig, tr, tf, tb, ten) = match m {
            Some(m) => (
                eligible[t],
                trust[t],
                rules.trust_factor_bps(trust[t]),
                rules.tenure_bps(m.state.tenure_epochs),
                m.state.tenure_epochs,
            ),
            None => (false, 0, 0, 0, 0),
        };
        let capped = p.raw.min(ceiling);
        let score = u64::try_from(
            u128::from(capped) * u128::from(tb) * u128::from(tf) / u128::from(BPS * BPS),
        )
        .map_err(|_| of("score"))?;
        let n_counted = p.outcomes.iter().filter(|o| o.1.is_ok()).count();
        let qualified = elig && n_counted > 0 && score > 0 && score >= rules.min_score;
        let ct = qualified && p.active_days >= rules.tenure.min_active_days;
        if t < n {
            counts_tenure[t] = ct;
        }
        let mut counted = Vec::new();
        let mut dropped = Vec::new();
        let mut caps: FxHashMap<(u32, DropReasonV2), u32> = FxHashMap::default();
        for &(ei, ref v) in &p.outcomes {
            let e = &input.events[ei as usize];
            let ki = ev_kind[ei as usize];
            match v {
                Ok((evb, f, pts)) if qualified => {
                    let (s, tt) = (
                        ev_conf_start[ei as usize] as usize,
                        ev_conf_start[ei as usize + 1] as usize,
                    );
                    let rule = kinds[ki as usize].1;
                    counted.push(CountedEventV2 {
                        id: e.id.clone(),
                        kind: e.kind.clone(),
                        evidence: rule.evidence,
                        base_points: rule.weight,
                        evidence_bps: *evb,
                        factor_bps: *f,
                        points: *pts,
                        confirmations: ev_conf[s..tt]
                            .iter()
                            .map(|&(_, c)| input.confirmations[c as usize].id.clone())
                            .collect(),
                    })
                }
                Ok((_, _, pts)) => dropped.push(DroppedEventV2 {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    reason: DropReasonV2::NotQualified,
                    points: *pts,
                }),
                Err(r) => {
                    if matches!(
                        r,
                        DropReasonV2::DailyCap
                            | DropReasonV2::WeeklyCap
                            | DropReasonV2::MonthlyCap
                            | DropReasonV2::Cooldown
                    ) {
                        *caps.entry((ki, *r)).or_default() += 1;
                    }
                    dropped.push(DroppedEventV2 {
                        id: e.id.clone(),
                        kind: e.kind.clone(),
                        reason: *r,
                        points: 0,
                    })
                }
            }
        }
        let mut caps_hit: Vec<CapHit> = caps
            .into_iter()
            .map(|((ki, reason), events)| CapHit {
                kind: kinds[ki as usize].0.to_owned(),
                reason,
                events,
            })
            .collect();
        caps_hit.sort();
        if qualified {
            qualified_rank.push(receipts.len());
        }
        receipts.push(ReceiptV2 {
            member: tag_id(t).to_owned(),
            epoch: input.epoch,
            rules_version: rules.version,
            counted,
            dropped,
            caps_hit,
            confirmations_received: if t < n {
                received[t].iter().map(|&c| outcome(c)).collect()
            } else {
                Vec::new()
            },
            confirmations_given: if t < n {
                given[t].iter().map(|&c| outcome(c)).collect()
            } else {
                Vec::new()
            },
            raw_points: p.raw,
            active_days: p.active_days,
            epoch_days: epoch_days_u32,
            tenure_epochs: ten,
            tenure_bps: tb,
            trust: tr,
            trust_graph: if t < n { trust_graph[t] } else { 0 },
            trust_carried: if t < n { trust_carried[t] } else { 0 },
            trust_factor_bps: tf,
            subscribed: m.is_some_and(|m| m.subscribed),
            vouches_counted: if t < n { vouches_ok[t] } else { 0 },
            eligible: elig,
            capped_points: capped,
            ceiling_hit: p.raw > ceiling,
            score,
            qualified,
            amount: 0,
            counts_for_tenure: ct,
        });
    }

    let scores: Vec<u64> = qualified_rank.iter().map(|&i| receipts[i].score).collect();
    let total_score: u128 = scores.iter().map(|&s| u128::from(s)).sum();
    let amounts = split_budget(input.budget, &scores);
    let mut allocations = Vec::new();
    for (&i, &a) in qualified_rank.iter().zip(&amounts) {
        receipts[i].amount = a;
        if a > 0 {
            allocations.push(Allocation {
                member: receipts[i].member.clone(),
                score: receipts[i].score,
                amount: a,
            });
        }
    }

    let next_states = (0..n)
        .map(|r| MemberStateOut {
            member: mem(r).id.clone(),
            state: MemberState {
                tenure_epochs: mem(r)
                    .state
                    .tenure_epochs
                    .saturating_add(u32::from(counts_tenure[r])),
                trust: trust[r],
                carry: std::mem::take(&mut partial[r].carry),
            },
        })
        .collect();

    Ok(EpochScoreV2 {
        epoch: input.epoch,
        rules_hash: rules.hash(),
        activity_digest: [0; 32],
        total_score,
        budget: input.budget,
        median_points: median,
        ceiling,
        allocations,
        receipts,
        next_states,
    })
}

/// Records that `by` sponsors new member `who`; false if `by` already sponsors `max` others.
fn sponsor(map: &mut FxHashMap<u32, Vec<u32>>, by: u32, who: u32, max: usize) -> bool {
    let list = map.entry(by).or_default();
    if list.contains(&who) {
        return true;
    }
    if list.len() >= max {
        return false;
    }
    list.push(who);
    true
}
