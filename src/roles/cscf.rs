//! The harness IMS core: a P-CSCF and an S-CSCF in one element at one SIP
//! address (UDP and TCP), a state machine over [`SipEndpoint`].
//!
//! - **Registrar (S-CSCF)** for clients that register with the core itself
//!   (a SUT client): it binds each Contact with its feature tags and answers
//!   200 with the Path of its P-CSCF (RFC 3327 §5.3), a Service-Route
//!   (RFC 3608 §5), P-Associated-URI (RFC 3455 §4.1) and the granted expiry.
//! - **P-CSCF in front of a registrar SUT**: a REGISTER for a domain the core
//!   routes to a SUT gets the core's Path (RFC 3327 §5.2) and goes on; one
//!   whose UA did not say `Supported: path` is refused with 421 and
//!   `Require: path` (§5.2), never sent on with a Path the UA cannot know of.
//! - **Proxy** (RFC 3261 §16): loose routing (every leading Route naming
//!   the core is removed at once, §16.4, so a Route set naming it twice does
//!   not send the request to itself), Record-Route on dialog-creating requests, Via with
//!   `received`/`rport` kept so that responses go back the way the request
//!   came (§16.7, §18.2.2). Branches are derived from the incoming branch,
//!   so a retransmission reaches the next hop as the same transaction.
//!   Targets: a Route left, else a contact registered with the core (chosen
//!   by Accept-Contact, RFC 3841, where the request has one), else a user
//!   the core knows (a harness user, [`Cscf::know`]; not for a registrar
//!   SUT's domain, whose home is the SUT), else the Request-URI's
//!   host:port, else the SUT serving its domain (404 when that would send
//!   the request back to the element it came from).
//! - **Asserted identity at the edge** (RFC 3325 §5, 3GPP TS 24.229
//!   §5.2.6.3): a request from a trusted element (its top Via names an
//!   address in the trust domain: the SUT servers) keeps its
//!   P-Asserted-Identity; any other request loses P-Asserted-Identity and
//!   P-Preferred-Identity and gets a P-Asserted-Identity: the registered
//!   identity of a client registered with the core (or the registered one
//!   its P-Preferred-Identity names), else the P-Preferred-Identity or From
//!   of a harness user.
//!
//! Everything that arrives is logged raw with what the core did with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::ims::{
    explicitly_matches, features, global_number, lr_uri, requires_explicit, uris, RegisterOk,
};
use crate::codec::sip::{header_param, response_to, token, uri_of, uri_user_host, SipMessage};
use crate::net::{Incoming, SipEndpoint, Transport};

/// How long the core waits for responses to a request it forwarded.
const RESPONSE_WAIT: Duration = Duration::from_secs(40);
/// Hops the core's log keeps, at most (the first ones; a run's scenarios
/// make a few thousand): a SUT that floods the core cannot grow it.
pub const MAX_LOG: usize = 16_384;
/// Forwarded requests whose responses the core relays at once, at most:
/// past it a request still goes on, and its responses, matching nothing,
/// are kept (bounded) with the endpoint's unmatched messages.
const MAX_RELAYS: usize = 4096;

/// A contact registered with the core.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The AoR (To of the REGISTER), as sent.
    pub aor: String,
    /// The Contact value as registered (URI and parameters).
    pub contact: String,
    /// The contact URI.
    pub uri: String,
    pub addr: SocketAddr,
    pub transport: Transport,
    pub until: Instant,
}

/// What the core did with something that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forwarded to this address (the bytes sent).
    Forwarded {
        to: SocketAddr,
        transport: Transport,
        bytes: Vec<u8>,
    },
    /// Answered by the core itself with this status.
    Answered(u16),
    /// Nothing (an ACK with nowhere to go, a stray response, garbage).
    Dropped(String),
}

/// One arrival at the core.
#[derive(Debug, Clone)]
pub struct Hop {
    pub incoming: Incoming,
    /// Whether the sender was inside the trust domain (by its top Via).
    pub trusted: bool,
    pub action: Action,
}

/// Most AoRs the registrar keeps bindings for, and most contacts bound to
/// one AoR. Expired bindings are dropped first; a REGISTER that would still
/// go past either is refused with 503 (RFC 3261 §21.5.4: the server cannot
/// take it now), so no sequence of REGISTERs grows the table without bound.
/// A run registers a handful.
pub const MAX_AORS: usize = 1024;
pub const MAX_CONTACTS_PER_AOR: usize = 32;

/// The core's routing and registration state and its request handling,
/// sans IO: a request in, a [`Plan`] out (what to send where), the
/// registrations updated. [`Cscf`] runs it over a [`SipEndpoint`].
#[derive(Default)]
pub struct Core {
    /// Addresses (Via sent-by) of the elements inside the trust domain.
    trusted: Vec<SocketAddr>,
    /// Domain or host → the SUT serving it.
    routes: HashMap<String, SocketAddr>,
    /// Domain → the registrar SUT its users register with (through the core).
    registrars: HashMap<String, SocketAddr>,
    /// (method, AoR key) → the application server a served user's requests
    /// of that method go to (the S-CSCF's initial filter criteria: a
    /// presence client's PUBLISH for its own AoR to the presence server).
    services: HashMap<(String, String), SocketAddr>,
    /// Clients registered with the core, by AoR key.
    bindings: HashMap<String, Vec<Binding>>,
    /// Users the core knows without a registration (the harness's own
    /// users), by AoR key: their contact URIs, address and transport.
    known: HashMap<String, Vec<(String, SocketAddr, Transport)>>,
    expires: u32,
    /// The core's other addresses (its TLS and WebSocket edges) by
    /// transport: a Route naming one of them names the core, and its Via
    /// over that transport names it (RFC 3261 §18.2.2: a response that
    /// cannot use the connection goes to the Via's sent-by).
    edges: Vec<(Transport, SocketAddr)>,
}

/// What the core does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send this response (status `code`) back where the request came from.
    Answer { code: u16, bytes: Vec<u8> },
    /// Send the request on; relay the responses to `relay` (the branch of
    /// the core's Via) back by their Via (None for an ACK).
    Forward {
        to: SocketAddr,
        transport: Transport,
        bytes: Vec<u8>,
        relay: Option<String>,
    },
    /// Nothing to send.
    Drop(String),
}

struct State {
    core: Core,
    log: Vec<Hop>,
    /// Hops left out of `log` once it held [`MAX_LOG`].
    log_dropped: u64,
    /// The branches whose responses a relay is waiting for: a request that
    /// arrives with one of them is a retransmission of a forwarded request.
    relaying: std::collections::HashSet<String>,
}

impl State {
    /// Logs `hop` while the log holds fewer than [`MAX_LOG`].
    fn keep(&mut self, hop: Hop) {
        if self.log.len() < MAX_LOG {
            self.log.push(hop);
        } else {
            self.log_dropped += 1;
        }
    }
}

