//! What the interfaces page shows of the inbound HL7 feed (issue 17 item 7): messages stored
//! by status and when the last one came in.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;

use super::StoreError;

/// The inbound feed at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct InboundSummary {
    /// Messages stored, by status (`applied`, `failed`, `rejected`, …).
    pub counts: BTreeMap<String, i64>,
    /// Unix seconds of the newest message, if any came in.
    pub last_received_at: Option<i64>,
}

pub fn inbound_summary(conn: &Connection) -> Result<InboundSummary, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT status, COUNT(*) FROM hl7_messages GROUP BY status")?;
    let counts = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let last_received_at =
        conn.query_row("SELECT MAX(received_at) FROM hl7_messages", [], |r| {
            r.get(0)
        })?;
    Ok(InboundSummary {
        counts,
        last_received_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn counts_messages_by_status_and_knows_the_newest() {
        let (_d, store) = temp_store();
        let empty = store.read_blocking(inbound_summary).unwrap();
        assert!(empty.counts.is_empty() && empty.last_received_at.is_none());
        store
            .write_blocking(|tx| {
                for (at, status, ctl) in [
                    (100, "applied", "A"),
                    (300, "failed", "B"),
                    (200, "applied", "C"),
                ] {
                    tx.execute(
                        "INSERT INTO hl7_messages (received_at, peer, sending_application,
                             sending_facility, control_id, message_type, raw, status, ack_code)
                         VALUES (?1, '127.0.0.1:1', 'HIS', 'HOSP', ?3, 'ADT^A03', x'00', ?2, 'AA')",
                        rusqlite::params![at, status, ctl],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let s = store.read_blocking(inbound_summary).unwrap();
        assert_eq!((s.counts["applied"], s.counts["failed"]), (2, 1));
        assert_eq!(s.last_received_at, Some(300));
    }
}
