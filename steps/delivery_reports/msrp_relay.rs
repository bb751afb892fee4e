//! Delivery reports through an MSRP relay (seed 001; RFC 4976): the SUT is
//! the relay; the harness plays the sender A and the receiver B, each with
//! its own connection and relay session. The sessions are opened when the
//! first message is sent, over TLS when the scenario asks for it (the
//! relay's `msrp.tls_address`, `msrps:` URIs, RFC 4975 §14.2; DR-25).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::msrp::{ByteRange, EndFlag, MsrpMessage};
use crate::codec::sdp;
use crate::codec::sip::token;
use crate::roles::msrp::{MsrpArrival, MsrpPeer};
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// Per-scenario relay state.
#[derive(Default)]
pub struct Relay {
    pub peers: HashMap<String, (MsrpPeer, String)>,
    pub message_id: Option<String>,
    pub tid: Option<String>,
    pub total: u64,
    /// The SEND as B received it, when B answered, B's REPORT bytes.
    pub at_b: Option<MsrpMessage>,
    pub b_answered: Option<Instant>,
    pub b_report: Option<MsrpMessage>,
    /// The clients to open sessions for (the Background's), not yet opened.
    pub to_open: Vec<String>,
    /// The sessions go over TLS to the relay's `msrps:` URI.
    pub tls: bool,
    /// An endpoint not at the relay: its name, URL and listener.
    pub direct: Option<(String, String, tokio::net::TcpListener)>,
}

fn relay_addr(w: &LiaisonWorld) -> Result<std::net::SocketAddr, Failure> {
    w.ctx
        .profile
        .msrp
        .as_ref()
        .map(|m| m.address)
        .ok_or_else(|| w.fail("a profile with msrp.address (the relay)", "none"))
}

fn peer<'a>(w: &'a LiaisonWorld, name: &str) -> Result<&'a (MsrpPeer, String), Failure> {
    w.relay
        .peers
        .get(name)
        .ok_or_else(|| w.fail(format!("an MSRP client `{name}` set up earlier"), "none"))
}

#[given(expr = "a sender {string} and a receiver {string} with MSRP sessions at the relay")]
async fn sessions(w: &mut LiaisonWorld, a: String, b: String) -> StepResult {
    w.relay.to_open = vec![a, b];
    Ok(())
}

#[given("the sessions at the relay are over TLS")]
async fn sessions_over_tls(w: &mut LiaisonWorld) -> StepResult {
    w.relay.tls = true;
    Ok(())
}

/// The relay's `msrps:` URI and the name its certificate is checked for.
fn relay_tls(w: &LiaisonWorld) -> Result<(String, String), Failure> {
    let addr = w
        .ctx
        .profile
        .msrp
        .as_ref()
        .and_then(|m| m.tls_address)
        .ok_or_else(|| {
            w.fail(
                "a profile with msrp.tls_address (the relay over TLS)",
                "none",
            )
        })?;
    let tls = w.ctx.tls.as_ref().ok_or_else(|| {
        w.fail(
            "the run's TLS (made for a profile with msrp.tls_address)",
            "none",
        )
    })?;
    Ok((format!("msrps://{addr};tcp"), tls.server_name_for(addr)))
}

