//! Reference `push-client`: a terminal's Push over SIP receiver.
//!
//! - A push is a MESSAGE whose Accept-Contact names the application by the
//!   `+g.oma.pusheventapp` feature tag. For an application it serves and a
//!   content type it takes: 200 without body or Contact (RFC 3428 §7); for a
//!   content type it does not take: 415 with Accept (RFC 3261 §21.4.13); for
//!   an application it does not serve (or no application named): 404. Server
//!   transactions answer a retransmission with the same response (§17.2.2).
//! - OPTIONS: 200 whose Contact lists the applications it serves as feature
//!   tag values (RFC 3840 §8), with Accept and Allow.
//! - SUBSCRIBE/NOTIFY: at start, when given an agent, it subscribes to the
//!   configured event package there (and, given the agent's TLS address,
//!   over TLS there too, taking the NOTIFYs on that connection) and answers every NOTIFY of that package
//!   200 (RFC 6665 §4.1.3); a NOTIFY with a body is a push for its first
//!   application.
//! - Every accepted push is handed to the application: reported to the
//!   upper tester, when given one, as `POST /push/<app>` with the content's
//!   type and bytes unchanged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Notify};

use super::Settings;
use crate::codec::sip::{request, response_to, token, SipMessage};
use crate::codec::sip_push::{event_package, push_apps, PUSH_APP_TAG};

/// The applications the reference serves.
pub const APPS: &[&str] = &["mms.ua"];
/// The content types it takes for them.
pub const ACCEPT: &[&str] = &["application/vnd.wap.mms-message", "text/plain"];
/// The user part of its address of record (`sip:push@<address>`).
pub const USER: &str = "push";

/// Where the reference push client meets the harness besides its own address.
#[derive(Debug, Clone, Default)]
pub struct PushClientConfig {
    /// The push agent to SUBSCRIBE to.
    pub agent: Option<SocketAddr>,
    /// The push agent's TLS address: subscribes over TLS there too.
    pub agent_tls: Option<SocketAddr>,
    /// The upper tester to report hand-overs to.
    pub upper_tester: Option<SocketAddr>,
    /// The event package to subscribe to.
    pub event: String,
}

struct Client {
    settings: Settings,
    cfg: PushClientConfig,
    sip_addr: SocketAddr,
    udp: Arc<UdpSocket>,
    /// Final responses by transaction (branch|method), kept for Timer J.
    finals: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    /// Our SUBSCRIBE's branch and the status that answered it.
    subscribe: Mutex<(String, Option<u16>)>,
    answered: Notify,
}

impl Client {
    fn aor(&self) -> String {
        format!("sip:{USER}@{}", self.sip_addr)
    }

