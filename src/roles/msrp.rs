//! The harness's MSRP endpoint (RFC 4975): sends SEND chunks over a framed
//! TCP connection and keeps, in arrival order, everything the peer sends —
//! transaction responses, REPORTs, SENDs, garbage, the connection closing —
//! so steps can judge order ("REPORT after the 200 to the last chunk") and
//! absence ("no success REPORT") over the exact bytes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::msrp::{self, ByteRange, EndFlag, MsrpMessage};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::net::tls::{Negotiated, TlsClient, TlsError};

/// Why an MSRP connection over TLS did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsrpTlsError {
    /// No address to connect to, or the TCP connection failed.
    Setup { what: String },
    /// The TLS handshake failed: what the peer did (plaintext where TLS
    /// was due, an alert, a certificate the harness refused, …).
    Handshake(TlsError),
}

impl std::fmt::Display for MsrpTlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MsrpTlsError::Setup { what } => f.write_str(what),
            MsrpTlsError::Handshake(e) => write!(f, "{e}"),
        }
    }
}

/// Largest MSRP message the harness accepts from a peer.
pub const MAX_MSRP_MESSAGE: usize = 4 * 1024 * 1024;

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    msrp::next_frame(buf, max).map_err(|e| e.to_string())
}

/// One thing the peer sent.
#[derive(Debug, Clone)]
pub struct MsrpArrival {
    pub at: Instant,
    /// Position in arrival order (0-based).
    pub seq: usize,
    pub event: StreamEvent,
    pub msg: Option<Result<MsrpMessage, msrp::MsrpError>>,
}

impl MsrpArrival {
    pub fn message(&self) -> Option<&MsrpMessage> {
        self.msg.as_ref().and_then(|m| m.as_ref().ok())
    }

    /// One line for verdicts, with the bytes.
    pub fn describe(&self) -> String {
        let bytes = match &self.event {
            StreamEvent::Message(b) | StreamEvent::Garbage(b, _) | StreamEvent::Closed(b) => b,
        };
        let what = match (&self.event, &self.msg) {
            (StreamEvent::Closed(_), _) => "the peer closed the connection".to_string(),
            (StreamEvent::Garbage(_, why), _) => format!("unframeable bytes ({why})"),
            (_, Some(Ok(m))) => m.summary(),
            (_, Some(Err(e))) => format!("unparseable MSRP: {e}"),
            (_, None) => "?".into(),
        };
        format!("{what} — bytes: {}", crate::codec::escape_bytes(bytes, 300))
    }
}

/// A chunk the harness sent.
#[derive(Debug, Clone)]
pub struct SentChunk {
    pub tid: String,
    pub message_id: String,
    pub range: ByteRange,
    pub flag: EndFlag,
    pub at: Instant,
    pub bytes: Vec<u8>,
}

/// The harness side of one MSRP session.
pub struct MsrpPeer {
    conn: Arc<StreamConn>,
    /// Our MSRP URL (From-Path).
    pub local_url: String,
    /// The peer's MSRP URL (To-Path), from its SDP.
    pub remote_url: String,
    log: Arc<Mutex<Vec<MsrpArrival>>>,
    notify: Arc<Notify>,
    pump: tokio::task::JoinHandle<()>,
    /// Chunks sent, in order.
    pub sent: Mutex<Vec<SentChunk>>,
}

impl Drop for MsrpPeer {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

use crate::net::lock;

impl MsrpPeer {
    /// Opens the TCP connection to the peer's MSRP URL (the offerer is the
    /// active side, RFC 4975 §5.4) and starts logging what arrives.
    /// `local_url` is the URL the harness put in its SDP a=path (From-Path).
    pub async fn connect(
        remote_url: &str,
        local_url: &str,
        capture: Capture,
    ) -> Result<MsrpPeer, String> {
        let addr = msrp::url_addr(remote_url)
            .ok_or_else(|| format!("no host:port in MSRP URL `{remote_url}`"))?;
        let conn = StreamConn::connect(
            addr,
            capture,
            framer,
            MAX_MSRP_MESSAGE,
            Duration::from_secs(3),
        )
        .await
        .map_err(|e| format!("cannot open the MSRP connection to {addr}: {e}"))?;
        Ok(MsrpPeer::start(conn, remote_url, local_url))
    }

