//! Push over SIP (seeds 000 and 002): the harness as a SIP push agent facing
//! a push-client SUT (MESSAGE with the application feature tag, OPTIONS,
//! SUBSCRIBE/NOTIFY), and as the push device of a user whose IM server
//! notifies offline users by push; also the lifetime (Expires) of stored
//! messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::sip::{token, uri_of, uri_user_host, SipMessage};
use crate::codec::sip_push::{event_package, has_flag, push_apps, sip_date, PUSH_APP_TAG};
use crate::harness::PushClientHarness;
use crate::net::Transport;
use crate::profile::PushClientSection;
use crate::roles::push_agent::push_message;
use crate::roles::transaction::ClientResult;
use crate::roles::ua::{Answer, Recipient, Ua};
use crate::steps::sip::{
    domain, final_of, new_ua, recipient, send_through_server, server_transport, sut_addr,
};
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};

/// A body type no push client is expected to take.
const UNSUPPORTED_TYPE: &str = "application/x-liaison-unsupported";
/// An application ID no push client is expected to serve.
const UNSERVED_APP: &str = "x-liaison.unserved.ua";
/// The MMS notification content type (OMA MMS ENC).
const MMS_TYPE: &str = "application/vnd.wap.mms-message";

/// Per-scenario Push over SIP state.
#[derive(Default)]
pub struct PushSip {
    /// Push-only devices of IM users, by user name.
    pub devices: HashMap<String, Recipient>,
    /// The last push: (application, Content-Type, body).
    pub pushed: Option<(String, String, Vec<u8>)>,
    /// The harness's OPTIONS to the push client.
    pub options: Option<ClientResult>,
    /// The subscription the scenario uses (index at the agent).
    pub subscription: Option<usize>,
    /// The content NOTIFY's transaction.
    pub notify: Option<ClientResult>,
    /// The MESSAGE sent with a lifetime: (body, when sent, Expires seconds).
    pub expiring: Option<(Vec<u8>, Instant, u64)>,
    /// The scenario's claim on the run-level push agent's and upper
    /// tester's traffic (its contents' tokens).
    pub claim: Option<crate::net::capture::Claim>,
    /// The scenario uses the push agent over TLS (`push_client.agent_tls`).
    pub over_tls: bool,
}

/// The push agent a scenario uses: the one over TLS or the plain one.
fn agent_of(h: &PushClientHarness, tls: bool) -> Option<&crate::roles::push_agent::PushAgent> {
    if tls {
        h.agent_tls.as_ref()
    } else {
        h.agent.as_ref()
    }
}

// ------------------------------------------------------------- push-client

fn section(w: &LiaisonWorld) -> Result<PushClientSection, Failure> {
    w.ctx.profile.push_client.clone().ok_or_else(|| {
        w.fail(
            "a profile with a push_client section (the applications it serves)",
            "none",
        )
    })
}

/// The device's AoR: push_client.aor, else sip.aor, else `sip:push@<address>`.
fn device_aor(w: &LiaisonWorld, pc: &PushClientSection) -> Result<String, Failure> {
    if let Some(a) = &pc.aor {
        return Ok(a.clone());
    }
    if let Some(a) = w.ctx.profile.sip.as_ref().and_then(|s| s.aor.clone()) {
        return Ok(a);
    }
    Ok(format!("sip:push@{}", sut_addr(w, "push-client")?))
}

/// The run-level agent and upper tester (routed: the scenario's claim
/// takes what carries its content's token).
fn agent_harness(w: &LiaisonWorld) -> Result<Option<Arc<PushClientHarness>>, Failure> {
    Ok(w.ctx.push_client.clone())
}

