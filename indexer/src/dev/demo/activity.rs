//! The demo's members and the activity each behaviour profile generates.
use serde_json::json;
use solana_sdk::signature::Keypair;

use super::Profile;

/// Deterministic xorshift64* (the demo's numbers are the same every run).
pub(super) struct Rng(pub(super) u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(super) struct Member {
    pub(super) id: String,
    pub(super) wallet: Keypair,
    pub(super) profile: Profile,
}

/// Activity of one member in one epoch, as API events.
pub(super) fn activity(
    m: &Member,
    epoch: u64,
    start: i64,
    rng: &mut Rng,
    peers: &[String],
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut push = |kind: &str, ts: i64, confirmations: Vec<String>| {
        out.push(json!({
            "id": format!("{}-e{epoch}-{}", m.id, out.len()),
            "member": m.id,
            "kind": kind,
            "occurred_at": crate::wallet::rfc3339(ts),
            "attributes": {"source": "demo"},
            "confirmations": confirmations,
        }));
    };
    const DAY: i64 = 86_400;
    match m.profile {
        Profile::Steady => {
            // Most days: a practice session, and on some days help given (confirmed by a peer).
            for day in 0..7 {
                if rng.below(7) < 5 {
                    let t = start + day * DAY + 8 * 3_600 + rng.below(3_600) as i64;
                    push("practice_session", t, vec![]);
                    if rng.below(3) == 0 {
                        let peer = peers[rng.below(peers.len() as u64) as usize].clone();
                        let peer = if peer == m.id { vec![] } else { vec![peer] };
                        push("help_given", t + 4 * 3_600, peer);
                    }
                }
            }
        }
        Profile::Bursty => {
            // Nothing in most epochs; then a whole week's worth in one afternoon.
            if epoch % 2 == 1 {
                let t = start + 2 * DAY + 14 * 3_600;
                for i in 0..8 {
                    push("practice_session", t + i * 600, vec![]);
                }
                for i in 0..4 {
                    push("help_given", t + 7_200 + i * 600, vec![]);
                }
            }
        }
        Profile::Farmer => {
            // The same easy kind, every hour of the waking day, every day.
            for day in 0..7 {
                for hour in 0..16 {
                    push(
                        "practice_session",
                        start + day * DAY + (6 + hour) * 3_600,
                        vec![],
                    );
                }
            }
        }
    }
    out
}
