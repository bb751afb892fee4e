//! A WebSocket connection (RFC 6455) for SIP over WebSocket (RFC 7118) and,
//! later, MSRP over WebSocket (RFC 7977): the opening handshake as client
//! ([`connect`], [`client_handshake`]) or server ([`accept`],
//! [`server_handshake`]), then whole messages out and in ([`WsConn`]).
//!
//! The connection runs over any byte stream (`AsyncRead + AsyncWrite`), so
//! TLS (wss:) can sit between it and the TCP socket. What reaches the pcap
//! is what crosses the socket: [`Tapped`] wraps the TCP stream and taps every
//! byte written (before the write) and read (as read) into the [`Capture`],
//! with the TCP opening and closing; under TLS it sits below the TLS layer.
//! For `ws:` the pcap then holds the HTTP upgrade and the frames, which
//! tshark dissects as WebSocket and, with the `sip` subprotocol, as SIP.
//!
//! Every wait is bounded (the handshake by [`WsConfig::handshake_timeout`],
//! each write by [`WsConfig::write_timeout`], each receive by its deadline),
//! every read by a size limit (the handshake head by
//! [`ws::HANDSHAKE_MAX`], a message by [`WsConfig::max_message`], checked
//! from a frame's header before its payload is buffered). What the peer did
//! wrong is a [`WsError`] that names it and quotes its bytes; a refused
//! upgrade carries the HTTP status.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::capture::Capture;
use crate::codec::escape_bytes;
use crate::codec::http;
use crate::codec::ws::{
    self, Assembler, CloseBody, FrameError, FrameSpec, HandshakeError, Message, Opcode, Side,
};

/// How many bytes of the peer's input an error's `Display` shows.
const SHOW: usize = 200;

/// Limits and timeouts of a connection.
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// The largest message (all its fragments) taken from the peer.
    pub max_message: usize,
    /// The opening handshake, from the TCP connection to the last byte of
    /// the answer (client) or of the request (server).
    pub handshake_timeout: Duration,
    /// One frame's write.
    pub write_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message: 1 << 20,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(3),
        }
    }
}

/// What went wrong, named after what the peer did where it was the peer.
#[derive(Debug)]
pub enum WsError {
    /// The address is outside what the harness may reach (`net::permitted`).
    NotPermitted(String),
    /// The TCP connection could not be opened (refused, unreachable, timed out).
    Connect { dst: SocketAddr, error: String },
    /// A read or write on the connection failed, or a write timed out.
    Io(String),
    /// No whole handshake within the timeout: the peer never answered (client)
    /// or never finished its request (server). `received` is what came.
    HandshakeTimeout { waited: Duration, received: Vec<u8> },
    /// The peer closed the connection before a whole handshake.
    HandshakeClosed { received: Vec<u8> },
    /// The peer sent bytes that are not HTTP where the handshake was due.
    NotHttp { why: String, received: Vec<u8> },
    /// The server refused the upgrade: its HTTP status, reason and bytes.
    Refused {
        status: u16,
        reason: String,
        response: Vec<u8>,
    },
    /// The handshake was HTTP but broke RFC 6455 or RFC 7118 (a 101 without
    /// the `sip` subprotocol, a wrong accept value, a request without a
    /// key…). As server, the harness answered it with `answered` (400, 426).
    BadHandshake {
        error: HandshakeError,
        received: Vec<u8>,
        answered: Option<u16>,
    },
    /// The peer broke framing (§5) or a message rule (§5.4, §5.6); the harness
    /// sent Close with `close_code` and closed the connection. `frame` is
    /// the start of the offending frame.
    Frame {
        error: FrameError,
        frame: Vec<u8>,
        close_code: u16,
    },
    /// The TCP connection ended without a Close frame; `pending` is any
    /// partial frame left.
    Ended { pending: Vec<u8> },
    /// The WebSocket connection is closed (Close sent and received, or sent):
    /// nothing more can be sent or received.
    Closed,
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |b: &[u8]| escape_bytes(b, SHOW);
        match self {
            WsError::NotPermitted(why) => write!(f, "{why}"),
            WsError::Connect { dst, error } => {
                write!(f, "TCP connection to {dst} failed: {error}")
            }
            WsError::Io(e) => write!(f, "WebSocket connection I/O failed: {e}"),
            WsError::HandshakeTimeout { waited, received } if received.is_empty() => write!(
                f,
                "no WebSocket opening handshake within {} ms: nothing received",
                waited.as_millis()
            ),
            WsError::HandshakeTimeout { waited, received } => write!(
                f,
                "no whole WebSocket opening handshake within {} ms; received {} bytes: \"{}\"",
                waited.as_millis(),
                received.len(),
                show(received)
            ),
            WsError::HandshakeClosed { received } => write!(
                f,
                "the peer closed the connection during the WebSocket opening handshake after {} bytes: \"{}\"",
                received.len(),
                show(received)
            ),
            WsError::NotHttp { why, received } => write!(
                f,
                "the peer sent bytes that are not HTTP where the WebSocket handshake was due ({why}): \"{}\"",
                show(received)
            ),
            WsError::Refused {
                status,
                reason,
                response,
            } => write!(
                f,
                "the server refused the WebSocket upgrade with HTTP {status} {}: \"{}\"",
                escape_bytes(reason.as_bytes(), 80),
                show(response)
            ),
            WsError::BadHandshake {
                error,
                received,
                answered,
            } => {
                write!(f, "bad WebSocket handshake: {error}")?;
                if let Some(status) = answered {
                    write!(f, " (answered {status})")?;
                }
                write!(f, ": \"{}\"", show(received))
            }
            WsError::Frame {
                error,
                frame,
                close_code,
            } => write!(
                f,
                "{error}; the harness closed with {close_code}: frame \"{}\"",
                show(frame)
            ),
            WsError::Ended { pending } if pending.is_empty() => {
                write!(f, "the TCP connection ended without a WebSocket Close")
            }
            WsError::Ended { pending } => write!(
                f,
                "the TCP connection ended without a WebSocket Close, inside a frame: \"{}\"",
                show(pending)
            ),
            WsError::Closed => write!(f, "the WebSocket connection is closed"),
        }
    }
}

