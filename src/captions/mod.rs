//! Captions: does any text that travels with a photo name a student?
//!
//! Text arrives already extracted (sidecar, embedded metadata, file name); this stage folds it,
//! tokenises it and matches it against every student's name forms. It knows names, not photos.
//!
//! **Folding** (`fold.rs`): NFKC, accents stripped (deunicode), Greek/Cyrillic/Armenian/Cherokee
//! look-alikes mapped through the Unicode confusables skeleton, zero-width characters and soft
//! hyphens dropped, curly apostrophes made straight; letter case is kept for the context rules.
//! **Tokens**: split at spaces and punctuation, snake/kebab case, camelCase (but not after
//! Mc/Mac/De/La... so "McDonald" stays one word), letters/digits; `'s` and a trailing `'` mark a
//! possessive; `#tag` and `@handle` are marked.
//!
//! **Index**: every name key (first, known-as, nickname, surname, and full names first+last,
//! last+first, first+middles+last, known-as+last, nickname+last) is stored with its words run
//! together ("vanderberg", "oneill", "smithjones", "oliviasmith"). A span of up to eight
//! consecutive text words matches a key when its words, run together, equal it, so
//! "Van Der Berg", "vanderberg", "O Neill", "O'Neill", "Smith-Jones", "#OliviaSmith" and
//! "olivia_smith.jpg" are all one lookup each; a set of key-prefix hashes stops a span early.
//! Typos (one edit incl. transposition) are checked only beside an exact other half of the name,
//! and for run-together names through a SymSpell deletion index. Leetspeak is a second reading
//! of the text (1 as i and as l), used for name combinations only.
//!
//! **Severity**: see [`Severity`]; the rules are in `NameMatcher::evaluate` and `weak_ok`.
//! Choices beyond the text:
//! - A name part is *weak* when it is a common English word (lowercase entry of SCOWL size 35,
//!   `fixtures/captions/wordlist.txt`) or has at most two letters ("Jo", "Al"): alone it is only
//!   ever Review, and only in a name-like context (cue, capitalised mid-sentence, all-caps text,
//!   #tag, a file named just that). Sentence-initial it counts only as the whole sentence, a
//!   possessive or the head of a list ("Grace and Olivia..."). Not after a function word
//!   ("in May", "the Rose Garden", "we Will"), not as a date ("May 20"), not followed by another
//!   capitalised word that is no register name ("Grace Darling", "Summer Fair").
//! - A weak surname alone ("Green", "Hill", "Smith") needs a #tag or a congratulation before it
//!   ("well done Smith"); other surnames alone are always Review.
//! - After Mr/Mrs/Ms/Miss/Mx/Dr/Sir/Madam/Dame/Prof/Rev/Lord/Lady (and St/Saint, for "St Mary's")
//!   the following name (initials, particles, joined parts, any name form starting there) is
//!   staff, not a student. Lowercase "miss", or "Miss" after "will/we/to...", is the verb.
//! - A hit inside another student's longer Block ("Rose" in "Olivia Rose Smith") is dropped.

mod fold;
mod util;

use fold::{
    Token, S_AMP, S_APOS, S_AT, S_CLAUSE, S_COMMA, S_DIGIT, S_DOT, S_HASH, S_JOINED, S_OTHER,
    S_SENT, S_SPACE,
};
use serde::Serialize;
use std::cell::OnceCell;
use util::{
    is_common_first_name, is_common_word, is_place, is_place_prefix, within_one_edit, FxMap, FxSet,
    Prefixes, Roll,
};

/// The name forms of one student, as the register holds them.
#[derive(Debug, Clone, Default)]
pub struct PersonName {
    pub id: String,
    pub first_name: String,
    pub middle_names: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    /// The surname the student goes by, if not the legal one (MIS "Preferred Surname").
    pub preferred_surname: Option<String>,
    pub nicknames: Vec<String>,
}

/// Where a piece of text came from: sidecar file, embedded metadata field, or the file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    Sidecar,
    /// An embedded metadata field, e.g. "XMP dc:description".
    Embedded(String),
    FileName,
    /// A line of text read in the picture itself (OCR: a certificate, badge, bib, label).
    InPicture,
}

impl TextSource {
    /// "sidecar", "embedded XMP dc:description", "filename".
    pub fn label(&self) -> String {
        match self {
            TextSource::Sidecar => "sidecar".into(),
            TextSource::Embedded(f) => format!("embedded {f}"),
            TextSource::FileName => "filename".into(),
            TextSource::InPicture => "text in the picture".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A possible mention (a first name that is also a common word, a surname alone, a nickname).
    Review,
    /// The text names the student.
    Block,
}

/// One student named in one piece of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptionHit {
    pub student_id: String,
    pub severity: Severity,
    /// Which name form matched, in words: "full name", "first name + initial", "surname alone"...
    pub form: String,
    /// One name part alone (a first name, surname or nickname), not a combination of them:
    /// what a second guess at a misread line may not rest on (`picture_text`).
    #[serde(skip)]
    pub part: bool,
    /// The words as written in the text.
    pub matched: String,
    /// `TextSource::label()` of where the text came from.
    pub source: String,
    /// Why a name form that would name a student is only a Review here (a famous person, a
    /// place, a shop), in words. `None` when nothing was demoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a hit was demoted to Review; rendered into `CaptionHit::note` with the words quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    /// A first name followed by a capitalised word that is no surname of any student with that
    /// first name: likely someone else (`os..oe` is that word).
    SomeoneElse { os: u32, oe: u32 },
    /// The words are also a shop's, brand's or organisation's name.
    Brand,
    /// The name is also an everyday English word.
    Word,
    /// Found only inside a #hashtag or @handle, after the cue `os..oe` ("welldone", "team").
    Tag { os: u32, oe: u32 },
    /// "Mary" or "Joseph" in a text about the nativity: likely the part in the play.
    Nativity,
}

/// Which name form a key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    First,
    Preferred,
    Nick,
    Last,
    Full(Full),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    FirstLast,
    LastFirst,
    FirstMiddleLast,
    PreferredLast,
    LastPreferred,
    NickLast,
}

impl Full {
    fn form(self) -> &'static str {
        match self {
            Full::FirstLast | Full::LastFirst | Full::FirstMiddleLast => "full name",
            Full::PreferredLast | Full::LastPreferred => "known-as name + surname",
            Full::NickLast => "nickname + surname",
        }
    }
    /// Written surname first, so "Smith, Olivia" may carry a comma.
    fn reversed(self) -> bool {
        matches!(self, Full::LastFirst | Full::LastPreferred)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    student: u32,
    kind: Kind,
    /// A single name part that is a common English word or has at most two letters: alone it
    /// only counts in a name-like context, and only as Review.
    weak: bool,
}

#[derive(Debug)]
struct Student {
    id: String,
    first: Box<str>,
    preferred: Option<Box<str>>,
    last: Box<str>,
    /// First letters of the first and known-as names.
    first_initials: Vec<u8>,
    /// First letters of each word of the surname ("van der Berg": v, d, b).
    last_initials: Vec<u8>,
}

/// Tokens of a span longer than this are never one name.
const MAX_SPAN: usize = 8;
/// Run-together full names shorter than this are not looked up with typos.
const MIN_TYPO_JOINED: usize = 8;

/// Matches text against every student's name forms. Build once per run; share across threads.
#[derive(Default)]
pub struct NameMatcher {
    students: Vec<Student>,
    /// Folded name key (words run together) → who has it, as what.
    index: FxMap<Box<str>, Vec<Entry>>,
    /// Every prefix of every key: lets a span stop growing as soon as it cannot match.
    prefixes: Prefixes,
    max_key_len: usize,
    /// SymSpell-style deletion neighbourhood of run-together full names: the key and every
    /// one-deletion of it → (student, form). Finds "oliviasmiht" without scanning the register.
    typo_index: FxMap<Box<str>, Vec<(u32, Full)>>,
    typo_len: (usize, usize),
    /// Deletion neighbourhood of first and known-as names of five letters or more that are no
    /// common word: finds "Siobahn" after "well done".
    first_typo: FxMap<Box<str>, Vec<u32>>,
    first_typo_max: usize,
}

impl std::fmt::Debug for NameMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameMatcher")
            .field("students", &self.students.len())
            .field("keys", &self.index.len())
            .field("typo_keys", &self.typo_index.len())
            .field("first_name_typo_keys", &self.first_typo.len())
            .finish()
    }
}

