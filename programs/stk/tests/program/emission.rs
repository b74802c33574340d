//! attest_epoch + distribute: happy paths and every way to break the emission invariants.
use anchor_lang::prelude::Pubkey;
use solana_sdk::signer::Signer;
use stk::{
    client,
    constants::{MAX_CHUNK_RECIPIENTS, PAUSE_EMISSION},
    error::StkError,
    merkle::{Allocation, EpochTree},
};

use crate::harness::*;

#[tokio::test]
async fn attest_finalize_and_distribute_an_epoch() {
    let mut env = Env::new().await;
    let members = env.members(12).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    let tree = tree(3, &accounts, 10 * STK, 5);
    assert_eq!(tree.chunk_count(), 3);
    let args = attest_args(&tree);

    env.attest(0, &args).await.unwrap();
    let epoch = env.epoch(3, &tree.root()).await;
    assert_eq!(epoch.approvals, 0b001);
    assert!(!epoch.finalized);
    assert_eq!(epoch.total_amount, tree.total);
    assert_eq!(epoch.chunk_count, 3);
    assert_eq!(epoch.recipient_count, 12);
    assert_eq!(epoch.activity_digest, [7; 32]);
    assert_eq!(epoch.rules_hash, [9; 32]);

    // Not finalized yet: nothing can be paid.
    assert_stk(
        env.distribute_chunk(&tree, 0).await,
        StkError::EpochNotFinalized,
    );

    env.attest(1, &args).await.unwrap();
    let epoch = env.epoch(3, &tree.root()).await;
    assert!(epoch.finalized);
    assert_eq!(epoch.approvals, 0b011);
    assert_eq!(env.config().await.next_epoch, 4);

    for chunk in 0..3 {
        env.distribute_chunk(&tree, chunk).await.unwrap();
    }
    for c in &tree.chunks {
        for r in &c.recipients {
            assert_eq!(env.balance(&r.token_account).await, r.amount);
        }
    }
    let epoch = env.epoch(3, &tree.root()).await;
    assert_eq!(epoch.distributed_amount, tree.total);
    assert_eq!(epoch.distributed_chunks, 3);
    assert!(epoch.is_complete());
    assert_eq!(env.supply().await, tree.total);
    assert_eq!(env.config().await.total_distributed, tree.total);

    // A third oracle attesting after finalization is refused; so is any other root for the epoch.
    assert_stk(env.attest(2, &args).await, StkError::EpochAlreadyFinalized);
}

#[tokio::test]
async fn attestation_rules() {
    let mut env = Env::new().await;
    let members = env.members(3).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    let tree = tree(1, &accounts, STK, 2);
    let args = attest_args(&tree);

    // A non-oracle cannot attest.
    let stranger = solana_sdk::signature::Keypair::new();
    env.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    let ix = client::attest_epoch(stranger.pubkey(), args.clone());
    assert_stk(env.send(&[ix], &[&stranger]).await, StkError::NotOracle);

    // The same oracle twice.
    env.attest(0, &args).await.unwrap();
    assert_stk(env.attest(0, &args).await, StkError::AlreadyAttested);

    // Same root, different fields.
    let mut other = args.clone();
    other.activity_digest = [1; 32];
    assert_stk(env.attest(1, &other).await, StkError::AttestationMismatch);

    // A future epoch (ends after now), and the overflowing epoch number.
    let mut future = args.clone();
    future.epoch = 25;
    assert_stk(env.attest(1, &future).await, StkError::EpochNotEnded);
    future.epoch = u64::MAX;
    assert_stk(env.attest(1, &future).await, StkError::MathOverflow);

    // Over the per-epoch cap, including u64::MAX.
    let mut big = args.clone();
    big.epoch = 2;
    big.total_amount = default_limits().max_emission_per_epoch + 1;
    assert_stk(env.attest(1, &big).await, StkError::EpochCapExceeded);
    big.total_amount = u64::MAX;
    assert_stk(env.attest(1, &big).await, StkError::EpochCapExceeded);

    // Impossible shapes.
    let mut shape = args.clone();
    shape.epoch = 2;
    shape.chunk_count = 0;
    assert_stk(env.attest(1, &shape).await, StkError::InvalidEpochParams);
    shape.chunk_count = 1;
    shape.recipient_count = MAX_CHUNK_RECIPIENTS as u32 + 1;
    assert_stk(env.attest(1, &shape).await, StkError::InvalidEpochParams);
}

