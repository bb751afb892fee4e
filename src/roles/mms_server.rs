//! The harness as an MMS Relay/Server (MMSC) for testing `mms-client` SUTs.
//!
//! - HTTP side ([`MmsServer`]): the MMSC URL a client is configured with. It
//!   serves the MMs a scenario put there (an HTTP GET of exactly their
//!   Content-Location gets `200` with the M-Retrieve.conf; any other path
//!   gets `404`), takes POSTs (M-NotifyResp.ind, M-Acknowledge.ind, or anything
//!   else) with `200` and an empty body — an M-Send.req (an IM server deferring
//!   to MMS) with `200` and an M-Send.conf Ok —, and keeps every request
//!   exactly as it arrived with its arrival time. What it keeps is judged by
//!   the steps.
//! - Push side: [`wdp_push`] sends one UDP datagram (WDP over the IP bearer,
//!   WAP-259: the datagram is the connectionless WSP PDU itself) and
//!   [`sip_push`] a SIP MESSAGE for Push over SIP with the application's
//!   feature tag. Both send exactly the bytes they are given, so a scenario
//!   can push a malformed PDU.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::codec::sip::{request, token};
use crate::net::capture::Capture;
use crate::net::route::carries;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::net::{SipEndpoint, Transport};
use crate::roles::transaction::{non_invite_client, Bounds, ClientResult, Timers};

/// The media type of MMS PDUs over HTTP and in pushes.
pub const MMS_MEDIA: &str = "application/vnd.wap.mms-message";

/// One request from the client (or bytes that were not one).
#[derive(Debug, Clone)]
pub struct MmsArrival {
    pub at: Instant,
    pub from: SocketAddr,
    pub bytes: Vec<u8>,
    pub msg: Result<HttpMessage, String>,
    /// The status the server answered with (None: no answer).
    pub answered: Option<u16>,
    /// The scenario whose key the request carries ([`MmsClaim::key`]: a
    /// Content-Location token, a Transaction-ID it gave out, a text it
    /// made up), when it arrived; `None`: nobody's (a request the SUT made
    /// up, changed, or sent after its scenario ended).
    pub owner: Option<u64>,
    /// It came to a scenario's TLS listener ([`MmsClaim::listen_tls`]):
    /// over TLS, or (with `msg` naming the handshake's failure and `bytes`
    /// what the client sent instead) not.
    pub tls: bool,
}

impl MmsArrival {
    pub fn describe(&self) -> String {
        match &self.msg {
            Ok(m) => format!(
                "{} {} (answered {}) — bytes: {}",
                m.method().unwrap_or("?"),
                m.target().unwrap_or("?"),
                self.answered
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "nothing".into()),
                escape_bytes(&self.bytes, 600)
            ),
            // A connection to a TLS listener that was not TLS: the error
            // quotes what came.
            Err(e) if self.tls => e.clone(),
            Err(e) => format!(
                "not an HTTP request ({e}) — bytes: {}",
                escape_bytes(&self.bytes, 300)
            ),
        }
    }

    pub fn method(&self) -> Option<&str> {
        self.msg.as_ref().ok().and_then(|m| m.method())
    }

    /// The absolute URL the request names: the target itself in absolute
    /// form, else `http://` (`https://` over TLS, RFC 2818 §2.4) + Host +
    /// the origin-form target.
    pub fn url(&self) -> Option<String> {
        let m = self.msg.as_ref().ok()?;
        let t = m.target()?;
        if t.starts_with('/') {
            let scheme = if self.tls { "https" } else { "http" };
            Some(format!("{scheme}://{}{t}", m.header("host")?.trim()))
        } else {
            Some(t.to_string())
        }
    }
}

/// Requests kept, at most (the oldest go first): a SUT that floods the
/// server cannot grow the log without bound.
const MAX_LOG: usize = 4096;
/// Octets of requests kept, at most (likewise).
const MAX_LOG_BYTES: usize = 64 << 20;

/// The scenarios the server serves side by side, each with its keys.
#[derive(Debug, Default)]
struct Owners {
    next: u64,
    keys: Vec<(u64, Vec<String>)>,
}

