//! What the on-chain commands (`admin …`, `balance`, `sell-back`, `buy-premium`, `pay-access`) share,
//! with the Solana CLI's conventions: `--url/-u` (a moniker or a URL), `--keypair/-k` (default
//! `~/.config/solana/id.json`), `--commitment`, a priority fee; `--dry-run` simulates, `--sign-only`
//! prints the unsigned v0 transaction for a multisig, money-moving commands ask first unless `--yes`;
//! a program error is shown by its `StkError` name and message. They talk to any JSON-RPC endpoint
//! (a cluster, or `serve --local`'s) and build without the `local` feature.
use std::{
    io::{BufRead, Write},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{anyhow, bail, Context};
use base64::{prelude::BASE64_STANDARD, Engine};
use clap::Args;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::RpcSimulateTransactionConfig;
use solana_sdk::{
    account::Account,
    hash::Hash,
    instruction::{Instruction, InstructionError},
    message::{v0, VersionedMessage},
    program_pack::Pack,
    pubkey::Pubkey,
    signature::{Keypair, Signature},
    signer::Signer,
    transaction::{TransactionError, VersionedTransaction},
};

use crate::chain::{
    rpc::{RpcChain, RpcOptions},
    Chain, ChainError,
};

/// Where and as whom.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// JSON-RPC URL or moniker: mainnet-beta (m), devnet (d), testnet (t), localhost (l, localnet).
    #[arg(
        long,
        short = 'u',
        global = true,
        default_value = "localhost",
        env = "STK_RPC_URL"
    )]
    pub url: String,
    /// Signer keypair file (Solana CLI JSON format).
    #[arg(long, short = 'k', global = true)]
    pub keypair: Option<PathBuf>,
    /// processed, confirmed or finalized.
    #[arg(long, global = true, default_value = "confirmed")]
    pub commitment: String,
    /// Priority fee: compute-unit price in micro-lamports.
    #[arg(long, global = true)]
    pub with_compute_unit_price: Option<u64>,
    /// Compute-unit limit of the transaction.
    #[arg(long, global = true)]
    pub compute_unit_limit: Option<u32>,
}

/// How a transaction is handled.
#[derive(Debug, Clone, Default, Args)]
pub struct TxArgs {
    /// Simulate only: print compute units, fee and the balance changes; send nothing.
    #[arg(long, global = true, conflicts_with = "sign_only")]
    pub dry_run: bool,
    /// Print the unsigned v0 transaction (base58 and base64) for a multisig proposal; send nothing.
    #[arg(long, global = true)]
    pub sign_only: bool,
    /// With --sign-only: the authority (e.g. a Squads vault) that signs instead of --keypair.
    #[arg(long, global = true, requires = "sign_only")]
    pub authority: Option<Pubkey>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

/// The URL a `--url` value names.
pub fn resolve_url(url: &str) -> String {
    match url {
        "m" | "mainnet-beta" => "https://api.mainnet-beta.solana.com".into(),
        "d" | "devnet" => "https://api.devnet.solana.com".into(),
        "t" | "testnet" => "https://api.testnet.solana.com".into(),
        "l" | "localhost" | "localnet" => "http://127.0.0.1:8899".into(),
        other => other.into(),
    }
}

fn commitment(s: &str) -> anyhow::Result<CommitmentConfig> {
    Ok(match s {
        "processed" => CommitmentConfig::processed(),
        "confirmed" => CommitmentConfig::confirmed(),
        "finalized" => CommitmentConfig::finalized(),
        other => bail!("--commitment {other:?}: use processed, confirmed or finalized"),
    })
}

/// A connection and a signer.
pub struct Session {
    pub url: String,
    pub rpc: RpcClient,
    pub chain: Arc<RpcChain>,
    /// None when only `--sign-only --authority` is used (no key needed).
    pub keypair: Option<Keypair>,
    pub tx: TxArgs,
    cu_price: Option<u64>,
    cu_limit: Option<u32>,
}

impl Session {
    pub fn open(cluster: &ClusterArgs, tx: &TxArgs) -> anyhow::Result<Self> {
        Self::open_with(cluster, tx, true)
    }

