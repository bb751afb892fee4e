//! The push client's upper tester: the harness standing in for the push
//! applications on the device. What the push client hands to an application
//! is internal to it, so a push-client SUT that wants that hand-over judged
//! declares an upper-tester address (profile `push_client.upper_tester`) and
//! reports each hand-over there as an HTTP request:
//!
//! ```text
//! POST /push/<application id> HTTP/1.1
//! Content-Type: <the pushed content's type, as it gives it to the application>
//! Content-Length: …
//!
//! <the content, as it gives it to the application>
//! ```
//!
//! The harness answers 204 and keeps every request exactly as it arrived;
//! the steps judge it. (The suite's declared reading of an interface the
//! seeds leave to the implementation, like the interworking function's.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::codec::escape_bytes;
use crate::codec::http::{self, HttpMessage};
use crate::net::capture::Capture;
use crate::net::stream::{StreamConn, StreamEvent};

/// One hand-over report (or bytes that were not one).
#[derive(Debug, Clone)]
pub struct Handover {
    pub at: Instant,
    pub bytes: Vec<u8>,
    pub msg: Result<HttpMessage, String>,
}

impl Handover {
    /// The application named by the request target `/push/<app>`.
    pub fn app(&self) -> Option<String> {
        let m = self.msg.as_ref().ok()?;
        let target = m.target()?;
        target.strip_prefix("/push/").map(str::to_string)
    }

    pub fn content_type(&self) -> Option<String> {
        self.msg
            .as_ref()
            .ok()?
            .header("Content-Type")
            .map(|v| v.trim().to_string())
    }

    pub fn body(&self) -> &[u8] {
        self.msg.as_ref().map(|m| m.body.as_slice()).unwrap_or(&[])
    }

    pub fn describe(&self) -> String {
        match &self.msg {
            Ok(_) => format!("HTTP request — bytes: {}", escape_bytes(&self.bytes, 400)),
            Err(e) => format!(
                "not an HTTP request ({e}) — bytes: {}",
                escape_bytes(&self.bytes, 300)
            ),
        }
    }
}

/// The upper-tester listener.
pub struct UpperTester {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Handover>>>,
    notify: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UpperTester {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn framer(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    http::next_frame(buf, max).map_err(|e| e.to_string())
}

impl UpperTester {
    /// Listens at `addr` (loopback; port 0 picks one).
    pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<UpperTester> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the harness listens on loopback only",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<Handover>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let task = {
            let (log, notify) = (log.clone(), notify.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Ok(conn) = StreamConn::accepted(stream, capture.clone(), framer, 1 << 20)
                    else {
                        continue;
                    };
                    tokio::spawn(serve(conn, log.clone(), notify.clone()));
                }
            })
        };
        Ok(UpperTester {
            addr,
            log,
            notify,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn log(&self) -> Vec<Handover> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `pred` holds for the log or `deadline` passes.
    pub async fn wait_for(&self, deadline: Instant, pred: impl Fn(&[Handover]) -> bool) -> bool {
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

async fn serve(conn: StreamConn, log: Arc<Mutex<Vec<Handover>>>, notify: Arc<Notify>) {
    loop {
        // An idle connection is dropped after a minute; the SUT reconnects.
        let Some(a) = conn.recv(Instant::now() + Duration::from_secs(60)).await else {
            return;
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
                .push(Handover {
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
