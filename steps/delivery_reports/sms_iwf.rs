//! Delivery reports across SMS–IM interworking (seed 001): the SUT is the
//! interworking function; the harness plays the SMSC (the SUT binds to it)
//! and the IM side (IMS core and recipients). What the SUT tells the SMS side
//! must follow what the IM side did, and only after it happened.

use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::sip::token;
use crate::codec::smpp::{command, registered, state, status, Body, Sm};
use crate::harness::IwfHarness;
use crate::roles::ims_core::{Delivered, LargeKind, LargePolicy};
use crate::roles::smsc::SmppArrival;
use crate::roles::ua::Answer;
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// Per-scenario interworking state.
#[derive(Default)]
pub struct Iwf {
    /// The recipients of this scenario: (number digits, answer).
    pub recipients: Vec<(String, Answer)>,
    /// SMS sent: (deliver_sm sequence number, recipient digits, source digits, text).
    pub sent: Vec<(u32, String, String, Vec<u8>)>,
    /// When the first deliver_sm went out: the SUT's timers run from here.
    pub sent_at: Option<Instant>,
    /// The scenario's claim on the harness's packets that carry its numbers.
    pub claim: Option<crate::net::capture::Claim>,
}

/// The SUT's own T1 and Timer F, as its profile declares them (`iwf.t1_ms`,
/// `iwf.timer_f_ms`; RFC 3261 defaults 500 ms and 64·T1), never the harness's.
fn sut_timers(w: &LiaisonWorld) -> (Duration, Duration) {
    match &w.ctx.profile.iwf {
        Some(i) => (i.sut_t1(), i.sut_timer_f()),
        None => (Duration::from_millis(500), Duration::from_secs(32)),
    }
}

/// How long a negative observation goes on after the last report the SUT
/// was expected to send, and how long a second, conflicting answer is
/// watched for: 4 × the SUT's T1, its round-trip estimate (RFC 3261
/// §17.1.1.1), so what it sends in reaction to the same event is seen.
fn grace(w: &LiaisonWorld) -> Duration {
    sut_timers(w).0 * 4
}

/// The margin past the SUT's Timer F before "it never …" is concluded.
fn margin(w: &LiaisonWorld) -> Duration {
    grace(w).max(Duration::from_millis(500))
}

/// The first SMS the scenario sent: (deliver_sm sequence number, recipient digits).
fn first_sms(w: &LiaisonWorld) -> Result<(u32, String), Failure> {
    w.iwf
        .sent
        .first()
        .map(|s| (s.0, s.1.clone()))
        .ok_or_else(|| w.fail("an SMS sent earlier in the scenario", "none"))
}

fn harness(w: &LiaisonWorld) -> Result<std::sync::Arc<IwfHarness>, Failure> {
    w.ctx.iwf.clone().ok_or_else(|| {
        w.fail(
            "the harness SMSC and IMS core (profile section iwf)",
            "none",
        )
    })
}

/// A number of this scenario's own: made up fresh, and claimed, so the
/// harness's packets that carry it (and their responses, the rest of their
/// calls and MSRP sessions) go to this scenario's pcap.
fn fresh(w: &mut LiaisonWorld, h: &IwfHarness) -> String {
    let n = number();
    let capture = w.capture.clone();
    w.iwf
        .claim
        .get_or_insert_with(|| h.capture.claim(&capture))
        .key(&n);
    n
}

fn number() -> String {
    numbered("1555")
}

/// A fresh 11-digit number (at least) starting with `prefix`.
fn numbered(prefix: &str) -> String {
    let digits: String = token()
        .chars()
        .chain(token().chars())
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'0' + (d % 10) as u8))
        .take(11usize.saturating_sub(prefix.len()).max(4))
        .collect();
    format!("{prefix}{digits}")
}

#[given("the SUT is bound to the harness SMSC")]
async fn bound(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    // Bound, or a bind the harness refused (then there is no point waiting).
    let refused = |log: &[SmppArrival]| {
        log.iter().any(|a| {
            a.pdu.as_ref().is_ok_and(|p| {
                matches!(
                    p.header.command_id,
                    command::BIND_TRANSCEIVER | command::BIND_TRANSMITTER | command::BIND_RECEIVER
                )
            })
        })
    };
    if !h.smsc.bound() {
        h.smsc.wait_for(w.deadline, |log| refused(log), false).await;
        h.smsc
            .wait_for(
                (Instant::now() + w.timers.t1 * 5).min(w.deadline),
                |_| true,
                true,
            )
            .await;
    }
    if h.smsc.bound() {
        // Bound: the scenario lasts at least until the SUT's own Timer F, a
        // margin and a grace have passed, so the profile's scenario timeout
        // does not cut short the watch for what the SUT does when its timer
        // fires (DR-23). (Waiting for a bind keeps the profile's timeout.)
        let (_, f) = sut_timers(w);
        w.deadline = w
            .deadline
            .max(Instant::now() + f + margin(w) + grace(w) + Duration::from_secs(1));
        Ok(())
    } else {
        Err(w.fail(
            format!("the SUT bound to the harness SMSC at {} (bind_transceiver with the profile's credentials)", h.smsc.addr()),
            format!(
                "no bound ESME; what arrived: {}",
                h.smsc.log().iter().map(SmppArrival::describe).collect::<Vec<_>>().join(" | ")
            ),
        ))
    }
}

