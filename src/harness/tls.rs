//! The run's TLS (issue 15): a lab certificate authority made for the run,
//! the harness's certificate, and how the harness checks the SUT's, as the
//! profile's `tls` section says.
//!
//! Everything is written into `tls/` of the report folder:
//!
//! | file | what |
//! |---|---|
//! | `lab-ca.pem` | the lab CA's certificate: give it to a SUT that must trust the harness |
//! | `sut-cert.pem`, `sut-key.pem` | a certificate (and key) the lab CA issued for the SUT's addresses, `localhost` and `tls.server_name` |
//!
//! A launched SUT gets their paths in `LIAISON_TLS_CA`, `LIAISON_TLS_CERT`
//! and `LIAISON_TLS_KEY` ([`RunTls::sut_env`]); a SUT started by hand is
//! given them by its operator, or keeps its own certificate, which the
//! profile's `tls.ca_files` then names the CA of.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::net::tls::{Identity, LabCa, Offer, PeerCheck, TlsClient, TlsServer};
use crate::profile::{Profile, Verify};

/// The run's TLS material and configurations.
#[derive(Debug)]
pub struct RunTls {
    /// `tls/` of the report folder.
    pub dir: PathBuf,
    pub lab_ca: LabCa,
    /// The lab CA's certificate (PEM).
    pub ca_file: PathBuf,
    /// The certificate and key the lab CA issued for the SUT (PEM).
    pub sut_cert: PathBuf,
    pub sut_key: PathBuf,
    /// The SUT's identity the lab CA issued (what those files hold).
    pub sut: Identity,
    /// The harness as TLS client: checks the SUT's certificate as the
    /// profile says.
    pub client: TlsClient,
    /// The harness as TLS server (the SUT connects to it).
    pub server: TlsServer,
    /// The name the harness connects to the SUT by (`tls.server_name`);
    /// None: the SUT's IP address.
    pub server_name: Option<String>,
    /// How the SUT's certificate is checked, in words for the report.
    pub check: String,
}

impl RunTls {
    /// The run's TLS for `profile`: the lab CA (`ca`, or a new one), the
    /// files in `dir`, the harness's identity (the profile's files, or one
    /// the lab CA issues for `harness.address`) and its checks. An error
    /// names the profile field or file at fault.
    pub fn new(profile: &Profile, dir: &Path, ca: Option<LabCa>) -> Result<RunTls, String> {
        let t = &profile.tls;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("tls: cannot create {} ({e})", dir.display()))?;
        let lab_ca = match ca {
            Some(ca) => ca,
            None => LabCa::new().map_err(|e| format!("tls: {e}"))?,
        };
        let ca_file = dir.join("lab-ca.pem");
        lab_ca
            .write_pem(&ca_file)
            .map_err(|e| format!("tls: {e}"))?;
        // The SUT's certificate: every address of it the profile names, the
        // loopback addresses and `localhost`, and the configured name.
        let mut ips: Vec<IpAddr> = vec![
            IpAddr::from([127, 0, 0, 1]),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ];
        for a in sut_addresses(profile) {
            if !ips.contains(&a.ip()) {
                ips.push(a.ip());
            }
        }
        let mut names = vec!["localhost"];
        if let Some(n) = &t.server_name {
            names.push(n);
        }
        let sut = lab_ca
            .issue(&names, &ips)
            .map_err(|e| format!("tls: {e}"))?;
        let (sut_cert, sut_key) = (dir.join("sut-cert.pem"), dir.join("sut-key.pem"));
        sut.write_pem(&sut_cert, &sut_key)
            .map_err(|e| format!("tls: {e}"))?;
        let identity = match (&t.cert, &t.key) {
            (Some(c), Some(k)) => {
                Identity::from_pem_files(c, k).map_err(|e| format!("tls.cert: {e}"))?
            }
            _ => {
                // Every address the harness answers TLS on: its own, the
                // loopback ones and the IMS core's edges.
                let mut ips = vec![
                    profile.harness_ip,
                    IpAddr::from([127, 0, 0, 1]),
                    std::net::Ipv6Addr::LOCALHOST.into(),
                ];
                if let Some(i) = &profile.ims {
                    for a in [Some(i.core), i.ws, i.wss, i.tls].into_iter().flatten() {
                        if !ips.contains(&a.ip()) {
                            ips.push(a.ip());
                        }
                    }
                }
                // The core an sms-im-iwf sends to over TLS; the MMSC (an
                // https:// MMSC URL, https:// Content-Locations).
                let mmscs = [
                    profile.mms_client.as_ref().and_then(|m| m.url_parts()),
                    profile.deferral.as_ref().and_then(|d| d.url_parts()),
                ];
                // The OTA-HTTP target over TLS (`ppg.ota_https`).
                let ota_tls = profile.ppg.as_ref().and_then(|p| p.ota_https);
                let iwf_core = profile.iwf.as_ref().and_then(|i| i.ims_core_tls);
                for a in mmscs
                    .into_iter()
                    .flatten()
                    .map(|(a, _)| a)
                    .chain(iwf_core)
                    .chain(ota_tls)
                    .chain(profile.push_client.as_ref().and_then(|p| p.agent_tls))
                {
                    if !ips.contains(&a.ip()) {
                        ips.push(a.ip());
                    }
                }
                lab_ca
                    .issue(&["localhost"], &ips)
                    .map_err(|e| format!("tls: {e}"))?
            }
        };
        let (peer_check, check) = match (t.verify(), &t.ca_files) {
            (Verify::None, _) => (
                PeerCheck::NotChecked,
                "the SUT's certificate is NOT checked (tls.verify: none)".to_string(),
            ),
            (Verify::Ca, Some(files)) if !files.is_empty() => (
                PeerCheck::ca_files(files).map_err(|e| format!("tls.ca_files: {e}"))?,
                format!(
                    "the SUT's certificate is checked against {}",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            (Verify::Ca, _) => (
                lab_ca.peer_check().map_err(|e| format!("tls: {e}"))?,
                "the SUT's certificate is checked against the run's lab CA (tls/lab-ca.pem)"
                    .to_string(),
            ),
        };
        let offer = Offer::all();
        let client =
            TlsClient::new(peer_check, &offer, Some(&identity)).map_err(|e| format!("tls: {e}"))?;
        let server = TlsServer::new(&identity, &offer).map_err(|e| format!("tls.cert: {e}"))?;
        Ok(RunTls {
            dir: dir.to_path_buf(),
            lab_ca,
            ca_file,
            sut_cert,
            sut_key,
            sut,
            client,
            server,
            server_name: t.server_name.clone(),
            check,
        })
    }

    /// The name to connect to `dst` by: `tls.server_name`, else its IP.
    pub fn server_name_for(&self, dst: SocketAddr) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| dst.ip().to_string())
    }

    /// What a launched SUT is started with: the lab CA's and its own
    /// certificate's paths (absolute).
    pub fn sut_env(&self) -> Vec<(String, String)> {
        let abs = |p: &Path| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        vec![
            ("LIAISON_TLS_CA".into(), abs(&self.ca_file)),
            ("LIAISON_TLS_CERT".into(), abs(&self.sut_cert)),
            ("LIAISON_TLS_KEY".into(), abs(&self.sut_key)),
        ]
    }
}

