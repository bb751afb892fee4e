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
    /// A GET of an MM put on the server before the current scenario began
    /// ([`MmsServer::new_scenario`]), or a POSTed MMS PDU whose
    /// Transaction-ID an earlier scenario gave out ([`MmsServer::expect_tid`]):
    /// a late fetch or report driven by an earlier scenario's notification,
    /// not by anything of this one (correlated by identity, not by time).
    pub earlier: bool,
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
    /// form, else `http://` + Host + the origin-form target.
    pub fn url(&self) -> Option<String> {
        let m = self.msg.as_ref().ok()?;
        let t = m.target()?;
        if t.starts_with('/') {
            Some(format!("http://{}{t}", m.header("host")?.trim()))
        } else {
            Some(t.to_string())
        }
    }
}

/// The MMs served, by URL, each with the number of the scenario that put it.
type Mms = Arc<Mutex<HashMap<String, (u64, Vec<u8>)>>>;
/// The Transaction-IDs the scenarios gave out (notifications, M-Retrieve.confs),
/// each with the number of the scenario.
type Tids = Arc<Mutex<HashMap<String, u64>>>;

/// The MMS Relay/Server's HTTP side.
pub struct MmsServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<MmsArrival>>>,
    mms: Mms,
    tids: Tids,
    /// The current scenario's number (the server is shared by a run).
    scenario: Arc<std::sync::atomic::AtomicU64>,
    notify: Arc<Notify>,
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
    /// Listens at `addr` (loopback; port 0 picks one).
    pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<MmsServer> {
        let listener = crate::net::listen_loopback(addr).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<MmsArrival>>> = Arc::default();
        let mms: Mms = Arc::default();
        let tids: Tids = Arc::default();
        let scenario: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (log, mms, notify) = (log.clone(), mms.clone(), notify.clone());
            let (scenario, tids) = (scenario.clone(), tids.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(conn) = StreamConn::accepted(stream, capture.clone(), framer, 4 << 20)
                    else {
                        continue;
                    };
                    tokio::spawn(serve(
                        conn,
                        Served {
                            log: log.clone(),
                            mms: mms.clone(),
                            tids: tids.clone(),
                            notify: notify.clone(),
                            scenario: scenario.clone(),
                        },
                    ));
                }
            })
        };
        Ok(MmsServer {
            addr,
            log,
            mms,
            tids,
            scenario,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A fresh Content-Location on this server.
    pub fn new_location(&self) -> String {
        format!("http://{}/mms/{}", self.addr, token())
    }

    /// Serves `pdu` (an M-Retrieve.conf, or any bytes) at `url` from now on.
    pub fn put(&self, url: &str, pdu: Vec<u8>) {
        let n = self.scenario.load(std::sync::atomic::Ordering::SeqCst);
        lock(&self.mms).insert(url.to_string(), (n, pdu));
    }

    /// A Transaction-ID the current scenario gives out (a notification's, an
    /// M-Retrieve.conf's): a report carrying it that arrives after a later
    /// scenario began is marked [`MmsArrival::earlier`].
    pub fn expect_tid(&self, tid: &str) {
        let n = self.scenario.load(std::sync::atomic::Ordering::SeqCst);
        lock(&self.tids).insert(tid.to_string(), n);
    }

    /// A new scenario begins: GETs of the MMs put before now are marked
    /// [`MmsArrival::earlier`] from now on.
    pub fn new_scenario(&self) {
        self.scenario
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn log(&self) -> Vec<MmsArrival> {
        lock(&self.log).clone()
    }

    /// What arrived at or after `since`.
    pub fn log_since(&self, since: Instant) -> Vec<MmsArrival> {
        lock(&self.log)
            .iter()
            .filter(|a| a.at >= since)
            .cloned()
            .collect()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[MmsArrival]) -> bool) -> bool {
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

/// What one connection's task shares with the server.
struct Served {
    log: Arc<Mutex<Vec<MmsArrival>>>,
    mms: Mms,
    tids: Tids,
    notify: Arc<Notify>,
    scenario: Arc<std::sync::atomic::AtomicU64>,
}

async fn serve(conn: StreamConn, sv: Served) {
    let Served {
        log,
        mms,
        tids,
        notify,
        scenario,
    } = sv;
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
            let mut arrival = MmsArrival {
                at: a.at,
                from: conn.peer(),
                bytes,
                msg,
                answered: None,
                earlier: false,
            };
            let mut earlier = false;
            let answer = arrival.msg.as_ref().ok().map(|m| {
                let close = m
                    .header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close"));
                let mut headers: Vec<(&str, &str)> = Vec::new();
                if close {
                    headers.push(("Connection", "close"));
                }
                match m.method() {
                    Some("GET") => match arrival.url().and_then(|u| lock(&mms).get(&u).cloned()) {
                        Some((put_in, pdu)) => {
                            earlier = put_in < scenario.load(std::sync::atomic::Ordering::SeqCst);
                            headers.push(("Content-Type", MMS_MEDIA));
                            (200, http::response(200, "OK", &headers, &pdu), close)
                        }
                        None => (404, http::response(404, "Not Found", &headers, b""), close),
                    },
                    Some("POST") => {
                        let now = scenario.load(std::sync::atomic::Ordering::SeqCst);
                        earlier = crate::codec::mms::Pdu::parse(&m.body)
                            .ok()
                            .and_then(|p| {
                                p.transaction_id().and_then(|t| lock(&tids).get(t).copied())
                            })
                            .is_some_and(|given_in| given_in < now);
                        match send_conf_for(&m.body) {
                            // MM1 submission (an IM server deferring to MMS):
                            // the M-Send.conf, Ok, with a Message-ID (ENC §6.1.2).
                            Some(conf) => {
                                headers.push(("Content-Type", MMS_MEDIA));
                                (200, http::response(200, "OK", &headers, &conf), close)
                            }
                            None => (200, http::response(200, "OK", &headers, b""), close),
                        }
                    }
                    _ => (
                        405,
                        http::response(405, "Method Not Allowed", &headers, b""),
                        close,
                    ),
                }
            });
            arrival.answered = answer.as_ref().map(|a| a.0);
            arrival.earlier = earlier;
            lock(&log).push(arrival);
            notify.notify_waiters();
            if let Some((_, bytes, close)) = answer {
                let _ = conn.send(&bytes).await;
                if close {
                    conn.shutdown().await;
                    notify.notify_waiters();
                    return;
                }
            }
        }
        if last {
            notify.notify_waiters();
            return;
        }
    }
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
    if !dst.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the harness sends to loopback only",
        ));
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
    let branch = format!("z9hG4bK{}", token());
    let t = Transport::Udp;
    let bytes = request("MESSAGE", request_uri)
        .header(
            "Via",
            &format!("SIP/2.0/UDP {};branch={branch};rport", ep.addr(t)),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            &format!("<sip:mmsc@{}>;tag={}", ep.addr(t).ip(), token()),
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

    /// A report on an earlier scenario's notification is known by its
    /// Transaction-ID, whenever it arrives (issue 12, item 14).
    #[tokio::test]
    async fn a_late_report_is_an_earlier_scenarios() {
        let s = MmsServer::start("127.0.0.1:0".parse().unwrap(), Capture::disabled())
            .await
            .unwrap();
        s.expect_tid("T-old");
        s.new_scenario();
        s.expect_tid("T-new");
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
        let deadline = Instant::now() + Duration::from_secs(3);
        for tid in ["T-old", "T-new", "T-unknown"] {
            let out =
                crate::roles::mms_ua::exchange(s.addr(), Capture::disabled(), &post(tid), deadline)
                    .await;
            assert_eq!(out.response().and_then(|r| r.status()), Some(200));
        }
        s.wait_for(deadline, |log| log.len() == 3).await;
        let earlier: Vec<bool> = s.log().iter().map(|a| a.earlier).collect();
        assert_eq!(earlier, [true, false, false]);
    }
}
