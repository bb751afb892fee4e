//! Presence through the IMS core (seed 003, PRES-*): the harness plays the
//! core in front of the presence-server SUT, the presentities that PUBLISH,
//! the watchers that SUBSCRIBE and answer NOTIFYs
//! ([`crate::roles::presence`]), and the aggregation proxy that PUTs
//! pres-rules over XCAP ([`crate::roles::xcap_client`]). Requests for the
//! server go to the core with a preloaded Route naming the server (the
//! S-CSCF's routing after its filter criteria); the core asserts each
//! user's identity from its P-Preferred-Identity.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

pub mod client;

use crate::codec::presence::{
    Pidf, PresRules, SubHandling, Tuple, Watcherinfo, AUTH_POLICY_TYPE, PIDF_TYPE, PRES_RULES_AUID,
    WATCHERINFO_TYPE,
};
use crate::codec::sip::{token, uri_of, SipMessage};
use crate::net::{Incoming, Transport};
use crate::roles::cscf::aor_key;
use crate::roles::presence::{out_of_dialog, Extra, Listener};
use crate::roles::transaction::ClientResult;
use crate::roles::ua::Ua;
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};

/// One harness user: its UA, the listener answering its NOTIFYs, and its
/// identities (the SIP AoR, or a number's sip:…;user=phone and tel: URIs).
pub struct User {
    pub ua: Arc<Ua>,
    pub listener: Arc<Listener>,
    pub number: Option<String>,
}

/// A subscription a user made.
pub struct Subscription {
    pub call_id: String,
    pub request: Vec<u8>,
    pub contact: String,
    pub result: ClientResult,
}

