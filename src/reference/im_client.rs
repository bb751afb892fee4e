//! Reference `im-client`: a pager-mode IM client (RFC 3428) behind UDP and
//! TCP. It accepts text/plain, answers 200 with no body and no Contact,
//! rejects other body types with 415 and Accept, and its non-INVITE server
//! transactions answer a retransmission with the same final response
//! (RFC 3261 §17.2.2).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::Settings;
use crate::codec::sip::{response_to, token, SipMessage};

/// Fault `415-hostile-text`: markup a hostile SUT puts where text belongs;
/// if the report ever let it through, it would change the page's title or
/// mark its body.
pub const HOSTILE_REASON: &str = "<script>document.title='pwned'</script>";
pub const HOSTILE_ACCEPT: &str =
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";

/// What the client accepts.
pub const ACCEPT: &[&str] = &["text/plain"];

/// The feature tags the client declares when it registers through an IMS
/// core (OMA SIMPLE IM: pager mode and Large Message mode).
pub const FEATURE_TAGS: &[&str] = &[
    crate::codec::ims::TAG_SIP_IM,
    crate::codec::ims::TAG_LARGE_MESSAGE,
];

/// The OMA CPM ICSIs it declares there, in `+g.3gpp.icsi-ref`.
pub const ICSIS: &[&str] = &[
    crate::codec::ims::ICSI_CPM_MSG,
    crate::codec::ims::ICSI_CPM_LARGEMSG,
];

/// The registration expiry the embedded run's IMS core grants (seconds):
/// short, so that a registration scenario sees a refresh soon.
pub const IMS_EXPIRES: u32 = 1;

/// Where a reply goes.
enum Reply {
    Udp(SocketAddr),
    Tcp(mpsc::UnboundedSender<Vec<u8>>),
}

struct Client {
    settings: Settings,
    /// Where the MSRP receiver listens, and its sessions (Large Message mode).
    msrp_addr: SocketAddr,
    /// Our SIP address (for Contact).
    sip_addr: SocketAddr,
    sessions: super::msrp_receiver::Sessions,
    /// Call-ID → MSRP session id, so BYE ends the session.
    calls: Mutex<HashMap<String, String>>,
    /// Final responses by transaction (branch|method), kept for Timer J.
    finals: Mutex<super::Completed>,
    /// Fault `drops-one-in-10000`: MESSAGEs received, and the transactions left unanswered.
    received: std::sync::atomic::AtomicU64,
    dropped: Mutex<std::collections::HashSet<String>>,
    /// The registration expiry the IMS core granted (s; 0: not known yet).
    granted: std::sync::atomic::AtomicU64,
}

