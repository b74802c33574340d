//! The ledger of the simulated economy: every STK and quote base unit, moved only through the
//! program crate's rule functions (`stk::economy`, `stk::math`) and checked after every move.
use stk::constants::{BPS_DENOMINATOR as BPS, STK_UNIT};
use stk::economy::{
    access_price_stk, buyback_price, emission_cap, floating_supply, premium_split, settle_window,
    window_capacity, Backing, PremiumTerms,
};
use stk::math::{premium_quote, sell_back_quote};
use stk_scoring::split_budget;

/// Which rules the economy runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// Issue 13: buyback at the floor (less a spread), capacity by rule, pro-rata tender, emission
    /// capped by the vault inflow, premium sales that feed the vault, access priced at the floor.
    V2,
    /// Today's program, used as the SourceCred-like counter-scenario: a fixed emission per epoch
    /// whatever the revenue, a buyback price the admin fixed in advance, windows served first come
    /// first served up to the whole vault, premium proceeds all to the treasury, access priced at the
    /// fixed price.
    V1,
}

/// The economy's rule parameters (what the program would store in its config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EconParams {
    pub rules: Rules,
    /// Share of subscription revenue paid into the vault (bps).
    pub vault_share_bps: u64,
    /// v2: emission valued at the floor is at most this share of the epoch's vault inflow (bps).
    pub emission_fraction_bps: u64,
    /// Emission of an epoch: v1 mints exactly this; v2 mints at most this (STK base units).
    pub epoch_emission: u64,
    /// Price used before a floor exists (v2) and the fixed buyback price (v1), quote units per STK.
    pub genesis_price: u64,
    /// v2: buyback price = floor less this spread (bps).
    pub spread_bps: u64,
    /// v2: a window's capacity is at most this share of the vault (bps).
    pub capacity_vault_bps: u64,
    /// Premium multiple (bps of the floor in v2, of the fixed price in v1).
    pub premium_multiple_bps: u64,
    /// v2: least premium multiple (bps).
    pub premium_min_multiple_bps: u64,
    /// v2: share of premium proceeds to the vault (bps), at least `1 / multiple`.
    pub premium_vault_share_bps: u64,
    /// Discount for paying access in STK (bps).
    pub access_discount_bps: u64,
}

impl Default for EconParams {
    fn default() -> Self {
        EconParams {
            rules: Rules::V2,
            vault_share_bps: 3_000,
            emission_fraction_bps: 5_000,
            epoch_emission: 100_000 * STK_UNIT,
            genesis_price: 10_000,
            spread_bps: 200,
            capacity_vault_bps: 2_500,
            premium_multiple_bps: 100_000,
            premium_min_multiple_bps: 30_000,
            premium_vault_share_bps: 1_000,
            access_discount_bps: 2_000,
        }
    }
}

/// A failed invariant: the run stops and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConservationError(pub String);

impl std::fmt::Display for ConservationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conservation violated: {}", self.0)
    }
}

impl std::error::Error for ConservationError {}

type Res<T> = Result<T, ConservationError>;

fn fail<T>(what: impl Into<String>) -> Res<T> {
    Err(ConservationError(what.into()))
}

fn some<T>(v: Option<T>, what: &str) -> Res<T> {
    v.ok_or_else(|| ConservationError(format!("overflow or rule refused: {what}")))
}

/// What one tender window did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowOutcome {
    pub price: u64,
    pub capacity: u64,
    pub requested: u64,
    pub filled: u64,
    pub paid: u64,
    /// Largest distance (base units of STK) between an order's fill and `amount × ratio`.
    pub max_fill_deviation: f64,
    /// Largest minus smallest fill ratio among the window's orders of at least one STK.
    pub fill_ratio_spread: f64,
}

/// One premium purchase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PremiumOutcome {
    pub stk: u64,
    pub paid: u64,
    pub to_vault: u64,
    /// Price paid as a multiple of the floor at the time of purchase.
    pub multiple_of_floor: f64,
}

