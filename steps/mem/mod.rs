//! MEM outband notification carried by MMS (seed 004 §6.2.1): a MEM server
//! sends the notification as an SMTP message with `Applic-ID: MEM` to the
//! MMS server (MM3), which maps it to an MM with X-Mms-Applic-ID and
//! delivers it by the ordinary MMS flow.
//!
//! - `mms-relay` SUTs: the harness is the MEM server on the relay's MM3
//!   interface (SMTP client) and, through the mms-relay steps, every
//!   terminal the relay pushes to and the MMS client that retrieves the MM.
//! - `mem-server` SUTs: the harness makes new mail arrive in the user's
//!   mailbox (SMTP to the server, or the profile's command) and is the MMS
//!   server's MM3 interface the notification must reach (SMTP server).
//!
//! Everything is judged from the raw bytes: the SMTP replies as they came,
//! the message as the MM3 server framed it, the MMS PDUs' header octets.

use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::emn;
use crate::codec::escape_bytes;
use crate::codec::mail::{iso8601_utc, rfc5322_date, Mail, MailBuilder};
use crate::codec::mms::{Body, Header, Pdu};
use crate::codec::sip::token;
use crate::harness::Mm3Harness;
use crate::profile::MemServerSection;
use crate::roles::smtp_client::{self, Dialogue, Step, Transaction};
use crate::roles::smtp_server::{Attribution, Notification, Received};
use crate::steps::mms::mms_relay::{self as relay, Kind, User};
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// The message the harness sent over MM3, as the relay should map it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Vec<u8>,
    pub from: String,
    pub subject: String,
    pub date: u64,
    pub message_id: String,
    pub media: String,
    pub body: Vec<u8>,
    /// The Applic-ID family lines sent, as (field code, value).
    pub applic: Vec<(u8, String)>,
}

/// Per-scenario MEM state.
#[derive(Default)]
pub struct Mem {
    pub sent: Option<Sent>,
    pub dialogue: Option<Dialogue>,
    /// mem-server: the last new message delivered.
    pub delivered: Option<Delivery>,
    /// mem-server: this scenario's new-mail events (indices in the run's ledger).
    pub events: Vec<usize>,
    /// mem-server: the event of new mail in the other mailbox.
    pub other: Option<usize>,
    /// mem-server: the notification found for it.
    pub notification: Option<Received>,
    /// mem-server: when the scenario began watching the MM3 interface.
    pub since: Option<Instant>,
}

/// mem-server: new mail the harness made arrive.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When the harness began delivering it.
    pub began: Instant,
    /// When the server accepted it.
    pub accepted: Instant,
    pub mailbox: String,
    /// Its index in the MM3 harness's ledger.
    pub event: usize,
}

const FROM: &str = "mem-server@mail.liaison.test";
const MEDIA: &str = "text/vnd.wap.emn+xml";

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// mms-relay: the harness as MEM server on MM3
// ---------------------------------------------------------------------------

/// The header lines a scenario names (`"Applic-ID: MEM"`, …), split.
fn header_lines(list: &str) -> Vec<String> {
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn applic_code(name: &str) -> Option<u8> {
    match name.to_ascii_lowercase().as_str() {
        "applic-id" | "x-mms-applic-id" => Some(0xB7),
        "reply-applic-id" | "x-mms-reply-applic-id" => Some(0xB8),
        "aux-applic-info" | "x-mms-aux-applic-info" => Some(0xB9),
        _ => None,
    }
}

/// How the scenario's message departs from a plain notification.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Plain,
    Malformed,
    Oversized,
    NoRecipient,
}

async fn send_mm3(w: &mut LiaisonWorld, lines: Vec<String>, variant: Variant) -> StepResult {
    send_mm3_over(w, lines, variant, false).await
}

