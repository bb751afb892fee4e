//! Reference `poc-server`: a PoC server's control plane (OMA PoC's
//! controlling function for a pre-arranged group), signalling only, behind
//! the IMS core. One UDP socket of its own; every request it sends goes
//! through the core.
//!
//! - **Trust** (RFC 3325 §5): a request from the core's IP (IP and port with
//!   `trust_port`) is inside the trust domain, and its P-Asserted-Identity
//!   names the caller; from anywhere else, nothing is asserted, whatever
//!   the request carries.
//! - **Group session set-up**: an INVITE whose Request-URI is the group's
//!   URI, whose asserted identity is a member, with an SDP offer, is
//!   answered 100 and makes the server INVITE every other member (a B2BUA:
//!   new dialogs, Request-URI the member's AoR, `Route: <core;lr>`, From the
//!   group, its own SDP offer, and `Accept-Contact:
//!   *;+g.poc.talkburst;require;explicit`, RFC 3841 §9.2, so that only a
//!   contact that registered the PoC feature is reached). The originator
//!   gets 200 with an SDP answer (audio, no media is ever sent: port 9)
//!   once one member accepted, retransmitted until its ACK (RFC 3261
//!   §13.3.1.4); 480 when none did. Member legs answered 2xx are ACKed
//!   (their route set from Record-Route, §12.1.2), refused ones ACKed hop by
//!   hop (§17.1.1.3).
//! - A caller that is not a member (by asserted identity; the From is never
//!   looked at) gets 403 and nobody is invited; a Request-URI other than
//!   the group 404; an INVITE without an SDP offer 488.
//! - **BYE** from the originator is answered 200 and ends every member leg
//!   with a BYE through the core; a member's BYE ends its leg; CANCEL of an
//!   unanswered session answers the INVITE 487 and ends the legs as they
//!   come up. OPTIONS 200, other methods 405.
//!
//! Transactions over UDP: INVITE client (Timer A, B = 64·T1), non-INVITE
//! client (Timers E, F), server transactions absorbing retransmissions for
//! 64·T1 ([`super::Completed`]). At most [`MAX_SESSIONS`] sessions live at
//! once (503 past it); an ended one is let go 256·T1 after it began, and a
//! 200 never ACKed ends its session (§13.3.1.4).
//!
//! Faults (`FAULTS`): `poc-skips-member`, `poc-auth-from-from`,
//! `poc-no-accept-contact`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{lock, Completed, Settings};
use crate::codec::ims::uris;
use crate::codec::sip::{request, response_to, token, uri_of, uri_user_host, SipMessage};

/// The embedded reference's pre-arranged group and its members' domain
/// (apart from the IM server's, whose users the core sends to it).
pub const DOMAIN: &str = "poc.liaison.test";
/// The embedded reference's group URI.
pub const GROUP: &str = "sip:poc-group@poc.liaison.test";
/// The embedded reference's group members.
pub const MEMBERS: &[&str] = &[
    "sip:poc-ann@poc.liaison.test",
    "sip:poc-ben@poc.liaison.test",
    "sip:poc-cat@poc.liaison.test",
];

/// The Accept-Contact of every INVITE to a member (RFC 3841 §9.2).
pub const ACCEPT_CONTACT: &str = "*;+g.poc.talkburst;require;explicit";

/// Most sessions kept at once; an INVITE past it gets 503.
pub const MAX_SESSIONS: usize = 1024;

/// The group the server is configured with.
#[derive(Debug, Clone)]
pub struct PocConfig {
    pub group: String,
    pub members: Vec<String>,
}