fn answer_of(code: Option<u16>, w: &LiaisonWorld) -> Answer {
    match code {
        Some(c) => Answer::Respond {
            code: c,
            delay: w.timers.t1 * 2,
        },
        None => Answer::Silent,
    }
}

#[given(expr = "the IM recipient will answer MESSAGE with {int}")]
async fn recipient_answers(w: &mut LiaisonWorld, code: u16) -> StepResult {
    let h = harness(w)?;
    let n = fresh(w, &h);
    let a = answer_of(Some(code), w);
    h.ims.set_answer(&n, a.clone());
    w.iwf.recipients = vec![(n, a)];
    Ok(())
}

/// A recipient the SUT reaches through the core's SIP-over-TLS address
/// (`iwf.ims_core_tls`): a number of `iwf.tls_prefix` when the SUT routes
/// only those there, claimed like any other (the TLS records themselves
/// go to the run-level pcap: ciphertext names no scenario).
#[given(expr = "the IM recipient behind the IMS core's TLS address will answer MESSAGE with {int}")]
async fn recipient_over_tls(w: &mut LiaisonWorld, code: u16) -> StepResult {
    let h = harness(w)?;
    let prefix = w
        .ctx
        .profile
        .iwf
        .as_ref()
        .and_then(|i| i.tls_prefix.clone());
    let n = match prefix {
        Some(p) => numbered(&p),
        None => number(),
    };
    let capture = w.capture.clone();
    w.iwf
        .claim
        .get_or_insert_with(|| h.capture.claim(&capture))
        .key(&n);
    let a = answer_of(Some(code), w);
    h.ims.set_answer(&n, a.clone());
    w.iwf.recipients = vec![(n, a)];
    Ok(())
}

#[given("the IM recipient will not answer MESSAGE")]
async fn recipient_silent(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let n = fresh(w, &h);
    h.ims.set_answer(&n, Answer::Silent);
    w.iwf.recipients = vec![(n, Answer::Silent)];
    Ok(())
}

#[given(expr = "{int} IM recipients answering MESSAGE with 200 and 486 in turn")]
async fn many_recipients(w: &mut LiaisonWorld, count: usize) -> StepResult {
    let h = harness(w)?;
    w.iwf.recipients.clear();
    for i in 0..count {
        let n = fresh(w, &h);
        let a = answer_of(Some(if i % 2 == 0 { 200 } else { 486 }), w);
        h.ims.set_answer(&n, a.clone());
        w.iwf.recipients.push((n, a));
    }
    Ok(())
}

async fn deliver_all(w: &mut LiaisonWorld) -> StepResult {
    deliver_sized(w, Coding::Plain).await
}

/// What the SMS text is and how it is coded (3GPP TS 23.038).
#[derive(Clone, Copy)]
enum Coding {
    /// Letters, digits, spaces and `+`: the same septets in GSM 7-bit as in ASCII.
    Plain,
    /// A long plain text of that many octets, in message_payload (SMPP 3.4 §5.3.2.32).
    Long(usize),
    /// data_coding 0 with characters whose GSM 7-bit septets differ from
    /// their ASCII/Latin-1 octets (§6.2.1), extension table included.
    Gsm7,
    /// data_coding 8 (UCS-2) with characters outside Latin-1 (§6.2.3).
    Ucs2,
}

/// Delivers one SMS per recipient, its text as `coding` says. What the
/// scenario keeps is the text in UTF-8: what the MESSAGE must carry.
async fn deliver_sized(w: &mut LiaisonWorld, coding: Coding) -> StepResult {
    use crate::codec::smpp::{dcs, text};
    let h = harness(w)?;
    let recipients = w.iwf.recipients.clone();
    for (n, _) in recipients {
        let src = fresh(w, &h);
        let tag = &token()[..6];
        let text = match coding {
            Coding::Plain => format!("liaison SMS to +{n} {tag}"),
            Coding::Long(l) => (0..l)
                .map(|i| char::from(b"liaison long SMS 0123456789 "[i % 28]))
                .collect(),
            Coding::Gsm7 => format!("liaison GSM @ £ ¥ è € {{ }} Δ ß ü {tag}"),
            Coding::Ucs2 => format!("liaison UCS-2 Ω Жук 漢字 € ‰ {tag}"),
        };
        let (data_coding, octets) = match coding {
            Coding::Ucs2 => (dcs::UCS2, text::ucs2_encode(&text)),
            _ => (dcs::SMSC_DEFAULT, text::gsm7_encode(&text)),
        };
        let octets = octets.map_err(|c| {
            w.fail(
                format!("a text the coding can carry ({text})"),
                format!("{c:?}"),
            )
        })?;
        let (short, tlvs) = match coding {
            Coding::Long(_) => (
                Vec::new(),
                vec![crate::codec::smpp::Tlv::new(
                    crate::codec::smpp::tlv::MESSAGE_PAYLOAD,
                    &octets,
                )],
            ),
            _ => (octets, Vec::new()),
        };
        let text = text.into_bytes();
        let sm = Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: format!("+{src}"),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: format!("+{n}"),
            // An SMSC receipt and an SME acknowledgement requested (SMPP 3.4 §5.2.17).
            registered_delivery: registered::RECEIPT_ALWAYS | 0x04,
            data_coding,
            short_message: short,
            tlvs,
            ..Sm::default()
        };
        let seq = h
            .smsc
            .deliver(&sm)
            .await
            .map_err(|e| w.fail("the deliver_sm to reach the bound SUT", e))?;
        w.iwf.sent_at.get_or_insert_with(Instant::now);
        w.iwf.sent.push((seq, n, src, text));
    }
    Ok(())
}

