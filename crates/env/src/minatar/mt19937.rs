//! numpy's legacy `RandomState` (MT19937) as MinAtar draws from it: integer seeding
//! (`init_genrand`), `rand()` (53-bit doubles from two 32-bit outputs) and `randint`
//! (masked rejection sampling on 32-bit outputs), bit for bit.

/// The Mersenne Twister MT19937 with numpy's legacy integer seeding.
#[derive(Clone)]
pub struct Mt19937 {
    key: [u32; 624],
    pos: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mt19937 {{ pos: {} }}", self.pos)
    }
}

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

impl Mt19937 {
    /// `numpy.random.RandomState(seed)` for an integer seed (`mt19937_seed`).
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        let mut s = seed;
        for (pos, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(pos as u32 + 1);
        }
        Mt19937 { key, pos: N }
    }

    /// `numpy.random.RandomState(key)` for a list of 32-bit words (`init_by_array`).
    pub fn from_words(words: &[u32]) -> Self {
        let mut mt = Mt19937::new(19_650_218);
        let key = &mut mt.key;
        let (mut i, mut j) = (1usize, 0usize);
        let len = words.len().max(1);
        for _ in 0..N.max(len) {
            let prev = key[i - 1] ^ (key[i - 1] >> 30);
            key[i] = (key[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(words.get(j).copied().unwrap_or(0))
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                key[0] = key[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = key[i - 1] ^ (key[i - 1] >> 30);
            key[i] = (key[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                key[0] = key[N - 1];
                i = 1;
            }
        }
        key[0] = 0x8000_0000;
        mt.pos = N;
        mt
    }

    /// A seed as numpy takes it: `RandomState(seed)` below 2^32 (what MinAtar's `seed()`
    /// does), and `RandomState([low 32 bits, high 32 bits])` above, where numpy's integer
    /// seeding would refuse it (engram's runtime derives 64-bit seeds).
    pub fn from_u64(seed: u64) -> Self {
        match u32::try_from(seed) {
            Ok(s) => Mt19937::new(s),
            Err(_) => Mt19937::from_words(&[seed as u32, (seed >> 32) as u32]),
        }
    }

    #[cold]
    fn generate(&mut self) {
        let mag = |y: u32| if y & 1 == 1 { MATRIX_A } else { 0 };
        for i in 0..N - M {
            let y = (self.key[i] & UPPER_MASK) | (self.key[i + 1] & LOWER_MASK);
            self.key[i] = self.key[i + M] ^ (y >> 1) ^ mag(y);
        }
        for i in N - M..N - 1 {
            let y = (self.key[i] & UPPER_MASK) | (self.key[i + 1] & LOWER_MASK);
            self.key[i] = self.key[i + M - N] ^ (y >> 1) ^ mag(y);
        }
        let y = (self.key[N - 1] & UPPER_MASK) | (self.key[0] & LOWER_MASK);
        self.key[N - 1] = self.key[M - 1] ^ (y >> 1) ^ mag(y);
        self.pos = 0;
    }

    /// The next raw 32-bit output (tempered).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `RandomState.rand()`: `((a >> 5) * 2^26 + (b >> 6)) / 2^53`.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A uniform integer in `[0, max]` (`max < 2^32`) by numpy's masked rejection sampling,
    /// as legacy `randint` draws it.
    #[inline]
    pub fn bounded(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        if max == u32::MAX {
            return self.next_u32();
        }
        let mask = u32::MAX >> max.leading_zeros();
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.randint(low, high)`: uniform in `[low, high)`; requires `low < high`.
    #[inline]
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        debug_assert!(low < high && high - low <= 1 << 32);
        low + self.bounded((high - low - 1) as u32) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_zero_matches_numpy() {
        // numpy: RandomState(0).randint(2**32 - 1 ...) raw outputs and rand().
        let mut mt = Mt19937::new(0);
        assert_eq!(mt.next_u32(), 2_357_136_044);
        assert_eq!(mt.next_u32(), 2_546_248_239);
        let mut mt = Mt19937::new(0);
        assert_eq!(mt.next_f64(), 0.548_813_503_927_324_8);
    }

    #[test]
    fn array_seeding_matches_numpy() {
        // np.random.RandomState([1, 2]).rand(), and RandomState([lo, hi]).rand() of a 64-bit seed.
        assert_eq!(
            Mt19937::from_words(&[1, 2]).next_f64(),
            0.584_514_149_249_567_8
        );
        let seed = 6_540_066_358_666_534_326u64;
        assert_eq!(Mt19937::from_u64(seed).next_f64(), 0.129_547_916_417_233_18);
        // [0] as an array is not the integer seed 0.
        assert_ne!(
            Mt19937::from_words(&[0]).next_u32(),
            Mt19937::new(0).next_u32()
        );
    }
}
