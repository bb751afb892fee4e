//! The reference MMS client (the MMS User Agent of a terminal, MM1 side).
//!
//! **Pushes in.** Connectionless WSP pushes arrive as UDP datagrams on port
//! 2948 (WDP over the IP bearer, WAP-259; the datagram is the WSP PDU of
//! WAP-230 §8.2.4.1). Only a push whose X-Wap-Application-Id is `mms.ua`
//! (code 4, or the URI `x-wap-application:mms.ua`) and whose content type is
//! `application/vnd.wap.mms-message` is handed to the MMS client; any other
//! push is dropped (no other application lives on this terminal). Push over
//! SIP arrives as a SIP MESSAGE (RFC 3428, UDP or TCP): a body of type
//! `application/vnd.wap.mms-message` is answered 200 and handed over, any
//! other type gets 415 with `Accept`; OPTIONS gets 200, other methods 405.
//! A retransmitted request gets the same answer again (RFC 3261 §17.2.2).
//!
//! **Notifications.** One at a time, in arrival order. An M-Notification.ind
//! is acted on when it decodes, is of that type, has major version 1 and all
//! its mandatory fields (Transaction-ID, Message-Class, Message-Size, Expiry,
//! an `http://IP:PORT/…` or `https://IP:PORT/…` Content-Location), and its
//! From (when present) is an address the codec reads — a PLMN number, a mailbox, a SIP URI raw
//! (`sip:…`) or escaped (`…/TYPE=SIP`). A notification it cannot act on is
//! answered with M-NotifyResp.ind status Unrecognised when a Transaction-ID
//! can be read from it, and is otherwise dropped; the client carries on.
//!
//! **Retrieval** (immediate mode, MMS ENC §6.2/§6.3): HTTP GET of exactly the
//! Content-Location (an `https://` one over TLS, RFC 2818, the server's
//! certificate checked against the run's lab CA; without TLS material such
//! a fetch fails); on a 200 whose body decodes as an M-Retrieve.conf, an
//! M-NotifyResp.ind with the notification's Transaction-ID and status
//! Retrieved is POSTed to the MMSC URL (`application/vnd.wap.mms-message`);
//! on a failed fetch, status Deferred (it would retry later), and a body that
//! does not decode gets Unrecognised. The `deferred-retrieval` variant sends
//! M-NotifyResp.ind Deferred first, then fetches and sends M-Acknowledge.ind
//! with the M-Retrieve.conf's Transaction-ID (§6.4).
//!
//! **Sending** (ADDR-9). The suite's send trigger stands for the user: a
//! `POST /mms/send` with `X-Liaison-To: <address>` and a text/plain body is
//! answered 204, and the client POSTs an M-Send.req to its MMSC: From the
//! Insert-address token (the MMSC fills it in), To the address as typed — a
//! SIP URI raw, or as `escaped-value/TYPE=SIP` when configured so — and a
//! multipart/mixed body with the text as its one text/plain part (UTF-8).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Settings;
use crate::codec::http::{self, HttpMessage};
use crate::codec::mms::{Address, MessageType, Pdu, PduBuilder, Status};
use crate::codec::sip::{self, SipMessage};
use crate::codec::wsp::{AppId, PushPdu};

/// What the reference client is configured with.
#[derive(Debug, Clone)]
pub struct MmsClientConfig {
    /// The MMSC URL (`http://IP:PORT/PATH`, or `https://…`: over TLS) it
    /// POSTs its responses to.
    pub mmsc_url: String,
    /// The upper tester it reports hand-overs to (`POST /mms/<X-Mms-Applic-ID>`
    /// to an application, `POST /mms` for an MM shown to the user).
    pub upper_tester: Option<SocketAddr>,
    /// Where it takes send triggers (HTTP); `None`: port 0 on its own IP.
    pub send_trigger: Option<SocketAddr>,
    /// Write SIP URIs it sends to as `escaped-value/TYPE=SIP`.
    pub escaped_sip: bool,
}

/// The WDP port of connectionless WSP push (WAP-259).
pub const WAP_PUSH_PORT: u16 = 2948;
/// The media type of MMS PDUs.
const MMS_MEDIA: &str = "application/vnd.wap.mms-message";
/// Bound on one HTTP exchange.
const IO_BOUND: Duration = Duration::from_secs(3);

/// Where the client takes WSP pushes, given its SIP address: port 2948 of the
/// same IP.
pub fn wap_push_address(sip: SocketAddr) -> SocketAddr {
    SocketAddr::new(sip.ip(), WAP_PUSH_PORT)
}

