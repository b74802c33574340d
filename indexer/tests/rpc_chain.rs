//! `RpcChain` (the real solana-rpc-client 3.1 over real HTTP) against the project's JSON-RPC endpoint
//! (`stk_indexer::chain::rpc_server`, what `serve --local` runs) backed by the in-process bank: the
//! real runtime with the STK program and the real SPL Token.

use std::{sync::Arc, time::Duration};

use anchor_spl::token::spl_token;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::{
    instruction::Instruction, program_pack::Pack, pubkey::Pubkey, signature::Keypair,
    signer::Signer,
};
use stk::{
    client::{self, StkEvent},
    error::StkError,
    merkle::{Allocation, EpochTree},
    AttestEpochArgs, DistributeArgs, InitializeArgs, Limits,
};
use stk_indexer::chain::{
    ops,
    rpc::{load_keypair, RpcChain, RpcOptions},
    rpc_server::{Faults, RpcServer, SendOutcome},
    Chain, ChainError,
};
use stk_localnet::{ComputeBudgetInstruction, LocalChain};

const DAY: i64 = 86_400;
const EPOCH_SECS: i64 = 7 * DAY;
const STK: u64 = 1_000_000;
const SOL: u64 = 1_000_000_000;

fn limits() -> Limits {
    Limits {
        max_emission_per_epoch: 1_000_000 * STK,
        rate_window_secs: EPOCH_SECS as u64,
        rate_threshold: 2_000_000 * STK,
        max_supply: 100_000_000 * STK,
        premium_bps: 100_000,
        investor_allocation_remaining: 5_000_000 * STK,
        investor_allowlist: false,
        emission_inflow_bps: 5_000,
        genesis_price: 10_000,
    }
}

/// Fast polling for tests (the endpoint answers in microseconds).
fn fast() -> RpcOptions {
    RpcOptions {
        max_retries: 3,
        retry_min_delay: Duration::from_millis(5),
        confirm_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(5),
        resend_interval: Duration::from_millis(20),
        max_resigns: 3,
        request_timeout: Duration::from_secs(10),
        ..RpcOptions::default()
    }
}

struct Env {
    node: RpcServer,
    rpc: Arc<RpcChain>,
    /// Pays every transaction sent through `rpc` (funded by `LocalChain::airdrop`).
    payer: Keypair,
    admin: Keypair,
    oracles: Vec<Keypair>,
    quote_mint: Pubkey,
    genesis: i64,
}

impl Env {
    /// The bank with funded keys and a quote mint, served by the endpoint; the program is not
    /// initialized yet.
    async fn new(options: RpcOptions) -> Self {
        let mut chain = LocalChain::start().await;
        let genesis = chain.now().await - 20 * EPOCH_SECS;
        let payer = Keypair::new();
        let admin = Keypair::new();
        let oracles: Vec<Keypair> = (0..3).map(|_| Keypair::new()).collect();
        for key in [&payer, &admin].into_iter().chain(&oracles) {
            chain.airdrop(&key.pubkey(), 10 * SOL).await.unwrap();
        }
        let quote_mint = Keypair::new();
        chain
            .create_mint(&quote_mint, &admin.pubkey(), 6)
            .await
            .unwrap();
        let node = RpcServer::start_local(chain)
            .await
            .expect("the endpoint starts");
        let rpc = Arc::new(RpcChain::new(
            &node.url,
            CommitmentConfig::confirmed(),
            options,
        ));
        Self {
            node,
            rpc,
            payer,
            admin,
            oracles,
            quote_mint: quote_mint.pubkey(),
            genesis,
        }
    }

    /// Initializes the STK program through RPC: three oracles, threshold 2.
    async fn initialized(options: RpcOptions) -> Self {
        let env = Self::new(options).await;
        let args = InitializeArgs {
            oracles: env.oracles.iter().map(|o| o.pubkey()).collect(),
            threshold: 2,
            genesis_ts: env.genesis,
            epoch_duration: EPOCH_SECS,
            limits: limits(),
        };
        let ix = client::initialize(env.admin.pubkey(), env.quote_mint, args);
        env.rpc
            .send(&[ix], &[&env.payer, &env.admin], &[])
            .await
            .expect("initialize through RPC");
        env
    }

