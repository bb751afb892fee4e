//! The load driver for an `im-server` SUT (a registrar and proxy for
//! pager-mode MESSAGE, RFC 3428 and RFC 3261): the harness plays both ends.
//!
//! - At start, [`RECIPIENTS`] recipients, each with a UDP socket of its own,
//!   REGISTER their contact with the SUT (RFC 3261 §10.2) and must get a
//!   2xx; anything else ends the run before a message is sent (exit 2).
//!   Their AoRs carry a token of the session and the agent's number in the
//!   user part (`load-TOKEN-K-rI@DOMAIN`), so two agents or two runs never
//!   share one. They are taken out again (Expires 0) when the session ends.
//! - Originators send MESSAGEs to the recipients' AoRs through the SUT at
//!   the asked rate, retransmitted as a non-INVITE client transaction does
//!   (RFC 3261 §17.1.2.2, Timer E); message `id` goes to recipient
//!   `id mod R`.
//! - A recipient that gets a MESSAGE on a new transaction (a top Via branch
//!   it has not seen for that message) tells the ledger it was delivered (a
//!   second one is a duplicate), then answers by the mix with a To tag
//!   carrying the identity it saw (`ld-TOKEN-ID`), or stays silent; a
//!   retransmission gets the same response again (RFC 3261 §17.2.2). A
//!   message delivered to another recipient than its own is counted
//!   mismatched and answered 404. Other requests the SUT sends a recipient
//!   (OPTIONS, …) are answered (200 for OPTIONS, 405 otherwise) and never
//!   counted.
//! - Each originator's final response must be the one its recipient gave:
//!   `Expect::Exact(code)`, or for a silent recipient `Expect::NotAccepted`
//!   (the server may time it out with 408, or send nothing: RFC 4320 §4.2
//!   forbids a stateful proxy's 408 to a non-INVITE, and then the
//!   originator's own Timer F ends the transaction; the driver records that
//!   as a 408 of its own at the deadline, for a message its recipient did
//!   get). A final response for a message its recipient never got is judged
//!   as `Expect::NotAccepted`: the SUT may refuse by itself (503 when its
//!   queue is full, RFC 3261 §21.5.4), never accept (a fabricated 2xx). The
//!   recipient's answer always comes before the SUT can relay it, so "never
//!   got" is known when the final response comes.
//! - Which message an outcome is for: the Via branch (the transaction,
//!   §17.1.3); which message it names: the To tag the recipient wrote, else
//!   the Call-ID.
//!
//! The deadline is 64·T1 plus a margin ([`margin`]): for a silent recipient
//! the server's own Timer F (64·T1 of its own) starts only when it forwards
//! the message, after ours started, and its 408 (when it sends one) must not
//! count as late; the margin also covers the queueing of a loaded server.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ledger::{Expect, Finding, Ledger, Outcome};
use super::mix::Answer;
use super::record::Recorder;
use super::result::LoadResult;
use super::retransmit::{Retransmits, T2};
use super::scan::{self, Ident};
use super::udp::{BatchSocket, BATCH};
use super::{Ctx, Live, Plan, Session};

/// The shortest tick of the load loop (µs).
const TICK_US: u64 = 1000;

/// How many recipients register (each with a socket of its own): enough
/// that a message delivered to the wrong one is caught, few enough that
/// each socket gets a batch per tick (64 made a system call per datagram
/// at 30 000/s).
pub const RECIPIENTS: usize = 16;

/// How long registrations are asked for (s); a run longer than this would
/// need them refreshed.
const REGISTER_EXPIRES: u32 = 3600;

/// What the deadline adds to Timer F (64·T1): a quarter of it, at least
/// half a second (see the module documentation).
pub fn margin(t1: Duration) -> Duration {
    (t1 * 16).max(Duration::from_millis(500))
}

/// A recipient the harness plays.
struct Recipient {
    sock: BatchSocket,
    local: SocketAddr,
    /// The user part of its AoR.
    user: String,
}

/// A running im-server load session.
pub struct ImServerLoad {
    orig: BatchSocket,
    orig_local: SocketAddr,
    recipients: Vec<Recipient>,
    target: SocketAddr,
    domain: String,
    /// The originators' user part.
    from_user: String,
    /// The recipients' user part but for their number.
    recipient_prefix: String,
    t1: Duration,
    _reference: Option<crate::reference::Running>,
    _sut: Option<crate::sut::SutProcess>,
}