/// Per-scenario presence state.
#[derive(Default)]
pub struct Pres {
    pub users: HashMap<String, User>,
    pub subs: HashMap<String, Subscription>,
    /// The last PIDF published and its presentity's name.
    pub published: Option<(String, Vec<u8>, Pidf)>,
    pub etag: Option<String>,
    /// The tuple id of a PUBLISH made for someone else (PRES-10), by its sender.
    pub forged: HashMap<String, String>,
    /// The last PUBLISH or SUBSCRIBE sent (what, the Expires asked, its outcome).
    pub last: Option<(&'static str, u32, ClientResult)>,
    /// The presence-client steps' state ([`client`]).
    pub client: client::ClientState,
}

const EXPIRES: u32 = 120;
const T: Transport = Transport::Udp;

fn domain(w: &LiaisonWorld) -> String {
    w.ctx
        .profile
        .presence
        .as_ref()
        .and_then(|p| p.domain.clone())
        .unwrap_or_else(|| crate::steps::sip::domain(w))
}

async fn user(w: &mut LiaisonWorld, name: &str) -> Result<Arc<Ua>, Failure> {
    if let Some(u) = w.pres.users.get(name) {
        return Ok(u.ua.clone());
    }
    let d = domain(w);
    let ua = crate::steps::sip::new_ua_in(w, name, &d).await?;
    let listener = Arc::new(Listener::start(ua.clone()));
    w.pres.users.insert(
        name.to_string(),
        User {
            ua: ua.clone(),
            listener,
            number: None,
        },
    );
    Ok(ua)
}

/// The identities the core asserts for `name`: its number's two forms, or its AoR.
fn identities(w: &LiaisonWorld, name: &str) -> Vec<String> {
    match w.pres.users.get(name) {
        Some(User {
            number: Some(n), ..
        }) => vec![
            format!("sip:{n}@{};user=phone", domain(w)),
            format!("tel:{n}"),
        ],
        Some(u) => vec![u.ua.aor.clone()],
        None => vec![],
    }
}

fn listener(w: &LiaisonWorld, name: &str) -> Result<Arc<Listener>, Failure> {
    w.pres
        .users
        .get(name)
        .map(|u| u.listener.clone())
        .ok_or_else(|| w.fail(format!("a user `{name}` set up earlier"), "none"))
}

fn server(w: &LiaisonWorld) -> Result<std::net::SocketAddr, Failure> {
    crate::steps::sip::sut_addr(w, "presence-server")
}

fn core(w: &LiaisonWorld) -> Result<std::net::SocketAddr, Failure> {
    w.ctx
        .ims
        .as_ref()
        .map(|h| h.core.addr())
        .ok_or_else(|| w.fail("the harness IMS core (profile section ims)", "none"))
}

/// Sends `method` from `ua` through the core, asserted as `asserted`.
async fn via_core(
    w: &LiaisonWorld,
    ua: &Ua,
    method: &str,
    ruri: &str,
    asserted: &[String],
    mut headers: Vec<(&'static str, String)>,
    body: Option<(&str, &[u8])>,
) -> Result<(Vec<u8>, String, ClientResult), Failure> {
    let ids: Vec<&str> = asserted.iter().map(String::as_str).collect();
    headers.insert(
        0,
        (
            "P-Preferred-Identity",
            crate::codec::ims::asserted_value(&ids),
        ),
    );
    let extra = Extra {
        route: vec![format!("<sip:{};lr>", server(w)?)],
        headers,
    };
    let out = out_of_dialog(ua, T, method, ruri, ruri, &extra, body);
    let r = ua.send(T, core(w)?, &out, w.deadline, Duration::ZERO).await;
    Ok((out.bytes, out.call_id, r))
}

fn pidf_for(entity: &str, contact: &str) -> (Vec<u8>, Pidf) {
    let p = Pidf {
        entity: entity.to_string(),
        tuples: vec![Tuple {
            id: format!("t{}", &token()[..8]),
            basic: "open".into(),
            contact: Some(contact.to_string()),
            note: Some(format!("liaison presence {} caf\u{e9} & <ok>", token())),
        }],
        notes: vec![],
    };
    (p.to_xml(), p)
}

/// A PUBLISH of `body` (of type `ct`) for `target` through the core, from
/// `ua`, asserted as `ids`, asking for [`EXPIRES`]; kept as the last request.
async fn publish_body(
    w: &mut LiaisonWorld,
    ua: &Ua,
    target: &str,
    ids: &[String],
    ct: &str,
    body: &[u8],
) -> Result<(), Failure> {
    let headers = vec![
        ("Event", "presence".into()),
        ("Expires", EXPIRES.to_string()),
    ];
    let (_, _, r) = via_core(w, ua, "PUBLISH", target, ids, headers, Some((ct, body))).await?;
    w.pres.last = Some(("PUBLISH", EXPIRES, r));
    Ok(())
}

async fn publish_as(w: &mut LiaisonWorld, name: &str, phone: bool) -> StepResult {
    let ua = user(w, name).await?;
    let ids = identities(w, name);
    let entity = if phone {
        ids[0].clone()
    } else {
        ua.aor.clone()
    };
    let (body, pidf) = pidf_for(&entity, &uri_of(&ua.contact(T)).unwrap_or_default());
    let publisher = Ua::new(ua.ep.clone(), entity.clone(), w.timers);
    publish_body(w, &publisher, &entity, &ids, PIDF_TYPE, &body).await?;
    w.pres.etag = last(w)?
        .2
        .final_response()
        .and_then(|m| m.header("SIP-ETag"))
        .map(|e| e.trim().to_string());
    w.pres.published = Some((name.to_string(), body, pidf));
    Ok(())
}

#[when(expr = "{string} publishes her presence through the core")]
async fn publishes(w: &mut LiaisonWorld, name: String) -> StepResult {
    publish_as(w, &name, false).await
}

#[given(expr = "{string} has published her presence through the core")]
async fn has_published(w: &mut LiaisonWorld, name: String) -> StepResult {
    publish_as(w, &name, false).await?;
    expect_final(w, 200)
}

#[given(expr = "{string} has published her presence as her sip:…;user=phone URI through the core")]
async fn has_published_phone(w: &mut LiaisonWorld, name: String) -> StepResult {
    publish_as(w, &name, true).await?;
    expect_final(w, 200)
}

async fn refresh(w: &mut LiaisonWorld, name: &str, etag: String) -> StepResult {
    let ua = user(w, name).await?;
    let ids = identities(w, name);
    let headers = vec![
        ("Event", "presence".into()),
        ("Expires", EXPIRES.to_string()),
        ("SIP-If-Match", etag),
    ];
    let aor = ua.aor.clone();
    let (_, _, r) = via_core(w, &ua, "PUBLISH", &aor, &ids, headers, None).await?;
    w.pres.last = Some(("PUBLISH", EXPIRES, r));
    Ok(())
}

#[when(expr = "{string} refreshes her publication with its entity tag through the core")]
async fn refreshes(w: &mut LiaisonWorld, name: String) -> StepResult {
    let etag = w
        .pres
        .etag
        .clone()
        .ok_or_else(|| w.fail("a SIP-ETag from the earlier PUBLISH (RFC 3903 §6)", "none"))?;
    refresh(w, &name, etag).await
}

#[when(expr = "{string} refreshes her publication with an unknown entity tag through the core")]
async fn refreshes_unknown(w: &mut LiaisonWorld, name: String) -> StepResult {
    refresh(w, &name, format!("liaison-unknown-{}", token())).await
}

fn last(w: &LiaisonWorld) -> Result<(&'static str, u32, &ClientResult), Failure> {
    w.pres
        .last
        .as_ref()
        .map(|(m, e, r)| (*m, *e, r))
        .ok_or_else(|| w.fail("a request sent earlier in the scenario", "none"))
}

fn expect_final(w: &LiaisonWorld, code: u16) -> StepResult {
    let (method, _, r) = last(w)?;
    match r.final_response().and_then(SipMessage::status) {
        Some(c) if c == code => Ok(()),
        _ => Err(w.fail(
            format!("the {method} answered {code}"),
            w.describe(Some(r), None),
        )),
    }
}

fn final_with(w: &LiaisonWorld, code: u16, header: &str, why: &str) -> StepResult {
    expect_final(w, code)?;
    let (method, _, r) = last(w)?;
    match r.final_response() {
        Some(m) if m.header(header).is_some_and(|v| !v.trim().is_empty()) => Ok(()),
        _ => Err(w.fail(
            format!("the {code} to the {method} with a {header} header ({why})"),
            w.describe(Some(r), None),
        )),
    }
}

#[then(expr = "the PUBLISH is answered {int}")]
async fn publish_answered(w: &mut LiaisonWorld, code: u16) -> StepResult {
    expect_final(w, code)
}

#[then("the PUBLISH is answered 200 with a SIP-ETag and an Expires no longer than asked")]
async fn publish_etag(w: &mut LiaisonWorld) -> StepResult {
    final_with(
        w,
        200,
        "SIP-ETag",
        "RFC 3903 §6: the ESC names the publication",
    )?;
    let (_, asked, r) = last(w)?;
    let granted = r
        .final_response()
        .and_then(|m| m.header("Expires"))
        .and_then(|e| e.trim().parse::<u32>().ok());
    match granted {
        Some(g) if g <= asked => Ok(()),
        _ => Err(w.fail(
            format!("an Expires of at most the {asked} s asked (RFC 3903 §6)"),
            w.describe(Some(r), None),
        )),
    }
}

/// RFC 3903 §6, step 6: each successful publication gets a new entity tag,
/// a refresh included, never one given before for the resource.
#[then("the refresh is answered 200 with a new SIP-ETag and an Expires no longer than asked")]
async fn refresh_new_etag(w: &mut LiaisonWorld) -> StepResult {
    publish_etag(w).await?;
    let (_, _, r) = last(w)?;
    let old = w.pres.etag.clone().unwrap_or_default();
    let new = r
        .final_response()
        .and_then(|m| m.header("SIP-ETag"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    if new == old.trim() {
        return Err(w.fail(
            format!(
                "a SIP-ETag other than the refreshed publication's {old:?} (RFC 3903 §6, step 6: a new entity tag for each successful publication)"
            ),
            w.describe(Some(r), None),
        ));
    }
    w.pres.etag = Some(new);
    Ok(())
}

/// RFC 3903 §6, step 5: a body the ESC does not understand is rejected with
/// "an appropriate response, such as 415"; a body that is not well-formed
/// XML is not understood, and 400 names it as precisely.
#[then("the PUBLISH is refused with 400 or 415")]
async fn publish_400_or_415(w: &mut LiaisonWorld) -> StepResult {
    let (_, _, r) = last(w)?;
    match r.final_response().and_then(SipMessage::status) {
        Some(400 | 415) => Ok(()),
        _ => Err(w.fail(
            "the PUBLISH of a PIDF that is not well-formed refused with 400 or 415 (RFC 3903 §6, step 5)",
            w.describe(Some(r), None),
        )),
    }
}

#[then("the PUBLISH is answered 415 with an Accept header")]
async fn publish_415(w: &mut LiaisonWorld) -> StepResult {
    final_with(w, 415, "Accept", "RFC 3261 §21.4.13")
}

#[then("the SUBSCRIBE is answered 489 with an Allow-Events header")]
async fn subscribe_489(w: &mut LiaisonWorld) -> StepResult {
    final_with(w, 489, "Allow-Events", "RFC 6665 §8.2.2")
}

#[then("the PUBLISH is refused with 401, 403 or 407")]
async fn publish_refused(w: &mut LiaisonWorld) -> StepResult {
    let (_, _, r) = last(w)?;
    match r.final_response().and_then(SipMessage::status) {
        Some(401 | 403 | 407) => Ok(()),
        _ => Err(w.fail(
            "the PUBLISH from outside the trust domain refused with 401, 403 or 407 (RFC 3325 §5, RFC 3903 §6)",
            w.describe(Some(r), None),
        )),
    }
}

#[when(expr = "{string} publishes a PIDF that is not well-formed through the core")]
async fn publishes_garbage(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ua = user(w, &name).await?;
    let ids = identities(w, &name);
    let aor = ua.aor.clone();
    let body = format!("<?xml version=\"1.0\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{aor}\"><tuple id=\"t\"><status><basic>open</basic></status>").into_bytes();
    publish_body(w, &ua, &aor, &ids, PIDF_TYPE, &body).await
}

#[when(expr = "{string} publishes a {string} body through the core")]
async fn publishes_type(w: &mut LiaisonWorld, name: String, ct: String) -> StepResult {
    let ua = user(w, &name).await?;
    let ids = identities(w, &name);
    let aor = ua.aor.clone();
    publish_body(w, &ua, &aor, &ids, &ct, b"available").await
}

#[when(expr = "{string} publishes presence for {string} through the core")]
async fn publishes_for(w: &mut LiaisonWorld, name: String, other: String) -> StepResult {
    user(w, &name).await?;
    let target = user(w, &other).await?.aor.clone();
    let ua = w.pres.users[&name].ua.clone();
    // From the other's AoR, asserted as herself.
    let spoof = Ua::new(ua.ep.clone(), target.clone(), w.timers);
    let (body, pidf) = pidf_for(&target, &uri_of(&ua.contact(T)).unwrap_or_default());
    if let Some(t) = pidf.tuples.first() {
        w.pres.forged.insert(name.clone(), t.id.clone());
    }
    let ids = identities(w, &name);
    publish_body(w, &spoof, &target, &ids, PIDF_TYPE, &body).await
}

#[when(
    expr = "{string} publishes presence for {string} with a forged P-Asserted-Identity straight to the SUT"
)]
async fn publishes_straight(w: &mut LiaisonWorld, name: String, other: String) -> StepResult {
    let ua = user(w, &name).await?;
    let target = user(w, &other).await?.aor.clone();
    let spoof = Ua::new(ua.ep.clone(), target.clone(), w.timers);
    let (body, _) = pidf_for(&target, &uri_of(&ua.contact(T)).unwrap_or_default());
    let extra = Extra {
        route: vec![],
        headers: vec![
            ("P-Asserted-Identity", format!("<{target}>")),
            ("Event", "presence".into()),
            ("Expires", EXPIRES.to_string()),
        ],
    };
    let out = out_of_dialog(
        &spoof,
        T,
        "PUBLISH",
        &target,
        &target,
        &extra,
        Some((PIDF_TYPE, &body)),
    );
    let r = ua
        .send(T, server(w)?, &out, w.deadline, Duration::ZERO)
        .await;
    w.pres.last = Some(("PUBLISH", EXPIRES, r));
    Ok(())
}

// ------------------------------------------------------------ rules

async fn put_rules(w: &mut LiaisonWorld, name: &str, allowed: &str) -> StepResult {
    let rules_at = w
        .ctx
        .profile
        .presence
        .as_ref()
        .and_then(|p| p.rules.clone())
        .ok_or_else(|| {
            w.fail(
                "a presence.rules section (the pres-rules XCAP root)",
                "none",
            )
        })?;
    let owner = user(w, name).await?;
    let watcher = user(w, allowed).await?.aor.clone();
    let ut = crate::roles::xcap_client::Ut::new(&rules_at, w.ctx.profile.harness_ip, &domain(w))
        .map_err(|e| w.fail("a usable presence.rules section", e))?;
    // The XUI: the identity the presentity publishes as: its AoR, or for a
    // user with a number its sip:…;user=phone URI. Where its rules are kept
    // is not what PRES-8 judges (the tel: form of the watched URI is), so
    // they are put where the publication is.
    let xui = identities(w, name)
        .first()
        .cloned()
        .unwrap_or_else(|| owner.aor.clone());
    let path = format!("{}/{PRES_RULES_AUID}/users/{xui}/index", ut.root);
    let doc = PresRules::one(
        &format!("allow-{}", &token()[..6]),
        &[&watcher],
        SubHandling::Allow,
    )
    .to_xml();
    let asserted = format!("\"{xui}\"");
    let req = ut.request(
        "PUT",
        &path,
        Some(&asserted),
        &[("Content-Type", AUTH_POLICY_TYPE)],
        &doc,
    );
    let out = ut
        .send(
            crate::roles::xcap_client::Source::Proxy,
            w.capture.clone(),
            &req,
            w.deadline,
        )
        .await;
    match out.status() {
        Some(200 | 201) => Ok(()),
        _ => Err(w.fail(
            format!("the pres-rules of `{name}` PUT from the aggregation proxy answered 200 or 201 (RFC 4825 §8.2.5)"),
            out.describe(),
        )),
    }
}

#[given(expr = "{string} allows {string} in her pres-rules")]
async fn allows(w: &mut LiaisonWorld, name: String, allowed: String) -> StepResult {
    put_rules(w, &name, &allowed).await
}

#[when(expr = "{string} allows {string} in her pres-rules")]
async fn now_allows(w: &mut LiaisonWorld, name: String, allowed: String) -> StepResult {
    put_rules(w, &name, &allowed).await
}

#[given(expr = "{string} has a telephone number and allows {string} in her pres-rules")]
async fn number_allows(w: &mut LiaisonWorld, name: String, allowed: String) -> StepResult {
    user(w, &name).await?;
    let digits: String = token()
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(7)
        .collect();
    if let Some(u) = w.pres.users.get_mut(&name) {
        u.number = Some(format!("+1555{digits}"));
    }
    put_rules(w, &name, &allowed).await
}

// ------------------------------------------------------------ subscriptions

async fn subscribe(
    w: &mut LiaisonWorld,
    name: &str,
    from_of: Option<&str>,
    ruri: String,
    event: &str,
) -> StepResult {
    let ua = user(w, name).await?;
    let ids = identities(w, name);
    let from = match from_of {
        Some(o) => user(w, o).await?.aor.clone(),
        None => ua.aor.clone(),
    };
    let sub = Ua::new(ua.ep.clone(), from, w.timers);
    let accept = if event == "presence.winfo" {
        WATCHERINFO_TYPE
    } else {
        PIDF_TYPE
    };
    let headers = vec![
        ("Event", event.to_string()),
        ("Expires", EXPIRES.to_string()),
        ("Accept", accept.to_string()),
    ];
    let (request, call_id, r) = via_core(w, &sub, "SUBSCRIBE", &ruri, &ids, headers, None).await?;
    w.pres.subs.insert(
        name.to_string(),
        Subscription {
            call_id,
            request,
            contact: uri_of(&sub.contact(T)).unwrap_or_default(),
            result: r.clone(),
        },
    );
    w.pres.last = Some(("SUBSCRIBE", EXPIRES, r));
    Ok(())
}

async fn aor_of(w: &mut LiaisonWorld, name: &str) -> Result<String, Failure> {
    Ok(user(w, name).await?.aor.clone())
}

#[given(expr = "{string} subscribes to {string} through the core")]
async fn given_subscribes(w: &mut LiaisonWorld, name: String, to: String) -> StepResult {
    let ruri = aor_of(w, &to).await?;
    subscribe(w, &name, None, ruri, "presence").await
}

#[when(expr = "{string} subscribes to {string} through the core")]
async fn subscribes(w: &mut LiaisonWorld, name: String, to: String) -> StepResult {
    given_subscribes(w, name, to).await
}

#[when(expr = "{string} subscribes to {string} through the core with the From of {string}")]
async fn subscribes_as(
    w: &mut LiaisonWorld,
    name: String,
    to: String,
    other: String,
) -> StepResult {
    let ruri = aor_of(w, &to).await?;
    subscribe(w, &name, Some(&other), ruri, "presence").await
}

#[when(expr = "{string} subscribes to the tel: URI of {string} through the core")]
async fn subscribes_tel(w: &mut LiaisonWorld, name: String, to: String) -> StepResult {
    user(w, &to).await?;
    let tel = identities(w, &to)
        .into_iter()
        .find(|i| i.starts_with("tel:"))
        .ok_or_else(|| w.fail(format!("`{to}` given a telephone number earlier"), "none"))?;
    subscribe(w, &name, None, tel, "presence").await
}

#[when(expr = "{string} subscribes to {string} for the event {string} through the core")]
async fn subscribes_event(
    w: &mut LiaisonWorld,
    name: String,
    to: String,
    ev: String,
) -> StepResult {
    let ruri = aor_of(w, &to).await?;
    subscribe(w, &name, None, ruri, &ev).await
}

#[when(expr = "{string} subscribes to her own watcher information through the core")]
async fn own_winfo(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ruri = aor_of(w, &name).await?;
    subscribe(w, &name, None, ruri, "presence.winfo").await
}

#[when(expr = "{string} subscribes to the watcher information of {string} through the core")]
async fn others_winfo(w: &mut LiaisonWorld, name: String, of: String) -> StepResult {
    let ruri = aor_of(w, &of).await?;
    subscribe(w, &name, None, ruri, "presence.winfo").await
}

fn sub<'a>(w: &'a LiaisonWorld, name: &str) -> Result<&'a Subscription, Failure> {
    w.pres
        .subs
        .get(name)
        .ok_or_else(|| w.fail(format!("a SUBSCRIBE of `{name}` earlier"), "none"))
}

