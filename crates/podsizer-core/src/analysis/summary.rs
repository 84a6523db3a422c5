//! Per-day usage summaries in bytes, so a day is read from raw samples once and then merged
//! from its summary (the store keeps the bytes beside the day's parts).
//!
//! A summary holds every container's `DayUsage` for one day with the pods it refers to. It is
//! built by the same `UsageBuilder` as a full scan and merging is exact (histogram weights are
//! whole counts), so sizing from summaries gives the same numbers as sizing from raw rows.
//! The encoding is compact rather than general: varints, and histogram weights as whole
//! counts when they are (always, for a day built from rows).

use super::histogram::Histogram;
use super::usage::{ContainerUsage, DayUsage};
use crate::domain::{ContainerKey, Workload};
use std::collections::BTreeMap;

/// Version 2 added the cluster; version 1 summaries (no cluster) still decode.
const VERSION: u64 = 2;

/// A summary that does not decode: truncated, damaged, or written by an unknown version.
#[derive(Debug, thiserror::Error)]
#[error("usage summary is damaged or from another version: {0}")]
pub struct SummaryError(&'static str);

/// Encodes the containers' usage (each normally holding one day).
pub fn encode(containers: &[ContainerUsage]) -> Vec<u8> {
    let mut out = Encoder(Vec::with_capacity(containers.len() * 1024));
    out.uint(VERSION);
    out.uint(containers.len() as u64);
    for c in containers {
        let w = &c.key.workload;
        for s in [&w.cluster, &w.namespace, &w.kind, &w.name, &c.key.container] {
            out.str(s);
        }
        out.uint(c.pods.len() as u64);
        c.pods.iter().for_each(|p| out.str(p));
        out.uint(c.days.len() as u64);
        for (day, usage) in &c.days {
            out.int(*day);
            encode_day(&mut out, usage);
        }
    }
    out.0
}

/// Decodes what [`encode`] wrote (version 1 summaries too, with an empty cluster).
pub fn decode(bytes: &[u8]) -> Result<Vec<ContainerUsage>, SummaryError> {
    let mut d = Decoder { bytes, pos: 0 };
    let version = d.uint()?;
    if version != VERSION && version != 1 {
        return Err(SummaryError("version"));
    }
    let n = d.len()?;
    let mut containers = Vec::with_capacity(n);
    for _ in 0..n {
        let cluster = if version == 1 { String::new() } else { d.str()? };
        let [namespace, kind, name, container] = [d.str()?, d.str()?, d.str()?, d.str()?];
        let key = ContainerKey { workload: Workload { cluster, namespace, kind, name }, container };
        let pods = (0..d.len()?).map(|_| d.str()).collect::<Result<Vec<_>, _>>()?;
        let mut days = BTreeMap::new();
        for _ in 0..d.len()? {
            let day = d.int()?;
            days.insert(day, decode_day(&mut d, pods.len())?);
        }
        containers.push(ContainerUsage::from_parts(key, pods, days));
    }
    if d.pos != bytes.len() {
        return Err(SummaryError("trailing bytes"));
    }
    Ok(containers)
}

fn encode_day(out: &mut Encoder, day: &DayUsage) {
    encode_histogram(out, &day.cpu);
    encode_histogram(out, &day.memory);
    out.uint(day.pod_memory_peaks.len() as u64);
    for (pod, peak) in &day.pod_memory_peaks {
        out.uint(u64::from(*pod));
        out.f64(*peak);
    }
    out.uint(day.pod_cpu.len() as u64);
    for (pod, h) in &day.pod_cpu {
        out.uint(u64::from(*pod));
        encode_histogram(out, h);
    }
    out.int(day.first_ms);
    out.int(day.last_ms);
    out.uint(day.pods_per_bucket.len() as u64);
    day.pods_per_bucket.iter().for_each(|c| out.uint(u64::from(*c)));
}

fn decode_day(d: &mut Decoder<'_>, pods: usize) -> Result<DayUsage, SummaryError> {
    let pod = |d: &mut Decoder<'_>| -> Result<u32, SummaryError> {
        let p = d.uint()?;
        if p as usize >= pods {
            return Err(SummaryError("pod index out of range"));
        }
        Ok(p as u32)
    };
    let cpu = decode_histogram(d)?;
    let memory = decode_histogram(d)?;
    let mut pod_memory_peaks = BTreeMap::new();
    for _ in 0..d.len()? {
        pod_memory_peaks.insert(pod(d)?, d.f64()?);
    }
    let mut pod_cpu = BTreeMap::new();
    for _ in 0..d.len()? {
        pod_cpu.insert(pod(d)?, decode_histogram(d)?);
    }
    let (first_ms, last_ms) = (d.int()?, d.int()?);
    let pods_per_bucket =
        (0..d.len()?).map(|_| d.uint().map(|c| c.min(u64::from(u16::MAX)) as u16)).collect::<Result<_, _>>()?;
    Ok(DayUsage { cpu, memory, pod_memory_peaks, pod_cpu, first_ms, last_ms, pods_per_bucket })
}

fn encode_histogram(out: &mut Encoder, h: &Histogram) {
    let (offset, weights, total, min, max, count) = h.parts();
    out.int(offset);
    out.uint(count);
    out.f64(total);
    out.f64(min);
    out.f64(max);
    out.uint(weights.len() as u64);
    let whole = weights.iter().all(|w| *w >= 0.0 && w.fract() == 0.0 && *w < 9e15);
    out.uint(u64::from(whole));
    for w in weights {
        if whole {
            out.uint(*w as u64);
        } else {
            out.f64(*w);
        }
    }
}