impl std::error::Error for WsError {}

fn io_err(e: io::Error) -> WsError {
    WsError::Io(e.to_string())
}

// ---------------------------------------------------------------------------
// Tapped: a TCP stream whose bytes go to the capture
// ---------------------------------------------------------------------------

/// A stream (a TCP socket) whose every byte is tapped into a [`Capture`]:
/// written bytes before the write (so that a harness peer reading them into
/// the same file finds them already counted), read bytes as read, the end of
/// the stream (either side's) as a TCP close. The opening is reported by
/// the constructors ([`Tapped::connected`], [`Tapped::accepted`]).
///
/// A write that the socket takes only in part, or not yet, has its bytes
/// tapped once: the writer is expected to offer the same bytes again (as
/// `write_all`, and TLS layers writing out their records, do).
pub struct Tapped<S> {
    inner: S,
    capture: Capture,
    local: SocketAddr,
    peer: SocketAddr,
    /// Bytes tapped ahead of the socket taking them.
    ahead: usize,
    closed: bool,
}

impl Tapped<TcpStream> {
    /// A connection the harness opened (SYN from `local`).
    pub fn connected(stream: TcpStream, capture: Capture) -> io::Result<Tapped<TcpStream>> {
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        capture.tcp_connect(local, peer);
        Ok(Tapped::new(stream, capture, local, peer))
    }

    /// A connection the harness accepted (SYN from `peer`).
    pub fn accepted(stream: TcpStream, capture: Capture) -> io::Result<Tapped<TcpStream>> {
        let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
        capture.tcp_accepted(peer, local);
        Ok(Tapped::new(stream, capture, local, peer))
    }
}

