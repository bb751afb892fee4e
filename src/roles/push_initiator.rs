//! The harness as Push Initiator (WAP-247 PAP over HTTP): it POSTs exactly the
//! bytes a scenario asks for to the PPG's PAP URL over a fresh TCP connection
//! and keeps whatever comes back — an HTTP response, bytes that are not HTTP,
//! a closed connection or nothing — with the raw bytes for the verdict.

use std::net::SocketAddr;
use std::time::Instant;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// The largest answer the harness reads from a PPG.
const MAX_ANSWER: usize = 1 << 20;

/// What the PPG did with a submission.
#[derive(Debug, Clone)]
pub enum PiOutcome {
    /// An HTTP response, as received.
    Answered(HttpMessage),
    /// Bytes that are not an HTTP response, and why.
    NotHttp { bytes: Vec<u8>, why: String },
    /// The PPG closed the connection before a whole response (bytes that came).
    Closed(Vec<u8>),
    /// Nothing whole within the deadline (bytes that came).
    Timeout(Vec<u8>),
    /// The TCP connection could not be made.
    ConnectFailed(String),
}

impl PiOutcome {
    pub fn response(&self) -> Option<&HttpMessage> {
        match self {
            PiOutcome::Answered(m) => Some(m),
            _ => None,
        }
    }

    /// One line for a verdict, with the bytes.
    pub fn describe(&self) -> String {
        match self {
            PiOutcome::Answered(m) => {
                format!("HTTP response — bytes: {}", escape_bytes(m.raw(), 600))
            }
            PiOutcome::NotHttp { bytes, why } => {
                format!(
                    "an answer that is not HTTP ({why}) — bytes: {}",
                    escape_bytes(bytes, 400)
                )
            }
            PiOutcome::Closed(b) if b.is_empty() => {
                "the PPG closed the connection without answering".into()
            }
            PiOutcome::Closed(b) => format!(
                "the PPG closed the connection after an incomplete answer — bytes: {}",
                escape_bytes(b, 400)
            ),
            PiOutcome::Timeout(b) if b.is_empty() => "no answer before the deadline".into(),
            PiOutcome::Timeout(b) => format!(
                "no complete answer before the deadline — bytes: {}",
                escape_bytes(b, 400)
            ),
            PiOutcome::ConnectFailed(e) => format!("no connection to the PPG ({e})"),
        }
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

/// Sends `request` (whole HTTP request bytes) to `ppg` and waits for the
/// answer until `deadline`. Then it closes its side and keeps reading for up
/// to `linger` (or until the PPG closes too, which a PPG that honours the
/// close does at once): whatever else comes on the connection is returned
/// beside the answer, framed as HTTP where it can be, so a second answer to
/// the one submission is seen.
///
/// With `tls` (a client and the name to check), over HTTPS (RFC 2818): the
/// TLS handshake first, the PPG's certificate checked as the client says;
/// one that fails is [`PiOutcome::ConnectFailed`] naming what the PPG did.
pub async fn submit(
    ppg: SocketAddr,
    capture: Capture,
    request: &[u8],
    deadline: Instant,
    linger: std::time::Duration,
    tls: Option<(&crate::net::tls::TlsClient, &str)>,
) -> (PiOutcome, Vec<Vec<u8>>) {
    let left = deadline.saturating_duration_since(Instant::now());
    let conn = match tls {
        None => match StreamConn::connect(ppg, capture, framer, MAX_ANSWER, left).await {
            Ok(c) => c,
            Err(e) => return (PiOutcome::ConnectFailed(e.to_string()), Vec::new()),
        },
        Some((client, name)) => match connect_tls(ppg, capture, client, name, left).await {
            Ok(c) => c,
            Err(e) => return (PiOutcome::ConnectFailed(e), Vec::new()),
        },
    };
    if let Err(e) = conn.send(request).await {
        return (
            PiOutcome::ConnectFailed(format!("sending the request failed: {e}")),
            Vec::new(),
        );
    }
    let out = match conn.recv(deadline).await {
        Some(a) => match a.event {
            StreamEvent::Message(b) => match HttpMessage::parse(&b) {
                Ok(m) if m.status().is_some() => PiOutcome::Answered(m),
                Ok(_) => PiOutcome::NotHttp {
                    bytes: b,
                    why: "a request, not a response".into(),
                },
                Err(e) => PiOutcome::NotHttp {
                    bytes: b,
                    why: e.to_string(),
                },
            },
            StreamEvent::Garbage(b, why) => PiOutcome::NotHttp { bytes: b, why },
            // A response without a length ends with the connection.
            StreamEvent::Closed(b) => match HttpMessage::parse_at_close(&b) {
                Ok(m) if m.status().is_some() && !b.is_empty() => PiOutcome::Answered(m),
                _ => PiOutcome::Closed(b),
            },
        },
        None => PiOutcome::Timeout(conn.pending()),
    };
    conn.shutdown().await;
    let mut later = Vec::new();
    if matches!(out, PiOutcome::Answered(_)) {
        let until = (Instant::now() + linger).min(deadline);
        while let Some(a) = conn.recv(until).await {
            match a.event {
                StreamEvent::Message(b) => later.push(b),
                StreamEvent::Garbage(b, _) | StreamEvent::Closed(b) => {
                    if !b.is_empty() {
                        later.push(b);
                    }
                    break;
                }
            }
        }
    }
    (out, later)
}

/// A TLS connection to the PPG, framed as HTTP: TCP, then the handshake
/// (both within `left`), its records and secrets in `capture`.
async fn connect_tls(
    ppg: SocketAddr,
    capture: Capture,
    client: &crate::net::tls::TlsClient,
    name: &str,
    left: std::time::Duration,
) -> Result<StreamConn, String> {
    if !crate::net::permitted(ppg.ip()) {
        return Err(crate::net::not_permitted("connects to", ppg.ip()).to_string());
    }
    let tcp = tokio::time::timeout(left, tokio::net::TcpStream::connect(ppg))
        .await
        .map_err(|_| format!("connecting to {ppg} timed out"))?
        .map_err(|e| format!("connecting to {ppg}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let timeout = left.min(crate::net::tls::HANDSHAKE_TIMEOUT);
    let stream = client
        .connect(tcp, name, capture, timeout)
        .await
        .map_err(|e| format!("the TLS handshake with the PPG for `{name}` failed: {e}"))?;
    Ok(StreamConn::over_tls(stream, framer, MAX_ANSWER))
}

/// The bytes of a PAP submission: POST `path` with the multipart/related
/// envelope (PAP document, then the content with its headers).
pub fn pap_request(
    host: SocketAddr,
    path: &str,
    boundary: &str,
    pap_xml: &str,
    content_headers: &[(&str, &str)],
    content: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: application/xml\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(pap_xml.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    for (k, v) in content_headers {
        body.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/related; boundary={boundary}; type=\"application/xml\"");
    http::request(
        "POST",
        path,
        &host.to_string(),
        &[("Content-Type", ct.as_str())],
        &body,
    )
}
