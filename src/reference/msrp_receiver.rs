//! Reference MSRP receiving endpoint (RFC 4975) behind the reference
//! `im-client`: sessions are set up by INVITE/SDP (see `im_client`); this
//! side accepts the TCP connection and receives SEND chunks.
//!
//! - Failure-Report (default yes, §5.3): `yes` → every chunk answered at once
//!   (200 or an error); `partial` → errors only; `no` → no response.
//! - Success-Report (default no): `yes` → after the 200 to the final (`$`)
//!   chunk of a complete message, one REPORT `000 200` with Byte-Range 1-N/N
//!   (§7.1.2). For an aborted (`#`) message, a success REPORT may only cover
//!   the bytes received.
//! - Errors: 481 for a To-Path naming no session, 415 for a Content-Type
//!   other than the accepted ones, 413 for a message larger than
//!   [`MAX_MESSAGE`]; never a success REPORT for such a message.
//! - MSRP over TLS (RFC 4975 §8.1, §14.2): an offer of `TCP/TLS/MSRP` is
//!   answered with an `msrps:` path on the same port ([`answer_url`]); the
//!   listener tells a TLS connection by its first byte (a handshake record,
//!   0x16) and runs rustls over it ([`Settings::tls`]). A SEND names its
//!   session by the URL it was given, scheme included, so a plaintext
//!   connection reaches only `msrp:` sessions and a TLS one only `msrps:`
//!   ones: anything else is a session that does not exist here (481).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::Settings;
use crate::codec::msrp::{self, ByteRange, EndFlag, MsrpMessage, Reassembly};

/// The largest message the reference client takes (413 beyond).
pub const MAX_MESSAGE: u64 = 64 * 1024;

/// Accepted MSRP content types.
pub const ACCEPT: &[&str] = &["text/plain"];

/// Sessions known to the receiver: session id → our URL.
pub type Sessions = Arc<Mutex<HashMap<String, String>>>;

use super::lock;

#[derive(Default)]
struct MessageState {
    reassembly: Reassembly,
    rejected: Option<(u16, &'static str)>,
    reported: bool,
}

/// Per-connection receiver state.
struct Conn {
    settings: Settings,
    /// The connection runs TLS.
    tls: bool,
    sessions: Sessions,
    messages: HashMap<String, MessageState>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    /// Chunk responses held back (fault `deferred-responses`).
    held: Vec<Vec<u8>>,
}

impl Conn {
    fn send(&self, bytes: Vec<u8>) {
        let bytes = if self.settings.has_fault("msrp-no-end-line") {
            // Everything up to the end-line, never the end-line itself.
            match bytes.windows(8).rposition(|w| w == b"\n-------") {
                Some(i) => bytes[..=i].to_vec(),
                None => bytes,
            }
        } else {
            bytes
        };
        let _ = self.out.send(bytes);
    }

