use anchor_lang::prelude::*;

use crate::constants::CHUNK_BITMAP_BYTES;

/// One attested root for one epoch, `["epoch", epoch, root]`. Competing roots for the same epoch live in
/// different accounts; the first to reach the threshold finalizes and moves `Config.next_epoch` past it.
#[account]
#[derive(InitSpace, Debug)]
pub struct Epoch {
    pub epoch: u64,
    pub root: [u8; 32],
    pub total_amount: u64,
    pub chunk_count: u32,
    pub recipient_count: u32,
    pub activity_digest: [u8; 32],
    pub rules_hash: [u8; 32],
    /// Config version the approvals were given under.
    pub config_version: u32,
    /// Bitmask over oracle indices.
    pub approvals: u16,
    pub finalized: bool,
    pub finalized_at: i64,
    pub distributed_amount: u64,
    pub distributed_chunks: u32,
    pub distributed_bitmap: [u8; CHUNK_BITMAP_BYTES],
    pub bump: u8,
    pub _reserved: [u8; 32],
}

impl Epoch {
    pub fn approval_count(&self) -> u32 {
        self.approvals.count_ones()
    }

    pub fn is_distributed(&self, chunk: u32) -> bool {
        self.distributed_bitmap[(chunk / 8) as usize] & (1 << (chunk % 8)) != 0
    }

    pub fn mark_distributed(&mut self, chunk: u32) {
        self.distributed_bitmap[(chunk / 8) as usize] |= 1 << (chunk % 8);
    }

    pub fn is_complete(&self) -> bool {
        self.distributed_chunks == self.chunk_count
    }
}
