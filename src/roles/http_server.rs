//! An HTTP listener the harness plays wherever a SUT makes HTTP requests to
//! it (a PPG's OTA-HTTP pushes, a push client's upper-tester reports, an MMS
//! client's fetches): it keeps every request exactly as it arrived, with its
//! arrival time, and answers each with what the role's responder returns.
//! Bytes that are not HTTP are kept too, with the reason; the connection
//! ends there. Judging is the steps' business.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// One request (or bytes that were not one) from the SUT.
#[derive(Debug, Clone)]
pub struct HttpArrival {
    pub at: Instant,
    pub bytes: Vec<u8>,
    pub msg: Result<HttpMessage, String>,
}

impl HttpArrival {
    pub fn describe(&self) -> String {
        match &self.msg {
            Ok(_) => format!("HTTP request — bytes: {}", escape_bytes(&self.bytes, 600)),
            Err(e) => format!(
                "not an HTTP request ({e}) — bytes: {}",
                escape_bytes(&self.bytes, 300)
            ),
        }
    }

    /// The request body (empty when the bytes were not a request).
    pub fn body(&self) -> &[u8] {
        self.msg.as_ref().map(|m| m.body.as_slice()).unwrap_or(&[])
    }

    /// The Content-Type header, trimmed.
    pub fn content_type(&self) -> Option<String> {
        self.msg
            .as_ref()
            .ok()?
            .header("Content-Type")
            .map(|v| v.trim().to_string())
    }
}

/// What the server answers to a request: the whole response bytes.
pub type Responder = Arc<dyn Fn(&HttpMessage) -> Vec<u8> + Send + Sync>;

/// A responder that answers every request 204 No Content.
pub fn no_content() -> Responder {
    Arc::new(|_| http::response(204, "No Content", &[], b""))
}

/// The listener.
pub struct HttpServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<HttpArrival>>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

/// An idle connection is dropped after this long; the SUT reconnects.
const IDLE: Duration = Duration::from_secs(60);

impl HttpServer {
    /// Listens at `addr` (loopback; port 0 picks one).
    pub async fn start(
        addr: SocketAddr,
        capture: Capture,
        responder: Responder,
    ) -> std::io::Result<HttpServer> {
        let listener = crate::net::listen_permitted(addr).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<HttpArrival>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (log, notify) = (log.clone(), notify.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(conn) = StreamConn::accepted(stream, capture.clone(), framer, 4 << 20)
                    else {
                        continue;
                    };
                    tokio::spawn(serve(conn, log.clone(), notify.clone(), responder.clone()));
                }
            })
        };
        Ok(HttpServer {
            addr,
            log,
            notify,
            task,
        })
    }

    /// Listens at `addr` for HTTP over TLS (RFC 2818): each connection's
    /// handshake with the server configuration `tls` holds at that moment
    /// (its records and secrets into `capture`), then requests as over
    /// plain TCP. A handshake that fails is kept as an arrival whose reason
    /// names what the peer did (plaintext where TLS was due, with its first
    /// bytes; an alert), so are connections that come while `tls` is empty.
    pub async fn start_tls(
        addr: SocketAddr,
        capture: Capture,
        responder: Responder,
        tls: Arc<Mutex<Option<crate::net::tls::TlsServer>>>,
    ) -> std::io::Result<HttpServer> {
        let listener = crate::net::listen_permitted(addr).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<HttpArrival>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (log, notify) = (log.clone(), notify.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    let server = tls.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let (log, notify, responder, capture) = (
                        log.clone(),
                        notify.clone(),
                        responder.clone(),
                        capture.clone(),
                    );
                    tokio::spawn(async move {
                        let failed = |bytes: Vec<u8>, why: String| {
                            log.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(HttpArrival {
                                    at: Instant::now(),
                                    bytes,
                                    msg: Err(why),
                                });
                            notify.notify_waiters();
                        };
                        let Some(server) = server else {
                            return failed(
                                Vec::new(),
                                "a connection to the TLS listener while the harness had no TLS configuration for it (no scenario was using it)".into(),
                            );
                        };
                        match server
                            .accept(stream, capture, crate::net::tls::HANDSHAKE_TIMEOUT)
                            .await
                        {
                            Ok(s) => {
                                let conn = StreamConn::over_tls(s, framer, 4 << 20);
                                serve(conn, log, notify, responder).await;
                            }
                            Err(e) => {
                                // Plaintext where TLS was due: its bytes are
                                // the arrival's (shown once, by describe).
                                match e {
                                    crate::net::tls::TlsError::NotTls { first_bytes } => failed(
                                        first_bytes,
                                        "a TLS handshake was due; the first bytes are not a TLS record (plaintext on the TLS port)".into(),
                                    ),
                                    e => failed(Vec::new(), format!("the TLS handshake failed: {e}")),
                                }
                            }
                        }
                    });
                }
            })
        };
        Ok(HttpServer {
            addr,
            log,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn log(&self) -> Vec<HttpArrival> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[HttpArrival]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.log()) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}

async fn serve(
    conn: StreamConn,
    log: Arc<Mutex<Vec<HttpArrival>>>,
    notify: Arc<Notify>,
    responder: Responder,
) {
    loop {
        let Some(a) = conn.recv(Instant::now() + IDLE).await else {
            return;
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
            let answer = msg.as_ref().ok().map(|m| responder(m));
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(HttpArrival {
                    at: a.at,
                    bytes,
                    msg,
                });
            notify.notify_waiters();
            if let Some(answer) = answer {
                let _ = conn.send(&answer).await;
            }
        }
        if last {
            notify.notify_waiters();
            return;
        }
    }
}
