//! The command line, end to end on a small world: files written, targets printed, headline lines last.
use std::process::Command;

fn sim(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stk-sim"))
        .args(args)
        .output()
        .expect("stk-sim runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shock_prints_the_three_headline_lines_last() {
    let dir = std::env::temp_dir().join(format!("stk-sim-cli-shock-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let (ok, out, err) = sim(&[
        "shock",
        "--revenue-drop",
        "50",
        "--runs",
        "3",
        "--years",
        "2",
        "--out",
        d,
    ]);
    assert!(ok, "{err}");
    let last: Vec<&str> = out.lines().rev().take(3).collect();
    assert!(last[2].starts_with("floor drop 12w p95: "), "{out}");
    assert!(last[1].starts_with("floor drop 52w p95: "), "{out}");
    assert!(last[0].starts_with("coverage min p5: "), "{out}");
    let cov: f64 = last[0]["coverage min p5: ".len()..].parse().unwrap();
    assert!(cov >= 1.0, "{cov}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_run_writes_report_csv_and_plots() {
    let dir = std::env::temp_dir().join(format!("stk-sim-cli-run-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let (ok, out, err) = sim(&["--runs", "2", "--years", "2", "--seed", "5", "--out", d]);
    assert!(ok, "{err}");
    assert!(
        out.contains("| coverage min, every step of every run | >= 1.00 |"),
        "{out}"
    );
    assert!(!out.contains("NOT met"), "{out}");
    for f in [
        "report.md",
        "bands_v2.csv",
        "bands_v1.csv",
        "runs_v2.csv",
        "runs_v1.csv",
        "floor.svg",
        "coverage.svg",
        "emission.svg",
    ] {
        let body = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(!body.is_empty(), "{f}");
    }
    let bands = std::fs::read_to_string(dir.join("bands_v2.csv")).unwrap();
    // Header plus one line per week.
    assert_eq!(bands.lines().count(), 1 + 104);
    assert!(std::fs::read_to_string(dir.join("floor.svg"))
        .unwrap()
        .starts_with("<svg"));
    // A bad argument is refused with a message and a failure code.
    let (ok, _, err) = sim(&["--sweep", "nonsense=1"]);
    assert!(!ok && err.contains("unknown sweep parameter"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
