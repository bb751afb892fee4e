//! RFC 3261 non-INVITE transactions as the harness runs them.
//!
//! Client (§17.1.2): over UDP the request is retransmitted on Timer E
//! (T1, doubling up to T2; T2 once a provisional came), the transaction gives
//! up on Timer F (64·T1); after the final response it keeps listening for
//! 2·T1 at least (longer if the scenario asks, up to Timer K) and keeps what
//! else arrives: a second final response that differs from the first leaves
//! the transaction without one ([`ClientResult::conflict`]). Over a stream,
//! the end of the connection the request went over before a final response
//! is a transport error (§18.4) and ends the transaction at once (§17.1.4),
//! not on Timer F ([`ClientResult::connection_end`]). Server side: see
//! [`crate::roles::ua::Recipient`], which absorbs retransmissions (§17.2.2).
//!
//! All timers scale from the profile's T1 (T2 = 8·T1, T4 = 10·T1, as with the
//! RFC defaults 500 ms / 4 s / 5 s).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::sip::SipMessage;
use crate::net::{ConnectionEnd, EndCause, Incoming, Routed, SipEndpoint, Transport};

/// RFC 3261 timers, scaled from T1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Timers {
    pub fn from_t1_ms(t1_ms: u64) -> Timers {
        let t1 = Duration::from_millis(t1_ms.max(1));
        Timers {
            t1,
            t2: t1 * 8,
            t4: t1 * 10,
        }
    }

    /// Timer F / Timer J: 64·T1.
    pub fn f(&self) -> Duration {
        self.t1 * 64
    }

    /// How long a client transaction keeps listening after its first final
    /// response for a second, different one (RFC 3261 §17.1.2.2: the
    /// Completed state absorbs what else the server sends for the
    /// transaction). 2·T1, two of the round trips T1 estimates (§17.1.1.1):
    /// a server that answers one request twice does so while handling it,
    /// well inside that; the full Timer K (T4 = 10·T1) would add five times
    /// as much waiting to every transaction of every scenario.
    pub fn final_watch(&self) -> Duration {
        self.t1 * 2
    }
}

/// How long a client transaction may wait.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub timers: Timers,
    /// The scenario deadline: no wait goes past it.
    pub deadline: Instant,
    /// How long to keep listening after the final response (Timer K); never
    /// less than [`Timers::final_watch`], so a second, different final
    /// response is seen.
    pub linger: Duration,
}

/// What a client transaction saw.
#[derive(Debug, Clone)]
pub struct ClientResult {
    /// The exact bytes sent (first transmission; retransmissions are identical).
    pub request: Vec<u8>,
    /// How often the request went out (1 + retransmissions).
    pub transmissions: u32,
    /// Every response routed to this transaction, in arrival order.
    pub responses: Vec<Incoming>,
    /// Index into `responses` of the first final response.
    pub final_index: Option<usize>,
    /// Index into `responses` of a later final response that differs from
    /// the first (another status code or To tag): a transaction has one final
    /// response (RFC 3261 §8.2.6, §17.2.2), so with one the transaction has
    /// none the suite can rely on.
    pub conflict_index: Option<usize>,
    /// When the request first went out.
    pub sent_at: Instant,
    /// Transport error while sending, if any.
    pub send_error: Option<String>,
    /// The stream connection the request went over ended before a final
    /// response came: a transport error (RFC 3261 §18.4), on which the
    /// transaction ended at once (§17.1.4). A close after the final
    /// response is normal and not recorded.
    pub connection_end: Option<ConnectionEnd>,
}

impl ClientResult {
    /// The final response, unless a different one came for the same
    /// transaction ([`ClientResult::conflict`]): then there is no answer a
    /// scenario may rely on.
    pub fn final_response(&self) -> Option<&SipMessage> {
        self.final_incoming().and_then(|r| r.msg.as_ref().ok())
    }

    /// The final response as it arrived; None as for [`ClientResult::final_response`].
    pub fn final_incoming(&self) -> Option<&Incoming> {
        if self.conflict_index.is_some() {
            return None;
        }
        self.final_index.and_then(|i| self.responses.get(i))
    }

    /// The first final response and the later, different one, when the
    /// server answered the transaction twice.
    pub fn conflict(&self) -> Option<(&Incoming, &Incoming)> {
        Some((
            self.responses.get(self.final_index?)?,
            self.responses.get(self.conflict_index?)?,
        ))
    }

    /// Final responses (parsed) in arrival order.
    pub fn finals(&self) -> Vec<&SipMessage> {
        self.responses
            .iter()
            .filter_map(|r| r.msg.as_ref().ok())
            .filter(|m| m.status().is_some_and(|s| s >= 200))
            .collect()
    }
}

/// Runs a non-INVITE client transaction: sends `request` (whose top Via
/// carries `branch`) and waits, bounded by Timer F and by `deadline`. After
/// the final response it keeps listening for `linger` or
/// [`Timers::final_watch`], whichever is longer (Timer K is T4 over UDP; the
/// harness lingers longer only where a scenario judges what comes after the
/// final response). Responses whose CSeq is not the request's never reach
/// it ([`SipEndpoint::subscribe`]).
pub async fn non_invite_client(
    ep: &SipEndpoint,
    transport: Transport,
    dst: SocketAddr,
    request: Vec<u8>,
    branch: &str,
    bounds: Bounds,
) -> ClientResult {
    client_transaction(ep, transport, dst, request, branch, bounds, false).await
}

