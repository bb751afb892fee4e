//! MMS relay scenarios (seed 000: SIP URI addressing in MMS, MMS notifications
//! over OMA Push and Push over SIP). The harness is every MMS client on MM1 —
//! it POSTs M-Send.req, M-NotifyResp.ind and M-Acknowledge.ind to the relay's
//! MM1 URL and GETs the MM from the notification's Content-Location — and
//! every terminal the relay pushes to: the SMSC for WSP push over SMS, the SIP
//! device for Push over SIP. Everything is judged from the raw bytes, decoded
//! here with the sans-IO codecs (HTTP, MMS encapsulation, WDP, WSP, SIP).
//!
//! A premise (did the recipient get a notification at all?) is judged
//! leniently — a push of an M-Notification.ind to the recipient's number on
//! any bearer — so that only the scenario about the bearer's form fails when
//! the form is wrong.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::mms::{
    Address, Body, ContentType, EncodedString, FromValue, MessageType, Part, Pdu, PduBuilder,
    ResponseStatus, Status,
};
use crate::codec::sip::token;
use crate::codec::wsp::{AppId, PDU_PUSH};
use crate::harness::bearers::BearerClaim;
use crate::harness::PushHarness;
use crate::profile::MmsRelaySection;
use crate::roles::mms_ua::{self, Bearer, Mm1Outcome, Pushed};
use crate::roles::ua::Answer;
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// What kind of MMS address a user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Msisdn,
    Email,
    Sip,
    /// A `sips:` URI (RFC 3261 §26.2.2): reached over TLS only.
    Sips,
    /// A SIP URI without a host (`sip:user@`), in the profile's SIP form.
    MalformedSip,
}

/// One MMS user of a scenario.
#[derive(Debug, Clone)]
pub struct User {
    pub kind: Kind,
    /// The address as it goes on the wire (the Encoded-string text).
    pub address: String,
    /// The SIP URI itself (unescaped), for SIP users.
    pub uri: Option<String>,
    /// The digits its pushes are routed by.
    pub number: String,
}

impl User {
    fn label(&self) -> &'static str {
        match self.kind {
            Kind::Msisdn => "MSISDN",
            Kind::Email => "e-mail",
            Kind::Sip => "SIP URI",
            Kind::Sips => "SIPS URI",
            Kind::MalformedSip => "malformed SIP URI",
        }
    }

    /// Whether the relay is expected to push to it.
    fn pushed_to(&self) -> bool {
        matches!(self.kind, Kind::Msisdn | Kind::Sip | Kind::Sips)
    }
}

/// The MM the harness sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub tid: String,
    pub pdu: Pdu,
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// Per-scenario MMS relay state.
#[derive(Default)]
pub struct MmsRelay {
    /// The scenario's claim on the bearers' traffic: its users' numbers,
    /// its MM's transaction id and token, the Message-ID the relay gave it.
    /// What reached a bearer is judged by these keys alone (the bearers
    /// serve every scenario at once).
    pub claim: Option<BearerClaim>,
    pub originator: Option<User>,
    pub recipients: Vec<User>,
    pub sent: Option<Sent>,
    pub conf: Option<Mm1Outcome>,
    /// By recipient index: the notification found, and where.
    pub notifications: HashMap<usize, (Pushed, Pdu)>,
    /// By recipient index: the M-Retrieve.conf.
    pub retrieved: HashMap<usize, Pdu>,
    /// By recipient index: when the harness sent the recipient's final answer
    /// (M-NotifyResp.ind Retrieved/Rejected, or M-Acknowledge.ind).
    pub answered_at: HashMap<usize, Instant>,
    /// The MM1 requests go over TLS (the profile's `mms_relay.mm1_https_url`,
    /// or `mm1_url` when it is `https://`).
    pub https: bool,
}

pub(crate) fn harness(w: &LiaisonWorld) -> Result<Arc<PushHarness>, Failure> {
    w.ctx.mms_relay.clone().ok_or_else(|| {
        w.fail(
            "the harness bearers of an MMS relay (profile section mms_relay)",
            "none",
        )
    })
}

pub(crate) fn section(w: &LiaisonWorld) -> Result<MmsRelaySection, Failure> {
    w.ctx
        .profile
        .mms_relay
        .clone()
        .ok_or_else(|| w.fail("an mms_relay section in the profile", "none"))
}

/// Where the scenario's MM1 requests go: (address, path, over TLS). Over
/// TLS when the scenario asks for it, or when the only URL is `https://`.
fn mm1(w: &LiaisonWorld) -> Result<(SocketAddr, String, bool), Failure> {
    let s = section(w)?;
    let url = match (w.mms_relay.https, s.https()) {
        (true, Some(u)) => u.to_string(),
        (true, None) => {
            return Err(w.fail(
                "an MM1 URL over TLS, https://IP:PORT/PATH (mms_relay.mm1_https_url)",
                "none",
            ))
        }
        (false, _) => s.mm1_url.clone(),
    };
    let (addr, path) = crate::codec::http::url_parts(&url)
        .ok_or_else(|| w.fail("an MM1 URL http://IP:PORT/PATH", &url))?;
    Ok((addr, path, crate::codec::http::url_is_https(&url)))
}

/// The run's TLS client and the name to check `dst`'s certificate for, when
/// `tls` (RFC 2818: the certificate checked as the profile's tls section
/// says, against the run's lab CA by default).
type Mm1Tls = Option<(Arc<crate::harness::tls::RunTls>, String)>;

