//! Which tests may overlap in the one test process. cargo runs the tests of a binary on two
//! threads here (the default: one per core), and with every test in one binary, tests of
//! different areas now run side by side; before, only tests of the same file did. Tests
//! that must not share the machine say so by taking a guard for their whole run:
//!
//! - [`exclusive`]: nothing else that takes a guard runs meanwhile. For tests that keep
//!   both cores busy (whisper transcribing), that time real-time media on a floor of their
//!   own (the call-outcome, call-back and desk-phone floors: RTP pacing and audio matching
//!   on 2 cores, one at a time as they always were), and the test that captures loopback
//!   with tshark (any other test's RTP in its port range would be read as its own).
//! - [`shared`]: tests with real-time media (sipp, baresip, Chromium): two of them may run
//!   together, as they did inside their own files, but never beside an exclusive one.
//!
//! Tests of the API, the scripts and other logic take no guard: they may run beside anything.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::new(());

/// Held for a whole test (across `.await`s too: a test's runtime runs nothing else that
/// takes the lock). Its own type: the lock is meant to span the test, which
/// `clippy::await_holding_lock` would flag on a bare guard.
pub struct MachineGuard {
    _exclusive: Option<RwLockWriteGuard<'static, ()>>,
    _shared: Option<RwLockReadGuard<'static, ()>>,
}

/// The machine to this test alone (among tests that take a guard). A test that panicked
/// while holding it leaves nothing behind that the next one could trip on: poison is ignored.
pub fn exclusive() -> MachineGuard {
    MachineGuard {
        _exclusive: Some(MACHINE.write().unwrap_or_else(|e| e.into_inner())),
        _shared: None,
    }
}

/// The machine shared with other real-time tests, not with an exclusive one.
pub fn shared() -> MachineGuard {
    MachineGuard {
        _exclusive: None,
        _shared: Some(MACHINE.read().unwrap_or_else(|e| e.into_inner())),
    }
}
