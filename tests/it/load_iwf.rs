//! `liaison load --role sms-im-iwf`: the harness SMSC and IMS core against
//! the reference IWF (embedded, or launched from a profile's `iwf:`
//! section), each receipt checked; its load faults caught; an IWF that
//! never binds named within a bounded time.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{bin, free_port, liaison, low_priority, text, tmpdir};

fn load(dir: &Path, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let out = dir.join("out");
    let mut all = vec!["load", "--quiet", "--out", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = liaison(&all);
    let json = std::fs::read_to_string(out.join("load.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (o, json)
}

fn n(r: &serde_json::Value, k: &str) -> u64 {
    r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"))
}

fn report<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no report {name}: {}", r["reports"]))
}

/// The clean reference with a 200/486/silent mix: every deliver_sm_resp
/// and every acknowledgement right; the silent ones time out in the IWF
/// (ESME_RX_T_APPN, UNDELIV), or are in flight at the unbind (pending).
#[test]
fn the_reference_keeps_every_receipt_right() {
    let _nice = low_priority();
    let d = tmpdir("load-iwf-clean");
    let (o, r) = load(
        &d,
        &[
            "--role",
            "sms-im-iwf",
            "--count",
            "2000",
            "--rate",
            "2000",
            "--t1-ms",
            "20",
            "--mix",
            "200:60,486:20,silent:20",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(n(&r, "sent"), 2000);
    for k in ["lost", "late", "duplicated", "mismatched", "fabricated"] {
        assert_eq!(n(&r, k), 0, "{k}: {}", text(&o));
    }
    assert_eq!(n(&r, "completed") + n(&r, "pending"), 2000);
    // The last Timer F's worth of silent ones were in flight at the unbind.
    assert!(n(&r, "pending") > 0, "{r}");
    let resps = report(&r, "deliver_sm_resp");
    let ok = resps["codes"]["0"].as_u64().unwrap();
    assert!((1000..1400).contains(&ok), "ESME_ROK {ok}");
    assert!(resps["codes"]["101"].as_u64().unwrap() > 200); // ESME_RX_P_APPN for 486
                                                            // Silent ones: ESME_RX_T_APPN at the IWF's Timer F, or still in flight.
    let timed_out = resps["codes"]["100"].as_u64().unwrap_or(0);
    assert!((300..500).contains(&(timed_out + n(&r, "pending"))), "{r}");
    let acks = report(&r, "SME delivery acknowledgements");
    assert_eq!(acks["codes"]["2"].as_u64(), Some(ok)); // DELIVRD for each 200
    assert_eq!(n(acks, "completed"), n(resps, "completed"));
    // Timer F (64·20 ms) and its margin.
    assert_eq!(n(&r, "deadline_ms"), 1280 + 320 + 250);
    assert_eq!(r["transport"], "smpp+udp");
}

/// A profile's IWF, launched as its own process, configured only by the
/// profile's `iwf:` section (addresses, credentials, its T1): the harness
/// listens where the profile says and the run passes.
#[test]
fn a_launched_iwf_is_driven_from_its_profile() {
    let _nice = low_priority();
    let d = tmpdir("load-iwf-launched");
    let (smsc, core) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let profile = format!(
        "name: reference sms-im-iwf, launched\n\
         roles: [sms-im-iwf]\n\
         capabilities: {{ sme_ack: true }}\n\
         iwf: {{ smsc: \"127.0.0.1:{smsc}\", system_id: liaison, password: secret, ims_core: \"127.0.0.1:{core}\", t1_ms: 20 }}\n\
         launch:\n  command: [{}, reference, --role, sms-im-iwf, --t1-ms, \"20\", --smsc, \"127.0.0.1:{smsc}\", --ims-core, \"127.0.0.1:{core}\"]\n",
        bin()
    );
    let p = d.join("iwf.yaml");
    std::fs::write(&p, profile).unwrap();
    let (o, r) = load(
        &d,
        &[
            "--sut",
            p.to_str().unwrap(),
            "--count",
            "1000",
            "--rate",
            "1000",
            "--mix",
            "200:70,486:20,silent:10",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(n(&r, "sent"), 1000);
    assert_eq!(n(&r, "mismatched") + n(&r, "fabricated") + n(&r, "lost"), 0);
    assert!(report(&r, "SME delivery acknowledgements")["codes"]["2"].as_u64() > Some(600));
}

/// Nothing binds to the harness SMSC: a usage error (exit 2) that names the
/// address and the system_id, within the bind wait (5 s at least).
#[test]
fn an_iwf_that_never_binds_is_named() {
    let d = tmpdir("load-iwf-nobind");
    let (smsc, core) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let p = d.join("iwf.yaml");
    std::fs::write(
        &p,
        format!(
            "name: an IWF that is not there\n\
             roles: [sms-im-iwf]\n\
             iwf: {{ smsc: \"127.0.0.1:{smsc}\", system_id: nobody, password: x, ims_core: \"127.0.0.1:{core}\", t1_ms: 20 }}\n"
        ),
    )
    .unwrap();
    let t = Instant::now();
    let (o, _) = load(
        &d,
        &[
            "--sut",
            p.to_str().unwrap(),
            "--count",
            "10",
            "--rate",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t2 = text(&o);
    assert!(
        t2.contains("did not bind")
            && t2.contains(&format!("127.0.0.1:{smsc}"))
            && t2.contains("nobody"),
        "{t2}"
    );
    assert!(t.elapsed() < Duration::from_secs(9), "{:?}", t.elapsed());
}
