#!/usr/bin/python3
"""Builds the emoji-tiny dataset: real emoji pictures from pinned npm packages, 32x32 RGB.

Sources (exact versions and registry integrity checksums below; a tarball whose sha512 differs is
refused, so the dataset is the same on every machine):

  emoji-datasource-google   Noto emoji, 64 px PNGs + emoji.json (names, short names, categories)
  emoji-datasource-twitter  Twemoji, 64 px PNGs (same file names as google)
  fluentui-emoji            Microsoft Fluent emoji, flat SVGs named by CLDR label
  emojibase-data            CLDR labels and keywords (tags)

Output (models/recipes/work/emoji-data/ by default, ignored by git):

  images/<style>/<codepoint>.png   32x32 RGB, alpha composited onto white, style in noto|fluent|twemoji
  index.jsonl                      {"file", "codepoint", "style", "caption", "split"} per image
  captions.txt                     the distinct captions, one a line, in index order (for the encoder)
  sources.json                     package versions, checksums and licences as read from the packages

The hold-out is a property of the code point alone (sha256 of the code point string, ~10%), so a
held-out emoji is held out in every style. Captions are deterministic: the CLDR label, up to three
keywords, the subcategory, then the style phrase ("noto style", "fluent style", "twemoji style").

Tarballs are fetched with `npm pack` (the npm registry is the only source reachable here) into
models/recipes/work/npm/ and reused when present. Needs python3-pil, librsvg2-bin (rsvg-convert)
and npm.   /usr/bin/python3 models/recipes/emoji_data.py [--out DIR]
"""

import argparse
import base64
import hashlib
import io
import json
import re
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent
PACKAGES = {
    "emoji-datasource-google": ("16.0.0", "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A=="),
    "emoji-datasource-twitter": ("16.0.0", "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="),
    "fluentui-emoji": ("1.3.0", "sha512-JTXXwqIie2rWTgOkIJDJxr0WtwTz2WU4kdOq8buLVThYwQ264aFR2jdTyuon2oEbLqqGMT64zI4btyn1saB2xw=="),
    "emojibase-data": ("17.0.0", "sha512-Yvgb5AWoHViHV/gq1qr5ZAarcBip+B27/ZLRsUJkbgAEaLlZ/fof9g882LTpmEpyhBNEC0m2SEmItljHsTygjA=="),
}
STYLES = ("noto", "fluent", "twemoji")
SIZE = 32
HOLDOUT_PERCENT = 10
MAX_KEYWORDS = 3


def fetch(name, work):
    """The verified tarball of a pinned package, fetched once with npm pack."""
    version, integrity = PACKAGES[name]
    path = work / f"{name}-{version}.tgz"
    if not path.exists():
        subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
    digest = "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    if digest != integrity:
        raise SystemExit(f"{path}: checksum {digest} differs from the pinned {integrity}; "
                         f"delete the file and run again")
    return tarfile.open(path, "r:gz")


def member(tar, name):
    return tar.extractfile(tar.getmember(name)).read()


def key(hexcode):
    """Emoji identity without variation selectors, so emojibase and emoji-datasource agree."""
    return "-".join(p for p in hexcode.lower().split("-") if p != "fe0f")


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower().replace("’", "").replace("'", "")).strip("-")


def holdout(codepoint):
    return int(hashlib.sha256(codepoint.encode()).hexdigest(), 16) % 100 < HOLDOUT_PERCENT


def to_rgb32(png_bytes):
    """Downsamples with a box filter (exact 2x for the 64 px sources) after compositing on white."""
    img = Image.open(io.BytesIO(png_bytes)).convert("RGBA")
    white = Image.new("RGBA", img.size, (255, 255, 255, 255))
    img = Image.alpha_composite(white, img).convert("RGB")
    return img.resize((SIZE, SIZE), Image.BOX)


def save_png(img, path):
    # PNG bytes must not depend on the Pillow build's zlib defaults more than needed.
    img.save(path, format="PNG", optimize=False, compress_level=9)


