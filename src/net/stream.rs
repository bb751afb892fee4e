//! A framed TCP connection for stream protocols (MSRP, SMPP, …): every byte
//! tapped into the capture (incoming bytes as one frame per framed message,
//! so a dissector that reads one message per segment sees them all; bytes
//! that never frame are captured when the stream ends or turns to garbage),
//! incoming bytes cut into messages by a sans-IO framer from the codec layer, everything that arrives kept in order with
//! its arrival time — including what could not be framed and the peer
//! closing the connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::capture::Capture;
use super::tls::{Negotiated, TlsStream};

/// The writing half of a connection: a TCP stream's (kept as such, so
/// that [`StreamConn::into_tcp`] can join it again), or a TLS stream's
/// plaintext; `Gone` once handed back.
enum WriteSide {
    Tcp(OwnedWriteHalf),
    Io(Box<dyn AsyncWrite + Send + Unpin>),
    Gone,
}

impl WriteSide {
    fn io(&mut self) -> std::io::Result<Pin<&mut (dyn AsyncWrite + Send + Unpin)>> {
        match self {
            WriteSide::Tcp(w) => Ok(Pin::new(w)),
            WriteSide::Io(w) => Ok(Pin::new(&mut **w)),
            WriteSide::Gone => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the connection was handed back (STARTTLS)",
            )),
        }
    }
}

/// The read half and the bytes read past the last framed message, handed
/// back by a reader that a hold stopped.
type Parked = (OwnedReadHalf, Vec<u8>);

/// A reader's hold: the flag its framer sets, and where it hands its read
/// half back.
type Hold<R> = (Arc<AtomicBool>, oneshot::Sender<(R, Vec<u8>)>);

/// Cuts one message off the front of a buffer: `Ok(Some(n))` = `n` bytes
/// form a message, `Ok(None)` = more bytes needed, `Err` = the stream cannot
/// be framed (the text says why).
pub type Framer = fn(&[u8], usize) -> Result<Option<usize>, String>;

/// What happened on a connection, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// One framed message, exactly as received.
    Message(Vec<u8>),
    /// Bytes that could not be framed, and why; reading stops after this.
    Garbage(Vec<u8>, String),
    /// The peer closed the connection (with any unframed bytes left over).
    Closed(Vec<u8>),
}

/// An event with its arrival time.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub event: StreamEvent,
}

/// A framed TCP connection (or TLS connection: [`StreamConn::over_tls`]).
pub struct StreamConn {
    writer: tokio::sync::Mutex<WriteSide>,
    local: SocketAddr,
    peer: SocketAddr,
    capture: Capture,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Arrival>>,
    reader: tokio::task::JoinHandle<()>,
    /// Bytes received but not (yet) framed: shown in verdicts, captured at the end.
    pending: Arc<std::sync::Mutex<Vec<u8>>>,
    /// Over TLS: what the handshake negotiated.
    tls: Option<Negotiated>,
    /// A reader stopped by its hold hands its half back here.
    parked: Option<oneshot::Receiver<Parked>>,
}

impl Drop for StreamConn {
    fn drop(&mut self) {
        self.reader.abort();
        let left = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !left.is_empty() {
            self.capture.tcp_received(self.peer, self.local, &left);
        }
    }
}

impl StreamConn {
    /// Connects to `dst` (bounded by `timeout`) and starts reading.
    pub async fn connect(
        dst: SocketAddr,
        capture: Capture,
        framer: Framer,
        max_len: usize,
        timeout: Duration,
    ) -> std::io::Result<StreamConn> {
        StreamConn::connect_held(dst, capture, framer, max_len, timeout, None).await
    }

    /// Like [`StreamConn::connect`], with a hold as in
    /// [`StreamConn::accepted_held`]: set before a command whose reply
    /// hands the connection over (SMTP's STARTTLS), the reader stops right
    /// after that reply, for [`StreamConn::into_tcp`].
    pub async fn connect_held(
        dst: SocketAddr,
        capture: Capture,
        framer: Framer,
        max_len: usize,
        timeout: Duration,
        hold: Option<Arc<AtomicBool>>,
    ) -> std::io::Result<StreamConn> {
        StreamConn::connect_via(None, dst, capture, framer, max_len, timeout, hold).await
    }

    /// Like [`StreamConn::connect`], from the local IP `src` (port 0): a
    /// role the SUT tells by its source address (an aggregation proxy the
    /// SUT trusts, a client it must not).
    pub async fn connect_from(
        src: std::net::IpAddr,
        dst: SocketAddr,
        capture: Capture,
        framer: Framer,
        max_len: usize,
        timeout: Duration,
    ) -> std::io::Result<StreamConn> {
        StreamConn::connect_via(Some(src), dst, capture, framer, max_len, timeout, None).await
    }

