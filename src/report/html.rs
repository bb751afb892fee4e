//! `report.html`: the compliance report a person opens. One self-contained
//! file (no network fetches, opens from disk): the verdict at a glance, the
//! requirement matrix grouped by source liaison, every scenario with its
//! steps, its failure (expected, came, the offending bytes as text and hex)
//! and a message ladder read back from its pcap, and the waivers.
//!
//! Safety: every string is escaped, whatever its origin (a SUT's reason
//! phrase, header or body reaches the page through failures and ladders).
//! On top of that, a Content-Security-Policy admits no script but the page's
//! own (by its SHA-256), and no fetch at all.
//!
//! Filtering by verdict and area is plain HTML and CSS (checkboxes and
//! sibling selectors), so it works with scripts off. The one small script
//! opens the scenario a link points into and fills a message's hex view on
//! demand (hex for every message would make large reports too big); opened
//! as `report.html#check`, it marks `<html data-visible="…">` with the key
//! parts a reader sees (matrix, a failed scenario's ladder and failure bytes
//! as text and hex), which the browser test reads.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::excerpt::{self, cap};
use super::ladder::{self, Ladder, Message};
use super::{
    escape_xml as esc, Element, Report, ReqVerdict, RequirementResult, ScenarioResult, Side,
    StepOutcome, Truncated, WaiverStatus,
};
use crate::catalogue::{self, Level};

// The caps on what a scenario shows are in `excerpt`.
/// Offending bytes shown in hex under a failure.
const MAX_FAILURE_HEX: usize = 4096;

/// The page's only script (its hash goes into the CSP).
const SCRIPT: &str = r#"(function(){
function bytesOf(pre){var o=[];pre.childNodes.forEach(function(n){if(n.nodeType===3){var t=n.data;for(var i=0;i<t.length;i++){var c=t.charCodeAt(i);if(c===10){o.push(13,10)}else{o.push(c&255)}}}else{var e=n.textContent,k=0;while(k<e.length){var m=e.charAt(k+1);if(m==='r'){o.push(13);k+=2}else if(m==='t'){o.push(9);k+=2}else if(m==='n'){o.push(10);k+=3}else if(m==='x'){o.push(parseInt(e.substr(k+2,2),16));k+=4}else{k+=1}}}});return o}
function hex(b){var s='';for(var i=0;i<b.length;i+=16){var h='',a='';for(var j=0;j<16;j++){if(i+j<b.length){var x=b[i+j];h+=(x<16?'0':'')+x.toString(16)+' ';a+=x>=32&&x<127?String.fromCharCode(x):'.'}else{h+='   '}if(j===7){h+=' '}}var off=i.toString(16);while(off.length<4){off='0'+off}s+=off+'  '+h+' '+a+'\n'}return s}
function show(){var id=decodeURIComponent(location.hash.slice(1));if(!id)return;var el=document.getElementById(id);if(!el)return;for(var p=el;p;p=p.parentElement){if(p.tagName==='DETAILS'){p.open=true}}var t=el.classList.contains('msg')&&el.querySelector('pre.txt');if(t&&!el.querySelector('pre.hex')){var h=document.createElement('pre');h.className='hex';h.textContent=hex(bytesOf(t));t.after(h)}}
function check(){var v=function(e){return !!e&&e.getClientRects().length>0&&getComputedStyle(e).visibility!=='hidden'};var f='details.sc.v-failed ';var parts={'matrix':'#matrix table.matrix','ladder':f+'svg.lad','failure-text':f+'pre.fb','failure-hex':f+'pre.hexs'};var seen=[];for(var k in parts){if(v(document.querySelector(parts[k]))){seen.push(k)}}document.documentElement.setAttribute('data-visible',seen.join(' '))}
window.addEventListener('hashchange',show);show();if(location.hash==='#check'){check()}
})();"#;

