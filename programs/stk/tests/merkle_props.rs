//! Property tests of the shared merkle code: for random allocations of 1 to 5,000 recipients every
//! chunk's proof verifies, and changing any field of any chunk makes verification fail.
use anchor_lang::prelude::Pubkey;
use proptest::prelude::*;
use stk::{
    constants::MAX_CHUNK_RECIPIENTS,
    merkle::{chunk_hash, verify, Allocation, EpochTree},
};

fn allocations(max: usize) -> impl Strategy<Value = Vec<Allocation>> {
    (1..=max).prop_flat_map(|n| {
        (
            prop::collection::btree_set(any::<[u8; 32]>(), n),
            prop::collection::vec(1..=u32::MAX as u64, n),
        )
            .prop_map(|(keys, amounts)| {
                keys.into_iter()
                    .zip(amounts)
                    .map(|(k, amount)| Allocation {
                        token_account: Pubkey::new_from_array(k),
                        amount,
                    })
                    .collect()
            })
    })
}

fn leaf(epoch: u64, index: u32, recipients: &[Allocation]) -> [u8; 32] {
    chunk_hash(
        epoch,
        index,
        recipients.iter().map(|r| (&r.token_account, r.amount)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_proof_verifies_and_every_tamper_fails(
        recipients in allocations(5_000),
        epoch in any::<u64>(),
        // From 5: 1,024 chunks of 5 hold 5,120 recipients, so every generated allocation fits.
        chunk_size in 5..=MAX_CHUNK_RECIPIENTS,
        pick in any::<prop::sample::Index>(),
        delta in 1..=u64::MAX,
    ) {
        let tree = EpochTree::build(epoch, recipients.clone(), chunk_size).unwrap();
        let root = tree.root();
        prop_assert_eq!(tree.recipient_count as usize, recipients.len());
        prop_assert_eq!(tree.total, recipients.iter().map(|r| r.amount).sum::<u64>());
        for chunk in &tree.chunks {
            let proof = tree.proof(chunk.index);
            prop_assert!(verify(&proof, &root, chunk.hash(epoch)));
        }

        // One chunk, every field changed in turn.
        let chunk = &tree.chunks[pick.index(tree.chunks.len())];
        let proof = tree.proof(chunk.index);
        let r = pick.index(chunk.recipients.len());

        let mut amounts = chunk.recipients.clone();
        amounts[r].amount = amounts[r].amount.wrapping_add(delta);
        prop_assert!(!verify(&proof, &root, leaf(epoch, chunk.index, &amounts)));

        let mut accounts = chunk.recipients.clone();
        let mut bytes = accounts[r].token_account.to_bytes();
        bytes[(delta % 32) as usize] ^= 1 << (delta % 8);
        accounts[r].token_account = Pubkey::new_from_array(bytes);
        prop_assert!(!verify(&proof, &root, leaf(epoch, chunk.index, &accounts)));

        prop_assert!(!verify(&proof, &root, leaf(epoch.wrapping_add(delta), chunk.index, &chunk.recipients)));
        let other_index = chunk.index.wrapping_add(delta as u32 | 1);
        prop_assert!(!verify(&proof, &root, leaf(epoch, other_index, &chunk.recipients)));

        if chunk.recipients.len() > 1 {
            let mut order = chunk.recipients.clone();
            order.swap(r, (r + 1) % chunk.recipients.len());
            prop_assert!(!verify(&proof, &root, leaf(epoch, chunk.index, &order)));
            let mut dropped = chunk.recipients.clone();
            dropped.remove(r);
            prop_assert!(!verify(&proof, &root, leaf(epoch, chunk.index, &dropped)));
        }
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let p = pick.index(bad.len());
            bad[p][(delta % 32) as usize] ^= 1;
            prop_assert!(!verify(&bad, &root, chunk.hash(epoch)));
            prop_assert!(!verify(&proof[..proof.len() - 1], &root, chunk.hash(epoch)));
        }
    }
}