    fn handle(&mut self, raw: &[u8]) {
        let Ok(m) = MsrpMessage::parse(raw) else {
            return;
        };
        if m.method() != Some("SEND") {
            return; // REPORTs get no response (§7.1.2); responses are not ours to answer
        }
        let s = self.settings.clone();
        if s.has_fault("msrp-closes-mid-chunk") {
            // An empty write asks the writer to close the connection.
            let _ = self.out.send(Vec::new());
            return;
        }
        let fr = m.failure_report().unwrap_or_else(|| "yes".into());
        let sr = m.success_report().unwrap_or_else(|| "no".into());
        let own = m.to_path().first().cloned().unwrap_or_default();
        let session = crate::codec::msrp::url_session(&own).unwrap_or_default();
        // A session is reached by the scheme it was given: an msrps session
        // never over plaintext, an msrp one never over TLS.
        let known = lock(&self.sessions)
            .get(&session)
            .is_some_and(|url| msrp::url_is_secure(url) == self.tls);
        let respond = |me: &mut Conn, code: u16, phrase: &str| {
            let ok = code == 200;
            if fr == "no" || (fr == "partial" && ok && !s.has_fault("msrp-200-for-partial")) {
                return;
            }
            let bytes = msrp::response_to(&m, code, phrase, &own);
            if ok && s.has_fault("msrp-deferred-responses") && m.flag() == EndFlag::More {
                me.held.push(bytes);
            } else {
                if ok && m.flag() != EndFlag::More {
                    for h in std::mem::take(&mut me.held) {
                        me.send(h);
                    }
                }
                me.send(bytes);
            }
            if s.has_fault("msrp-second-response") {
                // The same transaction answered again, 50 ms later, with the
                // opposite verdict (RFC 4975 §7.1: one response per transaction).
                let again = if ok {
                    msrp::response_to(&m, 400, "Bad Request", &own)
                } else {
                    msrp::response_to(&m, 200, "OK", &own)
                };
                let out = me.out.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let _ = out.send(again);
                });
            }
        };
        if !known && !s.has_fault("msrp-ignores-session") {
            return respond(self, 481, "Session Does Not Exist");
        }
        let id = m.message_id().unwrap_or_default().to_string();
        let state = self.messages.entry(id.clone()).or_default();
        if state.rejected.is_none() {
            if let Some(ct) = m.content_type()
                && !ACCEPT.contains(&ct.as_str())
                && !s.has_fault("msrp-415-as-200")
            {
                state.rejected = Some((415, "Unsupported Media Type"));
            }
            let total = m.byte_range().and_then(|r| r.ok()).and_then(|r| r.total);
            if total.is_some_and(|t| t > MAX_MESSAGE) && !s.has_fault("msrp-no-413") {
                state.rejected = Some((413, "Message Too Large"));
            }
        }
        if let Some((code, phrase)) = state.rejected {
            if s.has_fault("msrp-report-on-failure")
                && code == 415
                && sr == "yes"
                && !state.reported
            {
                state.reported = true;
                let range = m.byte_range().and_then(|r| r.ok()).unwrap_or(ByteRange {
                    start: 1,
                    end: None,
                    total: None,
                });
                let report = msrp::report_for(&m, &own, &msrp::new_tid(), range, 200, "OK");
                respond(self, code, phrase);
                self.send(report);
                return;
            }
            return respond(self, code, phrase);
        }
        if state.reassembly.push(&m).is_err() {
            return respond(self, 400, "Bad Request");
        }
        let complete = state.reassembly.is_complete();
        let aborted = m.flag() == EndFlag::Abort;
        let received = state.reassembly.received();
        let total = m.byte_range().and_then(|r| r.ok()).and_then(|r| r.total);
        if sr == "yes" && s.has_fault("msrp-chunk-reports-early") {
            // One success REPORT per chunk, each sent before that chunk's 200.
            if let Some(Ok(r)) = m.byte_range() {
                self.send(msrp::report_for(&m, &own, &msrp::new_tid(), r, 200, "OK"));
            }
            return respond(self, 200, "OK");
        }
        let want_report = sr == "yes" || s.has_fault("msrp-unrequested-report");
        let mut report: Option<ByteRange> = None;
        if want_report && !state.reported {
            if complete {
                let n = received;
                report = Some(ByteRange {
                    // Fault: a REPORT for the final chunk's bytes only, none for the rest.
                    start: match m.byte_range() {
                        Some(Ok(r)) if s.has_fault("msrp-partial-report") => r.start,
                        _ => 1,
                    },
                    end: Some(n),
                    // Fault: a total that disagrees with the message.
                    total: Some(if s.has_fault("msrp-wrong-byte-range") {
                        n + 1
                    } else {
                        n
                    }),
                });
            } else if aborted {
                report = Some(if s.has_fault("msrp-aborted-as-complete") {
                    let t = total.unwrap_or(received);
                    ByteRange {
                        start: 1,
                        end: Some(t),
                        total: Some(t),
                    }
                } else {
                    // Only what was received (the total stays as the sender declared it).
                    ByteRange {
                        start: 1,
                        end: Some(received),
                        total,
                    }
                });
            }
        }
        if report.is_some() {
            state.reported = true;
        }
        if m.flag() == EndFlag::Complete && s.has_fault("msrp-no-final-200") {
            return;
        }
        let report_bytes = report.map(|r| {
            let bytes = msrp::report_for(&m, &own, &msrp::new_tid(), r, 200, "OK");
            if s.has_fault("msrp-report-headers") {
                // Fault: the REPORT carries the two header fields RFC 4975
                // §7.1.2 keeps out of it, right after the start line.
                with_fields(&bytes, "Success-Report: yes\r\nFailure-Report: yes\r\n")
            } else {
                bytes
            }
        });
        if let (Some(r), true) = (&report_bytes, s.has_fault("msrp-report-before-200")) {
            self.send(r.clone());
            respond(self, 200, "OK");
            return;
        }
        respond(self, 200, "OK");
        if let Some(r) = report_bytes {
            self.send(r);
        }
    }
}

