//! The paying half of the pipeline: recipients' token accounts and lookup tables (`finalized →
//! distributing`), the chunks (`distributing → done`, the chain's bitmap read before every send), and
//! the lookup tables' rent, reclaimed once they are closed.
use indicatif::{ProgressBar, ProgressStyle};
use solana_address_lookup_table_interface as alt;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_sdk::{message::AddressLookupTableAccount, pubkey::Pubkey, signer::Signer};
use stk::{
    client,
    constants::MAX_CHUNK_RECIPIENTS,
    error::StkError,
    merkle::{Allocation, EpochTree},
    DistributeArgs,
};

use super::{FailPoint, Pipeline, PipelineError, RunReport, State};
use crate::chain::ops;

impl Pipeline {
    /// Creates missing recipient token accounts and the lookup tables of the epoch's chunks.
    pub(super) async fn prepare(
        &self,
        n: u64,
        report: &mut RunReport,
    ) -> Result<State, PipelineError> {
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
            .advance_epoch(n, State::Finalized, State::Distributing)
            .await?;
        Ok(State::Distributing)
    }

    pub(super) async fn distribute(
        &self,
        n: u64,
        report: &mut RunReport,
    ) -> Result<State, PipelineError> {
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
        self.store
            .advance_epoch(n, State::Distributing, State::Done)
            .await?;
        self.release_lookup_tables(n).await;
        Ok(State::Done)
    }

    /// Deactivates the epoch's lookup tables (their rent can be reclaimed ~512 slots later). Best
    /// effort: a failure here costs rent, never money, and is retried on the next done epoch.
    pub(super) async fn release_lookup_tables(&self, n: u64) {
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

fn parse_key(s: &str, epoch: u64) -> Result<Pubkey, PipelineError> {
    s.parse().map_err(|_| PipelineError::Inconsistent {
        epoch,
        message: format!("stored address {s:?} is not a public key"),
    })
}
