//! SIP over TLS through the IM server (`features/ims-alignment/im-server-sips.feature`):
//! recipients registered with `sips:` contacts over TLS, originators that
//! connect to the SUT's `sip.tls`, and the checks that a `sips:` request
//! stays on TLS, as `sips:`, on its way to the recipient (RFC 5630 §5.3).

use std::time::{Duration, Instant};

use cucumber::{given, then, when};

use crate::codec::escape_bytes;
use crate::net::{Incoming, Transport};
use crate::roles::ua::Recipient;
use crate::steps::sip::{
    domain, new_ua, open_tls, recipient, run_tls, send_through_server_over, sips_of, Over,
};
use crate::steps::world::{describe_incoming, LiaisonWorld, StepResult};

/// `name` registers with the SUT over TLS: its endpoint listens for TLS
/// (the harness certificate the lab CA issued, or the profile's), it
/// connects to the SUT's `sip.tls` and registers a `sips:` contact there,
/// its AoR in `sips:` form (RFC 5630 §5.1.1.1).
#[given(expr = "a recipient {string} registered with the SUT over TLS")]
async fn registered_over_tls(w: &mut LiaisonWorld, name: String) -> StepResult {
    let ua = new_ua(w, &name).await?;
    let tls = run_tls(w)?;
    let at = std::net::SocketAddr::new(w.ctx.profile.harness_ip, 0);
    ua.ep
        .listen_tls(at, tls.server.clone())
        .await
        .map_err(|e| w.fail("to listen for TLS on loopback", format!("an error: {e}")))?;
    w.recipients
        .insert(name.clone(), Recipient::start(ua.clone()));
    let dst = open_tls(w, &ua).await?;
    let registrar = sips_of(&format!("sip:{}", domain(w)));
    let out = ua.register(Transport::Tls, &registrar, 300);
    let r = ua
        .send(Transport::Tls, dst, &out, w.deadline, Duration::ZERO)
        .await;
    match r.final_response().and_then(|m| m.status()) {
        Some(200..=299) => Ok(()),
        _ => Err(w.fail(
            format!(
                "2xx to the REGISTER of {} with a sips: contact over TLS (RFC 3261 §10.3, RFC 5630 §5.2)",
                sips_of(&ua.aor)
            ),
            w.describe(Some(&r), Some(&ua.ep)),
        )),
    }
}

#[when(expr = "{string} sends a {string} MESSAGE to {string} through the SUT over TLS")]
async fn sends_over_tls(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    let over = Over::Tls { sips: false };
    send_through_server_over(w, &from, &content_type, &to, &[], over).await
}

#[when(
    expr = "{string} sends a {string} MESSAGE to the sips: address of {string} through the SUT over TLS"
)]
async fn sends_sips(
    w: &mut LiaisonWorld,
    from: String,
    content_type: String,
    to: String,
) -> StepResult {
    let over = Over::Tls { sips: true };
    send_through_server_over(w, &from, &content_type, &to, &[], over).await
}

/// What reached `name`'s endpoint that was not a request it took: plaintext
/// at its TLS listener, handshakes that failed.
fn stray(w: &LiaisonWorld, name: &str) -> String {
    let Some(r) = w.recipients.get(name) else {
        return String::new();
    };
    let mut out = Vec::new();
    for i in r.ua.ep.unmatched() {
        out.push(describe_incoming(&i));
    }
    out.extend(r.ua.ep.transport_events());
    if out.is_empty() {
        String::new()
    } else {
        format!("; at its endpoint: {}", out.join(" || "))
    }
}

/// The copy of the sent MESSAGE (same body) `name` received, if any.
fn copy_of(w: &LiaisonWorld, name: &str) -> Option<Incoming> {
    let (_, _, body) = w.sent.as_ref()?;
    w.recipients.get(name)?.message_with_body(body)
}

/// The MESSAGE reached `name` over a TLS connection, its Request-URI still
/// `sips:` (RFC 5630 §5.3: TLS on every hop, a SIPS Request-URI forwarded
/// as SIPS).
#[then(expr = "{string} receives the MESSAGE over TLS with its sips: Request-URI")]
async fn receives_over_tls(w: &mut LiaisonWorld, name: String) -> StepResult {
    let Some((_, _, body)) = w.sent.clone() else {
        return Err(w.fail("a MESSAGE sent earlier in the scenario", "none"));
    };
    let got = recipient(w, &name)?
        .wait_message_with_body(w.deadline, &body)
        .await;
    let want = format!("`{name}` to receive the sips: MESSAGE over TLS, its Request-URI sips: (RFC 5630 §5.3: TLS on every hop, no last-hop exception; a SIPS Request-URI is forwarded as SIPS)");
    let Some(inc) = got else {
        return Err(w.fail(
            want,
            format!("no copy within the scenario timeout{}", stray(w, &name)),
        ));
    };
    let ruri = inc
        .msg
        .as_ref()
        .ok()
        .and_then(|m| m.request_uri())
        .unwrap_or_default()
        .to_string();
    let sips = ruri
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("sips:"));
    if inc.transport != Transport::Tls || !sips {
        return Err(w.fail(
            want,
            format!(
                "it over {} with Request-URI `{ruri}` from {} — bytes: {}",
                inc.transport,
                inc.from,
                escape_bytes(&inc.bytes, 400)
            ),
        ));
    }
    Ok(())
}

/// No copy of the MESSAGE reached `name`, watched until the originator's
/// final response and two of the SUT's T1 (its retransmission interval)
/// after it, or the scenario timeout when no final response came.
#[then(expr = "{string} receives no copy of the MESSAGE")]
async fn no_copy(w: &mut LiaisonWorld, name: String) -> StepResult {
    let t1 = Duration::from_millis(w.ctx.profile.t1_ms);
    let until = match w.result.as_ref().and_then(|r| r.final_incoming()) {
        Some(f) => f.at + t1 * 2 + Duration::from_millis(100),
        None => w.deadline,
    };
    let until = until.min(w.deadline.max(Instant::now()));
    let _ = recipient(w, &name)?;
    if until > Instant::now() {
        tokio::time::sleep(until - Instant::now()).await;
    }
    match copy_of(w, &name) {
        None => Ok(()),
        Some(i) => Err(w.fail(
            format!("no copy of the sips: MESSAGE to `{name}`, whose only contact is sip: (RFC 5630 §5.3: not forwarded; 480 with warn-code 380)"),
            format!("it over {}: {}", i.transport, describe_incoming(&i)),
        )),
    }
}
