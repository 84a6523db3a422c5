//! The JVM: its memory is the heap (capped by `-Xmx`, else `-XX:MaxRAMPercentage` of the
//! container's memory limit, 25% by default) plus non-heap (metaspace, code cache, thread
//! stacks, direct buffers). A heap cap that leaves no room for non-heap under the limit gets
//! the container OOM-killed before the garbage collector ever feels pressure.

use super::{growth_risk, workers_for, Origin, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::policy::Policy;
use crate::analysis::sizing::{round_up, Sizing};
use crate::domain::human_bytes;

const MI: f64 = 1024.0 * 1024.0;
/// Non-heap memory assumed for every JVM (the samples carry no `jvm_memory_used_bytes`): a
/// Spring Boot service holds about 100-150Mi of metaspace and 50Mi of code cache, plus stacks.
pub const NON_HEAP_BYTES: f64 = 256.0 * MI;
/// The smallest heap worth running: below it the JVM spends its time collecting.
pub const MIN_HEAP_BYTES: f64 = 64.0 * MI;
/// The JVM's own default `MaxRAMPercentage` (JDK 10 and later, container-aware).
pub const DEFAULT_MAX_RAM_PERCENTAGE: f64 = 25.0;

/// Variables every JVM reads (`JAVA_TOOL_OPTIONS`) or the `java` launcher reads
/// (`JDK_JAVA_OPTIONS`), in the order the flags apply: a later one wins.
pub const ENV_NAMES: &[&str] = &["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"];

/// The JVM's memory and CPU flags, as written; each was checked to parse when read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// `-Xmx` (or `-XX:MaxHeapSize=`): a fixed heap cap, a JVM size such as `512m`.
    pub max_heap: Option<Setting<String>>,
    /// `-XX:MaxRAMPercentage`: the heap as a percentage of the memory limit (ignored under `-Xmx`).
    pub max_ram_percentage: Option<Setting<String>>,
    /// `-XX:ActiveProcessorCount`: the CPUs the JVM sizes its threads for.
    pub active_processor_count: Option<Setting<String>>,
}

impl Settings {
    /// A flag's current value as written (`-Xmx`, `-XX:MaxRAMPercentage`,
    /// `-XX:ActiveProcessorCount`); `None` when it is not set.
    pub fn value_of(&self, setting: &str) -> Option<String> {
        self.all().into_iter().find(|(k, _)| *k == setting).and_then(|(_, s)| s).map(|s| s.value.clone())
    }

    /// Where each flag that was found lives.
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        self.all().into_iter().filter_map(|(_, s)| s).map(|s| &s.origin)
    }

    fn all(&self) -> [(&'static str, Option<&Setting<String>>); 3] {
        [
            ("-Xmx", self.max_heap.as_ref()),
            ("-XX:MaxRAMPercentage", self.max_ram_percentage.as_ref()),
            ("-XX:ActiveProcessorCount", self.active_processor_count.as_ref()),
        ]
    }
}

/// A JVM size (`512m`, `1G`, `1048576`) in bytes.
pub fn parse_size(text: &str) -> Option<f64> {
    let (digits, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 'b'),
    };
    let n: u64 = digits.parse().ok()?;
    let power = match unit {
        'b' => 0,
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        _ => return None,
    };
    Some(n as f64 * 1024f64.powi(power))
}

/// A `MaxRAMPercentage` the JVM accepts: a number from 0 to 100.
pub fn parse_percentage(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|p| p.is_finite() && *p > 0.0 && *p <= 100.0)
}

/// What caps the heap.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Heap {
    Fixed(f64),
    /// A share of the limit, and whether it was written (else it is the JVM's default).
    Share {
        percent: f64,
        written: bool,
    },
}

impl Heap {
    fn of(s: &Settings) -> Heap {
        if let Some(x) = s.max_heap.as_ref().and_then(|x| parse_size(&x.value)) {
            return Heap::Fixed(x);
        }
        match s.max_ram_percentage.as_ref().and_then(|p| parse_percentage(&p.value)) {
            Some(percent) => Heap::Share { percent, written: true },
            None => Heap::Share { percent: DEFAULT_MAX_RAM_PERCENTAGE, written: false },
        }
    }