/// The harness IMS core.
pub struct Cscf {
    pub ep: Arc<SipEndpoint>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Cscf {
    fn drop(&mut self) {
        self.task.abort();
    }
}

use crate::net::lock;

/// The key of an AoR: user part and host (with its port), lower-cased host;
/// a telephone number (tel: or user=phone) is keyed by the number alone.
pub fn aor_key(uri: &str) -> String {
    if let Some(n) = global_number(uri) {
        return n;
    }
    let (user, host) = uri_user_host(uri);
    let rest = uri.split_once('@').map(|x| x.1).unwrap_or("");
    let port = rest
        .split([';', '>', '?'])
        .next()
        .and_then(|hp| hp.rsplit_once(':'))
        .map(|(_, p)| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{}@{}{port}",
        user.unwrap_or_default(),
        host.unwrap_or_default().to_ascii_lowercase()
    )
}

/// host:port of a SIP URI as a socket address, and whether it asks for TCP.
fn uri_addr(uri: &str) -> Option<(SocketAddr, bool)> {
    let rest = uri.split_once(':')?.1;
    let hostport = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let (hp, params) = hostport.split_once(';').unwrap_or((hostport, ""));
    let tcp = params.to_ascii_lowercase().contains("transport=tcp");
    Some((hp.trim_end_matches('>').parse().ok()?, tcp))
}
/// Where a response goes back to, by a Via value (RFC 3261 §18.2.2, RFC 3581
/// §4), read with the codec's Via view so that whitespace around the slashes
/// and folding are fine: the `received` address if present, else the
/// sent-by host (an IP address: the harness resolves no names); the `rport`
/// value if present, else the sent-by port, else 5060. None for a malformed
/// Via, a transport the harness does not speak, or an address off loopback
/// (the harness sends nowhere else).
fn via_target(via: &str) -> Option<(SocketAddr, Transport)> {
    let v = crate::codec::sip::parse_via(via).ok()?;
    let transport = if v.transport.eq_ignore_ascii_case("UDP") {
        Transport::Udp
    } else if v.transport.eq_ignore_ascii_case("TCP") {
        Transport::Tcp
    } else {
        return None;
    };
    let received = match v.param("received") {
        Some(Some(r)) => Some(
            r.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?,
        ),
        _ => None,
    };
    let ip: std::net::IpAddr = received.or_else(|| v.host_ip())?;
    let port = match v.param("rport") {
        Some(Some(p)) => p.parse().ok()?,
        _ => v.port_or_default(),
    };
    crate::net::permitted(ip).then_some((SocketAddr::new(ip, port), transport))
}

/// A message's header fields as (name, value) pairs, to edit and reassemble.
fn fields(m: &SipMessage) -> Vec<(String, String)> {
    m.headers()
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

fn is(name: &str, long: &str, short: Option<&str>) -> bool {
    name.eq_ignore_ascii_case(long) || short.is_some_and(|s| name.eq_ignore_ascii_case(s))
}

fn assemble(start: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

impl Cscf {
    /// Starts the core on `ep`; `expires` is the registration expiry it grants.
    pub fn start(ep: Arc<SipEndpoint>, expires: u32) -> Cscf {
        let state: Arc<Mutex<State>> = Arc::new(Mutex::new(State {
            core: Core::new(expires),
            log: Vec::new(),
            log_dropped: 0,
            relaying: Default::default(),
        }));
        let notify = Arc::new(Notify::new());
        let task = {
            let (ep, state, notify) = (ep.clone(), state.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    let hop = request(&ep, &state, &notify, inc).await;
                    lock(&state).keep(hop);
                    notify.notify_waiters();
                }
            })
        };
        Cscf {
            ep,
            state,
            notify,
            task,
        }
    }

    /// The core's address (UDP and TCP share it when bound with `bind_at`).
    pub fn addr(&self) -> SocketAddr {
        self.ep.udp_addr()
    }

    /// Takes SIP over WebSocket at `at` as well (RFC 7118): the edge a
    /// WebSocket client registers through; requests for it go back over
    /// the connection it registered from (the flow).
    pub async fn listen_ws(&self, at: SocketAddr) -> std::io::Result<SocketAddr> {
        let a = self.ep.listen_ws(at).await?;
        lock(&self.state).core.edges.push((Transport::Ws, a));
        Ok(a)
    }

    /// Takes SIP over TLS at `at` as well (RFC 3261 §26.2), presenting
    /// `server`'s certificate: the edge a client registers through over
    /// TLS; requests for it go back over that connection.
    pub async fn listen_tls(
        &self,
        at: SocketAddr,
        server: crate::net::tls::TlsServer,
    ) -> std::io::Result<SocketAddr> {
        let a = self.ep.listen_tls(at, server).await?;
        lock(&self.state).core.edges.push((Transport::Tls, a));
        Ok(a)
    }

    /// The same over TLS (`wss:`), presenting `server`'s certificate.
    pub async fn listen_wss(
        &self,
        at: SocketAddr,
        server: crate::net::tls::TlsServer,
    ) -> std::io::Result<SocketAddr> {
        let a = self.ep.listen_wss(at, server).await?;
        lock(&self.state).core.edges.push((Transport::Wss, a));
        Ok(a)
    }

    /// An element inside the trust domain, known by its Via sent-by.
    pub fn trust(&self, via_sent_by: SocketAddr) {
        lock(&self.state).core.trust(via_sent_by);
    }

    /// Requests for `domain_or_host` (a domain, or host:port) go to `to`.
    pub fn route(&self, domain_or_host: &str, to: SocketAddr) {
        lock(&self.state).core.route(domain_or_host, to);
    }

    /// A served user's requests of `method` for its own AoR go to the
    /// application server at `to` ([`Core::serve`]).
    pub fn serve(&self, method: &str, aor: &str, to: SocketAddr) {
        lock(&self.state).core.serve(method, aor, to);
    }

    /// Users of `domain` register with the registrar SUT at `to`: the core
    /// is their P-CSCF (adds its Path) and the SUT their registrar.
    pub fn registrar(&self, domain: &str, to: SocketAddr) {
        lock(&self.state).core.registrar(domain, to);
    }

    /// The harness sockets at `addrs` are gone (their scenario ended): the
    /// core forgets the users known and registered at them, so a socket
    /// that gets one of those ports later is not taken for them.
    pub fn forget(&self, addrs: &[SocketAddr]) {
        lock(&self.state).core.forget(addrs);
    }

    /// A user the core knows without a registration (a harness user): a
    /// request for `aor` goes to one of `contacts` (the one for the
    /// transport the request came over, else the first), ahead of any
    /// domain route, so that a SUT's request to another user of its own
    /// domain reaches that user and does not come back to the SUT.
    pub fn know(&self, aor: &str, contacts: &[String]) {
        lock(&self.state).core.know(aor, contacts);
    }

    /// The live bindings of an AoR registered with the core.
    pub fn bindings(&self, aor: &str) -> Vec<Binding> {
        lock(&self.state).core.bindings(aor, Instant::now())
    }

    pub fn log(&self) -> Vec<Hop> {
        lock(&self.state).log.clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Hop]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&lock(&self.state).log) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}

