//! The economy and a wallet's standing as the program's accounts state them (`GET /v1/economy`,
//! `GET /v1/wallets/{wallet}/state`).
use anchor_spl::associated_token::get_associated_token_address;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use stk::{client, constants::STK_DECIMALS, math::premium_price};

use super::{config, tender_rule_at, TxError};
use crate::chain::{ops, Chain};

/// The economy as the program's accounts state it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Economy {
    pub stk_mint: String,
    pub quote_mint: String,
    pub stk_decimals: u8,
    pub quote_decimals: u8,
    /// STK base units in circulation (the mint's supply).
    pub supply: u64,
    pub max_supply: u64,
    pub total_distributed: u64,
    pub total_premium_minted: u64,
    pub total_burned_sell_back: u64,
    pub total_burned_access: u64,
    /// Quote base units in the buyback vault.
    pub vault: u64,
    /// Quote base units in the treasury.
    pub treasury: u64,
    /// The floor: quote base units per whole STK the vault holds behind each floating STK (rounded
    /// down; 0 while nothing floats or the vault is empty).
    pub floor_price: u64,
    /// The premium sale's multiple of the floor, in bps (100 000 = 10x).
    pub premium_bps: u64,
    /// Quote base units per whole STK at the premium: `floor_price × premium_bps / 10 000`, rounded
    /// up (0 while there is no floor: no sale).
    pub premium_price: u64,
    /// The vault's share of each premium purchase, in bps.
    pub premium_vault_share_bps: u64,
    pub investor_allocation_remaining: u64,
    pub investor_allowlist: bool,
    /// The buyback rule: the most the next tender window may pay per whole STK (the floor less the
    /// published spread; 0 without a floor) and the most it may buy with (quote base units).
    pub buyback_rule_price: u64,
    pub next_window_capacity: u64,
    /// Tender windows announced so far (the last one's id).
    pub tender_windows: u64,
    pub genesis_ts: i64,
    pub epoch_duration: i64,
    pub next_epoch: u64,
    pub paused: u8,
    /// The cluster's clock.
    pub now: i64,
}

pub async fn economy(chain: &dyn Chain) -> Result<Economy, TxError> {
    use anchor_spl::token::spl_token;
    use solana_sdk::program_pack::Pack;
    let c = config(chain).await?;
    let now = chain.unix_time().await?;
    let accounts = chain.accounts(&[c.stk_mint, c.quote_mint]).await?;
    let mint = |a: &Option<solana_sdk::account::Account>| {
        a.as_ref()
            .and_then(|a| spl_token::state::Mint::unpack(&a.data).ok())
    };
    let stk = mint(&accounts[0]);
    let quote = mint(&accounts[1]);
    let balances = ops::token_balances(chain, &[c.vault, c.treasury]).await?;
    let supply = stk.map_or(0, |m| m.supply);
    let floor_price = c
        .backing(balances[0], supply)
        .ok()
        .and_then(|b| b.floor_price())
        .unwrap_or(0);
    let rule = tender_rule_at(&c, now, balances[0], supply).ok();
    Ok(Economy {
        stk_mint: c.stk_mint.to_string(),
        quote_mint: c.quote_mint.to_string(),
        stk_decimals: STK_DECIMALS,
        quote_decimals: quote.map_or(6, |m| m.decimals),
        supply,
        max_supply: c.max_supply,
        total_distributed: c.total_distributed,
        total_premium_minted: c.total_premium_minted,
        total_burned_sell_back: c.total_burned_sell_back,
        total_burned_access: c.total_burned_access,
        vault: balances[0],
        treasury: balances[1],
        floor_price,
        premium_bps: c.premium_bps,
        premium_price: premium_price(floor_price, c.premium_bps).min(u128::from(u64::MAX)) as u64,
        premium_vault_share_bps: c.premium_terms().map_or(0, |t| t.vault_share_bps),
        investor_allocation_remaining: c.investor_allocation_remaining,
        investor_allowlist: c.investor_allowlist,
        buyback_rule_price: rule.map_or(0, |r| r.price),
        next_window_capacity: rule.map_or(0, |r| r.capacity),
        tender_windows: c.tender_window_count,
        genesis_ts: c.genesis_ts,
        epoch_duration: c.epoch_duration,
        next_epoch: c.next_epoch,
        paused: c.paused,
        now,
    })
}

/// A wallet's balances and its standing with the program.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WalletState {
    pub wallet: String,
    pub lamports: u64,
    pub stk: u64,
    pub quote: u64,
    pub total_access_paid: u64,
    pub investor_allowed: bool,
}

pub async fn wallet_state(chain: &dyn Chain, wallet: Pubkey) -> Result<WalletState, TxError> {
    let c = config(chain).await?;
    let lamports = chain.account(&wallet).await?.map_or(0, |a| a.lamports);
    let quote_account = get_associated_token_address(&wallet, &c.quote_mint);
    let b = ops::token_balances(chain, &[client::stk_ata(&wallet), quote_account]).await?;
    let member: Option<stk::state::Member> =
        ops::anchor_account(chain, &client::member_address(&wallet)).await?;
    let investor_allowed = !c.investor_allowlist
        || chain
            .account(&client::investor_address(&wallet))
            .await?
            .is_some();
    Ok(WalletState {
        wallet: wallet.to_string(),
        lamports,
        stk: b[0],
        quote: b[1],
        total_access_paid: member.as_ref().map_or(0, |m| m.total_access_paid),
        investor_allowed,
    })
}
