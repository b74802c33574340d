use anchor_lang::prelude::*;

use crate::{constants::INFLOW_LEDGER_PERIODS, error::StkError};

/// One revenue period's record: what came into the vault through `deposit_revenue` and how much STK
/// that inflow allows the period's epoch to mint (`economy::emission_cap`, summed over the deposits).
#[derive(
    AnchorSerialize, AnchorDeserialize, InitSpace, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
pub struct PeriodInflow {
    pub period: u64,
    /// Quote base units deposited in the period.
    pub inflow: u64,
    /// STK base units the period's epoch may mint: each deposit adds the emission that, valued at the
    /// floor before that deposit, is `emission_inflow_bps` of the deposit.
    pub emission_allowance: u64,
}

/// The vault inflow of the last [`INFLOW_LEDGER_PERIODS`] revenue periods, `["inflow_ledger"]`: a ring
/// indexed by `period % INFLOW_LEDGER_PERIODS`. Created by the first `deposit_revenue` (whoever
/// deposits pays its rent); read by `attest_epoch`, which bounds an epoch's emission by the
/// allowance its own period's inflow earned. An epoch must therefore be attested within
/// `INFLOW_LEDGER_PERIODS` periods of its end; after that its record is overwritten and it can mint
/// nothing.
#[account]
#[derive(InitSpace, Debug)]
pub struct InflowLedger {
    pub periods: [PeriodInflow; INFLOW_LEDGER_PERIODS],
    pub bump: u8,
}

impl InflowLedger {
    fn slot(period: u64) -> usize {
        (period % INFLOW_LEDGER_PERIODS as u64) as usize
    }

    /// The record of `period`, or an empty one (no inflow, no allowance) when nothing was deposited
    /// in it or its slot was reused since.
    pub fn record(&self, period: u64) -> PeriodInflow {
        let r = self.periods[Self::slot(period)];
        if r.period == period {
            r
        } else {
            PeriodInflow {
                period,
                ..PeriodInflow::default()
            }
        }
    }

    /// Adds a deposit of `inflow` earning `allowance` to `period` (starting a fresh record when its
    /// slot held an older period). Returns the updated record.
    pub fn add(&mut self, period: u64, inflow: u64, allowance: u64) -> Result<PeriodInflow> {
        let mut r = self.record(period);
        r.inflow = r.inflow.checked_add(inflow).ok_or(StkError::MathOverflow)?;
        r.emission_allowance = r
            .emission_allowance
            .checked_add(allowance)
            .ok_or(StkError::MathOverflow)?;
        self.periods[Self::slot(period)] = r;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> InflowLedger {
        InflowLedger {
            periods: [PeriodInflow::default(); INFLOW_LEDGER_PERIODS],
            bump: 0,
        }
    }

    #[test]
    fn records_accumulate_per_period_and_old_slots_are_reused() {
        let mut l = ledger();
        assert_eq!(l.record(0).emission_allowance, 0);
        l.add(3, 100, 10).unwrap();
        l.add(3, 50, 5).unwrap();
        assert_eq!(
            l.record(3),
            PeriodInflow {
                period: 3,
                inflow: 150,
                emission_allowance: 15
            }
        );
        assert_eq!(l.record(4).inflow, 0);
        let later = 3 + INFLOW_LEDGER_PERIODS as u64;
        // The period that reuses the slot starts fresh, and the old period reads as empty.
        assert_eq!(l.add(later, 7, 1).unwrap().inflow, 7);
        assert_eq!(l.record(3).inflow, 0);
        assert_eq!(l.record(3).emission_allowance, 0);
        assert!(l.add(later, u64::MAX, 0).is_err());
    }
}
