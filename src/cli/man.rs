//! `liaison man --out DIR` (hidden): one man page per command (clap_mangen),
//! `liaison.1`, `liaison-run.1`, `liaison-list.1`, …, for the Debian package
//! (packaging/deb.sh). Hidden because it is a packager's tool; the pages are
//! the `--help` texts, so they never drift from the parser.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::{Cli, EXIT_PASS, EXIT_USAGE};

/// `liaison man`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Folder to write the pages into (created if missing; an existing page
    /// there is not overwritten: the command stops with exit code 2).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Every page as (file name, roff text): the top command first, then each
/// visible subcommand, depth first. Hidden commands (this one) get none.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), std::io::Error> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut text = Vec::new();
        man.render(&mut text)?;
        out.push((man.get_filename(), text));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out)?;
    Ok(out)
}

/// Writes every page into `dir`, refusing to replace an existing file.
pub fn write_pages(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let pages = pages().map_err(|e| format!("cannot render the man pages: {e}"))?;
    // All or nothing: name every page that is in the way before writing any.
    if let Some((name, _)) = pages.iter().find(|(n, _)| dir.join(n).exists()) {
        return Err(format!(
            "{} exists; not overwritten",
            dir.join(name).display()
        ));
    }
    let mut written = Vec::new();
    for (name, text) in pages {
        let path = dir.join(&name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    format!("{} exists; not overwritten", path.display())
                }
                _ => format!("cannot create {}: {e}", path.display()),
            })?;
        f.write_all(&text)
            .and_then(|()| f.flush())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

pub fn cmd(a: ManArgs) -> i32 {
    match write_pages(&a.out) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            EXIT_PASS
        }
        Err(e) => {
            eprintln!("liaison: {e}");
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_visible_command_and_none_overwritten() {
        let names: Vec<String> = pages().unwrap().into_iter().map(|(n, _)| n).collect();
        for n in [
            "liaison.1",
            "liaison-run.1",
            "liaison-list.1",
            "liaison-reference.1",
            "liaison-load.1",
            "liaison-report.1",
            "liaison-completions.1",
        ] {
            assert!(names.iter().any(|x| x == n), "no {n} in {names:?}");
        }
        assert!(!names.iter().any(|x| x == "liaison-man.1"), "{names:?}");
        assert!(!names.iter().any(|x| x == "liaison-help.1"), "{names:?}");

        let dir = std::env::temp_dir().join(format!("liaison-man-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("liaison-run.1"), b"mine").unwrap();
        let err = write_pages(&dir).unwrap_err();
        assert!(err.contains("liaison-run.1 exists"), "{err}");
        assert_eq!(std::fs::read(dir.join("liaison-run.1")).unwrap(), b"mine");
        assert!(!dir.join("liaison.1").exists(), "half the pages written");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
