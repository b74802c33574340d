//! One test per scoring rule, against a small rules file with round numbers.

mod common;

use common::*;
use stk_scoring::{score_epoch, DropReason, EpochScore, Receipt, Rules, ScoringError, BPS};

/// Neutral spread (1.0x), consistency 1.0x..2.0x over 4 epochs, decay 0.5 with floor 0.1.
const TEST_RULES: &str = r#"
version = 9
min_score = 0
[diminishing]
decay_bps = 5000
floor_bps = 1000
[spread]
min_bps = 10000
max_bps = 10000
full_at_bps = 10000
[consistency]
lookback_epochs = 4
min_bps = 10000
max_bps = 20000
[confirmations]
bonus_bps = 5000
max_per_event = 2
min_standing_bps = 2000
[kinds.a]
weight = 1000
daily_cap = 2
weekly_cap = 3
cooldown_secs = 600
[kinds.b]
weight = 4000
daily_cap = 10
weekly_cap = 70
cooldown_secs = 0
[kinds.c]
weight = 2000
daily_cap = 5
weekly_cap = 10
cooldown_secs = 0
requires_confirmation = true
"#;

fn rules() -> Rules {
    Rules::from_toml(TEST_RULES).unwrap()
}

fn receipt<'a>(s: &'a EpochScore, member: &str) -> &'a Receipt {
    s.receipts
        .iter()
        .find(|r| r.member == member)
        .unwrap_or_else(|| panic!("no receipt for {member}"))
}

fn counted_ids(r: &Receipt) -> Vec<&str> {
    r.counted.iter().map(|c| c.id.as_str()).collect()
}

fn dropped(r: &Receipt) -> Vec<(&str, DropReason)> {
    r.dropped
        .iter()
        .map(|d| (d.id.as_str(), d.reason))
        .collect()
}

#[test]
fn daily_cap_limits_counted_events_per_utc_day() {
    let events = vec![
        ev("1", "m", "a", T0 + HOUR, &[]),
        ev("2", "m", "a", T0 + 2 * HOUR, &[]),
        ev("3", "m", "a", T0 + 3 * HOUR, &[]),
        ev("4", "m", "a", T0 + DAY, &[]), // next UTC day: counts again
    ];
    let s = score_epoch(&rules(), &week_epoch(vec![mem("m", true, 0)], events)).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(counted_ids(r), ["1", "2", "4"]);
    assert_eq!(dropped(r), [("3", DropReason::DailyCap)]);
}

#[test]
fn weekly_cap_limits_counted_events_per_monday_week() {
    // Epoch of 14 days starting Monday: days 0..3 in week 1, day 7 in week 2.
    let mut input = week_epoch(
        vec![mem("m", true, 0)],
        vec![
            ev("1", "m", "a", T0, &[]),
            ev("2", "m", "a", T0 + DAY, &[]),
            ev("3", "m", "a", T0 + 2 * DAY, &[]),
            ev("4", "m", "a", T0 + 3 * DAY, &[]),
            ev("5", "m", "a", T0 + 6 * DAY + 23 * HOUR, &[]), // Sunday, same week
            ev("6", "m", "a", T0 + 7 * DAY, &[]),             // Monday, next week
        ],
    );
    input.ends_at = T0 + 14 * DAY;
    let s = score_epoch(&rules(), &input).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(counted_ids(r), ["1", "2", "3", "6"]);
    assert_eq!(
        dropped(r),
        [("4", DropReason::WeeklyCap), ("5", DropReason::WeeklyCap)]
    );
}

#[test]
fn cooldown_is_measured_from_the_last_counted_event() {
    let events = vec![
        ev("1", "m", "a", T0, &[]),
        ev("2", "m", "a", T0 + 500, &[]), // 500 < 600 after "1": dropped
        ev("3", "m", "a", T0 + 900, &[]), // 900 after "1" (only 400 after "2"): counted
        ev("4", "m", "a", T0 + 1_499, &[]), // 599 after "3": dropped
        ev("5", "m", "b", T0 + 501, &[]), // other kinds have their own cooldown
        ev("6", "m", "a", T0 + 1_500, &[]), // 600 after "3": counted
    ];
    // Caps out of the way so only the cooldown acts.
    let rules = Rules::from_toml(&TEST_RULES.replace(
        "daily_cap = 2\nweekly_cap = 3",
        "daily_cap = 10\nweekly_cap = 70",
    ))
    .unwrap();
    let s = score_epoch(&rules, &week_epoch(vec![mem("m", true, 0)], events)).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(counted_ids(r), ["1", "5", "3", "6"]);
    assert_eq!(
        dropped(r),
        [("2", DropReason::Cooldown), ("4", DropReason::Cooldown)]
    );
}

