//! Pictures of evaluation episodes: an animated GIF (`engram eval --record out.gif`) or one PNG
//! per step (`--frames DIR`).
//!
//! Classic control renders RGB frames; toy text renders text, drawn here as a grid of coloured
//! cells (one cell per character, the agent's highlighted cell in its terminal colour).
//!
//! GIFs are kept small without quantising: classic control draws with a handful of flat
//! colours, so one global palette holds them exactly (past 255 colours a pixel takes the
//! nearest one), and each frame stores only the rectangle that changed since the previous
//! one, its unchanged pixels transparent (long runs that LZW compresses to almost nothing).

use engram_env::{Env, Render, RenderMode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Side of a toy-text cell in pixels.
const CELL: usize = 16;

/// An RGB frame, `height x width x 3` bytes, row-major.
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// The environment's picture now: its RGB render, or its text render drawn as a grid.
pub fn frame_of(env: &dyn Env, env_id: &str) -> Result<Frame, String> {
    match env.render(RenderMode::Rgb) {
        Ok(Render::Rgb {
            width,
            height,
            pixels,
        }) => {
            return Ok(Frame {
                width,
                height,
                pixels,
            })
        }
        Ok(Render::Text(text)) => return Ok(text_grid(&text)),
        Err(_) => {}
    }
    match env.render(RenderMode::Text) {
        Ok(Render::Text(text)) => Ok(text_grid(&text)),
        Ok(Render::Rgb {
            width,
            height,
            pixels,
        }) => Ok(Frame {
            width,
            height,
            pixels,
        }),
        Err(e) => Err(format!(
            "{env_id} cannot render ({e}): --record and --frames need an environment with a \
             picture (classic control, toy text); `engram envs` lists them"
        )),
    }
}

/// The terminal colour of an ANSI colour digit (30-37 foreground, 40-47 background).
fn ansi_colour(digit: u32) -> [u8; 3] {
    match digit {
        0 => [90, 90, 90],
        1 => [220, 50, 47],
        2 => [60, 180, 75],
        3 => [240, 200, 40],
        4 => [50, 110, 220],
        5 => [200, 60, 200],
        6 => [40, 190, 200],
        _ => [250, 250, 250],
    }
}

/// A character's cell colour: walls dark, blanks light, each letter its own colour.
fn char_colour(c: char) -> [u8; 3] {
    const LETTERS: [[u8; 3]; 8] = [
        [141, 211, 199],
        [190, 186, 218],
        [128, 177, 211],
        [253, 180, 98],
        [179, 222, 105],
        [252, 205, 229],
        [188, 128, 189],
        [204, 235, 197],
    ];
    match c {
        ' ' | '.' | ':' => [235, 235, 235],
        '|' | '+' | '-' | '#' | '=' => [70, 70, 70],
        c if c.is_ascii_alphanumeric() => LETTERS[(c as usize) % LETTERS.len()],
        _ => [160, 160, 160],
    }
}

/// Draws a text render: one cell per character; characters inside an ANSI colour sequence
/// (the agent, a passenger) take that colour. Blank lines and the action label Gymnasium
/// prints above the map (`  (Left)`) are left out, so every frame has the map's size.
pub fn text_grid(text: &str) -> Frame {
    let mut rows: Vec<Vec<[u8; 3]>> = Vec::new();
    for line in text.lines() {
        let mut cells = Vec::new();
        let mut highlight: Option<[u8; 3]> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' && chars.peek() == Some(&'[') {
                chars.next();
                let mut code = String::new();
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                    code.push(d);
                }
                highlight = None;
                for part in code.split(';').filter_map(|p| p.parse::<u32>().ok()) {
                    match part {
                        30..=37 if highlight.is_none() => highlight = Some(ansi_colour(part - 30)),
                        40..=47 => highlight = Some(ansi_colour(part - 40)),
                        _ => {}
                    }
                }
                continue;
            }
            cells.push(highlight.unwrap_or_else(|| char_colour(c)));
        }
        let trimmed = line.trim();
        let label = trimmed.starts_with('(') && trimmed.ends_with(')');
        if !cells.is_empty() && !trimmed.is_empty() && !label {
            rows.push(cells);
        }
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let (width, height) = (cols * CELL, rows.len().max(1) * CELL);
    let mut pixels = vec![255u8; width * height * 3];
    for (r, row) in rows.iter().enumerate() {
        for (c, colour) in row.iter().enumerate() {
            for y in r * CELL + 1..(r + 1) * CELL {
                for x in c * CELL + 1..(c + 1) * CELL {
                    let i = (y * width + x) * 3;
                    pixels[i..i + 3].copy_from_slice(colour);
                }
            }
        }
    }
    Frame {
        width,
        height,
        pixels,
    }
}

/// The palette index of transparent pixels (unchanged since the previous frame).
const TRANSPARENT: u8 = 255;

