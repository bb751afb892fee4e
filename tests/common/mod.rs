//! Helpers for the integration tests: run the `liaison` binary, read reports.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The integration tests run side by side in one binary; tests that use a
/// fixed resource take its lock here and run one at a time, the rest beside
/// them. Every real SUT's fixture listens on fixed ports (fixtures/sut/*);
/// those with ports of their own need no lock.
pub fn hold(lock: &'static Mutex<()>) -> MutexGuard<'static, ()> {
    // A test that failed while holding it must not fail the next one too.
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Puts this test's thread at the lowest CPU priority (nice 19) until the
/// guard is dropped; the processes it starts meanwhile (tshark) inherit it.
/// For the CPU-bound tests (the no-panic loops, tshark's readings): beside
/// them run `liaison run`s whose reference SUT keeps 20 ms protocol timers,
/// which must get the CPU when they want it. They lose nothing: the machine
/// is theirs whenever nothing else wants it. (Linux keeps a nice value per
/// thread; libtest runs each test on a thread of its own.)
pub fn low_priority() -> LowPriority {
    // SAFETY: getpriority and setpriority touch no memory of ours; `who` 0
    // is the calling thread on Linux.
    let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    LowPriority(before)
}

/// Gives the thread its priority back (where the system lets it).
pub struct LowPriority(i32);

impl Drop for LowPriority {
    fn drop(&mut self) {
        // SAFETY: as in `low_priority`.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, self.0) };
    }
}

/// The fault-kill test keeps the CPU busy with a dozen `liaison run`s at a
/// time; the runs whose every pcap tests/it/tshark compares frame by frame
/// wait until it is done (they take [`quiet`], it takes [`flood`]), and run
/// side by side with each other. Starved, the embedded reference can send
/// a request and its retransmission 0.1 ms apart (its timer already due when
/// the first copy leaves), which the check for packets captured twice (a copy
/// within 1 ms) cannot tell from the harness writing a packet twice; and a
/// harness role's capture can order a connection's end before its last
/// reply (seen with the MM3 server and smtplib).
static FLOOD: RwLock<()> = RwLock::new(());

pub fn flood() -> RwLockWriteGuard<'static, ()> {
    FLOOD.write().unwrap_or_else(PoisonError::into_inner)
}

pub fn quiet() -> RwLockReadGuard<'static, ()> {
    FLOOD.read().unwrap_or_else(PoisonError::into_inner)
}

/// Kannel (fixtures/sut/kannel.yaml): ports 18013-18015, 18080, 18775.
pub static KANNEL: Mutex<()> = Mutex::new(());
/// The MEM server of fixtures/sut/mem-server.yaml: ports 12525, 12526.
pub static MEM_SERVER: Mutex<()> = Mutex::new(());

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_liaison")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temp folder under target/, unique per call.
pub fn tmpdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = root().join("target/test-out").join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `liaison ARGS` from the repository root.
pub fn liaison(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run liaison")
}

