//! The presence server a presence-client SUT publishes to: an event state
//! compositor (ESC, RFC 3903 §6 as implementations quote it) for the
//! `presence` event package, behind the harness IMS core, which sends it
//! the SUT's PUBLISH for the user's own AoR (the S-CSCF's filter
//! criteria). It answers as an ESC does and keeps every PUBLISH as it
//! arrived; the steps judge them.
//!
//! - A PUBLISH without SIP-If-Match (an initial publication) is answered
//!   200 with a fresh SIP-ETag and the Expires granted: the one asked (or
//!   [`DEFAULT_EXPIRES`] when none is asked), shortened to the scenario's
//!   cap when it sets one (RFC 3903 §6 step 4 lets the ESC shorten it).
//! - One whose SIP-If-Match names an entity tag this ESC gave is answered
//!   200 with a new SIP-ETag (a refresh, a modification), or 200 with
//!   Expires 0 for a removal; the tag it named names nothing after that.
//!   One naming a tag it never gave, or one no longer current, 412.
//! - A scenario may have the next conditional PUBLISH refused with 412
//!   (the publication it names lost, as after a server restart): the
//!   client must then publish anew.
//! - Anything else with a body that is not `application/pidf+xml` is
//!   answered 415 with Accept; a request other than PUBLISH, 405.
//!
//! Entity tags given and PUBLISHes kept are bounded ([`MAX_KEPT`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::presence::PIDF_TYPE;
use crate::codec::sip::{response_to, token, SipMessage};
use crate::net::{lock, Incoming, SipEndpoint};

/// The Expires granted to a PUBLISH that asks for none (RFC 3903 leaves
/// the default to the event package; an hour is the common choice).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Most PUBLISHes and entity tags kept.
pub const MAX_KEPT: usize = 4096;

/// One PUBLISH that arrived and how it was answered.
#[derive(Debug, Clone)]
pub struct Publication {
    pub incoming: Incoming,
    /// The status answered.
    pub status: u16,
    /// The SIP-ETag given (2xx).
    pub etag: Option<String>,
    /// The Expires granted (2xx).
    pub granted: Option<u32>,
    /// When the answer went.
    pub answered_at: Instant,
    /// A copy of a PUBLISH answered before (same branch): answered again
    /// with the same response.
    pub retransmission: bool,
}

/// What a scenario asks of the ESC.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plan {
    /// Grant at most this many seconds.
    pub cap: Option<u32>,
    /// Refuse the next PUBLISH that carries SIP-If-Match with 412.
    pub refuse_next_conditional: bool,
}

#[derive(Default)]
struct State {
    log: VecDeque<Publication>,
    dropped: u64,
    issued: VecDeque<String>,
    plan: Plan,
    /// Final responses by Via branch, for retransmissions.
    answered: VecDeque<(String, Vec<u8>)>,
}

/// The ESC over one endpoint.
pub struct Esc {
    pub ep: Arc<SipEndpoint>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Esc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn push_bounded<T>(q: &mut VecDeque<T>, v: T) -> bool {
    q.push_back(v);
    if q.len() > MAX_KEPT {
        q.pop_front();
        return true;
    }
    false
}

impl Esc {
    /// Answers every PUBLISH that reaches `ep`.
    pub fn start(ep: Arc<SipEndpoint>) -> Esc {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (state, notify, ep) = (state.clone(), notify.clone(), ep.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    let Ok(m) = inc.msg.clone() else { continue };
                    if m.method() == Some("ACK") {
                        continue;
                    }
                    let (bytes, p) = answer(&state, &inc, &m);
                    let _ = ep.send(inc.transport, inc.from, &bytes).await;
                    if let Some(p) = p {
                        let mut st = lock(&state);
                        if push_bounded(&mut st.log, p) {
                            st.dropped += 1;
                        }
                    }
                    notify.notify_waiters();
                }
            })
        };
        Esc {
            ep,
            state,
            notify,
            task,
        }
    }

    /// Sets what the ESC does from now on.
    pub fn plan(&self, p: Plan) {
        lock(&self.state).plan = p;
    }

    /// Every PUBLISH kept, oldest first.
    pub fn log(&self) -> Vec<Publication> {
        lock(&self.state).log.iter().cloned().collect()
    }

    /// Waits until `pred` holds for the log, or `deadline`.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Publication]) -> bool) -> bool {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if pred(&self.log()) {
                return true;
            }
            if tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), n)
                .await
                .is_err()
            {
                return pred(&self.log());
            }
        }
    }
}

