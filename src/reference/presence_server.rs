//! Reference `presence-server` (RFC 3856 over RFC 6665, RFC 3903, 3GPP
//! TS 24.141) behind the IMS core, on UDP, with a small XCAP listener of its
//! own for its users' pres-rules (RFC 5025).
//!
//! - **PUBLISH** (RFC 3903 §6): only from the trust domain (the core's
//!   address, RFC 3325 §5) and asserted as the presentity the Request-URI
//!   names, else 403. `Event: presence` only (489 with Allow-Events). A
//!   new publication needs `application/pidf+xml` (415 with Accept) and a
//!   well-formed PIDF (400); it is answered 200 with a fresh `SIP-ETag` and
//!   an `Expires` capped at [`MAX_EXPIRES`]; `SIP-If-Match` names the
//!   publication to refresh (no body), modify (a body) or remove (Expires
//!   0); an unknown one is 412. Watchers allowed to see the presentity are
//!   told at once.
//! - **SUBSCRIBE** for `presence` and `presence.winfo` (RFC 6665, RFC 3857):
//!   the watcher is the identity the trusted core asserted, never the From;
//!   200 with the dialog's tag and an immediate NOTIFY through the route the
//!   SUBSCRIBE recorded (RFC 3261 §12.1.1), to the watcher's Contact. The
//!   presentity's pres-rules decide: `allow` active with the PIDF,
//!   `polite-block` active without state, `confirm` or no rule pending
//!   without a body, `block` 403. Watcher information goes to the
//!   presentity itself only (403 for anyone else). A tel: URI and a
//!   sip:…;user=phone URI of one global number name one presentity.
//! - **XCAP** (RFC 4825, only what pres-rules need, in [`xcap`]): PUT, GET
//!   and DELETE of `XCAP_ROOT/pres-rules/users/XUI/DOC`, from the trusted
//!   aggregation proxy's address with the asserted identity (in the
//!   configured header) equal to the XUI, else 403; PUT answered 201 for a
//!   new document, 200 for a replacement, both with an ETag. A change
//!   re-evaluates the presentity's watchers at once (NOTIFY on a change of
//!   state).
//! - Bounded: bodies [`MAX_BODY`], presentities [`MAX_PRESENTITIES`],
//!   subscriptions per presentity [`MAX_SUBSCRIPTIONS`] and in all
//!   [`MAX_ALL_SUBSCRIPTIONS`] (503 past them), NOTIFYs per subscription
//!   per second [`MAX_NOTIFY_PER_SECOND`] (the next one carries the
//!   state), XCAP connections [`MAX_HTTP_CONNECTIONS`], each request read
//!   within [`HTTP_READ`].
//! - Not done: a NOTIFY when a subscription or a publication expires, and
//!   watcher-information updates on a rules change (only on a new
//!   subscription).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};

use super::notifier::{bare, requested_expires, user_at_host, Notifier, Phase, Planned, Table};
use super::Settings;
use crate::codec::ims::global_number;
use crate::codec::presence::{
    event_package, PresRules, SubHandling, WatcherEntry, Watcherinfo, AUTH_POLICY_TYPE, PIDF_TYPE,
    PRES_RULES_AUID, WATCHERINFO_TYPE,
};
use crate::codec::sip::{token, uri_of, SipMessage};

/// The path of the XCAP root on the server's HTTP listener.
pub const XCAP_ROOT: &str = "/xcap-root";
/// The longest publication or subscription granted, in seconds.
pub const MAX_EXPIRES: u32 = 3600;
/// The largest body taken (PIDF, pres-rules).
pub const MAX_BODY: usize = crate::codec::presence::MAX_DOCUMENT;
pub const MAX_PRESENTITIES: usize = 4096;
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// The most subscriptions in all (any Request-URI can be subscribed to).
pub const MAX_ALL_SUBSCRIPTIONS: usize = 8192;
/// The most XCAP connections served at once; more are closed unread.
pub const MAX_HTTP_CONNECTIONS: usize = 64;
pub const MAX_NOTIFY_PER_SECOND: usize = 20;
/// How long an XCAP request may take to arrive whole.
pub const HTTP_READ: Duration = Duration::from_secs(5);

/// What the presence server is configured with besides the IMS core.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    /// The aggregation proxy: the one source of XCAP requests trusted.
    pub proxy: IpAddr,
    /// The header it asserts the user's identity in.
    pub identity_header: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Active,
    /// Active, but shown no state (polite blocking).
    Polite,
    Terminated,
}