/// An M-Notification.ind (OMA MMS ENC §6.2) with a unique transaction ID and
/// Content-Location: binary, with NUL bytes, as an MMS push carries it.
fn m_notification_ind(tid: &str) -> Vec<u8> {
    let mut v = vec![0x8C, 0x82, 0x98];
    v.extend_from_slice(tid.as_bytes());
    v.push(0);
    v.extend_from_slice(&[0x8D, 0x92]);
    let from = b"+15551230000/TYPE=PLMN\0";
    v.extend_from_slice(&[0x89, (from.len() + 1) as u8, 0x80]);
    v.extend_from_slice(from);
    v.extend_from_slice(&[0x8A, 0x80, 0x8E, 0x02, 0x0B, 0xB8]);
    v.extend_from_slice(&[0x88, 0x05, 0x81, 0x03, 0x01, 0x51, 0x80]);
    v.push(0x83);
    v.extend_from_slice(format!("http://mmsc.liaison.test/m/{tid}").as_bytes());
    v.push(0);
    v
}

/// Content of type `ct` that a byte-for-byte check can trip on, with a
/// fresh token in it that the scenario claims: the run-level push agent
/// and upper tester serve scenarios side by side, and what carries the
/// content (a NOTIFY, its 200, a hand-over) is this scenario's.
fn content_of(w: &LiaisonWorld, ct: &str) -> Vec<u8> {
    let (body, key) = if ct.eq_ignore_ascii_case(MMS_TYPE) {
        let tid = format!("T{}", token());
        (m_notification_ind(&tid), tid)
    } else {
        crate::steps::sip::body_with_key()
    };
    w.claim_key(&key);
    body
}

fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn push(w: &mut LiaisonWorld, app: &str, ct: &str) -> StepResult {
    push_over(w, app, ct, false).await
}

/// A push to the SUT; with `tls`, straight to its `sip.tls` over a TLS
/// connection the harness opens (RFC 3261 §26.2), checking its certificate.
async fn push_over(w: &mut LiaisonWorld, app: &str, ct: &str, tls: bool) -> StepResult {
    let pc = section(w)?;
    let aor = device_aor(w, &pc)?;
    let ua = match w.originators.get("harness") {
        Some(u) => u.clone(),
        None => {
            let u = new_ua(w, "push-agent").await?;
            w.originators.insert("harness".into(), u.clone());
            u
        }
    };
    let (t, dst) = if tls {
        let dst = crate::steps::sip::open_tls_to(w, &ua, "push-client").await?;
        (Transport::Tls, dst)
    } else if w.ctx.profile.has_transport(Transport::Udp) {
        (
            Transport::Udp,
            crate::steps::sip::next_hop(w, "push-client")?,
        )
    } else {
        (
            Transport::Tcp,
            crate::steps::sip::next_hop(w, "push-client")?,
        )
    };
    let body = content_of(w, ct);
    let out = push_message(&ua, t, &aor, app, ct, &body);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.push_sip.pushed = Some((app.to_string(), ct.to_string(), body.clone()));
    w.sent = Some((t, out, body));
    w.sent_by = Some("harness".into());
    w.sent_type = Some(ct.to_string());
    w.result = Some(r);
    Ok(())
}

#[when("the harness pushes content for the first declared application to the SUT")]
async fn push_served(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let app = pc.apps[0].clone();
    let ct = pc.content_types()[0].clone();
    push(w, &app, &ct).await
}

#[when("the harness pushes content for the first declared application to the SUT over TLS")]
async fn push_served_tls(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let app = pc.apps[0].clone();
    let ct = pc.content_types()[0].clone();
    push_over(w, &app, &ct, true).await
}

#[when("the harness pushes content of a type the SUT does not support")]
async fn push_unsupported(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    if pc
        .content_types()
        .iter()
        .any(|t| t.eq_ignore_ascii_case(UNSUPPORTED_TYPE))
    {
        return Err(w.fail(
            format!("a profile whose push_client.content_types leave out {UNSUPPORTED_TYPE}"),
            "a profile declaring it",
        ));
    }
    let app = pc.apps[0].clone();
    push(w, &app, UNSUPPORTED_TYPE).await
}

