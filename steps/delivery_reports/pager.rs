//! Delivery reports, pager mode (seed 001; RFC 3428; RFC 3261 transactions).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::sip::SipMessage;
use crate::net::Transport;
use crate::roles::transaction::{non_invite_client, Bounds};
use crate::roles::ua::{Answer, Recipient, Ua};
use crate::steps::sip::{
    check_final, final_of, new_ua, next_hop, recipient, register, send_through_server,
    send_through_server_over, send_to_client, ws_target, Over,
};
use crate::steps::world::{describe_incoming, LiaisonWorld, StepResult};

/// A body type no IM client is expected to support.
use crate::profile::UNSUPPORTED_PROBE_TYPE as UNSUPPORTED_TYPE;

// ----------------------------------------------------------------- im-client

#[when(expr = "the harness sends a {string} MESSAGE to the SUT over {word}")]
async fn harness_sends(
    w: &mut LiaisonWorld,
    content_type: String,
    transport: String,
) -> StepResult {
    send_to_client(w, &content_type, &transport).await
}

#[when(expr = "the harness sends a MESSAGE of a type the SUT does not support over {word}")]
async fn harness_sends_unsupported(w: &mut LiaisonWorld, transport: String) -> StepResult {
    // A profile whose accept_types take this type (`*/*`, `application/*`)
    // does not run this step: its scenarios are `@unless:accepts_any_type`.
    if w.ctx.profile.takes_type(UNSUPPORTED_TYPE) {
        return Err(w.fail(
            format!("a profile whose accept_types leave out {UNSUPPORTED_TYPE}"),
            "a profile declaring it",
        ));
    }
    send_to_client(w, UNSUPPORTED_TYPE, &transport).await
}

#[then(expr = "the final response is {int}")]
#[when(expr = "the final response is {int}")]
async fn final_is(w: &mut LiaisonWorld, code: u16) -> StepResult {
    check_final(w, "the harness", code)
}

#[then("the final response has no Contact header")]
async fn final_no_contact(w: &mut LiaisonWorld) -> StepResult {
    let f = final_of(w, "the harness")?;
    if f.has_header("Contact") {
        return Err(w.fail(
            "a 2xx to MESSAGE without Contact (RFC 3428: no dialog is created)",
            format!(
                "Contact: {} — bytes: {}",
                f.header("Contact").unwrap_or(""),
                escape_bytes(f.raw(), 400)
            ),
        ));
    }
    Ok(())
}

#[then("the final response has no body")]
async fn final_no_body(w: &mut LiaisonWorld) -> StepResult {
    let f = final_of(w, "the harness")?;
    if !f.body().is_empty() {
        return Err(w.fail(
            "a 2xx to MESSAGE without a body (RFC 3428)",
            format!(
                "a body of {} bytes — bytes: {}",
                f.body().len(),
                escape_bytes(f.raw(), 400)
            ),
        ));
    }
    Ok(())
}

