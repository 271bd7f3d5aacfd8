//! HEIC/HEIF (iPhones, iPads, Android phones): lossless metadata strip by rewriting the ISOBMFF
//! container, and decoding through the system libheif.
//!
//! **Kept, and why** (an allow-list, reached from the primary item): the primary image item
//! (`hvc1`, or a `grid`/`iden`/`iovl` derived image with the tiles it is made of, hidden as they
//! were) and an alpha plane (`auxl` image whose `auxC` says alpha); their `dimg`/`auxl` references;
//! the properties that say how to show the pixels — `hvcC` (decoder configuration, only its
//! VPS/SPS/PPS arrays), `ispe`, `colr` (ICC or nclx colours), `irot`/`imir` (orientation: HEIF
//! shows pictures turned by these, never by EXIF), `clap`, `pixi`, `pasp`, `auxC`, `clli`,
//! `mdcv`, `cclv`, `lsel`; the `ftyp` brands. The coded HEVC data is copied byte for byte.
//!
//! **Dropped:** `Exif` items, `mime` items (XMP and anything else), `uri ` items, thumbnails
//! (`thmb`), depth maps and HDR gain-map images (with the XMP that describes them), every other
//! item, reference and property, item names (`infe`) and the handler name (`hdlr`), `free`/`skip`
//! and unknown top-level boxes, and any data no kept item points at. `mdat` and `idat` are rebuilt
//! from the kept items' data and `iloc` written again with the new offsets.
//!
//! **Held** (never released as is): a `moov` box (a Live Photo or a video in the same file), data
//! in another file (`dref` entry that is not self-contained, or `iloc` data reference), item-offset
//! construction, protected (encrypted) items, FullBox versions the standard does not define, an
//! unknown property a kept item marks essential, and any structure that does not add up (Corrupt).
//!
//! Hand-rolled rather than `mp4-atom`: what is needed is a byte-exact copy of a few boxes and an
//! allow-list over items and properties, about as much code as glue around a general MP4 model
//! would be, and it keeps the HEVC data as borrowed slices (no copy until the output is written).
//! libheif is only used to decode: it has no API to remove items or rewrite `iloc`.

use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};

use super::{check_dimensions, Cleaned, Findings, Format, FormatError, Limits};

/// What a released HEIC becomes (`[formats] heic_output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeicOutput {
    /// The container rewritten without metadata: lossless, the HEVC data byte for byte.
    #[default]
    Heic,
    /// Decoded, turned upright and encoded as JPEG (quality 92, ICC profile kept), for channels
    /// whose platforms do not take HEIC.
    Jpeg,
}

/// Image item types we keep and can decode.
const IMAGE_TYPES: &[&[u8; 4]] = &[b"hvc1", b"grid", b"iden", b"iovl"];
/// Properties that describe how to show the pixels and carry no text about the photo.
const KEEP_PROPS: &[&[u8; 4]] = &[
    b"hvcC", b"ispe", b"colr", b"irot", b"imir", b"clap", b"pixi", b"pasp", b"auxC", b"clli",
    b"mdcv", b"cclv", b"lsel",
];
/// Reference types kept between kept items.
const KEEP_REFS: &[&[u8; 4]] = &[b"dimg", b"auxl"];
/// `auxC` types that mean "alpha plane" (HEVC and MPEG-B spellings).
const ALPHA_URNS: &[&str] = &[
    "urn:mpeg:hevc:2015:auxid:1",
    "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
];

fn corrupt(what: impl Into<String>) -> FormatError {
    FormatError::Corrupt(what.into())
}

fn unsupported(what: impl Into<String>) -> FormatError {
    FormatError::Unsupported(what.into())
}

/// A box: its type, where it starts, where its content starts and where it ends (absolute).
#[derive(Debug, Clone, Copy)]
struct Bx {
    typ: [u8; 4],
    start: usize,
    body: usize,
    end: usize,
}

/// Split `data[from..to]` into boxes (size 0 means "to the end").
fn boxes(data: &[u8], from: usize, to: usize, what: &str) -> Result<Vec<Bx>, FormatError> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < to {
        let h = data
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= to)
            .ok_or_else(|| corrupt(format!("the HEIC is cut off inside a box header ({what})")))?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let typ = [h[4], h[5], h[6], h[7]];
        let (size, header) = match size32 {
            0 => (to - pos, 8),
            1 => {
                let l = data
                    .get(pos + 8..pos + 16)
                    .filter(|_| pos + 16 <= to)
                    .ok_or_else(|| corrupt("the HEIC is cut off inside a box header"))?;
                let s = u64::from_be_bytes([l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]);
                (usize::try_from(s).unwrap_or(usize::MAX), 16)
            }
            s => (s as usize, 8),
        };
        if size < header || to - pos < size {
            return Err(corrupt(format!(
                "the HEIC is cut off or damaged: the '{}' box ({what}) runs past its end",
                fourcc(&typ)
            )));
        }
        out.push(Bx {
            typ,
            start: pos,
            body: pos + header,
            end: pos + size,
        });
        pos += size;
    }
    Ok(out)
}

fn fourcc(t: &[u8]) -> String {
    t.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// A cursor over a box's content.
struct Rd<'a> {
    d: &'a [u8],
    p: usize,
    what: &'static str,
}

