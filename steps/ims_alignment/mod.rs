//! IMS alignment (seed 003): the SUT's SIP traffic through the harness IMS
//! core (`roles::cscf`): registration through it, asserted identity and
//! trust, numbers in tel: and sip:…;user=phone form, routing by
//! Accept-Contact, responses by the recorded route.

pub mod sips;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::ims::{self, features, icsi_encode, icsis, lr_uri, shown_identity, ICSI_CPM_MSG};
use crate::codec::sip::{token, uri_of, SipMessage};
use crate::harness::ImsHarness;
use crate::net::{Incoming, Transport};
use crate::roles::cscf::{aor_key, Hop};
use crate::roles::ua::{Recipient, Ua};
use crate::steps::sip::{
    body_for_test, domain, new_ua, recipient, register, send_through_server, server_transport,
};
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};

/// Per-scenario IMS state.
#[derive(Default)]
pub struct Ims {
    /// Set while a step sends or registers through the core.
    pub through_core: bool,
    /// Set while a step sends straight to the SUT, even with `route_all`.
    pub direct: bool,
    /// The REGISTER the SUT refreshed its registration with.
    pub register: Option<Incoming>,
    /// Identities a harness user asserts through the core (P-Preferred-Identity), by name.
    pub identities: std::collections::HashMap<String, Vec<String>>,
    /// The scenario's claim on the core's traffic (its users' names).
    pub claim: Option<crate::net::capture::Claim>,
}

/// The core, when this request goes through it: every scenario with
/// `ims.route_all`, else only steps that say "through the core".
pub(crate) fn core_for(w: &LiaisonWorld) -> Result<Option<Arc<ImsHarness>>, Failure> {
    if w.ims.direct {
        return Ok(None);
    }
    let Some(h) = w.ctx.ims.clone() else {
        return Ok(None);
    };
    let route_all = w.ctx.profile.ims.as_ref().is_some_and(|i| i.route_all());
    if route_all || w.ims.through_core {
        // Its packets reach the scenario's pcap by the names of its users
        // and the addresses of its sockets, route_all or not.
        Ok(Some(h))
    } else {
        Ok(None)
    }
}

fn harness(w: &LiaisonWorld) -> Result<Arc<ImsHarness>, Failure> {
    w.ctx
        .ims
        .clone()
        .ok_or_else(|| w.fail("the harness IMS core (profile section ims)", "none"))
}

#[given("the harness IMS core serves the scenario")]
async fn core_serves(w: &mut LiaisonWorld) -> StepResult {
    harness(w).map(|_| ())
}

// ------------------------------------------------------------ im-client

fn hop_request(h: &Hop) -> Option<&SipMessage> {
    h.incoming.msg.as_ref().ok().filter(|m| m.is_request())
}

/// A REGISTER the core took as registrar.
fn registered_here(h: &Hop) -> bool {
    matches!(h.action, crate::roles::cscf::Action::Answered(_))
        && hop_request(h).is_some_and(|m| m.method() == Some("REGISTER"))
}

#[when("the SUT refreshes its registration through the core")]
async fn sut_refreshes(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    // The SUT's REGISTER names none of the scenario's users: the scenario
    // takes it by the SUT's own identity, as do the others that watch it,
    // from now on (so the REGISTER it judges is in its pcap).
    if let (Some(c), Ok(aor)) = (w.ims.claim.as_ref(), crate::steps::sip::client_aor(w))
        && let (Some(user), Some(host)) = crate::codec::sip::uri_user_host(&aor)
    {
        c.weak_key(format!("{user}@{host}"));
    }
    let since = Instant::now();
    let expires = w.ctx.profile.ims.as_ref().map(|i| i.expires()).unwrap_or(4);
    let until = (Instant::now() + Duration::from_secs(u64::from(expires) + 1)).min(w.deadline);
    let fresh = |log: &[Hop]| {
        log.iter()
            .any(|x| x.incoming.at >= since && registered_here(x))
    };
    h.core.wait_for(until, fresh).await;
    let got = h
        .core
        .log()
        .into_iter()
        .find(|x| x.incoming.at >= since && registered_here(x))
        .map(|x| x.incoming);
    match got {
        Some(inc) => {
            w.ims.register = Some(inc);
            Ok(())
        }
        None => Err(w.fail(
            format!(
                "a REGISTER from the SUT at the core {} within the {expires} s registration the core granted (3GPP TS 24.229 §5.1.1.4: refresh before expiry)",
                h.core.addr()
            ),
            format!(
                "none within {} ms{}",
                since.elapsed().as_millis(),
                earlier_registers(&h)
            ),
        )),
    }
}

fn earlier_registers(h: &ImsHarness) -> String {
    let n = h.core.log().iter().filter(|x| registered_here(x)).count();
    if n == 0 {
        "; the SUT never registered with the core during the run".into()
    } else {
        format!("; {n} REGISTER(s) came earlier in the run")
    }
}

