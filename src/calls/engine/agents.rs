//! The engine's side of agents' desk phones: the registrar's accounts and persisted bindings,
//! where an extension is reachable, and 180 Ringing while a desk phone is rung for a call.

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Command, Engine};
use crate::calls::CallsError;
use crate::sip::registrar::{AgentAccount, Binding};
use crate::sip::ua::{CallHandle, Endpoint};

/// Requests to the engine task about desk phones.
pub(in crate::calls) enum AgentCommand {
    Ringing(CallHandle),
    SetAccounts(Vec<AgentAccount>),
    Restore(Vec<Binding>),
    Binding {
        extension: String,
        reply: oneshot::Sender<Option<Binding>>,
    },
}

impl Engine {
    /// Sends 180 Ringing for an inbound call (while a desk phone is rung for it).
    pub async fn ringing(&self, call: CallHandle) -> Result<(), CallsError> {
        self.send(Command::Agents(AgentCommand::Ringing(call)))
            .await
    }

    /// Replaces the desk-phone accounts the registrar authenticates.
    pub async fn set_agent_accounts(&self, accounts: Vec<AgentAccount>) -> Result<(), CallsError> {
        self.send(Command::Agents(AgentCommand::SetAccounts(accounts)))
            .await
    }

    /// Puts back bindings persisted before a restart (after [`Engine::set_agent_accounts`]).
    pub async fn restore_bindings(&self, bindings: Vec<Binding>) -> Result<(), CallsError> {
        self.send(Command::Agents(AgentCommand::Restore(bindings)))
            .await
    }

    /// Where calls to `extension` go now, if its desk phone is registered.
    pub async fn agent_binding(&self, extension: &str) -> Result<Option<Binding>, CallsError> {
        let (reply, rx) = oneshot::channel();
        let extension = extension.to_owned();
        self.send(Command::Agents(AgentCommand::Binding { extension, reply }))
            .await?;
        rx.await.map_err(|_| CallsError::EngineStopped)
    }
}

/// Runs one request on the engine task.
pub(super) fn handle(ep: &mut Endpoint, cmd: AgentCommand) {
    let now = Instant::now().into_std();
    match cmd {
        AgentCommand::Ringing(call) => ep.ringing(call, now),
        AgentCommand::SetAccounts(accounts) => {
            if let Some(r) = ep.registrar_mut() {
                r.set_accounts(accounts);
            }
        }
        AgentCommand::Restore(bindings) => {
            if let Some(r) = ep.registrar_mut() {
                for b in bindings {
                    r.restore(b, now);
                }
            }
        }
        AgentCommand::Binding { extension, reply } => {
            let found = ep
                .registrar()
                .and_then(|r| r.binding(&extension, now))
                .cloned();
            let _ = reply.send(found);
        }
    }
}
