//! The reference PPG (WAP Push Proxy Gateway): PAP over HTTP in; WSP push over
//! SMS (SMPP to the harness SMSC), OTA-HTTP and Push over SIP out.
//!
//! **PAP side** (WAP-247 PAP §8, over HTTP): `POST /wappush` only (another path
//! is 404, another method on the PAP URL 405); keep-alive, several requests per
//! connection. The body must be `multipart/related` (RFC 2387): part 1 the PAP
//! control document, part 2 the content with its own headers (Content-Type,
//! and `X-Wap-Application-Id` as a header *of the content part*, a URI such as
//! `x-wap-application:mms.ua` or a number such as `4`). Every PAP answer is
//! `HTTP/1.1 202 Accepted` with `Content-Type: application/xml` and a PAP 2.0
//! document:
//!
//! | submission | answer |
//! |---|---|
//! | accepted | push-response, same push-id, 1001 (WAP-247 §9.3, §9.14) |
//! | not multipart/related, control document not well-formed or not a push-message, no content part | badmessage-response 2000 with bad-message-fragment (§9.13) |
//! | an address it cannot resolve | push-response 2002; nothing is pushed to any address |
//! | a push-id it already accepted | push-response 2007; nothing is pushed |
//! | content too long for 255 short messages | push-response 3006; nothing is pushed |
//!
//! Nothing of a refused submission reaches a bearer. Timestamps, QoS and
//! `ppg-notify-requested-to` are ignored: pushes go out at once and no result
//! notification is ever sent (unconfirmed push).
//!
//! **Addresses** (WAP-249 PPG Service §7, `WAPPUSH=<value>/TYPE=<type>@<ppg>`,
//! the PPG part is not checked): `TYPE=PLMN` with a number (digits, an optional
//! leading `+`, at most 20 digits) → SMS; `TYPE=IPv4` with a dotted quad, or
//! `TYPE=IPv6` with eight groups of four hex digits (the client-address grammar's `ipv6` form) →
//! OTA-HTTP to the configured target (whatever the IP, since the harness plays
//! the terminal there); `TYPE=USER` whose percent-decoded value is a `sip:` URI
//! → SIP. Anything else is an address error. Each `<address>` gets its own push.
//!
//! **SMS bearer** (`sms_bearer.rs`, shared with the MMS relay): one SMPP 3.4
//! connection to the SMSC as an ESME (bind_transceiver; enquire_link and unbind
//! answered; reconnect with a backoff of 100 ms doubling to 2 s; pushes accepted
//! while unbound wait for the bind).
//! Each push is a connectionless WSP Push PDU (WAP-230 §8.2.4.1: TID counting up
//! by one per PDU, type 0x06, the content type as a well-known code where the
//! codec knows one, a text string otherwise, X-Wap-Application-Id when the PI
//! gave one), carried as WDP over SMS (WAP-259 §6.5: 16-bit ports 2948 ← 9200,
//! concatenation with an 8-bit reference counting up when longer than one short
//! message). Each short message is a submit_sm with esm_class 0x40 (UDHI,
//! default mode), data_coding 0x04, destination_addr the number **without**
//! `+` (TON 1 international, NPI 1 E.164), source_addr `12345` (TON/NPI 0).
//!
//! **OTA-HTTP bearer** (WAP 2.0, the form notes.md records): `POST /wappush` to
//! the target with `Content-Type: application/http` and
//! `X-Wap-Push-OTA-Version: 1.0`, the body an embedded `HTTP/1.1 200 OK`
//! response carrying the content's Content-Type, X-Wap-Application-Id (URI
//! form) and Content-Length. A 2xx is expected; the answer changes nothing
//! (no result notification). With a terminal configured over TLS
//! (`ota_https`), a client address naming that terminal's IP is pushed to
//! it over TLS instead (HTTP over TLS, RFC 2818: the handshake, the
//! terminal's certificate checked for that IP against the run's CA,
//! `Settings.tls`, then the same request; close_notify after the answer).
//!
//! **SIP bearer** (Push over SIP, RFC 3428 MESSAGE): to the configured target
//! over UDP, Request-URI and To the SIP URI of the address, the application id
//! as `Accept-Contact: *;+g.oma.pusheventapp="mms.ua";require;explicit`
//! (RFC 3841 Accept-Contact; wml.ua when the PI gave none, as WAP push implies), body the
//! content byte for byte with its Content-Type. Retransmitted per RFC 3261
//! §17.1.2.2 (Timer E from T1 doubling to T2 = 8·T1, T2 after a provisional)
//! until a final response or Timer F (64·T1) by `sip_uac.rs`, shared with the
//! MMS relay.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::sip_uac::{self, SipUac};
use super::sms_bearer::{SmsBearer, PUSH_PORTS};
use super::Settings;
use crate::codec::http::{self, HttpMessage, StartLine};
use crate::codec::pap::{self, code, BadMessageResponse, PapMessage, PushResponse};
use crate::codec::smpp::{Bind, Sm};
use crate::codec::wsp::{self, AppId, ContentType, Media, WspHeader};

/// Where the reference PPG pushes to (the harness plays every bearer).
#[derive(Debug, Clone)]
pub struct PpgConfig {
    /// The SMSC it binds to as an ESME (bind_transceiver), and the credentials.
    pub smsc: SocketAddr,
    pub system_id: String,
    pub password: String,
    /// The OTA-HTTP push target for `WAPPUSH=<IPv4>/TYPE=IPv4` and
    /// `WAPPUSH=<IPv6>/TYPE=IPv6` addresses.
    pub ota_http: SocketAddr,
    /// The terminal it pushes to over TLS (OTA-HTTP over HTTPS, RFC 2818),
    /// for client addresses naming this IP; its certificate is checked
    /// against the CA of `Settings.tls`.
    pub ota_https: Option<SocketAddr>,
    /// Where SIP pushes go (the outbound proxy / device).
    pub sip_target: SocketAddr,
    /// Where SIP pushes for `sips:` addresses go, over TLS (RFC 3261 §26,
    /// RFC 5630: never in the clear); the peer's certificate is checked
    /// against the CA of `Settings.tls`. None: a `sips:` push is not sent
    /// (it is not downgraded to UDP).
    pub sip_tls: Option<SocketAddr>,
}

/// The PAP URL's path.
const PAP_PATH: &str = "/wappush";
/// The largest PAP submission it reads.
const MAX_REQUEST: usize = 4 << 20;
/// A keep-alive connection with nothing to read for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// Bound on writing one answer, on one OTA-HTTP exchange.
const IO_BOUND: Duration = Duration::from_secs(5);
/// The SMS source address it submits with.
const SOURCE_ADDR: &str = "12345";

use super::lock;

/// The PPG's listeners: PAP over HTTP, and over HTTPS when it has TLS
/// material (`Settings.tls`).
pub struct PapAddresses {
    /// `http://ADDR/wappush`.
    pub http: SocketAddr,
    /// `https://ADDR/wappush` (RFC 2818).
    pub https: Option<SocketAddr>,
}