fn the_register(w: &LiaisonWorld) -> Result<(Incoming, SipMessage), Failure> {
    let inc = w
        .ims
        .register
        .clone()
        .ok_or_else(|| w.fail("a REGISTER the SUT sent earlier in the scenario", "none"))?;
    let m = inc
        .msg
        .clone()
        .map_err(|e| w.fail("a REGISTER that parses", format!("{e}")))?;
    Ok((inc, m))
}

#[then("the REGISTER names the profile's AoR in To and binds a contact of the SUT")]
async fn register_identity(w: &mut LiaisonWorld) -> StepResult {
    let (inc, m) = the_register(w)?;
    let aor = crate::steps::sip::client_aor(w)?;
    let to = m.header("To").and_then(uri_of).unwrap_or_default();
    if aor_key(&to) != aor_key(&aor) {
        return Err(w.fail(
            format!("a REGISTER whose To is the public identity {aor} (RFC 3261 §10.2)"),
            format!("To {to} — {}", describe_incoming(&inc)),
        ));
    }
    let sut = w.ctx.sip_address("im-client");
    let contact = m.header("Contact").and_then(uri_of).unwrap_or_default();
    if inc.transport.is_ws() {
        // A WebSocket client takes no connections: the binding is the
        // connection the REGISTER came over, whatever its Contact names
        // (RFC 7118 §5; often a made-up `.invalid` host).
        return Ok(());
    }
    let bound = contact
        .split_once('@')
        .map(|x| x.1)
        .unwrap_or(&contact)
        .split([';', '>'])
        .next()
        .and_then(|hp| hp.parse::<std::net::SocketAddr>().ok());
    // Over TLS the contact may be where the SUT takes TLS (sip.tls).
    let sut_tls = (inc.transport == Transport::Tls)
        .then(|| w.ctx.tls_address("im-client"))
        .flatten();
    if bound.is_none() || (bound != sut && bound != sut_tls && bound != Some(inc.from)) {
        return Err(w.fail(
            format!(
                "a Contact at the SUT's own address ({}{}) (RFC 3261 §10.2.1)",
                sut.map(|a| a.to_string()).unwrap_or_default(),
                sut_tls
                    .map(|a| format!(", or {a} for TLS"))
                    .unwrap_or_default()
            ),
            format!("Contact {contact} — {}", describe_incoming(&inc)),
        ));
    }
    Ok(())
}

/// What the profile's `ims` section claims (feature tags, ICSIs).
fn claimed(
    w: &LiaisonWorld,
    what: impl Fn(&crate::profile::ImsSection) -> Option<Vec<String>>,
) -> Vec<String> {
    w.ctx
        .profile
        .ims
        .as_ref()
        .and_then(what)
        .unwrap_or_default()
}

#[then("the REGISTER's Contact carries every feature tag the profile claims")]
async fn register_tags(w: &mut LiaisonWorld) -> StepResult {
    let (inc, m) = the_register(w)?;
    let claimed = claimed(w, |i| i.feature_tags.clone());
    let contacts = m.header_values("Contact");
    let have: Vec<String> = contacts
        .iter()
        .flat_map(|c| features(c))
        .map(|f| f.name)
        .collect();
    let missing: Vec<&String> = claimed
        .iter()
        .filter(|t| !have.iter().any(|h| h.eq_ignore_ascii_case(t)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "a Contact declaring the feature tags [{}] (RFC 3840 §6)",
            claimed.join(", ")
        ),
        format!(
            "none of [{}] in Contact {} — {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            contacts.join(", "),
            describe_incoming(&inc)
        ),
    ))
}

