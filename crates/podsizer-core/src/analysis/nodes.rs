//! Node-level back-test: the holdout's pods placed onto nodes by their requests, as the
//! scheduler packs them, then replayed against what the nodes really had to hold.
//!
//! - Time runs on a grid of `step` from the holdout's start. A pod is alive from the step of
//!   its first holdout sample to the step of its last (over all its containers); in between,
//!   each container's use is its latest sample (carried forward over gaps).
//! - Placement: whenever the set of alive pods changes, every alive pod is placed again by
//!   first-fit decreasing on the dominant resource (the larger of CPU request / node CPU and
//!   memory request / node memory), within `max_pods` per node. That is the packing a
//!   descheduler and an autoscaler that removes empty nodes converge to: a lower bound on the
//!   nodes a real cluster would run. A pod whose requests alone exceed a node gets a node of
//!   its own and is counted as oversized.
//! - Per step and node: memory pressure when the sum of its pods' working sets is above the
//!   node's allocatable memory (the kubelet evicts, or the kernel OOM-kills), CPU contention
//!   when the sum of CPU use is above its allocatable CPU.
//! - Cost = node-hours x the node's hourly price.

use super::series::Series;
use super::sizing::Sizing;
use crate::domain::{NodeShape, Workload};
use std::collections::HashMap;

/// One pod's requests under one strategy (its containers' requests summed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodRequest {
    /// CPU requested, in cores.
    pub cpu_cores: f64,
    /// Memory requested, in bytes.
    pub memory_bytes: f64,
}

/// What a strategy's requests did on nodes of one shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct NodeOutcome {
    /// Most nodes running at once.
    pub peak_nodes: usize,
    /// Sum over steps of the nodes running, in node-minutes.
    pub node_minutes: f64,
    /// Time simulated, in minutes.
    pub minutes: f64,
    /// Node-minutes with the sum of working sets above allocatable memory.
    pub memory_pressure_minutes: f64,
    /// Node-minutes with the sum of CPU use above allocatable CPU.
    pub cpu_contention_minutes: f64,
    /// Node-hours x the node's hourly price.
    pub cost: f64,
    /// Pods whose requests alone exceed a node.
    pub oversized_pods: usize,
}

impl NodeOutcome {
    /// Adds another fold's figures (peaks take the larger).
    pub fn add(&mut self, o: &NodeOutcome) {
        self.peak_nodes = self.peak_nodes.max(o.peak_nodes);
        self.node_minutes += o.node_minutes;
        self.minutes += o.minutes;
        self.memory_pressure_minutes += o.memory_pressure_minutes;
        self.cpu_contention_minutes += o.cpu_contention_minutes;
        self.cost += o.cost;
        self.oversized_pods += o.oversized_pods;
    }

    /// Share of node-steps with CPU contention (the pods' summed CPU use above allocatable).
    pub fn contention_share(&self) -> f64 {
        if self.node_minutes > 0.0 {
            self.cpu_contention_minutes / self.node_minutes
        } else {
            0.0
        }
    }

    /// Time-weighted mean of the nodes running.
    pub fn mean_nodes(&self) -> f64 {
        if self.minutes > 0.0 {
            self.node_minutes / self.minutes
        } else {
            0.0
        }
    }
}

/// The pods of a holdout window, built from the containers' series.
pub struct Fleet<'a> {
    series: Vec<&'a Series>,
    /// Per series, its pod index -> fleet pod.
    pod_of: Vec<Vec<u32>>,
    /// Per series, the index of the first container slot (slot = base + pod index).
    slot_base: Vec<usize>,
    /// Per fleet pod, its first and last holdout sample.
    spans: Vec<(i64, i64)>,
    /// Per fleet pod, its workload.
    workloads: Vec<&'a Workload>,
    from: i64,
    to: i64,
    step: i64,
}

