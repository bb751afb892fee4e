//! Reference `sms-im-iwf`: an SMS–IM interworking function. It binds to an
//! SMSC as an ESME (SMPP 3.4 bind_transceiver); each deliver_sm becomes a
//! pager-mode SIP MESSAGE to `sip:+<number>@<domain>;user=phone`, sent to the
//! IMS core it was given. The SMS is acknowledged only once the SIP outcome
//! is known (3GPP TS 23.204 §6.14):
//!
//! - 200 → deliver_sm_resp ESME_ROK (with a message id of its own), then, if
//!   the SMS asked for an SME acknowledgement (registered_delivery 0x04), a
//!   submit_sm with esm_class 0x08 (ESME Delivery Acknowledgement, SMPP 3.4
//!   §5.2.12) carrying `stat:DELIVRD`, receipted_message_id and message_state 2;
//! - 202 → accepted by a store, not delivered: ESME_ROK and `stat:ENROUTE`
//!   (message_state 1);
//! - any other final response → ESME_RX_P_APPN and `stat:UNDELIV` (5);
//! - no final response by Timer F → ESME_RX_T_APPN and `stat:UNDELIV`.
//!
//! No IMDN is asked for or waited for (seed 001).
//!
//! Given the core's SIP-over-TLS address (`IwfConfig::ims_core_tls`) and
//! TLS material, it sends the requests for the numbers of its TLS prefix
//! there over one TLS connection of its own (RFC 3261 §26.2, Via
//! SIP/2.0/TLS, no retransmissions on the reliable transport), checking
//! the core's certificate against the lab CA; the rest over UDP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use super::Settings;
use crate::codec::sip::{request, token, SipMessage};
use crate::codec::smpp::{
    self, command, esm, registered, state, status, Bind, Body, Pdu, Receipt, Sm, Tlv,
};

/// Where the IWF connects: the SMSC, the IMS core, and its credentials.
#[derive(Debug, Clone)]
pub struct IwfConfig {
    pub smsc: SocketAddr,
    pub ims_core: SocketAddr,
    pub system_id: String,
    pub password: String,
    pub domain: String,
    /// The core's SIP-over-TLS address (RFC 3261 §26.2): requests for the
    /// numbers of `tls_prefix` (all of them without one) go there over
    /// TLS, the harness's certificate checked against the lab CA in
    /// `Settings.tls`; the rest go to `ims_core` over UDP.
    pub ims_core_tls: Option<SocketAddr>,
    pub tls_prefix: Option<String>,
}

/// The number prefix the embedded reference routes to the core's TLS
/// address (the `@if:iwf_sip_tls` scenarios' numbers; the others' start 1555).
pub const TLS_PREFIX: &str = "1556";

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<SipMessage>>>>;

use super::lock;

