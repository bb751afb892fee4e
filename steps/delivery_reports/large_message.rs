//! Delivery reports, Large Message mode (seed 001; RFC 4975): the SUT as the
//! receiving IM client of an MSRP session the harness offers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::msrp::{chunk_plan, ByteRange, EndFlag};
use crate::codec::sdp;
use crate::codec::sip::token;
use crate::net::lock;
use crate::net::Transport;
use crate::roles::msrp::{MsrpArrival, MsrpPeer};
use crate::roles::transaction::ClientResult;
use crate::roles::ua::{Dialog, Ua};
use crate::steps::world::{Failure, LiaisonWorld, StepResult};

/// Per-scenario Large Message state.
#[derive(Default)]
pub struct LargeMessage {
    pub ua: Option<Arc<Ua>>,
    pub listener: Option<tokio::net::TcpListener>,
    pub local_url: Option<String>,
    pub offer: Option<ClientResult>,
    pub remote_url: Option<String>,
    pub dialog: Option<Dialog>,
    pub peer: Option<MsrpPeer>,
    pub headers: Vec<(String, String)>,
    pub message_id: Option<String>,
    /// Declared total, bytes actually sent.
    pub total: u64,
    pub sent_bytes: u64,
    /// (tid, flag, answered with 200 before the next chunk went out).
    pub chunks: Vec<(String, EndFlag, Option<bool>)>,
}

/// How long "nothing arrives" is watched for.
fn quiet(w: &LiaisonWorld) -> Duration {
    (w.timers.t1 * 10)
        .max(Duration::from_millis(300))
        .min(w.remaining())
}

fn peer(w: &LiaisonWorld) -> Result<&MsrpPeer, Failure> {
    w.lm.peer
        .as_ref()
        .ok_or_else(|| w.fail("an MSRP session set up earlier in the scenario", "none"))
}

async fn offer(w: &mut LiaisonWorld, accept: &str, tls: bool) -> StepResult {
    let dst = crate::steps::sip::next_hop(w, "im-client")?;
    let aor = w
        .ctx
        .profile
        .sip
        .as_ref()
        .and_then(|s| s.aor.clone())
        .ok_or_else(|| w.fail("a profile with sip.aor", "none"))?;
    let ep = w.endpoint().await?;
    let ua = Arc::new(Ua::new(
        ep,
        format!("sip:alice-{}@liaison.test", &token()[..8]),
        w.timers,
    ));
    // The harness IMS core knows its users (a SUT's request for this one
    // comes here, not back to the SUT).
    if let Some(h) = w.ctx.ims.as_ref() {
        h.core
            .know(&ua.aor, &[ua.contact(crate::net::Transport::Udp)]);
    }
    // The harness's own MSRP URL points at a listener of its own (RFC 4975 §8).
    let listener = tokio::net::TcpListener::bind((w.ctx.profile.harness_ip, 0))
        .await
        .map_err(|e| w.fail("a harness MSRP listener on loopback", format!("{e}")))?;
    let laddr = listener
        .local_addr()
        .map_err(|e| w.fail("a local address", format!("{e}")))?;
    // Over TLS the harness's URL is msrps: and its m= line TCP/TLS/MSRP
    // (RFC 4975 §8.1, §14.2).
    let local_url = if tls {
        sdp::msrps_url(laddr, &token())
    } else {
        sdp::msrp_url(laddr, &token())
    };
    let body = sdp::msrp_session(
        laddr.ip(),
        laddr.port(),
        &local_url,
        &[accept],
        Some("active"),
    );
    let t = Transport::Udp;
    let out = ua.invite(t, &aor, &aor, &body);
    let r = ua.send_invite(t, dst, &out, w.deadline).await;
    if let Some(ok) = r
        .final_response()
        .filter(|m| m.status().is_some_and(|s| (200..300).contains(&s)))
        && let Some(d) = ua.dialog(t, dst, &out, ok)
    {
        let _ = ua.ack(&d).await;
        w.lm.dialog = Some(d);
    }
    w.lm.ua = Some(ua.clone());
    w.lm.listener = Some(listener);
    w.lm.local_url = Some(local_url);
    w.lm.offer = Some(r);
    // Keep the originator for failure descriptions.
    w.originators.insert("harness".into(), ua);
    w.sent_by = Some("harness".into());
    Ok(())
}