async fn send_mm3_over(
    w: &mut LiaisonWorld,
    lines: Vec<String>,
    variant: Variant,
    starttls: bool,
) -> StepResult {
    let s = relay::section(w)?;
    let Some(mm3) = s.mm3 else {
        return Err(w.fail(
            "mms_relay.mm3 (the relay's MM3 SMTP address) in the profile",
            "none",
        ));
    };
    let starttls = if starttls {
        let t = crate::steps::sip::run_tls(w)?;
        Some(smtp_client::StartTls {
            client: t.client.clone(),
            server_name: t.server_name_for(mm3),
        })
    } else {
        None
    };
    let n = relay::number();
    let recipient = User {
        kind: Kind::Msisdn,
        address: format!("+{n}/TYPE=PLMN"),
        uri: None,
        number: n.clone(),
    };
    let rcpt = format!("+{n}/TYPE=PLMN@{}", s.mm3_domain());
    let id = token();
    let date = now_secs().saturating_sub(3600);
    let subject = format!("liaison MEM notification {id}");
    let message_id = format!("mem-{id}@mail.liaison.test");
    // The scenario's keys at the relay's bearers, before the relay can push:
    // the recipient's number (the notification goes to it), the token the
    // message carries (its Subject and Message-ID name it).
    relay::claim(w, &n);
    relay::claim(w, &id);
    // CRLF line ends, a non-ASCII character, and a line that starts with a
    // dot (dot-stuffed on the wire): any change of a byte shows.
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<emn mailbox=\"mailat:bob@mail.liaison.test\" timestamp=\"{}\"/>\r\n<!--\r\n.liaison {id}: caf\u{e9}\r\n-->\r\n",
        iso8601_utc(date)
    )
    .into_bytes();
    if variant == Variant::Oversized {
        let limit = s.mm3_max_size.unwrap_or(0) as usize;
        let filler = "<!-- liaison filler line to exceed the relay's declared size limit -->\r\n";
        while body.len() <= limit + 1024 {
            body.extend_from_slice(filler.as_bytes());
        }
    }
    let mut b = MailBuilder::new()
        .header("From", &format!("MEM server <{FROM}>"))
        .header("To", &format!("<{rcpt}>"))
        .header("Subject", &subject)
        .header("Date", &rfc5322_date(date))
        .header("Message-ID", &format!("<{message_id}>"));
    if variant == Variant::Malformed {
        b = b.raw_line(format!("Malformed header line without a colon {id}").as_bytes());
    }
    b = b
        .header("MIME-Version", "1.0")
        .header("Content-Type", &format!("{MEDIA}; charset=utf-8"))
        .header("Content-Transfer-Encoding", "8bit");
    let mut applic = Vec::new();
    for l in &lines {
        b = b.raw_line(l.as_bytes());
        if let Some((name, value)) = l.split_once(':')
            && let Some(code) = applic_code(name.trim())
        {
            applic.push((code, value.trim().to_string()));
        }
    }
    let message = b.body(&body).build();
    // The SIP device takes pushes for the number too (a relay may use it).
    if let Ok(h) = relay::harness(w)
        && let Some(ims) = &h.sip
    {
        ims.set_answer(
            &n,
            crate::roles::ua::Answer::Respond {
                code: 200,
                delay: Duration::ZERO,
            },
        );
    }
    let t = Transaction {
        helo: "mem.liaison.test".into(),
        from: FROM.into(),
        to: if variant == Variant::NoRecipient {
            Vec::new()
        } else {
            vec![rcpt]
        },
        message: message.clone(),
        data_without_recipients: variant == Variant::NoRecipient,
    };
    let d = smtp_client::send(mm3, w.capture.clone(), &t, w.deadline, starttls.as_ref()).await;
    w.mms_relay.recipients = vec![recipient];
    w.mem.sent = Some(Sent {
        message,
        from: FROM.into(),
        subject,
        date,
        message_id,
        media: MEDIA.into(),
        body,
        applic,
    });
    w.mem.dialogue = Some(d);
    Ok(())
}

#[when(
    regex = r#"^a MEM server sends the relay by SMTP a notification with ("[^"]+"(?:(?:, | and )"[^"]+")*)$"#
)]
async fn mem_sends(w: &mut LiaisonWorld, list: String) -> StepResult {
    send_mm3(w, header_lines(&list), Variant::Plain).await
}

#[when(
    regex = r#"^a MEM server sends the relay by SMTP over STARTTLS a notification with ("[^"]+"(?:(?:, | and )"[^"]+")*)$"#
)]
async fn mem_sends_starttls(w: &mut LiaisonWorld, list: String) -> StepResult {
    send_mm3_over(w, header_lines(&list), Variant::Plain, true).await
}

#[when(
    regex = r#"^a MEM server sends the relay by SMTP a notification with ("[^"]+") (and a malformed header line|larger than the relay's MM3 size limit|but no recipient)$"#
)]
async fn mem_sends_bad(w: &mut LiaisonWorld, list: String, how: String) -> StepResult {
    let v = match how.as_str() {
        "and a malformed header line" => Variant::Malformed,
        "but no recipient" => Variant::NoRecipient,
        _ => Variant::Oversized,
    };
    send_mm3(w, header_lines(&list), v).await
}

#[when("a mail server sends the relay by SMTP a plain message without Applic-ID")]
async fn plain_mail(w: &mut LiaisonWorld) -> StepResult {
    send_mm3(w, Vec::new(), Variant::Plain).await
}

fn dialogue(w: &LiaisonWorld) -> Result<Dialogue, Failure> {
    w.mem.dialogue.clone().ok_or_else(|| {
        w.fail(
            "an SMTP dialogue with the relay's MM3 earlier in the scenario",
            "none",
        )
    })
}

fn sent(w: &LiaisonWorld) -> Result<Sent, Failure> {
    w.mem
        .sent
        .clone()
        .ok_or_else(|| w.fail("a message sent over MM3 earlier in the scenario", "none"))
}

#[then("the relay accepts the message with 250 after its content")]
async fn accepted(w: &mut LiaisonWorld) -> StepResult {
    let d = dialogue(w)?;
    let expected = "an SMTP dialogue that takes the message (RFC 5321 §3.3): 220 greeting, 250 to EHLO (or HELO), 250 to MAIL and RCPT, 354 to DATA, 250 after the content";
    if d.accepted()
        && d.steps_for("RCPT")
            .all(|s| s.code().is_some_and(|c| c / 100 == 2))
    {
        return Ok(());
    }
    Err(w.fail(expected, d.describe()))
}

