//! Oracle mode (DESIGN.md §4): the primary service publishes each scored epoch's canonical activity
//! log, the exact rules file and every recipient's wallet-binding proof (`GET /v1/epochs/{n}/log`,
//! built by [`epoch_log`]); a community oracle fetches it ([`fetch`]), re-checks everything, recomputes
//! the allocation and its root with the same code, and attests only if every value is identical
//! ([`verify_and_attest`]). What it attests is what it computed, never what it was served.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use solana_sdk::{signature::Keypair, signer::Signer};
use stk_scoring::{EpochInput, Rules};
use utoipa::ToSchema;

use crate::{
    chain::{ops, Chain},
    config::Config,
    epoch,
    pipeline::{self, Attestation, PipelineError},
    store::{pipeline::EpochPlan, Store, StoreError, StoreResult},
    wallet,
};

// ------------------------------------------------------------------ wire format

/// `GET /v1/epochs/{n}/log`: everything an oracle needs to recompute an epoch's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EpochLogResponse {
    pub epoch: u64,
    /// `scored`, `attested`, `finalized`, `distributing` or `done`.
    pub state: String,
    /// Root of the allocation tree (hex); `null` when nobody is paid.
    pub root: Option<String>,
    /// `sha256("stk-activity-v1" || log)`, hex.
    pub activity_digest: String,
    /// `sha256("stk-rules-v1" || canonical rules)`, hex.
    pub rules_hash: String,
    /// The rules file, verbatim.
    pub rules_toml: String,
    /// The canonical activity log (stk-scoring JSON Lines), exactly the bytes whose digest is attested.
    pub log: String,
    /// The wallet-binding proof of every paid member (the binding in force when the epoch was scored).
    pub bindings: Vec<BindingProof>,
    /// The service's own allocation (paid members), only to explain differences: oracles recompute it.
    #[serde(default)]
    pub allocations: Vec<ServedAllocation>,
    #[serde(default)]
    pub total_amount: Option<u64>,
    #[serde(default)]
    pub recipient_count: Option<u32>,
    #[serde(default)]
    pub chunk_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BindingProof {
    pub member: String,
    pub wallet: String,
    /// The challenge message the wallet signed (see `wallet::challenge_message`).
    pub message: String,
    /// Base58 ed25519 signature by `wallet` over `message`'s UTF-8 bytes.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServedAllocation {
    pub member: String,
    pub wallet: String,
    pub amount: u64,
}

// ------------------------------------------------------------------ store access

macro_rules! reader {
    ($store:expr, $p:ident => $body:expr) => {
        match $store {
            Store::Sqlite { reader: $p, .. } => $body,
            Store::Postgres($p) => $body,
        }
    };
}

macro_rules! writer {
    ($store:expr, $p:ident => $body:expr) => {
        match $store {
            Store::Sqlite { writer: $p, .. } => $body,
            Store::Postgres($p) => $body,
        }
    };
}

fn i64_of(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Range(format!("{v} exceeds i64")))
}

/// A recipient of a scored epoch with the proofs of its binding.
#[derive(Debug, Clone)]
struct RecipientProofRow {
    member: String,
    wallet: String,
    amount: i64,
    message: Option<String>,
    signature: Option<String>,
    bound_at: Option<i64>,
}

