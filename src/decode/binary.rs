//! Binary protocols: SMPP 3.4 (§3.2 header, §4 bodies, §5.3 TLVs, with the
//! user data header of TS 23.040 §9.2.3.24), the WSP push (WAP-230 §8.2.4.1,
//! §8.4) and MMS PDUs (OMA-MMS-ENC §7, multipart bodies WAP-230 §8.5). Each is
//! walked octet by octet for the offsets; the codec judges the whole.

use super::{hex, show, show_text, DecodeError, Out};
use crate::codec::mms::{self, value::Cursor};
use crate::codec::smpp::{self, command, status, tlv};
use crate::codec::wsp::{self, WspHeader};

/// A cursor over an SMPP PDU that lists each field it reads.
struct Walk<'b, 'o, 'f> {
    b: &'b [u8],
    at: usize,
    out: &'o mut Out<'f>,
}

impl Walk<'_, '_, '_> {
    fn u8(&mut self, name: &str, show_fn: fn(u8) -> String) -> Result<u8, DecodeError> {
        let Some(&v) = self.b.get(self.at) else {
            return Err(self.out.err(
                self.at,
                format!("SMPP: expected the octet {name}, came the end of the PDU"),
            ));
        };
        self.out.add(self.at, 1, name, show_fn(v));
        self.at += 1;
        Ok(v)
    }

    fn cstr(&mut self, name: &str) -> Result<Vec<u8>, DecodeError> {
        let rest = self.b.get(self.at..).unwrap_or_default();
        let Some(nul) = memchr::memchr(0, rest) else {
            return Err(self.out.err(
                self.at,
                format!("SMPP: expected the C-octet string {name} ended by a NUL, came the end of the PDU"),
            ));
        };
        let v = rest[..nul].to_vec();
        let shown = if v.is_empty() {
            "NULL".to_string()
        } else {
            format!("\"{}\"", show(&v))
        };
        self.out.add(self.at, nul + 1, name, shown);
        self.at += nul + 1;
        Ok(v)
    }

    fn tlvs(&mut self) -> Result<(), DecodeError> {
        while self.at < self.b.len() {
            let at = self.at;
            let Some(h) = self.b.get(at..at + 4) else {
                return Err(self.out.err(
                    at,
                    format!(
                        "SMPP: expected a TLV header (4 octets), came {}",
                        self.b.len() - at
                    ),
                ));
            };
            let tag = u16::from_be_bytes([h[0], h[1]]);
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let Some(v) = self.b.get(at + 4..at + 4 + len) else {
                return Err(self.out.err(
                    at,
                    format!(
                        "SMPP: TLV 0x{tag:04x} declares {len} octets, {} remain",
                        self.b.len() - at - 4
                    ),
                ));
            };
            let name = tlv::name(tag);
            let label = if name == "unknown" {
                format!("TLV 0x{tag:04x}")
            } else {
                name.to_string()
            };
            self.out.add(
                at,
                4 + len,
                &label,
                format!("tag 0x{tag:04x}, length {len}: {}", hex(v, 32)),
            );
            self.at = at + 4 + len;
        }
        Ok(())
    }
}

fn hex8(v: u8) -> String {
    format!("0x{v:02x}")
}

fn dec8(v: u8) -> String {
    v.to_string()
}

/// SMPP 3.4 §5.2.5.
fn ton(v: u8) -> String {
    let n = match v {
        0 => "unknown",
        1 => "international",
        2 => "national",
        3 => "network specific",
        4 => "subscriber number",
        5 => "alphanumeric",
        6 => "abbreviated",
        _ => "reserved",
    };
    format!("0x{v:02x} ({n})")
}

/// SMPP 3.4 §5.2.6.
fn npi(v: u8) -> String {
    let n = match v {
        0 => "unknown",
        1 => "ISDN (E.163/E.164)",
        3 => "data (X.121)",
        4 => "telex (F.69)",
        6 => "land mobile (E.212)",
        8 => "national",
        9 => "private",
        10 => "ERMES",
        14 => "Internet (IP)",
        18 => "WAP client id",
        _ => "reserved",
    };
    format!("0x{v:02x} ({n})")
}

/// SMPP 3.4 §5.2.12.
fn esm_class(v: u8) -> String {
    let mut s = format!("0x{v:02x}");
    match smpp::esm::message_type(v) {
        0x04 => s.push_str(" delivery receipt"),
        0x08 => s.push_str(" delivery acknowledgement"),
        0x10 => s.push_str(" manual/user acknowledgement"),
        0x20 => s.push_str(" conversation abort"),
        0x40 => s.push_str(" intermediate delivery notification"),
        _ => {}
    }
    if v & 0x40 != 0 {
        s.push_str(" UDHI (user data header present)");
    }
    s
}

