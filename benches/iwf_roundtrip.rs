//! IWF round trip under load (criterion): `cargo bench --bench
//! iwf_roundtrip` in benches/. The harness SMSC delivers SMS to the embedded
//! reference interworking function, the harness IMS core answers every
//! MESSAGE with 200, and the SME acknowledgements come back. One iteration
//! is a batch of 200 SMS, all acknowledged; criterion reports SMS/s
//! (elements/s). After the measurement every receipt of every batch is
//! checked (DELIVRD, the right recipient, the id the IWF gave in its
//! deliver_sm_resp).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use liaison::codec::smpp::{command, registered, state, Body, Sm};
use liaison::harness::IwfHarness;
use liaison::reference::{self, sms_iwf::IwfConfig, Settings};
use liaison::roles::smsc::SmppArrival;
use liaison::roles::ua::Answer;

const BATCH: usize = 200;
/// Numbers answered 200 by the IMS core, used in turn (an SMS per number per
/// round; receipts are told apart by sequence number, then by number).
const NUMBERS: usize = 4000;

fn acks(log: &[SmppArrival]) -> usize {
    log.iter()
        .filter(|a| {
            a.pdu
                .as_ref()
                .is_ok_and(|p| p.header.command_id == command::SUBMIT_SM)
        })
        .count()
}

fn iwf(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let any = "127.0.0.1:0".parse().expect("address");
    let (h, _iwf) = rt.block_on(async {
        let h = IwfHarness::start(
            any,
            any,
            ("liaison".into(), "secret".into()),
            liaison::net::capture::Capture::disabled(),
        )
        .await
        .expect("harness");
        let cfg = IwfConfig {
            smsc: h.smsc.addr(),
            ims_core: h.ims.ep.udp_addr(),
            system_id: "liaison".into(),
            password: "secret".into(),
            domain: "liaison.test".into(),
            ims_core_tls: None,
            tls_prefix: None,
        };
        let settings = Settings {
            t1: Duration::from_millis(100),
            iwf: Some(cfg),
            ..Settings::default()
        };
        let iwf = reference::start("sms-im-iwf", any, settings)
            .await
            .expect("reference IWF");
        assert!(
            h.smsc
                .wait_bound(Instant::now() + Duration::from_secs(5))
                .await,
            "IWF did not bind"
        );
        (h, iwf)
    });
    let numbers: Vec<String> = (0..NUMBERS).map(|i| format!("1556{i:07}")).collect();
    for n in &numbers {
        h.ims.set_answer(
            n,
            Answer::Respond {
                code: 200,
                delay: Duration::ZERO,
            },
        );
    }
    // Sequence number of each deliver_sm → its number, over every batch.
    let mut seqs: HashMap<u32, String> = HashMap::new();
    let mut next = 0usize;
    let mut sent = 0usize;

    let mut g = c.benchmark_group("iwf round trip");
    g.throughput(Throughput::Elements(BATCH as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    g.bench_function(format!("{BATCH} SMS delivered and acknowledged"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let from = h.smsc.log().len();
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        let n = &numbers[next % NUMBERS];
                        next += 1;
                        let sm = Sm {
                            source_addr: "+15550000000".into(),
                            destination_addr: format!("+{n}"),
                            registered_delivery: registered::RECEIPT_ALWAYS | 0x04,
                            short_message: b"liaison bench".to_vec(),
                            ..Sm::default()
                        };
                        let seq = h.smsc.deliver(&sm).await.expect("deliver_sm");
                        seqs.insert(seq, n.clone());
                    }
                    sent += BATCH;
                    let done = h
                        .smsc
                        .wait_for(
                            Instant::now() + Duration::from_secs(60),
                            |log| acks(log.get(from..).unwrap_or_default()) >= BATCH,
                            false,
                        )
                        .await;
                    total += start.elapsed();
                    assert!(done, "not every SMS of the batch was acknowledged");
                }
                total
            })
        })
    });
    g.finish();

    // Every receipt against its SMS: the id the IWF gave for that deliver_sm.
    let log = h.smsc.log();
    let mut ids: HashMap<u32, String> = HashMap::new();
    for a in &log {
        if let Ok(p) = &a.pdu
            && let (command::DELIVER_SM_RESP, Body::DeliverSmResp { message_id }) =
                (p.header.command_id, &p.body)
            && seqs.contains_key(&p.header.sequence_number)
        {
            ids.insert(p.header.sequence_number, message_id.clone());
        }
    }
    let given: std::collections::HashSet<(&str, &str)> = ids
        .iter()
        .map(|(seq, id)| (seqs[seq].as_str(), id.as_str()))
        .collect();
    let mut checked = 0;
    for a in &log {
        let Some(sm) = a
            .pdu
            .as_ref()
            .ok()
            .filter(|p| p.header.command_id == command::SUBMIT_SM)
            .and_then(|p| p.sm())
        else {
            continue;
        };
        let n = sm.source_addr.trim_start_matches('+');
        assert_eq!(
            sm.message_state(),
            Some(state::DELIVERED),
            "receipt for +{n}"
        );
        let id = sm.receipted_message_id().unwrap_or_default();
        assert!(
            given.contains(&(n, id.as_str())),
            "receipt for +{n} names id {id}, which the IWF did not give for an SMS to +{n}"
        );
        checked += 1;
    }
    assert_eq!(checked, sent, "a receipt for every SMS");
    println!("iwf round trip: {sent} SMS in all, every receipt checked");
}

criterion_group! { name = benches; config = liaison_benches::criterion(); targets = iwf }
criterion_main!(benches);
