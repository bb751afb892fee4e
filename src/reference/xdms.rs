//! Reference `xdms`: an XCAP server (RFC 4825) for the resource-lists
//! (RFC 4826 §3) and OMA PoC group application usages, on its own HTTP/1.1
//! listener, behind an aggregation proxy it trusts by source IP.
//!
//! - Documents: PUT (201 on creation, 200 on replacement), GET, DELETE,
//!   each with a strong entity tag (`ETag`), `If-Match` (412 when no tag
//!   matches) and `If-None-Match` (304 on GET, 412 on PUT/DELETE).
//! - A PUT whose Content-Type is not the AUID's: 415. A body that is not
//!   UTF-8, not well-formed, or whose root is outside the AUID's namespace:
//!   409 with an `application/xcap-error+xml` document (RFC 4825 §11).
//! - Elements: a node selector after `/~~/` (the location-path forms of
//!   [`crate::codec::xcap::NodeSelector`]): GET answers the element alone as
//!   `application/xcap-el+xml`; PUT as `application/xcap-el+xml` replaces
//!   the element (200) or inserts it under an existing parent (201);
//!   DELETE removes it. Attribute selectors are answered 404.
//! - Authorization (RFC 4825 §5.7's default policy): a request is acted on
//!   only when it comes from the proxy's IP and carries the asserted
//!   identity in the configured header, and that identity is the XUI of
//!   the path (`global/` documents: read by any asserted identity, written
//!   by none). Anything else: 403 and nothing else.
//!
//! - Change notification (RFC 5875 `xcap-diff`, [`diff`]): a UDP socket on
//!   the HTTP listener's port takes SUBSCRIBE from the IMS core for the
//!   asserted user's documents and NOTIFYs each change.
//!
//! Every read is bounded ([`MAX_REQUEST`] bytes, [`IDLE`] without a byte,
//! [`REQUEST_BOUND`] for a whole request), every write by [`IO_BOUND`];
//! hostile bytes get a 400 (413 when too long) and a close.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub mod diff;

use super::{lock, Settings};
use crate::codec::http::{self, HttpMessage};
use crate::codec::xcap::{self, ErrorCondition, Located, Scope};
use crate::codec::xml_tree::{self, Element};

/// The XCAP root's path.
pub const ROOT: &str = "/xcap-root";
/// The largest request read (head and body).
pub const MAX_REQUEST: usize = 256 * 1024;
/// How long a connection may stay silent.
pub const IDLE: Duration = Duration::from_secs(10);
/// How long one request may take to arrive whole.
pub const REQUEST_BOUND: Duration = Duration::from_secs(20);
/// The bound on writing one response.
const IO_BOUND: Duration = Duration::from_secs(5);
/// The most documents kept (a flood of PUTs gets 507 beyond).
const MAX_DOCUMENTS: usize = 10_000;
/// The header the proxy asserts the identity in, by default (OMA XDM).
pub const DEFAULT_IDENTITY_HEADER: &str = "X-XCAP-Asserted-Identity";
/// The header a UE names the identity it wants in (3GPP TS 24.623): never
/// an identity the XDMS relies on.
pub const INTENDED_IDENTITY_HEADER: &str = "X-3GPP-Intended-Identity";

/// The proxy the XDMS trusts and where it reads the identity.
#[derive(Debug, Clone)]
pub struct XdmsConfig {
    /// The aggregation proxy's IP: the one source trusted.
    pub proxy: IpAddr,
    /// The header carrying the asserted identity.
    pub identity_header: String,
}

impl XdmsConfig {
    /// Standalone (`liaison reference --role xdms`): the proxy at
    /// 127.0.0.3 for an IPv4 listener, at the listener's own IP otherwise.
    pub fn default_for(listen: IpAddr) -> XdmsConfig {
        XdmsConfig {
            proxy: match listen {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
                v6 => v6,
            },
            identity_header: DEFAULT_IDENTITY_HEADER.into(),
        }
    }
}

