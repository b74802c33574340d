//! Publishing: the primary service builds an epoch's log from its store.
use std::collections::BTreeMap;

use stk_scoring::RuleSet;

use super::wire::{
    BindingProof, EpochEvidence, EpochLogResponse, EventSignature, ServedAllocation, SignedRecord,
};
use crate::{
    config::Config,
    epoch,
    store::{EpochState, RecipientProofRow, Store, StoreError},
};

/// Why the log of an epoch cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogServeError {
    #[error("epoch {0} is unknown")]
    Unknown(u64),
    #[error("epoch {epoch} is {state}; its log is published once it is scored")]
    NotScored { epoch: u64, state: EpochState },
    #[error("this service has no rules text matching its rules (check scoring.rules_path)")]
    RulesUnavailable,
    #[error("epoch {epoch} was scored with rules {scored}, this service runs rules {loaded} and has no copy of the former; serve it with the rules file it was scored with")]
    RulesMismatch {
        epoch: u64,
        scored: String,
        loaded: String,
    },
    #[error("epoch {epoch}: {message}")]
    LogUnavailable { epoch: u64, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds the published log of epoch `n` (scored or later). `rules_toml` is the text of the rules
/// file the service runs (`rules` parsed from it).
pub async fn epoch_log(
    store: &Store,
    cfg: &Config,
    rules: &RuleSet,
    rules_toml: Option<&str>,
    n: u64,
) -> Result<EpochLogResponse, LogServeError> {
    let row = store.epoch(n).await?.ok_or(LogServeError::Unknown(n))?;
    if !row.state.is_scored() {
        return Err(LogServeError::NotScored {
            epoch: n,
            state: row.state,
        });
    }
    let loaded = hex::encode(rules.hash());
    let scored_rules = row.rules_hash.clone().unwrap_or_default();
    // The epoch's own rules: the running ones, or the text kept when it was scored.
    let rules_toml: String = if scored_rules == loaded {
        rules_toml
            .ok_or(LogServeError::RulesUnavailable)?
            .to_owned()
    } else {
        store
            .rules_text(&scored_rules)
            .await?
            .ok_or_else(|| LogServeError::RulesMismatch {
                epoch: n,
                scored: scored_rules.clone(),
                loaded: loaded.clone(),
            })?
    };
    let epoch_rules = match RuleSet::from_toml(&rules_toml) {
        Ok(r) if hex::encode(r.hash()) == scored_rules => r,
        _ => {
            return Err(LogServeError::RulesMismatch {
                epoch: n,
                scored: scored_rules,
                loaded,
            })
        }
    };
    let rules = &epoch_rules;
    let digest = row.activity_digest.clone().unwrap_or_default();
    let log = match store.epoch_log(n).await? {
        Some((stored_digest, log)) if stored_digest == digest => log,
        Some((stored_digest, _)) => {
            return Err(LogServeError::LogUnavailable {
                epoch: n,
                message: format!(
                    "the stored log hashes to {stored_digest}, the epoch was scored with {digest}"
                ),
            })
        }
        None => {
            // Scored before logs were kept: rebuild it, and serve it only if it is still the same.
            let input = epoch::build_input(store, cfg, rules, n)
                .await
                .map_err(|e| LogServeError::LogUnavailable {
                    epoch: n,
                    message: format!("rebuilding the log: {e}"),
                })?;
            if hex::encode(input.activity_digest()) != digest {
                return Err(LogServeError::LogUnavailable {
                    epoch: n,
                    message: "the epoch was scored before logs were kept and its log can no \
                              longer be rebuilt identically"
                        .into(),
                });
            }
            let log = String::from_utf8(input.canonical_log()).map_err(|_| {
                LogServeError::LogUnavailable {
                    epoch: n,
                    message: "the rebuilt log is not UTF-8".into(),
                }
            })?;
            store.save_epoch_log(n, &digest, &log).await?;
            log
        }
    };
    let plan = store.epoch_plan(n).await?;
    let scored_at = row.scored_at.unwrap_or(i64::MAX);
    // The binding in force when the epoch was scored (`epoch_recipients.wallet`), proven by the newest
    // proof for that (member, wallet) made before scoring, else the newest one.
    let mut by_member: BTreeMap<String, Vec<RecipientProofRow>> = BTreeMap::new();
    for r in store.recipient_proofs(n).await? {
        by_member.entry(r.member.clone()).or_default().push(r);
    }
    let mut bindings = Vec::new();
    let mut allocations = Vec::new();
    for (member, rows) in by_member {
        // Rows are ordered by bound_at (no proof first).
        let chosen = rows
            .iter()
            .rev()
            .find(|r| r.bound_at.is_some_and(|t| t <= scored_at) && r.message.is_some())
            .or_else(|| rows.iter().rev().find(|r| r.message.is_some()));
        if let Some(r) = chosen {
            bindings.push(BindingProof {
                member: member.clone(),
                wallet: r.wallet.clone(),
                message: r.message.clone().unwrap_or_default(),
                signature: r.signature.clone().unwrap_or_default(),
            });
        }
        allocations.push(ServedAllocation {
            member,
            wallet: rows[0].wallet.clone(),
            amount: u64::try_from(rows[0].amount).unwrap_or(0),
        });
    }
    let evidence = if rules.format() >= 2 {
        Some(evidence(store, cfg, n).await?)
    } else {
        None
    };
    Ok(EpochLogResponse {
        evidence,
        epoch: n,
        state: row.state,
        root: plan.as_ref().map(|p| hex::encode(p.root)),
        activity_digest: digest,
        rules_hash: scored_rules,
        rules_toml,
        log,
        bindings,
        allocations,
        total_amount: row.total_amount,
        recipient_count: plan.as_ref().map(|p| p.recipient_count),
        chunk_count: plan.as_ref().map(|p| p.chunk_count),
    })
}

/// The evidence of a v2 epoch: source signatures and manifests, wallet-signed records and the
/// binding proofs of their wallets.
pub async fn evidence(store: &Store, cfg: &Config, n: u64) -> Result<EpochEvidence, StoreError> {
    let events = store.scoring_events_v2(n).await?;
    let mut forum_users = Vec::new();
    for (name, src) in &cfg.discourse.sources {
        let members: std::collections::BTreeSet<&str> = events
            .iter()
            .filter(|e| e.source == *name)
            .map(|e| e.member.as_str())
            .collect();
        for (username, member) in &src.users {
            if members.contains(member.as_str()) {
                forum_users.push(super::wire::ForumUserLink {
                    source: name.clone(),
                    username: username.clone(),
                    member: member.clone(),
                });
            }
        }
    }
    let event_signatures = events
        .into_iter()
        .filter_map(|e| {
            e.signature.map(|signature| EventSignature {
                id: e.id,
                signature,
            })
        })
        .collect();
    let mut signed_records = Vec::new();
    let mut source_confirmations = Vec::new();
    for c in store.scoring_confirmations(n).await? {
        if c.auth.starts_with("source:") {
            if let Some(signature) = c.signature {
                source_confirmations.push(EventSignature {
                    id: c.id,
                    signature,
                });
            }
            continue;
        }
        if let (Some(wallet), Some(message), Some(signature)) = (c.wallet, c.message, c.signature) {
            signed_records.push(SignedRecord {
                kind: "confirmation".into(),
                id: c.id,
                signer: c.confirmer,
                wallet,
                message,
                signature,
            });
        }
    }
    let (_, ends_at) = cfg.epoch_window(n);
    for v in store.vouches_at(ends_at).await? {
        if let (Some(wallet), Some(message), Some(signature)) = (v.wallet, v.message, v.signature) {
            signed_records.push(SignedRecord {
                kind: "vouch".into(),
                id: format!("{}/{}", v.voucher, v.member),
                signer: v.voucher,
                wallet,
                message,
                signature,
            });
        }
    }
    let pairs: std::collections::BTreeSet<(String, String)> = signed_records
        .iter()
        .map(|r| (r.signer.clone(), r.wallet.clone()))
        .collect();
    let mut bindings = Vec::new();
    for (member, wallet) in pairs {
        if let Some((message, signature)) = store.binding_proof(&member, &wallet).await? {
            bindings.push(BindingProof {
                member,
                wallet,
                message,
                signature,
            });
        }
    }
    Ok(EpochEvidence {
        event_signatures,
        manifests: store.manifests(n).await?,
        source_confirmations,
        forum_users,
        signed_records,
        bindings,
    })
}
