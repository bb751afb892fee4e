//! MM3 of the reference MMS relay: SMTP (RFC 5321) in from external servers
//! — a MEM server sending its outband notifications (seed 004 §6.2.1) — each
//! message mapped to an MM and delivered like one from MM1: an
//! M-Notification.ind pushed to the recipient and an M-Retrieve.conf at its
//! Content-Location.
//!
//! **SMTP.** Greeting 220; EHLO (8BITMIME, SIZE [`MAX_MESSAGE`]) or HELO;
//! MAIL FROM (552 when a SIZE parameter is over the limit); RCPT TO
//! `+digits/TYPE=PLMN@any-domain` (or bare digits) — an MMS user reached by
//! WSP push over SMS — else 550; DATA 503 without an accepted recipient;
//! after the content 552 for a message over the limit, 550 for a header
//! block that does not follow RFC 5322 (a line without a colon, a bad field
//! name) or has no From, 554 for MIME multipart content (this reference maps
//! single-part messages only), else 250 and the MM goes out.
//!
//! **Mapping** (3GPP TS 23.140 MM3, RFC 4356): From ← the From addr-spec;
//! To ← the recipient's `+digits/TYPE=PLMN`; Subject ← Subject (RFC 2047
//! decoded); Date ← Date; Message-ID ← the msg-id of Message-ID; the content
//! type ← Content-Type (media and charset); the content ← the body with its
//! transfer encoding removed, byte for byte; X-Mms-Applic-ID (0xB7) ←
//! `Applic-ID` or its MM4 spelling `X-Mms-Applic-ID`, X-Mms-Reply-Applic-ID
//! (0xB8) ← `Reply-Applic-ID` / `X-Mms-Reply-Applic-ID`, X-Mms-Aux-Applic-Info
//! (0xB9) ← `Aux-Applic-Info` / `X-Mms-Aux-Applic-Info`, each as a
//! Text-string, in the notification and in the retrieved MM. A message
//! without them gets none.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{lock, now_secs, Delivery, Push, Route, Shared, Stored};
use crate::codec::mail::{charset_mibenum, Mail};
use crate::codec::mms::{Body, ContentType, EncodedString, Field, Header, Param};
use crate::codec::sip;
use crate::codec::smtp::{self, Command};
use crate::codec::wsp::AppId;

/// The largest message it takes (declared as SIZE).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// The longest command line it reads (RFC 5321 §4.5.3.1.4: 512 at least).
const MAX_LINE: usize = 2048;
const IDLE: Duration = Duration::from_secs(30);
const NAME: &str = "mms.reference.liaison.test";

