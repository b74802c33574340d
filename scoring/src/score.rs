//! `score_epoch`: events -> counted/dropped events -> points -> multipliers -> score -> STK.

use serde::{Deserialize, Serialize};

use crate::allocate::split_budget;
use crate::fxhash::{FxBuild, FxHashMap, FxHashSet};
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
    /// Dropped events in canonical order. For a member who does not qualify, the events that
    /// passed every per-event rule are listed here too, with reason `BelowMinimumScore`.
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

/// What the per-member pass needs from an event, resolved to indices once.
#[derive(Clone, Copy, Default)]
struct Compact {
    /// Owner tag: member index, or `members.len() + n` for the n-th unknown member id.
    owner: u32,
    /// Index into the sorted kinds, or [`NO_KIND`].
    kind: u32,
    at: i64,
    /// Range of this event's valid confirmers (member indices, may repeat) in the flat list.
    conf: (usize, usize),
}

/// Outcome of one event in the per-member pass (strings are attached afterwards, once the
/// member's counted/dropped sizes are known).
#[derive(Clone, Copy)]
enum Outcome {
    Counted {
        base_points: u64,
        confirmation_points: u64,
        diminished_points: u64,
        factor_bps: u64,
        confirmations_counted: u32,
    },
    Dropped(DropReason),
}

const NO_KIND: u32 = u32::MAX;
/// Below this many events the digest is computed inline (a thread costs more than it saves).
const PARALLEL_DIGEST_MIN_EVENTS: usize = 20_000;
const NO_RANK: u32 = u32::MAX;

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

    // The digest only reads the input: on large epochs compute it on a second core while the
    // members are scored. Both halves are deterministic, so threading cannot change the result.
    let (activity_digest, scored) = if input.events.len() < PARALLEL_DIGEST_MIN_EVENTS {
        let digest = input.digest_with(&member_order, &event_order);
        let scored = score_members(rules, input, days, &member_order, &event_order);
        (digest, scored)
    } else {
        std::thread::scope(|s| {
            let digest = std::thread::Builder::new()
                .name("stk-digest".into())
                .spawn_scoped(s, || input.digest_with(&member_order, &event_order));
            let scored = score_members(rules, input, days, &member_order, &event_order);
            let digest = match digest {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread available: compute it here.
                Err(_) => input.digest_with(&member_order, &event_order),
            };
            (digest, scored)
        })
    };
    let (total_score, allocations, receipts) = scored?;

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

