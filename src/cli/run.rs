//! `liaison run`: the scenarios against a SUT, the report written.

use std::path::PathBuf;

use crate::runner::{self, RunOptions};

use super::EXIT_USAGE;

/// `liaison run`'s arguments.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// SUT profile (YAML). Without it, the embedded reference SUT, all roles.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// Tag expression selecting scenarios, e.g. `@DR-5 or @im-client`.
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,
    /// Report folder (default reports/<timestamp>, with reports/latest pointing at it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Every failed requirement gates the exit code (SHOULD and MAY, not only MUST).
    #[arg(long)]
    pub strict: bool,
    /// Waiver file: requirements a SUT is known to fail, each with a written reason.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Run against the embedded reference with this fault (ROLE/NAME; see `liaison reference --list-faults`).
    #[arg(long, value_name = "ROLE/NAME")]
    pub fault: Option<String>,
    /// The loopback IP the embedded reference and its harness bind
    /// (default 127.0.0.1; `::1` runs every role on IPv6).
    #[arg(long, value_name = "IP")]
    pub address: Option<std::net::IpAddr>,
    /// Folder of the feature files (default ./features, else the compiled-in ones).
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
    /// No progress lines, only the summary.
    #[arg(long)]
    pub quiet: bool,
    /// After the report, write the evidence bundle DIR.liaison.tar beside the
    /// report folder (see `liaison bundle`, `liaison verify`).
    #[arg(long)]
    pub bundle: bool,
    /// Sign the bundle's MANIFEST with this Ed25519 private key (PKCS#8 PEM or DER).
    #[arg(long, value_name = "KEY", requires = "bundle")]
    pub sign: Option<std::path::PathBuf>,
}

pub fn cmd(a: RunArgs, rt: &tokio::runtime::Runtime) -> i32 {
    quiet_step_panics();
    // A bad key, or an archive that is already there, stops the run before
    // it starts (nothing is written).
    let signer = match a
        .sign
        .as_deref()
        .map(super::bundle::read_signing_key)
        .transpose()
    {
        Ok(k) => k,
        Err(e) => {
            eprintln!("liaison: {e}");
            return EXIT_USAGE;
        }
    };
    if a.bundle
        && let Some(out) = &a.out
    {
        let archive = super::bundle::default_out(out);
        if archive.symlink_metadata().is_ok() {
            eprintln!(
                "liaison: --bundle: {} exists; not overwritten (remove it, or give another --out)",
                archive.display()
            );
            return EXIT_USAGE;
        }
    }
    let inputs = (a.sut.clone(), a.waivers.clone());
    let opts = RunOptions {
        sut: a.sut,
        tags: a.tags,
        out: a.out,
        strict: a.strict,
        waivers: a.waivers,
        fault: a.fault,
        address: a.address,
        features: a.features,
        progress: !a.quiet,
    };
    match rt.block_on(runner::run(opts)) {
        Ok((report, dir)) => {
            print!("{}", crate::report::summary::render(&report, &dir));
            for (_, e) in report.sut_events() {
                eprintln!("liaison: {}", e.headline());
            }
            if a.bundle {
                let inputs = super::bundle::Inputs {
                    profile: inputs.0.as_deref(),
                    profile_from_report: false,
                    waivers: inputs.1.as_deref(),
                };
                match super::bundle::make(&dir, None, signer.as_ref(), inputs) {
                    Ok(m) => println!("{}", m.line()),
                    Err(e) => {
                        eprintln!("liaison: --bundle: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
            report.exit_code()
        }
        Err(e) => {
            eprintln!("liaison: {e}");
            EXIT_USAGE
        }
    }
}

/// Step failures are panics inside cucumber (which catches them and reports
/// them as failed steps); keep them off stderr — they are in the report.
fn quiet_step_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        // Verdicts start with a requirement ID list followed by ": expected".
        if !msg.contains(": expected ") {
            default(info);
        }
    }));
}
