//! Kubernetes resource quantities (`250m`, `0.5`, `1e3`, `129M`, `123Mi`, `1Gi`).
//!
//! The API server accepts `<sign><number><suffix>` where the suffix is a binary SI unit
//! (`Ki`..`Ei`), a decimal SI unit (`n`, `u`, `m`, `k`, `M`..`E`) or a decimal exponent
//! (`e3`, `E-2`). We parse into `f64` (cores or bytes): the values podsizer handles are far
//! inside the range where `f64` is exact to the millicore or byte.

use std::fmt;

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {text:?}: {reason}")]
pub struct QuantityError {
    /// The quantity as written.
    pub text: String,
    /// What is wrong with it (`unknown suffix`, `malformed number` ...).
    pub reason: &'static str,
}

fn err(text: &str, reason: &'static str) -> QuantityError {
    QuantityError { text: text.to_string(), reason }
}

/// Parses any quantity form the Kubernetes API accepts into a plain number
/// (cores for CPU, bytes for memory).
pub fn parse_quantity(text: &str) -> Result<f64, QuantityError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(err(text, "empty"));
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let multiplier = suffix_multiplier(suffix).ok_or_else(|| err(text, "unknown suffix"))?;
    if number.is_empty() || number == "+" || number == "-" || number == "." {
        return Err(err(text, "missing number"));
    }
    if number[1..].contains(['+', '-']) || number.matches('.').count() > 1 {
        return Err(err(text, "malformed number"));
    }
    let value: f64 = number.parse().map_err(|_| err(text, "malformed number"))?;
    let result = value * multiplier;
    if !result.is_finite() {
        return Err(err(text, "out of range"));
    }
    Ok(result)
}

fn suffix_multiplier(suffix: &str) -> Option<f64> {
    let binary = |power: i32| Some(1024f64.powi(power));
    let decimal = |power: i32| Some(10f64.powi(power));
    match suffix {
        "" => Some(1.0),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            decimal(exponent.parse().ok()?)
        }
    }
}

/// CPU in cores, formatted the way people write it in manifests: `250m`, `1`, `1500m`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Cpu(pub f64);

/// Memory in bytes, formatted with the largest binary unit that divides it: `512Mi`, `1Gi`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Memory(pub f64);

impl Cpu {
    /// The figure in millicores (`0.25` -> `250.0`), unrounded.
    pub fn millicores(self) -> f64 {
        self.0 * 1000.0
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let milli = (self.0 * 1000.0).round() as i64;
        if milli % 1000 == 0 {
            write!(f, "{}", milli / 1000)
        } else {
            write!(f, "{milli}m")
        }
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.round() as i64;
        if bytes == 0 {
            return write!(f, "0");
        }
        for (suffix, power) in [("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)] {
            let unit = 1i64 << (10 * power);
            if bytes % unit == 0 {
                return write!(f, "{}{suffix}", bytes / unit);
            }
        }
        write!(f, "{bytes}")
    }
}

/// A short human form for tables, not for manifests: `12Gi`, `1041Mi`, `1.5Gi`, `300Mi`.
/// A unit is used from ten of it upwards, or when the value is exact to one decimal in it,
/// so 1041Mi never reads as "1Gi".
pub fn human_bytes(bytes: f64) -> String {
    let units = [("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)];
    for (suffix, power) in units {
        let unit = 1024f64.powi(power);
        // Exact to one decimal (1.5Gi) reads fine; 1.0166Gi does not.
        let exact = bytes >= unit && ((bytes / unit) * 10.0).fract() == 0.0;
        if bytes >= 10.0 * unit || exact {
            let v = bytes / unit;
            let text = if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") };
            return format!("{}{suffix}", text.strip_suffix(".0").unwrap_or(&text));
        }
    }
    format!("{bytes:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_the_api_accepts() {
        let cases: &[(&str, f64)] = &[
            ("0.5", 0.5),
            ("500m", 0.5),
            ("1", 1.0),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("12e-1", 1.2),
            ("129M", 129e6),
            ("123Mi", 123.0 * 1024.0 * 1024.0),
            ("1Gi", 1073741824.0),
            ("2Ki", 2048.0),
            ("9559630n", 0.009559630),
            ("250u", 0.00025),
            ("1k", 1000.0),
            ("+1.5", 1.5),
            (".5", 0.5),
            ("3Ti", 3.0 * 1024f64.powi(4)),
            (" 64Mi ", 64.0 * 1048576.0),
        ];
        for (text, want) in cases {
            let got = parse_quantity(text).unwrap();
            assert!((got - want).abs() <= want.abs() * 1e-12, "{text}: got {got}, want {want}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1x", "Mi", "1.2.3", "1-2", "1e", "1ee3", "--1", "1 Mi", "NaN", "inf", "1e999"] {
            assert!(parse_quantity(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn formats_cpu_as_manifests_do() {
        assert_eq!(Cpu(0.25).to_string(), "250m");
        assert_eq!(Cpu(1.0).to_string(), "1");
        assert_eq!(Cpu(1.5).to_string(), "1500m");
        assert_eq!(Cpu(0.0049).to_string(), "5m");
    }

    #[test]
    fn formats_memory_with_largest_exact_unit() {
        assert_eq!(Memory(512.0 * 1048576.0).to_string(), "512Mi");
        assert_eq!(Memory(1073741824.0).to_string(), "1Gi");
        assert_eq!(Memory(1536.0 * 1048576.0).to_string(), "1536Mi");
        assert_eq!(Memory(1000.0).to_string(), "1000");
        assert_eq!(Memory(2048.0).to_string(), "2Ki");
    }

    #[test]
    fn human_bytes_never_hides_a_change() {
        assert_eq!(human_bytes(1041.0 * 1048576.0), "1041Mi");
        assert_eq!(human_bytes(1073741824.0), "1Gi");
        assert_eq!(human_bytes(1.5 * 1073741824.0), "1.5Gi");
        assert_eq!(human_bytes(12.5 * 1073741824.0), "12.5Gi");
        assert_eq!(human_bytes(57.6 * 1048576.0), "57.6Mi");
        assert_eq!(human_bytes(300.0), "300");
        assert_eq!(human_bytes(49.98 * 1048576.0), "50Mi");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for cores in [0.005, 0.25, 1.0, 2.35, 16.0] {
            let text = Cpu(cores).to_string();
            assert!((parse_quantity(&text).unwrap() - cores).abs() < 1e-9, "{text}");
        }
        for bytes in [1048576.0, 123.0 * 1048576.0, 3.0 * 1073741824.0, 4097.0] {
            let text = Memory(bytes).to_string();
            assert_eq!(parse_quantity(&text).unwrap(), bytes, "{text}");
        }
    }
}
