//! `liaison bundle`: one evidence archive from a report folder (and its
//! inputs), optionally signed; `--keygen` makes a signing key. The archive's
//! content and checks are [`crate::bundle`]'s; this file reads and writes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::bundle::{self, key};
use crate::report::Report;

use super::{EXIT_PASS, EXIT_USAGE};

/// `liaison bundle`'s arguments.
#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The report folder (`liaison run --out DIR`).
    #[arg(required_unless_present = "keygen", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The archive to write (default: DIR.liaison.tar next to DIR); an
    /// existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Sign the MANIFEST with this Ed25519 private key (PKCS#8, PEM or DER,
    /// as `openssl genpkey -algorithm ed25519` or `--keygen` writes it).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The SUT profile the run used (default: the path report.json records,
    /// if it is a file from here; none for the embedded reference).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// The waiver file the run used (needed when report.json records
    /// waivers; it must hold the same waivers).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Write a new Ed25519 key pair instead: KEY (private, PKCS#8 PEM, mode
    /// 0600) and KEY.pub (public, PEM); neither may exist.
    #[arg(long, value_name = "KEY", conflicts_with_all = ["dir", "out", "sign", "profile", "waivers"])]
    pub keygen: Option<PathBuf>,
}

pub fn cmd(a: BundleArgs) -> i32 {
    if let Some(k) = &a.keygen {
        return keygen(k);
    }
    let Some(dir) = a.dir else {
        eprintln!("liaison: bundle: expected a report folder");
        return EXIT_USAGE;
    };
    let signer = match a.sign.as_deref().map(read_signing_key).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("liaison: bundle: {e}");
            return EXIT_USAGE;
        }
    };
    let inputs = Inputs {
        profile: a.profile.as_deref(),
        profile_from_report: a.profile.is_none(),
        waivers: a.waivers.as_deref(),
    };
    match make(&dir, a.out.as_deref(), signer.as_ref(), inputs) {
        Ok(m) => {
            println!("{}", m.line());
            EXIT_PASS
        }
        Err(e) => {
            eprintln!("liaison: bundle: {e}");
            EXIT_USAGE
        }
    }
}

/// The run's inputs to put in the bundle.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub profile: Option<&'a Path>,
    /// Without `profile`, take the path report.json records (if it is a file).
    pub profile_from_report: bool,
    pub waivers: Option<&'a Path>,
}

/// A bundle written.
#[derive(Debug)]
pub struct Made {
    pub path: PathBuf,
    pub files: usize,
    pub bytes: usize,
    pub signed_by: Option<String>,
}

impl Made {
    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "bundle: {} ({} files and MANIFEST, {} bytes{})",
            self.path.display(),
            self.files,
            self.bytes,
            match &self.signed_by {
                Some(f) => format!(", signed by {f}"),
                None => ", not signed".into(),
            }
        )
    }
}

/// Reads a private key file (bounded) and parses it.
pub fn read_signing_key(path: &Path) -> Result<key::SigningKey, String> {
    let bytes = read_bounded(path, bundle::MAX_KEY_FILE)?;
    key::parse_private(&bytes).map_err(|e| format!("--sign {}: {e}", path.display()))
}

/// Where `liaison bundle DIR` writes by default: `DIR.liaison.tar` beside DIR.
pub fn default_out(dir: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name = folder_name(&abs);
    abs.parent()
        .unwrap_or(Path::new("."))
        .join(format!("{name}.liaison.tar"))
}

fn folder_name(dir: &Path) -> String {
    let n: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
        .collect();
    if n.is_empty() || n == "." || n == ".." {
        "bundle".into()
    } else {
        n
    }
}

