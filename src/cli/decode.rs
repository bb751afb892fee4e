//! `liaison decode`: every field of the PDUs in raw bytes, a hex dump or a
//! capture, with offsets (the core is [`crate::decode`]).

use std::io::Read;
use std::path::PathBuf;

use crate::decode::{self, Proto, MAX_INPUT};

use super::{EXIT_PASS, EXIT_USAGE};

/// `liaison decode`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// The input: raw bytes, hex (plain, or an xxd / tshark -x dump), or a
    /// pcap/pcapng capture; `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub input: PathBuf,
    /// sip, sdp, msrp, mms, wsp, pap, smpp, smtp, http, or auto (guessed from the
    /// first bytes). For a capture, only that protocol's messages.
    #[arg(long, default_value = "auto", value_name = "PROTO")]
    pub proto: String,
    /// text (one line per field) or json.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    pub format: String,
}

/// Most lines of errors written to stderr.
const MAX_ERROR_LINES: usize = 20;

pub fn cmd(a: DecodeArgs) -> i32 {
    let name = a.input.display().to_string();
    let proto = if a.proto.eq_ignore_ascii_case("auto") {
        None
    } else {
        match Proto::from_name(&a.proto) {
            Some(p) => Some(p),
            None => {
                eprintln!(
                    "liaison: decode: expected --proto sip, sdp, msrp, mms, wsp, pap, smpp, smtp, http or auto, came `{}`",
                    a.proto
                );
                return EXIT_USAGE;
            }
        }
    };
    let json = match a.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            eprintln!("liaison: decode: expected --format text or json, came `{other}`");
            return EXIT_USAGE;
        }
    };
    let bytes = match read_input(&a.input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("liaison: decode: {name}: {e}");
            return EXIT_USAGE;
        }
    };
    let d = match decode::decode_input(&bytes, proto) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("liaison: decode: {name}: {e}");
            return EXIT_USAGE;
        }
    };
    if json {
        print!("{}", decode::render::json(&d));
    } else {
        print!("{}", decode::render::text(&d));
    }
    if !d.has_errors() {
        return EXIT_PASS;
    }
    let mut lines = Vec::new();
    for (i, e) in d.pdus.iter().enumerate() {
        if let Some(l) = decode::render::error_line(&e.pdu) {
            let at = match &e.frame {
                Some(f) => format!("frame {}", f.frame),
                None => format!("PDU {}", i + 1),
            };
            lines.push(format!("{at} ({}): {l}", e.pdu.proto.as_str()));
        }
    }
    lines.extend(d.skipped.iter().map(|s| format!("not decoded: {s}")));
    let more = lines.len().saturating_sub(MAX_ERROR_LINES);
    for l in lines.iter().take(MAX_ERROR_LINES) {
        eprintln!("liaison: decode: {name}: {l}");
    }
    if more > 0 {
        eprintln!("liaison: decode: {name}: … and {more} more (see the listing)");
    }
    EXIT_USAGE
}

/// The input's bytes, at most [`MAX_INPUT`] (a device such as /dev/zero
/// stops at the limit too).
fn read_input(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    } else {
        let f = std::fs::File::open(path).map_err(|e| format!("cannot read the file ({e})"))?;
        f.take(MAX_INPUT + 1).read_to_end(&mut bytes)
    };
    read.map_err(|e| format!("cannot read the input ({e})"))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!(
            "expected at most {MAX_INPUT} bytes, came more (not read past the limit)"
        ));
    }
    Ok(bytes)
}
