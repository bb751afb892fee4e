//! TLS for the harness (issue 15): a lab certificate authority made per run,
//! rustls configurations for the harness as TLS server and as TLS client,
//! and connections whose records are captured as they cross the socket.
//!
//! * [`LabCa`]: a CA made per run with rcgen (ECDSA P-256), its certificate
//!   written as PEM where the caller says (the report folder), so that a SUT
//!   can be told to trust it; it issues the harness's leaf certificates for
//!   the names and IP addresses it answers on (IP SANs, `::1` too).
//! * [`Identity`]: a certificate chain and its key, issued by the lab CA or
//!   read from the PEM files a profile names.
//! * [`PeerCheck`]: how the harness as TLS client checks the SUT's
//!   certificate: against CA certificates (the lab CA, or files a profile
//!   names), or not at all, which each connection's [`Negotiated`] then says
//!   plainly ([`CertCheck::NotChecked`]).
//! * [`TlsServer::accept`] and [`TlsClient::connect`]: a handshake over a TCP
//!   stream the caller opened, bounded by a timeout, every byte of it tapped
//!   into the capture as the TLS records it is ([`Tapped`]), and the
//!   connection's secrets (the NSS key log lines, [`KeyLogLines`]) written
//!   into the capture before the records that need them (a pcapng Decryption
//!   Secrets Block, `net::capture`), so Wireshark decrypts the capture with
//!   no key file. What was negotiated is [`Negotiated`]; a handshake that
//!   fails is a [`TlsError`] named after what the peer did.
//!
//! The records a connection receives are written to the capture only after
//! rustls has processed them (at the connection's next read or write, or
//! when [`TlsStream`] hands out plaintext): processing them is what logs the
//! secrets the peer's next records are encrypted with, and the capture must
//! hold the secrets first (a single-pass reader such as `tshark -r` learns
//! them in file order).

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, ServerConfig,
    SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::capture::Capture;

/// How long a handshake may take unless the caller says otherwise.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many bytes of a non-TLS first flight a [`TlsError::NotTls`] keeps.
const NOT_TLS_KEPT: usize = 512;

/// Something about the harness's own TLS setup that is wrong (a file a
/// profile names, a certificate rcgen refused): not the peer's doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetupError(pub String);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

fn setup(what: impl fmt::Display) -> TlsSetupError {
    TlsSetupError(what.to_string())
}

/// The rustls provider: ring, with its TLS 1.3 and TLS 1.2 AEAD suites
/// (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305; no CBC, which rustls does
/// not have) and its key exchange groups.
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads a certificate chain (PEM, leaf first) and its key (PEM: PKCS#8,
    /// PKCS#1 or SEC1), as a profile names them. Both files are read through
    /// `limits` (bounded size).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, TlsSetupError> {
        let chain = read_certs(cert)?;
        let key_pem = read_bounded(key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| setup(format!("{}: no private key read: {e}", key.display())))?;
        Ok(Identity { chain, key })
    }

    /// The leaf certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.chain
            .first()
            .map_or_else(String::new, |c| pem("CERTIFICATE", c))
    }

    /// The whole chain as PEM, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
    }

    /// The private key as PEM, labelled by its form (RFC 7468 §10 for
    /// PKCS#8; PKCS#1 and SEC1 keys keep their OpenSSL labels).
    pub fn key_pem(&self) -> String {
        let label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem(label, self.key.secret_der())
    }

    /// Writes the chain and the key as PEM files (the key readable by its
    /// owner only), for a SUT to be started with.
    pub fn write_pem(&self, cert: &Path, key: &Path) -> Result<(), TlsSetupError> {
        std::fs::write(cert, self.chain_pem())
            .map_err(|e| setup(format!("{}: {e}", cert.display())))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(key)
            .map_err(|e| setup(format!("{}: {e}", key.display())))?;
        std::io::Write::write_all(&mut f, self.key_pem().as_bytes())
            .map_err(|e| setup(format!("{}: {e}", key.display())))
    }
}

/// Largest certificate or key file read.
const MAX_PEM_FILE: u64 = 1 << 20;

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    crate::limits::read_text(path, MAX_PEM_FILE)
        .map(String::into_bytes)
        .map_err(|e| setup(format!("{}: {e}", path.display())))
}

/// The certificates of a PEM file (at least one).
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = read_bounded(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(setup(format!(
            "{}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none",
            path.display()
        )));
    }
    Ok(certs)
}

/// DER as PEM (RFC 7468), 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for c in der.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                b64.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The run's certificate authority: made fresh per run, never reused, its
/// key never written anywhere.
pub struct LabCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl fmt::Debug for LabCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabCa").finish_non_exhaustive()
    }
}

