//! Scoring v2 ("pay contribution, not claims"): rules format 2, log format `stk-activity-v2`,
//! [`score_epoch_v2`]. Rules v1 and [`crate::score_epoch`] are unchanged.

pub mod input;
pub mod rules;
pub mod score;
pub mod trust;