fn mm1_tls(w: &LiaisonWorld, dst: SocketAddr, tls: bool) -> Result<Mm1Tls, Failure> {
    if !tls {
        return Ok(None);
    }
    let t = crate::steps::sip::run_tls(w)?;
    let name = t.server_name_for(dst);
    Ok(Some((t, name)))
}

/// One MM1 exchange with `dst`, over TLS when `tls`, in the scenario's capture.
async fn mm1_exchange(
    w: &LiaisonWorld,
    dst: SocketAddr,
    tls: bool,
    request: &[u8],
) -> Result<Mm1Outcome, Failure> {
    let t = mm1_tls(w, dst, tls)?;
    Ok(mms_ua::exchange_over(
        dst,
        w.capture.clone(),
        request,
        w.deadline,
        t.as_ref().map(|(t, n)| (&t.client, n.as_str())),
    )
    .await)
}

/// The scenario's MM1 requests go over HTTPS (RFC 2818), the relay's
/// certificate checked as the profile's tls section says.
#[given("the MMS clients reach the relay over HTTPS")]
async fn over_https(w: &mut LiaisonWorld) -> StepResult {
    w.mms_relay.https = true;
    Ok(())
}

/// A fresh number: 1555 and seven digits.
pub(crate) fn number() -> String {
    let digits: String = token()
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'0' + (d % 10) as u8))
        .take(7)
        .collect();
    format!("1555{digits:0<7}")
}

/// An id the relay gives (a Message-ID) shorter than this is not claimed:
/// it could occur in anybody's traffic.
const MIN_ID: usize = 8;

/// How long a relay is given to push something it should not (yet).
pub(crate) fn settle(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10).max(Duration::from_millis(200))
}

/// A user of `kind`, its SIP URIs in the profile's form. The SIP URI's user
/// part carries `;`, `=` and a `%`-escape besides the `:` and `@` of every
/// URI, so that an escaping error shows.
fn user(s: &MmsRelaySection, kind: Kind) -> User {
    let n = number();
    let sip_wire = |uri: &str| {
        if s.typed_sip() {
            Address::typed(s.sip_type(), uri).to_string()
        } else {
            uri.to_string()
        }
    };
    match kind {
        Kind::Msisdn => User {
            kind,
            address: format!("+{n}/TYPE=PLMN"),
            uri: None,
            number: n,
        },
        Kind::Email => User {
            kind,
            address: format!("mms.{n}@mail.liaison.test"),
            uri: None,
            number: n,
        },
        Kind::Sip | Kind::Sips => {
            let scheme = if kind == Kind::Sips { "sips" } else { "sip" };
            let uri = format!("{scheme}:mms_{n};ctx=a%2Bb@{}", s.sip_domain());
            User {
                kind,
                address: sip_wire(&uri),
                uri: Some(uri),
                number: n,
            }
        }
        Kind::MalformedSip => {
            let uri = format!("sip:mms_{n}@");
            User {
                kind,
                address: sip_wire(&uri),
                uri: Some(uri),
                number: n,
            }
        }
    }
}

fn kind_of(phrase: &str) -> Option<Kind> {
    let p = phrase.trim();
    let p = p
        .strip_prefix("an ")
        .or_else(|| p.strip_prefix("a "))
        .unwrap_or(p);
    Some(match p {
        "MSISDN user" => Kind::Msisdn,
        "e-mail user" => Kind::Email,
        "SIP URI user" => Kind::Sip,
        "SIPS URI user" => Kind::Sips,
        "malformed SIP URI" => Kind::MalformedSip,
        _ => return None,
    })
}

/// The multipart content of a test MM: a text part naming the MM, and an
/// octet part holding every octet value (NUL, 0x7F, 0xFF…), so that any
/// change of a byte shows.
fn content(id: &str) -> (ContentType, Body) {
    let octets: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    (
        ContentType::well_known(crate::codec::mms::body::MULTIPART_MIXED),
        Body::Multipart(vec![
            Part::text(&format!("liaison MM {id}: SIP URI addressing in MMS")),
            Part::new(ContentType::named("application/octet-stream"), &octets),
        ]),
    )
}

#[given("the harness plays the MMS relay's bearers")]
async fn bearers(w: &mut LiaisonWorld) -> StepResult {
    // The bearers serve every scenario at once: the traffic that carries
    // this scenario's keys (claimed as its steps make them up) goes to its
    // pcap, and its steps judge only that.
    harness(w)?;
    Ok(())
}

/// Gives the scenario `key` (a number, a token it made up, an id the relay
/// gave it alone): the bearers' traffic that carries it is the scenario's.
pub(crate) fn claim(w: &mut LiaisonWorld, key: &str) {
    if let Some(c) = w.mms_relay.claim.as_mut() {
        c.key(key);
    }
}

/// Whether bytes that reached a bearer carry one of the scenario's keys.
pub(crate) fn ours(w: &LiaisonWorld, bytes: &[u8]) -> bool {
    w.mms_relay.claim.as_ref().is_some_and(|c| c.owns(bytes))
}

#[given("the MMS relay is bound to the harness SMSC")]
async fn bound(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let smsc = h
        .smsc
        .as_ref()
        .ok_or_else(|| w.fail("the harness SMSC (mms_relay notify sms)", "none"))?;
    if !smsc.bound() {
        smsc.wait_for(w.deadline, |_| true, true).await;
    }
    if smsc.bound() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "the MMS relay bound to the harness SMSC at {} with the profile's credentials",
            smsc.addr()
        ),
        format!("no bound ESME; what arrived: {}", h.binding_log()),
    ))
}

