//! Evidence bundles (issue 17, item 4): one ustar archive holding a run's
//! report folder, its inputs (the SUT profile, the waiver file), what built
//! it (`meta.json`: the suite's version, source revision, catalogue and
//! feature digests), and a `MANIFEST` with every file's SHA-256 and size,
//! optionally signed with Ed25519 (`MANIFEST.sig`). `liaison verify` reads
//! it back ([`verify`]): every hash, the signature, and whether the verdicts
//! in report.json follow from its scenario results and the bundled waivers.
//!
//! Sans-IO: bytes in, bytes out; `src/cli/bundle.rs` and `src/cli/verify.rs`
//! read and write the files.
//!
//! Layout, every entry under one folder named after the report folder:
//!
//! ```text
//! NAME/MANIFEST             sha256 size path, one line per file below
//! NAME/MANIFEST.sig         when signed: key fingerprint, public key, signature
//! NAME/meta.json            suite version, revision, digests; where the inputs came from
//! NAME/report/…             every regular file of the report folder, recursively
//! NAME/inputs/profile.yaml  the SUT profile (none for the embedded reference)
//! NAME/inputs/waivers.yaml  the waiver file, when the run had one
//! ```

pub mod key;
pub mod tar;
pub mod verify;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::report::Suite;

/// Largest bundle `liaison verify` reads, and `liaison bundle` writes (bytes).
pub const MAX_BUNDLE: u64 = 1 << 30;
/// Largest single file in a bundle (bytes).
pub const MAX_FILE: u64 = 512 << 20;
/// Most files in a bundle.
pub const MAX_FILES: usize = 100_000;
/// Largest key file read (bytes).
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// The reader's limits.
pub const LIMITS: tar::Limits = tar::Limits {
    max_file: MAX_FILE,
    max_entries: MAX_FILES,
};

pub const MANIFEST: &str = "MANIFEST";
pub const SIGNATURE: &str = "MANIFEST.sig";
pub const META: &str = "meta.json";
/// The report folder's files are under this folder.
pub const REPORT: &str = "report/";
pub const PROFILE: &str = "inputs/profile.yaml";
pub const WAIVERS: &str = "inputs/waivers.yaml";

const MANIFEST_HEAD: &str = "liaison-bundle-manifest 1";
const SIGNATURE_HEAD: &str = "liaison-bundle-signature 1";
const FORMAT: &str = "liaison-bundle 1";

/// An input file copied into the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Input {
    /// The path it was given as.
    pub given: String,
    /// Where it is in the bundle (relative to its folder).
    pub file: String,
}

/// `meta.json`: what made the bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    pub format: String,
    /// The liaison that made the bundle (report.json's `suite` names the one
    /// that ran; they differ when `liaison bundle` of another build bundled it).
    pub suite: Suite,
    pub catalogue_digest: String,
    pub features_digest: String,
    /// The folder holding the report folder's files.
    pub report: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<Input>,
}

impl Meta {
    /// This build's version and digests, with the inputs' given paths.
    pub fn of_this_build(profile: Option<&str>, waivers: Option<&str>) -> Meta {
        let input = |given: Option<&str>, file: &str| {
            given.map(|g| Input {
                given: g.to_string(),
                file: file.to_string(),
            })
        };
        Meta {
            format: FORMAT.into(),
            suite: Suite {
                name: "liaison".into(),
                version: crate::build_info::VERSION.into(),
                revision: crate::build_info::REVISION.into(),
            },
            catalogue_digest: crate::build_info::catalogue_digest(),
            features_digest: crate::build_info::features_digest(),
            report: REPORT.into(),
            profile: input(profile, PROFILE),
            waivers: input(waivers, WAIVERS),
        }
    }
}

/// One line of a MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub sha256: [u8; 32],
    pub size: u64,
    pub path: String,
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}