pub(super) async fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    conns.spawn(session(stream, sh.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// The number of an MMS recipient address `+digits/TYPE=PLMN@domain`.
fn recipient_number(path: &str) -> Option<String> {
    let local = path.rsplit_once('@').map_or(path, |x| x.0);
    let n = local
        .strip_suffix("/TYPE=PLMN")
        .or_else(|| local.strip_suffix("/type=plmn"))
        .unwrap_or(local);
    let d = n.strip_prefix('+').unwrap_or(n);
    (!d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit())).then(|| d.to_string())
}

async fn session(mut stream: TcpStream, sh: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let s = &sh.s;
    if !write(&mut stream, &smtp::reply(220, &[&format!("{NAME} ESMTP")])).await {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut in_data = false;
    loop {
        let framed = if in_data {
            smtp::next_data(&buf, MAX_MESSAGE * 4)
        } else {
            smtp::next_line(&buf, MAX_LINE)
        };
        let n = match framed {
            Ok(Some(n)) => n,
            Ok(None) => {
                match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
                    Ok(Ok(k)) if k > 0 => buf.extend_from_slice(&chunk[..k]),
                    _ => return,
                }
                continue;
            }
            Err(_) if in_data => {
                let _ = write(
                    &mut stream,
                    &smtp::reply(552, &["5.3.4 message too big for this relay"]),
                )
                .await;
                return;
            }
            Err(_) => {
                let _ = write(&mut stream, &smtp::reply(500, &["5.5.2 line too long"])).await;
                return;
            }
        };
        let unit: Vec<u8> = buf.drain(..n).collect();
        if in_data {
            in_data = false;
            let message = smtp::dot_unstuff(&unit);
            let recipients = std::mem::take(&mut rcpts);
            let sender = from.take().unwrap_or_default();
            let (reply, pushes) = sh.mm3_message(&sender, &recipients, &message);
            if !write(&mut stream, &reply).await {
                return;
            }
            sh.dispatch(pushes);
            continue;
        }
        let answer = match Command::parse(&unit) {
            Err(_) => smtp::reply(500, &["5.5.2 syntax error"]),
            Ok(c) => match c.verb.as_str() {
                "EHLO" => {
                    (from, rcpts) = (None, Vec::new());
                    smtp::reply(
                        250,
                        &[NAME, "8BITMIME", &format!("SIZE {MAX_MESSAGE}"), "OK"],
                    )
                }
                "HELO" => {
                    (from, rcpts) = (None, Vec::new());
                    smtp::reply(250, &[NAME])
                }
                "MAIL" => match c.path("FROM:") {
                    Ok((_, params))
                        if params.iter().any(|(k, v)| {
                            k == "SIZE" && v.parse::<usize>().is_ok_and(|n| n > MAX_MESSAGE)
                        }) =>
                    {
                        smtp::reply(552, &["5.3.4 message size exceeds the fixed maximum"])
                    }
                    Ok((p, _)) => {
                        (from, rcpts) = (Some(p), Vec::new());
                        smtp::reply(250, &["2.1.0 Ok"])
                    }
                    Err(_) => smtp::reply(501, &["5.5.4 syntax: MAIL FROM:<address>"]),
                },
                "RCPT" if from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
                "RCPT" => match c.path("TO:") {
                    Ok((p, _)) if recipient_number(&p).is_some() => {
                        rcpts.push(p);
                        smtp::reply(250, &["2.1.5 Ok"])
                    }
                    Ok(_) => smtp::reply(550, &["5.1.1 not an MMS recipient of this relay"]),
                    Err(_) => smtp::reply(501, &["5.5.4 syntax: RCPT TO:<address>"]),
                },
                "DATA" if from.is_none() => smtp::reply(503, &["5.5.1 MAIL first"]),
                "DATA" if rcpts.is_empty() && !s.has_fault("mm3-accepts-no-recipient") => {
                    smtp::reply(503, &["5.5.1 no valid recipients"])
                }
                "DATA" => {
                    in_data = true;
                    smtp::reply(354, &["End data with <CR><LF>.<CR><LF>"])
                }
                "RSET" => {
                    (from, rcpts) = (None, Vec::new());
                    smtp::reply(250, &["2.0.0 Ok"])
                }
                "NOOP" => smtp::reply(250, &["2.0.0 Ok"]),
                "QUIT" => {
                    let _ = write(&mut stream, &smtp::reply(221, &["2.0.0 Bye"])).await;
                    return;
                }
                _ => smtp::reply(502, &["5.5.2 command not implemented"]),
            },
        };
        if !write(&mut stream, &answer).await {
            return;
        }
    }
}

/// The first field of any of `names`.
fn first_of<'a>(m: &'a Mail, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| m.header(n))
}

