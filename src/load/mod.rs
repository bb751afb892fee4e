//! `liaison load`: delivery-report integrity under load.
//!
//! The conformance scenarios judge one message at a time; a load run sends
//! tens of thousands a second and correlates every outcome with the message
//! it belongs to, because that is where delivery reports go wrong in
//! practice: a receipt naming the wrong message, a 200 invented when a
//! queue overflows, a retransmission counted twice, a timeout reported as
//! delivered (seed 001).
//!
//! ## Map
//!
//! | module | what it does |
//! |---|---|
//! | [`mix`] | `--mix 200:90,486:5,silent:5`: each message's answer, a pure function of its identity |
//! | [`ledger`] | sans-IO: every message, its expected and actual outcome; counters, latency histogram, time series, findings |
//! | [`scan`] | sans-IO: the few SIP fields a load run reads, and the identities it writes (`ld-RUN-ID`) |
//! | [`udp`] | batched UDP (`sendmmsg`/`recvmmsg`), bounded waits |
//! | [`record`] | `--capture off\|ring:MB\|full` into `load.pcap` |
//! | [`im_client`] | the driver for an `im-client` SUT: the harness sends MESSAGEs and judges each final response |
//! | [`result`] | `load.json`, `junit.xml`, the checks and the exit code |
//!
//! Drivers run on plain threads with blocking, batched sockets (not the
//! async runtime): the generator shares the machine with the SUT, and its
//! CPU per message is a figure of the product (`benches/load.sh`).
//!
//! Identities: agent K of N owns `(K-1)·10^12 ..`; the run's token keeps a
//! response from another run from ever matching.

pub mod html;
pub mod im_client;
pub mod im_server;
pub mod iwf;
pub mod ledger;
pub mod merge;
pub mod mix;
pub mod ppg;
pub mod record;
pub mod result;
pub mod retransmit;
pub mod scan;
pub mod udp;

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mix::Mix;
use record::CaptureMode;
use result::{Gates, LoadResult, Step};

/// The roles `liaison load` drives.
pub const ROLES: &[&str] = &["im-client", "im-server", "sms-im-iwf", "ppg"];

/// A step ends once everything is settled and the SUT has been quiet for
/// the linger, or settled for this many lingers, whichever comes first: a
/// SUT that floods never falls quiet, and must not keep the run going.
pub const LINGER_CAP: u64 = 4;

/// The identities of one agent: agent K of N starts at (K-1)·this.
pub const AGENT_SPAN: u64 = 1_000_000_000_000;

/// Everything `liaison load` was asked.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub sut: Option<PathBuf>,
    pub role: Option<String>,
    pub rate: Option<f64>,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub mix: Mix,
    pub capture: CaptureMode,
    pub out: Option<PathBuf>,
    /// (K, N).
    pub agent: (u64, u64),
    pub gates: Gates,
    pub fault: Option<String>,
    pub address: IpAddr,
    /// RFC 3261 T1 of the harness (and of the embedded reference).
    pub t1: Duration,
    /// How long to watch for late and duplicate outcomes after the last.
    pub linger: Option<Duration>,
    pub progress: bool,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            sut: None,
            role: None,
            rate: None,
            count: None,
            duration: None,
            mix: Mix::default(),
            capture: CaptureMode::Ring(64 << 20),
            out: None,
            agent: (1, 1),
            gates: Gates::default(),
            fault: None,
            address: IpAddr::from([127, 0, 0, 1]),
            t1: Duration::from_millis(500),
            linger: None,
            progress: true,
        }
    }
}

/// One step of sending: a rate and how much.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rate: f64,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// The first identity of this step.
    pub first_id: u64,
    pub mix: Mix,
    pub t1: Duration,
    /// No final outcome by then: lost (Timer F, 64·T1, or the profile's).
    pub deadline: Duration,
    /// Watch this long after the last outcome for late and duplicate ones.
    pub linger: Duration,
    pub capture: CaptureMode,
    pub pcap: PathBuf,
    /// The run's token, in every identity.
    pub token: String,
}

impl Plan {
    /// How many messages this step sends at most.
    pub fn limit(&self) -> u64 {
        match (self.count, self.duration) {
            (Some(n), _) => n,
            (None, Some(d)) => (self.rate * d.as_secs_f64()).ceil() as u64,
            (None, None) => 0,
        }
    }
}

