//! Internet messages (RFC 5322 with MIME), sans-IO: what travels in SMTP DATA
//! between a MEM server and an MMS server (MM3).
//!
//! The reader keeps the raw bytes and every header field exactly as spelled
//! (name and raw value, folding included), so that a verdict can judge
//! `Applic-ID` against `X-Mms-Applic-ID` or a malformed line byte for byte;
//! it records what does not follow RFC 5322 §2.2 / §3.6.8 (a line without a
//! colon, a name with characters outside printable ASCII) instead of refusing
//! the message. The typed views — Date, Subject (RFC 2047 words decoded),
//! the From addr-spec, Message-ID, Content-Type and the body with its
//! Content-Transfer-Encoding removed — come from the `mail-parser` crate.
//!
//! [`MailBuilder`] writes exactly the header lines it is given, in order, then
//! an empty line and the body: nothing is added, folded or encoded, so a
//! scenario can send a malformed header as is.

use super::escape_bytes;
use mail_parser::{MessageParser, MimeHeaders};

/// One header field as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    /// The name exactly as spelled (empty for a line without a colon).
    pub name: String,
    /// The value after the colon, unfolded (CRLF before continuation lines
    /// removed), leading and trailing white space trimmed.
    pub value: String,
    /// The field's bytes, continuation lines included, without its final line end.
    pub raw: Vec<u8>,
}

/// One message as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    raw: Vec<u8>,
    pub fields: Vec<HeaderField>,
    /// Where the body starts (after the empty line); the end when there is none.
    body_at: usize,
    /// What does not follow RFC 5322 §2.2 in the header block, in order.
    pub problems: Vec<String>,
}

fn valid_name(n: &[u8]) -> bool {
    !n.is_empty() && n.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

impl Mail {
    /// Reads a message; never fails (what is wrong is in [`Mail::problems`]).
    pub fn parse(bytes: &[u8]) -> Mail {
        let mut fields: Vec<HeaderField> = Vec::new();
        let mut problems = Vec::new();
        let mut at = 0;
        let mut number = 0;
        let body_at = loop {
            if at >= bytes.len() {
                break bytes.len();
            }
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| at + i + 1);
            let line = &bytes[at..end];
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            number += 1;
            if text.is_empty() {
                break end;
            }
            if !line.ends_with(b"\r\n") && end < bytes.len() {
                problems.push(format!("header line {number} ends with a bare LF"));
            }
            if text[0] == b' ' || text[0] == b'\t' {
                match fields.last_mut() {
                    Some(f) => {
                        f.raw.extend_from_slice(b"\r\n");
                        f.raw.extend_from_slice(text);
                        let more = String::from_utf8_lossy(text);
                        f.value = format!("{} {}", f.value, more.trim()).trim().to_string();
                    }
                    None => problems.push(format!(
                        "header line {number} continues a field that does not exist: {}",
                        escape_bytes(text, 80)
                    )),
                }
                at = end;
                continue;
            }
            match text.iter().position(|&b| b == b':') {
                Some(c) if valid_name(&text[..c]) => fields.push(HeaderField {
                    name: String::from_utf8_lossy(&text[..c]).into_owned(),
                    value: String::from_utf8_lossy(&text[c + 1..]).trim().to_string(),
                    raw: text.to_vec(),
                }),
                Some(c) => {
                    problems.push(format!(
                        "header line {number}: the field name {} has characters outside printable ASCII or white space (RFC 5322 §2.2, §3.6.8)",
                        escape_bytes(&text[..c], 80)
                    ));
                    fields.push(HeaderField {
                        name: String::from_utf8_lossy(&text[..c]).into_owned(),
                        value: String::from_utf8_lossy(&text[c + 1..]).trim().to_string(),
                        raw: text.to_vec(),
                    });
                }
                None => {
                    problems.push(format!(
                        "header line {number} has no colon (RFC 5322 §2.2): {}",
                        escape_bytes(text, 80)
                    ));
                    fields.push(HeaderField {
                        name: String::new(),
                        value: String::from_utf8_lossy(text).into_owned(),
                        raw: text.to_vec(),
                    });
                }
            }
            at = end;
        };
        Mail {
            raw: bytes.to_vec(),
            fields,
            body_at,
            problems,
        }
    }

    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The body exactly as sent (transfer encoding not removed).
    pub fn raw_body(&self) -> &[u8] {
        &self.raw[self.body_at.min(self.raw.len())..]
    }

    /// The first field with this name (case-insensitive, RFC 5322 §1.2.2).
    pub fn field(&self, name: &str) -> Option<&HeaderField> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Every field with this name (case-insensitive), in order.
    pub fn fields_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderField> {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
    }

    /// The unfolded value of the first field with this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.field(name).map(|f| f.value.as_str())
    }

    fn parsed(&self) -> Option<mail_parser::Message<'_>> {
        MessageParser::default().parse(&self.raw)
    }

    /// The Date field as seconds since 1970 (RFC 5322 §3.3).
    pub fn date(&self) -> Option<u64> {
        self.field("Date")?;
        let m = self.parsed()?;
        u64::try_from(m.date()?.to_timestamp()).ok()
    }

    /// The Subject with RFC 2047 encoded words decoded.
    pub fn subject(&self) -> Option<String> {
        self.field("Subject")?;
        Some(self.parsed()?.subject()?.to_string())
    }

    /// The addr-spec of the first From mailbox (RFC 5322 §3.6.2).
    pub fn from_address(&self) -> Option<String> {
        let m = self.parsed()?;
        Some(m.from()?.first()?.address()?.to_string())
    }

    /// The addr-specs of the To field.
    pub fn to_addresses(&self) -> Vec<String> {
        let Some(m) = self.parsed() else {
            return Vec::new();
        };
        m.to()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The msg-id of the Message-ID field, without its angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.field("Message-ID")?;
        Some(self.parsed()?.message_id()?.to_string())
    }

    /// The media type (lower case, `type/subtype`) and its parameters (names
    /// lower case) of the Content-Type field; `text/plain` when there is none
    /// (RFC 2045 §5.2).
    pub fn content_type(&self) -> (String, Vec<(String, String)>) {
        let default = (
            "text/plain".to_string(),
            vec![("charset".into(), "us-ascii".into())],
        );
        if self.field("Content-Type").is_none() {
            return default;
        }
        let Some(m) = self.parsed() else {
            return default;
        };
        let Some(ct) = m.root_part().content_type() else {
            return default;
        };
        let media = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        let params = ct
            .attributes()
            .unwrap_or_default()
            .iter()
            .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
            .collect();
        (media, params)
    }

    /// The Content-Transfer-Encoding, lower case (`7bit` when there is none).
    pub fn transfer_encoding(&self) -> String {
        self.header("Content-Transfer-Encoding")
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "7bit".into())
    }

    /// The body with its transfer encoding removed (RFC 2045 §6): the bytes as
    /// sent for 7bit, 8bit and binary; decoded for base64 and
    /// quoted-printable. None when it cannot be decoded.
    pub fn decoded_body(&self) -> Option<Vec<u8>> {
        match self.transfer_encoding().as_str() {
            "7bit" | "8bit" | "binary" => Some(self.raw_body().to_vec()),
            _ => {
                let m = self.parsed()?;
                Some(m.root_part().contents().to_vec())
            }
        }
    }

    /// One line naming the fields, for a verdict.
    pub fn describe(&self) -> String {
        escape_bytes(&self.raw, 500)
    }
}

