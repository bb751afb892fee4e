//! Launching a real SUT from its profile: start it (own process group,
//! stdin closed, stdout/stderr into the report folder), wait for its
//! readiness probe (bounded), and stop it at the end — SIGTERM to the group,
//! then SIGKILL — also when the run fails or is interrupted (Drop).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::process::{Child, Command};

use crate::codec::sip::{request, token, SipMessage};
use crate::profile::{Launch, Profile};

/// A launched SUT.
pub struct SutProcess {
    child: Option<Child>,
    pgid: Option<i32>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    _workdir: PathBuf,
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
        unsafe {
            kill(-pgid, sig);
        }
    }
}

impl SutProcess {
    /// Starts the SUT and waits until it is ready. Errors are one line (exit 2).
    pub async fn start(
        l: &Launch,
        profile: &Profile,
        out_dir: &Path,
    ) -> Result<SutProcess, String> {
        let stdout = out_dir.join("sut-stdout.log");
        let stderr = out_dir.join("sut-stderr.log");
        let workdir = out_dir.join("sut-workdir");
        std::fs::create_dir_all(&workdir)
            .map_err(|e| format!("cannot create {}: {e}", workdir.display()))?;
        let open = |p: &Path| {
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
        };
        let mut cmd = Command::new(&l.command[0]);
        cmd.args(&l.command[1..])
            .stdin(Stdio::null())
            .stdout(open(&stdout)?)
            .stderr(open(&stderr)?)
            .env(
                "LIAISON_SUT_DIR",
                std::fs::canonicalize(&workdir).unwrap_or(workdir.clone()),
            )
            .envs(&l.env)
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &l.cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd.spawn().map_err(|e| {
            format!(
                "profile {}: launch.command: cannot start `{}` ({e})",
                profile.path, l.command[0]
            )
        })?;
        let pgid = child.id().map(|p| p as i32);
        let mut me = SutProcess {
            child: Some(child),
            pgid,
            stdout,
            stderr,
            _workdir: workdir,
        };
        if let Some(r) = &l.ready {
            let limit = Duration::from_secs(r.timeout_s.unwrap_or(10));
            let until = Instant::now() + limit;
            loop {
                if let Some(c) = me.child.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        let tail = tail(&me.stderr);
                        me.stop().await;
                        return Err(format!(
                            "SUT `{}` exited before it was ready ({status}); stderr: {tail}",
                            profile.name
                        ));
                    }
                }
                let ok = match (r.sip_options, r.tcp) {
                    (Some(a), _) => probe_sip(a).await,
                    (None, Some(a)) => TcpStream::connect(a).await.is_ok(),
                    _ => true,
                };
                if ok {
                    break;
                }
                if Instant::now() >= until {
                    let tail = tail(&me.stderr);
                    me.stop().await;
                    return Err(format!(
                        "SUT `{}` unreachable: its readiness probe did not answer within {} s; stderr: {tail}",
                        profile.name,
                        limit.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(me)
    }

    /// Stops the SUT: SIGTERM to its group, SIGKILL after 3 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(g) = self.pgid {
            signal_group(g, SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_err()
        {
            if let Some(g) = self.pgid {
                signal_group(g, SIGKILL);
            }
            let _ = child.kill().await;
        }
        // Children that outlived the leader.
        if let Some(g) = self.pgid {
            signal_group(g, SIGKILL);
        }
    }
}

impl Drop for SutProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            if let Some(g) = self.pgid {
                signal_group(g, SIGTERM);
                std::thread::sleep(Duration::from_millis(200));
                signal_group(g, SIGKILL);
            }
        }
    }
}

/// One OPTIONS over UDP; any SIP response within 300 ms means ready.
async fn probe_sip(addr: std::net::SocketAddr) -> bool {
    let bind: std::net::SocketAddr = if addr.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .expect("literal");
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return false;
    };
    let Ok(local) = sock.local_addr() else {
        return false;
    };
    let branch = format!("z9hG4bK{}", token());
    let req = request("OPTIONS", &format!("sip:{addr}"))
        .header("Via", &format!("SIP/2.0/UDP {local};branch={branch};rport"))
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:probe@{local}>;tag={}", token()))
        .header("To", &format!("<sip:{addr}>"))
        .header("Call-ID", &format!("{}@liaison-probe", token()))
        .header("CSeq", "1 OPTIONS")
        .build();
    if sock.send_to(&req, addr).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_millis(300), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => SipMessage::parse(&buf[..n]).is_ok_and(|m| m.status().is_some()),
        _ => false,
    }
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let last: Vec<&str> = s.lines().rev().take(3).collect();
    let t = last.into_iter().rev().collect::<Vec<_>>().join(" | ");
    if t.is_empty() {
        "(empty)".into()
    } else {
        t
    }
}
