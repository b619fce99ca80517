//! An unstable sort of `u64` keys, written for the WebAssembly guest.
//!
//! `slice::sort_unstable` ran at 1.85 times its native time inside wasmtime: its partition loop
//! is inlined into one large function, where Cranelift spills the loop's values to the stack
//! and reloads them, and the epoch check at the loop's back edge comes every two elements. This
//! sort keeps the partition loop in a small function of its own, unrolled eight times, and
//! finishes short slices with a branchless sorting network. In the KS benchmark's guest it runs
//! at about 1.35 times its native time; natively it is within about 10% of `sort_unstable`.
//!
//! The shape is the standard library's: quicksort on a pseudo-median pivot, a Lomuto partition
//! without data-dependent branches, the copies of a repeated pivot split off in one pass (so
//! few distinct values do not make it quadratic), and heapsort once the recursion is deeper
//! than twice the logarithm of the length (so no input does).

/// Slices up to this long go through the sorting network.
const SMALL: usize = 8;

/// Sorts `v` in ascending order.
pub fn sort(v: &mut [u64]) {
    let limit = 2 * (v.len() | 1).ilog2();
    quicksort(v, None, limit);
}

/// The keys at the given 0-based `ranks` of `v` in sorted order (`ranks` ascending, each below
/// `v.len()`), in the order of `ranks`; `v` is left partly ordered. Expected time linear in
/// `v.len()`: the quantiles of a large sample cost a few partition passes instead of a sort.
pub fn select(v: &mut [u64], ranks: &[usize]) -> Vec<u64> {
    let mut found = vec![0; ranks.len()];
    select_into(v, 0, ranks, &mut found);
    found
}

/// [`select`] on the part `v` of the whole that starts at rank `offset`; `ranks` are those of
/// the whole that fall inside `v`, and `found` their slots.
fn select_into(v: &mut [u64], offset: usize, ranks: &[usize], found: &mut [u64]) {
    if ranks.is_empty() {
        return;
    }
    if v.len() <= 64 {
        sort(v);
        for (slot, &rank) in found.iter_mut().zip(ranks) {
            *slot = v[rank - offset];
        }
        return;
    }
    let pivot = choose_pivot(v);
    let below = partition_below(v, pivot);
    // Three parts: below the pivot, equal to it, above it; each rank lies in one.
    let (left, rest) = v.split_at_mut(below);
    let equal = match pivot.checked_add(1) {
        Some(above) => partition_below(rest, above),
        None => rest.len(),
    };
    let (middle, right) = rest.split_at_mut(equal);
    let split_left = ranks.partition_point(|&r| r < offset + below);
    let split_right = ranks.partition_point(|&r| r < offset + below + middle.len());
    let (found_left, found_rest) = found.split_at_mut(split_left);
    let (found_middle, found_right) = found_rest.split_at_mut(split_right - split_left);
    found_middle.fill(pivot);
    select_into(left, offset, &ranks[..split_left], found_left);
    select_into(
        right,
        offset + below + equal,
        &ranks[split_right..],
        found_right,
    );
}

/// `ancestor` is a pivot that every key of `v` is known to be at least; `limit` is how many
/// more partitions may be nested before heapsort takes over.
fn quicksort(mut v: &mut [u64], mut ancestor: Option<u64>, mut limit: u32) {
    loop {
        if v.len() <= SMALL {
            sort_small(v);
            return;
        }
        if limit == 0 {
            heapsort(v);
            return;
        }
        limit -= 1;
        let pivot = choose_pivot(v);
        if ancestor.is_some_and(|a| pivot <= a) {
            // The pivot equals the ancestor, the smallest key here: its copies go first and
            // are in place.
            let Some(above) = pivot.checked_add(1) else {
                return; // every key is u64::MAX
            };
            let equal = partition_below(v, above);
            v = &mut v[equal..];
            ancestor = None;
            continue;
        }
        let below = partition_below(v, pivot);
        let (left, right) = v.split_at_mut(below);
        quicksort(left, ancestor, limit);
        ancestor = Some(pivot);
        v = right;
    }
}

