//! The numpy RNG port against `rng_vectors.json` (numpy 2.4's own outputs).

mod golden_common;

use engram_env::rng::{EnvRng, Pcg64, SeedSequence};
use serde_json::Value;

/// The `k`-th integer following `key` in the raw JSON text: the 128-bit PCG64 state and
/// increment exceed what serde_json (without arbitrary precision) keeps exactly.
fn nth_u128_after(text: &str, key: &str, k: usize) -> u128 {
    let (at, _) = text
        .match_indices(key)
        .nth(k)
        .unwrap_or_else(|| panic!("{key} #{k} not found"));
    let rest = text[at + key.len()..].trim_start_matches([' ', ':']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no integer after {key}"))
}

#[test]
fn pcg64_matches_numpy_vectors() {
    let path = golden_common::golden_dir().join("rng_vectors.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let cases = v["pcg64"].as_array().expect("pcg64 vectors");
    assert!(cases.len() >= 7);
    for (k, case) in cases.iter().enumerate() {
        let seed = case["seed"].as_u64().unwrap();
        let seq = SeedSequence::new(seed as u128);
        let state: Vec<u64> = case["seedsequence_generate_state_4xu64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(
            seq.generate_state_u64(4),
            state,
            "seed {seed}: generate_state"
        );

        let mut bitgen = Pcg64::from_seed_sequence(&seq);
        let state = nth_u128_after(&text, "{\"state\"", k);
        let inc = nth_u128_after(&text, "\"inc\"", k);
        assert_eq!(bitgen.state, state, "seed {seed}: state");
        assert_eq!(bitgen.inc, inc, "seed {seed}: inc");
        for (i, raw) in case["random_raw_u64"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(
                bitgen.next_u64(),
                raw.as_u64().unwrap(),
                "seed {seed}: raw {i}"
            );
        }

        let mut rng = EnvRng::new(seed);
        for x in case["random_f64"].as_array().unwrap() {
            assert_eq!(
                rng.random().to_bits(),
                x.as_f64().unwrap().to_bits(),
                "seed {seed}: random"
            );
        }
        let mut rng = EnvRng::new(seed);
        let mut u = [0.0; 4];
        rng.uniform_fill(-0.05, 0.05, &mut u);
        let expected: Vec<f64> = case["uniform_m005_p005_x4"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(u.to_vec(), expected, "seed {seed}: uniform");
        let mut rng = EnvRng::new(seed);
        let ints: Vec<i64> = (0..8).map(|_| rng.integers(0, 10)).collect();
        let expected: Vec<i64> = case["integers_0_10_x8"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(ints, expected, "seed {seed}: integers");
    }
}

#[test]
fn seed_sequence_of_large_entropy_uses_all_words() {
    let a = SeedSequence::new(1 << 40);
    let b = SeedSequence::new(0);
    assert_ne!(a.generate_state_u32(4), b.generate_state_u32(4));
    assert_eq!(SeedSequence::new(5), SeedSequence::from_words(&[5]));
}