impl<'a> Fleet<'a> {
    /// Pods of `series` seen in `[from, to)`; containers of one workload with the same pod
    /// name share a pod.
    pub fn new(series: Vec<&'a Series>, from: i64, to: i64, step: i64) -> Self {
        let mut index: HashMap<(&Workload, &str), u32> = HashMap::new();
        let mut spans: Vec<(i64, i64)> = Vec::new();
        let mut workloads: Vec<&Workload> = Vec::new();
        let mut pod_of = Vec::new();
        let mut slot_base = Vec::new();
        let mut slots = 0;
        for s in &series {
            let pods: Vec<u32> = s
                .pods
                .iter()
                .map(|name| {
                    *index.entry((&s.key.workload, name.as_str())).or_insert_with(|| {
                        spans.push((i64::MAX, i64::MIN));
                        workloads.push(&s.key.workload);
                        (spans.len() - 1) as u32
                    })
                })
                .collect();
            for p in window(s, from, to) {
                let span = &mut spans[pods[p.pod as usize] as usize];
                *span = (span.0.min(p.ts), span.1.max(p.ts));
            }
            slot_base.push(slots);
            slots += pods.len();
            pod_of.push(pods);
        }
        Self { series, pod_of, slot_base, spans, workloads, from, to, step: step.max(1) }
    }

    /// Pods that ran in the holdout.
    pub fn pods(&self) -> usize {
        self.spans.len()
    }

    /// Each pod's requests: its containers' sizings (`sizing(i)` for the i-th series) summed.
    pub fn requests(&self, sizing: impl Fn(usize) -> Option<Sizing>) -> Vec<PodRequest> {
        let mut requests = vec![PodRequest::default(); self.pods()];
        for (i, pods) in self.pod_of.iter().enumerate() {
            let Some(s) = sizing(i) else { continue };
            for pod in pods {
                requests[*pod as usize].cpu_cores += s.cpu_request_cores;
                requests[*pod as usize].memory_bytes += s.memory_request_bytes;
            }
        }
        requests
    }

    fn bucket(&self, ts: i64) -> usize {
        ((ts - self.from) / self.step) as usize
    }

    /// The workload of the i-th series.
    pub fn series_workload(&self, i: usize) -> &'a Workload {
        &self.series[i].key.workload
    }

    /// Each pod's workload, in pod order.
    pub fn pod_workloads(&self) -> &[&'a Workload] {
        &self.workloads
    }

    /// Replays the window once for every strategy's requests on nodes of `shape`.
    pub fn simulate(&self, shape: &NodeShape, price_hour: f64, strategies: &[Vec<PodRequest>]) -> Vec<NodeOutcome> {
        self.replay(shape, price_hour, strategies, None)
    }

    /// One strategy's replay, and per pod its CPU use above its request on the node-steps
    /// with contention on nodes it shares, in core-minutes: the pods whose requests
    /// under-state what they use where the node ran short.
    pub fn contention_blame(&self, shape: &NodeShape, requests: &[PodRequest]) -> (NodeOutcome, Vec<f64>) {
        let mut blame = vec![0.0; self.pods()];
        let o = self.replay(shape, 0.0, std::slice::from_ref(&requests.to_vec()), Some(&mut blame))[0];
        (o, blame)
    }

    fn replay(
        &self,
        shape: &NodeShape,
        price_hour: f64,
        strategies: &[Vec<PodRequest>],
        mut blame: Option<&mut Vec<f64>>,
    ) -> Vec<NodeOutcome> {
        let steps = ((self.to - self.from + self.step - 1) / self.step).max(0) as usize;
        let minutes = self.step as f64 / 60_000.0;
        let (mut starts, mut stops) = (vec![Vec::new(); steps + 1], vec![Vec::new(); steps + 1]);
        for (pod, (first, last)) in self.spans.iter().enumerate() {
            if first <= last {
                starts[self.bucket(*first)].push(pod as u32);
                stops[self.bucket(*last) + 1].push(pod as u32);
            }
        }
        let mut usage = Usage::new(self);
        let mut packs: Vec<Packing> = strategies.iter().map(|r| Packing::new(r.len())).collect();
        let mut outcomes = vec![NodeOutcome::default(); strategies.len()];
        let mut alive: Vec<u32> = Vec::new();
        for k in 0..steps {
            if !starts[k].is_empty() || !stops[k].is_empty() {
                alive.retain(|p| !stops[k].contains(p));
                alive.extend(&starts[k]);
                alive.sort_unstable();
                for (pack, requests) in packs.iter_mut().zip(strategies) {
                    pack.place(&alive, requests, shape);
                }
            }
            usage.advance(self, self.from + (k as i64 + 1) * self.step);
            for (pack, o) in packs.iter_mut().zip(&mut outcomes) {
                let (pressure, contention) = pack.overloaded(&alive, &usage, shape);
                o.peak_nodes = o.peak_nodes.max(pack.nodes);
                o.node_minutes += pack.nodes as f64 * minutes;
                o.memory_pressure_minutes += pressure as f64 * minutes;
                o.cpu_contention_minutes += contention as f64 * minutes;
            }
            if let (Some(blame), Some(pack)) = (blame.as_deref_mut(), packs.first()) {
                // A pod alone on its node is not to blame: no request moves its neighbours away.
                let mut pods_on = vec![0u32; pack.nodes];
                alive.iter().for_each(|p| pods_on[pack.node_of[*p as usize] as usize] += 1);
                let shared_and_contended = |p: &&u32| {
                    let node = pack.node_of[**p as usize] as usize;
                    pods_on[node] > 1 && pack.cpu[node] > shape.cpu_cores + 1e-9
                };
                for p in alive.iter().filter(shared_and_contended) {
                    let over = usage.pod[*p as usize].0 - strategies[0][*p as usize].cpu_cores;
                    blame[*p as usize] += over.max(0.0) * minutes;
                }
            }
        }
        for (o, pack) in outcomes.iter_mut().zip(&packs) {
            o.minutes = steps as f64 * minutes;
            o.cost = o.node_minutes / 60.0 * price_hour;
            o.oversized_pods = pack.oversized.iter().filter(|x| **x).count();
        }
        outcomes
    }
}

