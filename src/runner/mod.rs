//! The runner: picks scenarios by tag and by the SUT's declared roles and
//! capabilities, starts the SUT (embedded reference or a launched program),
//! runs the scenarios through cucumber, and turns what happened into a
//! [`Report`] — also when the run is interrupted.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`run`]: one run from options to report |
//! | [`select`] | feature files, scenario selection by tags, roles, capabilities |
//! | [`collect`] | cucumber events → scenario results; a SUT that died or was absent |
//! | [`reference`] | the embedded reference and its harness, described by a [`Profile`] |
//! | [`signals`] | SIGINT/SIGTERM |
//! | [`clock`] | RFC 3339 timestamps |
//!
//! Scenario selection by tags:
//! - a role tag (`@im-client`, `@im-server`, …) — the SUT must declare it;
//! - `@transport:tcp` — the SUT must take that SIP transport;
//! - `@if:CAP` / `@unless:CAP` — a declared capability must be true / false;
//! - requirement tags (`@DR-5`) — must name catalogue requirements;
//! - `--tags EXPR` — a cucumber tag expression over all of the above.

mod clock;
mod collect;
pub mod embedded;
pub mod reference;
pub mod select;
mod signals;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cucumber::{writer, World as _};
use futures::FutureExt as _;

use crate::catalogue::Catalogue;
use crate::harness::{Harnesses, Held, RunContext};
use crate::net::capture::Capture;
use crate::profile::Profile;
use crate::report::{Report, Waiver};
use crate::steps::world::{LiaisonWorld, CONTEXT};
use crate::sut::SutProcess;

pub use clock::rfc3339_now;
pub use collect::pcap_name;
use collect::{
    mark_not_applicable, note_not_run_by_sut, sut_absent, sut_died, sut_exit, sut_of, Collected,
    Collector, ScenarioKey,
};
pub use reference::start_reference;
pub use select::{
    applies, check_tag_names, exclusions, features_dir, load_features, nothing_to_run, parse_tags,
    scenarios, tag_problems, ScenarioInfo, ScenarioStep,
};
use signals::Interrupt;

/// Options of `liaison run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub sut: Option<PathBuf>,
    pub tags: Option<String>,
    pub out: Option<PathBuf>,
    pub strict: bool,
    pub waivers: Option<PathBuf>,
    /// A reference fault (`ROLE/NAME`), only without `sut`.
    pub fault: Option<String>,
    /// The loopback IP the embedded reference and its harness bind
    /// (127.0.0.1 when not given; `::1` runs the whole run on IPv6). Only
    /// without `sut`: a profile names its own addresses.
    pub address: Option<std::net::IpAddr>,
    pub features: Option<PathBuf>,
    /// Print a progress line per scenario.
    pub progress: bool,
}

