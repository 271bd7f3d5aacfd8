//! The `consentgate` binary: parse the command line, run it, map the outcome to an exit code
//! (as ripgrep's `main` → `run` → exit code). Everything it does is a library call; the command
//! line and the demo live here, out of the library.

mod cli;

fn main() -> std::process::ExitCode {
    // Kill tests set FAILPOINTS to abort at a named durable step; compiled out of release builds.
    let _failpoints = fail::FailScenario::setup();
    cli::run()
}