/// Folds a register name to its key (words run together) and the first letter of each word.
fn name_key(
    s: &str,
    fc: &mut Vec<fold::Fc>,
    buf: &mut String,
    toks: &mut Vec<Token>,
) -> (String, Vec<u8>) {
    fold::fold(s, fc);
    fold::tokenize(fc, false, None, buf, toks);
    let mut key = String::new();
    let mut initials = Vec::new();
    for t in toks.iter() {
        let w = &buf[t.s as usize..t.e as usize];
        key.push_str(w);
        initials.push(w.as_bytes()[0]);
    }
    (key, initials)
}

/// Staff and place titles: the name after them is not a student's.
fn is_title_word(w: &str) -> bool {
    matches!(
        w,
        "mr" | "mrs"
            | "ms"
            | "mx"
            | "dr"
            | "sir"
            | "madam"
            | "madame"
            | "dame"
            | "prof"
            | "professor"
            | "mister"
            | "missus"
            | "rev"
            | "revd"
            | "reverend"
            | "st"
            | "saint"
            | "lady"
            | "lord"
    )
}

/// Adult titles and roles added to the staff titles: the name after them is an adult's.
/// Counted only when capitalised ("Coach Davies", "PC Hughes"; not "coach trip").
fn is_adult_title_word(w: &str) -> bool {
    matches!(
        w,
        "coach"
            | "pc"
            | "pcso"
            | "mp"
            | "cllr"
            | "councillor"
            | "sgt"
            | "sergeant"
            | "inspector"
            | "constable"
            | "father"
            | "fr"
            | "canon"
            | "bishop"
            | "pastor"
            | "imam"
            | "rabbi"
            | "vicar"
            | "judge"
            | "mayor"
            | "king"
            | "queen"
            | "prince"
            | "princess"
            | "duke"
            | "duchess"
            | "uncle"
            | "auntie"
            | "aunty"
            | "grandma"
            | "grandad"
            | "grandpa"
            | "granny"
            | "nana"
            | "nanny"
            | "chef"
            | "nurse"
            | "officer"
            | "firefighter"
    )
}

/// Lowercase words that may sit inside a multi-part surname after a title ("Mrs van der Berg").
fn is_particle(w: &str) -> bool {
    matches!(
        w,
        "van"
            | "der"
            | "den"
            | "de"
            | "von"
            | "la"
            | "le"
            | "du"
            | "da"
            | "di"
            | "ter"
            | "ten"
            | "mc"
            | "mac"
            | "o"
    )
}

/// Words that, right before a name, make it likely a name is meant.
fn is_cue_word(w: &str) -> bool {
    matches!(
        w,
        "go" | "with"
            | "and"
            | "congratulations"
            | "congrats"
            | "thanks"
            | "welcome"
            | "meet"
            | "love"
            | "dear"
            | "hi"
            | "hello"
            | "bravo"
            | "hooray"
            | "hurray"
            | "featuring"
            | "starring"
    )
}

/// Is this a month name? ("May was wet" is the month).
fn is_month(w: &str) -> bool {
    matches!(
        w,
        "january" | "february" | "march" | "april" | "may" | "june" | "july" | "august"
    ) || matches!(w, "september" | "october" | "november" | "december")
}

/// Verbs after which a capitalised surname-word is a person: "Baker scores again".
fn is_action_verb(w: &str) -> bool {
    matches!(
        w,
        "scores"
            | "scored"
            | "wins"
            | "won"
            | "saves"
            | "saved"
            | "sang"
            | "sings"
            | "came"
            | "comes"
            | "played"
            | "plays"
            | "ran"
            | "runs"
            | "finished"
            | "finishes"
            | "took"
            | "takes"
            | "made"
            | "makes"
            | "got"
            | "gets"
            | "read"
            | "reads"
            | "wrote"
            | "writes"
            | "painted"
            | "paints"
            | "drew"
            | "draws"
            | "danced"
            | "dances"
            | "swam"
            | "swims"
            | "jumped"
            | "jumps"
            | "climbed"
            | "climbs"
            | "led"
            | "leads"
            | "helped"
            | "helps"
            | "performed"
            | "performs"
            | "received"
            | "receives"
            | "earned"
            | "earns"
            | "achieved"
            | "achieves"
            | "represented"
            | "represents"
            | "joined"
            | "joins"
            | "completed"
            | "completes"
            | "celebrated"
            | "celebrates"
            | "built"
            | "builds"
            | "baked"
            | "designed"
            | "created"
            | "collected"
            | "presented"
            | "kicked"
            | "caught"
            | "threw"
            | "tackled"
            | "passed"
            | "dribbled"
            | "batted"
            | "bowled"
            | "raced"
            | "races"
            | "gave"
            | "gives"
            | "told"
            | "tells"
            | "said"
            | "says"
            | "again"
    )
}

/// Words after a sentence-initial common-word name that make it a person: an action verb or
/// "was/has/had/will". "is" is left out: "Grace is a value we talk about".
fn is_person_verb(w: &str) -> bool {
    is_action_verb(w)
        || matches!(
            w,
            "was"
                | "has"
                | "had"
                | "will"
                | "did"
                | "does"
                | "loved"
                | "loves"
                | "enjoyed"
                | "enjoys"
                | "tried"
                | "tries"
                | "worked"
                | "works"
                | "learned"
                | "learnt"
                | "practised"
                | "brought"
                | "showed"
                | "shows"
                | "became"
                | "shared"
                | "reached"
                | "raised"
                | "looked"
                | "found"
                | "finds"
                | "wore"
                | "dressed"
                | "acted"
                | "starred"
                | "stars"
                | "spoke"
                | "recited"
                | "explained"
                | "tidied"
                | "cooked"
                | "planted"
                | "grew"
                | "flew"
                | "went"
                | "goes"
                | "sat"
                | "stood"
                | "visited"
        )
}

/// Nouns after "the <Surname>" that make it a family: "the Jones twins".
fn is_family_noun(w: &str) -> bool {
    matches!(
        w,
        "twins"
            | "triplets"
            | "family"
            | "families"
            | "brothers"
            | "sisters"
            | "siblings"
            | "boys"
            | "girls"
            | "children"
            | "kids"
            | "cousins"
            | "household"
            | "clan"
    )
}

/// Capitalised words after a first name that are not a surname: "Olivia Year 4", "Grace Class".
fn is_not_surname(w: &str) -> bool {
    matches!(
        w,
        "year"
            | "yr"
            | "class"
            | "form"
            | "group"
            | "set"
            | "team"
            | "house"
            | "reception"
            | "nursery"
            | "and"
            | "or"
            | "star"
            | "aged"
            | "age"
            | "from"
            | "who"
            | "our"
    )
}

/// Words right before a place name that make it the place: "trip to Paris", "in Sydney".
fn is_place_cue(w: &str) -> bool {
    matches!(
        w,
        "to" | "in"
            | "at"
            | "from"
            | "visit"
            | "visited"
            | "visiting"
            | "visits"
            | "trip"
            | "near"
            | "around"
            | "toured"
            | "across"
            | "towards"
            | "via"
            | "into"
            | "of"
            | "outside"
            | "through"
            | "explored"
            | "exploring"
    )
}

/// Words after a place name that make it the place: "Lincoln Cathedral", "Preston Park".
fn is_place_feature(w: &str) -> bool {
    matches!(
        w,
        "cathedral"
            | "museum"
            | "park"
            | "garden"
            | "gardens"
            | "zoo"
            | "airport"
            | "station"
            | "opera"
            | "flower"
            | "show"
            | "north"
            | "south"
            | "east"
            | "west"
            | "city"
            | "united"
            | "town"
            | "olympics"
            | "bridge"
            | "castle"
            | "harbour"
            | "beach"
            | "road"
            | "street"
            | "hall"
            | "centre"
            | "library"
            | "market"
            | "county"
            | "fc"
            | "rovers"
            | "university"
            | "college"
            | "school"
            | "primary"
            | "academy"
            | "high"
            | "eye"
            | "tower"
            | "palace"
            | "abbey"
            | "minster"
            | "festival"
            | "marathon"
            | "pier"
            | "aquarium"
            | "arena"
            | "stadium"
            | "physic"
            | "bay"
            | "river"
            | "docks"
            | "lido"
            | "leisure"
            | "area"
    )
}

/// Cues that a #tag or @handle may run into a name: "#welldoneolivia", "#goteamgrace".
const TAG_CUES: &[&str] = &[
    "welldone",
    "welldoneto",
    "wd",
    "goteam",
    "team",
    "go",
    "gogo",
    "comeon",
    "congrats",
    "congratulations",
    "congratulationsto",
    "happybirthday",
    "hbd",
    "happybday",
    "thankyou",
    "thanks",
    "thankyouto",
    "proudof",
    "soproudof",
    "starofweek",
    "staroftheweek",
    "sotw",
    "bravo",
    "welove",
    "love",
    "meet",
    "hello",
    "welcome",
    "goodbye",
    "goodluck",
];