impl Owners {
    /// The scenario whose key `bytes` carry (whole, [`carries`]).
    fn owner_of(&self, bytes: &[u8]) -> Option<u64> {
        self.keys
            .iter()
            .find(|(_, keys)| keys.iter().any(|k| carries(bytes, k.as_bytes())))
            .map(|(id, _)| *id)
    }
}

/// What the server's tasks and the scenarios' claims share.
#[derive(Default)]
struct Shared {
    log: Mutex<std::collections::VecDeque<MmsArrival>>,
    /// The MMs served, by URL, each with the scenario that put it.
    mms: Mutex<HashMap<String, (u64, Vec<u8>)>>,
    owners: Mutex<Owners>,
    notify: Notify,
    /// The server takes HTTP over TLS ([`MmsServer::start_tls`]).
    https: bool,
}

impl Shared {
    fn push(&self, arrival: MmsArrival) {
        let mut log = lock(&self.log);
        log.push_back(arrival);
        let mut bytes: usize = log.iter().map(|a| a.bytes.len()).sum();
        while log.len() > MAX_LOG || (bytes > MAX_LOG_BYTES && log.len() > 1) {
            if let Some(a) = log.pop_front() {
                bytes -= a.bytes.len();
            }
        }
    }

    fn log_where(&self, f: impl Fn(&MmsArrival) -> bool) -> Vec<MmsArrival> {
        lock(&self.log).iter().filter(|a| f(a)).cloned().collect()
    }
}

/// The MMS Relay/Server's HTTP side.
pub struct MmsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    capture: Capture,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MmsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

use crate::net::lock;

impl MmsServer {
    /// Listens at `addr` (loopback; port 0 picks one), writing through
    /// `capture` (a routed one when scenarios share the server).
    pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<MmsServer> {
        MmsServer::start_with(addr, capture, None).await
    }

    /// [`MmsServer::start`] taking HTTP over TLS only (an `https://` MMSC
    /// URL, RFC 2818), each connection's handshake as `tls`. Through a
    /// routed capture the records go to its run-level file (no scenario's
    /// key shows in ciphertext); the requests are still each scenario's by
    /// their plaintext. A connection that is not TLS is logged with what it
    /// sent, the scenario's whose key its first bytes carry.
    pub async fn start_tls(
        addr: SocketAddr,
        capture: Capture,
        tls: crate::net::tls::TlsServer,
    ) -> std::io::Result<MmsServer> {
        MmsServer::start_with(addr, capture, Some(tls)).await
    }

