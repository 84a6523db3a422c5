//! Report charts drawn with plotters: per container a PNG of CPU and memory use over the
//! window against current and proposed settings; per workload an SVG heat map of CPU use by
//! hour of day and weekday.
//!
//! Text is drawn with DejaVu Sans, bundled in `assets/fonts/` (Bitstream Vera licence, from
//! Debian's fonts-dejavu-core 2.37) and registered with plotters' `ab_glyph` backend, so no
//! system font is needed. PNGs are encoded with the `png` crate.

use super::{Report, ReportError};
use crate::analysis::timeline::Bucket;
use chrono::TimeZone;
use chrono_tz::Tz;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

mod heatmap;
mod text;

pub(crate) use heatmap::heatmap_svg;
use text::register_font;
pub(crate) use text::{text_width, Label};

/// Pixel size of a container's usage chart.
pub(crate) const USAGE_SIZE: (u32, u32) = (1000, 640);
/// Pixel size of a workload's heat map.
pub(crate) const HEATMAP_SIZE: (u32, u32) = (1000, 320);

/// Current settings: orange. Proposed: green. Usage: blue. Same in every chart and the page.
pub(crate) const NOW: RGBColor = RGBColor(217, 95, 2);
pub(crate) const NEW: RGBColor = RGBColor(27, 148, 110);
const USAGE: RGBColor = RGBColor(37, 99, 178);
const PEAK: RGBColor = RGBColor(140, 160, 195);
const INK: RGBColor = RGBColor(31, 35, 40);
const MUTED: RGBColor = RGBColor(89, 99, 110);
const GRID: RGBColor = RGBColor(225, 229, 234);

/// A round step for about `n` ticks up to `top`: 1, 2, 2.5 or 5 x 10^k.
fn nice_ticks(top: f64, n: f64) -> Vec<f64> {
    if top <= 0.0 || !top.is_finite() {
        return vec![0.0];
    }
    let raw = top / n;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    (0..).map(|i| f64::from(i) * step).take_while(|v| *v <= top + 1e-9).collect()
}

fn chart_err(file: &str) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Chart { file: file.to_string(), message }
}

type Rendered = Result<Vec<u8>, ReportError>;
type Job<'a> = Box<dyn Fn() -> Rendered + Send + Sync + 'a>;

/// Draws every chart of the report: `(path relative to the report folder, bytes)`, in
/// container then workload order. Uses all cores.
pub(crate) fn render_all(report: &Report) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    register_font();
    let doc = &report.doc;
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let mut names = Vec::new();
    for (i, c) in doc.containers.iter().enumerate() {
        names.push(c.chart.clone());
        let title =
            format!("{} / {}/{} / {}", c.namespace, c.workload.kind.to_lowercase(), c.workload.name, c.container);
        let name = c.chart.clone();
        jobs.push(Box::new(move || {
            usage_png(&report.containers[i].buckets, &Lines::of(&report.containers[i]), report.span, report.tz, &title)
                .map_err(chart_err(&name))
        }));
    }
    for (i, w) in doc.workloads.iter().enumerate() {
        names.push(w.heatmap.clone());
        let title = format!("{} / {}/{}", w.namespace, w.kind.to_lowercase(), w.name);
        let name = w.heatmap.clone();
        let data = &report.workloads[i];
        jobs.push(Box::new(move || {
            heatmap_svg(&data.grid, report.tz.name(), &title).map(String::into_bytes).map_err(chart_err(&name))
        }));
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Rendered>> = (0..jobs.len()).map(|_| None).collect();
    let slots: Vec<std::sync::Mutex<&mut Option<Rendered>>> = results.iter_mut().map(std::sync::Mutex::new).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs.len() {
                    break;
                }
                let out = jobs[i]();
                **slots[i].lock().expect("not poisoned") = Some(out);
            });
        }
    });
    drop(slots);
    let mut out = Vec::with_capacity(names.len());
    for (name, result) in names.into_iter().zip(results) {
        out.push((name, result.expect("every job ran")?));
    }
    Ok(out)
}

