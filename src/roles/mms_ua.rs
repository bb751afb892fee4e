//! The harness as MMS User Agent (the MMS client of OMA MMS ENC/CTR) in front
//! of an MMS relay SUT: it POSTs PDUs to the relay's MM1 URL and GETs MMs from
//! the Content-Location of a notification, each over a fresh TCP connection,
//! keeping whatever comes back raw (an HTTP response, bytes that are not HTTP,
//! a closed connection, nothing). It also reads what the relay pushed to
//! terminals from the run-level bearers: WSP pushes reassembled from the
//! harness SMSC's submit_sm PDUs, and SIP MESSAGEs at the harness device,
//! those a scenario takes for its own (the bearers serve every scenario).

use std::net::SocketAddr;
use std::time::Instant;

/// Which of the bearers' arrivals (by their raw bytes: a submit_sm PDU, a
/// SIP request) a reader takes: a scenario's own, by the keys they carry.
pub type Keep<'a> = &'a dyn Fn(&[u8]) -> bool;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::codec::sip::SipMessage;
use crate::codec::smpp::{command, hex_dump};
use crate::codec::wdp::Reassembler;
use crate::codec::wsp::PushPdu;
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};
use crate::roles::ims_core::ImsCore;
use crate::roles::smsc::Smsc;

/// The MMS content type (ENC §7.1; WSP 0x3E).
pub const MMS_TYPE: &str = "application/vnd.wap.mms-message";
/// The largest answer the harness reads from a relay.
const MAX_ANSWER: usize = 4 << 20;

/// What the relay did with an MM1 request.
#[derive(Debug, Clone)]
pub enum Mm1Outcome {
    /// An HTTP response, as received.
    Answered(HttpMessage),
    /// Bytes that are not an HTTP response, and why.
    NotHttp { bytes: Vec<u8>, why: String },
    /// The relay closed the connection before a whole response (bytes that came).
    Closed(Vec<u8>),
    /// Nothing whole within the deadline (bytes that came).
    Timeout(Vec<u8>),
    /// No TCP connection, or the request could not be sent.
    ConnectFailed(String),
    /// MM1 over TLS: the handshake did not complete (what the relay did).
    TlsFailed(String),
}

impl Mm1Outcome {
    pub fn response(&self) -> Option<&HttpMessage> {
        match self {
            Mm1Outcome::Answered(m) => Some(m),
            _ => None,
        }
    }