struct Shared {
    cfg: MmsClientConfig,
    s: Settings,
    /// crashes-on-malformed: set once it has "crashed"; every socket goes silent.
    dead: AtomicBool,
    /// forgets-after-malformed: set by a notification it could not act on.
    confused: AtomicBool,
    /// As TLS client (https:// Content-Locations, RFC 2818): trusts the
    /// run's lab CA; None without TLS material (such a fetch fails).
    tls_client: Option<Arc<rustls::ClientConfig>>,
    /// SIP answers by top-Via branch, for retransmissions.
    answers: Mutex<HashMap<String, Vec<u8>>>,
    jobs: mpsc::UnboundedSender<Vec<u8>>,
}

use super::lock;

/// Where a started client takes what (see [`start`]).
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// SIP over UDP and TCP.
    pub sip: SocketAddr,
    /// WSP pushes (UDP).
    pub wap_push: SocketAddr,
    /// Send triggers (HTTP).
    pub trigger: SocketAddr,
    /// SIP over TLS (RFC 3261 §26.2), with TLS material.
    pub tls: Option<SocketAddr>,
}

/// Starts the client. Its SIP address, where it takes WSP pushes and its
/// send trigger (and, with TLS material, SIP over TLS) are returned. WSP pushes go to port 2948 of the SIP
/// address's IP ([`wap_push_address`]). With `listen` 127.0.0.1 port 0 it
/// picks a free address 127.x.y.z whose port 2948 is free, so several runs
/// can share the machine; with `::1` port 0 (IPv6 has one loopback
/// address, which every run shares) on a port the system picks, never 2948
/// (the profile names it, `mms_client.wap_push`).
pub async fn start(
    listen: SocketAddr,
    cfg: MmsClientConfig,
    settings: Settings,
) -> std::io::Result<(Addresses, Vec<JoinHandle<()>>)> {
    let (wdp, udp, tcp) = bind(listen).await?;
    let address = udp.local_addr()?;
    let wap_push = wdp.local_addr()?;
    let trigger =
        TcpListener::bind(cfg.send_trigger.unwrap_or(SocketAddr::new(address.ip(), 0))).await?;
    let trigger_addr = trigger.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let tls_client = match &settings.tls {
        Some(t) => Some(t.client_config().map_err(std::io::Error::other)?),
        None => None,
    };
    let sh = Arc::new(Shared {
        tls_client,
        cfg,
        s: settings,
        dead: AtomicBool::new(false),
        confused: AtomicBool::new(false),
        answers: Mutex::default(),
        jobs: tx,
    });
    let udp = Arc::new(udp);
    let mut tasks = vec![
        tokio::spawn(wdp_loop(wdp, sh.clone())),
        tokio::spawn(sip_udp(udp, sh.clone())),
        tokio::spawn(sip_tcp(tcp, sh.clone())),
        tokio::spawn(send_triggers(trigger, sh.clone())),
    ];
    // SIP over TLS beside UDP and TCP, with the certificate the run issued:
    // on the IP it was asked to listen on (which the certificate names), not
    // on a 127.x.y.z it picked for port 2948.
    let mut tls = None;
    if let (Some(l), Some(t)) = (super::tls::listener(&sh.s, listen.ip()).await?, &sh.s.tls) {
        tls = Some(l.local_addr()?);
        let config = t.server_config().map_err(std::io::Error::other)?;
        let sh2 = sh.clone();
        tasks.push(super::tls::serve_sip(
            l,
            config,
            Arc::new(move |msg, _peer, back| {
                if alive(&sh2)
                    && let Some(a) = answer_sip(&sh2, &msg, true)
                {
                    let _ = back.send(a);
                }
            }),
        ));
    }
    tasks.push(tokio::spawn(worker(rx, sh)));
    let addrs = Addresses {
        sip: address,
        wap_push,
        trigger: trigger_addr,
        tls,
    };
    Ok((addrs, tasks))
}

/// The send trigger: one request per connection, bounded.
async fn send_triggers(listener: TcpListener, sh: Arc<Shared>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let sh = sh.clone();
        tokio::spawn(async move {
            let end = tokio::time::Instant::now() + IO_BOUND;
            let req = super::read_http_request(&mut stream, 1 << 20, end).await;
            let to = req.as_ref().and_then(|r| {
                (r.method() == Some("POST") && r.target() == Some("/mms/send"))
                    .then(|| r.header("X-Liaison-To").map(|t| t.trim().to_string()))
                    .flatten()
            });
            let status = if to.is_some() {
                (204, "No Content")
            } else {
                (400, "Bad Request")
            };
            let _ = stream
                .write_all(&http::response(status.0, status.1, &[], b""))
                .await;
            drop(stream);
            if let (Some(to), Some(req)) = (to, req)
                && !sh.s.has_fault("send-ignores-trigger")
            {
                send_mm(&sh, &to, &req.body).await;
            }
        });
    }
}

