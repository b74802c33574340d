use anchor_lang::prelude::*;

#[error_code]
pub enum StkError {
    #[msg("Signer is not the admin")]
    Unauthorized,
    #[msg("Signer is not the pending admin")]
    NotPendingAdmin,
    #[msg("Signer is not in the current oracle set")]
    NotOracle,
    #[msg("This oracle already attested this root under the current config version")]
    AlreadyAttested,
    #[msg("Oracle set is invalid: 1..=10 distinct, non-default keys and 1 <= threshold <= count")]
    InvalidOracleSet,
    #[msg("Epoch has not ended yet")]
    EpochNotEnded,
    #[msg("Epoch is already finalized (or closed by a later finalized epoch)")]
    EpochAlreadyFinalized,
    #[msg("Attested total exceeds the per-epoch emission cap")]
    EpochCapExceeded,
    #[msg("Attestation fields differ from the existing attestation of this root")]
    AttestationMismatch,
    #[msg("Epoch root is not finalized")]
    EpochNotFinalized,
    #[msg("Chunk index out of range")]
    ChunkIndexOutOfRange,
    #[msg("Chunk already distributed")]
    ChunkAlreadyDistributed,
    #[msg("Merkle proof does not verify against the epoch root")]
    InvalidProof,
    #[msg("Chunk is empty, too large, or amounts and recipient accounts differ in number")]
    InvalidChunk,
    #[msg("Recipient token accounts must be strictly ascending by address")]
    RecipientsNotSorted,
    #[msg("Recipient is not a writable SPL token account of the STK mint")]
    InvalidRecipient,
    #[msg("Distribution would exceed the epoch's attested total")]
    EpochTotalExceeded,
    #[msg("Mint rate limit exceeded for the current window")]
    RateLimitExceeded,
    #[msg("Mint would exceed max supply")]
    MaxSupplyExceeded,
    #[msg("Invalid epoch parameters (chunk count, recipient count or total)")]
    InvalidEpochParams,
    #[msg("Invalid limits")]
    InvalidLimits,
    #[msg("Function is paused")]
    Paused,
    #[msg("Arithmetic overflow")]
    MathOverflow,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Token account mint does not match")]
    WrongMint,
    #[msg("No buyback window is open")]
    WindowClosed,
    #[msg("Buyback capacity exceeds the vault balance")]
    CapacityExceedsVault,
    #[msg("Sale exceeds the window's remaining capacity")]
    WindowCapacityExceeded,
    #[msg("Sale exceeds the per-member cap of this window")]
    MemberCapExceeded,
    #[msg("Vault balance is insufficient")]
    InsufficientVault,
    #[msg("Quote out is below min_quote_out (or quote in above max_quote_in)")]
    SlippageExceeded,
    /// No longer returned (the premium sale is priced at the floor, see `NoFloor`); kept so the codes
    /// after it keep their numbers.
    #[msg("Buyback price is not set")]
    PriceNotSet,
    #[msg("Investor allocation exhausted")]
    AllocationExceeded,
    #[msg("Buyer is not on the investor allowlist")]
    NotAllowlisted,
    #[msg("Treasury balance is insufficient")]
    InsufficientTreasury,
    #[msg("Signer is not the program's upgrade authority")]
    NotUpgradeAuthority,
    #[msg("Account is not the buyback vault")]
    WrongVault,
    #[msg("Account is not the treasury")]
    WrongTreasury,
    #[msg("Invalid buyback window parameters")]
    InvalidWindow,
    #[msg("An account already exists at this address")]
    AddressInUse,
    #[msg("premium_bps is below PREMIUM_MIN_FLOOR_MULTIPLE_BPS (30_000: 3x the floor)")]
    PremiumBelowMinMultiple,
    #[msg(
        "The premium price (floor x premium_bps / 10_000) is below the open buyback window's price"
    )]
    PremiumBelowBuyback,
    #[msg("Window price is above the rule price (floor less the published spread)")]
    WindowPriceAboveRule,
    #[msg("Window capacity is above the rule (last period's vault inflow, share of the vault)")]
    WindowCapacityAboveRule,
    #[msg("A tender window was already announced in this period (one per period)")]
    WindowCadence,
    #[msg("No floor yet: nothing floats or the vault is empty")]
    NoFloor,
    #[msg("The tender window is not open for orders")]
    WindowNotOpen,
    #[msg("The tender window has not closed yet")]
    WindowNotClosed,
    #[msg("The tender window is already settled")]
    WindowAlreadySettled,
    #[msg("The tender window is not settled yet")]
    WindowNotSettled,
    #[msg("The order does not belong to this window and member")]
    WrongOrder,
    #[msg("Epoch emission is above what its period's vault inflow allows (emission valued at the floor <= emission_inflow_bps of the inflow)")]
    EmissionAboveInflow,
    #[msg(
        "Invalid plan: id 1..=64, period 1 s..=3 years, fiat price > 0, discount at most 5_000 bps"
    )]
    InvalidPlan,
    #[msg("The plan is not active")]
    PlanInactive,
}
