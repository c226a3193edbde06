//! Seed lists as the command line gives them: `0-99`, `0,3,7`, `0-4,10-12`.

use crate::error::ConfigError;

/// The most seeds one multi-seed run holds (each gets a run directory of about 10 files).
pub const MAX_SEEDS: u64 = 100_000;

/// The seeds of `spec` in the order given: comma-separated seeds and inclusive ranges `a-b`.
/// Every error names the part at fault and the fix.
pub fn parse_seeds(spec: &str) -> Result<Vec<u64>, ConfigError> {
    let fail = |message: String| ConfigError::Parse(format!("--seeds {spec}: {message}"));
    if spec.trim().is_empty() {
        return Err(fail(
            "no seeds given: write seeds and ranges, e.g. --seeds 0-9 or --seeds 0,3,7".into(),
        ));
    }
    let mut ranges = Vec::new();
    let mut count: u64 = 0;
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(fail(
                "an empty item between commas: write e.g. 0,3,7 or 0-4,10-12".into(),
            ));
        }
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (seed(a, part).map_err(fail)?, seed(b, part).map_err(fail)?),
            None => {
                let s = seed(part, part).map_err(fail)?;
                (s, s)
            }
        };
        if first > last {
            return Err(fail(format!(
                "the range {part} runs backwards: write {last}-{first}"
            )));
        }
        count = count.saturating_add(last - first).saturating_add(1);
        if count > MAX_SEEDS {
            return Err(fail(format!(
                "more than {MAX_SEEDS} seeds: run fewer at once (each seed is a whole run with \
                 its own directory)"
            )));
        }
        ranges.push((first, last, part));
    }
    // Overlaps are found on the ranges, sorted, before any list is built.
    let mut sorted: Vec<_> = ranges.clone();
    sorted.sort_by_key(|&(first, ..)| first);
    for pair in sorted.windows(2) {
        let ((_, last_a, a), (first_b, _, b)) = (pair[0], pair[1]);
        if first_b <= last_a {
            let which = if a == b {
                format!("{a} is given twice")
            } else {
                format!("{a} and {b} overlap")
            };
            return Err(fail(format!(
                "{which} (seed {first_b}): each seed runs once, give it once"
            )));
        }
    }
    Ok(ranges
        .iter()
        .flat_map(|&(first, last, _)| first..=last)
        .collect())
}

/// One seed of `part`: a decimal number that TOML (config.toml) can hold.
fn seed(text: &str, part: &str) -> Result<u64, String> {
    let text = text.trim();
    let value: u64 = text.parse().map_err(|_| {
        format!("`{part}` is not a seed or a range: seeds are whole numbers >= 0, ranges first-last (e.g. 0-99)")
    })?;
    if value > i64::MAX as u64 {
        return Err(format!(
            "seed {value} is too large: seeds are at most {} (2^63 - 1)",
            i64::MAX
        ));
    }
    Ok(value)
}

/// The shortest spelling of `seeds` (`0-4,10-12`), for messages and `seeds.toml`.
pub fn format_seeds(seeds: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let mut j = i;
        while j + 1 < seeds.len() && seeds[j + 1] == seeds[j].wrapping_add(1) {
            j += 1;
        }
        parts.push(if j == i {
            seeds[i].to_string()
        } else {
            format!("{}-{}", seeds[i], seeds[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ranges_and_mixes_parse_in_order() {
        assert_eq!(parse_seeds("0-4").unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(parse_seeds("0,3,7").unwrap(), vec![0, 3, 7]);
        assert_eq!(
            parse_seeds("0-2, 10-12").unwrap(),
            vec![0, 1, 2, 10, 11, 12]
        );
        assert_eq!(parse_seeds("7,1-2").unwrap(), vec![7, 1, 2]);
        assert_eq!(parse_seeds("5-5").unwrap(), vec![5]);
        assert_eq!(parse_seeds("0-99999").unwrap().len(), 100_000);
        assert_eq!(format_seeds(&[0, 1, 2, 10, 11, 12, 20]), "0-2,10-12,20");
        assert_eq!(format_seeds(&[7, 1, 2]), "7,1-2");
    }

    #[test]
    fn bad_lists_name_the_part_and_the_fix() {
        let cases = [
            ("5-2", "runs backwards: write 2-5"),
            ("a-b", "`a-b` is not a seed or a range"),
            ("", "no seeds given"),
            ("  ", "no seeds given"),
            ("1,,2", "empty item"),
            ("0-4,3", "0-4 and 3 overlap (seed 3)"),
            ("3,3", "3 is given twice"),
            ("0-100000", "more than 100000 seeds"),
            ("0-18446744073709551615", "too large"),
            ("-1", "not a seed or a range"),
            ("1-2-3", "not a seed or a range"),
            ("0-9223372036854775807", "more than 100000 seeds"),
        ];
        for (spec, needle) in cases {
            let err = parse_seeds(spec).unwrap_err().to_string();
            assert!(err.contains(needle), "{spec:?}: {err}");
            assert!(err.starts_with("--seeds"), "{spec:?}: {err}");
        }
    }
}
