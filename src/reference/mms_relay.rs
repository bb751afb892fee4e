//! The reference MMS Relay/Server (the MMS Proxy-Relay of OMA MMS CTR/ENC):
//! MM1 over HTTP in, notifications and delivery reports out as OMA Push —
//! WSP push over SMS (SMPP to the harness SMSC) for MSISDNs, Push over SIP
//! (a SIP MESSAGE to the harness device) for SIP URIs.
//!
//! **MM1** (OMA MMS ENC 1.3 §6, over HTTP as CTR describes): the client
//! POSTs PDUs (`application/vnd.wap.mms-message`) to `/mms` and GETs an MM
//! from the Content-Location of its notification. With TLS material
//! (`Settings.tls`) it takes MM1 over TLS as well (RFC 2818), on a second
//! listener of the same IP (`https://ADDR/mms`): the same exchanges, after a
//! handshake bounded by `tls::HANDSHAKE`. An MM submitted over TLS is
//! announced with an `https://` Content-Location on that listener (a choice
//! of this relay; MMs stay retrievable over plain HTTP too). A connection
//! whose first bytes cannot start an HTTP request (a TLS ClientHello on the
//! plain port) gets a 400 at once.
//!
//! | request | answer |
//! |---|---|
//! | POST M-Send.req | 200 with M-Send.conf: Ok and a Message-ID; Error-permanent-sending-address-unresolved (0xE3) when a recipient cannot be resolved (nothing is sent then); Error-permanent-service-denied for an Insert-address From (no network identity on this MM1); Error-permanent-message-format-corrupt without From or content |
//! | POST M-NotifyResp.ind | 204; Retrieved, Rejected (and any status but Deferred) close the recipient's delivery and give the originator an M-Delivery.ind when it asked for one |
//! | POST M-Acknowledge.ind | 204; the MM was retrieved (deferred retrieval), as above |
//! | GET Content-Location | 200 with M-Retrieve.conf; 404 for an unknown location |
//! | anything else | 400, 404 or 405 with a text/plain reason |
//!
//! **Addresses** (ENC §8, and the SIP URI forms the suite knows): `+number/TYPE=PLMN`
//! → SMS; an RFC 2822 mailbox → accepted and left to MM3/MM4 (out of scope here:
//! nothing is sent); a bare `sip:`/`sips:` URI or `escaped-value/TYPE=SIP` whose
//! value is one → Push over SIP; `tel:+number` → SMS. A SIP URI must have a host
//! (RFC 3261 §25.1, checked loosely: user part of unreserved, escaped and
//! user-unreserved characters; a host name, IPv4 or `[IPv6]`, optional port;
//! well-formed `;` parameters). Anything else is unresolved. The addresses are
//! kept as received (the Encoded-string text) and written back exactly so in
//! the notification, the retrieved MM and the delivery report.
//!
//! **Notifications** (ENC §6.2): Transaction-ID per recipient, Message-Class
//! Personal, Message-Size (the encoded body), Expiry one day (relative),
//! Content-Location `http://ADDR/mms/m/<tid>`, From and Subject as sent, and
//! X-Mms-Delivery-Report Yes when the originator asked for a report. Over SMS:
//! a connectionless WSP Push (content type 0x3E, X-Wap-Application-Id mms.ua =
//! 4) in WDP over SMS to port 2948 from 9200, segmented like the reference PPG.
//! Over SIP: MESSAGE with the recipient URI as Request-URI and To,
//! `Accept-Contact: *;+g.oma.pusheventapp="mms.ua";require;explicit`,
//! Content-Type application/vnd.wap.mms-message, the PDU as body; retransmitted
//! per RFC 3261 §17.1.2.2 until a final response or Timer F. Both bearers are
//! the PPG's too: `sms_bearer.rs` (the ESME and the packing), `sip_uac.rs`.
//!
//! **Delivery reports** (ENC §6.5, TS 23.140 §8.1.5): pushed to the originator
//! like a notification (SMS for an MSISDN, SIP for a SIP URI), only once the
//! recipient has answered, with the status it gave.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

mod mm3;
mod sips;

use super::sip_uac::{self, SipUac};
use super::sms_bearer::{SmsBearer, PUSH_PORTS};
use super::Settings;
use crate::codec::http::{self, HttpMessage};
use crate::codec::mms::{
    Address, Body, ContentType, EncodedString, Field, FromValue, Header, MessageType, Pdu,
    PduBuilder, ResponseStatus, Status, TimeValue,
};
use crate::codec::sip;
use crate::codec::smpp::{Bind, Sm};
use crate::codec::wsp::{self, AppId, WspHeader};

/// Where the reference relay sends its pushes (the harness plays both bearers).
#[derive(Debug, Clone)]
pub struct MmsRelayConfig {
    /// The SMSC it binds to as an ESME (bind_transceiver), and the credentials.
    pub smsc: SocketAddr,
    pub system_id: String,
    pub password: String,
    /// Where its Push over SIP MESSAGEs go (UDP).
    pub sip_device: SocketAddr,
    /// Where the MESSAGEs for `sips:` recipients go over TLS (RFC 3261
    /// §26.2.2), when it has TLS material. Without it, a `sips:` recipient
    /// is not notified (never in the clear).
    pub sip_device_tls: Option<SocketAddr>,
}

