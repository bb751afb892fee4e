//! Reference MSRP relay (RFC 4976) for the `im-server` role's MSRP interface.
//!
//! - AUTH (§5): answered 200 with a Use-Path naming a session of this relay
//!   bound to the connection that asked (no credentials: the reference runs
//!   on loopback only; a real relay asks for digest credentials).
//! - SEND (§6.4): the leading To-Path URIs that are this relay's are taken
//!   off and put in front of the From-Path (nearest first); the request goes,
//!   with its transaction id, to the connection bound to the last of them.
//!   With Failure-Report yes (or absent) the relay answers 200 itself at once;
//!   that 200 means "arrived here". The downstream response is not passed
//!   back; a downstream error, or no answer within the failure timeout, gives
//!   the sender a failure REPORT (unless Failure-Report is no).
//! - REPORT: forwarded the same way, end to end, never answered, never made up.
//!
//! - Next hop: when the last of its URIs in the To-Path is a session bound
//!   to another client's connection, the request goes over that connection;
//!   when it is the sender's own session (or the bare relay URI), the relay
//!   opens a connection of its own to the next URI (kept for later requests),
//!   over TLS for an `msrps:` URI (RFC 4975 §14.2), checking the peer's
//!   certificate against the run's lab CA.
//! - TLS (DR-25): with [`Settings::tls`] the relay takes TLS on its one port,
//!   telling a TLS connection by its first byte (0x16, a handshake record);
//!   its URIs on a TLS connection are `msrps:` (Use-Path, From-Path).
//!
//! The failure timeout is 30 s in RFC 4976; the reference uses 50·T1 so that
//! runs stay short, as it does with T1 itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::Settings;
use crate::codec::msrp::{self, MsrpMessage};
use crate::codec::sip::token;

/// One connection's sending side, and whether it is TLS.
#[derive(Clone)]
struct Out {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    tls: bool,
    /// Tells connections apart (a session bound to the sender's own).
    id: u64,
}

impl Out {
    fn send(&self, b: Vec<u8>) -> Result<(), ()> {
        self.tx.send(b).map_err(|_| ())
    }
}

#[derive(Default)]
struct State {
    /// Relay session id → the client connection it is bound to.
    sessions: HashMap<String, Out>,
    /// Forwarded SEND transactions: tid → (the original SEND, the sender's connection, answered downstream).
    pending: HashMap<String, (MsrpMessage, Out, bool)>,
    /// Connections the relay opened to next hops, by address and TLS.
    onward: HashMap<(SocketAddr, bool), Out>,
    next_id: u64,
}

struct Relay {
    settings: Settings,
    addr: SocketAddr,
    state: Mutex<State>,
    /// As TLS server (with `Settings::tls`).
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// As TLS client towards `msrps:` next hops.
    connector: Option<tokio_rustls::TlsConnector>,
}

use super::lock;

impl Relay {
    /// The relay's URI on a connection: `msrps:` over TLS.
    fn own_uri(&self, tls: bool) -> String {
        let scheme = if tls { "msrps" } else { "msrp" };
        format!("{scheme}://{};tcp", self.addr)
    }

    /// Is this URI one of ours? Returns its session id ("" for the bare relay URI).
    fn ours(&self, uri: &str) -> Option<String> {
        let addr = crate::codec::msrp::url_addr(uri)?;
        if addr != self.addr {
            return None;
        }
        Some(crate::codec::msrp::url_session(uri).unwrap_or_default())
    }

    fn handle(self: &Arc<Self>, raw: Vec<u8>, from: &Out) {
        let Ok(m) = MsrpMessage::parse(&raw) else {
            return;
        };
        let s = &self.settings;
        match m.method() {
            Some("AUTH") => {
                let sid = token();
                lock(&self.state).sessions.insert(sid.clone(), from.clone());
                let to = m.from_path().first().cloned().unwrap_or_default();
                // A session taken over TLS is reached over TLS: msrps:.
                let use_path = if from.tls && !s.has_fault("relay-use-path-plain") {
                    crate::codec::sdp::msrps_url(self.addr, &sid)
                } else {
                    crate::codec::sdp::msrp_url(self.addr, &sid)
                };
                let bytes = msrp::response(m.tid(), 200, "OK")
                    .header("To-Path", &to)
                    .header("From-Path", &self.own_uri(from.tls))
                    .header("Use-Path", &use_path)
                    .header("Expires", "3600")
                    .build();
                let _ = from.send(bytes);
            }
            Some("SEND") | Some("REPORT") => self.forward(&m, from),
            Some(_) => {}
            None => self.downstream_response(&m),
        }
        let _ = s;
    }

