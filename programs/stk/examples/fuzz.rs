//! Long runs of the stateful fuzzer (`tests/fuzz/engine.rs`) on the in-process chain:
//!
//! ```text
//! cargo run --release -p stk --example fuzz -- --sequences 20 --steps 500 --seed 1 > /dev/null
//! ```
//!
//! The program's own logs (natively they go to stdout, one line per refusal) can be dropped with
//! `> /dev/null`: the figures go to stderr. Prints sequences, steps, transactions that succeeded / were refused per instruction, invariant checks
//! and the elapsed time; exits 1 with the failing sequence's seed and its last steps if an invariant breaks.
#![allow(deprecated)]

#[path = "../tests/fuzz/engine.rs"]
mod engine;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a number")),
        None => default,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("usage: fuzz [--sequences N] [--steps M] [--seed S]");
        return;
    }
    let config = engine::FuzzConfig {
        sequences: arg(&args, "--sequences", 10),
        steps: arg(&args, "--steps", 300),
        seed: arg(&args, "--seed", 1),
    };
    eprintln!(
        "fuzz: {} sequences x {} steps, seeds {}..{}",
        config.sequences,
        config.steps,
        config.seed,
        config.seed + config.sequences
    );
    match engine::run(config).await {
        Ok(report) => eprint!("{}", report.render()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
