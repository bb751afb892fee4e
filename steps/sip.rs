//! SIP helpers the steps of every area share: where the SUT is (its
//! address per role, the next hop through an IMS core), the harness's users
//! (a UA per name, registered with the SUT), and sending a MESSAGE through
//! the SUT and judging the final response.

use crate::codec::sip::{token, SipMessage};
use crate::net::Transport;
use crate::roles::ua::{Recipient, Ua};
use crate::steps::world::{describe_incoming, Failure, LiaisonWorld, StepResult};
use std::sync::Arc;
use std::time::Duration;

fn transport_of(w: &LiaisonWorld, name: &str) -> Result<Transport, Failure> {
    match name.to_ascii_lowercase().as_str() {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        "tls" => Ok(Transport::Tls),
        other => Err(w.fail("UDP, TCP or TLS in the step", format!("`{other}`"))),
    }
}

/// The SUT's SIP address for the role the scenario exercises.
pub(crate) fn sut_addr(w: &LiaisonWorld, role: &str) -> Result<std::net::SocketAddr, Failure> {
    w.ctx
        .sip_address(role)
        .ok_or_else(|| w.fail("a profile with a sip.address", "none"))
}

/// Where the harness sends a request meant for the SUT's `role`: the
/// harness IMS core when the profile routes everything through it
/// (`ims.route_all`) or the scenario asked for the core, else the SUT.
pub(crate) fn next_hop(w: &LiaisonWorld, role: &str) -> Result<std::net::SocketAddr, Failure> {
    match crate::steps::ims_alignment::core_for(w)? {
        Some(h) => Ok(h.core.addr()),
        None => sut_addr(w, role),
    }
}

/// The im-client SUT's address of record (profile `sip.aor`).
pub(crate) fn client_aor(w: &LiaisonWorld) -> Result<String, Failure> {
    w.ctx
        .profile
        .sip
        .as_ref()
        .and_then(|s| s.aor.clone())
        .ok_or_else(|| w.fail("a profile with sip.aor", "none"))
}

pub(crate) fn domain(w: &LiaisonWorld) -> String {
    w.ctx
        .profile
        .sip
        .as_ref()
        .and_then(|s| s.domain.clone())
        .unwrap_or_else(|| "liaison.test".into())
}

/// The transport for im-server scenarios: UDP when the SUT takes it.
pub(crate) fn server_transport(w: &LiaisonWorld) -> Transport {
    if w.ctx.profile.has_transport(Transport::Udp) {
        Transport::Udp
    } else {
        Transport::Tcp
    }
}

/// A unique body that a byte-for-byte comparison can trip on: two lines
/// (CRLF inside the body), non-ASCII UTF-8, a backslash and quotes.
pub(crate) fn body_for_test() -> Vec<u8> {
    body_with_key().0
}

/// The same, and the fresh token in it (a key the scenario can claim).
pub(crate) fn body_with_key() -> (Vec<u8>, String) {
    let key = token();
    let body = format!("liaison pager-mode test {key}\r\nline 2: caf\u{e9} \u{2713} \\ 'q' \"dq\"");
    (body.into_bytes(), key)
}

pub(crate) async fn new_ua(w: &mut LiaisonWorld, name: &str) -> Result<Arc<Ua>, Failure> {
    let d = domain(w);
    new_ua_in(w, name, &d).await
}

/// A UA on its own harness endpoint for user `name` of `domain` (a fresh
/// `sip:NAME-XXXXXXXX@DOMAIN`).
pub(crate) async fn new_ua_in(
    w: &mut LiaisonWorld,
    name: &str,
    domain: &str,
) -> Result<Arc<Ua>, Failure> {
    let ep = w.endpoint().await?;
    let aor = format!("sip:{name}-{}@{domain}", &token()[..8.min(token().len())]);
    let ua = Arc::new(Ua::new(ep, aor, w.timers));
    // The harness IMS core knows its users: a request for this one (a SUT's
    // answer or IMDN through the core) comes here, not to the SUT.
    if let Some(h) = w.ctx.ims.as_ref() {
        h.core.know(
            &ua.aor,
            &[ua.contact(Transport::Udp), ua.contact(Transport::Tcp)],
        );
    }
    // The user's fresh name is the scenario's own: what the core (or the
    // MMSC the SUT defers to) carries for it goes to the scenario's pcap.
    if let Some(user) = crate::codec::sip::uri_user_host(&ua.aor).0 {
        w.claim_key(&user);
    }
    Ok(ua)
}

