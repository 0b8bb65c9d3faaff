//! The robot dialer (issue 24): takes due robot tasks (`store::robot::due_tasks`: pending,
//! window open, next attempt due, never do-not-call or deceased, not already on a robot call)
//! inside calling hours, keeps at most `robot.max_concurrent_calls` robot calls up and starts
//! at most `robot.calls_per_minute`, and asks the call center to place each one; a task in a
//! language the robot cannot speak intelligibly (`robot_voice::speaks_intelligibly`) goes to
//! the nurses instead, and one whose call could not be placed waits. What a call
//! does to its task (retry policy, nurse follow-up) is written when it ends
//! (`telephony::robot`).

use std::time::Duration;

use tokio::sync::watch;

use super::center::{CallCenter, RobotDial};
use super::robot_voice::speaks_intelligibly;
use crate::robot::after_call::FAILED_ON_OUR_SIDE_RETRY_SECONDS;
use crate::store::robot as db;

/// What the dialer uses.
#[derive(Clone)]
pub struct DialerHandles {
    pub store: crate::store::Store,
    pub config: std::sync::Arc<crate::config::Config>,
    pub clock: crate::clock::Clock,
    pub locale: crate::followup::retry::Locale,
    pub calls: CallCenter,
}

/// Runs until `stop`; with the robot or telephony off it only waits for `stop`.
pub async fn run(h: DialerHandles, mut stop: watch::Receiver<bool>) {
    let robot = &h.config.robot;
    if !robot.enabled || !h.config.sip.enabled {
        let _ = stop.changed().await;
        return;
    }
    let pace = Duration::from_millis(60_000 / u64::from(robot.calls_per_minute.max(1)));
    let mut poll = tokio::time::interval(Duration::from_secs(robot.poll_seconds.max(1)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_start = tokio::time::Instant::now();
    tracing::info!(
        max_calls = robot.max_concurrent_calls,
        per_minute = robot.calls_per_minute,
        "robot dialer running"
    );
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = poll.tick() => {}
        }
        let now = h.clock.now();
        if !h.locale.within_calling_hours(now) {
            continue;
        }
        let max = i64::from(robot.max_concurrent_calls);
        let due = h
            .store
            .read(move |c| {
                let free = max - db::live_calls(c)?;
                if free <= 0 {
                    return Ok(Vec::new());
                }
                db::due_tasks(c, now, free)
            })
            .await;
        let due = match due {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "robot dialer could not read due tasks");
                continue;
            }
        };
        for task in due {
            if !speaks_intelligibly(task.lang) {
                tracing::warn!(
                    task = task.task_id,
                    lang = task.lang.as_str(),
                    "the robot cannot speak this language intelligibly: the task goes to the nurses"
                );
                let task_id = task.task_id;
                let handed = h
                    .store
                    .write(move |tx| db::hand_to_nurses_uncalled(tx, task_id, now))
                    .await;
                if let Err(e) = handed {
                    tracing::error!(task = task_id, error = %e, "robot task not handed to the nurses");
                }
                continue;
            }
            // pacing: one start per 60/calls_per_minute seconds
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep_until(next_start) => {}
            }
            next_start = tokio::time::Instant::now() + pace;
            let dial = RobotDial {
                task_id: task.task_id,
                patient_id: task.patient_id,
                number: task.number,
                lang: task.lang,
                script_code: task.script_code,
                mode: task.mode,
            };
            if let Err(e) = h.calls.dial_robot(dial).await {
                // not the patient's doing (no trunk, the script not loaded, calling hours
                // just closed): no attempt counted, but not redialled at every poll either
                tracing::warn!(task = task.task_id, error = %e, "robot call not placed");
                let (task_id, until) = (
                    task.task_id,
                    h.clock.now() + chrono::Duration::seconds(FAILED_ON_OUR_SIDE_RETRY_SECONDS),
                );
                if let Err(e) = h.store.write(move |tx| db::defer(tx, task_id, until)).await {
                    tracing::error!(task = task_id, error = %e, "robot task not deferred");
                }
            }
        }
    }
}
