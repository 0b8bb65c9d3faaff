//! Database questions the call center asks: whom a nurse may dial for a task, and who should
//! take a patient's call-back.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension};

use crate::followup::calling_hours::CallingHours;
use crate::followup::phone::PhoneNumber;
use crate::followup::retry::Locale;
use crate::store::StoreError;

/// Refuses a dial outside the hospital's calling hours (REST, agent socket, desk phone). Calls a
/// doctor places about an escalation (`POST /patients/{id}/call`) are not checked: an emergency
/// finding at 19:55 must still reach the patient.
pub fn check_calling_hours(locale: &Locale, at: DateTime<Utc>) -> Result<(), DialRefusal> {
    if locale.within_calling_hours(at) {
        Ok(())
    } else {
        Err(DialRefusal::OutsideCallingHours {
            hours: locale.hours,
            zone: locale.tz,
        })
    }
}

/// Which of the patient's numbers to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    Primary,
    Alternate,
}

impl Contact {
    pub fn as_str(self) -> &'static str {
        match self {
            Contact::Primary => "primary",
            Contact::Alternate => "alternate",
        }
    }
}

/// A task's call target, after the checks a nurse's click must pass.
#[derive(Debug, Clone)]
pub struct DialTarget {
    pub patient_id: i64,
    pub number: String,
    pub contact: Contact,
}