/// Balances of the whole economy. `holders[i]` is member `i`'s STK; investors hold one pool.
#[derive(Clone, Debug)]
pub struct Economy {
    pub params: EconParams,
    pub holders: Vec<u64>,
    pub investors: u64,
    pub minted: u64,
    pub burned: u64,
    /// STK held by the program's treasury (this model never parks STK there; kept in the identity).
    pub treasury_stk: u64,
    pub escrowed: u64,
    pub vault: u64,
    /// Every quote unit that ever entered the vault.
    pub vault_in: u64,
    /// Every quote unit the vault ever paid out.
    pub vault_out: u64,
    pub treasury_quote: u64,
    pub operations_quote: u64,
    /// Vault inflow of the last completed week (the next window's capacity rule uses it).
    pub last_inflow: u64,
}

impl Economy {
    pub fn new(params: EconParams) -> Self {
        Economy {
            params,
            holders: Vec::new(),
            investors: 0,
            minted: 0,
            burned: 0,
            treasury_stk: 0,
            escrowed: 0,
            vault: 0,
            vault_in: 0,
            vault_out: 0,
            treasury_quote: 0,
            operations_quote: 0,
            last_inflow: 0,
        }
    }

    pub fn floating(&self) -> Res<u64> {
        let supply = some(self.minted.checked_sub(self.burned), "supply")?;
        some(
            floating_supply(supply, self.treasury_stk, self.escrowed),
            "floating",
        )
    }

    pub fn backing(&self) -> Res<Backing> {
        Ok(Backing {
            vault: self.vault,
            floating: self.floating()?,
        })
    }

    /// The published floor (quote units per STK); the genesis price while nothing floats.
    pub fn floor_price(&self) -> Res<u64> {
        Ok(self
            .backing()?
            .floor_price()
            .unwrap_or(self.params.genesis_price))
    }

    /// The price a member is promised for the next window: v2 the rule price, v1 the fixed price.
    pub fn exit_price(&self) -> Res<u64> {
        match self.params.rules {
            Rules::V2 => some(
                buyback_price(self.floor_price()?, self.params.spread_bps),
                "buyback price",
            ),
            Rules::V1 => Ok(self.params.genesis_price),
        }
    }

    /// Coverage of the floating STK at the promised exit price, as a ratio; `None` if nothing floats.
    pub fn coverage(&self) -> Res<Option<f64>> {
        let c = self.backing()?.coverage_bps(self.exit_price()?);
        Ok(c.map(|bps| bps as f64 / BPS as f64))
    }

    /// The conservation identities; an error names the first one broken.
    pub fn check(&self) -> Res<()> {
        let held: u128 =
            self.holders.iter().map(|&h| h as u128).sum::<u128>() + self.investors as u128;
        let floating = self.floating()? as u128;
        if held != floating {
            return fail(format!("holdings {held} != floating {floating}"));
        }
        let parts =
            floating + self.burned as u128 + self.treasury_stk as u128 + self.escrowed as u128;
        if parts != self.minted as u128 {
            return fail(format!(
                "minted {} != floating + burned + treasury + escrowed {parts}",
                self.minted
            ));
        }
        if self.vault_in as u128 != self.vault as u128 + self.vault_out as u128 {
            return fail(format!(
                "quote in {} != vault {} + paid out {}",
                self.vault_in, self.vault, self.vault_out
            ));
        }
        Ok(())
    }

    fn credit_vault(&mut self, amount: u64) -> Res<()> {
        self.vault = some(self.vault.checked_add(amount), "vault")?;
        self.vault_in = some(self.vault_in.checked_add(amount), "vault_in")?;
        Ok(())
    }

    /// Fiat subscription revenue: the vault share goes to the vault (rounded down), the rest to
    /// operations. Returns the vault inflow.
    pub fn revenue(&mut self, fiat: u64) -> Res<u64> {
        let to_vault = some(
            u64::try_from(fiat as u128 * self.params.vault_share_bps as u128 / BPS as u128).ok(),
            "vault share",
        )?;
        self.credit_vault(to_vault)?;
        self.operations_quote = some(
            self.operations_quote.checked_add(fiat - to_vault),
            "operations",
        )?;
        Ok(to_vault)
    }

