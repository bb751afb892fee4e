//! Deferred messaging (seed 000: MMS as the deferred mode of IMS messaging),
//! the SUT as IM server. The harness plays the IMS users (the originator's
//! and the recipient's UAs, shared with the pager-mode steps) and the MMS
//! Relay/Server the server defers to (`deferral.mmsc_url`, MM1): every POST it
//! took is logged raw, and the M-Send.req of this scenario's MESSAGE is found
//! among them and judged with the MMS codec (To, From, content).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::mms::value::charset_from_name;
use crate::codec::mms::{Body, ContentType, FromValue, MessageType, Pdu};
use crate::harness::MmsClientHarness;
use crate::profile::DeferralSection;
use crate::roles::mms_server::MmsArrival;
use crate::roles::ua::{Recipient, Ua};
use crate::steps::sip::{new_ua_in, register, send_through_server};
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// Per-scenario state.
#[derive(Default)]
pub struct Deferral {
    /// From when this scenario's traffic at the MMSC counts.
    pub since: Option<Instant>,
    /// The scenario's claim on the MMSC's traffic (its users' names).
    pub claim: Option<crate::net::capture::Claim>,
}

fn harness(w: &LiaisonWorld) -> Result<Arc<MmsClientHarness>, Failure> {
    w.ctx.deferral.clone().ok_or_else(|| {
        w.fail(
            "the harness MMS Relay/Server of a deferring im-server (profile section deferral)",
            "none",
        )
    })
}

fn section(w: &LiaisonWorld) -> Result<DeferralSection, Failure> {
    w.ctx
        .profile
        .deferral
        .clone()
        .ok_or_else(|| w.fail("a deferral section in the profile", "none"))
}

/// The domain of the users the server defers for.
fn mms_domain(w: &LiaisonWorld) -> Result<String, Failure> {
    let s = section(w)?;
    Ok(s.recipient_domain
        .unwrap_or_else(|| crate::steps::sip::domain(w)))
}

/// How long a server is given to submit something it should not.
fn settle(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10).max(Duration::from_millis(200))
}

#[given("the harness plays the MMS Relay/Server the SUT defers to")]
async fn mmsc(w: &mut LiaisonWorld) -> StepResult {
    harness(w)?;
    // The MMSC's traffic reaches this scenario's pcap by its users' names
    // (claimed as they are made up).
    w.deferral.since = Some(Instant::now());
    Ok(())
}

#[given(expr = "an MMS user {string} registered with the SUT")]
async fn mms_user_registered(w: &mut LiaisonWorld, name: String) -> StepResult {
    let d = mms_domain(w)?;
    let ua = new_ua_in(w, &name, &d).await?;
    w.recipients.insert(name.clone(), Recipient::start(ua));
    register(w, &name).await
}

#[when(expr = "{string} sends a {string} MESSAGE to the MMS user {string} through the SUT")]
async fn sends_to_mms_user(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    mms_user_aor(w, &from, &to)?;
    send_through_server(w, &from, &content_type, &to, &[]).await
}

/// An MMS user who is not registered: an AoR in the MMS users' domain that
/// nobody has registered (send_through_server keeps it under `aor:NAME`).
pub(crate) fn mms_user_aor(w: &mut LiaisonWorld, from: &str, to: &str) -> StepResult {
    if !w.recipients.contains_key(to) && !w.originators.contains_key(&format!("aor:{to}")) {
        let Some(ua) = w.originators.get(from).cloned() else {
            return Err(w.fail(format!("an originator `{from}` set up earlier"), "none"));
        };
        let d = mms_domain(w)?;
        let user = format!("{to}-{}", &crate::codec::sip::token()[..8]);
        w.claim_key(&user);
        let aor = format!("sip:{user}@{d}");
        w.originators.insert(
            format!("aor:{to}"),
            Arc::new(Ua::new(ua.ep.clone(), aor, w.timers)),
        );
    }
    Ok(())
}

/// The AoR of a user of the scenario (registered or not).
fn aor_of(w: &LiaisonWorld, name: &str) -> Result<String, Failure> {
    w.recipients
        .get(name)
        .map(|r| r.ua.aor.clone())
        .or_else(|| w.originators.get(name).map(|u| u.aor.clone()))
        .or_else(|| {
            w.originators
                .get(&format!("aor:{name}"))
                .map(|u| u.aor.clone())
        })
        .ok_or_else(|| w.fail(format!("a user `{name}` set up earlier"), "none"))
}

