//! Reference `im-server`: registrar, stateful proxy for pager-mode MESSAGE,
//! and store-and-forward for offline users.
//!
//! - REGISTER binds `user@domain` to the Contact (RFC 3261 §10.3); expires 0
//!   removes it. A registration releases the user's stored messages. A
//!   REGISTER with a Path (RFC 3327) is taken only from a UA that said
//!   `Supported: path`; otherwise 420 with `Unsupported: path` (§5.3).
//! - MESSAGE to a registered user is forwarded statefully (§16.6: new top
//!   Via, Max-Forwards decremented, R-URI set to the contact). The recipient's
//!   final response goes back unchanged but for the removed Via (§16.7); if
//!   none comes within Timer F the originator gets nothing (RFC 4320 §4.2: no
//!   408 to a non-INVITE). The proxy's server transaction absorbs the
//!   originator's retransmissions (§17.2.2).
//! - MESSAGE to an unregistered user: stored and answered 202 (RFC 3428 §7:
//!   accepted, not delivered), or 480 when storing is off. A stored message
//!   whose `Expires` (seconds, RFC 3261 §20.19) has passed is not delivered.
//! - Offline notification (seed 002; Push over SIP): a Contact registered with
//!   `+g.oma.pusheventapp` is a push contact, never used to deliver IM. When
//!   a message is stored for a user with a push contact for [`OFFLINE_APP`],
//!   the server pushes a short notification to it: a MESSAGE with
//!   `Accept-Contact: *;+g.oma.pusheventapp="…";require;explicit`. The
//!   originator still gets 202: the push is not delivery. A refused push
//!   leaves the message stored.
//! - Deferral to MMS (seed 000), with [`DeferralConfig`]: a MESSAGE for a
//!   user of the MMS users' domain who is not registered, or whose client
//!   answers 480 or 408, is submitted to the MMS Relay/Server on MM1 (an
//!   M-Send.req POSTed to its URL: To the recipient's SIP URI, From the
//!   originator's, the body as the only part of a multipart/mixed MM under
//!   its own media type and charset) and answered 202 once the MMSC says Ok.
//!   A MESSAGE the client takes (200) is not copied to MMS.
//! - SIP over WebSocket (RFC 7118), on a TCP listener of its own: the
//!   opening handshake answered 101 with `Sec-WebSocket-Protocol: sip` when
//!   the client offers `sip` and 400 otherwise (426 for a version other
//!   than 13, RFC 6455 §4.2.2), over [`crate::codec::ws`] with its own I/O;
//!   the client's frames unmasked and joined, each WebSocket message one
//!   SIP message handled as one over TCP; Ping answered with Pong, Close
//!   with Close; a broken frame closes the connection with 1002 (1009 over
//!   the size limit, 1007 for text that is not UTF-8). Responses to a
//!   request that came over a WebSocket connection go back over it, in
//!   unmasked text frames (RFC 7118 §5, RFC 3261 §18.2.2): a WebSocket
//!   client takes no connections, so its Via names nowhere to send to.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::{rebuild, uri_socket_addr, Settings};
use crate::codec::http;
use crate::codec::sip::{header_param, response_to, token, uri_of, uri_user_host, SipMessage};
use crate::codec::sip_push::{accept_contact, push_apps, PUSH_APP_TAG};
use crate::codec::ws;

/// The push application ID of the reference server's offline notifications.
pub const OFFLINE_APP: &str = "x-liaison.im-offline";

/// The domain of the embedded reference's MMS users (deferral), apart from
/// the domain it stores messages for.
pub const MMS_DOMAIN: &str = "mms.liaison.test";

/// Where the server defers to MMS, and for whom.
#[derive(Debug, Clone)]
pub struct DeferralConfig {
    /// `http://IP:PORT/PATH` of the MMS Relay/Server's MM1 interface.
    pub mmsc_url: String,
    /// The domain of the users it defers for.
    pub domain: String,
    /// Write SIP URIs as `escaped-value/TYPE=<this>` (OMA MMS ENC §8)
    /// instead of the bare URI.
    pub sip_type: Option<String>,
}

/// How long an MM1 submission may take.
const MM1_BOUND: Duration = Duration::from_secs(2);

/// A MESSAGE the server may have to defer: what the MM is made of.
#[derive(Clone)]
struct Deferrable {
    from: String,
    to: String,
    content_type: String,
    body: Vec<u8>,
}

/// The request target of the reference's WebSocket URL (`ws://IP:PORT/`);
/// it takes the upgrade at any target.
pub const WS_PATH: &str = "/";

/// How long a WebSocket client has for its whole opening handshake.
const WS_HANDSHAKE: Duration = Duration::from_secs(5);
/// How long one write to a WebSocket client may take.
const WS_WRITE: Duration = Duration::from_secs(3);
/// How long a WebSocket connection may stay silent before the server
/// closes it (1001, going away).
const WS_IDLE: Duration = Duration::from_secs(300);
/// The largest WebSocket message (one SIP message) taken, as over TCP.
const WS_MAX_MESSAGE: usize = 256 * 1024;

#[derive(Clone)]
enum Peer {
    Udp(SocketAddr),
    Tcp(mpsc::UnboundedSender<Vec<u8>>),
    /// A WebSocket connection's writer ([`Server::ws_writer`]): each SIP
    /// message goes as one WebSocket message (RFC 7118 §5).
    Ws(mpsc::UnboundedSender<Vec<u8>>),
}

#[derive(Clone)]
struct Binding {
    contact: String,
    addr: SocketAddr,
    hop: Hop,
    until: Instant,
    /// The Path of the REGISTER (RFC 3327): requests go through it.
    path: Vec<String>,
    /// The feature tags of the registered Contact (RFC 3840).
    features: Vec<crate::codec::ims::Feature>,
}

struct Stored {
    from: String,
    /// The identities the trusted core asserted for the originator.
    asserted: Vec<String>,
    content_type: String,
    body: Vec<u8>,
    /// From the MESSAGE's Expires: not delivered after this.
    expires_at: Option<Instant>,
}

/// A contact registered with `+g.oma.pusheventapp`: reached by push only.
struct PushBinding {
    contact: String,
    addr: SocketAddr,
    hop: Hop,
    apps: Vec<String>,
    until: Instant,
}

/// An offline notification waiting for the device's answer.
struct PushPending {
    aor: String,
    result: Option<tokio::sync::oneshot::Sender<u16>>,
}

/// A forwarded MESSAGE waiting for the recipient's final response.
struct Pending {
    origin: Peer,
    origin_key: String,
    request: Vec<u8>,
    to: SocketAddr,
    hop: Hop,
    done: bool,
    /// For an MMS user: the MM to submit if the client answers 480 or 408.
    defer: Option<Deferrable>,
    /// Other contacts to try on an error (the preference-only fault).
    retry: Option<Retry>,
}

/// A contact to forward to: its URI, where to send (the Path's first hop or
/// the contact, and TCP or not), and the Path to put in Route.
type Target = (String, (SocketAddr, Hop), Vec<String>);

/// How the server reaches a contact or a Path hop: over UDP, TCP, or TLS
/// (a `sips:` URI: TLS on the hop, RFC 5630 §5.3, RFC 3261 §26.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Hop {
    Udp,
    Tcp,
    Tls,
}

impl Hop {
    /// The address and hop of a contact or Path URI.
    fn of(uri: &str) -> Option<(SocketAddr, Hop)> {
        let (addr, tcp) = uri_socket_addr(uri)?;
        let hop = if uri
            .trim_start_matches('<')
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
        {
            Hop::Tls
        } else if tcp {
            Hop::Tcp
        } else {
            Hop::Udp
        };
        Some((addr, hop))
    }

    fn via(self) -> &'static str {
        match self {
            Hop::Udp => "UDP",
            Hop::Tcp => "TCP",
            Hop::Tls => "TLS",
        }
    }
}

/// What a forwarded MESSAGE can be tried again with.
#[derive(Clone)]
struct Retry {
    msg: SipMessage,
    trusted: bool,
    rest: Vec<Target>,
}

#[derive(Default)]
struct State {
    /// IM contacts by AoR, oldest first.
    bindings: HashMap<String, Vec<Binding>>,
    /// Push-only contacts by AoR.
    push: HashMap<String, Vec<PushBinding>>,
    /// Offline notifications in progress, by branch.
    push_tx: HashMap<String, PushPending>,
    store: HashMap<String, Vec<Stored>>,
    /// Originator transactions still waiting for their final response:
    /// key → when they came, and the same in the order they came (let go
    /// after 2·Timer J without a sweep of the map per request).
    server_pending: HashMap<String, Instant>,
    pending_order: std::collections::VecDeque<(Instant, String)>,
    /// Completed originator transactions: their final response, kept for
    /// 2·Timer J to answer retransmissions (RFC 3261 §17.2.2).
    server_done: super::Completed,
    /// Our client transactions, by branch.
    client_tx: HashMap<String, Pending>,
    /// Forwarded MESSAGEs waiting for the recipient's final response (at
    /// most [`max_forwarding`]).
    forwarding: usize,
    /// TCP connections to recipients.
    tcp_out: HashMap<(SocketAddr, Hop), mpsc::UnboundedSender<Vec<u8>>>,
}

