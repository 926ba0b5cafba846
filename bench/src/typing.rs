//! What the simulated users type: a seeded random typist and the filler
//! text of an initial document.

/// A small seeded PRNG (SplitMix64): reproducible runs without a
/// dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One edit to make: replace `delete` code points at `pos` with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    /// Position in code points.
    pub pos: usize,
    /// Code points to delete.
    pub delete: usize,
    /// Text to insert.
    pub insert: String,
    /// Where the typist's caret is afterwards.
    pub caret: usize,
}

/// A typist: types at a caret, mostly single characters, sometimes a
/// backspace, now and then jumps elsewhere. Below `soft_max` code points
/// it types four characters for each one it deletes; above, it deletes
/// more than it types, so the text stays bounded however long a run is.
#[derive(Debug, Clone)]
pub struct Typist {
    rng: Rng,
    caret: Option<usize>,
    soft_max: usize,
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz      eeettaaoinshr,.\n";

impl Typist {
    /// A typist seeded with `seed` that keeps texts around `soft_max`
    /// code points at most.
    pub fn new(seed: u64, soft_max: usize) -> Typist {
        Typist {
            rng: Rng::new(seed),
            caret: None,
            soft_max,
        }
    }

    /// The next edit on a text of `len` code points.
    pub fn next(&mut self, len: usize) -> Splice {
        let rng = &mut self.rng;
        let mut caret = match self.caret {
            Some(c) if c <= len && !rng.chance(0.02) => c,
            _ => rng.below(len + 1),
        };
        let delete_p = if len >= self.soft_max { 0.6 } else { 0.2 };
        if caret > 0 && rng.chance(delete_p) {
            caret -= 1;
            self.caret = Some(caret);
            return Splice {
                pos: caret,
                delete: 1,
                insert: String::new(),
                caret,
            };
        }
        let c = ALPHABET[rng.below(ALPHABET.len())] as char;
        self.caret = Some(caret + 1);
        Splice {
            pos: caret,
            delete: 0,
            insert: c.to_string(),
            caret: caret + 1,
        }
    }
}

/// `bytes` bytes of ASCII prose in lines of at most 72 characters.
pub fn filler(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "editor",
        "keeps",
        "one",
        "history",
        "of",
        "operations",
        "and",
        "every",
        "client",
        "transforms",
        "its",
        "pending",
        "edits",
        "against",
        "what",
        "arrives",
        "from",
        "server",
        "so",
        "that",
        "all",
        "copies",
        "converge",
        "to",
        "same",
        "text",
    ];
    let mut out = String::with_capacity(bytes + 16);
    let mut rng = Rng::new(bytes as u64);
    let mut line = 0;
    while out.len() < bytes {
        let w = WORDS[rng.below(WORDS.len())];
        if line + w.len() + 1 > 72 {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(w);
        line += w.len();
    }
    out.truncate(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_spread() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_000..3_000).contains(&hits), "{hits}");
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn typist_edits_fit_and_stay_bounded() {
        let mut t = Typist::new(1, 500);
        let mut text: Vec<char> = Vec::new();
        for _ in 0..20_000 {
            let s = t.next(text.len());
            assert!(s.pos + s.delete <= text.len());
            text.splice(s.pos..s.pos + s.delete, s.insert.chars());
            assert!(s.caret <= text.len());
        }
        assert!(text.len() > 300 && text.len() < 700, "{}", text.len());
    }

    #[test]
    fn filler_has_the_size_asked() {
        for n in [0, 1, 71, 72, 73, 200_000] {
            let f = filler(n);
            assert_eq!(f.len(), n);
            assert!(f.lines().all(|l| l.len() <= 72));
        }
    }
}