#[then(
    "the relay offers STARTTLS, answers it with 220, and inside TLS does not offer it again and accepts the message with 250"
)]
async fn accepted_over_starttls(w: &mut LiaisonWorld) -> StepResult {
    let d = dialogue(w)?;
    let bad = |w: &LiaisonWorld, expected: &str| Err(w.fail(expected, d.describe()));
    let clear_ehlo = d.steps.iter().find(|s| s.what == "EHLO" && !s.tls);
    let offered = clear_ehlo
        .and_then(|s| s.reply.as_ref().ok())
        .is_some_and(|r| r.positive() && r.ehlo_keywords().iter().any(|k| k == "STARTTLS"));
    if !offered {
        return bad(w, "STARTTLS listed in the relay's EHLO reply in the clear (mms_relay.mm3_starttls declares that it offers it)");
    }
    if d.step("STARTTLS").and_then(Step::code) != Some(220) {
        return bad(
            w,
            "220 to STARTTLS, then the TLS handshake on the same connection (RFC 3207 §4)",
        );
    }
    if d.tls.is_none() {
        return bad(w, "the TLS handshake completed after the 220 to STARTTLS, the relay's certificate checked as the profile's tls section says (RFC 3207 §4)");
    }
    let inner = d.steps.iter().find(|s| s.what == "EHLO" && s.tls);
    match inner.and_then(|s| s.reply.as_ref().ok()) {
        Some(r) if r.positive() && !r.ehlo_keywords().iter().any(|k| k == "STARTTLS") => {}
        Some(r) if r.positive() => {
            return bad(w, "an EHLO reply inside TLS that does not list STARTTLS: after the handshake the session starts over and STARTTLS is no longer offered (RFC 3207 §4.2)")
        }
        _ => {
            return bad(w, "250 to EHLO sent inside TLS: after the handshake the relay forgets what it learned in the clear and takes a new EHLO (RFC 3207 §4.2)")
        }
    }
    let content = d.step("content");
    if content.is_some_and(|s| s.tls) && d.accepted() {
        return Ok(());
    }
    bad(w, "MAIL, RCPT, DATA and the content inside TLS, the message accepted with 250 after its content (RFC 5321 §3.3)")
}

#[then("the relay refuses the DATA or the message with an SMTP error reply")]
async fn refuses_without_recipient(w: &mut LiaisonWorld) -> StepResult {
    let d = dialogue(w)?;
    let data = d.step("DATA").and_then(|s| s.code());
    let fin = d.final_reply().map(|r| r.code);
    let expected = "MAIL, then DATA with no RCPT: DATA refused with 503 or 554 (RFC 5321 §3.3, §4.1.1.4), or — if the server answered 354 — the content refused with a 4xx/5xx reply, never 250";
    let refused = match (data, fin) {
        (Some(c), _) if (400..600).contains(&c) => true,
        (Some(354), Some(f)) => (400..600).contains(&f),
        _ => false,
    };
    if refused {
        return Ok(());
    }
    Err(w.fail(expected, d.describe()))
}

#[then("the relay answers the message with an SMTP error reply, or delivers it")]
async fn error_or_delivered(w: &mut LiaisonWorld) -> StepResult {
    let d = dialogue(w)?;
    let refused_early = d.steps.iter().any(|s| {
        matches!(s.what.as_str(), "MAIL" | "RCPT" | "DATA") && s.code().is_some_and(|c| c >= 400)
    });
    match d.final_reply() {
        Some(r) if r.negative() => return Ok(()),
        None if refused_early => return Ok(()),
        Some(r) if r.positive() => {}
        _ => {
            return Err(w.fail(
                "a reply to the message: a 4xx/5xx SMTP error, or 250 and the MM delivered",
                d.describe(),
            ))
        }
    }
    // Taken with 250: the relay has taken responsibility for it (RFC 5321
    // §6.1), so the MM must reach the recipient.
    let u = w.mms_relay.recipients.first().cloned();
    match relay::notification(w, 0).await {
        Ok(_) => Ok(()),
        Err(_) => Err(w.fail(
            format!(
                "after 250 to the message, its MM delivered: a notification pushed to {} (RFC 5321 §6.1: a server that answers 250 must deliver or report the failure; a silent drop is neither)",
                u.map(|u| u.address).unwrap_or_default()
            ),
            format!(
                "no notification within the scenario time — SMTP: {} — pushes: {}",
                d.describe(),
                relay::describe_pushes(w, &relay::all_pushes(w))
            ),
        )),
    }
}

/// The header octets of a field in a parsed PDU, in order.
fn octets_of(p: &Pdu, code: u8) -> Vec<Vec<u8>> {
    p.received_headers()
        .iter()
        .filter(|(_, raw)| raw.first() == Some(&code))
        .map(|(_, raw)| raw.clone())
        .collect()
}

fn text_string(code: u8, value: &str) -> Vec<u8> {
    let mut v = vec![code];
    if value.as_bytes().first().is_some_and(|&b| b >= 0x80) {
        v.push(0x7F);
    }
    v.extend_from_slice(value.as_bytes());
    v.push(0);
    v
}

