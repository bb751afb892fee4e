//! The XDMS's SIP side: the `xcap-diff` event package (RFC 5875) behind
//! the IMS core, on a UDP socket of its own (the port of the HTTP
//! listener). The texts of RFC 5875 and RFC 5874 were not read here: the
//! package and document names are from secondary sources.
//!
//! - SUBSCRIBE `Event: xcap-diff` only from the trust domain (the core's
//!   address, RFC 3325 §5), for the identity the core asserted: the
//!   subscriber watches its own documents (every AUID under
//!   `users/<XUI>/`); a Request-URI naming another user is 403 (RFC 4825
//!   §5.7's default policy: a user's documents are that user's). 200 with
//!   the dialog's tag and the Record-Route, then at once a NOTIFY listing
//!   the subscriber's documents with their entity tags.
//! - After any change to one of those documents (PUT or DELETE of the
//!   document or of an element), a NOTIFY naming it with its previous and
//!   new entity tag, through the route the SUBSCRIBE recorded (RFC 3261
//!   §12.1.1), retransmitted over UDP until answered or 64·T1.
//! - Bounded: [`MAX_SUBSCRIPTIONS`] (503 past it), expiries capped at
//!   [`MAX_EXPIRES`], datagrams read up to 64 kB.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::super::{lock, uri_socket_addr, Completed, Settings};
use crate::codec::ims::uris;
use crate::codec::presence::event_package;
use crate::codec::sip::{request, response_to, token, uri_of, uri_user_host, SipMessage};
use crate::codec::xcap::{DiffDocument, XcapDiff, DIFF_EVENT, DIFF_TYPE};

/// The most subscriptions kept at once.
pub const MAX_SUBSCRIPTIONS: usize = 1024;
/// The longest subscription granted, in seconds.
pub const MAX_EXPIRES: u32 = 3600;

struct Sub {
    /// The subscriber's user@host (the owner of the documents watched).
    owner: String,
    call_id: String,
    /// Our From (the SUBSCRIBE's To with our tag) and their To (its From).
    ours: String,
    theirs: String,
    target: String,
    route: Vec<String>,
    cseq: u32,
    until: Instant,
}

#[derive(Default)]
struct State {
    subs: Vec<Sub>,
    done: Completed,
    outstanding: HashSet<String>,
    answered: HashSet<String>,
}

/// A NOTIFY to send: where, its branch, its bytes.
type Planned = (SocketAddr, String, Vec<u8>);

/// The notifier: its socket, the XCAP root it names, its subscriptions.
pub struct Notifier {
    udp: Arc<UdpSocket>,
    me: SocketAddr,
    settings: Settings,
    xcap_root: String,
    state: Mutex<State>,
}

/// A user's key: `user@host`, the host in lower case (an XUI and an
/// asserted identity name one user whatever their parameters).
pub fn user_key(uri: &str) -> String {
    let uri = if uri.contains('<') {
        uri_of(uri).unwrap_or_default()
    } else {
        uri.trim().to_string()
    };
    let (user, host) = uri_user_host(&uri);
    format!(
        "{}@{}",
        user.unwrap_or_default(),
        host.unwrap_or_default().to_ascii_lowercase()
    )
}

impl Notifier {
    pub fn new(
        udp: Arc<UdpSocket>,
        settings: Settings,
        xcap_root: String,
    ) -> std::io::Result<Notifier> {
        Ok(Notifier {
            me: udp.local_addr()?,
            udp,
            settings,
            xcap_root,
            state: Mutex::default(),
        })
    }

    pub fn socket(&self) -> Arc<UdpSocket> {
        self.udp.clone()
    }

    /// From the trust domain: the core's address (its IP, and port where
    /// the core shares its IP), never what a Via says (RFC 3325 §5).
    fn trusted(&self, src: SocketAddr) -> bool {
        self.settings.ims.as_ref().is_some_and(|i| {
            src.ip() == i.core.ip() && (!i.trust_port || src.port() == i.core.port())
        })
    }

    fn answer(&self, m: &SipMessage, code: u16, headers: &[(&str, String)]) -> Vec<u8> {
        let mut b = response_to(m, code, crate::codec::sip::reason_phrase(code)).to_tag(&token());
        for (n, v) in headers {
            b = b.header(n, v);
        }
        b.build()
    }

