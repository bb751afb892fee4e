//! Transports and capture: real UDP/TCP sockets on loopback, every byte in and
//! out tapped into the scenario's pcap ([`capture`]); a run-level role's
//! packets go to the scenario that claimed their keys ([`route`]).
//!
//! A [`SipEndpoint`] is one harness SIP address: a UDP socket and a TCP
//! listener on the same loopback IP, both bound to port 0. What arrives is
//! kept raw ([`Incoming::bytes`]) beside its parse result; responses are routed
//! to the client transaction waiting on their top-Via branch and CSeq
//! (RFC 3261 §17.1.3), requests go to one queue, and whatever matches nothing
//! (stray responses, garbage, messages with a defect such as a SIP-Version
//! other than SIP/2.0) is kept, with the reason, so that a failure can show it.
//!
//! A stream connection that ends (the peer closes or resets it, or the
//! harness stops reading an unframeable stream) is reported to every client
//! transaction that sent its request over it ([`SipEndpoint::send_for`],
//! [`SipEndpoint::subscribe_transaction`]) as a [`ConnectionEnd`], with the
//! bytes of an incomplete message that had arrived: RFC 3261 §18.4 reports a
//! failed connection to the transport user, and §17.1.4 ends the client
//! transaction on it at once rather than on Timer F.

pub mod capture;
pub mod route;
pub mod stream;
pub mod tls;
pub mod ws;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::codec::sip::{next_frame, Frame, SipError, SipMessage};
use capture::Capture;

/// Largest SIP message the harness accepts on a stream.
pub const MAX_SIP_MESSAGE: usize = 256 * 1024;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2, `sips:`).
    Tls,
    /// SIP over WebSocket (RFC 7118): one SIP message per WebSocket message.
    Ws,
    /// SIP over secure WebSocket (RFC 7118 §5: Via transport `WSS`): the
    /// WebSocket connection over TLS.
    Wss,
}

impl Transport {
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// SIP over WebSocket, secure or not (RFC 7118).
    pub fn is_ws(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }

    /// Carried over a byte stream, framed by Content-Length (RFC 3261 §18.3).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        })
    }
}

/// Something that arrived at an endpoint: the exact bytes and how they parsed.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub bytes: Vec<u8>,
    pub msg: Result<SipMessage, SipError>,
    pub from: SocketAddr,
    pub transport: Transport,
    pub at: Instant,
    /// Why the suite did not act on it though it parsed: a defect of the
    /// message ([`SipMessage::defect`]), or a response whose CSeq names
    /// another transaction than its branch (RFC 3261 §17.1.3).
    pub note: Option<String>,
}

impl Incoming {
    /// One line for failure messages: the summary, or the parse error.
    pub fn describe(&self) -> String {
        match &self.msg {
            Ok(m) => format!(
                "{} (from {} over {}){}",
                m.summary(),
                self.from,
                self.transport,
                self.note
                    .as_ref()
                    .map(|n| format!(" [not acted on: {n}]"))
                    .unwrap_or_default()
            ),
            Err(e) => format!(
                "unparseable bytes from {} over {}: {e}",
                self.from, self.transport
            ),
        }
    }
}

/// How many bytes of an incomplete message a [`ConnectionEnd`] keeps (the
/// whole of them stays in the pcap and in [`SipEndpoint::unmatched`]).
pub const PARTIAL_KEPT: usize = 1024;

/// Why a stream connection ended for the transactions that used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndCause {
    /// The peer closed it (the read returned end of stream).
    Closed,
    /// Reading failed (e.g. the peer reset the connection).
    ReadError(String),
    /// The harness stopped reading: the stream could not be framed.
    Unframeable(String),
}

/// A stream connection that ended, as the client transactions that sent
/// over it are told (RFC 3261 §18.4: a failed connection is reported to the
/// transport user; §17.1.4: the client transaction ends on it).
#[derive(Debug, Clone)]
pub struct ConnectionEnd {
    pub transport: Transport,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub at: Instant,
    pub cause: EndCause,
    /// The first [`PARTIAL_KEPT`] bytes of the incomplete message the stream
    /// ended in (empty when it ended between messages).
    pub partial: Vec<u8>,
    /// How many bytes that incomplete message had.
    pub partial_len: usize,
}

impl ConnectionEnd {
    fn new(
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        cause: EndCause,
        pending: &[u8],
    ) -> ConnectionEnd {
        ConnectionEnd {
            transport,
            peer,
            local,
            at: Instant::now(),
            cause,
            partial: pending.get(..PARTIAL_KEPT).unwrap_or(pending).to_vec(),
            partial_len: pending.len(),
        }
    }

    /// The incomplete message's bytes for a verdict: escaped, with how many
    /// were not kept.
    pub fn partial_shown(&self) -> String {
        let mut s = crate::codec::escape_bytes(&self.partial, PARTIAL_KEPT);
        if self.partial_len > self.partial.len() {
            s.push_str(&format!(
                "… ({} more bytes, in the pcap)",
                self.partial_len - self.partial.len()
            ));
        }
        s
    }
}

/// What reaches a client transaction subscribed with
/// [`SipEndpoint::subscribe_transaction`], in the order it happened.
#[derive(Debug, Clone)]
pub enum Routed {
    Response(Incoming),
    /// The stream connection its request went over ended.
    Ended(ConnectionEnd),
}

/// Where a route's responses go.
enum Sink {
    Responses(mpsc::UnboundedSender<Incoming>),
    Routed(mpsc::UnboundedSender<Routed>),
}

impl Sink {
    /// Hands a response over; gives it back when the receiver is gone.
    fn response(&self, inc: Incoming) -> Option<Incoming> {
        match self {
            Sink::Responses(tx) => tx.send(inc).err().map(|e| e.0),
            Sink::Routed(tx) => match tx.send(Routed::Response(inc)) {
                Err(e) => match e.0 {
                    Routed::Response(i) => Some(i),
                    Routed::Ended(_) => None,
                },
                Ok(()) => None,
            },
        }
    }

