//! SMPP 3.4 codec (Short Message Peer to Peer Protocol Specification v3.4, Issue
//! 1.2, 12 October 1999), sans-IO.
//!
//! In liaison the harness plays the SMSC: the SUT (an SMS–IM interworking function,
//! later a PPG) binds to it as an ESME. The harness sends `deliver_sm` (a
//! mobile-originated SMS) and receives `submit_sm`, `deliver_sm` receipts and
//! responses. So, as in [`super::sip`], the reader keeps the exact bytes
//! ([`Pdu::raw`]), answers every malformed input with a precise [`SmppError`] and never
//! panics; writers produce exact bytes and never validate, because tests need to send
//! wrong PDUs too. For every PDU [`Pdu::parse`] accepts, [`Pdu::encode`] gives the
//! input back byte for byte.
//!
//! Scope: every SMPP 3.4 command_id is named (§5.1.2); the bodies of the bind family,
//! `submit_sm`, `deliver_sm`, their responses, `enquire_link`, `unbind` and
//! `generic_nack` are decoded. Any other body (`data_sm`, `query_sm`, …, or an unknown
//! command_id) is kept as [`Body::Unknown`]. TLVs (§3.1, §5.3) are kept in order,
//! duplicates and unknown tags included.
//!
//! Not `rusmpp` 0.4: it does not panic and keeps unknown TLVs, but it silently drops
//! bytes after an `enquire_link` header, rejects any non-ASCII C-octet string outright,
//! keeps no raw bytes, reports errors without field or offset, and weighs ~27k lines
//! plus two proc-macro crates (tokio-util by default) for a 5.0-typed model.
//!
//! C-octet strings (§3.1) are mapped byte for char to U+0000..=U+00FF (ISO 8859-1), so
//! any byte round-trips; a char above U+00FF is written as its UTF-8 bytes.

use super::escape_bytes;
use std::fmt;

/// How many bytes of offending input an error's `Display` shows.
const SHOW: usize = 64;

/// Length of the PDU header (§3.2: command_length, command_id, command_status,
/// sequence_number, four octets each, big-endian).
pub const HEADER_LEN: usize = 16;

/// command_id values, SMPP 3.4 §5.1.2 (Table 5-1). A response is its request's id
/// with bit 31 set ([`RESP`](command::RESP)).
pub mod command {
    pub const RESP: u32 = 0x8000_0000;
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const QUERY_SM: u32 = 0x0000_0003;
    pub const QUERY_SM_RESP: u32 = 0x8000_0003;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const REPLACE_SM: u32 = 0x0000_0007;
    pub const REPLACE_SM_RESP: u32 = 0x8000_0007;
    pub const CANCEL_SM: u32 = 0x0000_0008;
    pub const CANCEL_SM_RESP: u32 = 0x8000_0008;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const OUTBIND: u32 = 0x0000_000B;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    pub const SUBMIT_MULTI: u32 = 0x0000_0021;
    pub const SUBMIT_MULTI_RESP: u32 = 0x8000_0021;
    pub const ALERT_NOTIFICATION: u32 = 0x0000_0102;
    pub const DATA_SM: u32 = 0x0000_0103;
    pub const DATA_SM_RESP: u32 = 0x8000_0103;

    /// The SMPP name of a command_id (`"submit_sm"`, `"deliver_sm_resp"`), or
    /// `"unknown"`.
    pub fn name(id: u32) -> &'static str {
        match id {
            GENERIC_NACK => "generic_nack",
            BIND_RECEIVER => "bind_receiver",
            BIND_RECEIVER_RESP => "bind_receiver_resp",
            BIND_TRANSMITTER => "bind_transmitter",
            BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
            QUERY_SM => "query_sm",
            QUERY_SM_RESP => "query_sm_resp",
            SUBMIT_SM => "submit_sm",
            SUBMIT_SM_RESP => "submit_sm_resp",
            DELIVER_SM => "deliver_sm",
            DELIVER_SM_RESP => "deliver_sm_resp",
            UNBIND => "unbind",
            UNBIND_RESP => "unbind_resp",
            REPLACE_SM => "replace_sm",
            REPLACE_SM_RESP => "replace_sm_resp",
            CANCEL_SM => "cancel_sm",
            CANCEL_SM_RESP => "cancel_sm_resp",
            BIND_TRANSCEIVER => "bind_transceiver",
            BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
            OUTBIND => "outbind",
            ENQUIRE_LINK => "enquire_link",
            ENQUIRE_LINK_RESP => "enquire_link_resp",
            SUBMIT_MULTI => "submit_multi",
            SUBMIT_MULTI_RESP => "submit_multi_resp",
            ALERT_NOTIFICATION => "alert_notification",
            DATA_SM => "data_sm",
            DATA_SM_RESP => "data_sm_resp",
            _ => "unknown",
        }
    }
}

/// command_status values, SMPP 3.4 §5.1.3 (Table 5-2). 0x400..=0x4FF are reserved
/// for SMSC vendors.
pub mod status {
    pub const ESME_ROK: u32 = 0x00;
    pub const ESME_RINVMSGLEN: u32 = 0x01;
    pub const ESME_RINVCMDLEN: u32 = 0x02;
    pub const ESME_RINVCMDID: u32 = 0x03;
    pub const ESME_RINVBNDSTS: u32 = 0x04;
    pub const ESME_RALYBND: u32 = 0x05;
    pub const ESME_RINVPRTFLG: u32 = 0x06;
    pub const ESME_RINVREGDLVFLG: u32 = 0x07;
    pub const ESME_RSYSERR: u32 = 0x08;
    pub const ESME_RINVSRCADR: u32 = 0x0A;
    pub const ESME_RINVDSTADR: u32 = 0x0B;
    pub const ESME_RINVMSGID: u32 = 0x0C;
    pub const ESME_RBINDFAIL: u32 = 0x0D;
    pub const ESME_RINVPASWD: u32 = 0x0E;
    pub const ESME_RINVSYSID: u32 = 0x0F;
    pub const ESME_RCANCELFAIL: u32 = 0x11;
    pub const ESME_RREPLACEFAIL: u32 = 0x13;
    pub const ESME_RMSGQFUL: u32 = 0x14;
    pub const ESME_RINVSERTYP: u32 = 0x15;
    pub const ESME_RINVNUMDESTS: u32 = 0x33;
    pub const ESME_RINVDLNAME: u32 = 0x34;
    pub const ESME_RINVDESTFLAG: u32 = 0x40;
    pub const ESME_RINVSUBREP: u32 = 0x42;
    pub const ESME_RINVESMCLASS: u32 = 0x43;
    pub const ESME_RCNTSUBDL: u32 = 0x44;
    pub const ESME_RSUBMITFAIL: u32 = 0x45;
    pub const ESME_RINVSRCTON: u32 = 0x48;
    pub const ESME_RINVSRCNPI: u32 = 0x49;
    pub const ESME_RINVDSTTON: u32 = 0x50;
    pub const ESME_RINVDSTNPI: u32 = 0x51;
    pub const ESME_RINVSYSTYP: u32 = 0x53;
    pub const ESME_RINVREPFLAG: u32 = 0x54;
    pub const ESME_RINVNUMMSGS: u32 = 0x55;
    pub const ESME_RTHROTTLED: u32 = 0x58;
    pub const ESME_RINVSCHED: u32 = 0x61;
    pub const ESME_RINVEXPIRY: u32 = 0x62;
    pub const ESME_RINVDFTMSGID: u32 = 0x63;
    pub const ESME_RX_T_APPN: u32 = 0x64;
    pub const ESME_RX_P_APPN: u32 = 0x65;
    pub const ESME_RX_R_APPN: u32 = 0x66;
    pub const ESME_RQUERYFAIL: u32 = 0x67;
    pub const ESME_RINVOPTPARSTREAM: u32 = 0xC0;
    pub const ESME_ROPTPARNOTALLWD: u32 = 0xC1;
    pub const ESME_RINVPARLEN: u32 = 0xC2;
    pub const ESME_RMISSINGOPTPARAM: u32 = 0xC3;
    pub const ESME_RINVOPTPARAMVAL: u32 = 0xC4;
    pub const ESME_RDELIVERYFAILURE: u32 = 0xFE;
    pub const ESME_RUNKNOWNERR: u32 = 0xFF;

    /// The Table 5-2 name (`"ESME_RTHROTTLED"`), `"vendor-specific"` for
    /// 0x400..=0x4FF, otherwise `"unknown"`.
    pub fn name(status: u32) -> &'static str {
        match status {
            ESME_ROK => "ESME_ROK",
            ESME_RINVMSGLEN => "ESME_RINVMSGLEN",
            ESME_RINVCMDLEN => "ESME_RINVCMDLEN",
            ESME_RINVCMDID => "ESME_RINVCMDID",
            ESME_RINVBNDSTS => "ESME_RINVBNDSTS",
            ESME_RALYBND => "ESME_RALYBND",
            ESME_RINVPRTFLG => "ESME_RINVPRTFLG",
            ESME_RINVREGDLVFLG => "ESME_RINVREGDLVFLG",
            ESME_RSYSERR => "ESME_RSYSERR",
            ESME_RINVSRCADR => "ESME_RINVSRCADR",
            ESME_RINVDSTADR => "ESME_RINVDSTADR",
            ESME_RINVMSGID => "ESME_RINVMSGID",
            ESME_RBINDFAIL => "ESME_RBINDFAIL",
            ESME_RINVPASWD => "ESME_RINVPASWD",
            ESME_RINVSYSID => "ESME_RINVSYSID",
            ESME_RCANCELFAIL => "ESME_RCANCELFAIL",
            ESME_RREPLACEFAIL => "ESME_RREPLACEFAIL",
            ESME_RMSGQFUL => "ESME_RMSGQFUL",
            ESME_RINVSERTYP => "ESME_RINVSERTYP",
            ESME_RINVNUMDESTS => "ESME_RINVNUMDESTS",
            ESME_RINVDLNAME => "ESME_RINVDLNAME",
            ESME_RINVDESTFLAG => "ESME_RINVDESTFLAG",
            ESME_RINVSUBREP => "ESME_RINVSUBREP",
            ESME_RINVESMCLASS => "ESME_RINVESMCLASS",
            ESME_RCNTSUBDL => "ESME_RCNTSUBDL",
            ESME_RSUBMITFAIL => "ESME_RSUBMITFAIL",
            ESME_RINVSRCTON => "ESME_RINVSRCTON",
            ESME_RINVSRCNPI => "ESME_RINVSRCNPI",
            ESME_RINVDSTTON => "ESME_RINVDSTTON",
            ESME_RINVDSTNPI => "ESME_RINVDSTNPI",
            ESME_RINVSYSTYP => "ESME_RINVSYSTYP",
            ESME_RINVREPFLAG => "ESME_RINVREPFLAG",
            ESME_RINVNUMMSGS => "ESME_RINVNUMMSGS",
            ESME_RTHROTTLED => "ESME_RTHROTTLED",
            ESME_RINVSCHED => "ESME_RINVSCHED",
            ESME_RINVEXPIRY => "ESME_RINVEXPIRY",
            ESME_RINVDFTMSGID => "ESME_RINVDFTMSGID",
            ESME_RX_T_APPN => "ESME_RX_T_APPN",
            ESME_RX_P_APPN => "ESME_RX_P_APPN",
            ESME_RX_R_APPN => "ESME_RX_R_APPN",
            ESME_RQUERYFAIL => "ESME_RQUERYFAIL",
            ESME_RINVOPTPARSTREAM => "ESME_RINVOPTPARSTREAM",
            ESME_ROPTPARNOTALLWD => "ESME_ROPTPARNOTALLWD",
            ESME_RINVPARLEN => "ESME_RINVPARLEN",
            ESME_RMISSINGOPTPARAM => "ESME_RMISSINGOPTPARAM",
            ESME_RINVOPTPARAMVAL => "ESME_RINVOPTPARAMVAL",
            ESME_RDELIVERYFAILURE => "ESME_RDELIVERYFAILURE",
            ESME_RUNKNOWNERR => "ESME_RUNKNOWNERR",
            0x400..=0x4FF => "vendor-specific",
            _ => "unknown",
        }
    }
}

