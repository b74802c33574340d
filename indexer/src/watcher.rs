//! The chain watcher (DESIGN.md §4): the STK program's events go into the store, once each, and STK
//! moving to or from members' wallets goes into a per-member ledger; [`timeline`] merges a member's
//! activity, points and ledger for `GET /v1/members/{id}/timeline`.
//!
//! * `chain_events`: every program event, unique by (transaction signature, position of the event in
//!   that transaction), with its decoded fields as JSON.
//! * `member_ledger`: `received` (one row per recipient of a `ChunkDistributed`; token account →
//!   member through the epoch's frozen recipients), `sold_back` (`SoldBack`), `paid_access`
//!   (`AccessPaid`), `bought_premium` (`PremiumPurchased`); wallet → member through `members.wallet`,
//!   else the newest binding proof of that wallet.
//! * `watcher_cursor`: how far the events have been read, advanced in the same transaction as the
//!   rows it covers. Re-reading from any cursor (or from scratch) inserts nothing twice.
//!
//! `observed_at` is the chain's clock when the watcher stored the event (the [`Chain`] trait does not
//! report block times); it orders the timeline and is the only column a re-run from scratch changes.
use std::sync::Arc;
use std::time::Duration;

use anchor_spl::token::spl_token;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use solana_sdk::{program_pack::Pack, pubkey::Pubkey};
use stk::client::StkEvent;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::{
    chain::{Chain, ChainError, ChainEvent},
    store::{ChainEventRow, NewChainEvent, NewLedger, Store, StoreError, StoreResult, TimelineKey},
    wallet::rfc3339,
};

/// Events read per call to [`Chain::events`].
pub const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum WatcherError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub use crate::store::{Cursor, LedgerRow};

/// Where the watcher stands.
pub async fn cursor(store: &Store) -> StoreResult<Option<Cursor>> {
    store.watcher_cursor().await
}

/// Reads every program event after the stored cursor, in batches of [`BATCH`], and stores them.
/// Returns how many events were new (0 when caught up; events already stored are not counted).
pub async fn run_once(store: &Store, chain: &dyn Chain) -> Result<usize, WatcherError> {
    run_once_batched(store, chain, BATCH).await
}

/// [`run_once`] reading `batch` events per call (a transaction's events may straddle two calls).
pub async fn run_once_batched(
    store: &Store,
    chain: &dyn Chain,
    batch: usize,
) -> Result<usize, WatcherError> {
    let mut stored = 0usize;
    loop {
        let at = cursor(store).await?;
        let events = chain
            .events(at.as_ref().map(|c| c.cursor.as_str()), batch.max(1))
            .await?;
        if events.is_empty() {
            return Ok(stored);
        }
        let observed_at = chain.unix_time().await?;
        let (mut last_signature, mut last_ordinal) = at
            .map(|c| (c.last_signature, c.last_ordinal))
            .unwrap_or_default();
        // Everything that needs reads (store or chain) happens before the write transaction.
        let mut prepared = Vec::with_capacity(events.len());
        for ev in &events {
            let ordinal = if ev.signature == last_signature {
                last_ordinal + 1
            } else {
                0
            };
            last_signature.clone_from(&ev.signature);
            last_ordinal = ordinal;
            let (epoch, data) = event_json(&ev.event);
            prepared.push(NewChainEvent {
                signature: ev.signature.clone(),
                ordinal,
                slot: ev.slot,
                name: ev.event.name(),
                epoch,
                data: data.to_string(),
                ledger: ledger_rows(store, chain, ev).await?,
            });
        }
        let last_cursor = events.last().expect("non-empty").cursor.clone();
        let to = Cursor {
            cursor: last_cursor.clone(),
            last_signature,
            last_ordinal,
        };
        stored += store
            .store_chain_events(&prepared, &to, observed_at)
            .await?;
        tracing::debug!(events = events.len(), cursor = %last_cursor, "watcher stored a batch");
    }
}

/// Runs [`run_once`] every `interval` until `token` is cancelled (errors are logged and retried).
pub fn spawn(
    store: Store,
    chain: Arc<dyn Chain>,
    interval: Duration,
    token: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&store, chain.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "watcher stored program events"),
                Err(e) => tracing::warn!(error = %e, "watcher run failed; retrying"),
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}

