//! Helpers shared by several instructions.
pub mod create_pda;

pub use create_pda::{PdaAccount, PdaCreation};
