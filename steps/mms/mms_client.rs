//! mms-client scenarios (seed 000): the harness is the MMS Relay/Server
//! (MMSC) the client is configured with. It puts an MM (an M-Retrieve.conf)
//! at a fresh Content-Location, pushes an M-Notification.ind to the client —
//! a connectionless WSP push in a UDP datagram (WDP over IP) or a SIP MESSAGE
//! (Push over SIP) — and judges what the client does, from the raw HTTP
//! requests the server logged: the GET (its URL against the Content-Location),
//! the M-NotifyResp.ind / M-Acknowledge.ind it POSTs (decoded with the MMS
//! codec: message type, Transaction-ID, status), and their order.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::mms::{
    Address, Body, ContentType, EncodedString, Field, FromValue, Header, MessageClass, MessageType,
    Part, Pdu, PduBuilder, RetrieveStatus, Status, TimeValue,
};
use crate::codec::sip::token;
use crate::codec::wsp::{self, AppId};
use crate::harness::MmsClientHarness;
use crate::profile::MmsClientSection;
use crate::roles::mms_server::{self, MmsArrival, MmsClaim, MMS_MEDIA};
use crate::roles::transaction::ClientResult;
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// An MM the scenario put on the server.
#[derive(Debug, Clone)]
pub struct Mm {
    pub from: String,
    pub to: String,
    pub location: String,
    /// The Transaction-ID of its M-Retrieve.conf (what an M-Acknowledge.ind echoes).
    pub retrieve_tid: String,
}

/// One push the scenario made.
#[derive(Debug, Clone)]
pub struct Notified {
    /// The notification's Transaction-ID (None: the PDU has none).
    pub tid: Option<String>,
    /// The MM it announces (None for a malformed notification).
    pub mm: Option<Mm>,
    /// `WAP Push` or `Push over SIP`.
    pub bearer: &'static str,
    pub app_id: String,
    /// Is it a well-formed notification for mms.ua (one the client must act on)?
    pub valid: bool,
    pub at: Instant,
    /// Exactly what was sent: the UDP datagram or the SIP request.
    pub sent: Vec<u8>,
    /// Push over SIP: the MESSAGE transaction.
    pub sip: Option<ClientResult>,
    /// A transport error while pushing.
    pub error: Option<String>,
    /// A malformed notification cut inside its Content-Location: the whole
    /// URL it was cut from (a GET of any prefix of it is driven by it).
    pub cut_location: Option<String>,
}

/// Per-scenario state.
#[derive(Default)]
pub struct MmsClient {
    /// The MM put on the server and not yet announced.
    pub waiting: Option<Mm>,
    pub notified: Vec<Notified>,
    /// The X-Mms-Applic-ID of the waiting MM (its notification carries it too).
    pub applic_id: Option<String>,
    /// The M-Retrieve.conf of an MM for an application, as served.
    pub served: Option<Vec<u8>>,
    /// ADDR-9: the MM the user was made to send (the address typed, the
    /// text, when the trigger was answered).
    pub sent: Option<(String, String, Instant)>,
    /// The scenario's share of the run's MMS server: the requests that
    /// carry its keys (Content-Location tokens, Transaction-IDs, the text
    /// it sent), in its log and its pcap.
    pub claim: Option<MmsClaim>,
}

const MMS_UA: &str = "x-wap-application:mms.ua";

fn harness(w: &LiaisonWorld) -> Result<Arc<MmsClientHarness>, Failure> {
    w.ctx.mms_client.clone().ok_or_else(|| {
        w.fail(
            "the harness MMS Relay/Server of an mms-client (profile section mms_client)",
            "none",
        )
    })
}

fn section(w: &LiaisonWorld) -> Result<MmsClientSection, Failure> {
    w.ctx
        .profile
        .mms_client
        .clone()
        .ok_or_else(|| w.fail("an mms_client section in the profile", "none"))
}

/// The scenario's share of the MMS server (taken by the first step).
fn claim(w: &LiaisonWorld) -> Result<&MmsClaim, Failure> {
    w.mms_client.claim.as_ref().ok_or_else(|| {
        w.fail(
            "the scenario's share of the harness MMS Relay/Server (the step `the harness plays the MMS Relay/Server the client is configured with` first)",
            "none",
        )
    })
}

/// How long a wrong reaction is given to show.
fn settle(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10).max(Duration::from_millis(200))
}