/// Scores every receipt holder and splits the budget: `(total_score, allocations, receipts)`.
fn score_members(
    rules: &Rules,
    input: &EpochInput,
    days: u64,
    member_order: &[usize],
    event_order: &[u32],
) -> Result<(u128, Vec<Allocation>, Vec<Receipt>), ScoringError> {
    // Members by id (index into `input.members`).
    let mut member_by_id: FxHashMap<&str, u32> =
        FxHashMap::with_capacity_and_hasher(input.members.len(), FxBuild::default());
    for &i in member_order {
        let id = input.members[i].id.as_str();
        // i < members.len() <= u32::MAX (checked above).
        if member_by_id.insert(id, i as u32).is_some() {
            return Err(ScoringError::DuplicateMember(id.to_owned()));
        }
    }

    let kinds: Vec<(&str, &KindRule)> = rules.kinds.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let kind_index: FxHashMap<&str, u32> = kinds
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i as u32))
        .collect();

    // One sequential pass over the events (memory order): resolve every string to an index once,
    // check event ids are unique and keep only what the rules need in a compact record.
    // Owners (receipt holders) are tagged: `0..members.len()` for members, then unknown ids.
    let n_members = input.members.len();
    let mut unknown: FxHashMap<&str, u32> = FxHashMap::default();
    let mut unknown_ids: Vec<&str> = Vec::new();
    let mut seen: FxHashSet<&str> =
        FxHashSet::with_capacity_and_hasher(input.events.len(), FxBuild::default());
    let mut compact: Vec<Compact> = Vec::with_capacity(input.events.len());
    let mut confirmers: Vec<u32> = Vec::new();
    for e in &input.events {
        if !seen.insert(e.id.as_str()) {
            return Err(ScoringError::DuplicateEvent(e.id.clone()));
        }
        let member = member_by_id.get(e.member.as_str()).copied();
        let owner = match member {
            Some(mi) => mi,
            None => {
                let next = unknown_ids.len() as u32;
                let u = *unknown.entry(e.member.as_str()).or_insert(next);
                if u == next {
                    unknown_ids.push(e.member.as_str());
                }
                // n_members + unknown count <= members + events; both <= u32::MAX.
                u32::try_from(n_members + u as usize)
                    .map_err(|_| ScoringError::TooLarge(n_members + u as usize))?
            }
        };
        let conf_start = confirmers.len();
        if let Some(mi) = member {
            for c in &e.confirmations {
                if let Some(&ci) = member_by_id.get(c.as_str()) {
                    if ci != mi && input.members[ci as usize].active {
                        confirmers.push(ci);
                    }
                }
            }
        }
        compact.push(Compact {
            owner,
            kind: kind_index.get(e.kind.as_str()).copied().unwrap_or(NO_KIND),
            at: e.occurred_at,
            conf: (conf_start, confirmers.len()),
        });
    }
    drop(seen);

    // Receipt holders sorted by id; rank_of[tag] = position, or NO_RANK without events.
    let n_tags = n_members + unknown_ids.len();
    let tag_id = |t: usize| -> &str {
        if t < n_members {
            &input.members[t].id
        } else {
            unknown_ids[t - n_members]
        }
    };
    let mut has_events = vec![false; n_tags];
    for c in &compact {
        has_events[c.owner as usize] = true;
    }
    let mut owners: Vec<u32> = (0..n_tags as u32)
        .filter(|&t| has_events[t as usize])
        .collect();
    owners.sort_unstable_by(|&a, &b| tag_id(a as usize).cmp(tag_id(b as usize)));
    let mut rank_of = vec![NO_RANK; n_tags];
    for (r, &t) in owners.iter().enumerate() {
        rank_of[t as usize] = r as u32;
    }

    // Bucket the canonical event order by owner (stable counting sort): each owner's events stay
    // in canonical (occurred_at, id) order and sit next to each other in memory.
    let mut starts = vec![0usize; owners.len() + 1];
    for c in &compact {
        starts[rank_of[c.owner as usize] as usize + 1] += 1;
    }
    for i in 0..owners.len() {
        starts[i + 1] += starts[i];
    }
    let mut grouped: Vec<(u32, Compact)> = vec![(0, Compact::default()); input.events.len()];
    let mut cursor = starts.clone();
    for &ei in event_order {
        let c = compact[ei as usize];
        let r = rank_of[c.owner as usize] as usize;
        grouped[cursor[r]] = (ei, c);
        cursor[r] += 1;
    }
    drop(compact);

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
    let mut valid: Vec<u32> = Vec::new();
    let mut standings: Vec<u64> = Vec::new();
    let mut outcomes: Vec<(u32, u32, Outcome)> = Vec::new();
    let epoch_days_u32 = u32::try_from(days).unwrap_or(u32::MAX);

    for (rank, &tag) in owners.iter().enumerate() {
        let member = (tag as usize) < n_members;
        let m = member.then(|| &input.members[tag as usize]);
        state.fill(KindState::default());
        outcomes.clear();
        let mut n_counted = 0usize;
        let mut raw: u64 = 0;
        let mut active_days: u32 = 0;
        let mut last_active_day: Option<i64> = None;

        for &(ei, c) in &grouped[starts[rank]..starts[rank + 1]] {
            let mut drop_as = |reason| outcomes.push((ei, c.kind, Outcome::Dropped(reason)));
            let Some(m) = m else {
                drop_as(DropReason::UnknownMember);
                continue;
            };
            if !m.active {
                drop_as(DropReason::InactiveMember);
                continue;
            }
            let Some(&(_, rule)) = kinds.get(c.kind as usize) else {
                drop_as(DropReason::UnknownKind);
                continue;
            };
            if c.at < input.starts_at || c.at >= input.ends_at {
                drop_as(DropReason::OutsideEpoch);
                continue;
            }

            // Valid confirmers (known, active, not the member) were resolved above; count each once.
            valid.clear();
            valid.extend_from_slice(&confirmers[c.conf.0..c.conf.1]);
            valid.sort_unstable();
            valid.dedup();
            if rule.requires_confirmation && valid.is_empty() {
                drop_as(DropReason::Unconfirmed);
                continue;
            }

            let day = day_index(c.at);
            let week = week_index(c.at);
            let st = &mut state[c.kind as usize];
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
                if i128::from(c.at) - i128::from(last) < i128::from(rule.cooldown_secs) {
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
            st.last_counted_at = Some(c.at);
            let factor = st.next_factor_bps.unwrap_or(BPS);
            st.next_factor_bps = Some((factor * dim.decay_bps / BPS).max(dim.floor_bps));

            standings.clear();
            standings.extend(valid.iter().map(|&ci| standing[ci as usize]));
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
            n_counted += 1;
            outcomes.push((
                ei,
                c.kind,
                Outcome::Counted {
                    base_points: rule.weight,
                    confirmation_points,
                    diminished_points: diminished,
                    factor_bps: factor,
                    // used <= max_per_event <= 100.
                    confirmations_counted: used as u32,
                },
            ));
        }

        let recent = m.map_or(0, |m| m.recent_active_epochs);
        let spread = rules.spread_bps(u64::from(active_days), days);
        let consistency = rules.consistency_bps(recent);
        let score = u128::from(raw)
            .checked_mul(u128::from(spread))
            .and_then(|v| v.checked_mul(u128::from(consistency)))
            .ok_or(overflow("score"))?
            / u128::from(BPS * BPS);
        let score = u64::try_from(score).map_err(|_| overflow("score"))?;
        let qualified = n_counted > 0 && score > 0 && score >= rules.min_score;

        // Attach ids and kind names, allocating each list once at its final size.
        let kept = if qualified { n_counted } else { 0 };
        let mut counted = Vec::with_capacity(kept);
        let mut dropped = Vec::with_capacity(outcomes.len() - kept);
        for &(ei, k, outcome) in &outcomes {
            let e = &input.events[ei as usize];
            // Known kinds reuse the rules' name; only unknown kinds read the event's string.
            let kind = match kinds.get(k as usize) {
                Some((name, _)) => (*name).to_owned(),
                None => e.kind.clone(),
            };
            match outcome {
                Outcome::Dropped(reason) => dropped.push(DroppedEvent {
                    id: e.id.clone(),
                    kind,
                    reason,
                    points: 0,
                }),
                Outcome::Counted {
                    diminished_points, ..
                } if !qualified => dropped.push(DroppedEvent {
                    id: e.id.clone(),
                    kind,
                    reason: DropReason::BelowMinimumScore,
                    points: diminished_points,
                }),
                Outcome::Counted {
                    base_points,
                    confirmation_points,
                    diminished_points,
                    factor_bps,
                    confirmations_counted,
                } => counted.push(CountedEvent {
                    id: e.id.clone(),
                    kind,
                    base_points,
                    confirmation_points,
                    diminished_points,
                    factor_bps,
                    confirmations_counted,
                }),
            }
        }
        receipts.push(Receipt {
            member: tag_id(tag as usize).to_owned(),
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

    Ok((total_score, allocations, receipts))
}