#[then("the REGISTER's Contact carries every ICSI the profile claims, percent-encoded")]
async fn register_icsis(w: &mut LiaisonWorld) -> StepResult {
    let (inc, m) = the_register(w)?;
    let claimed = claimed(w, |i| i.icsi.clone());
    let contacts = m.header_values("Contact");
    let have: Vec<(String, bool)> = contacts.iter().flat_map(|c| icsis(c)).collect();
    for c in &claimed {
        match have.iter().find(|(v, _)| v == c) {
            Some((_, true)) => {}
            Some((_, false)) => {
                return Err(w.fail(
                    format!(
                        "the ICSI {c} percent-encoded in +g.3gpp.icsi-ref, as {} (3GPP TS 24.229 §7.9.2)",
                        icsi_encode(c)
                    ),
                    format!("it raw, with its colons — {}", describe_incoming(&inc)),
                ))
            }
            None => {
                return Err(w.fail(
                    format!("the ICSI {c} in +g.3gpp.icsi-ref of the Contact"),
                    format!(
                        "ICSIs [{}] in Contact {} — {}",
                        have.iter()
                            .map(|x| x.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        contacts.join(", "),
                        describe_incoming(&inc)
                    ),
                ))
            }
        }
    }
    Ok(())
}

#[when(expr = "the harness sends a {string} MESSAGE to the SUT through the core")]
async fn harness_sends_via_core(w: &mut LiaisonWorld, content_type: String) -> StepResult {
    w.ims.through_core = true;
    let r = crate::steps::sip::send_to_client(w, &content_type, "udp").await;
    w.ims.through_core = false;
    r
}

#[then("the SUT's response came back through the core")]
async fn response_via_core(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let Some((_, out, _)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let call_id = out.call_id.clone();
    let is_answer = |x: &Hop| {
        x.incoming.msg.as_ref().is_ok_and(|m| {
            !m.is_request()
                && m.call_id() == Some(call_id.as_str())
                && m.status().is_some_and(|s| s >= 200)
        })
    };
    let until = (Instant::now() + w.timers.t1 * 10).min(w.deadline);
    h.core
        .wait_for(until, |log| log.iter().any(&is_answer))
        .await;
    let ua = w.originators.get("harness").map(|u| u.ep.clone());
    if h.core.log().iter().any(is_answer) {
        // Two different finals relayed: no answer the originator may rely on.
        return match w.result.as_ref().filter(|r| r.conflict().is_some()) {
            Some(r) => Err(w.fail(
                "one final response from the SUT, back through the core (RFC 3261 §17.2.2)",
                w.describe(Some(r), ua.as_deref()),
            )),
            None => Ok(()),
        };
    }
    Err(w.fail(
        format!(
            "the SUT's final response to the MESSAGE sent to the core {} (RFC 3261 §18.2.2: by the top Via)",
            h.core.addr()
        ),
        format!(
            "none at the core; the originator saw: {}",
            w.describe(w.result.as_ref(), ua.as_deref())
        ),
    ))
}

#[when(expr = "the harness offers a Large Message session with {string} through the core")]
async fn offers_via_core(w: &mut LiaisonWorld, accept: String) -> StepResult {
    w.ims.through_core = true;
    let r = crate::steps::delivery_reports::large_message::offers(w, accept).await;
    w.ims.through_core = false;
    r
}

#[then("the SUT's 200 to the INVITE carries the Record-Route the core added")]
async fn record_route_copied(w: &mut LiaisonWorld) -> StepResult {
    let h = harness(w)?;
    let r = w.lm.offer.as_ref();
    let ua = w.lm.ua.as_ref().map(|u| u.ep.clone());
    let Some(ok) = r
        .and_then(|r| r.final_response())
        .filter(|m| m.status() == Some(200))
    else {
        return Err(w.fail(
            "a 200 to the INVITE offering an MSRP session",
            w.describe(r, ua.as_deref()),
        ));
    };
    let call_id = ok.call_id().unwrap_or_default().to_string();
    // The Record-Route of the INVITE as the core forwarded it to the SUT.
    let recorded: Option<Vec<String>> = h.core.log().iter().find_map(|x| {
        let m = hop_request(x)?;
        if m.method() != Some("INVITE") || m.call_id() != Some(call_id.as_str()) {
            return None;
        }
        match &x.action {
            crate::roles::cscf::Action::Forwarded { bytes, .. } => SipMessage::parse(bytes)
                .ok()
                .map(|f| f.header_values("Record-Route")),
            _ => None,
        }
    });
    let Some(recorded) = recorded.filter(|r| !r.is_empty()) else {
        return Err(w.fail(
            "the INVITE forwarded by the core with its Record-Route",
            "no such INVITE in the core's log",
        ));
    };
    let copied = ok.header_values("Record-Route");
    if copied == recorded {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "the 200 with Record-Route {} as the INVITE carried it (RFC 3261 §12.1.1)",
            recorded.join(", ")
        ),
        format!(
            "{} — {}",
            if copied.is_empty() {
                "no Record-Route".to_string()
            } else {
                format!("Record-Route {}", copied.join(", "))
            },
            w.describe(r, ua.as_deref())
        ),
    ))
}

// ------------------------------------------------------------ im-server

#[given(expr = "a recipient {string} registered with the SUT through the core")]
async fn recipient_via_core(w: &mut LiaisonWorld, name: String) -> StepResult {
    w.ims.through_core = true;
    let r = register(w, &name).await;
    w.ims.through_core = false;
    r
}

#[when(expr = "{string} comes online and registers with the SUT through the core")]
async fn comes_online_via_core(w: &mut LiaisonWorld, name: String) -> StepResult {
    w.ims.through_core = true;
    let r = crate::steps::delivery_reports::pager::offline_registers(w, name).await;
    w.ims.through_core = false;
    r
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} through the core")]
async fn sends_via_core(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    let ppi = preferred(w, &from);
    w.ims.through_core = true;
    let r = send_through_server(w, &from, &content_type, &to, &as_extra(&ppi)).await;
    w.ims.through_core = false;
    r
}

#[when(expr = "{string} sends a {string} MESSAGE to the MMS user {string} through the core")]
async fn sends_to_mms_user_via_core(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    crate::steps::deferred_messaging::mms_user_aor(w, &from, &to)?;
    let ppi = preferred(w, &from);
    w.ims.through_core = true;
    let r = send_through_server(w, &from, &content_type, &to, &as_extra(&ppi)).await;
    w.ims.through_core = false;
    r
}

