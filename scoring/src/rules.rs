//! The versioned rules file: parsing, validation, canonical bytes and `rules_hash`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::BPS;

/// Domain prefix of [`Rules::hash`].
pub const RULES_DOMAIN: &[u8] = b"stk-rules-v1";

/// Largest per-event weight and `min_score`: one million points, in milli-points.
const MAX_POINTS: i64 = 1_000_000_000;
/// Largest multiplier (spread, consistency): 5.0x.
const MAX_MULTIPLIER_BPS: i64 = 50_000;
const MAX_DAILY_CAP: i64 = 1_000;
const MAX_WEEKLY_CAP: i64 = 7 * MAX_DAILY_CAP;
const MAX_COOLDOWN_SECS: i64 = 30 * 86_400;
const MAX_LOOKBACK_EPOCHS: i64 = 1_000;
const MAX_CONFIRMATIONS_PER_EVENT: i64 = 100;
const MAX_KINDS: usize = 256;
const MAX_KIND_NAME_LEN: usize = 64;

/// Parsed and validated scoring rules. Build with [`Rules::from_toml`]; every field is in range.
///
/// Points are milli-points (`1_000` = one point); `*_bps` values are basis points of [`BPS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rules {
    /// Rules version, recorded in every receipt.
    pub version: u32,
    /// Minimum final score (milli-points, after multipliers) for a member to qualify for STK.
    pub min_score: u64,
    pub diminishing: Diminishing,
    pub spread: Spread,
    pub consistency: Consistency,
    pub confirmations: Confirmations,
    /// Activity kinds by name (sorted, so the canonical bytes do not depend on file order).
    pub kinds: BTreeMap<String, KindRule>,
}

/// Concave returns within an epoch: the i-th (0-based) counted event of a kind gets
/// `factor_i / BPS` of its points, with `factor_0 = BPS` and
/// `factor_{i+1} = max(floor_bps, floor(factor_i * decay_bps / BPS))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Diminishing {
    pub decay_bps: u64,
    pub floor_bps: u64,
}

/// Reward for spreading activity over the epoch's UTC days.
///
/// `target_days = max(1, ceil(epoch_days * full_at_bps / BPS))`;
/// multiplier = `min_bps + (max_bps - min_bps) * min(active_days, target_days) / target_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub min_bps: u64,
    pub max_bps: u64,
    pub full_at_bps: u64,
}

/// Reward for qualifying in recent epochs:
/// multiplier = `min_bps + (max_bps - min_bps) * min(recent_active_epochs, lookback_epochs) / lookback_epochs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Consistency {
    pub lookback_epochs: u32,
    pub min_bps: u64,
    pub max_bps: u64,
}

/// Peer confirmations. A confirmer's standing is
/// `min_standing_bps + (BPS - min_standing_bps) * min(recent, K) / K` (K = consistency lookback);
/// an event gets `weight * bonus_bps * sum(top max_per_event standings) / BPS^2` extra milli-points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Confirmations {
    pub bonus_bps: u64,
    pub max_per_event: u32,
    pub min_standing_bps: u64,
}

/// Rules of one activity kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindRule {
    /// Milli-points of one event before confirmations and diminishing returns.
    pub weight: u64,
    /// Maximum counted events of this kind per member per UTC day.
    pub daily_cap: u32,
    /// Maximum counted events of this kind per member per Monday-based UTC week.
    pub weekly_cap: u32,
    /// Minimum seconds between two counted events of this kind for a member.
    pub cooldown_secs: u64,
    /// If true, an event counts only with at least one valid peer confirmation.
    pub requires_confirmation: bool,
}

