//! Seeded Monte Carlo, percentile bands and the targets of ECONOMY-ANCHORS.md.
use crate::economy::ConservationError;
use crate::world::{run, Scenario, Week};

/// Nearest-rank percentile (`p` in 0..=100) of `values` (sorted here); `NaN` if empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Seed of run `i` of a Monte Carlo seeded `seed`: distinct, reproducible streams.
pub fn run_seed(seed: u64, i: u32) -> u64 {
    seed.wrapping_mul(0x0001_0000_0000_01B3) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What one run says about the targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    pub min_coverage: f64,
    pub drop_12w: f64,
    pub drop_52w: f64,
    pub max_emission_value_ratio: f64,
    pub max_capacity_over_inflow4: f64,
    pub max_capacity_over_vault: f64,
    pub max_fill_deviation: f64,
    pub max_fill_ratio_spread: f64,
    /// Smallest vault share of a premium purchase (NaN if none).
    pub min_premium_vault_share: f64,
    pub min_premium_multiple: f64,
    pub max_access_value_ratio: f64,
    pub max_access_overcharge: f64,
    pub total_emission: u64,
    /// Mean weekly reward value (emission at the floor) in the 52 weeks after the shock over the
    /// 12 weeks before.
    pub reward_value_after_shock_vs_before: f64,
    pub emission_after_shock_vs_before: f64,
    pub final_floor: u64,
    pub final_vault: u64,
    pub final_floating: u64,
}

/// Largest fall of the floor within `n` weeks after the shock, relative to the floor of the week
/// before it (0 if it never falls).
pub fn drawdown(weeks: &[Week], shock: u32, n: u32) -> f64 {
    let s = shock as usize;
    if s == 0 || s >= weeks.len() {
        return 0.0;
    }
    let base = weeks[s - 1].floor as f64;
    if base <= 0.0 {
        return 0.0;
    }
    let end = (s + n as usize).min(weeks.len());
    let low = weeks[s..end]
        .iter()
        .map(|w| w.floor as f64)
        .fold(f64::INFINITY, f64::min);
    (1.0 - low / base).max(0.0)
}

pub fn summarize(weeks: &[Week], shock: u32) -> RunSummary {
    let max = |f: &dyn Fn(&Week) -> f64| weeks.iter().map(f).fold(0.0, f64::max);
    let premium: Vec<&Week> = weeks.iter().filter(|w| w.premium_paid > 0).collect();
    let mean = |ws: &[Week], f: &dyn Fn(&Week) -> f64| {
        if ws.is_empty() {
            0.0
        } else {
            ws.iter().map(f).sum::<f64>() / ws.len() as f64
        }
    };
    let mean_emission = |ws: &[Week]| mean(ws, &|w| w.emission as f64);
    let s = (shock as usize).min(weeks.len());
    let pre = &weeks[s.saturating_sub(12)..s];
    let post = &weeks[s..(s + 52).min(weeks.len())];
    let last = weeks.last().cloned().unwrap_or_default();
    RunSummary {
        min_coverage: weeks
            .iter()
            .filter_map(|w| w.coverage)
            .fold(f64::INFINITY, f64::min),
        drop_12w: drawdown(weeks, shock, 12),
        drop_52w: drawdown(weeks, shock, 52),
        max_emission_value_ratio: max(&|w| w.emission_value_ratio),
        max_capacity_over_inflow4: max(&|w| w.capacity_over_inflow4),
        max_capacity_over_vault: max(&|w| w.capacity_over_vault),
        max_fill_deviation: max(&|w| w.max_fill_deviation),
        max_fill_ratio_spread: max(&|w| w.fill_ratio_spread),
        min_premium_vault_share: premium
            .iter()
            .map(|w| w.premium_to_vault as f64 / w.premium_paid as f64)
            .fold(f64::NAN, f64::min),
        min_premium_multiple: premium
            .iter()
            .map(|w| w.premium_min_multiple)
            .fold(f64::NAN, f64::min),
        max_access_value_ratio: max(&|w| w.access_value_ratio),
        max_access_overcharge: max(&|w| w.access_overcharge),
        reward_value_after_shock_vs_before: if pre.is_empty() || post.is_empty() {
            f64::NAN
        } else {
            mean(post, &|w| w.reward_value) / mean(pre, &|w| w.reward_value).max(1.0)
        },
        total_emission: weeks.iter().map(|w| w.emission).sum(),
        emission_after_shock_vs_before: if pre.is_empty() || post.is_empty() {
            f64::NAN
        } else {
            mean_emission(post) / mean_emission(pre).max(1.0)
        },
        final_floor: last.floor,
        final_vault: last.vault,
        final_floating: last.floating,
    }
}

/// Many seeded runs of one scenario.
pub struct MonteCarlo {
    pub runs: Vec<Vec<Week>>,
    pub summaries: Vec<RunSummary>,
    pub shock: u32,
}

pub fn monte_carlo(
    scenario: &Scenario,
    runs: u32,
    seed: u64,
) -> Result<MonteCarlo, ConservationError> {
    let shock = scenario.shock_week.unwrap_or(52);
    let mut out = MonteCarlo {
        runs: Vec::with_capacity(runs as usize),
        summaries: Vec::with_capacity(runs as usize),
        shock,
    };
    for i in 0..runs {
        let weeks = run(scenario, run_seed(seed, i)).map_err(|e| {
            ConservationError(format!("run {i} (seed {}): {}", run_seed(seed, i), e.0))
        })?;
        out.summaries.push(summarize(&weeks, shock));
        out.runs.push(weeks);
    }
    Ok(out)
}

