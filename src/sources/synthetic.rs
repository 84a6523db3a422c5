//! Realistic synthetic usage, for the demo, tests and benchmarks: a PHP API whose pods run
//! `nginx`, `php-fpm` and `envoy`, driven by a daily and weekly traffic cycle, with bursts,
//! php-fpm worker memory that creeps up until workers are recycled, and a rollout that
//! replaces the pods midway. Deterministic for a given seed.

use crate::domain::{Sample, DAY_MS, HOUR_MS};

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (sum of uniforms), mean 0, sd 1.
    pub(crate) fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.unit()).sum::<f64>().mul_add(3f64.sqrt(), -2.0 * 3f64.sqrt())
    }
}

/// Traffic level 0..1 at an instant: low at night, high mid-afternoon (UTC), weekends lighter.
pub(crate) fn traffic(ts_ms: i64) -> f64 {
    let hour = (ts_ms.rem_euclid(DAY_MS)) as f64 / HOUR_MS as f64;
    let day_of_week = (ts_ms.div_euclid(DAY_MS) + 3).rem_euclid(7); // 1970-01-01 was a Thursday
    let daily = 0.5 + 0.5 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos();
    let weekly = if day_of_week >= 5 { 0.6 } else { 1.0 };
    (0.15 + 0.85 * daily.powf(1.5)) * weekly
}

/// What `synth` may be asked for: a generated day is held in memory before it is stored, and a
/// generated file whole before it is written, so absurd flags are refused up front instead of
/// exhausting memory.
pub(crate) mod limits {
    /// Days of history (a year and a day).
    pub(crate) const MAX_DAYS: i64 = 366;
    /// Fleet containers.
    pub(crate) const MAX_CONTAINERS: usize = 100_000;
    /// Sampling interval bounds, in ms.
    pub(crate) const MIN_STEP_MS: i64 = 1_000;
    pub(crate) const MAX_STEP_MS: i64 = super::DAY_MS;
    /// Rows of one generated day (a store is written a day at a time): 10,000 containers at 1 minute.
    pub(crate) const MAX_ROWS_PER_DAY: u64 = 16_000_000;
    /// Rows of one generated file (held whole): 1,000 containers × 14 days at 1 minute.
    pub(crate) const MAX_FILE_ROWS: u64 = 25_000_000;
}

/// Shape of one workload of the fleet.
#[derive(Debug, Clone)]
pub struct ApiWorkload {
    pub namespace: String,
    pub name: String,
    pub replicas: usize,
    /// Multiplies every container's CPU and the load-driven part of memory.
    pub scale: f64,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub workloads: Vec<ApiWorkload>,
    pub start_ms: i64,
    pub days: i64,
    pub step_ms: i64,
    pub seed: u64,
    /// Traffic growth per week, compounding (0.08 = +8% a week).
    pub growth_per_week: f64,
    /// Share of traffic served before a cut-over instant (a canary or migration step).
    pub share_until: Option<(f64, i64)>,
}

impl FleetSpec {
    /// The demo: one `api` Deployment in `shop` with three replicas.
    pub fn demo(start_ms: i64, days: i64, step_ms: i64) -> Self {
        Self {
            workloads: vec![ApiWorkload { namespace: "shop".into(), name: "api".into(), replicas: 3, scale: 1.0 }],
            start_ms,
            days,
            step_ms,
            seed: 42,
            growth_per_week: 0.0,
            share_until: None,
        }
    }

    /// `n` workloads of three containers each spread over a few namespaces (benchmarks).
    pub fn fleet(containers: usize, start_ms: i64, days: i64, step_ms: i64) -> Self {
        let mut rng = Rng::new(7);
        let workloads = (0..containers.div_ceil(3))
            .map(|i| ApiWorkload {
                namespace: format!("team-{:02}", i % 20),
                name: format!("svc-{i:05}"),
                replicas: 1,
                scale: 0.2 + 2.0 * rng.unit(),
            })
            .collect();
        Self { workloads, start_ms, days, step_ms, seed: 11, growth_per_week: 0.0, share_until: None }
    }

    /// Rows one day of this spec holds.
    pub fn rows_per_day(&self) -> u64 {
        (self.containers() as u64).saturating_mul((DAY_MS / self.step_ms.max(1)) as u64)
    }

    pub fn containers(&self) -> usize {
        self.workloads.iter().map(|w| w.replicas).sum::<usize>() * 3
    }

    /// Calls `emit` with every sample of one day (`day` counts from 0), grouped by container.
    pub fn generate_day(&self, day: i64, mut emit: impl FnMut(Sample)) {
        for (wi, w) in self.workloads.iter().enumerate() {
            for replica in 0..w.replicas {
                let mut rng = Rng::new(self.seed ^ ((wi as u64) << 32) ^ ((replica as u64) << 16) ^ (day as u64) << 48);
                self.pod_day(w, replica, day, &mut rng, &mut emit);
            }
        }
    }