    /// Member `holder` pays an access plan of `fiat_price` in STK (burned). Returns the STK paid and
    /// the price it was converted at, or `None` if the member holds too little (they pay fiat).
    pub fn pay_access(&mut self, holder: usize, fiat_price: u64) -> Res<Option<(u64, u64)>> {
        let price_basis = match self.params.rules {
            Rules::V2 => self.floor_price()?,
            Rules::V1 => self.params.genesis_price,
        };
        if price_basis == 0 {
            // A floor below one quote unit per STK: no STK price can be quoted; the member pays fiat.
            return Ok(None);
        }
        let stk = some(
            access_price_stk(fiat_price, self.params.access_discount_bps, price_basis),
            "access price",
        )?;
        if stk == 0 || self.holders[holder] < stk {
            return Ok(None);
        }
        self.holders[holder] -= stk;
        self.burned = some(self.burned.checked_add(stk), "burned")?;
        Ok(Some((stk, price_basis)))
    }

    /// The epoch's emission: v1 the fixed amount; v2 the fixed amount capped by the vault inflow
    /// (`emission_cap` against the backing before the inflow).
    pub fn emission_budget(&self, before: Backing, inflow: u64) -> Res<u64> {
        match self.params.rules {
            Rules::V1 => Ok(self.params.epoch_emission),
            Rules::V2 => {
                let cap = some(
                    emission_cap(
                        before,
                        inflow,
                        self.params.emission_fraction_bps,
                        self.params.genesis_price,
                    ),
                    "emission cap",
                )?;
                Ok(cap.min(self.params.epoch_emission))
            }
        }
    }

    /// Mints `budget` split by `scores` (one per holder, `stk_scoring::split_budget`). Returns what
    /// was minted (0 if every score is 0).
    pub fn emit(&mut self, budget: u64, scores: &[u64]) -> Res<u64> {
        if scores.len() != self.holders.len() {
            return fail("one score per holder");
        }
        let amounts = split_budget(budget, scores);
        let mut total = 0u64;
        for (h, a) in self.holders.iter_mut().zip(amounts) {
            *h = some(h.checked_add(a), "holder")?;
            total = some(total.checked_add(a), "emission")?;
        }
        self.minted = some(self.minted.checked_add(total), "minted")?;
        Ok(total)
    }

    /// Investors spend up to `budget` quote on new STK at the premium. `None` when the rules refuse
    /// (v2: no floor yet).
    pub fn buy_premium(&mut self, budget: u64) -> Res<Option<PremiumOutcome>> {
        let p = self.params;
        let (stk, paid, to_vault, floor) = match p.rules {
            Rules::V2 => {
                let backing = self.backing()?;
                let Some(floor) = backing.floor_price().filter(|&f| f > 0) else {
                    return Ok(None);
                };
                // As much STK as the budget buys at floor × multiple (rounded down).
                let stk = (budget as u128 * STK_UNIT as u128 * BPS as u128)
                    / (floor as u128 * p.premium_multiple_bps as u128);
                let stk = some(u64::try_from(stk).ok(), "premium amount")?;
                let terms = PremiumTerms {
                    multiple_bps: p.premium_multiple_bps,
                    min_multiple_bps: p.premium_min_multiple_bps,
                    vault_share_bps: p.premium_vault_share_bps,
                };
                let split = some(premium_split(stk, backing, terms), "premium split")?;
                (stk, split.paid, split.to_vault, floor)
            }
            Rules::V1 => {
                let price = p.genesis_price;
                let stk = (budget as u128 * STK_UNIT as u128 * BPS as u128)
                    / (price as u128 * p.premium_multiple_bps as u128);
                let stk = some(u64::try_from(stk).ok(), "premium amount")?;
                let paid = some(
                    premium_quote(stk, price, p.premium_multiple_bps).ok(),
                    "premium quote",
                )?;
                (stk, paid, 0, price)
            }
        };
        if stk == 0 {
            return Ok(None);
        }
        let start = self.backing()?;
        self.credit_vault(to_vault)?;
        self.treasury_quote = some(self.treasury_quote.checked_add(paid - to_vault), "treasury")?;
        self.investors = some(self.investors.checked_add(stk), "investors")?;
        self.minted = some(self.minted.checked_add(stk), "minted")?;
        self.floor_kept(&start, "a premium sale")?;
        Ok(Some(PremiumOutcome {
            stk,
            paid,
            to_vault,
            multiple_of_floor: paid as f64 * STK_UNIT as f64 / (stk as f64 * floor as f64),
        }))
    }

