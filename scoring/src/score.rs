//! `score_epoch`: events -> counted/dropped events -> points -> multipliers -> score -> STK.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::allocate::split_budget;
use crate::input::EpochInput;
use crate::rules::{KindRule, Rules};
use crate::time::{day_index, epoch_days, week_index};
use crate::BPS;

/// Result of scoring one epoch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EpochScore {
    pub epoch: u64,
    #[serde(with = "crate::hexser")]
    pub rules_hash: [u8; 32],
    #[serde(with = "crate::hexser")]
    pub activity_digest: [u8; 32],
    /// Sum of the scores of qualified members.
    pub total_score: u128,
    pub budget: u64,
    /// Sorted by member id; only members with `amount > 0`.
    pub allocations: Vec<Allocation>,
    /// One per member id that had any event (including unknown ids), sorted by member id.
    pub receipts: Vec<Receipt>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub member: String,
    pub score: u64,
    /// STK base units.
    pub amount: u64,
}

/// Explanation of one member's points and amount.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub member: String,
    pub epoch: u64,
    /// Counted events in canonical order `(occurred_at, id)`. Empty when not qualified.
    pub counted: Vec<CountedEvent>,
    /// Dropped events in canonical order; for a member below `min_score` the events that would
    /// have counted follow, with reason `BelowMinimumScore`.
    pub dropped: Vec<DroppedEvent>,
    /// Sum of `diminished_points` of the events that passed the per-event rules (milli-points).
    pub raw_points: u64,
    pub spread_multiplier_bps: u64,
    pub consistency_multiplier_bps: u64,
    /// `floor(raw_points * spread * consistency / BPS^2)`.
    pub score: u64,
    pub qualified: bool,
    pub amount: u64,
    pub rules_version: u32,
    /// Distinct UTC days with at least one counted event (drives the spread multiplier).
    pub active_days: u32,
    /// UTC days the epoch touches.
    pub epoch_days: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CountedEvent {
    pub id: String,
    pub kind: String,
    /// The kind's weight (milli-points).
    pub base_points: u64,
    /// Bonus from valid peer confirmations (milli-points).
    pub confirmation_points: u64,
    /// `(base + confirmation) * factor / BPS` after diminishing returns.
    pub diminished_points: u64,
    /// Diminishing factor applied (bps).
    pub factor_bps: u64,
    /// Confirmations that counted (at most `max_per_event`).
    pub confirmations_counted: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DroppedEvent {
    pub id: String,
    pub kind: String,
    pub reason: DropReason,
    /// For `BelowMinimumScore`: the diminished points the event would have been worth; else 0.
    pub points: u64,
}

/// Why an event did not count. Checks run in this order; the first that applies is reported.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The event's member is not in the epoch's member list.
    UnknownMember,
    /// The member is not active.
    InactiveMember,
    /// The kind is not in the rules.
    UnknownKind,
    /// `occurred_at` is outside `[starts_at, ends_at)`.
    OutsideEpoch,
    /// The kind requires confirmation and no valid confirmation was given.
    Unconfirmed,
    /// The kind's daily cap was already reached that UTC day.
    DailyCap,
    /// The kind's weekly cap was already reached that week.
    WeeklyCap,
    /// Less than `cooldown_secs` after the previous counted event of the kind.
    Cooldown,
    /// The event passed every rule but the member's score is below `min_score`: the member is not
    /// qualified and the event is listed here with the points it would have earned.
    BelowMinimumScore,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("epoch window is empty: starts_at {starts_at} >= ends_at {ends_at}")]
    EmptyWindow { starts_at: i64, ends_at: i64 },
    #[error("member {0:?} appears more than once")]
    DuplicateMember(String),
    #[error("event id {0:?} appears more than once")]
    DuplicateEvent(String),
    #[error("too many events or members ({0}); at most u32::MAX")]
    TooLarge(usize),
    #[error("arithmetic overflow computing {0}")]
    Overflow(&'static str),
}

/// Per member, per kind state while walking the member's events in time order.
#[derive(Clone, Copy, Default)]
struct KindState {
    last_counted_at: Option<i64>,
    day: Option<i64>,
    day_count: u32,
    week: Option<i64>,
    week_count: u32,
    /// Diminishing factor of the next counted event, `None` before the first one (= BPS).
    next_factor_bps: Option<u64>,
}

fn overflow(what: &'static str) -> ScoringError {
    ScoringError::Overflow(what)
}

/// `a * b / c` in u128 with floor, checked into u64.
fn mul_div(a: u64, b: u64, c: u64, what: &'static str) -> Result<u64, ScoringError> {
    let v = u128::from(a)
        .checked_mul(u128::from(b))
        .ok_or(overflow(what))?
        .checked_div(u128::from(c))
        .ok_or(overflow(what))?;
    u64::try_from(v).map_err(|_| overflow(what))
}