#[when(expr = "the harness offers a Large Message session with {string}")]
pub(crate) async fn offers(w: &mut LiaisonWorld, accept: String) -> StepResult {
    offer(w, &accept, false).await
}

fn answer_path(w: &LiaisonWorld) -> Result<String, Failure> {
    let r = w.lm.offer.as_ref();
    let ua = w.lm.ua.as_ref().map(|u| u.ep.clone());
    let Some(ok) = r.and_then(|r| r.final_response()) else {
        return Err(w.fail(
            "a final response to the INVITE offering an MSRP session",
            w.describe(r, ua.as_deref()),
        ));
    };
    if ok.status() != Some(200) {
        return Err(w.fail(
            "200 to the INVITE offering an MSRP session for a type the client takes (RFC 4975 §8)",
            w.describe(r, ua.as_deref()),
        ));
    }
    let bad = |why: &str| {
        w.fail(
            "an SDP answer with m=message … TCP/MSRP and an a=path MSRP URL (RFC 4975 §8)",
            format!(
                "{why} — bytes: {}",
                crate::codec::escape_bytes(ok.raw(), 600)
            ),
        )
    };
    let sdp = sdp::Sdp::parse(ok.body())
        .map_err(|e| bad(&format!("an SDP body that does not parse ({e})")))?;
    let media = sdp
        .media()
        .into_iter()
        .find(|m| m.media == "message" && m.proto.to_ascii_uppercase().contains("MSRP"))
        .ok_or_else(|| bad("no m=message TCP/MSRP line"))?;
    let path = media.msrp_path();
    let url = path.last().cloned().ok_or_else(|| bad("no a=path"))?;
    if crate::codec::msrp::url_addr(&url).is_none() {
        return Err(bad(&format!("a path `{url}` with no usable host:port")));
    }
    Ok(url)
}

#[then("the SUT answers the offer with 200 and an MSRP path")]
async fn answers_offer(w: &mut LiaisonWorld) -> StepResult {
    let url = answer_path(w)?;
    w.lm.remote_url = Some(url);
    Ok(())
}

#[then("the harness opens the MSRP connection to that path")]
async fn opens(w: &mut LiaisonWorld) -> StepResult {
    connect(w).await
}

async fn connect(w: &mut LiaisonWorld) -> StepResult {
    let url = match &w.lm.remote_url {
        Some(u) => u.clone(),
        None => answer_path(w)?,
    };
    let local = w.lm.local_url.clone().unwrap_or_default();
    let p = MsrpPeer::connect(&url, &local, w.capture.clone())
        .await
        .map_err(|e| {
            w.fail(
                format!("a TCP connection to the answered MSRP path {url} (RFC 4975 §5.4)"),
                e,
            )
        })?;
    w.lm.remote_url = Some(url);
    w.lm.peer = Some(p);
    Ok(())
}

#[then("the SUT rejects the offer")]
async fn rejects(w: &mut LiaisonWorld) -> StepResult {
    let r = w.lm.offer.as_ref();
    let ua = w.lm.ua.as_ref().map(|u| u.ep.clone());
    match r.and_then(|r| r.final_response()).and_then(|m| m.status()) {
        Some(s) if s >= 300 => Ok(()),
        _ => {
            let came = w.describe(r, ua.as_deref());
            // Do not leave an accepted session behind.
            if let (Some(ua), Some(mut d)) = (w.lm.ua.clone(), w.lm.dialog.clone()) {
                let _ = ua.bye(&mut d, w.deadline).await;
            }
            Err(w.fail(
                "a rejection (4xx–6xx) of an offer whose accept-types hold no type the client takes (RFC 4975 §8)",
                came,
            ))
        }
    }
}

#[given("a Large Message session with the SUT")]
async fn session(w: &mut LiaisonWorld) -> StepResult {
    offer(w, "text/plain", false).await?;
    let url = answer_path(w)?;
    w.lm.remote_url = Some(url);
    connect(w).await
}