/// Starts the PPG: its PAP listener at `listen` (port 0 picks one) and,
/// with TLS material, a second one for PAP over TLS on the same IP.
/// Returns the PAP addresses and the tasks.
pub async fn start(
    listen: SocketAddr,
    cfg: PpgConfig,
    settings: Settings,
) -> std::io::Result<(PapAddresses, Vec<JoinHandle<()>>)> {
    let listener = TcpListener::bind(listen).await?;
    let pap_addr = listener.local_addr()?;
    let tls_config = settings.tls.as_ref().and_then(|t| t.server_config().ok());
    let secure = match tls_config {
        Some(c) => Some((TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?, c)),
        None => None,
    };
    let https = secure.as_ref().map(|(l, _)| l.local_addr()).transpose()?;
    let (sip, mut tasks) = SipUac::start(pap_addr, cfg.sip_target, settings.t1).await?;
    let bind = Bind {
        system_id: cfg.system_id.clone(),
        password: if settings.has_fault("wrong-bind-password") {
            format!("x{}", cfg.password).chars().take(8).collect()
        } else {
            cfg.password.clone()
        },
        ..Bind::default()
    };
    let (sms, sms_task) = SmsBearer::start(cfg.smsc, bind, SOURCE_ADDR);
    let (ota_tx, ota_rx) = mpsc::unbounded_channel::<OtaPush>();
    // As TLS client to the terminal: the CA the run gave it.
    let ota_tls = settings.tls.as_ref().and_then(|t| t.client_config().ok());
    let tls_client = ota_tls.clone();
    let shared = Arc::new(Shared {
        cfg,
        s: settings,
        pap_addr,
        sip,
        sms,
        accepted: Mutex::default(),
        other_ids: AtomicU64::new(0),
        ota_tx,
        tls_client,
    });
    if let Some((l, config)) = secure {
        let sh = shared.clone();
        tasks.push(tokio::spawn(super::tls::accept_loop(
            l,
            config,
            move |tls| serve_http(tls, sh.clone()),
        )));
    }
    tasks.extend([
        tokio::spawn(accept_loop(listener, shared)),
        tokio::spawn(ota_dispatcher(ota_rx, ota_tls)),
        sms_task,
    ]);
    Ok((
        PapAddresses {
            http: pap_addr,
            https,
        },
        tasks,
    ))
}

/// State shared by the PAP side and the bearers.
struct Shared {
    cfg: PpgConfig,
    s: Settings,
    pap_addr: SocketAddr,
    /// The SIP bearer.
    sip: SipUac,
    /// The SMS bearer.
    sms: SmsBearer,
    /// The push-ids it accepted (WAP-247 §9.2: the push-id identifies a push).
    accepted: Mutex<HashSet<String>>,
    /// Fault no-push-id: the ids it answers with instead.
    other_ids: AtomicU64,
    /// OTA-HTTP pushes (whole requests for the target).
    ota_tx: mpsc::UnboundedSender<OtaPush>,
    /// As TLS client (SIP over TLS): the run's CA.
    tls_client: Option<Arc<rustls::ClientConfig>>,
}

/// One OTA-HTTP push: a whole request, where it goes and how.
struct OtaPush {
    to: SocketAddr,
    /// Over TLS (the terminal's certificate checked against the run's CA).
    tls: bool,
    req: Vec<u8>,
}

/// One push on the HTTP or SIP bearer.
enum Job {
    /// A whole OTA-HTTP request for a terminal.
    Ota(OtaPush),
    /// A SIP MESSAGE.
    Sip(sip_uac::Request),
    /// A SIP MESSAGE over TLS (a `sips:` Request-URI).
    SipTls(sip_uac::Request, SocketAddr),
}

/// The bearer an address resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// SMS to this number (digits only).
    Sms(String),
    /// OTA-HTTP to this terminal (pushed to the configured target).
    Ota(IpAddr),
    /// Push over SIP to this URI.
    Sip(String),
}

/// The content part of a submission.
#[derive(Debug, Clone)]
struct Content {
    /// The media type as given (RFC 2046 §5.1.1: text/plain when the part has none).
    content_type: String,
    app_id: Option<AppId>,
    body: Vec<u8>,
}

/// What to answer on the PAP connection, and what to push once answered.
struct Outcome {
    /// None: close the connection without answering (fault closes-connection).
    reply: Option<Vec<u8>>,
    close: bool,
    sms: Vec<Sm>,
    jobs: Vec<Job>,
}

impl Outcome {
    fn reply(bytes: Vec<u8>, close: bool) -> Outcome {
        Outcome {
            reply: Some(bytes),
            close,
            sms: Vec::new(),
            jobs: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------
// PAP over HTTP
// ---------------------------------------------------------------------------

async fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    // Connections live in the set, so stopping the PPG (aborting this task)
    // closes them too.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_http(stream, sh.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_http<S>(mut stream: S, sh: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut continued = false;
    loop {
        // Every whole request in the buffer, in order (keep-alive, RFC 9112 §9.3).
        loop {
            match http::next_frame(&buf, MAX_REQUEST) {
                Ok(Some(n)) if n > 0 => {
                    let raw: Vec<u8> = buf.drain(..n.min(buf.len())).collect();
                    continued = false;
                    let out = match HttpMessage::parse(&raw) {
                        Ok(req) => sh.handle(&req),
                        Err(e) => Outcome::reply(plain(400, &format!("{e}\n")), true),
                    };
                    let Some(reply) = out.reply else {
                        return;
                    };
                    let sent = tokio::time::timeout(IO_BOUND, stream.write_all(&reply)).await;
                    // Pushed once answered: the PI hears 1001 before the bearers see anything.
                    sh.sms.submit(out.sms);
                    for j in out.jobs {
                        match j {
                            Job::Ota(req) => {
                                let _ = sh.ota_tx.send(req);
                            }
                            Job::Sip(req) => sh.sip.send(req),
                            // Without a CA to check the peer by: not sent.
                            Job::SipTls(req, to) => {
                                if let Some(config) = sh.tls_client.clone() {
                                    sh.sip.send_tls(req, sip_uac::OverTls { to, config })
                                }
                            }
                        }
                    }
                    if out.close || !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Ok(_) => {
                    // RFC 9110 §10.1.1: a client waiting for 100 Continue.
                    if !continued && wants_continue(&buf) {
                        continued = true;
                        let _ = tokio::time::timeout(
                            IO_BOUND,
                            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n"),
                        )
                        .await;
                    }
                    break;
                }
                Err(e) => {
                    let _ = tokio::time::timeout(
                        IO_BOUND,
                        stream.write_all(&plain(400, &format!("{e}\n"))),
                    )
                    .await;
                    return;
                }
            }
        }
        match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

/// Whether a complete request head asks for `Expect: 100-continue`.
fn wants_continue(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    String::from_utf8_lossy(&buf[..end]).lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("expect") && v.trim().eq_ignore_ascii_case("100-continue")
        })
    })
}

/// A text/plain HTTP response.
fn plain(status: u16, text: &str) -> Vec<u8> {
    http::response(
        status,
        http::reason_phrase(status),
        &[("Content-Type", "text/plain")],
        text.as_bytes(),
    )
}

/// Does the client want the connection closed after this exchange (RFC 9112 §9.3)?
fn closes(req: &HttpMessage) -> bool {
    let close = req
        .headers_named("Connection")
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    let old = matches!(&req.start, StartLine::Request { version, .. } if version == "HTTP/1.0");
    close || old
}

/// The path of a request target (origin form, or absolute form).
fn path_of(target: &str) -> &str {
    let t = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    t.split(['?', '#']).next().unwrap_or(t)
}

impl Shared {
    fn handle(&self, req: &HttpMessage) -> Outcome {
        let close = closes(req);
        if path_of(req.target().unwrap_or_default()) != PAP_PATH {
            return Outcome::reply(plain(404, "not the PAP URL: POST /wappush\n"), close);
        }
        if req.method() != Some("POST") {
            let r = http::response(
                405,
                http::reason_phrase(405),
                &[("Allow", "POST"), ("Content-Type", "text/plain")],
                b"the PAP URL takes POST only\n",
            );
            return Outcome::reply(r, close);
        }
        if self.s.has_fault("closes-connection") {
            return Outcome {
                reply: None,
                close: true,
                sms: Vec::new(),
                jobs: Vec::new(),
            };
        }
        let (doc, sms, jobs) = self.submit(req);
        let mut reply = if self.s.has_fault("non-xml-answer") {
            plain(202, "Accepted\n")
        } else {
            http::response(
                202,
                http::reason_phrase(202),
                &[("Content-Type", "application/xml")],
                doc.as_bytes(),
            )
        };
        if self.s.has_fault("second-push-response") {
            // Fault: right behind the answer, on the same connection, a second
            // push-response for the same push-id with the opposite outcome.
            if let Ok(pap::PapMessage::PushResponse(r)) = pap::PapMessage::parse(doc.as_bytes()) {
                let code = if r.code < 2000 { 3000 } else { 1001 };
                let second = self.response(&r.push_id, code);
                reply.extend_from_slice(&http::response(
                    202,
                    http::reason_phrase(202),
                    &[("Content-Type", "application/xml")],
                    second.as_bytes(),
                ));
            }
        }
        Outcome {
            reply: Some(reply),
            close,
            sms,
            jobs,
        }
    }