def rasterise(svg):
    out = subprocess.run(["rsvg-convert", "-w", "64", "-h", "64", "-f", "png"], input=svg,
                         stdout=subprocess.PIPE, check=True).stdout
    return to_rgb32(out)


def caption(label, keywords, subcategory, style):
    words = [label]
    for k in keywords:
        if len(words) > MAX_KEYWORDS:
            break
        if k not in label and k not in words:
            words.append(k)
    if subcategory:
        words.append(subcategory.replace("-", " "))
    return ", ".join(words) + f", {style} style"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "work" / "emoji-data")
    args = ap.parse_args()
    work = ROOT / "work" / "npm"
    work.mkdir(parents=True, exist_ok=True)
    tars = {name: fetch(name, work) for name in PACKAGES}

    datasource = json.loads(member(tars["emoji-datasource-google"], "package/emoji.json"))
    emojibase = json.loads(member(tars["emojibase-data"], "package/en/data.json"))
    base = {key(e["hexcode"]): e for e in emojibase}
    fluent_names = {}
    for m in tars["fluentui-emoji"].getmembers():
        if m.name.startswith("package/icons/flat/") and m.name.endswith(".svg"):
            fluent_names[m.name[len("package/icons/flat/"):-4]] = m.name

    rows, jobs = [], []
    for e in sorted(datasource, key=lambda e: e["sort_order"]):
        cp = e["image"][:-4]
        info = base.get(key(e["unified"]))
        label = info["label"] if info else e["name"].lower()
        keywords = (info or {}).get("tags", [])
        sources = {}
        if e.get("has_img_google"):
            sources["noto"] = ("emoji-datasource-google", f"package/img/google/64/{e['image']}")
        if e.get("has_img_twitter"):
            sources["twemoji"] = ("emoji-datasource-twitter", f"package/img/twitter/64/{e['image']}")
        fl = fluent_names.get(slug(label)) or fluent_names.get(slug(e["name"]))
        if fl:
            sources["fluent"] = ("fluentui-emoji", fl)
        split = "holdout" if holdout(cp) else "train"
        for style in STYLES:
            if style not in sources:
                continue
            rows.append({"file": f"images/{style}/{cp}.png", "codepoint": cp, "style": style,
                         "caption": caption(label, keywords, e.get("subcategory"), style),
                         "split": split})
            jobs.append((style, sources[style], args.out / rows[-1]["file"]))

    for s in STYLES:
        (args.out / "images" / s).mkdir(parents=True, exist_ok=True)

    # tarfile objects are not thread-safe: read every needed member first, then convert in threads.
    fluent_svgs = {src[1]: member(tars["fluentui-emoji"], src[1]) for st, src, _ in jobs if st == "fluent"}
    raw = {}
    for style, (pkg, name), path in jobs:
        if style != "fluent":
            raw[path] = member(tars[pkg], name)

    def convert(job):
        style, (pkg, name), path = job
        img = rasterise(fluent_svgs[name]) if style == "fluent" else to_rgb32(raw[path])
        save_png(img, path)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(convert, jobs))

    with open(args.out / "index.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    captions = list(dict.fromkeys(r["caption"] for r in rows))
    (args.out / "captions.txt").write_text("\n".join(captions) + "\n")
    licences = {}
    for name, (version, integrity) in PACKAGES.items():
        pkg = json.loads(member(tars[name], "package/package.json"))
        licences[name] = {"version": version, "integrity": integrity, "license": pkg.get("license")}
    (args.out / "sources.json").write_text(json.dumps(licences, indent=2) + "\n")

    counts = {}
    for r in rows:
        counts.setdefault(r["style"], {"train": 0, "holdout": 0})[r["split"]] += 1
    cps = {r["codepoint"] for r in rows}
    held = {r["codepoint"] for r in rows if r["split"] == "holdout"}
    print(json.dumps({"images": len(rows), "codepoints": len(cps), "holdout_codepoints": len(held),
                      "captions": len(captions), "per_style": counts}))


if __name__ == "__main__":
    main()