    /// Opens a TLS connection to the peer's `msrps:` URL (RFC 4975 §14.2):
    /// the TCP connection, then the handshake as `client` (checking the
    /// peer's certificate as the profile says, by `server_name`), the
    /// records and secrets going into `capture`; then as [`MsrpPeer::connect`].
    pub async fn connect_tls(
        remote_url: &str,
        local_url: &str,
        capture: Capture,
        client: &TlsClient,
        server_name: &str,
    ) -> Result<MsrpPeer, MsrpTlsError> {
        let addr = msrp::url_addr(remote_url).ok_or_else(|| MsrpTlsError::Setup {
            what: format!("no host:port in MSRP URL `{remote_url}`"),
        })?;
        if !crate::net::permitted(addr.ip()) {
            return Err(MsrpTlsError::Setup {
                what: crate::net::not_permitted("connects to", addr.ip()).to_string(),
            });
        }
        let timeout = crate::net::tls::HANDSHAKE_TIMEOUT;
        let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| MsrpTlsError::Setup {
                what: format!("the TCP connect to {addr} timed out"),
            })?
            .map_err(|e| MsrpTlsError::Setup {
                what: format!("cannot open the MSRP connection to {addr}: {e}"),
            })?;
        let _ = tcp.set_nodelay(true);
        let stream = client
            .connect(tcp, server_name, capture, timeout)
            .await
            .map_err(MsrpTlsError::Handshake)?;
        let conn = StreamConn::over_tls(stream, framer, MAX_MSRP_MESSAGE);
        Ok(MsrpPeer::start(conn, remote_url, local_url))
    }

    /// Takes the TLS connection a peer opens to the harness's `msrps:` URL
    /// (`local_url`, bound by `listener`): the first TCP connection before
    /// `until`, then the handshake as `server`, the records and secrets
    /// going into `capture`; then as [`MsrpPeer::connect`]. A peer that
    /// speaks plaintext is [`TlsError::NotTls`] with its first bytes.
    pub async fn accept_tls(
        listener: &tokio::net::TcpListener,
        local_url: &str,
        capture: Capture,
        server: &crate::net::tls::TlsServer,
        until: Instant,
    ) -> Result<MsrpPeer, MsrpTlsError> {
        let left = until.saturating_duration_since(Instant::now());
        let (tcp, from) = tokio::time::timeout(left, listener.accept())
            .await
            .map_err(|_| MsrpTlsError::Setup {
                what: format!(
                    "no connection to {local_url} within {} ms",
                    left.as_millis()
                ),
            })?
            .map_err(|e| MsrpTlsError::Setup {
                what: format!("accepting a connection to {local_url} failed: {e}"),
            })?;
        let _ = tcp.set_nodelay(true);
        let stream = server
            .accept(tcp, capture, crate::net::tls::HANDSHAKE_TIMEOUT)
            .await
            .map_err(MsrpTlsError::Handshake)?;
        let conn = StreamConn::over_tls(stream, framer, MAX_MSRP_MESSAGE);
        Ok(MsrpPeer::start(conn, &format!("{from}"), local_url))
    }

    /// What the TLS handshake negotiated, over TLS.
    pub fn tls(&self) -> Option<&Negotiated> {
        self.conn.tls()
    }

