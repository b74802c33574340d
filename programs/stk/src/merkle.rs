//! The epoch allocation tree: one definition of the chunk (leaf) hash, the inner-node hash and the proof
//! check, used by the program on-chain and by the indexer and oracles off-chain (through the
//! `no-entrypoint` feature). Never copy these functions: import them.
//!
//! * chunk hash = sha256(0x00 ‖ epoch u64 LE ‖ chunk_index u32 LE ‖ (token_account ‖ amount u64 LE)*)
//! * inner node = sha256(0x01 ‖ min(a, b) ‖ max(a, b))   (sorted pair: proofs need no direction bits)
//! * a level with an odd number of nodes promotes its last node unchanged.
//!
//! The distinct 0x00 / 0x01 prefixes keep a leaf from being passed off as an inner node.
use anchor_lang::prelude::Pubkey;

pub const LEAF_PREFIX: u8 = 0x00;
pub const NODE_PREFIX: u8 = 0x01;

/// Bytes of one `(token_account, amount)` entry inside a chunk hash.
pub const ENTRY_BYTES: usize = 32 + 8;

/// Hash of one chunk of an epoch's allocation.
pub fn chunk_hash<'a>(
    epoch: u64,
    chunk_index: u32,
    entries: impl ExactSizeIterator<Item = (&'a Pubkey, u64)>,
) -> [u8; 32] {
    let mut buf = Vec::with_capacity(1 + 8 + 4 + entries.len() * ENTRY_BYTES);
    buf.push(LEAF_PREFIX);
    buf.extend_from_slice(&epoch.to_le_bytes());
    buf.extend_from_slice(&chunk_index.to_le_bytes());
    for (account, amount) in entries {
        buf.extend_from_slice(account.as_ref());
        buf.extend_from_slice(&amount.to_le_bytes());
    }
    solana_sha256_hasher::hash(&buf).to_bytes()
}

/// Hash of an inner node over two children, order-independent.
pub fn node_hash(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    solana_sha256_hasher::hashv(&[&[NODE_PREFIX], lo, hi]).to_bytes()
}

/// True when `leaf` with `proof` hashes up to `root`.
pub fn verify(proof: &[[u8; 32]], root: &[u8; 32], leaf: [u8; 32]) -> bool {
    let computed = proof
        .iter()
        .fold(leaf, |node, sibling| node_hash(&node, sibling));
    computed == *root
}

#[cfg(not(target_os = "solana"))]
pub use tree::*;

/// Off-chain tree builder (host only).
#[cfg(not(target_os = "solana"))]
mod tree {
    use super::*;
    use crate::constants::{MAX_CHUNKS, MAX_CHUNK_RECIPIENTS};

