//! Step definitions: thin glue from Gherkin phrases to harness roles and
//! assertions. The folders mirror `features/`: the steps of
//! `features/push/im-offline.feature` are under `push/`, and so on; the
//! World and the steps and SIP helpers every area shares sit at the top.
//!
//! | module | feature folder | feature files |
//! |---|---|---|
//! | [`delivery_reports`] | `delivery-reports/` | pager-im-client, pager-im-server ([`delivery_reports::pager`]), large-message-im-client, msrp-relay, sms-im-iwf |
//! | [`deferred_messaging`] | `deferred-messaging/` | im-server |
//! | [`group_management`] | `group-management/` | xdms |
//! | [`ims_alignment`] | `ims-alignment/` | im-client, im-server |
//! | [`mem`] | `mem/` | mem-server, mms-relay-mm3 |
//! | [`mms`] | `mms/` | mms-client, mms-relay |
//! | [`poc`] | `poc/` | poc-server |
//! | [`presence`] | `presence/` | presence-server, presence-client ([`presence::client`]) |
//! | [`push`] | `push/` | ppg ([`push::ppg`]), push-client and im-offline ([`push::sip_push`]) |
//! | [`sip`] | (all) | shared SIP helpers: SUT addresses, users, MESSAGE through the SUT |
//! | [`common`] | (all) | steps every area uses |
//! | [`world`] | (all) | the per-scenario World, failures naming the requirement |

pub mod common;
pub mod deferred_messaging;
pub mod delivery_reports;
pub mod group_management;
pub mod ims_alignment;
pub mod mem;
pub mod mms;
pub mod poc;
pub mod presence;
pub mod push;
pub mod sip;
pub mod world;

pub use world::LiaisonWorld;