#[then("the final response has an Accept header listing a type the SUT declared")]
async fn final_accept(w: &mut LiaisonWorld) -> StepResult {
    let f = final_of(w, "the harness")?;
    let listed: Vec<String> = f
        .header_values("Accept")
        .iter()
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    let declared: Vec<String> = w
        .ctx
        .profile
        .accept_types()
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if listed.iter().any(|t| declared.contains(t)) {
        Ok(())
    } else {
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
}

#[then("the Accept header does not list the type that was sent")]
async fn accept_not_sent(w: &mut LiaisonWorld) -> StepResult {
    let f = final_of(w, "the harness")?;
    let sent = w.sent_type.clone().unwrap_or_default().to_ascii_lowercase();
    let listed: Vec<String> = f
        .header_values("Accept")
        .iter()
        .map(|v| v.to_ascii_lowercase())
        .collect();
    if listed.iter().any(|v| v.starts_with(&sent)) {
        Err(w.fail(
            format!("an Accept header without {sent}"),
            format!("Accept: {}", listed.join(", ")),
        ))
    } else {
        Ok(())
    }
}

async fn retransmit(w: &mut LiaisonWorld) -> StepResult {
    let Some((t, out, _)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let role = if w.sent_by.as_deref() == Some("harness") {
        "im-client"
    } else {
        "im-server"
    };
    // Over WebSocket, the connection the originator opened to sip.ws.
    let dst = if t == Transport::Ws {
        ws_target(w)?.0
    } else {
        next_hop(w, role)?
    };
    let name = w.sent_by.clone().unwrap_or_default();
    let Some(ua) = w.originators.get(&name).cloned() else {
        return Err(w.fail("the originator of the earlier MESSAGE", "none"));
    };
    // The same bytes, same branch: to the SUT this is the same transaction
    // (§17.2.2), which it must absorb for Timer J (64·T1 over UDP). Sent
    // 6·T1 after the final response came: a copy in flight then is plainly
    // a retransmission of a completed transaction, not one that crossed it.
    let since_final = w
        .result
        .as_ref()
        .and_then(|r| r.final_incoming())
        .map(|f| f.at.elapsed())
        .unwrap_or_default();
    if let Some(rest) = (w.timers.t1 * 6).checked_sub(since_final) {
        // Never past the scenario's deadline.
        let at = (tokio::time::Instant::now() + rest).min(w.deadline.into());
        tokio::time::sleep_until(at).await;
    }
    let bounds = Bounds {
        timers: w.timers,
        deadline: w.deadline,
        linger: Duration::ZERO,
    };
    let r = non_invite_client(&ua.ep, t, dst, out.bytes.clone(), &out.branch, bounds).await;
    w.retrans = Some(r);
    Ok(())
}

#[when("the harness retransmits the same MESSAGE")]
async fn harness_retransmits(w: &mut LiaisonWorld) -> StepResult {
    retransmit(w).await
}

#[when(expr = "{string} retransmits the same MESSAGE")]
async fn user_retransmits(w: &mut LiaisonWorld, _name: String) -> StepResult {
    retransmit(w).await
}

#[then("the retransmission is answered with the same final response")]
async fn retrans_same(w: &mut LiaisonWorld) -> StepResult {
    let first = final_of(w, "the originator")?.clone();
    let name = w.sent_by.clone().unwrap_or_default();
    let ep = w.originators.get(&name).map(|u| u.ep.clone());
    let r = w.retrans.as_ref();
    let Some(again) = r.and_then(|r| r.final_response()) else {
        return Err(w.fail(
            format!(
                "the final response {} again, for the retransmitted MESSAGE (RFC 3261 §17.2.2)",
                first.summary()
            ),
            w.describe(r, ep.as_deref()),
        ));
    };
    if again.status() != first.status() || again.to_tag() != first.to_tag() {
        return Err(w.fail(
            format!(
                "the same final response for the retransmission: {} with To tag {:?} (RFC 3261 §17.2.2)",
                first.summary(),
                first.to_tag().unwrap_or_default()
            ),
            format!(
                "{} with To tag {:?}, i.e. the retransmission was handled as a new request — bytes: {}",
                again.summary(),
                again.to_tag().unwrap_or_default(),
                escape_bytes(again.raw(), 400)
            ),
        ));
    }
    Ok(())
}

// ----------------------------------------------------------------- im-server

#[given(expr = "a recipient {string} registered with the SUT")]
async fn recipient_registered(w: &mut LiaisonWorld, name: String) -> StepResult {
    register(w, &name).await
}

#[when(expr = "{string} registers with the SUT")]
async fn user_registers(w: &mut LiaisonWorld, name: String) -> StepResult {
    register(w, &name).await
}

#[given(expr = "an originator {string}")]
async fn originator(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ua = new_ua(w, &name).await?;
    w.originators.insert(name, ua);
    Ok(())
}

#[given(expr = "{string} will answer MESSAGE with {int}")]
async fn will_answer(w: &mut LiaisonWorld, name: String, code: u16) -> StepResult {
    recipient(w, &name)?.set_answer(Answer::Respond {
        code,
        delay: Duration::ZERO,
    });
    Ok(())
}

#[given(expr = "{string} will answer MESSAGE with {int} after {int} T1")]
async fn will_answer_late(w: &mut LiaisonWorld, name: String, code: u16, t1s: u32) -> StepResult {
    let delay = w.timers.t1 * t1s;
    recipient(w, &name)?.set_answer(Answer::Respond { code, delay });
    Ok(())
}

#[given(expr = "{string} will not answer MESSAGE")]
async fn will_not_answer(w: &mut LiaisonWorld, name: String) -> StepResult {
    recipient(w, &name)?.set_answer(Answer::Silent);
    Ok(())
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} through the SUT")]
async fn user_sends(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    send_through_server(w, &from, &content_type, &to, &[]).await
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} through the SUT over WebSocket")]
async fn user_sends_over_ws(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    send_through_server_over(w, &from, &content_type, &to, &[], Over::Ws).await
}

/// The final response came back over the WebSocket connection the
/// originator opened (RFC 7118 §5: a WebSocket client takes no
/// connections, RFC 3261 §18.2.2: a response goes back over the connection
/// of its request) with the originator's Via on top as it was sent: the
/// SUT's own Via removed (§16.7 step 3), transport `WS`, sent-by and branch
/// unchanged (`received` and `rport` as the SUT filled them in, §18.2.1,
/// RFC 3581).
#[then(
    expr = "{string} received the final response over its WebSocket connection with its own Via on top"
)]
async fn final_over_ws(w: &mut LiaisonWorld, name: String) -> StepResult {
    let f = final_of(w, &format!("`{name}`"))?.clone();
    let Some(inc) = w.result.as_ref().and_then(|r| r.final_incoming()).cloned() else {
        return Err(w.fail(format!("a final response to `{name}`'s MESSAGE"), "none"));
    };
    let (dst, _, url) = ws_target(w)?;
    if !inc.transport.is_ws() || inc.from != dst {
        return Err(w.fail(
            format!("the final response to `{name}`'s MESSAGE over the WebSocket connection it opened to {url} (RFC 7118 §5, RFC 3261 §18.2.2: a response goes back over the connection its request came on)"),
            format!("it over {} from {}: {}", inc.transport, inc.from, describe_incoming(&inc)),
        ));
    }
    let Some((_, out, _)) = w.sent.as_ref() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let top = |m: &SipMessage| m.via_list().ok().and_then(|v| v.into_iter().next());
    let sent = SipMessage::parse(&out.bytes).ok().and_then(|m| top(&m));
    let got = top(&f);
    let key = |v: &crate::codec::sip::Via| {
        (
            v.protocol.to_ascii_uppercase(),
            v.transport.to_ascii_uppercase(),
            v.host.to_ascii_lowercase(),
            v.port,
            v.param("branch").flatten().map(str::to_string),
        )
    };
    let sent_text = SipMessage::parse(&out.bytes)
        .ok()
        .and_then(|m| m.vias().first().cloned())
        .unwrap_or_default();
    match (sent, got) {
        (Some(s), Some(g)) if key(&s) == key(&g) => Ok(()),
        (_, got) => Err(w.fail(
            format!("`{name}`'s own Via on top of the final response, as sent: `{sent_text}` (RFC 3261 §16.7 step 3: the SUT removes only its own; received and rport as the SUT filled them in, §18.2.1, RFC 3581)"),
            format!(
                "{} — bytes: {}",
                match got {
                    Some(_) => format!("top Via `{}`", f.vias().first().cloned().unwrap_or_default()),
                    None => "no Via that reads as one (RFC 3261 §20.42)".to_string(),
                },
                escape_bytes(f.raw(), 400)
            ),
        )),
    }
}

