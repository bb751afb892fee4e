//! Reference `presence-client`: a presence user agent publishing its
//! user's state (RFC 3903 event publication, PIDF RFC 3863) through the
//! IMS core, its outbound proxy.
//!
//! - It publishes at start (status open), and again each time its user
//!   changes the status through the trigger (`POST /presence/status`, body
//!   `open` or `closed`; the suite's own interface, answered 204).
//! - A publication while it holds an entity tag is a modification: the tag
//!   in SIP-If-Match and the whole new state; without one, an initial
//!   publication (no SIP-If-Match).
//! - After a 2xx it keeps the SIP-ETag and refreshes at two thirds of the
//!   Expires the 2xx granted (the server may shorten the one asked): the
//!   tag in SIP-If-Match, no body.
//! - After a 412 it forgets the tag and publishes the state anew.
//! - Each PUBLISH is a non-INVITE client transaction over UDP (RFC 3261
//!   §17.1.2.2): retransmitted on Timer E until a final response or
//!   Timer F (64·T1). Requests that reach it are answered 501 (it takes
//!   none).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Settings;
use crate::codec::http;
use crate::codec::presence::{entity_tag, Pidf, Tuple, PIDF_TYPE};
use crate::codec::sip::{self, SipMessage};

/// The user's AoR (the embedded reference's `presence_client.aor`): a
/// domain of its own, which no other reference role serves.
pub const AOR: &str = "sip:dora@presence.liaison.test";
/// The Expires every PUBLISH asks for.
pub const EXPIRES: u32 = 60;
/// Most bytes of a trigger request.
const MAX_TRIGGER: usize = 16 * 1024;
/// How long a trigger connection may take.
const IO_BOUND: Duration = Duration::from_secs(3);

pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "presence-client",
        name: "pres-client-no-event",
        description: "PUBLISH without an Event header (the server cannot tell the package)",
        breaks: &["PRES-11", "PRES-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "presence-client",
        name: "pres-client-bad-basic",
        description: "the PIDF's basic status is `unknown` when the user chose closed (neither open nor closed)",
        breaks: &["PRES-11", "PRES-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "presence-client",
        name: "pres-client-own-interval",
        description: "refreshes by the Expires it asked for, not the shorter one the server granted",
        breaks: &["PRES-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "presence-client",
        name: "pres-client-keeps-etag",
        description: "after a 412 publishes again with the refused entity tag in SIP-If-Match",
        breaks: &["PRES-12"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// What the publisher acts on.
enum Event {
    Status(String),
    Response(SipMessage),
}

/// Its addresses: SIP (UDP) and the trigger (HTTP).
pub struct Addresses {
    pub sip: SocketAddr,
    pub trigger: SocketAddr,
}

/// Starts the client on `listen` (port 0 picks), publishing through
/// `settings.ims.core`.
pub async fn start(
    listen: SocketAddr,
    settings: Settings,
) -> std::io::Result<(Addresses, Vec<JoinHandle<()>>)> {
    let core = settings.ims.as_ref().map(|i| i.core).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "presence-client needs the IMS core it publishes through",
        )
    })?;
    let sock = Arc::new(UdpSocket::bind(listen).await?);
    let sip_addr = sock.local_addr()?;
    let trigger = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
    let trigger_addr = trigger.local_addr()?;
    let (tx, rx) = mpsc::channel(256);
    let tasks = vec![
        tokio::spawn(reader(sock.clone(), tx.clone())),
        tokio::spawn(triggers(trigger, tx.clone())),
        tokio::spawn(publisher(sock, core, settings, rx)),
    ];
    // The first publication, as a client does once it is up.
    let _ = tx.send(Event::Status("open".into())).await;
    Ok((
        Addresses {
            sip: sip_addr,
            trigger: trigger_addr,
        },
        tasks,
    ))
}

/// Responses to the publisher; requests answered 501.
async fn reader(sock: Arc<UdpSocket>, tx: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(m) = SipMessage::parse(&buf[..n]) else {
            continue;
        };
        if m.is_request() {
            if m.method() != Some("ACK") {
                let r = sip::response_to(&m, 501, "Not Implemented")
                    .to_tag(&sip::token())
                    .build();
                let _ = sock.send_to(&r, from).await;
            }
            continue;
        }
        let _ = tx.try_send(Event::Response(m));
    }
}

/// The trigger: one bounded request per connection.
async fn triggers(listener: TcpListener, tx: mpsc::Sender<Event>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let tx = tx.clone();
        tokio::spawn(async move {
            let end = Instant::now() + IO_BOUND;
            let req = super::read_http_request(&mut stream, MAX_TRIGGER, end).await;
            let status = req.as_ref().and_then(|r| {
                let s = String::from_utf8_lossy(&r.body).trim().to_ascii_lowercase();
                (r.method() == Some("POST")
                    && r.target() == Some("/presence/status")
                    && (s == "open" || s == "closed"))
                    .then_some(s)
            });
            let (code, reason) = if status.is_some() {
                (204, "No Content")
            } else {
                (400, "Bad Request")
            };
            if let Some(s) = status {
                let _ = tx.send(Event::Status(s)).await;
            }
            let _ = stream
                .write_all(&http::response(code, reason, &[], b""))
                .await;
        });
    }
}