    fn start(conn: StreamConn, remote_url: &str, local_url: &str) -> MsrpPeer {
        let local_url = local_url.to_string();
        let conn = Arc::new(conn);
        let log: Arc<Mutex<Vec<MsrpArrival>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let pump = {
            let (conn, log, notify) = (conn.clone(), log.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(a) = conn.recv(Instant::now() + Duration::from_secs(3600)).await
                    else {
                        continue;
                    };
                    let msg = match &a.event {
                        StreamEvent::Message(b) => Some(MsrpMessage::parse(b)),
                        _ => None,
                    };
                    let last = !matches!(a.event, StreamEvent::Message(_));
                    {
                        let mut l = lock(&log);
                        let seq = l.len();
                        l.push(MsrpArrival {
                            at: a.at,
                            seq,
                            event: a.event,
                            msg,
                        });
                    }
                    notify.notify_waiters();
                    if last {
                        return;
                    }
                }
            })
        };
        MsrpPeer {
            conn,
            local_url,
            remote_url: remote_url.to_string(),
            log,
            notify,
            pump,
            sent: Mutex::new(Vec::new()),
        }
    }

    /// Sends exactly these bytes (for malformed input).
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), String> {
        self.conn
            .send(bytes)
            .await
            .map_err(|e| format!("MSRP send failed: {e}"))
    }

    /// Sends one SEND chunk; returns its transaction id.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_chunk(
        &self,
        to_path: &str,
        message_id: &str,
        range: ByteRange,
        flag: EndFlag,
        content_type: Option<&str>,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Result<String, String> {
        let tid = msrp::new_tid();
        let mut b = msrp::request("SEND", &tid)
            .header("To-Path", to_path)
            .header("From-Path", &self.local_url)
            .header("Message-ID", message_id)
            .header("Byte-Range", &range.to_header());
        for (n, v) in extra {
            b = b.header(n, v);
        }
        if let Some(ct) = content_type {
            b = b.header("Content-Type", ct);
        }
        let bytes = b.body(body).flag(flag).build();
        self.send_raw(&bytes).await?;
        lock(&self.sent).push(SentChunk {
            tid: tid.clone(),
            message_id: message_id.to_string(),
            range,
            flag,
            at: Instant::now(),
            bytes,
        });
        Ok(tid)
    }

    /// Everything received so far.
    pub fn log(&self) -> Vec<MsrpArrival> {
        lock(&self.log).clone()
    }

    /// Waits until `pred` holds for the log, the connection ends (closed or
    /// unframeable: nothing more can come), or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[MsrpArrival]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            let log = self.log();
            if pred(&log) {
                crate::roles::Check::Done
            } else if log
                .iter()
                .any(|a| !matches!(a.event, StreamEvent::Message(_)))
            {
                crate::roles::Check::Over
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }

    /// The responses to transaction `tid`, in arrival order.
    pub fn responses(&self, tid: &str) -> Vec<MsrpArrival> {
        self.log()
            .into_iter()
            .filter(|a| {
                a.message()
                    .is_some_and(|m| m.status().is_some() && m.tid() == tid)
            })
            .collect()
    }

    /// The first response to `tid` and a later one whose status differs
    /// (see [`second_answer`]), when the peer sent both.
    pub fn second_answer(&self, tid: &str) -> Option<(MsrpArrival, MsrpArrival)> {
        second_answer(&self.log(), tid)
    }

    /// REPORTs for a Message-ID, in arrival order.
    pub fn reports(&self, message_id: &str) -> Vec<MsrpArrival> {
        self.log()
            .into_iter()
            .filter(|a| {
                a.message().is_some_and(|m| {
                    m.method() == Some("REPORT") && m.message_id() == Some(message_id)
                })
            })
            .collect()
    }

    /// What arrived that is neither a response nor a REPORT (for verdicts).
    pub fn describe_log(&self) -> String {
        let l = self.log();
        let mut s = if l.is_empty() {
            "nothing framed on the MSRP connection".to_string()
        } else {
            l.iter()
                .map(|a| a.describe())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let pending = self.conn.pending();
        if !pending.is_empty() {
            s.push_str(&format!(
                "; and {} byte(s) that never formed a complete MSRP message (no end-line): {}",
                pending.len(),
                crate::codec::escape_bytes(&pending, 300)
            ));
        }
        s
    }

    /// RFC 4976 §5: AUTH to the relay at `relay_uri`; returns the Use-Path it
    /// grants. A 401 is answered once with digest credentials (RFC 2617 with
    /// the method `AUTH` and the relay URI as digest-uri), when given.
    pub async fn auth(
        &self,
        relay_uri: &str,
        creds: Option<(&str, &str)>,
        deadline: Instant,
    ) -> Result<String, String> {
        let mut authorization: Option<String> = None;
        for _ in 0..2 {
            let tid = msrp::new_tid();
            let mut b = msrp::request("AUTH", &tid)
                .header("To-Path", relay_uri)
                .header("From-Path", &self.local_url)
                .header("Message-ID", &msrp::new_tid());
            if let Some(a) = &authorization {
                b = b.header("Authorization", a);
            }
            self.send_raw(&b.build()).await?;
            let t2 = tid.clone();
            self.wait_for(deadline, |log| {
                log.iter().any(|a| {
                    a.message()
                        .is_some_and(|m| m.tid() == t2 && m.status().is_some())
                })
            })
            .await;
            let Some(resp) = self.responses(&tid).into_iter().next() else {
                return Err(format!("no response to AUTH; {}", self.describe_log()));
            };
            let m = resp.message().cloned().ok_or_else(|| resp.describe())?;
            match (m.status(), m.header("Use-Path"), m.header("WWW-Authenticate"), creds) {
                (Some(200), Some(p), _, _) => return Ok(p.trim().to_string()),
                (Some(401), _, Some(challenge), Some((user, password))) if authorization.is_none() => {
                    authorization = Some(
                        digest_authorization(challenge, user, password, relay_uri)
                            .ok_or_else(|| format!("a digest challenge the harness cannot answer: {}", resp.describe()))?,
                    );
                }
                (Some(401), _, _, None) => {
                    return Err(format!("the relay asks for digest credentials (401) and the profile gives none (msrp.auth): {}", resp.describe()))
                }
                _ => return Err(format!("no 200 with Use-Path: {}", resp.describe())),
            }
        }
        Err("the relay refused the digest credentials".into())
    }

    /// Answers a SEND received on this connection (RFC 4975 §7.2).
    pub async fn answer(&self, send: &MsrpMessage, code: u16, phrase: &str) -> Result<(), String> {
        self.send_raw(&msrp::response_to(send, code, phrase, &self.local_url))
            .await
    }

    /// Sends the REPORT for a SEND received on this connection (RFC 4975 §7.1.2).
    pub async fn report(
        &self,
        send: &MsrpMessage,
        range: ByteRange,
        code: u16,
        phrase: &str,
    ) -> Result<Vec<u8>, String> {
        let bytes = msrp::report_for(send, &self.local_url, &msrp::new_tid(), range, code, phrase);
        self.send_raw(&bytes).await?;
        Ok(bytes)
    }

    /// SEND requests that arrived, in order.
    pub fn sends(&self) -> Vec<MsrpMessage> {
        self.log()
            .into_iter()
            .filter_map(|a| a.message().cloned())
            .filter(|m| m.method() == Some("SEND"))
            .collect()
    }

    pub async fn close(&self) {
        self.conn.shutdown().await;
    }
}