struct Publication {
    etag: String,
    body: Vec<u8>,
    until: Instant,
}

/// What a subscription of either package keeps besides its dialog.
struct Watch {
    presentity: String,
    resource: String,
    winfo: bool,
    watcher: Vec<String>,
    status: Status,
    /// When its last NOTIFYs were planned (the rate limit).
    sent: VecDeque<Instant>,
}

/// The presentities' publications and pres-rules, kept under the lock of
/// the subscriptions.
#[derive(Default)]
struct Docs {
    publications: HashMap<String, Publication>,
    rules: HashMap<String, (Vec<u8>, PresRules, String)>,
}

type State = Table<Watch, Docs>;

struct Server {
    sip: Arc<Notifier<Watch, Docs>>,
    settings: Settings,
}

/// Starts the server: SIP on `listen` (UDP), XCAP on a listener of its own
/// on the same IP (port 0). Returns (SIP address, XCAP address, tasks).
pub async fn start(
    listen: SocketAddr,
    settings: Settings,
) -> std::io::Result<(SocketAddr, SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let udp = Arc::new(UdpSocket::bind(listen).await?);
    let me = udp.local_addr()?;
    let http = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
    let http_at = http.local_addr()?;
    let sip = Notifier::new(udp.clone(), settings.clone(), "presence", Docs::default())?;
    let server = Arc::new(Server {
        sip: Arc::new(sip),
        settings,
    });
    let sip = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 128 * 1024];
            loop {
                let Ok((n, src)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(m) = SipMessage::parse(&buf[..n]) else {
                    continue;
                };
                server.clone().datagram(m, src).await;
            }
        })
    };
    let xcap = {
        let server = server.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HTTP_CONNECTIONS));
        tokio::spawn(async move {
            loop {
                let Ok((stream, src)) = http.accept().await else {
                    continue;
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    xcap::connection(server, stream, src).await;
                    drop(slot);
                });
            }
        })
    };
    Ok((me, http_at, vec![sip, xcap]))
}

/// Removes every `<note …>…</note>` (fault `ps-drops-note`).
fn drop_notes(body: &[u8]) -> Vec<u8> {
    let mut s = String::from_utf8_lossy(body).into_owned();
    while let Some(i) = s.find("<note") {
        let Some(j) = s[i..].find("</note>") else {
            break;
        };
        s.replace_range(i..i + j + "</note>".len(), "");
    }
    s.into_bytes()
}

impl Server {
    fn has(&self, fault: &str) -> bool {
        self.settings.has_fault(fault)
    }

    /// One presentity (or watcher) key per user: a global number for tel:
    /// and sip:…;user=phone alike (RFC 3261 §19.1.6), else user@host.
    fn key(&self, uri: &str) -> String {
        let uri = bare(uri);
        if self.has("ps-tel-distinct") {
            return uri
                .split(';')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
        }
        if let Some(n) = global_number(&uri) {
            return n;
        }
        user_at_host(&uri)
    }

    async fn datagram(self: Arc<Self>, m: SipMessage, src: SocketAddr) {
        self.sip
            .datagram(m, src, |m| match m.method().unwrap_or_default() {
                "PUBLISH" => self.publish(m, src),
                "SUBSCRIBE" => self.subscribe(m, src),
                "OPTIONS" => (self.answer(m, 200, &[]), vec![]),
                _ => (
                    self.answer(m, 405, &[("Allow", "PUBLISH, SUBSCRIBE, OPTIONS".into())]),
                    vec![],
                ),
            })
            .await;
    }

    fn answer(&self, m: &SipMessage, code: u16, headers: &[(&str, String)]) -> Vec<u8> {
        self.sip.answer(m, code, headers)
    }

