//! The notifier side of SIP event subscriptions, shared by the reference
//! presence server and the reference XDMS (xcap-diff): a table of
//! subscriptions, each its dialog and what its package keeps, the answers
//! to SUBSCRIBE, and NOTIFYs sent and retransmitted over UDP.
//!
//! - RFC 6665 §4.2: a new subscription is answered 200 with our tag and a
//!   NOTIFY at once; a SUBSCRIBE in its dialog refreshes it, with Expires 0
//!   ends it (a last NOTIFY, terminated); `Subscription-State` gives the
//!   state and the seconds left. Expired subscriptions are dropped, and so
//!   is one whose NOTIFY is answered 481.
//! - RFC 6665 §4.4 (RFC 3261 §12.1.1): the dialog's route set is the
//!   SUBSCRIBE's Record-Route (echoed in the 200), its remote target the
//!   Contact; each NOTIFY carries the route set and the next CSeq.
//! - RFC 3261 §17.1.2.2: a NOTIFY is sent again after T1, then after twice
//!   the last wait up to T2 (8·T1), until answered or 64·T1 have passed;
//!   a retransmitted request is answered with the response stored for it
//!   (§17.2.2).
//!
//! Each role keeps its package's own parts: the event package, who may
//! subscribe, a subscription's state, and what a NOTIFY carries.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{lock, uri_socket_addr, Completed, Settings};
use crate::codec::ims::uris;
use crate::codec::sip::{
    reason_phrase, request, response_to, token, uri_of, uri_user_host, SipMessage,
};

/// A NOTIFY to send: where, its branch, its bytes.
pub(crate) type Planned = (SocketAddr, String, Vec<u8>);

/// A URI as written alone (a Request-URI, its parameters kept) or inside
/// `<…>` (a name-addr).
pub(crate) fn bare(uri: &str) -> String {
    if uri.contains('<') {
        uri_of(uri).unwrap_or_default()
    } else {
        uri.trim().to_string()
    }
}

/// A user's key: `user@host`, the host in lower case (one user whatever
/// the URI's brackets and parameters).
pub fn user_key(uri: &str) -> String {
    user_at_host(&bare(uri))
}

/// `user@host` of a bare URI, the host in lower case.
pub(crate) fn user_at_host(uri: &str) -> String {
    let (user, host) = uri_user_host(uri);
    format!(
        "{}@{}",
        user.unwrap_or_default(),
        host.unwrap_or_default().to_ascii_lowercase()
    )
}

/// The Expires a SUBSCRIBE asks for, `max` when absent or unreadable, and
/// never more than `max`.
pub(crate) fn requested_expires(m: &SipMessage, max: u32) -> u32 {
    m.header("Expires")
        .and_then(|e| e.trim().parse::<u32>().ok())
        .unwrap_or(max)
        .min(max)
}

/// A subscription's dialog, from the notifier's side.
pub(crate) struct Dialog {
    pub(crate) call_id: String,
    /// Our From (the SUBSCRIBE's To with our tag) and their To (its From).
    ours: String,
    theirs: String,
    target: String,
    route: Vec<String>,
    /// The CSeq of the last NOTIFY (0 before the first).
    pub(crate) cseq: u32,
    pub(crate) until: Instant,
}

/// One subscription: its dialog and what its package keeps.
pub(crate) struct Subscription<P> {
    pub(crate) dialog: Dialog,
    pub(crate) data: P,
}

/// The state a NOTIFY's `Subscription-State` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Active,
    Terminated,
}

/// The subscriptions, the role's own state beside them (under the same
/// lock), and the transactions.
pub(crate) struct Table<P, R> {
    pub(crate) subs: Vec<Subscription<P>>,
    pub(crate) role: R,
    done: Completed,
    /// The branches of NOTIFYs still retransmitted, and those answered.
    outstanding: HashSet<String>,
    answered: HashSet<String>,
}

impl<P, R> Table<P, R> {
    /// Drops the subscriptions expired by `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.subs.retain(|s| s.dialog.until > now);
    }
}

/// The notifier of one role: its UDP socket and its table.
pub(crate) struct Notifier<P, R = ()> {
    udp: Arc<UdpSocket>,
    me: SocketAddr,
    settings: Settings,
    /// Our Contact, `<sip:USER@address>`.
    contact: String,
    state: Mutex<Table<P, R>>,
}

