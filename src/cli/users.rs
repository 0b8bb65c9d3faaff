//! `suifang user …`: add users, give agents a desk-phone extension, and the account
//! lifecycle (disable, enable, reset a password, end sessions). Every change is audited with
//! the actor `cli`.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::open_store;
use crate::auth::password::hash_password;
use crate::auth::role::Role;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{accounts, audit};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add(UserAdd),
    /// Set an agent's SIP desk-phone extension; the SIP password is read from standard input
    /// (only its digest hashes are stored). `--remove` takes the extension away.
    Sip(UserSip),
    /// Disable a user: she cannot log in, her sessions end, her desk phone is dropped.
    Disable(UserName),
    /// Enable a disabled user again.
    Enable(UserName),
    /// Set a new password (read from standard input); her sessions end.
    Password(UserName),
    /// Log a user out everywhere (a lost laptop, a shared screen).
    RevokeSessions(UserName),
}

#[derive(Args, Debug)]
pub struct UserName {
    #[arg(long)]
    pub username: String,
}

#[derive(Args, Debug)]
pub struct UserSip {
    #[arg(long)]
    pub username: String,
    /// 2–6 digits: the phone's SIP user name and auth user.
    #[arg(long, required_unless_present = "remove")]
    pub extension: Option<String>,
    /// Remove the user's extension instead (her desk phone is unregistered).
    #[arg(long, conflicts_with = "extension")]
    pub remove: bool,
}

#[derive(Args, Debug)]
pub struct UserAdd {
    #[arg(long)]
    pub username: String,
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    #[arg(long)]
    pub display_name: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("`{s}` is not one of nurse, supervisor, doctor, admin"))
}

/// Runs one `suifang user` command.
pub fn run(config: &Config, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add(args) => add_user(config, args),
        UserCommand::Sip(args) => user_sip(config, args),
        UserCommand::Disable(who) => lifecycle(config, who, Change::Active(false)),
        UserCommand::Enable(who) => lifecycle(config, who, Change::Active(true)),
        UserCommand::Password(who) => {
            let password = read_password(&format!("new password for {}", who.username))?;
            let hash = hash_password(&password)?;
            lifecycle(config, who, Change::Password(hash))
        }
        UserCommand::RevokeSessions(who) => lifecycle(config, who, Change::Sessions),
    }
}

enum Change {
    Active(bool),
    Password(String),
    Sessions,
}

fn lifecycle(config: &Config, who: UserName, change: Change) -> Result<()> {
    let store = open_store(config)?;
    let now = Clock::with_offset_seconds(config.clock.offset_seconds)
        .now()
        .timestamp();
    let name = who.username.clone();
    let message = store.write_blocking(move |tx| {
        let id = accounts::user_id(tx, &name)?;
        let actor = audit::Actor::system("cli");
        Ok(match change {
            Change::Active(active) => {
                accounts::set_active(tx, &actor, id, active, now)?;
                if active {
                    "enabled"
                } else {
                    "disabled; her sessions ended"
                }
                .to_string()
            }
            Change::Password(hash) => {
                let n = accounts::reset_password(tx, &actor, id, &hash, now)?;
                format!("has a new password; {n} sessions ended")
            }
            Change::Sessions => {
                let n = accounts::revoke_sessions(tx, &actor, id, now)?;
                format!("logged out everywhere ({n} sessions ended)")
            }
        })
    })?;
    println!("{} {message}", who.username);
    Ok(())
}

/// One line from standard input (prompted on a terminal), without its line ending.
fn read_password(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}: ");
    }
    let mut password = String::new();
    stdin.lock().read_line(&mut password)?;
    Ok(password.trim_end_matches(['\n', '\r']).to_string())
}

fn user_sip(config: &Config, args: UserSip) -> Result<()> {
    let store = open_store(config)?;
    let now = Clock::with_offset_seconds(config.clock.offset_seconds)
        .now()
        .timestamp();
    let name = args.username.clone();
    let found = store.read_blocking(move |c| crate::store::users::user_for_login(c, &name))?;
    let Some((user, login_hash)) = found else {
        bail!("no user `{}`", args.username);
    };
    let actor = audit::Actor::system("cli");
    let Some(extension) = args.extension else {
        let removed = store.write_blocking(move |tx| {
            crate::store::agents::remove_extension(tx, &actor, user.id, now)
        })?;
        if !removed {
            bail!("{} has no SIP extension", args.username);
        }
        println!("SIP extension of {} removed", args.username);
        return Ok(());
    };
    crate::store::agents::check_extension(&extension)?;
    let password = read_password(&format!("SIP password for extension {extension}"))?;
    crate::store::agents::check_sip_password(&password)?;
    crate::api::differs_from_login(&password, &login_hash).map_err(anyhow::Error::msg)?;
    let realm = config.sip.registrar_realm.clone();
    let ha1 = crate::sip::registrar::Ha1::compute(&extension, &realm, &password);
    let (ext, r) = (extension.clone(), realm.clone());
    store.write_blocking(move |tx| {
        crate::store::agents::set_extension(tx, &actor, user.id, &ext, &r, &ha1, now)
    })?;
    println!(
        "{} has SIP extension {extension} (realm {realm}); point the desk phone at this server's SIP port with user and auth user {extension}",
        args.username
    );
    Ok(())
}

fn add_user(config: &Config, args: UserAdd) -> Result<()> {
    let password = read_password(&format!("password for {}", args.username))?;
    let hash = hash_password(&password)?;
    let store = open_store(config)?;
    let now = Clock::default().now().timestamp();
    let display = args
        .display_name
        .clone()
        .unwrap_or_else(|| args.username.clone());
    let id = store.write_blocking(move |tx| {
        let id = crate::store::users::create_user(
            tx,
            &args.username,
            &display,
            args.role,
            &hash,
            args.department.as_deref(),
            now,
        )?;
        audit::append(
            tx,
            &audit::Actor::system("cli"),
            "create",
            "user",
            Some(&id.to_string()),
            &format!("role={}", args.role.as_str()),
            now,
        )?;
        Ok(id)
    })?;
    println!("user {id} created");
    Ok(())
}
