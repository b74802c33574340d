//! Either format, behind one interface: what the indexer and the oracles use so that an epoch is
//! always scored (and recomputed) by the format of the rules it was scored with.

use crate::input::{EpochInput, LogError, LOG_FORMAT};
use crate::rules::Rules;
use crate::score::{score_epoch, Allocation, EpochScore, Receipt, ScoringError};
use crate::v2::input::{EpochInputV2, LOG_V2_FORMAT};
use crate::v2::rules::{RuleSet, RulesV2};
use crate::v2::score::{score_epoch_v2, EpochScoreV2, MemberStateOut, ReceiptV2};

/// An epoch input of either format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyInput {
    V1(EpochInput),
    V2(EpochInputV2),
}

/// A score of either format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyScore {
    V1(EpochScore),
    V2(EpochScoreV2),
}

/// A receipt of either format.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AnyReceipt {
    V2(Box<ReceiptV2>),
    V1(Receipt),
}

/// Why rules and an input cannot be scored together.
#[derive(Debug, thiserror::Error)]
pub enum AnyError {
    #[error("rules of format {rules} cannot score a log of format {log}")]
    FormatMismatch { rules: u32, log: u32 },
    #[error(transparent)]
    Scoring(#[from] ScoringError),
}

impl RuleSet {
    /// 1 or 2.
    pub fn format(&self) -> u32 {
        match self {
            RuleSet::V1(_) => 1,
            RuleSet::V2(_) => 2,
        }
    }

    /// Whether `kind` is a kind of these rules.
    pub fn has_kind(&self, kind: &str) -> bool {
        match self {
            RuleSet::V1(r) => r.kind(kind).is_some(),
            RuleSet::V2(r) => r.kind(kind).is_some(),
        }
    }

    pub fn v1(&self) -> Option<&Rules> {
        match self {
            RuleSet::V1(r) => Some(r),
            RuleSet::V2(_) => None,
        }
    }

    pub fn v2(&self) -> Option<&RulesV2> {
        match self {
            RuleSet::V2(r) => Some(r),
            RuleSet::V1(_) => None,
        }
    }

    /// Scores `input` with these rules; the formats must match.
    pub fn score(&self, input: &AnyInput) -> Result<AnyScore, AnyError> {
        match (self, input) {
            (RuleSet::V1(r), AnyInput::V1(i)) => Ok(AnyScore::V1(score_epoch(r, i)?)),
            (RuleSet::V2(r), AnyInput::V2(i)) => Ok(AnyScore::V2(score_epoch_v2(r, i)?)),
            _ => Err(AnyError::FormatMismatch {
                rules: self.format(),
                log: input.format(),
            }),
        }
    }
}

impl From<Rules> for RuleSet {
    fn from(r: Rules) -> Self {
        RuleSet::V1(r)
    }
}

impl From<RulesV2> for RuleSet {
    fn from(r: RulesV2) -> Self {
        RuleSet::V2(r)
    }
}

impl AnyInput {
    pub fn format(&self) -> u32 {
        match self {
            AnyInput::V1(_) => 1,
            AnyInput::V2(_) => 2,
        }
    }

    pub fn epoch(&self) -> u64 {
        match self {
            AnyInput::V1(i) => i.epoch,
            AnyInput::V2(i) => i.epoch,
        }
    }

    pub fn event_count(&self) -> usize {
        match self {
            AnyInput::V1(i) => i.events.len(),
            AnyInput::V2(i) => i.events.len(),
        }
    }

    pub fn canonical_log(&self) -> Vec<u8> {
        match self {
            AnyInput::V1(i) => i.canonical_log(),
            AnyInput::V2(i) => i.canonical_log(),
        }
    }

    pub fn activity_digest(&self) -> [u8; 32] {
        match self {
            AnyInput::V1(i) => i.activity_digest(),
            AnyInput::V2(i) => i.activity_digest(),
        }
    }