impl<S> Tapped<S> {
    /// Wraps a stream whose opening the caller has reported.
    pub fn new(inner: S, capture: Capture, local: SocketAddr, peer: SocketAddr) -> Tapped<S> {
        Tapped {
            inner,
            capture,
            local,
            peer,
            ahead: 0,
            closed: false,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let me = &mut *self;
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let got = &buf.filled()[before..];
            if !got.is_empty() {
                me.capture.tcp_received(me.peer, me.local, got);
            } else if buf.remaining() > 0 && !me.closed {
                // End of stream: the peer closed first.
                me.closed = true;
                me.capture.tcp_close(me.peer, me.local);
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.ahead < buf.len() {
            me.capture
                .tcp_sent(me.local, me.peer, &buf[me.ahead.min(buf.len())..]);
            me.ahead = buf.len();
        }
        let r = Pin::new(&mut me.inner).poll_write(cx, buf);
        match &r {
            Poll::Ready(Ok(n)) => me.ahead = me.ahead.saturating_sub(*n),
            Poll::Ready(Err(_)) => me.ahead = 0,
            Poll::Pending => {}
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = &mut *self;
        let r = Pin::new(&mut me.inner).poll_shutdown(cx);
        if r.is_ready() && !me.closed {
            me.closed = true;
            me.capture.tcp_close(me.local, me.peer);
        }
        r
    }
}

// ---------------------------------------------------------------------------
// The opening handshake
// ---------------------------------------------------------------------------

/// What the handshake settled.
#[derive(Clone, Debug)]
pub struct WsInfo {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The harness's side.
    pub side: Side,
    /// The subprotocol agreed.
    pub protocol: Option<String>,
    /// The client's request, exactly as sent.
    pub request: Vec<u8>,
    /// The server's 101, exactly as sent.
    pub response: Vec<u8>,
}

/// What a client asks for.
#[derive(Clone, Debug)]
pub struct ClientRequest<'a> {
    /// The `Host` value (the server's `IP:port` when the URI has no name).
    pub host: &'a str,
    /// The request target (the path of the `ws:` URI).
    pub target: &'a str,
    /// The subprotocols offered, in order.
    pub protocols: &'a [&'a str],
    /// The subprotocol the server must choose (RFC 7118 §4.1: `sip`), or
    /// `None` to take whatever RFC 6455 allows.
    pub require: Option<&'a str>,
}

impl ClientRequest<'_> {
    /// SIP over WebSocket (RFC 7118): offers and requires `sip`.
    pub fn sip<'a>(host: &'a str, target: &'a str) -> ClientRequest<'a> {
        ClientRequest {
            host,
            target,
            protocols: &[ws::SUBPROTOCOL_SIP],
            require: Some(ws::SUBPROTOCOL_SIP),
        }
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::getrandom(&mut b).is_err() {
        // No OS entropy (never on Linux): distinct values all the same.
        let t = crate::codec::sip::token();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t.as_bytes()[i % t.len()];
        }
    }
    b
}

/// Opens a TCP connection to `dst` (bounded by the handshake timeout) and
/// runs the client's handshake over it, every byte tapped into `capture`.
pub async fn connect(
    dst: SocketAddr,
    capture: Capture,
    req: &ClientRequest<'_>,
    cfg: &WsConfig,
) -> Result<WsConn<Tapped<TcpStream>>, WsError> {
    if !super::permitted(dst.ip()) {
        return Err(WsError::NotPermitted(
            super::not_permitted("connects to", dst.ip()).to_string(),
        ));
    }
    let start = Instant::now();
    let stream = match tokio::time::timeout(cfg.handshake_timeout, TcpStream::connect(dst)).await {
        Err(_) => {
            return Err(WsError::Connect {
                dst,
                error: format!("timed out after {} ms", cfg.handshake_timeout.as_millis()),
            })
        }
        Ok(Err(e)) => {
            return Err(WsError::Connect {
                dst,
                error: e.to_string(),
            })
        }
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let tapped = Tapped::connected(stream, capture).map_err(io_err)?;
    let (local, peer) = (tapped.local(), tapped.peer());
    let deadline = start + cfg.handshake_timeout;
    client_handshake_by(tapped, local, peer, req, cfg, deadline).await
}

/// Reads bytes into `buf` until `done` says the handshake is whole (`Some(n)`:
/// its first `n` bytes) or fails; bounded by `deadline`.
async fn read_head<S, F>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
    waited: Duration,
    mut done: F,
) -> Result<usize, WsError>
where
    S: AsyncRead + Unpin,
    F: FnMut(&[u8]) -> Result<Option<usize>, WsError>,
{
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(n) = done(buf)? {
            return Ok(n);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => {
                return Err(WsError::HandshakeTimeout {
                    waited,
                    received: std::mem::take(buf),
                })
            }
            Ok(Ok(0)) => {
                return Err(WsError::HandshakeClosed {
                    received: std::mem::take(buf),
                })
            }
            Ok(Err(e)) => return Err(io_err(e)),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn write_bounded<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), WsError> {
    match tokio::time::timeout(timeout, stream.write_all(bytes)).await {
        Err(_) => Err(WsError::Io(format!(
            "write of {} bytes timed out after {} ms",
            bytes.len(),
            timeout.as_millis()
        ))),
        Ok(r) => r.map_err(io_err),
    }
}

/// The client's opening handshake over `stream` (RFC 6455 §4.1): sends the
/// upgrade with a fresh key and reads the answer. A status other than 101
/// is [`WsError::Refused`] as soon as its head is in (no wait for a body);
/// bytes that cannot start an HTTP response are [`WsError::NotHttp`] at
/// once; a 101 that breaks §4.1 or lacks `req.require` is
/// [`WsError::BadHandshake`], and the connection is closed (§7.1.7: the
/// client fails the connection).
pub async fn client_handshake<S>(
    stream: S,
    local: SocketAddr,
    peer: SocketAddr,
    req: &ClientRequest<'_>,
    cfg: &WsConfig,
) -> Result<WsConn<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = Instant::now() + cfg.handshake_timeout;
    client_handshake_by(stream, local, peer, req, cfg, deadline).await
}