/// Shops, brands and organisations whose names are people's names or surnames, folded and run
/// together; a trailing "s" also matches a possessive ("Sainsbury's").
const BRANDS: &[&str] = &[
    "johnlewis",
    "sainsburys",
    "morrisons",
    "tesco",
    "asda",
    "aldi",
    "lidl",
    "waitrose",
    "marksandspencer",
    "marksspencer",
    "debenhams",
    "selfridges",
    "harveynichols",
    "fenwick",
    "fenwicks",
    "halfords",
    "tedbaker",
    "ford",
    "ferrari",
    "porsche",
    "honda",
    "peugeot",
    "raleigh",
    "boots",
    "currys",
    "argos",
    "timpson",
    "timpsons",
    "greggs",
    "purplemash",
    "seesaw",
    "tapestry",
    "classdojo",
    "timestablesrockstars",
    "ttrockstars",
    "numbots",
    "mathletics",
    "spellingshed",
    "oaknational",
    "bitesize",
    "lego",
    "dyson",
    "mcdonalds",
    "nandos",
    "primark",
    "hobbycraft",
    "waterstones",
    "whsmith",
    "jackwills",
    "joules",
    "clarks",
    "mothercare",
    "hamleys",
    "harrods",
    "lauraashley",
    "thomascook",
    "cadbury",
    "cadburys",
    "benandjerrys",
    "kelloggs",
    "heinz",
    "dennis",
    "cooperative",
    "morrison",
    "sainsbury",
    "barbour",
    "hollister",
    "superdrug",
    "wilko",
];

fn is_brand(k: &str) -> bool {
    static SET: std::sync::OnceLock<FxSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| BRANDS.iter().copied().collect())
        .contains(k)
}

/// Every prefix of every brand's name: most words stop at one look-up.
fn brand_prefixes() -> &'static Prefixes {
    static SET: std::sync::OnceLock<Prefixes> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut p = Prefixes::default();
        for b in BRANDS {
            p.insert(b);
        }
        p
    })
}

/// Token spans that are a brand's name: (first, end, one word?). Only spans that could hold one
/// of `mentions` are looked for: a brand is at most four words, so it starts at most three
/// words before the mention.
fn brand_spans(v: &View, mentions: &[Mention]) -> Vec<(usize, usize, bool)> {
    let n = v.n();
    let mut out = Vec::new();
    let mut cat = String::new();
    let mut start = vec![false; n];
    for m in mentions {
        start[m.i.saturating_sub(3)..=m.i].fill(true);
    }
    for i in (0..n).filter(|&i| start[i]) {
        cat.clear();
        let mut roll = Roll::default();
        for j in i..n.min(i + 4) {
            if j > i && (!v.soft(j) || v.toks[j - 1].poss) {
                break;
            }
            cat.push_str(v.w(j));
            roll = v.w(j).bytes().fold(roll, Roll::push);
            let Some(whole) = brand_prefixes().get(roll) else {
                break;
            };
            let poss = v.toks[j].poss && brand_prefixes().get(roll.push(b's')) == Some(true) && {
                cat.push('s');
                let b = is_brand(&cat);
                cat.pop();
                b
            };
            // One-word brands that are surnames ("Ford", "Morrison") count only as written:
            // possessive/plural, or capitalised before another capitalised word ("Ford Fiesta").
            let single_surname =
                j == i && matches!(cat.as_str(), "ford" | "morrison" | "sainsbury" | "dennis");
            if poss || (whole && is_brand(&cat) && !single_surname) {
                out.push((i, j + 1, j == i));
            } else if single_surname
                && v.toks[i].cap
                && j + 1 < n
                && v.toks[j + 1].sep == S_SPACE
                && v.toks[j + 1].cap
                && !is_person_verb(v.w(j + 1))
            {
                out.push((i, j + 1, true));
            }
        }
    }
    out
}

/// Adult roles: the name after them is an adult's, unless it is a student's full name
/// ("author Julia Donaldson", "Olympian Tom Daley").
fn is_role_word(w: &str) -> bool {
    matches!(
        w,
        "author"
            | "authors"
            | "illustrator"
            | "poet"
            | "olympian"
            | "paralympian"
            | "astronaut"
            | "novelist"
            | "storyteller"
            | "presenter"
            | "broadcaster"
            | "explorer"
            | "scientist"
    )
}

/// Tokens covered by an adult role: the capitalised words right after the role word.
fn role_tokens(v: &View) -> Option<Vec<bool>> {
    let n = v.n();
    let mut out: Option<Vec<bool>> = None;
    for t in 0..n.saturating_sub(1) {
        if !is_role_word(v.w(t)) {
            continue;
        }
        let s = out.get_or_insert_with(|| vec![false; n]);
        let mut k = t + 1;
        while k < n && k <= t + 3 && v.soft_no_comma(k) && v.toks[k].cap {
            s[k] = true;
            k += 1;
        }
    }
    out
}

fn is_function_word(w: &str) -> bool {
    matches!(
        w,
        "the"
            | "a"
            | "an"
            | "this"
            | "that"
            | "these"
            | "those"
            | "we"
            | "i"
            | "you"
            | "they"
            | "he"
            | "she"
            | "it"
            | "in"
            | "on"
            | "of"
            | "our"
            | "your"
            | "their"
            | "his"
            | "her"
            | "its"
            | "my"
            | "will"
            | "may"
            | "can"
            | "shall"
            | "would"
            | "could"
            | "should"
            | "must"
            | "might"
            | "to"
            | "for"
            | "until"
            | "till"
            | "next"
            | "last"
            | "every"
            | "each"
            | "some"
            | "no"
            | "not"
            | "all"
    )
}

/// Per-text facts the rules need.
struct Ctx {
    filename: bool,
    /// The text has letters and none of them is lower case: capitalisation says nothing.
    all_caps: bool,
    /// The text has at least one upper-case letter.
    any_upper: bool,
}

/// A student's name form found in one span of tokens [i, j).
#[derive(Debug, Clone, Copy)]
struct Mention {
    i: usize,
    j: usize,
    e: Entry,
}

#[derive(Debug, Clone, Copy)]
struct RawHit {
    student: u32,
    /// One name part alone (first name, surname, nickname), not a combination.
    part: bool,
    severity: Severity,
    form: &'static str,
    os: u32,
    oe: u32,
    note: Option<Note>,
}

/// What the rules ask about one span of tokens whose answer does not depend on which student
/// the span names, worked out at most once per span: a common first name is many students'
/// mention of the same words, and the place, brand and context checks cost more than the
/// per-student ones.
#[derive(Default)]
struct SpanFacts {
    span: (usize, usize),
    staff: OnceCell<bool>,
    role: OnceCell<bool>,
    in_brand: OnceCell<bool>,
    place: OnceCell<bool>,
    someone_else: OnceCell<Option<Note>>,
    weak_ok: OnceCell<bool>,
    surname_ok: OnceCell<bool>,
    /// `NameMatcher::not_a_typo` for the word after / before the span, in a given name's or the
    /// surname's place, next to a weak or a strong name part.
    not_a_typo: [OnceCell<bool>; 8],
}

impl SpanFacts {
    fn not_a_typo(&self, after: bool, surname_place: bool, weak: bool) -> &OnceCell<bool> {
        &self.not_a_typo[after as usize * 4 + surname_place as usize * 2 + weak as usize]
    }
}

/// The buffers one scan fills, kept per thread and reused: allocating and growing them for every
/// text cost more than matching most captions.
#[derive(Default)]
struct Scratch {
    fc: Vec<fold::Fc>,
    buf: String,
    toks: Vec<Token>,
    raw: Vec<RawHit>,
    mentions: Vec<Mention>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// A view of one tokenised text.
struct View<'a> {
    toks: &'a [Token],
    buf: &'a str,
}

impl View<'_> {
    #[inline]
    fn w(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.buf[t.s as usize..t.e as usize]
    }
    #[inline]
    fn n(&self) -> usize {
        self.toks.len()
    }
    /// Token `i` follows token `i - 1` within one phrase (no sentence or clause break).
    #[inline]
    fn soft(&self, i: usize) -> bool {
        i > 0 && i < self.n() && self.toks[i].sep & (S_SENT | S_CLAUSE) == 0
    }
    #[inline]
    fn soft_no_comma(&self, i: usize) -> bool {
        self.soft(i) && self.toks[i].sep & S_COMMA == 0
    }
    fn sentence_initial(&self, i: usize) -> bool {
        i == 0 || self.toks[i].sep & S_SENT != 0
    }
}

