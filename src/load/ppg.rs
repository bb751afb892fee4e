//! The load driver for a `ppg` SUT (a WAP Push Proxy Gateway): the harness
//! is the push initiator and the SMSC the PPG binds to, and every push is
//! checked at both ends.
//!
//! - **Push initiator.** Each push is a PAP push-message submission (WAP-247
//!   PAP §8: HTTP POST of a `multipart/related` entity, the PAP control
//!   document first, the content second with its own Content-Type) to the
//!   profile's `ppg.url`, over [`CONNECTIONS`] keep-alive connections with
//!   one submission in flight on each and as many more queued for them (so
//!   at most twice that many in flight; a push due while all are taken
//!   waits, and the achieved rate shows it; its latency counts from when it
//!   was queued).
//!   Only Host, Content-Type and Content-Length are sent on the POST (Kannel
//!   copies the PI's other headers into the WSP push). Its push-id and its
//!   content carry its identity (`ld-TOKEN-ID`), and its client address
//!   `WAPPUSH=+4<id>/TYPE=PLMN@…` (WAP-249 PPG Service §7) is its own number.
//! - **SMSC.** An SMPP 3.4 server at the profile's `ppg.smsc`: any bind is
//!   accepted, every submit_sm answered with submit_sm_resp (ESME_ROK),
//!   enquire_link and unbind answered. Short messages are put back together
//!   into WDP datagrams (WAP-259 WDP §6.5, UDH port and concatenation IEs),
//!   each read as a connectionless WSP Push PDU (WAP-230 WSP §8.2.4.1).
//!
//! Two kinds of report, one ledger each:
//! - **PAP answers** (the kind the latency is measured on): the result code
//!   of the push-response (WAP-247 §9.3, §9.14: 1000/1001 accepted, any other
//!   code refused) or of a badmessage-response (§9.13); another HTTP status
//!   counts as that code. A push-response naming another push-id is
//!   mismatched; a second answer is impossible on a connection with one
//!   request in flight (it would be an unsolicited response: unreadable).
//!   The PPG decides what it accepts: the mix does not apply (every
//!   submission is valid, `Expect::Any`).
//! - **Deliveries at the SMSC:** PUSH-2 (an accepted push delivered over
//!   connectionless WSP, content unchanged) and PUSH-17 (a refused push
//!   reaches no bearer, WAP-247 §9.14: a 2xxx code means the request is not
//!   carried out): every accepted push delivered exactly once (a second
//!   delivery: duplicated), its content byte for byte to its own number (a
//!   content that is another push's, altered, or sent to another push's
//!   number: mismatched; a content naming no push of the run: mismatched),
//!   nothing delivered for a push the PPG refused (fabricated), every accepted
//!   one delivered before the deadline (else lost). PUSH-16 (duplicate
//!   push-ids, 2007) is not exercised: every push-id is new.
//!
//! Every eighth push's content is longer than one short message, so
//! concatenation is exercised too.
//!
//! No `--capture` here: the recorder takes datagrams, and both interfaces
//! are TCP streams.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ledger::{Expect, Ledger, Outcome, Violation};
use super::result::LoadResult;
use super::scan::Ident;
use super::{Ctx, Live, Plan, Session};
use crate::codec::{http, pap, smpp, wdp, wsp};

/// PAP connections to the PPG, one submission in flight on each.
pub const CONNECTIONS: usize = 16;
/// The largest PAP answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// The largest SMPP PDU read.
const MAX_PDU: u32 = 64 * 1024;
/// One PAP exchange (connect, write, answer) must finish within this.
const EXCHANGE: Duration = Duration::from_secs(10);
/// The multipart boundary.
const BOUNDARY: &str = "liaison-load-boundary";
/// A keep-alive connection idle this long may be retried once (below).
const KEEP_ALIVE_RETRY: Duration = Duration::from_secs(1);
/// Segments of unfinished datagrams kept at most; beyond, they are dropped
/// (a PPG that never finishes its concatenated messages).
const MAX_PARTIAL_SEGMENTS: usize = 100_000;
/// The digits of a push's number after `+4`.
const NUMBER_DIGITS: u32 = 13;

/// A push for a PAP connection: its identity and its submission.
type Job = (u64, Vec<u8>);