async fn client_handshake_by<S>(
    mut stream: S,
    local: SocketAddr,
    peer: SocketAddr,
    req: &ClientRequest<'_>,
    cfg: &WsConfig,
    deadline: Instant,
) -> Result<WsConn<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let key = ws::key_from_nonce(random());
    let request = ws::client_request(req.target, req.host, &key, req.protocols, &[]);
    write_bounded(&mut stream, &request, cfg.write_timeout).await?;
    let mut buf = Vec::new();
    let n = read_head(
        &mut stream,
        &mut buf,
        deadline,
        cfg.handshake_timeout,
        |b| {
            if ws::cannot_be_http(b, true) {
                return Err(WsError::NotHttp {
                    why: "an HTTP response starts with `HTTP/`".into(),
                    received: b.to_vec(),
                });
            }
            if let Some((status, reason)) = ws::response_status(b)
                && status != 101
            {
                return Err(WsError::Refused {
                    status,
                    reason,
                    response: b.to_vec(),
                });
            }
            http::next_frame(b, ws::HANDSHAKE_MAX).map_err(|e| WsError::NotHttp {
                why: e.to_string(),
                received: b.to_vec(),
            })
        },
    )
    .await;
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            let _ = tokio::time::timeout(cfg.write_timeout, stream.shutdown()).await;
            return Err(e);
        }
    };
    let checked = ws::read_response(&buf[..n], &key, req.protocols).and_then(|a| {
        if let Some(want) = req.require {
            ws::require_protocol(&a, want, req.protocols)?;
        }
        Ok(a)
    });
    let accepted = match checked {
        Ok(a) => a,
        Err(error) => {
            let _ = tokio::time::timeout(cfg.write_timeout, stream.shutdown()).await;
            return Err(WsError::BadHandshake {
                error,
                received: buf,
                answered: None,
            });
        }
    };
    let rest = buf.split_off(n);
    let info = WsInfo {
        local,
        peer,
        side: Side::Client,
        protocol: accepted.protocol,
        request,
        response: buf,
    };
    Ok(WsConn::start(stream, info, rest, cfg))
}

/// Runs the server's handshake on a TCP connection the harness accepted,
/// every byte tapped into `capture`.
pub async fn accept(
    stream: TcpStream,
    capture: Capture,
    protocol: &str,
    cfg: &WsConfig,
) -> Result<WsConn<Tapped<TcpStream>>, WsError> {
    let _ = stream.set_nodelay(true);
    let tapped = Tapped::accepted(stream, capture).map_err(io_err)?;
    let (local, peer) = (tapped.local(), tapped.peer());
    server_handshake(tapped, local, peer, protocol, cfg).await
}