/// An address as the scenario names it, written as the profile declares SIP
/// URIs (`raw` as is, `escaped` as `…/TYPE=SIP`).
fn render(s: &MmsClientSection, text: &str) -> String {
    let text = if text == "the client's SIP URI" {
        s.sip_uri()
    } else {
        text.to_string()
    };
    let lower = text.to_ascii_lowercase();
    if (lower.starts_with("sip:") || lower.starts_with("sips:")) && s.address_form() == "escaped" {
        Address::typed("SIP", &text).to_string()
    } else {
        text
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Puts an MM from `from` to `to` (as written on the wire) on the server,
/// its Content-Location and Transaction-ID the scenario's keys.
fn put_mm(c: &MmsClaim, from: &str, to: &str) -> Mm {
    put_mm_at(c, c.new_location(), from, to)
}

/// [`put_mm`] at `location` (one of the claim's, its token a key).
fn put_mm_at(c: &MmsClaim, location: String, from: &str, to: &str) -> Mm {
    let retrieve_tid = format!("R{}", token());
    c.key(&retrieve_tid);
    let pdu = PduBuilder::retrieve_conf(
        now_secs(),
        ContentType::well_known(crate::codec::mms::body::MULTIPART_MIXED),
        Body::Multipart(vec![Part::text(&format!("liaison MM {retrieve_tid}"))]),
    )
    .transaction_id(&retrieve_tid)
    .message_id(&format!("{}@mmsc.liaison.test", token()))
    .header(Header::From(FromValue::Address(EncodedString::plain(from))))
    .header(Header::Encoded(Field::TO, EncodedString::plain(to)))
    .subject("liaison")
    .message_class(MessageClass::Personal)
    .retrieve_status(RetrieveStatus::OK)
    .build()
    .encode();
    c.put(&location, pdu);
    Mm {
        from: from.to_string(),
        to: to.to_string(),
        location,
        retrieve_tid,
    }
}

/// A fresh notification Transaction-ID, the scenario's key: a report
/// carrying it is this scenario's, whenever it comes.
fn new_tid(c: &MmsClaim) -> String {
    let tid = format!("T{}", token());
    c.key(&tid);
    tid
}

/// An M-Notification.ind for `mm` (all mandatory fields, From and Subject).
fn notification(mm: &Mm, tid: &str) -> Vec<u8> {
    notification_for(mm, tid, None)
}

/// The same, with an X-Mms-Applic-ID when the MM is for an application.
fn notification_for(mm: &Mm, tid: &str, app: Option<&str>) -> Vec<u8> {
    let mut b = PduBuilder::notification_ind(tid, &mm.location, 1024, TimeValue::Relative(86_400))
        .header(Header::From(FromValue::Address(EncodedString::plain(
            &mm.from,
        ))))
        .subject("liaison");
    if let Some(a) = app {
        b = b.applic_id(a);
    }
    b.build().encode()
}

fn wsp_app(app: &str) -> AppId {
    AppId::code_of(app).map_or_else(|| AppId::Text(app.to_string()), AppId::Code)
}

/// Pushes `content` (an MMS PDU, or bytes that are not one) to the client.
async fn push(
    w: &mut LiaisonWorld,
    bearer: &str,
    app: &str,
    content: &[u8],
) -> Result<Notified, Failure> {
    static WSP_TID: AtomicU8 = AtomicU8::new(0);
    let s = section(w)?;
    let bearer: &'static str = match bearer {
        "WAP Push" => "WAP Push",
        "Push over SIP" => "Push over SIP",
        "Push over SIP over TLS" => "Push over SIP over TLS",
        _ if s.wap_push.is_some() => "WAP Push",
        _ => "Push over SIP",
    };
    let at = Instant::now();
    let mut n = Notified {
        tid: None,
        mm: None,
        bearer,
        app_id: app.to_string(),
        valid: false,
        at,
        sent: Vec::new(),
        sip: None,
        error: None,
        cut_location: None,
    };
    if bearer == "WAP Push" {
        let dst = s
            .wap_push
            .ok_or_else(|| w.fail("mms_client.wap_push in the profile", "none"))?;
        let datagram = wsp::push_pdu(
            WSP_TID.fetch_add(1, Ordering::Relaxed),
            wsp::ContentType::WellKnown(wsp::media::MMS_MESSAGE),
            wsp_app(app),
            content,
        );
        if let Err(e) =
            mms_server::wdp_push(w.ctx.profile.harness_ip, dst, &w.capture, &datagram).await
        {
            n.error = Some(e.to_string());
        }
        n.sent = datagram;
    } else if bearer == "Push over SIP over TLS" {
        // RFC 3261 §26.2: a TLS connection to the client's sip_push_tls,
        // its certificate checked as the profile's tls section says.
        let dst = s
            .sip_push_tls
            .ok_or_else(|| w.fail("mms_client.sip_push_tls in the profile", "none"))?;
        let ep = w.endpoint().await?;
        let tls = crate::steps::sip::run_tls(w)?;
        let name = tls.server_name_for(dst);
        if let Err(e) = ep.connect_tls(dst, &name, &tls.client).await {
            return Err(w.fail(
                format!("the client to complete a TLS handshake at {dst} (mms_client.sip_push_tls) for `{name}`, its certificate valid as {} (RFC 3261 §26.3.1)", tls.check),
                e,
            ));
        }
        let short = app.rsplit(':').next().unwrap_or(app);
        let push = mms_server::SipPush {
            request_uri: &s.sip_uri(),
            app: short,
            content_type: MMS_MEDIA,
            body: content,
        };
        let r = mms_server::sip_push_over(
            &ep,
            crate::net::Transport::Tls,
            w.timers,
            dst,
            push,
            w.deadline,
        )
        .await;
        n.sent = r.request.clone();
        n.error = r.send_error.clone();
        n.sip = Some(r);
    } else {
        let dst = s
            .sip_push
            .ok_or_else(|| w.fail("mms_client.sip_push in the profile", "none"))?;
        let ep = w.endpoint().await?;
        let short = app.rsplit(':').next().unwrap_or(app);
        let r = mms_server::sip_push(
            &ep,
            w.timers,
            dst,
            &s.sip_uri(),
            short,
            MMS_MEDIA,
            content,
            w.deadline,
        )
        .await;
        n.sent = r.request.clone();
        n.error = r.send_error.clone();
        n.sip = Some(r);
    }
    Ok(n)
}

/// One line on a push for a verdict: bearer, what was sent, the SIP answer.
fn describe_push(n: &Notified) -> String {
    let mut s = format!(
        "{} for {} — bytes: {}",
        n.bearer,
        n.app_id,
        escape_bytes(&n.sent, 300)
    );
    if let Some(e) = &n.error {
        s.push_str(&format!("; transport error: {e}"));
    }
    if let Some(r) = &n.sip {
        s.push_str(&match r.final_incoming() {
            Some(i) => format!(
                "; SIP answer: {}",
                crate::steps::world::describe_incoming(i)
            ),
            None => "; no final SIP answer".into(),
        });
    }
    s
}

fn describe_log(log: &[MmsArrival]) -> String {
    if log.is_empty() {
        return "no request for this scenario at the MMS server".into();
    }
    log.iter()
        .map(MmsArrival::describe)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The scenario's requests at the MMS server since `since`, and beside them
/// those that carried no scenario's key meanwhile (a URL or
/// Transaction-ID the client changed or made up: any scenario running then
/// may have driven them, so they are shown, not judged).
fn describe_since(c: &MmsClaim, since: Instant) -> String {
    let mut s = describe_log(&c.log_since(since));
    let nobodys = c.nobodys_since(since);
    if !nobodys.is_empty() {
        s.push_str(&format!(
            "; requests that carried no scenario's Content-Location, Transaction-ID or text meanwhile: {}",
            describe_log(&nobodys)
        ));
    }
    s
}

/// An MMS PDU the client POSTed (in the scenario's log: it carries one
/// of the scenario's keys).
fn posted(a: &MmsArrival) -> Option<Pdu> {
    let m = a.msg.as_ref().ok()?;
    if m.method() != Some("POST") {
        return None;
    }
    Pdu::parse(&m.body).ok()
}

fn is_get(a: &MmsArrival) -> bool {
    a.method() == Some("GET")
}

/// An M-NotifyResp.ind other than Deferred for Transaction-ID `tid`: the
/// client has settled its answer, so a fetch still missing is given
/// `settle` from then on, not the rest of the scenario time.
fn answered(a: &MmsArrival, tid: &str) -> bool {
    posted(a).is_some_and(|p| {
        p.message_type() == Some(MessageType::NOTIFYRESP_IND)
            && p.transaction_id() == Some(tid)
            && p.status() != Some(Status::DEFERRED)
    })
}

fn last_valid(w: &LiaisonWorld) -> Result<Notified, Failure> {
    w.mms_client
        .notified
        .iter()
        .rev()
        .find(|n| n.valid)
        .cloned()
        .ok_or_else(|| w.fail("a notification pushed earlier in the scenario", "none"))
}

#[given("the harness plays the MMS Relay/Server the client is configured with")]
async fn plays_mmsc(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    // The run's server serves scenarios side by side: this one's requests
    // are those that carry its keys (given as it makes them up).
    w.mms_client.claim = Some(h.server.claim(&w.capture));
    Ok(())
}

#[given(expr = "an MM from {string} to {string} waits at the MMS server")]
#[when(expr = "an MM from {string} to {string} waits at the MMS server")]
async fn mm_waits(w: &mut LiaisonWorld, from: String, to: String) -> StepResult {
    let s = section(w)?;
    let mm = put_mm(claim(w)?, &render(&s, &from), &render(&s, &to));
    w.mms_client.waiting = Some(mm);
    Ok(())
}

/// An MM at an `https://` Content-Location: a TLS listener of this
/// scenario beside the MMS server (the harness's certificate from the
/// run's lab CA; the records and secrets in this scenario's pcap), open
/// until the scenario's deadline.
#[given(
    regex = r#"^an MM from "([^"]*)" to "([^"]*)" waits at an https:// Content-Location of the MMS server$"#
)]
async fn mm_waits_https(w: &mut LiaisonWorld, from: String, to: String) -> StepResult {
    let s = section(w)?;
    let tls = crate::steps::sip::run_tls(w)?;
    let at = claim(w)?
        .listen_tls(tls.server.clone(), w.capture.clone(), w.deadline)
        .await
        .map_err(|e| {
            w.fail(
                "a TLS listener beside the harness MMS Relay/Server for the https:// Content-Location",
                e,
            )
        })?;
    let c = claim(w)?;
    let location = c.new_https_location(at);
    let mm = put_mm_at(c, location, &render(&s, &from), &render(&s, &to));
    w.mms_client.waiting = Some(mm);
    Ok(())
}