    async fn start_with(
        addr: SocketAddr,
        capture: Capture,
        tls: Option<crate::net::tls::TlsServer>,
    ) -> std::io::Result<MmsServer> {
        let listener = crate::net::listen_permitted(addr).await?;
        let addr = listener.local_addr()?;
        let shared: Arc<Shared> = Arc::new(Shared {
            https: tls.is_some(),
            ..Shared::default()
        });
        let task = {
            let (shared, capture) = (shared.clone(), capture.clone());
            tokio::spawn(async move {
                while let Ok((stream, from)) = listener.accept().await {
                    let Some(tls) = tls.clone() else {
                        let Ok(conn) =
                            StreamConn::accepted(stream, capture.clone(), framer, 4 << 20)
                        else {
                            continue;
                        };
                        tokio::spawn(serve(conn, shared.clone(), false));
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let (shared, capture) = (shared.clone(), capture.clone());
                    tokio::spawn(async move {
                        let at = Instant::now();
                        match tls
                            .accept(stream, capture, crate::net::tls::HANDSHAKE_TIMEOUT)
                            .await
                        {
                            Ok(s) => {
                                let conn = StreamConn::over_tls(s, framer, 4 << 20);
                                serve(conn, shared, true).await;
                            }
                            Err(e) => {
                                let owner = match &e {
                                    crate::net::tls::TlsError::NotTls { first_bytes } => {
                                        lock(&shared.owners).owner_of(first_bytes)
                                    }
                                    _ => None,
                                };
                                shared.push(not_tls(at, from, e, owner, "the https:// MMSC URL's"));
                                shared.notify.notify_waiters();
                            }
                        }
                    });
                }
            })
        };
        Ok(MmsServer {
            addr,
            shared,
            capture,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A scenario's share of the server: the requests that carry the keys
    /// it gives the claim, in its log and in `scenario`'s pcap (through
    /// the server's routed capture). Dropped, its keys are nobody's and
    /// its MMs are served no more.
    pub fn claim(&self, scenario: &Capture) -> MmsClaim {
        let mut o = lock(&self.shared.owners);
        o.next += 1;
        let id = o.next;
        o.keys.push((id, Vec::new()));
        MmsClaim {
            id,
            addr: self.addr,
            listeners: Mutex::default(),
            shared: self.shared.clone(),
            capture: self.capture.claim(scenario),
        }
    }

    /// Everything kept, whoever it belongs to.
    pub fn log(&self) -> Vec<MmsArrival> {
        self.shared.log_where(|_| true)
    }

    /// What arrived at or after `since`, whoever it belongs to.
    pub fn log_since(&self, since: Instant) -> Vec<MmsArrival> {
        self.shared.log_where(|a| a.at >= since)
    }

    /// Waits until `pred` holds for the whole log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[MmsArrival]) -> bool) -> bool {
        wait_on(&self.shared, deadline, |_| true, pred).await
    }
}

async fn wait_on(
    shared: &Shared,
    deadline: Instant,
    keep: impl Fn(&MmsArrival) -> bool,
    pred: impl Fn(&[MmsArrival]) -> bool,
) -> bool {
    crate::roles::wait_until(&shared.notify, deadline, || {
        if pred(&shared.log_where(&keep)) {
            crate::roles::Check::Done
        } else {
            crate::roles::Check::Wait
        }
    })
    .await
}

/// A scenario's share of an [`MmsServer`] ([`MmsServer::claim`]).
pub struct MmsClaim {
    id: u64,
    addr: SocketAddr,
    /// Its TLS listeners' tasks (ended with the claim).
    listeners: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    shared: Arc<Shared>,
    capture: crate::net::capture::Claim,
}

impl std::fmt::Debug for MmsClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmsClaim").field("id", &self.id).finish()
    }
}

impl Drop for MmsClaim {
    fn drop(&mut self) {
        for t in lock(&self.listeners).drain(..) {
            t.abort();
        }
        lock(&self.shared.owners)
            .keys
            .retain(|(id, _)| *id != self.id);
        lock(&self.shared.mms).retain(|_, (owner, _)| *owner != self.id);
        lock(&self.shared.log).retain(|a| a.owner != Some(self.id));
    }
}

impl MmsClaim {
    /// Requests that carry `key` (whole) are this scenario's from now on;
    /// `key` must be its own, made up fresh. At most
    /// [`crate::net::route::MAX_KEYS_PER_OWNER`] keys.
    pub fn key(&self, key: &str) {
        if key.is_empty() {
            return;
        }
        let mut o = lock(&self.shared.owners);
        if let Some((_, keys)) = o.keys.iter_mut().find(|(id, _)| *id == self.id)
            && keys.len() < crate::net::route::MAX_KEYS_PER_OWNER
        {
            keys.push(key.to_string());
        }
        drop(o);
        self.capture.key(key);
    }

    /// A fresh Content-Location on the server, its token this scenario's key.
    pub fn new_location(&self) -> String {
        let t = token();
        self.key(&t);
        let scheme = if self.shared.https { "https" } else { "http" };
        format!("{scheme}://{}/mms/{t}", self.addr)
    }

    /// A fresh `https://` Content-Location at `at`, a TLS listener of this
    /// scenario ([`MmsClaim::listen_tls`]), its token this scenario's key.
    pub fn new_https_location(&self, at: SocketAddr) -> String {
        let t = token();
        self.key(&t);
        format!("https://{at}/mms/{t}")
    }