fn preferred(w: &LiaisonWorld, name: &str) -> Option<String> {
    w.ims
        .identities
        .get(name)
        .map(|ids| ims::asserted_value(&ids.iter().map(String::as_str).collect::<Vec<_>>()))
}

fn as_extra(ppi: &Option<String>) -> Vec<(&'static str, &str)> {
    ppi.as_deref()
        .map(|v| vec![("P-Preferred-Identity", v)])
        .unwrap_or_default()
}

/// A harness user whose From is someone else's (`mallory-…`): through the
/// core it names its own identity in P-Preferred-Identity, which the core
/// asserts.
async fn spoofing_user(w: &mut LiaisonWorld, name: &str, phone: bool) -> StepResult {
    let real = new_ua(w, name).await?;
    let d = domain(w);
    let mut ids = vec![real.aor.clone()];
    if phone {
        let n = format!("+1555{}", &digits()[..7]);
        ids = vec![format!("sip:{n}@{d};user=phone"), format!("tel:{n}")];
    }
    let spoofed = format!("sip:mallory-{}@{d}", &token()[..8]);
    let ua = Arc::new(Ua::new(real.ep.clone(), spoofed, w.timers));
    w.originators.insert(name.to_string(), ua);
    w.ims.identities.insert(name.to_string(), ids);
    Ok(())
}

fn digits() -> String {
    token()
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'0' + (d % 10) as u8))
        .chain("0000000".chars())
        .take(7)
        .collect()
}

#[given(expr = "an originator {string} who writes a spoofed From")]
async fn spoofer(w: &mut LiaisonWorld, name: String) -> StepResult {
    spoofing_user(w, &name, false).await
}

#[given(expr = "an originator {string} with a SIP and a tel identity who writes a spoofed From")]
async fn spoofer_phone(w: &mut LiaisonWorld, name: String) -> StepResult {
    spoofing_user(w, &name, true).await
}

/// The MESSAGE `name` received with the body sent.
fn received(w: &LiaisonWorld, name: &str) -> Result<(Incoming, SipMessage), Failure> {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    recipient(w, name)?
        .log()
        .into_iter()
        .find_map(|r| {
            let m = r.incoming.msg.clone().ok()?;
            (m.method() == Some("MESSAGE") && m.body() == body.as_slice())
                .then_some((r.incoming, m))
        })
        .ok_or_else(|| w.fail(format!("`{name}` to have received the MESSAGE"), "nothing"))
}

#[then(expr = "{string} is shown {string} as the sender")]
async fn shown_sender(w: &mut LiaisonWorld, name: String, sender: String) -> StepResult {
    let (inc, m) = received(w, &name)?;
    let ids = w.ims.identities.get(&sender).cloned().unwrap_or_default();
    let shown = shown_identity(&m).unwrap_or_default();
    if ids.iter().any(|i| aor_key(i) == aor_key(&shown)) {
        return Ok(());
    }
    let from = m.header("From").and_then(uri_of).unwrap_or_default();
    Err(w.fail(
        format!(
            "`{name}` shown the identity the core asserted for `{sender}` ({}) as the first P-Asserted-Identity, or as From without one (RFC 3325 §5)",
            ids.join(" or ")
        ),
        format!(
            "{} (P-Asserted-Identity [{}], From {from}) — {}",
            if shown.is_empty() { "no identity".into() } else { shown },
            ims::uris(&m, "P-Asserted-Identity").join(", "),
            describe_incoming(&inc)
        ),
    ))
}

#[given(expr = "an originator {string} who forges a P-Asserted-Identity")]
async fn forger(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ua = new_ua(w, &name).await?;
    let forged = format!("sip:ceo-{}@{}", &token()[..8], domain(w));
    w.ims
        .identities
        .insert(format!("forged:{name}"), vec![forged]);
    w.originators.insert(name, ua);
    Ok(())
}

#[given(expr = "an originator {string} who forges a P-Asserted-Identity and a Via naming the core")]
async fn forger_via(w: &mut LiaisonWorld, name: String) -> StepResult {
    let core = harness(w)?.core.addr();
    forger(w, name.clone()).await?;
    w.ims
        .identities
        .insert(format!("via:{name}"), vec![core.to_string()]);
    Ok(())
}

