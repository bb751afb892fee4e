//! `liaison verify BUNDLE [--key PUB]`: reads an evidence bundle, checks it
//! ([`crate::bundle::verify`]) and prints a one-screen summary.
//!
//! Exit codes: 0 the bundle holds (whatever the run's own verdict, which is
//! printed with its exit code); 1 it does not (a file missing, extra or
//! modified; the signature missing, wrong or not holding; a verdict, count
//! or waiver outcome that does not follow from the scenario results and the
//! waivers — each named); 2 it cannot be judged (not a tar archive,
//! truncated, corrupt, no MANIFEST, too large, or an unreadable key file).

use std::path::PathBuf;

use crate::bundle::{self, key, verify::SignatureStatus, verify::Verification};

use super::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};

/// `liaison verify`'s arguments.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The bundle (`liaison run --bundle`, `liaison bundle DIR`).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// The Ed25519 public key it must be signed with (PEM as `openssl pkey
    /// -pubout` or `liaison bundle --keygen` writes it, DER, 32 raw bytes or
    /// 64 hex digits). Without it a signature is not checked.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

pub fn cmd(a: VerifyArgs) -> i32 {
    let key = match &a.key {
        None => None,
        Some(p) => match super::bundle::read_bounded(p, bundle::MAX_KEY_FILE)
            .and_then(|b| key::parse_public(&b).map_err(|e| format!("--key {}: {e}", p.display())))
        {
            Ok(k) => Some(k),
            Err(e) => {
                eprintln!("liaison: verify: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let bytes = match super::bundle::read_bounded(&a.bundle, bundle::MAX_BUNDLE) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("liaison: verify: {e}");
            return EXIT_USAGE;
        }
    };
    let catalogue = crate::catalogue::Catalogue::embedded().ok();
    match bundle::verify::verify(&bytes, key.as_ref(), catalogue.as_ref()) {
        Err(e) => {
            eprintln!("liaison: verify: {}: {e}", a.bundle.display());
            EXIT_USAGE
        }
        Ok(v) => {
            print!("{}", render(&a.bundle.display().to_string(), &v));
            if v.intact() {
                EXIT_PASS
            } else {
                eprintln!(
                    "liaison: verify: {}: does not hold ({} finding(s))",
                    a.bundle.display(),
                    v.findings.len()
                );
                EXIT_FAIL
            }
        }
    }
}

/// The one-screen summary.
pub fn render(name: &str, v: &Verification) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let bad_files = v
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f,
                bundle::verify::Finding::Missing(_) | bundle::verify::Finding::Modified { .. }
            )
        })
        .count();
    let _ = writeln!(
        o,
        "bundle       {name} (folder {}/, {} files of {} bytes in MANIFEST)",
        v.top, v.files, v.bytes
    );
    if let Some(m) = &v.meta {
        let _ = writeln!(
            o,
            "made by      {} {} (revision {}), catalogue {}",
            m.suite.name,
            m.suite.version,
            revision_or_unknown(&m.suite.revision),
            m.catalogue_digest
        );
    }
    if let Some(r) = &v.report {
        let _ = writeln!(
            o,
            "run by       {} {} (revision {}), catalogue {}",
            r.suite.name,
            r.suite.version,
            revision_or_unknown(&r.suite.revision),
            r.catalogue.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            o,
            "SUT          {} ({}), roles {}",
            r.sut.name,
            r.sut.profile,
            r.sut.roles.join(", ")
        );
        let s = &r.summary;
        let _ = writeln!(
            o,
            "scenarios    {} passed, {} failed ({} waived), {} skipped",
            s.scenarios.passed, s.scenarios.failed, s.scenarios.waived, s.scenarios.skipped
        );
        let _ = writeln!(
            o,
            "requirements {} passed, {} failed, {} waived, {} not run",
            s.requirements.passed,
            s.requirements.failed,
            s.requirements.waived,
            s.requirements.not_run
        );
        let verdict = match r.exit_code {
            0 => "PASS",
            1 => "FAIL",
            2 => "SUT UNREACHABLE",
            _ => "INTERRUPTED",
        };
        let _ = writeln!(
            o,
            "run verdict  {verdict}, exit code {}{} (recomputed from the scenario results and the waivers)",
            r.exit_code,
            if r.strict { ", --strict" } else { "" }
        );
    }
    let sig = match &v.signature {
        SignatureStatus::NotSigned => "not signed".to_string(),
        SignatureStatus::NotChecked { fingerprint } => {
            format!("signed by key {fingerprint}, but no --key given: signature not checked")
        }
        SignatureStatus::Good { fingerprint } => {
            format!("good: Ed25519, key {fingerprint} (the given --key)")
        }
        SignatureStatus::Failed => "FAILED (below)".to_string(),
    };
    let _ = writeln!(o, "signature    {sig}");
    let _ = writeln!(
        o,
        "files        {} of {} match MANIFEST (SHA-256 and size)",
        v.files.saturating_sub(bad_files),
        v.files
    );
    if let Some(r) = &v.report {
        let verdict_findings = v
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    bundle::verify::Finding::Verdict { .. }
                        | bundle::verify::Finding::Inconsistent(_)
                )
            })
            .count();
        let _ = writeln!(
            o,
            "verdicts     {} requirements, {} scenarios, {} waiver(s){}: {}",
            r.requirements,
            r.scenarios,
            r.waivers,
            if r.runs > 1 {
                format!(", {} runs", r.runs)
            } else {
                String::new()
            },
            if verdict_findings == 0 {
                "follow from the scenario results and the waivers"
            } else {
                "DO NOT follow from the scenario results and the waivers (below)"
            },
        );
    }
    for n in &v.notes {
        let _ = writeln!(o, "note         {n}");
    }
    if v.intact() {
        let _ = writeln!(o, "VERIFIED: the bundle holds");
    } else {
        let _ = writeln!(o, "NOT VERIFIED: {} finding(s)", v.findings.len());
        for f in v.findings.iter().take(40) {
            let _ = writeln!(o, "  {f}");
        }
        if v.findings.len() > 40 {
            let _ = writeln!(o, "  … and {} more", v.findings.len() - 40);
        }
    }
    o
}

/// A suite's recorded revision, `unknown` when a report predates it.
fn revision_or_unknown(r: &str) -> &str {
    if r.is_empty() {
        "unknown"
    } else {
        r
    }
}
