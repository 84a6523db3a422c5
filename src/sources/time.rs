//! Instants on a step grid, as every source that reads series at a fixed step needs them.

/// First instant on the step grid at or after `t`.
pub(crate) fn align_up(t: i64, step_ms: i64) -> i64 {
    t.div_euclid(step_ms) * step_ms + if t.rem_euclid(step_ms) == 0 { 0 } else { step_ms }
}

/// Last instant on the step grid at or before `t`.
pub(crate) fn align_down(t: i64, step_ms: i64) -> i64 {
    t.div_euclid(step_ms) * step_ms
}
