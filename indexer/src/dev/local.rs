//! A complete STK economy on the in-process chain: the program initialized with an admin, community
//! oracles and a test quote mint (the "USDC" of the buyback vault), plus the service configuration that
//! matches it, and the standard access plans (30, 90 and 365 days). Used by `stk-indexer demo`,
//! `serve --local` and the end-to-end tests.
use std::sync::Arc;

use ed25519_dalek::Signer as _;
use solana_sdk::{pubkey::Pubkey, signature::Keypair, signer::Signer};
use stk::{client, InitializeArgs, Limits, SetPlanArgs};

use crate::{
    chain::{local::LocalChainClient, Chain, ChainError},
    config::Config,
    store::{BindOutcome, ChallengeRow, Store, StoreError},
    wallet,
};

pub const STK: u64 = 1_000_000;
pub const USDC: u64 = 1_000_000;

/// The standard access plans the local economy starts with: (id, days, fiat price in quote base
/// units, STK discount in bps). Paid in STK at the fiat price less 20%, converted at the floor.
pub const STANDARD_PLANS: [(u32, u64, u64, u16); 3] = [
    (1, 30, 10 * USDC, 2_000),
    (2, 90, 27 * USDC, 2_000),
    (3, 365, 100 * USDC, 2_000),
];

/// `set_plan` for each of [`STANDARD_PLANS`] (active).
pub fn standard_plan_instructions(admin: &Pubkey) -> Vec<solana_sdk::instruction::Instruction> {
    STANDARD_PLANS
        .iter()
        .map(|&(id, days, fiat_price, discount_bps)| {
            client::set_plan(
                *admin,
                SetPlanArgs {
                    id,
                    period_secs: days * 86_400,
                    fiat_price,
                    discount_bps,
                    active: true,
                },
            )
        })
        .collect()
}

/// How to set the economy up.
#[derive(Debug, Clone)]
pub struct EconomyOptions {
    pub oracles: usize,
    pub threshold: u8,
    pub epoch_duration: i64,
    /// Epoch 0 started this many whole epochs before the chain's clock (so that many have ended).
    pub epochs_ago: i64,
    pub budget_per_epoch: u64,
    /// Subscription revenue the platform deposits into the vault during every period from genesis to
    /// now (the clock is moved into each period for its deposit), so each epoch has the emission
    /// allowance the program's rule gives it. `None`: what `budget_per_epoch` needs at the genesis
    /// price ([`revenue_for_budget`]); `Some(0)`: no revenue.
    pub revenue_per_epoch: Option<u64>,
    pub limits: Limits,
}

/// The revenue whose emission allowance, valued at `limits.genesis_price` (no floor yet), is `budget`
/// (`economy::inflow_for_emission`, the least such inflow).
pub fn revenue_for_budget(budget: u64, limits: &Limits) -> u64 {
    let no_floor = stk::economy::Backing {
        vault: 0,
        floating: 0,
    };
    stk::economy::inflow_for_emission(
        no_floor,
        budget,
        limits.emission_inflow_bps,
        limits.genesis_price,
    )
    .unwrap_or(0)
}

impl Default for EconomyOptions {
    fn default() -> Self {
        Self {
            oracles: 3,
            threshold: 2,
            epoch_duration: 7 * 86_400,
            epochs_ago: 4,
            budget_per_epoch: 100_000 * STK,
            revenue_per_epoch: None,
            limits: Limits {
                max_emission_per_epoch: 250_000 * STK,
                rate_window_secs: 7 * 86_400,
                rate_threshold: 500_000 * STK,
                max_supply: 100_000_000 * STK,
                premium_bps: 100_000,
                investor_allocation_remaining: 10_000_000 * STK,
                investor_allowlist: false,
                emission_inflow_bps: 5_000,
                genesis_price: 10_000,
            },
        }
    }
}

pub struct LocalEconomy {
    pub chain: LocalChainClient,
    pub admin: Arc<Keypair>,
    pub oracles: Vec<Arc<Keypair>>,
    /// The service's fee payer (token accounts, lookup tables, distribution fees).
    pub payer: Arc<Keypair>,
    pub quote_mint: Pubkey,
    pub quote_authority: Arc<Keypair>,
    pub genesis: i64,
    pub options: EconomyOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

impl LocalEconomy {
    /// Starts an in-process chain and initializes the STK program on it.
    pub async fn start(options: EconomyOptions) -> Result<Self, LocalError> {
        let chain = LocalChainClient::start().await;
        let now = chain.unix_time().await?;
        let genesis = now - options.epochs_ago * options.epoch_duration;
        let admin = Arc::new(Keypair::new());
        let payer = Arc::new(Keypair::new());
        let quote_authority = Arc::new(Keypair::new());
        let oracles: Vec<Arc<Keypair>> = (0..options.oracles)
            .map(|_| Arc::new(Keypair::new()))
            .collect();
        for key in [&admin, &payer].into_iter().chain(oracles.iter()) {
            chain.airdrop(&key.pubkey(), 1_000 * 1_000_000_000).await?;
        }
        let quote_mint = Keypair::new();
        let qa = quote_authority.pubkey();
        chain
            .with(async |c| c.create_mint(&quote_mint, &qa, 6).await)
            .await
            .map_err(|e| LocalError::Setup(format!("creating the quote mint: {e}")))?;
        let args = InitializeArgs {
            oracles: oracles.iter().map(|o| o.pubkey()).collect(),
            threshold: options.threshold,
            genesis_ts: genesis,
            epoch_duration: options.epoch_duration,
            limits: options.limits,
        };
        chain
            .send(
                &[client::initialize(
                    admin.pubkey(),
                    quote_mint.pubkey(),
                    args,
                )],
                &[&admin],
                &[],
            )
            .await?;
        chain
            .send(&standard_plan_instructions(&admin.pubkey()), &[&admin], &[])
            .await?;
        let economy = Self {
            chain,
            admin,
            oracles,
            payer,
            quote_mint: quote_mint.pubkey(),
            quote_authority,
            genesis,
            options,
        };
        economy.deposit_past_revenue(now).await?;
        Ok(economy)
    }