#[then(expr = "the final response {string} receives is {int}")]
#[when(expr = "the final response {string} receives is {int}")]
async fn user_final_is(w: &mut LiaisonWorld, name: String, code: u16) -> StepResult {
    check_final(w, &name, code)
}

#[then(expr = "{string} receives the MESSAGE with the same body")]
pub(crate) async fn receives_same_body(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    // A user who was offline at send time registers later under the same name.
    let rec = recipient(w, &name)?;
    let arrived = rec.wait_message_with_body(w.deadline, &body).await;
    if let Some(Ok(m)) = arrived.map(|i| i.msg) {
        // The body arrived intact; its Content-Type must be the one sent,
        // parameters included (DR-7, RFC 3428 §7): compared as RFC 2045 §5.1
        // reads it (names and charset values without case, quoting and
        // order not significant).
        let sent_type = w.sent_type.clone().unwrap_or_default();
        let want = content_type_key(&sent_type);
        return if m.header("Content-Type").map(content_type_key) == Some(want) {
            Ok(())
        } else {
            Err(w.fail(
                format!("`{name}` to receive the MESSAGE with Content-Type {sent_type}, parameters unchanged"),
                format!(
                    "Content-Type {} — bytes: {}",
                    m.header("Content-Type").unwrap_or("(none)"),
                    escape_bytes(m.raw(), 400)
                ),
            ))
        };
    }
    let got: Vec<String> = rec
        .log()
        .iter()
        .map(|r| match &r.incoming.msg {
            Ok(m) => format!("{} with body {}", m.summary(), escape_bytes(m.body(), 120)),
            Err(e) => format!("unparseable: {e}"),
        })
        .collect();
    // Requests that reached `name` but were acted on by nothing (a defect
    // such as a CSeq method unlike the method), with the reason.
    let ignored = w.not_acted_on();
    let came = match (got.is_empty(), ignored.is_empty()) {
        (true, true) => format!("no request reached `{name}` within the scenario timeout"),
        (true, false) => format!(
            "only what the harness could not act on: {}",
            ignored.join(" | ")
        ),
        (false, true) => got.join(" | "),
        (false, false) => format!(
            "{}; and what the harness could not act on: {}",
            got.join(" | "),
            ignored.join(" | ")
        ),
    };
    Err(w.fail(
        format!(
            "`{name}` to receive the MESSAGE with body {} byte for byte",
            escape_bytes(&body, 120)
        ),
        came,
    ))
}