/// The lab CA's common name.
pub const LAB_CA_NAME: &str = "liaison lab CA (made for one run)";

impl LabCa {
    /// A new CA (ECDSA P-256), valid from two days ago to a year from now.
    pub fn new() -> Result<LabCa, TlsSetupError> {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, LAB_CA_NAME);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "liaison");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let key = rcgen::KeyPair::generate().map_err(|e| setup(format!("lab CA key: {e}")))?;
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key)
            .map_err(|e| setup(format!("lab CA certificate: {e}")))?;
        Ok(LabCa { issuer })
    }

    /// A new CA whose certificate is written as PEM at `path` (the file the
    /// README tells the user to give the SUT).
    pub fn create(path: &Path) -> Result<LabCa, TlsSetupError> {
        let ca = LabCa::new()?;
        ca.write_pem(path)?;
        Ok(ca)
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate (DER).
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Writes the CA certificate as PEM at `path`.
    pub fn write_pem(&self, path: &Path) -> Result<(), TlsSetupError> {
        std::fs::write(path, self.pem()).map_err(|e| setup(format!("{}: {e}", path.display())))
    }

    /// A leaf certificate for `names` (DNS names) and `ips` (as IP address
    /// SANs, RFC 5280 §4.2.1.6), for a TLS server and client alike, with
    /// its fresh key; the chain is the leaf then this CA.
    pub fn issue(&self, names: &[&str], ips: &[IpAddr]) -> Result<Identity, TlsSetupError> {
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = Vec::new();
        for n in names {
            let dns = rcgen::string::Ia5String::try_from(n.to_string())
                .map_err(|e| setup(format!("certificate name `{n}`: {e}")))?;
            params.subject_alt_names.push(rcgen::SanType::DnsName(dns));
        }
        for ip in ips {
            params
                .subject_alt_names
                .push(rcgen::SanType::IpAddress(*ip));
        }
        let cn = names
            .first()
            .map(|n| n.to_string())
            .or_else(|| ips.first().map(IpAddr::to_string))
            .unwrap_or_else(|| "liaison harness".into());
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = rcgen::KeyPair::generate().map_err(|e| setup(format!("leaf key: {e}")))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| setup(format!("leaf certificate: {e}")))?;
        let key = PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| setup(format!("leaf key: {e}")))?;
        Ok(Identity {
            chain: vec![cert.der().clone(), self.der()],
            key,
        })
    }

    /// A check of peer certificates against this CA.
    pub fn peer_check(&self) -> Result<PeerCheck, TlsSetupError> {
        PeerCheck::against(vec![self.der()], "the lab CA")
    }
}

/// The civil date (year, month, day) of a day counted from 1970-01-01
/// (the proleptic Gregorian calendar's arithmetic, by 400-year eras).
fn civil_date(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

/// From two days ago (clocks of a SUT host may lag) to a year from now,
/// on whole days.
fn validity(params: &mut rcgen::CertificateParams) {
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 86_400) as i64);
    let (y, m, d) = civil_date(today - 2);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_date(today + 366);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// How the harness as TLS client checks the certificate the SUT presents.
#[derive(Clone)]
pub enum PeerCheck {
    /// Against these CA certificates (the lab CA, or files a profile
    /// names); `against` says which, for the record.
    Ca {
        roots: Arc<RootCertStore>,
        against: String,
    },
    /// Not checked: any certificate is taken, and every connection records
    /// that it was not checked ([`CertCheck::NotChecked`]). The handshake
    /// signature is still verified with the certificate's key.
    NotChecked,
}

impl fmt::Debug for PeerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerCheck::Ca { against, .. } => write!(f, "PeerCheck::Ca({against})"),
            PeerCheck::NotChecked => f.write_str("PeerCheck::NotChecked"),
        }
    }
}

impl PeerCheck {
    fn against(
        certs: Vec<CertificateDer<'static>>,
        what: &str,
    ) -> Result<PeerCheck, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| setup(format!("{what}: not a CA certificate rustls takes: {e}")))?;
        }
        Ok(PeerCheck::Ca {
            roots: Arc::new(roots),
            against: what.to_string(),
        })
    }

    /// Against the CA certificates in these PEM files (a profile's).
    pub fn ca_files(paths: &[PathBuf]) -> Result<PeerCheck, TlsSetupError> {
        let mut certs = Vec::new();
        for p in paths {
            certs.extend(read_certs(p)?);
        }
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        PeerCheck::against(certs, &format!("the CA file(s) {}", names.join(", ")))
    }
}

/// Which TLS versions and cipher suites the harness offers (or accepts).
#[derive(Clone)]
pub struct Offer {
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: Vec<SupportedCipherSuite>,
    groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
}

