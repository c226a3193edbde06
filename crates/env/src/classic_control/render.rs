//! A tiny software rasteriser for classic control's `rgb_array` frames: filled polygons,
//! circles and lines on an RGB canvas (not pixel-identical to pygame, but the same scenes).

use crate::env::Render;

/// An RGB image, row-major, `height x width x 3`; coordinates have y pointing down.
#[derive(Clone, Debug)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&background);
        }
        Canvas {
            width,
            height,
            pixels,
        }
    }

    #[inline]
    pub fn put(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Fills a simple polygon (even-odd rule, pixel centres at `+0.5`).
    pub fn fill_polygon(&mut self, points: &[(f64, f64)], color: [u8; 3]) {
        if points.len() < 3 {
            return;
        }
        let ymin = points
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0) as i64;
        let ymax = points
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil()
            .min(self.height as f64) as i64;
        let mut xs: Vec<f64> = Vec::with_capacity(points.len());
        for y in ymin..ymax {
            let yc = y as f64 + 0.5;
            xs.clear();
            for i in 0..points.len() {
                let (x0, y0) = points[i];
                let (x1, y1) = points[(i + 1) % points.len()];
                if (y0 <= yc && y1 > yc) || (y1 <= yc && y0 > yc) {
                    xs.push(x0 + (yc - y0) / (y1 - y0) * (x1 - x0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let start = (pair[0] - 0.5).ceil().max(0.0) as i64;
                let end = (pair[1] - 0.5).floor().min(self.width as f64 - 1.0) as i64;
                for x in start..=end {
                    self.put(x, y, color);
                }
            }
        }
    }

    pub fn fill_circle(&mut self, cx: f64, cy: f64, radius: f64, color: [u8; 3]) {
        let r2 = radius * radius;
        let (y0, y1) = ((cy - radius).floor() as i64, (cy + radius).ceil() as i64);
        let (x0, x1) = ((cx - radius).floor() as i64, (cx + radius).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx * dx + dy * dy <= r2 {
                    self.put(x, y, color);
                }
            }
        }
    }

    /// A line of the given thickness, drawn as a filled quadrilateral.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), thickness: f64, color: [u8; 3]) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 {
            self.fill_circle(a.0, a.1, thickness / 2.0, color);
            return;
        }
        let (nx, ny) = (-dy / len * thickness / 2.0, dx / len * thickness / 2.0);
        self.fill_polygon(
            &[
                (a.0 + nx, a.1 + ny),
                (b.0 + nx, b.1 + ny),
                (b.0 - nx, b.1 - ny),
                (a.0 - nx, a.1 - ny),
            ],
            color,
        );
    }

    /// A full-width horizontal line at row `y`.
    pub fn hline(&mut self, y: f64, color: [u8; 3]) {
        let y = y.floor() as i64;
        for x in 0..self.width as i64 {
            self.put(x, y, color);
        }
    }

    /// A polyline through `points`, one pixel wide.
    pub fn polyline(&mut self, points: &[(f64, f64)], color: [u8; 3]) {
        for w in points.windows(2) {
            self.line(w[0], w[1], 1.5, color);
        }
    }

    pub fn into_render(self) -> Render {
        Render::Rgb {
            width: self.width,
            height: self.height,
            pixels: self.pixels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_fills_inside_only() {
        let mut c = Canvas::new(20, 20, [255, 255, 255]);
        c.fill_polygon(
            &[(5.0, 5.0), (15.0, 5.0), (15.0, 15.0), (5.0, 15.0)],
            [0, 0, 0],
        );
        assert_eq!(c.get(10, 10), [0, 0, 0]);
        assert_eq!(c.get(5, 5), [0, 0, 0]);
        assert_eq!(c.get(14, 14), [0, 0, 0]);
        assert_eq!(c.get(15, 15), [255, 255, 255]);
        assert_eq!(c.get(2, 10), [255, 255, 255]);
    }

    #[test]
    fn circle_is_round() {
        let mut c = Canvas::new(20, 20, [255, 255, 255]);
        c.fill_circle(10.0, 10.0, 5.0, [1, 2, 3]);
        assert_eq!(c.get(10, 10), [1, 2, 3]);
        assert_eq!(c.get(10, 6), [1, 2, 3]);
        assert_eq!(c.get(5, 5), [255, 255, 255]);
    }
}