#[when(regex = r"^an? (MSISDN|SIP URI) user sends an MM( with a delivery report)? to (.+)$")]
async fn sends(w: &mut LiaisonWorld, from: String, report: String, list: String) -> StepResult {
    let s = section(w)?;
    let (relay, path, tls) = mm1(w)?;
    let from_kind = if from == "SIP URI" {
        Kind::Sip
    } else {
        Kind::Msisdn
    };
    let originator = user(&s, from_kind);
    let mut recipients = Vec::new();
    for phrase in list.split(", ").flat_map(|p| p.split(" and ")) {
        let k = kind_of(phrase).ok_or_else(|| {
            w.fail(
                "recipients written as `an MSISDN user`, `an e-mail user`, `a SIP URI user` or `a malformed SIP URI`",
                format!("`{phrase}` in the feature file"),
            )
        })?;
        recipients.push(user(&s, k));
    }
    // Every number of the scenario is its own before the relay can push.
    for u in recipients.iter().chain(std::iter::once(&originator)) {
        claim(w, &u.number);
    }
    // The SIP device takes the relay's pushes for every number of the scenario.
    if let Ok(h) = harness(w)
        && let Some(ims) = &h.sip
    {
        for u in recipients.iter().chain(std::iter::once(&originator)) {
            ims.set_answer(
                &u.number,
                Answer::Respond {
                    code: 200,
                    delay: Duration::ZERO,
                },
            );
        }
    }
    let id = token();
    let tid = format!("T{id}");
    claim(w, &id);
    let (ct, body) = content(&id);
    let mut b = PduBuilder::send_req(
        &tid,
        FromValue::Address(EncodedString::plain(&originator.address)),
        ct,
        body,
    )
    .date(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .subject(&format!("liaison {id}"))
    .delivery_report(!report.is_empty());
    // E-mail recipients go in Cc, the others in To.
    let (mut to, mut cc) = (Vec::new(), Vec::new());
    for u in &recipients {
        let v = crate::codec::mms::Header::Encoded(
            if u.kind == Kind::Email {
                crate::codec::mms::Field::CC
            } else {
                crate::codec::mms::Field::TO
            },
            EncodedString::plain(&u.address),
        );
        if u.kind == Kind::Email {
            cc.push(u.address.clone());
        } else {
            to.push(u.address.clone());
        }
        b = b.header(v);
    }
    let pdu = b.build();
    let request = mms_ua::post_request(relay, &path, pdu.raw());
    let outcome = mm1_exchange(w, relay, tls, &request).await?;
    // The Message-ID the relay gave this MM is the scenario's too (a
    // delivery report names it), when it is long enough to be nobody
    // else's by chance.
    if let Some(mid) = outcome
        .response()
        .and_then(|m| Pdu::parse(&m.body).ok())
        .and_then(|p| p.message_id().map(str::to_string))
        .filter(|m| m.len() >= MIN_ID)
    {
        claim(w, &mid);
    }
    w.mms_relay.originator = Some(originator);
    w.mms_relay.recipients = recipients;
    w.mms_relay.sent = Some(Sent { tid, pdu, to, cc });
    w.mms_relay.conf = Some(outcome);
    Ok(())
}

/// The M-Send.conf the relay answered with, judged as a PDU: HTTP 2xx, an MMS
/// PDU that decodes, of type m-send-conf, echoing the transaction id, with a
/// response status.
fn send_conf(w: &LiaisonWorld) -> Result<(Pdu, ResponseStatus), Failure> {
    let sent = w
        .mms_relay
        .sent
        .clone()
        .ok_or_else(|| w.fail("an M-Send.req sent earlier in the scenario", "none"))?;
    let outcome = w
        .mms_relay
        .conf
        .clone()
        .ok_or_else(|| w.fail("an M-Send.req sent earlier in the scenario", "none"))?;
    let expected = format!(
        "an HTTP 2xx response whose body is an M-Send.conf (X-Mms-Message-Type 0x81) for transaction {} with an X-Mms-Response-Status (OMA MMS ENC §6.1.2)",
        sent.tid
    );
    let m = outcome
        .response()
        .ok_or_else(|| w.fail(&expected, outcome.describe()))?;
    let came = || format!("bytes: {}", escape_bytes(m.raw(), 600));
    if !(200..300).contains(&m.status().unwrap_or(0)) {
        return Err(w.fail(
            &expected,
            format!("HTTP {} — {}", m.status().unwrap_or(0), came()),
        ));
    }
    let pdu = Pdu::parse(&m.body).map_err(|e| {
        w.fail(
            &expected,
            format!(
                "a body that is no MMS PDU ({e}) — body: {}",
                escape_bytes(&m.body, 400)
            ),
        )
    })?;
    if pdu.message_type() != Some(MessageType::SEND_CONF) {
        return Err(w.fail(
            &expected,
            format!(
                "a PDU of type {} — {} — body: {}",
                pdu.message_type()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into()),
                pdu.summary(),
                escape_bytes(&m.body, 400)
            ),
        ));
    }
    if pdu.transaction_id() != Some(sent.tid.as_str()) {
        return Err(w.fail(
            &expected,
            format!(
                "transaction id {:?} — body: {}",
                pdu.transaction_id(),
                escape_bytes(&m.body, 400)
            ),
        ));
    }
    let st = pdu.response_status().ok_or_else(|| {
        w.fail(
            &expected,
            format!(
                "no X-Mms-Response-Status — body: {}",
                escape_bytes(&m.body, 400)
            ),
        )
    })?;
    Ok((pdu, st))
}