/// The largest message its MM3 interface takes (declared as SIZE).
pub const MM3_MAX_MESSAGE: usize = mm3::MAX_MESSAGE;
/// The MM1 path (the MMS Proxy-Relay URL is `http://ADDR/mms`).
pub const MM1_PATH: &str = "/mms";
/// The largest MM1 request it reads.
const MAX_REQUEST: usize = 4 << 20;
/// A keep-alive connection with nothing to read for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// Bound on writing one answer.
const IO_BOUND: Duration = Duration::from_secs(5);
/// The SMS source address it submits with.
const SOURCE_ADDR: &str = "6677";
const MMS_TYPE: &str = "application/vnd.wap.mms-message";

use super::lock;

/// Starts the relay: its MM1 listener at `listen` (port 0 picks one). Returns
/// the MM1 address (the URL is `http://ADDR/mms`) and the tasks.
pub async fn start(
    listen: SocketAddr,
    cfg: MmsRelayConfig,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    start_all(listen, cfg, settings)
        .await
        .map(|(a, t)| (a.mm1, t))
}

/// Where the relay listens.
#[derive(Debug, Clone, Copy)]
pub struct RelayAddresses {
    /// MM1 over HTTP: `http://ADDR/mms`.
    pub mm1: SocketAddr,
    /// MM1 over TLS (RFC 2818), when it has TLS material: `https://ADDR/mms`.
    pub mm1_https: Option<SocketAddr>,
    /// MM3 (SMTP).
    pub mm3: SocketAddr,
}

/// [`start`], with the MM3 interface too (SMTP on a free port of the same
/// IP, see `mm3.rs`) and MM1 over TLS on a second listener of the same IP
/// when `settings` carries TLS material.
pub async fn start_all(
    listen: SocketAddr,
    cfg: MmsRelayConfig,
    settings: Settings,
) -> std::io::Result<(RelayAddresses, Vec<JoinHandle<()>>)> {
    let mm3 = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
    let mm3_addr = mm3.local_addr()?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let tls_config = settings.tls.as_ref().and_then(|t| t.server_config().ok());
    let secure = match tls_config {
        Some(c) => Some((TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?, c)),
        None => None,
    };
    let https_addr = secure.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
    let (sip, mut tasks) = SipUac::start(addr, cfg.sip_device, settings.t1).await?;
    let bind = Bind {
        system_id: cfg.system_id.clone(),
        password: cfg.password.clone(),
        ..Bind::default()
    };
    let (sms, sms_task) = SmsBearer::start(cfg.smsc, bind, SOURCE_ADDR);
    let tls_client = settings.tls.as_ref().and_then(|t| t.client_config().ok());
    let sips = match (cfg.sip_device_tls, tls_client) {
        (Some(at), Some(c)) => {
            let (u, t) = sips::SipsUac::start(at, c);
            tasks.push(t);
            Some(u)
        }
        _ => None,
    };
    let shared = Arc::new(Shared {
        s: settings,
        addr,
        https_addr,
        sip,
        sips,
        sms,
        store: Mutex::default(),
        next: AtomicU64::new(0),
    });
    if let Some((l, config)) = secure {
        tasks.push(if shared.s.has_fault("mm1-https-plaintext") {
            // Fault: the HTTPS port speaks plain HTTP (TLS left off there).
            tokio::spawn(accept_loop(l, shared.clone()))
        } else {
            let sh = shared.clone();
            tokio::spawn(super::tls::accept_loop(l, config, move |tls| {
                serve_http(tls, sh.clone(), true)
            }))
        });
    }
    tasks.extend([
        tokio::spawn(accept_loop(listener, shared.clone())),
        tokio::spawn(mm3::accept_loop(mm3, shared)),
        sms_task,
    ]);
    Ok((
        RelayAddresses {
            mm1: addr,
            mm1_https: https_addr,
            mm3: mm3_addr,
        },
        tasks,
    ))
}

struct Shared {
    s: Settings,
    addr: SocketAddr,
    /// MM1 over TLS, when it has TLS material.
    https_addr: Option<SocketAddr>,
    /// The Push over SIP bearer.
    sip: SipUac,
    /// Push over SIP over TLS, for `sips:` recipients.
    sips: Option<sips::SipsUac>,
    /// The WSP push over SMS bearer.
    sms: SmsBearer,
    store: Mutex<Store>,
    /// Message and transaction numbering.
    next: AtomicU64,
}

/// Where a terminal is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// WSP push over SMS to this number (digits).
    Sms(String),
    /// Push over SIP to this URI.
    Sip(String),
    /// An e-mail address: MM3/MM4, nothing to push here.
    Mail,
}

/// One MM the relay holds.
#[derive(Debug, Clone)]
struct Stored {
    message_id: String,
    from: EncodedString,
    to: Vec<EncodedString>,
    cc: Vec<EncodedString>,
    subject: Option<EncodedString>,
    date: u64,
    content_type: ContentType,
    body: Body,
    delivery_report: bool,
    /// Written into the notification and the retrieved MM as they are (the
    /// X-Mms-Applic-ID family of an MM that came over MM3).
    extra: Vec<Header>,
    /// It came over MM1 over TLS: its recipients get an `https://`
    /// Content-Location (this relay's choice; see [`Shared::notification`]).
    secure: bool,
}

/// One recipient's copy of an MM.
#[derive(Debug, Clone)]
struct Delivery {
    message_id: String,
    /// The recipient's address as the originator wrote it.
    recipient: EncodedString,
    /// The recipient answered (retrieved, rejected…): no report after this one.
    closed: bool,
    reported: bool,
}

#[derive(Default)]
struct Store {
    messages: HashMap<String, Stored>,
    /// By the notification's Transaction-ID (also the Content-Location's last segment).
    deliveries: HashMap<String, Delivery>,
}

