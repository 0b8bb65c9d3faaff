//! The integration tests: one binary (as ripgrep does), one module per area, so the crate
//! (webrtc, whisper.cpp) is linked once instead of once per file. Run one area with
//! `cargo test --test it call_outcomes::`, one test with its full `module::name`.
//!
//! All modules share one process: helpers in `common` must not rely on process-global state
//! (environment, current directory), and tests that must not overlap take a lock from
//! `common::serial`.

mod common;

mod api_foundation;
mod call_center;
mod call_crash;
mod call_inbound;
mod call_malformed;
mod call_outcomes;
mod call_supervision;
mod console_api;
mod console_e2e;
mod demo_newcomer;
mod desk_phone;
mod edge;
mod escalation_flow;
mod fhir_api;
mod hl7_admissions;
mod hl7_labs;
mod hl7_mllp;
mod hl7_results;
mod model_fetch;
mod notes;
mod outcomes_patient;
mod outcomes_report;
mod recording_disk_full;
mod recording_retention;
mod registrar_lockout;
mod robot_calls;
mod rtp_latch;
mod scripts_answers;
mod scripts_escalation;
mod scripts_fuzz;
mod scripts_loader;
mod scripts_pathways;
mod scripts_rules;
mod scripts_transcript;
mod sim_patient;
mod sip_bridge;
mod sip_dtmf_echo;
mod sip_failures;
mod sip_inbound;
mod sip_outbound;
mod sip_tcp;
mod sip_tcp_edge;
mod sip_tls;
mod sip_trust;
mod sms_link;
mod transcribe_audio;
mod transcribe_espeak;
mod transcribe_nonspeech;
mod transcribe_pipeline;
mod transcribe_recovery;
mod transcribe_worker;
mod trunk_health;
mod webrtc_line;
mod webrtc_media;
mod webrtc_signaling;
