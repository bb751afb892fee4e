//! The SIP client of the reference roles that push over SIP: the PPG's SIP
//! bearer (`ppg.rs`) and the MMS relay's Push over SIP (`mms_relay.rs`).
//!
//! One UDP socket of its own, whose every datagram is taken for a response;
//! requests go to one configured target (the outbound proxy or device). Each
//! request runs a non-INVITE client transaction (RFC 3261 §17.1.2.2): sent at
//! once, retransmitted on Timer E (T1 doubling to T2 = 8·T1; T2 once a
//! provisional response came) until a final response or Timer F (64·T1).
//! Responses find their transaction by the top Via branch; the answer changes
//! nothing else (an unconfirmed push). The role builds each request (its
//! faults decide the headers) and hands it over once it has answered the
//! submission that led to it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::lock;
use crate::codec::sip::{self, RequestBuilder, SipMessage};

/// A request ready to send, and the Via branch its responses come back by.
pub(super) struct Request {
    msg: Vec<u8>,
    branch: String,
}

/// The handle a role keeps: builds requests, hands them to the transactions.
pub(super) struct SipUac {
    inner: Arc<Inner>,
    requests: mpsc::UnboundedSender<(Request, Option<OverTls>)>,
}

/// Where a request goes over TLS instead (RFC 3261 §26.2, a `sips:`
/// Request-URI), and the TLS client configuration that checks the peer.
pub(super) struct OverTls {
    pub to: SocketAddr,
    pub config: Arc<rustls::ClientConfig>,
}

struct Inner {
    sock: UdpSocket,
    addr: SocketAddr,
    target: SocketAddr,
    t1: Duration,
    /// Client transactions waiting for responses, by Via branch.
    waiters: Mutex<HashMap<String, mpsc::UnboundedSender<u16>>>,
}

impl SipUac {
    /// Binds its UDP socket at `at` (the role's own address: its PAP or MM1
    /// port, so the run names what it sends as the SUT's), or on a free
    /// port of that IP when `at` is taken; requests go to `target`, timed
    /// from `t1` (at least 1 ms). Returns the handle and its tasks (the
    /// response reader and the transactions; aborting them stops it).
    pub(super) async fn start(
        at: SocketAddr,
        target: SocketAddr,
        t1: Duration,
    ) -> std::io::Result<(SipUac, Vec<JoinHandle<()>>)> {
        let sock = match UdpSocket::bind(at).await {
            Ok(s) => s,
            Err(_) => UdpSocket::bind(SocketAddr::new(at.ip(), 0)).await?,
        };
        let addr = sock.local_addr()?;
        let inner = Arc::new(Inner {
            sock,
            addr,
            target,
            t1: t1.max(Duration::from_millis(1)),
            waiters: Mutex::default(),
        });
        let (requests, rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(responses(inner.clone())),
            tokio::spawn(dispatcher(rx, inner.clone())),
        ];
        Ok((SipUac { inner, requests }, tasks))
    }