/// The points of `s` in `[from, to)` (points are sorted by time).
fn window(s: &Series, from: i64, to: i64) -> &[super::series::Point] {
    let a = s.points.partition_point(|p| p.ts < from);
    let b = s.points.partition_point(|p| p.ts < to);
    &s.points[a..b]
}

/// Each pod's current use: the latest sample of each of its containers, summed.
struct Usage {
    cursors: Vec<usize>,
    ends: Vec<usize>,
    container: Vec<(f64, f64)>,
    pod: Vec<(f64, f64)>,
}

impl Usage {
    fn new(fleet: &Fleet<'_>) -> Self {
        let bounds: Vec<(usize, usize)> = fleet
            .series
            .iter()
            .map(|s| (s.points.partition_point(|p| p.ts < fleet.from), s.points.partition_point(|p| p.ts < fleet.to)))
            .collect();
        let slots = fleet.slot_base.last().copied().unwrap_or(0) + fleet.pod_of.last().map_or(0, Vec::len);
        Self {
            cursors: bounds.iter().map(|b| b.0).collect(),
            ends: bounds.iter().map(|b| b.1).collect(),
            container: vec![(0.0, 0.0); slots],
            pod: vec![(0.0, 0.0); fleet.pods()],
        }
    }

    /// Takes in every sample before `until`.
    fn advance(&mut self, fleet: &Fleet<'_>, until: i64) {
        for (i, s) in fleet.series.iter().enumerate() {
            let cursor = &mut self.cursors[i];
            while *cursor < self.ends[i] && s.points[*cursor].ts < until {
                let p = s.points[*cursor];
                let slot = &mut self.container[fleet.slot_base[i] + p.pod as usize];
                let pod = &mut self.pod[fleet.pod_of[i][p.pod as usize] as usize];
                pod.0 += p.cpu - slot.0;
                pod.1 += p.memory - slot.1;
                *slot = (p.cpu, p.memory);
                *cursor += 1;
            }
        }
    }
}

/// One strategy's placement of the alive pods.
struct Packing {
    node_of: Vec<u32>,
    nodes: usize,
    oversized: Vec<bool>,
    /// Per node, the sums of working set and CPU use at the current step.
    memory: Vec<f64>,
    cpu: Vec<f64>,
}

impl Packing {
    fn new(pods: usize) -> Self {
        Self { node_of: vec![0; pods], nodes: 0, oversized: vec![false; pods], memory: Vec::new(), cpu: Vec::new() }
    }