    fn pod_day(&self, w: &ApiWorkload, replica: usize, day: i64, rng: &mut Rng, emit: &mut impl FnMut(Sample)) {
        let day_start = self.start_ms + day * DAY_MS;
        // A rollout halfway through replaces every pod (new ReplicaSet hash, new pod names).
        let generation = if day * 2 >= self.days { "7c9d5f8b6" } else { "5b8f7d9c4" };
        let pod = format!("{}-{generation}-{}", w.name, pod_suffix(replica));
        let steps = DAY_MS / self.step_ms;
        let mut burst_left = 0;
        let mut rows: [Vec<Sample>; 3] = Default::default();
        for i in 0..steps {
            let ts = day_start + i * self.step_ms;
            let growth = (1.0 + self.growth_per_week).powf((ts - self.start_ms) as f64 / (7 * DAY_MS) as f64);
            let share = self.share_until.map_or(1.0, |(share, until)| if ts < until { share } else { 1.0 });
            let load = traffic(ts) * growth * share * (1.0 + 0.08 * rng.normal()).max(0.3);
            if burst_left == 0 && rng.unit() < self.step_ms as f64 / (3.0 * HOUR_MS as f64) {
                burst_left = 1 + (rng.unit() * 3.0) as i64;
            }
            let burst = if burst_left > 0 {
                burst_left -= 1;
                1.0 + 1.5 * rng.unit()
            } else {
                0.0
            };
            // php-fpm workers leak a little and are recycled every 6 hours (pm.max_requests).
            let leak = ((ts - self.start_ms).rem_euclid(6 * HOUR_MS)) as f64 / (6 * HOUR_MS) as f64;
            let s = w.scale;
            let mib = 1024.0 * 1024.0;
            let values = [
                ("nginx", s * (0.012 + 0.06 * load + 0.01 * rng.unit() + 0.03 * burst), (20.0 + 10.0 * load * s) * mib),
                (
                    "php-fpm",
                    s * (0.035 + 0.55 * load * (1.0 + 0.12 * rng.normal()).max(0.5) + 0.25 * burst),
                    (170.0 + 230.0 * load * s + 60.0 * leak) * mib,
                ),
                (
                    "envoy",
                    s * (0.008 + 0.09 * load + 0.004 * rng.unit() + 0.03 * burst),
                    (46.0 + 8.0 * load * s + 2.0 * rng.unit()) * mib,
                ),
            ];
            for (slot, (container, cpu, mem)) in rows.iter_mut().zip(values) {
                slot.push(Sample {
                    timestamp_ms: ts,
                    namespace: w.namespace.clone(),
                    workload_kind: "Deployment".into(),
                    workload: w.name.clone(),
                    pod: pod.clone(),
                    container: container.into(),
                    // Quantise like metrics-server does (whole Ki, tenth of a millicore).
                    cpu_cores: (cpu.max(0.0) * 10_000.0).round() / 10_000.0,
                    memory_bytes: (mem / 1024.0).round() * 1024.0,
                    ..Default::default()
                });
            }
        }
        rows.into_iter().flatten().for_each(emit);
    }
}

/// Back-test scenarios beyond the demo API, each a realistic shape that sizing must get right.
pub(crate) const SCENARIOS: &[&str] = &[
    "diurnal-api",
    "nightly-batch",
    "memory-growth",
    "growing-traffic",
    "young",
    "idle-tool",
    "canary-30pct",
    "hpa-api",
    "startup-burst",
];

/// Traffic share of the `canary-30pct` scenario: 30% of production until its last week.
pub(crate) fn canary_share(start_ms: i64, days: i64) -> String {
    format!("canary-api=0.3@{},1.0", crate::domain::format_timestamp(start_ms + (days - 7) * DAY_MS))
}

