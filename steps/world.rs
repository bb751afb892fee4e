//! The World: one per scenario. It holds the run context (profile, timers,
//! output folder), the scenario's capture, its deadline, and the roles the
//! scenario has set up. Steps only glue Gherkin phrases to role calls and
//! assertions; every failure goes through [`LiaisonWorld::fail`], which names
//! the requirement, what was expected and what came.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::codec::escape_bytes;
use crate::harness::RunContext;
use crate::net::capture::Capture;
use crate::net::{Incoming, SipEndpoint, Transport};
use crate::roles::transaction::{ClientResult, Timers};
use crate::roles::ua::{Outgoing, Recipient, Ua};

/// The context of the run in progress (set by the runner before it starts).
pub static CONTEXT: Mutex<Option<Arc<RunContext>>> = Mutex::new(None);

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct LiaisonWorld {
    pub ctx: Arc<RunContext>,
    /// Requirement IDs this scenario checks (from its tags).
    pub requirements: Vec<String>,
    pub capture: Capture,
    pub pcap: Option<String>,
    pub deadline: Instant,
    /// When the scenario started (set by the runner's before hook).
    pub started: Instant,
    pub timers: Timers,
    pub originators: HashMap<String, Arc<Ua>>,
    pub recipients: HashMap<String, Recipient>,
    /// The last request the harness sent, and its transaction.
    pub sent: Option<(Transport, Outgoing, Vec<u8>)>,
    pub sent_by: Option<String>,
    pub result: Option<ClientResult>,
    /// The transaction of a retransmission, when a scenario made one.
    pub retrans: Option<ClientResult>,
    /// The body type sent, for Accept checks.
    pub sent_type: Option<String>,
    /// Large Message mode: the session the scenario set up.
    pub lm: crate::steps::delivery_reports::large_message::LargeMessage,
    /// SMS–IM interworking: the SMS sent and their recipients.
    pub iwf: crate::steps::delivery_reports::sms_iwf::Iwf,
    /// MSRP relay scenarios: the harness's clients at the relay.
    pub relay: crate::steps::delivery_reports::msrp_relay::Relay,
    /// PPG scenarios: the PAP submissions made.
    pub push: crate::steps::push::ppg::Push,
    /// Push over SIP and offline notification: push devices, pushes sent.
    pub push_sip: crate::steps::push::sip_push::PushSip,
    /// Listeners that give harness URLs a real address for the scenario's life.
    pub listeners: Vec<tokio::net::TcpListener>,
    /// mms-client scenarios: the MMs and pushes of the harness MMS Relay/Server.
    pub mms_client: crate::steps::mms::mms_client::MmsClient,
    /// MMS relay scenarios: the MM sent, notifications, retrievals.
    pub mms_relay: crate::steps::mms::mms_relay::MmsRelay,
    /// Deferred messaging: where this scenario's traffic at the MMSC starts.
    pub deferral: crate::steps::deferred_messaging::Deferral,
    /// MEM outband notification scenarios (MM3 and mem-server).
    pub mem: crate::steps::mem::Mem,
    /// IMS alignment: what went through the harness IMS core.
    pub ims: crate::steps::ims_alignment::Ims,
    /// Group Management: the Ut interface and the scenario's documents.
    pub gm: crate::steps::group_management::Gm,
    /// Presence: the scenario's presentities, watchers and subscriptions.
    pub pres: crate::steps::presence::Pres,
    /// The run-level harness roles this scenario holds (`@harness:` tags).
    pub held: crate::harness::Held,
    /// The addresses of the harness sockets the scenario bound.
    pub endpoints: std::sync::Mutex<Vec<std::net::SocketAddr>>,
}

impl fmt::Debug for LiaisonWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiaisonWorld")
            .field("requirements", &self.requirements)
            .field("pcap", &self.pcap)
            .finish_non_exhaustive()
    }
}

/// A step failure: its Display is the whole verdict text.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

pub type StepResult = Result<(), Failure>;