/// Scores one epoch. Deterministic: the result depends only on the content of `rules` and
/// `input`, not on the order of members, events or confirmations.
pub fn score_epoch(rules: &Rules, input: &EpochInput) -> Result<EpochScore, ScoringError> {
    let days = epoch_days(input.starts_at, input.ends_at).ok_or(ScoringError::EmptyWindow {
        starts_at: input.starts_at,
        ends_at: input.ends_at,
    })?;
    for n in [input.events.len(), input.members.len()] {
        if u32::try_from(n).is_err() {
            return Err(ScoringError::TooLarge(n));
        }
    }

    let member_order = input.member_order();
    let event_order = input.event_order();
    let activity_digest = input.digest_with(&member_order, &event_order);

    // Members by id.
    let mut member_by_id: HashMap<&str, usize> = HashMap::with_capacity(input.members.len());
    for &i in &member_order {
        let id = input.members[i].id.as_str();
        if member_by_id.insert(id, i).is_some() {
            return Err(ScoringError::DuplicateMember(id.to_owned()));
        }
    }
    // Event ids must be unique.
    let mut seen: HashSet<&str> = HashSet::with_capacity(input.events.len());
    for e in &input.events {
        if !seen.insert(e.id.as_str()) {
            return Err(ScoringError::DuplicateEvent(e.id.clone()));
        }
    }
    drop(seen);

    // Receipt owners: every member id that has an event (known or not), sorted.
    let mut owners: Vec<&str> = Vec::new();
    let mut owner_of: HashMap<&str, u32> = HashMap::new();
    for e in &input.events {
        if !owner_of.contains_key(e.member.as_str()) {
            owner_of.insert(e.member.as_str(), 0);
            owners.push(e.member.as_str());
        }
    }
    owners.sort_unstable();
    for (rank, id) in owners.iter().enumerate() {
        // rank < events.len() <= u32::MAX.
        owner_of.insert(id, rank as u32);
    }
    // Bucket the canonical event order by owner (stable counting sort): each owner's events stay
    // in canonical (occurred_at, id) order.
    let event_owner: Vec<u32> = input
        .events
        .iter()
        .map(|e| owner_of[e.member.as_str()])
        .collect();
    let mut starts = vec![0usize; owners.len() + 1];
    for &o in &event_owner {
        starts[o as usize + 1] += 1;
    }
    for i in 0..owners.len() {
        starts[i + 1] += starts[i];
    }
    let mut grouped = vec![0u32; input.events.len()];
    let mut cursor = starts.clone();
    for &ei in &event_order {
        let o = event_owner[ei] as usize;
        grouped[cursor[o]] = ei as u32;
        cursor[o] += 1;
    }

    let kinds: Vec<(&str, &KindRule)> = rules.kinds.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let kind_index: HashMap<&str, usize> = kinds
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let standing: Vec<u64> = input
        .members
        .iter()
        .map(|m| rules.standing_bps(m.recent_active_epochs))
        .collect();
    let conf = rules.confirmations;
    let dim = rules.diminishing;
    let max_conf = conf.max_per_event as usize;

    let mut receipts = Vec::with_capacity(owners.len());
    let mut state = vec![KindState::default(); kinds.len()];
    let mut confirmers: Vec<usize> = Vec::new();
    let mut standings: Vec<u64> = Vec::new();
    let epoch_days_u32 = u32::try_from(days).unwrap_or(u32::MAX);

    for (rank, owner) in owners.iter().enumerate() {
        let member = member_by_id.get(owner).map(|&i| (i, &input.members[i]));
        let events = &grouped[starts[rank]..starts[rank + 1]];
        state.fill(KindState::default());
        let mut counted = Vec::new();
        let mut dropped = Vec::new();
        let mut raw: u64 = 0;
        let mut active_days: u32 = 0;
        let mut last_active_day: Option<i64> = None;

        for &ei in events {
            let e = &input.events[ei as usize];
            let mut drop_as = |reason| {
                dropped.push(DroppedEvent {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    reason,
                    points: 0,
                })
            };
            let Some((member_idx, m)) = member else {
                drop_as(DropReason::UnknownMember);
                continue;
            };
            if !m.active {
                drop_as(DropReason::InactiveMember);
                continue;
            }
            let Some(&k) = kind_index.get(e.kind.as_str()) else {
                drop_as(DropReason::UnknownKind);
                continue;
            };
            if e.occurred_at < input.starts_at || e.occurred_at >= input.ends_at {
                drop_as(DropReason::OutsideEpoch);
                continue;
            }
            let rule = kinds[k].1;

            // Valid confirmers: known, active, not the member, each counted once.
            confirmers.clear();
            for c in &e.confirmations {
                if let Some(&ci) = member_by_id.get(c.as_str()) {
                    if ci != member_idx && input.members[ci].active {
                        confirmers.push(ci);
                    }
                }
            }
            confirmers.sort_unstable();
            confirmers.dedup();
            if rule.requires_confirmation && confirmers.is_empty() {
                drop_as(DropReason::Unconfirmed);
                continue;
            }

            let day = day_index(e.occurred_at);
            let week = week_index(e.occurred_at);
            let st = &mut state[k];
            if st.day == Some(day) && st.day_count >= rule.daily_cap {
                drop_as(DropReason::DailyCap);
                continue;
            }
            if st.week == Some(week) && st.week_count >= rule.weekly_cap {
                drop_as(DropReason::WeeklyCap);
                continue;
            }
            if let Some(last) = st.last_counted_at {
                // Both timestamps lie inside the epoch window; i128 rules out overflow anyway.
                if i128::from(e.occurred_at) - i128::from(last) < i128::from(rule.cooldown_secs) {
                    drop_as(DropReason::Cooldown);
                    continue;
                }
            }

            // Counted.
            if st.day != Some(day) {
                st.day = Some(day);
                st.day_count = 0;
            }
            st.day_count += 1;
            if st.week != Some(week) {
                st.week = Some(week);
                st.week_count = 0;
            }
            st.week_count += 1;
            st.last_counted_at = Some(e.occurred_at);
            let factor = st.next_factor_bps.unwrap_or(BPS);
            st.next_factor_bps = Some((factor * dim.decay_bps / BPS).max(dim.floor_bps));

            standings.clear();
            standings.extend(confirmers.iter().map(|&ci| standing[ci]));
            standings.sort_unstable_by(|a, b| b.cmp(a));
            let used = standings.len().min(max_conf);
            let standing_sum: u64 = standings[..used].iter().sum();
            let confirmation_points = mul_div(
                rule.weight,
                conf.bonus_bps
                    .checked_mul(standing_sum)
                    .ok_or(overflow("confirmation points"))?,
                BPS * BPS,
                "confirmation points",
            )?;
            let points = rule
                .weight
                .checked_add(confirmation_points)
                .ok_or(overflow("event points"))?;
            let diminished = mul_div(points, factor, BPS, "diminished points")?;
            raw = raw.checked_add(diminished).ok_or(overflow("raw points"))?;
            if last_active_day != Some(day) {
                last_active_day = Some(day);
                active_days += 1;
            }
            counted.push(CountedEvent {
                id: e.id.clone(),
                kind: e.kind.clone(),
                base_points: rule.weight,
                confirmation_points,
                diminished_points: diminished,
                factor_bps: factor,
                confirmations_counted: used as u32,
            });
        }

        let recent = member.map_or(0, |(_, m)| m.recent_active_epochs);
        let spread = rules.spread_bps(u64::from(active_days), days);
        let consistency = rules.consistency_bps(recent);
        let score = u128::from(raw)
            .checked_mul(u128::from(spread))
            .and_then(|v| v.checked_mul(u128::from(consistency)))
            .ok_or(overflow("score"))?
            / u128::from(BPS * BPS);
        let score = u64::try_from(score).map_err(|_| overflow("score"))?;
        let qualified = !counted.is_empty() && score > 0 && score >= rules.min_score;
        if !qualified {
            dropped.extend(counted.drain(..).map(|c| DroppedEvent {
                id: c.id,
                kind: c.kind,
                reason: DropReason::BelowMinimumScore,
                points: c.diminished_points,
            }));
        }
        receipts.push(Receipt {
            member: (*owner).to_owned(),
            epoch: input.epoch,
            counted,
            dropped,
            raw_points: raw,
            spread_multiplier_bps: spread,
            consistency_multiplier_bps: consistency,
            score,
            qualified,
            amount: 0,
            rules_version: rules.version,
            active_days,
            epoch_days: epoch_days_u32,
        });
    }

    // Split the budget among qualified members (receipts are sorted by member id).
    let qualified: Vec<usize> = (0..receipts.len())
        .filter(|&i| receipts[i].qualified)
        .collect();
    let scores: Vec<u64> = qualified.iter().map(|&i| receipts[i].score).collect();
    let total_score: u128 = scores.iter().map(|&s| u128::from(s)).sum();
    let amounts = split_budget(input.budget, &scores);
    let mut allocations = Vec::new();
    for (&i, &amount) in qualified.iter().zip(&amounts) {
        receipts[i].amount = amount;
        if amount > 0 {
            allocations.push(Allocation {
                member: receipts[i].member.clone(),
                score: receipts[i].score,
                amount,
            });
        }
    }

    Ok(EpochScore {
        epoch: input.epoch,
        rules_hash: rules.hash(),
        activity_digest,
        total_score,
        budget: input.budget,
        allocations,
        receipts,
    })
}
