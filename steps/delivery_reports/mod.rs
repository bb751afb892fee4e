//! Steps of `features/delivery-reports/` (seed 001: delivery-report
//! integrity when SMS and IM interwork).

pub mod large_message;
pub mod msrp_relay;
pub mod pager;
pub mod sms_iwf;
