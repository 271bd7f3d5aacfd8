//! Helpers shared by the integration tests (`mod common;`).
pub mod crowd;
pub mod exiftool;
pub mod serve;
pub mod workspace;

/// The shared corpus (../shared/corpus/<sub>), present on developers' machines and in CI but not
/// in the product. Absent: skip with a printed reason — unless CONSENTGATE_REQUIRE_CORPUS is set
/// (as .ci/run does), where a missing corpus or exiftool is a failure, not a silent pass.
pub fn corpus(sub: &str, test: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    let required = std::env::var_os("CONSENTGATE_REQUIRE_CORPUS").is_some();
    let problem = if !dir.is_dir() {
        Some(format!("{} is absent", dir.display()))
    } else if !exiftool::available() {
        Some("exiftool is not on PATH (apt-get install libimage-exiftool-perl)".to_string())
    } else {
        None
    };
    match problem {
        None => Some(dir),
        Some(p) if required => panic!("{test}: {p}, and CONSENTGATE_REQUIRE_CORPUS is set"),
        Some(p) => {
            eprintln!("\n!!!! SKIP {test}: {p}; the corpus was NOT checked !!!!\n");
            None
        }
    }
}
