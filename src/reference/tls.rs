//! TLS for the reference roles: rustls configurations built from the PEM
//! text the run hands over ([`ReferenceTls`]: the certificate the lab CA
//! issued for the SUT, its key, and the lab CA the harness's certificate
//! chains to). Nothing of the harness's TLS layer is shared: the reference
//! drives rustls itself, as any implementation would.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A reference role's TLS material, as PEM.
#[derive(Clone)]
pub struct ReferenceTls {
    /// Its certificate chain, leaf first.
    pub cert_chain_pem: String,
    pub key_pem: String,
    /// The CA whose certificates it trusts (the peer's, as TLS client).
    pub ca_pem: String,
}

impl std::fmt::Debug for ReferenceTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceTls").finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reference TLS certificates: {e}"))
}

impl ReferenceTls {
    /// As TLS server: presents its certificate, asks none of the client.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| format!("reference TLS key: {e}"))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs(&self.cert_chain_pem)?, key)
            .map_err(|e| format!("reference TLS certificate: {e}"))?;
        Ok(Arc::new(config))
    }

    /// As TLS client: checks the server's certificate against its CA.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&self.ca_pem)? {
            roots.add(c).map_err(|e| format!("reference TLS CA: {e}"))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

impl ReferenceTls {
    /// The files a run hands a launched SUT (`LIAISON_TLS_CA`,
    /// `LIAISON_TLS_CERT`, `LIAISON_TLS_KEY`), each read up to 1 MiB; the
    /// error names the variable that is not set or the file not readable.
    pub fn from_env() -> Result<ReferenceTls, String> {
        let read = |var: &str| {
            let path = std::env::var_os(var).ok_or_else(|| format!("{var} is not set"))?;
            let mut text = String::new();
            use std::io::Read;
            std::fs::File::open(&path)
                .and_then(|f| f.take(1 << 20).read_to_string(&mut text))
                .map_err(|e| format!("{var}: cannot read {} ({e})", path.to_string_lossy()))?;
            Ok::<_, String>(text)
        };
        Ok(ReferenceTls {
            ca_pem: read("LIAISON_TLS_CA")?,
            cert_chain_pem: read("LIAISON_TLS_CERT")?,
            key_pem: read("LIAISON_TLS_KEY")?,
        })
    }
}

/// One HTTP exchange over TLS with the server at `addr` (an `https://`
/// URL, RFC 2818 §2.1: the handshake first, then the request inside the
/// connection; the server's certificate checked by `config` for the IP,
/// §3.1), bounded by `bound` as a whole: the response, when a whole one
/// came (framed by Content-Length, chunked, or the close).
pub(crate) async fn https_exchange(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    req: &[u8],
    bound: std::time::Duration,
) -> Option<crate::codec::http::HttpMessage> {
    use tokio::io::AsyncWriteExt;
    let end = tokio::time::Instant::now() + bound;
    let mut stream = connect(config, addr, end).await?;
    tokio::time::timeout_at(end, stream.write_all(req))
        .await
        .ok()?
        .ok()?;
    let m = super::read_http_answer(&mut stream, end).await;
    // close_notify, then the connection (RFC 8446 §6.1).
    let _ = tokio::time::timeout_at(end, stream.shutdown()).await;
    m
}

/// A TLS connection of the reference's own to `addr` by `end`: TCP, then
/// the handshake with the peer's certificate checked by `config` for the
/// IP address (RFC 2818 §3.1, RFC 5922 §7.2 for SIP). None when either
/// fails or times out.
pub(crate) async fn connect(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    end: tokio::time::Instant,
) -> Option<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::time::timeout_at(end, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = tcp.set_nodelay(true);
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    tokio::time::timeout_at(
        end,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .ok()?
    .ok()
}

/// How long a TLS handshake a reference role takes may last.
pub const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(5);

/// A SIP message that came over a TLS connection, where it came from, and
/// the writer of that connection (what is sent to it goes back over it).
pub type OnMessage = std::sync::Arc<
    dyn Fn(Vec<u8>, std::net::SocketAddr, tokio::sync::mpsc::UnboundedSender<Vec<u8>>)
        + Send
        + Sync,
>;

/// Takes SIP over TLS on `listener` as a reference role does: each
/// connection's handshake (bounded by [`HANDSHAKE`]; one that fails or
/// stalls ends the connection), then its framed messages, each handed to
/// `on_message` with a writer back to the connection.
pub fn serve_sip(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    on_message: OnMessage,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let on_message = on_message.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
                else {
                    return;
                };
                let (rd, mut wr) = tokio::io::split(tls);
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
                tokio::spawn(async move {
                    while let Some(b) = rx.recv().await {
                        if wr.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                });
                super::read_stream(rd, move |raw| on_message(raw, peer, tx.clone())).await;
            });
        }
    })
}

/// A listener for SIP over TLS beside a role's others (same IP, a port the
/// system picks), when the role has TLS material.
pub async fn listener(
    settings: &super::Settings,
    ip: std::net::IpAddr,
) -> std::io::Result<Option<tokio::net::TcpListener>> {
    match settings.tls {
        Some(_) => Ok(Some(
            tokio::net::TcpListener::bind(std::net::SocketAddr::new(ip, 0)).await?,
        )),
        None => Ok(None),
    }
}

/// Takes TLS connections on `listener` until the task is aborted: each
/// handshake bounded by [`HANDSHAKE`] (one that fails or stalls ends only
/// its connection), then `serve` on the TLS stream. Connections live in a
/// set, so aborting the loop closes them too.
pub(crate) async fn accept_loop<F, Fut>(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    serve: F,
) where
    F: Fn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Fut,
    F: Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let serve = Arc::new(serve);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let (acceptor, serve) = (acceptor.clone(), serve.clone());
                    conns.spawn(async move {
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
                        {
                            serve(tls).await;
                        }
                    });
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}
