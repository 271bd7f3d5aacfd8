//! exiftool as an independent oracle: which tags in a file could identify someone?
//!
//! Runs `exiftool -j -G1 -a -u` and reports every tag that is NOT on an allowlist of structural
//! tags (file system facts, picture size and coding, colour profile, JFIF density, Orientation).
//! An allowlist, not a blocklist: a tag exiftool learns to read tomorrow is reported until someone
//! decides it is harmless.
//!
//! Use from a test file with `mod common;` and `common::exiftool::...` (tests/common/mod.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

/// Is exiftool on PATH?
pub fn available() -> bool {
    Command::new("exiftool")
        .arg("-ver")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// All tags of each file, `Group1:Tag` → value, in the order of `files`. `numeric` adds `-n`
/// (Orientation as 1..8 instead of words).
pub fn read_many(files: &[PathBuf], numeric: bool) -> Vec<Map<String, Value>> {
    let mut out = Vec::with_capacity(files.len());
    // exiftool starts slowly; one run per batch of files.
    for batch in files.chunks(200) {
        let mut cmd = Command::new("exiftool");
        cmd.args(["-j", "-G1", "-a", "-u"]);
        if numeric {
            cmd.arg("-n");
        }
        cmd.args(batch);
        let o = cmd.output().expect("run exiftool");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "exiftool output is not JSON ({e}): {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        let arr = v.as_array().expect("exiftool -j gives an array");
        // exiftool keeps the order of its arguments; match by SourceFile to be sure.
        for f in batch {
            let m = arr
                .iter()
                .filter_map(Value::as_object)
                .find(|m| {
                    m.get("SourceFile").and_then(Value::as_str).map(Path::new) == Some(f.as_path())
                })
                .cloned()
                .unwrap_or_default();
            out.push(m);
        }
    }
    out
}

const FILE_OK: &[&str] = &[
    "FileType",
    "FileTypeExtension",
    "MIMEType",
    "ImageWidth",
    "ImageHeight",
    "EncodingProcess",
    "BitsPerSample",
    "ColorComponents",
    "YCbCrSubSampling",
    "ExifByteOrder",
];
const JFIF_OK: &[&str] = &[
    "JFIFVersion",
    "ResolutionUnit",
    "XResolution",
    "YResolution",
];
const ADOBE_OK: &[&str] = &[
    "DCTEncodeVersion",
    "APP14Flags0",
    "APP14Flags1",
    "ColorTransform",
];
const PNG_OK: &[&str] = &[
    "ImageWidth",
    "ImageHeight",
    "BitDepth",
    "ColorType",
    "Compression",
    "Filter",
    "Interlace",
    "Palette",
    "Transparency",
    "Gamma",
    "SRGBRendering",
    "WhitePointX",
    "WhitePointY",
    "RedX",
    "RedY",
    "GreenX",
    "GreenY",
    "BlueX",
    "BlueY",
    "SignificantBits",
    "BackgroundColor",
    "ProfileName",
    "AnimationFrames",
    "AnimationPlays",
    "ColorPrimaries",
    "TransferCharacteristics",
    "MatrixCoefficients",
    "VideoFullRangeFlag",
    "MaxContentLightLevel",
    "MaxFrameAverageLightLevel",
];
const RIFF_OK: &[&str] = &[
    "WebP_Flags",
    "ImageWidth",
    "ImageHeight",
    "VP8Version",
    "HorizontalScale",
    "VerticalScale",
    "AlphaPreprocessing",
    "AlphaFiltering",
    "AlphaCompression",
    "BackgroundColor",
    "AnimationLoopCount",
];
/// HEIF container structure (exiftool's QuickTime reader): brands, handler, HEVC decoder
/// configuration, picture size, rotation/mirroring, where the coded data lies.
const QUICKTIME_OK: &[&str] = &[
    "MajorBrand",
    "MinorVersion",
    "CompatibleBrands",
    "HandlerType",
    "PrimaryItemReference",
    "HEVCConfigurationVersion",
    "GeneralProfileSpace",
    "GeneralTierFlag",
    "GeneralProfileIDC",
    "GenProfileCompatibilityFlags",
    "ConstraintIndicatorFlags",
    "GeneralLevelIDC",
    "MinSpatialSegmentationIDC",
    "ParallelismType",
    "ChromaFormat",
    "BitDepthLuma",
    "BitDepthChroma",
    "AverageFrameRate",
    "ConstantFrameRate",
    "NumTemporalLayers",
    "TemporalIDNested",
    "ImageSpatialExtent",
    "ImagePixelDepth",
    "Rotation",
    "ImageMirror",
    "AuxiliaryImageType",
    "ColorProfiles",
    "ColorPrimaries",
    "TransferCharacteristics",
    "MatrixCoefficients",
    "VideoFullRangeFlag",
    "MediaDataSize",
    "MediaDataOffset",
    "MediaData",
    "CleanAperture",
    "PixelAspectRatio",
    // exiftool 12.57 does not name `imir` (the mirror axis, one byte); it holds nothing else.
    "Unknown_imir",
];
const META_OK: &[&str] = &["PrimaryItemReference", "MetaImageSize"];
const COMPOSITE_OK: &[&str] = &["ImageSize", "Megapixels"];

/// Is `Group:Tag` allowed to remain in a released file?
pub fn allowed(key: &str) -> bool {
    if key == "SourceFile" {
        return true;
    }
    let Some((group, tag)) = key.split_once(':') else {
        return false;
    };
    match group {
        "ExifTool" | "System" => true,
        "File" => FILE_OK.contains(&tag),
        "JFIF" => JFIF_OK.contains(&tag),
        "Adobe" | "APP14" => ADOBE_OK.contains(&tag),
        "IFD0" => tag == "Orientation",
        "PNG" => PNG_OK.contains(&tag),
        "PNG-pHYs" => true,
        "RIFF" => RIFF_OK.contains(&tag),
        "Composite" => COMPOSITE_OK.contains(&tag),
        "QuickTime" => QUICKTIME_OK.contains(&tag),
        "Meta" => META_OK.contains(&tag),
        g if g == "ICC_Profile" || g.starts_with("ICC-") || g.starts_with("ICC_") => true,
        _ => false,
    }
}

/// Every tag in `tags` that is not on the allowlist, as "Group:Tag = value".
pub fn identifying(tags: &Map<String, Value>) -> Vec<String> {
    tags.iter()
        .filter(|(k, _)| !allowed(k))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect()
}

/// Identifying tags of one file.
pub fn identifying_tags(file: &Path) -> Vec<String> {
    identifying(
        &read_many(&[file.to_path_buf()], false)
            .pop()
            .unwrap_or_default(),
    )
}

/// Orientation (1..8) as exiftool reads it: EXIF IFD0 first, else XMP tiff:Orientation.
/// Needs tags read with `numeric = true`.
pub fn orientation(tags: &Map<String, Value>) -> Option<u16> {
    ["IFD0:Orientation", "XMP-tiff:Orientation"]
        .iter()
        .find_map(|k| tags.get(*k).and_then(Value::as_u64))
        .and_then(|o| u16::try_from(o).ok())
}
