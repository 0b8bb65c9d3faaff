//! `suifang api-token …`: API tokens for system clients of the FHIR API, from the command line
//! (the admin API does the same). Audited with the actor `cli`.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};

use super::open_store;
use crate::clock::Clock;
use crate::config::Config;
use crate::fhir::Scopes;
use crate::store::audit::{append, Actor};
use crate::store::{api_tokens, StoreError};

#[derive(Subcommand, Debug)]
pub enum ApiTokenCommand {
    /// Create a token; its secret is printed once (store it in the client's vault).
    Create(TokenCreate),
    /// List tokens (never their secrets).
    List,
    /// Revoke a token: it stops working at once.
    Revoke(TokenId),
}

#[derive(Args, Debug)]
pub struct TokenCreate {
    /// Who uses it, e.g. `emr-sync`.
    #[arg(long)]
    pub name: String,
    /// FHIR resource types it may read, space- or comma-separated (`Patient,Observation`), or `*`.
    #[arg(long)]
    pub scopes: String,
}

#[derive(Args, Debug)]
pub struct TokenId {
    #[arg(long)]
    pub id: i64,
}

pub fn run(config: &Config, command: ApiTokenCommand) -> Result<()> {
    let store = open_store(config)?;
    let now = Clock::with_offset_seconds(config.clock.offset_seconds).now();
    match command {
        ApiTokenCommand::Create(args) => {
            let scopes = Scopes::parse(&args.scopes).map_err(|e| anyhow!("--scopes: {e}"))?;
            let (token, secret) = store.write_blocking(move |tx| {
                let (token, secret) = api_tokens::create(tx, &args.name, &scopes, "cli", now)?;
                append(
                    tx,
                    &Actor::system("cli"),
                    "create",
                    "api_token",
                    Some(&token.id.to_string()),
                    &format!("name={} scopes={}", token.name, token.scopes),
                    now.timestamp(),
                )?;
                Ok((token, secret))
            })?;
            eprintln!(
                "API token {} `{}` for {}; the secret below is shown only now:",
                token.id, token.name, token.scopes
            );
            println!("{secret}");
        }
        ApiTokenCommand::List => {
            for t in store.read_blocking(api_tokens::list)? {
                println!(
                    "{}\t{}\t{}\tcreated {} by {}\t{}",
                    t.id,
                    t.name,
                    t.scopes,
                    t.created_at.format("%Y-%m-%d"),
                    t.created_by,
                    match t.revoked_at {
                        Some(r) => format!("revoked {}", r.format("%Y-%m-%d")),
                        None => "live".into(),
                    }
                );
            }
        }
        ApiTokenCommand::Revoke(TokenId { id }) => {
            let revoked = store.write_blocking(move |tx| {
                let live = api_tokens::revoke(tx, id, now)?;
                if live {
                    append(
                        tx,
                        &Actor::system("cli"),
                        "revoke",
                        "api_token",
                        Some(&id.to_string()),
                        "",
                        now.timestamp(),
                    )?;
                }
                Ok::<_, StoreError>(live)
            })?;
            if !revoked {
                bail!("API token {id} does not exist or is already revoked");
            }
            println!("API token {id} revoked");
        }
    }
    Ok(())
}
