#!/usr/bin/env python3
"""Generate the labelled set for `cargo bench --bench text_accuracy` (never committed).

    python3 benches/text/make-bench.py OUT_DIR [--per-cell 4]

12 MP (4000x3000) JPEGs: a certificate, name badge, lanyard, sports bib, artwork label,
whiteboard or birthday cake naming a student of fixtures/captions/register.csv, with the name's
x-height 8, 10, 12, 15, 20, 28, 40 or 60 px in the frame; rotated up to +-20 degrees, perspective
warped, some blurred, some low-contrast, some with the object's edge occluded (never the name),
pasted on a real photo from ../shared/corpus scaled to fill the frame. Also school signs that
name no student ("Sports Day 2026", brand names on kits) pasted on text-free photos, and
text-free photos themselves (corpus photos in which rapidocr, an independent onnxruntime
pipeline, finds no letters; the check runs when the `rapidocr_onnxruntime` module is importable
(or RAPIDOCR_PATH names an unpacked wheel), else every large corpus photo is used).

Writes OUT_DIR/labels.tsv (file, category, kind, x_height, student) and OUT_DIR/register.csv.
Needs Pillow and numpy, and the Debian fonts fonts-dejavu-core, fonts-liberation,
fonts-comic-neue, fonts-dancingscript, fonts-breip, fonts-humor-sans (handwriting and script
faces for whiteboards and cakes). Deterministic for a given corpus (seeded).
"""
import csv
import os
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
W, H = 4000, 3000
SIZES = [8, 10, 12, 15, 20, 28, 40, 60]
KINDS = ["certificate", "badge", "lanyard", "bib", "artwork", "whiteboard", "cake"]

F = "/usr/share/fonts"
SERIF = f"{F}/truetype/dejavu/DejaVuSerif.ttf"
SERIF_B = f"{F}/truetype/dejavu/DejaVuSerif-Bold.ttf"
SANS = f"{F}/truetype/liberation/LiberationSans-Regular.ttf"
SANS_B = f"{F}/truetype/liberation/LiberationSans-Bold.ttf"
DSANS_B = f"{F}/truetype/dejavu/DejaVuSans-Bold.ttf"
COMIC = f"{F}/opentype/comic-neue/ComicNeue-Bold.otf"
COMIC_R = f"{F}/opentype/comic-neue/ComicNeue-Regular.otf"
SCRIPT = f"{F}/opentype/dancingscript/DancingScript-Bold.otf"
BREIP = f"{F}/truetype/breip/Breip.ttf"
HUMOR = f"{F}/truetype/humor-sans/Humor-Sans.ttf"

NAME_FONTS = {
    "certificate": [SERIF_B, SCRIPT, SERIF],
    "badge": [SANS_B, COMIC, DSANS_B],
    "lanyard": [SANS_B, DSANS_B, SANS],
    "bib": [DSANS_B, SANS_B],
    "artwork": [SANS, COMIC_R, SERIF],
    "whiteboard": [COMIC, HUMOR, BREIP],
    "cake": [SCRIPT, COMIC],
}
SIGNS = [
    "Sports Day 2026", "Greenfield Primary School", "Well done Year 6!", "Nike", "adidas",
    "UMBRO", "House Points", "Science Fair 2026", "Harvest Festival", "Fire Exit",
    "Year 4 Class Assembly", "Reading Corner", "St Mary's C of E Primary", "Under 11s Football",
    "Summer Fair", "Happy Birthday!", "Spelling test on Friday", "Keep Left",
]


def font(path, size):
    return ImageFont.truetype(path, max(4, int(round(size))))


def size_for_x_height(path, x_height):
    """Font size whose lowercase x is `x_height` px tall."""
    f = ImageFont.truetype(path, 200)
    box = f.getbbox("x")
    return 200 * x_height / max(1, box[3] - box[1])


def backgrounds():
    out = []
    for p in sorted(CORPUS.rglob("*")):
        if p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        try:
            with Image.open(p) as im:
                im.load()  # the corpus has damaged files on purpose
                if min(im.size) >= 300:
                    out.append(p)
        except Exception:
            pass
    return out


def background(path, rnd):
    im = Image.open(path).convert("RGB")
    s = max(W / im.width, H / im.height) * rnd.uniform(1.0, 1.3)
    im = im.resize((int(im.width * s) + 1, int(im.height * s) + 1), Image.BICUBIC)
    x = rnd.randrange(0, im.width - W + 1)
    y = rnd.randrange(0, im.height - H + 1)
    return im.crop((x, y, x + W, y + H))


def text_w(d, text, f):
    return d.textlength(text, font=f)