#[when(
    regex = r"^the MMS server notifies the client by (WAP Push|Push over SIP over TLS|Push over SIP|its push bearer)$"
)]
async fn notifies(w: &mut LiaisonWorld, bearer: String) -> StepResult {
    let mm = w
        .mms_client
        .waiting
        .take()
        .ok_or_else(|| w.fail("an MM waiting at the MMS server", "none"))?;
    let tid = new_tid(claim(w)?);
    let content = match w.mms_client.applic_id.take() {
        Some(app) => notification_for(&mm, &tid, Some(&app)),
        None => notification(&mm, &tid),
    };
    let mut n = push(w, &bearer, MMS_UA, &content).await?;
    n.tid = Some(tid);
    n.mm = Some(mm);
    n.valid = true;
    w.mms_client.notified.push(n);
    Ok(())
}

#[when(expr = "the MMS server pushes a notification by WAP Push for the application {string}")]
async fn pushes_for_app(w: &mut LiaisonWorld, app: String) -> StepResult {
    let c = claim(w)?;
    let mm = put_mm(c, "+15550000001/TYPE=PLMN", "+15550000002/TYPE=PLMN");
    let tid = new_tid(c);
    let content = notification(&mm, &tid);
    let mut n = push(w, "WAP Push", &app, &content).await?;
    n.tid = Some(tid);
    n.mm = Some(mm);
    n.valid = true;
    w.mms_client.notified.push(n);
    Ok(())
}

#[when(
    regex = r"^the MMS server pushes a notification (without X-Mms-Content-Location|cut off inside X-Mms-Content-Location|that is not an MMS PDU) by its push bearer$"
)]
async fn pushes_malformed(w: &mut LiaisonWorld, how: String) -> StepResult {
    let c = claim(w)?;
    let tid = new_tid(c);
    let mut cut_location = None;
    let (content, has_tid) = match how.as_str() {
        "without X-Mms-Content-Location" => (
            PduBuilder::new(MessageType::NOTIFICATION_IND)
                .transaction_id(&tid)
                .message_class(MessageClass::Personal)
                .message_size(1024)
                .expiry(TimeValue::Relative(86_400))
                .header(Header::From(FromValue::Address(EncodedString::plain(
                    "+15550000001/TYPE=PLMN",
                ))))
                .build()
                .encode(),
            true,
        ),
        "cut off inside X-Mms-Content-Location" => {
            // Content-Location last, then cut in the middle of its text (no
            // NUL). Its key comes before the cut, so a fetch of what is left
            // is known as this scenario's.
            let location = format!("{}/{}", c.new_location(), token().repeat(4));
            c.put(&location, Vec::new());
            let full =
                PduBuilder::notification_ind(&tid, &location, 1024, TimeValue::Relative(86_400))
                    .build()
                    .encode();
            let cut = full[..full.len() - location.len() / 2].to_vec();
            cut_location = Some(location);
            (cut, true)
        }
        _ => (
            format!("liaison {tid}: these bytes are not an MMS PDU\r\n").into_bytes(),
            false,
        ),
    };
    let mut n = push(w, "its push bearer", MMS_UA, &content).await?;
    n.tid = has_tid.then_some(tid);
    n.cut_location = cut_location;
    w.mms_client.notified.push(n);
    // Give a wrong reaction (a fetch, a crash) time to happen before what follows.
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    Ok(())
}

