//! Satisfaction at the end of a pathway (issue 18 item 4): the `satisfaction` script
//! (`prompts/scripts/satisfaction.toml`) is the last step of a pathway, asked like any other
//! script; this module names its questions and sums a group's answers for the outcome report.
//!
//! - **overall**: a 1–5 rating; the report gives how many answered and the mean.
//! - **recommend**: the 0–10 "would you recommend" item of the Net Promoter Score (F. F.
//!   Reichheld, "The One Number You Need to Grow", Harvard Business Review 81(12), 2003):
//!   9–10 promoters, 7–8 passives, 0–6 detractors; NPS = % promoters − % detractors, from −100
//!   to 100.
//! - **comment**: free text; the report counts the discharges that left one (the text itself
//!   stays on the patient's timeline, not in an aggregate report).

use serde::Serialize;

/// The script code a pathway's satisfaction step names.
pub const SCRIPT: &str = "satisfaction";
/// Question ids of [`SCRIPT`].
pub const OVERALL: &str = "overall";
pub const RECOMMEND: &str = "recommend";
pub const COMMENT: &str = "comment";
/// Lowest "recommend" answer of a promoter (Reichheld 2003).
pub const PROMOTER_FROM: u8 = 9;
/// Highest "recommend" answer of a detractor (Reichheld 2003).
pub const DETRACTOR_UP_TO: u8 = 6;

/// One discharge's satisfaction answers (the latest satisfaction task's).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SatisfactionAnswers {
    /// 1–5.
    pub overall: Option<f64>,
    /// 0–10.
    pub recommend: Option<u8>,
    /// Whether a non-empty comment was left.
    pub commented: bool,
}

impl SatisfactionAnswers {
    /// Whether any of the three questions was answered.
    pub fn responded(&self) -> bool {
        self.overall.is_some() || self.recommend.is_some() || self.commented
    }
}

/// A group's satisfaction figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct SatisfactionSummary {
    /// Discharges with at least one satisfaction answer.
    pub responses: i64,
    pub overall_answered: i64,
    /// Mean of the 1–5 ratings.
    pub overall_mean: Option<f64>,
    pub recommend_answered: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
    /// Net Promoter Score, −100..=100.
    pub nps: Option<f64>,
    pub comments: i64,
}

impl SatisfactionSummary {
    /// Sums the answers of a group's discharges (`None`: that discharge gave none).
    pub fn of<'a>(answers: impl Iterator<Item = &'a SatisfactionAnswers>) -> Self {
        let mut s = SatisfactionSummary::default();
        let mut overall_sum = 0.0;
        for a in answers.filter(|a| a.responded()) {
            s.responses += 1;
            if let Some(o) = a.overall {
                s.overall_answered += 1;
                overall_sum += o;
            }
            if let Some(r) = a.recommend {
                s.recommend_answered += 1;
                if r >= PROMOTER_FROM {
                    s.promoters += 1;
                } else if r <= DETRACTOR_UP_TO {
                    s.detractors += 1;
                } else {
                    s.passives += 1;
                }
            }
            s.comments += i64::from(a.commented);
        }
        s.overall_mean = (s.overall_answered > 0).then(|| overall_sum / s.overall_answered as f64);
        s.nps = (s.recommend_answered > 0)
            .then(|| 100.0 * (s.promoters - s.detractors) as f64 / s.recommend_answered as f64);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(overall: Option<f64>, recommend: Option<u8>, commented: bool) -> SatisfactionAnswers {
        SatisfactionAnswers {
            overall,
            recommend,
            commented,
        }
    }

    #[test]
    fn net_promoter_score_splits_at_six_and_nine() {
        // 10 answers: 9 and 10 promote (4), 7 and 8 are passive (3), 0..=6 detract (3):
        // NPS = 40 % - 30 % = 10
        let scores = [10, 9, 9, 10, 8, 7, 7, 6, 0, 3];
        let answers: Vec<_> = scores
            .iter()
            .map(|&r| answer(None, Some(r), false))
            .collect();
        let s = SatisfactionSummary::of(answers.iter());
        assert_eq!((s.promoters, s.passives, s.detractors), (4, 3, 3));
        assert_eq!(s.recommend_answered, 10);
        assert_eq!(s.nps, Some(10.0));
        // all detractors: -100; all promoters: 100
        let low = [answer(None, Some(6), false)];
        assert_eq!(SatisfactionSummary::of(low.iter()).nps, Some(-100.0));
        let high = [answer(None, Some(9), false)];
        assert_eq!(SatisfactionSummary::of(high.iter()).nps, Some(100.0));
    }

    #[test]
    fn mean_rating_counts_only_those_who_answered_it() {
        let answers = [
            answer(Some(5.0), Some(10), true),
            answer(Some(2.0), None, false),
            answer(None, None, true),
            // no answer at all: not a response
            SatisfactionAnswers::default(),
        ];
        let s = SatisfactionSummary::of(answers.iter());
        assert_eq!(s.responses, 3);
        assert_eq!(s.overall_answered, 2);
        assert_eq!(s.overall_mean, Some(3.5));
        assert_eq!(s.comments, 2);
        assert_eq!(s.recommend_answered, 1);
    }

    #[test]
    fn nobody_answered_gives_no_mean_and_no_score() {
        let s = SatisfactionSummary::of([SatisfactionAnswers::default()].iter());
        assert_eq!(s, SatisfactionSummary::default());
        assert_eq!((s.overall_mean, s.nps), (None, None));
    }
}
