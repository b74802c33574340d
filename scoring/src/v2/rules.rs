//! Rules v2 (`format = 2`): evidence classes, accountable confirmations, trust from the masters,
//! lifelong tenure, calendar caps, ingest window, eligibility and a per-account ceiling.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{invalid, range, range32, Rules, RulesError};
use crate::BPS;

/// Domain prefix of [`RulesV2::hash`].
pub const RULES_V2_DOMAIN: &[u8] = b"stk-rules-v2";

/// One whole of trust: the median graph trust of the members that have any in an epoch.
pub const TRUST_ONE: u64 = 1_000_000;

const MAX_POINTS: i64 = 1_000_000_000;
const MAX_MULTIPLIER_BPS: i64 = 50_000;
const MAX_DAILY_CAP: i64 = 1_000;
const MAX_COOLDOWN_SECS: i64 = 30 * 86_400;
const MAX_WINDOW_SECS: i64 = 366 * 86_400;
const MAX_KINDS: usize = 256;
const MAX_NAME_LEN: usize = 64;
const MAX_SEEDS: usize = 10_000;
const MAX_ITERATIONS: i64 = 1_000;
const BPS_I: i64 = BPS as i64;

/// How an activity kind is evidenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A platform source saw it and reports it with its source key (`sources.<id>.observes`).
    Observed,
    /// Counts only with `confirmations_required` accountable confirmations by trusted members.
    Confirmed,
    /// Self-report: worth `claimed_bps` of its weight (usually 0).
    Claimed,
}

/// Rules of one kind in v2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindRuleV2 {
    pub evidence: Evidence,
    /// Milli-points of one counted event before diminishing returns.
    pub weight: u64,
    /// Confirmed kinds: distinct counted confirmations needed (>= 1); 0 otherwise.
    pub confirmations_required: u32,
    /// Claimed kinds: share of the weight paid (bps); 0 for the other classes.
    pub claimed_bps: u64,
    /// Counted events per member per UTC day / Monday-based UTC week / UTC calendar month.
    /// Counters carry over epoch boundaries (member state), whatever the genesis weekday.
    pub daily_cap: u32,
    pub weekly_cap: u32,
    pub monthly_cap: u32,
    /// Minimum seconds between two counted events of the kind (carries over epochs too).
    pub cooldown_secs: u64,
}

/// A platform source (an API key or a Discourse instance with its own identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRule {
    /// Observed kinds this source may report.
    pub observes: Vec<String>,
    /// Whether confirmations (and vouches) posted by this source for a confirmer it
    /// authenticated count as accountable.
    pub authenticates_confirmers: bool,
    /// The source's ed25519 public key (base58): when set, every event it reports and its
    /// per-epoch manifest must carry its signature, which every oracle checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    /// A forum source (Discourse): which forum events become which activity kinds. Absent from
    /// the canonical JSON when not set, so rules without a forum hash as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forum: Option<ForumRule>,
}

/// Maximum categories listed in one forum mapping.
pub const MAX_FORUM_CATEGORIES: usize = 1_000;

/// The mapping of a forum source's events to activity kinds (`[sources.<name>.forum]`). Every
/// entry is optional; an absent entry means the forum event counts for nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForumRule {
    /// A topic opened (its first post) in one of `categories`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<ForumMap>,
    /// A reply (a regular post after the first) in one of `categories`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ForumMap>,
    /// An answer accepted as the solution of a topic in one of `categories` (discourse-solved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution: Option<ForumMap>,
    /// A like received from another (mapped) member is that member's accountable confirmation
    /// (`auth = "source:<name>"`) of the liked post's activity; requires
    /// `authenticates_confirmers`.
    pub likes_confirm: bool,
}

/// One forum event's kind and the category ids (Discourse `category_id`) it counts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForumMap {
    pub kind: String,
    /// Sorted, deduplicated; empty = every category.
    pub categories: Vec<u64>,
}