#[then("the client fetches exactly the notification's Content-Location")]
async fn fetches_location(w: &mut LiaisonWorld) -> StepResult {
    let n = last_valid(w)?;
    let c = claim(w)?;
    let loc =
        n.mm.as_ref()
            .map(|m| m.location.clone())
            .unwrap_or_default();
    let tid = n.tid.clone().unwrap_or_default();
    let right = |a: &MmsArrival| is_get(a) && a.url().as_deref() == Some(loc.as_str());
    // Any GET (or a settled answer, or a connection to an https://
    // Content-Location's port that was not TLS) ends the wait; a wrong one
    // is given a little time to be followed by the right one.
    c.wait_for(w.deadline, |log| {
        log.iter()
            .any(|a| a.at >= n.at && (is_get(a) || answered(a, &tid) || (a.tls && a.msg.is_err())))
    })
    .await;
    if !c.log_since(n.at).iter().any(right) {
        let until = (Instant::now() + settle(w)).min(w.deadline);
        c.wait_for(until, |log| log.iter().any(|a| a.at >= n.at && right(a)))
            .await;
    }
    let log = c.log_since(n.at);
    if log.iter().any(right) {
        return Ok(());
    }
    let over = if crate::codec::http::url_is_https(&loc) {
        " over TLS (RFC 2818: the client opens TLS to the URL's port and sends the request inside it)"
    } else {
        ""
    };
    Err(w.fail(
        format!(
            "an HTTP GET{over} of exactly the Content-Location {loc} after the M-Notification.ind (Transaction-ID {})",
            n.tid.as_deref().unwrap_or("?")
        ),
        format!(
            "{} — after the {}",
            if let Some(bad) = log.iter().find(|a| a.tls && a.msg.is_err()) {
                bad.describe()
            } else if log.iter().any(is_get) {
                "no GET of that URL".to_string()
            } else {
                format!(
                    "no GET in the {} ms watched after the push",
                    n.at.elapsed().as_millis()
                )
            },
            describe_push(&n)
        ) + &format!("; at the MMS server: {}", describe_since(c, n.at)),
    ))
}

/// A report that ends the wait for the client's answer: an M-NotifyResp.ind
/// with a status other than Deferred, or an M-Acknowledge.ind.
fn decisive(p: &Pdu) -> bool {
    match p.message_type() {
        Some(MessageType::NOTIFYRESP_IND) => p.status() != Some(Status::DEFERRED),
        Some(MessageType::ACKNOWLEDGE_IND) => true,
        _ => false,
    }
}

fn status_of(p: &Pdu) -> String {
    p.status()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "no X-Mms-Status".into())
}

/// What one report of the client says about a notified MM. OMA MMS ENC 1.3
/// §6.2: the M-NotifyResp.ind answers the notification and carries its
/// Transaction-ID; §6.4: after a deferred retrieval the M-Acknowledge.ind
/// confirms it and carries the M-Retrieve.conf's Transaction-ID.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Said {
    /// An M-NotifyResp.ind with this X-Mms-Status (None: without one).
    Status(Option<Status>),
    /// An M-Acknowledge.ind.
    Acknowledged,
}

impl Said {
    /// Deferred is provisional (the client will fetch later); every other
    /// report settles the transaction.
    fn settles(self) -> bool {
        self != Said::Status(Some(Status::DEFERRED))
    }

    /// The outcome it reports: an M-Acknowledge.ind says Retrieved.
    fn outcome(self) -> Option<Status> {
        match self {
            Said::Acknowledged => Some(Status::RETRIEVED),
            Said::Status(s) => s,
        }
    }

    fn describe(self) -> String {
        match self {
            Said::Acknowledged => "an M-Acknowledge.ind".into(),
            Said::Status(Some(s)) => format!("an M-NotifyResp.ind with status {s}"),
            Said::Status(None) => "an M-NotifyResp.ind without X-Mms-Status".into(),
        }
    }
}

/// The reports about `mm`, notified with Transaction-ID `tid`, in arrival
/// order: correlated by identity (the Transaction-IDs they echo), not by time.
fn reports_for<'a>(log: &'a [MmsArrival], tid: &str, mm: &Mm) -> Vec<(&'a MmsArrival, Said)> {
    log.iter()
        .filter_map(|a| {
            let p = posted(a)?;
            match p.message_type()? {
                MessageType::NOTIFYRESP_IND if p.transaction_id() == Some(tid) => {
                    Some((a, Said::Status(p.status())))
                }
                MessageType::ACKNOWLEDGE_IND
                    if p.transaction_id() == Some(mm.retrieve_tid.as_str()) =>
                {
                    Some((a, Said::Acknowledged))
                }
                _ => None,
            }
        })
        .collect()
}