impl NameMatcher {
    pub fn new(people: &[PersonName]) -> Self {
        let mut m = NameMatcher::default();
        let mut fc = Vec::new();
        let mut buf = String::new();
        let mut toks = Vec::new();
        let mut typo_min = usize::MAX;
        let mut typo_max = 0;
        for p in people {
            let sid = m.students.len() as u32;
            let mut key = |s: &str| name_key(s, &mut fc, &mut buf, &mut toks);
            let (first, first_init) = key(&p.first_name);
            let (last, mut last_init) = key(&p.last_name);
            let middle: String = key(&p.middle_names).0;
            let preferred = p
                .preferred_name
                .as_deref()
                .map(&mut key)
                .map(|(k, _)| k)
                .filter(|k| !k.is_empty() && *k != first);
            let nicks: Vec<String> = p
                .nicknames
                .iter()
                .map(|n| key(n).0)
                .filter(|k| k.len() >= 2)
                .collect();
            let mut first_initials: Vec<u8> = first_init.first().copied().into_iter().collect();
            if let Some(b) = preferred.as_ref().and_then(|p| p.bytes().next()) {
                first_initials.push(b);
            }
            let add = |k: &str, kind: Kind, m: &mut NameMatcher| {
                if k.len() < 2 {
                    return;
                }
                let weak = !matches!(kind, Kind::Full(_)) && (k.len() <= 2 || is_common_word(k));
                let v = m.index.entry(k.into()).or_default();
                if !v.iter().any(|e| e.student == sid && e.kind == kind) {
                    v.push(Entry {
                        student: sid,
                        kind,
                        weak,
                    });
                }
            };
            if !first.is_empty() {
                add(&first, Kind::First, &mut m);
                // "Mary-Jane" is often just "Mary".
                if first_init.len() > 1 {
                    let (head, _) = name_key(
                        p.first_name.split(['-', ' ']).next().unwrap_or(""),
                        &mut fc,
                        &mut buf,
                        &mut toks,
                    );
                    if head.len() >= 3 {
                        add(&head, Kind::First, &mut m);
                    }
                }
            }
            if let Some(pk) = &preferred {
                add(pk, Kind::Preferred, &mut m);
            }
            for nk in &nicks {
                add(nk, Kind::Nick, &mut m);
            }
            if !last.is_empty() {
                add(&last, Kind::Last, &mut m);
                let mut fulls: Vec<(String, Full)> = Vec::new();
                if !first.is_empty() {
                    fulls.push((format!("{first}{last}"), Full::FirstLast));
                    fulls.push((format!("{last}{first}"), Full::LastFirst));
                    if !middle.is_empty() {
                        fulls.push((format!("{first}{middle}{last}"), Full::FirstMiddleLast));
                    }
                }
                if let Some(pk) = &preferred {
                    fulls.push((format!("{pk}{last}"), Full::PreferredLast));
                    fulls.push((format!("{last}{pk}"), Full::LastPreferred));
                    if !middle.is_empty() {
                        fulls.push((format!("{pk}{middle}{last}"), Full::FirstMiddleLast));
                    }
                }
                for nk in &nicks {
                    fulls.push((format!("{nk}{last}"), Full::NickLast));
                }
                for (k, f) in &fulls {
                    add(k, Kind::Full(*f), &mut m);
                    if k.len() >= MIN_TYPO_JOINED
                        && !matches!(f, Full::NickLast | Full::FirstMiddleLast)
                    {
                        typo_min = typo_min.min(k.len());
                        typo_max = typo_max.max(k.len());
                        let mut put = |d: &str| {
                            let v = m.typo_index.entry(d.into()).or_default();
                            if !v.iter().any(|(s, g)| *s == sid && g == f) {
                                v.push((sid, *f));
                            }
                        };
                        put(k);
                        for d in deletions(k) {
                            put(&d);
                        }
                    }
                }
            }
            // The surname the student goes by: the same forms as the legal one, matched exactly
            // (the one-typo index is kept for the legal surname).
            let psur = p
                .preferred_surname
                .as_deref()
                .map(|s| name_key(s, &mut fc, &mut buf, &mut toks))
                .filter(|(k, _)| !k.is_empty() && *k != last);
            if let Some((ps, ps_init)) = &psur {
                add(ps, Kind::Last, &mut m);
                for &c in ps_init {
                    if !last_init.contains(&c) {
                        last_init.push(c);
                    }
                }
                let mut fulls: Vec<(String, Full)> = Vec::new();
                if !first.is_empty() {
                    fulls.push((format!("{first}{ps}"), Full::FirstLast));
                    fulls.push((format!("{ps}{first}"), Full::LastFirst));
                    if !middle.is_empty() {
                        fulls.push((format!("{first}{middle}{ps}"), Full::FirstMiddleLast));
                    }
                }
                if let Some(pk) = &preferred {
                    fulls.push((format!("{pk}{ps}"), Full::PreferredLast));
                    fulls.push((format!("{ps}{pk}"), Full::LastPreferred));
                }
                for nk in &nicks {
                    fulls.push((format!("{nk}{ps}"), Full::NickLast));
                }
                for (k, f) in &fulls {
                    add(k, Kind::Full(*f), &mut m);
                }
            }
            for k in std::iter::once(&first).chain(preferred.as_ref()) {
                if k.len() >= 5 && !is_common_word(k) {
                    m.first_typo_max = m.first_typo_max.max(k.len());
                    for d in std::iter::once(k.clone()).chain(deletions(k)) {
                        let v = m.first_typo.entry(d.into()).or_default();
                        if !v.contains(&sid) {
                            v.push(sid);
                        }
                    }
                }
            }
            m.students.push(Student {
                id: p.id.clone(),
                first: first.into(),
                preferred: preferred.map(Into::into),
                last: last.into(),
                first_initials,
                last_initials: last_init,
            });
        }
        for k in m.index.keys() {
            m.max_key_len = m.max_key_len.max(k.len());
            m.prefixes.insert(k);
        }
        m.typo_len = (typo_min, typo_max);
        m
    }