/// The Table 5-2 name of a command_status; see [`status::name`].
pub fn status_name(status: u32) -> &'static str {
    status::name(status)
}

/// TLV tags of SMPP 3.4 §5.3.2 (Table 5-3 gives the whole list).
pub mod tlv {
    pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
    pub const DEST_NETWORK_TYPE: u16 = 0x0006;
    pub const DEST_BEARER_TYPE: u16 = 0x0007;
    pub const DEST_TELEMATICS_ID: u16 = 0x0008;
    pub const SOURCE_ADDR_SUBUNIT: u16 = 0x000D;
    pub const SOURCE_NETWORK_TYPE: u16 = 0x000E;
    pub const SOURCE_BEARER_TYPE: u16 = 0x000F;
    pub const SOURCE_TELEMATICS_ID: u16 = 0x0010;
    pub const QOS_TIME_TO_LIVE: u16 = 0x0017;
    pub const PAYLOAD_TYPE: u16 = 0x0019;
    pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
    /// C-octet string, max 65 octets with the NUL: the SMSC message_id a receipt is for.
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
    pub const PRIVACY_INDICATOR: u16 = 0x0201;
    pub const SOURCE_SUBADDRESS: u16 = 0x0202;
    pub const DEST_SUBADDRESS: u16 = 0x0203;
    /// Integer, 2 octets: the ESME's own reference for a message.
    pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
    pub const USER_RESPONSE_CODE: u16 = 0x0205;
    pub const SOURCE_PORT: u16 = 0x020A;
    pub const DESTINATION_PORT: u16 = 0x020B;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const LANGUAGE_INDICATOR: u16 = 0x020D;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    /// Integer, 1 octet, in a bind response: the SMSC's SMPP version (0x34).
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
    pub const CALLBACK_NUM_PRES_IND: u16 = 0x0302;
    pub const CALLBACK_NUM_ATAG: u16 = 0x0303;
    pub const NUMBER_OF_MESSAGES: u16 = 0x0304;
    pub const CALLBACK_NUM: u16 = 0x0381;
    pub const DPF_RESULT: u16 = 0x0420;
    pub const SET_DPF: u16 = 0x0421;
    pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
    /// 3 octets: network type (1 ANSI-136, 2 IS-95, 3 GSM, …) and a 2-octet error code.
    pub const NETWORK_ERROR_CODE: u16 = 0x0423;
    /// Octet string, up to 64K: message text instead of short_message (then sm_length 0).
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
    pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
    /// Integer, 1 octet: see [`super::state`].
    pub const MESSAGE_STATE: u16 = 0x0427;
    pub const USSD_SERVICE_OP: u16 = 0x0501;
    pub const DISPLAY_TIME: u16 = 0x1201;
    pub const SMS_SIGNAL: u16 = 0x1203;
    pub const MS_VALIDITY: u16 = 0x1204;
    pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
    pub const ITS_REPLY_TYPE: u16 = 0x1380;
    pub const ITS_SESSION_INFO: u16 = 0x1383;

    /// The §5.3.2 name of a tag (`"message_state"`), or `"unknown"`.
    pub fn name(tag: u16) -> &'static str {
        match tag {
            DEST_ADDR_SUBUNIT => "dest_addr_subunit",
            DEST_NETWORK_TYPE => "dest_network_type",
            DEST_BEARER_TYPE => "dest_bearer_type",
            DEST_TELEMATICS_ID => "dest_telematics_id",
            SOURCE_ADDR_SUBUNIT => "source_addr_subunit",
            SOURCE_NETWORK_TYPE => "source_network_type",
            SOURCE_BEARER_TYPE => "source_bearer_type",
            SOURCE_TELEMATICS_ID => "source_telematics_id",
            QOS_TIME_TO_LIVE => "qos_time_to_live",
            PAYLOAD_TYPE => "payload_type",
            ADDITIONAL_STATUS_INFO_TEXT => "additional_status_info_text",
            RECEIPTED_MESSAGE_ID => "receipted_message_id",
            MS_MSG_WAIT_FACILITIES => "ms_msg_wait_facilities",
            PRIVACY_INDICATOR => "privacy_indicator",
            SOURCE_SUBADDRESS => "source_subaddress",
            DEST_SUBADDRESS => "dest_subaddress",
            USER_MESSAGE_REFERENCE => "user_message_reference",
            USER_RESPONSE_CODE => "user_response_code",
            SOURCE_PORT => "source_port",
            DESTINATION_PORT => "destination_port",
            SAR_MSG_REF_NUM => "sar_msg_ref_num",
            LANGUAGE_INDICATOR => "language_indicator",
            SAR_TOTAL_SEGMENTS => "sar_total_segments",
            SAR_SEGMENT_SEQNUM => "sar_segment_seqnum",
            SC_INTERFACE_VERSION => "sc_interface_version",
            CALLBACK_NUM_PRES_IND => "callback_num_pres_ind",
            CALLBACK_NUM_ATAG => "callback_num_atag",
            NUMBER_OF_MESSAGES => "number_of_messages",
            CALLBACK_NUM => "callback_num",
            DPF_RESULT => "dpf_result",
            SET_DPF => "set_dpf",
            MS_AVAILABILITY_STATUS => "ms_availability_status",
            NETWORK_ERROR_CODE => "network_error_code",
            MESSAGE_PAYLOAD => "message_payload",
            DELIVERY_FAILURE_REASON => "delivery_failure_reason",
            MORE_MESSAGES_TO_SEND => "more_messages_to_send",
            MESSAGE_STATE => "message_state",
            USSD_SERVICE_OP => "ussd_service_op",
            DISPLAY_TIME => "display_time",
            SMS_SIGNAL => "sms_signal",
            MS_VALIDITY => "ms_validity",
            ALERT_ON_MESSAGE_DELIVERY => "alert_on_message_delivery",
            ITS_REPLY_TYPE => "its_reply_type",
            ITS_SESSION_INFO => "its_session_info",
            _ => "unknown",
        }
    }
}

/// message_state values, SMPP 3.4 §5.2.28 (used in the `message_state` TLV and by
/// `query_sm_resp`), and the de-facto receipt `stat:` words of Appendix B.
pub mod state {
    pub const ENROUTE: u8 = 1;
    pub const DELIVERED: u8 = 2;
    pub const EXPIRED: u8 = 3;
    pub const DELETED: u8 = 4;
    pub const UNDELIVERABLE: u8 = 5;
    pub const ACCEPTED: u8 = 6;
    pub const UNKNOWN: u8 = 7;
    pub const REJECTED: u8 = 8;

    /// `"DELIVERED"`, … or `"unknown"` outside 1..=8.
    pub fn name(state: u8) -> &'static str {
        match state {
            ENROUTE => "ENROUTE",
            DELIVERED => "DELIVERED",
            EXPIRED => "EXPIRED",
            DELETED => "DELETED",
            UNDELIVERABLE => "UNDELIVERABLE",
            ACCEPTED => "ACCEPTED",
            UNKNOWN => "UNKNOWN",
            REJECTED => "REJECTED",
            _ => "unknown",
        }
    }

    /// The seven-letter receipt word (Appendix B): `DELIVRD`, `UNDELIV`, …; None
    /// outside 1..=8.
    pub fn stat(state: u8) -> Option<&'static str> {
        Some(match state {
            ENROUTE => "ENROUTE",
            DELIVERED => "DELIVRD",
            EXPIRED => "EXPIRED",
            DELETED => "DELETED",
            UNDELIVERABLE => "UNDELIV",
            ACCEPTED => "ACCEPTD",
            UNKNOWN => "UNKNOWN",
            REJECTED => "REJECTD",
            _ => return None,
        })
    }

    /// The state a receipt word stands for, case-insensitively. Besides the
    /// Appendix B words, the full state names (`DELIVERED`, `UNDELIVERABLE`, …) are
    /// accepted, as some SMSCs write them.
    pub fn from_stat(word: &str) -> Option<u8> {
        let w = word.trim().to_ascii_uppercase();
        Some(match w.as_str() {
            "ENROUTE" => ENROUTE,
            "DELIVRD" | "DELIVERED" => DELIVERED,
            "EXPIRED" => EXPIRED,
            "DELETED" => DELETED,
            "UNDELIV" | "UNDELIVERABLE" => UNDELIVERABLE,
            "ACCEPTD" | "ACCEPTED" => ACCEPTED,
            "UNKNOWN" => UNKNOWN,
            "REJECTD" | "REJECTED" => REJECTED,
            _ => return None,
        })
    }
}

/// esm_class bits, SMPP 3.4 §5.2.12. Bits 1-0 are the messaging mode, bits 5-2 the
/// message type (an enumeration, not flags), bits 7-6 GSM network features.
pub mod esm {
    pub const MODE_MASK: u8 = 0x03;
    pub const MODE_DEFAULT: u8 = 0x00;
    pub const MODE_DATAGRAM: u8 = 0x01;
    pub const MODE_FORWARD: u8 = 0x02;
    pub const MODE_STORE_AND_FORWARD: u8 = 0x03;
    pub const TYPE_MASK: u8 = 0x3C;
    pub const TYPE_DEFAULT: u8 = 0x00;
    /// deliver_sm only: SMSC Delivery Receipt (xx0001xx).
    pub const TYPE_SMSC_DELIVERY_RECEIPT: u8 = 0x04;
    /// SME Delivery Acknowledgement (xx0010xx; in submit_sm: ESME Delivery Ack).
    pub const TYPE_DELIVERY_ACK: u8 = 0x08;
    /// SME Manual/User Acknowledgement (xx0100xx).
    pub const TYPE_MANUAL_ACK: u8 = 0x10;
    /// deliver_sm only: Conversation Abort (Korean CDMA, xx0110xx).
    pub const TYPE_CONVERSATION_ABORT: u8 = 0x18;
    /// deliver_sm only: Intermediate Delivery Notification (xx1000xx).
    pub const TYPE_INTERMEDIATE_NOTIFICATION: u8 = 0x20;
    /// UDHI: short_message starts with a user data header (TS 23.040 §9.2.3.24).
    pub const UDHI: u8 = 0x40;
    pub const REPLY_PATH: u8 = 0x80;

