//! Line charts with axes, ticks, a legend, shaded bands and dashed reference lines, drawn on
//! any [`Surface`]; and the [`Frame`] (plot area and axes) other pictures reuse.

use super::surface::{text_width, Anchor, Canvas, Rgb, Surface, Svg, NORMAL, PALETTE};
use std::path::Path;

/// One curve: its points and, optionally, a shaded band `(x, low, high)` around it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

/// A horizontal reference line (an environment's reward threshold).
#[derive(Clone, Debug, PartialEq)]
pub struct HLine {
    pub y: f64,
    pub label: String,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub hlines: Vec<HLine>,
    pub width: usize,
    pub height: usize,
    /// Start the horizontal axis at 0 (steps, episodes and time count from the run's start).
    pub x_from_zero: bool,
    /// Light dashed vertical lines (episode boundaries).
    pub vlines: Vec<f64>,
}

impl Chart {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            hlines: Vec::new(),
            width: 960,
            height: 600,
            x_from_zero: true,
            vlines: Vec::new(),
        }
    }

    /// Draws the chart on the whole of `surface`.
    pub fn draw(&self, surface: &mut dyn Surface) {
        let (w, h) = surface.size();
        self.draw_in(surface, (0.0, 0.0, w, h));
    }

    /// Draws the chart in the region (`left`, `top`, `width`, `height`) of `surface`.
    pub fn draw_in(&self, surface: &mut dyn Surface, region: (f64, f64, f64, f64)) {
        let xs = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.0)
                .chain(s.band.iter().map(|b| b.0))
        });
        let ys = self
            .series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.1)
                    .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
            })
            .chain(self.hlines.iter().map(|h| h.y));
        let zero = self.x_from_zero.then_some(0.0);
        let (left, top, w, h) = region;
        let frame = Frame::within(
            left,
            top,
            w,
            h,
            range(xs.chain(zero), false),
            range(ys, true),
        );
        frame.draw_axes(surface, &self.title, &self.x_label, &self.y_label);
        for &x in &self.vlines {
            let (a, b) = (frame.map(x, frame.y.0), frame.map(x, frame.y.1));
            surface.polyline(&[a, b], Rgb::GREY, 1.0, true);
        }
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            if s.band.len() > 1 {
                let mut outline: Vec<(f64, f64)> =
                    s.band.iter().map(|&(x, _, hi)| frame.map(x, hi)).collect();
                outline.extend(s.band.iter().rev().map(|&(x, lo, _)| frame.map(x, lo)));
                surface.begin_group("band");
                surface.fill_polygon(&outline, color, 0.25);
                surface.end_group();
            }
        }
        for h in &self.hlines {
            let (a, b) = (frame.map(frame.x.0, h.y), frame.map(frame.x.1, h.y));
            surface.begin_group("threshold");
            surface.polyline(&[a, b], Rgb::GREY, 2.0, true);
            surface.end_group();
        }
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| frame.map(x, y)).collect();
            surface.begin_group("series");
            surface.polyline(&points, color, 2.0, false);
            surface.end_group();
        }
        let mut entries: Vec<(String, Rgb, bool)> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.label.is_empty())
            .map(|(k, s)| (s.label.clone(), PALETTE[k % PALETTE.len()], false))
            .collect();
        entries.extend(
            self.hlines
                .iter()
                .map(|h| (h.label.clone(), Rgb::GREY, true)),
        );
        let points: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|&(x, y)| frame.map(x, y)))
            .collect();
        frame.draw_legend(surface, &entries, &points);
    }

    pub fn png(&self) -> Result<Vec<u8>, String> {
        let mut canvas = Canvas::new(self.width, self.height);
        self.draw(&mut canvas);
        canvas.png()
    }

    pub fn svg(&self) -> String {
        let mut svg = Svg::new(self.width, self.height);
        self.draw(&mut svg);
        svg.finish()
    }

    /// Writes the chart as PNG or SVG, as the file name's extension says.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        write_picture(path, || self.png(), || self.svg())
    }
}

/// Writes a picture as PNG or SVG, as `path`'s extension says; other extensions are refused.
pub fn write_picture(
    path: &Path,
    png: impl FnOnce() -> Result<Vec<u8>, String>,
    svg: impl FnOnce() -> String,
) -> Result<(), String> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let bytes = match ext.as_deref() {
        Some("png") => png()?,
        Some("svg") => svg().into_bytes(),
        _ => {
            return Err(format!(
                "{}: give a file name ending in .png or .svg",
                path.display()
            ))
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    crate::runtime::checkpoint::write_atomic(path, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The smallest and largest of `values` (finite ones), widened when they coincide; `pad`
/// adds 5% on both sides.
pub fn range(values: impl Iterator<Item = f64>, pad: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        let d = hi.abs().max(1.0) * 0.5;
        return (lo - d, hi + d);
    }
    if pad {
        let d = (hi - lo) * 0.05;
        (lo - d, hi + d)
    } else {
        (lo, hi)
    }
}

/// Round tick positions covering `(lo, hi)`, about `target` of them: multiples of 1, 2 or 5
/// times a power of ten. Returns the ticks and their spacing.
pub fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let raw = (hi - lo) / target.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, step)
}

