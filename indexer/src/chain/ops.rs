//! What the pipeline, the oracle and the demo do with any [`Chain`]: typed reads of the program's
//! accounts and token balances, creating missing token accounts, address lookup tables.
use anchor_lang::AccountDeserialize;
use anchor_spl::{
    associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent,
    token::spl_token,
};
use solana_address_lookup_table_interface as alt;
use solana_sdk::{
    message::AddressLookupTableAccount, program_pack::Pack, pubkey::Pubkey, signature::Keypair,
    signer::Signer,
};
use stk::{
    client,
    state::{Config, Epoch, InflowLedger, Plan},
};

use super::{Chain, ChainError};

/// Associated-token-account creations per transaction (each ~20k CU and 6 accounts).
const ATA_CREATES_PER_TX: usize = 8;
/// Addresses per lookup-table extension (32 bytes each, under the packet limit).
const ALT_EXTEND_BATCH: usize = 25;

/// Decodes an Anchor account of the STK program; `None` when missing.
pub async fn anchor_account<T: AccountDeserialize>(
    chain: &dyn Chain,
    key: &Pubkey,
) -> Result<Option<T>, ChainError> {
    match chain.account(key).await? {
        None => Ok(None),
        Some(a) => T::try_deserialize(&mut a.data.as_slice())
            .map(Some)
            .map_err(|e| ChainError::Invalid(format!("account {key} does not decode: {e}"))),
    }
}

pub async fn config(chain: &dyn Chain) -> Result<Option<Config>, ChainError> {
    anchor_account(chain, &client::config_address()).await
}

pub async fn epoch(
    chain: &dyn Chain,
    n: u64,
    root: &[u8; 32],
) -> Result<Option<Epoch>, ChainError> {
    anchor_account(chain, &client::epoch_address(n, root)).await
}

/// The STK epoch `n` may mint by the program's emission rule: the allowance its revenue period's
/// vault inflow earned (`state::InflowLedger`), 0 when nothing was deposited in it (or no ledger yet),
/// never more than the per-epoch cap. `attest_epoch` refuses a root above it.
pub async fn emission_allowance(
    chain: &dyn Chain,
    config: &Config,
    n: u64,
) -> Result<u64, ChainError> {
    let ledger: Option<InflowLedger> =
        anchor_account(chain, &client::inflow_ledger_address()).await?;
    Ok(ledger
        .map_or(0, |l| l.record(n).emission_allowance)
        .min(config.max_emission_per_epoch))
}

/// Every access plan on chain (active or not), by id: the addresses of ids `1..=MAX_PLAN_ID` in one
/// `getMultipleAccounts` call (the program refuses other ids), those that exist decoded.
pub async fn plans(chain: &dyn Chain) -> Result<Vec<Plan>, ChainError> {
    let ids = client::plan_addresses();
    let keys: Vec<Pubkey> = ids.iter().map(|(_, k)| *k).collect();
    let mut out = Vec::new();
    for ((id, key), account) in ids.iter().zip(chain.accounts(&keys).await?) {
        let Some(a) = account else { continue };
        if a.owner != stk::ID {
            // Lamports sent to a plan address before the admin created the plan.
            continue;
        }
        let plan = Plan::try_deserialize(&mut a.data.as_slice())
            .map_err(|e| ChainError::Invalid(format!("plan {id} ({key}) does not decode: {e}")))?;
        out.push(plan);
    }
    Ok(out)
}

/// Token balances (0 for accounts that do not exist).
pub async fn token_balances(
    chain: &dyn Chain,
    accounts: &[Pubkey],
) -> Result<Vec<u64>, ChainError> {
    let mut out = Vec::with_capacity(accounts.len());
    for batch in accounts.chunks(100) {
        for a in chain.accounts(batch).await? {
            out.push(a.map_or(0, |a| {
                spl_token::state::Account::unpack(&a.data).map_or(0, |t| t.amount)
            }));
        }
    }
    Ok(out)
}

