//! Folding (NFKC, accents, confusables, zero-width, apostrophes) and tokenising.
//!
//! Folding keeps letter case (the matcher needs it for "capitalised mid-sentence") and keeps,
//! for every folded ASCII character, the byte range of the original character it came from, so a
//! hit can quote the words exactly as written.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One folded ASCII character and the original byte range it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fc {
    pub c: u8,
    pub os: u32,
    pub oe: u32,
}

// Separator flags: what stood between a token and the one before it.
pub(crate) const S_SPACE: u16 = 1;
/// Sentence end: . ! ? newline. A hard break for names; the next word starts a sentence.
pub(crate) const S_SENT: u16 = 2;
/// Clause break: ':' or ';'. A hard break for names, but what follows is not sentence-initial.
pub(crate) const S_CLAUSE: u16 = 2048;
pub(crate) const S_COMMA: u16 = 4;
/// No separator at all: a camelCase boundary.
pub(crate) const S_JOINED: u16 = 8;
/// Digits between letters ("olivia2smith").
pub(crate) const S_DIGIT: u16 = 16;
pub(crate) const S_HASH: u16 = 32;
pub(crate) const S_AT: u16 = 64;
/// An apostrophe inside a word ("O'Neill").
pub(crate) const S_APOS: u16 = 128;
pub(crate) const S_AMP: u16 = 256;
/// Other punctuation: - _ / ( ) quotes and the like.
pub(crate) const S_OTHER: u16 = 512;
/// A dot that ends an abbreviation or an initial ("Mrs.", "O."), not a sentence.
pub(crate) const S_DOT: u16 = 1024;

/// A word of folded text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// Range in the folded lowercase buffer.
    pub s: u32,
    pub e: u32,
    /// Range in the original text.
    pub os: u32,
    pub oe: u32,
    /// Separator flags before this token (0 for the first token of the text if nothing precedes).
    pub sep: u16,
    /// First letter upper case as written.
    pub cap: bool,
    /// Followed by a possessive 's or a trailing apostrophe ("Smiths'").
    pub poss: bool,
    /// Immediately followed by a dot.
    pub dot: bool,
    /// Followed by an apostrophe and more letters (the "O" of "O'Neill").
    pub apos_next: bool,
    /// Followed by a number, with at most spaces between ("May 20", "olivia2smith").
    pub num_after: bool,
}

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{180E}'
            | '\u{034F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}'
    )
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\u{2018}'
            | '\u{2019}'
            | '\u{201B}'
            | '\u{02BC}'
            | '\u{02B9}'
            | '\u{FF07}'
            | '\u{00B4}'
            | '`'
    )
}

/// Scripts whose letters are commonly used to disguise Latin ones.
fn confusable_script(c: char) -> bool {
    matches!(c as u32, 0x0370..=0x03FF | 0x0400..=0x052F | 0x0530..=0x058F | 0x13A0..=0x13FF | 0x1D00..=0x1D7F)
}

fn push_ascii(out: &mut Vec<Fc>, s: &str, os: u32, oe: u32) {
    for b in s.bytes() {
        if b.is_ascii() {
            out.push(Fc { c: b, os, oe });
        }
    }
}

fn fold_char(c: char, os: u32, oe: u32, out: &mut Vec<Fc>) {
    if is_zero_width(c) {
        return;
    }
    if is_apostrophe(c) {
        out.push(Fc { c: b'\'', os, oe });
        return;
    }
    if matches!(c, '\u{2010}'..='\u{2015}' | '\u{2212}') {
        out.push(Fc { c: b'-', os, oe });
        return;
    }
    if matches!(c, '\u{2028}' | '\u{2029}' | '\u{0085}') {
        out.push(Fc { c: b'\n', os, oe });
        return;
    }
    if c.is_whitespace() {
        out.push(Fc { c: b' ', os, oe });
        return;
    }
    for d in std::iter::once(c).nfkc() {
        if d.is_ascii() {
            out.push(Fc { c: d as u8, os, oe });
            continue;
        }
        if is_combining_mark(d) || is_zero_width(d) {
            continue;
        }
        if confusable_script(d) {
            let mut tmp = [0u8; 4];
            let ds: &str = d.encode_utf8(&mut tmp);
            let mut buf = [0u8; 8];
            let mut n = 0;
            let mut ok = true;
            for k in unicode_security::skeleton(ds) {
                if k.is_ascii_alphabetic() && n < buf.len() {
                    buf[n] = k as u8;
                    n += 1;
                } else if !is_combining_mark(k) {
                    ok = false;
                    break;
                }
            }
            if ok && n > 0 {
                // Keep the case of the original letter where the skeleton lost it.
                let upper = d.is_uppercase();
                for &b in &buf[..n] {
                    let b = if upper { b.to_ascii_uppercase() } else { b };
                    out.push(Fc { c: b, os, oe });
                }
                continue;
            }
        }
        if let Some(s) = deunicode::deunicode_char(d) {
            push_ascii(out, s, os, oe);
        }
    }
}