/// DR-25 (RFC 4975 §8.1, §14.2): the answer to an offer of MSRP over TLS
/// is `TCP/TLS/MSRP` with an `msrps:` path; the harness then reaches it
/// over TLS only, checking the SUT's certificate as the profile says.
#[given("a Large Message session over TLS with the SUT")]
async fn session_tls(w: &mut LiaisonWorld) -> StepResult {
    offer(w, "text/plain", true).await?;
    let url = answer_path(w)?;
    let ok =
        w.lm.offer
            .as_ref()
            .and_then(|r| r.final_response())
            .cloned();
    let media = ok
        .as_ref()
        .and_then(|m| sdp::Sdp::parse(m.body()).ok())
        .and_then(|d| {
            d.media()
                .into_iter()
                .find(|m| m.media == "message" && m.proto.to_ascii_uppercase().contains("MSRP"))
        });
    let proto = media.as_ref().map(|m| m.proto.clone()).unwrap_or_default();
    if !media.as_ref().is_some_and(|m| m.is_msrp_tls()) || !crate::codec::msrp::url_is_secure(&url)
    {
        return Err(w.fail(
            "an answer to the offer of MSRP over TLS with m=message … TCP/TLS/MSRP and an msrps: path (RFC 4975 §8.1, §14.2): the session stays on TLS",
            format!(
                "m=message … {proto} with path {url}, a session to be reached in the clear — bytes: {}",
                ok.as_ref()
                    .map(|m| crate::codec::escape_bytes(m.raw(), 600))
                    .unwrap_or_default()
            ),
        ));
    }
    w.lm.remote_url = Some(url.clone());
    let tls = w.ctx.tls.clone().ok_or_else(|| {
        w.fail(
            "the run's TLS (made for a profile with capabilities.msrp_tls)",
            "none",
        )
    })?;
    let addr = crate::codec::msrp::url_addr(&url);
    let name = addr.map(|a| tls.server_name_for(a)).unwrap_or_default();
    let local = w.lm.local_url.clone().unwrap_or_default();
    let p = MsrpPeer::connect_tls(&url, &local, w.capture.clone(), &tls.client, &name)
        .await
        .map_err(|e| {
            w.fail(
                format!(
                    "a TLS connection to the answered msrps: path {url} ({}; RFC 4975 §14.2)",
                    tls.check
                ),
                e.to_string(),
            )
        })?;
    w.lm.peer = Some(p);
    Ok(())
}

#[given(expr = "the chunks carry {string}")]
async fn chunks_carry(w: &mut LiaisonWorld, header: String) -> StepResult {
    let (n, v) = header
        .split_once(':')
        .ok_or_else(|| w.fail("a `Name: value` header in the step", header.clone()))?;
    w.lm.headers
        .push((n.trim().to_string(), v.trim().to_string()));
    Ok(())
}

/// A deterministic text body of `len` bytes.
fn body(len: u64) -> Vec<u8> {
    let line = b"liaison large message 0123456789 abcdefghijklmnopqrstuvwxyz\r\n";
    (0..len as usize).map(|i| line[i % line.len()]).collect()
}

async fn send_message(
    w: &mut LiaisonWorld,
    len: u64,
    chunk: u64,
    ct: &str,
    wait_each: bool,
    abort_after: Option<u64>,
) -> StepResult {
    let to = w.lm.remote_url.clone().unwrap_or_default();
    let message_id = format!("lm{}", token());
    let data = body(len);
    let mut plan = chunk_plan(len, chunk);
    if let Some(k) = abort_after {
        let keep = plan.iter().take_while(|(r, _)| r.start <= k).count().max(1);
        plan.truncate(keep);
        if let Some(last) = plan.last_mut() {
            last.1 = EndFlag::Abort;
        }
    }
    let headers: Vec<(String, String)> = w.lm.headers.clone();
    let extra: Vec<(&str, &str)> = headers
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let per_chunk_wait = (w.timers.t1 * 16).max(Duration::from_millis(500));
    w.lm.message_id = Some(message_id.clone());
    w.lm.total = len;
    let p = peer(w)?;
    let mut chunks = Vec::new();
    let mut sent_bytes = 0;
    for (range, flag) in plan {
        let (s, e) = (
            range.start.saturating_sub(1) as usize,
            range.end.unwrap_or(len) as usize,
        );
        let part = data.get(s..e.min(data.len())).unwrap_or(&[]);
        let tid = p
            .send_chunk(&to, &message_id, range, flag, Some(ct), part, &extra)
            .await
            .map_err(|e| w.fail("to send the SEND chunk on the MSRP connection", e))?;
        sent_bytes = range.end.unwrap_or(sent_bytes);
        let mut answered = None;
        if wait_each {
            let until = (Instant::now() + per_chunk_wait).min(w.deadline);
            let t2 = tid.clone();
            let got = p
                .wait_for(until, |log| {
                    log.iter().any(|a| {
                        a.message()
                            .is_some_and(|m| m.tid() == t2 && m.status().is_some())
                    })
                })
                .await;
            answered = Some(
                got && p
                    .responses(&tid)
                    .first()
                    .and_then(|a| a.message())
                    .and_then(|m| m.status())
                    == Some(200),
            );
        }
        chunks.push((tid, flag, answered));
    }
    w.lm.sent_bytes = sent_bytes;
    w.lm.chunks = chunks;
    Ok(())
}

