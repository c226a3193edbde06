//! Two drawing surfaces with the same primitives: a raster [`Canvas`] (anti-aliased lines and
//! fills, the built-in bitmap font, written as PNG) and an [`Svg`] document. Coordinates are
//! pixels from the top-left corner.

use super::font;
use std::fmt::Write as _;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const GREY: Rgb = Rgb(128, 128, 128);
    pub const LIGHT: Rgb = Rgb(225, 225, 225);

    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Matplotlib's `tab10`: distinct colours for up to ten series, then again.
pub const PALETTE: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

/// Where a text's `x` is: its left end, middle or right end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// Text sizes, in font pixels per pixel of the built-in 5x7 font.
pub const SMALL: usize = 1;
pub const NORMAL: usize = 2;

/// The width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: usize) -> f64 {
    let n = text.chars().count();
    (n * font::CELL_WIDTH * scale).saturating_sub(scale) as f64
}

/// The height in pixels of a line of text at `scale` (capitals, without descenders).
pub fn text_height(scale: usize) -> f64 {
    (7 * scale) as f64
}

/// What a chart draws on.
pub trait Surface {
    fn size(&self) -> (f64, f64);
    fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb, alpha: f64);
    /// An open polyline of `width` pixels; `dashed` for reference lines.
    fn polyline(&mut self, points: &[(f64, f64)], color: Rgb, width: f64, dashed: bool);
    /// A filled polygon (even-odd rule).
    fn fill_polygon(&mut self, points: &[(f64, f64)], color: Rgb, alpha: f64);
    fn dot(&mut self, x: f64, y: f64, radius: f64, color: Rgb, alpha: f64);
    /// One line of text, vertically centred on `y`; `vertical` turns it a quarter turn
    /// anticlockwise around (`x`, `y`) (a y-axis label).
    fn text(&mut self, x: f64, y: f64, text: &str, scale: usize, anchor: Anchor, vertical: bool);
    /// Marks what follows, up to [`Surface::end_group`], as one part of the picture (an SVG
    /// group with this class, so that a reader or a test can find the curves).
    fn begin_group(&mut self, _class: &str) {}
    fn end_group(&mut self) {}
}

