//! PPG scenarios (seeds 000 and 002): the harness is the Push Initiator (PAP
//! over HTTP) and every bearer the PPG pushes to — the SMSC for WSP over SMS,
//! the OTA-HTTP push target, the SIP device. The PPG's answer is judged from
//! the raw HTTP bytes; what reaches a bearer is judged from the raw PDUs,
//! decoded here with the sans-IO codecs (WDP reassembly, WSP push, HTTP, SIP).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::http::HttpMessage;
use crate::codec::pap::{self, PapMessage, PushMessage};
use crate::codec::sip::token;
use crate::codec::smpp::{command, WAP_PUSH_PORT, WAP_WSP_PORT};
use crate::codec::wdp::{Datagram, Reassembler};
use crate::codec::wsp::{AppId, PushPdu, PDU_PUSH};
use crate::harness::bearers::BearerClaim;
use crate::harness::PushHarness;
use crate::profile::PpgSection;
use crate::roles::push_initiator::{self, PiOutcome};
use crate::roles::smsc::SmppArrival;
use crate::roles::ua::Answer;
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// One PAP submission the scenario made.
#[derive(Debug, Clone)]
pub struct Submission {
    pub push_id: String,
    /// The number (digits) of a PLMN or SIP address, for matching the bearer.
    pub number: Option<String>,
    pub content_type: String,
    pub app_id: String,
    pub content: Vec<u8>,
    pub outcome: PiOutcome,
    /// Whatever else came on the connection after the answer (raw frames).
    pub later: Vec<Vec<u8>>,
}

/// Per-scenario push state.
#[derive(Default)]
pub struct Push {
    /// The scenario's claim on the bearers' traffic: the numbers and SIP
    /// URIs it pushes to and its push-ids. What reaches a bearer is judged
    /// by these keys alone (the bearers serve every scenario at once).
    pub claim: Option<BearerClaim>,
    pub submissions: Vec<Submission>,
    /// The M-Notification.ind submitted, when the content was one.
    pub notification: Option<crate::codec::mms::Pdu>,
    /// Submit over HTTPS (the profile's `ppg.https_url`, or `ppg.url` when
    /// it is `https://`).
    pub https: bool,
    /// OTA-HTTP pushes go to the harness's target over TLS
    /// (`ppg.ota_https`), which the scenario holds (`@harness:ota_tls`).
    pub ota_tls: bool,
    /// Push over SIP goes to a `sips:` address, to the harness's SIP device
    /// over TLS (`ppg.sip_tls`), which the scenario holds (`@harness:sip_tls`).
    pub sip_tls: bool,
}

fn harness(w: &LiaisonWorld) -> Result<Arc<PushHarness>, Failure> {
    w.ctx
        .push
        .clone()
        .ok_or_else(|| w.fail("the harness bearers of a PPG (profile section ppg)", "none"))
}

/// The scenario's PAP submissions go over HTTPS (RFC 2818): the PPG's
/// certificate checked as the profile's tls section says.
#[given("the push initiator submits over HTTPS")]
async fn over_https(w: &mut LiaisonWorld) -> StepResult {
    w.push.https = true;
    Ok(())
}

/// The scenario's OTA-HTTP pushes go to the harness's OTA-HTTP target over
/// TLS (`ppg.ota_https`, RFC 2818): the scenario holds it, its handshakes
/// present the run's harness certificate and its records (with their
/// secrets) go to the scenario's pcap; the push addresses name its IP.
#[given("the harness's OTA-HTTP target takes the push over TLS")]
async fn ota_over_tls(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let t = h.ota_tls.as_ref().ok_or_else(|| {
        w.fail(
            "the harness OTA-HTTP target over TLS (profile ppg.ota_https)",
            "none",
        )
    })?;
    let run = crate::steps::sip::run_tls(w)?;
    t.serve_with(run.server.clone());
    w.serve("ota_tls", &t.capture)?;
    w.push.ota_tls = true;
    Ok(())
}

/// The scenario pushes to a `sips:` address (RFC 5630): the PPG must send
/// it over TLS to the harness's SIP device (`ppg.sip_tls`), which the
/// scenario holds: its records (with their secrets) go to its pcap.
#[given("the harness's SIP device takes the push over TLS")]
async fn sip_over_tls(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let t = h.sip_tls.as_ref().ok_or_else(|| {
        w.fail(
            "the harness SIP device over TLS (profile ppg.sip_tls)",
            "none",
        )
    })?;
    w.serve("sip_tls", &t.capture)?;
    w.push.sip_tls = true;
    Ok(())
}

fn section(w: &LiaisonWorld) -> Result<PpgSection, Failure> {
    w.ctx
        .profile
        .ppg
        .clone()
        .ok_or_else(|| w.fail("a ppg section in the profile", "none"))
}

fn number() -> String {
    let digits: String = token()
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'0' + (d % 10) as u8))
        .take(7)
        .collect();
    format!("1555{digits}")
}

/// How long a refused push is given to (wrongly) reach a bearer.
fn settle(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10).max(Duration::from_millis(200))
}

fn last(w: &LiaisonWorld) -> Result<&Submission, Failure> {
    w.push
        .submissions
        .last()
        .ok_or_else(|| w.fail("a push submitted earlier in the scenario", "none"))
}

