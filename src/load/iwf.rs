//! The load driver for an `sms-im-iwf` SUT. The harness plays both of the
//! IWF's peers, the way a real IWF is configured with them (the profile's
//! `iwf:` section): the SMSC (an SMPP 3.4 server the IWF binds to as an
//! ESME with bind_transceiver) and the IMS core (SIP over UDP).
//!
//! At the plan's rate the SMSC sends deliver_sm, each with a sequence
//! number of the harness's own and the message's identity as its text
//! (`ld-RUN-ID.`), asking for an SME delivery acknowledgement
//! (registered_delivery 0x04, SMPP 3.4 §5.2.17) when the profile declares
//! `capabilities.sme_ack` (always for the embedded reference). The IMS core
//! answers each MESSAGE by the mix, reading the identity from its body; a
//! second MESSAGE transaction (another Via branch) for one message is a
//! duplicate delivery; a retransmission (the same branch) is answered again.
//!
//! Two kinds of report are judged, each in a ledger of its own:
//! - **deliver_sm_resp**, by sequence number: ESME_ROK says the IWF took
//!   the SMS as delivered to IM, so it is right only for a message its
//!   recipient accepted (a 2xx, 202 included: 3GPP TS 23.204 §6.14 as the
//!   reference's module doc cites it; DR-21 to DR-23). An error or no
//!   answer must give an error status (ESME_ROK is then `fabricated`).
//!   Codes in the result are the command_status values (0 = ESME_ROK).
//! - **SME acknowledgements** (submit_sm with esm_class 0x08, §5.2.12), by
//!   receipted_message_id against the message id the IWF gave in its
//!   ESME_ROK deliver_sm_resp, else by the identity in the receipt text
//!   (Appendix B `text:`, the first 20 characters of the SMS); when both
//!   are there they must name the same message (else `mismatched`).
//!   DELIVRD (in `stat:` or in message_state 2) is right only for a message
//!   its recipient accepted with a 2xx other than 202 (else `fabricated`,
//!   DR-21/22/23); a receipt saying otherwise for an accepted message is
//!   `mismatched`. Codes are the message_state values (2 = DELIVERED).
//!   Each submit_sm is answered with submit_sm_resp.
//!
//! Deadline: the IWF's Timer F (`iwf.timer_f_ms`, else 64 × `iwf.t1_ms`,
//! else 64 × 500 ms; the embedded reference's 64·T1) plus a margin of a
//! quarter of it or 8·T1, whichever is more, and 250 ms: an IWF retransmits
//! on Timer E doubling up to 8·T1 (the reference caps it so) and may look
//! at Timer F only when its next retransmission is due.
//!
//! Window (SMPP's limit of requests awaiting their response): at most
//! `W = rate × (silent share × deadline + 250 ms)` deliver_sm, and at least
//! 1 000, wait for their deliver_sm_resp at a time: what the rate needs when
//! the IWF answers within 250 ms and the silent ones at its Timer F. Past it
//! the harness makes no new deliver_sm until one is answered (or lost), so a
//! rate the IWF cannot take shows as the achieved rate falling short, not as
//! a backlog in the harness's or the kernel's buffers. What the socket does
//! not take waits in the harness, at most [`TX_CAP`] bytes.
//!
//! End of a step: once every message is sent and every message whose
//! recipient answers has both its reports (or is past its deadline), the
//! harness waits the linger, then sends unbind and reads until unbind_resp
//! (at most [`UNBIND_WAIT`]), judging everything that comes before it, and
//! closes the connection. Messages the mix leaves silent may still be in
//! flight then (their IWF's Timer F has not fired): they count `pending`,
//! and an IWF that reports them delivered at shutdown is caught. Each step
//! (of a stepped search) waits for the IWF to bind again.
//!
//! `--capture` holds the IMS core's SIP datagrams (the SMPP stream is not
//! in it).

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::ledger::{Expect, Ledger, Outcome};
use super::mix::Answer;
use super::record::Recorder;
use super::result::LoadResult;
use super::scan::{self, Ident};
use super::udp::{BatchSocket, BATCH};
use super::{Ctx, Live, Plan, Session};
use crate::codec::smpp::{self, command, esm, state, status, Pdu};

/// Unsent SMPP bytes the harness holds at most before it stops making
/// deliver_sm.
pub const TX_CAP: usize = 1 << 20;
/// The largest SMPP PDU read (SMPP 3.4 sets no limit; a receipt is small).
const MAX_PDU: u32 = 64 * 1024;
/// The harness writes its PDUs when this many bytes wait, or every
/// [`FLUSH_EVERY_US`]: one system call for a few dozen PDUs, not one each.
const FLUSH_AT: usize = 4096;
const FLUSH_EVERY_US: u64 = 1000;
/// Room for one read.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read and not yet framed, at most.
const RX_CAP: usize = 4 << 20;
/// How long the harness waits for unbind_resp.
pub const UNBIND_WAIT: Duration = Duration::from_secs(3);
/// The system_id and password the embedded reference binds with.
const REFERENCE_CREDS: (&str, &str) = ("liaison", "secret");
/// The largest SMPP sequence number (§3.2: 0x00000001 to 0x7FFFFFFF).
const MAX_SEQ: u64 = 0x7FFF_FFFF;

