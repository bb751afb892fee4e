//! Steps of `features/poc/` (seed 003, PoC first): the SUT as a PoC server
//! behind the harness IMS core. The harness plays the group's members
//! (profile `poc.members`, known to the core by AoR, answering INVITEs)
//! and callers who are not members; every check judges the bytes the SUT
//! sent, as the core received them (its log), or as they reached a member.

use std::sync::Arc;
use std::time::Instant;

use cucumber::{given, then, when};

use crate::codec::ims::{features, requires_explicit, uris};
use crate::codec::sip::{uri_user_host, SipMessage};
use crate::harness::ImsHarness;
use crate::net::Transport;
use crate::roles::cscf::{aor_key, Hop};
use crate::roles::ua::{Recipient, Ua};
use crate::steps::sip::{new_ua_in, server_transport};
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};

/// The feature tag a PoC client registers and the server's INVITEs require.
const TALKBURST: &str = "+g.poc.talkburst";

fn core(w: &LiaisonWorld) -> Result<Arc<ImsHarness>, Failure> {
    w.ctx
        .ims
        .clone()
        .ok_or_else(|| w.fail("the harness IMS core (profile section ims)", "none"))
}

fn group(w: &LiaisonWorld) -> Result<crate::profile::PocSection, Failure> {
    w.ctx.profile.poc.clone().ok_or_else(|| {
        w.fail(
            "the SUT's pre-arranged group (profile section poc: { group, members })",
            "none",
        )
    })
}

/// The SUT's PoC address (where it takes SIP).
fn sut(w: &LiaisonWorld) -> Result<std::net::SocketAddr, Failure> {
    crate::steps::sip::sut_addr(w, "poc-server")
}

/// A plain audio offer or answer from `ip` (RFC 4566); no media is sent.
fn audio_sdp(ip: std::net::IpAddr) -> Vec<u8> {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!("v=0\r\no=liaison 1 1 IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=sendrecv\r\n")
        .into_bytes()
}

fn member_name(aor: &str) -> String {
    format!("member {aor}")
}

#[given("the members of the SUT's pre-arranged group are online behind the core")]
async fn members_online(w: &mut LiaisonWorld) -> StepResult {
    let g = group(w)?;
    let h = core(w)?;
    for aor in &g.members {
        let ep = w.endpoint().await?;
        let ua = Arc::new(Ua::new(ep, aor.clone(), w.timers));
        // The core reaches the member by its AoR (its contacts here).
        h.core.know(
            aor,
            &[ua.contact(Transport::Udp), ua.contact(Transport::Tcp)],
        );
        if let Some(user) = uri_user_host(aor).0 {
            w.claim_key(&user);
        }
        let r = Recipient::start(ua.clone());
        r.take_invites(audio_sdp(w.ctx.profile.harness_ip));
        w.recipients.insert(member_name(aor), r);
    }
    Ok(())
}

#[given(expr = "a caller {string} who is no member and writes the From of the first member")]
async fn outsider(w: &mut LiaisonWorld, name: String) -> StepResult {
    let g = group(w)?;
    let real = new_ua_in(w, &name, &g.outsiders_domain()).await?;
    let first = g.members.first().cloned().unwrap_or_default();
    // Its own identity goes as P-Preferred-Identity, which the core asserts.
    w.ims
        .identities
        .insert(name.clone(), vec![real.aor.clone()]);
    let spoofing = Arc::new(Ua::new(real.ep.clone(), first, w.timers));
    w.originators.insert(name, spoofing);
    Ok(())
}

/// `ua` INVITEs the group at `dst` with an audio offer and `extra` header
/// fields; a 2xx is ACKed (RFC 3261 §13.2.2.4).
async fn invite_group(
    w: &mut LiaisonWorld,
    who: &str,
    ua: Arc<Ua>,
    dst: std::net::SocketAddr,
    extra: &[(&str, &str)],
) -> StepResult {
    let g = group(w)?;
    let t = server_transport(w);
    let sdp = audio_sdp(w.ctx.profile.harness_ip);
    let out = ua.invite_with(t, &g.group, &g.group, &sdp, extra);
    let r = ua.send_invite(t, dst, &out, w.deadline).await;
    if let Some(ok) = r
        .final_response()
        .filter(|m| m.status().is_some_and(|c| (200..300).contains(&c)))
        && let Some(d) = ua.dialog(t, dst, &out, ok)
    {
        let _ = ua.ack(&d).await;
    }
    w.sent = Some((t, out, sdp));
    w.sent_by = Some(who.to_string());
    w.originators.insert(who.to_string(), ua);
    w.result = Some(r);
    Ok(())
}

