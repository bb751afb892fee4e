//! `liaison load` against SUTs that flood (issue 16, bad input): test code
//! plays the SUT (im-client, im-server, sms-im-iwf, ppg) over loopback
//! sockets, pointed at by a profile with no `launch:` (an already-running
//! SUT). Each run must end in bounded time,
//! write its load.json with the flood counted where it belongs, keep its
//! findings capped and its memory flat. (Stalls and garbage at rate are
//! tests/it/load.rs's `conformance_faults_show_as_their_integrity_counters_under_load`.)

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{free_port, liaison_measured, low_priority, tmpdir};

/// Each run ends within this: its nominal time is at most about 3 s (0.3 s
/// of sending, a deadline of 1.3 to 1.9 s, the linger or at most four of
/// it); the rest is start-up and the flood sharing two cores with it.
const BOUND: Duration = Duration::from_secs(8);
/// A run that takes this long hangs: it is killed and the test fails.
const HANG: Duration = Duration::from_secs(40);
/// The harness's peak resident memory, at most: a clean debug-build run of
/// the same size peaks at about 22 MB (`a_well_behaved_sut_passes_the_same_load`);
/// a UDP flood fills the capture ring too (`--capture ring:64`, the
/// default), about 90 MB at most.
const PEAK_RSS_KB: i64 = 150 * 1024;

/// One `liaison load` run: how it ended, how long it took, its peak memory.
struct Ran {
    code: Option<i32>,
    text: String,
    wall: Duration,
    peak_kb: i64,
    json: serde_json::Value,
}