/// Handles one request; returns what to log.
async fn request(
    ep: &Arc<SipEndpoint>,
    state: &Arc<Mutex<State>>,
    notify: &Arc<Notify>,
    inc: Incoming,
) -> Hop {
    let me = ep.udp_addr();
    let (trusted, plan) = lock(state).core.handle(me, &inc, Instant::now());
    let action = match plan {
        Plan::Answer { code, bytes } => {
            let _ = ep.send(inc.transport, inc.from, &bytes).await;
            Action::Answered(code)
        }
        Plan::Forward {
            to,
            transport,
            bytes,
            relay,
        } => {
            // A retransmission (its branch already relayed) goes on over
            // UDP, where the next hop may have lost the first copy, to the
            // relay already waiting for its responses; over a stream it is
            // absorbed: a client transaction over a reliable transport
            // sends its request once (RFC 3261 §17.1.2.2), and a next hop
            // whose transaction ended with its response (Timer J is zero
            // there, §17.2.2) would take a second copy for a new request.
            let (again, relay) = {
                let mut st = lock(state);
                let again = relay.as_ref().is_some_and(|b| st.relaying.contains(b));
                // At MAX_RELAYS the request goes on unrelayed.
                let relay = relay.filter(|_| !again && st.relaying.len() < MAX_RELAYS);
                if let Some(b) = &relay {
                    st.relaying.insert(b.clone());
                }
                (again, relay)
            };
            if again && transport.is_stream() {
                Action::Dropped(format!(
                    "a retransmission of a request already forwarded over {transport:?}: absorbed (RFC 3261 §17.1.2.2)"
                ))
            } else {
                if let Some(branch) = relay {
                    relay_responses(ep.clone(), state.clone(), notify.clone(), branch);
                }
                let _ = ep.send(transport, to, &bytes).await;
                Action::Forwarded {
                    to,
                    transport,
                    bytes,
                }
            }
        }
        Plan::Drop(why) => Action::Dropped(why),
    };
    hop(inc, trusted, action)
}

impl Core {
    /// A core granting registrations for `expires` seconds.
    pub fn new(expires: u32) -> Core {
        Core {
            expires,
            ..Default::default()
        }
    }

    /// An element inside the trust domain, known by its Via sent-by.
    pub fn trust(&mut self, via_sent_by: SocketAddr) {
        if !self.trusted.contains(&via_sent_by) {
            self.trusted.push(via_sent_by);
        }
    }

    /// Requests for `domain_or_host` (a domain, or host:port) go to `to`.
    pub fn route(&mut self, domain_or_host: &str, to: SocketAddr) {
        self.routes.insert(domain_or_host.to_ascii_lowercase(), to);
    }

    /// Requests of `method` whose Request-URI is `aor` go to `to`, before
    /// any registration or domain route.
    pub fn serve(&mut self, method: &str, aor: &str, to: SocketAddr) {
        self.services
            .insert((method.to_ascii_uppercase(), aor_key(aor)), to);
    }

    /// Users of `domain` register with the registrar SUT at `to`.
    pub fn registrar(&mut self, domain: &str, to: SocketAddr) {
        self.registrars.insert(domain.to_ascii_lowercase(), to);
        self.routes.insert(domain.to_ascii_lowercase(), to);
    }

    /// See [`Cscf::forget`].
    pub fn forget(&mut self, addrs: &[SocketAddr]) {
        self.bindings.retain(|_, v| {
            v.retain(|b| !addrs.contains(&b.addr));
            !v.is_empty()
        });
        self.known.retain(|_, v| {
            v.retain(|(_, a, _)| !addrs.contains(a));
            !v.is_empty()
        });
    }

    /// A user the core knows without a registration (see [`Cscf::know`]).
    pub fn know(&mut self, aor: &str, contacts: &[String]) {
        let list: Vec<(String, SocketAddr, Transport)> = contacts
            .iter()
            .filter_map(|c| {
                let uri = uri_of(c).unwrap_or_else(|| c.clone());
                let (addr, tcp) = uri_addr(&uri)?;
                let t = if tcp { Transport::Tcp } else { Transport::Udp };
                Some((uri, addr, t))
            })
            .collect();
        if !list.is_empty() {
            self.known.insert(aor_key(aor), list);
        }
    }

    /// The bindings of an AoR registered with the core, live at `now`.
    pub fn bindings(&self, aor: &str, now: Instant) -> Vec<Binding> {
        self.bindings
            .get(&aor_key(aor))
            .map(|v| v.iter().filter(|b| b.until > now).cloned().collect())
            .unwrap_or_default()
    }

    /// How many AoRs and bindings the registrar keeps (expired ones
    /// included until the next REGISTER drops them).
    pub fn size(&self) -> (usize, usize) {
        (
            self.bindings.len(),
            self.bindings.values().map(Vec::len).sum(),
        )
    }