    /// For reads: the keypair is loaded when there is one, and needed only if a command asks for it.
    pub fn open_read_only(cluster: &ClusterArgs) -> anyhow::Result<Self> {
        Self::open_with(cluster, &TxArgs::default(), false)
    }

    fn open_with(cluster: &ClusterArgs, tx: &TxArgs, need_key: bool) -> anyhow::Result<Self> {
        let url = resolve_url(&cluster.url);
        let commitment = commitment(&cluster.commitment)?;
        let options = RpcOptions {
            compute_unit_limit: cluster.compute_unit_limit,
            compute_unit_price_micro_lamports: cluster.with_compute_unit_price,
            poll_interval: Duration::from_millis(250),
            ..RpcOptions::default()
        };
        let keypair = if tx.sign_only && tx.authority.is_some() {
            None
        } else {
            let path = match &cluster.keypair {
                Some(p) => p.clone(),
                None => default_keypair_path()?,
            };
            let loaded = crate::chain::rpc::load_keypair(Some(&path), "STK_KEYPAIR");
            if need_key {
                Some(loaded?)
            } else {
                loaded.ok()
            }
        };
        Ok(Self {
            rpc: RpcClient::new_with_commitment(url.clone(), commitment),
            chain: Arc::new(RpcChain::new(&url, commitment, options)),
            url,
            keypair,
            tx: tx.clone(),
            cu_price: cluster.with_compute_unit_price,
            cu_limit: cluster.compute_unit_limit,
        })
    }

    /// The signer's address (the `--authority` with `--sign-only`).
    pub fn signer(&self) -> anyhow::Result<Pubkey> {
        if let Some(a) = self.tx.authority {
            return Ok(a);
        }
        self.keypair
            .as_ref()
            .map(|k| k.pubkey())
            .ok_or_else(|| anyhow!("no keypair: pass --keypair (or a wallet address)"))
    }

    pub async fn account(&self, key: &Pubkey) -> anyhow::Result<Option<Account>> {
        self.chain
            .account(key)
            .await
            .with_context(|| format!("reading account {key} from {}", self.url))
    }

    /// The program's config, or a clear error when the program is not initialized there.
    pub async fn config(&self) -> anyhow::Result<stk::state::Config> {
        crate::chain::ops::config(self.chain.as_ref())
            .await
            .with_context(|| format!("reading the STK config from {}", self.url))?
            .ok_or_else(|| {
                anyhow!(
                    "the STK program is not initialized on {} (run `stk-indexer admin init`)",
                    self.url
                )
            })
    }

    /// SPL token balance of `account` (0 when it does not exist).
    pub async fn token_balance(&self, account: &Pubkey) -> anyhow::Result<u64> {
        Ok(match self.account(account).await? {
            Some(a) => anchor_spl::token::spl_token::state::Account::unpack(&a.data)
                .map(|t| t.amount)
                .unwrap_or(0),
            None => 0,
        })
    }

    pub async fn mint_decimals(&self, mint: &Pubkey) -> anyhow::Result<u8> {
        let account = self
            .account(mint)
            .await?
            .ok_or_else(|| anyhow!("mint {mint} does not exist on {}", self.url))?;
        Ok(
            anchor_spl::token::spl_token::state::Mint::unpack(&account.data)
                .map_err(|_| anyhow!("{mint} is not an SPL Token mint"))?
                .decimals,
        )
    }

    fn budget_instructions(&self) -> Vec<Instruction> {
        use solana_compute_budget_interface::ComputeBudgetInstruction;
        let mut out = Vec::new();
        if let Some(limit) = self.cu_limit {
            out.push(ComputeBudgetInstruction::set_compute_unit_limit(limit));
        }
        if let Some(price) = self.cu_price {
            out.push(ComputeBudgetInstruction::set_compute_unit_price(price));
        }
        out
    }

