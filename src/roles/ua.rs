//! SIP user agents the harness plays: an originating UA (UAC side, via
//! [`non_invite_client`]) and a recipient UA ([`Recipient`]) whose server
//! transactions answer by a policy the scenario sets and absorb
//! retransmissions (RFC 3261 §17.2.2), logging everything that arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::sip::{request, response_to, token, SipMessage};
use crate::net::{Incoming, SipEndpoint, Transport};
use crate::roles::transaction::{invite_client, non_invite_client, Bounds, ClientResult, Timers};

/// A SIP user agent bound to its own harness endpoint.
pub struct Ua {
    pub ep: Arc<SipEndpoint>,
    /// The user's AoR, e.g. `sip:alice-3f2a@liaison.test`.
    pub aor: String,
    pub timers: Timers,
    cseq: Mutex<u32>,
    /// The host this UA names in its Via and Contact over a WebSocket
    /// connection its endpoint opened: a random name under `.invalid`.
    ws_host: String,
}

/// An INVITE dialog from the caller's side.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub transport: Transport,
    /// Where in-dialog requests go (the SUT's SIP address: no Record-Route handling yet).
    pub dst: SocketAddr,
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub remote_target: String,
    pub cseq: u32,
}

/// A request ready to send: its exact bytes and its branch.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub bytes: Vec<u8>,
    pub branch: String,
    pub call_id: String,
}

impl Ua {
    pub fn new(ep: Arc<SipEndpoint>, aor: String, timers: Timers) -> Ua {
        Ua {
            ep,
            aor,
            timers,
            cseq: Mutex::new(1),
            ws_host: format!("{}.invalid", token().to_ascii_lowercase()),
        }
    }

    /// Where this UA says it is over `t` (Via sent-by, Contact host): the
    /// endpoint's address; over a WebSocket connection the endpoint opened
    /// (it listens for none, [`SipEndpoint::addr`] then falls back to its
    /// TCP listener), a random `.invalid` name instead. A WebSocket client
    /// takes no connections (RFC 7118 §5; its §8 examples use such names,
    /// which never resolve, RFC 6761 §6.4), so the response must come back
    /// over the connection the request went on: with the TCP listener's
    /// address in the Via, a server that routed its response by the Via
    /// (RFC 3261 §18.2.2) would reach the harness over TCP by a side path.
    pub fn sent_by(&self, t: Transport) -> String {
        let a = self.ep.addr(t);
        if t.is_ws() && a == self.ep.tcp_addr() {
            self.ws_host.clone()
        } else {
            a.to_string()
        }
    }

    fn next_cseq(&self) -> u32 {
        let mut c = self.cseq.lock().unwrap_or_else(|e| e.into_inner());
        *c += 1;
        *c
    }

