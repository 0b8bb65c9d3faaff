//! Time is a parameter: logic takes `now`, and the server reads it from one `Clock`.

use chrono::{DateTime, Duration, Utc};

/// The server's source of `now`. A fixed offset lets tests and drills move time forward across
/// a restart (leases, SLA timers live in the database) without sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    pub fn with_offset_seconds(seconds: i64) -> Clock {
        Clock {
            offset: Duration::seconds(seconds),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    pub fn is_shifted(&self) -> bool {
        !self.offset.is_zero()
    }
}