/// An RGB raster image.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    /// Row-major RGB bytes.
    pub pixels: Vec<u8>,
    coverage: Vec<f32>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![255; width * height * 3],
            coverage: Vec::new(),
        }
    }

    fn blend(&mut self, x: usize, y: usize, color: Rgb, alpha: f32) {
        if x >= self.width || y >= self.height || alpha <= 0.0 {
            return;
        }
        let a = alpha.min(1.0);
        let at = (y * self.width + x) * 3;
        for (k, c) in [color.0, color.1, color.2].into_iter().enumerate() {
            let old = self.pixels[at + k] as f32;
            self.pixels[at + k] = (old + (c as f32 - old) * a).round() as u8;
        }
    }

    /// Blends the coverage accumulated in `self.coverage` over `rows` and clears it.
    fn apply_coverage(&mut self, y0: usize, y1: usize, color: Rgb, alpha: f32) {
        for y in y0..y1.min(self.height) {
            for x in 0..self.width {
                let c = self.coverage[y * self.width + x];
                if c > 0.0 {
                    self.coverage[y * self.width + x] = 0.0;
                    self.blend(x, y, color, c.min(1.0) * alpha);
                }
            }
        }
    }

    fn ensure_coverage(&mut self) {
        if self.coverage.len() != self.width * self.height {
            self.coverage = vec![0.0; self.width * self.height];
        }
    }

    /// Adds the coverage of a round-capped segment of half-width `r` (maximum, not sum, so that
    /// joints are not drawn twice).
    fn cover_segment(&mut self, a: (f64, f64), b: (f64, f64), r: f64) -> (usize, usize) {
        let (w, h) = (self.width as f64, self.height as f64);
        let x0 = (a.0.min(b.0) - r - 1.0).floor().clamp(0.0, w) as usize;
        let x1 = (a.0.max(b.0) + r + 1.0).ceil().clamp(0.0, w) as usize;
        let y0 = (a.1.min(b.1) - r - 1.0).floor().clamp(0.0, h) as usize;
        let y1 = (a.1.max(b.1) + r + 1.0).ceil().clamp(0.0, h) as usize;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        for y in y0..y1 {
            for x in x0..x1 {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 {
                    (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (a.0 + t * dx - px, a.1 + t * dy - py);
                let d = (ex * ex + ey * ey).sqrt();
                let c = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                let cell = &mut self.coverage[y * self.width + x];
                *cell = cell.max(c);
            }
        }
        (y0, y1)
    }

    /// The image as PNG bytes.
    pub fn png(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }
}

impl Surface for Canvas {
    fn size(&self) -> (f64, f64) {
        (self.width as f64, self.height as f64)
    }

    fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb, alpha: f64) {
        let x0 = x.round().max(0.0) as usize;
        let y0 = y.round().max(0.0) as usize;
        let x1 = ((x + w).round().max(0.0) as usize).min(self.width);
        let y1 = ((y + h).round().max(0.0) as usize).min(self.height);
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.blend(xx, yy, color, alpha as f32);
            }
        }
    }

    fn polyline(&mut self, points: &[(f64, f64)], color: Rgb, width: f64, dashed: bool) {
        if points.is_empty() {
            return;
        }
        self.ensure_coverage();
        let r = width / 2.0;
        let (mut y0, mut y1) = (self.height, 0);
        let mut cover = |canvas: &mut Canvas, a, b| {
            let (s, e) = canvas.cover_segment(a, b, r);
            y0 = y0.min(s);
            y1 = y1.max(e);
        };
        if points.len() == 1 {
            cover(self, points[0], points[0]);
        }
        let (dash, gap) = (8.0, 5.0);
        let mut phase = 0.0f64;
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if !dashed {
                cover(self, a, b);
                continue;
            }
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let mut at = 0.0;
            while at < len {
                let in_dash = phase < dash;
                let step = if in_dash {
                    dash - phase
                } else {
                    dash + gap - phase
                }
                .min(len - at);
                if in_dash {
                    let p = |t: f64| (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
                    cover(self, p(at), p(at + step));
                }
                at += step;
                phase = (phase + step) % (dash + gap);
            }
        }
        self.apply_coverage(y0, y1, color, 1.0);
    }

    fn fill_polygon(&mut self, points: &[(f64, f64)], color: Rgb, alpha: f64) {
        if points.len() < 3 {
            return;
        }
        self.ensure_coverage();
        const SUB: usize = 4;
        let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let ymax = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let y0 = ymin.floor().clamp(0.0, self.height as f64) as usize;
        let y1 = ymax.ceil().clamp(0.0, self.height as f64) as usize;
        let width = self.width as f64;
        let mut crossings = Vec::new();
        for y in y0..y1 {
            for k in 0..SUB {
                let sy = y as f64 + (k as f64 + 0.5) / SUB as f64;
                crossings.clear();
                for i in 0..points.len() {
                    let (a, b) = (points[i], points[(i + 1) % points.len()]);
                    if (a.1 <= sy) != (b.1 <= sy) {
                        crossings.push(a.0 + (sy - a.1) / (b.1 - a.1) * (b.0 - a.0));
                    }
                }
                crossings.sort_by(f64::total_cmp);
                for span in crossings.chunks_exact(2) {
                    let (l, r) = (span[0].clamp(0.0, width), span[1].clamp(0.0, width));
                    if r <= l {
                        continue;
                    }
                    let row = y * self.width;
                    let (lf, rf) = (l.floor() as usize, r.floor() as usize);
                    let weight = 1.0 / SUB as f32;
                    if lf == rf {
                        self.coverage[row + lf.min(self.width - 1)] += weight * (r - l) as f32;
                        continue;
                    }
                    self.coverage[row + lf] += weight * (lf as f64 + 1.0 - l) as f32;
                    for x in lf + 1..rf {
                        self.coverage[row + x] += weight;
                    }
                    if rf < self.width {
                        self.coverage[row + rf] += weight * (r - rf as f64) as f32;
                    }
                }
            }
        }
        self.apply_coverage(y0, y1, color, alpha as f32);
    }

    fn dot(&mut self, x: f64, y: f64, radius: f64, color: Rgb, alpha: f64) {
        let x0 = (x - radius - 1.0).floor().max(0.0) as usize;
        let y0 = (y - radius - 1.0).floor().max(0.0) as usize;
        let x1 = (x + radius + 1.0).ceil().max(0.0) as usize;
        let y1 = (y + radius + 1.0).ceil().max(0.0) as usize;
        for yy in y0..y1.min(self.height) {
            for xx in x0..x1.min(self.width) {
                let d = ((xx as f64 + 0.5 - x).powi(2) + (yy as f64 + 0.5 - y).powi(2)).sqrt();
                let c = (radius + 0.5 - d).clamp(0.0, 1.0);
                self.blend(xx, yy, color, (c * alpha) as f32);
            }
        }
    }

    fn text(&mut self, x: f64, y: f64, text: &str, scale: usize, anchor: Anchor, vertical: bool) {
        let width = text_width(text, scale);
        let start = match anchor {
            Anchor::Start => 0.0,
            Anchor::Middle => -width / 2.0,
            Anchor::End => -width,
        };
        let top = -text_height(scale) / 2.0;
        for (i, c) in text.chars().enumerate() {
            for col in 0..5 {
                for row in 0..8 {
                    if !font::pixel(c, col, row) {
                        continue;
                    }
                    // Offsets along the text and down from its top, in pixels.
                    let along = start + ((i * font::CELL_WIDTH + col) * scale) as f64;
                    let down = top + (row * scale) as f64;
                    let (px, py) = if vertical {
                        (x + down, y - along - scale as f64)
                    } else {
                        (x + along, y + down)
                    };
                    self.fill_rect(
                        px.round(),
                        py.round(),
                        scale as f64,
                        scale as f64,
                        Rgb::BLACK,
                        1.0,
                    );
                }
            }
        }
    }
}

