//! The embedded reference SUT: a conformant implementation of each SUT role,
//! over real sockets, with named faults that each break declared requirements.
//!
//! It lives apart from the harness: it shares the codecs (`crate::codec`) and
//! nothing else — no sockets, no transactions, no state. `liaison reference`
//! runs one role on its own; `liaison run` without `--sut` starts every role
//! here on loopback port 0 and points the harness at it.
//!
//! Faults prove that scenarios can fail: the fault-kill test runs the suite
//! against every fault and checks that exactly the declared requirements fail.

pub mod im_client;
pub mod im_server;
pub mod mem_server;
pub mod mms_client;
pub mod mms_relay;
pub mod msrp_receiver;
pub mod msrp_relay;
pub mod ppg;
pub mod push_client;
pub mod sms_iwf;
mod smtp_server;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};

/// Locks a mutex, taking the data of a poisoned one (a panicked task must
/// not take the whole reference role down with it).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A named fault of one reference role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub role: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The requirement IDs whose scenarios this fault makes fail — exactly.
    pub breaks: &'static [&'static str],
    /// im-server: run this variant with store-and-forward on or off.
    pub store_and_forward: bool,
}

/// Every fault of every reference role.
pub const FAULTS: &[Fault] = &[
    Fault {
        role: "im-client",
        name: "never-answers",
        description: "receives MESSAGEs and never answers them",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "garbage-responses",
        description: "answers every request with bytes that are not SIP",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "wrong-transaction",
        description: "answers every request with a well-formed 200 for another transaction (other branch and Call-ID)",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-7", "IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "closes-connection",
        description: "over TCP, reads the request and closes the connection without answering",
        breaks: &["DR-1"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "closes-mid-response",
        description: "over TCP, writes the first half of the header block of its answer to a request (no blank line) and closes the connection",
        breaks: &["DR-1"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "200-with-body-and-contact",
        description: "its 200 to a MESSAGE carries a Contact header and a body",
        breaks: &["DR-2"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "200-for-unsupported-type",
        description: "answers 200 to a MESSAGE whose body type it does not support",
        breaks: &["DR-3"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "415-without-accept",
        description: "rejects an unsupported body type with 415 but no Accept header",
        breaks: &["DR-3"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "415-hostile-text",
        description: "rejects an unsupported body type with 415 whose reason phrase is a <script> element and whose Accept header is HTML, not media types (the report must show it as text)",
        breaks: &["DR-3"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "retransmission-as-new",
        description: "handles a retransmitted MESSAGE as a new request (new To tag)",
        breaks: &["DR-4"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "no-tcp",
        description: "does not listen on TCP",
        breaks: &["DR-1"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-rejects-invite",
        description: "rejects every INVITE for an MSRP session with 488",
        breaks: &["DR-9", "DR-10", "DR-11", "DR-12", "DR-13", "DR-14", "DR-15", "DR-17", "IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-accepts-any-offer",
        description: "accepts an MSRP offer even when no offered type is one it takes",
        breaks: &["DR-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-ignores-bye",
        description: "never answers the BYE that ends a Large Message session",
        breaks: &["DR-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-no-final-200",
        description: "never answers the final ('$') chunk of a message",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-deferred-responses",
        description: "holds back the 200s to '+' chunks until the final chunk arrives",
        breaks: &["DR-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-report-before-200",
        description: "sends the success REPORT before the 200 to the final chunk",
        breaks: &["DR-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-unrequested-report",
        description: "sends a success REPORT although Success-Report is no or absent",
        breaks: &["DR-13"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-200-for-partial",
        description: "answers 200 to chunks sent with Failure-Report: partial",
        breaks: &["DR-14"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-415-as-200",
        description: "takes a Content-Type it does not support with 200 (and a success REPORT)",
        breaks: &["DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-report-on-failure",
        description: "answers an unsupported type with 415 but also sends a success REPORT",
        breaks: &["DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-no-413",
        description: "takes a message larger than its declared maximum",
        breaks: &["DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-ignores-session",
        description: "answers 200 to a SEND whose To-Path names no session it has",
        breaks: &["DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-aborted-as-complete",
        description: "after a '#' chunk, sends a success REPORT claiming the whole message",
        breaks: &["DR-17"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-no-end-line",
        description: "sends MSRP responses and REPORTs without their end-line (unframeable)",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-closes-mid-chunk",
        description: "closes the MSRP connection when the first chunk arrives, without answering",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-wrong-byte-range",
        description: "its success REPORT carries a Byte-Range total that is not the message's",
        breaks: &["DR-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-second-response",
        description: "answers each chunk twice, the second time 50 ms later with the opposite verdict (400 after a 200, 200 after an error)",
        breaks: &["DR-10", "DR-11", "DR-12", "DR-13", "DR-15"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-report-headers",
        description: "its success REPORT carries Success-Report and Failure-Report header fields",
        breaks: &["DR-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-chunk-reports-early",
        description: "with Success-Report yes, reports each chunk in a REPORT of its own sent before that chunk's 200",
        breaks: &["DR-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "msrp-partial-report",
        description: "its success REPORT covers only the final chunk's bytes; no REPORT covers the rest",
        breaks: &["DR-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "ims-no-register",
        description: "never registers with the IMS core it is configured with",
        breaks: &["IMS-2", "IMS-5", "IMS-6"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "ims-no-feature-tags",
        description: "registers through the IMS core without the +g.oma.sip-im feature tags in its Contact",
        breaks: &["IMS-5"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "ims-icsi-unencoded",
        description: "writes its ICSIs in +g.3gpp.icsi-ref raw (urn:urn-7:…), not percent-encoded",
        breaks: &["IMS-6"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "response-to-originator",
        description: "sends its responses to a request that came through a proxy straight to the originator (last Via), bypassing the core",
        breaks: &["IMS-7", "IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "no-record-route-copy",
        description: "its 200 to an INVITE leaves out the Record-Route the proxies added",
        breaks: &["IMS-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "conflicting-finals",
        description: "answers a MESSAGE with 200, the same 200 again, then 486 on the same transaction (same branch and To tag)",
        breaks: &["DR-1", "DR-2", "DR-4", "IMS-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "response-cseq-other-method",
        description: "its final responses to MESSAGEs carry the request's branch and CSeq number but the method OPTIONS",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4"],
        store_and_forward: true,
    },
    Fault {
        role: "im-client",
        name: "response-bad-version",
        description: "its final responses to MESSAGEs have SIP/2.1 as SIP-Version",
        breaks: &["DR-1", "DR-2", "DR-3", "DR-4", "IMS-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "ignores-path",
        description: "stores no Path at registration: sends requests straight to the contact, bypassing the core",
        breaks: &["IMS-1"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "path-without-route",
        description: "sends a MESSAGE for a user registered through the core to the Path's address but without the Path as Route, so the core routes it by Request-URI",
        breaks: &["IMS-1"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "pai-replaced-by-from",
        description: "forwards a MESSAGE with its P-Asserted-Identity replaced by the From URI (From trusted over PAI)",
        breaks: &["IMS-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "stores-from-not-pai",
        description: "delivers a stored MESSAGE with the original From as sender and no asserted identity",
        breaks: &["IMS-10", "IMS-13"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "trusts-any-pai",
        description: "honours and passes on a P-Asserted-Identity from any source, not only the core",
        breaks: &["IMS-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "refuses-untrusted-pai",
        description: "no fault: the conformant server that answers 403 to a MESSAGE carrying a P-Asserted-Identity from outside the trust domain instead of delivering it without (a variant: refusing is an acceptable answer, catalogue IMS-11)",
        breaks: &[],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "trusts-by-via",
        description: "trusts a request whose top Via names the core's address, wherever it came from: a forged Via carries a forged P-Asserted-Identity through",
        breaks: &["IMS-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "stores-untrusted-pai",
        description: "keeps the P-Asserted-Identity of a message it stores from any source and delivers it later as asserted",
        breaks: &["IMS-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "asserts-from",
        description: "forwards a MESSAGE from outside the trust domain with its unauthenticated From as P-Asserted-Identity",
        breaks: &["IMS-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "tel-distinct",
        description: "looks users up by the URI's user part as written, so tel: and sip:…;user=phone forms (and visual separators) name different users",
        breaks: &["IMS-12"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "pai-two-values-rejected",
        description: "answers 400 to a MESSAGE whose P-Asserted-Identity has a SIP and a tel value",
        breaks: &["IMS-13"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "ignores-accept-contact",
        description: "ignores Accept-Contact require;explicit: delivers to the latest IM contact even if it did not register the feature (or the push application)",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "ignores-accept-contact-oldest",
        description: "ignores Accept-Contact require;explicit: delivers to the user's oldest contact, whatever it registered",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "accept-contact-preference",
        description: "takes Accept-Contact require;explicit as a preference: when the matching contact answers an error, tries the contact that did not declare the feature",
        breaks: &["IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "fabricate-200",
        description: "answers 200 to every MESSAGE itself and drops it",
        breaks: &["DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "DEFER-2", "DEFER-7", "DEFER-9", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13", "IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "rewrite-486-to-200",
        description: "relays MESSAGE but turns the recipient's 486 into 200",
        breaks: &["DR-5", "DR-6"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "early-200",
        description: "answers 200 as soon as it forwards, before the recipient answers",
        breaks: &["DR-5", "DR-6", "DEFER-2", "DEFER-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "forward-retransmission-as-new",
        description: "forwards the originator's retransmission downstream as a new transaction",
        breaks: &["DR-4"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "store-without-delivery",
        description: "answers 202 for an offline recipient but never delivers the stored message",
        breaks: &["DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "IMS-10", "IMS-11", "IMS-13"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "store-drops-type-params",
        description: "keeps only the media type of a stored message's Content-Type: charset and other parameters are lost on delivery",
        breaks: &["DR-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "200-for-stored",
        description: "stores a message for an offline recipient but answers 200, as if delivered",
        breaks: &["DR-7", "PUSH-8", "PUSH-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "200-for-offline",
        description: "without store-and-forward, answers 200 for an unregistered recipient and drops the message",
        breaks: &["DR-6"],
        store_and_forward: false,
    },
    Fault {
        role: "im-server",
        name: "clean-without-store",
        description: "no fault: the conformant server with store-and-forward off (a variant, to run the scenarios for servers that do not store)",
        breaks: &[],
        store_and_forward: false,
    },
    Fault {
        role: "im-server",
        name: "never-answers",
        description: "drops every request, REGISTER included",
        breaks: &["DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11", "PUSH-18", "DEFER-2", "DEFER-7", "DEFER-8", "DEFER-9", "IMS-1", "IMS-9", "IMS-10", "IMS-11", "IMS-12", "IMS-13", "IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "offline-200",
        description: "answers 200 for a stored message once the recipient's push device accepted the offline notification, taking the push for delivery",
        breaks: &["PUSH-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "no-offline-notification",
        description: "stores messages for a user with a push contact but never notifies the device",
        breaks: &["PUSH-8", "PUSH-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "notification-without-feature-tag",
        description: "sends the offline notification without Accept-Contact naming the push application",
        breaks: &["PUSH-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "push-failure-drops-message",
        description: "drops the stored message when the push device refuses the offline notification",
        breaks: &["PUSH-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "im-to-push-contact",
        description: "takes a push-only contact for an IM client: forwards MESSAGEs to it instead of storing them",
        breaks: &["PUSH-8", "PUSH-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "delivers-expired",
        description: "ignores a stored MESSAGE's Expires: delivers it on registration however late",
        breaks: &["PUSH-18"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-200",
        description: "defers a MESSAGE to MMS but answers the originator 200, as if it had been delivered",
        breaks: &["DEFER-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-relays-error",
        description: "submits the MM when the MMS user's client answers 480 or 408, but still relays that error to the originator",
        breaks: &["DEFER-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-never",
        description: "answers 202 for an MMS user it cannot reach but never submits the MM",
        breaks: &["DEFER-2", "DEFER-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-only-unregistered",
        description: "defers only for MMS users who are not registered; a client's 480 or 408 is relayed and nothing is submitted",
        breaks: &["DEFER-2", "DEFER-7"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-body-altered",
        description: "submits the MM with the text's CRLF line ends turned into LF",
        breaks: &["DEFER-2"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-uri-mangled",
        description: "writes the recipient's SIP URI into the MM's To without its sip: scheme, as if it were a mailbox",
        breaks: &["DEFER-2"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-insert-address",
        description: "submits the MM with From the Insert-address token instead of the originator's SIP URI",
        breaks: &["DEFER-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-from-not-pai",
        description: "submits the MM with the MESSAGE's From as originator even when the trusted core asserted another identity",
        breaks: &["DEFER-9"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "defer-copy-after-200",
        description: "also submits an MMS copy of a MESSAGE the MMS user's client took with 200",
        breaks: &["DEFER-8"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-forwards-far-200",
        description: "passes the far end's 200 back to the sender (two responses to one SEND)",
        breaks: &["DR-18"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-waits-for-far-200",
        description: "answers the sender's SEND only when the far end has answered",
        breaks: &["DR-18"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-fabricates-success-report",
        description: "sends the sender a success REPORT of its own when the far end answers, even with an error",
        breaks: &["DR-16", "DR-19"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-drops-reports",
        description: "does not forward REPORTs",
        breaks: &["DR-19"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-alters-report",
        description: "changes the Byte-Range of the REPORTs it forwards",
        breaks: &["DR-19"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "relay-no-failure-report",
        description: "sends no failure REPORT on a downstream error or timeout",
        breaks: &["DR-16", "DR-20"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "conflicting-finals",
        description: "after each final response to a MESSAGE sends the same response again, then a different one (500 after a 2xx, 200 after an error) on the same transaction",
        breaks: &["DEFER-7", "DEFER-8", "DR-4", "DR-5", "DR-6", "DR-7", "PUSH-8", "PUSH-11"],
        store_and_forward: true,
    },
    Fault {
        role: "im-server",
        name: "forward-cseq-mismatch",
        description: "forwards a MESSAGE whose CSeq names the method INFO",
        breaks: &["DEFER-2", "DEFER-7", "DEFER-8", "DR-4", "DR-5", "DR-6", "IMS-1", "IMS-9", "IMS-11", "IMS-12", "IMS-14", "IMS-16"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "accepts-any-app",
        description: "accepts (200) a push for an application it does not serve",
        breaks: &["PUSH-7"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "no-feature-tags-advertised",
        description: "its 200 to OPTIONS has a Contact without +g.oma.pusheventapp",
        breaks: &["PUSH-7"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "200-for-unsupported-type",
        description: "accepts a push whose content type it does not take",
        breaks: &["PUSH-6"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "200-with-contact",
        description: "its 200 to a push MESSAGE carries a Contact header",
        breaks: &["PUSH-6"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "body-altered",
        description: "hands the application the content with its line ends rewritten and its trailing byte cut",
        breaks: &["PUSH-6", "PUSH-9"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "notify-not-answered",
        description: "never answers a NOTIFY of its push subscription",
        breaks: &["PUSH-9"],
        store_and_forward: true,
    },
    Fault {
        role: "push-client",
        name: "never-answers",
        description: "receives pushes, OPTIONS and NOTIFYs and never answers them",
        breaks: &["PUSH-6", "PUSH-7", "PUSH-9"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-ack-before-200",
        description: "acknowledges the SMS (ESME_ROK and DELIVRD) as soon as it sends the MESSAGE, before any answer",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-202",
        description: "reports DELIVRD when a store answers 202",
        breaks: &["DR-21"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-error",
        description: "reports an SMS delivered when the recipient answers with an error",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-timeout",
        description: "reports an SMS delivered when no final response comes",
        breaks: &["DR-23"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-rok-after-long-timer-f",
        description: "runs on a Timer F of its own three times 64·T1 (its profile declares it) and, when it fires, acknowledges ESME_ROK and reports DELIVRD",
        breaks: &["DR-23"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-second-resp",
        description: "T1 after its deliver_sm_resp, sends a second one for the same sequence number with the opposite outcome (ESME_ROK after an error, an error after ESME_ROK)",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-late-delivrd",
        description: "T1 after an SME acknowledgement that says not delivered (202, error, timeout), sends a second one for the same message saying DELIVRD",
        breaks: &["DR-21", "DR-22", "DR-23"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-wrong-receipt-id",
        description: "names the next message's id in its SME acknowledgement",
        breaks: &["DR-21", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-waits-for-imdn",
        description: "after a 200, waits for an IMDN (which never comes) before reporting DELIVRD",
        breaks: &["DR-21", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-delivered-on-first-chunk-200",
        description: "for a Large Message, reports DELIVRD on the 200 to the first chunk",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-any-report-is-success",
        description: "for a Large Message, takes any REPORT as a success REPORT, whatever its Status",
        breaks: &["DR-22"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-bad-byte-range",
        description: "sends Large Message chunks whose Byte-Range does not match their bodies",
        breaks: &["DR-21", "DR-22"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-receipt-text-delivrd",
        description: "its SME acknowledgement's text always says stat:DELIVRD; only the message_state TLV carries the real outcome",
        breaks: &["DR-21", "DR-22", "DR-23"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-gsm7-as-latin1",
        description: "reads an SMS with data_coding 0 as Latin-1 instead of the GSM 7-bit default alphabet (@ becomes NUL, € an escape and a letter)",
        breaks: &["DR-21"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-ignores-ucs2",
        description: "ignores data_coding 8 and reads a UCS-2 SMS as GSM 7-bit septets",
        breaks: &["DR-21"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "iwf-wrong-password",
        description: "binds to the SMSC with a wrong password",
        breaks: &["DR-21", "DR-22", "DR-23", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "sms-im-iwf",
        name: "tel-without-plus",
        description: "addresses the recipient as tel:<number> without the + (and no phone-context), which names no global number (RFC 3966 §5.1.4)",
        breaks: &["DR-21", "DR-22", "DR-24"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "wrong-app-id",
        description: "pushes with the X-Wap-Application-Id of another application (wml.ua; push.sia when wml.ua was asked) on every bearer",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "content-type-lost",
        description: "loses the content type: application/octet-stream in the WSP push, no Content-Type in the OTA-HTTP embedded response and the SIP MESSAGE",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "wrong-port",
        description: "sends the WDP datagram over SMS with the ports swapped (to 9200 from 2948) instead of to 2948 from 9200",
        breaks: &["PUSH-2", "PUSH-13"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "body-altered",
        description: "drops the last byte of the content on every bearer (a truncated push)",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "accept-malformed-xml",
        description: "answers 1001 (with the push-id it can make out) to a PAP document that is not well-formed XML",
        breaks: &["PUSH-14"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "bearer-after-error",
        description: "answers 2002 or 2007 as it should but pushes the content anyway (to whatever the bad address names)",
        breaks: &["PUSH-16", "PUSH-17"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "no-push-id",
        description: "its push-responses carry a push-id of its own instead of the submission's",
        breaks: &["PUSH-1", "PUSH-10"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "closes-connection",
        description: "reads the PAP submission and closes the connection without answering or pushing",
        breaks: &["PUSH-1", "PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13", "PUSH-14", "PUSH-15", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "non-xml-answer",
        description: "answers every PAP submission with HTTP 202 and a text/plain body that is not XML (it still pushes)",
        breaks: &["PUSH-1", "PUSH-10", "PUSH-14", "PUSH-15", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "accept-never-deliver",
        description: "answers 1001 and never pushes anything on any bearer",
        breaks: &["PUSH-2", "PUSH-3", "PUSH-10", "PUSH-13", "PUSH-16"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "generic-2000",
        description: "answers an address it cannot resolve with a badmessage-response 2000 instead of 2002",
        breaks: &["PUSH-15"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "duplicate-accepted",
        description: "accepts a push-id it already accepted (1001) and pushes the content again",
        breaks: &["PUSH-16"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "second-push-response",
        description: "right behind its answer to a push submission, sends a second HTTP response on the same connection with a push-response for the same push-id and the opposite result (3000 after success, 1001 after an error)",
        breaks: &["PUSH-1", "PUSH-10", "PUSH-15", "PUSH-16"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "no-ota-version",
        description: "OTA-HTTP: POSTs the content as itself (its own Content-Type, no application/http envelope) without X-Wap-Push-OTA-Version",
        breaks: &["PUSH-3"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "sip-no-feature-tag",
        description: "Push over SIP: the MESSAGE has no Accept-Contact with +g.oma.pusheventapp",
        breaks: &["PUSH-10"],
        store_and_forward: true,
    },
    Fault {
        role: "ppg",
        name: "wrong-bind-password",
        description: "binds to the SMSC with a wrong password, so the SMS bearer never comes up (pushes wait forever)",
        breaks: &["PUSH-2", "PUSH-13", "PUSH-16", "PUSH-17"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "send-uri-mangled",
        description: "percent-decodes a SIP URI the user sends an MM to (%2B becomes +) before writing it into To",
        breaks: &["ADDR-9"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "send-ignores-trigger",
        description: "answers the send trigger but never sends the MM",
        breaks: &["ADDR-9"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "ignores-sip-push",
        description: "answers a Push over SIP MESSAGE with 200 but never acts on the notification in it",
        breaks: &["DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "wrong-transaction-id",
        description: "its M-NotifyResp.ind carries a Transaction-ID other than the notification's",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "no-notifyresp",
        description: "fetches the MM but never sends M-NotifyResp.ind (nor M-Acknowledge.ind)",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "fetches-wrong-url",
        description: "fetches its configured MMSC URL instead of the notification's Content-Location (and reports the failed fetch as Deferred)",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5", "DEFER-6", "MEM-9", "PUSH-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "ack-before-fetch",
        description: "sends M-NotifyResp.ind with status Retrieved before it fetches the MM",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "ack-with-notification-tid",
        description: "deferred mode: its M-Acknowledge.ind carries the notification's Transaction-ID instead of the M-Retrieve.conf's",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "deferred-retrieval",
        description: "no fault: the conformant client in deferred mode (M-NotifyResp.ind Deferred, then the fetch and M-Acknowledge.ind), a variant to run the scenarios' deferred path",
        breaks: &[],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "rejects-sip-uri",
        description: "answers a notification whose From is a SIP URI with M-NotifyResp.ind status Unrecognised and does not fetch",
        breaks: &["ADDR-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "rejects-email-from",
        description: "answers a notification whose From is an RFC 2822 mailbox with status Unrecognised and does not fetch",
        breaks: &["ADDR-1"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "fetches-for-any-app-id",
        description: "acts on a WSP push of an M-Notification.ind whatever its X-Wap-Application-Id",
        breaks: &["PUSH-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "crashes-on-malformed",
        description: "after a notification it cannot decode, stops answering on every socket (a crash)",
        breaks: &["DEFER-6"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "fetches-malformed",
        description: "fetches whatever it can read of a malformed notification's Content-Location and reports it Retrieved",
        breaks: &["DEFER-6"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "rejected-for-malformed",
        description: "answers a malformed notification with status Rejected instead of Unrecognised",
        breaks: &["DEFER-6"],
        store_and_forward: true,
    },
    // mms-client (issue 12, items 13-17): reports judged by identity.
    Fault {
        role: "mms-client",
        name: "retrieved-without-fetch",
        description: "answers a notification with M-NotifyResp.ind status Retrieved and never fetches the MM",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5", "DEFER-6", "MEM-9", "PUSH-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "contradicts-retrieved",
        description: "after its M-NotifyResp.ind Retrieved, sends a second one with status Rejected for the same Transaction-ID 20 ms later",
        breaks: &["ADDR-1", "ADDR-5", "DEFER-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "answers-other-app-push",
        description: "answers an M-Notification.ind pushed for another application with M-NotifyResp.ind status Rejected (it fetches nothing for it)",
        breaks: &["PUSH-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "forgets-after-malformed",
        description: "after a notification it cannot act on, loses the next one and GETs a stale path on the MMSC instead of its Content-Location",
        breaks: &["DEFER-6"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-client",
        name: "fetches-twice",
        description: "no fault: the conformant client fetching each MM twice (a retry) before it reports it Retrieved",
        breaks: &[],
        store_and_forward: true,
    },
    // mms-relay (issue 5): breaks measured against the @mms-relay scenarios.
    Fault {
        role: "mms-relay",
        name: "sip-uri-rejected",
        description: "answers an M-Send.req with a SIP URI recipient Error-permanent-sending-address-unresolved, as if the address type were unknown",
        breaks: &["ADDR-2", "ADDR-3", "ADDR-7", "DEFER-1", "DEFER-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "uri-mangled",
        description: "writes SIP URI addresses back with their escapes changed: the bare form percent-decoded, the typed form in lower-case hex",
        breaks: &["ADDR-3", "ADDR-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "plmn-type-dropped",
        description: "writes MSISDN addresses back as bare numbers, without their /TYPE=PLMN suffix",
        breaks: &["ADDR-1", "MEM-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "sip-originator-dropped",
        description: "leaves From out of the notification and the retrieved MM when the originator is a SIP URI",
        breaks: &["ADDR-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "malformed-accepted",
        description: "answers Ok to an M-Send.req whose recipient it cannot resolve (a SIP URI without a host), and drops that recipient",
        breaks: &["ADDR-6"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "first-recipient-only",
        description: "notifies only the first recipient it can push to; the others never hear of the MM",
        breaks: &["ADDR-7"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "notification-wrong-bearer",
        description: "notifies MSISDNs by Push over SIP and SIP URIs by WSP push over SMS (to the digits of the user part)",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "wrong-app-id",
        description: "pushes notifications and delivery reports for wml.ua (WSP application id 2, SIP feature tag wml.ua) instead of mms.ua",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "notification-no-expiry",
        description: "leaves the mandatory X-Mms-Expiry out of M-Notification.ind",
        breaks: &["DEFER-3", "DEFER-4", "MEM-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "content-changed",
        description: "serves the retrieved MM with the last octet of its last part lost",
        breaks: &["DEFER-1", "MEM-11"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "delivery-report-early",
        description: "pushes M-Delivery.ind (Retrieved) to the originator together with the notification, before the recipient has answered",
        breaks: &["ADDR-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "delivery-report-wrong-status",
        description: "reports every answered MM as Retrieved, also one the recipient rejected",
        breaks: &["ADDR-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "wrong-message-type",
        description: "answers M-Send.req with a PDU whose X-Mms-Message-Type is m-retrieve-conf (0x84) instead of m-send-conf",
        breaks: &["ADDR-1", "ADDR-2", "ADDR-3", "ADDR-4", "ADDR-6", "ADDR-7", "ADDR-8", "DEFER-1", "DEFER-3", "DEFER-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "truncated-conf",
        description: "answers M-Send.req with an M-Send.conf cut short inside its last value",
        breaks: &["ADDR-1", "ADDR-2", "ADDR-3", "ADDR-4", "ADDR-6", "ADDR-7", "ADDR-8", "DEFER-1", "DEFER-3", "DEFER-4"],
        store_and_forward: true,
    },
    // mms-relay MM3 (issue 6): a MEM server's SMTP message mapped to an MM.
    Fault {
        role: "mms-relay",
        name: "applic-id-dropped",
        description: "MM3: leaves the Applic-ID (either spelling) out of the MM: no X-Mms-Applic-ID in the notification or the retrieved MM",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "applic-id-wrong-value",
        description: "MM3: writes the Applic-ID value in lower case (X-Mms-Applic-ID `mem`)",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "applic-id-wrong-field",
        description: "MM3: writes the Applic-ID value under field code 0xB9 (X-Mms-Aux-Applic-Info) instead of 0xB7 (a real Aux-Applic-Info of the message takes that place)",
        breaks: &["MEM-6", "MEM-7"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "x-mms-spelling-ignored",
        description: "MM3: honours only the `Applic-ID` spelling; an `X-Mms-Applic-ID` header (the MM4 form) is dropped",
        breaks: &["MEM-7"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "reply-applic-dropped",
        description: "MM3: leaves Reply-Applic-ID and Aux-Applic-Info out of the MM",
        breaks: &["MEM-13"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "payload-re-encoded",
        description: "MM3: rewrites the content's CRLF line ends as LF before it goes into the MM",
        breaks: &["MEM-11"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "header-mapping-lost",
        description: "MM3: drops the Subject and dates the MM with its arrival instead of the message's Date",
        breaks: &["MEM-5"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "message-id-lost",
        description: "MM3: gives the MM a Message-ID of its own instead of the message's",
        breaks: &["MEM-12"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "applic-id-invented",
        description: "MM3: puts X-Mms-Applic-ID MEM on every MM from mail, also on plain mail without Applic-ID",
        breaks: &["MEM-14"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "mm3-notification-wrong-app-id",
        description: "MM3: pushes the notifications of MMs from mail for wml.ua (WSP application id 2)",
        breaks: &["MEM-8"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "mm3-accepts-no-recipient",
        description: "MM3: answers 354 to DATA without an accepted recipient, then 250, and drops the message",
        breaks: &["MEM-15"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "mm3-accepts-malformed",
        description: "MM3: answers 250 to a message with a malformed header and drops it",
        breaks: &["MEM-16"],
        store_and_forward: true,
    },
    Fault {
        role: "mms-relay",
        name: "mm3-oversized-silently",
        description: "MM3: answers 250 to a message over its size limit and drops it",
        breaks: &["MEM-17"],
        store_and_forward: true,
    },
    // mms-client (issue 6): an MM for the MEM application.
    Fault {
        role: "mms-client",
        name: "applic-id-shown",
        description: "shows an MM with X-Mms-Applic-ID to the user as an ordinary MM instead of handing it to the application",
        breaks: &["MEM-9"],
        store_and_forward: true,
    },
    // mem-server (issue 6): the SMTP notification to MM3.
    Fault {
        role: "mem-server",
        name: "no-notification",
        description: "stores new mail and never notifies",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "wrong-recipient",
        description: "sends its notifications to a mail address of its own domain instead of the user's MMS address",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "applic-id-missing",
        description: "sends the notification without an Applic-ID header",
        breaks: &["MEM-2"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "applic-id-wrong-value",
        description: "sends the notification with `Applic-ID: mem` (lower case)",
        breaks: &["MEM-2"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "payload-wrong-mailbox",
        description: "its EMN payload for new mail in the user's mailbox names the other mailbox (issue 12: matched by that name, it is also a notification to the user of the other mailbox's mail, and the user's own mail goes unannounced in MEM-4)",
        breaks: &["MEM-3", "MEM-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "notifies-every-mailbox",
        description: "notifies the user of new mail in any mailbox it serves, also another user's (its EMN naming that mailbox)",
        breaks: &["MEM-4"],
        store_and_forward: true,
    },
    // mem-server (issue 12, items 18-20).
    Fault {
        role: "mem-server",
        name: "notifies-before-accepting",
        description: "notifies the user when the RCPT of new mail names the user's mailbox, before answering that RCPT (the mail not yet accepted), and not after the mail",
        breaks: &["MEM-1", "MEM-2", "MEM-3", "MEM-4"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "emn-not-well-formed",
        description: "its EMN payload has a stray </emn> end tag after the root element",
        breaks: &["MEM-3"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "emn-as-text-plain",
        description: "sends the notification as text/plain, a sentence with an <emn …/> fragment in it",
        breaks: &["MEM-3"],
        store_and_forward: true,
    },
    Fault {
        role: "mem-server",
        name: "late-notifies-every-mailbox",
        description: "notifies the user of new mail in any mailbox it serves (its EMN naming that mailbox), each notification 700 ms late",
        breaks: &["MEM-4"],
        store_and_forward: true,
    },
];

/// The roles the embedded reference implements.
pub const ROLES: &[&str] = &[
    "im-client",
    "im-server",
    "sms-im-iwf",
    "ppg",
    "push-client",
    "mms-client",
    "mms-relay",
    "mem-server",
];

/// Finds a fault by `name` or `role/name`.
pub fn find_fault(spec: &str) -> Result<&'static Fault, String> {
    let (role, name) = match spec.split_once('/') {
        Some((r, n)) => (Some(r), n),
        None => (None, spec),
    };
    let hits: Vec<&Fault> = FAULTS
        .iter()
        .filter(|f| f.name == name && role.is_none_or(|r| f.role == r))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "unknown fault `{spec}`; known: {}",
            FAULTS
                .iter()
                .map(|f| format!("{}/{}", f.role, f.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err(format!("fault `{spec}` is ambiguous; write ROLE/NAME")),
    }
}

/// Settings common to the reference roles.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fault: Option<&'static str>,
    pub t1: Duration,
    /// im-server: the domain it serves.
    pub domain: String,
    /// im-server: store MESSAGEs for unregistered users.
    pub store_and_forward: bool,
    /// sms-im-iwf: the SMSC and IMS core to use.
    pub iwf: Option<sms_iwf::IwfConfig>,
    /// ppg: the bearers (the harness) it pushes to.
    pub ppg: Option<ppg::PpgConfig>,
    /// push-client: the push agent it subscribes to and the upper tester it
    /// reports hand-overs to (both optional).
    pub push_client: Option<push_client::PushClientConfig>,
    /// mms-client: the MMSC (the harness) it is configured with.
    pub mms_client: Option<mms_client::MmsClientConfig>,
    /// mms-relay: the bearers (the harness) it notifies over.
    pub mms_relay: Option<mms_relay::MmsRelayConfig>,
    /// im-server: the MMS Relay/Server (the harness) it defers messages to.
    pub deferral: Option<im_server::DeferralConfig>,
    /// mem-server: the MM3 interface (the harness) it notifies and its mailboxes.
    pub mem_server: Option<mem_server::MemServerConfig>,
    /// im-client: register through this IMS core; im-server: trust
    /// P-Asserted-Identity from this core's IP only.
    pub ims: Option<ImsConfig>,
}

/// The IMS core a reference role works with.
#[derive(Debug, Clone)]
pub struct ImsConfig {
    /// The core's SIP address (its IP is the one trusted source).
    pub core: SocketAddr,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            fault: None,
            t1: Duration::from_millis(50),
            domain: "liaison.test".into(),
            store_and_forward: true,
            iwf: None,
            ppg: None,
            push_client: None,
            mms_client: None,
            mms_relay: None,
            deferral: None,
            mem_server: None,
            ims: None,
        }
    }
}

impl Settings {
    pub fn has_fault(&self, name: &str) -> bool {
        self.fault == Some(name)
    }
}

/// A running reference role.
pub struct Running {
    pub role: &'static str,
    pub address: SocketAddr,
    /// im-server: its MSRP relay address.
    pub msrp: Option<SocketAddr>,
    /// mms-relay: its MM3 (SMTP) address.
    pub mm3: Option<SocketAddr>,
    /// mms-client: where it takes send triggers (HTTP).
    pub send_trigger: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn new(
        role: &'static str,
        address: SocketAddr,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    ) -> Running {
        Running {
            role,
            address,
            msrp: None,
            mm3: None,
            send_trigger: None,
            tasks,
        }
    }

    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a reference role on `listen` (port 0 picks a free port; UDP and
/// TCP share the port).
pub async fn start(role: &str, listen: SocketAddr, settings: Settings) -> std::io::Result<Running> {
    if role == "sms-im-iwf" {
        let cfg = settings.iwf.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "sms-im-iwf needs the SMSC and IMS core addresses",
            )
        })?;
        let (address, tasks) = sms_iwf::start(listen.ip(), cfg, settings).await?;
        return Ok(Running::new("sms-im-iwf", address, tasks));
    }
    if role == "ppg" {
        let cfg = settings.ppg.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "ppg needs the SMSC, OTA-HTTP and SIP push target addresses",
            )
        })?;
        let (address, tasks) = ppg::start(listen.ip(), cfg, settings).await?;
        return Ok(Running::new("ppg", address, tasks));
    }
    if role == "mms-client" {
        let cfg = settings.mms_client.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mms-client needs the MMSC URL it is configured with",
            )
        })?;
        let (address, trigger, tasks) = mms_client::start(listen, cfg, settings).await?;
        let mut r = Running::new("mms-client", address, tasks);
        r.send_trigger = Some(trigger);
        return Ok(r);
    }
    if role == "mms-relay" {
        let cfg = settings.mms_relay.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mms-relay needs the SMSC and SIP device addresses",
            )
        })?;
        let (address, mm3, tasks) = mms_relay::start_with_mm3(listen, cfg, settings).await?;
        let mut r = Running::new("mms-relay", address, tasks);
        r.mm3 = Some(mm3);
        return Ok(r);
    }
    if role == "mem-server" {
        let cfg = settings.mem_server.clone().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "mem-server needs the MM3 address it notifies and its mailboxes",
            )
        })?;
        let (address, tasks) = mem_server::start(listen, cfg, settings).await?;
        return Ok(Running::new("mem-server", address, tasks));
    }
    let (udp, tcp) = bind_pair(listen.ip(), listen.port()).await?;
    let address = udp.local_addr()?;
    let mut msrp = None;
    let tasks = match role {
        "im-client" => {
            let msrp = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
            im_client::start(udp, tcp, msrp, settings)
        }
        "im-server" => {
            let relay = TcpListener::bind(SocketAddr::new(listen.ip(), 0)).await?;
            msrp = Some(relay.local_addr()?);
            let mut t = msrp_relay::start(relay, settings.clone());
            t.extend(im_server::start(udp, tcp, settings));
            t
        }
        "push-client" => push_client::start(udp, tcp, settings),
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the embedded reference has no role `{other}` yet"),
            ))
        }
    };
    let mut r = Running::new(
        ROLES.iter().find(|r| **r == role).copied().unwrap_or("?"),
        address,
        tasks,
    );
    r.msrp = msrp;
    Ok(r)
}

/// Binds UDP and TCP on the same port (retrying when port 0 picks a port
/// whose TCP side is taken).
async fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
        let p = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(ip, p)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if port == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("could not bind UDP and TCP on one port")))
}

/// Rebuilds a SIP message from a start line, headers and an exact body.
pub(crate) fn rebuild(start: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// The host:port of a SIP URI (`sip:user@127.0.0.1:5070;transport=tcp`).
pub(crate) fn uri_socket_addr(uri: &str) -> Option<(SocketAddr, bool)> {
    let rest = uri.split_once(':')?.1;
    let hostport = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let (hostport, params) = hostport.split_once(';').unwrap_or((hostport, ""));
    let tcp = params.to_ascii_lowercase().contains("transport=tcp");
    let addr = hostport.trim_end_matches('>').parse().ok()?;
    Some((addr, tcp))
}

/// Reads a framed SIP stream from a TCP connection, calling `on_msg` per
/// message; bounded buffer, stops on garbage.
pub(crate) async fn read_stream<F>(mut rd: tokio::net::tcp::OwnedReadHalf, mut on_msg: F)
where
    F: FnMut(Vec<u8>),
{
    use crate::codec::sip::{next_frame, Frame};
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match next_frame(&buf, 256 * 1024) {
                Ok(None) => break,
                Ok(Some(Frame::KeepAlive(k))) => {
                    buf.drain(..k.min(buf.len()));
                }
                Ok(Some(Frame::Message(len))) => {
                    let len = len.min(buf.len());
                    on_msg(buf.drain(..len).collect());
                }
                Err(_) => return,
            }
        }
    }
}

/// One HTTP exchange on its own TCP connection, bounded by `bound` as a
/// whole: the response, when a whole one came (framed by Content-Length,
/// chunked, or the close). The reference's HTTP client side (OTA-HTTP
/// pushes, MM1 POSTs and GETs).
pub(crate) async fn http_exchange(
    addr: SocketAddr,
    req: &[u8],
    bound: Duration,
) -> Option<crate::codec::http::HttpMessage> {
    use crate::codec::http::{self, HttpMessage};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let end = tokio::time::Instant::now() + bound;
    let mut stream = tokio::time::timeout_at(end, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    tokio::time::timeout_at(end, stream.write_all(req))
        .await
        .ok()?
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match http::next_frame(&buf, 4 << 20) {
            Ok(Some(n)) => return HttpMessage::parse(buf.get(..n)?).ok(),
            Ok(None) => {}
            Err(_) => return None,
        }
        let n = tokio::time::timeout_at(end, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return HttpMessage::parse_at_close(&buf).ok();
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// (address, path) of an `http://IP:PORT/PATH` URL on loopback.
pub(crate) fn http_url_parts(url: &str) -> Option<(SocketAddr, String)> {
    crate::codec::http::url_parts(url).filter(|(a, _)| a.ip().is_loopback())
}