impl ForumMap {
    /// Whether a post in `category` (None: uncategorized/private) counts.
    pub fn counts_in(&self, category: Option<u64>) -> bool {
        self.categories.is_empty() || category.is_some_and(|c| self.categories.contains(&c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Calendar {
    /// Events with `received_at - occurred_at > ingest_window_secs` are refused (back-filled).
    pub ingest_window_secs: u64,
    /// Events with `occurred_at > received_at + max_clock_skew_secs` are refused.
    pub max_clock_skew_secs: u64,
}

/// Diminishing returns on repetition within one UTC day, per kind: the i-th counted event of a
/// kind in a day gets `f_i`, `f_0 = BPS`, `f_{i+1} = max(floor_bps, f_i * decay_bps / BPS)`.
/// A member practising once a day gets 1.0 every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiminishingV2 {
    pub decay_bps: u64,
    pub floor_bps: u64,
}

/// Lifelong tenure: `tenure_epochs` = epochs (lifetime) in which the member was paid with at least
/// `min_active_days` active days. The multiplier is the piecewise-linear interpolation of `curve`
/// (`[epochs, bps]` knots, first at 0 epochs, epochs strictly increasing, bps non-decreasing,
/// slopes non-increasing = concave), flat after the last knot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenure {
    pub curve: Vec<(u32, u64)>,
    pub min_active_days: u32,
}

/// Trust: personalized PageRank from the seeds over the accountable confirmation + vouch graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustRule {
    /// Member ids of the masters (sorted, deduplicated).
    pub seeds: Vec<String>,
    /// Share of every member's mass returned to the seeds at each step (alpha).
    pub teleport_bps: u64,
    /// Fixed number of power-iteration steps.
    pub iterations: u32,
    /// Carried trust decays by this factor per epoch; trust = max(this epoch, carried * keep).
    pub keep_bps: u64,
    /// Only members with at least this `tenure_epochs` (and the seeds) pass trust on; the mass
    /// of the others returns to the seeds.
    pub min_propagator_tenure_epochs: u32,
    /// A confirmer or voucher needs at least this trust ([`TRUST_ONE`] = median).
    pub min_confirmer_trust: u64,
    /// Pay factor = min(1, trust / full_pay_trust).
    pub full_pay_trust: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfirmationsV2 {
    /// Accountable confirmations a confirmer can give per epoch (in canonical order).
    pub budget_per_epoch: u32,
    /// Strength of a confirmation whose claimant also confirmed the confirmer this epoch.
    pub reciprocal_bps: u64,
    /// A confirmation counts only from a member with at least this `tenure_epochs`.
    pub min_confirmer_tenure_epochs: u32,
    /// Distinct new members (tenure below `trust.min_propagator_tenure_epochs`) a member can
    /// confirm or vouch for per epoch (sponsorship budget).
    pub max_new_members_per_epoch: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    /// Distinct trusted vouchers that make a member without subscription eligible (0 = never).
    pub vouches_required: u32,
    /// A vouch counts only from a member with at least this `tenure_epochs` (and enough trust).
    pub min_voucher_tenure_epochs: u32,
    /// Probation: a member with `tenure_epochs < probation_epochs` is eligible only with at
    /// least `probation_vouches` counted vouches (besides a subscription or the vouches above).
    pub probation_epochs: u32,
    pub probation_vouches: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ceiling {
    /// A member's raw points count up to `median_multiple_bps / BPS` x the median positive raw
    /// points of eligible members with trust (before tenure, so tenure is never clipped).
    pub median_multiple_bps: u64,
}

/// Parsed and validated v2 rules. Build with [`RulesV2::from_toml`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesV2 {
    /// Always 2.
    pub format: u32,
    pub version: u32,
    pub min_score: u64,
    pub calendar: Calendar,
    pub diminishing: DiminishingV2,
    pub tenure: Tenure,
    pub trust: TrustRule,
    pub confirmations: ConfirmationsV2,
    pub eligibility: Eligibility,
    pub ceiling: Ceiling,
    pub sources: BTreeMap<String, SourceRule>,
    pub kinds: BTreeMap<String, KindRuleV2>,
}

/// A rules file of either format, chosen by its top-level `format` key (absent or 1 = v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSet {
    V1(Rules),
    V2(RulesV2),
}

impl RuleSet {
    /// Parses a rules file: `format = 2` selects [`RulesV2`]; without `format` (or `format = 1`,
    /// which is then removed before parsing) the file is v1 and hashes exactly as before.
    pub fn from_toml(s: &str) -> Result<RuleSet, RulesError> {
        let value: toml::Table = toml::from_str(s).map_err(|e| RulesError::Parse(e.to_string()))?;
        match value.get("format") {
            None => Rules::from_toml(s).map(RuleSet::V1),
            Some(toml::Value::Integer(1)) => {
                let mut t = value;
                t.remove("format");
                let text = toml::to_string(&t).map_err(|e| RulesError::Parse(e.to_string()))?;
                Rules::from_toml(&text).map(RuleSet::V1)
            }
            Some(toml::Value::Integer(2)) => RulesV2::from_toml(s).map(RuleSet::V2),
            Some(other) => Err(invalid(
                "format",
                format!("unsupported rules format {other}"),
            )),
        }
    }