/// Most NOTIFYs a failure shows one by one; a server that sends a storm of
/// them is told by the count of the rest, and the failure stays readable
/// (the report would cut it anyway, after building it whole).
const NOTIFYS_SHOWN: usize = 5;

fn shown(w: &LiaisonWorld, s: &Subscription, got: &[(Incoming, SipMessage)]) -> String {
    let mut out = format!("SUBSCRIBE answered: {}", w.describe(Some(&s.result), None));
    if got.is_empty() {
        out.push_str("; no NOTIFY");
    }
    for (inc, _) in got.iter().take(NOTIFYS_SHOWN) {
        out.push_str("; NOTIFY: ");
        out.push_str(&describe_incoming(inc));
    }
    if got.len() > NOTIFYS_SHOWN {
        out.push_str(&format!(
            "; and {} more NOTIFYs of the dialog (among the newest {} requests kept for the user)",
            got.len() - NOTIFYS_SHOWN,
            crate::roles::presence::MAX_LOGGED
        ));
    }
    out
}

/// Does this NOTIFY carry the published tuples (ids and basic status)?
fn carries(m: &SipMessage, want: &Pidf) -> bool {
    let active = m
        .header("Subscription-State")
        .is_some_and(|v| crate::codec::presence::subscription_state(v).state == "active");
    let ids = |p: &Pidf| {
        p.tuples
            .iter()
            .map(|t| (t.id.clone(), t.basic.clone()))
            .collect::<Vec<_>>()
    };
    active && Pidf::parse(m.body()).is_ok_and(|p| ids(&p) == ids(want))
}