/// Opens the Background's sessions at the relay (RFC 4976 §5): a
/// connection per client, plaintext or TLS, and AUTH.
async fn open_sessions(w: &mut LiaisonWorld) -> StepResult {
    let names = std::mem::take(&mut w.relay.to_open);
    if names.is_empty() {
        return Ok(());
    }
    let (relay_uri, name_to_check) = if w.relay.tls {
        relay_tls(w)?
    } else {
        (format!("msrp://{};tcp", relay_addr(w)?), String::new())
    };
    for name in names {
        // Each client's own URL points at a listener of its own (RFC 4976 §5).
        let l = tokio::net::TcpListener::bind((w.ctx.profile.harness_ip, 0))
            .await
            .map_err(|e| w.fail("a harness listener on loopback", e.to_string()))?;
        let local = l
            .local_addr()
            .map_err(|e| w.fail("a local address", e.to_string()))?;
        let url = if w.relay.tls {
            sdp::msrps_url(local, &token())
        } else {
            sdp::msrp_url(local, &token())
        };
        w.listeners.push(l);
        let p = if w.relay.tls {
            let tls = w
                .ctx
                .tls
                .clone()
                .ok_or_else(|| w.fail("the run's TLS", "none"))?;
            MsrpPeer::connect_tls(
                &relay_uri,
                &url,
                w.capture.clone(),
                &tls.client,
                &name_to_check,
            )
            .await
            .map_err(|e| {
                w.fail(
                    format!(
                        "a TLS connection for `{name}` to the relay at {relay_uri} ({}; RFC 4975 §14.2)",
                        tls.check
                    ),
                    e.to_string(),
                )
            })?
        } else {
            MsrpPeer::connect(&relay_uri, &url, w.capture.clone())
                .await
                .map_err(|e| w.fail(format!("a TCP connection to the relay at {relay_uri}"), e))?
        };
        let creds = w.ctx.profile.msrp.as_ref().and_then(|m| m.auth.clone());
        let creds = creds
            .as_ref()
            .map(|c| (c.user.as_str(), c.password.as_str()));
        let use_path = p.auth(&relay_uri, creds, w.deadline).await.map_err(|e| {
            w.fail(
                format!("a 200 with Use-Path to `{name}`'s AUTH (RFC 4976 §5)"),
                e,
            )
        })?;
        if w.relay.tls {
            let plain: Vec<&str> = use_path
                .split_ascii_whitespace()
                .filter(|u| !crate::codec::msrp::url_is_secure(u))
                .collect();
            if !plain.is_empty() {
                return Err(w.fail(
                    format!("a Use-Path of msrps: URIs to `{name}`'s AUTH over TLS: a session taken over TLS is reached over TLS (RFC 4975 §14.2)"),
                    format!(
                        "Use-Path: {use_path} — {}; on the connection: {}",
                        plain
                            .iter()
                            .map(|u| match crate::codec::msrp::MsrpUrl::parse(u) {
                                Some(_) => format!("{u} names a hop in the clear"),
                                None => format!("{u} is not an MSRP URI (RFC 4975 §6)"),
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        p.describe_log()
                    ),
                ));
            }
        }
        w.relay.peers.insert(name, (p, use_path));
    }
    Ok(())
}

#[when(expr = "{string} sends a {int}-byte {string} message to {string} through the relay")]
async fn sends(w: &mut LiaisonWorld, a: String, len: u64, ct: String, b: String) -> StepResult {
    open_sessions(w).await?;
    let (pb, b_use) = peer(w, &b)?;
    let b_url = pb.local_url.clone();
    let b_use = b_use.clone();
    let to = format!("{b_use} {b_url}");
    send_message(w, &a, len, &ct, &to).await
}

/// `a` sends a one-chunk message of `len` bytes through its own session at
/// the relay, then along `rest` of the To-Path.
async fn send_message(w: &mut LiaisonWorld, a: &str, len: u64, ct: &str, rest: &str) -> StepResult {
    let (pa, a_use) = peer(w, a)?;
    let to = format!("{a_use} {rest}");
    let message_id = format!("rl{}", token());
    let body: Vec<u8> = (0..len)
        .map(|i| b"liaison relay test "[i as usize % 19])
        .collect();
    let range = ByteRange {
        start: 1,
        end: Some(len),
        total: Some(len),
    };
    let headers = w.lm.headers.clone();
    let extra: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let tid = pa
        .send_chunk(
            &to,
            &message_id,
            range,
            EndFlag::Complete,
            Some(ct),
            &body,
            &extra,
        )
        .await
        .map_err(|e| w.fail("to send the SEND to the relay", e))?;
    w.relay.message_id = Some(message_id);
    w.relay.tid = Some(tid);
    w.relay.total = len;
    Ok(())
}

#[then(expr = "{string} receives the SEND")]
async fn receives(w: &mut LiaisonWorld, b: String) -> StepResult {
    let id = w.relay.message_id.clone().unwrap_or_default();
    let (pb, _) = peer(w, &b)?;
    let id2 = id.clone();
    pb.wait_for(w.deadline, |log| {
        log.iter().any(|a| {
            a.message()
                .is_some_and(|m| m.method() == Some("SEND") && m.message_id() == Some(id2.as_str()))
        })
    })
    .await;
    match pb
        .sends()
        .into_iter()
        .find(|m| m.message_id() == Some(id.as_str()))
    {
        Some(m) => {
            w.relay.at_b = Some(m);
            Ok(())
        }
        None => Err(w.fail(
            format!("the SEND of message {id} relayed to `{b}` (RFC 4976 §6.4)"),
            pb.describe_log(),
        )),
    }
}

async fn b_answers(w: &mut LiaisonWorld, b: &str, code: u16, delay: Duration) -> StepResult {
    let send = w
        .relay
        .at_b
        .clone()
        .ok_or_else(|| w.fail("a SEND received by the receiver", "none"))?;
    if !delay.is_zero() {
        tokio::time::sleep(delay.min(w.remaining())).await;
    }
    let phrase = match code {
        200 => "OK",
        415 => "Unsupported Media Type",
        _ => "Error",
    };
    // Stamped before sending: whatever the answer triggers comes after it.
    w.relay.b_answered = Some(Instant::now());
    let (pb, _) = peer(w, b)?;
    pb.answer(&send, code, phrase)
        .await
        .map_err(|e| w.fail("to send the receiver's response", e))?;
    Ok(())
}

#[when(expr = "{string} answers it with {int} after {int} T1")]
async fn answers_late(w: &mut LiaisonWorld, b: String, code: u16, n: u32) -> StepResult {
    let d = w.timers.t1 * n;
    b_answers(w, &b, code, d).await
}

#[when(expr = "{string} answers it with {int}")]
async fn answers(w: &mut LiaisonWorld, b: String, code: u16) -> StepResult {
    b_answers(w, &b, code, Duration::ZERO).await
}

#[when(expr = "{string} answers it with 200 and sends a success REPORT")]
async fn answers_and_reports(w: &mut LiaisonWorld, b: String) -> StepResult {
    b_answers(w, &b, 200, Duration::ZERO).await?;
    let send = w
        .relay
        .at_b
        .clone()
        .ok_or_else(|| w.fail("a SEND received by the receiver", "none"))?;
    let total = w.relay.total;
    let (pb, _) = peer(w, &b)?;
    let range = ByteRange {
        start: 1,
        end: Some(total),
        total: Some(total),
    };
    let bytes = pb
        .report(&send, range, 200, "OK")
        .await
        .map_err(|e| w.fail("to send the receiver's REPORT", e))?;
    w.relay.b_report = MsrpMessage::parse(&bytes).ok();
    Ok(())
}

#[when(expr = "{string} does not answer it")]
async fn silent(_w: &mut LiaisonWorld, _b: String) -> StepResult {
    Ok(())
}

fn quiet(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10)
        .max(Duration::from_millis(300))
        .min(w.remaining())
}

#[then(
    expr = "{string} got exactly one response to the SEND, a 200 that came before {string} answered"
)]
async fn one_response(w: &mut LiaisonWorld, a: String, b: String) -> StepResult {
    tokio::time::sleep(quiet(w)).await;
    let tid = w.relay.tid.clone().unwrap_or_default();
    let (pa, _) = peer(w, &a)?;
    let rs = pa.responses(&tid);
    let Some(first) = rs.first() else {
        return Err(w.fail(
            format!("the relay's own 200 to `{a}`'s SEND (transaction {tid}; RFC 4976 §6.4)"),
            pa.describe_log(),
        ));
    };
    if first.message().and_then(|m| m.status()) != Some(200) {
        return Err(w.fail("a 200 from the relay", first.describe()));
    }
    if let Some(at) = w.relay.b_answered
        && first.at >= at
    {
        return Err(w.fail(
            format!("the relay's 200 at once, before `{b}` answered (hop by hop, RFC 4976 §6.4)"),
            format!(
                "it came {} ms after `{b}` answered: {}",
                (first.at - at).as_millis(),
                first.describe()
            ),
        ));
    }
    if rs.len() > 1 {
        return Err(w.fail(
            format!("exactly one response to transaction {tid}: the far end's 200 is not passed back (RFC 4976 §6.4)"),
            rs.iter().map(MsrpArrival::describe).collect::<Vec<_>>().join(" | "),
        ));
    }
    Ok(())
}

