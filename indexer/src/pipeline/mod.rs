//! The epoch state machine (DESIGN.md §4), persisted in the store and resumable at any point:
//!
//! `open → frozen → scored → attested → finalized → distributing → done`
//!
//! * **frozen**: no more activity is accepted for the epoch (it has ended on the chain's clock).
//! * **scored**: allocations, receipts and the allocation tree (recipients, chunks, root) are stored,
//!   in one transaction.
//! * **attested**: our oracle's attestation of the root is confirmed on chain (or we run no oracle).
//! * **finalized**: the program has seen `threshold` identical attestations.
//! * **distributing**: recipients' token accounts exist and lookup tables carry them; chunks are being
//!   paid. Before each send the chunk bitmap of the `Epoch` account is read: a chunk paid by anyone
//!   (another crank, a member, a run that crashed before recording) is recorded, never paid again.
//! * **done**: every chunk is paid; the chain agrees.
//!
//! Every step reads what it needs from the store and the chain, so a crash anywhere resumes from the
//! last recorded state without paying twice and without losing activity.
use std::{sync::Arc, time::Duration};

use solana_sdk::signature::Keypair;
use stk_scoring::RuleSet;

use crate::{
    chain::{ops, Chain, ChainError},
    config::Config,
    epoch::{self, EpochError},
    store::{EpochPlan, Store, StoreError},
};

mod attest;
mod distribute;

/// The persisted states (the store's [`EpochState`](crate::store::EpochState)), in order.
pub use crate::store::EpochState as State;
pub use attest::{attest, Attestation};

/// A deliberate crash, for the crash-safety tests: the run stops with `PipelineError::Injected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Right after the store has recorded this state.
    AfterTransition(State),
    /// After this many chunks have been paid and recorded in this run.
    AfterChunks(usize),
    /// After a chunk's transaction is confirmed, before it is recorded.
    AfterSendBeforeRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(
        "epoch {epoch} has not ended on the chain's clock (ends at {ends_at}, chain time {now})"
    )]
    NotEnded { epoch: u64, ends_at: i64, now: i64 },
    #[error("epoch {epoch}: another root was finalized on chain; ours ({root}) cannot be paid")]
    Superseded { epoch: u64, root: String },
    #[error("epoch {0} has no stored allocation tree; score it first")]
    NoPlan(u64),
    #[error("the STK program is not initialized on {0}")]
    NotInitialized(String),
    #[error("epoch {epoch}: {message}")]
    Inconsistent { epoch: u64, message: String },
    #[error("injected failure at {0:?}")]
    Injected(FailPoint),
    #[error(transparent)]
    Epoch(#[from] EpochError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Transaction settings for `distribute`.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    pub compute_unit_limit: u32,
    pub compute_unit_price_micro_lamports: u64,
    /// Chunks whose recipients share one address lookup table (6 fixed + 4 × 55 = 226 of 256).
    pub chunks_per_table: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            compute_unit_limit: 600_000,
            compute_unit_price_micro_lamports: 1_000,
            chunks_per_table: 4,
        }
    }
}

/// Runs epochs through the state machine.
#[derive(Clone)]
pub struct Pipeline {
    pub store: Store,
    pub cfg: Arc<Config>,
    pub rules: Arc<RuleSet>,
    pub chain: Arc<dyn Chain>,
    /// Pays for token accounts, lookup tables and `distribute` fees.
    pub payer: Arc<Keypair>,
    /// Our oracle key; `None` when this service does not attest.
    pub oracle: Option<Arc<Keypair>>,
    pub send: SendOptions,
    pub fail: Option<FailPoint>,
    /// Show progress bars (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// What one `run` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub transitions: Vec<(State, State)>,
    pub chunks_sent: usize,
    pub chunks_found_paid: usize,
    pub token_accounts_created: usize,
    pub lookup_tables_created: usize,
    pub fee_lamports: u64,
}

impl Pipeline {
    /// The epoch's stored state (`open` when the store has no row for it).
    pub async fn state(&self, n: u64) -> Result<State, PipelineError> {
        Ok(self
            .store
            .epoch(n)
            .await?
            .map_or(State::Open, |row| row.state))
    }

    /// Advances epoch `n` as far as it can go now: to `done`, or to `attested` while the other oracles
    /// have not reached the threshold yet (run again later).
    pub async fn run(&self, n: u64) -> Result<(State, RunReport), PipelineError> {
        let mut report = RunReport::default();
        loop {
            let state = self.state(n).await?;
            let next = match state {
                State::Open => self.freeze(n).await?,
                State::Frozen => self.score(n).await?,
                State::Scored => self.attest(n).await?,
                State::Attested => {
                    if !self.check_finalized(n).await? {
                        return Ok((State::Attested, report));
                    }
                    State::Finalized
                }
                State::Finalized => self.prepare(n, &mut report).await?,
                State::Distributing => self.distribute(n, &mut report).await?,
                State::Done => return Ok((State::Done, report)),
            };
            tracing::info!(epoch = n, from = %state, to = %next, "epoch advanced");
            report.transitions.push((state, next));
            self.inject(FailPoint::AfterTransition(next))?;
        }
    }

