//! The decoded fields as text for people (one line per field: offset,
//! length, name, value) or as JSON.

use std::fmt::Write;

use super::{hex, Decoded, Pdu, PduEntry};

/// Octets shown before and after an error's offset.
const AROUND_BEFORE: usize = 4;
const AROUND_AFTER: usize = 8;

/// The bytes around `offset`, the one at `offset` in brackets:
/// `3a 20 31 [0a] 41 42`, or `… [end of input]`.
pub fn around(b: &[u8], offset: usize) -> String {
    let from = offset.saturating_sub(AROUND_BEFORE).min(b.len());
    let mut parts: Vec<String> = b[from..offset.min(b.len())]
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    match b.get(offset) {
        Some(x) => parts.push(format!("[{x:02x}]")),
        None => parts.push("[end of input]".into()),
    }
    let to = (offset + 1 + AROUND_AFTER).min(b.len());
    if offset < b.len() {
        parts.extend(b[offset + 1..to].iter().map(|x| format!("{x:02x}")));
    }
    parts.join(" ")
}

/// The one-line error of a PDU: `error at offset 37: … (bytes: 3a 20 [0a] 41)`.
pub fn error_line(p: &Pdu) -> Option<String> {
    let e = p.error.as_ref()?;
    Some(format!(
        "error at offset {}: {} (bytes: {})",
        e.offset,
        e.message,
        around(&p.bytes, e.offset)
    ))
}

/// The heading of a PDU: where it came from and what it is.
pub fn heading(n: usize, e: &PduEntry, input: &str) -> String {
    let p = &e.pdu;
    let mut s = String::new();
    match &e.frame {
        Some(f) => {
            let _ = write!(
                s,
                "frame {} at {:.6} s, {} → {} over {}: ",
                f.frame, f.time, f.from, f.to, f.transport
            );
        }
        None => {
            let _ = write!(s, "PDU {n} at {input} offset {}: ", p.start);
        }
    }
    let _ = write!(s, "{} ({} bytes)", p.proto.as_str().to_uppercase(), p.len);
    if let Some(g) = &p.guessed {
        let _ = write!(s, ", chosen by --proto auto: {g}");
    }
    s
}

/// The whole result as text.
pub fn text(d: &Decoded) -> String {
    let mut s = String::new();
    for (i, e) in d.pdus.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&heading(i + 1, e, &d.input));
        s.push('\n');
        let _ = writeln!(s, "{:>7} {:>6}  field  value", "offset", "length");
        for f in &e.pdu.fields {
            let indent = "  ".repeat(f.depth);
            let value = if f.value.is_empty() {
                String::new()
            } else {
                format!("  {}", f.value)
            };
            let _ = writeln!(s, "{:>7} {:>6}  {indent}{}{value}", f.offset, f.len, f.name);
        }
        if e.pdu.fields_more > 0 {
            let _ = writeln!(s, "  … {} more fields not listed", e.pdu.fields_more);
        }
        if let Some(l) = error_line(&e.pdu) {
            let _ = writeln!(s, "{l}");
        }
    }
    if let Some(stop) = &d.stopped {
        let _ = writeln!(s, "\nstopped {stop}");
    }
    if !d.notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for k in &d.notes {
            let _ = writeln!(s, "  {k}");
        }
    }
    if !d.skipped.is_empty() {
        let _ = writeln!(s, "\nnot decoded:");
        for k in &d.skipped {
            let _ = writeln!(s, "  {k}");
        }
    }
    if d.pdus.is_empty() && d.skipped.is_empty() {
        match d.frames {
            Some(0) => s.push_str("no PDU: the capture holds no frames\n"),
            Some(n) => {
                let _ = writeln!(s, "no PDU in the {n} frames of the capture");
            }
            None => s.push_str("no PDU\n"),
        }
    }
    s
}

/// The whole result as JSON (fields, errors with the bytes around them as hex).
pub fn json(d: &Decoded) -> String {
    let mut v = serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
    // Each error gains its bytes around the offset.
    if let Some(pdus) = v.get_mut("pdus").and_then(|p| p.as_array_mut()) {
        for (j, e) in pdus.iter_mut().zip(&d.pdus) {
            if let (Some(err), Some(pe)) = (j.get_mut("error"), &e.pdu.error) {
                err["around"] = serde_json::Value::String(around(&e.pdu.bytes, pe.offset));
            }
            j["hex"] = serde_json::Value::String(hex(&e.pdu.bytes, 64));
        }
    }
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
