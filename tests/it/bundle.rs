//! Evidence bundles (issue 17, items 4 and 9): `liaison run --bundle`,
//! `liaison bundle`, `liaison verify`. One quick run (a reference fault whose
//! failure a waiver covers) is bundled signed and unsigned; each test takes
//! those archives apart in memory, changes one thing, and holds `liaison
//! verify` to naming it with the right exit code.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use liaison::bundle;

use crate::common::{bin, text, tmpdir};

const WAIVERS: &str = "- requirement: DR-1
  reason: the TCP listener is not in this release of the client
";

struct Fixture {
    dir: PathBuf,
    /// `run --bundle --sign`: signed with `key`.
    signed: PathBuf,
    /// `liaison bundle DIR --waivers W --out …`: not signed.
    unsigned: PathBuf,
    key: PathBuf,
    public: PathBuf,
}

fn liaison(args: &[&str]) -> Output {
    std::process::Command::new(bin())
        .args(args)
        .output()
        .expect("run liaison")
}

fn p(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tmpdir("bundle");
        let key = dir.join("signing-key");
        let o = liaison(&["bundle", "--keygen", p(&key)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the private key is the owner's only");
        }
        let public = dir.join("signing-key.pub");
        let w = dir.join("waivers.yaml");
        std::fs::write(&w, WAIVERS).unwrap();
        let out = dir.join("run");
        let o = liaison(&[
            "run",
            "--tags",
            "@DR-1",
            "--fault",
            "im-client/no-tcp",
            "--waivers",
            p(&w),
            "--out",
            p(&out),
            "--quiet",
            "--bundle",
            "--sign",
            p(&key),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let signed = dir.join("run.liaison.tar");
        assert!(
            text(&o).contains(&format!("bundle: {}", signed.display())),
            "{}",
            text(&o)
        );
        let unsigned = dir.join("unsigned.tar");
        let o = liaison(&["bundle", p(&out), "--waivers", p(&w), "--out", p(&unsigned)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        Fixture {
            dir,
            signed,
            unsigned,
            key,
            public,
        }
    })
}

fn verify(bundle: &Path, key: Option<&Path>) -> (Option<i32>, String) {
    let mut args = vec!["verify", p(bundle)];
    if let Some(k) = key {
        args.extend(["--key", p(k)]);
    }
    let o = liaison(&args);
    (o.status.code(), text(&o))
}

/// The archive's files (names without the top folder).
fn unpack(archive: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let bytes = std::fs::read(archive).unwrap();
    let entries = bundle::tar::read(&bytes, bundle::LIMITS).unwrap();
    let top = entries[0].name.split('/').next().unwrap().to_string();
    let files = entries
        .iter()
        .map(|e| (e.name[top.len() + 1..].to_string(), e.data.to_vec()))
        .collect();
    (top, files)
}

/// Writes a changed copy of `archive`: `change` edits the files; with
/// `rehash` the MANIFEST is written again over them (as a forger would)
/// and any signature is kept as it was.
fn tampered(
    archive: &Path,
    name: &str,
    rehash: bool,
    change: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> PathBuf {
    let (top, mut files) = unpack(archive);
    change(&mut files);
    if rehash {
        let content: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(n, _)| n != bundle::MANIFEST && n != bundle::SIGNATURE)
            .cloned()
            .collect();
        let m = bundle::manifest(&content);
        for (n, d) in &mut files {
            if n == bundle::MANIFEST {
                *d = m.clone().into_bytes();
            }
        }
    }
    let entries: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(n, d)| (format!("{top}/{n}"), d))
        .collect();
    let out = fixture().dir.join(name);
    std::fs::write(&out, bundle::tar::write(&entries).unwrap()).unwrap();
    out
}

fn edit(files: &mut [(String, Vec<u8>)], name: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let (_, d) = files
        .iter_mut()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in the bundle"));
    f(d);
}

#[test]
fn signed_and_unsigned_bundles_verify() {
    let f = fixture();
    let (code, out) = verify(&f.signed, Some(&f.public));
    assert_eq!(code, Some(0), "{out}");
    for want in [
        "signature    good: Ed25519, key SHA256:",
        "run verdict  PASS, exit code 0",
        "requirements 0 passed, 0 failed, 1 waived",
        "waiver(s): follow from the scenario results and the waivers",
        "VERIFIED: the bundle holds",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
    let (code, out) = verify(&f.signed, None);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("but no --key given: signature not checked"),
        "{out}"
    );
    let (code, out) = verify(&f.unsigned, None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("signature    not signed"), "{out}");
    // What the bundle holds: every file of the folder, the waivers, meta.json.
    let (_, files) = unpack(&f.signed);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "MANIFEST",
        "MANIFEST.sig",
        "meta.json",
        "inputs/waivers.yaml",
        "report/report.json",
        "report/junit.xml",
        "report/report.html",
        "report/summary.txt",
        "report/pcaps/run-level-ims-core.pcap",
    ] {
        assert!(names.contains(&want), "{want}: {names:?}");
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| n == "meta.json").unwrap().1).unwrap();
    assert_eq!(meta["suite"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        meta["catalogue_digest"],
        liaison::build_info::catalogue_digest()
    );
    // The same folder, bundled again with the same key: the same bytes.
    let again = f.dir.join("again.tar");
    let o = liaison(&[
        "bundle",
        p(&f.dir.join("run")),
        "--waivers",
        p(&f.dir.join("waivers.yaml")),
        "--sign",
        p(&f.key),
        "--out",
        p(&again),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    if std::fs::read(&again).unwrap() != std::fs::read(&f.signed).unwrap() {
        // Name what differs, not two archives' worth of bytes.
        let (_, a) = unpack(&again);
        let (_, b) = unpack(&f.signed);
        let differ: Vec<String> = a
            .iter()
            .filter(|x| !b.contains(x))
            .map(|(n, d)| match b.iter().find(|(m, _)| m == n) {
                Some((_, e)) => format!(
                    "{n} ({} vs {} bytes): {:?} / {:?}",
                    d.len(),
                    e.len(),
                    String::from_utf8_lossy(&d[..d.len().min(400)]),
                    String::from_utf8_lossy(&e[..e.len().min(400)])
                ),
                None => format!("{n} only in the second bundle"),
            })
            .chain(
                b.iter()
                    .filter(|(n, _)| !a.iter().any(|(m, _)| m == n))
                    .map(|(n, _)| format!("{n} only in the first bundle")),
            )
            .collect();
        panic!("the same folder bundled twice differs: {differ:#?}");
    }
}

#[test]
fn unsigned_bundle_with_a_key_and_a_wrong_key_fail() {
    let f = fixture();
    let (code, out) = verify(&f.unsigned, Some(&f.public));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("signature: not signed, but --key"), "{out}");
    let other = f.dir.join("other-key");
    let o = liaison(&["bundle", "--keygen", p(&other)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (code, out) = verify(&f.signed, Some(&f.dir.join("other-key.pub")));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("signature: signed by key SHA256:"), "{out}");
    assert!(out.contains("not by the given key SHA256:"), "{out}");
}

#[test]
fn a_modified_pcap_or_an_added_file_is_named() {
    let f = fixture();
    let pcap = "report/pcaps/run-level-ims-core.pcap";
    let b = tampered(&f.signed, "pcap.tar", false, |files| {
        edit(files, pcap, |d| d[40] ^= 1)
    });
    let (code, out) = verify(&b, Some(&f.public));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("modified: {pcap} (SHA-256 differs from MANIFEST)")),
        "{out}"
    );
    // Re-hashed: the signature no longer holds.
    let b = tampered(&f.signed, "pcap-rehashed.tar", true, |files| {
        edit(files, pcap, |d| d[40] ^= 1)
    });
    let (code, out) = verify(&b, Some(&f.public));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("does not hold for this MANIFEST"), "{out}");
    let b = tampered(&f.unsigned, "extra.tar", false, |files| {
        files.push(("report/pcaps/extra.pcap".into(), b"x".to_vec()))
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("extra: report/pcaps/extra.pcap (in the archive, not listed in MANIFEST)"),
        "{out}"
    );
    let b = tampered(&f.unsigned, "missing.tar", false, |files| {
        files.retain(|(n, _)| n != "report/junit.xml")
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("missing: report/junit.xml"), "{out}");
    // A capture left out, MANIFEST re-hashed: report.json still names it.
    let b = tampered(&f.unsigned, "no-capture.tar", true, |files| {
        files.retain(|(n, _)| n != pcap)
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "inconsistent: report.json names {pcap} as the capture of run-level role ims-core"
        )),
        "{out}"
    );
}

#[test]
fn a_modified_verdict_is_caught_by_recomputing_it() {
    let f = fixture();
    // DR-1 made `passed` (and the counts to match), MANIFEST re-hashed,
    // unsigned: only the recomputation can tell.
    let b = tampered(&f.unsigned, "verdict.tar", true, |files| {
        edit(files, "report/report.json", |d| {
            let mut r: serde_json::Value = serde_json::from_slice(d).unwrap();
            for q in r["requirements"].as_array_mut().unwrap() {
                if q["id"] == "DR-1" {
                    q["verdict"] = "passed".into();
                    q["waiver"] = serde_json::Value::Null;
                }
            }
            r["summary"]["requirements"]["passed"] = 1.into();
            r["summary"]["requirements"]["waived"] = 0.into();
            *d = serde_json::to_vec_pretty(&r).unwrap();
        })
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    // Every file matches (the count is the report folder's, which grows
    // with what a run writes).
    let files = out
        .lines()
        .find_map(|l| l.strip_prefix("files        "))
        .and_then(|l| l.split_once(" match MANIFEST"))
        .and_then(|(n, _)| n.split_once(" of "))
        .unwrap_or_else(|| panic!("no files line: {out}"));
    assert_eq!(files.0, files.1, "{out}");
    assert!(
        out.contains("verdict: requirement DR-1: report.json says passed, recomputed waived"),
        "{out}"
    );
    assert!(
        out.contains("verdict: summary: requirements passed: report.json says 1, recomputed 0"),
        "{out}"
    );
    // A failed scenario made passed.
    let b = tampered(&f.unsigned, "scenario.tar", true, |files| {
        edit(files, "report/report.json", |d| {
            let mut r: serde_json::Value = serde_json::from_slice(d).unwrap();
            for s in r["scenarios"].as_array_mut().unwrap() {
                if s["verdict"] == "failed" {
                    s["verdict"] = "passed".into();
                }
            }
            *d = serde_json::to_vec_pretty(&r).unwrap();
        })
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is passed but records a failure"), "{out}");
    // Another SUT's profile put in.
    let other = std::fs::read(crate::common::root().join("fixtures/sut/baresip.yaml")).unwrap();
    let b = tampered(&f.unsigned, "profile.tar", true, |files| {
        files.push((bundle::PROFILE.into(), other))
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("inconsistent: inputs/profile.yaml names the SUT `"),
        "{out}"
    );
    // A MUST made SHOULD: the catalogue says otherwise.
    let b = tampered(&f.unsigned, "level.tar", true, |files| {
        edit(files, "report/report.json", |d| {
            let text = String::from_utf8(d.clone()).unwrap();
            let r = text.replacen("\"level\": \"MUST\"", "\"level\": \"SHOULD\"", 1);
            *d = r.into_bytes();
        })
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("'s level: report.json says SHOULD, recomputed MUST"),
        "{out}"
    );
}

#[test]
fn a_modified_waiver_is_caught() {
    let f = fixture();
    // Without re-hashing: the hash names it.
    let b = tampered(&f.unsigned, "waiver.tar", false, |files| {
        edit(files, bundle::WAIVERS, |d| {
            d.extend_from_slice(b"# changed\n")
        })
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("modified: inputs/waivers.yaml"), "{out}");
    // Re-hashed, the waiver's reason changed: its outcome does not match.
    let b = tampered(&f.unsigned, "waiver-reason.tar", true, |files| {
        edit(files, bundle::WAIVERS, |d| {
            *d = WAIVERS.replace("this release", "any release").into_bytes()
        })
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("verdict: waiver 1 (inputs/waivers.yaml)"),
        "{out}"
    );
    assert!(out.contains("verdict: requirement DR-1's waiver"), "{out}");
    // Re-hashed, the waiver gone: DR-1 fails, the run's exit code is 1.
    let b = tampered(&f.unsigned, "waiver-gone.tar", true, |files| {
        edit(files, bundle::WAIVERS, |d| *d = b"[]\n".to_vec())
    });
    let (code, out) = verify(&b, None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("verdict: requirement DR-1: report.json says waived, recomputed failed"),
        "{out}"
    );
    assert!(out.contains("run verdict  FAIL, exit code 1"), "{out}");
}

#[test]
fn unreadable_bundles_and_key_files_exit_2() {
    let f = fixture();
    let bytes = std::fs::read(&f.signed).unwrap();
    let d = &f.dir;
    for (name, content, want) in [
        (
            "truncated.tar",
            bytes[..bytes.len() / 2].to_vec(),
            "truncated at offset",
        ),
        (
            "no-end.tar",
            bytes[..bytes.len() - 1024].to_vec(),
            "truncated at offset",
        ),
        (
            "not-a-tar.tar",
            b"{\"suite\": {}}\n".repeat(100),
            "not a tar archive",
        ),
        ("empty.tar", Vec::new(), "truncated at offset 0"),
    ] {
        let path = d.join(name);
        std::fs::write(&path, content).unwrap();
        let (code, out) = verify(&path, None);
        assert_eq!(code, Some(2), "{name}: {out}");
        assert!(out.contains(want), "{name}: {want}\n{out}");
    }
    let mut flipped = bytes.clone();
    flipped[600] ^= 0x20;
    let path = d.join("corrupt.tar");
    std::fs::write(&path, flipped).unwrap();
    // A byte of MANIFEST's first hash made upper-case: not a MANIFEST.
    let (code, out) = verify(&path, None);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("MANIFEST: line 2: expected 64 hex digits"),
        "{out}"
    );
    // Key files: not a key, the private key instead of the public one.
    let junk = d.join("junk.pub");
    std::fs::write(&junk, "hello\n").unwrap();
    let (code, out) = verify(&f.signed, Some(&junk));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("expected an Ed25519 public key"), "{out}");
    let (code, out) = verify(&f.signed, Some(&f.key));
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("expected a PEM `PUBLIC KEY` block, came `PRIVATE KEY`"),
        "{out}"
    );
    let (code, out) = verify(&d.join("nowhere.tar"), None);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn nothing_is_overwritten() {
    let f = fixture();
    let before = std::fs::read(&f.signed).unwrap();
    // `bundle` to an existing file.
    let o = liaison(&[
        "bundle",
        p(&f.dir.join("run")),
        "--waivers",
        p(&f.dir.join("waivers.yaml")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("exists; not overwritten"), "{}", text(&o));
    assert_eq!(std::fs::read(&f.signed).unwrap(), before);
    // `run --bundle` whose archive exists: refused before the run.
    let o = liaison(&[
        "run",
        "--tags",
        "@DR-1",
        "--out",
        p(&f.dir.join("run")),
        "--bundle",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read(&f.signed).unwrap(), before);
    // `--keygen` over an existing key.
    let o = liaison(&["bundle", "--keygen", p(&f.key)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A bad signing key: refused before the run, nothing written.
    let fresh = f.dir.join("never");
    let o = liaison(&[
        "run",
        "--tags",
        "@DR-1",
        "--out",
        p(&fresh),
        "--bundle",
        "--sign",
        p(&f.public),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("expected a PEM `PRIVATE KEY` block"),
        "{}",
        text(&o)
    );
    assert!(!fresh.exists());
    // A waiver file that is not the run's.
    let other = f.dir.join("other-waivers.yaml");
    std::fs::write(&other, "[]\n").unwrap();
    let o = liaison(&[
        "bundle",
        p(&f.dir.join("run")),
        "--waivers",
        p(&other),
        "--out",
        p(&f.dir.join("x.tar")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not the 1 report.json records"),
        "{}",
        text(&o)
    );
    assert!(!f.dir.join("x.tar").exists());
    // A profile that is not the run's.
    let baresip = crate::common::root().join("fixtures/sut/baresip.yaml");
    let o = liaison(&[
        "bundle",
        p(&f.dir.join("run")),
        "--waivers",
        p(&f.dir.join("waivers.yaml")),
        "--profile",
        p(&baresip),
        "--out",
        p(&f.dir.join("x.tar")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not the profile the run used"),
        "{}",
        text(&o)
    );
    assert!(!f.dir.join("x.tar").exists());
}
