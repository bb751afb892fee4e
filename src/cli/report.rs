//! `liaison report`: render a report again from report.json, or merge runs
//! (or load agents' results).

use std::path::PathBuf;

use crate::catalogue::Catalogue;
use crate::report::Report;

use super::EXIT_USAGE;

/// `liaison report`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The report folder(s).
    pub dirs: Vec<PathBuf>,
    /// Merge the given folders into --out.
    #[arg(long)]
    pub merge: bool,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Apply this waiver file instead of the run's (to every scenario).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
}

pub fn cmd(a: ReportArgs) -> i32 {
    report_cmd(a.dirs, a.merge, a.out, a.waivers)
}

fn report_cmd(
    dirs: Vec<PathBuf>,
    merge: bool,
    out: Option<PathBuf>,
    waivers: Option<PathBuf>,
) -> i32 {
    if dirs.is_empty() {
        eprintln!("liaison: report: expected a report folder");
        return EXIT_USAGE;
    }
    // Load results of several agents (`liaison load --agent K/N`).
    if merge && dirs.iter().any(|d| d.join("load.json").is_file()) {
        let Some(out) = out else {
            eprintln!("liaison: report --merge: --out DIR is required");
            return EXIT_USAGE;
        };
        if waivers.is_some() {
            eprintln!("liaison: report --merge: --waivers applies to conformance reports, not to load results");
            return EXIT_USAGE;
        }
        return match crate::load::merge::merge_dirs(&dirs, &out) {
            Ok(r) => {
                print!("{}", r.summary());
                println!("  {}", out.join("load.json").display());
                r.exit_code
            }
            Err(e) => {
                eprintln!("liaison: report --merge: {e}");
                EXIT_USAGE
            }
        };
    }
    let mut reports = Vec::new();
    for d in &dirs {
        match Report::read(d) {
            Ok(r) => reports.push((d.clone(), r)),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let waivers = match waivers {
        Some(p) => match Catalogue::embedded().and_then(|c| crate::report::load_waivers(&p, &c)) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let (mut report, dir) = if merge {
        let Some(out) = out else {
            eprintln!("liaison: report --merge: --out DIR is required");
            return EXIT_USAGE;
        };
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("liaison: report: cannot create {}: {e}", out.display());
            return EXIT_USAGE;
        }
        match Report::merge(&reports, &out) {
            Ok(r) => (r, out),
            Err(e) => {
                eprintln!("liaison: report: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        if dirs.len() > 1 {
            eprintln!("liaison: report: one folder, or --merge");
            return EXIT_USAGE;
        }
        let (d, r) = reports.remove(0);
        (r, out.unwrap_or(d))
    };
    if let Some(w) = &waivers {
        report.apply_waivers(w);
    }
    if let Err(e) = report.write_all(&dir) {
        eprintln!("liaison: report: cannot write into {}: {e}", dir.display());
        return EXIT_USAGE;
    }
    print!("{}", crate::report::summary::render(&report, &dir));
    report.exit_code()
}