/// Starts the IWF: binds to the SMSC (retrying until it answers) and serves.
pub async fn start(
    ip: std::net::IpAddr,
    cfg: IwfConfig,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let sip = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    super::enlarge_udp_buffers(&sip, SIP_SOCKET_BUFFER);
    let sip = Arc::new(sip);
    let sip_addr = sip.local_addr()?;
    let waiters: Waiters = Arc::default();
    let mut tasks = Vec::new();
    // SIP responses → the waiting transaction (by branch).
    {
        let (sip, waiters) = (sip.clone(), waiters.clone());
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, _)) = sip.recv_from(&mut buf).await else {
                    continue;
                };
                answer(&waiters, &buf[..n]);
            }
        }));
    }
    let out = Arc::new(SipOut {
        udp: sip,
        udp_addr: sip_addr,
        core: cfg.ims_core,
        tls: cfg.ims_core_tls.map(|to| TlsRoute {
            to,
            prefix: cfg.tls_prefix.clone(),
            config: settings.tls.as_ref().and_then(|t| t.client_config().ok()),
            clear: settings.has_fault("sip-tls-sent-in-clear"),
            conn: tokio::sync::Mutex::new(None),
        }),
        waiters,
    });
    tasks.push(tokio::spawn(async move {
        // Reconnect when the SMSC goes away; each connection binds anew.
        loop {
            if let Ok(stream) = TcpStream::connect(cfg.smsc).await {
                let _ = stream.set_nodelay(true);
                serve(stream, &cfg, &settings, out.clone()).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }));
    Ok((sip_addr, tasks))
}

/// Socket buffers of the IWF's SIP socket ([`super::enlarge_udp_buffers`]).
const SIP_SOCKET_BUFFER: libc::c_int = 4 << 20;

/// A final response → the transaction waiting for it (by its Via branch).
fn answer(waiters: &Waiters, raw: &[u8]) {
    let Ok(m) = SipMessage::parse(raw) else {
        return;
    };
    let (Some(code), Some(b)) = (m.status(), m.top_via_branch()) else {
        return;
    };
    if code >= 200 {
        let waiting = lock(waiters).remove(&b);
        if let Some(tx) = waiting {
            let _ = tx.send(m);
        }
    }
}

/// Where the IWF's SIP requests go: to the core over UDP, or over one TLS
/// connection of its own to the core's TLS address for the numbers routed
/// there (opened at the first such request, reused, opened again once it
/// ended).
struct SipOut {
    udp: Arc<UdpSocket>,
    udp_addr: SocketAddr,
    core: SocketAddr,
    tls: Option<TlsRoute>,
    waiters: Waiters,
}

struct TlsRoute {
    to: SocketAddr,
    prefix: Option<String>,
    /// Its rustls client configuration (the lab CA as its roots); None
    /// without TLS material, when its TLS requests fail.
    config: Option<Arc<rustls::ClientConfig>>,
    /// Fault `sip-tls-sent-in-clear`: the connection is plain TCP.
    clear: bool,
    /// The open connection: its local address and its writer.
    conn: tokio::sync::Mutex<Option<(SocketAddr, mpsc::UnboundedSender<Vec<u8>>)>>,
}

/// How one request travels, with what its Via and Contact say.
#[derive(Clone)]
struct Hop {
    /// The Via transport token (RFC 3261 §20.42).
    proto: &'static str,
    /// Its sent-by address.
    local: SocketAddr,
    /// The connection's writer (None: UDP).
    tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl Hop {
    /// The Contact URI of this hop (RFC 3261 §19.1.1 `transport=`).
    fn contact(&self) -> String {
        match self.proto {
            "UDP" => format!("<sip:iwf@{}>", self.local),
            _ => format!("<sip:iwf@{};transport=tls>", self.local),
        }
    }
}

impl SipOut {
    /// The hop for a request to `number`: TLS when the number is routed
    /// there, else UDP; None when the TLS connection cannot be opened.
    async fn hop(&self, number: &str) -> Option<Hop> {
        let udp = Hop {
            proto: "UDP",
            local: self.udp_addr,
            tx: None,
        };
        let Some(t) = &self.tls else {
            return Some(udp);
        };
        if t.prefix.as_ref().is_some_and(|p| !number.starts_with(p)) {
            return Some(udp);
        }
        let mut conn = t.conn.lock().await;
        if let Some((local, tx)) = conn.as_ref().filter(|(_, tx)| !tx.is_closed()) {
            return Some(Hop {
                proto: "TLS",
                local: *local,
                tx: Some(tx.clone()),
            });
        }
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(t.to))
            .await
            .ok()?
            .ok()?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok()?;
        type Rd = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
        type Wr = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;
        let (rd, mut wr): (Rd, Wr) = if t.clear {
            // Fault: SIP meant for TLS, written in the clear to the TLS port.
            let (r, w) = stream.into_split();
            (Box::new(r), Box::new(w))
        } else {
            let name = rustls::pki_types::ServerName::IpAddress(t.to.ip().into());
            let connector = tokio_rustls::TlsConnector::from(t.config.clone()?);
            let s = tokio::time::timeout(super::tls::HANDSHAKE, connector.connect(name, stream))
                .await
                .ok()?
                .ok()?;
            let (r, w) = tokio::io::split(s);
            (Box::new(r), Box::new(w))
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                    return;
                }
            }
        });
        let waiters = self.waiters.clone();
        tokio::spawn(async move {
            super::read_stream(rd, |raw| answer(&waiters, &raw)).await;
            // The connection ended: the next request opens another.
            writer.abort();
        });
        *conn = Some((local, tx.clone()));
        Some(Hop {
            proto: "TLS",
            local,
            tx: Some(tx),
        })
    }

    /// Sends a request on its hop.
    async fn send(&self, hop: &Hop, bytes: &[u8]) {
        match &hop.tx {
            Some(tx) => {
                let _ = tx.send(bytes.to_vec());
            }
            None => {
                let _ = self.udp.send_to(bytes, self.core).await;
            }
        }
    }
}

/// The SMS of one connection still waiting for their IM outcome (kept
/// only with the load fault `delivrd-at-shutdown`): sequence number →
/// (the SMS, its message id).
type Inflight = Arc<Mutex<HashMap<u32, (Sm, String)>>>;

/// PDUs the writer puts into one write at most.
const WRITE_BATCH: usize = 1024;

