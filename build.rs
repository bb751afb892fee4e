//! Records the source revision the binary is built from (`liaison --version`,
//! report.json's `suite.revision`): `LIAISON_REVISION` if set (a packager's
//! tarball has no `.git`), else the checkout's commit (12 hex digits), else
//! `unknown`. Rerun when HEAD moves (a commit, a checkout), not on every
//! edit: a working tree's changes are not part of the revision.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIAISON_REVISION");
    // Only files that exist: cargo takes a missing one as changed, every
    // time (a clone without packed-refs would rebuild on every command).
    let mut watch = Vec::new();
    for what in ["HEAD", "packed-refs"] {
        watch.extend(git(&["rev-parse", "--git-path", what]));
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.extend(git(&["rev-parse", "--git-path", &r]));
    }
    for p in watch.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={p}");
    }
    let rev = std::env::var("LIAISON_REVISION")
        .ok()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .or_else(|| {
            git(&["rev-parse", "--short=12", "HEAD"])
                .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LIAISON_REVISION={rev}");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).ok())
        .flatten()
        .map(|s| s.trim().to_string())
}
