//! The presence client (PRES-11, PRES-12): the harness stands for the user
//! through the client's trigger (`presence_client.trigger`), and plays the
//! IMS core and the presence server its PUBLISHes reach
//! ([`crate::harness::EscHarness`], held by one scenario at a time). What
//! is judged is the PUBLISH as the SUT sent it to the core (the core's
//! log), found by the one the presence server answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::presence::{entity_tag, event_package, Pidf, PIDF_TYPE};
use crate::codec::sip::{uri_of, uri_user_host, SipMessage};
use crate::harness::EscHarness;
use crate::net::Incoming;
use crate::roles::cscf::aor_key;
use crate::roles::esc::{Plan, Publication};
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};

/// Per-scenario state of the presence-client steps.
#[derive(Default)]
pub struct ClientState {
    /// The status the user chose through the trigger, and when.
    pub asked: Option<(String, Instant)>,
    /// The PUBLISH that carried it, as the presence server answered it.
    pub publication: Option<Publication>,
    /// A PUBLISH the presence server refused with 412.
    pub refused: Option<Publication>,
}

fn esc(w: &LiaisonWorld) -> Result<Arc<EscHarness>, Failure> {
    w.ctx.esc.clone().ok_or_else(|| {
        w.fail(
            "the harness presence server (role presence-client with presence_client and ims in the profile)",
            "none",
        )
    })
}

fn aor(w: &LiaisonWorld) -> Result<String, Failure> {
    w.ctx
        .profile
        .presence_client
        .as_ref()
        .map(|p| p.aor.clone())
        .ok_or_else(|| w.fail("the presence_client section of the profile", "none"))
}

/// The PUBLISH as the SUT sent it: the core's hop whose top Via branch is
/// the one under the core's in what reached the presence server (the
/// SUT's); else what reached the server.
fn as_sent(w: &LiaisonWorld, p: &Publication) -> Incoming {
    let Some(branch) = sut_branch(p) else {
        return p.incoming.clone();
    };
    w.ctx
        .ims
        .as_ref()
        .and_then(|h| {
            h.core
                .log()
                .into_iter()
                .rev()
                .find(|hop| is_sut_hop(hop, &branch))
        })
        .map(|h| h.incoming)
        .unwrap_or_else(|| p.incoming.clone())
}

/// The branch of the Via under the core's: the SUT's.
fn sut_branch(p: &Publication) -> Option<String> {
    p.incoming
        .msg
        .as_ref()
        .ok()
        .and_then(|m| m.vias().get(1).cloned())
        .and_then(|v| crate::codec::sip::header_param(&v, "branch"))
}

fn is_sut_hop(hop: &crate::roles::cscf::Hop, branch: &str) -> bool {
    hop.incoming
        .msg
        .as_ref()
        .is_ok_and(|x| x.is_request() && x.top_via_branch().as_deref() == Some(branch))
}

fn msg(inc: &Incoming) -> Option<&SipMessage> {
    inc.msg.as_ref().ok()
}

fn shown(w: &LiaisonWorld, p: &Publication) -> String {
    describe_incoming(&as_sent(w, p))
}

/// The basic status of the first tuple of a PUBLISH's PIDF, if any.
fn basic_of(p: &Publication) -> Option<String> {
    let m = msg(&p.incoming)?;
    let d = Pidf::parse(m.body()).ok()?;
    d.tuples
        .iter()
        .map(|t| t.basic.clone())
        .find(|b| !b.is_empty())
}

fn fresh(p: &Publication, since: Instant) -> bool {
    !p.retransmission && p.incoming.at >= since
}

#[given("the harness presence server serves the scenario")]
async fn esc_serves(w: &mut LiaisonWorld) -> StepResult {
    let e = esc(w)?;
    w.serve("esc", &e.capture)?;
    e.esc.plan(Plan::default());
    // The SUT's PUBLISH names none of the scenario's keys: the scenario
    // takes what names the user's AoR while it holds the server, so the
    // core's side of it is in this pcap too.
    let a = aor(w)?;
    if let (Some(c), (Some(user), Some(host))) = (w.ims.claim.as_ref(), uri_user_host(&a)) {
        c.weak_key(format!("{user}@{host}"));
    }
    Ok(())
}