/// The horizontal lines of a usage chart (cores and bytes).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lines {
    pub cpu_request_now: Option<f64>,
    pub cpu_limit_now: Option<f64>,
    pub cpu_request_new: Option<f64>,
    pub cpu_limit_new: Option<f64>,
    pub memory_request_now: Option<f64>,
    pub memory_limit_now: Option<f64>,
    pub memory_request_new: Option<f64>,
    pub memory_limit_new: Option<f64>,
}

impl Lines {
    fn of(c: &super::ContainerData) -> Self {
        let cur = c.current.unwrap_or_default();
        Self {
            cpu_request_now: cur.cpu_request_cores,
            cpu_limit_now: cur.cpu_limit_cores,
            cpu_request_new: c.proposed.map(|s| s.cpu_request_cores),
            cpu_limit_new: c.proposed.and_then(|s| s.cpu_limit_cores),
            memory_request_now: cur.memory_request_bytes,
            memory_limit_now: cur.memory_limit_bytes,
            memory_request_new: c.proposed.map(|s| s.memory_request_bytes),
            memory_limit_new: c.proposed.map(|s| s.memory_limit_bytes),
        }
    }
}

/// A unit for an axis: label and the factor from cores or bytes.
struct Unit {
    label: &'static str,
    cpu: bool,
    factor: f64,
}

fn cpu_unit(max_cores: f64) -> Unit {
    if max_cores < 2.0 {
        Unit { label: "CPU (millicores)", cpu: true, factor: 1000.0 }
    } else {
        Unit { label: "CPU (cores)", cpu: true, factor: 1.0 }
    }
}

fn memory_unit(max_bytes: f64) -> Unit {
    if max_bytes < 2.0 * 1024f64.powi(3) {
        Unit { label: "memory (MiB)", cpu: false, factor: 1.0 / 1024f64.powi(2) }
    } else {
        Unit { label: "memory (GiB)", cpu: false, factor: 1.0 / 1024f64.powi(3) }
    }
}

/// Tick text without needless decimals: 200, 0.5, 1.25.
fn tick(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Value text for a line label, as manifests and the report's tables write it (`240m`,
/// `1`, `280Mi`, `1Gi`).
fn value_text(v: f64, unit: &Unit) -> String {
    if unit.cpu {
        crate::domain::Cpu(v).to_string()
    } else {
        crate::domain::human_bytes(v)
    }
}

/// Local midnights in `[from, to]`, every `step` days.
fn day_starts(tz: Tz, from: i64, to: i64) -> Vec<i64> {
    let Some(start) = tz.timestamp_millis_opt(from).single() else { return Vec::new() };
    let mut day = start.date_naive();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
        if let Some(t) = tz.from_local_datetime(&midnight).earliest().map(|t| t.timestamp_millis()) {
            if t > to {
                break;
            }
            if t >= from {
                out.push(t);
            }
        }
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    out
}

fn day_label(tz: Tz, ms: i64) -> String {
    tz.timestamp_millis_opt(ms).single().map_or_else(String::new, |t| t.format("%a %-d %b").to_string())
}

/// Contiguous runs of buckets (a gap of more than two buckets splits a run).
fn runs(buckets: &[Bucket]) -> Vec<&[Bucket]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..buckets.len() {
        if buckets[i].start_ms - buckets[i - 1].start_ms > 2 * super::BUCKET_MS {
            out.push(&buckets[start..i]);
            start = i;
        }
    }
    if start < buckets.len() {
        out.push(&buckets[start..]);
    }
    out
}