    /// §6.4: strip our own URIs, prepend them to From-Path, forward.
    fn forward(self: &Arc<Self>, m: &MsrpMessage, from: &Out) {
        let s = &self.settings;
        let to = m.to_path();
        let mut ours = Vec::new();
        let mut rest = Vec::new();
        for u in &to {
            match (rest.is_empty(), self.ours(u)) {
                (true, Some(sid)) => ours.push((u.clone(), sid)),
                _ => rest.push(u.clone()),
            }
        }
        let is_send = m.method() == Some("SEND");
        let fr = m.failure_report().unwrap_or_else(|| "yes".into());
        let Some((_, last_sid)) = ours.last().cloned() else {
            if is_send && fr != "no" {
                let _ = from.send(msrp::response_to(
                    m,
                    481,
                    "Session Does Not Exist",
                    &self.own_uri(from.tls),
                ));
            }
            return;
        };
        let bound = lock(&self.state).sessions.get(&last_sid).cloned();
        // A session bound to another connection leads to its client; the
        // sender's own session (or the bare relay URI) leads on to the next
        // URI, over a connection of the relay's own.
        let next = match bound {
            Some(o) if o.id != from.id => Some(Next::Conn(o)),
            _ if (last_sid.is_empty() || bound.is_some()) && !rest.is_empty() => {
                Some(Next::Open(rest[0].clone()))
            }
            _ => None,
        };
        let Some(next) = next.filter(|_| !rest.is_empty()) else {
            if is_send && fr != "no" {
                let _ = from.send(msrp::response_to(
                    m,
                    481,
                    "Session Does Not Exist",
                    &self.own_uri(from.tls),
                ));
            }
            return;
        };
        // Rebuild: new To-Path / From-Path, everything else as received.
        // The relay's URI towards the next hop names the scheme of that hop.
        let mut from_path: Vec<String> = ours.iter().rev().map(|(u, _)| u.clone()).collect();
        from_path.extend(m.from_path());
        let mut b = msrp::request(m.method().unwrap_or("SEND"), m.tid())
            .header("To-Path", &rest.join(" "))
            .header("From-Path", &from_path.join(" "));
        for (n, v) in m.headers() {
            if n.eq_ignore_ascii_case("To-Path") || n.eq_ignore_ascii_case("From-Path") {
                continue;
            }
            if !is_send
                && s.has_fault("relay-alters-report")
                && n.eq_ignore_ascii_case("Byte-Range")
            {
                // Fault: claims a different part of the message than the far end did.
                b = b.header(n, "1-1/*");
                continue;
            }
            b = b.header(n, v);
        }
        let fwd = b.body(m.body()).flag(m.flag()).build();
        if !is_send {
            if !s.has_fault("relay-drops-reports") {
                self.deliver(next, fwd);
            }
            return;
        }
        lock(&self.state)
            .pending
            .insert(m.tid().to_string(), (m.clone(), from.clone(), false));
        self.deliver(next, fwd);
        // Our own hop-by-hop 200, at once (Failure-Report yes).
        if fr == "yes" && !s.has_fault("relay-waits-for-far-200") {
            let _ = from.send(msrp::response_to(m, 200, "OK", &self.own_uri(from.tls)));
        }
        // Failure timeout.
        let me = self.clone();
        let tid = m.tid().to_string();
        let timeout = s.t1 * 50;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let expired = {
                let mut st = lock(&me.state);
                match st.pending.get(&tid) {
                    Some((_, _, false)) => st.pending.remove(&tid),
                    _ => None,
                }
            };
            if let Some((send, origin, _)) = expired {
                me.failure_report(&send, &origin, 408, "Request Timeout");
            }
        });
    }

    /// Sends a forwarded request to its next hop: a client's connection, or
    /// one the relay opens (or opened before) to the next URI.
    fn deliver(self: &Arc<Self>, next: Next, bytes: Vec<u8>) {
        let url = match next {
            Next::Conn(o) => {
                let _ = o.send(bytes);
                return;
            }
            Next::Open(url) => url,
        };
        let Some(addr) = msrp::url_addr(&url) else {
            return;
        };
        let tls = msrp::url_is_secure(&url);
        if let Some(o) = lock(&self.state).onward.get(&(addr, tls))
            && o.send(bytes.clone()).is_ok()
        {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let Ok(Ok(tcp)) =
                tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
            else {
                return;
            };
            let _ = tcp.set_nodelay(true);
            let out = match (&me.connector, tls) {
                // Fault: an msrps: next hop reached in the clear.
                (Some(_), true) if me.settings.has_fault("relay-next-hop-in-clear") => {
                    let (rd, wr) = tcp.into_split();
                    me.serve(rd, wr, false)
                }
                (Some(c), true) => {
                    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                    let Ok(Ok(t)) =
                        tokio::time::timeout(Duration::from_secs(5), c.connect(name, tcp)).await
                    else {
                        return;
                    };
                    let (rd, wr) = tokio::io::split(t);
                    me.serve(rd, wr, true)
                }
                // No TLS material: an msrps: next hop cannot be reached.
                (None, true) => return,
                (_, false) => {
                    let (rd, wr) = tcp.into_split();
                    me.serve(rd, wr, false)
                }
            };
            let _ = out.send(bytes);
            lock(&me.state).onward.insert((addr, tls), out);
        });
    }

    /// Serves one connection (accepted or opened): its writer and reader
    /// tasks; returns its sending side.
    fn serve<R, W>(self: &Arc<Self>, rd: R, mut wr: W, tls: bool) -> Out
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                    return;
                }
            }
        });
        let id = {
            let mut st = lock(&self.state);
            st.next_id += 1;
            st.next_id
        };
        let out = Out { tx, tls, id };
        let (me, from) = (self.clone(), out.clone());
        tokio::spawn(async move {
            super::msrp_receiver::read_msrp(rd, move |raw| me.handle(raw, &from)).await;
        });
        out
    }

    /// A response from downstream to a SEND we forwarded: never passed back;
    /// an error becomes a failure REPORT (§6.4).
    fn downstream_response(&self, m: &MsrpMessage) {
        let s = &self.settings;
        let Some(code) = m.status() else { return };
        let entry = {
            let mut st = lock(&self.state);
            match st.pending.get_mut(m.tid()) {
                Some(e) if !e.2 => {
                    e.2 = true;
                    Some((e.0.clone(), e.1.clone()))
                }
                _ => None,
            }
        };
        let Some((send, origin)) = entry else { return };
        let fr = send.failure_report().unwrap_or_else(|| "yes".into());
        if s.has_fault("relay-waits-for-far-200") && fr == "yes" {
            let _ = origin.send(msrp::response_to(
                &send,
                200,
                "OK",
                &self.own_uri(origin.tls),
            ));
        }
        if s.has_fault("relay-forwards-far-200") {
            // Passes the far end's response back as is.
            let _ = origin.send(m.raw().to_vec());
        }
        if s.has_fault("relay-fabricates-success-report") {
            let range = send
                .byte_range()
                .and_then(|r| r.ok())
                .unwrap_or(msrp::ByteRange::WHOLE);
            let _ = origin.send(msrp::report_for(
                &send,
                &self.own_uri(origin.tls),
                &msrp::new_tid(),
                range,
                200,
                "OK",
            ));
        }
        if code != 200 {
            let phrase = m.phrase().unwrap_or("Error").to_string();
            self.failure_report(&send, &origin, code, &phrase);
        }
    }

    fn failure_report(&self, send: &MsrpMessage, origin: &Out, code: u16, phrase: &str) {
        let fr = send.failure_report().unwrap_or_else(|| "yes".into());
        if fr == "no" || self.settings.has_fault("relay-no-failure-report") {
            return;
        }
        let range = send
            .byte_range()
            .and_then(|r| r.ok())
            .unwrap_or(msrp::ByteRange::WHOLE);
        let _ = origin.send(msrp::report_for(
            send,
            &self.own_uri(origin.tls),
            &msrp::new_tid(),
            range,
            code,
            phrase,
        ));
    }
}

