//! Why bytes are not an MMS PDU (or not the one a caller asked for).

use std::fmt;

/// A precise decoding or building error. Every variant that concerns input bytes
/// names the offset (from the start of the PDU) where the problem starts, and its
/// `Display` is a single line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MmsError {
    /// No bytes at all.
    Empty,
    /// The input ends inside `what`, which starts at `at`; at least `need` more
    /// octets would be required.
    Truncated {
        what: &'static str,
        at: usize,
        need: usize,
    },
    /// A Value-length (WAP-230 §8.4.2.2) at `at` declares `declared` octets but only
    /// `available` remain in the PDU (or in the enclosing value).
    BadValueLength {
        what: &'static str,
        at: usize,
        declared: usize,
        available: usize,
    },
    /// A uintvar (WAP-230 §8.1.2) longer than five octets or above 32 bits.
    UintvarOverflow { what: &'static str, at: usize },
    /// A value whose form is not allowed where it stands.
    BadValue {
        what: &'static str,
        at: usize,
        reason: &'static str,
    },
    /// The PDU has no X-Mms-Message-Type header at all.
    MissingMessageType,
    /// X-Mms-Message-Type at `at` carries a value no MMS version defines.
    UnknownMessageType { at: usize, value: u8 },
    /// An Encoded-string-value at `at` declares a character set whose text is not
    /// valid in it (UTF-8, 106, with invalid sequences; US-ASCII, 3, with octets
    /// above 127).
    BadCharset {
        what: &'static str,
        at: usize,
        charset: u32,
    },
    /// A header stands where the order rules (OMA-MMS-ENC §6: Message-Type first,
    /// then Transaction-ID where the PDU has one, then MMS-Version; Content-Type
    /// last) do not allow it.
    HeaderOrder {
        at: usize,
        field: &'static str,
        rule: &'static str,
    },
    /// A multipart body (WAP-230 §8.5) whose entries do not fit.
    BadMultipart {
        at: usize,
        part: usize,
        reason: &'static str,
    },
    /// A text that is not an MMS address (OMA-MMS-ENC §8).
    BadAddress { input: String, reason: &'static str },
}

impl fmt::Display for MmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MmsError::Empty => f.write_str("MMS PDU: no bytes"),
            MmsError::Truncated { what, at, need } => write!(
                f,
                "MMS PDU: input ends inside the {what} at offset {at} (at least {need} more octet(s) needed)"
            ),
            MmsError::BadValueLength {
                what,
                at,
                declared,
                available,
            } => write!(
                f,
                "MMS PDU: value length of the {what} at offset {at} declares {declared} octet(s) but only {available} remain"
            ),
            MmsError::UintvarOverflow { what, at } => write!(
                f,
                "MMS PDU: uintvar of the {what} at offset {at} exceeds 32 bits or 5 octets"
            ),
            MmsError::BadValue { what, at, reason } => {
                write!(f, "MMS PDU: malformed {what} at offset {at}: {reason}")
            }
            MmsError::MissingMessageType => {
                f.write_str("MMS PDU: no X-Mms-Message-Type header (offset 0 onwards)")
            }
            MmsError::UnknownMessageType { at, value } => write!(
                f,
                "MMS PDU: X-Mms-Message-Type value {value:#04x} at offset {at} is not a defined message type"
            ),
            MmsError::BadCharset { what, at, charset } => write!(
                f,
                "MMS PDU: the {what} at offset {at} is not valid text in charset {charset}"
            ),
            MmsError::HeaderOrder { at, field, rule } => write!(
                f,
                "MMS PDU: header order: {field} at offset {at}: {rule}"
            ),
            MmsError::BadMultipart { at, part, reason } => write!(
                f,
                "MMS PDU: multipart body, entry {part} at offset {at}: {reason}"
            ),
            MmsError::BadAddress { input, reason } => write!(
                f,
                "MMS address {:?} (offset 0): {reason}",
                super::super::escape_bytes(input.as_bytes(), 64)
            ),
        }
    }
}

impl std::error::Error for MmsError {}