impl State {
    /// Lets go of the originator transactions older than `keep`.
    fn expire_server_tx(&mut self, keep: Duration) {
        self.server_done.expire(keep);
        while let Some((at, _)) = self.pending_order.front() {
            if at.elapsed() < keep {
                break;
            }
            if let Some((_, key)) = self.pending_order.pop_front()
                && self
                    .server_pending
                    .get(&key)
                    .is_some_and(|t| t.elapsed() >= keep)
            {
                self.server_pending.remove(&key);
            }
        }
    }

    /// A forwarded MESSAGE's client transaction ended (its first final
    /// response, or Timer F): it no longer counts against the bound.
    fn forward_ended(&mut self, branch: &str) {
        if let Some(p) = self.client_tx.remove(branch)
            && !p.done
            && !p.origin_key.is_empty()
        {
            self.forwarding = self.forwarding.saturating_sub(1);
        }
    }
}

/// How many forwarded MESSAGEs may wait for their recipients' final
/// responses at once. A MESSAGE that would be one more is refused at once
/// with 503 Service Unavailable and a Retry-After (RFC 3261 §21.5.4): the
/// server is overloaded, the request was not forwarded, and the originator
/// learns it now rather than by its own Timer F. A recipient that never
/// answers keeps its MESSAGE waiting for Timer F (64·T1), so the bound is
/// what [`SILENT_PER_S`] such MESSAGEs a second keep waiting: 8 192 at
/// T1 = 500 ms (at 30 000 a second, 270 ms from forwarding to the
/// recipient's answer; 1 024 allowed 34 ms, and a pause of the runtime
/// turned into 503s), 491 at T1 = 30 ms (the load fault
/// `200-when-queue-full` fills it in a test of a few seconds on a debug
/// build).
pub fn max_forwarding(t1: Duration) -> usize {
    ((SILENT_PER_S as f64 * 64.0 * t1.as_secs_f64()) as usize).max(64)
}

/// Recipients that never answer, per second, that the forwarding bound
/// absorbs ([`max_forwarding`]).
pub const SILENT_PER_S: usize = 256;

struct Server {
    settings: Settings,
    /// Everything received on connections the server opened goes here.
    inbox: mpsc::UnboundedSender<(Vec<u8>, Peer)>,
    udp: Arc<UdpSocket>,
    addr: SocketAddr,
    /// Where it takes SIP over TLS, when it has a certificate.
    tls_addr: Option<SocketAddr>,
    /// As TLS client (towards `sips:` contacts): the run's CA.
    tls_client: Option<Arc<rustls::ClientConfig>>,
    state: Mutex<State>,
}

use super::lock;

/// The URI of an AoR key (`user@host`, or a global number).
fn aor_uri(aor: &str) -> String {
    if aor.starts_with('+') {
        format!("tel:{aor}")
    } else {
        format!("sip:{aor}")
    }
}

fn aor_key(uri: &str) -> String {
    // One global number names one user, whatever the URI form (RFC 3261
    // §19.1.6: tel: and sip:…;user=phone).
    if let Some(n) = crate::codec::ims::global_number(uri) {
        return n;
    }
    let (user, host) = uri_user_host(uri);
    let host = host.unwrap_or_default();
    let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
    format!("{}@{host}", user.unwrap_or_default())
}

impl Server {
    async fn send(self: &Arc<Self>, to: &Peer, bytes: Vec<u8>) {
        match to {
            Peer::Udp(a) => {
                let _ = self.udp.send_to(&bytes, a).await;
            }
            Peer::Tcp(tx) => {
                let _ = tx.send(bytes);
            }
            Peer::Ws(tx) => {
                let _ = tx.send(self.ws_frame(&bytes));
            }
        }
    }

    /// A SIP message as a server's WebSocket frame: unmasked (RFC 6455
    /// §5.1), text when it is UTF-8, binary otherwise (RFC 7118 §4.2).
    fn ws_frame(&self, sip: &[u8]) -> Vec<u8> {
        // Fault: the server masks its frames, which a client must refuse.
        let mask = self
            .settings
            .has_fault("ws-masked-frames")
            .then_some(*b"liai");
        ws::encode_frame(ws::sip_opcode(sip), sip, mask)
    }

