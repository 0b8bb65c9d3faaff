//! The route × role table. It is the one place that says who may call what: the middleware
//! checks every request against it (a route missing from it is refused, fail closed), the
//! OpenAPI document is generated from it, and the RBAC test walks it.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::session_user::{session_token, CurrentUser, SESSION_COOKIE};
use super::{
    accounts, admin, admissions, agents, api_tokens, calls, care_teams, escalations, events, hl7,
    hl7_outbox, interfaces, notes, patients, queue, reports, retention, reviews, robot, scripts,
    session, sms, tags, transcripts, AppState,
};
use crate::auth::role::Role::{self, Admin, Doctor, Nurse, Supervisor};
use crate::store::users::session_user;
use axum::routing::{delete, get, post, put, MethodRouter};

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    /// Any logged-in user.
    Authenticated,
    Roles(&'static [Role]),
}

/// One API route: what it does, who may call it, and its handler. The router is built from
/// [`ROUTES`] alone, so a route cannot be served without an access rule.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
    handler: fn() -> MethodRouter<AppState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        summary,
        handler,
    }
}

const CLINICAL: Access = Access::Roles(&[Nurse, Supervisor, Doctor, Admin]);
const CALLERS: Access = Access::Roles(&[Nurse, Supervisor, Doctor]);
/// Who records an admission: the ward nurse who hears of it, or whoever manages the list.
const ADMITTERS: Access = Access::Roles(&[Nurse, Supervisor, Admin]);
const MANAGERS: Access = Access::Roles(&[Supervisor, Admin]);
const ADMIN: Access = Access::Roles(&[Admin]);
const DOCTORS: Access = Access::Roles(&[Supervisor, Doctor, Admin]);
const RESPONDERS: Access = Access::Roles(&[Supervisor, Doctor]);
const QA: Access = Access::Roles(&[Supervisor]);
/// Team reviews: clinicians (doctors with a discipline) and nurses (who sign as nursing); the
/// discipline itself is checked by `followup::review::signer`.
const REVIEWERS: Access = Access::Roles(&[Doctor, Nurse]);
const PUBLIC: Access = Access::Public;
const ANY_USER: Access = Access::Authenticated;