    /// Parses a canonical log of either format, chosen by the `format` of its header line.
    pub fn from_canonical_log(bytes: &[u8]) -> Result<AnyInput, LogError> {
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            format: &'a str,
        }
        // Only the first line is looked at here; the chosen parser checks everything.
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let format = serde_json::from_slice::<Head>(first)
            .map(|h| h.format.to_owned())
            .unwrap_or_default();
        if format == LOG_V2_FORMAT {
            EpochInputV2::from_canonical_log(bytes).map(AnyInput::V2)
        } else if format == LOG_FORMAT || format.is_empty() {
            EpochInput::from_canonical_log(bytes).map(AnyInput::V1)
        } else {
            Err(LogError::Format(format))
        }
    }
}

impl AnyScore {
    pub fn epoch(&self) -> u64 {
        match self {
            AnyScore::V1(s) => s.epoch,
            AnyScore::V2(s) => s.epoch,
        }
    }

    pub fn rules_hash(&self) -> [u8; 32] {
        match self {
            AnyScore::V1(s) => s.rules_hash,
            AnyScore::V2(s) => s.rules_hash,
        }
    }

    pub fn activity_digest(&self) -> [u8; 32] {
        match self {
            AnyScore::V1(s) => s.activity_digest,
            AnyScore::V2(s) => s.activity_digest,
        }
    }

    pub fn total_score(&self) -> u128 {
        match self {
            AnyScore::V1(s) => s.total_score,
            AnyScore::V2(s) => s.total_score,
        }
    }

    pub fn budget(&self) -> u64 {
        match self {
            AnyScore::V1(s) => s.budget,
            AnyScore::V2(s) => s.budget,
        }
    }

    /// Sorted by member id; only `amount > 0`.
    pub fn allocations(&self) -> &[Allocation] {
        match self {
            AnyScore::V1(s) => &s.allocations,
            AnyScore::V2(s) => &s.allocations,
        }
    }

    /// Each receipt with its member id, sorted by member id.
    pub fn receipts(&self) -> Vec<(&str, AnyReceipt)> {
        match self {
            AnyScore::V1(s) => s
                .receipts
                .iter()
                .map(|r| (r.member.as_str(), AnyReceipt::V1(r.clone())))
                .collect(),
            AnyScore::V2(s) => s
                .receipts
                .iter()
                .map(|r| (r.member.as_str(), AnyReceipt::V2(Box::new(r.clone()))))
                .collect(),
        }
    }

    /// The member states to carry into the next epoch (format 2; empty for format 1).
    pub fn next_states(&self) -> &[MemberStateOut] {
        match self {
            AnyScore::V1(_) => &[],
            AnyScore::V2(s) => &s.next_states,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Event, MemberInput};

    #[test]
    fn logs_of_both_formats_round_trip_and_formats_must_match() {
        let v1 = EpochInput {
            epoch: 3,
            starts_at: 0,
            ends_at: 86_400,
            budget: 1_000,
            members: vec![MemberInput {
                id: "a".into(),
                active: true,
                recent_active_epochs: 0,
            }],
            events: vec![Event {
                id: "e".into(),
                member: "a".into(),
                kind: "practice_session".into(),
                occurred_at: 10,
                confirmations: vec![],
            }],
        };
        let any = AnyInput::V1(v1.clone());
        let parsed = AnyInput::from_canonical_log(&any.canonical_log()).unwrap();
        assert_eq!(parsed, any);
        assert_eq!(parsed.activity_digest(), v1.activity_digest());
        let v2 = EpochInputV2 {
            epoch: 3,
            starts_at: 0,
            ends_at: 86_400,
            budget: 1_000,
            members: vec![],
            events: vec![],
            confirmations: vec![],
            vouches: vec![],
        };
        let any2 = AnyInput::V2(v2);
        assert_eq!(
            AnyInput::from_canonical_log(&any2.canonical_log()).unwrap(),
            any2
        );
        assert!(matches!(
            AnyInput::from_canonical_log(b"{\"format\":\"stk-activity-v9\"}\n"),
            Err(LogError::Format(f)) if f == "stk-activity-v9"
        ));
        let rules = RuleSet::from_toml(include_str!("../../rules/rules.v1.toml")).unwrap();
        assert!(matches!(
            rules.score(&any2),
            Err(AnyError::FormatMismatch { rules: 1, log: 2 })
        ));
        assert_eq!(rules.score(&any).unwrap().epoch(), 3);
    }
}
