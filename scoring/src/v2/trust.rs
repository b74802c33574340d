//! Deterministic personalized PageRank from a seed set, in integer arithmetic.
//!
//! Mass is a `u64` with a fixed total [`TRUST_MASS`]. Each step, every node with mass `m` sends
//! `floor(m * teleport / BPS)` back to the seeds and splits the rest over its out-edges in
//! proportion to their multiplicity, using per-edge 32-bit fractions precomputed once
//! (`floor(w * 2^32 / W)`, no division in the loop); a node without out-edges sends everything
//! back to the seeds; the rounding dust of every node goes back to the seeds too. The seeds' pool
//! is split equally over the seeds (remainder one unit each to the first seeds in id order).
//! Total mass is conserved exactly; a node reachable from no seed keeps exactly 0.

use crate::BPS;

/// Total trust mass (2^52).
pub const TRUST_MASS: u64 = 1 << 52;

/// Personalized PageRank over `n` nodes. `seeds` are node indices (any order, duplicates
/// ignored); `edges` are `(from, to)` pairs (multiplicity = weight; self-loops ignored).
/// Returns each node's mass (sums to [`TRUST_MASS`] if there is a seed, else all 0).
pub fn personalized_pagerank(
    n: usize,
    seeds: &[u32],
    edges: &[(u32, u32)],
    teleport_bps: u64,
    iterations: u32,
) -> Vec<u64> {
    let mut seeds: Vec<u32> = seeds
        .iter()
        .copied()
        .filter(|&s| (s as usize) < n)
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut mass = vec![0u64; n];
    if seeds.is_empty() {
        return mass;
    }
    // CSR by source with (to, weight), edges sorted by (from, to).
    let mut e: Vec<(u32, u32)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| a != b && (a as usize) < n && (b as usize) < n)
        .collect();
    e.sort_unstable();
    let mut start = vec![0u32; n + 1];
    let mut to: Vec<u32> = Vec::with_capacity(e.len());
    let mut w: Vec<u32> = Vec::with_capacity(e.len());
    for run in e.chunk_by(|a, b| a == b) {
        let (a, b) = run[0];
        start[a as usize + 1] += 1;
        to.push(b);
        w.push(run.len() as u32);
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut frac: Vec<u64> = vec![0; to.len()];
    for u in 0..n {
        let (s, t) = (start[u] as usize, start[u + 1] as usize);
        let total: u64 = w[s..t].iter().map(|&x| u64::from(x)).sum();
        for i in s..t {
            frac[i] = (u64::from(w[i]) << 32) / total;
        }
    }
    drop(w);

    let ns = seeds.len() as u64;
    let give_to_seeds = |m: &mut [u64], pool: u64| {
        let each = pool / ns;
        let rem = (pool % ns) as usize;
        for (i, &s) in seeds.iter().enumerate() {
            m[s as usize] += each + u64::from(i < rem);
        }
    };
    give_to_seeds(&mut mass, TRUST_MASS);
    let mut next = vec![0u64; n];
    for _ in 0..iterations {
        next.fill(0);
        let mut pool: u64 = 0;
        for u in 0..n {
            let m = mass[u];
            if m == 0 {
                continue;
            }
            // m <= 2^52, teleport <= 10^4: fits in u64.
            let tele = m * teleport_bps / BPS;
            let flow = m - tele;
            pool += tele;
            let (s, t) = (start[u] as usize, start[u + 1] as usize);
            if s == t {
                pool += flow;
                continue;
            }
            let mut sent = 0u64;
            for i in s..t {
                let share = ((u128::from(flow) * u128::from(frac[i])) >> 32) as u64;
                next[to[i] as usize] += share;
                sent += share;
            }
            pool += flow - sent;
        }
        give_to_seeds(&mut next, pool);
        std::mem::swap(&mut mass, &mut next);
    }
    mass
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mass_is_conserved_and_unreachable_nodes_get_zero() {
        // 0 is the seed; 0 -> 1 -> 2; 3 <-> 4 is a cluster with no edge from {0,1,2}; 4 -> 1.
        let edges = [(0, 1), (1, 2), (3, 4), (4, 3), (4, 1), (2, 0)];
        let m = personalized_pagerank(5, &[0], &edges, 3_000, 40);
        assert_eq!(m.iter().sum::<u64>(), TRUST_MASS);
        assert_eq!(m[3], 0);
        assert_eq!(m[4], 0);
        assert!(m[1] > 0 && m[2] > 0);
        // Order of edges does not matter.
        let mut rev = edges.to_vec();
        rev.reverse();
        assert_eq!(personalized_pagerank(5, &[0], &rev, 3_000, 40), m);
    }

    #[test]
    fn no_seed_no_trust() {
        let m = personalized_pagerank(3, &[], &[(0, 1)], 3_000, 10);
        assert_eq!(m, vec![0, 0, 0]);
    }
}