    /// One PAP submission: the answer document and what to push.
    fn submit(&self, req: &HttpMessage) -> (String, Vec<Sm>, Vec<Job>) {
        let s = &self.s;
        let none = || (Vec::new(), Vec::new());
        let ct = req.header("Content-Type").unwrap_or_default();
        let related = ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/related");
        let parts = match pap::parse_multipart(ct, &req.body) {
            Ok(p) if related => p,
            Ok(_) => {
                let (sms, jobs) = none();
                return (bad(&format!("not multipart/related: {ct}"), ct), sms, jobs);
            }
            Err(e) => {
                let (sms, jobs) = none();
                return (
                    bad(
                        &format!("not a multipart/related submission: {e}"),
                        if related {
                            &req.body[..]
                        } else {
                            ct.as_bytes()
                        },
                    ),
                    sms,
                    jobs,
                );
            }
        };
        let control = &parts[0].body;
        let msg = match PapMessage::parse(control) {
            Ok(PapMessage::PushMessage(m)) => m,
            Ok(_) => {
                let (sms, jobs) = none();
                return (
                    bad("the control entity is not a push-message", control),
                    sms,
                    jobs,
                );
            }
            Err(_) if s.has_fault("accept-malformed-xml") => {
                // Fault: a document it cannot read is "accepted for processing".
                let id = scrape_push_id(control);
                let (sms, jobs) = none();
                return (self.response(&id, code::ACCEPTED_FOR_PROCESSING), sms, jobs);
            }
            Err(e) => {
                let (sms, jobs) = none();
                return (
                    bad(&format!("the PAP document cannot be read: {e}"), control),
                    sms,
                    jobs,
                );
            }
        };
        let Some(content_part) = parts.get(1) else {
            let (sms, jobs) = none();
            return (
                bad(
                    "no content part (WAP-247 §8: the content follows the control entity)",
                    control,
                ),
                sms,
                jobs,
            );
        };
        let content = Content {
            content_type: content_part
                .header("Content-Type")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or("text/plain")
                .to_string(),
            app_id: content_part
                .header("X-Wap-Application-Id")
                .and_then(parse_app_id),
            body: content_part.body.clone(),
        };
        let push_id = msg.push_id.clone();
        let resolved: Vec<Result<Target, String>> =
            msg.addresses.iter().map(|a| resolve(a)).collect();
        if let Some(Err(why)) = resolved.iter().find(|r| r.is_err()) {
            let (sms, jobs) = if s.has_fault("bearer-after-error") {
                // Fault: refuses, and pushes anyway (where it can make out a target).
                let targets: Vec<Target> = msg
                    .addresses
                    .iter()
                    .zip(&resolved)
                    .map(|(a, r)| r.clone().unwrap_or_else(|_| loose_target(a)))
                    .collect();
                self.plan(&targets, &content).unwrap_or_default()
            } else {
                none()
            };
            if s.has_fault("generic-2000") {
                return (bad(&format!("address error: {why}"), control), sms, jobs);
            }
            return (
                self.response_desc(&push_id, code::ADDRESS_ERROR, Some(why.as_str())),
                sms,
                jobs,
            );
        }
        let targets: Vec<Target> = resolved.into_iter().flatten().collect();
        let Some((sms, jobs)) = self.plan(&targets, &content) else {
            let (sms, jobs) = none();
            return (
                self.response_desc(
                    &push_id,
                    code::TRANSFORMATION_FAILURE,
                    Some("the push does not fit 255 concatenated short messages"),
                ),
                sms,
                jobs,
            );
        };
        let fresh = lock(&self.accepted).insert(push_id.clone());
        if !fresh && !s.has_fault("duplicate-accepted") {
            let (sms, jobs) = if s.has_fault("bearer-after-error") {
                (sms, jobs)
            } else {
                none()
            };
            return (self.response(&push_id, code::DUPLICATE_PUSH_ID), sms, jobs);
        }
        let (sms, jobs) = if s.has_fault("accept-never-deliver") {
            none()
        } else {
            (sms, jobs)
        };
        (
            self.response(&push_id, code::ACCEPTED_FOR_PROCESSING),
            sms,
            jobs,
        )
    }

    fn response(&self, push_id: &str, c: u16) -> String {
        self.response_desc(push_id, c, None)
    }

    /// A push-response (WAP-247 §9.3) naming this PPG.
    fn response_desc(&self, push_id: &str, c: u16, why: Option<&str>) -> String {
        let push_id = if self.s.has_fault("no-push-id") {
            // Fault: another push-id than the submission's.
            let n = self.other_ids.fetch_add(1, Ordering::Relaxed) + 1;
            format!("liaison-ppg-{n}")
        } else {
            push_id.to_string()
        };
        let desc = match (pap::code_name(c), why) {
            (Some(n), Some(w)) => format!("{n}: {w}"),
            (Some(n), None) => n.to_string(),
            (None, Some(w)) => w.to_string(),
            (None, None) => String::new(),
        };
        PushResponse {
            push_id,
            sender_address: Some(format!("http://{}{PAP_PATH}", self.pap_addr)),
            sender_name: Some("liaison reference PPG".into()),
            reply_time: None,
            code: c,
            desc: Some(xml_safe(&desc, 512)).filter(|d| !d.is_empty()),
        }
        .to_xml()
    }

    /// The bearer messages for `content` to each target; None when it cannot
    /// be carried (longer than 255 short messages).
    fn plan(&self, targets: &[Target], content: &Content) -> Option<(Vec<Sm>, Vec<Job>)> {
        let s = &self.s;
        let mut content = content.clone();
        if s.has_fault("body-altered") {
            // Fault: the last byte is lost on the way.
            content.body.pop();
        }
        if s.has_fault("wrong-app-id") {
            content.app_id = Some(other_app(content.app_id.as_ref()));
        }
        let mut sms = Vec::new();
        let mut jobs = Vec::new();
        for t in targets {
            match t {
                Target::Sms(number) => sms.extend(self.sms_push(number, &content)?),
                Target::Ota(ip) => jobs.push(Job::Ota(self.ota_push(*ip, &content))),
                Target::Sip(uri) => jobs.extend(self.sip_push(uri, &content)),
            }
        }
        Some((sms, jobs))
    }

    /// WSP push (WAP-230 §8.2.4.1) in WDP over SMS (WAP-259 §6.5).
    fn sms_push(&self, number: &str, c: &Content) -> Option<Vec<Sm>> {
        let content_type = if self.s.has_fault("content-type-lost") {
            ContentType::Text("application/octet-stream".into())
        } else {
            wsp_content_type(&c.content_type)
        };
        let headers = c
            .app_id
            .iter()
            .map(|id| WspHeader::ApplicationId(id.clone()))
            .collect();
        let ports = if self.s.has_fault("wrong-port") {
            // Fault: the ports the wrong way round (to the WSP server port).
            (PUSH_PORTS.1, PUSH_PORTS.0)
        } else {
            PUSH_PORTS
        };
        self.sms
            .wsp_push(number, content_type, headers, c.body.clone(), ports)
    }