/// An SVG document built up primitive by primitive.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub fn new(width: usize, height: usize) -> Svg {
        Svg {
            width: width as f64,
            height: height as f64,
            body: String::new(),
        }
    }

    /// The finished document.
    pub fn finish(&self) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{}</svg>\n",
            self.body,
            w = self.width,
            h = self.height
        )
    }

    fn points(points: &[(f64, f64)]) -> String {
        let mut s = String::with_capacity(points.len() * 14);
        for (x, y) in points {
            let _ = write!(s, "{x:.1},{y:.1} ");
        }
        s.pop();
        s
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Surface for Svg {
    fn size(&self) -> (f64, f64) {
        (self.width, self.height)
    }

    fn begin_group(&mut self, class: &str) {
        let _ = writeln!(self.body, "<g class=\"{}\">", escape(class));
    }

    fn end_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb, alpha: f64) {
        let _ = writeln!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\" fill-opacity=\"{alpha:.3}\"/>",
            color.hex()
        );
    }

    fn polyline(&mut self, points: &[(f64, f64)], color: Rgb, width: f64, dashed: bool) {
        let dash = if dashed {
            " stroke-dasharray=\"8,5\""
        } else {
            ""
        };
        let _ = writeln!(
            self.body,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash}/>",
            Svg::points(points),
            color.hex()
        );
    }

    fn fill_polygon(&mut self, points: &[(f64, f64)], color: Rgb, alpha: f64) {
        let _ = writeln!(
            self.body,
            "<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"{alpha:.3}\" stroke=\"none\"/>",
            Svg::points(points),
            color.hex()
        );
    }

    fn dot(&mut self, x: f64, y: f64, radius: f64, color: Rgb, alpha: f64) {
        let _ = writeln!(
            self.body,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius}\" fill=\"{}\" fill-opacity=\"{alpha:.3}\"/>",
            color.hex()
        );
    }

    fn text(&mut self, x: f64, y: f64, text: &str, scale: usize, anchor: Anchor, vertical: bool) {
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        // A monospace font of size 10 * scale is about as wide as the bitmap font's cells.
        let rotate = if vertical {
            format!(" transform=\"rotate(-90 {x:.1} {y:.1})\"")
        } else {
            String::new()
        };
        let _ = writeln!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"{}\" text-anchor=\"{anchor}\" dominant-baseline=\"central\"{rotate}>{}</text>",
            10 * scale,
            escape(text)
        );
    }
}