/// Forgets everything the watcher stored (the next run reads from the first event again).
pub async fn reset(store: &Store) -> StoreResult<()> {
    store.reset_chain_events().await
}

async fn ledger_rows(
    store: &Store,
    chain: &dyn Chain,
    ev: &ChainEvent,
) -> Result<Vec<NewLedger>, WatcherError> {
    let single = |member_id, wallet: &Pubkey, kind, stk_amount, quote_amount| {
        vec![NewLedger {
            position: 0,
            member_id,
            wallet: wallet.to_string(),
            kind,
            stk_amount,
            quote_amount,
            epoch: None,
        }]
    };
    Ok(match &ev.event {
        StkEvent::ChunkDistributed(c) => {
            let known = store.chunk_recipients(c.epoch, c.chunk_index).await?;
            let mut rows = Vec::with_capacity(c.recipients.len());
            for (i, (account, amount)) in c.recipients.iter().zip(&c.amounts).enumerate() {
                let (member_id, wallet) = match known.get(&account.to_string()) {
                    Some((m, w)) => (Some(m.clone()), w.clone()),
                    // An epoch this store did not score: the token account's owner, if it still exists.
                    None => {
                        let owner = chain.account(account).await?.and_then(|a| {
                            spl_token::state::Account::unpack(&a.data)
                                .ok()
                                .map(|t| t.owner.to_string())
                        });
                        match owner {
                            Some(o) => (store.member_of_wallet(&o).await?, o),
                            None => (None, account.to_string()),
                        }
                    }
                };
                rows.push(NewLedger {
                    position: i as i64,
                    member_id,
                    wallet,
                    kind: "received",
                    stk_amount: *amount,
                    quote_amount: None,
                    epoch: Some(c.epoch),
                });
            }
            rows
        }
        // A tender claim is a sale of its filled part (nothing sold when the window bought none).
        StkEvent::OrderClaimed(c) if c.filled_stk > 0 => single(
            store.member_of_wallet(&c.member.to_string()).await?,
            &c.member,
            "sold_back",
            c.filled_stk,
            Some(c.quote_amount),
        ),
        StkEvent::AccessPaid(a) => single(
            store.member_of_wallet(&a.member.to_string()).await?,
            &a.member,
            "paid_access",
            a.stk_amount,
            None,
        ),
        StkEvent::PremiumPurchased(p) => single(
            store.member_of_wallet(&p.investor.to_string()).await?,
            &p.investor,
            "bought_premium",
            p.stk_amount,
            Some(p.quote_amount),
        ),
        _ => Vec::new(),
    })
}

