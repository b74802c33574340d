//! What people read: the allocation table of a scored epoch and each receipt explained in words
//! (both rules formats).
use std::fmt::Write as _;

use stk_scoring::{AnyReceipt, Receipt, ReceiptV2};

use super::ScoreRun;

/// Formats base units as STK with 6 decimals.
pub fn stk(amount: u64) -> String {
    format!("{}.{:06}", amount / 1_000_000, amount % 1_000_000)
}

/// Formats milli-points as points with 3 decimals.
pub fn points(milli: u64) -> String {
    format!("{}.{:03}", milli / 1_000, milli % 1_000)
}

/// The allocation table of a scored epoch: one row per member with a receipt.
pub fn allocation_table(run: &ScoreRun) -> String {
    let s = &run.score;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "epoch {}  events {}  rules {}  activity {}  budget {} STK  total score {}{}",
        s.epoch(),
        run.events,
        hex::encode(s.rules_hash()),
        hex::encode(s.activity_digest()),
        stk(s.budget()),
        s.total_score(),
        if run.stored {
            ""
        } else {
            "  (dry run: nothing written)"
        }
    );
    let _ = writeln!(
        out,
        "{:<32} {:>8} {:>8} {:>14} {:>20}",
        "member", "counted", "dropped", "score", "amount (STK)"
    );
    let mut total = 0u64;
    let receipts = s.receipts();
    for (member, r) in &receipts {
        let (counted, dropped, score, amount) = match r {
            AnyReceipt::V1(r) => (r.counted.len(), r.dropped.len(), r.score, r.amount),
            AnyReceipt::V2(r) => (r.counted.len(), r.dropped.len(), r.score, r.amount),
        };
        total += amount;
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>8} {:>14} {:>20}",
            member,
            counted,
            dropped,
            points(score),
            stk(amount)
        );
    }
    let _ = writeln!(
        out,
        "{} members, {} allocated, allocated total {} STK",
        receipts.len(),
        s.allocations().len(),
        stk(total)
    );
    out
}

/// A stored receipt of either format explained line by line.
pub fn explain_any(r: &AnyReceipt) -> String {
    match r {
        AnyReceipt::V1(r) => explain(r),
        AnyReceipt::V2(r) => explain_v2(r),
    }
}

/// The "dropped events" section of an explanation: id, kind, reason and the points it would have
/// earned.
fn write_dropped<'a>(
    out: &mut String,
    kind_width: usize,
    dropped: impl ExactSizeIterator<Item = (&'a str, &'a str, &'a dyn std::fmt::Debug, u64)>,
) {
    let _ = writeln!(out, "dropped events ({}):", dropped.len());
    for (id, kind, reason, pts) in dropped {
        let _ = write!(out, "  - {id:<28} {kind:<kind_width$} {reason:?}");
        if pts > 0 {
            let _ = write!(out, " (would have been {} points)", points(pts));
        }
        out.push('\n');
    }
}

/// A receipt explained line by line.
pub fn explain(r: &Receipt) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "member {}  epoch {}  rules version {}",
        r.member, r.epoch, r.rules_version
    );
    let _ = writeln!(out, "counted events ({}):", r.counted.len());
    for c in &r.counted {
        let _ = writeln!(
            out,
            "  + {:<28} {:<16} base {:>9} + confirmations {:>9} ({} counted) x {:>6} bps = {:>9} points",
            c.id,
            c.kind,
            points(c.base_points),
            points(c.confirmation_points),
            c.confirmations_counted,
            c.factor_bps,
            points(c.diminished_points)
        );
    }
    write_dropped(
        &mut out,
        16,
        r.dropped
            .iter()
            .map(|d| (&*d.id, &*d.kind, &d.reason as _, d.points)),
    );
    let _ = writeln!(out, "raw points:              {}", points(r.raw_points));
    let _ = writeln!(
        out,
        "spread multiplier:       {} bps ({} of {} days active)",
        r.spread_multiplier_bps, r.active_days, r.epoch_days
    );
    let _ = writeln!(
        out,
        "consistency multiplier:  {} bps",
        r.consistency_multiplier_bps
    );
    let _ = writeln!(out, "score:                   {}", points(r.score));
    let _ = writeln!(
        out,
        "qualified:               {}",
        if r.qualified {
            "yes"
        } else {
            "no (below the minimum score)"
        }
    );
    let _ = writeln!(out, "amount:                  {} STK", stk(r.amount));
    out
}

