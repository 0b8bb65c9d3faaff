//! HL7 v2 from the hospital's systems (issue 17): the sans-IO core.
//!
//! The interface engine (Mirth/NextGen Connect, Rhapsody, or the HIS itself) sends admissions,
//! discharges and lab results as HL7 v2 messages framed with MLLP over TCP. This module is the
//! part without sockets, clocks or a database, tested on its own:
//!
//! - [`mllp`]: frames in and out of a byte stream, with a size limit;
//! - [`charset`]: MSH-18 (UTF-8, GB 18030 / GB 2312, 8859/1, Big5) and decoding that refuses
//!   bytes invalid in the declared set instead of replacing them;
//! - [`message`]: segments, fields, repetitions, components and escapes, lenient where real
//!   feeds are sloppy and strict where it matters;
//! - [`header`]: what MSH says (event, control id, version, acknowledgement mode);
//! - [`ack`]: AA/AE/AR and CA/CE/CR replies with ERR segments naming the field.
//!
//! - [`adt`]: A03 / A08 / A13 / A11 read into the patient, discharge or visit they are about;
//! - [`admit`]: A01 / A04 into the admission, A40 into the merge;
//! - [`oru`]: ORU^R01 lab results resolved through the lab catalogue (`followup::lab`).
//! - [`results`]: a completed follow-up as ORU^R01 or MDM^T02 for the EMR (results back);
//! - [`outbox`]: what the results sender decides from the EMR's ACK (MSA-2 matching, backoff).
//!
//! The I/O shell is `service::hl7` (the MLLP listener); what a message does to the record, and
//! the store-before-ACK rule, is `store::hl7` (and `store::hl7_admit`; for lab results
//! `service::labs`, which stores them with `store::labs` and runs the scripts' `lab()` rules).
//! The results sender's shell is `service::hl7_results`, its outbox `store::hl7_outbox`.

pub mod ack;
pub mod admit;
pub mod adt;
pub mod charset;
pub mod header;
pub mod message;
pub mod mllp;
pub mod oru;
pub mod outbox;
pub mod results;
