//! `cargo bench --bench gate_people`: the whole gate with faces on, over 48 twelve-megapixel JPEGs
//! of people; target: at least 5 photos/s on 2 cores, reported with detection recall.
#[path = "common/batch.rs"]
mod batch;
#[path = "../tests/common/crowd.rs"]
mod crowd;
#[path = "common/metadata.rs"]
mod metadata;

fn main() {
    batch::main();
}