    /// One datagram. `documents` lists a user's documents (for the
    /// initial NOTIFY), given the user's key.
    pub async fn datagram(
        self: &Arc<Self>,
        m: SipMessage,
        src: SocketAddr,
        documents: impl Fn(&str) -> Vec<DiffDocument>,
    ) {
        if !m.is_request() {
            if let Some(b) = m.top_via_branch() {
                let mut st = lock(&self.state);
                if st.outstanding.remove(&b) {
                    st.answered.insert(b);
                }
                if m.status() == Some(481) {
                    let cid = m.call_id().unwrap_or_default().to_string();
                    st.subs.retain(|s| s.call_id != cid);
                }
            }
            return;
        }
        if m.method() == Some("ACK") {
            return;
        }
        let key = format!(
            "{}|{}",
            m.top_via_branch().unwrap_or_default(),
            m.method().unwrap_or_default()
        );
        let stored = {
            let mut st = lock(&self.state);
            st.done.expire(self.settings.t1 * 64);
            st.done.get(&key).map(|x| x.0.clone())
        };
        if let Some(bytes) = stored {
            let _ = self.udp.send_to(&bytes, src).await;
            return;
        }
        let (resp, notifies) = match m.method().unwrap_or_default() {
            "SUBSCRIBE" => self.subscribe(&m, src, documents),
            "OPTIONS" => (self.answer(&m, 200, &[]), vec![]),
            _ => (
                self.answer(&m, 405, &[("Allow", "SUBSCRIBE, OPTIONS".into())]),
                vec![],
            ),
        };
        lock(&self.state).done.insert(key, resp.clone());
        let _ = self.udp.send_to(&resp, src).await;
        self.send(notifies);
    }

    fn subscribe(
        &self,
        m: &SipMessage,
        src: SocketAddr,
        documents: impl Fn(&str) -> Vec<DiffDocument>,
    ) -> (Vec<u8>, Vec<Planned>) {
        if event_package(m.header("Event").unwrap_or_default()) != DIFF_EVENT {
            return (
                self.answer(m, 489, &[("Allow-Events", DIFF_EVENT.into())]),
                vec![],
            );
        }
        let expires = m
            .header("Expires")
            .and_then(|e| e.trim().parse::<u32>().ok())
            .unwrap_or(MAX_EXPIRES)
            .min(MAX_EXPIRES);
        let now = Instant::now();
        let call_id = m.call_id().unwrap_or_default().to_string();
        let contact = format!("<sip:xdms@{}>", self.me);
        if let Some(tag) = m.to_tag() {
            // A refresh or an unsubscribe in an existing dialog.
            let mut st = lock(&self.state);
            let Some(i) = st
                .subs
                .iter()
                .position(|s| s.call_id == call_id && s.ours.contains(&tag))
            else {
                return (self.answer(m, 481, &[]), vec![]);
            };
            st.subs[i].until = now + Duration::from_secs(u64::from(expires));
            let docs = documents(&st.subs[i].owner);
            let n = self.plan(&mut st.subs[i], docs, expires == 0);
            if expires == 0 {
                st.subs.remove(i);
            }
            let resp = response_to(m, 200, "OK")
                .header("Expires", &expires.to_string())
                .header("Contact", &contact)
                .build();
            return (resp, n.into_iter().collect());
        }
        let asserted = if self.trusted(src) {
            uris(m, "P-Asserted-Identity")
        } else {
            Vec::new()
        };
        let Some(owner) = asserted.first().map(|a| user_key(a)) else {
            return (self.answer(m, 403, &[]), vec![]);
        };
        if user_key(m.request_uri().unwrap_or_default()) != owner {
            return (self.answer(m, 403, &[]), vec![]);
        }
        let Some(target) = m.header("Contact").and_then(uri_of) else {
            return (self.answer(m, 400, &[]), vec![]);
        };
        let mut st = lock(&self.state);
        st.subs.retain(|s| s.until > now);
        if st.subs.len() >= MAX_SUBSCRIPTIONS {
            return (self.answer(m, 503, &[("Retry-After", "60".into())]), vec![]);
        }
        let tag = token();
        let mut sub = Sub {
            owner: owner.clone(),
            call_id,
            ours: format!("{};tag={tag}", m.header("To").unwrap_or_default()),
            theirs: m.header("From").unwrap_or_default().to_string(),
            target,
            route: m.header_values("Record-Route"),
            cseq: 0,
            until: now + Duration::from_secs(u64::from(expires)),
        };
        let n = self.plan(&mut sub, documents(&owner), expires == 0);
        if expires > 0 {
            st.subs.push(sub);
        }
        // The 2xx carries the Record-Route (RFC 3261 §12.1.1), so the
        // subscriber's side of the dialog has the same route set.
        let mut resp = response_to(m, 200, "OK").to_tag(&tag);
        for rr in m.header_all("Record-Route") {
            resp = resp.header("Record-Route", rr);
        }
        let resp = resp
            .header("Expires", &expires.to_string())
            .header("Contact", &contact)
            .build();
        (resp, n.into_iter().collect())
    }

