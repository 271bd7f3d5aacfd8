//! Throughput of `NameMatcher::scan` against a 3,000-student register, and the cost of
//! `NameMatcher::new`. Names and captions are synthetic and deterministic. Measured in the bench
//! thread's CPU time (`common/cputime.rs`): both are single-threaded, and the machine is shared.

#[path = "common/cputime.rs"]
mod cputime;

use consentgate::captions::{NameMatcher, PersonName, TextSource};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

const FIRST: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Willow",
    "Freya",
    "Florence",
    "Emily",
    "Ella",
    "Poppy",
    "Evie",
    "Charlotte",
    "Hope",
    "May",
    "Rose",
    "Ruby",
    "Summer",
    "Joy",
    "Faith",
    "Siobhán",
    "Zoë",
    "Chloé",
    "Aisha",
    "Ayesha",
    "Priya",
    "Anaya",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Muhammad",
    "Leo",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theodore",
    "Freddie",
    "Jack",
    "Charlie",
    "Thomas",
    "William",
    "Mason",
    "Hunter",
    "Mark",
    "Will",
    "Aarav",
    "Arjun",
    "Kwame",
    "Chidi",
    "Tomasz",
    "Jakub",
    "Mateo",
    "Luca",
    "Jo",
    "Al",
    "Seán",
    "Niamh",
    "Aoife",
    "Eilidh",
    "Callum",
    "Dylan",
    "Rhys",
    "Yusuf",
    "Ibrahim",
    "Omar",
    "Hamza",
    "Ali",
    "Zara",
    "Maryam",
    "Fatima",
    "Mary-Jane",
    "Anne-Marie",
];

const LAST: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Ali",
    "Hussain",
    "Begum",
    "Singh",
    "Kaur",
    "Sharma",
    "Nguyen",
    "Chen",
    "Li",
    "Wang",
    "Kowalski",
    "Nowak",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Osei",
    "O'Neill",
    "O'Brien",
    "McDonald",
    "MacDonald",
    "McKenzie",
    "van der Berg",
    "de Souza",
    "Smith-Jones",
    "Al-Sayed",
    "Fitzgerald",
    "Murphy",
    "Kelly",
    "Dubois",
    "Rossi",
    "García",
    "Müller",
    "Hughes",
    "Price",
    "Baker",
    "Hill",
    "Mason",
    "Hunter",
    "Rahman",
    "Ahmed",
    "Begum-Ali",
    "ter Horst",
    "Da Silva",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next() % xs.len()]
    }
}

fn register(n: usize) -> Vec<PersonName> {
    let mut r = Lcg(42);
    (0..n)
        .map(|i| {
            let first = r.pick(FIRST).to_string();
            let preferred = (r.next() % 10 == 0).then(|| r.pick(FIRST).to_string());
            let nicknames = if r.next() % 8 == 0 {
                vec![first.chars().take(3).collect()]
            } else {
                vec![]
            };
            PersonName {
                id: format!("S{i:05}"),
                first_name: first,
                middle_names: if r.next() % 3 == 0 {
                    r.pick(FIRST).to_string()
                } else {
                    String::new()
                },
                last_name: r.pick(LAST).to_string(),
                preferred_name: preferred,
                preferred_surname: None,
                nicknames,
            }
        })
        .collect()
}

const PLAIN: &[&str] = &[
    "Well done to Year 6 for a fantastic sports day!",
    "Mrs Smith's class enjoyed the trip to the science museum.",
    "Our nativity play was a huge success, thank you to all the parents who came along to watch.",
    "Reminder: reply slips back in May please, and don't forget PE kits on Thursdays.",
    "The grace period for dinner money ends on Monday.",
    "Year 3 planted a rose garden next to the playground as part of their science topic on plants.",
    "Mark your calendars for the summer fair! Cakes, tombola and a bouncy castle.",
    "We hope you all have a lovely half term. School reopens on Monday 3rd November.",
    "Year 4 relay race, sports day 2026",
    "Forest school: building dens and hunting for minibeasts in the woods behind the field.",
    "WE WILL MISS YOU YEAR 6! Good luck at secondary school.",
    "Class 2 learned about Grace Darling and her lighthouse rescue.",
    "Thank you to Mr Hill and Mrs Baker for running the bake sale — we raised £320 for the PTA.",
    "Year 5 visited St Mary's church to learn about stained glass windows.",
    "Science week: volcano experiments, slime and a visit from a real astronaut!",
    "Our school choir sang at the care home this afternoon. The residents loved it.",
];