impl ImServerLoad {
    /// Binds the harness sockets, starts (or launches) the SUT, and
    /// registers the recipients.
    pub fn start(ctx: &Ctx<'_>) -> Result<ImServerLoad, String> {
        let (target, domain, reference, sut) = match ctx.profile {
            None => {
                let settings = ctx.reference_settings("im-server")?;
                let domain = settings.domain.clone();
                let r = ctx.start_reference("im-server", settings)?;
                (r.address, domain, Some(r), None)
            }
            Some(p) => {
                let (sip, a) = ctx.sip_udp(p)?;
                let domain = sip.domain.clone().unwrap_or_else(|| a.to_string());
                let sut = ctx.launch()?;
                (a, domain, None, sut)
            }
        };
        let bind = || {
            BatchSocket::bind(SocketAddr::new(ctx.opts.address, 0))
                .map_err(|e| format!("harness UDP socket: {e}"))
        };
        let orig = bind()?;
        let orig_local = orig.local_addr().map_err(|e| e.to_string())?;
        let session = super::run_token();
        let k = ctx.opts.agent.0;
        let mut recipients = Vec::with_capacity(RECIPIENTS);
        for i in 0..RECIPIENTS {
            let sock = bind()?;
            let local = sock.local_addr().map_err(|e| e.to_string())?;
            recipients.push(Recipient {
                sock,
                local,
                user: format!("load-{session}-{k}-r{i}"),
            });
        }
        let mut s = ImServerLoad {
            orig,
            orig_local,
            recipients,
            target,
            domain,
            from_user: format!("load-{session}-{k}-o"),
            recipient_prefix: format!("load-{session}-{k}-r"),
            t1: ctx.opts.t1,
            _reference: reference,
            _sut: sut,
        };
        s.register(REGISTER_EXPIRES, true)?;
        Ok(s)
    }

    /// The REGISTER of recipient `i` (RFC 3261 §10.2).
    fn register_request(&self, i: usize, expires: u32, cseq: u32) -> Vec<u8> {
        let r = &self.recipients[i];
        format!(
            "REGISTER sip:{d} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {l};branch=z9hG4bK-reg-{u}-{cseq};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{u}@{d}>;tag=reg-{cseq}\r\n\
             To: <sip:{u}@{d}>\r\n\
             Call-ID: reg-{u}@liaison.load\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{u}@{l}>\r\n\
             Expires: {expires}\r\n\
             Allow: MESSAGE, OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            d = self.domain,
            l = r.local,
            u = r.user,
        )
        .into_bytes()
    }

