//! The test environment: an initialized STK program on the in-process chain (`stk-localnet`), with
//! an admin, three oracles (threshold 2) and a test quote mint (the "USDC" of the buyback vault).
use anchor_lang::prelude::Pubkey;
use solana_sdk::{
    instruction::{Instruction, InstructionError},
    signature::Keypair,
    signer::Signer,
    transaction::TransactionError,
};
use stk::{
    client,
    economy::inflow_for_emission,
    error::StkError,
    merkle::{Allocation, EpochTree},
    state::{Config, Epoch, InflowLedger},
    AttestEpochArgs, DistributeArgs, InitializeArgs, Limits,
};
pub use stk_localnet::{BanksClientError, TxResult};
use stk_localnet::{ComputeBudgetInstruction, LocalChain};

pub const DAY: i64 = 86_400;
pub const EPOCH_SECS: i64 = 7 * DAY;
pub const STK: u64 = 1_000_000;
pub const USDC: u64 = 1_000_000;
/// Emission is valued at 0.01 USDC per STK until a floor exists.
pub const GENESIS_PRICE: u64 = 10_000;

pub fn default_limits() -> Limits {
    Limits {
        max_emission_per_epoch: 1_000_000 * STK,
        rate_window_secs: EPOCH_SECS as u64,
        rate_threshold: 2_000_000 * STK,
        max_supply: 100_000_000 * STK,
        premium_bps: 100_000,
        investor_allocation_remaining: 5_000_000 * STK,
        investor_allowlist: false,
        emission_inflow_bps: 5_000,
        genesis_price: GENESIS_PRICE,
    }
}

pub struct Env {
    pub chain: LocalChain,
    pub admin: Keypair,
    pub oracles: Vec<Keypair>,
    pub quote_mint: Pubkey,
    pub quote_authority: Keypair,
    pub genesis: i64,
}

impl Env {
    /// Three oracles, threshold 2, genesis 20 epochs ago (so epochs 0..19 have ended).
    pub async fn new() -> Self {
        Self::with(default_limits(), 2).await
    }

    pub async fn with(limits: Limits, threshold: u8) -> Self {
        Self::build(limits, threshold, &[])
            .await
            .unwrap_or_else(|e| panic!("initialize failed: {e:?}"))
    }