/// Sends an MM with `text` to the address the user typed.
async fn send_mm(sh: &Shared, to: &str, text: &[u8]) {
    use crate::codec::mms::{Body, ContentType, EncodedString, Field, FromValue, Header, Part};
    let mut to = to.to_string();
    if sh.s.has_fault("send-uri-mangled") {
        // Fault: the URI percent-decoded before it is written.
        to = to.replace("%2B", "+").replace("%2b", "+");
    }
    let lower = to.to_ascii_lowercase();
    if sh.cfg.escaped_sip && (lower.starts_with("sip:") || lower.starts_with("sips:")) {
        to = Address::typed("SIP", &to).to_string();
    }
    let pdu = PduBuilder::send_req(
        &format!("S{}", sip::token()),
        FromValue::InsertAddress,
        ContentType::well_known(crate::codec::mms::body::MULTIPART_MIXED),
        Body::Multipart(vec![Part::text(&String::from_utf8_lossy(text))]),
    )
    .header(Header::Encoded(Field::TO, EncodedString::plain(&to)))
    .build()
    .encode();
    post_pdu(sh, pdu).await;
}

async fn bind(listen: SocketAddr) -> std::io::Result<(UdpSocket, UdpSocket, TcpListener)> {
    if listen.port() == 0 && listen.ip().is_ipv6() && listen.ip().is_loopback() {
        let wdp = UdpSocket::bind(listen).await?;
        let (udp, tcp) = super::bind_pair(listen.ip(), 0).await?;
        return Ok((wdp, udp, tcp));
    }
    let pick = listen.port() == 0 && listen.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST);
    if !pick {
        let wdp = UdpSocket::bind(wap_push_address(listen)).await?;
        let (udp, tcp) = super::bind_pair(listen.ip(), listen.port()).await?;
        return Ok((wdp, udp, tcp));
    }
    let mut last = None;
    for _ in 0..64 {
        let t = sip::token();
        let b = t.as_bytes();
        let octet = |i: usize, lo: u8| lo + b.get(i).copied().unwrap_or(7) % (254 - lo);
        let ip = IpAddr::V4(Ipv4Addr::new(127, octet(0, 1), octet(1, 1), octet(2, 2)));
        match UdpSocket::bind(SocketAddr::new(ip, WAP_PUSH_PORT)).await {
            Ok(wdp) => {
                let (udp, tcp) = super::bind_pair(ip, 0).await?;
                return Ok((wdp, udp, tcp));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free loopback address for port 2948")))
}

fn alive(sh: &Shared) -> bool {
    !sh.dead.load(Ordering::SeqCst)
}

/// Is this the MMS user agent's application id?
fn is_mms_ua(id: Option<&AppId>) -> bool {
    match id {
        Some(AppId::Code(4)) => true,
        Some(AppId::Text(t)) => t.eq_ignore_ascii_case("x-wap-application:mms.ua"),
        _ => false,
    }
}

async fn wdp_loop(sock: UdpSocket, sh: Arc<Shared>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, _)) = sock.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if !alive(&sh) {
            return;
        }
        let Ok(pdu) = PushPdu::parse(&buf[..n]) else {
            continue;
        };
        let for_mms = is_mms_ua(pdu.application_id()) || sh.s.has_fault("fetches-for-any-app-id");
        let mms_type = pdu
            .content_type
            .name()
            .is_some_and(|n| media_of(n) == MMS_MEDIA);
        if for_mms && mms_type {
            let _ = sh.jobs.send(pdu.body);
        } else if mms_type && sh.s.has_fault("answers-other-app-push") {
            // Fault: answers a notification pushed for another application
            // (Rejected, without fetching) as if it were the MMS client's.
            if let Some(tid) = Pdu::parse(&pdu.body)
                .ok()
                .and_then(|p| p.transaction_id().map(str::to_string))
            {
                let sh = sh.clone();
                tokio::spawn(async move {
                    post(&sh, notify_resp(&sh, &tid, Status::REJECTED)).await;
                });
            }
        }
    }
}

