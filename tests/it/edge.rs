//! Issue 21, "Harden the edge": one test per threat, each against the real binary, each
//! failing on the code before the fix.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod audit_anchor;
mod logins;
mod logs;
mod phi;
mod small;
