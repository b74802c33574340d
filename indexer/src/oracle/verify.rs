//! Verification, as pure functions over a served log: the rules and the log must hash to what is
//! served, every binding proof must be a challenge the wallet signed, and the allocation recomputed
//! with the same scoring code must match what is served, value for value.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use stk_scoring::{AnyInput, AnyScore, RuleSet};

pub use super::evidence::check_evidence;
use super::wire::{BindingProof, EpochEvidence, EpochLogResponse};
use super::OracleError;
use crate::{
    epoch,
    store::{EpochPlan, EpochState},
    wallet,
};

/// One thing that is not as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    RulesHash {
        served: String,
        computed: String,
    },
    /// The rules text does not parse.
    Rules(String),
    ActivityDigest {
        served: String,
        computed: String,
    },
    /// The log does not parse as a canonical stk-activity-v1 log.
    Log(String),
    EpochNumber {
        served: u64,
        in_log: u64,
    },
    /// The first line where the served log and a reference copy differ (1-based; `None` past the end).
    LogLine {
        line: usize,
        served: Option<String>,
        reference: Option<String>,
    },
    Binding {
        member: String,
        wallet: String,
        problem: String,
    },
    /// A member the log pays has no binding proof.
    MissingBinding {
        member: String,
    },
    Amount {
        member: String,
        served: Option<u64>,
        computed: Option<u64>,
    },
    Total {
        what: &'static str,
        served: Option<u64>,
        computed: Option<u64>,
    },
    Root {
        served: Option<String>,
        computed: Option<String>,
    },
    /// Rules v2: a record of the log is not backed by its evidence (an invented, altered or
    /// omitted event; an unsigned or mis-signed record).
    Evidence(String),
    /// The chain already holds an Epoch account for the computed root with other values.
    OnChain {
        field: &'static str,
        on_chain: String,
        computed: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let amt = |v: &Option<u64>| v.map_or_else(|| "(none)".into(), epoch::stk);
        match self {
            Self::RulesHash { served, computed } => write!(
                f,
                "rules_hash differs: served {served}, the served rules text hashes to {computed}"
            ),
            Self::Rules(e) => write!(f, "rules text does not parse: {e}"),
            Self::Evidence(e) => write!(f, "evidence: {e}"),
            Self::ActivityDigest { served, computed } => write!(
                f,
                "activity_digest differs: served {served}, the served log hashes to {computed}"
            ),
            Self::Log(e) => write!(f, "log is not a canonical activity log: {e}"),
            Self::EpochNumber { served, in_log } => {
                write!(f, "epoch differs: served {served}, the log is for epoch {in_log}")
            }
            Self::LogLine {
                line,
                served,
                reference,
            } => write!(
                f,
                "first differing log line: {line}\n    served:    {}\n    reference: {}",
                opt(served),
                opt(reference)
            ),
            Self::Binding {
                member,
                wallet,
                problem,
            } => write!(f, "binding of {member} to {wallet}: {problem}"),
            Self::MissingBinding { member } => {
                write!(f, "member {member} is paid but has no wallet-binding proof")
            }
            Self::Amount {
                member,
                served,
                computed,
            } => write!(
                f,
                "amount of {member} differs: served {} STK, computed {} STK",
                amt(served),
                amt(computed)
            ),
            Self::Total {
                what,
                served,
                computed,
            } => write!(
                f,
                "{what} differs: served {}, computed {}",
                served.map_or_else(|| "(none)".into(), |v| v.to_string()),
                computed.map_or_else(|| "(none)".into(), |v| v.to_string())
            ),
            Self::Root { served, computed } => write!(
                f,
                "root differs: served {}, computed {}",
                opt(served),
                opt(computed)
            ),
            Self::OnChain {
                field,
                on_chain,
                computed,
            } => write!(
                f,
                "the chain's Epoch account for the computed root has {field} {on_chain}, computed {computed}"
            ),
        }
    }
}

