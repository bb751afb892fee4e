//! `liaison completions SHELL`: the shell completion script on stdout
//! (clap_complete), for bash, zsh and fish. The Debian package ships the three
//! (packaging/deb.sh); a user of `cargo install` writes the one they need:
//! `liaison completions bash > ~/.local/share/bash-completion/completions/liaison`.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, EXIT_PASS, EXIT_USAGE};

/// `liaison completions`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells a completion script is written for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl CompletionShell {
    fn generator(self) -> Shell {
        match self {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// The completion script for `shell`, as bytes.
pub fn script(shell: CompletionShell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell.generator(), &mut Cli::command(), "liaison", &mut buf);
    buf
}

pub fn cmd(a: CompletionsArgs) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(&script(a.shell)).and_then(|()| out.flush()) {
        Ok(()) => EXIT_PASS,
        Err(e) => {
            eprintln!("liaison: cannot write the completion script to stdout: {e}");
            EXIT_USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_completes_the_subcommands() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let s = String::from_utf8(script(shell)).unwrap();
            for sub in ["run", "list", "reference", "load", "report", "completions"] {
                assert!(s.contains(sub), "{shell:?} script lacks {sub}");
            }
            // The hidden `man` command is not offered.
            assert!(!s.contains("man pages"), "{shell:?} offers the hidden man");
        }
    }
}
