//! Escalations (work in progress).