/// Why a task cannot be dialled now (shown to the nurse as is).
#[derive(Debug, thiserror::Error)]
pub enum DialRefusal {
    #[error("task {0} does not exist")]
    NoTask(i64),
    #[error("patient {0} does not exist")]
    NoPatient(i64),
    #[error("you do not hold task {0}: claim it first (a lease expires if not renewed)")]
    NotYours(i64),
    #[error("task {task} is already {status}")]
    NotPending { task: i64, status: String },
    #[error("the patient is marked do-not-call")]
    DoNotCall,
    /// Checked again when the nurse dials, not only when she claims: a task claimed at 19:58
    /// must not be dialled at 20:05 (US TCPA 08:00–21:00 in the patient's zone; hospitals set
    /// their own window, default 08:30–20:00; CLINICAL-RULES.md "Retries").
    #[error("outside calling hours: patients may be called {hours} ({zone}); schedule a call-back inside them")]
    OutsideCallingHours { hours: CallingHours, zone: Tz },
    #[error("the patient is recorded as deceased")]
    Deceased,
    #[error("the patient has no alternate contact number")]
    NoAlternate,
    #[error("the number is no patient's")]
    UnknownNumber,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for DialRefusal {
    fn from(e: rusqlite::Error) -> Self {
        DialRefusal::Store(e.into())
    }
}

/// Checks that `user_id` holds `task_id` and the patient may be called; picks the number
/// (`contact`, else the one the retry policy chose).
pub fn dial_target(
    conn: &Connection,
    task_id: i64,
    user_id: i64,
    contact: Option<Contact>,
    now: i64,
) -> Result<DialTarget, DialRefusal> {
    type Row = (
        i64,
        String,
        Option<i64>,
        Option<i64>,
        bool,
        String,
        Option<String>,
        bool,
        bool,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT t.patient_id, t.status, t.lease_owner, t.lease_expires_at, t.use_alt_contact,
                    p.phone, p.alt_phone, p.do_not_call, p.deceased
             FROM followup_tasks t JOIN patients p ON p.id = t.patient_id WHERE t.id = ?1",
            [task_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .optional()?;
    let Some((patient_id, status, owner, expires, use_alt, phone, alt, dnc, deceased)) = row else {
        return Err(DialRefusal::NoTask(task_id));
    };
    if status != "pending" {
        return Err(DialRefusal::NotPending {
            task: task_id,
            status,
        });
    }
    if owner != Some(user_id) || expires.is_none_or(|e| e <= now) {
        return Err(DialRefusal::NotYours(task_id));
    }
    if deceased {
        return Err(DialRefusal::Deceased);
    }
    if dnc {
        return Err(DialRefusal::DoNotCall);
    }
    let contact = contact.unwrap_or(if use_alt && alt.is_some() {
        Contact::Alternate
    } else {
        Contact::Primary
    });
    let number = match contact {
        Contact::Primary => phone,
        Contact::Alternate => alt.ok_or(DialRefusal::NoAlternate)?,
    };
    Ok(DialTarget {
        patient_id,
        number,
        contact,
    })
}

/// A patient's number for a call outside the queue (a doctor calling about an escalation).
pub fn patient_target(
    conn: &Connection,
    patient_id: i64,
    contact: Option<Contact>,
) -> Result<DialTarget, DialRefusal> {
    let row: Option<(String, Option<String>, bool, bool)> = conn
        .query_row(
            "SELECT phone, alt_phone, do_not_call, deceased FROM patients WHERE id = ?1",
            [patient_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((phone, alt, dnc, deceased)) = row else {
        return Err(DialRefusal::NoPatient(patient_id));
    };
    if deceased {
        return Err(DialRefusal::Deceased);
    }
    if dnc {
        return Err(DialRefusal::DoNotCall);
    }
    let contact = contact.unwrap_or(Contact::Primary);
    let number = match contact {
        Contact::Primary => phone,
        Contact::Alternate => alt.ok_or(DialRefusal::NoAlternate)?,
    };
    Ok(DialTarget {
        patient_id,
        number,
        contact,
    })
}

/// The E.164 form of a number dialled on a desk phone: `+8613800000001` and
/// `008613800000001` as they are, a national number (`13800000001`, `010…` with its trunk
/// `0`) prefixed with `country_code`. URI parameters (`;phone-context=…`) and visual
/// separators are dropped. `None` for anything that is not a phone number (an extension).
pub fn dialled_number(user: &str, country_code: &str) -> Option<String> {
    let number = user.split(';').next().unwrap_or_default();
    let compact: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let international = if compact.starts_with('+') || compact.starts_with("00") {
        compact
    } else if compact.len() >= 7 && compact.chars().all(|c| c.is_ascii_digit()) {
        let national = compact.strip_prefix('0').unwrap_or(&compact);
        format!("+{country_code}{national}")
    } else {
        return None;
    };
    PhoneNumber::parse(&international)
        .ok()
        .map(|n| n.as_str().to_owned())
}

/// A number dialled on `user_id`'s desk phone matched to a patient (primary or alternate
/// number; refused for the deceased and do-not-call), and the task the nurse holds for that
/// patient, if any.
pub fn desk_dial_target(
    conn: &Connection,
    number: &str,
    user_id: i64,
    now: i64,
) -> Result<(DialTarget, Option<i64>), DialRefusal> {
    let row: Option<(i64, String, bool, bool)> = conn
        .query_row(
            "SELECT id, phone, do_not_call, deceased FROM patients
             WHERE phone = ?1 OR alt_phone = ?1 ORDER BY phone = ?1 DESC, id LIMIT 1",
            [number],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((patient_id, phone, dnc, deceased)) = row else {
        return Err(DialRefusal::UnknownNumber);
    };
    if deceased {
        return Err(DialRefusal::Deceased);
    }
    if dnc {
        return Err(DialRefusal::DoNotCall);
    }
    let task: Option<i64> = conn
        .query_row(
            "SELECT id FROM followup_tasks WHERE patient_id = ?1 AND status = 'pending'
               AND lease_owner = ?2 AND lease_expires_at > ?3 ORDER BY id LIMIT 1",
            rusqlite::params![patient_id, user_id, now],
            |r| r.get(0),
        )
        .optional()?;
    let contact = if phone == number {
        Contact::Primary
    } else {
        Contact::Alternate
    };
    Ok((
        DialTarget {
            patient_id,
            number: number.to_owned(),
            contact,
        },
        task,
    ))
}

/// A caller matched to a patient, and the nurses to offer the call to, best first: the nurse
/// who took the patient's call-back request (if one is pending), the patient's own nurse, then
/// the nurse who last spoke with them, then every other active nurse.
#[derive(Debug, Clone, Default)]
pub struct InboundRoute {
    pub patient_id: Option<i64>,
    pub number: Option<String>,
    pub candidates: Vec<i64>,
}

/// Routes a call from `caller` (the From user part, as the trunk sent it).
pub fn inbound_route(conn: &Connection, caller: &str) -> Result<InboundRoute, StoreError> {
    let number = PhoneNumber::parse(caller)
        .ok()
        .map(|n| n.as_str().to_owned());
    let patient: Option<(i64, Option<i64>)> = match &number {
        Some(n) => conn
            .query_row(
                "SELECT id, owner_nurse_id FROM patients
                 WHERE (phone = ?1 OR alt_phone = ?1) AND deceased = 0
                 ORDER BY phone = ?1 DESC, id LIMIT 1",
                [n],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        None => None,
    };
    let mut candidates = Vec::new();
    if let Some((patient_id, owner)) = patient {
        // a patient calling about the call-back they asked for reaches the nurse who took it
        let requested: Option<i64> = conn
            .query_row(
                "SELECT callback_nurse_id FROM followup_tasks
                 WHERE patient_id = ?1 AND status = 'pending' AND callback_nurse_id IS NOT NULL
                 ORDER BY next_attempt_at LIMIT 1",
                [patient_id],
                |r| r.get(0),
            )
            .optional()?;
        candidates.extend(requested);
        candidates.extend(owner);
        let last: Option<i64> = conn
            .query_row(
                "SELECT agent_id FROM calls WHERE patient_id = ?1 AND agent_id IS NOT NULL
                 ORDER BY started_at DESC LIMIT 1",
                [patient_id],
                |r| r.get(0),
            )
            .optional()?;
        candidates.extend(last);
    }
    let mut stmt =
        conn.prepare("SELECT id FROM users WHERE role = 'nurse' AND active = 1 ORDER BY id")?;
    let nurses = stmt
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    candidates.extend(nurses);
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|id| seen.insert(*id));
    Ok(InboundRoute {
        patient_id: patient.map(|(id, _)| id),
        number,
        candidates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_are_refused_outside_calling_hours_with_the_hours_named() {
        use chrono::TimeZone;
        let locale = Locale {
            tz: chrono_tz::Asia::Shanghai,
            hours: CallingHours::parse("08:30-20:00").expect("hours"),
        };
        // 19:59 and 20:00 in Shanghai (UTC+8)
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 5, h, m, 0).unwrap();
        assert!(check_calling_hours(&locale, at(11, 59)).is_ok());
        let refused = check_calling_hours(&locale, at(12, 0)).unwrap_err();
        assert!(matches!(refused, DialRefusal::OutsideCallingHours { .. }));
        assert!(
            refused.to_string().contains("08:30-20:00 (Asia/Shanghai)"),
            "{refused}"
        );
        assert!(
            check_calling_hours(&locale, at(0, 29)).is_err(),
            "08:29 local"
        );
        let any = Locale {
            hours: CallingHours::parse("00:00-24:00").expect("hours"),
            ..locale
        };
        assert_eq!(any.hours.to_string(), "00:00-24:00");
        assert!(check_calling_hours(&any, at(18, 0)).is_ok(), "02:00 local");
    }

    #[test]
    fn numbers_dialled_on_desk_phones() {
        for (dialled, want) in [
            ("+8613800000001", Some("+8613800000001")),
            ("008613800000001", Some("+8613800000001")),
            ("13800000001", Some("+8613800000001")),
            ("01088886666", Some("+861088886666")),
            ("138-0000-0001;phone-context=+86", Some("+8613800000001")),
            ("1001", None),
            ("hotline", None),
            ("+0123", None),
            ("", None),
        ] {
            assert_eq!(
                dialled_number(dialled, "86").as_deref(),
                want,
                "{dialled:?}"
            );
        }
    }
}
