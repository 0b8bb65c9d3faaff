//! The results sender (issue 17 item 5): the MLLP client that takes the outbox's queued rows to
//! the EMR, one message in flight on one connection at a time.
//!
//! The I/O shell around `hl7::results` (what the message says), `hl7::outbox` (what the reply
//! means) and `store::hl7_outbox` (the durable queue). A row is built into its message the
//! first time it is taken and resent unchanged afterwards; the connection is kept between
//! messages and dropped whenever the EMR's reply cannot be trusted to be in step (no reply, a
//! reply for another MSH-10), so a late ACK never settles the next message.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::followup::rules::contributors::contributing;
use crate::followup::rules::Answers;
use crate::followup::script::{QuestionId, QuestionKind, ScriptCatalog, Severity};
use crate::hl7::mllp::{frame, Frame, MllpDecoder};
use crate::hl7::outbox::{judge, Backoff, Reply, Verdict};
use crate::hl7::results::{
    build, AbnormalFlag, Addressing, FollowUpResult, ResultAnswer, ResultMessage,
};
use crate::store::hl7_outbox::{self as outbox, Due, TaskResult, TryOutcome};
use crate::store::{Store, StoreError};

/// How often the sender looks for newly queued rows when it has nothing due.
const IDLE_POLL: StdDuration = StdDuration::from_millis(500);
/// The largest ACK accepted from the EMR.
const MAX_ACK_BYTES: usize = 1 << 20;

/// What the sender needs, and nothing else.
pub struct ResultsSender {
    pub store: Store,
    pub clock: Clock,
    /// The scripts' wording of each question (OBX-3.2) and its unit (OBX-6).
    pub scripts: Arc<ScriptCatalog>,
    pub target: SocketAddr,
    pub kind: ResultMessage,
    pub addressing: Addressing,
    pub ack_timeout: StdDuration,
    pub backoff: Backoff,
}

impl ResultsSender {
    /// The sender as `[hl7.results]` configures it; `None` when it names no target.
    pub fn new(
        config: &crate::config::Config,
        store: Store,
        clock: Clock,
        scripts: Arc<ScriptCatalog>,
    ) -> Result<Option<ResultsSender>, crate::config::ConfigError> {
        let hl7 = &config.hl7;
        let Some(target) = hl7.results.target else {
            return Ok(None);
        };
        let facility = if hl7.facility.is_empty() {
            config.hospital.name.clone()
        } else {
            hl7.facility.clone()
        };
        Ok(Some(ResultsSender {
            store,
            clock,
            scripts,
            target,
            kind: hl7.results.message_kind()?,
            addressing: hl7.results.addressing(&hl7.application, &facility),
            ack_timeout: StdDuration::from_secs(hl7.results.ack_timeout_seconds),
            backoff: hl7.results.backoff(),
        }))
    }

    /// The message of a task's result, the scripts' wording added to what the store read.
    fn message(&self, r: TaskResult, control_id: &str) -> Vec<u8> {
        let flags = answer_flags(&self.scripts, &r, self.clock.now());
        let answers = r
            .answers
            .into_iter()
            .map(|a| {
                let question = self
                    .scripts
                    .get(&a.script_code)
                    .and_then(|s| s.question(&a.question_id));
                let unit = question.and_then(|q| match &q.kind {
                    QuestionKind::Number { unit, .. } => Some(unit.clone()),
                    _ => None,
                });
                ResultAnswer {
                    question: question
                        .map(|q| q.text.en.clone())
                        .unwrap_or_else(|| a.question_id.clone()),
                    flag: flags.get(&a.question_id).copied(),
                    question_id: a.question_id,
                    value: a.value,
                    unit,
                    answered_at: a.answered_at,
                }
            })
            .collect();
        let result = FollowUpResult {
            task_id: r.task_id,
            step_name: r.step_name,
            script_code: r.script_code,
            patient: r.patient,
            visit_number: r.visit_number,
            completed_at: r.completed_at,
            answers,
            notes: r.notes,
        };
        build(
            &result,
            self.kind,
            &self.addressing,
            control_id,
            self.clock.now(),
        )
        .into_bytes()
    }

    /// The row's message and MSH-10: as built before, or built and fixed now.
    async fn built(&self, due: &Due) -> Result<(String, Vec<u8>), StoreError> {
        if let Some(b) = &due.built {
            return Ok(b.clone());
        }
        let task = due.task_id;
        let result = self
            .store
            .read(move |c| outbox::task_result(c, task))
            .await?;
        let control_id = format!("SFR{}", due.id);
        let bytes = self.message(result, &control_id);
        let (id, kind) = (due.id, self.kind.message_type());
        let (c, b) = (control_id.clone(), bytes.clone());
        self.store
            .write(move |tx| outbox::set_message(tx, id, kind, &c, &b))
            .await?;
        Ok((control_id, bytes))
    }
}

