//! Property tests: order independence, exact budget split, caps, steady beats bursty, farming is
//! sub-linear, canonical log round trip.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use proptest::prelude::*;
use stk_scoring::{day_index, score_epoch, week_index, EpochInput, Event, MemberInput};

const KINDS: [&str; 6] = [
    "practice_session",
    "help_given",
    "review",
    "mentoring",
    "system_built",
    "not_a_kind",
];
const MEMBER_POOL: [&str; 7] = ["ana", "ben", "cho", "dev", "eli", "fay", "ghost"];

/// Tiny deterministic shuffler (xorshift64*), so a seed is enough to describe a permutation.
fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let j = (*seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn arb_member() -> impl Strategy<Value = (bool, u32)> {
    (prop::bool::weighted(0.85), 0u32..=8)
}

/// An epoch of 1..=21 days with up to 80 events around it (some outside the window), members
/// "ana".."fay" (random activity and history; "ghost" is never a member) and random confirmations.
fn arb_epoch() -> impl Strategy<Value = EpochInput> {
    let events = prop::collection::vec(
        (
            0usize..MEMBER_POOL.len(),
            0usize..KINDS.len(),
            -86_400i64..23 * 86_400,
            prop::collection::vec(0usize..MEMBER_POOL.len(), 0..5),
        ),
        0..80,
    );
    (
        prop::collection::vec(arb_member(), 6),
        1i64..=21,
        0i64..86_400,
        0u64..=1_000_000_000_000,
        events,
    )
        .prop_map(|(members, days, offset, budget, events)| {
            let starts_at = T0 + offset;
            EpochInput {
                epoch: 42,
                starts_at,
                ends_at: starts_at + days * DAY,
                budget,
                members: members
                    .into_iter()
                    .enumerate()
                    .map(|(i, (active, recent))| mem(MEMBER_POOL[i], active, recent))
                    .collect(),
                events: events
                    .into_iter()
                    .enumerate()
                    .map(|(i, (m, k, at, confs))| Event {
                        id: format!("ev{i:03}"),
                        member: MEMBER_POOL[m].to_owned(),
                        kind: KINDS[k].to_owned(),
                        occurred_at: starts_at + at,
                        confirmations: confs
                            .into_iter()
                            .map(|c| MEMBER_POOL[c].to_owned())
                            .collect(),
                    })
                    .collect(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// (1) Order of members, events and confirmations (and duplicate confirmations) does not matter.
    #[test]
    fn any_order_gives_identical_results(input in arb_epoch(), seed in 1u64..) {
        let rules = example_rules();
        let mut shuffled = input.clone();
        let mut s = seed;
        shuffle(&mut shuffled.members, &mut s);
        shuffle(&mut shuffled.events, &mut s);
        for e in &mut shuffled.events {
            if let Some(first) = e.confirmations.first().cloned() {
                e.confirmations.push(first);
            }
            shuffle(&mut e.confirmations, &mut s);
        }
        prop_assert_eq!(input.activity_digest(), shuffled.activity_digest());
        prop_assert_eq!(input.canonical_log(), shuffled.canonical_log());
        let a = score_epoch(&rules, &input).unwrap();
        let b = score_epoch(&rules, &shuffled).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.activity_digest, input.activity_digest());

        // Scoring the canonicalized copy and the parsed canonical log agrees too.
        let mut canon = shuffled.clone();
        canon.canonicalize();
        prop_assert_eq!(&score_epoch(&rules, &canon).unwrap(), &a);
        let parsed = EpochInput::from_canonical_log(&input.canonical_log()).unwrap();
        prop_assert_eq!(&parsed, &canon);
    }

    /// (2) Allocations sum exactly to the budget when anyone qualifies, and never exceed it.
    #[test]
    fn allocations_sum_to_budget(input in arb_epoch()) {
        let s = score_epoch(&example_rules(), &input).unwrap();
        let sum: u128 = s.allocations.iter().map(|a| u128::from(a.amount)).sum();
        let any_qualified = s.receipts.iter().any(|r| r.qualified);
        prop_assert!(sum <= u128::from(input.budget));
        if any_qualified {
            prop_assert_eq!(sum, u128::from(input.budget));
        } else {
            prop_assert_eq!(sum, 0);
            prop_assert_eq!(s.total_score, 0);
        }
        // Receipts agree with allocations; only qualified members are paid.
        let paid: BTreeMap<&str, u64> =
            s.allocations.iter().map(|a| (a.member.as_str(), a.amount)).collect();
        for r in &s.receipts {
            prop_assert_eq!(paid.get(r.member.as_str()).copied().unwrap_or(0), r.amount);
            if !r.qualified {
                prop_assert_eq!(r.amount, 0);
                prop_assert!(r.counted.is_empty());
            }
        }
        prop_assert_eq!(
            s.total_score,
            s.receipts.iter().filter(|r| r.qualified).map(|r| u128::from(r.score)).sum::<u128>()
        );
        let members: Vec<&str> = s.allocations.iter().map(|a| a.member.as_str()).collect();
        let mut sorted = members.clone();
        sorted.sort_unstable();
        prop_assert_eq!(members, sorted);
    }

    /// (3) No member's counted events exceed a daily or weekly cap or break a cooldown, and every
    /// event appears exactly once in its member's receipt.
    #[test]
    fn counted_events_respect_caps(input in arb_epoch()) {
        let rules = example_rules();
        let s = score_epoch(&rules, &input).unwrap();
        let by_id: HashMap<&str, &Event> = input.events.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut listed = 0;
        for r in &s.receipts {
            listed += r.counted.len() + r.dropped.len();
            let mut per_day: HashMap<(&str, i64), u32> = HashMap::new();
            let mut per_week: HashMap<(&str, i64), u32> = HashMap::new();
            let mut last: HashMap<&str, i64> = HashMap::new();
            for c in &r.counted {
                let e = by_id[c.id.as_str()];
                prop_assert_eq!(&e.member, &r.member);
                let rule = rules.kind(&e.kind).unwrap();
                prop_assert!(e.occurred_at >= input.starts_at && e.occurred_at < input.ends_at);
                let d = per_day.entry((e.kind.as_str(), day_index(e.occurred_at))).or_default();
                *d += 1;
                prop_assert!(*d <= rule.daily_cap);
                let w = per_week.entry((e.kind.as_str(), week_index(e.occurred_at))).or_default();
                *w += 1;
                prop_assert!(*w <= rule.weekly_cap);
                if let Some(prev) = last.insert(e.kind.as_str(), e.occurred_at) {
                    prop_assert!(e.occurred_at - prev >= rule.cooldown_secs as i64);
                }
            }
        }
        prop_assert_eq!(listed, input.events.len());
    }

    /// (4) Same raw events: spread over the epoch with a long history beats one burst day with a
    /// short history.
    #[test]
    fn steady_beats_bursty(
        weeks in 1i64..=4,
        kinds in prop::collection::vec(0usize..5, 1..=28),
        steady_recent in 4u32..=6,
        bursty_recent in 0u32..=2,
        confirmed in any::<bool>(),
    ) {
        let days = 7 * weeks;
        let n = kinds.len().min(days as usize);
        let conf: &[&str] = if confirmed { &["peer"] } else { &["peer"][..0] };
        let mut events = Vec::new();
        for (j, &k) in kinds.iter().take(n).enumerate() {
            let j = j as i64;
            let day = j * days / n as i64;
            events.push(ev(&format!("s{j}"), "steady", KINDS[k], T0 + day * DAY + 12 * HOUR + j * 60, conf));
            events.push(ev(&format!("b{j}"), "bursty", KINDS[k], T0 + 12 * HOUR + j * 60, conf));
        }
        // Confirmations are needed for mentoring/system_built; give both the same ones.
        for e in &mut events {
            if e.confirmations.is_empty() && (e.kind == "mentoring" || e.kind == "system_built") {
                e.confirmations.push("peer".into());
            }
        }
        let mut input = week_epoch(
            vec![mem("steady", true, steady_recent), mem("bursty", true, bursty_recent), mem("peer", true, 3)],
            events,
        );
        input.ends_at = T0 + days * DAY;
        let s = score_epoch(&example_rules(), &input).unwrap();
        let get = |m: &str| s.receipts.iter().find(|r| r.member == m).unwrap().clone();
        let (st, bu) = (get("steady"), get("bursty"));
        prop_assert!(st.raw_points >= bu.raw_points);
        prop_assert!(st.score > bu.score, "steady {} <= bursty {}", st.score, bu.score);
        prop_assert!(st.amount >= bu.amount);
    }

    /// (5) A farmer repeating one kind at the maximum rate (every cooldown) earns less than twice
    /// as much for twice the events.
    #[test]
    fn farming_is_sublinear(
        k in 0usize..5,
        n in 1usize..=40,
        offset in 0i64..86_400,
        weeks in 1i64..=4,
        recent in 0u32..=6,
    ) {
        let rules = example_rules();
        let rule = rules.kind(KINDS[k]).unwrap();
        let step = (rule.cooldown_secs as i64).max(1);
        let score_for = |count: usize| {
            let events = (0..count)
                .map(|i| ev(&format!("f{i}"), "farmer", KINDS[k], T0 + offset + i as i64 * step, &["peer"]))
                .collect();
            let mut input = week_epoch(vec![mem("farmer", true, recent), mem("peer", true, 6)], events);
            input.ends_at = T0 + 7 * weeks * DAY;
            let s = score_epoch(&rules, &input).unwrap();
            s.receipts.iter().find(|r| r.member == "farmer").unwrap().score
        };
        let once = score_for(n);
        let twice = score_for(2 * n);
        prop_assert!(once > 0);
        prop_assert!(twice >= once);
        prop_assert!(twice < 2 * once, "n={} score(n)={} score(2n)={}", n, once, twice);
    }

    /// Canonical log round trip with awkward strings (quotes, backslashes, unicode, controls).
    #[test]
    fn canonical_log_round_trips(
        ids in prop::collection::vec("[a-z\"\\\\é\u{1F600}\t ]{0,6}", 1..8),
        times in prop::collection::vec(any::<i64>(), 0..12),
        budget in any::<u64>(),
        epoch in any::<u64>(),
    ) {
        let members: Vec<MemberInput> = ids.iter().enumerate()
            .map(|(i, id)| mem(&format!("{id}{i}"), i % 2 == 0, i as u32))
            .collect();
        let events: Vec<Event> = times.iter().enumerate()
            .map(|(i, &t)| {
                let m = &ids[i % ids.len()];
                ev(&format!("{m}#{i}"), m, &ids[(i + 1) % ids.len()], t, &[m, "x", m])
            })
            .collect();
        let input = EpochInput { epoch, starts_at: i64::MIN, ends_at: i64::MAX, budget, members, events };
        let log = input.canonical_log();
        let parsed = EpochInput::from_canonical_log(&log).unwrap();
        let mut canon = input.clone();
        canon.canonicalize();
        prop_assert_eq!(&parsed, &canon);
        prop_assert_eq!(parsed.canonical_log(), log);
        prop_assert_eq!(parsed.activity_digest(), input.activity_digest());
    }
}
