//! Members, revenue, sellers and investors around the [`Economy`]: one seeded run, week by week.
use stk::constants::STK_UNIT;
use stk_scoring::Rules as ScoringRules;

use crate::economy::{ConservationError, EconParams, Economy, Rules};

/// The scoring rules whose kind weights and minimum score turn activity into points.
const RULES_V1: &str = include_str!("../../rules/rules.v1.toml");

/// SplitMix64: small, seeded, reproducible across platforms.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Poisson draw (Knuth), for small means.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let l = (-mean).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// Activity profiles: per-day probabilities (permille) of each kind, in the order practice_session,
/// help_given, review, mentoring, system_built. `STEADY` and `EXTRA` are the honest profiles of the
/// scoring engine's adversarial benchmark (`scoring/examples/adversarial.rs`); `OCCASIONAL` is this
/// simulator's light member.
pub const KINDS: [&str; 5] = [
    "practice_session",
    "help_given",
    "review",
    "mentoring",
    "system_built",
];
pub const STEADY: [u32; 5] = [800, 300, 80, 20, 5];
pub const EXTRA: [u32; 5] = [950, 550, 200, 60, 15];
pub const OCCASIONAL: [u32; 5] = [200, 50, 10, 0, 0];

/// Weekly points of a profile: for each kind the number of active days is Binomial(7, p), drawn by
/// inverse CDF from a table, times the kind's weight in `rules/rules.v1.toml`; below the rules'
/// `min_score` the member scores 0 that week.
#[derive(Clone, Debug)]
pub struct ActivityModel {
    /// `cdf[profile][kind][k]` = P(days <= k).
    cdf: Vec<[[f64; 8]; 5]>,
    weights: [u64; 5],
    min_score: u64,
}

impl ActivityModel {
    pub fn from_rules() -> Self {
        let rules = ScoringRules::from_toml(RULES_V1).expect("rules/rules.v1.toml is valid");
        let weights = KINDS.map(|k| rules.kind(k).map(|r| r.weight).unwrap_or(0));
        let cdf = [STEADY, EXTRA, OCCASIONAL]
            .iter()
            .map(|profile| {
                profile.map(|permille| {
                    let p = permille as f64 / 1000.0;
                    let mut cdf = [0.0; 8];
                    let mut acc = 0.0;
                    for (k, c) in cdf.iter_mut().enumerate() {
                        acc += binom(7, k as u32) * p.powi(k as i32) * (1.0 - p).powi(7 - k as i32);
                        *c = acc;
                    }
                    cdf[7] = 1.0;
                    cdf
                })
            })
            .collect();
        ActivityModel {
            cdf,
            weights,
            min_score: rules.min_score,
        }
    }

    pub fn weekly_points(&self, profile: usize, rng: &mut Rng) -> u64 {
        let mut points = 0;
        for (kind, cdf) in self.cdf[profile].iter().enumerate() {
            let u = rng.unit();
            let days = cdf.iter().position(|&c| u < c).unwrap_or(7) as u64;
            points += days * self.weights[kind];
        }
        if points < self.min_score {
            0
        } else {
            points
        }
    }
}

fn binom(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Behaviour and world parameters around the economy's rules.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub econ: EconParams,
    pub weeks: u32,
    pub initial_members: u32,
    /// Mean joins per week (Poisson).
    pub joins_per_week: f64,
    /// Probability a member leaves in a week; a leaver tenders all their STK in the next windows.
    pub churn_per_week: f64,
    /// Subscription fee per member per week (quote units).
    pub weekly_fee: u64,
    /// Week the revenue shock starts (revenue per member multiplied by `shock_keep` from then on).
    pub shock_week: Option<u32>,
    pub shock_keep: f64,
    /// Probability a holding member tenders in a given window, and the share of holdings tendered.
    pub sell_prob: f64,
    pub sell_share: f64,
    /// Sell probability multiplier when the floor fell more than `panic_drop` over 4 weeks.
    pub panic_factor: f64,
    pub panic_drop: f64,
    /// Probability investors buy in a week when the premium is attractive (the floor rose over
    /// the last 12 weeks), their budget range (quote units), and the probability otherwise.
    pub invest_prob: f64,
    pub invest_prob_unattractive: f64,
    pub invest_budget: (u64, u64),
    /// Probability an active member pays their weekly access in STK rather than fiat.
    pub access_in_stk: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            econ: EconParams::default(),
            weeks: 5 * 52,
            initial_members: 1_000,
            joins_per_week: 6.0,
            churn_per_week: 0.005,
            // 10 quote a month: 10e6 × 12 / 52.
            weekly_fee: 2_307_692,
            shock_week: Some(52),
            shock_keep: 0.5,
            sell_prob: 0.10,
            sell_share: 0.5,
            panic_factor: 4.0,
            panic_drop: 0.05,
            invest_prob: 0.25,
            invest_prob_unattractive: 0.05,
            invest_budget: (500_000_000, 5_000_000_000),
            access_in_stk: 0.10,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Member {
    profile: usize,
    active: bool,
}

/// Figures of one week.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Week {
    pub week: u32,
    pub members: u32,
    pub revenue: u64,
    pub inflow: u64,
    pub vault: u64,
    pub floating: u64,
    /// Backing floor (quote units per STK) at the end of the week.
    pub floor: u64,
    pub exit_price: u64,
    /// Vault / (floating × exit price); `None` while nothing floats.
    pub coverage: Option<f64>,
    pub emission: u64,
    /// Emission valued at the floor before the inflow, over the inflow (0 when nothing minted).
    pub emission_value_ratio: f64,
    pub capacity: u64,
    /// Capacity over the vault inflow of the last 4 weeks and over the vault before the window.
    pub capacity_over_inflow4: f64,
    pub capacity_over_vault: f64,
    pub requested: u64,
    pub filled: u64,
    pub paid_out: u64,
    pub max_fill_deviation: f64,
    pub fill_ratio_spread: f64,
    pub premium_paid: u64,
    pub premium_to_vault: u64,
    pub premium_min_multiple: f64,
    pub access_stk: u64,
    /// STK paid for access valued at the floor, over the fiat price (worst of the week).
    pub access_value_ratio: f64,
    /// Largest STK charged for access beyond `fee × (1 − discount) / price` (STK base units).
    pub access_overcharge: f64,
    /// The epoch's emission valued at the floor before the inflow (quote units).
    pub reward_value: f64,
}