fn media_of(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The answer to one SIP request (None: none, e.g. for ACK or a response).
fn answer_sip(sh: &Shared, bytes: &[u8], tls: bool) -> Option<Vec<u8>> {
    let m = SipMessage::parse(bytes).ok()?;
    if !m.is_request() {
        return None;
    }
    let branch = m.top_via_branch().unwrap_or_default();
    if let Some(a) = lock(&sh.answers).get(&branch) {
        return Some(a.clone());
    }
    let to_tag = sip::token();
    let resp = match m.method()? {
        "ACK" => return None,
        "OPTIONS" => sip::response_to(&m, 200, "OK")
            .to_tag(&to_tag)
            .header("Accept", MMS_MEDIA)
            .build(),
        "MESSAGE" => {
            let ct = m.content_type().map(|c| media_of(&c)).unwrap_or_default();
            if ct == MMS_MEDIA {
                // ignores-tls-push (fault): one that came over TLS is
                // answered and dropped.
                let ignores = sh.s.has_fault("ignores-sip-push")
                    || (tls && sh.s.has_fault("ignores-tls-push"));
                if !ignores {
                    let _ = sh.jobs.send(m.body().to_vec());
                }
                sip::response_to(&m, 200, "OK").to_tag(&to_tag).build()
            } else {
                sip::response_to(&m, 415, "Unsupported Media Type")
                    .to_tag(&to_tag)
                    .header("Accept", MMS_MEDIA)
                    .build()
            }
        }
        _ => sip::response_to(&m, 405, "Method Not Allowed")
            .to_tag(&to_tag)
            .header("Allow", "MESSAGE, OPTIONS")
            .build(),
    };
    let mut answers = lock(&sh.answers);
    if answers.len() > 4096 {
        answers.clear();
    }
    answers.insert(branch, resp.clone());
    Some(resp)
}

async fn sip_udp(sock: Arc<UdpSocket>, sh: Arc<Shared>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        if !alive(&sh) {
            return;
        }
        if let Some(a) = answer_sip(&sh, &buf[..n], false) {
            let _ = sock.send_to(&a, from).await;
        }
    }
}

async fn sip_tcp(listener: TcpListener, sh: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        if !alive(&sh) {
            return;
        }
        let sh = sh.clone();
        tokio::spawn(async move {
            let (rd, wr) = stream.into_split();
            let wr = Arc::new(tokio::sync::Mutex::new(wr));
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            let writer = {
                let wr = wr.clone();
                tokio::spawn(async move {
                    while let Some(b) = rx.recv().await {
                        let _ = wr.lock().await.write_all(&b).await;
                    }
                })
            };
            let sh2 = sh.clone();
            super::read_stream(rd, move |msg| {
                if alive(&sh2)
                    && let Some(a) = answer_sip(&sh2, &msg, false)
                {
                    let _ = tx.send(a);
                }
            })
            .await;
            writer.abort();
        });
    }
}

/// The notifications, one at a time.
async fn worker(mut rx: mpsc::UnboundedReceiver<Vec<u8>>, sh: Arc<Shared>) {
    while let Some(bytes) = rx.recv().await {
        if !alive(&sh) {
            return;
        }
        handle(&sh, &bytes).await;
    }
}

/// Why a notification cannot be acted on.
enum Reject {
    /// Not decodable as a usable M-Notification.ind (the Transaction-ID, if any).
    Malformed(Option<String>),
    /// An address it refuses (only under a fault).
    Address(String),
}

/// The Transaction-ID of bytes that start like an MMS PDU with one (0x8C type,
/// 0x98 Text-string), even when the rest does not decode.
fn scrape_tid(b: &[u8]) -> Option<String> {
    if b.len() < 4 || b[0] != 0x8C || b[2] != 0x98 {
        return None;
    }
    let rest = &b[3..];
    let rest = rest.strip_prefix(&[0x7F]).unwrap_or(rest);
    let end = rest.iter().position(|&c| c == 0)?;
    String::from_utf8(rest[..end].to_vec())
        .ok()
        .filter(|t| !t.is_empty())
}

/// What follows an X-Mms-Content-Location octet (0x83), up to a NUL or the end.
fn scrape_location(b: &[u8]) -> Option<String> {
    let i = b.iter().position(|&c| c == 0x83)?;
    let rest = &b[i + 1..];
    let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
    String::from_utf8(rest[..end].to_vec())
        .ok()
        .filter(|l| l.starts_with("http://"))
}

