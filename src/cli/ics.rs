//! `liaison ics`: the implementation conformance statement of a SUT
//! (crate::ics): every requirement, whether it applies and why, the
//! scenarios that check it, the profile's fields (PIXIT).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::catalogue::Catalogue;
use crate::ics::{self, Statement};
use crate::profile::Profile;
use crate::runner::{self, ScenarioInfo};

use super::{EXIT_PASS, EXIT_USAGE};

/// How `liaison ics` writes the statement.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IcsFormat {
    /// Markdown tables, for people.
    #[default]
    Md,
    /// JSON with stable field names, for tools.
    Json,
    /// A self-contained HTML page.
    Html,
}

/// `liaison ics`'s arguments.
#[derive(clap::Args, Debug)]
pub struct IcsArgs {
    /// SUT profile (YAML). Without it, the embedded reference, all roles.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = IcsFormat::Md)]
    pub format: IcsFormat,
    /// Write to FILE (replaced if it exists) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Folder of the feature files (default ./features, else the compiled-in ones).
    #[arg(long, value_name = "DIR")]
    pub features: Option<PathBuf>,
}

pub fn cmd(a: IcsArgs, rt: &tokio::runtime::Runtime) -> i32 {
    let (cat, all) = match catalogue_and_scenarios(a.features.as_deref(), true) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("liaison: {e}");
            return EXIT_USAGE;
        }
    };
    let profile = match &a.sut {
        Some(p) => match Profile::load(p) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        },
        None => match rt.block_on(reference_profile()) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("liaison: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let s = Statement::build(&cat, &all, &profile);
    let text = match a.format {
        IcsFormat::Md => ics::render::markdown(&s),
        IcsFormat::Json => s.to_json() + "\n",
        IcsFormat::Html => ics::render::html(&s),
    };
    emit(&text, a.out.as_deref())
}

/// The catalogue and every scenario, files shown as `features/…` unless
/// `--features` named the folder; with `check`, scenario tags a run would
/// refuse are refused here too.
pub(super) fn catalogue_and_scenarios(
    features: Option<&Path>,
    check: bool,
) -> Result<(Catalogue, Vec<ScenarioInfo>), String> {
    let cat = Catalogue::embedded()?;
    let dir = runner::features_dir(features)?;
    let feats = runner::load_features(&dir)?;
    let mut all = runner::scenarios(&feats);
    let problems = runner::tag_problems(&all, &cat);
    if check && !problems.is_empty() {
        return Err(format!("feature files: {}", problems.join("; ")));
    }
    ics::shown_as_features(&mut all);
    Ok((cat, all))
}

/// The profile `liaison run` gives the embedded reference (all roles, the
/// capabilities its roles have), from the reference started on port 0 in
/// a scratch folder and stopped again: the statement is the run's own.
async fn reference_profile() -> Result<Profile, String> {
    let scratch = std::env::temp_dir().join(format!(
        "liaison-ics-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let pcaps = scratch.join("pcaps");
    std::fs::create_dir_all(&pcaps)
        .map_err(|e| format!("cannot create {} ({e})", pcaps.display()))?;
    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let started = runner::reference::start_embedded(None, ip, &pcaps).await;
    let out = match started {
        Ok((profile, _, harnesses, running)) => {
            drop(running);
            drop(harnesses);
            Ok(profile)
        }
        Err(e) => Err(e.to_string()),
    };
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

/// Writes `text` to `out` (replaced through a temporary file beside it) or
/// to standard output, locked; a reader that goes away (`| head`) ends the
/// output quietly.
pub(super) fn emit(text: &str, out: Option<&Path>) -> i32 {
    match out {
        Some(p) => {
            let tmp = p.with_extension("liaison-tmp");
            match std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, p)) {
                Ok(()) => EXIT_PASS,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    eprintln!("liaison: --out {}: cannot write ({e})", p.display());
                    EXIT_USAGE
                }
            }
        }
        None => {
            let mut w = std::io::stdout().lock();
            match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
                Ok(()) => EXIT_PASS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_PASS,
                Err(e) => {
                    eprintln!("liaison: cannot write to standard output ({e})");
                    EXIT_USAGE
                }
            }
        }
    }
}