/// A run that could not start: exit code 2 with one line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs the suite. Returns the report and its folder, or a usage error (exit 2).
pub async fn run(opts: RunOptions) -> Result<(Report, PathBuf), UsageError> {
    // Listen for SIGINT/SIGTERM from the start (a signal stream registers at
    // once), so an interruption at any point still ends in a report.
    let mut interrupt =
        Interrupt::new().map_err(|e| UsageError(format!("cannot install signal handlers: {e}")))?;
    let started_at = Instant::now();
    let started = rfc3339_now();
    let catalogue = Catalogue::embedded().map_err(UsageError)?;
    let fdir = features_dir(opts.features.as_deref()).map_err(UsageError)?;
    let features = load_features(&fdir).map_err(UsageError)?;
    let all = scenarios(&features);
    tracing::debug!(
        features = %fdir.display(),
        scenarios = all.len(),
        "feature files read"
    );
    let problems = tag_problems(&all, &catalogue);
    if !problems.is_empty() {
        return Err(UsageError(format!(
            "feature files: {}",
            problems.join("; ")
        )));
    }
    let filter = opts.tags.as_deref().map(parse_tags).transpose()?;
    if let Some(f) = &filter {
        check_tag_names(f, &all, &catalogue)?;
    }
    let waivers: Vec<Waiver> = match &opts.waivers {
        Some(p) => crate::report::load_waivers(p, &catalogue).map_err(UsageError)?,
        None => Vec::new(),
    };
    if opts.sut.is_some() && opts.fault.is_some() {
        return Err(UsageError(
            "--fault applies to the embedded reference only; leave out --sut".into(),
        ));
    }
    if let Some(ip) = opts.address {
        if opts.sut.is_some() {
            return Err(UsageError(
                "--address applies to the embedded reference only; a profile names its addresses (harness.address)".into(),
            ));
        }
        if !ip.is_loopback() {
            return Err(UsageError(format!(
                "--address: expected a loopback IP such as 127.0.0.1 or ::1 (found {ip}): the embedded reference runs on this host only"
            )));
        }
    }

    // A profile that cannot be read is a usage error before anything is
    // written: no report folder, and `reports/latest` stays where it was.
    let loaded = match &opts.sut {
        Some(p) => Some(Profile::load(p).map_err(|e| UsageError(e.to_string()))?),
        None => None,
    };
    // Only a profile that says `network: lab` lets the harness leave
    // loopback, and only for this run's process.
    if loaded
        .as_ref()
        .is_some_and(|p| p.network == crate::profile::Network::Lab)
    {
        crate::net::open_lab_network();
    }

    // Output folder.
    let out_dir = match &opts.out {
        Some(d) => d.clone(),
        None => PathBuf::from("reports").join(started.replace(':', "-")),
    };
    let pcap_dir = out_dir.join("pcaps");
    std::fs::create_dir_all(&pcap_dir).map_err(|e| {
        UsageError(format!(
            "--out {}: cannot create the folder ({e})",
            out_dir.display()
        ))
    })?;
    crate::log::to_file(&out_dir);
    tracing::info!(
        out = %out_dir.display(),
        sut = opts.sut.as_ref().map(|p| p.display().to_string()).as_deref().unwrap_or("embedded reference"),
        fault = opts.fault.as_deref().unwrap_or("none"),
        tags = opts.tags.as_deref().unwrap_or(""),
        "run started"
    );
    if opts.out.is_none() {
        let latest = PathBuf::from("reports/latest");
        let _ = std::fs::remove_file(&latest);
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(out_dir.file_name().unwrap_or_default(), &latest);
    }

    // The SUT and the run-level harness, started through one path: from
    // the profile, or from the embedded reference (which gives its own).
    let mut sut_proc: Option<SutProcess> = None;
    let (profile, role_addresses, harnesses, _reference) = match loaded {
        Some(profile) => {
            let h = Harnesses::for_profile(&profile, &pcap_dir)
                .await
                .map_err(UsageError)?;
            (profile, Default::default(), h, Vec::new())
        }
        None => {
            let ip = opts
                .address
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
            let r = reference::start_embedded(opts.fault.as_deref(), ip, &pcap_dir).await?;
            tracing::info!(%ip, roles = r.0.roles.join(","), "embedded reference and its harness started");
            r
        }
    };
    let selected: Vec<&ScenarioInfo> = all
        .iter()
        .filter(|s| applies(&s.tags, &profile, filter.as_ref()))
        .collect();
    tracing::info!(
        selected = selected.len(),
        of = all.len(),
        sut = %profile.name,
        roles = profile.roles.join(","),
        "scenarios selected by tags, roles and capabilities"
    );
    if selected.is_empty() {
        return Err(nothing_to_run(
            &all,
            &profile,
            filter.as_ref(),
            opts.tags.as_deref(),
        ));
    }
    // The SUT's conformance statement, for the report (every scenario,
    // not only those --tags selects; files shown as `features/…`).
    let statement = {
        let mut shown = all.clone();
        crate::ics::shown_as_features(&mut shown);
        let mut s = crate::ics::Statement::build(&catalogue, &shown, &profile);
        s.run_tags = opts.tags.clone();
        Box::new(s)
    };
    let mut interrupted = false;
    // Where the run stops when the SUT is not there: the report says why.
    let absent = |kind, gone: crate::sut::SutGone| {
        sut_absent(
            &catalogue,
            &profile,
            &statement,
            (&started, started_at),
            &waivers,
            opts.strict,
            &out_dir,
            kind,
            gone,
        )
    };
    if opts.sut.is_some() && profile.launch.is_none() {
        let reachable = tokio::select! {
            r = crate::sut::check_reachable(&profile) => Some(r),
            _ = interrupt.recv() => None,
        };
        match reachable {
            None => interrupted = true,
            Some(Ok(())) => {
                tracing::info!(sut = %profile.name, "SUT reachable at its profile's addresses")
            }
            Some(Err(message)) => {
                tracing::info!(%message, "SUT unreachable: the run stops");
                return Err(absent(
                    crate::report::SutEventKind::Unreachable,
                    crate::sut::SutGone {
                        message,
                        status: None,
                        stderr_tail: Vec::new(),
                    },
                ));
            }
        }
    }
    if let Some(l) = &profile.launch {
        // A SUT that speaks TLS is started with the run's lab CA and the
        // certificate it issued for the SUT (the profile's env wins).
        let mut l = l.clone();
        for (k, v) in harnesses.tls.iter().flat_map(|t| t.sut_env()) {
            l.env.entry(k).or_insert(v);
        }
        let l = &l;
        // `ready.registered`: the SUT's AoR has a binding at the core.
        let core = harnesses.ims.clone();
        let aor = profile
            .sip
            .as_ref()
            .and_then(|s| s.aor.clone())
            .unwrap_or_default();
        let registered = move || {
            core.as_ref()
                .is_some_and(|c| !c.core.bindings(&aor).is_empty())
        };
        tokio::select! {
            r = SutProcess::start(l, &profile, &out_dir, &registered) => match r {
                Ok(p) => sut_proc = Some(p),
                Err(gone) => {
                    let kind = if gone.status.is_some() {
                        crate::report::SutEventKind::ExitedBeforeReady
                    } else {
                        crate::report::SutEventKind::Unreachable
                    };
                    return Err(absent(kind, gone));
                }
            },
            _ = interrupt.recv() => interrupted = true,
        }
    }
    // A launched SUT without a readiness probe may already be gone.
    if let Some(p) = sut_proc.as_mut()
        && let Some(status) = p.has_exited()
    {
        p.stop().await;
        let stderr_tail = p.stderr_tail();
        return Err(absent(
            crate::report::SutEventKind::ExitedBeforeReady,
            crate::sut::SutGone {
                message: format!(
                    "SUT `{}` exited before the first scenario ({status}); stderr: {}",
                    profile.name,
                    crate::sut::one_line(&stderr_tail)
                ),
                status: Some(status),
                stderr_tail,
            },
        ));
    }

    let ctx = Arc::new(RunContext::new(
        profile.clone(),
        role_addresses,
        harnesses,
        out_dir.clone(),
        pcap_dir.clone(),
    ));
    *CONTEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.clone());

    let shared = Arc::new(Mutex::new(Collected {
        total: selected.len(),
        ..Default::default()
    }));
    let collector = Collector {
        shared: shared.clone(),
        progress: opts.progress,
    };
    let prof = profile.clone();
    let filter2 = filter.clone();
    let pcaps = pcap_dir.clone();
    let timing = shared.clone();
    // Every scenario may start at once (they mostly wait; with
    // 64 a long one late in the files, PUSH-18, started only after others
    // ended and stretched the run by 0.2 s). 140 at once ran with a file
    // limit of 512.
    let cuke = LiaisonWorld::cucumber()
        .max_concurrent_scenarios(Some(256))
        // Not `writer::Normalize`: it holds each feature's events back until
        // the features before it finish, so progress lines stalled and an
        // interrupted run lost scenarios that had finished. The collector
        // keys every event by its scenario, so arrival order is enough.
        .with_writer(writer::AssertNormalized::new(collector))
        .with_default_cli()
        .fail_on_skipped()
        .before(move |feature, rule, sc, world| {
            let file = feature
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let mut tags = feature.tags.clone();
            if let Some(r) = rule {
                tags.extend(r.tags.iter().cloned());
            }
            tags.extend(sc.tags.iter().cloned());
            world.requirements = tags
                .iter()
                .filter(|t| Catalogue::looks_like_id(t))
                .cloned()
                .collect();
            let path = pcaps.join(pcap_name(&file, sc.position.line, &sc.name));
            world.capture = Capture::create(&path).unwrap_or_else(|_| Capture::disabled());
            world.pcap = Some(path.display().to_string());
            world.start_claims();
            let scenario = sc.name.clone();
            async move {
                // The run-level roles it uses, its own until it ends, and
                // its SUT roles (shared, or alone with @alone); its clock
                // and deadline start once it has them.
                let asked = Instant::now();
                world.held = Held::take(&world.ctx, &tags).await;
                tracing::debug!(
                    %scenario,
                    pcap = world.pcap.as_deref().unwrap_or(""),
                    waited_ms = asked.elapsed().as_millis() as u64,
                    "scenario holds its roles; its clock starts"
                );
                world.started = Instant::now();
                world.deadline =
                    world.started + Duration::from_secs(world.ctx.profile.scenario_timeout_s);
            }
            .boxed_local()
        })
        .after(move |feature, _, sc, _, world| {
            if let Some(w) = world {
                let file = feature
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                timing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .durations
                    .insert(
                        (file.clone(), sc.position.line),
                        w.started.elapsed().as_millis() as u64,
                    );
                let tls = w.capture.tls_connections();
                if !tls.is_empty() {
                    timing
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .tls
                        .insert((file.clone(), sc.position.line), tls);
                }
                // Its keys are nobody's now: what comes for them later
                // goes to the run-level pcaps.
                w.end_claims();
                let _ = w.capture.flush();
                let dropped = w.capture.frames_dropped();
                if dropped > 0 {
                    tracing::info!(
                        pcap = w.pcap.as_deref().unwrap_or(""),
                        frames_dropped = dropped,
                        "scenario pcap reached its size cap"
                    );
                    timing
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pcap_frames_dropped
                        .insert((file, sc.position.line), dropped);
                }
                // Stop this scenario's roles now, so nothing lingers into the next.
                w.recipients.clear();
                w.originators.clear();
                w.push_sip.devices.clear();
                // The next scenario that uses the same run-level roles may start.
                w.held.release();
            }
            async {}.boxed_local()
        });
    let run_fut = cuke.filter_run(fdir.clone(), move |feature, rule, sc| {
        let mut tags = feature.tags.clone();
        if let Some(r) = rule {
            tags.extend(r.tags.iter().cloned());
        }
        tags.extend(sc.tags.iter().cloned());
        applies(&tags, &prof, filter2.as_ref())
    });

    // A launched SUT that exits ends the run: a run-level event.
    let mut died: Option<(u64, String)> = None;
    if !interrupted {
        tokio::select! {
            _ = run_fut => {}
            _ = interrupt.recv() => interrupted = true,
            status = sut_exit(sut_proc.as_mut()) => {
                died = Some((started_at.elapsed().as_millis() as u64, status));
            }
        }
    }

    tracing::info!(
        interrupted,
        sut_exited = died.is_some(),
        elapsed_ms = started_at.elapsed().as_millis() as u64,
        "scenarios ended"
    );
    *CONTEXT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let stderr_tail = sut_proc.as_ref().map(|p| p.stderr_tail());
    if let Some(mut p) = sut_proc.take() {
        p.stop().await;
    }
    drop(_reference);

    let collected = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
    if !collected.parse_errors.is_empty() {
        return Err(UsageError(format!(
            "feature files: {}",
            collected.parse_errors.join("; ")
        )));
    }
    let mut results = collected.results;
    let sut_event = died.map(|(at_ms, status)| {
        let during: Vec<ScenarioKey> = collected.running.keys().cloned().collect();
        sut_died(
            &pcap_dir,
            &selected,
            &mut results,
            &during,
            at_ms,
            status,
            stderr_tail.unwrap_or_default(),
        )
    });
    results.sort_by(|a, b| (&a.feature, &a.pcap).cmp(&(&b.feature, &b.pcap)));
    let sut = sut_of(&profile);
    let mut report = Report::build(
        &catalogue,
        sut,
        started,
        started_at.elapsed().as_millis() as u64,
        results,
        &waivers,
        interrupted,
        opts.strict,
    );
    mark_not_applicable(&mut report, &all, &profile);
    if let Some(run) = report.runs.first_mut() {
        run.ics = Some(statement);
        run.elements = collect::run_elements(&ctx);
        run.pcaps = collect::run_pcaps(&ctx);
        run.sut_event = sut_event;
        run.tls = ctx.tls.as_ref().map(|t| crate::report::RunTlsInfo {
            lab_ca: "tls/lab-ca.pem".into(),
            sut_certificate_check: t.check.clone(),
        });
    }
    note_not_run_by_sut(&mut report);
    if let Some(run) = report.runs.first() {
        for p in &run.pcaps {
            tracing::info!(
                harness = %p.harness,
                pcap = %p.pcap,
                frames = p.frames,
                frames_dropped = p.frames_dropped,
                unclaimed = p.unclaimed,
                "routing: run-level capture (packets no scenario claimed stay here)"
            );
        }
    }
    let count = |v| report.scenarios.iter().filter(|s| s.verdict == v).count();
    tracing::info!(
        passed = count(crate::report::ScenarioVerdict::Passed),
        failed = count(crate::report::ScenarioVerdict::Failed),
        skipped = count(crate::report::ScenarioVerdict::Skipped),
        exit_code = report.exit_code(),
        elapsed_ms = started_at.elapsed().as_millis() as u64,
        "run ended"
    );
    report.write_all(&out_dir).map_err(|e| {
        UsageError(format!(
            "cannot write the report into {}: {e}",
            out_dir.display()
        ))
    })?;
    Ok((report, out_dir))
}
