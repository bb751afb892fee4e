//! Push over SIP over TLS (RFC 3261 §26.2.2): the MESSAGEs for `sips:`
//! recipients go to the harness device's TLS address over one connection
//! the relay opens (and opens again once it breaks), the device's
//! certificate checked against the run's lab CA. Over a reliable transport
//! nothing is retransmitted (RFC 3261 §17.1.2.2: Timer E is for unreliable
//! transports); responses are read and dropped (an unconfirmed push).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Bound on connecting and on writing one request.
const IO_BOUND: Duration = Duration::from_secs(5);

/// The handle the relay keeps: whole requests to write.
pub(super) struct SipsUac {
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

type Writer = tokio::io::WriteHalf<tokio_rustls::client::TlsStream<TcpStream>>;

impl SipsUac {
    /// Requests go to `target` over TLS as `config` says; the task owns the
    /// connection (aborting it closes the connection).
    pub(super) fn start(
        target: SocketAddr,
        config: Arc<rustls::ClientConfig>,
    ) -> (SipsUac, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (SipsUac { tx }, tokio::spawn(writer(rx, target, config)))
    }

    /// Sends one whole request (in order, over the current connection).
    pub(super) fn send(&self, msg: Vec<u8>) {
        let _ = self.tx.send(msg);
    }
}

async fn writer(
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    target: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) {
    let connector = tokio_rustls::TlsConnector::from(config);
    // The reader of the current connection lives here, so it ends with us.
    let mut readers = JoinSet::new();
    let mut conn: Option<Writer> = None;
    while let Some(msg) = rx.recv().await {
        // A broken connection is opened again once for the request.
        for _ in 0..2 {
            if conn.is_none() {
                readers.abort_all();
                conn = connect(&connector, target, &mut readers).await;
            }
            let Some(w) = conn.as_mut() else { break };
            match tokio::time::timeout(IO_BOUND, w.write_all(&msg)).await {
                Ok(Ok(())) => break,
                _ => conn = None,
            }
        }
    }
}

/// TCP, then the handshake naming the device by its IP (both bounded); a
/// reader that drops what comes back.
async fn connect(
    connector: &tokio_rustls::TlsConnector,
    target: SocketAddr,
    readers: &mut JoinSet<()>,
) -> Option<Writer> {
    let tcp = tokio::time::timeout(IO_BOUND, TcpStream::connect(target))
        .await
        .ok()?
        .ok()?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::IpAddress(target.ip().into());
    let tls = tokio::time::timeout(super::super::tls::HANDSHAKE, connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let (rd, wr) = tokio::io::split(tls);
    readers.spawn(super::super::read_stream(rd, |_| {}));
    Some(wr)
}