fn recipients_text(w: &LiaisonWorld) -> String {
    w.mms_relay
        .recipients
        .iter()
        .map(|u| format!("{} {}", u.label(), u.address))
        .collect::<Vec<_>>()
        .join(", ")
}

#[then("the relay accepts it with M-Send.conf status Ok and a Message-ID")]
async fn accepted(w: &mut LiaisonWorld) -> StepResult {
    let (pdu, st) = send_conf(w)?;
    let expected = format!(
        "M-Send.conf with X-Mms-Response-Status Ok (0x80) and a Message-ID for the MM to {}",
        recipients_text(w)
    );
    if st != ResponseStatus::OK {
        return Err(w.fail(
            expected,
            format!(
                "{st} (class {}){} — bytes: {}",
                st.class(),
                pdu.response_text()
                    .map(|t| format!(", text {:?}", t.text))
                    .unwrap_or_default(),
                escape_bytes(pdu.raw(), 400)
            ),
        ));
    }
    if pdu.message_id().is_none_or(str::is_empty) {
        return Err(w.fail(
            expected,
            format!("no Message-ID — bytes: {}", escape_bytes(pdu.raw(), 400)),
        ));
    }
    Ok(())
}

#[then("the relay refuses it with an unresolved-address status, not Ok")]
async fn refused(w: &mut LiaisonWorld) -> StepResult {
    let (pdu, st) = send_conf(w)?;
    // ENC §7.3.48: Error-sending-address-unresolved (1.0, 0x84), its transient
    // (0xC1) and permanent (0xE3) forms.
    let unresolved = [
        ResponseStatus::ERROR_SENDING_ADDRESS_UNRESOLVED,
        ResponseStatus::TRANSIENT_SENDING_ADDRESS_UNRESOLVED,
        ResponseStatus::PERMANENT_SENDING_ADDRESS_UNRESOLVED,
    ];
    if unresolved.contains(&st) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "M-Send.conf with an unresolved-address status (Error-permanent-sending-address-unresolved 0xE3, Error-transient-sending-address-unresolved 0xC1 or the 1.0 code 0x84) for the MM to {}",
            recipients_text(w)
        ),
        format!(
            "{st}{} — bytes: {}",
            pdu.response_text()
                .map(|t| format!(", text {:?}", t.text))
                .unwrap_or_default(),
            escape_bytes(pdu.raw(), 400)
        ),
    ))
}

/// Everything pushed to the scenario's users (what carries its keys).
pub(crate) fn all_pushes(w: &LiaisonWorld) -> Vec<Pushed> {
    let Ok(h) = harness(w) else {
        return Vec::new();
    };
    mms_ua::pushes(h.smsc.as_ref(), h.sip.as_ref(), &|b| ours(w, b))
}