/// Waits for the client's report on the notification `n` (Transaction-ID
/// `tid`, MM `mm`) and then watches on, so that a second report that
/// contradicts the first is seen in this scenario: the wait ends with a
/// report that settles this transaction (or, when another decisive report
/// came instead, `settle` later); the watch lasts `settle` (10 × T1, at
/// least 200 ms) after the settling report.
async fn await_outcome(
    w: &LiaisonWorld,
    c: &MmsClaim,
    n: &Notified,
    tid: &str,
    mm: &Mm,
) -> Vec<MmsArrival> {
    let settled = |log: &[MmsArrival]| {
        reports_for(log, tid, mm)
            .iter()
            .find(|(_, s)| s.settles())
            .map(|(a, _)| a.at)
    };
    let mine = |log: &[MmsArrival]| {
        let log: Vec<MmsArrival> = log.iter().filter(|a| a.at >= n.at).cloned().collect();
        settled(&log).is_some()
    };
    c.wait_for(w.deadline, |log| {
        mine(log)
            || log
                .iter()
                .filter(|a| a.at >= n.at)
                .filter_map(posted)
                .any(|p| decisive(&p))
    })
    .await;
    if settled(&c.log_since(n.at)).is_none() {
        // Something decisive came, not for this transaction: a little longer for its own.
        let until = (Instant::now() + settle(w)).min(w.deadline);
        c.wait_for(until, mine).await;
    }
    let from = settled(&c.log_since(n.at)).unwrap_or_else(Instant::now);
    let until = (from + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    c.log_since(n.at)
}

/// Judges the client's reports on a notification (`came` text on failure):
/// one that settles the transaction is Retrieved (an M-NotifyResp.ind with
/// the notification's Transaction-ID, or after status Deferred an
/// M-Acknowledge.ind with the M-Retrieve.conf's), it follows an answered
/// GET of exactly the notification's Content-Location (OMA MMS ENC §6.2,
/// §6.4: a report of retrieval is a statement that the MM was fetched), and
/// nothing for the same transaction says otherwise afterwards (one
/// transaction, one outcome).
fn judge_retrieval(log: &[MmsArrival], tid: &str, mm: &Mm) -> Result<(), String> {
    let reports = reports_for(log, tid, mm);
    let fetch_before = |at: Instant| {
        log.iter().find(|a| {
            is_get(a)
                && a.url().as_deref() == Some(mm.location.as_str())
                && a.answered == Some(200)
                && a.at < at
        })
    };
    let Some(i) = reports.iter().position(|(_, s)| s.settles()) else {
        let posted_pdus = log
            .iter()
            .filter_map(|a| posted(a).map(|p| format!("{} — {}", p.summary(), a.describe())))
            .collect::<Vec<_>>();
        let others = if posted_pdus.is_empty() {
            String::new()
        } else {
            format!(" (MMS PDUs posted: {})", posted_pdus.join(" | "))
        };
        return Err(if reports.is_empty() {
            format!(
                "no M-NotifyResp.ind with Transaction-ID {tid} within the scenario time{others}"
            )
        } else {
            format!(
                "status Deferred and no M-Acknowledge.ind with Transaction-ID {} after a fetch within the scenario time{others}",
                mm.retrieve_tid
            )
        });
    };
    let (da, ds) = reports[i];
    if let Some((a, s)) = reports[i + 1..]
        .iter()
        .find(|(_, s)| s.outcome() != ds.outcome())
    {
        return Err(format!(
            "two outcomes for one transaction: first {} — {}; then, {} ms later, {} — {}",
            ds.describe(),
            da.describe(),
            a.at.saturating_duration_since(da.at).as_millis(),
            s.describe(),
            a.describe()
        ));
    }
    let deferred_first = i > 0;
    match ds {
        Said::Acknowledged if !deferred_first => Err(format!(
            "an M-Acknowledge.ind with no M-NotifyResp.ind (status Deferred) for Transaction-ID {tid} before it — {}",
            da.describe()
        )),
        Said::Status(Some(Status::RETRIEVED)) if deferred_first => Err(format!(
            "status Deferred, then a second M-NotifyResp.ind (status Retrieved) instead of an M-Acknowledge.ind — {}",
            da.describe()
        )),
        Said::Acknowledged | Said::Status(Some(Status::RETRIEVED)) => {
            if fetch_before(da.at).is_some() {
                return Ok(());
            }
            let later = log.iter().any(|a| {
                is_get(a) && a.url().as_deref() == Some(mm.location.as_str()) && a.at > da.at
            });
            Err(format!(
                "{} {} — {}",
                ds.describe(),
                if later {
                    "before the MM was fetched"
                } else {
                    "without an answered GET of the Content-Location before it"
                },
                da.describe()
            ))
        }
        _ => Err(format!("{} — {}", ds.describe(), da.describe())),
    }
}

#[then(
    "the client acknowledges the MM with the notification's Transaction-ID once it has fetched it"
)]
async fn acknowledges(w: &mut LiaisonWorld) -> StepResult {
    let n = last_valid(w)?;
    let c = claim(w)?;
    let tid = n.tid.clone().unwrap_or_default();
    let mm =
        n.mm.clone()
            .ok_or_else(|| w.fail("a notified MM", "none"))?;
    let log = await_outcome(w, c, &n, &tid, &mm).await;
    judge_retrieval(&log, &tid, &mm).map_err(|why| {
        w.fail(
            format!(
                "after its GET of {} was answered, an M-NotifyResp.ind with X-Mms-Transaction-ID {tid} and X-Mms-Status Retrieved (or, retrieving deferred, status Deferred and then an M-Acknowledge.ind with the M-Retrieve.conf's Transaction-ID {}), and no report contradicting it within {} ms",
                mm.location,
                mm.retrieve_tid,
                settle(w).as_millis()
            ),
            format!("{why}; at the MMS server: {}", describe_since(c, n.at)),
        )
    })
}

#[then("the client reports the MM retrieved, not refused for its addresses")]
async fn retrieved_whatever_addresses(w: &mut LiaisonWorld) -> StepResult {
    let n = last_valid(w)?;
    let c = claim(w)?;
    let tid = n.tid.clone().unwrap_or_default();
    let mm =
        n.mm.clone()
            .ok_or_else(|| w.fail("a notified MM", "none"))?;
    let log = await_outcome(w, c, &n, &tid, &mm).await;
    judge_retrieval(&log, &tid, &mm).map_err(|why| {
        w.fail(
            format!(
                "the notification (From `{}`) and the MM (From `{}`, To `{}`) decoded and the MM reported retrieved: an answered GET of {}, then an M-NotifyResp.ind with Transaction-ID {tid} and status Retrieved (or status Deferred, then after the fetch an M-Acknowledge.ind with Transaction-ID {}), and no report contradicting it within {} ms",
                mm.from,
                mm.from,
                mm.to,
                mm.location,
                mm.retrieve_tid,
                settle(w).as_millis()
            ),
            format!(
                "{why}; after the {}; at the MMS server: {}",
                describe_push(&n),
                describe_since(c, n.at)
            ),
        )
    })
}

