//! Sans-IO codecs: pure functions from bytes to values and back.
//!
//! Nothing in here touches a socket, a file or a runtime (no tokio, no I/O). The
//! network layer (`src/net`) frames and moves bytes; the roles call these codecs to
//! read and write them. Every decoder accepts any input at all: it never panics and
//! answers bad bytes with an error that says precisely what was wrong and where, so
//! that a scenario failure can show the offending bytes.

pub mod emn;
pub mod http;
pub mod ims;
pub mod mail;
pub mod mms;
pub mod msrp;
pub mod pap;
pub mod presence;
pub mod sdp;
pub mod sip;
pub mod sip_push;
pub mod smpp;
pub mod smtp;
pub mod wdp;
pub mod ws;
pub mod wsp;
pub mod xcap;
pub mod xml_tree;

/// Render bytes for a failure message.
///
/// Printable ASCII is shown as is, `\r`, `\n` and `\t` as those two-character
/// escapes, every other byte as `\xHH`. At most `max` input bytes are rendered; when
/// more remain, `… (N more bytes)` is appended. The result is always a single line.
///
/// ```
/// use liaison::codec::escape_bytes;
/// assert_eq!(escape_bytes(b"SIP/2.0 200 OK\r\n\x00", 64), "SIP/2.0 200 OK\\r\\n\\x00");
/// assert!(escape_bytes(&[b'a'; 10], 4).starts_with("aaaa"));
/// ```
pub fn escape_bytes(bytes: &[u8], max: usize) -> String {
    let shown = bytes.get(..max).unwrap_or(bytes);
    let mut out = String::with_capacity(shown.len() + 16);
    for &b in shown {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push_str("\\x");
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        }
    }
    if bytes.len() > shown.len() {
        out.push_str(&format!("… ({} more bytes)", bytes.len() - shown.len()));
    }
    out
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0x0f)])
}

/// The IANA name of a TLS cipher suite by its code point (RFC 8446 §B.4,
/// RFC 5289, RFC 7905): the capture's reader and the TLS layer name
/// suites the same way.
pub fn tls_suite_name(code: u16) -> String {
    let name = match code {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xC02B => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return format!("cipher suite 0x{code:04x}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::escape_bytes;

    #[test]
    fn escape_bytes_printable_controls_and_cut() {
        assert_eq!(escape_bytes(b"abc", 10), "abc");
        assert_eq!(escape_bytes(b"a\r\n\tb", 10), "a\\r\\n\\tb");
        assert_eq!(
            escape_bytes(&[0x00, 0xff, 0x80, 0x7f], 10),
            "\\x00\\xFF\\x80\\x7F"
        );
        assert_eq!(escape_bytes(b"abcdef", 4), "abcd… (2 more bytes)");
        assert_eq!(escape_bytes(b"", 4), "");
        assert_eq!(escape_bytes(b"abc", 0), "… (3 more bytes)");
        assert_eq!(escape_bytes(b"abcd", 4), "abcd");
    }
}