#[test]
fn cooldown_boundary_is_inclusive() {
    let events = vec![ev("1", "m", "a", T0, &[]), ev("2", "m", "a", T0 + 600, &[])];
    let s = score_epoch(&rules(), &week_epoch(vec![mem("m", true, 0)], events)).unwrap();
    assert_eq!(counted_ids(receipt(&s, "m")), ["1", "2"]);
}

#[test]
fn diminishing_returns_per_kind_with_floor() {
    let mut events: Vec<_> = (0..6)
        .map(|i| ev(&format!("b{i}"), "m", "b", T0 + i * HOUR, &[]))
        .collect();
    events.push(ev("a0", "m", "a", T0 + 10 * HOUR, &[]));
    let s = score_epoch(&rules(), &week_epoch(vec![mem("m", true, 0)], events)).unwrap();
    let r = receipt(&s, "m");
    let b: Vec<(u64, u64)> = r
        .counted
        .iter()
        .filter(|c| c.kind == "b")
        .map(|c| (c.factor_bps, c.diminished_points))
        .collect();
    // 1.0, 0.5, 0.25, 0.125, then the 0.1 floor.
    assert_eq!(
        b,
        [
            (10_000, 4_000),
            (5_000, 2_000),
            (2_500, 1_000),
            (1_250, 500),
            (1_000, 400),
            (1_000, 400)
        ]
    );
    // Kind "a" starts its own curve at full weight.
    let a = r.counted.iter().find(|c| c.kind == "a").unwrap();
    assert_eq!((a.factor_bps, a.diminished_points), (10_000, 1_000));
    assert_eq!(
        r.raw_points,
        4_000 + 2_000 + 1_000 + 500 + 400 + 400 + 1_000
    );
    assert_eq!(r.score, r.raw_points); // neutral multipliers, recent 0
}

#[test]
fn confirmations_weighted_by_standing_capped_and_filtered() {
    let members = vec![
        mem("m", true, 0),
        mem("full", true, 4),  // standing 10_000
        mem("half", true, 2),  // standing 2_000 + 8_000 * 2 / 4 = 6_000
        mem("new", true, 0),   // standing 2_000
        mem("gone", false, 4), // inactive: ignored
    ];
    let events = vec![ev(
        "1",
        "m",
        "b",
        T0,
        &["m", "ghost", "gone", "new", "full", "half", "full"],
    )];
    let s = score_epoch(&rules(), &week_epoch(members.clone(), events)).unwrap();
    let c = &receipt(&s, "m").counted[0];
    // Top two standings: 10_000 + 6_000; 4_000 * 0.5 * 1.6 = 3_200.
    assert_eq!(c.confirmations_counted, 2);
    assert_eq!(c.confirmation_points, 3_200);
    assert_eq!(c.diminished_points, 7_200);

    // Only self / unknown / inactive confirmations: no bonus.
    let events = vec![ev("1", "m", "b", T0, &["m", "ghost", "gone"])];
    let s = score_epoch(&rules(), &week_epoch(members.clone(), events)).unwrap();
    let c = &receipt(&s, "m").counted[0];
    assert_eq!((c.confirmations_counted, c.confirmation_points), (0, 0));

    // A low-standing confirmer adds less than a high-standing one.
    let one = |who: &str| {
        let s = score_epoch(
            &rules(),
            &week_epoch(members.clone(), vec![ev("1", "m", "b", T0, &[who])]),
        )
        .unwrap();
        receipt(&s, "m").counted[0].confirmation_points
    };
    assert_eq!(one("new"), 400);
    assert_eq!(one("full"), 2_000);
}

#[test]
fn confirmation_bonus_diminishes_with_the_event() {
    let members = vec![mem("m", true, 0), mem("full", true, 4)];
    let events = vec![
        ev("1", "m", "b", T0, &["full"]),
        ev("2", "m", "b", T0 + 1, &["full"]),
    ];
    let s = score_epoch(&rules(), &week_epoch(members, events)).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(r.counted[1].confirmation_points, 2_000);
    assert_eq!(r.counted[1].diminished_points, (4_000 + 2_000) / 2);
}

#[test]
fn requires_confirmation_needs_a_valid_confirmer() {
    let members = vec![mem("m", true, 0), mem("p", true, 0), mem("off", false, 4)];
    let events = vec![
        ev("1", "m", "c", T0, &[]),
        ev("2", "m", "c", T0 + 1, &["m"]),
        ev("3", "m", "c", T0 + 2, &["off", "nobody"]),
        ev("4", "m", "c", T0 + 3, &["p"]),
    ];
    let s = score_epoch(&rules(), &week_epoch(members, events)).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(counted_ids(r), ["4"]);
    assert_eq!(
        dropped(r),
        [
            ("1", DropReason::Unconfirmed),
            ("2", DropReason::Unconfirmed),
            ("3", DropReason::Unconfirmed)
        ]
    );
}

