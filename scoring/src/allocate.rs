//! Exact budget split with a deterministic remainder rule.

/// Splits `budget` proportionally to `scores`.
///
/// `amount_i = floor(budget * score_i / total)` with `u128` intermediates; the remainder
/// `budget - sum(amount_i)` (always `< scores.len()`) is then handed out one base unit each to the
/// entries ordered by largest fractional remainder `(budget * score_i) mod total` first, ties by
/// lower index (callers pass scores sorted by member id). The result sums to exactly `budget`
/// whenever some score is positive. If all scores are zero (or `scores` is empty) every amount is 0
/// and nothing is spent.
pub fn split_budget(budget: u64, scores: &[u64]) -> Vec<u64> {
    let total: u128 = scores.iter().map(|&s| u128::from(s)).sum();
    if total == 0 {
        return vec![0; scores.len()];
    }
    let b = u128::from(budget);
    let mut amounts = Vec::with_capacity(scores.len());
    let mut fractions = Vec::with_capacity(scores.len());
    let mut spent: u128 = 0;
    for (i, &s) in scores.iter().enumerate() {
        // budget * score <= (2^64 - 1)^2 < 2^128: cannot overflow.
        let num = b * u128::from(s);
        let amount = num / total;
        spent += amount;
        // amount <= budget because score <= total.
        amounts.push(u64::try_from(amount).unwrap_or(u64::MAX));
        fractions.push((num % total, i));
    }
    // sum(floor(x_i)) > sum(x_i) - n = budget - n, so 0 <= remainder < n.
    let remainder = usize::try_from(b - spent).unwrap_or(usize::MAX);
    fractions.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in fractions.iter().take(remainder) {
        amounts[i] += 1;
    }
    amounts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_with_exact_sum() {
        assert_eq!(split_budget(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(split_budget(100, &[1, 3]), vec![25, 75]);
        assert_eq!(split_budget(10, &[1, 2, 3, 4]), vec![1, 2, 3, 4]);
        // Fractions .5/.5/... : ties go to the lower index.
        assert_eq!(split_budget(3, &[1, 1, 1, 1]), vec![1, 1, 1, 0]);
        // Largest fraction first: 7*2/7=2 exact, 7*5/7... use scores 1,2,4 of 7 with budget 10:
        // exact 1.43, 2.86, 5.71 -> floors 1,2,5 (8), fractions .43 .86 .71 -> +1 to idx1, idx2.
        assert_eq!(split_budget(10, &[1, 2, 4]), vec![1, 3, 6]);
    }

    #[test]
    fn zero_total_spends_nothing() {
        assert_eq!(split_budget(100, &[0, 0]), vec![0, 0]);
        assert_eq!(split_budget(100, &[]), Vec::<u64>::new());
        assert_eq!(split_budget(0, &[5, 7]), vec![0, 0]);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let a = split_budget(u64::MAX, &[u64::MAX, u64::MAX, 1]);
        assert_eq!(
            a.iter().map(|&x| u128::from(x)).sum::<u128>(),
            u128::from(u64::MAX)
        );
        assert_eq!(split_budget(u64::MAX, &[u64::MAX]), vec![u64::MAX]);
    }
}
