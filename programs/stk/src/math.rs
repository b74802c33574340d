//! Pure arithmetic: the windowed mint rate limit and the sale prices. No I/O, host-testable.
use anchor_lang::prelude::*;

use crate::{
    constants::{BPS_DENOMINATOR, STK_UNIT},
    error::StkError,
};

/// A linearly decaying window (Helium circuit-breaker style): what was minted `elapsed` seconds ago
/// still counts for `(window - elapsed) / window` of its amount. A mint is refused when the decayed
/// total plus the new amount would exceed `threshold`.
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq, InitSpace,
)]
pub struct RateWindow {
    pub window_secs: u64,
    pub threshold: u64,
    pub last_value: u64,
    pub last_ts: i64,
}

impl RateWindow {
    /// The amount still counted at `now`. Rounds up: the limiter never forgets more than it should.
    pub fn current(&self, now: i64) -> Result<u64> {
        let elapsed = now.saturating_sub(self.last_ts).max(0) as u64;
        if self.window_secs == 0 || elapsed >= self.window_secs {
            return Ok(0);
        }
        let remaining = self.window_secs - elapsed;
        let scaled = (self.last_value as u128)
            .checked_mul(remaining as u128)
            .ok_or(StkError::MathOverflow)?;
        let window = self.window_secs as u128;
        let value = scaled
            .checked_add(window - 1)
            .ok_or(StkError::MathOverflow)?
            / window;
        u64::try_from(value).map_err(|_| error!(StkError::MathOverflow))
    }

    /// Records `amount` minted at `now`, or refuses it with `RateLimitExceeded`.
    pub fn record(&mut self, now: i64, amount: u64) -> Result<()> {
        let next = self
            .current(now)?
            .checked_add(amount)
            .ok_or(StkError::MathOverflow)?;
        require!(next <= self.threshold, StkError::RateLimitExceeded);
        self.last_value = next;
        self.last_ts = now.max(self.last_ts);
        Ok(())
    }
}

/// Quote paid by the vault for `stk_amount` base units at `price` quote base units per whole STK.
/// Rounds down (in favour of the vault).
pub fn sell_back_quote(stk_amount: u64, price: u64) -> Result<u64> {
    let quote = (stk_amount as u128)
        .checked_mul(price as u128)
        .ok_or(StkError::MathOverflow)?
        / STK_UNIT as u128;
    u64::try_from(quote).map_err(|_| error!(StkError::MathOverflow))
}

/// Quote paid for `stk_amount` base units at `price × premium_bps / 10_000`, rounded up. The
/// program prices premium sales at the floor (`economy::premium_split`); this is the v1 rule (a
/// multiple of an admin-set price) that the simulator keeps for comparison.
pub fn premium_quote(stk_amount: u64, price: u64, premium_bps: u64) -> Result<u64> {
    let numerator = (stk_amount as u128)
        .checked_mul(price as u128)
        .and_then(|v| v.checked_mul(premium_bps as u128))
        .ok_or(StkError::MathOverflow)?;
    let denominator = (STK_UNIT as u128) * (BPS_DENOMINATOR as u128);
    let quote = numerator
        .checked_add(denominator - 1)
        .ok_or(StkError::MathOverflow)?
        / denominator;
    u64::try_from(quote).map_err(|_| error!(StkError::MathOverflow))
}

/// Premium price of one whole STK: `price × premium_bps / 10_000`, rounded up, in `u128` so no
/// multiplier can overflow it. With `price` the floor, the price the premium sale charges.
pub fn premium_price(price: u64, premium_bps: u64) -> u128 {
    let denominator = BPS_DENOMINATOR as u128;
    ((price as u128) * (premium_bps as u128)).div_ceil(denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(threshold: u64) -> RateWindow {
        RateWindow {
            window_secs: 100,
            threshold,
            last_value: 0,
            last_ts: 0,
        }
    }

    #[test]
    fn window_refuses_above_threshold_and_decays_linearly() {
        let mut w = window(1_000);
        w.record(0, 1_000).unwrap();
        assert!(w.record(0, 1).is_err());
        // Half the window later half of it is forgotten.
        assert_eq!(w.current(50).unwrap(), 500);
        w.record(50, 500).unwrap();
        assert!(w.record(50, 1).is_err());
        // A whole window later everything is forgotten.
        assert_eq!(w.current(150).unwrap(), 0);
        w.record(150, 1_000).unwrap();
    }

    #[test]
    fn window_rounds_up_and_ignores_clock_going_back() {
        let mut w = window(u64::MAX);
        w.record(10, 3).unwrap();
        // 3 * 99 / 100 = 2.97 -> 3 (never forgets early)
        assert_eq!(w.current(11).unwrap(), 3);
        assert_eq!(w.current(5).unwrap(), 3);
    }

    #[test]
    fn window_overflow_is_an_error_not_a_panic() {
        let mut w = window(u64::MAX);
        w.record(0, u64::MAX).unwrap();
        assert!(w.record(0, 1).is_err());
    }

    #[test]
    fn prices_round_in_favour_of_vault_and_treasury() {
        // 1.5 base units of quote -> vault pays 1, investor pays 15 at 10x for the same.
        assert_eq!(sell_back_quote(1_500_000, 1).unwrap(), 1);
        assert_eq!(sell_back_quote(1, 1).unwrap(), 0);
        assert_eq!(premium_quote(1, 1, 100_000).unwrap(), 1);
        assert_eq!(premium_quote(1_500_000, 1, 100_000).unwrap(), 15);
        assert_eq!(
            premium_quote(1_000_000, 250_000, 100_000).unwrap(),
            2_500_000
        );
    }

    #[test]
    fn buying_at_the_premium_and_selling_at_the_floor_never_gains() {
        for floor in [1, 3, 7, 250_000, 999_999_999, u64::MAX] {
            for bps in [10_000, 30_000, 1_000_000] {
                for amount in [1, 3, 999_999, 1_000_000, 1_000_001] {
                    if let (Ok(buy), Ok(sell)) = (
                        premium_quote(amount, floor, bps),
                        sell_back_quote(amount, floor),
                    ) {
                        assert!(buy >= sell, "{amount} at {floor}: buy {buy} < sell {sell}");
                    }
                }
            }
        }
        assert_eq!(premium_price(250_000, 100_000), 2_500_000);
        assert_eq!(premium_price(1, 10_001), 2);
    }

    #[test]
    fn prices_overflow_is_an_error() {
        assert!(sell_back_quote(u64::MAX, u64::MAX).is_err());
        assert!(premium_quote(u64::MAX, u64::MAX, 100_000).is_err());
    }
}
