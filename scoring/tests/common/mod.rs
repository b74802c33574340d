//! Builders shared by the integration tests.
#![allow(dead_code)]

use stk_scoring::{EpochInput, Event, MemberInput, Rules};

/// Monday 2024-01-01 00:00:00 UTC.
pub const T0: i64 = 1_704_067_200;
pub const DAY: i64 = 86_400;
pub const HOUR: i64 = 3_600;

pub const EXAMPLE_RULES: &str = include_str!("../../../rules/rules.v1.toml");

pub fn example_rules() -> Rules {
    Rules::from_toml(EXAMPLE_RULES).expect("example rules parse")
}

pub fn ev(id: &str, member: &str, kind: &str, at: i64, confirmations: &[&str]) -> Event {
    Event {
        id: id.to_owned(),
        member: member.to_owned(),
        kind: kind.to_owned(),
        occurred_at: at,
        confirmations: confirmations.iter().map(|s| (*s).to_owned()).collect(),
    }
}

pub fn mem(id: &str, active: bool, recent: u32) -> MemberInput {
    MemberInput {
        id: id.to_owned(),
        active,
        recent_active_epochs: recent,
    }
}

/// A 7-day epoch starting at [`T0`] with a budget of 1 STK.
pub fn week_epoch(members: Vec<MemberInput>, events: Vec<Event>) -> EpochInput {
    EpochInput {
        epoch: 1,
        starts_at: T0,
        ends_at: T0 + 7 * DAY,
        budget: 1_000_000,
        members,
        events,
    }
}