fn reports_at(pa: &MsrpPeer, id: &str) -> Vec<MsrpArrival> {
    pa.reports(id)
}

#[then(
    expr = "{string} receives that success REPORT with its Status, Message-ID and Byte-Range unchanged"
)]
async fn report_unchanged(w: &mut LiaisonWorld, a: String) -> StepResult {
    let id = w.relay.message_id.clone().unwrap_or_default();
    let sent = w
        .relay
        .b_report
        .clone()
        .ok_or_else(|| w.fail("a REPORT sent by the receiver", "none"))?;
    let (pa, _) = peer(w, &a)?;
    let id2 = id.clone();
    pa.wait_for(w.deadline, |log| {
        log.iter().any(|x| {
            x.message().is_some_and(|m| {
                m.method() == Some("REPORT") && m.message_id() == Some(id2.as_str())
            })
        })
    })
    .await;
    // "One REPORT" is a negative claim about a second: watched for 4·T1
    // more (a success REPORT the relay made up when the receiver answered
    // may have come first and look the same).
    let watch = Duration::from_millis(w.ctx.profile.t1_ms) * 4 + Duration::from_millis(50);
    let until = (Instant::now() + watch).min(w.deadline);
    if until > Instant::now() {
        tokio::time::sleep(until - Instant::now()).await;
    }
    let got = reports_at(pa, &id);
    let Some(r) = got.first().and_then(|a| a.message()) else {
        return Err(w.fail(
            format!("the receiver's success REPORT for {id} at `{a}` (end to end, RFC 4976 §6.4)"),
            pa.describe_log(),
        ));
    };
    let same = r.header("Status") == sent.header("Status")
        && r.message_id() == sent.message_id()
        && r.header("Byte-Range") == sent.header("Byte-Range");
    if !same || got.len() > 1 {
        return Err(w.fail(
            format!(
                "one REPORT with Status `{}`, Message-ID {id}, Byte-Range `{}` as the receiver sent it",
                sent.header("Status").unwrap_or(""),
                sent.header("Byte-Range").unwrap_or("")
            ),
            got.iter().map(MsrpArrival::describe).collect::<Vec<_>>().join(" | "),
        ));
    }
    Ok(())
}