/// The answer to one request, and what to keep of it (a PUBLISH).
fn answer(state: &Mutex<State>, inc: &Incoming, m: &SipMessage) -> (Vec<u8>, Option<Publication>) {
    let branch = m.top_via_branch().unwrap_or_default();
    let mut st = lock(state);
    if let Some((_, bytes)) = st.answered.iter().find(|(b, _)| *b == branch) {
        let bytes = bytes.clone();
        let p = (m.method() == Some("PUBLISH")).then(|| Publication {
            incoming: inc.clone(),
            status: crate::codec::sip::SipMessage::parse(&bytes)
                .ok()
                .and_then(|r| r.status())
                .unwrap_or(0),
            etag: None,
            granted: None,
            answered_at: Instant::now(),
            retransmission: true,
        });
        return (bytes, p);
    }
    let tag = token();
    let reply = |code: u16| {
        response_to(m, code, crate::codec::sip::reason_phrase(code))
            .to_tag(&tag)
            .received_from(inc.from)
    };
    if m.method() != Some("PUBLISH") {
        let b = reply(405).header("Allow", "PUBLISH").build();
        return (b, None);
    }
    let if_match = m
        .header("SIP-If-Match")
        .map(crate::codec::presence::entity_tag);
    let asked: Option<u32> = m.header("Expires").and_then(|v| v.trim().parse().ok());
    let content_type = m.header("Content-Type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let (code, etag, granted) =
        if !m.body().is_empty() && content_type.as_deref() != Some(PIDF_TYPE) {
            (415, None, None)
        } else if let Some(t) = &if_match {
            if st.plan.refuse_next_conditional || !st.issued.iter().any(|i| i == t) {
                st.plan.refuse_next_conditional = false;
                (412, None, None)
            } else {
                // The publication's tag is replaced by a new one, or gone
                // with a removal: the old one names nothing from now on.
                st.issued.retain(|i| i != t);
                if asked == Some(0) {
                    (200, Some(t.clone()), Some(0))
                } else {
                    (200, Some(token()), Some(grant(asked, st.plan.cap)))
                }
            }
        } else if m.body().is_empty() {
            // An initial publication carries the state (RFC 3903 §4.2 as
            // quoted): without a body there is nothing to publish.
            (400, None, None)
        } else {
            (200, Some(token()), Some(grant(asked, st.plan.cap)))
        };
    let mut b = reply(code);
    if code == 415 {
        b = b.header("Accept", PIDF_TYPE);
    }
    if let (Some(e), Some(g)) = (&etag, granted) {
        b = b.header("SIP-ETag", e).header("Expires", &g.to_string());
        if g > 0 {
            push_bounded(&mut st.issued, e.clone());
        }
    }
    let bytes = b.build();
    push_bounded(&mut st.answered, (branch, bytes.clone()));
    let p = Publication {
        incoming: inc.clone(),
        status: code,
        etag,
        granted,
        answered_at: Instant::now(),
        retransmission: false,
    };
    (bytes, Some(p))
}

fn grant(asked: Option<u32>, cap: Option<u32>) -> u32 {
    let a = asked.unwrap_or(DEFAULT_EXPIRES);
    match cap {
        Some(c) => a.min(c),
        None => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Transport;

    fn publish(branch: &str, if_match: Option<&str>, expires: Option<u32>, body: &str) -> Incoming {
        let mut b = crate::codec::sip::request("PUBLISH", "sip:bob@liaison.test")
            .header(
                "Via",
                &format!("SIP/2.0/UDP 127.0.0.2:5060;branch={branch}"),
            )
            .header("From", "<sip:bob@liaison.test>;tag=f")
            .header("To", "<sip:bob@liaison.test>")
            .header("Call-ID", "c@x")
            .header("CSeq", "1 PUBLISH")
            .header("Event", "presence");
        if let Some(e) = expires {
            b = b.header("Expires", &e.to_string());
        }
        if let Some(t) = if_match {
            b = b.header("SIP-If-Match", t);
        }
        if !body.is_empty() {
            b = b.header("Content-Type", PIDF_TYPE).body(body.as_bytes());
        }
        let bytes = b.build();
        Incoming {
            msg: SipMessage::parse(&bytes),
            bytes,
            from: "127.0.0.2:5060".parse().unwrap(),
            transport: Transport::Udp,
            at: Instant::now(),
            note: None,
        }
    }

    fn run(st: &Mutex<State>, inc: &Incoming) -> Publication {
        let m = inc.msg.clone().unwrap();
        answer(st, inc, &m).1.unwrap()
    }

    #[test]
    fn tags_expires_and_412_as_an_esc() {
        let st = Mutex::<State>::default();
        let first = run(&st, &publish("z9hG4bK1", None, Some(60), "<presence/>"));
        assert_eq!((first.status, first.granted), (200, Some(60)));
        let e1 = first.etag.clone().unwrap();
        // A refresh with the tag: a new tag; the cap shortens what is granted.
        lock(&st).plan.cap = Some(2);
        let refresh = run(&st, &publish("z9hG4bK2", Some(&e1), Some(60), ""));
        assert_eq!((refresh.status, refresh.granted), (200, Some(2)));
        assert_ne!(refresh.etag.as_deref(), Some(e1.as_str()));
        // The replaced tag, and a tag it never gave: 412.
        assert_eq!(
            run(&st, &publish("z9hG4bK2a", Some(&e1), Some(60), "")).status,
            412
        );
        assert_eq!(
            run(&st, &publish("z9hG4bK3", Some("nope"), Some(60), "")).status,
            412
        );
        // The scenario's refusal takes the next conditional PUBLISH only.
        lock(&st).plan.refuse_next_conditional = true;
        let e2 = refresh.etag.unwrap();
        assert_eq!(
            run(&st, &publish("z9hG4bK4", Some(&e2), None, "<presence/>")).status,
            412
        );
        let again = run(&st, &publish("z9hG4bK5", Some(&e2), None, ""));
        assert_eq!((again.status, again.granted), (200, Some(2)));
        // No Expires asked: the default, within the cap.
        lock(&st).plan.cap = None;
        let dflt = run(&st, &publish("z9hG4bK6", None, None, "<presence/>"));
        assert_eq!(dflt.granted, Some(DEFAULT_EXPIRES));
        // A removal: 200 with Expires 0; the tag names nothing after it.
        let e3 = dflt.etag.unwrap();
        let removal = run(&st, &publish("z9hG4bK7", Some(&e3), Some(0), ""));
        assert_eq!((removal.status, removal.granted), (200, Some(0)));
        assert_eq!(
            run(&st, &publish("z9hG4bK9", Some(&e3), Some(60), "")).status,
            412
        );
        // An initial publication without a body: 400.
        assert_eq!(
            run(&st, &publish("z9hG4bK8", None, Some(60), "")).status,
            400
        );
    }

    #[test]
    fn a_copy_gets_the_same_answer_and_other_bodies_415() {
        let st = Mutex::<State>::default();
        let inc = publish("z9hG4bKa", None, Some(60), "<presence/>");
        let m = inc.msg.clone().unwrap();
        let (first, p) = answer(&st, &inc, &m);
        let (copy, q) = answer(&st, &inc, &m);
        assert_eq!(first, copy);
        assert!(!p.unwrap().retransmission && q.unwrap().retransmission);
        let text = crate::codec::sip::request("PUBLISH", "sip:bob@liaison.test")
            .header("Via", "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKb")
            .header("CSeq", "2 PUBLISH")
            .header("Content-Type", "text/plain")
            .body(b"open")
            .build();
        let inc = Incoming {
            msg: SipMessage::parse(&text),
            bytes: text,
            ..inc
        };
        let (bytes, p) = answer(&st, &inc, inc.msg.as_ref().unwrap());
        assert_eq!(p.unwrap().status, 415);
        let r = SipMessage::parse(&bytes).unwrap();
        assert_eq!(r.header("Accept"), Some(PIDF_TYPE));
    }
}