impl Store {
    /// Keeps the canonical log of a scored epoch (written when the epoch is scored; the same epoch
    /// scored again after a crash replaces it together with its digest).
    pub async fn save_epoch_log(&self, epoch: u64, digest: &str, log: &str) -> StoreResult<()> {
        let ep = i64_of(epoch)?;
        writer!(self, p => sqlx::query(
            "INSERT INTO epoch_logs (epoch, activity_digest, log, stored_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (epoch) DO UPDATE SET activity_digest = excluded.activity_digest, \
             log = excluded.log, stored_at = excluded.stored_at",
        )
        .bind(ep)
        .bind(digest)
        .bind(log)
        .bind(crate::store::now_unix())
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The stored canonical log of an epoch: (activity digest, log).
    pub async fn epoch_log(&self, epoch: u64) -> StoreResult<Option<(String, String)>> {
        Ok(reader!(self, p => sqlx::query_as::<_, (String, String)>(
            "SELECT activity_digest, log FROM epoch_logs WHERE epoch = $1",
        )
        .bind(i64_of(epoch)?)
        .fetch_optional(p)
        .await?))
    }

    async fn recipient_proofs(&self, epoch: u64) -> StoreResult<Vec<RecipientProofRow>> {
        let rows = reader!(self, p => sqlx::query_as::<_, (String, String, i64, Option<String>, Option<String>, Option<i64>)>(
            "SELECT r.member_id, r.wallet, r.amount, b.message, b.signature, b.bound_at \
             FROM epoch_recipients r LEFT JOIN wallet_bindings b \
             ON b.member_id = r.member_id AND b.wallet = r.wallet \
             WHERE r.epoch = $1 ORDER BY r.member_id, b.bound_at, b.id",
        )
        .bind(i64_of(epoch)?)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(
                |(member, wallet, amount, message, signature, bound_at)| RecipientProofRow {
                    member,
                    wallet,
                    amount,
                    message,
                    signature,
                    bound_at,
                },
            )
            .collect())
    }
}

// ------------------------------------------------------------------ serving the log

/// Why the log of an epoch cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogServeError {
    #[error("epoch {0} is unknown")]
    Unknown(u64),
    #[error("epoch {epoch} is {state}; its log is published once it is scored")]
    NotScored { epoch: u64, state: String },
    #[error("this service has no rules text matching its rules (check scoring.rules_path)")]
    RulesUnavailable,
    #[error("epoch {epoch} was scored with rules {scored}, but this service runs rules {loaded}; serve it with the rules file it was scored with")]
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
    rules: &Rules,
    rules_toml: Option<&str>,
    n: u64,
) -> Result<EpochLogResponse, LogServeError> {
    let row = store.epoch(n).await?.ok_or(LogServeError::Unknown(n))?;
    if matches!(row.state.as_str(), "open" | "frozen") {
        return Err(LogServeError::NotScored {
            epoch: n,
            state: row.state,
        });
    }
    let rules_toml = rules_toml.ok_or(LogServeError::RulesUnavailable)?;
    let loaded = hex::encode(rules.hash());
    let scored_rules = row.rules_hash.clone().unwrap_or_default();
    if scored_rules != loaded {
        return Err(LogServeError::RulesMismatch {
            epoch: n,
            scored: scored_rules,
            loaded,
        });
    }
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
    Ok(EpochLogResponse {
        epoch: n,
        state: row.state,
        root: plan.as_ref().map(|p| hex::encode(p.root)),
        activity_digest: digest,
        rules_hash: scored_rules,
        rules_toml: rules_toml.to_string(),
        log,
        bindings,
        allocations,
        total_amount: row.total_amount,
        recipient_count: plan.as_ref().map(|p| p.recipient_count),
        chunk_count: plan.as_ref().map(|p| p.chunk_count),
    })
}

// ------------------------------------------------------------------ fetching

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
    NotScored { epoch: u64, state: String },
    #[error("epoch {0}: nobody is paid, there is no root to attest")]
    NothingToAttest(u64),
    #[error("{0}")]
    Mismatch(Mismatch),
    #[error("scoring: {0}")]
    Scoring(#[from] stk_scoring::ScoringError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Fetches `GET {base}/v1/epochs/{n}/log`.
pub async fn fetch(base: &str, n: u64) -> Result<EpochLogResponse, OracleError> {
    let url = format!("{}/v1/epochs/{n}/log", base.trim_end_matches('/'));
    let fetch_err = |e: reqwest::Error| OracleError::Fetch {
        url: url.clone(),
        message: e.to_string(),
    };
    let resp = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(fetch_err)?
        .get(&url)
        .send()
        .await
        .map_err(fetch_err)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(fetch_err)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{}: {}",
                    v.get("error")?.as_str()?,
                    v.get("message")?.as_str()?
                ))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(500).collect());
        return Err(OracleError::Source {
            url,
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_slice(&body).map_err(|e| OracleError::Fetch {
        url: url.clone(),
        message: format!("the answer is not an epoch log: {e}"),
    })
}

// ------------------------------------------------------------------ verification

/// One thing that is not as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    RulesHash {
        served: String,
        computed: String,
    },
    /// The rules text does not parse.
    Rules(String),
    ActivityDigest {
        served: String,
        computed: String,
    },
    /// The log does not parse as a canonical stk-activity-v1 log.
    Log(String),
    EpochNumber {
        served: u64,
        in_log: u64,
    },
    /// The first line where the served log and a reference copy differ (1-based; `None` past the end).
    LogLine {
        line: usize,
        served: Option<String>,
        reference: Option<String>,
    },
    Binding {
        member: String,
        wallet: String,
        problem: String,
    },
    /// A member the log pays has no binding proof.
    MissingBinding {
        member: String,
    },
    Amount {
        member: String,
        served: Option<u64>,
        computed: Option<u64>,
    },
    Total {
        what: &'static str,
        served: Option<u64>,
        computed: Option<u64>,
    },
    Root {
        served: Option<String>,
        computed: Option<String>,
    },
    /// The chain already holds an Epoch account for the computed root with other values.
    OnChain {
        field: &'static str,
        on_chain: String,
        computed: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let amt = |v: &Option<u64>| v.map_or_else(|| "(none)".into(), epoch::stk);
        match self {
            Self::RulesHash { served, computed } => write!(
                f,
                "rules_hash differs: served {served}, the served rules text hashes to {computed}"
            ),
            Self::Rules(e) => write!(f, "rules text does not parse: {e}"),
            Self::ActivityDigest { served, computed } => write!(
                f,
                "activity_digest differs: served {served}, the served log hashes to {computed}"
            ),
            Self::Log(e) => write!(f, "log is not a canonical activity log: {e}"),
            Self::EpochNumber { served, in_log } => {
                write!(f, "epoch differs: served {served}, the log is for epoch {in_log}")
            }
            Self::LogLine {
                line,
                served,
                reference,
            } => write!(
                f,
                "first differing log line: {line}\n    served:    {}\n    reference: {}",
                opt(served),
                opt(reference)
            ),
            Self::Binding {
                member,
                wallet,
                problem,
            } => write!(f, "binding of {member} to {wallet}: {problem}"),
            Self::MissingBinding { member } => {
                write!(f, "member {member} is paid but has no wallet-binding proof")
            }
            Self::Amount {
                member,
                served,
                computed,
            } => write!(
                f,
                "amount of {member} differs: served {} STK, computed {} STK",
                amt(served),
                amt(computed)
            ),
            Self::Total {
                what,
                served,
                computed,
            } => write!(
                f,
                "{what} differs: served {}, computed {}",
                served.map_or_else(|| "(none)".into(), |v| v.to_string()),
                computed.map_or_else(|| "(none)".into(), |v| v.to_string())
            ),
            Self::Root { served, computed } => write!(
                f,
                "root differs: served {}, computed {}",
                opt(served),
                opt(computed)
            ),
            Self::OnChain {
                field,
                on_chain,
                computed,
            } => write!(
                f,
                "the chain's Epoch account for the computed root has {field} {on_chain}, computed {computed}"
            ),
        }
    }
}

