//! The harness as the recipient side of an IMS network, for SUTs that send
//! SIP MESSAGEs towards IM users identified by MSISDN (an SMS–IM
//! interworking function). One SIP address (the SUT's outbound proxy) stands
//! for the IMS core and the recipients' clients: each MESSAGE is routed by the
//! number in its Request-URI (tel: or sip:+number@…;user=phone) to the answer
//! a scenario set for that number. Server transactions absorb retransmissions
//! (RFC 3261 §17.2.2). Everything that arrives is logged with its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::sip::{response_to, token};
use crate::net::{Incoming, SipEndpoint};
use crate::roles::ua::Answer;

/// One MESSAGE that reached the harness IMS core.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Digits of the recipient number.
    pub number: String,
    pub incoming: Incoming,
    pub retransmission: bool,
    /// The final response the harness sent, and when.
    pub answered: Option<(u16, Instant)>,
}

/// How a recipient takes a Large Message (an MSRP session the SUT offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargePolicy {
    /// The response to '+' chunks (None: no response).
    pub more: Option<u16>,
    /// The response to the final ('$') chunk (None: no response).
    pub last: Option<u16>,
    /// After a 200 to the final chunk, a success REPORT for the whole message.
    pub report: bool,
    /// Instead of answering the final chunk, a failure REPORT with this status.
    pub failure_report: Option<u16>,
    /// MSRP over TLS (RFC 4975 §14.2): the recipient's TLS listener
    /// ([`ImsCore::listen_tls`]); an offer of `TCP/TLS/MSRP` is answered
    /// with an `msrps:` path there. None: such an offer gets 488.
    pub tls_at: Option<std::net::SocketAddr>,
}

/// What happened on a Large Message session, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LargeKind {
    /// A SEND chunk arrived with this end flag ('+', '$', '#').
    Chunk(char),
    /// The harness answered a chunk; `last` when it was the final one.
    Responded { code: u16, last: bool },
    /// The harness sent a success REPORT.
    Reported,
    /// A chunk that does not fit the message (RFC 4975 §7.1.1: Byte-Range,
    /// body length, Message-ID), with the reason and the chunk's bytes.
    Bad(String),
    /// The whole message, reassembled from its chunks.
    Complete(Vec<u8>),
    /// A connection to the recipient's TLS listener whose handshake failed:
    /// what the peer did (plaintext MSRP where TLS was due, say), in words
    /// with its first bytes.
    TlsFailed(String),
}

#[derive(Debug, Clone)]
pub struct LargeEvent {
    pub number: String,
    pub at: Instant,
    pub kind: LargeKind,
    /// It happened on a TLS connection.
    pub tls: bool,
}

#[derive(Default)]
struct State {
    answers: HashMap<String, Answer>,
    large: HashMap<String, LargePolicy>,
    /// MSRP session id → recipient number.
    sessions: HashMap<String, String>,
    large_log: Vec<LargeEvent>,
    msrp_addr: Option<std::net::SocketAddr>,
    /// Reassembly per Message-ID.
    reassembly: HashMap<String, crate::codec::msrp::Reassembly>,
    /// Transaction keys seen (branch|method), to spot retransmissions.
    seen: std::collections::HashSet<String>,
    log: Vec<Delivered>,
    finals: HashMap<String, Vec<u8>>,
}