/// Where a forwarded request goes.
enum Next {
    /// Over a client's connection (its session at the relay).
    Conn(Out),
    /// To this URI, over a connection of the relay's own.
    Open(String),
}

/// Starts the relay on `listener`: plaintext, and TLS for connections that
/// open with a TLS handshake record when the role has TLS material.
pub fn start(listener: TcpListener, settings: Settings) -> Vec<tokio::task::JoinHandle<()>> {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let acceptor = settings
        .tls
        .as_ref()
        .and_then(|t| t.server_config().ok())
        .map(tokio_rustls::TlsAcceptor::from);
    let connector = settings
        .tls
        .as_ref()
        .and_then(|t| t.client_config().ok())
        .map(tokio_rustls::TlsConnector::from);
    let relay = Arc::new(Relay {
        settings,
        addr,
        state: Mutex::default(),
        acceptor,
        connector,
    });
    vec![tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let relay = relay.clone();
            tokio::spawn(async move {
                // Peek (bounded) at the first byte: 0x16 opens a TLS handshake.
                let mut first = [0u8; 1];
                let peeked =
                    tokio::time::timeout(Duration::from_secs(5), stream.peek(&mut first)).await;
                let Ok(Ok(1)) = peeked else { return };
                let tls = first[0] == 0x16 && !relay.settings.has_fault("relay-msrps-plain");
                match (tls, relay.acceptor.clone()) {
                    (true, Some(acceptor)) => {
                        let Ok(Ok(s)) =
                            tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream))
                                .await
                        else {
                            return;
                        };
                        let (rd, wr) = tokio::io::split(s);
                        relay.serve(rd, wr, true);
                    }
                    (true, None) => {}
                    (false, _) => {
                        let (rd, wr) = stream.into_split();
                        relay.serve(rd, wr, false);
                    }
                }
            });
        }
    })]
}