    /// Bits 5-2 of esm_class.
    pub fn message_type(esm_class: u8) -> u8 {
        esm_class & TYPE_MASK
    }
}

/// registered_delivery bits, SMPP 3.4 §5.2.17.
pub mod registered {
    pub const RECEIPT_MASK: u8 = 0x03;
    pub const NO_RECEIPT: u8 = 0x00;
    /// An SMSC delivery receipt on final outcome, success or failure.
    pub const RECEIPT_ALWAYS: u8 = 0x01;
    pub const RECEIPT_ON_FAILURE: u8 = 0x02;
    pub const SME_ACK_MASK: u8 = 0x0C;
    pub const INTERMEDIATE_NOTIFICATION: u8 = 0x10;
}

/// data_coding values, SMPP 3.4 §5.2.19.
pub mod dcs {
    pub const SMSC_DEFAULT: u8 = 0x00;
    pub const IA5: u8 = 0x01;
    pub const OCTET_UNSPECIFIED_2: u8 = 0x02;
    pub const LATIN1: u8 = 0x03;
    /// 8-bit binary, as WAP push over SMS uses.
    pub const OCTET_UNSPECIFIED: u8 = 0x04;
    pub const JIS: u8 = 0x05;
    pub const CYRILLIC: u8 = 0x06;
    pub const LATIN_HEBREW: u8 = 0x07;
    pub const UCS2: u8 = 0x08;
}

/// Field limits of SMPP 3.4 §4, in octets including the NUL of a C-octet string.
pub mod limits {
    pub const SYSTEM_ID: usize = 16;
    pub const PASSWORD: usize = 9;
    pub const SYSTEM_TYPE: usize = 13;
    pub const ADDRESS_RANGE: usize = 41;
    pub const SERVICE_TYPE: usize = 6;
    pub const ADDR: usize = 21;
    /// schedule_delivery_time, validity_period: NULL or 16 characters plus NUL.
    pub const TIME: usize = 17;
    pub const MESSAGE_ID: usize = 65;
    pub const SHORT_MESSAGE: usize = 254;
}

/// The PDU header, SMPP 3.4 §3.2 and §5.1. `command_length` is as received (or as
/// computed when encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
}

/// One optional parameter (§3.1 TLV): 2-octet tag, 2-octet length, value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn new(tag: u16, value: &[u8]) -> Tlv {
        Tlv {
            tag,
            value: value.to_vec(),
        }
    }

    /// A TLV whose value is a C-octet string: `text` and a NUL.
    pub fn cstring(tag: u16, text: &str) -> Tlv {
        let mut value = Vec::with_capacity(text.len() + 1);
        put_cstring(&mut value, text);
        Tlv { tag, value }
    }
}

/// The body of bind_transmitter, bind_receiver and bind_transceiver (§4.1.1,
/// §4.1.3, §4.1.5; identical layouts, no TLVs in 3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    /// §5.2.4: 0x34 for SMPP 3.4 (0x00..=0x33 mean 3.3 or earlier).
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

impl Default for Bind {
    fn default() -> Bind {
        Bind {
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: String::new(),
        }
    }
}

/// The shared body of submit_sm (§4.4.1) and deliver_sm (§4.6.1): 17 mandatory
/// fields (sm_length is implied by `short_message`), then TLVs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sm {
    pub service_type: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: String,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

impl Sm {
    /// The first TLV with this tag.
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        find_tlv(&self.tlvs, tag)
    }

    /// esm_class has UDHI (0x40): short_message starts with a user data header.
    pub fn udhi(&self) -> bool {
        self.esm_class & esm::UDHI != 0
    }

    /// The `receipted_message_id` TLV as text, up to its first NUL (a missing NUL
    /// is tolerated).
    pub fn receipted_message_id(&self) -> Option<String> {
        let v = self.tlv(tlv::RECEIPTED_MESSAGE_ID)?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        Some(latin1(v.get(..end).unwrap_or_default()))
    }

    /// The `message_state` TLV when it is one octet, as §5.3.2 defines it.
    pub fn message_state(&self) -> Option<u8> {
        match self.tlv(tlv::MESSAGE_STATE)? {
            [state] => Some(*state),
            _ => None,
        }
    }

    /// The message text: short_message, or the `message_payload` TLV when
    /// short_message is empty (§5.3.2: they are exclusive).
    pub fn payload(&self) -> &[u8] {
        if self.short_message.is_empty()
            && let Some(p) = self.tlv(tlv::MESSAGE_PAYLOAD)
        {
            return p;
        }
        &self.short_message
    }

    /// The receipt text of an SMSC delivery receipt ([`is_receipt`]), parsed from
    /// [`Sm::payload`]; None for other messages or unreadable text.
    pub fn receipt(&self) -> Option<Receipt> {
        if !is_receipt(self.esm_class) {
            return None;
        }
        Receipt::parse(self.payload())
    }

    /// The receipt text of an SMSC delivery receipt or of an SME delivery
    /// acknowledgement (esm_class message type 0x04 or 0x08, §5.2.12): both
    /// carry the Appendix B text the receiving SME shows. None for other
    /// messages or unreadable text.
    pub fn report_text(&self) -> Option<Receipt> {
        match esm::message_type(self.esm_class) {
            esm::TYPE_SMSC_DELIVERY_RECEIPT | esm::TYPE_DELIVERY_ACK => {
                Receipt::parse(self.payload())
            }
            _ => None,
        }
    }
}

/// A decoded body. Which variant a PDU gets depends only on its command_id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// bind_transmitter, bind_receiver, bind_transceiver.
    Bind(Bind),
    /// The three bind responses (§4.1.2, §4.1.4, §4.1.6): system_id, then TLVs
    /// (sc_interface_version).
    BindResp {
        system_id: String,
        tlvs: Vec<Tlv>,
    },
    SubmitSm(Sm),
    /// §4.4.2: message_id (a 3.4 submit_sm_resp has no TLVs).
    SubmitSmResp {
        message_id: String,
    },
    DeliverSm(Sm),
    /// §4.6.2: message_id, "unused and set to NULL" (accepted up to 65 octets so
    /// that a scenario can judge it rather than lose the PDU).
    DeliverSmResp {
        message_id: String,
    },
    /// No body: enquire_link(_resp), unbind(_resp), generic_nack; and a bind,
    /// submit_sm or deliver_sm response that came without one (§4.1.2 and §4.4.2 say
    /// the body is not returned when command_status is non-zero).
    Empty,
    /// Any other command's body, as received.
    Unknown(Vec<u8>),
}

/// A parsed (or built) PDU: header, decoded body and the exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub header: Header,
    pub body: Body,
    raw: Vec<u8>,
}

/// Why bytes are not an SMPP PDU (or not yet a whole one). Offsets count from the
/// first byte of the PDU (its command_length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmppError {
    /// Fewer bytes than the header, command_length or a mandatory field needs.
    Short { need: usize, got: usize },
    /// command_length below the 16-octet header (§3.2).
    BadLength { declared: u32 },
    /// command_length above the receiver's limit ([`next_frame`]).
    TooLarge { declared: u32, limit: u32 },
    /// A C-octet string runs to the end of the PDU without its NUL; `bytes` is
    /// what was there.
    UnterminatedCString { field: &'static str, bytes: Vec<u8> },
    /// A field longer than §4 allows (`max` counts the NUL of a C-octet string);
    /// `bytes` is the field as received.
    FieldTooLong {
        field: &'static str,
        max: usize,
        bytes: Vec<u8>,
    },
    /// Bytes beyond command_length, or beyond the last field of a body that has no
    /// TLVs.
    TrailingBytes { count: usize, bytes: Vec<u8> },
    /// A TLV header (4 octets) or value runs past the end of the PDU; `bytes` is
    /// everything from `offset` on.
    BadTlv { offset: usize, bytes: Vec<u8> },
    /// A user data header (TS 23.040 §9.2.3.24) that does not fit its message;
    /// `offset` counts from the first octet of short_message.
    BadUdh {
        offset: usize,
        reason: &'static str,
        bytes: Vec<u8>,
    },
}

impl fmt::Display for SmppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmppError::Short { need, got } => write!(
                f,
                "SMPP PDU too short: need {need} bytes, got {got}"
            ),
            SmppError::BadLength { declared } => write!(
                f,
                "bad SMPP command_length {declared} ({}): less than the 16-byte header (SMPP 3.4 §3.2)",
                hex(&declared.to_be_bytes(), 4)
            ),
            SmppError::TooLarge { declared, limit } => write!(
                f,
                "SMPP command_length {declared} ({}) exceeds the limit of {limit} bytes",
                hex(&declared.to_be_bytes(), 4)
            ),
            SmppError::UnterminatedCString { field, bytes } => write!(
                f,
                "SMPP C-octet string {field} has no NUL before the end of the PDU: \"{}\"",
                escape_bytes(bytes, SHOW)
            ),
            SmppError::FieldTooLong { field, max, bytes } => write!(
                f,
                "SMPP field {field} longer than the {max} octets SMPP 3.4 §4 allows: \"{}\"",
                escape_bytes(bytes, SHOW)
            ),
            SmppError::TrailingBytes { count, bytes } => write!(
                f,
                "{count} trailing bytes after the SMPP PDU's last field or command_length: {}",
                hex(bytes, SHOW)
            ),
            SmppError::BadTlv { offset, bytes } => {
                let what = match bytes.as_slice() {
                    [t0, t1, l0, l1, value @ ..] => format!(
                        "tag 0x{:04X} declares {} value bytes, {} remain",
                        u16::from_be_bytes([*t0, *t1]),
                        u16::from_be_bytes([*l0, *l1]),
                        value.len()
                    ),
                    _ => format!(
                        "{} bytes left, a TLV needs at least 4 (tag, length)",
                        bytes.len()
                    ),
                };
                write!(
                    f,
                    "bad SMPP TLV at offset {offset}: {what}: {}",
                    hex(bytes, SHOW)
                )
            }
            SmppError::BadUdh {
                offset,
                reason,
                bytes,
            } => write!(
                f,
                "bad user data header at octet {offset} of short_message: {reason}: {}",
                hex(bytes, SHOW)
            ),
        }
    }
}

impl std::error::Error for SmppError {}