/// `bytes` with the first Via's sent-by `real` written as `forged`; the
/// rest (branch, `rport`) stays, so an RFC 3581 server still answers to
/// the source address.
fn forge_via(bytes: &[u8], real: std::net::SocketAddr, forged: &str) -> Option<Vec<u8>> {
    let head_end = bytes
        .windows(4)
        .position(|x| x == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let needle = format!(" {real};").into_bytes();
    match bytes[..head_end]
        .windows(needle.len())
        .position(|x| x == needle.as_slice())
    {
        Some(i) => {
            let mut out = bytes[..i].to_vec();
            out.extend_from_slice(format!(" {forged};").as_bytes());
            out.extend_from_slice(&bytes[i + needle.len()..]);
            Some(out)
        }
        None => None,
    }
}

/// `from` sends a MESSAGE to user `to` straight to the SUT, never through
/// the core: from the harness address, outside the trust domain (with a
/// forged top Via when the scenario set one up).
async fn send_straight(
    w: &mut LiaisonWorld,
    from: &str,
    content_type: &str,
    to: &str,
    extra: &[(&str, &str)],
) -> StepResult {
    let Some(ua) = w.originators.get(from).cloned() else {
        return Err(w.fail(format!("an originator `{from}` set up earlier"), "none"));
    };
    let to_aor = match (
        w.recipients.get(to),
        w.originators.get(&format!("aor:{to}")),
    ) {
        (Some(r), _) => r.ua.aor.clone(),
        (None, Some(u)) => u.aor.clone(),
        (None, None) => {
            // Offline: a user name nobody has registered in this run, kept
            // for the user's later registration.
            let aor = format!("sip:{to}-{}@{}", &token()[..8], domain(w));
            w.originators.insert(
                format!("aor:{to}"),
                Arc::new(Ua::new(ua.ep.clone(), aor.clone(), w.timers)),
            );
            aor
        }
    };
    let t = server_transport(w);
    let dst = crate::steps::sip::sut_addr(w, "im-server")?;
    let body = body_for_test();
    let mut out = ua.message_with(t, &to_aor, &to_aor, content_type, &body, extra);
    if let Some(forged) = w
        .ims
        .identities
        .get(&format!("via:{from}"))
        .and_then(|v| v.first().cloned())
    {
        out.bytes = forge_via(&out.bytes, ua.ep.addr(t), &forged).ok_or_else(|| {
            w.fail(
                format!("the harness's own Via sent-by {} to forge", ua.ep.addr(t)),
                crate::codec::escape_bytes(&out.bytes, 300),
            )
        })?;
    }
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.sent = Some((t, out, body));
    w.sent_by = Some(from.to_string());
    w.sent_type = Some(content_type.to_string());
    w.result = Some(r);
    Ok(())
}

#[when(
    expr = "{string} sends a {string} MESSAGE with that identity to {string} straight to the SUT"
)]
async fn forger_sends(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    let forged = w
        .ims
        .identities
        .get(&format!("forged:{from}"))
        .and_then(|v| v.first().cloned())
        .unwrap_or_default();
    let pai = format!("<{forged}>");
    send_straight(
        w,
        &from,
        &content_type,
        &to,
        &[("P-Asserted-Identity", pai.as_str())],
    )
    .await
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} straight to the SUT")]
async fn sends_straight(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    send_straight(w, &from, &content_type, &to, &[]).await
}

/// The answers that refuse a request from outside the trust domain
/// rather than deliver it: 403 by policy (RFC 3261 §21.4.4), or a
/// challenge to authenticate the originator first (401/407, RFC 3261
/// §22.3; RFC 3325 §5 asserts only authenticated identities). The reading
/// is the catalogue's (IMS-11).
const REFUSALS: [u16; 3] = [401, 403, 407];

/// IMS-11: the MESSAGE from outside the trust domain is either refused
/// ([`REFUSALS`]) and reaches no one, or reaches `name` with no
/// P-Asserted-Identity naming `bad` (nor, with `from_too`, a From naming
/// it: a store that writes the identity it kept into From shows it too).
async fn refused_or_clean(
    w: &mut LiaisonWorld,
    name: &str,
    bad: &str,
    what: &str,
    from_too: bool,
) -> StepResult {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let rec = recipient(w, name)?;
    let got = |log: &[crate::roles::ua::Received]| {
        log.iter().any(|r| {
            r.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE") && m.body() == body.as_slice())
        })
    };
    let status = w
        .result
        .as_ref()
        .and_then(|r| r.final_response())
        .and_then(|m| m.status());
    let refused = status.is_some_and(|s| REFUSALS.contains(&s));
    let other_error = status.is_some_and(|s| s >= 300) && !refused;
    // Delivery is awaited until the deadline unless the SUT said it will not
    // deliver; after a refusal or an error, a copy that still arrives is
    // watched for 4·T1 (a forward already under way).
    let until = if refused || other_error {
        (Instant::now() + w.timers.t1 * 4).min(w.deadline)
    } else {
        w.deadline
    };
    rec.wait_for(until, got).await;
    let copy = rec.log().into_iter().find_map(|r| {
        let m = r.incoming.msg.clone().ok()?;
        (m.method() == Some("MESSAGE") && m.body() == body.as_slice()).then_some((r.incoming, m))
    });
    let Some((inc, m)) = copy else {
        if refused {
            return Ok(());
        }
        let ua = w
            .originators
            .get(w.sent_by.as_deref().unwrap_or_default())
            .map(|u| u.ep.clone());
        return Err(w.fail(
            format!(
                "the MESSAGE at `{name}` without {what}, or a refusal ({}) that delivers nothing (RFC 3325 §5; catalogue IMS-11)",
                REFUSALS.map(|c| c.to_string()).join("/")
            ),
            format!(
                "nothing at `{name}`; the originator saw: {}",
                w.describe(w.result.as_ref(), ua.as_deref())
            ),
        ));
    };
    let pai = ims::uris(&m, "P-Asserted-Identity");
    let from = m.header("From").and_then(uri_of).unwrap_or_default();
    let as_pai = pai.iter().any(|p| aor_key(p) == aor_key(bad));
    let as_from = from_too && aor_key(&from) == aor_key(bad);
    if as_pai || as_from {
        return Err(w.fail(
            format!(
                "`{name}` given {} {bad} ({what}): the MESSAGE came from {} outside the trust domain, where nothing is asserted (RFC 3325 §5)",
                if from_too {
                    "neither as P-Asserted-Identity nor as sender"
                } else {
                    "no P-Asserted-Identity"
                },
                w.ctx.profile.harness_ip
            ),
            format!(
                "it as {} — {}",
                if as_pai { "P-Asserted-Identity" } else { "From" },
                describe_incoming(&inc)
            ),
        ));
    }
    if refused {
        return Err(w.fail(
            format!(
                "no MESSAGE at `{name}` after the SUT refused it ({})",
                status.unwrap_or(0)
            ),
            format!("it still arrived — {}", describe_incoming(&inc)),
        ));
    }
    Ok(())
}