/// Judges that `p` carries exactly `want` for field `code` (one occurrence,
/// a Text-string).
fn carries(w: &LiaisonWorld, what: &str, p: &Pdu, code: u8, name: &str, want: &str) -> StepResult {
    let expected_octets = text_string(code, want);
    let got = octets_of(p, code);
    if got.len() == 1 && got[0] == expected_octets {
        return Ok(());
    }
    let elsewhere: Vec<String> = p
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Text(f, t) if t == want && f.0 != code & 0x7F => {
                Some(format!("{t:?} under field 0x{:02X}", f.0 | 0x80))
            }
            _ => None,
        })
        .collect();
    Err(w.fail(
        format!(
            "{what} with {name} {want:?} as field 0x{code:02X}, a Text-string: exactly the octets {} (OMA MMS ENC 1.3 §7.3)",
            escape_bytes(&expected_octets, 80)
        ),
        format!(
            "{} — {}{}",
            if got.is_empty() {
                format!("no field 0x{code:02X}")
            } else {
                format!(
                    "field 0x{code:02X} as {}",
                    got.iter()
                        .map(|g| escape_bytes(g, 80))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            },
            p.view().replace('\n', "; "),
            if elsewhere.is_empty() {
                String::new()
            } else {
                format!(" (the value appears as {})", elsewhere.join(", "))
            }
        ),
    ))
}

#[then(
    regex = r#"^the recipient's notification carries X-Mms-Applic-ID "([^"]+)" as field 0xB7 Text-string$"#
)]
async fn notification_applic(w: &mut LiaisonWorld, v: String) -> StepResult {
    let (_, n) = relay::notification(w, 0).await?;
    carries(w, "the M-Notification.ind", &n, 0xB7, "X-Mms-Applic-ID", &v)
}

#[then(regex = r#"^the retrieved MM carries X-Mms-Applic-ID "([^"]+)" as field 0xB7 Text-string$"#)]
async fn retrieved_applic(w: &mut LiaisonWorld, v: String) -> StepResult {
    let r = relay::retrieved(w)?;
    carries(w, "the M-Retrieve.conf", &r, 0xB7, "X-Mms-Applic-ID", &v)
}

#[then("the notification and the retrieved MM carry X-Mms-Reply-Applic-ID and X-Mms-Aux-Applic-Info as sent")]
async fn reply_aux(w: &mut LiaisonWorld) -> StepResult {
    let s = sent(w)?;
    let (_, n) = relay::notification(w, 0).await?;
    let r = relay::retrieved(w)?;
    for (code, name) in [
        (0xB8, "X-Mms-Reply-Applic-ID"),
        (0xB9, "X-Mms-Aux-Applic-Info"),
    ] {
        let want = s
            .applic
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| w.fail(format!("a {name} line in the message sent"), "none"))?;
        carries(w, "the M-Notification.ind", &n, code, name, &want)?;
        carries(w, "the M-Retrieve.conf", &r, code, name, &want)?;
    }
    Ok(())
}

#[then("neither the notification nor the retrieved MM carries X-Mms-Applic-ID, X-Mms-Reply-Applic-ID or X-Mms-Aux-Applic-Info")]
async fn nothing_invented(w: &mut LiaisonWorld) -> StepResult {
    let (_, n) = relay::notification(w, 0).await?;
    let r = relay::retrieved(w)?;
    for (what, p) in [("M-Notification.ind", &n), ("M-Retrieve.conf", &r)] {
        let found: Vec<String> = [0xB7u8, 0xB8, 0xB9]
            .iter()
            .flat_map(|&c| octets_of(p, c))
            .map(|o| escape_bytes(&o, 80))
            .collect();
        if !found.is_empty() {
            return Err(w.fail(
                format!("an ordinary MM for a message without Applic-ID: no field 0xB7, 0xB8 or 0xB9 in the {what}"),
                format!("{} — {}", found.join(", "), p.view().replace('\n', "; ")),
            ));
        }
    }
    Ok(())
}

/// The content of an MM: the single body, or the only part of a multipart one.
fn content_of(p: &Pdu) -> Option<(String, Option<u32>, Vec<u8>)> {
    match p.body.as_ref()? {
        Body::Single(b) => {
            let ct = p.content_type()?;
            Some((ct.media.label(), ct.charset(), b.clone()))
        }
        Body::Multipart(parts) if parts.len() == 1 => {
            let part = &parts[0];
            Some((
                part.content_type.media.label(),
                part.content_type.charset(),
                part.data.clone(),
            ))
        }
        Body::Multipart(_) => None,
    }
}

#[then("the retrieved MM's content is the message body byte for byte, with its content type")]
async fn content_exact(w: &mut LiaisonWorld) -> StepResult {
    let s = sent(w)?;
    let r = relay::retrieved(w)?;
    let expected = format!(
        "the M-Retrieve.conf's content (its body, or its only part) equal to the {} octets of the message body, of type {} with charset utf-8 (106)",
        s.body.len(),
        s.media
    );
    let Some((media, charset, data)) = content_of(&r) else {
        return Err(w.fail(
            expected,
            format!("no single content — {}", r.view().replace('\n', "; ")),
        ));
    };
    let mut diffs = Vec::new();
    if !media.eq_ignore_ascii_case(&s.media) {
        diffs.push(format!("content type {media}"));
    }
    if charset != Some(106) {
        diffs.push(format!("charset {charset:?}"));
    }
    if data != s.body {
        let at = data
            .iter()
            .zip(&s.body)
            .position(|(a, b)| a != b)
            .unwrap_or(data.len().min(s.body.len()));
        diffs.push(format!(
            "{} octets, first difference at octet {at}: {} (sent {})",
            data.len(),
            escape_bytes(data.get(at..).unwrap_or_default(), 60),
            escape_bytes(s.body.get(at..).unwrap_or_default(), 60)
        ));
    }
    if diffs.is_empty() {
        return Ok(());
    }
    Err(w.fail(expected, diffs.join("; ")))
}