    /// Registers every recipient (`expires` > 0) or takes it out (0),
    /// retransmitting as Timer E does until Timer F; with `strict`, a
    /// recipient without a 2xx is an error naming what came.
    fn register(&mut self, expires: u32, strict: bool) -> Result<(), String> {
        let cseq = if expires == 0 { 2 } else { 1 };
        let reqs: Vec<Vec<u8>> = (0..self.recipients.len())
            .map(|i| self.register_request(i, expires, cseq))
            .collect();
        let mut answer: Vec<Option<(u16, Vec<u8>)>> = vec![None; reqs.len()];
        let start = Instant::now();
        let end = if strict {
            self.t1 * 64
        } else {
            (self.t1 * 4).min(Duration::from_secs(1))
        };
        let mut interval = self.t1;
        let mut next_send = Duration::ZERO;
        loop {
            let elapsed = start.elapsed();
            if elapsed >= next_send {
                for (i, req) in reqs.iter().enumerate() {
                    if answer[i].is_none() {
                        let _ = self.recipients[i]
                            .sock
                            .send_batch(&[(&req[..], self.target)]);
                    }
                }
                next_send = elapsed + interval;
                interval = (interval * 2).min(T2);
            }
            for (i, r) in self.recipients.iter_mut().enumerate() {
                for _ in 0..super::udp::PASS_BATCHES {
                    let Ok(n) = r.sock.recv_batch() else { break };
                    if n == 0 {
                        break;
                    }
                    for j in 0..n {
                        let (bytes, _) = r.sock.datagram(j);
                        let Some(code) = scan::status(bytes) else {
                            continue;
                        };
                        let ours = scan::header(bytes, "CSeq", None)
                            .is_some_and(|c| c.ends_with(b"REGISTER"));
                        if code >= 200 && ours && answer[i].is_none() {
                            answer[i] = Some((code, bytes.to_vec()));
                        }
                    }
                }
            }
            if answer.iter().all(Option::is_some) || start.elapsed() >= end {
                break;
            }
            let fds: Vec<libc::pollfd> = self
                .recipients
                .iter()
                .map(|r| libc::pollfd {
                    fd: r.sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let wait = next_send
                .saturating_sub(start.elapsed())
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            poll(fds, wait);
        }
        if !strict {
            return Ok(());
        }
        for (i, a) in answer.iter().enumerate() {
            let aor = format!("sip:{}@{}", self.recipients[i].user, self.domain);
            match a {
                Some((200..=299, _)) => {}
                Some((code, bytes)) => {
                    return Err(format!(
                        "the im-server at {} refused the REGISTER of {aor} (RFC 3261 §10.3) with {code}; no message was sent. Its response:\n{}",
                        self.target,
                        String::from_utf8_lossy(scan::head(bytes))
                    ))
                }
                None => {
                    return Err(format!(
                        "the im-server at {} did not answer the REGISTER of {aor} within {} ms (64·T1, RFC 3261 §17.1.2.2); no message was sent",
                        self.target,
                        (self.t1 * 64).as_millis()
                    ))
                }
            }
        }
        Ok(())
    }

    /// The MESSAGE for `id`, written into `out`.
    fn message(&self, ident: &Ident, id: u64, out: &mut Vec<u8>) {
        let to = &self.recipients[(id % self.recipients.len() as u64) as usize].user;
        out.clear();
        out.extend_from_slice(b"MESSAGE sip:");
        out.extend_from_slice(to.as_bytes());
        out.push(b'@');
        out.extend_from_slice(self.domain.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\nVia: SIP/2.0/UDP ");
        write_addr(out, self.orig_local);
        out.extend_from_slice(b";branch=z9hG4bK-");
        ident.write(out, id);
        out.extend_from_slice(b";rport\r\nMax-Forwards: 70\r\nFrom: <sip:");
        out.extend_from_slice(self.from_user.as_bytes());
        out.push(b'@');
        out.extend_from_slice(self.domain.as_bytes());
        out.extend_from_slice(b">;tag=");
        ident.write(out, id);
        out.extend_from_slice(b"\r\nTo: <sip:");
        out.extend_from_slice(to.as_bytes());
        out.push(b'@');
        out.extend_from_slice(self.domain.as_bytes());
        out.extend_from_slice(b">\r\nCall-ID: ");
        ident.write(out, id);
        out.extend_from_slice(
            b"@liaison.load\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: ",
        );
        let body_at = out.len();
        out.extend_from_slice(b"liaison load ");
        ident.write(out, id);
        let body: Vec<u8> = out.drain(body_at..).collect();
        scan::write_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&body);
    }
}

impl Drop for ImServerLoad {
    fn drop(&mut self) {
        // Best effort: the bindings are taken out again, so a long-lived
        // server does not keep one per run until they expire.
        let _ = self.register(0, false);
    }
}

/// Sends the replies a pass made (`replies[i]` to `dests[i]`) from `sock`,
/// and records what went.
fn send_replies(
    sock: &BatchSocket,
    local: SocketAddr,
    replies: &[Vec<u8>],
    dests: &[SocketAddr],
    rec: &mut Recorder,
    now: u64,
) -> Result<(), String> {
    if replies.is_empty() {
        return Ok(());
    }
    let out: Vec<(&[u8], SocketAddr)> = replies
        .iter()
        .zip(dests.iter())
        .map(|(b, d)| (&b[..], *d))
        .collect();
    let went = sock.send_batch(&out).map_err(|e| format!("send: {e}"))?;
    for (b, d) in out.iter().take(went) {
        rec.datagram(now, local, *d, b);
    }
    Ok(())
}

fn write_addr(out: &mut Vec<u8>, a: SocketAddr) {
    use std::io::Write;
    let _ = write!(out, "{a}");
}

/// Waits on the descriptors at most `timeout`; returns them with `revents`.
fn poll(mut fds: Vec<libc::pollfd>, timeout: Duration) -> Vec<libc::pollfd> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a live array of pollfd whose length is passed.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    fds
}

/// Waits on many sockets at once (epoll: the sockets are registered once,
/// a wait costs what is ready, not how many there are), to the microsecond.
struct Poller {
    epfd: std::os::fd::OwnedFd,
    events: Vec<libc::epoll_event>,
    /// After [`Poller::wait`]: which sockets (by index) have datagrams.
    ready: Vec<bool>,
    /// epoll_pwait2 (Linux 5.11) missing: waits rounded up to the millisecond.
    coarse: bool,
}

impl Poller {
    fn new(fds: &[std::os::fd::RawFd]) -> std::io::Result<Poller> {
        use std::os::fd::FromRawFd;
        // SAFETY: epoll_create1 takes no pointer; a descriptor it returns is ours.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let epfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        for (i, fd) in fds.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            // SAFETY: `ev` lives across the call; both descriptors are open.
            if unsafe { libc::epoll_ctl(raw, libc::EPOLL_CTL_ADD, *fd, &mut ev) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Poller {
            epfd,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; fds.len()],
            ready: vec![false; fds.len()],
            coarse: false,
        })
    }

