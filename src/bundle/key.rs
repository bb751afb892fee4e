//! Ed25519 keys for signing bundles (RFC 8032; ring's implementation), in
//! the forms a vendor has: a private key as PKCS#8 (RFC 5208/5958; RFC 8410
//! for Ed25519), PEM or DER, as `openssl genpkey -algorithm ed25519` writes
//! it; a public key as a SubjectPublicKeyInfo PEM/DER (`openssl pkey
//! -pubout`; RFC 8410 §4), the raw 32 bytes, or those in hex. PEM's base64
//! (RFC 4648 §4) is decoded here; no I/O.

use std::fmt;

use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// The DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes
/// (RFC 8410 §4: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// PEM armour without its END line, or base64 that does not decode.
    BadPem(String),
    /// A PEM block of another kind than expected.
    WrongPemLabel {
        expected: &'static str,
        came: String,
    },
    /// DER that ring does not take as an Ed25519 PKCS#8 key.
    NotEd25519Private(String),
    /// Neither SPKI, nor 32 bytes, nor 64 hex digits.
    NotEd25519Public(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::BadPem(w) => write!(f, "not a PEM file: {w}"),
            KeyError::WrongPemLabel { expected, came } => {
                write!(f, "expected a PEM `{expected}` block, came `{came}`")
            }
            KeyError::NotEd25519Private(w) => write!(
                f,
                "expected an Ed25519 private key in PKCS#8 (PEM or DER, as `openssl genpkey -algorithm ed25519` writes): {w}"
            ),
            KeyError::NotEd25519Public(w) => write!(
                f,
                "expected an Ed25519 public key (PEM `PUBLIC KEY` as `openssl pkey -pubout` writes, its DER, 32 raw bytes or 64 hex digits): {w}"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// An Ed25519 public key (its 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// `SHA256:` and the hex SHA-256 of the 32 key bytes.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        format!("SHA256:{}", hex(&Sha256::digest(&self.0[..])))
    }

    /// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem("PUBLIC KEY", &der)
    }

    /// Does `sig` sign `msg` under this key?
    pub fn verifies(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(msg, sig)
            .is_ok()
    }
}

/// A private key that signs.
pub struct SigningKey(Ed25519KeyPair);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public().fingerprint())
    }
}

impl SigningKey {
    pub fn public(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(k)
    }

    /// The signature of `msg` (64 bytes; Ed25519 is deterministic).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).as_ref().to_vec()
    }
}

/// The DER of an Ed25519 PKCS#8 v1 private key before its 32-byte seed
/// (RFC 8410 §7: version 0, the algorithm, an OCTET STRING holding the
/// CurvePrivateKey OCTET STRING), as `openssl genpkey` writes it.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new key pair: the private key as PKCS#8 PEM, and the key. ring makes
/// a PKCS#8 v2 document (RFC 5958, with the public key), which OpenSSL 3
/// does not read; the file holds the v1 form openssl itself writes.
pub fn generate() -> Result<(String, SigningKey), KeyError> {
    let failed = |w: &str| KeyError::NotEd25519Private(w.to_string());
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| failed("the system's random source failed"))?;
    // ring's v2 layout: SEQUENCE, version 1, the algorithm, then the same
    // OCTET STRING { OCTET STRING seed } as v1, then [1] the public key.
    let v2 = doc.as_ref();
    let seed = v2
        .get(16..48)
        .filter(|_| v2.get(5..16) == Some(&PKCS8_V1_PREFIX[5..]))
        .ok_or_else(|| failed("unexpected PKCS#8 layout from ring"))?;
    let mut v1 = PKCS8_V1_PREFIX.to_vec();
    v1.extend_from_slice(seed);
    let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&v1)
        .map_err(|e| KeyError::NotEd25519Private(e.to_string()))?;
    let same = Ed25519KeyPair::from_pkcs8(v2)
        .map(|k| k.public_key().as_ref() == key.public_key().as_ref())
        .unwrap_or(false);
    if !same {
        return Err(failed("the v1 form does not give ring's key"));
    }
    Ok((pem("PRIVATE KEY", &v1), SigningKey(key)))
}

/// A private key file's bytes: PKCS#8 PEM (`PRIVATE KEY`) or DER.
pub fn parse_private(bytes: &[u8]) -> Result<SigningKey, KeyError> {
    let der = if looks_like_pem(bytes) {
        let (label, der) = unpem(bytes)?;
        if label != "PRIVATE KEY" {
            return Err(KeyError::WrongPemLabel {
                expected: "PRIVATE KEY",
                came: label,
            });
        }
        der
    } else {
        bytes.to_vec()
    };
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map(SigningKey)
        .map_err(|e| KeyError::NotEd25519Private(e.to_string()))
}