    fn publish(&self, m: &SipMessage, src: SocketAddr) -> (Vec<u8>, Vec<Planned>) {
        if event_package(m.header("Event").unwrap_or_default()) != "presence" {
            return (
                self.answer(m, 489, &[("Allow-Events", "presence".into())]),
                vec![],
            );
        }
        let ruri = m.request_uri().unwrap_or_default().to_string();
        let pkey = self.key(&ruri);
        let me_too = self
            .sip
            .asserted(m, src)
            .iter()
            .any(|a| self.key(a) == pkey);
        if !me_too && !self.has("ps-publish-anyone") {
            return (self.answer(m, 403, &[]), vec![]);
        }
        let expires = requested_expires(m, MAX_EXPIRES);
        let body = m.body();
        if !body.is_empty() {
            let ct = m.content_type().unwrap_or_default();
            if !ct.eq_ignore_ascii_case(PIDF_TYPE) {
                return (self.answer(m, 415, &[("Accept", PIDF_TYPE.into())]), vec![]);
            }
            if body.len() > MAX_BODY {
                return (self.answer(m, 413, &[]), vec![]);
            }
            if crate::codec::presence::Pidf::parse(body).is_err() && !self.has("ps-accepts-garbage")
            {
                return (self.answer(m, 400, &[]), vec![]);
            }
        }
        let now = Instant::now();
        let mut guard = self.sip.lock();
        let st = &mut guard.role;
        st.publications.retain(|_, p| p.until > now);
        let if_match = m.header("SIP-If-Match").map(str::trim).map(str::to_string);
        match &if_match {
            Some(tag) => {
                let known = st.publications.get(&pkey).is_some_and(|p| &p.etag == tag);
                if !known {
                    let code = if self.has("ps-500-on-unknown-etag") {
                        500
                    } else {
                        412
                    };
                    return (self.answer(m, code, &[]), vec![]);
                }
            }
            None if body.is_empty() => return (self.answer(m, 400, &[]), vec![]),
            None => {}
        }
        if expires == 0 {
            st.publications.remove(&pkey);
            drop(guard);
            let n = self.notify_watchers(&pkey);
            return (self.answer(m, 200, &[("Expires", "0".into())]), n);
        }
        if !st.publications.contains_key(&pkey) && st.publications.len() >= MAX_PRESENTITIES {
            return (self.answer(m, 503, &[("Retry-After", "60".into())]), vec![]);
        }
        let etag = token();
        let changed = !body.is_empty();
        let kept = st
            .publications
            .remove(&pkey)
            .map(|p| p.body)
            .unwrap_or_default();
        st.publications.insert(
            pkey.clone(),
            Publication {
                etag: etag.clone(),
                body: if changed { body.to_vec() } else { kept },
                until: now + Duration::from_secs(u64::from(expires)),
            },
        );
        drop(guard);
        let mut headers = vec![("Expires", expires.to_string())];
        if !self.has("ps-no-sip-etag") {
            headers.insert(0, ("SIP-ETag", etag));
        }
        let n = if changed {
            self.notify_watchers(&pkey)
        } else {
            vec![]
        };
        (self.answer(m, 200, &headers), n)
    }

    /// What the rules grant `watcher` for presentity `pkey`.
    fn decide(&self, st: &State, pkey: &str, watcher: &[String]) -> Status {
        if self.has("ps-force-active") {
            return Status::Active;
        }
        let handling = st.role.rules.get(pkey).and_then(|(_, r, _)| {
            watcher
                .iter()
                .filter_map(|w| r.handling_for(w, |a, b| self.key(a) == self.key(b)))
                .max()
        });
        match handling {
            Some(SubHandling::Allow) => Status::Active,
            Some(SubHandling::PoliteBlock) => Status::Polite,
            Some(SubHandling::Block) => Status::Terminated,
            Some(SubHandling::Confirm) | None => Status::Pending,
        }
    }