    /// A TLS listener of this scenario beside the server (its IP, a port
    /// the system picks), open until `until`: each connection's handshake
    /// as `tls` (the harness's certificate from the run's lab CA, RFC 2818
    /// §3.1), its records and secrets into `capture` (the scenario's: the
    /// server's routed capture cannot find keys in ciphertext), then served
    /// as the server's plaintext connections are, every request this
    /// scenario's and marked [`MmsArrival::tls`]. A handshake that fails
    /// is logged as an arrival of this scenario whose `msg` says what the
    /// client did (plaintext HTTP where TLS was due: its bytes).
    pub async fn listen_tls(
        &self,
        tls: crate::net::tls::TlsServer,
        capture: Capture,
        until: Instant,
    ) -> std::io::Result<SocketAddr> {
        let l = crate::net::listen_permitted(SocketAddr::new(self.addr.ip(), 0)).await?;
        let at = l.local_addr()?;
        let (shared, id) = (self.shared.clone(), self.id);
        let task = tokio::spawn(async move {
            let left = until.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, async {
                while let Ok((stream, from)) = l.accept().await {
                    let _ = stream.set_nodelay(true);
                    let (tls, shared, capture) = (tls.clone(), shared.clone(), capture.clone());
                    tokio::spawn(async move {
                        let at = Instant::now();
                        match tls
                            .accept(stream, capture, crate::net::tls::HANDSHAKE_TIMEOUT)
                            .await
                        {
                            Ok(s) => {
                                let conn = StreamConn::over_tls(s, framer, 4 << 20);
                                serve_owned(conn, shared, id).await;
                            }
                            Err(e) => {
                                shared.push(not_tls(
                                    at,
                                    from,
                                    e,
                                    Some(id),
                                    "the https:// Content-Location's",
                                ));
                                shared.notify.notify_waiters();
                            }
                        }
                    });
                }
            })
            .await;
        });
        lock(&self.listeners).push(task);
        Ok(at)
    }

    /// Serves `pdu` (an M-Retrieve.conf, or any bytes) at `url` while the
    /// claim lives.
    pub fn put(&self, url: &str, pdu: Vec<u8>) {
        lock(&self.shared.mms).insert(url.to_string(), (self.id, pdu));
    }

    /// This scenario's requests that arrived at or after `since`.
    pub fn log_since(&self, since: Instant) -> Vec<MmsArrival> {
        self.shared
            .log_where(|a| a.owner == Some(self.id) && a.at >= since)
    }

    /// The requests at or after `since` that carried no scenario's key
    /// (any scenario running then may have driven them): shown beside a
    /// failure, never judged.
    pub fn nobodys_since(&self, since: Instant) -> Vec<MmsArrival> {
        self.shared
            .log_where(|a| a.owner.is_none() && a.at >= since)
    }

    /// Waits until `pred` holds for this scenario's requests or `deadline`
    /// passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[MmsArrival]) -> bool) -> bool {
        wait_on(&self.shared, deadline, |a| a.owner == Some(self.id), pred).await
    }
}

async fn serve(conn: StreamConn, shared: Arc<Shared>, tls: bool) {
    serve_as(conn, shared, tls, None).await
}

/// Serves one connection; its requests are `owner`'s, or (None) the
/// scenario's whose key each carries.
async fn serve_as(conn: StreamConn, shared: Arc<Shared>, tls: bool, owner: Option<u64>) {
    loop {
        let Some(a) = conn.recv(Instant::now() + Duration::from_secs(3600)).await else {
            continue;
        };
        let (bytes, last, why) = match a.event {
            StreamEvent::Message(b) => (b, false, None),
            StreamEvent::Garbage(b, why) => (b, true, Some(why)),
            StreamEvent::Closed(b) => (b, true, None),
        };
        if !bytes.is_empty() {
            let msg = match why {
                Some(w) => Err(w),
                None if last => Err("the connection ended inside a request".into()),
                None => HttpMessage::parse(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|m| {
                        if m.method().is_some() {
                            Ok(m)
                        } else {
                            Err("a response, not a request".into())
                        }
                    }),
            };
            let owner = owner.or_else(|| lock(&shared.owners).owner_of(&bytes));
            let mut arrival = MmsArrival {
                at: a.at,
                from: conn.peer(),
                bytes,
                msg,
                answered: None,
                owner,
                tls,
            };
            let answer = arrival.msg.as_ref().ok().map(|m| {
                let close = m
                    .header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close"));
                let mut headers: Vec<(&str, &str)> = Vec::new();
                if close {
                    headers.push(("Connection", "close"));
                }
                match m.method() {
                    Some("GET") => match arrival
                        .url()
                        .and_then(|u| lock(&shared.mms).get(&u).map(|(_, pdu)| pdu.clone()))
                    {
                        Some(pdu) => {
                            headers.push(("Content-Type", MMS_MEDIA));
                            (200, http::response(200, "OK", &headers, &pdu), close)
                        }
                        None => (404, http::response(404, "Not Found", &headers, b""), close),
                    },
                    Some("POST") => match send_conf_for(&m.body) {
                        // MM1 submission (an IM server deferring to MMS):
                        // the M-Send.conf, Ok, with a Message-ID (ENC §6.1.2).
                        Some(conf) => {
                            headers.push(("Content-Type", MMS_MEDIA));
                            (200, http::response(200, "OK", &headers, &conf), close)
                        }
                        None => (200, http::response(200, "OK", &headers, b""), close),
                    },
                    _ => (
                        405,
                        http::response(405, "Method Not Allowed", &headers, b""),
                        close,
                    ),
                }
            });
            arrival.answered = answer.as_ref().map(|a| a.0);
            shared.push(arrival);
            shared.notify.notify_waiters();
            if let Some((_, bytes, close)) = answer {
                let _ = conn.send(&bytes).await;
                if close {
                    conn.shutdown().await;
                    shared.notify.notify_waiters();
                    return;
                }
            }
        }
        if last {
            shared.notify.notify_waiters();
            return;
        }
    }
}

