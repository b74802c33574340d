//! The test chain: the real `stk` program (native, inside the real runtime), the real SPL Token,
//! Associated Token and Address Lookup Table programs (their BPF builds bundled with the runtime).
use anchor_lang::{prelude::Pubkey, solana_program::system_instruction, AccountDeserialize};
use anchor_spl::{associated_token::spl_associated_token_account as ata, token::spl_token};
use solana_program_test::{processor, BanksClientError, ProgramTest, ProgramTestContext};
use solana_sdk::{
    account::Account,
    clock::Clock,
    instruction::{Instruction, InstructionError},
    program_pack::Pack,
    signature::Keypair,
    signer::Signer,
    transaction::{Transaction, TransactionError},
};
use stk::{
    client,
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::{Config, Epoch},
    AttestEpochArgs, DistributeArgs, InitializeArgs, Limits,
};

pub const DAY: i64 = 86_400;
pub const EPOCH_SECS: i64 = 7 * DAY;
pub const STK: u64 = 1_000_000;
pub const USDC: u64 = 1_000_000;

fn entry_wrapper(
    program_id: &Pubkey,
    accounts: &[anchor_lang::prelude::AccountInfo],
    data: &[u8],
) -> anchor_lang::solana_program::entrypoint::ProgramResult {
    // Only unifies the lifetimes Anchor's entry wants; every reference outlives this call.
    let accounts: &[anchor_lang::prelude::AccountInfo] = unsafe { std::mem::transmute(accounts) };
    stk::entry(program_id, accounts, data)
}

pub fn default_limits() -> Limits {
    Limits {
        max_emission_per_epoch: 1_000_000 * STK,
        rate_window_secs: EPOCH_SECS as u64,
        rate_threshold: 2_000_000 * STK,
        max_supply: 100_000_000 * STK,
        premium_bps: 100_000,
        investor_allocation_remaining: 5_000_000 * STK,
        investor_allowlist: false,
    }
}

pub struct Env {
    pub ctx: ProgramTestContext,
    pub admin: Keypair,
    pub oracles: Vec<Keypair>,
    pub quote_mint: Pubkey,
    pub quote_authority: Keypair,
    pub genesis: i64,
}

pub type TxResult = Result<(), BanksClientError>;

impl Env {
    /// Three oracles, threshold 2, genesis 20 epochs ago (so epochs 0..19 have ended).
    pub async fn new() -> Self {
        Self::with(default_limits(), 2).await
    }

    pub async fn with(limits: Limits, threshold: u8) -> Self {
        let mut pt = ProgramTest::new("stk", stk::ID, processor!(entry_wrapper));
        pt.prefer_bpf(false);
        let ctx = pt.start_with_context().await;
        let clock: Clock = ctx.banks_client.get_sysvar().await.unwrap();
        let genesis = clock.unix_timestamp - 20 * EPOCH_SECS;
        let admin = Keypair::new();
        let oracles: Vec<Keypair> = (0..3).map(|_| Keypair::new()).collect();
        let quote_authority = Keypair::new();
        let quote_mint = Keypair::new();
        let mut env = Self {
            ctx,
            admin,
            oracles,
            quote_mint: quote_mint.pubkey(),
            quote_authority,
            genesis,
        };
        let funded: Vec<Pubkey> = std::iter::once(env.admin.pubkey())
            .chain(env.oracles.iter().map(|o| o.pubkey()))
            .collect();
        for key in funded {
            env.airdrop(&key, 10_000_000_000).await;
        }
        env.create_mint(&quote_mint, 6).await;
        let args = InitializeArgs {
            oracles: env.oracles.iter().map(|o| o.pubkey()).collect(),
            threshold,
            genesis_ts: genesis,
            epoch_duration: EPOCH_SECS,
            limits,
        };
        let ix = client::initialize(env.admin.pubkey(), env.quote_mint, args);
        let admin = env.admin.insecure_clone();
        env.send(&[ix], &[&admin]).await.unwrap();
        env
    }

