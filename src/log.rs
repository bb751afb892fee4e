//! Logging (issue 17, item 7): `-v` (info), `-vv` (debug) or `RUST_LOG`,
//! through `tracing`, to stderr and to `liaison.log` in the report folder.
//!
//! | level | what |
//! |---|---|
//! | warn (default) | nothing today: stderr is as it was without logging |
//! | info (`-v`) | run start and end, scenario selection, each scenario's start and verdict, SUT launch, readiness, exit and stop, a load run's steps |
//! | debug (`-vv`) | SIP transactions (created, each retransmission on Timer E/A, responses matched, ended on final response, Timer F/B or a transport error), server transactions (new request, answer, absorbed retransmission), routing of captured packets to scenarios' pcaps, connections opened and closed |
//!
//! `RUST_LOG` takes `tracing` target directives (`liaison::net=debug,info`):
//! `-v`/`-vv` set the level of what it does not name. No byte dumps: the
//! pcaps have the bytes.
//!
//! The file: the report folder is known only once the runner has made it,
//! so what is logged before that is kept in memory (at most
//! [`MAX_PENDING`] bytes) and written first when [`to_file`] opens the file.
//! The file stops at [`MAX_LOG_BYTES`] with a last line saying so: a
//! hostile SUT can make a debug log grow without bound. Without `-v`, `-vv`
//! or `RUST_LOG` no file is written (and the report folder is as before).
//!
//! When nothing asks for a level, the `tracing` macros cost an atomic load
//! and a compare (the global max level), nothing is formatted.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

/// The log file's name in the report folder (beside report.json, or a
/// load run's load.json).
pub const FILE_NAME: &str = "liaison.log";
/// The log file stops growing past this (64 MiB), with a last line saying so.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// What is logged before the report folder exists is kept, up to this.
pub const MAX_PENDING: usize = 1 << 20;

/// A writer that takes whole lines up to `cap` bytes, then writes one note
/// saying where it stopped and drops everything after.
#[derive(Debug)]
pub struct Capped<W> {
    out: W,
    written: u64,
    cap: u64,
    full: bool,
}

impl<W: Write> Capped<W> {
    pub fn new(out: W, cap: u64) -> Capped<W> {
        Capped {
            out,
            written: 0,
            cap,
            full: false,
        }
    }

