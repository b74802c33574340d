use anchor_lang::prelude::*;
use anchor_spl::token::{self, Mint, MintTo, Token, TokenAccount};

use crate::{
    constants::*,
    error::StkError,
    events::ChunkDistributed,
    merkle,
    state::{Config, Epoch},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: DistributeArgs)]
pub struct Distribute<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [EPOCH_SEED, &args.epoch.to_le_bytes(), args.root.as_ref()], bump = epoch.bump,
    )]
    pub epoch: Box<Account<'info, Epoch>>,
    #[account(mut, address = config.stk_mint @ StkError::WrongMint)]
    pub stk_mint: Box<Account<'info, Mint>>,
    /// CHECK: PDA holding the mint authority.
    #[account(seeds = [EMISSION_AUTHORITY_SEED], bump = config.emission_authority_bump)]
    pub emission_authority: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    // remaining_accounts: the chunk's recipient STK token accounts, ascending by address.
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug)]
pub struct DistributeArgs {
    pub epoch: u64,
    pub root: [u8; 32],
    pub chunk_index: u32,
    pub amounts: Vec<u64>,
    pub proof: Vec<[u8; 32]>,
}

/// Mints one chunk of a finalized epoch. Permissionless: the proof against the finalized root is the
/// authority. Each chunk is paid at most once (bitmap), an epoch never pays more than its attested total,
/// and the windowed rate limit and `max_supply` hold.
pub fn handler<'info>(ctx: Context<'info, Distribute<'info>>, args: DistributeArgs) -> Result<()> {
    let recipients = ctx.remaining_accounts;
    let config = &mut ctx.accounts.config;
    let epoch = &mut ctx.accounts.epoch;
    let mint = &ctx.accounts.stk_mint;

    require!(!config.is_paused(PAUSE_EMISSION), StkError::Paused);
    require!(epoch.finalized, StkError::EpochNotFinalized);
    require!(
        args.chunk_index < epoch.chunk_count,
        StkError::ChunkIndexOutOfRange
    );
    require!(
        !epoch.is_distributed(args.chunk_index),
        StkError::ChunkAlreadyDistributed
    );
    require!(
        !args.amounts.is_empty()
            && args.amounts.len() <= MAX_CHUNK_RECIPIENTS
            && args.amounts.len() == recipients.len(),
        StkError::InvalidChunk
    );
    require!(args.proof.len() <= MAX_PROOF_LEN, StkError::InvalidProof);

    for (i, recipient) in recipients.iter().enumerate() {
        if i > 0 {
            require!(
                recipients[i - 1].key < recipient.key,
                StkError::RecipientsNotSorted
            );
        }
        require!(
            recipient.is_writable && *recipient.owner == token::ID,
            StkError::InvalidRecipient
        );
        let data = recipient.try_borrow_data()?;
        require!(data.len() == TokenAccount::LEN, StkError::InvalidRecipient);
        require!(data[..32] == mint.key().to_bytes(), StkError::WrongMint);
    }

    let leaf = merkle::chunk_hash(
        args.epoch,
        args.chunk_index,
        recipients
            .iter()
            .map(|r| r.key)
            .zip(args.amounts.iter().copied()),
    );
    require!(
        merkle::verify(&args.proof, &epoch.root, leaf),
        StkError::InvalidProof
    );

    let chunk_total = args
        .amounts
        .iter()
        .try_fold(0u64, |sum, a| sum.checked_add(*a))
        .ok_or(StkError::MathOverflow)?;
    let distributed = epoch
        .distributed_amount
        .checked_add(chunk_total)
        .ok_or(StkError::MathOverflow)?;
    require!(
        distributed <= epoch.total_amount,
        StkError::EpochTotalExceeded
    );
    let supply = mint
        .supply
        .checked_add(chunk_total)
        .ok_or(StkError::MathOverflow)?;
    require!(supply <= config.max_supply, StkError::MaxSupplyExceeded);
    config
        .mint_rate
        .record(Clock::get()?.unix_timestamp, chunk_total)?;

    let signer: &[&[&[u8]]] = &[&[EMISSION_AUTHORITY_SEED, &[config.emission_authority_bump]]];
    for (recipient, amount) in recipients.iter().zip(args.amounts.iter()) {
        token::mint_to(
            CpiContext::new_with_signer(
                ctx.accounts.token_program.key(),
                MintTo {
                    mint: mint.to_account_info(),
                    to: recipient.clone(),
                    authority: ctx.accounts.emission_authority.to_account_info(),
                },
                signer,
            ),
            *amount,
        )?;
    }

    epoch.mark_distributed(args.chunk_index);
    epoch.distributed_chunks = epoch
        .distributed_chunks
        .checked_add(1)
        .ok_or(StkError::MathOverflow)?;
    epoch.distributed_amount = distributed;
    config.total_distributed = config
        .total_distributed
        .checked_add(chunk_total)
        .ok_or(StkError::MathOverflow)?;

    emit_cpi!(ChunkDistributed {
        epoch: args.epoch,
        root: args.root,
        chunk_index: args.chunk_index,
        recipients: recipients.iter().map(|r| *r.key).collect(),
        amounts: args.amounts,
        chunk_total,
        distributed_amount: distributed,
        complete: epoch.is_complete(),
    });
    Ok(())
}