fn addr_spec(text: &str) -> String {
    let t = text.trim();
    let inner = match (t.rfind('<'), t.rfind('>')) {
        (Some(a), Some(b)) if a < b => &t[a + 1..b],
        _ => t,
    };
    inner.trim().to_ascii_lowercase()
}

#[then("the retrieved MM maps From, To, Subject and Date from the message")]
async fn headers_mapped(w: &mut LiaisonWorld) -> StepResult {
    let s = sent(w)?;
    let u = w
        .mms_relay
        .recipients
        .first()
        .cloned()
        .ok_or_else(|| w.fail("a recipient", "none"))?;
    let r = relay::retrieved(w)?;
    let mut diffs = Vec::new();
    let from = relay::text_of(&r);
    if from.as_deref().map(addr_spec) != Some(s.from.to_ascii_lowercase()) {
        diffs.push(format!("From {from:?}"));
    }
    let to: Vec<String> = r.to().into_iter().map(|e| e.text.clone()).collect();
    let rcpt_mail = format!("{}@", u.address);
    if !to
        .iter()
        .any(|t| *t == u.address || t.starts_with(&rcpt_mail))
    {
        diffs.push(format!("To {to:?}"));
    }
    let subject = r.subject().map(|e| e.text.clone());
    if subject.as_deref() != Some(s.subject.as_str()) {
        diffs.push(format!("Subject {subject:?}"));
    }
    if r.date() != Some(s.date) {
        diffs.push(format!("Date {:?}", r.date()));
    }
    if diffs.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "the M-Retrieve.conf with From naming {}, To {} (the recipient), Subject {:?} and Date {} (the message's, 3GPP TS 23.140 MM3 mapping; RFC 4356)",
            s.from, u.address, s.subject, s.date
        ),
        format!("{} — {}", diffs.join(", "), r.view().replace('\n', "; ")),
    ))
}

#[then("the retrieved MM's Message-ID is the message's")]
async fn message_id_mapped(w: &mut LiaisonWorld) -> StepResult {
    let s = sent(w)?;
    let r = relay::retrieved(w)?;
    let got = r.message_id().map(str::to_string);
    let want = s.message_id.clone();
    if got.as_deref() == Some(want.as_str()) || got.as_deref() == Some(&format!("<{want}>")) {
        return Ok(());
    }
    Err(w.fail(
        format!("the M-Retrieve.conf's Message-ID (0x8B) equal to the message's msg-id {want} (with or without its angle brackets)"),
        format!("Message-ID {got:?} — {}", r.view().replace('\n', "; ")),
    ))
}

#[then("the recipient's retrieval and its M-NotifyResp.ind were answered")]
async fn retrieval_done(w: &mut LiaisonWorld) -> StepResult {
    relay::retrieved(w).map(|_| ())
}

// ---------------------------------------------------------------------------
// mem-server: the harness as the MMS server's MM3 interface
// ---------------------------------------------------------------------------

fn mm3(w: &LiaisonWorld) -> Result<std::sync::Arc<Mm3Harness>, Failure> {
    w.ctx.mem_server.clone().ok_or_else(|| {
        w.fail(
            "the harness MM3 interface of a mem-server (profile section mem_server)",
            "none",
        )
    })
}

fn mem_section(w: &LiaisonWorld) -> Result<MemServerSection, Failure> {
    w.ctx
        .profile
        .mem_server
        .clone()
        .ok_or_else(|| w.fail("a mem_server section in the profile", "none"))
}

#[given("the harness plays the MMS server's MM3 interface")]
async fn plays_mm3(w: &mut LiaisonWorld) -> StepResult {
    let h = mm3(w)?;
    w.serve("mm3", &h.capture)?;
    // In the clear unless the scenario says otherwise (the interface is
    // the scenario's alone, @harness:mm3).
    h.server.offer_starttls(None);
    w.mem.since = Some(Instant::now());
    Ok(())
}

#[given("the MM3 interface offers STARTTLS")]
async fn offers_starttls(w: &mut LiaisonWorld) -> StepResult {
    let h = mm3(w)?;
    let tls = w.ctx.tls.clone().ok_or_else(|| {
        w.fail(
            "the run's TLS (a profile that declares mem_server.starttls gets a lab CA and a harness certificate)",
            "none",
        )
    })?;
    h.server.offer_starttls(Some(tls.server.clone()));
    Ok(())
}

/// This scenario, as failure texts name it: its pcap, or its requirements.
fn scenario_label(w: &LiaisonWorld) -> String {
    w.pcap
        .as_deref()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| w.requirements.join(" "))
}

