//! Attesting a plan's root as an oracle (the pipeline's own oracle and `oracle attest`).
use solana_sdk::{signature::Keypair, signer::Signer};
use stk::{client, error::StkError, AttestEpochArgs};

use super::PipelineError;
use crate::{
    chain::{ops, Chain, ChainError},
    store::EpochPlan,
};

/// What happened to an attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestation {
    Sent(String),
    /// This oracle's approval of this root already counts on chain.
    AlreadyCounted,
}

/// Attests a plan's root with `oracle`, unless its approval already counts. Shared by the pipeline
/// and the `oracle attest` command.
pub async fn attest(
    chain: &dyn Chain,
    oracle: &Keypair,
    plan: &EpochPlan,
) -> Result<Attestation, PipelineError> {
    let n = plan.epoch;
    let config = ops::config(chain)
        .await?
        .ok_or_else(|| PipelineError::NotInitialized(chain.describe()))?;
    let index = config.oracle_index(&oracle.pubkey()).ok_or_else(|| {
        PipelineError::Chain(ChainError::Invalid(format!(
            "{} is not in the oracle set",
            oracle.pubkey()
        )))
    })?;
    if let Some(e) = ops::epoch(chain, n, &plan.root).await? {
        if e.finalized
            || (e.config_version == config.config_version && e.approvals & (1 << index) != 0)
        {
            return Ok(Attestation::AlreadyCounted);
        }
    }
    if config.next_epoch > n {
        return Err(PipelineError::Superseded {
            epoch: n,
            root: hex::encode(plan.root),
        });
    }
    let allowed = ops::emission_allowance(chain, &config, n).await?;
    if plan.total_amount > allowed {
        return Err(PipelineError::Inconsistent {
            epoch: n,
            message: format!(
                "the root mints {} STK base units, above the {allowed} its period's vault inflow allows \
                 on chain (deposit_revenue during the epoch earns the allowance); it cannot be attested",
                plan.total_amount
            ),
        });
    }
    let args = AttestEpochArgs {
        epoch: n,
        root: plan.root,
        total_amount: plan.total_amount,
        chunk_count: plan.chunk_count,
        recipient_count: plan.recipient_count,
        activity_digest: plan.activity_digest,
        rules_hash: plan.rules_hash,
    };
    match chain
        .send(
            &[client::attest_epoch(oracle.pubkey(), args)],
            &[oracle],
            &[],
        )
        .await
    {
        Ok(sent) => Ok(Attestation::Sent(sent.signature.to_string())),
        Err(e) if e.is_stk(StkError::AlreadyAttested) => Ok(Attestation::AlreadyCounted),
        Err(e) => Err(e.into()),
    }
}
