//! The one place a model runs: ONNX Runtime through `ort`, for the face detector, the face
//! recogniser and the two text models alike.
//!
//! The runtime is Microsoft's `libonnxruntime` shared library, opened when the first model loads
//! (`ort`'s `load-dynamic`: nothing is downloaded at build time, nothing is linked). It is shipped
//! in `models/onnxruntime/` (from the PyPI wheel, see `models/PROVENANCE.md`) and looked for, in
//! order: the path in `CONSENTGATE_ONNXRUNTIME`; beside the executable; `../lib/consentgate/` from
//! the executable (the Debian package); the source tree the binary was built from. `ort` panics
//! when the library it is given cannot be opened, so the library is opened and its version
//! checked here first: a missing or wrong library is an error the caller holds photos on.
//!
//! Every session runs on one thread (`intra_threads = 1`): the gate already runs one photo per
//! core, and a second level of threads only makes them fight. `ort`'s `Session::run` takes
//! `&mut self`, so a [`Model`] keeps a pool of sessions and each call takes one out (or builds
//! one, the first time that many calls run at once) and puts it back.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

/// The ONNX Runtime release `ort` 2.0.0-rc.10 is written for, and the file shipped.
const LIBRARY: &str = "libonnxruntime.so.1.22.1";
const WANT_VERSION: &str = "1.22.";
/// Overrides where the runtime library is looked for.
pub const LIBRARY_ENV: &str = "CONSENTGATE_ONNXRUNTIME";

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(
        "the ONNX Runtime library could not be loaded ({0}); reinstall consentgate, or set \
         {LIBRARY_ENV} to the path of {LIBRARY}"
    )]
    Runtime(String),
    #[error("{model}: the model could not be loaded ({detail})")]
    Model { model: &'static str, detail: String },
    #[error("{model}: {detail}")]
    Run { model: &'static str, detail: String },
}

/// One output of a run: its shape and values, copied out of the runtime.
#[derive(Debug)]
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A model with a pool of sessions (see the module doc).
pub struct Model {
    name: &'static str,
    onnx: &'static [u8],
    idle: Mutex<Vec<Session>>,
}

impl Model {
    /// Load `onnx` once now, so a broken model or runtime shows at start, not on the first photo.
    pub fn new(name: &'static str, onnx: &'static [u8]) -> Result<Model, InferError> {
        let model = Model {
            name,
            onnx,
            idle: Mutex::new(Vec::new()),
        };
        let first = model.session()?;
        model.put_back(first);
        Ok(model)
    }

    fn session(&self) -> Result<Session, InferError> {
        if let Some(s) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(s);
        }
        runtime()?;
        let err = |e: ort::Error| InferError::Model {
            model: self.name,
            detail: e.to_string(),
        };
        Session::builder()
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3))
            .and_then(|b| b.with_intra_threads(1))
            .and_then(|b| b.with_inter_threads(1))
            .and_then(|b| b.commit_from_memory(self.onnx))
            .map_err(err)
    }

    fn put_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
    }

    /// Run the model on one float32 input of `shape` and return every output as float32.
    pub fn run(&self, shape: &[usize], data: Vec<f32>) -> Result<Vec<Output>, InferError> {
        let run_err = |e: ort::Error| InferError::Run {
            model: self.name,
            detail: e.to_string(),
        };
        let input = Tensor::from_array((shape.to_vec(), data)).map_err(run_err)?;
        let mut session = self.session()?;
        let result = (|| {
            let outputs = session.run(ort::inputs![input]).map_err(run_err)?;
            let mut out = Vec::with_capacity(outputs.len());
            for (_, value) in outputs.iter() {
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(run_err)?;
                out.push(Output {
                    shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data: data.to_vec(),
                });
            }
            Ok(out)
        })();
        self.put_back(session);
        result
    }
}

/// Whether this CPU multiplies 8-bit integers exactly (x86-64 VNNI), so a model quantised to
/// int8 runs faster there with the results it was measured with. Without VNNI, ONNX Runtime's
/// 8-bit products can saturate, so the float models run instead.
pub fn int8_is_exact() -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni")
        || std::arch::is_x86_feature_detected!("avxvnni")
    {
        return true;
    }
    false
}

/// Open the runtime library once for the process (see the module doc for where it is looked for).
fn runtime() -> Result<(), InferError> {
    static RUNTIME: OnceLock<Result<(), String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let mut tried = Vec::new();
            for path in candidates() {
                match check_library(&path) {
                    Ok(()) => {
                        return ort::init_from(path.display().to_string())
                            .with_name("consentgate")
                            .commit()
                            .map(drop)
                            .map_err(|e| format!("{}: {e}", path.display()));
                    }
                    Err(e) => tried.push(format!("{}: {e}", path.display())),
                }
            }
            Err(format!("tried {}", tried.join("; ")))
        })
        .clone()
        .map_err(InferError::Runtime)
}

/// Where the library may be, in the order tried.
fn candidates() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os(LIBRARY_ENV).filter(|p| !p.is_empty()) {
        // An explicit choice is the only one tried: falling back would hide a mistake.
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(LIBRARY));
        out.push(dir.join("../lib/consentgate").join(LIBRARY));
    }
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/onnxruntime")
            .join(LIBRARY),
    );
    out
}

/// Open the library and ask its version, without `ort` (which panics on failure).
fn check_library(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    // SAFETY: loading ONNX Runtime runs its static initialisers only; the symbol is the C ABI
    // entry point every ONNX Runtime release exports with this signature.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| e.to_string())?;
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").map_err(|e| e.to_string())?;
        let base = get();
        if base.is_null() {
            return Err("OrtGetApiBase returned nothing".into());
        }
        let version = CStr::from_ptr(((*base).GetVersionString)()).to_string_lossy();
        if !version.starts_with(WANT_VERSION) {
            return Err(format!("version {version}, need {WANT_VERSION}x"));
        }
        // Keep it open: `ort` opens the same file next, and unloading ONNX Runtime is not safe.
        std::mem::forget(lib);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_the_runtime_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join(LIBRARY);
        std::fs::write(&fake, b"not a library").expect("write");
        let err = check_library(&fake).expect_err("a text file is no library");
        assert!(!err.is_empty());
        assert_eq!(
            check_library(&dir.path().join("missing.so")),
            Err("no such file".into())
        );
    }

    #[test]
    fn the_shipped_runtime_loads_and_is_the_expected_version() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/onnxruntime")
            .join(LIBRARY);
        assert_eq!(check_library(&shipped), Ok(()));
    }
}
