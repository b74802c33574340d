//! Economy v2 rules (issue 13) as pure integer functions: the floor, the buyback price, a window's
//! capacity, the pro-rata tender fill, the emission cap, the premium-sale split and the access-plan
//! price. No I/O, no floats, no allocation, no panics: `u64` money, `u128` intermediates, every
//! operation checked, `None` when a result does not fit or a rule is violated. The on-chain
//! instructions and the `stk-sim` simulator call these very functions.
//!
//! # Units
//! * STK amounts are base units (6 decimals, [`STK_UNIT`] per whole STK).
//! * Quote amounts (the vault's token, e.g. USDC) are base units of the quote mint.
//! * Prices are quote base units per whole STK (as in [`crate::math::sell_back_quote`]): a price
//!   of `10_000` with a 6-decimal quote mint is 0.01 quote per STK. Their precision is one quote base
//!   unit per whole STK. Wherever the exact rational matters (is the floor lower after an operation?)
//!   the functions compare [`Backing`] ratios exactly by cross-multiplication in `u128`.
//!
//! # Floating supply
//! `floating = mint supply − STK held by the program's treasury − STK escrowed in open tender
//! orders`: the STK that members and investors can actually present to the vault. Burned STK has
//! already left the supply. See [`floating_supply`].
//!
//! # Rounding
//! Every rounding favours the vault: what it pays is rounded down, what it receives (or what is
//! burned into it) is rounded up, what may be minted against it is rounded down. Rounding dust stays
//! in the vault.

use crate::constants::{BPS_DENOMINATOR, STK_UNIT};

const BPS: u128 = BPS_DENOMINATOR as u128;
const UNIT: u128 = STK_UNIT as u128;

fn to_u64(v: u128) -> Option<u64> {
    u64::try_from(v).ok()
}

/// `floating = supply − treasury_stk − escrowed_stk`; `None` if the parts exceed the supply (an
/// accounting error, never a value to clamp).
pub fn floating_supply(supply: u64, treasury_stk: u64, escrowed_stk: u64) -> Option<u64> {
    supply.checked_sub(treasury_stk)?.checked_sub(escrowed_stk)
}

/// The vault's backing of the floating STK: the floor is the exact ratio `vault / floating`
/// (quote base units per STK base unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backing {
    /// Quote base units in the buyback vault.
    pub vault: u64,
    /// Floating STK base units ([`floating_supply`]).
    pub floating: u64,
}

impl Backing {
    /// The published floor: quote base units per whole STK, rounded down (so paying at this price
    /// never pays more than the exact backing). `None` while nothing floats (undefined floor).
    pub fn floor_price(&self) -> Option<u64> {
        if self.floating == 0 {
            return None;
        }
        to_u64((self.vault as u128).checked_mul(UNIT)? / self.floating as u128)
    }

    /// Exact comparison of floors: `self.vault / self.floating >= other.vault / other.floating`.
    /// A state with nothing floating has an infinite floor (it owes nothing).
    pub fn floor_at_least(&self, other: &Backing) -> bool {
        match (self.floating, other.floating) {
            (0, _) => true,
            (_, 0) => false,
            // u64 × u64 < 2^128: cannot overflow.
            _ => {
                (self.vault as u128) * (other.floating as u128)
                    >= (other.vault as u128) * (self.floating as u128)
            }
        }
    }

    /// Coverage of the floating STK at a promised `price` (quote per whole STK), in basis points:
    /// `vault / (floating × price)`, rounded down. `None` when nothing is owed (nothing floating or
    /// price 0). At the floor price it is at least 10_000 by construction.
    pub fn coverage_bps(&self, price: u64) -> Option<u64> {
        let owed = (self.floating as u128).checked_mul(price as u128)?;
        if owed == 0 {
            return None;
        }
        let v = (self.vault as u128).checked_mul(UNIT)?.checked_mul(BPS)?;
        to_u64((v / owed).min(u64::MAX as u128))
    }
}

/// The buyback price rule: the floor less `spread_bps` (0 = at the floor), rounded down. `None`
/// if `spread_bps > 10_000`. Selling at this price never lowers the floor.
pub fn buyback_price(floor_price: u64, spread_bps: u64) -> Option<u64> {
    let keep = BPS.checked_sub(spread_bps as u128)?;
    to_u64((floor_price as u128) * keep / BPS)
}

/// Whether an announced window price respects the rule: the admin may lower it (or cancel the
/// window), never raise it above [`buyback_price`].
pub fn window_price_allowed(announced: u64, rule_price: u64) -> bool {
    announced <= rule_price
}

