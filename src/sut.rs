//! Launching a real SUT from its profile: start it (leader of a new
//! session and process group, stdin closed, stdout/stderr into the report
//! folder), wait for its readiness probe (bounded), and stop it at the end —
//! SIGTERM to it and everything it started ([`reap`]), then SIGKILL, and
//! the zombies reaped — also when the run fails or is interrupted (Drop).

mod reap;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::process::{Child, Command};

use crate::codec::sip::{request, token, SipMessage};
use crate::profile::{Launch, Profile};

pub use reap::MARKER;

/// Why a launched SUT is not there: what the run reports (exit 2 before the
/// first scenario, a run-level event during the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SutGone {
    /// One line: what happened.
    pub message: String,
    /// Its exit status as the OS gave it, when it exited.
    pub status: Option<String>,
    /// The last lines of its stderr (at most [`TAIL_LINES`]).
    pub stderr_tail: Vec<String>,
}

/// How many lines of a dead SUT's stderr the report keeps.
pub const TAIL_LINES: usize = 20;

/// A launched SUT.
pub struct SutProcess {
    child: Option<Child>,
    pgid: Option<i32>,
    /// Its descendants (None once stopped).
    tree: Option<reap::Tree>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    _workdir: PathBuf,
}

const SIGTERM: i32 = libc::SIGTERM;
const SIGKILL: i32 = libc::SIGKILL;

/// How long a SUT and its descendants get to exit after SIGTERM in
/// [`SutProcess::stop`] before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long [`SutProcess::stop`] then waits for the SIGKILLed to be gone.
const KILL_WAIT: Duration = Duration::from_secs(1);
/// Between two look-ups for what is left when stopping (each reads every
/// process's /proc stat: milliseconds).
const STEP: Duration = Duration::from_millis(50);

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Has the SUT itself exited (and been reaped by its `Child`)?
fn reaped(c: &mut Child) -> bool {
    !matches!(c.try_wait(), Ok(None))
}