#[then("the client fetches the MM of the mms.ua push and nothing for the other application")]
async fn dispatch_by_app_id(w: &mut LiaisonWorld) -> StepResult {
    let c = claim(w)?;
    let pushes = w.mms_client.notified.clone();
    let (Some(other), Some(mms)) = (
        pushes.iter().find(|n| n.app_id != MMS_UA),
        pushes.iter().find(|n| n.app_id == MMS_UA),
    ) else {
        return Err(w.fail(
            "a push for another application and one for mms.ua earlier in the scenario",
            format!("{} push(es)", pushes.len()),
        ));
    };
    let loc_of = |n: &Notified| {
        n.mm.as_ref()
            .map(|m| m.location.clone())
            .unwrap_or_default()
    };
    let (other_loc, mms_loc) = (loc_of(other), loc_of(mms));
    let other_tid = other.tid.clone().unwrap_or_default();
    let mms_tid = mms.tid.clone().unwrap_or_default();
    let first = other.at.min(mms.at);
    let gets = |a: &MmsArrival, loc: &str| is_get(a) && a.url().as_deref() == Some(loc);
    // Acting on the other application's push: a fetch of its Content-Location,
    // or any M-NotifyResp.ind for its Transaction-ID (whatever the status:
    // the client answered a push that was not its own; WAP-230 §8.2.4.1,
    // OMA MMS ENC §6.2).
    let acted_on_other = |a: &MmsArrival| {
        gets(a, &other_loc)
            || posted(a).is_some_and(|p| {
                p.message_type() == Some(MessageType::NOTIFYRESP_IND)
                    && p.transaction_id() == Some(other_tid.as_str())
            })
    };
    // Wait for the mms.ua push's fetch (a fetch of another URL ends the
    // wait too, then the right one is given a little time), and give the
    // other push time to show a reaction.
    c.wait_for(w.deadline, |log| {
        log.iter().any(|a| {
            a.at >= first
                && (gets(a, &mms_loc) || (a.at >= mms.at && (is_get(a) || answered(a, &mms_tid))))
        })
    })
    .await;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    c.wait_for(until, |log| {
        log.iter().any(|a| a.at >= first && gets(a, &mms_loc))
    })
    .await;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let log = c.log_since(first);
    if let Some(a) = log.iter().find(|a| acted_on_other(a)) {
        return Err(w.fail(
            format!(
                "nothing done for the notification pushed with X-Wap-Application-Id {} (Transaction-ID {other_tid}, Content-Location {other_loc}): no fetch and no M-NotifyResp.ind, since no application of the client takes it",
                other.app_id
            ),
            format!(
                "{}{} — after the {}",
                posted(a)
                    .map(|p| format!("{} with status {}: ", p.summary(), status_of(&p)))
                    .unwrap_or_default(),
                a.describe(),
                describe_push(other)
            ),
        ));
    }
    // Fetching its own MM more than once (a retry) is not what PUSH-5 forbids.
    if log.iter().any(|a| gets(a, &mms_loc)) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "a fetch (HTTP GET) of {mms_loc} after the push with X-Wap-Application-Id {MMS_UA}: it is the MMS client's"
        ),
        format!(
            "no GET of that URL within the scenario time; after the {}; at the MMS server: {}",
            describe_push(mms),
            describe_since(c, first)
        ),
    ))
}

#[then(
    "the client answers the malformed notification with status Unrecognised or not at all, fetches nothing for it, and still fetches the next MM"
)]
async fn survives_malformed(w: &mut LiaisonWorld) -> StepResult {
    let c = claim(w)?;
    let pushes = w.mms_client.notified.clone();
    let (Some(bad), Some(next)) = (
        pushes.iter().find(|n| !n.valid),
        pushes.iter().rev().find(|n| n.valid),
    ) else {
        return Err(w.fail(
            "a malformed notification and then a valid one earlier in the scenario",
            format!("{} push(es)", pushes.len()),
        ));
    };
    let loc = next
        .mm
        .as_ref()
        .map(|m| m.location.clone())
        .unwrap_or_default();
    let next_tid = next.tid.clone().unwrap_or_default();
    // What the malformed push drove: anything before the next push, and a GET
    // of what could be read of a cut Content-Location.
    let driven = |a: &MmsArrival| {
        a.at < next.at
            || (is_get(a)
                && bad
                    .cut_location
                    .as_deref()
                    .zip(a.url())
                    .is_some_and(|(full, u)| full.starts_with(&u) && full != u))
    };
    // Alive means acting on that notification: a GET of its Content-Location
    // (a GET of any other URL shows nothing about it).
    let alive = |a: &MmsArrival| {
        a.at >= next.at && is_get(a) && !driven(a) && a.url().as_deref() == Some(loc.as_str())
    };
    // Any fetch ends the wait; a wrong one is given a little time to be followed by the right one.
    c.wait_for(w.deadline, |log| {
        log.iter()
            .any(|a| a.at >= next.at && ((is_get(a) && !driven(a)) || answered(a, &next_tid)))
    })
    .await;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    c.wait_for(until, |log| log.iter().any(alive)).await;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let log = c.log_since(bad.at);
    if let Some(g) = log.iter().find(|a| is_get(a) && driven(a)) {
        return Err(w.fail(
            "no fetch driven by the malformed notification (it names no MM the client can retrieve)",
            format!("{} — after the {}", g.describe(), describe_push(bad)),
        ));
    }
    for (a, p) in log.iter().filter_map(|a| posted(a).map(|p| (a, p))) {
        let for_bad = driven(a) || (bad.tid.is_some() && p.transaction_id() == bad.tid.as_deref());
        if p.message_type() == Some(MessageType::NOTIFYRESP_IND)
            && for_bad
            && p.status() != Some(Status::UNRECOGNISED)
        {
            return Err(w.fail(
                format!(
                    "for the malformed notification{}, an M-NotifyResp.ind with X-Mms-Status Unrecognised, or no answer",
                    bad.tid
                        .as_deref()
                        .map(|t| format!(" (Transaction-ID {t})"))
                        .unwrap_or_default()
                ),
                format!(
                    "{} with status {} — {}; the malformed push: {}",
                    p.summary(),
                    status_of(&p),
                    a.describe(),
                    describe_push(bad)
                ),
            ));
        }
    }
    if log.iter().any(alive) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "the client still working after the malformed notification: a fetch (HTTP GET; {loc}) for the well-formed notification pushed next"
        ),
        format!(
            "no GET of that URL within the scenario time; the malformed push: {}; the next: {}; at the MMS server: {}",
            describe_push(bad),
            describe_push(next),
            describe_since(c, bad.at)
        ),
    ))
}

// ---------------------------------------------------------------------------
// MEM (seed 004 §6.2.1, last step): an MM for an application
// ---------------------------------------------------------------------------

