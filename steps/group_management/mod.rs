//! Group Management (seed 003): the SUT is an XDMS on the Ut reference
//! point (`features/group-management/xdms.feature`). The harness plays the
//! aggregation proxy the XDMS trusts and, where it has an address of its
//! own, an untrusted client ([`crate::roles::xcap_client::Ut`]); these
//! steps only build the scenario's documents and judge the XDMS's answers
//! from their bytes (status, ETag, Content-Type, the documents element for
//! element with [`crate::codec::xml_tree::diff`]).
//!
//! Each scenario's users are its own (`alice-TOKEN`, …), so their XUIs and
//! documents are too.

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::codec::http::HttpMessage;
use crate::codec::xcap::{self, Entry, List};
use crate::codec::xml_tree::{self, Element};
use crate::roles::xcap_client::{HttpOutcome, Source, Ut};
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// The header a UE names the identity it wants in (3GPP TS 24.623).
const INTENDED: &str = "X-3GPP-Intended-Identity";
/// The resource-lists document each scenario works on.
const DOC: &str = "index";
/// The PoC group document's name.
const GROUP_DOC: &str = "team";

/// A document as the XDMS last stored it for its owner.
#[derive(Debug, Clone)]
pub struct Stored {
    pub auid: &'static str,
    pub doc: &'static str,
    pub bytes: Vec<u8>,
    pub etag: String,
    /// Strings only this document holds: none may reach another identity.
    pub markers: Vec<String>,
}

/// Per-scenario Group Management state.
#[derive(Default)]
pub struct Gm {
    pub ut: Option<Ut>,
    /// The scenario's token (its users' names end in it).
    pub tag: String,
    /// alice's document as the XDMS holds it.
    pub stored: Option<Stored>,
    /// A document alice sent and the XDMS has not yet confirmed.
    pub pending: Option<Stored>,
    /// The entity tag a replacement made stale.
    pub stale: Option<String>,
    /// The last request and what came back.
    pub last: Option<(Vec<u8>, HttpOutcome)>,
    /// GM-6: the entry put at a node selector.
    pub carol: Option<Entry>,
    /// GM-7: alice's xcap-diff subscription.
    pub diff: Option<DiffSub>,
}

/// An xcap-diff subscription (GM-7): the subscriber's listener (answering
/// and logging its NOTIFYs), the dialog's Call-ID and the SUBSCRIBE's outcome.
pub struct DiffSub {
    pub listener: std::sync::Arc<crate::roles::presence::Listener>,
    pub call_id: String,
    pub result: crate::roles::transaction::ClientResult,
}

impl Gm {
    fn user(&self, name: &str) -> String {
        format!("{name}-{}", self.tag)
    }
}

fn ut(w: &LiaisonWorld) -> Result<Ut, Failure> {
    w.gm.ut.clone().ok_or_else(|| {
        w.fail(
            "the harness's aggregation proxy set up first",
            "a step that needs it",
        )
    })
}

/// Sends one request and keeps it and its outcome.
#[allow(clippy::too_many_arguments)]
async fn call(
    w: &mut LiaisonWorld,
    source: Source,
    method: &str,
    path: &str,
    asserted: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), Failure> {
    let ut = ut(w)?;
    let out = ut
        .call(
            source,
            w.capture.clone(),
            method,
            path,
            asserted,
            headers,
            body,
            w.deadline,
        )
        .await;
    w.gm.last = Some(out);
    Ok(())
}

/// The response to the last request, or the failure naming what came.
fn response(w: &LiaisonWorld, expected: &str) -> Result<HttpMessage, Failure> {
    match &w.gm.last {
        Some((_, HttpOutcome::Answered(m))) => Ok(m.clone()),
        Some((_, other)) => Err(w.fail(expected, other.describe())),
        None => Err(w.fail(expected, "nothing: no request was sent")),
    }
}

fn shown(m: &HttpMessage) -> String {
    format!("HTTP response — bytes: {}", escape_bytes(m.raw(), 600))
}