    fn at(self, limit: f64) -> f64 {
        match self {
            Heap::Fixed(x) => x,
            Heap::Share { percent, .. } => limit * percent / 100.0,
        }
    }

    fn describe(self, limit: f64) -> String {
        match self {
            Heap::Fixed(x) => format!("heap -Xmx {}", human_bytes(x)),
            Heap::Share { percent, written } => format!(
                "heap {}{percent}% of {} = {}",
                if written { "MaxRAMPercentage " } else { "(JVM default) " },
                human_bytes(limit),
                human_bytes(limit * percent / 100.0)
            ),
        }
    }
}

/// The memory rule's verdict on a limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// Today's heap setting plus non-heap fits under the proposed limit.
    Fits,
    /// A lower `-Xmx` (bytes, whole MiB) fits.
    LowerHeap(f64),
    /// A lower `MaxRAMPercentage` (whole percent) fits.
    LowerPercentage(u32),
    /// Nothing sane fits: the limit must be at least this for today's heap setting.
    RaiseLimit(f64),
}

/// The memory rule: heap + `non_heap` under `limit`, with a heap of at least `floor`.
fn fit(heap: Heap, limit: f64, non_heap: f64, floor: f64) -> Fit {
    if heap.at(limit) + non_heap <= limit {
        return Fit::Fits;
    }
    let room = limit - non_heap;
    match heap {
        Heap::Fixed(_) if room >= floor => Fit::LowerHeap((room / MI).floor() * MI),
        Heap::Share { written: true, .. } if room >= floor => {
            Fit::LowerPercentage((room / limit * 100.0).floor().max(1.0) as u32)
        }
        Heap::Fixed(x) => Fit::RaiseLimit(x.max(floor) + non_heap),
        // A share keeps its percentage at a limit where both it fits and the heap is sane.
        Heap::Share { percent, .. } if percent < 100.0 => {
            Fit::RaiseLimit((non_heap / (1.0 - percent / 100.0)).max(floor * 100.0 / percent))
        }
        Heap::Share { .. } => Fit::RaiseLimit(floor + non_heap),
    }
}