    async fn unsigned(&self, ixs: &[Instruction]) -> anyhow::Result<(VersionedTransaction, Hash)> {
        let payer = self.signer()?;
        let blockhash = self
            .rpc
            .get_latest_blockhash()
            .await
            .with_context(|| format!("getLatestBlockhash from {}", self.url))?;
        let mut all = self.budget_instructions();
        all.extend_from_slice(ixs);
        let message = v0::Message::try_compile(&payer, &all, &[], blockhash)
            .context("compiling the transaction")?;
        let signatures =
            vec![Signature::default(); message.header.num_required_signatures as usize];
        Ok((
            VersionedTransaction {
                signatures,
                message: VersionedMessage::V0(message),
            },
            blockhash,
        ))
    }

    /// Runs one transaction the way the flags say: `--sign-only` prints it unsigned, `--dry-run`
    /// simulates it, otherwise it is sent (after a confirmation when `moves_money` and not `--yes`).
    /// `summary` lists what it does (shown before asking and on a dry run). Returns the signature of a
    /// sent transaction.
    pub async fn execute(
        &self,
        what: &str,
        ixs: &[Instruction],
        summary: &[String],
        moves_money: bool,
    ) -> anyhow::Result<Option<Signature>> {
        let out = &mut std::io::stdout();
        if self.tx.sign_only {
            let (tx, blockhash) = self.unsigned(ixs).await?;
            let bytes = bincode::serialize(&tx).context("serializing")?;
            let message = tx.message.serialize();
            writeln!(out, "{what}: unsigned v0 transaction (fee payer and signer {}, blockhash {blockhash}; sign within ~60 s or rebuild):", self.signer()?)?;
            for line in summary {
                writeln!(out, "  {line}")?;
            }
            writeln!(
                out,
                "transaction (base58): {}",
                bs58::encode(&bytes).into_string()
            )?;
            writeln!(
                out,
                "transaction (base64): {}",
                BASE64_STANDARD.encode(&bytes)
            )?;
            writeln!(
                out,
                "message (base58): {}",
                bs58::encode(&message).into_string()
            )?;
            return Ok(None);
        }
        if self.tx.dry_run {
            let (tx, _) = self.unsigned(ixs).await?;
            let result = self
                .rpc
                .simulate_transaction_with_config(
                    &tx,
                    RpcSimulateTransactionConfig {
                        sig_verify: false,
                        replace_recent_blockhash: true,
                        inner_instructions: true,
                        ..Default::default()
                    },
                )
                .await
                .with_context(|| format!("simulateTransaction on {}", self.url))?
                .value;
            writeln!(out, "{what} (dry run, nothing sent):")?;
            for line in summary {
                writeln!(out, "  {line}")?;
            }
            if let Some(units) = result.units_consumed {
                writeln!(out, "compute units: {units}")?;
            }
            if let Some(fee) = result.fee {
                writeln!(out, "fee: {fee} lamports")?;
            }
            if result.err.is_none() {
                let inner = result.inner_instructions.clone().unwrap_or_default();
                let changes = balance_changes(&tx, &inner, result.fee.unwrap_or(0));
                if !changes.is_empty() {
                    writeln!(out, "balance changes (from the simulated instructions):")?;
                    for line in changes {
                        writeln!(out, "  {line}")?;
                    }
                }
            }
            if let (Some(pre), Some(post)) = (&result.pre_balances, &result.post_balances) {
                for (key, (a, b)) in tx
                    .message
                    .static_account_keys()
                    .iter()
                    .zip(pre.iter().zip(post))
                {
                    if a != b {
                        writeln!(out, "lamports {key}: {a} -> {b}")?;
                    }
                }
            }
            return match result.err {
                None => {
                    writeln!(out, "simulation: ok")?;
                    Ok(None)
                }
                Some(err) => {
                    let err: TransactionError = err.into();
                    for log in result.logs.unwrap_or_default() {
                        writeln!(out, "  log: {log}")?;
                    }
                    Err(explain(&ChainError::Transaction(err)))
                }
            };
        }
        writeln!(out, "{what}:")?;
        for line in summary {
            writeln!(out, "  {line}")?;
        }
        if moves_money && !self.tx.yes && !confirm()? {
            bail!("aborted: nothing sent");
        }
        let keypair = self
            .keypair
            .as_ref()
            .ok_or_else(|| anyhow!("sending needs --keypair"))?;
        let sent = self
            .chain
            .send(ixs, &[keypair], &[])
            .await
            .map_err(|e| explain(&e))?;
        writeln!(
            out,
            "confirmed: {} (slot {}, {} compute units)",
            sent.signature, sent.slot, sent.compute_units
        )?;
        Ok(Some(sent.signature))
    }
}

/// Token and lamport movements of a simulated transaction, read from its instructions and the inner
/// instructions the simulation ran (SPL Token transfer/mint/burn, System create-account/transfer),
/// plus the fee on the payer. Lines like `token ACCOUNT: -5` / `lamports KEY: -5000`, by address.
pub fn balance_changes(
    tx: &VersionedTransaction,
    inner: &[solana_rpc_client_api::response::UiInnerInstructions],
    fee: u64,
) -> Vec<String> {
    use std::collections::BTreeMap;

    use anchor_spl::token::spl_token::instruction::TokenInstruction;
    use solana_rpc_client_api::response::UiInstruction;

    let keys = tx.message.static_account_keys();
    let mut tokens: BTreeMap<Pubkey, i128> = BTreeMap::new();
    let mut lamports: BTreeMap<Pubkey, i128> = BTreeMap::new();
    if let Some(payer) = keys.first() {
        *lamports.entry(*payer).or_default() -= i128::from(fee);
    }
    let mut compiled: Vec<(u8, Vec<u8>, Vec<u8>)> = tx
        .message
        .instructions()
        .iter()
        .map(|ix| (ix.program_id_index, ix.accounts.clone(), ix.data.clone()))
        .collect();
    for list in inner {
        for ix in &list.instructions {
            if let UiInstruction::Compiled(c) = ix {
                if let Ok(data) = bs58::decode(&c.data).into_vec() {
                    compiled.push((c.program_id_index, c.accounts.clone(), data));
                }
            }
        }
    }
    let key = |accounts: &[u8], i: usize| -> Option<Pubkey> {
        accounts
            .get(i)
            .and_then(|k| keys.get(usize::from(*k)))
            .copied()
    };
    let system = Pubkey::default();
    for (program, accounts, data) in &compiled {
        let Some(program) = keys.get(usize::from(*program)) else {
            continue;
        };
        if *program == anchor_spl::token::ID {
            let (from, to, amount) = match TokenInstruction::unpack(data) {
                Ok(TokenInstruction::Transfer { amount }) => {
                    (key(accounts, 0), key(accounts, 1), amount)
                }
                Ok(TokenInstruction::TransferChecked { amount, .. }) => {
                    (key(accounts, 0), key(accounts, 2), amount)
                }
                Ok(
                    TokenInstruction::MintTo { amount }
                    | TokenInstruction::MintToChecked { amount, .. },
                ) => (None, key(accounts, 1), amount),
                Ok(
                    TokenInstruction::Burn { amount }
                    | TokenInstruction::BurnChecked { amount, .. },
                ) => (key(accounts, 0), None, amount),
                _ => continue,
            };
            if let Some(from) = from {
                *tokens.entry(from).or_default() -= i128::from(amount);
            }
            if let Some(to) = to {
                *tokens.entry(to).or_default() += i128::from(amount);
            }
        } else if *program == system && data.len() >= 12 {
            let mut tag = [0u8; 4];
            tag.copy_from_slice(&data[..4]);
            let mut value = [0u8; 8];
            value.copy_from_slice(&data[4..12]);
            let amount = i128::from(u64::from_le_bytes(value));
            // 0: CreateAccount { lamports, .. }, 2: Transfer { lamports }.
            if matches!(u32::from_le_bytes(tag), 0 | 2) {
                if let (Some(from), Some(to)) = (key(accounts, 0), key(accounts, 1)) {
                    *lamports.entry(from).or_default() -= amount;
                    *lamports.entry(to).or_default() += amount;
                }
            }
        }
    }
    let signed = |v: i128| {
        if v > 0 {
            format!("+{v}")
        } else {
            v.to_string()
        }
    };
    let mut out: Vec<String> = tokens
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(k, v)| format!("token {k}: {} (base units)", signed(v)))
        .collect();
    out.extend(
        lamports
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("lamports {k}: {}", signed(v))),
    );
    out
}