/// One seeded run.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Vec<Week>, ConservationError> {
    let activity = ActivityModel::from_rules();
    let mut rng = Rng::new(seed);
    let mut econ = Economy::new(scenario.econ);
    let mut members: Vec<Member> = Vec::new();
    let draw_profile = |rng: &mut Rng| {
        let u = rng.unit();
        if u < 0.60 {
            0
        } else if u < 0.75 {
            1
        } else {
            2
        }
    };
    for _ in 0..scenario.initial_members {
        members.push(Member {
            profile: draw_profile(&mut rng),
            active: true,
        });
        econ.holders.push(0);
    }
    let mut weeks = Vec::with_capacity(scenario.weeks as usize);
    let mut floors: Vec<u64> = Vec::new();
    let mut inflows: Vec<u64> = Vec::new();
    for week in 0..scenario.weeks {
        let mut w = Week {
            week,
            ..Week::default()
        };
        // 1. Members leave and join. Leavers keep their STK and tender it below.
        for m in members.iter_mut().filter(|m| m.active) {
            if rng.chance(scenario.churn_per_week) {
                m.active = false;
            }
        }
        for _ in 0..rng.poisson(scenario.joins_per_week) {
            members.push(Member {
                profile: draw_profile(&mut rng),
                active: true,
            });
            econ.holders.push(0);
        }
        // 2. Revenue: each active member pays the fee, in fiat or (if they hold enough) in STK.
        let keep = match scenario.shock_week {
            Some(s) if week >= s => scenario.shock_keep,
            _ => 1.0,
        };
        let fee = (scenario.weekly_fee as f64 * keep) as u64;
        let before = econ.backing()?;
        let mut fiat = 0u64;
        for (i, m) in members.iter().enumerate() {
            if !m.active {
                continue;
            }
            if rng.chance(scenario.access_in_stk) {
                if let Some((stk, basis)) = econ.pay_access(i, fee)? {
                    w.access_stk += stk;
                    let value = stk as f64 * basis as f64 / STK_UNIT as f64;
                    w.access_value_ratio = w.access_value_ratio.max(value / fee.max(1) as f64);
                    // Exact overcharge beyond fee × (1 − discount) / price, in STK base units.
                    let keep = 10_000 - scenario.econ.access_discount_bps as u128;
                    let due = fee as u128 * keep * STK_UNIT as u128;
                    let charged = stk as u128 * basis as u128 * 10_000;
                    let over = charged.saturating_sub(due) as f64 / (basis as f64 * 10_000.0);
                    w.access_overcharge = w.access_overcharge.max(over);
                    continue;
                }
            }
            fiat += fee;
        }
        w.revenue = fiat;
        let inflow = econ.revenue(fiat)?;
        // 3. Emission: the epoch's budget split by activity points.
        let budget = econ.emission_budget(before, inflow)?;
        let scores: Vec<u64> = members
            .iter()
            .map(|m| {
                if m.active {
                    activity.weekly_points(m.profile, &mut rng)
                } else {
                    0
                }
            })
            .collect();
        w.emission = econ.emit(budget, &scores)?;
        if w.emission > 0 {
            let value = match (scenario.econ.rules, before.floating, before.vault) {
                (Rules::V2, f, v) if f > 0 && v > 0 => w.emission as f64 * v as f64 / f as f64,
                _ => w.emission as f64 * scenario.econ.genesis_price as f64 / STK_UNIT as f64,
            };
            w.emission_value_ratio = value / inflow.max(1) as f64;
            w.reward_value = value;
        }
        // 4. Investors buy at the premium when the floor has been rising.
        let attractive = floors.len() >= 12 && {
            let f = econ.floor_price()?;
            f >= floors[floors.len() - 12]
        };
        let p = if attractive {
            scenario.invest_prob
        } else {
            scenario.invest_prob_unattractive
        };
        let mut premium_inflow = 0;
        if rng.chance(p) {
            let (lo, hi) = scenario.invest_budget;
            let budget = lo + (rng.unit() * (hi - lo) as f64) as u64;
            if let Some(o) = econ.buy_premium(budget)? {
                w.premium_paid = o.paid;
                w.premium_to_vault = o.to_vault;
                w.premium_min_multiple = o.multiple_of_floor;
                premium_inflow = o.to_vault;
            }
        }
        // 5. The weekly tender window: leavers tender everything, others sometimes a share; panic
        //    when the floor fell over the last 4 weeks.
        let panic = floors.len() >= 4 && {
            let then = floors[floors.len() - 4] as f64;
            then > 0.0 && (econ.floor_price()? as f64) < then * (1.0 - scenario.panic_drop)
        };
        let sell_p = if panic {
            (scenario.sell_prob * scenario.panic_factor).min(1.0)
        } else {
            scenario.sell_prob
        };
        let mut orders: Vec<(usize, u64)> = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let h = econ.holders[i];
            if h == 0 {
                continue;
            }
            if !m.active {
                orders.push((i, h));
            } else if rng.chance(sell_p) {
                let a = (h as f64 * scenario.sell_share) as u64;
                if a > 0 {
                    orders.push((i, a));
                }
            }
        }
        // Arrival order is random (it decides everything under FCFS, nothing pro rata).
        for i in (1..orders.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            orders.swap(i, j);
        }
        let vault_before_window = econ.vault;
        let inflow4: u64 = inflows.iter().rev().take(4).sum();
        let out = econ.window(&orders)?;
        w.capacity = out.capacity;
        w.capacity_over_inflow4 = match (out.capacity, inflow4) {
            (0, _) => 0.0,
            (_, 0) => f64::INFINITY,
            (c, i) => c as f64 / i as f64,
        };
        w.capacity_over_vault = out.capacity as f64 / vault_before_window.max(1) as f64;
        w.requested = out.requested;
        w.filled = out.filled;
        w.paid_out = out.paid;
        w.max_fill_deviation = out.max_fill_deviation;
        w.fill_ratio_spread = out.fill_ratio_spread;
        // The week's inflow (revenue share and premium share) funds the next window.
        let week_inflow = inflow + premium_inflow;
        inflows.push(week_inflow);
        econ.last_inflow = week_inflow;
        w.inflow = week_inflow;
        // 6. Record and check: conservation, and under v2 a floor at least the week's start.
        econ.check()?;
        econ.floor_kept(
            &before,
            "the week (revenue, access, emission, premium, window)",
        )?;
        // Holders who left and sold out are gone for good.
        w.members = members.iter().filter(|m| m.active).count() as u32;
        w.vault = econ.vault;
        w.floating = econ.floating()?;
        w.floor = econ.floor_price()?;
        w.exit_price = econ.exit_price()?;
        w.coverage = econ.coverage()?;
        floors.push(w.floor);
        weeks.push(w);
    }
    Ok(weeks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_matches_profiles_and_rules() {
        let m = ActivityModel::from_rules();
        let mut rng = Rng::new(3);
        let n = 20_000;
        let mean = |p: usize, rng: &mut Rng| {
            (0..n).map(|_| m.weekly_points(p, rng)).sum::<u64>() as f64 / n as f64
        };
        // Steady: 7 days × (0.8 × 1,000 + 0.3 × 2,000 + 0.08 × 3,000 + 0.02 × 5,000 + 0.005 × 10,000)
        // = 7 × 1,790 = 12,530 milli-points a week (almost never below min_score 3,000).
        let steady = mean(0, &mut rng);
        assert!((steady - 12_530.0).abs() < 12_530.0 * 0.02, "{steady}");
        // Occasional: 7 × (200 + 100 + 30) = 2,310 on average, but weeks under 3,000 score 0, so the
        // mean is well below 2,310 and some weeks are 0.
        let occ: Vec<u64> = (0..n).map(|_| m.weekly_points(2, &mut rng)).collect();
        assert!(occ.contains(&0));
        assert!(occ.iter().all(|&p| p == 0 || p >= 3_000));
        let extra = mean(1, &mut rng);
        assert!(extra > steady * 1.3, "{extra} vs {steady}");
    }

    #[test]
    fn poisson_mean() {
        let mut rng = Rng::new(9);
        let n = 20_000;
        let mean = (0..n).map(|_| rng.poisson(6.0)).sum::<u64>() as f64 / n as f64;
        assert!((mean - 6.0).abs() < 0.1, "{mean}");
    }
}
