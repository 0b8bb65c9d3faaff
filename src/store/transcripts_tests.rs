use chrono::{TimeZone, Utc};

use super::*;
use crate::store::phi_access::CallReader;
use crate::store::temp_store;
use crate::store::transcript_search::{search, SearchMode};

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000, 0).unwrap()
}

fn add_recording(tx: &Transaction, call: &str, status: &str) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO calls (id, direction, state, started_at) VALUES (?1, 'outbound', 'ended', 0)",
        [call],
    )?;
    tx.execute(
        "INSERT INTO recordings (call_id, path, status, created_at) VALUES (?1, ?2, ?3, 0)",
        params![call, format!("/rec/{call}.wav"), status],
    )?;
    Ok(tx.last_insert_rowid())
}

fn seg(speaker: Speaker, start_ms: u64, text: &str) -> NewSegment {
    NewSegment {
        speaker,
        start_ms,
        end_ms: start_ms + 1000,
        text: text.into(),
        confidence: 0.9,
    }
}

#[test]
fn finished_recordings_are_queued_once_claimed_by_priority_and_recovered_after_a_crash() {
    let (_dir, store) = temp_store();
    let (jobs, recovered, again) = store
        .write_blocking(|tx| {
            let done = add_recording(tx, "c1", "complete")?;
            add_recording(tx, "c2", "recording")?;
            let repaired = add_recording(tx, "c3", "repaired")?;
            assert_eq!(enqueue_finished(tx, "base", "zh", now())?, 2);
            assert_eq!(enqueue_finished(tx, "base", "zh", now())?, 0, "once");
            // a person's request overtakes the backlog
            let asked = request(tx, RecordingId(repaired), "tiny.en", "en", None, now())?;
            assert!(matches!(
                request(tx, RecordingId(repaired), "tiny.en", "en", None, now()),
                Err(StoreError::Conflict(_))
            ));
            let first = claim_next(tx, now())?.expect("a job");
            assert_eq!((first.id, first.model.as_str()), (asked, "tiny.en"));
            let second = claim_next(tx, now())?.expect("a job");
            assert_eq!(second.recording, RecordingId(done));
            assert_eq!(second.path, PathBuf::from("/rec/c1.wav"));
            // the server dies here: both are 'running'
            let recovered = requeue_interrupted(tx, 3, now())?;
            let again = claim_next(tx, now())?.expect("requeued");
            Ok((vec![first, second], recovered, again))
        })
        .unwrap();
    assert_eq!(
        recovered,
        Recovered {
            requeued: 2,
            failed: 0
        }
    );
    assert_eq!((again.id, again.attempts), (jobs[0].id, 2));
    // a job interrupted max_attempts times is failed, not retried forever
    let again_id = again.id.0;
    let (recovered, status) = store
        .write_blocking(move |tx| {
            let r = requeue_interrupted(tx, 2, now())?;
            let s: (String, String) = tx.query_row(
                "SELECT status, error FROM transcripts WHERE id = ?1",
                [again_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((r, s))
        })
        .unwrap();
    assert_eq!(recovered.failed, 1);
    assert_eq!(status.0, "failed");
    assert!(status.1.contains("interrupted 2 times"), "{}", status.1);
}

#[test]
fn segments_are_stored_in_time_order_and_searchable_in_chinese_and_english() {
    let (_dir, store) = temp_store();
    let id = store
        .write_blocking(|tx| {
            add_recording(tx, "c1", "complete")?;
            enqueue_finished(tx, "base", "zh", now())?;
            let job = claim_next(tx, now())?.expect("job");
            complete(
                tx,
                job.id,
                "zh",
                &[
                    seg(Speaker::Patient, 7_900, "我最近血压很高，还有点心痛。"),
                    seg(Speaker::Agent, 500, "您好，我是医院的护士。"),
                    seg(Speaker::Patient, 12_000, "I have Chest Pain at night."),
                ],
                now(),
            )?;
            Ok(job.id)
        })
        .unwrap();
    let (segs, jobs) = store
        .read_blocking(|c| Ok((segments(c, id)?, jobs_of_call(c, "c1")?)))
        .unwrap();
    let starts: Vec<u64> = segs.iter().map(|s| s.start_ms).collect();
    assert_eq!(starts, [500, 7_900, 12_000]);
    assert_eq!(segs[1].speaker, Speaker::Patient);
    assert_eq!(jobs[0].status, JobStatus::Done);

    let find = |q: &str| {
        store
            .read_blocking(|c| search(c, q, 10, CallReader::AnyCall))
            .unwrap()
    };
    let (mode, hits) = find("血压很高");
    assert_eq!(mode, SearchMode::Fts);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].call_id, "c1");
    assert_eq!(hits[0].start_ms, 7_900);
    let (mode, hits) = find("chest pain");
    assert_eq!((mode, hits.len()), (SearchMode::Fts, 1), "case-insensitive");
    // two characters: below the trigram minimum, answered by a substring scan
    let (mode, hits) = find("心痛");
    assert_eq!((mode, hits.len()), (SearchMode::Substring, 1));
    assert_eq!(find("护士").1[0].speaker, Speaker::Agent);
    assert!(find("胃疼").1.is_empty());
    // FTS syntax and LIKE wildcards in user input are literal
    assert!(find("\"OR* NEAR(").1.is_empty());
    assert!(find("%").1.is_empty());
    assert!(store
        .read_blocking(|c| search(c, "  ", 10, CallReader::AnyCall))
        .is_err());
    // a nurse who neither took the call nor holds a task of its patient finds nothing
    let stranger = CallReader::Nurse {
        user_id: 999_999,
        now: now().timestamp(),
    };
    let (_, hits) = store
        .read_blocking(|c| search(c, "血压很高", 10, stranger))
        .unwrap();
    assert!(hits.is_empty());
}
