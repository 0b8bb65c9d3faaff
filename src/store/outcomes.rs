//! The outcome report's inputs (issue 18 item 3): one row of facts per enrolled discharge and
//! the escalations after it, gathered with SQL that the report prints, so a reader can paste
//! it into `sqlite3` and get every count back. The arithmetic is
//! [`crate::followup::outcomes`]; [`reproduce`] runs the printed SQL, and the tests check the
//! two agree.
//!
//! The printed SQL carries the hospital calendar as data (`outcome_days`: each local day of the
//! period with its end and the end of its second business day, holidays skipped), so month
//! boundaries and business days are the report's own, whatever the zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::StoreError;
use crate::followup::metrics::reached_names;
use crate::followup::outcomes::{
    breakdown, measure, Dimension, DischargeFacts, EscalationFact, Group, Readmission,
    ESCALATION_WINDOW_SECS, NONE_KEY, REACHED_WITHIN_SECS, READMISSION_DAYS,
};
use crate::followup::pathway::Calendar;
use crate::followup::satisfaction::{self, SatisfactionAnswers};
use crate::followup::script::Severity;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// `VALUES (day_start, day_end, deadline_end, 'YYYY-MM'), …` for every local day of the period.
fn days_values(calendar: &Calendar, from: NaiveDate, to: NaiveDate) -> String {
    let mut rows = Vec::new();
    let mut day = from;
    while day <= to {
        let next = day + Duration::days(1);
        let deadline = calendar.add_business_days(day, 2) + Duration::days(1);
        rows.push(format!(
            "({}, {}, {}, '{}')",
            calendar.local_midnight(day).timestamp(),
            calendar.local_midnight(next).timestamp(),
            calendar.local_midnight(deadline).timestamp(),
            day.format("%Y-%m")
        ));
        day = next;
    }
    if rows.is_empty() {
        // an empty period: a row no discharge falls in keeps the SQL valid
        rows.push("(0, 0, 0, '')".into());
    }
    format!("VALUES {}", rows.join(",\n    "))
}

/// The latest answer of the discharge to satisfaction question `question`, through `expr` over
/// the answer's JSON `value` (stored as `{"type": …, "value": …}`).
fn satisfaction_answer(question: &str, expr: &str) -> String {
    format!(
        "(SELECT {expr} FROM answers a JOIN followup_tasks t ON t.id = a.task_id
        JOIN enrollments e2 ON e2.id = t.enrollment_id
        WHERE e2.discharge_id = d.id AND a.script_code = '{}' AND a.question_id = '{question}'
        ORDER BY a.updated_at DESC, a.id DESC LIMIT 1)",
        satisfaction::SCRIPT
    )
}

/// One row per enrolled discharge of the period (reads `outcome_days`).
fn facts_select() -> String {
    let reached = reached_names()
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT d.id AS discharge_id, d.patient_id, d.discharged_at, days.month,
    e.pathway_code AS pathway,
    COALESCE(dep.code, '{NONE_KEY}') AS department,
    COALESCE((SELECT COALESCE(u.username, '{NONE_KEY}') FROM task_attempts a
        JOIN followup_tasks t ON t.id = a.task_id JOIN enrollments e2 ON e2.id = t.enrollment_id
        LEFT JOIN users u ON u.id = a.user_id
        WHERE e2.discharge_id = d.id ORDER BY a.at, a.id LIMIT 1), '{NONE_KEY}') AS nurse,
    (SELECT MIN(a.at) FROM task_attempts a
        JOIN followup_tasks t ON t.id = a.task_id JOIN enrollments e2 ON e2.id = t.enrollment_id
        WHERE e2.discharge_id = d.id AND a.disposition IN ({reached})) AS first_reached_at,
    EXISTS(SELECT 1 FROM followup_tasks t JOIN enrollments e2 ON e2.id = t.enrollment_id
        WHERE e2.discharge_id = d.id AND t.status = 'completed') AS completed,
    (SELECT MIN(ad.admitted_at) FROM readmissions r JOIN admissions ad ON ad.id = r.admission_id
        WHERE r.index_discharge_id = d.id AND r.planned = 0 AND r.cancelled_at IS NULL
          AND ad.cancelled_at IS NULL AND ad.admitted_at >= d.discharged_at)
        AS first_unplanned_readmission_at,
    days.deadline_end,
    {overall} AS satisfaction_overall,
    {recommend} AS satisfaction_recommend,
    COALESCE({comment}, 0) AS satisfaction_commented
FROM discharges d
JOIN outcome_days days ON d.discharged_at >= days.day_start AND d.discharged_at < days.day_end
JOIN enrollments e ON e.id = (SELECT MIN(e3.id) FROM enrollments e3 WHERE e3.discharge_id = d.id)
LEFT JOIN departments dep ON dep.id = d.department_id
WHERE d.cancelled_at IS NULL",
        overall = satisfaction_answer(satisfaction::OVERALL, "json_extract(a.value, '$.value')"),
        recommend =
            satisfaction_answer(satisfaction::RECOMMEND, "json_extract(a.value, '$.value')"),
        comment = satisfaction_answer(
            satisfaction::COMMENT,
            "length(trim(json_extract(a.value, '$.value'))) > 0"
        ),
    )
}