/// The scenario's pushes, for a failure text, and what reached the
/// bearers since it began that carries no scenario's key.
pub(crate) fn describe_pushes(w: &LiaisonWorld, ps: &[Pushed]) -> String {
    let mut s = if ps.is_empty() {
        "nothing pushed to the scenario's numbers on any bearer".to_string()
    } else {
        ps.iter()
            .map(|p| p.describe.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if let Ok(h) = harness(w) {
        let u = h.unclaimed_since(w.started);
        if !u.is_empty() {
            s.push_str(
                "; what reached the bearers since the scenario began with no scenario's number in it: ",
            );
            s.push_str(&u.join(" | "));
        }
    }
    s
}

/// Waits (bounded by `until` and the scenario deadline) until a push to
/// `number` carrying an MMS PDU of type `t` is there; returns it.
async fn wait_push(
    w: &LiaisonWorld,
    number: &str,
    t: MessageType,
    until: Instant,
) -> Option<(Pushed, Pdu)> {
    let until = until.min(w.deadline);
    let find = |ps: &[Pushed]| {
        ps.iter().find_map(|p| {
            if p.number != number {
                return None;
            }
            let pdu = p.mms()?;
            (pdu.message_type() == Some(t)).then(|| (p.clone(), pdu))
        })
    };
    if let Ok(h) = harness(w) {
        let (smsc, sip) = (h.smsc.as_ref(), h.sip.as_ref());
        let keep = |b: &[u8]| ours(w, b);
        mms_ua::wait_pushes(smsc, sip, &keep, until, |ps| find(ps).is_some()).await;
    }
    find(&all_pushes(w))
}

/// The recipient's notification (the first push of an M-Notification.ind to
/// its number, whatever the bearer), waited for and remembered.
pub(crate) async fn notification(w: &mut LiaisonWorld, i: usize) -> Result<(Pushed, Pdu), Failure> {
    if let Some(n) = w.mms_relay.notifications.get(&i) {
        return Ok(n.clone());
    }
    let u = w
        .mms_relay
        .recipients
        .get(i)
        .cloned()
        .ok_or_else(|| w.fail("a recipient of an MM sent earlier", "none"))?;
    match wait_push(w, &u.number, MessageType::NOTIFICATION_IND, w.deadline).await {
        Some(n) => {
            w.mms_relay.notifications.insert(i, n.clone());
            Ok(n)
        }
        None => Err(w.fail(
            format!(
                "an M-Notification.ind pushed to the {} recipient {} (number {}) on any bearer",
                u.label(),
                u.address,
                u.number
            ),
            describe_pushes(w, &all_pushes(w)),
        )),
    }
}

#[then("the recipient receives a notification")]
async fn receives(w: &mut LiaisonWorld) -> StepResult {
    notification(w, 0).await.map(|_| ())
}

#[then("each MSISDN and SIP URI recipient receives its own notification")]
async fn each_receives(w: &mut LiaisonWorld) -> StepResult {
    for i in 0..w.mms_relay.recipients.len() {
        if w.mms_relay.recipients[i].pushed_to() {
            notification(w, i).await?;
        }
    }
    Ok(())
}

/// ENC §6.2: the fields an M-Notification.ind must have; what is missing.
fn missing_notification_fields(p: &Pdu) -> Vec<&'static str> {
    let mut out = Vec::new();
    if p.transaction_id().is_none() {
        out.push("X-Mms-Transaction-ID");
    }
    if p.version().is_none() {
        out.push("X-Mms-MMS-Version");
    }
    if p.message_class().is_none() {
        out.push("X-Mms-Message-Class");
    }
    if p.message_size().is_none() {
        out.push("X-Mms-Message-Size");
    }
    if p.expiry().is_none() {
        out.push("X-Mms-Expiry");
    }
    if p.content_location().is_none() {
        out.push("X-Mms-Content-Location");
    }
    out
}

/// The notification's PDU is complete and in order.
fn judge_notification_pdu(w: &LiaisonWorld, p: &Pushed, pdu: &Pdu) -> StepResult {
    let missing = missing_notification_fields(pdu);
    if missing.is_empty() && pdu.order_violations().is_empty() {
        return Ok(());
    }
    Err(w.fail(
        "an M-Notification.ind with X-Mms-Message-Type, -Transaction-ID, -MMS-Version (in that order), -Message-Class, -Message-Size, -Expiry and -Content-Location (OMA MMS ENC §6.2)",
        format!(
            "{}{}: {} — {}",
            if missing.is_empty() {
                String::new()
            } else {
                format!("missing {}", missing.join(", "))
            },
            pdu.order_violations()
                .iter()
                .map(|e| format!("; {e}"))
                .collect::<String>(),
            pdu.view().replace('\n', "; "),
            p.describe
        ),
    ))
}

#[then("the recipient's notification is a WSP push over SMS to port 2948 for mms.ua, content type application/vnd.wap.mms-message")]
async fn notified_by_sms(w: &mut LiaisonWorld) -> StepResult {
    let u = w
        .mms_relay
        .recipients
        .first()
        .cloned()
        .ok_or_else(|| w.fail("a recipient", "none"))?;
    let (p, pdu) = notification(w, 0).await?;
    let expected = format!(
        "the notification for {} as a connectionless WSP push (PDU type 0x06) in WDP over SMS to +{} (port 2948 from 9200), content type application/vnd.wap.mms-message (0x3E), X-Wap-Application-Id mms.ua (4)",
        u.address, u.number
    );
    if p.bearer != Bearer::Sms {
        return Err(w.fail(
            expected,
            format!("a push over SIP, not SMS: {}", p.describe),
        ));
    }
    if p.ports != Some((2948, 9200)) {
        return Err(w.fail(expected, p.describe.clone()));
    }
    let Some(Ok(wsp)) = &p.wsp else {
        return Err(w.fail(expected, p.describe.clone()));
    };
    let ct_ok = wsp
        .content_type
        .name()
        .is_some_and(|n| n.eq_ignore_ascii_case(mms_ua::MMS_TYPE));
    let app_ok = match wsp.application_id() {
        Some(AppId::Code(c)) => *c == 4,
        Some(AppId::Text(t)) => {
            t.eq_ignore_ascii_case("x-wap-application:mms.ua") || t.trim() == "4"
        }
        None => false,
    };
    if wsp.pdu_type != PDU_PUSH || !ct_ok || !app_ok {
        return Err(w.fail(
            expected,
            format!(
                "PDU type {:#04x}, content type {:?}, application id {} — {}",
                wsp.pdu_type,
                wsp.content_type,
                wsp.application_id()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "none".into()),
                p.describe
            ),
        ));
    }
    judge_notification_pdu(w, &p, &pdu)
}

#[then("the recipient's notification is a SIP MESSAGE to its URI with the feature tag mms.ua and Content-Type application/vnd.wap.mms-message")]
async fn notified_by_sip(w: &mut LiaisonWorld) -> StepResult {
    notified_by_sip_over(w, false).await
}

/// RFC 3261 §26.2.2 (and RFC 5630, with no last-hop exception): a request
/// whose Request-URI is `sips:` travels over TLS, so the relay's MESSAGE
/// for a `sips:` recipient reaches the device's TLS address, never in the clear.
#[then("the recipient's notification is a SIP MESSAGE over TLS to its sips: URI with the feature tag mms.ua and Content-Type application/vnd.wap.mms-message")]
async fn notified_by_sips(w: &mut LiaisonWorld) -> StepResult {
    notified_by_sip_over(w, true).await
}