/// Generates `days` days of a scenario at 1-minute steps.
pub(crate) fn scenario(name: &str, start_ms: i64, days: i64, emit: &mut dyn FnMut(Sample)) -> Result<(), String> {
    let api = |name: &str, start: i64, days: i64, growth: f64| FleetSpec {
        workloads: vec![ApiWorkload { namespace: "scenarios".into(), name: name.into(), replicas: 3, scale: 1.0 }],
        start_ms: start,
        days,
        step_ms: 60_000,
        seed: 42,
        growth_per_week: growth,
        share_until: None,
    };
    let run =
        |spec: FleetSpec, emit: &mut dyn FnMut(Sample)| (0..spec.days).for_each(|d| spec.generate_day(d, &mut *emit));
    match name {
        "diurnal-api" => run(api("diurnal-api", start_ms, days, 0.0), emit),
        "growing-traffic" => run(api("growing-api", start_ms, days, 0.08), emit),
        // Deployed nine days before the end: two days of history before a 7-day holdout.
        "young" => run(api("young-api", start_ms + (days - 9) * DAY_MS, 9, 0.0), emit),
        "nightly-batch" => shaped("reports-worker", "worker", 2, start_ms, days, emit, nightly_batch),
        "memory-growth" => shaped("session-cache", "app", 2, start_ms, days, emit, memory_growth),
        "idle-tool" => shaped("admin-tool", "app", 1, start_ms, days, emit, idle_tool),
        // Two weeks at 30% of production traffic, then the full cut-over.
        "canary-30pct" => {
            let mut spec = api("canary-api", start_ms, days, 0.0);
            spec.share_until = Some((0.3, start_ms + (days - 7) * DAY_MS));
            run(spec, emit);
        }
        "hpa-api" => hpa_api(start_ms, days, emit),
        "startup-burst" => startup_burst(start_ms, days, emit),
        other => return Err(format!("unknown scenario `{other}` (known: {})", SCENARIOS.join(", "))),
    }
    Ok(())
}

/// An API under an HPA targeting 60% of a 500m request: the replica count follows the daily
/// cycle (2 to 10 pods) and each pod's CPU stays near the target.
fn hpa_api(start: i64, days: i64, emit: &mut dyn FnMut(Sample)) {
    let mut rng = Rng::new(0x4A11);
    for i in 0..days * 1440 {
        let ts = start + i * 60_000;
        let demand = 3.0 * (0.035 + 0.55 * traffic(ts)) * (1.0 + 0.05 * rng.normal());
        let replicas = ((demand / (0.6 * 0.5)).ceil() as usize).clamp(2, 10);
        for pod in 0..replicas {
            let cpu = demand / replicas as f64 * (1.0 + 0.1 * rng.normal());
            let mem = (170.0 + 230.0 * cpu / 0.5 + 5.0 * rng.unit()) * MIB;
            emit(Sample {
                timestamp_ms: ts,
                namespace: "scenarios".into(),
                workload_kind: "Deployment".into(),
                workload: "hpa-api".into(),
                pod: format!("hpa-api-58d7c9f4b-{}", pod_suffix(pod)),
                container: "php-fpm".into(),
                cpu_cores: (cpu.max(0.0) * 10_000.0).round() / 10_000.0,
                memory_bytes: (mem / 1024.0).round() * 1024.0,
                ..Default::default()
            });
        }
    }
}

/// A JVM's first minutes after a pod starts, cores: class loading and JIT at several times
/// its steady CPU (about 0.45 cores at its p90).
pub const JVM_WARM_UP: [f64; 4] = [1.8, 1.6, 1.2, 0.8];

/// A JVM API of three pods, each replaced every two to four days (restarts, rollouts, node
/// drains): every new pod warms up at several times its steady CPU for four minutes.
fn startup_burst(start: i64, days: i64, emit: &mut dyn FnMut(Sample)) {
    let mut rng = Rng::new(0x57A27);
    let end = start + days * DAY_MS;
    for slot in 0..3 {
        let mut born = start;
        let mut generation = 0u64;
        while born < end {
            let dies = (born + 2 * DAY_MS + (rng.unit() * 2.0 * DAY_MS as f64) as i64).min(end);
            let pod = format!("jvm-api-{:x}-{}", 0x6b8f_4c7d9 + generation * 7919, pod_suffix(slot));
            let mut ts = born;
            while ts < dies {
                let minute = ((ts - born) / 60_000) as usize;
                let load = traffic(ts) * (1.0 + 0.08 * rng.normal()).max(0.3);
                let cpu = match JVM_WARM_UP.get(minute) {
                    // The first pods were running before the history begins: no warm-up seen.
                    Some(w) if born > start => w * (1.0 + 0.05 * rng.normal()),
                    _ => 0.06 + 0.4 * load,
                };
                let mem = (480.0 + 120.0 * load + 10.0 * rng.unit()) * MIB;
                emit(Sample {
                    timestamp_ms: ts,
                    namespace: "scenarios".into(),
                    workload_kind: "Deployment".into(),
                    workload: "jvm-api".into(),
                    pod: pod.clone(),
                    container: "app".into(),
                    cpu_cores: (cpu.max(0.0) * 10_000.0).round() / 10_000.0,
                    memory_bytes: (mem / 1024.0).round() * 1024.0,
                    ..Default::default()
                });
                ts += 60_000;
            }
            // The replacement starts a minute later (scheduling, image pull).
            born = dies + 60_000;
            generation += 1;
        }
    }
}