    /// The OTA-HTTP push to the terminal at `ip`: over TLS to the
    /// configured TLS terminal when `ip` is its IP, else in the clear to the
    /// configured target.
    fn ota_push(&self, ip: IpAddr, c: &Content) -> OtaPush {
        match self.cfg.ota_https.filter(|t| t.ip() == ip) {
            Some(to) => OtaPush {
                to,
                // Fault: the request goes to the TLS port in the clear.
                tls: !self.s.has_fault("ota-https-in-clear"),
                req: self.ota_request(to, c),
            },
            None => OtaPush {
                to: self.cfg.ota_http,
                tls: false,
                req: self.ota_request(self.cfg.ota_http, c),
            },
        }
    }

    /// The OTA-HTTP request: an embedded response in an application/http POST.
    fn ota_request(&self, to: SocketAddr, c: &Content) -> Vec<u8> {
        let app = c.app_id.as_ref().map(app_uri);
        let mut inner: Vec<(&str, &str)> = Vec::new();
        if !self.s.has_fault("content-type-lost") {
            inner.push(("Content-Type", &c.content_type));
        }
        if let Some(a) = &app {
            inner.push(("X-Wap-Application-Id", a));
        }
        let host = to.to_string();
        if self.s.has_fault("no-ota-version") {
            // Fault: the content posted as itself, no OTA version, no envelope.
            return http::request("POST", PAP_PATH, &host, &inner, &c.body);
        }
        let embedded = http::response(200, "OK", &inner, &c.body);
        http::request(
            "POST",
            PAP_PATH,
            &host,
            &[
                ("Content-Type", "application/http"),
                ("X-Wap-Push-OTA-Version", "1.0"),
            ],
            &embedded,
        )
    }

    /// A Push over SIP MESSAGE (RFC 3428) for `uri`.
    fn sip_push(&self, uri: &str, c: &Content) -> Option<Job> {
        let req = self.sip.message(uri, "ppg", "liaison-ppg", |mut b| {
            if !self.s.has_fault("sip-no-feature-tag") {
                let tag = feature_tag_value(c.app_id.as_ref());
                b = b.header(
                    "Accept-Contact",
                    &format!("*;+g.oma.pusheventapp=\"{tag}\";require;explicit"),
                );
            }
            if !self.s.has_fault("content-type-lost") {
                b = b.header("Content-Type", &c.content_type);
            }
            b.body(&c.body)
        });
        let secure = uri.len() > 5 && uri[..5].eq_ignore_ascii_case("sips:");
        match self.cfg.sip_tls {
            // Fault: a sips: push sent over UDP to the plain target.
            Some(_) if secure && self.s.has_fault("sips-push-in-clear") => Some(Job::Sip(req)),
            Some(to) if secure => Some(Job::SipTls(req, to)),
            None if secure => None,
            _ => Some(Job::Sip(req)),
        }
    }
}

/// A badmessage-response 2000 (WAP-247 §9.13) with the offending bytes.
fn bad(desc: &str, fragment: impl AsRef<[u8]>) -> String {
    BadMessageResponse {
        code: code::BAD_REQUEST,
        desc: Some(xml_safe(desc, 512)),
        bad_message_fragment: Some(xml_safe(&String::from_utf8_lossy(fragment.as_ref()), 1024)),
    }
    .to_xml()
}

/// Text that can go into an XML attribute: at most `max` characters, and no
/// character XML 1.0 §2.2 forbids (they become `?`); the builders escape the rest.
fn xml_safe(t: &str, max: usize) -> String {
    t.chars()
        .take(max)
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '?',
            c => c,
        })
        .collect()
}

/// Fault accept-malformed-xml: the push-id as text, from a document that
/// does not parse.
fn scrape_push_id(doc: &[u8]) -> String {
    let text = String::from_utf8_lossy(doc);
    let Some(i) = text.find("push-id") else {
        return String::new();
    };
    let rest = text[i + 7..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return String::new();
    };
    let rest = rest.trim_start();
    let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return String::new();
    };
    rest[1..].split(q).next().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------
// Addresses (WAP-249 PPG Service §7)
// ---------------------------------------------------------------------------

/// `WAPPUSH=<value>/TYPE=<type>@<ppg>` → (value, type). The value ends at the
/// last `/TYPE=` (an escaped value holds no raw one); the PPG part is not checked.
fn split_address(a: &str) -> Option<(&str, &str)> {
    let a = a.trim();
    let lower = a.to_ascii_lowercase();
    if !lower.starts_with("wappush=") {
        return None;
    }
    let at = lower.rfind("/type=")?;
    if at < 8 {
        return None;
    }
    let value = &a[8..at];
    let ty = a[at + 6..].split('@').next().unwrap_or_default();
    Some((value, ty))
}

fn resolve(a: &str) -> Result<Target, String> {
    let Some((value, ty)) = split_address(a) else {
        return Err(format!(
            "`{a}` is not a client address of the form WAPPUSH=<value>/TYPE=<type>@<ppg>"
        ));
    };
    match ty.to_ascii_uppercase().as_str() {
        "PLMN" => {
            let digits = value.strip_prefix('+').unwrap_or(value);
            if !digits.is_empty()
                && digits.len() <= 20
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                Ok(Target::Sms(digits.to_string()))
            } else {
                Err(format!("PLMN address `{value}` is not a telephone number"))
            }
        }
        "IPV4" => value
            .parse::<Ipv4Addr>()
            .map(|a| Target::Ota(a.into()))
            .map_err(|_| format!("IPv4 address `{value}` is not a dotted quad")),
        // The grammar's ipv6: eight groups of four hex digits, none left out.
        "IPV6" => {
            let groups: Vec<&str> = value.split(':').collect();
            let full = groups.len() == 8
                && groups
                    .iter()
                    .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()));
            match value.parse::<std::net::Ipv6Addr>() {
                Ok(a) if full => Ok(Target::Ota(a.into())),
                _ => Err(format!(
                    "IPv6 address `{value}` is not eight groups of four hex digits"
                )),
            }
        }
        "USER" => match percent_decode(value) {
            Some(u) if u.len() > 4 && u[..4].eq_ignore_ascii_case("sip:") => Ok(Target::Sip(u)),
            Some(u) if u.len() > 5 && u[..5].eq_ignore_ascii_case("sips:") => Ok(Target::Sip(u)),
            _ => Err(format!("USER address `{value}` is not a SIP URI")),
        },
        other => Err(format!("no bearer for address type `{other}`")),
    }
}

/// Fault bearer-after-error: a short message to whatever the address names.
fn loose_target(a: &str) -> Target {
    let raw = split_address(a).map_or(a, |(v, _)| v);
    let raw: String = raw.trim_start_matches('+').chars().take(20).collect();
    Target::Sms(raw)
}

/// RFC 3986 §2.1 percent-decoding; None for a broken escape or non-UTF-8.
fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------
// Content type and application id
// ---------------------------------------------------------------------------

/// X-Wap-Application-Id as a PI writes it: a number (decimal or 0x hex) or a
/// URI; a URI of the registry becomes its code (WAP-230 §8.4.2.54).
fn parse_app_id(v: &str) -> Option<AppId> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(n) = v.parse::<u32>() {
        return Some(AppId::Code(n));
    }
    if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))
        && let Ok(n) = u32::from_str_radix(h, 16)
    {
        return Some(AppId::Code(n));
    }
    Some(AppId::code_of(v).map_or_else(|| AppId::Text(v.to_string()), AppId::Code))
}

