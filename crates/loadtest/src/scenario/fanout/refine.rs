//! Finer steps at each variant's knee. The ramp climbs 50 messages/s at a time
//! (5,000 deliveries/s with 100 members a room), which near a knee of 40,000/s is
//! 12.5 %: coarser than the 10 % the mixed run is judged by, so a mixed run
//! that lost 3 % to its frames and one that lost 12 % read the same 0.875 or
//! 0.75, depending only on which side of a step each knee fell. After the ramp,
//! each variant climbs again from its knee in [`FINE_STEPS`] equal steps
//! towards the first coarse step it did not keep up with, and stops at the first
//! fine step it does not keep up with: the knee is then known to a fifth of a
//! step, 1,000 deliveries/s.

use crate::report::Step;

use super::step::Runner;

/// Fine steps between a knee and the next coarse step.
pub const FINE_STEPS: usize = 4;

/// Runs each variant's fine steps (its ramp's steps: `rates`, and whether each
/// kept up) into the step slots from `first_free` on, the variants taking turns
/// in alternating order as on the ramp; a variant stops at its first fine step
/// that does not keep up.
pub async fn climb(
    runner: &mut Runner<'_>,
    rates: &[f64],
    kept_up: &[Vec<bool>],
    first_free: usize,
) -> Vec<Step> {
    let fine: Vec<_> = kept_up.iter().map(|k| fine_rates(rates, k)).collect();
    let mut active: Vec<bool> = fine.iter().map(Option::is_some).collect();
    let mut steps = Vec::new();
    for round in 0..FINE_STEPS {
        let mut order: Vec<usize> = (0..fine.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for v in order {
            let Some((knee, rates)) = fine[v].as_ref().filter(|_| active[v] && !runner.closed())
            else {
                continue;
            };
            let index = first_free + v * FINE_STEPS + round;
            let label = format!("{}.{}", knee + 1, round + 1);
            let step = runner.step(index, label, rates[round], v).await;
            active[v] = step.kept_up;
            steps.push(step);
        }
    }
    steps
}

/// One variant's ramp (`rates`, and whether each step it ran kept up): the fine
/// rates to try above its knee (the highest rate below the first step that did
/// not keep up), and that knee's step number (0-based); `None` when there is
/// nothing to refine (the first step failed, or none did).
fn fine_rates(rates: &[f64], kept_up: &[bool]) -> Option<(usize, Vec<f64>)> {
    let failed = kept_up.iter().position(|k| !k)?;
    let knee = failed.checked_sub(1)?;
    let (from, to) = (rates[knee], rates[failed]);
    #[allow(clippy::cast_precision_loss)]
    let fine = (to - from) / (FINE_STEPS + 1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let rates = (1..=FINE_STEPS).map(|i| from + fine * i as f64).collect();
    Some((knee, rates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_steps_lie_between_the_knee_and_the_first_miss() {
        let ramp = [300.0, 350.0, 400.0, 450.0, 500.0];
        assert_eq!(
            fine_rates(&ramp, &[true, true, false, true]),
            Some((1, vec![360.0, 370.0, 380.0, 390.0]))
        );
    }

    #[test]
    fn nothing_to_refine_without_a_knee_or_a_miss() {
        let ramp = [100.0, 150.0, 200.0];
        assert_eq!(fine_rates(&ramp, &[true, true]), None);
        assert_eq!(fine_rates(&ramp, &[false, true]), None);
        assert_eq!(fine_rates(&ramp, &[]), None);
    }
}