#[tokio::test]
async fn approvals_under_an_old_config_version_do_not_count() {
    let mut env = Env::new().await;
    let members = env.members(2).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    let tree = tree(0, &accounts, STK, 2);
    let args = attest_args(&tree);

    env.attest(0, &args).await.unwrap();
    // Same oracle set, new version: oracle 0's approval is void.
    let oracles: Vec<Pubkey> = env.oracles.iter().map(|o| o.pubkey()).collect();
    let admin = env.admin();
    let ix = client::set_oracles(admin.pubkey(), oracles, 2);
    env.send(&[ix], &[&admin]).await.unwrap();

    env.attest(1, &args).await.unwrap();
    let epoch = env.epoch(0, &tree.root()).await;
    assert!(!epoch.finalized, "an approval from the old version counted");
    assert_eq!(epoch.approvals, 0b010);
    assert_eq!(epoch.config_version, env.config().await.config_version);

    env.attest(0, &args).await.unwrap();
    assert!(env.epoch(0, &tree.root()).await.finalized);
}

#[tokio::test]
async fn competing_roots_only_the_first_to_threshold_finalizes() {
    let mut env = Env::new().await;
    let members = env.members(2).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    let honest = tree(4, &accounts, STK, 2);
    let tampered = tree(4, &accounts, 50 * STK, 2);
    assert_ne!(honest.root(), tampered.root());

    env.attest(2, &attest_args(&tampered)).await.unwrap();
    env.attest(0, &attest_args(&honest)).await.unwrap();
    env.attest(1, &attest_args(&honest)).await.unwrap();
    assert!(env.epoch(4, &honest.root()).await.finalized);
    assert!(!env.epoch(4, &tampered.root()).await.finalized);
    // The tampered root can no longer reach the threshold, nor can an earlier epoch.
    assert_stk(
        env.attest(0, &attest_args(&tampered)).await,
        StkError::EpochAlreadyFinalized,
    );
    assert_stk(
        env.attest(0, &attest_args(&tree(3, &accounts, STK, 2)))
            .await,
        StkError::EpochAlreadyFinalized,
    );
    assert_stk(
        env.distribute_chunk(&tampered, 0).await,
        StkError::EpochNotFinalized,
    );
}

/// Three chunks of two recipients, finalized; returns the env, the tree and an outsider's STK account.
async fn finalized_epoch() -> (Env, EpochTree, Pubkey) {
    let mut env = Env::new().await;
    let members = env.members(7).await;
    let outsider = members[6].1;
    let accounts: Vec<Pubkey> = members[..6].iter().map(|m| m.1).collect();
    let tree = tree(5, &accounts, 3 * STK, 2);
    env.finalize(&tree).await;
    (env, tree, outsider)
}

#[tokio::test]
async fn a_chunk_is_paid_at_most_once() {
    let (mut env, tree, _) = finalized_epoch().await;
    env.distribute_chunk(&tree, 1).await.unwrap();
    assert_stk(
        env.distribute_chunk(&tree, 1).await,
        StkError::ChunkAlreadyDistributed,
    );
    let paid: u64 = tree.chunks[1].total();
    assert_eq!(env.supply().await, paid);
}

#[tokio::test]
async fn distribute_refuses_tampered_chunks() {
    let (mut env, tree, outsider) = finalized_epoch().await;

    // Tampered amount.
    let (mut args, recipients) = distribute_args(&tree, 0);
    args.amounts[0] += 1;
    let ix = client::distribute(args, &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidProof);

    // Tampered token account (a valid STK account, in order, that is not in the tree).
    let (args, mut recipients) = distribute_args(&tree, 0);
    recipients[1] = outsider;
    recipients.sort();
    let ix = client::distribute(args, &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidProof);

    // Order swapped.
    let (args, mut recipients) = distribute_args(&tree, 0);
    recipients.swap(0, 1);
    let ix = client::distribute(args, &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::RecipientsNotSorted);

    // Chunk 1's data claimed as chunk 0; a chunk index out of range.
    let (mut args, recipients) = distribute_args(&tree, 1);
    args.chunk_index = 0;
    let ix = client::distribute(args.clone(), &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidProof);
    args.chunk_index = 3;
    let ix = client::distribute(args, &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::ChunkIndexOutOfRange);

    // Tampered proof, and no proof.
    let (mut args, recipients) = distribute_args(&tree, 2);
    args.proof[0][0] ^= 1;
    let ix = client::distribute(args.clone(), &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidProof);
    args.proof.clear();
    let ix = client::distribute(args, &recipients);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidProof);

    // Amounts and accounts differ in number.
    let (args, recipients) = distribute_args(&tree, 2);
    let ix = client::distribute(args, &recipients[..1]);
    assert_stk(env.send(&[ix], &[]).await, StkError::InvalidChunk);

    // Nothing was minted by any of it; the honest chunks still pay.
    assert_eq!(env.supply().await, 0);
    for chunk in 0..3 {
        env.distribute_chunk(&tree, chunk).await.unwrap();
    }
    assert_eq!(env.supply().await, tree.total);
}