def card(kind, name, xh, rnd, low_contrast):
    """The object as an RGBA picture, and where the name is on it."""
    fpath = rnd.choice(NAME_FONTS[kind])
    fs = size_for_x_height(fpath, xh)
    nf = font(fpath, fs)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    nw = text_w(probe, name, nf)
    small = lambda k=0.55, p=SANS: font(p, fs * k)
    pad = fs * 0.8
    if kind == "certificate":
        bg, ink = (250, 245, 228), (30, 30, 90)
        lines = [("Certificate of Achievement", font(SERIF_B, fs * 0.6)),
                 ("awarded to", small(0.45, SERIF)), (name, nf),
                 ("for excellent effort in maths", small(0.45, SERIF))]
    elif kind == "badge":
        bg, ink = (255, 255, 255), (10, 10, 10)
        lines = [("HELLO", font(SANS_B, fs * 0.6)), ("my name is", small(0.4)), (name, nf)]
    elif kind == "lanyard":
        bg, ink = (235, 242, 255), (10, 20, 60)
        lines = [("Greenfield Primary", small(0.45, SANS_B)), (name, nf), ("Year 5", small(0.4))]
    elif kind == "bib":
        bg, ink = (255, 255, 255), (0, 0, 0)
        lines = [(name, nf), (str(rnd.randrange(10, 400)), font(DSANS_B, fs * 2.2)),
                 ("Sports Day 2026", small(0.4))]
    elif kind == "artwork":
        bg, ink = (255, 255, 250), (20, 20, 20)
        lines = [(name, nf), ("Sunflowers, poster paint", small(0.6)),
                 (f"Year {rnd.randrange(1, 7)}", small(0.6))]
    elif kind == "whiteboard":
        bg, ink = (244, 246, 244), rnd.choice([(20, 40, 160), (10, 10, 10), (20, 120, 40)])
        lines = [("Star of the week:", font(fpath, fs * 0.9)), (name, nf),
                 ("Spellings on Friday", font(fpath, fs * 0.9)), ("PE kits please", font(fpath, fs * 0.9))]
    else:  # cake
        bg, ink = rnd.choice([(250, 200, 220), (255, 240, 200), (200, 230, 250)]), (150, 30, 90)
        lines = [("Happy Birthday", font(SCRIPT, fs * 0.8)), (name, nf)]
    if low_contrast:
        ink = tuple(int(c + (b - c) * 0.6) for c, b in zip(ink, bg))
    widths = [text_w(probe, t, f) for t, f in lines]
    heights = [f.size * 1.35 for _, f in lines]
    cw = int(max(widths) + 2 * pad)
    ch = int(sum(heights) + 2 * pad)
    if kind == "certificate":
        cw, ch = max(cw, int(ch * 1.41)), max(ch, int(cw / 1.41))
    im = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if kind == "cake":
        d.ellipse([0, 0, cw - 1, ch - 1], fill=bg + (255,))
    else:
        d.rectangle([0, 0, cw - 1, ch - 1], fill=bg + (255,))
        if kind in ("certificate", "lanyard", "badge"):
            d.rectangle([3, 3, cw - 4, ch - 4], outline=(160, 110, 40, 255), width=max(2, int(fs / 12)))
    y = (ch - sum(heights)) / 2
    name_box = None
    for (t, f), w_, h_ in zip(lines, widths, heights):
        x = (cw - w_) / 2
        d.text((x, y), t, font=f, fill=ink + (255,))
        if t == name:
            name_box = (x, y, x + w_, y + h_)
        y += h_
    return im, name_box


def occlude(im, name_box, rnd):
    """A hand-coloured blob over one corner of the object, clear of the name."""
    d = ImageDraw.Draw(im)
    w, h = im.size
    r = min(w, h) * rnd.uniform(0.15, 0.3)
    for _ in range(20):
        cx, cy = rnd.choice([(0, 0), (w, 0), (0, h), (w, h)])
        x0, y0, x1, y1 = cx - r, cy - r, cx + r, cy + r
        nx0, ny0, nx1, ny1 = name_box
        if x1 < nx0 or x0 > nx1 or y1 < ny0 or y0 > ny1:
            d.ellipse([x0, y0, x1, y1], fill=(205, 160, 130, 255))
            return