impl Pdu {
    /// Parse one whole PDU: exactly command_length bytes.
    ///
    /// Fewer bytes are [`SmppError::Short`], more are [`SmppError::TrailingBytes`]
    /// (use [`next_frame`] to cut a stream). Never panics.
    ///
    /// ```
    /// use liaison::codec::smpp::{enquire_link, Body, Pdu};
    /// let bytes = enquire_link(7);
    /// let pdu = Pdu::parse(&bytes).unwrap();
    /// assert_eq!((pdu.name(), pdu.header.sequence_number), ("enquire_link", 7));
    /// assert_eq!(pdu.body, Body::Empty);
    /// assert_eq!(pdu.encode(), bytes);
    /// assert!(Pdu::parse(&bytes[..15]).is_err());
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Pdu, SmppError> {
        let word = |at: usize| -> Option<u32> {
            let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
            Some(u32::from_be_bytes(b))
        };
        let Some(command_length) = word(0) else {
            return Err(SmppError::Short {
                need: HEADER_LEN,
                got: bytes.len(),
            });
        };
        if (command_length as usize) < HEADER_LEN {
            return Err(SmppError::BadLength {
                declared: command_length,
            });
        }
        let len = usize::try_from(command_length).unwrap_or(usize::MAX);
        if bytes.len() < len {
            return Err(SmppError::Short {
                need: len,
                got: bytes.len(),
            });
        }
        if bytes.len() > len {
            let rest = bytes.get(len..).unwrap_or_default();
            return Err(SmppError::TrailingBytes {
                count: rest.len(),
                bytes: rest.to_vec(),
            });
        }
        let header = Header {
            command_length,
            command_id: word(4).unwrap_or_default(),
            command_status: word(8).unwrap_or_default(),
            sequence_number: word(12).unwrap_or_default(),
        };
        let body = decode_body(bytes, header.command_id)?;
        Ok(Pdu {
            header,
            body,
            raw: bytes.to_vec(),
        })
    }

    /// A PDU from its parts; command_length is computed and `raw` is the encoding.
    pub fn new(command_id: u32, command_status: u32, sequence_number: u32, body: Body) -> Pdu {
        let mut pdu = Pdu {
            header: Header {
                command_length: 0,
                command_id,
                command_status,
                sequence_number,
            },
            body,
            raw: Vec::new(),
        };
        pdu.raw = pdu.encode();
        pdu.header.command_length = u32::try_from(pdu.raw.len()).unwrap_or(u32::MAX);
        pdu
    }

    /// The PDU's bytes as received (or as built by [`Pdu::new`]).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The SMPP name of the command_id (`"submit_sm"`, …, `"unknown"`).
    pub fn name(&self) -> &'static str {
        command::name(self.header.command_id)
    }

    /// Bytes from the header's id, status and sequence number and from the body;
    /// command_length is computed (`header.command_length` is ignored).
    pub fn encode(&self) -> Vec<u8> {
        build(
            self.header.command_id,
            self.header.command_status,
            self.header.sequence_number,
            &self.body,
        )
    }

    /// One line for logs and failure messages, e.g.
    /// `submit_sm seq=2 1/1:447700900456 -> 1/1:447700900123 esm_class=0x00 …`.
    pub fn summary(&self) -> String {
        let h = &self.header;
        let mut s = format!("{} seq={}", self.name(), h.sequence_number);
        if self.name() == "unknown" {
            s.push_str(&format!(" command_id=0x{:08X}", h.command_id));
        }
        let is_resp = h.command_id & command::RESP != 0;
        if is_resp || h.command_status != 0 {
            match status::name(h.command_status) {
                "unknown" | "vendor-specific" => {
                    s.push_str(&format!(" status=0x{:08X}", h.command_status))
                }
                name => {
                    s.push(' ');
                    s.push_str(name);
                }
            }
        }
        match &self.body {
            Body::Bind(b) => s.push_str(&format!(
                " system_id=\"{}\" system_type=\"{}\" interface_version=0x{:02X}",
                escape_str(&b.system_id),
                escape_str(&b.system_type),
                b.interface_version
            )),
            Body::BindResp { system_id, tlvs } => {
                s.push_str(&format!(" system_id=\"{}\"", escape_str(system_id)));
                push_tlv_names(&mut s, tlvs);
            }
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => {
                s.push_str(&format!(
                    " {}/{}:{} -> {}/{}:{} esm_class=0x{:02X} data_coding=0x{:02X} registered_delivery=0x{:02X}",
                    sm.source_addr_ton,
                    sm.source_addr_npi,
                    escape_str(&sm.source_addr),
                    sm.dest_addr_ton,
                    sm.dest_addr_npi,
                    escape_str(&sm.destination_addr),
                    sm.esm_class,
                    sm.data_coding,
                    sm.registered_delivery
                ));
                if is_receipt(sm.esm_class) {
                    s.push_str(" receipt");
                }
                s.push_str(&format!(
                    " short_message[{}]=\"{}\"",
                    sm.short_message.len(),
                    escape_bytes(&sm.short_message, 40)
                ));
                push_tlv_names(&mut s, &sm.tlvs);
            }
            Body::SubmitSmResp { message_id } | Body::DeliverSmResp { message_id } => {
                s.push_str(&format!(" message_id=\"{}\"", escape_str(message_id)))
            }
            Body::Empty => {}
            Body::Unknown(b) if b.is_empty() => {}
            Body::Unknown(b) => s.push_str(&format!(" body[{}]={}", b.len(), hex(b, 16))),
        }
        s
    }

    /// The value of the first TLV with this tag (in a submit_sm, deliver_sm or bind
    /// response).
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        match &self.body {
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => sm.tlv(tag),
            Body::BindResp { tlvs, .. } => find_tlv(tlvs, tag),
            _ => None,
        }
    }

    /// The submit_sm or deliver_sm body.
    pub fn sm(&self) -> Option<&Sm> {
        match &self.body {
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => Some(sm),
            _ => None,
        }
    }
}

/// Stream framing (§3.2: command_length counts the whole PDU, itself included).
///
/// `Ok(Some(n))`: the first `n` bytes of `buf` are one whole PDU. `Ok(None)`: more
/// bytes are needed. An error as soon as the four length bytes show a
/// command_length below 16 ([`SmppError::BadLength`]) or above `max_len`
/// ([`SmppError::TooLarge`]); the stream cannot be resynchronised after either.
pub fn next_frame(buf: &[u8], max_len: u32) -> Result<Option<usize>, SmppError> {
    let Some(first) = buf.get(..4) else {
        return Ok(None);
    };
    let declared = u32::from_be_bytes(first.try_into().unwrap_or_default());
    if (declared as usize) < HEADER_LEN {
        return Err(SmppError::BadLength { declared });
    }
    if declared > max_len {
        return Err(SmppError::TooLarge {
            declared,
            limit: max_len,
        });
    }
    let n = usize::try_from(declared).unwrap_or(usize::MAX);
    Ok((buf.len() >= n).then_some(n))
}

/// A deliver_sm (or data_sm) is an SMSC delivery receipt when its esm_class message
/// type (bits 5-2) is 0x04, SMPP 3.4 §5.2.12.
///
/// Bits 5-2 are one enumerated field, not flags: 0x08 is an SME delivery
/// acknowledgement, 0x20 an intermediate delivery notification, and 0x0C or 0x24 are
/// reserved. (Kannel tests `esm_class & (0x04|0x08|0x20)`, which is where "0x04 or
/// 0x08 or 0x20" comes from; that also counts reserved values such as 0x0C and 0x24,
/// and a conversation abort, 0x18, as receipts.) The
/// messaging mode (bits 1-0) and bits 7-6 do not matter: 0x44 is a receipt with UDHI.
pub fn is_receipt(esm_class: u8) -> bool {
    esm::message_type(esm_class) == esm::TYPE_SMSC_DELIVERY_RECEIPT
}

// ---------------------------------------------------------------------------
// Delivery receipt text
// ---------------------------------------------------------------------------

/// A delivery receipt's text (SMPP 3.4 Appendix B, whose format is only an example,
/// "vendor specific"; this is the de-facto form):
/// `id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
/// stat:DDDDDDD err:EEE text:…`.
///
/// Values are kept as sent (dates are often YYMMDDhhmmss; `err` may be 1 or 3
/// digits); only `id` and `stat` are required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub id: String,
    pub sub: Option<String>,
    pub dlvrd: Option<String>,
    pub submit_date: Option<String>,
    pub done_date: Option<String>,
    pub stat: String,
    pub err: Option<String>,
    pub text: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

impl Receipt {
    /// Read a receipt text. Tolerant the way receivers in the field are: keys in any
    /// case (`Text:`, `STAT:`), in any order, `submit date` / `done date` with any
    /// run of spaces or an underscore between the words (or none), spaces after the
    /// colon. A key counts only at the start or after whitespace; a value runs to the
    /// next key and is trimmed, except `text`, which runs to the end as sent. The
    /// first of repeated keys wins. None without both `id:` and `stat:`.
    ///
    /// ```
    /// use liaison::codec::smpp::{state, Receipt};
    /// let r = Receipt::parse(b"id:7 sub:001 dlvrd:001 submit date:2501151030 \
    ///     done date:2501151031 stat:DELIVRD err:000 Text:Hello").unwrap();
    /// assert_eq!((r.id.as_str(), r.stat.as_str()), ("7", "DELIVRD"));
    /// assert_eq!(r.state(), Some(state::DELIVERED));
    /// assert_eq!(r.text.as_deref(), Some("Hello"));
    /// ```
    pub fn parse(text: &[u8]) -> Option<Receipt> {
        let s = text;
        // (key, where the key starts, where its value starts)
        let mut found: Vec<(Key, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let at_boundary = i == 0 || s.get(i - 1).is_some_and(u8::is_ascii_whitespace);
            if at_boundary && let Some((key, value_start)) = key_at(s, i) {
                found.push((key, i, value_start));
                if key == Key::Text {
                    break;
                }
                i = value_start;
                continue;
            }
            i += 1;
        }
        let value = |key: Key| -> Option<String> {
            let idx = found.iter().position(|(k, _, _)| *k == key)?;
            let (_, _, start) = found.get(idx)?;
            if key == Key::Text {
                return Some(latin1(s.get(*start..).unwrap_or_default()));
            }
            let end = found.get(idx + 1).map_or(s.len(), |(_, next, _)| *next);
            let v = s.get(*start..end).unwrap_or_default();
            Some(latin1(v.trim_ascii()))
        };
        Some(Receipt {
            id: value(Key::Id)?,
            sub: value(Key::Sub),
            dlvrd: value(Key::Dlvrd),
            submit_date: value(Key::SubmitDate),
            done_date: value(Key::DoneDate),
            stat: value(Key::Stat)?,
            err: value(Key::Err),
            text: value(Key::Text),
        })
    }

    /// The text in the usual order, lowercase keys, absent fields left out:
    /// `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`.
    pub fn format(&self) -> String {
        let mut parts = vec![format!("id:{}", self.id)];
        let fields = [
            ("sub", &self.sub),
            ("dlvrd", &self.dlvrd),
            ("submit date", &self.submit_date),
            ("done date", &self.done_date),
        ];
        for (key, v) in fields {
            if let Some(v) = v {
                parts.push(format!("{key}:{v}"));
            }
        }
        parts.push(format!("stat:{}", self.stat));
        for (key, v) in [("err", &self.err), ("text", &self.text)] {
            if let Some(v) = v {
                parts.push(format!("{key}:{v}"));
            }
        }
        parts.join(" ")
    }

    /// The message state `stat` stands for ([`state::from_stat`]).
    pub fn state(&self) -> Option<u8> {
        state::from_stat(&self.stat)
    }
}