    fn via(&self, t: Transport, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            t.via_name(),
            self.sent_by(t)
        )
    }

    /// The Contact URI at which this UA receives requests over `t`.
    pub fn contact(&self, t: Transport) -> String {
        let user = self
            .aor
            .trim_start_matches("sip:")
            .split('@')
            .next()
            .unwrap_or("user")
            .to_string();
        match t {
            Transport::Udp => format!("<sip:{user}@{}>", self.ep.addr(t)),
            Transport::Tcp => format!("<sip:{user}@{};transport=tcp>", self.ep.addr(t)),
            // RFC 5630 §3.1.3: a sips: Contact over TLS; transport=tls is
            // deprecated (§3.1.2).
            Transport::Tls => format!("<sips:{user}@{}>", self.ep.addr(t)),
            Transport::Ws => format!("<sip:{user}@{};transport=ws>", self.sent_by(t)),
            Transport::Wss => format!("<sip:{user}@{};transport=wss>", self.sent_by(t)),
        }
    }

    /// A pager-mode MESSAGE (RFC 3428): no Contact, a body of the given type.
    pub fn message(
        &self,
        t: Transport,
        request_uri: &str,
        to: &str,
        content_type: &str,
        body: &[u8],
    ) -> Outgoing {
        self.message_with(t, request_uri, to, content_type, body, &[])
    }

    /// A pager-mode MESSAGE with extra header fields (before Content-Type),
    /// e.g. Accept-Contact for a push or Expires and Date for a lifetime.
    pub fn message_with(
        &self,
        t: Transport,
        request_uri: &str,
        to: &str,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Outgoing {
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@liaison", token());
        let cseq = self.next_cseq();
        let mut b = request("MESSAGE", request_uri)
            .header("Via", &self.via(t, &branch))
            .header("Max-Forwards", "70")
            .header("From", &format!("<{}>;tag={}", self.aor, token()))
            .header("To", &format!("<{to}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{cseq} MESSAGE"));
        for (name, value) in extra {
            b = b.header(name, value);
        }
        let bytes = b.header("Content-Type", content_type).body(body).build();
        Outgoing {
            bytes,
            branch,
            call_id,
        }
    }

    /// An OPTIONS query (RFC 3261 §11) with Accept: application/sdp.
    pub fn options(&self, t: Transport, request_uri: &str, to: &str) -> Outgoing {
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@liaison", token());
        let cseq = self.next_cseq();
        let bytes = request("OPTIONS", request_uri)
            .header("Via", &self.via(t, &branch))
            .header("Max-Forwards", "70")
            .header("From", &format!("<{}>;tag={}", self.aor, token()))
            .header("To", &format!("<{to}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{cseq} OPTIONS"))
            .header("Accept", "application/sdp")
            .build();
        Outgoing {
            bytes,
            branch,
            call_id,
        }
    }

    /// A REGISTER binding this UA's contact for `expires` seconds.
    pub fn register(&self, t: Transport, registrar_uri: &str, expires: u32) -> Outgoing {
        self.register_with(t, registrar_uri, expires, "")
    }

    /// A REGISTER whose Contact carries `params` after the URI (feature tags,
    /// RFC 3840 §6: e.g. `;+g.oma.pusheventapp="mms.ua"`). It says
    /// `Supported: path` (RFC 3327 §5.1): a proxy on the way (the harness
    /// IMS core as P-CSCF) may then add its Path, and a registrar need not
    /// refuse that Path with 420 (§5.3).
    pub fn register_with(
        &self,
        t: Transport,
        registrar_uri: &str,
        expires: u32,
        params: &str,
    ) -> Outgoing {
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@liaison", token());
        let cseq = self.next_cseq();
        // RFC 5630 §5.1.1.1: with only sips: contacts (over TLS), the AoR
        // in From and To is the sips: one.
        let aor = match (t, self.aor.strip_prefix("sip:")) {
            (Transport::Tls, Some(rest)) => format!("sips:{rest}"),
            _ => self.aor.clone(),
        };
        let bytes = request("REGISTER", registrar_uri)
            .header("Via", &self.via(t, &branch))
            .header("Max-Forwards", "70")
            .header("From", &format!("<{aor}>;tag={}", token()))
            .header("To", &format!("<{aor}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{cseq} REGISTER"))
            .header("Supported", "path")
            .header("Contact", &format!("{}{params}", self.contact(t)))
            .header("Expires", &expires.to_string())
            .build();
        Outgoing {
            bytes,
            branch,
            call_id,
        }
    }

    /// An INVITE offering `sdp` (RFC 3261 §13.2.1; Contact required).
    pub fn invite(&self, t: Transport, request_uri: &str, to: &str, sdp: &[u8]) -> Outgoing {
        self.invite_with(t, request_uri, to, sdp, &[])
    }

    /// An INVITE with extra header fields (before Content-Type), e.g. a
    /// P-Preferred-Identity for the core to assert.
    pub fn invite_with(
        &self,
        t: Transport,
        request_uri: &str,
        to: &str,
        sdp: &[u8],
        extra: &[(&str, &str)],
    ) -> Outgoing {
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@liaison", token());
        let cseq = self.next_cseq();
        let mut b = request("INVITE", request_uri)
            .header("Via", &self.via(t, &branch))
            .header("Max-Forwards", "70")
            .header("From", &format!("<{}>;tag={}", self.aor, token()))
            .header("To", &format!("<{to}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{cseq} INVITE"))
            .header("Contact", &self.contact(t));
        for (name, value) in extra {
            b = b.header(name, value);
        }
        let bytes = b
            .header("Content-Type", "application/sdp")
            .body(sdp)
            .build();
        Outgoing {
            bytes,
            branch,
            call_id,
        }
    }

    /// Runs an INVITE client transaction for `out`.
    pub async fn send_invite(
        &self,
        t: Transport,
        dst: SocketAddr,
        out: &Outgoing,
        deadline: Instant,
    ) -> ClientResult {
        let bounds = Bounds {
            timers: self.timers,
            deadline,
            linger: Duration::ZERO,
        };
        invite_client(&self.ep, t, dst, out.bytes.clone(), &out.branch, bounds).await
    }

    /// The dialog a 2xx to our INVITE set up (RFC 3261 §12.1.2).
    pub fn dialog(
        &self,
        t: Transport,
        dst: SocketAddr,
        invite: &Outgoing,
        ok: &SipMessage,
    ) -> Option<Dialog> {
        let inv = SipMessage::parse(&invite.bytes).ok()?;
        Some(Dialog {
            transport: t,
            dst,
            call_id: invite.call_id.clone(),
            from: inv.header("From")?.to_string(),
            to: ok.header("To")?.to_string(),
            remote_target: ok
                .header("Contact")
                .and_then(crate::codec::sip::uri_of)
                .unwrap_or_else(|| inv.request_uri().unwrap_or_default().to_string()),
            cseq: inv.cseq()?.0,
        })
    }

    /// The ACK for a 2xx (RFC 3261 §13.2.2.4): a new transaction, same CSeq number.
    pub async fn ack(&self, d: &Dialog) -> std::io::Result<Vec<u8>> {
        let branch = format!("z9hG4bK{}", token());
        let bytes = request("ACK", &d.remote_target)
            .header("Via", &self.via(d.transport, &branch))
            .header("Max-Forwards", "70")
            .header("From", &d.from)
            .header("To", &d.to)
            .header("Call-ID", &d.call_id)
            .header("CSeq", &format!("{} ACK", d.cseq))
            .build();
        self.ep.send(d.transport, d.dst, &bytes).await?;
        Ok(bytes)
    }

    /// BYE in the dialog (RFC 3261 §15.1.1).
    pub async fn bye(&self, d: &mut Dialog, deadline: Instant) -> ClientResult {
        d.cseq += 1;
        let branch = format!("z9hG4bK{}", token());
        let bytes = request("BYE", &d.remote_target)
            .header("Via", &self.via(d.transport, &branch))
            .header("Max-Forwards", "70")
            .header("From", &d.from)
            .header("To", &d.to)
            .header("Call-ID", &d.call_id)
            .header("CSeq", &format!("{} BYE", d.cseq))
            .build();
        let out = Outgoing {
            bytes,
            branch,
            call_id: d.call_id.clone(),
        };
        self.send(d.transport, d.dst, &out, deadline, Duration::ZERO)
            .await
    }

    /// Runs a client transaction for `out`.
    pub async fn send(
        &self,
        t: Transport,
        dst: SocketAddr,
        out: &Outgoing,
        deadline: Instant,
        linger: Duration,
    ) -> ClientResult {
        let bounds = Bounds {
            timers: self.timers,
            deadline,
            linger,
        };
        non_invite_client(&self.ep, t, dst, out.bytes.clone(), &out.branch, bounds).await
    }
}