/// A window's capacity in quote base units: `min(last period's vault inflow, vault × max_vault_bps
/// / 10_000)`, rounded down. `None` if `max_vault_bps > 10_000`.
pub fn window_capacity(last_period_inflow: u64, vault: u64, max_vault_bps: u64) -> Option<u64> {
    if max_vault_bps as u128 > BPS {
        return None;
    }
    let share = to_u64((vault as u128) * (max_vault_bps as u128) / BPS)?;
    Some(share.min(last_period_inflow))
}

/// The single fill ratio of a settled tender window, `filled / requested` with
/// `filled = min(requested, capacity in STK)`: every order gets the same ratio, whatever its
/// arrival. Computed once at settlement (O(1)); each claim uses [`Fill::claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// STK base units the window buys in total (numerator of the ratio).
    pub filled: u64,
    /// STK base units requested by all orders (denominator of the ratio).
    pub requested: u64,
    /// The window's price (quote base units per whole STK).
    pub price: u64,
}

/// What one order gets back when it claims after settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// STK bought by the vault (burned).
    pub filled_stk: u64,
    /// Quote paid for it, rounded down (the dust stays in the vault).
    pub quote: u64,
    /// Unfilled STK returned to the member.
    pub returned_stk: u64,
}

/// Settles a window: `capacity_quote` at `price` buys at most `floor(capacity × 10^6 / price)` STK;
/// the fill ratio is `min(1, that / requested)`. `None` for a zero price.
pub fn settle_window(capacity_quote: u64, price: u64, requested: u64) -> Option<Fill> {
    if price == 0 {
        return None;
    }
    let capacity_stk = (capacity_quote as u128).checked_mul(UNIT)? / price as u128;
    let filled = to_u64(capacity_stk.min(requested as u128))?;
    Some(Fill {
        filled,
        requested,
        price,
    })
}

impl Fill {
    /// One order's claim: `filled_stk = floor(amount × filled / requested)`, quote for it rounded
    /// down, the rest of the order back. `None` if `amount > requested` (not an order of this
    /// window).
    pub fn claim(&self, amount: u64) -> Option<Claim> {
        if amount > self.requested {
            return None;
        }
        let filled_stk = if self.requested == 0 {
            0
        } else {
            to_u64((amount as u128) * (self.filled as u128) / self.requested as u128)?
        };
        let quote = to_u64((filled_stk as u128) * (self.price as u128) / UNIT)?;
        Some(Claim {
            filled_stk,
            quote,
            returned_stk: amount - filled_stk,
        })
    }

    /// The most quote all claims together can take: `filled × price / 10^6`, rounded down. The
    /// window's capacity is never below it.
    pub fn max_payout(&self) -> Option<u64> {
        to_u64((self.filled as u128) * (self.price as u128) / UNIT)
    }
}

/// The most STK an epoch may mint so that, valued at the floor, it stays within
/// `fraction_bps / 10_000` of that epoch's vault inflow: `floor(inflow × fraction × floating /
/// (10_000 × vault))` with `before` the backing **before** the inflow. The floor after the inflow
/// and the emission, `(vault + inflow) / (floating + emission)`, is then never below the floor
/// before. While there is no floor yet (nothing floating or an empty vault) the emission is valued at
/// `genesis_price`. `None` if `fraction_bps > 10_000` or a zero genesis price is needed.
pub fn emission_cap(
    before: Backing,
    inflow: u64,
    fraction_bps: u64,
    genesis_price: u64,
) -> Option<u64> {
    if fraction_bps as u128 > BPS {
        return None;
    }
    let budget = (inflow as u128) * (fraction_bps as u128);
    if before.floating == 0 || before.vault == 0 {
        if genesis_price == 0 {
            return None;
        }
        return to_u64(budget.checked_mul(UNIT)? / (BPS * genesis_price as u128));
    }
    // budget < 2^78 and floating < 2^64: the product may exceed u128 only for absurd amounts, which
    // give `None` rather than a wrapped value.
    let num = budget.checked_mul(before.floating as u128)?;
    to_u64((num / (BPS * before.vault as u128)).min(u64::MAX as u128))
}