#[when("the SMSC delivers an SMS for the IM recipient asking for a delivery report")]
async fn delivers(w: &mut LiaisonWorld) -> StepResult {
    deliver_all(w).await
}

#[when("the SMSC delivers an SMS for the IM recipient in the GSM 7-bit alphabet, with characters whose septets differ from ASCII and Latin-1")]
async fn delivers_gsm7(w: &mut LiaisonWorld) -> StepResult {
    deliver_sized(w, Coding::Gsm7).await
}

#[when("the SMSC delivers an SMS for the IM recipient in UCS-2, with characters outside Latin-1")]
async fn delivers_ucs2(w: &mut LiaisonWorld) -> StepResult {
    deliver_sized(w, Coding::Ucs2).await
}

#[when("the SMSC delivers an SMS for each of them asking for a delivery report")]
async fn delivers_many(w: &mut LiaisonWorld) -> StepResult {
    deliver_all(w).await
}

/// The requests at the IMS core whose Request-URI names no global number
/// (e.g. `tel:1555…` without `+`, RFC 3966 §5.1.4), with their bytes.
fn unnumbered(log: &[Delivered]) -> String {
    let v: Vec<String> = log
        .iter()
        .filter(|d| d.number.is_empty() && !d.retransmission)
        .map(|d| crate::steps::world::describe_incoming(&d.incoming))
        .collect();
    if v.is_empty() {
        String::new()
    } else {
        format!(
            "; request(s) whose Request-URI names no global number (RFC 3966 §5.1.4): {}",
            v.join(" | ")
        )
    }
}

/// The first MESSAGE (not a retransmission) for a number.
fn message_for<'a>(log: &'a [Delivered], n: &str) -> Option<&'a Delivered> {
    log.iter().find(|d| {
        d.number == n
            && !d.retransmission
            && d.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE"))
    })
}

#[then("the IM recipient receives the SMS text as a MESSAGE")]
async fn receives_text(w: &mut LiaisonWorld) -> StepResult {
    receives(w, false).await
}

/// RFC 3261 §26.2, RFC 5630 §3: a SUT configured with the core's TLS
/// address sends its MESSAGE there inside TLS, the core's certificate
/// checked; the verdict reads what the core took on its TLS connections.
#[then("the IM recipient receives the SMS text as a MESSAGE over TLS")]
async fn receives_text_over_tls(w: &mut LiaisonWorld) -> StepResult {
    receives(w, true).await
}

/// Plaintext that came to the core's TLS listener and carries `n`: the
/// start of what a SUT sent in the clear where TLS was due.
fn clear_to_tls(h: &IwfHarness, n: &str) -> Option<crate::net::Incoming> {
    h.ims
        .ep
        .unmatched()
        .into_iter()
        .find(|u| u.note.is_some() && crate::net::route::carries(&u.bytes, n.as_bytes()))
}

async fn receives(w: &mut LiaisonWorld, over_tls: bool) -> StepResult {
    use crate::net::Transport;
    let h = harness(w)?;
    let Some((_, n, _, text)) = w.iwf.sent.first().cloned() else {
        return Err(w.fail("an SMS sent earlier in the scenario", "none"));
    };
    let n2 = n.clone();
    let h2 = h.clone();
    h.ims
        .wait_for(w.deadline, |log| {
            message_for(log, &n2).is_some() || (over_tls && clear_to_tls(&h2, &n2).is_some())
        })
        .await;
    let log = h.ims.log();
    let tls_at = h.ims.ep.addr(Transport::Tls);
    let expected_tls = format!(
        "the SIP MESSAGE for +{n} inside TLS, on a connection to the harness IMS core's TLS address {tls_at} (iwf.ims_core_tls) whose handshake came first (RFC 3261 §26.2, RFC 5630 §3)"
    );
    let Some(d) = message_for(&log, &n) else {
        if over_tls {
            if let Some(u) = clear_to_tls(&h, &n) {
                return Err(w.fail(
                    expected_tls,
                    format!(
                        "plaintext SIP from {} to the TLS port, no TLS handshake first — bytes: {}",
                        u.from,
                        crate::codec::escape_bytes(&u.bytes, 600)
                    ),
                ));
            }
            let events: Vec<String> = h
                .ims
                .ep
                .transport_events()
                .into_iter()
                .filter(|e| e.contains("TLS"))
                .collect();
            return Err(w.fail(
                expected_tls,
                format!(
                    "no MESSAGE for +{n} by the scenario's end; failed TLS handshakes at the core (any scenario's): {}{}",
                    if events.is_empty() {
                        "none".to_string()
                    } else {
                        events.join(" | ")
                    },
                    unnumbered(&log)
                ),
            ));
        }
        return Err(w.fail(
            format!(
                "a SIP MESSAGE for +{n} at the harness IMS core {}",
                h.ims.ep.udp_addr()
            ),
            format!(
                "{} request(s) for other numbers or none{}",
                log.len(),
                unnumbered(&log)
            ),
        ));
    };
    if over_tls && d.incoming.transport != Transport::Tls {
        return Err(w.fail(
            expected_tls,
            format!(
                "the MESSAGE over {} from {}, not over TLS — bytes: {}",
                d.incoming.transport,
                d.incoming.from,
                crate::codec::escape_bytes(&d.incoming.bytes, 600)
            ),
        ));
    }
    let m = d
        .incoming
        .msg
        .as_ref()
        .map_err(|e| w.fail("a parseable MESSAGE", e.to_string()))?;
    // The same Unicode text, in UTF-8 (TS 23.038 decoded; RFC 3428 §4 body).
    if m.body() != text.as_slice() {
        return Err(w.fail(
            format!(
                "the SMS text `{}` as the MESSAGE body in UTF-8 ({})",
                String::from_utf8_lossy(&text),
                crate::codec::escape_bytes(&text, 120)
            ),
            crate::codec::escape_bytes(m.raw(), 400),
        ));
    }
    // Beyond ASCII the charset must be declared: text/plain defaults to
    // US-ASCII (RFC 2046 §4.1.2).
    if !text.is_ascii() {
        let ct = m.header("Content-Type").unwrap_or_default();
        if !declares_utf8(ct) {
            return Err(w.fail(
                "Content-Type text/plain with charset=UTF-8 for a text beyond ASCII (RFC 2046 §4.1.2: text/plain without charset is US-ASCII)",
                format!(
                    "Content-Type `{ct}`: {}",
                    crate::codec::escape_bytes(m.raw(), 400)
                ),
            ));
        }
    }
    Ok(())
}

