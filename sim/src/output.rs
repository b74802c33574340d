//! CSV, SVG plots (written by hand, no plotting crate) and the plain-language report.
use std::fmt::Write as _;

use crate::stats::{MonteCarlo, Target};
use crate::world::Week;

/// Quote units per whole quote token (6 decimals), for display only.
pub const QUOTE_UNIT: f64 = 1_000_000.0;

/// The per-week figures plotted and written to CSV: name and extractor.
pub type Series = (&'static str, fn(&Week) -> f64);

pub const SERIES: [Series; 8] = [
    ("floor", |w| w.floor as f64 / QUOTE_UNIT),
    ("coverage", |w| w.coverage.unwrap_or(f64::NAN)),
    ("vault", |w| w.vault as f64 / QUOTE_UNIT),
    ("floating_stk", |w| w.floating as f64 / 1e6),
    ("emission_stk", |w| w.emission as f64 / 1e6),
    ("revenue", |w| w.revenue as f64 / QUOTE_UNIT),
    ("paid_out", |w| w.paid_out as f64 / QUOTE_UNIT),
    ("members", |w| w.members as f64),
];

/// `week,<series>_p5,<series>_p50,<series>_p95,...` for every series.
pub fn bands_csv(mc: &MonteCarlo) -> String {
    let bands: Vec<Vec<[f64; 3]>> = SERIES.iter().map(|(_, f)| mc.bands(f)).collect();
    let mut s = String::from("week");
    for (name, _) in SERIES {
        let _ = write!(s, ",{name}_p5,{name}_p50,{name}_p95");
    }
    s.push('\n');
    let n = bands.first().map(|b| b.len()).unwrap_or(0);
    for t in 0..n {
        let _ = write!(s, "{t}");
        for b in &bands {
            let _ = write!(s, ",{:.6},{:.6},{:.6}", b[t][0], b[t][1], b[t][2]);
        }
        s.push('\n');
    }
    s
}

/// One line per run with its summary.
pub fn runs_csv(mc: &MonteCarlo) -> String {
    let mut s = String::from(
        "run,min_coverage,drop_12w,drop_52w,max_emission_value_ratio,max_capacity_over_inflow4,\
         max_capacity_over_vault,max_fill_ratio_spread,total_emission_stk,final_floor,final_vault\n",
    );
    for (i, r) in mc.summaries.iter().enumerate() {
        let _ = writeln!(
            s,
            "{i},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.0},{:.6},{:.2}",
            r.min_coverage,
            r.drop_12w,
            r.drop_52w,
            r.max_emission_value_ratio,
            r.max_capacity_over_inflow4,
            r.max_capacity_over_vault,
            r.max_fill_ratio_spread,
            r.total_emission as f64 / 1e6,
            r.final_floor as f64 / QUOTE_UNIT,
            r.final_vault as f64 / QUOTE_UNIT,
        );
    }
    s
}

/// A band plot: for each labelled band, a shaded P5..P95 area and the P50 line; a dashed marker
/// at `marker_week` (the shock) and an optional horizontal reference line.
pub fn svg_bands(
    title: &str,
    bands: &[(&str, &str, Vec<[f64; 3]>)],
    marker_week: Option<u32>,
    reference: Option<f64>,
) -> String {
    let (w, h, l, r, t, b) = (760.0, 380.0, 70.0, 20.0, 40.0, 40.0);
    let n = bands.iter().map(|x| x.2.len()).max().unwrap_or(1).max(2);
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let mut hi = bands
        .iter()
        .flat_map(|x| x.2.iter().filter_map(|p| finite(p[2])))
        .fold(reference.unwrap_or(0.0), f64::max);
    if hi <= 0.0 {
        hi = 1.0;
    }
    hi *= 1.05;
    let x = |i: usize| l + (w - l - r) * i as f64 / (n - 1) as f64;
    let y = |v: f64| t + (h - t - b) * (1.0 - (v.clamp(0.0, hi) / hi));
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{l}\" y=\"24\" font-size=\"15\">{title}</text>\n"
    );
    // Axes and ticks.
    let _ = writeln!(
        s,
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\
         <line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>",
        h - b,
        w - r,
        h - b,
        h - b
    );
    for k in 0..=4 {
        let v = hi * k as f64 / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            l - 6.0,
            y(v) + 4.0,
            fmt_num(v)
        );
    }
    for year in 0..=(n / 52) {
        let i = (year * 52).min(n - 1);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - b + 16.0,
            if year == 0 {
                "week 0".to_string()
            } else {
                format!("year {year}")
            }
        );
    }
    if let Some(m) = marker_week.filter(|&m| (m as usize) < n) {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{t}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"gray\" stroke-dasharray=\"4 4\"/>\
             <text x=\"{2:.1}\" y=\"{3}\" fill=\"gray\">revenue shock</text>",
            x(m as usize),
            h - b,
            x(m as usize) + 4.0,
            t + 12.0
        );
    }
    if let Some(v) = reference {
        let _ = writeln!(
            s,
            "<line x1=\"{l}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"red\" stroke-dasharray=\"2 3\"/>",
            y(v),
            w - r
        );
    }
    for (k, (label, color, band)) in bands.iter().enumerate() {
        let pts = |j: usize| -> Vec<(usize, f64)> {
            band.iter()
                .enumerate()
                .filter_map(|(i, p)| finite(p[j]).map(|v| (i, v)))
                .collect()
        };
        let (lo, mid, up) = (pts(0), pts(1), pts(2));
        let mut poly = String::new();
        for &(i, v) in up.iter().chain(lo.iter().rev()) {
            let _ = write!(poly, "{:.1},{:.1} ", x(i), y(v));
        }
        let _ = writeln!(
            s,
            "<polygon points=\"{poly}\" fill=\"{color}\" fill-opacity=\"0.2\" stroke=\"none\"/>"
        );
        let line: String = mid
            .iter()
            .map(|&(i, v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            s,
            "<polyline points=\"{line}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{label} (P50, band P5-P95)</text>",
            l + 10.0,
            t + 16.0 + 16.0 * (k as f64 + 1.0)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_num(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Formats a target's value: percentages for drops, plain figures otherwise.
pub fn fmt_value(metric: &str, v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if metric.contains("drop") {
        format!("{:.1}%", v * 100.0)
    } else if metric.contains("spread") || metric.contains("base units") {
        format!("{v:.6}")
    } else {
        format!("{v:.4}")
    }
}

pub fn targets_table(targets: &[Target]) -> String {
    let mut s = String::from(
        "| metric | target | v2 | met | v1 (counter-scenario) |\n|---|---|---|---|---|\n",
    );
    for t in targets {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            t.metric,
            t.target,
            fmt_value(&t.metric, t.value),
            if t.met { "met" } else { "NOT met" },
            t.v1.map(|v| fmt_value(&t.metric, v))
                .unwrap_or_else(|| "-".into())
        );
    }
    s
}
