//! Builders for the PDUs the harness and the reference SUTs send.
//!
//! A [`PduBuilder`] holds X-Mms-Message-Type, X-Mms-Transaction-ID and
//! X-Mms-MMS-Version apart from the other headers and writes them first, in that
//! order, and Content-Type last when there is a body (OMA-MMS-ENC §6): whatever
//! order the setters are called in, the result obeys the order rules. The
//! constructors take each PDU's mandatory fields (ENC §6.1–§6.7 tables).

use super::address::Address;
use super::body::{Body, ContentType};
use super::header::{Field, Header};
use super::value::*;
use super::Pdu;

/// Builds one PDU; see the module documentation.
#[derive(Clone, Debug)]
pub struct PduBuilder {
    message_type: MessageType,
    transaction_id: Option<String>,
    version: Version,
    headers: Vec<Header>,
    content: Option<(ContentType, Body)>,
}

impl PduBuilder {
    /// Any message type, version 1.3, no other header.
    pub fn new(message_type: MessageType) -> PduBuilder {
        PduBuilder {
            message_type,
            transaction_id: None,
            version: Version::V1_3,
            headers: Vec::new(),
            content: None,
        }
    }

    /// M-Send.req (ENC §6.1.1): From (an address, or Insert-address) and the
    /// message's content type and body.
    pub fn send_req(
        tid: &str,
        from: FromValue,
        content_type: ContentType,
        body: Body,
    ) -> PduBuilder {
        PduBuilder::new(MessageType::SEND_REQ)
            .transaction_id(tid)
            .header(Header::From(from))
            .content(content_type, body)
    }

    /// M-Send.conf (ENC §6.1.2): the response status; add `message_id` on Ok.
    pub fn send_conf(tid: &str, status: ResponseStatus) -> PduBuilder {
        PduBuilder::new(MessageType::SEND_CONF)
            .transaction_id(tid)
            .header(Header::Token(Field::RESPONSE_STATUS, status.0))
    }

    /// M-Notification.ind (ENC §6.2): class Personal (change it with
    /// [`PduBuilder::message_class`]), size, expiry and the location to fetch.
    pub fn notification_ind(
        tid: &str,
        content_location: &str,
        message_size: u64,
        expiry: TimeValue,
    ) -> PduBuilder {
        PduBuilder::new(MessageType::NOTIFICATION_IND)
            .transaction_id(tid)
            .message_class(MessageClass::Personal)
            .message_size(message_size)
            .expiry(expiry)
            .content_location(content_location)
    }

    /// M-NotifyResp.ind (ENC §6.2): the status (Retrieved, Deferred, Rejected…).
    pub fn notify_resp_ind(tid: &str, status: Status) -> PduBuilder {
        PduBuilder::new(MessageType::NOTIFYRESP_IND)
            .transaction_id(tid)
            .status(status)
    }

    /// M-Retrieve.conf (ENC §6.3): date and content; the transaction id is
    /// optional ([`PduBuilder::transaction_id`]).
    pub fn retrieve_conf(date: u64, content_type: ContentType, body: Body) -> PduBuilder {
        PduBuilder::new(MessageType::RETRIEVE_CONF)
            .date(date)
            .content(content_type, body)
    }

    /// M-Acknowledge.ind (ENC §6.4).
    pub fn acknowledge_ind(tid: &str) -> PduBuilder {
        PduBuilder::new(MessageType::ACKNOWLEDGE_IND).transaction_id(tid)
    }

    /// M-Delivery.ind (ENC §6.5): no transaction id; the original Message-ID,
    /// the recipient, the date and the delivery status.
    pub fn delivery_ind(message_id: &str, to: &Address, date: u64, status: Status) -> PduBuilder {
        PduBuilder::new(MessageType::DELIVERY_IND)
            .message_id(message_id)
            .to(to)
            .date(date)
            .status(status)
    }

    pub fn version(mut self, v: Version) -> PduBuilder {
        self.version = v;
        self
    }

    pub fn transaction_id(mut self, tid: &str) -> PduBuilder {
        self.transaction_id = Some(tid.to_string());
        self
    }

    /// The body and its content type (written last).
    pub fn content(mut self, content_type: ContentType, body: Body) -> PduBuilder {
        self.content = Some((content_type, body));
        self
    }

    /// Adds a header. Message-Type, Transaction-ID, MMS-Version and
    /// Content-Type go to their fixed places; To, Cc, Bcc and application
    /// headers are appended; any other field replaces an earlier value.
    pub fn header(mut self, h: Header) -> PduBuilder {
        match (&h, h.field()) {
            (Header::MessageType(t), _) => self.message_type = *t,
            (Header::Version(v), _) => self.version = *v,
            (Header::Text(_, t), Some(Field::TRANSACTION_ID)) => {
                self.transaction_id = Some(t.clone())
            }
            (Header::ContentType(ct), _) => {
                let body = self
                    .content
                    .take()
                    .map_or(Body::Single(Vec::new()), |c| c.1);
                self.content = Some((ct.clone(), body));
            }
            (_, Some(f)) if ![Field::TO, Field::CC, Field::BCC].contains(&f) => {
                match self.headers.iter_mut().find(|x| x.field() == Some(f)) {
                    Some(slot) => *slot = h,
                    None => self.headers.push(h),
                }
            }
            _ => self.headers.push(h),
        }
        self
    }

    pub fn from(self, a: &Address) -> PduBuilder {
        self.header(Header::From(FromValue::Address(a.to_encoded())))
    }