    fn wait(&mut self, timeout: Duration) {
        use std::os::fd::AsRawFd;
        self.ready.iter_mut().for_each(|r| *r = false);
        let max = self.events.len() as libc::c_int;
        let n = if self.coarse {
            let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
            // SAFETY: `events` has room for `max` entries.
            unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), self.events.as_mut_ptr(), max, ms) }
        } else {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: `events` has room for `max` entries; `ts` lives across
            // the call; no signal mask is given.
            let n = unsafe {
                libc::epoll_pwait2(
                    self.epfd.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    max,
                    &ts,
                    std::ptr::null(),
                )
            };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.coarse = true;
            }
            n
        };
        for e in self.events.iter().take(n.max(0) as usize) {
            let i = e.u64 as usize;
            if let Some(r) = self.ready.get_mut(i) {
                *r = true;
            }
        }
    }
}

/// What the recipients have seen of each message of a step: the top Via
/// branch of the transaction that delivered it (hashed; 0: never
/// delivered), by identity, as long as the ledger keeps the message.
struct Seen {
    first: u64,
    slots: VecDeque<u64>,
}

impl Seen {
    fn get(&self, id: u64) -> Option<u64> {
        let i = id.checked_sub(self.first)?;
        self.slots.get(usize::try_from(i).ok()?).copied()
    }

    fn set(&mut self, id: u64, v: u64) {
        if let Some(i) = id.checked_sub(self.first)
            && let Some(s) = usize::try_from(i).ok().and_then(|i| self.slots.get_mut(i))
        {
            *s = v;
        }
    }
}

