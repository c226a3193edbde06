//! `engram inspect`: what a trained agent sees, chooses and remembers, step by step.
//!
//! Plays greedy episodes (the evaluation starts of `engram eval`) and records per step the
//! observation, the action, the reward, the action probabilities (a Gaussian policy: its
//! means), the value and, for recurrent cores, the hidden state, the LSTM cell and every gate
//! after its non-linearity (LSTM `i f g o`, GRU `r z n`), exactly as the acting step computed
//! them ([`engram_nn::Lstm::step_recording`]). Pictures: the hidden units over time as a
//! heatmap with the episodes' boundaries and rewards marked; the gate saturation of Karpathy,
//! Johnson & Fei-Fei, *Visualizing and Understanding Recurrent Networks* (2015), Fig. 3: per
//! unit, the fraction of steps a sigmoid gate is left-saturated (< 0.1) against the fraction it
//! is right-saturated (> 0.9); and the value and action probabilities over time.

use crate::agent::{step_env, ActionKind, StepScratch};
use crate::error::TrainError;
use crate::play::Loaded;
use crate::plot::chart::Frame;
use crate::plot::surface::{Anchor, Canvas, Rgb, Surface, Svg, NORMAL, PALETTE};
use crate::plot::{Chart, Series};
use crate::runtime::evaluator::{eval_seed, MAX_EVAL_EPISODE_STEPS, NORMALIZE_CLIP, NORMALIZE_EPS};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One step of one episode.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub episode: usize,
    /// Step within the episode, from 0.
    pub t: u64,
    /// The observation acted on (normalised when the run normalised observations).
    pub obs: Vec<f32>,
    pub action: Vec<f32>,
    pub reward: f64,
    /// Action probabilities (Gaussian policies: the means).
    pub policy: Vec<f32>,
    pub value: Option<f32>,
    /// The core's rows after this step, in [`Recording::core_names`] order.
    pub core: Vec<Vec<f32>>,
}

/// Everything [`record`] saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub env: String,
    /// `probability` (discrete actions) or `mean` (continuous).
    pub policy_name: &'static str,
    /// `h`, `c`, then the gates (see [`crate::agent::Player::core_record`]); empty without a
    /// recurrent core.
    pub core_names: Vec<String>,
    pub hidden: usize,
    pub steps: Vec<Step>,
    pub returns: Vec<f64>,
}

fn softmax_groups(logits: &[f32], groups: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    let mut at = 0;
    for &n in groups {
        let part = &logits[at..at + n];
        let max = part.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = part.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
        at += n;
    }
    out
}

/// Plays `episodes` greedy episodes from the evaluation starts of `seed` and records them.
pub fn record(loaded: &Loaded, episodes: usize, seed: u64) -> Result<Recording, TrainError> {
    let mut env = loaded.make_env()?;
    let agent = &*loaded.agent;
    let kind = agent.action_kind().clone();
    let mut player = agent.player(&loaded.params);
    let mut obs = vec![0.0; agent.obs_dim()];
    let mut action = vec![0.0; kind.action_dim()];
    let mut scratch = StepScratch::new(kind.action_dim());
    let normalize = |obs: &mut [f32]| {
        if let Some(stats) = &loaded.obs_stats {
            stats.normalize_clipped(obs, NORMALIZE_EPS, NORMALIZE_CLIP);
        }
    };
    let (policy_name, groups) = match &kind {
        ActionKind::Categorical { n, .. } => ("probability", vec![*n]),
        ActionKind::MultiCategorical { nvec } => ("probability", nvec.clone()),
        ActionKind::Gaussian { .. } => ("mean", Vec::new()),
    };
    let mut rec = Recording {
        env: loaded.config.common.env.clone(),
        policy_name,
        core_names: Vec::new(),
        hidden: 0,
        steps: Vec::new(),
        returns: Vec::new(),
    };
    for episode in 0..episodes {
        env.reset(Some(eval_seed(seed, episode)), &mut obs)?;
        normalize(&mut obs);
        player.reset();
        let mut ret = 0.0;
        for t in 0..MAX_EVAL_EPISODE_STEPS {
            let seen = obs.clone();
            player.act(&obs, None, &mut action);
            let outputs = player.outputs();
            let output = |name: &str| outputs.iter().find(|o| o.0 == name).map(|o| &o.1);
            let policy = match (output("logits"), output("mean"), output("q_values")) {
                (Some(logits), _, _) => softmax_groups(logits, &groups),
                (None, Some(mean), _) => mean.clone(),
                (None, None, Some(q)) => {
                    rec.policy_name = "q_value";
                    q.clone()
                }
                _ => Vec::new(),
            };
            let value = output("value").and_then(|v| v.first().copied());
            let core = player.core_record();
            if rec.core_names.is_empty() && !core.is_empty() {
                rec.core_names = core.iter().map(|c| c.0.clone()).collect();
                rec.hidden = core[0].1.len();
            }
            let step = step_env(&mut *env, &kind, &action, &mut scratch, &mut obs)?;
            normalize(&mut obs);
            ret += step.reward;
            rec.steps.push(Step {
                episode,
                t,
                obs: seen,
                action: action.clone(),
                reward: step.reward,
                policy,
                value,
                core: core.into_iter().map(|c| c.1).collect(),
            });
            if step.terminated || step.truncated {
                break;
            }
        }
        rec.returns.push(ret);
    }
    Ok(rec)
}