    /// First-fit decreasing on the dominant resource; ties by pod order, so it is repeatable.
    fn place(&mut self, alive: &[u32], requests: &[PodRequest], shape: &NodeShape) {
        let dominant = |p: u32| {
            let r = requests[p as usize];
            (r.cpu_cores / shape.cpu_cores).max(r.memory_bytes / shape.memory_bytes)
        };
        let mut order = alive.to_vec();
        order.sort_by(|a, b| dominant(*b).total_cmp(&dominant(*a)).then(a.cmp(b)));
        // Per node: free CPU, free memory, free pod slots.
        let mut free: Vec<(f64, f64, u32)> = Vec::new();
        for p in order {
            let r = requests[p as usize];
            let fits = |f: &(f64, f64, u32)| f.2 > 0 && r.cpu_cores <= f.0 + 1e-9 && r.memory_bytes <= f.1 + 0.5;
            let node = if let Some(n) = free.iter().position(fits) {
                n
            } else {
                free.push((shape.cpu_cores, shape.memory_bytes, shape.max_pods));
                if !fits(free.last().expect("pushed")) {
                    self.oversized[p as usize] = true;
                    *free.last_mut().expect("pushed") = (0.0, 0.0, 1);
                }
                free.len() - 1
            };
            let f = &mut free[node];
            *f = ((f.0 - r.cpu_cores).max(0.0), (f.1 - r.memory_bytes).max(0.0), f.2 - 1);
            self.node_of[p as usize] = node as u32;
        }
        self.nodes = free.len();
    }