    /// Like [`Env::with`], after sending `lamports` to each of `prefund` (e.g. the addresses
    /// `initialize` creates); the error is `initialize`'s.
    pub async fn build(
        limits: Limits,
        threshold: u8,
        prefund: &[(Pubkey, u64)],
    ) -> Result<Self, BanksClientError> {
        let mut chain = LocalChain::start().await;
        let genesis = chain.now().await - 20 * EPOCH_SECS;
        let admin = Keypair::new();
        let oracles: Vec<Keypair> = (0..3).map(|_| Keypair::new()).collect();
        let quote_authority = Keypair::new();
        let quote_mint = Keypair::new();
        for key in std::iter::once(&admin).chain(&oracles) {
            chain.airdrop(&key.pubkey(), 10_000_000_000).await.unwrap();
        }
        for (address, lamports) in prefund {
            chain.airdrop(address, *lamports).await.unwrap();
        }
        chain
            .create_mint(&quote_mint, &quote_authority.pubkey(), 6)
            .await
            .unwrap();
        let args = InitializeArgs {
            oracles: oracles.iter().map(|o| o.pubkey()).collect(),
            threshold,
            genesis_ts: genesis,
            epoch_duration: EPOCH_SECS,
            limits,
        };
        let ix = client::initialize(admin.pubkey(), quote_mint.pubkey(), args);
        chain.send(&[ix], &[&admin]).await?;
        Ok(Self {
            chain,
            admin,
            oracles,
            quote_mint: quote_mint.pubkey(),
            quote_authority,
            genesis,
        })
    }

    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        self.chain.send(ixs, signers).await
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) {
        self.chain.airdrop(to, lamports).await.unwrap();
    }

    /// The associated token account of `owner` for `mint`, created if missing.
    pub async fn ata(&mut self, owner: &Pubkey, mint: &Pubkey) -> Pubkey {
        self.chain.ata(owner, mint).await.unwrap()
    }

    pub async fn stk_account(&mut self, owner: &Pubkey) -> Pubkey {
        self.ata(owner, &client::mint_address()).await
    }

    /// Mints quote tokens (the test USDC) to `owner`'s associated account.
    pub async fn fund_quote(&mut self, owner: &Pubkey, amount: u64) -> Pubkey {
        let (mint, authority) = (self.quote_mint, self.quote_authority.insecure_clone());
        self.chain
            .mint_to(&mint, &authority, owner, amount)
            .await
            .unwrap()
    }

    pub async fn account(&mut self, key: &Pubkey) -> Option<solana_sdk::account::Account> {
        self.chain.account(key).await
    }

    pub async fn balance(&mut self, token_account: &Pubkey) -> u64 {
        assert!(
            self.account(token_account).await.is_some(),
            "no token account {token_account}"
        );
        self.chain.token_balance(token_account).await
    }

    pub async fn supply(&mut self) -> u64 {
        self.chain.mint_supply(&client::mint_address()).await
    }

    pub async fn anchor<T: anchor_lang::AccountDeserialize>(&mut self, key: &Pubkey) -> T {
        self.chain
            .anchor(key)
            .await
            .expect("account exists and decodes")
    }

    pub async fn config(&mut self) -> Config {
        self.anchor(&client::config_address()).await
    }

    /// Rewrites the stored `Config` directly (as an earlier program version may have left it).
    pub async fn overwrite_config(&mut self, edit: impl FnOnce(&mut Config)) {
        use anchor_lang::AccountSerialize;
        let key = client::config_address();
        let mut account = self.account(&key).await.expect("config exists");
        let mut config = self.config().await;
        edit(&mut config);
        let mut data = Vec::new();
        config.try_serialize(&mut data).unwrap();
        account.data[..data.len()].copy_from_slice(&data);
        self.chain.ctx.set_account(&key, &account.into());
    }

    /// Rent-exempt minimum of an account of `len` bytes.
    pub async fn rent_exempt(&mut self, len: usize) -> u64 {
        let rent = self.chain.ctx.banks_client.get_rent().await.unwrap();
        rent.minimum_balance(len)
    }

    pub async fn epoch(&mut self, n: u64, root: &[u8; 32]) -> Epoch {
        self.anchor(&client::epoch_address(n, root)).await
    }

    /// The emission allowance epoch `n`'s revenue period has earned (0 without a ledger).
    pub async fn allowance(&mut self, n: u64) -> u64 {
        match self.account(&client::inflow_ledger_address()).await {
            Some(a) if a.owner == stk::ID => {
                let ledger: InflowLedger = self.anchor(&client::inflow_ledger_address()).await;
                ledger.record(n).emission_allowance
            }
            _ => 0,
        }
    }

    /// Deposits `amount` of revenue (from the admin) during epoch `n`'s revenue period: the clock is
    /// moved into that period for the deposit and back afterwards. Epochs 0..19 ended before the test
    /// started, so this is how a test gives one the inflow the emission rule asks for.
    pub async fn deposit_in_epoch(&mut self, n: u64, amount: u64) {
        let now = self.now().await;
        let admin = self.admin();
        let source = self.fund_quote(&admin.pubkey(), amount).await;
        let at = (self.genesis + n as i64 * EPOCH_SECS + 1).min(now);
        self.set_time(at).await;
        let ix = client::deposit_revenue(admin.pubkey(), source, amount);
        self.send(&[ix], &[&admin]).await.unwrap();
        self.set_time(now).await;
    }

    /// Makes epoch `n`'s allowance at least `total`: deposits, during its period, the least revenue
    /// whose allowance (`economy::emission_cap` against the current backing) covers the shortfall.
    /// Returns the amount deposited (0 when nothing was needed, or for an epoch that has not started:
    /// its revenue cannot be deposited ahead).
    pub async fn fund_epoch(&mut self, n: u64, total: u64) -> u64 {
        let have = self.allowance(n).await;
        let now = self.now().await;
        let starts = i64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(EPOCH_SECS))
            .and_then(|d| d.checked_add(self.genesis));
        if have >= total || starts.is_none_or(|s| s > now) {
            return 0;
        }
        let need = total - have;
        let config = self.config().await;
        let vault = self.balance(&client::vault_address()).await;
        let supply = self.supply().await;
        let backing = config.backing(vault, supply).unwrap();
        let amount = inflow_for_emission(
            backing,
            need,
            config.emission_inflow_bps,
            config.genesis_price,
        )
        .expect("the shortfall can be funded");
        self.deposit_in_epoch(n, amount).await;
        assert!(self.allowance(n).await >= total);
        amount
    }

    pub async fn now(&mut self) -> i64 {
        self.chain.now().await
    }

    pub async fn set_time(&mut self, unix: i64) {
        self.chain.set_time(unix).await
    }

    pub fn payer(&self) -> Keypair {
        self.chain.payer()
    }

    pub fn admin(&self) -> Keypair {
        self.admin.insecure_clone()
    }

    pub fn oracle(&self, i: usize) -> Keypair {
        self.oracles[i].insecure_clone()
    }

    /// Attests with oracle `oracle`, after making sure the epoch's revenue period earned the emission
    /// allowance `args.total_amount` needs ([`Env::fund_epoch`]; not for totals above the per-epoch cap).
    pub async fn attest(&mut self, oracle: usize, args: &AttestEpochArgs) -> TxResult {
        if args.total_amount <= self.config().await.max_emission_per_epoch {
            self.fund_epoch(args.epoch, args.total_amount).await;
        }
        self.attest_unfunded(oracle, args).await
    }

    /// Attests without funding the epoch first.
    pub async fn attest_unfunded(&mut self, oracle: usize, args: &AttestEpochArgs) -> TxResult {
        let oracle = self.oracle(oracle);
        let ix = client::attest_epoch(oracle.pubkey(), args.clone());
        self.send(&[ix], &[&oracle]).await
    }

    /// Attests `tree` with oracles 0 and 1 (the threshold).
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
    ComputeBudgetInstruction::set_compute_unit_limit(1_400_000)
}

pub fn attest_args(tree: &EpochTree) -> AttestEpochArgs {
    client::attest_args(tree, [7; 32], [9; 32])
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
    pub const CONSTRAINT_SEEDS: u32 = 2006;
    pub const ACCOUNT_NOT_INITIALIZED: u32 = 3012;
}