fn is_sip_uri(a: &Address) -> bool {
    match a {
        Address::Uri(v) => {
            let v = v.to_ascii_lowercase();
            v.starts_with("sip:") || v.starts_with("sips:")
        }
        Address::Typed { kind, value } => {
            kind.eq_ignore_ascii_case("SIP") || value.to_ascii_lowercase().starts_with("sip")
        }
        _ => false,
    }
}

/// The notification's Transaction-ID and Content-Location, or why not.
fn check(sh: &Shared, bytes: &[u8]) -> Result<(String, String), Reject> {
    let pdu = Pdu::parse(bytes).map_err(|_| Reject::Malformed(scrape_tid(bytes)))?;
    let tid = pdu.transaction_id().map(str::to_string);
    let bad = || Reject::Malformed(tid.clone());
    if pdu.message_type() != Some(MessageType::NOTIFICATION_IND)
        || pdu.version().map(|v| v.major()) != Some(1)
        || pdu.message_class().is_none()
        || pdu.message_size().is_none()
        || pdu.expiry().is_none()
    {
        return Err(bad());
    }
    let t = tid.clone().ok_or_else(bad)?;
    let loc = pdu
        .content_location()
        .filter(|l| super::http_url_parts(l).is_some())
        .ok_or_else(bad)?
        .to_string();
    if let Some(f) = pdu.from().and_then(|f| f.address()) {
        let a = Address::parse(&f.text).map_err(|_| bad())?;
        if (sh.s.has_fault("rejects-sip-uri") && is_sip_uri(&a))
            || (sh.s.has_fault("rejects-email-from") && matches!(a, Address::Email(_)))
        {
            return Err(Reject::Address(t));
        }
    }
    Ok((t, loc))
}

async fn handle(sh: &Shared, bytes: &[u8]) {
    let (tid, location) = match check(sh, bytes) {
        Ok(x) => x,
        Err(Reject::Address(tid)) => {
            post(sh, notify_resp(sh, &tid, Status::UNRECOGNISED)).await;
            return;
        }
        Err(Reject::Malformed(tid)) => {
            sh.confused.store(true, Ordering::SeqCst);
            if sh.s.has_fault("crashes-on-malformed") {
                sh.dead.store(true, Ordering::SeqCst);
                return;
            }
            if sh.s.has_fault("fetches-malformed") {
                if let Some(l) = scrape_location(bytes) {
                    let _ = get(sh, &l).await;
                }
                if let Some(t) = &tid {
                    post(sh, notify_resp(sh, t, Status::RETRIEVED)).await;
                }
                return;
            }
            if let Some(t) = tid {
                let status = if sh.s.has_fault("rejected-for-malformed") {
                    Status::REJECTED
                } else {
                    Status::UNRECOGNISED
                };
                post(sh, notify_resp(sh, &t, status)).await;
            }
            return;
        }
    };
    if sh.s.has_fault("forgets-after-malformed") && sh.confused.swap(false, Ordering::SeqCst) {
        // Fault: the notification after a malformed one is lost; what is
        // fetched is a stale path on the MMSC, not its Content-Location.
        if let Some((addr, _)) = super::http_url_parts(&sh.cfg.mmsc_url) {
            let _ = get(sh, &format!("http://{addr}/mms/stale")).await;
        }
        return;
    }
    if sh.s.has_fault("retrieved-without-fetch") {
        // Fault: reports the MM Retrieved without ever fetching it.
        post(sh, notify_resp(sh, &tid, Status::RETRIEVED)).await;
        return;
    }
    let target = if sh.s.has_fault("fetches-wrong-url") {
        sh.cfg.mmsc_url.clone()
    } else {
        location
    };
    let deferred =
        sh.s.has_fault("deferred-retrieval") || sh.s.has_fault("ack-with-notification-tid");
    if deferred {
        post(sh, notify_resp(sh, &tid, Status::DEFERRED)).await;
    }
    if sh.s.has_fault("ack-before-fetch") {
        post(sh, notify_resp(sh, &tid, Status::RETRIEVED)).await;
        if let Some(m) = get(sh, &target).await
            && let Ok(p) = Pdu::parse(&m.body)
        {
            hand_over(sh, &m.body, &p).await;
        }
        return;
    }
    if sh.s.has_fault("fetches-twice") {
        // A conformant variant: a first fetch whose result it discards (a retry).
        let _ = get(sh, &target).await;
    }
    let fetched = get(sh, &target).await;
    let status = match &fetched {
        Some(m) if m.status() == Some(200) => match Pdu::parse(&m.body) {
            Ok(p) if p.message_type() == Some(MessageType::RETRIEVE_CONF) => Ok(p),
            _ => Err(Status::UNRECOGNISED),
        },
        _ => Err(Status::DEFERRED),
    };
    if let (Some(m), Ok(p)) = (&fetched, &status) {
        hand_over(sh, &m.body, p).await;
    }
    match (deferred, status) {
        (true, Ok(conf)) => {
            let ack_tid = if sh.s.has_fault("ack-with-notification-tid") {
                tid.clone()
            } else {
                conf.transaction_id().unwrap_or(&tid).to_string()
            };
            let ack = PduBuilder::acknowledge_ind(&ack_tid)
                .report_allowed(false)
                .encode();
            post(sh, ack).await;
        }
        // Deferred already said; it would retry later.
        (true, Err(_)) => {}
        (false, Ok(_)) => {
            post(sh, notify_resp(sh, &tid, Status::RETRIEVED)).await;
            if sh.s.has_fault("contradicts-retrieved") {
                // Fault: a second answer for the same transaction, 20 ms
                // later, that takes the first back.
                tokio::time::sleep(Duration::from_millis(20)).await;
                post(sh, notify_resp(sh, &tid, Status::REJECTED)).await;
            }
        }
        (false, Err(s)) => post(sh, notify_resp(sh, &tid, s)).await,
    }
}