    /// One line for a verdict, with the bytes.
    pub fn describe(&self) -> String {
        match self {
            Mm1Outcome::Answered(m) => {
                format!("HTTP response — bytes: {}", escape_bytes(m.raw(), 600))
            }
            Mm1Outcome::NotHttp { bytes, why } => format!(
                "an answer that is not HTTP ({why}) — bytes: {}",
                escape_bytes(bytes, 400)
            ),
            Mm1Outcome::Closed(b) if b.is_empty() => {
                "the relay closed the connection without answering".into()
            }
            Mm1Outcome::Closed(b) => format!(
                "the relay closed the connection after an incomplete answer — bytes: {}",
                escape_bytes(b, 400)
            ),
            Mm1Outcome::Timeout(b) if b.is_empty() => "no answer before the deadline".into(),
            Mm1Outcome::Timeout(b) => format!(
                "no complete answer before the deadline — bytes: {}",
                escape_bytes(b, 400)
            ),
            Mm1Outcome::ConnectFailed(e) => format!("no TCP connection to the relay ({e})"),
            Mm1Outcome::TlsFailed(e) => format!(
                "no TLS connection to the relay (RFC 2818 §2: an https:// exchange runs inside TLS from the first byte): {e}"
            ),
        }
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

/// `http://IP:PORT/PATH` → (address, path). Only numeric hosts the harness
/// may use (loopback, or a lab network's: `net::permitted`): it never
/// resolves names.
pub fn http_url(url: &str) -> Option<(SocketAddr, String)> {
    http::url_parts(url).filter(|(a, _)| crate::net::permitted(a.ip()))
}

/// An MM1 POST carrying one PDU.
pub fn post_request(relay: SocketAddr, path: &str, pdu: &[u8]) -> Vec<u8> {
    http::request(
        "POST",
        path,
        &relay.to_string(),
        &[("Content-Type", MMS_TYPE), ("Accept", MMS_TYPE)],
        pdu,
    )
}

/// A retrieval GET.
pub fn get_request(relay: SocketAddr, path: &str) -> Vec<u8> {
    http::request(
        "GET",
        path,
        &relay.to_string(),
        &[("Accept", MMS_TYPE)],
        b"",
    )
}

/// Sends `request` to `relay` over a fresh connection and waits for the
/// answer until `deadline`. The connection is closed afterwards.
pub async fn exchange(
    relay: SocketAddr,
    capture: Capture,
    request: &[u8],
    deadline: Instant,
) -> Mm1Outcome {
    exchange_over(relay, capture, request, deadline, None).await
}

/// [`exchange`], over TLS (RFC 2818) when `tls` gives a client and the
/// name to check the relay's certificate for: the handshake first (its
/// records and secrets in `capture`), one that fails is
/// [`Mm1Outcome::TlsFailed`] naming what the relay did.
pub async fn exchange_over(
    relay: SocketAddr,
    capture: Capture,
    request: &[u8],
    deadline: Instant,
    tls: Option<(&crate::net::tls::TlsClient, &str)>,
) -> Mm1Outcome {
    let left = deadline.saturating_duration_since(Instant::now());
    let conn = match tls {
        None => match StreamConn::connect(relay, capture, framer, MAX_ANSWER, left).await {
            Ok(c) => c,
            Err(e) => return Mm1Outcome::ConnectFailed(e.to_string()),
        },
        Some((client, name)) => match connect_tls(relay, capture, client, name, left).await {
            Ok(c) => c,
            Err(e) => return e,
        },
    };
    if let Err(e) = conn.send(request).await {
        return Mm1Outcome::ConnectFailed(format!("sending the request failed: {e}"));
    }
    let out = match conn.recv(deadline).await {
        Some(a) => match a.event {
            StreamEvent::Message(b) => match HttpMessage::parse(&b) {
                Ok(m) if m.status().is_some() => Mm1Outcome::Answered(m),
                Ok(_) => Mm1Outcome::NotHttp {
                    bytes: b,
                    why: "a request, not a response".into(),
                },
                Err(e) => Mm1Outcome::NotHttp {
                    bytes: b,
                    why: e.to_string(),
                },
            },
            StreamEvent::Garbage(b, why) => Mm1Outcome::NotHttp { bytes: b, why },
            StreamEvent::Closed(b) => match HttpMessage::parse_at_close(&b) {
                Ok(m) if m.status().is_some() && !b.is_empty() => Mm1Outcome::Answered(m),
                _ => Mm1Outcome::Closed(b),
            },
        },
        None => Mm1Outcome::Timeout(conn.pending()),
    };
    conn.shutdown().await;
    out
}

/// A TLS connection to the relay, framed as HTTP: TCP, then the handshake
/// (both within `left`).
async fn connect_tls(
    relay: SocketAddr,
    capture: Capture,
    client: &crate::net::tls::TlsClient,
    name: &str,
    left: std::time::Duration,
) -> Result<StreamConn, Mm1Outcome> {
    if !crate::net::permitted(relay.ip()) {
        return Err(Mm1Outcome::ConnectFailed(
            crate::net::not_permitted("connects to", relay.ip()).to_string(),
        ));
    }
    let tcp = match tokio::time::timeout(left, tokio::net::TcpStream::connect(relay)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Err(Mm1Outcome::ConnectFailed(format!(
                "connecting to {relay}: {e}"
            )))
        }
        Err(_) => {
            return Err(Mm1Outcome::ConnectFailed(format!(
                "connecting to {relay} timed out"
            )))
        }
    };
    let _ = tcp.set_nodelay(true);
    let timeout = left.min(crate::net::tls::HANDSHAKE_TIMEOUT);
    let stream = client
        .connect(tcp, name, capture, timeout)
        .await
        .map_err(|e| {
            Mm1Outcome::TlsFailed(format!(
                "the TLS handshake with {relay} for `{name}` failed: {e}"
            ))
        })?;
    Ok(StreamConn::over_tls(stream, framer, MAX_ANSWER))
}

/// The bearer a push came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    /// A WDP datagram over SMS (submit_sm at the harness SMSC).
    Sms,
    /// A SIP request at the harness device.
    Sip,
}

/// One thing the relay pushed to a terminal.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub bearer: Bearer,
    /// The digits of the destination: the SMS destination_addr, or the user
    /// part of the SIP Request-URI.
    pub number: String,
    /// When it (its last short message) arrived.
    pub at: Instant,
    /// The pushed content: the WSP push's body, the SIP request's body (the
    /// datagram itself when it is no WSP push).
    pub body: Vec<u8>,
    /// SMS: the WDP ports (destination, origin), the WSP PDU or why not, and
    /// how many short messages carried it.
    pub ports: Option<(u16, u16)>,
    pub wsp: Option<Result<PushPdu, String>>,
    pub segments: u8,
    /// SIP: the request.
    pub sip: Option<SipMessage>,
    /// SIP: the transport it came over (UDP to `sip_device`, TLS to
    /// `sip_device_tls`).
    pub transport: Option<crate::net::Transport>,
    /// One line with the bytes, for verdicts.
    pub describe: String,
}

