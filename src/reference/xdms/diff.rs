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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;

pub use super::super::notifier::user_key;
use super::super::notifier::{self, requested_expires, Dialog, Phase, Planned};
use super::super::Settings;
use crate::codec::presence::event_package;
use crate::codec::sip::{uri_of, SipMessage};
use crate::codec::xcap::{DiffDocument, XcapDiff, DIFF_EVENT, DIFF_TYPE};

/// The most subscriptions kept at once.
pub const MAX_SUBSCRIPTIONS: usize = 1024;
/// The longest subscription granted, in seconds.
pub const MAX_EXPIRES: u32 = 3600;

/// The notifier: its socket, the XCAP root it names, its subscriptions
/// (each kept with the subscriber's user@host, the owner of the documents
/// watched).
pub struct Notifier {
    sip: Arc<notifier::Notifier<String>>,
    settings: Settings,
    xcap_root: String,
}

impl Notifier {
    pub fn new(
        udp: Arc<UdpSocket>,
        settings: Settings,
        xcap_root: String,
    ) -> std::io::Result<Notifier> {
        Ok(Notifier {
            sip: Arc::new(notifier::Notifier::new(udp, settings.clone(), "xdms", ())?),
            settings,
            xcap_root,
        })
    }

    pub fn socket(&self) -> Arc<UdpSocket> {
        self.sip.socket()
    }

    /// One datagram. `documents` lists a user's documents (for the
    /// initial NOTIFY), given the user's key.
    pub async fn datagram(
        self: &Arc<Self>,
        m: SipMessage,
        src: SocketAddr,
        documents: impl Fn(&str) -> Vec<DiffDocument>,
    ) {
        self.sip
            .datagram(m, src, |m| match m.method().unwrap_or_default() {
                "SUBSCRIBE" => self.subscribe(m, src, documents),
                "OPTIONS" => (self.sip.answer(m, 200, &[]), vec![]),
                _ => (
                    self.sip
                        .answer(m, 405, &[("Allow", "SUBSCRIBE, OPTIONS".into())]),
                    vec![],
                ),
            })
            .await;
    }

    fn subscribe(
        &self,
        m: &SipMessage,
        src: SocketAddr,
        documents: impl Fn(&str) -> Vec<DiffDocument>,
    ) -> (Vec<u8>, Vec<Planned>) {
        if event_package(m.header("Event").unwrap_or_default()) != DIFF_EVENT {
            return (
                self.sip
                    .answer(m, 489, &[("Allow-Events", DIFF_EVENT.into())]),
                vec![],
            );
        }
        let expires = requested_expires(m, MAX_EXPIRES);
        let refreshed = self.sip.resubscribe(m, expires, |st, i, end| {
            let s = &mut st.subs[i];
            self.plan(&mut s.dialog, documents(&s.data), end)
        });
        if let Some(answer) = refreshed {
            return answer;
        }
        let now = Instant::now();
        let asserted = self.sip.asserted(m, src);
        let Some(owner) = asserted.first().map(|a| user_key(a)) else {
            return (self.sip.answer(m, 403, &[]), vec![]);
        };
        if user_key(m.request_uri().unwrap_or_default()) != owner {
            return (self.sip.answer(m, 403, &[]), vec![]);
        }
        let Some(target) = m.header("Contact").and_then(uri_of) else {
            return (self.sip.answer(m, 400, &[]), vec![]);
        };
        let mut st = self.sip.lock();
        st.expire(now);
        if st.subs.len() >= MAX_SUBSCRIPTIONS {
            return (
                self.sip.answer(m, 503, &[("Retry-After", "60".into())]),
                vec![],
            );
        }
        let docs = documents(&owner);
        let (resp, n) = self
            .sip
            .subscribe(&mut st, m, target, owner, expires, now, |st, i| {
                self.plan(&mut st.subs[i].dialog, docs, expires == 0)
            });
        (resp, n.into_iter().collect())
    }

    /// A document of `owner` changed: a NOTIFY to each of its subscribers
    /// (none under the fault `xdms-no-xcap-diff`).
    pub fn changed(self: &Arc<Self>, owner: &str, doc: DiffDocument) {
        if self.settings.has_fault("xdms-no-xcap-diff") {
            return;
        }
        let owner = user_key(owner);
        let mut planned = Vec::new();
        {
            let mut st = self.sip.lock();
            st.expire(Instant::now());
            for s in st.subs.iter_mut().filter(|s| s.data == owner) {
                planned.extend(self.plan(&mut s.dialog, vec![doc.clone()], false));
            }
        }
        self.sip.send(planned);
    }

    /// The NOTIFY in dialog `d` naming `docs` (terminated when `end`).
    fn plan(&self, d: &mut Dialog, docs: Vec<DiffDocument>, end: bool) -> Option<Planned> {
        let body = XcapDiff {
            xcap_root: self.xcap_root.clone(),
            documents: docs,
        }
        .to_xml();
        let phase = if end {
            Phase::Terminated
        } else {
            Phase::Active
        };
        let body = Some((DIFF_TYPE, body.as_slice()));
        self.sip
            .notify(d, Instant::now(), DIFF_EVENT, phase, body, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::sip::{request, response_to, token};
    use std::time::Duration;

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
