//! IWF round trip under load: the harness SMSC delivers N SMS to the embedded
//! reference interworking function, the harness IMS core answers every
//! MESSAGE with 200, and every SME acknowledgement is checked (DELIVRD, the
//! right recipient, the id the IWF gave in its deliver_sm_resp). Prints SMS/s.
//! Run: `cargo bench --bench iwf_roundtrip`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use liaison::codec::smpp::{command, registered, state, Body, Sm};
use liaison::harness::IwfHarness;
use liaison::reference::{self, sms_iwf::IwfConfig, Settings};
use liaison::roles::ua::Answer;

const N: usize = 2000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let any = "127.0.0.1:0".parse().expect("address");
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
        let _iwf = reference::start("sms-im-iwf", any, settings)
            .await
            .expect("reference IWF");
        assert!(
            h.smsc
                .wait_bound(Instant::now() + Duration::from_secs(5))
                .await,
            "IWF did not bind"
        );
        let numbers: Vec<String> = (0..N).map(|i| format!("1556{i:07}")).collect();
        for n in &numbers {
            h.ims.set_answer(
                n,
                Answer::Respond {
                    code: 200,
                    delay: Duration::ZERO,
                },
            );
        }
        let start = Instant::now();
        let mut seqs = HashMap::new();
        for n in &numbers {
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
        let acks = |log: &[liaison::roles::smsc::SmppArrival]| {
            log.iter()
                .filter(|a| {
                    a.pdu
                        .as_ref()
                        .is_ok_and(|p| p.header.command_id == command::SUBMIT_SM)
                })
                .count()
        };
        let done = h
            .smsc
            .wait_for(
                Instant::now() + Duration::from_secs(60),
                |log| acks(log) >= N,
                false,
            )
            .await;
        let elapsed = start.elapsed();
        assert!(done, "not every SMS was acknowledged");
        // Check every receipt against its SMS.
        let log = h.smsc.log();
        let mut ids = HashMap::new();
        for a in &log {
            if let Ok(p) = &a.pdu
                && let (command::DELIVER_SM_RESP, Body::DeliverSmResp { message_id }) =
                    (p.header.command_id, &p.body)
                && let Some(n) = seqs.get(&p.header.sequence_number)
            {
                ids.insert(n.clone(), message_id.clone());
            }
        }
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
            assert_eq!(
                sm.receipted_message_id().as_deref(),
                ids.get(n).map(String::as_str),
                "receipt id for +{n}"
            );
            checked += 1;
        }
        assert_eq!(checked, N);
        println!(
            "iwf round trip: {N} SMS, every receipt checked, {:.0} SMS/s ({:.2} s)",
            N as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    });
}
