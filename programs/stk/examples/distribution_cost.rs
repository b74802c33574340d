//! What distributing an epoch costs on chain, measured on the in-process runtime with the real SPL Token
//! and Address Lookup Table programs: recipients per transaction, transactions and fees per 1,000
//! recipients, rent per recipient, SPL Token compute units per recipient.
//!
//!     cargo run -p stk --example distribution_cost [-- RECIPIENTS]
//!
//! Counts, not timings: the figures are the same on any machine.
#![allow(deprecated)]
#[path = "../tests/program/harness.rs"]
#[allow(dead_code)]
mod harness;

use anchor_lang::prelude::Pubkey;
use harness::*;
use stk::{
    client,
    constants::MAX_CHUNK_RECIPIENTS,
    merkle::{Allocation, EpochTree},
};
use stk_localnet::{account_locks, ComputeBudgetInstruction};

/// Compute-unit limit and price the pipeline uses by default.
const CU_LIMIT: u32 = 600_000;
const CU_PRICE_MICRO_LAMPORTS: u64 = 1_000;
/// Chunks per lookup table: 6 fixed accounts + 4 × 55 recipients = 226 of 256 slots.
const CHUNKS_PER_TABLE: usize = 4;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let recipients: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("RECIPIENTS is a number"))
        .unwrap_or(1_000);
    let mut env = Env::new().await;
    let payer = env.payer();

    eprintln!("creating {recipients} recipient token accounts ...");
    let members = env.members(recipients).await;
    let allocations: Vec<Allocation> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Allocation {
            token_account: m.1,
            amount: 100 * STK + i as u64,
        })
        .collect();
    let tree = EpochTree::build(0, allocations, MAX_CHUNK_RECIPIENTS).unwrap();
    let before_attest = env.chain.lamports(&env.oracles[0].pubkey_()).await
        + env.chain.lamports(&env.oracles[1].pubkey_()).await;
    env.finalize(&tree).await;
    let epoch_account = client::epoch_address(0, &tree.root());
    let epoch_rent = env.chain.lamports(&epoch_account).await;
    let attest_spent = before_attest
        - env.chain.lamports(&env.oracles[0].pubkey_()).await
        - env.chain.lamports(&env.oracles[1].pubkey_()).await;

    eprintln!("creating lookup tables ...");
    let payer_before_tables = env.chain.lamports(&payer.pubkey_()).await;
    let mut tables = Vec::new();
    for group in tree.chunks.chunks(CHUNKS_PER_TABLE) {
        let mut addresses: Vec<Pubkey> = client::distribute_fixed_accounts(0, &tree.root());
        addresses.extend(
            group
                .iter()
                .flat_map(|c| c.recipients.iter().map(|r| r.token_account)),
        );
        tables.push(env.chain.create_lookup_table(&addresses).await.unwrap());
    }
    let table_cost = payer_before_tables - env.chain.lamports(&payer.pubkey_()).await;
    let mut table_rent = 0;
    for t in &tables {
        table_rent += env.chain.lamports(&t.key).await;
    }

    eprintln!("distributing {} chunks ...", tree.chunk_count());
    let (mut cu, mut fees, mut max_bytes, mut max_locks) = (0u64, 0u64, 0usize, 0usize);
    for chunk in &tree.chunks {
        let table = &tables[chunk.index as usize / CHUNKS_PER_TABLE];
        let ixs = [
            ComputeBudgetInstruction::set_compute_unit_limit(CU_LIMIT),
            ComputeBudgetInstruction::set_compute_unit_price(CU_PRICE_MICRO_LAMPORTS),
            distribute_ix(&tree, chunk.index),
        ];
        let tx = env
            .chain
            .v0_transaction(&payer, &ixs, std::slice::from_ref(table))
            .await;
        max_locks = max_locks.max(account_locks(&tx));
        let (_, cost) = env.chain.process(tx).await.unwrap();
        cu += cost.compute_units;
        fees += cost.payer_lamports;
        max_bytes = max_bytes.max(cost.bytes);
    }
    for c in &tree.chunks {
        for r in &c.recipients {
            assert_eq!(env.chain.token_balance(&r.token_account).await, r.amount);
        }
    }
    assert_eq!(env.supply().await, tree.total);

    eprintln!("closing lookup tables ...");
    let keys: Vec<Pubkey> = tables.iter().map(|t| t.key).collect();
    let recovered = env.chain.close_lookup_tables(&keys).await.unwrap();

    let txs = tree.chunk_count() as u64;
    let per_1000 = |v: u64| v as f64 * 1_000.0 / recipients as f64;
    println!("recipients                         {recipients}");
    println!("recipients per distribute tx       {MAX_CHUNK_RECIPIENTS}");
    println!("distribute txs                     {txs}");
    println!("distribute txs per 1,000           {:.1}", per_1000(txs));
    println!("largest tx                         {max_bytes} bytes, {max_locks} account locks");
    println!(
        "SPL Token CU metered               {cu} ({:.0} per recipient)",
        cu as f64 / recipients as f64
    );
    println!(
        "fees (limit {CU_LIMIT} CU, {CU_PRICE_MICRO_LAMPORTS} µlamports/CU)  {fees} lamports ({:.0} per 1,000 recipients)",
        per_1000(fees)
    );
    println!(
        "lookup tables                      {}: {table_rent} lamports rent ({recovered} recovered on close), {} lamports in fees",
        tables.len(),
        table_cost - table_rent
    );
    println!("accounts created per recipient     0 (chunk bitmap in the Epoch account)");
    println!(
        "rent per recipient per epoch       {} lamports (lookup-table rent is returned on close)",
        table_rent.saturating_sub(recovered) / recipients as u64
    );
    println!(
        "all distribution fees per 1,000    {:.0} lamports (distribute + lookup-table transactions)",
        per_1000(fees + table_cost - table_rent)
    );
    println!("Epoch account (per attested root)  {epoch_rent} lamports rent; attestations cost the oracles {attest_spent} lamports");
}

/// `Keypair::pubkey` without importing the Signer trait twice across the harness.
trait PubkeyOf {
    fn pubkey_(&self) -> Pubkey;
}
impl PubkeyOf for solana_sdk::signature::Keypair {
    fn pubkey_(&self) -> Pubkey {
        solana_sdk::signer::Signer::pubkey(self)
    }
}