/// Is `ct` text/plain with a charset parameter naming UTF-8 (case-insensitive, quotes allowed)?
fn declares_utf8(ct: &str) -> bool {
    let mut parts = ct.split(';');
    let ty = parts.next().unwrap_or_default().trim();
    ty.eq_ignore_ascii_case("text/plain")
        && parts.any(|p| {
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("charset")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
}

/// The deliver_sm_resp for sequence number `seq`, waiting up to `until`.
async fn resp_for(h: &IwfHarness, seq: u32, until: Instant) -> Option<SmppArrival> {
    let pick = |log: &[SmppArrival]| {
        log.iter()
            .find(|a| {
                a.pdu.as_ref().is_ok_and(|p| {
                    p.header.command_id == command::DELIVER_SM_RESP
                        && p.header.sequence_number == seq
                })
            })
            .cloned()
    };
    h.smsc
        .wait_for(until, |log| pick(log).is_some(), false)
        .await;
    pick(&h.smsc.log())
}

/// SME acknowledgements (submit_sm, esm_class 0x08) from the recipient's number.
fn acks_for(log: &[SmppArrival], n: &str) -> Vec<SmppArrival> {
    log.iter()
        .filter(|a| {
            a.pdu.as_ref().is_ok_and(|p| {
                p.header.command_id == command::SUBMIT_SM
                    && p.sm().is_some_and(|sm| {
                        sm.esm_class & 0x3C == 0x08 && sm.source_addr.trim_start_matches('+') == n
                    })
            })
        })
        .cloned()
        .collect()
}

/// The receipted_message_id of an acknowledgement.
fn receipted_id(a: &SmppArrival) -> Option<String> {
    a.pdu.as_ref().ok()?.sm()?.receipted_message_id()
}

/// What an SME acknowledgement says about the message: its `message_state`
/// TLV (SMPP 3.4 §5.3.2.35) and the `stat:` word of its text (Appendix B),
/// which is what many SMEs show their user. Both are judged.
struct AckSays {
    tlv: Option<u8>,
    /// The `stat:` word as written, and the state it names (None: unknown word).
    text: Option<(String, Option<u8>)>,
}

fn ack_says(a: &SmppArrival) -> AckSays {
    let sm = a.pdu.as_ref().ok().and_then(|p| p.sm());
    AckSays {
        tlv: sm.and_then(|sm| sm.message_state()),
        text: sm
            .and_then(|sm| sm.report_text())
            .map(|r| (r.stat.clone(), r.state())),
    }
}

impl AckSays {
    /// The one state the acknowledgement names, or why it names none: its
    /// text and its TLV disagree (or the text's word is none of Appendix B's).
    fn state(&self) -> Result<Option<u8>, String> {
        match (&self.tlv, &self.text) {
            (Some(t), Some((word, s))) if *s != Some(*t) => Err(format!(
                "text stat:{word} but message_state {t} ({})",
                state::name(*t)
            )),
            (Some(t), _) => Ok(Some(*t)),
            (None, Some((_, s))) => Ok(*s),
            (None, None) => Ok(None),
        }
    }

    /// Both readings, for a verdict.
    fn summary(&self) -> String {
        format!(
            "text stat:{}, message_state {}",
            self.text.as_ref().map_or("(none)", |(w, _)| w.as_str()),
            self.tlv.map_or("(none)".to_string(), |t| format!(
                "{t} ({})",
                state::name(t)
            ))
        )
    }

    /// Does either the text or the TLV claim delivery?
    fn claims_delivered(&self) -> bool {
        self.tlv == Some(state::DELIVERED)
            || self
                .text
                .as_ref()
                .is_some_and(|(_, s)| *s == Some(state::DELIVERED))
    }
}

/// The failure for an acknowledgement whose text and TLV disagree.
fn disagreement(w: &LiaisonWorld, n: &str, a: &SmppArrival, why: &str) -> Failure {
    w.fail(
        format!("an SME acknowledgement for +{n} whose text (stat:) and message_state TLV name the same state (SMPP 3.4 Appendix B and §5.3.2.35; the text is what the SME shows)"),
        format!("{why}: {}", a.describe()),
    )
}

/// The IM side's final word for a number: the answer to its MESSAGE, or in
/// Large Message mode the response to the final chunk.
fn answered_at(h: &IwfHarness, n: &str) -> Option<(u16, Instant)> {
    let large = h.ims.large_log().into_iter().find_map(|e| match e.kind {
        LargeKind::Responded { code, last: true } if e.number == n => Some((code, e.at)),
        _ => None,
    });
    large.or_else(|| message_for(&h.ims.log(), n).and_then(|d| d.answered))
}

/// How long a negative ("never …") observation lasts: until the SUT's own
/// Timer F (declared in its profile) has run from the SMS, plus a margin.
fn window(w: &LiaisonWorld) -> Instant {
    let from = w.iwf.sent_at.unwrap_or_else(Instant::now);
    (from + sut_timers(w).1 + margin(w)).min(w.deadline)
}

/// Every answer (deliver_sm_resp or generic_nack) to deliver_sm `seq`.
fn resps_for(log: &[SmppArrival], seq: u32) -> Vec<SmppArrival> {
    log.iter()
        .filter(|a| {
            a.pdu.as_ref().is_ok_and(|p| {
                matches!(
                    p.header.command_id,
                    command::DELIVER_SM_RESP | command::GENERIC_NACK
                ) && p.header.sequence_number == seq
            })
        })
        .cloned()
        .collect()
}

/// What an answer to a deliver_sm says: command, status and message id.
fn resp_says(a: &SmppArrival) -> Option<(u32, u32, String)> {
    let p = a.pdu.as_ref().ok()?;
    let id = match &p.body {
        Body::DeliverSmResp { message_id } => message_id.clone(),
        _ => String::new(),
    };
    Some((p.header.command_id, p.header.command_status, id))
}

/// One deliver_sm, one answer (SMPP 3.4 §2.6: each request gets one
/// response, matched by sequence_number): watches until `grace` after the
/// first answer, then fails on a second one that says otherwise, naming both
/// PDUs with their bytes. Identical repeats are not a contradiction.
async fn one_resp(w: &LiaisonWorld, h: &IwfHarness, seq: u32, n: &str) -> StepResult {
    let Some(first) = resps_for(&h.smsc.log(), seq).into_iter().next() else {
        return Ok(());
    };
    let until = first.at + grace(w);
    if until > Instant::now() {
        tokio::time::sleep(until - Instant::now()).await;
    }
    let all = resps_for(&h.smsc.log(), seq);
    match all.iter().skip(1).find(|a| resp_says(a) != resp_says(&first)) {
        None => Ok(()),
        Some(second) => Err(w.fail(
            format!("one answer to deliver_sm #{seq} (the SMS to +{n}): a request has one response (SMPP 3.4 §2.6), and the verdict rests on the first"),
            format!(
                "a second, different one {} ms later: first {} || then {}",
                second.at.saturating_duration_since(first.at).as_millis(),
                first.describe(),
                second.describe()
            ),
        )),
    }
}

/// Sleeps until `grace` after `last` (the last report the SUT was expected to send).
async fn watch_after(w: &LiaisonWorld, last: Instant) {
    let until = last + grace(w);
    if until > Instant::now() {
        tokio::time::sleep(until - Instant::now()).await;
    }
}

#[then("the SUT acknowledges the SMS with ESME_ROK only after the recipient answered")]
async fn rok_after(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    let Some(resp) = resp_for(&h, seq, w.deadline).await else {
        return Err(w.fail(
            format!("a deliver_sm_resp to deliver_sm #{seq}"),
            "none within the scenario timeout",
        ));
    };
    let st = resp
        .pdu
        .as_ref()
        .map(|p| p.header.command_status)
        .unwrap_or(u32::MAX);
    if st != status::ESME_ROK {
        return Err(w.fail("ESME_ROK: the recipient answered 200", resp.describe()));
    }
    one_resp(w, &h, seq, &n).await?;
    match answered_at(&h, &n) {
        Some((_, at)) if resp.at >= at => Ok(()),
        Some((code, at)) => Err(w.fail(
            format!("the acknowledgement only after the recipient's {code} (TS 23.204 §6.14)"),
            format!(
                "{} ms before it: {}",
                (at - resp.at).as_millis(),
                resp.describe()
            ),
        )),
        None => Err(w.fail(
            "the acknowledgement only after the recipient answered",
            format!("before any answer: {}", resp.describe()),
        )),
    }
}

#[then("the SUT reports the SMS as DELIVRD only after the recipient answered, naming the message it acknowledged")]
async fn delivered_after(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    check_ack(w, &h, seq, &n, true, w.deadline).await
}

/// Checks the SME acknowledgement for one SMS: its state (delivered or not),
/// its timing against the recipient's answer, and that it names the message.
async fn check_ack(
    w: &LiaisonWorld,
    h: &IwfHarness,
    seq: u32,
    n: &str,
    delivered: bool,
    until: Instant,
) -> StepResult {
    let n2 = n.to_string();
    h.smsc
        .wait_for(until, |log| !acks_for(log, &n2).is_empty(), false)
        .await;
    let acks = acks_for(&h.smsc.log(), n);
    let Some(ack) = acks.first() else {
        return Err(w.fail(
            format!("an SME delivery acknowledgement (submit_sm, esm_class 0x08) from +{n} with stat:{}", if delivered { "DELIVRD" } else { "UNDELIV/REJECTD" }),
            "none within the scenario timeout",
        ));
    };
    let st = ack_says(ack)
        .state()
        .map_err(|why| disagreement(w, n, ack, &why))?;
    let ok_state = if delivered {
        st == Some(state::DELIVERED)
    } else {
        st == Some(state::UNDELIVERABLE) || st == Some(state::REJECTED)
    };
    if !ok_state {
        return Err(w.fail(
            format!(
                "message_state {} for +{n}",
                if delivered {
                    "2 (DELIVERED)"
                } else {
                    "5 or 8 (UNDELIVERABLE/REJECTED)"
                }
            ),
            ack.describe(),
        ));
    }
    match answered_at(h, n) {
        Some((code, at)) if ack.at < at => {
            return Err(w.fail(
                format!("the acknowledgement for +{n} only after the recipient's {code}"),
                format!(
                    "{} ms before it: {}",
                    (at - ack.at).as_millis(),
                    ack.describe()
                ),
            ))
        }
        // A DELIVRD with no answer yet from the recipient came before any proof of receipt.
        None if delivered => {
            return Err(w.fail(
                format!("DELIVRD for +{n} only after the recipient answered 200"),
                format!("before any answer: {}", ack.describe()),
            ))
        }
        _ => {}
    }
    // One outcome: a later acknowledgement for the same SMS must not say otherwise.
    watch_after(w, ack.at).await;
    let acks = acks_for(&h.smsc.log(), n);
    let says = |a: &SmppArrival| (ack_says(a).state(), receipted_id(a));
    if let Some(other) = acks.iter().skip(1).find(|a| says(a) != says(ack)) {
        return Err(w.fail(
            format!("one outcome reported for the SMS to +{n} (SMPP 3.4 §5.2.12: an acknowledgement reports the SMS's state)"),
            format!(
                "a second acknowledgement that says otherwise: first {} || then {}",
                ack.describe(),
                other.describe()
            ),
        ));
    }
    one_resp(w, h, seq, n).await?;
    // It names the message: receipted_message_id is the id the SUT gave in its deliver_sm_resp.
    if let Some(resp) = resp_for(h, seq, Instant::now()).await {
        let given = match resp.pdu.as_ref().map(|p| &p.body) {
            Ok(Body::DeliverSmResp { message_id }) => message_id.clone(),
            _ => String::new(),
        };
        let named = ack
            .pdu
            .as_ref()
            .ok()
            .and_then(|p| p.sm())
            .and_then(|sm| sm.receipted_message_id())
            .unwrap_or_default();
        if !given.is_empty() && named != given {
            // Correlated by message id: whose SMS it names instead, if any of the run's.
            let whose = match h.smsc.owner_of(&named) {
                Some((s, dest)) => {
                    format!(" (the id the SUT gave the SMS to {dest}, deliver_sm #{s})")
                }
                None => String::new(),
            };
            return Err(w.fail(
                format!(
                    "receipted_message_id `{given}` (the id in the SUT's deliver_sm_resp for +{n})"
                ),
                format!("`{named}`{whose}: {}", ack.describe()),
            ));
        }
    }
    Ok(())
}

#[then("the SUT never reports the SMS as DELIVRD")]
async fn never_delivered(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (_, n) = first_sms(w)?;
    let until = window(w);
    // Watch until the SUT's last word on this SMS: its SME acknowledgement when
    // it declares them, else its deliver_sm_resp and a grace of 10·T1; at most
    // past its Timer F.
    // Then a grace of 4 × the SUT's T1 after that last word, so a
    // contradicting DELIVRD sent soon after is seen here, in this scenario.
    let n2 = n.clone();
    let seq = w.iwf.sent.first().map(|s| s.0).unwrap_or(0);
    let last = if w.ctx.profile.capability("sme_ack") {
        h.smsc
            .wait_for(until, |log| !acks_for(log, &n2).is_empty(), false)
            .await;
        acks_for(&h.smsc.log(), &n).first().map(|a| a.at)
    } else {
        resp_for(&h, seq, until).await.map(|r| r.at)
    };
    if let Some(last) = last {
        watch_after(w, last).await;
    }
    let acks = acks_for(&h.smsc.log(), &n);
    // Neither the text nor the TLV may claim delivery; and they must agree.
    if let Some(a) = acks.iter().find(|a| ack_says(a).claims_delivered()) {
        return Err(w.fail(
            format!("no DELIVRD for +{n}, neither in the text (stat:) nor in message_state: the IM side gave no proof of receipt (seed 001)"),
            format!("{}: {}", ack_says(a).summary(), a.describe()),
        ));
    }
    for a in &acks {
        if let Err(why) = ack_says(a).state() {
            return Err(disagreement(w, &n, a, &why));
        }
    }
    Ok(())
}

#[then("the SUT does not acknowledge the SMS with ESME_ROK")]
async fn no_rok(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    // Watched until the SUT's own Timer F (plus a margin) has run from the SMS.
    let until = window(w);
    let first = resp_for(&h, seq, until).await;
    if first.is_some() {
        one_resp(w, &h, seq, &n).await?;
    }
    match first {
        Some(r) if r.pdu.as_ref().is_ok_and(|p| p.header.command_status == status::ESME_ROK) => Err(w.fail(
            format!("an error status (not ESME_ROK) for the SMS to +{n}: the IM side did not take it (TS 23.204 §6.14, TS 23.040 §11.1)"),
            r.describe(),
        )),
        _ => Ok(()),
    }
}

#[then("the SUT reports the SMS as not delivered")]
async fn reported_undelivered(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    check_ack(w, &h, seq, &n, false, w.deadline).await
}

#[then("each SMS is reported by its own outcome, naming its own message")]
async fn each_own(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let sent = w.iwf.sent.clone();
    let recipients = w.iwf.recipients.clone();
    for (seq, n, _, _) in sent {
        let ok = recipients
            .iter()
            .find(|(r, _)| *r == n)
            .is_some_and(|(_, a)| matches!(a, Answer::Respond { code: 200, .. }));
        check_ack(w, &h, seq, &n, ok, w.deadline).await?;
    }
    Ok(())
}

#[then("the SUT reports the SMS as DELIVRD within 2 seconds of the recipient's 200, with no IMDN")]
async fn no_imdn(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    let n2 = n.clone();
    h.ims
        .wait_for(w.deadline, |log| {
            message_for(log, &n2).is_some_and(|d| d.answered.is_some())
        })
        .await;
    let Some((_, at)) = answered_at(&h, &n) else {
        return Err(w.fail(
            format!("the recipient +{n} to have answered"),
            format!("no MESSAGE reached it{}", unnumbered(&h.ims.log())),
        ));
    };
    let until = (at + Duration::from_secs(2)).min(w.deadline);
    check_ack(w, &h, seq, &n, true, until).await.map_err(|f| {
        Failure(format!(
            "{} (no IMDN was sent; seed 001 says none is needed)",
            f.0
        ))
    })
}

async fn large_recipient(w: &mut LiaisonWorld, mut p: LargePolicy) -> StepResult {
    let h = harness(w)?;
    let n = fresh(w, &h);
    // An IWF that offers MSRP over TLS (capabilities.msrp_tls) is answered
    // at a TLS listener of this scenario's, so the records and their
    // secrets go into its pcap (RFC 4975 §14.2).
    if let (true, Some(tls)) = (w.ctx.profile.capability("msrp_tls"), w.ctx.tls.clone()) {
        let at = h
            .ims
            .listen_tls(&n, tls, w.capture.clone(), w.deadline)
            .await
            .map_err(|e| w.fail("a harness MSRP-over-TLS listener", e.to_string()))?;
        p.tls_at = Some(at);
    }
    h.ims.set_large(&n, p);
    w.iwf.recipients = vec![(n, Answer::Silent)];
    Ok(())
}

#[given(expr = "the IM recipient takes Large Messages and answers every chunk with {int}")]
async fn large_every(w: &mut LiaisonWorld, code: u16) -> StepResult {
    large_recipient(
        w,
        LargePolicy {
            more: Some(code),
            last: Some(code),
            report: false,
            failure_report: None,
            tls_at: None,
        },
    )
    .await
}

#[given(
    "the IM recipient takes Large Messages, answers '+' chunks with 200 and never the last chunk"
)]
async fn large_never_last(w: &mut LiaisonWorld) -> StepResult {
    large_recipient(
        w,
        LargePolicy {
            more: Some(200),
            last: None,
            report: false,
            failure_report: None,
            tls_at: None,
        },
    )
    .await
}