impl Pushed {
    /// The MMS PDU it carries, if its body decodes as one.
    pub fn mms(&self) -> Option<crate::codec::mms::Pdu> {
        crate::codec::mms::Pdu::parse(&self.body).ok()
    }
}

/// Waits until `pred` holds for [`pushes`] (woken by either bearer as
/// something arrives) or `deadline` passes; says which.
pub async fn wait_pushes(
    smsc: Option<&Smsc>,
    sip: Option<&ImsCore>,
    keep: Keep<'_>,
    deadline: Instant,
    pred: impl Fn(&[Pushed]) -> bool,
) -> bool {
    loop {
        // Registered before the look, so an arrival in between wakes us.
        let by_sms = smsc.map(Smsc::notified);
        let by_sip = sip.map(ImsCore::notified);
        if pred(&pushes(smsc, sip, keep)) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::select! {
            _ = wake(by_sms) => {}
            _ = wake(by_sip) => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// Resolves when `n` does; never without one.
async fn wake(n: Option<tokio::sync::futures::Notified<'_>>) {
    match n {
        Some(n) => n.await,
        None => std::future::pending().await,
    }
}

/// Everything pushed on the given bearers that `keep` takes, in arrival
/// order (SMS first, then SIP, each in order); only the short messages it
/// takes are reassembled. Short messages that do not make a datagram are
/// listed as SMS pushes without a WSP PDU, with the reason.
pub fn pushes(smsc: Option<&Smsc>, sip: Option<&ImsCore>, keep: Keep<'_>) -> Vec<Pushed> {
    let mut out = Vec::new();
    if let Some(smsc) = smsc {
        let mut r = Reassembler::new();
        for a in smsc.log() {
            if !keep(&a.bytes) {
                continue;
            }
            let Ok(p) = &a.pdu else { continue };
            if p.header.command_id != command::SUBMIT_SM {
                continue;
            }
            let Some(sm) = p.sm() else { continue };
            let number: String = sm
                .destination_addr
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            match r.push(&sm.destination_addr, sm.payload(), sm.udhi()) {
                Ok(None) => {}
                Ok(Some(d)) => {
                    let wsp = PushPdu::parse(&d.data).map_err(|e| e.to_string());
                    let body = wsp
                        .as_ref()
                        .map_or_else(|_| d.data.clone(), |p| p.body.clone());
                    out.push(Pushed {
                        bearer: Bearer::Sms,
                        number,
                        at: a.at,
                        describe: format!(
                            "WDP datagram over SMS to {} (ports {} ← {}, {} short message(s)) — bytes: {}",
                            d.destination,
                            d.dest_port,
                            d.orig_port,
                            d.segments,
                            escape_bytes(&d.data, 500)
                        ),
                        body,
                        ports: Some((d.dest_port, d.orig_port)),
                        wsp: Some(wsp),
                        segments: d.segments,
                        sip: None,
                        transport: None,
                    });
                }
                Err(e) => out.push(Pushed {
                    bearer: Bearer::Sms,
                    number,
                    at: a.at,
                    describe: format!(
                        "a short message that is no WDP datagram ({e}) — submit_sm bytes: {}",
                        hex_dump(&a.bytes).replace('\n', " ")
                    ),
                    body: sm.payload().to_vec(),
                    ports: None,
                    wsp: Some(Err(e.to_string())),
                    segments: 1,
                    sip: None,
                    transport: None,
                }),
            }
        }
    }
    if let Some(ims) = sip {
        for d in ims.log() {
            if d.retransmission || !keep(&d.incoming.bytes) {
                continue;
            }
            let Ok(m) = &d.incoming.msg else {
                out.push(Pushed {
                    bearer: Bearer::Sip,
                    number: d.number.clone(),
                    at: d.incoming.at,
                    body: Vec::new(),
                    ports: None,
                    wsp: None,
                    segments: 0,
                    sip: None,
                    transport: Some(d.incoming.transport),
                    describe: format!(
                        "bytes that are not SIP at the SIP device (over {}) — {}",
                        d.incoming.transport,
                        escape_bytes(&d.incoming.bytes, 400)
                    ),
                });
                continue;
            };
            if m.method() == Some("ACK") {
                continue;
            }
            out.push(Pushed {
                bearer: Bearer::Sip,
                number: d.number.clone(),
                at: d.incoming.at,
                body: m.body().to_vec(),
                ports: None,
                wsp: None,
                segments: 0,
                sip: Some(m.clone()),
                transport: Some(d.incoming.transport),
                describe: format!(
                    "SIP {} over {} — bytes: {}",
                    m.summary(),
                    d.incoming.transport,
                    escape_bytes(&d.incoming.bytes, 700)
                ),
            });
        }
    }
    out
}