    /// The rules hash that goes on chain (v1: `stk-rules-v1` domain, unchanged; v2: `stk-rules-v2`).
    pub fn hash(&self) -> [u8; 32] {
        match self {
            RuleSet::V1(r) => r.hash(),
            RuleSet::V2(r) => r.hash(),
        }
    }

    /// The `version` value of the file.
    pub fn version(&self) -> u32 {
        match self {
            RuleSet::V1(r) => r.version,
            RuleSet::V2(r) => r.version,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: i64,
    version: i64,
    min_score: i64,
    calendar: RawCalendar,
    diminishing: RawDim,
    tenure: RawTenure,
    trust: RawTrust,
    confirmations: RawConf,
    eligibility: RawElig,
    ceiling: RawCeiling,
    sources: BTreeMap<String, RawSource>,
    kinds: BTreeMap<String, RawKind>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    ingest_window_secs: i64,
    max_clock_skew_secs: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDim {
    decay_bps: i64,
    floor_bps: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenure {
    curve: Vec<(i64, i64)>,
    min_active_days: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrust {
    seeds: Vec<String>,
    teleport_bps: i64,
    iterations: i64,
    keep_bps: i64,
    min_propagator_tenure_epochs: i64,
    min_confirmer_trust: i64,
    full_pay_trust: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConf {
    budget_per_epoch: i64,
    reciprocal_bps: i64,
    min_confirmer_tenure_epochs: i64,
    max_new_members_per_epoch: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElig {
    vouches_required: i64,
    min_voucher_tenure_epochs: i64,
    probation_epochs: i64,
    probation_vouches: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeiling {
    median_multiple_bps: i64,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default)]
    observes: Vec<String>,
    #[serde(default)]
    authenticates_confirmers: bool,
    #[serde(default)]
    pubkey: Option<String>,
    #[serde(default)]
    forum: Option<RawForum>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForum {
    #[serde(default)]
    topic: Option<RawForumMap>,
    #[serde(default)]
    reply: Option<RawForumMap>,
    #[serde(default)]
    solution: Option<RawForumMap>,
    #[serde(default)]
    likes_confirm: bool,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForumMap {
    kind: String,
    #[serde(default)]
    categories: Vec<i64>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    evidence: Evidence,
    weight: i64,
    #[serde(default)]
    confirmations_required: i64,
    #[serde(default)]
    claimed_bps: i64,
    daily_cap: i64,
    weekly_cap: i64,
    monthly_cap: i64,
    cooldown_secs: i64,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Validates `[sources.<name>.forum]`: each mapped kind is observed by this source or is a
/// confirmed kind (its activity then counts only with confirmations); categories are ids >= 1.
fn forum_rule(
    name: &str,
    f: RawForum,
    kinds: &BTreeMap<String, KindRuleV2>,
    observes: &[String],
    authenticates_confirmers: bool,
) -> Result<ForumRule, RulesError> {
    let map = |what: &str, m: Option<RawForumMap>| -> Result<Option<ForumMap>, RulesError> {
        let Some(m) = m else { return Ok(None) };
        let field = format!("sources.{name}.forum.{what}");
        match kinds.get(&m.kind).map(|k| k.evidence) {
            Some(Evidence::Observed) if observes.contains(&m.kind) => {}
            Some(Evidence::Confirmed) => {}
            _ => {
                return Err(invalid(
                    format!("{field}.kind"),
                    format!(
                        "{:?} must be a kind this source observes or a confirmed kind",
                        m.kind
                    ),
                ))
            }
        }
        if m.categories.len() > MAX_FORUM_CATEGORIES {
            return Err(invalid(
                format!("{field}.categories"),
                format!("at most {MAX_FORUM_CATEGORIES} category ids"),
            ));
        }
        let mut categories = Vec::with_capacity(m.categories.len());
        for (i, &c) in m.categories.iter().enumerate() {
            categories.push(range(&format!("{field}.categories[{i}]"), c, 1, i64::MAX)?);
        }
        categories.sort_unstable();
        categories.dedup();
        Ok(Some(ForumMap {
            kind: m.kind,
            categories,
        }))
    };
    let rule = ForumRule {
        topic: map("topic", f.topic)?,
        reply: map("reply", f.reply)?,
        solution: map("solution", f.solution)?,
        likes_confirm: f.likes_confirm,
    };
    if rule.likes_confirm && !authenticates_confirmers {
        return Err(invalid(
            format!("sources.{name}.forum.likes_confirm"),
            "likes are confirmations posted by the source: set authenticates_confirmers = true",
        ));
    }
    Ok(rule)
}

impl RulesV2 {
    /// Parses and validates a v2 rules file (`format = 2`). Unknown keys, missing keys and
    /// out-of-range values are errors naming the field.
    pub fn from_toml(s: &str) -> Result<RulesV2, RulesError> {
        let raw: Raw = toml::from_str(s).map_err(|e| RulesError::Parse(e.to_string()))?;
        let format = range32("format", raw.format, 2, 2)?;
        let version = range32("version", raw.version, 1, i64::from(u32::MAX))?;
        let min_score = range("min_score", raw.min_score, 0, MAX_POINTS)?;
        let calendar = Calendar {
            ingest_window_secs: range(
                "calendar.ingest_window_secs",
                raw.calendar.ingest_window_secs,
                0,
                MAX_WINDOW_SECS,
            )?,
            max_clock_skew_secs: range(
                "calendar.max_clock_skew_secs",
                raw.calendar.max_clock_skew_secs,
                0,
                MAX_WINDOW_SECS,
            )?,
        };
        let diminishing = DiminishingV2 {
            decay_bps: range("diminishing.decay_bps", raw.diminishing.decay_bps, 1, BPS_I)?,
            floor_bps: range("diminishing.floor_bps", raw.diminishing.floor_bps, 0, BPS_I)?,
        };
        let mut curve = Vec::with_capacity(raw.tenure.curve.len());
        for (i, &(e, b)) in raw.tenure.curve.iter().enumerate() {
            curve.push((
                range32(&format!("tenure.curve[{i}].epochs"), e, 0, 100_000)?,
                range(&format!("tenure.curve[{i}].bps"), b, 1, MAX_MULTIPLIER_BPS)?,
            ));
        }
        if curve.first().is_none_or(|k| k.0 != 0) || curve.len() > 64 {
            return Err(invalid(
                "tenure.curve",
                "1..=64 knots [epochs, bps] are required, the first at 0 epochs",
            ));
        }
        for w in curve.windows(2) {
            if w[1].0 <= w[0].0 || w[1].1 < w[0].1 {
                return Err(invalid(
                    "tenure.curve",
                    "epochs must increase and bps must not decrease",
                ));
            }
        }
        for w in curve.windows(3) {
            // slope(w0,w1) >= slope(w1,w2), cross-multiplied in u128.
            let (d1, r1) = (u128::from(w[1].0 - w[0].0), u128::from(w[1].1 - w[0].1));
            let (d2, r2) = (u128::from(w[2].0 - w[1].0), u128::from(w[2].1 - w[1].1));
            if r1 * d2 < r2 * d1 {
                return Err(invalid(
                    "tenure.curve",
                    "must be concave (slopes non-increasing)",
                ));
            }
        }
        let tenure = Tenure {
            curve,
            min_active_days: range32("tenure.min_active_days", raw.tenure.min_active_days, 0, 366)?,
        };
        let mut seeds = raw.trust.seeds;
        seeds.sort();
        seeds.dedup();
        if seeds.is_empty() || seeds.len() > MAX_SEEDS {
            return Err(invalid(
                "trust.seeds",
                format!("1..={MAX_SEEDS} master member ids are required"),
            ));
        }
        let trust = TrustRule {
            seeds,
            teleport_bps: range("trust.teleport_bps", raw.trust.teleport_bps, 1, BPS_I)?,
            iterations: range32("trust.iterations", raw.trust.iterations, 1, MAX_ITERATIONS)?,
            keep_bps: range("trust.keep_bps", raw.trust.keep_bps, 0, BPS_I)?,
            min_propagator_tenure_epochs: range32(
                "trust.min_propagator_tenure_epochs",
                raw.trust.min_propagator_tenure_epochs,
                0,
                100_000,
            )?,
            min_confirmer_trust: range(
                "trust.min_confirmer_trust",
                raw.trust.min_confirmer_trust,
                0,
                1_000 * TRUST_ONE as i64,
            )?,
            full_pay_trust: range(
                "trust.full_pay_trust",
                raw.trust.full_pay_trust,
                1,
                1_000 * TRUST_ONE as i64,
            )?,
        };
        let confirmations = ConfirmationsV2 {
            budget_per_epoch: range32(
                "confirmations.budget_per_epoch",
                raw.confirmations.budget_per_epoch,
                0,
                100_000,
            )?,
            reciprocal_bps: range(
                "confirmations.reciprocal_bps",
                raw.confirmations.reciprocal_bps,
                0,
                BPS_I,
            )?,
            min_confirmer_tenure_epochs: range32(
                "confirmations.min_confirmer_tenure_epochs",
                raw.confirmations.min_confirmer_tenure_epochs,
                0,
                100_000,
            )?,
            max_new_members_per_epoch: range32(
                "confirmations.max_new_members_per_epoch",
                raw.confirmations.max_new_members_per_epoch,
                0,
                100_000,
            )?,
        };
        let eligibility = Eligibility {
            vouches_required: range32(
                "eligibility.vouches_required",
                raw.eligibility.vouches_required,
                0,
                1_000,
            )?,
            min_voucher_tenure_epochs: range32(
                "eligibility.min_voucher_tenure_epochs",
                raw.eligibility.min_voucher_tenure_epochs,
                0,
                100_000,
            )?,
            probation_epochs: range32(
                "eligibility.probation_epochs",
                raw.eligibility.probation_epochs,
                0,
                100_000,
            )?,
            probation_vouches: range32(
                "eligibility.probation_vouches",
                raw.eligibility.probation_vouches,
                0,
                1_000,
            )?,
        };
        let ceiling = Ceiling {
            median_multiple_bps: range(
                "ceiling.median_multiple_bps",
                raw.ceiling.median_multiple_bps,
                BPS_I,
                1_000 * BPS_I,
            )?,
        };

        if raw.kinds.is_empty() || raw.kinds.len() > MAX_KINDS {
            return Err(invalid(
                "kinds",
                format!("1..={MAX_KINDS} kinds are required"),
            ));
        }
        let mut kinds = BTreeMap::new();
        for (name, k) in raw.kinds {
            if !valid_name(&name) || name.contains('-') {
                return Err(invalid(
                    format!("kinds.{name}"),
                    "kind names must be 1..=64 characters of [a-z0-9_]",
                ));
            }
            let f = |key: &str| format!("kinds.{name}.{key}");
            let rule = KindRuleV2 {
                evidence: k.evidence,
                weight: range(&f("weight"), k.weight, 1, MAX_POINTS)?,
                confirmations_required: match k.evidence {
                    Evidence::Confirmed => range32(
                        &f("confirmations_required"),
                        k.confirmations_required,
                        1,
                        100,
                    )?,
                    _ => range32(&f("confirmations_required"), k.confirmations_required, 0, 0)?,
                },
                claimed_bps: match k.evidence {
                    Evidence::Claimed => range(&f("claimed_bps"), k.claimed_bps, 0, BPS_I)?,
                    _ => range(&f("claimed_bps"), k.claimed_bps, 0, 0)?,
                },
                daily_cap: range32(&f("daily_cap"), k.daily_cap, 1, MAX_DAILY_CAP)?,
                weekly_cap: range32(&f("weekly_cap"), k.weekly_cap, 1, 7 * MAX_DAILY_CAP)?,
                monthly_cap: range32(&f("monthly_cap"), k.monthly_cap, 1, 31 * MAX_DAILY_CAP)?,
                cooldown_secs: range(&f("cooldown_secs"), k.cooldown_secs, 0, MAX_COOLDOWN_SECS)?,
            };
            if rule.weekly_cap < rule.daily_cap {
                return Err(invalid(f("weekly_cap"), "must be >= daily_cap"));
            }
            if rule.monthly_cap < rule.weekly_cap {
                return Err(invalid(f("monthly_cap"), "must be >= weekly_cap"));
            }
            kinds.insert(name, rule);
        }
        let mut sources = BTreeMap::new();
        for (name, s) in raw.sources {
            if !valid_name(&name) {
                return Err(invalid(
                    format!("sources.{name}"),
                    "source ids must be 1..=64 characters of [a-z0-9_-]",
                ));
            }
            let mut observes = s.observes;
            observes.sort();
            observes.dedup();
            for k in &observes {
                match kinds.get(k) {
                    Some(KindRuleV2 {
                        evidence: Evidence::Observed,
                        ..
                    }) => {}
                    _ => {
                        return Err(invalid(
                            format!("sources.{name}.observes"),
                            format!("{k:?} is not an observed kind"),
                        ))
                    }
                }
            }
            if let Some(k) = &s.pubkey {
                let ok = bs58::decode(k).into_vec().is_ok_and(|b| b.len() == 32);
                if !ok {
                    return Err(invalid(
                        format!("sources.{name}.pubkey"),
                        "must be a base58 ed25519 public key (32 bytes)",
                    ));
                }
            }
            let forum =
                match s.forum {
                    None => None,
                    Some(_) if s.pubkey.is_some() => return Err(invalid(
                        format!("sources.{name}.forum"),
                        "a forum source is authenticated by its webhook secret: it cannot also \
                         sign its events (pubkey)",
                    )),
                    Some(f) => Some(forum_rule(
                        &name,
                        f,
                        &kinds,
                        &observes,
                        s.authenticates_confirmers,
                    )?),
                };
            sources.insert(
                name,
                SourceRule {
                    observes,
                    authenticates_confirmers: s.authenticates_confirmers,
                    pubkey: s.pubkey,
                    forum,
                },
            );
        }
        Ok(RulesV2 {
            format,
            version,
            min_score,
            calendar,
            diminishing,
            tenure,
            trust,
            confirmations,
            eligibility,
            ceiling,
            sources,
            kinds,
        })
    }

    /// Compact JSON of the validated values, fields in declaration order, maps sorted by key,
    /// lists sorted and deduplicated, defaults written out.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `rules_hash = sha256("stk-rules-v2" || canonical_bytes)`.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(RULES_V2_DOMAIN);
        h.update(self.canonical_bytes());
        h.finalize().into()
    }

    pub fn kind(&self, name: &str) -> Option<&KindRuleV2> {
        self.kinds.get(name)
    }

    /// Tenure multiplier (bps) after `tenure_epochs` paid, consistent epochs: linear
    /// interpolation of `tenure.curve` (floor), flat after the last knot. Concave, non-decreasing.
    pub fn tenure_bps(&self, tenure_epochs: u32) -> u64 {
        let c = &self.tenure.curve;
        for w in c.windows(2) {
            let ((e0, b0), (e1, b1)) = (w[0], w[1]);
            if tenure_epochs < e1 {
                let dx = u64::from(tenure_epochs - e0);
                return b0 + (b1 - b0) * dx / u64::from(e1 - e0);
            }
        }
        c.last().map_or(BPS, |k| k.1)
    }

    /// Pay factor (bps) of a member with `trust` (in [`TRUST_ONE`] units).
    pub fn trust_factor_bps(&self, trust: u64) -> u64 {
        let f = u128::from(trust) * u128::from(BPS) / u128::from(self.trust.full_pay_trust);
        f.min(u128::from(BPS)) as u64
    }
}

/// Integer square root (floor), exact for all u128.
pub fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    // Newton from a power of two above the root.
    let bits = 128 - n.leading_zeros();
    let mut x: u128 = 1u128 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = include_str!("../../../rules/rules.v2.toml");
    const V1: &str = include_str!("../../../rules/rules.v1.toml");

    #[test]
    fn isqrt_is_exact() {
        for n in 0u128..10_000 {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
        let big = u128::MAX;
        let r = isqrt(big);
        assert!(r * r <= big && (r + 1).checked_mul(r + 1).is_none_or(|v| v > big));
    }

    #[test]
    fn v2_file_parses_and_v1_is_still_v1() {
        let r = RulesV2::from_toml(V2).unwrap();
        assert_eq!(r.format, 2);
        match RuleSet::from_toml(V2).unwrap() {
            RuleSet::V2(x) => assert_eq!(x, r),
            RuleSet::V1(_) => panic!("v2 file parsed as v1"),
        }
        match RuleSet::from_toml(V1).unwrap() {
            RuleSet::V1(x) => {
                assert_eq!(x, Rules::from_toml(V1).unwrap());
                assert_eq!(
                    hex::encode(x.hash()),
                    "fb894964314890f10142c5811cdbe58d58126b01fede126bc46b4d5d1c3f193c"
                );
            }
            RuleSet::V2(_) => panic!("v1 file parsed as v2"),
        }
        assert!(Rules::from_toml(V2).is_err(), "a v2 file is not a v1 file");
        let bad = V2.replacen("\nformat = 2\n", "\nformat = 3\n", 1);
        assert!(RuleSet::from_toml(&bad).is_err());
    }

    #[test]
    fn v2_hash_is_domain_separated_and_value_sensitive() {
        let a = RulesV2::from_toml(V2).unwrap();
        let mut h = Sha256::new();
        h.update(b"stk-rules-v2");
        h.update(a.canonical_bytes());
        assert_eq!(a.hash(), <[u8; 32]>::from(h.finalize()));
        let b = RulesV2::from_toml(&V2.replacen("iterations = 40", "iterations = 41", 1)).unwrap();
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn v2_rejects_bad_values_naming_the_field() {
        let e = RulesV2::from_toml(&V2.replacen("teleport_bps = ", "teleport_bps = 0 #", 1))
            .unwrap_err();
        assert!(e.to_string().contains("trust.teleport_bps"), "{e}");
        let e = RulesV2::from_toml(&V2.replacen("[calendar]", "[calendar]\nx = 1", 1)).unwrap_err();
        assert!(e.to_string().contains('x'), "{e}");
    }

    #[test]
    fn tenure_curve_is_monotone_concave_and_bounded() {
        let r = RulesV2::from_toml(V2).unwrap();
        let full = r.tenure.curve.last().unwrap().0;
        let mut prev = r.tenure_bps(0);
        assert_eq!(prev, r.tenure.curve[0].1);
        let mut prev_gain = u64::MAX;
        for n in 1..=full + 10 {
            let v = r.tenure_bps(n);
            assert!(v >= prev);
            // Concave up to rounding (1 bps).
            assert!(v - prev <= prev_gain.saturating_add(1), "n={n}");
            prev_gain = v - prev;
            prev = v;
        }
        assert_eq!(r.tenure_bps(full), r.tenure.curve.last().unwrap().1);
        assert_eq!(r.tenure_bps(full + 1000), r.tenure.curve.last().unwrap().1);
        let e = RulesV2::from_toml(&V2.replacen("[104, 16_000]", "[104, 12_000]", 1)).unwrap_err();
        assert!(e.to_string().contains("concave"), "{e}");
    }

    const FORUM: &str = "[sources.discourse.forum]\n\
        topic = { kind = \"practice_session\", categories = [7, 5, 5] }\n\
        reply = { kind = \"help_given\" }\n\
        solution = { kind = \"solution_accepted\", categories = [5] }\n\
        likes_confirm = true\n";

    fn with_forum(forum: &str) -> String {
        V2.replacen("\n# Kinds.", &format!("\n{forum}\n# Kinds."), 1)
    }

    #[test]
    fn forum_mapping_parses_and_only_its_presence_changes_the_hash() {
        let plain = RulesV2::from_toml(V2).unwrap();
        assert!(!String::from_utf8(plain.canonical_bytes())
            .unwrap()
            .contains("forum"));
        let r = RulesV2::from_toml(&with_forum(FORUM)).unwrap();
        let f = r.sources["discourse"].forum.as_ref().unwrap();
        assert_eq!(f.topic.as_ref().unwrap().categories, vec![5, 7]);
        assert!(f.reply.as_ref().unwrap().counts_in(None));
        assert!(f.solution.as_ref().unwrap().counts_in(Some(5)));
        assert!(!f.solution.as_ref().unwrap().counts_in(Some(7)));
        assert!(!f.topic.as_ref().unwrap().counts_in(None));
        assert!(f.likes_confirm);
        assert_ne!(
            plain.hash(),
            r.hash(),
            "the mapping is part of the rules hash"
        );
        let moved = RulesV2::from_toml(&with_forum(&FORUM.replace("[7, 5, 5]", "[7]"))).unwrap();
        assert_ne!(moved.hash(), r.hash());
    }

    #[test]
    fn forum_mapping_is_validated() {
        for (bad, field) in [
            // Observed by another source only / claimed kinds / unknown kinds.
            (
                FORUM.replace("\"help_given\"", "\"self_report\""),
                "forum.reply.kind",
            ),
            (
                FORUM.replace("\"help_given\"", "\"nope\""),
                "forum.reply.kind",
            ),
            (
                FORUM.replace("[7, 5, 5]", "[0]"),
                "forum.topic.categories[0]",
            ),
            (
                FORUM.replace("likes_confirm = true", "likes = true"),
                "likes",
            ),
        ] {
            let e = RulesV2::from_toml(&with_forum(&bad)).unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        let no_auth = with_forum(FORUM).replacen(
            "observes = [\"practice_session\", \"solution_accepted\"]\nauthenticates_confirmers = true",
            "observes = [\"practice_session\", \"solution_accepted\"]\nauthenticates_confirmers = false",
            1,
        );
        let e = RulesV2::from_toml(&no_auth).unwrap_err();
        assert!(e.to_string().contains("likes_confirm"), "{e}");
        let signing = with_forum(FORUM).replacen(
            "authenticates_confirmers = true\n# Optional forum",
            "authenticates_confirmers = true\npubkey = \"11111111111111111111111111111111\"\n# Optional forum",
            1,
        );
        assert_ne!(signing, with_forum(FORUM));
        let e = RulesV2::from_toml(&signing).unwrap_err();
        assert!(e.to_string().contains("sources.discourse.forum"), "{e}");
        // An observed kind the source does not observe.
        let app_only = with_forum(FORUM).replacen(
            "\n[sources.discourse.forum]",
            "\n[sources.app.forum]\ntopic = { kind = \"solution_accepted\" }\n\n[sources.discourse.forum]",
            1,
        );
        let e = RulesV2::from_toml(&app_only).unwrap_err();
        assert!(
            e.to_string().contains("sources.app.forum.topic.kind"),
            "{e}"
        );
    }
}