    /// A document of `owner` changed: a NOTIFY to each of its subscribers
    /// (none under the fault `xdms-no-xcap-diff`).
    pub fn changed(self: &Arc<Self>, owner: &str, doc: DiffDocument) {
        if self.settings.has_fault("xdms-no-xcap-diff") {
            return;
        }
        let owner = user_key(owner);
        let now = Instant::now();
        let planned: Vec<Planned> = {
            let mut st = lock(&self.state);
            st.subs.retain(|s| s.until > now);
            st.subs
                .iter_mut()
                .filter(|s| s.owner == owner)
                .filter_map(|s| self.plan(s, vec![doc.clone()], false))
                .collect()
        };
        self.send(planned);
    }

    /// The NOTIFY of `s` naming `docs` (terminated when `end`).
    fn plan(&self, s: &mut Sub, docs: Vec<DiffDocument>, end: bool) -> Option<Planned> {
        s.cseq += 1;
        let left = s.until.saturating_duration_since(Instant::now()).as_secs();
        let state = if end {
            "terminated;reason=timeout".to_string()
        } else {
            format!("active;expires={left}")
        };
        let body = XcapDiff {
            xcap_root: self.xcap_root.clone(),
            documents: docs,
        }
        .to_xml();
        let branch = format!("z9hG4bK{}", token());
        let mut b = request("NOTIFY", &s.target).header(
            "Via",
            &format!("SIP/2.0/UDP {};branch={branch};rport", self.me),
        );
        for r in &s.route {
            b = b.header("Route", r);
        }
        b = b
            .header("Max-Forwards", "70")
            .header("From", &s.ours)
            .header("To", &s.theirs)
            .header("Call-ID", &s.call_id)
            .header("CSeq", &format!("{} NOTIFY", s.cseq))
            .header("Contact", &format!("<sip:xdms@{}>", self.me))
            .header("Event", DIFF_EVENT)
            .header("Subscription-State", &state)
            .header("Content-Type", DIFF_TYPE)
            .body(&body);
        let first = s.route.first().and_then(|r| uri_of(r));
        let to = uri_socket_addr(first.as_deref().unwrap_or(&s.target))?.0;
        Some((to, branch, b.build()))
    }