#[when("the harness pushes content for an application the SUT does not serve")]
async fn push_unserved(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    if pc.apps.iter().any(|a| a == UNSERVED_APP) {
        return Err(w.fail(
            format!("a profile whose push_client.apps leave out {UNSERVED_APP}"),
            "a profile declaring it",
        ));
    }
    let ct = pc.content_types()[0].clone();
    push(w, UNSERVED_APP, &ct).await
}

#[then("the push is accepted with a 2xx response")]
async fn push_accepted(w: &mut LiaisonWorld) -> StepResult {
    let app = w
        .push_sip
        .pushed
        .as_ref()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    let f = final_of(w, "the harness")?;
    if f.status().is_some_and(|s| (200..300).contains(&s)) {
        return Ok(());
    }
    let inc = w.result.as_ref().and_then(|r| r.final_incoming());
    Err(w.fail(
        format!("a 2xx to a push for `{app}`, an application the client declared it serves ({PUSH_APP_TAG})"),
        inc.map(describe_incoming).unwrap_or_default(),
    ))
}

#[then("the push is refused with a final response that is not a 2xx")]
async fn push_refused(w: &mut LiaisonWorld) -> StepResult {
    let f = final_of(w, "the harness")?;
    if f.status().is_some_and(|s| s >= 300) {
        return Ok(());
    }
    let inc = w.result.as_ref().and_then(|r| r.final_incoming());
    Err(w.fail(
        format!("a non-2xx final response to a push whose Accept-Contact requires ({PUSH_APP_TAG}, require, explicit) an application the client does not serve ({UNSERVED_APP})"),
        inc.map(describe_incoming).unwrap_or_default(),
    ))
}

#[then("the final response has an Accept header listing a content type the push client declared")]
async fn push_accept_header(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let f = final_of(w, "the harness")?;
    let listed: Vec<String> = f
        .header_values("Accept")
        .iter()
        .map(|v| media_type(v))
        .collect();
    let declared: Vec<String> = pc.content_types().iter().map(|t| media_type(t)).collect();
    if listed.iter().any(|t| declared.contains(t)) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "an Accept header listing one of [{}] (RFC 3261 §21.4.13)",
            declared.join(", ")
        ),
        format!(
            "{} — bytes: {}",
            if listed.is_empty() {
                "no Accept header".to_string()
            } else {
                format!("Accept: {}", listed.join(", "))
            },
            escape_bytes(f.raw(), 400)
        ),
    ))
}

/// Waits for the upper tester to see `body`; checks application and type.
async fn handed_over(w: &LiaisonWorld, app: &str, ct: &str, body: &[u8]) -> StepResult {
    let Some(h) = agent_harness(w)?.filter(|h| h.upper.is_some()) else {
        return Err(w.fail(
            "the harness upper tester (profile push_client.upper_tester) to observe the hand-over",
            "none",
        ));
    };
    let upper = h.upper.as_ref().expect("checked above");
    let since = w.started;
    upper
        .wait_for(w.deadline, |log| log.iter().any(|h| h.body() == body))
        .await;
    let log: Vec<_> = upper.log().into_iter().filter(|h| h.at >= since).collect();
    let Some(h) = log.iter().find(|h| h.body() == body) else {
        return Err(w.fail(
            format!(
                "the application `{app}` to receive the pushed content byte for byte ({} bytes: {}), reported at the upper tester {}",
                body.len(),
                escape_bytes(body, 120),
                upper.addr()
            ),
            if log.is_empty() {
                "no hand-over reported within the scenario timeout".to_string()
            } else {
                format!(
                    "none with that content; the hand-overs reported since the scenario began (any scenario's: they run side by side): {}",
                    log.iter().map(|h| h.describe()).collect::<Vec<_>>().join(" | ")
                )
            },
        ));
    };
    if crate::roles::upper_tester::app_of(h).as_deref() != Some(app) {
        return Err(w.fail(
            format!("the content handed to application `{app}`, the one the push named"),
            format!(
                "handed to `{}` — {}",
                crate::roles::upper_tester::app_of(h).unwrap_or_default(),
                h.describe()
            ),
        ));
    }
    let got = h.content_type().map(|c| media_type(&c)).unwrap_or_default();
    if got != media_type(ct) {
        return Err(w.fail(
            format!("the content handed over with its Content-Type {ct}"),
            format!("Content-Type `{got}` — {}", h.describe()),
        ));
    }
    Ok(())
}