/// Counters a driver keeps up to date for the progress line, and the stop flag.
#[derive(Debug, Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub completed: AtomicU64,
    pub violations: AtomicU64,
    pub lost: AtomicU64,
    pub stop: AtomicBool,
}

impl Live {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A driver with its harness sockets bound and the SUT reachable.
pub trait Session {
    /// Sends one plan's messages and waits for their outcomes.
    fn step(&mut self, plan: &Plan, live: &Live) -> Result<LoadResult, String>;
    /// The transport the messages go over.
    fn transport(&self) -> &'static str {
        "udp"
    }
    /// How long a message may wait for its outcome before it is lost:
    /// `timer_f` (64·T1 of the harness) unless the SUT runs on timers of
    /// its own (an IWF's Timer F, declared in its profile, plus a margin).
    fn deadline(&self, timer_f: Duration) -> Duration {
        timer_f
    }
}

/// What a driver is given to start its session.
pub struct Ctx<'a> {
    pub opts: &'a LoadOptions,
    pub profile: Option<&'a crate::profile::Profile>,
    pub rt: &'a tokio::runtime::Runtime,
    pub out: &'a Path,
}

impl Ctx<'_> {
    /// The reference settings for an embedded role (T1, the fault if it is
    /// this role's).
    pub fn reference_settings(&self, role: &str) -> Result<crate::reference::Settings, String> {
        let mut s = crate::reference::Settings {
            t1: self.opts.t1,
            ..Default::default()
        };
        if let Some(spec) = &self.opts.fault {
            let (frole, name, store) = crate::reference::find_any_fault(spec)?;
            if frole != role {
                return Err(format!(
                    "fault {frole}/{name} is not a fault of the {role} role"
                ));
            }
            s.fault = Some(name);
            s.store_and_forward = store;
        }
        Ok(s)
    }

    /// Starts an embedded reference role on the run's address, port 0.
    pub fn start_reference(
        &self,
        role: &str,
        settings: crate::reference::Settings,
    ) -> Result<crate::reference::Running, String> {
        let at = SocketAddr::new(self.opts.address, 0);
        self.rt
            .block_on(crate::reference::start(role, at, settings))
            .map_err(|e| format!("reference {role} does not start: {e}"))
    }

    /// The profile's SIP interface and its UDP address: what the SIP load
    /// drivers send to (they send over UDP only).
    pub fn sip_udp<'p>(
        &self,
        p: &'p crate::profile::Profile,
    ) -> Result<(&'p crate::profile::SipInterface, SocketAddr), String> {
        let sip = p.sip.as_ref().ok_or("the profile has no sip section")?;
        let a = sip
            .address
            .ok_or("the profile's sip section has no address (UDP)")?;
        if !sip.transports.contains(&crate::net::Transport::Udp) {
            return Err(
                "`liaison load` sends over UDP; the profile's sip.transports has no udp".into(),
            );
        }
        Ok((sip, a))
    }

    /// Launches the profile's SUT, if it has a launch section.
    pub fn launch(&self) -> Result<Option<crate::sut::SutProcess>, String> {
        let Some(p) = self.profile else {
            return Ok(None);
        };
        let Some(l) = &p.launch else {
            return Ok(None);
        };
        self.rt
            .block_on(crate::sut::SutProcess::start(l, p, self.out, &|| true))
            .map(Some)
            .map_err(|g| g.message)
    }
}

/// A step's clock: µs since its start, and kernel receive times mapped
/// onto it.
pub struct Clock {
    start: Instant,
    epoch: Duration,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            epoch: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// A kernel receive time (since the Unix epoch) on this clock, never
    /// later than `read_at` (when it was read) and never before the start;
    /// `read_at` when the kernel gave none.
    pub fn at_us(&self, kernel: Option<Duration>, read_at: u64) -> u64 {
        match kernel.and_then(|k| k.checked_sub(self.epoch)) {
            Some(d) => (d.as_micros() as u64).min(read_at),
            None => read_at,
        }
    }
}

/// A fresh token for a run's identities.
pub fn run_token() -> String {
    let t = crate::codec::sip::token();
    t.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

/// Set by SIGINT/SIGTERM while a load runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn catch_signals() {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// CPU time (user + system) of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec that lives across the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// (CPU time of the process, peak RSS in MB).
fn process_usage() -> (Duration, f64) {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
    )
}