impl Default for PocConfig {
    fn default() -> PocConfig {
        PocConfig {
            group: GROUP.into(),
            members: MEMBERS.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// The faults of the reference PoC server, each with the requirements
/// whose scenarios then fail.
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "poc-server",
        name: "poc-skips-member",
        description: "invites every other member of the group but the last one",
        breaks: &["POC-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "poc-server",
        name: "poc-auth-from-from",
        description: "judges group membership on the From the caller wrote, not on the identity the core asserted",
        breaks: &["POC-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "poc-server",
        name: "poc-no-accept-contact",
        description: "invites the members without Accept-Contact: *;+g.poc.talkburst;require;explicit",
        breaks: &["POC-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// One member leg of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LegState {
    Inviting,
    /// Accepted and ACKed: the dialog to end with BYE.
    Up(Dialog),
    Gone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Dialog {
    call_id: String,
    from: String,
    to: String,
    target: String,
    route: Vec<String>,
    cseq: u32,
}

struct Session {
    /// The originator's INVITE and where its responses go.
    invite: SipMessage,
    src: SocketAddr,
    to_tag: String,
    answered: bool,
    acked: bool,
    ended: bool,
    legs: Vec<LegState>,
    at: std::time::Instant,
}

#[derive(Default)]
struct State {
    done: Completed,
    /// Client transactions waiting for responses, by Via branch.
    waiters: HashMap<String, mpsc::UnboundedSender<SipMessage>>,
    /// Sessions by the originator's Call-ID.
    sessions: HashMap<String, Session>,
    /// Member legs by their Call-ID: (session, leg index).
    legs: HashMap<String, (String, usize)>,
}

struct Server {
    sock: UdpSocket,
    addr: SocketAddr,
    core: SocketAddr,
    trust_port: bool,
    cfg: PocConfig,
    settings: Settings,
    state: Mutex<State>,
}

/// Starts the server on a UDP socket at `listen` (port 0: a free one).
pub async fn start(
    listen: SocketAddr,
    cfg: PocConfig,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let ims = settings.ims.clone().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "poc-server needs the IMS core it sits behind",
        )
    })?;
    let sock = UdpSocket::bind(listen).await?;
    let addr = sock.local_addr()?;
    let server = Arc::new(Server {
        sock,
        addr,
        core: ims.core,
        trust_port: ims.trust_port,
        cfg,
        settings,
        state: Mutex::default(),
    });
    Ok((addr, vec![tokio::spawn(server.run())]))
}

/// The key of an AoR: user and lower-cased host.
fn aor_key(uri: &str) -> String {
    let (u, h) = uri_user_host(uri);
    format!(
        "{}@{}",
        u.unwrap_or_default(),
        h.unwrap_or_default().to_ascii_lowercase()
    )
}

/// A plain audio description at `ip` (RFC 4566): the offer to members and
/// the answer to the originator. No media is sent (port 9, discard).
fn audio_sdp(ip: std::net::IpAddr) -> Vec<u8> {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=poc 1 1 IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
    .into_bytes()
}

const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS";

impl Server {
    async fn run(self: Arc<Self>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, src) = match self.sock.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Ok(msg) = SipMessage::parse(&buf[..n]) else {
                continue;
            };
            if msg.is_request() {
                tokio::spawn(self.clone().request(msg, src));
            } else if let Some(b) = msg.top_via_branch()
                && let Some(tx) = lock(&self.state).waiters.get(&b)
            {
                let _ = tx.send(msg);
            }
        }
    }

    fn t1(&self) -> Duration {
        self.settings.t1.max(Duration::from_millis(1))
    }

    /// Is `src` the core (RFC 3325 §5: trust by where a request came from)?
    fn is_core(&self, src: SocketAddr) -> bool {
        src.ip() == self.core.ip() && (!self.trust_port || src.port() == self.core.port())
    }

    async fn send(&self, to: SocketAddr, bytes: &[u8]) {
        let _ = self.sock.send_to(bytes, to).await;
    }

    /// Sends the final response of server transaction `key` and keeps it.
    async fn finish(&self, key: &str, to: SocketAddr, bytes: Vec<u8>) {
        lock(&self.state)
            .done
            .complete(key.to_string(), bytes.clone());
        self.send(to, &bytes).await;
    }

    async fn request(self: Arc<Self>, msg: SipMessage, src: SocketAddr) {
        let method = msg.method().unwrap_or_default().to_string();
        let call_id = msg.call_id().unwrap_or_default().to_string();
        if method == "ACK" {
            if let Some(s) = lock(&self.state).sessions.get_mut(&call_id) {
                s.acked = true;
            }
            return;
        }
        let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
        let seen = {
            let mut st = lock(&self.state);
            st.done.expire(self.t1() * 64);
            match st.done.get(&key) {
                Some((b, _)) => Some(b.clone()),
                None => {
                    st.done.trying(key.clone());
                    None
                }
            }
        };
        if let Some(bytes) = seen {
            // A retransmission: the last answer again (100 while trying).
            let again = if bytes.is_empty() && method == "INVITE" {
                response_to(&msg, 100, "Trying").build()
            } else {
                bytes
            };
            if !again.is_empty() {
                self.send(src, &again).await;
            }
            return;
        }
        let plain = |code: u16| {
            response_to(&msg, code, crate::codec::sip::reason_phrase(code))
                .to_tag(&token())
                .header("Allow", ALLOW)
                .build()
        };
        match method.as_str() {
            "INVITE" => self.invite(msg, src, key).await,
            "BYE" => {
                let code = self.bye(&call_id);
                self.finish(&key, src, plain(code)).await;
            }
            "CANCEL" => {
                let (code, cancelled) = self.cancel(&msg);
                self.finish(&key, src, plain(code)).await;
                if let Some((ikey, bytes)) = cancelled {
                    self.finish(&ikey, src, bytes).await;
                }
            }
            "OPTIONS" => self.finish(&key, src, plain(200)).await,
            _ => self.finish(&key, src, plain(405)).await,
        }
    }

    /// The identity a request's caller is known by: what the trusted core
    /// asserted, nothing from elsewhere (RFC 3325 §5).
    fn caller(&self, msg: &SipMessage, src: SocketAddr) -> Vec<String> {
        if self.settings.has_fault("poc-auth-from-from") {
            // Fault: the From the caller wrote taken for its identity.
            return msg.header("From").and_then(uri_of).into_iter().collect();
        }
        if self.is_core(src) {
            uris(msg, "P-Asserted-Identity")
        } else {
            Vec::new()
        }
    }

    async fn invite(self: Arc<Self>, msg: SipMessage, src: SocketAddr, key: String) {
        let call_id = msg.call_id().unwrap_or_default().to_string();
        let refuse = |code: u16| {
            response_to(&msg, code, crate::codec::sip::reason_phrase(code))
                .to_tag(&token())
                .build()
        };
        if msg.to_tag().is_some() {
            // No re-INVITE in these sessions.
            let b = refuse(if lock(&self.state).sessions.contains_key(&call_id) {
                488
            } else {
                481
            });
            return self.finish(&key, src, b).await;
        }
        self.send(src, &response_to(&msg, 100, "Trying").build())
            .await;
        if key_of(msg.request_uri()) != aor_key(&self.cfg.group) {
            return self.finish(&key, src, refuse(404)).await;
        }
        let caller = self.caller(&msg, src);
        let Some(originator) = self
            .cfg
            .members
            .iter()
            .find(|m| caller.iter().any(|c| aor_key(c) == aor_key(m)))
            .cloned()
        else {
            return self.finish(&key, src, refuse(403)).await;
        };
        let offer = msg.content_type().is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
        }) && crate::codec::sdp::Sdp::parse(msg.body()).is_ok();
        if !offer {
            return self.finish(&key, src, refuse(488)).await;
        }
        let mut others: Vec<String> = self
            .cfg
            .members
            .iter()
            .filter(|m| aor_key(m) != aor_key(&originator))
            .cloned()
            .collect();
        if self.settings.has_fault("poc-skips-member") {
            // Fault: the last member is left out.
            others.pop();
        }
        let full = {
            let mut st = lock(&self.state);
            if let Some(old) = std::time::Instant::now().checked_sub(self.t1() * 64 * 4) {
                st.sessions.retain(|_, s| !(s.at < old && s.ended));
            }
            let live: Vec<String> = st.sessions.keys().cloned().collect();
            st.legs.retain(|_, (sid, _)| live.contains(sid));
            st.sessions.len() >= MAX_SESSIONS
        };
        if full {
            return self.finish(&key, src, refuse(503)).await;
        }
        {
            let mut st = lock(&self.state);
            st.sessions.insert(
                call_id.clone(),
                Session {
                    invite: msg.clone(),
                    src,
                    to_tag: token(),
                    answered: false,
                    acked: false,
                    ended: false,
                    legs: vec![LegState::Inviting; others.len()],
                    at: std::time::Instant::now(),
                },
            );
        }
        let mut legs = Vec::new();
        for (i, member) in others.into_iter().enumerate() {
            legs.push(tokio::spawn(self.clone().leg(
                call_id.clone(),
                key.clone(),
                i,
                member,
            )));
        }
        for l in legs {
            let _ = l.await;
        }
        // Every leg done: nobody accepted.
        let unanswered = {
            let mut st = lock(&self.state);
            match st.sessions.get_mut(&call_id) {
                Some(s) if !s.answered && !s.ended => {
                    s.ended = true;
                    true
                }
                _ => false,
            }
        };
        if unanswered {
            self.finish(&key, src, refuse(480)).await;
        }
    }

    /// INVITEs `member` for session `sid` and follows the leg.
    async fn leg(self: Arc<Self>, sid: String, ikey: String, i: usize, member: String) {
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@poc", token());
        let from = format!("<{}>;tag={}", self.cfg.group, token());
        let mut b = request("INVITE", &member)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {};branch={branch};rport", self.addr),
            )
            .header("Max-Forwards", "70")
            .header("Route", &format!("<sip:{};lr>", self.core))
            .header("From", &from)
            .header("To", &format!("<{member}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", "1 INVITE")
            .header("Contact", &format!("<sip:poc@{}>", self.addr));
        if !self.settings.has_fault("poc-no-accept-contact") {
            b = b.header("Accept-Contact", ACCEPT_CONTACT);
        }
        let invite = b
            .header("Content-Type", "application/sdp")
            .body(&audio_sdp(self.addr.ip()))
            .build();
        lock(&self.state)
            .legs
            .insert(call_id.clone(), (sid.clone(), i));
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.state).waiters.insert(branch.clone(), tx);
        // INVITE client transaction (RFC 3261 §17.1.1.2): Timer A until a
        // response, Timer B for the whole.
        let t1 = self.t1();
        let end = Instant::now() + t1 * 64;
        let mut a = t1;
        let mut fire = Instant::now() + a;
        let mut proceeding = false;
        self.send(self.core, &invite).await;
        let fin = loop {
            let wake = if proceeding { end } else { fire.min(end) };
            match tokio::time::timeout_at(wake, rx.recv()).await {
                Ok(Some(r)) if r.status().is_some_and(|c| c >= 200) => break Some(r),
                Ok(Some(_)) => proceeding = true,
                Ok(None) => break None,
                Err(_) if Instant::now() >= end => break None,
                Err(_) => {
                    self.send(self.core, &invite).await;
                    a *= 2;
                    fire = Instant::now() + a;
                }
            }
        };
        let Some(fin) = fin else {
            self.leg_state(&sid, i, LegState::Gone);
            lock(&self.state).waiters.remove(&branch);
            return;
        };
        let code = fin.status().unwrap_or(500);
        if code >= 300 {
            // ACK for a non-2xx, hop by hop (§17.1.1.3): the same branch.
            let ack = request("ACK", &member)
                .header(
                    "Via",
                    &format!("SIP/2.0/UDP {};branch={branch};rport", self.addr),
                )
                .header("Max-Forwards", "70")
                .header("Route", &format!("<sip:{};lr>", self.core))
                .header("From", &from)
                .header("To", fin.header("To").unwrap_or_default())
                .header("Call-ID", &call_id)
                .header("CSeq", "1 ACK")
                .build();
            self.send(self.core, &ack).await;
            self.leg_state(&sid, i, LegState::Gone);
            lock(&self.state).waiters.remove(&branch);
            return;
        }
        // 2xx: the dialog (§12.1.2: route set the Record-Route reversed).
        let mut route = uris(&fin, "Record-Route");
        route.reverse();
        let dialog = Dialog {
            call_id: call_id.clone(),
            from: from.clone(),
            to: fin.header("To").unwrap_or_default().to_string(),
            target: fin
                .header("Contact")
                .and_then(uri_of)
                .unwrap_or_else(|| member.clone()),
            route,
            cseq: 1,
        };
        let ack = self.in_dialog("ACK", &dialog, 1);
        self.send(self.next_hop(&dialog), &ack).await;
        let ended = {
            let mut st = lock(&self.state);
            let ended = st.sessions.get(&sid).is_none_or(|s| s.ended);
            if let Some(s) = st.sessions.get_mut(&sid)
                && let Some(l) = s.legs.get_mut(i)
            {
                *l = LegState::Up(dialog.clone());
            }
            ended
        };
        if ended {
            // The session ended meanwhile (BYE, CANCEL): this leg too.
            self.leg_state(&sid, i, LegState::Gone);
            tokio::spawn(self.clone().bye_leg(dialog.clone()));
        } else {
            self.answer(&sid, &ikey).await;
        }
        // A retransmitted 2xx gets the ACK again (RFC 6026 §7.1, Timer M).
        let linger = Instant::now() + t1 * 64;
        while let Ok(Some(r)) = tokio::time::timeout_at(linger, rx.recv()).await {
            if r.status().is_some_and(|c| (200..300).contains(&c)) {
                self.send(self.next_hop(&dialog), &ack).await;
            }
        }
        lock(&self.state).waiters.remove(&branch);
    }

    fn leg_state(&self, sid: &str, i: usize, state: LegState) {
        if let Some(l) = lock(&self.state)
            .sessions
            .get_mut(sid)
            .and_then(|s| s.legs.get_mut(i))
        {
            *l = state;
        }
    }

    /// Where an in-dialog request goes: the first route's address, else
    /// the core.
    fn next_hop(&self, d: &Dialog) -> SocketAddr {
        d.route
            .first()
            .and_then(|r| super::uri_socket_addr(r))
            .map_or(self.core, |x| x.0)
    }

    /// An in-dialog request (RFC 3261 §12.2.1.1), a fresh branch.
    fn in_dialog(&self, method: &str, d: &Dialog, cseq: u32) -> Vec<u8> {
        let mut b = request(method, &d.target)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {};branch=z9hG4bK{};rport", self.addr, token()),
            )
            .header("Max-Forwards", "70");
        for r in &d.route {
            b = b.header("Route", &format!("<{r}>"));
        }
        b.header("From", &d.from)
            .header("To", &d.to)
            .header("Call-ID", &d.call_id)
            .header("CSeq", &format!("{cseq} {method}"))
            .build()
    }

    /// The originator's 200 (once), retransmitted until its ACK (§13.3.1.4).
    async fn answer(self: &Arc<Self>, sid: &str, ikey: &str) {
        let (bytes, src) = {
            let mut st = lock(&self.state);
            let Some(s) = st.sessions.get_mut(sid) else {
                return;
            };
            if s.answered || s.ended {
                return;
            }
            s.answered = true;
            let mut b = response_to(&s.invite, 200, "OK").to_tag(&s.to_tag);
            // §12.1.1: the Record-Route of the request, in order.
            for rr in s.invite.header_all("Record-Route") {
                b = b.header("Record-Route", rr);
            }
            let bytes = b
                .header("Contact", &format!("<sip:poc@{}>", self.addr))
                .header("Allow", ALLOW)
                .header("Content-Type", "application/sdp")
                .body(&audio_sdp(self.addr.ip()))
                .build();
            (bytes, s.src)
        };
        self.finish(ikey, src, bytes.clone()).await;
        let t1 = self.t1();
        let end = Instant::now() + t1 * 64;
        let mut every = t1;
        loop {
            tokio::time::sleep(every).await;
            let acked = lock(&self.state)
                .sessions
                .get(sid)
                .is_none_or(|s| s.acked || s.ended);
            if acked {
                return;
            }
            if Instant::now() >= end {
                // No ACK: the session ends, its legs with BYE (§13.3.1.4).
                let _ = self.bye(sid);
                return;
            }
            self.send(src, &bytes).await;
            every = (every * 2).min(t1 * 8);
        }
    }

    /// A BYE: the originator's ends the session (200; each member leg gets
    /// a BYE), a member's ends its leg; 481 for no dialog.
    fn bye(self: &Arc<Self>, call_id: &str) -> u16 {
        let mut st = lock(&self.state);
        if let Some(s) = st.sessions.get_mut(call_id) {
            s.ended = true;
            let up: Vec<Dialog> = s
                .legs
                .iter_mut()
                .filter_map(|l| match std::mem::replace(l, LegState::Gone) {
                    LegState::Up(d) => Some(d),
                    LegState::Inviting => {
                        *l = LegState::Inviting;
                        None
                    }
                    LegState::Gone => None,
                })
                .collect();
            drop(st);
            for d in up {
                tokio::spawn(self.clone().bye_leg(d));
            }
            return 200;
        }
        if let Some((sid, i)) = st.legs.get(call_id).cloned()
            && let Some(l) = st.sessions.get_mut(&sid).and_then(|s| s.legs.get_mut(i))
            && matches!(l, LegState::Up(_))
        {
            *l = LegState::Gone;
            return 200;
        }
        481
    }

    /// CANCEL of an unanswered session: 200, and the INVITE's 487 (its
    /// transaction key and bytes); 481 when nothing matches.
    fn cancel(&self, msg: &SipMessage) -> (u16, Option<(String, Vec<u8>)>) {
        let call_id = msg.call_id().unwrap_or_default();
        let mut st = lock(&self.state);
        let Some(s) = st.sessions.get_mut(call_id) else {
            return (481, None);
        };
        if s.invite.top_via_branch() != msg.top_via_branch() {
            return (481, None);
        }
        if s.answered || s.ended {
            return (200, None);
        }
        s.ended = true;
        let b = response_to(&s.invite, 487, "Request Terminated")
            .to_tag(&s.to_tag)
            .build();
        let ikey = format!("{}|INVITE", s.invite.top_via_branch().unwrap_or_default());
        (200, Some((ikey, b)))
    }

    /// Ends a member leg: BYE (non-INVITE client transaction, Timers E/F).
    async fn bye_leg(self: Arc<Self>, d: Dialog) {
        let bytes = self.in_dialog("BYE", &d, d.cseq + 1);
        let Some(branch) = SipMessage::parse(&bytes)
            .ok()
            .and_then(|m| m.top_via_branch())
        else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.state).waiters.insert(branch.clone(), tx);
        let to = self.next_hop(&d);
        let t1 = self.t1();
        let end = Instant::now() + t1 * 64;
        let mut e = t1;
        self.send(to, &bytes).await;
        loop {
            let wake = (Instant::now() + e).min(end);
            match tokio::time::timeout_at(wake, rx.recv()).await {
                Ok(Some(r)) if r.status().is_some_and(|c| c >= 200) => break,
                Ok(Some(_)) => e = t1 * 8,
                Ok(None) => break,
                Err(_) if Instant::now() >= end => break,
                Err(_) => {
                    self.send(to, &bytes).await;
                    e = (e * 2).min(t1 * 8);
                }
            }
        }
        lock(&self.state).waiters.remove(&branch);
    }
}