/// Collects frames as palette indices, each the changed rectangle only; writes the GIF at the
/// end (the global palette is known only then).
pub struct GifRecorder {
    width: usize,
    height: usize,
    delay: u16,
    palette: Vec<[u8; 3]>,
    lookup: HashMap<[u8; 3], u8>,
    previous: Vec<u8>,
    frames: Vec<gif::Frame<'static>>,
}

impl GifRecorder {
    /// `fps`: frames per second of the animation (GIF delays are whole hundredths).
    pub fn new(fps: f64) -> GifRecorder {
        // Browsers play delays under 2/100 s as 10/100 s: 50 fps is the fastest that works.
        let delay = (100.0 / fps).round().clamp(2.0, 65535.0) as u16;
        GifRecorder {
            width: 0,
            height: 0,
            delay,
            palette: Vec::new(),
            lookup: HashMap::new(),
            previous: Vec::new(),
            frames: Vec::new(),
        }
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    fn index(&mut self, rgb: [u8; 3]) -> u8 {
        if let Some(&i) = self.lookup.get(&rgb) {
            return i;
        }
        let i = if self.palette.len() < TRANSPARENT as usize {
            self.palette.push(rgb);
            (self.palette.len() - 1) as u8
        } else {
            let distance = |p: &[u8; 3]| {
                (0..3)
                    .map(|k| (p[k] as i32 - rgb[k] as i32).pow(2))
                    .sum::<i32>()
            };
            (0..self.palette.len())
                .min_by_key(|&i| distance(&self.palette[i]))
                .unwrap_or(0) as u8
        };
        self.lookup.insert(rgb, i);
        i
    }

    /// Adds a frame; the first one sets the animation's size (later frames of another size
    /// are cropped or padded with white).
    pub fn push(&mut self, frame: &Frame) {
        if self.frames.is_empty() {
            self.width = frame.width.clamp(1, u16::MAX as usize);
            self.height = frame.height.clamp(1, u16::MAX as usize);
        }
        let (w, h) = (self.width, self.height);
        let mut indices = vec![0u8; w * h];
        let mut last: Option<([u8; 3], u8)> = None;
        for y in 0..h {
            for x in 0..w {
                let rgb = if x < frame.width && y < frame.height {
                    let i = (y * frame.width + x) * 3;
                    [frame.pixels[i], frame.pixels[i + 1], frame.pixels[i + 2]]
                } else {
                    [255, 255, 255]
                };
                // Flat colours come in runs: most pixels repeat the one before.
                let index = match last {
                    Some((c, i)) if c == rgb => i,
                    _ => {
                        let i = self.index(rgb);
                        last = Some((rgb, i));
                        i
                    }
                };
                indices[y * w + x] = index;
            }
        }
        let gif_frame = if self.previous.is_empty() {
            full_frame(w, h, indices.clone())
        } else {
            changed_part(w, h, &self.previous, &indices)
        };
        self.previous = indices;
        let mut gif_frame = gif_frame;
        gif_frame.delay = self.delay;
        gif_frame.dispose = gif::DisposalMethod::Keep;
        self.frames.push(gif_frame);
    }

    /// Holds the last frame of an episode for a second.
    pub fn end_episode(&mut self) {
        if let Some(last) = self.frames.last_mut() {
            last.delay = last.delay.max(100);
        }
    }

    /// Writes the GIF (looping forever). Returns its size in bytes.
    pub fn write(self, path: &Path) -> Result<u64, String> {
        if self.frames.is_empty() {
            return Err("no frames to write".into());
        }
        let mut palette: Vec<u8> = self.palette.iter().flatten().copied().collect();
        palette.resize(256 * 3, 0);
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let out = std::io::BufWriter::new(file);
        let fail = |e: gif::EncodingError| format!("cannot write {}: {e}", path.display());
        let mut encoder = gif::Encoder::new(out, self.width as u16, self.height as u16, &palette)
            .map_err(fail)?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(fail)?;
        for frame in &self.frames {
            encoder.write_frame(frame).map_err(fail)?;
        }
        drop(encoder);
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read back {}: {e}", path.display()))
    }
}

fn full_frame(w: usize, h: usize, buffer: Vec<u8>) -> gif::Frame<'static> {
    gif::Frame {
        width: w as u16,
        height: h as u16,
        buffer: buffer.into(),
        ..gif::Frame::default()
    }
}