/// A running sms-im-iwf load session.
pub struct IwfLoad {
    listener: TcpListener,
    smsc: SocketAddr,
    ims: BatchSocket,
    ims_addr: SocketAddr,
    creds: (String, String),
    sme_ack: bool,
    /// The IWF's own T1 and Timer F.
    t1: Duration,
    timer_f: Duration,
    bind_wait: Duration,
    /// Numbers the IWF routes over UDP to the core start with this.
    number_prefix: &'static str,
    conn: Option<Conn>,
    _reference: Option<crate::reference::Running>,
    _sut: Option<crate::sut::SutProcess>,
}

/// The IWF's bound SMPP connection.
struct Conn {
    stream: TcpStream,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Room for one read (zeroed once).
    chunk: Box<[u8]>,
    /// The connection ended (closed, reset, unframeable bytes).
    ended: Option<String>,
    /// Since when bytes wait and the peer has taken none of them.
    stalled_since: Option<Instant>,
}

impl Conn {
    /// Writes what the socket takes now.
    fn flush(&mut self) {
        let mut wrote = false;
        while !self.tx.is_empty() && self.ended.is_none() {
            match self.stream.write(&self.tx) {
                Ok(0) => self.ended = Some("the connection closed".into()),
                Ok(n) => {
                    self.tx.drain(..n);
                    wrote = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => self.ended = Some(format!("write: {e}")),
            }
        }
        if wrote || self.tx.is_empty() {
            self.stalled_since = None;
        } else if self.stalled_since.is_none() {
            self.stalled_since = Some(Instant::now());
        }
    }

    /// Ends the connection when the peer has taken none of the bytes
    /// waiting for it for `limit`.
    fn end_if_stalled(&mut self, limit: Duration) {
        if self.ended.is_none() && self.stalled_since.is_some_and(|t| t.elapsed() >= limit) {
            self.ended = Some(format!(
                "the IWF read none of the {} bytes waiting for it for {} ms",
                self.tx.len(),
                limit.as_millis()
            ));
        }
    }

    /// Reads what there is (up to [`RX_CAP`] unframed); true when bytes came.
    /// Nothing while [`TX_CAP`] bytes wait to be written: a peer that does
    /// not read the replies its requests make is not read either (else the
    /// replies pile up without bound).
    fn fill(&mut self) -> bool {
        let mut got = false;
        while self.ended.is_none() && self.rx.len() < RX_CAP && !self.backed_up() {
            let r = self.stream.read(&mut self.chunk);
            match r {
                Ok(0) => self.ended = Some("the IWF closed the connection".into()),
                Ok(n) => {
                    self.rx.extend_from_slice(&self.chunk[..n]);
                    got = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => self.ended = Some(format!("read: {e}")),
            }
        }
        got
    }

    /// Too much waits to be written for more to be read.
    fn backed_up(&self) -> bool {
        self.tx.len() >= TX_CAP
    }

    /// The lengths of the whole PDUs at the front of `rx`, in order.
    fn frames(&mut self, out: &mut Vec<(usize, usize)>) {
        out.clear();
        let mut at = 0;
        loop {
            match smpp::next_frame(&self.rx[at..], MAX_PDU) {
                Ok(Some(n)) => {
                    out.push((at, n));
                    at += n;
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream cannot be resynchronised (SMPP 3.4 §3.2).
                    self.ended = Some(format!("the IWF sent bytes that frame no PDU: {e}"));
                    break;
                }
            }
        }
    }
}

impl IwfLoad {
    /// Listens as the SMSC and the IMS core, starts (or launches) the IWF
    /// and waits for it to bind.
    pub fn start(ctx: &Ctx<'_>) -> Result<IwfLoad, String> {
        let any = SocketAddr::new(ctx.opts.address, 0);
        let (smsc_at, ims_at, creds, sme_ack, t1, timer_f, prefix) = match ctx.profile {
            None => {
                let s = ctx.reference_settings("sms-im-iwf")?;
                let f = crate::reference::sms_iwf::timer_f(s.t1, s.fault);
                let creds = (REFERENCE_CREDS.0.into(), REFERENCE_CREDS.1.into());
                (any, any, creds, true, s.t1, f, "1555")
            }
            Some(p) => {
                let i = p
                    .iwf
                    .as_ref()
                    .ok_or("the profile has no iwf section (the SMSC and IMS core the IWF is configured with)")?;
                let prefix = match (&i.ims_core_tls, &i.tls_prefix) {
                    (Some(_), None) => {
                        return Err("the profile's IWF sends every MESSAGE to iwf.ims_core_tls; `liaison load` plays the IMS core over UDP (iwf.ims_core) only".into())
                    }
                    (Some(_), Some(tp)) if "1555".starts_with(tp.as_str()) || tp.starts_with("1555") => "1999",
                    _ => "1555",
                };
                (
                    i.smsc,
                    i.ims_core,
                    (i.system_id.clone(), i.password.clone()),
                    p.capability("sme_ack"),
                    i.sut_t1(),
                    i.sut_timer_f(),
                    prefix,
                )
            }
        };
        if !crate::net::permitted(smsc_at.ip()) || !crate::net::permitted(ims_at.ip()) {
            return Err(format!(
                "iwf.smsc {smsc_at}, iwf.ims_core {ims_at}: the harness listens on loopback only unless the profile says `network: lab`"
            ));
        }
        let listener = TcpListener::bind(smsc_at)
            .map_err(|e| format!("iwf.smsc: cannot listen on {smsc_at} ({e})"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let smsc = listener.local_addr().map_err(|e| e.to_string())?;
        let ims = BatchSocket::bind(ims_at)
            .map_err(|e| format!("iwf.ims_core: cannot bind {ims_at} ({e})"))?;
        let ims_addr = ims.local_addr().map_err(|e| e.to_string())?;
        let (reference, sut) = match ctx.profile {
            None => {
                let mut s = ctx.reference_settings("sms-im-iwf")?;
                s.iwf = Some(crate::reference::sms_iwf::IwfConfig {
                    smsc,
                    ims_core: ims_addr,
                    system_id: creds.0.clone(),
                    password: creds.1.clone(),
                    domain: "liaison.test".into(),
                    ims_core_tls: None,
                    tls_prefix: None,
                });
                (Some(ctx.start_reference("sms-im-iwf", s)?), None)
            }
            Some(_) => (None, ctx.launch()?),
        };
        let bind_wait = (timer_f * 2).clamp(Duration::from_secs(5), Duration::from_secs(60));
        let mut me = IwfLoad {
            listener,
            smsc,
            ims,
            ims_addr,
            creds,
            sme_ack,
            t1,
            timer_f,
            bind_wait,
            number_prefix: prefix,
            conn: None,
            _reference: reference,
            _sut: sut,
        };
        me.await_bind()?;
        Ok(me)
    }

    /// Accepts connections and answers binds until one binds as a
    /// transceiver with the right credentials (at most `bind_wait`).
    fn await_bind(&mut self) -> Result<(), String> {
        let until = Instant::now() + self.bind_wait;
        let mut pending: Vec<Conn> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut frames = Vec::new();
        while Instant::now() < until {
            loop {
                match self.listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(true);
                        let _ = s.set_nodelay(true);
                        pending.push(Conn {
                            stream: s,
                            rx: Vec::new(),
                            tx: Vec::new(),
                            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
                            ended: None,
                            stalled_since: None,
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
            let mut bound = None;
            for (k, c) in pending.iter_mut().enumerate() {
                c.fill();
                c.frames(&mut frames);
                let mut used = 0;
                for &(at, n) in &frames {
                    used = at + n;
                    let bytes = &c.rx[at..at + n];
                    let Ok(p) = Pdu::parse(bytes) else {
                        seen.push("bytes that are not an SMPP PDU".into());
                        continue;
                    };
                    match (p.header.command_id, &p.body) {
                        (command::BIND_TRANSCEIVER, smpp::Body::Bind(b)) => {
                            let ok = b.system_id == self.creds.0 && b.password == self.creds.1;
                            let st = if ok {
                                status::ESME_ROK
                            } else {
                                seen.push(format!(
                                    "bind_transceiver as system_id {:?} with another password than iwf.password",
                                    b.system_id
                                ));
                                status::ESME_RBINDFAIL
                            };
                            c.tx.extend_from_slice(&smpp::bind_resp(&p, st, "liaison-smsc"));
                            if ok && bound.is_none() {
                                bound = Some(k);
                            }
                        }
                        (command::BIND_TRANSMITTER | command::BIND_RECEIVER, _) => {
                            seen.push(format!(
                                "{} (the load run needs bind_transceiver)",
                                p.name()
                            ));
                            c.tx.extend_from_slice(&smpp::bind_resp(
                                &p,
                                status::ESME_RBINDFAIL,
                                "liaison-smsc",
                            ));
                        }
                        (command::ENQUIRE_LINK, _) => c
                            .tx
                            .extend_from_slice(&smpp::enquire_link_resp(p.header.sequence_number)),
                        (id, _) if id & command::RESP == 0 => {
                            c.tx.extend_from_slice(&smpp::generic_nack(
                                p.header.sequence_number,
                                status::ESME_RINVBNDSTS,
                            ));
                        }
                        _ => {}
                    }
                }
                c.rx.drain(..used);
                c.flush();
                if bound.is_some() {
                    break;
                }
            }
            if let Some(k) = bound {
                self.conn = Some(pending.swap_remove(k));
                return Ok(());
            }
            pending.retain(|c| c.ended.is_none());
            std::thread::sleep(Duration::from_millis(5));
        }
        seen.dedup();
        Err(format!(
            "the IWF did not bind to the harness SMSC at {} (bind_transceiver as {:?}) within {} s{}",
            self.smsc,
            self.creds.0,
            self.bind_wait.as_secs(),
            if seen.is_empty() {
                String::new()
            } else {
                format!("; it sent: {}", seen.join("; "))
            }
        ))
    }
}

/// The deliver_sm for message `id` with sequence number `seq`, appended to
/// `out` (SMPP 3.4 §4.6.1, written field by field): from 15550000000 to
/// `prefix` and seven digits of the identity, asking for an SME delivery
/// acknowledgement when `sme_ack`.
fn deliver_sm(sme_ack: bool, prefix: &str, ident: &Ident, id: u64, seq: u32, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&command::DELIVER_SM.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.push(0); // service_type
    out.extend_from_slice(&[1, 1]); // international, E.164
    out.extend_from_slice(b"15550000000\0");
    out.extend_from_slice(&[1, 1]);
    out.extend_from_slice(prefix.as_bytes());
    let mut n = (id % 10_000_000) + 10_000_000;
    let mut digits = [0u8; 8];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[1..]);
    out.push(0);
    out.push(0); // esm_class
    out.push(0); // protocol_id
    out.push(0); // priority_flag
    out.push(0); // schedule_delivery_time
    out.push(0); // validity_period
    out.push(if sme_ack { 0x04 } else { 0 }); // SME delivery ack
    out.push(0); // replace_if_present_flag
    out.push(0); // data_coding: SMSC default (GSM 7-bit, one septet an octet)
    out.push(0); // sm_default_msg_id
    let len_at = out.len();
    out.push(0);
    ident.write(out, id);
    out.push(b'.');
    let sm_len = out.len() - len_at - 1;
    out[len_at] = sm_len as u8;
    let total = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&total.to_be_bytes());
}

/// The most deliver_sm awaiting their response at a time (module doc).
pub fn window(plan: &Plan) -> u64 {
    let silent: f64 = plan
        .mix
        .shares()
        .iter()
        .filter(|(a, _)| *a == Answer::Silent)
        .map(|(_, pct)| pct / 100.0)
        .sum();
    let w = plan.rate * (silent * plan.deadline.as_secs_f64() + 0.25);
    (w.ceil() as u64).max(1000)
}

/// What a message's recipient does, and what its two reports must say.
fn expectations(answer: Answer) -> (Expect, Expect) {
    match answer {
        Answer::Code(202) => (Expect::Accepted, Expect::NotAccepted),
        Answer::Code(c) if (200..300).contains(&c) => (Expect::Accepted, Expect::Accepted),
        _ => (Expect::NotAccepted, Expect::NotAccepted),
    }
}

/// A SIP response to the MESSAGE `req`: its Via, From, To (with a tag
/// carrying the identity seen), Call-ID and CSeq, as RFC 3261 §8.2.6.2 asks.
fn response(req: &[u8], code: u16, ident: &Ident, id: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(code.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(code).as_bytes());
    out.extend_from_slice(b"\r\n");
    let head = scan::head(req);
    for line in head.split(|c| *c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let is = |l: &str, s: &str| {
            name.eq_ignore_ascii_case(l.as_bytes()) || name.eq_ignore_ascii_case(s.as_bytes())
        };
        if is("Via", "v") || is("From", "f") || is("Call-ID", "i") || is("CSeq", "CSeq") {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        } else if is("To", "t") {
            out.extend_from_slice(line);
            if scan::param(&line[colon + 1..], "tag").is_none() {
                out.extend_from_slice(b";tag=");
                ident.write(out, id);
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        500 => "Server Internal Error",
        603 => "Decline",
        _ => "Status",
    }
}

/// The identity of `text` when it is whole: `ld-RUN-ID` followed by the
/// `.` the harness ends it with (a receipt text cut at 20 characters may
/// have cut its digits).
fn whole_ident(ident: &Ident, text: &[u8]) -> Option<u64> {
    let id = ident.find(text)?;
    let mut tok = Vec::with_capacity(32);
    ident.write(&mut tok, id);
    tok.push(b'.');
    memchr::memmem::find(text, &tok).map(|_| id)
}

/// A 64-bit FNV-1a hash (of a Via branch); 0 stands for none.
fn hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

/// What one step keeps while it runs.
struct Run<'a> {
    plan: &'a Plan,
    ident: Ident,
    resps: Ledger,
    receipts: Option<Ledger>,
    /// The IWF's message ids (from ESME_ROK deliver_sm_resp) → message,
    /// with the order they came in for letting go of old ones.
    ids: HashMap<Box<[u8]>, u64>,
    id_order: VecDeque<(u64, Box<[u8]>)>,
    /// The Via branch (hashed) of each message's first MESSAGE transaction.
    branches: Vec<u64>,
    unreadable: u64,
    last_outcome_us: u64,
    submit_id: u64,
    /// The harness's sequence numbers for this step start here.
    seq0: u64,
}

impl Run<'_> {
    /// One PDU from the IWF; replies (submit_sm_resp, …) go to `tx`.
    fn pdu(&mut self, now: u64, bytes: &[u8], tx: &mut Vec<u8>) -> Option<u32> {
        if bytes.len() < 16 {
            return None;
        }
        let word =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let (cmd, st, seq) = (word(4), word(8), word(12));
        match cmd {
            command::DELIVER_SM_RESP => {
                let off = u64::from(seq).checked_sub(self.seq0);
                let id = off.map(|o| self.plan.first_id + o);
                // message_id: a C-Octet string (§4.6.2), when there is a body.
                let body = &bytes[16..];
                let mid = &body[..memchr::memchr(0, body).unwrap_or(body.len())];
                match id {
                    Some(id) if off.is_some_and(|o| o < self.branches.len() as u64) => {
                        let accepted = st == status::ESME_ROK;
                        self.resps.outcome(
                            now,
                            Outcome {
                                id,
                                code: st.min(u32::from(u16::MAX)) as u16,
                                accepts: accepted,
                                names: None,
                                bytes,
                            },
                        );
                        if accepted && !mid.is_empty() && self.receipts.is_some() {
                            let key: Box<[u8]> = mid.into();
                            self.ids.insert(key.clone(), id);
                            self.id_order.push_back((now, key));
                        }
                    }
                    _ => self
                        .resps
                        .stray(now, st.min(u32::from(u16::MAX)) as u16, bytes),
                }
                self.last_outcome_us = now;
            }
            command::SUBMIT_SM => {
                self.submit_id += 1;
                let mid = format!("ld{}", self.submit_id);
                tx.extend_from_slice(&smpp::submit_sm_resp(seq, status::ESME_ROK, &mid));
                self.receipt(now, bytes);
            }
            command::ENQUIRE_LINK => tx.extend_from_slice(&smpp::enquire_link_resp(seq)),
            command::UNBIND => {
                tx.extend_from_slice(&smpp::unbind_resp(seq));
                self.resps.unreadable(now, bytes);
            }
            command::UNBIND_RESP => return Some(seq),
            c if c & command::RESP != 0 => {
                self.unreadable += 1;
                self.resps.unreadable(now, bytes);
            }
            _ => {
                self.unreadable += 1;
                self.resps.unreadable(now, bytes);
                tx.extend_from_slice(&smpp::generic_nack(seq, status::ESME_RINVCMDID));
            }
        }
        None
    }

    /// A submit_sm: an SME acknowledgement to judge, or something else.
    fn receipt(&mut self, now: u64, bytes: &[u8]) {
        let sm = match Pdu::parse(bytes) {
            Ok(Pdu {
                body: smpp::Body::SubmitSm(sm),
                ..
            }) if esm::message_type(sm.esm_class) == esm::TYPE_DELIVERY_ACK => sm,
            _ => {
                // Not an SME acknowledgement: nothing the load run asked for.
                self.unreadable += 1;
                self.resps.unreadable(now, bytes);
                return;
            }
        };
        let Some(receipts) = self.receipts.as_mut() else {
            // The profile declares no SME acknowledgements; judge none.
            self.unreadable += 1;
            return;
        };
        let text = sm.payload();
        let parsed = smpp::Receipt::parse(text);
        let text_state = parsed.as_ref().and_then(|r| r.state());
        let tlv_state = sm.message_state();
        let delivered = text_state == Some(state::DELIVERED) || tlv_state == Some(state::DELIVERED);
        let code = u16::from(tlv_state.or(text_state).unwrap_or(0));
        let by_id = sm
            .tlv(smpp::tlv::RECEIPTED_MESSAGE_ID)
            .map(|v| &v[..memchr::memchr(0, v).unwrap_or(v.len())])
            .or_else(|| parsed.as_ref().map(|r| r.id.as_bytes()))
            .and_then(|k| self.ids.get(k).copied());
        let names = whole_ident(&self.ident, text);
        match by_id.or(names) {
            Some(id) => receipts.outcome(
                now,
                Outcome {
                    id,
                    code,
                    accepts: delivered,
                    names,
                    bytes,
                },
            ),
            None if delivered => receipts.stray(now, code, bytes),
            None => {
                // Says not delivered, for no message the harness can name.
                self.unreadable += 1;
                receipts.unreadable(now, bytes);
            }
        }
        self.last_outcome_us = now;
    }

    /// Lets go of the message ids given more than twice the deadline ago.
    fn forget_ids(&mut self, now: u64) {
        let keep = 2 * self.plan.deadline.as_micros() as u64;
        while let Some((at, _)) = self.id_order.front() {
            if now.saturating_sub(*at) < keep {
                break;
            }
            if let Some((_, k)) = self.id_order.pop_front() {
                self.ids.remove(&k);
            }
        }
    }

    /// Is message `id` still waiting for a report?
    fn open(&self, id: u64) -> bool {
        self.resps.is_pending(id) || self.receipts.as_ref().is_some_and(|r| r.is_pending(id))
    }
}

/// Waits until `b` (or `a` when `a_in`) can be read, or `a` written when
/// `a_out`, at most `timeout` (µs precision).
fn poll2(a: i32, a_in: bool, a_out: bool, b: i32, timeout: Duration) {
    let mut fds = [
        libc::pollfd {
            // Nothing asked of `a`: left out (its hang-up would wake the poll at once).
            fd: if a_in || a_out { a } else { -1 },
            events: if a_in { libc::POLLIN } else { 0 } | if a_out { libc::POLLOUT } else { 0 },
            revents: 0,
        },
        libc::pollfd {
            fd: b,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let t = timeout.min(Duration::from_secs(1));
    let ts = libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    };
    // SAFETY: two pollfds and one timespec that live across the call; no signal mask.
    unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &ts, std::ptr::null()) };
}

impl Session for IwfLoad {
    fn transport(&self) -> &'static str {
        "smpp+udp"
    }

    fn deadline(&self, _timer_f: Duration) -> Duration {
        let margin = (self.timer_f / 4).max(self.t1 * 8) + Duration::from_millis(250);
        self.timer_f + margin
    }

    fn step(&mut self, plan: &Plan, live: &Live) -> Result<LoadResult, String> {
        if self.conn.is_none() {
            self.await_bind()?;
        }
        let limit = plan.limit();
        if limit + 2 > MAX_SEQ {
            return Err(format!(
                "{limit} messages in one step: SMPP sequence numbers go up to {MAX_SEQ}"
            ));
        }
        let deadline_us = plan.deadline.as_micros() as u64;
        let bucket_us = super::im_client::bucket_width(plan);
        let mut run = Run {
            plan,
            ident: Ident::new(&plan.token),
            resps: Ledger::new(plan.first_id, deadline_us, bucket_us),
            receipts: self
                .sme_ack
                .then(|| Ledger::new(plan.first_id, deadline_us, bucket_us)),
            ids: HashMap::new(),
            id_order: VecDeque::new(),
            branches: Vec::with_capacity(limit.min(1 << 24) as usize),
            unreadable: 0,
            last_outcome_us: 0,
            submit_id: 0,
            seq0: 1,
        };
        let mut rec =
            Recorder::new(plan.capture, &plan.pcap).map_err(|e| format!("capture: {e}"))?;
        let cpu0 = super::thread_cpu();
        let start = Instant::now();
        let now_us = || start.elapsed().as_micros() as u64;
        let mut conn = self.conn.take().ok_or("no IWF is bound")?;
        let tcp_fd = conn.stream.as_raw_fd();
        let udp_fd = self.ims.as_raw_fd();
        let mut sent: u64 = 0;
        let mut last_send_us = 0u64;
        let mut last_flush = 0u64;
        // Messages whose recipient answers, oldest first, until both reports came.
        let mut answered: VecDeque<u64> = VecDeque::new();
        let mut settled_at: Option<u64> = None;
        let mut unbind_at: Option<u64> = None;
        let mut unbind_note: Option<String> = None;
        let mut frames = Vec::new();
        let mut replies: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(512)).collect();
        let mut reply_to: Vec<SocketAddr> = Vec::with_capacity(BATCH);
        let linger_us = plan.linger.as_micros() as u64;
        let window = window(plan);
        let unbind_seq = (limit + 1) as u32;
        loop {
            let now = now_us();
            let stopping = live.stopped() || super::interrupted();
            // New deliver_sm due by the rate.
            if sent < limit && !stopping && unbind_at.is_none() && conn.ended.is_none() {
                let want = ((plan.rate * now as f64 / 1e6) as u64 + 1).min(limit);
                let c = run.resps.counters();
                let answered_or_lost = c.completed + c.lost + c.late;
                while sent < want
                    && conn.tx.len() < TX_CAP
                    && sent - answered_or_lost.min(sent) < window
                {
                    let id = run.resps.next_id();
                    let (e1, e2) = expectations(plan.mix.answer(id));
                    let seq = (run.seq0 + sent) as u32;
                    deliver_sm(
                        self.sme_ack,
                        self.number_prefix,
                        &run.ident,
                        id,
                        seq,
                        &mut conn.tx,
                    );
                    run.resps.sent(now, e1);
                    if let Some(r) = run.receipts.as_mut() {
                        r.sent(now, e2);
                    }
                    run.branches.push(0);
                    if plan.mix.answer(id) != Answer::Silent {
                        answered.push_back(id);
                    }
                    sent += 1;
                    last_send_us = now;
                }
                live.sent.store(sent, Ordering::Relaxed);
            }
            if conn.tx.len() >= FLUSH_AT || now_us() >= last_flush + FLUSH_EVERY_US {
                conn.flush();
                last_flush = now_us();
            }
            // The IWF's PDUs, at the time they were read (after this
            // iteration's sends: the time the loop began would come before
            // them, and the latency out as nothing).
            let mut got = conn.fill();
            let now = now_us();
            conn.frames(&mut frames);
            let mut used = 0;
            let mut unbound = false;
            let rx = std::mem::take(&mut conn.rx);
            for &(at, n) in &frames {
                used = at + n;
                if run.pdu(now, &rx[at..at + n], &mut conn.tx) == Some(unbind_seq) {
                    unbound = true;
                    break;
                }
            }
            conn.rx = rx;
            conn.rx.drain(..used);
            // The MESSAGEs.
            for _ in 0..super::udp::PASS_BATCHES {
                let n = self
                    .ims
                    .recv_batch()
                    .map_err(|e| format!("IMS core receive: {e}"))?;
                if n == 0 {
                    break;
                }
                got = true;
                let now = now_us();
                reply_to.clear();
                for i in 0..n {
                    let (bytes, from) = self.ims.datagram(i);
                    rec.datagram(now, from, self.ims_addr, bytes);
                    if !bytes.starts_with(b"MESSAGE ") {
                        if scan::status(bytes).is_none() && !bytes.starts_with(b"ACK ") {
                            run.unreadable += 1;
                            run.resps.unreadable(now, bytes);
                        }
                        continue;
                    }
                    let Some(id) = run.ident.find(scan::body(bytes)) else {
                        run.unreadable += 1;
                        run.resps.unreadable(now, bytes);
                        let k = reply_to.len();
                        response(bytes, 404, &run.ident, 0, &mut replies[k]);
                        reply_to.push(from);
                        continue;
                    };
                    let branch = scan::top_via_branch(bytes).map_or(1, hash);
                    let off = id.wrapping_sub(plan.first_id) as usize;
                    if let Some(b) = run.branches.get_mut(off)
                        && *b != branch
                    {
                        if *b != 0 {
                            // Another transaction for it: counted by the ledger.
                        }
                        *b = branch;
                        run.resps.delivered(now, id, bytes);
                    }
                    if let Answer::Code(c) = plan.mix.answer(id) {
                        let k = reply_to.len();
                        response(bytes, c, &run.ident, id, &mut replies[k]);
                        reply_to.push(from);
                    }
                }
                let out: Vec<(&[u8], SocketAddr)> = replies
                    .iter()
                    .zip(reply_to.iter())
                    .map(|(b, a)| (&b[..], *a))
                    .collect();
                let mut done = 0;
                while done < out.len() {
                    let w = self
                        .ims
                        .send_batch(&out[done..])
                        .map_err(|e| format!("IMS core send: {e}"))?;
                    for (b, a) in &out[done..done + w] {
                        rec.datagram(now, self.ims_addr, *a, b);
                    }
                    done += w;
                    if w == 0 {
                        self.ims.wait(Duration::from_millis(1));
                    }
                }
                if n < BATCH {
                    break;
                }
            }
            if conn.tx.len() >= FLUSH_AT || now_us() >= last_flush + FLUSH_EVERY_US {
                conn.flush();
                last_flush = now_us();
            }
            let now = now_us();
            run.resps.expire(now);
            if let Some(r) = run.receipts.as_mut() {
                r.expire(now);
            }
            run.forget_ids(now);
            let c = run.resps.counters();
            let r = run
                .receipts
                .as_ref()
                .map(|r| r.counters().clone())
                .unwrap_or_default();
            live.completed.store(c.completed, Ordering::Relaxed);
            live.lost.store(c.lost + r.lost, Ordering::Relaxed);
            live.violations.store(
                c.mismatched
                    + c.fabricated
                    + c.duplicated
                    + r.mismatched
                    + r.fabricated
                    + r.duplicated,
                Ordering::Relaxed,
            );
            if unbound {
                break;
            }
            // An IWF that reads nothing for a deadline takes no more messages.
            conn.end_if_stalled(plan.deadline);
            if conn.ended.is_some() && unbind_at.is_none() {
                // The IWF went away: what it still owed stays unanswered.
                if run.resps.outstanding() == 0 || stopping || now > last_send_us + deadline_us {
                    break;
                }
            }
            // Everything sent and every answered message settled: linger, unbind.
            while let Some(&id) = answered.front() {
                if run.open(id) {
                    break;
                }
                answered.pop_front();
            }
            let settled = (sent >= limit || stopping) && answered.is_empty();
            if settled && unbind_at.is_none() {
                let since = *settled_at.get_or_insert(now);
                if now.saturating_sub(since) >= linger_us || super::interrupted() {
                    conn.tx.extend_from_slice(&smpp::unbind(unbind_seq));
                    conn.flush();
                    unbind_at = Some(now);
                }
            }
            if let Some(u) = unbind_at {
                if now.saturating_sub(u) >= UNBIND_WAIT.as_micros() as u64 {
                    unbind_note = Some(format!(
                        "no unbind_resp within {} s of the harness's unbind",
                        UNBIND_WAIT.as_secs()
                    ));
                    break;
                }
                if let Some(e) = &conn.ended {
                    unbind_note = Some(format!("no unbind_resp: {e}"));
                    break;
                }
            }
            if !got {
                let mut next = u64::MAX;
                // With the send buffer full, the poll waits for the socket
                // to take more (POLLOUT), not for the rate.
                let c = run.resps.counters();
                let open = sent - (c.completed + c.lost + c.late).min(sent);
                if sent < limit
                    && !stopping
                    && unbind_at.is_none()
                    && conn.ended.is_none()
                    && conn.tx.len() < TX_CAP
                    && open < window
                {
                    next = ((sent + 1) as f64 / plan.rate * 1e6) as u64;
                }
                if !conn.tx.is_empty() {
                    next = next.min(last_flush + FLUSH_EVERY_US);
                }
                let wait =
                    Duration::from_micros(next.saturating_sub(now)).min(Duration::from_millis(20));
                if wait > Duration::ZERO {
                    let read = conn.ended.is_none() && !conn.backed_up();
                    poll2(tcp_fd, read, conn.tx.len() >= FLUSH_AT, udp_fd, wait);
                }
            }
        }
        // The connection ended before the harness's unbind: how, in the result.
        let ended = conn.ended.take().filter(|_| unbind_at.is_none());
        // The connection ends with the step; the next step waits for a bind.
        drop(conn);
        let cpu = super::thread_cpu() - cpu0;
        let end_us = now_us();
        let summary = run.resps.finish();
        let mut r = LoadResult::from_summary(&summary, "deliver_sm_resp (command_status)");
        if let Some(mut receipts) = run.receipts.take() {
            r.add_report(
                &receipts.finish(),
                "SME delivery acknowledgements (message_state)",
            );
        }
        if let Some(note) = unbind_note {
            r.findings.push(super::ledger::Finding {
                kind: "unbind".into(),
                message: 0,
                expected: "unbind_resp to the harness's unbind (SMPP 3.4 §4.2)".into(),
                came: note,
                bytes: String::new(),
            });
        }
        if let Some(e) = ended {
            r.findings.push(super::ledger::Finding {
                kind: "connection".into(),
                message: 0,
                expected: "the IWF's SMPP session open until the harness's unbind (SMPP 3.4 §4.2)"
                    .into(),
                came: e,
                bytes: String::new(),
            });
        }
        r.unreadable = run.unreadable;
        r.timing(super::result::StepTiming {
            rate: plan.rate,
            planned: plan.limit(),
            last_send_us,
            last_outcome_us: run.last_outcome_us,
            end_us,
            cpu,
        });
        r.captured(rec.finish()?);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deliver_sm_is_what_the_codec_reads() {
        let ident = Ident::new("ab12");
        let mut out = Vec::new();
        deliver_sm(true, "1555", &ident, 42, 7, &mut out);
        deliver_sm(true, "1555", &ident, 1_234_567_890, 8, &mut out);
        let n = smpp::next_frame(&out, MAX_PDU).unwrap().unwrap();
        let p = Pdu::parse(&out[..n]).unwrap();
        assert_eq!(p.header.sequence_number, 7);
        let sm = p.sm().unwrap();
        assert_eq!(sm.short_message, b"ld-ab12-42.");
        assert_eq!(sm.destination_addr, "15550000042");
        assert_eq!(sm.registered_delivery, 0x04);
        let p2 = Pdu::parse(&out[n..]).unwrap();
        assert_eq!(p2.sm().unwrap().destination_addr, "15554567890");
        assert_eq!(
            whole_ident(&ident, b"id:x stat:DELIVRD text:ld-ab12-42."),
            Some(42)
        );
        assert_eq!(whole_ident(&ident, b"text:ld-ab12-4"), None);
    }

    #[test]
    fn the_response_echoes_the_transaction() {
        let ident = Ident::new("ab12");
        let req = b"MESSAGE sip:+15550000042@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:+15550000042@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 11\r\n\r\nld-ab12-42.";
        let mut out = Vec::new();
        response(req, 486, &ident, 42, &mut out);
        assert_eq!(scan::status(&out), Some(486));
        assert_eq!(scan::top_via_branch(&out), Some(&b"z9hG4bKx"[..]));
        assert_eq!(ident.find(scan::to_tag(&out).unwrap()), Some(42));
        assert_eq!(scan::header(&out, "Call-ID", Some("i")), Some(&b"c1"[..]));
    }
}