#[then("the first declared application receives the pushed content byte for byte with its Content-Type")]
async fn app_receives(w: &mut LiaisonWorld) -> StepResult {
    let Some((app, ct, body)) = w.push_sip.pushed.clone() else {
        return Err(w.fail("a push sent earlier in the scenario", "none"));
    };
    handed_over(w, &app, &ct, &body).await
}

#[when("the harness sends OPTIONS to the push client")]
async fn send_options(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let t = if w.ctx.profile.has_transport(Transport::Udp) {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let dst = crate::steps::sip::next_hop(w, "push-client")?;
    let aor = device_aor(w, &pc)?;
    let ua = new_ua(w, "push-agent").await?;
    w.originators.insert("harness".into(), ua.clone());
    let out = ua.options(t, &aor, &aor);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.push_sip.options = Some(r);
    Ok(())
}

#[then("the answer to OPTIONS is 200 and its Contact names every declared push application")]
async fn options_advertise(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let ep = w.originators.get("harness").map(|u| u.ep.clone());
    let r = w.push_sip.options.as_ref();
    let Some(f) = r.and_then(|r| r.final_response()) else {
        return Err(w.fail(
            "a final response to the harness's OPTIONS",
            w.describe(r, ep.as_deref()),
        ));
    };
    if f.status() != Some(200) {
        return Err(w.fail(
            "200 to OPTIONS (RFC 3261 §11.2)",
            format!("{} — bytes: {}", f.summary(), escape_bytes(f.raw(), 400)),
        ));
    }
    let advertised: Vec<String> = f
        .header_values("Contact")
        .iter()
        .filter_map(|v| push_apps(v))
        .flatten()
        .collect();
    let missing: Vec<&String> = pc.apps.iter().filter(|a| !advertised.contains(a)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "a Contact in the 200 to OPTIONS whose {PUSH_APP_TAG} lists [{}] (RFC 3840 §8)",
            pc.apps.join(", ")
        ),
        format!(
            "Contact: {} — bytes: {}",
            f.header_all("Contact").join(" | "),
            escape_bytes(f.raw(), 400)
        ),
    ))
}

#[given(
    "the push client has subscribed to the declared push event package at the harness push agent"
)]
#[then(
    "the push client has subscribed to the declared push event package at the harness push agent"
)]
async fn subscribed(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let event = pc.event().to_ascii_lowercase();
    let Some(h) = agent_harness(w)?.filter(|h| h.agent.is_some()) else {
        return Err(w.fail("the harness push agent (profile push_client.agent)", "none"));
    };
    let agent = h.agent.as_ref().expect("checked above");
    let matching = |subs: &[crate::roles::push_agent::Subscription]| {
        subs.iter().rposition(|s| event_package(&s.event) == event)
    };
    agent
        .wait_for(w.deadline, |subs| matching(subs).is_some())
        .await;
    match matching(&agent.subscriptions()) {
        Some(i) => {
            w.push_sip.subscription = Some(i);
            Ok(())
        }
        None => {
            let seen: Vec<String> = agent.log().iter().map(describe_incoming).collect();
            Err(w.fail(
                format!(
                    "a SUBSCRIBE with Event: {event} at the harness push agent {} (RFC 6665 §4.1.2)",
                    agent.ep.udp_addr()
                ),
                if seen.is_empty() {
                    "nothing reached the push agent".to_string()
                } else {
                    seen.join(" | ")
                },
            ))
        }
    }
}

