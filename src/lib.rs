//! # liaison — a conformance suite for IMS and OMA messaging interworking
//!
//! Gherkin scenarios derived from liaison-statement requirements drive a
//! harness that plays network-element roles against a system under test
//! (SUT) over real loopback sockets, captures the traffic to pcap, and judges
//! the exact bytes the SUT sent.
//!
//! ## Map of the modules (outside in)
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | `liaison run / list / reference / report`, exit codes |
//! | [`runner`] | selects scenarios (roles, capabilities, `--tags`), starts the SUT, runs cucumber, builds the report |
//! | [`steps`] (`steps/` at the top level) | thin glue: Gherkin phrase → role call → assertion; the World |
//! | [`roles`] | network elements the harness plays: UAs, transactions |
//! | [`net`] | UDP/TCP sockets on loopback; [`net::capture`] taps every byte into the scenario's pcap |
//! | [`codec`] | sans-IO encoders/decoders: SIP, SDP, MSRP, SMPP, WSP push, PAP; no I/O, no tokio |
//! | [`decode`] | `liaison decode`: PDUs field by field with offsets, from raw bytes, hex or a capture (read back as the report's ladder reads it), through the codecs |
//! | [`reference`] | the embedded reference SUT for each role, with named faults; shares only [`codec`] with the harness |
//! | [`bundle`] | evidence bundles: a sans-IO ustar codec, the MANIFEST (SHA-256 of every file), Ed25519 signing, and `liaison verify`'s checks (hashes, signature, verdicts recomputed) |
//! | [`build_info`] | version, source revision, catalogue and features digests (`--version`, report.json) |
//! | [`catalogue`] | `features/requirements.yaml`, compiled in |
//! | [`load`] | `liaison load`: delivery-report integrity under load, every outcome correlated with its message |
//! | [`log`] | `-v`/`-vv`/`RUST_LOG` logging (`tracing`) to stderr and to `liaison.log` in the report folder, size-capped |
//! | [`limits`] | size limits on files read, depth limits on YAML and `--tags` |
//! | [`profile`] | SUT profiles (YAML) with one-line errors |
//! | [`sut`] | launching, probing and stopping a real SUT |
//! | [`report`] | `report.json`, `junit.xml`, `report.html` (with message ladders read back from the pcaps), the text summary, waivers, merging |
//! | [`traceability`] | per enabler of seed 003: requirements, scenarios, IMS references, "not covered" |
//!
//! The layering rule: codecs know nothing of sockets; `net` knows nothing of
//! transactions; roles know nothing of Gherkin; steps do no protocol work.

pub mod build_info;
pub mod bundle;
pub mod catalogue;
pub mod cli;
pub mod codec;
pub mod decode;
pub mod harness;
pub mod ics;
pub mod limits;
pub mod load;
pub mod log;
pub mod net;
pub mod profile;
pub mod reference;
pub mod report;
pub mod roles;
pub mod runner;
#[path = "../steps/mod.rs"]
pub mod steps;
pub mod sut;
pub mod traceability;