#[rustfmt::skip]
/// Every route of the API.
pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/api/v1/health", PUBLIC, "Liveness and schema version", || get(admin::health)),
    route("GET", "/api/v1/openapi.json", PUBLIC, "This API's OpenAPI document", || get(|| async { axum::Json(openapi()) })),
    route("POST", "/api/v1/session", PUBLIC, "Log in (sets the session cookie)", || post(session::login)),
    route("DELETE", "/api/v1/session", ANY_USER, "Log out", || delete(session::logout)),
    route("GET", "/api/v1/me", ANY_USER, "The logged-in user", || get(session::me)),
    route("GET", "/api/v1/events", ANY_USER, "Live events for the caller (Server-Sent Events)", || get(events::stream)),
    route("GET", "/api/v1/patients", CLINICAL, "List patients (phones masked for nurses)", || get(patients::list)),
    route("POST", "/api/v1/patients", MANAGERS, "Create a patient", || post(patients::create)),
    route("POST", "/api/v1/patients/import", MANAGERS, "Import patients from CSV (all or nothing; at most 16 MiB)", || post(patients::import_csv).layer(axum::extract::DefaultBodyLimit::max(patients::IMPORT_MAX_BYTES))),
    route("GET", "/api/v1/patients/{id}", CLINICAL, "One patient (audited view)", || get(patients::get_one)),
    route("PUT", "/api/v1/patients/{id}/do-not-call", MANAGERS, "Set or clear the do-not-call flag", || put(patients::do_not_call)),
    route("POST", "/api/v1/patients/{id}/discharges", MANAGERS, "Record a discharge and enrol in the matching pathway", || post(patients::discharge)),
    route("POST", "/api/v1/patients/{id}/admissions", ADMITTERS, "Record an admission (a readmission pauses follow-up and is recorded against the index discharge)", || post(admissions::create)),
    route("GET", "/api/v1/patients/{id}/admissions", CLINICAL, "A patient's admissions with their readmission facts", || get(admissions::list)),
    route("GET", "/api/v1/patients/{id}/tasks", CLINICAL, "Follow-up tasks of a patient", || get(patients::tasks)),
    route("GET", "/api/v1/patients/{id}/timeline", CLINICAL, "Calls, answers, escalations, notes, lab results and measurement and lab series of a patient (audited)", || get(escalations::timeline)),
    // notes and tags (issue 20 items 5 and 6)
    route("GET", "/api/v1/patients/{id}/notes", CLINICAL, "A patient's notes, newest first, each with its version history (audited)", || get(notes::of_patient)),
    route("POST", "/api/v1/patients/{id}/notes", CALLERS, "Add a note ({\"kind\": free|medication_change|plan, \"body\", \"data\"?, \"call_id\"?, \"answer_id\"?, \"escalation_id\"?}; author and discipline from the session; audited)", || post(notes::create)),
    route("GET", "/api/v1/notes/search", CLINICAL, "Search notes' latest text (?q=, zh or en; trigram index from 3 characters, substring scan below; audited with the query and the ids returned)", || get(notes::search)),
    route("GET", "/api/v1/notes/{id}", CLINICAL, "One note: latest version and history (audited)", || get(notes::get_one)),
    route("POST", "/api/v1/notes/{id}/versions", CALLERS, "Correct a note by a new version ({\"body\", \"kind\"?, \"data\"?, \"reason\"?}; author or supervisor; earlier versions kept; audited)", || post(notes::correct)),
    route("GET", "/api/v1/patients/{id}/tags", CLINICAL, "A patient's active tags with their source (rule, answer)", || get(tags::of_patient)),
    route("DELETE", "/api/v1/patients/{id}/tags/{tag}", CALLERS, "Take a tag off a patient (audited); a rule's tag stays off until the rule fires on a new or changed answer", || delete(tags::remove)),
    route("GET", "/api/v1/pathways", CLINICAL, "Loaded pathways", || get(patients::pathways)),
    route("GET", "/api/v1/scripts", CLINICAL, "Loaded follow-up scripts (code, version, title)", || get(scripts::list)),
    route("GET", "/api/v1/scripts/{code}", CLINICAL, "One script: questions, skip logic, rules", || get(scripts::get_one)),
    route("GET", "/api/v1/queue", CLINICAL, "Today's queue in rank order", || get(queue::list)),
    route("POST", "/api/v1/queue/build", MANAGERS, "Rebuild the queue now", || post(queue::build)),
    route("POST", "/api/v1/queue/claim", CALLERS, "Claim the next task (a lease)", || post(queue::claim)),
    route("GET", "/api/v1/flags", MANAGERS, "Tasks flagged for the supervisor (unreachable, wrong number, missed)", || get(queue::flags)),
    route("GET", "/api/v1/tasks/{id}", CLINICAL, "One task", || get(queue::get_one)),
    route("POST", "/api/v1/tasks/{id}/renew", CALLERS, "Extend the lease on a claimed task", || post(queue::renew)),
    route("POST", "/api/v1/tasks/{id}/release", CALLERS, "Give a claimed task back", || post(queue::release)),
    route("POST", "/api/v1/tasks/{id}/disposition", CALLERS, "Record how the attempt ended", || post(queue::disposition)),
    route("GET", "/api/v1/tasks/{id}/scripts", CLINICAL, "Scripts of a task: its own, then those a nurse added", || get(scripts::of_task)),
    route("POST", "/api/v1/tasks/{id}/scripts", CALLERS, "Add a script to the task you hold ({\"script\": \"chest-pain\"}: symptom triage on a call-back; audited)", || post(scripts::add_to_task)),
    route("GET", "/api/v1/tasks/{id}/answers", CLINICAL, "Answers saved for a task", || get(escalations::list_answers)),
    route("GET", "/api/v1/tasks/{id}/robot-calls", CLINICAL, "Robot calls of a task with their per-question log (prompt and answer offsets in the recording, keys, value, re-asks)", || get(robot::of_task)),
    route("PUT", "/api/v1/tasks/{id}/answers/{question}", CALLERS, "Autosave one answer; evaluates rules and escalates at once", || put(escalations::put_answer)),
    route("GET", "/api/v1/escalations", DOCTORS, "Unresolved escalations, most severe first (?mine=true: those that notified me)", || get(escalations::list)),
    route("GET", "/api/v1/escalations/{id}", DOCTORS, "One escalation with its evidence (audited)", || get(escalations::get_one)),
    route("POST", "/api/v1/escalations/{id}/acknowledge", RESPONDERS, "Acknowledge: stops re-escalation", || post(escalations::acknowledge)),
    route("POST", "/api/v1/escalations/{id}/resolve", RESPONDERS, "Resolve with an action and a note", || post(escalations::resolve)),
    route("GET", "/api/v1/roster", CLINICAL, "Duty roster per department", || get(escalations::roster)),
    route("PUT", "/api/v1/roster/{department}/{slot}", MANAGERS, "Put a doctor on duty, backup or head of a department", || put(escalations::set_duty)),
    route("GET", "/api/v1/care-teams", CLINICAL, "Care teams per department with their members by discipline and lead (issue 20)", || get(care_teams::list)),
    route("POST", "/api/v1/care-teams", ADMIN, "Create a department's care team ({\"department\", \"pathway\", \"name_en\", \"name_zh\"}; audited)", || post(care_teams::create)),
    route("PUT", "/api/v1/care-teams/{id}/members/{user_id}", ADMIN, "Add a member or change her discipline or lead flag ({\"discipline\", \"lead\"}; audited)", || put(care_teams::put_member)),
    route("DELETE", "/api/v1/care-teams/{id}/members/{user_id}", ADMIN, "Remove a member from a care team (audited)", || delete(care_teams::remove_member)),
    route("GET", "/api/v1/duty-shifts", CLINICAL, "Duty shifts: who of a discipline is on when (hospital time, weekdays, holidays)", || get(care_teams::list_shifts)),
    route("POST", "/api/v1/duty-shifts", MANAGERS, "Add a shift ({\"user_id\", \"discipline\", \"weekdays\": \"mon-fri\", \"start\": \"08:00\", \"end\": \"17:00\", \"holidays\": \"skip|also|only\"}; audited)", || post(care_teams::add_shift)),
    route("DELETE", "/api/v1/duty-shifts/{id}", MANAGERS, "Remove a shift (audited)", || delete(care_teams::remove_shift)),
    route("GET", "/api/v1/webhooks/deliveries", ADMIN, "Webhook delivery log", || get(escalations::webhook_log)),
    route("GET", "/api/v1/users", ADMIN, "List users", || get(admin::list_users)),
    route("POST", "/api/v1/users", ADMIN, "Create a user", || post(admin::create_user)),
    route("PUT", "/api/v1/users/{id}/active", ADMIN, "Disable ({\"active\": false}: her sessions end, her desk phone is dropped) or enable a user (audited)", || put(accounts::set_active)),
    route("PUT", "/api/v1/users/{id}/password", ADMIN, "Reset a user's password ({\"password\"}); her sessions end (audited)", || put(accounts::reset_password)),
    route("PUT", "/api/v1/users/{id}/discipline", ADMIN, "Place a clinician in the multidisciplinary team ({\"discipline\": \"pharmacy\"}, null clears; audited)", || put(accounts::set_discipline)),
    route("DELETE", "/api/v1/users/{id}/sessions", ADMIN, "Log a user out everywhere (audited)", || delete(accounts::revoke_sessions)),
    route("GET", "/api/v1/departments", CLINICAL, "List departments", || get(admin::departments)),
    route("GET", "/api/v1/hl7/messages", ADMIN, "HL7 messages received, newest first, with status, ACK and error (?status=failed|rejected|applied, ?limit=)", || get(hl7::list)),
    route("POST", "/api/v1/hl7/messages/{id}/replay", ADMIN, "Process a stored HL7 message again once its cause is fixed (audited; one applied before is not applied twice)", || post(hl7::replay)),
    route("GET", "/api/v1/api-tokens", ADMIN, "API tokens of system clients (FHIR API): name, scopes, created, last used, revoked; never the secret", || get(api_tokens::list)),
    route("POST", "/api/v1/api-tokens", ADMIN, "Create an API token ({\"name\", \"scopes\": \"Patient Observation\" or \"*\"}); the secret is in this answer only (audited)", || post(api_tokens::create)),
    route("DELETE", "/api/v1/api-tokens/{id}", ADMIN, "Revoke an API token at once (audited)", || delete(api_tokens::revoke)),
    route("GET", "/api/v1/interfaces", ADMIN, "The interfaces page's summary: HL7 listener (address, allow list, messages by status, last received), results sender (target, kind, outbox counts), FHIR API (live tokens)", || get(interfaces::summary)),
    route("GET", "/api/v1/hl7/outbox", ADMIN, "Results sent back to the EMR: queued, delivered, rejected with the EMR's error (?status=, ?limit=), with counts", || get(hl7_outbox::list)),
    route("POST", "/api/v1/hl7/outbox/{id}/requeue", ADMIN, "Send a result the EMR refused again, once the cause is fixed (audited)", || post(hl7_outbox::requeue)),
    route("GET", "/api/v1/audit", ADMIN, "Recent audit entries", || get(admin::audit_recent)),
    route("GET", "/api/v1/audit/verify", ADMIN, "Verify the audit hash chain", || get(admin::audit_verify)),
    route("POST", "/api/v1/tasks/{id}/call", CALLERS, "Dial the task's patient and bridge the call to your agent line", || post(calls::dial)),
    route("POST", "/api/v1/patients/{id}/call", RESPONDERS, "Call a patient outside the queue (doctors about an escalation; audited), bridged to your line", || post(calls::dial_patient)),
    route("GET", "/api/v1/calls", CLINICAL, "Calls (?live=true: the ones in progress; ?patient_id=N)", || get(calls::list)),
    route("GET", "/api/v1/calls/{id}", CLINICAL, "One call with its recording and log", || get(calls::get_one)),
    route("POST", "/api/v1/calls/{id}/hangup", CLINICAL, "Hang up a live call", || post(calls::hangup)),
    route("POST", "/api/v1/calls/{id}/dtmf", CALLERS, "Send DTMF digits to the patient (RFC 4733)", || post(calls::dtmf)),
    route("POST", "/api/v1/calls/{id}/mute", CALLERS, "Mute or unmute the nurse", || post(calls::mute)),
    route("POST", "/api/v1/calls/{id}/hold", CALLERS, "Hold (the patient hears music) or resume", || post(calls::hold)),
    route("POST", "/api/v1/calls/{id}/transfer", CLINICAL, "Blind transfer to another user's line", || post(calls::transfer)),
    route("POST", "/api/v1/calls/{id}/monitor", RESPONDERS, "Listen, whisper or barge into a live call (audited); mode null stops", || post(calls::monitor)),
    route("GET", "/api/v1/telephony", MANAGERS, "SIP trunk status", || get(calls::status)),
    route("PUT", "/api/v1/users/{id}/sip", ADMIN, "Set an agent's desk-phone extension and SIP password ({\"extension\", \"password\"}; only digest hashes are stored; audited)", || put(agents::set)),
    route("DELETE", "/api/v1/users/{id}/sip", ADMIN, "Remove an agent's desk-phone extension (audited)", || delete(agents::remove)),
    route("GET", "/api/v1/telephony/extensions", MANAGERS, "Agents' desk-phone extensions", || get(agents::extensions)),
    route("GET", "/api/v1/telephony/registrations", MANAGERS, "Registered desk phones: agent, extension, contact, source, transport, expiry, user agent", || get(agents::registrations)),
    route("GET", "/api/v1/calls/{id}/transcript", CALLERS, "A call's transcript: segments in time order with speaker labels (?format=json|vtt|srt, ?transcript=ID; audited)", || get(transcripts::call_transcript)),
    route("GET", "/api/v1/transcripts/search", CALLERS, "Search transcript segments (?q=, zh or en; trigram index from 3 characters, substring scan below)", || get(transcripts::search)),
    route("POST", "/api/v1/recordings/{id}/transcribe", MANAGERS, "Transcribe a recording again with another installed model (a new job; earlier transcripts kept)", || post(transcripts::retranscribe)),
    route("GET", "/api/v1/recordings/{id}/audio", CALLERS, "The recording (WAV, HTTP Range for seeking; every read audited)", || get(transcripts::audio)),
    // console (issue 7): supervisor views, QA, printable report
    route("GET", "/api/v1/settings", ANY_USER, "Console settings: the hospital's time zone and calling hours", || get(reports::settings)),
    route("GET", "/api/v1/wallboard", MANAGERS, "Live wallboard: agents, queue depth, today's counts, open escalations by age", || get(reports::wallboard)),
    route("GET", "/api/v1/reports", MANAGERS, "Period report (coverage, reach, completion, dials, time to contact and to acknowledge); ?format=csv", || get(reports::report)),
    route("GET", "/api/v1/recordings", DOCTORS, "Recordings browser: filter by date, nurse, patient, disposition, escalated", || get(reports::recordings)),
    route("GET", "/api/v1/recordings/{id}/download", MANAGERS, "Download a recording's WAV (audited); 410 once retention deleted the audio", || get(reports::download)),
    route("PUT", "/api/v1/recordings/{id}/hold", MANAGERS, "Keep a recording whatever its age ({\"reason\"}; audited)", || put(retention::hold)),
    route("DELETE", "/api/v1/recordings/{id}/hold", MANAGERS, "Release a hold: the recording follows [recordings] retention_days again (audited)", || delete(retention::release)),
    route("GET", "/api/v1/calls/{id}/reviews", MANAGERS, "QA reviews of a call", || get(reports::reviews)),
    route("POST", "/api/v1/calls/{id}/reviews", QA, "Score a call on the QA rubric (audited)", || post(reports::add_review)),
    route("POST", "/api/v1/scripts/validate", ADMIN, "Check a draft script (TOML) without saving it; lists every error with its line", || post(scripts::validate)),
    route("GET", "/api/v1/staff", CLINICAL, "Names and roles of active users (who an escalation went to)", || get(admin::staff)),
    route("GET", "/api/v1/patients/{id}/report", CLINICAL, "Printable follow-up report data: pathway progress, answers, trends (measurements and labs), escalations (audited)", || get(reports::patient_report)),
    // team reviews (issue 20 item 4)
    route("POST", "/api/v1/tasks/{id}/review", REVIEWERS, "Open the team review of a team-review task (or get the one already open; audited when opened)", || post(reviews::open)),
    route("GET", "/api/v1/reviews", CLINICAL, "Team reviews, newest first: unclosed (default) or ?status=closed; ?patient_id=N", || get(reviews::list)),
    route("GET", "/api/v1/reviews/{id}", CLINICAL, "A team review with its script and agenda: answers since discharge with trends, open and resolved escalations, calls with recording and transcript links, adherence (audited)", || get(reviews::get_one)),
    route("POST", "/api/v1/reviews/{id}/assessments", REVIEWERS, "Sign your discipline's assessment ({\"text\", \"answers\": {question: value}}; once per discipline; audited)", || post(reviews::sign)),
    route("POST", "/api/v1/reviews/{id}/actions", REVIEWERS, "Record and apply a decision: {\"kind\": \"follow_up_task\", \"script\", \"role\", \"in_days\", \"assignee\"} creates a task; {\"kind\": \"adjust_pathway\", \"task_id\", \"change\": {\"op\": \"postpone\", \"days\"} | {\"op\": \"cancel\"}} (audited)", || post(reviews::add_action)),
    route("POST", "/api/v1/reviews/{id}/close", REVIEWERS, "Close the review once every required discipline has signed (409 names the missing ones); completes its task (audited)", || post(reviews::close)),
    // SMS links (issue 19)
    route("POST", "/api/v1/tasks/{id}/sms-link", CALLERS, "Send the task's patient a link to answer its script by SMS (a new link; earlier ones of the task stop working; audited)", || post(sms::send_link)),
    route("POST", "/api/v1/sms-links/{id}/revoke", CALLERS, "Revoke a patient link (it answers 404 from now on; audited)", || post(sms::revoke)),
    route("GET", "/api/v1/patients/{id}/sms", CLINICAL, "A patient's SMS links with their status, SMS in and out, and SMS opt-out", || get(sms::of_patient)),
    route("GET", "/api/v1/agent/ws", CALLERS, "Agent line signaling (WebSocket: offer/answer/candidates, line check)", || get(super::agent_line::agent_ws)),
];