/// The epoch an event is about (if any) and its fields as JSON (keys base58, hashes hex).
pub fn event_json(event: &StkEvent) -> (Option<u64>, Value) {
    let k = |p: &Pubkey| p.to_string();
    match event {
        StkEvent::Initialized(e) => (
            None,
            json!({"admin": k(&e.admin), "stk_mint": k(&e.stk_mint), "quote_mint": k(&e.quote_mint),
                   "oracle_count": e.oracle_count, "threshold": e.threshold,
                   "genesis_ts": e.genesis_ts, "epoch_duration": e.epoch_duration}),
        ),
        StkEvent::OraclesSet(e) => (
            None,
            json!({"oracles": e.oracles.iter().map(k).collect::<Vec<_>>(),
                   "threshold": e.threshold, "config_version": e.config_version}),
        ),
        StkEvent::LimitsUpdated(e) => (
            None,
            json!({"max_emission_per_epoch": e.max_emission_per_epoch,
                   "rate_window_secs": e.rate_window_secs, "rate_threshold": e.rate_threshold,
                   "max_supply": e.max_supply, "premium_bps": e.premium_bps,
                   "investor_allocation_remaining": e.investor_allocation_remaining,
                   "investor_allowlist": e.investor_allowlist, "config_version": e.config_version}),
        ),
        StkEvent::PausedSet(e) => (None, json!({"paused": e.paused})),
        StkEvent::AdminProposed(e) => (
            None,
            json!({"admin": k(&e.admin), "pending_admin": k(&e.pending_admin)}),
        ),
        StkEvent::AdminAccepted(e) => (
            None,
            json!({"previous_admin": k(&e.previous_admin), "admin": k(&e.admin)}),
        ),
        StkEvent::InvestorSet(e) => (None, json!({"wallet": k(&e.wallet), "allowed": e.allowed})),
        StkEvent::EpochAttested(e) => (
            Some(e.epoch),
            json!({"epoch": e.epoch, "root": hex::encode(e.root), "oracle": k(&e.oracle),
                   "approvals": e.approvals, "config_version": e.config_version}),
        ),
        StkEvent::EpochFinalized(e) => (
            Some(e.epoch),
            json!({"epoch": e.epoch, "root": hex::encode(e.root), "total_amount": e.total_amount,
                   "chunk_count": e.chunk_count, "recipient_count": e.recipient_count}),
        ),
        StkEvent::ChunkDistributed(e) => (
            Some(e.epoch),
            json!({"epoch": e.epoch, "root": hex::encode(e.root), "chunk_index": e.chunk_index,
                   "recipients": e.recipients.iter().map(k).collect::<Vec<_>>(),
                   "amounts": e.amounts, "chunk_total": e.chunk_total,
                   "distributed_amount": e.distributed_amount, "complete": e.complete}),
        ),
        StkEvent::RevenueDeposited(e) => (
            None,
            json!({"depositor": k(&e.depositor), "amount": e.amount, "vault_balance": e.vault_balance}),
        ),
        StkEvent::PremiumPurchased(e) => (
            None,
            json!({"investor": k(&e.investor), "stk_amount": e.stk_amount,
                   "quote_amount": e.quote_amount, "floor_price": e.floor_price,
                   "premium_bps": e.premium_bps, "to_vault": e.to_vault,
                   "to_treasury": e.to_treasury}),
        ),
        StkEvent::AccessPaid(e) => (
            None,
            json!({"member": k(&e.member), "plan_id": e.plan_id, "period_secs": e.period_secs,
                   "stk_amount": e.stk_amount, "fiat_price": e.fiat_price,
                   "discount_bps": e.discount_bps, "floor_price": e.floor_price,
                   "reference": hex::encode(e.reference)}),
        ),
        StkEvent::PlanSet(e) => (
            None,
            json!({"plan_id": e.plan_id, "period_secs": e.period_secs, "fiat_price": e.fiat_price,
                   "discount_bps": e.discount_bps, "active": e.active, "created": e.created}),
        ),
        StkEvent::TreasuryWithdrawn(e) => (
            None,
            json!({"destination": k(&e.destination), "amount": e.amount}),
        ),
        StkEvent::VaultFunded(e) => (
            None,
            json!({"amount": e.amount, "vault_balance": e.vault_balance}),
        ),
        StkEvent::TenderWindowAnnounced(e) => (
            None,
            json!({"window_id": e.window_id, "price": e.price, "capacity": e.capacity,
                   "opens_at": e.opens_at, "closes_at": e.closes_at, "rule_price": e.rule_price,
                   "rule_capacity": e.rule_capacity, "floor_price": e.floor_price}),
        ),
        StkEvent::OrderPlaced(e) => (
            None,
            json!({"window_id": e.window_id, "member": k(&e.member), "stk_amount": e.stk_amount,
                   "order_amount": e.order_amount, "window_requested": e.window_requested}),
        ),
        StkEvent::TenderWindowSettled(e) => (
            None,
            json!({"window_id": e.window_id, "requested": e.requested, "filled": e.filled,
                   "price": e.price, "released": e.released}),
        ),
        StkEvent::TenderWindowCancelled(e) => (
            None,
            json!({"window_id": e.window_id, "released": e.released}),
        ),
        StkEvent::OrderClaimed(e) => (
            None,
            json!({"window_id": e.window_id, "member": k(&e.member), "order_amount": e.order_amount,
                   "filled_stk": e.filled_stk, "quote_amount": e.quote_amount,
                   "returned_stk": e.returned_stk}),
        ),
    }
}

// ------------------------------------------------------------------ reading back

/// Ledger rows (of one member, or all), in chain order.
pub async fn ledger(store: &Store, member: Option<&str>) -> StoreResult<Vec<LedgerRow>> {
    store.ledger(member).await
}

/// Stored program events: (signature, ordinal, name, epoch, data JSON), in chain order.
pub async fn chain_events(store: &Store) -> StoreResult<Vec<ChainEventRow>> {
    store.chain_events().await
}

// ------------------------------------------------------------------ timeline