/// The key at `s[i..]` and where its value starts (after the colon and any spaces).
fn key_at(s: &[u8], i: usize) -> Option<(Key, usize)> {
    let rest = s.get(i..)?;
    let word = |w: &[u8], at: usize| -> Option<usize> {
        let got = rest.get(at..at + w.len())?;
        got.eq_ignore_ascii_case(w).then_some(at + w.len())
    };
    let sep = |at: usize| -> usize {
        at + rest
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == b' ' || b == b'_')
            .count()
    };
    let mut candidates: Vec<(Key, usize)> = Vec::new();
    for (w, key) in [
        (&b"id"[..], Key::Id),
        (b"sub", Key::Sub),
        (b"dlvrd", Key::Dlvrd),
        (b"stat", Key::Stat),
        (b"err", Key::Err),
        (b"text", Key::Text),
    ] {
        if let Some(end) = word(w, 0) {
            candidates.push((key, end));
        }
    }
    for (w, key) in [(&b"submit"[..], Key::SubmitDate), (b"done", Key::DoneDate)] {
        if let Some(end) = word(w, 0).and_then(|e| word(b"date", sep(e))) {
            candidates.push((key, end));
        }
    }
    for (key, end) in candidates {
        if rest.get(end) == Some(&b':') {
            let mut v = end + 1;
            if key != Key::Text {
                while rest.get(v) == Some(&b' ') {
                    v += 1;
                }
            }
            return Some((key, i + v));
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

/// The response to a bind request: command_id with bit 31 set, the request's
/// sequence number, system_id. The body is left out when `status` is non-zero and
/// `system_id` empty (§4.1.2: "not returned if the command_status field contains a
/// non-zero value").
pub fn bind_resp(req: &Pdu, status: u32, system_id: &str) -> Vec<u8> {
    let body = if status != 0 && system_id.is_empty() {
        Body::Empty
    } else {
        Body::BindResp {
            system_id: system_id.to_string(),
            tlvs: Vec::new(),
        }
    };
    build(
        req.header.command_id | command::RESP,
        status,
        req.header.sequence_number,
        &body,
    )
}

/// submit_sm_resp (§4.4.2); no body when `status` is non-zero and `message_id`
/// empty.
pub fn submit_sm_resp(seq: u32, status: u32, message_id: &str) -> Vec<u8> {
    let body = if status != 0 && message_id.is_empty() {
        Body::Empty
    } else {
        Body::SubmitSmResp {
            message_id: message_id.to_string(),
        }
    };
    build(command::SUBMIT_SM_RESP, status, seq, &body)
}

/// deliver_sm_resp (§4.6.2) with its NULL message_id.
pub fn deliver_sm_resp(seq: u32, status: u32) -> Vec<u8> {
    build(
        command::DELIVER_SM_RESP,
        status,
        seq,
        &Body::DeliverSmResp {
            message_id: String::new(),
        },
    )
}

/// deliver_sm (§4.6.1). sm_length is short_message's length (saturating at 255:
/// a longer short_message gives a malformed PDU, which negative tests may want).
pub fn deliver_sm(seq: u32, sm: &Sm) -> Vec<u8> {
    build_with(command::DELIVER_SM, 0, seq, |out| encode_sm(out, sm))
}

/// submit_sm (§4.4.1); sm_length as for [`deliver_sm`].
pub fn submit_sm(seq: u32, sm: &Sm) -> Vec<u8> {
    build_with(command::SUBMIT_SM, 0, seq, |out| encode_sm(out, sm))
}

/// bind_transceiver (§4.1.5).
pub fn bind_transceiver(seq: u32, b: &Bind) -> Vec<u8> {
    build_with(command::BIND_TRANSCEIVER, 0, seq, |out| encode_bind(out, b))
}

/// enquire_link (§4.11.1): header only.
pub fn enquire_link(seq: u32) -> Vec<u8> {
    build(command::ENQUIRE_LINK, 0, seq, &Body::Empty)
}

/// enquire_link_resp (§4.11.2): header only, ESME_ROK.
pub fn enquire_link_resp(seq: u32) -> Vec<u8> {
    build(command::ENQUIRE_LINK_RESP, 0, seq, &Body::Empty)
}

/// unbind (§4.2.1): header only.
pub fn unbind(seq: u32) -> Vec<u8> {
    build(command::UNBIND, 0, seq, &Body::Empty)
}

/// unbind_resp (§4.2.2): header only, ESME_ROK.
pub fn unbind_resp(seq: u32) -> Vec<u8> {
    build(command::UNBIND_RESP, 0, seq, &Body::Empty)
}

/// generic_nack (§4.3.1): header only; `seq` is the offending PDU's sequence number
/// (or 0 when it could not be read).
pub fn generic_nack(seq: u32, status: u32) -> Vec<u8> {
    build(command::GENERIC_NACK, status, seq, &Body::Empty)
}

/// The deliver_sm body of an SMSC delivery receipt for `submitted` (Appendix B):
/// addresses swapped, esm_class 0x04, the receipt text as short_message, and the
/// TLVs `receipted_message_id` (receipt.id) and, when `stat` is a known word,
/// `message_state` (§5.3.2).
pub fn receipt_sm(submitted: &Sm, receipt: &Receipt) -> Sm {
    let mut tlvs = vec![Tlv::cstring(tlv::RECEIPTED_MESSAGE_ID, &receipt.id)];
    if let Some(s) = receipt.state() {
        tlvs.push(Tlv::new(tlv::MESSAGE_STATE, &[s]));
    }
    Sm {
        source_addr_ton: submitted.dest_addr_ton,
        source_addr_npi: submitted.dest_addr_npi,
        source_addr: submitted.destination_addr.clone(),
        dest_addr_ton: submitted.source_addr_ton,
        dest_addr_npi: submitted.source_addr_npi,
        destination_addr: submitted.source_addr.clone(),
        esm_class: esm::TYPE_SMSC_DELIVERY_RECEIPT,
        short_message: to_latin1(&receipt.format()),
        tlvs,
        ..Sm::default()
    }
}

fn build(command_id: u32, status: u32, seq: u32, body: &Body) -> Vec<u8> {
    build_with(command_id, status, seq, |out| encode_body(out, body))
}

/// Header, then whatever `body` writes; command_length filled in last.
fn build_with(command_id: u32, status: u32, seq: u32, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    body(&mut out);
    finish_length(&mut out);
    out
}

fn finish_length(out: &mut [u8]) {
    let len = u32::try_from(out.len()).unwrap_or(u32::MAX).to_be_bytes();
    if let Some(head) = out.get_mut(..4) {
        head.copy_from_slice(&len);
    }
}

fn encode_body(out: &mut Vec<u8>, body: &Body) {
    match body {
        Body::Bind(b) => encode_bind(out, b),
        Body::BindResp { system_id, tlvs } => {
            put_cstring(out, system_id);
            put_tlvs(out, tlvs);
        }
        Body::SubmitSm(sm) | Body::DeliverSm(sm) => encode_sm(out, sm),
        Body::SubmitSmResp { message_id } | Body::DeliverSmResp { message_id } => {
            put_cstring(out, message_id)
        }
        Body::Empty => {}
        Body::Unknown(b) => out.extend_from_slice(b),
    }
}

/// bind_* body, §4.1.1 / §4.1.3 / §4.1.5.
fn encode_bind(out: &mut Vec<u8>, b: &Bind) {
    put_cstring(out, &b.system_id);
    put_cstring(out, &b.password);
    put_cstring(out, &b.system_type);
    out.extend_from_slice(&[b.interface_version, b.addr_ton, b.addr_npi]);
    put_cstring(out, &b.address_range);
}

/// submit_sm / deliver_sm body, §4.4.1 / §4.6.1.
fn encode_sm(out: &mut Vec<u8>, sm: &Sm) {
    put_cstring(out, &sm.service_type);
    out.extend_from_slice(&[sm.source_addr_ton, sm.source_addr_npi]);
    put_cstring(out, &sm.source_addr);
    out.extend_from_slice(&[sm.dest_addr_ton, sm.dest_addr_npi]);
    put_cstring(out, &sm.destination_addr);
    out.extend_from_slice(&[sm.esm_class, sm.protocol_id, sm.priority_flag]);
    put_cstring(out, &sm.schedule_delivery_time);
    put_cstring(out, &sm.validity_period);
    out.extend_from_slice(&[
        sm.registered_delivery,
        sm.replace_if_present_flag,
        sm.data_coding,
        sm.sm_default_msg_id,
        u8::try_from(sm.short_message.len()).unwrap_or(u8::MAX),
    ]);
    out.extend_from_slice(&sm.short_message);
    put_tlvs(out, &sm.tlvs);
}

/// A value longer than 65535 octets gets length 65535 (a malformed TLV, on purpose).
fn put_tlvs(out: &mut Vec<u8>, tlvs: &[Tlv]) {
    for t in tlvs {
        out.extend_from_slice(&t.tag.to_be_bytes());
        let len = u16::try_from(t.value.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&t.value);
    }
}

fn put_cstring(out: &mut Vec<u8>, s: &str) {
    push_latin1(out, s);
    out.push(0);
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// A cursor over one whole PDU (`pdu`), reading the body.
struct Reader<'a> {
    pdu: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn short(&self, n: usize) -> SmppError {
        SmppError::Short {
            need: self.pos + n,
            got: self.pdu.len(),
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.pdu.get(self.pos..).unwrap_or_default()
    }

    fn u8(&mut self) -> Result<u8, SmppError> {
        let b = *self.pdu.get(self.pos).ok_or_else(|| self.short(1))?;
        self.pos += 1;
        Ok(b)
    }

    fn octets(&mut self, n: usize) -> Result<&'a [u8], SmppError> {
        let b = self
            .pdu
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.short(n))?;
        self.pos += n;
        Ok(b)
    }

    /// A C-octet string of at most `max` octets including its NUL (§3.1).
    fn cstring(&mut self, field: &'static str, max: usize) -> Result<String, SmppError> {
        let rest = self.rest();
        if rest.is_empty() {
            return Err(self.short(1));
        }
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(SmppError::UnterminatedCString {
                field,
                bytes: rest.to_vec(),
            });
        };
        if nul + 1 > max {
            return Err(SmppError::FieldTooLong {
                field,
                max,
                bytes: rest.get(..=nul).unwrap_or_default().to_vec(),
            });
        }
        let s = latin1(rest.get(..nul).unwrap_or_default());
        self.pos += nul + 1;
        Ok(s)
    }

    /// TLVs to the end of the PDU (§3.1, §5.3).
    fn tlvs(&mut self) -> Result<Vec<Tlv>, SmppError> {
        let mut out = Vec::new();
        while self.pos < self.pdu.len() {
            let at = self.pos;
            let bad = || SmppError::BadTlv {
                offset: at,
                bytes: self.rest().to_vec(),
            };
            let Some(&[t0, t1, l0, l1]) = self.rest().get(..4) else {
                return Err(bad());
            };
            let tag = u16::from_be_bytes([t0, t1]);
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let value = self.rest().get(4..4 + len).ok_or_else(bad)?;
            out.push(Tlv {
                tag,
                value: value.to_vec(),
            });
            self.pos += 4 + len;
        }
        Ok(out)
    }

    fn finish(&self) -> Result<(), SmppError> {
        let rest = self.rest();
        if rest.is_empty() {
            Ok(())
        } else {
            Err(SmppError::TrailingBytes {
                count: rest.len(),
                bytes: rest.to_vec(),
            })
        }
    }
}

