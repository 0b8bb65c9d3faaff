//! Duty shifts: when a clinician of a discipline is on shift, as a pure function of the local
//! time and the hospital's holidays (issue 20 item 3).
//!
//! A shift is a daily time window on a weekday pattern. A window whose end is not after its start
//! runs over midnight and belongs to the day it starts on (a Friday 22:00–08:00 night shift
//! covers Saturday 03:00). Holidays (`hospital.holidays`, local dates) either cancel the shift
//! ([`Holidays::Skip`], the default: office-hours clinics close), add to it ([`Holidays::Also`]:
//! weekend on-call that also covers public holidays), or are the only days it runs
//! ([`Holidays::Only`]). The store evaluates every shift row with [`Shift::covers`] at `now` and
//! puts who is on into the [`super::Roster`], so the routing decision stays a plain function.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A set of weekdays, bit 0 = Monday … bit 6 = Sunday (the form stored in `duty_shifts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Weekdays(u8);

const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A weekday pattern or shift that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShiftError {
    #[error("weekdays `{0}`: use daily, or day names and ranges like `mon-fri` or `sat,sun`")]
    Weekdays(String),
    #[error("time `{0}`: use HH:MM (24-hour)")]
    Time(String),
    #[error("holidays `{0}`: use skip, also or only")]
    Holidays(String),
}

impl Weekdays {
    /// Every day.
    pub const DAILY: Weekdays = Weekdays(0x7f);

    /// From the stored bit mask (bits above Sunday are ignored).
    pub fn from_bits(bits: u8) -> Self {
        Weekdays(bits & 0x7f)
    }

    /// The stored bit mask.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Parses `daily`, `mon-fri`, `sat,sun`, `mon,wed-fri` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, ShiftError> {
        let bad = || ShiftError::Weekdays(text.to_owned());
        let t = text.trim().to_ascii_lowercase();
        if t == "daily" {
            return Ok(Weekdays::DAILY);
        }
        let day = |s: &str| NAMES.iter().position(|n| *n == s.trim()).ok_or_else(bad);
        let mut bits = 0u8;
        for part in t.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (day(a)?, day(b)?),
                None => (day(part)?, day(part)?),
            };
            if a > b {
                return Err(bad());
            }
            (a..=b).for_each(|i| bits |= 1 << i);
        }
        Ok(Weekdays(bits))
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Weekdays::DAILY {
            return f.write_str("daily");
        }
        let days: Vec<&str> = (0..7)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| NAMES[i])
            .collect();
        f.write_str(&days.join(","))
    }
}

impl TryFrom<String> for Weekdays {
    type Error = ShiftError;
    fn try_from(s: String) -> Result<Self, ShiftError> {
        Weekdays::parse(&s)
    }
}

impl From<Weekdays> for String {
    fn from(w: Weekdays) -> String {
        w.to_string()
    }
}

/// What a public holiday does to a shift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holidays {
    /// Not on holidays (office-hours shifts).
    #[default]
    Skip,
    /// On its weekdays and on every holiday (on-call cover).
    Also,
    /// Only on holidays.
    Only,
}

impl Holidays {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Holidays::Skip => "skip",
            Holidays::Also => "also",
            Holidays::Only => "only",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Result<Self, ShiftError> {
        match s {
            "skip" => Ok(Holidays::Skip),
            "also" => Ok(Holidays::Also),
            "only" => Ok(Holidays::Only),
            other => Err(ShiftError::Holidays(other.to_owned())),
        }
    }
}

/// A recurring shift in hospital local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Days the shift starts on.
    pub weekdays: Weekdays,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time; not after `start` means the shift ends the next day.
    pub end: NaiveTime,
    /// What holidays do to it.
    pub holidays: Holidays,
}

/// Parses `HH:MM`.
pub fn parse_time(s: &str) -> Result<NaiveTime, ShiftError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| ShiftError::Time(s.to_owned()))
}

impl Shift {
    /// Whether the shift runs on a day that starts on `date`.
    fn runs_on(&self, date: NaiveDate, holidays: &[NaiveDate]) -> bool {
        let holiday = holidays.contains(&date);
        let weekday = self.weekdays.contains(date.weekday());
        match self.holidays {
            Holidays::Skip => weekday && !holiday,
            Holidays::Also => weekday || holiday,
            Holidays::Only => holiday,
        }
    }

    /// True when the shift covers the local time `at`, given the hospital's holidays.
    pub fn covers(&self, at: NaiveDateTime, holidays: &[NaiveDate]) -> bool {
        let (date, time) = (at.date(), at.time());
        if self.start < self.end {
            return time >= self.start && time < self.end && self.runs_on(date, holidays);
        }
        // Over midnight (or 24 h when start == end): the evening part belongs to today's shift,
        // the morning part to yesterday's.
        (time >= self.start && self.runs_on(date, holidays))
            || (time < self.end && self.runs_on(date - Duration::days(1), holidays))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, time: &str) -> NaiveDateTime {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_time(parse_time(time).unwrap())
    }

