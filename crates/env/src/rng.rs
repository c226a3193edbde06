//! The random source of environments. (Filled in by the environments work: a port of numpy's
//! `SeedSequence` + `PCG64` + `Generator` methods, and a replay mode that hands out recorded draws.)

/// Each environment draws only through this type, so a parity test can swap real draws for
/// recorded ones.
#[derive(Clone, Debug, Default)]
pub struct EnvRng {}
