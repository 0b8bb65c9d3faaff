//! The local hours in which a patient may be called (`hospital.calling_hours`): a clinical
//! rule of the follow-up service, read from the configuration but used by the queue, the
//! retry policy and the dialler.

use chrono::NaiveTime;

/// Local calling hours, parsed from `HH:MM-HH:MM` (`24:00` is the end of the day, so
/// `00:00-24:00` is any hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallingHours {
    pub start: NaiveTime,
    /// Exclusive; `None` is midnight at the end of the day (`24:00`).
    pub end: Option<NaiveTime>,
}

impl CallingHours {
    pub fn parse(text: &str) -> Option<CallingHours> {
        let (start, end) = text.split_once('-')?;
        let start = NaiveTime::parse_from_str(start.trim(), "%H:%M").ok()?;
        let end = match end.trim() {
            "24:00" => None,
            end => Some(NaiveTime::parse_from_str(end, "%H:%M").ok()?),
        };
        end.is_none_or(|end| start < end)
            .then_some(CallingHours { start, end })
    }

    /// Whether the local time `t` is inside the hours (start inclusive, end exclusive).
    pub fn contains(&self, t: NaiveTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }
}

impl std::fmt::Display for CallingHours {
    /// The form [`CallingHours::parse`] reads: `08:30-20:00`, `00:00-24:00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.end {
            Some(end) => write!(f, "{}-{}", self.start.format("%H:%M"), end.format("%H:%M")),
            None => write!(f, "{}-24:00", self.start.format("%H:%M")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calling_hours_parse_24_00_as_the_end_of_the_day() {
        let all = CallingHours::parse("00:00-24:00").unwrap();
        assert_eq!(all.end, None);
        let late = CallingHours::parse("08:30-24:00").unwrap();
        assert!(!late.contains(NaiveTime::from_hms_opt(8, 29, 59).unwrap()));
        assert!(late.contains(NaiveTime::from_hms_opt(23, 59, 59).unwrap()));
        assert!(CallingHours::parse("24:00-08:00").is_none());
        assert!(CallingHours::parse("08:00-08:00").is_none());
    }
}