fn published(w: &LiaisonWorld, who: &str) -> Result<(Vec<u8>, Pidf), Failure> {
    match &w.pres.published {
        Some((n, b, p)) if n == who => Ok((b.clone(), p.clone())),
        _ => Err(w.fail(format!("a PUBLISH of `{who}` earlier"), "none")),
    }
}

async fn wait_presence(w: &LiaisonWorld, name: &str, who: &str) -> Result<SipMessage, Failure> {
    let (_, want) = published(w, who)?;
    let s = sub(w, name)?;
    let l = listener(w, name)?;
    l.wait_for(&s.call_id, w.deadline, |n| {
        n.iter().any(|(_, m)| carries(m, &want))
    })
    .await;
    let got = l.notifies(&s.call_id);
    got.iter()
        .map(|(_, m)| m.clone())
        .find(|m| carries(m, &want))
        .ok_or_else(|| {
            w.fail(
                format!(
                    "a NOTIFY to `{name}` with Subscription-State active and the PIDF `{who}` published (tuple {}) (RFC 3856 §6.7, RFC 6665 §4.2.2)",
                    want.tuples.first().map(|t| t.id.as_str()).unwrap_or("")
                ),
                shown(w, s, &got),
            )
        })
}

#[given(expr = "{string} is sent the presence {string} published")]
async fn given_sent_presence(w: &mut LiaisonWorld, name: String, who: String) -> StepResult {
    wait_presence(w, &name, &who).await.map(|_| ())
}

