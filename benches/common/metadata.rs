//! Identifying metadata for bench inputs: JPEG APPn segments carrying EXIF (camera, caption,
//! orientation, GPS position) and XMP, as a phone or camera writes them. Shared by the benches.
#![allow(dead_code)]

/// A JPEG marker segment: FF, marker, big-endian length, payload.
pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

fn rationals(v: &[(u32, u32)]) -> Vec<u8> {
    v.iter()
        .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
        .collect()
}

/// Little-endian EXIF APP1: IFD0 (ImageDescription, Make, Model, Orientation, GPS pointer) + GPS
/// IFD (latitude and longitude with their references). `jitter` moves the position a little.
pub fn exif(description: &str, orientation: u16, jitter: u32) -> Vec<u8> {
    let mut t = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    let base = 6;
    let ifd0_entries = 5u16;
    let gps_at = 8 + 2 + 12 * ifd0_entries as u32 + 4;
    let gps_entries = 4u16;
    let data_at = gps_at + 2 + 12 * gps_entries as u32 + 4;
    let make = b"BenchCam\0";
    let model = b"Model 12MP\0";
    let desc = format!("{description}\0");
    let lat = rationals(&[(51, 1), (30, 1), (1234 + jitter, 100)]);
    let lon = rationals(&[(0, 1), (7, 1), (4321 + jitter, 100)]);
    let mut data = Vec::new();
    let mut entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, v: &[u8]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&typ.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        if v.len() <= 4 {
            let mut x = v.to_vec();
            x.resize(4, 0);
            t.extend_from_slice(&x);
        } else {
            t.extend_from_slice(&(data_at + data.len() as u32).to_le_bytes());
            data.extend_from_slice(v);
        }
    };
    t.extend_from_slice(&ifd0_entries.to_le_bytes());
    entry(&mut t, 0x010E, 2, desc.len() as u32, desc.as_bytes());
    entry(&mut t, 0x010F, 2, make.len() as u32, make);
    entry(&mut t, 0x0110, 2, model.len() as u32, model);
    entry(&mut t, 0x0112, 3, 1, &orientation.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, &gps_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() - base, gps_at as usize);
    t.extend_from_slice(&gps_entries.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, b"N\0");
    entry(&mut t, 0x0002, 5, 3, &lat);
    entry(&mut t, 0x0003, 2, 2, b"W\0");
    entry(&mut t, 0x0004, 5, 3, &lon);
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() - base, data_at as usize);
    t.extend_from_slice(&data);
    segment(0xE1, &t)
}

/// XMP APP1 with a description, keywords and a GPS latitude.
pub fn xmp() -> Vec<u8> {
    let mut p = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    p.extend_from_slice(
        br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/"><dc:description><rdf:Alt><rdf:li xml:lang="x-default">Relay race</rdf:li></rdf:Alt></dc:description><dc:subject><rdf:Bag><rdf:li>sports</rdf:li><rdf:li>school</rdf:li></rdf:Bag></dc:subject><exif:GPSLatitude>51,30.2N</exif:GPSLatitude></rdf:Description></rdf:RDF></x:xmpmeta>"#,
    );
    segment(0xE1, &p)
}
