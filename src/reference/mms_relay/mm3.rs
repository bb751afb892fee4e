//! MM3 of the reference MMS relay: SMTP (RFC 5321) in from external servers
//! — a MEM server sending its outband notifications (seed 004 §6.2.1) — each
//! message mapped to an MM and delivered like one from MM1: an
//! M-Notification.ind pushed to the recipient and an M-Retrieve.conf at its
//! Content-Location.
//!
//! **SMTP.** Greeting 220; EHLO (8BITMIME, SIZE [`MAX_MESSAGE`], STARTTLS
//! with the run's certificate, RFC 3207) or HELO;
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

use super::{now_secs, Push, Route, Shared, Stored};
use crate::codec::mail::{charset_mibenum, Mail};
use crate::codec::mms::{Body, ContentType, EncodedString, Field, Header, Param};
use crate::codec::sip;
use crate::codec::smtp;
use crate::codec::wsp::AppId;
use crate::reference::smtp_server::MailTaker;

/// The largest message it takes (declared as SIZE).
pub const MAX_MESSAGE: usize = 64 * 1024;

pub(super) use crate::reference::smtp_server::accept_loop;

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

impl MailTaker for Shared {
    type After = Vec<Push>;

    fn name(&self) -> &'static str {
        "mms.reference.liaison.test"
    }

    fn max_message(&self) -> usize {
        MAX_MESSAGE
    }

    fn refuse_rcpt(&self, path: &str) -> Option<Vec<u8>> {
        match recipient_number(path) {
            Some(_) => None,
            None => Some(smtp::reply(
                550,
                &["5.1.1 not an MMS recipient of this relay"],
            )),
        }
    }

    fn data_without_recipients(&self) -> bool {
        self.s.has_fault("mm3-accepts-no-recipient")
    }

    fn message(&self, from: &str, rcpts: &[String], message: &[u8]) -> (Vec<u8>, Vec<Push>) {
        self.mm3_message(from, rcpts, message)
    }

    fn after(&self, pushes: Vec<Push>) {
        self.dispatch(pushes);
    }

    fn starttls(&self) -> Option<std::sync::Arc<rustls::ServerConfig>> {
        if self.s.has_fault("mm3-starttls-not-offered") {
            return None;
        }
        self.s.tls.as_ref().and_then(|t| t.server_config().ok())
    }

    fn fault(&self, name: &str) -> bool {
        self.s.has_fault(name)
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
            secure: false,
        };
        let size = {
            let mut v = Vec::new();
            stored.body.encode(&mut v);
            v.len() as u64
        };
        let _ = sender;
        let mut pushes = Vec::new();
        for (number, addr) in numbers.iter().zip(&stored.to) {
            let (_, notification) = self.new_copy(&stored, addr, size);
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
        super::lock(&self.store)
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
