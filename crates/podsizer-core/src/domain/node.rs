//! A node shape for the node-level back-test: what a node offers to pods (its allocatable
//! resources, given explicitly: podsizer does not guess kube/system reservations).

use super::quantity::parse_quantity;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// The kubelet's default `maxPods`.
pub const DEFAULT_MAX_PODS: u32 = 110;
/// Far above any kubelet's `maxPods` in use; a larger count is a typo.
pub(super) const MAX_PODS: u32 = 100_000;
/// Far above any node's price per hour; a larger one is a typo (`1e300`), and would turn
/// every cost into nonsense.
pub(super) const MAX_PRICE_HOUR: f64 = 100_000.0;

/// What one node offers to pods (allocatable, not capacity), for packing pods in the back-test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeShape {
    /// As written on the command line (`4c16g`, `cpu=4,memory=16Gi`).
    pub name: String,
    /// Allocatable CPU in cores, above 0 and at most [`crate::domain::bounds::MAX_CORES`].
    pub cpu_cores: f64,
    /// Allocatable memory in bytes, above 0 and at most 64 TiB.
    pub memory_bytes: f64,
    /// Pods the kubelet admits on the node ([`DEFAULT_MAX_PODS`] unless given), 1..=100,000.
    pub max_pods: u32,
    /// Price per node-hour; `None`: priced from its CPU and memory at the back-test's prices.
    pub price_hour: Option<f64>,
}

/// Why a node shape text was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("node shape `{text}`: {reason} (write `4c16g` or `cpu=4,memory=16Gi[,pods=110][,price=0.19]`)")]
pub struct NodeShapeError {
    /// The shape as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl NodeShape {
    /// Parses `4c16g` (cores and GiB) or `cpu=4,memory=16Gi[,pods=110][,price=0.19]`
    /// (Kubernetes quantities), refusing figures no node has.
    pub fn parse(text: &str) -> Result<Self, NodeShapeError> {
        let fail = |reason: String| NodeShapeError { text: text.to_string(), reason };
        let mut shape =
            if text.contains('=') { Self::parse_keys(text, &fail)? } else { Self::parse_short(text, &fail)? };
        shape.name = text.to_string();
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(shape.cpu_cores) || !ok(shape.memory_bytes) || shape.max_pods == 0 {
            return Err(fail("CPU, memory and pods must be > 0".into()));
        }
        // A node beyond these is a unit mistake (`4000c`, `16e9g`), as a container would be.
        use super::bounds::{short_number, MAX_CORES, MAX_MEMORY_BYTES};
        if shape.cpu_cores > MAX_CORES {
            return Err(fail(format!(
                "{} cores is more than a node offers (at most {MAX_CORES})",
                short_number(shape.cpu_cores)
            )));
        }
        if shape.memory_bytes > MAX_MEMORY_BYTES {
            return Err(fail(format!(
                "{} bytes of memory is more than a node offers (at most 64Ti)",
                short_number(shape.memory_bytes)
            )));
        }
        if shape.max_pods > MAX_PODS {
            return Err(fail(format!("{} pods is more than a node runs (at most {MAX_PODS})", shape.max_pods)));
        }
        if shape.price_hour.is_some_and(|p| !p.is_finite() || !(0.0..=MAX_PRICE_HOUR).contains(&p)) {
            return Err(fail(format!("price must be a number from 0 to {MAX_PRICE_HOUR} per node-hour")));
        }
        Ok(shape)
    }

    /// `4c16g`: cores and GiB.
    fn parse_short(text: &str, fail: &dyn Fn(String) -> NodeShapeError) -> Result<Self, NodeShapeError> {
        let lower = text.to_ascii_lowercase();
        let (cpu, rest) = lower.split_once('c').ok_or_else(|| fail("no `c` after the cores".into()))?;
        let memory = rest.strip_suffix('g').ok_or_else(|| fail("no `g` after the GiB".into()))?;
        let number = |s: &str| s.parse::<f64>().map_err(|_| fail(format!("`{s}` is not a number")));
        Ok(Self {
            name: String::new(),
            cpu_cores: number(cpu)?,
            memory_bytes: number(memory)? * GIB,
            max_pods: DEFAULT_MAX_PODS,
            price_hour: None,
        })
    }