impl SutProcess {
    /// Starts the SUT and waits until it is ready. Errors are one line (exit
    /// 2); a SUT that exits or never gets ready comes back as [`SutGone`].
    pub async fn start(
        l: &Launch,
        profile: &Profile,
        out_dir: &Path,
        registered: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<SutProcess, SutGone> {
        let gone = |message: String| SutGone {
            message,
            status: None,
            stderr_tail: Vec::new(),
        };
        let marker = token();
        let stdout = out_dir.join("sut-stdout.log");
        let stderr = out_dir.join("sut-stderr.log");
        let workdir = out_dir.join("sut-workdir");
        std::fs::create_dir_all(&workdir)
            .map_err(|e| gone(format!("cannot create {}: {e}", workdir.display())))?;
        let open = |p: &Path| {
            std::fs::File::create(p)
                .map_err(|e| gone(format!("cannot create {}: {e}", p.display())))
        };
        // The fixtures' relative paths, found from the profile's folder when
        // the suite runs elsewhere (Launch::resolve: installed fixtures).
        let (program, cwd) = l.resolve(Path::new(&profile.path));
        let mut cmd = Command::new(&program);
        cmd.args(&l.command[1..])
            .stdin(Stdio::null())
            .stdout(open(&stdout)?)
            .stderr(open(&stderr)?)
            .env(
                "LIAISON_SUT_DIR",
                std::fs::canonicalize(&workdir).unwrap_or(workdir.clone()),
            )
            .envs(&l.env)
            .env(MARKER, &marker)
            .kill_on_drop(true);
        // SAFETY: between fork and exec the closure only calls setsid(2),
        // which is async-signal-safe. A new session (and group) whose id is
        // the SUT's pid: every descendant that does not call setsid itself
        // stays in it, and the terminal's Ctrl-C reaches liaison alone.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        if let Some(cwd) = &cwd {
            cmd.current_dir(cwd);
        }
        reap::prepare();
        let child = cmd.spawn().map_err(|e| {
            gone(format!(
                "profile {}: launch.command: cannot start `{}` ({e})",
                profile.path, l.command[0]
            ))
        })?;
        let pgid = child.id().map(|p| p as i32);
        tracing::info!(
            sut = %profile.name,
            command = %l.command.join(" "),
            pid = child.id().unwrap_or(0),
            stderr = %stderr.display(),
            "SUT launched"
        );
        let tree = child.id().map(|p| reap::Tree::new(p, &marker));
        let mut me = SutProcess {
            child: Some(child),
            pgid,
            tree,
            stdout,
            stderr,
            _workdir: workdir,
        };
        if let Some(r) = &l.ready {
            let limit = Duration::from_secs(r.timeout_s.unwrap_or(10));
            let asked = Instant::now();
            let until = asked + limit;
            let mut probes = 0u32;
            loop {
                if let Some(c) = me.child.as_mut()
                    && let Ok(Some(status)) = c.try_wait()
                {
                    tracing::info!(sut = %profile.name, %status, "SUT exited before it was ready");
                    me.stop().await;
                    let stderr_tail = me.stderr_tail();
                    return Err(SutGone {
                        message: format!(
                            "SUT `{}` exited before it was ready ({status}); stderr: {}",
                            profile.name,
                            one_line(&stderr_tail)
                        ),
                        status: Some(status.to_string()),
                        stderr_tail,
                    });
                }
                // Both probes when both are given (a SUT whose TLS or
                // HTTP listener comes up after its SIP one).
                let ok = match r.sip_options {
                    Some(a) => probe_sip(profile.harness_ip, a).await,
                    None => true,
                } && match r.tcp {
                    Some(a) => TcpStream::connect(a).await.is_ok(),
                    None => true,
                } && (r.registered != Some(true) || registered());
                probes += 1;
                if ok {
                    tracing::info!(
                        sut = %profile.name,
                        probes,
                        after_ms = asked.elapsed().as_millis() as u64,
                        "SUT ready"
                    );
                    break;
                }
                tracing::debug!(sut = %profile.name, probes, "SUT readiness probe: not yet");
                if Instant::now() >= until {
                    tracing::info!(sut = %profile.name, probes, limit_s = limit.as_secs(), "SUT not ready in time");
                    me.stop().await;
                    let stderr_tail = me.stderr_tail();
                    return Err(SutGone {
                        message: format!(
                            "SUT `{}` unreachable: {} within {} s; stderr: {}",
                            profile.name,
                            if r.registered == Some(true)
                                && r.sip_options.is_none()
                                && r.tcp.is_none()
                            {
                                "it did not register through the harness IMS core"
                            } else {
                                "its readiness probe did not answer"
                            },
                            limit.as_secs(),
                            one_line(&stderr_tail)
                        ),
                        status: None,
                        stderr_tail,
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(me)
    }

    /// Waits until the SUT exits on its own and gives its exit status; never
    /// returns for a SUT already stopped (so it can sit in a `select!`
    /// beside the run).
    pub async fn exited(&mut self) -> String {
        match self.child.as_mut() {
            Some(c) => {
                let status = match c.wait().await {
                    Ok(status) => status.to_string(),
                    Err(e) => format!("status unknown ({e})"),
                };
                tracing::info!(%status, "SUT exited on its own");
                status
            }
            None => std::future::pending().await,
        }
    }

    /// Has the SUT exited already? Its status if so.
    pub fn has_exited(&mut self) -> Option<String> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The last lines of its stderr log (at most [`TAIL_LINES`], each at
    /// most 300 characters).
    pub fn stderr_tail(&self) -> Vec<String> {
        tail_lines(&self.stderr, TAIL_LINES)
    }

    /// Stops the SUT and everything it started: SIGTERM to its group and
    /// every descendant ([`reap`]), SIGKILL to those left after
    /// [`STOP_GRACE`], and the zombies reaped.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let tree = self.tree.take();
        let left = |sig| tree.as_ref().map_or(0, |t| t.signal_all(sig));
        let asked = Instant::now();
        if !reaped(&mut child)
            && let Some(g) = self.pgid
        {
            signal_group(g, SIGTERM);
        }
        let mut n = left(Some(SIGTERM));
        tracing::debug!(
            pgid = self.pgid.unwrap_or(0),
            descendants = n,
            "SUT stop: SIGTERM sent"
        );
        let until = Instant::now() + STOP_GRACE;
        while !(reaped(&mut child) && n == 0) && Instant::now() < until {
            tokio::time::sleep(STEP).await;
            n = left(None);
        }
        if reaped(&mut child) && n == 0 {
            tracing::info!(
                after_ms = asked.elapsed().as_millis() as u64,
                "SUT stopped (SIGTERM)"
            );
            return;
        }
        tracing::info!(
            grace_ms = STOP_GRACE.as_millis() as u64,
            left = n,
            "SUT stop: still there after SIGTERM, SIGKILL"
        );
        if !reaped(&mut child)
            && let Some(g) = self.pgid
        {
            signal_group(g, SIGKILL);
        }
        let _ = tokio::time::timeout(KILL_WAIT, child.kill()).await;
        let until = Instant::now() + KILL_WAIT;
        while left(Some(SIGKILL)) > 0 && Instant::now() < until {
            tokio::time::sleep(STEP).await;
        }
    }

    /// [`stop`](Self::stop) without a runtime (Drop): 200 ms of grace, then
    /// SIGKILL, and up to 500 ms for the zombies.
    fn stop_now(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let tree = self.tree.take();
        let left = |sig| tree.as_ref().map_or(0, |t| t.signal_all(sig));
        if !reaped(&mut child)
            && let Some(g) = self.pgid
        {
            signal_group(g, SIGTERM);
        }
        let mut n = left(Some(SIGTERM));
        let until = Instant::now() + Duration::from_millis(200);
        while !(reaped(&mut child) && n == 0) && Instant::now() < until {
            std::thread::sleep(STEP);
            n = left(None);
        }
        if !reaped(&mut child) {
            if let Some(g) = self.pgid {
                signal_group(g, SIGKILL);
            }
            let _ = child.start_kill();
        }
        let until = Instant::now() + Duration::from_millis(500);
        while !(reaped(&mut child) && left(Some(SIGKILL)) == 0) && Instant::now() < until {
            std::thread::sleep(STEP);
        }
    }
}

impl Drop for SutProcess {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Before the first scenario, for a SUT the harness did not launch: is
/// anything there at the addresses the profile says it listens on? A TCP
/// connect refused or unanswered, or an OPTIONS over UDP answered by ICMP
/// port unreachable (which the OS reports on a connected socket), means
/// nothing is: the error names the address. A UDP address that stays silent
/// cannot be told apart from a live SUT that ignores OPTIONS, so it passes
/// here and the scenarios judge it.
pub async fn check_reachable(profile: &Profile) -> Result<(), String> {
    use crate::net::Transport;
    let url = |u: &str| -> Option<std::net::SocketAddr> {
        let rest = u.split_once("://").map(|x| x.1).unwrap_or(u);
        rest.split('/').next()?.parse().ok()
    };
    let mut tcp: Vec<(&str, std::net::SocketAddr)> = Vec::new();
    let mut udp: Vec<(&str, std::net::SocketAddr)> = Vec::new();
    if let Some((sip, address)) = profile.sip.as_ref().and_then(|s| Some((s, s.address?))) {
        if sip.transports.contains(&Transport::Tcp) {
            tcp.push(("sip.address", address));
        }
        if sip.transports.contains(&Transport::Udp) {
            udp.push(("sip.address", address));
        }
    }
    if let Some((a, _)) = profile.sip.as_ref().and_then(|s| s.ws_parts()) {
        tcp.push(("sip.ws", a));
    }
    if let Some(a) = profile.msrp.as_ref().map(|m| m.address) {
        tcp.push(("msrp.address", a));
    }
    if let Some(a) = profile.ppg.as_ref().and_then(|p| url(&p.url)) {
        tcp.push(("ppg.url", a));
    }
    if let Some(m) = &profile.mms_relay {
        if let Some(a) = url(&m.mm1_url) {
            tcp.push(("mms_relay.mm1_url", a));
        }
        if let Some(a) = m.mm1_https_url.as_deref().and_then(url) {
            tcp.push(("mms_relay.mm1_https_url", a));
        }
        if let Some(a) = m.mm3 {
            tcp.push(("mms_relay.mm3", a));
        }
    }
    if let Some(a) = profile.mem_server.as_ref().and_then(|m| m.inbox) {
        tcp.push(("mem_server.inbox", a));
    }
    if let Some(a) = profile.mms_client.as_ref().and_then(|m| m.sip_push) {
        udp.push(("mms_client.sip_push", a));
    }
    let limit = Duration::from_secs(profile.scenario_timeout_s.clamp(1, 2));
    for (field, a) in tcp {
        tracing::debug!(%field, %a, "SUT reachability: TCP connect");
        match tokio::time::timeout(limit, TcpStream::connect(a)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "SUT `{}` unreachable before the first scenario: {field} {a} (TCP): {e}",
                    profile.name
                ))
            }
            Err(_) => {
                return Err(format!(
                    "SUT `{}` unreachable before the first scenario: {field} {a} (TCP): no connection within {} s",
                    profile.name,
                    limit.as_secs()
                ))
            }
        }
    }
    // A SUT that answers does so within a few T1 on loopback.
    let wait = Duration::from_millis((4 * profile.t1_ms).clamp(200, 2000));
    for (field, a) in udp {
        tracing::debug!(%field, %a, "SUT reachability: OPTIONS over UDP");
        if probe_udp_refused(profile.harness_ip, a, wait).await {
            return Err(format!(
                "SUT `{}` unreachable before the first scenario: {field} {a} (UDP): an OPTIONS got ICMP port unreachable (nothing listens there)",
                profile.name
            ));
        }
    }
    Ok(())
}

/// Port 0 on the harness's address (`harness.address`, the interface a
/// lab network's SUT is reached through), or on the loopback address of
/// `addr`'s family when the harness's is of the other family, to probe
/// `addr` from.
fn probe_from(harness: std::net::IpAddr, addr: std::net::SocketAddr) -> std::net::SocketAddr {
    let ip: std::net::IpAddr = if harness.is_ipv6() == addr.is_ipv6() {
        harness
    } else if addr.is_ipv6() {
        std::net::Ipv6Addr::LOCALHOST.into()
    } else {
        std::net::Ipv4Addr::LOCALHOST.into()
    };
    std::net::SocketAddr::new(ip, 0)
}

/// One OPTIONS over a connected UDP socket: true when the OS reports the
/// port unreachable before an answer or the end of `wait`.
async fn probe_udp_refused(
    from: std::net::IpAddr,
    addr: std::net::SocketAddr,
    wait: Duration,
) -> bool {
    let Ok(sock) = UdpSocket::bind(probe_from(from, addr)).await else {
        return false;
    };
    if sock.connect(addr).await.is_err() {
        return false;
    }
    let Ok(local) = sock.local_addr() else {
        return false;
    };
    let req = options(addr, local);
    match sock.send(&req).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
        Err(_) => return false,
        Ok(_) => {}
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        // An answer, or silence.
        _ => false,
    }
}

/// An OPTIONS from `local` to `addr`.
fn options(addr: std::net::SocketAddr, local: std::net::SocketAddr) -> Vec<u8> {
    let branch = format!("z9hG4bK{}", token());
    request("OPTIONS", &format!("sip:{addr}"))
        .header("Via", &format!("SIP/2.0/UDP {local};branch={branch};rport"))
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:probe@{local}>;tag={}", token()))
        .header("To", &format!("<sip:{addr}>"))
        .header("Call-ID", &format!("{}@liaison-probe", token()))
        .header("CSeq", "1 OPTIONS")
        .build()
}

/// One OPTIONS over UDP; any SIP response within 300 ms means ready.
async fn probe_sip(from: std::net::IpAddr, addr: std::net::SocketAddr) -> bool {
    let Ok(sock) = UdpSocket::bind(probe_from(from, addr)).await else {
        return false;
    };
    let Ok(local) = sock.local_addr() else {
        return false;
    };
    let req = options(addr, local);
    if sock.send_to(&req, addr).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => SipMessage::parse(&buf[..n]).is_ok_and(|m| m.status().is_some()),
        _ => false,
    }
}

/// The last `n` lines of a log, read from its last 64 KiB (a SUT's log
/// may be large), each cut to 300 characters.
pub fn tail_lines(p: &Path, n: usize) -> Vec<String> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut f) = std::fs::File::open(p) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(from)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text
        .lines()
        .skip(usize::from(from > 0))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut t: String = l.chars().take(300).collect();
            if l.chars().count() > 300 {
                t.push('…');
            }
            t
        })
        .collect();
    let cut = lines.len().saturating_sub(n);
    lines.drain(..cut);
    lines
}