/// SMPP 3.4 §5.2.19.
fn data_coding(v: u8) -> String {
    let n = match v {
        0x00 => "SMSC default alphabet",
        0x01 => "IA5 (ASCII)",
        0x02 | 0x04 => "8-bit binary",
        0x03 => "Latin-1",
        0x08 => "UCS2",
        _ => "",
    };
    if n.is_empty() {
        format!("0x{v:02x}")
    } else {
        format!("0x{v:02x} ({n})")
    }
}

/// An SMPP PDU (SMPP 3.4 §3.2): header, body by command_id, TLVs.
pub(crate) fn smpp(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let u32_at = |at: usize| {
        b.get(at..at + 4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
    };
    type Show = fn(u32) -> String;
    let names: [(&str, Show); 4] = [
        ("command_length", |v| v.to_string()),
        ("command_id", |v| format!("0x{v:08x} {}", command::name(v))),
        ("command_status", |v| {
            format!("0x{v:08x} {}", status::name(v))
        }),
        ("sequence_number", |v| v.to_string()),
    ];
    for (i, (name, f)) in names.iter().enumerate() {
        match u32_at(i * 4) {
            Some(v) => out.add(i * 4, 4, name, f(v)),
            None => {
                return (
                    b.len(),
                    Some(out.err(
                        i * 4,
                        format!("SMPP: expected a 16-octet header, came {} octets", b.len()),
                    )),
                )
            }
        }
    }
    let len = u32_at(0).unwrap_or(0) as usize;
    let id = u32_at(4).unwrap_or(0);
    if len < smpp::HEADER_LEN {
        return (
            smpp::HEADER_LEN,
            Some(out.err(
                0,
                format!("SMPP: command_length {len} is below the 16-octet header"),
            )),
        );
    }
    let end = len.min(b.len());
    let pdu = &b[..end];
    let mut w = Walk {
        b: pdu,
        at: smpp::HEADER_LEN,
        out,
    };
    let walked = smpp_body(&mut w, id);
    let at = w.at;
    if let Err(e) = walked {
        return (end, Some(e));
    }
    if len > b.len() {
        return (
            end,
            Some(out.err(
                b.len(),
                format!(
                    "SMPP: command_length says {len} octets, the input holds {}",
                    b.len()
                ),
            )),
        );
    }
    let err = match smpp::Pdu::parse(pdu) {
        Ok(_) => None,
        Err(e) => {
            let off = match &e {
                smpp::SmppError::BadTlv { offset, .. } => *offset,
                smpp::SmppError::TrailingBytes { count, .. } => end.saturating_sub(*count),
                _ => at,
            };
            Some(out.err(off, e.to_string()))
        }
    };
    (end, err)
}

fn smpp_body(w: &mut Walk<'_, '_, '_>, id: u32) -> Result<(), DecodeError> {
    if w.at >= w.b.len() {
        return Ok(());
    }
    match id {
        // bind_receiver, bind_transmitter, bind_transceiver (§4.1).
        0x01 | 0x02 | 0x09 => {
            w.cstr("system_id")?;
            w.cstr("password")?;
            w.cstr("system_type")?;
            w.u8("interface_version", hex8)?;
            w.u8("addr_ton", ton)?;
            w.u8("addr_npi", npi)?;
            w.cstr("address_range")?;
            w.tlvs()
        }
        0x8000_0001 | 0x8000_0002 | 0x8000_0009 | 0x0B => {
            w.cstr("system_id")?;
            if id == 0x0B {
                w.cstr("password")?;
            }
            w.tlvs()
        }
        // submit_sm, deliver_sm (§4.4.1, §4.6.1).
        0x04 | 0x05 => {
            w.cstr("service_type")?;
            w.u8("source_addr_ton", ton)?;
            w.u8("source_addr_npi", npi)?;
            w.cstr("source_addr")?;
            w.u8("dest_addr_ton", ton)?;
            w.u8("dest_addr_npi", npi)?;
            w.cstr("destination_addr")?;
            let esm = w.u8("esm_class", esm_class)?;
            w.u8("protocol_id", hex8)?;
            w.u8("priority_flag", dec8)?;
            w.cstr("schedule_delivery_time")?;
            w.cstr("validity_period")?;
            w.u8("registered_delivery", hex8)?;
            w.u8("replace_if_present_flag", dec8)?;
            let dcs = w.u8("data_coding", data_coding)?;
            w.u8("sm_default_msg_id", dec8)?;
            let sm_len = usize::from(w.u8("sm_length", dec8)?);
            let at = w.at;
            let Some(sm) = w.b.get(at..at + sm_len) else {
                return Err(w.out.err(
                    at,
                    format!(
                        "SMPP: sm_length says {sm_len} octets of short_message, {} remain",
                        w.b.len() - at
                    ),
                ));
            };
            short_message(sm, at, esm, dcs, w.out)?;
            w.at = at + sm_len;
            w.tlvs()
        }
        // data_sm (§4.7.1).
        0x103 => {
            w.cstr("service_type")?;
            w.u8("source_addr_ton", ton)?;
            w.u8("source_addr_npi", npi)?;
            w.cstr("source_addr")?;
            w.u8("dest_addr_ton", ton)?;
            w.u8("dest_addr_npi", npi)?;
            w.cstr("destination_addr")?;
            w.u8("esm_class", esm_class)?;
            w.u8("registered_delivery", hex8)?;
            w.u8("data_coding", data_coding)?;
            w.tlvs()
        }
        // submit_sm_resp, deliver_sm_resp, data_sm_resp (§4.4.2, §4.6.2, §4.7.2).
        0x8000_0004 | 0x8000_0005 | 0x8000_0103 => {
            w.cstr("message_id")?;
            w.tlvs()
        }
        _ => {
            let rest = &w.b[w.at..];
            w.out.add(
                w.at,
                rest.len(),
                "body",
                format!("{} octets: {}", rest.len(), hex(rest, 32)),
            );
            w.at = w.b.len();
            Ok(())
        }
    }
}

/// short_message: its user data header when UDHI is set, the text or
/// octets, and a WSP push to port 2948 decoded one level down.
fn short_message(
    sm: &[u8],
    at: usize,
    esm: u8,
    dcs: u8,
    out: &mut Out<'_>,
) -> Result<(), DecodeError> {
    let text = |b: &[u8]| match smpp::text::decode(dcs, b) {
        Ok(t) if dcs != 0x04 && dcs != 0x02 => format!("\"{}\"", show_text(t.as_bytes())),
        _ => hex(b, 32),
    };
    if esm & 0x40 == 0 || sm.is_empty() {
        out.add(at, sm.len(), "short_message", text(sm));
        return Ok(());
    }
    out.add(
        at,
        sm.len(),
        "short_message",
        format!("{} octets with a user data header", sm.len()),
    );
    let mut inner = out.nested(at);
    let (ies, rest) = match smpp::udh_parse(sm) {
        Ok(x) => x,
        Err(e) => {
            let off = match &e {
                smpp::SmppError::BadUdh { offset, .. } => *offset,
                _ => 0,
            };
            return Err(inner.err(off, e.to_string()));
        }
    };
    inner.add(0, 1, "UDHL", sm[0].to_string());
    let mut p = 1;
    for (iei, data) in &ies {
        let name = match *iei {
            0x00 => "IE concatenated SM (8-bit reference)",
            0x08 => "IE concatenated SM (16-bit reference)",
            0x04 => "IE application port (8-bit)",
            0x05 => "IE application port (16-bit)",
            _ => "IE",
        };
        inner.add(
            p,
            2 + data.len(),
            name,
            format!("IEI 0x{iei:02x}, length {}: {}", data.len(), hex(data, 16)),
        );
        p += 2 + data.len();
    }
    let ud_at = sm.len() - rest.len();
    let concat = smpp::udh_concat(&ies);
    match smpp::udh_port16(&ies) {
        Some((2948, _)) if concat.is_none_or(|c| c.1 <= 1) => {
            inner.add(ud_at, rest.len(), "user data", "a WSP push (port 2948)");
            let mut push = inner.nested(ud_at);
            if let (_, Some(e)) = wsp(rest, &mut push) {
                return Err(e);
            }
        }
        _ => inner.add(ud_at, rest.len(), "user data", text(rest)),
    }
    Ok(())
}

fn wsp_pdu_type(t: u8) -> &'static str {
    match t {
        0x01 => "Connect",
        0x02 => "ConnectReply",
        0x04 => "Reply",
        0x05 => "Disconnect",
        0x06 => "Push",
        0x07 => "ConfirmedPush",
        0x40 => "Get",
        0x60 => "Post",
        _ => "unassigned or not a push",
    }
}