/// A resource-lists document of `owner` whose entries are unique to it.
fn lists_for(w: &LiaisonWorld, owner: &str, members: &[&str]) -> (Vec<u8>, Vec<String>) {
    let ut = w.gm.ut.as_ref();
    let xui = |u: &str| {
        ut.map(|t| t.xui(&w.gm.user(u)))
            .unwrap_or_else(|| w.gm.user(u))
    };
    let entries: Vec<Entry> = members
        .iter()
        .map(|m| Entry {
            uri: xui(m),
            display_name: None,
        })
        .collect();
    let display = format!("Friends of {}", w.gm.user(owner));
    let markers = entries
        .iter()
        .map(|e| e.uri.clone())
        .chain([display.clone()])
        .collect();
    let doc = xcap::resource_lists_document(&[List {
        name: "friends".into(),
        display_name: Some(display),
        entries,
    }]);
    (doc, markers)
}

fn alice_path(
    w: &LiaisonWorld,
    auid: &str,
    doc: &str,
    node: Option<&str>,
) -> Result<String, Failure> {
    Ok(ut(w)?.document(auid, &w.gm.user("alice"), doc, node))
}

/// Puts `bytes` as alice's resource-lists document (through the proxy).
async fn put_alice(
    w: &mut LiaisonWorld,
    bytes: Vec<u8>,
    markers: Vec<String>,
    content_type: &str,
    extra: &[(&str, &str)],
) -> StepResult {
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
    let alice = w.gm.user("alice");
    let mut headers = vec![("Content-Type", content_type)];
    headers.extend_from_slice(extra);
    call(
        w,
        Source::Proxy,
        "PUT",
        &path,
        Some(&alice),
        &headers,
        &bytes,
    )
    .await?;
    w.gm.pending = Some(Stored {
        auid: xcap::RESOURCE_LISTS_AUID,
        doc: DOC,
        bytes,
        etag: String::new(),
        markers,
    });
    Ok(())
}

/// Checks the last answer is one of `statuses` with an ETag, and makes the
/// pending document the stored one; its ETag.
fn confirm(w: &mut LiaisonWorld, statuses: &[u16], what: &str) -> Result<String, Failure> {
    let expected = format!(
        "{what}: {} with an ETag header",
        statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    );
    let m = response(w, &expected)?;
    let etag = m.header("ETag").map(str::to_string);
    match (m.status(), etag) {
        (Some(s), Some(e)) if statuses.contains(&s) && !e.is_empty() => {
            if let Some(mut p) = w.gm.pending.take() {
                p.etag = e.clone();
                w.gm.stored = Some(p);
            }
            Ok(e)
        }
        _ => Err(w.fail(expected, shown(&m))),
    }
}

#[given("the harness plays the aggregation proxy in front of the XDMS")]
async fn proxy(w: &mut LiaisonWorld) -> StepResult {
    let p = &w.ctx.profile;
    let Some(x) = p.xdms.as_ref() else {
        return Err(w.fail(
            "a profile with an xdms section (xcap_root, proxy)",
            "a profile without one",
        ));
    };
    let domain = p
        .sip
        .as_ref()
        .and_then(|s| s.domain.clone())
        .unwrap_or_else(|| "liaison.test".into());
    let ut = Ut::new(x, p.harness_ip, &domain).map_err(|e| w.fail("a usable xdms section", e))?;
    w.gm.ut = Some(ut);
    w.gm.tag = crate::codec::sip::token()[..8].to_string();
    Ok(())
}

#[given("alice has created her resource-lists document through the proxy")]
async fn alice_created(w: &mut LiaisonWorld) -> StepResult {
    let (doc, markers) = lists_for(w, "alice", &["bob", "dave"]);
    put_alice(w, doc, markers, xcap::RESOURCE_LISTS_TYPE, &[]).await?;
    confirm(
        w,
        &[200, 201],
        "alice's new document, PUT through the proxy as her, accepted",
    )
    .map(|_| ())
}

#[given("alice has replaced it, so that the first entity tag is stale")]
async fn alice_replaced(w: &mut LiaisonWorld) -> StepResult {
    let first = w.gm.stored.as_ref().map(|s| s.etag.clone());
    let (doc, markers) = lists_for(w, "alice", &["bob", "erin"]);
    put_alice(w, doc, markers, xcap::RESOURCE_LISTS_TYPE, &[]).await?;
    let now = confirm(w, &[200, 204], "alice's replacement accepted")?;
    if first.as_deref() == Some(now.as_str()) {
        return Err(w.fail(
            "a new entity tag for the replaced document (RFC 4825 §7.11)",
            format!("the first one again, {now}"),
        ));
    }
    w.gm.stale = first;
    Ok(())
}