    /// Decides the bytes to answer `raw` with (None = stay silent).
    fn answer(self: &Arc<Self>, raw: &[u8]) -> Option<Vec<u8>> {
        let s = &self.settings;
        let msg = SipMessage::parse(raw).ok()?;
        if !msg.is_request() {
            // A response: ours only if it answers our SUBSCRIBE.
            let mut sub = self.subscribe.lock().unwrap_or_else(|e| e.into_inner());
            if msg.top_via_branch().as_deref() == Some(sub.0.as_str())
                && msg.status().is_some_and(|c| c >= 200)
            {
                sub.1 = msg.status();
                self.answered.notify_waiters();
            }
            return None;
        }
        if s.has_fault("never-answers") {
            return None;
        }
        let method = msg.method()?.to_string();
        if method == "ACK" {
            return None;
        }
        if method == "NOTIFY" && s.has_fault("notify-not-answered") {
            return None;
        }
        let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
        {
            let mut finals = self.finals.lock().unwrap_or_else(|e| e.into_inner());
            finals.retain(|_, (_, at)| at.elapsed() < s.t1 * 64);
            if let Some((bytes, _)) = finals.get(&key) {
                return Some(bytes.clone());
            }
        }
        let allow = "MESSAGE, OPTIONS, NOTIFY";
        let bytes = match method.as_str() {
            "MESSAGE" => self.push(&msg),
            "NOTIFY" => self.notify(&msg),
            "OPTIONS" => {
                let mut contact = format!("<sip:{USER}@{}>", self.sip_addr);
                if !s.has_fault("no-feature-tags-advertised") {
                    contact.push_str(&format!(";{PUSH_APP_TAG}=\"{}\"", APPS.join(",")));
                }
                response_to(&msg, 200, "OK")
                    .to_tag(&token())
                    .header("Contact", &contact)
                    .header("Allow", allow)
                    .header("Accept", &ACCEPT.join(", "))
                    .build()
            }
            _ => response_to(&msg, 405, "Method Not Allowed")
                .to_tag(&token())
                .header("Allow", allow)
                .build(),
        };
        self.finals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (bytes.clone(), Instant::now()));
        Some(bytes)
    }

    /// A push MESSAGE: routed by the application feature tag.
    fn push(self: &Arc<Self>, msg: &SipMessage) -> Vec<u8> {
        let s = &self.settings;
        let named: Vec<String> = msg
            .header_values("Accept-Contact")
            .iter()
            .filter_map(|v| push_apps(v))
            .flatten()
            .collect();
        let app = named
            .iter()
            .find(|a| APPS.contains(&a.as_str()))
            .cloned()
            .or_else(|| {
                (s.has_fault("accepts-any-app") && !named.is_empty()).then(|| APPS[0].to_string())
            });
        let Some(app) = app else {
            return response_to(msg, 404, "Not Found").to_tag(&token()).build();
        };
        let ct = msg.content_type().unwrap_or_else(|| "text/plain".into());
        if !ACCEPT.contains(&ct.as_str()) && !s.has_fault("200-for-unsupported-type") {
            return response_to(msg, 415, "Unsupported Media Type")
                .to_tag(&token())
                .header("Accept", &ACCEPT.join(", "))
                .build();
        }
        self.hand_over(
            app,
            msg.header("Content-Type")
                .unwrap_or("text/plain")
                .to_string(),
            msg.body().to_vec(),
        );
        let mut b = response_to(msg, 200, "OK").to_tag(&token());
        if s.has_fault("200-with-contact") {
            b = b.header("Contact", &format!("<sip:{USER}@{}>", self.sip_addr));
        }
        b.build()
    }

    /// A NOTIFY of our subscription: 200; its body is a push.
    fn notify(self: &Arc<Self>, msg: &SipMessage) -> Vec<u8> {
        let package = msg.header("Event").map(event_package).unwrap_or_default();
        if package != self.cfg.event.to_ascii_lowercase() {
            return response_to(msg, 489, "Bad Event").build();
        }
        if !msg.body().is_empty() {
            self.hand_over(
                APPS[0].to_string(),
                msg.header("Content-Type")
                    .unwrap_or("text/plain")
                    .to_string(),
                msg.body().to_vec(),
            );
        }
        response_to(msg, 200, "OK").build()
    }

    /// Gives the content to the application: reports it to the upper tester.
    fn hand_over(self: &Arc<Self>, app: String, content_type: String, body: Vec<u8>) {
        let Some(addr) = self.cfg.upper_tester else {
            return;
        };
        let body = if self.settings.has_fault("body-altered") {
            let mut b: Vec<u8> = Vec::with_capacity(body.len());
            let mut i = 0;
            while i < body.len() {
                if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                    continue;
                }
                b.push(body[i]);
                i += 1;
            }
            b.pop();
            b
        } else {
            body
        };
        tokio::spawn(async move {
            let req = crate::codec::http::request(
                "POST",
                &format!("/push/{app}"),
                &addr.to_string(),
                &[("Content-Type", content_type.as_str())],
                &body,
            );
            let limit = Duration::from_secs(2);
            let Ok(Ok(mut stream)) = tokio::time::timeout(limit, TcpStream::connect(addr)).await
            else {
                return;
            };
            if !matches!(
                tokio::time::timeout(limit, stream.write_all(&req)).await,
                Ok(Ok(()))
            ) {
                return;
            }
            let mut buf = [0u8; 512];
            let _ = tokio::time::timeout(limit, stream.read(&mut buf)).await;
        });
    }

    /// A SUBSCRIBE to the configured event package, its Via naming
    /// `transport` at `via`, its Contact `contact`.
    fn subscribe_request(
        &self,
        transport: &str,
        via: SocketAddr,
        branch: &str,
        contact: &str,
    ) -> Vec<u8> {
        let aor = self.aor();
        request("SUBSCRIBE", &aor)
            .header(
                "Via",
                &format!("SIP/2.0/{transport} {via};branch={branch};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<{aor}>;tag={}", token()))
            .header("To", &format!("<{aor}>"))
            .header("Call-ID", &format!("{}@liaison-ref", token()))
            .header("CSeq", "1 SUBSCRIBE")
            .header("Contact", contact)
            .header("Event", &self.cfg.event)
            .header("Expires", "3600")
            .header("Accept", &ACCEPT.join(", "))
            .build()
    }

    /// Subscribes to the push agent over TLS (RFC 3261 §26.2): one
    /// connection of its own, the agent's certificate checked for its IP
    /// address against the run's CA, the SUBSCRIBE sent once (a reliable
    /// transport), and every NOTIFY taken and answered on that connection,
    /// which it keeps open. Without TLS material it does not subscribe there.
    async fn subscribe_tls(
        self: Arc<Self>,
        agent: SocketAddr,
        config: Option<Arc<rustls::ClientConfig>>,
    ) {
        let Ok(Ok(tcp)) =
            tokio::time::timeout(super::tls::HANDSHAKE, TcpStream::connect(agent)).await
        else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let Ok(local) = tcp.local_addr() else { return };
        let branch = format!("z9hG4bK{}", token());
        let bytes = self.subscribe_request(
            "TLS",
            local,
            &branch,
            &format!("<sip:{USER}@{local};transport=tls>"),
        );
        if self.settings.has_fault("subscribe-tls-in-clear") {
            // The fault: the SUBSCRIBE in the clear to the TLS port.
            let (rd, mut wr) = tcp.into_split();
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
            super::read_stream(rd, |_| {}).await;
            return;
        }
        let Some(config) = config else { return };
        let name = rustls::pki_types::ServerName::IpAddress(agent.ip().into());
        let Ok(Ok(tls)) = tokio::time::timeout(
            super::tls::HANDSHAKE,
            tokio_rustls::TlsConnector::from(config).connect(name, tcp),
        )
        .await
        else {
            return;
        };
        let (rd, mut wr) = tokio::io::split(tls);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
        });
        let _ = tx.send(bytes);
        let client = self.clone();
        super::read_stream(rd, move |raw| {
            if let Some(b) = client.answer(&raw) {
                let _ = tx.send(b);
            }
        })
        .await;
    }

    /// Subscribes to the push agent: SUBSCRIBE over UDP, retransmitted on
    /// Timer E until a final response or Timer F (RFC 3261 §17.1.2).
    async fn subscribe(self: Arc<Self>, agent: SocketAddr) {
        let branch = format!("z9hG4bK{}", token());
        self.subscribe.lock().unwrap_or_else(|e| e.into_inner()).0 = branch.clone();
        let bytes = self.subscribe_request(
            "UDP",
            self.sip_addr,
            &branch,
            &format!("<sip:{USER}@{}>", self.sip_addr),
        );
        let t1 = self.settings.t1;
        let end = Instant::now() + t1 * 64;
        let mut e = t1;
        while Instant::now() < end {
            let notified = self.answered.notified();
            if self
                .subscribe
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .is_some()
            {
                return;
            }
            let _ = self.udp.send_to(&bytes, agent).await;
            let _ = tokio::time::timeout(e, notified).await;
            e = (e * 2).min(t1 * 8);
        }
    }
}