fn wsp_header(h: &WspHeader) -> (String, String) {
    match h {
        WspHeader::ApplicationId(id) => ("X-Wap-Application-Id".into(), id.to_string()),
        WspHeader::ContentLength(n) => ("Content-Length".into(), n.to_string()),
        WspHeader::EncodingVersion { major, minor } => (
            "Encoding-Version".into(),
            match minor {
                Some(m) => format!("{major}.{m}"),
                None => major.to_string(),
            },
        ),
        WspHeader::Text { name, value } => {
            (name.clone(), format!("\"{}\"", show_text(value.as_bytes())))
        }
        WspHeader::Unknown { bytes } => (
            match bytes.first() {
                Some(&f) if f >= 0x80 => format!("header 0x{:02x}", f & 0x7f),
                _ => "header".into(),
            },
            hex(bytes, 24),
        ),
    }
}

/// A WSP Push or ConfirmedPush PDU (WAP-230 §8.2.4.1): TID, PDU type,
/// HeadersLen, Content-Type, headers, body.
pub(crate) fn wsp(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    let Some(&tid) = b.first() else {
        return (0, Some(out.err(0, "WSP: no octets")));
    };
    out.add(0, 1, "TID", format!("0x{tid:02x}"));
    let Some(&ty) = b.get(1) else {
        return (
            b.len(),
            Some(out.err(1, "WSP: expected the PDU type, came the end of the input")),
        );
    };
    out.add(1, 1, "PDU type", format!("0x{ty:02x} {}", wsp_pdu_type(ty)));
    if ty != 0x06 && ty != 0x07 {
        return (
            b.len(),
            Some(out.err(
                1,
                format!(
                    "WSP: expected PDU type Push (0x06) or ConfirmedPush (0x07), came 0x{ty:02x}"
                ),
            )),
        );
    }
    let (hlen, n) = match wsp::decode_uintvar(&b[2..]) {
        Ok(x) => x,
        Err(e) => return (b.len(), Some(out.err(2, format!("WSP HeadersLen: {e}")))),
    };
    out.add(2, n, "HeadersLen", hlen.to_string());
    let start = 2 + n;
    let Some(end) = usize::try_from(hlen)
        .ok()
        .and_then(|h| start.checked_add(h))
        .filter(|&e| e <= b.len())
    else {
        return (
            b.len(),
            Some(out.err(
                2,
                format!(
                    "WSP: HeadersLen says {hlen} octets, {} remain",
                    b.len() - start
                ),
            )),
        );
    };
    let block = &b[start..end];
    if block.is_empty() {
        return (
            b.len(),
            Some(out.err(start, "WSP: expected a Content-Type, the headers are empty")),
        );
    }
    let (ct, used) = match wsp::parse_content_type(block) {
        Ok(x) => x,
        Err(e) => {
            return (
                b.len(),
                Some(out.err(start, format!("WSP Content-Type: {e}"))),
            )
        }
    };
    let ct_name = ct.name().map(str::to_string);
    out.add(
        start,
        used,
        "Content-Type",
        match &ct {
            wsp::ContentType::WellKnown(c) => {
                format!("{} (0x{c:02x})", ct_name.as_deref().unwrap_or("well-known"))
            }
            wsp::ContentType::General { media, params } => {
                let m = match (&ct_name, media) {
                    (Some(n), _) => n.clone(),
                    (None, wsp::Media::Code(c)) => format!("media 0x{c:02x}"),
                    (None, wsp::Media::Text(t)) => t.clone(),
                };
                if params.is_empty() {
                    m
                } else {
                    format!("{m}; parameters {}", hex(params, 16))
                }
            }
            wsp::ContentType::Text(t) => t.clone(),
        },
    );
    let mut pos = used;
    while pos < block.len() {
        match wsp::parse_header(&block[pos..]) {
            Ok((h, used)) => {
                let (name, value) = wsp_header(&h);
                out.add(start + pos, used, &name, value);
                pos += used;
            }
            Err(e) => {
                return (
                    b.len(),
                    Some(out.err(start + pos, format!("WSP header: {e}"))),
                )
            }
        }
    }
    let err = super::text::body(b, end, b.len() - end, ct_name.as_deref(), out);
    if err.is_some() {
        return (b.len(), err);
    }
    // The codec's reading of the whole.
    let err = wsp::PushPdu::parse(b)
        .err()
        .map(|e| out.err(0, format!("WSP: {e}")));
    (b.len(), err)
}

