//! What the engine reports to its owner (the call center, a benchmark, a test).

use crate::media::recorder::RecordingInfo;
use crate::rtp::dtmf::DtmfDigit;
use crate::sip::registrar::RegistrarEvent;
use crate::sip::ua::{CallEvent, CallHandle, RegistrationState, TrunkHealth};

/// What the engine reports.
#[allow(clippy::large_enum_variant)] // a few events per call; see sip::ua::CallEvent
#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// A SIP-level call event (progress, answered, ended…).
    Call {
        /// Which call.
        call: CallHandle,
        /// What happened.
        event: CallEvent,
    },
    /// A SIP connection to `peer` could not be opened (refused, or a TLS handshake that failed:
    /// an untrusted trunk certificate); its calls have ended.
    TransportFailed {
        /// Whom we tried to reach.
        peer: std::net::SocketAddr,
        /// Why, for the log and the operator.
        error: String,
    },
    /// A key press from the patient (RFC 4733).
    Dtmf {
        /// Which call.
        call: CallHandle,
        /// The digit.
        digit: DtmfDigit,
    },
    /// The call's recording was created at `path` (written from now on, flushed every second).
    RecordingStarted {
        /// Which call.
        call: CallHandle,
        /// The WAV being written.
        path: std::path::PathBuf,
    },
    /// The call's recording is closed: store path, duration and SHA-256.
    Recording {
        /// Which call.
        call: CallHandle,
        /// The finished file.
        info: RecordingInfo,
    },
    /// Registration with the configured registrar changed.
    Registration(RegistrationState),
    /// An OPTIONS ping to the trunk was answered, or not.
    TrunkHealth(TrunkHealth),
    /// Our registrar bound, refreshed or removed a desk phone, or refused credentials.
    Registrar(RegistrarEvent),
    /// The recording could not be written on (disk full, I/O error): it stopped at `path`,
    /// the call goes on without it.
    RecordingFailed {
        /// Which call.
        call: CallHandle,
        /// The partial WAV.
        path: std::path::PathBuf,
        /// Why.
        error: String,
    },
    /// Recording or media failed for a call (the call itself may continue).
    MediaFailed {
        /// Which call.
        call: CallHandle,
        /// Why.
        error: String,
    },
}