/// Starts the client on its UDP socket and TCP listener (one port) and,
/// with `settings.tls`, the listener where it takes SIP over TLS.
pub fn start(
    udp: UdpSocket,
    tcp: TcpListener,
    tls: Option<TcpListener>,
    settings: Settings,
) -> Vec<tokio::task::JoinHandle<()>> {
    let tls_server = settings.tls.as_ref().and_then(|t| t.server_config().ok());
    let sip_addr = udp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let cfg = settings.push_client.clone().unwrap_or_default();
    let client = Arc::new(Client {
        settings,
        cfg,
        sip_addr,
        udp: Arc::new(udp),
        finals: Mutex::default(),
        subscribe: Mutex::new((String::new(), None)),
        answered: Notify::new(),
    });
    let mut tasks = Vec::new();
    {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = client.udp.recv_from(&mut buf).await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                if let Some(bytes) = client.answer(&buf[..n]) {
                    let _ = client.udp.send_to(&bytes, from).await;
                }
            }
        }));
    }
    if let Some(agent) = client.cfg.agent {
        tasks.push(tokio::spawn(client.clone().subscribe(agent)));
    }
    if let Some(agent) = client.cfg.agent_tls {
        let config = client
            .settings
            .tls
            .as_ref()
            .and_then(|t| t.client_config().ok());
        tasks.push(tokio::spawn(client.clone().subscribe_tls(agent, config)));
    }
    if let (Some(listener), Some(config)) = (tls, tls_server) {
        let client = client.clone();
        tasks.push(super::tls::serve_sip(
            listener,
            config,
            Arc::new(move |raw, _peer, tx| {
                if let Some(bytes) = client.answer(&raw) {
                    let _ = tx.send(bytes);
                }
            }),
        ));
    }
    tasks.push(tokio::spawn(async move {
        while let Ok((stream, _peer)) = tcp.accept().await {
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
            tokio::spawn(super::read_stream(rd, move |raw| {
                if let Some(bytes) = client.answer(&raw) {
                    let _ = tx.send(bytes);
                }
            }));
        }
    }));
    tasks
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "push-client",
        name: "accepts-any-app",
        description: "accepts (200) a push for an application it does not serve",
        breaks: &["PUSH-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "no-feature-tags-advertised",
        description: "its 200 to OPTIONS has a Contact without +g.oma.pusheventapp",
        breaks: &["PUSH-7"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "200-for-unsupported-type",
        description: "accepts a push whose content type it does not take",
        breaks: &["PUSH-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "200-with-contact",
        description: "its 200 to a push MESSAGE carries a Contact header",
        breaks: &["PUSH-6"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "body-altered",
        description: "hands the application the content with its line ends rewritten and its trailing byte cut",
        breaks: &["PUSH-6", "PUSH-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "notify-not-answered",
        description: "never answers a NOTIFY of its push subscription",
        breaks: &["PUSH-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "subscribe-tls-in-clear",
        description: "sends its SUBSCRIBE in the clear to the push agent's TLS address",
        breaks: &["PUSH-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "push-client",
        name: "never-answers",
        description: "receives pushes, OPTIONS and NOTIFYs and never answers them",
        breaks: &["PUSH-6", "PUSH-7", "PUSH-9"],
        store_and_forward: true,
        on_ipv6: false,
    },
];