/// Moves the keys below `bound` to the front, keeping no order, and returns how many there
/// are. Each step moves the gap left by the previous key one place right (a cyclic
/// permutation), so no step branches on the data.
#[inline(never)]
fn partition_below(v: &mut [u64], bound: u64) -> usize {
    let len = v.len();
    if len == 0 {
        return 0;
    }
    let base = v.as_mut_ptr();
    // SAFETY: every pointer stays inside `v`: `right` runs over `1..len`, the gap is the place
    // `right` left, and `lt <= gap < right`. The first key is held in `first` while its place is
    // the gap.
    unsafe {
        let first = *base;
        let mut lt = 0usize;
        let mut gap = base;
        let mut right = base.add(1);
        let end = base.add(len);
        let mut step = |right: &mut *mut u64| {
            let x = **right;
            let lt_ptr = base.add(lt);
            *gap = *lt_ptr;
            *lt_ptr = x;
            lt += usize::from(x < bound);
            gap = *right;
            *right = right.add(1);
        };
        // Unrolled, as each pass around the loop costs the guest an epoch check as well.
        while end.offset_from(right) >= 8 {
            for _ in 0..8 {
                step(&mut right);
            }
        }
        while right < end {
            step(&mut right);
        }
        let lt_ptr = base.add(lt);
        *gap = *lt_ptr;
        *lt_ptr = first;
        lt + usize::from(first < bound)
    }
}

fn median3(a: u64, b: u64, c: u64) -> u64 {
    a.max(b).min(a.min(b).max(c))
}

/// The median of three keys for short slices; for longer ones, the median of three medians
/// taken recursively over eighths, as the standard library does, so a large slice's pivot is
/// the pseudo-median of several hundred keys.
fn choose_pivot(v: &[u64]) -> u64 {
    let eighth = v.len() / 8;
    let (a, b, c) = (0, eighth * 4, eighth * 7);
    if v.len() < 64 {
        median3(v[a], v[b], v[c])
    } else {
        median3_rec(v, a, b, c, eighth)
    }
}

fn median3_rec(v: &[u64], a: usize, b: usize, c: usize, n: usize) -> u64 {
    if n < 8 {
        return median3(v[a], v[b], v[c]);
    }
    let n8 = n / 8;
    median3(
        median3_rec(v, a, a + n8 * 4, a + n8 * 7, n8),
        median3_rec(v, b, b + n8 * 4, b + n8 * 7, n8),
        median3_rec(v, c, c + n8 * 4, c + n8 * 7, n8),
    )
}

