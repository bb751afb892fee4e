//! The harness's presence users: a presentity that publishes (RFC 3903
//! PUBLISH) and a watcher that subscribes (RFC 6665 SUBSCRIBE, `presence`
//! or `presence.winfo`) and answers every NOTIFY of its dialogs with 200,
//! logging each one raw. Requests are built here as exact bytes and sent
//! through [`Ua::send`] (a non-INVITE client transaction); where they go
//! (the IMS core, with a preloaded Route to the presence server, or the
//! server itself) is the caller's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::sip::{request, response_to, token, SipMessage};
use crate::net::{Incoming, Transport};
use crate::roles::ua::{Outgoing, Ua};

/// Most requests a [`Listener`] keeps; past it the oldest go.
pub const MAX_LOGGED: usize = 256;

/// What a presence request carries besides its start line and dialog.
#[derive(Debug, Clone, Default)]
pub struct Extra<'a> {
    /// Route values, first first (a preloaded route to the server).
    pub route: Vec<String>,
    /// Other header fields, in order.
    pub headers: Vec<(&'a str, String)>,
}

/// A request of `ua` outside any dialog: SUBSCRIBE or PUBLISH to
/// `request_uri`, To `to`, with `extra` and `body` (of `content_type`).
pub fn out_of_dialog(
    ua: &Ua,
    t: Transport,
    method: &str,
    request_uri: &str,
    to: &str,
    extra: &Extra<'_>,
    body: Option<(&str, &[u8])>,
) -> Outgoing {
    let branch = format!("z9hG4bK{}", token());
    let call_id = format!("{}@liaison", token());
    let mut b = request(method, request_uri).header(
        "Via",
        &format!(
            "SIP/2.0/{} {};branch={branch};rport",
            t.via_name(),
            ua.sent_by(t)
        ),
    );
    for r in &extra.route {
        b = b.header("Route", r);
    }
    b = b
        .header("Max-Forwards", "70")
        .header("From", &format!("<{}>;tag={}", ua.aor, token()))
        .header("To", &format!("<{to}>"))
        .header("Call-ID", &call_id)
        .header("CSeq", &format!("1 {method}"));
    if method == "SUBSCRIBE" {
        b = b.header("Contact", &ua.contact(t));
    }
    for (n, v) in &extra.headers {
        b = b.header(n, v);
    }
    if let Some((ct, bytes)) = body {
        b = b.header("Content-Type", ct).body(bytes);
    }
    Outgoing {
        bytes: b.build(),
        branch,
        call_id,
    }
}

/// A request that reached a presence user.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub incoming: Incoming,
    /// Same transaction as an earlier one (answered again, not new).
    pub retransmission: bool,
}

#[derive(Default)]
struct State {
    log: Vec<Arrival>,
}

/// Answers the requests that reach one harness endpoint: NOTIFY with 200
/// (RFC 6665 §4.1.3: the subscriber accepts the NOTIFYs of its
/// subscriptions), anything else with 405; logs every one.
pub struct Listener {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(m: &SipMessage) -> String {
    format!(
        "{}|{}",
        m.top_via_branch().unwrap_or_default(),
        m.method().unwrap_or_default()
    )
}

impl Listener {
    pub fn start(ua: Arc<Ua>) -> Listener {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (state, notify) = (state.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ua.ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    let Ok(m) = inc.msg.clone() else { continue };
                    if m.method() == Some("ACK") {
                        continue;
                    }
                    let k = key(&m);
                    {
                        let mut st = crate::net::lock(&state);
                        let retransmission = st
                            .log
                            .iter()
                            .any(|a| a.incoming.msg.as_ref().is_ok_and(|x| key(x) == k));
                        st.log.push(Arrival {
                            incoming: inc.clone(),
                            retransmission,
                        });
                        if st.log.len() > MAX_LOGGED {
                            st.log.remove(0);
                        }
                    }
                    // The same answer for a retransmission: no fresh tag
                    // (the NOTIFY's To carries the subscriber's own).
                    let code = if m.method() == Some("NOTIFY") {
                        200
                    } else {
                        405
                    };
                    let mut b = response_to(&m, code, crate::codec::sip::reason_phrase(code))
                        .received_from(inc.from);
                    if code == 405 {
                        b = b.header("Allow", "NOTIFY");
                    }
                    let _ = ua.ep.send(inc.transport, inc.from, &b.build()).await;
                    notify.notify_waiters();
                }
            })
        };
        Listener {
            state,
            notify,
            task,
        }
    }

    /// Every request that arrived, retransmissions included.
    pub fn log(&self) -> Vec<Arrival> {
        crate::net::lock(&self.state).log.clone()
    }

    /// The new NOTIFYs of dialog `call_id` (retransmissions left out).
    pub fn notifies(&self, call_id: &str) -> Vec<(Incoming, SipMessage)> {
        self.log()
            .into_iter()
            .filter(|a| !a.retransmission)
            .filter_map(|a| {
                let m = a.incoming.msg.clone().ok()?;
                (m.method() == Some("NOTIFY") && m.call_id() == Some(call_id))
                    .then_some((a.incoming, m))
            })
            .collect()
    }

    /// Waits until `pred` holds for the NOTIFYs of `call_id`, or `deadline`.
    pub async fn wait_for(
        &self,
        call_id: &str,
        deadline: Instant,
        pred: impl Fn(&[(Incoming, SipMessage)]) -> bool,
    ) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.notifies(call_id)) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}
