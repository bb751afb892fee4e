//! Push over SIP, sans-IO: the OMA push application feature tag
//! (`+g.oma.pusheventapp`) in Contact and Accept-Contact values, the
//! Accept-Contact a push agent sends, the Event header of a subscription,
//! and the `Date` header that goes with an `Expires`.
//!
//! Feature tags are Contact parameters (RFC 3840 §9); a UA lists the values
//! it supports in the Contact of its REGISTER (§6) or of its 200 to OPTIONS
//! (§8). A request names what it needs in Accept-Contact (RFC 3841 §9.2);
//! `require` and `explicit` ask that only a contact that explicitly
//! declared the feature be used (RFC 3841 §7.2.4). The OMA tag's
//! values are application IDs such as `mms.ua`; several are written as one
//! quoted, comma-separated list.

use super::sip::header_param;

/// The OMA Push feature tag that names the push application.
pub const PUSH_APP_TAG: &str = "+g.oma.pusheventapp";

/// The event package of the SUBSCRIBE/NOTIFY variant of Push over SIP when a
/// profile declares none. **A placeholder**: the package of the expired draft
/// draft-mdolly-sipping-push ("Event Package for Content Push Delivery") could
/// not be read from a second source, so the suite does not guess its name.
pub const PLACEHOLDER_PUSH_EVENT: &str = "x-liaison-push-unverified";

/// The Accept-Contact value a push agent sends for `app`:
/// `*;+g.oma.pusheventapp="app";require;explicit`.
///
/// ```
/// use liaison::codec::sip_push::accept_contact;
/// assert_eq!(accept_contact("mms.ua"), "*;+g.oma.pusheventapp=\"mms.ua\";require;explicit");
/// ```
pub fn accept_contact(app: &str) -> String {
    format!("*;{PUSH_APP_TAG}=\"{app}\";require;explicit")
}

/// The push application IDs a Contact or Accept-Contact value names with
/// `+g.oma.pusheventapp` (None when the tag is absent; an empty list when it
/// is present without a value). Quotes and `<…>` around values are removed.
///
/// ```
/// use liaison::codec::sip_push::push_apps;
/// let v = "<sip:d@127.0.0.1:5070>;+g.oma.pusheventapp=\"mms.ua,sms.ua\";expires=60";
/// assert_eq!(push_apps(v), Some(vec!["mms.ua".to_string(), "sms.ua".to_string()]));
/// assert_eq!(push_apps("<sip:d@127.0.0.1>"), None);
/// ```
pub fn push_apps(value: &str) -> Option<Vec<String>> {
    let raw = header_param(value, PUSH_APP_TAG)?;
    Some(
        raw.split(',')
            .map(|a| {
                a.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim()
            })
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Does a header value carry the flag parameter `name` (`require`, `explicit`)?
pub fn has_flag(value: &str, name: &str) -> bool {
    header_param(value, name).is_some()
}

/// The event package of an Event header value ([`super::sip::event_package`]).
pub use super::sip::event_package;

/// An RFC 1123 date in GMT, as SIP's `Date` header wants it (RFC 3261
/// §20.17), for a time given in seconds since 1970.
///
/// ```
/// use liaison::codec::sip_push::sip_date;
/// assert_eq!(sip_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
/// ```
pub fn sip_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1).clamp(0, 11) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_from_contact_and_accept_contact() {
        assert_eq!(
            push_apps(&accept_contact("mms.ua")),
            Some(vec!["mms.ua".to_string()])
        );
        let ac = accept_contact("mms.ua");
        assert!(has_flag(&ac, "require") && has_flag(&ac, "explicit"));
        assert!(!has_flag("*;+g.oma.pusheventapp=\"mms.ua\"", "require"));
        // Case-insensitive name, value in <…>, flag without a value.
        assert_eq!(
            push_apps("<sip:a@b>;+G.OMA.PushEventApp=\"<vms.ua>\""),
            Some(vec!["vms.ua".to_string()])
        );
        assert_eq!(push_apps("<sip:a@b>;+g.oma.pusheventapp"), Some(vec![]));
        // A parameter inside the URI is not a Contact parameter.
        assert_eq!(push_apps("<sip:a@b;+g.oma.pusheventapp=\"x\">"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(sip_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(sip_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(sip_date(1_289_690_940), "Sat, 13 Nov 2010 23:29:00 GMT");
    }

    #[test]
    fn never_panics() {
        for s in ["", ";", "\"", "<", ";+g.oma.pusheventapp=\"", "a;=;=\""] {
            let _ = push_apps(s);
            let _ = event_package(s);
            let _ = has_flag(s, "require");
        }
        let _ = sip_date(u64::MAX);
    }
}
