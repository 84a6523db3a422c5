//! Chart text: the bundled DejaVu Sans registered with plotters (for SVG, where the browser
//! lays text out), and `Label`, text drawn glyph by glyph with ab_glyph on bitmaps.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

const FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Text drawn with ab_glyph directly, honouring each glyph's bearings (plotters' own
/// ab_glyph layout drops them, which spaces letters unevenly). Bitmap charts only: on SVG
/// it would be pixels, so the heat map keeps plotters' `Text` and lets the browser lay out.
pub struct Label {
    pub text: String,
    pub at: (i32, i32),
    pub size: f32,
    pub color: RGBColor,
    pub h: HPos,
    pub v: VPos,
    /// Rotated to read bottom to top (y-axis descriptions).
    pub vertical: bool,
}

fn face() -> &'static ab_glyph::FontRef<'static> {
    static FACE: std::sync::OnceLock<ab_glyph::FontRef<'static>> = std::sync::OnceLock::new();
    FACE.get_or_init(|| ab_glyph::FontRef::try_from_slice(FONT).expect("bundled font is valid"))
}

/// Advance width of `text` at `size` px.
pub(crate) fn text_width(text: &str, size: f32) -> f32 {
    use ab_glyph::{Font, ScaleFont};
    let scaled = face().as_scaled(size);
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    width
}

impl Label {
    pub(super) fn new(text: impl Into<String>, at: (i32, i32), size: f32, color: RGBColor, h: HPos, v: VPos) -> Self {
        Self { text: text.into(), at, size, color, h, v, vertical: false }
    }

    /// Pixels `(x, y, coverage)` of the text anchored at `(x0, y0)`.
    pub(super) fn pixels(&self, (x0, y0): (i32, i32)) -> Vec<(i32, i32, f32)> {
        use ab_glyph::{Font, ScaleFont};
        let font = face();
        let scaled = font.as_scaled(self.size);
        let width = text_width(&self.text, self.size);
        let cap = 0.626 * self.size; // DejaVu Sans cap height for a px scale
        let start = match self.h {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let baseline = match self.v {
            VPos::Top => scaled.ascent(),
            VPos::Center => cap / 2.0,
            VPos::Bottom => scaled.descent(),
        };
        let mut out = Vec::new();
        let mut caret = start;
        let mut prev = None;
        for c in self.text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(self.size, ab_glyph::point(caret, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let (u, w) = ((b.min.x + gx as f32).round() as i32, (b.min.y + gy as f32).round() as i32);
                    let (x, y) = if self.vertical { (x0 + w, y0 - u) } else { (x0 + u, y0 + w) };
                    out.push((x, y, cov));
                });
            }
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        out
    }
}

impl<'a> plotters::element::PointCollection<'a, (i32, i32)> for &'a Label {
    type Point = &'a (i32, i32);
    type IntoIter = std::iter::Once<&'a (i32, i32)>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> plotters::element::Drawable<DB> for Label {
    fn draw<I: Iterator<Item = plotters_backend::BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), plotters_backend::DrawingErrorKind<DB::ErrorType>> {
        let Some(at) = pos.next() else { return Ok(()) };
        for (x, y, cov) in self.pixels(at) {
            if cov > 0.01 {
                backend.draw_pixel((x, y), self.color.mix(f64::from(cov.min(1.0))).to_backend_color())?;
            }
        }
        Ok(())
    }
}

pub(super) fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("bundled font assets/fonts/DejaVuSans.ttf is valid"));
    });
}

pub(super) fn font(size: f64, color: RGBColor) -> TextStyle<'static> {
    let mut style = TextStyle::from((FAMILY, size).into_font());
    style.color = color.to_backend_color();
    style
}