/// `bytes` with `fields` (complete header lines) inserted after the start line.
fn with_fields(bytes: &[u8], fields: &str) -> Vec<u8> {
    match bytes.windows(2).position(|w| w == b"\r\n") {
        Some(i) => [&bytes[..i + 2], fields.as_bytes(), &bytes[i + 2..]].concat(),
        None => bytes.to_vec(),
    }
}

/// Starts the MSRP listener: plaintext, and TLS for connections that open
/// with a TLS handshake record when the role has TLS material.
pub fn start(
    listener: TcpListener,
    sessions: Sessions,
    settings: Settings,
) -> tokio::task::JoinHandle<()> {
    let acceptor = settings
        .tls
        .as_ref()
        .and_then(|t| t.server_config().ok())
        .map(tokio_rustls::TlsAcceptor::from);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (settings, sessions, acceptor) =
                (settings.clone(), sessions.clone(), acceptor.clone());
            tokio::spawn(async move {
                // Peek (bounded) at the first byte: 0x16 opens a TLS handshake.
                let mut first = [0u8; 1];
                let peeked = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    stream.peek(&mut first),
                )
                .await;
                let Ok(Ok(1)) = peeked else { return };
                let tls = first[0] == 0x16 && !settings.has_fault("msrps-plain-port");
                match (tls, acceptor) {
                    (true, Some(acceptor)) => {
                        let Ok(Ok(s)) = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            acceptor.accept(stream),
                        )
                        .await
                        else {
                            return;
                        };
                        let (rd, wr) = tokio::io::split(s);
                        serve(rd, wr, true, sessions, settings).await;
                    }
                    (true, None) => {}
                    (false, _) => {
                        let (rd, wr) = stream.into_split();
                        serve(rd, wr, false, sessions, settings).await;
                    }
                }
            });
        }
    })
}

/// Serves one connection (plaintext or TLS) until it ends.
async fn serve<R, W>(rd: R, mut wr: W, tls: bool, sessions: Sessions, settings: Settings)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if b.is_empty() {
                let _ = wr.shutdown().await;
                return;
            }
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
    });
    let mut conn = Conn {
        settings,
        tls,
        sessions,
        messages: HashMap::new(),
        out: tx,
        held: Vec::new(),
    };
    read_msrp(rd, move |raw| conn.handle(&raw)).await;
}

/// Reads a framed MSRP stream, calling `on_msg` per message; stops on garbage.
pub(super) async fn read_msrp<R: tokio::io::AsyncRead + Unpin, F: FnMut(Vec<u8>)>(
    mut rd: R,
    mut on_msg: F,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match msrp::next_frame(&buf, 4 * 1024 * 1024) {
                Ok(None) => break,
                Ok(Some(len)) => {
                    let len = len.clamp(1, buf.len());
                    on_msg(buf.drain(..len).collect());
                }
                Err(_) => return,
            }
        }
    }
}

/// The URL to answer an MSRP offer with (RFC 4975 §8): `msrps:` when the
/// offer's `m=` line is `TCP/TLS/MSRP` (§8.1, §14.2), `msrp:` otherwise;
/// None when TLS is offered and the role has no TLS material (the offer is
/// then refused). The answer's SDP follows the URL's scheme
/// ([`crate::codec::sdp::SessionBuilder`]).
pub fn answer_url(
    addr: SocketAddr,
    session: &str,
    offer: Option<&crate::codec::sdp::Media>,
    settings: &Settings,
) -> Option<String> {
    let tls = offer.is_some_and(|m| m.is_msrp_tls());
    if !tls || settings.has_fault("msrps-answered-plain") {
        return Some(url(addr, session));
    }
    settings.tls.as_ref()?;
    Some(crate::codec::sdp::msrps_url(addr, session))
}

/// The faults of the MSRP receiving side of the reference im-client (over
/// TLS); the rest are in `im_client::FAULTS`.
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "im-client",
        name: "msrps-answered-plain",
        description: "answers an offer of MSRP over TLS (TCP/TLS/MSRP, msrps: path) with TCP/MSRP and an msrp: path, to be reached in the clear",
        breaks: &["DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrps-plain-port",
        description: "answers an MSRP-over-TLS offer with an msrps: path but speaks only plaintext MSRP on that port (a ClientHello is unframeable: it closes)",
        breaks: &["DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// Our MSRP URL for a session.
pub fn url(addr: SocketAddr, session: &str) -> String {
    crate::codec::sdp::msrp_url(addr, session)
}