/// The least inflow whose [`emission_cap`] (against `before`) is at least `emission`: what must be
/// deposited during an epoch for it to mint `emission`. `Some(0)` for no emission; `None` when no
/// inflow can allow it (`fraction_bps` 0 or above 10_000, a zero genesis price while there is no
/// floor) or on overflow.
pub fn inflow_for_emission(
    before: Backing,
    emission: u64,
    fraction_bps: u64,
    genesis_price: u64,
) -> Option<u64> {
    if emission == 0 {
        return Some(0);
    }
    if fraction_bps == 0 || fraction_bps as u128 > BPS {
        return None;
    }
    let f = fraction_bps as u128;
    // cap(I) = floor(I × f × num_scale / den_scale) >= e  <=>  I >= ceil(e × den_scale / (f × num_scale)).
    let inflow = if before.floating == 0 || before.vault == 0 {
        if genesis_price == 0 {
            return None;
        }
        (emission as u128)
            .checked_mul(BPS)?
            .checked_mul(genesis_price as u128)?
            .div_ceil(f * UNIT)
    } else {
        (emission as u128)
            .checked_mul(BPS)?
            .checked_mul(before.vault as u128)?
            .div_ceil(f * before.floating as u128)
    };
    to_u64(inflow)
}

/// Terms of the premium sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PremiumTerms {
    /// Sale price as a multiple of the floor, in basis points (100_000 = 10x).
    pub multiple_bps: u64,
    /// Least multiple at which the program sells at all (e.g. 30_000 = 3x).
    pub min_multiple_bps: u64,
    /// Share of the proceeds that goes to the vault, in basis points; at least `10_000 / multiple`.
    pub vault_share_bps: u64,
}

/// How one premium purchase is paid and split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PremiumSplit {
    /// Quote the investor pays: `amount × floor × multiple`, rounded up.
    pub paid: u64,
    /// Quote to the vault: at least the vault share of `paid` and at least the exact backing of the
    /// new STK (`amount × vault / floating`), both rounded up, so the floor never falls.
    pub to_vault: u64,
    /// The rest, to the treasury.
    pub to_treasury: u64,
}

/// The vault's share of a premium purchase at `multiple_bps` times the floor: the published share
/// `published_bps`, raised to `ceil(10_000² / multiple_bps)` (that is `1 / multiple`) when the multiple
/// is lower than `10_000² / published_bps`. `None` for a zero multiple.
pub fn premium_vault_share_bps(multiple_bps: u64, published_bps: u64) -> Option<u64> {
    if multiple_bps == 0 {
        return None;
    }
    let least = to_u64((BPS * BPS).div_ceil(multiple_bps as u128))?;
    Some(least.max(published_bps))
}

/// Prices and splits a premium purchase of `stk_amount` base units against the current backing.
/// `None` if the terms break the rules (multiple below the minimum or below 1x, vault share below
/// `1 / multiple`), if there is no floor yet, or on overflow.
pub fn premium_split(
    stk_amount: u64,
    backing: Backing,
    terms: PremiumTerms,
) -> Option<PremiumSplit> {
    let m = terms.multiple_bps as u128;
    let share = terms.vault_share_bps as u128;
    if m < terms.min_multiple_bps as u128 || m < BPS || share > BPS {
        return None;
    }
    // share / BPS >= BPS / m  <=>  share × m >= BPS².
    if share * m < BPS * BPS {
        return None;
    }
    let floor = backing.floor_price()?;
    if floor == 0 {
        return None;
    }
    let paid = to_u64(
        (stk_amount as u128)
            .checked_mul(floor as u128)?
            .checked_mul(m)?
            .div_ceil(UNIT * BPS),
    )?;
    let by_share = (paid as u128).checked_mul(share)?.div_ceil(BPS);
    let by_backing = ((stk_amount as u128).checked_mul(backing.vault as u128)?)
        .div_ceil(backing.floating as u128);
    let to_vault = to_u64(by_share.max(by_backing))?;
    let to_treasury = paid.checked_sub(to_vault)?;
    Some(PremiumSplit {
        paid,
        to_vault,
        to_treasury,
    })
}