/// A transaction answered twice, differently: the first response to `tid`
/// in `log` and the first later response to it with another status code.
///
/// RFC 4975 §7.1 and §7.2: a SEND is one transaction, and its response
/// (one, if Failure-Report asks for any) tells the sender how that chunk
/// fared; MSRP has no retransmissions, so nothing can legitimately answer
/// the same transaction ID a second time with another verdict. The sender
/// has already acted on the first answer, so a different second one leaves
/// the outcome undefined. A repeated identical response is left to other
/// checks: it does not contradict the first.
pub fn second_answer(log: &[MsrpArrival], tid: &str) -> Option<(MsrpArrival, MsrpArrival)> {
    let mut answers = log.iter().filter(|a| {
        a.message()
            .is_some_and(|m| m.status().is_some() && m.tid() == tid)
    });
    let first = answers.next()?;
    let status = first.message().and_then(|m| m.status());
    let other = answers.find(|a| a.message().and_then(|m| m.status()) != status)?;
    Some((first.clone(), other.clone()))
}

/// The Authorization value answering a `Digest realm=…, nonce=…, qop=…`
/// challenge for the AUTH method (RFC 2617 §3.2.2; RFC 4976 §5).
pub fn digest_authorization(
    challenge: &str,
    user: &str,
    password: &str,
    uri: &str,
) -> Option<String> {
    use md5::{Digest, Md5};
    let rest = challenge
        .trim()
        .strip_prefix("Digest")
        .or_else(|| challenge.trim().strip_prefix("digest"))?;
    let param = |name: &str| -> Option<String> {
        rest.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let realm = param("realm")?;
    let nonce = param("nonce")?;
    let hex = |s: String| {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ha1 = hex(format!("{user}:{realm}:{password}"));
    let ha2 = hex(format!("AUTH:{uri}"));
    let cnonce = crate::codec::sip::token();
    let nc = "00000001";
    Some(match param("qop") {
        Some(q) if q.split(',').any(|x| x.trim() == "auth") => {
            let response = hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
            format!(
                r#"Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}""#
            )
        }
        _ => {
            let response = hex(format!("{ha1}:{nonce}:{ha2}"));
            format!(
                r#"Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}""#
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(seq: usize, bytes: &[u8]) -> MsrpArrival {
        MsrpArrival {
            at: Instant::now(),
            seq,
            event: StreamEvent::Message(bytes.to_vec()),
            msg: Some(MsrpMessage::parse(bytes)),
        }
    }

    fn answer(seq: usize, tid: &str, code: u16, phrase: &str) -> MsrpArrival {
        let bytes = msrp::response(tid, code, phrase)
            .header("To-Path", "msrp://127.0.0.1:1/a;tcp")
            .header("From-Path", "msrp://127.0.0.1:2/b;tcp")
            .build();
        arrival(seq, &bytes)
    }

    #[test]
    fn a_second_different_answer_to_one_transaction_is_found() {
        let log = vec![
            answer(0, "t1", 200, "OK"),
            answer(1, "t2", 200, "OK"),
            answer(2, "t1", 200, "OK"),
            answer(3, "t1", 481, "Session Does Not Exist"),
        ];
        let (first, second) = second_answer(&log, "t1").expect("the 481 contradicts the 200");
        assert_eq!((first.seq, second.seq), (0, 3));
        assert!(second.describe().contains("481"), "{}", second.describe());
        // One answer, or the same answer again, is no contradiction.
        assert!(second_answer(&log, "t2").is_none());
        assert!(second_answer(&log[..3], "t1").is_none());
        assert!(second_answer(&log, "t3").is_none());
    }
}
