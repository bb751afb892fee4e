//! Everything a launched SUT started, found and stopped: the SUT's
//! descendants, also those that left its process group or session
//! (`setsid`) or whose parent exited (daemons).
//!
//! On Linux, a process is counted as the SUT's ("attributed") when one of
//! these holds, from a snapshot of `/proc/<pid>/stat`:
//!
//! - it is the SUT (its pid with the start time recorded at launch);
//! - it is in the SUT's session or process group (the SUT is launched as the
//!   leader of a new session, so both ids are its pid) while some process
//!   already attributed is in them: a session or group id cannot be reused
//!   while a member lives, so it is the SUT's and no one else's;
//! - its parent is attributed (a `setsid` does not change the parent);
//! - it was attributed by an earlier snapshot and still has the start time
//!   recorded then (field 22 of `/proc/<pid>/stat`), so a reused pid is never
//!   taken for it;
//! - its initial environment (`/proc/<pid>/environ`) carries the variable
//!   [`MARKER`] with this launch's random value: a daemon that forked twice
//!   and whose parent exited before any snapshot saw it still has it, unless
//!   it cleared its environment or overwrote that memory (setproctitle).
//!
//! While the SUT runs, a thread follows the children of the processes
//! known every [`POLL`] (the kernel's lists of children,
//! `/proc/<pid>/task/<tid>/children`; a full snapshot where the kernel has
//! none), so a descendant whose parent exits later is still known. The full
//! snapshot, with the session, group and environment rules, is taken when
//! stopping (reading every process's stat costs milliseconds per hundred
//! processes: too much ten times a second). The liaison process
//! makes itself a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`): orphans
//! of its descendants become its children instead of init's, and it reaps
//! the attributed ones (`waitpid` on their pids only — never `waitpid(-1)`,
//! which would steal the exit status of a child other code waits for).
//!
//! Signals go through a pidfd opened before the start time is checked again,
//! so a pid reused in between is never signalled; `kill(2)` after the same
//! check where pidfds are missing (kernels before 5.3).
//!
//! Elsewhere than Linux there is no `/proc`: only the SUT and its process
//! group are signalled (see `README.md`).

/// The environment variable every launched SUT gets, with a random value per
/// launch; its descendants inherit it.
pub const MARKER: &str = "LIAISON_SUT_RUN";

/// How often the descendants are looked up while the SUT runs.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(100);

#[cfg(target_os = "linux")]
pub use linux::{prepare, Tree};

