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
//! The failure timeout is 30 s in RFC 4976; the reference uses 50·T1 so that
//! runs stay short, as it does with T1 itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::Settings;
use crate::codec::msrp::{self, MsrpMessage};
use crate::codec::sip::token;

type Out = mpsc::UnboundedSender<Vec<u8>>;

#[derive(Default)]
struct State {
    /// Relay session id → the client connection it is bound to.
    sessions: HashMap<String, Out>,
    /// Forwarded SEND transactions: tid → (the original SEND, the sender's connection, answered downstream).
    pending: HashMap<String, (MsrpMessage, Out, bool)>,
}

struct Relay {
    settings: Settings,
    addr: SocketAddr,
    state: Mutex<State>,
}

use super::lock;

impl Relay {
    fn own_uri(&self) -> String {
        format!("msrp://{};tcp", self.addr)
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
                let bytes = msrp::response(m.tid(), 200, "OK")
                    .header("To-Path", &to)
                    .header("From-Path", &self.own_uri())
                    .header("Use-Path", &crate::codec::sdp::msrp_url(self.addr, &sid))
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
                    &self.own_uri(),
                ));
            }
            return;
        };
        let next = lock(&self.state).sessions.get(&last_sid).cloned();
        let Some(next) = next.filter(|_| !rest.is_empty()) else {
            if is_send && fr != "no" {
                let _ = from.send(msrp::response_to(
                    m,
                    481,
                    "Session Does Not Exist",
                    &self.own_uri(),
                ));
            }
            return;
        };
        // Rebuild: new To-Path / From-Path, everything else as received.
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
                let _ = next.send(fwd);
            }
            return;
        }
        lock(&self.state)
            .pending
            .insert(m.tid().to_string(), (m.clone(), from.clone(), false));
        let _ = next.send(fwd);
        // Our own hop-by-hop 200, at once (Failure-Report yes).
        if fr == "yes" && !s.has_fault("relay-waits-for-far-200") {
            let _ = from.send(msrp::response_to(m, 200, "OK", &self.own_uri()));
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
            let _ = origin.send(msrp::response_to(&send, 200, "OK", &self.own_uri()));
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
                &self.own_uri(),
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
            &self.own_uri(),
            &msrp::new_tid(),
            range,
            code,
            phrase,
        ));
    }
}

/// Starts the relay on `listener`.
pub fn start(listener: TcpListener, settings: Settings) -> Vec<tokio::task::JoinHandle<()>> {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let relay = Arc::new(Relay {
        settings,
        addr,
        state: Mutex::default(),
    });
    vec![tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (mut rd, mut wr) = stream.into_split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            tokio::spawn(async move {
                while let Some(b) = rx.recv().await {
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                }
            });
            let relay = relay.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    let n = match rd.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Ok(Some(len)) = msrp::next_frame(&buf, 4 * 1024 * 1024) {
                        let raw: Vec<u8> = buf.drain(..len.clamp(1, buf.len())).collect();
                        relay.handle(raw, &tx);
                    }
                    if buf.len() > 4 * 1024 * 1024 {
                        return;
                    }
                    tokio::time::sleep(Duration::ZERO).await;
                }
            });
        }
    })]
}