pub fn find(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

/// Middleware: resolves the session and enforces [`ROUTES`].
pub async fn authorize(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let Some(spec) = path.as_deref().and_then(|p| find(req.method(), p)) else {
        tracing::error!(method = %req.method(), path = ?path, "route missing from the access table");
        return Err(ApiError::forbidden());
    };
    if matches!(spec.access, Access::Public) {
        return Ok(next.run(req).await);
    }
    let token = session_token(req.headers()).ok_or_else(ApiError::unauthorized)?;
    let hash = crate::auth::token_hash(&token);
    let now = state.clock.now().timestamp();
    let user = state
        .store
        .read(move |c| session_user(c, &hash, now))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if let Access::Roles(roles) = spec.access {
        if !roles.contains(&user.role) {
            return Err(ApiError::forbidden());
        }
    }
    req.extensions_mut().insert(CurrentUser(user));
    Ok(next.run(req).await)
}

/// OpenAPI 3.1 document generated from [`ROUTES`], so it cannot drift from what is served.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let roles = match r.access {
            Access::Public => "public".to_string(),
            Access::Authenticated => "any logged-in user".to_string(),
            Access::Roles(rs) => rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        };
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let kind = if name == "id" { "integer" } else { "string" };
                json!({"name": name, "in": "path", "required": true, "schema": {"type": kind}})
            })
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "description": format!("Roles: {roles}."),
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !matches!(r.access, Access::Public) {
            op["security"] = json!([{"session": []}]);
        }
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "suifang API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": ["string", "null"]}}}}}}
        }
    })
}
