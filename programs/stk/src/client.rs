//! Host-side helpers shared by the tests, the indexer and the oracles: PDA addresses and typed
//! instruction builders. One definition of every seed and account list; nothing here runs on-chain.
use anchor_lang::{
    prelude::*,
    solana_program::{instruction::Instruction, system_program},
    InstructionData,
};
use anchor_spl::{associated_token::get_associated_token_address, token};

use crate::{accounts as acc, constants::*, error::StkError, instruction as ixd, instructions::*};

/// Address of a PDA of this program.
pub fn pda(seeds: &[&[u8]]) -> Pubkey {
    Pubkey::find_program_address(seeds, &crate::ID).0
}
pub fn config_address() -> Pubkey {
    pda(&[CONFIG_SEED])
}
pub fn mint_address() -> Pubkey {
    pda(&[MINT_SEED])
}
pub fn emission_authority() -> Pubkey {
    pda(&[EMISSION_AUTHORITY_SEED])
}
pub fn vault_authority() -> Pubkey {
    pda(&[VAULT_AUTHORITY_SEED])
}
pub fn vault_address() -> Pubkey {
    pda(&[VAULT_SEED])
}
pub fn treasury_address() -> Pubkey {
    pda(&[TREASURY_SEED])
}
pub fn epoch_address(epoch: u64, root: &[u8; 32]) -> Pubkey {
    pda(&[EPOCH_SEED, &epoch.to_le_bytes(), root])
}
pub fn member_address(wallet: &Pubkey) -> Pubkey {
    pda(&[MEMBER_SEED, wallet.as_ref()])
}
pub fn investor_address(wallet: &Pubkey) -> Pubkey {
    pda(&[INVESTOR_SEED, wallet.as_ref()])
}
pub fn event_authority() -> Pubkey {
    pda(&[b"__event_authority"])
}
pub fn window_address(window_id: u64) -> Pubkey {
    pda(&[WINDOW_SEED, &window_id.to_le_bytes()])
}
pub fn window_escrow_address(window_id: u64) -> Pubkey {
    pda(&[WINDOW_ESCROW_SEED, &window_id.to_le_bytes()])
}
pub fn order_address(window_id: u64, wallet: &Pubkey) -> Pubkey {
    pda(&[ORDER_SEED, &window_id.to_le_bytes(), wallet.as_ref()])
}
pub fn inflow_ledger_address() -> Pubkey {
    pda(&[INFLOW_LEDGER_SEED])
}
/// The access plan `plan_id` (`["plan", plan_id.to_le_bytes()]`).
pub fn plan_address(plan_id: u32) -> Pubkey {
    pda(&[PLAN_SEED, &plan_id.to_le_bytes()])
}
/// Every address a plan may live at, for ids `1..=MAX_PLAN_ID` in order (one `getMultipleAccounts`).
pub fn plan_addresses() -> Vec<(u32, Pubkey)> {
    (1..=MAX_PLAN_ID).map(|id| (id, plan_address(id))).collect()
}
/// The STK associated token account of `wallet` (where rewards are paid).
pub fn stk_ata(wallet: &Pubkey) -> Pubkey {
    get_associated_token_address(wallet, &mint_address())
}

/// The custom error number a failed instruction reports for `e`.
pub fn error_code(e: StkError) -> u32 {
    e.into()
}

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: crate::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