/// Judges the JVM's flags against `sizing`: the heap it can reach plus non-heap must fit the
/// memory limit, by a lower `-Xmx` or `MaxRAMPercentage` while the heap keeps at least the
/// `peak_working_set` (bytes) less non-heap, else by a higher limit in `sizing`; and
/// `ActiveProcessorCount` follows the CPU budget.
pub fn advise(
    s: &Settings,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    peak_working_set: f64,
) -> RuntimeAdvice {
    let mut advice = RuntimeAdvice { runtime: "jvm".into(), ..Default::default() };
    for (key, setting) in s.all() {
        if let Some(x) = setting {
            advice.found.push(format!("{key} {} ({})", x.value, x.origin));
        }
    }
    let heap = Heap::of(s);
    if matches!(heap, Heap::Fixed(_)) && s.max_ram_percentage.is_some() {
        advice.rationale.push("jvm: -Xmx is set, so the JVM ignores MaxRAMPercentage".into());
    }
    let nh = NON_HEAP_BYTES;
    let non_heap = format!("non-heap {} (stated default: no JVM memory metrics in the samples)", human_bytes(nh));
    let grows = |limit: f64| heap.at(limit) + nh;
    let today =
        |limit: f64| format!("{} + non-heap {} = {}", heap.describe(limit), human_bytes(nh), human_bytes(grows(limit)));
    if let Some(risk) = growth_risk("the JVM", current_limit, sizing.memory_limit_bytes, grows, today) {
        advice.risks.push(risk);
    }
    // The heap the JVM held at the peak: a cap below it is collection without end or an OutOfMemoryError.
    let floor = MIN_HEAP_BYTES.max(peak_working_set - nh);
    let limit = sizing.memory_limit_bytes;
    match fit(heap, limit, nh, floor) {
        Fit::Fits => advice.rationale.push(format!(
            "jvm: {} + {non_heap} = {} fits the proposed memory limit {}",
            heap.describe(limit),
            human_bytes(grows(limit)),
            human_bytes(limit)
        )),
        Fit::LowerHeap(x) => {
            let current = s.max_heap.as_ref().expect("a fixed heap was read");
            let proposed = format!("{}m", (x / MI) as u64);
            advice.rationale.push(format!(
                "jvm: -Xmx {} -> {proposed}: {} is above the proposed memory limit {}; the heap gets what the {non_heap} leaves",
                current.value,
                today(limit),
                human_bytes(limit)
            ));
            advice.changes.push(SettingChange::of("-Xmx", current, proposed));
        }
        Fit::LowerPercentage(p) => {
            let current = s.max_ram_percentage.as_ref().expect("a written share was read");
            advice.rationale.push(format!(
                "jvm: MaxRAMPercentage {} -> {p}: {} is above the proposed memory limit {}; {p}% leaves room for the {non_heap}",
                current.value,
                today(limit),
                human_bytes(limit)
            ));
            advice.changes.push(SettingChange::of("-XX:MaxRAMPercentage", current, p.to_string()));
        }
        Fit::RaiseLimit(need) => {
            let raised = round_up(need, policy.memory.step_bytes);
            sizing.memory_limit_bytes = raised;
            advice.rationale.push(format!(
                "jvm: refused memory limit {}: under it {} leaves less than a heap of {} (the larger of {} and the peak working set less non-heap); limit raised to {} so today's heap setting fits",
                human_bytes(limit),
                non_heap,
                human_bytes(floor),
                human_bytes(MIN_HEAP_BYTES),
                human_bytes(raised)
            ));
        }
    }
    processors(s, sizing, &mut advice);
    advice
}