#[given("the harness plays the PPG's bearers")]
async fn bearers(w: &mut LiaisonWorld) -> StepResult {
    // The bearers serve every scenario at once: the traffic that carries
    // this scenario's keys (claimed as its submissions make them up) goes
    // to its pcap, and its steps judge only that.
    harness(w)?;
    Ok(())
}

/// Whether `bytes` carry one of the scenario's keys (a number it pushes to,
/// a push-id of its submissions).
fn ours(w: &LiaisonWorld, bytes: &[u8]) -> bool {
    w.push.claim.as_ref().is_some_and(|c| c.owns(bytes))
}

/// What reached the bearers since the scenario began that carries no
/// scenario's key, for a failure text ("" when nothing).
fn unclaimed(w: &LiaisonWorld, h: &PushHarness) -> String {
    let u = h.unclaimed_since(w.started);
    if u.is_empty() {
        String::new()
    } else {
        format!(
            "; what reached the bearers since the scenario began with no scenario's number or push-id in it: {}",
            u.join(" | ")
        )
    }
}

#[given("the PPG is bound to the harness SMSC")]
async fn bound(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let smsc = h
        .smsc
        .as_ref()
        .ok_or_else(|| w.fail("the harness SMSC (ppg bearer sms)", "none"))?;
    if !smsc.bound() {
        let refused = |log: &[SmppArrival]| {
            log.iter().any(|a| {
                a.pdu.as_ref().is_ok_and(|p| {
                    matches!(
                        p.header.command_id,
                        command::BIND_TRANSCEIVER
                            | command::BIND_TRANSMITTER
                            | command::BIND_RECEIVER
                    )
                })
            })
        };
        smsc.wait_for(w.deadline, refused, false).await;
        smsc.wait_for(
            (Instant::now() + w.timers.t1 * 5).min(w.deadline),
            |_| true,
            true,
        )
        .await;
    }
    if smsc.bound() {
        Ok(())
    } else {
        Err(w.fail(
            format!(
                "the PPG bound to the harness SMSC at {} with the profile's credentials",
                smsc.addr()
            ),
            format!("no bound ESME; what arrived: {}", h.binding_log()),
        ))
    }
}

/// Content of `len` bytes that names the push (so a bearer can be matched).
fn content_of(len: usize, push_id: &str) -> Vec<u8> {
    let seed = format!("liaison push {push_id} ");
    seed.bytes().cycle().take(len.max(1)).collect()
}

/// What a submission is made of, before it is sent.
struct Draft {
    push_id: String,
    /// The PAP address-value.
    address: String,
    /// Its number (digits), when the address has one.
    number: Option<String>,
    content_type: String,
    app_id: String,
    content: Vec<u8>,
}

/// A draft to a fresh address of `kind` (PLMN, IP: the OTA-HTTP target's,
/// SIP, or a literal address-value).
fn draft(
    w: &LiaisonWorld,
    kind: &str,
    content_type: &str,
    app_id: &str,
    content: Vec<u8>,
    push_id: String,
) -> Result<Draft, Failure> {
    let p = section(w)?;
    let n = number();
    let (address, number) = match kind {
        "PLMN" => (format!("WAPPUSH=+{n}/TYPE=PLMN@{}", p.domain()), Some(n)),
        // The OTA-HTTP target's own address, as the PPG Service client-address
        // grammar writes it (WAP-151 §7.1): a dotted quad, or eight groups of
        // four hex digits.
        "IP" => {
            let ota = if w.push.ota_tls {
                p.ota_https
                    .ok_or_else(|| w.fail("ppg.ota_https in the profile", "none"))?
            } else {
                p.ota_http
                    .ok_or_else(|| w.fail("ppg.ota_http in the profile", "none"))?
            };
            let value = match ota.ip() {
                std::net::IpAddr::V4(v4) => format!("{v4}/TYPE=IPv4"),
                std::net::IpAddr::V6(v6) => {
                    let groups: Vec<String> =
                        v6.segments().iter().map(|g| format!("{g:04x}")).collect();
                    format!("{}/TYPE=IPv6", groups.join(":"))
                }
            };
            (format!("WAPPUSH={value}@{}", p.domain()), None)
        }
        // A SIP URI as a user-defined address, its reserved characters escaped.
        "SIP" => (
            format!(
                "WAPPUSH={}%3A%2B{n}%40liaison.test/TYPE=USER@{}",
                if w.push.sip_tls { "sips" } else { "sip" },
                p.domain()
            ),
            Some(n),
        ),
        raw => (raw.replace("{domain}", p.domain()), None),
    };
    Ok(Draft {
        push_id,
        address,
        number,
        content_type: content_type.to_string(),
        app_id: app_id.to_string(),
        content,
    })
}

/// How the request deviates from a well-formed submission.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mangle {
    None,
    /// The PAP document's `<address>` element is never closed.
    UnclosedAddress,
    /// The multipart body has the PAP document only.
    NoContentPart,
}