#[when(regex = r"^bob, asserted by the proxy, (reads|replaces|deletes) alice's document$")]
async fn bob_acts(w: &mut LiaisonWorld, act: String) -> StepResult {
    let bob = w.gm.user("bob");
    other_acts(w, Source::Proxy, Some(bob), &[], &act).await
}

#[when(
    regex = r"^a client at the harness's own address, asserting alice in the proxy's header, (reads|replaces) alice's document$"
)]
async fn client_acts(w: &mut LiaisonWorld, act: String) -> StepResult {
    let alice = w.gm.user("alice");
    other_acts(w, Source::Client, Some(alice), &[], &act).await
}

#[when(
    regex = r"^a request from the proxy's address naming alice only in X-3GPP-Intended-Identity (reads|replaces) alice's document$"
)]
async fn intended_acts(w: &mut LiaisonWorld, act: String) -> StepResult {
    let ut = ut(w)?;
    let v = format!("\"{}\"", ut.xui(&w.gm.user("alice")));
    other_acts(w, Source::Proxy, None, &[(INTENDED, v.as_str())], &act).await
}

/// A request on alice's document by someone the XDMS must refuse.
async fn other_acts(
    w: &mut LiaisonWorld,
    source: Source,
    asserted: Option<String>,
    headers: &[(&str, &str)],
    act: &str,
) -> StepResult {
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
    let (method, body) = match act {
        "reads" => ("GET", Vec::new()),
        "deletes" => ("DELETE", Vec::new()),
        _ => ("PUT", lists_for(w, "mallory", &["mallory"]).0),
    };
    let mut hs = headers.to_vec();
    if method == "PUT" {
        hs.push(("Content-Type", xcap::RESOURCE_LISTS_TYPE));
    }
    call(w, source, method, &path, asserted.as_deref(), &hs, &body).await
}

#[then(expr = "the XDMS refuses with {int} or {int} and none of alice's document")]
async fn refused(w: &mut LiaisonWorld, a: u16, b: u16) -> StepResult {
    let expected = format!("a refusal, {a} or {b}, carrying none of alice's document");
    let m = response(w, &expected)?;
    let markers =
        w.gm.stored
            .as_ref()
            .map(|s| s.markers.clone())
            .unwrap_or_default();
    let body = String::from_utf8_lossy(&m.body);
    let leaked: Vec<&String> = markers
        .iter()
        .filter(|k| body.contains(k.as_str()))
        .collect();
    if !matches!(m.status(), Some(s) if s == a || s == b) || !leaked.is_empty() {
        let why = if leaked.is_empty() {
            String::new()
        } else {
            format!("an answer carrying alice's {leaked:?}: ")
        };
        return Err(w.fail(expected, format!("{why}{}", shown(&m))));
    }
    Ok(())
}

/// GETs alice's stored document and compares it and its ETag with what the
/// XDMS confirmed.
async fn read_back(w: &mut LiaisonWorld, what: &str) -> StepResult {
    let Some(s) = w.gm.stored.clone() else {
        return Err(w.fail(what, "no document stored by an earlier step"));
    };
    let path = alice_path(w, s.auid, s.doc, None)?;
    let alice = w.gm.user("alice");
    call(w, Source::Proxy, "GET", &path, Some(&alice), &[], b"").await?;
    let expected = format!("{what}: 200 with ETag {} and the document", s.etag);
    let m = response(w, &expected)?;
    if m.status() != Some(200) || m.header("ETag") != Some(s.etag.as_str()) {
        return Err(w.fail(expected, shown(&m)));
    }
    let want =
        xml_tree::parse(&s.bytes).map_err(|e| w.fail("the harness's own document to parse", e))?;
    same_xml(w, &expected, &want, &m, None)
}