/// A public key file's bytes: SPKI PEM or DER, 32 raw bytes, or 64 hex digits.
pub fn parse_public(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    let from = |raw: &[u8]| -> Option<PublicKey> { raw.try_into().ok().map(PublicKey) };
    if looks_like_pem(bytes) {
        let (label, der) = unpem(bytes)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::WrongPemLabel {
                expected: "PUBLIC KEY",
                came: label,
            });
        }
        return spki(&der);
    }
    if let Some(k) = from(bytes) {
        return Ok(k);
    }
    if bytes.starts_with(&SPKI_PREFIX) {
        return spki(bytes);
    }
    let text = std::str::from_utf8(bytes).unwrap_or("").trim();
    if let Some(k) = unhex(&text.to_ascii_lowercase()).and_then(|raw| from(&raw)) {
        return Ok(k);
    }
    Err(KeyError::NotEd25519Public(format!(
        "came {} bytes of neither form",
        bytes.len()
    )))
}

fn spki(der: &[u8]) -> Result<PublicKey, KeyError> {
    match der
        .strip_prefix(&SPKI_PREFIX[..])
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
    {
        Some(k) => Ok(PublicKey(k)),
        None => Err(KeyError::NotEd25519Public(
            "the SubjectPublicKeyInfo is not an Ed25519 key (OID 1.3.101.112, 32 bytes)".into(),
        )),
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    let t = bytes.trim_ascii_start();
    t.starts_with(b"-----BEGIN ")
}

/// The first PEM block: its label and its bytes.
fn unpem(bytes: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KeyError::BadPem("not ASCII text".into()))?;
    let mut lines = text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let first = lines.next().unwrap_or("");
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| KeyError::BadPem(format!("expected `-----BEGIN …-----`, came `{first}`")))?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    for l in lines {
        if l == end {
            return base64_decode(&b64)
                .map(|der| (label, der))
                .ok_or_else(|| KeyError::BadPem("the base64 does not decode".into()));
        }
        if l.contains(':') {
            return Err(KeyError::BadPem(
                "encrypted or headed PEM is not supported (write the key without a passphrase)"
                    .into(),
            ));
        }
        b64.push_str(l);
    }
    Err(KeyError::BadPem(format!("no `{end}` line")))
}

/// PEM armour around `der`, lines of 64 characters.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim_end_matches('=');
    if text.len() - t.len() > 2 || !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(t.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in t.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex digits to bytes (None if odd, upper-case or not hex: one
/// spelling per value, so a MANIFEST has one text per content).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` of it
    /// (a key made for this test only).
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDPmbziQ8XDtG344qEU0Sfbk0juMD6S6KO4g+06sidEF
-----END PRIVATE KEY-----
";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA4ZvZ1MFMpeBP4A8xc8ZHLtpO2lPiwT/gAB7yRTm7Tew=
-----END PUBLIC KEY-----
";

    #[test]
    fn base64_round_trips() {
        for n in 0..20 {
            let b: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&b)).unwrap(), b);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert!(base64_decode("Zm9v!mFy").is_none());
        assert!(base64_decode("Zm9").is_none());
    }

    #[test]
    fn openssl_keys_sign_and_verify() {
        let k = parse_private(OPENSSL_PRIVATE.as_bytes()).unwrap();
        let pubkey = k.public();
        assert_eq!(parse_public(OPENSSL_PUBLIC.as_bytes()).unwrap(), pubkey);
        assert_eq!(pubkey.to_pem(), OPENSSL_PUBLIC);
        let sig = k.sign(b"MANIFEST");
        assert!(pubkey.verifies(b"MANIFEST", &sig));
        assert!(!pubkey.verifies(b"MANIFEST.", &sig));
        // Every public form names the same key.
        let pem = pubkey.to_pem();
        assert_eq!(parse_public(pem.as_bytes()).unwrap(), pubkey);
        assert_eq!(parse_public(&pubkey.0).unwrap(), pubkey);
        assert_eq!(parse_public(hex(&pubkey.0).as_bytes()).unwrap(), pubkey);
        let (_, der) = unpem(pem.as_bytes()).unwrap();
        assert_eq!(parse_public(&der).unwrap(), pubkey);
        // DER private keys too.
        let (_, der) = unpem(OPENSSL_PRIVATE.as_bytes()).unwrap();
        assert_eq!(parse_private(&der).unwrap().public(), pubkey);
    }

    #[test]
    fn generated_keys_read_back() {
        let (pem, k) = generate().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "{pem}"
        );
        assert_eq!(parse_private(pem.as_bytes()).unwrap().public(), k.public());
    }

    #[test]
    fn bad_key_files_are_named() {
        let e = parse_public(OPENSSL_PRIVATE.as_bytes()).unwrap_err();
        assert!(matches!(e, KeyError::WrongPemLabel { .. }), "{e}");
        let e = parse_private(b"-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap_err();
        assert!(matches!(e, KeyError::BadPem(_)), "{e}");
        let e = parse_private(b"hello").unwrap_err();
        assert!(matches!(e, KeyError::NotEd25519Private(_)), "{e}");
        let e = parse_public(b"hello").unwrap_err();
        assert!(matches!(e, KeyError::NotEd25519Public(_)), "{e}");
        let rsa = pem("PUBLIC KEY", &[0x30, 0x0d, 0x06, 0x09]);
        let e = parse_public(rsa.as_bytes()).unwrap_err();
        assert!(matches!(e, KeyError::NotEd25519Public(_)), "{e}");
    }
}