    fn subscribe(&self, m: &SipMessage, src: SocketAddr) -> (Vec<u8>, Vec<Planned>) {
        let pkg = event_package(m.header("Event").unwrap_or_default());
        if pkg != "presence" && pkg != "presence.winfo" {
            let allow = ("Allow-Events", "presence, presence.winfo".to_string());
            return (self.answer(m, 489, &[allow]), vec![]);
        }
        let expires = requested_expires(m, MAX_EXPIRES);
        let refreshed = self.sip.resubscribe(m, expires, |st, i, end| {
            if end {
                st.subs[i].data.status = Status::Terminated;
            }
            self.plan(st, i)
        });
        if let Some(answer) = refreshed {
            return answer;
        }
        let now = Instant::now();
        let Some(target) = m.header("Contact").and_then(uri_of) else {
            return (self.answer(m, 400, &[]), vec![]);
        };
        let watcher = if self.has("ps-watcher-from-from") {
            m.header("From").and_then(uri_of).into_iter().collect()
        } else {
            self.sip.asserted(m, src)
        };
        if watcher.is_empty() {
            return (self.answer(m, 403, &[]), vec![]);
        }
        let resource = bare(m.request_uri().unwrap_or_default());
        let pkey = self.key(&resource);
        let winfo = pkg == "presence.winfo";
        let mut guard = self.sip.lock();
        let st = &mut *guard;
        st.expire(now);
        let status = if winfo {
            if watcher.iter().any(|w| self.key(w) == pkey) || self.has("ps-winfo-open") {
                Status::Active
            } else {
                return (self.answer(m, 403, &[]), vec![]);
            }
        } else {
            self.decide(st, &pkey, &watcher)
        };
        if status == Status::Terminated {
            return (self.answer(m, 403, &[]), vec![]);
        }
        if st.subs.iter().filter(|s| s.data.presentity == pkey).count() >= MAX_SUBSCRIPTIONS
            || st.subs.len() >= MAX_ALL_SUBSCRIPTIONS
        {
            return (self.answer(m, 503, &[("Retry-After", "60".into())]), vec![]);
        }
        let watch = Watch {
            presentity: pkey.clone(),
            resource,
            winfo,
            watcher,
            status,
            sent: VecDeque::new(),
        };
        let (resp, first) = self
            .sip
            .subscribe(st, m, target, watch, expires, now, |st, i| self.plan(st, i));
        let mut n: Vec<Planned> = first.into_iter().collect();
        // The presentity's watcher-information subscribers learn of it.
        if !winfo {
            for j in 0..st.subs.len() {
                if st.subs[j].data.winfo && st.subs[j].data.presentity == pkey {
                    n.extend(self.plan(st, j));
                }
            }
        }
        (resp, n)
    }

    /// The NOTIFYs owed to the presence watchers of `pkey` after a change.
    fn notify_watchers(&self, pkey: &str) -> Vec<Planned> {
        let mut st = self.sip.lock();
        st.expire(Instant::now());
        let mut out = Vec::new();
        for i in 0..st.subs.len() {
            if !st.subs[i].data.winfo && st.subs[i].data.presentity == pkey {
                out.extend(self.plan(&mut st, i));
            }
        }
        out
    }

    /// Re-decides every presence watcher of `pkey` (a rules change) and
    /// plans a NOTIFY for each whose state changed.
    fn reevaluate(&self, pkey: &str) -> Vec<Planned> {
        let mut st = self.sip.lock();
        let mut out = Vec::new();
        for i in 0..st.subs.len() {
            let w = &st.subs[i].data;
            if w.winfo || w.presentity != pkey {
                continue;
            }
            let now = self.decide(&st, pkey, &w.watcher.clone());
            if now != st.subs[i].data.status {
                st.subs[i].data.status = now;
                out.extend(self.plan(&mut st, i));
            }
        }
        st.subs.retain(|s| s.data.status != Status::Terminated);
        out
    }

    /// The NOTIFY of subscription `i` in its current state (None past the
    /// rate limit: the next one carries the state).
    fn plan(&self, st: &mut State, i: usize) -> Option<Planned> {
        let now = Instant::now();
        let body: Option<(&str, Vec<u8>)> = {
            let s = &st.subs[i];
            let w = &s.data;
            match (w.status, w.winfo) {
                (Status::Active, false) => {
                    let doc = st
                        .role
                        .publications
                        .get(&w.presentity)
                        .filter(|p| p.until > now)
                        .map(|p| p.body.clone())
                        .unwrap_or_else(|| {
                            crate::codec::presence::Pidf {
                                entity: w.resource.clone(),
                                ..Default::default()
                            }
                            .to_xml()
                        });
                    let doc = if self.has("ps-drops-note") {
                        drop_notes(&doc)
                    } else {
                        doc
                    };
                    Some((PIDF_TYPE, doc))
                }
                (Status::Active, true) => {
                    let watchers = st
                        .subs
                        .iter()
                        .filter(|o| {
                            !o.data.winfo
                                && o.data.presentity == w.presentity
                                && o.dialog.until > now
                        })
                        .map(|o| WatcherEntry {
                            id: crate::codec::presence::escape(&o.dialog.call_id)
                                .chars()
                                .filter(char::is_ascii_alphanumeric)
                                .take(16)
                                .collect(),
                            status: match o.data.status {
                                Status::Pending => "pending",
                                Status::Terminated => "terminated",
                                _ => "active",
                            }
                            .into(),
                            event: "subscribe".into(),
                            uri: o.data.watcher.first().cloned().unwrap_or_default(),
                        })
                        .collect();
                    let doc = Watcherinfo {
                        version: s.dialog.cseq,
                        state: "full".into(),
                        resource: w.resource.clone(),
                        package: "presence".into(),
                        watchers,
                    };
                    Some((WATCHERINFO_TYPE, doc.to_xml()))
                }
                _ => None,
            }
        };
        let s = &mut st.subs[i];
        let w = &mut s.data;
        while w
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
        {
            w.sent.pop_front();
        }
        if w.sent.len() >= MAX_NOTIFY_PER_SECOND && w.status != Status::Terminated {
            return None;
        }
        w.sent.push_back(now);
        let phase = match w.status {
            Status::Pending => Phase::Pending,
            Status::Active | Status::Polite => Phase::Active,
            Status::Terminated => Phase::Terminated,
        };
        let event = if w.winfo {
            "presence.winfo"
        } else {
            "presence"
        };
        let body = body.as_ref().map(|(ct, doc)| (*ct, doc.as_slice()));
        let direct = self.has("ps-notify-direct");
        self.sip
            .notify(&mut s.dialog, now, event, phase, body, direct)
    }
}

