//! The registrar's side of the call center: agents' SIP credentials handed to the engine, its
//! bindings persisted (so a restart keeps routing to registered desk phones) and audited, and
//! refused credentials logged.

use std::net::SocketAddr;

use super::*;
use crate::sip::registrar::{Binding, RegistrarEvent, UnbindReason};
use crate::sip::ua::Transport;
use crate::store::agents::{self, RegistrationRow};
use crate::store::audit::Actor;

/// At most one audit row per (user, address) of refused desk-phone credentials this often;
/// every refusal is logged.
const AUTH_AUDIT_EVERY: Duration = Duration::from_secs(60);

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    }
}

impl Center {
    /// Gives the registrar the agents' accounts when they changed; at start-up also puts back
    /// the bindings persisted before the restart.
    pub(super) async fn load_agents(&mut self, at_start: bool) {
        let realm = self.state.config.sip.registrar_realm.clone();
        let now = self.now();
        let loaded = self
            .state
            .store
            .read(move |c| {
                let (accounts, other_realm) = agents::accounts(c, &realm)?;
                let live = if at_start {
                    agents::live_registrations(c, now)?
                } else {
                    Vec::new()
                };
                Ok((accounts, other_realm, live))
            })
            .await;
        let (accounts, other_realm, live) = match loaded {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "cannot load agents' SIP credentials");
                return;
            }
        };
        if at_start && !other_realm.is_empty() {
            tracing::warn!(extensions = ?other_realm, realm = %self.state.config.sip.registrar_realm,
                "SIP passwords set for another realm cannot be used: set them again (suifang user sip)");
        }
        if !at_start && accounts == self.agents {
            return;
        }
        tracing::info!(accounts = accounts.len(), "desk phone accounts loaded");
        let n = accounts.len();
        self.status.send_modify(|s| s.agent_accounts = n);
        self.agents = accounts.clone();
        if self.engine.set_agent_accounts(accounts).await.is_err() {
            return;
        }
        if at_start {
            let _ = self
                .state
                .store
                .write(move |tx| agents::purge_expired(tx, now))
                .await;
            let restored = self.restore(live, now);
            tracing::info!(
                bindings = restored.len(),
                "desk phone registrations restored"
            );
            for b in &restored {
                self.bindings
                    .insert((b.extension.clone(), b.contact.to_string()));
            }
            let _ = self.engine.restore_bindings(restored).await;
            self.publish_bindings();
        }
    }

    /// Persisted rows back into bindings (monotonic deadlines from wall-clock expiry).
    fn restore(&self, rows: Vec<RegistrationRow>, now: i64) -> Vec<Binding> {
        let mono = Instant::now().into_std();
        rows.into_iter()
            .filter_map(|r| {
                let left = u64::try_from(r.expires_at - now).ok()?;
                Some(Binding {
                    contact: SipUri::parse(&r.contact).ok()?,
                    source: r.source.parse::<SocketAddr>().ok()?,
                    transport: match r.transport.as_str() {
                        "tcp" => Transport::Tcp,
                        "tls" => Transport::Tls,
                        _ => Transport::Udp,
                    },
                    extension: r.extension,
                    user_id: r.user_id,
                    call_id: r.call_id,
                    cseq: r.cseq,
                    user_agent: r.user_agent,
                    expires_at: mono + Duration::from_secs(left),
                })
            })
            .collect()
    }

    fn publish_bindings(&self) {
        let n = self.bindings.len();
        self.status.send_modify(|s| s.desk_phones = n);
    }

    /// Persists, audits and logs what the registrar did.
    pub(super) async fn registrar_event(
        &mut self,
        event: RegistrarEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        match event {
            RegistrarEvent::Bound { binding, refreshed } => {
                let left = binding
                    .expires_at
                    .saturating_duration_since(Instant::now().into_std())
                    .as_secs();
                let row = RegistrationRow {
                    extension: binding.extension.clone(),
                    contact: binding.contact.to_string(),
                    user_id: binding.user_id,
                    source: binding.source.to_string(),
                    transport: transport_name(binding.transport).into(),
                    call_id: binding.call_id.clone(),
                    cseq: binding.cseq,
                    user_agent: binding.user_agent.clone(),
                    expires_at: now + i64::try_from(left).unwrap_or(i64::MAX / 2),
                };
                self.bindings
                    .insert((row.extension.clone(), row.contact.clone()));
                self.publish_bindings();
                if !refreshed {
                    tracing::info!(extension = %row.extension, contact = %row.contact, source = %row.source, seconds = left, "desk phone registered");
                }
                let detail = format!(
                    "extension={} contact={} source={} transport={} user_agent={}",
                    row.extension,
                    row.contact,
                    row.source,
                    row.transport,
                    row.user_agent.as_deref().unwrap_or("-")
                );
                self.state
                    .store
                    .write(move |tx| {
                        agents::upsert_registration(tx, &row, now)?;
                        if refreshed {
                            return Ok(());
                        }
                        crate::store::audit::append(
                            tx,
                            &Actor {
                                id: Some(row.user_id),
                                name: format!("sip:{}", row.extension),
                            },
                            "sip_registered",
                            "user",
                            Some(&row.user_id.to_string()),
                            &detail,
                            now,
                        )
                    })
                    .await
            }
            RegistrarEvent::Unbound { binding, reason } => {
                let (ext, contact) = (binding.extension.clone(), binding.contact.to_string());
                self.bindings.remove(&(ext.clone(), contact.clone()));
                self.publish_bindings();
                tracing::info!(extension = %ext, %contact, reason = reason.as_str(), "desk phone binding removed");
                let user_id = binding.user_id;
                self.state
                    .store
                    .write(move |tx| {
                        agents::delete_registration(tx, &ext, &contact)?;
                        if reason == UnbindReason::Expired {
                            return Ok(());
                        }
                        crate::store::audit::append(
                            tx,
                            &Actor::system("registrar"),
                            "sip_unregistered",
                            "user",
                            Some(&user_id.to_string()),
                            &format!(
                                "extension={ext} contact={contact} reason={}",
                                reason.as_str()
                            ),
                            now,
                        )
                    })
                    .await
            }
            RegistrarEvent::AuthFailed {
                method,
                username,
                source,
                failure,
            } => {
                let who = username.clone().unwrap_or_else(|| "-".into());
                tracing::warn!(%method, user = %who, %source, %failure, "desk phone credentials refused");
                self.state.calls.sip_counters().auth_failed(matches!(
                    failure,
                    crate::sip::registrar::DigestFailure::TooManyFailures
                ));
                let key = format!("{who}|{}", source.ip());
                let due = self
                    .auth_audited
                    .get(&key)
                    .is_none_or(|t| t.elapsed() >= AUTH_AUDIT_EVERY);
                if !due {
                    return Ok(());
                }
                if self.auth_audited.len() > 10_000 {
                    self.auth_audited
                        .retain(|_, t| t.elapsed() < AUTH_AUDIT_EVERY);
                }
                self.auth_audited.insert(key, Instant::now());
                let detail = format!("{method} from {source}: {failure}");
                self.state
                    .store
                    .write(move |tx| {
                        crate::store::audit::append(
                            tx,
                            &Actor::system("registrar"),
                            "sip_auth_failed",
                            "sip_extension",
                            username.as_deref(),
                            &detail,
                            now,
                        )
                    })
                    .await
            }
        }
    }
}
