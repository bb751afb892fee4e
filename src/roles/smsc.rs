//! The harness as SMSC (SMPP 3.4 server): the SUT binds to it as an ESME.
//! It answers binds (checking the declared system_id and password),
//! enquire_link, submit_sm (with a message id of its own) and unbind; it sends
//! deliver_sm on request; and it keeps every PDU that arrives, raw, with its
//! arrival time, so steps can judge content and order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::codec::smpp::{self, command, status, Body, Pdu, Sm};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// One PDU (or garbage) that arrived from an ESME.
#[derive(Debug, Clone)]
pub struct SmppArrival {
    pub at: Instant,
    pub bytes: Vec<u8>,
    pub pdu: Result<Pdu, String>,
}

impl SmppArrival {
    pub fn describe(&self) -> String {
        match &self.pdu {
            Ok(p) => format!(
                "{} — bytes: {}",
                p.summary(),
                smpp::hex_dump(&self.bytes).replace('\n', " ")
            ),
            Err(e) => format!(
                "not an SMPP PDU ({e}) — bytes: {}",
                crate::codec::escape_bytes(&self.bytes, 200)
            ),
        }
    }
}

#[derive(Default)]
struct State {
    conn: Option<Arc<StreamConn>>,
    bound: bool,
    log: Vec<SmppArrival>,
    /// Every deliver_sm sent: (sequence number, destination_addr).
    sent: Vec<(u32, String)>,
    next_seq: u32,
    next_id: u64,
}

/// The harness SMSC.
pub struct Smsc {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Smsc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

use crate::net::lock;

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    smpp::next_frame(buf, max as u32).map_err(|e| e.to_string())
}

impl Smsc {
    /// Listens at `addr` (loopback; port 0 picks one). `credentials`: the
    /// system_id and password the SUT must bind with.
    pub async fn start(
        addr: std::net::SocketAddr,
        capture: Capture,
        credentials: (String, String),
    ) -> std::io::Result<Smsc> {
        let listener = crate::net::listen_permitted(addr).await?;
        let addr = listener.local_addr()?;
        let state: Arc<Mutex<State>> = Arc::new(Mutex::new(State {
            next_seq: 1,
            next_id: 1,
            ..Default::default()
        }));
        let notify = Arc::new(Notify::new());
        let task = {
            let (state, notify) = (state.clone(), notify.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(conn) = StreamConn::accepted(stream, capture.clone(), framer, 64 * 1024)
                    else {
                        continue;
                    };
                    let conn = Arc::new(conn);
                    let (state, notify, creds) =
                        (state.clone(), notify.clone(), credentials.clone());
                    tokio::spawn(async move { serve(conn, state, notify, creds).await });
                }
            })
        };
        Ok(Smsc {
            addr,
            state,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Waits until an ESME is bound.
    pub async fn wait_bound(&self, deadline: Instant) -> bool {
        self.wait_for(deadline, |_| true, true).await
    }

    /// Is an ESME bound now?
    pub fn bound(&self) -> bool {
        lock(&self.state).bound
    }

    /// Sends a deliver_sm to the bound ESME; returns its sequence number.
    pub async fn deliver(&self, sm: &Sm) -> Result<u32, String> {
        let (conn, seq) = {
            let mut st = lock(&self.state);
            let seq = st.next_seq;
            st.next_seq += 1;
            (st.conn.clone(), seq)
        };
        let conn = conn.ok_or("no ESME is bound to the harness SMSC")?;
        lock(&self.state)
            .sent
            .push((seq, sm.destination_addr.clone()));
        conn.send(&smpp::deliver_sm(seq, sm))
            .await
            .map_err(|e| format!("deliver_sm not sent: {e}"))?;
        Ok(seq)
    }

    /// The SMS (deliver_sm sequence number and destination_addr) the ESME
    /// gave `message_id` to in its deliver_sm_resp, over the whole run: a
    /// message id is what correlates a later report with its SMS.
    pub fn owner_of(&self, message_id: &str) -> Option<(u32, String)> {
        let st = lock(&self.state);
        let seq = st.log.iter().find_map(|a| match &a.pdu {
            Ok(p) if p.header.command_id == command::DELIVER_SM_RESP => match &p.body {
                Body::DeliverSmResp { message_id: m } if m == message_id => {
                    Some(p.header.sequence_number)
                }
                _ => None,
            },
            _ => None,
        })?;
        st.sent.iter().find(|(s, _)| *s == seq).cloned()
    }

    /// Resolves at the next change of the log or the binding (create it
    /// before looking, so a change in between is not missed).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// Everything that arrived so far.
    pub fn log(&self) -> Vec<SmppArrival> {
        lock(&self.state).log.clone()
    }

    /// Waits until `pred` holds (and, with `need_bound`, an ESME is bound).
    pub async fn wait_for(
        &self,
        deadline: Instant,
        pred: impl Fn(&[SmppArrival]) -> bool,
        need_bound: bool,
    ) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            let st = lock(&self.state);
            if (!need_bound || st.bound) && pred(&st.log) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}

async fn serve(
    conn: Arc<StreamConn>,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    creds: (String, String),
) {
    loop {
        let Some(a) = conn.recv(Instant::now() + Duration::from_secs(3600)).await else {
            continue;
        };
        let (bytes, last) = match a.event {
            StreamEvent::Message(b) => (b, false),
            StreamEvent::Garbage(b, _) | StreamEvent::Closed(b) => (b, true),
        };
        if last {
            let mut st = lock(&state);
            if st.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                st.conn = None;
                st.bound = false;
            }
            if !bytes.is_empty() {
                st.log.push(SmppArrival {
                    at: a.at,
                    pdu: Err("bytes left when the connection ended".into()),
                    bytes,
                });
            }
            drop(st);
            notify.notify_waiters();
            return;
        }
        let pdu = Pdu::parse(&bytes).map_err(|e| e.to_string());
        lock(&state).log.push(SmppArrival {
            at: a.at,
            bytes,
            pdu: pdu.clone(),
        });
        if let Ok(p) = pdu {
            let seq = p.header.sequence_number;
            let reply = match (&p.header.command_id, &p.body) {
                (&command::BIND_TRANSCEIVER, Body::Bind(b))
                | (&command::BIND_TRANSMITTER, Body::Bind(b))
                | (&command::BIND_RECEIVER, Body::Bind(b)) => {
                    let ok = b.system_id == creds.0 && b.password == creds.1;
                    let st = if ok {
                        status::ESME_ROK
                    } else {
                        status::ESME_RBINDFAIL
                    };
                    if ok {
                        let mut s = lock(&state);
                        s.conn = Some(conn.clone());
                        s.bound = true;
                    }
                    Some(smpp::bind_resp(&p, st, "liaison-smsc"))
                }
                (&command::ENQUIRE_LINK, _) => Some(smpp::enquire_link_resp(seq)),
                (&command::SUBMIT_SM, _) => {
                    let id = {
                        let mut s = lock(&state);
                        s.next_id += 1;
                        format!("smsc{}", s.next_id)
                    };
                    Some(smpp::submit_sm_resp(seq, status::ESME_ROK, &id))
                }
                (&command::UNBIND, _) => Some(smpp::unbind_resp(seq)),
                (id, _) if id & command::RESP != 0 => None,
                _ => Some(smpp::generic_nack(seq, status::ESME_RINVCMDID)),
            };
            if let Some(r) = reply {
                let _ = conn.send(&r).await;
            }
        }
        notify.notify_waiters();
    }
}