impl<P: Send + 'static, R: Send + 'static> Notifier<P, R> {
    /// A notifier on `udp`, its Contact user `user`, the role's own state
    /// `role`.
    pub(crate) fn new(
        udp: Arc<UdpSocket>,
        settings: Settings,
        user: &str,
        role: R,
    ) -> std::io::Result<Self> {
        let me = udp.local_addr()?;
        Ok(Notifier {
            udp,
            me,
            settings,
            contact: format!("<sip:{user}@{me}>"),
            state: Mutex::new(Table {
                subs: Vec::new(),
                role,
                done: Completed::default(),
                outstanding: HashSet::new(),
                answered: HashSet::new(),
            }),
        })
    }

    pub(crate) fn socket(&self) -> Arc<UdpSocket> {
        self.udp.clone()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table<P, R>> {
        lock(&self.state)
    }

    /// From the trust domain: the core's address (its IP, and port where
    /// the core shares its IP), never what a Via says (RFC 3325 §5).
    pub(crate) fn trusted(&self, src: SocketAddr) -> bool {
        self.settings.ims.as_ref().is_some_and(|i| {
            src.ip() == i.core.ip() && (!i.trust_port || src.port() == i.core.port())
        })
    }

    /// The identities the trusted core asserted (none from elsewhere).
    pub(crate) fn asserted(&self, m: &SipMessage, src: SocketAddr) -> Vec<String> {
        if self.trusted(src) {
            uris(m, "P-Asserted-Identity")
        } else {
            Vec::new()
        }
    }

    /// A final response with a fresh To tag.
    pub(crate) fn answer(&self, m: &SipMessage, code: u16, headers: &[(&str, String)]) -> Vec<u8> {
        let mut b = response_to(m, code, reason_phrase(code)).to_tag(&token());
        for (n, v) in headers {
            b = b.header(n, v);
        }
        b.build()
    }

    /// One datagram: a response to one of our NOTIFYs is taken here; a
    /// request new to us is answered by `handle` (its response, then the
    /// NOTIFYs it planned), a retransmitted one from the stored response.
    pub(crate) async fn datagram(
        self: &Arc<Self>,
        m: SipMessage,
        src: SocketAddr,
        handle: impl FnOnce(&SipMessage) -> (Vec<u8>, Vec<Planned>),
    ) {
        if !m.is_request() {
            if let Some(b) = m.top_via_branch() {
                let mut st = self.lock();
                // Only answers to NOTIFYs in flight are kept (bounded).
                if st.outstanding.remove(&b) {
                    st.answered.insert(b);
                }
                if m.status() == Some(481) {
                    let cid = m.call_id().unwrap_or_default().to_string();
                    st.subs.retain(|s| s.dialog.call_id != cid);
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
            let mut st = self.lock();
            st.done.expire(self.settings.t1 * 64);
            st.done.get(&key).map(|x| x.0.clone())
        };
        if let Some(bytes) = stored {
            let _ = self.udp.send_to(&bytes, src).await;
            return;
        }
        let (resp, notifies) = handle(&m);
        self.lock().done.insert(key, resp.clone());
        let _ = self.udp.send_to(&resp, src).await;
        self.send(notifies);
    }

    /// A SUBSCRIBE in an existing dialog (a refresh; with Expires 0 an
    /// unsubscribe): None when it has no To tag (a new subscription).
    /// Otherwise 481 for a dialog unknown, or the new expiry set, the
    /// NOTIFY `plan` makes of the subscription (told whether it ends), the
    /// subscription dropped when it ends, and the 200.
    pub(crate) fn resubscribe(
        &self,
        m: &SipMessage,
        expires: u32,
        plan: impl FnOnce(&mut Table<P, R>, usize, bool) -> Option<Planned>,
    ) -> Option<(Vec<u8>, Vec<Planned>)> {
        let tag = m.to_tag()?;
        let now = Instant::now();
        let call_id = m.call_id().unwrap_or_default();
        let mut st = self.lock();
        let Some(i) = st
            .subs
            .iter()
            .position(|s| s.dialog.call_id == call_id && s.dialog.ours.contains(&tag))
        else {
            return Some((self.answer(m, 481, &[]), vec![]));
        };
        st.subs[i].dialog.until = now + Duration::from_secs(u64::from(expires));
        let end = expires == 0;
        let n = plan(&mut st, i, end);
        if end {
            st.subs.remove(i);
        }
        let resp = response_to(m, 200, "OK")
            .header("Expires", &expires.to_string())
            .header("Contact", &self.contact)
            .build();
        Some((resp, n.into_iter().collect()))
    }

    /// A new subscription from the SUBSCRIBE `m` to the remote target
    /// `target`: its dialog in `st` (our tag fresh, the route set its
    /// Record-Route), the first NOTIFY `plan` makes of it, the subscription
    /// dropped again when Expires is 0, and the 200. It lasts `expires`
    /// from `now`.
    // The table is the caller's (locked across its own checks before and
    // its NOTIFYs after); the rest is what a new subscription is made of.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn subscribe(
        &self,
        st: &mut Table<P, R>,
        m: &SipMessage,
        target: String,
        data: P,
        expires: u32,
        now: Instant,
        plan: impl FnOnce(&mut Table<P, R>, usize) -> Option<Planned>,
    ) -> (Vec<u8>, Option<Planned>) {
        let tag = token();
        st.subs.push(Subscription {
            dialog: Dialog {
                call_id: m.call_id().unwrap_or_default().to_string(),
                ours: format!("{};tag={tag}", m.header("To").unwrap_or_default()),
                theirs: m.header("From").unwrap_or_default().to_string(),
                target,
                route: m.header_values("Record-Route"),
                cseq: 0,
                until: now + Duration::from_secs(u64::from(expires)),
            },
            data,
        });
        let i = st.subs.len() - 1;
        let n = plan(st, i);
        if expires == 0 {
            st.subs.pop();
        }
        // The 2xx carries the Record-Route (RFC 3261 §12.1.1), so the
        // subscriber's side of the dialog has the same route set.
        let mut resp = response_to(m, 200, "OK").to_tag(&tag);
        for rr in m.header_all("Record-Route") {
            resp = resp.header("Record-Route", rr);
        }
        let resp = resp
            .header("Expires", &expires.to_string())
            .header("Contact", &self.contact)
            .build();
        (resp, n)
    }

    /// The next NOTIFY in dialog `d`: package `event`, state `phase` with
    /// the seconds left at `now`, `body` (content type, bytes) if any; sent
    /// through the route set, or straight to the target when `direct`.
    /// None when the address it goes to cannot be read.
    pub(crate) fn notify(
        &self,
        d: &mut Dialog,
        now: Instant,
        event: &str,
        phase: Phase,
        body: Option<(&str, &[u8])>,
        direct: bool,
    ) -> Option<Planned> {
        d.cseq += 1;
        let left = d.until.saturating_duration_since(now).as_secs();
        let state = match phase {
            Phase::Pending => format!("pending;expires={left}"),
            Phase::Active => format!("active;expires={left}"),
            Phase::Terminated if left == 0 => "terminated;reason=timeout".into(),
            Phase::Terminated => "terminated;reason=rejected".into(),
        };
        let branch = format!("z9hG4bK{}", token());
        let mut b = request("NOTIFY", &d.target).header(
            "Via",
            &format!("SIP/2.0/UDP {};branch={branch};rport", self.me),
        );
        if !direct {
            for r in &d.route {
                b = b.header("Route", r);
            }
        }
        b = b
            .header("Max-Forwards", "70")
            .header("From", &d.ours)
            .header("To", &d.theirs)
            .header("Call-ID", &d.call_id)
            .header("CSeq", &format!("{} NOTIFY", d.cseq))
            .header("Contact", &self.contact)
            .header("Event", event)
            .header("Subscription-State", &state);
        if let Some((ct, doc)) = body {
            b = b.header("Content-Type", ct).body(doc);
        }
        let first = if direct {
            None
        } else {
            d.route.first().and_then(|r| uri_of(r))
        };
        let to = uri_socket_addr(first.as_deref().unwrap_or(&d.target))?.0;
        Some((to, branch, b.build()))
    }

    /// Sends NOTIFYs, each retransmitted over UDP (Timer E, RFC 3261
    /// §17.1.2.2) until answered or 64·T1.
    pub(crate) fn send(self: &Arc<Self>, list: Vec<Planned>) {
        for (to, branch, bytes) in list {
            let me = self.clone();
            self.lock().outstanding.insert(branch.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                let mut wait = me.settings.t1;
                loop {
                    let _ = me.udp.send_to(&bytes, to).await;
                    tokio::time::sleep(wait).await;
                    {
                        let mut st = me.lock();
                        if st.answered.remove(&branch) || start.elapsed() > me.settings.t1 * 64 {
                            st.outstanding.remove(&branch);
                            return;
                        }
                    }
                    // Timer E doubles up to T2 (8·T1, as the reference's SIP
                    // client takes it).
                    wait = (wait * 2).min(me.settings.t1 * 8);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribe_request(record_route: &[&str], to_tag: Option<&str>, expires: u32) -> SipMessage {
        let to = match to_tag {
            Some(t) => format!("<sip:b@x>;tag={t}"),
            None => "<sip:b@x>".to_string(),
        };
        let mut b = request("SUBSCRIBE", "sip:b@x")
            .header("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKs1")
            .header("From", "<sip:a@x>;tag=f1")
            .header("To", &to)
            .header("Call-ID", "c1@t")
            .header("CSeq", "1 SUBSCRIBE")
            .header("Contact", "<sip:a@127.0.0.1:5998>")
            .header("Expires", &expires.to_string());
        for rr in record_route {
            b = b.header("Record-Route", rr);
        }
        SipMessage::parse(&b.build()).unwrap()
    }

    fn plan_active(
        n: &Notifier<u8>,
        direct: bool,
    ) -> impl FnOnce(&mut Table<u8, ()>, usize) -> Option<Planned> + '_ {
        move |st, i| {
            let d = &mut st.subs[i].dialog;
            n.notify(d, Instant::now(), "x", Phase::Active, None, direct)
        }
    }

    /// A new subscription's 200 and NOTIFY follow the dialog (tag, route
    /// set, CSeq); `direct` skips the route set; an in-dialog SUBSCRIBE
    /// with Expires 0 ends it and an unknown dialog is 481.
    #[tokio::test]
    async fn dialogs_routes_and_states() {
        let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let n = Notifier::<u8>::new(udp, Settings::default(), "u", ()).unwrap();
        let rr = "<sip:127.0.0.1:5997;lr>";
        let m = subscribe_request(&[rr], None, 60);
        let now = Instant::now();
        let mut st = n.lock();
        let (resp, first) = n.subscribe(
            &mut st,
            &m,
            "sip:a@127.0.0.1:5998".into(),
            7,
            60,
            now,
            plan_active(&n, false),
        );
        let resp = SipMessage::parse(&resp).unwrap();
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.header_all("Record-Route"), vec![rr]);
        let tag = resp.to_tag().unwrap();
        let (to, _, bytes) = first.unwrap();
        assert_eq!(to, "127.0.0.1:5997".parse().unwrap());
        let notify = SipMessage::parse(&bytes).unwrap();
        assert_eq!(notify.header_all("Route"), vec![rr]);
        assert_eq!(notify.cseq().unwrap().0, 1);
        assert_eq!(notify.to_tag().as_deref(), Some("f1"));
        assert!(notify.header("From").unwrap().contains(&tag));
        let state = notify.header("Subscription-State").unwrap();
        assert!(state.starts_with("active;expires="), "{state}");
        let direct = n
            .notify(&mut st.subs[0].dialog, now, "x", Phase::Pending, None, true)
            .unwrap();
        assert_eq!(direct.0, "127.0.0.1:5998".parse().unwrap());
        let notify = SipMessage::parse(&direct.2).unwrap();
        assert!(notify.header("Route").is_none());
        assert_eq!(notify.cseq().unwrap().0, 2);
        assert!(notify
            .header("Subscription-State")
            .unwrap()
            .starts_with("pending;expires="));
        drop(st);

        let end = subscribe_request(&[], Some(&tag), 0);
        let (resp, last) = n
            .resubscribe(&end, 0, |st, i, end| {
                assert!(end);
                let d = &mut st.subs[i].dialog;
                n.notify(d, Instant::now(), "x", Phase::Terminated, None, false)
            })
            .unwrap();
        assert_eq!(SipMessage::parse(&resp).unwrap().status(), Some(200));
        let last = SipMessage::parse(&last[0].2).unwrap();
        assert_eq!(
            last.header("Subscription-State"),
            Some("terminated;reason=timeout")
        );
        assert!(n.lock().subs.is_empty());
        let (resp, none) = n.resubscribe(&end, 0, |_, _, _| None).unwrap();
        assert_eq!(SipMessage::parse(&resp).unwrap().status(), Some(481));
        assert!(none.is_empty());
        assert!(n.resubscribe(&m, 60, |_, _, _| None).is_none());
    }
}
