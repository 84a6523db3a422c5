//! A workload's heat map: CPU use by hour of day and weekday, as SVG.

use super::text::{font, register_font};
use super::{HEATMAP_SIZE, INK, MUTED};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

fn blues(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 5] = [(239, 246, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Hour-of-day x weekday grid of mean CPU cores per pod, as SVG.
pub(crate) fn heatmap_svg(grid: &[[Option<f64>; 24]; 7], tz_name: &str, title: &str) -> Result<String, String> {
    register_font();
    let (w, h) = HEATMAP_SIZE;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let e = |x: DrawingAreaErrorKind<<SVGBackend as DrawingBackend>::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let max = grid.iter().flatten().flatten().copied().fold(0.0, f64::max);
        let millicores = max < 10.0;
        let unit = if millicores { "millicores" } else { "cores" };
        root.draw(&Text::new(
            format!("{title}: mean CPU per pod ({unit}) by hour and weekday, {tz_name}"),
            (14, 10),
            font(16.0, INK),
        ))
        .map_err(e)?;
        let (left, top, cw, ch) = (56, 44, 34, 30);
        let center = Pos::new(HPos::Center, VPos::Center);
        for (d, row) in grid.iter().enumerate() {
            let y = top + d as i32 * ch;
            root.draw(&Text::new(
                super::super::WEEKDAYS[d],
                (left - 10, y + ch / 2),
                font(13.0, INK).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(e)?;
            for (hour, v) in row.iter().enumerate() {
                let x = left + hour as i32 * cw;
                let rect = [(x, y), (x + cw - 1, y + ch - 1)];
                match v {
                    Some(v) => {
                        let t = if max > 0.0 { v / max } else { 0.0 };
                        root.draw(&Rectangle::new(rect, blues(t).filled())).map_err(e)?;
                        let text = if millicores { format!("{:.0}", v * 1000.0) } else { format!("{v:.1}") };
                        let color = if t > 0.55 { WHITE } else { INK };
                        root.draw(&Text::new(text, (x + cw / 2, y + ch / 2), font(11.0, color).pos(center)))
                            .map_err(e)?;
                    }
                    None => root.draw(&Rectangle::new(rect, RGBColor(244, 245, 247).filled())).map_err(e)?,
                }
            }
        }
        let grid_bottom = top + 7 * ch;
        for hour in 0..24 {
            let x = left + hour * cw + cw / 2;
            root.draw(&Text::new(format!("{hour:02}"), (x, grid_bottom + 12), font(12.0, INK).pos(center)))
                .map_err(e)?;
        }
        root.draw(&Text::new(
            format!("hour of day ({tz_name})"),
            (left + 12 * cw, grid_bottom + 34),
            font(13.0, MUTED).pos(center),
        ))
        .map_err(e)?;
        // Colour scale.
        let bx = left + 24 * cw + 26;
        let steps = 42;
        for i in 0..steps {
            let t = 1.0 - f64::from(i) / f64::from(steps - 1);
            let y0 = top + i * (7 * ch) / steps;
            let y1 = top + (i + 1) * (7 * ch) / steps;
            root.draw(&Rectangle::new([(bx, y0), (bx + 16, y1)], blues(t).filled())).map_err(e)?;
        }
        let scale = |v: f64| if millicores { format!("{:.0}m", v * 1000.0) } else { format!("{v:.1}") };
        let left_mid = Pos::new(HPos::Left, VPos::Center);
        root.draw(&Text::new(scale(max), (bx + 22, top + 6), font(12.0, INK).pos(left_mid))).map_err(e)?;
        root.draw(&Text::new(scale(max / 2.0), (bx + 22, top + 7 * ch / 2), font(12.0, INK).pos(left_mid)))
            .map_err(e)?;
        root.draw(&Text::new(scale(0.0), (bx + 22, grid_bottom - 6), font(12.0, INK).pos(left_mid))).map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}
