//! Attesting: verify, compare with what the chain already holds, then attest the recomputed root.
use solana_sdk::{signature::Keypair, signer::Signer};

use super::verify::{verify, Difference, Mismatch};
use super::{wire::EpochLogResponse, OracleError, OracleOutcome};
use crate::{
    chain::{ops, Chain},
    pipeline::{self, PipelineError},
};

/// Verifies `source` ([`verify`]) and, when everything is identical, attests the recomputed root with
/// `oracle` through [`pipeline::attest`] (the same code the service's own oracle uses).
pub async fn verify_and_attest(
    source: &EpochLogResponse,
    chain: &dyn Chain,
    oracle: &Keypair,
) -> Result<OracleOutcome, OracleError> {
    verify_and_attest_against(source, None, chain, oracle).await
}

/// [`verify_and_attest`] with a reference copy of the log to compare line by line.
pub async fn verify_and_attest_against(
    source: &EpochLogResponse,
    reference_log: Option<&str>,
    chain: &dyn Chain,
    oracle: &Keypair,
) -> Result<OracleOutcome, OracleError> {
    let n = source.epoch;
    let recomputed = verify(source, reference_log)?;
    let plan = recomputed.plan.ok_or(OracleError::NothingToAttest(n))?;
    // If the chain already knows this root, its Epoch account must carry the same values.
    if let Some(e) = ops::epoch(chain, n, &plan.root)
        .await
        .map_err(PipelineError::from)?
    {
        let mut diffs = Vec::new();
        let mut cmp = |field: &'static str, on_chain: String, computed: String| {
            if on_chain != computed {
                diffs.push(Difference::OnChain {
                    field,
                    on_chain,
                    computed,
                });
            }
        };
        cmp(
            "total_amount",
            e.total_amount.to_string(),
            plan.total_amount.to_string(),
        );
        cmp(
            "chunk_count",
            e.chunk_count.to_string(),
            plan.chunk_count.to_string(),
        );
        cmp(
            "recipient_count",
            e.recipient_count.to_string(),
            plan.recipient_count.to_string(),
        );
        cmp(
            "activity_digest",
            hex::encode(e.activity_digest),
            hex::encode(plan.activity_digest),
        );
        cmp(
            "rules_hash",
            hex::encode(e.rules_hash),
            hex::encode(plan.rules_hash),
        );
        if !diffs.is_empty() {
            return Err(OracleError::Mismatch(Mismatch {
                epoch: n,
                differences: diffs,
            }));
        }
    }
    let attestation = pipeline::attest(chain, oracle, &plan).await?;
    let after = ops::epoch(chain, n, &plan.root)
        .await
        .map_err(PipelineError::from)?;
    tracing::info!(epoch = n, oracle = %oracle.pubkey(), root = %hex::encode(plan.root), ?attestation, "oracle attested");
    Ok(OracleOutcome {
        epoch: n,
        approvals: after.as_ref().map_or(0, |e| e.approvals),
        finalized: after.as_ref().is_some_and(|e| e.finalized),
        plan,
        attestation,
    })
}