/// The MANIFEST text of `files` (paths relative to the bundle's folder,
/// sorted): a head line, then `SHA256 SIZE PATH` per file.
pub fn manifest(files: &[(String, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = format!("{MANIFEST_HEAD}\n");
    for (p, d) in sorted {
        out.push_str(&format!("{} {} {p}\n", key::hex(&sha256(d)), d.len()));
    }
    out
}

/// Reads a MANIFEST; an error names the line.
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<Listed>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "expected UTF-8 text, came a byte that is not at offset {}",
            e.valid_up_to()
        )
    })?;
    let mut lines = text.split_terminator('\n');
    if lines.next() != Some(MANIFEST_HEAD) {
        return Err(format!("line 1: expected `{MANIFEST_HEAD}`"));
    }
    let mut out: Vec<Listed> = Vec::new();
    for (i, l) in lines.enumerate() {
        let n = i + 2;
        let mut parts = l.splitn(3, ' ');
        let (Some(h), Some(s), Some(p)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {n}: expected `SHA256 SIZE PATH`"));
        };
        let sha: [u8; 32] = key::unhex(h)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| format!("line {n}: expected 64 hex digits, came `{h}`"))?;
        let size: u64 = s
            .parse()
            .map_err(|_| format!("line {n}: expected a size in bytes, came `{s}`"))?;
        tar::check_name(p).map_err(|why| format!("line {n}: path `{p}` {why}"))?;
        if out.iter().any(|x| x.path == p) {
            return Err(format!("line {n}: `{p}` listed a second time"));
        }
        out.push(Listed {
            sha256: sha,
            size,
            path: p.to_string(),
        });
    }
    Ok(out)
}

/// A MANIFEST.sig's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub fingerprint: String,
    pub public: key::PublicKey,
    pub signature: Vec<u8>,
}

/// The MANIFEST.sig text: the signer's fingerprint, public key, and the
/// Ed25519 signature over the MANIFEST's exact bytes (all hex).
pub fn sign(k: &key::SigningKey, manifest: &[u8]) -> String {
    let p = k.public();
    format!(
        "{SIGNATURE_HEAD}\nalgorithm ed25519\nkey-fingerprint {}\npublic-key {}\nsignature {}\n",
        p.fingerprint(),
        key::hex(&p.0),
        key::hex(&k.sign(manifest))
    )
}

/// Reads a MANIFEST.sig.
pub fn parse_signature(bytes: &[u8]) -> Result<Signature, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "expected text".to_string())?;
    let mut lines = text.lines();
    if lines.next() != Some(SIGNATURE_HEAD) {
        return Err(format!("line 1: expected `{SIGNATURE_HEAD}`"));
    }
    let mut field = |name: &str| -> Result<String, String> {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|v| v.strip_prefix(' '))
            .map(str::to_string)
            .ok_or_else(|| format!("expected a `{name}` line"))
    };
    let alg = field("algorithm")?;
    if alg != "ed25519" {
        return Err(format!("algorithm `{alg}`: expected ed25519"));
    }
    let fingerprint = field("key-fingerprint")?;
    let public = key::unhex(&field("public-key")?)
        .and_then(|v| v.try_into().ok())
        .map(key::PublicKey)
        .ok_or("public-key: expected 64 hex digits")?;
    let signature = key::unhex(&field("signature")?)
        .filter(|s| s.len() == 64)
        .ok_or("signature: expected 128 hex digits")?;
    if public.fingerprint() != fingerprint {
        return Err("key-fingerprint is not the public key's".into());
    }
    Ok(Signature {
        fingerprint,
        public,
        signature,
    })
}