#[given(expr = "the presence server grants publications at most {int} seconds")]
async fn grants_at_most(w: &mut LiaisonWorld, secs: u32) -> StepResult {
    let e = esc(w)?;
    e.esc.plan(Plan {
        cap: Some(secs),
        refuse_next_conditional: false,
    });
    Ok(())
}

#[given("the presence server will refuse the next PUBLISH that names an entity tag with 412")]
async fn will_refuse(w: &mut LiaisonWorld) -> StepResult {
    let e = esc(w)?;
    e.esc.plan(Plan {
        cap: None,
        refuse_next_conditional: true,
    });
    Ok(())
}

/// Asks the user's client, through its trigger, for the status other than
/// the one it last published (so that there is a change to publish).
async fn change(w: &mut LiaisonWorld) -> StepResult {
    let e = esc(w)?;
    let a = aor(w)?;
    let last = e
        .esc
        .log()
        .iter()
        .rev()
        .filter(|p| (200..300).contains(&p.status))
        .find_map(basic_of);
    let status = if last.as_deref() == Some("closed") {
        "open"
    } else {
        "closed"
    };
    let trigger = w
        .ctx
        .profile
        .presence_client
        .as_ref()
        .map(|p| p.trigger)
        .ok_or_else(|| w.fail("presence_client.trigger in the profile", "none"))?;
    let req = crate::codec::http::request(
        "POST",
        "/presence/status",
        &trigger.to_string(),
        &[("Content-Type", "text/plain")],
        status.as_bytes(),
    );
    let at = Instant::now();
    let out = crate::roles::mms_ua::exchange(trigger, w.capture.clone(), &req, w.deadline).await;
    match out.response().and_then(|r| r.status()) {
        Some(200..=299) => {
            tracing::debug!(%a, status, "presence client asked to publish");
            w.pres.client.asked = Some((status.to_string(), at));
            Ok(())
        }
        _ => Err(w.fail(
            format!("a 2xx to the trigger POST /presence/status ({status}) at {trigger} (the suite's interface, README)"),
            out.describe(),
        )),
    }
}

#[when("the user changes their presence")]
async fn user_changes(w: &mut LiaisonWorld) -> StepResult {
    change(w).await
}

/// Waits for the first fresh PUBLISH since `since` that `pred` takes.
async fn first_publish(
    w: &LiaisonWorld,
    since: Instant,
    until: Instant,
    pred: impl Fn(&Publication) -> bool,
) -> Option<Publication> {
    let e = esc(w).ok()?;
    let hit = |l: &[Publication]| l.iter().find(|p| fresh(p, since) && pred(p)).cloned();
    e.esc.wait_for(until, |l| hit(l).is_some()).await;
    let p = hit(&e.esc.log())?;
    // The core logs its hop once it has forwarded it: the presence server
    // may have answered first. A moment for the log to hold it.
    if let (Some(h), Some(b)) = (w.ctx.ims.as_ref(), sut_branch(&p)) {
        let soon = Instant::now() + Duration::from_millis(500);
        h.core
            .wait_for(soon, |log| log.iter().any(|hop| is_sut_hop(hop, &b)))
            .await;
    }
    Some(p)
}

/// The first PUBLISH since `at` that carries a state, by the scenario's deadline.
async fn publish_with_state(
    w: &LiaisonWorld,
    status: &str,
    at: Instant,
) -> Result<Publication, Failure> {
    let has_state = |p: &Publication| msg(&p.incoming).is_some_and(|m| !m.body().is_empty());
    match first_publish(w, at, w.deadline, has_state).await {
        Some(p) => Ok(p),
        None => Err(w.fail(
            format!("a PUBLISH with the user's new state ({status}) at the presence server, through the core"),
            format!("nothing by the scenario's deadline: {}", arrivals(w, at)),
        )),
    }
}

/// What the presence server got since `since`, for a failure message.
fn arrivals(w: &LiaisonWorld, since: Instant) -> String {
    let l: Vec<String> = esc(w)
        .map(|e| e.esc.log())
        .unwrap_or_default()
        .iter()
        .filter(|p| fresh(p, since))
        .map(|p| format!("[answered {}] {}", p.status, shown(w, p)))
        .collect();
    if l.is_empty() {
        "no PUBLISH at the presence server".into()
    } else {
        l.join("; ")
    }
}