    /// One tender window over `orders` (holder, STK amount), listed in the order they arrived.
    /// Escrows every order, checks conservation with the escrow in place, then settles and claims.
    pub fn window(&mut self, orders: &[(usize, u64)]) -> Res<WindowOutcome> {
        // The price is announced before the orders come in (escrowed STK does not float, so the
        // floor while orders are escrowed is higher than the one members saw).
        let price = self.exit_price()?;
        let start = self.backing()?;
        let mut requested = 0u64;
        for &(h, a) in orders {
            if self.holders[h] < a {
                return fail("order above holding");
            }
            self.holders[h] -= a;
            requested = some(requested.checked_add(a), "requested")?;
        }
        self.escrowed = some(self.escrowed.checked_add(requested), "escrow")?;
        self.check()?;
        let mut out = WindowOutcome {
            price,
            requested,
            ..WindowOutcome::default()
        };
        let mut ratios: Vec<f64> = Vec::new();
        match self.params.rules {
            Rules::V2 => {
                out.capacity = some(
                    window_capacity(self.last_inflow, self.vault, self.params.capacity_vault_bps),
                    "capacity",
                )?;
                let fill = some(settle_window(out.capacity, price, requested), "settle")?;
                for &(h, a) in orders {
                    let c = some(fill.claim(a), "claim")?;
                    self.settle_order(h, a, c.filled_stk, c.quote)?;
                    out.filled += c.filled_stk;
                    out.paid += c.quote;
                    if fill.requested > 0 {
                        let exact = a as f64 * fill.filled as f64 / fill.requested as f64;
                        out.max_fill_deviation = out
                            .max_fill_deviation
                            .max((exact - c.filled_stk as f64).abs());
                    }
                    if a >= STK_UNIT {
                        ratios.push(c.filled_stk as f64 / a as f64);
                    }
                }
            }
            Rules::V1 => {
                // First come, first served until the vault is empty.
                out.capacity = self.vault;
                let mut left = self.vault;
                for &(h, a) in orders {
                    let full = some(sell_back_quote(a, price).ok(), "sell back")?;
                    let (filled, quote) = if full <= left {
                        (a, full)
                    } else {
                        // The largest part of the order the rest of the vault pays for.
                        let part = (left as u128 * STK_UNIT as u128 / price.max(1) as u128) as u64;
                        let part = part.min(a);
                        (part, some(sell_back_quote(part, price).ok(), "sell back")?)
                    };
                    left -= quote;
                    self.settle_order(h, a, filled, quote)?;
                    out.filled += filled;
                    out.paid += quote;
                    if a >= STK_UNIT {
                        ratios.push(filled as f64 / a as f64);
                    }
                }
            }
        }
        if let (Some(lo), Some(hi)) = (
            ratios.iter().cloned().reduce(f64::min),
            ratios.iter().cloned().reduce(f64::max),
        ) {
            out.fill_ratio_spread = hi - lo;
        }
        if out.paid > out.capacity {
            return fail(format!("paid {} above capacity {}", out.paid, out.capacity));
        }
        self.check()?;
        self.floor_kept(&start, "a settled window")?;
        Ok(out)
    }

    /// Under v2, the exact floor `vault / floating` is never below `start`'s; a fall is an error.
    /// (While nothing floated there was no floor to keep.)
    pub fn floor_kept(&self, start: &Backing, what: &str) -> Res<()> {
        let now = self.backing()?;
        if self.params.rules == Rules::V2 && start.floating > 0 && !now.floor_at_least(start) {
            return fail(format!(
                "v2 floor fell through {what}: {}/{} -> {}/{}",
                start.vault, start.floating, now.vault, now.floating
            ));
        }
        Ok(())
    }

    fn settle_order(&mut self, h: usize, amount: u64, filled: u64, quote: u64) -> Res<()> {
        self.escrowed = some(self.escrowed.checked_sub(amount), "escrow")?;
        self.burned = some(self.burned.checked_add(filled), "burned")?;
        self.holders[h] = some(self.holders[h].checked_add(amount - filled), "refund")?;
        self.vault = some(self.vault.checked_sub(quote), "vault payout")?;
        self.vault_out = some(self.vault_out.checked_add(quote), "paid out")?;
        Ok(())
    }
}
