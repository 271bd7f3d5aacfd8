//! The `consentgate` binary: parse the command line, run it, map the outcome to an exit code.
//! All behaviour lives in the library (`consentgate::cli`) so tests can drive it in-process.

fn main() -> std::process::ExitCode {
    consentgate::cli::main()
}
