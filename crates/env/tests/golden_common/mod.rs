// Shared by the golden tests: where the reference files live.
use std::path::PathBuf;

/// `ENGRAM_GOLDEN_DIR`, or `shared/oracles/golden` beside the repository. Panics with a clear
/// message when missing: parity tests must fail, not skip.
pub fn golden_dir() -> PathBuf {
    let dir = match std::env::var_os("ENGRAM_GOLDEN_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/oracles/golden"),
    };
    assert!(
        dir.join("manifest.json").is_file(),
        "golden trajectory directory not found at {} (set ENGRAM_GOLDEN_DIR to the folder holding \
         shared/oracles/golden/*.json)",
        dir.display()
    );
    dir
}
