use anchor_lang::prelude::*;

/// A pro-rata tender window, `["window", id]`: announced ahead with its price and capacity (both by
/// rule), open for orders in `[opens_at, closes_at)`, settled once after the close with one fill ratio
/// `filled / requested` that every order's claim uses.
#[account]
#[derive(InitSpace, Debug)]
pub struct TenderWindow {
    pub id: u64,
    /// Quote base units paid per whole STK (at most the rule price when announced).
    pub price: u64,
    /// Quote base units the window may pay out in total (at most the rule capacity when announced).
    pub capacity: u64,
    pub opens_at: i64,
    pub closes_at: i64,
    /// STK base units requested by all orders.
    pub requested: u64,
    /// STK base units bought in total (set by settlement): the numerator of the fill ratio.
    pub filled: u64,
    /// Quote paid to claims so far.
    pub paid_out: u64,
    /// Orders not claimed yet.
    pub open_orders: u64,
    pub settled: bool,
    pub bump: u8,
    pub escrow_bump: u8,
}

impl TenderWindow {
    /// The fill every claim of this settled window uses.
    pub fn fill(&self) -> crate::economy::Fill {
        crate::economy::Fill {
            filled: self.filled,
            requested: self.requested,
            price: self.price,
        }
    }
}

/// One member's order in a tender window, `["order", window_id, wallet]`: the STK it escrowed. Closed
/// (rent back to the member) by its claim.
#[account]
#[derive(InitSpace, Debug)]
pub struct Order {
    pub window_id: u64,
    pub member: Pubkey,
    /// STK base units escrowed by this order.
    pub amount: u64,
    pub bump: u8,
}