pub(crate) async fn send_to_client(
    w: &mut LiaisonWorld,
    content_type: &str,
    transport: &str,
) -> StepResult {
    let t = transport_of(w, transport)?;
    let aor = client_aor(w)?;
    let ua = match w.originators.get("harness") {
        Some(u) => u.clone(),
        None => {
            let u = new_ua(w, "alice").await?;
            w.originators.insert("harness".into(), u.clone());
            u
        }
    };
    // Over TLS: straight to the client's sip.tls (RFC 3261 §26.2), on a
    // connection the harness opens, checking its certificate.
    let dst = match t {
        Transport::Tls => open_tls_to(w, &ua, "im-client").await?,
        _ => next_hop(w, "im-client")?,
    };
    let body = body_for_test();
    let out = ua.message(t, &aor, &aor, content_type, &body);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.sent = Some((t, out, body));
    w.sent_by = Some("harness".into());
    w.sent_type = Some(content_type.to_string());
    w.result = Some(r);
    Ok(())
}

pub(crate) fn final_of<'a>(w: &'a LiaisonWorld, who: &str) -> Result<&'a SipMessage, Failure> {
    let r = w.result.as_ref();
    let ep = w
        .sent_by
        .as_ref()
        .and_then(|n| w.originators.get(n))
        .map(|u| u.ep.as_ref());
    r.and_then(|r| r.final_response()).ok_or_else(|| {
        w.fail(
            format!("a final response to {who}'s MESSAGE"),
            w.describe(r, ep),
        )
    })
}

pub(crate) fn check_final(w: &LiaisonWorld, who: &str, code: u16) -> StepResult {
    let f = final_of(w, who)?;
    if f.status() == Some(code) {
        Ok(())
    } else {
        let inc = w.result.as_ref().and_then(|r| r.final_incoming());
        Err(w.fail(
            format!("{code} as the final response to {who}'s MESSAGE"),
            inc.map(describe_incoming).unwrap_or_default(),
        ))
    }
}

pub(crate) async fn register(w: &mut LiaisonWorld, name: &str) -> StepResult {
    let ua = match w.recipients.get(name) {
        Some(r) => r.ua.clone(),
        None => new_ua(w, name).await?,
    };
    let t = server_transport(w);
    let dst = next_hop(w, "im-server")?;
    // Start answering before registering: a store may deliver at once.
    if !w.recipients.contains_key(name) {
        w.recipients
            .insert(name.to_string(), Recipient::start(ua.clone()));
    }
    // The Request-URI names the domain of the AoR (RFC 3261 §10.2).
    let aor_domain = ua
        .aor
        .rsplit_once('@')
        .map(|(_, d)| d.split(';').next().unwrap_or(d).to_string())
        .unwrap_or_else(|| domain(w));
    let out = ua.register(t, &format!("sip:{aor_domain}"), 300);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    match r.final_response().and_then(|m| m.status()) {
        Some(200..=299) => Ok(()),
        _ => Err(w.fail(
            format!("2xx to the REGISTER of {} (RFC 3261 §10.3)", ua.aor),
            w.describe(Some(&r), Some(&ua.ep)),
        )),
    }
}

pub(crate) fn recipient<'a>(w: &'a LiaisonWorld, name: &str) -> Result<&'a Recipient, Failure> {
    w.recipients.get(name).ok_or_else(|| {
        w.fail(
            format!("a recipient `{name}` set up earlier in the scenario"),
            "none",
        )
    })
}