/// The response's body read as XML and compared element for element with
/// `want`; with `default_ns`, elements written without a namespace are
/// read in it first (an element body's default namespace is the usage's).
fn same_xml(
    w: &LiaisonWorld,
    expected: &str,
    want: &Element,
    m: &HttpMessage,
    default_ns: Option<&str>,
) -> StepResult {
    let mut got = xml_tree::parse(&m.body).map_err(|e| {
        w.fail(
            expected,
            format!("a body that is not XML ({e}) — {}", shown(m)),
        )
    })?;
    if let Some(ns) = default_ns {
        xcap::qualify(&mut got, ns);
    }
    match xml_tree::diff(want, &got) {
        None => Ok(()),
        Some(d) => Err(w.fail(expected, format!("another body ({d}) — {}", shown(m)))),
    }
}

#[then("alice reads her document unchanged, with the same entity tag")]
async fn unchanged(w: &mut LiaisonWorld) -> StepResult {
    read_back(w, "alice's document as she wrote it, with its entity tag").await
}

#[when("alice puts a new resource-lists document through the proxy")]
async fn put_new(w: &mut LiaisonWorld) -> StepResult {
    let (doc, markers) = lists_for(w, "alice", &["bob"]);
    put_alice(w, doc, markers, xcap::RESOURCE_LISTS_TYPE, &[]).await
}

#[then("the XDMS answers 201 with an entity tag")]
async fn created(w: &mut LiaisonWorld) -> StepResult {
    let e = confirm(
        w,
        &[201],
        "a PUT creating a document answered 201 Created (RFC 2616 §9.6)",
    )?;
    w.gm.stale = Some(e);
    Ok(())
}

#[when("alice puts a changed resource-lists document in its place")]
async fn put_changed(w: &mut LiaisonWorld) -> StepResult {
    let (doc, markers) = lists_for(w, "alice", &["bob", "carol"]);
    put_alice(w, doc, markers, xcap::RESOURCE_LISTS_TYPE, &[]).await
}

#[then("the XDMS answers 200 or 204 with an entity tag other than the first")]
async fn replaced(w: &mut LiaisonWorld) -> StepResult {
    let e = confirm(
        w,
        &[200, 204],
        "a PUT replacing a document answered 200 or 204 (RFC 2616 §9.6)",
    )?;
    if w.gm.stale.as_deref() == Some(e.as_str()) {
        return Err(w.fail(
            "a new entity tag for the replaced document",
            format!("the first one again, {e}"),
        ));
    }
    Ok(())
}

#[then("alice reads the changed document, with the entity tag of the replacement")]
async fn reads_changed(w: &mut LiaisonWorld) -> StepResult {
    read_back(
        w,
        "the replacing document, with the replacement's entity tag",
    )
    .await
}

#[when(
    regex = r"^alice (puts another document|deletes her document) with If-Match naming the stale entity tag$"
)]
async fn stale_if_match(w: &mut LiaisonWorld, act: String) -> StepResult {
    let stale = w.gm.stale.clone().unwrap_or_default();
    if act.starts_with("puts") {
        let (doc, _) = lists_for(w, "alice", &["zed"]);
        let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
        let alice = w.gm.user("alice");
        let hs = [
            ("Content-Type", xcap::RESOURCE_LISTS_TYPE),
            ("If-Match", stale.as_str()),
        ];
        call(w, Source::Proxy, "PUT", &path, Some(&alice), &hs, &doc).await
    } else {
        let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
        let alice = w.gm.user("alice");
        let hs = [("If-Match", stale.as_str())];
        call(w, Source::Proxy, "DELETE", &path, Some(&alice), &hs, b"").await
    }
}

#[then(expr = "the XDMS answers {int}")]
async fn answers(w: &mut LiaisonWorld, status: u16) -> StepResult {
    let expected = format!("{status} {}", crate::codec::http::reason_phrase(status));
    let m = response(w, &expected)?;
    if m.status() != Some(status) {
        return Err(w.fail(expected, shown(&m)));
    }
    Ok(())
}

#[when("alice reads her document with If-None-Match naming its current entity tag")]
async fn if_none_match(w: &mut LiaisonWorld) -> StepResult {
    let etag =
        w.gm.stored
            .as_ref()
            .map(|s| s.etag.clone())
            .unwrap_or_default();
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
    let alice = w.gm.user("alice");
    let hs = [("If-None-Match", etag.as_str())];
    call(w, Source::Proxy, "GET", &path, Some(&alice), &hs, b"").await
}