/// The recipient's notification by Push over SIP, over TLS when `tls`.
async fn notified_by_sip_over(w: &mut LiaisonWorld, tls: bool) -> StepResult {
    let u = w
        .mms_relay
        .recipients
        .first()
        .cloned()
        .ok_or_else(|| w.fail("a recipient", "none"))?;
    let (p, pdu) = notification(w, 0).await?;
    let uri = u.uri.clone().unwrap_or_default();
    let expected = format!(
        "the notification for {} by Push over SIP: a MESSAGE with Request-URI {uri}, Accept-Contact +g.oma.pusheventapp=\"mms.ua\", Content-Type application/vnd.wap.mms-message and the M-Notification.ind as body{}",
        u.address,
        if tls {
            ", over TLS to the device's TLS address (mms_relay.sip_device_tls): a sips: Request-URI is never sent in the clear (RFC 3261 §26.2.2, RFC 5630)"
        } else {
            ""
        }
    );
    let Some(m) = p.sip.as_ref().filter(|_| p.bearer == Bearer::Sip) else {
        return Err(w.fail(
            expected,
            format!("a push over SMS, not SIP: {}", p.describe),
        ));
    };
    let tag_ok = m.header_all("Accept-Contact").iter().any(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("+g.oma.pusheventapp=\"mms.ua\"")
            || v.contains("+g.oma.pusheventapp=\"x-wap-application:mms.ua\"")
    });
    let ct_ok = m.header("Content-Type").is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(mms_ua::MMS_TYPE)
    });
    if m.method() != Some("MESSAGE") || m.request_uri() != Some(uri.as_str()) || !tag_ok || !ct_ok {
        return Err(w.fail(expected, p.describe.clone()));
    }
    if tls && p.transport != Some(crate::net::Transport::Tls) {
        return Err(w.fail(
            expected,
            format!(
                "the MESSAGE in the clear, over {}: {}",
                p.transport
                    .map(|t| t.to_string().to_uppercase())
                    .unwrap_or_else(|| "?".into()),
                p.describe
            ),
        ));
    }
    judge_notification_pdu(w, &p, &pdu)
}

pub(crate) fn text_of(p: &Pdu) -> Option<String> {
    p.from()
        .and_then(FromValue::address)
        .map(|a| a.text.clone())
}

#[then("the notification, if it names the originator, names it exactly as sent")]
async fn notification_from(w: &mut LiaisonWorld) -> StepResult {
    let o = w
        .mms_relay
        .originator
        .clone()
        .ok_or_else(|| w.fail("an originator", "none"))?;
    let (p, pdu) = notification(w, 0).await?;
    match text_of(&pdu) {
        None => Ok(()),
        Some(t) if t == o.address => Ok(()),
        Some(t) => Err(w.fail(
            format!(
                "From in the M-Notification.ind absent or exactly {} (the originator as sent)",
                o.address
            ),
            format!(
                "From {:?} — bytes: {}",
                t,
                escape_bytes(p.body.as_slice(), 400)
            ),
        )),
    }
}

/// POSTs a PDU to the relay's MM1 URL; the relay must answer 2xx.
async fn post(w: &LiaisonWorld, what: &str, pdu: &[u8]) -> StepResult {
    let (relay, path, tls) = mm1(w)?;
    let out = mm1_exchange(w, relay, tls, &mms_ua::post_request(relay, &path, pdu)).await?;
    match out.response().and_then(|m| m.status()) {
        Some(s) if (200..300).contains(&s) => Ok(()),
        _ => Err(w.fail(
            format!(
                "HTTP 2xx to the {what} POSTed to the MM1 URL (bytes {})",
                escape_bytes(pdu, 200)
            ),
            out.describe(),
        )),
    }
}

/// GETs recipient `i`'s MM from its notification's Content-Location.
pub(crate) async fn retrieve(w: &mut LiaisonWorld, i: usize) -> Result<Pdu, Failure> {
    let (_, n) = notification(w, i).await?;
    let loc = n.content_location().unwrap_or_default().to_string();
    let Some((addr, path)) = mms_ua::http_url(&loc) else {
        return Err(w.fail(
            "an X-Mms-Content-Location http://IP:PORT/PATH (or https://) on loopback the recipient can fetch",
            format!("{loc:?} — notification: {}", n.view().replace('\n', "; ")),
        ));
    };
    // Fetched as the URL says: an https:// location over TLS (RFC 2818).
    let tls = crate::codec::http::url_is_https(&loc);
    let out = mm1_exchange(w, addr, tls, &mms_ua::get_request(addr, &path)).await?;
    let expected = format!(
        "HTTP 2xx to GET {loc} whose body is an M-Retrieve.conf (X-Mms-Message-Type 0x84, OMA MMS ENC §6.3){}",
        if tls {
            ", over TLS at the port the https:// URL names (RFC 9110 §4.2.2)"
        } else {
            ""
        }
    );
    let m = out
        .response()
        .ok_or_else(|| w.fail(&expected, out.describe()))?;
    if !(200..300).contains(&m.status().unwrap_or(0)) {
        return Err(w.fail(&expected, out.describe()));
    }
    let pdu = Pdu::parse(&m.body).map_err(|e| {
        w.fail(
            &expected,
            format!("a body that is no MMS PDU ({e}) — {}", out.describe()),
        )
    })?;
    if pdu.message_type() != Some(MessageType::RETRIEVE_CONF) {
        return Err(w.fail(&expected, format!("{} — {}", pdu.summary(), out.describe())));
    }
    w.mms_relay.retrieved.insert(i, pdu.clone());
    Ok(pdu)
}

/// M-NotifyResp.ind for recipient `i`'s notification.
pub(crate) async fn notify_resp(w: &mut LiaisonWorld, i: usize, st: Status) -> StepResult {
    let (_, n) = notification(w, i).await?;
    let tid = n.transaction_id().unwrap_or_default().to_string();
    let pdu = PduBuilder::notify_resp_ind(&tid, st).encode();
    if st != Status::DEFERRED {
        w.mms_relay.answered_at.insert(i, Instant::now());
    }
    post(w, "M-NotifyResp.ind", &pdu).await
}