    /// What to do with request `inc` arriving at the core at `me`: whether
    /// its sender is inside the trust domain, and the plan. A REGISTER for
    /// one of the core's own users updates the bindings.
    pub fn handle(&mut self, me: SocketAddr, inc: &Incoming, now: Instant) -> (bool, Plan) {
        let Ok(msg) = inc.msg.as_ref() else {
            return (false, Plan::Drop("unparseable".into()));
        };
        let top_via = msg.vias().into_iter().next().unwrap_or_default();
        let sent_by = top_via
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.split(';').next())
            .and_then(|s| s.parse::<SocketAddr>().ok());
        let trusted = sent_by.is_some_and(|a| self.trusted.contains(&a));
        (trusted, self.plan(me, inc, msg, sent_by, trusted, now))
    }

    fn plan(
        &mut self,
        me: SocketAddr,
        inc: &Incoming,
        msg: &SipMessage,
        sent_by: Option<SocketAddr>,
        trusted: bool,
        now: Instant,
    ) -> Plan {
        let method = msg.method().unwrap_or_default().to_string();
        let answer = |code: u16| Plan::Answer {
            code,
            bytes: response_to(msg, code, crate::codec::sip::reason_phrase(code))
                .to_tag(&token())
                .received_from(inc.from)
                .build(),
        };
        // Max-Forwards (§16.3).
        let mf: Option<u32> = msg
            .header("Max-Forwards")
            .and_then(|v| v.trim().parse().ok());
        if mf == Some(0) && method != "ACK" {
            return answer(483);
        }
        // Loose routing (RFC 3261 §16.4): a first Route naming the core is
        // removed. A Route set that names the core more than once in a row
        // (`<pcscf@core>, <orig@core>`: the P-CSCF's and the S-CSCF's entries)
        // would bring the request straight back to the core, so every leading
        // entry naming the core is consumed here, without a trip over the
        // network to itself.
        let routes = uris(msg, "Route");
        let edges = self.edges.clone();
        let ours =
            |u: &str| uri_addr(u).is_some_and(|(a, _)| a == me || edges.iter().any(|e| e.1 == a));
        let popped = routes.iter().take_while(|r| ours(r)).count();
        let rest_routes: Vec<String> = routes.iter().skip(popped).cloned().collect();
        let ruri = msg.request_uri().unwrap_or_default().to_string();
        let ruri_is_core = uri_addr(&ruri).is_some_and(|(a, _)| a == me);

        // REGISTER: registrar for the core's own users, P-CSCF for a SUT registrar.
        if method == "REGISTER" && rest_routes.is_empty() {
            let aor = msg.header("To").and_then(uri_of).unwrap_or_default();
            let host = uri_user_host(&aor)
                .1
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !self.registrars.contains_key(&host) {
                return self.register(me, inc, msg, now);
            }
        }
        if ruri_is_core && rest_routes.is_empty() {
            // Addressed to the core itself (OPTIONS, keep-alive queries).
            let code = if method == "OPTIONS" { 200 } else { 405 };
            if method == "ACK" {
                return Plan::Drop("ACK to the core".into());
            }
            return answer(code);
        }

        // A REGISTER on its way to a registrar SUT gets the core's Path, which
        // the core needs (requests for the user must come back through it). A
        // UA that did not say `Supported: path` is refused with 421 naming the
        // extension (RFC 3327 §5.2), rather than given a Path its registrar may
        // rightly refuse with 420 (§5.3).
        if method == "REGISTER" && !supports(msg, "path") {
            let bytes = response_to(msg, 421, "Extension Required")
                .to_tag(&token())
                .received_from(inc.from)
                .header("Require", "path")
                .build();
            return Plan::Answer { code: 421, bytes };
        }

        // Where it goes.
        let mut new_ruri = ruri.clone();
        let service = self
            .services
            .get(&(method.clone(), aor_key(&ruri)))
            .copied();
        let target: Option<(SocketAddr, Option<Transport>)> = if let Some(r) = rest_routes.first() {
            uri_addr(r).map(|(a, tcp)| (a, tcp.then_some(Transport::Tcp)))
        } else if let Some(a) = service {
            Some((a, Some(Transport::Udp)))
        } else {
            let accept = msg.header_values("Accept-Contact");
            let (bound, known, host_route, home) = {
                let st = &*self;
                let bound: Vec<Binding> = st
                    .bindings
                    .get(&aor_key(&ruri))
                    .map(|v| v.iter().filter(|b| b.until > now).cloned().collect())
                    .unwrap_or_default();
                // tel: URIs go to the home of the numbers (the route "tel").
                let host = if ruri.to_ascii_lowercase().starts_with("tel:") {
                    "tel".to_string()
                } else {
                    uri_user_host(&ruri)
                        .1
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                };
                // A domain whose users register with a registrar SUT has that
                // SUT as their home: the core is only their P-CSCF, and
                // requests for them go to the SUT even when the core knows them.
                let known = (!st.registrars.contains_key(&host))
                    .then(|| st.known.get(&aor_key(&ruri)))
                    .flatten()
                    .and_then(|k| {
                        k.iter()
                            .find(|(_, _, t)| *t == inc.transport)
                            .or_else(|| k.first())
                            .cloned()
                    });
                // The IM server is the home of its domain's users and of
                // telephone numbers: sending it its own request back is right.
                let home = host == "tel" || st.registrars.contains_key(&host);
                (bound, known, st.routes.get(&host).copied(), home)
            };
            if !bound.is_empty() {
                let chosen = bound.iter().rev().find(|b| {
                    accept.iter().all(|ac| {
                        !requires_explicit(ac) || explicitly_matches(ac, &features(&b.contact))
                    })
                });
                match chosen {
                    Some(b) => {
                        new_ruri = b.uri.clone();
                        Some((b.addr, Some(b.transport)))
                    }
                    None => return answer(480),
                }
            } else if let Some((uri, addr, t)) = known {
                // A user the core knows (a harness user): never the domain's
                // SUT, which would get its own request back.
                new_ruri = uri;
                Some((addr, Some(t)))
            } else if let Some((a, tcp)) = uri_addr(&ruri) {
                Some((a, tcp.then_some(Transport::Tcp)))
            } else {
                // A domain route that leads back to the element the request
                // came from (a client SUT writing to a user of its own domain
                // whom the core does not know) has no target: the core answers
                // 404 rather than hand the SUT its own request (RFC 3261 §16.5,
                // an empty target set).
                host_route
                    .filter(|a| home || !(*a == inc.from || Some(*a) == sent_by))
                    .map(|a| (a, None))
            }
        };
        let Some((to, t)) = target else {
            if method == "ACK" {
                return Plan::Drop("ACK with no route".into());
            }
            return answer(404);
        };
        let transport = t.unwrap_or(inc.transport);

        // Rebuild: Via (ours on top, received/rport on the sender's), Route,
        // Record-Route, Max-Forwards, asserted identity.
        let branch = format!(
            "z9hG4bKcscf{}",
            stable_branch(&msg.top_via_branch().unwrap_or_default(), &method)
        );
        let mut headers: Vec<(String, String)> = vec![(
            "Via".into(),
            format!(
                "SIP/2.0/{} {};branch={branch}",
                transport.via_name(),
                self.edges
                    .iter()
                    .find(|e| e.0 == transport)
                    .map_or(me, |e| e.1)
            ),
        )];
        let asserted = if trusted {
            None
        } else {
            Some(self.asserted_for(msg))
        };
        let mut first_via = true;
        let mut to_drop = popped;
        for (n, v) in fields(msg) {
            if is(&n, "Via", Some("v")) && first_via {
                first_via = false;
                let mut vs = crate::codec::sip::SipMessage::parse(
                    format!("SIP/2.0 200 OK\r\nVia: {v}\r\n\r\n").as_bytes(),
                )
                .map(|m| m.vias())
                .unwrap_or_default();
                if let Some(top) = vs.first_mut() {
                    let stripped: Vec<&str> = top
                        .split(';')
                        .filter(|p| {
                            let k = p.trim().to_ascii_lowercase();
                            !(k == "rport" || k.starts_with("rport=") || k.starts_with("received="))
                        })
                        .collect();
                    *top = format!(
                        "{};received={};rport={}",
                        stripped.join(";"),
                        inc.from.ip(),
                        inc.from.port()
                    );
                }
                headers.push((n, vs.join(", ")));
                continue;
            }
            if is(&n, "Route", None) {
                if to_drop > 0 {
                    // Drop our own entries, keep the rest of this field.
                    let all: Vec<String> = crate::codec::sip::SipMessage::parse(
                        format!("OPTIONS sip:x SIP/2.0\r\nRoute: {v}\r\n\r\n").as_bytes(),
                    )
                    .map(|m| m.header_values("Route"))
                    .unwrap_or_default();
                    let skip = to_drop.min(all.len());
                    to_drop -= skip;
                    let rest: Vec<String> = all.into_iter().skip(skip).collect();
                    if !rest.is_empty() {
                        headers.push((n, rest.join(", ")));
                    }
                    continue;
                }
                headers.push((n, v));
                continue;
            }
            if is(&n, "Max-Forwards", None) {
                headers.push((n, mf.unwrap_or(70).saturating_sub(1).to_string()));
                continue;
            }
            if asserted.is_some()
                && (is(&n, "P-Asserted-Identity", None) || is(&n, "P-Preferred-Identity", None))
            {
                continue;
            }
            if is(&n, "Content-Length", Some("l")) {
                continue;
            }
            headers.push((n, v));
        }
        if let Some(a) = asserted.as_ref().filter(|a| !a.is_empty()) {
            let list: Vec<&str> = a.iter().map(String::as_str).collect();
            headers.push((
                "P-Asserted-Identity".into(),
                crate::codec::ims::asserted_value(&list),
            ));
        }
        if matches!(method.as_str(), "INVITE" | "SUBSCRIBE") {
            headers.insert(
                1,
                (
                    "Record-Route".into(),
                    lr_uri("core", &me.to_string(), transport == Transport::Tcp),
                ),
            );
        }
        if method == "REGISTER" {
            // P-CSCF towards a registrar SUT (RFC 3327 §5.1).
            headers.insert(1, ("Path".into(), lr_uri("pcscf", &me.to_string(), false)));
        }
        headers.push(("Content-Length".into(), msg.body().len().to_string()));
        let start = format!("{method} {new_ruri} SIP/2.0");
        let bytes = assemble(&start, &headers, msg.body());
        Plan::Forward {
            to,
            transport,
            bytes,
            relay: (method != "ACK").then_some(branch),
        }
    }
}