/// Everything that differs; nothing was attested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub epoch: u64,
    pub differences: Vec<Difference>,
}

impl Mismatch {
    pub fn amount_differences(&self) -> Vec<&str> {
        self.differences
            .iter()
            .filter_map(|d| match d {
                Difference::Amount { member, .. } => Some(member.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "epoch {}: NOT attesting, {} difference(s):",
            self.epoch,
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(f, "  - {d}")?;
        }
        Ok(())
    }
}

/// The first line (1-based) where two logs differ, with both lines; `None` when identical.
pub fn first_differing_line(served: &str, reference: &str) -> Option<Difference> {
    let mut a = served.split_inclusive('\n');
    let mut b = reference.split_inclusive('\n');
    let mut line = 0;
    loop {
        line += 1;
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => continue,
            (x, y) => {
                return Some(Difference::LogLine {
                    line,
                    served: x.map(|s| s.trim_end_matches('\n').to_string()),
                    reference: y.map(|s| s.trim_end_matches('\n').to_string()),
                })
            }
        }
    }
}

/// The first differing line of two logs; when that is the header (line 1, which only counts lines),
/// also the first differing line after it, which shows the content that differs.
pub fn differing_lines(served: &str, reference: &str) -> Vec<Difference> {
    let mut out: Vec<Difference> = first_differing_line(served, reference)
        .into_iter()
        .collect();
    if let Some(Difference::LogLine { line: 1, .. }) = out.first() {
        let body = |s: &str| {
            s.split_once('\n')
                .map_or(String::new(), |(_, b)| b.to_string())
        };
        if let Some(Difference::LogLine {
            line,
            served,
            reference,
        }) = first_differing_line(&body(served), &body(reference))
        {
            out.push(Difference::LogLine {
                line: line + 1,
                served,
                reference,
            });
        }
    }
    out
}

/// Why a binding proof does not prove the binding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingProblem {
    #[error("the message is not a SysTok wallet-binding challenge")]
    NotAChallenge,
    #[error("the signed message names another member")]
    OtherMember,
    #[error("the signed message names another wallet")]
    OtherWallet,
    #[error("{0}")]
    Signature(#[from] wallet::WalletError),
    #[error("two proofs for this member (also {0})")]
    Conflicting(String),
}

/// Checks that `message` is a binding challenge naming exactly this member and wallet and that the
/// wallet signed it.
pub fn check_binding(b: &BindingProof) -> Result<(), BindingProblem> {
    let mut lines = b.message.lines();
    if lines.next() != Some("SysTok wallet binding") {
        return Err(BindingProblem::NotAChallenge);
    }
    if lines.next() != Some(format!("member: {}", b.member).as_str()) {
        return Err(BindingProblem::OtherMember);
    }
    if lines.next() != Some(format!("wallet: {}", b.wallet).as_str()) {
        return Err(BindingProblem::OtherWallet);
    }
    Ok(wallet::verify(&b.wallet, &b.message, &b.signature)?)
}

/// What the oracle recomputed from a served log.
#[derive(Debug, Clone)]
pub struct Recomputed {
    pub plan: Option<EpochPlan>,
    /// Paid members and their amounts.
    pub amounts: BTreeMap<String, u64>,
}

/// The rules text parses and hashes to the served `rules_hash`.
pub fn check_rules(source: &EpochLogResponse, diffs: &mut Vec<Difference>) -> Option<RuleSet> {
    let rules = match RuleSet::from_toml(&source.rules_toml) {
        Ok(r) => r,
        Err(e) => {
            diffs.push(Difference::Rules(e.to_string()));
            return None;
        }
    };
    let computed = hex::encode(rules.hash());
    if computed != source.rules_hash {
        diffs.push(Difference::RulesHash {
            served: source.rules_hash.clone(),
            computed,
        });
    }
    Some(rules)
}

/// The log parses, hashes to the served `activity_digest` and is the served epoch's.
pub fn check_log(source: &EpochLogResponse, diffs: &mut Vec<Difference>) -> Option<AnyInput> {
    let input = match AnyInput::from_canonical_log(source.log.as_bytes()) {
        Ok(i) => i,
        Err(e) => {
            diffs.push(Difference::Log(e.to_string()));
            return None;
        }
    };
    let computed = hex::encode(input.activity_digest());
    if computed != source.activity_digest {
        diffs.push(Difference::ActivityDigest {
            served: source.activity_digest.clone(),
            computed,
        });
    }
    if input.epoch() != source.epoch {
        diffs.push(Difference::EpochNumber {
            served: source.epoch,
            in_log: input.epoch(),
        });
    }
    Some(input)
}

/// The verified binding of each member (member → wallet); every bad proof is a difference.
pub fn check_bindings(
    bindings: &[BindingProof],
    diffs: &mut Vec<Difference>,
) -> HashMap<String, String> {
    let mut wallets: HashMap<String, String> = HashMap::new();
    for b in bindings {
        let problem = match check_binding(b) {
            Err(problem) => Some(problem),
            Ok(()) => match wallets.insert(b.member.clone(), b.wallet.clone()) {
                Some(other) if other != b.wallet => Some(BindingProblem::Conflicting(other)),
                _ => None,
            },
        };
        if let Some(problem) = problem {
            diffs.push(Difference::Binding {
                member: b.member.clone(),
                wallet: b.wallet.clone(),
                problem: problem.to_string(),
            });
        }
    }
    wallets
}

/// Paid members without a proof, and every member whose served amount differs from the computed one.
pub fn compare_amounts(
    source: &EpochLogResponse,
    amounts: &BTreeMap<String, u64>,
    wallets: &HashMap<String, String>,
    diffs: &mut Vec<Difference>,
) {
    for member in amounts.keys() {
        if !wallets.contains_key(member) {
            diffs.push(Difference::MissingBinding {
                member: member.clone(),
            });
        }
    }
    if source.allocations.is_empty() {
        return;
    }
    let served: BTreeMap<&str, u64> = source
        .allocations
        .iter()
        .map(|a| (a.member.as_str(), a.amount))
        .collect();
    let members: BTreeSet<&str> = served
        .keys()
        .copied()
        .chain(amounts.keys().map(String::as_str))
        .collect();
    for m in members {
        let (s, c) = (served.get(m).copied(), amounts.get(m).copied());
        if s != c {
            diffs.push(Difference::Amount {
                member: m.to_string(),
                served: s,
                computed: c,
            });
        }
    }
}

/// The plan of the recomputed tree (only members with a verified proof can be paid; with a proof
/// missing there is no tree).
pub fn recompute_plan(
    n: u64,
    score: &AnyScore,
    amounts: &BTreeMap<String, u64>,
    wallets: HashMap<String, String>,
) -> Result<Option<EpochPlan>, OracleError> {
    let known: HashMap<String, String> = wallets
        .into_iter()
        .filter(|(m, _)| amounts.contains_key(m))
        .collect();
    if !amounts.keys().all(|m| known.contains_key(m)) {
        return Ok(None);
    }
    let tree = epoch::allocation_tree(n, score.allocations(), &known).map_err(|e| {
        OracleError::Mismatch(Mismatch {
            epoch: n,
            differences: vec![Difference::Log(format!("allocation tree: {e}"))],
        })
    })?;
    Ok(tree.map(|t| EpochPlan {
        epoch: n,
        state: EpochState::Scored,
        root: hex_to_32(&t.root).expect("allocation_tree returns a hex root"),
        total_amount: amounts.values().sum(),
        chunk_count: t.chunks.len() as u32,
        recipient_count: t.recipients.len() as u32,
        activity_digest: score.activity_digest(),
        rules_hash: score.rules_hash(),
    }))
}

/// The served root and totals against the recomputed plan.
pub fn compare_plan(
    source: &EpochLogResponse,
    plan: Option<&EpochPlan>,
    total: u64,
    diffs: &mut Vec<Difference>,
) {
    let missing_proofs = diffs
        .iter()
        .any(|d| matches!(d, Difference::MissingBinding { .. }));
    let computed_root = plan.map(|p| hex::encode(p.root));
    if !missing_proofs && computed_root != source.root {
        diffs.push(Difference::Root {
            served: source.root.clone(),
            computed: computed_root,
        });
    }
    for (what, served, computed) in [
        ("total_amount", source.total_amount, Some(total)),
        (
            "recipient_count",
            source.recipient_count.map(u64::from),
            plan.map(|p| u64::from(p.recipient_count)),
        ),
        (
            "chunk_count",
            source.chunk_count.map(u64::from),
            plan.map(|p| u64::from(p.chunk_count)),
        ),
    ] {
        if served.is_some() && served != computed && !(what == "total_amount" && plan.is_none()) {
            diffs.push(Difference::Total {
                what,
                served,
                computed,
            });
        }
    }
}

/// Re-checks a served epoch log and recomputes the root. `reference_log`, when given (another copy
/// of the log, e.g. from a mirror), adds the first line where the two differ.
pub fn verify(
    source: &EpochLogResponse,
    reference_log: Option<&str>,
) -> Result<Recomputed, OracleError> {
    let n = source.epoch;
    if !source.state.is_scored() {
        return Err(OracleError::NotScored {
            epoch: n,
            state: source.state,
        });
    }
    let mut diffs = Vec::new();
    if let Some(reference) = reference_log {
        diffs.extend(differing_lines(&source.log, reference));
    }
    let rules = check_rules(source, &mut diffs);
    let input = check_log(source, &mut diffs);
    let wallets = check_bindings(&source.bindings, &mut diffs);
    let (Some(rules), Some(input)) = (rules, input) else {
        return Err(OracleError::Mismatch(Mismatch {
            epoch: n,
            differences: diffs,
        }));
    };
    if let (RuleSet::V2(r2), AnyInput::V2(i2)) = (&rules, &input) {
        let empty = EpochEvidence::default();
        check_evidence(
            r2,
            i2,
            source.evidence.as_ref().unwrap_or(&empty),
            &mut diffs,
        );
    }
    let score = rules.score(&input)?;
    let amounts: BTreeMap<String, u64> = score
        .allocations()
        .iter()
        .filter(|a| a.amount > 0)
        .map(|a| (a.member.clone(), a.amount))
        .collect();
    compare_amounts(source, &amounts, &wallets, &mut diffs);
    let plan = recompute_plan(n, &score, &amounts, wallets)?;
    compare_plan(source, plan.as_ref(), amounts.values().sum(), &mut diffs);
    if !diffs.is_empty() {
        return Err(OracleError::Mismatch(Mismatch {
            epoch: n,
            differences: diffs,
        }));
    }
    Ok(Recomputed { plan, amounts })
}

fn hex_to_32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_that_differs() {
        assert_eq!(first_differing_line("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_differing_line("a\nb\nc\n", "a\nx\nc\n"),
            Some(Difference::LogLine {
                line: 2,
                served: Some("b".into()),
                reference: Some("x".into())
            })
        );
        assert_eq!(
            differing_lines("h1\na\nb\n", "h2\na\nc\n"),
            vec![
                Difference::LogLine {
                    line: 1,
                    served: Some("h1".into()),
                    reference: Some("h2".into())
                },
                Difference::LogLine {
                    line: 3,
                    served: Some("b".into()),
                    reference: Some("c".into())
                }
            ]
        );
        assert_eq!(
            first_differing_line("a\n", "a\nb\n"),
            Some(Difference::LogLine {
                line: 2,
                served: None,
                reference: Some("b".into())
            })
        );
    }
}