    /// The writer of a WebSocket connection: writes the bytes it is given
    /// (frames, and first the handshake's answer), each bounded by
    /// [`WS_WRITE`]; an empty buffer ends the connection (FIN) after what
    /// came before it. A write that fails or times out ends it too.
    fn ws_writer(
        self: &Arc<Self>,
        mut wr: tokio::net::tcp::OwnedWriteHalf,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if b.is_empty() {
                    break;
                }
                match tokio::time::timeout(WS_WRITE, wr.write_all(&b)).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
            let _ = tokio::time::timeout(WS_WRITE, wr.shutdown()).await;
        });
        tx
    }

    /// One WebSocket connection from `peer`: the opening handshake (RFC
    /// 6455 §4.2, RFC 7118 §4.1), then its messages, each handled as a SIP
    /// message that came over it, until it closes.
    async fn ws_connection(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        use tokio::io::AsyncReadExt;
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        let until = tokio::time::Instant::now() + WS_HANDSHAKE;
        // The upgrade request: one whole HTTP head, within the limits.
        let head = loop {
            let problem = match http::next_frame(&buf, ws::HANDSHAKE_MAX) {
                Ok(Some(n)) => break n,
                Ok(None) if ws::cannot_be_http(&buf, false) => {
                    Some("an HTTP request starts with a method token and a space".to_string())
                }
                Ok(None) => None,
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = problem {
                let answer = ws::refusal(400, "Bad Request", &why);
                let _ = tokio::time::timeout(WS_WRITE, wr.write_all(&answer)).await;
                let _ = tokio::time::timeout(WS_WRITE, wr.shutdown()).await;
                return;
            }
            match tokio::time::timeout_at(until, rd.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                // Closed, failed, or too slow: nothing to answer.
                _ => return,
            }
        };
        let checked =
            ws::read_request(&buf[..head]).and_then(|r| r.require(ws::SUBPROTOCOL_SIP).map(|()| r));
        let upgrade = match checked {
            Ok(r) => r,
            Err(e) => {
                // RFC 7118 §4.1: without `sip` offered, no SIP connection.
                let (status, reason) = ws::refusal_status(&e);
                let answer = ws::refusal(status, reason, &e.to_string());
                let _ = tokio::time::timeout(WS_WRITE, wr.write_all(&answer)).await;
                let _ = tokio::time::timeout(WS_WRITE, wr.shutdown()).await;
                return;
            }
        };
        // Fault: the upgrade accepted without choosing `sip`.
        let chosen = (!self.settings.has_fault("ws-no-subprotocol")).then_some(ws::SUBPROTOCOL_SIP);
        let tx = self.ws_writer(wr);
        let _ = tx.send(ws::accept_response(&upgrade.key, chosen));
        buf.drain(..head);
        let mut messages = ws::Assembler::new(WS_MAX_MESSAGE);
        loop {
            // Every whole frame the buffer holds.
            loop {
                let frame = match ws::decode(&buf, ws::Side::Client, WS_MAX_MESSAGE) {
                    Ok(Some((frame, used))) => {
                        buf.drain(..used);
                        frame
                    }
                    Ok(None) => break,
                    Err(e) => return ws_fail(&tx, &e),
                };
                match messages.push(&frame) {
                    Ok(None) | Ok(Some(ws::Message::Pong(_))) => {}
                    Ok(Some(ws::Message::Text(t))) => {
                        let peer_tx = Peer::Ws(tx.clone());
                        tokio::spawn(self.clone().handle(t.into_bytes(), peer_tx, Some(peer)));
                    }
                    Ok(Some(ws::Message::Binary(b))) => {
                        let peer_tx = Peer::Ws(tx.clone());
                        tokio::spawn(self.clone().handle(b, peer_tx, Some(peer)));
                    }
                    Ok(Some(ws::Message::Ping(p))) => {
                        let _ = tx.send(ws::encode_frame(ws::Opcode::Pong, &p, None));
                    }
                    Ok(Some(ws::Message::Close(body))) => {
                        // §5.5.1: a Close answered with a Close (its status
                        // echoed), then the server ends the TCP connection (§7.1.1).
                        let payload = ws::close_payload(body.map(|b| b.code), "");
                        let _ = tx.send(ws::encode_frame(ws::Opcode::Close, &payload, None));
                        let _ = tx.send(Vec::new());
                        return;
                    }
                    Err(e) => return ws_fail(&tx, &e),
                }
            }
            match tokio::time::timeout(WS_IDLE, rd.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    let _ = tx.send(Vec::new());
                    return;
                }
                Err(_) => {
                    let payload = ws::close_payload(Some(ws::CLOSE_GOING_AWAY), "idle");
                    let _ = tx.send(ws::encode_frame(ws::Opcode::Close, &payload, None));
                    let _ = tx.send(Vec::new());
                    return;
                }
            }
        }
    }

    /// Sends to a contact or Path hop: a datagram over UDP; over TCP and
    /// TLS, on the connection opened to it before, or a new one (TLS: the
    /// peer's certificate checked against the run's CA, for its IP address).
    async fn send_to_contact(self: &Arc<Self>, addr: SocketAddr, hop: Hop, bytes: Vec<u8>) {
        if hop == Hop::Udp {
            let _ = self.udp.send_to(&bytes, addr).await;
            return;
        }
        // Boxed: the connecting (TCP, TLS) is a large future that the
        // common path (UDP) need not carry.
        Box::pin(self.send_on_stream(addr, hop, bytes)).await
    }

    /// Sends over TCP or TLS (see [`Self::send_to_contact`]).
    async fn send_on_stream(self: &Arc<Self>, addr: SocketAddr, hop: Hop, bytes: Vec<u8>) {
        let existing = lock(&self.state).tcp_out.get(&(addr, hop)).cloned();
        let tx = match existing {
            Some(tx) if !tx.is_closed() => tx,
            _ => {
                let Ok(Ok(stream)) =
                    tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
                else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let inbox = self.inbox.clone();
                let tx = if hop == Hop::Tls {
                    let Some(config) = self.tls_client.clone() else {
                        return;
                    };
                    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                    let connector = tokio_rustls::TlsConnector::from(config);
                    let Ok(Ok(tls)) = tokio::time::timeout(
                        super::tls::HANDSHAKE,
                        connector.connect(name, stream),
                    )
                    .await
                    else {
                        return;
                    };
                    let (rd, wr) = tokio::io::split(tls);
                    let tx = self.clone().tcp_writer(wr);
                    let back = tx.clone();
                    tokio::spawn(super::read_stream(rd, move |raw| {
                        let _ = inbox.send((raw, Peer::Tcp(back.clone())));
                    }));
                    tx
                } else {
                    let (rd, wr) = stream.into_split();
                    let tx = self.clone().tcp_writer(wr);
                    let back = tx.clone();
                    tokio::spawn(super::read_stream(rd, move |raw| {
                        let _ = inbox.send((raw, Peer::Tcp(back.clone())));
                    }));
                    tx
                };
                lock(&self.state).tcp_out.insert((addr, hop), tx.clone());
                tx
            }
        };
        let _ = tx.send(bytes);
    }

    /// Where this server says it is over `hop` (Via sent-by).
    fn sent_by(&self, hop: Hop) -> SocketAddr {
        match (hop, self.tls_addr) {
            (Hop::Tls, Some(a)) => a,
            _ => self.addr,
        }
    }

    fn tcp_writer<W>(self: Arc<Self>, mut wr: W) -> mpsc::UnboundedSender<Vec<u8>>
    where
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
        });
        tx
    }

    async fn handle(self: Arc<Self>, raw: Vec<u8>, from: Peer, src: Option<SocketAddr>) {
        if self.settings.has_fault("never-answers") {
            return;
        }
        let Ok(msg) = SipMessage::parse(&raw) else {
            return;
        };
        if msg.is_request() {
            self.request(msg, from, src).await
        } else {
            self.response(msg).await
        }
    }

    async fn request(self: Arc<Self>, msg: SipMessage, from: Peer, src: Option<SocketAddr>) {
        let method = msg.method().unwrap_or_default().to_string();
        if method == "ACK" {
            return;
        }
        // A request with a defect is refused, never routed or stored: 505
        // for a SIP-Version other than 2.0 (RFC 3261 §8.2.2 end, §21.5.6),
        // 400 for a CSeq method unlike the method or a Request-URI that is
        // not an absolute URI (§8.2, §21.4.1), the defect as the reason.
        if let Some(defect) = msg.defect() {
            let code = if msg.version().eq_ignore_ascii_case("SIP/2.0") {
                400
            } else {
                505
            };
            let reason: String = defect
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let b = response_to(&msg, code, &reason).to_tag(&token()).build();
            self.send(&from, b).await;
            return;
        }
        let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
        let timer_j = self.settings.t1 * 64;
        // Server transaction: absorb retransmissions (§17.2.2).
        // Looked up and claimed under one lock: two copies of a request
        // handled at once (a retransmission that arrives before the first
        // copy's task runs, on a loaded machine) must not both be processed,
        // or the client gets two different finals (two To tags).
        let seen = {
            let mut st = lock(&self.state);
            st.expire_server_tx(timer_j * 2);
            if let Some((f, at)) = st.server_done.get(&key) {
                Some((Some(f.clone()), *at))
            } else if let Some(at) = st.server_pending.get(&key) {
                Some((None, *at))
            } else {
                let now = Instant::now();
                st.server_pending.insert(key.clone(), now);
                st.pending_order.push_back((now, key.clone()));
                None
            }
        };
        if let Some((final_resp, at)) = seen {
            // Fault: a retransmission that comes 4·T1 or more after the
            // final response (well inside Timer J) is forwarded as new.
            // Copies that cross the final on a loaded machine come sooner.
            if self.settings.has_fault("forward-retransmission-as-new")
                && method == "MESSAGE"
                && final_resp.is_some()
                && at.elapsed() >= self.settings.t1 * 4
            {
                // Fault: treat it as new and forward again with a fresh branch.
            } else {
                if let Some(bytes) = final_resp {
                    self.send(&from, bytes).await;
                }
                return;
            }
        }
        match method.as_str() {
            "REGISTER" => Box::pin(self.register(msg, from, key)).await,
            "MESSAGE" => {
                let trusted = self.trusted(&msg, src);
                self.message(msg, from, key, trusted).await
            }
            "OPTIONS" => {
                let b = response_to(&msg, 200, "OK")
                    .to_tag(&token())
                    .header("Allow", "REGISTER, MESSAGE, OPTIONS")
                    .build();
                self.finish(&key, &from, b).await
            }
            _ => {
                let b = response_to(&msg, 405, "Method Not Allowed")
                    .to_tag(&token())
                    .header("Allow", "REGISTER, MESSAGE, OPTIONS")
                    .build();
                self.finish(&key, &from, b).await
            }
        }
    }

    /// Is a request from `src` inside the trust domain (RFC 3325 §5)? Only
    /// the IMS core's IP is (its IP and port with `trust_port`): where the
    /// request came from, never what its Via claims (anyone can write a Via).
    fn trusted(&self, msg: &SipMessage, src: Option<SocketAddr>) -> bool {
        let Some(ims) = self.settings.ims.as_ref() else {
            return self.settings.has_fault("trusts-any-pai");
        };
        if self.settings.has_fault("trusts-by-via") {
            // Fault: the top Via's sent-by taken for the source.
            let sent_by = msg
                .vias()
                .first()
                .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
                .and_then(|h| h.split(';').next().map(str::to_string))
                .and_then(|h| h.parse::<SocketAddr>().ok());
            return sent_by.is_some_and(|a| a.ip() == ims.core.ip());
        }
        // Fault: the core's IP trusted whatever the port, although the
        // core shares its IP with untrusted senders.
        let by_port = ims.trust_port && !self.settings.has_fault("trusts-core-ip-any-port");
        let from_core = src
            .is_some_and(|s| s.ip() == ims.core.ip() && (!by_port || s.port() == ims.core.port()));
        self.settings.has_fault("trusts-any-pai") || from_core
    }

    /// Sends a final response for server transaction `key` and remembers it.
    async fn finish(self: &Arc<Self>, key: &str, to: &Peer, bytes: Vec<u8>) {
        {
            let mut st = lock(&self.state);
            st.server_pending.remove(key);
            st.server_done.insert(key.to_string(), bytes.clone());
        }
        self.send(to, bytes.clone()).await;
        if self.settings.has_fault("conflicting-finals") && key.ends_with("|MESSAGE") {
            // Fault: the same final again, then a different one on the same
            // transaction (RFC 3261 §17.2.2 allows only the first, repeated).
            self.send(to, bytes.clone()).await;
            let other = if bytes.starts_with(b"SIP/2.0 2") {
                "SIP/2.0 500 Server Internal Error"
            } else {
                "SIP/2.0 200 OK"
            };
            self.send(to, rewrite_status(&bytes, other)).await;
        }
    }

    async fn register(self: Arc<Self>, msg: SipMessage, from: Peer, key: String) {
        let aor = msg
            .header("To")
            .and_then(uri_of)
            .map(|u| aor_key(&u))
            .unwrap_or_default();
        let contact_v = msg.header("Contact").unwrap_or_default().to_string();
        let contact = uri_of(&contact_v).unwrap_or_default();
        let expires: u64 = header_param(&contact_v, "expires")
            .or_else(|| msg.header("Expires").map(str::to_string))
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or(3600);
        let Some((addr, hop)) = Hop::of(&contact).filter(|_| !aor.starts_with('@')) else {
            let b = response_to(&msg, 400, "Bad Contact")
                .to_tag(&token())
                .build();
            return self.finish(&key, &from, b).await;
        };
        if msg.has_header("Path")
            && !msg
                .header_values("Supported")
                .iter()
                .any(|v| v.trim().eq_ignore_ascii_case("path"))
        {
            // A Path the UA never said it supports: refused, the policy
            // RFC 3327 §5.3 recommends (the UA could not know of the route).
            let b = response_to(&msg, 420, "Bad Extension")
                .to_tag(&token())
                .header("Unsupported", "path")
                .build();
            return self.finish(&key, &from, b).await;
        }
        let apps = push_apps(&contact_v).filter(|a| !a.is_empty());
        if let (Some(apps), false) = (apps, self.settings.has_fault("im-to-push-contact")) {
            // A push contact: kept apart, never used for IM (RFC 3840 §6 tags).
            {
                let mut st = lock(&self.state);
                let list = st.push.entry(aor.clone()).or_default();
                list.retain(|b| b.contact != contact);
                if expires > 0 {
                    list.push(PushBinding {
                        contact: contact.clone(),
                        addr,
                        hop,
                        apps: apps.clone(),
                        until: Instant::now() + Duration::from_secs(expires),
                    });
                }
            }
            let mut b = response_to(&msg, 200, "OK").to_tag(&token());
            if expires > 0 {
                b = b.header(
                    "Contact",
                    &format!(
                        "<{contact}>;{PUSH_APP_TAG}=\"{}\";expires={expires}",
                        apps.join(",")
                    ),
                );
            }
            return self.finish(&key, &from, b.build()).await;
        }
        let deliver_expired = self.settings.has_fault("delivers-expired");
        let path = msg.header_values("Path");
        let stored = {
            let mut st = lock(&self.state);
            let list = st.bindings.entry(aor.clone()).or_default();
            list.retain(|b| b.contact != contact);
            if expires == 0 {
                Vec::new()
            } else {
                list.push(Binding {
                    contact: contact.clone(),
                    addr,
                    hop,
                    until: Instant::now() + Duration::from_secs(expires),
                    path: path.clone(),
                    features: crate::codec::ims::features(&contact_v),
                });
                let now = Instant::now();
                st.store
                    .remove(&aor)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|s| deliver_expired || s.expires_at.is_none_or(|t| t > now))
                    .collect()
            }
        };
        let mut b = response_to(&msg, 200, "OK").to_tag(&token());
        // The Path is returned to the UA (RFC 3327 §5.3).
        for p in &path {
            b = b.header("Path", p);
        }
        if expires > 0 {
            b = b.header("Contact", &format!("<{contact}>;expires={expires}"));
        }
        self.finish(&key, &from, b.build()).await;
        if self.settings.has_fault("store-without-delivery") {
            return;
        }
        let hop = self.next_hop(&path, addr, hop);
        for s in stored {
            Box::pin(self.deliver_stored(&aor, &contact, hop, &path, s)).await;
        }
    }

    /// Where a request for a contact goes: the first Path URI's address
    /// when the registration came with one (RFC 3327 §5.3), else the contact.
    fn next_hop(&self, path: &[String], addr: SocketAddr, hop: Hop) -> (SocketAddr, Hop) {
        if self.settings.has_fault("ignores-path") {
            return (addr, hop);
        }
        path.first()
            .and_then(|p| uri_of(p))
            .and_then(|u| Hop::of(&u))
            .unwrap_or((addr, hop))
    }

    /// Delivers a stored message as a new MESSAGE from the server (RFC 3428
    /// leaves the form to the store; the body goes unchanged).
    async fn deliver_stored(
        self: &Arc<Self>,
        aor: &str,
        contact: &str,
        (addr, hop): (SocketAddr, Hop),
        path: &[String],
        s: Stored,
    ) {
        let branch = format!("z9hG4bK{}", token());
        let via = format!(
            "SIP/2.0/{} {};branch={branch}",
            hop.via(),
            self.sent_by(hop)
        );
        let mut headers = vec![("Via".to_string(), via)];
        if !self.settings.has_fault("ignores-path") {
            for p in path {
                headers.push(("Route".into(), p.clone()));
            }
        }
        // The sender is the identity the trusted core asserted, when there
        // was one (RFC 3325 §5), not the From the originator wrote.
        let from = match s.asserted.first() {
            Some(a) if !self.settings.has_fault("stores-from-not-pai") => {
                format!("<{a}>;tag={}", token())
            }
            _ => s.from,
        };
        headers.extend([
            ("Max-Forwards".to_string(), "70".to_string()),
            ("From".into(), from),
            ("To".into(), format!("<{}>", aor_uri(aor))),
            ("Call-ID".into(), format!("{}@liaison-ref", token())),
            ("CSeq".into(), "1 MESSAGE".into()),
        ]);
        if !s.asserted.is_empty() && !self.settings.has_fault("stores-from-not-pai") {
            let list: Vec<&str> = s.asserted.iter().map(String::as_str).collect();
            headers.push((
                "P-Asserted-Identity".into(),
                crate::codec::ims::asserted_value(&list),
            ));
        }
        headers.extend([
            ("Content-Type".to_string(), s.content_type),
            ("Content-Length".into(), s.body.len().to_string()),
        ]);
        let bytes = rebuild(&format!("MESSAGE {contact} SIP/2.0"), &headers, &s.body);
        lock(&self.state).client_tx.insert(
            branch.clone(),
            Pending {
                origin: Peer::Udp(self.addr),
                origin_key: String::new(),
                request: bytes.clone(),
                to: addr,
                hop,
                done: false,
                defer: None,
                retry: None,
            },
        );
        self.send_to_contact(addr, hop, bytes).await;
        self.clone().retransmit(branch);
    }

    async fn message(self: Arc<Self>, msg: SipMessage, from: Peer, key: String, trusted: bool) {
        let s = &self.settings;
        if s.has_fault("fabricate-200") {
            let b = response_to(&msg, 200, "OK").to_tag(&token()).build();
            return self.finish(&key, &from, b).await;
        }
        // The originator's asserted identities: only from the trust domain.
        let asserted = if trusted || s.has_fault("stores-untrusted-pai") {
            crate::codec::ims::uris(&msg, "P-Asserted-Identity")
        } else {
            Vec::new()
        };
        if !trusted && msg.has_header("P-Asserted-Identity") && s.has_fault("refuses-untrusted-pai")
        {
            // The variant that refuses rather than strips (RFC 3325 §5 allows
            // either reading; catalogue IMS-11).
            let b = response_to(&msg, 403, "Forbidden").to_tag(&token()).build();
            return self.finish(&key, &from, b).await;
        }
        if asserted.len() > 1 && s.has_fault("pai-two-values-rejected") {
            let b = response_to(&msg, 400, "Bad P-Asserted-Identity")
                .to_tag(&token())
                .build();
            return self.finish(&key, &from, b).await;
        }
        let ruri = msg.request_uri().unwrap_or_default();
        let aor = if s.has_fault("tel-distinct") {
            // Fault: the URI's user part as written, not the number it names.
            let (u, h) = uri_user_host(ruri);
            format!("{}@{}", u.unwrap_or_default(), h.unwrap_or_default())
        } else {
            aor_key(ruri)
        };
        let wanted: Vec<String> = msg
            .header_values("Accept-Contact")
            .into_iter()
            .filter(|ac| crate::codec::ims::requires_explicit(ac))
            .collect();
        let (targets, none_fits) = {
            let mut st = lock(&self.state);
            let now = Instant::now();
            // Only this AoR's expired bindings are let go here (a sweep of
            // every user's on each MESSAGE costs as much as there are users).
            if let Some(list) = st.bindings.get_mut(&aor) {
                list.retain(|b| b.until > now);
            }
            let mut list: Vec<Binding> = st.bindings.get(&aor).cloned().unwrap_or_default();
            // A request that requires a push application (Push over SIP) may
            // go to a push-only contact that registered it, and only then.
            if wanted.iter().any(|ac| push_apps(ac).is_some()) {
                for p in st.push.get(&aor).into_iter().flatten() {
                    if p.until > now {
                        list.push(Binding {
                            contact: p.contact.clone(),
                            addr: p.addr,
                            hop: p.hop,
                            until: p.until,
                            path: Vec::new(),
                            features: vec![crate::codec::ims::Feature {
                                name: PUSH_APP_TAG.to_string(),
                                value: Some(p.apps.join(",")),
                            }],
                        });
                    }
                }
                list.sort_by_key(|b| b.until);
            }
            // Caller preferences (RFC 3841 §7.2.4): with require and explicit,
            // only a contact that declared every feature qualifies (the
            // others are dropped from the target set); the latest registered
            // of those (or of all, without preferences).
            let fits = |b: &&Binding| {
                wanted
                    .iter()
                    .all(|ac| crate::codec::ims::explicitly_matches(ac, &b.features))
            };
            let is_push = |b: &&Binding| b.features.iter().any(|f| f.name == PUSH_APP_TAG);
            // The contacts to try, in order (only the first, but for the
            // preference-only fault).
            let order: Vec<&Binding> = if s.has_fault("ignores-accept-contact") {
                // Fault: the latest IM contact, whatever the request requires.
                list.iter().rev().filter(|b| !is_push(b)).take(1).collect()
            } else if s.has_fault("ignores-accept-contact-oldest") {
                // Fault: the oldest contact, whatever the request requires.
                list.iter().take(1).collect()
            } else if s.has_fault("accept-contact-preference") {
                // Fault: require taken as a preference: the matching contacts
                // first, then the others when those answer an error.
                let (mut a, b): (Vec<&Binding>, Vec<&Binding>) =
                    list.iter().rev().partition(|b| fits(b));
                a.extend(b);
                a
            } else {
                list.iter().rev().filter(fits).take(1).collect()
            };
            let targets: Vec<Target> = order
                .into_iter()
                .map(|b| {
                    (
                        b.contact.clone(),
                        self.next_hop(&b.path, b.addr, b.hop),
                        b.path.clone(),
                    )
                })
                .collect();
            let none_fits = !list.is_empty() && targets.is_empty();
            (targets, none_fits)
        };
        if none_fits {
            let b = response_to(&msg, 480, "Temporarily Unavailable")
                .to_tag(&token())
                .build();
            return self.finish(&key, &from, b).await;
        }
        // A sips: Request-URI goes only to sips: contacts, over TLS on
        // every hop (RFC 5630 §5.3: no last-hop exception); a user with
        // only sip: contacts is not reached (480, warn-code 380, §9).
        let is_sips = |u: &str| u.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("sips:"));
        let targets: Vec<Target> = if is_sips(ruri) && !s.has_fault("sips-to-sip-contact") {
            let all = targets.len();
            let secure: Vec<Target> = targets.into_iter().filter(|t| is_sips(&t.0)).collect();
            if secure.is_empty() && all > 0 {
                let b = response_to(&msg, 480, "Temporarily Unavailable")
                    .to_tag(&token())
                    .header(
                        "Warning",
                        &format!("380 {} \"SIPS Not Allowed\"", self.settings.domain),
                    )
                    .build();
                return self.finish(&key, &from, b).await;
            }
            secure
        } else {
            targets
        };
        let defer = self.deferrable(&msg, &aor, &asserted);
        let mut targets = targets.into_iter();
        let Some(target) = targets.next() else {
            if let Some(d) = defer {
                return Box::pin(self.defer(&msg, &from, &key, d)).await;
            }
            if s.store_and_forward {
                let expires_at = msg
                    .header("Expires")
                    .and_then(|e| e.trim().parse::<u64>().ok())
                    .map(|secs| Instant::now() + Duration::from_secs(secs));
                let sender = msg.header("From").unwrap_or_default().to_string();
                let pushes: Vec<(String, SocketAddr, Hop)> = {
                    let mut st = lock(&self.state);
                    st.store.entry(aor.clone()).or_default().push(Stored {
                        from: sender.clone(),
                        asserted: asserted.clone(),
                        content_type: if s.has_fault("store-drops-type-params") {
                            // Fault: only the media type kept, its parameters lost.
                            msg.content_type().unwrap_or_else(|| "text/plain".into())
                        } else {
                            msg.header("Content-Type")
                                .unwrap_or("text/plain")
                                .to_string()
                        },
                        body: msg.body().to_vec(),
                        expires_at,
                    });
                    let now = Instant::now();
                    match st.push.get_mut(&aor) {
                        Some(list) if !s.has_fault("no-offline-notification") => {
                            list.retain(|b| b.until > now);
                            list.iter()
                                .filter(|b| b.apps.iter().any(|a| a == OFFLINE_APP))
                                .map(|b| (b.contact.clone(), b.addr, b.hop))
                                .collect()
                        }
                        _ => Vec::new(),
                    }
                };
                if s.has_fault("offline-200") && !pushes.is_empty() {
                    // Fault: waits for the push and takes its 2xx for delivery.
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let mut tx = Some(tx);
                    for p in &pushes {
                        Box::pin(self.notify_offline(&aor, p, &sender, tx.take())).await;
                    }
                    let code = match tokio::time::timeout(s.t1 * 64, rx).await {
                        Ok(Ok(c)) => c,
                        _ => 0,
                    };
                    let (code, reason) = if (200..300).contains(&code) {
                        (200, "OK")
                    } else {
                        (202, "Accepted")
                    };
                    let b = response_to(&msg, code, reason).to_tag(&token()).build();
                    return self.finish(&key, &from, b).await;
                }
                let (code, reason) = if s.has_fault("200-for-stored") {
                    (200, "OK")
                } else {
                    (202, "Accepted")
                };
                let b = response_to(&msg, code, reason).to_tag(&token()).build();
                self.finish(&key, &from, b).await;
                for p in &pushes {
                    Box::pin(self.notify_offline(&aor, p, &sender, None)).await;
                }
                return;
            }
            let b = if s.has_fault("200-for-offline") {
                response_to(&msg, 200, "OK").to_tag(&token()).build()
            } else {
                response_to(&msg, 480, "Temporarily Unavailable")
                    .to_tag(&token())
                    .build()
            };
            return self.finish(&key, &from, b).await;
        };
        let rest: Vec<Target> = targets.collect();
        let retry = (!rest.is_empty()).then(|| Retry {
            msg: msg.clone(),
            trusted,
            rest,
        });
        self.forward(&msg, &from, &key, trusted, target, defer, retry)
            .await;
    }

    /// Forwards a MESSAGE statefully (§16.6) to one target contact:
    /// `retry.rest` are the contacts the preference-only fault falls back
    /// to when this one answers an error.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        self: &Arc<Self>,
        msg: &SipMessage,
        from: &Peer,
        key: &str,
        trusted: bool,
        (contact, (addr, hop), path): Target,
        defer: Option<Deferrable>,
        retry: Option<Retry>,
    ) {
        let s = &self.settings;
        let branch = format!("z9hG4bK{}", token());
        let via = format!(
            "SIP/2.0/{} {};branch={branch}",
            hop.via(),
            self.sent_by(hop)
        );
        let mut headers = vec![("Via".to_string(), via)];
        // The stored Path as Route (RFC 3327 §5.4).
        if !s.has_fault("ignores-path") && !s.has_fault("path-without-route") {
            for p in &path {
                headers.push(("Route".into(), p.clone()));
            }
        }
        let from_uri = msg.header("From").and_then(uri_of).unwrap_or_default();
        let mut asserted_kept = false;
        for h in msg.headers() {
            if h.name.eq_ignore_ascii_case("P-Asserted-Identity") {
                // Passed on inside the trust domain only (RFC 3325 §5).
                if s.has_fault("pai-replaced-by-from") {
                    headers.push((h.name.clone(), format!("<{from_uri}>")));
                    asserted_kept = true;
                } else if trusted {
                    headers.push((h.name.clone(), h.value.clone()));
                    asserted_kept = true;
                }
                continue;
            }
            if h.name.eq_ignore_ascii_case("P-Preferred-Identity") {
                continue;
            }
            if h.name.eq_ignore_ascii_case("Max-Forwards") {
                let mf: u32 = h.value.trim().parse().unwrap_or(70);
                if mf == 0 {
                    let b = response_to(msg, 483, "Too Many Hops")
                        .to_tag(&token())
                        .build();
                    return self.finish(key, from, b).await;
                }
                headers.push((h.name.clone(), (mf - 1).to_string()));
            } else {
                headers.push((h.name.clone(), h.value.clone()));
            }
        }
        if !asserted_kept && !trusted && s.has_fault("asserts-from") {
            // Fault: the unauthenticated From asserted as the originator.
            headers.push(("P-Asserted-Identity".into(), format!("<{from_uri}>")));
        }
        if !msg.has_header("Max-Forwards") {
            headers.push(("Max-Forwards".into(), "70".into()));
        }
        if s.has_fault("forward-cseq-mismatch") {
            // Fault: the forwarded MESSAGE's CSeq names another method.
            for (n, v) in headers.iter_mut() {
                if n.eq_ignore_ascii_case("CSeq") {
                    let num = v.split_whitespace().next().unwrap_or("1").to_string();
                    *v = format!("{num} INFO");
                }
            }
        }
        // A sip: Request-URI for a sips: contact: the scheme replaced, the
        // request still sent over TLS (RFC 5630 §5.3); a sips: one stays sips:.
        let ruri_sips = msg
            .request_uri()
            .and_then(|u| u.get(..5))
            .is_some_and(|p| p.eq_ignore_ascii_case("sips:"));
        let contact = match contact.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("sips:") && !ruri_sips => {
                format!("sip:{}", &contact[5..])
            }
            _ => contact,
        };
        // Fault: a sips: request reaches its sips: contact over plain TCP,
        // at the TLS port (the last-hop exception RFC 5630 §5.3 removed).
        let hop = if hop == Hop::Tls && ruri_sips && s.has_fault("sips-forwarded-in-the-clear") {
            Hop::Tcp
        } else {
            hop
        };
        let bytes = rebuild(&format!("MESSAGE {contact} SIP/2.0"), &headers, msg.body());
        let full = {
            let mut st = lock(&self.state);
            if st.forwarding >= max_forwarding(s.t1) {
                true
            } else {
                st.forwarding += 1;
                st.client_tx.insert(
                    branch.clone(),
                    Pending {
                        origin: from.clone(),
                        origin_key: key.to_string(),
                        request: bytes.clone(),
                        to: addr,
                        hop,
                        done: false,
                        defer: defer.filter(|_| !s.has_fault("defer-only-unregistered")),
                        retry: retry.filter(|r| !r.rest.is_empty()),
                    },
                );
                false
            }
        };
        if full {
            // Too many forwarded MESSAGEs wait for their recipients: refused
            // now, not forwarded (RFC 3261 §21.5.4).
            let b = if s.has_fault("200-when-queue-full") {
                // Fault: the overflow taken as accepted, the message dropped.
                response_to(msg, 200, "OK").to_tag(&token()).build()
            } else {
                let retry_after = (s.t1 * 64).as_secs().max(1);
                response_to(msg, 503, "Service Unavailable")
                    .to_tag(&token())
                    .header("Retry-After", &retry_after.to_string())
                    .build()
            };
            return self.finish(key, from, b).await;
        }
        if s.has_fault("early-200") {
            // Answered before the request leaves, so the recipient's own
            // answer always finds the transaction finished (and is not
            // relayed as a second final, whatever the scheduling).
            let b = response_to(msg, 200, "OK").to_tag(&token()).build();
            self.finish(key, from, b).await;
        }
        self.send_to_contact(addr, hop, bytes).await;
        // Timer E until a final response or Timer F. No 408 on Timer F:
        // RFC 4320 §4.2 forbids a stateful element to send 408 to a
        // non-INVITE request (the originator's own Timer F has fired by then).
        self.clone().retransmit(branch);
    }

    /// Pushes an offline notification to a push contact (Push over SIP: a
    /// MESSAGE whose Accept-Contact requires the application, RFC 3841).
    async fn notify_offline(
        self: &Arc<Self>,
        aor: &str,
        push: &(String, SocketAddr, Hop),
        sender: &str,
        result: Option<tokio::sync::oneshot::Sender<u16>>,
    ) {
        let (contact, addr, hop) = push;
        let branch = format!("z9hG4bK{}", token());
        let via = format!(
            "SIP/2.0/{} {};branch={branch}",
            hop.via(),
            self.sent_by(*hop)
        );
        let body = format!(
            "A message from {} is waiting for you.",
            uri_of(sender).unwrap_or_else(|| "someone".into())
        )
        .into_bytes();
        let mut headers = vec![
            ("Via".to_string(), via),
            ("Max-Forwards".into(), "70".into()),
            (
                "From".into(),
                format!("<sip:im-server@{}>;tag={}", self.settings.domain, token()),
            ),
            ("To".into(), format!("<{}>", aor_uri(aor))),
            ("Call-ID".into(), format!("{}@liaison-ref", token())),
            ("CSeq".into(), "1 MESSAGE".into()),
        ];
        if !self.settings.has_fault("notification-without-feature-tag") {
            headers.push(("Accept-Contact".into(), accept_contact(OFFLINE_APP)));
        }
        headers.push(("Content-Type".into(), "text/plain;charset=UTF-8".into()));
        headers.push(("Content-Length".into(), body.len().to_string()));
        let bytes = rebuild(&format!("MESSAGE {contact} SIP/2.0"), &headers, &body);
        {
            let mut st = lock(&self.state);
            st.client_tx.insert(
                branch.clone(),
                Pending {
                    origin: Peer::Udp(self.addr),
                    origin_key: String::new(),
                    request: bytes.clone(),
                    to: *addr,
                    hop: *hop,
                    done: false,
                    defer: None,
                    retry: None,
                },
            );
            st.push_tx.insert(
                branch.clone(),
                PushPending {
                    aor: aor.to_string(),
                    result,
                },
            );
        }
        self.send_to_contact(*addr, *hop, bytes).await;
        self.clone().retransmit(branch);
    }

    /// The device answered an offline notification: a 2xx is a delivered
    /// push, anything else a failed one (the message stays stored).
    fn push_answered(&self, branch: &str, code: u16) {
        let mut st = lock(&self.state);
        let Some(p) = st.push_tx.remove(branch) else {
            return;
        };
        if code >= 300 && self.settings.has_fault("push-failure-drops-message") {
            st.store.remove(&p.aor);
        }
        if let Some(tx) = p.result {
            let _ = tx.send(code);
        }
    }

    /// Timer E retransmissions of a forwarded request over UDP.
    fn retransmit(self: Arc<Self>, branch: String) {
        tokio::spawn(async move {
            let t1 = self.settings.t1;
            let t2 = t1 * 8;
            let end = Instant::now() + t1 * 64;
            let mut e = t1;
            loop {
                tokio::time::sleep(e).await;
                if Instant::now() >= end {
                    // Timer F: the client transaction ends (no 408 to the
                    // originator, RFC 4320 §4.2).
                    lock(&self.state).forward_ended(&branch);
                    return;
                }
                let again = {
                    let st = lock(&self.state);
                    match st.client_tx.get(&branch) {
                        None => return,
                        Some(p) if p.done => None,
                        // Over TCP the transport retransmits: wait for Timer F.
                        Some(p) if p.hop != Hop::Udp => Some(None),
                        Some(p) => Some(Some((p.to, p.request.clone()))),
                    }
                };
                let Some(again) = again else {
                    // A final response came: the transaction is Completed
                    // and ends with Timer K (T4, 5 s, for UDP; here 10·T1),
                    // RFC 3261 §17.1.2.2. (Returning without ending it kept
                    // every answered MESSAGE in `client_tx` for the run:
                    // at 30 000 a second, hundreds of MB and stalls as the
                    // map grew.)
                    let k = (t1 * 10).min(end.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(k).await;
                    lock(&self.state).forward_ended(&branch);
                    return;
                };
                if let Some((to, bytes)) = again {
                    let _ = self.udp.send_to(&bytes, to).await;
                }
                e = (e * 2).min(t2);
            }
        });
    }

    async fn response(self: Arc<Self>, msg: SipMessage) {
        let Some(branch) = msg.top_via_branch() else {
            return;
        };
        let Some(code) = msg.status() else { return };
        let (origin, okey, first_final, defer, retry) = {
            let mut st = lock(&self.state);
            let Some(p) = st.client_tx.get_mut(&branch) else {
                return;
            };
            let first_final = code >= 200 && !p.done;
            let taken = (
                p.origin.clone(),
                p.origin_key.clone(),
                first_final,
                p.defer.clone(),
                if first_final && code >= 300 {
                    p.retry.take()
                } else {
                    None
                },
            );
            if first_final {
                // Ended: let go of it (its retransmissions stop, a later
                // copy of a final finds nothing and is dropped, as one
                // after the first final was before).
                st.forward_ended(&branch);
            }
            taken
        };
        if let Some(mut r) = retry {
            // The preference-only fault: the next contact, as if the
            // required feature were only preferred.
            let next = r.rest.remove(0);
            let (m, trusted) = (r.msg.clone(), r.trusted);
            return Box::pin(self.forward(&m, &origin, &okey, trusted, next, defer, Some(r))).await;
        }
        if okey.is_empty() {
            // A stored message we delivered ourselves, or an offline notification.
            if code >= 200 && first_final {
                self.push_answered(&branch, code);
            }
            return;
        }
        if code < 200 {
            if code > 100 {
                self.send(&origin, strip_top_via(&msg)).await;
            }
            return;
        }
        if !first_final {
            return;
        }
        let already = lock(&self.state).server_done.get(&okey).is_some();
        if already {
            return; // e.g. our own early 200 (fault) or a 408 already sent
        }
        if let (Some(d), 480 | 408) = (&defer, code) {
            // The MMS user cannot take it now: MMS is the deferred mode.
            if self.settings.has_fault("defer-relays-error") {
                Box::pin(self.submit_mm(d)).await;
            } else {
                return Box::pin(self.defer_answer(&okey, &origin, &msg, d)).await;
            }
        }
        let mut out = strip_top_via(&msg);
        if code == 486 && self.settings.has_fault("rewrite-486-to-200") {
            out = rewrite_status(&out, "SIP/2.0 200 OK");
        }
        self.finish(&okey, &origin, out).await;
        if let (Some(d), 200, true) = (
            &defer,
            code,
            self.settings.has_fault("defer-copy-after-200"),
        ) {
            Box::pin(self.submit_mm(d)).await;
        }
    }

    /// The MM a MESSAGE to `aor` would be deferred as, when `aor` is an MMS
    /// user (deferral configured and `aor` in its domain). Its originator is
    /// the identity the trusted core asserted (`asserted`, its SIP URI) when
    /// there is one, else the From: the asserted identity is the
    /// authenticated one (RFC 3325 §5; catalogue DEFER-9 and IMS-10).
    fn deferrable(&self, msg: &SipMessage, aor: &str, asserted: &[String]) -> Option<Deferrable> {
        let d = self.settings.deferral.as_ref()?;
        let host = aor.rsplit_once('@').map(|x| x.1).unwrap_or_default();
        if !host.eq_ignore_ascii_case(&d.domain) {
            return None;
        }
        let uri = |h: &str| msg.header(h).and_then(uri_of).unwrap_or_default();
        let asserted_sip = asserted
            .iter()
            .find(|a| {
                let a = a.to_ascii_lowercase();
                a.starts_with("sip:") || a.starts_with("sips:")
            })
            .or(asserted.first())
            .filter(|_| !self.settings.has_fault("defer-from-not-pai"));
        Some(Deferrable {
            from: asserted_sip.cloned().unwrap_or_else(|| uri("From")),
            to: uri("To"),
            content_type: msg
                .header("Content-Type")
                .unwrap_or("text/plain")
                .to_string(),
            body: msg.body().to_vec(),
        })
    }

    /// Defers a MESSAGE for an unregistered MMS user and answers it.
    async fn defer(self: &Arc<Self>, msg: &SipMessage, from: &Peer, key: &str, d: Deferrable) {
        // The server transaction is `key`; the request is the originator's.
        self.defer_answer(key, from, msg, &d).await
    }

    /// Submits the MM and answers the originator's transaction `key` for
    /// `req` (the originator's request or the client's response: only its
    /// Via, From, To, Call-ID and CSeq are used): 202 once the MMSC took it,
    /// 480 when it did not.
    async fn defer_answer(
        self: &Arc<Self>,
        key: &str,
        to: &Peer,
        req: &SipMessage,
        d: &Deferrable,
    ) {
        let took = self.settings.has_fault("defer-never") || self.submit_mm(d).await;
        let (code, reason) = match (took, self.settings.has_fault("defer-200")) {
            (true, true) => (200, "OK"),
            (true, false) => (202, "Accepted"),
            (false, _) => (480, "Temporarily Unavailable"),
        };
        let b = if req.is_request() {
            response_to(req, code, reason).to_tag(&token()).build()
        } else {
            // From the client's response: drop our Via, restate the status.
            rewrite_status(&strip_top_via(req), &format!("SIP/2.0 {code} {reason}"))
        };
        self.finish(key, to, b).await
    }

    /// POSTs the M-Send.req of `d` to the MMSC; true when it answered an
    /// M-Send.conf with status Ok.
    async fn submit_mm(&self, d: &Deferrable) -> bool {
        use crate::codec::mms::value::charset_from_name;
        use crate::codec::mms::{
            Body, ContentType, EncodedString, Field, FromValue, Header, MediaType, MessageType,
            Param, Part, Pdu, PduBuilder, ResponseStatus,
        };
        let s = &self.settings;
        if s.has_fault("defer-never") {
            return false;
        }
        let Some(cfg) = s.deferral.as_ref() else {
            return false;
        };
        let Some((addr, path)) = super::http_url_parts(&cfg.mmsc_url) else {
            return false;
        };
        let mut parts = d.content_type.split(';');
        let mut ct = ContentType::new(MediaType::from_name(parts.next().unwrap_or("").trim()));
        let charset = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| charset_from_name(v))
                .flatten()
        });
        if let Some(c) = charset {
            ct = ct.with(Param::Charset(c));
        }
        let mut data = d.body.clone();
        if s.has_fault("defer-body-altered") {
            // Fault: line ends "normalised" to LF.
            data = String::from_utf8_lossy(&data)
                .replace("\r\n", "\n")
                .into_bytes();
        }
        let wire = |uri: &str| match &cfg.sip_type {
            Some(t) => crate::codec::mms::Address::typed(t, uri).to_string(),
            None => uri.to_string(),
        };
        let from = if s.has_fault("defer-insert-address") {
            FromValue::InsertAddress
        } else {
            FromValue::Address(EncodedString::plain(&wire(&d.from)))
        };
        let to = if s.has_fault("defer-uri-mangled") {
            // Fault: the SIP URI taken for a mailbox, its scheme dropped.
            wire(d.to.trim_start_matches("sip:"))
        } else {
            wire(&d.to)
        };
        let pdu = PduBuilder::send_req(
            &format!("D{}", token()),
            from,
            ContentType::well_known(crate::codec::mms::body::MULTIPART_MIXED),
            Body::Multipart(vec![Part::new(ct, &data)]),
        )
        .header(Header::Encoded(Field::TO, EncodedString::plain(&to)))
        .build()
        .encode();
        let req = crate::codec::http::request(
            "POST",
            &path,
            &addr.to_string(),
            &[("Content-Type", "application/vnd.wap.mms-message")],
            &pdu,
        );
        // An https:// MMSC URL: over TLS, trusting the run's lab CA.
        let resp = if crate::codec::http::url_is_https(&cfg.mmsc_url) {
            match self.tls_client.clone() {
                Some(c) => super::tls::https_exchange(c, addr, &req, MM1_BOUND).await,
                None => None,
            }
        } else {
            super::http_exchange(addr, &req, MM1_BOUND).await
        };
        let Some(resp) = resp else {
            return false;
        };
        Pdu::parse(&resp.body).is_ok_and(|p| {
            p.message_type() == Some(MessageType::SEND_CONF)
                && p.response_status() == Some(ResponseStatus::OK)
        })
    }
}