#[then("the XDMS answers 304 without the document")]
async fn not_modified(w: &mut LiaisonWorld) -> StepResult {
    let expected = "304 Not Modified without a body (RFC 2616 §14.26)";
    let m = response(w, expected)?;
    if m.status() != Some(304) || !m.body.is_empty() {
        return Err(w.fail(expected, shown(&m)));
    }
    Ok(())
}

#[when("alice puts a body that is not well-formed XML in its place")]
async fn put_malformed(w: &mut LiaisonWorld) -> StepResult {
    // A document cut short: its last element is never closed.
    let (doc, markers) = lists_for(w, "alice", &["bob", "frank"]);
    let cut = doc.len().saturating_sub(20);
    put_alice(
        w,
        doc[..cut].to_vec(),
        markers,
        xcap::RESOURCE_LISTS_TYPE,
        &[],
    )
    .await
}

#[then("the XDMS answers 409 with an xcap-error document whose condition is not-well-formed")]
async fn not_well_formed(w: &mut LiaisonWorld) -> StepResult {
    let expected = format!(
        "409 with Content-Type {} and <xcap-error xmlns=\"{}\"><not-well-formed/></xcap-error> (RFC 4825 §8.2.1, §11)",
        xcap::ERROR_TYPE,
        xcap::ERROR_NS
    );
    let m = response(w, &expected)?;
    let ct = m.header("Content-Type").map(xcap::media_type);
    if m.status() != Some(409) || ct.as_deref() != Some(xcap::ERROR_TYPE) {
        return Err(w.fail(expected, shown(&m)));
    }
    match xcap::read_error(&m.body) {
        Ok(r) if r.condition == "not-well-formed" => Ok(()),
        Ok(r) => Err(w.fail(
            expected,
            format!("the condition <{}> — {}", r.condition, shown(&m)),
        )),
        Err(e) => Err(w.fail(
            expected,
            format!("a body that is no error document ({e}) — {}", shown(&m)),
        )),
    }
}

#[when("alice puts a resource-lists document as text/plain in its place")]
async fn put_wrong_type(w: &mut LiaisonWorld) -> StepResult {
    let (doc, markers) = lists_for(w, "alice", &["bob", "gina"]);
    put_alice(w, doc, markers, "text/plain", &[]).await
}

/// alice's entry for carol and its node selector.
fn carol_node(w: &LiaisonWorld) -> Result<(Entry, String), Failure> {
    let ut = ut(w)?;
    let e = Entry {
        uri: ut.xui(&w.gm.user("carol")),
        display_name: None,
    };
    let node = format!(
        "resource-lists/list[@name=\"friends\"]/entry[@uri=\"{}\"]",
        e.uri
    );
    Ok((e, node))
}

#[when(
    "alice puts an entry for carol at her friends list's node selector as application/xcap-el+xml"
)]
async fn put_entry(w: &mut LiaisonWorld) -> StepResult {
    let (e, node) = carol_node(w)?;
    put_entry_at(w, &e, &node).await?;
    w.gm.carol = Some(e);
    Ok(())
}

/// alice PUTs entry `e` as an element of her resource list at `node`, through the proxy.
async fn put_entry_at(w: &mut LiaisonWorld, e: &Entry, node: &str) -> StepResult {
    let body = xcap::write_element(&xcap::entry_element(xcap::RESOURCE_LISTS_NS, e));
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, Some(node))?;
    let alice = w.gm.user("alice");
    let hs = [("Content-Type", xcap::EL_TYPE)];
    call(
        w,
        Source::Proxy,
        "PUT",
        &path,
        Some(&alice),
        &hs,
        body.as_bytes(),
    )
    .await
}

#[then(regex = r"^the XDMS accepts the (element|document) with 200 or 201 and an entity tag$")]
async fn accepted(w: &mut LiaisonWorld, what: String) -> StepResult {
    confirm(w, &[200, 201], &format!("the {what} PUT accepted")).map(|_| ())
}