/// Folds text to ASCII characters (case kept) with their original ranges.
pub(crate) fn fold(text: &str, out: &mut Vec<Fc>) {
    out.clear();
    out.reserve(text.len());
    if text.is_ascii() {
        for (i, b) in text.bytes().enumerate() {
            let b = if b == b'`' { b'\'' } else { b };
            out.push(Fc {
                c: b,
                os: i as u32,
                oe: i as u32 + 1,
            });
        }
        return;
    }
    for (i, c) in text.char_indices() {
        let os = i as u32;
        let oe = (i + c.len_utf8()) as u32;
        if c.is_ascii() {
            let b = if c == '`' { b'\'' } else { c as u8 };
            out.push(Fc { c: b, os, oe });
        } else {
            fold_char(c, os, oe, out);
        }
    }
}

/// Abbreviations after which a dot does not end a sentence.
fn is_abbrev(w: &str) -> bool {
    matches!(
        w,
        "mr" | "mrs"
            | "ms"
            | "mx"
            | "dr"
            | "st"
            | "prof"
            | "rev"
            | "revd"
            | "mt"
            | "no"
            | "vs"
            | "etc"
            | "eg"
            | "ie"
    )
}

/// Name prefixes a camelCase boundary does not split: "McDonald", "MacKenzie", "DeShawn".
fn no_camel_split(w: &[u8]) -> bool {
    matches!(
        w,
        b"mc" | b"mac" | b"de" | b"di" | b"da" | b"la" | b"le" | b"du"
    )
}

/// Leetspeak value of a character inside a word, if any.
#[inline]
fn leet(c: u8, one: u8) -> Option<u8> {
    Some(match c {
        b'0' => b'o',
        b'1' => one,
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        b'@' => b'a',
        b'$' => b's',
        _ => return None,
    })
}

/// Does the folded text hold a leetspeak character next to a letter?
pub(crate) fn has_leet(fc: &[Fc]) -> bool {
    let n = fc.len();
    (0..n).any(|k| {
        leet(fc[k].c, b'i').is_some()
            && ((k > 0 && fc[k - 1].c.is_ascii_alphabetic())
                || (k + 1 < n && fc[k + 1].c.is_ascii_alphabetic()))
    })
}