/// A relay that holds a downstream error reports it no later than it would
/// report no answer at all: the wait is the relay's failure timeout (and
/// 3 s), within the scenario's deadline.
#[then(expr = "{string} receives a failure REPORT with status {int} for the message")]
async fn failure_report(w: &mut LiaisonWorld, a: String, code: u16) -> StepResult {
    let until = failure_timeout_deadline(w);
    failure_report_by(w, &a, code, until).await
}

#[then(
    expr = "{string} receives a failure REPORT with status {int} for the message within the relay's failure timeout"
)]
async fn failure_report_timeout(w: &mut LiaisonWorld, a: String, code: u16) -> StepResult {
    let until = failure_timeout_deadline(w);
    failure_report_by(w, &a, code, until).await
}

/// Now, the relay's failure timeout (`msrp.failure_timeout_s`, else 30 s)
/// and 3 s, or the scenario's deadline when that comes first.
fn failure_timeout_deadline(w: &LiaisonWorld) -> Instant {
    let t = w
        .ctx
        .profile
        .msrp
        .as_ref()
        .and_then(|m| m.failure_timeout_s)
        .unwrap_or(30);
    (Instant::now() + Duration::from_secs(t) + Duration::from_secs(3)).min(w.deadline)
}

async fn failure_report_by(w: &LiaisonWorld, a: &str, code: u16, until: Instant) -> StepResult {
    let id = w.relay.message_id.clone().unwrap_or_default();
    let (pa, _) = peer(w, a)?;
    let is_it = |x: &MsrpArrival| {
        x.message().is_some_and(|m| {
            m.method() == Some("REPORT")
                && m.message_id() == Some(id.as_str())
                && m.status_header().is_some_and(|(_, c, _)| c == code)
        })
    };
    pa.wait_for(until, |log| log.iter().any(is_it)).await;
    match pa.log().iter().find(|x| is_it(x)) {
        Some(r) => {
            let total = w.relay.total;
            let range = r.message().and_then(|m| m.byte_range()).and_then(|x| x.ok());
            if range.is_some_and(|x| x.start == 1 && x.end == Some(total)) {
                Ok(())
            } else {
                Err(w.fail(format!("the failure REPORT to carry the failed chunk's Byte-Range 1-{total}/{total}"), r.describe()))
            }
        }
        None => Err(w.fail(
            format!("a failure REPORT with Status 000 {code} and Message-ID {id} at `{a}` (RFC 4976 §6.4)"),
            pa.describe_log(),
        )),
    }
}