fn decode_body(pdu: &[u8], command_id: u32) -> Result<Body, SmppError> {
    let mut r = Reader {
        pdu,
        pos: HEADER_LEN,
    };
    let empty_body = pdu.len() == HEADER_LEN;
    let body = match command_id {
        command::BIND_RECEIVER | command::BIND_TRANSMITTER | command::BIND_TRANSCEIVER => {
            // §4.1.1, §4.1.3, §4.1.5.
            let b = Bind {
                system_id: r.cstring("system_id", limits::SYSTEM_ID)?,
                password: r.cstring("password", limits::PASSWORD)?,
                system_type: r.cstring("system_type", limits::SYSTEM_TYPE)?,
                interface_version: r.u8()?,
                addr_ton: r.u8()?,
                addr_npi: r.u8()?,
                address_range: r.cstring("address_range", limits::ADDRESS_RANGE)?,
            };
            r.finish()?;
            Body::Bind(b)
        }
        command::BIND_RECEIVER_RESP
        | command::BIND_TRANSMITTER_RESP
        | command::BIND_TRANSCEIVER_RESP => {
            if empty_body {
                Body::Empty
            } else {
                // §4.1.2, §4.1.4, §4.1.6.
                let system_id = r.cstring("system_id", limits::SYSTEM_ID)?;
                let tlvs = r.tlvs()?;
                Body::BindResp { system_id, tlvs }
            }
        }
        command::SUBMIT_SM => Body::SubmitSm(decode_sm(&mut r)?),
        command::DELIVER_SM => Body::DeliverSm(decode_sm(&mut r)?),
        command::SUBMIT_SM_RESP | command::DELIVER_SM_RESP => {
            if empty_body {
                Body::Empty
            } else {
                let message_id = r.cstring("message_id", limits::MESSAGE_ID)?;
                r.finish()?;
                if command_id == command::SUBMIT_SM_RESP {
                    Body::SubmitSmResp { message_id }
                } else {
                    Body::DeliverSmResp { message_id }
                }
            }
        }
        command::ENQUIRE_LINK
        | command::ENQUIRE_LINK_RESP
        | command::UNBIND
        | command::UNBIND_RESP
        | command::GENERIC_NACK => {
            r.finish()?;
            Body::Empty
        }
        _ => Body::Unknown(r.rest().to_vec()),
    };
    Ok(body)
}

/// submit_sm §4.4.1 / deliver_sm §4.6.1 (same layout).
fn decode_sm(r: &mut Reader<'_>) -> Result<Sm, SmppError> {
    let service_type = r.cstring("service_type", limits::SERVICE_TYPE)?;
    let source_addr_ton = r.u8()?;
    let source_addr_npi = r.u8()?;
    let source_addr = r.cstring("source_addr", limits::ADDR)?;
    let dest_addr_ton = r.u8()?;
    let dest_addr_npi = r.u8()?;
    let destination_addr = r.cstring("destination_addr", limits::ADDR)?;
    let esm_class = r.u8()?;
    let protocol_id = r.u8()?;
    let priority_flag = r.u8()?;
    let schedule_delivery_time = r.cstring("schedule_delivery_time", limits::TIME)?;
    let validity_period = r.cstring("validity_period", limits::TIME)?;
    let registered_delivery = r.u8()?;
    let replace_if_present_flag = r.u8()?;
    let data_coding = r.u8()?;
    let sm_default_msg_id = r.u8()?;
    let sm_length = usize::from(r.u8()?);
    if sm_length > limits::SHORT_MESSAGE {
        let rest = r.rest();
        return Err(SmppError::FieldTooLong {
            field: "short_message",
            max: limits::SHORT_MESSAGE,
            bytes: rest.get(..sm_length).unwrap_or(rest).to_vec(),
        });
    }
    let short_message = r.octets(sm_length)?.to_vec();
    let tlvs = r.tlvs()?;
    Ok(Sm {
        service_type,
        source_addr_ton,
        source_addr_npi,
        source_addr,
        dest_addr_ton,
        dest_addr_npi,
        destination_addr,
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time,
        validity_period,
        registered_delivery,
        replace_if_present_flag,
        data_coding,
        sm_default_msg_id,
        short_message,
        tlvs,
    })
}

fn find_tlv(tlvs: &[Tlv], tag: u16) -> Option<&[u8]> {
    tlvs.iter()
        .find(|t| t.tag == tag)
        .map(|t| t.value.as_slice())
}

// ---------------------------------------------------------------------------
// User data header (TS 23.040 §9.2.3.24), for WAP push over SMS (WAP-259 WDP)
// ---------------------------------------------------------------------------

/// Information element identifiers of TS 23.040 §9.2.3.24.
pub mod iei {
    /// Concatenated short messages, 8-bit reference: ref, total, seq.
    pub const CONCAT_8: u8 = 0x00;
    /// Application port addressing, 8-bit ports: dest, orig.
    pub const PORT_8: u8 = 0x04;
    /// Application port addressing, 16-bit ports: dest (2), orig (2).
    pub const PORT_16: u8 = 0x05;
    /// Concatenated short messages, 16-bit reference: ref (2), total, seq.
    pub const CONCAT_16: u8 = 0x08;
}

/// One information element of a user data header: (IEI, data).
pub type Ie = (u8, Vec<u8>);

/// WAP push ports (WAP-259 WDP, Table 6.3): connectionless WSP push to 2948 from
/// 9200.
pub const WAP_PUSH_PORT: u16 = 2948;
pub const WAP_WSP_PORT: u16 = 9200;

/// The largest 8-bit user data of one SMS (TS 23.040 §9.2.3.16: 140 octets).
pub const MAX_UD_8BIT: usize = 140;

/// Split a short_message that starts with a user data header (esm_class UDHI):
/// the information elements `(IEI, data)` in order and the rest of the message.
///
/// ```
/// use liaison::codec::smpp::{udh_parse, udh_port16};
/// let sm = [0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x01, 0x06];
/// let (ies, rest) = udh_parse(&sm).unwrap();
/// assert_eq!(udh_port16(&ies), Some((2948, 9200)));
/// assert_eq!(rest, &[0x01, 0x06]);
/// ```
pub fn udh_parse(sm: &[u8]) -> Result<(Vec<Ie>, &[u8]), SmppError> {
    let bad = |offset: usize, reason: &'static str| SmppError::BadUdh {
        offset,
        reason,
        bytes: sm.get(offset..).unwrap_or_default().to_vec(),
    };
    let Some(&udhl) = sm.first() else {
        return Err(bad(0, "empty short_message has no UDHL octet"));
    };
    let end = 1 + usize::from(udhl);
    let header = sm
        .get(1..end)
        .ok_or_else(|| bad(0, "UDHL runs past the end of short_message"))?;
    let mut ies = Vec::new();
    let mut i = 0;
    while i < header.len() {
        let (Some(&id), Some(&len)) = (header.get(i), header.get(i + 1)) else {
            return Err(bad(1 + i, "information element header runs past UDHL"));
        };
        let data = header
            .get(i + 2..i + 2 + usize::from(len))
            .ok_or_else(|| bad(1 + i, "information element data runs past UDHL"))?;
        ies.push((id, data.to_vec()));
        i += 2 + usize::from(len);
    }
    Ok((ies, sm.get(end..).unwrap_or_default()))
}

/// A user data header (UDHL and the elements) from `(IEI, data)` pairs.
pub fn udh_build(ies: &[Ie]) -> Vec<u8> {
    let mut out = vec![0u8];
    for (id, data) in ies {
        out.push(*id);
        out.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(data);
    }
    let udhl = u8::try_from(out.len() - 1).unwrap_or(u8::MAX);
    if let Some(first) = out.first_mut() {
        *first = udhl;
    }
    out
}

/// IE 0x05: 16-bit application port addressing (destination, originator).
pub fn udh_port16_ie(dest: u16, orig: u16) -> Ie {
    let [d0, d1] = dest.to_be_bytes();
    let [o0, o1] = orig.to_be_bytes();
    (iei::PORT_16, vec![d0, d1, o0, o1])
}

/// IE 0x00: concatenation with an 8-bit reference.
pub fn udh_concat8_ie(reference: u8, total: u8, seq: u8) -> Ie {
    (iei::CONCAT_8, vec![reference, total, seq])
}

/// IE 0x08: concatenation with a 16-bit reference.
pub fn udh_concat16_ie(reference: u16, total: u8, seq: u8) -> Ie {
    let [r0, r1] = reference.to_be_bytes();
    (iei::CONCAT_16, vec![r0, r1, total, seq])
}

/// The (destination, originator) ports of the first well-formed IE 0x05 (or 0x04).
pub fn udh_port16(ies: &[Ie]) -> Option<(u16, u16)> {
    ies.iter().find_map(|(id, d)| match (*id, d.as_slice()) {
        (iei::PORT_16, [d0, d1, o0, o1]) => Some((
            u16::from_be_bytes([*d0, *d1]),
            u16::from_be_bytes([*o0, *o1]),
        )),
        (iei::PORT_8, [d, o]) => Some((u16::from(*d), u16::from(*o))),
        _ => None,
    })
}

/// (reference, total, sequence) of the first well-formed IE 0x00 or 0x08.
pub fn udh_concat(ies: &[Ie]) -> Option<(u16, u8, u8)> {
    ies.iter().find_map(|(id, d)| match (*id, d.as_slice()) {
        (iei::CONCAT_8, [r, t, s]) => Some((u16::from(*r), *t, *s)),
        (iei::CONCAT_16, [r0, r1, t, s]) => Some((u16::from_be_bytes([*r0, *r1]), *t, *s)),
        _ => None,
    })
}