impl fmt::Debug for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<String> = self
            .versions
            .iter()
            .map(|v| version_name(v.version))
            .collect();
        let s: Vec<String> = self.suites.iter().map(|s| suite_name(s.suite())).collect();
        write!(f, "Offer({} | {})", v.join(", "), s.join(", "))
    }
}

impl Offer {
    /// TLS 1.3 and 1.2, every suite of the provider.
    pub fn all() -> Offer {
        let p = provider();
        Offer {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            suites: p.cipher_suites,
            groups: p.kx_groups,
        }
    }

    /// TLS 1.3 only.
    pub fn tls13() -> Offer {
        Offer {
            versions: vec![&rustls::version::TLS13],
            ..Offer::all()
        }
    }

    /// TLS 1.2 only (ECDHE with AES-GCM or ChaCha20-Poly1305).
    pub fn tls12() -> Offer {
        Offer {
            versions: vec![&rustls::version::TLS12],
            ..Offer::all()
        }
    }

    /// Only these suites (of the versions offered).
    pub fn only(mut self, suites: &[CipherSuite]) -> Result<Offer, TlsSetupError> {
        self.suites.retain(|s| suites.contains(&s.suite()));
        if self.suites.is_empty() {
            return Err(setup(format!(
                "no cipher suite of {:?} is one the harness has",
                suites.iter().map(|s| suite_name(*s)).collect::<Vec<_>>()
            )));
        }
        Ok(self)
    }

    /// Only these key exchange groups (a client offers a key share for
    /// the first; a server that takes none of a client's shares asks for
    /// another with a HelloRetryRequest, RFC 8446 §4.1.4).
    pub fn only_groups(mut self, groups: &[rustls::NamedGroup]) -> Result<Offer, TlsSetupError> {
        self.groups.retain(|g| groups.contains(&g.name()));
        if self.groups.is_empty() {
            return Err(setup(format!(
                "no key exchange group of {groups:?} is one the harness has"
            )));
        }
        Ok(self)
    }

    fn provider(&self) -> Arc<CryptoProvider> {
        Arc::new(CryptoProvider {
            cipher_suites: self.suites.clone(),
            kx_groups: self.groups.clone(),
            ..provider()
        })
    }
}

/// `TLS 1.3`, `TLS 1.2`, or the code.
pub fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        other => format!("TLS version 0x{:04x}", u16::from(other)),
    }
}

/// The IANA name of a cipher suite ([`crate::codec::tls_suite_name`]).
pub fn suite_name(s: CipherSuite) -> String {
    crate::codec::tls_suite_name(u16::from(s))
}

/// The NSS key log lines of one connection (`LABEL <client random> <secret>`,
/// hex), as rustls derives its secrets: what the capture writes into a
/// Decryption Secrets Block.
#[derive(Default, Clone)]
pub struct KeyLogLines(Arc<Mutex<String>>);

impl fmt::Debug for KeyLogLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyLogLines({} lines)", self.text().lines().count())
    }
}

impl KeyLogLines {
    /// The lines so far, each ended by `\n`.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_string).collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl rustls::KeyLog for KeyLogLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // A handful of lines per connection; the bound only guards memory.
        if t.len() < 64 * 1024 {
            t.push_str(&format!("{label} {} {}\n", hex(client_random), hex(secret)));
        }
    }
}

/// What was checked of the peer's certificate on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertCheck {
    /// Checked against these CA certificates (and the name the harness
    /// connected to), and valid.
    Verified { against: String },
    /// The profile chose not to check it: whatever the peer presented was
    /// taken, unchecked (how many certificates it sent).
    NotChecked { presented: usize },
    /// Checked and refused (the handshake then failed).
    Refused { against: String, why: String },
    /// The harness as server asked for no client certificate.
    NotAsked,
    /// No certificate was checked on this connection (a resumed session;
    /// the harness as client does not resume, so this is not expected).
    NotSeen,
}

impl fmt::Display for CertCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertCheck::Verified { against } => {
                write!(f, "the peer's certificate was checked against {against} and is valid")
            }
            CertCheck::NotChecked { presented } => write!(
                f,
                "the peer's certificate was NOT checked (the profile says not to); it sent {presented} certificate(s)"
            ),
            CertCheck::Refused { against, why } => write!(
                f,
                "the peer's certificate was checked against {against} and refused: {why}"
            ),
            CertCheck::NotAsked => f.write_str("no client certificate was asked for"),
            CertCheck::NotSeen => f.write_str("no certificate was checked on this connection"),
        }
    }
}