#[then(expr = "{string} is sent the presence {string} published")]
async fn sent_presence(w: &mut LiaisonWorld, name: String, who: String) -> StepResult {
    wait_presence(w, &name, &who).await.map(|_| ())
}

#[then(expr = "{string} is sent the presence {string} published, element for element")]
async fn sent_presence_exactly(w: &mut LiaisonWorld, name: String, who: String) -> StepResult {
    let m = wait_presence(w, &name, &who).await?;
    let (body, _) = published(w, &who)?;
    let ct = m.content_type().unwrap_or_default();
    let event = crate::codec::presence::event_package(m.header("Event").unwrap_or_default());
    if !ct.eq_ignore_ascii_case(PIDF_TYPE) || event != "presence" {
        return Err(w.fail(
            format!("the NOTIFY with Content-Type {PIDF_TYPE} and Event presence (RFC 3856 §6.7)"),
            crate::codec::escape_bytes(m.raw(), 600),
        ));
    }
    let parsed = |b: &[u8]| crate::codec::xml_tree::parse(b);
    let (Ok(want), Ok(got)) = (parsed(&body), parsed(m.body())) else {
        return Err(w.fail(
            "a NOTIFY body that is a well-formed PIDF",
            crate::codec::escape_bytes(m.raw(), 600),
        ));
    };
    if let Some(d) = crate::codec::xml_tree::diff(&want, &got) {
        return Err(w.fail(
            "the published PIDF passed on element for element (RFC 3863 §4; the rules provide every attribute)",
            format!("{d} — NOTIFY bytes: {}", crate::codec::escape_bytes(m.raw(), 800)),
        ));
    }
    // Byte equality is reported, not required (no text requires it).
    tracing::info!(
        byte_identical = m.body() == body.as_slice(),
        "PRES-4: the NOTIFY's PIDF equals the published one element for element"
    );
    Ok(())
}