/// How a [`Recipient`] answers the next new MESSAGE transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Answer with this status after `delay`.
    Respond { code: u16, delay: Duration },
    /// Never answer.
    Silent,
}

/// One request that reached the recipient.
#[derive(Debug, Clone)]
pub struct Received {
    pub incoming: Incoming,
    /// Same transaction (top-Via branch and method) as an earlier request.
    pub retransmission: bool,
}

/// Most final responses a [`Recipient`] keeps for absorbing
/// retransmissions; past it the oldest goes. A non-INVITE server
/// transaction absorbs retransmissions for Timer J (64·T1, RFC 3261
/// §17.2.2); a run answers a few dozen.
pub const MAX_ANSWERED: usize = 1024;

/// Keeps a final response for `key`, dropping the oldest past [`MAX_ANSWERED`].
pub fn remember<V>(
    table: &mut HashMap<String, (Vec<u8>, u16, V)>,
    key: String,
    entry: (Vec<u8>, u16, V),
) where
    V: Ord + Copy,
{
    table.insert(key, entry);
    while table.len() > MAX_ANSWERED {
        let Some(oldest) = table
            .iter()
            .min_by_key(|(_, e)| e.2)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        table.remove(&oldest);
    }
}

#[derive(Default)]
struct State {
    answer: Option<Answer>,
    /// Set by [`Recipient::take_invites`]: the SDP answer INVITEs get.
    invite_sdp: Option<Vec<u8>>,
    log: Vec<Received>,
    /// Final responses sent, by transaction key, for absorbing retransmissions.
    answered: HashMap<String, (Vec<u8>, u16, Instant)>,
}

