//! The harness as the recipient side of an IMS network, for SUTs that send
//! SIP MESSAGEs towards IM users identified by MSISDN (an SMS–IM
//! interworking function). One SIP address (the SUT's outbound proxy) stands
//! for the IMS core and the recipients' clients: each MESSAGE is routed by the
//! number in its Request-URI (tel: or sip:+number@…;user=phone) to the answer
//! a scenario set for that number. Server transactions absorb retransmissions
//! (RFC 3261 §17.2.2). Everything that arrives is logged with its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::sip::{response_to, token};
use crate::net::{Incoming, SipEndpoint};
use crate::roles::ua::Answer;

/// One MESSAGE that reached the harness IMS core.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Digits of the recipient number.
    pub number: String,
    pub incoming: Incoming,
    pub retransmission: bool,
    /// The final response the harness sent, and when.
    pub answered: Option<(u16, Instant)>,
}

#[derive(Default)]
struct State {
    answers: HashMap<String, Answer>,
    /// Transaction keys seen (branch|method), to spot retransmissions.
    seen: std::collections::HashSet<String>,
    log: Vec<Delivered>,
    finals: HashMap<String, Vec<u8>>,
}

/// The harness IMS core.
pub struct ImsCore {
    pub ep: Arc<SipEndpoint>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ImsCore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The digits of the number a Request-URI names (`tel:+1555…`, `sip:+1555…@h;user=phone`).
pub fn number_of(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let user = rest.split(['@', ';', '?']).next()?;
    let digits: String = user.chars().filter(|c| c.is_ascii_digit()).collect();
    (!digits.is_empty()).then_some(digits)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        404 => "Not Found",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        603 => "Decline",
        _ => "Response",
    }
}

impl ImsCore {
    pub fn start(ep: Arc<SipEndpoint>) -> ImsCore {
        let state: Arc<Mutex<State>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (ep, state, notify) = (ep.clone(), state.clone(), notify.clone());
            tokio::spawn(async move {
                loop {
                    let Some(inc) = ep.next_request(Duration::from_secs(3600)).await else {
                        continue;
                    };
                    handle(&ep, &state, inc).await;
                    notify.notify_waiters();
                }
            })
        };
        ImsCore {
            ep,
            state,
            notify,
            task,
        }
    }

    /// How MESSAGEs to `number` (digits) are answered from now on.
    pub fn set_answer(&self, number: &str, a: Answer) {
        lock(&self.state).answers.insert(number.to_string(), a);
    }

    pub fn log(&self) -> Vec<Delivered> {
        lock(&self.state).log.clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Delivered]) -> bool) -> bool {
        loop {
            let notified = self.notify.notified();
            if pred(&self.log()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let _ =
                tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), notified)
                    .await;
        }
    }
}

async fn handle(ep: &Arc<SipEndpoint>, state: &Arc<Mutex<State>>, inc: Incoming) {
    let Ok(msg) = inc.msg.clone() else { return };
    let method = msg.method().unwrap_or_default().to_string();
    if method == "ACK" {
        return;
    }
    let key = format!("{}|{method}", msg.top_via_branch().unwrap_or_default());
    let number = msg.request_uri().and_then(number_of).unwrap_or_default();
    let (retrans, stored, answer) = {
        let mut st = lock(state);
        let retrans = !st.seen.insert(key.clone());
        st.log.push(Delivered {
            number: number.clone(),
            incoming: inc.clone(),
            retransmission: retrans,
            answered: None,
        });
        (
            retrans,
            st.finals.get(&key).cloned(),
            st.answers.get(&number).cloned(),
        )
    };
    if retrans {
        if let Some(b) = stored {
            let _ = ep.send(inc.transport, inc.from, &b).await;
        }
        return;
    }
    let (code, delay) = match method.as_str() {
        "MESSAGE" => match answer.unwrap_or(Answer::Respond {
            code: 404,
            delay: Duration::ZERO,
        }) {
            Answer::Respond { code, delay } => (code, delay),
            Answer::Silent => return,
        },
        "OPTIONS" => (200, Duration::ZERO),
        _ => (405, Duration::ZERO),
    };
    let bytes = response_to(&msg, code, reason(code))
        .to_tag(&token())
        .build();
    let (ep, state) = (ep.clone(), state.clone());
    let send = async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        {
            let mut st = lock(&state);
            st.finals.insert(key.clone(), bytes.clone());
            let at = Instant::now();
            if let Some(d) = st.log.iter_mut().rev().find(|d| {
                !d.retransmission
                    && d.incoming.msg.as_ref().is_ok_and(|m| {
                        format!(
                            "{}|{}",
                            m.top_via_branch().unwrap_or_default(),
                            m.method().unwrap_or_default()
                        ) == key
                    })
            }) {
                d.answered = Some((code, at));
            }
        }
        let _ = ep.send(inc.transport, inc.from, &bytes).await;
    };
    if delay.is_zero() {
        send.await;
    } else {
        tokio::spawn(send);
    }
}