#[test]
fn below_minimum_score_is_listed_but_not_paid() {
    let rules = Rules::from_toml(&TEST_RULES.replace("min_score = 0", "min_score = 5000")).unwrap();
    let members = vec![mem("low", true, 0), mem("high", true, 0)];
    let events = vec![
        ev("1", "low", "a", T0, &[]),
        ev("2", "high", "b", T0, &[]),
        ev("3", "high", "a", T0, &[]),
    ];
    let s = score_epoch(&rules, &week_epoch(members, events)).unwrap();
    let low = receipt(&s, "low");
    assert!(!low.qualified);
    assert_eq!(low.score, 1_000);
    assert_eq!(low.amount, 0);
    assert!(low.counted.is_empty());
    assert_eq!(dropped(low), [("1", DropReason::BelowMinimumScore)]);
    assert_eq!(low.dropped[0].points, 1_000);
    let high = receipt(&s, "high");
    assert!(high.qualified);
    assert_eq!(high.score, 5_000);
    assert_eq!(s.total_score, 5_000);
    assert_eq!(s.allocations.len(), 1);
    assert_eq!(s.allocations[0].member, "high");
    assert_eq!(s.allocations[0].amount, 1_000_000);
}

#[test]
fn inactive_members_earn_nothing() {
    let members = vec![mem("sleepy", false, 4), mem("m", true, 0)];
    let events = vec![
        ev("1", "sleepy", "b", T0, &[]),
        ev("2", "m", "b", T0, &["sleepy"]),
    ];
    let s = score_epoch(&rules(), &week_epoch(members, events)).unwrap();
    let r = receipt(&s, "sleepy");
    assert_eq!(dropped(r), [("1", DropReason::InactiveMember)]);
    assert!(!r.qualified);
    assert_eq!((r.score, r.amount), (0, 0));
    assert_eq!(receipt(&s, "m").counted[0].confirmation_points, 0);
    assert_eq!(s.allocations.len(), 1);
    assert_eq!(s.allocations[0].member, "m");
}

#[test]
fn events_outside_the_window_are_dropped() {
    let input = week_epoch(
        vec![mem("m", true, 0)],
        vec![
            ev("before", "m", "b", T0 - 1, &[]),
            ev("first", "m", "b", T0, &[]),
            ev("last", "m", "b", T0 + 7 * DAY - 1, &[]),
            ev("end", "m", "b", T0 + 7 * DAY, &[]),
        ],
    );
    let s = score_epoch(&rules(), &input).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(counted_ids(r), ["first", "last"]);
    assert_eq!(
        dropped(r),
        [
            ("before", DropReason::OutsideEpoch),
            ("end", DropReason::OutsideEpoch)
        ]
    );
}

#[test]
fn unknown_kinds_and_members_are_dropped_with_receipts() {
    let input = week_epoch(
        vec![mem("m", true, 0)],
        vec![
            ev("1", "m", "juggling", T0, &[]),
            ev("2", "stranger", "b", T0, &[]),
        ],
    );
    let s = score_epoch(&rules(), &input).unwrap();
    assert_eq!(dropped(receipt(&s, "m")), [("1", DropReason::UnknownKind)]);
    let r = receipt(&s, "stranger");
    assert_eq!(dropped(r), [("2", DropReason::UnknownMember)]);
    assert!(!r.qualified);
    // Nobody qualified: nothing is spent.
    assert!(s.allocations.is_empty());
    assert_eq!(s.total_score, 0);
    assert!(s.receipts.iter().all(|r| r.amount == 0));
}

#[test]
fn consistency_multiplier_scales_score() {
    let members = vec![
        mem("new", true, 0),
        mem("mid", true, 2),
        mem("old", true, 9),
    ];
    let events = vec![
        ev("1", "new", "b", T0, &[]),
        ev("2", "mid", "b", T0, &[]),
        ev("3", "old", "b", T0, &[]),
    ];
    let s = score_epoch(&rules(), &week_epoch(members, events)).unwrap();
    let got: Vec<(u64, u64)> = ["new", "mid", "old"]
        .iter()
        .map(|m| {
            let r = receipt(&s, m);
            (r.consistency_multiplier_bps, r.score)
        })
        .collect();
    assert_eq!(got, [(10_000, 4_000), (15_000, 6_000), (20_000, 8_000)]);
    // Budget split 4:6:8 of 1_000_000 = 222_222.22, 333_333.33, 444_444.44: one unit is left
    // over and goes to the largest fractional remainder ("old").
    let amounts: Vec<(&str, u64)> = s
        .allocations
        .iter()
        .map(|a| (a.member.as_str(), a.amount))
        .collect();
    assert_eq!(
        amounts,
        [("mid", 333_333), ("new", 222_222), ("old", 444_445)]
    );
}