/// Gives a retrieved MM to whoever takes it on the terminal: the application
/// its X-Mms-Applic-ID names, else the messaging inbox (shown to the user);
/// reported to the upper tester as `POST /mms/<applic-id>` or `POST /mms`
/// with the M-Retrieve.conf as retrieved.
async fn hand_over(sh: &Shared, raw: &[u8], conf: &Pdu) {
    let Some(addr) = sh.cfg.upper_tester else {
        return;
    };
    let app = match conf.get(crate::codec::mms::Field::APPLIC_ID) {
        Some(crate::codec::mms::Header::Text(_, id)) if !sh.s.has_fault("applic-id-shown") => {
            Some(id.clone())
        }
        _ => None,
    };
    let path = match app {
        Some(id) => format!("/mms/{id}"),
        None => "/mms".to_string(),
    };
    let req = http::request(
        "POST",
        &path,
        &addr.to_string(),
        &[("Content-Type", MMS_MEDIA)],
        raw,
    );
    let _ = super::http_exchange(addr, &req, IO_BOUND).await;
}

fn notify_resp(sh: &Shared, tid: &str, status: Status) -> Vec<u8> {
    let tid = if sh.s.has_fault("wrong-transaction-id") {
        format!("{tid}0")
    } else {
        tid.to_string()
    };
    PduBuilder::notify_resp_ind(&tid, status)
        .report_allowed(false)
        .encode()
}

/// POSTs an MMS PDU to the MMSC URL (unless the fault says not to).
async fn post(sh: &Shared, pdu: Vec<u8>) {
    if sh.s.has_fault("no-notifyresp") {
        return;
    }
    post_pdu(sh, pdu).await;
}

/// POSTs an MMS PDU to the MMSC URL.
async fn post_pdu(sh: &Shared, pdu: Vec<u8>) {
    let Some((addr, path)) = super::http_url_parts(&sh.cfg.mmsc_url) else {
        return;
    };
    let req = http::request(
        "POST",
        &path,
        &addr.to_string(),
        &[("Content-Type", MMS_MEDIA)],
        &pdu,
    );
    let _ = exchange(sh, &sh.cfg.mmsc_url, addr, &req).await;
}

/// GETs a URL; the response, when a whole one came. An `https://` URL is
/// fetched over TLS ([`exchange`]).
async fn get(sh: &Shared, url: &str) -> Option<HttpMessage> {
    let (addr, path) = super::http_url_parts(url)?;
    let req = http::request(
        "GET",
        &path,
        &addr.to_string(),
        &[("Accept", MMS_MEDIA)],
        b"",
    );
    if sh.s.has_fault("https-retrieved-in-clear") {
        // Fault: an https:// URL fetched with plain HTTP, its request in
        // the clear on the TLS port.
        return super::http_exchange(addr, &req, IO_BOUND).await;
    }
    exchange(sh, url, addr, &req).await
}

