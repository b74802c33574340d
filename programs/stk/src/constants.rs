//! Every seed, size and limit the program and the off-chain service share. One definition, used by both.

/// `Config` PDA: `["config"]`.
pub const CONFIG_SEED: &[u8] = b"config";
/// STK mint PDA: `["mint"]`.
pub const MINT_SEED: &[u8] = b"mint";
/// Mint authority of STK: `["emission_authority"]`. Only `distribute` and `buy_premium` sign with it.
pub const EMISSION_AUTHORITY_SEED: &[u8] = b"emission_authority";
/// Owner of the vault and treasury token accounts: `["vault_authority"]`.
pub const VAULT_AUTHORITY_SEED: &[u8] = b"vault_authority";
/// Buyback vault (quote-mint token account): `["vault"]`.
pub const VAULT_SEED: &[u8] = b"vault";
/// Treasury (quote-mint token account receiving the treasury's share of premium sales): `["treasury"]`.
pub const TREASURY_SEED: &[u8] = b"treasury";
/// `Epoch` PDA: `["epoch", epoch.to_le_bytes(), root]`.
pub const EPOCH_SEED: &[u8] = b"epoch";
/// `Member` PDA: `["member", wallet]`.
pub const MEMBER_SEED: &[u8] = b"member";
/// `Investor` PDA: `["investor", wallet]`.
pub const INVESTOR_SEED: &[u8] = b"investor";

/// STK has 6 decimals: 1 STK = 1_000_000 base units.
pub const STK_DECIMALS: u8 = 6;
/// Base units in one whole STK; prices are quoted in quote base units per whole STK.
pub const STK_UNIT: u64 = 1_000_000;
/// Basis-point denominator (premium multiplier: 100_000 bps = 10x).
pub const BPS_DENOMINATOR: u64 = 10_000;
/// Published premium rule: the premium sale prices STK at `premium_bps` times the floor and never below
/// this multiple (30_000 = 3x the floor). `premium_bps` may not be set lower.
pub const PREMIUM_MIN_FLOOR_MULTIPLE_BPS: u64 = 30_000;
/// Upper bound on the premium multiplier (100x the floor), to keep a typo from pricing STK absurdly.
pub const MAX_PREMIUM_BPS: u64 = 1_000_000;
/// Published premium rule: the share of every premium purchase that goes to the buyback vault (10%),
/// raised to `1 / multiple` when the multiple is below 10x (`economy::premium_vault_share_bps`), so a
/// premium sale never lowers the floor. The rest goes to the treasury.
pub const PREMIUM_VAULT_SHARE_BPS: u64 = 1_000;

/// Maximum number of oracles in the set (approvals are a `u16` bitmask).
pub const MAX_ORACLES: usize = 10;

/// Maximum chunks per epoch: the `Epoch` account carries a fixed bitmap of `MAX_CHUNKS` bits.
pub const MAX_CHUNKS: u32 = 1024;
/// Bytes of the distributed-chunk bitmap.
pub const CHUNK_BITMAP_BYTES: usize = (MAX_CHUNKS as usize) / 8;
/// Deepest possible proof: ceil(log2(MAX_CHUNKS)).
pub const MAX_PROOF_LEN: usize = 10;

/// Largest number of recipients in one `distribute` chunk.
///
/// Bound by the 64 account locks of a transaction: a distribute transaction locks the fee payer, the
/// STK program, the compute-budget program, `config`, `epoch`, the mint, the emission authority, the
/// token program and the event authority (9 accounts), leaving 55 for recipients. At 55 recipients and a
/// proof of `MAX_PROOF_LEN` nodes, a v0 transaction with the recipients (and the fixed accounts) in an
/// address lookup table and two compute-budget instructions is 1,201 bytes, under the 1,232-byte packet
/// limit (the test `largest_chunk_fits_one_transaction` builds and sends exactly that transaction).
pub const MAX_CHUNK_RECIPIENTS: usize = 55;

/// Pause flags (`Config.paused` bitmask), one per money-moving function.
pub const PAUSE_EMISSION: u8 = 1 << 0;
pub const PAUSE_BUYBACK: u8 = 1 << 1;
pub const PAUSE_SALE: u8 = 1 << 2;
pub const PAUSE_ACCESS: u8 = 1 << 3;
pub const PAUSE_ALL: u8 = PAUSE_EMISSION | PAUSE_BUYBACK | PAUSE_SALE | PAUSE_ACCESS;

/// Tender window PDA: `["window", window_id.to_le_bytes()]`.
pub const WINDOW_SEED: &[u8] = b"window";
/// STK escrow of a tender window (an SPL token account owned by the vault authority):
/// `["window_escrow", window_id.to_le_bytes()]`.
pub const WINDOW_ESCROW_SEED: &[u8] = b"window_escrow";
/// One member's order in a tender window: `["order", window_id.to_le_bytes(), wallet]`.
pub const ORDER_SEED: &[u8] = b"order";

/// Published buyback rule: a window's price is at most the floor less this spread (2%), as
/// `economy::buyback_price` computes it.
pub const BUYBACK_SPREAD_BPS: u64 = 200;
/// Published capacity rule: a window may buy at most this share of the (unreserved) vault (25%), and at
/// most the last period's recorded vault inflow (`economy::window_capacity`).
pub const WINDOW_MAX_VAULT_BPS: u64 = 2_500;
/// Longest a tender window stays open for orders (7 days).
pub const MAX_WINDOW_SECS: i64 = 7 * 86_400;

/// The inflow ledger PDA: `["inflow_ledger"]` (`state::InflowLedger`).
pub const INFLOW_LEDGER_SEED: &[u8] = b"inflow_ledger";
/// Revenue periods the inflow ledger remembers (a ring): an epoch must be attested within this many
/// periods of its end (32 weekly epochs ≈ 7 months).
pub const INFLOW_LEDGER_PERIODS: usize = 32;
/// Access plan PDA: `["plan", plan_id.to_le_bytes()]` (`plan_id` a `u32`).
pub const PLAN_SEED: &[u8] = b"plan";
/// Plan ids run from 1 to this bound, so anyone can read every plan with one `getMultipleAccounts`
/// call (at most 100 addresses) without scanning the program's accounts.
pub const MAX_PLAN_ID: u32 = 64;
/// Longest access period a plan may sell (3 × 366 days): a typo in seconds is refused.
pub const MAX_PLAN_PERIOD_SECS: u64 = 3 * 366 * 86_400;
/// Largest STK discount a plan may give (50%): paying in STK is cheaper than fiat, but half of the
/// fiat price, valued at the floor, is always burned.
pub const MAX_PLAN_DISCOUNT_BPS: u16 = 5_000;
