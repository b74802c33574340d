//! The in-process chain: the real Solana runtime (solana-program-test, agave 3.1) running the STK
//! program natively, with the real SPL Token, Associated Token and Address Lookup Table programs (their
//! BPF builds bundled with the runtime). Used by the program's tests, the indexer's local mode and the
//! demo. The STK program's own compute units are not metered in native mode; SPL Token's are.
// agave 3.1 marks solana-program-test "for the Agave Unstable API"; it is the runtime we build on.
#![allow(deprecated)]

use std::collections::HashSet;

use anchor_lang::{
    prelude::{AccountInfo, Pubkey},
    solana_program::{entrypoint::ProgramResult, system_instruction},
    AccountDeserialize,
};
use anchor_spl::{associated_token::spl_associated_token_account as ata, token::spl_token};
pub use solana_address_lookup_table_interface as alt;
pub use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_program_test::{processor, ProgramTest, ProgramTestContext};
pub use solana_program_test::{BanksClientError, BanksTransactionResultWithMetadata};
use solana_sdk::{
    account::Account,
    clock::Clock,
    hash::Hash,
    instruction::Instruction,
    message::{v0, AddressLookupTableAccount, VersionedMessage},
    program_pack::Pack,
    signature::{Keypair, Signature},
    signer::Signer,
    transaction::{Transaction, VersionedTransaction},
};

pub type TxResult = Result<(), BanksClientError>;

fn entry_wrapper(program_id: &Pubkey, accounts: &[AccountInfo], data: &[u8]) -> ProgramResult {
    // Only unifies the lifetimes Anchor's `entry` ties together; every reference outlives this call.
    let accounts: &[AccountInfo] = unsafe { std::mem::transmute(accounts) };
    stk::entry(program_id, accounts, data)
}

/// One in-process chain. Every transaction's fee is paid by `payer` unless said otherwise.
pub struct LocalChain {
    pub ctx: ProgramTestContext,
    /// Signatures already produced under the latest blockhash: an identical transaction must wait for
    /// the next blockhash, or the bank would drop it as already processed.
    recent: (Hash, HashSet<Signature>),
}

/// What a processed transaction cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCost {
    pub compute_units: u64,
    /// Lamports the fee payer spent: the fee, plus any rent the transaction had it fund.
    pub payer_lamports: u64,
    pub bytes: usize,
}

impl LocalChain {
    pub async fn start() -> Self {
        let mut pt = ProgramTest::new("stk", stk::ID, processor!(entry_wrapper));
        pt.prefer_bpf(false);
        Self {
            ctx: pt.start_with_context().await,
            recent: (Hash::default(), HashSet::new()),
        }
    }

    pub fn payer(&self) -> Keypair {
        self.ctx.payer.insecure_clone()
    }

    /// The bank's latest blockhash (no waiting).
    pub async fn blockhash(&mut self) -> Hash {
        self.ctx
            .banks_client
            .get_latest_blockhash()
            .await
            .expect("the in-process bank answers")
    }

    /// Builds and signs a transaction with the latest blockhash; when that gives a signature already
    /// produced under it (the same transaction again), waits for the next blockhash and signs anew.
    async fn sign_unique<T>(
        &mut self,
        build: impl Fn(Hash) -> T,
        signature: impl Fn(&T) -> Signature,
    ) -> T {
        let mut blockhash = self.blockhash().await;
        loop {
            if self.recent.0 != blockhash {
                self.recent = (blockhash, HashSet::new());
            }
            let tx = build(blockhash);
            if self.recent.1.insert(signature(&tx)) {
                return tx;
            }
            blockhash = self
                .ctx
                .get_new_latest_blockhash()
                .await
                .expect("the in-process bank answers");
        }
    }

    /// A legacy transaction paid by the chain's payer and signed by `signers` too.
    pub async fn send(&mut self, ixs: &[Instruction], signers: &[&Keypair]) -> TxResult {
        let payer = self.payer();
        let mut all: Vec<&Keypair> = vec![&payer];
        all.extend_from_slice(signers);
        let tx = self
            .sign_unique(
                |blockhash| {
                    Transaction::new_signed_with_payer(ixs, Some(&payer.pubkey()), &all, blockhash)
                },
                |tx| tx.signatures[0],
            )
            .await;
        self.ctx.banks_client.process_transaction(tx).await
    }

    /// A v0 transaction paid by `payer` whose accounts may come from `tables`.
    pub async fn v0_transaction(
        &mut self,
        payer: &Keypair,
        ixs: &[Instruction],
        tables: &[AddressLookupTableAccount],
    ) -> VersionedTransaction {
        self.v0_transaction_signed(&[payer], ixs, tables).await
    }

    /// A v0 transaction paid by `signers[0]` and signed by all of them.
    pub async fn v0_transaction_signed(
        &mut self,
        signers: &[&Keypair],
        ixs: &[Instruction],
        tables: &[AddressLookupTableAccount],
    ) -> VersionedTransaction {
        self.sign_unique(
            |blockhash| {
                let message =
                    v0::Message::try_compile(&signers[0].pubkey(), ixs, tables, blockhash)
                        .expect("instructions compile into a v0 message");
                VersionedTransaction::try_new(VersionedMessage::V0(message), signers)
                    .expect("every required signer signs")
            },
            |tx| tx.signatures[0],
        )
        .await
    }

