//! Oracle mode (DESIGN.md §4): the primary service publishes each scored epoch's canonical activity
//! log, the exact rules file and every recipient's wallet-binding proof (`GET /v1/epochs/{n}/log`,
//! built by [`epoch_log`]); a community oracle fetches it ([`fetch`]), re-checks everything, recomputes
//! the allocation and its root with the same code, and attests only if every value is identical
//! ([`verify_and_attest`]). What it attests is what it computed, never what it was served.
//!
//! | module | role |
//! |---|---|
//! | [`wire`] | the published log's JSON shape |
//! | [`publish`] | building it from the store (primary service) |
//! | [`fetch`](mod@fetch) | fetching it over HTTP (oracle) |
//! | [`verify`](mod@verify) | pure checks and the recomputation |
//! | [`attest`] | comparing with the chain and attesting |
pub mod attest;
mod evidence;
pub mod fetch;
pub mod forum;
pub mod publish;
pub mod verify;
pub mod wire;

pub use attest::{verify_and_attest, verify_and_attest_against};
pub use fetch::{fetch, fetch_bounded, MAX_LOG_RESPONSE_BYTES};
pub use publish::{epoch_log, LogServeError};
pub use verify::{
    differing_lines, first_differing_line, verify, BindingProblem, Difference, Mismatch, Recomputed,
};
pub use wire::{BindingProof, EpochLogResponse, ServedAllocation};

use crate::{
    pipeline::{Attestation, PipelineError},
    store::{EpochPlan, EpochState},
};

#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url} answered {status}: {message}")]
    Source {
        url: String,
        status: u16,
        message: String,
    },
    #[error("epoch {epoch} is {state} at the source; only scored epochs can be attested")]
    NotScored { epoch: u64, state: EpochState },
    #[error("epoch {0}: nobody is paid, there is no root to attest")]
    NothingToAttest(u64),
    #[error("{0}")]
    Mismatch(Mismatch),
    #[error("scoring: {0}")]
    Scoring(#[from] stk_scoring::AnyError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// What an oracle computed and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleOutcome {
    pub epoch: u64,
    /// The plan built from the recomputed values (what was attested).
    pub plan: EpochPlan,
    pub attestation: Attestation,
    /// Approvals bitmask and finalized flag of the root's Epoch account after attesting.
    pub approvals: u16,
    pub finalized: bool,
}
