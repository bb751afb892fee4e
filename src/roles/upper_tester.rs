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

use crate::net::capture::Capture;
pub use crate::roles::http_server::{HttpArrival as Handover, HttpServer as UpperTester};

/// Listens at `addr` (loopback; port 0 picks one) and answers 204.
pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<UpperTester> {
    UpperTester::start(addr, capture, crate::roles::http_server::no_content()).await
}

/// The application a report names by its request target `/push/<app>`.
pub fn app_of(h: &Handover) -> Option<String> {
    let m = h.msg.as_ref().ok()?;
    m.target()?.strip_prefix("/push/").map(str::to_string)
}