/// Runs `liaison load`; returns the result and the folder it was written to.
pub fn run(opts: LoadOptions) -> Result<(LoadResult, PathBuf), String> {
    let profile = match &opts.sut {
        Some(p) => Some(crate::profile::Profile::load(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let role = match (&opts.role, &profile) {
        (Some(r), _) => r.clone(),
        (None, Some(p)) => p
            .roles
            .iter()
            .find(|r| ROLES.contains(&r.as_str()))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "the profile's roles ({}) include none that `liaison load` drives ({}); name one with --role",
                    p.roles.join(", "),
                    ROLES.join(", ")
                )
            })?,
        (None, None) => "im-client".into(),
    };
    if !ROLES.contains(&role.as_str()) {
        return Err(format!(
            "--role {role}: `liaison load` drives {}",
            ROLES.join(", ")
        ));
    }
    if let Some(p) = &profile
        && !p.roles.contains(&role)
    {
        return Err(format!(
            "the profile {} does not declare the role {role}",
            p.name
        ));
    }
    if opts.count.is_none() && opts.duration.is_none() {
        return Err("say how much: --count N or --duration S".into());
    }
    let (k, n) = opts.agent;
    if k == 0 || n == 0 || k > n {
        return Err(format!("--agent {k}/{n}: K must be 1..=N"));
    }
    let out = match &opts.out {
        Some(d) => d.clone(),
        None => PathBuf::from("reports").join(format!(
            "load-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        )),
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    crate::log::to_file(&out);
    tracing::info!(
        out = %out.display(),
        %role,
        sut = profile.as_ref().map_or("embedded reference", |p| p.name.as_str()),
        rate = opts.rate.unwrap_or(0.0),
        agent = %format_args!("{k}/{n}"),
        "load run started"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let ctx = Ctx {
        opts: &opts,
        profile: profile.as_ref(),
        rt: &rt,
        out: &out,
    };
    let mut session: Box<dyn Session> = match role.as_str() {
        "im-client" => Box::new(im_client::ImClientLoad::start(&ctx)?),
        "im-server" => Box::new(im_server::ImServerLoad::start(&ctx)?),
        "sms-im-iwf" => Box::new(iwf::IwfLoad::start(&ctx)?),
        "ppg" => Box::new(ppg::PpgLoad::start(&ctx)?),
        _ => unreachable!("checked against ROLES"),
    };
    catch_signals();
    let live = Arc::new(Live::default());
    let progress = spawn_progress(&live, opts.progress, opts.rate);
    let token = run_token();
    let deadline = session.deadline(opts.t1 * 64);
    let linger = opts
        .linger
        .unwrap_or_else(|| (opts.t1 * 4).clamp(Duration::from_millis(200), Duration::from_secs(2)));
    let plan = |rate: f64, first_id: u64, count: Option<u64>, duration: Option<Duration>| Plan {
        rate,
        count,
        duration,
        first_id,
        mix: opts.mix.clone(),
        t1: opts.t1,
        deadline,
        linger,
        capture: opts.capture,
        pcap: out.join("load.pcap"),
        token: token.clone(),
    };
    let first = (k - 1) * AGENT_SPAN;
    let cpu0 = process_usage().0;
    let started = Instant::now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .ok();
    let mut result = match opts.rate {
        Some(r) => session.step(&plan(r, first, opts.count, opts.duration), &live)?,
        None => search(session.as_mut(), &live, &opts, &plan, first)?,
    };
    let (cpu, rss) = process_usage();
    live.stop.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.join();
    }
    result.cost.process_cpu_s = (cpu - cpu0).as_secs_f64();
    result.cost.max_rss_mb = rss;
    result.role = role.clone();
    result.sut = profile
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "embedded reference".into());
    result.fault = opts.fault.clone();
    result.agent = format!("{k}/{n}");
    result.mix = opts.mix.to_string();
    result.transport = session.transport().into();
    result.deadline_ms = deadline.as_millis() as u64;
    if opts.rate.is_some() {
        result.target_rate_per_s = opts.rate;
    }
    result.interrupted = INTERRUPTED.load(Ordering::Relaxed);
    result.started_unix_ms = wall;
    if result.duration_s == 0.0 {
        result.duration_s = started.elapsed().as_secs_f64();
    }
    result.judge(&opts.gates);
    tracing::info!(
        rate_per_s = result.rate_per_s,
        sent = result.counters.sent,
        completed = result.counters.completed,
        lost = result.counters.lost,
        violations = result.violations(),
        exit_code = result.exit_code,
        "load run ended"
    );
    result.write(&out)?;
    Ok((result, out))
}

/// The stepped search for the highest rate the SUT sustains with integrity:
/// start at 1 000/s and double while a step is clean (every outcome right
/// and in time, the rate reached), then halve the gap between the last
/// clean and the first unclean rate until they are within 10 %. Each step
/// sends what `--count`/`--duration` say. The result is the last clean
/// step's, with every step listed; an integrity violation at any rate ends
/// the search and fails the run (the result is then that step's).
fn search(
    session: &mut dyn Session,
    live: &Live,
    opts: &LoadOptions,
    plan: &dyn Fn(f64, u64, Option<u64>, Option<Duration>) -> Plan,
    mut first: u64,
) -> Result<LoadResult, String> {
    let mut steps = Vec::new();
    let mut best: Option<LoadResult> = None;
    let mut worst: Option<LoadResult> = None;
    let mut rate = 1000.0;
    let mut ceiling: Option<f64> = None;
    for _ in 0..16 {
        if live.stopped() || INTERRUPTED.load(Ordering::Relaxed) {
            break;
        }
        let p = plan(rate, first, opts.count, opts.duration);
        first += p.limit().max(1);
        tracing::info!(rate, first_id = p.first_id, "load step started");
        let mut r = session.step(&p, live)?;
        r.target_rate_per_s = Some(rate);
        let clean = r.violations() == 0
            && r.counters.lost + r.counters.late <= opts.gates.max_lost
            && r.rate_per_s >= rate * 0.95;
        steps.push(Step {
            target_rate_per_s: rate,
            rate_per_s: r.rate_per_s,
            sent: r.counters.sent,
            completed: r.counters.completed,
            lost: r.counters.lost + r.counters.late,
            violations: r.violations(),
            p99_ms: r.latency_ms.p99,
            clean,
        });
        tracing::info!(
            rate,
            achieved = r.rate_per_s,
            sent = r.counters.sent,
            completed = r.counters.completed,
            lost = r.counters.lost + r.counters.late,
            violations = r.violations(),
            clean,
            "load step ended"
        );
        let floor = best
            .as_ref()
            .and_then(|b| b.target_rate_per_s)
            .unwrap_or(0.0);
        if r.violations() > 0 {
            // It fails the run whatever the other steps would show: stop here.
            worst = Some(r);
            break;
        }
        if clean {
            best = Some(r);
            rate = match ceiling {
                None => rate * 2.0,
                Some(c) => (rate + c) / 2.0,
            };
        } else {
            ceiling = Some(rate);
            rate = (floor + rate) / 2.0;
            if floor == 0.0 && rate < 100.0 {
                break;
            }
        }
        if let Some(c) = ceiling {
            let lo = best
                .as_ref()
                .and_then(|b| b.target_rate_per_s)
                .unwrap_or(0.0);
            if c - lo <= c * 0.1 {
                break;
            }
        }
    }
    let mut result = match (best, worst) {
        // A violation at any rate fails the run: it is what the result shows.
        (_, Some(w)) => w,
        (Some(b), None) => b,
        (None, None) => {
            let last = steps.last().cloned();
            let mut r = session.step(&plan(100.0, first, Some(100), None), live)?;
            r.target_rate_per_s = last.map(|s| s.target_rate_per_s);
            r
        }
    };
    result.search = steps;
    Ok(result)
}

/// The live progress line (indicatif) on a terminal; nothing otherwise.
fn spawn_progress(
    live: &Arc<Live>,
    wanted: bool,
    rate: Option<f64>,
) -> Option<std::thread::JoinHandle<()>> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let live = live.clone();
    Some(std::thread::spawn(move || {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let mut last = (Instant::now(), 0u64);
        while !live.stopped() && !INTERRUPTED.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let sent = live.sent.load(Ordering::Relaxed);
            let now = Instant::now();
            let r = (sent.saturating_sub(last.1)) as f64 / (now - last.0).as_secs_f64();
            last = (now, sent);
            bar.set_message(format!(
                "{:>8.0}/s{}  sent {sent}  completed {}  lost {}  violations {}",
                r,
                rate.map(|t| format!(" (target {t:.0})"))
                    .unwrap_or_default(),
                live.completed.load(Ordering::Relaxed),
                live.lost.load(Ordering::Relaxed),
                live.violations.load(Ordering::Relaxed),
            ));
            bar.tick();
        }
        bar.finish_and_clear();
    }))
}

/// Was the run interrupted (SIGINT/SIGTERM)?
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}
