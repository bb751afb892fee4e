//! The harness as an OTA-HTTP push target (a WAP 2.0 terminal's push
//! listener): it accepts HTTP connections from a PPG, keeps every request
//! exactly as it arrived with its arrival time, and answers each with 204 No
//! Content (the terminal's acceptance; no body). What it keeps is judged by
//! the steps, not here.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// One request (or bytes that were not one) from a PPG.
#[derive(Debug, Clone)]
pub struct OtaArrival {
    pub at: Instant,
    pub bytes: Vec<u8>,
    pub msg: Result<HttpMessage, String>,
}

impl OtaArrival {
    pub fn describe(&self) -> String {
        match &self.msg {
            Ok(_) => format!("HTTP request — bytes: {}", escape_bytes(&self.bytes, 600)),
            Err(e) => format!(
                "not an HTTP request ({e}) — bytes: {}",
                escape_bytes(&self.bytes, 300)
            ),
        }
    }
}

/// The push target.
pub struct OtaTarget {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<OtaArrival>>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OtaTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

impl OtaTarget {
    /// Listens at `addr` (loopback; port 0 picks one).
    pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<OtaTarget> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the harness listens on loopback only",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<OtaArrival>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (log, notify) = (log.clone(), notify.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(conn) = StreamConn::accepted(stream, capture.clone(), framer, 4 << 20)
                    else {
                        continue;
                    };
                    tokio::spawn(serve(conn, log.clone(), notify.clone()));
                }
            })
        };
        Ok(OtaTarget {
            addr,
            log,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn log(&self) -> Vec<OtaArrival> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[OtaArrival]) -> bool) -> bool {
        crate::roles::wait_until(&self.notify, deadline, || {
            if pred(&self.log()) {
                crate::roles::Check::Done
            } else {
                crate::roles::Check::Wait
            }
        })
        .await
    }
}

async fn serve(conn: StreamConn, log: Arc<Mutex<Vec<OtaArrival>>>, notify: Arc<Notify>) {
    loop {
        let Some(a) = conn
            .recv(Instant::now() + std::time::Duration::from_secs(3600))
            .await
        else {
            continue;
        };
        let (bytes, last, why) = match a.event {
            StreamEvent::Message(b) => (b, false, None),
            StreamEvent::Garbage(b, why) => (b, true, Some(why)),
            StreamEvent::Closed(b) => (b, true, None),
        };
        if !bytes.is_empty() {
            let msg = match why {
                Some(w) => Err(w),
                None if last => Err("the connection ended inside a request".into()),
                None => HttpMessage::parse(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|m| {
                        if m.method().is_some() {
                            Ok(m)
                        } else {
                            Err("a response, not a request".into())
                        }
                    }),
            };
            let ok = msg.is_ok();
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(OtaArrival {
                    at: a.at,
                    bytes,
                    msg,
                });
            notify.notify_waiters();
            if ok {
                let _ = conn
                    .send(&http::response(204, "No Content", &[], b""))
                    .await;
            }
        }
        if last {
            notify.notify_waiters();
            return;
        }
    }
}
