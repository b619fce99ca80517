//! The classes of a window and their confusion counts, in a hash table keyed by label.

/// Confusion counts of one class.
#[derive(Clone, Copy, Default)]
pub(super) struct Counts {
    pub(super) predicted: u64,
    pub(super) actual: u64,
    pub(super) hits: u64,
}

impl Counts {
    pub(super) fn seen(&self) -> bool {
        self.actual + self.predicted > 0
    }

    /// (precision, recall, f1) of this class, 0/0 taken as 0.
    pub(super) fn scores(&self) -> (f64, f64, f64) {
        let ratio = |num: f64, den: f64| if den == 0.0 { 0.0 } else { num / den };
        let hits = self.hits as f64;
        let (predicted, actual) = (self.predicted as f64, self.actual as f64);
        (
            ratio(hits, predicted),
            ratio(hits, actual),
            // sklearn's form: (1 + β²)·tp / (β²·(tp + fn) + (tp + fp)).
            ratio(2.0 * hits, actual + predicted),
        )
    }
}

/// A label's length and a 64-bit word: its bytes themselves when it has at most 8 (so equal
/// keys mean equal labels), else a hash of all of them. Compares and hashes labels without
/// calling `memcmp` for the short labels classes usually have.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    len: usize,
    word: u64,
}

impl Key {
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

    pub(super) fn of(label: &str) -> Key {
        let bytes = label.as_bytes();
        let word = if bytes.len() <= 8 {
            let mut word = 0u64;
            for (i, &b) in bytes.iter().enumerate() {
                word |= u64::from(b) << (8 * i);
            }
            word
        } else {
            let mut chunks = bytes.chunks_exact(8);
            let mut hash = 0u64;
            for chunk in &mut chunks {
                let word = u64::from_le_bytes(chunk.try_into().unwrap());
                hash = (hash.rotate_left(5) ^ word).wrapping_mul(Self::MULTIPLIER);
            }
            let mut tail = 0u64;
            for (i, &b) in chunks.remainder().iter().enumerate() {
                tail |= u64::from(b) << (8 * i);
            }
            (hash.rotate_left(5) ^ tail).wrapping_mul(Self::MULTIPLIER)
        };
        Key {
            len: bytes.len(),
            word,
        }
    }

    /// Whether `label` (whose key this is) equals `other` (whose key is `other_key`).
    pub(super) fn same(self, label: &str, other_key: Key, other: &str) -> bool {
        self == other_key && (self.len <= 8 || label == other)
    }

    /// A slot of a table of 2^bits slots: the top bits of a multiplicative hash.
    fn slot(self, bits: u32) -> usize {
        let mixed = (self.word ^ self.len as u64).wrapping_mul(Self::MULTIPLIER);
        (mixed >> (64 - bits)) as usize
    }
}

/// The classes seen so far, with their counts, found through an open-addressing hash table.
pub(super) struct Classes<'a> {
    pub(super) names: Vec<&'a str>,
    keys: Vec<Key>,
    pub(super) counts: Vec<Counts>,
    /// Class index + 1, or 0 for an empty slot; at most half full.
    slots: Vec<usize>,
}

impl<'a> Classes<'a> {
    pub(super) fn new() -> Self {
        Classes {
            names: Vec::new(),
            keys: Vec::new(),
            counts: Vec::new(),
            slots: vec![0; 16],
        }
    }

    /// The class of `label`, or the empty slot where it would go.
    fn find(&self, label: &str, key: Key) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = key.slot(self.slots.len().trailing_zeros());
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                c if key.same(label, self.keys[c - 1], self.names[c - 1]) => return Ok(c - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    pub(super) fn lookup(&self, label: &str) -> Option<usize> {
        self.find(label, Key::of(label)).ok()
    }

    pub(super) fn index(&mut self, label: &'a str, key: Key) -> usize {
        let slot = match self.find(label, key) {
            Ok(class) => return class,
            Err(slot) => slot,
        };
        let class = self.names.len();
        self.names.push(label);
        self.keys.push(key);
        self.counts.push(Counts::default());
        self.slots[slot] = class + 1;
        if 2 * self.names.len() > self.slots.len() {
            let size = 2 * self.slots.len();
            let mask = size - 1;
            self.slots = vec![0; size];
            for (c, key) in self.keys.iter().enumerate() {
                let mut slot = key.slot(size.trailing_zeros());
                while self.slots[slot] != 0 {
                    slot = (slot + 1) & mask;
                }
                self.slots[slot] = c + 1;
            }
        }
        class
    }
}