/// What the harness threads tell the step.
enum Event {
    /// The PAP answer to push `id`: its code and the push-id it names.
    Answer {
        id: u64,
        at: Instant,
        code: u16,
        push_id: Option<String>,
        raw: Vec<u8>,
    },
    /// No answer for push `id` (the connection failed or the bytes are not
    /// a PAP answer).
    NoAnswer { raw: Vec<u8> },
    /// A whole WSP push at the SMSC: its number and content.
    Delivery {
        at: Instant,
        number: String,
        content: Vec<u8>,
        raw: Vec<u8>,
    },
    /// A short message or datagram that is not a WSP push.
    Unreadable { raw: Vec<u8> },
}

/// A running ppg load session: the SMSC, the PAP connections and the SUT.
pub struct PpgLoad {
    jobs: Option<SyncSender<Job>>,
    events: Receiver<Event>,
    url_path: String,
    host: String,
    stop: Arc<AtomicBool>,
    /// CPU time (ns) the harness's PAP and SMSC threads spent so far.
    cpu_ns: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
    _reference: Option<crate::reference::Running>,
    _sut: Option<crate::sut::SutProcess>,
}

impl PpgLoad {
    /// Starts the harness SMSC, then the PPG (embedded or the profile's), then
    /// the PAP connections.
    pub fn start(ctx: &Ctx<'_>) -> Result<PpgLoad, String> {
        let smsc_at = match ctx.profile {
            None => SocketAddr::new(ctx.opts.address, 0),
            Some(p) => {
                let ppg = p.ppg.as_ref().ok_or("the profile has no ppg section")?;
                if !ppg.bearers.iter().any(|b| b == "sms") {
                    return Err("`liaison load --role ppg` checks pushes at the SMSC; the profile's ppg.bearers has no sms".into());
                }
                ppg.smsc
                    .ok_or("the profile's ppg section has no smsc address")?
            }
        };
        let listener =
            TcpListener::bind(smsc_at).map_err(|e| format!("harness SMSC at {smsc_at}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let smsc = listener.local_addr().map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let cpu_ns = Arc::new(AtomicU64::new(0));
        let (tx, events) = mpsc::channel();
        let mut threads = Vec::new();
        {
            let (tx, stop, cpu) = (tx.clone(), stop.clone(), cpu_ns.clone());
            threads.push(std::thread::spawn(move || {
                smsc_accept(listener, tx, stop, cpu)
            }));
        }
        let (url, reference, sut) = match ctx.profile {
            None => {
                let mut s = ctx.reference_settings("ppg")?;
                let nowhere = SocketAddr::new(ctx.opts.address, 9);
                s.ppg = Some(crate::reference::ppg::PpgConfig {
                    smsc,
                    system_id: "liaison".into(),
                    password: "liaison".into(),
                    ota_http: nowhere,
                    ota_https: None,
                    sip_target: nowhere,
                    sip_tls: None,
                });
                let r = ctx.start_reference("ppg", s)?;
                (format!("http://{}/wappush", r.address), Some(r), None)
            }
            Some(p) => {
                let url = p.ppg.as_ref().map(|s| s.url.clone()).unwrap_or_default();
                (url, None, ctx.launch()?)
            }
        };
        if http::url_is_https(&url) {
            return Err(format!("{url}: `liaison load` pushes over plain HTTP only"));
        }
        let (pap_addr, url_path) = http::url_parts(&url)
            .ok_or_else(|| format!("ppg.url {url}: not http://IP:PORT/PATH"))?;
        let (jobs, rx) = mpsc::sync_channel::<Job>(CONNECTIONS);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..CONNECTIONS {
            let (rx, tx, cpu) = (rx.clone(), tx.clone(), cpu_ns.clone());
            threads.push(std::thread::spawn(move || {
                pap_worker(pap_addr, rx, tx, cpu)
            }));
        }
        Ok(PpgLoad {
            jobs: Some(jobs),
            events,
            url_path,
            host: pap_addr.to_string(),
            stop,
            cpu_ns,
            threads,
            _reference: reference,
            _sut: sut,
        })
    }
}

impl Drop for PpgLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The content of push `id`: its identity, then text; every eighth is
/// longer than one short message (300 octets).
pub fn content(ident: &Ident, id: u64, out: &mut Vec<u8>) {
    out.clear();
    ident.write(out, id);
    out.extend_from_slice(b" liaison load push");
    if id.is_multiple_of(8) {
        while out.len() < 300 {
            out.push(b'.');
        }
    }
}

/// The number push `id` goes to: `+4` and its identity's last 13 digits.
fn number(id: u64) -> String {
    format!(
        "+4{:0w$}",
        id % 10u64.pow(NUMBER_DIGITS),
        w = NUMBER_DIGITS as usize
    )
}

/// The PAP submission of push `id` (WAP-247 §8).
fn submission(ident: &Ident, id: u64, path: &str, host: &str, body: &mut Vec<u8>) -> Vec<u8> {
    let control = pap::PushMessage {
        push_id: ident.token(id),
        addresses: vec![format!("WAPPUSH={}/TYPE=PLMN@ppg.liaison.load", number(id))],
        ..Default::default()
    }
    .to_xml();
    content(ident, id, body);
    let (ct, entity) = pap::multipart_related(
        BOUNDARY,
        &[
            ("application/xml", control.as_bytes()),
            ("text/plain", body.as_slice()),
        ],
    );
    http::request("POST", path, host, &[("Content-Type", &ct)], &entity)
}

/// One PAP connection: takes a push, submits it, reads its answer.
fn pap_worker(
    at: SocketAddr,
    jobs: Arc<Mutex<Receiver<Job>>>,
    events: mpsc::Sender<Event>,
    cpu: Arc<AtomicU64>,
) {
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    let mut spent = CpuMeter::new(cpu);
    let mut last_used = Instant::now();
    loop {
        spent.tick();
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((id, request)) = job else {
            return; // the session ended
        };
        let mut last_err = Vec::new();
        let mut answered = false;
        // A keep-alive connection idle for a while may have been closed by
        // the PPG meanwhile: when it ends with nothing read, one fresh try.
        // Not otherwise: the PPG may have read the submission, and sending
        // it twice would be the harness's duplicate, not the PPG's.
        let idle = last_used.elapsed() >= KEEP_ALIVE_RETRY;
        for attempt in 0..2 {
            if conn.is_none() {
                match TcpStream::connect_timeout(&at, EXCHANGE) {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let _ = s.set_read_timeout(Some(EXCHANGE));
                        let _ = s.set_write_timeout(Some(EXCHANGE));
                        conn = Some(s);
                    }
                    Err(e) => {
                        last_err = format!("connect {at}: {e}").into_bytes();
                        break;
                    }
                }
            }
            let Some(s) = conn.as_mut() else { break };
            buf.clear();
            match exchange(s, &request, &mut buf) {
                Ok(msg) => {
                    let now = Instant::now();
                    if msg
                        .header("Connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                    {
                        conn = None;
                    }
                    let ev = match answer(&msg) {
                        Some((code, push_id)) => Event::Answer {
                            id,
                            at: now,
                            code,
                            push_id,
                            raw: buf.clone(),
                        },
                        None => Event::NoAnswer { raw: buf.clone() },
                    };
                    let _ = events.send(ev);
                    answered = true;
                    break;
                }
                Err((e, sent_whole)) => {
                    conn = None;
                    last_err = e.into_bytes();
                    // Retry only when nothing of the request could have been
                    // read (the connection was already closed).
                    if sent_whole || attempt == 1 || !idle || !buf.is_empty() {
                        break;
                    }
                }
            }
        }
        last_used = Instant::now();
        if !answered {
            let _ = events.send(Event::NoAnswer { raw: last_err });
        }
    }
}

/// Writes the request, reads one response. Err: what failed, and whether
/// the PPG surely read the request (false: the write failed, or the
/// connection closed with nothing of an answer).
fn exchange(
    s: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<http::HttpMessage, (String, bool)> {
    s.write_all(request)
        .map_err(|e| (format!("write: {e}"), false))?;
    let mut chunk = [0u8; 8192];
    loop {
        match http::next_frame(buf, MAX_ANSWER) {
            Ok(Some(n)) => {
                let msg = http::HttpMessage::parse(&buf[..n])
                    .map_err(|e| (format!("answer: {e}"), true))?;
                buf.truncate(n);
                return Ok(msg);
            }
            Ok(None) => {}
            Err(e) => return Err((format!("answer: {e}"), true)),
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                // Closed before a whole answer: a stale keep-alive connection
                // when nothing came (retried once), else a cut answer.
                return Err(("closed before answering".into(), !buf.is_empty()));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err((format!("read: {e}"), true)),
        }
    }
}

/// The PAP result code and push-id of an answer; a non-2xx HTTP status
/// counts as its own code.
fn answer(msg: &http::HttpMessage) -> Option<(u16, Option<String>)> {
    let status = msg.status()?;
    if !(200..300).contains(&status) {
        return Some((status, None));
    }
    match pap::PapMessage::parse(&msg.body).ok()? {
        pap::PapMessage::PushResponse(r) => Some((r.code, Some(r.push_id))),
        pap::PapMessage::BadMessageResponse(b) => Some((b.code, None)),
        _ => None,
    }
}

/// Adds a thread's CPU time to a shared total as it goes.
struct CpuMeter {
    total: Arc<AtomicU64>,
    last: Duration,
}

impl CpuMeter {
    fn new(total: Arc<AtomicU64>) -> CpuMeter {
        CpuMeter {
            total,
            last: super::thread_cpu(),
        }
    }

    fn tick(&mut self) {
        let now = super::thread_cpu();
        let d = now.saturating_sub(self.last);
        self.last = now;
        self.total.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// The harness SMSC's listener: one thread per ESME connection.
fn smsc_accept(
    listener: TcpListener,
    events: mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
    cpu: Arc<AtomicU64>,
) {
    let mut conns = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, _)) => {
                let (events, stop, cpu) = (events.clone(), stop.clone(), cpu.clone());
                conns.push(std::thread::spawn(move || smsc_conn(s, events, stop, cpu)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    for c in conns {
        let _ = c.join();
    }
}

/// One ESME connection: answers binds, submit_sm, enquire_link and unbind;
/// reassembles the pushes.
fn smsc_conn(
    mut s: TcpStream,
    events: mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
    cpu: Arc<AtomicU64>,
) {
    let mut spent = CpuMeter::new(cpu);
    let _ = s.set_nonblocking(false);
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let _ = s.set_write_timeout(Some(EXCHANGE));
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(16 * 1024);
    let mut reasm = wdp::Reassembler::new();
    let mut partial = 0usize;
    let mut message_id: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        spent.tick();
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let mut at = 0;
        out.clear();
        loop {
            let n = match smpp::next_frame(&buf[at..], MAX_PDU) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(_) => {
                    let _ = events.send(Event::Unreadable {
                        raw: buf[at..buf.len().min(at + 64)].to_vec(),
                    });
                    return; // the stream cannot be resynchronised
                }
            };
            let raw = &buf[at..at + n];
            at += n;
            let Ok(pdu) = smpp::Pdu::parse(raw) else {
                let _ = events.send(Event::Unreadable { raw: raw.to_vec() });
                continue;
            };
            let seq = pdu.header.sequence_number;
            use smpp::command as c;
            match pdu.header.command_id {
                c::BIND_TRANSCEIVER | c::BIND_TRANSMITTER | c::BIND_RECEIVER => {
                    out.extend_from_slice(&smpp::bind_resp(&pdu, 0, "liaison"))
                }
                c::ENQUIRE_LINK => out.extend_from_slice(&smpp::enquire_link_resp(seq)),
                c::UNBIND => out.extend_from_slice(&smpp::unbind_resp(seq)),
                c::SUBMIT_SM => {
                    message_id += 1;
                    out.extend_from_slice(&smpp::submit_sm_resp(
                        seq,
                        0,
                        &format!("{message_id:x}"),
                    ));
                    let Some(sm) = pdu.sm() else { continue };
                    match reasm.push(&sm.destination_addr, &sm.short_message, sm.udhi()) {
                        Ok(None) => {
                            partial += 1;
                            if partial > MAX_PARTIAL_SEGMENTS {
                                reasm = wdp::Reassembler::new();
                                partial = 0;
                            }
                        }
                        Ok(Some(d)) => {
                            partial =
                                partial.saturating_sub(usize::from(d.segments).saturating_sub(1));
                            let ev = match wsp::PushPdu::parse(&d.data) {
                                Ok(p)
                                    if p.pdu_type == 0x06 && d.dest_port == smpp::WAP_PUSH_PORT =>
                                {
                                    Event::Delivery {
                                        at: Instant::now(),
                                        number: d.destination,
                                        content: p.body,
                                        raw: d.data,
                                    }
                                }
                                _ => Event::Unreadable { raw: d.data },
                            };
                            let _ = events.send(ev);
                        }
                        Err(_) => {
                            let _ = events.send(Event::Unreadable {
                                raw: sm.short_message.clone(),
                            });
                        }
                    }
                }
                id if id & c::RESP != 0 => {}
                _ => out.extend_from_slice(&smpp::generic_nack(seq, 0x0000_0003)),
            }
        }
        buf.drain(..at);
        if !out.is_empty() && s.write_all(&out).is_err() {
            return;
        }
    }
}

/// What the step knows of each push beyond the ledgers.
#[derive(Clone, Copy, Default)]
struct Push {
    refused: bool,
    delivered: u32,
}

impl Session for PpgLoad {
    fn transport(&self) -> &'static str {
        "tcp"
    }

    fn step(&mut self, plan: &Plan, live: &Live) -> Result<LoadResult, String> {
        let ident = Ident::new(&plan.token);
        let limit = plan.limit();
        let bucket_us = super::im_client::bucket_width(plan);
        let deadline_us = plan.deadline.as_micros() as u64;
        let mut pap_l = Ledger::new(plan.first_id, deadline_us, bucket_us);
        let mut dl = Ledger::new(plan.first_id, deadline_us, bucket_us);
        let mut pushes: Vec<Push> = Vec::new();
        let jobs = self.jobs.as_ref().ok_or("the session has ended")?;
        let cpu0 = super::thread_cpu();
        let helpers0 = self.cpu_ns.load(Ordering::Relaxed);
        let start = Instant::now();
        let us = |t: Instant| t.saturating_duration_since(start).as_micros() as u64;
        let mut sent: u64 = 0;
        let mut last_send_us = 0u64;
        let mut last_outcome_us = 0u64;
        let mut last_rx_us = 0u64;
        let mut unreadable = 0u64;
        let mut settled_at: Option<u64> = None;
        let mut body = Vec::with_capacity(512);
        let mut expected = Vec::with_capacity(512);
        let linger_us = plan.linger.as_micros() as u64;
        loop {
            let now = us(Instant::now());
            let stopping = live.stopped() || super::interrupted();
            // New pushes due by the rate, as long as a connection is free.
            if sent < limit && !stopping {
                loop {
                    let want = ((plan.rate * now as f64 / 1e6) as u64 + 1).min(limit);
                    if sent >= want {
                        break;
                    }
                    let id = pap_l.next_id();
                    let req = submission(&ident, id, &self.url_path, &self.host, &mut body);
                    match jobs.try_send((id, req)) {
                        Ok(()) => {
                            pap_l.sent(now, Expect::Any);
                            dl.sent(now, Expect::Any);
                            pushes.push(Push::default());
                            sent += 1;
                            last_send_us = now;
                        }
                        Err(TrySendError::Full(_)) => break,
                        Err(TrySendError::Disconnected(_)) => {
                            return Err("the PAP connections ended".into())
                        }
                    }
                }
                live.sent.store(sent, Ordering::Relaxed);
            }
            // What came, for up to a millisecond.
            let mut wait = Duration::from_millis(1);
            loop {
                let ev = match self.events.recv_timeout(wait) {
                    Ok(ev) => ev,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err("the harness SMSC ended".into())
                    }
                };
                wait = Duration::ZERO;
                let read_at = us(Instant::now());
                last_rx_us = read_at;
                match ev {
                    Event::Answer {
                        id,
                        at,
                        code,
                        push_id,
                        raw,
                    } => {
                        let at = us(at);
                        let Some(k) = id.checked_sub(plan.first_id).filter(|k| *k < sent) else {
                            continue; // an earlier step's push
                        };
                        let accepts =
                            code == pap::code::OK || code == pap::code::ACCEPTED_FOR_PROCESSING;
                        pap_l.outcome(
                            at,
                            Outcome {
                                id,
                                code,
                                accepts,
                                names: push_id
                                    .as_deref()
                                    .map(|p| ident.find(p.as_bytes()).unwrap_or(u64::MAX)),
                                bytes: &raw,
                            },
                        );
                        last_outcome_us = last_outcome_us.max(at);
                        if !accepts {
                            let p = &mut pushes[k as usize];
                            p.refused = true;
                            if p.delivered > 0 {
                                dl.violated(
                                    at,
                                    Violation::Fabricated,
                                    id,
                                    "nothing at any bearer for a refused push (WAP-247 §9.14)"
                                        .into(),
                                    format!("delivered, then refused with {code}"),
                                    &raw,
                                );
                            } else {
                                dl.outcome(
                                    at,
                                    Outcome {
                                        id,
                                        code,
                                        accepts: false,
                                        names: None,
                                        bytes: &raw,
                                    },
                                );
                            }
                        }
                    }
                    Event::NoAnswer { raw } => {
                        // Its answer stays missing: lost at the deadline.
                        unreadable += 1;
                        pap_l.unreadable(read_at, &raw);
                    }
                    Event::Unreadable { raw } => {
                        unreadable += 1;
                        dl.unreadable(read_at, &raw);
                    }
                    Event::Delivery {
                        at,
                        number: to,
                        content: got,
                        raw,
                    } => {
                        let at = us(at);
                        let Some(id) = ident.find(&got) else {
                            dl.stray(at, 200, &raw);
                            continue;
                        };
                        let Some(k) = id.checked_sub(plan.first_id) else {
                            continue; // an earlier step's push
                        };
                        if k >= sent {
                            dl.stray(at, 200, &raw);
                            continue;
                        }
                        content(&ident, id, &mut expected);
                        let own = number(id);
                        if got != expected || to != own[1..] {
                            dl.violated(
                                at,
                                Violation::Mismatched,
                                id,
                                format!(
                                    "push {id}'s content ({} octets) byte for byte to {}",
                                    expected.len(),
                                    &own[1..]
                                ),
                                format!("{} octets to {to}", got.len()),
                                &raw,
                            );
                        }
                        let p = &mut pushes[k as usize];
                        p.delivered += 1;
                        if p.refused {
                            dl.violated(
                                at,
                                Violation::Fabricated,
                                id,
                                "nothing at any bearer for a refused push (WAP-247 §9.14)".into(),
                                "a delivery at the SMSC".into(),
                                &raw,
                            );
                        } else if p.delivered == 1 {
                            dl.outcome(
                                at,
                                Outcome {
                                    id,
                                    code: 200,
                                    accepts: true,
                                    names: None,
                                    bytes: &raw,
                                },
                            );
                            dl.delivered(at, id, &raw);
                        } else {
                            dl.delivered(at, id, &raw);
                        }
                    }
                }
            }
            let now = us(Instant::now());
            pap_l.expire(now);
            dl.expire(now);
            let (a, b) = (pap_l.counters(), dl.counters());
            live.completed.store(a.completed, Ordering::Relaxed);
            live.lost.store(a.lost + b.lost, Ordering::Relaxed);
            live.violations.store(
                a.mismatched
                    + a.fabricated
                    + a.duplicated
                    + b.mismatched
                    + b.fabricated
                    + b.duplicated,
                Ordering::Relaxed,
            );
            if stopping && super::interrupted() {
                break;
            }
            if (sent >= limit || stopping) && pap_l.outstanding() == 0 && dl.outstanding() == 0 {
                // Quiet for the linger, or (a PPG that never falls quiet)
                // settled for LINGER_CAP lingers.
                let since = *settled_at.get_or_insert(now);
                if now.saturating_sub(last_rx_us.max(last_send_us)) >= linger_us
                    || now.saturating_sub(since) >= super::LINGER_CAP * linger_us
                {
                    break;
                }
            }
        }
        // The step's thread, and the PAP and SMSC threads (up to their last
        // exchange).
        let helpers = self.cpu_ns.load(Ordering::Relaxed) - helpers0;
        let cpu = super::thread_cpu() - cpu0 + Duration::from_nanos(helpers);
        let end_us = us(Instant::now());
        let summary = pap_l.finish();
        let mut r = LoadResult::from_summary(&summary, "PAP answers to push submissions");
        r.add_report(&dl.finish(), "WSP pushes at the SMSC");
        r.unreadable = unreadable;
        r.timing(super::result::StepTiming {
            rate: plan.rate,
            planned: plan.limit(),
            last_send_us,
            last_outcome_us,
            end_us,
            cpu,
        });
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_push_is_a_well_formed_pap_submission() {
        let ident = Ident::new("t0k3n");
        let mut body = Vec::new();
        let req = submission(&ident, 16, "/wappush", "127.0.0.1:8080", &mut body);
        let m = http::HttpMessage::parse(&req).unwrap();
        let parts = pap::parse_multipart(m.header("Content-Type").unwrap(), &m.body).unwrap();
        assert_eq!(parts.len(), 2);
        let pap::PapMessage::PushMessage(p) = pap::PapMessage::parse(&parts[0].body).unwrap()
        else {
            panic!("not a push-message")
        };
        assert_eq!(ident.find(p.push_id.as_bytes()), Some(16));
        assert_eq!(
            p.addresses,
            ["WAPPUSH=+40000000000016/TYPE=PLMN@ppg.liaison.load"]
        );
        assert_eq!(parts[1].body, body);
        assert_eq!(body.len(), 300, "every eighth push is segmented");
        assert_eq!(ident.find(&body), Some(16));
        insta::assert_snapshot!(String::from_utf8(req).unwrap());
    }
}