/// The SUT addresses a profile names for SIP.
fn sut_addresses(profile: &Profile) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    if let Some(s) = &profile.sip {
        out.extend(s.address);
        out.extend(s.tls);
        out.extend(s.ws_parts().map(|(a, _)| a));
    }
    if let Some(m) = &profile.msrp {
        out.push(m.address);
        out.extend(m.tls_address);
    }
    if let Some(m) = &profile.mms_client {
        out.extend(m.sip_push_tls);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(tls: &str) -> Profile {
        Profile::parse(
            &format!(
                "name: t\nroles: [im-server]\nsip: {{ address: 127.0.0.1:5060, transport: [udp, tls], tls: 127.0.0.1:5061, domain: d }}\n{tls}"
            ),
            "t.yaml",
        )
        .unwrap()
    }

    #[test]
    fn writes_the_lab_ca_and_a_sut_certificate() {
        let dir = std::env::temp_dir().join(format!("liaison-runtls-{}", std::process::id()));
        let t = RunTls::new(&profile(""), &dir, None).unwrap();
        let ca = std::fs::read_to_string(&t.ca_file).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        let chain = std::fs::read_to_string(&t.sut_cert).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA");
        let key = std::fs::read_to_string(&t.sut_key).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert!(t.check.contains("lab CA"));
        assert_eq!(
            t.server_name_for("127.0.0.1:5061".parse().unwrap()),
            "127.0.0.1"
        );
        let env = t.sut_env();
        assert_eq!(env[0].0, "LIAISON_TLS_CA");
        // The SUT's identity reads back as one the harness can present.
        Identity::from_pem_files(&t.sut_cert, &t.sut_key).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn says_plainly_when_the_sut_is_not_checked() {
        let dir = std::env::temp_dir().join(format!("liaison-runtls-n-{}", std::process::id()));
        let t = RunTls::new(
            &profile("tls: { verify: none, server_name: sut.lab.example }"),
            &dir,
            None,
        )
        .unwrap();
        assert!(t.check.contains("NOT checked"), "{}", t.check);
        assert_eq!(
            t.server_name_for("127.0.0.1:5061".parse().unwrap()),
            "sut.lab.example"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_ca_file_names_the_field() {
        let dir = std::env::temp_dir().join(format!("liaison-runtls-m-{}", std::process::id()));
        let e = RunTls::new(
            &profile("tls: { ca_files: [/nonexistent/ca.pem] }"),
            &dir,
            None,
        )
        .unwrap_err();
        assert!(e.starts_with("tls.ca_files:"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