/// Runs an INVITE client transaction (§17.1.1): Timer A doubles without a
/// cap, a provisional response stops retransmission, Timer B = 64·T1. A
/// non-2xx final response is acknowledged by the transaction itself
/// (§17.1.1.3); the ACK for a 2xx belongs to the UA (see [`crate::roles::ua::Ua::ack`]).
pub async fn invite_client(
    ep: &SipEndpoint,
    transport: Transport,
    dst: SocketAddr,
    request: Vec<u8>,
    branch: &str,
    bounds: Bounds,
) -> ClientResult {
    let r = client_transaction(ep, transport, dst, request.clone(), branch, bounds, true).await;
    // The transaction acknowledges the first non-2xx final even when another
    // came after it: the ACK is owed to what the server sent first.
    if let (Some(resp), Ok(req)) = (r.final_response_raw(), SipMessage::parse(&request))
        && resp.status().is_some_and(|s| s >= 300)
        && let Some(ack) = ack_for_non_2xx(&req, resp)
    {
        let _ = ep.send(transport, dst, &ack).await;
    }
    r
}

/// The ACK a client transaction sends for a non-2xx final response
/// (RFC 3261 §17.1.1.3): same R-URI, top Via, From, Call-ID and CSeq number
/// as the INVITE, the response's To.
pub fn ack_for_non_2xx(invite: &SipMessage, resp: &SipMessage) -> Option<Vec<u8>> {
    let uri = invite.request_uri()?;
    let (num, _) = invite.cseq()?;
    Some(
        crate::codec::sip::request("ACK", uri)
            .header("Via", invite.vias().first()?)
            .header("Max-Forwards", "70")
            .header("From", invite.header("From")?)
            .header("To", resp.header("To")?)
            .header("Call-ID", invite.call_id()?)
            .header("CSeq", &format!("{num} ACK"))
            .build(),
    )
}