fn decode_histogram(d: &mut Decoder<'_>) -> Result<Histogram, SummaryError> {
    let offset = d.int()?;
    let count = d.uint()?;
    let (total, min, max) = (d.f64()?, d.f64()?, d.f64()?);
    let n = d.len()?;
    let whole = d.uint()? == 1;
    let weights = (0..n).map(|_| if whole { d.uint().map(|w| w as f64) } else { d.f64() }).collect::<Result<_, _>>()?;
    Ok(Histogram::from_parts(offset, weights, total, min, max, count))
}

struct Encoder(Vec<u8>);

impl Encoder {
    fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn uint(&mut self) -> Result<u64, SummaryError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.pos).ok_or(SummaryError("truncated"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SummaryError("varint too long"))
    }

    fn int(&mut self) -> Result<i64, SummaryError> {
        let v = self.uint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A count that must fit in what is left (guards allocations against damaged input).
    fn len(&mut self) -> Result<usize, SummaryError> {
        let n = self.uint()? as usize;
        if n > self.bytes.len() - self.pos {
            return Err(SummaryError("length past the end"));
        }
        Ok(n)
    }

    fn f64(&mut self) -> Result<f64, SummaryError> {
        let end = self.pos + 8;
        let raw = self.bytes.get(self.pos..end).ok_or(SummaryError("truncated"))?;
        self.pos = end;
        Ok(f64::from_le_bytes(raw.try_into().expect("8 bytes")))
    }

    fn str(&mut self) -> Result<String, SummaryError> {
        let n = self.len()?;
        let raw = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        String::from_utf8(raw.to_vec()).map_err(|_| SummaryError("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::usage::UsageBuilder;
    use crate::domain::SampleRef;

    fn build(rows: &[(i64, &'static str, &'static str, f64)]) -> Vec<ContainerUsage> {
        let mut b = UsageBuilder::new();
        for (ts, pod, container, cpu) in rows {
            b.observe(&SampleRef {
                timestamp_ms: *ts,
                namespace: "shop",
                workload_kind: "Deployment",
                workload: "api",
                pod,
                container,
                cpu_cores: *cpu,
                memory_bytes: cpu * 3e8 + 1e7,
                series: 0,
                ..Default::default()
            });
        }
        b.finish()
    }

    fn rows() -> Vec<(i64, &'static str, &'static str, f64)> {
        let mut rows = Vec::new();
        for i in 0..3 * 1440 {
            let ts = i64::from(i) * 60_000;
            let load = 0.05 + 0.4 * (f64::from(i) * 0.013).sin().abs();
            rows.push((ts, if i < 2000 { "api-a" } else { "api-b" }, "php-fpm", load));
            rows.push((ts, "api-c", "php-fpm", load * 0.7));
            rows.push((ts, "api-c", "nginx", load * 0.1));
        }
        rows
    }

    #[test]
    fn round_trip_is_exact() {
        let usage = build(&rows());
        let decoded = decode(&encode(&usage)).unwrap();
        assert_eq!(decoded.len(), usage.len());
        for (a, b) in usage.iter().zip(&decoded) {
            assert_eq!(a.key, b.key);
            assert_eq!(a.pods, b.pods);
            assert_eq!(format!("{:?}", a.days), format!("{:?}", b.days));
        }
    }

    #[test]
    fn per_day_summaries_merge_to_the_full_history() {
        let all = rows();
        let full = build(&all);
        let mut merged = UsageBuilder::new();
        for day in 0..3 {
            let day_rows: Vec<_> = all.iter().copied().filter(|r| r.0 / 86_400_000 == day).collect();
            for c in decode(&encode(&build(&day_rows))).unwrap() {
                merged.absorb(c);
            }
        }
        let merged = merged.finish();
        for (a, b) in full.iter().zip(&merged) {
            assert_eq!(a.key, b.key);
            assert_eq!(a.pods, b.pods);
            assert_eq!(format!("{:?}", a.days), format!("{:?}", b.days));
            assert_eq!(a.replicas(), b.replicas());
        }
    }

    #[test]
    fn clusters_survive_the_round_trip() {
        let mut b = UsageBuilder::new();
        for cluster in ["", "prod-eu", "prod-us"] {
            for (ts, pod, container, cpu) in rows().into_iter().take(300) {
                let row = SampleRef {
                    timestamp_ms: ts,
                    cluster,
                    namespace: "shop",
                    workload_kind: "Deployment",
                    workload: "api",
                    pod,
                    container,
                    cpu_cores: cpu,
                    memory_bytes: 1e8,
                    series: 0,
                };
                b.observe(&row);
            }
        }
        let usage = b.finish();
        assert_eq!(usage.len(), 6, "two containers in each of three clusters");
        let keys: Vec<_> = decode(&encode(&usage)).unwrap().into_iter().map(|c| c.key).collect();
        assert_eq!(keys, usage.iter().map(|c| c.key.clone()).collect::<Vec<_>>());
        assert_eq!(keys[5].workload.cluster, "prod-us");
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let bytes = encode(&build(&rows()));
        for cut in [0, 1, 7, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[0] = 99;
        assert!(decode(&flipped).is_err());
    }
}
