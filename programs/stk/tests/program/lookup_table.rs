//! `distribute` as a v0 transaction with an address lookup table: the largest chunk fits 1,232 bytes and
//! 64 account locks, and is sent for real.
use anchor_lang::prelude::Pubkey;
use solana_sdk::{instruction::Instruction, message::AddressLookupTableAccount};
use stk::{
    client,
    constants::{MAX_CHUNK_RECIPIENTS, MAX_PROOF_LEN},
    merkle::{Allocation, EpochTree},
};
use stk_localnet::{account_locks, transaction_size, ComputeBudgetInstruction};

use crate::harness::*;

/// Packet limit of a transaction.
const PACKET_DATA_SIZE: usize = 1232;
/// Account locks a transaction may take.
const MAX_TX_ACCOUNT_LOCKS: usize = 64;

async fn v0_distribute(
    env: &mut Env,
    table: &AddressLookupTableAccount,
    ix: Instruction,
) -> solana_sdk::transaction::VersionedTransaction {
    let payer = env.payer();
    let ixs = [
        compute_limit(),
        ComputeBudgetInstruction::set_compute_unit_price(1_000),
        ix,
    ];
    env.chain
        .v0_transaction(&payer, &ixs, std::slice::from_ref(table))
        .await
}

#[tokio::test]
async fn largest_chunk_fits_one_transaction() {
    let mut env = Env::new().await;
    let members = env.members(MAX_CHUNK_RECIPIENTS + 1).await;
    let allocations: Vec<Allocation> = members
        .iter()
        .enumerate()
        .map(|(i, m)| Allocation {
            token_account: m.1,
            amount: 1_000 * STK + i as u64,
        })
        .collect();
    let t = EpochTree::build(0, allocations, MAX_CHUNK_RECIPIENTS).unwrap();
    assert_eq!(t.chunks[0].recipients.len(), MAX_CHUNK_RECIPIENTS);
    env.finalize(&t).await;

    let mut addresses: Vec<Pubkey> = client::distribute_fixed_accounts(0, &t.root());
    addresses.extend(t.chunks[0].recipients.iter().map(|r| r.token_account));
    let table = env.chain.create_lookup_table(&addresses).await.unwrap();

    // The worst case the program accepts: the largest chunk with the deepest proof.
    let (mut args, recipients) = distribute_args(&t, 0);
    args.proof = vec![[0xab; 32]; MAX_PROOF_LEN];
    let worst = v0_distribute(&mut env, &table, client::distribute(args, &recipients)).await;
    let worst_size = transaction_size(&worst);
    assert!(
        worst_size <= PACKET_DATA_SIZE,
        "worst-case distribute is {worst_size} bytes"
    );
    assert_eq!(
        account_locks(&worst),
        MAX_TX_ACCOUNT_LOCKS,
        "the chunk should use every account lock"
    );

    // The real chunk, sent.
    let tx = v0_distribute(&mut env, &table, distribute_ix(&t, 0)).await;
    let (_, cost) = env.chain.process(tx).await.unwrap();
    for r in &t.chunks[0].recipients {
        assert_eq!(env.balance(&r.token_account).await, r.amount);
    }
    assert!(cost.compute_units > 0, "SPL Token CU are metered");
    println!(
        "distribute: {MAX_CHUNK_RECIPIENTS} recipients, {} bytes (worst case {worst_size}), \
         {} CU metered",
        cost.bytes, cost.compute_units
    );
}