/// Builds the request for `d`, POSTs it to the PPG and records the outcome.
async fn post(w: &mut LiaisonWorld, d: Draft, mangle: Mangle) -> StepResult {
    let p = section(w)?;
    // Over TLS when the scenario asks for it, or when the only URL is https.
    let url = match (w.push.https, p.https()) {
        (true, Some(u)) => u.to_string(),
        (true, None) => {
            return Err(w.fail(
                "a PAP URL over TLS, https://IP:PORT/PATH (ppg.https_url)",
                "none",
            ))
        }
        (false, _) => p.url.clone(),
    };
    let (ppg, path) = crate::codec::http::url_parts(&url)
        .ok_or_else(|| w.fail("a PAP URL http://IP:PORT/PATH", &url))?;
    let tls = if crate::codec::http::url_is_https(&url) {
        let t = crate::steps::sip::run_tls(w)?;
        let name = t.server_name_for(ppg);
        Some((t, name))
    } else {
        None
    };
    // Its keys are claimed before the PPG can push: what carries them goes
    // to this scenario's pcap and is judged here.
    if let Some(c) = w.push.claim.as_mut() {
        c.key(&d.push_id);
        if let Some(n) = &d.number {
            c.key(n);
        }
    }
    let h = harness(w)?;
    let devices = h.sip.iter().chain(h.sip_tls.as_ref().map(|t| &t.device));
    if let Some(n) = &d.number {
        for sip in devices {
            sip.set_answer(
                n,
                Answer::Respond {
                    code: 200,
                    delay: Duration::ZERO,
                },
            );
        }
    }
    let mut xml = PushMessage {
        push_id: d.push_id.clone(),
        addresses: vec![d.address.clone()],
        ..Default::default()
    }
    .to_xml();
    if mangle == Mangle::UnclosedAddress {
        xml = xml.replace("/>\n  </push-message>", ">\n  </push-message>");
    }
    let boundary = format!("liaison-{}", token());
    let request = if mangle == Mangle::NoContentPart {
        let (ct, body) = pap::multipart_related(&boundary, &[("application/xml", xml.as_bytes())]);
        crate::codec::http::request(
            "POST",
            &path,
            &ppg.to_string(),
            &[("Content-Type", ct.as_str())],
            &body,
        )
    } else {
        push_initiator::pap_request(
            ppg,
            &path,
            &boundary,
            &xml,
            &[
                ("Content-Type", d.content_type.as_str()),
                ("X-Wap-Application-Id", d.app_id.as_str()),
            ],
            &d.content,
        )
    };
    // After the answer, 4·T1 for a second one (the PPG's close ends it sooner).
    let (outcome, later) = push_initiator::submit(
        ppg,
        w.capture.clone(),
        &request,
        w.deadline,
        w.timers.t1 * 4,
        tls.as_ref().map(|(t, n)| (&t.client, n.as_str())),
    )
    .await;
    w.push.submissions.push(Submission {
        push_id: d.push_id,
        number: d.number,
        content_type: d.content_type,
        app_id: d.app_id,
        content: d.content,
        outcome,
        later,
    });
    Ok(())
}

#[when(
    expr = "the push initiator submits {int} bytes of {string} for {string} to a {word} address"
)]
async fn submits(
    w: &mut LiaisonWorld,
    len: usize,
    content_type: String,
    app_id: String,
    kind: String,
) -> StepResult {
    let id = format!("liaison-{}", token());
    let content = content_of(len, &id);
    let d = draft(w, &kind, &content_type, &app_id, content, id)?;
    post(w, d, Mangle::None).await
}

#[when(
    expr = "the push initiator submits {int} bytes of {string} for {string} to the OTA-HTTP target's IP address"
)]
async fn submits_to_ota(
    w: &mut LiaisonWorld,
    len: usize,
    content_type: String,
    app_id: String,
) -> StepResult {
    submits(w, len, content_type, app_id, "IP".into()).await
}

#[when(expr = "the push initiator submits an M-Notification.ind for {string} to a {word} address")]
async fn submits_notification(w: &mut LiaisonWorld, app_id: String, kind: String) -> StepResult {
    use crate::codec::mms::{Address, PduBuilder, TimeValue};
    let id = format!("liaison-{}", token());
    let pdu = PduBuilder::notification_ind(
        &format!("T{}", token()),
        &format!("http://mmsc.liaison.test/m/{id}"),
        2048,
        TimeValue::Relative(86_400),
    )
    .from(&Address::plmn("+15550000001"))
    .subject("liaison")
    .build();
    let content = pdu.encode();
    w.push.notification = Some(pdu);
    let d = draft(
        w,
        &kind,
        "application/vnd.wap.mms-message",
        &app_id,
        content,
        id,
    )?;
    post(w, d, Mangle::None).await
}

#[when(expr = "the push initiator submits a push to the address {string}")]
async fn submits_to(w: &mut LiaisonWorld, address: String) -> StepResult {
    let id = format!("liaison-{}", token());
    let content = content_of(40, &id);
    let d = draft(
        w,
        &address,
        "text/plain",
        "x-wap-application:wta.ua",
        content,
        id,
    )?;
    post(w, d, Mangle::None).await
}

#[when("the push initiator submits the same push again")]
async fn submits_again(w: &mut LiaisonWorld) -> StepResult {
    let first = last(w)?.clone();
    let p = section(w)?;
    let n = first
        .number
        .clone()
        .ok_or_else(|| w.fail("a first push to a PLMN address", "another address"))?;
    let d = Draft {
        push_id: first.push_id,
        address: format!("WAPPUSH=+{n}/TYPE=PLMN@{}", p.domain()),
        number: first.number,
        content_type: first.content_type,
        app_id: first.app_id,
        content: first.content,
    };
    post(w, d, Mangle::None).await
}