fn first_member_ua(w: &LiaisonWorld) -> Result<Arc<Ua>, Failure> {
    let g = group(w)?;
    let first = g.members.first().cloned().unwrap_or_default();
    w.recipients
        .get(&member_name(&first))
        .map(|r| r.ua.clone())
        .ok_or_else(|| w.fail("the group's members online, set up earlier", "none"))
}

#[when("the first member invites the group through the core")]
async fn member_invites(w: &mut LiaisonWorld) -> StepResult {
    let ua = first_member_ua(w)?;
    let dst = core(w)?.core.addr();
    invite_group(w, "the first member", ua, dst, &[]).await
}

#[when(expr = "{string} invites the group through the core")]
async fn outsider_invites(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some(ua) = w.originators.get(&name).cloned() else {
        return Err(w.fail(format!("a caller `{name}` set up earlier"), "none"));
    };
    let ppi = w
        .ims
        .identities
        .get(&name)
        .and_then(|v| v.first())
        .map(|a| format!("<{a}>"))
        .unwrap_or_default();
    let dst = core(w)?.core.addr();
    invite_group(w, &name, ua, dst, &[("P-Preferred-Identity", &ppi)]).await
}

#[when(
    expr = "{string} invites the group straight to the SUT, forging the first member's P-Asserted-Identity"
)]
async fn outsider_forges(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some(ua) = w.originators.get(&name).cloned() else {
        return Err(w.fail(format!("a caller `{name}` set up earlier"), "none"));
    };
    let first = group(w)?.members.first().cloned().unwrap_or_default();
    let dst = sut(w)?;
    let pai = format!("<{first}>");
    invite_group(w, &name, ua, dst, &[("P-Asserted-Identity", &pai)]).await
}

fn final_status(w: &LiaisonWorld) -> Option<u16> {
    w.result
        .as_ref()
        .and_then(|r| r.final_response())
        .and_then(|m| m.status())
}

fn caller_ep(w: &LiaisonWorld) -> Option<Arc<crate::net::SipEndpoint>> {
    w.sent_by
        .as_ref()
        .and_then(|n| w.originators.get(n))
        .map(|u| u.ep.clone())
}

#[then("the first member gets a 2xx with an SDP answer")]
async fn originator_answered(w: &mut LiaisonWorld) -> StepResult {
    let ep = caller_ep(w);
    let came = || w.describe(w.result.as_ref(), ep.as_deref());
    let Some(ok) = w.result.as_ref().and_then(|r| r.final_response()) else {
        return Err(w.fail(
            "a final response to the first member's INVITE to the group",
            came(),
        ));
    };
    if !ok.status().is_some_and(|c| (200..300).contains(&c)) {
        return Err(w.fail(
            "a 2xx to the first member's INVITE to the group, once a member accepted",
            came(),
        ));
    }
    let sdp_type = ok.content_type().is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    });
    // RFC 3264 §6: the answer keeps the offered audio stream, a non-zero
    // port accepting it.
    let audio = crate::codec::sdp::Sdp::parse(ok.body())
        .ok()
        .is_some_and(|s| s.media().iter().any(|m| m.media == "audio" && m.port != 0));
    if !(sdp_type && audio) {
        return Err(w.fail(
            "the 2xx to carry an SDP answer (application/sdp) accepting the offered audio stream (RFC 3264 §6)",
            came(),
        ));
    }
    Ok(())
}