    /// Writes `line` whole, or, if it would pass the cap, the note (once)
    /// and nothing more from then on. A line is never cut.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.full {
            return Ok(());
        }
        if self.written + line.len() as u64 > self.cap {
            self.full = true;
            let note = format!(
                "liaison: the log reached {} bytes (its cap, {}); later lines are not written\n",
                self.written, self.cap
            );
            self.out.write_all(note.as_bytes())?;
            return self.out.flush();
        }
        self.out.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }

    /// Bytes of lines written (the note not counted).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Whether the cap was reached.
    pub fn is_full(&self) -> bool {
        self.full
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Where the file layer's lines go.
enum Sink {
    /// Before the report folder is known: kept in memory (whole lines, at
    /// most [`MAX_PENDING`] bytes; past it, lines are dropped and counted).
    Pending {
        buf: Vec<u8>,
        dropped: u64,
    },
    File(Capped<std::fs::File>),
}

/// The file sink, set only when logging was asked for ([`init`]).
static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();

fn lock(m: &Mutex<Sink>) -> std::sync::MutexGuard<'_, Sink> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The `MakeWriter` of the file layer: every event's formatted line is one
/// `write` to the [`Sink`].
struct FileWriter;

struct FileLine;

impl Write for FileLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(m) = SINK.get() {
            match &mut *lock(m) {
                Sink::Pending { buf: kept, dropped } => {
                    if kept.len() + buf.len() <= MAX_PENDING {
                        kept.extend_from_slice(buf);
                    } else {
                        *dropped += 1;
                    }
                }
                // A full disk or a closed file must not stop the run.
                Sink::File(f) => {
                    let _ = f.write_line(buf);
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = FileLine;
    fn make_writer(&'a self) -> FileLine {
        FileLine
    }
}

/// The level `-v` flags ask for: none → warn, `-v` → info, `-vv` → debug,
/// more → trace.
pub fn level(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The filter for `verbose` and a `RUST_LOG` value: RUST_LOG's directives
/// for the targets it names; for the rest, the flags' level when a flag was
/// given, else RUST_LOG's bare level, else warn. An error names the
/// directive that does not parse.
pub fn filter(verbose: u8, rust_log: Option<&str>) -> Result<Targets, String> {
    let rust_log = rust_log.map(str::trim).filter(|s| !s.is_empty());
    let targets = match rust_log {
        Some(s) => s
            .parse::<Targets>()
            .map_err(|e| format!("RUST_LOG={s}: {e} (expected directives such as `debug` or `liaison::net=debug,info`)"))?,
        None => Targets::new(),
    };
    let default = if verbose > 0 {
        level(verbose)
    } else {
        targets.default_level().unwrap_or(LevelFilter::WARN)
    };
    Ok(targets.with_default(default))
}

/// Whether logging beyond warnings was asked for (a log file is written).
pub fn asked(verbose: u8, rust_log: Option<&str>) -> bool {
    verbose > 0 || rust_log.is_some_and(|s| !s.trim().is_empty())
}

/// Installs the process's logger: stderr always (warnings by default, so
/// stderr is unchanged without flags), and the log file when a level was
/// asked for. Called once, by the command line; a second call (or a
/// subscriber set by someone else) leaves the first in place. A bad
/// `RUST_LOG` is an error (exit 2).
pub fn init(verbose: u8) -> Result<(), String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(verbose, rust_log.as_deref())?;
    let to_stderr = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(io::stderr);
    let file = asked(verbose, rust_log.as_deref()).then(|| {
        let _ = SINK.set(Mutex::new(Sink::Pending {
            buf: Vec::new(),
            dropped: 0,
        }));
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(FileWriter)
    });
    let subscriber =
        tracing_subscriber::registry().with(to_stderr.and_then(file).with_filter(filter));
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// From now on the log goes (also) to `dir`/liaison.log, after what was
/// logged before. Does nothing when no level was asked for (no file is
/// made). Another call (another run in the same process) starts a new
/// file there. A file that cannot be made is said on stderr once, as a
/// warning, and the log stays on stderr.
pub fn to_file(dir: &Path) {
    let Some(m) = SINK.get() else { return };
    let path = dir.join(FILE_NAME);
    let mut sink = lock(m);
    let pending = match &mut *sink {
        Sink::Pending { buf, dropped } => Some((std::mem::take(buf), *dropped)),
        Sink::File(_) => None,
    };
    match std::fs::File::create(&path) {
        Ok(f) => {
            let mut f = Capped::new(f, MAX_LOG_BYTES);
            if let Some((buf, dropped)) = pending {
                let _ = f.write_line(&buf);
                if dropped > 0 {
                    let note = format!(
                        "liaison: {dropped} lines logged before the report folder existed were not kept (more than {MAX_PENDING} bytes)\n"
                    );
                    let _ = f.write_line(note.as_bytes());
                }
            }
            *sink = Sink::File(f);
        }
        Err(e) => {
            drop(sink);
            tracing::warn!("cannot write the log file {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_whole_lines_then_one_note() {
        let mut c = Capped::new(Vec::new(), 25);
        c.write_line(b"0123456789\n").unwrap();
        c.write_line(b"0123456789\n").unwrap();
        assert!(!c.is_full());
        // 22 + 11 > 25: not written, cut nowhere; the note instead.
        c.write_line(b"abcdefghij\n").unwrap();
        assert!(c.is_full());
        c.write_line(b"x\n").unwrap();
        c.write_line(b"y\n").unwrap();
        assert_eq!(c.written(), 22);
        let out = String::from_utf8(c.into_inner()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[..2], ["0123456789", "0123456789"]);
        assert!(
            lines[2].contains("reached 22 bytes") && lines[2].contains("cap, 25"),
            "{out}"
        );
        assert!(!out.contains("abc"), "{out}");
    }

    #[test]
    fn a_line_exactly_at_the_cap_is_written() {
        let mut c = Capped::new(Vec::new(), 4);
        c.write_line(b"abc\n").unwrap();
        assert!(!c.is_full());
        c.write_line(b"\n").unwrap();
        assert!(c.is_full());
        assert!(String::from_utf8(c.into_inner())
            .unwrap()
            .starts_with("abc\nliaison: the log reached 4 bytes"));
    }

    #[test]
    fn flags_and_rust_log_make_the_filter() {
        use tracing::Level;
        let f = filter(0, None).unwrap();
        assert!(f.would_enable("liaison::net", &Level::WARN));
        assert!(!f.would_enable("liaison::net", &Level::INFO));
        let f = filter(1, None).unwrap();
        assert!(f.would_enable("liaison::runner", &Level::INFO));
        assert!(!f.would_enable("liaison::runner", &Level::DEBUG));
        let f = filter(2, None).unwrap();
        assert!(f.would_enable("liaison::roles::transaction", &Level::DEBUG));
        assert!(!f.would_enable("liaison::roles::transaction", &Level::TRACE));
        // RUST_LOG alone: its bare level, its targets.
        let f = filter(0, Some("liaison::net=debug,info")).unwrap();
        assert!(f.would_enable("liaison::net::route", &Level::DEBUG));
        assert!(f.would_enable("liaison::runner", &Level::INFO));
        assert!(!f.would_enable("liaison::runner", &Level::DEBUG));
        // A flag sets the level of what RUST_LOG does not name.
        let f = filter(2, Some("liaison::net=warn")).unwrap();
        assert!(!f.would_enable("liaison::net", &Level::INFO));
        assert!(f.would_enable("liaison::runner", &Level::DEBUG));
        // An empty RUST_LOG is no RUST_LOG.
        assert!(!asked(0, Some("  ")));
        assert!(asked(0, Some("info")) && asked(1, None) && !asked(0, None));
        assert!(filter(0, Some("liaison=loud")).is_err());
    }
}