    /// Deposits, during epoch `epoch`'s period (the clock moved there and back), the least revenue
    /// whose emission allowance covers `total` (`economy::inflow_for_emission` at the current backing).
    async fn fund_epoch(&self, epoch: u64, total: u64) {
        let chain = self.rpc.as_ref();
        let config = ops::config(chain).await.unwrap().unwrap();
        let vault = ops::token_balance(chain, &config.vault).await.unwrap();
        let supply = ops::mint_supply(chain, &config.stk_mint).await.unwrap();
        let amount = stk::economy::inflow_for_emission(
            config.backing(vault, supply).unwrap(),
            total,
            config.emission_inflow_bps,
            config.genesis_price,
        )
        .unwrap();
        let source = self.quote_account(&self.admin.pubkey(), amount).await;
        let at = self.genesis + epoch as i64 * EPOCH_SECS + 1;
        let now = self
            .node
            .with_chain(async |c: &mut LocalChain| c.now().await)
            .await;
        self.node
            .with_chain(async move |c: &mut LocalChain| c.set_time(at).await)
            .await;
        let ix = client::deposit_revenue(self.admin.pubkey(), source, amount);
        self.rpc
            .send(&[ix], &[&self.payer, &self.admin], &[])
            .await
            .expect("deposit through RPC");
        self.node
            .with_chain(async move |c: &mut LocalChain| c.set_time(now).await)
            .await;
    }

    async fn attest(
        &self,
        oracle: &Keypair,
        args: &AttestEpochArgs,
    ) -> Result<stk_indexer::chain::Sent, ChainError> {
        let ix = client::attest_epoch(oracle.pubkey(), args.clone());
        self.rpc.send(&[ix], &[&self.payer, oracle], &[]).await
    }

    /// Members with STK token accounts (created through RPC), and an epoch tree paying them.
    async fn epoch(&self, epoch: u64, members: usize, chunk_size: usize) -> EpochTree {
        let wallets: Vec<Pubkey> = (0..members).map(|_| Pubkey::new_unique()).collect();
        let created = ops::ensure_token_accounts(
            self.rpc.as_ref(),
            &self.payer,
            &wallets,
            &client::mint_address(),
        )
        .await
        .unwrap();
        assert_eq!(created, members);
        let allocations = wallets
            .iter()
            .enumerate()
            .map(|(i, w)| Allocation {
                token_account: client::stk_ata(w),
                amount: (i as u64 + 1) * STK,
            })
            .collect();
        EpochTree::build(epoch, allocations, chunk_size).unwrap()
    }

    /// A token account of `owner` holding `amount` of the quote mint (set up on the bank directly).
    async fn quote_account(&self, owner: &Pubkey, amount: u64) -> Pubkey {
        let (mint, admin) = (self.quote_mint, self.admin.insecure_clone());
        let owner = *owner;
        self.node
            .with_chain(async move |chain: &mut LocalChain| {
                if amount == 0 {
                    chain.ata(&owner, &mint).await.unwrap()
                } else {
                    chain.mint_to(&mint, &admin, &owner, amount).await.unwrap()
                }
            })
            .await
    }
}

fn attest_args(tree: &EpochTree) -> AttestEpochArgs {
    client::attest_args(tree, [7; 32], [9; 32])
}

fn distribute_ix(tree: &EpochTree, chunk: u32) -> Instruction {
    let c = &tree.chunks[chunk as usize];
    let args = DistributeArgs {
        epoch: tree.epoch,
        root: tree.root(),
        chunk_index: c.index,
        amounts: c.recipients.iter().map(|r| r.amount).collect(),
        proof: tree.proof(chunk),
    };
    let recipients: Vec<Pubkey> = c.recipients.iter().map(|r| r.token_account).collect();
    client::distribute(args, &recipients)
}