/// A harness UA that receives requests and answers them by policy.
pub struct Recipient {
    pub ua: Arc<Ua>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recipient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

use crate::codec::sip::reason_phrase as reason;

/// Is `i` a MESSAGE whose body is `body`?
fn is_message_with(i: &Incoming, body: &[u8]) -> bool {
    i.msg
        .as_ref()
        .is_ok_and(|m| m.method() == Some("MESSAGE") && m.body() == body)
}

fn tx_key(m: &SipMessage) -> String {
    format!(
        "{}|{}",
        m.top_via_branch().unwrap_or_default(),
        m.method().unwrap_or_default()
    )
}

/// How a [`Recipient`] answers a new request (not a retransmission) under
/// `policy`: the status, the delay and the response bytes; None for no
/// answer (an ACK, or a MESSAGE under [`Answer::Silent`]).
pub fn respond(
    policy: Option<&Answer>,
    msg: &SipMessage,
    from: std::net::SocketAddr,
) -> Option<(u16, Duration, Vec<u8>)> {
    let method = msg.method().unwrap_or_default().to_string();
    let (code, delay) = match method.as_str() {
        "MESSAGE" => match policy.cloned().unwrap_or(Answer::Respond {
            code: 200,
            delay: Duration::ZERO,
        }) {
            Answer::Respond { code, delay } => (code, delay),
            Answer::Silent => return None,
        },
        "OPTIONS" => (200, Duration::ZERO),
        "ACK" => return None,
        _ => (405, Duration::ZERO),
    };
    let mut b = response_to(msg, code, reason(code))
        .to_tag(&token())
        .received_from(from);
    if code == 415 {
        b = b.header("Accept", "text/plain");
    }
    if code == 405 {
        b = b.header("Allow", "MESSAGE, OPTIONS");
    }
    Some((code, delay, b.build()))
}

fn lock_state(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// A member's answer: 200 to an INVITE (SDP answer, Contact, the
/// Record-Route copied) or to a BYE.
fn take_invite(
    ua: &Ua,
    msg: &SipMessage,
    from: SocketAddr,
    t: Transport,
    sdp: &[u8],
) -> (u16, Duration, Vec<u8>) {
    let mut b = response_to(msg, 200, "OK")
        .to_tag(&token())
        .received_from(from);
    if msg.method() == Some("INVITE") {
        for rr in msg.header_all("Record-Route") {
            b = b.header("Record-Route", rr);
        }
        b = b
            .header("Contact", &ua.contact(t))
            .header("Content-Type", "application/sdp")
            .body(sdp);
    }
    (200, Duration::ZERO, b.build())
}

impl Recipient {
    /// Starts answering requests arriving at `ua`'s endpoint.
    pub fn start(ua: Arc<Ua>) -> Recipient {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let ua = ua.clone();
            let state = state.clone();
            let notify = notify.clone();
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ua.ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    Recipient::handle(&ua, &state, inc).await;
                    notify.notify_waiters();
                }
            })
        };
        Recipient {
            ua,
            state,
            notify,
            task,
        }
    }

    async fn handle(ua: &Arc<Ua>, state: &Arc<Mutex<State>>, inc: Incoming) {
        let Ok(msg) = inc.msg.clone() else { return };
        let key = tx_key(&msg);
        let (retrans, stored, answer) = {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            let retrans = st
                .log
                .iter()
                .any(|r| r.incoming.msg.as_ref().is_ok_and(|m| tx_key(m) == key));
            st.log.push(Received {
                incoming: inc.clone(),
                retransmission: retrans,
            });
            (
                retrans,
                st.answered.get(&key).map(|a| a.0.clone()),
                st.answer.clone(),
            )
        };
        let sdp = lock_state(state).invite_sdp.clone();
        if retrans {
            tracing::debug!(
                transaction = %key,
                from = %inc.from,
                final_resent = stored.is_some(),
                "server transaction: retransmission absorbed"
            );
            // §17.2.2: a retransmission gets the final response again, if there is one.
            if let Some(bytes) = stored {
                let _ = ua.ep.send(inc.transport, inc.from, &bytes).await;
            }
            return;
        }
        let reply = match sdp {
            Some(sdp) if matches!(msg.method(), Some("INVITE" | "BYE")) => {
                Some(take_invite(ua, &msg, inc.from, inc.transport, &sdp))
            }
            _ => respond(answer.as_ref(), &msg, inc.from),
        };
        let Some((code, delay, bytes)) = reply else {
            tracing::debug!(transaction = %key, from = %inc.from, "server transaction: new request, not answered");
            return;
        };
        tracing::debug!(
            transaction = %key,
            from = %inc.from,
            transport = %inc.transport,
            code,
            delay_ms = delay.as_millis() as u64,
            "server transaction: new request, answered"
        );
        let ua = ua.clone();
        let state = state.clone();
        let send = async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            remember(
                &mut state.lock().unwrap_or_else(|e| e.into_inner()).answered,
                key,
                (bytes.clone(), code, Instant::now()),
            );
            let _ = ua.ep.send(inc.transport, inc.from, &bytes).await;
        };
        if delay.is_zero() {
            send.await;
        } else {
            tokio::spawn(send);
        }
    }

    /// Takes INVITEs from now on (a group member the harness plays): 200
    /// with `sdp` as the answer, its Contact and the Record-Route copied
    /// (RFC 3261 §12.1.1); BYE 200; ACK absorbed.
    pub fn take_invites(&self, sdp: Vec<u8>) {
        lock_state(&self.state).invite_sdp = Some(sdp);
    }

    /// Sets how the next MESSAGE transactions are answered.
    pub fn set_answer(&self, a: Answer) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).answer = Some(a);
    }

    /// Everything received so far.
    pub fn log(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log
            .clone()
    }

    /// When the recipient sent its final response to the transaction `key`
    /// (branch|method) and with which status.
    pub fn answered(&self, m: &SipMessage) -> Option<(u16, Instant)> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .answered
            .get(&tx_key(m))
            .map(|a| (a.1, a.2))
    }

    /// Waits until `pred` holds for the log, or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Received]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.log()) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }

    /// The first MESSAGE received whose body is `body`, as it arrived.
    pub fn message_with_body(&self, body: &[u8]) -> Option<Incoming> {
        self.log()
            .into_iter()
            .map(|r| r.incoming)
            .find(|i| is_message_with(i, body))
    }

    /// Waits until a MESSAGE whose body is `body` has arrived, or `deadline`
    /// passes; that MESSAGE, if one came.
    pub async fn wait_message_with_body(&self, deadline: Instant, body: &[u8]) -> Option<Incoming> {
        self.wait_for(deadline, |log| {
            log.iter().any(|r| is_message_with(&r.incoming, body))
        })
        .await;
        self.message_with_body(body)
    }

    /// New MESSAGE transactions received (retransmissions excluded).
    pub fn messages(&self) -> Vec<SipMessage> {
        self.log()
            .into_iter()
            .filter(|r| !r.retransmission)
            .filter_map(|r| r.incoming.msg.ok())
            .filter(|m| m.method() == Some("MESSAGE"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipient_keeps_at_most_max_answered_final_responses() {
        // Before the cap: one entry per transaction for the whole run.
        let mut table = HashMap::new();
        let t = Instant::now();
        for i in 0..MAX_ANSWERED + 10 {
            let at = t + Duration::from_millis(i as u64);
            remember(&mut table, format!("b{i}|MESSAGE"), (Vec::new(), 200, at));
        }
        assert_eq!(table.len(), MAX_ANSWERED);
        // The oldest went.
        assert!(!table.contains_key("b9|MESSAGE") && table.contains_key("b10|MESSAGE"));
    }

    #[test]
    fn the_answer_policy() {
        let m = SipMessage::parse(
            b"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
              From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        let from = "127.0.0.1:5070".parse().unwrap();
        assert_eq!(respond(None, &m, from).map(|r| r.0), Some(200));
        assert_eq!(respond(Some(&Answer::Silent), &m, from), None);
        let a = Answer::Respond {
            code: 415,
            delay: Duration::ZERO,
        };
        let r = respond(Some(&a), &m, from).unwrap();
        let resp = SipMessage::parse(&r.2).unwrap();
        assert_eq!(
            (resp.status(), resp.header("Accept")),
            (Some(415), Some("text/plain"))
        );
    }

    /// RFC 3327 §5.1: the harness's REGISTERs say they support Path, so a
    /// registrar behind a Path-adding proxy has no reason for 420.
    #[tokio::test]
    async fn register_says_supported_path() {
        let ep = SipEndpoint::bind(
            [127, 0, 0, 1].into(),
            crate::net::capture::Capture::disabled(),
        )
        .await
        .unwrap();
        let ua = Ua::new(
            Arc::new(ep),
            "sip:bob@liaison.test".into(),
            Timers::from_t1_ms(100),
        );
        let out = ua.register(Transport::Udp, "sip:liaison.test", 60);
        let m = SipMessage::parse(&out.bytes).unwrap();
        assert!(m
            .header_values("Supported")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("path")));
    }
}