/// Why a bundle could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A file the bundle makes itself (MANIFEST, meta.json, …) given twice.
    Reserved(String),
    Duplicate(String),
    Tar(tar::WriteError),
    /// Larger than [`MAX_FILE`] or, all together, [`MAX_BUNDLE`].
    TooLarge {
        what: String,
        size: u64,
        max: u64,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Reserved(p) => write!(f, "`{p}` is a name the bundle keeps for itself"),
            BuildError::Duplicate(p) => write!(f, "`{p}` twice"),
            BuildError::Tar(e) => write!(f, "{e}"),
            BuildError::TooLarge { what, size, max } => write!(
                f,
                "{what} is {size} bytes; a bundle holds at most {max} (liaison verify would refuse it)"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds a bundle: `files` (paths relative to the bundle's folder, e.g.
/// `report/report.json`), `meta`, the MANIFEST over them all, and
/// MANIFEST.sig when `signer` is given; every entry under `top/`. The same
/// inputs give the same bytes (sorted entries, fixed modes and times;
/// Ed25519 signatures are deterministic).
pub fn build(
    top: &str,
    mut files: Vec<(String, Vec<u8>)>,
    meta: &Meta,
    signer: Option<&key::SigningKey>,
) -> Result<Vec<u8>, BuildError> {
    for (p, d) in &files {
        if [MANIFEST, SIGNATURE, META].contains(&p.as_str()) {
            return Err(BuildError::Reserved(p.clone()));
        }
        if d.len() as u64 > MAX_FILE {
            return Err(BuildError::TooLarge {
                what: format!("`{p}`"),
                size: d.len() as u64,
                max: MAX_FILE,
            });
        }
    }
    let meta_json = serde_json::to_vec_pretty(meta).unwrap_or_default();
    files.push((META.into(), meta_json));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(BuildError::Duplicate(w[0].0.clone()));
    }
    let total: u64 = files.iter().map(|(_, d)| d.len() as u64 + 512).sum();
    if total > MAX_BUNDLE {
        return Err(BuildError::TooLarge {
            what: "the bundle".into(),
            size: total,
            max: MAX_BUNDLE,
        });
    }
    let m = manifest(&files);
    let mut entries = vec![(format!("{top}/{MANIFEST}"), m.clone().into_bytes())];
    if let Some(k) = signer {
        entries.push((
            format!("{top}/{SIGNATURE}"),
            sign(k, m.as_bytes()).into_bytes(),
        ));
    }
    entries.extend(files.into_iter().map(|(p, d)| (format!("{top}/{p}"), d)));
    tar::write(&entries).map_err(BuildError::Tar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_is_sorted() {
        let files = vec![
            ("report/b".to_string(), b"bb".to_vec()),
            ("report/a b".to_string(), b"".to_vec()),
        ];
        let m = manifest(&files);
        assert!(m.starts_with("liaison-bundle-manifest 1\ne3b0c442"), "{m}");
        let l = parse_manifest(m.as_bytes()).unwrap();
        assert_eq!(l[0].path, "report/a b");
        assert_eq!(l[1].size, 2);
        for bad in [
            "x\n",
            "liaison-bundle-manifest 1\nzz 1 a\n",
            "liaison-bundle-manifest 1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 x a\n",
            "liaison-bundle-manifest 1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 ../a\n",
        ] {
            assert!(parse_manifest(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_round_trips() {
        let (_, k) = key::generate().unwrap();
        let s = sign(&k, b"m");
        let p = parse_signature(s.as_bytes()).unwrap();
        assert_eq!(p.public, k.public());
        assert!(p.public.verifies(b"m", &p.signature));
        let forged = s.replace(&p.fingerprint, &format!("SHA256:{}", "0".repeat(64)));
        assert!(parse_signature(forged.as_bytes()).is_err());
    }

    #[test]
    fn build_is_deterministic_and_refuses_reserved_names() {
        let meta = Meta::of_this_build(None, None);
        let files = vec![("report/report.json".to_string(), b"{}".to_vec())];
        let (_, k) = key::generate().unwrap();
        let a = build("r", files.clone(), &meta, Some(&k)).unwrap();
        assert_eq!(a, build("r", files.clone(), &meta, Some(&k)).unwrap());
        let names: Vec<String> = tar::read(&a, LIMITS)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "r/MANIFEST",
                "r/MANIFEST.sig",
                "r/meta.json",
                "r/report/report.json"
            ]
        );
        let bad = vec![("meta.json".to_string(), vec![])];
        assert!(matches!(
            build("r", bad, &meta, None),
            Err(BuildError::Reserved(_))
        ));
    }
}