#[given(
    expr = "the IM recipient takes Large Messages, answers '+' chunks with 200 and the last chunk with {int}"
)]
async fn large_last(w: &mut LiaisonWorld, code: u16) -> StepResult {
    large_recipient(
        w,
        LargePolicy {
            more: Some(200),
            last: Some(code),
            report: false,
            failure_report: None,
            tls_at: None,
        },
    )
    .await
}

#[when(
    expr = "the SMSC delivers a {int}-byte SMS for the IM recipient asking for a delivery report"
)]
async fn delivers_long(w: &mut LiaisonWorld, len: usize) -> StepResult {
    deliver_sized(w, Coding::Long(len)).await
}

#[then("the IM recipient receives the SMS as MSRP chunks")]
async fn receives_chunks(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let n = w
        .iwf
        .recipients
        .first()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let n2 = n.clone();
    let done = |log: &[crate::roles::ims_core::LargeEvent]| {
        log.iter()
            .any(|e| e.number == n2 && e.kind == LargeKind::Chunk('$'))
    };
    if h.ims.wait_large(w.deadline, done).await {
        // The chunks fit together and carry the SMS text byte for byte (the
        // harness logs the last chunk together with its verdict).
        let text = w.iwf.sent.first().map(|x| x.3.clone()).unwrap_or_default();
        let log = h.ims.large_log();
        let mine: Vec<&crate::roles::ims_core::LargeEvent> =
            log.iter().filter(|e| e.number == n).collect();
        if let Some(LargeKind::Bad(why)) = mine
            .iter()
            .map(|e| &e.kind)
            .find(|k| matches!(k, LargeKind::Bad(_)))
        {
            return Err(w.fail(
                format!("SEND chunks for +{n} that fit their message (RFC 4975 §7.1.1)"),
                why.clone(),
            ));
        }
        match mine.iter().find_map(|e| match &e.kind {
            LargeKind::Complete(b) => Some(b.clone()),
            _ => None,
        }) {
            Some(b) if b == text => Ok(()),
            Some(b) => Err(w.fail(
                format!(
                    "the SMS text ({} bytes) as the Large Message, byte for byte",
                    text.len()
                ),
                format!("{} bytes: {}", b.len(), crate::codec::escape_bytes(&b, 200)),
            )),
            None => Err(w.fail(
                format!("a complete Large Message for +{n}"),
                "chunks that never complete the message",
            )),
        }
    } else {
        let mine: Vec<String> = h
            .ims
            .large_log()
            .iter()
            .filter(|e| e.number == n)
            .map(|e| format!("{:?}", e.kind))
            .collect();
        Err(w.fail(
            format!("the long SMS for +{n} as an MSRP session: INVITE with an MSRP offer, then SEND chunks ending in '$' (RFC 4975; RFC 3428 §8 keeps it out of a MESSAGE)"),
            if mine.is_empty() {
                format!("no MSRP chunk for +{n}; SIP requests for it: {}", h.ims.log().iter().filter(|d| d.number == n).count())
            } else {
                mine.join(", ")
            },
        ))
    }
}