struct Pending {
    branch: String,
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
    /// The entity tag it named (a 412 makes the client forget it).
    named: Option<String>,
}

/// The publication's state machine.
async fn publisher(
    sock: Arc<UdpSocket>,
    core: SocketAddr,
    s: Settings,
    mut rx: mpsc::Receiver<Event>,
) {
    let Ok(me) = sock.local_addr() else { return };
    let t1 = s.t1.max(Duration::from_millis(1));
    let mut status = "open".to_string();
    let mut etag: Option<String> = None;
    let mut refresh_at: Option<Instant> = None;
    let mut pending: Option<Pending> = None;
    let mut cseq = 0u32;
    let call_id = format!("{}@presence-client", sip::token());
    let from_tag = sip::token();
    // Whether the next PUBLISH carries the state (a change, or anew after a 412).
    let mut queued_state = false;
    loop {
        // Start a PUBLISH when none is in flight and one is due.
        if pending.is_none() {
            let due_refresh = refresh_at.is_some_and(|t| t <= Instant::now());
            if queued_state || due_refresh {
                let with_body = queued_state;
                queued_state = false;
                refresh_at = None;
                cseq += 1;
                let branch = format!("z9hG4bK{}", sip::token());
                let via = format!("SIP/2.0/UDP {me};branch={branch};rport");
                let mut b = sip::request("PUBLISH", AOR)
                    .header("Via", &via)
                    .header("Route", &format!("<sip:{core};lr>"))
                    .header("Max-Forwards", "70")
                    .header("From", &format!("<{AOR}>;tag={from_tag}"))
                    .header("To", &format!("<{AOR}>"))
                    .header("Call-ID", &call_id)
                    .header("CSeq", &format!("{cseq} PUBLISH"));
                if !s.has_fault("pres-client-no-event") {
                    b = b.header("Event", "presence");
                }
                b = b.header("Expires", &EXPIRES.to_string());
                if let Some(e) = &etag {
                    b = b.header("SIP-If-Match", e);
                }
                if with_body {
                    let basic = if status == "closed" && s.has_fault("pres-client-bad-basic") {
                        "unknown".to_string()
                    } else {
                        status.clone()
                    };
                    let doc = Pidf {
                        entity: AOR.into(),
                        tuples: vec![Tuple {
                            id: "t1".into(),
                            basic,
                            contact: Some(AOR.into()),
                            note: None,
                        }],
                        notes: vec![],
                    }
                    .to_xml();
                    b = b.header("Content-Type", PIDF_TYPE).body(&doc);
                }
                let bytes = b.build();
                let _ = sock.send_to(&bytes, core).await;
                let now = Instant::now();
                pending = Some(Pending {
                    branch,
                    bytes,
                    next: now + t1,
                    interval: t1,
                    give_up: now + t1 * 64,
                    named: etag.clone(),
                });
            }
        }
        let wake = match (&pending, refresh_at) {
            (Some(p), _) => p.next.min(p.give_up),
            (None, Some(t)) => t,
            (None, None) => Instant::now() + Duration::from_secs(3600),
        };
        let ev = tokio::select! {
            ev = rx.recv() => match ev {
                Some(e) => Some(e),
                None => return,
            },
            _ = tokio::time::sleep_until(wake) => None,
        };
        match ev {
            Some(Event::Status(st)) => {
                status = st;
                queued_state = true;
            }
            Some(Event::Response(m)) => {
                let Some(p) = pending.as_ref() else { continue };
                if m.top_via_branch().as_deref() != Some(p.branch.as_str()) {
                    continue;
                }
                let code = m.status().unwrap_or(0);
                if code < 200 {
                    continue;
                }
                let named = p.named.clone();
                pending = None;
                if (200..300).contains(&code) {
                    etag = m.header("SIP-ETag").map(entity_tag).or(etag);
                    let granted: u64 = m
                        .header("Expires")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(u64::from(EXPIRES));
                    let basis = if s.has_fault("pres-client-own-interval") {
                        u64::from(EXPIRES)
                    } else {
                        granted.min(u64::from(EXPIRES))
                    };
                    refresh_at = Some(Instant::now() + Duration::from_millis(basis * 2000 / 3));
                } else if code == 412 {
                    if !s.has_fault("pres-client-keeps-etag") {
                        etag = None;
                    } else {
                        etag = named;
                    }
                    queued_state = true;
                }
            }
            None => {
                // A retransmission or the end of a transaction.
                if let Some(p) = pending.as_mut() {
                    let now = Instant::now();
                    if now >= p.give_up {
                        pending = None;
                    } else if now >= p.next {
                        let _ = sock.send_to(&p.bytes, core).await;
                        p.interval = (p.interval * 2).min(t1 * 8);
                        p.next = now + p.interval;
                    }
                }
            }
        }
    }
}