/// Per unit of a gate: the fractions of steps below 0.1 and above 0.9.
pub fn saturation(rec: &Recording, gate: usize) -> Vec<(f64, f64)> {
    let n = rec.steps.len().max(1) as f64;
    (0..rec.hidden)
        .map(|u| {
            let (mut left, mut right) = (0usize, 0usize);
            for s in &rec.steps {
                let v = s.core[gate][u];
                left += (v < 0.1) as usize;
                right += (v > 0.9) as usize;
            }
            (left as f64 / n, right as f64 / n)
        })
        .collect()
}

/// Per unit of the core row `state` (e.g. `h`): the correlation, over every step after an
/// episode's first, between the unit and the episode's first observation (its component
/// that varies most across the episodes): high for units that carry a cue seen at the start
/// (the T-maze's goal side). `None` when the first observations do not vary.
pub fn first_observation_correlation(rec: &Recording, state: usize) -> Option<Vec<f64>> {
    let firsts: Vec<&Step> = rec.steps.iter().filter(|s| s.t == 0).collect();
    let dim = firsts.first()?.obs.len();
    let variance = |j: usize| {
        let n = firsts.len() as f64;
        let mean = firsts.iter().map(|s| s.obs[j] as f64).sum::<f64>() / n;
        firsts
            .iter()
            .map(|s| (s.obs[j] as f64 - mean).powi(2))
            .sum::<f64>()
            / n
    };
    let j = (0..dim).max_by(|a, b| variance(*a).total_cmp(&variance(*b)))?;
    if variance(j) <= 0.0 {
        return None;
    }
    let cue: Vec<f64> = firsts.iter().map(|s| s.obs[j] as f64).collect();
    let pairs: Vec<(usize, &Step)> = {
        let mut e = 0usize;
        let mut out = Vec::new();
        for s in &rec.steps {
            if s.t == 0 {
                e += 1;
            } else {
                out.push((e - 1, s));
            }
        }
        out
    };
    let n = pairs.len() as f64;
    if n < 2.0 {
        return None;
    }
    Some(
        (0..rec.hidden)
            .map(|u| {
                let (mx, my) = pairs.iter().fold((0.0, 0.0), |(a, b), (e, s)| {
                    (a + cue[*e] / n, b + s.core[state][u] as f64 / n)
                });
                let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
                for (e, s) in &pairs {
                    let (dx, dy) = (cue[*e] - mx, s.core[state][u] as f64 - my);
                    sxy += dx * dy;
                    sxx += dx * dx;
                    syy += dy * dy;
                }
                if sxx > 0.0 && syy > 0.0 {
                    sxy / (sxx * syy).sqrt()
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

/// The sigmoid gates (the ones saturation is about): LSTM i, f, o; GRU r, z.
fn sigmoid_gates(rec: &Recording) -> Vec<(usize, &str)> {
    rec.core_names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            let base = n.trim_start_matches("critic.");
            ["i", "f", "o", "r", "z"].contains(&base)
        })
        .map(|(k, n)| (k, n.as_str()))
        .collect()
}

fn gate_title(name: &str) -> String {
    let (prefix, base) = match name.strip_prefix("critic.") {
        Some(b) => ("critic ", b),
        None => ("", name),
    };
    let long = match base {
        "i" => "input gate i",
        "f" => "forget gate f",
        "o" => "output gate o",
        "g" => "candidate g",
        "r" => "reset gate r",
        "z" => "update gate z",
        "n" => "candidate n",
        "h" => "hidden state h",
        "c" => "cell state c",
        other => other,
    };
    format!("{prefix}{long}")
}

/// What [`write`] wrote.
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// Most cells written as CSV; larger recordings of the core go to safetensors only.
const CSV_CELLS: usize = 2_000_000;
/// Most steps drawn in the heatmap (one pixel column each at least).
const HEATMAP_STEPS: usize = 1500;

/// Writes the recording's files and pictures into `out`.
pub fn write(rec: &Recording, out: &Path) -> Result<Written, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), String> {
        let path = out.join(name);
        crate::runtime::checkpoint::write_atomic(&path, bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        files.push(path);
        Ok(())
    };
    put("steps.csv", steps_csv(rec).as_bytes())?;
    if !rec.core_names.is_empty() {
        let cells = rec.steps.len() * rec.hidden * rec.core_names.len();
        if cells <= CSV_CELLS {
            put("core.csv", core_csv(rec).as_bytes())?;
        }
        put("core.safetensors", &core_safetensors(rec)?)?;
        let mut sat = String::from("gate,unit,left_saturated,right_saturated\n");
        for (k, name) in sigmoid_gates(rec) {
            for (u, (l, r)) in saturation(rec, k).into_iter().enumerate() {
                let _ = writeln!(sat, "{name},{u},{l:.6},{r:.6}");
            }
        }
        put("saturation.csv", sat.as_bytes())?;
        let states: Vec<(usize, &String)> = rec
            .core_names
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.trim_start_matches("critic."), "h" | "c"))
            .collect();
        let mut memory = String::from("state,unit,correlation_with_first_observation\n");
        let mut any = false;
        for (k, name) in states {
            if let Some(corr) = first_observation_correlation(rec, k) {
                any = true;
                for (u, c) in corr.into_iter().enumerate() {
                    let _ = writeln!(memory, "{name},{u},{c:.6}");
                }
            }
        }
        if any {
            put("memory.csv", memory.as_bytes())?;
        }
    }
    put("policy.png", &policy_picture(rec)?)?;
    if !rec.core_names.is_empty() {
        put("hidden.png", &heatmap_picture(rec)?)?;
        put("gates.png", &saturation_png(rec)?)?;
        put("gates.svg", saturation_svg(rec)?.as_bytes())?;
    }
    Ok(Written { files })
}