/// The harness IMS core.
pub struct ImsCore {
    pub ep: Arc<SipEndpoint>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ImsCore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

use crate::net::lock;

/// The number a Request-URI names, as digits without the `+`:
///
/// - a `tel:` URI, or a `sip:`/`sips:` URI with `user=phone` (RFC 3261
///   §19.1.6), claims a telephone number and is judged as written: it names
///   a global number only when its number starts with `+` (RFC 3966 §5.1.4;
///   visual separators ignored, [`crate::codec::ims::global_number`]).
///   `tel:15550100` is no valid tel URI (a local number needs
///   `phone-context`, RFC 3966 §5.1.5), and a local number with a context is
///   not the global number either: both name no recipient here;
/// - any other URI is a device address keyed by the digits of its user part
///   (`sip:+15550100@h`, the MMS relay scenarios' `sip:mms_15550100;…@h`).
pub fn number_of(uri: &str) -> Option<String> {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let (scheme, rest) = uri.split_once(':')?;
    let sip = scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips");
    let user_phone = sip
        && rest.split_once('@').is_some_and(|(_, host)| {
            host.split(';')
                .skip(1)
                .any(|p| p.trim().eq_ignore_ascii_case("user=phone"))
        });
    if scheme.eq_ignore_ascii_case("tel") || user_phone {
        return crate::codec::ims::global_number(uri).map(|n| n[1..].to_string());
    }
    let user = rest.split(['@', ';', '?']).next()?;
    let digits: String = user.chars().filter(|c| c.is_ascii_digit()).collect();
    (!digits.is_empty()).then_some(digits)
}

use crate::codec::sip::reason_phrase as reason;

impl ImsCore {
    pub fn start(ep: Arc<SipEndpoint>) -> ImsCore {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        // The recipients' MSRP side (RFC 4975): the SUT offers, so it connects here.
        let listener = std::net::TcpListener::bind((ep.udp_addr().ip(), 0))
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .and_then(tokio::net::TcpListener::from_std);
        if let Ok(l) = listener {
            lock(&state).msrp_addr = l.local_addr().ok();
            let (state, notify, capture) = (state.clone(), notify.clone(), ep.capture().clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = l.accept().await {
                    let Ok(conn) = crate::net::stream::StreamConn::accepted(
                        stream,
                        capture.clone(),
                        msrp_framer,
                        4 << 20,
                    ) else {
                        continue;
                    };
                    tokio::spawn(serve_msrp(Arc::new(conn), state.clone(), notify.clone()));
                }
            });
        }
        let task = {
            let (ep, state, notify) = (ep.clone(), state.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    handle(&ep, &state, inc).await;
                    notify.notify_waiters();
                }
            })
        };
        ImsCore {
            ep,
            state,
            notify,
            task,
        }
    }

    /// A TLS listener for the Large Messages to `number` (RFC 4975 §14.2),
    /// on the core's IP, port 0, taking connections until `until`: each
    /// handshake as `tls.server`, the records and secrets into `capture`
    /// (the scenario's: a routed capture cannot read keys in ciphertext),
    /// then served as the plaintext listener's connections are; a failed
    /// handshake is logged as [`LargeKind::TlsFailed`]. Put its address in
    /// the number's [`LargePolicy::tls_at`].
    pub async fn listen_tls(
        &self,
        number: &str,
        tls: Arc<crate::harness::tls::RunTls>,
        capture: crate::net::capture::Capture,
        until: Instant,
    ) -> std::io::Result<std::net::SocketAddr> {
        let l = crate::net::listen_permitted(std::net::SocketAddr::new(self.ep.udp_addr().ip(), 0))
            .await?;
        let addr = l.local_addr()?;
        let (state, notify, number) = (self.state.clone(), self.notify.clone(), number.to_string());
        tokio::spawn(async move {
            let left = until.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left, async {
                while let Ok((stream, _)) = l.accept().await {
                    let _ = stream.set_nodelay(true);
                    let (tls, state, notify, capture, number) = (
                        tls.clone(),
                        state.clone(),
                        notify.clone(),
                        capture.clone(),
                        number.clone(),
                    );
                    tokio::spawn(async move {
                        match tls
                            .server
                            .accept(stream, capture, crate::net::tls::HANDSHAKE_TIMEOUT)
                            .await
                        {
                            Ok(s) => {
                                let conn = crate::net::stream::StreamConn::over_tls(
                                    s,
                                    msrp_framer,
                                    4 << 20,
                                );
                                serve_msrp(Arc::new(conn), state, notify).await;
                            }
                            Err(e) => {
                                lock(&state).large_log.push(LargeEvent {
                                    number,
                                    at: Instant::now(),
                                    kind: LargeKind::TlsFailed(e.to_string()),
                                    tls: false,
                                });
                                notify.notify_waiters();
                            }
                        }
                    });
                }
            })
            .await;
        });
        Ok(addr)
    }

    /// How Large Message sessions to `number` are taken from now on.
    pub fn set_large(&self, number: &str, p: LargePolicy) {
        lock(&self.state).large.insert(number.to_string(), p);
    }

    /// What happened on Large Message sessions so far.
    pub fn large_log(&self) -> Vec<LargeEvent> {
        lock(&self.state).large_log.clone()
    }

    /// Waits until `pred` holds for the Large Message log or `deadline` passes.
    pub async fn wait_large(
        &self,
        deadline: Instant,
        pred: impl Fn(&[LargeEvent]) -> bool,
    ) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&lock(&self.state).large_log) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }

    /// How MESSAGEs to `number` (digits) are answered from now on.
    pub fn set_answer(&self, number: &str, a: Answer) {
        lock(&self.state).answers.insert(number.to_string(), a);
    }

    /// Resolves at the next change of the logs (create it before looking,
    /// so a change in between is not missed).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    pub fn log(&self) -> Vec<Delivered> {
        lock(&self.state).log.clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Delivered]) -> bool) -> bool {
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

async fn handle(ep: &Arc<SipEndpoint>, state: &Arc<Mutex<State>>, inc: Incoming) {
    let Ok(msg) = inc.msg.clone() else { return };
    let method = msg.method().unwrap_or_default().to_string();
    if method == "ACK" {
        return;
    }
    let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
    let number = msg.request_uri().and_then(number_of).unwrap_or_default();
    let (retrans, stored, answer) = {
        let mut st = lock(state);
        let retrans = !st.seen.insert(key.clone());
        st.log.push(Delivered {
            number: number.clone(),
            incoming: inc.clone(),
            retransmission: retrans,
            answered: None,
        });
        (
            retrans,
            st.finals.get(&key).cloned(),
            st.answers.get(&number).cloned(),
        )
    };
    if retrans {
        tracing::debug!(
            transaction = %key,
            from = %inc.from,
            final_resent = stored.is_some(),
            "IMS core: server transaction, retransmission absorbed"
        );
        if let Some(b) = stored {
            let _ = ep.send(inc.transport, inc.from, &b).await;
        }
        return;
    }
    tracing::debug!(transaction = %key, %number, from = %inc.from, "IMS core: server transaction, new request");
    let (code, delay) = match method.as_str() {
        "MESSAGE" => match answer.unwrap_or(Answer::Respond {
            code: 404,
            delay: Duration::ZERO,
        }) {
            Answer::Respond { code, delay } => (code, delay),
            Answer::Silent => return,
        },
        "OPTIONS" | "BYE" => (200, Duration::ZERO),
        "INVITE" => {
            let bytes = invite_answer(state, &msg, &number, inc.from);
            lock(state).finals.insert(key.clone(), bytes.clone());
            let _ = ep.send(inc.transport, inc.from, &bytes).await;
            return;
        }
        _ => (405, Duration::ZERO),
    };
    let bytes = response_to(&msg, code, reason(code))
        .to_tag(&token())
        .received_from(inc.from)
        .build();
    let (ep, state) = (ep.clone(), state.clone());
    let send = async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        {
            let mut st = lock(&state);
            st.finals.insert(key.clone(), bytes.clone());
            let at = Instant::now();
            if let Some(d) = st.log.iter_mut().rev().find(|d| {
                !d.retransmission
                    && d.incoming.msg.as_ref().is_ok_and(|m| {
                        format!(
                            "{}|{}",
                            m.top_via_branch().unwrap_or_default(),
                            m.method().unwrap_or_default()
                        ) == key
                    })
            }) {
                d.answered = Some((code, at));
            }
        }
        let _ = ep.send(inc.transport, inc.from, &bytes).await;
    };
    if delay.is_zero() {
        send.await;
    } else {
        tokio::spawn(send);
    }
}