    /// Every student the text names, at most one hit per student (the most severe).
    pub fn scan(&self, text: &str, source: &TextSource) -> Vec<CaptionHit> {
        if self.students.is_empty() || text.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let hits = self.scan_with(text, source, &mut scratch);
                // Do not keep a very long text's buffers for the life of the thread.
                if scratch.fc.capacity() > 1 << 16 {
                    *scratch = Scratch::default();
                }
                hits
            }
            Err(_) => self.scan_with(text, source, &mut Scratch::default()),
        })
    }

    fn scan_with(&self, text: &str, source: &TextSource, scratch: &mut Scratch) -> Vec<CaptionHit> {
        let Scratch {
            fc,
            buf,
            toks,
            raw,
            mentions,
        } = scratch;
        raw.clear();
        let filename = matches!(source, TextSource::FileName);
        fold::fold(text, fc);
        let (mut upper, mut lower) = (0usize, 0usize);
        for f in fc.iter() {
            upper += f.c.is_ascii_uppercase() as usize;
            lower += f.c.is_ascii_lowercase() as usize;
        }
        let ctx = Ctx {
            filename,
            all_caps: upper >= 3 && lower == 0,
            any_upper: upper > 0,
        };
        fold::tokenize(fc, filename, None, buf, toks);
        self.evaluate(&ctx, &View { toks, buf }, false, raw, mentions);
        if fold::has_leet(fc) {
            for one in [b'i', b'l'] {
                fold::tokenize(fc, filename, Some(one), buf, toks);
                self.evaluate(&ctx, &View { toks, buf }, true, raw, mentions);
            }
        }
        if raw.is_empty() {
            return Vec::new();
        }
        // One hit per student: the most severe, the earliest among equals.
        // A Review whose words lie inside another student's Block ("Rose" in "Olivia Rose Smith",
        // "Smith" in "Amelia Smith-Jones") is part of that name, not a mention of its own.
        // Likewise a part alone inside another student's longer name ("James" in "William James
        // Carter").
        if raw.iter().any(|h| h.severity == Severity::Block) {
            let blocks: Vec<RawHit> = raw
                .iter()
                .filter(|h| h.severity == Severity::Block)
                .copied()
                .collect();
            // A Block that is a part alone can only swallow Reviews: "Well done Olivia" has one
            // Block per Olivia, and checking each against all the others is quadratic.
            let whole: Vec<RawHit> = blocks.iter().filter(|b| !b.part).copied().collect();
            raw.retain(|h| {
                let inside = |b: &RawHit| b.student != h.student && b.os <= h.os && h.oe <= b.oe;
                let longer = |b: &RawHit| b.oe - b.os > h.oe - h.os;
                if h.severity == Severity::Review {
                    !blocks.iter().any(inside)
                } else {
                    !(h.part && whole.iter().any(|b| inside(b) && longer(b)))
                }
            });
        }
        // Most severe first; among equals the form that covers most of the name, then the earliest.
        raw.sort_by(|a, b| {
            a.student
                .cmp(&b.student)
                .then(b.severity.cmp(&a.severity))
                .then((b.oe - b.os).cmp(&(a.oe - a.os)))
                .then(a.os.cmp(&b.os))
        });
        raw.dedup_by_key(|h| h.student);
        raw.sort_by_key(|h| (h.os, h.student));
        let label = source.label();
        raw.drain(..)
            .map(|h| CaptionHit {
                student_id: self.students[h.student as usize].id.clone(),
                severity: h.severity,
                form: h.form.to_string(),
                part: h.part,
                matched: text
                    .get(h.os as usize..h.oe as usize)
                    .unwrap_or("")
                    .to_string(),
                source: label.clone(),
                note: h.note.map(|n| note_text(n, text, h.os, h.oe)),
            })
            .collect()
    }

    fn evaluate(
        &self,
        ctx: &Ctx,
        v: &View,
        leet: bool,
        out: &mut Vec<RawHit>,
        mentions: &mut Vec<Mention>,
    ) {
        let n = v.n();
        if n == 0 {
            return;
        }
        self.mentions(v, mentions);
        let mentions = &mentions[..];
        let staff = self.staff_tokens(ctx, v, mentions);
        let is_staff = |k: usize| staff.as_ref().is_some_and(|s| s[k]);
        let roles = if mentions.is_empty() {
            None
        } else {
            role_tokens(v)
        };
        let is_role = |k: usize| roles.as_ref().is_some_and(|s| s[k]);
        let brands = if mentions.is_empty() {
            Vec::new()
        } else {
            brand_spans(v, mentions)
        };
        let toks = v.toks;
        let mut hit = |student: u32,
                       severity: Severity,
                       form: &'static str,
                       a: usize,
                       b: usize,
                       note: Option<Note>| {
            out.push(RawHit {
                student,
                part: form.ends_with("alone"),
                severity,
                form,
                os: toks[a].os,
                oe: toks[b - 1].oe,
                note,
            });
        };
        // Mentions of one span come one after another (every student with that name form).
        let mut facts = SpanFacts::default();
        for m in mentions {
            if facts.span != (m.i, m.j) {
                facts = SpanFacts {
                    span: (m.i, m.j),
                    ..SpanFacts::default()
                };
            }
            if *facts.staff.get_or_init(|| (m.i..m.j).any(is_staff)) {
                continue;
            }
            let st = &self.students[m.e.student as usize];
            let sid = m.e.student;
            let part = !matches!(m.e.kind, Kind::Full(_));
            // "author Julia Donaldson", "Olympian Tom Daley": an adult, unless a full name.
            if part && *facts.role.get_or_init(|| (m.i..m.j).any(is_role)) {
                continue;
            }
            // Inside a shop's or brand's name ("John Lewis", "Ford Fiesta", "Sainsbury's").
            let in_brand = *facts.in_brand.get_or_init(|| {
                brands.iter().any(|&(a, b, single)| {
                    a <= m.i && m.j <= b && !(single && self.person_next(v, m.j))
                })
            });
            let place = || *facts.place.get_or_init(|| self.place_here(v, m.i, m.j));
            match m.e.kind {
                Kind::Full(f) => {
                    let joined = m.j - m.i == 1
                        || (m.i + 1..m.j).all(|k| {
                            let s = toks[k].sep;
                            s & (S_SPACE | S_COMMA) == 0
                                && (ctx.filename || s & (S_OTHER | S_DOT) == 0)
                        });
                    let form = if leet {
                        "full name in leetspeak"
                    } else if joined && f != Full::NickLast {
                        "full name run together"
                    } else {
                        f.form()
                    };
                    if brands.iter().any(|&(a, b, _)| a == m.i && b == m.j) {
                        hit(sid, Severity::Review, form, m.i, m.j, Some(Note::Brand));
                    } else {
                        hit(sid, Severity::Block, form, m.i, m.j, None);
                    }
                }
                Kind::Last => {
                    if m.i > 0 && v.soft_no_comma(m.i) && !is_staff(m.i - 1) {
                        if let Some(c) = self.initial(ctx, v, m.i - 1) {
                            if st.first_initials.contains(&c) {
                                hit(
                                    sid,
                                    Severity::Block,
                                    "initial + surname",
                                    m.i - 1,
                                    m.j,
                                    None,
                                );
                                continue;
                            }
                        }
                        if self.typo_of(
                            v,
                            mentions,
                            (m.i - 1, m.i),
                            Place::Given(st),
                            m.e.weak,
                            &facts,
                        ) {
                            hit(sid, Severity::Block, typo_form(leet), m.i - 1, m.j, None);
                            continue;
                        }
                    }
                    if m.j < n && v.soft(m.j) && !toks[m.j - 1].poss {
                        if let Some(c) = self.initial(ctx, v, m.j) {
                            if st.first_initials.contains(&c) {
                                hit(
                                    sid,
                                    Severity::Block,
                                    "surname + initial",
                                    m.i,
                                    m.j + 1,
                                    None,
                                );
                                continue;
                            }
                        }
                        if self.typo_of(
                            v,
                            mentions,
                            (m.j, m.j - 1),
                            Place::Given(st),
                            m.e.weak,
                            &facts,
                        ) {
                            hit(sid, Severity::Block, typo_form(leet), m.i, m.j + 1, None);
                            continue;
                        }
                    }
                    if leet || in_brand || place() {
                        continue;
                    }
                    // A surname that is also a word ("Green", "Hill", "Baker") alone needs a
                    // #tag/@handle, a congratulation, or to be used as a person ("Baker scores",
                    // "the Baker twins").
                    if !m.e.weak
                        || *facts.surname_ok.get_or_init(|| {
                            self.weak_surname_ok(v, m.i) || self.surname_as_person(ctx, v, m.i, m.j)
                        })
                    {
                        hit(sid, Severity::Review, "surname alone", m.i, m.j, None);
                    }
                }
                Kind::First | Kind::Preferred => {
                    if m.j < n && v.soft_no_comma(m.j) && !toks[m.j - 1].poss {
                        if let Some(c) = self.initial(ctx, v, m.j) {
                            if st.last_initials.contains(&c) {
                                hit(
                                    sid,
                                    Severity::Block,
                                    "first name + initial",
                                    m.i,
                                    m.j + 1,
                                    None,
                                );
                                continue;
                            }
                        }
                        if self.typo_of(
                            v,
                            mentions,
                            (m.j, m.j - 1),
                            Place::Surname(st),
                            m.e.weak,
                            &facts,
                        ) {
                            hit(sid, Severity::Block, typo_form(leet), m.i, m.j + 1, None);
                            continue;
                        }
                    }
                    if m.i > 0
                        && v.soft(m.i)
                        && self.typo_of(
                            v,
                            mentions,
                            (m.i - 1, m.i),
                            Place::Surname(st),
                            m.e.weak,
                            &facts,
                        )
                    {
                        hit(sid, Severity::Block, typo_form(leet), m.i - 1, m.j, None);
                        continue;
                    }
                    if leet || in_brand || place() {
                        continue;
                    }
                    let form = if m.e.kind == Kind::First {
                        "first name alone"
                    } else {
                        "known-as name alone"
                    };
                    if !m.e.weak {
                        match *facts
                            .someone_else
                            .get_or_init(|| self.someone_else(ctx, v, m.i, m.j))
                        {
                            Some(note) => hit(sid, Severity::Review, form, m.i, m.j, Some(note)),
                            None if self.nativity_figure(v, m.i, m.j) => {
                                hit(sid, Severity::Review, form, m.i, m.j, Some(Note::Nativity))
                            }
                            None => hit(sid, Severity::Block, form, m.i, m.j, None),
                        }
                    } else if *facts.weak_ok.get_or_init(|| self.weak_ok(ctx, v, m.i, m.j)) {
                        hit(sid, Severity::Review, form, m.i, m.j, Some(Note::Word));
                    }
                }
                Kind::Nick => {
                    if !leet
                        && !in_brand
                        && !place()
                        && (!m.e.weak
                            || *facts.weak_ok.get_or_init(|| self.weak_ok(ctx, v, m.i, m.j)))
                    {
                        hit(sid, Severity::Review, "nickname alone", m.i, m.j, None);
                    }
                }
            }
        }
        if !leet {
            self.tag_cues(v, &is_staff, &mut hit);
            self.first_name_typos(ctx, v, &is_staff, &mut hit);
        }
        // Run-together full names with one typo ("oliviasmiht"), via the deletion index.
        let (lo, hi) = self.typo_len;
        if lo == usize::MAX {
            return;
        }
        let mut probe = String::new();
        for k in 0..n {
            let w = v.w(k);
            if w.len() + 1 < lo
                || w.len() > hi + 1
                || is_staff(k)
                || self.index.contains_key(w)
                || is_common_word(w)
            {
                continue;
            }
            let mut found: Vec<(u32, Full)> = Vec::new();
            let mut look = |d: &str| {
                if let Some(c) = self.typo_index.get(d) {
                    for &(s, f) in c {
                        if !found.contains(&(s, f)) {
                            found.push((s, f));
                        }
                    }
                }
            };
            look(w);
            for cut in 0..w.len() {
                probe.clear();
                probe.push_str(&w[..cut]);
                probe.push_str(&w[cut + 1..]);
                look(&probe);
            }
            for (s, f) in found {
                let st = &self.students[s as usize];
                let pre = st.preferred.as_deref().unwrap_or("");
                let key = match f {
                    Full::FirstLast => format!("{}{}", st.first, st.last),
                    Full::LastFirst => format!("{}{}", st.last, st.first),
                    Full::PreferredLast => format!("{pre}{}", st.last),
                    Full::LastPreferred => format!("{}{pre}", st.last),
                    _ => continue,
                };
                if within_one_edit(w.as_bytes(), key.as_bytes()) {
                    hit(s, Severity::Block, "full name with a typo", k, k + 1, None);
                }
            }
        }
    }

    /// A #tag or @handle that runs a cue into a name: "#welldoneolivia", "#teamgrace",
    /// "#goteamhope", also in lowercase. The tag's words are run together and each known cue
    /// prefix is cut off; what is left must be exactly a name key.
    fn tag_cues<H>(&self, v: &View, is_staff: &dyn Fn(usize) -> bool, hit: &mut H)
    where
        H: FnMut(u32, Severity, &'static str, usize, usize, Option<Note>),
    {
        let n = v.n();
        let mut cat = String::new();
        for i in 0..n {
            if v.toks[i].sep & (S_HASH | S_AT) == 0 || is_staff(i) {
                continue;
            }
            cat.clear();
            let mut j = i;
            while j < n && (j == i || v.toks[j].sep == S_JOINED) && cat.len() < 48 {
                cat.push_str(v.w(j));
                j += 1;
            }
            for cue in TAG_CUES {
                let Some(rest) = cat.strip_prefix(cue) else {
                    continue;
                };
                if rest.len() < 2 {
                    continue;
                }
                let Some(es) = self.index.get(rest) else {
                    continue;
                };
                let (os, oe) = (v.toks[i].os, v.toks[i].os + cue.len() as u32);
                for e in es {
                    let note = Some(Note::Tag { os, oe });
                    match e.kind {
                        Kind::Full(_) => hit(
                            e.student,
                            Severity::Block,
                            "full name run together",
                            i,
                            j,
                            None,
                        ),
                        Kind::First | Kind::Preferred if !e.weak => hit(
                            e.student,
                            Severity::Block,
                            "first name in a #tag after a cue",
                            i,
                            j,
                            None,
                        ),
                        Kind::First | Kind::Preferred => hit(
                            e.student,
                            Severity::Review,
                            "first name in a #tag after a cue",
                            i,
                            j,
                            note,
                        ),
                        Kind::Nick => {
                            hit(e.student, Severity::Review, "nickname alone", i, j, note)
                        }
                        Kind::Last if !e.weak => {
                            hit(e.student, Severity::Review, "surname alone", i, j, note)
                        }
                        Kind::Last => {}
                    }
                }
            }
        }
    }

    /// A one-edit misspelling of a rare first name right after a cue: "Well done Siobahn",
    /// "Congratulations Naimh". The word must be no English word, no register name and no
    /// common given name (then it is that name, not a typo).
    fn first_name_typos<H>(
        &self,
        ctx: &Ctx,
        v: &View,
        is_staff: &dyn Fn(usize) -> bool,
        hit: &mut H,
    ) where
        H: FnMut(u32, Severity, &'static str, usize, usize, Option<Note>),
    {
        if self.first_typo.is_empty() {
            return;
        }
        let mut probe = String::new();
        for k in 0..v.n() {
            let w = v.w(k);
            if w.len() < 4
                || w.len() > self.first_typo_max + 1
                || (!v.toks[k].cap && ctx.any_upper)
                || is_staff(k)
                || !self.cue_before(v, k)
                || self.index.contains_key(w)
                || is_common_word(w)
                || is_common_first_name(w)
            {
                continue;
            }
            let mut found: Vec<u32> = Vec::new();
            let mut look = |d: &str| {
                if let Some(c) = self.first_typo.get(d) {
                    for &s in c {
                        if !found.contains(&s) {
                            found.push(s);
                        }
                    }
                }
            };
            look(w);
            for cut in 0..w.len() {
                probe.clear();
                probe.push_str(&w[..cut]);
                probe.push_str(&w[cut + 1..]);
                look(&probe);
            }
            for s in found {
                let st = &self.students[s as usize];
                let names = [&*st.first, st.preferred.as_deref().unwrap_or("")];
                if names
                    .iter()
                    .any(|nm| nm.len() >= 5 && within_one_edit(w.as_bytes(), nm.as_bytes()))
                {
                    hit(s, Severity::Block, "first name with a typo", k, k + 1, None);
                }
            }
        }
    }

    /// The name part at [i, j) is a place here: it (or it with the next words, "Kingston upon
    /// Thames") is in the gazetteer and a place cue comes before it ("trip to", "in", "visit
    /// to") or a place's feature after it ("Lincoln Cathedral", "Preston Park"). A
    /// congratulation before it ("well done to Chelsea") keeps it a name.
    fn place_here(&self, v: &View, i: usize, j: usize) -> bool {
        let n = v.n();
        if j == i + 1 && !is_place_prefix(v.w(i)) {
            return false;
        }
        let mut key = String::with_capacity(64);
        for k in i..j {
            key.push_str(v.w(k));
        }
        let mut multi = false;
        if !is_place(&key) {
            let mut k = j;
            while k < n && k < j + 2 && v.soft_no_comma(k) {
                key.push_str(v.w(k));
                k += 1;
                if is_place(&key) {
                    multi = true;
                    break;
                }
            }
            if !multi {
                return false;
            }
        }
        if self.cue_before(v, i) {
            return false;
        }
        if multi {
            return true;
        }
        let cue = i > 0 && v.soft(i) && is_place_cue(v.w(i - 1));
        let feature = j < n
            && v.soft_no_comma(j)
            && (v.toks[j].cap || !v.toks[i].cap)
            && is_place_feature(v.w(j));
        // "Sydney, Australia"
        let then_place = j < n && v.toks[j].sep & S_COMMA != 0 && is_place(v.w(j));
        cue || feature || then_place
    }

    /// A first name followed by a capitalised word that is no surname of any student with that
    /// first name ("Charles Darwin", "Harry Potter", "Isaac Newton"): evidence of someone else.
    /// Not after a cue, and not when the next word is a verb ("Olivia Wins Gold").
    fn someone_else(&self, ctx: &Ctx, v: &View, i: usize, j: usize) -> Option<Note> {
        let n = v.n();
        if j >= n || !v.soft_no_comma(j) || v.toks[j - 1].poss || !v.toks[j].cap || ctx.all_caps {
            return None;
        }
        let sep = v.toks[j].sep;
        let spaced = sep == S_SPACE || (ctx.filename && sep & S_OTHER != 0);
        let w = v.w(j);
        if !spaced
            || w.len() < 2
            || v.toks[j].num_after
            || self.cue_before(v, i)
            || is_function_word(w)
            || is_person_verb(w)
            || is_not_surname(w)
        {
            return None;
        }
        Some(Note::SomeoneElse {
            os: v.toks[j].os,
            oe: v.toks[j].oe,
        })
    }

    /// "Mary" or "Joseph" alone in a text about the nativity ("The nativity: Mary, Joseph and
    /// the shepherds") is likely the part, not a child of that name: at most a review. After a
    /// cue other than a list's "and"/"with"/"&" ("well done Mary") it is a child.
    fn nativity_figure(&self, v: &View, i: usize, j: usize) -> bool {
        let listed = i > 0 && (v.toks[i].sep & S_AMP != 0 || matches!(v.w(i - 1), "and" | "with"));
        j == i + 1
            && matches!(v.w(i), "mary" | "joseph")
            && (listed || !self.cue_before(v, i))
            && (0..v.n()).any(|k| {
                matches!(
                    v.w(k),
                    "nativity"
                        | "nativities"
                        | "bethlehem"
                        | "nazareth"
                        | "manger"
                        | "shepherd"
                        | "shepherds"
                        | "innkeeper"
                        | "jesus"
                        | "magi"
                        | "frankincense"
                        | "myrrh"
                )
            })
    }

    /// A common-word surname used as a person: "Baker scores again", "the Baker twins".
    fn surname_as_person(&self, ctx: &Ctx, v: &View, i: usize, j: usize) -> bool {
        let n = v.n();
        if !v.toks[i].cap || ctx.all_caps || j >= n || !v.soft_no_comma(j) {
            return false;
        }
        let next = v.w(j);
        let after_the = i > 0 && v.soft(i) && v.w(i - 1) == "the";
        if after_the {
            return is_family_noun(next);
        }
        let prev_ok = v.sentence_initial(i) || !(v.toks[i - 1].cap || is_function_word(v.w(i - 1)));
        // A match report's "Jones with a brilliant save": the surname opens the sentence and
        // "with a/the/his..." says what that person did.
        let with_deed = next == "with"
            && v.sentence_initial(i)
            && j + 1 < n
            && v.soft_no_comma(j + 1)
            && matches!(v.w(j + 1), "a" | "an" | "the" | "his" | "her" | "their");
        prev_ok && (is_action_verb(next) || with_deed)
    }

    /// Is the word at `j` a verb that says the words before it are a person ("Ford scored")?
    fn person_next(&self, v: &View, j: usize) -> bool {
        j < v.n() && v.soft_no_comma(j) && is_person_verb(v.w(j))
    }

    /// Every span of tokens whose words, run together, are a name key.
    fn mentions(&self, v: &View, out: &mut Vec<Mention>) {
        let n = v.n();
        out.clear();
        let mut cat = String::with_capacity(64);
        for i in 0..n {
            // A name does not start inside an apostrophe word ("Neill" of "O'Neill").
            if v.toks[i].sep & S_APOS != 0 {
                continue;
            }
            cat.clear();
            // The rolling hash of `cat`, and of `cat` without its last letter.
            let mut roll = Roll::default();
            let mut comma = false;
            for j in i..n.min(i + MAX_SPAN) {
                if j > i {
                    if !v.soft(j) || v.toks[j - 1].poss {
                        break;
                    }
                    comma |= v.toks[j].sep & S_COMMA != 0;
                }
                let w = v.w(j);
                cat.push_str(w);
                if cat.len() > self.max_key_len + 1 {
                    break;
                }
                let Some((&last, head)) = w.as_bytes().split_last() else {
                    break;
                };
                let but_last = head.iter().fold(roll, |h, &b| h.push(b));
                roll = but_last.push(last);
                // ...nor ends inside one ("the O" of "the O'Neills" is not "Theo"), nor in a
                // word glued to digits ("at the O2" is a venue, not "Theo").
                if v.toks[j].apos_next || (j > i && v.toks[j].num_after) {
                    continue;
                }
                let here = self.prefixes.get(roll);
                let ok = |e: &Entry| !comma || matches!(e.kind, Kind::Full(f) if f.reversed());
                let mut found = false;
                if here == Some(true) {
                    if let Some(es) = self.index.get(cat.as_str()) {
                        for e in es.iter().filter(|e| ok(e)) {
                            found = true;
                            out.push(Mention { i, j: j + 1, e: *e });
                        }
                    }
                }
                // "Olivias", "Smiths" (possessive without the apostrophe), unless the word is a word.
                if !found
                    && cat.len() > 3
                    && last == b's'
                    && self.prefixes.get(but_last) == Some(true)
                    && !is_common_word(w)
                {
                    if let Some(es) = self.index.get(&cat[..cat.len() - 1]) {
                        for e in es.iter().filter(|e| ok(e)) {
                            out.push(Mention { i, j: j + 1, e: *e });
                        }
                    }
                }
                if here.is_none() {
                    break;
                }
            }
        }
    }

    /// Tokens that name a member of staff (or a saint's place): the words after Mr/Mrs/Ms/Miss/
    /// Mx/Dr/Sir/Madam/St... `None` when the text has no title.
    fn staff_tokens(&self, ctx: &Ctx, v: &View, mentions: &[Mention]) -> Option<Vec<bool>> {
        let n = v.n();
        let mut staff: Option<Vec<bool>> = None;
        for t in 0..n.saturating_sub(1) {
            if !self.is_title(ctx, v, t) || !v.soft_no_comma(t + 1) {
                continue;
            }
            let s = staff.get_or_insert_with(|| vec![false; n]);
            let mut end = t + 2;
            // The name after the title: an initial, particles, joined or hyphenated parts.
            let mut k = t + 1;
            while k + 1 < n && k < t + 5 && v.soft_no_comma(k + 1) {
                let cur = v.w(k);
                let next_sep = v.toks[k + 1].sep;
                let joined = next_sep & (S_JOINED | S_APOS | S_DOT) != 0
                    || (next_sep & S_OTHER != 0 && next_sep & S_SPACE == 0);
                if cur.len() == 1 || is_particle(cur) || joined {
                    k += 1;
                    end = k + 1;
                } else {
                    break;
                }
            }
            // ...and any name form that starts right after the title ("Mr Olivia Smith").
            for m in mentions.iter().filter(|m| m.i == t + 1) {
                end = end.max(m.j);
            }
            for x in s.iter_mut().take(end.min(n)).skip(t + 1) {
                *x = true;
            }
        }
        staff
    }

    fn is_title(&self, ctx: &Ctx, v: &View, t: usize) -> bool {
        let w = v.w(t);
        if is_title_word(w) || ((v.toks[t].cap || ctx.all_caps) && is_adult_title_word(w)) {
            return true;
        }
        // "Miss Smith" is a teacher; "we will miss Grace" is not.
        w == "miss"
            && (v.toks[t].cap || ctx.all_caps)
            && !(t > 0
                && v.soft(t)
                && matches!(
                    v.w(t - 1),
                    "will"
                        | "we"
                        | "i"
                        | "you"
                        | "they"
                        | "to"
                        | "ll"
                        | "really"
                        | "so"
                        | "all"
                        | "shall"
                        | "d"
                        | "gonna"
                ))
    }

    /// Token `k` as a single-letter initial: written in capitals, followed by a dot, or in a file
    /// name or an all-lowercase text. Not the "O" of "O'Neill".
    fn initial(&self, ctx: &Ctx, v: &View, k: usize) -> Option<u8> {
        let t = &v.toks[k];
        if t.e - t.s != 1 || t.apos_next {
            return None;
        }
        let c = v.buf.as_bytes()[t.s as usize];
        // Lowercase initials only where nothing is capitalised, and never the words "a" and "i".
        (t.cap || t.dot || ((ctx.filename || !ctx.any_upper) && c != b'a' && c != b'i'))
            .then_some(c)
    }

    /// Is token `k` (next to the exactly matched name token `other`) a one-edit misspelling of the
    /// student's name in `place` (of four letters or more)? `exact_weak`: the matched half is a common word.
    /// Only the edit distance depends on the student; the rest is asked once per span (`facts`).
    fn typo_of(
        &self,
        v: &View,
        mentions: &[Mention],
        (k, other): (usize, usize),
        place: Place,
        exact_weak: bool,
        facts: &SpanFacts,
    ) -> bool {
        let surname_place = matches!(place, Place::Surname(_));
        let w = v.w(k);
        if w.len() < 3
            || *facts
                .not_a_typo(k > other, surname_place, exact_weak)
                .get_or_init(|| self.not_a_typo(v, mentions, (k, other), surname_place, exact_weak))
        {
            return false;
        }
        let names = match place {
            // Read only now: the student's names are the one cache miss here.
            Place::Given(st) => [&*st.first, st.preferred.as_deref().unwrap_or("")],
            Place::Surname(st) => [&*st.last, ""],
        };
        names
            .iter()
            .any(|n| n.len() >= 4 && within_one_edit(w.as_bytes(), n.as_bytes()))
    }

    /// Reasons why token `k`, next to the matched name token `other`, is no misspelt name part
    /// whatever name it is close to.
    fn not_a_typo(
        &self,
        v: &View,
        mentions: &[Mention],
        (k, other): (usize, usize),
        surname_place: bool,
        exact_weak: bool,
    ) -> bool {
        let w = v.w(k);
        // A word that is itself a register name or a common given name is that name ("Lara
        // Bennett" is not Laura Bennett misspelt). In the surname's place only a surname counts:
        // "Jasmine Hal" is Jasmine Hall misspelt, "Hal" being a given name, not a surname.
        let is_that_name = if surname_place {
            self.is_last_name(w)
        } else {
            self.index.contains_key(w) || is_common_first_name(w)
        };
        if is_that_name {
            return true;
        }
        // A typo that makes an English word ("Sam Bakes" for Sam Baker) counts when both words
        // are capitalised as a name and the exactly matched half is no everyday word itself.
        if is_common_word(w) && !(v.toks[k].cap && v.toks[other].cap && !exact_weak) {
            return true;
        }
        // A pair that is exactly someone else's full name is that person, not a typo.
        let (a, b) = (k.min(other), k.max(other));
        mentions
            .iter()
            .any(|m| matches!(m.e.kind, Kind::Full(_)) && m.i <= a && m.j > b)
    }

    /// May a weak name part (a common English word, or two letters) at [i, j) stand for a
    /// person here? Yes when it follows a cue ("well done", "with", "and"...) or is a #tag/@handle;
    /// or when it is capitalised and not sentence-initial (in an all-caps text: anywhere), not
    /// after a function word ("in May", "the Rose Garden") and not followed by another
    /// capitalised word that is no name of ours ("Grace Darling", "Summer Fair"). Sentence-initial,
    /// it counts only if it is all the sentence says, or possessive ("Grace's painting").
    fn weak_ok(&self, ctx: &Ctx, v: &View, i: usize, j: usize) -> bool {
        let t = &v.toks[i];
        let n = v.n();
        if t.sep & (S_HASH | S_AT) != 0 {
            return true;
        }
        if self.cue_before(v, i) {
            return t.cap || !ctx.any_upper;
        }
        // A file named just the name: "grace.jpg", "Rose_2.jpg".
        if ctx.filename && i == 0 && j + 1 >= n {
            return true;
        }
        if !t.cap {
            return false;
        }
        if i > 0 && v.soft(i) && is_function_word(v.w(i - 1)) {
            return false;
        }
        if self.is_date(v, i, j) {
            return false;
        }
        if ctx.all_caps {
            return true;
        }
        // The tail of a capitalised phrase: "World Book Day", "Red Nose Day", "Team Hope".
        if !ctx.filename
            && i > 1
            && v.toks[i].sep == S_SPACE
            && v.toks[i - 1].cap
            && !v.sentence_initial(i - 1)
            && !self.index.contains_key(v.w(i - 1))
            && !is_cue_word(v.w(i - 1))
        {
            return false;
        }
        let next_sep_ok = |s: u16| {
            s == S_SPACE || (ctx.filename && s & (S_OTHER | S_JOINED) != 0 && s & S_SENT == 0)
        };
        if j < n
            && next_sep_ok(v.toks[j].sep)
            && v.toks[j].cap
            && !self.index.contains_key(v.w(j))
            && !matches!(v.w(j), "and" | "or")
        {
            return false;
        }
        if ctx.filename || !v.sentence_initial(i) {
            return true;
        }
        // Followed by a register surname ("Grace Adeyemi" when only Hope is an Adeyemi).
        if j < n && v.soft_no_comma(j) && self.is_surname(v.w(j)) {
            return true;
        }
        // "Jo", "Mo" capitalised are names even opening a sentence; "Grace", "Will" may be words.
        if !is_common_word(v.w(i)) && j == i + 1 {
            return true;
        }
        // Sentence-initial: the whole sentence, a possessive, or the first of a list of names.
        let ends_sentence = j == n || !v.soft(j);
        let listed = j < n
            && v.soft(j)
            && ((v.w(j) == "and" && j + 1 < n && v.soft(j + 1) && v.toks[j + 1].cap)
                || (v.toks[j].sep & (S_AMP | S_COMMA) != 0 && v.toks[j].cap));
        if ends_sentence || v.toks[j - 1].poss || listed {
            return true;
        }
        // Otherwise a sentence-initial name-word is a name (for review) only when what follows
        // reads as a person's doing: "Grace sang the solo", "Chase was our Star of the Week",
        // "Holly on the swings". "Summer fair", "Ruby wedding", "Sky blue kits", "Hope and
        // resilience week", "Will you join us", "Mark your diaries" are the words.
        let next = v.w(j);
        if is_month(v.w(i)) && matches!(next, "was" | "is" | "has" | "had") {
            return false;
        }
        is_person_verb(next) || matches!(next, "on" | "in" | "at" | "with")
    }

    /// "May 20", "20th May", "May 2026": a month, not a child.
    fn is_date(&self, v: &View, i: usize, j: usize) -> bool {
        if !matches!(v.w(i), "may" | "june" | "april" | "august" | "march") {
            return false;
        }
        let toks = v.toks;
        let ordinal_before = i > 0
            && matches!(v.w(i - 1), "st" | "nd" | "rd" | "th")
            && toks[i - 1].sep & S_DIGIT != 0;
        toks[j - 1].num_after || toks[i].sep & S_DIGIT != 0 || ordinal_before
    }

    /// Is `w` any student's surname (weak or not)?
    fn is_last_name(&self, w: &str) -> bool {
        self.index
            .get(w)
            .is_some_and(|es| es.iter().any(|e| e.kind == Kind::Last))
    }

    fn is_surname(&self, w: &str) -> bool {
        self.index
            .get(w)
            .is_some_and(|es| es.iter().any(|e| e.kind == Kind::Last && !e.weak))
    }

    fn weak_surname_ok(&self, v: &View, i: usize) -> bool {
        let t = &v.toks[i];
        if t.sep & (S_HASH | S_AT) != 0 {
            return true;
        }
        if !(t.cap) || i == 0 || !v.soft(i) {
            return false;
        }
        let p = v.w(i - 1);
        let pp = if i >= 2 && v.soft(i - 1) {
            v.w(i - 2)
        } else {
            ""
        };
        matches!(p, "congratulations" | "congrats" | "thanks" | "bravo")
            || (p == "done" && pp == "well")
            || (p == "birthday" && pp == "happy")
            || (p == "you" && pp == "thank")
    }

    fn cue_before(&self, v: &View, i: usize) -> bool {
        if i == 0 || !v.soft(i) {
            return false;
        }
        if v.toks[i].sep & S_AMP != 0 {
            return true;
        }
        let p = v.w(i - 1);
        if is_cue_word(p) {
            return true;
        }
        let pp = if i >= 2 && v.soft(i - 1) {
            v.w(i - 2)
        } else {
            ""
        };
        match p {
            "done" => pp == "well",
            "on" => matches!(pp, "come" | "go" | "carry"),
            "birthday" => pp == "happy",
            "you" => pp == "thank",
            "to" => matches!(
                pp,
                "done"
                    | "congratulations"
                    | "congrats"
                    | "thanks"
                    | "birthday"
                    | "you"
                    | "goes"
                    | "welcome"
                    | "hello"
                    | "bye"
                    | "goodbye"
            ),
            _ => false,
        }
    }
}

/// A demotion in words, quoting the text.
fn note_text(n: Note, text: &str, os: u32, oe: u32) -> String {
    let q = |a: u32, b: u32| text.get(a as usize..b as usize).unwrap_or("");
    match n {
        Note::SomeoneElse { os: a, oe: b } => format!(
            "only a review: \"{}\" follows, which is no surname of any student called \"{}\", so it is likely someone else (a famous person, a character or a title)",
            q(a, b),
            q(os, oe)
        ),
        Note::Brand => "only a review: these words are also a shop's, brand's or organisation's name".into(),
        Note::Word => format!("only a review: \"{}\" is also an everyday word", q(os, oe)),
        Note::Nativity => format!(
            "only a review: the text is about the nativity, so \"{}\" is likely the part in the play, not a child of that name",
            q(os, oe)
        ),
        Note::Tag { os: a, oe: b } => format!(
            "only a review: found inside a tag after \"{}\", and the name is also an everyday word",
            q(a, b)
        ),
    }
}

/// Which of a student's names a possible typo stands in the place of.
enum Place<'a> {
    /// A given name (first or known-as): a word that is any register name or a common given
    /// name is that name, not a typo.
    Given(&'a Student),
    /// The surname: only a word that is a register surname is that surname.
    Surname(&'a Student),
}

fn typo_form(leet: bool) -> &'static str {
    if leet {
        "full name in leetspeak"
    } else {
        "full name with a typo"
    }
}

/// Every string made by deleting one character (ASCII keys).
fn deletions(k: &str) -> Vec<String> {
    (0..k.len())
        .map(|c| format!("{}{}", &k[..c], &k[c + 1..]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_is_send_sync() {
        fn ok<T: Send + Sync>() {}
        ok::<NameMatcher>();
    }
}