#[given(
    "the push client has subscribed over TLS to the declared push event package at the harness push agent's TLS address"
)]
async fn subscribed_tls(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let event = pc.event().to_ascii_lowercase();
    w.push_sip.over_tls = true;
    let h = agent_harness(w)?;
    let Some((agent, at)) = h
        .as_ref()
        .and_then(|h| Some((h.agent_tls.as_ref()?, h.agent_tls_addr?)))
    else {
        return Err(w.fail(
            "the harness push agent over TLS (profile push_client.agent_tls)",
            "none",
        ));
    };
    let matching = |subs: &[crate::roles::push_agent::Subscription]| {
        subs.iter().rposition(|s| {
            event_package(&s.event) == event && s.subscribe.transport == Transport::Tls
        })
    };
    agent
        .wait_for(w.deadline, |subs| matching(subs).is_some())
        .await;
    if let Some(i) = matching(&agent.subscriptions()) {
        let sub = &agent.subscriptions()[i];
        // RFC 3261 §18.1.1/§26.2: the SUBSCRIBE's Via names the transport it went over.
        let via = sub
            .subscribe
            .msg
            .as_ref()
            .ok()
            .and_then(|m| m.header("Via").map(str::to_string))
            .unwrap_or_default();
        if !via.to_ascii_uppercase().starts_with("SIP/2.0/TLS") {
            return Err(w.fail(
                "a SUBSCRIBE over TLS whose top Via says SIP/2.0/TLS (RFC 3261 §18.1.1, §26.2)",
                format!("Via: {via} — {}", describe_incoming(&sub.subscribe)),
            ));
        }
        w.push_sip.subscription = Some(i);
        return Ok(());
    }
    let mut seen: Vec<String> = agent.log().iter().map(describe_incoming).collect();
    for u in agent.ep.unmatched() {
        seen.push(format!(
            "in the clear on the TLS port: {}",
            escape_bytes(&u.bytes, 300)
        ));
    }
    seen.extend(agent.ep.transport_events());
    Err(w.fail(
        format!(
            "a SUBSCRIBE with Event: {event} over TLS at the harness push agent's TLS address {at} (RFC 6665 §4.1.2, RFC 3261 §26.2)"
        ),
        if seen.is_empty() {
            "nothing reached the push agent's TLS address".to_string()
        } else {
            seen.join(" | ")
        },
    ))
}

#[then("the NOTIFY is answered 200 on the push client's TLS connection")]
async fn notify_answered_tls(w: &mut LiaisonWorld) -> StepResult {
    notify_answered(w).await?;
    let (_, sub, _) = subscription(w)?;
    let r = w.push_sip.notify.as_ref();
    let Some(f) = r.and_then(|r| r.final_response()) else {
        return Err(w.fail("a final response to the NOTIFY", "none"));
    };
    let resp = r.and_then(|r| r.final_index.map(|i| &r.responses[i]));
    match resp {
        Some(inc) if inc.transport == Transport::Tls && inc.from == sub.subscribe.from => Ok(()),
        Some(inc) => Err(w.fail(
            format!(
                "the 200 to the NOTIFY on the TLS connection the SUBSCRIBE came over, from {} (RFC 3261 §18.2.2, RFC 5626 §5)",
                sub.subscribe.from
            ),
            format!(
                "{} over {} from {}",
                f.summary(),
                inc.transport.via_name(),
                inc.from
            ),
        )),
        None => Err(w.fail("a final response to the NOTIFY", "none")),
    }
}

fn subscription(
    w: &LiaisonWorld,
) -> Result<
    (
        Arc<PushClientHarness>,
        crate::roles::push_agent::Subscription,
        usize,
    ),
    Failure,
> {
    let i = w
        .push_sip
        .subscription
        .ok_or_else(|| w.fail("a subscription found earlier in the scenario", "none"))?;
    let h = agent_harness(w)?.ok_or_else(|| w.fail("the harness push agent", "none"))?;
    let sub = agent_of(&h, w.push_sip.over_tls)
        .and_then(|a| a.subscriptions().get(i).cloned())
        .ok_or_else(|| w.fail("the subscription found earlier", "none"))?;
    Ok((h, sub, i))
}

