//! The SMS bearer of the reference roles that push over SMS: the PPG
//! (`ppg.rs`) and the MMS relay's notifications and delivery reports
//! (`mms_relay.rs`, also for MMs from MM3).
//!
//! **Packing**: a connectionless WSP Push PDU (WAP-230 §8.2.4.1: a TID counting
//! up by one per PDU, type 0x06) carried as WDP over SMS (WAP-259 §6.5: 16-bit
//! ports, concatenation with an 8-bit reference counting up when longer than
//! one short message). Each short message is a submit_sm with esm_class 0x40
//! (UDHI, default mode), data_coding 0x04, destination_addr the number given
//! (TON 1 international, NPI 1 E.164), source_addr the role's (TON/NPI 0).
//! The role chooses the content type, headers and ports (its faults change
//! them).
//!
//! **Submitting**: one SMPP 3.4 connection to the SMSC as an ESME
//! (bind_transceiver §4.1.5 with the role's credentials; enquire_link §4.11,
//! deliver_sm and unbind answered; submit_sm_resp ignored: an unconfirmed push
//! is done once handed over). A connection that drops or a bind refused or
//! unanswered within 5 s is tried again after a backoff of 100 ms doubling to
//! 2 s (back to 100 ms once a session was bound); short messages handed over
//! while unbound wait for the bind, in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::codec::smpp::{self, command, dcs, esm, status, Bind, Pdu, Sm};
use crate::codec::wsp::{self, ContentType, PushPdu, WspHeader};

/// WDP ports over SMS (the port numbers WAP-259 WDP assigns): connectionless
/// WSP push client port and WSP server port, as (destination, origin).
pub(super) const PUSH_PORTS: (u16, u16) = (2948, 9200);
/// Bound on connecting, on writing one PDU, and on the bind's answer.
const IO_BOUND: Duration = Duration::from_secs(5);

/// The handle a role keeps: packs pushes, hands short messages to the ESME.
pub(super) struct SmsBearer {
    source_addr: &'static str,
    /// The next WSP TID (connectionless: one octet, WAP-230 §8.2.1).
    tid: AtomicU8,
    /// The next concatenation reference (TS 23.040 IE 0x00).
    concat_ref: AtomicU8,
    /// Short messages for the ESME, in order.
    sms_tx: mpsc::UnboundedSender<Sm>,
}

impl SmsBearer {
    /// Starts the ESME towards `smsc`, binding with `bind`; its short
    /// messages come from `source_addr`. Returns the handle and the task
    /// (aborting it stops the ESME).
    pub(super) fn start(
        smsc: SocketAddr,
        bind: Bind,
        source_addr: &'static str,
    ) -> (SmsBearer, JoinHandle<()>) {
        let (sms_tx, rx) = mpsc::unbounded_channel::<Sm>();
        let task = tokio::spawn(esme(smsc, bind, rx));
        let bearer = SmsBearer {
            source_addr,
            tid: AtomicU8::new(0),
            concat_ref: AtomicU8::new(0),
            sms_tx,
        };
        (bearer, task)
    }

    /// The short messages that carry a WSP push of `body` to `number`
    /// (digits, no `+`) on `ports`; None when it does not fit 255 of them.
    pub(super) fn wsp_push(
        &self,
        number: &str,
        content_type: ContentType,
        headers: Vec<WspHeader>,
        body: Vec<u8>,
        ports: (u16, u16),
    ) -> Option<Vec<Sm>> {
        let tid = self.tid.fetch_add(1, Ordering::Relaxed);
        let pdu = PushPdu::new(tid, wsp::PDU_PUSH, content_type, headers, body);
        let reference = self.concat_ref.fetch_add(1, Ordering::Relaxed);
        let segments = smpp::udh_split(pdu.raw(), Some(ports), reference).ok()?;
        Some(
            segments
                .into_iter()
                .map(|short_message| Sm {
                    source_addr: self.source_addr.into(),
                    dest_addr_ton: 1,
                    dest_addr_npi: 1,
                    destination_addr: number.to_string(),
                    esm_class: esm::UDHI,
                    data_coding: dcs::OCTET_UNSPECIFIED,
                    short_message,
                    ..Sm::default()
                })
                .collect(),
        )
    }