impl Core {
    /// The identity the P-CSCF asserts for a request from outside the trust
    /// domain: a registered client's identity (the one its
    /// P-Preferred-Identity names, if registered), else the harness user's
    /// P-Preferred-Identity, else its From.
    fn asserted_for(&self, msg: &SipMessage) -> Vec<String> {
        let preferred = uris(msg, "P-Preferred-Identity");
        let from = msg.header("From").and_then(uri_of);
        let via = msg.vias().into_iter().next().unwrap_or_default();
        let sent_by = via
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.split(';').next())
            .and_then(|s| s.parse::<SocketAddr>().ok());
        let registered: Vec<String> = self
            .bindings
            .values()
            .flatten()
            .filter(|b| Some(b.addr) == sent_by)
            .map(|b| b.aor.clone())
            .collect();
        if !registered.is_empty() {
            return preferred
                .into_iter()
                .find(|p| registered.iter().any(|r| aor_key(r) == aor_key(p)))
                .or_else(|| registered.first().cloned())
                .into_iter()
                .collect();
        }
        if preferred.is_empty() {
            from.into_iter().collect()
        } else {
            // A SIP and a tel identity of one user (RFC 3325 §9.1).
            preferred.into_iter().take(2).collect()
        }
    }

    /// Registrar: binds the Contacts of a REGISTER for one of the core's
    /// users (RFC 3261 §10.3), within [`MAX_AORS`] and
    /// [`MAX_CONTACTS_PER_AOR`].
    fn register(&mut self, me: SocketAddr, inc: &Incoming, msg: &SipMessage, now: Instant) -> Plan {
        let aor = msg.header("To").and_then(uri_of).unwrap_or_default();
        let key = aor_key(&aor);
        let contacts = msg.header_values("Contact");
        let requested: Option<u32> = msg.header("Expires").and_then(|e| e.trim().parse().ok());
        let granted = self.expires;
        // Expired bindings, and AoRs left with none, go first.
        self.bindings.retain(|_, v| {
            v.retain(|b| b.until > now);
            !v.is_empty()
        });
        let mut list = self.bindings.get(&key).cloned().unwrap_or_default();
        let mut accepted = Vec::new();
        for c in &contacts {
            let Some(uri) = uri_of(c) else { continue };
            let exp = header_param(c, "expires")
                .and_then(|e| e.parse::<u32>().ok())
                .or(requested)
                .unwrap_or(granted);
            list.retain(|b| b.uri != uri);
            if exp == 0 {
                continue;
            }
            let (addr, tcp) = uri_addr(&uri).unwrap_or((inc.from, false));
            // A contact registered over WebSocket is reached over the
            // connection it came on (RFC 7118 §5: its host is often a
            // made-up `.invalid` name; the client takes no connections).
            // So is one registered over TLS: the harness opens no TLS
            // connections of its own to a client (it would need the
            // client's name to check), the flow is the way back (as
            // RFC 5626 §5 has it for clients behind NATs).
            let (addr, transport) = if inc.transport.is_ws() || inc.transport == Transport::Tls {
                (inc.from, inc.transport)
            } else if tcp || inc.transport == Transport::Tcp {
                (addr, Transport::Tcp)
            } else {
                (addr, Transport::Udp)
            };
            list.push(Binding {
                aor: aor.clone(),
                contact: c.clone(),
                uri,
                addr,
                transport,
                until: now + Duration::from_secs(u64::from(granted.min(exp.max(1)))),
            });
            // The Contact echoed without its own expires (we add ours).
            let without: Vec<&str> = c
                .split(';')
                .filter(|p| !p.trim().to_ascii_lowercase().starts_with("expires="))
                .collect();
            accepted.push(without.join(";"));
        }
        let new_aor = !self.bindings.contains_key(&key);
        if list.len() > MAX_CONTACTS_PER_AOR
            || (new_aor && !list.is_empty() && self.bindings.len() >= MAX_AORS)
        {
            let bytes = response_to(msg, 503, "Registrar Full")
                .to_tag(&token())
                .received_from(inc.from)
                .build();
            return Plan::Answer { code: 503, bytes };
        }
        if list.is_empty() {
            self.bindings.remove(&key);
        } else {
            self.bindings.insert(key, list);
        }
        let mut associated = vec![aor.clone()];
        if let Some(n) = global_number(&aor) {
            associated.push(format!("tel:{n}"));
        }
        let path = [lr_uri("pcscf", &me.to_string(), false)];
        let service_route = [lr_uri("orig", &me.to_string(), false)];
        let bytes = RegisterOk {
            path: &path,
            service_route: &service_route,
            associated: &associated,
            contacts: &accepted,
            expires: granted,
            to_tag: &token(),
            source: Some(inc.from),
        }
        .build(msg);
        Plan::Answer { code: 200, bytes }
    }
}

/// Does the request list option tag `tag` in Supported (RFC 3261 §20.37)?
fn supports(msg: &SipMessage, tag: &str) -> bool {
    msg.header_values("Supported")
        .iter()
        .any(|v| v.trim().eq_ignore_ascii_case(tag))
}

fn stable_branch(incoming: &str, method: &str) -> String {
    // FNV-1a of the incoming branch and method: the same request gives the
    // same branch (stateless proxy, RFC 3261 §16.11).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let key = if method == "ACK" {
        format!("{incoming}|ACK")
    } else {
        incoming.to_string()
    };
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn hop(incoming: Incoming, trusted: bool, action: Action) -> Hop {
    Hop {
        incoming,
        trusted,
        action,
    }
}