    /// Runs epoch `n` until it is done, polling every `poll` while waiting for the other oracles, up to
    /// `timeout`.
    pub async fn run_until_done(
        &self,
        n: u64,
        poll: Duration,
        timeout: Duration,
    ) -> Result<RunReport, PipelineError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut total = RunReport::default();
        loop {
            let (state, report) = self.run(n).await?;
            total.transitions.extend(report.transitions);
            total.chunks_sent += report.chunks_sent;
            total.chunks_found_paid += report.chunks_found_paid;
            total.token_accounts_created += report.token_accounts_created;
            total.lookup_tables_created += report.lookup_tables_created;
            total.fee_lamports += report.fee_lamports;
            if state == State::Done {
                return Ok(total);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(total);
            }
            tokio::time::sleep(poll).await;
        }
    }

    fn inject(&self, at: FailPoint) -> Result<(), PipelineError> {
        if self.fail == Some(at) {
            return Err(PipelineError::Injected(at));
        }
        Ok(())
    }

    async fn freeze(&self, n: u64) -> Result<State, PipelineError> {
        let (_, ends_at) = self.cfg.epoch_window(n);
        let now = self.chain.unix_time().await?;
        if now < ends_at {
            return Err(PipelineError::NotEnded {
                epoch: n,
                ends_at,
                now,
            });
        }
        match self
            .store
            .transition_epoch(n, &[State::Open], State::Frozen, epoch::template(&self.cfg))
            .await
        {
            Ok(_)
            | Err(StoreError::WrongState {
                actual: State::Frozen,
                ..
            }) => Ok(State::Frozen),
            Err(e) => Err(e.into()),
        }
    }

    async fn score(&self, n: u64) -> Result<State, PipelineError> {
        // The budget is at most what the chain lets this epoch mint (its period's vault inflow, valued
        // at the floor); an epoch without inflow pays nothing and is not attested.
        let chain = self.chain.as_ref();
        let config = ops::config(chain)
            .await?
            .ok_or_else(|| PipelineError::NotInitialized(chain.describe()))?;
        let allowed = ops::emission_allowance(chain, &config, n).await?;
        let budget = self.store.cap_epoch_budget(n, allowed).await?;
        tracing::info!(
            epoch = n,
            allowed,
            budget,
            "budget within the emission rule"
        );
        epoch::score(&self.store, &self.cfg, &self.rules, n, false).await?;
        Ok(State::Scored)
    }

    async fn plan(&self, n: u64) -> Result<EpochPlan, PipelineError> {
        self.store
            .epoch_plan(n)
            .await?
            .ok_or(PipelineError::NoPlan(n))
    }

    async fn attest(&self, n: u64) -> Result<State, PipelineError> {
        let Some(plan) = self.store.epoch_plan(n).await? else {
            // Nobody qualified: nothing to attest, nothing to pay.
            tracing::info!(epoch = n, "no recipients: the epoch is done");
            self.store
                .advance_epoch(n, State::Scored, State::Done)
                .await?;
            return Ok(State::Done);
        };
        if let Some(oracle) = &self.oracle {
            match attest(self.chain.as_ref(), oracle, &plan).await? {
                Attestation::Sent(signature) => {
                    self.store.record_attestation(n, &signature).await?;
                }
                Attestation::AlreadyCounted => {}
            }
        }
        self.store
            .advance_epoch(n, State::Scored, State::Attested)
            .await?;
        Ok(State::Attested)
    }

    /// True once our root is finalized on chain; an error if another root was.
    async fn check_finalized(&self, n: u64) -> Result<bool, PipelineError> {
        let plan = self.plan(n).await?;
        let chain = self.chain.as_ref();
        if ops::epoch(chain, n, &plan.root)
            .await?
            .is_some_and(|e| e.finalized)
        {
            self.store
                .advance_epoch(n, State::Attested, State::Finalized)
                .await?;
            return Ok(true);
        }
        let config = ops::config(chain)
            .await?
            .ok_or_else(|| PipelineError::NotInitialized(chain.describe()))?;
        if config.next_epoch > n {
            return Err(PipelineError::Superseded {
                epoch: n,
                root: hex::encode(plan.root),
            });
        }
        Ok(false)
    }
}

impl Pipeline {
    /// Advances ended epochs, oldest first, and stops at the first one that is not done: epochs finalize
    /// on chain in order, and attesting epoch n+1 before n is final could leave n unpayable.
    pub async fn tick(&self) -> Result<Vec<(u64, State)>, PipelineError> {
        self.reclaim_lookup_tables().await;
        let now = self.chain.unix_time().await?;
        let mut epochs = self.store.epochs().await?;
        epochs.sort_by_key(|e| e.epoch);
        let mut out = Vec::new();
        for row in epochs
            .into_iter()
            .filter(|e| e.state != State::Done && e.ends_at <= now)
        {
            let (state, _) = self.run(row.epoch).await?;
            out.push((row.epoch, state));
            if state != State::Done {
                break;
            }
        }
        Ok(out)
    }

    /// Runs [`Pipeline::tick`] every `interval` until `token` is cancelled. Before each tick the chain
    /// follows the wall clock ([`Chain::follow_wall_clock`]: the in-process chain does not advance alone).
    pub fn spawn_scheduler(
        self,
        interval: Duration,
        token: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                // The in-process chain follows the wall clock; a cluster keeps its own.
                if let Err(e) = self.chain.follow_wall_clock(crate::store::now_unix()).await {
                    tracing::warn!(error = %e, "scheduler: reading the chain's clock failed");
                }
                match self.tick().await {
                    Ok(done) => {
                        for (epoch, state) in done {
                            tracing::info!(epoch, state = %state, "scheduler");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "scheduler: epoch not advanced; retrying next tick")
                    }
                }
            }
        })
    }
}
