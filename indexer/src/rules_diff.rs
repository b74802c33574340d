//! `stk-indexer rules diff OLD NEW --epoch N`: one epoch scored under two rules files, and who gains
//! and who loses by how much — a governance aid before a rules change. The epoch's stored activity is
//! scored twice with the same code the pipeline uses; nothing is written.
//!
//! Either rules file may be format 1 or 2 (a v1 → v2 migration can be previewed): each is scored on
//! the input of its own format — format 2 with the confirmation records, vouches, event sources,
//! subscriptions and the member state carried into the epoch.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use stk_scoring::{AnyError, AnyScore, RuleSet, RulesError};

use crate::config::Config;
use crate::epoch::{self, EpochError};
use crate::store::Store;

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RulesDiffError {
    #[error("{which} rules: {source}")]
    Rules {
        which: &'static str,
        source: RulesError,
    },
    #[error(transparent)]
    Epoch(#[from] EpochError),
    #[error("scoring: {0}")]
    Scoring(#[from] AnyError),
}

/// One member's amount under both rules (STK base units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub member: String,
    pub old: u64,
    pub new: u64,
}

impl MemberChange {
    pub fn delta(&self) -> i128 {
        i128::from(self.new) - i128::from(self.old)
    }
}

/// The comparison of one epoch under two rules files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesDiff {
    pub epoch: u64,
    pub old_hash: [u8; 32],
    pub new_hash: [u8; 32],
    pub old_total: u64,
    pub new_total: u64,
    /// Every member paid under either rules, largest gain first, then largest loss last (ties by id).
    pub changes: Vec<MemberChange>,
}

impl RulesDiff {
    pub fn gainers(&self) -> impl Iterator<Item = &MemberChange> {
        self.changes.iter().filter(|c| c.delta() > 0)
    }

    pub fn losers(&self) -> impl Iterator<Item = &MemberChange> {
        self.changes.iter().filter(|c| c.delta() < 0)
    }

    /// A table for people: the summary, then the `top` largest gains and losses (all with `None`).
    pub fn render(&self, top: Option<usize>) -> String {
        let mut out = String::new();
        let sum =
            |it: &mut dyn Iterator<Item = &MemberChange>| -> i128 { it.map(|c| c.delta()).sum() };
        let (gained, lost) = (sum(&mut self.gainers()), sum(&mut self.losers()));
        let paid = |f: fn(&MemberChange) -> u64| self.changes.iter().filter(|c| f(c) > 0).count();
        let _ = writeln!(
            out,
            "epoch {}: old rules {} vs new rules {}",
            self.epoch,
            &hex::encode(self.old_hash)[..16],
            &hex::encode(self.new_hash)[..16]
        );
        let _ = writeln!(
            out,
            "paid: {} members / {} STK (old), {} members / {} STK (new)",
            paid(|c| c.old),
            epoch::stk(self.old_total),
            paid(|c| c.new),
            epoch::stk(self.new_total)
        );
        let _ = writeln!(
            out,
            "gain: {} members, +{} STK; lose: {} members, -{} STK; unchanged: {}",
            self.gainers().count(),
            epoch::stk(gained.unsigned_abs() as u64),
            self.losers().count(),
            epoch::stk(lost.unsigned_abs() as u64),
            self.changes.iter().filter(|c| c.delta() == 0).count()
        );
        let rows: Vec<&MemberChange> = match top {
            None => self.changes.iter().filter(|c| c.delta() != 0).collect(),
            Some(k) => {
                let mut rows: Vec<&MemberChange> = self.gainers().take(k).collect();
                let losers: Vec<&MemberChange> = self.losers().collect();
                rows.extend(losers.iter().rev().take(k).rev());
                rows
            }
        };
        if rows.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\n{:<24} {:>18} {:>18} {:>19} {:>9}",
            "member", "old STK", "new STK", "change", "change %"
        );
        for c in rows {
            let d = c.delta();
            let pct = if c.old == 0 {
                "new".to_string()
            } else {
                // Tenths of a percent, rounded toward zero: integer arithmetic only.
                let tenths = d * 1000 / i128::from(c.old);
                format!(
                    "{}{}.{}%",
                    if d < 0 { "-" } else { "+" },
                    (tenths.abs() / 10),
                    tenths.abs() % 10
                )
            };
            let _ = writeln!(
                out,
                "{:<24} {:>18} {:>18} {:>19} {:>9}",
                c.member,
                epoch::stk(c.old),
                epoch::stk(c.new),
                format!(
                    "{}{}",
                    if d < 0 { "-" } else { "+" },
                    epoch::stk(d.unsigned_abs() as u64)
                ),
                pct
            );
        }
        out
    }
}

/// Compares two scores of the same epoch (pure).
pub fn compare(old: &AnyScore, new: &AnyScore) -> RulesDiff {
    let mut by_member: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for a in old.allocations() {
        by_member.entry(&a.member).or_default().0 = a.amount;
    }
    for a in new.allocations() {
        by_member.entry(&a.member).or_default().1 = a.amount;
    }
    let mut changes: Vec<MemberChange> = by_member
        .into_iter()
        .map(|(member, (old, new))| MemberChange {
            member: member.to_string(),
            old,
            new,
        })
        .collect();
    changes.sort_by(|a, b| {
        b.delta()
            .cmp(&a.delta())
            .then_with(|| a.member.cmp(&b.member))
    });
    RulesDiff {
        epoch: old.epoch(),
        old_hash: old.rules_hash(),
        new_hash: new.rules_hash(),
        old_total: old.allocations().iter().map(|a| a.amount).sum(),
        new_total: new.allocations().iter().map(|a| a.amount).sum(),
        changes,
    }
}

fn parse(which: &'static str, text: &str) -> Result<RuleSet, RulesDiffError> {
    RuleSet::from_toml(text).map_err(|source| RulesDiffError::Rules { which, source })
}

/// Scores epoch `n`'s stored activity under both rules texts and compares them.
pub async fn diff(
    store: &Store,
    cfg: &Config,
    old_text: &str,
    new_text: &str,
    n: u64,
) -> Result<RulesDiff, RulesDiffError> {
    let old = parse("old", old_text)?;
    let new = parse("new", new_text)?;
    // Each rules file gets its own input (its format; v1's consistency look-back).
    let old_score = old.score(&epoch::build_input(store, cfg, &old, n).await?)?;
    let new_score = new.score(&epoch::build_input(store, cfg, &new, n).await?)?;
    Ok(compare(&old_score, &new_score))
}