/// An MMS PDU (OMA-MMS-ENC §7): each header, then the body after
/// Content-Type (a multipart's entries one level down).
pub(crate) fn mms(b: &[u8], out: &mut Out<'_>) -> (usize, Option<DecodeError>) {
    if b.is_empty() {
        return (0, Some(out.err(0, "MMS PDU: no octets")));
    }
    let mut c = Cursor::new(b);
    let mut ct = None;
    while !c.at_end() {
        let at = c.pos;
        let h = match mms::header::read_header(&mut c) {
            Ok(h) => h,
            Err(e) => {
                let off = error_at(&e).unwrap_or(at);
                return (b.len(), Some(out.err(off, e.to_string())));
            }
        };
        out.add(at, c.pos - at, &h.name(), h.value_text());
        if let mms::Header::ContentType(t) = &h {
            ct = Some(t.clone());
            break;
        }
    }
    let parsed = mms::Pdu::parse(b);
    if let Some(ct) = &ct {
        let parts = match &parsed {
            Ok(p) => p.body.as_ref().map_or(&[][..], |b| b.parts()),
            Err(_) => &[],
        };
        let at = c.pos;
        let rest = &b[at..];
        out.add(
            at,
            rest.len(),
            "body",
            format!("{} ({} octets)", ct, rest.len()),
        );
        if ct.media.is_multipart() {
            let mut inner = out.nested(at);
            if let Some(e) = multipart(rest, parts, &mut inner) {
                return (b.len(), Some(e));
            }
        }
    }
    let err = match parsed {
        Ok(p) => p.order_violations().first().map(|e| {
            out.err(
                error_at(e).unwrap_or(0),
                format!("{e} (order only: the PDU decodes)"),
            )
        }),
        Err(e) => Some(out.err(error_at(&e).unwrap_or(0), e.to_string())),
    };
    (b.len(), err)
}