/// OBX-8 per question: for each rule that fired on the task's answers, the answers that made
/// it hold (`followup::rules::contributors`) get its severity as A or AA. A rule no longer in
/// the scripts flags every question its evidence quoted.
fn answer_flags(
    scripts: &ScriptCatalog,
    r: &TaskResult,
    now: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<String, AbnormalFlag> {
    let answers: Answers = r
        .answers
        .iter()
        .map(|a| (QuestionId(a.question_id.clone()), a.value.clone()))
        .collect();
    let mut flags = BTreeMap::new();
    for fired in &r.fired {
        let rule = scripts
            .get(&fired.script_code)
            .and_then(|s| Some((s, s.rule(&fired.rule_id)?)));
        let holding: Vec<String> = match rule {
            Some((script, rule)) => contributing(script, rule, &answers, now)
                .into_iter()
                .map(|q| q.0)
                .collect(),
            None => fired.questions.clone(),
        };
        let flag = match fired.severity {
            Severity::Routine | Severity::High => AbnormalFlag::Abnormal,
            Severity::Urgent | Severity::Emergency => AbnormalFlag::Critical,
        };
        for q in fired.questions.iter().filter(|q| holding.contains(q)) {
            let slot = flags.entry(q.clone()).or_insert(flag);
            *slot = (*slot).max(flag);
        }
    }
    flags
}

/// Sends one message on the connection (opened if there is none) and waits for its reply.
async fn exchange(link: &mut Option<TcpStream>, sender: &ResultsSender, message: &[u8]) -> Reply {
    if link.is_none() {
        match tokio::time::timeout(sender.ack_timeout, TcpStream::connect(sender.target)).await {
            Ok(Ok(s)) => *link = Some(s),
            Ok(Err(e)) => {
                return Reply::Failed(format!("cannot connect to {}: {e}", sender.target))
            }
            Err(_) => return Reply::Failed(format!("connecting to {} timed out", sender.target)),
        }
    }
    let Some(stream) = link.as_mut() else {
        return Reply::Failed("no connection".into());
    };
    if let Err(e) = stream.write_all(&frame(message)).await {
        return Reply::Failed(format!("send failed: {e}"));
    }
    let mut decoder = MllpDecoder::new(MAX_ACK_BYTES);
    let mut buf = vec![0u8; 8 * 1024];
    let wait = async {
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) => return Reply::Closed,
                Ok(n) => n,
                Err(e) => return Reply::Failed(format!("receive failed: {e}")),
            };
            match decoder.push(&buf[..n]) {
                // one message in flight: the first frame is the reply (judged by its MSA-2)
                Ok(frames) => {
                    if let Some(Frame::Message(bytes)) = frames.into_iter().next() {
                        return Reply::Frame(bytes);
                    }
                }
                Err(e) => return Reply::Failed(e.to_string()),
            }
        }
    };
    match tokio::time::timeout(sender.ack_timeout, wait).await {
        Ok(reply) => reply,
        Err(_) => Reply::Timeout,
    }
}

/// Takes queued rows to the EMR until `stop` turns true.
pub async fn run(sender: ResultsSender, mut stop: watch::Receiver<bool>) {
    let mut link: Option<TcpStream> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = sender.clock.now();
        let due = match sender.store.read(move |c| outbox::next_due(c, now)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "results outbox: cannot read the queue");
                None
            }
        };
        let Some(due) = due else {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        };
        let outcome = match sender.built(&due).await {
            // a task whose result cannot be read or built will not improve by waiting
            Err(e) => TryOutcome::Refused {
                ack_code: String::new(),
                error: format!("could not build the message: {e}"),
            },
            Ok((control_id, message)) => {
                let reply = tokio::select! {
                    r = exchange(&mut link, &sender, &message) => r,
                    _ = stop.wait_for(|s| *s) => return,
                };
                match judge(&control_id, &reply) {
                    Verdict::Delivered { ack_code } => {
                        tracing::info!(outbox = due.id, control_id, "result delivered to the EMR");
                        TryOutcome::Delivered { ack_code }
                    }
                    Verdict::Refused { ack_code, error } => {
                        tracing::warn!(
                            outbox = due.id,
                            control_id,
                            ack_code,
                            error,
                            "the EMR refused a result"
                        );
                        TryOutcome::Refused { ack_code, error }
                    }
                    Verdict::Retry {
                        error,
                        drop_connection,
                    } => {
                        if drop_connection {
                            link = None;
                        }
                        let next_attempt_at = sender
                            .backoff
                            .next_attempt(due.attempts + 1, sender.clock.now());
                        tracing::info!(outbox = due.id, control_id, error, %next_attempt_at, "result not delivered; will retry");
                        TryOutcome::Retry {
                            error,
                            next_attempt_at,
                        }
                    }
                }
            }
        };
        let (id, now) = (due.id, sender.clock.now());
        if let Err(e) = sender
            .store
            .write(move |tx| outbox::record_try(tx, id, &outcome, now))
            .await
        {
            // not recorded: the row is still queued and due, so it is simply tried again
            tracing::error!(outbox = id, error = %e, "results outbox: cannot record a try");
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
