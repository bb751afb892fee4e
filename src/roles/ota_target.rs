//! The harness as an OTA-HTTP push target (a WAP 2.0 terminal's push
//! listener): an [`HttpServer`] that keeps every request a PPG makes exactly
//! as it arrived and answers each with 204 No Content (the terminal's
//! acceptance, no body; the status a terminal gives is not verified against
//! WAP-235, see notes.md). What it keeps is judged by the steps.

use std::net::SocketAddr;

use crate::net::capture::Capture;
pub use crate::roles::http_server::{HttpArrival as OtaArrival, HttpServer as OtaTarget};

/// Listens at `addr` (loopback; port 0 picks one).
pub async fn start(addr: SocketAddr, capture: Capture) -> std::io::Result<OtaTarget> {
    OtaTarget::start(addr, capture, crate::roles::http_server::no_content()).await
}

/// Listens at `addr` for OTA-HTTP over TLS (HTTPS, RFC 2818), with the TLS
/// server `tls` holds when a connection comes.
pub async fn start_tls(
    addr: SocketAddr,
    capture: Capture,
    tls: std::sync::Arc<std::sync::Mutex<Option<crate::net::tls::TlsServer>>>,
) -> std::io::Result<OtaTarget> {
    OtaTarget::start_tls(addr, capture, crate::roles::http_server::no_content(), tls).await
}