#[given("the push client answered the initial NOTIFY with 200")]
#[then("the push client answered the initial NOTIFY with 200")]
async fn initial_notify(w: &mut LiaisonWorld) -> StepResult {
    let (h, mut sub, i) = subscription(w)?;
    let agent = agent_of(&h, w.push_sip.over_tls).expect("a subscription implies an agent");
    if sub.dst.is_none() {
        return Err(w.fail(
            "a SUBSCRIBE whose Contact names a loopback address for the NOTIFYs (RFC 6665 §4.1.2.1)",
            describe_incoming(&sub.subscribe),
        ));
    }
    agent
        .wait_for(w.deadline, |subs| {
            subs.get(i).is_some_and(|s| s.initial.is_some())
        })
        .await;
    sub = agent.subscriptions().get(i).cloned().unwrap_or(sub);
    let r = sub.initial.as_ref();
    match r.and_then(|r| r.final_response()).and_then(|m| m.status()) {
        Some(200) => Ok(()),
        _ => Err(w.fail(
            "200 to the initial NOTIFY of the subscription (RFC 6665 §4.1.3)",
            match r {
                Some(r) => w.describe(Some(r), Some(&agent.ep)),
                None => {
                    "the initial NOTIFY's transaction had not ended by the scenario timeout".into()
                }
            },
        )),
    }
}

#[when("the harness push agent sends a NOTIFY carrying content for the first declared application")]
async fn notify_content(w: &mut LiaisonWorld) -> StepResult {
    let pc = section(w)?;
    let (h, _, i) = subscription(w)?;
    let agent = agent_of(&h, w.push_sip.over_tls).expect("a subscription implies an agent");
    let ct = pc.content_types()[0].clone();
    let body = content_of(w, &ct);
    let r = agent
        .notify_content(i, &ct, &body, w.deadline)
        .await
        .map_err(|e| w.fail("a subscription the harness can NOTIFY", e))?;
    w.push_sip.pushed = Some((pc.apps[0].clone(), ct, body));
    w.push_sip.notify = Some(r);
    Ok(())
}

#[then("the NOTIFY is answered 200")]
async fn notify_answered(w: &mut LiaisonWorld) -> StepResult {
    let h = agent_harness(w)?;
    let ep = h
        .as_ref()
        .and_then(|h| agent_of(h, w.push_sip.over_tls))
        .map(|a| a.ep.clone());
    let r = w.push_sip.notify.as_ref();
    match r.and_then(|r| r.final_response()).and_then(|m| m.status()) {
        Some(200) => Ok(()),
        _ => Err(w.fail(
            "200 to the NOTIFY carrying the push (RFC 6665 §4.1.3)",
            w.describe(r, ep.as_deref()),
        )),
    }
}

// -------------------------------------------------------------- im-server

fn offline_app(w: &LiaisonWorld) -> Result<String, Failure> {
    w.ctx
        .profile
        .capabilities
        .offline_notification_app
        .clone()
        .ok_or_else(|| {
            w.fail(
                "a profile declaring capabilities.offline_notification_app",
                "none",
            )
        })
}

#[given(expr = "{string} has a device registered for push only")]
async fn push_device(w: &mut LiaisonWorld, name: String) -> StepResult {
    let app = offline_app(w)?;
    let ep = w.endpoint().await?;
    let aor = format!("sip:{name}-{}@{}", &token()[..8], domain(w));
    let ua = Arc::new(Ua::new(ep, aor, w.timers));
    // Answer from the start: a notification may follow the REGISTER at once.
    let device = Recipient::start(ua.clone());
    let t = server_transport(w);
    let dst = crate::steps::sip::next_hop(w, "im-server")?;
    let out = ua.register_with(
        t,
        &format!("sip:{}", domain(w)),
        300,
        &format!(";{PUSH_APP_TAG}=\"{app}\""),
    );
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    if !r
        .final_response()
        .and_then(|m| m.status())
        .is_some_and(|s| (200..300).contains(&s))
    {
        return Err(w.fail(
            format!(
                "2xx to the REGISTER of {}'s push contact ({PUSH_APP_TAG}=\"{app}\"; RFC 3261 §10.3, RFC 3840 §6)",
                ua.aor
            ),
            w.describe(Some(&r), Some(&ua.ep)),
        ));
    }
    w.originators.insert(format!("aor:{name}"), ua);
    w.push_sip.devices.insert(name, device);
    Ok(())
}

