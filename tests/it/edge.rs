//! Issue 21, "Harden the edge": one test per threat, each against the real binary, each
//! failing on the code before the fix.

mod accounts;
mod audit_anchor;
mod logins;
mod logs;
mod phi;
mod small;