/// The server's opening handshake over `stream` (RFC 6455 §4.2): reads the
/// client's upgrade and answers 101 with `protocol` as the subprotocol. A
/// request that breaks §4.2.1 is answered 400 (426 for a version other than
/// 13) and a request that does not offer `protocol` 400 (RFC 7118 §4.1 for
/// `sip`), then the connection is closed: [`WsError::BadHandshake`] with
/// the status answered.
pub async fn server_handshake<S>(
    mut stream: S,
    local: SocketAddr,
    peer: SocketAddr,
    protocol: &str,
    cfg: &WsConfig,
) -> Result<WsConn<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = Instant::now() + cfg.handshake_timeout;
    let mut buf = Vec::new();
    let n = read_head(
        &mut stream,
        &mut buf,
        deadline,
        cfg.handshake_timeout,
        |b| {
            if ws::cannot_be_http(b, false) {
                return Err(WsError::NotHttp {
                    why: "an HTTP request starts with a method token and a space".into(),
                    received: b.to_vec(),
                });
            }
            http::next_frame(b, ws::HANDSHAKE_MAX).map_err(|e| WsError::NotHttp {
                why: e.to_string(),
                received: b.to_vec(),
            })
        },
    )
    .await;
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            if let WsError::NotHttp { why, .. } = &e {
                let answer = ws::refusal(400, "Bad Request", why);
                let _ = write_bounded(&mut stream, &answer, cfg.write_timeout).await;
            }
            let _ = tokio::time::timeout(cfg.write_timeout, stream.shutdown()).await;
            return Err(e);
        }
    };
    let checked = ws::read_request(&buf[..n]).and_then(|r| r.require(protocol).map(|()| r));
    let upgrade = match checked {
        Ok(r) => r,
        Err(error) => {
            let (status, reason) = ws::refusal_status(&error);
            let answer = ws::refusal(status, reason, &error.to_string());
            let _ = write_bounded(&mut stream, &answer, cfg.write_timeout).await;
            let _ = tokio::time::timeout(cfg.write_timeout, stream.shutdown()).await;
            return Err(WsError::BadHandshake {
                error,
                received: buf,
                answered: Some(status),
            });
        }
    };
    let response = ws::accept_response(&upgrade.key, Some(protocol));
    write_bounded(&mut stream, &response, cfg.write_timeout).await?;
    let rest = buf.split_off(n);
    let info = WsInfo {
        local,
        peer,
        side: Side::Server,
        protocol: Some(protocol.to_string()),
        request: buf,
        response,
    };
    Ok(WsConn::start(stream, info, rest, cfg))
}

// ---------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------

struct Writer<S> {
    wr: tokio::io::WriteHalf<S>,
    close_sent: bool,
    shut: bool,
}

/// The sending half: cheap to clone, usable from any task.
pub struct WsSender<S> {
    inner: Arc<tokio::sync::Mutex<Writer<S>>>,
    side: Side,
    write_timeout: Duration,
}

impl<S> Clone for WsSender<S> {
    fn clone(&self) -> Self {
        WsSender {
            inner: self.inner.clone(),
            side: self.side,
            write_timeout: self.write_timeout,
        }
    }
}

impl<S: AsyncWrite + Send> WsSender<S> {
    /// The masking key for a frame of ours: a fresh random one for a client
    /// (RFC 6455 §5.3), none for a server.
    fn mask(&self) -> Option<[u8; 4]> {
        (self.side == Side::Client).then(random)
    }

    /// One final frame carrying `payload` (masked when the harness is the
    /// client). Refused once the harness has sent Close (§5.5.1).
    pub async fn send(&self, opcode: Opcode, payload: &[u8]) -> Result<(), WsError> {
        let bytes = ws::encode_frame(opcode, payload, self.mask());
        self.write(&bytes, opcode == Opcode::Close).await
    }

    /// A SIP message as one WebSocket message, in a text frame when it is
    /// all UTF-8 and a binary one otherwise (RFC 7118 §4.2, §5).
    pub async fn send_sip(&self, message: &[u8]) -> Result<(), WsError> {
        self.send(ws::sip_opcode(message), message).await
    }

    /// A frame built as asked (bad ones included: a test of the peer). The
    /// masking key, when the spec has one, is used as given.
    pub async fn send_spec(&self, spec: FrameSpec, payload: &[u8]) -> Result<(), WsError> {
        self.write(&spec.encode(payload), spec.opcode == Opcode::Close)
            .await
    }