fn error_at(e: &mms::MmsError) -> Option<usize> {
    use mms::MmsError as E;
    match e {
        E::Truncated { at, .. }
        | E::BadValueLength { at, .. }
        | E::UintvarOverflow { at, .. }
        | E::BadValue { at, .. }
        | E::UnknownMessageType { at, .. }
        | E::BadCharset { at, .. }
        | E::HeaderOrder { at, .. }
        | E::BadMultipart { at, .. } => Some(*at),
        _ => None,
    }
}

/// A WSP multipart (WAP-230 §8.5.2): the entry count, then per entry
/// HeadersLen, DataLen, content type and headers, data.
fn multipart(b: &[u8], parts: &[mms::Part], out: &mut Out<'_>) -> Option<DecodeError> {
    let (count, n) = match wsp::decode_uintvar(b) {
        Ok(x) => x,
        Err(e) => return Some(out.err(0, format!("multipart entry count: {e}"))),
    };
    out.add(0, n, "entries", count.to_string());
    let mut at = n;
    for i in 1..=count {
        if at >= b.len() {
            return Some(out.err(
                at,
                format!("multipart: expected entry {i} of {count}, came the end of the body"),
            ));
        }
        let entry = at;
        let Ok((hl, n1)) = wsp::decode_uintvar(&b[at..]) else {
            return Some(out.err(at, format!("multipart entry {i}: a bad HeadersLen")));
        };
        let Ok((dl, n2)) = wsp::decode_uintvar(&b[at + n1..]) else {
            return Some(out.err(at + n1, format!("multipart entry {i}: a bad DataLen")));
        };
        let h_at = at + n1 + n2;
        let (hl, dl) = (hl as usize, dl as usize);
        let Some(end) = h_at
            .checked_add(hl)
            .and_then(|x| x.checked_add(dl))
            .filter(|&e| e <= b.len())
        else {
            return Some(out.err(
                entry,
                format!("multipart entry {i}: HeadersLen {hl} and DataLen {dl} run past the body"),
            ));
        };
        let label = parts
            .get(i as usize - 1)
            .map_or_else(|| "an entry".to_string(), |p| p.content_type.to_string());
        out.add(
            entry,
            end - entry,
            &format!("entry {i}"),
            format!("{label} ({dl} octets of data)"),
        );
        let mut inner = out.nested(entry);
        inner.add(0, n1, "HeadersLen", hl.to_string());
        inner.add(n1, n2, "DataLen", dl.to_string());
        inner.add(
            n1 + n2,
            hl,
            "Content-Type and headers",
            hex(&b[h_at..h_at + hl], 24),
        );
        inner.add(n1 + n2 + hl, dl, "data", show(&b[h_at + hl..end]));
        at = end;
    }
    if at < b.len() {
        return Some(out.err(
            at,
            format!("multipart: {} octets after the last entry", b.len() - at),
        ));
    }
    None
}
