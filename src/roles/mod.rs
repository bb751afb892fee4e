//! Network elements the harness plays, as state machines over [`crate::net`].
//!
//! - [`transaction`]: RFC 3261 non-INVITE client transaction (Timers E, F, K)
//! - [`ua`]: originating UA and recipient UA (server transactions that absorb
//!   retransmissions)

pub mod ims_core;
pub mod msrp;
pub mod smsc;
pub mod transaction;
pub mod ua;