impl MonteCarlo {
    /// P5, P50, P95 of `f` for every week.
    pub fn bands(&self, f: &dyn Fn(&Week) -> f64) -> Vec<[f64; 3]> {
        let n = self.runs.first().map(|r| r.len()).unwrap_or(0);
        (0..n)
            .map(|t| {
                let v: Vec<f64> = self.runs.iter().map(|r| f(&r[t])).collect();
                [
                    percentile(&v, 5.0),
                    percentile(&v, 50.0),
                    percentile(&v, 95.0),
                ]
            })
            .collect()
    }

    pub fn over_runs(&self, f: &dyn Fn(&RunSummary) -> f64) -> Vec<f64> {
        self.summaries.iter().map(f).collect()
    }
}

/// One line of the targets table.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub metric: String,
    pub target: String,
    pub value: f64,
    pub met: bool,
    /// The same figure under the v1 rules (the SourceCred-like counter-scenario), if measured.
    pub v1: Option<f64>,
}

fn min_of(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(f64::INFINITY, f64::min)
}
fn max_of(v: &[f64]) -> f64 {
    v.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(0.0, f64::max)
}

/// Measures the targets table of ECONOMY-ANCHORS.md on the v2 runs (and the v1 runs beside).
pub fn targets(
    v2: &MonteCarlo,
    v1: Option<&MonteCarlo>,
    p: &crate::economy::EconParams,
) -> Vec<Target> {
    let f1 = |f: &dyn Fn(&MonteCarlo) -> f64| v1.map(f);
    let cov_min = |m: &MonteCarlo| min_of(&m.over_runs(&|s| s.min_coverage));
    let cov_p5 = |m: &MonteCarlo| percentile(&m.over_runs(&|s| s.min_coverage), 5.0);
    let d12 = |m: &MonteCarlo| percentile(&m.over_runs(&|s| s.drop_12w), 95.0);
    let d52 = |m: &MonteCarlo| percentile(&m.over_runs(&|s| s.drop_52w), 95.0);
    let cap4 = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_capacity_over_inflow4));
    let capv = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_capacity_over_vault));
    let dev = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_fill_deviation));
    let spread = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_fill_ratio_spread));
    let emis = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_emission_value_ratio));
    let share = |m: &MonteCarlo| min_of(&m.over_runs(&|s| s.min_premium_vault_share));
    let mult = |m: &MonteCarlo| min_of(&m.over_runs(&|s| s.min_premium_multiple));
    let access = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_access_value_ratio));
    let over = |m: &MonteCarlo| max_of(&m.over_runs(&|s| s.max_access_overcharge));
    let min_share = 10_000.0 / p.premium_multiple_bps as f64;
    let access_cap = 1.0 - p.access_discount_bps as f64 / 10_000.0;
    let t = |metric: &str, target: String, value: f64, met: bool, v1: Option<f64>| Target {
        metric: metric.into(),
        target,
        value,
        met,
        v1,
    };
    vec![
        t(
            "coverage min, every step of every run",
            ">= 1.00".into(),
            cov_min(v2),
            cov_min(v2) >= 1.0,
            f1(&cov_min),
        ),
        t(
            "coverage: P5 over runs of each run's minimum",
            ">= 1.00".into(),
            cov_p5(v2),
            cov_p5(v2) >= 1.0,
            f1(&cov_p5),
        ),
        t(
            "floor drop within 12 wk of the revenue shock, p95",
            "<= 10%".into(),
            d12(v2),
            d12(v2) <= 0.10,
            f1(&d12),
        ),
        t(
            "floor drop within 52 wk of the revenue shock, p95",
            "<= 20%".into(),
            d52(v2),
            d52(v2) <= 0.20,
            f1(&d52),
        ),
        t(
            "window capacity / last-4-wk vault inflow, max",
            "<= 1.00".into(),
            cap4(v2),
            cap4(v2) <= 1.0,
            f1(&cap4),
        ),
        t(
            "window capacity / vault, max",
            "<= 0.25".into(),
            capv(v2),
            capv(v2) <= 0.25,
            f1(&capv),
        ),
        t(
            "fill: distance from the window's ratio, max (STK base units)",
            "<= 1".into(),
            dev(v2),
            dev(v2) <= 1.0,
            None,
        ),
        t(
            "fill: ratio spread between orders of one window, max",
            "<= 0.000002 (submit time irrelevant)".into(),
            spread(v2),
            spread(v2) <= 0.000_002,
            f1(&spread),
        ),
        t(
            "emission valued at floor / same-epoch vault inflow, max",
            "<= 1.00".into(),
            emis(v2),
            emis(v2) <= 1.0,
            f1(&emis),
        ),
        t(
            "premium: share of proceeds to the vault, min",
            format!(">= {min_share:.2} (1/multiple)"),
            share(v2),
            share(v2) >= min_share,
            f1(&share),
        ),
        t(
            "premium: price / floor, min",
            ">= 3.00".into(),
            mult(v2),
            mult(v2) >= 3.0,
            None,
        ),
        t(
            "access in STK: value at floor / fiat price, max",
            format!("<= {access_cap:.2} (1 - discount), plus one base unit"),
            access(v2),
            over(v2) < 1.0 && access(v2) < access_cap + 0.001,
            f1(&access),
        ),
        t(
            "access in STK: charged beyond fiat x (1 - discount) / floor, max (STK base units)",
            "< 1 (rounded up, burned)".into(),
            over(v2),
            over(v2) < 1.0,
            f1(&over),
        ),
    ]
}