#[when("the recipient retrieves the MM")]
async fn retrieves(w: &mut LiaisonWorld) -> StepResult {
    retrieve(w, 0).await?;
    notify_resp(w, 0, Status::RETRIEVED).await
}

#[then("each MSISDN and SIP URI recipient retrieves the MM it was notified of")]
async fn each_retrieves(w: &mut LiaisonWorld) -> StepResult {
    let sent = w
        .mms_relay
        .sent
        .clone()
        .ok_or_else(|| w.fail("an MM sent earlier", "none"))?;
    let want = sent.pdu.parts().len();
    for i in 0..w.mms_relay.recipients.len() {
        if !w.mms_relay.recipients[i].pushed_to() {
            continue;
        }
        let got = retrieve(w, i).await?;
        if got.parts().len() != want {
            let u = &w.mms_relay.recipients[i];
            return Err(w.fail(
                format!(
                    "the MM with its {want} parts for {} {}",
                    u.label(),
                    u.address
                ),
                got.view().replace('\n', "; "),
            ));
        }
        notify_resp(w, i, Status::RETRIEVED).await?;
    }
    Ok(())
}

#[when("the recipient defers retrieval")]
async fn defers(w: &mut LiaisonWorld) -> StepResult {
    notify_resp(w, 0, Status::DEFERRED).await
}

#[when("the recipient later retrieves the MM and acknowledges it")]
async fn retrieves_later(w: &mut LiaisonWorld) -> StepResult {
    let got = retrieve(w, 0).await?;
    let tid = match got.transaction_id() {
        Some(t) => t.to_string(),
        None => notification(w, 0)
            .await?
            .1
            .transaction_id()
            .unwrap_or_default()
            .to_string(),
    };
    let pdu = PduBuilder::acknowledge_ind(&tid).encode();
    w.mms_relay.answered_at.insert(0, Instant::now());
    post(w, "M-Acknowledge.ind", &pdu).await
}

#[when("the recipient rejects the MM")]
async fn rejects(w: &mut LiaisonWorld) -> StepResult {
    notify_resp(w, 0, Status::REJECTED).await
}

pub(crate) fn retrieved(w: &LiaisonWorld) -> Result<Pdu, Failure> {
    w.mms_relay
        .retrieved
        .get(&0)
        .cloned()
        .ok_or_else(|| w.fail("an MM retrieved earlier in the scenario", "none"))
}

fn texts(v: Vec<&EncodedString>) -> Vec<String> {
    v.into_iter().map(|e| e.text.clone()).collect()
}

#[then("the retrieved MM lists the recipient in To exactly as sent")]
async fn to_exact(w: &mut LiaisonWorld) -> StepResult {
    let u = w
        .mms_relay
        .recipients
        .first()
        .cloned()
        .ok_or_else(|| w.fail("a recipient", "none"))?;
    let got = retrieved(w)?;
    let to = texts(got.to());
    if to.contains(&u.address) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "To {:?} in the M-Retrieve.conf, byte for byte as the originator wrote it",
            u.address
        ),
        format!("To {:?} — bytes: {}", to, escape_bytes(got.raw(), 500)),
    ))
}

#[then("the retrieved MM names the originator as From exactly as sent")]
async fn from_exact(w: &mut LiaisonWorld) -> StepResult {
    let o = w
        .mms_relay
        .originator
        .clone()
        .ok_or_else(|| w.fail("an originator", "none"))?;
    let got = retrieved(w)?;
    let from = text_of(&got);
    if from.as_deref() == Some(o.address.as_str()) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "From {:?} in the M-Retrieve.conf, byte for byte as sent, so that a reply reaches it",
            o.address
        ),
        format!("From {:?} — bytes: {}", from, escape_bytes(got.raw(), 500)),
    ))
}

#[then("the retrieved MM names the originator and every recipient exactly as sent")]
async fn all_exact(w: &mut LiaisonWorld) -> StepResult {
    let o = w
        .mms_relay
        .originator
        .clone()
        .ok_or_else(|| w.fail("an originator", "none"))?;
    let sent = w
        .mms_relay
        .sent
        .clone()
        .ok_or_else(|| w.fail("an MM sent earlier", "none"))?;
    let got = retrieved(w)?;
    let (from, to, cc) = (text_of(&got), texts(got.to()), texts(got.cc()));
    if from.as_deref() == Some(o.address.as_str()) && to == sent.to && cc == sent.cc {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "From {:?}, To {:?} and Cc {:?} in the M-Retrieve.conf exactly as sent",
            o.address, sent.to, sent.cc
        ),
        format!(
            "From {:?}, To {:?}, Cc {:?} — bytes: {}",
            from,
            to,
            cc,
            escape_bytes(got.raw(), 500)
        ),
    ))
}