#[when("the push initiator submits a push whose PAP document is not well-formed XML")]
async fn submits_malformed(w: &mut LiaisonWorld) -> StepResult {
    let id = format!("liaison-{}", token());
    let content = content_of(40, &id);
    let d = draft(
        w,
        "PLMN",
        "text/plain",
        "x-wap-application:wta.ua",
        content,
        id,
    )?;
    post(w, d, Mangle::UnclosedAddress).await
}

#[when("the push initiator submits a push without its content part")]
async fn submits_without_content(w: &mut LiaisonWorld) -> StepResult {
    let id = format!("liaison-{}", token());
    let d = draft(w, "PLMN", "text/plain", "", Vec::new(), id)?;
    post(w, d, Mangle::NoContentPart).await
}

/// The PAP document of a submission's answer, or a failure naming what came.
fn pap_answer(w: &LiaisonWorld, s: &Submission) -> Result<(HttpMessage, PapMessage), Failure> {
    let m = s.outcome.response().ok_or_else(|| {
        w.fail(
            format!(
                "an HTTP response carrying a PAP document for push-id {}",
                s.push_id
            ),
            s.outcome.describe(),
        )
    })?;
    let doc = PapMessage::parse(&m.body).map_err(|e| {
        w.fail(
            format!(
                "a PAP document (XML) in the answer for push-id {}",
                s.push_id
            ),
            format!("{e} — bytes: {}", escape_bytes(m.raw(), 600)),
        )
    })?;
    one_answer(w, s, m, &doc)?;
    Ok((m.clone(), doc))
}

/// The push-id (None for a badmessage-response, which names none) and the
/// result code of a PAP answer.
fn pap_says(doc: &PapMessage) -> Option<(Option<String>, u16)> {
    match doc {
        PapMessage::PushResponse(r) => Some((Some(r.push_id.clone()), r.code)),
        PapMessage::BadMessageResponse(r) => Some((None, r.code)),
        _ => None,
    }
}

/// One submission, one answer: a second PAP answer on the same connection
/// for the same push-id (or one that names none) with another result fails
/// (WAP-247 §9.3: the PPG answers each push submission with one
/// push-response; RFC 9112 §9.3: one response per request), naming both.
fn one_answer(w: &LiaisonWorld, s: &Submission, m: &HttpMessage, doc: &PapMessage) -> StepResult {
    let Some((id, code)) = pap_says(doc) else {
        return Ok(());
    };
    for b in &s.later {
        let Some(second) = HttpMessage::parse(b)
            .ok()
            .and_then(|h| PapMessage::parse(&h.body).ok())
        else {
            continue;
        };
        let Some((id2, code2)) = pap_says(&second) else {
            continue;
        };
        let same_push = id2.is_none() || id2 == id || id2.as_deref() == Some(s.push_id.as_str());
        if same_push && code2 != code {
            return Err(w.fail(
                format!(
                    "one answer to the submission of push-id {}: result {code} (WAP-247 §9.3, RFC 9112 §9.3)",
                    s.push_id
                ),
                format!(
                    "a second PAP answer on the same connection with result {code2}: first — bytes: {} || then — bytes: {}",
                    escape_bytes(m.raw(), 600),
                    escape_bytes(b, 600)
                ),
            ));
        }
    }
    Ok(())
}

#[then("the PPG accepts it with HTTP 2xx and result 1000 or 1001 for its push-id")]
async fn accepted(w: &mut LiaisonWorld) -> StepResult {
    let s = last(w)?.clone();
    accepted_one(w, &s)
}

fn accepted_one(w: &LiaisonWorld, s: &Submission) -> StepResult {
    let (m, doc) = pap_answer(w, s)?;
    let status = m.status().unwrap_or(0);
    let expected = format!(
        "HTTP 2xx with a push-response for push-id {} and response-result 1000 or 1001",
        s.push_id
    );
    let came = || format!("bytes: {}", escape_bytes(m.raw(), 600));
    if !(200..300).contains(&status) {
        return Err(w.fail(&expected, format!("HTTP {status} — {}", came())));
    }
    match doc {
        PapMessage::PushResponse(r)
            if r.push_id == s.push_id && (r.code == 1000 || r.code == 1001) =>
        {
            Ok(())
        }
        PapMessage::PushResponse(r) if r.push_id != s.push_id => Err(w.fail(
            &expected,
            format!("a push-response for push-id `{}` — {}", r.push_id, came()),
        )),
        PapMessage::PushResponse(r) => {
            Err(w.fail(&expected, format!("result code {} — {}", r.code, came())))
        }
        PapMessage::BadMessageResponse(r) => Err(w.fail(
            &expected,
            format!("a badmessage-response with code {} — {}", r.code, came()),
        )),
        _ => Err(w.fail(&expected, format!("another PAP document — {}", came()))),
    }
}

#[then(expr = "the PPG refuses it with result code {int}")]
async fn refused(w: &mut LiaisonWorld, code: u16) -> StepResult {
    let s = last(w)?.clone();
    let (m, doc) = pap_answer(w, &s)?;
    let got = match &doc {
        PapMessage::PushResponse(r) => Some(r.code),
        PapMessage::BadMessageResponse(r) => Some(r.code),
        _ => None,
    };
    if got == Some(code) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "a push-response or badmessage-response with result code {code} ({})",
            pap::code_name(code).unwrap_or("?")
        ),
        format!(
            "{} (HTTP {}) — bytes: {}",
            match got {
                Some(c) => format!("result code {c}"),
                None => "a PAP document without a result code".into(),
            },
            m.status().unwrap_or(0),
            escape_bytes(m.raw(), 600)
        ),
    ))
}

