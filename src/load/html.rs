//! `report.html` of a load run: one self-contained page (inline CSS and
//! SVG, no script, no fetch; a Content-Security-Policy forbids both) with
//! the verdict, the integrity counters, the checks, and the plots a person
//! would rather look at than read: the rate over time against the target,
//! the latency over time, and the latency distribution (a percentile plot
//! from the HDR histogram). Then the status codes per kind of report, the
//! steps of a stepped search, the first findings with their bytes, the
//! generator's cost and the capture file.
//!
//! Every text that can come from the SUT (findings, codes, names) or from
//! a load.json on disk is escaped; findings' bytes are shown with
//! [`crate::report::html::bytes_html`], which loses nothing and makes no
//! markup of them.

use std::fmt::Write as _;

use super::ledger::Point;
use super::result::LoadResult;
use crate::report::escape_xml as esc;
use crate::report::html::bytes_html;

/// Findings shown with their bytes.
const MAX_FINDINGS: usize = 20;

const STYLE: &str = r#"
:root{--pass:#1a7f37;--passbg:#e6f4ea;--fail:#c62828;--failbg:#fdecea;--warn:#9a6700;--warnbg:#fff4d6;--na:#6e7781;--nabg:#f1f3f5;--line:#d0d7de;--ink:#1f2328;--soft:#57606a;--sent:#0969da;--done:#1a7f37;--target:#8250df;--mean:#0969da;--p99:#bc4c00;--max:#6e7781}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);margin:0;background:#fff}
header.top,main{padding:0 24px}
header.top{padding-top:18px;padding-bottom:8px;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:0 0 10px}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
.soft,h3 small{color:var(--soft);font-weight:normal}
.verdict{display:inline-block;font-size:20px;font-weight:700;padding:6px 14px;border-radius:6px;margin:0 0 10px}
.verdict small{font-size:14px;font-weight:500;margin-left:8px}
.v-passed{background:var(--passbg);color:var(--pass)}
.v-failed{background:var(--failbg);color:var(--fail)}
.v-interrupted{background:var(--warnbg);color:var(--warn)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--soft);background:#f6f8fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.glance{width:auto;margin-bottom:8px}
table.glance th{text-transform:none;letter-spacing:0;font-size:13px;background:none;padding-left:0;white-space:nowrap}
.badge{display:inline-block;min-width:64px;text-align:center;font-size:12px;font-weight:600;padding:1px 7px;border-radius:10px;white-space:nowrap}
.b-passed{background:var(--passbg);color:var(--pass)}
.b-failed{background:var(--failbg);color:var(--fail)}
.b-not-met{background:var(--warnbg);color:var(--warn)}
.tiles{display:flex;flex-wrap:wrap;gap:8px}
.tile{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:110px;background:#f6f8fa}
.tile b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.tile span{font-size:12px;color:var(--soft)}
.tile.bad{border-color:#f1aeb5;background:var(--failbg)}
.tile.bad b,.tile.bad span{color:var(--fail)}
.tile.warn{border-color:#d4a72c;background:var(--warnbg)}
.tile.warn b{color:var(--warn)}
tr.failed td{background:#fff8f8}
tr.failed td.name{color:var(--fail);font-weight:600}
figure{margin:10px 0 18px}
figcaption{font-size:13px;color:var(--soft);margin:4px 0 0}
svg.plot{display:block;width:100%;max-width:820px;height:auto;font:11px system-ui,sans-serif;background:#fff}
svg.plot .frame{fill:none;stroke:#8c959f}
svg.plot .grid{stroke:#eaeef2}
svg.plot .tick{fill:#57606a}
svg.plot .lbl{fill:#1f2328;font-size:12px}
svg.plot polyline{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg.plot .sent{stroke:var(--sent)}
svg.plot .done{stroke:var(--done)}
svg.plot .target{stroke:var(--target);stroke-dasharray:6 4;stroke-width:1.4}
svg.plot .mean{stroke:var(--mean)}
svg.plot .p99{stroke:var(--p99)}
svg.plot .max{stroke:var(--max);stroke-dasharray:2 2}
svg.plot .dist{stroke:var(--p99);stroke-width:1.8}
svg.plot .viol{fill:var(--fail)}
svg.plot .mark circle{fill:#fff;stroke:var(--ink);stroke-width:1.4}
svg.plot .mark text{fill:var(--ink);font-size:11px}
.legend{font-size:12px;color:var(--soft);margin:2px 0}
.legend span{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:18px;height:0;border-top:2px solid;vertical-align:middle;margin-right:4px}
.legend i.sent{border-color:var(--sent)}.legend i.done{border-color:var(--done)}.legend i.target{border-top:2px dashed var(--target)}
.legend i.mean{border-color:var(--mean)}.legend i.p99{border-color:var(--p99)}.legend i.max{border-top:2px dotted var(--max)}
.legend i.viol{border-top:6px solid var(--fail);width:8px}
.bar{display:inline-block;height:9px;background:#8c959f;border-radius:2px;vertical-align:middle}
.bar.ok{background:var(--pass)}.bar.no{background:var(--fail)}
.finding{border:1px solid #f1aeb5;background:#fff8f8;border-radius:6px;padding:8px 12px;margin:8px 0}
.finding dl{margin:0 0 6px;display:grid;grid-template-columns:max-content 1fr;gap:3px 10px}
.finding dt{font-weight:600;color:var(--soft)}
.finding dd{margin:0;white-space:pre-wrap;word-break:break-word}
pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;margin:4px 0;padding:6px 8px;background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;white-space:pre-wrap;word-break:break-all;max-height:420px;overflow:auto}
pre i{font-style:normal;color:#b35900;background:#fff1e0;border-radius:2px}
.note{color:var(--soft);font-size:12px}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
footer{color:var(--soft);font-size:12px;padding:24px}
a{color:#0969da}
"#;

/// A whole number with thin spaces between thousands.
fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 * 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// A number of ms, with the digits that matter.
fn ms(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A finite value or 0 (a hand-edited load.json may hold anything).
fn fin(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// One axis of a plot: linear from zero, or logarithmic by decades.
#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    /// A linear axis from 0 to a round number at or above `max`.
    fn linear(max: f64) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let step = nice_step(max / 5.0);
        Axis {
            lo: 0.0,
            hi: (max / step).ceil() * step,
            log: false,
        }
    }

    /// A log axis over whole decades that hold `[min, max]` (both > 0).
    fn log(min: f64, max: f64) -> Axis {
        let lo = 10f64.powf(min.log10().floor());
        let mut hi = 10f64.powf(max.log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
        Axis { lo, hi, log: true }
    }

    /// Log when the values span more than a factor 20, linear from 0 otherwise.
    fn fit(values: impl Iterator<Item = f64>) -> Axis {
        let (mut min, mut max) = (f64::INFINITY, 0f64);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            min = min.min(v);
            max = max.max(v);
        }
        if max == 0.0 {
            Axis::linear(1.0)
        } else if max / min > 20.0 {
            Axis::log(min, max)
        } else {
            Axis::linear(max * 1.1)
        }
    }

    /// Where `v` falls, 0..1 (None: not plottable, a gap).
    fn frac(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        if self.log {
            if v <= 0.0 {
                return None;
            }
            Some(
                ((v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()))
                    .clamp(0.0, 1.0),
            )
        } else {
            Some(((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0))
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut v = self.lo;
            while v <= self.hi * 1.0001 && t.len() < 20 {
                t.push(v);
                v *= 10.0;
            }
            t
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as usize;
            (0..=n.min(20)).map(|i| self.lo + step * i as f64).collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * p
}

/// A tick label: short, no float noise.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        int(v.round() as u64)
    } else if v.abs() >= 1.0 {
        let s = format!("{v:.1}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

const W: f64 = 800.0;
const H: f64 = 290.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 36.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;

/// A plot's frame: axes, grid, ticks and labels; `xt` are (position, label)
/// of the x ticks in x units.
struct Frame {
    x: Axis,
    y: Axis,
}

impl Frame {
    fn px(&self, x: f64) -> Option<f64> {
        self.x.frac(x).map(|f| LEFT + f * (W - LEFT - RIGHT))
    }
    fn py(&self, y: f64) -> Option<f64> {
        self.y.frac(y).map(|f| H - BOTTOM - f * (H - TOP - BOTTOM))
    }

    fn open(
        &self,
        out: &mut String,
        class: &str,
        title: &str,
        xt: &[(f64, String)],
        xl: &str,
        yl: &str,
    ) {
        let _ = write!(
            out,
            "<svg class=\"plot {class}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
            esc(title),
            esc(title)
        );
        for t in self.y.ticks() {
            if let Some(y) = self.py(t) {
                let _ = write!(
                    out,
                    "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                    W - RIGHT,
                    LEFT - 6.0,
                    y + 4.0,
                    tick_label(t)
                );
            }
        }
        for (t, label) in xt {
            if let Some(x) = self.px(*t) {
                let _ = write!(
                    out,
                    "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    H - BOTTOM,
                    H - BOTTOM + 15.0,
                    esc(label)
                );
            }
        }
        let _ = write!(
            out,
            "<rect class=\"frame\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>\
<text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
<text class=\"lbl\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            W - LEFT - RIGHT,
            H - TOP - BOTTOM,
            LEFT + (W - LEFT - RIGHT) / 2.0,
            H - 8.0,
            esc(xl),
            TOP + (H - TOP - BOTTOM) / 2.0,
            esc(yl)
        );
    }

    /// A line through the points; a point that cannot be drawn (no value,
    /// zero on a log axis) breaks it.
    fn line(&self, out: &mut String, class: &str, pts: impl Iterator<Item = (f64, f64)>) {
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |out: &mut String, run: &mut Vec<(f64, f64)>| {
            if run.len() == 1 {
                let (x, y) = run[0];
                let _ = write!(
                    out,
                    "<polyline class=\"{class}\" points=\"{:.1},{y:.1} {:.1},{y:.1}\"/>",
                    x - 2.0,
                    x + 2.0
                );
            } else if run.len() > 1 {
                let _ = write!(out, "<polyline class=\"{class}\" points=\"");
                for (i, (x, y)) in run.iter().enumerate() {
                    let _ = write!(out, "{}{x:.1},{y:.1}", if i > 0 { " " } else { "" });
                }
                out.push_str("\"/>");
            }
            run.clear();
        };
        for (x, y) in pts {
            match (self.px(x), self.py(y)) {
                (Some(x), Some(y)) => run.push((x, y)),
                _ => flush(out, &mut run),
            }
        }
        flush(out, &mut run);
    }
}

/// Ticks for a time axis in seconds from 0 to `end`.
fn time_ticks(end: f64) -> Vec<(f64, String)> {
    Axis::linear(end)
        .ticks()
        .into_iter()
        .map(|t| (t, tick_label(t)))
        .collect()
}

/// Points a plot draws at most (a long run's series is joined in groups).
const MAX_POINTS: usize = 1500;

/// The series in intervals wide enough for at most [`MAX_POINTS`]: counts
/// summed, mean latency weighted by the outcomes, p99 and max the largest.
fn coarsen(series: &[Point], interval_ms: u64) -> (Vec<Point>, u64) {
    let iv = interval_ms.max(1);
    let last = series.iter().map(|p| p.t_ms / iv).max().unwrap_or(0) as usize + 1;
    if last <= MAX_POINTS {
        return (series.to_vec(), iv);
    }
    let wide = iv * last.div_ceil(MAX_POINTS) as u64;
    let mut out: Vec<(Point, f64)> = Vec::new();
    for p in series {
        let i = (p.t_ms / wide) as usize;
        if out.len() <= i {
            out.resize_with(i + 1, Default::default);
        }
        let (q, sum) = &mut out[i];
        q.sent += p.sent;
        q.completed += p.completed;
        q.violations += p.violations;
        *sum += fin(p.latency_mean_ms) * p.completed as f64;
        q.latency_p99_ms = q.latency_p99_ms.max(fin(p.latency_p99_ms));
        q.latency_max_ms = q.latency_max_ms.max(fin(p.latency_max_ms));
    }
    let points = out
        .into_iter()
        .enumerate()
        .map(|(i, (mut q, sum))| {
            q.t_ms = i as u64 * wide;
            if q.completed > 0 {
                q.latency_mean_ms = sum / q.completed as f64;
            }
            q
        })
        .collect();
    (points, wide)
}

/// The rate over time: sent and completed per second per interval, the
/// target as a dashed line, intervals with violations marked in red.
fn rate_plot(out: &mut String, r: &LoadResult, series: &[Point], interval_ms: u64) {
    let iv = interval_ms.max(1) as f64;
    let per_s = 1000.0 / iv;
    if series.is_empty() {
        out.push_str("<p class=\"note\">No time series: nothing was sent.</p>");
        return;
    }
    let end = series.iter().map(|p| p.t_ms).max().unwrap_or(0) as f64 / 1000.0 + iv / 1000.0;
    let target = r.target_rate_per_s.map(fin).filter(|t| *t > 0.0);
    let top = series
        .iter()
        .map(|p| p.sent.max(p.completed) as f64 * per_s)
        .fold(target.unwrap_or(0.0), f64::max);
    let f = Frame {
        x: Axis::linear(end),
        y: Axis::linear(top * 1.08),
    };
    out.push_str("<figure>");
    f.open(
        out,
        "rate",
        "messages per second over time",
        &time_ticks(end),
        "time since the start of sending (s)",
        "messages per second",
    );
    let mid = |p: &Point| (p.t_ms as f64 + iv / 2.0) / 1000.0;
    if let Some(t) = target {
        f.line(out, "target", [(0.0, t), (end, t)].into_iter());
    }
    f.line(
        out,
        "sent",
        series.iter().map(|p| (mid(p), p.sent as f64 * per_s)),
    );
    f.line(
        out,
        "done",
        series.iter().map(|p| (mid(p), p.completed as f64 * per_s)),
    );
    for p in series.iter().filter(|p| p.violations > 0) {
        if let (Some(x0), Some(x1)) = (
            f.px(p.t_ms as f64 / 1000.0),
            f.px((p.t_ms as f64 + iv) / 1000.0),
        ) {
            let _ = write!(
                out,
                "<rect class=\"viol\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"6\"><title>{} violations</title></rect>",
                H - BOTTOM - 6.0,
                (x1 - x0).max(1.5),
                p.violations
            );
        }
    }
    out.push_str("</svg>");
    let _ = write!(
        out,
        "<p class=\"legend\"><span><i class=\"sent\"></i>sent/s</span><span><i class=\"done\"></i>final outcomes/s</span>{}{}</p>\
<figcaption>Per interval of {} ms, plotted at its middle; the last interval may be partly empty.</figcaption></figure>",
        if target.is_some() {
            "<span><i class=\"target\"></i>target rate</span>"
        } else {
            ""
        },
        if series.iter().any(|p| p.violations > 0) {
            "<span><i class=\"viol\"></i>intervals with integrity violations</span>"
        } else {
            ""
        },
        interval_ms
    );
}

/// The latency over time: mean, p99 and max of the outcomes completed in
/// each interval.
fn latency_plot(out: &mut String, series: &[Point], interval_ms: u64) {
    let iv = interval_ms.max(1) as f64;
    let pts: Vec<&Point> = series.iter().filter(|p| p.completed > 0).collect();
    if pts.is_empty() {
        out.push_str("<p class=\"note\">No outcome completed: no latency to plot.</p>");
        return;
    }
    let end = series.iter().map(|p| p.t_ms).max().unwrap_or(0) as f64 / 1000.0 + iv / 1000.0;
    let y = Axis::fit(pts.iter().flat_map(|p| {
        [
            fin(p.latency_mean_ms),
            fin(p.latency_p99_ms),
            fin(p.latency_max_ms),
        ]
    }));
    let f = Frame {
        x: Axis::linear(end),
        y,
    };
    out.push_str("<figure>");
    f.open(
        out,
        "latency",
        "latency over time",
        &time_ticks(end),
        "time since the start of sending (s)",
        if y.log {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        },
    );
    let mid = |p: &Point| (p.t_ms as f64 + iv / 2.0) / 1000.0;
    // An interval without outcomes is a gap, not a zero.
    let line = |get: fn(&Point) -> f64| {
        series
            .iter()
            .map(move |p| (mid(p), if p.completed > 0 { get(p) } else { f64::NAN }))
    };
    f.line(out, "max", line(|p| p.latency_max_ms));
    f.line(out, "p99", line(|p| p.latency_p99_ms));
    f.line(out, "mean", line(|p| p.latency_mean_ms));
    out.push_str("</svg>");
    let _ = write!(
        out,
        "<p class=\"legend\"><span><i class=\"mean\"></i>mean</span><span><i class=\"p99\"></i>p99</span><span><i class=\"max\"></i>max</span></p>\
<figcaption>From the sending of a message to its final outcome, per interval of {} ms in which outcomes came (the per-interval p99 is read from a coarse log histogram, within 19 %).</figcaption></figure>",
        interval_ms
    );
}

/// The latency distribution: latency against percentile, the percentile
/// axis in nines (50 %, 90 %, 99 %, 99.9 % equally spaced), from the HDR
/// histogram.
fn distribution_plot(out: &mut String, r: &LoadResult) {
    let total: u64 = r
        .histogram_us
        .iter()
        .fold(0u64, |a, (_, n)| a.saturating_add(*n));
    if total == 0 {
        out.push_str("<p class=\"note\">No latency recorded: no distribution to plot.</p>");
        return;
    }
    // x = -log10(1 - q): 0 at 0 %, 1 at 90 %, 2 at 99 % …; the last bucket
    // (q = 1) is drawn at the right edge.
    let nines_max = ((total as f64).log10().ceil()).clamp(3.0, 6.0);
    let nines = |q: f64| {
        if q >= 1.0 {
            nines_max
        } else {
            (-(1.0 - q).log10()).min(nines_max)
        }
    };
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(r.histogram_us.len() * 2);
    let mut acc = 0u64;
    for &(v, n) in &r.histogram_us {
        let v = v as f64 / 1000.0;
        let x0 = nines(acc as f64 / total as f64);
        acc = acc.saturating_add(n);
        let x1 = nines(acc as f64 / total as f64);
        pts.push((x0, v));
        pts.push((x1, v));
    }
    let l = &r.latency_ms;
    let y = Axis::fit(pts.iter().map(|p| p.1).chain([fin(l.p50), fin(l.max)]));
    let x = Axis {
        lo: 0.0,
        hi: nines_max,
        log: false,
    };
    let mut xt = vec![(0.0, "0 %".to_string()), (2f64.log10(), "50 %".to_string())];
    let pct = ["90 %", "99 %", "99.9 %", "99.99 %", "99.999 %", "99.9999 %"];
    for (i, p) in pct.iter().enumerate() {
        let k = (i + 1) as f64;
        if k <= nines_max {
            xt.push((k, (*p).to_string()));
        }
    }
    let f = Frame { x, y };
    out.push_str("<figure>");
    f.open(
        out,
        "distribution",
        "latency distribution",
        &xt,
        "percentile of the final outcomes (spaced by nines)",
        if y.log {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        },
    );
    f.line(out, "dist", pts.into_iter());
    let marks = [
        ("p50", 0.5, l.p50),
        ("p90", 0.9, l.p90),
        ("p99", 0.99, l.p99),
        ("p99.9", 0.999, l.p999),
        ("max", 1.0, l.max),
    ];
    out.push_str("<g class=\"mark\">");
    for (name, q, v) in marks {
        if let (Some(cx), Some(cy)) = (f.px(nines(q)), f.py(fin(v))) {
            let anchor = if name == "max" { "end" } else { "start" };
            let dx = if name == "max" { -6.0 } else { 6.0 };
            let _ = write!(
                out,
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3.5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{name} {} ms</text>",
                cx + dx,
                cy - 6.0,
                ms(v)
            );
        }
    }
    out.push_str("</g></svg>");
    let _ = write!(
        out,
        "<figcaption>{} final outcomes; each step of the line is a bucket of the HDR histogram (3 significant figures). p50 {} ms · p90 {} ms · p99 {} ms · p99.9 {} ms · max {} ms · mean {} ms.</figcaption></figure>",
        int(total),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max),
        ms(l.mean)
    );
}

fn tile(out: &mut String, name: &str, n: u64, class: &str) {
    let _ = write!(
        out,
        "<div class=\"tile{}{}\"><b>{}</b><span>{name}</span></div>",
        if class.is_empty() { "" } else { " " },
        class,
        int(n)
    );
}

/// Renders a load result as `report.html`.
pub fn render(r: &LoadResult) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let (vclass, vtext, vwhy) = if r.interrupted {
        (
            "v-interrupted",
            "INTERRUPTED",
            "the run was stopped; what came is counted",
        )
    } else if r.passed {
        ("v-passed", "PASS", "every gating check passed")
    } else {
        ("v-failed", "FAIL", "a gating check failed")
    };
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
<title>{} — {} · liaison load report</title><style>{STYLE}</style></head><body>\n",
        esc(&r.sut),
        vtext
    );
    let _ = write!(
        out,
        "<header class=\"top\"><h1>liaison load — {} against {}</h1><div class=\"verdict {vclass}\">{vtext}<small>{vwhy}</small></div>\n<table class=\"glance\">",
        esc(&r.role),
        esc(&r.sut)
    );
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(
        "rate",
        format!(
            "{} sent/s{}, {} final outcomes/s",
            int(fin(r.rate_per_s).round() as u64),
            r.target_rate_per_s
                .map(|t| format!(" (target {}/s)", int(fin(t).round() as u64)))
                .unwrap_or_default(),
            int(fin(r.completed_per_s).round() as u64)
        ),
    );
    row(
        "messages",
        format!(
            "{} sent in {:.2} s, {} completed",
            int(r.counters.sent),
            fin(r.duration_s),
            int(r.counters.completed)
        ),
    );
    row(
        "latency",
        format!(
            "p50 {} ms · p99 {} ms · max {} ms",
            ms(r.latency_ms.p50),
            ms(r.latency_ms.p99),
            ms(r.latency_ms.max)
        ),
    );
    row(
        "run",
        format!(
            "agent {} · mix <code>{}</code> · over {} · outcome due within {} ms{}",
            esc(&r.agent),
            esc(&r.mix),
            esc(&r.transport),
            r.deadline_ms,
            r.fault
                .as_ref()
                .map(|f| format!(" · reference fault <code>{}</code>", esc(f)))
                .unwrap_or_default()
        ),
    );
    if let Some(t) = r.started_unix_ms {
        row(
            "started",
            format!(
                "{}.{:03}Z (wall clock of the generator's host)",
                crate::codec::mail::iso8601_utc(t / 1000).trim_end_matches('Z'),
                t % 1000
            ),
        );
    }
    let _ = write!(
        out,
        "</table><p class=\"note\">liaison {} · <a href=\"load.json\">load.json</a> · <a href=\"junit.xml\">junit.xml</a></p></header>\n<main>\n",
        esc(&r.liaison_version)
    );

    // Integrity.
    out.push_str("<h2 id=\"integrity\">Integrity</h2><div class=\"tiles\">");
    let c = &r.counters;
    tile(&mut out, "sent", c.sent, "");
    tile(&mut out, "completed", c.completed, "");
    let warn = |n: u64| if n > 0 { "warn" } else { "" };
    let bad = |n: u64| if n > 0 { "bad" } else { "" };
    tile(&mut out, "lost", c.lost, warn(c.lost));
    tile(&mut out, "late", c.late, warn(c.late));
    if c.pending > 0 {
        tile(&mut out, "pending (interrupted)", c.pending, "warn");
    }
    tile(&mut out, "duplicated", c.duplicated, bad(c.duplicated));
    tile(&mut out, "mismatched", c.mismatched, bad(c.mismatched));
    tile(&mut out, "fabricated", c.fabricated, bad(c.fabricated));
    tile(&mut out, "retransmissions", c.retransmissions, "");
    if c.stale > 0 {
        tile(&mut out, "stale (not judged)", c.stale, "warn");
    }
    tile(&mut out, "unreadable", r.unreadable, warn(r.unreadable));
    out.push_str("</div><p class=\"note\">Duplicated, mismatched and fabricated are violations: any one fails the run. Lost (no final outcome within the deadline) and late count against <code>--max-lost</code>.</p>");

    // Checks.
    out.push_str("<h2 id=\"checks\">Checks</h2><table class=\"checks\"><tr><th>check</th><th>verdict</th><th>gating</th><th>expected</th><th>came</th></tr>");
    for k in &r.checks {
        let (cls, badge) = match (k.passed, k.gating) {
            (true, _) => ("passed", "<span class=\"badge b-passed\">passed</span>"),
            (false, true) => ("failed", "<span class=\"badge b-failed\">failed</span>"),
            (false, false) => ("not-met", "<span class=\"badge b-not-met\">not met</span>"),
        };
        let _ = write!(
            out,
            "<tr class=\"{cls}\"><td class=\"name\">{}</td><td>{badge}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.name),
            if k.gating { "yes" } else { "no" },
            esc(&k.expected),
            esc(&k.came)
        );
    }
    out.push_str("</table>");

    // The plots.
    out.push_str("<h2 id=\"rate\">Rate over time</h2>");
    let (series, interval_ms) = coarsen(&r.series, r.interval_ms);
    rate_plot(&mut out, r, &series, interval_ms);
    out.push_str("<h2 id=\"latency\">Latency over time</h2>");
    latency_plot(&mut out, &series, interval_ms);
    out.push_str("<h2 id=\"distribution\">Latency distribution</h2>");
    distribution_plot(&mut out, r);

    // Codes per kind of report.
    out.push_str("<h2 id=\"codes\">Outcomes per kind of report</h2>");
    for k in &r.reports {
        let total: u64 = k.codes.values().fold(0, |a, n| a.saturating_add(*n));
        let _ = write!(
            out,
            "<h3>{} <small>{} sent · {} completed · {} lost · {} late · {} duplicated · {} mismatched · {} fabricated</small></h3>\
<table class=\"codes\"><tr><th>status</th><th class=\"n\">count</th><th class=\"n\">share</th><th></th></tr>",
            esc(&k.name),
            int(k.counters.sent),
            int(k.counters.completed),
            int(k.counters.lost),
            int(k.counters.late),
            int(k.counters.duplicated),
            int(k.counters.mismatched),
            int(k.counters.fabricated)
        );
        if k.codes.is_empty() {
            out.push_str("<tr><td colspan=\"4\" class=\"note\">no final outcome</td></tr>");
        }
        for (code, n) in &k.codes {
            let share = if total > 0 {
                *n as f64 / total as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{:.2} %</td><td><span class=\"bar\" style=\"width:{:.0}px\"></span></td></tr>",
                esc(code),
                int(*n),
                share * 100.0,
                (share * 300.0).max(1.0)
            );
        }
        out.push_str("</table>");
    }

    // The stepped search.
    if !r.search.is_empty() {
        out.push_str("<h2 id=\"search\">Stepped search for the highest clean rate</h2>\
<table class=\"search\"><tr><th class=\"n\">step</th><th class=\"n\">target/s</th><th class=\"n\">sent/s</th><th></th><th class=\"n\">sent</th><th class=\"n\">completed</th><th class=\"n\">lost+late</th><th class=\"n\">violations</th><th class=\"n\">p99 ms</th><th>clean</th></tr>");
        let top = r
            .search
            .iter()
            .map(|s| fin(s.target_rate_per_s).max(fin(s.rate_per_s)))
            .fold(1.0, f64::max);
        for (i, s) in r.search.iter().enumerate() {
            let _ = write!(
                out,
                "<tr class=\"{}\"><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><span class=\"bar {}\" style=\"width:{:.0}px\" title=\"achieved\"></span></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                if s.violations > 0 { "failed" } else { "" },
                i + 1,
                int(fin(s.target_rate_per_s).round() as u64),
                int(fin(s.rate_per_s).round() as u64),
                if s.clean { "ok" } else { "no" },
                (fin(s.rate_per_s) / top * 240.0).max(1.0),
                int(s.sent),
                int(s.completed),
                int(s.lost),
                int(s.violations),
                ms(s.p99_ms),
                if s.clean {
                    "<span class=\"badge b-passed\">clean</span>"
                } else {
                    "<span class=\"badge b-failed\">not clean</span>"
                }
            );
        }
        out.push_str("</table><p class=\"note\">A step is clean when no report was wrong, lost and late stay within <code>--max-lost</code> and 95 % of its target rate was sent. The bar is the rate sent, on one scale for all steps.</p>");
    }

    // Findings.
    let _ = write!(
        out,
        "<h2 id=\"findings\">Findings <small class=\"soft\">{} kept{}</small></h2>",
        r.findings.len(),
        if r.findings.len() > MAX_FINDINGS {
            format!(", the first {MAX_FINDINGS} shown")
        } else {
            String::new()
        }
    );
    if r.findings.is_empty() {
        out.push_str("<p class=\"note\">None.</p>");
    }
    for f in r.findings.iter().take(MAX_FINDINGS) {
        let _ = write!(
            out,
            "<div class=\"finding\"><dl><dt>kind</dt><dd>{}</dd><dt>message</dt><dd>{}</dd><dt>expected</dt><dd>{}</dd><dt>came</dt><dd>{}</dd></dl><pre class=\"fb\">",
            esc(&f.kind),
            f.message,
            esc(&f.expected),
            esc(&f.came)
        );
        bytes_html(&mut out, f.bytes.as_bytes());
        out.push_str("</pre></div>");
    }

    // Cost and capture.
    let k = &r.cost;
    let _ = write!(
        out,
        "<h2 id=\"cost\">Cost of the generator</h2><table class=\"glance\">\
<tr><th>generator CPU</th><td>{:.3} s, {:.2} µs per message sent</td></tr>\
<tr><th>process CPU</th><td>{:.3} s (with an embedded reference SUT, if any)</td></tr>\
<tr><th>peak RSS</th><td>{:.1} MB</td></tr></table>",
        fin(k.generator_cpu_s),
        fin(k.generator_cpu_us_per_message),
        fin(k.process_cpu_s),
        fin(k.max_rss_mb)
    );
    out.push_str("<h2 id=\"capture\">Capture</h2>");
    match &r.capture {
        Some(p) => {
            let link = std::path::Path::new(p)
                .file_name()
                .is_some_and(|n| n == "load.pcap");
            let _ = write!(
                out,
                "<p><code>{}</code>{}</p>",
                esc(p),
                if link {
                    " — <a href=\"load.pcap\">load.pcap</a> beside this page"
                } else {
                    ""
                }
            );
        }
        None => out.push_str("<p class=\"note\">No capture (<code>--capture off</code>, or a merged result: each agent's is in its own folder).</p>"),
    }
    out.push_str("</main><footer>liaison load report · no script, no external resources</footer></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::ledger::{Finding, Summary};

    fn hostile() -> LoadResult {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [120u64, 150, 180, 900, 25_000] {
            h.record(v).unwrap();
        }
        let s = Summary {
            counters: crate::load::ledger::Counters {
                sent: 5,
                completed: 5,
                mismatched: 1,
                ..Default::default()
            },
            codes: [(200u16, 4u64), (486, 1)].into_iter().collect(),
            latency: Default::default(),
            histogram: h,
            series: vec![
                Point {
                    t_ms: 0,
                    sent: 3,
                    completed: 3,
                    violations: 1,
                    latency_mean_ms: 0.15,
                    latency_p99_ms: 0.18,
                    latency_max_ms: 0.18,
                },
                Point {
                    t_ms: 100,
                    sent: 2,
                    completed: 2,
                    violations: 0,
                    latency_mean_ms: 13.0,
                    latency_p99_ms: 25.0,
                    latency_max_ms: 25.0,
                },
            ],
            interval_ms: 100,
            findings: vec![Finding {
                kind: "mismatched".into(),
                message: 7,
                expected: "<b>\"200\"</b>".into(),
                came: "'486' & </dd>".into(),
                bytes: "SIP/2.0 200 <script>alert(1)</script>\r\nX: </pre><img src=x onerror=\"alert(2)\">\r\n\u{1}\n".into(),
            }],
        };
        let mut r = LoadResult::from_summary(&s, "SIP <final> responses");
        r.role = "im-client".into();
        r.sut = "</title><script>alert(3)</script>".into();
        r.mix = "200:\"9\"".into();
        r.codes.insert("<i>".into(), 1);
        r.reports[0].codes.insert("<script>".into(), 1);
        r.capture = Some("/tmp/\"x\"/<load>.pcap".into());
        r.target_rate_per_s = Some(40.0);
        r.judge(&Default::default());
        r
    }

    #[test]
    fn hostile_text_is_escaped_and_nothing_runs() {
        let html = render(&hostile());
        // The only tags are the page's own: no script, no img, no second title.
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert_eq!(
            html.matches("<title>").count(),
            5,
            "the page's, the three plots' and the violation marker's"
        );
        assert_eq!(html.matches("</pre>").count(), html.matches("<pre").count());
        assert!(html.contains("&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;"));
        assert!(html.contains("SIP/2.0 200 &lt;script&gt;alert(1)&lt;/script&gt;\nX: &lt;/pre&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;\n<i>\\x01\\n\n</i>"), "{html}");
        assert!(html.contains("&lt;b&gt;&quot;200&quot;&lt;/b&gt;"));
        assert!(html.contains("&apos;486&apos; &amp; &lt;/dd&gt;"));
        assert!(html.contains("<code>&lt;script&gt;</code>"));
        assert!(html.contains("/tmp/&quot;x&quot;/&lt;load&gt;.pcap"));
        assert!(html.contains("default-src 'none'"));
        // No attribute is opened by the SUT's quotes: every quote in the
        // page's markup is the page's.
        assert!(!html.contains("onerror=\""));
        // The three plots, the violation marker, the verdict.
        for c in ["plot rate", "plot latency", "plot distribution"] {
            assert!(html.contains(c), "{c}");
        }
        assert!(html.contains("class=\"viol\""));
        assert!(html.contains("verdict v-failed"));
    }

    #[test]
    fn axes_are_round_and_start_at_zero_when_linear() {
        let a = Axis::linear(2160.0);
        assert_eq!((a.lo, a.hi), (0.0, 2500.0));
        assert_eq!(a.ticks(), vec![0.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0]);
        let l = Axis::fit([0.12, 3.4, 25.0].into_iter());
        assert!(l.log);
        assert_eq!((l.lo, l.hi), (0.1, 100.0));
        assert_eq!(l.ticks().len(), 4);
        let n = Axis::fit([1.0, 2.0].into_iter());
        assert!(!n.log && n.lo == 0.0);
        // Nothing plottable gives a sane axis, not NaN.
        let z = Axis::fit([0.0, f64::NAN].into_iter());
        assert_eq!((z.lo, z.hi), (0.0, 1.0));
        assert_eq!(int(1234567), "1\u{2009}234\u{2009}567");
    }

    #[test]
    fn a_long_series_is_joined_for_the_plots() {
        let series: Vec<Point> = (0..10_000u64)
            .map(|i| Point {
                t_ms: i * 100,
                sent: 10,
                completed: 10,
                latency_mean_ms: if i % 2 == 0 { 1.0 } else { 3.0 },
                latency_max_ms: i as f64,
                ..Default::default()
            })
            .collect();
        let (c, iv) = coarsen(&series, 100);
        assert_eq!(iv, 700);
        assert!(c.len() <= MAX_POINTS);
        assert_eq!(c.iter().map(|p| p.sent).sum::<u64>(), 100_000);
        assert_eq!(c[0].sent, 70);
        assert_eq!(c[0].latency_max_ms, 6.0);
        assert!((c[0].latency_mean_ms - (4.0 + 9.0) / 7.0).abs() < 1e-9);
        let (same, iv) = coarsen(&series[..100], 100);
        assert_eq!((same.len(), iv), (100, 100));
    }

    #[test]
    fn an_empty_result_renders() {
        let s = Summary {
            counters: Default::default(),
            codes: Default::default(),
            latency: Default::default(),
            histogram: hdrhistogram::Histogram::new(3).unwrap(),
            series: Vec::new(),
            interval_ms: 100,
            findings: Vec::new(),
        };
        let mut r = LoadResult::from_summary(&s, "x");
        r.judge(&Default::default());
        let html = render(&r);
        assert!(html.contains("nothing was sent"));
        assert!(html.contains("no latency to plot"));
    }
}