    /// One recipient of an epoch: an STK token account and the base units it receives.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Allocation {
        pub token_account: Pubkey,
        pub amount: u64,
    }

    /// One chunk as `distribute` takes it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Chunk {
        pub index: u32,
        pub recipients: Vec<Allocation>,
    }

    impl Chunk {
        pub fn hash(&self, epoch: u64) -> [u8; 32] {
            chunk_hash(
                epoch,
                self.index,
                self.recipients.iter().map(|r| (&r.token_account, r.amount)),
            )
        }
        pub fn total(&self) -> u64 {
            // Bounded by EpochTree::build, which checks the sum of every amount.
            self.recipients.iter().map(|r| r.amount).sum()
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TreeError {
        Empty,
        ZeroAmount(Pubkey),
        DuplicateAccount(Pubkey),
        TooManyRecipients { recipients: usize, max: usize },
        BadChunkSize(usize),
        TotalOverflow,
    }

    impl std::fmt::Display for TreeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::Empty => write!(f, "an epoch tree needs at least one recipient"),
                Self::ZeroAmount(a) => write!(f, "recipient {a} has a zero amount"),
                Self::DuplicateAccount(a) => write!(f, "token account {a} appears twice"),
                Self::TooManyRecipients { recipients, max } => {
                    write!(f, "{recipients} recipients exceed the maximum of {max}")
                }
                Self::BadChunkSize(s) => {
                    write!(f, "chunk size {s} is not in 1..={MAX_CHUNK_RECIPIENTS}")
                }
                Self::TotalOverflow => write!(f, "the epoch total overflows u64"),
            }
        }
    }
    impl std::error::Error for TreeError {}

    /// An epoch's allocation split into chunks, with every level of the tree kept for proofs.
    #[derive(Debug, Clone)]
    pub struct EpochTree {
        pub epoch: u64,
        pub chunks: Vec<Chunk>,
        pub total: u64,
        pub recipient_count: u32,
        levels: Vec<Vec<[u8; 32]>>,
    }

    impl EpochTree {
        /// Sorts recipients by token account, splits them into chunks of `chunk_size`, builds the tree.
        pub fn build(
            epoch: u64,
            mut recipients: Vec<Allocation>,
            chunk_size: usize,
        ) -> Result<Self, TreeError> {
            if chunk_size == 0 || chunk_size > MAX_CHUNK_RECIPIENTS {
                return Err(TreeError::BadChunkSize(chunk_size));
            }
            if recipients.is_empty() {
                return Err(TreeError::Empty);
            }
            let max = MAX_CHUNKS as usize * chunk_size;
            if recipients.len() > max {
                return Err(TreeError::TooManyRecipients {
                    recipients: recipients.len(),
                    max,
                });
            }
            recipients.sort_unstable_by_key(|r| r.token_account);
            let mut total: u64 = 0;
            for (i, r) in recipients.iter().enumerate() {
                if r.amount == 0 {
                    return Err(TreeError::ZeroAmount(r.token_account));
                }
                if i > 0 && recipients[i - 1].token_account == r.token_account {
                    return Err(TreeError::DuplicateAccount(r.token_account));
                }
                total = total
                    .checked_add(r.amount)
                    .ok_or(TreeError::TotalOverflow)?;
            }
            let recipient_count = recipients.len() as u32;
            let chunks: Vec<Chunk> = recipients
                .chunks(chunk_size)
                .enumerate()
                .map(|(i, c)| Chunk {
                    index: i as u32,
                    recipients: c.to_vec(),
                })
                .collect();
            let mut levels = vec![chunks.iter().map(|c| c.hash(epoch)).collect::<Vec<_>>()];
            while levels.last().map_or(0, Vec::len) > 1 {
                let prev = levels.last().expect("non-empty");
                let next = prev
                    .chunks(2)
                    .map(|pair| match pair {
                        [a, b] => node_hash(a, b),
                        [a] => *a,
                        _ => unreachable!("chunks(2) yields one or two"),
                    })
                    .collect();
                levels.push(next);
            }
            Ok(Self {
                epoch,
                chunks,
                total,
                recipient_count,
                levels,
            })
        }

        pub fn root(&self) -> [u8; 32] {
            self.levels.last().expect("at least one level")[0]
        }

        pub fn chunk_count(&self) -> u32 {
            self.chunks.len() as u32
        }

        /// Sibling hashes from the chunk's leaf up to the root.
        pub fn proof(&self, chunk_index: u32) -> Vec<[u8; 32]> {
            let mut index = chunk_index as usize;
            let mut proof = Vec::new();
            for level in &self.levels[..self.levels.len() - 1] {
                let sibling = index ^ 1;
                if sibling < level.len() {
                    proof.push(level[sibling]);
                }
                index /= 2;
            }
            proof
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> Pubkey {
        Pubkey::new_from_array([i; 32])
    }

    #[test]
    fn single_chunk_root_is_the_leaf() {
        let recipients = vec![Allocation {
            token_account: key(1),
            amount: 5,
        }];
        let tree = EpochTree::build(3, recipients, 55).unwrap();
        assert_eq!(tree.root(), tree.chunks[0].hash(3));
        assert!(tree.proof(0).is_empty());
        assert!(verify(&[], &tree.root(), tree.chunks[0].hash(3)));
    }

    #[test]
    fn leaf_format_is_fixed() {
        // sha256(00 ‖ 07 00.. ‖ 02 00 00 00 ‖ 0x01*32 ‖ 09 00..)
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&[1u8; 32]);
        bytes.extend_from_slice(&9u64.to_le_bytes());
        let expected = solana_sha256_hasher::hash(&bytes).to_bytes();
        let k = key(1);
        assert_eq!(chunk_hash(7, 2, [(&k, 9u64)].into_iter()), expected);
    }

    #[test]
    fn builder_rejects_bad_input() {
        let a = Allocation {
            token_account: key(1),
            amount: 1,
        };
        assert_eq!(
            EpochTree::build(0, vec![], 5).unwrap_err(),
            TreeError::Empty
        );
        assert_eq!(
            EpochTree::build(0, vec![a, a], 5).unwrap_err(),
            TreeError::DuplicateAccount(key(1))
        );
        assert_eq!(
            EpochTree::build(0, vec![Allocation { amount: 0, ..a }], 5).unwrap_err(),
            TreeError::ZeroAmount(key(1))
        );
        assert_eq!(
            EpochTree::build(0, vec![a], 56).unwrap_err(),
            TreeError::BadChunkSize(56)
        );
        let b = Allocation {
            token_account: key(2),
            amount: u64::MAX,
        };
        assert_eq!(
            EpochTree::build(0, vec![a, b], 5).unwrap_err(),
            TreeError::TotalOverflow
        );
    }
}