/// A response to a request the core forwarded, relayed (RFC 3261 §16.7):
/// the core's Via (the top one) removed, sent to the next Via's
/// received/rport. The address, transport and bytes; or why not.
pub fn relay(m: &SipMessage) -> Result<(SocketAddr, Transport, Vec<u8>), String> {
    let mut headers = Vec::new();
    let mut popped = false;
    let mut next: Option<(SocketAddr, Transport)> = None;
    for (n, v) in fields(m) {
        if is(&n, "Via", Some("v")) {
            let vs = crate::codec::sip::SipMessage::parse(
                format!("SIP/2.0 200 OK\r\nVia: {v}\r\n\r\n").as_bytes(),
            )
            .map(|m| m.vias())
            .unwrap_or_default();
            // The top Via is the first value there is: a Via line with no
            // value in it (dropped here) does not stand for it.
            let vs: Vec<String> = if popped || vs.is_empty() {
                vs
            } else {
                popped = true;
                vs.into_iter().skip(1).collect()
            };
            if next.is_none() {
                next = vs.first().and_then(|v| via_target(v));
            }
            if !vs.is_empty() {
                headers.push((n, vs.join(", ")));
            }
            continue;
        }
        headers.push((n, v));
    }
    let (to, transport) = next.ok_or("a response with no Via to return by")?;
    let start = format!(
        "{} {} {}",
        m.version(),
        m.status().unwrap_or(500),
        m.reason().unwrap_or("")
    );
    Ok((to, transport, assemble(&start, &headers, m.body())))
}

/// Relays the responses to a request the core forwarded with `branch`:
/// our Via removed, sent to the next Via's received/rport.
fn relay_responses(
    ep: Arc<SipEndpoint>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    branch: String,
) {
    let mut rx = ep.subscribe(&branch, None);
    tokio::spawn(async move {
        let end = tokio::time::Instant::now() + RESPONSE_WAIT;
        // A retransmission forwarded again (the same branch) subscribes
        // anew: this receiver then ends, and the branch is the new
        // relay's, not to be unsubscribed here.
        let mut replaced = false;
        loop {
            let inc = match tokio::time::timeout_at(end, rx.recv()).await {
                Ok(Some(inc)) => inc,
                Ok(None) => {
                    replaced = true;
                    break;
                }
                Err(_) => break,
            };
            let action = match inc
                .msg
                .as_ref()
                .map_err(|e| format!("unparseable response: {e}"))
                .and_then(relay)
            {
                Ok((to, transport, bytes)) => {
                    let _ = ep.send(transport, to, &bytes).await;
                    Action::Forwarded {
                        to,
                        transport,
                        bytes,
                    }
                }
                Err(why) => Action::Dropped(why),
            };
            lock(&state).keep(Hop {
                incoming: inc,
                trusted: false,
                action,
            });
            notify.notify_waiters();
        }
        if !replaced {
            ep.unsubscribe(&branch);
        }
        lock(&state).relaying.remove(&branch);
    });
}