/// Basis points as a multiplier, e.g. `1.0300x`.
fn times(bps: u64) -> String {
    format!("{}.{:04}x", bps / 10_000, bps % 10_000)
}

/// Trust in millionths of the median, as a share of the median, e.g. `0.250000`.
fn trust(t: u64) -> String {
    format!("{}.{:06}", t / 1_000_000, t % 1_000_000)
}

/// A rules-v2 receipt explained: evidence, confirmations, trust, eligibility, tenure, caps.
pub fn explain_v2(r: &ReceiptV2) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "member {}  epoch {}  rules format 2, version {}",
        r.member, r.epoch, r.rules_version
    );
    let _ = writeln!(out, "counted events ({}):", r.counted.len());
    for c in &r.counted {
        let _ = write!(
            out,
            "  + {:<28} {:<18} {:<9} base {:>8} x evidence {} x repetition {} = {:>8} points",
            c.id,
            c.kind,
            format!("{:?}", c.evidence).to_lowercase(),
            points(c.base_points),
            times(c.evidence_bps),
            times(c.factor_bps),
            points(c.points)
        );
        if !c.confirmations.is_empty() {
            let _ = write!(out, "  (confirmed by {})", c.confirmations.join(", "));
        }
        out.push('\n');
    }
    write_dropped(
        &mut out,
        18,
        r.dropped
            .iter()
            .map(|d| (&*d.id, &*d.kind, &d.reason as _, d.points)),
    );
    if !r.caps_hit.is_empty() {
        let _ = writeln!(out, "caps hit:");
        for c in &r.caps_hit {
            let _ = writeln!(out, "  {:<18} {:?}: {} events", c.kind, c.reason, c.events);
        }
    }
    for (title, list) in [
        ("confirmations received", &r.confirmations_received),
        ("confirmations given", &r.confirmations_given),
    ] {
        let _ = writeln!(out, "{title} ({}):", list.len());
        for c in list {
            let who = if title.ends_with("received") {
                format!("from {}", c.confirmer)
            } else {
                format!("to {}", c.claimant)
            };
            let _ = write!(
                out,
                "  {:<24} {:<22} {:<18} event {:<24} {:?}",
                c.id, who, c.kind, c.event, c.status
            );
            if c.strength_bps > 0 {
                let _ = write!(out, " (strength {})", times(c.strength_bps));
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "raw points:        {}", points(r.raw_points));
    let _ = writeln!(
        out,
        "active days:       {} of {}",
        r.active_days, r.epoch_days
    );
    let _ = writeln!(
        out,
        "ceiling:           {}{}",
        points(r.capped_points),
        if r.ceiling_hit {
            " (raw points above the epoch's ceiling)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "tenure:            {} epochs before this one -> {}{}",
        r.tenure_epochs,
        times(r.tenure_bps),
        if r.counts_for_tenure {
            "; this epoch counts"
        } else {
            "; this epoch does not count (too few active days or not paid)"
        }
    );
    let _ = writeln!(
        out,
        "trust:             {} of the median (graph {}, carried {}) -> pay factor {}",
        trust(r.trust),
        trust(r.trust_graph),
        trust(r.trust_carried),
        times(r.trust_factor_bps)
    );
    let _ = writeln!(
        out,
        "eligible:          {} (subscription {}, {} vouches counted)",
        if r.eligible { "yes" } else { "no" },
        if r.subscribed { "active" } else { "none" },
        r.vouches_counted
    );
    let _ = writeln!(out, "score:             {}", points(r.score));
    let _ = writeln!(
        out,
        "qualified:         {}",
        if r.qualified {
            "yes"
        } else {
            "no (not eligible, no trust, or below the minimum score)"
        }
    );
    let _ = writeln!(out, "amount:            {} STK", stk(r.amount));
    out
}