    pub fn payer(&self) -> Keypair {
        self.ctx.payer.insecure_clone()
    }

    /// Sends `ixs` paid by the context payer, signed by `signers` too.
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        let payer = self.payer();
        let mut all: Vec<&Keypair> = vec![&payer];
        all.extend_from_slice(signers);
        let blockhash = self.ctx.get_new_latest_blockhash().await.unwrap();
        let tx = Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &all, blockhash);
        self.ctx.banks_client.process_transaction(tx).await
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) {
        let payer = self.payer();
        let ix = system_instruction::transfer(&payer.pubkey(), to, lamports);
        self.send(&[ix], &[]).await.unwrap();
    }

    pub async fn create_mint(&mut self, mint: &Keypair, decimals: u8) {
        let payer = self.payer();
        let rent = self.ctx.banks_client.get_rent().await.unwrap();
        let create = system_instruction::create_account(
            &payer.pubkey(),
            &mint.pubkey(),
            rent.minimum_balance(spl_token::state::Mint::LEN),
            spl_token::state::Mint::LEN as u64,
            &spl_token::ID,
        );
        let init = spl_token::instruction::initialize_mint2(
            &spl_token::ID,
            &mint.pubkey(),
            &self.quote_authority.pubkey(),
            None,
            decimals,
        )
        .unwrap();
        self.send(&[create, init], &[mint]).await.unwrap();
    }

    /// The associated token account of `owner` for `mint`, created if missing.
    pub async fn ata(&mut self, owner: &Pubkey, mint: &Pubkey) -> Pubkey {
        let payer = self.payer();
        let ix = ata::instruction::create_associated_token_account_idempotent(
            &payer.pubkey(),
            owner,
            mint,
            &spl_token::ID,
        );
        self.send(&[ix], &[]).await.unwrap();
        ata::address::get_associated_token_address(owner, mint)
    }

    pub async fn stk_account(&mut self, owner: &Pubkey) -> Pubkey {
        self.ata(owner, &client::mint_address()).await
    }

    /// Mints quote tokens (the test USDC) to `owner`'s associated account.
    pub async fn fund_quote(&mut self, owner: &Pubkey, amount: u64) -> Pubkey {
        let quote_mint = self.quote_mint;
        let account = self.ata(owner, &quote_mint).await;
        let authority = self.quote_authority.insecure_clone();
        let ix = spl_token::instruction::mint_to(
            &spl_token::ID,
            &quote_mint,
            &account,
            &authority.pubkey(),
            &[],
            amount,
        )
        .unwrap();
        self.send(&[ix], &[&authority]).await.unwrap();
        account
    }

    pub async fn account(&mut self, key: &Pubkey) -> Option<Account> {
        self.ctx.banks_client.get_account(*key).await.unwrap()
    }

    pub async fn balance(&mut self, token_account: &Pubkey) -> u64 {
        let account = self.account(token_account).await.expect("token account");
        spl_token::state::Account::unpack(&account.data)
            .unwrap()
            .amount
    }

    pub async fn supply(&mut self) -> u64 {
        let account = self.account(&client::mint_address()).await.unwrap();
        spl_token::state::Mint::unpack(&account.data)
            .unwrap()
            .supply
    }

    pub async fn anchor<T: AccountDeserialize>(&mut self, key: &Pubkey) -> T {
        let account = self.account(key).await.expect("account exists");
        T::try_deserialize(&mut account.data.as_slice()).unwrap()
    }

    pub async fn config(&mut self) -> Config {
        self.anchor(&client::config_address()).await
    }

    pub async fn epoch(&mut self, n: u64, root: &[u8; 32]) -> Epoch {
        self.anchor(&client::epoch_address(n, root)).await
    }

    pub async fn now(&mut self) -> i64 {
        let clock: Clock = self.ctx.banks_client.get_sysvar().await.unwrap();
        clock.unix_timestamp
    }

    pub async fn set_time(&mut self, unix: i64) {
        let mut clock: Clock = self.ctx.banks_client.get_sysvar().await.unwrap();
        clock.unix_timestamp = unix;
        self.ctx.set_sysvar(&clock);
    }

    pub fn admin(&self) -> Keypair {
        self.admin.insecure_clone()
    }

    pub fn oracle(&self, i: usize) -> Keypair {
        self.oracles[i].insecure_clone()
    }

    pub async fn attest(&mut self, oracle: usize, args: &AttestEpochArgs) -> TxResult {
        let oracle = self.oracle(oracle);
        let ix = client::attest_epoch(oracle.pubkey(), args.clone());
        self.send(&[ix], &[&oracle]).await
    }

    /// Attests `tree` with the first `threshold` oracles.
    pub async fn finalize(&mut self, tree: &EpochTree) -> AttestEpochArgs {
        let args = attest_args(tree);
        for i in 0..2 {
            self.attest(i, &args).await.unwrap();
        }
        args
    }

    pub async fn distribute_chunk(&mut self, tree: &EpochTree, chunk: u32) -> TxResult {
        let ix = distribute_ix(tree, chunk);
        self.send(&[compute_limit(), ix], &[]).await
    }

    /// Members with STK accounts; returns (wallet, token account) sorted by token account.
    pub async fn members(&mut self, n: usize) -> Vec<(Keypair, Pubkey)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let wallet = Keypair::new();
            let account = self.stk_account(&wallet.pubkey()).await;
            out.push((wallet, account));
        }
        out.sort_by_key(|(_, a)| *a);
        out
    }
}