const STYLE: &str = r#"
:root{--pass:#1a7f37;--passbg:#e6f4ea;--fail:#c62828;--failbg:#fdecea;--waive:#9a6700;--waivebg:#fff4d6;--na:#6e7781;--nabg:#f1f3f5;--info:#3b5b7a;--infobg:#e8eef5;--line:#d0d7de;--ink:#1f2328;--soft:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);margin:0;background:#fff}
header.top,main,nav.filters{padding:0 24px}
header.top{padding-top:18px;padding-bottom:8px;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:0 0 10px}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:22px 0 6px}
h3 small,.soft{color:var(--soft);font-weight:normal}
.verdict{display:inline-block;font-size:20px;font-weight:700;padding:6px 14px;border-radius:6px;margin:0 0 10px}
.verdict small{font-size:14px;font-weight:500;margin-left:8px}
.verdict.v-passed{background:var(--passbg);color:var(--pass)}
.verdict.v-failed{background:var(--failbg);color:var(--fail)}
.verdict.v-waived{background:var(--waivebg);color:var(--waive)}
.verdict.v-not-run{background:var(--nabg);color:var(--na)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--soft);background:#f6f8fa}
table.glance{width:auto;margin-bottom:8px}
table.glance th{text-transform:none;letter-spacing:0;font-size:13px;background:none;padding-left:0;white-space:nowrap}
.badge{display:inline-block;min-width:74px;text-align:center;font-size:12px;font-weight:600;padding:1px 7px;border-radius:10px;white-space:nowrap}
.b-passed{background:var(--passbg);color:var(--pass)}
.b-failed{background:var(--failbg);color:var(--fail)}
.b-waived,.b-expired{background:var(--waivebg);color:var(--waive)}
.b-not-run,.b-skipped,.b-stale{background:var(--nabg);color:var(--na)}
.b-not-applicable{background:#fafafa;color:#8c959f;border:1px dashed #c7ccd1}
.b-informative{background:var(--infobg);color:var(--info)}
.b-applied{background:var(--passbg);color:var(--pass)}
.counts span{margin-right:12px;white-space:nowrap}
nav.filters{position:sticky;top:0;z-index:5;background:#fffffff2;border-bottom:1px solid var(--line);padding-top:8px;padding-bottom:8px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
nav.filters .group{display:flex;flex-wrap:wrap;gap:4px;align-items:center}
nav.filters .group>b{font-size:12px;color:var(--soft);margin-right:4px}
nav.filters label{cursor:pointer;user-select:none;border:1px solid var(--line);border-radius:12px;padding:1px 9px;font-size:12px;background:#fff;color:#8c959f;text-decoration:line-through}
nav.filters a{font-size:13px}
input.f{display:none}
td.id{white-space:nowrap;font-weight:600}
td.req b{display:block}
td.req .st{margin:2px 0}
td.req small,td.by small{color:var(--soft)}
td.by a{display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:340px}
tr.v-failed td.id{color:var(--fail)}
tr.v-failed{background:#fff8f8}
tr.v-waived{background:#fffbeb}
details.sc{border:1px solid var(--line);border-radius:6px;margin:6px 0;background:#fff}
details.sc>summary{cursor:pointer;padding:6px 10px;list-style-position:outside;display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
details.sc[open]>summary{border-bottom:1px solid var(--line);background:#f6f8fa}
details.sc.v-failed{border-left:4px solid var(--fail)}
details.sc.v-waived{border-left:4px solid var(--waive)}
details.sc.v-passed{border-left:4px solid var(--pass)}
summary .name{font-weight:600}
summary .feat,summary .ms,summary .reqs{color:var(--soft);font-size:12px}
.scbody{padding:8px 14px 12px}
.meta{color:var(--soft);font-size:12px;margin:2px 0 8px}
ol.steps{list-style:none;padding:0;margin:4px 0 10px;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px}
ol.steps li{padding:1px 0 1px 22px;position:relative}
ol.steps li::before{position:absolute;left:2px;font-weight:700}
ol.steps li.passed::before{content:"✓";color:var(--pass)}
ol.steps li.failed{background:var(--failbg)}
ol.steps li.failed::before{content:"✗";color:var(--fail)}
ol.steps li.skipped{color:#8c959f}
ol.steps li.skipped::before{content:"–"}
ol.steps li.bg{opacity:.8}
ol.steps b{color:#8250df;font-weight:600}
.failure{border:1px solid #f1aeb5;background:#fff8f8;border-radius:6px;padding:8px 12px;margin:8px 0 12px}
.failure h4,.ladder h4,.msgs h4{margin:0 0 6px;font-size:13px}
.failure dl+h4{margin-top:12px}
.failure dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:3px 10px}
.failure dt{font-weight:600;color:var(--soft)}
.failure dd{margin:0;white-space:pre-wrap;word-break:break-word}
pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;margin:4px 0;padding:6px 8px;background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;white-space:pre-wrap;word-break:break-all;max-height:420px;overflow:auto}
pre i{font-style:normal;color:#b35900;background:#fff1e0;border-radius:2px}
.bytes{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.bytes>div{min-width:0}
.ladder{overflow-x:auto;margin:6px 0}
svg.lad{font:11px ui-monospace,"DejaVu Sans Mono",monospace;display:block}
svg.lad .lane{stroke:#8c959f;stroke-dasharray:3 3}
svg.lad .hd rect{x:-92px;y:4px;width:184px;height:36px;rx:4px;fill:#f6f8fa;stroke:#d0d7de}
svg.lad .hd.sut rect{fill:#fff4d6;stroke:#d4a72c}
svg.lad .hd text{font:600 11px system-ui,sans-serif;fill:#1f2328;text-anchor:middle}
svg.lad .hd text.addr{font:10px ui-monospace,monospace;fill:#57606a}
svg.lad .t{fill:#8c959f;font-size:10px}
svg.lad a path{stroke:#0969da;stroke-width:1.3;fill:none;marker-end:url(#ah)}
svg.lad a.sutm path{stroke:#9a3412}
svg.lad a.bad path{stroke:#c62828;stroke-dasharray:4 2}
svg.lad a text{fill:#0550ae;text-anchor:middle}
svg.lad a.sutm text{fill:#9a3412}
svg.lad a.bad text{fill:#c62828}
svg.lad a:hover text{text-decoration:underline;font-weight:700}
.msgs .msg{display:none;border:1px solid #9ec5fe;border-radius:6px;padding:6px 10px;margin:6px 0;background:#f5f9ff}
.msgs .msg:target{display:block}
.msgs .msg p{margin:0 0 4px;font-size:12px}
.note{color:var(--soft);font-size:12px}
.waivers td.reason{max-width:560px}
footer{color:var(--soft);font-size:12px;padding:24px}
a{color:#0969da}
"#;

/// The verdicts a reader filters by (requirements and scenarios share them).
const VERDICTS: &[(&str, &str)] = &[
    ("failed", "failed"),
    ("waived", "waived"),
    ("passed", "passed"),
    ("not-run", "not run"),
    ("not-applicable", "not applicable"),
    ("informative", "informative"),
];

/// The class of a requirement's verdict as shown.
fn req_class(q: &RequirementResult) -> &'static str {
    match q.verdict {
        ReqVerdict::NotRun if !q.applicable => "not-applicable",
        v => v.as_str(),
    }
}

fn scenario_class(s: &ScenarioResult) -> &'static str {
    match s.shown_verdict() {
        "skipped" => "not-run",
        v => v,
    }
}

fn area(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

fn scenario_area(s: &ScenarioResult) -> &str {
    s.requirements.first().map(|r| area(r)).unwrap_or("none")
}

/// Areas may only be letters for ids and class names.
fn token(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// An `href` for a file path: relative or absolute paths only (no scheme),
/// each segment percent-encoded where needed.
fn file_href(p: &str) -> Option<String> {
    if p.contains(':') && !p.starts_with('/') {
        // `javascript:`, `http:` … never come from a run; refuse them.
        return None;
    }
    let mut out = String::new();
    for b in p.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Some(out)
}

/// Bytes as HTML text that loses nothing: printable ASCII as is (escaped),
/// CRLF as a line break, every other byte in an `<i>` run (`\r`, `\t`,
/// `\n` + line break for a bare LF, `\xHH`). The page's script reads the
/// bytes back from this for the hex view.
pub fn bytes_html(out: &mut String, b: &[u8]) {
    let mut i = 0;
    let mut in_esc = false;
    while i < b.len() {
        let c = b[i];
        let crlf = c == b'\r' && b.get(i + 1) == Some(&b'\n');
        let plain = (0x20..0x7f).contains(&c) || crlf;
        if plain && in_esc {
            out.push_str("</i>");
            in_esc = false;
        }
        if !plain && !in_esc {
            out.push_str("<i>");
            in_esc = true;
        }
        match c {
            _ if crlf => {
                out.push('\n');
                i += 1;
            }
            b'&' => out.push_str("&amp;"),
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'"' => out.push_str("&quot;"),
            0x20..=0x7e => out.push(c as char),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n\n"),
            _ => {
                let _ = write!(out, "\\x{c:02X}");
            }
        }
        i += 1;
    }
    if in_esc {
        out.push_str("</i>");
    }
}

/// A classic hex dump: offset, 16 bytes, their ASCII.
pub fn hex_dump(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 5);
    for (n, row) in b.chunks(16).enumerate() {
        let _ = write!(s, "{:04x}  ", n * 16);
        for j in 0..16 {
            match row.get(j) {
                Some(x) => {
                    let _ = write!(s, "{x:02x} ");
                }
                None => s.push_str("   "),
            }
            if j == 7 {
                s.push(' ');
            }
        }
        s.push(' ');
        for &x in row {
            s.push(if (0x20..0x7f).contains(&x) {
                x as char
            } else {
                '.'
            });
        }
        s.push('\n');
    }
    s
}

/// Undoes `codec::escape_bytes` (the form failures quote bytes in). Returns
/// the bytes and, when the quote was cut, how many more there were.
fn unescape_bytes(s: &str) -> (Vec<u8>, Option<usize>) {
    let (body, more) = match s.rfind("… (") {
        Some(at) if s.ends_with(" more bytes)") => {
            let n = s[at + "… (".len()..s.len() - " more bytes)".len()]
                .parse::<usize>()
                .ok();
            (&s[..at], n)
        }
        _ => (s, None),
    };
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'x' if b.len() >= i + 4 => {
                    let digits = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("");
                    if let Ok(v) = u8::from_str_radix(digits, 16) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    (out, more)
}

/// A failure message taken apart: the requirement prefix, what was
/// expected, what came, and the bytes it quotes.
struct Failure<'a> {
    expected: Option<&'a str>,
    came: Option<&'a str>,
    quoted: Vec<(Vec<u8>, Option<usize>)>,
}

fn parse_failure(f: &str) -> Failure<'_> {
    let first = f.lines().next().unwrap_or("");
    let (expected, came) = match first.find(": expected ") {
        Some(at) => {
            let rest = &first[at + ": expected ".len()..];
            match rest.find("; came ") {
                Some(c) => (Some(&rest[..c]), Some(&rest[c + "; came ".len()..])),
                None => (Some(rest), None),
            }
        }
        None => (None, None),
    };
    let mut quoted = Vec::new();
    if let Some(c) = came {
        let start = if let Some(at) = c.find("— bytes: ") {
            Some(at + "— bytes: ".len())
        } else {
            c.strip_prefix("bytes: ").map(|_| "bytes: ".len())
        };
        if let Some(at) = start {
            quoted.push(unescape_bytes(&c[at..]));
        }
    }
    Failure {
        expected,
        came,
        quoted,
    }
}

/// One lane of a ladder.
struct Lane {
    addr: SocketAddr,
    name: String,
    side: Option<Side>,
}

/// Names the ladder's lanes: by the run's elements where it knows the
/// address; else by inference, since every captured frame joins a harness
/// socket to the SUT (a peer of a known SUT address is the harness, and the
/// reverse), and by IP where the SUT and the harness use different ones.
fn lanes(msgs: &[&Message], elements: &[Element]) -> Vec<Lane> {
    let known: HashMap<String, &Element> =
        elements.iter().map(|e| (e.address.clone(), e)).collect();
    let mut order: Vec<SocketAddr> = Vec::new();
    for m in msgs {
        for a in [m.from, m.to] {
            if !order.contains(&a) {
                order.push(a);
            }
        }
    }
    let mut side: HashMap<SocketAddr, Side> = HashMap::new();
    for a in &order {
        if let Some(e) = known.get(&a.to_string()) {
            side.insert(*a, e.side);
        }
    }
    // IPs that only one side uses.
    let mut ip_side: HashMap<std::net::IpAddr, Option<Side>> = HashMap::new();
    for e in elements {
        if let Ok(a) = e.address.parse::<SocketAddr>() {
            let s = ip_side.entry(a.ip()).or_insert(Some(e.side));
            if *s != Some(e.side) {
                *s = None;
            }
        }
    }
    for a in &order {
        if !side.contains_key(a)
            && let Some(Some(s)) = ip_side.get(&a.ip())
        {
            side.insert(*a, *s);
        }
    }
    for _ in 0..4 {
        let mut changed = false;
        for m in msgs {
            for (a, b) in [(m.from, m.to), (m.to, m.from)] {
                if side.contains_key(&a) {
                    continue;
                }
                if let Some(s) = side.get(&b).copied() {
                    let other = if s == Side::Sut {
                        Side::Harness
                    } else {
                        Side::Sut
                    };
                    side.insert(a, other);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let proto: HashMap<SocketAddr, &str> = {
        let mut p = HashMap::new();
        for m in msgs {
            p.entry(m.from).or_insert(m.protocol.as_str());
            p.entry(m.to).or_insert(m.protocol.as_str());
        }
        p
    };
    let mut all: Vec<Lane> = order
        .iter()
        .map(|a| {
            let s = side.get(a).copied();
            let name = match known.get(&a.to_string()) {
                Some(e) => e.name.clone(),
                None => {
                    let p = proto.get(a).copied().unwrap_or("");
                    match s {
                        Some(Side::Sut) => format!("SUT · {p}"),
                        Some(Side::Harness) => format!("harness · {p}"),
                        None => p.to_string(),
                    }
                }
            };
            Lane {
                addr: *a,
                name,
                side: s,
            }
        })
        .collect();
    // The first harness lane left, the SUT in the middle, other harness
    // lanes (and the unknown) right.
    let first_h = all.iter().position(|l| l.side == Some(Side::Harness));
    let mut out = Vec::new();
    if let Some(i) = first_h {
        out.push(all.remove(i));
    }
    let (sut, rest): (Vec<Lane>, Vec<Lane>) =
        all.into_iter().partition(|l| l.side == Some(Side::Sut));
    out.extend(sut);
    out.extend(rest);
    out
}

/// Cuts a label to `n` characters.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

const LANE_W: usize = 200;
const ROW_H: usize = 24;
const HEAD_H: usize = 46;
const LEFT: usize = 70;

fn ladder_svg(out: &mut String, sid: usize, msgs: &[&Message], lanes: &[Lane]) {
    let x = |a: &SocketAddr| -> usize {
        let i = lanes.iter().position(|l| &l.addr == a).unwrap_or(0);
        LEFT + LANE_W / 2 + i * LANE_W
    };
    let width = LEFT + lanes.len().max(1) * LANE_W + 10;
    let height = HEAD_H + 14 + msgs.len() * ROW_H;
    let _ = write!(
        out,
        "<svg class=\"lad\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"message ladder\">"
    );
    for l in lanes {
        let cx = x(&l.addr);
        let cls = if l.side == Some(Side::Sut) {
            "hd sut"
        } else {
            "hd"
        };
        let _ = write!(
            out,
            "<g class=\"{cls}\" transform=\"translate({cx})\"><rect/><text y=\"19\">{}</text><text class=\"addr\" y=\"33\">{}</text></g><path class=\"lane\" d=\"M{cx} 40V{height}\"/>",
            esc(&cut(&l.name, 30)),
            esc(&l.addr.to_string())
        );
    }
    for (k, m) in msgs.iter().enumerate() {
        let y = HEAD_H + 20 + k * ROW_H;
        let (x1, x2) = (x(&m.from), x(&m.to));
        let label = m.label();
        let room = (x1.abs_diff(x2) / 7).max(12);
        let from_sut = lanes
            .iter()
            .find(|l| l.addr == m.from)
            .is_some_and(|l| l.side == Some(Side::Sut));
        let cls = if m.protocol == ladder::Protocol::Other {
            " class=\"bad\""
        } else if from_sut {
            " class=\"sutm\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<text class=\"t\" x=\"4\" y=\"{}\">{}</text>",
            y + 3,
            fmt_time(m.time_us)
        );
        let path = if x1 == x2 {
            format!("M{x1} {}h30v10h-28", y - 5)
        } else {
            let end = if x2 > x1 { x2 - 2 } else { x2 + 2 };
            format!("M{x1} {y}H{end}")
        };
        let _ = write!(
            out,
            "<a{cls} href=\"#s{sid}m{k}\"><path d=\"{path}\"/><text x=\"{}\" y=\"{}\">{}</text></a>",
            (x1 + x2) / 2 + if x1 == x2 { 60 } else { 0 },
            y - 5,
            esc(&cut(&label, room))
        );
    }
    out.push_str("</svg>");
}

fn fmt_time(us: u64) -> String {
    if us < 10_000 {
        format!("+{:.1} ms", us as f64 / 1000.0)
    } else if us < 10_000_000 {
        format!("+{} ms", us / 1000)
    } else {
        format!("+{:.1} s", us as f64 / 1e6)
    }
}

/// Message text still to show in full: the scenario's and the page's
/// (one for failed scenarios, one for the others).
struct Budget<'a> {
    scenario: usize,
    page: &'a mut usize,
}

/// One message of the ladder as text; returns how many of its bytes it shows.
fn message_panel(
    out: &mut String,
    sid: usize,
    k: usize,
    m: &Message,
    budget: &mut Budget,
) -> usize {
    let _ = write!(
        out,
        "<div class=\"msg\" id=\"s{sid}m{k}\"><p><b>#{} {}</b> {} · {} → {} · {} · {} bytes · frame {}{}</p><pre class=\"txt\">",
        k + 1,
        esc(&cut(&m.label(), 200)),
        fmt_time(m.time_us),
        m.from,
        m.to,
        match (&m.tls, m.tcp) {
            // Decrypted from the capture's TLS records.
            (Some(t), _) => format!("TCP · {} (decrypted)", esc(&cut(t, 80))),
            (None, true) => "TCP".into(),
            (None, false) => "UDP".into(),
        },
        m.len,
        m.frame,
        m.note
            .as_ref()
            .map(|n| format!(" · <span class=\"note\">{}</span>", esc(&cut(n, 500))))
            .unwrap_or_default()
    );
    // Past the scenario's or the page's budget, only the start of each message.
    let most = if budget.scenario == 0 || *budget.page == 0 {
        excerpt::MESSAGE_BYTES_PAST_BUDGET
    } else {
        excerpt::MESSAGE_BYTES
    };
    let shown = &m.bytes[..m.bytes.len().min(most)];
    let before = out.len();
    bytes_html(out, shown);
    let spent = out.len() - before;
    budget.scenario = budget.scenario.saturating_sub(spent);
    *budget.page = budget.page.saturating_sub(spent);
    out.push_str("</pre>");
    if shown.len() < m.len {
        let _ = write!(
            out,
            "<p class=\"note\">first {} of {} bytes shown; the pcap holds them all</p>",
            shown.len(),
            m.len
        );
    }
    out.push_str("</div>");
    shown.len()
}

fn verdict_badge(class: &str) -> String {
    let label = VERDICTS
        .iter()
        .find(|(c, _)| *c == class)
        .map(|(_, l)| *l)
        .unwrap_or(class);
    format!("<span class=\"badge b-{class}\">{label}</span>")
}

/// Renders the page; pcaps are read relative to `dir`.
pub fn render(r: &Report, dir: &Path) -> String {
    render_cut(r, dir).0
}

/// Renders the page, and says per scenario (in `r.scenarios`' order) what
/// it cut of the scenario's pcap and failure text (`None`: nothing).
pub fn render_cut(r: &Report, dir: &Path) -> (String, Vec<Option<Truncated>>) {
    let mut cuts = vec![None; r.scenarios.len()];
    let mut out = String::with_capacity(64 * 1024 + r.scenarios.len() * 4096);
    let areas: Vec<String> = {
        let mut a: Vec<String> = r
            .requirements
            .iter()
            .map(|q| token(area(&q.id)))
            .chain(r.scenarios.iter().map(|s| token(scenario_area(s))))
            .collect();
        a.dedup();
        let mut seen = Vec::new();
        for x in a {
            if !seen.contains(&x) {
                seen.push(x);
            }
        }
        seen
    };
    let gating = r.gating_failures();
    let failed_reqs: Vec<&RequirementResult> = r
        .requirements
        .iter()
        .filter(|q| q.verdict == ReqVerdict::Failed)
        .collect();
    let failed_links = failed_reqs
        .iter()
        .map(|q| {
            format!(
                "<a href=\"#r-{}\">{}</a> ({})",
                token(&q.id),
                esc(&q.id),
                q.level
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sut_events = r.sut_events();
    let (vclass, vtext, vdetail) = if r.interrupted {
        (
            "v-not-run",
            "INTERRUPTED",
            "the run stopped early: this report holds the scenarios that finished".to_string(),
        )
    } else if let Some((_, e)) = sut_events.first() {
        (
            "v-failed",
            if e.kind == super::SutEventKind::Died {
                "SUT DIED"
            } else {
                "SUT UNREACHABLE"
            },
            esc(&cap(&e.headline(), excerpt::FAILURE_BYTES)),
        )
    } else if !gating.is_empty() {
        (
            "v-failed",
            "FAIL",
            format!(
                "{} requirement{} failed: {}",
                failed_reqs.len(),
                if failed_reqs.len() == 1 { "" } else { "s" },
                failed_links
            ),
        )
    } else if r.summary.requirements.waived > 0 || !failed_reqs.is_empty() {
        let mut d = Vec::new();
        if r.summary.requirements.waived > 0 {
            d.push(format!(
                "{} requirement{} waived",
                r.summary.requirements.waived,
                if r.summary.requirements.waived == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        if !failed_reqs.is_empty() {
            d.push(format!(
                "failed below MUST (gating only with --strict): {}",
                failed_links
            ));
        }
        let t = if failed_reqs.is_empty() {
            "PASS WITH WAIVERS"
        } else {
            "PASS WITH EXCEPTIONS"
        };
        ("v-waived", t, d.join("; "))
    } else {
        (
            "v-passed",
            "PASS",
            format!(
                "every applicable requirement passed ({})",
                r.summary.requirements.passed
            ),
        )
    };
    let script_hash = {
        use sha2::{Digest, Sha256};
        base64(&Sha256::digest(SCRIPT.as_bytes()))
    };
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'\">\
<title>{} — {} · liaison compliance report</title><style>{STYLE}</style></head><body>\n",
        esc(&r.sut.name),
        vtext
    );
    out.push_str("<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0 1L10 5L0 9z\" fill=\"context-stroke\"/></marker></defs></svg>\n");
    // The filter switches: hidden checkboxes before everything they filter.
    for (c, _) in VERDICTS {
        let _ = write!(
            out,
            "<input class=\"f\" type=\"checkbox\" id=\"fv-{c}\" checked>"
        );
    }
    for a in &areas {
        let _ = write!(
            out,
            "<input class=\"f\" type=\"checkbox\" id=\"fa-{a}\" checked>"
        );
    }
    // "Failures only": a link target before everything it filters.
    out.push_str("<span id=\"only-failed\"></span>");
    // Their CSS: an unchecked box hides its rows and lights its label off.
    out.push_str("<style>#only-failed:target~main :is(.v-passed,.v-not-run,.v-not-applicable,.v-informative,.grp:not(.flagged)){display:none}#only-failed:target~nav a[href=\"#only-failed\"]{font-weight:700}");
    for (c, _) in VERDICTS {
        let _ = write!(
            out,
            "#fv-{c}:not(:checked)~main .v-{c}{{display:none}}#fv-{c}:checked~nav label[for=fv-{c}]{{text-decoration:none;color:var(--ink);background:#eef4ff;border-color:#9ec5fe}}"
        );
    }
    for a in &areas {
        let _ = write!(
            out,
            "#fa-{a}:not(:checked)~main .a-{a}{{display:none}}#fa-{a}:checked~nav label[for=fa-{a}]{{text-decoration:none;color:var(--ink);background:#eef4ff;border-color:#9ec5fe}}"
        );
    }
    out.push_str("</style>\n");

    // At a glance.
    let _ = write!(
        out,
        "<header class=\"top\" id=\"glance\"><h1>Compliance report: {}</h1><div class=\"verdict {vclass}\">{vtext}<small>{}</small></div>\n<table class=\"glance\">",
        esc(&r.sut.name),
        vdetail
    );
    if r.runs.len() > 1 {
        let _ = write!(
            out,
            "<tr><th>Runs joined</th><td>{}</td></tr></table><table class=\"runs\"><thead><tr><th>SUT</th><th>Profile</th><th>Roles</th><th>Capabilities</th><th>Started</th><th>Duration</th><th>Scenarios</th></tr></thead><tbody>",
            r.runs.len()
        );
        for (i, run) in r.runs.iter().enumerate() {
            let (p, f) =
                r.scenarios
                    .iter()
                    .filter(|s| s.run == i)
                    .fold((0, 0), |(p, f), s| match s.verdict {
                        super::ScenarioVerdict::Passed => (p + 1, f),
                        _ => (p, f + 1),
                    });
            let _ = write!(
                out,
                "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} s</td><td>{p} passed, {f} failed</td></tr>",
                esc(&run.sut.name),
                esc(&run.sut.profile),
                esc(&run.sut.roles.join(", ")),
                esc(&run.sut.capabilities.join(", ")),
                esc(&run.started),
                run.duration_ms as f64 / 1000.0
            );
        }
        out.push_str("</tbody></table><table class=\"glance\">");
    } else {
        let _ = write!(
            out,
            "<tr><th>SUT</th><td><b>{}</b> · profile <code>{}</code>{}</td></tr><tr><th>Roles</th><td>{}</td></tr><tr><th>Declared capabilities</th><td>{}</td></tr>",
            esc(&r.sut.name),
            esc(&r.sut.profile),
            match &r.sut.network {
                Some(n) => format!(" · network <b>{}</b>", esc(n)),
                None => String::new(),
            },
            esc(&r.sut.roles.join(", ")),
            if r.sut.capabilities.is_empty() {
                "<span class=\"soft\">none</span>".to_string()
            } else {
                esc(&r.sut.capabilities.join(", "))
            }
        );
    }
    let cat = r
        .catalogue
        .as_ref()
        .map(|c| {
            format!(
                "{} · version {} · {} requirements",
                esc(&c.file),
                esc(&c.digest),
                c.requirements
            )
        })
        .unwrap_or_else(|| format!("{} requirements", r.requirements.len()));
    let s = &r.summary;
    let informative = r
        .requirements
        .iter()
        .filter(|q| q.verdict == ReqVerdict::Informative)
        .count();
    let not_applicable = r
        .requirements
        .iter()
        .filter(|q| req_class(q) == "not-applicable")
        .count();
    let _ = write!(
        out,
        "<tr><th>Suite</th><td>{} {}</td></tr><tr><th>Catalogue</th><td>{cat}</td></tr><tr><th>Started</th><td>{}</td></tr><tr><th>Duration</th><td>{:.2} s{}</td></tr>\
<tr><th>Requirements</th><td class=\"counts\"><span>{} {}</span><span>{} {}</span><span>{} {}</span><span>{} {}</span><span>{} {}</span><span>{} {}</span></td></tr>\
<tr><th>Scenarios</th><td class=\"counts\"><span>{} passed</span><span>{} failed{}</span><span>{} skipped</span></td></tr>",
        esc(&r.suite.name),
        esc(&r.suite.version),
        esc(&r.started),
        r.duration_ms as f64 / 1000.0,
        if r.strict { " · --strict (every failure gates)" } else { "" },
        s.requirements.passed,
        verdict_badge("passed"),
        s.requirements.failed,
        verdict_badge("failed"),
        s.requirements.waived,
        verdict_badge("waived"),
        s.requirements.not_run as usize - not_applicable.min(s.requirements.not_run as usize),
        verdict_badge("not-run"),
        not_applicable,
        verdict_badge("not-applicable"),
        informative,
        verdict_badge("informative"),
        s.scenarios.passed,
        s.scenarios.failed,
        if s.scenarios.waived > 0 {
            format!(" ({} of them waived)", s.scenarios.waived)
        } else {
            String::new()
        },
        s.scenarios.skipped
    );
    for (i, e) in &sut_events {
        let _ = write!(
            out,
            "<tr class=\"v-failed\"><th>SUT{}</th><td>{}{}</td></tr>",
            if r.runs.len() > 1 {
                format!(" (run {i})")
            } else {
                String::new()
            },
            esc(&cap(&e.headline(), excerpt::FAILURE_BYTES)),
            if e.stderr_tail.is_empty() {
                String::new()
            } else {
                format!(
                    "<br>last lines of its stderr:<pre>{}</pre>",
                    esc(&excerpt::stderr_tail(&e.stderr_tail))
                )
            }
        );
    }
    for run in &r.runs {
        if let Some(t) = &run.tls {
            let href = match &run.dir {
                Some(d) => format!("{d}/{}", t.lab_ca),
                None => t.lab_ca.clone(),
            };
            let _ = write!(
                out,
                "<tr><th>TLS</th><td>{}; lab CA <a href=\"{}\">{}</a></td></tr>",
                esc(&t.sut_certificate_check),
                esc(&href),
                esc(&href)
            );
        }
        for p in &run.pcaps {
            let href = match &run.dir {
                Some(d) => format!("{d}/{}", p.pcap),
                None => p.pcap.clone(),
            };
            let tls: Vec<String> = p
                .tls
                .iter()
                .take(excerpt::TLS_SHOWN)
                .map(|t| {
                    format!(
                        "TLS {} → {}: {} {}; {}",
                        esc(&t.local),
                        esc(&t.peer),
                        esc(&t.version),
                        esc(&t.suite),
                        esc(&t.peer_certificate)
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><th>Run-level traffic</th><td>harness {}: <a href=\"{}\">{}</a> ({} frames; {} packets no scenario claimed{}){}</td></tr>",
                esc(&p.harness),
                esc(&href),
                esc(&href),
                p.frames,
                p.unclaimed,
                if p.frames_dropped > 0 {
                    format!("; {}", super::pcap_capped(p.frames_dropped))
                } else {
                    String::new()
                },
                if tls.is_empty() {
                    String::new()
                } else {
                    format!("<br>{}", tls.join("<br>"))
                }
            );
        }
    }
    if !r.waivers.is_empty() {
        let n = |st: WaiverStatus| r.waivers.iter().filter(|w| w.status == st).count();
        let _ = write!(
            out,
            "<tr><th>Waivers</th><td><a href=\"#waivers\">{} applied, {} expired, {} stale</a></td></tr>",
            n(WaiverStatus::Applied),
            n(WaiverStatus::Expired),
            n(WaiverStatus::Stale)
        );
    }
    out.push_str("</table></header>\n");

    // The filters.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for q in &r.requirements {
        *counts.entry(req_class(q)).or_default() += 1;
    }
    out.push_str("<nav class=\"filters\"><span class=\"group\"><b>Verdict</b>");
    for (c, l) in VERDICTS {
        let _ = write!(
            out,
            "<label for=\"fv-{c}\" title=\"show or hide\">{l} {}</label>",
            counts.get(c).copied().unwrap_or(0)
        );
    }
    out.push_str("</span><span class=\"group\"><b>Area</b>");
    for a in &areas {
        let _ = write!(out, "<label for=\"fa-{a}\">{a}</label>");
    }
    out.push_str("</span><span class=\"group\"><a href=\"#only-failed\">failures only</a> <a href=\"#glance\">everything</a> · <a href=\"#matrix\">matrix</a> <a href=\"#enablers\">enablers</a> <a href=\"#scenarios\">scenarios</a>");
    if r.runs.iter().any(|run| run.ics.is_some()) {
        out.push_str(" <a href=\"#ics\">statement</a>");
    }
    if !r.waivers.is_empty() {
        out.push_str(" <a href=\"#waivers\">waivers</a>");
    }
    out.push_str("</span></nav>\n<main>\n<noscript><p class=\"note\">Scripts are off: filters, ladders and messages work; the hex view of a ladder message needs the page's script (or open the pcap).</p></noscript>\n");

    // The requirement matrix, by source liaison.
    out.push_str("<section id=\"matrix\"><h2>Requirement matrix</h2>");
    let mut docs: Vec<&str> = Vec::new();
    for l in catalogue::LIAISONS {
        if r.requirements.iter().any(|q| q.source == l.document) {
            docs.push(l.document);
        }
    }
    for q in &r.requirements {
        if !docs.contains(&q.source.as_str()) {
            docs.push(&q.source);
        }
    }
    for doc in docs {
        let reqs: Vec<&RequirementResult> =
            r.requirements.iter().filter(|q| q.source == doc).collect();
        let mut c: BTreeMap<&str, usize> = BTreeMap::new();
        for q in &reqs {
            *c.entry(req_class(q)).or_default() += 1;
        }
        let tally: Vec<String> = VERDICTS
            .iter()
            .filter_map(|(k, l)| c.get(k).map(|n| format!("{n} {l}")))
            .collect();
        let flagged = c.contains_key("failed") || c.contains_key("waived");
        let _ = write!(
            out,
            "<div class=\"grp{}\">",
            if flagged { " flagged" } else { "" }
        );
        match catalogue::liaison(doc) {
            Some(l) => {
                let _ = write!(
                    out,
                    "<h3>{} <small>· {} · {} · {}</small></h3>",
                    esc(l.subject),
                    esc(l.from_to),
                    esc(doc),
                    tally.join(", ")
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<h3>{} <small>· {}</small></h3>",
                    esc(doc),
                    tally.join(", ")
                );
            }
        }
        out.push_str("<table class=\"matrix\"><thead><tr><th>ID</th><th>Level</th><th>Verdict</th><th>Requirement (paraphrased) and source</th><th>Checked by</th></tr></thead><tbody>");
        for q in reqs {
            let cls = req_class(q);
            let _ = write!(
                out,
                "<tr class=\"v-{cls} a-{}\" id=\"r-{}\"><td class=\"id\">{}</td><td>{}</td><td>{}</td><td class=\"req\"><b>{}</b><div class=\"st\">{}</div><small>{}{}{}</small></td><td class=\"by\">",
                token(area(&q.id)),
                token(&q.id),
                esc(&q.id),
                level_text(q.level),
                verdict_badge(cls),
                esc(&q.title),
                esc(&q.statement),
                esc(&q.source),
                if q.place.is_empty() {
                    String::new()
                } else {
                    format!(", {}", esc(&q.place))
                },
                if q.roles.is_empty() {
                    String::new()
                } else {
                    format!(" · roles: {}", esc(&q.roles.join(", ")))
                }
            );
            let mut any = false;
            for (i, s) in r.scenarios.iter().enumerate() {
                if s.requirements.contains(&q.id) {
                    any = true;
                    let _ = write!(
                        out,
                        "<a href=\"#s{i}\" title=\"{}\">{} {}</a>",
                        esc(&s.name),
                        verdict_badge(scenario_class(s)),
                        esc(&scenario_title(r, s))
                    );
                }
            }
            if let Some(w) = &q.waiver {
                let _ = write!(out, "<small>waived: {}</small>", esc(w));
            }
            if let Some(n) = &q.note {
                let _ = write!(out, "<small>{}</small>", esc(n));
            } else if !any {
                out.push_str("<small>—</small>");
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table></div>\n");
    }
    out.push_str("</section>\n");

    // Traceability per enabler named by seed 003 (IMS alignment): what was
    // checked against which IMS reference, and what is not covered at all.
    if let Ok(cat) = crate::catalogue::Catalogue::embedded() {
        let traces = crate::traceability::trace(&cat, &crate::traceability::from_report(r));
        out.push_str(&crate::traceability::html(&traces));
    }

    // The conformance statement of each run's SUT (collapsed).
    let statements: Vec<(String, &crate::ics::Statement)> = r
        .runs
        .iter()
        .filter_map(|run| {
            run.ics.as_deref().map(|s| {
                let label = if r.runs.len() > 1 {
                    format!("run of {}", run.started)
                } else {
                    String::new()
                };
                (label, s)
            })
        })
        .collect();
    if !statements.is_empty() {
        let _ = write!(out, "<style>{}</style>", crate::ics::render::SECTION_STYLE);
        out.push_str(&crate::ics::render::report_section(
            &statements
                .iter()
                .map(|(l, s)| (l.as_str(), *s))
                .collect::<Vec<_>>(),
        ));
    }

    // The scenarios.
    let _ = writeln!(
        out,
        "<section id=\"scenarios\"><h2>Scenarios <small class=\"soft\">({}; failed ones open)</small></h2>",
        r.scenarios.len()
    );
    // Failures first (ids keep report.json's order).
    let mut order: Vec<usize> = (0..r.scenarios.len()).collect();
    order.sort_by_key(|&i| match scenario_class(&r.scenarios[i]) {
        "failed" => 0,
        "waived" => 1,
        _ => 2,
    });
    let mut page_passed = excerpt::PAGE_TEXT_PASSED;
    let mut page_failed = excerpt::PAGE_TEXT_FAILED;
    for i in order {
        let failed = r.scenarios[i].verdict == super::ScenarioVerdict::Failed;
        let page = if failed {
            &mut page_failed
        } else {
            &mut page_passed
        };
        cuts[i] = scenario(&mut out, r, i, &r.scenarios[i], dir, page);
    }
    out.push_str("</section>\n");

    // Waivers.
    if !r.waivers.is_empty() {
        out.push_str("<section id=\"waivers\"><h2>Waivers</h2><table class=\"waivers\"><thead><tr><th>Waives</th><th>Status</th><th>Reason and evidence</th><th>Expires</th><th>Matched failures</th></tr></thead><tbody>");
        for w in &r.waivers {
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}{}</td><td><span class=\"badge b-{}\">{}</span></td><td class=\"reason\">{}{}</td><td>{}</td><td>{}</td></tr>",
                esc(&w.waiver.subject()),
                r.runs
                    .get(w.run)
                    .filter(|_| r.runs.len() > 1)
                    .map(|run| format!("<br><small>{}</small>", esc(&run.sut.name)))
                    .unwrap_or_default(),
                w.status.as_str(),
                match w.status {
                    WaiverStatus::Applied => "applied",
                    WaiverStatus::Expired => "expired: not applied",
                    WaiverStatus::Stale => "stale: matches no failure",
                },
                esc(&w.waiver.reason),
                w.waiver
                    .evidence
                    .as_ref()
                    .map(|e| format!("<br><small>evidence: {}</small>", esc(e)))
                    .unwrap_or_default(),
                esc(w.waiver.expires.as_deref().unwrap_or("—")),
                if w.scenarios.is_empty() {
                    "—".to_string()
                } else {
                    esc(&w.scenarios.join("; "))
                }
            );
        }
        out.push_str("</tbody></table></section>\n");
    }
    let _ = writeln!(
        out,
        "</main><footer>liaison {} · report.json holds the same results for machines · each scenario's pcap opens in Wireshark</footer><script>{SCRIPT}</script></body></html>",
        esc(&r.suite.version)
    );
    (out, cuts)
}

fn level_text(l: Level) -> &'static str {
    match l {
        Level::Must => "MUST",
        Level::Should => "SHOULD",
        Level::May => "MAY",
        Level::Informative => "INFORMATIVE",
    }
}

/// A scenario's name, with its SUT when the report joins several runs.
fn scenario_title(r: &Report, s: &ScenarioResult) -> String {
    match r.runs.get(s.run) {
        Some(run) if r.runs.len() > 1 => format!("{} [{}]", s.name, run.sut.name),
        _ => s.name.clone(),
    }
}

/// One scenario; returns what it cut (see [`Truncated`]).
fn scenario(
    out: &mut String,
    r: &Report,
    i: usize,
    s: &ScenarioResult,
    dir: &Path,
    page: &mut usize,
) -> Option<Truncated> {
    let cls = scenario_class(s);
    let failed = s.verdict == super::ScenarioVerdict::Failed;
    let _ = write!(
        out,
        "<details class=\"sc v-{cls} a-{}\" id=\"s{i}\"{}><summary>{} <span class=\"name\">{}</span><span class=\"feat\">{}</span><span class=\"reqs\">{}</span><span class=\"ms\">{} ms</span></summary><div class=\"scbody\">",
        token(scenario_area(s)),
        if failed { " open" } else { "" },
        verdict_badge(cls),
        esc(&scenario_title(r, s)),
        esc(&s.feature),
        esc(&s.requirements.join(" ")),
        s.duration_ms
    );
    // Where it comes from, what it checks, its pcap.
    out.push_str("<p class=\"meta\">");
    if let Some(l) = &s.location {
        let _ = write!(out, "{} · ", esc(l));
    }
    out.push_str("checks ");
    for (n, q) in s.requirements.iter().enumerate() {
        let _ = write!(
            out,
            "{}<a href=\"#r-{}\">{}</a>",
            if n > 0 { ", " } else { "" },
            token(q),
            esc(q)
        );
    }
    let pcap = s.pcap.as_ref().map(|p| (p, dir.join(p)));
    if let Some((p, _)) = &pcap {
        match file_href(p) {
            Some(h) => {
                let _ = write!(
                    out,
                    " · <a href=\"{h}\">pcap</a> <span class=\"soft\">{}</span>",
                    esc(p)
                );
            }
            None => {
                let _ = write!(out, " · pcap {}", esc(p));
            }
        }
        if s.pcap_frames_dropped > 0 {
            let _ = write!(out, " ({})", super::pcap_capped(s.pcap_frames_dropped));
        }
    }
    out.push_str("</p>");
    for t in s.tls.iter().take(excerpt::TLS_SHOWN) {
        let _ = write!(
            out,
            "<p class=\"meta\">TLS {} → {}: {} {}{}; {}</p>",
            esc(&t.local),
            esc(&t.peer),
            esc(&t.version),
            esc(&t.suite),
            t.sni
                .as_ref()
                .map(|n| format!(", SNI {}", esc(n)))
                .unwrap_or_default(),
            esc(&t.peer_certificate)
        );
    }
    if s.tls.len() > excerpt::TLS_SHOWN {
        let _ = write!(
            out,
            "<p class=\"meta\">{} more TLS connections (report.json lists them)</p>",
            s.tls.len() - excerpt::TLS_SHOWN
        );
    }
    if !s.waived.is_empty() {
        let _ = write!(
            out,
            "<p class=\"meta\">waiver covers its failure for {}</p>",
            esc(&s.waived.join(", "))
        );
    }

    // Steps.
    if !s.steps.is_empty() {
        out.push_str("<ol class=\"steps\">");
        for st in &s.steps {
            let _ = write!(
                out,
                "<li class=\"{}{}\"><b>{}</b> {}</li>",
                st.outcome.as_str(),
                if st.background { " bg" } else { "" },
                esc(&cut(st.keyword.trim(), 40)),
                esc(&cap(&st.text, excerpt::STEP_BYTES))
            );
        }
        out.push_str("</ol>");
    } else if let Some(step) = &s.step {
        let _ = write!(
            out,
            "<p class=\"meta\">failed at: {}</p>",
            esc(&cap(step, excerpt::STEP_BYTES))
        );
    }

    // The ladder (read first: the failure links into it).
    let run_dirs: Vec<&str> = r.runs.iter().filter_map(|x| x.dir.as_deref()).collect();
    let read = pcap
        .as_ref()
        .map(|(p, _)| ladder::read_named(dir, &run_dirs, p));
    let ladder: Option<&Ladder> = match &read {
        Some(Ok(l)) => Some(l),
        _ => None,
    };
    let msgs: Vec<&Message> = ladder
        .map(|l| l.messages.iter().take(excerpt::LADDER_MESSAGES).collect())
        .unwrap_or_default();
    let mut failure_cut = 0;

    // Failure.
    if let Some(f) = &s.failure {
        let f = cap(f, excerpt::FAILURE_BYTES);
        let (f, text_cut) = excerpt::split_cut(&f);
        failure_cut = text_cut.unwrap_or(0);
        let pf = parse_failure(f);
        out.push_str("<div class=\"failure\"><h4>Failure</h4><dl>");
        if let Some(st) = s
            .steps
            .iter()
            .find(|x| x.outcome == StepOutcome::Failed)
            .map(|x| format!("{} {}", x.keyword.trim(), x.text))
            .or_else(|| s.step.clone())
        {
            let _ = write!(out, "<dt>Step</dt><dd>{}</dd>", esc(&st));
        }
        match (pf.expected, pf.came) {
            (Some(e), Some(c)) => {
                let _ = write!(
                    out,
                    "<dt>Expected</dt><dd>{}</dd><dt>Came</dt><dd>{}</dd>",
                    esc(e),
                    // The quoted bytes are shown below, as text and hex.
                    match (c.find("— bytes: "), pf.quoted.is_empty()) {
                        (Some(at), false) => format!("{}— the bytes below", esc(&c[..at])),
                        _ => esc(c),
                    }
                );
            }
            _ => {
                let _ = write!(out, "<dt>Message</dt><dd>{}</dd>", esc(f));
            }
        }
        if f.lines().count() > 1 && pf.expected.is_some() {
            let _ = write!(out, "<dt>Full text</dt><dd>{}</dd>", esc(f));
        }
        if let Some(n) = text_cut {
            let _ = write!(
                out,
                "<dt>Cut</dt><dd>the failure text is cut here: {n} more bytes not shown (report.json and junit.xml cut it the same way; the pcap holds the traffic)</dd>"
            );
        }
        out.push_str("</dl>");
        // The quote ends where the text was cut when the cut falls in the
        // failure's first line.
        let quote_cut = text_cut.is_some() && !f.contains('\n');
        for (bytes, more) in &pf.quoted {
            let found = msgs.iter().position(|m| {
                !bytes.is_empty()
                    && bytes.len() <= m.len
                    && bytes.starts_with(&m.bytes[..m.bytes.len().min(bytes.len())])
            });
            let _ = write!(
                out,
                "<h4>Offending bytes ({}{}){}</h4><div class=\"bytes\"><div><pre class=\"fb\">",
                if quote_cut {
                    format!("the first {} bytes", bytes.len())
                } else {
                    format!("{} bytes", bytes.len() + more.unwrap_or(0))
                },
                if more.is_some() && !quote_cut {
                    format!(", the first {} quoted", bytes.len())
                } else if quote_cut {
                    ", the failure text cut after them".to_string()
                } else {
                    String::new()
                },
                match found {
                    Some(k) => format!(
                        " — <a href=\"#s{i}m{k}\">message #{} in the ladder</a>",
                        k + 1
                    ),
                    None => String::new(),
                }
            );
            bytes_html(out, bytes);
            let shown = &bytes[..bytes.len().min(MAX_FAILURE_HEX)];
            let _ = write!(
                out,
                "</pre></div><div><pre class=\"hexs\">{}</pre></div></div>",
                esc(&hex_dump(shown))
            );
        }
        out.push_str("</div>");
    }

    // Ladder and messages.
    let mut ladder_cut = false;
    let mut bytes_shown = 0u64;
    match (&read, ladder) {
        (Some(_), Some(l)) if !l.messages.is_empty() => {
            let elements: &[Element] = r
                .run_of(s)
                .map(|run| run.elements.as_slice())
                .unwrap_or(&[]);
            let lanes = lanes(&msgs, elements);
            let _ = write!(
                out,
                "<div class=\"ladder\"><h4>Message ladder <span class=\"soft\">({} messages; click an arrow for the whole message)</span></h4>",
                l.messages.len()
            );
            ladder_svg(out, i, &msgs, &lanes);
            // Said after the panels, once their bytes are counted; its place
            // is kept here.
            let note_at = out.len();
            for p in &l.problems {
                let _ = write!(out, "<p class=\"note\">capture: {}</p>", esc(&cut(p, 500)));
            }
            if l.problems_more > 0 {
                let _ = write!(
                    out,
                    "<p class=\"note\">capture: {} more problems (open the pcap)</p>",
                    l.problems_more
                );
            }
            out.push_str("</div><div class=\"msgs\">");
            let mut budget = Budget {
                scenario: excerpt::SCENARIO_TEXT,
                page,
            };
            for (k, m) in msgs.iter().enumerate() {
                let shown = message_panel(out, i, k, m, &mut budget);
                bytes_shown += shown as u64;
                ladder_cut |= shown < m.len;
            }
            out.push_str("</div>");
            ladder_cut |= l.stopped.is_some() || l.messages.len() > msgs.len();
            if ladder_cut {
                let frames_shown = if l.stopped.is_some() {
                    l.frames
                } else {
                    l.frames_total
                };
                let pcap = s.pcap.as_deref().unwrap_or("the pcap");
                let all_msgs = l.stopped.is_none() && l.messages.len() == msgs.len();
                let note = format!(
                    "<p class=\"note cut\">ladder: {} {} messages, read from {} {} frames ({} of {} shown){}; all in {}</p>",
                    if all_msgs { "all" } else { "the first" },
                    excerpt::count(msgs.len() as u64),
                    if l.stopped.is_some() {
                        format!("the first {} of", excerpt::count(u64::from(frames_shown)))
                    } else {
                        "all".to_string()
                    },
                    excerpt::count(u64::from(l.frames_total)),
                    excerpt::size(bytes_shown),
                    excerpt::size(l.payload_total),
                    l.stopped
                        .as_ref()
                        .map(|w| format!("; the reading stopped {w}"))
                        .unwrap_or_default(),
                    esc(pcap)
                );
                out.insert_str(note_at, &note);
            }
        }
        (Some(Ok(l)), _) => {
            let _ = write!(
                out,
                "<p class=\"note\">no message in the capture{}</p>",
                l.problems
                    .first()
                    .map(|p| format!(" ({})", esc(p)))
                    .unwrap_or_default()
            );
        }
        (Some(Err(e)), _) => {
            let _ = write!(out, "<p class=\"note\">no ladder: {}</p>", esc(e));
        }
        (None, _) => {}
    }
    out.push_str("</div></details>\n");
    if !ladder_cut && failure_cut == 0 {
        return None;
    }
    let (frames_shown, frames_total, bytes_total) = match ladder {
        Some(l) if l.stopped.is_some() => (l.frames, l.frames_total, l.payload_total),
        Some(l) => (l.frames_total, l.frames_total, l.payload_total),
        None => (0, 0, 0),
    };
    Some(Truncated {
        frames_shown,
        frames_total,
        messages_shown: msgs.len() as u32,
        bytes_shown,
        bytes_total,
        failure_bytes_cut: failure_cut as u64,
    })
}

fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_html_loses_nothing_and_escapes_everything() {
        let mut s = String::new();
        bytes_html(
            &mut s,
            b"SIP/2.0 415 <script>alert(1)</script>\r\nX: a&b\"\n\r\x00\xff\tz\\",
        );
        assert_eq!(
            s,
            "SIP/2.0 415 &lt;script&gt;alert(1)&lt;/script&gt;\nX: a&amp;b&quot;<i>\\n\n\\r\\x00\\xFF\\t</i>z\\"
        );
    }

    #[test]
    fn failure_bytes_come_back_from_the_escaped_quote() {
        let b = b"SIP/2.0 415 X\r\n\x00\xfe\tz";
        let q = crate::codec::escape_bytes(b, 400);
        assert_eq!(unescape_bytes(&q), (b.to_vec(), None));
        let q = crate::codec::escape_bytes(b, 4);
        assert_eq!(unescape_bytes(&q), (b"SIP/".to_vec(), Some(b.len() - 4)));
        let f = format!(
            "DR-3: expected an Accept header; came no Accept header — bytes: {}",
            crate::codec::escape_bytes(b, 400)
        );
        let p = parse_failure(&f);
        assert_eq!(p.expected, Some("an Accept header"));
        assert!(p.came.unwrap().starts_with("no Accept header"));
        assert_eq!(p.quoted, vec![(b.to_vec(), None)]);
        // Anything at all: no panic.
        for s in [
            "",
            "x: expected ",
            "— bytes: \\x",
            "bytes: \\x4",
            "… (",
            "a… (9 more bytes)",
        ] {
            let _ = parse_failure(&format!("R: expected e; came {s}"));
            let _ = unescape_bytes(s);
        }
    }

    #[test]
    fn hex_dump_and_base64() {
        assert_eq!(
            hex_dump(b"SIP/2.0 200 OK\r\n\x00"),
            "0000  53 49 50 2f 32 2e 30 20  32 30 30 20 4f 4b 0d 0a  SIP/2.0 200 OK..\n0010  00                                                .\n"
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn hrefs_for_files_only() {
        assert_eq!(
            file_href("pcaps/a b.pcap").as_deref(),
            Some("pcaps/a%20b.pcap")
        );
        assert_eq!(
            file_href("../x/\"<y>.pcap").as_deref(),
            Some("../x/%22%3Cy%3E.pcap")
        );
        assert_eq!(file_href("javascript:alert(1)"), None);
        assert_eq!(file_href("/abs/p.pcap").as_deref(), Some("/abs/p.pcap"));
    }
}
