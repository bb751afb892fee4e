//! The harness as a SIP push agent facing a push-client SUT (Push over SIP).
//!
//! - A push is a pager-mode MESSAGE whose body is the content itself, with
//!   its own Content-Type, and whose application travels as the
//!   `+g.oma.pusheventapp` feature tag in `Accept-Contact` with `require`
//!   and `explicit` ([`push_message`]); the steps send it with a plain
//!   [`Ua`] client transaction.
//! - The SUBSCRIBE/NOTIFY variant ([`PushAgent`]): the push client subscribes
//!   to a content-push event package at the agent (RFC 6665); the agent
//!   accepts with 200, sends the initial NOTIFY at once (§4.2.1.2) and later
//!   NOTIFYs carrying content, all in the subscription's dialog. A real SUT
//!   is configured with the agent's address and subscribes when it starts,
//!   so the agent lives for the whole run ([`PushClientHarness`]), like the
//!   interworking function's SMSC.
//! - The upper tester ([`crate::roles::upper_tester`]) sees what the client
//!   hands to its applications.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::sip::{
    header_param, reason_phrase, request, response_to, token, uri_of, SipMessage,
};
use crate::codec::sip_push::accept_contact;
use crate::net::{Incoming, SipEndpoint, Transport};
use crate::roles::transaction::{non_invite_client, Bounds, ClientResult, Timers};
use crate::roles::ua::{Outgoing, Ua};

/// A push MESSAGE for `app` (RFC 3428 request, RFC 3841 Accept-Contact).
pub fn push_message(
    ua: &Ua,
    t: Transport,
    request_uri: &str,
    app: &str,
    content_type: &str,
    body: &[u8],
) -> Outgoing {
    let ac = accept_contact(app);
    ua.message_with(
        t,
        request_uri,
        request_uri,
        content_type,
        body,
        &[("Accept-Contact", ac.as_str())],
    )
}

/// A subscription a push client holds at the agent (the notifier's side of
/// the dialog, RFC 6665 §4.2).
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The SUBSCRIBE exactly as it arrived.
    pub subscribe: Incoming,
    /// Its Event header value, as sent.
    pub event: String,
    pub call_id: String,
    /// The subscriber's From (with its tag): our To.
    pub remote: String,
    /// The SUBSCRIBE's To with our tag: our From.
    pub local: String,
    /// Where NOTIFYs go: the SUBSCRIBE's Contact (RFC 3261 §12.1.1), or
    /// None when it names no address the harness may send to (`net::permitted`).
    pub dst: Option<(SocketAddr, Transport)>,
    pub target: String,
    /// The granted duration, seconds.
    pub expires: u32,
    /// The initial NOTIFY's transaction, once it has ended.
    pub initial: Option<ClientResult>,
    cseq: u32,
}

#[derive(Default)]
struct State {
    /// Every request that reached the agent.
    log: Vec<Incoming>,
    subs: Vec<Subscription>,
    /// Final responses by transaction key (branch|method), to absorb retransmissions.
    finals: HashMap<String, Vec<u8>>,
}