/// The named faults of this role, each with exactly the requirements its
/// scenarios then fail.
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "xdms",
        name: "xdms-ignores-owner",
        description: "serves and changes any user's documents for any identity the proxy asserts",
        breaks: &["GM-1"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-trusts-any-source",
        description: "takes the asserted-identity header from any source address, not only the proxy's",
        breaks: &["GM-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-takes-intended-identity",
        description: "without an asserted identity, acts on the X-3GPP-Intended-Identity the client named",
        breaks: &["GM-2"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-200-on-create",
        description: "answers a PUT that creates a document 200 instead of 201",
        breaks: &["GM-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-ignores-if-match",
        description: "writes and deletes whatever If-Match names",
        breaks: &["GM-4"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-500-on-bad-xml",
        description: "answers a document that is not well-formed 500 with an empty body",
        breaks: &["GM-5"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-element-wrong-type",
        description: "answers an element GET with the document's media type instead of application/xcap-el+xml",
        breaks: &["GM-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-drops-group-name",
        description: "stores PoC group documents without their <display-name>",
        breaks: &["GM-8"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-any-auid",
        description: "stores and serves documents under an AUID it does not know, as if they were resource-lists",
        breaks: &["GM-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "xdms",
        name: "xdms-no-xcap-diff",
        description: "accepts an xcap-diff SUBSCRIBE and sends the first NOTIFY, but never notifies a change (as Kamailio 5.6 is reported to)",
        breaks: &["GM-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// One stored document.
struct Doc {
    bytes: Vec<u8>,
    etag: String,
    media_type: &'static str,
}

/// (AUID, XUI or "" for global, document path).
type Key = (String, String, String);

struct Shared {
    cfg: XdmsConfig,
    fault: Option<&'static str>,
    docs: Mutex<HashMap<Key, Doc>>,
    tags: AtomicU64,
    /// The SIP side (xcap-diff), when started with a socket.
    diff: Option<Arc<diff::Notifier>>,
}

/// Starts the XDMS on `listen` (port 0 picks one): HTTP on TCP and its
/// SIP side (xcap-diff) on UDP, at one address; that address and the tasks.
pub async fn start(
    listen: SocketAddr,
    cfg: Option<XdmsConfig>,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let (udp, listener) = super::bind_pair(listen.ip(), listen.port()).await?;
    let address = listener.local_addr()?;
    let xcap_root = format!("http://{address}{ROOT}");
    let notifier = Arc::new(diff::Notifier::new(
        Arc::new(udp),
        settings.clone(),
        xcap_root,
    )?);
    let sh = Arc::new(Shared {
        cfg: cfg.unwrap_or_else(|| XdmsConfig::default_for(listen.ip())),
        fault: settings.fault,
        docs: Mutex::new(HashMap::new()),
        tags: AtomicU64::new(1),
        diff: Some(notifier.clone()),
    });
    let sip = {
        let sh = sh.clone();
        tokio::spawn(async move {
            let udp = notifier.socket();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let Ok((n, src)) = udp.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Ok(m) = crate::codec::sip::SipMessage::parse(&buf[..n]) else {
                    continue;
                };
                notifier
                    .datagram(m, src, |owner| sh.documents_of(owner))
                    .await;
            }
        })
    };
    Ok((address, vec![tokio::spawn(accept_loop(listener, sh)), sip]))
}

async fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    // Connections live in the set: stopping the role closes them.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, from)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(stream, from.ip(), sh.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve(mut stream: TcpStream, from: IpAddr, sh: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut begun: Option<std::time::Instant> = None;
    loop {
        loop {
            match http::next_frame(&buf, MAX_REQUEST) {
                Ok(Some(n)) if n > 0 => {
                    let raw: Vec<u8> = buf.drain(..n.min(buf.len())).collect();
                    begun = (!buf.is_empty()).then(std::time::Instant::now);
                    let (reply, close) = match HttpMessage::parse(&raw) {
                        Ok(req) if req.method().is_some() => (sh.handle(&req, from), false),
                        Ok(_) => (plain(400, "a response, not a request\n"), true),
                        Err(e) => (plain(400, &format!("{e}\n")), true),
                    };
                    let sent = tokio::time::timeout(IO_BOUND, stream.write_all(&reply)).await;
                    if close || !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    let status = match e {
                        http::HttpError::TooLong { .. } => 413,
                        _ => 400,
                    };
                    let _ = tokio::time::timeout(
                        IO_BOUND,
                        stream.write_all(&plain(status, &format!("{e}\n"))),
                    )
                    .await;
                    return;
                }
            }
        }
        // A request begun must be whole within REQUEST_BOUND (a client
        // sending a byte now and then holds no connection for ever).
        let wait = match begun {
            Some(t) if !buf.is_empty() => IDLE.min(REQUEST_BOUND.saturating_sub(t.elapsed())),
            _ => IDLE,
        };
        match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                if buf.is_empty() {
                    begun = Some(std::time::Instant::now());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            _ => return,
        }
    }
}

/// A text/plain response.
fn plain(status: u16, text: &str) -> Vec<u8> {
    http::response(
        status,
        http::reason_phrase(status),
        &[("Content-Type", "text/plain; charset=utf-8")],
        text.as_bytes(),
    )
}

/// A 409 with an xcap-error document.
fn conflict(c: ErrorCondition) -> Vec<u8> {
    http::response(
        409,
        "Conflict",
        &[("Content-Type", xcap::ERROR_TYPE)],
        &xcap::error_document(c),
    )
}

/// An identity header's value as a URI: quotes and angle brackets removed.
fn identity_of(value: &str) -> String {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    let v = v
        .strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(v);
    v.trim().to_string()
}

/// Does an If-Match / If-None-Match list name `etag` (or `*`)? Weak tags
/// never match (RFC 2616 §14.24: strong comparison).
fn names_tag(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag)
}

impl Shared {
    fn has_fault(&self, name: &str) -> bool {
        self.fault == Some(name)
    }

    /// The documents of the user `owner` (a user key) as xcap-diff names
    /// them: path below the root and current entity tag.
    fn documents_of(&self, owner: &str) -> Vec<xcap::DiffDocument> {
        let docs = lock(&self.docs);
        let mut out: Vec<xcap::DiffDocument> = docs
            .iter()
            .filter(|((_, xui, _), _)| !xui.is_empty() && diff::user_key(xui) == owner)
            .map(|(k, d)| xcap::DiffDocument {
                sel: sel_of(k),
                previous_etag: None,
                new_etag: Some(xcap::etag_value(&d.etag).to_string()),
            })
            .collect();
        out.sort_by(|a, b| a.sel.cmp(&b.sel));
        out
    }

    /// A user's document changed: its subscribers are told (xcap-diff).
    fn changed(&self, key: &Key, previous: Option<&str>, new: Option<&str>) {
        if key.1.is_empty() {
            return;
        }
        if let Some(n) = &self.diff {
            n.changed(
                &key.1,
                xcap::DiffDocument {
                    sel: sel_of(key),
                    previous_etag: previous.map(|e| xcap::etag_value(e).to_string()),
                    new_etag: new.map(|e| xcap::etag_value(e).to_string()),
                },
            );
        }
    }

    fn next_etag(&self) -> String {
        format!(
            "\"x{}-{}\"",
            self.tags.fetch_add(1, Ordering::Relaxed),
            crate::codec::sip::token()
        )
    }

    fn handle(&self, req: &HttpMessage, from: IpAddr) -> Vec<u8> {
        let method = req.method().unwrap_or("");
        if !matches!(method, "GET" | "PUT" | "DELETE") {
            return http::response(
                405,
                "Method Not Allowed",
                &[("Allow", "GET, PUT, DELETE")],
                b"",
            );
        }
        let path = match xcap::parse_path(ROOT, req.target().unwrap_or("")) {
            Ok(p) => p,
            Err(e @ xcap::PathError::BadNodeSelector { .. })
            | Err(e @ xcap::PathError::BadPercent { .. }) => return plain(400, &format!("{e}\n")),
            Err(e) => return plain(404, &format!("{e}\n")),
        };
        // Authorization first: nothing about a document (not even whether
        // it exists) reaches an identity that may not see it.
        let trusted = from == self.cfg.proxy || self.has_fault("xdms-trusts-any-source");
        let mut identity = if trusted {
            req.header(&self.cfg.identity_header).map(identity_of)
        } else {
            None
        };
        if identity.is_none() && self.has_fault("xdms-takes-intended-identity") {
            identity = req.header(INTENDED_IDENTITY_HEADER).map(identity_of);
        }
        let Some(identity) = identity.filter(|i| !i.is_empty()) else {
            return plain(403, "no identity asserted by the trusted proxy\n");
        };
        let owner = match &path.scope {
            Scope::User(xui) => {
                if *xui != identity && !self.has_fault("xdms-ignores-owner") {
                    return plain(403, "not the owner of this document\n");
                }
                xui.clone()
            }
            Scope::Global => {
                if method != "GET" {
                    return plain(403, "global documents are read-only\n");
                }
                String::new()
            }
        };
        let auid = match xcap::auid(&path.auid) {
            Some(a) => a,
            // The fault: an unknown AUID taken as resource-lists.
            None if self.has_fault("xdms-any-auid") => &xcap::AUIDS[0],
            None => return plain(404, "no such application usage\n"),
        };
        let key = (path.auid.clone(), owner, path.document.clone());
        match &path.node {
            None => self.document(method, req, auid, key),
            Some(sel) if sel.attribute.is_some() => {
                plain(404, "attribute nodes are not served here\n")
            }
            Some(sel) => self.element(method, req, auid, key, sel),
        }
    }

    /// If-Match / If-None-Match on a write: the 412 when they fail.
    fn write_preconditions(&self, req: &HttpMessage, current: Option<&str>) -> Option<Vec<u8>> {
        let failed = http::response(412, "Precondition Failed", &[], b"");
        if let Some(m) = req.header("If-Match")
            && !self.has_fault("xdms-ignores-if-match")
            && !current.is_some_and(|t| names_tag(m, t))
        {
            return Some(failed);
        }
        if let Some(m) = req.header("If-None-Match")
            && current.is_some_and(|t| names_tag(m, t))
        {
            return Some(failed);
        }
        None
    }

    fn document(&self, method: &str, req: &HttpMessage, auid: &xcap::Auid, key: Key) -> Vec<u8> {
        let mut docs = lock(&self.docs);
        match method {
            "GET" => {
                let Some(d) = docs.get(&key) else {
                    return plain(404, "no such document\n");
                };
                if let Some(r) = read_preconditions(req, &d.etag) {
                    return r;
                }
                http::response(
                    200,
                    "OK",
                    &[("Content-Type", d.media_type), ("ETag", &d.etag)],
                    &d.bytes,
                )
            }
            "DELETE" => {
                let current = docs.get(&key).map(|d| d.etag.clone());
                if let Some(r) = self.write_preconditions(req, current.as_deref()) {
                    return r;
                }
                if docs.remove(&key).is_none() {
                    return plain(404, "no such document\n");
                }
                drop(docs);
                self.changed(&key, current.as_deref(), None);
                http::response(200, "OK", &[], b"")
            }
            _ => {
                let ct = req.header("Content-Type").map(xcap::media_type);
                if ct.as_deref() != Some(auid.media_type) {
                    return plain(
                        415,
                        &format!("documents of {} are {}\n", auid.name, auid.media_type),
                    );
                }
                let current = docs.get(&key).map(|d| d.etag.clone());
                if let Some(r) = self.write_preconditions(req, current.as_deref()) {
                    return r;
                }
                let mut tree = match self.check_body(&req.body) {
                    Ok(t) => t,
                    Err(r) => return r,
                };
                if tree.ns != auid.ns {
                    return conflict(ErrorCondition::SchemaValidationError);
                }
                let mut bytes = req.body.clone();
                if auid.name == xcap::POC_GROUPS_AUID && self.has_fault("xdms-drops-group-name") {
                    drop_named(&mut tree, "display-name");
                    bytes = xcap::write_document(&tree);
                }
                if current.is_none() && docs.len() >= MAX_DOCUMENTS {
                    return plain(507, "no room for another document\n");
                }
                let etag = self.next_etag();
                docs.insert(
                    key.clone(),
                    Doc {
                        bytes,
                        etag: etag.clone(),
                        media_type: auid.media_type,
                    },
                );
                drop(docs);
                self.changed(&key, current.as_deref(), Some(&etag));
                let created = current.is_none() && !self.has_fault("xdms-200-on-create");
                let (status, reason) = if created {
                    (201, "Created")
                } else {
                    (200, "OK")
                };
                http::response(status, reason, &[("ETag", &etag)], b"")
            }
        }
    }

    /// A document body as a tree, or the 409 (or the faulty 500).
    fn check_body(&self, body: &[u8]) -> Result<Element, Vec<u8>> {
        if std::str::from_utf8(body).is_err() {
            return Err(conflict(ErrorCondition::NotUtf8));
        }
        xml_tree::parse(body).map_err(|_| {
            if self.has_fault("xdms-500-on-bad-xml") {
                http::response(500, "Server Error", &[], b"")
            } else {
                conflict(ErrorCondition::NotWellFormed)
            }
        })
    }

    fn element(
        &self,
        method: &str,
        req: &HttpMessage,
        auid: &xcap::Auid,
        key: Key,
        sel: &xcap::NodeSelector,
    ) -> Vec<u8> {
        let mut docs = lock(&self.docs);
        let Some(doc) = docs.get_mut(&key) else {
            return match method {
                "PUT" => conflict(ErrorCondition::NoParent),
                _ => plain(404, "no such document\n"),
            };
        };
        let Ok(mut tree) = xml_tree::parse(&doc.bytes) else {
            return plain(500, "the stored document cannot be read\n");
        };
        let located = xcap::locate(&tree, sel, auid.ns);
        match method {
            "GET" => {
                let Located::Element(p) = located else {
                    return plain(404, "no such element\n");
                };
                if let Some(r) = read_preconditions(req, &doc.etag) {
                    return r;
                }
                let Some(el) = xcap::at(&tree, &p) else {
                    return plain(404, "no such element\n");
                };
                let ct = if self.has_fault("xdms-element-wrong-type") {
                    auid.media_type
                } else {
                    xcap::EL_TYPE
                };
                http::response(
                    200,
                    "OK",
                    &[("Content-Type", ct), ("ETag", &doc.etag)],
                    xcap::write_element(el).as_bytes(),
                )
            }
            "DELETE" => {
                if let Some(r) = self.write_preconditions(req, Some(&doc.etag)) {
                    return r;
                }
                let Located::Element(p) = located else {
                    return plain(404, "no such element\n");
                };
                let Some((last, parent)) = p.split_last() else {
                    return conflict(ErrorCondition::CannotDelete);
                };
                if let Some(par) = xcap::at_mut(&mut tree, parent) {
                    par.children.remove(*last);
                }
                let previous = std::mem::replace(&mut doc.etag, self.next_etag());
                doc.bytes = xcap::write_document(&tree);
                let etag = doc.etag.clone();
                drop(docs);
                self.changed(&key, Some(&previous), Some(&etag));
                http::response(200, "OK", &[("ETag", &etag)], b"")
            }
            _ => {
                let ct = req.header("Content-Type").map(xcap::media_type);
                if ct.as_deref() != Some(xcap::EL_TYPE) {
                    return plain(415, &format!("elements are {}\n", xcap::EL_TYPE));
                }
                if let Some(r) = self.write_preconditions(req, Some(&doc.etag)) {
                    return r;
                }
                if std::str::from_utf8(&req.body).is_err() {
                    return conflict(ErrorCondition::NotUtf8);
                }
                let Ok(mut el) = xml_tree::parse(&req.body) else {
                    return conflict(ErrorCondition::NotXmlFrag);
                };
                let Some(last) = sel.steps.last() else {
                    return conflict(ErrorCondition::CannotInsert);
                };
                xcap::qualify(&mut el, last.ns.as_deref().unwrap_or(auid.ns));
                if !xcap::element_fits(last, auid.ns, &el) {
                    return conflict(ErrorCondition::CannotInsert);
                }
                let status = match located {
                    Located::Element(p) => {
                        match p.split_last() {
                            Some((i, parent)) => {
                                if let Some(par) = xcap::at_mut(&mut tree, parent) {
                                    par.children[*i] = el;
                                }
                            }
                            None => tree = el,
                        }
                        200
                    }
                    Located::Absent(parent) => {
                        match xcap::at_mut(&mut tree, &parent) {
                            Some(par) if sel.steps.len() > 1 => par.children.push(el),
                            _ => return conflict(ErrorCondition::NoParent),
                        }
                        201
                    }
                    Located::NoParent => return conflict(ErrorCondition::NoParent),
                    Located::Ambiguous => return conflict(ErrorCondition::CannotInsert),
                };
                let previous = std::mem::replace(&mut doc.etag, self.next_etag());
                doc.bytes = xcap::write_document(&tree);
                let etag = doc.etag.clone();
                drop(docs);
                self.changed(&key, Some(&previous), Some(&etag));
                let reason = if status == 201 { "Created" } else { "OK" };
                http::response(status, reason, &[("ETag", &etag)], b"")
            }
        }
    }
}

/// A document's path below the XCAP root, as xcap-diff's `sel` names it
/// (`AUID/users/XUI/DOC`, the XUI and document percent-encoded as an XCAP
/// URI carries them).
fn sel_of(key: &Key) -> String {
    format!(
        "{}/users/{}/{}",
        key.0,
        xcap::percent_encode_path(&key.1),
        xcap::percent_encode_path(&key.2)
    )
}

/// If-None-Match (304) and If-Match (412) on a read.
fn read_preconditions(req: &HttpMessage, etag: &str) -> Option<Vec<u8>> {
    if let Some(m) = req.header("If-None-Match")
        && names_tag(m, etag)
    {
        return Some(http::response(304, "Not Modified", &[("ETag", etag)], b""));
    }
    if let Some(m) = req.header("If-Match")
        && !names_tag(m, etag)
    {
        return Some(http::response(412, "Precondition Failed", &[], b""));
    }
    None
}

/// Removes every element of local name `name` from the tree (a fault).
fn drop_named(e: &mut Element, name: &str) {
    e.children.retain(|c| c.name != name);
    for c in &mut e.children {
        drop_named(c, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(fault: Option<&'static str>) -> Shared {
        Shared {
            cfg: XdmsConfig::default_for("127.0.0.1".parse().unwrap()),
            fault,
            docs: Mutex::new(HashMap::new()),
            tags: AtomicU64::new(1),
            diff: None,
        }
    }

    fn req(
        method: &str,
        path: &str,
        who: Option<&str>,
        hs: &[(&str, &str)],
        body: &[u8],
    ) -> HttpMessage {
        let mut all = Vec::new();
        let v;
        if let Some(w) = who {
            v = format!("\"sip:{w}@liaison.test\"");
            all.push((DEFAULT_IDENTITY_HEADER, v.as_str()));
        }
        all.extend_from_slice(hs);
        HttpMessage::parse(&http::request(method, path, "x", &all, body)).unwrap()
    }

    const PROXY: &str = "127.0.0.3";
    const DOC: &str = "/xcap-root/resource-lists/users/sip:alice@liaison.test/index";

    fn status(b: &[u8]) -> u16 {
        HttpMessage::parse(b).unwrap().status().unwrap()
    }

    #[test]
    fn documents_elements_and_authorization() {
        let s = shared(None);
        let p: IpAddr = PROXY.parse().unwrap();
        let body = xcap::resource_lists_document(&[xcap::List {
            name: "friends".into(),
            display_name: None,
            entries: vec![],
        }]);
        let ct = [("Content-Type", xcap::RESOURCE_LISTS_TYPE)];
        assert_eq!(
            status(&s.handle(&req("PUT", DOC, Some("alice"), &ct, &body), p)),
            201
        );
        assert_eq!(
            status(&s.handle(&req("PUT", DOC, Some("alice"), &ct, &body), p)),
            200
        );
        assert_eq!(
            status(&s.handle(&req("GET", DOC, Some("bob"), &[], b""), p)),
            403
        );
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            status(&s.handle(&req("GET", DOC, Some("alice"), &[], b""), client)),
            403
        );
        assert_eq!(
            status(&s.handle(&req("PUT", DOC, Some("alice"), &ct, b"<a>"), p)),
            409
        );
        assert_eq!(
            status(&s.handle(
                &req(
                    "PUT",
                    DOC,
                    Some("alice"),
                    &[("Content-Type", "text/plain")],
                    &body
                ),
                p
            )),
            415
        );
        let el = format!(
            "{DOC}/~~/{}",
            xcap::percent_encode_path(
                "resource-lists/list[@name=\"friends\"]/entry[@uri=\"sip:c@x\"]"
            )
        );
        let ect = [("Content-Type", xcap::EL_TYPE)];
        let put = s.handle(
            &req(
                "PUT",
                &el,
                Some("alice"),
                &ect,
                br#"<entry xmlns="urn:ietf:params:xml:ns:resource-lists" uri="sip:c@x"/>"#,
            ),
            p,
        );
        assert_eq!(status(&put), 201);
        let got =
            HttpMessage::parse(&s.handle(&req("GET", &el, Some("alice"), &[], b""), p)).unwrap();
        assert_eq!(got.status(), Some(200));
        assert_eq!(got.header("Content-Type"), Some(xcap::EL_TYPE));
        let etag = got.header("ETag").unwrap().to_string();
        assert_eq!(
            status(&s.handle(
                &req("GET", DOC, Some("alice"), &[("If-None-Match", &etag)], b""),
                p
            )),
            304
        );
        assert_eq!(
            status(&s.handle(
                &req(
                    "PUT",
                    DOC,
                    Some("alice"),
                    &[ct[0], ("If-Match", "\"stale\"")],
                    &body
                ),
                p
            )),
            412
        );
        assert_eq!(
            status(&s.handle(&req("DELETE", DOC, Some("alice"), &[], b""), p)),
            200
        );
        assert_eq!(
            status(&s.handle(&req("GET", DOC, Some("alice"), &[], b""), p)),
            404
        );
    }

    /// Hostile bytes: an answer and a close, never a hang or a panic.
    #[tokio::test]
    async fn hostile_clients_get_an_answer_and_a_close() {
        let (addr, tasks) = start("127.0.0.1:0".parse().unwrap(), None, Settings::default())
            .await
            .unwrap();
        async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(bytes).await.unwrap();
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
                .await
                .expect("the XDMS closes the connection")
                .unwrap();
            out
        }
        let garbage = exchange(addr, b"\x00\x01 not http\r\n\r\n").await;
        assert!(garbage.starts_with(b"HTTP/1.1 400 "), "{garbage:?}");
        let huge = exchange(
            addr,
            format!("PUT {ROOT}/resource-lists/users/sip:a@b/index HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert!(huge.starts_with(b"HTTP/1.1 413 "), "{huge:?}");
        // From 127.0.0.1, not the proxy (127.0.0.3): refused, then the
        // connection stays open for the next request until the client closes.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {ROOT}/resource-lists/users/sip:a@b/index HTTP/1.1\r\nHost: x\r\n{DEFAULT_IDENTITY_HEADER}: \"sip:a@b\"\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 403 "));
        for t in tasks {
            t.abort();
        }
    }
}