/// The URI form of an application id (the number for an unregistered code).
fn app_uri(id: &AppId) -> String {
    match (id, id.name()) {
        (_, Some(n)) => n.to_string(),
        (AppId::Code(c), None) => c.to_string(),
        (AppId::Text(t), None) => t.clone(),
    }
}

/// The `+g.oma.pusheventapp` value: the application name without the
/// `x-wap-application:` scheme; wml.ua when the PI gave none (WAP push's default).
fn feature_tag_value(id: Option<&AppId>) -> String {
    let Some(id) = id else {
        return "wml.ua".into();
    };
    let uri = app_uri(id);
    match uri.get(..18) {
        Some(p) if p.eq_ignore_ascii_case("x-wap-application:") => uri[18..].to_string(),
        _ => uri,
    }
}

/// Fault wrong-app-id: another application than the one asked for.
fn other_app(id: Option<&AppId>) -> AppId {
    let wml = AppId::Code(2);
    let is_wml = match id {
        None => true,
        Some(AppId::Code(c)) => *c == 2,
        Some(AppId::Text(t)) => AppId::code_of(t) == Some(2),
    };
    if is_wml {
        AppId::Code(1)
    } else {
        wml
    }
}

/// The WSP Content-Type (WAP-230 §8.4.2.24) of a MIME type: the well-known
/// code where the codec's table has one, a text string otherwise; parameters
/// make it the general form with Untyped-parameters (§8.4.2.4).
fn wsp_content_type(ct: &str) -> ContentType {
    let (media, params) = ct.split_once(';').unwrap_or((ct, ""));
    let media = media.trim();
    let lower = media.to_ascii_lowercase();
    let code = (0u8..0x80).find(|c| wsp::media_name(u32::from(*c)) == Some(lower.as_str()));
    let params = encode_params(params);
    match (code, params.is_empty()) {
        (Some(c), true) => ContentType::WellKnown(c),
        (None, true) => ContentType::Text(media.to_string()),
        (Some(c), false) => ContentType::General {
            media: Media::Code(u32::from(c)),
            params,
        },
        (None, false) => ContentType::General {
            media: Media::Text(media.to_string()),
            params,
        },
    }
}