#[then("the first push is accepted and the second refused with result code 2007")]
async fn duplicate_refused(w: &mut LiaisonWorld) -> StepResult {
    let first = w
        .push
        .submissions
        .first()
        .cloned()
        .ok_or_else(|| w.fail("two submissions", "none"))?;
    // The premise: the first push was accepted (its push-id echo is PUSH-1's concern).
    let code = result_code(&first);
    if !matches!(code, Some(1000) | Some(1001)) {
        return Err(w.fail(
            format!(
                "the first submission (push-id {}) accepted with 1000 or 1001",
                first.push_id
            ),
            first.outcome.describe(),
        ));
    }
    refused(w, 2007).await
}

/// The scenario's submit_sm PDUs (those that carry one of its keys: the
/// number pushed to, or a push-id in the content) in `log`, and the
/// datagrams they make.
fn datagrams_in(
    w: &LiaisonWorld,
    log: &[SmppArrival],
) -> (Vec<Datagram>, Vec<String>, Vec<SmppArrival>) {
    let mut r = Reassembler::new();
    let (mut out, mut errors, mut subs) = (Vec::new(), Vec::new(), Vec::new());
    for a in log {
        let Ok(p) = &a.pdu else { continue };
        if p.header.command_id != command::SUBMIT_SM || !ours(w, &a.bytes) {
            continue;
        }
        let Some(sm) = p.sm() else { continue };
        subs.push(a.clone());
        match r.push(&sm.destination_addr, sm.payload(), sm.udhi()) {
            Ok(Some(d)) => out.push(d),
            Ok(None) => {}
            Err(e) => errors.push(format!("{e} in {}", a.describe())),
        }
    }
    errors.extend(r.incomplete());
    (out, errors, subs)
}

/// [`datagrams_in`] the harness SMSC's log now.
fn datagrams(w: &LiaisonWorld, h: &PushHarness) -> (Vec<Datagram>, Vec<String>, Vec<SmppArrival>) {
    datagrams_in(w, &h.smsc.as_ref().map(|s| s.log()).unwrap_or_default())
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn describe_subs(subs: &[SmppArrival]) -> String {
    if subs.is_empty() {
        return "no submit_sm".into();
    }
    subs.iter()
        .map(SmppArrival::describe)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Does a WSP application id name `expected` (a registry URN or its code)?
fn app_matches(got: Option<&AppId>, expected: &str) -> bool {
    let Some(got) = got else { return false };
    let code = AppId::code_of(expected).or_else(|| expected.parse().ok());
    match got {
        AppId::Code(c) => Some(*c) == code,
        AppId::Text(t) => {
            t.eq_ignore_ascii_case(expected)
                || (t.parse::<u32>().ok().is_some() && t.parse::<u32>().ok() == code)
        }
    }
}

fn media_of(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Waits for the datagram to the submission's number and judges it as a WSP push.
async fn judge_sms(w: &LiaisonWorld, s: &Submission) -> Result<(Datagram, PushPdu), Failure> {
    let h = harness(w)?;
    let smsc = h
        .smsc
        .as_ref()
        .ok_or_else(|| w.fail("the harness SMSC (ppg bearer sms)", "none"))?;
    let n = s.number.clone().unwrap_or_default();
    let for_n = |ds: &[Datagram]| ds.iter().find(|d| digits(&d.destination) == n).cloned();
    smsc.wait_for(
        w.deadline,
        |log| for_n(&datagrams_in(w, log).0).is_some(),
        false,
    )
    .await;
    let (ds, errors, subs) = datagrams(w, &h);
    let expected = format!(
        "a WDP datagram over SMS to +{n} (submit_sm with UDH port addressing) carrying push-id {}'s content",
        s.push_id
    );
    let Some(d) = for_n(&ds) else {
        return Err(w.fail(
            expected,
            format!(
                "none within the scenario time{}; the scenario's submit_sm (its numbers, its push-ids): {}{}",
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errors.join("; "))
                },
                describe_subs(&subs),
                unclaimed(w, &h)
            ),
        ));
    };
    let show = || format!("datagram {}", escape_bytes(&d.data, 400));
    if (d.dest_port, d.orig_port) != (WAP_PUSH_PORT, WAP_WSP_PORT) {
        return Err(w.fail(
            "a connectionless WSP push to port 2948 from port 9200 (WDP over SMS, IE 0x05)",
            format!(
                "ports {} ← {} — {}",
                d.dest_port,
                d.orig_port,
                describe_subs(&subs)
            ),
        ));
    }
    let pdu = PushPdu::parse(&d.data).map_err(|e| {
        w.fail(
            "a WSP Push PDU (TID, 0x06, uintvar headers length, content type, headers, body)",
            format!("{e} — {}", show()),
        )
    })?;
    if pdu.pdu_type != PDU_PUSH {
        return Err(w.fail(
            "an unconfirmed push (PDU type 0x06), since none was asked for",
            format!("PDU type {:#04x} — {}", pdu.pdu_type, show()),
        ));
    }
    Ok((d, pdu))
}

#[then("the content reaches the SMSC as a WSP push to port 2948 with its content type, application id and body unchanged")]
async fn reaches_sms(w: &mut LiaisonWorld) -> StepResult {
    let s = last(w)?.clone();
    let (d, pdu) = judge_sms(w, &s).await?;
    let show = || format!("datagram {}", escape_bytes(&d.data, 400));
    let ct = pdu.content_type.name().map(media_of);
    if ct.as_deref() != Some(media_of(&s.content_type).as_str()) {
        return Err(w.fail(
            format!("the content type {}", s.content_type),
            format!("{:?} — {}", pdu.content_type, show()),
        ));
    }
    if !app_matches(pdu.application_id(), &s.app_id) {
        return Err(w.fail(
            format!("X-Wap-Application-Id {}", s.app_id),
            format!(
                "{} — {}",
                pdu.application_id()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "no X-Wap-Application-Id".into()),
                show()
            ),
        ));
    }
    if pdu.body != s.content {
        return Err(w.fail(
            format!(
                "the {} content bytes as submitted: {}",
                s.content.len(),
                escape_bytes(&s.content, 200)
            ),
            format!(
                "a body of {} bytes: {}",
                pdu.body.len(),
                escape_bytes(&pdu.body, 400)
            ),
        ));
    }
    Ok(())
}

