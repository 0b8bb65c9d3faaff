//! Who hears whom in a bridged call, one 20 ms frame at a time: the patient (SIP leg), the
//! nurse (agent line) and any number of monitors (supervisors listening, whispering or barging;
//! a doctor added as third party barges). Plain arithmetic, no I/O: the bridge task feeds it.
//!
//! The patient leg's recording is made from `to_patient` (left) and the patient (right), so
//! whatever this mixer keeps out of `to_patient` (a whisper) is also kept out of the record.

use crate::calls::FRAME_SAMPLES;

/// One 20 ms frame at 8 kHz.
pub type Frame = [i16; FRAME_SAMPLES];

/// Silence.
pub const SILENCE: Frame = [0; FRAME_SAMPLES];

/// How a monitor takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears both parties; nobody hears the monitor.
    Listen,
    /// Hears both; only the nurse hears the monitor (coaching).
    Whisper,
    /// A full third party: everyone hears everyone.
    Barge,
}

impl MonitorMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }
}

/// What every party should hear this tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixed {
    pub to_patient: Frame,
    pub to_nurse: Frame,
    /// One per monitor, in the order given.
    pub to_monitors: Vec<Frame>,
}

/// Mixing state: an announcement in progress.
#[derive(Debug, Default)]
pub struct Mixer {
    announcement: Option<(std::sync::Arc<Vec<i16>>, usize)>,
}

impl Mixer {
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// Plays `pcm` to both parties from the next tick (the consent announcement). While it
    /// plays, the nurse's microphone does not reach the patient, so the announcement is heard
    /// and recorded cleanly.
    pub fn announce(&mut self, pcm: std::sync::Arc<Vec<i16>>) {
        self.announcement = Some((pcm, 0));
    }

    /// True while an announcement is playing.
    pub fn announcing(&self) -> bool {
        self.announcement.is_some()
    }

    /// Mixes one tick. `nurse` is `None` when no frame arrived in time (silence).
    pub fn tick(
        &mut self,
        patient: &Frame,
        nurse: Option<&Frame>,
        monitors: &[(MonitorMode, Option<&Frame>)],
    ) -> Mixed {
        let nurse = nurse.unwrap_or(&SILENCE);
        let announcement = self.next_announcement_frame();
        let barge: Vec<&Frame> = monitors
            .iter()
            .filter(|(m, _)| *m == MonitorMode::Barge)
            .filter_map(|(_, f)| *f)
            .collect();
        let coach: Vec<&Frame> = monitors
            .iter()
            .filter(|(m, _)| *m != MonitorMode::Listen)
            .filter_map(|(_, f)| *f)
            .collect();

        let to_patient = match &announcement {
            Some(a) => sum(&[a]),
            None => sum(&[&[nurse], barge.as_slice()].concat()),
        };
        let mut to_nurse_parts: Vec<&Frame> = vec![patient];
        if let Some(a) = &announcement {
            to_nurse_parts.push(a);
        }
        to_nurse_parts.extend(coach.iter().copied());
        let to_nurse = sum(&to_nurse_parts);
        let program = announcement.as_ref().unwrap_or(nurse);
        let to_monitors = (0..monitors.len())
            .map(|me| {
                let mut parts: Vec<&Frame> = vec![patient, program];
                // every other barging party, never the monitor's own voice
                parts.extend(monitors.iter().enumerate().filter_map(|(i, (m, f))| {
                    (i != me && *m == MonitorMode::Barge)
                        .then_some(*f)
                        .flatten()
                }));
                sum(&parts)
            })
            .collect();
        Mixed {
            to_patient,
            to_nurse,
            to_monitors,
        }
    }

    fn next_announcement_frame(&mut self) -> Option<Frame> {
        let (pcm, pos) = self.announcement.as_mut()?;
        let mut frame = SILENCE;
        let end = (*pos + FRAME_SAMPLES).min(pcm.len());
        let chunk = pcm.get(*pos..end).unwrap_or(&[]);
        frame[..chunk.len()].copy_from_slice(chunk);
        *pos = end;
        if *pos >= pcm.len() {
            self.announcement = None;
        }
        Some(frame)
    }
}

/// Sum with saturation (clipping is rare at speech levels and better than wrap-around).
fn sum(parts: &[&Frame]) -> Frame {
    let mut out = SILENCE;
    for (i, o) in out.iter_mut().enumerate() {
        let s: i32 = parts.iter().map(|p| i32::from(p[i])).sum();
        *o = s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn level(v: i16) -> Frame {
        [v; FRAME_SAMPLES]
    }

    #[test]
    fn nurse_and_patient_hear_each_other() {
        let mut m = Mixer::new();
        let out = m.tick(&level(100), Some(&level(7)), &[]);
        assert_eq!(out.to_patient, level(7));
        assert_eq!(out.to_nurse, level(100));
        assert!(out.to_monitors.is_empty());
        // a late nurse frame is silence, not a repeat
        assert_eq!(m.tick(&level(100), None, &[]).to_patient, SILENCE);
    }

    #[test]
    fn announcement_reaches_both_and_mutes_the_nurse_until_it_ends() {
        let mut m = Mixer::new();
        m.announce(Arc::new(vec![1000; FRAME_SAMPLES + 10]));
        let first = m.tick(&level(5), Some(&level(7)), &[]);
        assert_eq!(first.to_patient, level(1000));
        assert_eq!(first.to_nurse, level(1005));
        let second = m.tick(&level(5), Some(&level(7)), &[]);
        assert_eq!(second.to_patient[..10], [1000; 10]);
        assert_eq!(second.to_patient[10..], [0; FRAME_SAMPLES - 10]);
        assert!(!m.announcing());
        assert_eq!(m.tick(&level(5), Some(&level(7)), &[]).to_patient, level(7));
    }

    #[test]
    fn whisper_reaches_only_the_nurse_and_barge_everyone() {
        let mut m = Mixer::new();
        let sup = level(30);
        let out = m.tick(
            &level(100),
            Some(&level(7)),
            &[(MonitorMode::Whisper, Some(&sup))],
        );
        assert_eq!(
            out.to_patient,
            level(7),
            "the patient never hears a whisper"
        );
        assert_eq!(out.to_nurse, level(130));
        assert_eq!(out.to_monitors, vec![level(107)]);

        let out = m.tick(
            &level(100),
            Some(&level(7)),
            &[
                (MonitorMode::Barge, Some(&sup)),
                (MonitorMode::Listen, Some(&level(1))),
            ],
        );
        assert_eq!(out.to_patient, level(37));
        assert_eq!(out.to_nurse, level(130));
        // the barging supervisor hears patient + nurse, not themself; the listener hears all
        assert_eq!(out.to_monitors, vec![level(107), level(137)]);
    }

    #[test]
    fn sums_saturate() {
        let mut m = Mixer::new();
        let out = m.tick(
            &level(i16::MAX),
            Some(&level(i16::MAX)),
            &[(MonitorMode::Listen, None)],
        );
        assert_eq!(out.to_monitors[0], level(i16::MAX));
    }
}