    /// Nodes under memory pressure and nodes with CPU contention at this step.
    fn overloaded(&mut self, alive: &[u32], usage: &Usage, shape: &NodeShape) -> (usize, usize) {
        self.memory.clear();
        self.memory.resize(self.nodes, 0.0);
        self.cpu.clear();
        self.cpu.resize(self.nodes, 0.0);
        for p in alive {
            let node = self.node_of[*p as usize] as usize;
            let (cpu, memory) = usage.pod[*p as usize];
            self.cpu[node] += cpu;
            self.memory[node] += memory;
        }
        let pressure = self.memory.iter().filter(|m| **m > shape.memory_bytes).count();
        let contention = self.cpu.iter().filter(|c| **c > shape.cpu_cores + 1e-9).count();
        (pressure, contention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::series::Point;
    use crate::domain::ContainerKey;

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIN: i64 = 60_000;

    fn series(workload: &str, container: &str, pods: &[&str], points: Vec<Point>) -> Series {
        let key = ContainerKey::deployment("ns", workload, container);
        Series { key, pods: pods.iter().map(std::string::ToString::to_string).collect(), points }
    }

    fn pt(minute: i64, pod: u32, cpu: f64, memory_gib: f64) -> Point {
        Point { ts: minute * MIN, pod, cpu, memory: memory_gib * GIB }
    }

    fn shape(cpu: f64, memory_gib: f64, pods: u32) -> NodeShape {
        NodeShape {
            name: "test".into(),
            cpu_cores: cpu,
            memory_bytes: memory_gib * GIB,
            max_pods: pods,
            price_hour: None,
        }
    }

    #[test]
    fn first_fit_decreasing_on_the_dominant_resource() {
        // Requests (cpu, GiB) on a 4-core 8 GiB node: a (3, 1) dominant 0.75, b (1, 5) 0.625,
        // c (1, 2) 0.25, d (0.5, 3) 0.375. Order a, b, d, c: a -> node 0 (1 core, 7 GiB free),
        // b -> node 0 (0 cores, 2 GiB), d needs 0.5 core -> node 1, c -> node 1.
        let r = |cpu, gib| PodRequest { cpu_cores: cpu, memory_bytes: gib * GIB };
        let requests = vec![r(3.0, 1.0), r(1.0, 5.0), r(1.0, 2.0), r(0.5, 3.0)];
        let mut p = Packing::new(4);
        p.place(&[0, 1, 2, 3], &requests, &shape(4.0, 8.0, 110));
        assert_eq!((p.nodes, p.node_of.clone()), (2, vec![0, 0, 1, 1]));
        // Two pods per node at most: a, b | d, c still; with one pod per node, four nodes.
        p.place(&[0, 1, 2, 3], &requests, &shape(4.0, 8.0, 1));
        assert_eq!(p.nodes, 4);
        // Too big for any node: a node of its own, counted.
        p.place(&[0, 1], &[r(5.0, 1.0), r(1.0, 1.0)], &shape(4.0, 8.0, 110));
        assert_eq!((p.nodes, p.oversized[0], p.oversized[1]), (2, true, false));
    }

    #[test]
    fn pods_come_and_go_and_nodes_follow() {
        // Ten minutes. Pod a: minutes 0-9, 2 GiB, 1 core. Pod b: minutes 2-5, 3 GiB, 3 cores
        // (its second container adds 1 GiB at minute 4). Pod c (another workload): minutes
        // 5-9, with a gap after minute 6 (carried forward), 2.5 GiB, 0.5 core.
        let api = series(
            "api",
            "app",
            &["a", "b"],
            (0..10).map(|m| pt(m, 0, 1.0, 2.0)).chain((2..6).map(|m| pt(m, 1, 3.0, 3.0))).collect(),
        );
        let side = series("api", "sidecar", &["b"], vec![pt(4, 0, 0.0, 1.0)]);
        let job = series("job", "app", &["c"], vec![pt(5, 0, 0.5, 2.5), pt(6, 0, 0.5, 2.5), pt(9, 0, 0.5, 2.5)]);
        let mut all = [api, side, job];
        all.iter_mut().for_each(|s| s.points.sort_by_key(|p| (p.ts, p.pod)));
        let fleet = Fleet::new(all.iter().collect(), 0, 10 * MIN, MIN);
        assert_eq!(fleet.pods(), 3);
        let sizing = |cpu: f64, gib: f64| Sizing {
            cpu_request_cores: cpu,
            cpu_limit_cores: None,
            memory_request_bytes: gib * GIB,
            memory_limit_bytes: 2.0 * gib * GIB,
        };
        // Requests: app 1 core / 2 GiB, sidecar 0.1 / 0.5, job 0.5 / 2: pods a 1/2, b 1.1/2.5, c 0.5/2.
        let requests = fleet.requests(|i| Some([sizing(1.0, 2.0), sizing(0.1, 0.5), sizing(0.5, 2.0)][i]));
        assert_eq!(requests[1], PodRequest { cpu_cores: 1.1, memory_bytes: 2.5 * GIB });
        // Node 2 cores / 6 GiB. Minutes 0-1: a alone, 1 node. Minutes 2-4: b (dominant 0.55)
        // then a (0.5): b leaves 0.9 core, so a opens node 1. Minute 5: b, a, c (0.33): c fits
        // beside b (0.9 core, 3.5 GiB free). Minutes 6-9: a + c on one node.
        let small = shape(2.0, 6.0, 110);
        let o = fleet.simulate(&small, 1.2, std::slice::from_ref(&requests))[0];
        assert_eq!(o.peak_nodes, 2);
        assert_eq!(o.node_minutes, f64::from(2 + 2 * 3 + 2 + 4));
        assert_eq!(o.minutes, 10.0);
        assert!((o.mean_nodes() - 1.4).abs() < 1e-12);
        assert!((o.cost - 14.0 / 60.0 * 1.2).abs() < 1e-12);
        // Use: b's 3 cores on a 2-core node at minutes 2-5 (with c at 5: 3.5); at minute 5 b's
        // 3 + 1 GiB and c's 2.5 GiB are above 6 GiB. Minutes 6-9: a + c use 1.5 cores, 4.5 GiB.
        assert_eq!(o.cpu_contention_minutes, 4.0);
        assert_eq!(o.memory_pressure_minutes, 1.0);
        // Node 4 cores / 5 GiB. Minutes 2-4: b (0.5) then a (0.4): 4.5 GiB requested, one node;
        // they use 4 cores (not above) and 5 GiB, 6 GiB from minute 4 when b's sidecar reports.
        // Minute 5: b, a, then c (0.4, after a by pod order) needs 2 GiB: node 1. Minutes 6-9:
        // a + c, one node, 4.5 GiB used.
        let narrow = shape(4.0, 5.0, 110);
        let o = fleet.simulate(&narrow, 1.0, &[requests.clone(), requests])[1];
        assert_eq!((o.peak_nodes, o.node_minutes), (2, f64::from(2 + 3 + 2 + 4)));
        assert_eq!((o.memory_pressure_minutes, o.cpu_contention_minutes), (2.0, 0.0));
    }
}
