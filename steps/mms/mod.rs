//! Steps of `features/mms/` (seed 000: SIP URIs in MMS, MMS as the
//! deferred mode of IMS messaging).

pub mod mms_client;
pub mod mms_relay;