    /// A MESSAGE (RFC 3428) to `uri` from `sip:<user>@<this address>`: Via
    /// (UDP, a fresh branch, rport), Max-Forwards 70, From with a fresh tag,
    /// To `<uri>`, a fresh Call-ID `…@<call_id_host>`, CSeq 1, then what
    /// `rest` adds (further headers, the body).
    pub(super) fn message(
        &self,
        uri: &str,
        user: &str,
        call_id_host: &str,
        rest: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Request {
        let addr = self.inner.addr;
        let branch = format!("z9hG4bK{}", sip::token());
        let b = sip::request("MESSAGE", uri)
            .header("Via", &format!("SIP/2.0/UDP {addr};branch={branch};rport"))
            .header("Max-Forwards", "70")
            .header("From", &format!("<sip:{user}@{addr}>;tag={}", sip::token()))
            .header("To", &format!("<{uri}>"))
            .header("Call-ID", &format!("{}@{call_id_host}", sip::token()))
            .header("CSeq", "1 MESSAGE");
        Request {
            msg: rest(b).build(),
            branch,
        }
    }

    /// Starts the client transaction of `req`.
    pub(super) fn send(&self, req: Request) {
        let _ = self.requests.send((req, None));
    }

    /// Starts the client transaction of `req` over a TLS connection of its
    /// own to `tls.to` (its Via then names TLS).
    pub(super) fn send_tls(&self, req: Request, tls: OverTls) {
        let _ = self.requests.send((req, Some(tls)));
    }
}

/// Runs the transactions; stopping the role aborts them.
async fn dispatcher(mut rx: mpsc::UnboundedReceiver<(Request, Option<OverTls>)>, uac: Arc<Inner>) {
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Some((req, None)) => {
                    running.spawn(transaction(uac.clone(), req));
                }
                Some((req, Some(tls))) => {
                    let end = Instant::now() + uac.t1 * 64;
                    running.spawn(async move {
                        let _ = transaction_tls(req, tls, end).await;
                    });
                }
                None => return,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// SIP responses → the waiting client transaction, by top Via branch.
async fn responses(uac: Arc<Inner>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let n = match uac.sock.recv_from(&mut buf).await {
            Ok((n, _)) => n,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(m) = SipMessage::parse(&buf[..n]) else {
            continue;
        };
        let (Some(code), Some(branch)) = (m.status(), m.top_via_branch()) else {
            continue;
        };
        if let Some(tx) = lock(&uac.waiters).get(&branch) {
            let _ = tx.send(code);
        }
    }
}

/// A non-INVITE client transaction over UDP (RFC 3261 §17.1.2.2): Timer E
/// retransmissions until a final response or Timer F.
async fn transaction(uac: Arc<Inner>, req: Request) {
    let Request { msg, branch } = req;
    let (tx, mut rx) = mpsc::unbounded_channel::<u16>();
    lock(&uac.waiters).insert(branch.clone(), tx);
    let t1 = uac.t1;
    let t2 = t1 * 8;
    let end = Instant::now() + t1 * 64;
    let mut e = t1;
    let mut proceeding = false;
    let _ = uac.sock.send_to(&msg, uac.target).await;
    let mut fire = Instant::now() + e;
    loop {
        match tokio::time::timeout_at(fire.min(end), rx.recv()).await {
            Ok(Some(c)) if c >= 200 => break,
            Ok(Some(_)) => proceeding = true,
            Ok(None) => break,
            Err(_) if Instant::now() >= end => break,
            Err(_) => {
                let _ = uac.sock.send_to(&msg, uac.target).await;
                e = if proceeding { t2 } else { (e * 2).min(t2) };
                fire = Instant::now() + e;
            }
        }
    }
    lock(&uac.waiters).remove(&branch);
}

/// A non-INVITE client transaction over TLS (RFC 3261 §17.1.2.2 on a
/// reliable transport: no retransmission, Timer F alone bounds it, here
/// `end`): a connection of its own, the handshake with the peer's
/// certificate checked for its IP address, the request with its Via naming
/// TLS (§18.1.1, §26.2), responses read until a final one, close_notify.
/// The final status, or None when any of it failed.
async fn transaction_tls(req: Request, tls: OverTls, end: Instant) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let msg = via_over_tls(&req.msg);
    let mut stream = super::tls::connect(tls.config, tls.to, end).await?;
    tokio::time::timeout_at(end, stream.write_all(&msg))
        .await
        .ok()?
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        while let Ok(Some(f)) = sip::next_frame(&buf, 1 << 16) {
            let n = match f {
                sip::Frame::KeepAlive(n) | sip::Frame::Message(n) => n,
            };
            let one: Vec<u8> = buf.drain(..n.min(buf.len())).collect();
            let code = SipMessage::parse(&one).ok().and_then(|m| m.status());
            if let Some(c) = code.filter(|c| *c >= 200) {
                let _ = tokio::time::timeout_at(end, stream.shutdown()).await;
                return Some(c);
            }
        }
        let n = tokio::time::timeout_at(end, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() > 1 << 16 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request with its top Via's transport TLS instead of UDP.
fn via_over_tls(msg: &[u8]) -> Vec<u8> {
    let from = b"Via: SIP/2.0/UDP ";
    match msg.windows(from.len()).position(|w| w == from) {
        Some(i) => {
            let mut out = msg[..i].to_vec();
            out.extend_from_slice(b"Via: SIP/2.0/TLS ");
            out.extend_from_slice(&msg[i + from.len()..]);
            out
        }
        None => msg.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_via_names_tls() {
        let m = b"MESSAGE sips:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 127.0.0.1:6\r\n\r\n";
        let out = String::from_utf8(via_over_tls(m)).unwrap();
        assert!(out.contains("Via: SIP/2.0/TLS 127.0.0.1:5;branch=z9hG4bK1\r\n"));
        assert!(out.contains("Via: SIP/2.0/UDP 127.0.0.1:6\r\n"));
    }
}