#[test]
fn spread_multiplier_rewards_distinct_days() {
    let rules = example_rules();
    // Weekly epoch, full spread at 4 days: 0.9x + 0.2x * days / 4.
    let members = vec![mem("burst", true, 0), mem("spread", true, 0)];
    let mut events = Vec::new();
    for d in 0..4 {
        events.push(ev(
            &format!("b{d}"),
            "burst",
            "help_given",
            T0 + d * HOUR,
            &[],
        ));
        events.push(ev(
            &format!("s{d}"),
            "spread",
            "help_given",
            T0 + d * DAY,
            &[],
        ));
    }
    let s = score_epoch(&rules, &week_epoch(members, events)).unwrap();
    let b = receipt(&s, "burst");
    let sp = receipt(&s, "spread");
    assert_eq!((b.active_days, b.spread_multiplier_bps), (1, 9_500));
    assert_eq!((sp.active_days, sp.spread_multiplier_bps), (4, 11_000));
    assert_eq!(b.epoch_days, 7);
    // Burst also hits the daily cap of 3.
    assert_eq!(b.counted.len(), 3);
    assert_eq!(sp.counted.len(), 4);
    assert!(sp.score > b.score);
}

#[test]
fn score_is_raw_times_multipliers() {
    let rules = example_rules();
    let members = vec![mem("m", true, 3)];
    let events = vec![
        ev("1", "m", "review", T0, &[]),
        ev("2", "m", "review", T0 + DAY, &[]),
    ];
    let s = score_epoch(&rules, &week_epoch(members, events)).unwrap();
    let r = receipt(&s, "m");
    assert_eq!(r.raw_points, 3_000 + 2_400);
    assert_eq!(r.spread_multiplier_bps, 10_000);
    assert_eq!(r.consistency_multiplier_bps, 15_000);
    assert_eq!(r.score, 5_400 * 10_000 * 15_000 / (BPS * BPS));
    assert_eq!(r.rules_version, 1);
    assert_eq!(s.rules_hash, rules.hash());
}

#[test]
fn invalid_inputs_are_errors() {
    let r = rules();
    let mut input = week_epoch(vec![mem("m", true, 0), mem("m", false, 0)], vec![]);
    assert_eq!(
        score_epoch(&r, &input),
        Err(ScoringError::DuplicateMember("m".into()))
    );
    input.members.pop();
    input.events = vec![ev("x", "m", "a", T0, &[]), ev("x", "m", "b", T0 + 5, &[])];
    assert_eq!(
        score_epoch(&r, &input),
        Err(ScoringError::DuplicateEvent("x".into()))
    );
    input.events.pop();
    input.ends_at = input.starts_at;
    assert!(matches!(
        score_epoch(&r, &input),
        Err(ScoringError::EmptyWindow { .. })
    ));
}

#[test]
fn result_serializes_to_json_and_back() {
    let members = vec![mem("m", true, 1), mem("p", true, 1)];
    let events = vec![
        ev("1", "m", "c", T0, &["p"]),
        ev("2", "p", "a", T0, &[]),
        ev("3", "p", "zzz", T0, &[]),
    ];
    let s = score_epoch(&rules(), &week_epoch(members, events)).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains(&format!("\"rules_hash\":\"{}\"", hex::encode(s.rules_hash))));
    assert!(json.contains("\"reason\":\"UnknownKind\""));
    let back: EpochScore = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn large_epochs_digest_on_a_second_thread_with_the_same_result() {
    // Above the parallel threshold (20_000 events) score_epoch computes the digest concurrently.
    let members: Vec<_> = (0..50)
        .map(|i| mem(&format!("m{i:02}"), i % 7 != 0, i % 5))
        .collect();
    let kinds = [
        "practice_session",
        "help_given",
        "review",
        "mentoring",
        "system_built",
    ];
    let mut events: Vec<_> = (0..25_000i64)
        .map(|i| {
            let confirmer = format!("m{:02}", (i * 7 + 3) % 50);
            ev(
                &format!("e{i:05}"),
                &format!("m{:02}", (i * 31) % 50),
                kinds[(i % 5) as usize],
                T0 + (i * 7_919) % (7 * DAY),
                &[confirmer.as_str()],
            )
        })
        .collect();
    let rules = example_rules();
    let input = week_epoch(members.clone(), events.clone());
    let s = score_epoch(&rules, &input).unwrap();
    assert_eq!(s.activity_digest, input.activity_digest());
    assert!(s.receipts.iter().any(|r| r.qualified));
    events.reverse();
    let reversed = week_epoch(members, events);
    assert_eq!(score_epoch(&rules, &reversed).unwrap(), s);
}