/// A tick label: `250k`, `1.5M` for large round numbers, else as many decimals as the
/// spacing needs.
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = |s: f64| (-s.log10().floor()).max(0.0) as usize;
    if v == 0.0 {
        return "0".into();
    }
    for (unit, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if step >= unit / 10.0 && v.abs() >= unit {
            return format!("{:.*}{suffix}", decimals(step / unit), v / unit);
        }
    }
    format!("{:.*}", decimals(step), v)
}

/// A plot area inside a picture and the data ranges it shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    /// The plot area of a whole surface: margins for the title, tick labels and axis labels.
    pub fn new(surface: &dyn Surface, x: (f64, f64), y: (f64, f64)) -> Frame {
        let (w, h) = surface.size();
        Frame::within(0.0, 0.0, w, h, x, y)
    }

    /// The plot area of the region (`left`, `top`, `w`, `h`) of a picture.
    pub fn within(left: f64, top: f64, w: f64, h: f64, x: (f64, f64), y: (f64, f64)) -> Frame {
        let (ml, mr, mt, mb) = (100.0, 24.0, 44.0, 64.0);
        Frame {
            left: left + ml,
            top: top + mt,
            width: (w - ml - mr).max(10.0),
            height: (h - mt - mb).max(10.0),
            x,
            y,
        }
    }

    /// Pixel position of data point (`x`, `y`).
    pub fn map(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            self.left + fx * self.width,
            self.top + (1.0 - fy) * self.height,
        )
    }

    /// Grid, box, ticks with labels, title and axis labels.
    pub fn draw_axes(&self, s: &mut dyn Surface, title: &str, x_label: &str, y_label: &str) {
        let (xt, xstep) = ticks(self.x.0, self.x.1, 6);
        let (yt, ystep) = ticks(self.y.0, self.y.1, 6);
        let (l, t, w, h) = (self.left, self.top, self.width, self.height);
        for &x in &xt {
            let (px, _) = self.map(x, self.y.0);
            s.polyline(&[(px, t), (px, t + h)], Rgb::LIGHT, 1.0, false);
            s.text(
                px,
                t + h + 16.0,
                &tick_label(x, xstep),
                NORMAL,
                Anchor::Middle,
                false,
            );
        }
        for &y in &yt {
            let (_, py) = self.map(self.x.0, y);
            s.polyline(&[(l, py), (l + w, py)], Rgb::LIGHT, 1.0, false);
            s.text(
                l - 8.0,
                py,
                &tick_label(y, ystep),
                NORMAL,
                Anchor::End,
                false,
            );
        }
        s.polyline(
            &[(l, t), (l + w, t), (l + w, t + h), (l, t + h), (l, t)],
            Rgb::BLACK,
            1.0,
            false,
        );
        s.text(l + w / 2.0, t - 22.0, title, NORMAL, Anchor::Middle, false);
        s.text(
            l + w / 2.0,
            t + h + 44.0,
            x_label,
            NORMAL,
            Anchor::Middle,
            false,
        );
        s.text(l - 80.0, t + h / 2.0, y_label, NORMAL, Anchor::Middle, true);
    }

    /// A legend box in the corner of the plot area that hides the fewest of `points`.
    pub fn draw_legend(
        &self,
        s: &mut dyn Surface,
        entries: &[(String, Rgb, bool)],
        points: &[(f64, f64)],
    ) {
        if entries.is_empty() {
            return;
        }
        let line = 22.0;
        let bw = entries
            .iter()
            .map(|e| text_width(&e.0, NORMAL))
            .fold(0.0, f64::max)
            + 52.0;
        let bh = entries.len() as f64 * line + 10.0;
        let (l, t, w, h) = (
            self.left + 8.0,
            self.top + 8.0,
            self.width - 16.0,
            self.height - 16.0,
        );
        let corners = [
            (l, t),
            (l + w - bw, t),
            (l, t + h - bh),
            (l + w - bw, t + h - bh),
        ];
        let hidden = |&(x, y): &(f64, f64)| {
            points
                .iter()
                .filter(|p| p.0 >= x && p.0 <= x + bw && p.1 >= y && p.1 <= y + bh)
                .count()
        };
        let (x, y) = corners
            .iter()
            .copied()
            .min_by_key(hidden)
            .unwrap_or(corners[0]);
        s.fill_rect(x, y, bw, bh, Rgb::WHITE, 0.85);
        s.polyline(
            &[(x, y), (x + bw, y), (x + bw, y + bh), (x, y + bh), (x, y)],
            Rgb::LIGHT,
            1.0,
            false,
        );
        for (k, (label, color, dashed)) in entries.iter().enumerate() {
            let cy = y + 5.0 + line * (k as f64 + 0.5);
            s.polyline(&[(x + 8.0, cy), (x + 36.0, cy)], *color, 3.0, *dashed);
            s.text(x + 44.0, cy, label, NORMAL, Anchor::Start, false);
        }
    }
}