fn steps_csv(rec: &Recording) -> String {
    let first = rec.steps.first();
    let width = |f: fn(&Step) -> usize| first.map_or(0, f);
    let (na, np, no) = (
        width(|s| s.action.len()),
        width(|s| s.policy.len()),
        width(|s| s.obs.len()),
    );
    let mut text = String::from("episode,step,reward");
    (0..na).for_each(|k| {
        let _ = write!(text, ",action_{k}");
    });
    (0..np).for_each(|k| {
        let _ = write!(text, ",{}_{k}", rec.policy_name);
    });
    text += ",value";
    (0..no).for_each(|k| {
        let _ = write!(text, ",obs_{k}");
    });
    text.push('\n');
    for s in &rec.steps {
        let _ = write!(text, "{},{},{}", s.episode, s.t, s.reward);
        for v in s.action.iter().chain(&s.policy) {
            let _ = write!(text, ",{v}");
        }
        match s.value {
            Some(v) => {
                let _ = write!(text, ",{v}");
            }
            None => text.push(','),
        }
        for v in &s.obs {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    text
}

fn core_csv(rec: &Recording) -> String {
    let mut text = String::from("episode,step");
    for name in &rec.core_names {
        for u in 0..rec.hidden {
            let _ = write!(text, ",{name}_{u}");
        }
    }
    text.push('\n');
    for s in &rec.steps {
        let _ = write!(text, "{},{}", s.episode, s.t);
        for row in &s.core {
            for v in row {
                let _ = write!(text, ",{v}");
            }
        }
        text.push('\n');
    }
    text
}

/// The core's rows as `[steps, hidden]` tensors named as in [`Recording::core_names`], plus
/// `episode` and `step` `[steps]` (as f32).
fn core_safetensors(rec: &Recording) -> Result<Vec<u8>, String> {
    use safetensors::tensor::{Dtype, TensorView};
    let n = rec.steps.len();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (k, name) in rec.core_names.iter().enumerate() {
        let bytes = rec
            .steps
            .iter()
            .flat_map(|s| s.core[k].iter().flat_map(|v| v.to_le_bytes()))
            .collect();
        data.push((name.clone(), vec![n, rec.hidden], bytes));
    }
    let column = |f: fn(&Step) -> f32| rec.steps.iter().flat_map(|s| f(s).to_le_bytes()).collect();
    data.push(("episode".into(), vec![n], column(|s| s.episode as f32)));
    data.push(("step".into(), vec![n], column(|s| s.t as f32)));
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("tensor `{name}`: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| e.to_string())
}

/// Steps where an episode starts (after the first), for boundary lines.
fn boundaries(rec: &Recording) -> Vec<f64> {
    rec.steps
        .iter()
        .enumerate()
        .filter(|(k, s)| *k > 0 && s.t == 0)
        .map(|(k, _)| k as f64)
        .collect()
}

fn policy_picture(rec: &Recording) -> Result<Vec<u8>, String> {
    let xs = |f: &dyn Fn(&Step) -> Option<f64>| -> Vec<(f64, f64)> {
        rec.steps
            .iter()
            .enumerate()
            .filter_map(|(k, s)| f(s).map(|v| (k as f64, v)))
            .collect()
    };
    let has_value = rec.steps.iter().any(|s| s.value.is_some());
    let (width, height) = (1100usize, if has_value { 760usize } else { 400 });
    let mut canvas = Canvas::new(width, height);
    let x_label = "step (all episodes in a row; dashed: a new episode)";
    let mut top = 0.0;
    if has_value {
        let mut value = Chart::new(&format!("{}: value V(s)", rec.env), x_label, "value");
        value.series.push(Series {
            label: String::new(),
            points: xs(&|s| s.value.map(f64::from)),
            band: Vec::new(),
        });
        value.vlines = boundaries(rec);
        value.draw_in(&mut canvas, (0.0, 0.0, width as f64, 360.0));
        top = 360.0;
    }
    let n = rec.steps.first().map_or(0, |s| s.policy.len());
    let title = match rec.policy_name {
        "probability" => "action probabilities",
        "mean" => "action means",
        _ => "Q-values",
    };
    let mut policy = Chart::new(&format!("{}: {title}", rec.env), x_label, rec.policy_name);
    for a in 0..n {
        policy.series.push(Series {
            label: format!("action {a}"),
            points: xs(&|s| Some(f64::from(s.policy[a]))),
            band: Vec::new(),
        });
    }
    policy.vlines = boundaries(rec);
    policy.draw_in(&mut canvas, (0.0, top, width as f64, height as f64 - top));
    canvas.png()
}

/// A diverging colour: blue for -1, white for 0, red for +1.
fn diverging(v: f64) -> Rgb {
    let v = v.clamp(-1.0, 1.0);
    let mix = |a: u8, t: f64| (255.0 + (a as f64 - 255.0) * t).round() as u8;
    if v >= 0.0 {
        Rgb(mix(178, v), mix(24, v), mix(43, v))
    } else {
        Rgb(mix(33, -v), mix(102, -v), mix(172, -v))
    }
}

fn heatmap_picture(rec: &Recording) -> Result<Vec<u8>, String> {
    let steps = rec.steps.len().min(HEATMAP_STEPS);
    let states: Vec<(usize, &String)> = rec
        .core_names
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.trim_start_matches("critic."), "h" | "c"))
        .collect();
    let px = (1200 / steps.max(1)).clamp(1, 12);
    let py = (300 / rec.hidden.max(1)).clamp(2, 12);
    let panel_h = 44.0 + 64.0 + (rec.hidden * py) as f64 + 16.0;
    let width = 100 + steps * px + 24 + 70;
    let height = (panel_h * states.len() as f64).ceil() as usize;
    let mut canvas = Canvas::new(width, height);
    let marks = boundaries(rec);
    for (panel, (k, name)) in states.iter().enumerate() {
        let top = panel as f64 * panel_h;
        // The cell state is unbounded: colours span its largest magnitude.
        let scale = if name.ends_with('c') {
            rec.steps[..steps]
                .iter()
                .flat_map(|s| s.core[*k].iter())
                .fold(0.0f32, |m, v| m.max(v.abs()))
                .max(1e-6) as f64
        } else {
            1.0
        };
        let frame = Frame::within(
            0.0,
            top + 16.0,
            (width - 70) as f64,
            panel_h - 16.0,
            (0.0, steps as f64),
            (0.0, rec.hidden as f64),
        );
        let shown = if steps < rec.steps.len() {
            format!(" (first {steps} of {} steps)", rec.steps.len())
        } else {
            String::new()
        };
        for (t, s) in rec.steps[..steps].iter().enumerate() {
            for (u, v) in s.core[*k].iter().enumerate() {
                let (x0, y0) = frame.map(t as f64, u as f64);
                let (x1, y1) = frame.map(t as f64 + 1.0, u as f64 + 1.0);
                canvas.fill_rect(
                    x0,
                    y0.min(y1),
                    x1 - x0,
                    (y1 - y0).abs(),
                    diverging(*v as f64 / scale),
                    1.0,
                );
            }
        }
        frame.draw_axes(
            &mut canvas,
            &format!("{}: {}{shown}", rec.env, gate_title(name)),
            "step (all episodes in a row)",
            "unit",
        );
        for &m in marks.iter().filter(|m| **m < steps as f64) {
            let (x, y0) = frame.map(m, 0.0);
            let (_, y1) = frame.map(m, rec.hidden as f64);
            canvas.polyline(&[(x, y0), (x, y1)], Rgb::BLACK, 1.5, false);
        }
        // Rewards: a dot above the map, green for positive, red for negative.
        for (t, s) in rec.steps[..steps].iter().enumerate() {
            if s.reward != 0.0 {
                let (x, _) = frame.map(t as f64 + 0.5, 0.0);
                let color = if s.reward > 0.0 {
                    PALETTE[2]
                } else {
                    PALETTE[3]
                };
                canvas.dot(x, frame.top - 6.0, 3.0, color, 1.0);
            }
        }
        // Colour key.
        let kx = frame.left + frame.width + 24.0;
        let kh = frame.height;
        for j in 0..kh as usize {
            let v = 1.0 - 2.0 * j as f64 / kh;
            canvas.fill_rect(kx, frame.top + j as f64, 14.0, 1.0, diverging(v), 1.0);
        }
        let label = |v: f64| {
            if scale == 1.0 {
                format!("{v:+.0}")
            } else {
                format!("{:+.1}", v * scale)
            }
        };
        canvas.text(
            kx + 18.0,
            frame.top + 4.0,
            &label(1.0),
            1,
            Anchor::Start,
            false,
        );
        canvas.text(
            kx + 18.0,
            frame.top + kh - 4.0,
            &label(-1.0),
            1,
            Anchor::Start,
            false,
        );
    }
    canvas.png()
}

fn saturation_svg(rec: &Recording) -> Result<String, String> {
    let size = draw_saturation(rec, None)?;
    let mut svg = Svg::new(size.0, size.1);
    draw_saturation(rec, Some(&mut svg))?;
    Ok(svg.finish())
}

fn saturation_png(rec: &Recording) -> Result<Vec<u8>, String> {
    let size = draw_saturation(rec, None)?;
    let mut canvas = Canvas::new(size.0, size.1);
    draw_saturation(rec, Some(&mut canvas))?;
    canvas.png()
}

/// Draws one square panel per sigmoid gate; returns the picture's size.
fn draw_saturation(
    rec: &Recording,
    surface: Option<&mut dyn Surface>,
) -> Result<(usize, usize), String> {
    let gates = sigmoid_gates(rec);
    let side = 420usize;
    let size = (side * gates.len().max(1), side + 20);
    let Some(s) = surface else {
        return Ok(size);
    };
    for (panel, (k, name)) in gates.iter().enumerate() {
        let frame = Frame::within(
            (panel * side) as f64,
            20.0,
            side as f64,
            side as f64,
            (0.0, 1.0),
            (0.0, 1.0),
        );
        frame.draw_axes(s, &gate_title(name), "fraction < 0.1", "fraction > 0.9");
        // A unit lies on or below the diagonal x + y = 1.
        s.polyline(
            &[frame.map(0.0, 1.0), frame.map(1.0, 0.0)],
            Rgb::GREY,
            1.0,
            true,
        );
        for (l, r) in saturation(rec, *k) {
            let (x, y) = frame.map(l, r);
            s.dot(x, y, 4.0, PALETTE[panel % PALETTE.len()], 0.6);
        }
    }
    s.text(
        size.0 as f64 / 2.0,
        10.0,
        &format!(
            "gate saturation per unit over {} steps (Karpathy et al. 2015)",
            rec.steps.len()
        ),
        NORMAL,
        Anchor::Middle,
        false,
    );
    Ok(size)
}