/// The last three lines joined for a one-line message.
pub fn one_line(tail: &[String]) -> String {
    let t = tail[tail.len().saturating_sub(3)..].join(" | ");
    if t.is_empty() {
        "(empty)".into()
    } else {
        t
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// "PID START" of each escapee of fixtures/hostile/escapes.sh, once all
    /// five have written theirs and the last one's parent has exited (at
    /// most 5 s).
    async fn escapees(dir: &Path) -> Vec<(i32, u64)> {
        let names = ["setsid", "daemon", "bare", "group", "late"];
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let read: Vec<Option<(i32, u64)>> = names
                .iter()
                .map(|n| {
                    let t = std::fs::read_to_string(dir.join(format!("{n}.pid"))).ok()?;
                    let mut it = t.split_whitespace();
                    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
                })
                .collect();
            if read.iter().all(Option::is_some) && dir.join("late.orphaned").exists() {
                return read.into_iter().flatten().collect();
            }
            assert!(Instant::now() < until, "the escapees did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What /proc says of a process that had `start`: None when it is gone
    /// (a zombie is not gone: it is reported with state Z).
    fn still_there(pid: i32, start: u64) -> Option<char> {
        reap_stat(pid).filter(|s| s.1 == start).map(|s| s.0)
    }

    fn reap_stat(pid: i32) -> Option<(char, u64)> {
        let t = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let f: Vec<&str> = t[t.rfind(')')? + 1..].split_whitespace().collect();
        Some((f.first()?.chars().next()?, f.get(19)?.parse().ok()?))
    }

    async fn launched(tag: &str) -> (SutProcess, PathBuf) {
        let out = std::env::temp_dir().join(format!("liaison-sut-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let profile = Profile::parse(
            &format!(
                "name: escapes\nroles: [im-client]\nsip: {{ address: 127.0.0.1:5999, aor: \"sip:b@x\" }}\nlaunch:\n  command: [/bin/sh, {root}/fixtures/hostile/escapes.sh, /usr/bin/sleep, \"300\"]\n"
            ),
            "escapes.yaml",
        )
        .unwrap();
        let l = profile.launch.clone().unwrap();
        let p = SutProcess::start(&l, &profile, &out, &|| true)
            .await
            .unwrap_or_else(|g| panic!("{g:?}"));
        (p, out)
    }

    /// Stop (and Drop) leave none of the SUT's descendants, not even a
    /// zombie of this process, and spare a process the SUT did not start.
    #[tokio::test]
    async fn stop_leaves_no_descendant_and_no_zombie() {
        for by_drop in [false, true] {
            let mut bystander = std::process::Command::new("/usr/bin/sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let (mut p, out) = launched(if by_drop { "drop" } else { "stop" }).await;
            let pids = escapees(&out.join("sut-workdir")).await;
            for &(pid, start) in &pids {
                assert_eq!(still_there(pid, start), Some('S'), "escapee {pid} runs");
            }
            // The last one is in a session of its own, an orphan of this
            // (subreaper) process, without the marker: only the record of
            // it, made while its parent lived, ties it to the SUT.
            let late = pids[4].0;
            let t = std::fs::read_to_string(format!("/proc/{late}/stat")).unwrap();
            let f: Vec<&str> = t[t.rfind(')').unwrap() + 1..].split_whitespace().collect();
            assert_eq!(f[1], std::process::id().to_string(), "late's parent: {t}");
            assert_eq!(f[3], late.to_string(), "late leads its session: {t}");
            let env = std::fs::read(format!("/proc/{late}/environ")).unwrap();
            assert!(!String::from_utf8_lossy(&env).contains(MARKER));
            let t = Instant::now();
            if by_drop {
                drop(p);
            } else {
                p.stop().await;
            }
            let took = t.elapsed();
            let left: Vec<(i32, char)> = pids
                .iter()
                .filter_map(|&(pid, start)| still_there(pid, start).map(|s| (pid, s)))
                .collect();
            for &(pid, _) in &left {
                // SAFETY: kill(2) on one pid; a failing test leaves nothing.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let spared = bystander.try_wait().unwrap().is_none();
            let _ = bystander.kill();
            let _ = bystander.wait();
            assert!(
                left.is_empty(),
                "drop {by_drop}: expected no descendant of the SUT left, not even a zombie; came: {left:?}"
            );
            assert!(
                spared,
                "drop {by_drop}: a process the SUT did not start was signalled"
            );
            // SIGTERM ends them all: no need for the SIGKILL grace.
            assert!(
                took < Duration::from_secs(1),
                "drop {by_drop}: stop took {took:?}"
            );
            let _ = std::fs::remove_dir_all(&out);
        }
    }
}
