//! The load driver for an `im-client` SUT: the harness sends pager-mode
//! MESSAGEs (RFC 3428) over UDP at the asked rate, retransmits them as a
//! non-INVITE client transaction does (RFC 3261 §17.1.2.2: Timer E from T1
//! doubling to T2, Timer F at 64·T1), and judges each final response: it
//! must come, once per copy sent at most, for this transaction (its Via
//! branch, RFC 3261 §17.1.3) and name this message (its Call-ID).
//!
//! The SUT is the recipient here, so every final status is its own to
//! give: the mix does not apply (`Expect::Any`); what is judged is that each
//! message has exactly its own outcome.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::ledger::{Expect, Ledger, Outcome};
use super::record::Recorder;
use super::result::LoadResult;
use super::retransmit::Retransmits;
use super::scan::{self, write_decimal, Ident};
use super::udp::{BatchSocket, BATCH};
use super::{Ctx, Live, Plan, Session};

/// The generator's shortest tick: it sends what the rate has made due,
/// reads what came, and sleeps until the next tick.
const TICK_US: u64 = 1000;

/// A running im-client load session.
pub struct ImClientLoad {
    sock: BatchSocket,
    local: SocketAddr,
    target: SocketAddr,
    /// The MESSAGE's fixed parts ([`message_parts`]).
    parts: [Vec<u8>; 4],
    _reference: Option<crate::reference::Running>,
    _sut: Option<crate::sut::SutProcess>,
}

impl ImClientLoad {
    /// Binds the harness socket and starts (or launches) the SUT.
    pub fn start(ctx: &Ctx<'_>) -> Result<ImClientLoad, String> {
        let (target, uri, reference, sut) = match ctx.profile {
            None => {
                let settings = ctx.reference_settings("im-client")?;
                let r = ctx.start_reference("im-client", settings)?;
                let a = r.address;
                (a, format!("sip:load@{a}"), Some(r), None)
            }
            Some(p) => {
                let (sip, a) = ctx.sip_udp(p)?;
                let uri = sip.aor.clone().unwrap_or_else(|| format!("sip:load@{a}"));
                let sut = ctx.launch()?;
                (a, uri, None, sut)
            }
        };
        let sock = BatchSocket::bind(SocketAddr::new(ctx.opts.address, 0))
            .map_err(|e| format!("harness UDP socket: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        Ok(ImClientLoad {
            parts: message_parts(&uri, local),
            sock,
            local,
            target,
            _reference: reference,
            _sut: sut,
        })
    }

    fn message(&self, ident: &Ident, id: u64, out: &mut Vec<u8>) {
        write_message(&self.parts, ident, id, out);
    }
}

/// The MESSAGE for `id`, written into `out`: the fixed parts were written
/// once ([`message_parts`]); the identity goes between them.
fn write_message(p: &[Vec<u8>; 4], ident: &Ident, id: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&p[0]);
    ident.write(out, id); // Via branch
    out.extend_from_slice(&p[1]);
    ident.write(out, id); // From tag
    out.extend_from_slice(&p[2]);
    ident.write(out, id); // Call-ID
    out.extend_from_slice(&p[3]);
    // The body is `liaison load ` and the identity.
    let at = out.len();
    ident.write(out, id);
    let token_len = out.len() - at;
    out.truncate(at);
    write_decimal(out, (BODY_PREFIX.len() + token_len) as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(BODY_PREFIX);
    ident.write(out, id);
}

const BODY_PREFIX: &[u8] = b"liaison load ";

/// The fixed parts of the MESSAGE, around its identity.
fn message_parts(uri: &str, local: SocketAddr) -> [Vec<u8>; 4] {
    [
        format!("MESSAGE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-").into_bytes(),
        format!(";rport\r\nMax-Forwards: 70\r\nFrom: <sip:load@{local}>;tag=").into_bytes(),
        format!("\r\nTo: <{uri}>\r\nCall-ID: ").into_bytes(),
        b"@liaison.load\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: "
            .to_vec(),
    ]
}