fn device<'a>(w: &'a LiaisonWorld, name: &str) -> Result<&'a Recipient, Failure> {
    w.push_sip.devices.get(name).ok_or_else(|| {
        w.fail(
            format!("a push device of `{name}` registered earlier in the scenario"),
            "none",
        )
    })
}

#[given(expr = "the push device of {string} will answer {int}")]
async fn device_answers(w: &mut LiaisonWorld, name: String, code: u16) -> StepResult {
    device(w, &name)?.set_answer(Answer::Respond {
        code,
        delay: Duration::ZERO,
    });
    Ok(())
}

/// The first MESSAGE the device received, if any.
fn notification(d: &Recipient) -> Option<SipMessage> {
    d.messages().into_iter().next()
}

fn require_notification(w: &LiaisonWorld, name: &str) -> Result<SipMessage, Failure> {
    let d = device(w, name)?;
    notification(d).ok_or_else(|| {
        w.fail(
            format!("an offline notification (a MESSAGE) at the push contact of `{name}`"),
            "none",
        )
    })
}

#[then(expr = "the push device of {string} receives an offline notification")]
async fn receives_notification(w: &mut LiaisonWorld, name: String) -> StepResult {
    let d = device(w, &name)?;
    d.wait_for(w.deadline, |log| {
        log.iter().any(|r| {
            r.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE"))
        })
    })
    .await;
    if notification(d).is_some() {
        return Ok(());
    }
    let got: Vec<String> = d
        .log()
        .iter()
        .map(|r| describe_incoming(&r.incoming))
        .collect();
    Err(w.fail(
        format!(
            "an offline notification (a SIP MESSAGE) at the push-only contact {} of `{name}`, pushed when the server stored the message",
            d.ua.contact(server_transport(w))
        ),
        if got.is_empty() {
            "nothing reached the push device within the scenario timeout".to_string()
        } else {
            got.join(" | ")
        },
    ))
}

#[then(
    "the offline notification requires the declared push application, with require and explicit"
)]
async fn notification_feature_tag(w: &mut LiaisonWorld) -> StepResult {
    let app = offline_app(w)?;
    let name = w
        .push_sip
        .devices
        .keys()
        .next()
        .cloned()
        .unwrap_or_default();
    let m = require_notification(w, &name)?;
    let values = m.header_values("Accept-Contact");
    let ok = values.iter().any(|v| {
        push_apps(v).is_some_and(|a| a.contains(&app))
            && has_flag(v, "require")
            && has_flag(v, "explicit")
    });
    if ok {
        return Ok(());
    }
    Err(w.fail(
        format!("Accept-Contact: *;{PUSH_APP_TAG}=\"{app}\";require;explicit in the offline notification (RFC 3841 §9.2)"),
        format!(
            "{} — bytes: {}",
            if values.is_empty() {
                "no Accept-Contact".to_string()
            } else {
                format!("Accept-Contact: {}", values.join(", "))
            },
            escape_bytes(m.raw(), 500)
        ),
    ))
}