async fn client_transaction(
    ep: &SipEndpoint,
    transport: Transport,
    dst: SocketAddr,
    request: Vec<u8>,
    branch: &str,
    bounds: Bounds,
    invite: bool,
) -> ClientResult {
    let Bounds {
        timers,
        deadline,
        linger,
    } = bounds;
    let cseq = SipMessage::parse(&request).ok().and_then(|m| m.cseq());
    let method = cseq.as_ref().map_or("?", |c| c.1.as_str()).to_string();
    // Timer E for non-INVITE, A for INVITE (RFC 3261 §17.1).
    let retransmit_timer = if invite { "A" } else { "E" };
    let mut rx = ep.subscribe_transaction(branch, cseq);
    let sent_at = Instant::now();
    let mut result = ClientResult {
        request: request.clone(),
        transmissions: 0,
        responses: Vec::new(),
        final_index: None,
        conflict_index: None,
        sent_at,
        send_error: None,
        connection_end: None,
    };
    if let Err(e) = ep.send_for(branch, transport, dst, &request).await {
        tracing::debug!(%branch, %method, %dst, %transport, error = %e, "client transaction: the request could not be sent");
        result.send_error = Some(format!("could not send to {dst} over {transport}: {e}"));
        ep.unsubscribe(branch);
        return result;
    }
    result.transmissions = 1;
    tracing::debug!(
        %branch,
        %method,
        %dst,
        %transport,
        t1_ms = timers.t1.as_millis() as u64,
        "client transaction created: request sent"
    );
    // Why it ended, for the log only.
    let mut ended = "response channel closed";
    let timer_f = (sent_at + timers.f()).min(deadline);
    let mut interval_e = timers.t1;
    let mut next_e = sent_at + interval_e;
    let mut linger_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let wake = match linger_until {
            Some(k) => k,
            None if transport == Transport::Udp => next_e.min(timer_f),
            None => timer_f,
        };
        if now >= wake {
            if linger_until.is_some() || now >= timer_f {
                ended = if linger_until.is_some() {
                    "final response, then the watch for a second one (Timer K) ran out"
                } else if timer_f < sent_at + timers.f() {
                    "the scenario deadline came before a final response"
                } else if invite {
                    "Timer B fired: no final response"
                } else {
                    "Timer F fired: no final response"
                };
                break;
            }
            // Timer E (Timer A for INVITE): retransmit (UDP only).
            let provisional = !result.responses.is_empty();
            if invite && provisional {
                // INVITE Proceeding: no more retransmissions, wait for Timer B.
                tracing::debug!(%branch, %method, "Timer A: proceeding, no more retransmissions");
                next_e = timer_f;
                continue;
            }
            let sent = ep.send_for(branch, transport, dst, &request).await.is_ok();
            if sent {
                result.transmissions += 1;
            }
            interval_e = if invite {
                interval_e * 2
            } else if provisional {
                timers.t2
            } else {
                (interval_e * 2).min(timers.t2)
            };
            next_e = Instant::now() + interval_e;
            tracing::debug!(
                %branch,
                %method,
                timer = retransmit_timer,
                transmissions = result.transmissions,
                sent,
                next_ms = interval_e.as_millis() as u64,
                "client transaction: Timer {retransmit_timer} fired, request retransmitted"
            );
            continue;
        }
        match tokio::time::timeout(wake - now, rx.recv()).await {
            Ok(Some(Routed::Ended(end))) => {
                // §18.4, §17.1.4: before the final response, the end of the
                // connection is a transport error that ends the transaction
                // now; after it, a close is normal and the linger goes on.
                // (§18.2.2 lets a server whose connection is gone open a new
                // one for its response; a server that closes the connection
                // its request came on mid-transaction has failed it for a
                // client that, like this one, ends on the transport error.)
                if result.final_index.is_none() {
                    tracing::debug!(%branch, %method, peer = %end.peer, "client transaction: its connection ended before a final response (transport error)");
                    result.connection_end = Some(end);
                    ended = "transport error: the connection ended";
                    break;
                }
            }
            Ok(Some(Routed::Response(inc))) => {
                let status = inc.msg.as_ref().ok().and_then(|m| m.status());
                let differs = result
                    .final_response_raw()
                    .zip(inc.msg.as_ref().ok())
                    .is_some_and(|(first, now)| conflicts(first, now));
                tracing::debug!(
                    %branch,
                    %method,
                    status = status.unwrap_or(0),
                    from = %inc.from,
                    "client transaction: response matched"
                );
                result.responses.push(inc);
                if let Some(s) = status {
                    if s >= 200 && result.final_index.is_none() {
                        result.final_index = Some(result.responses.len() - 1);
                        let watch = linger.max(timers.final_watch());
                        linger_until = Some((Instant::now() + watch).min(deadline));
                    } else if s >= 200 && differs && result.conflict_index.is_none() {
                        tracing::debug!(%branch, %method, status = s, "client transaction: a second, different final response");
                        result.conflict_index = Some(result.responses.len() - 1);
                    } else if s < 200 && linger_until.is_none() {
                        // Proceeding: retransmit at T2 from now on.
                        interval_e = timers.t2;
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {} // a timer fired; handled at the top of the loop
        }
    }
    ep.unsubscribe(branch);
    tracing::debug!(
        %branch,
        %method,
        status = result.final_response_raw().and_then(|m| m.status()).unwrap_or(0),
        transmissions = result.transmissions,
        responses = result.responses.len(),
        elapsed_ms = sent_at.elapsed().as_millis() as u64,
        "client transaction ended: {ended}"
    );
    result
}

impl ClientResult {
    /// The transport error that ended the transaction before a final
    /// response, for a verdict: who ended the connection, when, and the
    /// bytes of the response that had begun to arrive. `peer` names the far
    /// end ("the SUT"). None when the connection did not end before a final
    /// response (or the request went over UDP).
    pub fn transport_failure(&self, peer: &str) -> Option<String> {
        let end = self.connection_end.as_ref()?;
        let t = end.transport.via_name();
        let after = end.at.saturating_duration_since(self.sent_at).as_millis();
        let head = match &end.cause {
            EndCause::Closed => {
                format!("{peer} ({}) closed the {t} connection {after} ms after the request", end.peer)
            }
            EndCause::ReadError(e) => format!(
                "the {t} connection to {peer} ({}) failed {after} ms after the request ({e})",
                end.peer
            ),
            EndCause::Unframeable(e) => format!(
                "the harness stopped reading the {t} connection from {peer} ({}) {after} ms after the request, as its bytes could not be framed ({e})",
                end.peer
            ),
        };
        let provisional: Vec<String> = self.responses.iter().map(Incoming::describe).collect();
        let before = if provisional.is_empty() {
            String::new()
        } else {
            format!(", after the provisional {}", provisional.join(", "))
        };
        let what = if end.partial_len == 0 {
            "before any byte of a final response".to_string()
        } else {
            let kind = if end.partial.starts_with(b"SIP/") {
                "a response"
            } else {
                "an incomplete message"
            };
            format!(
                "after {} bytes of {kind}: {}",
                end.partial_len,
                end.partial_shown()
            )
        };
        Some(format!(
            "{head}{before}, {what} (RFC 3261 §18.4, §17.1.4: a failed connection is a transport error that ends the transaction with no response)"
        ))
    }

    /// The first final response, conflict or not (for the transaction's own use).
    pub(crate) fn final_response_raw(&self) -> Option<&SipMessage> {
        self.final_index
            .and_then(|i| self.responses.get(i))
            .and_then(|r| r.msg.as_ref().ok())
    }
}

/// Whether `later`, a response on the same transaction as the final `first`,
/// is a different final response rather than its retransmission: another
/// status code, or another To tag (another answer, RFC 3261 §8.2.6.2).
pub fn conflicts(first: &SipMessage, later: &SipMessage) -> bool {
    let Some(code) = later.status() else {
        return false;
    };
    code >= 200 && (Some(code) != first.status() || later.to_tag() != first.to_tag())
}