fn hash(b: &[u8]) -> u64 {
    // FNV-1a; never 0 (0 means "not delivered").
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in b {
        h ^= u64::from(*c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Answer",
    }
}

/// The method of a request (`MESSAGE sip:… SIP/2.0`), if `raw` is one.
fn method(raw: &[u8]) -> Option<&[u8]> {
    let sp = memchr::memchr(b' ', &raw[..raw.len().min(32)])?;
    let m = &raw[..sp];
    (!m.is_empty() && m.iter().all(u8::is_ascii_uppercase)).then_some(m)
}

/// A response to request `req` (RFC 3261 §8.2.6): its Vias, From, To (with
/// `tag` added when it has none), Call-ID and CSeq, no body.
fn respond(req: &[u8], code: u16, tag: &dyn Fn(&mut Vec<u8>), extra: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"SIP/2.0 ");
    scan::write_decimal(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason(code).as_bytes());
    out.extend_from_slice(b"\r\n");
    let head = scan::head(req);
    let mut copying = false;
    let mut to_open = false;
    for line in head.split(|c| *c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if copying {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(line);
            }
            continue;
        }
        if to_open {
            out.extend_from_slice(b";tag=");
            tag(out);
            to_open = false;
        }
        if copying {
            out.extend_from_slice(b"\r\n");
        }
        let colon = line.iter().position(|c| *c == b':').unwrap_or(0);
        let name = line[..colon].trim_ascii();
        let is = |long: &[u8], short: &[u8]| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        };
        copying = is(b"Via", b"v")
            || is(b"From", b"f")
            || is(b"To", b"t")
            || is(b"Call-ID", b"i")
            || name.eq_ignore_ascii_case(b"CSeq");
        if copying {
            out.extend_from_slice(line);
            if is(b"To", b"t") && scan::param(&line[colon..], "tag").is_none() {
                to_open = true;
            }
        }
    }
    if to_open {
        out.extend_from_slice(b";tag=");
        tag(out);
    }
    if copying {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(extra);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// What one step counts besides the ledger.
#[derive(Default)]
struct Extra {
    /// Deliveries to another recipient than the message's own.
    misrouted: u64,
    misrouted_findings: Vec<Finding>,
    /// Silent recipients' messages ended by the originator's own Timer F.
    timed_out: u64,
    unreadable: u64,
}

impl Session for ImServerLoad {
    fn deadline(&self, timer_f: Duration) -> Duration {
        timer_f + margin(timer_f / 64)
    }

    fn step(&mut self, plan: &Plan, live: &Live) -> Result<LoadResult, String> {
        let ident = Ident::new(&plan.token);
        let limit = plan.limit();
        let bucket_us = super::im_client::bucket_width(plan);
        // The plan's deadline is already Timer F plus the margin (`Session::deadline`).
        let deadline = plan.deadline;
        let deadline_us = deadline.as_micros() as u64;
        let mut ledger = Ledger::new(plan.first_id, deadline_us, bucket_us);
        let mut rec =
            Recorder::new(plan.capture, &plan.pcap).map_err(|e| format!("capture: {e}"))?;
        let mut retx = Retransmits::new(plan.t1);
        let mut seen = Seen {
            first: plan.first_id,
            slots: VecDeque::new(),
        };
        // Messages a silent recipient got: (the ledger's deadline, id),
        // soonest first (deliveries come in any order: a retransmission
        // can deliver an older message after a newer one).
        let mut silent: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
        let mut extra = Extra::default();
        let r_count = self.recipients.len() as u64;
        let cpu0 = super::thread_cpu();
        let clock = super::Clock::start();
        let now_us = || clock.now_us();
        // One pass over the sockets per tick (1–2 ms): each system call then
        // moves a batch. Latency is the kernel's receive time, not the
        // pass's; a recipient's answer waits at most a tick.
        let tick_us = ((BATCH as f64 / plan.rate * 1e6) as u64).clamp(TICK_US, 2 * TICK_US);
        let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(640)).collect();
        let mut due_copies = Vec::new();
        let mut sent: u64 = 0;
        let mut last_send_us = 0u64;
        let mut last_outcome_us = 0u64;
        let mut quiet_since: Option<u64> = None;
        let mut settled_at: Option<u64> = None;
        let linger_us = plan.linger.as_micros() as u64;
        let timer_f_bytes: &[u8] =
            b"(no final response: the originator's own Timer F, RFC 3261 \xc2\xa717.1.2.2; RFC 4320 \xc2\xa74.2)";
        let all: Vec<std::os::fd::RawFd> = std::iter::once(self.orig.as_raw_fd())
            .chain(self.recipients.iter().map(|r| r.sock.as_raw_fd()))
            .collect();
        let mut poller = Poller::new(&all).map_err(|e| format!("epoll: {e}"))?;
        let mut wait = Duration::ZERO;
        loop {
            // Sleep out the tick, then see which sockets have datagrams.
            if wait > Duration::ZERO {
                std::thread::sleep(wait);
            }
            let pass_start = now_us();
            poller.wait(Duration::ZERO);
            let ready = &poller.ready;
            let now = now_us();
            let stopping = live.stopped() || super::interrupted();
            // New messages due by the rate.
            if sent < limit && !stopping {
                let want = ((plan.rate * now as f64 / 1e6) as u64 + 1).min(limit);
                let mut n = want.saturating_sub(sent).min(BATCH as u64) as usize;
                while n > 0 {
                    let first = ledger.next_id();
                    for (i, b) in bufs.iter_mut().take(n).enumerate() {
                        self.message(&ident, first + i as u64, b);
                    }
                    let out: Vec<(&[u8], SocketAddr)> =
                        bufs[..n].iter().map(|b| (&b[..], self.target)).collect();
                    let went = self
                        .orig
                        .send_batch(&out)
                        .map_err(|e| format!("send: {e}"))?;
                    for b in &bufs[..went] {
                        let id = ledger.next_id();
                        let expect = match plan.mix.answer(id) {
                            Answer::Code(c) => Expect::Exact(c),
                            Answer::Silent => Expect::NotAccepted,
                        };
                        ledger.sent(now, expect);
                        seen.slots.push_back(0);
                        rec.datagram(now, self.orig_local, self.target, b);
                        retx.arm(0, now, id);
                    }
                    sent += went as u64;
                    last_send_us = now;
                    if went < n {
                        break; // the socket buffer is full: later
                    }
                    let want = ((plan.rate * now as f64 / 1e6) as u64 + 1).min(limit);
                    n = want.saturating_sub(sent).min(BATCH as u64) as usize;
                }
                live.sent
                    .store(ledger.next_id() - plan.first_id, Ordering::Relaxed);
            }
            // Retransmissions due (Timer E).
            due_copies.clear();
            retx.due(now, &mut due_copies);
            for &(id, next_level) in &due_copies {
                if !ledger.is_pending(id) || stopping {
                    continue;
                }
                self.message(&ident, id, &mut bufs[0]);
                if self
                    .orig
                    .send_batch(&[(&bufs[0][..], self.target)])
                    .map_err(|e| format!("send: {e}"))?
                    == 1
                {
                    ledger.retransmitted(id);
                    rec.datagram(now, self.orig_local, self.target, &bufs[0]);
                }
                retx.arm(next_level, now, id);
            }
            let mut got = 0;
            // The recipients: deliveries first (their answers come before
            // the SUT can relay them).
            for (ri, r) in self.recipients.iter_mut().enumerate() {
                if !ready[ri + 1] {
                    continue;
                }
                for _ in 0..super::udp::PASS_BATCHES {
                    let n = r.sock.recv_batch().map_err(|e| format!("receive: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                    let read_at = now_us();
                    let mut replies = 0;
                    let mut dests = [self.target; BATCH];
                    for i in 0..n {
                        let now = clock.at_us(r.sock.received_at(i), read_at);
                        let (bytes, from) = r.sock.datagram(i);
                        rec.datagram(now, from, r.local, bytes);
                        let Some(m) = method(bytes) else {
                            if scan::status(bytes).is_none() {
                                extra.unreadable += 1;
                                ledger.unreadable(now, bytes);
                            }
                            continue; // a response (e.g. to a REGISTER): nothing to do
                        };
                        let out = &mut bufs[replies];
                        if m == b"ACK" {
                            continue;
                        }
                        if m != b"MESSAGE" {
                            let (code, allow): (u16, &[u8]) = if m == b"OPTIONS" {
                                (200, b"Allow: MESSAGE, OPTIONS\r\n")
                            } else {
                                (405, b"Allow: MESSAGE, OPTIONS\r\n")
                            };
                            respond(bytes, code, &|o| o.extend_from_slice(b"r"), allow, out);
                        } else {
                            let id = scan::header(bytes, "Call-ID", Some("i"))
                                .and_then(|c| ident.find(c))
                                .or_else(|| ident.find(scan::body(bytes)));
                            let Some(id) = id else {
                                // Not a message of this run: taken, not counted.
                                respond(bytes, 200, &|o| o.extend_from_slice(b"r"), b"", out);
                                dests[replies] = from;
                                replies += 1;
                                continue;
                            };
                            let answer = if id % r_count != ri as u64 {
                                if seen.get(id).is_some() {
                                    extra.misrouted += 1;
                                    if extra.misrouted_findings.len()
                                        < super::ledger::FINDINGS_PER_KIND
                                    {
                                        extra.misrouted_findings.push(Finding {
                                            kind: "mismatched".into(),
                                            message: id,
                                            expected: format!(
                                                "delivery to sip:{}{}@{}",
                                                self.recipient_prefix,
                                                id % r_count,
                                                self.domain
                                            ),
                                            came: format!(
                                                "delivered to sip:{}@{}",
                                                r.user, self.domain
                                            ),
                                            bytes: String::from_utf8_lossy(
                                                &bytes[..bytes.len().min(2048)],
                                            )
                                            .into_owned(),
                                        });
                                    }
                                }
                                Answer::Code(404)
                            } else {
                                let branch = hash(scan::top_via_branch(bytes).unwrap_or(b""));
                                match seen.get(id) {
                                    Some(0) => {
                                        seen.set(id, branch);
                                        ledger.delivered(now, id, bytes);
                                        if plan.mix.answer(id) == Answer::Silent
                                            && let Some(at) = ledger.sent_at(id)
                                        {
                                            silent.push(Reverse((at + deadline_us, id)));
                                        }
                                    }
                                    Some(b) if b != branch => {
                                        // A new transaction for a message
                                        // delivered before.
                                        seen.set(id, branch);
                                        ledger.delivered(now, id, bytes);
                                    }
                                    _ => {} // a retransmission, or an old message
                                }
                                plan.mix.answer(id)
                            };
                            let Answer::Code(code) = answer else {
                                continue;
                            };
                            let tag = |o: &mut Vec<u8>| ident.write(o, id);
                            respond(bytes, code, &tag, b"", out);
                        }
                        dests[replies] = from;
                        replies += 1;
                    }
                    send_replies(
                        &r.sock,
                        r.local,
                        &bufs[..replies],
                        &dests,
                        &mut rec,
                        now_us(),
                    )?;
                    if n < BATCH {
                        break;
                    }
                }
            }
            // The originators: final responses.
            if ready[0] {
                for _ in 0..super::udp::PASS_BATCHES {
                    let n = self
                        .orig
                        .recv_batch()
                        .map_err(|e| format!("receive: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                    let read_at = now_us();
                    let mut replies = 0;
                    let mut dests = [self.target; BATCH];
                    for i in 0..n {
                        let now = clock.at_us(self.orig.received_at(i), read_at);
                        let (bytes, from) = self.orig.datagram(i);
                        rec.datagram(now, from, self.orig_local, bytes);
                        let Some(code) = scan::status(bytes) else {
                            match method(bytes) {
                                Some(b"ACK") => {}
                                Some(m) => {
                                    // A request for an originator: taken
                                    // (MESSAGE, OPTIONS) or refused, never counted.
                                    let code = if m == b"MESSAGE" || m == b"OPTIONS" {
                                        200
                                    } else {
                                        405
                                    };
                                    respond(
                                        bytes,
                                        code,
                                        &|o| o.extend_from_slice(b"o"),
                                        b"Allow: MESSAGE, OPTIONS\r\n",
                                        &mut bufs[replies],
                                    );
                                    dests[replies] = from;
                                    replies += 1;
                                }
                                None => {
                                    extra.unreadable += 1;
                                    ledger.unreadable(now, bytes);
                                }
                            }
                            continue;
                        };
                        if code < 200 {
                            continue;
                        }
                        let by_branch = scan::top_via_branch(bytes).and_then(|b| ident.find(b));
                        let by_call =
                            scan::header(bytes, "Call-ID", Some("i")).and_then(|c| ident.find(c));
                        let by_tag = scan::to_tag(bytes).and_then(|t| ident.find(t));
                        match by_branch.or(by_call) {
                            Some(id) => {
                                if seen.get(id) == Some(0) {
                                    // Its recipient never got it: the SUT
                                    // may refuse it, never accept it.
                                    ledger.expect(id, Expect::NotAccepted);
                                }
                                ledger.outcome(
                                    now,
                                    Outcome {
                                        id,
                                        code,
                                        accepts: (200..300).contains(&code),
                                        names: by_tag.or(by_call),
                                        bytes,
                                    },
                                )
                            }
                            None => ledger.stray(now, code, bytes),
                        }
                        last_outcome_us = last_outcome_us.max(now);
                    }
                    send_replies(
                        &self.orig,
                        self.orig_local,
                        &bufs[..replies],
                        &dests,
                        &mut rec,
                        now_us(),
                    )?;
                    if n < BATCH {
                        break;
                    }
                }
            }
            let now = now_us();
            // A silent recipient's message with no final response by the
            // deadline: the originator's Timer F ended it (no acceptance).
            while let Some(&Reverse((due, id))) = silent.peek() {
                if due > now {
                    break;
                }
                silent.pop();
                if ledger.is_pending(id) {
                    extra.timed_out += 1;
                    ledger.outcome(
                        now,
                        Outcome {
                            id,
                            code: 408,
                            accepts: false,
                            names: Some(id),
                            bytes: timer_f_bytes,
                        },
                    );
                }
            }
            ledger.expire(now);
            // Forget what the ledger forgot.
            while !seen.slots.is_empty() && ledger.sent_at(seen.first).is_none() {
                seen.slots.pop_front();
                seen.first += 1;
            }
            let c = ledger.counters();
            live.completed.store(c.completed, Ordering::Relaxed);
            live.lost.store(c.lost, Ordering::Relaxed);
            live.violations.store(
                c.mismatched + c.fabricated + c.duplicated + extra.misrouted,
                Ordering::Relaxed,
            );
            // Done: everything sent, nothing outstanding, and quiet for the
            // linger (a SUT that never falls quiet: LINGER_CAP lingers).
            if sent >= limit || stopping {
                if ledger.outstanding() == 0 || stopping {
                    let since = *quiet_since.get_or_insert(now);
                    let settled = *settled_at.get_or_insert(now);
                    if now.saturating_sub(settled) >= super::LINGER_CAP * linger_us {
                        break;
                    }
                    if got > 0 {
                        quiet_since = Some(now);
                    } else if now.saturating_sub(since) >= linger_us
                        || (stopping && super::interrupted())
                    {
                        break;
                    }
                } else {
                    quiet_since = None;
                    settled_at = None;
                }
            }
            // The rest of the tick: whatever is due by then (a send, a
            // Timer E copy, a silent recipient's deadline) waits at most a tick.
            wait = Duration::from_micros(tick_us.saturating_sub(now_us() - pass_start));
        }
        let cpu = super::thread_cpu() - cpu0;
        let end_us = now_us();
        let summary = ledger.finish();
        let mut r = LoadResult::from_summary(
            &summary,
            "SIP final responses to MESSAGE, relayed from the recipients",
        );
        r.unreadable = extra.unreadable;
        r.counters.mismatched += extra.misrouted;
        r.findings.extend(extra.misrouted_findings);
        r.timing(super::result::StepTiming {
            rate: plan.rate,
            planned: plan.limit(),
            last_send_us,
            last_outcome_us,
            end_us,
            cpu,
        });
        r.captured(rec.finish()?);
        if extra.timed_out > 0 {
            r.codes
                .insert("408 (originator's Timer F)".into(), extra.timed_out);
            if let Some(n) = r.codes.get_mut("408") {
                *n = n.saturating_sub(extra.timed_out);
                if *n == 0 {
                    r.codes.remove("408");
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_copies_the_transaction_and_tags_the_to() {
        let req = b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bKa\r\nv: SIP/2.0/UDP 5.6.7.8:9;branch=z9hG4bK-ld-t-7\r\nFrom: <sip:a@x>;tag=f\r\nTo: <sip:b@x>\r\nCall-ID: ld-t-7@l\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi";
        let ident = Ident::new("t");
        let mut out = Vec::new();
        respond(req, 486, &|o| ident.write(o, 7), b"", &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bKa\r\nv: SIP/2.0/UDP 5.6.7.8:9;branch=z9hG4bK-ld-t-7\r\n"), "{text}");
        assert!(text.contains("To: <sip:b@x>;tag=ld-t-7\r\n"), "{text}");
        assert!(
            text.ends_with("CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"),
            "{text}"
        );
        assert_eq!(scan::status(&out), Some(486));
        assert_eq!(ident.find(scan::to_tag(&out).unwrap()), Some(7));
        assert_eq!(method(req), Some(&b"MESSAGE"[..]));
        assert_eq!(method(&out), None);
    }

    #[test]
    fn the_deadline_outlasts_the_servers_timer_f() {
        let t1 = Duration::from_millis(500);
        assert_eq!(t1 * 64 + margin(t1), Duration::from_secs(40));
        assert_eq!(
            margin(Duration::from_millis(20)),
            Duration::from_millis(500)
        );
    }
}