/// The push agent's SIP side.
pub struct PushAgent {
    pub ep: Arc<SipEndpoint>,
    timers: Timers,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

use crate::net::lock;

/// The loopback address and transport a SIP URI names (default port 5060).
fn target_addr(uri: &str) -> Option<(SocketAddr, Transport)> {
    let uri = uri.trim().trim_start_matches('<').trim_end_matches('>');
    let rest = uri.split_once(':')?.1;
    let hostport = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let host = hostport
        .split([';', '?', '>'])
        .next()
        .unwrap_or_default()
        .trim();
    let addr: SocketAddr = host
        .parse()
        .ok()
        .or_else(|| format!("{host}:5060").parse().ok())
        .or_else(|| format!("[{host}]:5060").parse().ok())?;
    if !crate::net::permitted(addr.ip()) {
        return None;
    }
    let t = if uri.to_ascii_lowercase().contains("transport=tcp") {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    Some((addr, t))
}

impl PushAgent {
    pub fn start(ep: Arc<SipEndpoint>, timers: Timers) -> PushAgent {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (ep, state, notify) = (ep.clone(), state.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    handle(&ep, timers, &state, &notify, inc).await;
                    notify.notify_waiters();
                }
            })
        };
        PushAgent {
            ep,
            timers,
            state,
            notify,
            task,
        }
    }

    /// Every request that reached the agent, in order.
    pub fn log(&self) -> Vec<Incoming> {
        lock(&self.state).log.clone()
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        lock(&self.state).subs.clone()
    }

    /// Waits until `pred` holds for the subscriptions, or `deadline` passes.
    pub async fn wait_for(
        &self,
        deadline: Instant,
        pred: impl Fn(&[Subscription]) -> bool,
    ) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.subscriptions()) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }

    /// Sends a NOTIFY carrying `body` in subscription `index`'s dialog and
    /// runs its client transaction. Returns the request bytes and the outcome.
    pub async fn notify_content(
        &self,
        index: usize,
        content_type: &str,
        body: &[u8],
        deadline: Instant,
    ) -> Result<ClientResult, String> {
        let (bytes, branch, dst) = {
            let mut st = lock(&self.state);
            let Some(sub) = st.subs.get_mut(index) else {
                return Err("no such subscription".into());
            };
            let Some(dst) = sub.dst else {
                return Err(format!(
                    "the SUBSCRIBE's Contact `{}` names no address the harness may send to (loopback, or the lab network's)",
                    sub.target
                ));
            };
            sub.cseq += 1;
            let (bytes, branch) = notify_request(&self.ep, sub, Some((content_type, body)));
            (bytes, branch, dst)
        };
        let bounds = Bounds {
            timers: self.timers,
            deadline,
            linger: Duration::ZERO,
        };
        Ok(non_invite_client(&self.ep, dst.1, dst.0, bytes, &branch, bounds).await)
    }
}

/// A NOTIFY in `sub`'s dialog with its current CSeq (RFC 6665 §4.2.1.4 /
/// §8.2.3: Event as subscribed, Subscription-State active with the time left).
fn notify_request(
    ep: &SipEndpoint,
    sub: &Subscription,
    content: Option<(&str, &[u8])>,
) -> (Vec<u8>, String) {
    let t = sub.dst.map(|d| d.1).unwrap_or(Transport::Udp);
    let branch = format!("z9hG4bK{}", token());
    let mut b = request("NOTIFY", &sub.target)
        .header(
            "Via",
            &format!(
                "SIP/2.0/{} {};branch={branch};rport",
                t.via_name(),
                ep.addr(t)
            ),
        )
        .header("Max-Forwards", "70")
        .header("From", &sub.local)
        .header("To", &sub.remote)
        .header("Call-ID", &sub.call_id)
        .header("CSeq", &format!("{} NOTIFY", sub.cseq))
        .header("Contact", &format!("<sip:push-agent@{}>", ep.addr(t)))
        .header("Event", &sub.event)
        .header(
            "Subscription-State",
            &format!("active;expires={}", sub.expires),
        );
    if let Some((ct, body)) = content {
        b = b.header("Content-Type", ct).body(body);
    }
    (b.build(), branch)
}

async fn handle(
    ep: &Arc<SipEndpoint>,
    timers: Timers,
    state: &Arc<Mutex<State>>,
    notify: &Arc<Notify>,
    inc: Incoming,
) {
    let Ok(msg) = inc.msg.clone() else { return };
    let method = msg.method().unwrap_or_default().to_string();
    let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
    let again = {
        let mut st = lock(state);
        st.log.push(inc.clone());
        st.finals.get(&key).cloned()
    };
    if method == "ACK" {
        return;
    }
    if let Some(bytes) = again {
        // §17.2.2: a retransmission gets the same final response.
        let _ = ep.send(inc.transport, inc.from, &bytes).await;
        return;
    }
    let tag = token();
    let (bytes, new_sub) = match method.as_str() {
        "SUBSCRIBE" => subscribe(ep, &msg, &inc, &tag),
        "REGISTER" => {
            let mut b = response_to(&msg, 200, "OK")
                .to_tag(&tag)
                .received_from(inc.from);
            if let Some(c) = msg.header("Contact") {
                b = b.header("Contact", c);
            }
            (b.build(), None)
        }
        "OPTIONS" => (
            response_to(&msg, 200, "OK")
                .to_tag(&tag)
                .received_from(inc.from)
                .header("Allow", "SUBSCRIBE, REGISTER, OPTIONS")
                .build(),
            None,
        ),
        _ => (
            response_to(&msg, 405, reason_phrase(405))
                .to_tag(&tag)
                .received_from(inc.from)
                .header("Allow", "SUBSCRIBE, REGISTER, OPTIONS")
                .build(),
            None,
        ),
    };
    lock(state).finals.insert(key, bytes.clone());
    let _ = ep.send(inc.transport, inc.from, &bytes).await;
    let Some(sub) = new_sub else { return };
    // The initial NOTIFY (RFC 6665 §4.2.1.2), in its own task.
    let index = {
        let mut st = lock(state);
        st.subs.push(sub.clone());
        st.subs.len() - 1
    };
    notify.notify_waiters();
    let (ep, state, notify) = (ep.clone(), state.clone(), notify.clone());
    tokio::spawn(async move {
        let Some(dst) = sub.dst else { return };
        let (bytes, branch) = notify_request(&ep, &sub, None);
        let bounds = Bounds {
            timers,
            deadline: Instant::now() + timers.f(),
            linger: Duration::ZERO,
        };
        let r = non_invite_client(&ep, dst.1, dst.0, bytes, &branch, bounds).await;
        if let Some(s) = lock(&state).subs.get_mut(index) {
            s.initial = Some(r);
        }
        notify.notify_waiters();
    });
}