fn msrp_framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    crate::codec::msrp::next_frame(buf, max).map_err(|e| e.to_string())
}

/// 200 with an SDP answer for a number that takes Large Messages; 488 otherwise.
fn invite_answer(
    state: &Arc<Mutex<State>>,
    msg: &crate::codec::sip::SipMessage,
    number: &str,
    from: std::net::SocketAddr,
) -> Vec<u8> {
    let (policy, addr) = {
        let st = lock(state);
        (st.large.get(number).cloned(), st.msrp_addr)
    };
    let media = crate::codec::sdp::Sdp::parse(msg.body())
        .ok()
        .and_then(|d| d.media().into_iter().find(|m| m.media == "message"));
    let offer_ok = media.is_some();
    // An offer of MSRP over TLS is answered over TLS, at the recipient's
    // TLS listener (RFC 4975 §8.1, §14.2), or refused when it has none.
    let tls = media.as_ref().is_some_and(|m| m.is_msrp_tls());
    let addr = match (tls, policy.as_ref()) {
        (true, Some(p)) => p.tls_at,
        _ => addr,
    };
    let (Some(_), Some(addr), true) = (policy, addr, offer_ok) else {
        return response_to(msg, 488, "Not Acceptable Here")
            .to_tag(&token())
            .received_from(from)
            .build();
    };
    let sid = token();
    lock(state).sessions.insert(sid.clone(), number.to_string());
    let url = if tls {
        crate::codec::sdp::msrps_url(addr, &sid)
    } else {
        crate::codec::sdp::msrp_url(addr, &sid)
    };
    let sdp = crate::codec::sdp::msrp_session(
        addr.ip(),
        addr.port(),
        &url,
        &["text/plain"],
        Some("passive"),
    );
    response_to(msg, 200, "OK")
        .to_tag(&token())
        .received_from(from)
        .header(
            "Contact",
            &format!("<sip:+{number}@{}>", crate::net::uri_host(addr.ip())),
        )
        .header("Content-Type", "application/sdp")
        .body(&sdp)
        .build()
}