/// PRES-11's checks of one PUBLISH as the SUT sent it.
fn judge_publish(w: &LiaisonWorld, p: &Publication, status: &str) -> StepResult {
    let a = aor(w)?;
    let sent = as_sent(w, p);
    let show = || describe_incoming(&sent);
    let Some(m) = msg(&sent) else {
        return Err(w.fail("a PUBLISH that parses", show()));
    };
    let ruri = m.request_uri().unwrap_or_default().to_string();
    if aor_key(&ruri) != aor_key(&a) {
        return Err(w.fail(
            format!("the PUBLISH's Request-URI to be the user's AoR {a} (RFC 3903 §4)"),
            show(),
        ));
    }
    let to = m.header("To").and_then(uri_of).unwrap_or_default();
    if aor_key(&to) != aor_key(&a) {
        return Err(w.fail(format!("To naming the user's AoR {a}"), show()));
    }
    if m.header("Event").map(event_package).as_deref() != Some("presence") {
        return Err(w.fail("Event: presence (RFC 3903 §4, RFC 3856)", show()));
    }
    let ct = m.header("Content-Type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if ct.as_deref() != Some(PIDF_TYPE) {
        return Err(w.fail(format!("Content-Type {PIDF_TYPE}"), show()));
    }
    let doc = Pidf::parse(m.body()).map_err(|e| {
        w.fail(
            "a well-formed PIDF document (RFC 3863 §4.1)",
            format!("{e} — {}", show()),
        )
    })?;
    let (Some(user), Some(host)) = uri_user_host(&a) else {
        return Err(w.fail("a sip:USER@HOST AoR in the profile", a));
    };
    let entity = doc.entity.trim().to_string();
    let scheme_ok = ["sip:", "pres:"]
        .iter()
        .any(|s| entity.to_ascii_lowercase().starts_with(s));
    let (eu, eh) = uri_user_host(&entity.replacen("pres:", "sip:", 1));
    if !scheme_ok
        || eu.as_deref() != Some(user.as_str())
        || !eh.is_some_and(|h| h.eq_ignore_ascii_case(&host))
    {
        return Err(w.fail(
            format!("the PIDF's entity to name the user ({user}@{host}, sip: or pres:; RFC 3863 §4.1.1)"),
            format!("entity {entity:?} — {}", show()),
        ));
    }
    if !doc.tuples.iter().any(|t| t.basic == status) {
        return Err(w.fail(
            format!("a tuple whose basic status is {status}, the status the user chose"),
            format!(
                "basic statuses {:?} — {}",
                doc.tuples
                    .iter()
                    .map(|t| t.basic.clone())
                    .collect::<Vec<_>>(),
                show()
            ),
        ));
    }
    Ok(())
}

#[then(
    "the presence server gets the user's PUBLISH through the core with the new status in well-formed PIDF"
)]
async fn gets_publish(w: &mut LiaisonWorld) -> StepResult {
    let Some((status, at)) = w.pres.client.asked.clone() else {
        return Err(w.fail(
            "a presence change the user made earlier in the scenario",
            "none",
        ));
    };
    let p = publish_with_state(w, &status, at).await?;
    judge_publish(w, &p, &status)?;
    if !(200..300).contains(&p.status) || p.etag.is_none() {
        return Err(w.fail(
            "a PUBLISH the presence server could take (answered 200 with a SIP-ETag)",
            format!("answered {}: {}", p.status, shown(w, &p)),
        ));
    }
    w.pres.client.publication = Some(p);
    Ok(())
}

