//! Scoring benchmark: 12,000 members, 1,000,000 events over a 7-day epoch.
//!
//! Run: `cargo run --release -p stk-scoring --example bench_scoring`
//! Input is generated deterministically (xorshift64*, fixed seed), so figures are comparable
//! across runs and machines.

use std::time::Instant;

use stk_scoring::{score_epoch, EpochInput, Event, MemberInput, Rules};

const MEMBERS: usize = 12_000;
const EVENTS: usize = 1_000_000;
const RUNS: usize = 5;
/// Monday 2024-01-01 00:00:00 UTC.
const START: i64 = 1_704_067_200;
const DAYS: i64 = 7;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generate() -> EpochInput {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let kinds = [
        "practice_session",
        "help_given",
        "review",
        "mentoring",
        "system_built",
    ];
    let members: Vec<MemberInput> = (0..MEMBERS)
        .map(|i| MemberInput {
            id: format!("member-{i:05}"),
            active: rng.below(20) != 0, // ~5% inactive
            recent_active_epochs: rng.below(7) as u32,
        })
        .collect();
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            // Skewed activity: a quarter of the members produce most events.
            let m = if rng.below(4) == 0 {
                rng.below(MEMBERS as u64)
            } else {
                rng.below(MEMBERS as u64 / 4)
            } as usize;
            let n_conf = match rng.below(10) {
                0..=5 => 0,
                6..=8 => 1,
                _ => 3,
            };
            let confirmations = (0..n_conf)
                .map(|_| members[rng.below(MEMBERS as u64) as usize].id.clone())
                .collect();
            Event {
                id: format!("evt-{i:07}"),
                member: members[m].id.clone(),
                kind: kinds[rng.below(kinds.len() as u64) as usize].to_owned(),
                // A few events fall just outside the window.
                occurred_at: START - 600 + rng.below((DAYS * 86_400 + 1_200) as u64) as i64,
                confirmations,
            }
        })
        .collect();
    EpochInput {
        epoch: 1,
        starts_at: START,
        ends_at: START + DAYS * 86_400,
        budget: 1_000_000 * 1_000_000, // 1M STK
        members,
        events,
    }
}

/// CPU time (user + system, all threads, including finished ones) this process has used, in ns,
/// from Linux `/proc/self/stat` (clock ticks, USER_HZ = 100). It keeps the figures meaningful
/// while other jobs compete for the cores. `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}

/// Runs `f` and returns its result, wall-clock ms and on-CPU ms (NaN if unavailable).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let c0 = cpu_ns();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64() * 1e3;
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e6,
        _ => f64::NAN,
    };
    (out, wall, cpu)
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[0], ms[ms.len() / 2])
}

fn run(label: &str, rules: &Rules, input: &EpochInput) {
    println!("-- {label}");
    let (mut score_wall, mut score_cpu) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..RUNS {
        let (s, wall, cpu) = timed(|| score_epoch(rules, input).expect("scoring"));
        score_wall.push(wall);
        score_cpu.push(cpu);
        if let Some(prev) = &last {
            assert_eq!(prev, &s, "scoring must be deterministic");
        }
        last = Some(s);
    }
    let s = last.expect("at least one run");

    let (mut log_wall, mut log_cpu, mut dig_wall, mut dig_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut log_len = 0;
    for _ in 0..RUNS {
        let (log, wall, cpu) = timed(|| input.canonical_log());
        log_wall.push(wall);
        log_cpu.push(cpu);
        log_len = log.len();
        drop(log);
        let (d, wall, cpu) = timed(|| input.activity_digest());
        dig_wall.push(wall);
        dig_cpu.push(cpu);
        assert_eq!(d, s.activity_digest);
    }

    let counted: usize = s.receipts.iter().map(|r| r.counted.len()).sum();
    let qualified = s.receipts.iter().filter(|r| r.qualified).count();
    let paid: u64 = s.allocations.iter().map(|a| a.amount).sum();
    println!(
        "events {} members {} receipts {} counted {} qualified {} paid {} of {}",
        input.events.len(),
        input.members.len(),
        s.receipts.len(),
        counted,
        qualified,
        paid,
        s.budget
    );
    println!("activity_digest {}", hex::encode(s.activity_digest));
    let line = |name: &str, wall: Vec<f64>, cpu: Vec<f64>| {
        let (wmin, wmed) = stats(wall);
        let (cmin, cmed) = stats(cpu);
        println!(
            "{name:<28} runs {RUNS}  wall min {wmin:>5.0} ms  median {wmed:>5.0} ms  |  process cpu min {cmin:>5.0} ms  median {cmed:>5.0} ms"
        );
    };
    line("score_epoch (incl. digest)", score_wall, score_cpu);
    line(
        &format!("canonical_log ({:.1} MB)", log_len as f64 / 1e6),
        log_wall,
        log_cpu,
    );
    line("activity_digest (streamed)", dig_wall, dig_cpu);
}

fn main() {
    let rules_toml = include_str!("../../rules/rules.v1.toml");
    let rules = Rules::from_toml(rules_toml).expect("example rules");
    println!(
        "rules v{} rules_hash {}",
        rules.version,
        hex::encode(rules.hash())
    );

    let t = Instant::now();
    let shuffled = generate();
    println!(
        "generated {} members, {} events in {:.0} ms",
        shuffled.members.len(),
        shuffled.events.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    // Worst case: events in random time order, their strings scattered over the heap.
    run("events in random order (worst case)", &rules, &shuffled);
    // What the indexer hands over: the frozen epoch read from the store in (occurred_at, id)
    // order, its strings allocated in that order.
    let store_order = {
        let mut c = shuffled.clone();
        c.canonicalize();
        c.clone()
    };
    drop(shuffled);
    run(
        "events in store order (occurred_at, id)",
        &rules,
        &store_order,
    );
}