/// Writes a message: exactly the header lines given, in order, CRLF after
/// each, an empty line, and the body as given.
#[derive(Clone, Debug, Default)]
pub struct MailBuilder {
    lines: Vec<Vec<u8>>,
    body: Vec<u8>,
}

impl MailBuilder {
    pub fn new() -> MailBuilder {
        MailBuilder::default()
    }

    /// `Name: value`.
    pub fn header(mut self, name: &str, value: &str) -> MailBuilder {
        self.lines.push(format!("{name}: {value}").into_bytes());
        self
    }

    /// A header line exactly as given (it may be malformed on purpose).
    pub fn raw_line(mut self, line: &[u8]) -> MailBuilder {
        self.lines.push(line.to_vec());
        self
    }

    pub fn body(mut self, body: &[u8]) -> MailBuilder {
        self.body = body.to_vec();
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        for l in &self.lines {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// An RFC 5322 §3.3 date-time in UTC for `secs` since 1970
/// (`Tue, 16 Apr 2002 06:40:00 +0000`).
pub fn rfc5322_date(secs: u64) -> String {
    super::sip_push::sip_date(secs).replace(" GMT", " +0000")
}

/// An ISO 8601 UTC timestamp (`2002-04-16T06:40:00Z`), as OMA EMN uses.
pub fn iso8601_utc(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // `Tue, 16 Apr 2002 06:40:00 GMT` → its parts.
    let d = super::sip_push::sip_date(secs);
    let w: Vec<&str> = d.split_whitespace().collect();
    let month = MONTHS.iter().position(|m| Some(m) == w.get(2)).unwrap_or(0) + 1;
    format!(
        "{}-{month:02}-{}T{}Z",
        w.get(3).unwrap_or(&"1970"),
        w.get(1).unwrap_or(&"01"),
        w.get(4).unwrap_or(&"00:00:00")
    )
}

/// The IANA MIBenum of a charset name, for the MMS Charset parameter
/// (WAP-230 Table 42 uses MIBenum): the few a notification uses.
pub fn charset_mibenum(name: &str) -> Option<u32> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "us-ascii" | "ascii" => 3,
        "iso-8859-1" | "latin1" => 4,
        "utf-8" | "utf8" => 106,
        "utf-16" => 1015,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"From: MEM server <mem@mail.liaison.test>\r\n\
To: +15551234567/TYPE=PLMN@mms.liaison.test\r\n\
Subject: =?utf-8?q?new_mail?=\r\n\
Date: Tue, 16 Apr 2002 06:40:00 +0000\r\n\
Message-ID: <n1@mail.liaison.test>\r\n\
Applic-ID: MEM\r\n\
Content-Type: text/vnd.wap.emn+xml;\r\n charset=utf-8\r\n\
\r\n\
<emn mailbox=\"mailat:bob@mail.liaison.test\"/>\r\n";

    #[test]
    fn reads_fields_exactly_and_typed_views() {
        let m = Mail::parse(MAIL);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.fields.len(), 7);
        assert_eq!(m.field("applic-id").unwrap().name, "Applic-ID");
        assert_eq!(m.header("Applic-ID"), Some("MEM"));
        assert_eq!(
            m.field("Content-Type").unwrap().raw,
            b"Content-Type: text/vnd.wap.emn+xml;\r\n charset=utf-8".to_vec()
        );
        assert_eq!(
            m.header("Content-Type"),
            Some("text/vnd.wap.emn+xml; charset=utf-8")
        );
        assert_eq!(m.date(), Some(1_018_939_200));
        assert_eq!(m.subject().as_deref(), Some("new mail"));
        assert_eq!(m.from_address().as_deref(), Some("mem@mail.liaison.test"));
        assert_eq!(m.message_id().as_deref(), Some("n1@mail.liaison.test"));
        let (media, params) = m.content_type();
        assert_eq!(media, "text/vnd.wap.emn+xml");
        assert_eq!(params, [("charset".to_string(), "utf-8".to_string())]);
        assert_eq!(
            m.decoded_body().unwrap(),
            b"<emn mailbox=\"mailat:bob@mail.liaison.test\"/>\r\n".to_vec()
        );
    }

    #[test]
    fn records_malformed_lines_and_decodes_base64() {
        let m = Mail::parse(b"From: a@b\r\nThis line has no colon\r\nBad Name: x\r\n\r\nbody");
        assert_eq!(m.problems.len(), 2, "{:?}", m.problems);
        assert!(m.problems[0].contains("no colon"));
        assert!(m.problems[1].contains("outside printable ASCII"));
        assert_eq!(m.raw_body(), b"body");
        let b = Mail::parse(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n",
        );
        assert_eq!(b.decoded_body().unwrap(), vec![0, 1, 2, 255]);
        let none = Mail::parse(b"");
        assert!(none.fields.is_empty() && none.raw_body().is_empty());
        assert_eq!(Mail::parse(b"X: y").header("x"), Some("y"));
        assert_eq!(Mail::parse(b"X: y\r\n").content_type().0, "text/plain");
    }

    #[test]
    fn builder_snapshot_and_dates() {
        let m = MailBuilder::new()
            .header("From", "mem@mail.liaison.test")
            .header("Applic-ID", "MEM")
            .raw_line(b"Malformed header without colon")
            .body(b"payload\r\n")
            .build();
        insta::assert_snapshot!(
            "mail_builder",
            escape_bytes(&m, 4096).replace("\\r\\n", "\\r\\n\n")
        );
        assert_eq!(
            rfc5322_date(1_018_939_200),
            "Tue, 16 Apr 2002 06:40:00 +0000"
        );
        assert_eq!(iso8601_utc(1_018_939_200), "2002-04-16T06:40:00Z");
        assert_eq!(Mail::parse(&m).problems.len(), 1);
        assert_eq!(charset_mibenum("UTF-8"), Some(106));
    }

    #[test]
    fn no_panic_on_any_input() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let mut b = MAIL.to_vec();
            for _ in 0..(next() % 8) {
                let pos = (next() as usize) % (b.len() + 1);
                match next() % 3 {
                    0 if pos < b.len() => b[pos] = next() as u8,
                    1 => b.insert(pos, b"\r\n: =?"[(next() % 6) as usize]),
                    _ => b.truncate(pos),
                }
            }
            let m = Mail::parse(&b);
            let _ = (m.date(), m.subject(), m.from_address(), m.message_id());
            let _ = (m.content_type(), m.decoded_body(), m.to_addresses());
        }
    }
}