/// Makes the bundle of report folder `dir` and writes it to `out` (default
/// [`default_out`]), refusing to overwrite anything.
pub fn make(
    dir: &Path,
    out: Option<&Path>,
    signer: Option<&key::SigningKey>,
    inputs: Inputs<'_>,
) -> Result<Made, String> {
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(dir));
    if out.symlink_metadata().is_ok() {
        return Err(format!(
            "{} exists; not overwritten (remove it, or give another --out)",
            out.display()
        ));
    }
    let report = Report::read(dir)?;
    let catalogue = crate::catalogue::Catalogue::embedded()?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();

    // The profile.
    let recorded_profile = report.sut.profile.clone();
    let profile: Option<PathBuf> = match inputs.profile {
        Some(p) => Some(p.to_path_buf()),
        None if !inputs.profile_from_report => None,
        None if recorded_profile.starts_with('<') || report.runs.len() > 1 => None,
        None => {
            let p = PathBuf::from(&recorded_profile);
            if !p.is_file() {
                return Err(format!(
                    "report.json's profile `{recorded_profile}` is not a file from here: give it with --profile FILE"
                ));
            }
            Some(p)
        }
    };
    if let Some(p) = &profile {
        let text = crate::limits::read_text(p, crate::limits::MAX_YAML_FILE)
            .map_err(|e| format!("--profile {}: {e}", p.display()))?;
        // The profile the run used: it names the SUT report.json names.
        if report.runs.len() <= 1 {
            let prof = crate::profile::Profile::parse(&text, &p.display().to_string())
                .map_err(|e| e.to_string())?;
            if prof.name != report.sut.name || prof.roles != report.sut.roles {
                return Err(format!(
                    "--profile {}: names the SUT `{}` ({}), report.json `{}` ({}): not the profile the run used",
                    p.display(),
                    prof.name,
                    prof.roles.join(", "),
                    report.sut.name,
                    report.sut.roles.join(", ")
                ));
            }
        }
        files.push((bundle::PROFILE.into(), text.into_bytes()));
    }

    // The waivers: the file given, holding what report.json records.
    match inputs.waivers {
        Some(w) => {
            let ws = crate::report::load_waivers(w, &catalogue)?;
            let recorded: Vec<&crate::report::Waiver> =
                report.waivers.iter().map(|o| &o.waiver).collect();
            if report.runs.len() <= 1 && ws.iter().collect::<Vec<_>>() != recorded {
                return Err(format!(
                    "--waivers {}: {} waiver(s), not the {} report.json records (give the file the run used)",
                    w.display(),
                    ws.len(),
                    recorded.len()
                ));
            }
            let text = crate::limits::read_text(w, crate::limits::MAX_YAML_FILE)
                .map_err(|e| format!("--waivers {}: {e}", w.display()))?;
            files.push((bundle::WAIVERS.into(), text.into_bytes()));
        }
        None if !report.waivers.is_empty() && report.runs.len() <= 1 => {
            return Err(format!(
                "report.json records {} waiver(s): give the waiver file the run used with --waivers FILE",
                report.waivers.len()
            ));
        }
        None => {}
    }

    // Every regular file of the report folder.
    let mut found = Vec::new();
    walk(dir, "", 0, &mut found)?;
    for (rel, path) in found {
        let data = read_bounded(&path, bundle::MAX_FILE)?;
        files.push((format!("{}{rel}", bundle::REPORT), data));
    }
    let top = folder_name(&std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    let meta = bundle::Meta::of_this_build(
        profile.as_ref().map(|p| p.display().to_string()).as_deref(),
        inputs.waivers.map(|w| w.display().to_string()).as_deref(),
    );
    // Listed in MANIFEST: the files and meta.json.
    let n = files.len() + 1;
    let bytes = bundle::build(&top, files, &meta, signer).map_err(|e| e.to_string())?;
    write_new(&out, &bytes, 0o644)?;
    Ok(Made {
        path: out,
        files: n,
        bytes: bytes.len(),
        signed_by: signer.map(|k| k.public().fingerprint()),
    })
}

/// The regular files under `dir` (sorted, paths joined with `/`); symbolic
/// links and other non-files are left out, with a line on stderr.
fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), String> {
    if depth > 32 {
        return Err(format!("{}: folders nested deeper than 32", dir.display()));
    }
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read the folder ({e})", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: cannot read the folder ({e})", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().into_string().map_err(|n| {
            format!(
                "{}: a file name that is not UTF-8 ({})",
                dir.display(),
                n.to_string_lossy()
            )
        })?;
        let rel = format!("{prefix}{name}");
        let kind = e
            .file_type()
            .map_err(|err| format!("{}: {err}", path.display()))?;
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), depth + 1, out)?;
        } else if kind.is_file() {
            if out.len() >= bundle::MAX_FILES {
                return Err(format!(
                    "{}: more than {} files",
                    dir.display(),
                    bundle::MAX_FILES
                ));
            }
            out.push((rel, path));
        } else {
            eprintln!(
                "liaison: bundle: {} left out (not a regular file)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Reads a file, refusing one longer than `max` (without reading it whole).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{}: expected at most {max} bytes, came more",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Writes a file that must not exist yet (`create_new`), with `mode`; a
/// partial file is removed when the write fails.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists; not overwritten", path.display())
        } else {
            format!("{}: cannot create ({e})", path.display())
        }
    })?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(format!("{}: cannot write ({e})", path.display()));
    }
    Ok(())
}

/// `--keygen KEY`: KEY (0600) and KEY.pub, neither overwritten.
fn keygen(path: &Path) -> i32 {
    let public = {
        let mut p = path.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    };
    for p in [path, public.as_path()] {
        if p.symlink_metadata().is_ok() {
            eprintln!(
                "liaison: bundle --keygen: {} exists; not overwritten",
                p.display()
            );
            return EXIT_USAGE;
        }
    }
    let (pem, k) = match key::generate() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("liaison: bundle --keygen: {e}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = write_new(path, pem.as_bytes(), 0o600) {
        eprintln!("liaison: bundle --keygen: {e}");
        return EXIT_USAGE;
    }
    if let Err(e) = write_new(&public, k.public().to_pem().as_bytes(), 0o644) {
        let _ = std::fs::remove_file(path);
        eprintln!("liaison: bundle --keygen: {e}");
        return EXIT_USAGE;
    }
    println!(
        "wrote {} (private: keep it, sign with --sign) and {} (public: give it to whoever runs liaison verify --key)\nfingerprint {}",
        path.display(),
        public.display(),
        k.public().fingerprint()
    );
    EXIT_PASS
}