#[then(
    expr = "the offline notification is addressed to {string} and carries a body with its Content-Type"
)]
async fn notification_form(w: &mut LiaisonWorld, name: String) -> StepResult {
    let m = require_notification(w, &name)?;
    let aor = w
        .originators
        .get(&format!("aor:{name}"))
        .map(|u| u.aor.clone())
        .unwrap_or_default();
    let to = m.header("To").and_then(uri_of).unwrap_or_default();
    let (tu, th) = uri_user_host(&to);
    let (au, ah) = uri_user_host(&aor);
    let same = tu.is_some()
        && tu == au
        && th.map(|h| h.to_ascii_lowercase()) == ah.map(|h| h.to_ascii_lowercase());
    if !same {
        return Err(w.fail(
            format!("the offline notification addressed (To) to the user's identity {aor}"),
            format!(
                "To: {} — bytes: {}",
                m.header("To").unwrap_or("(none)"),
                escape_bytes(m.raw(), 400)
            ),
        ));
    }
    if m.body().is_empty() || m.content_type().is_none() {
        return Err(w.fail(
            "an offline notification whose body is the pushed content, with its own Content-Type",
            format!(
                "a body of {} bytes, Content-Type {} — bytes: {}",
                m.body().len(),
                m.header("Content-Type").unwrap_or("(none)"),
                escape_bytes(m.raw(), 400)
            ),
        ));
    }
    Ok(())
}

#[when(
    expr = "{string} sends a {string} MESSAGE to {string} through the SUT that expires after {int} second(s)"
)]
async fn sends_expiring(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
    secs: u64,
) -> StepResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let expires = secs.to_string();
    let date = sip_date(now);
    let sent_at = Instant::now();
    send_through_server(
        w,
        &from,
        &content_type,
        &to,
        &[("Expires", expires.as_str()), ("Date", date.as_str())],
    )
    .await?;
    let body = w.sent.as_ref().map(|s| s.2.clone()).unwrap_or_default();
    w.push_sip.expiring = Some((body, sent_at, secs));
    Ok(())
}

#[when("the lifetime of the expiring MESSAGE has passed")]
async fn lifetime_passed(w: &mut LiaisonWorld) -> StepResult {
    let Some((_, at, secs)) = w.push_sip.expiring.clone() else {
        return Err(w.fail(
            "a MESSAGE with Expires sent earlier in the scenario",
            "none",
        ));
    };
    // Expires and the SUT's resolution more (timers.expires_resolution_ms,
    // a whole second by default: a server counting whole seconds may
    // expire a message up to a second late).
    let resolution = Duration::from_millis(w.ctx.profile.expires_resolution_ms);
    let until = at + Duration::from_secs(secs) + resolution;
    if until + w.timers.t1 * 8 > w.deadline {
        return Err(w.fail(
            format!(
                "a scenario timeout leaving room to wait {} ms for the MESSAGE to expire",
                (Duration::from_secs(secs) + resolution).as_millis()
            ),
            format!("{} ms left", w.remaining().as_millis()),
        ));
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
    Ok(())
}

#[then(expr = "{string} does not receive the expired MESSAGE")]
async fn no_expired(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some((body, _, secs)) = w.push_sip.expiring.clone() else {
        return Err(w.fail(
            "a MESSAGE with Expires sent earlier in the scenario",
            "none",
        ));
    };
    let rec = recipient(w, &name)?;
    let has = |log: &[crate::roles::ua::Received]| {
        log.iter().any(|r| {
            r.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE") && m.body() == body.as_slice())
        })
    };
    // A store delivers in storage order; the unexpired control came after.
    let settle = (Instant::now() + w.timers.t1 * 4).min(w.deadline);
    rec.wait_for(settle, has).await;
    let log = rec.log();
    let Some(got) = log.iter().find(|r| {
        r.incoming
            .msg
            .as_ref()
            .is_ok_and(|m| m.method() == Some("MESSAGE") && m.body() == body.as_slice())
    }) else {
        return Ok(());
    };
    Err(w.fail(
        format!(
            "no delivery to `{name}` of the MESSAGE sent with Expires: {secs}, registered more than {secs} s later (RFC 3261 §20.19)"
        ),
        describe_incoming(&got.incoming),
    ))
}