#[cfg(test)]
mod tests {
    /// Found by the sip_dialogue fuzz target
    /// (fuzz/regressions/sip_dialogue/empty-via-line-kept-the-top-via): a
    /// response whose first Via line is empty was relayed with every Via it
    /// came with, the core's own included.
    #[test]
    fn an_empty_via_line_does_not_stand_for_the_top_via() {
        let m = crate::codec::sip::SipMessage::parse(
            b"SIP/2.0 486 Busy Here\r\nVia: \r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKcore\r\nVia: SIP/2.0/UDP 127.0.0.1:5073;branch=z9hG4bKua\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        let (to, _, bytes) = super::relay(&m).unwrap();
        let r = crate::codec::sip::SipMessage::parse(&bytes).unwrap();
        assert_eq!(to, "127.0.0.1:5073".parse().unwrap());
        assert_eq!(r.vias().len(), 1, "{}", String::from_utf8_lossy(&bytes));
        assert!(r.vias()[0].contains("z9hG4bKua"));
    }

    use super::*;

    #[test]
    fn keys_and_targets() {
        assert_eq!(aor_key("sip:Bob@IMS.test"), "Bob@ims.test");
        assert_eq!(aor_key("<sip:bob@127.0.0.1:5070>"), "bob@127.0.0.1:5070");
        assert_eq!(aor_key("tel:+1-555-0100"), "+15550100");
        assert_eq!(aor_key("sip:+15550100@ims.test;user=phone"), "+15550100");
        assert_eq!(
            via_target("SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;received=127.0.0.3;rport=4000"),
            Some(("127.0.0.3:4000".parse().unwrap(), Transport::Udp))
        );
        assert_eq!(
            via_target("SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1;rport"),
            Some(("127.0.0.1:5070".parse().unwrap(), Transport::Tcp))
        );
        // Whitespace around the slashes, folded (RFC 3261 §25.1 SLASH).
        assert_eq!(
            via_target("SIP / 2.0 / UDP 127.0.0.4:5072 ;branch=z9hG4bK2"),
            Some(("127.0.0.4:5072".parse().unwrap(), Transport::Udp))
        );
        // No port: 5060 (RFC 3261 §18.2.2, §19.1.2).
        assert_eq!(
            via_target("SIP/2.0/TCP 127.0.0.5;branch=z9hG4bK3"),
            Some(("127.0.0.5:5060".parse().unwrap(), Transport::Tcp))
        );
        assert_eq!(
            via_target("SIP/2.0/UDP [::1];branch=z9hG4bK4;rport=4001"),
            Some(("[::1]:4001".parse().unwrap(), Transport::Udp))
        );
        assert_eq!(
            via_target("SIP/2.0/UDP host.example;branch=z9hG4bK5;received=::1"),
            Some(("[::1]:5060".parse().unwrap(), Transport::Udp))
        );
        // Off loopback, unknown transports and malformed Vias give no target.
        assert_eq!(
            via_target("SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK6"),
            None
        );
        assert_eq!(
            via_target("SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK7"),
            None
        );
        assert_eq!(via_target("SIP/2.0/UDP 127.0.0.1;;branch=z9hG4bK8"), None);
        assert_eq!(stable_branch("a", "MESSAGE"), stable_branch("a", "MESSAGE"));
        assert_ne!(stable_branch("a", "MESSAGE"), stable_branch("a", "ACK"));
    }

    fn incoming(bytes: String, from: SocketAddr) -> Incoming {
        Incoming {
            msg: SipMessage::parse(bytes.as_bytes()),
            bytes: bytes.into_bytes(),
            from,
            transport: Transport::Udp,
            at: Instant::now(),
            note: None,
        }
    }

    fn register_for(aor: &str, contacts: &[String], expires: u32) -> String {
        let mut m = format!(
            "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bKr{}\r\n\
             From: <{aor}>;tag=1\r\nTo: <{aor}>\r\nCall-ID: r@x\r\nCSeq: 1 REGISTER\r\n\
             Expires: {expires}\r\n",
            contacts.len()
        );
        for c in contacts {
            m.push_str(&format!("Contact: {c}\r\n"));
        }
        m + "Content-Length: 0\r\n\r\n"
    }

    fn code(plan: &Plan) -> u16 {
        match plan {
            Plan::Answer { code, .. } => *code,
            other => panic!("expected an answer, came {other:?}"),
        }
    }

    #[test]
    fn the_registrar_keeps_a_bounded_number_of_aors_and_contacts() {
        // Before the caps (seen while writing the sip_dialogue fuzz target,
        // which checks them): every REGISTER for a new AoR added an entry,
        // one without a Contact an empty one, and nothing was ever dropped.
        let me: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let from: SocketAddr = "127.0.0.9:5070".parse().unwrap();
        let mut core = Core::new(60);
        let t = Instant::now();
        // Without a Contact: answered, nothing kept.
        let p = core.handle(
            me,
            &incoming(register_for("sip:x@ims.test", &[], 60), from),
            t,
        );
        assert_eq!((code(&p.1), core.size()), (200, (0, 0)));
        for i in 0..MAX_AORS {
            let c = [format!("<sip:u{i}@127.0.0.9:5070>")];
            let r = register_for(&format!("sip:u{i}@ims.test"), &c, 60);
            assert_eq!(
                code(&core.handle(me, &incoming(r, from), t).1),
                200,
                "AoR {i}"
            );
        }
        assert_eq!(core.size(), (MAX_AORS, MAX_AORS));
        let c = ["<sip:late@127.0.0.9:5070>".to_string()];
        let late = register_for("sip:late@ims.test", &c, 60);
        assert_eq!(
            code(&core.handle(me, &incoming(late.clone(), from), t).1),
            503
        );
        assert_eq!(core.size(), (MAX_AORS, MAX_AORS));
        // A registered AoR can still refresh; once the others expire, the
        // late one gets in and the expired ones are gone.
        let c0 = ["<sip:u0@127.0.0.9:5070>".to_string()];
        let refresh = register_for("sip:u0@ims.test", &c0, 60);
        let later = t + Duration::from_secs(30);
        assert_eq!(
            code(&core.handle(me, &incoming(refresh, from), later).1),
            200
        );
        let after = t + Duration::from_secs(61);
        assert_eq!(code(&core.handle(me, &incoming(late, from), after).1), 200);
        assert_eq!(core.size(), (2, 2));
        // Too many contacts for one AoR: 503, the old bindings kept.
        let many: Vec<String> = (0..=MAX_CONTACTS_PER_AOR)
            .map(|i| format!("<sip:late@127.0.0.9:{}>", 6000 + i))
            .collect();
        let r = register_for("sip:late@ims.test", &many, 60);
        assert_eq!(code(&core.handle(me, &incoming(r, from), after).1), 503);
        assert_eq!(core.bindings("sip:late@ims.test", after).len(), 1);
        let r = register_for("sip:late@ims.test", &many[..MAX_CONTACTS_PER_AOR - 1], 60);
        assert_eq!(code(&core.handle(me, &incoming(r, from), after).1), 200);
        assert_eq!(core.size(), (2, 1 + MAX_CONTACTS_PER_AOR));
    }

    fn register_bytes(from: SocketAddr, supported: Option<&str>) -> Vec<u8> {
        let mut b = crate::codec::sip::request("REGISTER", "sip:liaison.test")
            .header(
                "Via",
                &format!("SIP/2.0/UDP {from};branch=z9hG4bK{};rport", token()),
            )
            .header("Max-Forwards", "70")
            .header("From", "<sip:bob@liaison.test>;tag=1")
            .header("To", "<sip:bob@liaison.test>")
            .header("Call-ID", &format!("{}@t", token()))
            .header("CSeq", "1 REGISTER");
        if let Some(v) = supported {
            b = b.header("Supported", v);
        }
        b.header("Contact", &format!("<sip:bob@{from}>"))
            .header("Expires", "60")
            .build()
    }

    async fn recv(sock: &tokio::net::UdpSocket) -> Option<SipMessage> {
        let mut buf = vec![0u8; 65536];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        SipMessage::parse(&buf[..n]).ok()
    }

    /// RFC 3327 §5.2: the core adds its Path to a REGISTER for a registrar
    /// SUT only when the UA said `Supported: path`; otherwise it answers 421
    /// with `Require: path` and sends nothing on.
    #[tokio::test]
    async fn path_only_for_a_ua_that_supports_it() {
        let lo: std::net::IpAddr = [127, 0, 0, 1].into();
        let ep = Arc::new(
            SipEndpoint::bind(lo, crate::net::capture::Capture::disabled())
                .await
                .unwrap(),
        );
        let core = Cscf::start(ep, 60);
        let registrar = tokio::net::UdpSocket::bind((lo, 0)).await.unwrap();
        core.registrar("liaison.test", registrar.local_addr().unwrap());
        let ua = tokio::net::UdpSocket::bind((lo, 0)).await.unwrap();
        let me = ua.local_addr().unwrap();

        ua.send_to(&register_bytes(me, None), core.addr())
            .await
            .unwrap();
        let r = recv(&ua).await.expect("an answer from the core");
        assert_eq!(r.status(), Some(421));
        assert_eq!(r.header("Require"), Some("path"));
        // RFC 3581 §4: the core's own answer fills in rport and received.
        let via = r.header("Via").unwrap();
        assert!(
            via.ends_with(&format!(";received=127.0.0.1;rport={}", me.port())),
            "{via}"
        );

        ua.send_to(&register_bytes(me, Some("100rel, path")), core.addr())
            .await
            .unwrap();
        let fwd = recv(&registrar)
            .await
            .expect("the REGISTER at the registrar");
        assert_eq!(fwd.method(), Some("REGISTER"));
        let path = fwd.header_values("Path");
        assert_eq!(path.len(), 1, "{path:?}");
        assert!(path[0].contains(&core.addr().to_string()), "{path:?}");
    }

    fn message_bytes(from: SocketAddr, ruri: &str, routes: &[&str], call_id: &str) -> Vec<u8> {
        let mut b = crate::codec::sip::request("MESSAGE", ruri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {from};branch=z9hG4bK{};rport", token()),
            )
            .header("Max-Forwards", "70");
        for r in routes {
            b = b.header("Route", r);
        }
        b.header("From", "<sip:bob@liaison.test>;tag=2")
            .header("To", &format!("<{ruri}>"))
            .header("Call-ID", call_id)
            .header("CSeq", "1 MESSAGE")
            .header("Content-Type", "text/plain")
            .body(b"hi")
            .build()
    }

    async fn core_and_sockets(n: usize) -> (Cscf, Vec<tokio::net::UdpSocket>, Vec<SocketAddr>) {
        let lo: std::net::IpAddr = [127, 0, 0, 1].into();
        let ep = Arc::new(
            SipEndpoint::bind(lo, crate::net::capture::Capture::disabled())
                .await
                .unwrap(),
        );
        let core = Cscf::start(ep, 60);
        let mut socks = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..n {
            let s = tokio::net::UdpSocket::bind((lo, 0)).await.unwrap();
            addrs.push(s.local_addr().unwrap());
            socks.push(s);
        }
        (core, socks, addrs)
    }

    /// Issue 13 item 3: a request from the SUT client to a harness user of
    /// its own domain (an IMDN to the originator) goes to that user, whom
    /// the core knows, not back to the SUT by the domain's route; a user of
    /// a registrar SUT's domain still goes to the registrar (its home).
    #[tokio::test]
    async fn a_known_user_is_routed_to_and_not_the_domain_sut() {
        let (core, socks, addrs) = core_and_sockets(4).await;
        let [sut, alice, registrar, carol] = [&socks[0], &socks[1], &socks[2], &socks[3]];
        core.route("liaison.test", addrs[0]);
        core.know(
            "sip:alice-1@liaison.test",
            &[
                format!("<sip:alice-1@{}>", addrs[1]),
                format!("<sip:alice-1@{};transport=tcp>", addrs[1]),
            ],
        );
        core.registrar("srv.test", addrs[2]);
        core.know("sip:carol@srv.test", &[format!("<sip:carol@{}>", addrs[3])]);

        let m = message_bytes(addrs[0], "sip:alice-1@liaison.test", &[], "k1@t");
        sut.send_to(&m, core.addr()).await.unwrap();
        let got = recv(alice).await.expect("the MESSAGE at the known user");
        assert_eq!(
            got.request_uri(),
            Some(format!("sip:alice-1@{}", addrs[1]).as_str())
        );
        let mut buf = [0u8; 2048];
        let back = tokio::time::timeout(Duration::from_millis(300), sut.recv_from(&mut buf)).await;
        // The SUT may get the 200 relayed later, never its own request now.
        assert!(back.is_err(), "the request came back to the SUT");

        // A user of the SUT's domain the core does not know: 404, not the
        // SUT's own request back.
        let m = message_bytes(addrs[0], "sip:nobody@liaison.test", &[], "k3@t");
        sut.send_to(&m, core.addr()).await.unwrap();
        let r = recv(sut).await.expect("an answer from the core");
        assert_eq!(r.status(), Some(404), "{r:?}");

        let m = message_bytes(addrs[1], "sip:carol@srv.test", &[], "k2@t");
        alice.send_to(&m, core.addr()).await.unwrap();
        let got = recv(registrar)
            .await
            .expect("the MESSAGE at the registrar SUT");
        assert_eq!(got.request_uri(), Some("sip:carol@srv.test"));
        let r = tokio::time::timeout(Duration::from_millis(300), carol.recv_from(&mut buf)).await;
        assert!(r.is_err(), "the core bypassed the registrar SUT");
    }

    /// A retransmission the core forwards again (the same branch) before
    /// the response came keeps the response relayed: the first relay,
    /// replaced, used to unsubscribe the branch on its way out, and the
    /// 200 then matched nothing (seen as POC-1 failing under load).
    #[tokio::test]
    async fn a_retransmission_keeps_its_response_relayed() {
        let (core, socks, addrs) = core_and_sockets(2).await;
        let [ua, sut] = [&socks[0], &socks[1]];
        core.route("liaison.test", addrs[1]);
        let m = message_bytes(addrs[0], "sip:bob@liaison.test", &[], "rt@t");
        ua.send_to(&m, core.addr()).await.unwrap();
        let first = recv(sut).await.expect("the MESSAGE at the SUT");
        ua.send_to(&m, core.addr()).await.unwrap();
        recv(sut).await.expect("its retransmission at the SUT");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ok = response_to(&first, 200, "OK").to_tag("x").build();
        sut.send_to(&ok, core.addr()).await.unwrap();
        let r = recv(ua).await.expect("the 200 relayed to the UA");
        assert_eq!(r.status(), Some(200));
    }

    /// A retransmission of a request the core forwarded over a stream is
    /// absorbed: the next hop over TCP gets the request once (RFC 3261
    /// §17.1.2.2), so a UAS whose transaction ended with its response
    /// (Timer J is zero over a reliable transport) never sees a second copy
    /// as a new request (linphonec over TLS answered such a copy with a
    /// second final response, which the harness rightly refuses to judge).
    #[tokio::test]
    async fn a_retransmission_is_not_sent_again_over_a_stream() {
        use tokio::io::AsyncReadExt;
        let (core, socks, _) = core_and_sockets(1).await;
        let ua = &socks[0];
        let next = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = next.local_addr().unwrap();
        let m = message_bytes(
            ua.local_addr().unwrap(),
            "sip:bob@liaison.test",
            &[&format!("<sip:{at};transport=tcp;lr>")],
            "rt-tcp@t",
        );
        ua.send_to(&m, core.addr()).await.unwrap();
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(2), next.accept())
            .await
            .expect("the core connects")
            .unwrap();
        ua.send_to(&m, core.addr()).await.unwrap();
        let mut got = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_millis(400);
        let mut buf = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(until, conn.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let copies = got.windows(8).filter(|w| w == b"MESSAGE ").count();
        assert_eq!(copies, 1, "{}", String::from_utf8_lossy(&got));
        assert!(core
            .log()
            .iter()
            .any(|h| matches!(&h.action, Action::Dropped(w) if w.contains("absorbed"))));
    }

    /// Issue 13 item 3, RFC 3261 §16.4: a Route set `<pcscf@core>,
    /// <orig@core>` (in one field or two) is consumed by the core at once;
    /// the request does not go over the network to the core itself.
    #[tokio::test]
    async fn routes_naming_the_core_are_consumed_locally() {
        let (core, socks, addrs) = core_and_sockets(2).await;
        let [ua, sut] = [&socks[0], &socks[1]];
        core.route("liaison.test", addrs[1]);
        let c = core.addr();
        let one = format!("<sip:pcscf@{c};lr>, <sip:orig@{c};lr>");
        let (a, b) = (format!("<sip:pcscf@{c};lr>"), format!("<sip:orig@{c};lr>"));
        for (i, routes) in [vec![one.as_str()], vec![a.as_str(), b.as_str()]]
            .into_iter()
            .enumerate()
        {
            let call_id = format!("r{i}@t");
            let m = message_bytes(addrs[0], "sip:bob@liaison.test", &routes, &call_id);
            ua.send_to(&m, c).await.unwrap();
            let got = recv(sut).await.expect("the MESSAGE at the SUT");
            assert!(
                got.header_values("Route").is_empty(),
                "{:?}",
                got.header_values("Route")
            );
            assert_eq!(got.vias().len(), 2, "{:?}", got.vias());
            core.wait_for(Instant::now() + Duration::from_millis(500), |log| {
                log.iter().any(|h| {
                    h.incoming.msg.as_ref().is_ok_and(|m| {
                        m.is_request() && m.header("Call-ID") == Some(call_id.as_str())
                    })
                })
            })
            .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let hops = core
                .log()
                .iter()
                .filter(|h| {
                    h.incoming.msg.as_ref().is_ok_and(|m| {
                        m.is_request() && m.header("Call-ID") == Some(call_id.as_str())
                    })
                })
                .count();
            assert_eq!(hops, 1, "the core sent the request to itself");
        }
    }
}