/// The pres-rules documents over XCAP: one request per connection.
mod xcap {
    use super::*;
    use crate::codec::http::{self, HttpMessage};
    use tokio::io::AsyncWriteExt;

    pub(super) async fn connection(
        server: Arc<Server>,
        mut stream: tokio::net::TcpStream,
        src: SocketAddr,
    ) {
        let end = tokio::time::Instant::now() + HTTP_READ;
        let req = super::super::read_http_request(&mut stream, MAX_BODY + 8192, end).await;
        let (resp, notifies) = match req {
            Some(r) => server.xcap(&r, src),
            None => (
                http::response(400, "Bad Request", &[("Connection", "close")], b""),
                vec![],
            ),
        };
        let _ = stream.write_all(&resp).await;
        let _ = stream.shutdown().await;
        server.sip.send(notifies);
    }

    impl Server {
        pub(super) fn xcap(&self, r: &HttpMessage, src: SocketAddr) -> (Vec<u8>, Vec<Planned>) {
            let reply = |code: u16, headers: &[(&str, &str)], body: &[u8]| {
                let mut h = vec![("Connection", "close")];
                h.extend_from_slice(headers);
                // The codec's table lacks the XCAP answers 201 and 409.
                let reason = match code {
                    201 => "Created",
                    409 => "Conflict",
                    c => http::reason_phrase(c),
                };
                http::response(code, reason, &h, body)
            };
            let Some(cfg) = self.settings.presence.as_ref() else {
                return (reply(404, &[], b""), vec![]);
            };
            let target = r.target().unwrap_or_default();
            let prefix = format!("{XCAP_ROOT}/{PRES_RULES_AUID}/users/");
            let Some((xui, _doc)) = target
                .strip_prefix(&prefix)
                .and_then(|p| p.rsplit_once('/'))
            else {
                return (reply(404, &[], b""), vec![]);
            };
            let xui = crate::codec::ims::percent_decode(xui);
            let asserted = r
                .header(&cfg.identity_header)
                .map(|v| v.trim().trim_matches('"').to_string());
            let pkey = self.key(&xui);
            let ok = src.ip() == cfg.proxy && asserted.is_some_and(|a| self.key(&a) == pkey);
            if !ok {
                return (reply(403, &[], b""), vec![]);
            }
            let mut guard = self.sip.lock();
            let st = &mut guard.role;
            match r.method().unwrap_or_default() {
                "GET" => match st.rules.get(&pkey) {
                    Some((doc, _, etag)) => {
                        let e = format!("\"{etag}\"");
                        let h = [("Content-Type", AUTH_POLICY_TYPE), ("ETag", e.as_str())];
                        (reply(200, &h, doc), vec![])
                    }
                    None => (reply(404, &[], b""), vec![]),
                },
                "PUT" => {
                    let ct = r.header("Content-Type").unwrap_or_default();
                    let ct = ct.split(';').next().unwrap_or_default().trim();
                    if !ct.eq_ignore_ascii_case(AUTH_POLICY_TYPE) {
                        return (reply(415, &[], b""), vec![]);
                    }
                    let body = &r.body;
                    let rules = match PresRules::parse(body) {
                        Ok(x) => x,
                        Err(_) => {
                            let e = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xcap-error xmlns=\"urn:ietf:params:xml:ns:xcap-error\"><not-well-formed/></xcap-error>\n";
                            let h = [("Content-Type", "application/xcap-error+xml")];
                            return (reply(409, &h, e), vec![]);
                        }
                    };
                    if !st.rules.contains_key(&pkey) && st.rules.len() >= MAX_PRESENTITIES {
                        return (reply(503, &[], b""), vec![]);
                    }
                    let etag = token();
                    let code = if st.rules.contains_key(&pkey) {
                        200
                    } else {
                        201
                    };
                    st.rules
                        .insert(pkey.clone(), (body.to_vec(), rules, etag.clone()));
                    drop(guard);
                    let e = format!("\"{etag}\"");
                    let resp = reply(code, &[("ETag", e.as_str())], b"");
                    (resp, self.changed(&pkey))
                }
                "DELETE" => match st.rules.remove(&pkey) {
                    Some(_) => {
                        drop(guard);
                        (reply(200, &[], b""), self.changed(&pkey))
                    }
                    None => (reply(404, &[], b""), vec![]),
                },
                _ => (reply(405, &[("Allow", "GET, PUT, DELETE")], b""), vec![]),
            }
        }