/// What to push once the HTTP answer is written.
enum Push {
    Sms(Vec<Sm>),
    Sip(sip_uac::Request),
    /// A whole MESSAGE for the TLS connection.
    Sips(Vec<u8>),
}

struct Outcome {
    reply: Vec<u8>,
    close: bool,
    pushes: Vec<Push>,
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_http(stream, sh.clone(), false));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Can `buf` begin an HTTP request? A request line starts with a method
/// token; empty lines before it are allowed (RFC 9112 §2.2). Anything else
/// (a TLS ClientHello, binary) is answered 400 at once rather than waited on.
fn may_be_request(buf: &[u8]) -> bool {
    buf.iter()
        .find(|b| !matches!(b, b'\r' | b'\n'))
        .is_none_or(|b| b.is_ascii_alphabetic())
}

/// One MM1 connection (`secure`: it came over TLS): every whole request in
/// order (keep-alive), each answered before the pushes it causes go out.
async fn serve_http<S>(mut stream: S, sh: Arc<Shared>, secure: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        loop {
            match http::next_frame(&buf, MAX_REQUEST) {
                Ok(Some(n)) if n > 0 => {
                    let raw: Vec<u8> = buf.drain(..n.min(buf.len())).collect();
                    let out = match HttpMessage::parse(&raw) {
                        Ok(req) => sh.handle(&req, secure),
                        Err(e) => Outcome {
                            reply: plain(400, &format!("{e}\n")),
                            close: true,
                            pushes: Vec::new(),
                        },
                    };
                    let sent = tokio::time::timeout(IO_BOUND, stream.write_all(&out.reply)).await;
                    // Pushed once answered: the client hears M-Send.conf first.
                    sh.dispatch(out.pushes);
                    if out.close || !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Ok(_) if may_be_request(&buf) => break,
                Ok(_) => {
                    let _ = tokio::time::timeout(
                        IO_BOUND,
                        stream.write_all(&plain(400, "not an HTTP request\n")),
                    )
                    .await;
                    return;
                }
                Err(e) => {
                    let _ = tokio::time::timeout(
                        IO_BOUND,
                        stream.write_all(&plain(400, &format!("{e}\n"))),
                    )
                    .await;
                    return;
                }
            }
        }
        match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

fn plain(status: u16, text: &str) -> Vec<u8> {
    http::response(
        status,
        http::reason_phrase(status),
        &[("Content-Type", "text/plain")],
        text.as_bytes(),
    )
}

fn mms_reply(pdu: &[u8]) -> Vec<u8> {
    http::response(200, "OK", &[("Content-Type", MMS_TYPE)], pdu)
}

fn closes(req: &HttpMessage) -> bool {
    req.headers_named("Connection")
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

fn path_of(target: &str) -> &str {
    let t = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    t.split(['?', '#']).next().unwrap_or(t)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Shared {
    /// Hands pushes to their bearers.
    fn dispatch(&self, pushes: Vec<Push>) {
        for p in pushes {
            match p {
                Push::Sms(sms) => self.sms.submit(sms),
                Push::Sip(req) => self.sip.send(req),
                Push::Sips(msg) => {
                    if let Some(u) = &self.sips {
                        u.send(msg);
                    }
                }
            }
        }
    }

    /// One MM1 request (`secure`: it came over TLS).
    fn handle(&self, req: &HttpMessage, secure: bool) -> Outcome {
        let close = closes(req);
        let path = path_of(req.target().unwrap_or_default());
        let reply = |r: Vec<u8>| Outcome {
            reply: r,
            close,
            pushes: Vec::new(),
        };
        let retrieve_prefix = format!("{MM1_PATH}/m/");
        match (req.method(), path) {
            (Some("GET"), p) if p.starts_with(&retrieve_prefix) => {
                reply(self.retrieve(&p[retrieve_prefix.len()..]))
            }
            (Some("POST"), p) if p == MM1_PATH => {
                let pdu = match Pdu::parse(&req.body) {
                    Ok(p) => p,
                    Err(e) => return reply(plain(400, &format!("not an MMS PDU: {e}\n"))),
                };
                let (bytes, pushes) = match pdu.message_type() {
                    Some(MessageType::SEND_REQ) => self.send_req(&pdu, secure),
                    Some(MessageType::NOTIFYRESP_IND) => (
                        http::response(204, "No Content", &[], b""),
                        self.answered(&pdu),
                    ),
                    Some(MessageType::ACKNOWLEDGE_IND) => (
                        http::response(204, "No Content", &[], b""),
                        self.answered(&pdu),
                    ),
                    Some(t) => (
                        plain(400, &format!("{t} is not a PDU an MMS client sends\n")),
                        Vec::new(),
                    ),
                    None => (plain(400, "no message type\n"), Vec::new()),
                };
                Outcome {
                    reply: bytes,
                    close,
                    pushes,
                }
            }
            (Some("GET") | Some("POST"), _) => reply(plain(404, "not an MM1 URL of this relay\n")),
            _ => reply(http::response(
                405,
                http::reason_phrase(405),
                &[("Allow", "GET, POST"), ("Content-Type", "text/plain")],
                b"MM1 takes GET and POST\n",
            )),
        }
    }

    fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// M-Send.conf for `tid` with `st` (and a reason text when not Ok).
    fn conf(
        &self,
        tid: &str,
        st: ResponseStatus,
        text: Option<&str>,
        mid: Option<&str>,
    ) -> Vec<u8> {
        let s = &self.s;
        let mut b = if s.has_fault("wrong-message-type") {
            // Fault: the answer says it is an M-Retrieve.conf.
            PduBuilder::new(MessageType::RETRIEVE_CONF)
                .transaction_id(tid)
                .response_status(st)
        } else {
            PduBuilder::send_conf(tid, st)
        };
        if let Some(t) = text {
            b = b.response_text(t);
        }
        if let Some(m) = mid {
            b = b.message_id(m);
        }
        let mut bytes = b.encode();
        if s.has_fault("truncated-conf") {
            // Fault: the PDU is cut inside its last value (no closing NUL).
            let cut = bytes.len().saturating_sub(3).max(1);
            bytes.truncate(cut);
        }
        bytes
    }

    // -----------------------------------------------------------------------
    // M-Send.req
    // -----------------------------------------------------------------------

    fn send_req(&self, pdu: &Pdu, secure: bool) -> (Vec<u8>, Vec<Push>) {
        let s = &self.s;
        let tid = pdu.transaction_id().unwrap_or_default().to_string();
        let refuse = |st: ResponseStatus, why: &str| {
            (mms_reply(&self.conf(&tid, st, Some(why), None)), Vec::new())
        };
        let from = match pdu.from() {
            Some(FromValue::Address(a)) => a.clone(),
            Some(FromValue::InsertAddress) => {
                return refuse(
                    ResponseStatus::PERMANENT_SERVICE_DENIED,
                    "Insert-address: this relay has no network-provided originator identity",
                )
            }
            None => {
                return refuse(
                    ResponseStatus::PERMANENT_MESSAGE_FORMAT_CORRUPT,
                    "no From header",
                )
            }
        };
        let (Some(content_type), Some(body)) = (pdu.content_type(), pdu.body.as_ref()) else {
            return refuse(
                ResponseStatus::PERMANENT_MESSAGE_FORMAT_CORRUPT,
                "no content (Content-Type and body)",
            );
        };
        let to: Vec<EncodedString> = pdu.to().into_iter().cloned().collect();
        let cc: Vec<EncodedString> = pdu.cc().into_iter().cloned().collect();
        let bcc: Vec<EncodedString> = pdu.bcc().into_iter().cloned().collect();
        let all: Vec<EncodedString> = to.iter().chain(&cc).chain(&bcc).cloned().collect();
        if all.is_empty() {
            return refuse(
                ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
                "no recipient (To, Cc or Bcc)",
            );
        }
        let mut routes = Vec::new();
        for a in &all {
            match resolve(&a.text) {
                Ok(Route::Sip(_)) if s.has_fault("sip-uri-rejected") => {
                    return refuse(
                        ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
                        &format!("unknown address type: {}", a.text),
                    )
                }
                Ok(r) => routes.push((a.clone(), r)),
                // Fault malformed-accepted: what it cannot resolve, it drops silently.
                Err(_) if s.has_fault("malformed-accepted") => {}
                Err(why) => {
                    return refuse(
                        ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
                        &format!("{}: {why}", a.text),
                    )
                }
            }
        }
        let n = self.next_id();
        let message_id = format!("liaison-mm-{n}-{}", sip::token());
        let stored = Stored {
            message_id: message_id.clone(),
            from,
            to,
            cc,
            subject: pdu.subject().cloned(),
            date: pdu.date().unwrap_or_else(now_secs),
            content_type: content_type.clone(),
            body: body.clone(),
            delivery_report: pdu.delivery_report() == Some(crate::codec::mms::YesNo::YES),
            extra: Vec::new(),
            secure,
        };
        let size = {
            let mut v = Vec::new();
            stored.body.encode(&mut v);
            v.len() as u64
        };
        let mut pushes = Vec::new();
        let mut notified = 0;
        for (addr, route) in routes {
            if route == Route::Mail {
                continue;
            }
            if notified > 0 && s.has_fault("first-recipient-only") {
                continue;
            }
            notified += 1;
            let (tid, notification) = self.new_copy(&stored, &addr, size);
            pushes.push(self.push_to(&route, &notification));
            if s.has_fault("delivery-report-early") && stored.delivery_report {
                // Fault: the report goes out with the notification.
                if let Some(d) = lock(&self.store).deliveries.get_mut(&tid) {
                    d.reported = true;
                }
                pushes.extend(self.report(&stored, &addr, Status::RETRIEVED));
            }
        }
        lock(&self.store)
            .messages
            .insert(message_id.clone(), stored);
        (
            mms_reply(&self.conf(&tid, ResponseStatus::OK, None, Some(&message_id))),
            pushes,
        )
    }

    /// One recipient's copy of `st`: its delivery recorded under a fresh
    /// Transaction-ID, and the M-Notification.ind that announces it.
    fn new_copy(&self, st: &Stored, recipient: &EncodedString, size: u64) -> (String, Vec<u8>) {
        let tid = format!("liaison-n-{}-{}", self.next_id(), sip::token());
        lock(&self.store).deliveries.insert(
            tid.clone(),
            Delivery {
                message_id: st.message_id.clone(),
                recipient: recipient.clone(),
                closed: false,
                reported: false,
            },
        );
        let notification = self.notification(&tid, st, size);
        (tid, notification)
    }

    /// The address as this relay writes it back (faults change it).
    fn out_addr(&self, a: &EncodedString) -> EncodedString {
        if self.s.has_fault("plmn-type-dropped") {
            // Fault: MSISDNs written back as bare numbers, without /TYPE=PLMN.
            if let Ok(Address::Plmn(n)) = Address::parse(&a.text) {
                let mut out = a.clone();
                out.text = n;
                return out;
            }
        }
        if !self.s.has_fault("uri-mangled") {
            return a.clone();
        }
        // Fault: SIP URIs are written back with their escapes changed — the
        // bare form percent-decoded, the typed form re-escaped in lower case.
        let mut out = a.clone();
        match Address::parse(&a.text) {
            Ok(Address::Uri(u)) if is_sip_scheme(&u) => {
                out.text = percent_decode(&u).unwrap_or(u);
            }
            Ok(Address::Typed { .. }) => {
                let cut = a
                    .text
                    .to_ascii_uppercase()
                    .rfind("/TYPE=")
                    .unwrap_or(a.text.len());
                out.text = format!("{}{}", lower_escapes(&a.text[..cut]), &a.text[cut..]);
            }
            _ => {}
        }
        out
    }

    /// The From header of what goes to recipients (None: left out).
    fn originator_header(&self, st: &Stored) -> Option<Header> {
        if self.s.has_fault("sip-originator-dropped")
            && matches!(resolve(&st.from.text), Ok(Route::Sip(_)))
        {
            // Fault: a SIP URI originator is not passed on.
            return None;
        }
        Some(Header::From(FromValue::Address(self.out_addr(&st.from))))
    }

    /// M-Notification.ind (ENC §6.2) for one recipient's copy.
    ///
    /// The Content-Location is this relay's retrieval URL: `http://` on its
    /// MM1 listener, and `https://` on its TLS listener for an MM that came
    /// over TLS (its choice: ENC §6.2 asks for a URI, whatever the scheme,
    /// and no text ties the retrieval's scheme to the submission's). The
    /// same MM is also served over plain HTTP.
    fn notification(&self, tid: &str, st: &Stored, size: u64) -> Vec<u8> {
        let location = match self.https_addr.filter(|_| st.secure) {
            // Fault: an https:// URL with the port of the plain listener.
            Some(_) if self.s.has_fault("https-location-plain-port") => {
                format!("https://{}{MM1_PATH}/m/{tid}", self.addr)
            }
            Some(a) => format!("https://{a}{MM1_PATH}/m/{tid}"),
            None => format!("http://{}{MM1_PATH}/m/{tid}", self.addr),
        };
        let mut b = if self.s.has_fault("notification-no-expiry") {
            // Fault: the mandatory X-Mms-Expiry is left out.
            PduBuilder::new(MessageType::NOTIFICATION_IND)
                .transaction_id(tid)
                .message_class(crate::codec::mms::MessageClass::Personal)
                .message_size(size)
                .content_location(&location)
        } else {
            PduBuilder::notification_ind(tid, &location, size, TimeValue::Relative(86_400))
        };
        if let Some(f) = self.originator_header(st) {
            b = b.header(f);
        }
        if let Some(s) = &st.subject {
            b = b.header(Header::Encoded(Field::SUBJECT, s.clone()));
        }
        if st.delivery_report {
            b = b.delivery_report(true);
        }
        for h in &st.extra {
            b = b.header(h.clone());
        }
        b.encode()
    }

    /// The bearer message that takes `pdu` to the terminal at `route`.
    fn push_to(&self, route: &Route, pdu: &[u8]) -> Push {
        let route = if self.s.has_fault("notification-wrong-bearer") {
            // Fault: MSISDNs over SIP, SIP URIs over SMS.
            match route {
                Route::Sms(n) => Route::Sip(format!("sip:+{n}@ims.liaison.test;user=phone")),
                Route::Sip(u) => Route::Sms(digits_of_user(u)),
                Route::Mail => Route::Mail,
            }
        } else {
            route.clone()
        };
        match route {
            Route::Sms(n) => Push::Sms(self.sms_push(&n, pdu)),
            Route::Sip(u) => self.sip_push(&u, pdu),
            Route::Mail => Push::Sms(Vec::new()),
        }
    }

    /// WSP push (content type 0x3E, mms.ua) in WDP over SMS.
    fn sms_push(&self, number: &str, body: &[u8]) -> Vec<Sm> {
        let app = if self.s.has_fault("wrong-app-id") {
            AppId::Code(2)
        } else {
            AppId::MMS_UA
        };
        self.sms_push_for(number, body, app)
    }

    /// A WSP push of `body` for the application `app` in WDP over SMS.
    fn sms_push_for(&self, number: &str, body: &[u8], app: AppId) -> Vec<Sm> {
        self.sms
            .wsp_push(
                number,
                wsp::ContentType::WellKnown(wsp::media::MMS_MESSAGE),
                vec![WspHeader::ApplicationId(app)],
                body.to_vec(),
                PUSH_PORTS,
            )
            .unwrap_or_default()
    }

    /// Push over SIP: a MESSAGE with the PDU as its body; over TLS for a
    /// `sips:` URI (RFC 3261 §26.2.2), and not at all when it has no TLS
    /// path to the device.
    fn sip_push(&self, uri: &str, body: &[u8]) -> Push {
        let app = if self.s.has_fault("wrong-app-id") {
            "wml.ua"
        } else {
            "mms.ua"
        };
        let rest = |b: sip::RequestBuilder| {
            b.header(
                "Accept-Contact",
                &format!("*;+g.oma.pusheventapp=\"{app}\";require;explicit"),
            )
            .header("Content-Type", MMS_TYPE)
            .body(body)
        };
        let secure = uri
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("sips:"));
        if !secure || self.s.has_fault("sips-sent-in-clear") {
            // Fault sips-sent-in-clear: a sips: MESSAGE over UDP.
            return Push::Sip(self.sip.message(uri, "mmsc", "liaison-mmsc", rest));
        }
        if self.sips.is_none() {
            return Push::Sms(Vec::new());
        }
        let addr = self.addr;
        let b = sip::request("MESSAGE", uri)
            .header(
                "Via",
                &format!("SIP/2.0/TLS {addr};branch=z9hG4bK{}", sip::token()),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<sips:mmsc@{addr}>;tag={}", sip::token()))
            .header("To", &format!("<{uri}>"))
            .header("Call-ID", &format!("{}@liaison-mmsc", sip::token()))
            .header("CSeq", "1 MESSAGE");
        Push::Sips(rest(b).build())
    }

    /// M-Delivery.ind (ENC §6.5) to the originator of `st` about `recipient`.
    fn report(&self, st: &Stored, recipient: &EncodedString, status: Status) -> Vec<Push> {
        let status = if self.s.has_fault("delivery-report-wrong-status") {
            Status::RETRIEVED
        } else {
            status
        };
        let pdu = PduBuilder::new(MessageType::DELIVERY_IND)
            .message_id(&st.message_id)
            .header(Header::Encoded(Field::TO, self.out_addr(recipient)))
            .date(now_secs())
            .status(status)
            .encode();
        match resolve(&st.from.text) {
            Ok(r @ (Route::Sms(_) | Route::Sip(_))) => vec![self.push_to(&r, &pdu)],
            _ => Vec::new(),
        }
    }

    // -----------------------------------------------------------------------
    // M-NotifyResp.ind, M-Acknowledge.ind, retrieval
    // -----------------------------------------------------------------------

    /// The recipient answered: close its delivery and report when asked to.
    fn answered(&self, pdu: &Pdu) -> Vec<Push> {
        let tid = pdu.transaction_id().unwrap_or_default();
        let status = if pdu.message_type() == Some(MessageType::ACKNOWLEDGE_IND) {
            Status::RETRIEVED
        } else {
            match pdu.status() {
                Some(s) => s,
                None => return Vec::new(),
            }
        };
        if status == Status::DEFERRED {
            return Vec::new();
        }
        let report_allowed = pdu
            .get(Field::REPORT_ALLOWED)
            .is_none_or(|h| matches!(h, Header::Token(_, t) if *t == 0x80));
        let (stored, recipient) = {
            let mut store = lock(&self.store);
            let Some(d) = store.deliveries.get_mut(tid) else {
                return Vec::new();
            };
            if d.closed {
                return Vec::new();
            }
            d.closed = true;
            let send = !d.reported && report_allowed;
            d.reported |= send;
            let (mid, rcpt) = (d.message_id.clone(), d.recipient.clone());
            match store.messages.get(&mid) {
                Some(st) if send && st.delivery_report => (st.clone(), rcpt),
                _ => return Vec::new(),
            }
        };
        self.report(&stored, &recipient, status)
    }

    /// M-Retrieve.conf (ENC §6.3) for the copy named by `tid`.
    fn retrieve(&self, tid: &str) -> Vec<u8> {
        let found = {
            let store = lock(&self.store);
            store
                .deliveries
                .get(tid)
                .and_then(|d| store.messages.get(&d.message_id).cloned())
        };
        let Some(st) = found else {
            return plain(404, "no such MM\n");
        };
        let mut body = st.body.clone();
        if self.s.has_fault("content-changed") {
            // Fault: the last octet of the last part is lost.
            match &mut body {
                Body::Multipart(parts) => {
                    if let Some(p) = parts.last_mut() {
                        p.data.pop();
                    }
                }
                Body::Single(b) => {
                    b.pop();
                }
            }
        }
        let mut b = PduBuilder::retrieve_conf(st.date, st.content_type.clone(), body)
            .transaction_id(tid)
            .message_id(&st.message_id);
        if let Some(f) = self.originator_header(&st) {
            b = b.header(f);
        }
        for a in &st.to {
            b = b.header(Header::Encoded(Field::TO, self.out_addr(a)));
        }
        for a in &st.cc {
            b = b.header(Header::Encoded(Field::CC, self.out_addr(a)));
        }
        if let Some(s) = &st.subject {
            b = b.header(Header::Encoded(Field::SUBJECT, s.clone()));
        }
        for h in &st.extra {
            b = b.header(h.clone());
        }
        mms_reply(&b.encode())
    }
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

fn is_sip_scheme(u: &str) -> bool {
    let l = u.to_ascii_lowercase();
    l.starts_with("sip:") || l.starts_with("sips:")
}

/// Where an address (the text of a To/Cc/Bcc/From value) leads.
fn resolve(text: &str) -> Result<Route, String> {
    match Address::parse(text).map_err(|e| e.to_string())? {
        Address::Plmn(n) => {
            let d: String = n.chars().filter(char::is_ascii_digit).collect();
            Ok(Route::Sms(d))
        }
        Address::Email(_) => Ok(Route::Mail),
        Address::Uri(u) if is_sip_scheme(&u) => sip_uri_ok(&u).map(|_| Route::Sip(u)),
        Address::Uri(u) if u.to_ascii_lowercase().starts_with("tel:") => {
            let n = u[4..].split(';').next().unwrap_or_default();
            let d = n.strip_prefix('+').unwrap_or(n);
            if !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                Ok(Route::Sms(d.chars().filter(char::is_ascii_digit).collect()))
            } else {
                Err(format!("`{u}` is not a global tel: number"))
            }
        }
        Address::Typed { kind, value } if kind.eq_ignore_ascii_case("SIP") => {
            if is_sip_scheme(&value) {
                sip_uri_ok(&value).map(|_| Route::Sip(value))
            } else {
                Err(format!(
                    "the /TYPE=SIP value `{value}` is not a sip: or sips: URI"
                ))
            }
        }
        other => Err(format!("no route for a {} address", other.kind())),
    }
}

/// A loose check of RFC 3261 §25.1 SIP-URI / SIPS-URI.
fn sip_uri_ok(u: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{u}` is not a SIP URI: {why}"));
    let Some((_, rest)) = u.split_once(':') else {
        return bad("no scheme");
    };
    let rest = rest.split('?').next().unwrap_or_default();
    let (user, hostpart) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let escaped_ok = |s: &str| {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    return false;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        true
    };
    if let Some(user) = user {
        let unreserved = |c: u8| c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c);
        let allowed = |c: u8| unreserved(c) || b"%&=+$,;?/:".contains(&c);
        if user.is_empty() {
            return bad("empty user part before @");
        }
        if !user.bytes().all(allowed) || !escaped_ok(user) {
            return bad("a character outside the user part's set, or a broken %-escape");
        }
    }
    let (hostport, params) = hostpart.split_once(';').unwrap_or((hostpart, ""));
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        match v6.split_once(']') {
            Some((ip, p)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => ("v6", p),
            _ => return bad("a bracketed host that is not an IPv6 address"),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, p),
            None => (hostport, ""),
        }
    };
    let port = port.strip_prefix(':').unwrap_or(port);
    if host != "v6" {
        if host.is_empty() {
            return bad("no host");
        }
        let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
        if labels.iter().any(|l| {
            l.is_empty()
                || !l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                || l.starts_with('-')
                || l.ends_with('-')
        }) {
            return bad("the host is not a host name or IPv4 address");
        }
    }
    if !port.is_empty() && (port.len() > 5 || !port.bytes().all(|c| c.is_ascii_digit())) {
        return bad("the port is not a number");
    }
    let pchar = |c: u8| c.is_ascii_alphanumeric() || b"-_.!~*'()%[]/:&+$".contains(&c);
    if !params.is_empty() {
        for p in params.split(';') {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            if name.is_empty()
                || !name.bytes().all(pchar)
                || !value.bytes().all(pchar)
                || !escaped_ok(p)
            {
                return bad("a malformed ;parameter");
            }
        }
    }
    Ok(())
}

/// The digits of a URI's user part (fault notification-wrong-bearer).
fn digits_of_user(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |x| x.1);
    let user = rest.rsplit_once('@').map_or(rest, |x| x.0);
    user.split(';')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// RFC 3986 §2.1 percent-decoding (fault uri-mangled).
fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `%3A` → `%3a` (fault uri-mangled, typed form).
fn lower_escapes(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut left = 0;
    for c in v.chars() {
        if c == '%' {
            left = 2;
            out.push(c);
        } else if left > 0 {
            left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    // mms-relay (issue 5): breaks measured against the @mms-relay scenarios.
    super::Fault {
        role: "mms-relay",
        name: "sip-uri-rejected",
        description: "answers an M-Send.req with a SIP URI recipient Error-permanent-sending-address-unresolved, as if the address type were unknown",
        breaks: &["ADDR-2", "ADDR-3", "ADDR-7", "DEFER-1", "DEFER-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "uri-mangled",
        description: "writes SIP URI addresses back with their escapes changed: the bare form percent-decoded, the typed form in lower-case hex",
        breaks: &["ADDR-3", "ADDR-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "plmn-type-dropped",
        description: "writes MSISDN addresses back as bare numbers, without their /TYPE=PLMN suffix",
        breaks: &["ADDR-1", "MEM-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "sip-originator-dropped",
        description: "leaves From out of the notification and the retrieved MM when the originator is a SIP URI",
        breaks: &["ADDR-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "malformed-accepted",
        description: "answers Ok to an M-Send.req whose recipient it cannot resolve (a SIP URI without a host), and drops that recipient",
        breaks: &["ADDR-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "first-recipient-only",
        description: "notifies only the first recipient it can push to; the others never hear of the MM",
        breaks: &["ADDR-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "notification-wrong-bearer",
        description: "notifies MSISDNs by Push over SIP and SIP URIs by WSP push over SMS (to the digits of the user part)",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "wrong-app-id",
        description: "pushes notifications and delivery reports for wml.ua (WSP application id 2, SIP feature tag wml.ua) instead of mms.ua",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "notification-no-expiry",
        description: "leaves the mandatory X-Mms-Expiry out of M-Notification.ind",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "content-changed",
        description: "serves the retrieved MM with the last octet of its last part lost",
        breaks: &["DEFER-1", "MEM-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "delivery-report-early",
        description: "pushes M-Delivery.ind (Retrieved) to the originator together with the notification, before the recipient has answered",
        breaks: &["ADDR-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "delivery-report-wrong-status",
        description: "reports every answered MM as Retrieved, also one the recipient rejected",
        breaks: &["ADDR-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "wrong-message-type",
        description: "answers M-Send.req with a PDU whose X-Mms-Message-Type is m-retrieve-conf (0x84) instead of m-send-conf",
        breaks: &["ADDR-1", "ADDR-2", "ADDR-3", "ADDR-4", "ADDR-6", "ADDR-7", "ADDR-8", "DEFER-1", "DEFER-3", "DEFER-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "truncated-conf",
        description: "answers M-Send.req with an M-Send.conf cut short inside its last value",
        breaks: &["ADDR-1", "ADDR-2", "ADDR-3", "ADDR-4", "ADDR-6", "ADDR-7", "ADDR-8", "DEFER-1", "DEFER-3", "DEFER-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mms-relay MM3 (issue 6): a MEM server's SMTP message mapped to an MM.
    super::Fault {
        role: "mms-relay",
        name: "applic-id-dropped",
        description: "MM3: leaves the Applic-ID (either spelling) out of the MM: no X-Mms-Applic-ID in the notification or the retrieved MM",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "applic-id-wrong-value",
        description: "MM3: writes the Applic-ID value in lower case (X-Mms-Applic-ID `mem`)",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "applic-id-wrong-field",
        description: "MM3: writes the Applic-ID value under field code 0xB9 (X-Mms-Aux-Applic-Info) instead of 0xB7 (a real Aux-Applic-Info of the message takes that place)",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "x-mms-spelling-ignored",
        description: "MM3: honours only the `Applic-ID` spelling; an `X-Mms-Applic-ID` header (the MM4 form) is dropped",
        breaks: &["MEM-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "reply-applic-dropped",
        description: "MM3: leaves Reply-Applic-ID and Aux-Applic-Info out of the MM",
        breaks: &["MEM-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "payload-re-encoded",
        description: "MM3: rewrites the content's CRLF line ends as LF before it goes into the MM",
        breaks: &["MEM-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "header-mapping-lost",
        description: "MM3: drops the Subject and dates the MM with its arrival instead of the message's Date",
        breaks: &["MEM-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "message-id-lost",
        description: "MM3: gives the MM a Message-ID of its own instead of the message's",
        breaks: &["MEM-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "applic-id-invented",
        description: "MM3: puts X-Mms-Applic-ID MEM on every MM from mail, also on plain mail without Applic-ID",
        breaks: &["MEM-14"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-notification-wrong-app-id",
        description: "MM3: pushes the notifications of MMs from mail for wml.ua (WSP application id 2)",
        breaks: &["MEM-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-accepts-no-recipient",
        description: "MM3: answers 354 to DATA without an accepted recipient, then 250, and drops the message",
        breaks: &["MEM-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-accepts-malformed",
        description: "MM3: answers 250 to a message with a malformed header and drops it",
        breaks: &["MEM-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-oversized-silently",
        description: "MM3: answers 250 to a message over its size limit and drops it",
        breaks: &["MEM-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-starttls-not-offered",
        description: "MM3: never lists STARTTLS in its EHLO reply, though the profile declares it (mm3_starttls)",
        breaks: &["MEM-19"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-starttls-offered-again",
        description: "MM3: lists STARTTLS again in its EHLO reply inside TLS",
        breaks: &["MEM-19"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "mm3-keeps-pre-tls-state",
        description: "MM3: keeps the session in the clear through STARTTLS, so it refuses the EHLO inside TLS with 503 (already greeted)",
        breaks: &["MEM-19"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mms-relay MM1 over TLS (issue 15).
    super::Fault {
        role: "mms-relay",
        name: "mm1-https-plaintext",
        description: "MM1 over TLS: its https:// port speaks plain HTTP (TLS left off there), so a ClientHello gets an HTTP 400 in the clear",
        breaks: &["DEFER-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "https-location-plain-port",
        description: "MM1 over TLS: announces an MM submitted over TLS with an https:// Content-Location carrying the port of its plain HTTP listener, where no TLS is spoken",
        breaks: &["DEFER-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-relay",
        name: "sips-sent-in-clear",
        description: "Push over SIP: sends the MESSAGE for a sips: recipient over UDP to the device's plain address, as for a sip: one",
        breaks: &["DEFER-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_resolve() {
        assert_eq!(
            resolve("+15551234567/TYPE=PLMN"),
            Ok(Route::Sms("15551234567".into()))
        );
        assert_eq!(resolve("alice@example.com"), Ok(Route::Mail));
        let uri = "sip:mms_1555;ctx=a%2Bb@ims.liaison.test";
        assert_eq!(resolve(uri), Ok(Route::Sip(uri.into())));
        let typed = Address::typed("SIP", uri).to_string();
        assert_eq!(resolve(&typed), Ok(Route::Sip(uri.into())));
        assert_eq!(resolve("tel:+1555123"), Ok(Route::Sms("1555123".into())));
        for bad in [
            "sip:mms_1555@",
            "sip:@ims.liaison.test",
            "sip:a b@ims.liaison.test",
            "sip:a@ims..liaison.test",
            "sip:a@host:port",
            "sip:a%2@host",
            "sip%3Amms_1%40/TYPE=SIP",
            "192.0.2.1/TYPE=IPv4",
            "mailto%3Aa/TYPE=SIP",
        ] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
        for good in [
            "sip:ims.liaison.test",
            "sips:a@[2001:db8::1]:5061;transport=tls",
            "sip:+1555;user=phone@h;user=phone",
            "sip:a:pw@127.0.0.1:5060",
        ] {
            assert!(sip_uri_ok(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn what_can_start_a_request() {
        for ok in [&b""[..], b"G", b"POST /mms", b"\r\nGET /", b"\r\n"] {
            assert!(may_be_request(ok), "{ok:?}");
        }
        // A TLS ClientHello (handshake record, 0x16 0x03 0x01) and binary.
        for bad in [&b"\x16\x03\x01\x02\x00"[..], b"\r\n\x00", b" GET /"] {
            assert!(!may_be_request(bad), "{bad:?}");
        }
    }

    #[test]
    fn mangling_changes_the_bytes() {
        assert_eq!(
            lower_escapes("sip%3Aa%40b/TYPE=SIP"),
            "sip%3aa%40b/TYPE=SIP"
        );
        assert_eq!(percent_decode("sip:a;c=x%2By@h").unwrap(), "sip:a;c=x+y@h");
        assert_eq!(digits_of_user("sip:mms_1555;x=9@h7"), "1555");
    }
}