/// Splits folded characters into tokens. With `leet = Some(one)`, leetspeak digits and symbols
/// inside or next to letters are read as letters ('1' as `one`).
pub(crate) fn tokenize(
    fc: &[Fc],
    filename: bool,
    leet_one: Option<u8>,
    buf: &mut String,
    toks: &mut Vec<Token>,
) {
    buf.clear();
    toks.clear();
    let n = fc.len();
    let mut sep: u16 = 0;
    let mut k = 0;
    let letter_at = |k: usize, start: bool| -> Option<u8> {
        let c = fc[k].c;
        if c.is_ascii_alphabetic() {
            return Some(c);
        }
        let one = leet_one?;
        // '@' opening a word is a handle, not an 'a'.
        if start && c == b'@' {
            return None;
        }
        let v = leet(c, one)?;
        // A leet digit counts only when a letter or another leet character touches it.
        let touches = |j: usize| fc[j].c.is_ascii_alphabetic() || leet(fc[j].c, one).is_some();
        let near = (k > 0 && fc[k - 1].c.is_ascii_alphabetic()) || (k + 1 < n && touches(k + 1));
        if c.is_ascii_digit() {
            // all-digit runs stay numbers
            let mut j = k;
            while j > 0 && fc[j - 1].c.is_ascii_digit() {
                j -= 1;
            }
            let mut m = k;
            while m < n && fc[m].c.is_ascii_digit() {
                m += 1;
            }
            let letter_near = (j > 0 && fc[j - 1].c.is_ascii_alphabetic())
                || (m < n && fc[m].c.is_ascii_alphabetic());
            if !letter_near {
                return None;
            }
        }
        near.then_some(v)
    };
    while k < n {
        if let Some(first) = letter_at(k, true) {
            let start = buf.len();
            let os = fc[k].os;
            let cap = first.is_ascii_uppercase();
            let mut prev_lower = false;
            let mut camel = false;
            while k < n {
                let Some(ch) = letter_at(k, false) else { break };
                if prev_lower
                    && ch.is_ascii_uppercase()
                    && !no_camel_split(&buf.as_bytes()[start..])
                {
                    camel = true;
                    break;
                }
                buf.push(ch.to_ascii_lowercase() as char);
                prev_lower = ch.is_ascii_lowercase();
                k += 1;
            }
            let oe = fc[k - 1].oe;
            let mut tok = Token {
                s: start as u32,
                e: buf.len() as u32,
                os,
                oe,
                sep,
                cap,
                poss: false,
                dot: false,
                apos_next: false,
                num_after: false,
            };
            sep = 0;
            if camel {
                sep = S_JOINED;
            } else if k < n && fc[k].c == b'\'' {
                let next = fc.get(k + 1).map(|f| f.c);
                let after = fc.get(k + 2).map(|f| f.c);
                if matches!(next, Some(b's' | b'S'))
                    && !after.is_some_and(|a| a.is_ascii_alphanumeric())
                {
                    tok.poss = true;
                    k += 2;
                } else if next.is_some_and(|c| c.is_ascii_alphabetic()) {
                    tok.apos_next = true;
                    sep = S_APOS;
                    k += 1;
                } else if buf.ends_with('s') {
                    tok.poss = true;
                    k += 1;
                }
            }
            toks.push(tok);
            continue;
        }
        let c = fc[k].c;
        k += 1;
        let just_after_token = sep == 0 && !toks.is_empty();
        match c {
            b'0'..=b'9' => {
                if sep & !S_SPACE == 0 {
                    if let Some(t) = toks.last_mut() {
                        t.num_after = true;
                    }
                }
                sep |= S_DIGIT;
            }
            b' ' | b'\t' => sep |= S_SPACE,
            b'\n' | b'\r' => sep |= S_SENT | S_SPACE,
            b'.' => {
                if filename {
                    sep |= S_OTHER;
                    continue;
                }
                let mut soft = false;
                // "olivia.smith", "www.school.uk": a dot with a word right after it joins.
                if fc.get(k).is_some_and(|f| f.c.is_ascii_alphanumeric()) {
                    if just_after_token {
                        toks.last_mut().expect("non-empty").dot = true;
                    }
                    sep |= S_OTHER;
                    continue;
                }
                if just_after_token {
                    let t = toks.last_mut().expect("non-empty");
                    t.dot = true;
                    let w = &buf[t.s as usize..t.e as usize];
                    soft = w.len() == 1 || is_abbrev(w);
                }
                sep |= if soft { S_DOT } else { S_SENT };
            }
            b'!' | b'?' => sep |= if filename { S_OTHER } else { S_SENT },
            b':' | b';' => sep |= if filename { S_OTHER } else { S_CLAUSE },
            b',' => sep |= S_COMMA,
            b'#' => sep |= S_HASH,
            b'@' => sep |= S_AT,
            b'&' | b'+' => sep |= S_AMP,
            _ => sep |= S_OTHER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut fc = Vec::new();
        fold(text, &mut fc);
        let mut buf = String::new();
        let mut toks = Vec::new();
        tokenize(&fc, false, None, &mut buf, &mut toks);
        toks.iter()
            .map(|t| buf[t.s as usize..t.e as usize].to_string())
            .collect()
    }

    #[test]
    fn folds_and_splits() {
        assert_eq!(words("Zoë's OliviaSmith"), ["zoe", "olivia", "smith"]);
        assert_eq!(words("ＯＬＩＶＩＡ"), ["olivia"]);
        assert_eq!(words("Оlivia"), ["olivia"]); // Cyrillic O
        assert_eq!(words("Oli\u{200B}via"), ["olivia"]);
        assert_eq!(words("olivia_smith-2026.jpg"), ["olivia", "smith", "jpg"]);
        assert_eq!(words("O\u{2019}Neill"), ["o", "neill"]);
        assert_eq!(words("McDonald MacKenzie"), ["mcdonald", "mackenzie"]);
        assert_eq!(words("olivia2smith"), ["olivia", "smith"]);
    }
}