    /// Exactly these bytes, not checked (a test of the peer).
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), WsError> {
        self.write(bytes, false).await
    }

    /// A Close frame with this status and reason (none when `code` is None).
    pub async fn send_close(&self, code: Option<u16>, reason: &str) -> Result<(), WsError> {
        self.send(Opcode::Close, &ws::close_payload(code, reason))
            .await
    }

    /// Has the harness sent Close?
    pub async fn close_sent(&self) -> bool {
        self.inner.lock().await.close_sent
    }

    async fn write(&self, bytes: &[u8], is_close: bool) -> Result<(), WsError> {
        let mut w = self.inner.lock().await;
        if w.close_sent || w.shut {
            return Err(WsError::Closed);
        }
        if is_close {
            w.close_sent = true;
        }
        write_bounded(&mut w.wr, bytes, self.write_timeout).await
    }

    /// Ends the harness's sending side of the TCP connection (FIN).
    pub async fn shutdown(&self) {
        let mut w = self.inner.lock().await;
        if !w.shut {
            w.shut = true;
            let _ = tokio::time::timeout(self.write_timeout, w.wr.shutdown()).await;
        }
    }
}

/// The receiving half.
pub struct WsReader<S> {
    rd: tokio::io::ReadHalf<S>,
    buf: Vec<u8>,
    asm: Assembler,
    max: usize,
    /// The side the peer plays (whose frame rules apply).
    peer_side: Side,
    sender: WsSender<S>,
    close_received: bool,
    /// The harness failed the connection (a frame that broke RFC 6455).
    failed: bool,
    ended: bool,
}