/// Takes the chunks of Large Messages by the policy of their recipient.
async fn serve_msrp(
    conn: Arc<crate::net::stream::StreamConn>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
) {
    use crate::codec::msrp::{self, ByteRange, EndFlag, MsrpMessage};
    let over_tls = conn.tls().is_some();
    loop {
        let Some(a) = conn.recv(Instant::now() + Duration::from_secs(3600)).await else {
            continue;
        };
        let crate::net::stream::StreamEvent::Message(bytes) = a.event else {
            return;
        };
        let Ok(m) = MsrpMessage::parse(&bytes) else {
            continue;
        };
        if m.method() != Some("SEND") {
            continue;
        }
        let own = m.to_path().first().cloned().unwrap_or_default();
        let sid = crate::codec::msrp::url_session(&own).unwrap_or_default();
        let (number, policy) = {
            let st = lock(&state);
            let n = st.sessions.get(&sid).cloned().unwrap_or_default();
            let p = st.large.get(&n).cloned();
            (n, p)
        };
        let flag = m.flag();
        let push = |kind: LargeKind| {
            lock(&state).large_log.push(LargeEvent {
                number: number.clone(),
                at: Instant::now(),
                kind,
                tls: over_tls,
            });
        };
        // Judge the chunk itself: it must fit its message (Byte-Range,
        // length). The chunk and the verdict on it are logged together, so
        // whoever sees the one sees the other.
        {
            let id = m.message_id().unwrap_or_default().to_string();
            let mut st = lock(&state);
            let verdict = m.check().and_then(|_| {
                let r = st.reassembly.entry(id.clone()).or_default();
                r.push(&m)?;
                Ok(r.is_complete().then(|| r.bytes()).flatten())
            });
            let at = Instant::now();
            let mut log = |kind| {
                st.large_log.push(LargeEvent {
                    number: number.clone(),
                    at,
                    kind,
                    tls: over_tls,
                })
            };
            log(LargeKind::Chunk(flag.as_byte() as char));
            match verdict {
                Err(e) => log(LargeKind::Bad(format!(
                    "{e} — bytes: {}",
                    crate::codec::escape_bytes(m.raw(), 200)
                ))),
                Ok(Some(all)) => log(LargeKind::Complete(all)),
                Ok(None) => {}
            }
        }
        notify.notify_waiters();
        let Some(p) = policy else {
            let _ = conn
                .send(&msrp::response_to(&m, 481, "Session Does Not Exist", &own))
                .await;
            notify.notify_waiters();
            continue;
        };
        let last = flag == EndFlag::Complete;
        if let (true, Some(code)) = (last, p.failure_report) {
            let range = m
                .byte_range()
                .and_then(|r| r.ok())
                .unwrap_or(ByteRange::WHOLE);
            push(LargeKind::Responded { code, last: true });
            let _ = conn
                .send(&msrp::report_for(
                    &m,
                    &own,
                    &msrp::new_tid(),
                    range,
                    code,
                    "Failure",
                ))
                .await;
            notify.notify_waiters();
            continue;
        }
        let code = if last { p.last } else { p.more };
        if let Some(code) = code {
            let phrase = if code == 200 { "OK" } else { "Error" };
            // Logged before the send: whatever the answer triggers comes after it.
            push(LargeKind::Responded { code, last });
            let _ = conn.send(&msrp::response_to(&m, code, phrase, &own)).await;
            if last && code == 200 && p.report {
                let total = m
                    .byte_range()
                    .and_then(|r| r.ok())
                    .and_then(|r| r.end)
                    .unwrap_or(0);
                let range = ByteRange {
                    start: 1,
                    end: Some(total),
                    total: Some(total),
                };
                push(LargeKind::Reported);
                let _ = conn
                    .send(&msrp::report_for(
                        &m,
                        &own,
                        &msrp::new_tid(),
                        range,
                        200,
                        "OK",
                    ))
                    .await;
            }
        }
        notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::number_of;

    #[test]
    fn telephone_numbers_are_judged_as_written() {
        for (uri, n) in [
            ("tel:+15550309444", Some("15550309444")),
            ("tel:+1-555-030-9444;npdi", Some("15550309444")),
            ("sip:+15550309444@ims.test;user=phone", Some("15550309444")),
            (
                "<sip:+1.555.030.9444@ims.test;user=phone>",
                Some("15550309444"),
            ),
            ("sip:+15550309444@liaison.test", Some("15550309444")),
            // RFC 3966 §5.1.4: no `+`, no phone-context: not a valid tel URI.
            ("tel:15550309444", None),
            // A local number is not the global one, whatever its context.
            ("tel:5550309444;phone-context=+1", None),
            ("sip:15550309444@ims.test;user=phone", None),
            ("tel:", None),
            // Not a telephone number: a device address, keyed by its digits.
            (
                "sip:mms_15550309444;ctx=a%2Bb@ims.test",
                Some("15550309444"),
            ),
        ] {
            assert_eq!(number_of(uri).as_deref(), n, "{uri}");
        }
    }
}