/// The patient's escalations opened in the 30 days after each discharge (reads `outcome_facts`).
fn escalations_select() -> String {
    format!(
        "SELECT f.discharge_id, x.id AS escalation_id, x.severity, x.opened_at, x.acknowledged_at
FROM outcome_facts f JOIN escalations x ON x.patient_id = f.patient_id
    AND x.opened_at >= f.discharged_at AND x.opened_at < f.discharged_at + {ESCALATION_WINDOW_SECS}"
    )
}

/// The printed SQL: `setup` creates temporary views; each metric's query then returns
/// `dimension, key, value` rows (dimension `total` has the one key `all`).
#[derive(Debug, Clone, Serialize)]
pub struct ReportSql {
    pub setup: String,
    pub metrics: BTreeMap<String, String>,
}

fn report_sql(calendar: &Calendar, from: NaiveDate, to: NaiveDate, as_of: i64) -> ReportSql {
    let groups = std::iter::once(
        "SELECT 'total' AS dimension, 'all' AS key, discharge_id FROM outcome_facts".to_string(),
    )
    .chain(Dimension::ALL.iter().map(|d| {
        format!(
            "SELECT '{0}', {0}, discharge_id FROM outcome_facts",
            d.as_str()
        )
    }))
    .collect::<Vec<_>>()
    .join("\nUNION ALL ");
    let setup = format!(
        "CREATE TEMP VIEW outcome_days(day_start, day_end, deadline_end, month) AS\n{};\n\
         CREATE TEMP VIEW outcome_facts AS\n{};\n\
         CREATE TEMP VIEW outcome_escalations AS\n{};\n\
         CREATE TEMP VIEW outcome_groups AS\n{groups};\n",
        days_values(calendar, from, to),
        facts_select(),
        escalations_select(),
    );
    let from_groups = "FROM outcome_groups g JOIN outcome_facts f USING (discharge_id)";
    let by = "GROUP BY g.dimension, g.key ORDER BY g.dimension, g.key";
    let count = |name: &str, expr: &str| {
        (
            name.to_string(),
            format!("SELECT g.dimension, g.key, SUM(COALESCE({expr}, 0)) {from_groups} {by};"),
        )
    };
    let reached_7 =
        format!("f.first_reached_at - f.discharged_at BETWEEN 0 AND {REACHED_WITHIN_SECS}");
    let mut metrics: BTreeMap<String, String> = [
        count("enrolled", "1"),
        count(
            "reached_within_2_business_days",
            "f.first_reached_at >= f.discharged_at AND f.first_reached_at < f.deadline_end",
        ),
        count("reached_within_7_days", &reached_7),
        count("completed", "f.completed"),
        count("reached", "f.first_reached_at IS NOT NULL"),
        count(
            "satisfaction_responses",
            "f.satisfaction_overall IS NOT NULL OR f.satisfaction_recommend IS NOT NULL \
             OR f.satisfaction_commented",
        ),
        count(
            "satisfaction_overall_answered",
            "f.satisfaction_overall IS NOT NULL",
        ),
        count(
            "satisfaction_recommend_answered",
            "f.satisfaction_recommend IS NOT NULL",
        ),
        count(
            "satisfaction_promoters",
            &format!(
                "f.satisfaction_recommend >= {}",
                satisfaction::PROMOTER_FROM
            ),
        ),
        count(
            "satisfaction_detractors",
            &format!(
                "f.satisfaction_recommend <= {}",
                satisfaction::DETRACTOR_UP_TO
            ),
        ),
        count("satisfaction_comments", "f.satisfaction_commented"),
    ]
    .into_iter()
    .collect();
    metrics.insert(
        "satisfaction_overall_mean".into(),
        format!(
            "SELECT g.dimension, g.key, AVG(f.satisfaction_overall) {from_groups}
WHERE f.satisfaction_overall IS NOT NULL {by};"
        ),
    );
    metrics.insert(
        "median_hours_to_first_contact".into(),
        format!(
            "WITH v AS (SELECT g.dimension, g.key, (f.first_reached_at - f.discharged_at) / 3600.0 AS hours,
    ROW_NUMBER() OVER (PARTITION BY g.dimension, g.key ORDER BY f.first_reached_at - f.discharged_at) AS i,
    COUNT(*) OVER (PARTITION BY g.dimension, g.key) AS n
  {from_groups} WHERE f.first_reached_at IS NOT NULL)
SELECT dimension, key, AVG(hours) FROM v WHERE i IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY dimension, key ORDER BY dimension, key;"
        ),
    );
    for days in READMISSION_DAYS {
        let secs = days * 86_400;
        let eligible = format!("f.discharged_at + {secs} <= {as_of}");
        let event = format!("f.first_unplanned_readmission_at - f.discharged_at <= {secs}");
        for (split, cond) in [
            ("", "1".to_string()),
            ("_reached", format!("({reached_7})")),
            ("_not_reached", format!("NOT COALESCE({reached_7}, 0)")),
        ] {
            metrics.extend([
                count(
                    &format!("readmission_{days}d{split}_eligible"),
                    &format!("{eligible} AND {cond}"),
                ),
                count(
                    &format!("readmission_{days}d{split}_events"),
                    &format!("{eligible} AND {cond} AND {event}"),
                ),
            ]);
        }
    }
    let esc_groups = "FROM outcome_groups g JOIN outcome_escalations x USING (discharge_id)";
    metrics.insert(
        "escalations_opened_acknowledged".into(),
        format!(
            "SELECT g.dimension, g.key, x.severity, COUNT(*), COUNT(x.acknowledged_at) {esc_groups}
GROUP BY g.dimension, g.key, x.severity ORDER BY g.dimension, g.key, x.severity;"
        ),
    );
    metrics.insert(
        "escalations_median_minutes_to_acknowledge".into(),
        format!(
            "WITH v AS (SELECT g.dimension, g.key, x.severity,
    (x.acknowledged_at - x.opened_at) / 60.0 AS minutes,
    ROW_NUMBER() OVER (PARTITION BY g.dimension, g.key, x.severity ORDER BY x.acknowledged_at - x.opened_at) AS i,
    COUNT(*) OVER (PARTITION BY g.dimension, g.key, x.severity) AS n
  {esc_groups} WHERE x.acknowledged_at IS NOT NULL)
SELECT dimension, key, severity, AVG(minutes) FROM v WHERE i IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY dimension, key, severity ORDER BY dimension, key, severity;"
        ),
    );
    ReportSql { setup, metrics }
}