/// Why a rules file was rejected. Every variant names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("rules file is not valid TOML for the rules schema: {0}")]
    Parse(String),
    #[error("`{field}` = {value} is out of range (allowed {min}..={max})")]
    OutOfRange {
        field: String,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: i64,
    min_score: i64,
    diminishing: RawDiminishing,
    spread: RawSpread,
    consistency: RawConsistency,
    confirmations: RawConfirmations,
    kinds: BTreeMap<String, RawKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiminishing {
    decay_bps: i64,
    floor_bps: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpread {
    min_bps: i64,
    max_bps: i64,
    full_at_bps: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsistency {
    lookback_epochs: i64,
    min_bps: i64,
    max_bps: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfirmations {
    bonus_bps: i64,
    max_per_event: i64,
    min_standing_bps: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    weight: i64,
    daily_cap: i64,
    weekly_cap: i64,
    cooldown_secs: i64,
    #[serde(default)]
    requires_confirmation: bool,
}

/// Checks `min <= value <= max` and returns the value as `u64` (both bounds are non-negative).
pub(crate) fn range(field: &str, value: i64, min: i64, max: i64) -> Result<u64, RulesError> {
    if value < min || value > max {
        return Err(RulesError::OutOfRange {
            field: field.to_owned(),
            value,
            min,
            max,
        });
    }
    u64::try_from(value).map_err(|_| RulesError::OutOfRange {
        field: field.to_owned(),
        value,
        min,
        max,
    })
}

/// Like [`range`] for fields stored as `u32` (callers pass `max <= u32::MAX`).
pub(crate) fn range32(field: &str, value: i64, min: i64, max: i64) -> Result<u32, RulesError> {
    let v = range(field, value, min, max)?;
    u32::try_from(v).map_err(|_| RulesError::OutOfRange {
        field: field.to_owned(),
        value,
        min,
        max,
    })
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RulesError {
    RulesError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

const BPS_I: i64 = BPS as i64;

impl Rules {
    /// Parses and validates a rules file. Unknown keys, missing keys, negative numbers and
    /// out-of-range values are errors naming the field.
    pub fn from_toml(s: &str) -> Result<Rules, RulesError> {
        let raw: RawRules = toml::from_str(s).map_err(|e| RulesError::Parse(e.to_string()))?;

        let version = range32("version", raw.version, 1, i64::from(u32::MAX))?;
        let min_score = range("min_score", raw.min_score, 0, MAX_POINTS)?;

        let diminishing = Diminishing {
            decay_bps: range("diminishing.decay_bps", raw.diminishing.decay_bps, 1, BPS_I)?,
            floor_bps: range("diminishing.floor_bps", raw.diminishing.floor_bps, 0, BPS_I)?,
        };

        let spread = Spread {
            min_bps: range("spread.min_bps", raw.spread.min_bps, 1, MAX_MULTIPLIER_BPS)?,
            max_bps: range("spread.max_bps", raw.spread.max_bps, 1, MAX_MULTIPLIER_BPS)?,
            full_at_bps: range("spread.full_at_bps", raw.spread.full_at_bps, 1, BPS_I)?,
        };
        if spread.max_bps < spread.min_bps {
            return Err(invalid(
                "spread.max_bps",
                format!("must be >= spread.min_bps ({})", spread.min_bps),
            ));
        }

        let consistency = Consistency {
            lookback_epochs: range32(
                "consistency.lookback_epochs",
                raw.consistency.lookback_epochs,
                1,
                MAX_LOOKBACK_EPOCHS,
            )?,
            min_bps: range(
                "consistency.min_bps",
                raw.consistency.min_bps,
                1,
                MAX_MULTIPLIER_BPS,
            )?,
            max_bps: range(
                "consistency.max_bps",
                raw.consistency.max_bps,
                1,
                MAX_MULTIPLIER_BPS,
            )?,
        };
        if consistency.max_bps < consistency.min_bps {
            return Err(invalid(
                "consistency.max_bps",
                format!("must be >= consistency.min_bps ({})", consistency.min_bps),
            ));
        }

        let confirmations = Confirmations {
            bonus_bps: range(
                "confirmations.bonus_bps",
                raw.confirmations.bonus_bps,
                0,
                BPS_I,
            )?,
            max_per_event: range32(
                "confirmations.max_per_event",
                raw.confirmations.max_per_event,
                0,
                MAX_CONFIRMATIONS_PER_EVENT,
            )?,
            min_standing_bps: range(
                "confirmations.min_standing_bps",
                raw.confirmations.min_standing_bps,
                0,
                BPS_I,
            )?,
        };

        if raw.kinds.is_empty() {
            return Err(invalid("kinds", "at least one kind is required"));
        }
        if raw.kinds.len() > MAX_KINDS {
            return Err(invalid(
                "kinds",
                format!("at most {MAX_KINDS} kinds are allowed"),
            ));
        }
        let mut kinds = BTreeMap::new();
        for (name, k) in raw.kinds {
            let valid_name = !name.is_empty()
                && name.len() <= MAX_KIND_NAME_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_name {
                return Err(invalid(
                    format!("kinds.{name}"),
                    format!("kind names must be 1..={MAX_KIND_NAME_LEN} characters of [a-z0-9_]"),
                ));
            }
            let f = |key: &str| format!("kinds.{name}.{key}");
            let rule = KindRule {
                weight: range(&f("weight"), k.weight, 1, MAX_POINTS)?,
                daily_cap: range32(&f("daily_cap"), k.daily_cap, 1, MAX_DAILY_CAP)?,
                weekly_cap: range32(&f("weekly_cap"), k.weekly_cap, 1, MAX_WEEKLY_CAP)?,
                cooldown_secs: range(&f("cooldown_secs"), k.cooldown_secs, 0, MAX_COOLDOWN_SECS)?,
                requires_confirmation: k.requires_confirmation,
            };
            if rule.weekly_cap < rule.daily_cap {
                return Err(invalid(
                    f("weekly_cap"),
                    format!("must be >= daily_cap ({})", rule.daily_cap),
                ));
            }
            kinds.insert(name, rule);
        }

        Ok(Rules {
            version,
            min_score,
            diminishing,
            spread,
            consistency,
            confirmations,
            kinds,
        })
    }

    /// Canonical serialization: compact JSON (no whitespace) of the validated rules with the fields
    /// in declaration order, kinds sorted by name and defaults written out
    /// (`requires_confirmation` always present). Independent of TOML formatting, key order and comments.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing plain structs of integers/bools and a BTreeMap with [a-z0-9_] keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `rules_hash = sha256("stk-rules-v1" || canonical_bytes)`.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(RULES_DOMAIN);
        h.update(self.canonical_bytes());
        h.finalize().into()
    }

    /// The rule of a kind, or `None` for a kind the rules do not know.
    pub fn kind(&self, name: &str) -> Option<&KindRule> {
        self.kinds.get(name)
    }

    /// Standing of a confirmer with `recent_active_epochs` (in bps, `min_standing_bps..=BPS`).
    pub fn standing_bps(&self, recent_active_epochs: u32) -> u64 {
        let k = u64::from(self.consistency.lookback_epochs);
        let r = u64::from(recent_active_epochs).min(k);
        let min = self.confirmations.min_standing_bps;
        // (BPS - min) * r <= 10_000 * 1_000: no overflow; k >= 1 by validation.
        min + (BPS - min) * r / k
    }

    /// Consistency multiplier (bps) for `recent_active_epochs` (values above the lookback are clamped).
    pub fn consistency_bps(&self, recent_active_epochs: u32) -> u64 {
        let c = &self.consistency;
        let k = u64::from(c.lookback_epochs);
        let r = u64::from(recent_active_epochs).min(k);
        c.min_bps + (c.max_bps - c.min_bps) * r / k
    }

    /// Spread multiplier (bps) for `active_days` distinct UTC days with counted events in an epoch
    /// touching `epoch_days` days.
    pub fn spread_bps(&self, active_days: u64, epoch_days: u64) -> u64 {
        let s = &self.spread;
        let target = u128::from(epoch_days)
            .saturating_mul(u128::from(s.full_at_bps))
            .div_ceil(u128::from(BPS))
            .max(1);
        let active = u128::from(active_days).min(target);
        let extra = u128::from(s.max_bps - s.min_bps) * active / target;
        // extra <= max_bps - min_bps, so it fits in u64.
        s.min_bps + u64::try_from(extra).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../rules/rules.v1.toml");

    const MINIMAL: &str = r#"
version = 3
min_score = 1000
[diminishing]
decay_bps = 8000
floor_bps = 2000
[spread]
min_bps = 9000
max_bps = 11000
full_at_bps = 5000
[consistency]
lookback_epochs = 6
min_bps = 10000
max_bps = 20000
[confirmations]
bonus_bps = 2000
max_per_event = 3
min_standing_bps = 2500
[kinds.review]
weight = 3000
daily_cap = 2
weekly_cap = 8
cooldown_secs = 3600
[kinds.help_given]
weight = 2000
daily_cap = 3
weekly_cap = 12
cooldown_secs = 1800
"#;

    /// Same content as MINIMAL: other key order, spacing, comments, explicit default, underscores.
    const MINIMAL_REORDERED: &str = r#"
# reordered on purpose
[kinds.help_given]
cooldown_secs = 1_800   # half an hour
weekly_cap = 12
daily_cap = 3
weight = 2_000
requires_confirmation = false

[confirmations]
min_standing_bps = 2_500
max_per_event = 3
bonus_bps = 2_000

[kinds.review]
cooldown_secs=3600
weekly_cap=8
daily_cap=2
weight=3000

[consistency]
max_bps = 20_000
min_bps = 10_000
lookback_epochs = 6

[spread]
full_at_bps = 5_000
max_bps = 11_000
min_bps = 9_000

[diminishing]
floor_bps = 2_000
decay_bps = 8_000
"#;

    fn with_top(extra: &str) -> String {
        // Top-level keys must come before the first table.
        MINIMAL.replacen(
            "min_score = 1000\n",
            &format!("min_score = 1000\n{extra}\n"),
            1,
        )
    }

    #[test]
    fn example_rules_file_parses() {
        let r = Rules::from_toml(EXAMPLE).expect("example rules must be valid");
        assert_eq!(r.version, 1);
        for k in [
            "practice_session",
            "help_given",
            "system_built",
            "review",
            "mentoring",
        ] {
            assert!(r.kind(k).is_some(), "missing kind {k}");
        }
        assert!(r.kind("nope").is_none());
    }

    #[test]
    fn example_rules_hash_matches_an_independent_computation() {
        // Computed with Python (tomllib + hashlib) from the format documented in README.md.
        // Editing rules/rules.v1.toml changes this on purpose: bump `version` and update it.
        let r = Rules::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            hex::encode(r.hash()),
            "fb894964314890f10142c5811cdbe58d58126b01fede126bc46b4d5d1c3f193c"
        );
    }

    #[test]
    fn minimal_parses_with_defaults() {
        let r = Rules::from_toml(MINIMAL).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.min_score, 1000);
        let review = r.kind("review").unwrap();
        assert_eq!(review.weight, 3000);
        assert!(!review.requires_confirmation);
        assert_eq!(r.kinds.len(), 2);
    }

    #[test]
    fn with_top_helper_reconstructs_minimal() {
        assert_eq!(
            Rules::from_toml(&with_top("")).unwrap(),
            Rules::from_toml(MINIMAL).unwrap()
        );
    }

    #[test]
    fn hash_ignores_formatting_and_key_order() {
        let a = Rules::from_toml(MINIMAL).unwrap();
        let b = Rules::from_toml(&format!(
            "min_score = 1_000\nversion = 3\n{MINIMAL_REORDERED}"
        ))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
        assert_eq!(a.hash(), b.hash());
    }

    #[test]
    fn hash_changes_with_any_value() {
        let a = Rules::from_toml(MINIMAL).unwrap();
        let b = Rules::from_toml(&MINIMAL.replace("weight = 3000", "weight = 3001")).unwrap();
        assert_ne!(a.hash(), b.hash());
        let c = Rules::from_toml(&MINIMAL.replace("version = 3", "version = 4")).unwrap();
        assert_ne!(a.hash(), c.hash());
        let d = Rules::from_toml(&MINIMAL.replace(
            "cooldown_secs = 3600\n",
            "cooldown_secs = 3600\nrequires_confirmation = true\n",
        ))
        .unwrap();
        assert_ne!(a.hash(), d.hash());
    }

    #[test]
    fn hash_is_pinned() {
        // Guards the documented byte format: changing it is a rules-format version bump.
        let a = Rules::from_toml(MINIMAL).unwrap();
        let expected_prefix = br#"{"version":3,"min_score":1000,"diminishing":{"decay_bps":8000,"floor_bps":2000},"spread":{"min_bps":9000,"max_bps":11000,"full_at_bps":5000},"consistency":{"lookback_epochs":6,"min_bps":10000,"max_bps":20000},"confirmations":{"bonus_bps":2000,"max_per_event":3,"min_standing_bps":2500},"kinds":{"help_given":{"weight":2000,"daily_cap":3,"weekly_cap":12,"cooldown_secs":1800,"requires_confirmation":false},"review":"#;
        let bytes = a.canonical_bytes();
        assert!(
            bytes.starts_with(expected_prefix),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let mut h = Sha256::new();
        h.update(b"stk-rules-v1");
        h.update(&bytes);
        assert_eq!(a.hash(), <[u8; 32]>::from(h.finalize()));
    }

    fn err(s: &str) -> RulesError {
        Rules::from_toml(s).expect_err("must be rejected")
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = err(&MINIMAL.replace("weight = 3000", "weight = 3000\nwieght = 1"));
        assert!(e.to_string().contains("wieght"), "{e}");
        let e = err(&with_top("bonus = 5"));
        assert!(e.to_string().contains("bonus"), "{e}");
        let e = err(&MINIMAL.replace("[spread]", "[spread]\ncap_bps = 1"));
        assert!(e.to_string().contains("cap_bps"), "{e}");
    }

    #[test]
    fn missing_fields_are_rejected() {
        let e = err(&MINIMAL.replace("daily_cap = 2\n", ""));
        assert!(e.to_string().contains("daily_cap"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let cases = [
            ("weight = 3000", "weight = 0", "kinds.review.weight"),
            ("weight = 3000", "weight = -5", "kinds.review.weight"),
            ("daily_cap = 2", "daily_cap = 0", "kinds.review.daily_cap"),
            (
                "cooldown_secs = 3600",
                "cooldown_secs = -1",
                "kinds.review.cooldown_secs",
            ),
            ("decay_bps = 8000", "decay_bps = 0", "diminishing.decay_bps"),
            (
                "decay_bps = 8000",
                "decay_bps = 10001",
                "diminishing.decay_bps",
            ),
            (
                "full_at_bps = 5000",
                "full_at_bps = 0",
                "spread.full_at_bps",
            ),
            (
                "lookback_epochs = 6",
                "lookback_epochs = 0",
                "consistency.lookback_epochs",
            ),
            (
                "max_per_event = 3",
                "max_per_event = 101",
                "confirmations.max_per_event",
            ),
            ("version = 3", "version = 0", "version"),
            ("min_score = 1000", "min_score = -1", "min_score"),
        ];
        for (from, to, field) in cases {
            let e = err(&MINIMAL.replacen(from, to, 1));
            match &e {
                RulesError::OutOfRange { field: f, .. } => assert_eq!(f, field, "{to}"),
                other => panic!("{to}: expected OutOfRange, got {other:?}"),
            }
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn inconsistent_values_are_rejected() {
        let e = err(&MINIMAL.replace("weekly_cap = 8", "weekly_cap = 1"));
        assert!(
            matches!(&e, RulesError::Invalid { field, .. } if field == "kinds.review.weekly_cap"),
            "{e:?}"
        );
        let e = err(&MINIMAL.replace("max_bps = 11000", "max_bps = 8000"));
        assert!(
            matches!(&e, RulesError::Invalid { field, .. } if field == "spread.max_bps"),
            "{e:?}"
        );
        let e = err(&MINIMAL.replace("max_bps = 20000", "max_bps = 9000"));
        assert!(
            matches!(&e, RulesError::Invalid { field, .. } if field == "consistency.max_bps"),
            "{e:?}"
        );
        let e = err(&MINIMAL.replace("[kinds.review]", "[kinds.Review]"));
        assert!(
            matches!(&e, RulesError::Invalid { field, .. } if field == "kinds.Review"),
            "{e:?}"
        );
        let no_kinds = MINIMAL.split("[kinds.review]").next().unwrap().to_owned() + "[kinds]\n";
        let e = err(&no_kinds);
        assert!(
            matches!(&e, RulesError::Invalid { field, .. } if field == "kinds"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_types_are_rejected() {
        let e = err(&MINIMAL.replace("weight = 3000", "weight = 3.5"));
        assert!(matches!(e, RulesError::Parse(_)), "{e:?}");
        let e = err(&MINIMAL.replace("weight = 3000", "weight = \"3000\""));
        assert!(matches!(e, RulesError::Parse(_)), "{e:?}");
    }

    #[test]
    fn multiplier_curves() {
        let r = Rules::from_toml(MINIMAL).unwrap();
        assert_eq!(r.consistency_bps(0), 10_000);
        assert_eq!(r.consistency_bps(3), 15_000);
        assert_eq!(r.consistency_bps(6), 20_000);
        assert_eq!(r.consistency_bps(60), 20_000);
        assert_eq!(r.standing_bps(0), 2_500);
        assert_eq!(r.standing_bps(6), 10_000);
        assert_eq!(r.standing_bps(2), 5_000);
        // 7-day epoch, full at 50% -> target 4 days.
        assert_eq!(r.spread_bps(0, 7), 9_000);
        assert_eq!(r.spread_bps(1, 7), 9_500);
        assert_eq!(r.spread_bps(4, 7), 11_000);
        assert_eq!(r.spread_bps(7, 7), 11_000);
        // 1-day epoch: one active day is full spread.
        assert_eq!(r.spread_bps(1, 1), 11_000);
    }
}