/// The rectangle of pixels that changed, unchanged ones transparent; a 1x1 transparent pixel
/// when nothing changed (every step keeps its frame, so the timing stays right).
fn changed_part(w: usize, h: usize, before: &[u8], now: &[u8]) -> gif::Frame<'static> {
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        let row = y * w..(y + 1) * w;
        let (a, b) = (&before[row.clone()], &now[row]);
        if a == b {
            continue;
        }
        let first = a.iter().zip(b).position(|(p, q)| p != q).unwrap_or(0);
        let last = w
            - 1
            - a.iter()
                .rev()
                .zip(b.iter().rev())
                .position(|(p, q)| p != q)
                .unwrap_or(0);
        x0 = x0.min(first);
        x1 = x1.max(last);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 || y0 > y1 {
        return gif::Frame {
            width: 1,
            height: 1,
            buffer: vec![TRANSPARENT].into(),
            transparent: Some(TRANSPARENT),
            ..gif::Frame::default()
        };
    }
    let (fw, fh) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut buffer = Vec::with_capacity(fw * fh);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let i = y * w + x;
            buffer.push(if before[i] == now[i] {
                TRANSPARENT
            } else {
                now[i]
            });
        }
    }
    gif::Frame {
        left: x0 as u16,
        top: y0 as u16,
        width: fw as u16,
        height: fh as u16,
        buffer: buffer.into(),
        transparent: Some(TRANSPARENT),
        ..gif::Frame::default()
    }
}

/// Writes one PNG per step into a folder.
pub struct PngFrames {
    dir: PathBuf,
    pub written: usize,
}

impl PngFrames {
    pub fn new(dir: &Path) -> Result<PngFrames, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(PngFrames {
            dir: dir.to_path_buf(),
            written: 0,
        })
    }

    pub fn write(&mut self, frame: &Frame, episode: usize, step: u64) -> Result<(), String> {
        let path = self.dir.join(format!("ep{episode:03}_{step:05}.png"));
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let fail = |e: png::EncodingError| format!("cannot write {}: {e}", path.display());
        let mut encoder = png::Encoder::new(
            std::io::BufWriter::new(file),
            frame.width as u32,
            frame.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&frame.pixels).map_err(fail)?;
        writer.finish().map_err(fail)?;
        self.written += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays a GIF back (each frame's rectangle drawn over the last, transparent pixels
    /// skipped) into RGB frames.
    fn play_back(path: &Path) -> Vec<Vec<u8>> {
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut decoder = options
            .read_info(std::fs::File::open(path).unwrap())
            .unwrap();
        let palette = decoder.global_palette().unwrap().to_vec();
        let w = decoder.width() as usize;
        let mut canvas = vec![0u8; w * decoder.height() as usize * 3];
        let mut out = Vec::new();
        while let Some(f) = decoder.read_next_frame().unwrap() {
            for y in 0..f.height as usize {
                for x in 0..f.width as usize {
                    let index = f.buffer[y * f.width as usize + x];
                    if Some(index) == f.transparent {
                        continue;
                    }
                    let at = ((f.top as usize + y) * w + f.left as usize + x) * 3;
                    let p = index as usize * 3;
                    canvas[at..at + 3].copy_from_slice(&palette[p..p + 3]);
                }
            }
            out.push(canvas.clone());
        }
        out
    }

    #[test]
    fn a_gif_plays_back_every_frame_exactly() {
        let (width, height) = (7, 5);
        let mut frames = Vec::new();
        for t in 0..4u8 {
            let mut pixels = vec![250u8; width * height * 3];
            // A moving red block; frame 2 repeats frame 1 (nothing changed).
            let x = [1, 3, 3, 5][t as usize];
            for y in 1..3 {
                let i = (y * width + x) * 3;
                pixels[i..i + 3].copy_from_slice(&[200, 10, 10]);
            }
            frames.push(Frame {
                width,
                height,
                pixels,
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gif");
        let mut gif = GifRecorder::new(30.0);
        for f in &frames {
            gif.push(f);
        }
        gif.write(&path).unwrap();
        let played = play_back(&path);
        assert_eq!(played.len(), frames.len());
        for (p, f) in played.iter().zip(&frames) {
            assert_eq!(p, &f.pixels);
        }
    }

    #[test]
    fn text_renders_become_grids_of_the_maps_size() {
        let first = text_grid("\nSFFF\nF\x1b[41mH\x1b[0mFH\n");
        let later = text_grid("  (Right)\nSFFF\nFHFH\n");
        assert_eq!((first.width, first.height), (4 * CELL, 2 * CELL));
        assert_eq!((later.width, later.height), (first.width, first.height));
        // The highlighted cell is red, its neighbours keep their own colour.
        let at = |f: &Frame, col: usize, row: usize| {
            let i = ((row * CELL + CELL / 2) * f.width + col * CELL + CELL / 2) * 3;
            [f.pixels[i], f.pixels[i + 1], f.pixels[i + 2]]
        };
        assert_eq!(at(&first, 1, 1), ansi_colour(1));
        assert_eq!(at(&later, 1, 1), char_colour('H'));
        assert_eq!(at(&first, 0, 1), char_colour('F'));
    }
}
