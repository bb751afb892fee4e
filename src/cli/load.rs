//! `liaison load`: delivery-report integrity under load.

use std::path::PathBuf;

use super::EXIT_USAGE;

/// `liaison load`'s arguments.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// SUT profile (YAML). Without it, the embedded reference of the role.
    #[arg(long, value_name = "PROFILE")]
    pub sut: Option<PathBuf>,
    /// The role to load (default: the profile's first loadable role; im-client without a profile).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Messages per second. Without it, a stepped search for the highest rate kept with integrity.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Messages to send (per search step without --rate).
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Seconds to send for (per search step without --rate).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// How the recipients the harness plays answer: ANSWER:WEIGHT,… (codes 200–699 or `silent`).
    #[arg(long, value_name = "MIX", default_value = "200:100")]
    pub mix: String,
    /// What to keep of the traffic in load.pcap: off, ring:MB (the last MB) or full.
    #[arg(long, value_name = "MODE", default_value = "ring:64")]
    pub capture: String,
    /// Result folder (default reports/load-<time>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run as agent K of N: a disjoint share of the identities (merge with `liaison report --merge`).
    #[arg(long, value_name = "K/N", default_value = "1/1")]
    pub agent: String,
    /// Lost or late outcomes allowed before the run fails.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_lost: u64,
    /// Fail unless the SUT completes at least this many outcomes per second.
    #[arg(long, value_name = "R")]
    pub min_rate: Option<f64>,
    /// Fail if the p99 latency exceeds this (ms).
    #[arg(long, value_name = "MS")]
    pub max_p99: Option<f64>,
    /// Against the embedded reference with this fault (ROLE/NAME).
    #[arg(long, value_name = "ROLE/NAME")]
    pub fault: Option<String>,
    /// The loopback IP the harness (and the embedded reference) bind.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
    /// RFC 3261 T1 (ms): Timer E starts there, Timer F (the deadline) is 64·T1.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub t1_ms: u64,
    /// Watch this long (ms) after the last outcome for late and duplicate ones (default 4·T1, 200–2000).
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

pub fn cmd(a: LoadArgs) -> i32 {
    let usage = |e: String| {
        eprintln!("liaison load: {e}");
        EXIT_USAGE
    };
    let mix = match crate::load::mix::Mix::parse(&a.mix) {
        Ok(m) => m,
        Err(e) => return usage(e),
    };
    let capture = match crate::load::record::CaptureMode::parse(&a.capture) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let agent = match a
        .agent
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
    {
        Some(kn) => kn,
        None => return usage(format!("--agent {}: not K/N", a.agent)),
    };
    if let Some(r) = a.rate
        && !(r.is_finite() && r > 0.0 && r <= 10_000_000.0)
    {
        return usage(format!(
            "--rate {r}: a rate above 0 and at most 10 000 000/s"
        ));
    }
    let duration = match a.duration {
        Some(d) if d.is_finite() && d > 0.0 && d <= 86_400.0 => {
            Some(std::time::Duration::from_secs_f64(d))
        }
        Some(d) => return usage(format!("--duration {d}: seconds above 0, at most a day")),
        None => None,
    };
    if a.count == Some(0) {
        return usage("--count 0: nothing to send".into());
    }
    if !(1..=60_000).contains(&a.t1_ms) {
        return usage(format!("--t1-ms {}: 1–60000", a.t1_ms));
    }
    let opts = crate::load::LoadOptions {
        sut: a.sut,
        role: a.role,
        rate: a.rate,
        count: a.count,
        duration,
        mix,
        capture,
        out: a.out,
        agent,
        gates: crate::load::result::Gates {
            max_lost: a.max_lost,
            min_rate: a.min_rate,
            max_p99_ms: a.max_p99,
        },
        fault: a.fault,
        address: a.address,
        t1: std::time::Duration::from_millis(a.t1_ms),
        linger: a.linger_ms.map(std::time::Duration::from_millis),
        progress: !a.quiet,
    };
    match crate::load::run(opts) {
        Ok((r, dir)) => {
            // A closed stdout (`| head`) loses the summary, not the result.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", r.summary());
            let _ = writeln!(out, "  {}", dir.join("load.json").display());
            r.exit_code
        }
        Err(e) => usage(e),
    }
}