#[when(expr = "the harness sends a {int}-byte {string} message in chunks of {int} bytes")]
async fn sends(w: &mut LiaisonWorld, len: u64, ct: String, chunk: u64) -> StepResult {
    send_message(w, len, chunk, &ct, false, None).await
}

#[when(
    expr = "the harness sends a {int}-byte {string} message in chunks of {int} bytes, each after the previous one's response"
)]
async fn sends_waiting(w: &mut LiaisonWorld, len: u64, ct: String, chunk: u64) -> StepResult {
    send_message(w, len, chunk, &ct, true, None).await
}

#[when(
    expr = "the harness sends the first {int} bytes of a {int}-byte {string} message in chunks of {int} bytes and aborts it"
)]
async fn sends_aborted(
    w: &mut LiaisonWorld,
    first: u64,
    len: u64,
    ct: String,
    chunk: u64,
) -> StepResult {
    send_message(w, len, chunk, &ct, false, Some(first)).await
}

#[when(expr = "the harness sends a {string} message larger than the SUT takes")]
async fn sends_too_large(w: &mut LiaisonWorld, ct: String) -> StepResult {
    let max = w
        .ctx
        .profile
        .capabilities
        .msrp_max_size
        .ok_or_else(|| w.fail("a profile declaring capabilities.msrp_max_size", "none"))?;
    send_message(w, max + 4096, 16 * 1024, &ct, false, None).await
}

#[when("the harness sends a chunk to an MSRP session the SUT does not have")]
async fn sends_unknown_session(w: &mut LiaisonWorld) -> StepResult {
    let url = w.lm.remote_url.clone().unwrap_or_default();
    let sid = crate::codec::msrp::url_session(&url).unwrap_or_default();
    let wrong = url.replacen(&sid, &format!("nosuch{}", token()), 1);
    let message_id = format!("lm{}", token());
    let range = ByteRange {
        start: 1,
        end: Some(10),
        total: Some(10),
    };
    let headers = w.lm.headers.clone();
    let extra: Vec<(&str, &str)> = headers
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = peer(w)?;
    let tid = p
        .send_chunk(
            &wrong,
            &message_id,
            range,
            EndFlag::Complete,
            Some("text/plain"),
            b"0123456789",
            &extra,
        )
        .await
        .map_err(|e| w.fail("to send the SEND chunk", e))?;
    w.lm.message_id = Some(message_id);
    w.lm.total = 10;
    w.lm.sent_bytes = 10;
    w.lm.chunks = vec![(tid, EndFlag::Complete, None)];
    Ok(())
}

/// Waits for the first response to chunk `i` and checks its status.
async fn chunk_gets(w: &LiaisonWorld, i: usize, which: &str, code: u16) -> StepResult {
    let p = peer(w)?;
    let Some((tid, _, _)) = w.lm.chunks.get(i).cloned() else {
        return Err(w.fail("chunks sent earlier in the scenario", "none"));
    };
    let t2 = tid.clone();
    p.wait_for(w.deadline, |log| {
        log.iter().any(|a| {
            a.message()
                .is_some_and(|m| m.tid() == t2 && m.status().is_some())
        })
    })
    .await;
    match p.responses(&tid).first() {
        Some(a) if a.message().and_then(|m| m.status()) == Some(code) => one_answer_each(w).await,
        Some(a) => Err(w.fail(
            format!("{code} to the {which} chunk (transaction {tid})"),
            a.describe(),
        )),
        None => Err(w.fail(
            format!("{code} to the {which} chunk (transaction {tid}) within the scenario timeout"),
            format!("no response; on the connection: {}", p.describe_log()),
        )),
    }
}