impl Session for ImClientLoad {
    fn step(&mut self, plan: &Plan, live: &Live) -> Result<LoadResult, String> {
        let ident = Ident::new(&plan.token);
        let limit = plan.limit();
        let bucket_us = bucket_width(plan);
        let mut ledger = Ledger::new(plan.first_id, plan.deadline.as_micros() as u64, bucket_us);
        let mut rec =
            Recorder::new(plan.capture, &plan.pcap).map_err(|e| format!("capture: {e}"))?;
        let mut retx = Retransmits::new(plan.t1);
        let cpu0 = super::thread_cpu();
        let clock = super::Clock::start();
        let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(512)).collect();
        let mut due_copies = Vec::new();
        let mut sent: u64 = 0;
        let mut last_send_us = 0u64;
        let mut last_outcome_us = 0u64;
        let mut last_rx_us = 0u64;
        let mut unreadable = 0u64;
        let mut settled_at: Option<u64> = None;
        let linger_us = plan.linger.as_micros() as u64;
        // One batch per tick at the rate: 1 ms at 64 000/s and above, up to
        // 10 ms at low rates (fewer wake-ups per message; the latency is the
        // kernel's receive time, not the tick's).
        let tick_us = ((BATCH as f64 / plan.rate * 1e6) as u64).clamp(TICK_US, 10 * TICK_US);
        loop {
            let now = clock.now_us();
            let stopping = live.stopped() || super::interrupted();
            let mut backlog = false;
            // New messages due by the rate.
            if sent < limit && !stopping {
                loop {
                    let want = ((plan.rate * now as f64 / 1e6) as u64 + 1).min(limit);
                    let n = want.saturating_sub(sent).min(BATCH as u64) as usize;
                    if n == 0 {
                        break;
                    }
                    let first = ledger.next_id();
                    for (i, b) in bufs.iter_mut().take(n).enumerate() {
                        self.message(&ident, first + i as u64, b);
                    }
                    let out: Vec<(&[u8], SocketAddr)> =
                        bufs[..n].iter().map(|b| (&b[..], self.target)).collect();
                    let went = self
                        .sock
                        .send_batch(&out)
                        .map_err(|e| format!("send: {e}"))?;
                    for b in &bufs[..went] {
                        let id = ledger.sent(now, Expect::Any);
                        rec.datagram(now, self.local, self.target, b);
                        retx.arm(0, now, id);
                    }
                    sent += went as u64;
                    last_send_us = now;
                    if went < n {
                        backlog = true; // the socket buffer is full: next tick
                        break;
                    }
                }
                live.sent.store(sent, Ordering::Relaxed);
            }
            // Retransmissions due (Timer E).
            due_copies.clear();
            retx.due(now, &mut due_copies);
            for &(id, next_level) in &due_copies {
                if !ledger.is_pending(id) || stopping {
                    continue;
                }
                self.message(&ident, id, &mut bufs[0]);
                let out = [(&bufs[0][..], self.target)];
                if self
                    .sock
                    .send_batch(&out)
                    .map_err(|e| format!("send: {e}"))?
                    == 1
                {
                    ledger.retransmitted(id);
                    rec.datagram(now, self.local, self.target, &bufs[0]);
                }
                retx.arm(next_level, now, id);
            }
            // Responses, each at the time the kernel received it.
            for _ in 0..super::udp::PASS_BATCHES {
                let n = self
                    .sock
                    .recv_batch()
                    .map_err(|e| format!("receive: {e}"))?;
                if n == 0 {
                    break;
                }
                let read_at = clock.now_us();
                for i in 0..n {
                    let at = clock.at_us(self.sock.received_at(i), read_at);
                    let (bytes, from) = self.sock.datagram(i);
                    rec.datagram(at, from, self.local, bytes);
                    last_rx_us = read_at;
                    let Some(code) = scan::status(bytes) else {
                        unreadable += 1;
                        ledger.unreadable(at, bytes);
                        continue;
                    };
                    if code < 200 {
                        continue;
                    }
                    let by_branch = scan::top_via_branch(bytes).and_then(|b| ident.find(b));
                    let by_call =
                        scan::header(bytes, "Call-ID", Some("i")).and_then(|c| ident.find(c));
                    match by_branch.or(by_call) {
                        Some(id) => ledger.outcome(
                            at,
                            Outcome {
                                id,
                                code,
                                accepts: (200..300).contains(&code),
                                names: by_call,
                                bytes,
                            },
                        ),
                        None => ledger.stray(at, code, bytes),
                    }
                    last_outcome_us = last_outcome_us.max(at);
                }
                if n < BATCH {
                    break;
                }
            }
            let now = clock.now_us();
            ledger.expire(now);
            let c = ledger.counters();
            live.completed.store(c.completed, Ordering::Relaxed);
            live.lost.store(c.lost, Ordering::Relaxed);
            live.violations.store(
                c.mismatched + c.fabricated + c.duplicated,
                Ordering::Relaxed,
            );
            // Done: everything sent and settled, then quiet for the linger
            // (late and duplicate outcomes still count while it lasts; a SUT
            // that never falls quiet gets LINGER_CAP times the linger).
            if stopping && super::interrupted() {
                break;
            }
            if (sent >= limit || stopping) && ledger.outstanding() == 0 {
                let since = *settled_at.get_or_insert(now);
                if now.saturating_sub(last_rx_us.max(last_send_us)) >= linger_us
                    || now.saturating_sub(since) >= super::LINGER_CAP * linger_us
                {
                    break;
                }
            }
            // Sleep a tick (or less, to the next thing due): each system call
            // then moves a batch, the figure that keeps the generator cheap.
            if !backlog {
                let mut next = now + tick_us;
                if let Some(d) = retx.next_due() {
                    next = next.min(d);
                }
                if next > now {
                    std::thread::sleep(Duration::from_micros(next - now));
                }
            }
        }
        let cpu = super::thread_cpu() - cpu0;
        let end_us = clock.now_us();
        let summary = ledger.finish();
        let mut r = LoadResult::from_summary(&summary, "SIP final responses to MESSAGE");
        r.unreadable = unreadable;
        r.timing(super::result::StepTiming {
            rate: plan.rate,
            planned: plan.limit(),
            last_send_us,
            last_outcome_us,
            end_us,
            cpu,
        });
        r.captured(rec.finish()?);
        Ok(r)
    }
}

/// The time series' interval: 100 ms, or longer so that a run has at most
/// about 600 points.
pub fn bucket_width(plan: &Plan) -> u64 {
    let expected_s = match (plan.count, plan.duration) {
        (_, Some(d)) => d.as_secs_f64(),
        (Some(n), None) => n as f64 / plan.rate.max(1.0),
        _ => 1.0,
    };
    ((expected_s * 1e6 / 600.0) as u64).max(100_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_message_is_a_well_formed_pager_mode_request() {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let parts = message_parts("sip:bob@127.0.0.1:5060", local);
        let ident = Ident::new("t0k3n");
        let mut out = Vec::new();
        write_message(&parts, &ident, 42, &mut out);
        let m = crate::codec::sip::SipMessage::parse(&out).unwrap();
        assert_eq!(m.defect(), None);
        assert_eq!(m.content_length(), Some(m.body().len()));
        assert_eq!(ident.find(m.top_via_branch().unwrap().as_bytes()), Some(42));
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }
}
