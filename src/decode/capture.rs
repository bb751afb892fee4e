//! A capture's messages, each decoded: the frames are read, TCP streams
//! joined and cut into messages by the report's reader
//! ([`crate::report::ladder::read`], classic pcap or pcapng, Ethernet with
//! IPv4/IPv6 and UDP/TCP, TLS decrypted where the capture holds the
//! secrets), so that `liaison decode` and a report's ladder read a capture
//! the same way.
//!
//! Frames that are not Ethernet/IP/UDP|TCP, bytes that frame as no protocol,
//! TLS records not decrypted and a capture cut inside a frame are named in
//! [`Decoded::skipped`]; the rest is decoded (and the command exits 2).

use std::net::SocketAddr;

use serde::Serialize;

use super::input::CaptureKind;
use super::{decode_one, Decoded, InputError, PduEntry, Proto};
use crate::report::ladder::{self, Protocol};

/// Where a capture's message came from.
#[derive(Clone, Debug, Serialize)]
pub struct FrameInfo {
    /// The frame (1-based) that completed the message.
    pub frame: u32,
    /// Seconds since the capture's first frame.
    pub time: f64,
    pub from: SocketAddr,
    pub to: SocketAddr,
    /// `UDP`, `TCP` or `TLS 1.3 <suite>`.
    pub transport: String,
}

fn proto_of(p: Protocol) -> Option<Proto> {
    Some(match p {
        Protocol::Sip => Proto::Sip,
        Protocol::Msrp => Proto::Msrp,
        Protocol::Smpp => Proto::Smpp,
        Protocol::Http => Proto::Http,
        Protocol::Wsp => Proto::Wsp,
        Protocol::Smtp => Proto::Smtp,
        Protocol::Tls | Protocol::Other => return None,
    })
}

/// Decodes a capture's messages; `only` keeps the messages of one protocol.
pub fn decode(bytes: &[u8], kind: CaptureKind, only: Option<Proto>) -> Result<Decoded, InputError> {
    let l = ladder::read(bytes);
    let mut d = Decoded {
        input: kind.as_str().into(),
        ..Decoded::default()
    };
    // Not a capture this reader takes at all (a bad header, another link
    // type): one line. A capture with no frames is not an error.
    if l.frames == 0
        && l.messages.is_empty()
        && let Some(why) = l.problems.first()
    {
        return Err(InputError(format!("{}: {why}", kind.as_str())));
    }
    d.frames = Some(l.frames);
    d.skipped.extend(l.problems.iter().cloned());
    if l.problems_more > 0 {
        d.skipped
            .push(format!("… and {} more problems", l.problems_more));
    }
    let total = l.messages.len();
    for (i, m) in l.messages.into_iter().enumerate() {
        let transport = match &m.tls {
            Some(t) => t.clone(),
            None if m.tcp => "TCP".into(),
            None => "UDP".into(),
        };
        let Some(proto) = proto_of(m.protocol) else {
            // A TLS alert is an event of the connection, not bytes left
            // undecoded.
            if m.protocol == Protocol::Tls
                && let Some(alert) = m.reason.as_deref().filter(|r| r.starts_with("TLS alert"))
            {
                d.notes.push(format!(
                    "frame {}: {transport} {} → {}: {alert}",
                    m.frame, m.from, m.to
                ));
                continue;
            }
            // Named with or without --proto: bytes that frame as nothing
            // may be what the user looks for.
            {
                d.skipped.push(format!(
                    "frame {}: {} bytes {} {} → {} not decoded: {}",
                    m.frame,
                    m.len,
                    transport,
                    m.from,
                    m.to,
                    m.note
                        .clone()
                        .or(m.reason.clone())
                        .unwrap_or_else(|| m.label())
                ));
            }
            continue;
        };
        // WSP pushes that came in SMPP short messages are shown inside the
        // SMPP PDU; MMS inside SIP, HTTP and WSP bodies.
        let wanted = match only {
            None => true,
            Some(p) if p == proto => true,
            Some(Proto::Mms) => !m.mms.is_empty(),
            Some(Proto::Wsp) => !m.wsp.is_empty(),
            Some(Proto::Sdp) => memchr::memmem::find(&m.bytes, b"application/sdp").is_some(),
            Some(Proto::Pap) => {
                proto == Proto::Http && memchr::memmem::find(&m.bytes, b"<pap").is_some()
            }
            Some(_) => false,
        };
        if !wanted {
            continue;
        }
        if let Some(why) = d.full() {
            d.stopped = Some(format!(
                "{why}: {} more messages of the capture were not decoded",
                total - i
            ));
            break;
        }
        let (pdu, _) = decode_one(proto, &m.bytes);
        d.pdus.push(PduEntry {
            frame: Some(FrameInfo {
                frame: m.frame,
                time: m.time_us as f64 / 1e6,
                from: m.from,
                to: m.to,
                transport,
            }),
            pdu,
        });
    }
    Ok(d)
}