pub async fn token_balance(chain: &dyn Chain, account: &Pubkey) -> Result<u64, ChainError> {
    Ok(token_balances(chain, std::slice::from_ref(account)).await?[0])
}

pub async fn mint_supply(chain: &dyn Chain, mint: &Pubkey) -> Result<u64, ChainError> {
    Ok(chain.account(mint).await?.map_or(0, |a| {
        spl_token::state::Mint::unpack(&a.data).map_or(0, |m| m.supply)
    }))
}

/// A mint's decimals (6 when the mint does not exist or does not decode, as the economy view assumes).
pub async fn mint_decimals(chain: &dyn Chain, mint: &Pubkey) -> Result<u8, ChainError> {
    Ok(chain.account(mint).await?.map_or(6, |a| {
        spl_token::state::Mint::unpack(&a.data).map_or(6, |m| m.decimals)
    }))
}

/// Creates the associated token accounts of `owners` for `mint` that do not exist yet, at `payer`'s
/// expense. Returns how many were created.
pub async fn ensure_token_accounts(
    chain: &dyn Chain,
    payer: &Keypair,
    owners: &[Pubkey],
    mint: &Pubkey,
) -> Result<usize, ChainError> {
    let addresses: Vec<Pubkey> = owners
        .iter()
        .map(|o| anchor_spl::associated_token::get_associated_token_address(o, mint))
        .collect();
    let mut missing = Vec::new();
    for (batch_owners, batch) in owners.chunks(100).zip(addresses.chunks(100)) {
        for (owner, account) in batch_owners.iter().zip(chain.accounts(batch).await?) {
            if account.is_none() {
                missing.push(*owner);
            }
        }
    }
    for batch in missing.chunks(ATA_CREATES_PER_TX) {
        let ixs: Vec<_> = batch
            .iter()
            .map(|owner| {
                create_associated_token_account_idempotent(
                    &payer.pubkey(),
                    owner,
                    mint,
                    &spl_token::ID,
                )
            })
            .collect();
        chain.send(&ixs, &[payer], &[]).await?;
    }
    Ok(missing.len())
}

/// Creates an address lookup table holding `addresses` (authority: `payer`) and returns once it can
/// be used.
pub async fn create_lookup_table(
    chain: &dyn Chain,
    payer: &Keypair,
    addresses: &[Pubkey],
) -> Result<AddressLookupTableAccount, ChainError> {
    // The table's address derives from a recent slot that must be in the SlotHashes sysvar.
    let slot = chain.slot().await?;
    chain.wait_past_slot(slot).await?;
    let (create, table) =
        alt::instruction::create_lookup_table(payer.pubkey(), payer.pubkey(), slot);
    let mut last = chain.send(&[create], &[payer], &[]).await?.slot;
    for batch in addresses.chunks(ALT_EXTEND_BATCH) {
        let extend = alt::instruction::extend_lookup_table(
            table,
            payer.pubkey(),
            Some(payer.pubkey()),
            batch.to_vec(),
        );
        last = chain.send(&[extend], &[payer], &[]).await?.slot;
    }
    // Entries added in a slot are usable from the next one.
    chain.wait_past_slot(last).await?;
    Ok(AddressLookupTableAccount {
        key: table,
        addresses: addresses.to_vec(),
    })
}

/// Reads a lookup table's addresses from the chain (to reuse a table after a restart).
pub async fn lookup_table(
    chain: &dyn Chain,
    key: &Pubkey,
) -> Result<Option<AddressLookupTableAccount>, ChainError> {
    let Some(account) = chain.account(key).await? else {
        return Ok(None);
    };
    let state = alt::state::AddressLookupTable::deserialize(&account.data)
        .map_err(|e| ChainError::Invalid(format!("lookup table {key} does not decode: {e}")))?;
    Ok(Some(AddressLookupTableAccount {
        key: *key,
        addresses: state.addresses.to_vec(),
    }))
}