#[then(
    expr = "the SUT refuses the MESSAGE or {string} receives it without the identity {string} forged"
)]
async fn not_forged(w: &mut LiaisonWorld, name: String, forger: String) -> StepResult {
    let forged = w
        .ims
        .identities
        .get(&format!("forged:{forger}"))
        .and_then(|v| v.first().cloned())
        .unwrap_or_default();
    refused_or_clean(
        w,
        &name,
        &forged,
        "the identity the originator forged",
        true,
    )
    .await
}

#[then(
    expr = "the SUT refuses the MESSAGE or {string} receives it with no P-Asserted-Identity naming the From {string} wrote"
)]
async fn from_not_asserted(w: &mut LiaisonWorld, name: String, sender: String) -> StepResult {
    let written = w
        .originators
        .get(&sender)
        .map(|u| u.aor.clone())
        .ok_or_else(|| w.fail(format!("an originator `{sender}` set up earlier"), "none"))?;
    refused_or_clean(
        w,
        &name,
        &written,
        "the From the originator wrote, never authenticated",
        false,
    )
    .await
}

#[then(expr = "the MESSAGE reached {string} through the core, with the Path as its Route")]
async fn reached_via_core(w: &mut LiaisonWorld, name: String) -> StepResult {
    let h = harness(w)?;
    let (inc, _) = received(w, &name)?;
    // From the core: its IP, or its IP and port where it shares its IP
    // with the harness's other sockets (`ims.trust: address`).
    let shared = w.ctx.profile.harness_ip == h.core.addr().ip();
    let from_core = if shared {
        inc.from == h.core.addr()
    } else {
        inc.from.ip() == h.core.addr().ip()
    };
    if !from_core {
        return Err(w.fail(
            format!(
                "the MESSAGE for `{name}` sent by the Path the core recorded at registration, so through the core {} (RFC 3327 §5.4)",
                h.core.addr()
            ),
            format!(
                "it straight from {} — {}",
                inc.from,
                describe_incoming(&inc)
            ),
        ));
    }
    // The SUT's copy at the core (not the originator's: another top-Via
    // branch) must carry the Path URI as its first Route (RFC 3327 §5.4: the
    // home proxy puts the stored Path into Route). Without it the core could
    // only route by the Request-URI.
    let Some((_, out, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let path = uri_of(&lr_uri("pcscf", &h.core.addr().to_string(), false)).unwrap_or_default();
    let from_sut: Vec<(Incoming, SipMessage)> = h
        .core
        .log()
        .into_iter()
        .filter(|x| x.incoming.at >= w.started)
        .filter_map(|x| {
            let m = x.incoming.msg.clone().ok()?;
            (m.method() == Some("MESSAGE")
                && m.body() == body.as_slice()
                && m.top_via_branch().as_deref() != Some(out.branch.as_str()))
            .then_some((x.incoming, m))
        })
        .collect();
    let Some((hop_in, m)) = from_sut.first() else {
        return Err(w.fail(
            format!(
                "the SUT's MESSAGE for `{name}` at the core {}",
                h.core.addr()
            ),
            "none in the core's log".to_string(),
        ));
    };
    let routes = ims::uris(m, "Route");
    if routes.first().is_some_and(|r| aor_key(r) == aor_key(&path)) {
        return Ok(());
    }
    Err(w.fail(
        format!(
            "the MESSAGE for `{name}` sent to the core with the Path URI {path} as its first Route (RFC 3327 §5.4)"
        ),
        format!(
            "Route [{}] — {}",
            routes.join(", "),
            describe_incoming(hop_in)
        ),
    ))
}

// Numbers.

#[given(
    expr = "a recipient {string} registered with the SUT through the core under a telephone number"
)]
async fn phone_user(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ep = w.endpoint().await?;
    let n = format!("+1555{}", digits());
    let aor = format!("sip:{n}@{};user=phone", domain(w));
    let ua = Arc::new(Ua::new(ep, aor, w.timers));
    w.recipients.insert(name.clone(), Recipient::start(ua));
    w.ims.identities.insert(format!("number:{name}"), vec![n]);
    recipient_via_core(w, name).await
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} as a {word} URI through the core")]
async fn sends_to_number(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
    form: String,
) -> StepResult {
    let n = w
        .ims
        .identities
        .get(&format!("number:{to}"))
        .and_then(|v| v.first().cloned())
        .ok_or_else(|| w.fail(format!("`{to}` registered under a number"), "none"))?;
    let target = match form.as_str() {
        "tel" => format!("tel:{n}"),
        // Visual separators (RFC 3966 §5.1.1) in the same number.
        "separated" => format!(
            "sip:{}-{}-{}@{};user=phone",
            &n[..2],
            &n[2..5],
            &n[5..],
            domain(w)
        ),
        other => return Err(w.fail("a form `tel` or `separated`", format!("`{other}`"))),
    };
    let ua = w
        .originators
        .get(&from)
        .cloned()
        .ok_or_else(|| w.fail(format!("an originator `{from}` set up earlier"), "none"))?;
    w.ims.through_core = true;
    let dst = crate::steps::sip::next_hop(w, "im-server")?;
    w.ims.through_core = false;
    let t = server_transport(w);
    let body = body_for_test();
    let out = ua.message_with(t, &target, &target, &content_type, &body, &[]);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.sent = Some((t, out, body));
    w.sent_by = Some(from);
    w.sent_type = Some(content_type);
    w.result = Some(r);
    Ok(())
}