/// The STK price of an access plan: `fiat_price × (1 − discount_bps / 10_000)` converted at the
/// floor, rounded up (the paid STK is burned, which raises the floor). `None` for a zero floor or a
/// discount above 100%.
pub fn access_price_stk(fiat_price: u64, discount_bps: u64, floor_price: u64) -> Option<u64> {
    if floor_price == 0 {
        return None;
    }
    let keep = BPS.checked_sub(discount_bps as u128)?;
    let num = (fiat_price as u128).checked_mul(keep)?.checked_mul(UNIT)?;
    to_u64(num.div_ceil(BPS * floor_price as u128))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b(vault: u64, floating: u64) -> Backing {
        Backing { vault, floating }
    }

    #[test]
    fn inflow_for_emission_is_the_least_inflow_allowing_it() {
        // No floor: 5,000 STK at 0.01 USDC and 50% need 100 USDC.
        assert_eq!(
            inflow_for_emission(b(0, 0), 5_000 * UNIT as u64, 5_000, 10_000),
            Some(100_000_000)
        );
        // Floor 0.22 (1,100 USDC behind 5,000 STK): 250 STK at 50% need 110 USDC.
        let before = b(1_100_000_000, 5_000_000_000);
        assert_eq!(
            inflow_for_emission(before, 250_000_000, 5_000, 10_000),
            Some(110_000_000)
        );
        for (before, e, f, g) in [
            (b(0, 0), 1, 1, 1),
            (b(7, 3), 11, 3_333, 5),
            (b(1_100_000_000, 5_000_000_000), 250_000_001, 5_000, 10_000),
            (b(123_456_789, 987_654_321), 55_555, 10_000, 1),
        ] {
            let i = inflow_for_emission(before, e, f, g).unwrap();
            assert!(emission_cap(before, i, f, g).unwrap() >= e);
            assert!(i == 0 || emission_cap(before, i - 1, f, g).unwrap() < e);
        }
        assert_eq!(inflow_for_emission(b(1, 1), 0, 0, 0), Some(0));
        assert_eq!(inflow_for_emission(b(1, 1), 1, 0, 1), None);
        assert_eq!(inflow_for_emission(b(0, 0), 1, 5_000, 0), None);
        assert_eq!(inflow_for_emission(b(1, 1), u64::MAX, 1, 1), None);
    }

    #[test]
    fn floating_excludes_treasury_and_escrow() {
        assert_eq!(floating_supply(1_000, 100, 50), Some(850));
        assert_eq!(floating_supply(1_000, 1_000, 0), Some(0));
        assert_eq!(floating_supply(1_000, 900, 101), None);
        assert_eq!(floating_supply(u64::MAX, u64::MAX, 0), Some(0));
    }

    #[test]
    fn floor_by_hand() {
        // 1,000 USDC (1e9 units) behind 10,000 STK (1e10 units): 0.1 USDC = 100_000 units per STK.
        assert_eq!(
            b(1_000_000_000, 10_000_000_000).floor_price(),
            Some(100_000)
        );
        // 2 units behind 3 whole STK: 0.666.. -> 0 (rounded down).
        assert_eq!(b(2, 3_000_000).floor_price(), Some(0));
        // 10 units behind 3 whole STK: 3.33 -> 3.
        assert_eq!(b(10, 3_000_000).floor_price(), Some(3));
        assert_eq!(b(10, 0).floor_price(), None);
        // u64::MAX quote behind 1 base unit: does not fit, None rather than a panic.
        assert_eq!(b(u64::MAX, 1).floor_price(), None);
        assert!(b(1, 3).floor_at_least(&b(2, 6)));
        assert!(b(2, 6).floor_at_least(&b(1, 3)));
        assert!(!b(1, 4).floor_at_least(&b(1, 3)));
        assert!(b(0, 0).floor_at_least(&b(5, 1)));
        assert!(!b(5, 1).floor_at_least(&b(0, 0)));
    }

    #[test]
    fn coverage_by_hand() {
        // 1,000 USDC behind 10,000 STK promised at 0.2 USDC: 50%.
        assert_eq!(
            b(1_000_000_000, 10_000_000_000).coverage_bps(200_000),
            Some(5_000)
        );
        // At the floor: exactly 100%.
        assert_eq!(
            b(1_000_000_000, 10_000_000_000).coverage_bps(100_000),
            Some(10_000)
        );
        assert_eq!(b(1, 0).coverage_bps(5), None);
        assert!(b(u64::MAX, 1).coverage_bps(1).is_some());
    }

    #[test]
    fn buyback_price_and_admin_rule() {
        assert_eq!(buyback_price(100_000, 0), Some(100_000));
        assert_eq!(buyback_price(100_000, 500), Some(95_000));
        // 3 × 0.95 = 2.85 -> 2.
        assert_eq!(buyback_price(3, 500), Some(2));
        assert_eq!(buyback_price(100, 10_001), None);
        assert_eq!(buyback_price(u64::MAX, 0), Some(u64::MAX));
        assert!(window_price_allowed(95_000, 95_000));
        assert!(window_price_allowed(1, 95_000));
        assert!(!window_price_allowed(95_001, 95_000));
    }

    #[test]
    fn capacity_is_min_of_inflow_and_vault_share() {
        // Vault 1,000, 25% = 250; last inflow 100 -> 100.
        assert_eq!(window_capacity(100, 1_000, 2_500), Some(100));
        // Last inflow 400 -> the 250 share.
        assert_eq!(window_capacity(400, 1_000, 2_500), Some(250));
        // 25% of 3 = 0.75 -> 0.
        assert_eq!(window_capacity(400, 3, 2_500), Some(0));
        assert_eq!(window_capacity(1, 1, 10_001), None);
        assert_eq!(window_capacity(u64::MAX, u64::MAX, 10_000), Some(u64::MAX));
    }

    #[test]
    fn tender_by_hand() {
        // Price 0.5 quote/STK (500_000 units). Capacity 30 quote (30e6 units) buys 60 STK.
        // Orders 40, 40 and 20 STK (100 requested): ratio 0.6 -> 24, 24, 12 STK filled for 12, 12, 6
        // quote; 16, 16, 8 STK back.
        let f = settle_window(30_000_000, 500_000, 100_000_000).unwrap();
        assert_eq!(f.filled, 60_000_000);
        let c = f.claim(40_000_000).unwrap();
        assert_eq!(
            c,
            Claim {
                filled_stk: 24_000_000,
                quote: 12_000_000,
                returned_stk: 16_000_000
            }
        );
        assert_eq!(f.claim(20_000_000).unwrap().quote, 6_000_000);
        // Undersubscribed: everyone is filled in full.
        let f = settle_window(30_000_000, 500_000, 10_000_000).unwrap();
        assert_eq!(f.claim(10_000_000).unwrap().returned_stk, 0);
        assert_eq!(f.claim(10_000_000).unwrap().quote, 5_000_000);
        // Rounding: capacity 1 unit at 3 units/STK buys 333_333 base units of STK (1e6/3 down);
        // three orders of 1 STK each: 111_111 filled each, 0 quote each (0.333 down): dust stays.
        let f = settle_window(1, 3, 3_000_000).unwrap();
        assert_eq!(f.filled, 333_333);
        let c = f.claim(1_000_000).unwrap();
        assert_eq!(
            (c.filled_stk, c.quote, c.returned_stk),
            (111_111, 0, 888_889)
        );
        // Not an order of this window.
        assert_eq!(f.claim(3_000_001), None);
        assert_eq!(settle_window(1, 0, 1), None);
        // Nothing requested: claims of 0 are 0.
        let f = settle_window(5, 5, 0).unwrap();
        assert_eq!(f.claim(0).unwrap().quote, 0);
    }

    #[test]
    fn emission_cap_by_hand() {
        // Vault 1,000 behind 10,000 STK (floor 0.1); inflow 100, fraction 50%: 50 quote of value
        // = 500 STK. Floor after = 1,100 / 10,500 = 0.10476 >= 0.1.
        let before = b(1_000_000_000, 10_000_000_000);
        let cap = emission_cap(before, 100_000_000, 5_000, 1).unwrap();
        assert_eq!(cap, 500_000_000);
        assert!(b(1_100_000_000, 10_500_000_000).floor_at_least(&before));
        // At 100% of the inflow the floor is exactly kept: 1,100 / 11,000 = 0.1.
        let cap = emission_cap(before, 100_000_000, 10_000, 1).unwrap();
        assert_eq!(cap, 1_000_000_000);
        assert!(b(1_100_000_000, 11_000_000_000).floor_at_least(&before));
        // No revenue, no emission.
        assert_eq!(emission_cap(before, 0, 10_000, 1), Some(0));
        // Genesis: nothing floating, 0.01 quote/STK (10_000 units): 50 quote at 50% = 5,000 STK.
        assert_eq!(
            emission_cap(b(0, 0), 100_000_000, 5_000, 10_000),
            Some(5_000_000_000)
        );
        assert_eq!(emission_cap(b(0, 0), 1, 5_000, 0), None);
        assert_eq!(emission_cap(before, 1, 10_001, 1), None);
    }

    #[test]
    fn premium_split_by_hand() {
        // Floor 0.1 (vault 1,000 / 10,000 STK); 10x with 10% to the vault: 100 STK cost 100 quote,
        // 10 to the vault (= exactly the backing of 100 STK), 90 to the treasury.
        let backing = b(1_000_000_000, 10_000_000_000);
        let terms = PremiumTerms {
            multiple_bps: 100_000,
            min_multiple_bps: 30_000,
            vault_share_bps: 1_000,
        };
        let s = premium_split(100_000_000, backing, terms).unwrap();
        assert_eq!(
            s,
            PremiumSplit {
                paid: 100_000_000,
                to_vault: 10_000_000,
                to_treasury: 90_000_000
            }
        );
        assert!(b(1_010_000_000, 10_100_000_000).floor_at_least(&backing));
        // Below 3x: refused. Vault share below 1/multiple: refused.
        let low = PremiumTerms {
            multiple_bps: 29_999,
            ..terms
        };
        assert_eq!(premium_split(1, backing, low), None);
        let thin = PremiumTerms {
            vault_share_bps: 999,
            ..terms
        };
        assert_eq!(premium_split(1, backing, thin), None);
        // No floor yet: refused.
        assert_eq!(premium_split(1, b(0, 0), terms), None);
        // Rounded-down floor price: the backing term still keeps the floor. Vault 10 behind 3 STK:
        // floor 3.33 -> 3; 1 STK at 10x pays 30, 10% = 3 < exact backing 3.33 -> 4 to the vault.
        let s = premium_split(1_000_000, b(10, 3_000_000), terms).unwrap();
        assert_eq!((s.paid, s.to_vault, s.to_treasury), (30, 4, 26));
        assert!(b(14, 4_000_000).floor_at_least(&b(10, 3_000_000)));
    }

    #[test]
    fn premium_vault_share_is_at_least_one_over_the_multiple() {
        // 10x and above: the published 10%.
        assert_eq!(premium_vault_share_bps(100_000, 1_000), Some(1_000));
        assert_eq!(premium_vault_share_bps(1_000_000, 1_000), Some(1_000));
        // 4x: 25%; 3x: 33.33..% -> 3,334 bps (rounded up, for the vault).
        assert_eq!(premium_vault_share_bps(40_000, 1_000), Some(2_500));
        assert_eq!(premium_vault_share_bps(30_000, 1_000), Some(3_334));
        // 7x: 14.28..% -> 1,429.
        assert_eq!(premium_vault_share_bps(70_000, 1_000), Some(1_429));
        assert_eq!(premium_vault_share_bps(0, 1_000), None);
        // Every multiple from 3x to 100x gives terms `premium_split` accepts.
        for m in (30_000..=1_000_000).step_by(7) {
            let terms = PremiumTerms {
                multiple_bps: m,
                min_multiple_bps: 30_000,
                vault_share_bps: premium_vault_share_bps(m, 1_000).unwrap(),
            };
            assert!(premium_split(1, b(1, 1), terms).is_some(), "{m}");
        }
    }

    #[test]
    fn access_price_by_hand() {
        // 10 quote a month, 20% off, floor 0.1: 80 STK.
        assert_eq!(
            access_price_stk(10_000_000, 2_000, 100_000),
            Some(80_000_000)
        );
        // 1 unit, no discount, floor 3 units/STK: 333_333.3 -> 333_334 (rounded up).
        assert_eq!(access_price_stk(1, 0, 3), Some(333_334));
        assert_eq!(access_price_stk(1, 0, 0), None);
        assert_eq!(access_price_stk(1, 10_001, 1), None);
        assert_eq!(access_price_stk(u64::MAX, 0, 1), None);
    }

    #[test]
    fn u64_max_inputs_never_panic() {
        let m = u64::MAX;
        let _ = floating_supply(m, m, m);
        let _ = b(m, m).floor_price();
        let _ = b(m, 1).coverage_bps(m);
        let _ = buyback_price(m, m);
        let _ = window_capacity(m, m, m);
        let _ = window_capacity(m, m, 10_000);
        let f = settle_window(m, 1, m).unwrap();
        let _ = f.claim(m);
        let _ = f.max_payout();
        let _ = settle_window(m, m, m).unwrap().claim(m);
        let _ = emission_cap(b(m, m), m, 10_000, m);
        let _ = emission_cap(b(1, m), m, 10_000, 1);
        let _ = emission_cap(b(0, 0), m, 10_000, 1);
        for t in [
            PremiumTerms {
                multiple_bps: m,
                min_multiple_bps: 0,
                vault_share_bps: 10_000,
            },
            PremiumTerms {
                multiple_bps: 1_000_000,
                min_multiple_bps: 30_000,
                vault_share_bps: m,
            },
        ] {
            let _ = premium_split(m, b(m, 1), t);
            let _ = premium_split(m, b(m, m), t);
        }
        let _ = access_price_stk(m, m, m);
        let _ = access_price_stk(m, 0, 1);
    }

    proptest! {
        #[test]
        fn prop_floor_never_decreases_through_a_settled_window(
            vault in 1u64..=u64::MAX / 2,
            floating in 1u64..=u64::MAX / 2,
            inflow in any::<u64>(),
            spread in 0u64..=10_000,
            share in 0u64..=10_000,
            orders in proptest::collection::vec(0u64..=1u64 << 50, 1..20),
        ) {
            let before = b(vault, floating);
            let Some(floor) = before.floor_price() else { return Ok(()) };
            let price = buyback_price(floor, spread).unwrap();
            prop_assume!(price > 0);
            let requested: u64 = orders.iter().sum();
            prop_assume!(requested <= floating);
            let capacity = window_capacity(inflow, vault, share).unwrap();
            let fill = settle_window(capacity, price, requested).unwrap();
            let (mut paid, mut burned, mut back) = (0u64, 0u64, 0u64);
            for &o in &orders {
                let c = fill.claim(o).unwrap();
                // Conservation per order: filled + returned = the order.
                prop_assert_eq!(c.filled_stk + c.returned_stk, o);
                // Same ratio for everyone, to one base unit.
                let exact = o as u128 * fill.filled as u128;
                let lhs = c.filled_stk as u128 * fill.requested as u128;
                prop_assert!(lhs <= exact && exact - lhs < fill.requested as u128);
                paid += c.quote;
                burned += c.filled_stk;
                back += c.returned_stk;
            }
            prop_assert_eq!(burned + back, requested);
            prop_assert!(burned <= fill.filled);
            prop_assert!(paid <= fill.max_payout().unwrap());
            prop_assert!(paid <= capacity);
            let after = b(vault - paid, floating - burned);
            prop_assert!(after.floor_at_least(&before));
        }

        #[test]
        fn prop_claim_order_does_not_matter(
            cap in any::<u64>(), price in 1u64..=u64::MAX,
            orders in proptest::collection::vec(0u64..=1u64 << 40, 1..12),
        ) {
            let requested: u64 = orders.iter().sum();
            let fill = settle_window(cap, price, requested).unwrap();
            let forward: Vec<_> = orders.iter().map(|&o| fill.claim(o)).collect();
            let mut backward: Vec<_> = orders.iter().rev().map(|&o| fill.claim(o)).collect();
            backward.reverse();
            prop_assert_eq!(forward, backward);
        }

        #[test]
        fn prop_fill_monotone_in_capacity(
            c1 in any::<u64>(), c2 in any::<u64>(), price in 1u64..=u64::MAX,
            requested in 1u64..=u64::MAX, amount_seed in any::<u64>(),
        ) {
            let (lo, hi) = if c1 <= c2 { (c1, c2) } else { (c2, c1) };
            let amount = amount_seed % requested + 1;
            let a = settle_window(lo, price, requested).unwrap().claim(amount).unwrap();
            let z = settle_window(hi, price, requested).unwrap().claim(amount).unwrap();
            prop_assert!(a.filled_stk <= z.filled_stk);
            prop_assert!(a.quote <= z.quote);
        }

        #[test]
        fn prop_floor_never_decreases_through_emission_at_the_cap(
            vault in 0u64..=1u64 << 56, floating in 0u64..=1u64 << 56,
            inflow in 0u64..=1u64 << 56, fraction in 0u64..=10_000,
            genesis in 1u64..=u64::MAX,
        ) {
            let before = b(vault, floating);
            let Some(cap) = emission_cap(before, inflow, fraction, genesis) else {
                return Ok(());
            };
            let after = b(vault + inflow, floating.saturating_add(cap));
            if floating > 0 && vault > 0 {
                prop_assert!(after.floor_at_least(&before));
                // Valued at the floor before, the emission is within the fraction of the inflow:
                // cap × vault / floating <= inflow × fraction / 10_000.
                prop_assert!(
                    cap as u128 * vault as u128 * BPS
                        <= inflow as u128 * fraction as u128 * floating as u128
                );
            } else {
                prop_assert!(cap as u128 * genesis as u128 * BPS <= inflow as u128 * fraction as u128 * UNIT);
            }
            // Monotone in the inflow.
            if let Some(more) = emission_cap(before, inflow.saturating_add(1), fraction, genesis) {
                prop_assert!(more >= cap);
            }
        }

        #[test]
        fn prop_floor_never_decreases_through_a_premium_sale(
            vault in 1u64..=1u64 << 50, floating in 1_000_000u64..=1u64 << 50,
            amount in 0u64..=1u64 << 45, multiple in 30_000u64..=1_000_000,
            extra_share in 0u64..=10_000,
        ) {
            let before = b(vault, floating);
            let min_share = (BPS * BPS).div_ceil(multiple as u128) as u64;
            let terms = PremiumTerms {
                multiple_bps: multiple,
                min_multiple_bps: 30_000,
                vault_share_bps: (min_share + extra_share).min(10_000),
            };
            let Some(s) = premium_split(amount, before, terms) else { return Ok(()) };
            prop_assert_eq!(s.to_vault + s.to_treasury, s.paid);
            prop_assert!(s.to_vault as u128 * multiple as u128 >= s.paid as u128 * BPS);
            let after = b(vault + s.to_vault, floating + amount);
            prop_assert!(after.floor_at_least(&before));
        }

        #[test]
        fn prop_access_price_is_discounted_and_monotone(
            fiat in 0u64..=1u64 << 50, discount in 0u64..=10_000, floor in 1u64..=1u64 << 40,
        ) {
            let stk = access_price_stk(fiat, discount, floor).unwrap();
            // Valued at the floor, what is paid covers the discounted fiat price, by less than one
            // base unit of STK more.
            let value = stk as u128 * floor as u128 * BPS;
            let due = fiat as u128 * (BPS - discount as u128) * UNIT;
            prop_assert!(value >= due);
            prop_assert!(value < due + floor as u128 * BPS);
            // A higher floor never charges more STK; a larger discount never charges more.
            prop_assert!(access_price_stk(fiat, discount, floor + 1).unwrap() <= stk);
            if discount < 10_000 {
                prop_assert!(access_price_stk(fiat, discount + 1, floor).unwrap() <= stk);
            }
        }

        #[test]
        fn prop_no_panic_on_any_input_and_monotone_floor(
            a in any::<u64>(), c in any::<u64>(), d in any::<u64>(), e in any::<u64>(),
        ) {
            // Every function on arbitrary u64 inputs returns, never panics.
            let _ = floating_supply(a, c, d);
            let _ = b(a, c).coverage_bps(d);
            let _ = buyback_price(a, c);
            let _ = window_capacity(a, c, d);
            if let Some(f) = settle_window(a, c, d) {
                let _ = f.claim(e);
                let _ = f.max_payout();
            }
            let _ = emission_cap(b(a, c), d, e, a);
            let terms = PremiumTerms { multiple_bps: c, min_multiple_bps: d, vault_share_bps: e };
            let _ = premium_split(a, b(c, d), terms);
            let _ = access_price_stk(a, c, d);
            // The floor is monotone: more vault never lowers it, more floating never raises it.
            if let (Some(lo), Some(hi)) = (b(a.min(c), d).floor_price(), b(a.max(c), d).floor_price()) {
                prop_assert!(lo <= hi);
            }
            if d > 0 && e > 0 {
                if let (Some(small), Some(big)) =
                    (b(a, d.min(e)).floor_price(), b(a, d.max(e)).floor_price())
                {
                    prop_assert!(big <= small);
                }
            }
            // Capacity is monotone in the inflow and in the vault.
            let share = e % 10_001;
            prop_assert!(
                window_capacity(a.min(c), d, share).unwrap() <= window_capacity(a.max(c), d, share).unwrap()
            );
            prop_assert!(
                window_capacity(d, a.min(c), share).unwrap() <= window_capacity(d, a.max(c), share).unwrap()
            );
        }

        #[test]
        fn prop_buyback_price_at_most_floor_and_capacity_bounded(
            floor in any::<u64>(), spread in 0u64..=10_000,
            inflow in any::<u64>(), vault in any::<u64>(), share in 0u64..=10_000,
        ) {
            let p = buyback_price(floor, spread).unwrap();
            prop_assert!(p <= floor);
            if spread < 10_000 {
                prop_assert!(buyback_price(floor, spread + 1).unwrap() <= p);
            }
            let c = window_capacity(inflow, vault, share).unwrap();
            prop_assert!(c <= inflow);
            prop_assert!(c as u128 * BPS <= vault as u128 * share as u128);
        }
    }
}
