//! `engram plot`'s pictures: valid PNG and SVG files with one curve per run, a standard-error
//! band per multi-seed directory, the reward threshold; exact means and standard errors; clear
//! errors for bad input.

use engram::plot::{chart_of, find_runs, mean_and_stderr, write_run_curve, XAxis, YAxis};
use std::fs;
use std::path::{Path, PathBuf};

/// A run directory with `metrics.csv` rows `(env_steps, mean_return)` and `evals.csv` rows.
fn fake_run(dir: &Path, env: &str, rows: &[(u64, f64)], evals: &[(u64, f64)]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("config.toml"),
        format!("# run\nalgo = \"ppo\"\nenv = \"{env}\"\n"),
    )
    .unwrap();
    let mut metrics = String::from("env_steps,wall_seconds,episodes,mean_return,entropy\n");
    for (k, (steps, ret)) in rows.iter().enumerate() {
        metrics += &format!(
            "{steps},{}.0,{},{ret},{}\n",
            k,
            10 * k,
            0.5 / (k + 1) as f64
        );
    }
    fs::write(dir.join("metrics.csv"), metrics).unwrap();
    let mut text = String::from("env_steps,wall_seconds,mean_return,std_return,episodes\n");
    for (steps, ret) in evals {
        text += &format!("{steps},1.0,{ret},0.0,10\n");
    }
    fs::write(dir.join("evals.csv"), text).unwrap();
}

fn seeds_dir(dir: &Path, seeds: usize) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("seeds.toml"), "seeds = \"0-2\"\n").unwrap();
    for s in 0..seeds {
        let rows: Vec<(u64, f64)> = (1..=20)
            .map(|k| (k * 1000, (k * 20 + s as u64 * 7) as f64))
            .collect();
        fake_run(&dir.join(format!("seed_{s}")), "CartPole-v1", &rows, &[]);
    }
}

fn count(text: &str, what: &str) -> usize {
    text.matches(what).count()
}

#[test]
fn runs_and_seeds_overlaid_as_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    let rows: Vec<(u64, f64)> = (1..=30).map(|k| (k * 700, (k * k) as f64 / 2.0)).collect();
    fake_run(
        &single,
        "CartPole-v1",
        &rows,
        &[(7000, 200.0), (14000, 500.0)],
    );
    let multi = tmp.path().join("multi");
    seeds_dir(&multi, 3);
    let paths = vec![single.clone(), multi.clone()];
    let chart = chart_of(&paths, XAxis::Steps, &YAxis::Return).unwrap();
    assert_eq!(chart.series.len(), 2);
    assert!(chart.series[0].band.is_empty());
    assert_eq!(chart.series[1].band.len(), 20);
    assert_eq!(chart.hlines.len(), 1, "CartPole's threshold");
    assert_eq!(chart.hlines[0].y, 475.0);

    let svg_path = tmp.path().join("out/curve.svg");
    chart.write(&svg_path).unwrap();
    let svg = fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(count(&svg, "<g class=\"series\">"), 2);
    assert_eq!(count(&svg, "<g class=\"band\">"), 1);
    assert_eq!(count(&svg, "<g class=\"threshold\">"), 1);
    assert!(svg.contains(">env steps</text>") && svg.contains(">threshold 475</text>"));

    let png_path = tmp.path().join("curve.png");
    chart.write(&png_path).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (960, 600));
    // Both series' colours (tab10 blue and orange) are drawn at full strength somewhere.
    let has = |rgb: [u8; 3]| pixels.chunks_exact(3).any(|p| p == rgb);
    assert!(has([31, 119, 180]) && has([255, 127, 14]));
    // Text is drawn in black.
    assert!(has([0, 0, 0]));
}