#[then(expr = "the final chunk gets a {int} response")]
async fn final_chunk_gets(w: &mut LiaisonWorld, code: u16) -> StepResult {
    let last = w.lm.chunks.len().saturating_sub(1);
    chunk_gets(w, last, "final", code).await
}

#[then(expr = "the first chunk gets a {int} response")]
async fn first_chunk_gets(w: &mut LiaisonWorld, code: u16) -> StepResult {
    chunk_gets(w, 0, "first", code).await
}

#[then("every chunk was answered with 200 before the next one was sent")]
async fn answered_in_turn(w: &mut LiaisonWorld) -> StepResult {
    let n = w.lm.chunks.len();
    for (i, (tid, _, answered)) in w.lm.chunks.iter().enumerate() {
        if answered != &Some(true) {
            let p = peer(w)?;
            return Err(w.fail(
                format!("a 200 to chunk {} of {n} (transaction {tid}) before the next chunk, at once (RFC 4975 §7.2)", i + 1),
                match p.responses(tid).first() {
                    Some(a) => format!("{} (too late or not 200)", a.describe()),
                    None => format!("no response in time; on the connection: {}", p.describe_log()),
                },
            ));
        }
    }
    one_answer_each(w).await
}

fn is_success_report(a: &MsrpArrival, message_id: &str) -> bool {
    a.message().is_some_and(|m| {
        m.method() == Some("REPORT")
            && m.message_id() == Some(message_id)
            && m.status_header().is_some_and(|(_, c, _)| c == 200)
    })
}

/// The success REPORTs for `message_id` judged by DR-12 (RFC 4975 §7.1.2):
/// each must name bytes of the message (`start-end/total`, numbers known,
/// the sent total), and together they must cover bytes 1 to `total`.
fn covered(reports: &[&MsrpArrival], total: u64) -> bool {
    let mut ranges: Vec<(u64, u64)> = reports
        .iter()
        .filter_map(|a| a.message()?.byte_range()?.ok())
        .filter(|r| r.total == Some(total))
        .filter_map(|r| Some((r.start, r.end?)))
        .filter(|(s, e)| s <= e)
        .collect();
    ranges.sort_unstable();
    let mut next = 1u64;
    for (s, e) in ranges {
        if s > next {
            break;
        }
        next = next.max(e.saturating_add(1));
    }
    total == 0 || next > total
}