/// What a connection to a TLS port that failed its handshake is logged as:
/// the error (plaintext where TLS was due: its first bytes, which it keeps
/// as the arrival's bytes too).
fn not_tls(
    at: Instant,
    from: SocketAddr,
    e: crate::net::tls::TlsError,
    owner: Option<u64>,
    port: &str,
) -> MmsArrival {
    let bytes = match &e {
        crate::net::tls::TlsError::NotTls { first_bytes } => first_bytes.clone(),
        _ => Vec::new(),
    };
    MmsArrival {
        at,
        from,
        bytes,
        msg: Err(format!("no TLS connection on {port} port: {e}")),
        answered: None,
        owner,
        tls: true,
    }
}

/// [`serve`] for a scenario's own TLS listener: every request there is
/// `id`'s, whatever keys it carries.
async fn serve_owned(conn: StreamConn, shared: Arc<Shared>, id: u64) {
    serve_as(conn, shared, true, Some(id)).await
}

/// The M-Send.conf (Ok, a fresh Message-ID, the request's Transaction-ID)
/// for a POSTed M-Send.req; `None` for any other body.
fn send_conf_for(body: &[u8]) -> Option<Vec<u8>> {
    use crate::codec::mms::{MessageType, Pdu, PduBuilder, ResponseStatus};
    let req = Pdu::parse(body).ok()?;
    if req.message_type() != Some(MessageType::SEND_REQ) {
        return None;
    }
    Some(
        PduBuilder::send_conf(req.transaction_id().unwrap_or(""), ResponseStatus::OK)
            .message_id(&format!("{}@mmsc.liaison.test", token()))
            .build()
            .encode(),
    )
}

/// Sends `datagram` from `ip` (port 0) to `dst` over UDP, tapped into
/// `capture`: a connectionless WSP push over WDP's IP bearer. Returns the
/// harness's source address.
pub async fn wdp_push(
    ip: IpAddr,
    dst: SocketAddr,
    capture: &Capture,
    datagram: &[u8],
) -> std::io::Result<SocketAddr> {
    if !crate::net::permitted(dst.ip()) {
        return Err(crate::net::not_permitted("sends to", dst.ip()));
    }
    let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    let src = sock.local_addr()?;
    // Captured before sending, so the client's reaction never appears first.
    capture.udp_sent(src, dst, datagram);
    sock.send_to(datagram, dst).await?;
    Ok(src)
}

/// The Accept-Contact value that routes a push to `app` (`mms.ua`).
pub fn push_feature_tag(app: &str) -> String {
    format!("*;+g.oma.pusheventapp=\"{app}\";require;explicit")
}