/// Is `h` an INVITE that the SUT sent (its address as the source, or its
/// address in the top Via from its IP: a stream connection's port may be
/// another) since `since`, opening a dialog (no To tag)?
fn sut_invite(h: &Hop, sut: std::net::SocketAddr, since: Instant) -> Option<SipMessage> {
    let m = h.incoming.msg.as_ref().ok()?;
    if m.method() != Some("INVITE") || m.to_tag().is_some() || h.incoming.at < since {
        return None;
    }
    let via_sut = m
        .via_list()
        .ok()
        .and_then(|v| v.into_iter().next())
        .is_some_and(|v| v.host_ip() == Some(sut.ip()) && v.port_or_default() == sut.port());
    let from_sut = h.incoming.from == sut || (h.incoming.from.ip() == sut.ip() && via_sut);
    from_sut.then(|| m.clone())
}

/// The SUT's new INVITEs the core received since the scenario's INVITE,
/// one per transaction (retransmissions left out): the hop and message.
fn sut_invites(w: &LiaisonWorld) -> Result<Vec<(Hop, SipMessage)>, Failure> {
    let sut = sut(w)?;
    let since = w.result.as_ref().map(|r| r.sent_at).ok_or_else(|| {
        w.fail(
            "an INVITE to the group sent earlier in the scenario",
            "none",
        )
    })?;
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for h in core(w)?.core.log() {
        if let Some(m) = sut_invite(&h, sut, since) {
            let b = m.top_via_branch().unwrap_or_default();
            if !seen.contains(&b) {
                seen.push(b);
                out.push((h, m));
            }
        }
    }
    Ok(out)
}

fn others(w: &LiaisonWorld) -> Result<Vec<String>, Failure> {
    Ok(group(w)?.members.into_iter().skip(1).collect())
}

fn ruri_key(m: &SipMessage) -> String {
    aor_key(m.request_uri().unwrap_or_default())
}

/// Waits until the SUT sent an INVITE for every other member or the
/// deadline, then 4·T1 more for a copy or an extra one.
async fn await_member_invites(w: &LiaisonWorld) -> Result<(), Failure> {
    let want: Vec<String> = others(w)?.iter().map(|m| aor_key(m)).collect();
    let h = core(w)?;
    let sut = sut(w)?;
    let since = w.result.as_ref().map_or_else(Instant::now, |r| r.sent_at);
    h.core
        .wait_for(w.deadline, |log| {
            want.iter().all(|k| {
                log.iter()
                    .filter_map(|h| sut_invite(h, sut, since))
                    .any(|m| ruri_key(&m) == *k)
            })
        })
        .await;
    tokio::time::sleep((w.timers.t1 * 4).min(w.deadline.saturating_duration_since(Instant::now())))
        .await;
    Ok(())
}

#[then("every other member receives one INVITE from the SUT through the core")]
async fn every_other_invited(w: &mut LiaisonWorld) -> StepResult {
    await_member_invites(w).await?;
    let invites = sut_invites(w)?;
    let core_addr = core(w)?.core.addr();
    for member in others(w)? {
        let mine: Vec<&(Hop, SipMessage)> = invites
            .iter()
            .filter(|(_, m)| ruri_key(m) == aor_key(&member))
            .collect();
        let [(hop, m)] = mine.as_slice() else {
            return Err(w.fail(
                format!("one INVITE from the SUT for member {member} (Request-URI its AoR) through the core"),
                if mine.is_empty() {
                    format!(
                        "none in {} ms; the SUT's INVITEs: {}",
                        w.ctx.profile.scenario_timeout_s * 1000,
                        list(&invites)
                    )
                } else {
                    format!("{} of them: {}", mine.len(), list(&invites))
                },
            ));
        };
        // RFC 3261 §8.1.2: towards the core as the first Route (the
        // pre-existing route set), not straight at an address.
        let first_route = uris(m, "Route").into_iter().next();
        let names_core = first_route
            .as_deref()
            .and_then(crate::reference::uri_socket_addr)
            .is_some_and(|(a, _)| a == core_addr);
        if !names_core {
            return Err(w.fail(
                format!(
                    "the INVITE for {member} to carry the core ({core_addr}) as its first Route"
                ),
                describe_incoming(&hop.incoming),
            ));
        }
        // And it reached the member through the core.
        let rec = w.recipients.get(&member_name(&member));
        let arrived = rec.is_some_and(|r| {
            r.log().iter().any(|x| {
                x.incoming.from == core_addr
                    && x.incoming.msg.as_ref().is_ok_and(|mm| {
                        mm.method() == Some("INVITE") && mm.call_id() == m.call_id()
                    })
            })
        });
        if !arrived {
            return Err(w.fail(
                format!("the INVITE for {member} at the member, through the core"),
                format!(
                    "it reached the core but not the member; the core did: {:?} — {}",
                    hop.action,
                    describe_incoming(&hop.incoming)
                ),
            ));
        }
    }
    Ok(())
}