/// The outcome report: the whole period and each breakdown, with the SQL behind them.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeReport {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    /// Readmission windows are counted as over or not at this instant.
    pub as_of: DateTime<Utc>,
    pub time_zone: String,
    pub total: Group,
    pub month: Vec<Group>,
    pub pathway: Vec<Group>,
    pub department: Vec<Group>,
    pub nurse: Vec<Group>,
    pub method: &'static str,
    pub sql: ReportSql,
}

/// How the numbers are made, in the report itself.
pub const METHOD: &str = "Discharges (not cancelled) of the period with a follow-up enrolment, \
grouped by the local month of discharge, pathway, department and the nurse of the first attempt. \
Reached = an attempt ending completed, refused or callback_requested. Reached within 2 business \
days: by the end of the 2nd business day after the discharge day (Mon-Fri, hospital holidays \
skipped; CMS TCM). Reached within 7 days: at most 7x24 h after discharge; this also splits \
reached vs not reached. Readmission within N days (30, 180): an unplanned, not cancelled \
admission recorded against the discharge at most Nx24 h after it, all causes; only discharges \
whose N days are over at as_of are eligible. Escalations: the patient's, opened within 30 days \
after the discharge. Satisfaction: the latest answers to the pathway's closing satisfaction \
script (overall 1-5, mean; would recommend 0-10: promoters 9-10, detractors 0-6, NPS = % promoters \
- % detractors, Reichheld 2003; comments counted, not shown). 95 % CI: Wilson score interval (Wilson 1927; Newcombe 1998 method 3), \
z = 1.959964. Medians of an even count average the two middle values. Run sql.setup in sqlite3 \
on the database, then any query of sql.metrics: it returns dimension, key, value.";