impl LiaisonWorld {
    async fn new() -> Result<Self, Failure> {
        let ctx = CONTEXT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                Failure("no run context: scenarios run only under `liaison run`".into())
            })?;
        let timers = Timers::from_t1_ms(ctx.profile.t1_ms);
        let deadline = Instant::now() + Duration::from_secs(ctx.profile.scenario_timeout_s);
        Ok(LiaisonWorld {
            ctx,
            requirements: Vec::new(),
            capture: Capture::disabled(),
            pcap: None,
            deadline,
            started: Instant::now(),
            timers,
            originators: HashMap::new(),
            recipients: HashMap::new(),
            sent: None,
            sent_by: None,
            result: None,
            retrans: None,
            sent_type: None,
            lm: Default::default(),
            iwf: Default::default(),
            relay: Default::default(),
            push: Default::default(),
            push_sip: Default::default(),
            listeners: Vec::new(),
            mms_client: Default::default(),
            mms_relay: Default::default(),
            deferral: Default::default(),
            mem: Default::default(),
            ims: Default::default(),
            gm: Default::default(),
            pres: Default::default(),
            held: Default::default(),
            endpoints: Default::default(),
        })
    }

    /// Claims, on the run-level roles that route by key, the scenario's
    /// share of their traffic (the keys come with the steps), the harness
    /// IMS core's with `ims.route_all` too.
    pub fn start_claims(&mut self) {
        if let Some(h) = self.ctx.ims.as_ref() {
            self.ims.claim = Some(h.capture.claim(&self.capture));
        }
        if let Some(h) = self.ctx.deferral.as_ref() {
            self.deferral.claim = Some(h.capture.claim(&self.capture));
        }
        if let Some(h) = self.ctx.push.as_ref() {
            self.push.claim = Some(h.claim(&self.capture));
        }
        if let Some(h) = self.ctx.mms_relay.as_ref() {
            self.mms_relay.claim = Some(h.claim(&self.capture));
        }
        if let Some(h) = self.ctx.push_client.as_ref() {
            self.push_sip.claim = Some(h.capture.claim(&self.capture));
        }
    }

    /// A user name (or another token) the scenario made up: the run-level
    /// roles that route by key give it the packets that carry it.
    pub fn claim_key(&self, key: &str) {
        for c in [&self.ims.claim, &self.deferral.claim, &self.push_sip.claim]
            .into_iter()
            .flatten()
        {
            c.key(key);
        }
    }

    /// Lets go of the scenario's claims: what comes later for its keys goes
    /// to the run-level pcaps.
    pub fn end_claims(&mut self) {
        // Its sockets are gone: the core forgets the users it knew at them.
        if let Some(h) = self.ctx.ims.as_ref() {
            h.core.forget(&crate::net::lock(&self.endpoints));
        }
        self.iwf.claim = None;
        self.ims.claim = None;
        self.deferral.claim = None;
        self.push.claim = None;
        self.mms_relay.claim = None;
        self.push_sip.claim = None;
    }

    /// Sends the traffic of run-level harness role `name` (one of
    /// [`crate::harness::EXCLUSIVE`]), through its shared capture, to this
    /// scenario's pcap; fails when the scenario does not hold the role.
    pub fn serve(&self, name: &str, shared: &Capture) -> Result<(), Failure> {
        self.held
            .point(name, shared, &self.capture)
            .map_err(|e| Failure(format!("{}: {e}", self.requirements.join(", "))))
    }

    /// A verdict naming the requirement(s), the expectation and what came.
    pub fn fail(&self, expected: impl fmt::Display, came: impl fmt::Display) -> Failure {
        let reqs = if self.requirements.is_empty() {
            "(no requirement tag)".to_string()
        } else {
            self.requirements.join(", ")
        };
        Failure(format!("{reqs}: expected {expected}; came {came}"))
    }

    /// A new harness endpoint on the profile's harness address, tapped
    /// into this scenario's pcap. Its address is the scenario's own (a
    /// port no other socket has while it lives): what the harness IMS core
    /// carries from or to it (its Via, its Contact) goes to this pcap too.
    pub async fn endpoint(&self) -> Result<Arc<SipEndpoint>, Failure> {
        let ep = SipEndpoint::bind(self.ctx.profile.harness_ip, self.capture.clone())
            .await
            .map(Arc::new)
            .map_err(|e| {
                self.fail(
                    "to bind a harness socket on loopback",
                    format!("an error: {e}"),
                )
            })?;
        if let Some(c) = &self.ims.claim {
            c.key(ep.udp_addr().to_string());
            c.key(ep.tcp_addr().to_string());
        }
        crate::net::lock(&self.endpoints).push(ep.udp_addr());
        Ok(ep)
    }

    /// Describes a transaction outcome, with the bytes of what came (or of what matched nothing).
    pub fn describe(&self, r: Option<&ClientResult>, ep: Option<&SipEndpoint>) -> String {
        let Some(r) = r else {
            return "nothing: no request was sent".into();
        };
        if let Some(e) = &r.send_error {
            return format!("a transport error: {e}");
        }
        if let Some((first, second)) = r.conflict() {
            return format!(
                "two different final responses on one transaction, so no answer to rely on (RFC 3261 §8.2.6, §17.2.2: a transaction has one final response): first {}; then {}",
                describe_incoming(first),
                describe_incoming(second)
            );
        }
        match r.final_incoming() {
            Some(inc) => describe_incoming(inc),
            None => {
                let mut s = format!(
                    "no final response within {} ms ({} transmission(s){})",
                    r.sent_at.elapsed().as_millis(),
                    r.transmissions,
                    if r.responses.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; provisional: {}",
                            r.responses
                                .iter()
                                .map(describe_incoming)
                                .collect::<Vec<_>>()
                                .join(" | ")
                        )
                    }
                );
                // The connection ended before a final response (RFC 3261 §18.4).
                if let Some(t) = r.transport_failure("the SUT") {
                    s = t;
                }
                if let Some(ep) = ep {
                    // Identical garbage (e.g. a retransmitted bad answer) is shown once, with a count.
                    let mut seen: Vec<(String, usize)> = Vec::new();
                    for line in ep.unmatched().iter().map(describe_incoming) {
                        match seen.iter_mut().find(|(l, _)| *l == line) {
                            Some((_, n)) => *n += 1,
                            None => seen.push((line, 1)),
                        }
                    }
                    if !seen.is_empty() {
                        s.push_str("; what arrived but matched no transaction: ");
                        let parts: Vec<String> = seen
                            .into_iter()
                            .map(|(l, n)| if n > 1 { format!("{n}× {l}") } else { l })
                            .collect();
                        s.push_str(&parts.join(" | "));
                    }
                    let elsewhere = self.not_acted_on();
                    if !elsewhere.is_empty() {
                        s.push_str("; what reached the scenario's other harness elements but was not acted on: ");
                        s.push_str(&elsewhere.join(" | "));
                    }
                    let events = ep.transport_events();
                    if !events.is_empty() {
                        s.push_str("; transport: ");
                        s.push_str(&events.join("; "));
                    }
                }
                s
            }
        }
    }

    /// What reached this scenario's recipients and push devices, or the run's IMS core for
    /// the request the scenario sent (by Call-ID), and was acted on by no
    /// role: garbage, stray responses, messages with a defect (the reason is
    /// in each line), so that a failure downstream of them names them.
    pub fn not_acted_on(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        // Recipients, then push-only devices, each by name.
        for (kind, map) in [
            ("", &self.recipients),
            ("push device ", &self.push_sip.devices),
        ] {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            for name in names {
                if let Some(r) = map.get(name) {
                    for inc in r.ua.ep.unmatched() {
                        out.push(format!("at {kind}`{name}`: {}", describe_incoming(&inc)));
                    }
                }
            }
        }
        let call_id = self.sent.as_ref().map(|(_, o, _)| o.call_id.clone());
        if let (Some(h), Some(cid)) = (self.ctx.ims.as_ref(), call_id) {
            for inc in h.core.ep.unmatched() {
                if inc
                    .msg
                    .as_ref()
                    .is_ok_and(|m| m.call_id() == Some(cid.as_str()))
                {
                    out.push(format!("at the IMS core: {}", describe_incoming(&inc)));
                }
            }
        }
        out
    }

    /// Time left before the scenario deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One incoming message for a verdict: summary plus its bytes.
pub fn describe_incoming(inc: &Incoming) -> String {
    format!(
        "{} — bytes: {}",
        inc.describe(),
        escape_bytes(&inc.bytes, 400)
    )
}