fn list(invites: &[(Hop, SipMessage)]) -> String {
    if invites.is_empty() {
        return "none".into();
    }
    invites
        .iter()
        .map(|(h, _)| describe_incoming(&h.incoming))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[then("the SUT invites nobody else")]
async fn nobody_else(w: &mut LiaisonWorld) -> StepResult {
    let keys: Vec<String> = others(w)?.iter().map(|m| aor_key(m)).collect();
    let stray: Vec<(Hop, SipMessage)> = sut_invites(w)?
        .into_iter()
        .filter(|(_, m)| !keys.contains(&ruri_key(m)))
        .collect();
    if !stray.is_empty() {
        return Err(w.fail(
            "no INVITE from the SUT but to the other members of the group (not the originator, not anyone else)",
            list(&stray),
        ));
    }
    Ok(())
}

#[when("the first member ends the group session")]
async fn originator_hangs_up(w: &mut LiaisonWorld) -> StepResult {
    let ua = first_member_ua(w)?;
    let (t, out, _) = w
        .sent
        .clone()
        .ok_or_else(|| w.fail("an INVITE sent earlier in the scenario", "none"))?;
    let dst = core(w)?.core.addr();
    let ok = w.result.as_ref().and_then(|r| r.final_response()).cloned();
    let Some(mut d) = ok.and_then(|ok| ua.dialog(t, dst, &out, &ok)) else {
        return Err(w.fail(
            "a session set up earlier in the scenario (a 2xx to the INVITE)",
            w.describe(w.result.as_ref(), Some(&ua.ep)),
        ));
    };
    let r = ua.bye(&mut d, w.deadline).await;
    if !r
        .final_response()
        .and_then(|m| m.status())
        .is_some_and(|c| (200..300).contains(&c))
    {
        return Err(w.fail(
            "a 2xx to the first member's BYE (RFC 3261 §15.1.2)",
            w.describe(Some(&r), Some(&ua.ep)),
        ));
    }
    Ok(())
}

#[then("every member leg the SUT set up is ended with a BYE through the core")]
async fn legs_ended(w: &mut LiaisonWorld) -> StepResult {
    let core_addr = core(w)?.core.addr();
    for member in others(w)? {
        let Some(rec) = w.recipients.get(&member_name(&member)) else {
            continue;
        };
        // The member's legs: the Call-IDs of the INVITEs it answered.
        let calls: Vec<String> = rec
            .log()
            .iter()
            .filter_map(|x| x.incoming.msg.as_ref().ok())
            .filter(|m| m.method() == Some("INVITE"))
            .filter_map(|m| m.call_id().map(str::to_string))
            .collect();
        for cid in calls {
            let bye = |log: &[crate::roles::ua::Received]| {
                log.iter().any(|x| {
                    x.incoming.from == core_addr
                        && x.incoming.msg.as_ref().is_ok_and(|m| {
                            m.method() == Some("BYE") && m.call_id() == Some(cid.as_str())
                        })
                })
            };
            if !rec.wait_for(w.deadline, bye).await {
                let seen: Vec<String> = rec
                    .log()
                    .iter()
                    .map(|x| describe_incoming(&x.incoming))
                    .collect();
                return Err(w.fail(
                    format!("a BYE through the core ending {member}'s leg (Call-ID {cid}) once the originator ended the session"),
                    format!("none; the member received: {}", seen.join(" | ")),
                ));
            }
        }
    }
    Ok(())
}

fn refused(w: &LiaisonWorld, codes: &[u16], what: &str) -> StepResult {
    if final_status(w).is_some_and(|c| codes.contains(&c)) {
        return Ok(());
    }
    let ep = caller_ep(w);
    Err(w.fail(
        format!(
            "{what} to the INVITE of a caller who is no member (RFC 3325 §5: membership by asserted identity)"
        ),
        w.describe(w.result.as_ref(), ep.as_deref()),
    ))
}

#[then("the SUT refuses the INVITE with 403")]
async fn refused_403(w: &mut LiaisonWorld) -> StepResult {
    refused(w, &[403], "403 Forbidden")
}

#[then("the SUT refuses the INVITE with 403, or challenges it with 401 or 407")]
async fn refused_or_challenged(w: &mut LiaisonWorld) -> StepResult {
    refused(
        w,
        &[401, 403, 407],
        "403, or a challenge (401/407, RFC 3261 §22.3) from outside the trust domain,",
    )
}

/// Every INVITE the SUT sent since the scenario's first INVITE.
fn sut_invites_since(w: &LiaisonWorld, since: Instant) -> Result<Vec<(Hop, SipMessage)>, Failure> {
    let sut = sut(w)?;
    Ok(core(w)?
        .core
        .log()
        .into_iter()
        .filter_map(|h| sut_invite(&h, sut, since).map(|m| (h, m)))
        .collect())
}

#[then("no member is invited for SIP Timer F")]
async fn nobody_invited(w: &mut LiaisonWorld) -> StepResult {
    // From the scenario's start: every INVITE it sent counts. The window:
    // Timer F (64·T1) after the last one, time for the SUT to have acted
    // on it, within the deadline.
    let since = w.started;
    let last = w.result.as_ref().map_or_else(Instant::now, |r| r.sent_at);
    let until = (last + w.timers.f()).min(w.deadline);
    let sut_addr = sut(w)?;
    let h = core(w)?;
    h.core
        .wait_for(until, |log| {
            log.iter().any(|h| sut_invite(h, sut_addr, since).is_some())
        })
        .await;
    let sent = sut_invites_since(w, since)?;
    let at_members: Vec<String> = w
        .recipients
        .iter()
        .flat_map(|(n, r)| {
            r.log()
                .into_iter()
                .filter(|x| {
                    x.incoming
                        .msg
                        .as_ref()
                        .is_ok_and(|m| m.method() == Some("INVITE"))
                })
                .map(move |x| format!("at {n}: {}", describe_incoming(&x.incoming)))
        })
        .collect();
    if !sent.is_empty() || !at_members.is_empty() {
        let mut all: Vec<String> = sent
            .iter()
            .map(|(h, _)| format!("at the core: {}", describe_incoming(&h.incoming)))
            .collect();
        all.extend(at_members);
        return Err(w.fail(
            "no INVITE to any member after a caller who is no member called the group (RFC 3325 §5: membership by asserted identity)",
            all.join(" | "),
        ));
    }
    Ok(())
}

#[then(expr = "every INVITE the SUT sends to a member requires +g.poc.talkburst explicitly")]
async fn talkburst_required(w: &mut LiaisonWorld) -> StepResult {
    await_member_invites(w).await?;
    let invites = sut_invites(w)?;
    if invites.is_empty() {
        return Err(w.fail(
            "INVITEs from the SUT to the other members, to look at",
            format!(
                "none through the core; the first member saw: {}",
                w.describe(w.result.as_ref(), caller_ep(w).as_deref())
            ),
        ));
    }
    for (h, m) in &invites {
        // RFC 3841 §9.2: an Accept-Contact with the tag, require and
        // explicit (a PoC contact, and only one, satisfies it).
        let ok = m.header_values("Accept-Contact").iter().any(|ac| {
            requires_explicit(ac)
                && features(ac).iter().any(|f| {
                    f.name == TALKBURST
                        && f.value
                            .as_deref()
                            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
                })
        });
        if !ok {
            return Err(w.fail(
                format!("Accept-Contact: *;{TALKBURST};require;explicit in the SUT's INVITE to {} (RFC 3841 §9.2)", m.request_uri().unwrap_or_default()),
                describe_incoming(&h.incoming),
            ));
        }
    }
    Ok(())
}