/// Push over SIP: a MESSAGE to `request_uri` at `dst` carrying `body` as
/// `content_type`, routed to `app` by its feature tag; runs the client
/// transaction (bounded by `deadline`) and returns what came back.
#[allow(clippy::too_many_arguments)]
pub async fn sip_push(
    ep: &SipEndpoint,
    timers: Timers,
    dst: SocketAddr,
    request_uri: &str,
    app: &str,
    content_type: &str,
    body: &[u8],
    deadline: Instant,
) -> ClientResult {
    let push = SipPush {
        request_uri,
        app,
        content_type,
        body,
    };
    sip_push_over(ep, Transport::Udp, timers, dst, push, deadline).await
}

/// What a Push over SIP MESSAGE carries ([`sip_push_over`]).
#[derive(Debug, Clone, Copy)]
pub struct SipPush<'a> {
    pub request_uri: &'a str,
    pub app: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// [`sip_push`] over transport `t` (for [`Transport::Tls`], over the
/// connection `ep` opened to `dst` with [`SipEndpoint::connect_tls`]).
pub async fn sip_push_over(
    ep: &SipEndpoint,
    t: Transport,
    timers: Timers,
    dst: SocketAddr,
    push: SipPush<'_>,
    deadline: Instant,
) -> ClientResult {
    let SipPush {
        request_uri,
        app,
        content_type,
        body,
    } = push;
    let branch = format!("z9hG4bK{}", token());
    let bytes = request("MESSAGE", request_uri)
        .header(
            "Via",
            &format!(
                "SIP/2.0/{} {};branch={branch};rport",
                t.via_name(),
                ep.addr(t)
            ),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            &format!(
                "<sip:mmsc@{}>;tag={}",
                crate::net::uri_host(ep.addr(t).ip()),
                token()
            ),
        )
        .header("To", &format!("<{request_uri}>"))
        .header("Call-ID", &format!("{}@liaison", token()))
        .header("CSeq", "1 MESSAGE")
        .header("Accept-Contact", &push_feature_tag(app))
        .header("Content-Type", content_type)
        .body(body)
        .build();
    let bounds = Bounds {
        timers,
        deadline,
        linger: Duration::ZERO,
    };
    non_invite_client(ep, t, dst, bytes, &branch, bounds).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::mms::{PduBuilder, Status};

    /// One GET over TLS to `at` (the server's certificate not checked):
    /// the response's status.
    async fn get_tls(at: SocketAddr, path: &str) -> Option<u16> {
        use crate::net::tls::{Offer, PeerCheck, TlsClient};
        let client = TlsClient::new(PeerCheck::NotChecked, &Offer::all(), None).unwrap();
        let tcp = tokio::net::TcpStream::connect(at).await.ok()?;
        let s = client
            .connect(
                tcp,
                "127.0.0.1",
                Capture::disabled(),
                Duration::from_secs(3),
            )
            .await
            .ok()?;
        let conn = StreamConn::over_tls(s, framer, 1 << 20);
        conn.send(&http::request("GET", path, &at.to_string(), &[], b""))
            .await
            .ok()?;
        let a = conn.recv(Instant::now() + Duration::from_secs(3)).await?;
        match a.event {
            StreamEvent::Message(b) => HttpMessage::parse(&b).ok()?.status(),
            _ => None,
        }
    }

    /// Issue 15: an https:// Content-Location on a scenario's TLS listener
    /// is served over TLS (the request marked so, its URL https://); plain
    /// HTTP there is logged as the scenario's with the bytes that came; a
    /// server started with TLS takes TLS and logs plaintext by its key.
    #[tokio::test]
    async fn https_locations_and_an_https_server() {
        use crate::net::tls::{LabCa, Offer, TlsServer};
        let ca = LabCa::new().unwrap();
        let id = ca
            .issue(&["localhost"], &["127.0.0.1".parse().unwrap()])
            .unwrap();
        let tls = TlsServer::new(&id, &Offer::all()).unwrap();
        let s = MmsServer::start("127.0.0.1:0".parse().unwrap(), Capture::disabled())
            .await
            .unwrap();
        let c = s.claim(&Capture::disabled());
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(3);
        let at = c
            .listen_tls(tls.clone(), Capture::disabled(), deadline)
            .await
            .unwrap();
        let loc = c.new_https_location(at);
        assert!(loc.starts_with(&format!("https://{at}/mms/")), "{loc}");
        c.put(&loc, b"mm".to_vec());
        let path = &loc[format!("https://{at}").len()..];
        assert_eq!(get_tls(at, path).await, Some(200));
        let clear = http::request("GET", path, &at.to_string(), &[], b"");
        let out = crate::roles::mms_ua::exchange(at, Capture::disabled(), &clear, deadline).await;
        assert!(out.response().is_none());
        c.wait_for(deadline, |log| log.len() == 2).await;
        let log = c.log_since(t0);
        assert_eq!(log.len(), 2);
        assert!(log[0].tls && log[0].url().as_deref() == Some(loc.as_str()));
        assert_eq!(log[0].answered, Some(200));
        let e = log[1].describe();
        assert!(
            e.contains("came bytes that are not TLS") && e.contains("GET /mms/"),
            "{e}"
        );
        assert_eq!(log[1].bytes, clear);
        // A server that takes TLS only: its locations are https://.
        let s = MmsServer::start_tls("127.0.0.1:0".parse().unwrap(), Capture::disabled(), tls)
            .await
            .unwrap();
        let c = s.claim(&Capture::disabled());
        let loc = c.new_location();
        assert!(loc.starts_with("https://"), "{loc}");
        c.put(&loc, b"mm".to_vec());
        let path = &loc[format!("https://{}", s.addr()).len()..];
        assert_eq!(get_tls(s.addr(), path).await, Some(200));
        let clear = http::request("GET", path, &s.addr().to_string(), &[], b"");
        let _ =
            crate::roles::mms_ua::exchange(s.addr(), Capture::disabled(), &clear, deadline).await;
        c.wait_for(deadline, |log| log.len() == 2).await;
        let log = c.log_since(t0);
        assert_eq!(
            log.len(),
            2,
            "the plaintext one is the scenario's by its key"
        );
        assert!(log[1].msg.is_err() && log[1].tls);
    }

    /// A request belongs to the scenario whose key it carries whole,
    /// whenever it arrives; a changed or made-up one to nobody; once the
    /// claim is gone, its MMs are served no more (issue 12 item 14, issue
    /// 14 item 2).
    #[tokio::test]
    async fn a_request_is_the_scenario_whose_key_it_carries() {
        let s = MmsServer::start("127.0.0.1:0".parse().unwrap(), Capture::disabled())
            .await
            .unwrap();
        let (one, two) = (s.claim(&Capture::disabled()), s.claim(&Capture::disabled()));
        one.key("T-one1");
        two.key("T-two2");
        let loc = two.new_location();
        two.put(&loc, b"mm".to_vec());
        let post = |tid: &str| {
            let pdu = PduBuilder::notify_resp_ind(tid, Status::REJECTED).encode();
            http::request(
                "POST",
                "/mmsc",
                &s.addr().to_string(),
                &[("Content-Type", MMS_MEDIA)],
                &pdu,
            )
        };
        let path = loc.split_once("/mms/").map(|(_, t)| t).unwrap();
        let get = http::request(
            "GET",
            &format!("/mms/{path}"),
            &s.addr().to_string(),
            &[],
            b"",
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        let t0 = Instant::now();
        for req in [post("T-one1"), post("T-two2"), post("T-one10"), get.clone()] {
            let out =
                crate::roles::mms_ua::exchange(s.addr(), Capture::disabled(), &req, deadline).await;
            assert_eq!(out.response().and_then(|r| r.status()), Some(200));
        }
        s.wait_for(deadline, |log| log.len() == 4).await;
        let owners: Vec<Option<u64>> = s.log().iter().map(|a| a.owner).collect();
        assert_eq!(owners, [Some(1), Some(2), None, Some(2)]);
        assert_eq!(one.log_since(t0).len(), 1);
        assert_eq!(two.log_since(t0).len(), 2);
        assert_eq!(one.nobodys_since(t0).len(), 1);
        drop(two);
        let out =
            crate::roles::mms_ua::exchange(s.addr(), Capture::disabled(), &get, deadline).await;
        assert_eq!(out.response().and_then(|r| r.status()), Some(404));
        s.wait_for(deadline, |log| log.len() == 3).await;
        assert_eq!(s.log().last().map(|a| a.owner), Some(None));
    }
}