/// A Content-Type as RFC 2045 §5.1 compares it: the media type and the
/// parameter names without case, parameter values unquoted (charset's
/// without case too), in no particular order.
fn content_type_key(ct: &str) -> (String, BTreeSet<(String, String)>) {
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim().trim_matches('"').to_string();
            let v = if k == "charset" {
                v.to_ascii_lowercase()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    (media, params)
}

/// Checks that the store delivered to the user who registered after the send.
/// (The recipient is keyed by name, so an offline user's later registration
/// must reuse the AoR the MESSAGE was sent to.)
fn offline_aor(w: &LiaisonWorld, name: &str) -> Option<String> {
    w.originators
        .get(&format!("aor:{name}"))
        .map(|u| u.aor.clone())
}

#[when(expr = "{string} comes online and registers with the SUT")]
pub(crate) async fn offline_registers(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some(aor) = offline_aor(w, &name) else {
        return register(w, &name).await;
    };
    let ep = w.endpoint().await?;
    let ua = Arc::new(Ua::new(ep, aor, w.timers));
    w.recipients.insert(name.clone(), Recipient::start(ua));
    register(w, &name).await
}

#[then(expr = "{string} receives no 2xx response")]
async fn no_2xx(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ep = w.originators.get(&name).map(|u| u.ep.clone());
    let r = w.result.as_ref();
    let all = r.map(|r| r.responses.clone()).unwrap_or_default();
    if let Some(bad) = all.iter().find(|i| {
        i.msg
            .as_ref()
            .ok()
            .and_then(|m| m.status())
            .is_some_and(|s| (200..300).contains(&s))
    }) {
        return Err(w.fail(
            format!("no 2xx to `{name}`: the recipient did not accept the MESSAGE, so nothing may report it delivered"),
            describe_incoming(bad),
        ));
    }
    if let Some(e) = r.and_then(|r| r.send_error.clone()) {
        return Err(w.fail("the MESSAGE to reach the SUT", e));
    }
    let _ = ep;
    Ok(())
}

#[then(expr = "no final response reached {string} before {string} answered")]
async fn not_before(w: &mut LiaisonWorld, orig: String, rec: String) -> StepResult {
    let rcpt = recipient(w, &rec)?;
    let Some(f) = w.result.as_ref().and_then(|r| r.final_incoming()) else {
        return Ok(());
    };
    let msgs = rcpt.messages();
    let answered = msgs.first().and_then(|m| rcpt.answered(m));
    match answered {
        Some((_, at)) if f.at >= at => Ok(()),
        Some((code, at)) => Err(w.fail(
            format!("`{orig}`'s final response only after `{rec}` answered ({code})"),
            format!(
                "{} ms before `{rec}` answered: {}",
                (at - f.at).as_millis(),
                describe_incoming(f)
            ),
        )),
        None => Err(w.fail(
            format!("no final response to `{orig}` while `{rec}` had not answered"),
            describe_incoming(f),
        )),
    }
}

#[then(expr = "{string} has received exactly one MESSAGE transaction")]
async fn one_transaction(w: &mut LiaisonWorld, name: String) -> StepResult {
    let rcpt = recipient(w, &name)?;
    // Give a misbehaving proxy time to forward the retransmission as new.
    let settle = (Instant::now() + w.timers.t1 * 4).min(w.deadline);
    let key = |m: &SipMessage| {
        format!(
            "{}|{}",
            m.top_via_branch().unwrap_or_default(),
            m.cseq().map(|c| c.0).unwrap_or(0)
        )
    };
    rcpt.wait_for(settle, |log| {
        log.iter()
            .filter_map(|r| r.incoming.msg.as_ref().ok())
            .filter(|m| m.method() == Some("MESSAGE"))
            .map(key)
            .collect::<BTreeSet<_>>()
            .len()
            > 1
    })
    .await;
    let txs: BTreeSet<String> = rcpt
        .log()
        .iter()
        .filter_map(|r| r.incoming.msg.as_ref().ok())
        .filter(|m| m.method() == Some("MESSAGE"))
        .map(key)
        .collect();
    if txs.len() == 1 {
        Ok(())
    } else {
        Err(w.fail(
            format!("exactly one MESSAGE transaction at `{name}`; retransmissions absorbed or forwarded with the same branch (RFC 3261 §16, §17.2.2)"),
            format!("{} transaction(s): {}", txs.len(), txs.into_iter().collect::<Vec<_>>().join(", ")),
        ))
    }
}

#[then(expr = "{string} received the MESSAGE at most once as a new request")]
async fn at_most_once(w: &mut LiaisonWorld, name: String) -> StepResult {
    let n = recipient(w, &name)?.messages().len();
    if n <= 1 {
        Ok(())
    } else {
        Err(w.fail("at most one new MESSAGE request", format!("{n}")))
    }
}