async fn serve(stream: TcpStream, cfg: &IwfConfig, s: &Settings, out: Arc<SipOut>) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    // One write for every PDU queued by then (not one system call a PDU).
    let writer = tokio::spawn(async move {
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut bytes = Vec::with_capacity(64 * 1024);
        while let Some(b) = rx.recv().await {
            batch.push(b);
            while batch.len() < WRITE_BATCH {
                match rx.try_recv() {
                    Ok(b) => batch.push(b),
                    Err(_) => break,
                }
            }
            bytes.clear();
            for b in batch.drain(..) {
                bytes.extend_from_slice(&b);
            }
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let seq = Arc::new(AtomicU32::new(1));
    let next_seq = {
        let seq = seq.clone();
        move || seq.fetch_add(1, Ordering::Relaxed) + 1
    };
    let bind = Bind {
        system_id: cfg.system_id.clone(),
        password: if s.has_fault("iwf-wrong-password") {
            "wrong".into()
        } else {
            cfg.password.clone()
        },
        ..Bind::default()
    };
    let _ = tx.send(smpp::bind_transceiver(next_seq(), &bind));
    let (cfg, s) = (Arc::new(cfg.clone()), Arc::new(s.clone()));
    let inflight: Option<Inflight> = s.has_fault("delivrd-at-shutdown").then(Inflight::default);
    let parked: Option<Parked> = s.has_fault("swaps-receipts").then(Parked::default);
    let mut ids = 0u64;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Ok(Some(len)) = smpp::next_frame(&buf[at..], 64 * 1024) {
            let bytes = &buf[at..at + len];
            at += len;
            let Ok(pdu) = Pdu::parse(bytes) else {
                continue;
            };
            let seq = pdu.header.sequence_number;
            match (pdu.header.command_id, pdu.body) {
                (command::DELIVER_SM, Body::DeliverSm(sm)) => {
                    ids += 1;
                    let id = format!("iwf{ids}");
                    if let Some(f) = &inflight {
                        lock(f).insert(seq, (sm.clone(), id.clone()));
                    }
                    let job = Job {
                        seq,
                        sm,
                        id,
                        inflight: inflight.clone(),
                        parked: parked.clone(),
                    };
                    let (tx, out, cfg, s) = (tx.clone(), out.clone(), cfg.clone(), s.clone());
                    let next = next_seq.clone();
                    tokio::spawn(async move { job.run(&tx, &out, &cfg, &s, next).await });
                }
                (command::ENQUIRE_LINK, _) => {
                    let _ = tx.send(smpp::enquire_link_resp(seq));
                }
                (command::UNBIND, _) => {
                    if let Some(f) = &inflight {
                        // Fault: every SMS still waiting for its IM outcome
                        // is reported delivered before the unbind is answered.
                        let waiting: Vec<(u32, (Sm, String))> = lock(f).drain().collect();
                        for (seq, (sm, id)) in waiting {
                            let job = Job {
                                seq,
                                sm,
                                id,
                                inflight: None,
                                parked: None,
                            };
                            job.report(&tx, &next_seq, status::ESME_ROK, state::DELIVERED, &s);
                        }
                    }
                    let _ = tx.send(smpp::unbind_resp(seq));
                }
                _ => {}
            }
        }
        buf.drain(..at);
    }
    writer.abort();
}

/// An SME acknowledgement held back for a moment (load fault
/// `swaps-receipts`): its sequence number and body.
type Parked = Arc<Mutex<Option<(u32, Sm)>>>;

/// How long a held-back acknowledgement waits for another one.
const PARK: Duration = Duration::from_millis(2);

/// Fault `swaps-receipts`: two acknowledgements ready together exchange
/// their receipted_message_ids (TLV and text `id:`).
fn swap_ids(a: &mut Sm, b: &mut Sm) {
    let (Some(ia), Some(ib)) = (a.receipted_message_id(), b.receipted_message_id()) else {
        return;
    };
    for (sm, id) in [(a, ib), (b, ia)] {
        for t in sm.tlvs.iter_mut() {
            if t.tag == smpp::tlv::RECEIPTED_MESSAGE_ID {
                *t = Tlv::cstring(smpp::tlv::RECEIPTED_MESSAGE_ID, &id);
            }
        }
        if let Some(mut r) = Receipt::parse(&sm.short_message) {
            r.id = id;
            sm.short_message = r.format().into_bytes();
        }
    }
}

/// The IWF's Timer F (RFC 3261 §17.1.2.2): 64·T1; with the fault
/// `iwf-rok-after-long-timer-f` three times that, as an IWF on longer timers
/// of its own (its profile declares them).
pub fn timer_f(t1: Duration, fault: Option<&str>) -> Duration {
    if fault == Some("iwf-rok-after-long-timer-f") {
        t1 * 64 * 3
    } else {
        t1 * 64
    }
}

/// One SMS being interworked.
struct Job {
    seq: u32,
    sm: Sm,
    id: String,
    /// With the load fault `delivrd-at-shutdown`: the connection's SMS
    /// still waiting (this one reports only while it is listed).
    inflight: Option<Inflight>,
    /// With the load fault `swaps-receipts`: the acknowledgement held back.
    parked: Option<Parked>,
}

impl Job {
    async fn run(
        self,
        tx: &mpsc::UnboundedSender<Vec<u8>>,
        out: &SipOut,
        cfg: &IwfConfig,
        s: &Settings,
        next_seq: impl Fn() -> u32,
    ) {
        let number = self.sm.destination_addr.trim_start_matches('+').to_string();
        let uri = if s.has_fault("tel-without-plus") {
            // Fault: the number without its `+` and no phone-context (RFC 3966 §5.1.4).
            format!("tel:{number}")
        } else {
            format!("sip:+{number}@{};user=phone", cfg.domain)
        };
        // Over 1300 bytes a MESSAGE may not go over UDP (RFC 3428 §8): Large Message mode.
        let Some(hop) = out.hop(&number).await else {
            // No connection to the core (TLS refused, say): nothing delivered.
            self.report(
                tx,
                &next_seq,
                status::ESME_RX_T_APPN,
                state::UNDELIVERABLE,
                s,
            );
            return;
        };
        if self.sm.payload().len() > 1300 {
            let outcome = self.large(out, &hop, cfg, s, &uri).await;
            let (st, ms) = match outcome {
                Some(true) => (status::ESME_ROK, state::DELIVERED),
                Some(false) => (status::ESME_RX_P_APPN, state::UNDELIVERABLE),
                None => (status::ESME_RX_T_APPN, state::UNDELIVERABLE),
            };
            self.report(tx, &next_seq, st, ms, s);
            return;
        }
        let branch = format!("z9hG4bK{}", token());
        let msg = request("MESSAGE", &uri)
            .header(
                "Via",
                &format!("SIP/2.0/{} {};branch={branch}", hop.proto, hop.local),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!(
                    "<sip:+{}@{}>;tag={}",
                    self.sm.source_addr.trim_start_matches('+'),
                    cfg.domain,
                    token()
                ),
            )
            .header("To", &format!("<{uri}>"))
            .header("Call-ID", &format!("{}@liaison-iwf", token()))
            .header("CSeq", "1 MESSAGE")
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(self.text(s).as_bytes())
            .build();
        let (otx, mut orx) = oneshot::channel();
        lock(&out.waiters).insert(branch.clone(), otx);
        out.send(&hop, &msg).await;
        if s.has_fault("iwf-ack-before-200") {
            self.report(tx, &next_seq, status::ESME_ROK, state::DELIVERED, s);
        }
        // Timer E / F (RFC 3261 §17.1.2.2).
        let t1 = s.t1;
        let end = Instant::now() + timer_f(t1, s.fault);
        let mut e = t1;
        let outcome = loop {
            match tokio::time::timeout(e, &mut orx).await {
                Ok(Ok(resp)) => break resp.status(),
                Ok(Err(_)) => break None,
                Err(_) => {
                    if Instant::now() >= end {
                        break None;
                    }
                    // Timer E retransmits over UDP only (RFC 3261 §17.1.2.2).
                    if hop.tx.is_none() {
                        out.send(&hop, &msg).await;
                    }
                    e = (e * 2).min(t1 * 8);
                }
            }
        };
        lock(&out.waiters).remove(&branch);
        if s.has_fault("iwf-ack-before-200") {
            return;
        }
        let (st, ms) = match outcome {
            Some(200..=201) | Some(203..=299) => (status::ESME_ROK, state::DELIVERED),
            Some(202) if s.has_fault("iwf-delivered-on-202") => {
                (status::ESME_ROK, state::DELIVERED)
            }
            Some(202) => (status::ESME_ROK, state::ENROUTE),
            Some(_) if s.has_fault("iwf-delivered-on-error") => {
                (status::ESME_ROK, state::DELIVERED)
            }
            Some(_) => (status::ESME_RX_P_APPN, state::UNDELIVERABLE),
            None if s.has_fault("iwf-delivered-on-timeout")
                || s.has_fault("iwf-rok-after-long-timer-f") =>
            {
                (status::ESME_ROK, state::DELIVERED)
            }
            None => (status::ESME_RX_T_APPN, state::UNDELIVERABLE),
        };
        self.report(tx, &next_seq, st, ms, s);
    }

    /// The SMS text as Unicode, by its data_coding (3GPP TS 23.038: GSM 7-bit
    /// default alphabet for 0, UCS-2 for 8); what cannot be read is kept as
    /// Latin-1, octet for octet.
    fn text(&self, s: &Settings) -> String {
        let raw = self.sm.payload();
        let latin1 = || raw.iter().map(|&b| char::from(b)).collect::<String>();
        // Faults: GSM 7-bit read as Latin-1; the UCS-2 flag ignored (read as GSM 7-bit).
        let dc = match self.sm.data_coding {
            smpp::dcs::SMSC_DEFAULT if s.has_fault("iwf-gsm7-as-latin1") => return latin1(),
            smpp::dcs::UCS2 if s.has_fault("iwf-ignores-ucs2") => smpp::dcs::SMSC_DEFAULT,
            dc => dc,
        };
        smpp::text::decode(dc, raw).unwrap_or_else(|_| latin1())
    }

    /// Large Message mode (RFC 4975): INVITE with an MSRP offer, connect to
    /// the answered path, send the text in chunks. Some(true) = the final
    /// chunk got 200 (the receipt, seed 001); Some(false) = an error response;
    /// None = no answer in time.
    async fn large(
        &self,
        out: &SipOut,
        hop: &Hop,
        cfg: &IwfConfig,
        s: &Settings,
        uri: &str,
    ) -> Option<bool> {
        use crate::codec::msrp::{self, chunk_plan, MsrpMessage};
        let sip_addr = out.udp_addr;
        let via = |branch: &str| format!("SIP/2.0/{} {};branch={branch}", hop.proto, hop.local);
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(sip_addr.ip(), 0))
            .await
            .ok()?;
        // With TLS material it offers MSRP over TLS: an msrps: path, so a
        // TCP/TLS/MSRP m= line (RFC 4975 §8.1, §14.2).
        let tls = s.tls.as_ref().and_then(|t| t.client_config().ok());
        let own = if tls.is_some() {
            crate::codec::sdp::msrps_url(listener.local_addr().ok()?, &token())
        } else {
            crate::codec::sdp::msrp_url(listener.local_addr().ok()?, &token())
        };
        let offer = crate::codec::sdp::msrp_session(
            sip_addr.ip(),
            listener.local_addr().ok()?.port(),
            &own,
            &["text/plain"],
            Some("active"),
        );
        let branch = format!("z9hG4bK{}", token());
        let call_id = format!("{}@liaison-iwf", token());
        let from = format!(
            "<sip:+{}@{}>;tag={}",
            self.sm.source_addr.trim_start_matches('+'),
            cfg.domain,
            token()
        );
        let invite = request("INVITE", uri)
            .header("Via", &via(&branch))
            .header("Max-Forwards", "70")
            .header("From", &from)
            .header("To", &format!("<{uri}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", "1 INVITE")
            .header("Contact", &hop.contact())
            .header("Content-Type", "application/sdp")
            .body(&offer)
            .build();
        let (otx, mut orx) = oneshot::channel();
        lock(&out.waiters).insert(branch.clone(), otx);
        out.send(hop, &invite).await;
        let end = Instant::now() + s.t1 * 64;
        let mut e = s.t1;
        let ok = loop {
            match tokio::time::timeout(e, &mut orx).await {
                Ok(Ok(resp)) => break Some(resp),
                Ok(Err(_)) => break None,
                Err(_) if Instant::now() >= end => break None,
                Err(_) => {
                    // Timer A retransmits over UDP only (RFC 3261 §17.1.1.2).
                    if hop.tx.is_none() {
                        out.send(hop, &invite).await;
                    }
                    e *= 2;
                }
            }
        };
        lock(&out.waiters).remove(&branch);
        let ok = ok?;
        if ok.status() != Some(200) {
            return Some(false);
        }
        // ACK the 2xx (RFC 3261 §13.2.2.4), then the MSRP connection (we offered: we connect).
        let ack = request("ACK", uri)
            .header("Via", &via(&format!("z9hG4bK{}", token())))
            .header("Max-Forwards", "70")
            .header("From", &from)
            .header("To", ok.header("To").unwrap_or_default())
            .header("Call-ID", &call_id)
            .header("CSeq", "1 ACK")
            .build();
        out.send(hop, &ack).await;
        let path = crate::codec::sdp::Sdp::parse(ok.body())
            .ok()?
            .media()
            .into_iter()
            .find(|m| m.media == "message")?
            .msrp_path()
            .last()
            .cloned()?;
        let to = crate::codec::msrp::url_addr(&path)?;
        // A session offered over TLS is never sent in the clear: an answer
        // that drops to msrp: ends it here (RFC 4975 §14.2).
        if tls.is_some() != crate::codec::msrp::url_is_secure(&path) {
            return Some(false);
        }
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(to))
            .await
            .ok()?
            .ok()?;
        let _ = stream.set_nodelay(true);
        type Rd = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
        type Wr = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;
        let (mut rd, mut wr): (Rd, Wr) = match tls {
            // Fault: the session negotiated over TLS, its chunks sent in the clear.
            Some(_) if s.has_fault("msrps-sent-in-clear") => {
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            }
            Some(config) => {
                let name = rustls::pki_types::ServerName::IpAddress(to.ip().into());
                let connector = tokio_rustls::TlsConnector::from(config);
                let t =
                    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, stream))
                        .await
                        .ok()?
                        .ok()?;
                let (r, w) = tokio::io::split(t);
                (Box::new(r), Box::new(w))
            }
            None => {
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            }
        };
        let data = self.sm.payload().to_vec();
        let message_id = token();
        let mut tids = Vec::new();
        for (range, flag) in chunk_plan(data.len() as u64, 1024) {
            let tid = msrp::new_tid();
            let part =
                &data[(range.start - 1) as usize..range.end.unwrap_or(data.len() as u64) as usize];
            // Fault: a Byte-Range that does not match the chunk's body.
            let declared = if s.has_fault("iwf-bad-byte-range") {
                msrp::ByteRange {
                    end: range.end.map(|e| e + 7),
                    ..range
                }
                .to_header()
            } else {
                range.to_header()
            };
            let b = msrp::request("SEND", &tid)
                .header("To-Path", &path)
                .header("From-Path", &own)
                .header("Message-ID", &message_id)
                .header("Byte-Range", &declared)
                .header("Content-Type", "text/plain")
                .body(part)
                .flag(flag)
                .build();
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                return None;
            }
            tids.push((tid, flag));
        }
        let last = tids.last().map(|t| t.0.clone()).unwrap_or_default();
        let first = tids.first().map(|t| t.0.clone()).unwrap_or_default();
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        // Timer for the chunks' answers: 64·T1 from the last chunk sent.
        let end = Instant::now() + s.t1 * 64;
        let outcome = loop {
            let left = end.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, rd.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => break None,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut decided = None;
            while let Ok(Some(len)) = msrp::next_frame(&buf, 1 << 20) {
                let raw: Vec<u8> = buf.drain(..len.clamp(1, buf.len())).collect();
                let Ok(m) = MsrpMessage::parse(&raw) else {
                    continue;
                };
                // A failure REPORT (RFC 4975 §7.1.2) for our message: not received.
                let failure_report = m.method() == Some("REPORT")
                    && m.message_id() == Some(message_id.as_str())
                    && m.status_header().is_some_and(|(_, c, _)| c != 200);
                if failure_report {
                    // Fault: any REPORT taken as a success REPORT, whatever its Status.
                    decided = Some(s.has_fault("iwf-any-report-is-success"));
                }
                match m.status() {
                    Some(c) if c != 200 => decided = Some(false),
                    Some(200) if m.tid() == last => decided = Some(true),
                    Some(200)
                        if m.tid() == first && s.has_fault("iwf-delivered-on-first-chunk-200") =>
                    {
                        decided = Some(true)
                    }
                    _ => {}
                }
                if decided.is_some() {
                    break;
                }
            }
            if decided.is_some() {
                break decided;
            }
        };
        drop(listener);
        outcome
    }

    /// deliver_sm_resp, then the SME acknowledgement when one was asked for.
    fn report(
        &self,
        tx: &mpsc::UnboundedSender<Vec<u8>>,
        next_seq: &impl Fn() -> u32,
        st: u32,
        ms: u8,
        s: &Settings,
    ) {
        if let Some(f) = &self.inflight
            && lock(f).remove(&self.seq).is_none()
        {
            return; // reported at the unbind already
        }
        let resp = Pdu::new(
            command::DELIVER_SM_RESP,
            st,
            self.seq,
            Body::DeliverSmResp {
                message_id: if st == status::ESME_ROK {
                    self.id.clone()
                } else {
                    String::new()
                },
            },
        );
        let _ = tx.send(resp.encode());
        if s.has_fault("iwf-second-resp") {
            // Fault: T1 later, a second deliver_sm_resp for the same
            // sequence number that says the opposite.
            let other = if st == status::ESME_ROK {
                status::ESME_RX_P_APPN
            } else {
                status::ESME_ROK
            };
            let second = Pdu::new(
                command::DELIVER_SM_RESP,
                other,
                self.seq,
                Body::DeliverSmResp {
                    message_id: if other == status::ESME_ROK {
                        self.id.clone()
                    } else {
                        String::new()
                    },
                },
            )
            .encode();
            let (tx, delay) = (tx.clone(), s.t1);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(second);
            });
        }
        let wants_ack = self.sm.registered_delivery & registered::SME_ACK_MASK != 0;
        if !wants_ack || (ms == state::DELIVERED && s.has_fault("iwf-waits-for-imdn")) {
            return;
        }
        let receipt_id = if s.has_fault("iwf-wrong-receipt-id") {
            // Names the neighbour's message instead of this one.
            let n: u64 = self.id.trim_start_matches("iwf").parse().unwrap_or(1);
            format!("iwf{}", n + 1)
        } else {
            self.id.clone()
        };
        // Fault: the text claims delivery whatever the outcome; only the TLV tells the truth.
        let text_state = if s.has_fault("iwf-receipt-text-delivrd") {
            state::DELIVERED
        } else {
            ms
        };
        let receipt = Receipt {
            id: receipt_id,
            sub: Some("001".into()),
            dlvrd: Some(
                if text_state == state::DELIVERED {
                    "001"
                } else {
                    "000"
                }
                .into(),
            ),
            submit_date: None,
            done_date: None,
            stat: state::stat(text_state).unwrap_or("UNKNOWN").to_string(),
            err: Some("000".into()),
            // Appendix B: the first 20 characters of the message.
            text: Some(self.text(s).chars().take(20).collect()),
        };
        let mut ack = smpp::receipt_sm(&self.sm, &receipt);
        ack.esm_class = esm::TYPE_DELIVERY_ACK;
        // message_state is the outcome itself (SMPP 3.4 §5.3.2.35).
        ack.tlvs.retain(|t| t.tag != smpp::tlv::MESSAGE_STATE);
        ack.tlvs.push(Tlv::new(smpp::tlv::MESSAGE_STATE, &[ms]));
        let seq = next_seq();
        if let Some(p) = &self.parked {
            // Fault: held back a moment; another one ready meanwhile trades ids with it.
            let other = {
                let mut slot = lock(p);
                let other = slot.take();
                if other.is_none() {
                    *slot = Some((seq, ack.clone()));
                }
                other
            };
            match other {
                Some((oseq, mut o)) => {
                    swap_ids(&mut o, &mut ack);
                    let _ = tx.send(smpp::submit_sm(oseq, &o));
                    let _ = tx.send(smpp::submit_sm(seq, &ack));
                }
                None => {
                    let (p, tx) = (p.clone(), tx.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(PARK).await;
                        let mine = {
                            let mut slot = lock(&p);
                            match slot.as_ref() {
                                Some((s, _)) if *s == seq => slot.take(),
                                _ => None,
                            }
                        };
                        if let Some((s, sm)) = mine {
                            let _ = tx.send(smpp::submit_sm(s, &sm));
                        }
                    });
                }
            }
        } else {
            let _ = tx.send(smpp::submit_sm(seq, &ack));
        }
        if ms != state::DELIVERED && s.has_fault("iwf-late-delivrd") {
            // Fault: T1 later, a second acknowledgement that contradicts
            // the first: stat:DELIVRD, message_state 2.
            let mut late = smpp::receipt_sm(
                &self.sm,
                &Receipt {
                    stat: "DELIVRD".into(),
                    dlvrd: Some("001".into()),
                    ..receipt
                },
            );
            late.esm_class = esm::TYPE_DELIVERY_ACK;
            let (tx, delay, seq) = (tx.clone(), s.t1, next_seq());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(smpp::submit_sm(seq, &late));
            });
        }
    }
}

