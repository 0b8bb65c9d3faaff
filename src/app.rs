//! The application's shared handles ([`AppState`]): storage, configuration, the clock, the
//! catalogues, the live event bus, the agent lines, the call center and the transcription wake.
//! It sits above the services it holds and below the web layer and the server that build on it.

use std::sync::{Arc, Mutex};

use chrono::Duration;

use crate::auth::ratelimit::LoginLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::retry::Locale;
use crate::followup::script::ScriptCatalog;
use crate::store::Store;

/// The application's shared handles, built once at start-up: what the HTTP handlers read, and
/// what the server hands out — each background task gets only the handles it uses (see
/// `telephony::CenterHandles`, `service::transcription::Handles`), never the whole of this.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub pathways: Arc<PathwayCatalog>,
    pub scripts: Arc<ScriptCatalog>,
    pub calendar: Arc<Calendar>,
    pub locale: Locale,
    pub login_limiter: Arc<Mutex<LoginLimiter>>,
    /// Patient-link requests per client address (`sms.link_requests_per_minute`).
    pub link_limiter: Arc<Mutex<LoginLimiter>>,
    /// Bounds the argon2 verifications running at once (`auth.max_concurrent_verifications`).
    pub verifications: crate::auth::slots::Slots,
    /// `http.trusted_proxies`, parsed: whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub events: crate::events::EventBus,
    /// Agent lines (WebRTC); the SIP bridge attaches calls through it.
    pub lines: crate::webrtc::Lines,
    /// The call center (SIP engine and live calls).
    pub calls: crate::telephony::CallCenter,
    /// Wakes the transcription pipeline (a recording was finalized, a re-transcription asked).
    pub transcription: crate::service::transcription::Wake,
    /// The recordings folder and the rule for the paths stored in `recordings.path`.
    pub recordings: crate::store::recording_files::RecordingsRoot,
}

impl AppState {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Clock,
        pathways: PathwayCatalog,
        scripts: ScriptCatalog,
        lines: crate::webrtc::Lines,
        calls: crate::telephony::CallCenter,
    ) -> Result<AppState, crate::config::ConfigError> {
        let tz = config.time_zone()?;
        let locale = Locale {
            tz,
            hours: config.calling_hours()?,
        };
        let calendar = Calendar {
            tz,
            holidays: config.hospital.holidays.clone(),
            tcm_two_business_days: config.hospital.tcm_two_business_days,
        };
        let limiter = LoginLimiter::new(
            config.auth.login_max_failures,
            Duration::minutes(config.auth.login_window_minutes),
        );
        Ok(AppState {
            store,
            clock,
            pathways: Arc::new(pathways),
            scripts: Arc::new(scripts),
            calendar: Arc::new(calendar),
            locale,
            login_limiter: Arc::new(Mutex::new(limiter)),
            link_limiter: Arc::new(Mutex::new(LoginLimiter::new(
                config.sms.link_requests_per_minute,
                Duration::minutes(1),
            ))),
            verifications: crate::auth::slots::Slots::new(config.auth.max_concurrent_verifications),
            trusted_proxies: Arc::new(config.http.trusted_proxies()?),
            events: crate::events::EventBus::default(),
            lines,
            calls,
            transcription: Default::default(),
            recordings: crate::store::recording_files::RecordingsRoot::new(
                &config.recordings_path(),
            ),
            config,
        })
    }

    pub fn lease(&self) -> Duration {
        Duration::minutes(self.config.queue.lease_minutes)
    }
}
