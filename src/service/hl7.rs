//! The MLLP listener: the I/O shell around `hl7` (framing, parsing, ACKs) and `store::hl7`.
//!
//! One task per connection; messages on a connection are handled one at a time, as MLLP
//! senders wait for each ACK. A message is decoded and checked without the database, then
//! stored with its effect in one transaction; the ACK goes out only after that commits. When
//! the database cannot take it, the ACK is AE/CE with error 207, so the sender keeps it and
//! sends it again: nothing the hospital sent is lost either way. Connections from outside
//! `hl7.allow` are closed unanswered.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono_tz::Tz;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::events::EventBus;
use crate::followup::lab::LabCatalog;
use crate::followup::pathway::{Calendar, PathwayCatalog};
use crate::followup::script::ScriptCatalog;
use crate::hl7::ack::{build, reply_context, AckCode, Replier};
use crate::hl7::admit::{admission, merge};
use crate::hl7::adt::{discharge, patient, visit, Mapping};
use crate::hl7::charset::{decode_message, Charset};
use crate::hl7::header::{Event, Header};
use crate::hl7::message::{parse, ErrorCode, Hl7Error};
use crate::hl7::mllp::{frame, Frame, MllpDecoder};
use crate::hl7::oru::{lab_report, LabReport};
use crate::store::hl7::{
    apply_cancel_discharge, apply_discharge, apply_update, receive, Applied, Receipt, Received,
};
use crate::store::hl7_admit::{apply_admit, apply_cancel_admit, apply_merge};
use crate::store::Store;

/// What the listener needs, and nothing else.
pub struct Hl7Service {
    pub store: Store,
    pub clock: Clock,
    pub pathways: Arc<PathwayCatalog>,
    pub calendar: Arc<Calendar>,
    /// Scripts whose `lab()` rules judge an arriving lab result.
    pub scripts: Arc<ScriptCatalog>,
    /// `[labs]`: which OBX codes are which lab, in which unit.
    pub labs: LabCatalog,
    pub webhooks_enabled: bool,
    /// Where escalations opened by a lab result are pushed once stored.
    pub events: EventBus,
    pub time_zone: Tz,
    pub mapping: Mapping,
    pub replier: Replier,
    pub fallback_charset: Charset,
    pub allow: Vec<ipnet::IpNet>,
    pub max_message_bytes: usize,
    /// `[outcomes] planned_admission_types`.
    pub planned_admission_types: Vec<String>,
}

impl Hl7Service {
    /// The service as `[hl7]` configures it.
    pub fn new(
        config: &crate::config::Config,
        store: Store,
        clock: Clock,
        pathways: Arc<PathwayCatalog>,
        scripts: Arc<ScriptCatalog>,
        calendar: Arc<Calendar>,
        events: EventBus,
    ) -> Result<Hl7Service, crate::config::ConfigError> {
        let hl7 = &config.hl7;
        Ok(Hl7Service {
            store,
            clock,
            pathways,
            calendar,
            scripts,
            labs: config.lab_catalog()?,
            webhooks_enabled: config.webhook.enabled(),
            events,
            time_zone: config.time_zone()?,
            mapping: hl7.mapping(),
            replier: Replier {
                application: hl7.application.clone(),
                facility: if hl7.facility.is_empty() {
                    config.hospital.name.clone()
                } else {
                    hl7.facility.clone()
                },
            },
            fallback_charset: hl7.fallback_charset()?,
            allow: hl7.allowed()?,
            max_message_bytes: hl7.max_message_bytes,
            planned_admission_types: config.outcomes.planned_admission_types.clone(),
        })
    }

    /// Processes a stored message again (an admin fixed what made it fail, e.g. a department
    /// map): the same path as a message off the wire, so a message applied before is not
    /// applied twice. Returns the ACK that would have gone out, as text.
    pub async fn replay(&self, id: i64, by: &str) -> Result<String, crate::store::StoreError> {
        let raw = self
            .store
            .read(move |c| crate::store::hl7::raw(c, id))
            .await?;
        tracing::info!(message = id, by, "HL7 message replayed");
        // no peer: the stored row keeps the address the message came from
        let ack = handle(self, None, raw).await.unwrap_or_default();
        let (text, _) = decode_message(&ack, self.fallback_charset)
            .unwrap_or_else(|_| (String::from_utf8_lossy(&ack).into_owned(), Charset::Utf8));
        Ok(text)
    }
}