#[then("the pushed M-Notification.ind decodes to the fields that were submitted")]
async fn notification_fields(w: &mut LiaisonWorld) -> StepResult {
    use crate::codec::mms::Pdu;
    let s = last(w)?.clone();
    let sent = w
        .push
        .notification
        .clone()
        .ok_or_else(|| w.fail("an M-Notification.ind submitted earlier", "none"))?;
    let (_, pdu) = judge_sms(w, &s).await?;
    let got = Pdu::parse(&pdu.body).map_err(|e| {
        w.fail(
            "the pushed body to decode as an M-Notification.ind (OMA MMS ENC §6.2)",
            format!("{e} — bytes: {}", escape_bytes(&pdu.body, 400)),
        )
    })?;
    let fields = |p: &Pdu| {
        vec![
            ("X-Mms-Message-Type", format!("{:?}", p.message_type())),
            ("X-Mms-Transaction-ID", format!("{:?}", p.transaction_id())),
            ("X-Mms-MMS-Version", format!("{:?}", p.version())),
            ("From", format!("{:?}", p.from())),
            ("Subject", format!("{:?}", p.subject())),
            ("X-Mms-Message-Class", format!("{:?}", p.message_class())),
            ("X-Mms-Message-Size", format!("{:?}", p.message_size())),
            ("X-Mms-Expiry", format!("{:?}", p.expiry())),
            (
                "X-Mms-Content-Location",
                format!("{:?}", p.content_location()),
            ),
        ]
    };
    let diffs: Vec<String> = fields(&sent)
        .into_iter()
        .zip(fields(&got))
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("{}: sent {}, came {}", a.0, a.1, b.1))
        .collect();
    if diffs.is_empty() && got.order_violations().is_empty() {
        Ok(())
    } else {
        Err(w.fail(
            format!("the submitted M-Notification.ind: {}", sent.summary()),
            format!(
                "{}{} — bytes: {}",
                diffs.join("; "),
                got.order_violations()
                    .iter()
                    .map(|e| format!("; {e}"))
                    .collect::<String>(),
                escape_bytes(&pdu.body, 400)
            ),
        ))
    }
}

#[then(expr = "it arrived in {int} or more concatenated short messages")]
async fn segmented(w: &mut LiaisonWorld, min: u8) -> StepResult {
    let s = last(w)?.clone();
    let (d, _) = judge_sms(w, &s).await?;
    if d.segments >= min {
        Ok(())
    } else {
        Err(w.fail(
            format!("at least {min} short messages (the content exceeds one SMS)"),
            format!("{}", d.segments),
        ))
    }
}