#[cfg(not(target_os = "linux"))]
pub use other::{prepare, Tree};

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::{HashMap, HashSet};
    use std::io::Read as _;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex, Once};
    use std::thread::JoinHandle;

    /// What one line of `/proc/<pid>/stat` says about a process.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Stat {
        pub state: u8,
        pub ppid: i32,
        pub pgrp: i32,
        pub session: i32,
        /// Field 22: clock ticks after boot; with the pid, names a process.
        pub start: u64,
    }

    /// Parses `/proc/<pid>/stat` (proc(5)). The command name (field 2) is in
    /// parentheses and may hold spaces and parentheses itself: the fields
    /// that follow are counted from its last `)`.
    pub(crate) fn parse_stat(text: &[u8]) -> Option<Stat> {
        let close = text.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        // f[0] is field 3 (state), so field n is f[n - 3].
        Some(Stat {
            state: *f.first()?.as_bytes().first()?,
            ppid: f.get(1)?.parse().ok()?,
            pgrp: f.get(2)?.parse().ok()?,
            session: f.get(3)?.parse().ok()?,
            start: f.get(19)?.parse().ok()?,
        })
    }

    /// Reads a small /proc file, at most `limit` bytes.
    fn read_limited(path: &str, limit: u64) -> Option<Vec<u8>> {
        let f = std::fs::File::open(path).ok()?;
        let mut buf = Vec::new();
        f.take(limit).read_to_end(&mut buf).ok()?;
        Some(buf)
    }

    pub(crate) fn stat_of(pid: i32) -> Option<Stat> {
        parse_stat(&read_limited(&format!("/proc/{pid}/stat"), 4096)?)
    }

    /// Every process now, by pid.
    fn snapshot() -> HashMap<i32, Stat> {
        let mut all = HashMap::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return all;
        };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(s) = stat_of(pid) {
                all.insert(pid, s);
            }
        }
        all
    }

    /// Does the initial environment of `pid` hold `entry` (`NAME=value`)?
    fn environ_has(pid: i32, entry: &[u8]) -> bool {
        // The environment may be as large as ARG_MAX allows; 4 MiB bounds it.
        let Some(env) = read_limited(&format!("/proc/{pid}/environ"), 4 << 20) else {
            return false;
        };
        env.split(|&b| b == 0).any(|v| v == entry)
    }

    /// The children of every thread of `pid` (`/proc/<pid>/task/<tid>/children`,
    /// a kernel with CONFIG_PROC_CHILDREN); None when the kernel has no such
    /// file.
    fn children_of(pid: i32) -> Option<Vec<i32>> {
        let mut all = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for t in tasks.flatten() {
            let tid = t.file_name();
            let path = format!("/proc/{pid}/task/{}/children", tid.to_string_lossy());
            let Some(text) = read_limited(&path, 1 << 20) else {
                if !std::path::Path::new(&path).exists() && t.path().exists() {
                    return None;
                }
                continue;
            };
            all.extend(
                String::from_utf8_lossy(&text)
                    .split_ascii_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
        Some(all)
    }

    struct State {
        /// The SUT: pid and start time.
        root: (i32, u64),
        /// `MARKER=value` of this launch.
        entry: Vec<u8>,
        /// Every process attributed so far, with its start time.
        known: HashMap<i32, u64>,
        /// Processes whose environment was read, by (pid, start): marked?
        environ: HashMap<(i32, u64), bool>,
        /// The kernel lists children (`/proc/<pid>/task/<tid>/children`).
        children_files: bool,
    }

    impl State {
        /// The look-up while the SUT runs: the processes known before, then
        /// their children, recursively, through the children files (a few
        /// reads for the SUT's own processes: a full [`scan`](Self::scan)
        /// reads every process's stat, several milliseconds per hundred
        /// processes). Gives the processes found.
        fn follow(&mut self) -> HashMap<i32, Stat> {
            if !self.children_files {
                return self.scan();
            }
            let me = std::process::id() as i32;
            let mut found: HashMap<i32, Stat> = HashMap::new();
            let mut todo: Vec<i32> = Vec::new();
            for (&pid, &start) in &self.known {
                if let Some(st) = stat_of(pid).filter(|st| st.start == start) {
                    found.insert(pid, st);
                    todo.push(pid);
                }
            }
            while let Some(p) = todo.pop() {
                for c in children_of(p).unwrap_or_default() {
                    if c == me || found.contains_key(&c) {
                        continue;
                    }
                    if let Some(st) = stat_of(c).filter(|st| st.ppid == p) {
                        found.insert(c, st);
                        todo.push(c);
                    }
                }
            }
            self.known = found.iter().map(|(&p, s)| (p, s.start)).collect();
            found
        }

        /// Takes a snapshot and gives the attributed processes alive in it
        /// (zombies included), remembering them.
        fn scan(&mut self) -> HashMap<i32, Stat> {
            let all = snapshot();
            let me = std::process::id() as i32;
            let (root, root_start) = self.root;
            let mut ours: HashSet<i32> = HashSet::new();
            for (&pid, s) in &all {
                if pid == me || (s.ppid == 0 && pid <= 2) {
                    continue;
                }
                let same = |start: Option<&u64>| start == Some(&s.start);
                let marked = *self
                    .environ
                    .entry((pid, s.start))
                    .or_insert_with(|| environ_has(pid, &self.entry));
                if (pid == root && s.start == root_start) || same(self.known.get(&pid)) || marked {
                    ours.insert(pid);
                }
            }
            let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
            for (&pid, s) in &all {
                children.entry(s.ppid).or_default().push(pid);
            }
            loop {
                let before = ours.len();
                // Their descendants.
                let mut todo: Vec<i32> = ours.iter().copied().collect();
                while let Some(p) = todo.pop() {
                    for &c in children.get(&p).into_iter().flatten() {
                        if c != me && ours.insert(c) {
                            todo.push(c);
                        }
                    }
                }
                // The SUT's session and group, while a member is attributed.
                let session = ours.iter().any(|p| all[p].session == root);
                let group = ours.iter().any(|p| all[p].pgrp == root);
                for (&pid, s) in &all {
                    if pid != me && ((session && s.session == root) || (group && s.pgrp == root)) {
                        ours.insert(pid);
                    }
                }
                if ours.len() == before {
                    break;
                }
            }
            let found: HashMap<i32, Stat> = ours.into_iter().map(|p| (p, all[&p])).collect();
            self.known = found.iter().map(|(&p, s)| (p, s.start)).collect();
            self.environ
                .retain(|(p, start), _| all.get(p).is_some_and(|s| s.start == *start));
            found
        }
    }

    /// Sends `sig` to the process `pid` if it still has start time `start`.
    fn signal(pid: i32, start: u64, sig: i32) {
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new file
        // descriptor or -1; no memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        if stat_of(pid).map(|s| s.start) != Some(start) {
            if fd >= 0 {
                // SAFETY: fd is ours, opened above.
                unsafe { libc::close(fd) };
            }
            return;
        }
        if fd >= 0 {
            // The pidfd names the process that had `start` when it was
            // checked after opening: a pid reused since is not signalled.
            // SAFETY: pidfd_send_signal(2) with a null siginfo; fd is ours.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd,
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
                libc::close(fd);
            }
        } else {
            // SAFETY: kill(2) on one pid; no memory is shared.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// To be called before a SUT is spawned: a SUT's child whose parent
    /// exits at once (a daemon's double fork) is orphaned within
    /// milliseconds of the start, and only a subreaper already in place
    /// gets it back (else it goes to init, out of reach: seen as a flaky
    /// tests/sut_processes.rs when this ran after the spawn).
    pub fn prepare() {
        become_subreaper();
    }

    /// Makes this process a child subreaper, once.
    fn become_subreaper() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: prctl(2) PR_SET_CHILD_SUBREAPER takes an integer flag.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        });
    }

    /// The processes of one launched SUT.
    pub struct Tree {
        state: Arc<Mutex<State>>,
        stop: Option<mpsc::Sender<()>>,
        poller: Option<JoinHandle<()>>,
    }

    impl Tree {
        /// Starts tracking the SUT `root`, just launched with `MARKER=value`.
        pub fn new(root: u32, value: &str) -> Tree {
            become_subreaper();
            let root = root as i32;
            let start = stat_of(root).map(|s| s.start).unwrap_or(0);
            let state = Arc::new(Mutex::new(State {
                root: (root, start),
                entry: format!("{}={value}", super::MARKER).into_bytes(),
                known: HashMap::from([(root, start)]),
                environ: HashMap::new(),
                children_files: children_of(root).is_some(),
            }));
            let (tx, rx) = mpsc::channel::<()>();
            let st = state.clone();
            let poller = std::thread::Builder::new()
                .name("sut-descendants".into())
                .spawn(move || loop {
                    match rx.recv_timeout(super::POLL) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
                            let found = s.follow();
                            reap(&found, s.root.0);
                        }
                        _ => return,
                    }
                })
                .ok();
            Tree {
                state,
                stop: Some(tx),
                poller,
            }
        }

        /// Sends `sig` to every attributed process but the SUT itself (whose
        /// owner signals it); reaps the attributed zombies that are this
        /// process's children. Gives how many attributed processes are
        /// left that someone has to wait for: alive, or zombies of this
        /// process or of an attributed one.
        pub fn signal_all(&self, sig: Option<i32>) -> usize {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let root = s.root;
            let found = s.scan();
            if let Some(sig) = sig {
                for (&pid, st) in &found {
                    if pid != root.0 && st.state != b'Z' {
                        signal(pid, st.start, sig);
                    }
                }
            }
            reap(&found, root.0);
            let me = std::process::id() as i32;
            found
                .iter()
                .filter(|&(&pid, st)| {
                    pid != root.0
                        && (st.state != b'Z' || st.ppid == me || found.contains_key(&st.ppid))
                })
                .count()
        }
    }

    /// `waitpid` on each attributed zombie that is a child of this process,
    /// the SUT excepted (its `Child` reaps it); by pid, never -1.
    fn reap(found: &HashMap<i32, Stat>, root: i32) {
        let me = std::process::id() as i32;
        for (&pid, st) in found {
            if pid != root && st.state == b'Z' && st.ppid == me {
                let mut status = 0;
                // SAFETY: waitpid(2) on one pid, WNOHANG; status is a local.
                unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            }
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            drop(self.stop.take());
            if let Some(h) = self.poller.take() {
                let _ = h.join();
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_fields_are_counted_from_the_last_parenthesis() {
            let line = b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n";
            let s = parse_stat(line).unwrap();
            assert_eq!(
                s,
                Stat {
                    state: b'S',
                    ppid: 17,
                    pgrp: 4242,
                    session: 4242,
                    start: 987654
                }
            );
            assert_eq!(parse_stat(b"12 (x) S 1 2"), None);
            assert_eq!(parse_stat(b"no parenthesis"), None);
        }

        #[test]
        fn our_own_stat_parses() {
            let me = std::process::id() as i32;
            let s = stat_of(me).unwrap();
            assert!(s.start > 0);
            // SAFETY: getppid(2) has no arguments.
            assert_eq!(s.ppid, unsafe { libc::getppid() });
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    /// Without /proc: nothing beyond the SUT and its process group.
    pub struct Tree;

    /// Nothing to prepare.
    pub fn prepare() {}

    impl Tree {
        pub fn new(_root: u32, _value: &str) -> Tree {
            Tree
        }

        pub fn signal_all(&self, _sig: Option<i32>) -> usize {
            0
        }
    }
}