    /// Sends NOTIFYs, each retransmitted over UDP (Timer E, RFC 3261
    /// §17.1.2.2) until answered or 64·T1.
    fn send(self: &Arc<Self>, list: Vec<Planned>) {
        for (to, branch, bytes) in list {
            let me = self.clone();
            lock(&self.state).outstanding.insert(branch.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                let mut wait = me.settings.t1;
                loop {
                    let _ = me.udp.send_to(&bytes, to).await;
                    tokio::time::sleep(wait).await;
                    {
                        let mut st = lock(&me.state);
                        if st.answered.remove(&branch) || start.elapsed() > me.settings.t1 * 64 {
                            st.outstanding.remove(&branch);
                            return;
                        }
                    }
                    wait = (wait * 2).min(me.settings.t1 * 80);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribe(me: SocketAddr, event: &str, ruri: &str, pai: Option<&str>) -> Vec<u8> {
        let mut b = request("SUBSCRIBE", ruri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {me};branch=z9hG4bK{}", token()),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<{ruri}>;tag=f1"))
            .header("To", &format!("<{ruri}>"))
            .header("Call-ID", &format!("{}@t", token()))
            .header("CSeq", "1 SUBSCRIBE")
            .header("Contact", &format!("<sip:a@{me}>"))
            .header("Event", event)
            .header("Expires", "60");
        if let Some(p) = pai {
            b = b.header("P-Asserted-Identity", &format!("<{p}>"));
        }
        b.build()
    }

    async fn next(sock: &UdpSocket) -> SipMessage {
        let mut buf = vec![0u8; 65536];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        SipMessage::parse(&buf[..n]).unwrap()
    }

    /// The SIP side end to end on loopback: the wrong package, no asserted
    /// identity, someone else's documents, garbage; then a subscription,
    /// its first NOTIFY and the NOTIFY of a change.
    #[tokio::test]
    async fn subscriptions_are_the_asserted_users_own_and_changes_are_notified() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = peer.local_addr().unwrap();
        let settings = Settings {
            ims: Some(super::super::super::ImsConfig {
                core: me,
                trust_port: true,
            }),
            t1: Duration::from_millis(20),
            ..Settings::default()
        };
        let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let at = udp.local_addr().unwrap();
        let n =
            Arc::new(Notifier::new(udp.clone(), settings, "http://x/xcap-root".into()).unwrap());
        let task = {
            let n = n.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    let Ok((len, src)) = udp.recv_from(&mut buf).await else {
                        continue;
                    };
                    let Ok(m) = SipMessage::parse(&buf[..len]) else {
                        continue;
                    };
                    n.datagram(m, src, |_| {
                        vec![DiffDocument {
                            sel: "resource-lists/users/sip:a@x/index".into(),
                            previous_etag: None,
                            new_etag: Some("e1".into()),
                        }]
                    })
                    .await;
                }
            })
        };
        let alice = "sip:a@x";
        let cases = [
            ("presence", Some(alice), alice, 489),
            ("xcap-diff", None, alice, 403),
            ("xcap-diff", Some(alice), "sip:b@x", 403),
        ];
        for (event, pai, ruri, code) in cases {
            peer.send_to(&subscribe(me, event, ruri, pai), at)
                .await
                .unwrap();
            assert_eq!(
                next(&peer).await.status(),
                Some(code),
                "{event} {pai:?} {ruri}"
            );
        }
        peer.send_to(b"\x00garbage\r\n\r\n", at).await.unwrap();
        peer.send_to(&subscribe(me, "xcap-diff", alice, Some(alice)), at)
            .await
            .unwrap();
        let mut got = [next(&peer).await, next(&peer).await];
        got.sort_by_key(|m| m.is_request());
        assert_eq!(got[0].status(), Some(200));
        let first = &got[1];
        assert_eq!(first.header("Event"), Some(DIFF_EVENT));
        let d = XcapDiff::parse(first.body()).unwrap();
        assert_eq!(d.documents[0].new_etag.as_deref(), Some("e1"));
        let answer = response_to(first, 200, "OK").build();
        peer.send_to(&answer, at).await.unwrap();
        n.changed(
            "sip:a@x",
            DiffDocument {
                sel: "resource-lists/users/sip:a@x/index".into(),
                previous_etag: Some("e1".into()),
                new_etag: Some("e2".into()),
            },
        );
        let change = next(&peer).await;
        let d = XcapDiff::parse(change.body()).unwrap();
        assert_eq!(d.documents[0].previous_etag.as_deref(), Some("e1"));
        assert_eq!(d.documents[0].new_etag.as_deref(), Some("e2"));
        task.abort();
    }

    #[test]
    fn user_keys_ignore_brackets_parameters_and_host_case() {
        assert_eq!(user_key("<sip:a@X.test>"), "a@x.test");
        assert_eq!(
            user_key("sip:a@x.test;user=phone"),
            user_key("sip:a@x.test")
        );
        assert_ne!(user_key("sip:a@x.test"), user_key("sip:b@x.test"));
    }
}