#[then("alice's document then holds the entry for carol, and nothing else changed")]
async fn holds_entry(w: &mut LiaisonWorld) -> StepResult {
    let (Some(s), Some(carol)) = (w.gm.stored.clone(), w.gm.carol.clone()) else {
        return Err(w.fail(
            "a stored document and an entry put",
            "an earlier step missing",
        ));
    };
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, None)?;
    let alice = w.gm.user("alice");
    call(w, Source::Proxy, "GET", &path, Some(&alice), &[], b"").await?;
    let expected = format!(
        "200 with alice's document holding one <entry uri=\"{}\"> more in the friends list, and nothing else changed",
        carol.uri
    );
    let m = response(w, &expected)?;
    let mut got = match (m.status(), xml_tree::parse(&m.body)) {
        (Some(200), Ok(t)) => t,
        _ => return Err(w.fail(expected, shown(&m))),
    };
    let ns = xcap::RESOURCE_LISTS_NS;
    let removed = got
        .children
        .iter_mut()
        .find(|l| l.ns == ns && l.name == "list" && l.attr("name") == Some("friends"))
        .map(|l| {
            let before = l.children.len();
            l.children.retain(|c| {
                !(c.ns == ns && c.name == "entry" && c.attr("uri") == Some(carol.uri.as_str()))
            });
            before - l.children.len()
        })
        .unwrap_or(0);
    let want: Element =
        xml_tree::parse(&s.bytes).map_err(|e| w.fail("the harness's own document to parse", e))?;
    if removed != 1 {
        return Err(w.fail(expected, format!("{removed} such entries — {}", shown(&m))));
    }
    if let Some(d) = xml_tree::diff(&want, &got) {
        return Err(w.fail(
            expected,
            format!("other changes besides ({d}) — {}", shown(&m)),
        ));
    }
    Ok(())
}

#[when("alice reads the entry for carol at its node selector")]
async fn get_entry(w: &mut LiaisonWorld) -> StepResult {
    let (_, node) = carol_node(w)?;
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, Some(&node))?;
    let alice = w.gm.user("alice");
    call(w, Source::Proxy, "GET", &path, Some(&alice), &[], b"").await
}

#[then("the XDMS answers 200 with that entry alone as application/xcap-el+xml")]
async fn entry_alone(w: &mut LiaisonWorld) -> StepResult {
    let Some(carol) = w.gm.carol.clone() else {
        return Err(w.fail("an entry put earlier", "none"));
    };
    let expected = format!(
        "200 with Content-Type {} and the element <entry uri=\"{}\"/> alone (RFC 4825 §15.2.1)",
        xcap::EL_TYPE,
        carol.uri
    );
    let m = response(w, &expected)?;
    let ct = m.header("Content-Type").map(xcap::media_type);
    if m.status() != Some(200) || ct.as_deref() != Some(xcap::EL_TYPE) {
        return Err(w.fail(expected, shown(&m)));
    }
    let want = xcap::entry_element(xcap::RESOURCE_LISTS_NS, &carol);
    // An element written without its namespace declaration is read as in
    // the usage's default namespace.
    same_xml(w, &expected, &want, &m, Some(xcap::RESOURCE_LISTS_NS))
}

#[when("alice puts a PoC group document with a display name and three members through the proxy")]
async fn put_group(w: &mut LiaisonWorld) -> StepResult {
    let ut = ut(w)?;
    let members: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| ut.xui(&w.gm.user(u)))
        .collect();
    let uri = ut.xui(&w.gm.user("team"));
    let display = format!("Team {}", w.gm.tag);
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let bytes = xcap::poc_group_document(&uri, &display, &refs);
    let path = alice_path(w, xcap::POC_GROUPS_AUID, GROUP_DOC, None)?;
    let alice = w.gm.user("alice");
    let hs = [("Content-Type", xcap::POC_GROUPS_TYPE)];
    call(w, Source::Proxy, "PUT", &path, Some(&alice), &hs, &bytes).await?;
    let mut markers = members;
    markers.push(display);
    w.gm.pending = Some(Stored {
        auid: xcap::POC_GROUPS_AUID,
        doc: GROUP_DOC,
        bytes,
        etag: String::new(),
        markers,
    });
    Ok(())
}

#[then("alice reads the group document element for element as written, as application/vnd.oma.poc.groups+xml")]
async fn group_back(w: &mut LiaisonWorld) -> StepResult {
    read_back(w, "the PoC group document as written").await?;
    let expected = format!("Content-Type {}", xcap::POC_GROUPS_TYPE);
    let m = response(w, &expected)?;
    if m.header("Content-Type").map(xcap::media_type).as_deref() != Some(xcap::POC_GROUPS_TYPE) {
        return Err(w.fail(expected, shown(&m)));
    }
    Ok(())
}