#[given(
    regex = r#"^an MM for the application "([^"]+)" from "([^"]+)" to "([^"]+)" waits at the MMS server$"#
)]
async fn app_mm_waits(w: &mut LiaisonWorld, app: String, from: String, to: String) -> StepResult {
    let c = claim(w)?;
    let s = section(w)?;
    let (from, to) = (render(&s, &from), render(&s, &to));
    let location = c.new_location();
    let retrieve_tid = format!("R{}", token());
    let pdu = PduBuilder::retrieve_conf(
        now_secs(),
        ContentType::named("text/vnd.wap.emn+xml"),
        Body::Single(
            format!(
                "<emn mailbox=\"mailat:bob@mail.liaison.test\"/>\r\n<!-- {retrieve_tid} -->\r\n"
            )
            .into_bytes(),
        ),
    )
    .transaction_id(&retrieve_tid)
    .message_id(&format!("{}@mmsc.liaison.test", token()))
    .header(Header::From(FromValue::Address(EncodedString::plain(
        &from,
    ))))
    .header(Header::Encoded(Field::TO, EncodedString::plain(&to)))
    .subject("liaison MEM notification")
    .message_class(MessageClass::Personal)
    .retrieve_status(RetrieveStatus::OK)
    .applic_id(&app)
    .build()
    .encode();
    c.put(&location, pdu.clone());
    c.key(&retrieve_tid);
    w.mms_client.served = Some(pdu);
    w.mms_client.waiting = Some(Mm {
        from,
        to,
        location,
        retrieve_tid,
    });
    w.mms_client.applic_id = Some(app);
    Ok(())
}

#[then(
    regex = r#"^the client hands the MM to the application "([^"]+)" through the upper tester, and does not show it as an ordinary MM$"#
)]
async fn handed_to_app(w: &mut LiaisonWorld, app: String) -> StepResult {
    let n = last_valid(w)?;
    let h = harness(w)?;
    let Some(upper) = h.upper.as_ref() else {
        return Err(w.fail("the harness upper tester (mms_client.upper_tester)", "none"));
    };
    let mm =
        n.mm.clone()
            .ok_or_else(|| w.fail("a notified MM", "none"))?;
    let served = w.mms_client.served.clone().unwrap_or_default();
    let want = format!("/mms/{app}");
    // Reports about this MM: they carry it, and so its Transaction-ID (the
    // upper tester hears of every scenario's MMs).
    let is_mms = |a: &crate::roles::upper_tester::Handover| {
        a.at >= n.at
            && crate::net::route::carries(&a.bytes, mm.retrieve_tid.as_bytes())
            && a.msg
                .as_ref()
                .ok()
                .and_then(|m| m.target())
                .is_some_and(|t| t == "/mms" || t.starts_with("/mms/"))
    };
    upper
        .wait_for(w.deadline, |log| log.iter().any(is_mms))
        .await;
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let reports: Vec<_> = upper.log().into_iter().filter(|a| is_mms(a)).collect();
    let target = |a: &crate::roles::upper_tester::Handover| {
        a.msg
            .as_ref()
            .ok()
            .and_then(|m| m.target().map(str::to_string))
            .unwrap_or_default()
    };
    let expected = format!(
        "after the fetch of {}, a report POST {want} at the upper tester with the M-Retrieve.conf as served ({} octets), and no POST /mms (shown to the user) for it",
        mm.location,
        served.len()
    );
    let shown = || {
        reports
            .iter()
            .map(|a| a.describe())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if reports.iter().any(|a| target(a) == "/mms") {
        return Err(w.fail(&expected, format!("shown as an ordinary MM: {}", shown())));
    }
    match reports.iter().find(|a| target(a) == want) {
        Some(a) if a.body() == served.as_slice() => Ok(()),
        Some(a) => Err(w.fail(
            &expected,
            format!(
                "a report whose body is not the MM as served: {}",
                a.describe()
            ),
        )),
        None => Err(w.fail(
            &expected,
            if reports.is_empty() {
                format!(
                    "no report within the scenario time; after the {}; at the MMS server: {}",
                    describe_push(&n),
                    describe_since(claim(w)?, n.at)
                )
            } else {
                shown()
            },
        )),
    }
}

// ------------------------------------------------------------ sending (ADDR-9)

#[when(expr = "the client's user sends an MM to the SIP URI {string}")]
async fn user_sends(w: &mut LiaisonWorld, uri: String) -> StepResult {
    let s = section(w)?;
    let Some(trigger) = s.send_trigger else {
        return Err(w.fail(
            "a send trigger in the profile (mms_client.send_trigger)",
            "none",
        ));
    };
    // The text's token is the scenario's key: the M-Send.req that carries
    // it is this scenario's.
    let key = token();
    claim(w)?.key(&key);
    let text = format!("liaison ADDR-9 {key}: an MM to a SIP URI");
    let req = crate::codec::http::request(
        "POST",
        "/mms/send",
        &trigger.to_string(),
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("X-Liaison-To", uri.as_str()),
        ],
        text.as_bytes(),
    );
    let at = Instant::now();
    let out = crate::roles::mms_ua::exchange(trigger, w.capture.clone(), &req, w.deadline).await;
    match out.response().and_then(|r| r.status()) {
        Some(200..=299) => {
            w.mms_client.sent = Some((uri, text, at));
            Ok(())
        }
        _ => Err(w.fail(
            format!("a 2xx to the send trigger POST /mms/send at {trigger} (the suite's interface, README)"),
            out.describe(),
        )),
    }
}