#[then("the client refreshes that publication with its entity tag and no body before its Expires runs out")]
async fn refreshes(w: &mut LiaisonWorld) -> StepResult {
    let Some(p) = w.pres.client.publication.clone() else {
        return Err(w.fail(
            "a publication the presence server took earlier in the scenario",
            "none",
        ));
    };
    let (Some(tag), Some(granted)) = (p.etag.clone(), p.granted) else {
        return Err(w.fail("a 200 with SIP-ETag and Expires", shown(w, &p)));
    };
    // Until the publication expires at the server, and the transit of one
    // request through the core (T1).
    let t1 = Duration::from_millis(w.ctx.profile.t1_ms);
    let expires_at = p.answered_at + Duration::from_secs(u64::from(granted)) + t1;
    if expires_at > w.deadline {
        return Err(w.fail(
            format!("a scenario timeout longer than the {granted} s granted (timers.scenario_timeout_s)"),
            format!("{} s", w.ctx.profile.scenario_timeout_s),
        ));
    }
    let since = p.incoming.at;
    let next = first_publish(w, since, expires_at, |x| x.incoming.at > p.incoming.at).await;
    let Some(r) = next else {
        return Err(w.fail(
            format!(
                "a refresh (SIP-If-Match: {tag}, no body) within the {granted} s the server granted in its 200 (RFC 3903 §4: the ESC may shorten the expiration; the client refreshes by what the 2xx says)"
            ),
            format!("no PUBLISH before the publication expired: {}", arrivals(w, since)),
        ));
    };
    let sent = as_sent(w, &r);
    let Some(m) = msg(&sent) else {
        return Err(w.fail("a PUBLISH that parses", describe_incoming(&sent)));
    };
    let named = m.header("SIP-If-Match").map(entity_tag);
    if named.as_deref() != Some(tag.as_str()) {
        return Err(w.fail(
            format!("the refresh to name the publication's entity tag: SIP-If-Match: {tag}"),
            describe_incoming(&sent),
        ));
    }
    if !m.body().is_empty() {
        return Err(w.fail(
            "a refresh without a body (RFC 3903 §4: a refresh carries no state)",
            describe_incoming(&sent),
        ));
    }
    if m.header("Event").map(event_package).as_deref() != Some("presence") {
        return Err(w.fail("Event: presence on the refresh", describe_incoming(&sent)));
    }
    Ok(())
}

#[given("the user has changed their presence")]
async fn has_changed(w: &mut LiaisonWorld) -> StepResult {
    change(w).await?;
    gets_publish(w).await
}

#[then("the PUBLISH names the entity tag of the last publication and carries the new status")]
async fn modify_names_tag(w: &mut LiaisonWorld) -> StepResult {
    let Some((status, at)) = w.pres.client.asked.clone() else {
        return Err(w.fail(
            "a presence change the user made earlier in the scenario",
            "none",
        ));
    };
    let p = publish_with_state(w, &status, at).await?;
    // The tag the client held when it sent it: that of the last 2xx the
    // presence server gave a publication before then (a refresh in
    // between gives a new one).
    let held = esc(w)?
        .esc
        .log()
        .iter()
        .rev()
        .find(|x| {
            x.answered_at < p.incoming.at
                && (200..300).contains(&x.status)
                && x.granted.is_some_and(|g| g > 0)
        })
        .and_then(|x| x.etag.clone());
    let sent = as_sent(w, &p);
    let named = msg(&sent)
        .and_then(|m| m.header("SIP-If-Match"))
        .map(entity_tag);
    if held.is_none() || named != held {
        return Err(w.fail(
            format!(
                "a modification of the publication the client holds, naming its entity tag (SIP-If-Match: {}; RFC 3903 §4)",
                held.as_deref().unwrap_or("(none held)")
            ),
            describe_incoming(&sent),
        ));
    }
    judge_publish(w, &p, &status)?;
    if p.status != 412 {
        return Err(w.fail(
            "the presence server to refuse it with 412 as the scenario asked (a fault of the harness, not the SUT)",
            format!("answered {}", p.status),
        ));
    }
    w.pres.client.refused = Some(p);
    Ok(())
}

#[then("after the 412 the client publishes anew without SIP-If-Match and with the new status")]
async fn publishes_anew(w: &mut LiaisonWorld) -> StepResult {
    let Some(refused) = w.pres.client.refused.clone() else {
        return Err(w.fail("a PUBLISH refused with 412 earlier in the scenario", "none"));
    };
    let Some((status, _)) = w.pres.client.asked.clone() else {
        return Err(w.fail(
            "a presence change the user made earlier in the scenario",
            "none",
        ));
    };
    let since = refused.incoming.at;
    let until = w.deadline;
    let Some(p) = first_publish(w, since, until, |x| x.incoming.at > refused.incoming.at).await
    else {
        return Err(w.fail(
            "a new initial publication after the 412 (RFC 3903 §4: the publication is gone)",
            format!("nothing by the scenario's deadline: {}", arrivals(w, since)),
        ));
    };
    let sent = as_sent(w, &p);
    if let Some(t) = msg(&sent).and_then(|m| m.header("SIP-If-Match")) {
        return Err(w.fail(
            "an initial publication without SIP-If-Match (the 412 said the entity tag is gone)",
            format!("SIP-If-Match: {t} — {}", describe_incoming(&sent)),
        ));
    }
    judge_publish(w, &p, &status)
}
