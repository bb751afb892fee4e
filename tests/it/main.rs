//! The integration tests, as one test binary (`cargo test --test it`): one
//! module per area, each once a binary of its own. One binary is linked once
//! instead of twenty times, and libtest runs its tests side by side, so the
//! slow ones (the fault-kill test, the tshark comparison, the real SUTs), which
//! mostly wait on protocol timers and other processes, overlap.
//!
//! Run one module with a filter: `cargo test --test it faults::`. Two tests
//! run at a time (`.cargo/config.toml`); the CPU-bound ones yield
//! (`common::low_priority`). Tests that share a fixed resource (a real SUT's
//! fixed ports) take its lock (`common::hold`), and the tshark tests' runs
//! wait for the fault-kill test (`common::quiet`). `tests/report_excerpt.rs`
//! stays a binary of its own: it measures its process's peak memory.

#[path = "../common/mod.rs"]
mod common;

mod bundle;
mod catalogue;
mod cli;
mod decode;
mod deferral_sut;
mod faults;
mod ics;
mod ims_core_sut;
mod ipv6;
mod lab_network;
mod limits;
mod load;
mod load_hostile;
mod load_im_server;
mod load_iwf;
mod load_ppg;
mod load_report;
mod log;
mod mms_client_sut;
mod mms_relay;
mod mms_vectors;
mod msrp;
mod msrp_vectors;
mod presence_hostile;
mod push_vectors;
mod real_suts;
mod report_browser;
mod runner;
mod sip_matching;
mod sip_vectors;
mod smpp_vectors;
mod standalone;
mod sut_processes;
mod tls;
mod tshark;
mod websocket;
