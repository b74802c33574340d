//! `stk-sim` command line.
//!
//! ```text
//! stk-sim [--years N] [--runs N] [--seed N] [--out DIR] [--revenue-drop PCT] [--shock-week W]
//!         [--sweep PARAM=V1,V2,...]
//! stk-sim shock --revenue-drop PCT [same options]
//! ```
//! The default run simulates v2 and the v1 counter-scenario with the same seeds, writes CSV, SVG and
//! `report.md` under `--out`, and prints the targets table. `--sweep` repeats the v2 Monte Carlo for
//! each value of one parameter (`emission-fraction`, `vault-share`, `spread`, `capacity`,
//! `revenue-drop`, `sell-prob`; bps, except `revenue-drop` in % and `sell-prob` in %) and writes
//! `sweep.csv`. `shock` prints, as its last three lines, `floor drop 12w p95: X%`,
//! `floor drop 52w p95: Y%` and `coverage min p5: Z`.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use stk_sim::output::{bands_csv, runs_csv, svg_bands, targets_table, QUOTE_UNIT};
use stk_sim::{monte_carlo, percentile, targets, MonteCarlo, Rules, Scenario};

struct Args {
    shock_cmd: bool,
    years: u32,
    runs: u32,
    seed: u64,
    out: PathBuf,
    revenue_drop: u32,
    shock_week: u32,
    sweep: Option<(String, Vec<u64>)>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        shock_cmd: false,
        years: 5,
        runs: 200,
        seed: 1,
        out: PathBuf::from("target/sim"),
        revenue_drop: 50,
        shock_week: 52,
        sweep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
        match arg.as_str() {
            "shock" => a.shock_cmd = true,
            "--years" => a.years = num(val("--years")?)? as u32,
            "--runs" => a.runs = num(val("--runs")?)? as u32,
            "--seed" => a.seed = num(val("--seed")?)?,
            "--out" => a.out = PathBuf::from(val("--out")?),
            "--revenue-drop" => a.revenue_drop = num(val("--revenue-drop")?)?.min(100) as u32,
            "--shock-week" => a.shock_week = num(val("--shock-week")?)? as u32,
            "--sweep" => {
                let v = val("--sweep")?;
                let (name, values) = v
                    .split_once('=')
                    .ok_or("--sweep PARAM=V1,V2,... (e.g. emission-fraction=2500,5000,10000)")?;
                let values = values
                    .split(',')
                    .map(|x| num(x.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                a.sweep = Some((name.to_string(), values));
            }
            "-h" | "--help" => {
                return Err(
                    "usage: stk-sim [shock] [--years N] [--runs N] [--seed N] [--out DIR] \
                            [--revenue-drop PCT] [--shock-week W] [--sweep PARAM=V1,V2,...]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if a.runs == 0 || a.years == 0 {
        return Err("--runs and --years must be positive".into());
    }
    Ok(a)
}

fn scenario(a: &Args, rules: Rules) -> Scenario {
    let mut s = Scenario {
        weeks: a.years * 52,
        shock_week: Some(a.shock_week),
        shock_keep: 1.0 - a.revenue_drop as f64 / 100.0,
        ..Scenario::default()
    };
    s.econ.rules = rules;
    s
}

fn apply(s: &mut Scenario, name: &str, v: u64) -> Result<(), String> {
    match name {
        "emission-fraction" => s.econ.emission_fraction_bps = v,
        "vault-share" => s.econ.vault_share_bps = v,
        "spread" => s.econ.spread_bps = v,
        "capacity" => s.econ.capacity_vault_bps = v,
        "revenue-drop" => s.shock_keep = 1.0 - v.min(100) as f64 / 100.0,
        "sell-prob" => s.sell_prob = v.min(100) as f64 / 100.0,
        other => return Err(format!("unknown sweep parameter {other:?}")),
    }
    Ok(())
}

fn write(out: &std::path::Path, name: &str, body: &str) -> Result<(), String> {
    std::fs::write(out.join(name), body).map_err(|e| format!("{}: {e}", out.join(name).display()))
}

fn headline(mc: &MonteCarlo) -> (f64, f64, f64) {
    (
        percentile(&mc.over_runs(&|s| s.drop_12w), 95.0),
        percentile(&mc.over_runs(&|s| s.drop_52w), 95.0),
        percentile(&mc.over_runs(&|s| s.min_coverage), 5.0),
    )
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stk-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<(), String> {
    let a = parse()?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let started = std::time::Instant::now();

    if let Some((name, values)) = &a.sweep {
        let mut csv = format!(
            "{name},drop_12w_p95,drop_52w_p95,coverage_min_p5,final_floor_p50,reward_value_after_shock_p50,emission_stk_after_shock_p50,total_emission_stk_p50\n"
        );
        println!(
            "{name:>18} | drop 12w p95 | drop 52w p95 | coverage min p5 | floor end P50 | rewards after/before shock P50: value, STK"
        );
        for &v in values {
            let mut s = scenario(&a, Rules::V2);
            apply(&mut s, name, v)?;
            let mc = monte_carlo(&s, a.runs, a.seed).map_err(|e| e.to_string())?;
            let (d12, d52, cov) = headline(&mc);
            let floor = percentile(&mc.over_runs(&|r| r.final_floor as f64), 50.0) / QUOTE_UNIT;
            let em = percentile(&mc.over_runs(&|r| r.emission_after_shock_vs_before), 50.0);
            let rv = percentile(
                &mc.over_runs(&|r| r.reward_value_after_shock_vs_before),
                50.0,
            );
            let tot = percentile(&mc.over_runs(&|r| r.total_emission as f64), 50.0) / 1e6;
            println!(
                "{v:>18} | {:>11.1}% | {:>11.1}% | {cov:>15.4} | {floor:>13.5} | {rv:>6.3}, {em:>6.3}",
                d12 * 100.0,
                d52 * 100.0
            );
            let _ = writeln!(
                csv,
                "{v},{d12:.6},{d52:.6},{cov:.6},{floor:.6},{rv:.6},{em:.6},{tot:.0}"
            );
        }
        write(&a.out, "sweep.csv", &csv)?;
        println!("wrote {}", a.out.join("sweep.csv").display());
        return Ok(());
    }

    let v2s = scenario(&a, Rules::V2);
    let v2 = monte_carlo(&v2s, a.runs, a.seed).map_err(|e| e.to_string())?;
    if a.shock_cmd {
        let (d12, d52, cov) = headline(&v2);
        println!(
            "v2, {} runs x {} weeks, revenue -{}% from week {} (seed {}), {:.1}s",
            a.runs,
            v2s.weeks,
            a.revenue_drop,
            a.shock_week,
            a.seed,
            started.elapsed().as_secs_f64()
        );
        println!("floor drop 12w p95: {:.1}%", d12 * 100.0);
        println!("floor drop 52w p95: {:.1}%", d52 * 100.0);
        println!("coverage min p5: {cov:.4}");
        return Ok(());
    }
    let v1 = monte_carlo(&scenario(&a, Rules::V1), a.runs, a.seed).map_err(|e| e.to_string())?;
    let table = targets(&v2, Some(&v1), &v2s.econ);

    write(&a.out, "bands_v2.csv", &bands_csv(&v2))?;
    write(&a.out, "bands_v1.csv", &bands_csv(&v1))?;
    write(&a.out, "runs_v2.csv", &runs_csv(&v2))?;
    write(&a.out, "runs_v1.csv", &runs_csv(&v1))?;
    let floor = |w: &stk_sim::Week| w.floor as f64 / QUOTE_UNIT;
    let coverage = |w: &stk_sim::Week| w.coverage.unwrap_or(f64::NAN);
    let emission = |w: &stk_sim::Week| w.emission as f64 / 1e6;
    let shock = Some(a.shock_week);
    write(
        &a.out,
        "floor.svg",
        &svg_bands(
            "Backing per STK (quote per STK): v2 floor vs v1",
            &[
                ("v2 floor", "#1f77b4", v2.bands(&floor)),
                ("v1 backing", "#d62728", v1.bands(&floor)),
            ],
            shock,
            None,
        ),
    )?;
    write(
        &a.out,
        "coverage.svg",
        &svg_bands(
            "Coverage = vault / (floating STK x promised exit price); red line = 1",
            &[
                ("v2", "#1f77b4", v2.bands(&coverage)),
                ("v1", "#d62728", v1.bands(&coverage)),
            ],
            shock,
            Some(1.0),
        ),
    )?;
    write(
        &a.out,
        "emission.svg",
        &svg_bands(
            "STK minted per weekly epoch",
            &[
                ("v2", "#1f77b4", v2.bands(&emission)),
                ("v1", "#d62728", v1.bands(&emission)),
            ],
            shock,
            None,
        ),
    )?;
    let report = report(&a, &v2s, &v2, &v1, &table);
    write(&a.out, "report.md", &report)?;

    println!(
        "stk-sim: {} runs x {} weeks x (v2, v1), seed {}, revenue -{}% from week {}: {:.1}s",
        a.runs,
        v2s.weeks,
        a.seed,
        a.revenue_drop,
        a.shock_week,
        started.elapsed().as_secs_f64()
    );
    print!("{}", targets_table(&table));
    println!(
        "wrote {}/{{report.md,bands_v2.csv,bands_v1.csv,runs_v2.csv,runs_v1.csv,floor.svg,coverage.svg,emission.svg}}",
        a.out.display()
    );
    let (d12, d52, cov) = headline(&v2);
    println!("floor drop 12w p95: {:.1}%", d12 * 100.0);
    println!("floor drop 52w p95: {:.1}%", d52 * 100.0);
    println!("coverage min p5: {cov:.4}");
    Ok(())
}

fn report(
    a: &Args,
    s: &Scenario,
    v2: &MonteCarlo,
    v1: &MonteCarlo,
    t: &[stk_sim::Target],
) -> String {
    let p50 = |mc: &MonteCarlo, f: &dyn Fn(&stk_sim::RunSummary) -> f64| {
        percentile(&mc.over_runs(f), 50.0)
    };
    let floor_at = |mc: &MonteCarlo, week: usize, q: f64| {
        let v: Vec<f64> = mc
            .runs
            .iter()
            .filter_map(|r| r.get(week))
            .map(|w| w.floor as f64 / QUOTE_UNIT)
            .collect();
        percentile(&v, q)
    };
    let last = s.weeks as usize - 1;
    let before = (a.shock_week as usize).saturating_sub(1).min(last);
    let mut r = String::new();
    let _ = writeln!(r, "# STK economy v2: what the simulator shows\n");
    let _ = writeln!(
        r,
        "{} simulated communities (seed {}), {} years each, weekly steps. {} members at the start, about {} \
         joining and {:.1}% leaving each week; each pays {:.2} a week (10 a month), {:.0}% of it into the \
         buyback vault. In week {} revenue per member falls by {}% and stays there. The same worlds are run \
         under the v2 rules and under today's v1 rules.\n",
        a.runs,
        a.seed,
        a.years,
        s.initial_members,
        s.joins_per_week,
        s.churn_per_week * 100.0,
        s.weekly_fee as f64 / QUOTE_UNIT,
        s.econ.vault_share_bps as f64 / 100.0,
        a.shock_week,
        a.revenue_drop
    );
    let _ = writeln!(r, "## In plain words\n");
    let _ = writeln!(
        r,
        "- **The floor is the vault divided by the STK in circulation.** Under v2 nothing can push it down: \
         new STK is only minted for at most {:.0}% of what the vault received the same week (valued at the \
         floor), investors' purchases put at least the backing of their STK into the vault, and the vault \
         buys STK back at the floor less {:.0}%. Median floor: {:.5} before the shock, {:.5} after {} years \
         (P5 {:.5}).",
        s.econ.emission_fraction_bps as f64 / 100.0,
        s.econ.spread_bps as f64 / 100.0,
        floor_at(v2, before, 50.0),
        floor_at(v2, last, 50.0),
        a.years,
        floor_at(v2, last, 5.0),
    );
    let _ = writeln!(
        r,
        "- **When revenue falls, rewards fall, not the exit price.** In the year after the shock the median \
         community's weekly rewards are worth {:.0}% (at the floor) of what they were worth in the 12 weeks \
         before; counted in STK they are {:.0}% (the floor keeps rising, so each STK is worth more).",
        p50(v2, &|x| x.reward_value_after_shock_vs_before) * 100.0,
        p50(v2, &|x| x.emission_after_shock_vs_before) * 100.0
    );
    let _ = writeln!(
        r,
        "- **Selling is fair.** In every window all orders get the same fill ratio (to one base unit), \
         whenever they were sent. Under v1 the first orders take everything and the last get nothing: the \
         largest gap between two orders of one window was {:.2} (1.00 = one filled in full, one not at all).",
        t.iter()
            .find(|x| x.metric.contains("spread"))
            .and_then(|x| x.v1)
            .unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        r,
        "- **The counter-scenario (v1, SourceCred-like):** 100,000 STK every week whatever the revenue, a \
         buyback price fixed at {:.4}. Its median backing per STK ends at {:.6} and its coverage (what the \
         vault could pay of what it promised) has a median minimum of {:.2}: the promise is not funded.\n",
        s.econ.genesis_price as f64 / QUOTE_UNIT,
        floor_at(v1, last, 50.0),
        p50(v1, &|x| x.min_coverage),
    );
    let _ = writeln!(r, "## Targets (ECONOMY-ANCHORS.md)\n");
    r.push_str(&stk_sim::output::targets_table(t));
    let _ = writeln!(
        r,
        "\nCoverage is the vault over the floating STK valued at the exit price members are promised \
         (v2: the announced window price, floor less the spread; v1: the fixed price).\n\n\
         Plots: `floor.svg`, `coverage.svg`, `emission.svg` (P50 lines, P5-P95 bands). Data: `bands_*.csv` \
         (per week), `runs_*.csv` (per run). Model and simplifications: `sim/README.md`."
    );
    let _ = writeln!(
        r,
        "\n## What this does not show\n\n\
         - The floor here is the vault's backing, not a market price: there is no exchange in the model. A \
           market price can fall below the floor; the floor is what the vault pays.\n\
         - The floor cannot fall under these rules, so the 0% drops are a property of the rules, not luck. \
           In the real world it can still fall if the vault loses money (custody, a bug, a wrong oracle) or \
           if the on-chain program does not enforce the rules; that is the next step (issue 13, on-chain part).\n\
         - Members and investors follow simple rules (see `sim/README.md`); real people may sell more at once \
           (the `sell-prob` sweep shows what that does: it raises the floor for those who stay)."
    );
    r
}