/// How long a negative waits: long enough for a NOTIFY the server owed
/// (16·T1, at least 300 ms), bounded by the scenario's deadline.
fn quiet(w: &LiaisonWorld) -> Instant {
    let want = (w.timers.t1 * 16).max(Duration::from_millis(300));
    let left = w.remaining().saturating_sub(Duration::from_millis(300));
    Instant::now() + want.min(left)
}

#[given(expr = "{string} is sent no presence of {string}")]
async fn given_no_presence(w: &mut LiaisonWorld, name: String, who: String) -> StepResult {
    no_presence(w, name, who).await
}

#[then(expr = "{string} is sent no presence of {string}")]
async fn no_presence(w: &mut LiaisonWorld, name: String, who: String) -> StepResult {
    let s = sub(w, &name)?;
    let l = listener(w, &name)?;
    let has_pidf = |m: &SipMessage| !m.body().is_empty();
    let until = quiet(w);
    l.wait_for(&s.call_id, until, |n| n.iter().any(|(_, m)| has_pidf(m)))
        .await;
    let got = l.notifies(&s.call_id);
    let state_2xx = s
        .result
        .final_response()
        .and_then(SipMessage::status)
        .is_some_and(|c| (200..300).contains(&c));
    if let Some((inc, _)) = got.iter().find(|(_, m)| has_pidf(m)) {
        // The offending NOTIFY whole, body included (the listing below cuts
        // each NOTIFY after its first bytes, before the body).
        let with_body = got.iter().filter(|(_, m)| has_pidf(m)).count();
        return Err(w.fail(
            format!("no NOTIFY with a presence body to `{name}`, whom the rules of `{who}` do not allow (RFC 3856 §6.6, RFC 5025 §3.2.1: pending, refused or terminated)"),
            format!(
                "{with_body} NOTIFYs with a body (among those kept), the first: {} — bytes: {}; {}",
                inc.describe(),
                crate::codec::escape_bytes(&inc.bytes, 2000),
                shown(w, s, &got)
            ),
        ));
    }
    if state_2xx && got.is_empty() {
        tracing::info!(watcher = %name, "subscription accepted without a NOTIFY within the wait");
    }
    Ok(())
}

