//! A mergeable log-linear histogram: each power of two is split into 64 equal buckets, so a
//! bucket is at most 1/64 (1.6%) of its value wide. Bucketing reads the float's bits (no
//! logarithm per sample), counts are weights so decayed histograms merge by addition, and
//! storage is sparse: only the span of buckets actually used is allocated.

const SUB_BITS: u32 = 6;
const SUB_BUCKETS: i64 = 1 << SUB_BITS;
/// Values at or below this (about 1e-9) share bucket zero: a nanocore, or a byte.
const MIN_EXP: i64 = -30;

/// Weighted counts of values (cores, bytes: any non-negative figure), bucketed log-linearly
/// (see the module); the exact minimum, maximum and sample count are kept beside the buckets.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    offset: i64,
    weights: Vec<f64>,
    total: f64,
    min: f64,
    max: f64,
    count: u64,
}

/// Bucket index of a value; monotone in the value.
fn bucket(value: f64) -> i64 {
    if value <= f64::from_bits(((MIN_EXP + 1023) as u64) << 52) {
        return 0;
    }
    let bits = value.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let sub = ((bits >> (52 - SUB_BITS)) & (SUB_BUCKETS as u64 - 1)) as i64;
    (exp - MIN_EXP) * SUB_BUCKETS + sub + 1
}

/// Lower and upper edge of a bucket.
fn edges(index: i64) -> (f64, f64) {
    if index <= 0 {
        return (0.0, 2f64.powi(MIN_EXP as i32));
    }
    let exp = (index - 1) / SUB_BUCKETS + MIN_EXP;
    let sub = (index - 1) % SUB_BUCKETS;
    let base = 2f64.powi(exp as i32);
    let width = base / SUB_BUCKETS as f64;
    (base + width * sub as f64, base + width * (sub + 1) as f64)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sample of `value` with `weight` (1 for a plain count; a decayed weight for older days).
    pub fn add(&mut self, value: f64, weight: f64) {
        let b = bucket(value);
        if self.weights.is_empty() {
            self.offset = b;
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        *self.slot(b) += weight;
        self.total += weight;
        self.count += 1;
    }

    fn slot(&mut self, b: i64) -> &mut f64 {
        if b < self.offset {
            let grow = (self.offset - b) as usize;
            self.weights.splice(0..0, std::iter::repeat_n(0.0, grow));
            self.offset = b;
        }
        let i = (b - self.offset) as usize;
        if i >= self.weights.len() {
            self.weights.resize(i + 1, 0.0);
        }
        &mut self.weights[i]
    }

    /// Adds another histogram scaled by `factor` (decay of a whole day, for instance).
    pub fn merge_scaled(&mut self, other: &Histogram, factor: f64) {
        if other.count == 0 {
            return;
        }
        for (i, w) in other.weights.iter().enumerate() {
            if *w > 0.0 {
                *self.slot(other.offset + i as i64) += w * factor;
            }
        }
        if self.count == 0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.total += other.total * factor;
        self.count += other.count;
    }

    /// The raw state, for persisting: (offset, weights, total, min, max, count).
    pub(crate) fn parts(&self) -> (i64, &[f64], f64, f64, f64, u64) {
        (self.offset, &self.weights, self.total, self.min, self.max, self.count)
    }

    pub(crate) fn from_parts(offset: i64, weights: Vec<f64>, total: f64, min: f64, max: f64, count: u64) -> Self {
        Self { offset, weights, total, min, max, count }
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Samples added, whatever their weights.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value added, exactly (0 when empty).
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The smallest value added, exactly (0 when empty).
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The sum of the weights added (after any scaling by merges).
    pub fn total_weight(&self) -> f64 {
        self.total
    }

    /// The value below which `p` percent of the weight lies, interpolated inside the bucket
    /// and clamped to the observed range; within one bucket width (1.6%) of the exact answer.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.count == 0 || self.total <= 0.0 {
            return None;
        }
        if p >= 100.0 {
            return Some(self.max);
        }
        let target = self.total * (p / 100.0).max(0.0);
        let mut cumulative = 0.0;
        for (i, w) in self.weights.iter().enumerate() {
            if *w <= 0.0 {
                continue;
            }
            if cumulative + w >= target {
                let (lo, hi) = edges(self.offset + i as i64);
                let fraction = ((target - cumulative) / w).clamp(0.0, 1.0);
                return Some((lo + (hi - lo) * fraction).clamp(self.min, self.max));
            }
            cumulative += w;
        }
        Some(self.max)
    }

    /// Share of weight above `value` (for "how often would this have been exceeded").
    pub fn share_above(&self, value: f64) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        let b = bucket(value);
        let above: f64 =
            self.weights.iter().enumerate().filter(|(i, _)| self.offset + *i as i64 > b).map(|(_, w)| w).sum();
        above / self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_percentile(values: &mut [f64], p: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize - 1;
        values[rank.min(values.len() - 1)]
    }

    #[test]
    fn buckets_are_monotone_and_narrow() {
        let mut last = 0;
        let mut v = 1e-6;
        while v < 1e12 {
            let b = bucket(v);
            assert!(b >= last);
            let (lo, hi) = edges(b);
            assert!(lo <= v && v < hi * (1.0 + 1e-12), "{v} not in [{lo}, {hi})");
            assert!((hi - lo) / lo <= 1.0 / 64.0 + 1e-12);
            last = b;
            v *= 1.013;
        }
    }

    #[test]
    fn percentiles_within_stated_tolerance() {
        // A skewed, realistic CPU series: mostly 50-300m with spikes to 2 cores.
        let mut values: Vec<f64> = (0..20_000)
            .map(|i| {
                let x = (f64::from(i) * 0.618_033_988_7).fract();
                if i % 500 == 0 {
                    2.0 * x
                } else {
                    0.05 + 0.25 * x * x
                }
            })
            .collect();
        let mut h = Histogram::new();
        for v in &values {
            h.add(*v, 1.0);
        }
        for p in [50.0, 90.0, 95.0, 99.0, 99.9] {
            let want = exact_percentile(&mut values, p);
            let got = h.percentile(p).unwrap();
            assert!((got - want).abs() <= want / 64.0 + 1e-12, "p{p}: got {got}, want {want}");
        }
        assert_eq!(h.percentile(100.0), Some(values.iter().copied().fold(0.0, f64::max)));
    }

    #[test]
    fn merge_equals_adding_everything_to_one() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut all = Histogram::new();
        for i in 0..1000 {
            let v = 0.001 * f64::from(i) + 0.01;
            if i % 3 == 0 {
                a.add(v, 1.0);
            } else {
                b.add(v * 40.0, 1.0);
            }
            all.add(if i % 3 == 0 { v } else { v * 40.0 }, 1.0);
        }
        let mut merged = Histogram::new();
        merged.merge_scaled(&a, 1.0);
        merged.merge_scaled(&b, 1.0);
        assert_eq!(merged.percentile(50.0), all.percentile(50.0));
        assert_eq!(merged.percentile(99.0), all.percentile(99.0));
        assert_eq!(merged.count(), all.count());
    }

    #[test]
    fn weights_shift_percentiles() {
        let mut h = Histogram::new();
        h.add(1.0, 1.0);
        h.add(10.0, 9.0);
        assert!(h.percentile(50.0).unwrap() > 9.0);
        assert!((h.share_above(5.0) - 0.9).abs() < 1e-12);
        assert_eq!(Histogram::new().percentile(50.0), None);
    }
}
