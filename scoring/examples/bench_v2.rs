//! Scale benchmark of `score_epoch_v2` (rules/rules.v2.toml), trust included.
//!
//! Run: `cargo run --release -p stk-scoring --example bench_v2 -- MEMBERS EVENTS CONFIRMATIONS [RUNS]`
//! e.g. `... -- 12000 1000000 100000 5` and `... -- 1000000 10000000 1000000 1`;
//! `... -- trust MEMBERS EDGES` times the personalized PageRank alone.
//! Input is generated deterministically (xorshift64*, fixed seed), in store order
//! (events by `occurred_at`), 7-day epoch, 20 masters from the rules among the members.

use std::time::Instant;

use stk_scoring::{
    personalized_pagerank, score_epoch_v2, Auth, Confirmation, EpochInputV2, EventV2, MemberState,
    MemberV2, RulesV2, Vouch,
};

const RULES: &str = include_str!("../../rules/rules.v2.toml");
/// Thursday 2024-01-04.
const START: i64 = 1_704_326_400;
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
        self.next() % n.max(1)
    }
}

fn member_id(i: usize) -> String {
    if i < 20 {
        format!("master-{:02}", i + 1)
    } else {
        format!("m{i:07}")
    }
}

fn generate(members: usize, events: usize, confirmations: usize) -> EpochInputV2 {
    let mut rng = Rng(0x5EED_CAFE_F00D_0002);
    let kinds = [
        "practice_session",
        "practice_session",
        "help_given",
        "review",
        "mentoring",
        "system_built",
        "solution_accepted",
        "self_report",
    ];
    let mut ms: Vec<MemberV2> = (0..members)
        .map(|i| MemberV2 {
            id: member_id(i),
            active: rng.below(20) != 0,
            subscribed: rng.below(10) < 6,
            state: MemberState {
                tenure_epochs: rng.below(200) as u32,
                trust: rng.below(2_000_000),
                carry: vec![],
            },
        })
        .collect();
    ms.sort_by(|a, b| a.id.cmp(&b.id));
    // Skewed activity: a quarter of the members produce most events.
    let pick = |rng: &mut Rng| -> usize {
        if rng.below(4) == 0 {
            rng.below(members as u64) as usize
        } else {
            rng.below((members as u64 / 4).max(1)) as usize
        }
    };
    let mut ev: Vec<EventV2> = (0..events)
        .map(|i| {
            let k = kinds[rng.below(kinds.len() as u64) as usize];
            let at = START - 600 + rng.below((DAYS * 86_400 + 1_200) as u64) as i64;
            EventV2 {
                id: format!("e{i:08}"),
                member: ms[pick(&mut rng)].id.clone(),
                kind: k.to_owned(),
                occurred_at: at,
                received_at: at + rng.below(3_600) as i64,
                source: match k {
                    "practice_session" => "app".to_owned(),
                    "solution_accepted" => "discourse".to_owned(),
                    _ => "member".to_owned(),
                },
            }
        })
        .collect();
    ev.sort_by(|a, b| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
    // Store order: strings allocated in (occurred_at, id) order, as when the indexer reads the frozen
    // epoch with ORDER BY occurred_at, id (see BENCH_RESULTS.md for the v1 layouts).
    let ev: Vec<EventV2> = ev.to_vec();
    let mut conf: Vec<Confirmation> = (0..confirmations)
        .map(|i| {
            let t = &ev[rng.below(ev.len() as u64) as usize];
            Confirmation {
                id: format!("c{i:08}"),
                confirmer: ms[pick(&mut rng)].id.clone(),
                claimant: t.member.clone(),
                kind: t.kind.clone(),
                event: t.id.clone(),
                confirmed_at: (t.occurred_at + 3_600).min(START + DAYS * 86_400 - 1),
                auth: if rng.below(10) == 0 {
                    Auth::Source("discourse".into())
                } else {
                    Auth::Wallet
                },
            }
        })
        .collect();
    conf.sort_by(|a, b| (a.confirmed_at, &a.id).cmp(&(b.confirmed_at, &b.id)));
    let conf: Vec<Confirmation> = conf.to_vec();
    let vouches: Vec<Vouch> = (0..members / 10)
        .map(|_| Vouch {
            voucher: ms[pick(&mut rng)].id.clone(),
            member: ms[rng.below(members as u64) as usize].id.clone(),
            auth: Auth::Wallet,
        })
        .collect();
    EpochInputV2 {
        epoch: 1,
        starts_at: START,
        ends_at: START + DAYS * 86_400,
        budget: 1_000_000 * 1_000_000,
        members: ms,
        events: ev,
        confirmations: conf,
        vouches,
    }
}

fn cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rules = RulesV2::from_toml(RULES).expect("rules v2");
    if args.first().map(String::as_str) == Some("trust") {
        let n: usize = args
            .get(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000);
        let e: usize = args
            .get(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(5_000_000);
        let mut rng = Rng(7);
        let edges: Vec<(u32, u32)> = (0..e)
            .map(|_| (rng.below(n as u64) as u32, rng.below(n as u64) as u32))
            .collect();
        let seeds: Vec<u32> = (0..20).collect();
        let (c0, t0) = (cpu_ms(), Instant::now());
        let m = personalized_pagerank(
            n,
            &seeds,
            &edges,
            rules.trust.teleport_bps,
            rules.trust.iterations,
        );
        let wall = t0.elapsed().as_secs_f64() * 1e3;
        let cpu = cpu_ms().zip(c0).map_or(f64::NAN, |(b, a)| b - a);
        println!(
            "personalized_pagerank: {n} members, {e} edges, {} steps: wall {wall:.0} ms, cpu {cpu:.0} ms, {} members with trust, peak RSS {:.0} MB",
            rules.trust.iterations,
            m.iter().filter(|&&x| x > 0).count(),
            peak_rss_mb().unwrap_or(f64::NAN)
        );
        return;
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(12_000);
    let e: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let c: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(3);
    let t = Instant::now();
    let input = generate(n, e, c);
    println!(
        "generated {n} members, {e} events, {c} confirmations, {} vouches in {:.1} s",
        input.vouches.len(),
        t.elapsed().as_secs_f64()
    );
    {
        let (c0, t0) = (cpu_ms(), Instant::now());
        let d = input.activity_digest();
        println!(
            "activity_digest alone: wall {:.0} ms, cpu {:.0} ms ({})",
            t0.elapsed().as_secs_f64() * 1e3,
            cpu_ms().zip(c0).map_or(f64::NAN, |(b, a)| b - a),
            &hex::encode(d)[..8]
        );
    }
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut first = None;
    for _ in 0..runs {
        let (c0, t0) = (cpu_ms(), Instant::now());
        let s = score_epoch_v2(&rules, &input).expect("scoring");
        walls.push(t0.elapsed().as_secs_f64() * 1e3);
        cpus.push(cpu_ms().zip(c0).map_or(f64::NAN, |(b, a)| b - a));
        let summary = (
            s.receipts.len(),
            s.receipts.iter().map(|r| r.counted.len()).sum::<usize>(),
            s.receipts.iter().filter(|r| r.qualified).count(),
            s.allocations.iter().map(|a| a.amount).sum::<u64>(),
            hex::encode(s.activity_digest),
        );
        if let Some(f) = &first {
            assert_eq!(f, &summary, "results differ between runs");
        } else {
            println!(
                "receipts {}, counted events {}, paid members {}, paid {} of {}, digest {}",
                summary.0, summary.1, summary.2, summary.3, input.budget, summary.4
            );
            first = Some(summary);
        }
        drop(s);
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    println!(
        "score_epoch_v2 (trust + digest + receipts): wall min {:.0} ms / median {:.0} ms, cpu min {:.0} ms, runs {runs}, peak RSS {:.0} MB",
        walls[0],
        walls[walls.len() / 2],
        cpus[0],
        peak_rss_mb().unwrap_or(f64::NAN)
    );
}
