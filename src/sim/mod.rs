//! The simulated patient phone (`suifang sim-patient`): a real SIP user agent on UDP that the
//! demo and the tests call through the same path as a real trunk. What it does depends on the
//! number dialled, so one simulator plays every outcome a nurse meets:
//!
//! | dialled user starts with | behaviour |
//! | --- | --- |
//! | `busy` | 486 Busy Here |
//! | `decline` | 603 Decline |
//! | `wrong` | 404 Not Found |
//! | `noanswer` | rings until the caller gives up |
//! | anything else (a phone number) | rings, answers, speaks the patient's recorded answers, sends the RFC 4733 digits `1#`, hangs up |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::calls::{Engine, EngineConfig, EngineEvent, LegAudio};
use crate::sip::ua::{CallEvent, CallHandle};

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read the patient audio {path}: {message}")]
    Audio { path: String, message: String },
    #[error("cannot start the SIP engine: {0}")]
    Engine(String),
}

/// Settings of one simulated phone.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub listen: SocketAddr,
    /// Rings this long before answering.
    pub ring: Duration,
    /// Hangs up this long after answering (unless the caller hangs up first).
    pub hangup_after: Duration,
    /// Where the simulator keeps its own recordings (what it heard, what it said).
    pub recordings_dir: std::path::PathBuf,
}

/// What to do with an incoming call, from the dialled user part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Answer,
    Reject(u16),
    Ring,
}

pub fn behaviour_for(user: &str) -> Behaviour {
    let user = user.to_ascii_lowercase();
    if user.starts_with("busy") {
        Behaviour::Reject(486)
    } else if user.starts_with("decline") {
        Behaviour::Reject(603)
    } else if user.starts_with("wrong") {
        Behaviour::Reject(404)
    } else if user.starts_with("noanswer") {
        Behaviour::Ring
    } else {
        Behaviour::Answer
    }
}

/// Loads the patient's speech as 8 kHz mono samples (any format symphonia decodes).
pub fn load_audio(path: &Path) -> Result<Arc<Vec<i16>>, SimError> {
    let err = |message: String| SimError::Audio {
        path: path.display().to_string(),
        message,
    };
    let audio = crate::transcribe::audio::decode_file(path).map_err(|e| err(e.to_string()))?;
    let first = audio
        .channels
        .first()
        .ok_or_else(|| err("no audio channel".into()))?;
    // decode_file gives 16 kHz: bring it to the telephone rate once, here, not per call.
    let eight =
        crate::media::resample::resample(first, crate::transcribe::audio::SAMPLE_RATE, 8000);
    if eight.is_empty() {
        return Err(err("the file holds no audio".into()));
    }
    Ok(Arc::new(
        eight
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect(),
    ))
}

/// Runs the simulator until `shutdown` resolves. Prints each call's fate on stderr.
pub async fn run(
    opts: SimOptions,
    audio: Arc<Vec<i16>>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SimError> {
    let mut cfg = EngineConfig::loopback(opts.recordings_dir.clone());
    cfg.sip_bind = opts.listen;
    cfg.rtp_ip = opts.listen.ip();
    cfg.from_user = "patient".into();
    cfg.rtp_ports = 40000..=44998;
    let mut engine = Engine::start(cfg)
        .await
        .map_err(|e| SimError::Engine(e.to_string()))?;
    eprintln!("sim-patient: listening on sip:{} (dial a number to be answered; busy…/decline…/wrong…/noanswer… for the other outcomes)", engine.sip_addr());
    let (timers_tx, mut timers) = tokio::sync::mpsc::channel::<(CallHandle, Action)>(64);
    let mut calls: HashMap<CallHandle, u32> = HashMap::new();
    let mut counter = 0u32;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some((call, action)) = timers.recv() => {
                if !calls.contains_key(&call) {
                    continue;
                }
                let result = match action {
                    Action::Answer => {
                        counter += 1;
                        let leg = LegAudio::recorded_playing(&format!("sim-{}-{counter}", std::process::id()), audio.clone());
                        let r = engine.answer_leg(call, leg).await;
                        schedule(&timers_tx, call, Action::Digits, Duration::from_secs(2));
                        schedule(&timers_tx, call, Action::Hangup, opts.hangup_after);
                        r
                    }
                    Action::Digits => engine.send_dtmf(call, "1#").await,
                    Action::Hangup => engine.hangup(call).await,
                };
                if let Err(e) = result {
                    eprintln!("sim-patient: call {call:?}: {e}");
                }
            }
            event = engine.next_event() => {
                let Some(event) = event else { break };
                match event {
                    EngineEvent::Call { call, event: CallEvent::Incoming { to, .. } } => {
                        let user = to.uri.user.clone().unwrap_or_default();
                        let behaviour = behaviour_for(&user);
                        eprintln!("sim-patient: call to {user}: {behaviour:?}");
                        calls.insert(call, 0);
                        match behaviour {
                            Behaviour::Reject(status) => {
                                if let Err(e) = engine.reject(call, status).await {
                                    eprintln!("sim-patient: reject: {e}");
                                }
                            }
                            Behaviour::Answer => schedule(&timers_tx, call, Action::Answer, opts.ring),
                            Behaviour::Ring => {}
                        }
                    }
                    EngineEvent::Call { call, event: CallEvent::Ended { outcome, .. } } => {
                        calls.remove(&call);
                        eprintln!("sim-patient: call ended: {outcome:?}");
                    }
                    EngineEvent::Dtmf { digit, .. } => eprintln!("sim-patient: heard digit {digit:?}"),
                    _ => {}
                }
            }
        }
    }
    engine.shutdown().await;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Answer,
    Digits,
    Hangup,
}

fn schedule(
    tx: &tokio::sync::mpsc::Sender<(CallHandle, Action)>,
    call: CallHandle,
    action: Action,
    after: Duration,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let _ = tx.send((call, action)).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialled_user_picks_the_outcome() {
        assert_eq!(behaviour_for("+8613800000001"), Behaviour::Answer);
        assert_eq!(behaviour_for("busy-1"), Behaviour::Reject(486));
        assert_eq!(behaviour_for("Decline"), Behaviour::Reject(603));
        assert_eq!(behaviour_for("wrong"), Behaviour::Reject(404));
        assert_eq!(behaviour_for("noanswer"), Behaviour::Ring);
    }
}
