//! Faces: every face in the clean copy, and the enrolled student nearest to each (see
//! `crate::faces` for how faces are found and described). Which band a distance falls in, and
//! what that means for the channel, is `decide`'s.

use crate::faces::Face;
use crate::findings::{FaceMatch, Finding};
use crate::gate::{Context, Sheet};
use crate::register::Template;

/// Crop-hash bits within which a face is the same picture as an enrolment photo.
pub const SAME_PICTURE_BITS: u32 = 20;

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let (Some(engine), Some(c)) = (&ctx.engine, &sheet.clean) else {
        return;
    };
    let found = engine.decode(&c.bytes).and_then(|decoded| {
        let found = engine.faces_in_decoded_photo(&decoded, &c.bytes);
        sheet.decoded = Some(decoded);
        found
    });
    match found {
        Ok(found) => sheet.findings.extend(
            match_faces(&found, &ctx.judge.templates)
                .into_iter()
                .map(Finding::Face),
        ),
        Err(e) => sheet.findings.push(Finding::FacesUnchecked {
            error: e.to_string(),
        }),
    }
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    if a.len() != b.len() || a.is_empty() {
        return u32::MAX;
    }
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Each face's nearest template, and the student whose enrolment photo it is the very picture of.
pub fn match_faces(faces: &[Face], templates: &[Template]) -> Vec<FaceMatch> {
    faces
        .iter()
        .map(|face| {
            let mut nearest: Option<(&Template, f32)> = None;
            let mut same_picture = None;
            for t in templates {
                // A face too small to embed has no nearest student (its distance is infinite).
                let d = crate::faces::distance(&face.embedding, &t.embedding);
                if d.is_finite() && nearest.is_none_or(|(_, bd)| d < bd) {
                    nearest = Some((t, d));
                }
                if same_picture.is_none()
                    && hamming(&face.crop_hash, &t.crop_hash) <= SAME_PICTURE_BITS
                {
                    same_picture = Some(t.student_id.clone());
                }
            }
            let b = face.bbox;
            FaceMatch {
                bbox: [b.x, b.y, b.width, b.height],
                detection: face.score,
                nearest: nearest.map(|(t, d)| (t.student_id.clone(), d)),
                same_picture,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::{FaceBox, EMBEDDING_LEN};

    fn face(embedding: Vec<f32>, height: f32) -> Face {
        Face {
            bbox: FaceBox {
                x: 10.0,
                y: 10.0,
                width: height * 0.8,
                height,
            },
            score: 0.9,
            landmarks: [[0.0; 2]; 5],
            embedding,
            crop_hash: vec![0; 18],
        }
    }

    /// A face too small to embed is matched to nobody; it must not come out as "distance 0 from
    /// the first enrolled student" (as an empty vector would under a plain Euclidean distance).
    #[test]
    fn a_face_without_an_embedding_is_nobody_but_a_full_one_is_matched() {
        let templates = vec![Template {
            student_id: "A1001".into(),
            embedding: vec![0.1; EMBEDDING_LEN],
            crop_hash: vec![0xff; 18],
        }];
        let m = match_faces(&[face(Vec::new(), 18.0)], &templates);
        assert_eq!(m[0].nearest, None);
        let m = match_faces(&[face(vec![0.1; EMBEDDING_LEN], 90.0)], &templates);
        assert_eq!(m[0].nearest, Some(("A1001".to_string(), 0.0)));
    }
}
