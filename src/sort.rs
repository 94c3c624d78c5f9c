//! tug's two sorts, in place of core's (~3 KB of code for each type it
//! sorts): `small`, a stable insertion sort for the few short lists
//! (a container's ports and networks, telchap's rows, a config
//! directory's files), and `heap`, O(n log n) for lists that may be long
//! (a config's messages, a job's `after`), where the keys are unique.

/// Stable; quadratic, for lists of a few items.
pub fn small<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// O(n log n) in a few hundred bytes of code (core's sorts cost ~3 KB
/// here); for unique keys, where stability is moot.
pub fn heap<T: PartialOrd>(v: &mut [T]) {
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v[child] < v[child + 1] {
            child += 1;
        }
        if v[root] >= v[child] {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for i in (0..v.len() / 2).rev() {
        sift(v, i, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_stably() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        super::small(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
        let mut empty: [u8; 0] = [];
        super::small(&mut empty, |a, b| a < b);
    }

    #[test]
    fn heap_sorts() {
        let mut v: alloc::vec::Vec<u32> = (0..200).map(|i| i * 7919 % 211).collect();
        super::heap(&mut v);
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
        let mut empty: [u8; 0] = [];
        super::heap(&mut empty);
    }
}