/// `a=b; c="d e"` as Untyped-parameters: Token-text name, then Token-text,
/// Quoted-string or No-value (WAP-230 §8.4.2.4, §8.4.2.1).
fn encode_params(params: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for p in params.split(';') {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if k.is_empty() || !k.bytes().all(is_token) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        if v.is_empty() {
            out.push(0);
        } else if v.bytes().all(is_token) {
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        } else {
            out.push(b'"');
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
    }
    out
}

/// RFC 2616 §2.2 token characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

// ---------------------------------------------------------------------------
// Bearers
// ---------------------------------------------------------------------------

/// Runs the OTA-HTTP pushes; stopping the PPG aborts them. (SIP pushes run
/// in `sip_uac.rs`, short messages in `sms_bearer.rs`.) A push over TLS
/// without a TLS client configuration (no `Settings.tls`) is not sent.
async fn ota_dispatcher(
    mut rx: mpsc::UnboundedReceiver<OtaPush>,
    tls: Option<Arc<rustls::ClientConfig>>,
) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            j = rx.recv() => match j {
                Some(p) => {
                    let tls = tls.clone();
                    running.spawn(async move {
                        // A 2xx is the terminal's acceptance; with no result
                        // notifications there is nothing to do either way.
                        match (p.tls, tls) {
                            (false, _) => {
                                let _ = super::http_exchange(p.to, &p.req, IO_BOUND).await;
                            }
                            (true, Some(config)) => {
                                let _ = super::tls::https_exchange(config, p.to, &p.req, IO_BOUND).await;
                            }
                            (true, None) => {}
                        }
                    });
                }
                None => return,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "ppg",
        name: "wrong-app-id",
        description: "pushes with the X-Wap-Application-Id of another application (wml.ua; push.sia when wml.ua was asked) on every bearer",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "content-type-lost",
        description: "loses the content type: application/octet-stream in the WSP push, no Content-Type in the OTA-HTTP embedded response and the SIP MESSAGE",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "wrong-port",
        description: "sends the WDP datagram over SMS with the ports swapped (to 9200 from 2948) instead of to 2948 from 9200",
        breaks: &["PUSH-2", "PUSH-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "body-altered",
        description: "drops the last byte of the content on every bearer (a truncated push)",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "accept-malformed-xml",
        description: "answers 1001 (with the push-id it can make out) to a PAP document that is not well-formed XML",
        breaks: &["PUSH-14"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "bearer-after-error",
        description: "answers 2002 or 2007 as it should but pushes the content anyway (to whatever the bad address names)",
        breaks: &["PUSH-16", "PUSH-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "no-push-id",
        description: "its push-responses carry a push-id of its own instead of the submission's",
        breaks: &["PUSH-1", "PUSH-10"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "closes-connection",
        description: "reads the PAP submission and closes the connection without answering or pushing",
        breaks: &["PUSH-1", "PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13", "PUSH-14", "PUSH-15", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "non-xml-answer",
        description: "answers every PAP submission with HTTP 202 and a text/plain body that is not XML (it still pushes)",
        breaks: &["PUSH-1", "PUSH-10", "PUSH-14", "PUSH-15", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "accept-never-deliver",
        description: "answers 1001 and never pushes anything on any bearer",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13", "PUSH-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "generic-2000",
        description: "answers an address it cannot resolve with a badmessage-response 2000 instead of 2002",
        breaks: &["PUSH-15"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "duplicate-accepted",
        description: "accepts a push-id it already accepted (1001) and pushes the content again",
        breaks: &["PUSH-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "second-push-response",
        description: "right behind its answer to a push submission, sends a second HTTP response on the same connection with a push-response for the same push-id and the opposite result (3000 after success, 1001 after an error)",
        breaks: &["PUSH-1", "PUSH-10", "PUSH-15", "PUSH-16"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "no-ota-version",
        description: "OTA-HTTP: POSTs the content as itself (its own Content-Type, no application/http envelope) without X-Wap-Push-OTA-Version",
        breaks: &["PUSH-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "sips-push-in-clear",
        description: "Push over SIP for a sips: address: sends the MESSAGE over UDP to the plain SIP target instead of over TLS",
        breaks: &["PUSH-10"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "ota-https-in-clear",
        description: "OTA-HTTP over TLS: sends the push to the terminal's TLS port as plain HTTP, no TLS handshake",
        breaks: &["PUSH-3"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "sip-no-feature-tag",
        description: "Push over SIP: the MESSAGE has no Accept-Contact with +g.oma.pusheventapp",
        breaks: &["PUSH-10"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "ppg",
        name: "wrong-bind-password",
        description: "binds to the SMSC with a wrong password, so the SMS bearer never comes up (pushes wait forever)",
        breaks: &["PUSH-2", "PUSH-13", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::pap::PushMessage;
    use crate::codec::sip::{self, SipMessage};
    use crate::codec::smpp::{self, status, Body, Pdu};
    use crate::codec::wdp::{Datagram, Reassembler};
    use crate::codec::wsp::PushPdu;
    use tokio::net::{TcpStream, UdpSocket};

    /// The harness side of one test: a tiny SMSC, OTA-HTTP target and SIP
    /// device on loopback, and the PPG pointed at them.
    struct Rig {
        pap: SocketAddr,
        sms: mpsc::UnboundedReceiver<Sm>,
        binds: mpsc::UnboundedReceiver<Bind>,
        ota: mpsc::UnboundedReceiver<HttpMessage>,
        sip: mpsc::UnboundedReceiver<SipMessage>,
        _tasks: Vec<JoinHandle<()>>,
        ppg: Vec<JoinHandle<()>>,
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            for t in self.ppg.iter().chain(&self._tasks) {
                t.abort();
            }
        }
    }

    const PASSWORD: &str = "secret";

    /// An SMPP server that takes one bind (checking the password) and acknowledges
    /// every submit_sm.
    async fn smsc(
        l: TcpListener,
        sms: mpsc::UnboundedSender<Sm>,
        binds: mpsc::UnboundedSender<Bind>,
    ) {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 8192];
            'conn: while let Ok(n) = s.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Ok(Some(len)) = smpp::next_frame(&buf, 65536) {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    let pdu = Pdu::parse(&bytes).expect("the PPG sends valid SMPP");
                    let answer = match &pdu.body {
                        Body::Bind(b) => {
                            let _ = binds.send(b.clone());
                            let st = if b.password == PASSWORD {
                                0
                            } else {
                                status::ESME_RINVPASWD
                            };
                            smpp::bind_resp(&pdu, st, "test-smsc")
                        }
                        Body::SubmitSm(sm) => {
                            let _ = sms.send(sm.clone());
                            smpp::submit_sm_resp(pdu.header.sequence_number, 0, "m1")
                        }
                        _ => continue,
                    };
                    if s.write_all(&answer).await.is_err() {
                        break 'conn;
                    }
                }
            }
        }
    }

    /// A push listener answering 204 to each request.
    async fn ota(l: TcpListener, tx: mpsc::UnboundedSender<HttpMessage>) {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 8192];
            loop {
                if let Ok(Some(n)) = http::next_frame(&buf, 1 << 20) {
                    let m = HttpMessage::parse(&buf[..n]).expect("an HTTP request");
                    buf.drain(..n);
                    let _ = tx.send(m);
                    let _ = s
                        .write_all(&http::response(204, "No Content", &[], b""))
                        .await;
                    continue;
                }
                match s.read(&mut chunk).await {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
        }
    }

    /// A SIP device answering 200 — from the second copy on when `skip_first`.
    async fn device(u: UdpSocket, tx: mpsc::UnboundedSender<SipMessage>, skip_first: bool) {
        let mut buf = vec![0u8; 65536];
        let mut seen = 0;
        while let Ok((n, from)) = u.recv_from(&mut buf).await {
            let m = SipMessage::parse(&buf[..n]).expect("a SIP message");
            let _ = tx.send(m.clone());
            seen += 1;
            if skip_first && seen == 1 {
                continue;
            }
            let r = sip::response_to(&m, 200, "OK").to_tag("dev").build();
            let _ = u.send_to(&r, from).await;
        }
    }

    async fn rig_with(fault: Option<&'static str>, skip_first_sip: bool) -> Rig {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let sl = TcpListener::bind((ip, 0)).await.unwrap();
        let ol = TcpListener::bind((ip, 0)).await.unwrap();
        let su = UdpSocket::bind((ip, 0)).await.unwrap();
        let cfg = PpgConfig {
            smsc: sl.local_addr().unwrap(),
            system_id: "ppg".into(),
            password: PASSWORD.into(),
            ota_http: ol.local_addr().unwrap(),
            ota_https: None,
            sip_target: su.local_addr().unwrap(),
            sip_tls: None,
        };
        let (stx, sms) = mpsc::unbounded_channel();
        let (btx, binds) = mpsc::unbounded_channel();
        let (otx, ota_rx) = mpsc::unbounded_channel();
        let (ptx, sip_rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(smsc(sl, stx, btx)),
            tokio::spawn(ota(ol, otx)),
            tokio::spawn(device(su, ptx, skip_first_sip)),
        ];
        let settings = Settings {
            fault,
            t1: Duration::from_millis(20),
            ..Settings::default()
        };
        let (addrs, ppg) = start(SocketAddr::new(ip, 0), cfg, settings).await.unwrap();
        let pap = addrs.http;
        Rig {
            pap,
            sms,
            binds,
            ota: ota_rx,
            sip: sip_rx,
            _tasks: tasks,
            ppg,
        }
    }

    async fn rig() -> Rig {
        rig_with(None, false).await
    }

    fn submission(
        push_id: &str,
        addresses: &[&str],
        ct: &str,
        app: Option<&str>,
        body: &[u8],
    ) -> Vec<u8> {
        let xml = PushMessage {
            push_id: push_id.into(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            ..PushMessage::default()
        }
        .to_xml();
        raw_submission(xml.as_bytes(), Some((ct, app, body)))
    }

    fn raw_submission(xml: &[u8], content: Option<(&str, Option<&str>, &[u8])>) -> Vec<u8> {
        let b = "liaison-boundary";
        let mut body = format!("--{b}\r\nContent-Type: application/xml\r\n\r\n").into_bytes();
        body.extend_from_slice(xml);
        if let Some((ct, app, bytes)) = content {
            body.extend_from_slice(format!("\r\n--{b}\r\nContent-Type: {ct}\r\n").as_bytes());
            if let Some(a) = app {
                body.extend_from_slice(format!("X-Wap-Application-Id: {a}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(bytes);
        }
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let ct = format!("multipart/related; boundary={b}; type=\"application/xml\"");
        http::request("POST", "/wappush", "ppg", &[("Content-Type", &ct)], &body)
    }

    /// Sends requests on one connection and reads one response to each.
    async fn exchange(pap: SocketAddr, reqs: &[Vec<u8>]) -> Vec<HttpMessage> {
        let mut s = TcpStream::connect(pap).await.unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 8192];
        for r in reqs {
            s.write_all(r).await.unwrap();
            loop {
                if let Ok(Some(n)) = http::next_frame(&buf, 1 << 20) {
                    out.push(HttpMessage::parse(&buf[..n]).unwrap());
                    buf.drain(..n);
                    break;
                }
                let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk))
                    .await
                    .expect("an answer in time")
                    .unwrap();
                assert!(n > 0, "the PPG closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        out
    }

    async fn post(pap: SocketAddr, req: Vec<u8>) -> PapMessage {
        let r = exchange(pap, &[req]).await.remove(0);
        assert_eq!(r.status(), Some(202), "{}", r.head_text());
        assert_eq!(r.header("Content-Type"), Some("application/xml"));
        PapMessage::parse(&r.body).expect("a PAP document")
    }

    fn result(m: &PapMessage) -> (String, u16) {
        match m {
            PapMessage::PushResponse(r) => (r.push_id.clone(), r.code),
            PapMessage::BadMessageResponse(b) => (String::new(), b.code),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Short messages until a datagram completes.
    async fn datagram(rx: &mut mpsc::UnboundedReceiver<Sm>) -> (Datagram, Vec<Sm>) {
        let mut r = Reassembler::new();
        let mut sms = Vec::new();
        loop {
            let sm = tokio::time::timeout(Duration::from_secs(2), rx.recv())
                .await
                .expect("a submit_sm in time")
                .unwrap();
            sms.push(sm.clone());
            if let Some(d) = r
                .push(&sm.destination_addr, &sm.short_message, sm.udhi())
                .unwrap()
            {
                return (d, sms);
            }
        }
    }

    async fn nothing<T: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<T>) {
        if let Ok(Some(x)) = tokio::time::timeout(Duration::from_millis(150), rx.recv()).await {
            panic!("something was pushed: {x:?}");
        }
    }

    const PLMN: &str = "WAPPUSH=+15551234567/TYPE=PLMN@ppg.liaison.test";
    const NOTIFICATION: &[u8] =
        b"\x8c\x82\x98T1\x00\x8d\x90\x89\x0b\x80+1555@x\x00\x8a\x80\x8e\x02\x04\x00\x88\x05\x81\x03\x03\xf4\x80\x83http://mms/1\x00";

    #[tokio::test]
    async fn sms_push_carries_the_wsp_pdu_to_2948() {
        let mut rig = rig().await;
        let m = post(
            rig.pap,
            submission(
                "id-1",
                &[PLMN],
                "application/vnd.wap.mms-message",
                Some("x-wap-application:mms.ua"),
                NOTIFICATION,
            ),
        )
        .await;
        assert_eq!(result(&m), ("id-1".into(), 1001));
        let (d, sms) = datagram(&mut rig.sms).await;
        assert_eq!(rig.binds.recv().await.unwrap().system_id, "ppg");
        assert_eq!(sms.len(), 1);
        assert_eq!(sms[0].esm_class, 0x40);
        assert_eq!(sms[0].data_coding, 0x04);
        assert_eq!(d.destination, "15551234567");
        assert_eq!((d.dest_port, d.orig_port), (2948, 9200));
        let pdu = PushPdu::parse(&d.data).unwrap();
        assert_eq!(pdu.pdu_type, 0x06);
        assert_eq!(pdu.content_type, ContentType::WellKnown(0x3E));
        assert_eq!(pdu.application_id(), Some(&AppId::MMS_UA));
        assert_eq!(pdu.body, NOTIFICATION);
        assert_eq!(&d.data[1..6], b"\x06\x03\xbe\xaf\x84");

        // The next push: TID + 1, numeric app id, text content type.
        let m = post(
            rig.pap,
            submission("id-2", &[PLMN], "application/x-liaison", Some("4"), b"x"),
        )
        .await;
        assert_eq!(result(&m).1, 1001);
        let (d2, _) = datagram(&mut rig.sms).await;
        let p2 = PushPdu::parse(&d2.data).unwrap();
        assert_eq!(p2.tid, pdu.tid.wrapping_add(1));
        assert_eq!(
            p2.content_type,
            ContentType::Text("application/x-liaison".into())
        );
        assert_eq!(p2.application_id(), Some(&AppId::MMS_UA));
    }

    #[tokio::test]
    async fn long_content_is_segmented() {
        let mut rig = rig().await;
        let body: Vec<u8> = (0..400u32).map(|i| b'a' + (i % 26) as u8).collect();
        let m = post(
            rig.pap,
            submission("long", &[PLMN], "text/plain", None, &body),
        )
        .await;
        assert_eq!(result(&m).1, 1001);
        let (d, sms) = datagram(&mut rig.sms).await;
        assert_eq!(sms.len(), 4);
        assert!(sms.iter().all(|s| s.short_message.len() <= 140 && s.udhi()));
        assert_eq!((d.dest_port, d.orig_port, d.segments), (2948, 9200, 4));
        let pdu = PushPdu::parse(&d.data).unwrap();
        assert_eq!(pdu.content_type, ContentType::WellKnown(0x03));
        assert_eq!(pdu.application_id(), None);
        assert_eq!(pdu.body, body);
    }

    #[tokio::test]
    async fn errors_push_nothing() {
        let mut rig = rig().await;
        // Malformed XML, then no content part, then not multipart.
        let broken = raw_submission(
            b"<?xml version=\"1.0\"?><pap><push-message push-id=\"b\"><address",
            Some(("text/plain", None, b"x")),
        );
        assert_eq!(result(&post(rig.pap, broken).await), (String::new(), 2000));
        let xml = PushMessage {
            push_id: "nc".into(),
            addresses: vec![PLMN.into()],
            ..PushMessage::default()
        }
        .to_xml();
        let only_pap = raw_submission(xml.as_bytes(), None);
        assert_eq!(result(&post(rig.pap, only_pap).await).1, 2000);
        let flat = http::request(
            "POST",
            "/wappush",
            "ppg",
            &[("Content-Type", "application/xml")],
            xml.as_bytes(),
        );
        assert_eq!(result(&post(rig.pap, flat).await).1, 2000);
        // Addresses it cannot resolve.
        for a in [
            "WAPPUSH=abc/TYPE=PLMN@ppg",
            "WAPPUSH=alice/TYPE=USER@ppg",
            "WAPPUSH=1.2.3/TYPE=IPv4@ppg",
            "WAPPUSH=x/TYPE=EMAIL@ppg",
            "+15551234567",
        ] {
            let m = post(
                rig.pap,
                submission("addr", &[PLMN, a], "text/plain", None, b"x"),
            )
            .await;
            assert_eq!(result(&m), ("addr".into(), 2002), "{a}");
        }
        nothing(&mut rig.sms).await;
        // A duplicate push-id: pushed once only.
        let m = post(
            rig.pap,
            submission("dup", &[PLMN], "text/plain", None, b"once"),
        )
        .await;
        assert_eq!(result(&m).1, 1001);
        datagram(&mut rig.sms).await;
        let m = post(
            rig.pap,
            submission("dup", &[PLMN], "text/plain", None, b"twice"),
        )
        .await;
        assert_eq!(result(&m), ("dup".into(), 2007));
        nothing(&mut rig.sms).await;
        nothing(&mut rig.ota).await;
        nothing(&mut rig.sip).await;
    }

    #[tokio::test]
    async fn http_surface_and_keep_alive() {
        let rig = rig().await;
        let rs = exchange(
            rig.pap,
            &[
                http::request("GET", "/wappush", "ppg", &[], b""),
                http::request("POST", "/other", "ppg", &[], b"x"),
                submission("ka", &[PLMN], "text/plain", None, b"x"),
            ],
        )
        .await;
        assert_eq!(rs[0].status(), Some(405));
        assert_eq!(rs[0].header("Allow"), Some("POST"));
        assert_eq!(rs[1].status(), Some(404));
        assert_eq!(rs[2].status(), Some(202));
    }

    #[tokio::test]
    async fn ota_http_push() {
        let mut rig = rig().await;
        let m = post(
            rig.pap,
            submission(
                "ota",
                &["WAPPUSH=10.1.2.3/TYPE=IPv4@ppg"],
                "application/vnd.wap.mms-message",
                Some("4"),
                NOTIFICATION,
            ),
        )
        .await;
        assert_eq!(result(&m), ("ota".into(), 1001));
        let req = tokio::time::timeout(Duration::from_secs(2), rig.ota.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(req.method(), Some("POST"));
        assert_eq!(req.target(), Some("/wappush"));
        assert_eq!(req.header("Content-Type"), Some("application/http"));
        assert_eq!(req.header("X-Wap-Push-OTA-Version"), Some("1.0"));
        let inner = HttpMessage::parse(&req.body).unwrap();
        assert_eq!(inner.status(), Some(200));
        assert_eq!(
            inner.header("Content-Type"),
            Some("application/vnd.wap.mms-message")
        );
        assert_eq!(
            inner.header("X-Wap-Application-Id"),
            Some("x-wap-application:mms.ua")
        );
        assert_eq!(inner.body, NOTIFICATION);
        nothing(&mut rig.sms).await;
    }

    /// A PPG configured with a terminal over TLS at `tls_ip` (a lab CA's
    /// certificate for that IP) and a plain target on 127.0.0.1; what the
    /// TLS terminal's port receives first, per connection, comes out of the
    /// channel as (whether it began with a TLS handshake record, the
    /// decrypted request when it did).
    async fn tls_rig(
        fault: Option<&'static str>,
    ) -> (
        SocketAddr,
        mpsc::UnboundedReceiver<(bool, Option<HttpMessage>)>,
        Vec<JoinHandle<()>>,
    ) {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let tls_ip: IpAddr = "127.0.0.2".parse().unwrap();
        let ca = crate::net::tls::LabCa::new().unwrap();
        let terminal = ca.issue(&["localhost"], &[tls_ip]).unwrap();
        let server = crate::reference::tls::ReferenceTls {
            cert_chain_pem: terminal.chain_pem(),
            key_pem: terminal.key_pem(),
            ca_pem: ca.pem(),
        }
        .server_config()
        .unwrap();
        let tl = TcpListener::bind((tls_ip, 0)).await.unwrap();
        let ol = TcpListener::bind((ip, 0)).await.unwrap();
        let sl = TcpListener::bind((ip, 0)).await.unwrap();
        let cfg = PpgConfig {
            smsc: sl.local_addr().unwrap(),
            system_id: "ppg".into(),
            password: PASSWORD.into(),
            ota_http: ol.local_addr().unwrap(),
            ota_https: Some(tl.local_addr().unwrap()),
            sip_target: SocketAddr::new(ip, 9),
            sip_tls: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let terminal_task = tokio::spawn(async move {
            while let Ok((s, _)) = tl.accept().await {
                let mut first = [0u8; 1];
                let n = s.peek(&mut first).await.unwrap_or(0);
                if n == 0 || first[0] != 0x16 {
                    let _ = tx.send((false, None));
                    continue;
                }
                let acceptor = tokio_rustls::TlsAcceptor::from(server.clone());
                let Ok(mut t) = acceptor.accept(s).await else {
                    let _ = tx.send((true, None));
                    continue;
                };
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 8192];
                while !matches!(http::next_frame(&buf, 1 << 20), Ok(Some(_))) {
                    match t.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                let _ = t
                    .write_all(&http::response(204, "No Content", &[], b""))
                    .await;
                let _ = tx.send((true, HttpMessage::parse(&buf).ok()));
            }
        });
        let settings = Settings {
            fault,
            t1: Duration::from_millis(20),
            tls: Some(crate::reference::tls::ReferenceTls {
                cert_chain_pem: String::new(),
                key_pem: String::new(),
                ca_pem: ca.pem(),
            }),
            ..Settings::default()
        };
        let (addrs, mut tasks) = start(SocketAddr::new(ip, 0), cfg, settings).await.unwrap();
        tasks.push(terminal_task);
        (addrs.http, rx, tasks)
    }

    #[tokio::test]
    async fn ota_https_push_goes_over_tls_to_the_terminal_of_its_ip() {
        let (pap, mut rx, tasks) = tls_rig(None).await;
        let m = post(
            pap,
            submission(
                "tls",
                &["WAPPUSH=127.0.0.2/TYPE=IPv4@ppg"],
                "text/plain",
                Some("x-wap-application:wta.ua"),
                b"over tls",
            ),
        )
        .await;
        assert_eq!(result(&m), ("tls".into(), 1001));
        let (tls, req) = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(tls);
        let req = req.expect("the request, decrypted");
        assert_eq!(req.header("X-Wap-Push-OTA-Version"), Some("1.0"));
        assert_eq!(HttpMessage::parse(&req.body).unwrap().body, b"over tls");
        for t in tasks {
            t.abort();
        }
        // Fault ota-https-in-clear: the same push reaches the TLS port as
        // plaintext.
        let (pap, mut rx, tasks) = tls_rig(Some("ota-https-in-clear")).await;
        post(
            pap,
            submission(
                "clear",
                &["WAPPUSH=127.0.0.2/TYPE=IPv4@ppg"],
                "text/plain",
                None,
                b"x",
            ),
        )
        .await;
        let (tls, _) = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(!tls);
        for t in tasks {
            t.abort();
        }
    }

    #[tokio::test]
    async fn sip_push_is_retransmitted_until_answered() {
        let mut rig = rig_with(None, true).await;
        let m = post(
            rig.pap,
            submission(
                "sip",
                &["WAPPUSH=sip%3Abob%40liaison.test/TYPE=USER@ppg"],
                "application/vnd.wap.mms-message",
                Some("x-wap-application:mms.ua"),
                NOTIFICATION,
            ),
        )
        .await;
        assert_eq!(result(&m).1, 1001);
        let first = rig.sip.recv().await.unwrap();
        let again = tokio::time::timeout(Duration::from_secs(1), rig.sip.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.raw(), again.raw());
        assert_eq!(first.method(), Some("MESSAGE"));
        assert_eq!(first.request_uri(), Some("sip:bob@liaison.test"));
        assert_eq!(first.header("To"), Some("<sip:bob@liaison.test>"));
        assert!(first.from_tag().is_some());
        assert!(first.top_via_branch().unwrap().starts_with("z9hG4bK"));
        assert_eq!(
            first.header("Accept-Contact"),
            Some("*;+g.oma.pusheventapp=\"mms.ua\";require;explicit")
        );
        assert_eq!(
            first.content_type().as_deref(),
            Some("application/vnd.wap.mms-message")
        );
        assert_eq!(first.body(), NOTIFICATION);
        // Answered: no more copies.
        nothing(&mut rig.sip).await;
    }

    #[tokio::test]
    async fn faults_show() {
        let mut rig = rig_with(Some("wrong-port"), false).await;
        post(rig.pap, submission("wp", &[PLMN], "text/plain", None, b"x")).await;
        let (d, _) = datagram(&mut rig.sms).await;
        assert_ne!(d.dest_port, 2948);

        let mut rig = rig_with(Some("accept-malformed-xml"), false).await;
        let broken = raw_submission(
            b"<pap><push-message push-id=\"m1\"><address",
            Some(("text/plain", None, b"x")),
        );
        assert_eq!(result(&post(rig.pap, broken).await), ("m1".into(), 1001));
        nothing(&mut rig.sms).await;

        let mut rig = rig_with(Some("bearer-after-error"), false).await;
        let m = post(
            rig.pap,
            submission(
                "bad",
                &["WAPPUSH=abc/TYPE=PLMN@ppg"],
                "text/plain",
                None,
                b"x",
            ),
        )
        .await;
        assert_eq!(result(&m).1, 2002);
        assert_eq!(datagram(&mut rig.sms).await.0.destination, "abc");

        let mut rig = rig_with(Some("wrong-bind-password"), false).await;
        post(rig.pap, submission("wb", &[PLMN], "text/plain", None, b"x")).await;
        assert_ne!(rig.binds.recv().await.unwrap().password, PASSWORD);
        nothing(&mut rig.sms).await;
    }

    #[test]
    fn addresses() {
        assert_eq!(resolve(PLMN), Ok(Target::Sms("15551234567".into())));
        assert_eq!(
            resolve("wappush=15551234567/type=plmn@x"),
            Ok(Target::Sms("15551234567".into()))
        );
        assert_eq!(
            resolve("WAPPUSH=sip%3A%2B1555%40h%3Buser%3Dphone/TYPE=USER@x"),
            Ok(Target::Sip("sip:+1555@h;user=phone".into()))
        );
        // A sips: URI (RFC 5630): pushed over TLS when a TLS target is set.
        assert_eq!(
            resolve("WAPPUSH=sips%3A%2B1555%40h/TYPE=USER@x"),
            Ok(Target::Sip("sips:+1555@h".into()))
        );
        assert_eq!(
            resolve("WAPPUSH=127.0.0.1/TYPE=IPv4@x"),
            Ok(Target::Ota(Ipv4Addr::LOCALHOST.into()))
        );
        assert_eq!(
            resolve("WAPPUSH=0000:0000:0000:0000:0000:0000:0000:0001/TYPE=IPv6@x"),
            Ok(Target::Ota(std::net::Ipv6Addr::LOCALHOST.into()))
        );
        for bad in [
            "WAPPUSH=+/TYPE=PLMN@x",
            "WAPPUSH=sip%3/TYPE=USER@x",
            "WAPPUSH=/TYPE=IPv6@x",
            "WAPPUSH=::1/TYPE=IPv6@x",
            "WAPPUSH=0:0:0:0:0:0:0:1/TYPE=IPv6@x",
            "TYPE=PLMN",
        ] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
        assert_eq!(
            wsp_content_type("text/plain; charset=utf-8").encode(),
            b"\x0f\x83charset\x00utf-8\x00"
        );
    }
}