// Accept-Contact.

/// `first` or `last`: when the contact a request requires registers.
fn order(w: &LiaisonWorld, word: &str) -> Result<bool, Failure> {
    match word {
        "first" => Ok(false),
        "last" => Ok(true),
        other => Err(w.fail("`first` or `last` in the step", format!("`{other}`"))),
    }
}

#[given(
    expr = "{string} registered two contacts through the core, the one declaring the CPM pager-mode ICSI {word} and one declaring only +g.oma.sip-im"
)]
async fn two_contacts(w: &mut LiaisonWorld, name: String, when: String) -> StepResult {
    let last = order(w, &when)?;
    let icsi = format!(";{}=\"{}\"", ims::TAG_ICSI, icsi_encode(ICSI_CPM_MSG));
    let im = format!(";{}", ims::TAG_SIP_IM);
    contacts(w, &name, [("#wanted", icsi), ("#other", im)], last).await
}

#[given(
    expr = "{string} registered a push device for {string} and an IM client through the core, the push device {word}"
)]
async fn push_and_im(w: &mut LiaisonWorld, name: String, app: String, when: String) -> StepResult {
    let last = order(w, &when)?;
    let push = format!(";{}=\"{app}\"", crate::codec::sip_push::PUSH_APP_TAG);
    let im = format!(";{}", ims::TAG_SIP_IM);
    contacts(w, &name, [("#wanted", push), ("#other", im)], last).await
}

#[given(expr = "the contact of {string} the MESSAGE requires will answer MESSAGE with {int}")]
async fn wanted_answers(w: &mut LiaisonWorld, name: String, code: u16) -> StepResult {
    recipient(w, &format!("{name}#wanted"))?.set_answer(crate::roles::ua::Answer::Respond {
        code,
        delay: Duration::ZERO,
    });
    Ok(())
}

