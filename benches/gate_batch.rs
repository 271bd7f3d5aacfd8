//! `cargo bench --bench gate_batch`: `consentgate run` over 48 twelve-megapixel JPEGs (faces off)
//! against `exiftool -all=` on the same files; target: at most 2x exiftool's wall time.
#[path = "common/batch.rs"]
mod batch;
#[path = "../tests/common/crowd.rs"]
mod crowd;
#[path = "common/metadata.rs"]
mod metadata;

fn main() {
    batch::main();
}