/// Asks on the terminal; anything but y/yes (or end of input) is a no.
fn confirm() -> anyhow::Result<bool> {
    eprint!("Proceed? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn default_keypair_path() -> anyhow::Result<PathBuf> {
    let home =
        std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set: pass --keypair"))?;
    Ok(PathBuf::from(home).join(".config/solana/id.json"))
}

/// The program's errors from its IDL (code, name, message): one source of truth.
fn idl_error(code: u32) -> Option<(String, String)> {
    static IDL: &str = include_str!("../../../idls/stk.json");
    let idl: serde_json::Value = serde_json::from_str(IDL).ok()?;
    idl["errors"].as_array()?.iter().find_map(|e| {
        (e["code"].as_u64()? == u64::from(code)).then(|| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["msg"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
}

/// A chain error for people: a program error by its `StkError` name and message.
pub fn explain(e: &ChainError) -> anyhow::Error {
    if let ChainError::Transaction(TransactionError::InstructionError(index, inner)) = e {
        if let InstructionError::Custom(code) = inner {
            if let Some((name, msg)) = idl_error(*code) {
                return anyhow!(
                    "program error StkError::{name} ({code}): {msg} (instruction {index})"
                );
            }
            return anyhow!("program error {code} (0x{code:x}) in instruction {index}");
        }
        return anyhow!("instruction {index} failed: {inner}");
    }
    anyhow!("{e}")
}

pub use crate::member_tx::parse_amount;

pub use crate::member_tx::fmt_amount;

/// A percentage ("0.5", "1") as basis points.
pub fn parse_percent_bps(s: &str) -> anyhow::Result<u64> {
    let bps = parse_amount(s, 2).with_context(|| format!("--slippage {s:?}"))?;
    if bps > 10_000 {
        bail!("--slippage {s:?} is above 100%");
    }
    Ok(bps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_base_units() {
        assert_eq!(parse_amount("1.5", 6).unwrap(), 1_500_000);
        assert_eq!(parse_amount("0.000001", 6).unwrap(), 1);
        assert_eq!(parse_amount("1_000", 6).unwrap(), 1_000_000_000);
        assert_eq!(parse_amount(".5", 2).unwrap(), 50);
        assert!(parse_amount("0.0000001", 6).is_err());
        assert!(parse_amount("-1", 6).is_err());
        assert!(parse_amount("1e3", 6).is_err());
        assert!(parse_amount("", 6).is_err());
        assert!(parse_amount("18446744073709551616", 0).is_err());
        assert!(parse_amount("18446744073709.551616", 6).is_err());
        assert_eq!(fmt_amount(1_500_000, 6), "1.5");
        assert_eq!(fmt_amount(2_000_000, 6), "2");
        assert_eq!(fmt_amount(1, 6), "0.000001");
        assert_eq!(parse_percent_bps("0.5").unwrap(), 50);
        assert!(parse_percent_bps("100.01").is_err());
    }

    #[test]
    fn monikers_resolve_like_the_solana_cli() {
        assert_eq!(resolve_url("devnet"), "https://api.devnet.solana.com");
        assert_eq!(resolve_url("l"), "http://127.0.0.1:8899");
        assert_eq!(resolve_url("http://x:1"), "http://x:1");
    }

    #[test]
    fn program_errors_are_named_from_the_idl() {
        let code = stk::client::error_code(stk::error::StkError::WindowClosed);
        let e = explain(&ChainError::Transaction(
            TransactionError::InstructionError(0, InstructionError::Custom(code)),
        ));
        let text = e.to_string();
        assert!(
            text.contains("StkError::WindowClosed") && text.contains("No buyback window is open"),
            "{text}"
        );
    }
}