#[then("the content reaches the OTA-HTTP target with its content type, application id and body unchanged")]
async fn reaches_ota(w: &mut LiaisonWorld) -> StepResult {
    let s = last(w)?.clone();
    let h = harness(w)?;
    let (ota, over) = if w.push.ota_tls {
        let t = h.ota_tls.as_ref().ok_or_else(|| {
            w.fail(
                "the harness OTA-HTTP target over TLS (ppg.ota_https)",
                "none",
            )
        })?;
        (&t.server, " over TLS")
    } else {
        let t = h
            .ota
            .as_ref()
            .ok_or_else(|| w.fail("the harness OTA-HTTP target (ppg bearer http)", "none"))?;
        (t, "")
    };
    // The push for this submission: the request that carries its push-id
    // (the content names it; the address, the target's IP, is everybody's).
    // Over TLS, the request as it was decrypted; plaintext on the TLS port
    // is a failed arrival with those bytes, which this finds too.
    let id = s.push_id.as_bytes();
    let for_id =
        |a: &crate::roles::ota_target::OtaArrival| contains(&a.bytes, id) || contains(a.body(), id);
    ota.wait_for(w.deadline, |log| log.iter().any(for_id)).await;
    let log: Vec<_> = ota.log().into_iter().filter(for_id).collect();
    let expected = format!(
        "an OTA-HTTP push{over} (POST, Content-Type application/http, X-Wap-Push-OTA-Version 1.0, an embedded HTTP response with Content-Type {}, X-Wap-Application-Id {} and the content) for push-id {}",
        s.content_type, s.app_id, s.push_id
    );
    let Some(a) = log.first() else {
        // What else came to the target since the scenario began: over
        // TLS, everything (the scenario holds the target), a handshake
        // that failed with its reason and bytes among it.
        let others: Vec<String> = if w.push.ota_tls {
            ota.log()
                .iter()
                .filter(|a| a.at >= w.started)
                .map(|a| a.describe())
                .collect()
        } else {
            Vec::new()
        };
        let others = if others.is_empty() {
            String::new()
        } else {
            format!(
                "; what came to the TLS target since the scenario began: {}",
                others.join(" | ")
            )
        };
        return Err(w.fail(
            expected,
            format!(
                "no request at the OTA-HTTP target{over} with push-id {}'s content within the scenario time{others}{}",
                s.push_id,
                unclaimed(w, &h)
            ),
        ));
    };
    let came = || a.describe();
    let m = a.msg.as_ref().map_err(|_| w.fail(&expected, came()))?;
    let ct = m.header("content-type").map(media_of);
    let ver = m.header("x-wap-push-ota-version").map(str::trim);
    if m.method() != Some("POST") || ct.as_deref() != Some("application/http") || ver != Some("1.0")
    {
        return Err(w.fail(&expected, came()));
    }
    let inner = HttpMessage::parse(&m.body)
        .or_else(|_| HttpMessage::parse_at_close(&m.body))
        .map_err(|e| {
            w.fail(
                &expected,
                format!("an embedded message that does not parse ({e}) — {}", came()),
            )
        })?;
    let inner_ct = inner.header("content-type").map(media_of);
    let app = inner.header("x-wap-application-id").unwrap_or("");
    let app_ok = app.eq_ignore_ascii_case(&s.app_id)
        || (AppId::code_of(&s.app_id).is_some() && app.parse().ok() == AppId::code_of(&s.app_id));
    if inner.status().is_none()
        || inner_ct.as_deref() != Some(media_of(&s.content_type).as_str())
        || !app_ok
        || inner.body != s.content
    {
        return Err(w.fail(&expected, came()));
    }
    Ok(())
}

#[then("the content reaches the SIP device as a MESSAGE with the application's feature tag, its content type and body unchanged")]
async fn reaches_sip(w: &mut LiaisonWorld) -> StepResult {
    let s = last(w)?.clone();
    let h = harness(w)?;
    let plain = h
        .sip
        .as_ref()
        .ok_or_else(|| w.fail("the harness SIP device (ppg bearer sip)", "none"))?;
    let (sip, scheme, over) = if w.push.sip_tls {
        let t = h
            .sip_tls
            .as_ref()
            .ok_or_else(|| w.fail("the harness SIP device over TLS (ppg.sip_tls)", "none"))?;
        (
            &t.device,
            "sips",
            " over TLS (RFC 5630: a sips: request never in the clear)",
        )
    } else {
        (plain, "sip", "")
    };
    let n = s.number.clone().unwrap_or_default();
    let here = sip.wait_for(w.deadline, |log| log.iter().any(|d| d.number == n));
    if w.push.sip_tls {
        // Or in the clear at the plain device, which ends the wait too.
        let there = plain.wait_for(w.deadline, |log| log.iter().any(|d| d.number == n));
        tokio::select! {
            _ = here => {}
            _ = there => {}
        }
    } else {
        here.await;
    }
    let short = s.app_id.rsplit(':').next().unwrap_or(&s.app_id).to_string();
    let expected = format!(
        "a SIP MESSAGE for {scheme}:+{n}@…{over} with Accept-Contact +g.oma.pusheventapp=\"{short}\", Content-Type {} and the content",
        s.content_type
    );
    let log = sip.log();
    let Some(d) = log.iter().find(|d| d.number == n && !d.retransmission) else {
        // Over TLS: the push may have come in the clear to the plain
        // device, or a handshake failed at the TLS one.
        let mut elsewhere = String::new();
        if w.push.sip_tls {
            if let Some(d) = plain.log().iter().find(|d| d.number == n) {
                elsewhere = format!(
                    "; it came in the clear over {:?} to ppg.sip_target: {} — bytes: {}",
                    d.incoming.transport,
                    d.incoming.describe(),
                    escape_bytes(&d.incoming.bytes, 400)
                );
            }
            let events = sip.ep.transport_events();
            if !events.is_empty() {
                elsewhere.push_str(&format!("; at the TLS device: {}", events.join(" | ")));
            }
        }
        return Err(w.fail(
            expected,
            format!(
                "no SIP request for that number{over} within the scenario time{elsewhere}{}",
                unclaimed(w, &h)
            ),
        ));
    };
    if w.push.sip_tls && d.incoming.transport != crate::net::Transport::Tls {
        return Err(w.fail(
            &expected,
            format!(
                "it came over {:?}: {}",
                d.incoming.transport,
                crate::steps::world::describe_incoming(&d.incoming)
            ),
        ));
    }
    let came = || crate::steps::world::describe_incoming(&d.incoming);
    let Ok(m) = &d.incoming.msg else {
        return Err(w.fail(&expected, came()));
    };
    let tag_ok = m.header_all("Accept-Contact").iter().any(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("+g.oma.pusheventapp")
            && (v.contains(&format!("\"{}\"", short.to_ascii_lowercase()))
                || v.contains(&format!("\"{}\"", s.app_id.to_ascii_lowercase())))
    });
    let ct_ok = m.header("Content-Type").map(media_of) == Some(media_of(&s.content_type));
    if m.method() != Some("MESSAGE") || !tag_ok || !ct_ok || m.body() != s.content.as_slice() {
        return Err(w.fail(&expected, came()));
    }
    Ok(())
}

