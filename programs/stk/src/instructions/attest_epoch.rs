use anchor_lang::prelude::*;

use crate::{
    constants::{
        CONFIG_SEED, EPOCH_SEED, INFLOW_LEDGER_SEED, MAX_CHUNKS, MAX_CHUNK_RECIPIENTS,
        PAUSE_EMISSION,
    },
    error::StkError,
    events::{EpochAttested, EpochFinalized},
    state::{Config, Epoch, InflowLedger},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: AttestEpochArgs)]
pub struct AttestEpoch<'info> {
    #[account(mut)]
    pub oracle: Signer<'info>,
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the `Epoch` of this root, created by the handler on the first attestation (the address
    /// may already hold lamports: `utils::create_pda`), loaded and checked as an `Epoch` otherwise.
    #[account(mut, seeds = [EPOCH_SEED, &args.epoch.to_le_bytes(), args.root.as_ref()], bump)]
    pub epoch: UncheckedAccount<'info>,
    /// CHECK: the `InflowLedger` (`["inflow_ledger"]`, checked by the seeds): read by the handler when it
    /// exists; before any revenue was ever deposited there is none, and no epoch may mint anything.
    #[account(seeds = [INFLOW_LEDGER_SEED], bump)]
    pub inflow_ledger: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The STK epoch `epoch` may mint by the emission rule: the allowance its revenue period's inflow
/// earned (0 when there was no inflow, or no ledger yet).
fn emission_allowance(ledger: &AccountInfo, epoch: u64) -> Result<u64> {
    if ledger.data_is_empty() {
        return Ok(0);
    }
    require_keys_eq!(
        *ledger.owner,
        crate::ID,
        ErrorCode::AccountOwnedByWrongProgram
    );
    let data = ledger.try_borrow_data()?;
    let ledger = InflowLedger::try_deserialize(&mut &data[..])?;
    Ok(ledger.record(epoch).emission_allowance)
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct AttestEpochArgs {
    pub epoch: u64,
    pub root: [u8; 32],
    pub total_amount: u64,
    pub chunk_count: u32,
    pub recipient_count: u32,
    pub activity_digest: [u8; 32],
    pub rules_hash: [u8; 32],
}

impl AttestEpochArgs {
    /// Shape checks that hold for any tree `EpochTree::build` can produce.
    fn check(&self) -> Result<()> {
        let max_recipients = (self.chunk_count as u64) * (MAX_CHUNK_RECIPIENTS as u64);
        require!(
            self.chunk_count >= 1
                && self.chunk_count <= MAX_CHUNKS
                && self.recipient_count >= self.chunk_count
                && (self.recipient_count as u64) <= max_recipients
                && self.total_amount >= self.recipient_count as u64,
            StkError::InvalidEpochParams
        );
        Ok(())
    }
}

impl Epoch {
    fn matches(&self, args: &AttestEpochArgs) -> bool {
        self.total_amount == args.total_amount
            && self.chunk_count == args.chunk_count
            && self.recipient_count == args.recipient_count
            && self.activity_digest == args.activity_digest
            && self.rules_hash == args.rules_hash
    }
}

/// One oracle's approval of an epoch root. Creates the `Epoch` account on the first attestation of a
/// root; finalizes it when `threshold` current oracles have approved under the current config version.
pub fn handler(ctx: Context<AttestEpoch>, args: AttestEpochArgs) -> Result<()> {
    let config = &mut ctx.accounts.config;
    let oracle = ctx.accounts.oracle.key();
    let now = Clock::get()?.unix_timestamp;

    require!(!config.is_paused(PAUSE_EMISSION), StkError::Paused);
    let index = config.oracle_index(&oracle).ok_or(StkError::NotOracle)?;
    require!(
        args.epoch >= config.next_epoch,
        StkError::EpochAlreadyFinalized
    );
    require!(
        now >= config.epoch_end(args.epoch)?,
        StkError::EpochNotEnded
    );
    args.check()?;
    require!(
        args.total_amount <= config.max_emission_per_epoch,
        StkError::EpochCapExceeded
    );
    // Emission that cannot dilute the floor: at most what the epoch's own vault inflow allows.
    require!(
        args.total_amount <= emission_allowance(ctx.accounts.inflow_ledger.as_ref(), args.epoch)?,
        StkError::EmissionAboveInflow
    );

    let bump = ctx.bumps.epoch;
    let mut epoch = PdaAccount::<Epoch>::init_if_needed(
        PdaCreation {
            payer: ctx.accounts.oracle.as_ref(),
            account: ctx.accounts.epoch.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[EPOCH_SEED, &args.epoch.to_le_bytes(), &args.root, &[bump]],
    )?;
    if epoch.created {
        epoch.epoch = args.epoch;
        epoch.root = args.root;
        epoch.total_amount = args.total_amount;
        epoch.chunk_count = args.chunk_count;
        epoch.recipient_count = args.recipient_count;
        epoch.activity_digest = args.activity_digest;
        epoch.rules_hash = args.rules_hash;
        epoch.config_version = config.config_version;
        epoch.bump = bump;
    } else {
        require!(epoch.matches(&args), StkError::AttestationMismatch);
    }
    if epoch.config_version != config.config_version {
        // Approvals given under an older oracle set or older limits do not count.
        epoch.approvals = 0;
        epoch.config_version = config.config_version;
    }
    let bit = 1u16 << index;
    require!(epoch.approvals & bit == 0, StkError::AlreadyAttested);
    epoch.approvals |= bit;
    emit_cpi!(EpochAttested {
        epoch: args.epoch,
        root: args.root,
        oracle,
        approvals: epoch.approvals,
        config_version: epoch.config_version,
    });

    if epoch.approval_count() >= config.threshold as u32 {
        epoch.finalized = true;
        epoch.finalized_at = now;
        config.next_epoch = args.epoch.checked_add(1).ok_or(StkError::MathOverflow)?;
        emit_cpi!(EpochFinalized {
            epoch: args.epoch,
            root: args.root,
            total_amount: epoch.total_amount,
            chunk_count: epoch.chunk_count,
            recipient_count: epoch.recipient_count,
        });
    }
    epoch.save()
}
