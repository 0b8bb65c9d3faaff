//! Mixing for conferences (nurse + patient + doctor) and supervisor listen/whisper/barge.
//!
//! Each participant must hear everyone but themselves ("mix-minus"); sums are done in i32 and
//! saturated once, so three loud talkers clip instead of wrapping around into noise.

/// Sums frames sample by sample with saturation; shorter frames count as silence.
pub fn mix(frames: &[&[i16]]) -> Vec<i16> {
    let len = frames.iter().map(|f| f.len()).max().unwrap_or(0);
    (0..len)
        .map(|i| {
            let sum: i32 = frames
                .iter()
                .map(|f| i32::from(f.get(i).copied().unwrap_or(0)))
                .sum();
            sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        })
        .collect()
}

/// For each participant, the mix of all the others (what that participant should hear).
pub fn mix_minus(frames: &[&[i16]]) -> Vec<Vec<i16>> {
    let len = frames.iter().map(|f| f.len()).max().unwrap_or(0);
    let totals: Vec<i32> = (0..len)
        .map(|i| {
            frames
                .iter()
                .map(|f| i32::from(f.get(i).copied().unwrap_or(0)))
                .sum()
        })
        .collect();
    frames
        .iter()
        .map(|own| {
            totals
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let v = t - i32::from(own.get(i).copied().unwrap_or(0));
                    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_and_saturates() {
        assert_eq!(mix(&[&[1, 2, 3], &[10, 20]]), vec![11, 22, 3]);
        assert_eq!(
            mix(&[&[30000, -30000], &[10000, -10000]]),
            vec![32767, -32768]
        );
        assert!(mix(&[]).is_empty());
    }

    #[test]
    fn everyone_hears_the_others_but_not_themselves() {
        let nurse = [100i16, 0];
        let patient = [0i16, 200];
        let doctor = [5i16, 5];
        let out = mix_minus(&[&nurse, &patient, &doctor]);
        assert_eq!(out[0], vec![5, 205], "nurse hears patient + doctor");
        assert_eq!(out[1], vec![105, 5], "patient hears nurse + doctor");
        assert_eq!(out[2], vec![100, 200], "doctor hears nurse + patient");
        // Saturation applies after removing one's own voice, not before.
        let loud = mix_minus(&[&[30000], &[30000], &[-30000]]);
        assert_eq!(loud[2], vec![32767]);
        assert_eq!(loud[0], vec![0]);
    }
}