/// The POSTs the MMSC took in this scenario.
fn posts(w: &LiaisonWorld, h: &MmsClientHarness) -> Vec<MmsArrival> {
    let since = w.deferral.since.unwrap_or(w.started);
    h.server
        .log_since(since)
        .into_iter()
        .filter(|a| a.method() == Some("POST"))
        .collect()
}

/// Is this POST the M-Send.req of the scenario's MESSAGE? It is when it
/// decodes as an M-Send.req that names the recipient's unique user part in
/// an address, or that holds the MESSAGE's unique first line: so a
/// submission with a wrong address or a wrong body is still found, and
/// judged, rather than missed.
fn for_the_message(a: &MmsArrival, user: &str, first_line: &[u8]) -> Option<Pdu> {
    let body = &a.msg.as_ref().ok()?.body;
    let pdu = Pdu::parse(body).ok()?;
    if pdu.message_type() != Some(MessageType::SEND_REQ) {
        return None;
    }
    let names_user = pdu
        .to()
        .iter()
        .chain(pdu.cc().iter())
        .chain(pdu.bcc().iter())
        .any(|e| e.text.contains(user));
    let holds_text =
        !first_line.is_empty() && body.windows(first_line.len()).any(|w| w == first_line);
    (names_user || holds_text).then_some(pdu)
}

/// The recipient's unique user part and the MESSAGE's first line.
fn keys(w: &LiaisonWorld) -> Result<(String, Vec<u8>), Failure> {
    let Some((_, out, body)) = w.sent.as_ref() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let msg = crate::codec::sip::SipMessage::parse(&out.bytes)
        .map_err(|e| w.fail("the harness's own MESSAGE to parse", e))?;
    let ruri = msg.request_uri().unwrap_or_default().to_string();
    let user = ruri
        .trim_start_matches("sip:")
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let end = body
        .windows(2)
        .position(|x| x == b"\r\n")
        .unwrap_or(body.len());
    Ok((user, body[..end].to_vec()))
}

fn describe_posts(posts: &[MmsArrival]) -> String {
    if posts.is_empty() {
        return "no POST at all".into();
    }
    posts
        .iter()
        .map(|a| {
            let pdu = a
                .msg
                .as_ref()
                .ok()
                .map(|m| match Pdu::parse(&m.body) {
                    Ok(p) => p.summary(),
                    Err(e) => format!("not an MMS PDU ({e})"),
                })
                .unwrap_or_default();
            format!("{pdu} — {}", a.describe())
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The scenario's M-Send.req, waited for until the scenario deadline.
async fn the_send_req(w: &LiaisonWorld) -> Result<(Pdu, MmsArrival), Failure> {
    let h = harness(w)?;
    let (user, line) = keys(w)?;
    let found = |log: &[MmsArrival]| {
        log.iter()
            .filter(|a| a.method() == Some("POST"))
            .find_map(|a| for_the_message(a, &user, &line).map(|p| (p, a.clone())))
    };
    let since = w.deferral.since.unwrap_or(w.started);
    h.server
        .wait_for(w.deadline, |log| {
            found(
                &log.iter()
                    .filter(|a| a.at >= since)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .is_some()
        })
        .await;
    found(&posts(w, &h)).ok_or_else(|| {
        w.fail(
            format!(
                "an M-Send.req (HTTP POST to {}) for the MESSAGE to `{user}`, which the server defers to MMS",
                section(w).map(|s| s.mmsc_url).unwrap_or_default()
            ),
            format!(
                "none within the scenario time; what the MMSC took: {}",
                describe_posts(&posts(w, &h))
            ),
        )
    })
}

#[then("the harness MMSC receives an M-Send.req for the MESSAGE")]
async fn receives_send_req(w: &mut LiaisonWorld) -> StepResult {
    the_send_req(w).await.map(|_| ())
}

#[then("the harness MMSC receives no M-Send.req for the MESSAGE")]
async fn receives_no_send_req(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let (user, line) = keys(w)?;
    tokio::time::sleep(settle(w)).await;
    match posts(w, &h)
        .into_iter()
        .find(|a| for_the_message(a, &user, &line).is_some())
    {
        None => Ok(()),
        Some(a) => Err(w.fail(
            format!(
                "no M-Send.req for the MESSAGE to `{user}`: its recipient took it by IM (200), so an MMS copy would deliver it twice"
            ),
            format!("an M-Send.req: {}", a.describe()),
        )),
    }
}

#[then(expr = "the M-Send.req is addressed to the SIP URI of {string}")]
async fn addressed_to(w: &mut LiaisonWorld, name: String) -> StepResult {
    let s = section(w)?;
    let uri = aor_of(w, &name)?;
    let want = s.wire(&uri);
    let (pdu, a) = the_send_req(w).await?;
    let to: Vec<String> = pdu.to().iter().map(|e| e.text.clone()).collect();
    if to.contains(&want) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "To: {want} in the M-Send.req (the recipient's SIP URI in the declared form, {})",
            s.sip_address_form.as_deref().unwrap_or("uri")
        ),
        format!(
            "To {:?}, Cc {:?}, Bcc {:?} — {}",
            to,
            pdu.cc().iter().map(|e| &e.text).collect::<Vec<_>>(),
            pdu.bcc().iter().map(|e| &e.text).collect::<Vec<_>>(),
            a.describe()
        ),
    ))
}

#[then(expr = "the M-Send.req is from the SIP URI of {string}")]
async fn from_originator(w: &mut LiaisonWorld, name: String) -> StepResult {
    let s = section(w)?;
    // Behind a trusted core the originator is the identity the core
    // asserted (its SIP URI), not a From the user wrote: IMS-10's rule
    // rules where both apply (catalogue DEFER-9).
    let asserted = w.ims.identities.get(&name).and_then(|ids| {
        ids.iter()
            .find(|i| i.to_ascii_lowercase().starts_with("sip:"))
            .or(ids.first())
            .cloned()
    });
    let uri = match asserted {
        Some(a) => a,
        None => aor_of(w, &name)?,
    };
    let want = s.wire(&uri);
    let (pdu, a) = the_send_req(w).await?;
    let got = match pdu.from() {
        Some(FromValue::Address(e)) => e.text.clone(),
        Some(FromValue::InsertAddress) => "the Insert-address token".into(),
        None => "no From".into(),
    };
    if got == want {
        return Ok(());
    }
    Err(w.fail(
        format!("From: {want} in the M-Send.req (the originator's SIP URI in the declared form)"),
        format!("{got} — {}", a.describe()),
    ))
}

/// (media type, charset) of a textual Content-Type (`text/plain;charset=UTF-8`).
fn sip_content_type(ct: &str) -> (String, Option<String>) {
    let mut it = ct.split(';');
    let media = it.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = it.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    });
    (media, charset)
}