#[when(regex = r"^a new message arrives in the (user's|other) mailbox$")]
async fn new_mail(w: &mut LiaisonWorld, which: String) -> StepResult {
    let s = mem_section(w)?;
    let h = mm3(w)?;
    let mailbox = if which == "user's" {
        s.mailbox.clone()
    } else {
        s.other_mailbox
            .clone()
            .ok_or_else(|| w.fail("mem_server.other_mailbox in the profile", "none"))?
    };
    let id = token();
    let message = MailBuilder::new()
        .header("From", "Alice <alice@sender.liaison.test>")
        .header("To", &format!("<{mailbox}>"))
        .header("Subject", &format!("liaison new mail {id}"))
        .header("Date", &rfc5322_date(now_secs()))
        .header("Message-ID", &format!("<new-{id}@sender.liaison.test>"))
        .body(format!("A new message for {mailbox} ({id}).\r\n").as_bytes())
        .build();
    let began = Instant::now();
    // A notification can only be about mail whose content the server had
    // been sent: the mail must be accepted (250 after the content, RFC 5321
    // §6.1), and a notification that completed before the harness sent the
    // content is premature. Its 250 and the notification come on two
    // connections, so their order at the harness within a fraction of a
    // millisecond says nothing about the server's: the content's sending is
    // the bound the harness can be sure of.
    let accepted = if let Some(inbox) = s.inbox {
        let t = Transaction {
            helo: "sender.liaison.test".into(),
            from: "alice@sender.liaison.test".into(),
            to: vec![mailbox.clone()],
            message,
            data_without_recipients: false,
        };
        let d = smtp_client::send(inbox, w.capture.clone(), &t, w.deadline, None).await;
        match d.content_sent_at() {
            Some(at) => at,
            None => return Err(w.fail(
                format!("the MEM server taking new mail for {mailbox} at mem_server.inbox {inbox} (250 after the content), so that a new-message event happens"),
                d.describe(),
            )),
        }
    } else if let Some(cmd) = &s.deliver_command {
        // When the command's hand-over was accepted is not seen: a server
        // may notify before the command has exited, so only notifications
        // completed before the command started are out.
        deliver_by_command(w, cmd, &mailbox, &message).await?;
        began
    } else {
        began
    };
    let event = h.mail_arrived(&mailbox, accepted, &scenario_label(w));
    w.mem.delivered = Some(Delivery {
        began,
        accepted,
        mailbox,
        event,
    });
    w.mem.events.push(event);
    w.mem.notification = None;
    Ok(())
}

async fn deliver_by_command(
    w: &LiaisonWorld,
    cmd: &[String],
    mailbox: &str,
    message: &[u8],
) -> StepResult {
    use tokio::io::AsyncWriteExt;
    let expected = format!(
        "mem_server.deliver_command {cmd:?} exiting 0 after taking the new message for {mailbox} on its standard input"
    );
    let mut child = tokio::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("LIAISON_MAILBOX", mailbox)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| w.fail(&expected, format!("cannot start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(message).await;
    }
    let left = w.deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, child.wait_with_output()).await {
        Ok(Ok(o)) if o.status.success() => Ok(()),
        Ok(Ok(o)) => Err(w.fail(
            &expected,
            format!("{} — stderr: {}", o.status, escape_bytes(&o.stderr, 300)),
        )),
        Ok(Err(e)) => Err(w.fail(&expected, e.to_string())),
        Err(_) => Err(w.fail(&expected, "it did not exit within the scenario time")),
    }
}

/// Milliseconds from `from` to `to`, signed, for failure texts.
fn ms_between(from: Instant, to: Instant) -> String {
    if to >= from {
        format!("{:.1} ms after", (to - from).as_secs_f64() * 1000.0)
    } else {
        format!("{:.1} ms before", (from - to).as_secs_f64() * 1000.0)
    }
}

/// What a notification is, from this scenario's point of view.
fn describe_notification(
    w: &LiaisonWorld,
    n: &Notification,
    events: &[crate::roles::smtp_server::MailEvent],
) -> String {
    let ours = |i: usize| w.mem.events.contains(&i);
    let about = |i: usize| {
        let e = &events[i];
        let whose = if ours(i) {
            "this scenario".to_string()
        } else {
            format!("scenario {}", e.scenario)
        };
        format!("new mail in {} ({whose})", e.mailbox)
    };
    let what = match n.attribution {
        Attribution::For(i) => format!("the notification of {}", about(i)),
        Attribution::Repeat(i) => format!("another notification of {}", about(i)),
        Attribution::Unsolicited => {
            "a notification of no mail sent to the server before it".to_string()
        }
    };
    let when = match &w.mem.delivered {
        Some(d) => format!(
            "completed {} the harness sent the new mail for {}",
            ms_between(d.accepted, n.received.at),
            d.mailbox
        ),
        None => String::new(),
    };
    let named = match &n.named {
        Some(m) => format!("payload names {m}"),
        None => "payload names no mailbox the suite can read".to_string(),
    };
    format!("[{what}; {when}; {named}] {}", n.received.describe())
}

