//! Step definitions: thin glue from Gherkin phrases to harness roles and
//! assertions, one file per area, plus the World.

pub mod common;
pub mod deferral;
pub mod delivery_reports;
pub mod ims;
pub mod iwf;
pub mod large_message;
pub mod mem;
pub mod mms_client;
pub mod mms_relay;
pub mod msrp_relay;
pub mod push_ppg;
pub mod push_sip;
pub mod world;

pub use world::LiaisonWorld;