pub fn compute_limit() -> Instruction {
    solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(1_400_000)
}

pub fn attest_args(tree: &EpochTree) -> AttestEpochArgs {
    AttestEpochArgs {
        epoch: tree.epoch,
        root: tree.root(),
        total_amount: tree.total,
        chunk_count: tree.chunk_count(),
        recipient_count: tree.recipient_count,
        activity_digest: [7; 32],
        rules_hash: [9; 32],
    }
}

pub fn distribute_args(tree: &EpochTree, chunk: u32) -> (DistributeArgs, Vec<Pubkey>) {
    let c = &tree.chunks[chunk as usize];
    let args = DistributeArgs {
        epoch: tree.epoch,
        root: tree.root(),
        chunk_index: c.index,
        amounts: c.recipients.iter().map(|r| r.amount).collect(),
        proof: tree.proof(chunk),
    };
    (args, c.recipients.iter().map(|r| r.token_account).collect())
}

pub fn distribute_ix(tree: &EpochTree, chunk: u32) -> Instruction {
    let (args, recipients) = distribute_args(tree, chunk);
    client::distribute(args, &recipients)
}

pub fn tree(epoch: u64, accounts: &[Pubkey], amount: u64, chunk: usize) -> EpochTree {
    let allocations = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| Allocation {
            token_account: *a,
            amount: amount + i as u64,
        })
        .collect();
    EpochTree::build(epoch, allocations, chunk).unwrap()
}

/// Asserts the transaction failed with custom error `code` (`what` names it in the message).
#[track_caller]
pub fn assert_code_named(result: TxResult, code: u32, what: &str) {
    let err = match result {
        Ok(()) => panic!("expected {what} ({code}), the transaction succeeded"),
        Err(BanksClientError::TransactionError(e)) => e,
        Err(BanksClientError::SimulationError { err, .. }) => err,
        Err(other) => panic!("expected {what} ({code}), got {other:?}"),
    };
    match err {
        TransactionError::InstructionError(_, InstructionError::Custom(c)) => {
            assert_eq!(c, code, "expected {what} ({code}), got custom error {c}")
        }
        other => panic!("expected {what} ({code}), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_code(result: TxResult, code: u32) {
    assert_code_named(result, code, "custom error")
}

#[track_caller]
pub fn assert_stk(result: TxResult, e: StkError) {
    let what = format!("StkError::{e:?}");
    assert_code_named(result, client::error_code(e), &what);
}

/// Anchor's own error numbers (constraint failures that are not ours).
pub mod anchor_err {
    pub const ACCOUNT_NOT_SIGNER: u32 = 3010;
}