    fn ended(&self, end: &ConnectionEnd) {
        if let Sink::Routed(tx) = self {
            let _ = tx.send(Routed::Ended(end.clone()));
        }
    }
}

/// A waiting client transaction: the CSeq its request carries (None when
/// the request had none), where its responses go, and the stream
/// connection its request went over ([`Conn::id`]).
struct Route {
    cseq: Option<(u32, String)>,
    sink: Sink,
    conn: Option<u64>,
}

/// One open stream connection's write half.
struct Conn {
    /// Unique per endpoint: a later connection to the same peer is another.
    id: u64,
    wr: tokio::sync::Mutex<Writer>,
    /// This end's address, as the capture names it.
    local: SocketAddr,
    /// Whether the endpoint captures what it writes: a plain TCP
    /// connection's bytes are the message; a TLS connection's records are
    /// captured under the TLS layer, which alone sees them.
    tap: bool,
    /// Set (under the routes lock) once the reader has reported the end to
    /// the routes that used it: a sender that finds it set opens another.
    ended: std::sync::atomic::AtomicBool,
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;
/// A byte stream a connection runs over (TCP, TLS over TCP, tapped).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The write half of a stream connection: bytes (TCP, TLS), or whole
/// messages (WebSocket, RFC 7118 §5: one SIP message per WebSocket message).
enum Writer {
    Bytes(Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
    Ws(ws::WsSender<Box<dyn Io>>),
}
/// The read half of a stream connection.
type Reader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Open stream connections by transport and peer: a send reuses one of
/// its own transport only.
type Conns = Arc<Mutex<HashMap<(Transport, SocketAddr), Arc<Conn>>>>;

/// Requests waiting for their role, at most: past it a request is dropped,
/// as a full socket buffer drops a datagram.
const MAX_QUEUED_REQUESTS: usize = 4096;
/// Messages that match nothing kept for the verdict, at most (the first
/// ones: a flood's later copies add nothing to the evidence).
pub const MAX_UNMATCHED: usize = 1024;

fn keep_unmatched(unmatched: &Mutex<Vec<Incoming>>, inc: Incoming) {
    let mut u = lock(unmatched);
    if u.len() < MAX_UNMATCHED {
        u.push(inc);
    }
}

#[derive(Clone)]
struct Shared {
    capture: Capture,
    routes: Routes,
    requests: mpsc::Sender<Incoming>,
    unmatched: Arc<Mutex<Vec<Incoming>>>,
    conns: Conns,
    /// Where it takes SIP over WebSocket, once [`SipEndpoint::listen_ws`] ran.
    ws_addr: Arc<Mutex<Option<SocketAddr>>>,
    /// Where it takes SIP over TLS, once [`SipEndpoint::listen_tls`] ran.
    tls_addr: Arc<Mutex<Option<SocketAddr>>>,
    /// Where it takes SIP over secure WebSocket ([`SipEndpoint::listen_wss`]).
    wss_addr: Arc<Mutex<Option<SocketAddr>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// What happened to connections (closed by the peer, unframeable stream).
    events: Arc<Mutex<Vec<String>>>,
    next_conn: Arc<AtomicU64>,
}

/// Locks a mutex, taking the data of a poisoned one: a panicked task must
/// not turn the harness's verdict into a second panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set once, when the run's profile says `network: lab`.
static LAB_NETWORK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets the harness bind, listen, connect and send beyond loopback for the
/// rest of the process: called by `liaison run` for a profile that opted
/// in with `network: lab`, never otherwise.
pub fn open_lab_network() {
    LAB_NETWORK.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// An IP as a URI host writes it (RFC 3986 §3.2.2, RFC 3261 §25.1): an
/// IPv6 address in brackets, an IPv4 address as it is.
pub fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// May the harness use `ip` (bind to it, connect or send to it)? Loopback
/// always; with a lab network ([`open_lab_network`]) any unicast address.
pub fn permitted(ip: IpAddr) -> bool {
    permitted_in(LAB_NETWORK.load(std::sync::atomic::Ordering::SeqCst), ip)
}

/// [`permitted`] for an explicit choice: `lab` or loopback only. The
/// unspecified, multicast and broadcast addresses name no one peer, so a
/// lab network does not admit them either.
pub fn permitted_in(lab: bool, ip: IpAddr) -> bool {
    if ip.is_loopback() {
        return true;
    }
    lab && !ip.is_unspecified()
        && !ip.is_multicast()
        && ip != IpAddr::from(std::net::Ipv4Addr::BROADCAST)
}

/// What a refused address gets, naming the opt-in.
pub(crate) fn not_permitted(what: &str, ip: IpAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "the harness {what} loopback only (found {ip}); a profile opts in to a lab network with `network: lab`"
        ),
    )
}

/// A TCP listener at `addr`, refused unless the harness may use its
/// address ([`permitted`]): loopback, or a lab network's (port 0 picks one).
pub(crate) async fn listen_permitted(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    if !permitted(addr.ip()) {
        return Err(not_permitted("listens on", addr.ip()));
    }
    tokio::net::TcpListener::bind(addr).await
}

impl Shared {
    fn dispatch(&self, bytes: Vec<u8>, from: SocketAddr, transport: Transport) {
        let msg = SipMessage::parse(&bytes);
        let mut inc = Incoming {
            bytes,
            msg,
            from,
            transport,
            at: Instant::now(),
            note: None,
        };
        // A message with a defect is acted on by no role: no transaction takes
        // it as its answer, no UA or proxy routes or delivers it; it is kept
        // for the verdict, which names the defect.
        if let Some(d) = inc.msg.as_ref().ok().and_then(SipMessage::defect) {
            inc.note = Some(d);
            keep_unmatched(&self.unmatched, inc);
            return;
        }
        match &inc.msg {
            Ok(m) if !m.is_request() => {
                // RFC 3261 §17.1.3: a response matches the client transaction
                // of its top-Via branch only if its CSeq method is that of the
                // request; the sequence number must be the request's as well
                // (§8.2.6.2 copies CSeq into every response).
                let branch = m.top_via_branch();
                let route = branch.as_ref().and_then(|b| {
                    lock(&self.routes).get(b).map(|r| {
                        let sink = match &r.sink {
                            Sink::Responses(tx) => Sink::Responses(tx.clone()),
                            Sink::Routed(tx) => Sink::Routed(tx.clone()),
                        };
                        (r.cseq.clone(), sink)
                    })
                });
                match route {
                    Some((want, tx)) => {
                        let got = m.cseq();
                        if want.is_some() && got != want {
                            let shown = |c: &Option<(u32, String)>| match c {
                                Some((n, meth)) => format!("`{n} {meth}`"),
                                None => "no valid CSeq".to_string(),
                            };
                            inc.note = Some(format!(
                                "its CSeq {} is not {} of the request with branch {} (RFC 3261 §17.1.3: branch and CSeq method match a response to its transaction)",
                                shown(&got),
                                shown(&want),
                                branch.unwrap_or_default()
                            ));
                            tracing::debug!(from = %inc.from, note = inc.note.as_deref().unwrap_or(""), "SIP response matches no transaction (CSeq)");
                            keep_unmatched(&self.unmatched, inc);
                        } else if let Some(back) = tx.response(inc) {
                            tracing::debug!(from = %back.from, "SIP response for a transaction that has ended: kept as unmatched");
                            keep_unmatched(&self.unmatched, back);
                        }
                    }
                    None => {
                        tracing::debug!(
                            from = %inc.from,
                            branch = branch.as_deref().unwrap_or(""),
                            "SIP response matches no transaction (branch)"
                        );
                        keep_unmatched(&self.unmatched, inc)
                    }
                }
            }
            Ok(_) => {
                // A full queue drops the request, as a full socket buffer
                // would: a SUT that floods cannot grow the harness.
                let _ = self.requests.try_send(inc);
            }
            Err(_) => keep_unmatched(&self.unmatched, inc),
        }
    }