const FILES: &[&str] = &[
    "IMG_2041.jpg",
    "SportsDay_2026_YR6.jpg",
    "DSC_0042.JPG",
    "year6-leavers-assembly.jpg",
    "20260612_143201.jpg",
];

/// (text, source) pairs: about 80% without names, 20% naming someone in assorted forms.
fn captions(people: &[PersonName], n: usize) -> Vec<(String, TextSource)> {
    let mut r = Lcg(7);
    (0..n)
        .map(|_| {
            let k = r.next() % 100;
            let p = &people[r.next() % people.len()];
            let plain = r.pick(PLAIN);
            match k {
                0..=59 => (plain.to_string(), TextSource::Sidecar),
                60..=79 => (r.pick(FILES).to_string(), TextSource::FileName),
                80..=84 => (
                    format!(
                        "{} {} won the 100m sprint at sports day!",
                        p.first_name, p.last_name
                    ),
                    TextSource::Sidecar,
                ),
                85..=88 => (
                    format!("Well done {}! {}", p.first_name, plain),
                    TextSource::Sidecar,
                ),
                89..=91 => (
                    format!(
                        "{}_{}_sportsday.jpg",
                        p.first_name.to_lowercase(),
                        p.last_name.to_lowercase()
                    ),
                    TextSource::FileName,
                ),
                92..=94 => (
                    format!(
                        "{} {}. with the class hamster",
                        p.first_name,
                        &p.last_name[..1]
                    ),
                    TextSource::Embedded("XMP dc:description".into()),
                ),
                _ => (
                    format!(
                        "#{}{} star of the week. {}",
                        p.first_name,
                        p.last_name.replace(' ', ""),
                        plain
                    ),
                    TextSource::Sidecar,
                ),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion<cputime::ThreadCpu>) {
    let people = register(3000);
    // The first build in a process also parses the embedded word lists (once per process).
    let t = std::time::Instant::now();
    let first = NameMatcher::new(&people);
    let _ = first.scan("Trip to Sydney with Olivia", &TextSource::Sidecar);
    eprintln!(
        "captions bench: first build + scan, word lists included: {:?}",
        t.elapsed()
    );
    drop(first);
    let mut g = c.benchmark_group("captions");
    g.sample_size(20);
    g.bench_function("NameMatcher::new/3000", |b| {
        b.iter(|| NameMatcher::new(black_box(&people)))
    });
    let m = NameMatcher::new(&people);
    let caps = captions(&people, 2000);
    let named = caps
        .iter()
        .filter(|(t, s)| !m.scan(t, s).is_empty())
        .count();
    eprintln!(
        "captions bench: {} captions, {named} with hits, {} student register",
        caps.len(),
        people.len()
    );
    g.throughput(Throughput::Elements(caps.len() as u64));
    g.bench_with_input(BenchmarkId::new("scan", "mixed-2000"), &caps, |b, caps| {
        b.iter(|| {
            let mut hits = 0usize;
            for (t, s) in caps {
                hits += m.scan(black_box(t), s).len();
            }
            hits
        })
    });
    let plain: Vec<(String, TextSource)> = PLAIN
        .iter()
        .map(|t| (t.to_string(), TextSource::Sidecar))
        .collect();
    g.throughput(Throughput::Elements(plain.len() as u64));
    g.bench_with_input(BenchmarkId::new("scan", "no-names"), &plain, |b, caps| {
        b.iter(|| {
            caps.iter()
                .map(|(t, s)| m.scan(black_box(t), s).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(cputime::ThreadCpu);
    targets = bench
}
criterion_main!(benches);