/// Everything this scenario saw on the MM3 interface, each notification to
/// the user's MMS address with the mail it is matched to.
fn describe_mm3(w: &LiaisonWorld, h: &Mm3Harness, s: &MemServerSection) -> String {
    let since = w.mem.since.unwrap_or(w.started);
    let events = h.events();
    let ours: Vec<Notification> = h
        .notifications(&s.notify_to, s.payload() == "emn")
        .into_iter()
        .filter(|n| n.received.at >= since)
        .collect();
    let mut lines: Vec<String> = ours
        .iter()
        .map(|n| describe_notification(w, n, &events))
        .collect();
    for r in h.server.log_since(since) {
        if !r
            .rcpt_to
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&s.notify_to))
        {
            lines.push(format!(
                "[to {:?}, not the user's MMS address] {}",
                r.rcpt_to,
                r.describe()
            ));
        }
    }
    lines.extend(h.server.events_since(since));
    if lines.is_empty() {
        return "nothing reached the MM3 interface".into();
    }
    lines.join(" | ")
}

/// The notification of the last new message: the first mail transaction to
/// `notify_to` matched to it (completed after the mail's content was sent; by the
/// mailbox its EMN payload names, else by time), waited for.
async fn notification(w: &mut LiaisonWorld) -> Result<Received, Failure> {
    let s = mem_section(w)?;
    notification_by(w, s.payload() == "emn").await
}

/// [`notification`], matched by the mailbox the payload names only with
/// `read_names` (else by time: a step that judges how the notification
/// travelled, not what it says).
async fn notification_by(w: &mut LiaisonWorld, read_names: bool) -> Result<Received, Failure> {
    if let Some(n) = &w.mem.notification {
        return Ok(n.clone());
    }
    let s = mem_section(w)?;
    let h = mm3(w)?;
    let d = w
        .mem
        .delivered
        .clone()
        .ok_or_else(|| w.fail("a new message delivered earlier in the scenario", "none"))?;
    let find = || {
        h.notifications(&s.notify_to, read_names)
            .into_iter()
            .find(|n| n.attribution == Attribution::For(d.event))
            .map(|n| n.received)
    };
    h.server.wait_for(w.deadline, |_| find().is_some()).await;
    match find() {
        Some(r) => {
            w.mem.notification = Some(r.clone());
            Ok(r)
        }
        None => {
            h.close(d.event);
            Err(w.fail(
                format!(
                    "after new mail for {} (accepted {} the scenario began watching), an SMTP mail transaction to the MM3 interface at {} with RCPT TO:<{}> (the user's MMS address) and the notification as its message, ended by 250 (seed 004 §6.2.1, ME3; RFC 5321 §3.3) — counted only for mail the server accepted (250 after the content) and only if it completed after the harness sent that mail's content, and, with an EMN payload, for the mailbox it names",
                    d.mailbox,
                    ms_between(w.mem.since.unwrap_or(d.began), d.accepted),
                    h.server.addr(),
                    s.notify_to
                ),
                format!("within the scenario time: {}", describe_mm3(w, &h, &s)),
            ))
        }
    }
}

#[then("the MEM server sends a complete SMTP mail transaction to the MM3 interface for the user's MMS address")]
async fn sends_transaction(w: &mut LiaisonWorld) -> StepResult {
    let n = notification(w).await?;
    let mail = Mail::parse(&n.message);
    if mail.raw_body().iter().any(|b| !b.is_ascii_whitespace()) {
        return Ok(());
    }
    Err(w.fail(
        "the notification message with a body that holds the notification payload (seed 004 §6.2.1)",
        format!("an empty body — {}", n.describe()),
    ))
}

#[then("the MEM server's notification has the header field Applic-ID with the value MEM")]
async fn has_applic(w: &mut LiaisonWorld) -> StepResult {
    let n = notification(w).await?;
    let mail = Mail::parse(&n.message);
    let fields: Vec<_> = mail.fields_named("Applic-ID").collect();
    if fields.len() == 1 && fields[0].value == "MEM" {
        return Ok(());
    }
    let near: Vec<String> = mail
        .fields
        .iter()
        .filter(|f| f.name.to_ascii_lowercase().contains("applic"))
        .map(|f| escape_bytes(&f.raw, 100))
        .collect();
    Err(w.fail(
        "one header field Applic-ID whose value is exactly MEM (seed 004 §6.2.1, para 3)",
        format!(
            "{} — message: {}",
            if near.is_empty() {
                "no Applic-ID field".to_string()
            } else {
                format!("fields {}", near.join(", "))
            },
            mail.describe()
        ),
    ))
}

fn iso_timestamp_ok(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b[19] == b'Z'
        && b[10] == b'T'
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit())
}

