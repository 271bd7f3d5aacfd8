//! TIFF: released as a PNG, never as TIFF.
//!
//! A TIFF's metadata lives in the same IFDs as its pixel layout, so there is no lossless way to
//! "strip" it that we could verify cheaply; and browsers do not show TIFF anyway. We read the IFDs
//! for captions and device (same walker as EXIF), check the declared size, decode within the
//! limits, turn the pixels upright (the Orientation tag would not survive) and encode a PNG with the
//! ICC profile. PNG is pixel-lossless, so the pixels are exactly the TIFF's (8- and 16-bit
//! grey/RGB/RGBA; other layouts are `Unsupported`). Multi-page TIFFs are `Unsupported` (we would
//! silently drop pages); BigTIFF is `Unsupported` (our IFD reader, which finds the captions, reads
//! classic TIFF only).

use std::io::Cursor;

use super::{
    apply_orientation, check_dimensions, displayed, Cleaned, Findings, Format, FormatError, Limits,
};

pub(crate) fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Err(FormatError::Unsupported(
            "BigTIFF file; export it as PNG or JPEG".into(),
        ));
    }
    let mut f = Findings::default();
    let info = super::exif::read(bytes, super::exif::Kind::TiffFile, &mut f)?;
    // The IFD walker reports TIFF structure as "EXIF"; say what it really was.
    f.removed.retain(|r| r != "EXIF");
    f.removed("TIFF tags (the picture was converted to PNG)");
    if let (Some(w), Some(h)) = (info.width, info.height) {
        check_dimensions(w, h, limits)?;
    }
    if info.extra_pages > 0 {
        return Err(FormatError::Unsupported(format!(
            "TIFF with {} pages; export each page as PNG or JPEG",
            info.extra_pages + 1
        )));
    }
    let mut dec = image::codecs::tiff::TiffDecoder::new(Cursor::new(bytes))
        .map_err(|e| super::map_image_error(e, "TIFF", (0, 0), limits))?;
    let icc = image::ImageDecoder::icc_profile(&mut dec)
        .map_err(|e| super::map_image_error(e, "TIFF", (0, 0), limits))?;
    let (w, h) = image::ImageDecoder::dimensions(&dec);
    check_dimensions(w, h, limits)?;
    let mut img = super::decode_image(dec, limits, "TIFF")?;
    if matches!(
        img.color(),
        image::ColorType::Rgb32F | image::ColorType::Rgba32F
    ) {
        return Err(FormatError::Unsupported(
            "TIFF with floating-point pixels, which cannot be kept exactly in a web format; export it as PNG".into(),
        ));
    }
    let orientation = f.orientation();
    apply_orientation(&mut img, orientation);
    let mut out = Vec::new();
    super::png::write_png(&img, icc, &mut out)?;
    let (width, height) = displayed(w, h, orientation);
    Ok(f.into_cleaned(Format::Png, out, "png", (width, height)))
}