/// The result code of a submission's PAP answer, when it has one.
fn result_code(s: &Submission) -> Option<u16> {
    let m = s.outcome.response()?;
    match PapMessage::parse(&m.body).ok()? {
        PapMessage::PushResponse(r) => Some(r.code),
        PapMessage::BadMessageResponse(r) => Some(r.code),
        _ => None,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Bearer traffic that belongs to submission `s` (its number, or its
/// push-id inside the content: both its own), one line each.
fn traffic_of(h: &PushHarness, s: &Submission) -> Vec<String> {
    let id = s.push_id.as_bytes();
    let ours_n = |d: &str| s.number.as_deref().is_some_and(|n| digits(d) == n);
    let mut out = Vec::new();
    if let Some(smsc) = &h.smsc {
        out.extend(
            smsc.log()
                .iter()
                .filter(|a| {
                    a.pdu.as_ref().is_ok_and(|p| {
                        p.sm().is_some_and(|sm| {
                            p.header.command_id == command::SUBMIT_SM
                                && (ours_n(&sm.destination_addr) || contains(sm.payload(), id))
                        })
                    })
                })
                .map(|a| format!("SMSC: {}", a.describe())),
        );
    }
    if let Some(ota) = &h.ota {
        out.extend(
            ota.log()
                .iter()
                .filter(|a| contains(&a.bytes, id) || contains(a.body(), id))
                .map(|a| format!("OTA-HTTP: {}", a.describe())),
        );
    }
    if let Some(t) = &h.ota_tls {
        out.extend(
            t.server
                .log()
                .iter()
                .filter(|a| contains(&a.bytes, id) || contains(a.body(), id))
                .map(|a| format!("OTA-HTTP over TLS: {}", a.describe())),
        );
    }
    if let Some(sip) = &h.sip {
        out.extend(
            sip.log()
                .iter()
                .filter(|d| !d.retransmission)
                .filter(|d| ours_n(&d.number) || contains(&d.incoming.bytes, id))
                .map(|d| {
                    format!(
                        "SIP: {}",
                        crate::steps::world::describe_incoming(&d.incoming)
                    )
                }),
        );
    }
    out
}

#[then("none of the submissions the PPG refused reaches any bearer")]
async fn refused_reach_nothing(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let subs = w.push.submissions.clone();
    let refused: Vec<&Submission> = subs
        .iter()
        .filter(|s| result_code(s).is_some_and(|c| c >= 2000))
        .collect();
    if refused.is_empty() {
        return Err(w.fail(
            "at least one submission refused with a 2xxx result code, to check that it reached no bearer",
            subs.iter()
                .map(|s| format!("push-id {}: {}", s.push_id, s.outcome.describe()))
                .collect::<Vec<_>>()
                .join(" | "),
        ));
    }
    for s in refused {
        let t = traffic_of(&h, s);
        if !t.is_empty() {
            return Err(w.fail(
                format!(
                    "nothing on any bearer for push-id {}, refused with result code {} (waited {} ms)",
                    s.push_id,
                    result_code(s).unwrap_or(0),
                    settle(w).as_millis()
                ),
                format!("{}{}", t.join(" | "), unclaimed(w, &h)),
            ));
        }
    }
    Ok(())
}

#[then("the content reaches the SMSC exactly once")]
async fn exactly_once(w: &mut LiaisonWorld) -> StepResult {
    let s = last(w)?.clone();
    let h = harness(w)?;
    let n = s.number.clone().unwrap_or_default();
    // A push of this content: a datagram to its number, or one that carries
    // its push-id (the content names it) wherever it went.
    let id = s.push_id.as_bytes();
    let count = |w: &LiaisonWorld| {
        let (ds, _, subs) = datagrams(w, &h);
        (
            ds.iter()
                .filter(|d| digits(&d.destination) == n || contains(&d.data, id))
                .count(),
            subs,
        )
    };
    // Wait for the first push (whatever its form: its form is PUSH-2's), then
    // give a second one time to show.
    if let Some(smsc) = &h.smsc {
        smsc.wait_for(
            w.deadline,
            |log| {
                log.iter().any(|a| {
                    a.pdu.as_ref().is_ok_and(|p| {
                        p.sm().is_some_and(|sm| {
                            p.header.command_id == command::SUBMIT_SM
                                && (digits(&sm.destination_addr) == n || contains(sm.payload(), id))
                        })
                    })
                })
            },
            false,
        )
        .await;
    }
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let (c, subs) = count(w);
    if c == 1 {
        Ok(())
    } else {
        Err(w.fail(
            format!("the content pushed to +{n} once: a push-id refused as a duplicate is not pushed again"),
            format!("{c} pushes — {}{}", describe_subs(&subs), unclaimed(w, &h)),
        ))
    }
}