    pub fn from_insert_address(self) -> PduBuilder {
        self.header(Header::From(FromValue::InsertAddress))
    }

    pub fn to(self, a: &Address) -> PduBuilder {
        self.header(Header::Encoded(Field::TO, a.to_encoded()))
    }

    pub fn cc(self, a: &Address) -> PduBuilder {
        self.header(Header::Encoded(Field::CC, a.to_encoded()))
    }

    pub fn bcc(self, a: &Address) -> PduBuilder {
        self.header(Header::Encoded(Field::BCC, a.to_encoded()))
    }

    /// Subject: plain Text-string when ASCII, UTF-8 charset form otherwise.
    pub fn subject(self, s: &str) -> PduBuilder {
        let e = if s.is_ascii() {
            EncodedString::plain(s)
        } else {
            EncodedString::utf8(s)
        };
        self.header(Header::Encoded(Field::SUBJECT, e))
    }

    pub fn date(self, t: u64) -> PduBuilder {
        self.header(Header::Integer(Field::DATE, t))
    }

    pub fn message_class(self, c: MessageClass) -> PduBuilder {
        self.header(Header::MessageClass(c))
    }

    pub fn message_size(self, n: u64) -> PduBuilder {
        self.header(Header::Integer(Field::MESSAGE_SIZE, n))
    }

    pub fn expiry(self, t: TimeValue) -> PduBuilder {
        self.header(Header::Time(Field::EXPIRY, t))
    }

    pub fn delivery_time(self, t: TimeValue) -> PduBuilder {
        self.header(Header::Time(Field::DELIVERY_TIME, t))
    }

    pub fn content_location(self, uri: &str) -> PduBuilder {
        self.header(Header::Text(Field::CONTENT_LOCATION, uri.to_string()))
    }

    pub fn message_id(self, id: &str) -> PduBuilder {
        self.header(Header::Text(Field::MESSAGE_ID, id.to_string()))
    }

    pub fn status(self, s: Status) -> PduBuilder {
        self.header(Header::Token(Field::STATUS, s.0))
    }

    pub fn response_status(self, s: ResponseStatus) -> PduBuilder {
        self.header(Header::Token(Field::RESPONSE_STATUS, s.0))
    }

    pub fn response_text(self, t: &str) -> PduBuilder {
        self.header(Header::Encoded(
            Field::RESPONSE_TEXT,
            EncodedString::plain(t),
        ))
    }

    pub fn retrieve_status(self, s: RetrieveStatus) -> PduBuilder {
        self.header(Header::Token(Field::RETRIEVE_STATUS, s.0))
    }

    pub fn priority(self, p: Priority) -> PduBuilder {
        self.header(Header::Token(Field::PRIORITY, p.0))
    }

    pub fn delivery_report(self, yes: bool) -> PduBuilder {
        self.yes_no(Field::DELIVERY_REPORT, yes)
    }

    pub fn read_report(self, yes: bool) -> PduBuilder {
        self.yes_no(Field::READ_REPORT, yes)
    }

    pub fn report_allowed(self, yes: bool) -> PduBuilder {
        self.yes_no(Field::REPORT_ALLOWED, yes)
    }

    /// Any Yes/No field (Delivery-Report, Store, DRM-Content,
    /// Adaptation-Allowed, …).
    pub fn yes_no(self, f: Field, yes: bool) -> PduBuilder {
        let t = if yes { YesNo::YES } else { YesNo::NO };
        self.header(Header::Token(f, t.0))
    }

    /// X-Mms-Applic-ID (ENC 1.3 §7.3.2, 0x37).
    pub fn applic_id(self, id: &str) -> PduBuilder {
        self.header(Header::Text(Field::APPLIC_ID, id.to_string()))
    }

    /// X-Mms-Reply-Applic-ID (0x38).
    pub fn reply_applic_id(self, id: &str) -> PduBuilder {
        self.header(Header::Text(Field::REPLY_APPLIC_ID, id.to_string()))
    }

    /// X-Mms-Aux-Applic-Info (0x39).
    pub fn aux_applic_info(self, info: &str) -> PduBuilder {
        self.header(Header::Text(Field::AUX_APPLIC_INFO, info.to_string()))
    }

    /// An application header (Token-text name, Text-string value).
    pub fn application(self, name: &str, value: &str) -> PduBuilder {
        self.header(Header::Application {
            name: name.to_string(),
            value: value.to_string(),
        })
    }

    /// The PDU, headers in the required order.
    pub fn build(self) -> Pdu {
        let mut headers = vec![Header::MessageType(self.message_type)];
        if let Some(t) = self.transaction_id {
            headers.push(Header::Text(Field::TRANSACTION_ID, t));
        }
        headers.push(Header::Version(self.version));
        headers.extend(self.headers);
        let body = self.content.map(|(ct, body)| {
            headers.push(Header::ContentType(ct));
            body
        });
        let mut pdu = Pdu {
            raw: Vec::new(),
            order_violations: Vec::new(),
            headers,
            body,
            received: Vec::new(),
            received_body: None,
        };
        pdu.raw = pdu.encode();
        // Only a header smuggled in as `Header::Unknown` with a fixed-place
        // field can break the order; record it as a parse would.
        let mut offsets = Vec::new();
        let mut at = 0;
        for h in &pdu.headers {
            offsets.push(at);
            at += h.to_bytes().len();
        }
        pdu.order_violations = super::order_problems(&pdu.headers, &offsets);
        pdu
    }

    /// [`PduBuilder::build`], encoded.
    pub fn encode(self) -> Vec<u8> {
        self.build().raw().to_vec()
    }
}