impl<S: AsyncRead + AsyncWrite + Send> WsReader<S> {
    /// The next message or control frame, or `Ok(None)` at `deadline`. A
    /// Ping is answered with a Pong of the same payload (§5.5.2) before it
    /// is returned; a Close is answered with a Close of the same code
    /// (§5.5.1) and, when the harness is the server, the TCP connection is
    /// then closed (§7.1.1). A frame that breaks RFC 6455 fails the
    /// connection (§7.1.7): Close with 1002 (1007 for text that is not
    /// UTF-8, 1009 for a message over the limit), TCP closed,
    /// [`WsError::Frame`].
    pub async fn recv(&mut self, deadline: Instant) -> Result<Option<Message>, WsError> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if self.close_received || self.failed {
                return Err(WsError::Closed);
            }
            match ws::decode(&self.buf, self.peer_side, self.max) {
                Ok(Some((frame, n))) => {
                    let raw: Vec<u8> = self.buf.drain(..n).collect();
                    match self.asm.push(&frame) {
                        Ok(None) => continue,
                        Ok(Some(m)) => return self.answer(m).await.map(Some),
                        Err(error) => return Err(self.fail(error, raw).await),
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    let raw = self.buf.clone();
                    return Err(self.fail(error, raw).await);
                }
            }
            if self.ended {
                return Err(WsError::Ended {
                    pending: self.buf.clone(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rd.read(&mut chunk)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.ended = true;
                    self.sender.shutdown().await;
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn answer(&mut self, m: Message) -> Result<Message, WsError> {
        match &m {
            Message::Ping(p) => {
                // A Ping after the harness's Close goes unanswered (§5.5.2 asks
                // for a Pong only until the Close).
                match self.sender.send(Opcode::Pong, p).await {
                    Ok(()) | Err(WsError::Closed) => {}
                    Err(e) => return Err(e),
                }
            }
            Message::Close(body) => {
                self.close_received = true;
                let code = body.as_ref().map(|b| b.code);
                match self.sender.send_close(code, "").await {
                    Ok(()) | Err(WsError::Closed) => {}
                    Err(e) => return Err(e),
                }
                if self.peer_side == Side::Client {
                    self.sender.shutdown().await;
                }
            }
            _ => {}
        }
        Ok(m)
    }

    async fn fail(&mut self, error: FrameError, frame: Vec<u8>) -> WsError {
        let close_code = match error {
            FrameError::TextNotUtf8 { .. } | FrameError::CloseReasonNotUtf8 { .. } => {
                ws::CLOSE_INVALID_PAYLOAD
            }
            FrameError::TooLong { .. } | FrameError::MessageTooLong { .. } => ws::CLOSE_TOO_BIG,
            _ => ws::CLOSE_PROTOCOL_ERROR,
        };
        let _ = self.sender.send_close(Some(close_code), "").await;
        self.sender.shutdown().await;
        self.failed = true;
        self.buf.clear();
        WsError::Frame {
            error,
            frame: frame.into_iter().take(SHOW).collect(),
            close_code,
        }
    }
}

/// A WebSocket connection after its opening handshake.
pub struct WsConn<S> {
    pub reader: WsReader<S>,
    pub sender: WsSender<S>,
    pub info: WsInfo,
}

/// How a closing handshake went ([`WsConn::close`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseOutcome {
    /// The peer's Close: `Some(None)` for one without a status, `None` when
    /// none came before the deadline.
    pub peer_close: Option<Option<CloseBody>>,
    /// Messages that arrived after the harness's Close and before the peer's.
    pub late: Vec<Message>,
    /// Did the peer close the TCP connection (before the deadline)?
    pub peer_ended_tcp: bool,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> WsConn<S> {
    fn start(stream: S, info: WsInfo, rest: Vec<u8>, cfg: &WsConfig) -> WsConn<S> {
        let (rd, wr) = tokio::io::split(stream);
        let sender = WsSender {
            inner: Arc::new(tokio::sync::Mutex::new(Writer {
                wr,
                close_sent: false,
                shut: false,
            })),
            side: info.side,
            write_timeout: cfg.write_timeout,
        };
        let peer_side = match info.side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        WsConn {
            reader: WsReader {
                rd,
                buf: rest,
                asm: Assembler::new(cfg.max_message),
                max: cfg.max_message,
                peer_side,
                sender: sender.clone(),
                close_received: false,
                failed: false,
                ended: false,
            },
            sender,
            info,
        }
    }

    /// See [`WsSender::send`].
    pub async fn send(&self, opcode: Opcode, payload: &[u8]) -> Result<(), WsError> {
        self.sender.send(opcode, payload).await
    }

    /// See [`WsSender::send_sip`].
    pub async fn send_sip(&self, message: &[u8]) -> Result<(), WsError> {
        self.sender.send_sip(message).await
    }

    /// See [`WsReader::recv`].
    pub async fn recv(&mut self, deadline: Instant) -> Result<Option<Message>, WsError> {
        self.reader.recv(deadline).await
    }

    /// The next text or binary message, answering control frames on the
    /// way; `Ok(None)` at `deadline`; a Close from the peer is
    /// [`WsError::Closed`] once answered.
    pub async fn recv_data(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, WsError> {
        loop {
            match self.reader.recv(deadline).await? {
                None => return Ok(None),
                Some(Message::Text(t)) => return Ok(Some(t.into_bytes())),
                Some(Message::Binary(b)) => return Ok(Some(b)),
                Some(Message::Close(_)) => return Err(WsError::Closed),
                Some(Message::Ping(_) | Message::Pong(_)) => {}
            }
        }
    }

    /// The closing handshake started by the harness (§7.1.2): Close with
    /// `code` and `reason`, then the peer's Close awaited (messages before it
    /// kept in `late`) until `deadline`; then the server closes the TCP
    /// connection and a client waits for the server to close it first
    /// (§7.1.1), closing it itself at the deadline.
    pub async fn close(
        &mut self,
        code: Option<u16>,
        reason: &str,
        deadline: Instant,
    ) -> Result<CloseOutcome, WsError> {
        match self.sender.send_close(code, reason).await {
            Ok(()) | Err(WsError::Closed) => {}
            Err(e) => return Err(e),
        }
        let mut out = CloseOutcome {
            peer_close: None,
            late: Vec::new(),
            peer_ended_tcp: false,
        };
        loop {
            match self.reader.recv(deadline).await {
                Ok(Some(Message::Close(body))) => {
                    out.peer_close = Some(body);
                    break;
                }
                Ok(Some(m)) => out.late.push(m),
                Ok(None) | Err(WsError::Closed) => break,
                Err(WsError::Ended { .. }) => {
                    out.peer_ended_tcp = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if self.info.side == Side::Client && !out.peer_ended_tcp {
            // Wait for the server's FIN.
            let mut chunk = [0u8; 1024];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, self.reader.rd.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        out.peer_ended_tcp = true;
                        break;
                    }
                    Ok(Ok(_)) => continue,
                    Err(_) => break,
                }
            }
        }
        self.reader.ended = true;
        self.sender.shutdown().await;
        Ok(out)
    }
}