        /// The rules of `pkey` changed: its watchers are re-decided at once
        /// (fault `ps-stale-rules`: only new subscriptions see the change).
        fn changed(&self, pkey: &str) -> Vec<Planned> {
            if self.has("ps-stale-rules") {
                return vec![];
            }
            self.reevaluate(pkey)
        }
    }
}

/// The faults of the reference presence server.
pub const FAULTS: &[super::Fault] = &[
    fault("ps-no-sip-etag", "answers a PUBLISH 200 without a SIP-ETag", &["PRES-1"]),
    fault(
        "ps-500-on-unknown-etag",
        "answers a PUBLISH whose SIP-If-Match names no publication 500 instead of 412 (as Kamailio 5.6 does)",
        &["PRES-1"],
    ),
    fault(
        "ps-watcher-from-from",
        "authorizes a watcher by the From of its SUBSCRIBE, not the P-Asserted-Identity the core asserted (Kamailio's handle_subscribe() without \"$ai\")",
        &["PRES-2"],
    ),
    fault(
        "ps-force-active",
        "makes every subscription active whatever the pres-rules say (presence_xml force_active)",
        &["PRES-2", "PRES-3", "PRES-7"],
    ),
    fault("ps-drops-note", "passes the published PIDF on without its <note> elements", &["PRES-4"]),
    fault(
        "ps-notify-direct",
        "sends NOTIFYs straight to the watcher's Contact, not through the route the SUBSCRIBE recorded",
        &["PRES-5"],
    ),
    fault(
        "ps-winfo-open",
        "gives anyone's presence.winfo subscription the presentity's watcher list (as Kamailio 5.6 does)",
        &["PRES-6"],
    ),
    fault(
        "ps-stale-rules",
        "applies a pres-rules change to new subscriptions only: a pending watcher stays pending",
        &["PRES-7"],
    ),
    fault(
        "ps-tel-distinct",
        "keeps tel:+N and sip:+N@domain;user=phone as two presentities",
        &["PRES-8"],
    ),
    fault(
        "ps-accepts-garbage",
        "takes a PUBLISH whose PIDF is not well-formed XML (200)",
        &["PRES-9"],
    ),
    fault(
        "ps-publish-anyone",
        "takes a PUBLISH whatever identity was asserted, and from outside the trust domain",
        &["PRES-10"],
    ),
];

const fn fault(
    name: &'static str,
    description: &'static str,
    breaks: &'static [&'static str],
) -> super::Fault {
    super::Fault {
        role: "presence-server",
        name,
        description,
        breaks,
        store_and_forward: true,
        on_ipv6: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_dropped_only_under_the_fault() {
        let b = b"<presence><tuple id='a'><note>x</note></tuple><note>y</note></presence>";
        assert_eq!(
            drop_notes(b),
            b"<presence><tuple id='a'></tuple></presence>".to_vec()
        );
        assert_eq!(drop_notes(b"<note>unclosed"), b"<note>unclosed".to_vec());
    }
}