#[then(expr = "{string} receives no success REPORT for the message")]
async fn no_success(w: &mut LiaisonWorld, a: String) -> StepResult {
    tokio::time::sleep(quiet(w)).await;
    let id = w.relay.message_id.clone().unwrap_or_default();
    let (pa, _) = peer(w, &a)?;
    match reports_at(pa, &id).iter().find(|x| {
        x.message()
            .and_then(|m| m.status_header())
            .is_some_and(|(_, c, _)| c == 200)
    }) {
        None => Ok(()),
        Some(r) => Err(w.fail(
            format!("no success REPORT for {id}: the far end refused it"),
            r.describe(),
        )),
    }
}

#[then(expr = "{string} receives no REPORT for the message")]
async fn no_report(w: &mut LiaisonWorld, a: String) -> StepResult {
    tokio::time::sleep(quiet(w)).await;
    let id = w.relay.message_id.clone().unwrap_or_default();
    let (pa, _) = peer(w, &a)?;
    match reports_at(pa, &id).first() {
        None => Ok(()),
        Some(r) => Err(w.fail(
            format!("no REPORT for {id}: Failure-Report is no and nothing succeeded"),
            r.describe(),
        )),
    }
}

#[when(
    expr = "{string} sends a {int}-byte {string} message through the relay to {string}, an msrps: endpoint not at the relay"
)]
async fn sends_direct(
    w: &mut LiaisonWorld,
    a: String,
    len: u64,
    ct: String,
    c: String,
) -> StepResult {
    open_sessions(w).await?;
    // C's own msrps: URL, at a harness listener that takes TLS: the relay
    // opens the connection to it (the next hop after A's session).
    let l = crate::net::listen_permitted(std::net::SocketAddr::new(w.ctx.profile.harness_ip, 0))
        .await
        .map_err(|e| w.fail("a harness listener on loopback", e.to_string()))?;
    let local = l
        .local_addr()
        .map_err(|e| w.fail("a local address", e.to_string()))?;
    let url = sdp::msrps_url(local, &token());
    w.relay.direct = Some((c, url.clone(), l));
    send_message(w, &a, len, &ct, &url).await
}

#[then(expr = "{string} receives the SEND over a TLS connection the relay opened")]
async fn direct_receives(w: &mut LiaisonWorld, c: String) -> StepResult {
    let Some((name, url, l)) = w.relay.direct.take() else {
        return Err(w.fail(format!("an endpoint `{c}` set up earlier"), "none"));
    };
    let tls = w
        .ctx
        .tls
        .clone()
        .ok_or_else(|| w.fail("the run's TLS", "none"))?;
    let p = MsrpPeer::accept_tls(&l, &url, w.capture.clone(), &tls.server, w.deadline)
        .await
        .map_err(|e| {
            w.fail(
                format!("the relay's connection to `{name}`'s msrps: URL {url} opened with a TLS handshake (RFC 4975 §14.2)"),
                e.to_string(),
            )
        })?;
    let id = w.relay.message_id.clone().unwrap_or_default();
    let id2 = id.clone();
    p.wait_for(w.deadline, |log| {
        log.iter().any(|a| {
            a.message()
                .is_some_and(|m| m.method() == Some("SEND") && m.message_id() == Some(id2.as_str()))
        })
    })
    .await;
    let Some(m) = p
        .sends()
        .into_iter()
        .find(|m| m.message_id() == Some(id.as_str()))
    else {
        return Err(w.fail(
            format!("the SEND of message {id} relayed to `{name}` over TLS (RFC 4976 §6.4)"),
            p.describe_log(),
        ));
    };
    p.answer(&m, 200, "OK")
        .await
        .map_err(|e| w.fail("to send the receiver's response", e))?;
    Ok(())
}

#[then("the connections to the relay stayed on TLS")]
async fn stayed_on_tls(w: &mut LiaisonWorld) -> StepResult {
    let mut names: Vec<&String> = w.relay.peers.keys().collect();
    names.sort();
    for name in names {
        let (p, _) = &w.relay.peers[name];
        if p.tls().is_none() {
            return Err(w.fail(
                format!("`{name}`'s connection to the relay over TLS (RFC 4975 §14.2)"),
                "a plaintext connection",
            ));
        }
        if let Some(end) = p
            .log()
            .iter()
            .find(|a| !matches!(a.event, crate::net::stream::StreamEvent::Message(_)))
        {
            return Err(w.fail(
                format!("`{name}`'s TLS connection to the relay open, every request, response and REPORT in TLS records (RFC 4975 §14.2)"),
                format!("it ended: {}; on the connection: {}", end.describe(), p.describe_log()),
            ));
        }
    }
    Ok(())
}
