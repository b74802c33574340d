pub mod config;
pub mod epoch;
pub mod investor;
pub mod member;

pub use config::*;
pub use epoch::*;
pub use investor::*;
pub use member::*;
pub mod window;
pub use window::*;
pub mod inflow;
pub use inflow::*;
pub mod plan;
pub use plan::*;