/// `from` sends a MESSAGE to user `to` through the im-server SUT (with extra
/// header fields, e.g. Expires). An unregistered `to` gets an AoR nobody has
/// registered in this run, kept for the rest of the scenario.
pub(crate) async fn send_through_server(
    w: &mut LiaisonWorld,
    from: &str,
    content_type: &str,
    to: &str,
    extra: &[(&str, &str)],
) -> StepResult {
    send_through_server_over(w, from, content_type, to, extra, Over::Default).await
}

/// How an originator reaches the im-server SUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// The default transport and hop (the core, when it serves the scenario).
    Default,
    /// A WebSocket connection to `sip.ws` (RFC 7118).
    Ws,
    /// A TLS connection to `sip.tls` (RFC 3261 §26.2), the Request-URI
    /// `sips:` or not.
    Tls { sips: bool },
}

/// Where the SUT takes SIP over TLS for `role` (profile `sip.tls`).
pub(crate) fn tls_target_of(w: &LiaisonWorld, role: &str) -> Result<std::net::SocketAddr, Failure> {
    w.ctx.tls_address(role).ok_or_else(|| {
        w.fail(
            "a profile whose sip.tls names where the SUT takes SIP over TLS (ip:port)",
            "none",
        )
    })
}

/// The run's TLS (lab CA, harness certificate, how the SUT's is checked).
pub(crate) fn run_tls(
    w: &LiaisonWorld,
) -> Result<std::sync::Arc<crate::harness::tls::RunTls>, Failure> {
    w.ctx.tls.clone().ok_or_else(|| {
        w.fail(
            "the run's TLS setup (a profile whose sip.transport lists tls)",
            "none",
        )
    })
}

/// Opens `ua`'s TLS connection to the SUT's `sip.tls`, unless it has one
/// (its requests over [`Transport::Tls`] then go over it). A handshake that
/// fails fails the step with what the SUT did (an alert, a certificate the
/// harness refused, plaintext, silence).
pub(crate) async fn open_tls(w: &LiaisonWorld, ua: &Ua) -> Result<std::net::SocketAddr, Failure> {
    open_tls_to(w, ua, "im-server").await
}

/// [`open_tls`] to the SUT's `sip.tls` for `role`.
pub(crate) async fn open_tls_to(
    w: &LiaisonWorld,
    ua: &Ua,
    role: &str,
) -> Result<std::net::SocketAddr, Failure> {
    let dst = tls_target_of(w, role)?;
    if ua.ep.has_connection(Transport::Tls, dst) {
        return Ok(dst);
    }
    let tls = run_tls(w)?;
    let name = tls.server_name_for(dst);
    match ua.ep.connect_tls(dst, &name, &tls.client).await {
        Ok(_) => Ok(dst),
        Err(e) => Err(w.fail(
            format!("the SUT to complete a TLS handshake at {dst} (sip.tls) for `{name}`, its certificate valid as {} (RFC 3261 §26.3.1, RFC 5922 §7)", tls.check),
            e,
        )),
    }
}

/// The `sips:` form of a `sip:` URI (RFC 3261 §19.1; RFC 5630 §5.2: one
/// user whichever scheme).
pub(crate) fn sips_of(uri: &str) -> String {
    match uri.strip_prefix("sip:") {
        Some(rest) => format!("sips:{rest}"),
        None => uri.to_string(),
    }
}

/// Where the im-server SUT takes SIP over WebSocket (profile `sip.ws`):
/// its address, the request target and the URL as the profile wrote it.
pub(crate) fn ws_target(
    w: &LiaisonWorld,
) -> Result<(std::net::SocketAddr, String, String), Failure> {
    let sip = w.ctx.profile.sip.as_ref();
    match sip.and_then(|s| Some((s.ws_parts()?, s.ws.clone()?))) {
        Some(((a, path), url)) => Ok((a, path, url)),
        None => Err(w.fail(
            "a profile whose sip.ws names where the SUT takes SIP over WebSocket (ws://IP:PORT/PATH)",
            "none",
        )),
    }
}