type Shape = fn(ts: i64, since_start: i64, pod: usize, rng: &mut Rng) -> (f64, f64);

fn shaped(
    workload: &str,
    container: &str,
    pods: usize,
    start: i64,
    days: i64,
    emit: &mut dyn FnMut(Sample),
    shape: Shape,
) {
    for pod in 0..pods {
        let mut rng = Rng::new(0xBAD5EED ^ pod as u64 ^ workload.len() as u64);
        let name = format!("{workload}-6f4d8c7b9-{}", pod_suffix(pod));
        for i in 0..days * 1440 {
            let ts = start + i * 60_000;
            let (cpu, mem) = shape(ts, ts - start, pod, &mut rng);
            emit(Sample {
                timestamp_ms: ts,
                namespace: "scenarios".into(),
                workload_kind: "Deployment".into(),
                workload: workload.into(),
                pod: name.clone(),
                container: container.into(),
                cpu_cores: (cpu.max(0.0) * 10_000.0).round() / 10_000.0,
                memory_bytes: (mem / 1024.0).round() * 1024.0,
                ..Default::default()
            });
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Idle most of the day; from 01:00 to 02:30 UTC a report run takes 1-1.5 cores and ~900Mi.
fn nightly_batch(ts: i64, _: i64, _: usize, rng: &mut Rng) -> (f64, f64) {
    let minute = ts.rem_euclid(DAY_MS) / 60_000;
    if (60..150).contains(&minute) {
        let progress = (minute - 60) as f64 / 90.0;
        (1.0 + 0.5 * rng.unit(), (150.0 + 750.0 * progress + 20.0 * rng.unit()) * MIB)
    } else {
        (0.02 + 0.01 * rng.unit(), (140.0 + 10.0 * rng.unit()) * MIB)
    }
}

/// A cache that grows ~40Mi a day until it is recycled every five days (pods staggered).
fn memory_growth(ts: i64, since: i64, pod: usize, rng: &mut Rng) -> (f64, f64) {
    let cycle = 5 * DAY_MS;
    let age = (since + pod as i64 * 2 * DAY_MS).rem_euclid(cycle) as f64 / DAY_MS as f64;
    (0.03 + 0.15 * traffic(ts) * (1.0 + 0.1 * rng.normal()), (220.0 + 40.0 * age + 5.0 * rng.unit()) * MIB)
}

/// An internal admin tool: a few millicores, steady memory, an occasional click.
fn idle_tool(_: i64, _: i64, _: usize, rng: &mut Rng) -> (f64, f64) {
    let click = rng.unit() < 0.002;
    (0.002 + 0.001 * rng.unit() + if click { 0.05 } else { 0.0 }, (38.0 + if click { 6.0 } else { 0.0 }) * MIB)
}

fn pod_suffix(replica: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = replica * 7919 + 12345;
    (0..5)
        .map(|_| {
            let c = ALPHABET[n % ALPHABET.len()] as char;
            n /= ALPHABET.len();
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped_like_a_day() {
        let spec = FleetSpec::demo(0, 2, 60_000);
        let mut a = Vec::new();
        spec.generate_day(0, |s| a.push(s));
        let mut b = Vec::new();
        spec.generate_day(0, |s| b.push(s));
        assert_eq!(a, b);
        assert_eq!(a.len(), 3 * 3 * 1440);
        let php: Vec<&Sample> = a.iter().filter(|s| s.container == "php-fpm").collect();
        let at = |hour: i64| {
            php.iter().filter(|s| (s.timestamp_ms / HOUR_MS) % 24 == hour).map(|s| s.cpu_cores).sum::<f64>()
        };
        assert!(at(14) > 2.0 * at(3), "afternoon should be busier than night");
        assert!(a.iter().all(|s| s.cpu_cores >= 0.0 && s.memory_bytes > 0.0));
    }

    #[test]
    fn the_startup_scenario_replaces_pods_and_each_new_one_warms_up() {
        let mut rows = Vec::new();
        scenario("startup-burst", 0, 21, &mut |s| rows.push(s)).unwrap();
        let mut firsts: std::collections::BTreeMap<String, (i64, f64)> = std::collections::BTreeMap::new();
        for r in &rows {
            firsts.entry(r.pod.clone()).or_insert((r.timestamp_ms, r.cpu_cores));
        }
        // Three slots, each pod living two to four days: between 15 and 33 pods over 21 days.
        assert!((15..=33).contains(&firsts.len()), "{}", firsts.len());
        for (pod, (ts, cpu)) in &firsts {
            if *ts > 0 {
                assert!(*cpu > 1.4, "{pod} starts at {cpu} cores");
            }
        }
        assert!(rows.iter().all(|r| r.cpu_cores < 2.2));
    }
}