/// What one TLS connection negotiated, for the report.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The IANA name of the cipher suite.
    pub suite: String,
    /// The server name the client indicated (SNI, RFC 6066 §3), if any.
    pub sni: Option<String>,
    /// The ALPN protocol agreed on, if any.
    pub alpn: Option<String>,
    pub peer_certificate: CertCheck,
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

impl fmt::Display for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.suite)?;
        if let Some(s) = &self.sni {
            write!(f, ", SNI {s}")?;
        }
        if let Some(a) = &self.alpn {
            write!(f, ", ALPN {a}")?;
        }
        write!(f, "; {}", self.peer_certificate)
    }
}

/// A TLS handshake that did not complete, named after what the peer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The peer's first bytes are not a TLS record (a content type other
    /// than 20–23, RFC 8446 §5.1, or not version 3.x): it spoke something
    /// else, typically plaintext where TLS was due.
    NotTls { first_bytes: Vec<u8> },
    /// The peer sent a fatal alert during the handshake.
    AlertReceived { alert: String },
    /// The harness refused the peer's certificate.
    CertificateRefused { why: String },
    /// The peer broke the protocol otherwise (rustls's reading of what it
    /// sent); the harness sent the alert RFC 8446 §6 calls for.
    PeerMisbehaved { what: String },
    /// The peer closed the connection before the handshake completed.
    ClosedDuringHandshake { received: u64 },
    /// The handshake did not complete within the timeout.
    Timeout { after: Duration, received: u64 },
    /// The connection failed (reset, refused, …).
    Io { what: String },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NotTls { first_bytes } => write!(
                f,
                "expected a TLS record (a handshake starting with byte 0x16), came bytes that are not TLS: \"{}\"",
                crate::codec::escape_bytes(first_bytes, NOT_TLS_KEPT)
            ),
            TlsError::AlertReceived { alert } => {
                write!(f, "the peer ended the TLS handshake with a fatal alert: {alert}")
            }
            TlsError::CertificateRefused { why } => {
                write!(f, "the peer's certificate was refused: {why}")
            }
            TlsError::PeerMisbehaved { what } => {
                write!(f, "the peer broke the TLS handshake: {what}")
            }
            TlsError::ClosedDuringHandshake { received } => write!(
                f,
                "the peer closed the connection during the TLS handshake (after {received} bytes from it)"
            ),
            TlsError::Timeout { after, received } => write!(
                f,
                "the TLS handshake did not complete within {} ms ({received} bytes came from the peer)",
                after.as_millis()
            ),
            TlsError::Io { what } => write!(f, "the TLS connection failed: {what}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The rustls error inside an I/O error from tokio-rustls, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}

/// What the tap saw of a connection: the counts and the first bytes, the
/// received bytes not yet written to the capture.
#[derive(Default)]
struct TapState {
    /// Received, not yet captured (see the module's doc).
    pending_rx: Vec<u8>,
    /// Bytes captured ahead of the socket accepting them (a write that
    /// returned Pending or wrote part): the next write's first bytes.
    ahead: usize,
    received: u64,
    sent: u64,
    /// The first bytes the peer sent (up to [`NOT_TLS_KEPT`]).
    first: Vec<u8>,
    /// Which ends closed (end of stream read; shutdown), the first to
    /// close, and whether the close is in the capture.
    peer_closed: bool,
    local_closed: bool,
    first_closer_is_peer: Option<bool>,
    close_written: bool,
}

/// The tap under rustls: who the ends are, where the bytes go.
struct Tap {
    capture: Capture,
    local: SocketAddr,
    peer: SocketAddr,
    keys: KeyLogLines,
    state: Mutex<TapState>,
}

impl Tap {
    fn state(&self) -> std::sync::MutexGuard<'_, TapState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what was received and processed to the capture, after the
    /// secrets rustls logged while processing it.
    fn flush_received(&self) {
        let pending = std::mem::take(&mut self.state().pending_rx);
        if !pending.is_empty() {
            self.capture
                .tls_received(self.peer, self.local, &pending, &self.keys.text());
        }
    }

    /// An end closed its sending side. The capture writes a connection's
    /// close whole (FIN both ways), so it is written once both ends closed
    /// or the socket is dropped: a close_notify sent after the peer's FIN
    /// (TLS closes each direction on its own, RFC 8446 §6.1) stays in the
    /// connection it belongs to.
    fn closed(&self, by_peer: bool) {
        self.flush_received();
        {
            let mut st = self.state();
            if by_peer {
                st.peer_closed = true;
            } else {
                st.local_closed = true;
            }
            st.first_closer_is_peer.get_or_insert(by_peer);
        }
        self.write_close(false);
    }

    /// Writes the close when both ends closed, or (`dropped`) whenever the
    /// socket goes.
    fn write_close(&self, dropped: bool) {
        let peer_first = {
            let mut st = self.state();
            if st.close_written || !(dropped || st.peer_closed && st.local_closed) {
                return;
            }
            st.close_written = true;
            st.first_closer_is_peer.unwrap_or(false)
        };
        if peer_first {
            self.capture.tcp_close(self.peer, self.local);
        } else {
            self.capture.tcp_close(self.local, self.peer);
        }
    }
}

/// A TCP stream whose bytes are tapped into a capture as the TLS records
/// they are: what rustls writes is captured before it goes out, what it
/// reads once it was processed (see the module's doc).
pub struct Tapped {
    io: TcpStream,
    tap: Arc<Tap>,
}

impl Drop for Tapped {
    fn drop(&mut self) {
        self.tap.flush_received();
        self.tap.write_close(true);
    }
}

impl AsyncRead for Tapped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.tap.flush_received();
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            if new.is_empty() {
                self.tap.closed(true);
            } else {
                let mut st = self.tap.state();
                st.received += new.len() as u64;
                if st.first.len() < NOT_TLS_KEPT {
                    let take = (NOT_TLS_KEPT - st.first.len()).min(new.len());
                    st.first.extend_from_slice(&new[..take]);
                }
                st.pending_rx.extend_from_slice(new);
            }
        }
        r
    }
}

