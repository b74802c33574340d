//! SysTok scoring: pure, deterministic, explainable contribution scoring.
//!
//! A frozen epoch's activity ([`EpochInput`]) plus a versioned rules file ([`Rules`]) go in; points,
//! an exact STK allocation and one [`Receipt`] per member come out ([`score_epoch`]). There is no I/O,
//! no floating point and no panicking arithmetic: points are `u64` milli-points, multipliers are basis
//! points ([`BPS`]), intermediates are `u128` with checked operations. See `README.md` for every rule,
//! the remainder rule and the exact byte formats behind [`Rules::hash`] and
//! [`EpochInput::activity_digest`].

mod allocate;
mod fxhash;
mod hexser;
mod input;
mod rules;
mod score;
mod time;

/// One whole in basis points: multipliers are expressed as `x / BPS`.
pub const BPS: u64 = 10_000;

pub use allocate::split_budget;
pub use input::{EpochInput, Event, LogError, MemberInput, ACTIVITY_DOMAIN, LOG_FORMAT};
pub use rules::{
    Confirmations, Consistency, Diminishing, KindRule, Rules, RulesError, Spread, RULES_DOMAIN,
};
pub use score::{
    score_epoch, Allocation, CountedEvent, DropReason, DroppedEvent, EpochScore, Receipt,
    ScoringError,
};
pub use time::{day_index, epoch_days, week_index, SECS_PER_DAY};