    /// A WebSocket connection accepted at `local`: the handshake, then its
    /// messages until it ends. With `tls`, the TLS handshake first (secure
    /// WebSocket, `wss:`): the TLS layer captures the records.
    async fn ws_accepted(
        &self,
        stream: TcpStream,
        local: SocketAddr,
        peer: SocketAddr,
        tls: Option<tls::TlsServer>,
    ) {
        let _ = stream.set_nodelay(true);
        let (io, t): (Box<dyn Io>, Transport) = match tls {
            None => {
                self.capture.tcp_accepted(peer, local);
                let io = ws::Tapped::new(stream, self.capture.clone(), local, peer);
                (Box::new(io), Transport::Ws)
            }
            Some(server) => match server
                .accept(stream, self.capture.clone(), tls::HANDSHAKE_TIMEOUT)
                .await
            {
                Ok(s) => (Box::new(s), Transport::Wss),
                Err(e) => {
                    lock(&self.events).push(format!(
                        "TLS handshake (secure WebSocket) from {peer} to {local} failed: {e}"
                    ));
                    return;
                }
            },
        };
        let cfg = ws::WsConfig {
            max_message: MAX_SIP_MESSAGE,
            ..ws::WsConfig::default()
        };
        let conn = match ws::server_handshake(io, local, peer, "sip", &cfg).await {
            Ok(c) => c,
            Err(e) => {
                lock(&self.events).push(format!(
                    "WebSocket upgrade from {peer} to {local} refused: {e}"
                ));
                return;
            }
        };
        let c = self.add_conn(t, local, peer, Writer::Ws(conn.sender.clone()), false);
        self.ws_read(conn, c, t, local, peer).await;
    }