#[then("the SUT reports the SMS as DELIVRD only after the 200 to the last chunk")]
async fn delivered_after_last(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (seq, n) = first_sms(w)?;
    check_ack(w, &h, seq, &n, true, w.deadline).await
}

#[given(
    expr = "the IM recipient takes Large Messages, answers '+' chunks with 200 and the last chunk with a failure REPORT {int}"
)]
async fn large_failure_report(w: &mut LiaisonWorld, code: u16) -> StepResult {
    large_recipient(
        w,
        LargePolicy {
            more: Some(200),
            last: None,
            report: false,
            failure_report: Some(code),
            tls_at: None,
        },
    )
    .await
}

/// DR-25 (RFC 4975 §8.1, §14.2): an IWF that declares MSRP over TLS offers
/// the Large Message as `TCP/TLS/MSRP` with an `msrps:` path, opens the
/// answered `msrps:` path with a TLS handshake and sends every chunk in
/// TLS records, never in the clear.
#[then("the SUT offers the Large Message over TLS and sends its chunks over TLS only")]
async fn large_over_tls(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let n = w
        .iwf
        .recipients
        .first()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let n2 = n.clone();
    h.ims
        .wait_large(w.deadline, |log| {
            log.iter().any(|e| {
                e.number == n2
                    && (matches!(e.kind, LargeKind::TlsFailed(_))
                        || (!e.tls && matches!(e.kind, LargeKind::Chunk(_)))
                        || (e.tls && e.kind == LargeKind::Chunk('$')))
            })
        })
        .await;
    // The offer: the INVITE for the recipient's number.
    let invite = h.ims.log().into_iter().find(|d| {
        d.number == n
            && d.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("INVITE"))
    });
    let Some(invite) = invite else {
        return Err(w.fail(
            format!("an INVITE offering the long SMS for +{n} as an MSRP session over TLS"),
            "no INVITE for that number",
        ));
    };
    let raw = invite.incoming.bytes.clone();
    let media = invite
        .incoming
        .msg
        .as_ref()
        .ok()
        .and_then(|m| crate::codec::sdp::Sdp::parse(m.body()).ok())
        .and_then(|d| d.media().into_iter().find(|m| m.media == "message"));
    let path = media
        .as_ref()
        .and_then(|m| m.msrp_path().last().cloned())
        .unwrap_or_default();
    if !media.as_ref().is_some_and(|m| m.is_msrp_tls()) || !crate::codec::msrp::url_is_secure(&path)
    {
        return Err(w.fail(
            "an offer of MSRP over TLS, m=message … TCP/TLS/MSRP with an msrps: path (the profile declares capabilities.msrp_tls; RFC 4975 §8.1, §14.2)",
            format!(
                "m=message … {} with path {} — bytes: {}",
                media.as_ref().map(|m| m.proto.as_str()).unwrap_or("(none)"),
                if path.is_empty() { "(none)" } else { &path },
                crate::codec::escape_bytes(&raw, 800)
            ),
        ));
    }
    let log: Vec<crate::roles::ims_core::LargeEvent> = h
        .ims
        .large_log()
        .into_iter()
        .filter(|e| e.number == n)
        .collect();
    let expected = "a TLS handshake on the connection to the answered msrps: path, then every SEND chunk in TLS records (RFC 4975 §14.2: a session negotiated over TLS is carried over TLS only)";
    if let Some(LargeKind::TlsFailed(why)) = log
        .iter()
        .map(|e| &e.kind)
        .find(|k| matches!(k, LargeKind::TlsFailed(_)))
    {
        return Err(w.fail(
            expected,
            format!("the SUT's connection failed as TLS: {why}"),
        ));
    }
    if let Some(e) = log
        .iter()
        .find(|e| !e.tls && matches!(e.kind, LargeKind::Chunk(_)))
    {
        return Err(w.fail(
            expected,
            format!(
                "a chunk in the clear, on a plaintext connection: {:?}",
                e.kind
            ),
        ));
    }
    if !log.iter().any(|e| e.tls && e.kind == LargeKind::Chunk('$')) {
        return Err(w.fail(
            expected,
            format!(
                "no final chunk over TLS by the scenario's end; on the session: {}",
                if log.is_empty() {
                    "nothing".to_string()
                } else {
                    log.iter()
                        .map(|e| match &e.kind {
                            LargeKind::Complete(b) => format!("Complete({} bytes)", b.len()),
                            k => format!("{k:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    // The scenario's own traffic still to come (the SUT's answer to the
    // SMS, its SME acknowledgement) is waited for, not judged (DR-21's to
    // judge), so that it reaches this scenario's pcap, not the run-level one.
    if let Ok((seq, n)) = first_sms(w) {
        let _ = resp_for(&h, seq, w.deadline).await;
        if w.ctx.profile.capability("sme_ack") {
            h.smsc
                .wait_for(w.deadline, |log| !acks_for(log, &n).is_empty(), false)
                .await;
        }
    }
    Ok(())
}
