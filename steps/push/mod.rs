//! Steps of `features/push/` (seed 002: OMA Push; seed 000: IM offline
//! notification by push).

pub mod ppg;
pub mod sip_push;