    /// Like [`LocalChain::process`], and also returns the STK events the transaction emitted, in order.
    ///
    /// The in-process bank keeps no transaction history, so the transaction is first simulated (with CPI
    /// recording) against the same state to read its `emit_cpi!` events, then processed for real; the
    /// events are returned only when the real execution succeeded.
    pub async fn process_recording(
        &mut self,
        tx: VersionedTransaction,
        tables: &[AddressLookupTableAccount],
    ) -> Result<(Signature, TxCost, Vec<stk::client::StkEvent>), BanksClientError> {
        let simulation = self
            .ctx
            .banks_client
            .simulate_transaction(tx.clone())
            .await?;
        let keys = message_keys(&tx, tables);
        let events: Vec<stk::client::StkEvent> = simulation
            .simulation_details
            .and_then(|d| d.inner_instructions)
            .unwrap_or_default()
            .iter()
            .flatten()
            .filter(|inner| keys.get(inner.instruction.program_id_index as usize) == Some(&stk::ID))
            .filter_map(|inner| stk::client::decode_event(&inner.instruction.data))
            .collect();
        let (signature, cost) = self.process(tx).await?;
        Ok((signature, cost, events))
    }

    /// Processes a transaction and reports its cost; the error is the transaction's own.
    pub async fn process(
        &mut self,
        tx: VersionedTransaction,
    ) -> Result<(Signature, TxCost), BanksClientError> {
        let bytes = transaction_size(&tx);
        let signature = tx.signatures[0];
        let payer = tx.message.static_account_keys()[0];
        let before = self.lamports(&payer).await;
        let result = self
            .ctx
            .banks_client
            .process_transaction_with_metadata(tx)
            .await?;
        result.result.map_err(BanksClientError::TransactionError)?;
        let compute_units = result.metadata.map_or(0, |m| m.compute_units_consumed);
        let payer_lamports = before.saturating_sub(self.lamports(&payer).await);
        Ok((
            signature,
            TxCost {
                compute_units,
                payer_lamports,
                bytes,
            },
        ))
    }

    pub async fn airdrop(&mut self, to: &Pubkey, lamports: u64) -> TxResult {
        let payer = self.payer();
        let ix = system_instruction::transfer(&payer.pubkey(), to, lamports);
        self.send(&[ix], &[]).await
    }