/// Everything that differs; nothing was attested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub epoch: u64,
    pub differences: Vec<Difference>,
}

impl Mismatch {
    pub fn amount_differences(&self) -> Vec<&str> {
        self.differences
            .iter()
            .filter_map(|d| match d {
                Difference::Amount { member, .. } => Some(member.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "epoch {}: NOT attesting, {} difference(s):",
            self.epoch,
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(f, "  - {d}")?;
        }
        Ok(())
    }
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

/// The first line (1-based) where two logs differ, with both lines; `None` when identical.
pub fn first_differing_line(served: &str, reference: &str) -> Option<Difference> {
    let mut a = served.split_inclusive('\n');
    let mut b = reference.split_inclusive('\n');
    let mut line = 0;
    loop {
        line += 1;
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => continue,
            (x, y) => {
                return Some(Difference::LogLine {
                    line,
                    served: x.map(|s| s.trim_end_matches('\n').to_string()),
                    reference: y.map(|s| s.trim_end_matches('\n').to_string()),
                })
            }
        }
    }
}

/// The first differing line of two logs; when that is the header (line 1, which only counts lines),
/// also the first differing line after it, which shows the content that differs.
pub fn differing_lines(served: &str, reference: &str) -> Vec<Difference> {
    let mut out: Vec<Difference> = first_differing_line(served, reference)
        .into_iter()
        .collect();
    if let Some(Difference::LogLine { line: 1, .. }) = out.first() {
        let body = |s: &str| {
            s.split_once('\n')
                .map_or(String::new(), |(_, b)| b.to_string())
        };
        if let Some(Difference::LogLine {
            line,
            served,
            reference,
        }) = first_differing_line(&body(served), &body(reference))
        {
            out.push(Difference::LogLine {
                line: line + 1,
                served,
                reference,
            });
        }
    }
    out
}

/// Checks that `message` is a binding challenge naming exactly this member and wallet and that the
/// wallet signed it.
fn check_binding(b: &BindingProof) -> Result<(), String> {
    let mut lines = b.message.lines();
    if lines.next() != Some("SysTok wallet binding") {
        return Err("the message is not a SysTok wallet-binding challenge".into());
    }
    if lines.next() != Some(format!("member: {}", b.member).as_str()) {
        return Err("the signed message names another member".into());
    }
    if lines.next() != Some(format!("wallet: {}", b.wallet).as_str()) {
        return Err("the signed message names another wallet".into());
    }
    wallet::verify(&b.wallet, &b.message, &b.signature).map_err(|e| e.to_string())
}

/// What the oracle recomputed from a served log.
#[derive(Debug, Clone)]
pub struct Recomputed {
    pub plan: Option<EpochPlan>,
    /// Paid members and their amounts.
    pub amounts: BTreeMap<String, u64>,
}

/// Re-checks a served epoch log and recomputes the root. `reference_log`, when given (another copy
/// of the log, e.g. from a mirror), adds the first line where the two differ.
pub fn verify(
    source: &EpochLogResponse,
    reference_log: Option<&str>,
) -> Result<Recomputed, OracleError> {
    let n = source.epoch;
    if matches!(source.state.as_str(), "open" | "frozen") {
        return Err(OracleError::NotScored {
            epoch: n,
            state: source.state.clone(),
        });
    }
    let mut diffs = Vec::new();
    if let Some(reference) = reference_log {
        diffs.extend(differing_lines(&source.log, reference));
    }
    let rules = match Rules::from_toml(&source.rules_toml) {
        Ok(r) => Some(r),
        Err(e) => {
            diffs.push(Difference::Rules(e.to_string()));
            None
        }
    };
    if let Some(rules) = &rules {
        let computed = hex::encode(rules.hash());
        if computed != source.rules_hash {
            diffs.push(Difference::RulesHash {
                served: source.rules_hash.clone(),
                computed,
            });
        }
    }
    let input = match EpochInput::from_canonical_log(source.log.as_bytes()) {
        Ok(i) => Some(i),
        Err(e) => {
            diffs.push(Difference::Log(e.to_string()));
            None
        }
    };
    if let Some(input) = &input {
        let computed = hex::encode(input.activity_digest());
        if computed != source.activity_digest {
            diffs.push(Difference::ActivityDigest {
                served: source.activity_digest.clone(),
                computed,
            });
        }
        if input.epoch != n {
            diffs.push(Difference::EpochNumber {
                served: n,
                in_log: input.epoch,
            });
        }
    }
    let mut wallets: HashMap<String, String> = HashMap::new();
    for b in &source.bindings {
        if let Err(problem) = check_binding(b) {
            diffs.push(Difference::Binding {
                member: b.member.clone(),
                wallet: b.wallet.clone(),
                problem,
            });
            continue;
        }
        if let Some(other) = wallets.insert(b.member.clone(), b.wallet.clone()) {
            if other != b.wallet {
                diffs.push(Difference::Binding {
                    member: b.member.clone(),
                    wallet: b.wallet.clone(),
                    problem: format!("two proofs for this member (also {other})"),
                });
            }
        }
    }
    let (Some(rules), Some(input)) = (rules, input) else {
        return Err(OracleError::Mismatch(Mismatch {
            epoch: n,
            differences: diffs,
        }));
    };

    let score = stk_scoring::score_epoch(&rules, &input)?;
    let amounts: BTreeMap<String, u64> = score
        .allocations
        .iter()
        .filter(|a| a.amount > 0)
        .map(|a| (a.member.clone(), a.amount))
        .collect();
    for member in amounts.keys() {
        if !wallets.contains_key(member) {
            diffs.push(Difference::MissingBinding {
                member: member.clone(),
            });
        }
    }
    if !source.allocations.is_empty() {
        let served: BTreeMap<&str, u64> = source
            .allocations
            .iter()
            .map(|a| (a.member.as_str(), a.amount))
            .collect();
        let members: BTreeSet<&str> = served
            .keys()
            .copied()
            .chain(amounts.keys().map(String::as_str))
            .collect();
        for m in members {
            let (s, c) = (served.get(m).copied(), amounts.get(m).copied());
            if s != c {
                diffs.push(Difference::Amount {
                    member: m.to_string(),
                    served: s,
                    computed: c,
                });
            }
        }
    }
    // Only members with a verified proof can be paid: build the tree from those.
    let known: HashMap<String, String> = wallets
        .into_iter()
        .filter(|(m, _)| amounts.contains_key(m))
        .collect();
    let tree = if amounts.keys().all(|m| known.contains_key(m)) {
        epoch::allocation_tree(n, &score, &known).map_err(|e| {
            OracleError::Mismatch(Mismatch {
                epoch: n,
                differences: vec![Difference::Log(format!("allocation tree: {e}"))],
            })
        })?
    } else {
        None
    };
    let total: u64 = amounts.values().sum();
    let plan = match &tree {
        Some(t) => Some(EpochPlan {
            epoch: n,
            state: "scored".into(),
            root: hex_to_32(&t.root).expect("allocation_tree returns a hex root"),
            total_amount: total,
            chunk_count: t.chunks.len() as u32,
            recipient_count: t.recipients.len() as u32,
            activity_digest: score.activity_digest,
            rules_hash: score.rules_hash,
        }),
        None => None,
    };
    let computed_root = tree.as_ref().map(|t| t.root.clone());
    let missing_proofs = diffs
        .iter()
        .any(|d| matches!(d, Difference::MissingBinding { .. }));
    if !missing_proofs && computed_root != source.root {
        diffs.push(Difference::Root {
            served: source.root.clone(),
            computed: computed_root,
        });
    }
    for (what, served, computed) in [
        ("total_amount", source.total_amount, Some(total)),
        (
            "recipient_count",
            source.recipient_count.map(u64::from),
            plan.as_ref().map(|p| u64::from(p.recipient_count)),
        ),
        (
            "chunk_count",
            source.chunk_count.map(u64::from),
            plan.as_ref().map(|p| u64::from(p.chunk_count)),
        ),
    ] {
        if served.is_some() && served != computed && !(what == "total_amount" && plan.is_none()) {
            diffs.push(Difference::Total {
                what,
                served,
                computed,
            });
        }
    }
    if !diffs.is_empty() {
        return Err(OracleError::Mismatch(Mismatch {
            epoch: n,
            differences: diffs,
        }));
    }
    Ok(Recomputed { plan, amounts })
}

fn hex_to_32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_that_differs() {
        assert_eq!(first_differing_line("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_differing_line("a\nb\nc\n", "a\nx\nc\n"),
            Some(Difference::LogLine {
                line: 2,
                served: Some("b".into()),
                reference: Some("x".into())
            })
        );
        assert_eq!(
            differing_lines("h1\na\nb\n", "h2\na\nc\n"),
            vec![
                Difference::LogLine {
                    line: 1,
                    served: Some("h1".into()),
                    reference: Some("h2".into())
                },
                Difference::LogLine {
                    line: 3,
                    served: Some("b".into()),
                    reference: Some("c".into())
                }
            ]
        );
        assert_eq!(
            first_differing_line("a\n", "a\nb\n"),
            Some(Difference::LogLine {
                line: 2,
                served: None,
                reference: Some("b".into())
            })
        );
    }
}