fn severity(name: &str) -> Result<Severity, StoreError> {
    match name {
        "routine" => Ok(Severity::Routine),
        "high" => Ok(Severity::High),
        "urgent" => Ok(Severity::Urgent),
        "emergency" => Ok(Severity::Emergency),
        other => Err(StoreError::Invalid(format!(
            "escalation severity `{other}` is not routine, high, urgent or emergency"
        ))),
    }
}

/// Every enrolled discharge of the period with its facts.
pub fn discharge_facts(
    conn: &Connection,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DischargeFacts>, StoreError> {
    let with = format!(
        "WITH outcome_days(day_start, day_end, deadline_end, month) AS ({}),
              outcome_facts AS ({})",
        days_values(calendar, from, to),
        facts_select()
    );
    let mut facts = Vec::new();
    let mut index = BTreeMap::new();
    let mut stmt = conn.prepare(&format!(
        "{with} SELECT discharge_id, discharged_at, pathway, department, nurse, first_reached_at,
            completed, first_unplanned_readmission_at, satisfaction_overall,
            satisfaction_recommend, satisfaction_commented FROM outcome_facts ORDER BY discharge_id"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(DischargeFacts {
            discharge_id: r.get(0)?,
            discharged_at: ts(r.get(1)?),
            pathway: r.get(2)?,
            department: r.get(3)?,
            nurse: r.get(4)?,
            first_reached_at: r.get::<_, Option<i64>>(5)?.map(ts),
            completed: r.get(6)?,
            readmissions: r
                .get::<_, Option<i64>>(7)?
                .map(|at| Readmission {
                    admitted_at: ts(at),
                    planned: false,
                })
                .into_iter()
                .collect(),
            escalations: Vec::new(),
            satisfaction: SatisfactionAnswers {
                overall: r.get(8)?,
                recommend: r.get(9)?,
                commented: r.get(10)?,
            },
        })
    })?;
    for row in rows {
        let f = row?;
        index.insert(f.discharge_id, facts.len());
        facts.push(f);
    }
    let mut stmt = conn.prepare(&format!(
        "{with}, outcome_escalations AS ({}) SELECT discharge_id, severity, opened_at, acknowledged_at
         FROM outcome_escalations ORDER BY discharge_id, escalation_id",
        escalations_select()
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    for row in rows {
        let (discharge, sev, opened, acked) = row?;
        if let Some(&i) = index.get(&discharge) {
            facts[i].escalations.push(EscalationFact {
                severity: severity(&sev)?,
                opened_at: ts(opened),
                acknowledged_at: acked.map(ts),
            });
        }
    }
    Ok(facts)
}

/// The outcome report for discharges from `from` to `to` (local dates, both included).
pub fn outcome_report(
    conn: &Connection,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    as_of: DateTime<Utc>,
) -> Result<OutcomeReport, StoreError> {
    let facts = discharge_facts(conn, calendar, from, to)?;
    let all: Vec<&DischargeFacts> = facts.iter().collect();
    let by = |d| breakdown(&facts, d, calendar, as_of);
    Ok(OutcomeReport {
        from,
        to,
        as_of,
        time_zone: calendar.tz.name().to_string(),
        total: Group {
            key: "all".into(),
            metrics: measure(&all, calendar, as_of),
        },
        month: by(Dimension::Month),
        pathway: by(Dimension::Pathway),
        department: by(Dimension::Department),
        nurse: by(Dimension::Nurse),
        method: METHOD,
        sql: report_sql(calendar, from, to, as_of.timestamp()),
    })
}

/// One figure the printed SQL returned: `(metric, dimension, key[, severity]) → value`.
pub type Reproduced = BTreeMap<(String, String, String), f64>;

/// Runs the report's printed SQL on `conn` (temporary views, dropped after) and returns every
/// figure, keyed `(metric, dimension, key)`; escalation metrics carry the severity in the
/// metric name (`escalations_opened.urgent`). What a reader gets by pasting the SQL.
pub fn reproduce(conn: &Connection, sql: &ReportSql) -> Result<Reproduced, StoreError> {
    conn.execute_batch(&sql.setup)?;
    let result = (|| {
        let mut out = Reproduced::new();
        for (name, query) in &sql.metrics {
            let mut stmt = conn.prepare(query)?;
            let columns = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (dim, key): (String, String) = (r.get(0)?, r.get(1)?);
                if columns == 3 {
                    let v: Option<f64> = r.get(2)?;
                    out.insert((name.clone(), dim, key), v.unwrap_or(f64::NAN));
                } else {
                    let sev: String = r.get(2)?;
                    let values: Vec<f64> = (3..columns)
                        .map(|i| r.get::<_, f64>(i))
                        .collect::<Result<_, _>>()?;
                    let names: &[&str] = if columns == 5 {
                        &["escalations_opened", "escalations_acknowledged"]
                    } else {
                        &["escalations_median_minutes_to_acknowledge"]
                    };
                    for (n, v) in names.iter().zip(values) {
                        out.insert((format!("{n}.{sev}"), dim.clone(), key.clone()), v);
                    }
                }
            }
        }
        Ok(out)
    })();
    conn.execute_batch(
        "DROP VIEW IF EXISTS temp.outcome_groups; DROP VIEW IF EXISTS temp.outcome_escalations;
         DROP VIEW IF EXISTS temp.outcome_facts; DROP VIEW IF EXISTS temp.outcome_days;",
    )?;
    result
}