    /// Hands short messages to the ESME, to be submitted in order.
    pub(super) fn submit(&self, sms: Vec<Sm>) {
        for sm in sms {
            let _ = self.sms_tx.send(sm);
        }
    }
}

/// The ESME: one connection at a time, rebound when it drops.
async fn esme(smsc: SocketAddr, bind: Bind, mut rx: mpsc::UnboundedReceiver<Sm>) {
    let mut seq = 0u32;
    let mut pending = VecDeque::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Ok(Ok(stream)) = tokio::time::timeout(IO_BOUND, TcpStream::connect(smsc)).await {
            let _ = stream.set_nodelay(true);
            match session(&bind, stream, &mut seq, &mut rx, &mut pending).await {
                Session::Closed => return,
                Session::WasBound => backoff = Duration::from_millis(100),
                Session::NotBound => {}
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

enum Session {
    /// The role is going away (no more short messages can come).
    Closed,
    WasBound,
    NotBound,
}

/// One SMPP 3.4 session: bind_transceiver (§4.1.5), then submit_sm per short
/// message while answering enquire_link (§4.11), deliver_sm and unbind.
async fn session(
    bind: &Bind,
    mut stream: TcpStream,
    seq: &mut u32,
    rx: &mut mpsc::UnboundedReceiver<Sm>,
    pending: &mut VecDeque<Sm>,
) -> Session {
    let mut next = || {
        *seq = seq.wrapping_add(1).max(1);
        *seq
    };
    if write(&mut stream, &smpp::bind_transceiver(next(), bind))
        .await
        .is_err()
    {
        return Session::NotBound;
    }
    let bind_deadline = Instant::now() + IO_BOUND;
    let mut bound = false;
    let ended = |bound: bool| {
        if bound {
            Session::WasBound
        } else {
            Session::NotBound
        }
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Once bound: what waited, then what comes.
        if bound {
            while let Some(sm) = pending.pop_front() {
                if write(&mut stream, &smpp::submit_sm(next(), &sm))
                    .await
                    .is_err()
                {
                    pending.push_front(sm);
                    return ended(bound);
                }
            }
        }
        tokio::select! {
            r = stream.read(&mut chunk) => {
                let n = match r {
                    Ok(n) if n > 0 => n,
                    _ => return ended(bound),
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    let len = match smpp::next_frame(&buf, 64 * 1024) {
                        Ok(Some(len)) => len,
                        Ok(None) => break,
                        Err(_) => return ended(bound),
                    };
                    let bytes: Vec<u8> = buf.drain(..len.min(buf.len())).collect();
                    let Ok(pdu) = Pdu::parse(&bytes) else {
                        continue;
                    };
                    let s = pdu.header.sequence_number;
                    let answer = match pdu.header.command_id {
                        command::BIND_TRANSCEIVER_RESP => {
                            if pdu.header.command_status != status::ESME_ROK {
                                // Refused (wrong credentials): try again later.
                                return Session::NotBound;
                            }
                            bound = true;
                            None
                        }
                        command::ENQUIRE_LINK => Some(smpp::enquire_link_resp(s)),
                        command::DELIVER_SM => Some(smpp::deliver_sm_resp(s, status::ESME_ROK)),
                        command::UNBIND => {
                            let _ = write(&mut stream, &smpp::unbind_resp(s)).await;
                            return ended(bound);
                        }
                        // submit_sm_resp: an unconfirmed push is done once handed over.
                        _ => None,
                    };
                    if let Some(a) = answer
                        && write(&mut stream, &a).await.is_err() {
                            return ended(bound);
                        }
                }
            }
            sm = rx.recv(), if bound => match sm {
                Some(sm) => pending.push_back(sm),
                None => return Session::Closed,
            },
            _ = tokio::time::sleep_until(bind_deadline), if !bound => return Session::NotBound,
        }
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(IO_BOUND, stream.write_all(bytes))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}