/// Two contacts of one AoR registered through the core, the one a request
/// with caller preferences must reach (`#wanted`) first or (`wanted_last`)
/// second: a server that ignores Accept-Contact and takes the oldest, or
/// the latest, contact fails one of the two orders.
async fn contacts(
    w: &mut LiaisonWorld,
    name: &str,
    which: [(&str, String); 2],
    wanted_last: bool,
) -> StepResult {
    let first = new_ua(w, name).await?;
    let ep = w.endpoint().await?;
    let second = Arc::new(Ua::new(ep, first.aor.clone(), w.timers));
    let [(s1, p1), (s2, p2)] = which;
    let mut plan = vec![(s1, first, p1), (s2, second, p2)];
    if wanted_last {
        plan.reverse();
    }
    for (suffix, ua, params) in plan {
        let key = format!("{name}{suffix}");
        w.recipients
            .insert(key.clone(), Recipient::start(ua.clone()));
        w.ims.through_core = true;
        let dst = crate::steps::sip::next_hop(w, "im-server")?;
        w.ims.through_core = false;
        let t = server_transport(w);
        let out = ua.register_with(t, &format!("sip:{}", domain(w)), 300, &params);
        let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
        if !r
            .final_response()
            .and_then(|m| m.status())
            .is_some_and(|s| (200..300).contains(&s))
        {
            return Err(w.fail(
                format!("2xx to the REGISTER of {key} (RFC 3261 §10.3)"),
                w.describe(Some(&r), Some(&ua.ep)),
            ));
        }
    }
    // Messages for the user name go to the AoR both contacts share.
    let aor = recipient(w, &format!("{name}#wanted"))?.ua.aor.clone();
    let ep = w.endpoint().await?;
    w.originators
        .insert(format!("aor:{name}"), Arc::new(Ua::new(ep, aor, w.timers)));
    Ok(())
}

#[when(
    expr = "{string} sends a {string} MESSAGE to {string} requiring the CPM pager-mode ICSI through the core"
)]
async fn sends_requiring(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    let ac = format!(
        "*;{}=\"{}\";require;explicit",
        ims::TAG_ICSI,
        icsi_encode(ICSI_CPM_MSG)
    );
    w.ims.through_core = true;
    let r = send_through_server(w, &from, &content_type, &to, &[("Accept-Contact", &ac)]).await;
    w.ims.through_core = false;
    r
}

#[when(
    expr = "{string} sends a {string} MESSAGE to {string} requiring the push application {string} through the core"
)]
async fn sends_requiring_push(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
    app: String,
) -> StepResult {
    let ac = crate::codec::sip_push::accept_contact(&app);
    w.ims.through_core = true;
    let r = send_through_server(w, &from, &content_type, &to, &[("Accept-Contact", &ac)]).await;
    w.ims.through_core = false;
    r
}

#[then(expr = "only the push device of {string} receives the MESSAGE")]
async fn only_push_device(w: &mut LiaisonWorld, name: String) -> StepResult {
    only_wanted(
        w,
        &name,
        "the push device that registered the application (RFC 3841 §7.2.4)",
        "the IM client, which registered no push application",
    )
    .await
}

#[then(expr = "only the contact of {string} that declared the ICSI receives the MESSAGE")]
async fn only_icsi_contact(w: &mut LiaisonWorld, name: String) -> StepResult {
    only_wanted(w, &name, "the contact that declared the CPM pager-mode ICSI", "the contact that declared only +g.oma.sip-im: Accept-Contact required the CPM ICSI explicitly (RFC 3841 §7.2.4)").await
}

async fn only_wanted(w: &mut LiaisonWorld, name: &str, wanted: &str, other: &str) -> StepResult {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let got = |log: &[crate::roles::ua::Received]| {
        log.iter().any(|r| {
            r.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE") && m.body() == body.as_slice())
        })
    };
    let good = recipient(w, &format!("{name}#wanted"))?;
    let bad = recipient(w, &format!("{name}#other"))?;
    // Until one of the two has it (a wrong delivery need not wait for the
    // deadline), then a little longer for a forked copy.
    let end = w.deadline;
    while Instant::now() < end {
        let step = (Instant::now() + w.timers.t1).min(end);
        if good.wait_for(step, got).await || got(&bad.log()) {
            break;
        }
    }
    let ok = got(&good.log());
    let settle = (Instant::now() + w.timers.t1 * 4).min(w.deadline);
    bad.wait_for(settle, got).await;
    let wrong: Vec<String> = bad
        .log()
        .iter()
        .filter(|r| {
            r.incoming
                .msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("MESSAGE"))
        })
        .map(|r| describe_incoming(&r.incoming))
        .collect();
    if !wrong.is_empty() {
        return Err(w.fail(format!("no MESSAGE at {other}"), wrong.join(" | ")));
    }
    if !ok {
        return Err(w.fail(
            format!("the MESSAGE at {wanted}"),
            format!(
                "nothing there; the originator saw: {}",
                w.describe(w.result.as_ref(), None)
            ),
        ));
    }
    Ok(())
}

#[then(expr = "{string} receives the MESSAGE through the SUT")]
async fn receives(w: &mut LiaisonWorld, name: String) -> StepResult {
    crate::steps::delivery_reports::pager::receives_same_body(w, name).await
}

#[cfg(test)]
mod tests {
    use super::forge_via;

    #[test]
    fn forge_via_rewrites_the_top_via_sent_by_only() {
        let real: std::net::SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let msg = b"MESSAGE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport\r\nTo: <sip:bob@x>\r\n\r\nbody 127.0.0.1:5070;";
        let out = forge_via(msg, real, "127.0.0.2:5060").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK1;rport\r\n"));
        assert!(text.ends_with("body 127.0.0.1:5070;"));
        let other: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(forge_via(msg, other, "127.0.0.2:5060"), None);
    }
}