/// The report as CSV: one row per group (`dimension`, `key`, then the measures).
pub fn outcome_csv(r: &OutcomeReport) -> Result<String, StoreError> {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| StoreError::Invalid(format!("csv: {e}"));
    let mut header = vec!["dimension", "key", "enrolled"];
    let rates = [
        "reached_within_2_business_days",
        "reached_within_7_days",
        "completed",
    ];
    let readmission_sets = [
        "readmission",
        "readmission_reached",
        "readmission_not_reached",
    ];
    let mut names: Vec<String> = Vec::new();
    for r in rates {
        for s in ["", "_rate", "_ci95_low", "_ci95_high"] {
            names.push(format!("{r}{s}"));
        }
    }
    names.push("reached".into());
    names.push("median_hours_to_first_contact".into());
    for sev in ["all", "emergency", "urgent", "high", "routine"] {
        names.push(format!("escalations_{sev}_opened"));
        names.push(format!("escalations_{sev}_acknowledged"));
        names.push(format!("escalations_{sev}_median_minutes_to_acknowledge"));
    }
    for set in readmission_sets {
        for days in READMISSION_DAYS {
            for s in ["events", "eligible", "rate", "ci95_low", "ci95_high"] {
                names.push(format!("{set}_{days}d_{s}"));
            }
        }
    }
    for s in [
        "responses",
        "overall_answered",
        "overall_mean",
        "recommend_answered",
        "promoters",
        "passives",
        "detractors",
        "nps",
        "comments",
    ] {
        names.push(format!("satisfaction_{s}"));
    }
    header.extend(names.iter().map(String::as_str));
    w.write_record(&header).map_err(csv_err)?;
    let groups = std::iter::once(("total", &r.total))
        .chain(r.month.iter().map(|g| ("month", g)))
        .chain(r.pathway.iter().map(|g| ("pathway", g)))
        .chain(r.department.iter().map(|g| ("department", g)))
        .chain(r.nurse.iter().map(|g| ("nurse", g)));
    for (dim, g) in groups {
        let m = &g.metrics;
        let mut row = vec![dim.to_string(), g.key.clone(), m.enrolled.to_string()];
        for rc in [
            &m.reached_within_2_business_days,
            &m.reached_within_7_days,
            &m.completed,
        ] {
            row.extend([
                rc.events.to_string(),
                opt(rc.rate),
                opt(rc.ci95_low),
                opt(rc.ci95_high),
            ]);
        }
        row.push(m.reached.to_string());
        row.push(opt(m.median_hours_to_first_contact));
        let e = &m.escalations;
        for c in [&e.all, &e.emergency, &e.urgent, &e.high, &e.routine] {
            row.extend([
                c.opened.to_string(),
                c.acknowledged.to_string(),
                opt(c.median_minutes_to_acknowledge),
            ]);
        }
        for set in [
            &m.readmissions,
            &m.readmissions_reached,
            &m.readmissions_not_reached,
        ] {
            for rc in [&set.days_30, &set.days_180] {
                row.extend([
                    rc.events.to_string(),
                    rc.eligible.to_string(),
                    opt(rc.rate),
                    opt(rc.ci95_low),
                    opt(rc.ci95_high),
                ]);
            }
        }
        let s = &m.satisfaction;
        row.extend([
            s.responses.to_string(),
            s.overall_answered.to_string(),
            opt(s.overall_mean),
            s.recommend_answered.to_string(),
            s.promoters.to_string(),
            s.passives.to_string(),
            s.detractors.to_string(),
            opt(s.nps),
            s.comments.to_string(),
        ]);
        w.write_record(&row).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| StoreError::Invalid(format!("csv: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
#[path = "outcomes_tests.rs"]
mod tests;