/// `-XX:ActiveProcessorCount` sizes the JVM's GC and JIT threads and every pool built from
/// `availableProcessors()`; when it is not set, the JVM reads the CPU quota from the cgroup itself.
fn processors(s: &Settings, sizing: &Sizing, advice: &mut RuntimeAdvice) {
    let (cores, budget) = workers_for(sizing);
    let Some(current) = &s.active_processor_count else {
        advice.rationale.push(format!(
            "jvm: -XX:ActiveProcessorCount not set: the JVM counts its CPUs from the cgroup quota (JDK 11+), {cores} for the {budget}"
        ));
        return;
    };
    if current.value.parse::<u32>() == Ok(cores) {
        advice.rationale.push(format!("jvm: -XX:ActiveProcessorCount {cores} already matches the {budget}"));
        return;
    }
    advice.rationale.push(format!(
        "jvm: -XX:ActiveProcessorCount {} -> {cores}: the {budget}, rounded up; GC and JIT threads and common pools are sized from it",
        current.value
    ));
    advice.changes.push(SettingChange::of("-XX:ActiveProcessorCount", current, cores.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> Setting<String> {
        Setting { value: value.into(), origin: Origin::Env { name: "JAVA_TOOL_OPTIONS".into() } }
    }

    fn sizing(limit_mib: f64, cpu_limit: f64) -> Sizing {
        Sizing {
            cpu_request_cores: 0.2,
            cpu_limit_cores: Some(cpu_limit),
            memory_request_bytes: limit_mib * MI / 2.0,
            memory_limit_bytes: limit_mib * MI,
        }
    }

    #[test]
    fn sizes_and_percentages_parse_as_the_jvm_reads_them() {
        assert_eq!(parse_size("512m"), Some(512.0 * MI));
        assert_eq!(parse_size("1G"), Some(1024.0 * MI));
        assert_eq!(parse_size("1048576"), Some(MI));
        assert_eq!(parse_size("1.5g"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_percentage("75.0"), Some(75.0));
        assert_eq!(parse_percentage("150"), None);
    }

    #[test]
    fn xmx_is_lowered_to_what_non_heap_leaves_under_the_limit() {
        // -Xmx1g + 256Mi = 1280Mi > 1000Mi: 1000 - 256 = 744Mi of heap, above the 64Mi floor
        // and the peak 600Mi less non-heap (344Mi).
        let s = Settings { max_heap: Some(env("1g")), ..Default::default() };
        let mut z = sizing(1000.0, 1.2);
        let a = advise(&s, &mut z, Some(2048.0 * MI), &Policy::default(), 600.0 * MI);
        assert_eq!(a.changes.len(), 1);
        assert_eq!((a.changes[0].setting.as_str(), a.changes[0].proposed.as_str()), ("-Xmx", "744m"));
        assert_eq!(z.memory_limit_bytes, 1000.0 * MI, "limit kept");
        // Fits today's 2Gi, not the proposed 1000Mi.
        assert_eq!(a.risks.len(), 1);
        assert!(a.risks[0].contains("above the proposed limit 1000Mi"), "{:?}", a.risks);
    }

    #[test]
    fn refusal_raises_the_limit_when_no_sane_heap_fits() {
        // 300Mi limit - 256Mi non-heap = 44Mi < the 64Mi floor: -Xmx512m is kept and the limit
        // raised to 512 + 256 = 768Mi.
        let s = Settings { max_heap: Some(env("512m")), ..Default::default() };
        let mut z = sizing(300.0, 1.0);
        let a = advise(&s, &mut z, Some(512.0 * MI), &Policy::default(), 200.0 * MI);
        assert!(a.changes.is_empty(), "{:?}", a.changes);
        assert_eq!(z.memory_limit_bytes, 768.0 * MI);
        assert!(a.rationale.iter().any(|r| r.starts_with("jvm: refused memory limit 300Mi")), "{:?}", a.rationale);
        // Today: 512 + 256 = 768Mi above the current 512Mi limit.
        assert_eq!(a.risks, ["the JVM can grow to heap -Xmx 512Mi + non-heap 256Mi = 768Mi, above its limit 512Mi"]);
    }

    #[test]
    fn percentage_is_lowered_or_kept_and_the_default_is_never_patched() {
        // 90% of 1Gi = 921.6Mi + 256Mi > 1Gi: (1024 - 256) / 1024 = 75%.
        let pct = Settings { max_ram_percentage: Some(env("90.0")), ..Default::default() };
        let mut z = sizing(1024.0, 1.0);
        let a = advise(&pct, &mut z, None, &Policy::default(), 100.0 * MI);
        assert_eq!(a.changes[0].proposed, "75");
        assert_eq!(a.changes[0].current.as_deref(), Some("90.0"));
        // 75% fits 1Gi: 768 + 256 = 1024Mi.
        let fits = Settings { max_ram_percentage: Some(env("75")), ..Default::default() };
        assert!(advise(&fits, &mut sizing(1024.0, 1.0), None, &Policy::default(), 0.0).changes.is_empty());
        // The default 25% under 300Mi: 75 + 256 > 300; the limit must be 256 / 0.75 = 341.3 -> 342Mi.
        let mut z = sizing(300.0, 1.0);
        let a = advise(&Settings::default(), &mut z, None, &Policy::default(), 0.0);
        assert!(a.changes.is_empty());
        assert_eq!(z.memory_limit_bytes, 342.0 * MI);
    }

    #[test]
    fn active_processor_count_follows_the_cpu_limit_only_when_set() {
        let set = Settings { active_processor_count: Some(env("8")), ..Default::default() };
        let a = advise(&set, &mut sizing(4096.0, 1.2), None, &Policy::default(), 0.0);
        let c: Vec<_> = a.changes.iter().map(|c| (c.setting.as_str(), c.proposed.as_str())).collect();
        assert_eq!(c, [("-XX:ActiveProcessorCount", "2")]);
        let unset = advise(&Settings::default(), &mut sizing(4096.0, 1.2), None, &Policy::default(), 0.0);
        assert!(unset.changes.is_empty());
        assert!(unset.rationale.iter().any(|r| r.contains("from the cgroup quota")), "{:?}", unset.rationale);
    }
}