#[then("success REPORTs cover the whole message, none before the 200 to a chunk it reports on")]
async fn reports_cover(w: &mut LiaisonWorld) -> StepResult {
    let p = peer(w)?;
    let id = w.lm.message_id.clone().unwrap_or_default();
    let total = w.lm.total;
    let id2 = id.clone();
    p.wait_for(w.deadline, |log| {
        let reports: Vec<&MsrpArrival> =
            log.iter().filter(|a| is_success_report(a, &id2)).collect();
        covered(&reports, total)
    })
    .await;
    let log = p.log();
    let reports: Vec<&MsrpArrival> = log.iter().filter(|a| is_success_report(a, &id)).collect();
    if !covered(&reports, total) {
        let ranges: Vec<String> = reports
            .iter()
            .map(|a| {
                a.message()
                    .and_then(|m| m.header("Byte-Range"))
                    .unwrap_or("(no Byte-Range)")
                    .to_string()
            })
            .collect();
        return Err(w.fail(
            format!("success REPORTs (Status 000 200, Message-ID {id}) whose Byte-Ranges together cover 1-{total}/{total}: one for the whole message, or one per range received (RFC 4975 §7.1.2)"),
            format!(
                "{} by the scenario's end; on the connection: {}",
                if ranges.is_empty() {
                    "no success REPORT".to_string()
                } else {
                    format!(
                        "success REPORTs for {} only, which leave bytes unreported",
                        ranges.join(", ")
                    )
                },
                p.describe_log()
            ),
        ));
    }
    let local = w.lm.local_url.clone().unwrap_or_default();
    let sent = lock(&p.sent).clone();
    for report in &reports {
        let Some(m) = report.message() else { continue };
        // RFC 4975 §7.1.2: a REPORT carries no Success-Report or Failure-Report.
        let fields: Vec<String> = ["Success-Report", "Failure-Report"]
            .iter()
            .filter_map(|n| m.header(n).map(|v| format!("{n}: {v}")))
            .collect();
        if !fields.is_empty() {
            return Err(w.fail(
                "a success REPORT without Success-Report and Failure-Report header fields (RFC 4975 §7.1.2)",
                format!("a REPORT carrying {} — {}", fields.join(", "), report.describe()),
            ));
        }
        if m.to_path().first() != Some(&local) {
            return Err(w.fail(
                format!(
                    "the REPORT's To-Path to be the SEND's From-Path {local} (RFC 4975 §7.1.2)"
                ),
                report.describe(),
            ));
        }
        // A REPORT that names no concrete range of this message cannot count
        // towards the whole, nor be ordered against the chunks it covers.
        let range = match m.byte_range().and_then(|r| r.ok()) {
            Some(r) if r.total == Some(total) && r.end.is_some_and(|e| e >= r.start) => r,
            _ => {
                return Err(w.fail(
                    format!("every success REPORT for message {id} to name a range start-end/{total} of it (RFC 4975 §7.1.2)"),
                    report.describe(),
                ))
            }
        };
        let end = range.end.unwrap_or(total);
        // No REPORT for bytes whose chunk has not been acknowledged yet
        // (seed 001 §2: the 200 is the receipt; RFC 4975 §7.1.2).
        for c in sent.iter().filter(|c| {
            let ce = c.range.end.unwrap_or(total);
            c.message_id == id && c.range.start <= end && ce >= range.start
        }) {
            let ok = log.iter().find(|a| {
                a.message()
                    .is_some_and(|m| m.tid() == c.tid && m.status() == Some(200))
            });
            match ok {
                Some(ok) if ok.seq < report.seq => {}
                Some(ok) => {
                    return Err(w.fail(
                        format!("the success REPORT for {} only after the 200 to the chunk {} it reports on (seed 001 §2; RFC 4975 §7.1.2)", range, c.range),
                        format!(
                            "the REPORT first: [{}] {} before [{}] {}",
                            report.seq,
                            report.describe(),
                            ok.seq,
                            ok.describe()
                        ),
                    ))
                }
                None => {
                    return Err(w.fail(
                        format!("a 200 to the chunk {} (transaction {}) before the success REPORT for {range}", c.range, c.tid),
                        format!(
                            "a REPORT but no 200 to transaction {}: {}",
                            c.tid,
                            p.describe_log()
                        ),
                    ))
                }
            }
        }
    }
    one_answer_each(w).await
}

/// RFC 4975 §7.1, §7.2: each chunk's transaction is answered once. After the
/// last answer to a chunk, watches as long as "nothing arrives" is watched
/// in this file ([`quiet`]), then fails on any chunk answered a second time
/// with another status, naming both answers with their bytes.
async fn one_answer_each(w: &LiaisonWorld) -> StepResult {
    let p = peer(w)?;
    let tids: Vec<&str> = w.lm.chunks.iter().map(|c| c.0.as_str()).collect();
    let last = p
        .log()
        .iter()
        .filter(|a| {
            a.message()
                .is_some_and(|m| m.status().is_some() && tids.contains(&m.tid()))
        })
        .map(|a| a.at)
        .max();
    if let Some(at) = last {
        let until = (at + quiet(w)).min(w.deadline);
        tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
    }
    for tid in tids {
        if let Some((first, second)) = p.second_answer(tid) {
            return Err(w.fail(
                format!(
                    "one response to the chunk of transaction {tid}, the first being [{}] {} (RFC 4975 §7.1, §7.2: a transaction is answered once)",
                    first.seq,
                    first.describe()
                ),
                format!(
                    "a second, different response to it: [{}] {}",
                    second.seq,
                    second.describe()
                ),
            ));
        }
    }
    Ok(())
}

async fn settle(w: &LiaisonWorld) {
    tokio::time::sleep(quiet(w)).await;
}

#[then("no success REPORT arrives")]
async fn no_success_report(w: &mut LiaisonWorld) -> StepResult {
    settle(w).await;
    let p = peer(w)?;
    let id = w.lm.message_id.clone().unwrap_or_default();
    match p.log().iter().find(|a| is_success_report(a, &id)) {
        None => one_answer_each(w).await,
        Some(a) => Err(w.fail(
            format!(
                "no success REPORT for message {id} (not requested, or the message was refused)"
            ),
            a.describe(),
        )),
    }
}