/// `liaison run --sut PROFILE ARGS… --out OUT` with `profile_text` written
/// to a fresh folder (named after `tag`): the output, report.json and OUT.
pub fn run_profile(
    profile_text: &str,
    args: &[&str],
    tag: &str,
) -> (Output, serde_json::Value, PathBuf) {
    let d = tmpdir(tag);
    let profile = d.join("sut.yaml");
    std::fs::write(&profile, profile_text).unwrap();
    let out = d.join("out");
    let mut all = vec!["run", "--sut", profile.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = liaison(&all);
    let r = report(&out);
    (o, r, out)
}

pub fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// The verdict of one requirement ("" when absent).
pub fn verdict(r: &serde_json::Value, id: &str) -> String {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .map(|q| q["verdict"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// IDs of requirements with the given verdict.
pub fn requirements_with(r: &serde_json::Value, verdict: &str) -> Vec<String> {
    r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["verdict"] == verdict)
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Fails (never skips) when a program the test needs is missing.
pub fn require_program(name: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not on PATH: install it (apt-get install {package}); .ci/run does. A missing tool is a failure, never a skip."
    );
}

/// Debian's python3-aiosmtpd for /usr/bin/python3 (the MEM server fixture).
pub fn require_aiosmtpd() {
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3-aiosmtpd is not installed for /usr/bin/python3: apt-get install python3-aiosmtpd; .ci/run does. A missing tool is a failure, never a skip."
    );
}

/// A seeded xorshift generator for the no-panic loops (repeatable, no rand crate).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Runs tshark; a failing tshark fails the test with its stderr.
pub fn tshark(args: &[&str]) -> String {
    let o = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        o.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A port free for both TCP and UDP on `ip` (never 2948, the WSP push port),
/// for a SUT that must be configured with a fixed address.
///
/// Ports come from 20000–32767, below Linux's ephemeral range (32768–60999):
/// there no parallel test's `bind(…:0)` or outgoing connection can take the
/// port between this probe and the SUT binding it; only another `free_port`
/// could, and it walks its own sequence (a per-process counter).
pub fn free_port(ip: &str) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    for _ in 0..2000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = 20000 + (seed.wrapping_add(n.wrapping_mul(97)) % 12768) as u16;
        if p == 2948 {
            continue;
        }
        let Ok(t) = std::net::TcpListener::bind((ip, p)) else {
            continue;
        };
        drop(t);
        if std::net::UdpSocket::bind((ip, p)).is_ok() {
            return p;
        }
    }
    panic!("no port free for TCP and UDP on {ip} in 20000-32767");
}

/// Is `name` on PATH? Where `LIAISON_CI` is set (`.ci/run` sets it), a
/// missing program fails the test like [`require_program`]; elsewhere the
/// test says clearly that it skips, and why.
pub fn program_or_skip(name: &str, package: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("LIAISON_CI").is_none(),
            "`{name}` is not on PATH in CI: .ci/run must install it (apt-get install {package})"
        );
        // Straight to stderr, past the test harness's capture: a skip is seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: `{name}` is not on PATH (apt-get install {package}; .ci/run installs it, and there the test runs)"
        );
    }
    found
}

/// A load run's load.json.
pub fn load_json(dir: &Path) -> serde_json::Value {
    let p = dir.join("load.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `liaison load --quiet --out DIR ARGS…` in a fresh folder (named after
/// `tag`): the output, load.json (Null when none was written) and DIR.
pub fn load_run(args: &[&str], tag: &str) -> (Output, serde_json::Value, PathBuf) {
    let out = tmpdir(tag);
    let mut a = vec!["load", "--quiet", "--out", out.to_str().unwrap()];
    a.extend_from_slice(args);
    let o = liaison(&a);
    let j = if out.join("load.json").is_file() {
        load_json(&out)
    } else {
        serde_json::Value::Null
    };
    (o, j, out)
}

/// A `liaison` process run to its end: how it ended, its output, how long
/// it took, its own peak memory.
pub struct Measured {
    pub code: Option<i32>,
    pub text: String,
    pub wall: std::time::Duration,
    pub peak_kb: i64,
}

/// Runs `liaison ARGS…` from the repository root, its stdout and stderr to
/// `log`, reading the child's own peak memory from /proc while it runs
/// (VmHWM of its address space). Not wait4's ru_maxrss: Linux carries the
/// peak of the address space the child was spawned from into it at exec,
/// so that figure is never below this test process's own (197 MB once many
/// tests had run in it). Killed, and the test failed, past `hang`.
pub fn liaison_measured(args: &[&str], log: &Path, hang: std::time::Duration) -> Measured {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let log_file = std::fs::File::create(log).unwrap();
    let t = Instant::now();
    let child = Command::new(bin())
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("run liaison");
    let pid = child.id() as libc::pid_t;
    let mut hwm_kb: i64 = 0;
    let status = loop {
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = st
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        {
            hwm_kb = hwm_kb.max(kb);
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child, with a pointer to a local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break status;
        }
        assert!(r == 0, "waitpid: {}", std::io::Error::last_os_error());
        if t.elapsed() > hang {
            // SAFETY: a signal to our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!(
                "liaison {} still running after {hang:?}: {}",
                args.first().copied().unwrap_or_default(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = t.elapsed();
    std::mem::forget(child); // reaped above
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        text: std::fs::read_to_string(log).unwrap_or_default(),
        wall,
        peak_kb: hwm_kb,
    }
}
