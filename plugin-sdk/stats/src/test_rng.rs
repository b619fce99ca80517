//! xorshift64*: reproducible test data with no dependency, for the plugins' unit tests.
//! Seeds must not be 0.

/// The generator; its state is the seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    // Not an iterator: the stream never ends and callers draw in several shapes.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal, by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Any bit pattern but a NaN.
    pub fn any_number(&mut self) -> f64 {
        loop {
            let x = f64::from_bits(self.next());
            if !x.is_nan() {
                return x;
            }
        }
    }
}