impl Client {
    /// Decides the bytes to answer `raw` with (None = stay silent).
    fn answer(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let s = &self.settings;
        if s.has_fault("never-answers") {
            return None;
        }
        if s.has_fault("garbage-responses") {
            return Some(b"\x00\x01HELLO?\xff\r\n\r\n".to_vec());
        }
        let msg = SipMessage::parse(raw).ok()?;
        if s.has_fault("wrong-transaction") {
            // A well-formed 200 for some other transaction (branch and Call-ID not the request's).
            let via = msg.vias().first().cloned().unwrap_or_default();
            let via = match via.find(";branch=") {
                Some(i) => format!("{};branch=z9hG4bKother{}", &via[..i], token()),
                None => via,
            };
            return Some(
                crate::codec::sip::response(200, "OK")
                    .header("Via", &via)
                    .header("From", msg.header("From").unwrap_or("<sip:x@x>"))
                    .header(
                        "To",
                        &format!(
                            "{};tag={}",
                            msg.header("To").unwrap_or("<sip:x@x>"),
                            token()
                        ),
                    )
                    .header("Call-ID", &format!("{}@elsewhere", token()))
                    .header("CSeq", msg.header("CSeq").unwrap_or("1 MESSAGE"))
                    .build(),
            );
        }
        let method = msg.method()?.to_string();
        if method == "ACK" {
            return None;
        }
        let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
        let timer_j = s.t1 * 64;
        {
            let mut finals = super::lock(&self.finals);
            finals.expire(timer_j);
            if let Some((bytes, at)) = finals.get(&key) {
                if bytes.is_empty() {
                    // Another reader is answering this transaction.
                    return None;
                }
                // Fault: the completed transaction is kept for 4·T1 only
                // (Timer J is 64·T1 for UDP, RFC 3261 §17.2.2), so a later
                // retransmission is handled as a new request. Copies that
                // cross the final response on a loaded machine still come
                // within the 4·T1 and are absorbed.
                if !(s.has_fault("retransmission-as-new") && at.elapsed() >= s.t1 * 4) {
                    return Some(bytes.clone());
                }
            }
            finals.trying(key.clone());
        }
        if method == "MESSAGE" && s.has_fault("drops-one-in-10000") {
            // Fault (load only): every 10 000th new MESSAGE transaction gets
            // no final response, nor do its retransmissions.
            let mut dropped = super::lock(&self.dropped);
            if dropped.contains(&key) {
                return None;
            }
            let n = self
                .received
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_multiple_of(10_000) {
                dropped.insert(key);
                return None;
            }
        }
        let bytes = match method.as_str() {
            "MESSAGE" => {
                let ct = msg.content_type().unwrap_or_else(|| "text/plain".into());
                let supported = ACCEPT.contains(&ct.as_str());
                if supported || s.has_fault("200-for-unsupported-type") {
                    let mut b = response_to(&msg, 200, "OK").to_tag(&token());
                    if s.has_fault("200-with-body-and-contact") {
                        b = b
                            .header("Contact", "<sip:bob@127.0.0.1>")
                            .header("Content-Type", "text/plain")
                            .body(b"thanks");
                    }
                    b.build()
                } else {
                    let mut b = if s.has_fault("415-hostile-text") {
                        response_to(&msg, 415, HOSTILE_REASON)
                            .to_tag(&token())
                            .header("Accept", HOSTILE_ACCEPT)
                    } else {
                        response_to(&msg, 415, "Unsupported Media Type").to_tag(&token())
                    };
                    if !s.has_fault("415-without-accept") && !s.has_fault("415-hostile-text") {
                        b = b.header("Accept", &ACCEPT.join(", "));
                    }
                    b.build()
                }
            }
            "INVITE" => self.invite(&msg),
            "BYE" if s.has_fault("msrp-ignores-bye") => return None,
            "BYE" => {
                if let Some(sid) = msg.call_id().and_then(|c| {
                    self.calls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(c)
                }) {
                    self.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&sid);
                }
                response_to(&msg, 200, "OK").build()
            }
            "OPTIONS" => response_to(&msg, 200, "OK")
                .to_tag(&token())
                .header("Allow", "MESSAGE, OPTIONS")
                .header("Accept", &ACCEPT.join(", "))
                .build(),
            _ => response_to(&msg, 405, "Method Not Allowed")
                .to_tag(&token())
                .header("Allow", "MESSAGE, OPTIONS")
                .build(),
        };
        let bytes = if method == "MESSAGE" && s.has_fault("response-cseq-other-method") {
            // Fault: the 200 names the request's branch and CSeq number but
            // another method (RFC 3261 §17.1.3: it matches no transaction).
            replace_header(
                &bytes,
                "CSeq",
                &format!("{} OPTIONS", msg.cseq().map(|c| c.0).unwrap_or(1)),
            )
        } else if method == "MESSAGE" && s.has_fault("response-bad-version") {
            // Fault: a Status-Line with a SIP-Version other than 2.0.
            let mut b = b"SIP/2.1".to_vec();
            b.extend_from_slice(bytes.get(7..).unwrap_or_default());
            b
        } else {
            bytes
        };
        super::lock(&self.finals).complete(key, bytes.clone());
        Some(bytes)
    }

    /// Every response to send for `raw`, in order (empty: stay silent).
    fn answers(&self, raw: &[u8]) -> Vec<Vec<u8>> {
        let Some(first) = self.answer(raw) else {
            return Vec::new();
        };
        if self.settings.has_fault("conflicting-finals")
            && first.starts_with(b"SIP/2.0 200")
            && SipMessage::parse(raw).is_ok_and(|m| m.method() == Some("MESSAGE"))
        {
            // Fault: 200, the same 200 again, then 486 on the same
            // transaction (same branch, same To tag): two final responses.
            let busy = {
                let end = first.windows(2).position(|w| w == b"\r\n").unwrap_or(0);
                let mut b = b"SIP/2.0 486 Busy Here".to_vec();
                b.extend_from_slice(first.get(end..).unwrap_or_default());
                b
            };
            return vec![first.clone(), first, busy];
        }
        vec![first]
    }
}