fn heapsort(v: &mut [u64]) {
    let len = v.len();
    for node in (0..len / 2).rev() {
        sift_down(v, node, len);
    }
    for end in (1..len).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

fn sift_down(v: &mut [u64], mut node: usize, len: usize) {
    loop {
        let mut child = 2 * node + 1;
        if child >= len {
            return;
        }
        if child + 1 < len && v[child] < v[child + 1] {
            child += 1;
        }
        if v[node] >= v[child] {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

/// Sorts up to [`SMALL`] keys: padded with `u64::MAX` to eight and put through an optimal
/// sorting network (19 compare-exchanges in 6 layers), without a data-dependent branch.
fn sort_small(v: &mut [u64]) {
    let mut k: [u64; SMALL] = std::array::from_fn(|i| v.get(i).copied().unwrap_or(u64::MAX));
    // Written out, so that it compiles to straight-line code.
    macro_rules! exchange {
        ($(($a:literal, $b:literal)),*) => {$(
            let (x, y) = (k[$a], k[$b]);
            k[$a] = x.min(y);
            k[$b] = x.max(y);
        )*};
    }
    exchange!((0, 2), (1, 3), (4, 6), (5, 7));
    exchange!((0, 4), (1, 5), (2, 6), (3, 7));
    exchange!((0, 1), (2, 3), (4, 5), (6, 7));
    exchange!((2, 4), (3, 5));
    exchange!((1, 4), (3, 6));
    exchange!((1, 2), (3, 4), (5, 6));
    for (slot, key) in v.iter_mut().zip(k) {
        *slot = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    fn check(what: &str, input: Vec<u64>) {
        let mut expected = input.clone();
        expected.sort_unstable();
        let mut actual = input;
        sort(&mut actual);
        assert!(actual == expected, "{what}, {} keys", actual.len());
    }

    /// Inputs that have broken quicksorts: runs, reversals, few distinct values, extremes.
    fn patterns(n: usize, rng: &mut Rng) -> Vec<(&'static str, Vec<u64>)> {
        let n64 = n as u64;
        vec![
            ("random", (0..n).map(|_| rng.next()).collect()),
            ("sorted", (0..n64).collect()),
            ("reversed", (0..n64).rev().collect()),
            ("all equal", vec![7; n]),
            ("all u64::MAX", vec![u64::MAX; n]),
            ("two values", (0..n).map(|_| rng.next() % 2).collect()),
            ("few values", (0..n).map(|_| rng.next() % 5).collect()),
            (
                "extremes",
                (0..n)
                    .map(|_| [0, u64::MAX, 1, u64::MAX - 1][(rng.next() % 4) as usize])
                    .collect(),
            ),
            ("organ pipe", (0..n64).map(|i| i.min(n64 - i)).collect()),
            ("sawtooth", (0..n64).map(|i| i % 17).collect()),
            (
                "sorted, a few swapped",
                (0..n64)
                    .map(|i| if i % 100 == 7 { n64 - i } else { i })
                    .collect(),
            ),
        ]
    }

    #[test]
    fn select_finds_the_sorted_keys() {
        let mut rng = Rng(6);
        for n in [1, 2, 9, 64, 65, 100, 1000, 10_007] {
            for (what, input) in patterns(n, &mut rng) {
                let mut expected = input.clone();
                expected.sort_unstable();
                let mut ranks: Vec<usize> = (0..12).map(|_| rng.next() as usize % n).collect();
                ranks.extend([0, n - 1]);
                ranks.sort_unstable();
                let mut v = input;
                let found = select(&mut v, &ranks);
                let wanted: Vec<u64> = ranks.iter().map(|&r| expected[r]).collect();
                assert!(found == wanted, "{what}, {n} keys");
            }
        }
    }

    #[test]
    fn agrees_with_sort_unstable() {
        let mut rng = Rng(1);
        let sizes = (0..=70).chain([100, 127, 128, 129, 1000, 4096, 100_000]);
        for n in sizes {
            for (what, input) in patterns(n, &mut rng) {
                check(what, input);
            }
        }
    }

    /// With the limit at 0 heapsort sorts the whole slice; at 1 to 3 it takes over the parts
    /// of a partition already under way.
    #[test]
    fn heapsort_takes_over_when_the_limit_runs_out() {
        let mut rng = Rng(2);
        for limit in 0..=3 {
            for n in [0, 1, 2, 9, 100, 1001] {
                for (what, input) in patterns(n, &mut rng) {
                    let mut expected = input.clone();
                    expected.sort_unstable();
                    let mut actual = input;
                    quicksort(&mut actual, None, limit);
                    assert!(actual == expected, "{what}, {n} keys, limit {limit}");
                }
            }
        }
    }

    /// By the 0-1 principle, a network that sorts every sequence of zeros and ones sorts
    /// everything; checked for every length it is used at.
    #[test]
    fn the_network_sorts_every_zero_one_input() {
        for len in 0..=SMALL {
            for bits in 0u32..1 << len {
                let input: Vec<u64> = (0..len).map(|i| u64::from(bits >> i & 1)).collect();
                let mut expected = input.clone();
                expected.sort_unstable();
                let mut actual = input;
                sort_small(&mut actual);
                assert_eq!(actual, expected);
            }
        }
    }

    #[test]
    fn partition_splits_at_the_bound() {
        let mut rng = Rng(3);
        for n in [0, 1, 2, 8, 9, 17, 1000] {
            let input: Vec<u64> = (0..n).map(|_| rng.next() % 50).collect();
            for bound in [0, 1, 25, 49, 50, u64::MAX] {
                let mut v = input.clone();
                let below = partition_below(&mut v, bound);
                assert_eq!(below, input.iter().filter(|&&x| x < bound).count());
                assert!(v[..below].iter().all(|&x| x < bound));
                assert!(v[below..].iter().all(|&x| x >= bound));
                let (mut a, mut b) = (v, input.clone());
                a.sort_unstable();
                b.sort_unstable();
                assert_eq!(a, b, "a permutation of the input");
            }
        }
    }
}
