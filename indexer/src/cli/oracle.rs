//! `stk-indexer oracle attest`: recompute a published epoch and attest it only if it is identical.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum OracleAction {
    /// Fetch epoch N's log, rules and binding proofs from SOURCE (`GET /v1/epochs/N/log`), verify
    /// them, recompute the allocation and its root, and attest it on the cluster only if every value
    /// is identical; otherwise print what differs and exit non-zero.
    Attest {
        epoch: u64,
        /// Base URL of the publishing service, e.g. https://stk.example.org
        #[arg(long)]
        source: String,
        /// The oracle's keypair file (Solana CLI JSON). Default: $STK_ORACLE_KEYPAIR, else
        /// ~/.config/solana/id.json.
        #[arg(long)]
        keypair: Option<PathBuf>,
        /// Solana JSON-RPC URL of the cluster (not needed with --dry-run).
        #[arg(long, env = "STK_CLUSTER_URL", required_unless_present = "dry_run")]
        cluster: Option<String>,
        /// Another service (e.g. a mirror) serving the same epoch: the first line where the two logs
        /// differ is reported.
        #[arg(long)]
        compare: Option<String>,
        /// Verify and recompute only; attest nothing.
        #[arg(long)]
        dry_run: bool,
        /// Re-check the events of a forum source against the forum itself: `NAME=URL` (e.g.
        /// `discourse=https://forum.example.org`; repeat for several). Every post must exist, be by
        /// the forum user mapped to the event's member, at the logged time.
        #[arg(long = "forum", value_parser = parse_forum)]
        forums: Vec<(String, String)>,
    },
}

fn parse_forum(s: &str) -> Result<(String, String), String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=URL"))?;
    if name.is_empty() || !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{s:?} is not NAME=http(s)://…"));
    }
    Ok((name.to_owned(), url.to_owned()))
}

pub(super) async fn run(action: OracleAction) -> anyhow::Result<()> {
    let OracleAction::Attest {
        epoch,
        source,
        keypair,
        cluster,
        compare,
        dry_run,
        forums,
    } = action;
    let served = crate::oracle::fetch(&source, epoch).await?;
    if !forums.is_empty() {
        let diffs = crate::oracle::forum::check_forum(&served, &forums)
            .await
            .map_err(anyhow::Error::msg)?;
        if !diffs.is_empty() {
            for d in &diffs {
                println!("  {d}");
            }
            anyhow::bail!(
                "epoch {epoch}: refused to attest ({} forum difference(s))",
                diffs.len()
            );
        }
        println!("epoch {epoch}: forum events re-checked against the forum");
    }
    let reference = match &compare {
        Some(url) => Some(crate::oracle::fetch(url, epoch).await?.log),
        None => None,
    };
    let refused = |e: crate::oracle::OracleError| match e {
        crate::oracle::OracleError::Mismatch(m) => {
            print!("{m}");
            anyhow::anyhow!(
                "epoch {epoch}: refused to attest ({} difference(s))",
                m.differences.len()
            )
        }
        other => other.into(),
    };
    if dry_run {
        let r = crate::oracle::verify(&served, reference.as_deref()).map_err(refused)?;
        match r.plan {
            Some(p) => println!(
                "epoch {epoch}: verified; root {} total {} STK, {} recipients, {} chunks (dry run: nothing attested)",
                hex::encode(p.root),
                crate::epoch::stk(p.total_amount),
                p.recipient_count,
                p.chunk_count
            ),
            None => println!("epoch {epoch}: verified; nobody is paid (dry run)"),
        }
        return Ok(());
    }
    let cluster = cluster.context("--cluster RPC_URL is required to attest")?;
    let oracle = crate::chain::rpc::load_keypair(keypair.as_deref(), "STK_ORACLE_KEYPAIR")?;
    let chain = crate::chain::rpc::RpcChain::new(
        &cluster,
        solana_commitment_config::CommitmentConfig::confirmed(),
        crate::chain::rpc::RpcOptions::default(),
    );
    let out =
        crate::oracle::verify_and_attest_against(&served, reference.as_deref(), &chain, &oracle)
            .await
            .map_err(refused)?;
    let p = &out.plan;
    println!(
        "epoch {epoch}: verified; root {} total {} STK, {} recipients, {} chunks",
        hex::encode(p.root),
        crate::epoch::stk(p.total_amount),
        p.recipient_count,
        p.chunk_count
    );
    match &out.attestation {
        crate::pipeline::Attestation::Sent(sig) => println!("attested: {sig}"),
        crate::pipeline::Attestation::AlreadyCounted => {
            println!("this oracle's approval already counts")
        }
    }
    println!(
        "approvals on chain: {}; finalized: {}",
        out.approvals.count_ones(),
        if out.finalized { "yes" } else { "no" }
    );
    Ok(())
}