    /// `cpu=4,memory=16Gi,pods=110,price=0.19`: Kubernetes quantities.
    fn parse_keys(text: &str, fail: &dyn Fn(String) -> NodeShapeError) -> Result<Self, NodeShapeError> {
        let (mut cpu, mut memory, mut pods, mut price) = (None, None, DEFAULT_MAX_PODS, None);
        for part in text.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(|| fail(format!("`{part}` is not key=value")))?;
            let quantity = || parse_quantity(value.trim()).map_err(|e| fail(e.to_string()));
            match key.trim() {
                "cpu" => cpu = Some(quantity()?),
                "memory" => memory = Some(quantity()?),
                "pods" => pods = value.trim().parse().map_err(|_| fail(format!("pods `{value}` is not a count")))?,
                "price" => {
                    price = Some(value.trim().parse().map_err(|_| fail(format!("price `{value}` is not a number")))?);
                }
                other => return Err(fail(format!("unknown key `{other}`"))),
            }
        }
        Ok(Self {
            name: String::new(),
            cpu_cores: cpu.ok_or_else(|| fail("no cpu=".into()))?,
            memory_bytes: memory.ok_or_else(|| fail("no memory=".into()))?,
            max_pods: pods,
            price_hour: price,
        })
    }

    /// Price per node-hour: the given one, or the shape's CPU and memory at unit prices.
    pub fn hourly_price(&self, core_hour: f64, gib_hour: f64) -> f64 {
        self.price_hour.unwrap_or(self.cpu_cores * core_hour + self.memory_bytes / GIB * gib_hour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms() {
        let a = NodeShape::parse("4c16g").unwrap();
        assert_eq!((a.cpu_cores, a.memory_bytes, a.max_pods, a.price_hour), (4.0, 16.0 * GIB, 110, None));
        assert!((a.hourly_price(0.04, 0.005) - (0.16 + 0.08)).abs() < 1e-12);
        let b = NodeShape::parse("cpu=3500m,memory=12Gi,pods=58,price=0.2").unwrap();
        assert_eq!((b.cpu_cores, b.memory_bytes, b.max_pods), (3.5, 12.0 * GIB, 58));
        assert_eq!(b.hourly_price(0.04, 0.005), 0.2);
        assert_eq!(b.name, "cpu=3500m,memory=12Gi,pods=58,price=0.2");
    }

    #[test]
    fn bad_shapes_say_why() {
        for (text, why) in [
            ("4x16", "no `c`"),
            ("4c16", "no `g`"),
            ("cpu=4", "no memory="),
            ("cpu=4,memory=1Gi,disk=1", "unknown key"),
            ("0c1g", "> 0"),
            ("cpu=4,memory=1Gi,pods=-1", "pods"),
            ("-4c16g", "> 0"),
            ("nanc16g", "> 0"),
            ("infc16g", "> 0"),
            ("4cnang", "> 0"),
            ("1e300c16g", "at most 1024"),
            ("2048c16g", "at most 1024"),
            ("4c1e12g", "at most 64Ti"),
            ("cpu=0,memory=1Gi", "> 0"),
            ("cpu=1e300,memory=1Gi", "cpu=1e300"),
            ("cpu=4,memory=1Gi,pods=0", "> 0"),
            ("cpu=4,memory=1Gi,pods=4000000000", "at most 100000"),
            ("cpu=4,memory=1Gi,price=-1", "price"),
            ("cpu=4,memory=1Gi,price=NaN", "price"),
            ("cpu=4,memory=1Gi,price=1e300", "price"),
        ] {
            let err = NodeShape::parse(text).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(text), "{text}: {err}");
        }
    }
}
