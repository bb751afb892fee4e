//! The command line (design.md, "Command line"), one file per command:
//!
//! | file | command |
//! |---|---|
//! | [`run`] | `liaison run`: the scenarios against a SUT, the report |
//! | [`list`] | `liaison list`: requirements and their scenarios; the test purposes |
//! | [`ics`] | `liaison ics`: the conformance statement of a SUT |
//! | [`reference`] | `liaison reference`: one embedded reference role on its own |
//! | [`load`] | `liaison load`: delivery-report integrity under load |
//! | [`report`] | `liaison report`: render again, or merge |
//! | [`decode`] | `liaison decode`: the fields of PDUs in bytes, hex or a capture |
//! | [`bundle`] | `liaison bundle`: an evidence archive of a report folder; `--keygen` |
//! | [`verify`] | `liaison verify`: check an evidence archive |
//! | [`completions`] | `liaison completions`: shell completion scripts |
//! | [`man`] | `liaison man` (hidden): the man pages, for packagers |
//!
//! Exit codes 0 (pass), 1 (fail), 2 (usage, bad input), 3 (interrupted).

use clap::{Parser, Subcommand};

pub mod bundle;
pub mod completions;
pub mod decode;
pub mod ics;
pub mod list;
pub mod load;
pub mod man;
pub mod reference;
pub mod report;
pub mod run;
pub mod verify;

pub use load::LoadArgs;
pub use reference::RoleArgs;

/// Exit codes.
pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "liaison",
    version,
    long_version = long_version(),
    about = "Conformance suite for IMS and OMA messaging interworking"
)]
pub struct Cli {
    /// Log more to stderr and to liaison.log in the report folder: -v run,
    /// SUT and scenario events; -vv also transactions, timers, routing and
    /// connections. RUST_LOG (target=level directives) works too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the scenarios against a SUT (default: the embedded reference) and write the report.
    Run(run::RunArgs),
    /// List requirements, their scenarios, and which apply to a SUT; or
    /// the test purposes (`--format md|json`).
    List(list::ListArgs),
    /// The implementation conformance statement of a SUT: every requirement,
    /// whether it applies and why, the scenarios that check it, the profile's
    /// fields (PIXIT).
    Ics(ics::IcsArgs),
    /// Run one embedded reference SUT role on its own until interrupted.
    Reference(Box<reference::ReferenceArgs>),
    /// Delivery-report integrity under load: send at a rate, correlate every
    /// outcome with its message, write load.json, junit.xml and report.html.
    Load(Box<LoadArgs>),
    /// Render junit.xml, report.html and summary.txt again from DIR/report.json,
    /// or merge several runs into one report (or several load agents' load.json
    /// into one load result).
    Report(report::ReportArgs),
    /// Decode PDUs (SIP, MSRP, SMPP, WSP, MMS, PAP, SMTP, HTTP) field by field
    /// with byte offsets, from raw bytes, hex or a pcap/pcapng capture.
    Decode(decode::DecodeArgs),
    /// One evidence archive of a report folder: every file, the profile and
    /// waivers, a MANIFEST of SHA-256s, optionally signed (Ed25519).
    Bundle(bundle::BundleArgs),
    /// Check an evidence archive: every hash, the signature, and that the
    /// verdicts follow from the scenario results and the waivers.
    Verify(verify::VerifyArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(completions::CompletionsArgs),
    /// Write one man page per command into a folder (for packagers).
    #[command(hide = true)]
    Man(man::ManArgs),
}

/// `--version`: the crate version, the source revision, the catalogue's and
/// the feature files' digests (crate::build_info). Built once per process.
fn long_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(crate::build_info::long_version)
}

/// Runs the command line; returns the exit code.
pub fn main_with(cli: Cli) -> i32 {
    if let Err(e) = crate::log::init(cli.verbose) {
        eprintln!("liaison: {e}");
        return EXIT_USAGE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("liaison: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Run(a) => run::cmd(a, &rt),
        Command::List(a) => list::cmd(a),
        Command::Ics(a) => ics::cmd(a, &rt),
        Command::Reference(a) => reference::cmd(*a, &rt),
        Command::Load(a) => load::cmd(*a),
        Command::Report(a) => report::cmd(a),
        Command::Decode(a) => decode::cmd(a),
        Command::Bundle(a) => bundle::cmd(a),
        Command::Verify(a) => verify::cmd(a),
        Command::Completions(a) => completions::cmd(a),
        Command::Man(a) => man::cmd(a),
    }
}