impl<'a> Rd<'a> {
    fn new(d: &'a [u8], what: &'static str) -> Self {
        Rd { d, p: 0, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let s = self
            .d
            .get(self.p..self.p.saturating_add(n))
            .ok_or_else(|| corrupt(format!("the HEIC's {} box is cut off", self.what)))?;
        self.p += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FormatError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn uint(&mut self, size: u8) -> Result<u64, FormatError> {
        match size {
            0 => Ok(0),
            4 => Ok(u64::from(self.u32()?)),
            8 => {
                let b = self.take(8)?;
                Ok(u64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            _ => Err(corrupt(format!(
                "the HEIC's {} box uses a field size of {size} bytes",
                self.what
            ))),
        }
    }
    fn fourcc(&mut self) -> Result<[u8; 4], FormatError> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }
    /// NUL-terminated string (a missing NUL at the very end of the box is tolerated).
    fn cstr(&mut self) -> Result<&'a [u8], FormatError> {
        let rest = &self.d[self.p.min(self.d.len())..];
        match memchr::memchr(0, rest) {
            Some(n) => {
                self.p += n + 1;
                Ok(&rest[..n])
            }
            None => {
                self.p = self.d.len();
                Ok(rest)
            }
        }
    }
    /// FullBox version and flags.
    fn full(&mut self) -> Result<(u8, u32), FormatError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }
    fn done(&self) -> bool {
        self.p >= self.d.len()
    }
}

fn check_version(what: &str, version: u8, max: u8) -> Result<(), FormatError> {
    if version > max {
        return Err(unsupported(format!(
            "HEIC whose '{what}' box has version {version}, which we do not know; export it as JPEG"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Item {
    id: u32,
    typ: [u8; 4],
    flags: u32,
    content_type: String,
    content_encoding: String,
}

#[derive(Debug, Clone)]
struct Loc {
    id: u32,
    method: u8,
    base: u64,
    extents: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
struct Ref {
    typ: [u8; 4],
    from: u32,
    to: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Assoc {
    essential: bool,
    /// 1-based index into `props`.
    index: u16,
}

/// The parsed structure of a HEIF file. Slices borrow the input.
struct Heif<'a> {
    data: &'a [u8],
    ftyp: &'a [u8],
    top: Vec<[u8; 4]>,
    hdlr_name_empty: bool,
    primary: u32,
    items: Vec<Item>,
    locs: Vec<Loc>,
    refs: Vec<Ref>,
    /// Property boxes (whole box bytes) in `ipco` order.
    props: Vec<([u8; 4], &'a [u8])>,
    assocs: Vec<(u32, Vec<Assoc>)>,
    idat: Option<&'a [u8]>,
    /// Names of `infe` items that are not empty.
    named_items: usize,
}

impl<'a> Heif<'a> {
    fn item(&self, id: u32) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    fn props_of(&self, id: u32) -> impl Iterator<Item = (Assoc, [u8; 4], &'a [u8])> + '_ {
        self.assocs
            .iter()
            .filter(move |(i, _)| *i == id)
            .flat_map(|(_, a)| a.iter().copied())
            .filter_map(|a| {
                let (t, b) = self.props.get(usize::from(a.index).checked_sub(1)?)?;
                Some((a, *t, *b))
            })
    }

    /// The content (after the header) of the first property of type `t` of item `id`.
    fn prop(&self, id: u32, t: &[u8; 4]) -> Option<&'a [u8]> {
        self.props_of(id)
            .find(|(_, pt, _)| pt == t)
            .and_then(|(_, _, b)| b.get(8..))
    }

    fn refs_to(&self, typ: &[u8; 4], to: u32) -> impl Iterator<Item = u32> + '_ {
        let typ = *typ;
        self.refs
            .iter()
            .filter(move |r| r.typ == typ && r.to.contains(&to))
            .map(|r| r.from)
    }

    fn refs_from(&self, typ: &[u8; 4], from: u32) -> impl Iterator<Item = u32> + '_ {
        let typ = *typ;
        self.refs
            .iter()
            .filter(move |r| r.typ == typ && r.from == from)
            .flat_map(|r| r.to.iter().copied())
    }

    /// The item's data: its extents concatenated.
    fn item_data(&self, id: u32) -> Result<Vec<u8>, FormatError> {
        Ok(self.item_extents(id)?.concat())
    }

    /// The item's extents, borrowed (so the rewrite copies the coded data only once).
    fn item_extents(&self, id: u32) -> Result<Vec<&'a [u8]>, FormatError> {
        let loc = self
            .locs
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| corrupt(format!("the HEIC's item {id} has no location")))?;
        let src: &[u8] = match loc.method {
            0 => self.data,
            1 => self
                .idat
                .ok_or_else(|| corrupt("the HEIC points into an item data box it does not have"))?,
            _ => {
                return Err(unsupported(
                    "HEIC whose items are built from other items' data; export it as JPEG",
                ))
            }
        };
        let mut out = Vec::with_capacity(loc.extents.len());
        for &(off, len) in &loc.extents {
            let start = loc
                .base
                .checked_add(off)
                .and_then(|s| usize::try_from(s).ok());
            let start = start.filter(|&s| s <= src.len()).ok_or_else(|| {
                corrupt("the HEIC is cut off: a picture's data lies past the end of the file")
            })?;
            let end = if len == 0 && loc.extents.len() == 1 {
                src.len()
            } else {
                usize::try_from(len)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .filter(|&e| e <= src.len())
                    .ok_or_else(|| {
                        corrupt(
                            "the HEIC is cut off: a picture's data runs past the end of the file",
                        )
                    })?
            };
            out.push(&src[start..end]);
        }
        Ok(out)
    }

    /// Image size (`ispe`) of an item, if it has one.
    fn ispe(&self, id: u32) -> Option<(u32, u32)> {
        let b = self.prop(id, b"ispe")?;
        let mut r = Rd::new(b, "ispe");
        r.full().ok()?;
        Some((r.u32().ok()?, r.u32().ok()?))
    }

    fn aux_type(&self, id: u32) -> String {
        self.prop(id, b"auxC")
            .and_then(|b| b.get(4..))
            .map(super::decode_8bit)
            .unwrap_or_default()
    }
}

/// Parse the container: top-level boxes and the `meta` box.
fn parse(data: &[u8]) -> Result<Heif<'_>, FormatError> {
    let top = boxes(data, 0, data.len(), "file")?;
    let first = top.first().ok_or_else(|| corrupt("the file is empty"))?;
    if &first.typ != b"ftyp" {
        return Err(corrupt("the HEIC does not start with a file-type box"));
    }
    if top.iter().any(|b| &b.typ == b"moov") {
        return Err(unsupported(
            "HEIC with a video inside (a Live Photo or a burst saved as one file); videos are \
             not gated yet: export the still photo as JPEG or HEIC on its own",
        ));
    }
    let metas: Vec<&Bx> = top.iter().filter(|b| &b.typ == b"meta").collect();
    let meta = match metas.as_slice() {
        [m] => **m,
        [] => return Err(corrupt("the HEIC has no picture index (meta box)")),
        _ => return Err(corrupt("the HEIC has two picture indexes (meta boxes)")),
    };
    let mut h = Heif {
        data,
        ftyp: &data[first.start..first.end],
        top: top.iter().map(|b| b.typ).collect(),
        hdlr_name_empty: true,
        primary: 0,
        items: Vec::new(),
        locs: Vec::new(),
        refs: Vec::new(),
        props: Vec::new(),
        assocs: Vec::new(),
        idat: None,
        named_items: 0,
    };
    let mut r = Rd::new(&data[meta.body..meta.end], "meta");
    let (v, _) = r.full()?;
    check_version("meta", v, 0)?;
    let mut saw = (false, false, false, false); // hdlr, pitm, iinf, iloc
    for b in boxes(data, meta.body + 4, meta.end, "meta")? {
        let body = &data[b.body..b.end];
        match &b.typ {
            b"hdlr" => {
                saw.0 = true;
                let mut r = Rd::new(body, "hdlr");
                let (v, _) = r.full()?;
                check_version("hdlr", v, 0)?;
                r.take(4)?;
                let handler = r.fourcc()?;
                if &handler != b"pict" {
                    return Err(unsupported(format!(
                        "HEIF file that is not a picture (handler '{}')",
                        fourcc(&handler)
                    )));
                }
                r.take(12)?;
                h.hdlr_name_empty = r.cstr()?.is_empty();
            }
            b"dinf" => {
                for d in boxes(data, b.body, b.end, "dinf")? {
                    if &d.typ != b"dref" {
                        continue;
                    }
                    let mut r = Rd::new(&data[d.body..d.end], "dref");
                    let (v, _) = r.full()?;
                    check_version("dref", v, 0)?;
                    r.u32()?;
                    for e in boxes(data, d.body + 8, d.end, "dref")? {
                        let mut r = Rd::new(&data[e.body..e.end], "dref");
                        let (_, flags) = r.full()?;
                        if !(&e.typ == b"url " && flags & 1 == 1) {
                            return Err(unsupported(
                                "HEIC whose picture data is kept in another file; export it as JPEG",
                            ));
                        }
                    }
                }
            }
            b"pitm" => {
                saw.1 = true;
                let mut r = Rd::new(body, "pitm");
                let (v, _) = r.full()?;
                check_version("pitm", v, 1)?;
                h.primary = if v == 0 {
                    u32::from(r.u16()?)
                } else {
                    r.u32()?
                };
            }
            b"iinf" => {
                saw.2 = true;
                parse_iinf(data, b, &mut h)?;
            }
            b"iloc" => {
                saw.3 = true;
                h.locs = parse_iloc(body)?;
            }
            b"iref" => {
                let mut r = Rd::new(body, "iref");
                let (v, _) = r.full()?;
                check_version("iref", v, 1)?;
                for e in boxes(data, b.body + 4, b.end, "iref")? {
                    let mut r = Rd::new(&data[e.body..e.end], "iref");
                    let id = |r: &mut Rd| -> Result<u32, FormatError> {
                        if v == 0 {
                            Ok(u32::from(r.u16()?))
                        } else {
                            r.u32()
                        }
                    };
                    let from = id(&mut r)?;
                    let n = r.u16()?;
                    let to = (0..n).map(|_| id(&mut r)).collect::<Result<_, _>>()?;
                    h.refs.push(Ref {
                        typ: e.typ,
                        from,
                        to,
                    });
                }
            }
            b"iprp" => parse_iprp(data, b, &mut h)?,
            b"idat" => h.idat = Some(body),
            // Entity groups, protection schemes, other boxes: nothing we keep needs them.
            _ => {}
        }
    }
    if !(saw.0 && saw.1 && saw.2 && saw.3) {
        return Err(corrupt(
            "the HEIC's picture index is incomplete (no handler, primary item, item list or locations)",
        ));
    }
    Ok(h)
}

fn parse_iinf<'a>(data: &'a [u8], b: Bx, h: &mut Heif<'a>) -> Result<(), FormatError> {
    let mut r = Rd::new(&data[b.body..b.end], "iinf");
    let (v, _) = r.full()?;
    check_version("iinf", v, 1)?;
    let skip = if v == 0 { 2 } else { 4 };
    r.take(skip)?;
    for e in boxes(data, b.body + 4 + skip, b.end, "iinf")? {
        if &e.typ != b"infe" {
            continue;
        }
        let mut r = Rd::new(&data[e.body..e.end], "infe");
        let (v, flags) = r.full()?;
        if v < 2 {
            return Err(unsupported(
                "HEIF file in the old item format (infe version 0/1); export it as JPEG",
            ));
        }
        check_version("infe", v, 3)?;
        let id = if v == 2 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        let protection = r.u16()?;
        let typ = r.fourcc()?;
        let name = r.cstr()?;
        if !name.is_empty() {
            h.named_items += 1;
        }
        let (mut content_type, mut content_encoding) = (String::new(), String::new());
        if &typ == b"mime" {
            content_type = super::decode_8bit(r.cstr()?);
            if !r.done() {
                content_encoding = super::decode_8bit(r.cstr()?);
            }
        }
        if protection != 0 {
            return Err(unsupported(
                "HEIC with encrypted (protected) items, which cannot be checked; export it as JPEG",
            ));
        }
        h.items.push(Item {
            id,
            typ,
            flags,
            content_type,
            content_encoding,
        });
    }
    Ok(())
}

fn parse_iloc(body: &[u8]) -> Result<Vec<Loc>, FormatError> {
    let mut r = Rd::new(body, "iloc");
    let (v, _) = r.full()?;
    check_version("iloc", v, 2)?;
    let a = r.u8()?;
    let b = r.u8()?;
    let (off_size, len_size, base_size) = (a >> 4, a & 15, b >> 4);
    let index_size = if v >= 1 { b & 15 } else { 0 };
    let count = if v < 2 { u32::from(r.u16()?) } else { r.u32()? };
    let mut out = Vec::new();
    for _ in 0..count {
        let id = if v < 2 { u32::from(r.u16()?) } else { r.u32()? };
        let method = if v >= 1 { (r.u16()? & 15) as u8 } else { 0 };
        let dref = r.u16()?;
        if dref != 0 {
            return Err(unsupported(
                "HEIC whose picture data is kept in another file; export it as JPEG",
            ));
        }
        let base = r.uint(base_size)?;
        let n = r.u16()?;
        let mut extents = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            r.uint(index_size)?;
            let off = r.uint(off_size)?;
            let len = r.uint(len_size)?;
            extents.push((off, len));
        }
        out.push(Loc {
            id,
            method,
            base,
            extents,
        });
    }
    Ok(out)
}

fn parse_iprp<'a>(data: &'a [u8], b: Bx, h: &mut Heif<'a>) -> Result<(), FormatError> {
    for c in boxes(data, b.body, b.end, "iprp")? {
        match &c.typ {
            b"ipco" => {
                for p in boxes(data, c.body, c.end, "ipco")? {
                    h.props.push((p.typ, &data[p.start..p.end]));
                }
            }
            b"ipma" => {
                let mut r = Rd::new(&data[c.body..c.end], "ipma");
                let (v, flags) = r.full()?;
                check_version("ipma", v, 1)?;
                let n = r.u32()?;
                for _ in 0..n {
                    let id = if v < 1 { u32::from(r.u16()?) } else { r.u32()? };
                    let k = r.u8()?;
                    let mut list = Vec::with_capacity(usize::from(k));
                    for _ in 0..k {
                        let (essential, index) = if flags & 1 == 1 {
                            let x = r.u16()?;
                            (x & 0x8000 != 0, x & 0x7FFF)
                        } else {
                            let x = r.u8()?;
                            (x & 0x80 != 0, u16::from(x & 0x7F))
                        };
                        list.push(Assoc { essential, index });
                    }
                    h.assocs.push((id, list));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The items we keep: the primary image, the images it is derived from, and alpha planes.
fn kept_items(h: &Heif, f: &mut Findings) -> Result<Vec<u32>, FormatError> {
    let primary = h
        .item(h.primary)
        .ok_or_else(|| corrupt("the HEIC's primary picture is not in its item list"))?;
    if !IMAGE_TYPES.contains(&&primary.typ) {
        return Err(unsupported(format!(
            "HEIF file whose picture is coded as '{}' (not HEVC); export it as JPEG",
            fourcc(&primary.typ)
        )));
    }
    let mut keep = vec![h.primary];
    let mut i = 0;
    while i < keep.len() {
        let id = keep[i];
        i += 1;
        let mut next: Vec<u32> = h.refs_from(b"dimg", id).collect();
        // Alpha planes of this image.
        for aux in h.refs_to(b"auxl", id) {
            let t = h.aux_type(aux);
            if ALPHA_URNS.contains(&t.as_str()) {
                next.push(aux);
            } else if t.contains("hdrgainmap") || t.contains("gainmap") {
                f.removed("HDR gain-map image");
            } else if t.contains("depth") || t.contains("disparity") {
                f.removed("depth map");
            } else {
                f.removed("auxiliary image (e.g. a portrait matte)");
            }
        }
        for n in next {
            let item = h
                .item(n)
                .ok_or_else(|| corrupt(format!("the HEIC refers to a missing item {n}")))?;
            if !IMAGE_TYPES.contains(&&item.typ) {
                return Err(unsupported(format!(
                    "HEIF picture made of '{}' parts; export it as JPEG",
                    fourcc(&item.typ)
                )));
            }
            if !keep.contains(&n) {
                if keep.len() > 4096 {
                    return Err(unsupported("HEIF picture made of more than 4096 parts"));
                }
                keep.push(n);
            }
        }
    }
    Ok(keep)
}

/// Read the metadata items (EXIF, XMP) for captions and the device, and note what is dropped.
fn read_metadata(h: &Heif, keep: &[u32], f: &mut Findings) -> Result<(), FormatError> {
    for item in &h.items {
        if keep.contains(&item.id) {
            continue;
        }
        if h.refs_from(b"thmb", item.id).next().is_some() {
            f.removed("embedded thumbnail");
            continue;
        }
        match &item.typ {
            b"Exif" => {
                let d = h.item_data(item.id)?;
                let tiff = exif_tiff(&d).ok_or_else(|| {
                    corrupt("the HEIC's EXIF block is damaged, so its captions cannot be checked")
                })?;
                let o = f.exif_orientation;
                super::exif::read(tiff, super::exif::Kind::Exif, f)?;
                f.exif_orientation = o;
            }
            b"mime" => {
                let d = h.item_data(item.id)?;
                let d = match item.content_encoding.as_str() {
                    "" => d,
                    "deflate" => miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                        &d,
                        64 << 20,
                    )
                    .or_else(|_| {
                        miniz_oxide::inflate::decompress_to_vec_with_limit(&d, 64 << 20)
                    })
                    .map_err(|_| {
                        corrupt("the HEIC's compressed metadata is damaged, so its captions cannot be checked")
                    })?,
                    other => {
                        return Err(unsupported(format!(
                            "HEIC metadata compressed as '{other}', which we cannot read to check its captions"
                        )))
                    }
                };
                let ct = item.content_type.to_ascii_lowercase();
                if ct.contains("rdf+xml") || ct.contains("xmp") {
                    f.removed("XMP");
                    super::xmp::read(&d, f)?;
                } else {
                    f.removed(format!("embedded {} data", item.content_type));
                }
            }
            b"uri " => f.removed("embedded metadata (uri item)"),
            t if IMAGE_TYPES.contains(&t) => f.removed("other embedded image"),
            t => f.removed(format!("embedded '{}' item", fourcc(t))),
        }
    }
    // HEIF pictures are turned by irot/imir; readers must ignore EXIF/XMP orientation.
    f.exif_orientation = None;
    f.xmp_orientation = None;
    Ok(())
}

/// The TIFF block in an `Exif` item: a 4-byte offset, then (usually) "Exif\0\0", then TIFF.
fn exif_tiff(d: &[u8]) -> Option<&[u8]> {
    let off = u32::from_be_bytes(d.get(0..4)?.try_into().ok()?) as usize;
    let rest = d.get(4..)?;
    let t = rest.get(off..)?;
    if t.starts_with(b"II*\0") || t.starts_with(b"MM\0*") {
        return Some(t);
    }
    // Some writers get the offset wrong; find the TIFF header near the start.
    let head = &rest[..rest.len().min(32)];
    let p = head
        .windows(4)
        .position(|w| w == b"II*\0" || w == b"MM\0*")?;
    rest.get(p..)
}

/// `hvcC` with only its VPS/SPS/PPS arrays. Returns the whole box and whether anything was dropped.
fn clean_hvcc(prop: &[u8]) -> Result<(Vec<u8>, bool), FormatError> {
    let body = prop
        .get(8..)
        .ok_or_else(|| corrupt("the HEIC's hvcC box is cut off"))?;
    if body.len() < 23 {
        return Err(corrupt(
            "the HEIC's decoder configuration (hvcC) is cut off",
        ));
    }
    let mut out = body[..22].to_vec();
    let mut r = Rd::new(&body[23..], "hvcC");
    let n = body[22];
    let mut arrays: Vec<&[u8]> = Vec::new();
    let mut dropped = false;
    for _ in 0..n {
        let start = r.p;
        let t = r.u8()? & 0x3F;
        let k = r.u16()?;
        for _ in 0..k {
            let l = r.u16()?;
            r.take(usize::from(l))?;
        }
        if matches!(t, 32..=34) {
            arrays.push(&r.d[start..r.p]);
        } else {
            dropped = true;
        }
    }
    dropped |= !r.done();
    out.push(arrays.len() as u8);
    for a in arrays {
        out.extend_from_slice(a);
    }
    Ok((boxed(b"hvcC", &out), dropped))
}

fn boxed(typ: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 8);
    b.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    b.extend_from_slice(typ);
    b.extend_from_slice(body);
    b
}

fn full_boxed(typ: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 4);
    b.extend_from_slice(&((u32::from(version) << 24) | (flags & 0x00FF_FFFF)).to_be_bytes());
    b.extend_from_slice(body);
    boxed(typ, &b)
}

/// Rewrite the container with only the kept items and properties.
fn rewrite(h: &Heif, keep: &[u32], f: &mut Findings) -> Result<Vec<u8>, FormatError> {
    let wide = keep.iter().any(|&id| id > 0xFFFF);
    let put_id = |out: &mut Vec<u8>, id: u32| {
        if wide {
            out.extend_from_slice(&id.to_be_bytes());
        } else {
            out.extend_from_slice(&(id as u16).to_be_bytes());
        }
    };
    // Properties: keep the allowed ones used by kept items, renumbered in first-use order.
    let mut new_props: Vec<Vec<u8>> = Vec::new();
    let mut prop_map: Vec<(u16, u16)> = Vec::new(); // old index -> new index
    let mut assocs: Vec<(u32, Vec<(bool, u16)>)> = Vec::new();
    for &id in keep {
        let mut list = Vec::new();
        for (a, t, b) in h.props_of(id) {
            if !KEEP_PROPS.contains(&&t) {
                if a.essential {
                    return Err(unsupported(format!(
                        "HEIC picture with a property '{}' it says is essential and that we \
                         cannot vouch for; export it as JPEG",
                        fourcc(&t)
                    )));
                }
                f.removed(format!("picture property '{}'", fourcc(&t)));
                continue;
            }
            let new = match prop_map.iter().find(|(o, _)| *o == a.index) {
                Some(&(_, n)) => n,
                None => {
                    let bytes = if &t == b"hvcC" {
                        let (b, dropped) = clean_hvcc(b)?;
                        if dropped {
                            f.removed("extra messages in the HEVC decoder configuration");
                        }
                        b
                    } else {
                        b.to_vec()
                    };
                    new_props.push(bytes);
                    let n = new_props.len() as u16;
                    prop_map.push((a.index, n));
                    n
                }
            };
            list.push((a.essential, new));
        }
        assocs.push((id, list));
    }
    if new_props.len() > 0x7FFF {
        return Err(unsupported("HEIC with more than 32767 picture properties"));
    }

    // Item data: image data into the new mdat (copied once, straight into the output, after
    // the meta box), idat data into the new idat.
    let mut mdat: Vec<&[u8]> = Vec::new();
    let mut mdat_len = 0usize;
    let mut idat: Vec<u8> = Vec::new();
    let mut locs: Vec<(u32, u8, u64, u64)> = Vec::new(); // id, method, offset, length
    for &id in keep {
        let loc = h
            .locs
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| corrupt(format!("the HEIC's picture part {id} has no location")))?;
        let parts = h.item_extents(id)?;
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if loc.method == 1 {
            locs.push((id, 1, idat.len() as u64, len as u64));
            idat.extend(parts.into_iter().flatten());
        } else {
            locs.push((id, 0, mdat_len as u64, len as u64));
            mdat_len += len;
            mdat.extend(parts);
        }
    }

    let mut meta_children = Vec::new();
    // hdlr: 'pict', no name.
    let mut hd = vec![0u8; 4];
    hd.extend_from_slice(b"pict");
    hd.extend_from_slice(&[0u8; 12]);
    hd.push(0);
    meta_children.push(full_boxed(b"hdlr", 0, 0, &hd));
    // pitm
    let mut pt = Vec::new();
    put_id(&mut pt, h.primary);
    meta_children.push(full_boxed(b"pitm", u8::from(wide), 0, &pt));
    // iinf with infe v2/v3, names blank.
    let mut ii = Vec::new();
    ii.extend_from_slice(&(keep.len() as u16).to_be_bytes());
    for &id in keep {
        let item = h
            .item(id)
            .ok_or_else(|| corrupt(format!("the HEIC refers to a missing item {id}")))?;
        let mut e = Vec::new();
        put_id(&mut e, id);
        e.extend_from_slice(&0u16.to_be_bytes());
        e.extend_from_slice(&item.typ);
        e.push(0);
        ii.extend_from_slice(&full_boxed(
            b"infe",
            if wide { 3 } else { 2 },
            item.flags & 1,
            &e,
        ));
    }
    meta_children.push(full_boxed(b"iinf", 0, 0, &ii));
    // iref: dimg/auxl between kept items.
    let mut ir = Vec::new();
    for r in &h.refs {
        if !KEEP_REFS.contains(&&r.typ) || !keep.contains(&r.from) {
            continue;
        }
        let to: Vec<u32> = r.to.iter().copied().filter(|t| keep.contains(t)).collect();
        if to.is_empty() {
            continue;
        }
        let mut e = Vec::new();
        put_id(&mut e, r.from);
        e.extend_from_slice(&(to.len() as u16).to_be_bytes());
        for t in to {
            put_id(&mut e, t);
        }
        ir.extend_from_slice(&boxed(&r.typ, &e));
    }
    if !ir.is_empty() {
        meta_children.push(full_boxed(b"iref", u8::from(wide), 0, &ir));
    }
    // iprp: ipco + ipma.
    let big = new_props.len() > 0x7F;
    let mut ma = Vec::new();
    ma.extend_from_slice(&(assocs.len() as u32).to_be_bytes());
    for (id, list) in &assocs {
        put_id(&mut ma, *id);
        ma.push(u8::try_from(list.len()).map_err(|_| corrupt("too many properties on one item"))?);
        for &(ess, idx) in list {
            if big {
                ma.extend_from_slice(&((u16::from(ess) << 15) | idx).to_be_bytes());
            } else {
                ma.push((u8::from(ess) << 7) | idx as u8);
            }
        }
    }
    let mut ip = boxed(b"ipco", &new_props.concat());
    ip.extend_from_slice(&full_boxed(b"ipma", u8::from(wide), u32::from(big), &ma));
    meta_children.push(boxed(b"iprp", &ip));
    if !idat.is_empty() {
        meta_children.push(boxed(b"idat", &idat));
    }
    // iloc last, so its size is known when the mdat offset is computed.
    let iloc = |mdat_start: u64| -> Vec<u8> {
        let mut l = vec![0x44, 0x00]; // offset_size 4, length_size 4, base_offset_size 0, index 0
        if wide {
            l.extend_from_slice(&(locs.len() as u32).to_be_bytes());
        } else {
            l.extend_from_slice(&(locs.len() as u16).to_be_bytes());
        }
        for &(id, method, off, len) in &locs {
            if wide {
                l.extend_from_slice(&id.to_be_bytes());
            } else {
                l.extend_from_slice(&(id as u16).to_be_bytes());
            }
            l.extend_from_slice(&u16::from(method).to_be_bytes());
            l.extend_from_slice(&0u16.to_be_bytes());
            l.extend_from_slice(&1u16.to_be_bytes());
            let off = if method == 0 { off + mdat_start } else { off };
            l.extend_from_slice(&(off as u32).to_be_bytes());
            l.extend_from_slice(&(len as u32).to_be_bytes());
        }
        full_boxed(b"iloc", if wide { 2 } else { 1 }, 0, &l)
    };
    let rest: usize = meta_children.iter().map(Vec::len).sum();
    let meta_len = 12 + rest + iloc(0).len();
    let mdat_start = (h.ftyp.len() + meta_len + 8) as u64;
    if mdat_start + mdat_len as u64 > u64::from(u32::MAX) {
        return Err(unsupported("HEIC larger than 4 GB"));
    }
    meta_children.push(iloc(mdat_start));
    let mut out = Vec::with_capacity(mdat_start as usize + mdat_len);
    out.extend_from_slice(h.ftyp);
    out.extend_from_slice(&full_boxed(b"meta", 0, 0, &meta_children.concat()));
    out.extend_from_slice(&((mdat_len + 8) as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    for part in mdat {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// Check every kept image's declared size (and a grid's output size) before anything is decoded.
fn check_sizes(h: &Heif, keep: &[u32], limits: &Limits) -> Result<(u32, u32), FormatError> {
    let mut primary = None;
    for &id in keep {
        if let Some((w, hh)) = h.ispe(id) {
            check_dimensions(w, hh, limits)?;
            if id == h.primary {
                primary = Some((w, hh));
            }
        }
        if h.item(id).is_some_and(|i| &i.typ == b"grid") {
            let d = h.item_data(id)?;
            let mut r = Rd::new(&d, "grid");
            let (_, flags) = (r.u8()?, r.u8()?);
            let (_rows, _cols) = (r.u8()?, r.u8()?);
            let (w, hh) = if flags & 1 == 1 {
                (r.u32()?, r.u32()?)
            } else {
                (u32::from(r.u16()?), u32::from(r.u16()?))
            };
            check_dimensions(w, hh, limits)?;
        }
    }
    primary.ok_or_else(|| corrupt("the HEIC's primary picture does not declare its size (ispe)"))
}

/// Strip a HEIC. See the module documentation for what is kept.
pub(crate) fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    let h = parse(bytes)?;
    let mut f = Findings::default();
    let keep = kept_items(&h, &mut f)?;
    check_sizes(&h, &keep, limits)?;
    read_metadata(&h, &keep, &mut f)?;
    if h.named_items > 0 || !h.hdlr_name_empty {
        f.removed("item names");
    }
    for t in &h.top {
        match t {
            b"ftyp" | b"meta" | b"mdat" | b"free" | b"skip" => {}
            other => f.removed(format!("unknown '{}' box", fourcc(other))),
        }
    }
    let (width, height) = shown_size(&h)?;
    let out = rewrite(&h, &keep, &mut f)?;
    if limits.heic_output == HeicOutput::Jpeg {
        let jpeg = to_jpeg(&out, limits)?;
        f.removed("HEIC container (converted to JPEG)");
        let mut c = super::jpeg::clean(&jpeg, limits)?;
        c.removed = f.removed;
        c.embedded_text = f.texts;
        c.device = f.device;
        return Ok(c);
    }
    Ok(f.into_cleaned(Format::Heic, out, "heic", (width, height)))
}

/// The primary picture's size as shown: `ispe`, then its transformative properties in the order
/// they are associated (`clap` crops, `irot` by 90° or 270° swaps). `verify` checks it against
/// libheif's reading of the output, so strip itself needs no libheif.
fn shown_size(h: &Heif) -> Result<(u32, u32), FormatError> {
    let (mut w, mut hh) = h
        .ispe(h.primary)
        .ok_or_else(|| corrupt("the HEIC's primary picture does not declare its size (ispe)"))?;
    for (_, t, b) in h.props_of(h.primary) {
        let body = b.get(8..).unwrap_or_default();
        match &t {
            b"irot" if body.first().is_some_and(|a| a & 1 == 1) => std::mem::swap(&mut w, &mut hh),
            b"clap" => {
                let mut r = Rd::new(body, "clap");
                let (wn, wd, hn, hd) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
                if wd == 0 || hd == 0 {
                    return Err(corrupt("the HEIC's crop (clap) divides by zero"));
                }
                let round =
                    |n: u32, d: u32| ((u64::from(n) + u64::from(d) / 2) / u64::from(d)) as u32;
                (w, hh) = (round(wn, wd).min(w), round(hn, hd).min(hh));
            }
            _ => {}
        }
    }
    Ok((w, hh))
}

/// Size as shown (rotation, mirroring and crop applied), by libheif.
fn displayed_size(bytes: &[u8]) -> Result<(u32, u32), FormatError> {
    guarded(|| {
        libheif();
        let ctx = HeifContext::read_from_bytes(bytes)
            .map_err(|e| corrupt(format!("the HEIC cannot be read ({e})")))?;
        let handle = ctx
            .primary_image_handle()
            .map_err(|e| corrupt(format!("the HEIC has no readable primary picture ({e})")))?;
        Ok((handle.width(), handle.height()))
    })
}

/// libheif, initialised once for the process (never de-initialised: contexts may live on
/// other threads).
fn libheif() -> &'static LibHeif {
    static LIB: std::sync::OnceLock<LibHeif> = std::sync::OnceLock::new();
    LIB.get_or_init(LibHeif::new)
}

/// Run libheif code; a panic in the wrapper must not take the run down.
fn guarded<T>(f: impl FnOnce() -> Result<T, FormatError>) -> Result<T, FormatError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(corrupt("the HEIC decoder failed on this file")))
}

/// Check the cleaned container: it must re-parse, hold exactly ftyp, meta and mdat, only image
/// items of the kept types with blank names, only the kept references and properties, no data
/// beyond what the kept items use, and libheif must read its primary picture at the same size.
pub(crate) fn verify(c: &Cleaned, limits: &Limits) -> Result<(), FormatError> {
    let h =
        parse(&c.bytes).map_err(|e| corrupt(format!("the cleaned HEIC does not re-read ({e})")))?;
    let fail = |what: &str| {
        Err(corrupt(format!(
            "internal check failed: the cleaned HEIC still holds {what}"
        )))
    };
    if h.top.as_slice() != [*b"ftyp", *b"meta", *b"mdat"] {
        return fail("boxes other than the picture");
    }
    if !h.hdlr_name_empty || h.named_items > 0 {
        return fail("item names");
    }
    if let Some(i) = h.items.iter().find(|i| !IMAGE_TYPES.contains(&&i.typ)) {
        return fail(&format!("a '{}' item", fourcc(&i.typ)));
    }
    if h.refs.iter().any(|r| !KEEP_REFS.contains(&&r.typ)) {
        return fail("a metadata or thumbnail reference");
    }
    if h.props.iter().any(|(t, _)| !KEEP_PROPS.contains(&t)) {
        return fail("a property we do not keep");
    }
    let mut f = Findings::default();
    let keep = kept_items(&h, &mut f)?;
    if keep.len() != h.items.len() || !f.removed.is_empty() {
        return fail("items the picture does not use");
    }
    check_sizes(&h, &keep, limits)?;
    let used: u64 = h
        .locs
        .iter()
        .filter(|l| l.method == 0)
        .flat_map(|l| l.extents.iter().map(|e| e.1))
        .sum();
    let mdat_len = c.bytes.len() as u64 - h.ftyp.len() as u64 - meta_len(&c.bytes)? as u64 - 8;
    if used != mdat_len {
        return fail("data no picture uses");
    }
    if displayed_size(&c.bytes)? != (c.width, c.height) {
        return Err(corrupt(
            "the cleaned HEIC's picture size differs from the original's",
        ));
    }
    Ok(())
}

fn meta_len(bytes: &[u8]) -> Result<usize, FormatError> {
    let top = boxes(bytes, 0, bytes.len(), "file")?;
    top.iter()
        .find(|b| &b.typ == b"meta")
        .map(|b| b.end - b.start)
        .ok_or_else(|| corrupt("the cleaned HEIC has no meta box"))
}

/// Decode a HEIC's primary picture to 8-bit RGB, upright (irot/imir/clap applied by libheif).
/// Declared sizes are checked against `limits` first.
pub(crate) fn decode_rgb(bytes: &[u8], limits: &Limits) -> Result<image::RgbImage, FormatError> {
    let h = parse(bytes)?;
    let mut f = Findings::default();
    let keep = kept_items(&h, &mut f)?;
    check_sizes(&h, &keep, limits)?;
    guarded(|| {
        let lib = libheif();
        let ctx = HeifContext::read_from_bytes(bytes)
            .map_err(|e| corrupt(format!("the HEIC cannot be read ({e})")))?;
        let handle = ctx
            .primary_image_handle()
            .map_err(|e| corrupt(format!("the HEIC has no readable primary picture ({e})")))?;
        check_dimensions(handle.width(), handle.height(), limits)?;
        // No decoding options: their struct layout in libheif-sys 1.14's prebuilt bindings does
        // not match libheif 1.15 (setting `convert_hdr_to_8bit` was seen to switch rotation off).
        // Asking for interleaved 8-bit RGB converts 10-bit pictures anyway.
        let img = lib
            .decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None)
            .map_err(|e| corrupt(format!("the HEIC picture data cannot be decoded ({e})")))?;
        let planes = img.planes();
        let p = planes
            .interleaved
            .ok_or_else(|| corrupt("the HEIC decoder gave no RGB picture"))?;
        if p.storage_bits_per_pixel != 24 {
            return Err(unsupported(format!(
                "HEIC the decoder gave as {}-bit pixels; export it as JPEG",
                p.storage_bits_per_pixel
            )));
        }
        let (w, hh) = (p.width as usize, p.height as usize);
        let row = w * 3;
        if p.stride < row || p.data.len() < p.stride * hh.saturating_sub(1) + row {
            return Err(corrupt("the HEIC decoder gave a picture of the wrong size"));
        }
        let mut rgb = Vec::with_capacity(row * hh);
        for y in 0..hh {
            rgb.extend_from_slice(&p.data[y * p.stride..y * p.stride + row]);
        }
        image::RgbImage::from_raw(p.width, p.height, rgb)
            .ok_or_else(|| corrupt("the HEIC decoder gave a picture of the wrong size"))
    })
}

/// The raw ICC profile of the primary picture, if it has one.
fn icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    libheif();
    let ctx = HeifContext::read_from_bytes(bytes).ok()?;
    let handle = ctx.primary_image_handle().ok()?;
    handle.color_profile_raw().map(|p| p.data)
}

/// Decode (upright) and encode as JPEG quality 92 with the ICC profile.
fn to_jpeg(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, FormatError> {
    use image::ImageEncoder;
    let img = decode_rgb(bytes, limits)?;
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
    if let Some(icc) = guarded(|| Ok(icc_profile(bytes)))? {
        enc.set_icc_profile(icc)
            .map_err(|e| corrupt(format!("the colour profile cannot be kept ({e})")))?;
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| corrupt(format!("the JPEG copy cannot be written ({e})")))?;
    Ok(out)
}