def warp(im, rnd, angle):
    """Perspective jitter of the corners (up to 8% of the size), then rotation."""
    w, h = im.size
    j = lambda s: rnd.uniform(-0.08, 0.08) * s
    src = [(j(w), j(h)), (w + j(w), j(h)), (w + j(w), h + j(h)), (j(w), h + j(h))]
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    # Solve for the 8 perspective coefficients mapping dst -> src (PIL's convention).
    import numpy as np
    a, b = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y]); b.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y]); b.append(v)
    coeffs = np.linalg.solve(np.array(a, float), np.array(b, float))
    im = im.transform((w, h), Image.PERSPECTIVE, tuple(coeffs), Image.BICUBIC)
    return im.rotate(angle, expand=True, resample=Image.BICUBIC)


def has_letters(engine, path):
    if engine is None:
        return False
    res, _ = engine(str(path))
    return any(any(c.isalpha() for c in t) for _, t, _ in (res or []))


def main():
    out = Path(sys.argv[1])
    per_cell = int(sys.argv[sys.argv.index("--per-cell") + 1]) if "--per-cell" in sys.argv else 4
    out.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(11)
    with open(ROOT / "fixtures/captions/register.csv", newline="") as f:
        students = [r for r in csv.DictReader(f) if r["status"] in ("on-roll", "on_roll", "")]
    # The bench's register: the caption register (2,100 students, common-word names included).
    (out / "register.csv").write_text((ROOT / "fixtures/captions/register.csv").read_text())
    bgs = backgrounds()
    assert bgs, f"no photos under {CORPUS}"
    rows = []
    n = 0
    for kind in KINDS:
        for xh in SIZES:
            for k in range(per_cell):
                s = rnd.choice(students)
                first = s["preferred_name"] or s["first_name"]
                name = f"{first} {s['last_name']}"
                if kind in ("bib", "lanyard") and rnd.random() < 0.5:
                    name = name.upper()
                low = rnd.random() < 0.25
                im, box = card(kind, name, xh, rnd, low)
                if rnd.random() < 0.2:
                    occlude(im, box, rnd)
                im = warp(im, rnd, rnd.uniform(-20, 20))
                photo = background(rnd.choice(bgs), rnd)
                if im.width >= W or im.height >= H:
                    im = im.resize((min(im.width, W - 10), min(im.height, H - 10)))
                x = rnd.randrange(0, W - im.width)
                y = rnd.randrange(0, H - im.height)
                photo.paste(im, (x, y), im)
                blur = rnd.choice([0, 0, 0.6, 1.2])
                if blur:
                    photo = photo.filter(ImageFilter.GaussianBlur(blur))
                n += 1
                fn = f"n{n:04d}-{kind}-{xh}.jpg"
                photo.save(out / fn, quality=88)
                rows.append((fn, "name", kind, xh, s["id"]))
    try:
        if os.environ.get("RAPIDOCR_PATH"):  # an unpacked rapidocr-onnxruntime wheel
            sys.path.insert(0, os.environ["RAPIDOCR_PATH"])
        from rapidocr_onnxruntime import RapidOCR
        engine = RapidOCR(use_cls=False)
    except Exception:
        engine = None
    plain = [p for p in bgs if not has_letters(engine, p)]
    # Signs go on text-free photos too: a background that shows a name (a photographer's credit,
    # a caption printed under an old photo) would make "a sign naming no student" a photo that
    # does name someone.
    for i, text in enumerate(SIGNS * 2):
        xh = rnd.choice([15, 20, 28, 40, 60])
        fp = rnd.choice([SANS_B, DSANS_B, SERIF_B])
        f = font(fp, size_for_x_height(fp, xh))
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        tw = int(probe.textlength(text, font=f))
        im = Image.new("RGBA", (tw + 2 * f.size, int(f.size * 2.2)), (255, 255, 255, 255))
        ImageDraw.Draw(im).text((f.size, f.size * 0.5), text, font=f, fill=(rnd.randrange(0, 200), 20, 40, 255))
        im = warp(im, rnd, rnd.uniform(-20, 20))
        photo = background(rnd.choice(plain), rnd)
        photo.paste(im, (rnd.randrange(0, W - im.width), rnd.randrange(0, H - im.height)), im)
        fn = f"s{i + 1:03d}-sign.jpg"
        photo.save(out / fn, quality=88)
        rows.append((fn, "sign", "sign", xh, "-"))
    for i in range(50):
        photo = background(plain[i % len(plain)], rnd)
        fn = f"p{i + 1:03d}-plain.jpg"
        photo.save(out / fn, quality=88)
        rows.append((fn, "plain", "plain", 0, "-"))
    with open(out / "labels.tsv", "w") as f:
        f.write("file\tcategory\tkind\tx_height\tstudent\n")
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")
    print(f"wrote {len(rows)} photos to {out} ({len(plain)} of {len(bgs)} corpus photos text-free)")


if __name__ == "__main__":
    main()