impl Ran {
    fn n(&self, k: &str) -> u64 {
        self.json[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {}", self.json))
    }

    /// Each kind of finding is kept at most ten times (ledger::FINDINGS_PER_KIND).
    fn assert_findings_capped(&self) {
        let findings = self.json["findings"].as_array().expect("findings");
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for f in findings {
            *kinds
                .entry(f["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        assert!(kinds.values().all(|&n| n <= 10), "{kinds:?}");
        assert!(findings.len() <= 60, "{} findings", findings.len());
    }
}

/// `liaison load --sut PROFILE ARGS…`, measured ([`liaison_measured`]: its
/// own peak memory); killed (and the test failed) past [`HANG`].
fn load(dir: &Path, profile: &str, args: &[&str]) -> Ran {
    let p = dir.join("sut.yaml");
    std::fs::write(&p, profile).unwrap();
    let out = dir.join("out");
    let mut all = vec![
        "load",
        "--quiet",
        "--sut",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let m = liaison_measured(&all, &dir.join("log.txt"), HANG);
    let json = std::fs::read_to_string(out.join("load.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    Ran {
        code: m.code,
        text: m.text,
        wall: m.wall,
        peak_kb: m.peak_kb,
        json,
    }
}

fn sip_profile(addr: SocketAddr) -> String {
    format!(
        "name: a hostile im-client (test code)\n\
         roles: [im-client]\n\
         sip:\n  address: {addr}\n  transport: [udp]\n  aor: \"sip:load@{addr}\"\n\
         harness: {{ address: 127.0.0.1 }}\n"
    )
}

/// A SIP SUT played by a thread until it is stopped.
struct Hostile {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Datagrams it sent.
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    fn start(run: impl FnOnce(UdpSocket, &AtomicBool, &AtomicU64) + Send + 'static) -> Hostile {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let _nice = low_priority();
            run(sock, &s, &n)
        });
        Hostile {
            addr,
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The header lines of `req` a response copies (RFC 3261 §8.2.6.2).
fn ok_for(req: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(req).ok()?;
    if !text.starts_with("MESSAGE ") {
        return None;
    }
    let head = text.split("\r\n\r\n").next()?;
    let mut out = b"SIP/2.0 200 OK\r\n".to_vec();
    for line in head.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or("").trim();
        if ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        } else if name.eq_ignore_ascii_case("To") {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b";tag=hostile\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

/// A well-formed 200 for a transaction that never existed.
fn stray(n: u64, to: SocketAddr) -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {to};branch=z9hG4bK-never-{n}\r\n\
         From: <sip:load@{to}>;tag=x{n}\r\nTo: <sip:load@127.0.0.1>;tag=y{n}\r\n\
         Call-ID: never-{n}@hostile\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `d` to `to`; a full socket buffer drops it (it is a flood).
fn fire(sock: &UdpSocket, d: &[u8], to: SocketAddr, sent: &AtomicU64) {
    if sock.send_to(d, to).is_ok() {
        sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads what came (at most a batch); calls `each` with every datagram.
fn drain(sock: &UdpSocket, buf: &mut [u8], mut each: impl FnMut(&[u8], SocketAddr)) {
    for _ in 0..64 {
        match sock.recv_from(buf) {
            Ok((n, from)) => each(&buf[..n], from),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => return,
        }
    }
}

const JUNK: &[u8] = b"\x00\xffHOSTILE not SIP at all \r\n\r\n\x01\x02";

/// The SUT answers every MESSAGE with 50 copies of a correct 200, and floods
/// the harness with well-formed 200s for transactions that never existed and
/// with junk, as fast as it can, for the whole run: every message completes,
/// its extra copies count as duplicated, the strays as mismatched, the junk
/// as unreadable; the run fails (exit 1) and still ends on time, its
/// findings capped and its memory flat.
#[test]
fn a_sut_that_answers_fifty_times_and_floods_strays_is_counted_and_bounded() {
    let mut sut = Hostile::start(|sock, stop, sent| {
        let mut buf = vec![0u8; 65536];
        let mut harness: Option<SocketAddr> = None;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut answers = Vec::new();
            drain(&sock, &mut buf, |d, from| {
                if let Some(ok) = ok_for(d) {
                    answers.push((ok, from));
                }
            });
            for (ok, from) in answers {
                harness = Some(from);
                for _ in 0..50 {
                    fire(&sock, &ok, from, sent);
                }
            }
            if let Some(h) = harness {
                for _ in 0..32 {
                    n += 1;
                    fire(&sock, &stray(n, h), h, sent);
                }
                for _ in 0..8 {
                    fire(&sock, JUNK, h, sent);
                }
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let d = tmpdir("load-hostile-fifty");
    let r = load(
        &d,
        &sip_profile(sut.addr),
        &[
            "--count",
            "300",
            "--rate",
            "1000",
            "--t1-ms",
            "20",
            "--linger-ms",
            "100",
        ],
    );
    let flood = sut.stop();
    println!(
        "fifty copies: {:?} wall, {} kB peak, {flood} datagrams sent by the SUT",
        r.wall, r.peak_kb
    );
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert_eq!(r.n("sent"), 300, "{}", r.json);
    assert!(r.n("duplicated") > 0, "{}", r.json);
    assert!(r.n("mismatched") > 0, "strays: {}", r.json);
    assert!(r.n("unreadable") > 0, "{}", r.json);
    assert_eq!(r.n("fabricated"), 0, "{}", r.json);
    assert_eq!(
        r.n("completed") + r.n("lost") + r.n("late"),
        300,
        "{}",
        r.json
    );
    r.assert_findings_capped();
    // Sending (0.3 s), at most four lingers (0.1 s) once all is settled,
    // start-up; the flood shares the CPU with it.
    assert!(r.wall < BOUND, "{:?}", r.wall);
    assert!(r.peak_kb < PEAK_RSS_KB, "{} kB", r.peak_kb);
}

/// The SUT never answers, and floods the harness with datagrams it never
/// asked for (strays, provisional responses, 60 kB junk): every message is
/// lost, the flood is counted, the run ends on time.
#[test]
fn a_sut_that_only_floods_loses_every_message_and_the_run_still_ends() {
    let mut sut = Hostile::start(|sock, stop, sent| {
        let mut buf = vec![0u8; 65536];
        let mut harness: Option<SocketAddr> = None;
        let big = vec![b'#'; 60_000];
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            drain(&sock, &mut buf, |_, from| harness = Some(from));
            let Some(h) = harness else {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            };
            for _ in 0..16 {
                n += 1;
                fire(&sock, &stray(n, h), h, sent);
            }
            fire(
                &sock,
                b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n",
                h,
                sent,
            );
            fire(&sock, &big, h, sent);
            fire(&sock, JUNK, h, sent);
        }
    });
    let d = tmpdir("load-hostile-flood");
    let r = load(
        &d,
        &sip_profile(sut.addr),
        &[
            "--count",
            "300",
            "--rate",
            "1000",
            "--t1-ms",
            "20",
            "--linger-ms",
            "100",
        ],
    );
    let flood = sut.stop();
    println!(
        "flood only: {:?} wall, {} kB peak, {flood} datagrams sent by the SUT",
        r.wall, r.peak_kb
    );
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert_eq!(r.n("sent"), 300, "{}", r.json);
    assert_eq!(r.n("lost"), 300, "{}", r.json);
    assert_eq!(r.n("completed"), 0, "{}", r.json);
    assert!(r.n("mismatched") > 0, "strays: {}", r.json);
    assert!(r.n("unreadable") > 0, "{}", r.json);
    r.assert_findings_capped();
    assert!(r.wall < BOUND, "{:?}", r.wall);
    assert!(r.peak_kb < PEAK_RSS_KB, "{} kB", r.peak_kb);
}

/// An SMPP PDU: header and body.
fn pdu(cmd: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + body.len());
    p.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    p.extend_from_slice(&cmd.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// Connects to the harness SMSC (once it listens) and binds as a
/// transceiver (SMPP 3.4 §4.1.5); the stream after bind_resp.
fn bind(smsc: SocketAddr) -> TcpStream {
    bind_with(smsc, None)
}

/// [`bind`], with the socket's receive buffer set to `rcvbuf` bytes before
/// it connects (so the window it offers stays that small).
fn bind_with(smsc: SocketAddr, rcvbuf: Option<i32>) -> TcpStream {
    let until = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match connect(smsc, rcvbuf) {
            Ok(s) => break s,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("the harness SMSC at {smsc}: {e}"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&pdu(0x09, 1, b"hostile\0pw\0\0\x34\0\0\0"))
        .unwrap();
    let mut head = [0u8; 16];
    s.read_exact(&mut head).unwrap();
    let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
    assert_eq!(&head[4..8], &0x8000_0009u32.to_be_bytes(), "bind_resp");
    assert_eq!(&head[8..12], &[0; 4], "ESME_ROK");
    let mut body = vec![0u8; len.saturating_sub(16).min(4096)];
    s.read_exact(&mut body).unwrap();
    s
}

/// A TCP connection to `to` (IPv4), with SO_RCVBUF set first when asked.
fn connect(to: SocketAddr, rcvbuf: Option<i32>) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let Some(size) = rcvbuf else {
        return TcpStream::connect(to);
    };
    let SocketAddr::V4(v4) = to else {
        return TcpStream::connect(to);
    };
    // SAFETY: a new socket, owned by the TcpStream made from it below (or
    // closed here on error); setsockopt and connect get pointers to locals
    // of the sizes passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let r = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

fn iwf_profile(smsc: SocketAddr, core: SocketAddr) -> String {
    format!(
        "name: a hostile sms-im-iwf (test code)\n\
         roles: [sms-im-iwf]\n\
         iwf: {{ smsc: \"{smsc}\", system_id: hostile, password: pw, ims_core: \"{core}\", t1_ms: 20 }}\n"
    )
}

fn iwf_addrs() -> (SocketAddr, SocketAddr) {
    let at = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    (at(free_port("127.0.0.1")), at(free_port("127.0.0.1")))
}

/// An IWF, once bound, floods the harness SMSC over TCP, each of two ways
/// side by side: (1) a PDU whose command_length says 2 GB, followed by as
/// many bytes as the harness will take; (2) enquire_link after enquire_link
/// while it never reads a byte (not the deliver_sm, nor the replies).
/// Each run fails with the reason named, in bounded time and memory.
#[test]
fn an_iwf_that_floods_the_harness_smsc_is_named_and_bounded() {
    let huge = std::thread::spawn(|| {
        let (smsc, core) = iwf_addrs();
        let fake = std::thread::spawn(move || {
            let _nice = low_priority();
            let mut s = bind(smsc);
            s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut head = pdu(0x0000_0015, 2, b""); // enquire_link
            head[..4].copy_from_slice(&0x7FFF_FFF0u32.to_be_bytes());
            let _ = s.write_all(&head);
            let chunk = vec![0x5a; 64 * 1024];
            let mut wrote = 0u64;
            // Until the harness closes the connection (or 20 s).
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until {
                match s.write(&chunk) {
                    Ok(n) => wrote += n as u64,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
            }
            wrote
        });
        let d = tmpdir("load-hostile-huge");
        let r = load(
            &d,
            &iwf_profile(smsc, core),
            &["--count", "300", "--rate", "1000"],
        );
        (r, fake.join().unwrap())
    });
    let mute = std::thread::spawn(|| {
        let (smsc, core) = iwf_addrs();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let fake = std::thread::spawn(move || {
            let _nice = low_priority();
            // A small window: the harness's replies back up after a few
            // kB, however slowly this thread floods on a busy machine (with
            // the default buffers it took some 10 MB of enquire_link first).
            let mut s = bind_with(smsc, Some(4096));
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut burst = Vec::with_capacity(16 * 4096);
            for i in 0..4096u32 {
                burst.extend_from_slice(&pdu(0x0000_0015, 10 + i, b""));
            }
            let mut wrote = 0u64;
            while !s2.load(Ordering::Relaxed) {
                match s.write(&burst) {
                    Ok(n) => wrote += n as u64,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            wrote
        });
        let d = tmpdir("load-hostile-mute");
        let r = load(
            &d,
            &iwf_profile(smsc, core),
            &["--count", "300", "--rate", "1000"],
        );
        stop.store(true, Ordering::SeqCst);
        (r, fake.join().unwrap())
    });
    let (huge, wrote_huge) = huge.join().unwrap();
    let (mute, wrote_mute) = mute.join().unwrap();
    println!(
        "huge command_length: {:?} wall, {} kB peak, {wrote_huge} bytes written by the IWF",
        huge.wall, huge.peak_kb
    );
    println!(
        "enquire_link flood, never reading: {:?} wall, {} kB peak, {wrote_mute} bytes written by the IWF",
        mute.wall, mute.peak_kb
    );
    let findings = |r: &Ran| r.json["findings"].to_string();

    // (1) The stream cannot be framed past the 2 GB length: the connection
    // ends there, named, and what was in flight is lost.
    assert_eq!(huge.code, Some(1), "{}", huge.text);
    assert!(huge.n("lost") > 0, "{}", huge.json);
    assert!(
        findings(&huge).contains("command_length 2147483632"),
        "{}",
        huge.json
    );
    huge.assert_findings_capped();
    assert!(huge.wall < BOUND, "{:?}", huge.wall);
    assert!(huge.peak_kb < PEAK_RSS_KB, "{} kB", huge.peak_kb);

    // (2) Nothing answered, nothing read: the replies the IWF never reads
    // do not pile up in the harness, which makes no more deliver_sm once
    // they fill its send buffer, ends the connection when the IWF has read
    // nothing for a deadline, and says so; what was sent is lost.
    assert_eq!(mute.code, Some(1), "{}", mute.text);
    assert!(mute.n("sent") >= 1, "{}", mute.json);
    assert_eq!(mute.n("lost"), mute.n("sent"), "{}", mute.json);
    assert!(
        findings(&mute).contains("read none of the"),
        "{}",
        mute.json
    );
    mute.assert_findings_capped();
    // The stall (one deadline: Timer F 1.28 s + 0.57 s), the deadline of
    // what was sent, start-up.
    assert!(mute.wall < BOUND, "{:?}", mute.wall);
    assert!(mute.peak_kb < PEAK_RSS_KB, "{} kB", mute.peak_kb);
}

/// The same load against a SUT that answers each MESSAGE once: what a
/// clean run's peak memory is, for [`PEAK_RSS_KB`].
#[test]
fn a_well_behaved_sut_passes_the_same_load() {
    let mut sut = Hostile::start(|sock, stop, sent| {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            let mut answers = Vec::new();
            drain(&sock, &mut buf, |d, from| {
                if let Some(ok) = ok_for(d) {
                    answers.push((ok, from));
                }
            });
            if answers.is_empty() {
                std::thread::sleep(Duration::from_micros(200));
            }
            for (ok, from) in answers {
                fire(&sock, &ok, from, sent);
            }
        }
    });
    let d: PathBuf = tmpdir("load-hostile-clean");
    let r = load(
        &d,
        &sip_profile(sut.addr),
        &["--count", "300", "--rate", "1000", "--t1-ms", "20"],
    );
    sut.stop();
    println!("clean: {:?} wall, {} kB peak", r.wall, r.peak_kb);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert_eq!(r.n("completed"), 300, "{}", r.json);
    assert!(r.peak_kb < PEAK_RSS_KB, "{} kB", r.peak_kb);
}

/// Reads HTTP requests on `s` and answers each 400 (a PAP submission the
/// PPG refuses: no push may reach the SMSC), until the peer closes.
fn refuse_every_push(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..end + 4 + len);
        if s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// A PPG that refuses every push (HTTP 400) and, bound to the harness
/// SMSC, floods it with submit_sm that carry no WSP push: no push is
/// fabricated, the flood is counted unreadable, and the run ends in bounded
/// time and memory.
#[test]
fn a_ppg_that_floods_the_harness_smsc_is_counted_and_bounded() {
    let pap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pap_at = pap.local_addr().unwrap();
    pap.set_nonblocking(true).unwrap();
    let smsc = SocketAddr::from(([127, 0, 0, 1], free_port("127.0.0.1")));
    let stop = Arc::new(AtomicBool::new(false));
    let s1 = stop.clone();
    let http = std::thread::spawn(move || {
        let _nice = low_priority();
        while !s1.load(Ordering::Relaxed) {
            match pap.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    std::thread::spawn(move || refuse_every_push(s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let s2 = stop.clone();
    let flood = std::thread::spawn(move || {
        let _nice = low_priority();
        let mut s = bind(smsc);
        // Read (and drop) the submit_sm_resp, so that the flood flows.
        let mut r = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut sink = [0u8; 64 * 1024];
            while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
        });
        s.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        // submit_sm: no UDH, a text that is no WSP push.
        let mut sm = b"\0\x01\x01+15550001\0\x01\x01+15550002\0\0\0\0\0\0\0\0\0\0".to_vec();
        sm.push(20);
        sm.extend_from_slice(b"HOSTILE not a push!!");
        let mut burst = Vec::new();
        for i in 0..1024u32 {
            burst.extend_from_slice(&pdu(0x0000_0004, 10 + i, &sm));
        }
        let mut wrote = 0u64;
        while !s2.load(Ordering::Relaxed) {
            match s.write(&burst) {
                Ok(n) => wrote += n as u64,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        wrote
    });
    let d = tmpdir("load-hostile-ppg");
    let profile = format!(
        "name: a hostile ppg (test code)\n\
         roles: [ppg]\n\
         ppg:\n  url: http://{pap_at}/wappush\n  compliance: wap-1.2.1\n  bearers: [sms]\n  smsc: {smsc}\n  system_id: hostile\n  password: pw\n"
    );
    let r = load(
        &d,
        &profile,
        &[
            "--role", "ppg", "--count", "300", "--rate", "1000", "--t1-ms", "20",
        ],
    );
    stop.store(true, Ordering::SeqCst);
    let wrote = flood.join().unwrap();
    http.join().unwrap();
    println!(
        "ppg flood: {:?} wall, {} kB peak, {wrote} bytes written by the PPG, exit {:?}",
        r.wall, r.peak_kb, r.code
    );
    // The flood is no push, so no integrity violation: the exit code is
    // left to the unreadable count's gating, not judged here.
    assert_eq!(r.n("sent"), 300, "{}", r.json);
    assert_eq!(r.json["codes"]["400"], 300, "{}", r.json);
    assert_eq!(r.n("fabricated"), 0, "{}", r.json);
    assert!(r.n("unreadable") > 0, "{}", r.json);
    r.assert_findings_capped();
    assert!(r.wall < BOUND, "{:?}", r.wall);
    assert!(r.peak_kb < PEAK_RSS_KB, "{} kB", r.peak_kb);
}

/// An im-server that takes every REGISTER (200) and relays no MESSAGE, but
/// floods the originator with strays and junk for the whole run: every
/// message lost, the flood counted, the run ends in bounded time and memory.
#[test]
fn an_im_server_that_relays_nothing_and_floods_the_originator_is_bounded() {
    let mut sut = Hostile::start(|sock, stop, sent| {
        let mut buf = vec![0u8; 65536];
        let mut originator: Option<SocketAddr> = None;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut answers = Vec::new();
            drain(&sock, &mut buf, |d, from| {
                let req = String::from_utf8_lossy(d);
                if req.starts_with("MESSAGE ") {
                    originator = Some(from);
                } else if req.starts_with("REGISTER ") {
                    let keep: Vec<&str> = req
                        .split("\r\n")
                        .filter(|l| {
                            ["Via:", "From:", "To:", "Call-ID:", "CSeq:", "Contact:"]
                                .iter()
                                .any(|h| l.starts_with(h))
                        })
                        .collect();
                    let ok = format!(
                        "SIP/2.0 200 OK\r\n{}\r\nContent-Length: 0\r\n\r\n",
                        keep.join("\r\n")
                    );
                    answers.push((ok.into_bytes(), from));
                }
            });
            for (ok, from) in answers {
                fire(&sock, &ok, from, sent);
            }
            let Some(o) = originator else {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            };
            for _ in 0..16 {
                n += 1;
                fire(&sock, &stray(n, o), o, sent);
            }
            fire(&sock, JUNK, o, sent);
        }
    });
    let d = tmpdir("load-hostile-ims");
    let profile = format!(
        "name: a hostile im-server (test code)\nroles: [im-server]\n\
         sip: {{ address: \"{}\", domain: liaison.test }}\n",
        sut.addr
    );
    let r = load(
        &d,
        &profile,
        &[
            "--role",
            "im-server",
            "--count",
            "300",
            "--rate",
            "1000",
            "--t1-ms",
            "20",
            "--linger-ms",
            "100",
        ],
    );
    let flood = sut.stop();
    println!(
        "im-server flood: {:?} wall, {} kB peak, {flood} datagrams sent by the SUT",
        r.wall, r.peak_kb
    );
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert_eq!(r.n("sent"), 300, "{}", r.json);
    assert_eq!(r.n("lost"), 300, "{}", r.json);
    assert!(r.n("mismatched") > 0, "strays: {}", r.json);
    assert!(r.n("unreadable") > 0, "{}", r.json);
    r.assert_findings_capped();
    assert!(r.wall < BOUND, "{:?}", r.wall);
    assert!(r.peak_kb < PEAK_RSS_KB, "{} kB", r.peak_kb);
}