/// Accepts a SUBSCRIBE: 200 with our tag, Contact and the granted Expires;
/// a refresh inside an existing dialog is answered the same way.
fn subscribe(
    ep: &SipEndpoint,
    msg: &SipMessage,
    inc: &Incoming,
    tag: &str,
) -> (Vec<u8>, Option<Subscription>) {
    let Some(event) = msg.header("Event").map(str::to_string) else {
        // RFC 6665 §8.2.1: no Event header means no known package.
        return (
            response_to(msg, 489, "Bad Event")
                .to_tag(tag)
                .received_from(inc.from)
                .header("Allow-Events", "*")
                .build(),
            None,
        );
    };
    let expires: u32 = msg
        .header("Expires")
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or(3600)
        .min(3600);
    let t = inc.transport;
    let to_tag = msg.to_tag();
    let local = match &to_tag {
        Some(_) => msg.header("To").unwrap_or_default().to_string(),
        None => format!("{};tag={tag}", msg.header("To").unwrap_or_default()),
    };
    let ok = response_to(msg, 200, "OK")
        .to_tag(tag)
        .received_from(inc.from)
        .header("Contact", &format!("<sip:push-agent@{}>", ep.addr(t)))
        .header("Expires", &expires.to_string())
        .build();
    if to_tag.is_some() || expires == 0 {
        return (ok, None);
    }
    let target = msg
        .header("Contact")
        .and_then(uri_of)
        .unwrap_or_else(|| format!("sip:{}", inc.from));
    // Over TLS the NOTIFYs go back on the subscriber's connection (RFC 3261
    // §18.2.2, RFC 5626 §5): a TLS client takes no connections.
    let dst = if inc.transport == Transport::Tls {
        Some((inc.from, Transport::Tls))
    } else {
        target_addr(&target)
    };
    let dst = dst.map(|(a, tr)| {
        // Over TCP the harness reuses the subscriber's connection when it can.
        if inc.transport == Transport::Tcp && header_param(&target, "transport").is_none() {
            (a, Transport::Tcp)
        } else {
            (a, tr)
        }
    });
    let sub = Subscription {
        subscribe: inc.clone(),
        event: event.clone(),
        call_id: msg.call_id().unwrap_or_default().to_string(),
        remote: msg.header("From").unwrap_or_default().to_string(),
        local,
        dst,
        target,
        expires,
        initial: None,
        cseq: 1,
    };
    (ok, Some(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            target_addr("sip:d@127.0.0.1:5070"),
            Some(("127.0.0.1:5070".parse().unwrap(), Transport::Udp))
        );
        assert_eq!(
            target_addr("sip:d@127.0.0.1;transport=tcp"),
            Some(("127.0.0.1:5060".parse().unwrap(), Transport::Tcp))
        );
        assert_eq!(
            target_addr("sip:d@[::1]:5070"),
            Some(("[::1]:5070".parse().unwrap(), Transport::Udp))
        );
        assert_eq!(target_addr("sip:d@192.0.2.1:5070"), None);
        assert_eq!(target_addr("sip:d@example.com"), None);
    }
}