/// `bytes` (a message this client built) with the value of the first
/// `name` header field replaced.
fn replace_header(bytes: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for line in text.split_inclusive("\r\n") {
        let is_it = line
            .split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name));
        if is_it && !done {
            out.push_str(&format!("{name}: {value}\r\n"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

impl Client {
    /// Takes the expiry the core granted from a 2xx to our REGISTER.
    fn registration_answer(&self, raw: &[u8]) {
        // Only responses can answer a REGISTER (no parse of every request).
        if !raw.starts_with(b"SIP/2.0 ") {
            return;
        }
        let Ok(m) = SipMessage::parse(raw) else {
            return;
        };
        let is_reg = m.cseq().is_some_and(|(_, meth)| meth == "REGISTER");
        if !is_reg || !m.status().is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        let secs = m
            .header_values("Contact")
            .iter()
            .find_map(|c| crate::codec::sip::header_param(c, "expires"))
            .or_else(|| m.header("Expires").map(str::to_string))
            .and_then(|e| e.trim().parse::<u64>().ok());
        if let Some(secs) = secs {
            self.granted
                .store(secs.max(1), std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Fault `response-to-originator`: where a response to a request that
    /// came through a proxy goes instead of back by its top Via: the
    /// originator's own Via (the last one).
    fn misrouted(&self, raw: &[u8]) -> Option<SocketAddr> {
        if !self.settings.has_fault("response-to-originator") {
            return None;
        }
        let m = SipMessage::parse(raw).ok()?;
        let vias = m.vias();
        if vias.len() < 2 {
            return None;
        }
        vias.last()?
            .split_whitespace()
            .nth(1)?
            .split(';')
            .next()?
            .parse()
            .ok()
    }

    /// The Contact it registers: its address with its feature tags and
    /// ICSIs (percent-encoded, or raw with fault `ims-icsi-unencoded`).
    fn ims_contact(&self) -> String {
        use crate::codec::ims::{icsi_encode, TAG_ICSI};
        let s = &self.settings;
        let mut c = format!("<sip:bob@{}>", self.sip_addr);
        if !s.has_fault("ims-no-feature-tags") {
            for t in FEATURE_TAGS {
                c.push(';');
                c.push_str(t);
            }
        }
        let icsis: Vec<String> = ICSIS
            .iter()
            .map(|i| {
                if s.has_fault("ims-icsi-unencoded") {
                    i.to_string()
                } else {
                    icsi_encode(i)
                }
            })
            .collect();
        c.push_str(&format!(";{TAG_ICSI}=\"{}\"", icsis.join(",")));
        c
    }

    /// An INVITE offering an MSRP session (RFC 4975 §8): 200 with our path if a
    /// type we accept is offered, else 488 (RFC 3261 §21.4.26).
    fn invite(&self, msg: &SipMessage) -> Vec<u8> {
        let s = &self.settings;
        let sdp = crate::codec::sdp::Sdp::parse(msg.body()).ok();
        let media = sdp.as_ref().and_then(|d| {
            d.media()
                .into_iter()
                .find(|m| m.media == "message" && m.proto.to_ascii_uppercase().contains("MSRP"))
        });
        let acceptable = media.as_ref().is_some_and(|m| {
            m.accept_types().iter().any(|t| {
                t == "*" || super::msrp_receiver::ACCEPT.contains(&t.to_ascii_lowercase().as_str())
            })
        });
        if s.has_fault("msrp-rejects-invite")
            || media.is_none()
            || (!acceptable && !s.has_fault("msrp-accepts-any-offer"))
        {
            return response_to(msg, 488, "Not Acceptable Here")
                .to_tag(&token())
                .build();
        }
        let sid = token();
        // msrps: for an offer of MSRP over TLS (RFC 4975 §8.1, §14.2).
        let Some(url) = super::msrp_receiver::answer_url(self.msrp_addr, &sid, media.as_ref(), s)
        else {
            return response_to(msg, 488, "Not Acceptable Here")
                .to_tag(&token())
                .build();
        };
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid.clone(), url.clone());
        if let Some(c) = msg.call_id() {
            self.calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(c.to_string(), sid);
        }
        let answer = crate::codec::sdp::msrp_session(
            self.msrp_addr.ip(),
            self.msrp_addr.port(),
            &url,
            super::msrp_receiver::ACCEPT,
            Some("passive"),
        );
        let mut b = response_to(msg, 200, "OK").to_tag(&token());
        // The route set the proxies recorded, copied in order (RFC 3261 §12.1.1).
        if !s.has_fault("no-record-route-copy") {
            for rr in msg.header_all("Record-Route") {
                b = b.header("Record-Route", rr);
            }
        }
        b.header("Contact", &format!("<sip:bob@{}>", self.sip_addr))
            .header("Content-Type", "application/sdp")
            .body(&answer)
            .build()
    }
}

/// Starts the client on its UDP socket and TCP listener (one port), its
/// MSRP listener and, with `settings.tls`, the listener where it takes SIP
/// over TLS (the certificate the run issued).
pub fn start(
    udp: UdpSocket,
    tcp: TcpListener,
    msrp: TcpListener,
    tls: Option<TcpListener>,
    settings: Settings,
) -> Vec<tokio::task::JoinHandle<()>> {
    let no_tcp = settings.has_fault("no-tcp");
    let tls_server = settings.tls.as_ref().and_then(|t| t.server_config().ok());
    let msrp_addr = msrp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let sip_addr = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    // Load: a burst of MESSAGEs must wait in the socket, not be dropped.
    super::enlarge_udp_buffers(&udp, 8 << 20);
    let sessions: super::msrp_receiver::Sessions = Arc::default();
    let msrp_task = super::msrp_receiver::start(msrp, sessions.clone(), settings.clone());
    let client = Arc::new(Client {
        settings,
        msrp_addr,
        sip_addr,
        sessions,
        calls: Mutex::default(),
        finals: Mutex::default(),
        received: Default::default(),
        dropped: Mutex::default(),
        granted: std::sync::atomic::AtomicU64::new(0),
    });
    let udp = Arc::new(udp);
    let mut tasks = vec![msrp_task];
    if let Some(ims) = client.settings.ims.clone()
        && !client.settings.has_fault("ims-no-register")
    {
        tasks.push(tokio::spawn(register_loop(
            client.clone(),
            udp.clone(),
            ims.core,
        )));
    }
    // Two readers of the UDP socket (one per core, for load). A request and
    // its retransmission still meet one server transaction (RFC 3261
    // §17.2.2): the first reader marks it Trying before it answers, and a
    // copy the other reader meets meanwhile is absorbed
    // ([`super::Completed::trying`]). Without the mark both copies were
    // answered, each with its own To tag, and the fault-kill test caught
    // two different final responses on one transaction.
    for _ in 0..2 {
        let client = client.clone();
        let udp = udp.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                client.registration_answer(&buf[..n]);
                for bytes in client.answers(&buf[..n]) {
                    let to = client.misrouted(&buf[..n]).unwrap_or(from);
                    reply(&udp, Reply::Udp(to), bytes).await;
                }
            }
        }));
    }
    if let (Some(listener), Some(config)) = (tls, tls_server) {
        let client = client.clone();
        let udp = udp.clone();
        tasks.push(super::tls::serve_sip(
            listener,
            config,
            Arc::new(move |raw, _peer, tx| {
                let all = client.answers(&raw);
                if !all.is_empty() {
                    let udp = udp.clone();
                    tokio::spawn(async move {
                        for bytes in all {
                            reply(&udp, Reply::Tcp(tx.clone()), bytes).await;
                        }
                    });
                }
            }),
        ));
    }
    if no_tcp {
        drop(tcp);
    } else {
        tasks.push(tokio::spawn(async move {
            while let Ok((stream, _peer)) = tcp.accept().await {
                if client.settings.has_fault("closes-connection") {
                    // Read what comes, then close without answering.
                    let mut stream = stream;
                    let mut buf = [0u8; 4096];
                    let _ = tokio::time::timeout(
                        Duration::from_millis(200),
                        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
                    )
                    .await;
                    drop(stream);
                    continue;
                }
                if client.settings.has_fault("closes-mid-response") {
                    // Answer the first request with half of its response
                    // (the status line and the first headers, no blank
                    // line), then close the connection.
                    let client = client.clone();
                    tokio::spawn(half_answer_then_close(client, stream));
                    continue;
                }
                let (rd, mut wr) = stream.into_split();
                let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
                tokio::spawn(async move {
                    while let Some(b) = rx.recv().await {
                        if wr.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                });
                let client = client.clone();
                let udp = udp.clone();
                tokio::spawn(super::read_stream(rd, move |raw| {
                    let all = client.answers(&raw);
                    if !all.is_empty() {
                        let tx = tx.clone();
                        let udp = udp.clone();
                        tokio::spawn(async move {
                            for bytes in all {
                                reply(&udp, Reply::Tcp(tx.clone()), bytes).await;
                            }
                        });
                    }
                }));
            }
        }));
    }
    tasks
}

/// Fault `closes-mid-response`: reads one request from `stream` (at most
/// 64 KiB, for 2 s), writes the first half of the header block of its first
/// answer and closes the connection.
async fn half_answer_then_close(client: Arc<Client>, mut stream: tokio::net::TcpStream) {
    use crate::codec::sip::{next_frame, Frame};
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let request = loop {
        match next_frame(&buf, 64 * 1024) {
            Ok(Some(Frame::Message(len))) => break buf.get(..len).unwrap_or(&buf).to_vec(),
            Ok(Some(Frame::KeepAlive(k))) => {
                buf.drain(..k.min(buf.len()));
                continue;
            }
            Ok(None) => {}
            Err(_) => return,
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            _ => return,
        }
    };
    if let Some(answer) = client.answers(&request).into_iter().next() {
        let head = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(answer.len());
        let _ = stream
            .write_all(answer.get(..head / 2).unwrap_or_default())
            .await;
    }
    drop(stream);
}

async fn reply(udp: &UdpSocket, to: Reply, bytes: Vec<u8>) {
    match to {
        Reply::Udp(a) => {
            let _ = udp.send_to(&bytes, a).await;
        }
        Reply::Tcp(tx) => {
            let _ = tx.send(bytes);
        }
    }
}

/// Registers `sip:bob@<own address>` through the IMS core and refreshes the
/// registration at half the granted expiry (3GPP TS 24.229 §5.1.1.4 for
/// short registrations).
async fn register_loop(client: Arc<Client>, udp: Arc<UdpSocket>, core: SocketAddr) {
    let aor = format!("sip:bob@{}", client.sip_addr);
    let call_id = format!("{}@liaison-ref", token());
    let from_tag = token();
    let mut cseq = 1u32;
    loop {
        let via = format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{};rport",
            client.sip_addr,
            token()
        );
        let bytes = crate::codec::ims::register_request(
            &aor,
            &client.ims_contact(),
            &via,
            &call_id,
            cseq,
            &from_tag,
            600,
        );
        let _ = udp.send_to(&bytes, core).await;
        cseq += 1;
        let granted = client.granted.load(std::sync::atomic::Ordering::SeqCst);
        let wait = if granted == 0 {
            // No answer yet: try again soon (T1 · 4).
            client.settings.t1 * 4
        } else {
            Duration::from_millis(granted * 500)
        };
        tokio::time::sleep(wait).await;
    }
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "im-client",
        name: "never-answers",
        description: "receives MESSAGEs and never answers them",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "garbage-responses",
        description: "answers every request with bytes that are not SIP",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "wrong-transaction",
        description: "answers every request with a well-formed 200 for another transaction (other branch and Call-ID)",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "closes-connection",
        description: "over TCP, reads the request and closes the connection without answering",
        breaks: &["DR-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "closes-mid-response",
        description: "over TCP, writes the first half of the header block of its answer to a request (no blank line) and closes the connection",
        breaks: &["DR-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "200-with-body-and-contact",
        description: "its 200 to a MESSAGE carries a Contact header and a body",
        breaks: &["DR-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "200-for-unsupported-type",
        description: "answers 200 to a MESSAGE whose body type it does not support",
        breaks: &["DR-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "415-without-accept",
        description: "rejects an unsupported body type with 415 but no Accept header",
        breaks: &["DR-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "415-hostile-text",
        description: "rejects an unsupported body type with 415 whose reason phrase is a <script> element and whose Accept header is HTML, not media types (the report must show it as text)",
        breaks: &["DR-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "retransmission-as-new",
        description: "handles a retransmitted MESSAGE as a new request (new To tag)",
        breaks: &["DR-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "no-tcp",
        description: "does not listen on TCP",
        breaks: &["DR-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-rejects-invite",
        description: "rejects every INVITE for an MSRP session with 488",
        breaks: &["DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-8", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-accepts-any-offer",
        description: "accepts an MSRP offer even when no offered type is one it takes",
        breaks: &["DR-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-ignores-bye",
        description: "never answers the BYE that ends a Large Message session",
        breaks: &["DR-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-no-final-200",
        description: "never answers the final ('$') chunk of a message",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-deferred-responses",
        description: "holds back the 200s to '+' chunks until the final chunk arrives",
        breaks: &["DR-11"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-report-before-200",
        description: "sends the success REPORT before the 200 to the final chunk",
        breaks: &["DR-12", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-unrequested-report",
        description: "sends a success REPORT although Success-Report is no or absent",
        breaks: &["DR-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-200-for-partial",
        description: "answers 200 to chunks sent with Failure-Report: partial",
        breaks: &["DR-14"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-415-as-200",
        description: "takes a Content-Type it does not support with 200 (and a success REPORT)",
        breaks: &["DR-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-report-on-failure",
        description: "answers an unsupported type with 415 but also sends a success REPORT",
        breaks: &["DR-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-no-413",
        description: "takes a message larger than its declared maximum",
        breaks: &["DR-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-ignores-session",
        description: "answers 200 to a SEND whose To-Path names no session it has",
        breaks: &["DR-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-aborted-as-complete",
        description: "after a '#' chunk, sends a success REPORT claiming the whole message",
        breaks: &["DR-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-no-end-line",
        description: "sends MSRP responses and REPORTs without their end-line (unframeable)",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-closes-mid-chunk",
        description: "closes the MSRP connection when the first chunk arrives, without answering",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-wrong-byte-range",
        description: "its success REPORT carries a Byte-Range total that is not the message's",
        breaks: &["DR-12", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-second-response",
        description: "answers each chunk twice, the second time 50 ms later with the opposite verdict (400 after a 200, 200 after an error)",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-report-headers",
        description: "its success REPORT carries Success-Report and Failure-Report header fields",
        breaks: &["DR-12", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-chunk-reports-early",
        description: "with Success-Report yes, reports each chunk in a REPORT of its own sent before that chunk's 200",
        breaks: &["DR-12", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "msrp-partial-report",
        description: "its success REPORT covers only the final chunk's bytes; no REPORT covers the rest",
        breaks: &["DR-12", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "ims-no-register",
        description: "never registers with the IMS core it is configured with",
        breaks: &["IMS-2", "IMS-5", "IMS-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "ims-no-feature-tags",
        description: "registers through the IMS core without the +g.oma.sip-im feature tags in its Contact",
        breaks: &["IMS-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "ims-icsi-unencoded",
        description: "writes its ICSIs in +g.3gpp.icsi-ref raw (urn:urn-7:…), not percent-encoded",
        breaks: &["IMS-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "response-to-originator",
        description: "sends its responses to a request that came through a proxy straight to the originator (last Via), bypassing the core",
        breaks: &["IMS-7", "IMS-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "no-record-route-copy",
        description: "its 200 to an INVITE leaves out the Record-Route the proxies added",
        breaks: &["IMS-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "conflicting-finals",
        description: "answers a MESSAGE with 200, the same 200 again, then 486 on the same transaction (same branch and To tag)",
        breaks: &["DR-1", "DR-2", "DR-4", "IMS-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "response-cseq-other-method",
        description: "its final responses to MESSAGEs carry the request's branch and CSeq number but the method OPTIONS",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "im-client",
        name: "response-bad-version",
        description: "its final responses to MESSAGEs have SIP/2.1 as SIP-Version",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "IMS-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// Faults only a load run reveals (`liaison load --fault im-client/NAME`).
pub const LOAD_FAULTS: &[super::LoadFault] = &[super::LoadFault {
    role: "im-client",
    name: "drops-one-in-10000",
    description:
        "leaves every 10 000th MESSAGE transaction without a final response (RFC 3261 §17.2.2)",
    trips: &["lost"],
    args: &[
        "--role",
        "im-client",
        "--count",
        "10000",
        "--rate",
        "5000",
        "--t1-ms",
        "30",
    ],
}];
