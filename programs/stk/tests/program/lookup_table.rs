//! `distribute` as a v0 transaction with an address lookup table: the largest chunk fits 1,232 bytes and
//! 64 account locks, and is sent for real.
use anchor_lang::prelude::Pubkey;
use solana_address_lookup_table_interface::{instruction as alt, state::AddressLookupTable};
use solana_sdk::{
    message::{v0, AddressLookupTableAccount, VersionedMessage},
    signer::Signer,
    transaction::VersionedTransaction,
};
use stk::{
    client,
    constants::{MAX_CHUNK_RECIPIENTS, MAX_PROOF_LEN},
    merkle::{Allocation, EpochTree},
};

use crate::harness::*;

/// Packet limit of a transaction.
const PACKET_DATA_SIZE: usize = 1232;
/// Account locks a transaction may take.
const MAX_TX_ACCOUNT_LOCKS: usize = 64;

/// Creates a lookup table holding `addresses`, waits until it is active, returns it.
pub async fn lookup_table(env: &mut Env, addresses: &[Pubkey]) -> AddressLookupTableAccount {
    let payer = env.payer();
    let slot = env.ctx.banks_client.get_root_slot().await.unwrap();
    env.ctx.warp_to_slot(slot + 2).unwrap();
    let (create, table) = alt::create_lookup_table(payer.pubkey(), payer.pubkey(), slot + 1);
    env.send(&[create], &[]).await.unwrap();
    for batch in addresses.chunks(25) {
        let extend =
            alt::extend_lookup_table(table, payer.pubkey(), Some(payer.pubkey()), batch.to_vec());
        env.send(&[extend], &[]).await.unwrap();
    }
    // Addresses added in a slot are usable from the next one.
    let slot = env.ctx.banks_client.get_root_slot().await.unwrap();
    env.ctx.warp_to_slot(slot + 2).unwrap();
    let data = env.account(&table).await.unwrap().data;
    let state = AddressLookupTable::deserialize(&data).unwrap();
    assert_eq!(state.addresses.len(), addresses.len());
    AddressLookupTableAccount {
        key: table,
        addresses: state.addresses.to_vec(),
    }
}

fn v0_distribute(
    env: &Env,
    table: &AddressLookupTableAccount,
    ix: solana_sdk::instruction::Instruction,
) -> VersionedTransaction {
    let payer = env.payer();
    let ixs = [
        compute_limit(),
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(1_000),
        ix,
    ];
    let message = v0::Message::try_compile(
        &payer.pubkey(),
        &ixs,
        std::slice::from_ref(table),
        env.ctx.last_blockhash,
    )
    .unwrap();
    VersionedTransaction::try_new(VersionedMessage::V0(message), &[&payer]).unwrap()
}

fn tx_size(tx: &VersionedTransaction) -> usize {
    // short_vec signature count (1 byte below 128) + signatures + message.
    1 + 64 * tx.signatures.len() + tx.message.serialize().len()
}

fn locks(tx: &VersionedTransaction) -> usize {
    match &tx.message {
        VersionedMessage::V0(m) => {
            m.account_keys.len()
                + m.address_table_lookups
                    .iter()
                    .map(|l| l.writable_indexes.len() + l.readonly_indexes.len())
                    .sum::<usize>()
        }
        VersionedMessage::Legacy(m) => m.account_keys.len(),
    }
}

#[tokio::test]
async fn largest_chunk_fits_one_transaction() {
    let mut env = Env::new().await;
    let members = env.members(MAX_CHUNK_RECIPIENTS + 1).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    let allocations: Vec<Allocation> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| Allocation {
            token_account: *a,
            amount: 1_000 * STK + i as u64,
        })
        .collect();
    let t = EpochTree::build(0, allocations, MAX_CHUNK_RECIPIENTS).unwrap();
    assert_eq!(t.chunks[0].recipients.len(), MAX_CHUNK_RECIPIENTS);
    env.finalize(&t).await;

    let mut addresses = client::distribute_fixed_accounts(0, &t.root());
    addresses.extend(t.chunks[0].recipients.iter().map(|r| r.token_account));
    let table = lookup_table(&mut env, &addresses).await;

    // The worst case the program accepts: the largest chunk with the deepest proof.
    let (mut args, recipients) = distribute_args(&t, 0);
    args.proof = vec![[0xab; 32]; MAX_PROOF_LEN];
    let worst = v0_distribute(&env, &table, client::distribute(args, &recipients));
    let worst_size = tx_size(&worst);
    assert!(
        worst_size <= PACKET_DATA_SIZE,
        "worst-case distribute is {worst_size} bytes"
    );
    assert!(
        locks(&worst) <= MAX_TX_ACCOUNT_LOCKS,
        "{} locks",
        locks(&worst)
    );
    assert_eq!(
        locks(&worst),
        MAX_TX_ACCOUNT_LOCKS,
        "a larger chunk would fit the lock limit"
    );

    // The real chunk, sent.
    let tx = v0_distribute(&env, &table, distribute_ix(&t, 0));
    let size = tx_size(&tx);
    let result = env
        .ctx
        .banks_client
        .process_transaction_with_metadata(tx)
        .await
        .unwrap();
    result.result.clone().unwrap();
    let cu = result.metadata.unwrap().compute_units_consumed;
    for r in &t.chunks[0].recipients {
        assert_eq!(env.balance(&r.token_account).await, r.amount);
    }
    println!(
        "distribute: {MAX_CHUNK_RECIPIENTS} recipients, {size} bytes (worst case {worst_size}), \
         {} locks, {cu} CU metered ({} per recipient; SPL Token MintTo only, the STK program runs natively)",
        locks(&worst),
        cu / MAX_CHUNK_RECIPIENTS as u64
    );
}
