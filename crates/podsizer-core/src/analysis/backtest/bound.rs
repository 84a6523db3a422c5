//! Hindsight bounds: what the back-test would have cost with memory requests chosen by
//! looking at the holdout itself, CPU requests kept at podsizer's. No rule that sees only the
//! training window can do better at the same eviction exposure, so a strategy's cost against
//! them is its distance from the frontier.
//!
//! - The per-container 5% bound gives each container, in each fold, the lowest memory request
//!   that its own holdout working set exceeds in at most 5% of samples.
//! - The mean bound only asks that the mean over containers of each one's exposure stays within
//!   5%, so a container whose peaks are dear may take more exposure if a cheap one takes less.
//!   Picking one request per container and fold is a knapsack; its Lagrangian dual (the best
//!   over λ of the cheapest requests at price λ per unit of mean exposure, minus λ × 5%) is a
//!   lower bound on it and is what is reported.

/// The exposure both bounds allow: 5% of samples above the memory request.
pub const BOUND_EXPOSURE: f64 = 0.05;

/// One container's holdout in one fold, as the bounds need it.
#[derive(Debug, Clone, Default)]
pub struct BoundUnit {
    /// Cost of the kept CPU requests over the holdout.
    pub cpu_cost: f64,
    /// Cost of one byte of memory request over the holdout: samples x hours x $/GiB-hour / GiB.
    pub memory_price: f64,
    /// Holdout working set, ascending.
    pub memory: Vec<f64>,
    /// Weight of one sample above the request in the mean exposure: 1 / (containers x the
    /// container's holdout samples over all folds). Set by `mean_bound_cost`'s caller.
    pub weight: f64,
}

impl BoundUnit {
    /// A unit from its CPU cost, price per byte of memory request and holdout working set in bytes
    /// (any order: sorted here); the weight is set later.
    pub fn new(cpu_cost: f64, memory_price: f64, mut memory: Vec<f64>) -> Self {
        memory.sort_by(f64::total_cmp);
        Self { cpu_cost, memory_price, memory, weight: 0.0 }
    }

    /// The lowest request that at most `share` of the samples are above: the
    /// ceil((1 - share) x n)-th smallest sample (0 without samples).
    pub fn request_exceeded_in(&self, share: f64) -> f64 {
        let n = self.memory.len();
        if n == 0 {
            return 0.0;
        }
        // Exact for 5% of 20 samples: 1 - 0.05 is 0.95 only up to rounding.
        let rank = (((1.0 - share) * n as f64) - 1e-9).ceil().max(1.0) as usize;
        self.memory[rank.min(n) - 1]
    }

    /// The cheapest (request, samples above it) at `lambda` $ per unit of weighted exposure;
    /// ties go to the higher request, so exposure falls as `lambda` rises.
    fn cheapest(&self, lambda: f64) -> (f64, f64) {
        let n = self.memory.len();
        let positive = self.memory.iter().filter(|m| **m > 0.0).count();
        let mut best = (lambda * self.weight * positive as f64, positive as f64);
        for (i, m) in self.memory.iter().enumerate() {
            // Only the last of equal values: the samples above it are the ones after it.
            if self.memory.get(i + 1) == Some(m) {
                continue;
            }
            let above = (n - i - 1) as f64;
            let value = self.memory_price * m + lambda * self.weight * above;
            if value <= best.0 {
                best = (value, above);
            }
        }
        best
    }
}

/// The Lagrangian lower bound on the cost of one memory request per unit with the mean
/// exposure over containers within `budget`: CPU costs plus max over λ of
/// Σ min(memory cost + λ x weighted samples above) − λ x budget.
pub fn mean_bound_cost(units: &[BoundUnit], budget: f64) -> f64 {
    let cpu: f64 = units.iter().map(|u| u.cpu_cost).sum();
    // (dual value, weighted exposure of the minimisers) at λ.
    let dual = |lambda: f64| -> (f64, f64) {
        let (mut value, mut exposure) = (0.0, 0.0);
        for u in units {
            let (v, above) = u.cheapest(lambda);
            value += v;
            exposure += above * u.weight;
        }
        (value - lambda * budget, exposure)
    };
    let (at_zero, exposure) = dual(0.0);
    if exposure <= budget {
        return cpu + at_zero;
    }
    // The dual is concave in λ; its slope (exposure - budget) falls as λ rises. Bracket the
    // point where it turns negative, then halve the bracket: every λ gives a valid bound.
    let mut hi = 1.0;
    while dual(hi).1 > budget && hi < 1e30 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..100 {
        let mid = f64::midpoint(lo, hi);
        if dual(mid).1 > budget {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    cpu + dual(lo).0.max(dual(hi).0).max(at_zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two containers of 20 holdout samples each, $1 per unit of memory request and $5 of CPU:
    /// A holds 1, 2, ..., 20; B holds 1 eighteen times and 50 twice.
    fn units() -> Vec<BoundUnit> {
        let a: Vec<f64> = (1..=20).map(f64::from).collect();
        let b: Vec<f64> = (0..20).map(|i| if i < 18 { 1.0 } else { 50.0 }).collect();
        let mut units = vec![BoundUnit::new(5.0, 1.0, a), BoundUnit::new(5.0, 1.0, b)];
        // Two containers, 20 samples each: one sample above weighs 1 / 40 of the mean.
        units.iter_mut().for_each(|u| u.weight = 1.0 / 40.0);
        units
    }

    #[test]
    fn per_container_bound_by_hand() {
        let u = units();
        // A: the 19th smallest of 20 is 19, one sample (20) above: 5%.
        assert_eq!(u[0].request_exceeded_in(0.05), 19.0);
        // B: the 19th smallest is 50: one 50 above 1 would be 10%, so nothing may be above.
        assert_eq!(u[1].request_exceeded_in(0.05), 50.0);
        assert_eq!(BoundUnit::default().request_exceeded_in(0.05), 0.0);
    }

    #[test]
    fn mean_bound_by_hand() {
        // Mean exposure <= 5% allows 2 samples above in total. The cheapest: A at 20 (none
        // above), B at 1 (its two 50s above): 20 + 1 memory + 10 CPU = 31, where the
        // per-container bound pays 19 + 50 + 10 = 79. λ/40 in [1, 24.5] prices it exactly.
        let u = units();
        let cost = mean_bound_cost(&u, BOUND_EXPOSURE);
        assert!((cost - 31.0).abs() < 1e-9, "{cost}");
        // With everything allowed (budget 100%), requests of 0 cost nothing.
        assert!((mean_bound_cost(&u, 1.0) - 10.0).abs() < 1e-9);
        // A budget of 0 needs every peak: 20 + 50 + 10.
        assert!((mean_bound_cost(&u, 0.0) - 80.0).abs() < 1e-6);
    }
}