/// One HTTP exchange with `url`'s server at `addr`: over TLS for an
/// `https://` URL (RFC 2818 §2.1: the handshake first, then the request
/// inside the connection; the server's certificate checked against the lab
/// CA for the URL's IP, §3.1), else in the clear.
async fn exchange(sh: &Shared, url: &str, addr: SocketAddr, req: &[u8]) -> Option<HttpMessage> {
    if !http::url_is_https(url) {
        return super::http_exchange(addr, req, IO_BOUND).await;
    }
    let config = sh.tls_client.clone()?;
    super::tls::https_exchange(config, addr, req, IO_BOUND).await
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "mms-client",
        name: "send-uri-mangled",
        description: "percent-decodes a SIP URI the user sends an MM to (%2B becomes +) before writing it into To",
        breaks: &["ADDR-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "send-ignores-trigger",
        description: "answers the send trigger but never sends the MM",
        breaks: &["ADDR-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "ignores-sip-push",
        description: "answers a Push over SIP MESSAGE with 200 but never acts on the notification in it",
        breaks: &["DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "wrong-transaction-id",
        description: "its M-NotifyResp.ind carries a Transaction-ID other than the notification's",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "no-notifyresp",
        description: "fetches the MM but never sends M-NotifyResp.ind (nor M-Acknowledge.ind)",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "fetches-wrong-url",
        description: "fetches its configured MMSC URL instead of the notification's Content-Location (and reports the failed fetch as Deferred)",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5", "DEFER-6", "MEM-9", "PUSH-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "ack-before-fetch",
        description: "sends M-NotifyResp.ind with status Retrieved before it fetches the MM",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "ack-with-notification-tid",
        description: "deferred mode: its M-Acknowledge.ind carries the notification's Transaction-ID instead of the M-Retrieve.conf's",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "deferred-retrieval",
        description: "no fault: the conformant client in deferred mode (M-NotifyResp.ind Deferred, then the fetch and M-Acknowledge.ind), a variant to run the scenarios' deferred path",
        breaks: &[],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "rejects-sip-uri",
        description: "answers a notification whose From is a SIP URI with M-NotifyResp.ind status Unrecognised and does not fetch",
        breaks: &["ADDR-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "rejects-email-from",
        description: "answers a notification whose From is an RFC 2822 mailbox with status Unrecognised and does not fetch",
        breaks: &["ADDR-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "fetches-for-any-app-id",
        description: "acts on a WSP push of an M-Notification.ind whatever its X-Wap-Application-Id",
        breaks: &["PUSH-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "crashes-on-malformed",
        description: "after a notification it cannot decode, stops answering on every socket (a crash)",
        breaks: &["DEFER-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "fetches-malformed",
        description: "fetches whatever it can read of a malformed notification's Content-Location and reports it Retrieved",
        breaks: &["DEFER-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "rejected-for-malformed",
        description: "answers a malformed notification with status Rejected instead of Unrecognised",
        breaks: &["DEFER-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mms-client (issue 12, items 13-17): reports judged by identity.
    super::Fault {
        role: "mms-client",
        name: "retrieved-without-fetch",
        description: "answers a notification with M-NotifyResp.ind status Retrieved and never fetches the MM",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5", "DEFER-6", "MEM-9", "PUSH-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "contradicts-retrieved",
        description: "after its M-NotifyResp.ind Retrieved, sends a second one with status Rejected for the same Transaction-ID 20 ms later",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "answers-other-app-push",
        description: "answers an M-Notification.ind pushed for another application with M-NotifyResp.ind status Rejected (it fetches nothing for it)",
        breaks: &["PUSH-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "forgets-after-malformed",
        description: "after a notification it cannot act on, loses the next one and GETs a stale path on the MMSC instead of its Content-Location",
        breaks: &["DEFER-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "fetches-twice",
        description: "no fault: the conformant client fetching each MM twice (a retry) before it reports it Retrieved",
        breaks: &[],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mms-client (issue 15): retrieval over HTTPS.
    super::Fault {
        role: "mms-client",
        name: "https-retrieved-in-clear",
        description: "fetches an https:// Content-Location with plain HTTP: its GET goes in the clear to the TLS port",
        breaks: &["DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "mms-client",
        name: "ignores-tls-push",
        description: "answers a Push over SIP MESSAGE that came over TLS with 200 but never acts on the notification in it",
        breaks: &["DEFER-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    // mms-client (issue 6): an MM for the MEM application.
    super::Fault {
        role: "mms-client",
        name: "applic-id-shown",
        description: "shows an MM with X-Mms-Applic-ID to the user as an ordinary MM instead of handing it to the application",
        breaks: &["MEM-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::mms::TimeValue;
    use tokio::io::AsyncReadExt;

    #[test]
    fn scrapes_what_a_cut_notification_still_shows() {
        let full = PduBuilder::notification_ind(
            "T1",
            "http://127.0.0.1:9/mms/abc",
            10,
            TimeValue::Relative(60),
        )
        .build()
        .encode();
        let cut = &full[..full.len() - 4];
        assert!(Pdu::parse(cut).is_err());
        assert_eq!(scrape_tid(cut).as_deref(), Some("T1"));
        assert_eq!(
            scrape_location(cut).as_deref(),
            Some("http://127.0.0.1:9/mms/")
        );
        assert_eq!(scrape_tid(b"not an MMS PDU"), None);
        assert!(is_sip_uri(&Address::parse("sip:a@b").unwrap()));
        assert!(is_sip_uri(&Address::parse("sip%3Aa%40b/TYPE=SIP").unwrap()));
        assert!(!is_sip_uri(&Address::parse("a@b.c").unwrap()));
    }

    /// A minimal MMSC: serves `pdu` on GET, answers 200 to POST, and reports
    /// every request (method, target, body).
    async fn mmsc(pdu: Vec<u8>) -> (SocketAddr, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (tx, pdu) = (tx.clone(), pdu.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = vec![0u8; 4096];
                    loop {
                        if let Ok(Some(n)) = http::next_frame(&buf, 1 << 20) {
                            let m = HttpMessage::parse(&buf[..n]).unwrap();
                            let line = format!("{} {}", m.method().unwrap(), m.target().unwrap());
                            let get = m.method() == Some("GET");
                            let _ = tx.send((line, m.body.clone()));
                            let body = if get { pdu.as_slice() } else { b"" };
                            let _ = s.write_all(&http::response(200, "OK", &[], body)).await;
                            return;
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (addr, rx)
    }

    async fn next(
        rx: &mut mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    ) -> Option<(String, Vec<u8>)> {
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn fetches_on_an_mms_ua_push_only_and_acknowledges() {
        use crate::codec::mms::{body, Body, ContentType};
        use crate::codec::wsp;
        let conf = PduBuilder::retrieve_conf(
            1,
            ContentType::well_known(body::TEXT_PLAIN),
            Body::Single(b"hi".to_vec()),
        )
        .build()
        .encode();
        let (addr, mut rx) = mmsc(conf).await;
        let cfg = MmsClientConfig {
            upper_tester: None,
            mmsc_url: format!("http://{addr}/mmsc"),
            send_trigger: None,
            escaped_sip: false,
        };
        let (a, tasks) = start("127.0.0.1:0".parse().unwrap(), cfg, Settings::default())
            .await
            .unwrap();
        let sip = a.sip;
        let loc = format!("http://{addr}/mms/1");
        let note = PduBuilder::notification_ind("T9", &loc, 2, TimeValue::Relative(60))
            .build()
            .encode();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ct = || wsp::ContentType::WellKnown(wsp::media::MMS_MESSAGE);
        // Another application's push: dropped.
        let other = wsp::push_pdu(1, ct(), AppId::Code(2), &note);
        udp.send_to(&other, wap_push_address(sip)).await.unwrap();
        assert_eq!(next(&mut rx).await, None);
        // mms.ua as a code: GET of the Content-Location, then M-NotifyResp.ind Retrieved.
        let push = wsp::push_pdu(2, ct(), AppId::MMS_UA, &note);
        udp.send_to(&push, wap_push_address(sip)).await.unwrap();
        assert_eq!(next(&mut rx).await.unwrap().0, "GET /mms/1");
        let (line, body) = next(&mut rx).await.unwrap();
        assert_eq!(line, "POST /mmsc");
        let resp = Pdu::parse(&body).unwrap();
        assert_eq!(resp.message_type(), Some(MessageType::NOTIFYRESP_IND));
        assert_eq!(resp.transaction_id(), Some("T9"));
        assert_eq!(resp.status(), Some(Status::RETRIEVED));
        // A cut notification: Unrecognised with its Transaction-ID, no fetch.
        let cut = wsp::push_pdu(3, ct(), AppId::MMS_UA, &note[..note.len() - 3]);
        udp.send_to(&cut, wap_push_address(sip)).await.unwrap();
        let (line, body) = next(&mut rx).await.unwrap();
        assert_eq!(line, "POST /mmsc");
        assert_eq!(
            Pdu::parse(&body).unwrap().status(),
            Some(Status::UNRECOGNISED)
        );
        for t in tasks {
            t.abort();
        }
    }
}