// ------------------------------------------------------------ xcap-diff (GM-7)

#[given("alice has subscribed through the core to changes of her documents (xcap-diff)")]
async fn alice_subscribes_diff(w: &mut LiaisonWorld) -> StepResult {
    use crate::roles::presence::{out_of_dialog, Extra, Listener};
    use std::sync::Arc;
    let ut = ut(w)?;
    let alice = w.gm.user("alice");
    let xui = ut.xui(&alice);
    let core = w
        .ctx
        .ims
        .clone()
        .ok_or_else(|| w.fail("the harness IMS core (profile section ims)", "none"))?;
    let xdms = crate::steps::sip::sut_addr(w, "xdms")?;
    let ep = w.endpoint().await?;
    let ua = Arc::new(crate::roles::ua::Ua::new(ep, xui.clone(), w.timers));
    let t = crate::net::Transport::Udp;
    // The core knows alice (the NOTIFYs for her come here) and her name
    // is the scenario's (what the core carries for her goes to its pcap).
    core.core.know(&ua.aor, &[ua.contact(t)]);
    w.claim_key(&alice);
    let listener = Arc::new(Listener::start(ua.clone()));
    // The body lists the XCAP URI of the document watched (a resource
    // list of XCAP URIs, as the package's subscriptions carry them; from
    // secondary sources, RFC 5875 not read).
    let uri = format!(
        "http://{}{}",
        ut.server,
        ut.document(xcap::RESOURCE_LISTS_AUID, &alice, DOC, None)
    );
    let body = xcap::resource_lists_document(&[List {
        name: "xcap-diff".into(),
        display_name: None,
        entries: vec![Entry {
            uri,
            display_name: None,
        }],
    }]);
    let extra = Extra {
        route: vec![format!("<sip:{xdms};lr>")],
        headers: vec![
            ("P-Preferred-Identity", format!("<{xui}>")),
            ("Event", xcap::DIFF_EVENT.to_string()),
            ("Expires", "120".to_string()),
            ("Accept", xcap::DIFF_TYPE.to_string()),
        ],
    };
    let out = out_of_dialog(
        &ua,
        t,
        "SUBSCRIBE",
        &xui,
        &xui,
        &extra,
        Some((xcap::RESOURCE_LISTS_TYPE, &body)),
    );
    let r = ua
        .send(
            t,
            core.core.addr(),
            &out,
            w.deadline,
            std::time::Duration::ZERO,
        )
        .await;
    let ok = r
        .final_response()
        .and_then(crate::codec::sip::SipMessage::status)
        .is_some_and(|c| c == 200 || c == 202);
    if !ok {
        return Err(w.fail(
            "the xcap-diff SUBSCRIBE through the core, asserted as alice, answered 200 or 202 (RFC 6665 §4.2.1)",
            w.describe(Some(&r), None),
        ));
    }
    w.gm.diff = Some(DiffSub {
        listener,
        call_id: out.call_id,
        result: r,
    });
    Ok(())
}

/// A `sel` (or an XCAP URI) as a path below the XCAP root, decoded.
fn sel_path(sel: &str, root: &str) -> String {
    let s = sel.trim();
    let s = s.strip_prefix(root.trim_end_matches('/')).unwrap_or(s);
    let s = xcap::percent_decode(s).unwrap_or_else(|_| s.to_string());
    s.trim_matches('/').to_string()
}