struct Panel<'a> {
    title: &'a str,
    unit: Unit,
    values: Vec<(i64, f64, f64, f64)>,
    /// (label, value in base units, colour, dashed)
    lines: Vec<(&'static str, f64, RGBColor, bool)>,
    x_desc: Option<String>,
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    root: &DrawingArea<DB, Shift>,
    panel: &Panel<'_>,
    buckets: &[Bucket],
    span: (i64, i64),
    tz: Tz,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let (from, to) = span;
    let f = panel.unit.factor;
    let max_data = panel.values.iter().map(|v| v.3).fold(0.0, f64::max);
    let max_line = panel.lines.iter().map(|l| l.1 * f).fold(0.0, f64::max);
    let top = (max_data.max(max_line) * 1.08).max(1e-9);
    let width = area.dim_in_pixel().0;
    let plot_width = i64::from(width) - 70 - 150;
    let days = day_starts(tz, from, to);
    let every = ((days.len() as i64 * 95) / plot_width.max(1) + 1).max(1) as usize;
    let labelled: std::collections::HashSet<i64> = days.iter().copied().step_by(every).collect();
    let y_ticks = nice_ticks(top, 6.0);
    let mut chart = ChartBuilder::on(area)
        .margin_top(26)
        .margin_left(6)
        .margin_right(150)
        .margin_bottom(4)
        .x_label_area_size(if panel.x_desc.is_some() { 44 } else { 24 })
        .y_label_area_size(64)
        .build_cartesian_2d((from..to).with_key_points(days.clone()), 0f64..top)
        .map_err(e)?;
    // Grid only: tick labels are drawn below with `Label` for even letter spacing.
    chart
        .configure_mesh()
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|_| String::new())
        .disable_y_mesh()
        .y_labels(0)
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED.stroke_width(1))
        .draw()
        .map_err(e)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (top_left, _) = area.get_pixel_range();
    let draw = |l: Label| root.draw(&l).map_err(e);
    draw(Label::new(panel.title, (xr.start, yr.start - 22), 15.0, INK, HPos::Left, VPos::Top))?;
    for t in days.iter().filter(|t| labelled.contains(t)) {
        let (px, _) = chart.backend_coord(&(*t, 0.0));
        draw(Label::new(day_label(tz, *t), (px, yr.end + 7), 13.0, INK, HPos::Center, VPos::Top))?;
    }
    for v in &y_ticks {
        if *v > 0.0 {
            chart.draw_series(LineSeries::new([(from, *v), (to, *v)], GRID.stroke_width(1))).map_err(e)?;
        }
        let (_, py) = chart.backend_coord(&(from, *v));
        draw(Label::new(tick(*v), (xr.start - 7, py), 13.0, INK, HPos::Right, VPos::Center))?;
    }
    let mut desc = Label::new(
        panel.unit.label,
        (top_left.start + 12, i32::midpoint(yr.start, yr.end)),
        13.0,
        MUTED,
        HPos::Center,
        VPos::Center,
    );
    desc.vertical = true;
    draw(desc)?;
    if let Some(d) = &panel.x_desc {
        draw(Label::new(
            d.clone(),
            (i32::midpoint(xr.start, xr.end), yr.end + 27),
            13.0,
            MUTED,
            HPos::Center,
            VPos::Top,
        ))?;
    }
    if buckets.is_empty() {
        let at = (i32::midpoint(xr.start, xr.end), i32::midpoint(yr.start, yr.end));
        draw(Label::new("no samples in the window", at, 14.0, MUTED, HPos::Center, VPos::Center))?;
    }
    for run in runs(buckets) {
        let values: Vec<&(i64, f64, f64, f64)> =
            panel.values.iter().filter(|v| v.0 >= run[0].start_ms && v.0 <= run[run.len() - 1].start_ms).collect();
        let mid = |t: i64| t + super::BUCKET_MS / 2;
        chart.draw_series(LineSeries::new(values.iter().map(|v| (mid(v.0), v.3)), PEAK.stroke_width(1))).map_err(e)?;
        let mut band: Vec<(i64, f64)> = values.iter().map(|v| (mid(v.0), v.2)).collect();
        band.extend(values.iter().rev().map(|v| (mid(v.0), v.1)));
        chart.draw_series(std::iter::once(Polygon::new(band, USAGE.mix(0.25).filled()))).map_err(e)?;
        chart.draw_series(LineSeries::new(values.iter().map(|v| (mid(v.0), v.1)), USAGE.stroke_width(2))).map_err(e)?;
    }
    let mut labels: Vec<(i32, String, RGBColor)> = Vec::new();
    for (label, value, color, dashed) in &panel.lines {
        let y = value * f;
        let points = vec![(from, y), (to, y)];
        if *dashed {
            chart.draw_series(DashedLineSeries::new(points, 9, 6, color.stroke_width(2))).map_err(e)?;
        } else {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(e)?;
        }
        let (_, py) = chart.backend_coord(&(to, y));
        labels.push((py, format!("{label} {}", value_text(*value, &panel.unit)), *color));
    }
    // Line labels right of the plot, pushed apart so they never overlap.
    labels.sort_by_key(|l| l.0);
    let gap = 15;
    let mut ys: Vec<i32> = labels.iter().map(|l| l.0).collect();
    for i in 1..ys.len() {
        if ys[i] - ys[i - 1] < gap {
            ys[i] = ys[i - 1] + gap;
        }
    }
    let bottom = yr.end;
    if let Some(last) = ys.last().copied() {
        if last > bottom {
            let shift = last - bottom;
            for y in &mut ys {
                *y -= shift;
            }
        }
    }
    for ((py, text, color), y) in labels.iter().zip(&ys) {
        let x = xr.end + 4;
        root.draw(&PathElement::new(vec![(x, *py), (x + 8, *y)], color.stroke_width(1))).map_err(e)?;
        draw(Label::new(text.clone(), (x + 11, *y), 12.5, *color, HPos::Left, VPos::Center))?;
    }
    Ok(())
}

