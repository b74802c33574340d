//! SysTok scoring: pure, deterministic, explainable contribution scoring.
//!
//! A frozen epoch's activity ([`EpochInput`]) plus a versioned rules file ([`Rules`]) go in; points,
//! an exact STK allocation and one [`Receipt`] per member come out ([`score_epoch`]). There is no I/O,
//! no floating point and no panicking arithmetic: points are `u64` milli-points, multipliers are basis
//! points ([`BPS`]), intermediates are `u128` with checked operations. See `README.md` for every rule,
//! the remainder rule and the exact byte formats behind [`Rules::hash`] and
//! [`EpochInput::activity_digest`].

mod allocate;
mod any;
mod fxhash;
mod hexser;
mod input;
mod rules;
mod score;
mod time;
pub mod v2;

/// One whole in basis points: multipliers are expressed as `x / BPS`.
pub const BPS: u64 = 10_000;

pub use allocate::split_budget;
pub use any::{AnyError, AnyInput, AnyReceipt, AnyScore};
pub use input::{EpochInput, Event, LogError, MemberInput, ACTIVITY_DOMAIN, LOG_FORMAT};
pub use rules::{
    Confirmations, Consistency, Diminishing, KindRule, Rules, RulesError, Spread, RULES_DOMAIN,
};
pub use score::{
    score_epoch, Allocation, CountedEvent, DropReason, DroppedEvent, EpochScore, Receipt,
    ScoringError,
};
pub use time::{day_index, epoch_days, month_index, week_index, SECS_PER_DAY};
pub use v2::input::{
    Auth, Confirmation, EpochInputV2, EventV2, KindCarry, MemberState, MemberV2, Vouch,
    ACTIVITY_V2_DOMAIN, LOG_V2_FORMAT,
};
pub use v2::rules::{
    isqrt, Calendar, Ceiling, ConfirmationsV2, DiminishingV2, Eligibility, Evidence, ForumMap,
    ForumRule, KindRuleV2, RuleSet, RulesV2, SourceRule, Tenure, TrustRule, RULES_V2_DOMAIN,
    TRUST_ONE,
};
pub use v2::score::{
    score_epoch_v2, CapHit, ConfirmationOutcome, ConfirmationStatus, CountedEventV2, DropReasonV2,
    DroppedEventV2, EpochScoreV2, MemberStateOut, ReceiptV2,
};
pub use v2::trust::{personalized_pagerank, TRUST_MASS};