pub fn initialize(admin: Pubkey, quote_mint: Pubkey, args: InitializeArgs) -> Instruction {
    build(
        acc::Initialize {
            admin,
            config: config_address(),
            stk_mint: mint_address(),
            emission_authority: emission_authority(),
            quote_mint,
            vault_authority: vault_authority(),
            vault: vault_address(),
            treasury: treasury_address(),
            program_data: None,
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::Initialize { args },
    )
}

fn admin_update(admin: Pubkey) -> acc::AdminUpdate {
    acc::AdminUpdate {
        admin,
        config: config_address(),
        event_authority: event_authority(),
        program: crate::ID,
    }
}
pub fn set_oracles(admin: Pubkey, oracles: Vec<Pubkey>, threshold: u8) -> Instruction {
    build(
        admin_update(admin),
        ixd::SetOracles {
            args: SetOraclesArgs { oracles, threshold },
        },
    )
}
pub fn update_limits(admin: Pubkey, limits: crate::Limits) -> Instruction {
    build(admin_update(admin), ixd::UpdateLimits { limits })
}
pub fn set_paused(admin: Pubkey, paused: u8) -> Instruction {
    build(admin_update(admin), ixd::SetPaused { paused })
}
pub fn propose_admin(admin: Pubkey, pending_admin: Pubkey) -> Instruction {
    build(admin_update(admin), ixd::ProposeAdmin { pending_admin })
}
pub fn accept_admin(new_admin: Pubkey) -> Instruction {
    build(
        acc::AcceptAdmin {
            new_admin,
            config: config_address(),
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::AcceptAdmin {},
    )
}
pub fn set_investor(admin: Pubkey, wallet: Pubkey, allowed: bool) -> Instruction {
    build(
        acc::SetInvestor {
            admin,
            config: config_address(),
            investor: investor_address(&wallet),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::SetInvestor { wallet, allowed },
    )
}

/// The attestation of `tree`'s root: its epoch, root, total and shape, with the epoch's activity digest
/// and rules hash.
pub fn attest_args(
    tree: &crate::merkle::EpochTree,
    activity_digest: [u8; 32],
    rules_hash: [u8; 32],
) -> AttestEpochArgs {
    AttestEpochArgs {
        epoch: tree.epoch,
        root: tree.root(),
        total_amount: tree.total,
        chunk_count: tree.chunk_count(),
        recipient_count: tree.recipient_count,
        activity_digest,
        rules_hash,
    }
}

pub fn attest_epoch(oracle: Pubkey, args: AttestEpochArgs) -> Instruction {
    build(
        acc::AttestEpoch {
            oracle,
            config: config_address(),
            epoch: epoch_address(args.epoch, &args.root),
            inflow_ledger: inflow_ledger_address(),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::AttestEpoch { args },
    )
}

/// `distribute` for one chunk; `recipients` are the chunk's token accounts in chunk order.
pub fn distribute(args: DistributeArgs, recipients: &[Pubkey]) -> Instruction {
    let mut ix = build(
        acc::Distribute {
            config: config_address(),
            epoch: epoch_address(args.epoch, &args.root),
            stk_mint: mint_address(),
            emission_authority: emission_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::Distribute { args },
    );
    ix.accounts
        .extend(recipients.iter().map(|r| AccountMeta::new(*r, false)));
    ix
}

/// The accounts every `distribute` of an epoch shares (worth putting in its address lookup table).
pub fn distribute_fixed_accounts(epoch: u64, root: &[u8; 32]) -> Vec<Pubkey> {
    vec![
        config_address(),
        epoch_address(epoch, root),
        mint_address(),
        emission_authority(),
        token::ID,
        event_authority(),
    ]
}

pub fn deposit_revenue(depositor: Pubkey, source: Pubkey, amount: u64) -> Instruction {
    build(
        acc::DepositRevenue {
            depositor,
            config: config_address(),
            inflow_ledger: inflow_ledger_address(),
            stk_mint: mint_address(),
            source,
            vault: vault_address(),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::DepositRevenue { amount },
    )
}

pub fn announce_tender_window(admin: Pubkey, args: AnnounceTenderWindowArgs) -> Instruction {
    build(
        acc::AnnounceTenderWindow {
            admin,
            config: config_address(),
            vault: vault_address(),
            stk_mint: mint_address(),
            window: window_address(args.window_id),
            escrow: window_escrow_address(args.window_id),
            vault_authority: vault_authority(),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::AnnounceTenderWindow { args },
    )
}

/// `cancel_tender_window`: the admin, before the window closes.
pub fn cancel_tender_window(admin: Pubkey, window_id: u64) -> Instruction {
    build(
        acc::CancelTenderWindow {
            admin,
            config: config_address(),
            window: window_address(window_id),
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::CancelTenderWindow { window_id },
    )
}

pub fn place_order(member: Pubkey, member_stk: Pubkey, args: PlaceOrderArgs) -> Instruction {
    build(
        acc::PlaceOrder {
            member,
            config: config_address(),
            window: window_address(args.window_id),
            order: order_address(args.window_id, &member),
            escrow: window_escrow_address(args.window_id),
            member_stk,
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::PlaceOrder { args },
    )
}

/// `settle_window`: anyone may send it once the window has closed.
pub fn settle_window(window_id: u64) -> Instruction {
    build(
        acc::SettleWindow {
            config: config_address(),
            window: window_address(window_id),
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::SettleWindow { window_id },
    )
}

pub fn claim_order(
    member: Pubkey,
    member_stk: Pubkey,
    member_quote: Pubkey,
    window_id: u64,
) -> Instruction {
    build(
        acc::ClaimOrder {
            member,
            config: config_address(),
            window: window_address(window_id),
            order: order_address(window_id, &member),
            escrow: window_escrow_address(window_id),
            stk_mint: mint_address(),
            member_stk,
            member_quote,
            vault: vault_address(),
            vault_authority: vault_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::ClaimOrder { window_id },
    )
}

/// `buy_premium`; pass `with_allowlist_entry` when the allowlist is on (the investor's PDA is added).
pub fn buy_premium(
    investor: Pubkey,
    investor_stk: Pubkey,
    investor_quote: Pubkey,
    with_allowlist_entry: bool,
    args: BuyPremiumArgs,
) -> Instruction {
    build(
        acc::BuyPremium {
            investor,
            config: config_address(),
            investor_state: with_allowlist_entry.then(|| investor_address(&investor)),
            stk_mint: mint_address(),
            investor_stk,
            investor_quote,
            vault: vault_address(),
            treasury: treasury_address(),
            emission_authority: emission_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::BuyPremium { args },
    )
}

/// `set_plan`: the admin creates or updates plan `args.id`.
pub fn set_plan(admin: Pubkey, args: SetPlanArgs) -> Instruction {
    build(
        acc::SetPlan {
            admin,
            config: config_address(),
            plan: plan_address(args.id),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::SetPlan { args },
    )
}

/// `pay_access`: `member` pays plan `args.plan_id` from `member_stk`, burning at most `args.max_stk_in`.
pub fn pay_access(member: Pubkey, member_stk: Pubkey, args: PayAccessArgs) -> Instruction {
    build(
        acc::PayAccess {
            member,
            config: config_address(),
            plan: plan_address(args.plan_id),
            member_state: member_address(&member),
            vault: vault_address(),
            stk_mint: mint_address(),
            member_stk,
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::PayAccess { args },
    )
}

pub fn withdraw_treasury(admin: Pubkey, destination: Pubkey, amount: u64) -> Instruction {
    build(
        acc::WithdrawTreasury {
            admin,
            config: config_address(),
            treasury: treasury_address(),
            destination,
            vault_authority: vault_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::WithdrawTreasury { amount },
    )
}

pub fn fund_vault_from_treasury(admin: Pubkey, amount: u64) -> Instruction {
    build(
        acc::FundVaultFromTreasury {
            admin,
            config: config_address(),
            treasury: treasury_address(),
            vault: vault_address(),
            vault_authority: vault_authority(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: crate::ID,
        },
        ixd::FundVaultFromTreasury { amount },
    )
}

/// Every event the program emits, decoded from an `emit_cpi!` self-CPI instruction's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkEvent {
    Initialized(crate::events::Initialized),
    OraclesSet(crate::events::OraclesSet),
    LimitsUpdated(crate::events::LimitsUpdated),
    PausedSet(crate::events::PausedSet),
    AdminProposed(crate::events::AdminProposed),
    AdminAccepted(crate::events::AdminAccepted),
    InvestorSet(crate::events::InvestorSet),
    EpochAttested(crate::events::EpochAttested),
    EpochFinalized(crate::events::EpochFinalized),
    ChunkDistributed(crate::events::ChunkDistributed),
    RevenueDeposited(crate::events::RevenueDeposited),
    PremiumPurchased(crate::events::PremiumPurchased),
    AccessPaid(crate::events::AccessPaid),
    TreasuryWithdrawn(crate::events::TreasuryWithdrawn),
    VaultFunded(crate::events::VaultFunded),
    TenderWindowAnnounced(crate::events::TenderWindowAnnounced),
    OrderPlaced(crate::events::OrderPlaced),
    TenderWindowSettled(crate::events::TenderWindowSettled),
    OrderClaimed(crate::events::OrderClaimed),
    TenderWindowCancelled(crate::events::TenderWindowCancelled),
    PlanSet(crate::events::PlanSet),
}

impl StkEvent {
    /// The event's name as the IDL spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Initialized(_) => "Initialized",
            Self::OraclesSet(_) => "OraclesSet",
            Self::LimitsUpdated(_) => "LimitsUpdated",
            Self::PausedSet(_) => "PausedSet",
            Self::AdminProposed(_) => "AdminProposed",
            Self::AdminAccepted(_) => "AdminAccepted",
            Self::InvestorSet(_) => "InvestorSet",
            Self::EpochAttested(_) => "EpochAttested",
            Self::EpochFinalized(_) => "EpochFinalized",
            Self::ChunkDistributed(_) => "ChunkDistributed",
            Self::RevenueDeposited(_) => "RevenueDeposited",
            Self::PremiumPurchased(_) => "PremiumPurchased",
            Self::AccessPaid(_) => "AccessPaid",
            Self::TreasuryWithdrawn(_) => "TreasuryWithdrawn",
            Self::VaultFunded(_) => "VaultFunded",
            Self::TenderWindowAnnounced(_) => "TenderWindowAnnounced",
            Self::OrderPlaced(_) => "OrderPlaced",
            Self::TenderWindowSettled(_) => "TenderWindowSettled",
            Self::OrderClaimed(_) => "OrderClaimed",
            Self::TenderWindowCancelled(_) => "TenderWindowCancelled",
            Self::PlanSet(_) => "PlanSet",
        }
    }
}

/// Decodes the data of an inner instruction of this program into an event; `None` when the data is
/// not an `emit_cpi!` event of this program (any other instruction, or an unknown discriminator).
pub fn decode_event(data: &[u8]) -> Option<StkEvent> {
    use anchor_lang::{event::EVENT_IX_TAG_LE, Discriminator};
    let body = data.strip_prefix(EVENT_IX_TAG_LE)?;
    macro_rules! try_events {
        ($($name:ident),* $(,)?) => {
            $(
                if let Some(mut rest) = body.strip_prefix(crate::events::$name::DISCRIMINATOR) {
                    return crate::events::$name::deserialize(&mut rest).ok().map(StkEvent::$name);
                }
            )*
        };
    }
    try_events!(
        Initialized,
        OraclesSet,
        LimitsUpdated,
        PausedSet,
        AdminProposed,
        AdminAccepted,
        InvestorSet,
        EpochAttested,
        EpochFinalized,
        ChunkDistributed,
        RevenueDeposited,
        PremiumPurchased,
        AccessPaid,
        TreasuryWithdrawn,
        VaultFunded,
        TenderWindowAnnounced,
        OrderPlaced,
        TenderWindowSettled,
        OrderClaimed,
        TenderWindowCancelled,
        PlanSet,
    );
    None
}