impl Tapped {
    /// Captures the bytes about to be written (all of `bufs`, in order),
    /// before the socket takes them: a fast answer can never come before
    /// them. A write retried after Pending or after a short write starts
    /// with bytes captured already (rustls resends from its buffer), which
    /// are not captured again.
    fn capture_ahead(&self, bufs: &[io::IoSlice<'_>]) {
        self.tap.flush_received();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let ahead = self.tap.state().ahead;
        if total > ahead {
            let mut skip = ahead;
            let mut new = Vec::with_capacity(total - ahead);
            for b in bufs {
                let s = skip.min(b.len());
                new.extend_from_slice(&b[s..]);
                skip -= s;
            }
            let keys = self.tap.keys.text();
            self.tap
                .capture
                .tls_sent(self.tap.local, self.tap.peer, &new, &keys);
            self.tap.state().ahead = total;
        }
    }

    fn written(&self, r: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = r {
            let mut st = self.tap.state();
            st.ahead = st.ahead.saturating_sub(*n);
            st.sent += *n as u64;
        }
    }
}

impl AsyncWrite for Tapped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.capture_ahead(&[io::IoSlice::new(buf)]);
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.written(&r);
        r
    }

    /// rustls hands its pending records over as several buffers; written as
    /// one (a flight in one segment, not one write per record, which
    /// Nagle's algorithm would hold back for the peer's delayed ACK).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.capture_ahead(bufs);
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.written(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        if r.is_ready() {
            self.tap.closed(false);
        }
        r
    }
}

/// A TLS connection over a tapped TCP stream: AsyncRead/AsyncWrite of the
/// plaintext. Every read that hands out plaintext first writes the records
/// it came in to the capture (after the secrets that decrypt them).
pub struct TlsStream {
    inner: tokio_rustls::TlsStream<Tapped>,
    tap: Arc<Tap>,
    pub negotiated: Negotiated,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    pub fn local(&self) -> SocketAddr {
        self.tap.local
    }

    pub fn peer(&self) -> SocketAddr {
        self.tap.peer
    }

    /// The connection's key log lines so far.
    pub fn key_log(&self) -> Vec<String> {
        self.tap.keys.lines()
    }

    /// Sends a TLS 1.3 KeyUpdate asking the peer to update its keys too
    /// (RFC 8446 §4.6.3); the records after it use the next traffic
    /// secrets (which the capture's readers derive themselves). An error
    /// on TLS 1.2, which has no KeyUpdate.
    pub fn refresh_traffic_keys(&mut self) -> Result<(), TlsError> {
        let r = match &mut self.inner {
            tokio_rustls::TlsStream::Client(s) => s.get_mut().1.refresh_traffic_keys(),
            tokio_rustls::TlsStream::Server(s) => s.get_mut().1.refresh_traffic_keys(),
        };
        r.map_err(|e| TlsError::Io {
            what: format!("no KeyUpdate: {e}"),
        })
    }

    /// Bytes received and sent on the socket so far (TLS records).
    pub fn counts(&self) -> (u64, u64) {
        let st = self.tap.state();
        (st.received, st.sent)
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (before, room) = (buf.filled().len(), buf.remaining() > 0);
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            self.tap.flush_received();
        }
        if room && matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() == before {
            // The end of the plaintext: the peer's close_notify (RFC 8446
            // §6.1) or its FIN; either way it closed its side first.
            self.tap.closed(true);
        }
        r
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Records the check of the SUT's certificate on one connection (the
/// harness as TLS client).
#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    against: String,
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<CertCheck>>,
}