/// One entry of a member's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineItem {
    /// `activity`, `points` (the member's scored result of an epoch), `received` (STK paid by a
    /// distribution), `sold_back`, `paid_access` or `bought_premium`.
    #[serde(rename = "type")]
    pub item_type: String,
    /// When it happened (RFC 3339): the activity's `occurred_at`, the end of the epoch the points
    /// were earned in, or the chain's clock when the watcher saw the transaction.
    pub at: String,
    pub at_unix: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Activity id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Activity kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Score (milli-points) of a `points` entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    /// STK base units: the allocation (`points`) or the amount moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    /// Quote base units paid out (`sold_back`) or paid in (`bought_premium`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_amount: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
}

/// STK totals of a member, in base units, from the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineTotals {
    pub received: u64,
    pub sold: u64,
    /// Quote received for the STK sold back.
    pub sold_for_quote: u64,
    /// STK burned to pay for access.
    pub spent: u64,
    pub bought: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    pub member: String,
    pub wallet: Option<String>,
    /// At most `limit` items, oldest first.
    pub items: Vec<TimelineItem>,
    /// The member's totals (all of them, not just this page's).
    pub totals: TimelineTotals,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn item(item_type: &str, at_unix: i64) -> TimelineItem {
    TimelineItem {
        item_type: item_type.to_string(),
        at: rfc3339(at_unix),
        at_unix,
        epoch: None,
        id: None,
        kind: None,
        score: None,
        amount: None,
        quote_amount: None,
        signature: None,
        slot: None,
    }
}

/// One page of a member's timeline: at most `limit` items after `after` (use
/// [`TimelineKey::start`] for the first page), and the key of the last item when more follow.
/// Each source is read with its own bounded keyset query (`LIMIT limit + 1`), then merged;
/// totals are aggregated by the database. `None` if the member does not exist.
pub async fn timeline(
    store: &Store,
    member: &str,
    after: &TimelineKey,
    limit: usize,
) -> StoreResult<Option<(Timeline, Option<TimelineKey>)>> {
    let Some(m) = store.member(member).await? else {
        return Ok(None);
    };
    let fetch = limit as i64 + 1;
    let mut items: Vec<(TimelineKey, TimelineItem)> = Vec::new();
    for (id, kind, at, epoch) in store.member_activities_page(member, after, fetch).await? {
        let mut it = item("activity", at);
        it.epoch = Some(epoch);
        it.id = Some(id.clone());
        it.kind = Some(kind);
        let key = TimelineKey {
            at,
            rank: 0,
            id,
            ..Default::default()
        };
        items.push((key, it));
    }
    for (epoch, score, amount, at) in store.member_points_page(member, after, fetch).await? {
        let mut it = item("points", at);
        it.epoch = Some(epoch);
        it.score = Some(score);
        it.amount = Some(amount);
        let key = TimelineKey {
            at,
            rank: 1,
            epoch: epoch as i64,
            ..Default::default()
        };
        items.push((key, it));
    }
    for (l, event) in store.member_ledger_page(member, after, fetch).await? {
        let mut it = item(&l.kind, l.observed_at);
        it.epoch = l.epoch;
        it.amount = Some(l.stk_amount);
        it.quote_amount = l.quote_amount;
        it.signature = Some(l.signature);
        it.slot = Some(l.slot);
        let key = TimelineKey {
            at: l.observed_at,
            rank: 2,
            slot: l.slot as i64,
            event,
            position: l.position,
            ..Default::default()
        };
        items.push((key, it));
    }
    // Within a second: activity before points before chain movements (in chain order).
    items.sort_by(|(a, _), (b, _)| {
        (a.at, a.rank, &a.id, a.epoch, a.slot, a.event, a.position)
            .cmp(&(b.at, b.rank, &b.id, b.epoch, b.slot, b.event, b.position))
    });
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    let mut totals = TimelineTotals::default();
    for (kind, stk, quote) in store.member_ledger_totals(member).await? {
        match kind.as_str() {
            "received" => totals.received += stk,
            "sold_back" => {
                totals.sold += stk;
                totals.sold_for_quote += quote;
            }
            "paid_access" => totals.spent += stk,
            "bought_premium" => totals.bought += stk,
            _ => {}
        }
    }
    Ok(Some((
        Timeline {
            member: m.id,
            wallet: m.wallet,
            items: items.into_iter().map(|(_, it)| it).collect(),
            totals,
            next_cursor: None,
        },
        next,
    )))
}