#[then("no chunk gets a 200 response")]
async fn no_200(w: &mut LiaisonWorld) -> StepResult {
    settle(w).await;
    let p = peer(w)?;
    for (tid, _, _) in &w.lm.chunks {
        if let Some(a) = p
            .responses(tid)
            .iter()
            .find(|a| a.message().and_then(|m| m.status()) == Some(200))
        {
            return Err(w.fail(
                format!("no 200 to any chunk sent with Failure-Report: partial (transaction {tid}; RFC 4975 §7.2)"),
                a.describe(),
            ));
        }
    }
    Ok(())
}

#[then("no chunk gets any response")]
async fn no_response(w: &mut LiaisonWorld) -> StepResult {
    settle(w).await;
    let p = peer(w)?;
    let id = w.lm.message_id.clone().unwrap_or_default();
    for (tid, _, _) in &w.lm.chunks {
        if let Some(a) = p.responses(tid).first() {
            return Err(w.fail(
                format!("no response at all to a chunk sent with Failure-Report: no (transaction {tid}; RFC 4975 §7.2)"),
                a.describe(),
            ));
        }
    }
    if let Some(a) = p.log().iter().find(|a| {
        a.message()
            .is_some_and(|m| m.method() == Some("REPORT") && m.message_id() == Some(id.as_str()))
    }) {
        return Err(w.fail("no REPORT either, with Failure-Report: no", a.describe()));
    }
    Ok(())
}

#[then("no success REPORT claims the whole message")]
async fn no_whole_claim(w: &mut LiaisonWorld) -> StepResult {
    settle(w).await;
    let p = peer(w)?;
    let id = w.lm.message_id.clone().unwrap_or_default();
    let sent = w.lm.sent_bytes;
    for a in p.log().iter().filter(|a| is_success_report(a, &id)) {
        let r = a
            .message()
            .and_then(|m| m.byte_range())
            .and_then(|r| r.ok());
        // A REPORT may cover the bytes received (1-k/total), never bytes never sent.
        let claims_more = r.is_none_or(|r| r.end.is_none_or(|e| e > sent));
        if claims_more {
            return Err(w.fail(
                format!("no success REPORT claiming more than the {sent} bytes sent before the '#' abort (RFC 4975 §7.1.1, §7.1.2)"),
                a.describe(),
            ));
        }
    }
    Ok(())
}

#[then("the harness ends the session with BYE and the SUT answers 200")]
async fn bye(w: &mut LiaisonWorld) -> StepResult {
    let (Some(ua), Some(mut d)) = (w.lm.ua.clone(), w.lm.dialog.clone()) else {
        return Err(w.fail(
            "a dialog set up by the INVITE earlier in the scenario",
            "none",
        ));
    };
    let r = ua.bye(&mut d, w.deadline).await;
    match r.final_response().and_then(|m| m.status()) {
        Some(200) => Ok(()),
        _ => Err(w.fail(
            "200 to the BYE ending the session (RFC 3261 §15.1.2)",
            w.describe(Some(&r), Some(&ua.ep)),
        )),
    }
}

/// DR-25: the session's connection is the TLS one the harness opened and
/// it did not end in error (plaintext written into a TLS connection breaks
/// its records: rustls refuses them and the connection ends).
#[then("the MSRP connection stayed on TLS")]
async fn stayed_on_tls(w: &mut LiaisonWorld) -> StepResult {
    let p = peer(w)?;
    if p.tls().is_none() {
        return Err(w.fail(
            "the session's MSRP connection over TLS (RFC 4975 §14.2)",
            "a plaintext connection",
        ));
    }
    if let Some(end) = p
        .log()
        .iter()
        .find(|a| !matches!(a.event, crate::net::stream::StreamEvent::Message(_)))
    {
        return Err(w.fail(
            "the MSRP connection over TLS open until the harness ends the session, every response and REPORT in TLS records (RFC 4975 §14.2)",
            format!("it ended: {}; on the connection: {}", end.describe(), p.describe_log()),
        ));
    }
    Ok(())
}
