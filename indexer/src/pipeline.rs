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

use indicatif::{ProgressBar, ProgressStyle};
use solana_address_lookup_table_interface as alt;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_sdk::{
    message::AddressLookupTableAccount, pubkey::Pubkey, signature::Keypair, signer::Signer,
};
use stk::{
    client,
    constants::MAX_CHUNK_RECIPIENTS,
    error::StkError,
    merkle::{Allocation, EpochTree},
    AttestEpochArgs, DistributeArgs,
};
use stk_scoring::Rules;

use crate::{
    chain::{ops, Chain, ChainError},
    config::Config,
    epoch::{self, EpochError},
    store::{pipeline::EpochPlan, Store, StoreError},
};

/// The persisted states, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Open,
    Frozen,
    Scored,
    Attested,
    Finalized,
    Distributing,
    Done,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Open,
        State::Frozen,
        State::Scored,
        State::Attested,
        State::Finalized,
        State::Distributing,
        State::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Frozen => "frozen",
            State::Scored => "scored",
            State::Attested => "attested",
            State::Finalized => "finalized",
            State::Distributing => "distributing",
            State::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    #[error("epoch {epoch}: stored state {state:?} is unknown")]
    UnknownState { epoch: u64, state: String },
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
    pub rules: Arc<Rules>,
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
        match self.store.epoch(n).await? {
            None => Ok(State::Open),
            Some(row) => State::parse(&row.state).ok_or(PipelineError::UnknownState {
                epoch: n,
                state: row.state,
            }),
        }
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
            .transition_epoch(n, &["open"], "frozen", epoch::template(&self.cfg))
            .await?
        {
            Ok(_) => Ok(State::Frozen),
            Err(state) if state == "frozen" => Ok(State::Frozen),
            Err(state) => Err(PipelineError::Inconsistent {
                epoch: n,
                message: format!("expected open, found {state}"),
            }),
        }
    }

    async fn score(&self, n: u64) -> Result<State, PipelineError> {
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
            self.store.advance_epoch(n, "scored", "done").await?;
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
        self.store.advance_epoch(n, "scored", "attested").await?;
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
            self.store.advance_epoch(n, "attested", "finalized").await?;
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

    /// Creates missing recipient token accounts and the lookup tables of the epoch's chunks.
    async fn prepare(&self, n: u64, report: &mut RunReport) -> Result<State, PipelineError> {
        let plan = self.plan(n).await?;
        let chain = self.chain.as_ref();
        let recipients = self.store.epoch_recipients(n).await?;
        let wallets = recipients
            .iter()
            .map(|r| parse_key(&r.wallet, n))
            .collect::<Result<Vec<_>, _>>()?;
        report.token_accounts_created +=
            ops::ensure_token_accounts(chain, &self.payer, &wallets, &client::mint_address())
                .await?;

        let chunks = self.store.epoch_chunks(n).await?;
        let per_table = self.send.chunks_per_table.max(1);
        for group in chunks.chunks(per_table) {
            if group.iter().all(|c| c.lookup_table.is_some()) {
                continue;
            }
            let first = group[0].chunk_index;
            let last = group[group.len() - 1].chunk_index;
            let mut addresses = client::distribute_fixed_accounts(n, &plan.root);
            for r in recipients
                .iter()
                .filter(|r| r.chunk_index >= first && r.chunk_index <= last)
            {
                addresses.push(parse_key(&r.token_account, n)?);
            }
            let table = ops::create_lookup_table(chain, &self.payer, &addresses).await?;
            self.store
                .record_lookup_table(n, first, last, &table.key.to_string())
                .await?;
            report.lookup_tables_created += 1;
        }
        self.store
            .advance_epoch(n, "finalized", "distributing")
            .await?;
        Ok(State::Distributing)
    }

    async fn distribute(&self, n: u64, report: &mut RunReport) -> Result<State, PipelineError> {
        let plan = self.plan(n).await?;
        let chain = self.chain.as_ref();
        let recipients = self.store.epoch_recipients(n).await?;
        let allocations = recipients
            .iter()
            .map(|r| {
                Ok(Allocation {
                    token_account: parse_key(&r.token_account, n)?,
                    amount: r.amount,
                })
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        let tree = EpochTree::build(n, allocations, MAX_CHUNK_RECIPIENTS).map_err(|e| {
            PipelineError::Inconsistent {
                epoch: n,
                message: format!("stored recipients do not build a tree: {e}"),
            }
        })?;
        if tree.root() != plan.root {
            return Err(PipelineError::Inconsistent {
                epoch: n,
                message: "stored recipients do not rebuild the stored root".into(),
            });
        }

        let chunks = self.store.epoch_chunks(n).await?;
        let unpaid: Vec<_> = chunks.iter().filter(|c| c.paid_at.is_none()).collect();
        let bar = self.progress_bar(chunks.len() as u64, format!("epoch {n}: distributing"));
        bar.set_position((chunks.len() - unpaid.len()) as u64);
        let mut tables: Vec<AddressLookupTableAccount> = Vec::new();
        let mut sent_here = 0usize;
        for chunk in unpaid {
            // The chain is the authority on what is paid: read the bitmap before every send.
            let on_chain = ops::epoch(chain, n, &plan.root).await?.ok_or_else(|| {
                PipelineError::Inconsistent {
                    epoch: n,
                    message: "the finalized Epoch account is missing".into(),
                }
            })?;
            if on_chain.is_distributed(chunk.chunk_index) {
                self.store
                    .mark_chunk_paid(n, chunk.chunk_index, None)
                    .await?;
                report.chunks_found_paid += 1;
                bar.inc(1);
                continue;
            }
            let table = match &chunk.lookup_table {
                Some(address) => {
                    let key = parse_key(address, n)?;
                    match tables.iter().find(|t| t.key == key) {
                        Some(t) => Some(t.clone()),
                        None => {
                            let t = ops::lookup_table(chain, &key).await?;
                            if let Some(t) = &t {
                                tables.push(t.clone());
                            }
                            t
                        }
                    }
                }
                None => None,
            };
            let c = &tree.chunks[chunk.chunk_index as usize];
            let args = DistributeArgs {
                epoch: n,
                root: plan.root,
                chunk_index: c.index,
                amounts: c.recipients.iter().map(|r| r.amount).collect(),
                proof: tree.proof(c.index),
            };
            let accounts: Vec<Pubkey> = c.recipients.iter().map(|r| r.token_account).collect();
            let ixs = [
                ComputeBudgetInstruction::set_compute_unit_limit(self.send.compute_unit_limit),
                ComputeBudgetInstruction::set_compute_unit_price(
                    self.send.compute_unit_price_micro_lamports,
                ),
                client::distribute(args, &accounts),
            ];
            let tables_slice = table.as_slice();
            match chain.send(&ixs, &[&self.payer], tables_slice).await {
                Ok(sent) => {
                    report.fee_lamports += sent.payer_lamports;
                    self.inject(FailPoint::AfterSendBeforeRecord)?;
                    self.store
                        .mark_chunk_paid(n, chunk.chunk_index, Some(&sent.signature.to_string()))
                        .await?;
                    report.chunks_sent += 1;
                }
                Err(e) if e.is_stk(StkError::ChunkAlreadyDistributed) => {
                    self.store
                        .mark_chunk_paid(n, chunk.chunk_index, None)
                        .await?;
                    report.chunks_found_paid += 1;
                }
                Err(e) => return Err(e.into()),
            }
            bar.inc(1);
            sent_here += 1;
            self.inject(FailPoint::AfterChunks(sent_here))?;
        }
        bar.finish_and_clear();

        let on_chain = ops::epoch(chain, n, &plan.root).await?;
        match on_chain {
            Some(e) if e.is_complete() && e.distributed_amount == plan.total_amount => {}
            other => {
                return Err(PipelineError::Inconsistent {
                    epoch: n,
                    message: format!(
                        "every chunk is recorded as paid but the chain says {} of {} chunks",
                        other.as_ref().map_or(0, |e| e.distributed_chunks),
                        plan.chunk_count
                    ),
                })
            }
        }
        self.store.advance_epoch(n, "distributing", "done").await?;
        self.release_lookup_tables(n).await;
        Ok(State::Done)
    }

    /// Deactivates the epoch's lookup tables (their rent can be reclaimed ~512 slots later). Best
    /// effort: a failure here costs rent, never money, and is retried on the next done epoch.
    async fn release_lookup_tables(&self, n: u64) {
        let Ok(tables) = self.store.active_lookup_tables(n).await else {
            return;
        };
        for address in tables {
            let Ok(key) = address.parse::<Pubkey>() else {
                continue;
            };
            let ix = alt::instruction::deactivate_lookup_table(key, self.payer.pubkey());
            match self.chain.send(&[ix], &[&self.payer], &[]).await {
                Ok(_) => {
                    let _ = self.store.mark_lookup_table_deactivated(&address).await;
                }
                Err(e) => {
                    tracing::warn!(epoch = n, table = %address, error = %e, "lookup table not deactivated")
                }
            }
        }
    }

    /// Closes deactivated lookup tables whose cooldown is over (their slot has left the SlotHashes
    /// sysvar, ~512 slots), returning their rent to the payer. Returns how many were closed. Best
    /// effort: a table still cooling down is tried again on the next tick.
    pub async fn reclaim_lookup_tables(&self) -> usize {
        let Ok(tables) = self.store.deactivated_lookup_tables().await else {
            return 0;
        };
        let mut closed = 0;
        for address in tables {
            let Ok(key) = address.parse::<Pubkey>() else {
                continue;
            };
            if matches!(self.chain.account(&key).await, Ok(None)) {
                // Closed already (by an earlier run that crashed before recording it).
                let _ = self.store.mark_lookup_table_closed(&address).await;
                continue;
            }
            let ix =
                alt::instruction::close_lookup_table(key, self.payer.pubkey(), self.payer.pubkey());
            match self.chain.send(&[ix], &[&self.payer], &[]).await {
                Ok(_) => {
                    let _ = self.store.mark_lookup_table_closed(&address).await;
                    closed += 1;
                }
                Err(e) => {
                    tracing::debug!(table = %address, error = %e, "lookup table not closable yet")
                }
            }
        }
        closed
    }

    fn progress_bar(&self, len: u64, message: String) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} chunks ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(message);
        bar
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
            .filter(|e| e.state != State::Done.as_str() && e.ends_at <= now)
        {
            let (state, _) = self.run(row.epoch).await?;
            out.push((row.epoch, state));
            if state != State::Done {
                break;
            }
        }
        Ok(out)
    }

    /// Runs [`Pipeline::tick`] every `interval` until `token` is cancelled. With `local_clock`, the
    /// in-process chain's clock is moved to the wall clock before each tick (it does not advance alone).
    pub fn spawn_scheduler(
        self,
        interval: Duration,
        token: tokio_util::sync::CancellationToken,
        local_clock: Option<crate::chain::local::LocalChainClient>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                if let Some(clock) = &local_clock {
                    let now = crate::store::now_unix();
                    if clock.unix_time().await.is_ok_and(|t| t < now) {
                        clock.set_time(now).await;
                    }
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

fn parse_key(s: &str, epoch: u64) -> Result<Pubkey, PipelineError> {
    s.parse().map_err(|_| PipelineError::Inconsistent {
        epoch,
        message: format!("stored address {s:?} is not a public key"),
    })
}