#[then(expr = "the NOTIFYs to {string} came through the core on the dialog's route")]
async fn through_core(w: &mut LiaisonWorld, name: String) -> StepResult {
    let s = sub(w, &name)?;
    let ok = s
        .result
        .final_response()
        .ok_or_else(|| w.fail("a 2xx to the SUBSCRIBE", w.describe(Some(&s.result), None)))?;
    let rr = crate::codec::ims::uris(ok, "Record-Route");
    let Some(rr) = rr.first() else {
        return Err(w.fail(
            "the core's Record-Route in the 2xx to the SUBSCRIBE (RFC 3261 §12.1.1)",
            crate::codec::escape_bytes(ok.raw(), 600),
        ));
    };
    let h = w
        .ctx
        .ims
        .clone()
        .ok_or_else(|| w.fail("the harness IMS core", "none"))?;
    let at_core: Vec<Incoming> = h
        .core
        .log()
        .into_iter()
        .map(|x| x.incoming)
        .filter(|i| {
            i.msg
                .as_ref()
                .is_ok_and(|m| m.method() == Some("NOTIFY") && m.call_id() == Some(&s.call_id))
        })
        .collect();
    let got = listener(w, &name)?.notifies(&s.call_id);
    if at_core.is_empty() {
        return Err(w.fail(
            format!("the NOTIFYs of the dialog sent to the core, the first Route {rr} (RFC 3261 §12.2.1.1, RFC 6665 §4.4.1)"),
            format!("none reached the core; {}", shown(w, s, &got)),
        ));
    }
    for inc in &at_core {
        let Ok(m) = inc.msg.as_ref() else { continue };
        let first = crate::codec::ims::uris(m, "Route").into_iter().next();
        if first.as_deref() != Some(rr.as_str()) {
            return Err(w.fail(
                format!("each NOTIFY's first Route the core's Record-Route URI {rr} (RFC 3261 §12.2.1.1)"),
                describe_incoming(inc),
            ));
        }
    }
    let from_tag = SipMessage::parse(&s.request)
        .ok()
        .and_then(|m| m.from_tag())
        .unwrap_or_default();
    let to_tag = ok.to_tag().unwrap_or_default();
    for (inc, m) in &got {
        let ruri = m.request_uri().unwrap_or_default();
        if ruri != s.contact
            || m.to_tag().as_deref() != Some(&from_tag)
            || m.from_tag().as_deref() != Some(&to_tag)
        {
            return Err(w.fail(
                format!("a NOTIFY to the Contact {} with From tag {to_tag} and To tag {from_tag} (RFC 3261 §12.2.1.1)", s.contact),
                describe_incoming(inc),
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------ watcher info

#[then(expr = "{string} is sent watcher information naming {string}")]
async fn winfo_names(w: &mut LiaisonWorld, name: String, watcher: String) -> StepResult {
    let s = sub(w, &name)?;
    let l = listener(w, &name)?;
    let target = identities(w, &watcher);
    let names = |m: &SipMessage| {
        Watcherinfo::parse(m.body()).is_ok_and(|wi| {
            wi.watchers
                .iter()
                .any(|x| target.iter().any(|t| aor_key(t) == aor_key(&x.uri)))
        })
    };
    l.wait_for(&s.call_id, w.deadline, |n| n.iter().any(|(_, m)| names(m)))
        .await;
    let got = l.notifies(&s.call_id);
    if got.iter().any(|(_, m)| names(m)) {
        return Ok(());
    }
    Err(w.fail(
        format!("a NOTIFY to `{name}` with {WATCHERINFO_TYPE} naming the watcher {} (RFC 3857, RFC 3858)", target.join(", ")),
        shown(w, s, &got),
    ))
}

#[then(expr = "{string} is sent nothing naming {string}")]
async fn nothing_naming(w: &mut LiaisonWorld, name: String, watcher: String) -> StepResult {
    let s = sub(w, &name)?;
    let l = listener(w, &name)?;
    let needle: Vec<String> = identities(w, &watcher)
        .iter()
        .filter_map(|i| crate::codec::sip::uri_user_host(i).0)
        .collect();
    let leaks = |b: &[u8]| {
        let t = String::from_utf8_lossy(b);
        needle
            .iter()
            .any(|n| !n.is_empty() && t.contains(n.as_str()))
    };
    let until = quiet(w);
    l.wait_for(&s.call_id, until, |n| {
        n.iter().any(|(i, _)| leaks(&i.bytes))
    })
    .await;
    let got = l.notifies(&s.call_id);
    let in_answer = s.result.responses.iter().any(|r| leaks(&r.bytes));
    if in_answer || got.iter().any(|(i, _)| leaks(&i.bytes)) {
        return Err(w.fail(
            format!("nothing sent to `{name}` naming the watcher `{watcher}`: watcher information only for the presentity (RFC 3857)"),
            shown(w, s, &got),
        ));
    }
    Ok(())
}

#[then(expr = "{string} is sent nothing of what {string} published")]
async fn nothing_of(w: &mut LiaisonWorld, name: String, sender: String) -> StepResult {
    let tuple = w
        .pres
        .forged
        .get(&sender)
        .cloned()
        .ok_or_else(|| w.fail(format!("a PUBLISH of `{sender}` earlier"), "none"))?;
    let s = sub(w, &name)?;
    let l = listener(w, &name)?;
    let leaks = |m: &SipMessage| {
        Pidf::parse(m.body()).is_ok_and(|p| p.tuples.iter().any(|t| t.id == tuple))
    };
    let until = quiet(w);
    l.wait_for(&s.call_id, until, |n| n.iter().any(|(_, m)| leaks(m)))
        .await;
    let got = l.notifies(&s.call_id);
    if got.iter().any(|(_, m)| leaks(m)) {
        return Err(w.fail(
            format!("no NOTIFY to `{name}` with the state `{sender}` published for someone else (tuple {tuple}): the PUBLISH is refused (RFC 3903 §6)"),
            shown(w, s, &got),
        ));
    }
    Ok(())
}