/// This role's named faults: each one's `has_fault` check sits beside the
/// behaviour it breaks, in this file; `breaks` lists exactly the
/// requirements whose scenarios then fail (`tests/faults.rs`).
pub const FAULTS: &[super::Fault] = &[
    super::Fault {
        role: "sms-im-iwf",
        name: "sip-tls-sent-in-clear",
        description: "sends the MESSAGEs routed to the core's SIP-over-TLS address (iwf.ims_core_tls) in plaintext SIP over TCP to that TLS port, no handshake first",
        breaks: &["DR-21"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "msrps-sent-in-clear",
        description: "offers a Large Message over TLS (TCP/TLS/MSRP, msrps: path), then opens the answered msrps: path with plaintext MSRP",
        breaks: &["DR-21", "DR-22", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-ack-before-200",
        description: "acknowledges the SMS (ESME_ROK and DELIVRD) as soon as it sends the MESSAGE, before any answer",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-202",
        description: "reports DELIVRD when a store answers 202",
        breaks: &["DR-21"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-error",
        description: "reports an SMS delivered when the recipient answers with an error",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-timeout",
        description: "reports an SMS delivered when no final response comes",
        breaks: &["DR-23"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-rok-after-long-timer-f",
        description: "runs on a Timer F of its own three times 64·T1 (its profile declares it) and, when it fires, acknowledges ESME_ROK and reports DELIVRD",
        breaks: &["DR-23"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-second-resp",
        description: "T1 after its deliver_sm_resp, sends a second one for the same sequence number with the opposite outcome (ESME_ROK after an error, an error after ESME_ROK)",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-late-delivrd",
        description: "T1 after an SME acknowledgement that says not delivered (202, error, timeout), sends a second one for the same message saying DELIVRD",
        breaks: &["DR-21", "DR-22", "DR-23"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-wrong-receipt-id",
        description: "names the next message's id in its SME acknowledgement",
        breaks: &["DR-21", "DR-24"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-waits-for-imdn",
        description: "after a 200, waits for an IMDN (which never comes) before reporting DELIVRD",
        breaks: &["DR-21", "DR-24"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-first-chunk-200",
        description: "for a Large Message, reports DELIVRD on the 200 to the first chunk",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-any-report-is-success",
        description: "for a Large Message, takes any REPORT as a success REPORT, whatever its Status",
        breaks: &["DR-22"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-bad-byte-range",
        description: "sends Large Message chunks whose Byte-Range does not match their bodies",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-receipt-text-delivrd",
        description: "its SME acknowledgement's text always says stat:DELIVRD; only the message_state TLV carries the real outcome",
        breaks: &["DR-21", "DR-22", "DR-23"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-gsm7-as-latin1",
        description: "reads an SMS with data_coding 0 as Latin-1 instead of the GSM 7-bit default alphabet (@ becomes NUL, € an escape and a letter)",
        breaks: &["DR-21"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-ignores-ucs2",
        description: "ignores data_coding 8 and reads a UCS-2 SMS as GSM 7-bit septets",
        breaks: &["DR-21"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "iwf-wrong-password",
        description: "binds to the SMSC with a wrong password",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
    super::Fault {
        role: "sms-im-iwf",
        name: "tel-without-plus",
        description: "addresses the recipient as tel:<number> without the + (and no phone-context), which names no global number (RFC 3966 §5.1.4)",
        breaks: &["DR-21", "DR-22", "DR-24", "DR-25"],
        store_and_forward: true,
        on_ipv6: false,
    },
];

/// Faults only a load run reveals (`liaison load --fault sms-im-iwf/NAME`).
pub const LOAD_FAULTS: &[super::LoadFault] = &[
    super::LoadFault {
        role: "sms-im-iwf",
        name: "swaps-receipts",
        description: "when two SME acknowledgements are ready to go out together, exchanges their receipted_message_ids (TLV and text id:)",
        trips: &["mismatched"],
        args: &[
            "--role", "sms-im-iwf", "--count", "4000", "--rate", "4000", "--t1-ms", "20", "--mix", "200:50,486:50",
        ],
    },
    super::LoadFault {
        role: "sms-im-iwf",
        name: "delivrd-at-shutdown",
        description: "on unbind, answers ESME_ROK and reports DELIVRD for every SMS still waiting for its IM outcome, then answers unbind_resp",
        trips: &["fabricated"],
        args: &[
            "--role", "sms-im-iwf", "--count", "2000", "--rate", "2000", "--t1-ms", "20", "--mix", "200:60,486:20,silent:20",
        ],
    },
];

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{IwfConfig, TLS_PREFIX};
    use crate::codec::smpp::{command, status, Sm};
    use crate::harness::IwfHarness;
    use crate::net::tls::{LabCa, Offer, TlsServer};
    use crate::net::Transport;
    use crate::roles::ua::Answer;

    /// The harness IWF peers with a TLS listener whose certificate `core_ca`
    /// issued, and the reference IWF trusting `trusted` (its own SUT
    /// certificate from `trusted` too), routing the TLS prefix there.
    async fn rig(core_ca: &LabCa, trusted: &LabCa) -> (IwfHarness, super::super::Running) {
        let any = "127.0.0.1:0".parse().unwrap();
        let h = IwfHarness::start(
            any,
            any,
            ("liaison".into(), "secret".into()),
            crate::net::capture::Capture::disabled(),
        )
        .await
        .unwrap();
        let ip = "127.0.0.1".parse().unwrap();
        let core_id = core_ca.issue(&["localhost"], &[ip]).unwrap();
        let at = h
            .listen_tls(any, TlsServer::new(&core_id, &Offer::all()).unwrap())
            .await
            .unwrap();
        let own = trusted.issue(&["localhost"], &[ip]).unwrap();
        let settings = super::super::Settings {
            t1: Duration::from_millis(20),
            tls: Some(super::super::tls::ReferenceTls {
                cert_chain_pem: own.chain_pem(),
                key_pem: own.key_pem(),
                ca_pem: trusted.pem(),
            }),
            iwf: Some(IwfConfig {
                smsc: h.smsc.addr(),
                ims_core: h.ims.ep.udp_addr(),
                system_id: "liaison".into(),
                password: "secret".into(),
                domain: "liaison.test".into(),
                ims_core_tls: Some(at),
                tls_prefix: Some(TLS_PREFIX.into()),
            }),
            ..Default::default()
        };
        let iwf = super::super::start("sms-im-iwf", any, settings)
            .await
            .unwrap();
        assert!(
            h.smsc
                .wait_bound(Instant::now() + Duration::from_secs(5))
                .await
        );
        (h, iwf)
    }

    /// Delivers an SMS to `number` (answered 200) and returns the status
    /// of the IWF's deliver_sm_resp.
    async fn deliver(h: &IwfHarness, number: &str) -> u32 {
        h.ims.set_answer(
            number,
            Answer::Respond {
                code: 200,
                delay: Duration::ZERO,
            },
        );
        let sm = Sm {
            source_addr: "+15550000000".into(),
            destination_addr: format!("+{number}"),
            short_message: b"liaison over TLS".to_vec(),
            ..Sm::default()
        };
        let seq = h.smsc.deliver(&sm).await.unwrap();
        let resp = |log: &[crate::roles::smsc::SmppArrival]| {
            log.iter().find_map(|a| {
                a.pdu
                    .as_ref()
                    .ok()
                    .filter(|p| {
                        p.header.command_id == command::DELIVER_SM_RESP
                            && p.header.sequence_number == seq
                    })
                    .map(|p| p.header.command_status)
            })
        };
        let until = Instant::now() + Duration::from_secs(5);
        h.smsc.wait_for(until, |l| resp(l).is_some(), false).await;
        resp(&h.smsc.log()).expect("a deliver_sm_resp")
    }

    /// The numbers of the TLS prefix go over TLS, the rest over UDP; a
    /// core certificate the IWF's CA did not issue is refused (the handshake
    /// fails, no MESSAGE, the SMS not acknowledged as delivered).
    #[tokio::test]
    async fn tls_prefix_goes_over_tls_checking_the_core() {
        let ca = LabCa::new().unwrap();
        let (h, _iwf) = rig(&ca, &ca).await;
        let tls = format!("{TLS_PREFIX}0001111");
        assert_eq!(deliver(&h, &tls).await, status::ESME_ROK);
        assert_eq!(deliver(&h, "15550002222").await, status::ESME_ROK);
        let over = |n: &str| {
            h.ims
                .log()
                .iter()
                .find(|d| d.number == n)
                .map(|d| d.incoming.transport)
        };
        assert_eq!(over(&tls), Some(Transport::Tls));
        assert_eq!(over("15550002222"), Some(Transport::Udp));

        let other = LabCa::new().unwrap();
        let (h, _iwf) = rig(&other, &ca).await;
        assert_eq!(deliver(&h, &tls).await, status::ESME_RX_T_APPN);
        assert!(h.ims.log().is_empty());
        let events = h.ims.ep.transport_events().join(" | ");
        assert!(events.contains("TLS handshake"), "{events}");
    }
}