    fn shift(days: &str, start: &str, end: &str, holidays: Holidays) -> Shift {
        Shift {
            weekdays: Weekdays::parse(days).unwrap(),
            start: parse_time(start).unwrap(),
            end: parse_time(end).unwrap(),
            holidays,
        }
    }

    // 2026-12-07 is a Monday.
    #[test]
    fn office_hours_on_weekdays_only() {
        let s = shift("mon-fri", "08:00", "17:00", Holidays::Skip);
        for (date, time, on) in [
            ("2026-12-07", "08:00", true),
            ("2026-12-07", "16:59", true),
            ("2026-12-07", "17:00", false),
            ("2026-12-07", "07:59", false),
            ("2026-12-11", "12:00", true),  // Friday
            ("2026-12-12", "12:00", false), // Saturday
            ("2026-12-13", "12:00", false), // Sunday
        ] {
            assert_eq!(s.covers(at(date, time), &[]), on, "{date} {time}");
        }
    }

    #[test]
    fn a_night_shift_over_midnight_belongs_to_the_day_it_starts() {
        let s = shift("fri", "22:00", "08:00", Holidays::Skip);
        for (date, time, on) in [
            ("2026-12-11", "21:59", false),
            ("2026-12-11", "22:00", true),
            ("2026-12-11", "23:59", true),
            ("2026-12-12", "00:00", true), // Saturday morning, Friday's shift
            ("2026-12-12", "07:59", true),
            ("2026-12-12", "08:00", false),
            ("2026-12-12", "22:30", false), // Saturday evening: no shift starts Saturday
            ("2026-12-11", "03:00", false), // Friday morning: Thursday had no shift
        ] {
            assert_eq!(s.covers(at(date, time), &[]), on, "{date} {time}");
        }
    }

    #[test]
    fn holidays_cancel_add_or_are_the_only_days() {
        let holiday = [NaiveDate::from_ymd_opt(2026, 12, 9).unwrap()]; // a Wednesday
        let office = shift("mon-fri", "08:00", "17:00", Holidays::Skip);
        assert!(!office.covers(at("2026-12-09", "10:00"), &holiday));
        assert!(office.covers(at("2026-12-10", "10:00"), &holiday));
        let on_call = shift("sat,sun", "08:00", "17:00", Holidays::Also);
        assert!(on_call.covers(at("2026-12-09", "10:00"), &holiday));
        assert!(on_call.covers(at("2026-12-12", "10:00"), &holiday));
        assert!(!on_call.covers(at("2026-12-10", "10:00"), &holiday));
        let only = shift("daily", "08:00", "17:00", Holidays::Only);
        assert!(only.covers(at("2026-12-09", "10:00"), &holiday));
        assert!(!only.covers(at("2026-12-10", "10:00"), &holiday));
    }

    #[test]
    fn a_night_shift_starting_on_a_holiday_is_cancelled_into_the_next_morning() {
        let holiday = [NaiveDate::from_ymd_opt(2026, 12, 9).unwrap()];
        let night = shift("mon-fri", "20:00", "08:00", Holidays::Skip);
        assert!(!night.covers(at("2026-12-09", "21:00"), &holiday));
        assert!(!night.covers(at("2026-12-10", "07:00"), &holiday));
        assert!(night.covers(at("2026-12-09", "07:00"), &holiday)); // Tuesday's shift
    }

    #[test]
    fn a_shift_with_equal_start_and_end_lasts_24_hours() {
        let s = shift("mon", "08:00", "08:00", Holidays::Skip);
        assert!(s.covers(at("2026-12-07", "08:00"), &[]));
        assert!(s.covers(at("2026-12-08", "07:59"), &[]));
        assert!(!s.covers(at("2026-12-08", "08:00"), &[]));
    }

    #[test]
    fn weekday_patterns_parse_and_print() {
        for (text, bits, shown) in [
            ("daily", 0x7f, "daily"),
            ("mon-fri", 0x1f, "mon,tue,wed,thu,fri"),
            ("Sat,Sun", 0x60, "sat,sun"),
            ("mon,wed-fri", 0b11101, "mon,wed,thu,fri"),
        ] {
            let w = Weekdays::parse(text).unwrap();
            assert_eq!(w.bits(), bits, "{text}");
            assert_eq!(w.to_string(), shown);
        }
        for bad in ["", "monday", "fri-mon", "mon,,tue", "weekends"] {
            assert!(Weekdays::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_must_be_hh_mm() {
        assert!(parse_time("22:00").is_ok());
        assert!(parse_time("24:00").is_err());
        assert!(parse_time("8").is_err());
    }
}