    /// Deposits `revenue_per_epoch` in each period from genesis up to the one running at `now`, in
    /// order, moving the clock into each period for its deposit and back to `now` at the end.
    async fn deposit_past_revenue(&self, now: i64) -> Result<(), LocalError> {
        let o = &self.options;
        let revenue = o
            .revenue_per_epoch
            .unwrap_or_else(|| revenue_for_budget(o.budget_per_epoch, &o.limits));
        if revenue == 0 {
            return Ok(());
        }
        let platform = self.admin.clone();
        let periods = u64::try_from(o.epochs_ago.max(0)).unwrap_or(0) + 1;
        let source = self
            .fund_quote(&platform.pubkey(), revenue.saturating_mul(periods))
            .await?;
        for p in 0..periods as i64 {
            let at = (self.genesis + p * o.epoch_duration + 60).min(now);
            self.chain.set_time(at).await;
            self.chain
                .send(
                    &[client::deposit_revenue(platform.pubkey(), source, revenue)],
                    &[&platform],
                    &[],
                )
                .await?;
        }
        self.chain.set_time(now).await;
        Ok(())
    }

    /// The service configuration matching this chain (epoch clock and budget), on `database_url`.
    pub fn config(&self, database_url: &str) -> Config {
        let mut cfg = Config::default();
        cfg.database.url = database_url.to_string();
        cfg.epoch.genesis = self.genesis;
        cfg.epoch.duration_secs = self.options.epoch_duration;
        cfg.epoch.budget = self.options.budget_per_epoch;
        cfg
    }

    /// Creates a member, binds a fresh wallet with a signed challenge (the same proof the API checks)
    /// and activates it. Returns the wallet.
    pub async fn add_member(&self, store: &Store, id: &str) -> Result<Keypair, LocalError> {
        let wallet = Keypair::new();
        bind_wallet(store, id, &wallet).await?;
        store.set_member_status(id, true).await?;
        Ok(wallet)
    }

    /// Mints test quote tokens to `owner`'s associated account; returns the account.
    pub async fn fund_quote(&self, owner: &Pubkey, amount: u64) -> Result<Pubkey, LocalError> {
        let (mint, authority) = (self.quote_mint, self.quote_authority.clone());
        let owner = *owner;
        self.chain
            .with(async |c| c.mint_to(&mint, &authority, &owner, amount).await)
            .await
            .map_err(|e| LocalError::Setup(format!("minting quote: {e}")))
    }
}

/// Creates member `id` (if needed) and binds `wallet` to it through a challenge signed by the wallet.
pub async fn bind_wallet(store: &Store, id: &str, wallet: &Keypair) -> Result<(), LocalError> {
    store.create_member(id).await?;
    let address = wallet.pubkey().to_string();
    let nonce = wallet::new_nonce();
    let expires_at = crate::store::now_unix() + 300;
    let message = wallet::challenge_message(id, &address, &nonce, expires_at);
    store
        .insert_challenge(&ChallengeRow {
            nonce: nonce.clone(),
            member_id: id.to_string(),
            wallet: address.clone(),
            message: message.clone(),
            expires_at,
            used_at: None,
        })
        .await?;
    let signing = ed25519_dalek::SigningKey::from_bytes(
        wallet.secret_bytes()[..32]
            .try_into()
            .map_err(|_| LocalError::Setup("wallet secret".into()))?,
    );
    let signature = bs58::encode(signing.sign(message.as_bytes()).to_bytes()).into_string();
    wallet::verify(&address, &message, &signature)
        .map_err(|e| LocalError::Setup(format!("wallet proof of {id}: {e}")))?;
    match store
        .consume_challenge_and_bind(&nonce, id, &address, &signature, crate::store::now_unix())
        .await?
    {
        BindOutcome::Bound => Ok(()),
        other => Err(LocalError::Setup(format!("binding {id}: {other:?}"))),
    }
}