fn legend<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, x0: i32, y: i32, lines: &Lines) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    enum Mark {
        Line(RGBColor, u32),
        Band,
        Dashed(RGBColor),
    }
    let items = [
        (Mark::Line(USAGE, 2), "median (10 min)"),
        (Mark::Band, "median to p95"),
        (Mark::Line(PEAK, 1), "peak"),
        (Mark::Dashed(NOW), "request now"),
        (Mark::Line(NOW, 2), "limit now"),
        (Mark::Dashed(NEW), "request proposed"),
        (Mark::Line(NEW, 2), "limit proposed"),
    ];
    let shown = [
        true,
        true,
        true,
        lines.cpu_request_now.is_some() || lines.memory_request_now.is_some(),
        lines.cpu_limit_now.is_some() || lines.memory_limit_now.is_some(),
        lines.cpu_request_new.is_some() || lines.memory_request_new.is_some(),
        lines.cpu_limit_new.is_some() || lines.memory_limit_new.is_some(),
    ];
    let mut x = x0;
    for ((mark, text), _) in items.into_iter().zip(shown).filter(|(_, s)| *s) {
        match mark {
            Mark::Line(c, w) => root.draw(&PathElement::new(vec![(x, y), (x + 26, y)], c.stroke_width(w))),
            Mark::Band => root.draw(&Rectangle::new([(x, y - 6), (x + 26, y + 6)], USAGE.mix(0.25).filled())),
            Mark::Dashed(c) => {
                root.draw(&PathElement::new(vec![(x, y), (x + 10, y)], c.stroke_width(2))).map_err(e)?;
                root.draw(&PathElement::new(vec![(x + 16, y), (x + 26, y)], c.stroke_width(2)))
            }
        }
        .map_err(e)?;
        root.draw(&Label::new(text, (x + 32, y), 13.0, INK, HPos::Left, VPos::Center)).map_err(e)?;
        x += 32 + text_width(text, 13.0).ceil() as i32 + 22;
    }
    Ok(())
}

