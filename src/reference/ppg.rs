//! The reference PPG (WAP Push Proxy Gateway): PAP over HTTP in; WSP push over
//! SMS (SMPP to the harness SMSC), OTA-HTTP and Push over SIP out.
//!
//! (Being written: see issue 4.)

use std::net::{IpAddr, SocketAddr};

use tokio::task::JoinHandle;

use super::Settings;

/// Where the reference PPG pushes to (the harness plays every bearer).
#[derive(Debug, Clone)]
pub struct PpgConfig {
    /// The SMSC it binds to as an ESME (bind_transceiver), and the credentials.
    pub smsc: SocketAddr,
    pub system_id: String,
    pub password: String,
    /// The OTA-HTTP push target for `WAPPUSH=<IPv4>/TYPE=IPv4` addresses.
    pub ota_http: SocketAddr,
    /// Where SIP pushes go (the outbound proxy / device).
    pub sip_target: SocketAddr,
}

/// Starts the PPG: its PAP listener on `ip` port 0. Returns the PAP address
/// (the URL is `http://ADDR/wappush`) and the tasks.
pub async fn start(
    ip: IpAddr,
    cfg: PpgConfig,
    settings: Settings,
) -> std::io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let _ = (cfg, settings);
    let l = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0)).await?;
    Ok((l.local_addr()?, Vec::new()))
}