/// Split 8-bit `data` into short_messages with a user data header each (send with
/// esm_class UDHI and data_coding 0x04), at most [`MAX_UD_8BIT`] octets each.
///
/// Every segment carries the port IE when `ports` is given (WAP-259 WDP over SMS
/// does). When everything fits one segment it has no concatenation IE; otherwise
/// each carries IE 0x00 with `reference`, the total and its number from 1. More than
/// 255 segments is [`SmppError::FieldTooLong`].
pub fn udh_split(
    data: &[u8],
    ports: Option<(u16, u16)>,
    reference: u8,
) -> Result<Vec<Vec<u8>>, SmppError> {
    let port_ie: Vec<Ie> = ports
        .map(|(d, o)| vec![udh_port16_ie(d, o)])
        .unwrap_or_default();
    let single = udh_build(&port_ie);
    if single.len() + data.len() <= MAX_UD_8BIT {
        return Ok(vec![[single.as_slice(), data].concat()]);
    }
    let udh_len = udh_build(&[port_ie.clone(), vec![udh_concat8_ie(0, 0, 0)]].concat()).len();
    let chunk = MAX_UD_8BIT - udh_len;
    let total = data.len().div_ceil(chunk);
    let Ok(total8) = u8::try_from(total) else {
        return Err(SmppError::FieldTooLong {
            field: "concatenated short messages",
            max: 255 * chunk,
            bytes: data.get(..SHOW).unwrap_or(data).to_vec(),
        });
    };
    Ok(data
        .chunks(chunk)
        .zip(1..=total8)
        .map(|(part, seq)| {
            let mut ies = port_ie.clone();
            ies.push(udh_concat8_ie(reference, total8, seq));
            [udh_build(&ies).as_slice(), part].concat()
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Short message text: data_coding 0 (GSM 7-bit default alphabet) and 8 (UCS-2)
// ---------------------------------------------------------------------------

/// The text of a short message by its data_coding (SMPP 3.4 §5.2.19):
/// GSM 7-bit default alphabet and extension table, unpacked, one septet per
/// octet, for 0 (the SMSC default alphabet, taken as GSM 03.38 here: 3GPP TS
/// 23.038 §6.2.1); UCS-2 big-endian for 8 (TS 23.038 §6.2.3); IA5 for 1 and
/// Latin-1 for 3. Other codings (binary, national sets) give an error.
pub mod text {
    /// The 128 characters of the GSM 7-bit default alphabet, by septet
    /// (TS 23.038 §6.2.1; 0x1B is the escape to the extension table).
    const DEFAULT: [char; 128] = [
        '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
        'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß',
        'É', //
        ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
        '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
        'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
        '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
        'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
    ];

    /// The escape septet that selects the extension table.
    pub const ESCAPE: u8 = 0x1B;

    /// The extension table's characters (after [`ESCAPE`]), TS 23.038 §6.2.1.1.
    const EXTENSION: [(u8, char); 10] = [
        (0x0A, '\u{0C}'),
        (0x14, '^'),
        (0x28, '{'),
        (0x29, '}'),
        (0x2F, '\\'),
        (0x3C, '['),
        (0x3D, '~'),
        (0x3E, ']'),
        (0x40, '|'),
        (0x65, '€'),
    ];

    /// Encodes `s` as unpacked GSM 7-bit septets (extension characters as
    /// escape + septet); the first character neither table has is the error.
    pub fn gsm7_encode(s: &str) -> Result<Vec<u8>, char> {
        let mut out = Vec::with_capacity(s.len());
        for c in s.chars() {
            if c != '\u{1B}'
                && let Some(i) = DEFAULT.iter().position(|&d| d == c)
            {
                out.push(i as u8);
                continue;
            }
            match EXTENSION.iter().find(|(_, e)| *e == c) {
                Some((septet, _)) => out.extend_from_slice(&[ESCAPE, *septet]),
                None => return Err(c),
            }
        }
        Ok(out)
    }

    /// Decodes unpacked GSM 7-bit septets. An octet over 0x7F is an error (it
    /// is no septet); an escape followed by a septet the extension table does
    /// not define reads as that septet's default character (§6.2.1.1), a
    /// trailing escape as a space.
    pub fn gsm7_decode(b: &[u8]) -> Result<String, String> {
        let mut out = String::with_capacity(b.len());
        let mut it = b.iter().enumerate();
        while let Some((i, &o)) = it.next() {
            let at = |o: u8| {
                DEFAULT
                    .get(usize::from(o))
                    .copied()
                    .ok_or_else(|| format!("octet 0x{o:02X} at offset {i} is not a 7-bit septet"))
            };
            if o == ESCAPE {
                match it.next() {
                    Some((_, &e)) => match EXTENSION.iter().find(|(x, _)| *x == e) {
                        Some((_, c)) => out.push(*c),
                        None => out.push(at(e)?),
                    },
                    None => out.push(' '),
                }
            } else {
                out.push(at(o)?);
            }
        }
        Ok(out)
    }

    /// Encodes `s` as UCS-2 big-endian; a character outside the Basic
    /// Multilingual Plane is the error (UCS-2 has no surrogates).
    pub fn ucs2_encode(s: &str) -> Result<Vec<u8>, char> {
        let mut out = Vec::with_capacity(s.len() * 2);
        for c in s.chars() {
            let u = u16::try_from(u32::from(c)).map_err(|_| c)?;
            out.extend_from_slice(&u.to_be_bytes());
        }
        Ok(out)
    }

    /// Decodes UCS-2 big-endian (read as UTF-16, so a surrogate pair some
    /// senders use is kept); an odd length or an unpaired surrogate is an error.
    pub fn ucs2_decode(b: &[u8]) -> Result<String, String> {
        if !b.len().is_multiple_of(2) {
            return Err(format!("{} octets: UCS-2 needs an even count", b.len()));
        }
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16(&units).map_err(|e| format!("not UCS-2/UTF-16: {e}"))
    }

    /// The text of a short message with this data_coding.
    pub fn decode(data_coding: u8, b: &[u8]) -> Result<String, String> {
        match data_coding {
            super::dcs::SMSC_DEFAULT => gsm7_decode(b),
            super::dcs::IA5 if b.is_ascii() => Ok(b.iter().map(|&o| char::from(o)).collect()),
            super::dcs::IA5 => Err("IA5 text with an octet over 0x7F".into()),
            super::dcs::LATIN1 => Ok(b.iter().map(|&o| char::from(o)).collect()),
            super::dcs::UCS2 => ucs2_decode(b),
            other => Err(format!(
                "data_coding 0x{other:02X} is not a text coding read here"
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------

/// Bytes as chars U+0000..=U+00FF, one for one (lossless).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Chars up to U+00FF as one byte each, others as their UTF-8 bytes.
fn push_latin1(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn to_latin1(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    push_latin1(&mut out, s);
    out
}

fn escape_str(s: &str) -> String {
    escape_bytes(&to_latin1(s), SHOW)
}

fn push_tlv_names(s: &mut String, tlvs: &[Tlv]) {
    if tlvs.is_empty() {
        return;
    }
    let names: Vec<String> = tlvs
        .iter()
        .map(|t| match tlv::name(t.tag) {
            "unknown" => format!("0x{:04X}", t.tag),
            name => name.to_string(),
        })
        .collect();
    s.push_str(&format!(" tlvs=[{}]", names.join(",")));
}

/// Space-separated uppercase hex of at most `max` bytes, with `… (N more bytes)`;
/// `(no bytes)` for none.
fn hex(bytes: &[u8], max: usize) -> String {
    if bytes.is_empty() {
        return "(no bytes)".to_string();
    }
    let shown = bytes.get(..max).unwrap_or(bytes);
    let mut out: Vec<String> = shown.iter().map(|b| format!("{b:02X}")).collect();
    if bytes.len() > shown.len() {
        out.push(format!("… ({} more bytes)", bytes.len() - shown.len()));
    }
    out.join(" ")
}

/// A hex dump, 16 bytes a line: offset, hex in two groups of 8, printable ASCII.
///
/// ```
/// use liaison::codec::smpp::hex_dump;
/// assert_eq!(
///     hex_dump(b"\x00\x00\x00\x10AB"),
///     "0000  00 00 00 10 41 42                                 |....AB|"
/// );
/// ```
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut lines = Vec::new();
    for (n, chunk) in bytes.chunks(16).enumerate() {
        let mut h = String::with_capacity(50);
        for (i, b) in chunk.iter().enumerate() {
            if i == 8 {
                h.push(' ');
            }
            h.push_str(&format!("{b:02X} "));
        }
        let text: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        lines.push(format!("{:04X}  {h:<49} |{text}|", n * 16));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {

    #[test]
    fn gsm7_default_and_extension_characters() {
        // Septets from TS 23.038 §6.2.1: @ is 0x00, £ 0x01, ¥ 0x03, è 0x04;
        // € and { are escape + 0x65 and escape + 0x28.
        let b = text::gsm7_encode("@£¥è€{A").unwrap();
        assert_eq!(b, [0x00, 0x01, 0x03, 0x04, 0x1B, 0x65, 0x1B, 0x28, 0x41]);
        assert_eq!(text::gsm7_decode(&b).unwrap(), "@£¥è€{A");
        assert_eq!(text::gsm7_encode("Ωμ"), Err('μ'));
        assert!(text::gsm7_decode(&[0x41, 0x80])
            .unwrap_err()
            .contains("0x80"));
        // Undefined extension septet: the default character; trailing escape: a space.
        assert_eq!(text::gsm7_decode(&[0x1B, 0x41, 0x1B]).unwrap(), "A ");
        // Every default character round-trips (the escape itself aside).
        for o in (0u8..128).filter(|&o| o != text::ESCAPE) {
            let s = text::gsm7_decode(&[o]).unwrap();
            assert_eq!(text::gsm7_encode(&s).unwrap(), [o], "septet {o:#04x}");
        }
    }

    #[test]
    fn ucs2_big_endian() {
        let b = text::ucs2_encode("Ω€漢").unwrap();
        assert_eq!(b, [0x03, 0xA9, 0x20, 0xAC, 0x6F, 0x22]);
        assert_eq!(text::decode(dcs::UCS2, &b).unwrap(), "Ω€漢");
        assert!(text::ucs2_decode(&b[..3]).is_err());
        assert_eq!(text::ucs2_encode("😀"), Err('😀'));
        assert_eq!(text::decode(dcs::SMSC_DEFAULT, &[0x00]).unwrap(), "@");
        assert!(text::decode(dcs::OCTET_UNSPECIFIED, b"x").is_err());
    }
    use super::*;

    fn snapshot_text(bytes: &[u8]) -> String {
        let pdu = Pdu::parse(bytes).expect("built PDU parses");
        assert_eq!(pdu.encode(), bytes, "encode(parse(built)) == built");
        format!("{}\n{}", pdu.summary(), hex_dump(bytes))
    }

    fn mo_sm() -> Sm {
        Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: "447700900123".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "447700900456".into(),
            short_message: b"Hello from SMS".to_vec(),
            ..Sm::default()
        }
    }

    #[test]
    fn build_bind_transceiver() {
        let b = Bind {
            system_id: "smsc-iwf".into(),
            password: "secret08".into(),
            system_type: "IWF".into(),
            addr_ton: 1,
            addr_npi: 1,
            ..Bind::default()
        };
        insta::assert_snapshot!("bind_transceiver", snapshot_text(&bind_transceiver(1, &b)));
    }

    #[test]
    fn build_bind_resp() {
        let req = Pdu::parse(&bind_transceiver(9, &Bind::default())).expect("parses");
        let ok = bind_resp(&req, status::ESME_ROK, "liaison");
        insta::assert_snapshot!("bind_resp_ok", snapshot_text(&ok));
        let fail = bind_resp(&req, status::ESME_RINVPASWD, "");
        assert_eq!(fail.len(), HEADER_LEN, "no body on error (§4.1.2)");
        insta::assert_snapshot!("bind_resp_invpaswd", snapshot_text(&fail));
        let req = Pdu::parse(&build(
            command::BIND_RECEIVER,
            0,
            3,
            &Body::Bind(Bind::default()),
        ))
        .expect("parses");
        let resp = Pdu::parse(&bind_resp(&req, 0, "x")).expect("parses");
        assert_eq!(resp.name(), "bind_receiver_resp");
        assert_eq!(resp.header.sequence_number, 3);
    }

    #[test]
    fn build_submit_sm_resp() {
        insta::assert_snapshot!(
            "submit_sm_resp",
            snapshot_text(&submit_sm_resp(2, 0, "5f3a9c01"))
        );
        let throttled = submit_sm_resp(3, status::ESME_RTHROTTLED, "");
        assert_eq!(throttled.len(), HEADER_LEN);
        insta::assert_snapshot!("submit_sm_resp_throttled", snapshot_text(&throttled));
    }

    #[test]
    fn build_deliver_sm_resp() {
        insta::assert_snapshot!("deliver_sm_resp", snapshot_text(&deliver_sm_resp(4, 0)));
        insta::assert_snapshot!(
            "deliver_sm_resp_x_t_appn",
            snapshot_text(&deliver_sm_resp(5, status::ESME_RX_T_APPN))
        );
    }

    #[test]
    fn build_deliver_sm_mo() {
        insta::assert_snapshot!("deliver_sm_mo", snapshot_text(&deliver_sm(6, &mo_sm())));
    }

    #[test]
    fn build_submit_sm_registered() {
        let sm = Sm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: "447700900456".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "447700900123".into(),
            registered_delivery: registered::RECEIPT_ALWAYS,
            short_message: b"Hi Alice, got it.".to_vec(),
            tlvs: vec![Tlv::new(tlv::USER_MESSAGE_REFERENCE, &[0x00, 0x2A])],
            ..Sm::default()
        };
        insta::assert_snapshot!("submit_sm_registered", snapshot_text(&submit_sm(7, &sm)));
    }

    #[test]
    fn build_receipt() {
        let submitted = Sm {
            source_addr: "447700900456".into(),
            destination_addr: "447700900123".into(),
            source_addr_ton: 1,
            dest_addr_ton: 1,
            ..Sm::default()
        };
        let r = Receipt {
            id: "5f3a9c01".into(),
            sub: Some("001".into()),
            dlvrd: Some("001".into()),
            submit_date: Some("2501151030".into()),
            done_date: Some("2501151031".into()),
            stat: "DELIVRD".into(),
            err: Some("000".into()),
            text: Some("Hi Alice, go".into()),
        };
        let sm = receipt_sm(&submitted, &r);
        assert_eq!(sm.source_addr, "447700900123");
        assert_eq!(sm.destination_addr, "447700900456");
        assert!(is_receipt(sm.esm_class));
        assert_eq!(sm.receipt(), Some(r));
        assert_eq!(sm.receipted_message_id().as_deref(), Some("5f3a9c01"));
        assert_eq!(sm.message_state(), Some(state::DELIVERED));
        insta::assert_snapshot!("deliver_sm_receipt", snapshot_text(&deliver_sm(8, &sm)));
    }

    #[test]
    fn build_header_only() {
        insta::assert_snapshot!("enquire_link", snapshot_text(&enquire_link(10)));
        insta::assert_snapshot!("enquire_link_resp", snapshot_text(&enquire_link_resp(10)));
        insta::assert_snapshot!("unbind", snapshot_text(&unbind(11)));
        insta::assert_snapshot!("unbind_resp", snapshot_text(&unbind_resp(11)));
        insta::assert_snapshot!(
            "generic_nack",
            snapshot_text(&generic_nack(12, status::ESME_RINVCMDID))
        );
    }

    #[test]
    fn build_wap_push_udh() {
        let wsp = [
            0x01, 0x06, 0x04, 0x03, 0xAE, 0x81, 0xEA, 0x02, 0x05, 0x6A, 0x00,
        ];
        let parts = udh_split(&wsp, Some((WAP_PUSH_PORT, WAP_WSP_PORT)), 0).expect("fits");
        assert_eq!(parts.len(), 1);
        let sm = Sm {
            source_addr: "PPG".into(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "447700900123".into(),
            esm_class: esm::UDHI,
            data_coding: dcs::OCTET_UNSPECIFIED,
            short_message: parts[0].clone(),
            ..Sm::default()
        };
        insta::assert_snapshot!("submit_sm_wap_push", snapshot_text(&submit_sm(13, &sm)));
    }

    #[test]
    fn writers_do_not_validate() {
        // Over-long fields are written as given; the reader then rejects them.
        let b = Bind {
            system_id: "a-system-id-of-twenty".into(),
            ..Bind::default()
        };
        let bytes = bind_transceiver(1, &b);
        assert!(matches!(
            Pdu::parse(&bytes),
            Err(SmppError::FieldTooLong {
                field: "system_id",
                max: 16,
                ..
            })
        ));
        let sm = Sm {
            short_message: vec![b'x'; 300],
            ..Sm::default()
        };
        let bytes = submit_sm(1, &sm);
        assert_eq!(bytes.len(), HEADER_LEN + 17 + 300, "all octets written");
        assert!(Pdu::parse(&bytes).is_err());
        // A char above U+00FF is written as UTF-8; Latin-1 chars as one byte.
        let mut out = Vec::new();
        put_cstring(&mut out, "é€");
        assert_eq!(out, [0xE9, 0xE2, 0x82, 0xAC, 0x00]);
    }

    #[test]
    fn pdu_new_and_accessors() {
        let pdu = Pdu::new(command::SUBMIT_SM, 0, 42, Body::SubmitSm(mo_sm()));
        assert_eq!(pdu.header.command_length as usize, pdu.raw().len());
        assert_eq!(pdu.raw(), submit_sm(42, &mo_sm()).as_slice());
        assert_eq!(Pdu::parse(pdu.raw()).expect("parses"), pdu);
        assert_eq!(pdu.sm(), Some(&mo_sm()));
        assert_eq!(pdu.tlv(tlv::MESSAGE_STATE), None);
        let unknown = Pdu::new(0x0000_0999, 0, 1, Body::Unknown(vec![1, 2]));
        assert_eq!(unknown.name(), "unknown");
        assert_eq!(
            unknown.summary(),
            "unknown seq=1 command_id=0x00000999 body[2]=01 02"
        );
        let nack = Pdu::new(command::GENERIC_NACK, 0x0400, 1, Body::Empty);
        assert_eq!(nack.summary(), "generic_nack seq=1 status=0x00000400");
    }

    #[test]
    fn names() {
        assert_eq!(status_name(status::ESME_RX_R_APPN), "ESME_RX_R_APPN");
        assert_eq!(status_name(0x0401), "vendor-specific");
        assert_eq!(status_name(0x09), "unknown");
        assert_eq!(command::name(command::DATA_SM_RESP), "data_sm_resp");
        assert_eq!(command::name(0x8000_0015), "enquire_link_resp");
        assert_eq!(command::name(0x0A), "unknown");
        assert_eq!(tlv::name(0x0427), "message_state");
        assert_eq!(tlv::name(0x1400), "unknown");
        for s in 1..=8 {
            let word = state::stat(s).expect("known");
            assert_eq!(word.len(), 7, "{word}");
            assert_eq!(state::from_stat(word), Some(s));
            assert_eq!(state::from_stat(&word.to_lowercase()), Some(s));
            assert_eq!(state::from_stat(state::name(s)), Some(s));
        }
        assert_eq!(state::stat(0), None);
        assert_eq!(state::name(9), "unknown");
        assert_eq!(state::from_stat("BUFFRED"), None);
    }

    #[test]
    fn is_receipt_reads_the_message_type_field() {
        assert!(is_receipt(0x04));
        assert!(is_receipt(0x44), "UDHI set, still a receipt");
        assert!(is_receipt(0x07), "messaging mode bits ignored");
        assert!(is_receipt(0x84));
        for not in [0x00, 0x08, 0x10, 0x18, 0x20, 0x0C, 0x24, 0x3C, 0x40, 0x03] {
            assert!(!is_receipt(not), "0x{not:02X}");
        }
        assert_eq!(esm::message_type(0x61), esm::TYPE_INTERMEDIATE_NOTIFICATION);
        assert_eq!(esm::message_type(0x64), 0x24, "reserved, not a receipt");
    }

    #[test]
    fn udh_split_segments() {
        let data: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        let parts = udh_split(&data, Some((2948, 9200)), 0x5A).expect("splits");
        // UDH = 05 + port IE (6) + concat IE (5) = 12 octets; 128 data octets each.
        assert_eq!(parts.len(), 4);
        let mut joined = Vec::new();
        for (n, p) in parts.iter().enumerate() {
            assert!(p.len() <= MAX_UD_8BIT);
            let (ies, rest) = udh_parse(p).expect("parses");
            assert_eq!(udh_port16(&ies), Some((2948, 9200)));
            assert_eq!(udh_concat(&ies), Some((0x5A, 4, n as u8 + 1)));
            joined.extend_from_slice(rest);
        }
        assert_eq!(joined, data);
        assert_eq!(parts[0].len(), MAX_UD_8BIT);
        // Exactly 140 with the port IE alone: one segment, no concatenation.
        let fits = vec![7u8; MAX_UD_8BIT - 7];
        let one = udh_split(&fits, Some((2948, 9200)), 1).expect("one");
        assert_eq!(one.len(), 1);
        assert_eq!(udh_concat(&udh_parse(&one[0]).expect("parses").0), None);
        // Without ports: a bare concatenation UDH.
        let parts = udh_split(&data, None, 9).expect("splits");
        assert_eq!(&parts[0][..6], &[0x05, 0x00, 0x03, 0x09, 0x03, 0x01]);
        // Too many segments.
        let huge = vec![0u8; 255 * 128 + 1];
        assert!(matches!(
            udh_split(&huge, Some((1, 2)), 0),
            Err(SmppError::FieldTooLong { .. })
        ));
        assert_eq!(
            udh_split(&huge[..255 * 128], Some((1, 2)), 0)
                .expect("255 segments")
                .len(),
            255
        );
    }

    #[test]
    fn udh_ie_helpers() {
        assert_eq!(
            udh_concat16_ie(0x1234, 2, 1),
            (0x08, vec![0x12, 0x34, 2, 1])
        );
        let ies = vec![(0x04u8, vec![0x10, 0x20]), udh_concat16_ie(0xABCD, 3, 2)];
        assert_eq!(udh_port16(&ies), Some((0x10, 0x20)));
        assert_eq!(udh_concat(&ies), Some((0xABCD, 3, 2)));
        assert_eq!(
            udh_build(&ies),
            vec![10, 4, 2, 0x10, 0x20, 8, 4, 0xAB, 0xCD, 3, 2]
        );
        assert_eq!(udh_port16(&[(0x05, vec![1, 2, 3])]), None, "bad IE length");
        assert_eq!(udh_build(&[]), vec![0]);
        assert_eq!(udh_parse(&[0]).expect("empty UDH"), (vec![], &[][..]));
    }

    #[test]
    fn hex_dump_layout() {
        let bytes: Vec<u8> = (0x30..0x52).collect();
        assert_eq!(
            hex_dump(&bytes),
            "0000  30 31 32 33 34 35 36 37  38 39 3A 3B 3C 3D 3E 3F  |0123456789:;<=>?|\n\
             0010  40 41 42 43 44 45 46 47  48 49 4A 4B 4C 4D 4E 4F  |@ABCDEFGHIJKLMNO|\n\
             0020  50 51                                             |PQ|"
        );
        assert_eq!(hex_dump(&[]), "");
        assert_eq!(hex(&[1, 2, 3], 2), "01 02 … (1 more bytes)");
    }
}