/// CPU (top) and memory (bottom) over the window as a PNG.
pub(crate) fn usage_png(
    buckets: &[Bucket],
    lines: &Lines,
    span: (i64, i64),
    tz: Tz,
    title: &str,
) -> Result<Vec<u8>, String> {
    register_font();
    let (w, h) = USAGE_SIZE;
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        let e = |x: DrawingAreaErrorKind<<BitMapBackend as DrawingBackend>::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        root.draw(&Label::new(title, (14, 10), 17.0, INK, HPos::Left, VPos::Top)).map_err(e)?;
        legend(&root, 16, 46, lines)?;
        let (_, body) = root.split_vertically(62);
        let (top, bottom) = body.split_vertically((h - 62) / 2 - 12);
        let max_cpu = buckets
            .iter()
            .map(|b| b.cpu.max)
            .chain(
                [lines.cpu_request_now, lines.cpu_limit_now, lines.cpu_request_new, lines.cpu_limit_new]
                    .into_iter()
                    .flatten(),
            )
            .fold(0.0, f64::max);
        let max_mem = buckets
            .iter()
            .map(|b| b.memory.max)
            .chain(
                [lines.memory_request_now, lines.memory_limit_now, lines.memory_request_new, lines.memory_limit_new]
                    .into_iter()
                    .flatten(),
            )
            .fold(0.0, f64::max);
        let cu = cpu_unit(max_cpu);
        let mu = memory_unit(max_mem);
        let line_set = |items: [(&'static str, Option<f64>, RGBColor, bool); 4]| {
            items.into_iter().filter_map(|(l, v, c, d)| v.map(|v| (l, v, c, d))).collect::<Vec<_>>()
        };
        let cpu_panel = Panel {
            title: "CPU use",
            values: buckets
                .iter()
                .map(|b| (b.start_ms, b.cpu.p50 * cu.factor, b.cpu.p95 * cu.factor, b.cpu.max * cu.factor))
                .collect(),
            unit: cu,
            lines: line_set([
                ("request", lines.cpu_request_now, NOW, true),
                ("limit", lines.cpu_limit_now, NOW, false),
                ("request", lines.cpu_request_new, NEW, true),
                ("limit", lines.cpu_limit_new, NEW, false),
            ]),
            x_desc: None,
        };
        let mem_panel = Panel {
            title: "memory use (working set)",
            values: buckets
                .iter()
                .map(|b| (b.start_ms, b.memory.p50 * mu.factor, b.memory.p95 * mu.factor, b.memory.max * mu.factor))
                .collect(),
            unit: mu,
            lines: line_set([
                ("request", lines.memory_request_now, NOW, true),
                ("limit", lines.memory_limit_now, NOW, false),
                ("request", lines.memory_request_new, NEW, true),
                ("limit", lines.memory_limit_new, NEW, false),
            ]),
            x_desc: Some(format!("local time ({})", tz.name())),
        };
        draw_panel(&top, &root, &cpu_panel, buckets, span, tz)?;
        draw_panel(&bottom, &root, &mem_panel, buckets, span, tz)?;
        root.present().map_err(e)?;
    }
    encode_png(&pixels, w, h)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Balanced);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Sequential blues, light to dark (ColorBrewer "Blues").
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_values() {
        assert_eq!(tick(200.0), "200");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(1.25), "1.25");
        let m = cpu_unit(0.5);
        assert_eq!(value_text(0.24, &m), "240m");
        assert_eq!(value_text(2.0, &cpu_unit(3.0)), "2");
        let g = memory_unit(3.0 * 1024f64.powi(3));
        assert_eq!(value_text(1.5 * 1024f64.powi(3), &g), "1.5Gi");
    }

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(nice_ticks(216.0, 6.0), vec![0.0, 50.0, 100.0, 150.0, 200.0]);
        assert_eq!(nice_ticks(2.2, 6.0), vec![0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(nice_ticks(0.0, 6.0), vec![0.0]);
    }

    #[test]
    fn labels_keep_glyph_bearings_and_anchor() {
        let l = Label::new("Wed", (100, 50), 13.0, INK, HPos::Right, VPos::Center);
        let px = l.pixels(l.at);
        let (min_x, max_x) = px.iter().fold((i32::MAX, i32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        assert!((97..=100).contains(&max_x), "right-anchored text ends at the anchor: {max_x}");
        assert!((max_x - min_x - text_width("Wed", 13.0) as i32).abs() <= 2);
        let (min_y, max_y) = px.iter().fold((i32::MAX, i32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        assert!((min_y + max_y - 100).abs() <= 2, "centred vertically: {min_y}..{max_y}");
    }

    #[test]
    fn midnights_in_a_zone() {
        // 2026-11-16T00:00Z .. +2 days; in Tokyo midnight is 15:00Z the day before.
        let from = crate::domain::parse_timestamp("2026-11-16").unwrap();
        let to = from + 2 * crate::domain::DAY_MS;
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let days = day_starts(tokyo, from, to);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0], from + 15 * 3_600_000);
        assert_eq!(day_label(tokyo, days[0]), "Tue 17 Nov");
        assert_eq!(day_starts(chrono_tz::UTC, from, to).len(), 3);
    }
}