#[test]
fn a_folder_of_runs_and_the_axes() {
    let tmp = tempfile::tempdir().unwrap();
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        let rows: Vec<(u64, f64)> = (1..=5).map(|i| (i * 100, (i + k as u64) as f64)).collect();
        fake_run(
            &tmp.path().join("runs").join(name),
            "Pendulum-v1",
            &rows,
            &[(500, 1.0)],
        );
    }
    let runs = find_runs(&tmp.path().join("runs")).unwrap();
    assert_eq!(runs.len(), 3);
    let paths = vec![tmp.path().join("runs")];
    let chart = chart_of(&paths, XAxis::Episodes, &YAxis::Metric("entropy".into())).unwrap();
    assert_eq!(chart.series.len(), 3);
    assert_eq!(chart.series[0].points[1], (10.0, 0.25));
    assert!(chart.hlines.is_empty(), "no threshold line on a metric");
    let chart = chart_of(&paths, XAxis::Time, &YAxis::Eval).unwrap();
    assert_eq!(chart.series[2].points, vec![(1.0, 1.0)]);
    // A run of its own: written into the run directory, training and evaluation curves.
    assert!(write_run_curve(&tmp.path().join("runs/a")).unwrap());
    assert!(tmp.path().join("runs/a/curve.png").is_file());
}

#[test]
fn mean_and_standard_error_are_exact() {
    let a = vec![(0.0, 1.0), (10.0, 3.0)];
    let b = vec![(0.0, 3.0), (5.0, 4.0), (10.0, 5.0)];
    let c = vec![(5.0, 10.0)];
    let stats = mean_and_stderr(&[a, b, c], 100);
    // x = 0: {1, 3}; x = 5: {1 (carried), 4, 10}; x = 10: {3, 5} (c ended at 5).
    assert_eq!(stats[0], (0.0, 2.0, 1.0, 2));
    assert_eq!(stats[1].0, 5.0);
    assert_eq!(stats[1].1, 5.0);
    let sd = ((16.0 + 1.0 + 25.0) / 2.0f64).sqrt();
    assert!((stats[1].2 - sd / 3f64.sqrt()).abs() < 1e-12);
    assert_eq!(stats[2], (10.0, 4.0, 1.0, 2));
    // Thinned to a grid of at most 2 points: the first and last x.
    let long: Vec<(f64, f64)> = (0..100).map(|i| (i as f64, 1.0)).collect();
    let thin = mean_and_stderr(&[long], 2);
    assert_eq!(
        thin.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![0.0, 99.0]
    );
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir_all(empty.join("sub")).unwrap();
    let err = chart_of(&[empty], XAxis::Steps, &YAxis::Return).unwrap_err();
    assert!(
        err.contains("no runs in") && err.contains("metrics.csv"),
        "{err}"
    );
    let err = chart_of(&[tmp.path().join("missing")], XAxis::Steps, &YAxis::Return).unwrap_err();
    assert!(err.contains("does not exist"), "{err}");

    let run = tmp.path().join("run");
    fake_run(&run, "CartPole-v1", &[(100, 1.0)], &[]);
    let paths: Vec<PathBuf> = vec![run.clone()];
    let err = chart_of(&paths, XAxis::Steps, &YAxis::Metric("entropy_loss".into())).unwrap_err();
    assert!(
        err.contains("no metric `entropy_loss`") && err.contains("entropy"),
        "{err}"
    );
    let err = chart_of(&paths, XAxis::Episodes, &YAxis::Eval).unwrap_err();
    assert!(err.contains("--x steps"), "{err}");
    let err = chart_of(&paths, XAxis::Steps, &YAxis::Eval).unwrap_err();
    assert!(err.contains("nothing to plot"), "{err}");
    assert!(XAxis::parse("epochs")
        .unwrap_err()
        .contains("steps, episodes or time"));
    let chart = chart_of(&paths, XAxis::Steps, &YAxis::Return).unwrap();
    let err = chart.write(&tmp.path().join("curve.jpg")).unwrap_err();
    assert!(err.contains(".png or .svg"), "{err}");
}