/// Opens `ua`'s WebSocket connection to the SUT's `sip.ws` (RFC 7118: the
/// upgrade offers and requires the subprotocol `sip`); its requests over
/// [`Transport::Ws`] then go over it. A refused, unanswered or wrong
/// upgrade fails the step with what came (the status and bytes).
pub(crate) async fn open_ws(w: &LiaisonWorld, ua: &Ua) -> Result<std::net::SocketAddr, Failure> {
    let (dst, path, url) = ws_target(w)?;
    // wss://: TLS first, the SUT's certificate checked as the profile says.
    let tls = match crate::codec::ws::url_is_secure(&url) {
        true => Some(run_tls(w)?),
        false => None,
    };
    let name = tls.as_ref().map(|t| t.server_name_for(dst));
    let secure = tls
        .as_ref()
        .zip(name.as_deref())
        .map(|(t, n)| (&t.client, n));
    // Host: the URI's host and port (RFC 6455 §4.1), as SocketAddr writes them.
    match ua.ep.connect_ws(dst, &dst.to_string(), &path, secure).await {
        Ok(()) => Ok(dst),
        Err(e) => Err(w.fail(
            format!("the SUT to take a WebSocket connection at {url}: its upgrade answered 101 Switching Protocols with Sec-WebSocket-Protocol: sip (RFC 7118 §4.1, RFC 6455 §4.2.2)"),
            e,
        )),
    }
}

/// [`send_through_server`], `over` the transport and hop it names: a
/// WebSocket connection `from` opens to the SUT's `sip.ws`, a TLS one to
/// its `sip.tls` (with a `sips:` Request-URI or not), or the default
/// transport and hop.
pub(crate) async fn send_through_server_over(
    w: &mut LiaisonWorld,
    from: &str,
    content_type: &str,
    to: &str,
    extra: &[(&str, &str)],
    over: Over,
) -> StepResult {
    let Some(ua) = w.originators.get(from).cloned() else {
        return Err(w.fail(format!("an originator `{from}` set up earlier"), "none"));
    };
    let offline = w
        .originators
        .get(&format!("aor:{to}"))
        .map(|u| u.aor.clone());
    let to_aor = match (w.recipients.get(to), offline) {
        (Some(r), _) => r.ua.aor.clone(),
        (None, Some(aor)) => aor,
        // Not registered: a user name nobody has registered in this run.
        (None, None) => format!("sip:{to}-{}@{}", &token()[..8], domain(w)),
    };
    if !w.recipients.contains_key(to) && !w.originators.contains_key(&format!("aor:{to}")) {
        if let Some(user) = crate::codec::sip::uri_user_host(&to_aor).0 {
            w.claim_key(&user);
        }
        w.originators.insert(
            format!("aor:{to}"),
            Arc::new(Ua::new(ua.ep.clone(), to_aor.clone(), w.timers)),
        );
    }
    let content_type = content_type.to_string();
    let from = from.to_string();
    let (t, dst) = match over {
        Over::Ws => {
            let dst = open_ws(w, &ua).await?;
            let secure = w.ctx.profile.sip.as_ref().is_some_and(|s| s.ws_secure());
            let t = if secure {
                Transport::Wss
            } else {
                Transport::Ws
            };
            (t, dst)
        }
        Over::Tls { .. } => (Transport::Tls, open_tls(w, &ua).await?),
        Over::Default => (server_transport(w), next_hop(w, "im-server")?),
    };
    let to_aor = match over {
        Over::Tls { sips: true } => sips_of(&to_aor),
        _ => to_aor,
    };
    let body = body_for_test();
    let out = ua.message_with(t, &to_aor, &to_aor, &content_type, &body, extra);
    let r = ua.send(t, dst, &out, w.deadline, Duration::ZERO).await;
    w.sent = Some((t, out, body));
    w.sent_by = Some(from);
    w.sent_type = Some(content_type);
    w.result = Some(r);
    Ok(())
}