#[then(
    "alice is sent through the core an xcap-diff NOTIFY naming her document with the entity tag the PUT returned"
)]
async fn diff_notified(w: &mut LiaisonWorld) -> StepResult {
    let Some(s) = w.gm.stored.clone() else {
        return Err(w.fail("a document stored by an earlier step", "none"));
    };
    let Some(sub) = w.gm.diff.as_ref() else {
        return Err(w.fail("an xcap-diff subscription made earlier", "none"));
    };
    let (listener, call_id) = (sub.listener.clone(), sub.call_id.clone());
    let core = w
        .ctx
        .ims
        .as_ref()
        .map(|h| h.core.addr())
        .ok_or_else(|| w.fail("the harness IMS core", "none"))?;
    let ut = ut(w)?;
    let path = alice_path(w, s.auid, s.doc, None)?;
    let want_sel = sel_path(&path, &ut.root);
    let want_tag = xcap::etag_value(&s.etag).to_string();
    let names = |m: &crate::codec::sip::SipMessage| {
        let event = crate::codec::presence::event_package(m.header("Event").unwrap_or_default());
        let ct = xcap::media_type(m.content_type().unwrap_or_default().as_ref());
        event == xcap::DIFF_EVENT
            && ct == xcap::DIFF_TYPE
            && xcap::XcapDiff::parse(m.body()).is_ok_and(|d| {
                let root = http_root_path(&d.xcap_root);
                d.documents.iter().any(|doc| {
                    (sel_path(&doc.sel, &d.xcap_root) == want_sel
                        || sel_path(&doc.sel, &root) == want_sel)
                        && doc.new_etag.as_deref().map(xcap::etag_value) == Some(want_tag.as_str())
                })
            })
    };
    let ok = |n: &[(crate::net::Incoming, crate::codec::sip::SipMessage)]| {
        n.iter().any(|(i, m)| i.from == core && names(m))
    };
    listener.wait_for(&call_id, w.deadline, ok).await;
    let got = listener.notifies(&call_id);
    if ok(&got) {
        return Ok(());
    }
    let seen = if got.is_empty() {
        "no NOTIFY of the subscription".to_string()
    } else {
        got.iter()
            .map(|(inc, _)| {
                format!(
                    "NOTIFY from {} — bytes: {}",
                    inc.from,
                    escape_bytes(&inc.bytes, 1500)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err(w.fail(
        format!(
            "a NOTIFY to alice from the core ({core}) with Event {}, Content-Type {} and a <document sel=\"{want_sel}\" new-etag=\"{want_tag}\"> (RFC 5875, RFC 5874; element names from secondary sources)",
            xcap::DIFF_EVENT,
            xcap::DIFF_TYPE
        ),
        seen,
    ))
}

/// The path of an `http://host/path` XCAP root.
fn http_root_path(root: &str) -> String {
    root.strip_prefix("http://")
        .or_else(|| root.strip_prefix("https://"))
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .unwrap_or_default()
}

// ------------------------------------------------------------ malformed URIs (GM-9)

/// An AUID no XDMS knows: the scenario's own, under a domain of its own.
fn unknown_auid(w: &LiaisonWorld) -> String {
    format!("org.liaison.unknown-{}", w.gm.tag)
}

/// A node selector cut short: its predicate's bracket never closes.
const UNREADABLE_NODE: &str = "resource-lists/list[@name=\"friends\"/entry";

#[when("alice puts her document under an AUID the XDMS does not know")]
async fn put_unknown_auid(w: &mut LiaisonWorld) -> StepResult {
    let auid = unknown_auid(w);
    let path = alice_path(w, &auid, DOC, None)?;
    let (doc, _) = lists_for(w, "alice", &["bob", "hank"]);
    let alice = w.gm.user("alice");
    let hs = [("Content-Type", xcap::RESOURCE_LISTS_TYPE)];
    call(w, Source::Proxy, "PUT", &path, Some(&alice), &hs, &doc).await
}

#[when("alice reads her document under that AUID")]
async fn get_unknown_auid(w: &mut LiaisonWorld) -> StepResult {
    let auid = unknown_auid(w);
    let path = alice_path(w, &auid, DOC, None)?;
    let alice = w.gm.user("alice");
    call(w, Source::Proxy, "GET", &path, Some(&alice), &[], b"").await
}

#[when("alice reads her document through a node selector that does not parse")]
async fn get_unreadable_node(w: &mut LiaisonWorld) -> StepResult {
    let path = alice_path(w, xcap::RESOURCE_LISTS_AUID, DOC, Some(UNREADABLE_NODE))?;
    let alice = w.gm.user("alice");
    call(w, Source::Proxy, "GET", &path, Some(&alice), &[], b"").await
}

#[when("alice puts an entry through a node selector that does not parse")]
async fn put_unreadable_node(w: &mut LiaisonWorld) -> StepResult {
    let e = Entry {
        uri: ut(w)?.xui(&w.gm.user("ivan")),
        display_name: None,
    };
    put_entry_at(w, &e, UNREADABLE_NODE).await
}
