//! The clinical domain: patients, pathways, the daily queue, scripts, rules and escalations.
//! Pure logic over plain types; storage goes through `crate::store`.

pub mod admission;
pub mod calling_hours;
pub mod discipline;
pub mod escalation;
pub mod import;
pub mod lab;
pub mod link;
pub mod metrics;
pub mod note;
pub mod pathway;
pub mod patient;
pub mod phone;
pub mod retry;
pub mod review;
pub mod rules;
pub mod script;
pub mod sms;
pub mod tag;