#[then("the retrieved content equals what was sent, byte for byte")]
async fn content_exact(w: &mut LiaisonWorld) -> StepResult {
    let sent = w
        .mms_relay
        .sent
        .clone()
        .ok_or_else(|| w.fail("an MM sent earlier", "none"))?;
    let got = retrieved(w)?;
    let media = |p: &Pdu| p.content_type().map(|c| c.media.label());
    let mut diffs = Vec::new();
    if media(&got) != media(&sent.pdu) {
        diffs.push(format!(
            "content type {:?}, sent {:?}",
            media(&got),
            media(&sent.pdu)
        ));
    }
    let (a, b) = (sent.pdu.parts(), got.parts());
    if a.len() != b.len() {
        diffs.push(format!("{} part(s), sent {}", b.len(), a.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.content_type.media != y.content_type.media {
            diffs.push(format!(
                "part {i}: content type {}, sent {}",
                y.content_type.media.label(),
                x.content_type.media.label()
            ));
        }
        if x.data != y.data {
            diffs.push(format!(
                "part {i}: {} octets {}, sent {} octets {}",
                y.data.len(),
                escape_bytes(&y.data, 120),
                x.data.len(),
                escape_bytes(&x.data, 120)
            ));
        }
    }
    if diffs.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        "the retrieved MM's content as sent: the same content type, parts, part types and octets",
        diffs.join("; "),
    ))
}

/// M-Delivery.ind pushed to the originator since the scenario began.
fn reports(w: &LiaisonWorld) -> Vec<(Pushed, Pdu)> {
    let Some(o) = &w.mms_relay.originator else {
        return Vec::new();
    };
    all_pushes(w)
        .into_iter()
        .filter(|p| p.number == o.number)
        .filter_map(|p| {
            let pdu = p.mms()?;
            (pdu.message_type() == Some(MessageType::DELIVERY_IND)).then_some((p, pdu))
        })
        .collect()
}

/// A report that says more than "deferred" (ENC §7.3.54).
fn is_final(p: &Pdu) -> bool {
    p.status() != Some(Status::DEFERRED)
}

#[then("after a pause no delivery report has reached the originator")]
async fn no_report_yet(w: &mut LiaisonWorld) -> StepResult {
    let until = (Instant::now() + settle(w)).min(w.deadline);
    tokio::time::sleep_until(until.into()).await;
    let early: Vec<String> = reports(w)
        .into_iter()
        .filter(|(_, p)| is_final(p))
        .map(|(p, pdu)| format!("{} — {}", pdu.view().replace('\n', "; "), p.describe))
        .collect();
    if early.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "no M-Delivery.ind (other than Deferred) to the originator while the recipient has not answered (waited {} ms after the notification)",
            settle(w).as_millis()
        ),
        early.join(" | "),
    ))
}

#[then(
    regex = r"^the originator receives an M-Delivery\.ind with status (Retrieved|Rejected) for the MM, after the recipient's answer$"
)]
async fn report_after(w: &mut LiaisonWorld, status: String) -> StepResult {
    let want = if status == "Retrieved" {
        Status::RETRIEVED
    } else {
        Status::REJECTED
    };
    let o = w
        .mms_relay
        .originator
        .clone()
        .ok_or_else(|| w.fail("an originator", "none"))?;
    let u = w
        .mms_relay
        .recipients
        .first()
        .cloned()
        .ok_or_else(|| w.fail("a recipient", "none"))?;
    let answered = *w.mms_relay.answered_at.get(&0).ok_or_else(|| {
        w.fail(
            "the recipient's answer sent earlier in the scenario",
            "none",
        )
    })?;
    let (conf, _) = send_conf(w)?;
    let mid = conf.message_id().unwrap_or_default().to_string();
    let expected = format!(
        "an M-Delivery.ind pushed to the originator {} after the recipient's answer, for Message-ID {mid}, To naming {}, X-Mms-Status {} (OMA MMS ENC §6.5)",
        o.address,
        u.address,
        want
    );
    // Wait for a final report (bounded by the scenario).
    if let (Ok(h), Some(o)) = (harness(w), w.mms_relay.originator.as_ref()) {
        let (smsc, sip) = (h.smsc.as_ref(), h.sip.as_ref());
        let keep = |b: &[u8]| ours(w, b);
        mms_ua::wait_pushes(smsc, sip, &keep, w.deadline, |ps| {
            ps.iter().any(|p| {
                p.number == o.number
                    && p.mms().is_some_and(|pdu| {
                        pdu.message_type() == Some(MessageType::DELIVERY_IND) && is_final(&pdu)
                    })
            })
        })
        .await;
    }
    let finals: Vec<(Pushed, Pdu)> = reports(w)
        .into_iter()
        .filter(|(_, p)| is_final(p))
        .collect();
    let show = |v: &[(Pushed, Pdu)]| {
        v.iter()
            .map(|(p, pdu)| format!("{} — {}", pdu.view().replace('\n', "; "), p.describe))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if finals.is_empty() {
        return Err(w.fail(
            expected,
            format!(
                "no M-Delivery.ind within the scenario time; the scenario's pushes: {}",
                describe_pushes(w, &all_pushes(w))
            ),
        ));
    }
    if let Some(early) = finals.iter().find(|(p, _)| p.at < answered) {
        return Err(w.fail(
            expected,
            format!(
                "one came {} ms before the recipient answered: {}",
                answered.duration_since(early.0.at).as_millis(),
                show(std::slice::from_ref(early))
            ),
        ));
    }
    let ok = |pdu: &Pdu| {
        let names_recipient = pdu.to().iter().any(|t| {
            t.text == u.address
                || t.text
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .contains(&u.number)
        });
        pdu.message_id() == Some(mid.as_str()) && pdu.status() == Some(want) && names_recipient
    };
    if finals.iter().any(|(_, pdu)| ok(pdu)) {
        return Ok(());
    }
    Err(w.fail(expected, show(&finals)))
}