    /// A TLS connection accepted at `local`: the handshake, then its SIP
    /// messages until it ends.
    async fn tls_accepted(
        &self,
        stream: TcpStream,
        server: &tls::TlsServer,
        local: SocketAddr,
        peer: SocketAddr,
    ) {
        let _ = stream.set_nodelay(true);
        let tls = match server
            .accept(stream, self.capture.clone(), tls::HANDSHAKE_TIMEOUT)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                lock(&self.events)
                    .push(format!("TLS handshake from {peer} to {local} failed: {e}"));
                // Kept for the verdict (its start: the request line and
                // the first header fields say what was sent in the clear).
                if let tls::TlsError::NotTls { first_bytes } = &e {
                    keep_unmatched(&self.unmatched, Incoming {
                        bytes: first_bytes.clone(),
                        msg: SipMessage::parse(first_bytes),
                        from: peer,
                        transport: Transport::Tcp,
                        at: Instant::now(),
                        note: Some(format!(
                            "sent in the clear to the TLS listener {local}: no TLS handshake came first"
                        )),
                    });
                }
                return;
            }
        };
        let (rd, wr) = tokio::io::split(tls);
        let conn = self.add_conn(
            Transport::Tls,
            local,
            peer,
            Writer::Bytes(Box::new(wr)),
            false,
        );
        self.start_reader(Transport::Tls, Box::new(rd), local, peer, conn);
    }

    /// Dispatches a WebSocket connection's messages until it ends, then
    /// tells the transactions that sent over it.
    async fn ws_read(
        &self,
        mut conn: ws::WsConn<Box<dyn Io>>,
        c: Arc<Conn>,
        t: Transport,
        local: SocketAddr,
        peer: SocketAddr,
    ) {
        loop {
            // No deadline of its own: the connection lives as long as the peer keeps it.
            let far = Instant::now() + Duration::from_secs(24 * 3600);
            match conn.recv_data(far).await {
                Ok(Some(msg)) => self.dispatch(msg, peer, t),
                Ok(None) => continue,
                Err(e) => {
                    let cause = match e {
                        ws::WsError::Closed => EndCause::Closed,
                        e => EndCause::ReadError(e.to_string()),
                    };
                    lock(&self.events).push(format!(
                        "the WebSocket connection between {local} and {peer} ended: {cause:?}"
                    ));
                    let end = ConnectionEnd::new(t, peer, local, cause, &[]);
                    self.connection_ended(&c, end);
                    return;
                }
            }
        }
    }

    /// Keeps bytes the stream reader could not frame for the verdict, with
    /// the framing error (not a parse of the cut-off buffer).
    fn dispatch_error(&self, bytes: Vec<u8>, e: SipError, from: SocketAddr, transport: Transport) {
        keep_unmatched(
            &self.unmatched,
            Incoming {
                bytes,
                msg: Err(e),
                from,
                transport,
                at: Instant::now(),
                note: None,
            },
        );
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let h = tokio::spawn(fut);
        lock(&self.tasks).push(h);
    }

    /// A new connection's write half, registered for sends to `peer` over
    /// `transport`; `tap`: the endpoint captures what goes over it.
    fn add_conn(
        &self,
        transport: Transport,
        local: SocketAddr,
        peer: SocketAddr,
        wr: Writer,
        tap: bool,
    ) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next_conn.fetch_add(1, Ordering::Relaxed),
            wr: tokio::sync::Mutex::new(wr),
            local,
            tap,
            ended: std::sync::atomic::AtomicBool::new(false),
        });
        tracing::debug!(conn = conn.id, %transport, %local, %peer, "connection open");
        lock(&self.conns).insert((transport, peer), conn.clone());
        conn
    }

    /// The reader of `conn` stopped: no send goes over it any more, and
    /// every transaction whose request went over it is told, under the
    /// routes lock, so that a sender registering at the same moment either
    /// is told here or sees [`Conn::ended`] and opens another connection.
    fn connection_ended(&self, conn: &Arc<Conn>, end: ConnectionEnd) {
        tracing::debug!(
            conn = conn.id,
            transport = %end.transport,
            local = %end.local,
            peer = %end.peer,
            cause = ?end.cause,
            partial_bytes = end.partial_len,
            "connection closed"
        );
        {
            let mut conns = lock(&self.conns);
            let key = (end.transport, end.peer);
            if conns.get(&key).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                conns.remove(&key);
            }
        }
        let routes = lock(&self.routes);
        conn.ended.store(true, Ordering::SeqCst);
        for r in routes.values().filter(|r| r.conn == Some(conn.id)) {
            r.sink.ended(&end);
        }
    }

    /// Reads a stream connection, frames SIP messages (RFC 3261 §18.3),
    /// taps bytes (plain TCP; a TLS connection's records are tapped under
    /// the TLS layer); when it ends, tells the transactions that sent over it.
    fn start_reader(
        &self,
        transport: Transport,
        mut rd: Reader,
        local: SocketAddr,
        peer: SocketAddr,
        conn: Arc<Conn>,
    ) {
        let me = self.clone();
        let tap = conn.tap;
        self.spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                let n = match rd.read(&mut chunk).await {
                    Ok(0) => {
                        lock(&me.events)
                            .push(format!("{peer} closed the TCP connection to {local}"));
                        if tap {
                            me.capture.tcp_close(peer, local);
                        }
                        let end =
                            ConnectionEnd::new(transport, peer, local, EndCause::Closed, &buf);
                        if !buf.is_empty() {
                            me.dispatch(std::mem::take(&mut buf), peer, transport);
                        }
                        me.connection_ended(&conn, end);
                        return;
                    }
                    Err(e) => {
                        lock(&me.events).push(format!(
                            "reading the TCP connection from {peer} to {local} failed: {e}"
                        ));
                        if tap {
                            me.capture.tcp_close(peer, local);
                        }
                        let cause = EndCause::ReadError(e.to_string());
                        let end = ConnectionEnd::new(transport, peer, local, cause, &buf);
                        if !buf.is_empty() {
                            me.dispatch(std::mem::take(&mut buf), peer, transport);
                        }
                        me.connection_ended(&conn, end);
                        return;
                    }
                    Ok(n) => n,
                };
                if tap {
                    me.capture.tcp_received(peer, local, &chunk[..n]);
                }
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match next_frame(&buf, MAX_SIP_MESSAGE) {
                        Ok(None) => break,
                        Ok(Some(Frame::KeepAlive(k))) => {
                            buf.drain(..k.min(buf.len()));
                        }
                        Ok(Some(Frame::Message(len))) => {
                            let len = len.min(buf.len());
                            let msg: Vec<u8> = buf.drain(..len).collect();
                            me.dispatch(msg, peer, transport);
                        }
                        Err(e) => {
                            let bytes = std::mem::take(&mut buf);
                            // Over the size limit, the harness stopped reading:
                            // say so, with the limit and the bytes that came,
                            // rather than parse the cut-off buffer as if it
                            // were the whole message.
                            let e = match e {
                                SipError::TooLarge { limit } => SipError::StreamLimit {
                                    limit,
                                    declared: match SipMessage::parse(&bytes) {
                                        Err(SipError::Truncated { expected, .. }) => Some(expected),
                                        _ => None,
                                    },
                                    have: bytes.len(),
                                    start: bytes.get(..200).unwrap_or(&bytes).to_vec(),
                                },
                                e => e,
                            };
                            lock(&me.events)
                                .push(format!("unframeable SIP stream from {peer}: {e}"));
                            let cause = EndCause::Unframeable(e.to_string());
                            let end = ConnectionEnd::new(transport, peer, local, cause, &bytes);
                            // Unframeable stream: keep the bytes for the verdict and stop reading.
                            if matches!(e, SipError::StreamLimit { .. }) {
                                me.dispatch_error(bytes, e, peer, transport);
                            } else {
                                me.dispatch(bytes, peer, transport);
                            }
                            me.connection_ended(&conn, end);
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// One harness SIP address (UDP + TCP on the same loopback IP, port 0).
pub struct SipEndpoint {
    udp: Arc<UdpSocket>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    shared: Shared,
    requests: tokio::sync::Mutex<mpsc::Receiver<Incoming>>,
}

impl Drop for SipEndpoint {
    fn drop(&mut self) {
        for t in lock(&self.shared.tasks).drain(..) {
            t.abort();
        }
    }
}

impl SipEndpoint {
    /// Binds UDP and TCP on `ip`, on one port the system picks for both, and
    /// starts receiving. One port for both: a routed capture claims the
    /// endpoint's addresses as keys, and a TCP port of its own could be
    /// another scenario's UDP port at the same time.
    pub async fn bind(ip: IpAddr, capture: Capture) -> io::Result<SipEndpoint> {
        let mut last = None;
        for _ in 0..20 {
            let port = std::net::UdpSocket::bind((ip, 0))?.local_addr()?.port();
            let at = SocketAddr::new(ip, port);
            match SipEndpoint::bind_at(at, at, capture.clone()).await {
                Ok(ep) => return Ok(ep),
                // Taken meanwhile, on UDP or TCP: another port.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
    }

    /// Binds UDP and TCP at the given loopback addresses (a harness address a
    /// real SUT is configured with) and starts receiving.
    pub async fn bind_at(
        udp_at: SocketAddr,
        tcp_at: SocketAddr,
        capture: Capture,
    ) -> io::Result<SipEndpoint> {
        for ip in [udp_at.ip(), tcp_at.ip()] {
            if !permitted(ip) {
                return Err(not_permitted("binds", ip));
            }
        }
        let udp = Arc::new(UdpSocket::bind(udp_at).await?);
        let udp_addr = udp.local_addr()?;
        let listener = TcpListener::bind(tcp_at).await?;
        let tcp_addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(MAX_QUEUED_REQUESTS);
        let shared = Shared {
            capture,
            routes: Arc::default(),
            requests: tx,
            unmatched: Arc::default(),
            conns: Arc::default(),
            ws_addr: Arc::default(),
            tls_addr: Arc::default(),
            wss_addr: Arc::default(),
            tasks: Arc::default(),
            events: Arc::default(),
            next_conn: Arc::default(),
        };
        // UDP receive loop.
        {
            let me = shared.clone();
            let sock = udp.clone();
            shared.spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    match sock.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            me.capture.udp_received(from, udp_addr, &buf[..n]);
                            me.dispatch(buf[..n].to_vec(), from, Transport::Udp);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            });
        }
        // TCP accept loop.
        {
            let me = shared.clone();
            shared.spawn(async move {
                while let Ok((stream, peer)) = listener.accept().await {
                    me.capture.tcp_accepted(peer, tcp_addr);
                    let (rd, wr) = stream.into_split();
                    let t = Transport::Tcp;
                    let conn = me.add_conn(t, tcp_addr, peer, Writer::Bytes(Box::new(wr)), true);
                    me.start_reader(t, Box::new(rd), tcp_addr, peer, conn);
                }
            });
        }
        Ok(SipEndpoint {
            udp,
            udp_addr,
            tcp_addr,
            shared,
            requests: tokio::sync::Mutex::new(rx),
        })
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The address to put in Via/Contact for a transport.
    pub fn addr(&self, t: Transport) -> SocketAddr {
        match t {
            Transport::Udp => self.udp_addr,
            Transport::Tcp => self.tcp_addr,
            // Without a TLS listener: a TLS connection's local address.
            Transport::Tls => lock(&self.shared.tls_addr).unwrap_or(self.tcp_addr),
            Transport::Ws => lock(&self.shared.ws_addr).unwrap_or(self.tcp_addr),
            Transport::Wss => lock(&self.shared.wss_addr).unwrap_or(self.tcp_addr),
        }
    }

    /// Opens a WebSocket connection to a server SUT at `dst` (RFC 7118:
    /// `Host` is `host`, the request target `path`, subprotocol `sip`
    /// offered and required) and keeps it: what is sent over
    /// [`Transport::Ws`] to `dst` then goes over it, and what comes back is
    /// dispatched. A refused, unanswered or wrong upgrade is the
    /// [`ws::WsError`] that says so, bounded by the handshake timeout.
    pub async fn connect_ws(
        &self,
        dst: SocketAddr,
        host: &str,
        path: &str,
        secure: Option<(&tls::TlsClient, &str)>,
    ) -> Result<(), ws::WsError> {
        if !permitted(dst.ip()) {
            return Err(ws::WsError::NotPermitted(
                not_permitted("connects to", dst.ip()).to_string(),
            ));
        }
        let cfg = ws::WsConfig {
            max_message: MAX_SIP_MESSAGE,
            ..ws::WsConfig::default()
        };
        let stream = tokio::time::timeout(cfg.handshake_timeout, TcpStream::connect(dst))
            .await
            .map_err(|_| ws::WsError::Connect {
                dst,
                error: format!("timed out after {} ms", cfg.handshake_timeout.as_millis()),
            })?
            .map_err(|e| ws::WsError::Connect {
                dst,
                error: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map_err(|e| ws::WsError::Io(e.to_string()))?;
        let (io, t): (Box<dyn Io>, Transport) = match secure {
            None => {
                self.shared.capture.tcp_connect(local, dst);
                let io = ws::Tapped::new(stream, self.shared.capture.clone(), local, dst);
                (Box::new(io), Transport::Ws)
            }
            // wss: TLS first, its records captured by the TLS layer.
            Some((client, name)) => {
                let s = client
                    .connect(
                        stream,
                        name,
                        self.shared.capture.clone(),
                        cfg.handshake_timeout,
                    )
                    .await
                    .map_err(|e| {
                        ws::WsError::Io(format!("the TLS handshake of wss: failed: {e}"))
                    })?;
                (Box::new(s), Transport::Wss)
            }
        };
        let req = ws::ClientRequest::sip(host, path);
        let conn = ws::client_handshake(io, local, dst, &req, &cfg).await?;
        let c = self
            .shared
            .add_conn(t, local, dst, Writer::Ws(conn.sender.clone()), false);
        let me = self.shared.clone();
        self.shared
            .spawn(async move { me.ws_read(conn, c, t, local, dst).await });
        Ok(())
    }

    /// Takes SIP over WebSocket at `at` (RFC 7118, subprotocol `sip`): each
    /// accepted connection's handshake is answered (or refused, with the
    /// status and why in [`SipEndpoint::transport_events`]), its messages
    /// dispatched like any other transport's, and what is sent over
    /// [`Transport::Ws`] to its peer goes over it. Every TCP byte is
    /// captured (the client's frames masked, as on the wire). Returns the
    /// address bound.
    pub async fn listen_ws(&self, at: SocketAddr) -> io::Result<SocketAddr> {
        self.listen_ws_over(at, None).await
    }

    /// As [`SipEndpoint::listen_ws`], over TLS (secure WebSocket, `wss:`,
    /// RFC 7118 §5: Via transport `WSS`): each connection's TLS handshake
    /// as `server` says (records and secrets captured), then the upgrade.
    pub async fn listen_wss(
        &self,
        at: SocketAddr,
        server: tls::TlsServer,
    ) -> io::Result<SocketAddr> {
        self.listen_ws_over(at, Some(server)).await
    }

    /// The WebSocket listener, plain or (with `tls`) secure.
    async fn listen_ws_over(
        &self,
        at: SocketAddr,
        tls: Option<tls::TlsServer>,
    ) -> io::Result<SocketAddr> {
        let listener = listen_permitted(at).await?;
        let local = listener.local_addr()?;
        let slot = if tls.is_some() {
            &self.shared.wss_addr
        } else {
            &self.shared.ws_addr
        };
        *lock(slot) = Some(local);
        let me = self.shared.clone();
        self.shared.spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let me2 = me.clone();
                let tls = tls.clone();
                me.spawn(async move { me2.ws_accepted(stream, local, peer, tls).await });
            }
        });
        Ok(local)
    }

    /// Takes SIP over TLS at `at` (RFC 3261 §26.2, `sips:`): each accepted
    /// connection's handshake as `server` says (its records, and the
    /// secrets that decrypt them, captured), its messages framed and
    /// dispatched like TCP's, and what is sent over [`Transport::Tls`] to
    /// its peer goes over it. A handshake that fails (plaintext sent to the
    /// TLS port, an alert, a timeout) is in [`SipEndpoint::transport_events`];
    /// plaintext's first bytes are kept in [`SipEndpoint::unmatched`] as
    /// well (parsed as SIP where they read as it), with the note that they
    /// came in the clear. Returns the address bound.
    pub async fn listen_tls(
        &self,
        at: SocketAddr,
        server: tls::TlsServer,
    ) -> io::Result<SocketAddr> {
        let listener = listen_permitted(at).await?;
        let local = listener.local_addr()?;
        *lock(&self.shared.tls_addr) = Some(local);
        let me = self.shared.clone();
        self.shared.spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let me2 = me.clone();
                let server = server.clone();
                me.spawn(async move { me2.tls_accepted(stream, &server, local, peer).await });
            }
        });
        Ok(local)
    }

    /// Opens a TLS connection to a SUT at `dst` (RFC 3261 §26.2: SIP over
    /// TLS), naming `server_name` (a DNS name, sent as SNI and checked in
    /// its certificate, or the IP address) and checking its certificate as
    /// `client` says, and keeps it: what is sent over [`Transport::Tls`] to
    /// `dst` then goes over it, and what comes back is dispatched. What the
    /// handshake negotiated is returned (and recorded in the capture); one
    /// that fails is the [`tls::TlsError`] that says what the peer did.
    pub async fn connect_tls(
        &self,
        dst: SocketAddr,
        server_name: &str,
        client: &tls::TlsClient,
    ) -> Result<tls::Negotiated, tls::TlsError> {
        if !permitted(dst.ip()) {
            return Err(tls::TlsError::Io {
                what: not_permitted("connects to", dst.ip()).to_string(),
            });
        }
        let timeout = tls::HANDSHAKE_TIMEOUT;
        let stream = tokio::time::timeout(timeout, TcpStream::connect(dst))
            .await
            .map_err(|_| tls::TlsError::Io {
                what: format!(
                    "connecting to {dst} timed out after {} ms",
                    timeout.as_millis()
                ),
            })?
            .map_err(|e| tls::TlsError::Io {
                what: format!("connecting to {dst}: {e}"),
            })?;
        let _ = stream.set_nodelay(true);
        let tls = client
            .connect(stream, server_name, self.shared.capture.clone(), timeout)
            .await?;
        let negotiated = tls.negotiated.clone();
        let local = tls.local();
        let (rd, wr) = tokio::io::split(tls);
        let conn = self.shared.add_conn(
            Transport::Tls,
            local,
            dst,
            Writer::Bytes(Box::new(wr)),
            false,
        );
        self.shared
            .start_reader(Transport::Tls, Box::new(rd), local, dst, conn);
        Ok(negotiated)
    }

    pub fn capture(&self) -> &Capture {
        &self.shared.capture
    }

    /// Is a connection over `t` to or from `peer` open (not ended)?
    pub fn has_connection(&self, t: Transport, peer: SocketAddr) -> bool {
        lock(&self.shared.conns)
            .get(&(t, peer))
            .is_some_and(|c| !c.ended.load(Ordering::SeqCst))
    }

    /// Sends exactly `bytes` to `dst`. Over TCP it reuses a connection to or
    /// from `dst`, or opens one (bounded by `connect_timeout`).
    pub async fn send(&self, t: Transport, dst: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        self.send_inner(t, dst, bytes, None).await
    }

    /// Sends the request of the client transaction `branch` (subscribed
    /// with [`SipEndpoint::subscribe_transaction`]) as [`SipEndpoint::send`]
    /// does; over a stream, the transaction is told if the connection the
    /// request went over ends ([`Routed::Ended`]).
    pub async fn send_for(
        &self,
        branch: &str,
        t: Transport,
        dst: SocketAddr,
        bytes: &[u8],
    ) -> io::Result<()> {
        self.send_inner(t, dst, bytes, Some(branch)).await
    }

    async fn send_inner(
        &self,
        t: Transport,
        dst: SocketAddr,
        bytes: &[u8],
        branch: Option<&str>,
    ) -> io::Result<()> {
        match t {
            Transport::Udp => {
                // Captured before sending, so a fast answer never appears first.
                self.shared.capture.udp_sent(self.udp_addr, dst, bytes);
                self.udp.send_to(bytes, dst).await?;
                Ok(())
            }
            Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Wss => {
                let conn = self.stream_for(t, dst, branch).await?;
                let mut w = conn.wr.lock().await;
                if conn.tap {
                    self.shared.capture.tcp_sent(conn.local, dst, bytes);
                }
                match &mut *w {
                    Writer::Bytes(w) => tokio::time::timeout(Duration::from_secs(3), async {
                        w.write_all(bytes).await?;
                        w.flush().await
                    })
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, format!("{t} write timed out"))
                    })??,
                    // Bounded by the sender's write timeout.
                    Writer::Ws(ws) => ws
                        .send_sip(bytes)
                        .await
                        .map_err(|e| io::Error::other(e.to_string()))?,
                }
                Ok(())
            }
        }
    }

    /// The open TCP connection to or from `dst`, or a new one; with
    /// `branch`, that transaction's route is bound to it before any byte
    /// goes out, so its end cannot pass unnoticed. A connection whose end
    /// the reader has just reported is not used: another one is opened.
    async fn stream_for(
        &self,
        t: Transport,
        dst: SocketAddr,
        branch: Option<&str>,
    ) -> io::Result<Arc<Conn>> {
        for _ in 0..2 {
            let existing = lock(&self.shared.conns).get(&(t, dst)).cloned();
            let conn = match existing {
                Some(c) => c,
                // TLS connections are opened with a name and a check
                // (`connect_tls`), not here.
                None if t == Transport::Tls => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("no TLS connection to or from {dst}"),
                    ))
                }
                // A WebSocket client takes no connections (RFC 7118 §5):
                // requests go over the one it opened.
                None if t.is_ws() => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("no WebSocket connection from {dst}: a WebSocket client is reached only over the connection it opened"),
                    ))
                }
                None => {
                    let stream =
                        tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(dst))
                            .await
                            .map_err(|_| {
                                io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out")
                            })??;
                    let _ = stream.set_nodelay(true);
                    let local = stream.local_addr()?;
                    self.shared.capture.tcp_connect(local, dst);
                    let (rd, wr) = stream.into_split();
                    let conn =
                        self.shared
                            .add_conn(t, local, dst, Writer::Bytes(Box::new(wr)), true);
                    self.shared
                        .start_reader(t, Box::new(rd), local, dst, conn.clone());
                    conn
                }
            };
            let mut routes = lock(&self.shared.routes);
            if conn.ended.load(Ordering::SeqCst) {
                drop(routes);
                let mut conns = lock(&self.shared.conns);
                if conns.get(&(t, dst)).is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                    conns.remove(&(t, dst));
                }
                continue;
            }
            if let Some(r) = branch.and_then(|b| routes.get_mut(b)) {
                r.conn = Some(conn.id);
            }
            return Ok(conn);
        }
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            format!("the TCP connection to {dst} ended before the message could be sent, twice"),
        ))
    }

    /// Routes responses whose top Via has `branch` and whose CSeq is `cseq`
    /// (the request's number and method; None matches any) to the returned
    /// receiver. A response with the branch and another CSeq matches no
    /// transaction (RFC 3261 §17.1.3) and is kept in [`SipEndpoint::unmatched`].
    pub fn subscribe(
        &self,
        branch: &str,
        cseq: Option<(u32, String)>,
    ) -> mpsc::UnboundedReceiver<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.route(branch, cseq, Sink::Responses(tx));
        rx
    }

    /// As [`SipEndpoint::subscribe`], for a client transaction that sends
    /// with [`SipEndpoint::send_for`]: its responses, and the end of the
    /// stream connection its request went over, arrive in the order they
    /// happened (a response read before the close comes first).
    pub fn subscribe_transaction(
        &self,
        branch: &str,
        cseq: Option<(u32, String)>,
    ) -> mpsc::UnboundedReceiver<Routed> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.route(branch, cseq, Sink::Routed(tx));
        rx
    }

    /// Routes the responses of `branch` (and `cseq`) to `sink`.
    fn route(&self, branch: &str, cseq: Option<(u32, String)>, sink: Sink) {
        let route = Route {
            cseq,
            sink,
            conn: None,
        };
        lock(&self.shared.routes).insert(branch.to_string(), route);
    }

    pub fn unsubscribe(&self, branch: &str) {
        lock(&self.shared.routes).remove(branch);
    }

    /// The next request that arrived, or None after `timeout`.
    pub async fn next_request(&self, timeout: Duration) -> Option<Incoming> {
        let mut rx = self.requests.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Connection events, for failure messages.
    pub fn transport_events(&self) -> Vec<String> {
        lock(&self.shared.events).clone()
    }

    /// Everything that matched no transaction: stray responses and garbage.
    pub fn unmatched(&self) -> Vec<Incoming> {
        lock(&self.shared.unmatched).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::stream::StreamConn;
    use super::*;

    #[test]
    fn loopback_always_a_lab_network_only_when_opened() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for a in ["127.0.0.1", "127.9.8.7", "::1"] {
            assert!(
                permitted_in(false, ip(a)) && permitted_in(true, ip(a)),
                "{a}"
            );
        }
        for a in ["192.0.2.10", "10.1.2.3", "2001:db8::1"] {
            assert!(!permitted_in(false, ip(a)), "{a}");
            assert!(permitted_in(true, ip(a)), "{a}");
        }
        for a in ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"] {
            assert!(!permitted_in(true, ip(a)), "{a}");
        }
        // This process never opened one: the guards refuse other addresses.
        assert!(!permitted(ip("192.0.2.10")));
    }
    use crate::report::ladder;

    fn temp_pcap(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "liaison-net-test-{}-{name}.pcap",
            std::process::id()
        ))
    }

    fn request(n: u32, via: SocketAddr, t: Transport) -> Vec<u8> {
        format!(
            "MESSAGE sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/{} {via};branch=z9hG4bK-net-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.com>;tag=a{n}\r\n\
             To: <sip:bob@example.com>\r\n\
             Call-ID: net-{n}@example.com\r\n\
             CSeq: {n} MESSAGE\r\n\
             Content-Length: 0\r\n\r\n",
            t.via_name()
        )
        .into_bytes()
    }

    /// Issue 13: a packet between two harness sockets (a UA and the IMS
    /// core) was written by the sender's tap and again by the receiver's.
    #[tokio::test]
    async fn packets_between_harness_endpoints_are_captured_once() {
        let path = temp_pcap("endpoints");
        let capture = Capture::create(&path).expect("create");
        // The core's capture is a run-level switchable one, pointed at the
        // scenario's file, as the runner does.
        let core_capture = Capture::switchable();
        core_capture.point_to(&capture);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let ua = SipEndpoint::bind(lo, capture.clone()).await.expect("ua");
        let core = SipEndpoint::bind(lo, core_capture).await.expect("core");
        let wait = Duration::from_secs(3);
        for (n, t) in [(1, Transport::Udp), (2, Transport::Tcp)] {
            let req = request(n, ua.addr(t), t);
            ua.send(t, core.addr(t), &req).await.expect("send");
            let got = core.next_request(wait).await.expect("request arrives");
            assert_eq!(got.bytes, req);
            // The core answers over the same transport.
            let back = request(n + 10, core.addr(t), t);
            core.send(t, got.from, &back).await.expect("answer");
        }
        for n in [11, 12] {
            let got = ua.next_request(wait).await.expect("answer arrives");
            assert!(got.bytes.starts_with(b"MESSAGE"), "{n}");
        }
        drop(core);
        drop(ua);
        capture.flush().expect("flush");
        let bytes = std::fs::read(&path).expect("pcap");
        let _ = std::fs::remove_file(&path);
        let dups = ladder::duplicates(&bytes);
        assert!(dups.is_empty(), "captured twice: {dups:?}");
        let l = ladder::read(&bytes);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        let labels: Vec<String> = l.messages.iter().map(|m| m.label()).collect();
        assert_eq!(labels, ["MESSAGE"; 4], "{labels:?}");
    }

    fn lines(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => Ok(Some(i + 1)),
            None if buf.len() > max => Err("line too long".into()),
            None => Ok(None),
        }
    }

    /// The same for a framed stream between two harness roles (an MSRP or
    /// SMPP peer of a harness relay): one handshake, every byte once.
    #[tokio::test]
    async fn a_stream_between_harness_roles_is_captured_once() {
        let path = temp_pcap("streams");
        let capture = Capture::create(&path).expect("create");
        let server_capture = Capture::switchable();
        server_capture.point_to(&capture);
        let listener = listen_permitted("127.0.0.1:0".parse().unwrap())
            .await
            .expect("listen");
        let at = listener.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            let (s, _) = listener.accept().await.expect("accept");
            StreamConn::accepted(s, server_capture, lines, 1000).expect("accepted")
        });
        let wait = Duration::from_secs(3);
        let client = StreamConn::connect(at, capture.clone(), lines, 1000, wait)
            .await
            .expect("connect");
        let server = accept.await.expect("accept task");
        client.send(b"one\ntwo\n").await.expect("send");
        server.send(b"three\n").await.expect("send");
        let deadline = Instant::now() + wait;
        for want in [&b"one\n"[..], b"two\n"] {
            let got = server.recv(deadline).await.expect("arrives");
            assert_eq!(got.event, stream::StreamEvent::Message(want.to_vec()));
        }
        let got = client.recv(deadline).await.expect("arrives");
        assert_eq!(got.event, stream::StreamEvent::Message(b"three\n".to_vec()));
        client.shutdown().await;
        let got = server.recv(deadline).await.expect("close arrives");
        assert_eq!(got.event, stream::StreamEvent::Closed(Vec::new()));
        drop(client);
        drop(server);
        capture.flush().expect("flush");
        let bytes = std::fs::read(&path).expect("pcap");
        let _ = std::fs::remove_file(&path);
        let dups = ladder::duplicates(&bytes);
        assert!(dups.is_empty(), "captured twice: {dups:?}");
        let l = ladder::read(&bytes);
        let carried: Vec<u8> = l.messages.iter().flat_map(|m| m.bytes.clone()).collect();
        assert_eq!(carried, b"one\ntwo\nthree\n");
        // One handshake: exactly one SYN without ACK.
        let syns = count_syns(&bytes);
        assert_eq!(syns, 1, "SYNs in the capture");
    }

    /// SYN segments (without ACK) in a pcap written by [`Capture`] (IPv4).
    fn count_syns(pcap: &[u8]) -> usize {
        let mut at = 24;
        let mut n = 0;
        while at + 16 <= pcap.len() {
            let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
            let frame = &pcap[at + 16..at + 16 + caplen];
            // Ethernet 14 + IPv4 20: TCP flags at 34 + 13.
            if frame.len() > 47 && frame[23] == 6 && frame[47] & 0x12 == 0x02 {
                n += 1;
            }
            at += 16 + caplen;
        }
        n
    }
}