fn key_of(uri: Option<&str>) -> String {
    uri.map(aor_key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_the_offer() {
        assert_eq!(
            aor_key("sip:Poc-Ann@POC.liaison.test;user=x"),
            "Poc-Ann@poc.liaison.test"
        );
        assert_eq!(aor_key("<sip:a@h>"), aor_key("sip:a@H"));
        let sdp = audio_sdp("127.0.0.1".parse().unwrap());
        let parsed = crate::codec::sdp::Sdp::parse(&sdp).unwrap();
        assert_eq!(parsed.media()[0].media, "audio");
    }

    async fn recv(s: &UdpSocket) -> Option<(SipMessage, SocketAddr)> {
        let mut buf = vec![0u8; 65536];
        let (n, from) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some((SipMessage::parse(&buf[..n]).ok()?, from))
    }

    fn invite_is_core(core: SocketAddr, pai: &str, from: &str) -> Vec<u8> {
        request("INVITE", GROUP)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {core};branch=z9hG4bK{}", token()),
            )
            .header("Max-Forwards", "69")
            .header("Record-Route", &format!("<sip:core@{core};lr>"))
            .header("From", &format!("<{from}>;tag=1"))
            .header("To", &format!("<{GROUP}>"))
            .header("Call-ID", &format!("{}@t", token()))
            .header("CSeq", "1 INVITE")
            .header("Contact", "<sip:x@127.0.0.1:9>")
            .header("P-Asserted-Identity", &format!("<{pai}>"))
            .header("Content-Type", "application/sdp")
            .body(&audio_sdp("127.0.0.1".parse().unwrap()))
            .build()
    }

    /// A member asserted by the core: the other two are invited through
    /// the core with the PoC Accept-Contact; a non-member with a member's
    /// From gets 403.
    #[tokio::test]
    async fn invites_the_other_members_and_refuses_outsiders() {
        let core = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let core_addr = core.local_addr().unwrap();
        let settings = Settings {
            ims: Some(super::super::ImsConfig {
                core: core_addr,
                trust_port: true,
            }),
            t1: Duration::from_millis(20),
            ..Default::default()
        };
        let (addr, tasks) = start(
            "127.0.0.1:0".parse().unwrap(),
            PocConfig::default(),
            settings,
        )
        .await
        .unwrap();
        core.send_to(&invite_is_core(core_addr, MEMBERS[0], MEMBERS[0]), addr)
            .await
            .unwrap();
        let mut invited = Vec::new();
        while invited.len() < 2 {
            let (m, _) = recv(&core).await.expect("traffic from the server");
            if m.method() == Some("INVITE") {
                assert_eq!(m.header("Accept-Contact"), Some(ACCEPT_CONTACT));
                invited.push(m.request_uri().unwrap().to_string());
            }
        }
        invited.sort();
        assert_eq!(invited, [MEMBERS[1], MEMBERS[2]]);
        core.send_to(
            &invite_is_core(core_addr, "sip:eve@poc.liaison.test", MEMBERS[0]),
            addr,
        )
        .await
        .unwrap();
        loop {
            let (m, _) = recv(&core).await.expect("an answer");
            if m.status() == Some(100) || m.method().is_some() {
                continue;
            }
            assert_eq!(m.status(), Some(403));
            break;
        }
        for t in tasks {
            t.abort();
        }
    }
}