impl RecordingVerifier {
    fn record(&self, c: CertCheck) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }

    fn seen(&self) -> Option<CertCheck> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            self.record(CertCheck::NotChecked {
                presented: 1 + intermediates.len(),
            });
            return Ok(ServerCertVerified::assertion());
        };
        let r =
            inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        self.record(match &r {
            Ok(_) => CertCheck::Verified {
                against: self.against.clone(),
            },
            Err(e) => CertCheck::Refused {
                against: self.against.clone(),
                why: e.to_string(),
            },
        });
        r
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The harness as TLS server.
#[derive(Clone)]
pub struct TlsServer {
    config: ServerConfig,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer").finish_non_exhaustive()
    }
}

impl TlsServer {
    /// A server presenting `identity` (its leaf from the lab CA, or the
    /// files a profile names), offering `offer`, asking no client certificate.
    pub fn new(identity: &Identity, offer: &Offer) -> Result<TlsServer, TlsSetupError> {
        let mut config = ServerConfig::builder_with_provider(offer.provider())
            .with_protocol_versions(&offer.versions)
            .map_err(|e| setup(format!("TLS server versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| setup(format!("TLS server certificate and key: {e}")))?;
        config.alpn_protocols = Vec::new();
        Ok(TlsServer { config })
    }

    /// The ALPN protocols the server agrees to, in preference order.
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> TlsServer {
        self.config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The TLS handshake on a connection the harness accepted, within
    /// `timeout`; the connection's opening, records and secrets go into
    /// `capture`.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        capture: Capture,
        timeout: Duration,
    ) -> Result<TlsStream, TlsError> {
        self.accept_on(tcp, capture, timeout, true).await
    }

    /// Like [`TlsServer::accept`] on a connection already in `capture`
    /// (opened and used in the clear before, as SMTP's STARTTLS does, RFC
    /// 3207): its opening is not written again, the records continue its
    /// TCP stream.
    pub async fn accept_upgraded(
        &self,
        tcp: TcpStream,
        capture: Capture,
        timeout: Duration,
    ) -> Result<TlsStream, TlsError> {
        self.accept_on(tcp, capture, timeout, false).await
    }

    async fn accept_on(
        &self,
        tcp: TcpStream,
        capture: Capture,
        timeout: Duration,
        open: bool,
    ) -> Result<TlsStream, TlsError> {
        let (tapped, tap) = tap(tcp, capture, false, open)?;
        let mut config = self.config.clone();
        config.key_log = Arc::new(tap.keys.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let r = tokio::time::timeout(timeout, acceptor.accept(tapped)).await;
        let stream = finish(r, &tap, timeout, None)?;
        let conn = stream.get_ref().1;
        let negotiated = negotiated(
            &**conn,
            &tap,
            conn.server_name().map(str::to_string),
            CertCheck::NotAsked,
        );
        Ok(TlsStream {
            inner: tokio_rustls::TlsStream::Server(stream),
            tap,
            negotiated,
        })
    }
}

/// The harness as TLS client.
#[derive(Clone)]
pub struct TlsClient {
    config: ClientConfig,
    check: PeerCheck,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// A client offering `offer`, checking the server's certificate as
    /// `check` says, presenting `identity` if a server asks for one.
    pub fn new(
        check: PeerCheck,
        offer: &Offer,
        identity: Option<&Identity>,
    ) -> Result<TlsClient, TlsSetupError> {
        let provider = offer.provider();
        let verifier = client_verifier(&check, &provider)?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&offer.versions)
            .map_err(|e| setup(format!("TLS client versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(|e| setup(format!("TLS client certificate and key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        // Every connection a full handshake: a resumed one checks no
        // certificate, and each connection's record must say what was checked.
        let mut config = config;
        config.resumption = rustls::client::Resumption::disabled();
        Ok(TlsClient {
            config,
            check,
            provider,
        })
    }

    /// The ALPN protocols the client offers.
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> TlsClient {
        self.config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// The TLS handshake on a connection the harness opened to
    /// `server_name` (a DNS name, sent as SNI, or an IP address, which is
    /// not, RFC 6066 §3), within `timeout`; the connection's opening,
    /// records and secrets go into `capture`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        server_name: &str,
        capture: Capture,
        timeout: Duration,
    ) -> Result<TlsStream, TlsError> {
        self.connect_on(tcp, server_name, capture, timeout, true)
            .await
    }

    /// Like [`TlsClient::connect`] on a connection already in `capture`
    /// (used in the clear before: STARTTLS): its opening is not written
    /// again.
    pub async fn connect_upgraded(
        &self,
        tcp: TcpStream,
        server_name: &str,
        capture: Capture,
        timeout: Duration,
    ) -> Result<TlsStream, TlsError> {
        self.connect_on(tcp, server_name, capture, timeout, false)
            .await
    }

    async fn connect_on(
        &self,
        tcp: TcpStream,
        server_name: &str,
        capture: Capture,
        timeout: Duration,
        open: bool,
    ) -> Result<TlsStream, TlsError> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|e| TlsError::Io {
            what: format!("`{server_name}` is no server name a TLS client can check: {e}"),
        })?;
        let (tapped, tap) = tap(tcp, capture, true, open)?;
        let verifier = Arc::new(RecordingVerifier {
            inner: match &self.check {
                PeerCheck::Ca { .. } => Some(
                    webpki_verifier(&self.check, &self.provider)
                        .map_err(|e| TlsError::Io { what: e.0 })?,
                ),
                PeerCheck::NotChecked => None,
            },
            against: match &self.check {
                PeerCheck::Ca { against, .. } => against.clone(),
                PeerCheck::NotChecked => String::new(),
            },
            provider: self.provider.clone(),
            seen: Mutex::new(None),
        });
        let mut config = self.config.clone();
        config.key_log = Arc::new(tap.keys.clone());
        config
            .dangerous()
            .set_certificate_verifier(verifier.clone());
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let r = tokio::time::timeout(timeout, connector.connect(name.clone(), tapped)).await;
        let stream = finish(r, &tap, timeout, verifier.seen())?;
        let sni = match name {
            ServerName::DnsName(d) => Some(d.as_ref().to_string()),
            _ => None,
        };
        let check = verifier.seen().unwrap_or(CertCheck::NotSeen);
        let negotiated = negotiated(&**stream.get_ref().1, &tap, sni, check);
        Ok(TlsStream {
            inner: tokio_rustls::TlsStream::Client(stream),
            tap,
            negotiated,
        })
    }
}

fn webpki_verifier(
    check: &PeerCheck,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
    match check {
        PeerCheck::Ca { roots, against } => {
            WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| setup(format!("checking against {against}: {e}")))
        }
        PeerCheck::NotChecked => Err(setup("no CA to check against")),
    }
}

/// The verifier a client config is built with (each connection gets its own
/// recording one).
fn client_verifier(
    check: &PeerCheck,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    Ok(Arc::new(RecordingVerifier {
        inner: match check {
            PeerCheck::Ca { .. } => Some(webpki_verifier(check, provider)?),
            PeerCheck::NotChecked => None,
        },
        against: String::new(),
        provider: provider.clone(),
        seen: Mutex::new(None),
    }))
}

/// Wraps a connected TCP stream in a tap; its opening goes to the capture
/// when `open` (not for a connection the capture has already).
fn tap(
    tcp: TcpStream,
    capture: Capture,
    connector: bool,
    open: bool,
) -> Result<(Tapped, Arc<Tap>), TlsError> {
    let io_err = |e: io::Error| TlsError::Io {
        what: e.to_string(),
    };
    let local = tcp.local_addr().map_err(io_err)?;
    let peer = tcp.peer_addr().map_err(io_err)?;
    if open && connector {
        capture.tcp_connect(local, peer);
    } else if open {
        capture.tcp_accepted(peer, local);
    }
    let tap = Arc::new(Tap {
        capture,
        local,
        peer,
        keys: KeyLogLines::default(),
        state: Mutex::new(TapState::default()),
    });
    Ok((
        Tapped {
            io: tcp,
            tap: tap.clone(),
        },
        tap,
    ))
}

/// Is this the start of a TLS record (RFC 8446 §5.1: content type 20–23,
/// legacy version 3.x)? Judged on as many bytes as there are.
pub fn looks_like_tls(first: &[u8]) -> bool {
    match first {
        [] => true,
        [t] => (20..=23).contains(t),
        [t, major, ..] => (20..=23).contains(t) && *major == 3,
    }
}

/// The handshake's outcome as a [`TlsError`] (the received records are
/// captured either way).
fn finish<S>(
    r: Result<io::Result<S>, tokio::time::error::Elapsed>,
    tap: &Tap,
    timeout: Duration,
    check: Option<CertCheck>,
) -> Result<S, TlsError> {
    tap.flush_received();
    let (received, first) = {
        let st = tap.state();
        (st.received, st.first.clone())
    };
    let e = match r {
        Ok(Ok(s)) => return Ok(s),
        Err(_) => {
            return Err(TlsError::Timeout {
                after: timeout,
                received,
            })
        }
        Ok(Err(e)) => e,
    };
    if !looks_like_tls(&first) {
        return Err(TlsError::NotTls { first_bytes: first });
    }
    if let Some(CertCheck::Refused { why, .. }) = check {
        return Err(TlsError::CertificateRefused { why });
    }
    Err(match rustls_error(&e) {
        Some(rustls::Error::AlertReceived(a)) => TlsError::AlertReceived {
            alert: format!("{a:?}"),
        },
        Some(rustls::Error::InvalidCertificate(c)) => TlsError::CertificateRefused {
            why: format!("{c:?}"),
        },
        Some(other) => TlsError::PeerMisbehaved {
            what: other.to_string(),
        },
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            TlsError::ClosedDuringHandshake { received }
        }
        None => TlsError::Io {
            what: e.to_string(),
        },
    })
}

fn negotiated<D>(
    conn: &rustls::ConnectionCommon<D>,
    tap: &Tap,
    sni: Option<String>,
    peer_certificate: CertCheck,
) -> Negotiated {
    let n = Negotiated {
        version: conn
            .protocol_version()
            .map_or_else(|| "unknown".into(), version_name),
        suite: conn
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |s| suite_name(s.suite())),
        sni,
        alpn: conn
            .alpn_protocol()
            .map(|a| String::from_utf8_lossy(a).into_owned()),
        peer_certificate,
        local: tap.local,
        peer: tap.peer,
    };
    tap.capture.tls_negotiated(&n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encodes_like_rcgen() {
        let ca = LabCa::new().unwrap();
        assert_eq!(
            pem("CERTIFICATE", &ca.der()),
            ca.pem().replace("\r\n", "\n")
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_454), (2026, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn tls_records_are_told_from_plaintext() {
        assert!(looks_like_tls(&[0x16, 3, 1, 0, 5]));
        assert!(looks_like_tls(&[0x15]));
        assert!(!looks_like_tls(b"OPTIONS sip:x SIP/2.0"));
        assert!(!looks_like_tls(&[0x16, 0x47]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1"));
    }

    #[test]
    fn the_lab_ca_issues_a_leaf_for_names_and_ips() {
        let dir = std::env::temp_dir().join(format!("liaison-tls-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = LabCa::create(&dir.join("ca.pem")).unwrap();
        let id = ca
            .issue(
                &["harness.liaison.test"],
                &["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            )
            .unwrap();
        assert_eq!(id.chain.len(), 2);
        let written = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
        assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
        // The files round-trip through the reader a profile's files use.
        std::fs::write(dir.join("leaf.pem"), id.cert_pem()).unwrap();
        std::fs::write(dir.join("key.pem"), pem("PRIVATE KEY", id.key.secret_der())).unwrap();
        let back = Identity::from_pem_files(&dir.join("leaf.pem"), &dir.join("key.pem")).unwrap();
        assert_eq!(back.chain[0], id.chain[0]);
        let check = PeerCheck::ca_files(&[dir.join("ca.pem")]).unwrap();
        assert!(matches!(check, PeerCheck::Ca { .. }));
        // The leaf is valid for both IPs and the name, against the CA.
        let v = webpki_verifier(&check, &Offer::all().provider()).unwrap();
        for n in ["127.0.0.1", "::1", "harness.liaison.test"] {
            let name = ServerName::try_from(n.to_string()).unwrap();
            v.verify_server_cert(&id.chain[0], &id.chain[1..], &name, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        let other = ServerName::try_from("elsewhere.test".to_string()).unwrap();
        assert!(v
            .verify_server_cert(&id.chain[0], &[], &other, &[], UnixTime::now())
            .is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_are_setup_errors() {
        let dir = std::env::temp_dir().join(format!("liaison-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.pem"), "no pem here\n").unwrap();
        let e = PeerCheck::ca_files(&[dir.join("empty.pem")]).unwrap_err();
        assert!(e.0.contains("found none"), "{e}");
        let e =
            Identity::from_pem_files(&dir.join("missing.pem"), &dir.join("empty.pem")).unwrap_err();
        assert!(e.0.contains("missing.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn suites_are_named_as_the_report_names_them() {
        for s in Offer::all().suites {
            let code = u16::from(s.suite());
            assert_eq!(suite_name(s.suite()), crate::report::tls::suite_name(code));
            assert!(
                !suite_name(s.suite()).starts_with("cipher suite"),
                "{code:04x}"
            );
        }
    }

    #[test]
    fn suites_are_named_as_iana_does() {
        assert_eq!(
            suite_name(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(
            suite_name(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        );
        assert!(Offer::tls12()
            .only(&[CipherSuite::TLS13_AES_128_GCM_SHA256])
            .is_ok()); // the suite list is filtered, the versions separately
        assert!(Offer::all().only(&[CipherSuite::Unknown(0x0005)]).is_err());
    }
}