#[tokio::test]
async fn distribute_refuses_accounts_of_another_mint_and_non_token_accounts() {
    let mut env = Env::new().await;
    let wallet = solana_sdk::signature::Keypair::new();
    let quote_mint = env.quote_mint;
    let quote_account = env.ata(&wallet.pubkey(), &quote_mint).await;
    let good = env.members(1).await[0].1;
    let t = EpochTree::build(
        0,
        vec![
            Allocation {
                token_account: quote_account,
                amount: STK,
            },
            Allocation {
                token_account: good,
                amount: STK,
            },
        ],
        2,
    )
    .unwrap();
    env.finalize(&t).await;
    assert_stk(env.distribute_chunk(&t, 0).await, StkError::WrongMint);

    let t = EpochTree::build(
        1,
        vec![Allocation {
            token_account: wallet.pubkey(),
            amount: STK,
        }],
        2,
    )
    .unwrap();
    env.finalize(&t).await;
    assert_stk(
        env.distribute_chunk(&t, 0).await,
        StkError::InvalidRecipient,
    );
}

#[tokio::test]
async fn rate_limit_and_max_supply_hold() {
    let mut limits = default_limits();
    limits.rate_threshold = 10 * STK;
    limits.max_emission_per_epoch = 100 * STK;
    limits.max_supply = 100 * STK;
    let mut env = Env::with(limits, 2).await;
    let members = env.members(2).await;
    let accounts: Vec<Pubkey> = members.iter().map(|m| m.1).collect();
    // Two chunks of 6 STK: the second breaks the 10 STK window.
    let t = EpochTree::build(
        0,
        accounts
            .iter()
            .map(|a| Allocation {
                token_account: *a,
                amount: 6 * STK,
            })
            .collect(),
        1,
    )
    .unwrap();
    env.finalize(&t).await;
    env.distribute_chunk(&t, 0).await.unwrap();
    assert_stk(
        env.distribute_chunk(&t, 1).await,
        StkError::RateLimitExceeded,
    );
    // Half a window later, half of the 6 STK is forgotten: 3 + 6 <= 10.
    let now = env.now().await;
    env.set_time(now + EPOCH_SECS / 2).await;
    env.distribute_chunk(&t, 1).await.unwrap();
    assert_eq!(env.supply().await, 12 * STK);

    // max_supply: raise the rate limit, then an epoch that would cross 100 STK supply.
    let admin = env.admin();
    let mut limits = default_limits();
    limits.max_emission_per_epoch = 100 * STK;
    limits.max_supply = 100 * STK;
    let ix = client::update_limits(admin.pubkey(), limits);
    env.send(&[ix], &[&admin]).await.unwrap();
    let t = EpochTree::build(
        1,
        vec![Allocation {
            token_account: accounts[0],
            amount: 89 * STK,
        }],
        1,
    )
    .unwrap();
    env.finalize(&t).await;
    assert_stk(
        env.distribute_chunk(&t, 0).await,
        StkError::MaxSupplyExceeded,
    );
}

#[tokio::test]
async fn paused_emission_refuses_attest_and_distribute() {
    let (mut env, tree, _) = finalized_epoch().await;
    let admin = env.admin();
    let ix = client::set_paused(admin.pubkey(), PAUSE_EMISSION);
    env.send(&[ix], &[&admin]).await.unwrap();
    assert_stk(env.distribute_chunk(&tree, 0).await, StkError::Paused);
    let members = env.members(1).await;
    let next = crate::harness::tree(6, &[members[0].1], STK, 1);
    assert_stk(env.attest(0, &attest_args(&next)).await, StkError::Paused);

    let ix = client::set_paused(admin.pubkey(), 0);
    env.send(&[ix], &[&admin]).await.unwrap();
    env.distribute_chunk(&tree, 0).await.unwrap();
}