/// Does an MM content type match the MESSAGE's media type and charset?
fn same_type(ct: &ContentType, media: &str, charset: Option<u32>) -> bool {
    ct.media
        .name()
        .is_some_and(|n| n.eq_ignore_ascii_case(media))
        && (charset.is_none() || ct.charset() == charset)
}

#[then("the M-Send.req carries the MESSAGE body byte for byte with its content type")]
async fn carries_body(w: &mut LiaisonWorld) -> StepResult {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let sent_type = w.sent_type.clone().unwrap_or_else(|| "text/plain".into());
    let (media, charset_name) = sip_content_type(&sent_type);
    let charset = charset_name.as_deref().and_then(charset_from_name);
    let (pdu, a) = the_send_req(w).await?;
    let ct = pdu.content_type().cloned();
    let ok = match (&ct, pdu.body.as_ref()) {
        (Some(ct), Some(Body::Single(data))) => same_type(ct, &media, charset) && *data == body,
        (Some(ct), Some(Body::Multipart(parts))) if ct.media.is_multipart() => {
            parts.len() == 1
                && same_type(&parts[0].content_type, &media, charset)
                && parts[0].data == body
        }
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let what = match (&ct, pdu.body.as_ref()) {
        (Some(ct), Some(Body::Single(data))) => {
            format!("content type {ct}, body {}", escape_bytes(data, 200))
        }
        (Some(ct), Some(Body::Multipart(parts))) => format!(
            "content type {ct} with {} part(s): {}",
            parts.len(),
            parts
                .iter()
                .map(|p| format!("{} {}", p.content_type, escape_bytes(&p.data, 160)))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => "no content".into(),
    };
    Err(w.fail(
        format!(
            "the MM's content to be the MESSAGE body byte for byte ({}) under {media}{} — as the whole body or as its only part",
            escape_bytes(&body, 120),
            charset
                .map(|c| format!(" with charset {c} ({})", charset_name.unwrap_or_default()))
                .unwrap_or_default()
        ),
        format!("{what} — {}", a.describe()),
    ))
}