fn token_amount(account: &Option<solana_sdk::account::Account>) -> u64 {
    let account = account.as_ref().expect("token account exists");
    spl_token::state::Account::unpack(&account.data)
        .unwrap()
        .amount
}

/// Attests `tree` with oracles 0 and 1 and distributes every chunk, all through RPC.
async fn attest_and_distribute(env: &Env, tree: &EpochTree) {
    env.fund_epoch(tree.epoch, tree.total).await;
    let args = attest_args(tree);
    for oracle in &env.oracles[..2] {
        env.attest(oracle, &args).await.expect("attest through RPC");
    }
    for chunk in 0..tree.chunk_count() {
        let sent = env
            .rpc
            .send(&[distribute_ix(tree, chunk)], &[&env.payer], &[])
            .await
            .expect("distribute through RPC");
        assert!(sent.compute_units > 0, "SPL Token's MintTo is metered");
        assert!(sent.payer_lamports >= 5_000, "the payer paid the fee");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_attest_and_distribute_through_rpc() {
    let options = RpcOptions {
        compute_unit_limit: Some(1_400_000),
        compute_unit_price_micro_lamports: Some(10),
        ..fast()
    };
    let env = Env::initialized(options).await;
    let config = ops::config(env.rpc.as_ref())
        .await
        .unwrap()
        .expect("config exists");
    assert_eq!(config.admin, env.admin.pubkey());

    let tree = env.epoch(3, 5, 2).await;
    assert_eq!(tree.chunk_count(), 3);
    attest_and_distribute(&env, &tree).await;

    // Balances through RpcChain::accounts (getMultipleAccounts, base64).
    let recipients: Vec<_> = tree
        .chunks
        .iter()
        .flat_map(|c| c.recipients.clone())
        .collect();
    let keys: Vec<Pubkey> = recipients.iter().map(|r| r.token_account).collect();
    let accounts = env.rpc.accounts(&keys).await.unwrap();
    for (r, a) in recipients.iter().zip(&accounts) {
        assert_eq!(token_amount(a), r.amount);
    }
    assert_eq!(
        ops::token_balances(env.rpc.as_ref(), &keys).await.unwrap(),
        recipients.iter().map(|r| r.amount).collect::<Vec<_>>()
    );
    assert_eq!(
        ops::mint_supply(env.rpc.as_ref(), &client::mint_address())
            .await
            .unwrap(),
        tree.total
    );
    let epoch = ops::epoch(env.rpc.as_ref(), 3, &tree.root())
        .await
        .unwrap()
        .expect("epoch account");
    assert_eq!(epoch.distributed_amount, tree.total);

    // More keys than one getMultipleAccounts call takes, some missing: order and holes are kept.
    let mut many: Vec<Pubkey> = (0..230).map(|_| Pubkey::new_unique()).collect();
    many[7] = keys[0];
    many[150] = keys[1];
    let got = env.rpc.accounts(&many).await.unwrap();
    assert_eq!(got.len(), 230);
    assert_eq!(token_amount(&got[7]), recipients[0].amount);
    assert_eq!(token_amount(&got[150]), recipients[1].amount);
    assert_eq!(got.iter().filter(|a| a.is_some()).count(), 2);
    assert!(env
        .rpc
        .account(&Pubkey::new_unique())
        .await
        .unwrap()
        .is_none());
    let single = env.rpc.account(&keys[2]).await.unwrap();
    assert_eq!(token_amount(&single), recipients[2].amount);

    // The configured compute budget went in front of the caller's instructions; the fee reflects it.
    let sends = env.node.sends().await;
    let last = env
        .node
        .transaction(&sends.last().unwrap().signature)
        .await
        .unwrap();
    let keys_of = last.tx.message.static_account_keys();
    let programs: Vec<Pubkey> = last
        .tx
        .message
        .instructions()
        .iter()
        .map(|ix| keys_of[ix.program_id_index as usize])
        .collect();
    let budget = ComputeBudgetInstruction::set_compute_unit_limit(0).program_id;
    assert_eq!(programs, vec![budget, budget, stk::ID]);
    assert_eq!(last.fee, 5_000 + 14);

    // Clock and slots.
    let now = env
        .node
        .with_chain(async |c: &mut LocalChain| c.now().await)
        .await;
    assert_eq!(env.rpc.unix_time().await.unwrap(), now);
    let slot = env.rpc.slot().await.unwrap();
    env.rpc.wait_past_slot(slot + 3).await.unwrap();
    assert!(env.rpc.slot().await.unwrap() > slot + 3);
    assert_eq!(env.rpc.describe(), env.node.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_error_is_a_final_transaction_error_and_not_retried() {
    let env = Env::initialized(fast()).await;
    let tree = env.epoch(2, 3, 3).await;
    let mallory = Keypair::new();
    env.node
        .with_chain(async |c: &mut LocalChain| c.airdrop(&mallory.pubkey(), SOL).await.unwrap())
        .await;
    let before = env.node.sends().await.len();
    let executed = env.node.executed().await;

    let err = env
        .attest(&mallory, &attest_args(&tree))
        .await
        .expect_err("a non-oracle cannot attest");
    assert!(matches!(err, ChainError::Transaction(_)), "{err:?}");
    assert!(err.is_stk(StkError::NotOracle), "{err:?}");
    assert!(!err.is_transient());

    let sends = env.node.sends().await;
    assert_eq!(
        sends.len() - before,
        1,
        "preflight failures are final: sent exactly once"
    );
    assert!(matches!(
        sends.last().unwrap().outcome,
        SendOutcome::Rejected(_)
    ));
    assert_eq!(env.node.executed().await, executed, "nothing executed");

    // A distribute before the epoch is finalized fails the same way, with its own code.
    let err = env
        .rpc
        .send(&[distribute_ix(&tree, 0)], &[&env.payer], &[])
        .await
        .expect_err("the epoch account does not exist yet");
    assert!(matches!(err, ChainError::Transaction(_)), "{err:?}");
    assert_eq!(env.node.sends().await.len() - before, 2);
}

/// A token transfer of `amount` from `from` (owner `sender`) to `to`.
fn transfer(from: &Pubkey, to: &Pubkey, sender: &Keypair, amount: u64) -> Instruction {
    spl_token::instruction::transfer(&spl_token::ID, from, to, &sender.pubkey(), &[], amount)
        .unwrap()
}

async fn balances(env: &Env, keys: &[Pubkey]) -> Vec<u64> {
    ops::token_balances(env.rpc.as_ref(), keys).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_is_resent_with_the_same_signature_while_valid() {
    let env = Env::new(fast()).await;
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 1_000).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.node.drop_sends(3).await;

    let sent = env
        .rpc
        .send(
            &[transfer(&from, &to, &sender, 100)],
            &[&env.payer, &sender],
            &[],
        )
        .await
        .expect("lands on the fourth copy");

    let sends = env.node.sends().await;
    assert_eq!(sends.len(), 4);
    assert!(
        sends.iter().all(|s| s.signature == sent.signature),
        "never re-signed"
    );
    assert_eq!(
        sends.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>(),
        [
            SendOutcome::Dropped,
            SendOutcome::Dropped,
            SendOutcome::Dropped,
            SendOutcome::Executed
        ]
    );
    assert_eq!(balances(&env, &[from, to]).await, vec![900, 100]);
    assert_eq!(
        env.node.transaction(&sent.signature).await.unwrap().slot,
        sent.slot
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_is_resigned_only_after_its_blockhash_expired_and_executes_once() {
    let env = Env::new(fast()).await;
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 1_000).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.node.drop_sends(usize::MAX).await;

    let task = {
        let (rpc, payer, sender) = (
            env.rpc.clone(),
            env.payer.insecure_clone(),
            sender.insecure_clone(),
        );
        tokio::spawn(async move {
            rpc.send(
                &[transfer(&from, &to, &sender, 100)],
                &[&payer, &sender],
                &[],
            )
            .await
        })
    };
    // Many copies go out while the blockhash is valid: all the same signed transaction.
    let wait_for = |n: usize| {
        let node = &env.node;
        async move {
            for _ in 0..2_000 {
                if node.sends().await.len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("fewer than {n} sends");
        }
    };
    wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = env.node.sends().await;
    let old = first[0].signature;
    assert!(
        first.iter().all(|s| s.signature == old),
        "re-signed while the blockhash was valid"
    );
    let last_valid = first[0]
        .last_valid
        .expect("a blockhash the endpoint handed out");

    // Up to its last valid block height nothing changes.
    env.node
        .advance_block_height(last_valid - env.node.block_height().await)
        .await;
    let n = env.node.sends().await.len();
    wait_for(n + 3).await;
    assert!(env.node.sends().await.iter().all(|s| s.signature == old));

    // Past it, and with the signature unknown, the transaction is signed again (new blockhash).
    env.node.advance_block_height(1).await;
    let mut resigned = None;
    for _ in 0..2_000 {
        resigned = env
            .node
            .sends()
            .await
            .into_iter()
            .find(|s| s.signature != old);
        if resigned.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resigned = resigned.expect("re-signed once the blockhash expired");
    assert!(resigned.height > last_valid);
    assert_ne!(resigned.blockhash, first[0].blockhash);
    env.node.drop_sends(0).await;
    let sent = task
        .await
        .unwrap()
        .expect("the re-signed transaction lands");
    assert_eq!(sent.signature, resigned.signature);

    let sends = env.node.sends().await;
    for s in &sends {
        if s.signature != old {
            assert!(
                s.height > last_valid,
                "a new signature went out while the old one was valid"
            );
        }
    }
    let signatures: std::collections::HashSet<_> = sends.iter().map(|s| s.signature).collect();
    assert_eq!(signatures.len(), 2);
    assert!(
        env.node.transaction(&old).await.is_none(),
        "the old transaction never executed"
    );
    assert_eq!(
        sends
            .iter()
            .filter(|s| s.outcome == SendOutcome::Executed)
            .count(),
        1
    );
    assert_eq!(
        balances(&env, &[from, to]).await,
        vec![900, 100],
        "moved exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_send_response_does_not_execute_twice() {
    let env = Env::new(fast()).await;
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 1_000).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.node.lose_send_responses(1).await;

    let sent = env
        .rpc
        .send(
            &[transfer(&from, &to, &sender, 250)],
            &[&env.payer, &sender],
            &[],
        )
        .await
        .expect("the executed transaction is found");

    let sends = env.node.sends().await;
    assert_eq!(sends[0].outcome, SendOutcome::ResponseLost);
    assert_eq!(
        sends[1].outcome,
        SendOutcome::Rejected(solana_sdk::transaction::TransactionError::AlreadyProcessed),
        "the retry of the same transaction is a replay"
    );
    assert!(sends.iter().all(|s| s.signature == sent.signature));
    assert_eq!(balances(&env, &[from, to]).await, vec![750, 250]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_signs_are_bounded() {
    let env = Env::new(RpcOptions {
        max_resigns: 2,
        ..fast()
    })
    .await;
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 1_000).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.node
        .set_faults(Faults {
            drop_sends: usize::MAX,
            expire_on_drop: true,
            ..Faults::default()
        })
        .await;

    let err = env
        .rpc
        .send(
            &[transfer(&from, &to, &sender, 1)],
            &[&env.payer, &sender],
            &[],
        )
        .await
        .expect_err("every copy is lost");
    assert!(matches!(err, ChainError::NotConfirmed(_)), "{err:?}");
    let signatures: std::collections::HashSet<_> =
        env.node.sends().await.iter().map(|s| s.signature).collect();
    assert_eq!(signatures.len(), 3, "the first signature and two re-signs");
    assert_eq!(env.node.executed().await, 0);
    env.node.set_faults(Faults::default()).await;
    assert_eq!(balances(&env, &[from, to]).await, vec![1_000, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_node_is_a_transport_error_after_bounded_retries() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let rpc = RpcChain::new(
        &format!("http://127.0.0.1:{port}"),
        CommitmentConfig::confirmed(),
        RpcOptions {
            max_retries: 2,
            ..fast()
        },
    );
    let started = std::time::Instant::now();
    let err = rpc.slot().await.expect_err("nothing listens");
    assert!(matches!(err, ChainError::Transport(_)), "{err:?}");
    assert!(err.is_transient());
    let payer = Keypair::new();
    let ix = solana_sdk::instruction::Instruction::new_with_bytes(stk::ID, &[0], vec![]);
    let err = rpc
        .send(&[ix], &[&payer], &[])
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, ChainError::Transport(_)), "{err:?}");
    assert!(matches!(
        rpc.events(None, 10).await,
        Err(ChainError::Transport(_))
    ));
    assert!(matches!(
        rpc.account(&payer.pubkey()).await,
        Err(ChainError::Transport(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "retries are bounded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff_then_surface_as_transport() {
    let env = Env::new(RpcOptions {
        max_retries: 3,
        ..fast()
    })
    .await;
    // Three 503s: the fourth attempt succeeds.
    env.node.fail_requests(3).await;
    let before = env.node.requests();
    env.rpc
        .slot()
        .await
        .expect("succeeds on the fourth attempt");
    assert_eq!(env.node.requests() - before, 4);

    // More failures than retries: exactly max_retries + 1 attempts, then Transport.
    env.node.fail_requests(100).await;
    let before = env.node.requests();
    let err = env.rpc.slot().await.expect_err("still failing");
    assert!(matches!(err, ChainError::Transport(_)), "{err:?}");
    assert_eq!(env.node.requests() - before, 4);
    env.node.fail_requests(0).await;

    // A transfer whose requests hit 503s along the way still executes exactly once.
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 10).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.node.fail_requests(2).await;
    env.rpc
        .send(
            &[transfer(&from, &to, &sender, 4)],
            &[&env.payer, &sender],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(balances(&env, &[from, to]).await, vec![6, 4]);
}

fn names(events: &[stk_indexer::chain::ChainEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.name()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_back_oldest_first_with_working_cursors() {
    // Small signature pages so `events` has to page through getSignaturesForAddress.
    let env = Env::initialized(RpcOptions {
        signature_page_size: 2,
        ..fast()
    })
    .await;
    let tree = env.epoch(4, 5, 2).await;
    attest_and_distribute(&env, &tree).await;
    // Transactions that do not touch the program are not in its history.
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 5).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    env.rpc
        .send(
            &[transfer(&from, &to, &sender, 5)],
            &[&env.payer, &sender],
            &[],
        )
        .await
        .unwrap();

    let all = env.rpc.events(None, 100).await.unwrap();
    assert_eq!(
        names(&all),
        [
            "Initialized",
            "RevenueDeposited",
            "EpochAttested",
            "EpochAttested",
            "EpochFinalized",
            "ChunkDistributed",
            "ChunkDistributed",
            "ChunkDistributed"
        ]
    );
    match (&all[2].event, &all[3].event) {
        (StkEvent::EpochAttested(a), StkEvent::EpochAttested(b)) => {
            assert_eq!(
                (a.epoch, a.approvals, a.oracle),
                (4, 1, env.oracles[0].pubkey())
            );
            assert_eq!(
                (b.epoch, b.approvals, b.oracle),
                (4, 0b11, env.oracles[1].pubkey())
            );
        }
        other => panic!("{other:?}"),
    }
    for (i, e) in all[5..].iter().enumerate() {
        let StkEvent::ChunkDistributed(d) = &e.event else {
            panic!()
        };
        assert_eq!(d.chunk_index, i as u32);
        assert_eq!(d.root, tree.root());
        assert_eq!(d.complete, i == 2);
    }
    // The cursor is the signature; one transaction's events share it (attest #2 finalizes).
    for e in &all {
        assert_eq!(e.cursor, e.signature);
        let record = env
            .node
            .transaction(&e.signature.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(record.slot, e.slot);
    }
    assert_eq!(all[3].cursor, all[4].cursor);
    assert!(all.windows(2).all(|w| w[0].slot <= w[1].slot));

    // Paging with any limit yields the same sequence; a transaction is never split.
    for limit in [1, 2, 3] {
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = env.rpc.events(cursor.as_deref(), limit).await.unwrap();
            if page.is_empty() {
                break;
            }
            let one_tx = page.iter().all(|e| e.signature == page[0].signature);
            assert!(
                page.len() <= limit || one_tx,
                "limit {limit}: {:?}",
                names(&page)
            );
            cursor = Some(page.last().unwrap().cursor.clone());
            paged.extend(page);
        }
        assert_eq!(paged, all, "limit {limit}");
    }
    let after_first = env.rpc.events(Some(&all[0].cursor), 2).await.unwrap();
    assert_eq!(
        names(&after_first),
        ["RevenueDeposited", "EpochAttested"],
        "the next transaction would exceed 2"
    );
    let at_end = env
        .rpc
        .events(Some(&all.last().unwrap().cursor), 10)
        .await
        .unwrap();
    assert!(at_end.is_empty());

    // New events show up after the last cursor.
    let tree = env.epoch(5, 1, 1).await;
    env.fund_epoch(5, tree.total).await;
    env.attest(&env.oracles[2], &attest_args(&tree))
        .await
        .unwrap();
    let next = env
        .rpc
        .events(Some(&all.last().unwrap().cursor), 10)
        .await
        .unwrap();
    assert_eq!(names(&next), ["RevenueDeposited", "EpochAttested"]);
    assert!(next[0].slot >= all.last().unwrap().slot);

    assert!(matches!(
        env.rpc.events(Some("not-a-signature"), 10).await,
        Err(ChainError::Invalid(_))
    ));
    assert!(env.rpc.events(None, 0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_consecutive_sends_both_execute() {
    let env = Env::new(fast()).await;
    let sender = Keypair::new();
    let from = env.quote_account(&sender.pubkey(), 10).await;
    let to = env.quote_account(&Pubkey::new_unique(), 0).await;
    let ix = transfer(&from, &to, &sender, 1);
    let a = env
        .rpc
        .send(std::slice::from_ref(&ix), &[&env.payer, &sender], &[])
        .await
        .unwrap();
    // The node keeps answering the same blockhash: the same instructions would sign into the same
    // transaction, which the cluster would take for a replay of the first.
    env.node.freeze_blockhash(true).await;
    let second = {
        let (rpc, payer, sender) = (
            env.rpc.clone(),
            env.payer.insecure_clone(),
            sender.insecure_clone(),
        );
        tokio::spawn(async move { rpc.send(&[ix], &[&payer, &sender], &[]).await })
    };
    let asked = env.node.calls("getLatestBlockhash").await;
    for _ in 0..2_000 {
        if second.is_finished() || env.node.calls("getLatestBlockhash").await >= asked + 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !second.is_finished(),
        "the second call must wait for a new blockhash"
    );
    assert_eq!(
        env.node.sends().await.len(),
        1,
        "nothing sent with the used blockhash"
    );
    env.node.freeze_blockhash(false).await;
    env.node.advance_block_height(1).await; // a new slot, so a new blockhash
    let b = second.await.unwrap().unwrap();
    assert_ne!(
        a.signature, b.signature,
        "the second call waited for a new blockhash"
    );
    assert_eq!(balances(&env, &[from, to]).await, vec![8, 2]);
}

mod keypairs {
    use super::*;
    use std::io::Write;

    fn json_of(k: &Keypair) -> String {
        serde_json::to_string(&k.to_bytes().to_vec()).unwrap()
    }

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    /// Error text must not contain the key material in any form.
    fn assert_no_secret(err: &anyhow::Error, secret: &str) {
        let text = format!("{err:#} {err:?}");
        assert!(!text.contains(secret), "error leaks the input: {text}");
        let numbers: Vec<&str> = secret.trim_matches(['[', ']']).split(',').collect();
        if numbers.len() >= 8 {
            let run = numbers[..8].join(",");
            assert!(!text.contains(&run), "error leaks key bytes: {text}");
        }
    }

    #[test]
    fn loads_the_solana_cli_format_from_a_file() {
        let key = Keypair::new();
        let f = file_with(&json_of(&key));
        let loaded = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_UNSET_1").unwrap();
        assert_eq!(loaded.pubkey(), key.pubkey());
        // Whitespace and newlines, as `solana-keygen` may write them.
        let f = file_with(&format!("\n  {}\n", json_of(&key).replace(',', ", ")));
        assert_eq!(
            load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_UNSET_1")
                .unwrap()
                .pubkey(),
            key.pubkey()
        );
    }

    #[test]
    fn the_environment_variable_wins_over_the_file() {
        let from_env = Keypair::new();
        let from_file = Keypair::new();
        let f = file_with(&json_of(&from_file));
        // SAFETY: this variable is read by this test only.
        unsafe { std::env::set_var("STK_TEST_KEYPAIR_ENV", json_of(&from_env)) };
        let loaded = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_ENV").unwrap();
        assert_eq!(loaded.pubkey(), from_env.pubkey());
        // An empty variable counts as unset.
        unsafe { std::env::set_var("STK_TEST_KEYPAIR_ENV", "") };
        let loaded = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_ENV").unwrap();
        assert_eq!(loaded.pubkey(), from_file.pubkey());
        // A bad value is an error naming the variable, not a silent fallback.
        let mut bytes = from_env.to_bytes().to_vec();
        bytes.pop();
        let short = serde_json::to_string(&bytes).unwrap();
        unsafe { std::env::set_var("STK_TEST_KEYPAIR_ENV", &short) };
        let err = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_ENV").unwrap_err();
        assert!(err.to_string().contains("STK_TEST_KEYPAIR_ENV"), "{err}");
        assert!(
            err.to_string().contains("expected 64 bytes, found 63"),
            "{err}"
        );
        assert_no_secret(&err, &short);
        unsafe { std::env::remove_var("STK_TEST_KEYPAIR_ENV") };
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let err = load_keypair(Some(&path), "STK_TEST_KEYPAIR_UNSET_2").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("does not exist") && text.contains("nope.json"),
            "{text}"
        );
        assert!(
            text.contains("STK_TEST_KEYPAIR_UNSET_2"),
            "says how else to provide it: {text}"
        );
    }

    #[test]
    fn bad_json_and_wrong_length_are_clear_errors_without_key_bytes() {
        let key = Keypair::new();
        let good = json_of(&key);
        for (text, expect) in [
            (good.replacen('[', "{", 1), "not a JSON array"),
            (good.replacen(',', ",300,", 1), "not a JSON array"),
            (good.replacen(']', ",", 1), "not a JSON array"),
            ("\"base58-not-supported\"".to_string(), "not a JSON array"),
            (
                serde_json::to_string(&key.to_bytes()[..32].to_vec()).unwrap(),
                "expected 64 bytes, found 32",
            ),
            (
                format!("{},1]", good.trim_end_matches(']')),
                "expected 64 bytes, found 65",
            ),
        ] {
            let f = file_with(&text);
            let err = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_UNSET_3").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(expect), "{msg}");
            assert!(
                msg.contains(&f.path().display().to_string()),
                "names the file: {msg}"
            );
            assert_no_secret(&err, &good);
        }
        // 64 bytes whose public half does not match the secret half.
        let mut bytes = key.to_bytes().to_vec();
        bytes[40] ^= 1;
        let text = serde_json::to_string(&bytes).unwrap();
        let f = file_with(&text);
        let err = load_keypair(Some(f.path()), "STK_TEST_KEYPAIR_UNSET_3").unwrap_err();
        assert!(err.to_string().contains("not the public key"), "{err}");
        assert_no_secret(&err, &text);
    }
}