    /// Creates an SPL mint (no freeze authority) owned by `authority`.
    pub async fn create_mint(
        &mut self,
        mint: &Keypair,
        authority: &Pubkey,
        decimals: u8,
    ) -> TxResult {
        let payer = self.payer();
        let rent = self.ctx.banks_client.get_rent().await?;
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
            authority,
            None,
            decimals,
        )
        .expect("SPL Token program id");
        self.send(&[create, init], &[mint]).await
    }

    /// The associated token account of `owner` for `mint`, created (at the payer's expense) if missing.
    pub async fn ata(&mut self, owner: &Pubkey, mint: &Pubkey) -> Result<Pubkey, BanksClientError> {
        let payer = self.payer();
        let ix = create_ata_idempotent(&payer.pubkey(), owner, mint);
        self.send(&[ix], &[]).await?;
        Ok(ata::address::get_associated_token_address(owner, mint))
    }

    /// Mints `amount` of `mint` (authority signs) to `owner`'s associated account; returns the account.
    pub async fn mint_to(
        &mut self,
        mint: &Pubkey,
        authority: &Keypair,
        owner: &Pubkey,
        amount: u64,
    ) -> Result<Pubkey, BanksClientError> {
        let account = self.ata(owner, mint).await?;
        let ix = spl_token::instruction::mint_to(
            &spl_token::ID,
            mint,
            &account,
            &authority.pubkey(),
            &[],
            amount,
        )
        .expect("SPL Token program id");
        self.send(&[ix], &[authority]).await?;
        Ok(account)
    }

    pub async fn account(&mut self, key: &Pubkey) -> Option<Account> {
        self.ctx
            .banks_client
            .get_account(*key)
            .await
            .expect("the in-process bank answers")
    }

    /// Balance of a token account; 0 when it does not exist.
    pub async fn token_balance(&mut self, token_account: &Pubkey) -> u64 {
        match self.account(token_account).await {
            Some(a) => spl_token::state::Account::unpack(&a.data).map_or(0, |t| t.amount),
            None => 0,
        }
    }

    pub async fn mint_supply(&mut self, mint: &Pubkey) -> u64 {
        match self.account(mint).await {
            Some(a) => spl_token::state::Mint::unpack(&a.data).map_or(0, |m| m.supply),
            None => 0,
        }
    }

    pub async fn lamports(&mut self, key: &Pubkey) -> u64 {
        self.account(key).await.map_or(0, |a| a.lamports)
    }

    /// An Anchor account of the STK program, if it exists and decodes.
    pub async fn anchor<T: AccountDeserialize>(&mut self, key: &Pubkey) -> Option<T> {
        let account = self.account(key).await?;
        T::try_deserialize(&mut account.data.as_slice()).ok()
    }

    pub async fn clock(&mut self) -> Clock {
        self.ctx
            .banks_client
            .get_sysvar()
            .await
            .expect("the in-process bank answers")
    }

    pub async fn now(&mut self) -> i64 {
        self.clock().await.unix_timestamp
    }

    /// Sets the chain's wall clock (the in-process bank does not advance it by itself).
    pub async fn set_time(&mut self, unix: i64) {
        let mut clock = self.clock().await;
        clock.unix_timestamp = unix;
        self.ctx.set_sysvar(&clock);
    }

    pub async fn slot(&mut self) -> u64 {
        self.ctx
            .banks_client
            .get_root_slot()
            .await
            .expect("the in-process bank answers")
    }

    /// Moves the bank `slots` slots ahead (keeps the wall clock where it is).
    pub async fn advance_slots(&mut self, slots: u64) {
        let now = self.now().await;
        let slot = self.slot().await;
        self.ctx
            .warp_to_slot(slot + slots)
            .expect("warping forward succeeds");
        self.set_time(now).await;
    }

    /// Creates an address lookup table holding `addresses` (authority and payer: the chain payer) and
    /// waits until it can be used.
    pub async fn create_lookup_table(
        &mut self,
        addresses: &[Pubkey],
    ) -> Result<AddressLookupTableAccount, BanksClientError> {
        let payer = self.payer();
        self.advance_slots(2).await;
        let recent = self.slot().await.saturating_sub(1);
        let (create, table) =
            alt::instruction::create_lookup_table(payer.pubkey(), payer.pubkey(), recent);
        self.send(&[create], &[]).await?;
        // 25 addresses (800 bytes) per extend keeps each transaction under the packet limit.
        for batch in addresses.chunks(25) {
            let extend = alt::instruction::extend_lookup_table(
                table,
                payer.pubkey(),
                Some(payer.pubkey()),
                batch.to_vec(),
            );
            self.send(&[extend], &[]).await?;
        }
        // Addresses added in a slot are usable from the next one.
        self.advance_slots(2).await;
        Ok(AddressLookupTableAccount {
            key: table,
            addresses: addresses.to_vec(),
        })
    }

    /// Deactivates and, once the deactivation cooldown has passed, closes lookup tables, returning their
    /// rent to the payer. Returns the lamports recovered.
    pub async fn close_lookup_tables(
        &mut self,
        tables: &[Pubkey],
    ) -> Result<u64, BanksClientError> {
        let payer = self.payer();
        for table in tables {
            let ix = alt::instruction::deactivate_lookup_table(*table, payer.pubkey());
            self.send(&[ix], &[]).await?;
        }
        // A deactivated table can be closed once its deactivation slot has left the SlotHashes sysvar
        // (its last 512 entries); every bank adds one entry, so step one slot at a time.
        for _ in 0..=512 {
            self.advance_slots(1).await;
        }
        let mut recovered = 0;
        for table in tables {
            recovered += self.lamports(table).await;
            let ix = alt::instruction::close_lookup_table(*table, payer.pubkey(), payer.pubkey());
            self.send(&[ix], &[]).await?;
        }
        Ok(recovered)
    }
}

/// The transaction's account keys in index order: static keys, then the writable and the readonly
/// addresses loaded from `tables`.
pub fn message_keys(
    tx: &VersionedTransaction,
    tables: &[AddressLookupTableAccount],
) -> Vec<Pubkey> {
    let mut keys = tx.message.static_account_keys().to_vec();
    if let Some(lookups) = tx.message.address_table_lookups() {
        let resolve = |key: &Pubkey, index: &u8| {
            tables
                .iter()
                .find(|t| t.key == *key)
                .and_then(|t| t.addresses.get(*index as usize).copied())
                .unwrap_or_default()
        };
        for l in lookups {
            keys.extend(
                l.writable_indexes
                    .iter()
                    .map(|i| resolve(&l.account_key, i)),
            );
        }
        for l in lookups {
            keys.extend(
                l.readonly_indexes
                    .iter()
                    .map(|i| resolve(&l.account_key, i)),
            );
        }
    }
    keys
}

/// Creates `owner`'s associated token account for `mint` unless it exists, paid by `funder`.
pub fn create_ata_idempotent(funder: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    ata::instruction::create_associated_token_account_idempotent(
        funder,
        owner,
        mint,
        &spl_token::ID,
    )
}

/// Serialized size of a transaction on the wire (the 1,232-byte packet limit applies to this).
pub fn transaction_size(tx: &VersionedTransaction) -> usize {
    // short_vec signature count (one byte below 128) + signatures + message.
    1 + 64 * tx.signatures.len() + tx.message.serialize().len()
}

/// Account locks a transaction takes (static keys plus looked-up ones).
pub fn account_locks(tx: &VersionedTransaction) -> usize {
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