#[then("the MMS server receives the client's M-Send.req with that SIP URI in To, in the declared form, and the text")]
async fn receives_send_req(w: &mut LiaisonWorld) -> StepResult {
    let c = claim(w)?;
    let s = section(w)?;
    let Some((uri, text, at)) = w.mms_client.sent.clone() else {
        return Err(w.fail("an MM the user sent earlier in the scenario", "none"));
    };
    let send_req = |a: &MmsArrival| {
        a.method() == Some("POST")
            && posted(a).is_some_and(|p| p.message_type() == Some(MessageType::SEND_REQ))
    };
    c.wait_for(w.deadline, |log| {
        log.iter().any(|a| a.at >= at && send_req(a))
    })
    .await;
    let log = c.log_since(at);
    let Some((a, pdu)) = log
        .iter()
        .find(|a| send_req(a))
        .and_then(|a| posted(a).map(|p| (a, p)))
    else {
        return Err(w.fail(
            format!(
                "an M-Send.req POSTed to the MMSC {} for the MM sent to {uri}",
                s.mmsc_url
            ),
            format!(
                "none within the scenario time; at the MMS server: {}",
                describe_since(c, at)
            ),
        ));
    };
    let want = render(&s, &uri);
    let to: Vec<String> = pdu.to().iter().map(|e| e.text.clone()).collect();
    if !to.contains(&want) {
        return Err(w.fail(
            format!(
                "To: {want} in the M-Send.req (the SIP URI as typed, in the declared form {}), unchanged",
                s.address_form()
            ),
            format!("To {to:?} — {}", a.describe()),
        ));
    }
    let has_text = match pdu.body.as_ref() {
        Some(Body::Single(d)) => d == text.as_bytes(),
        Some(Body::Multipart(parts)) => parts.iter().any(|p| p.data == text.as_bytes()),
        None => false,
    };
    if has_text {
        return Ok(());
    }
    Err(w.fail(
        format!("the text {text:?} in the M-Send.req's content"),
        format!("other content — {}", a.describe()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::http::{request, HttpMessage};

    const HOST: &str = "127.0.0.1:9";

    fn mm() -> Mm {
        Mm {
            from: "+15550000001/TYPE=PLMN".into(),
            to: "+15550000002/TYPE=PLMN".into(),
            location: format!("http://{HOST}/mms/abc"),
            retrieve_tid: "R1".into(),
        }
    }

    fn arrival(t0: Instant, ms: u64, bytes: Vec<u8>, answered: u16) -> MmsArrival {
        MmsArrival {
            at: t0 + Duration::from_millis(ms),
            from: "127.0.0.1:5000".parse().unwrap(),
            msg: HttpMessage::parse(&bytes).map_err(|e| e.to_string()),
            bytes,
            answered: Some(answered),
            owner: Some(1),
            tls: false,
        }
    }

    fn get(t0: Instant, ms: u64, path: &str) -> MmsArrival {
        arrival(t0, ms, request("GET", path, HOST, &[], b""), 200)
    }

    fn post(t0: Instant, ms: u64, pdu: Vec<u8>) -> MmsArrival {
        let req = request("POST", "/mmsc", HOST, &[("Content-Type", MMS_MEDIA)], &pdu);
        arrival(t0, ms, req, 200)
    }

    fn resp(tid: &str, s: Status) -> Vec<u8> {
        PduBuilder::notify_resp_ind(tid, s).encode()
    }

    fn ack(tid: &str) -> Vec<u8> {
        PduBuilder::acknowledge_ind(tid).encode()
    }

    /// Items 13 and 14 of issue 12: Retrieved counts only after a fetch of
    /// that Content-Location and under the notification's Transaction-ID,
    /// and a second report that says otherwise fails.
    #[test]
    fn a_report_counts_by_identity_and_once() {
        let t0 = Instant::now();
        let mm = mm();
        let judge = |log: Vec<MmsArrival>| judge_retrieval(&log, "T1", &mm);
        // Conformant: the fetch, then Retrieved (a repeat of it is no contradiction).
        assert_eq!(
            judge(vec![
                get(t0, 1, "/mms/abc"),
                post(t0, 2, resp("T1", Status::RETRIEVED)),
                post(t0, 3, resp("T1", Status::RETRIEVED)),
            ]),
            Ok(())
        );
        // Conformant, deferred: Deferred, the fetch, the M-Acknowledge.ind.
        assert_eq!(
            judge(vec![
                post(t0, 1, resp("T1", Status::DEFERRED)),
                get(t0, 2, "/mms/abc"),
                post(t0, 3, ack("R1")),
            ]),
            Ok(())
        );
        // Retrieved, never fetched; fetched after; another URL fetched.
        let e = judge(vec![post(t0, 1, resp("T1", Status::RETRIEVED))]).unwrap_err();
        assert!(e.contains("without an answered GET"), "{e}");
        let e = judge(vec![
            post(t0, 1, resp("T1", Status::RETRIEVED)),
            get(t0, 2, "/mms/abc"),
        ])
        .unwrap_err();
        assert!(e.contains("before the MM was fetched"), "{e}");
        let e = judge(vec![
            get(t0, 1, "/mms/other"),
            post(t0, 2, resp("T1", Status::RETRIEVED)),
        ])
        .unwrap_err();
        assert!(e.contains("without an answered GET"), "{e}");
        // Fetched, then reported under a Transaction-ID of its own.
        let e = judge(vec![
            get(t0, 1, "/mms/abc"),
            post(t0, 2, resp("T1x", Status::RETRIEVED)),
        ])
        .unwrap_err();
        assert!(
            e.contains("no M-NotifyResp.ind with Transaction-ID T1"),
            "{e}"
        );
        // Deferred, then an M-Acknowledge.ind with the notification's Transaction-ID.
        let e = judge(vec![
            post(t0, 1, resp("T1", Status::DEFERRED)),
            get(t0, 2, "/mms/abc"),
            post(t0, 3, ack("T1")),
        ])
        .unwrap_err();
        assert!(
            e.contains("no M-Acknowledge.ind with Transaction-ID R1"),
            "{e}"
        );
        // Retrieved, then 20 ms later Rejected: two outcomes, both shown.
        let e = judge(vec![
            get(t0, 1, "/mms/abc"),
            post(t0, 2, resp("T1", Status::RETRIEVED)),
            post(t0, 22, resp("T1", Status::REJECTED)),
        ])
        .unwrap_err();
        assert!(e.contains("two outcomes for one transaction"), "{e}");
        assert!(e.contains("Retrieved") && e.contains("Rejected"), "{e}");
        assert!(e.contains("20 ms later"), "{e}");
        // Acknowledged, then Deferred: it takes the retrieval back.
        let e = judge(vec![
            post(t0, 1, resp("T1", Status::DEFERRED)),
            get(t0, 2, "/mms/abc"),
            post(t0, 3, ack("R1")),
            post(t0, 4, resp("T1", Status::DEFERRED)),
        ])
        .unwrap_err();
        assert!(e.contains("two outcomes"), "{e}");
        // A report for another notification says nothing of this one.
        let e = judge(vec![
            get(t0, 1, "/mms/abc"),
            post(t0, 2, resp("T1", Status::RETRIEVED)),
            post(t0, 3, resp("T2", Status::REJECTED)),
        ]);
        assert_eq!(e, Ok(()));
    }
}