/// Removes the first Via value (§16.7 step 3), keeping everything else.
fn strip_top_via(msg: &SipMessage) -> Vec<u8> {
    let start = match msg.start_line() {
        crate::codec::sip::StartLine::Response {
            version,
            code,
            reason,
        } => format!("{version} {code} {reason}"),
        crate::codec::sip::StartLine::Request {
            method,
            uri,
            version,
        } => format!("{method} {uri} {version}"),
    };
    let mut headers = Vec::new();
    let mut removed = false;
    for h in msg.headers() {
        if !removed && (h.name.eq_ignore_ascii_case("Via") || h.name == "v") {
            removed = true;
            let values = crate::codec::sip::SipMessage::parse(
                format!("SIP/2.0 200 OK\r\nVia: {}\r\n\r\n", h.value).as_bytes(),
            )
            .map(|m| m.vias())
            .unwrap_or_default();
            if values.len() > 1 {
                headers.push((h.name.clone(), values[1..].join(", ")));
            }
            continue;
        }
        headers.push((h.name.clone(), h.value.clone()));
    }
    rebuild(&start, &headers, msg.body())
}

/// A WebSocket client broke a frame or message rule: Close with the status
/// RFC 6455 §7.4.1 names for it (1009 too big, 1007 not UTF-8, 1002 the
/// rest) and the rule as reason (cut to fit a control frame), then the end.
fn ws_fail(tx: &mpsc::UnboundedSender<Vec<u8>>, e: &ws::FrameError) {
    let code = match e {
        ws::FrameError::TooLong { .. } | ws::FrameError::MessageTooLong { .. } => ws::CLOSE_TOO_BIG,
        ws::FrameError::TextNotUtf8 { .. } => ws::CLOSE_INVALID_PAYLOAD,
        _ => ws::CLOSE_PROTOCOL_ERROR,
    };
    let mut reason = e.to_string();
    let mut end = reason.len().min(ws::CONTROL_MAX - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    let payload = ws::close_payload(Some(code), &reason);
    let _ = tx.send(ws::encode_frame(ws::Opcode::Close, &payload, None));
    let _ = tx.send(Vec::new());
}

fn rewrite_status(bytes: &[u8], line: &str) -> Vec<u8> {
    let end = bytes.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
    let mut out = line.as_bytes().to_vec();
    out.extend_from_slice(&bytes[end..]);
    out
}

/// The UDP socket buffers the server asks for ([`super::enlarge_udp_buffers`]).
const UDP_BUFFER: libc::c_int = 8 << 20;

/// How many received UDP datagrams are handled at once at most. Overloaded
/// without a bound, the server read everything the socket held into tasks
/// waiting their turn: seconds of latency inside the process, every
/// originator retransmitting, and the retransmissions queued behind.
const UDP_IN_FLIGHT: usize = 256;

/// Starts the server on its UDP socket and TCP listener (the same port)
/// and, when given, the TCP listener where it takes SIP over WebSocket and
/// the one where it takes SIP over TLS (with `settings.tls`: its
/// certificate, and the CA it checks `sips:` contacts' certificates against).
pub fn start(
    udp: UdpSocket,
    tcp: TcpListener,
    ws: Option<TcpListener>,
    tls: Option<TcpListener>,
    settings: Settings,
) -> Vec<tokio::task::JoinHandle<()>> {
    super::enlarge_udp_buffers(&udp, UDP_BUFFER);
    let udp = Arc::new(udp);
    let addr = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (inbox, mut inbox_rx) = mpsc::unbounded_channel::<(Vec<u8>, Peer)>();
    let tls_server = settings.tls.as_ref().and_then(|t| t.server_config().ok());
    let tls_client = settings.tls.as_ref().and_then(|t| t.client_config().ok());
    let tls = tls.filter(|_| tls_server.is_some());
    let server = Arc::new(Server {
        settings,
        inbox,
        udp: udp.clone(),
        addr,
        tls_addr: tls.as_ref().and_then(|l| l.local_addr().ok()),
        tls_client,
        state: Mutex::default(),
    });
    let mut tasks = Vec::new();
    if let (Some(listener), Some(config)) = (tls, tls_server) {
        let server = server.clone();
        tasks.push(super::tls::serve_sip(
            listener,
            config,
            Arc::new(move |raw, peer, tx| {
                tokio::spawn(server.clone().handle(raw, Peer::Tcp(tx), Some(peer)));
            }),
        ));
    }
    {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            while let Some((raw, peer)) = inbox_rx.recv().await {
                tokio::spawn(server.clone().handle(raw, peer, None));
            }
        }));
    }
    {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let permits = Arc::new(tokio::sync::Semaphore::new(UDP_IN_FLIGHT));
            loop {
                // Past UDP_IN_FLIGHT datagrams being handled, the next one
                // waits in the socket (overload then costs the kernel's
                // buffer, not an ever longer queue of tasks).
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let raw = buf[..n].to_vec();
                let server = server.clone();
                tokio::spawn(async move {
                    server.handle(raw, Peer::Udp(from), Some(from)).await;
                    drop(permit);
                });
            }
        }));
    }
    if let Some(web) = ws {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((stream, peer)) = web.accept().await {
                tokio::spawn(server.clone().ws_connection(stream, peer));
            }
        }));
    }
    tasks.push(tokio::spawn(async move {
        while let Ok((stream, peer)) = tcp.accept().await {
            let (rd, wr) = stream.into_split();
            let tx = server.clone().tcp_writer(wr);
            let server = server.clone();
            tokio::spawn(super::read_stream(rd, move |raw| {
                let tx = tx.clone();
                tokio::spawn(server.clone().handle(raw, Peer::Tcp(tx), Some(peer)));
            }));
        }
    }));
    tasks
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "im-server",
        name: "sips-forwarded-in-the-clear",
        description: "forwards a sips: MESSAGE to its sips: contact over plain TCP, at the TLS port (the last-hop exception RFC 5630 §5.3 removed)",
        breaks: &["IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "sips-to-sip-contact",
        description: "forwards a sips: MESSAGE to a user's sip: contact (in the clear) instead of refusing it with 480 (RFC 5630 §5.3)",
        breaks: &["IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "ignores-path",
        description: "stores no Path at registration: sends requests straight to the contact, bypassing the core",
        breaks: &["IMS-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "path-without-route",
        description: "sends a MESSAGE for a user registered through the core to the Path's address but without the Path as Route, so the core routes it by Request-URI",
        breaks: &["IMS-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "pai-replaced-by-from",
        description: "forwards a MESSAGE with its P-Asserted-Identity replaced by the From URI (From trusted over PAI)",
        breaks: &["IMS-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "stores-from-not-pai",
        description: "delivers a stored MESSAGE with the original From as sender and no asserted identity",
        breaks: &["IMS-10", "IMS-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "trusts-any-pai",
        description: "honours and passes on a P-Asserted-Identity from any source, not only the core",
        breaks: &["IMS-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "refuses-untrusted-pai",
        description: "no fault: the conformant server that answers 403 to a MESSAGE carrying a P-Asserted-Identity from outside the trust domain instead of delivering it without (a variant: refusing is an acceptable answer, catalogue IMS-11)",
        breaks: &[],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "trusts-by-via",
        description: "trusts a request whose top Via names the core's address, wherever it came from: a forged Via carries a forged P-Asserted-Identity through",
        breaks: &["IMS-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "trusts-core-ip-any-port",
        description: "configured to trust the core by IP and port (the core shares its IP with untrusted senders, as on IPv6 loopback), trusts any port of the core's IP: a forged P-Asserted-Identity from beside the core goes through",
        breaks: &["IMS-11"],
        store_and_forward: true,
        on_ipv6: true,
    },
    super::Fault {
        role: "im-server",
        name: "stores-untrusted-pai",
        description: "keeps the P-Asserted-Identity of a message it stores from any source and delivers it later as asserted",
        breaks: &["IMS-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "asserts-from",
        description: "forwards a MESSAGE from outside the trust domain with its unauthenticated From as P-Asserted-Identity",
        breaks: &["IMS-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "tel-distinct",
        description: "looks users up by the URI's user part as written, so tel: and sip:…;user=phone forms (and visual separators) name different users",
        breaks: &["IMS-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "pai-two-values-rejected",
        description: "answers 400 to a MESSAGE whose P-Asserted-Identity has a SIP and a tel value",
        breaks: &["IMS-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "ignores-accept-contact",
        description: "ignores Accept-Contact require;explicit: delivers to the latest IM contact even if it did not register the feature (or the push application)",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "ignores-accept-contact-oldest",
        description: "ignores Accept-Contact require;explicit: delivers to the user's oldest contact, whatever it registered",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "accept-contact-preference",
        description: "takes Accept-Contact require;explicit as a preference: when the matching contact answers an error, tries the contact that did not declare the feature",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "fabricate-200",
        description: "answers 200 to every MESSAGE itself and drops it",
        breaks: &["DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "DEFER-2", "DEFER-7", "DEFER-9", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13", "IMS-14", "IMS-16", "IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "rewrite-486-to-200",
        description: "relays MESSAGE but turns the recipient's 486 into 200",
        breaks: &["DR-5", "DR-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "early-200",
        description: "answers 200 as soon as it forwards, before the recipient answers",
        breaks: &["DR-5", "DR-6", "DEFER-2", "DEFER-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "forward-retransmission-as-new",
        description: "forwards the originator's retransmission downstream as a new transaction",
        breaks: &["DR-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "store-without-delivery",
        description: "answers 202 for an offline recipient but never delivers the stored message",
        breaks: &["DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "IMS-10", "IMS-11", "IMS-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "store-drops-type-params",
        description: "keeps only the media type of a stored message's Content-Type: charset and other parameters are lost on delivery",
        breaks: &["DR-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "200-for-stored",
        description: "stores a message for an offline recipient but answers 200, as if delivered",
        breaks: &["DR-7", "PUSH-8", "PUSH-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "200-for-offline",
        description: "without store-and-forward, answers 200 for an unregistered recipient and drops the message",
        breaks: &["DR-6"],
        store_and_forward: false,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "clean-without-store",
        description: "no fault: the conformant server with store-and-forward off (a variant, to run the scenarios for servers that do not store)",
        breaks: &[],
        store_and_forward: false,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "never-answers",
        description: "drops every request, REGISTER included",
        breaks: &["DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "DEFER-2", "DEFER-7", "DEFER-8", "DEFER-9", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13", "IMS-14", "IMS-16", "IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "offline-200",
        description: "answers 200 for a stored message once the recipient's push device accepted the offline notification, taking the push for delivery",
        breaks: &["PUSH-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "no-offline-notification",
        description: "stores messages for a user with a push contact but never notifies the device",
        breaks: &["PUSH-8", "PUSH-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "notification-without-feature-tag",
        description: "sends the offline notification without Accept-Contact naming the push application",
        breaks: &["PUSH-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "push-failure-drops-message",
        description: "drops the stored message when the push device refuses the offline notification",
        breaks: &["PUSH-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "im-to-push-contact",
        description: "takes a push-only contact for an IM client: forwards MESSAGEs to it instead of storing them",
        breaks: &["PUSH-8", "PUSH-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "delivers-expired",
        description: "ignores a stored MESSAGE's Expires: delivers it on registration however late",
        breaks: &["PUSH-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-200",
        description: "defers a MESSAGE to MMS but answers the originator 200, as if it had been delivered",
        breaks: &["DEFER-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-relays-error",
        description: "submits the MM when the MMS user's client answers 480 or 408, but still relays that error to the originator",
        breaks: &["DEFER-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-never",
        description: "answers 202 for an MMS user it cannot reach but never submits the MM",
        breaks: &["DEFER-2", "DEFER-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-only-unregistered",
        description: "defers only for MMS users who are not registered; a client's 480 or 408 is relayed and nothing is submitted",
        breaks: &["DEFER-2", "DEFER-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-body-altered",
        description: "submits the MM with the text's CRLF line ends turned into LF",
        breaks: &["DEFER-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-uri-mangled",
        description: "writes the recipient's SIP URI into the MM's To without its sip: scheme, as if it were a mailbox",
        breaks: &["DEFER-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-insert-address",
        description: "submits the MM with From the Insert-address token instead of the originator's SIP URI",
        breaks: &["DEFER-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-from-not-pai",
        description: "submits the MM with the MESSAGE's From as originator even when the trusted core asserted another identity",
        breaks: &["DEFER-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "defer-copy-after-200",
        description: "also submits an MMS copy of a MESSAGE the MMS user's client took with 200",
        breaks: &["DEFER-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-forwards-far-200",
        description: "passes the far end's 200 back to the sender (two responses to one SEND)",
        breaks: &["DR-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-waits-for-far-200",
        description: "answers the sender's SEND only when the far end has answered",
        breaks: &["DR-18"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-fabricates-success-report",
        description: "sends the sender a success REPORT of its own when the far end answers, even with an error",
        breaks: &["DR-16", "DR-19", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-drops-reports",
        description: "does not forward REPORTs",
        breaks: &["DR-19", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-alters-report",
        description: "changes the Byte-Range of the REPORTs it forwards",
        breaks: &["DR-19", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-no-failure-report",
        description: "sends no failure REPORT on a downstream error or timeout",
        breaks: &["DR-16", "DR-20"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-msrps-plain",
        description: "its relay speaks only plaintext MSRP on the port it takes TLS on (a ClientHello is unframeable: it closes the connection)",
        breaks: &["DR-19", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-use-path-plain",
        description: "its relay grants a session over TLS with an msrp: Use-Path, naming a hop to be reached in the clear",
        breaks: &["DR-19", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "relay-next-hop-in-clear",
        description: "its relay opens the connection to an msrps: next hop without TLS and forwards a chunk that came over TLS in the clear",
        breaks: &["DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "conflicting-finals",
        description: "after each final response to a MESSAGE sends the same response again, then a different one (500 after a 2xx, 200 after an error) on the same transaction",
        breaks: &["DEFER-7", "DEFER-8", "DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "forward-cseq-mismatch",
        description: "forwards a MESSAGE whose CSeq names the method INFO",
        breaks: &["DEFER-2", "DEFER-7", "DEFER-8", "DR-4", "DR-5", "DR-6", "IMS-1", "IMS-9", "IMS-11", "IMS-12", "IMS-14", "IMS-16", "IMS-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "ws-no-subprotocol",
        description: "answers a WebSocket upgrade that offers sip with 101 but no Sec-WebSocket-Protocol (RFC 7118 §4.1: the server chooses sip), so no SIP connection is set up",
        breaks: &["DR-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-server",
        name: "ws-masked-frames",
        description: "masks the frames it sends over WebSocket (RFC 6455 §5.1: a server never masks; the client fails the connection), so a final response sent that way is never taken",
        breaks: &["DR-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// Faults only a load run reveals (`liaison load --fault im-server/NAME`).
pub const LOAD_FAULTS: &[super::LoadFault] = &[super::LoadFault {
    role: "im-server",
    name: "200-when-queue-full",
    description: "answers 200 instead of 503 Service Unavailable (RFC 3261 §21.5.4) to a MESSAGE that finds the forwarding bound reached (256·64·T1 forwarded MESSAGEs waiting, 491 at T1 = 30 ms), and drops it: an acceptance nobody gave, which only a queue filled by load reveals",
    trips: &["fabricated"],
    // Nine recipients in ten silent keep 900 forwarded MESSAGEs a second
    // waiting for Timer F (64·T1 = 1.92 s): the bound (491) is reached
    // within 0.6 s, and still on a machine busy enough to send only 300 a
    // second.
    args: &[
        "--role",
        "im-server",
        "--rate",
        "1000",
        "--count",
        "1500",
        "--mix",
        "200:10,silent:90",
        "--t1-ms",
        "30",
    ],
}];