/// Accepts connections until `stop` turns true.
pub async fn listen(
    listener: TcpListener,
    service: Arc<Hl7Service>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "HL7 listener: accept failed");
                continue;
            }
        };
        if !service.allow.iter().any(|n| n.contains(&peer.ip())) {
            tracing::warn!(%peer, "HL7 connection from outside hl7.allow closed");
            continue;
        }
        let (service, stop) = (service.clone(), stop.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &service, stop).await {
                tracing::info!(%peer, error = %e, "HL7 connection ended");
            }
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    service: &Hl7Service,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut decoder = MllpDecoder::new(service.max_message_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = stream.read(&mut buf) => r?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if n == 0 {
            if decoder.mid_frame() {
                tracing::warn!(%peer, "HL7 sender closed mid-message (never ACKed: it will resend)");
            }
            return Ok(());
        }
        let frames = match decoder.push(&buf[..n]) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "HL7 frame refused; closing the connection");
                return Ok(());
            }
        };
        for Frame::Message(bytes) in frames {
            if let Some(ack) = handle(service, Some(peer), bytes).await {
                stream.write_all(&frame(&ack)).await?;
            }
        }
    }
}

/// One message in, its ACK out (encoded, unframed); `None` when the sender asked for no
/// acknowledgement of this outcome (enhanced mode, MSH-15 `NE`/`ER`/`SU`). The message is
/// stored either way.
pub async fn handle(
    service: &Hl7Service,
    peer: Option<SocketAddr>,
    bytes: Vec<u8>,
) -> Option<Vec<u8>> {
    let now = service.clock.now();
    let decoded = decode_message(&bytes, service.fallback_charset);
    let (text, charset) = match &decoded {
        Ok((t, c)) => (t.clone(), Some(*c)),
        // undecodable: answer from what the ASCII header says
        Err(_) => (String::from_utf8_lossy(&bytes).into_owned(), None),
    };
    let (header, delimiters) = reply_context(&text);
    let checked: Result<(crate::hl7::message::Message, Event), Hl7Error> = match &decoded {
        Err(e) => Err(Hl7Error::at(ErrorCode::DataType, "MSH", 18, e.to_string())),
        Ok(_) => parse(&text).and_then(|m| {
            let event = Header::read(&m).event()?;
            Ok((m, event))
        }),
    };
    let received = Received {
        peer: peer.map(|p| p.to_string()),
        sending_application: header.sending_application.clone(),
        sending_facility: header.sending_facility.clone(),
        control_id: header.control_id.clone(),
        message_type: format!("{}^{}", header.message_type, header.trigger),
        charset: charset.map(|c| c.msh18().to_string()),
        raw: bytes,
    };
    // the domain reading happens outside the database thread
    let prepared: Result<Prepared, Hl7Error> = checked.and_then(|(m, event)| match event {
        Event::Discharge => discharge(&m, service.time_zone, now, &service.mapping)
            .map(|d| Prepared::Discharge(Box::new(d))),
        Event::Update => patient(&m, &service.mapping).map(|p| Prepared::Update(Box::new(p))),
        Event::CancelDischarge => visit(&m, service.time_zone, now).map(Prepared::CancelDischarge),
        Event::LabResult => lab_report(&m, &service.labs, service.time_zone, now)
            .map(|r| Prepared::Labs(Box::new(r))),
        Event::Admit => admission(&m, service.time_zone, now, &service.mapping)
            .map(|a| Prepared::Admit(Box::new(a))),
        Event::CancelAdmit => visit(&m, service.time_zone, now).map(Prepared::CancelAdmit),
        Event::Merge => merge(&m).map(Prepared::Merge),
    });
    let mode = header.ack_mode;
    let (pathways, calendar) = (service.pathways.clone(), service.calendar.clone());
    let sender = header.sending_application.clone();
    let (scripts, webhooks_enabled) = (service.scripts.clone(), service.webhooks_enabled);
    let control_id = header.control_id.clone();
    let planned_types = service.planned_admission_types.clone();
    let stored = service
        .store
        .write(move |tx| {
            // a lab result's escalations and rows, to push and to link to the message
            let mut labs: Option<crate::service::labs::LabsApplied> = None;
            let out = receive(
                tx,
                &received,
                now.timestamp(),
                |r| AckCode::of(r).msa1(mode).to_string(),
                |tx| match prepared {
                    Ok(Prepared::Discharge(d)) => {
                        apply_discharge(tx, &d, &pathways, &calendar, &sender, now)
                    }
                    Ok(Prepared::Update(p)) => apply_update(tx, &p, &sender, now),
                    Ok(Prepared::CancelDischarge(v)) => {
                        apply_cancel_discharge(tx, &v, &sender, now)
                    }
                    Ok(Prepared::Labs(r)) => {
                        let routing = crate::service::findings::Routing {
                            webhooks_enabled,
                            calendar: &calendar,
                        };
                        let applied = crate::service::labs::apply_report(
                            tx,
                            &r,
                            &control_id,
                            &scripts,
                            routing,
                            &sender,
                            now,
                        )?;
                        Ok(applied.map(|a| {
                            let patient_id = a.patient_id;
                            labs = Some(a);
                            Applied {
                                patient_id: Some(patient_id),
                                tasks_created: 0,
                            }
                        }))
                    }
                    Ok(Prepared::Admit(a)) => apply_admit(tx, &a, &planned_types, &sender, now),
                    Ok(Prepared::CancelAdmit(v)) => apply_cancel_admit(tx, &v, &sender, now),
                    Ok(Prepared::Merge(m)) => apply_merge(tx, &m, &sender, now),
                    Err(e) => Ok(Err(e)),
                },
            )?;
            if let (Receipt::Stored { id }, Some(l)) = (&out.0, &labs) {
                crate::store::labs::link_message(tx, &l.observations, *id)?;
            }
            Ok((out, labs))
        })
        .await;
    let (stored, labs) = match stored {
        Ok((out, labs)) => (Ok(out), labs),
        Err(e) => (Err(e), None),
    };
    if let Some(l) = &labs {
        crate::service::notify::publish_recorded(&service.events, &l.escalations, l.patient_id);
    }
    let result: Result<Applied, Hl7Error> = match stored {
        Ok((Receipt::Duplicate { id, .. }, _)) => {
            tracing::info!(control_id = %header.control_id, message = id, "HL7 message sent again: already applied, same ACK");
            Ok(Applied::default())
        }
        Ok((Receipt::Stored { id }, result)) => {
            match &result {
                Ok(a) => {
                    tracing::info!(message = id, kind = %format!("{}^{}", header.message_type, header.trigger), patient = ?a.patient_id, tasks = a.tasks_created, "HL7 message applied")
                }
                Err(e) => {
                    tracing::warn!(message = id, error = %e, "HL7 message refused (kept with its error)")
                }
            }
            result
        }
        Err(e) => {
            tracing::error!(error = %e, "HL7 message could not be stored: answered 207 so the sender keeps it");
            Err(Hl7Error {
                code: ErrorCode::ApplicationInternal,
                location: None,
                message: "could not be stored; send it again".into(),
            })
        }
    };
    if !header.ack_mode.sends_ack(result.is_ok()) {
        return None;
    }
    let ack = build(
        &header,
        &delimiters,
        result.as_ref().map(|_| ()),
        &service.replier,
        &format!("ACK{}", now.timestamp_micros()),
        &now.with_timezone(&service.time_zone)
            .format("%Y%m%d%H%M%S")
            .to_string(),
        charset.filter(|c| *c != Charset::Utf8).map(Charset::msh18),
    );
    Some(charset.unwrap_or(Charset::Utf8).encode(&ack))
}

/// A message read and checked, ready to be applied in the store's transaction.
enum Prepared {
    Discharge(Box<crate::hl7::adt::Discharge>),
    Update(Box<crate::followup::patient::ValidPatient>),
    CancelDischarge(crate::hl7::adt::VisitRef),
    Labs(Box<LabReport>),
    Admit(Box<crate::hl7::admit::Admit>),
    CancelAdmit(crate::hl7::adt::VisitRef),
    Merge(crate::hl7::admit::Merge),
}