impl Shared {
    /// One message that came over MM3: the reply to its content and what to
    /// push once the reply is written.
    fn mm3_message(
        &self,
        sender: &str,
        recipients: &[String],
        message: &[u8],
    ) -> (Vec<u8>, Vec<Push>) {
        let s = &self.s;
        let ok = |text: &str| (smtp::reply(250, &[text]), Vec::new());
        let no = |code: u16, text: &str| (smtp::reply(code, &[text]), Vec::new());
        if recipients.is_empty() {
            // Fault mm3-accepts-no-recipient: the content was taken; it goes nowhere.
            return ok("2.0.0 Ok");
        }
        if message.len() > MAX_MESSAGE {
            if s.has_fault("mm3-oversized-silently") {
                return ok("2.0.0 Ok");
            }
            return no(552, "5.3.4 message size exceeds the fixed maximum");
        }
        let mail = Mail::parse(message);
        if let Some(p) = mail.problems.first() {
            if s.has_fault("mm3-accepts-malformed") {
                return ok("2.0.0 Ok");
            }
            return no(550, &format!("5.6.0 malformed header: {p}"));
        }
        let Some(from) = mail.from_address() else {
            if s.has_fault("mm3-accepts-malformed") {
                return ok("2.0.0 Ok");
            }
            return no(550, "5.6.0 no From mailbox (RFC 5322 §3.6.2)");
        };
        let (media, params) = mail.content_type();
        if media.starts_with("multipart/") {
            return no(554, "5.6.1 this relay maps single-part messages only");
        }
        let Some(mut body) = mail.decoded_body() else {
            return no(554, "5.6.1 the body cannot be decoded");
        };
        if s.has_fault("payload-re-encoded") {
            // Fault: the content's line ends rewritten (CRLF to LF).
            let mut out = Vec::with_capacity(body.len());
            for (i, &b) in body.iter().enumerate() {
                if !(b == b'\r' && body.get(i + 1) == Some(&b'\n')) {
                    out.push(b);
                }
            }
            body = out;
        }
        let mut content_type = ContentType::named(&media);
        if let Some(c) = params
            .iter()
            .find(|(k, _)| k == "charset")
            .and_then(|(_, v)| charset_mibenum(v))
        {
            content_type = content_type.with(Param::Charset(c));
        }
        let lost = s.has_fault("header-mapping-lost");
        let subject = match mail.subject() {
            Some(t) if !lost => Some(if t.is_ascii() {
                EncodedString::plain(&t)
            } else {
                EncodedString::utf8(&t)
            }),
            _ => None,
        };
        let date = match mail.date() {
            Some(d) if !lost => d,
            _ => now_secs(),
        };
        let n = self.next_id();
        let message_id = match mail.message_id() {
            Some(m) if !s.has_fault("message-id-lost") => m,
            _ => format!("liaison-mm3-{n}-{}", sip::token()),
        };
        let mut extra = Vec::new();
        let applic = if s.has_fault("x-mms-spelling-ignored") {
            mail.header("Applic-ID")
        } else {
            first_of(&mail, &["Applic-ID", "X-Mms-Applic-ID"])
        };
        match applic {
            _ if s.has_fault("applic-id-dropped") => {}
            Some(v) if s.has_fault("applic-id-wrong-field") => {
                extra.push(Header::Text(Field::AUX_APPLIC_INFO, v.to_string()))
            }
            Some(v) if s.has_fault("applic-id-wrong-value") => {
                extra.push(Header::Text(Field::APPLIC_ID, v.to_ascii_lowercase()))
            }
            Some(v) => extra.push(Header::Text(Field::APPLIC_ID, v.to_string())),
            None if s.has_fault("applic-id-invented") => {
                extra.push(Header::Text(Field::APPLIC_ID, "MEM".into()))
            }
            None => {}
        }
        if !s.has_fault("reply-applic-dropped") {
            for (field, names) in [
                (
                    Field::REPLY_APPLIC_ID,
                    ["Reply-Applic-ID", "X-Mms-Reply-Applic-ID"],
                ),
                (
                    Field::AUX_APPLIC_INFO,
                    ["Aux-Applic-Info", "X-Mms-Aux-Applic-Info"],
                ),
            ] {
                if let Some(v) = first_of(&mail, &names) {
                    extra.push(Header::Text(field, v.to_string()));
                }
            }
        }
        let numbers: Vec<String> = recipients
            .iter()
            .filter_map(|r| recipient_number(r))
            .collect();
        let stored = Stored {
            message_id: message_id.clone(),
            from: EncodedString::plain(&from),
            to: numbers
                .iter()
                .map(|d| EncodedString::plain(&format!("+{d}/TYPE=PLMN")))
                .map(|e| self.out_addr(&e))
                .collect(),
            cc: Vec::new(),
            subject,
            date,
            content_type,
            body: Body::Single(body),
            delivery_report: false,
            extra,
        };
        let size = {
            let mut v = Vec::new();
            stored.body.encode(&mut v);
            v.len() as u64
        };
        let _ = sender;
        let mut pushes = Vec::new();
        for (number, addr) in numbers.iter().zip(&stored.to) {
            let tid = format!("liaison-n-{}-{}", self.next_id(), sip::token());
            lock(&self.store).deliveries.insert(
                tid.clone(),
                Delivery {
                    message_id: message_id.clone(),
                    recipient: addr.clone(),
                    closed: false,
                    reported: false,
                },
            );
            let notification = self.notification(&tid, &stored, size);
            if s.has_fault("mm3-notification-wrong-app-id") {
                pushes.push(Push::Sms(self.sms_push_for(
                    number,
                    &notification,
                    AppId::Code(2),
                )));
            } else {
                pushes.push(self.push_to(&Route::Sms(number.clone()), &notification));
            }
        }
        lock(&self.store)
            .messages
            .insert(message_id.clone(), stored);
        (
            smtp::reply(250, &[&format!("2.0.0 Ok: queued as {message_id}")]),
            pushes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_plmn_numbers() {
        assert_eq!(
            recipient_number("+15551234567/TYPE=PLMN@mms.liaison.test").as_deref(),
            Some("15551234567")
        );
        assert_eq!(
            recipient_number("15551234567@x").as_deref(),
            Some("15551234567")
        );
        assert_eq!(recipient_number("bob@mail.liaison.test"), None);
        assert_eq!(recipient_number("+/TYPE=PLMN@x"), None);
    }
}