#[then("the notification's body is an OMA EMN document whose mailbox attribute names the user's mailbox")]
async fn emn_payload(w: &mut LiaisonWorld) -> StepResult {
    let s = mem_section(w)?;
    let n = notification(w).await?;
    let mail = Mail::parse(&n.message);
    let expected = format!(
        "the declared payload (mem_server.payload emn) as the message's content, declared Content-Type {} (OMA-TS-Push_EMN-V1_0, the textual EMN): a well-formed XML document (XML 1.0 §2.1) whose root element is <emn mailbox=\"mailat:{}\" …/> (or an IMAP/POP URL of that mailbox), with a timestamp, if any, in the form 2002-04-16T06:40:00Z",
        emn::MEDIA_TYPE,
        s.mailbox
    );
    let (media, _) = mail.content_type();
    if !media.eq_ignore_ascii_case(emn::MEDIA_TYPE) {
        let declared = mail
            .field("Content-Type")
            .map(|f| escape_bytes(&f.raw, 120))
            .unwrap_or_else(|| {
                "no Content-Type field (text/plain by default, RFC 2045 §5.2)".into()
            });
        return Err(w.fail(
            &expected,
            format!("{declared} — body: {}", escape_bytes(mail.raw_body(), 300)),
        ));
    }
    let Some(body) = mail.decoded_body() else {
        return Err(w.fail(
            &expected,
            format!(
                "a body that its Content-Transfer-Encoding {:?} does not decode — body: {}",
                mail.transfer_encoding(),
                escape_bytes(mail.raw_body(), 300)
            ),
        ));
    };
    let doc = emn::read(&body).map_err(|why| {
        w.fail(
            &expected,
            format!("{why} — body: {}", escape_bytes(&body, 300)),
        )
    })?;
    let mailbox = doc.mailbox();
    let ts = doc.attribute("timestamp");
    let ok_box = mailbox.is_some_and(|m| emn::names_mailbox(m, &s.mailbox));
    let ok_ts = ts.is_none_or(iso_timestamp_ok);
    if ok_box && ok_ts {
        return Ok(());
    }
    Err(w.fail(
        expected,
        format!(
            "mailbox {mailbox:?}, timestamp {ts:?} — body: {}",
            escape_bytes(&body, 300)
        ),
    ))
}

/// Notifications to the user's MMS address matched to the other mailbox's
/// new mail of this scenario (by the mailbox the payload names, else by
/// time), described.
fn for_other_mailbox(
    w: &LiaisonWorld,
    h: &Mm3Harness,
    s: &MemServerSection,
    event: usize,
) -> Vec<String> {
    let events = h.events();
    h.notifications(&s.notify_to, s.payload() == "emn")
        .iter()
        .filter(
            |n| matches!(n.attribution, Attribution::For(i) | Attribution::Repeat(i) if i == event),
        )
        .map(|n| describe_notification(w, n, &events))
        .collect()
}

#[then("no notification reaches the user's MMS address after a pause")]
async fn no_notification(w: &mut LiaisonWorld) -> StepResult {
    let s = mem_section(w)?;
    let h = mm3(w)?;
    let d = w
        .mem
        .delivered
        .clone()
        .ok_or_else(|| w.fail("a new message delivered earlier in the scenario", "none"))?;
    w.mem.other = Some(d.event);
    let pause = relay::settle(w);
    let until = (Instant::now() + pause).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let got = for_other_mailbox(w, &h, &s, d.event);
    if got.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "no notification to the user's MMS address {} for new mail in {}, which is not the user's mailbox (watched {} ms; a notification to another address, e.g. that mailbox's own user, is not judged)",
            s.notify_to,
            d.mailbox,
            pause.as_millis()
        ),
        got.join(" | "),
    ))
}

#[then("no notification of the other mailbox's mail has reached the user's MMS address meanwhile")]
async fn still_none_for_other(w: &mut LiaisonWorld) -> StepResult {
    let s = mem_section(w)?;
    let h = mm3(w)?;
    let Some(event) = w.mem.other else {
        return Err(w.fail(
            "new mail in the other mailbox earlier in the scenario",
            "none",
        ));
    };
    let got = for_other_mailbox(w, &h, &s, event);
    if got.is_empty() {
        return Ok(());
    }
    let mailbox = h
        .events()
        .get(event)
        .map(|e| e.mailbox.clone())
        .unwrap_or_default();
    Err(w.fail(
        format!(
            "no notification to the user's MMS address {} for the new mail in {}, which is not the user's mailbox, up to the user's own notification (matched by the mailbox the EMN payload names, else by time)",
            s.notify_to, mailbox
        ),
        got.join(" | "),
    ))
}

#[then("the MEM server sends its notification over TLS after STARTTLS and starts the session over with EHLO")]
async fn notification_over_tls(w: &mut LiaisonWorld) -> StepResult {
    let s = mem_section(w)?;
    // What its payload names is MEM-3's to judge: matched by time.
    let n = notification_by(w, false).await?;
    let dialogue = n.dialogue.join(" ");
    if n.tls.is_none() {
        return Err(w.fail(
            format!(
                "the notification to {} sent inside TLS: STARTTLS after the MM3 interface listed it in its EHLO reply, the TLS handshake after its 220, then the mail transaction over TLS (mem_server.starttls; RFC 3207 §4)",
                s.notify_to
            ),
            format!(
                "the mail transaction in the clear — commands on that connection: {dialogue} — {}",
                n.describe()
            ),
        ));
    }
    let first = n.tls_dialogue().first().cloned();
    let restarts = first.as_deref().is_some_and(|l| {
        let verb = l.split([' ', '\\']).next().unwrap_or_default();
        verb.eq_ignore_ascii_case("EHLO") || verb.eq_ignore_ascii_case("HELO")
    });
    if restarts {
        return Ok(());
    }
    Err(w.fail(
        "EHLO (or HELO) as the first command inside TLS: after the handshake the SMTP session is back in its state after the greeting, so the client discards what it learned in the clear and greets again before MAIL (RFC 3207 §4.2; RFC 5321 §4.1.4)",
        format!(
            "first command over TLS: {} — commands on that connection: {dialogue}",
            first.unwrap_or_else(|| "none".into())
        ),
    ))
}