    async fn connect_via(
        src: Option<std::net::IpAddr>,
        dst: SocketAddr,
        capture: Capture,
        framer: Framer,
        max_len: usize,
        timeout: Duration,
        hold: Option<Arc<AtomicBool>>,
    ) -> std::io::Result<StreamConn> {
        if !super::permitted(dst.ip()) {
            return Err(super::not_permitted("connects to", dst.ip()));
        }
        if let Some(ip) = src
            && !super::permitted(ip)
        {
            return Err(super::not_permitted("binds", ip));
        }
        let open = async {
            match src {
                None => TcpStream::connect(dst).await,
                Some(ip) => {
                    let socket = if ip.is_ipv4() {
                        tokio::net::TcpSocket::new_v4()?
                    } else {
                        tokio::net::TcpSocket::new_v6()?
                    };
                    socket.bind(SocketAddr::new(ip, 0))?;
                    socket.connect(dst).await
                }
            }
        };
        let stream = tokio::time::timeout(timeout, open).await.map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("TCP connect to {dst} timed out"),
            )
        })??;
        let local = stream.local_addr()?;
        capture.tcp_connect(local, dst);
        Ok(StreamConn::start(
            stream, local, dst, capture, framer, max_len, hold,
        ))
    }

    /// Wraps a connection the harness accepted (the peer opened it).
    pub fn accepted(
        stream: TcpStream,
        capture: Capture,
        framer: Framer,
        max_len: usize,
    ) -> std::io::Result<StreamConn> {
        StreamConn::accepted_with(stream, capture, framer, max_len)
    }

    /// Like [`StreamConn::accepted`], with a framer that keeps state (a
    /// protocol whose framing depends on the dialogue, as SMTP's DATA does).
    pub fn accepted_with<F>(
        stream: TcpStream,
        capture: Capture,
        framer: F,
        max_len: usize,
    ) -> std::io::Result<StreamConn>
    where
        F: FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static,
    {
        StreamConn::accepted_held(stream, capture, framer, max_len, None)
    }

    /// Like [`StreamConn::accepted_with`]; when the framer sets `hold`
    /// (after cutting a message, e.g. SMTP's STARTTLS line), the reader
    /// stops right after that message and leaves what follows on the socket
    /// unread, for [`StreamConn::into_tcp`].
    pub fn accepted_held<F>(
        stream: TcpStream,
        capture: Capture,
        framer: F,
        max_len: usize,
        hold: Option<Arc<AtomicBool>>,
    ) -> std::io::Result<StreamConn>
    where
        F: FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static,
    {
        let local = stream.local_addr()?;
        let peer = stream.peer_addr()?;
        capture.tcp_accepted(peer, local);
        Ok(StreamConn::start(
            stream, local, peer, capture, framer, max_len, hold,
        ))
    }

    /// The TCP stream back, after a hold stopped the reader (see
    /// [`StreamConn::accepted_held`]), with the bytes that had been read
    /// past the held message (captured as received). Waits at most
    /// `timeout` for the reader; an error when there was no hold or the
    /// connection ended first.
    pub async fn into_tcp(mut self, timeout: Duration) -> std::io::Result<(TcpStream, Vec<u8>)> {
        let gone =
            |what: &str| std::io::Error::new(std::io::ErrorKind::NotConnected, what.to_string());
        let rx = self
            .parked
            .take()
            .ok_or_else(|| gone("no hold on this connection"))?;
        let (rd, left) = tokio::time::timeout(timeout, rx)
            .await
            .map_err(|_| gone("the reader did not stop"))?
            .map_err(|_| gone("the connection ended before the hold"))?;
        let wr = match std::mem::replace(&mut *self.writer.lock().await, WriteSide::Gone) {
            WriteSide::Tcp(w) => w,
            _ => return Err(gone("not a TCP connection")),
        };
        let tcp = rd
            .reunite(wr)
            .map_err(|_| gone("halves of two connections"))?;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        if !left.is_empty() {
            self.capture.tcp_received(self.peer, self.local, &left);
        }
        Ok((tcp, left))
    }

    /// A TLS connection whose handshake is done ([`super::tls::TlsServer::accept`],
    /// [`super::tls::TlsClient::connect`]), framed like a TCP one: the
    /// plaintext is framed, and the capture is the TLS stream's own (its
    /// records and secrets, written by its tap), so this connection writes
    /// no frame itself.
    pub fn over_tls<F>(stream: TlsStream, framer: F, max_len: usize) -> StreamConn
    where
        F: FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static,
    {
        let (local, peer) = (stream.local(), stream.peer());
        let negotiated = stream.negotiated.clone();
        let (rd, wr) = tokio::io::split(stream);
        let mut conn = StreamConn::start_io(
            rd,
            WriteSide::Io(Box::new(wr)),
            local,
            peer,
            Capture::disabled(),
            framer,
            max_len,
            None,
        );
        conn.tls = Some(negotiated);
        conn
    }

    /// What the TLS handshake negotiated (None over plain TCP).
    pub fn tls(&self) -> Option<&Negotiated> {
        self.tls.as_ref()
    }

    fn start<F>(
        stream: TcpStream,
        local: SocketAddr,
        peer: SocketAddr,
        capture: Capture,
        framer: F,
        max_len: usize,
        hold: Option<Arc<AtomicBool>>,
    ) -> StreamConn
    where
        F: FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static,
    {
        let (rd, wr) = stream.into_split();
        let (park, parked) = match hold {
            Some(h) => {
                let (t, r) = oneshot::channel();
                (Some((h, t)), Some(r))
            }
            None => (None, None),
        };
        let mut conn = StreamConn::start_io(
            rd,
            WriteSide::Tcp(wr),
            local,
            peer,
            capture,
            framer,
            max_len,
            park,
        );
        conn.parked = parked;
        conn
    }

    #[allow(clippy::too_many_arguments)]
    fn start_io<F, R>(
        mut rd: R,
        wr: WriteSide,
        local: SocketAddr,
        peer: SocketAddr,
        capture: Capture,
        mut framer: F,
        max_len: usize,
        park: Option<Hold<R>>,
    ) -> StreamConn
    where
        F: FnMut(&[u8], usize) -> Result<Option<usize>, String> + Send + 'static,
        R: AsyncRead + Send + Unpin + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let cap = capture.clone();
        let pending: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
        let mirror = pending.clone();
        let set_pending = move |b: &[u8]| {
            let mut p = mirror.lock().unwrap_or_else(|e| e.into_inner());
            p.clear();
            p.extend_from_slice(b);
        };
        let reader = tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => {
                        set_pending(&[]);
                        if !buf.is_empty() {
                            cap.tcp_received(peer, local, &buf);
                        }
                        cap.tcp_close(peer, local);
                        let _ = tx.send(Arrival {
                            at: Instant::now(),
                            event: StreamEvent::Closed(std::mem::take(&mut buf)),
                        });
                        return;
                    }
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match framer(&buf, max_len) {
                        Ok(None) => {
                            set_pending(&buf);
                            break;
                        }
                        Ok(Some(len)) => {
                            let len = len.clamp(1, buf.len());
                            let msg: Vec<u8> = buf.drain(..len).collect();
                            // One frame per message in the pcap: every byte is
                            // captured, cut where the protocol cuts it.
                            cap.tcp_received(peer, local, &msg);
                            let _ = tx.send(Arrival {
                                at: Instant::now(),
                                event: StreamEvent::Message(msg),
                            });
                            if let Some((h, _)) = &park
                                && h.load(Ordering::SeqCst)
                            {
                                // Held: the rest stays on the socket.
                                set_pending(&buf);
                                if let Some((_, back)) = park {
                                    let _ = back.send((rd, buf));
                                }
                                return;
                            }
                        }
                        Err(why) => {
                            set_pending(&[]);
                            cap.tcp_received(peer, local, &buf);
                            let _ = tx.send(Arrival {
                                at: Instant::now(),
                                event: StreamEvent::Garbage(std::mem::take(&mut buf), why),
                            });
                            return;
                        }
                    }
                }
            }
        });
        StreamConn {
            writer: tokio::sync::Mutex::new(wr),
            local,
            peer,
            capture,
            rx: tokio::sync::Mutex::new(rx),
            reader,
            pending,
            tls: None,
            parked: None,
        }
    }

    /// Bytes received but not framed (so far): a message without its end.
    pub fn pending(&self) -> Vec<u8> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Sends exactly `bytes` (bounded: 3 s).
    pub async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut w = self.writer.lock().await;
        // Captured before the write, so a fast answer can never appear before it.
        self.capture.tcp_sent(self.local, self.peer, bytes);
        tokio::time::timeout(Duration::from_secs(3), async {
            let mut io = w.io()?;
            io.write_all(bytes).await?;
            // A TLS stream holds its records until flushed.
            io.flush().await
        })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TCP write timed out"))??;
        Ok(())
    }

    /// The next arrival, or None at `deadline`.
    pub async fn recv(&self, deadline: Instant) -> Option<Arrival> {
        let mut rx = self.rx.lock().await;
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, rx.recv()).await.ok().flatten()
    }

    /// Closes the harness's sending side (FIN).
    pub async fn shutdown(&self) {
        let mut w = self.writer.lock().await;
        if let Ok(mut io) = w.io() {
            let _ = io.shutdown().await;
        }
        self.capture.tcp_close(self.local, self.peer);
    }
}
