//! The gate's stages. Each is one function `fn(&Context, &mut Sheet)`: it reads the photo and what
//! earlier stages left on the sheet (the clean copy, the texts) and adds [`Finding`]s — never a
//! reason's words, never a decision. A new check is a new file here and one line in
//! [`super::SEQUENCE`].
//!
//! [`Finding`]: crate::findings::Finding

pub mod captions;
pub mod device;
pub mod faces;
pub mod formats;
pub mod picture_text;
pub mod reupload;
pub mod texts;
