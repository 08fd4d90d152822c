#!/usr/bin/env bash
# Makes services/tests/pdfs/: PDFs of a scanned page as ordinary software writes them
# (Chromium's print to PDF, Ghostscript, Pillow, poppler's Cairo, and qpdf's
# rewrites of them with and without object streams), which the PDF checks must never
# refuse (services/tests/pdf_checks.rs). Run once by hand; the files are committed.
# Needs Debian's chromium, ghostscript, imagemagick, poppler-utils and qpdf, and Pillow.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/services/tests/pdfs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p "$out"
rm -f "$out"/*.pdf

convert -size 300x400 plasma:fractal -blur 0x1 -quality 80 scan.jpg
convert -size 300x400 gradient:white-gray70 -fill black -pointsize 24 -annotate +20+60 'Diplome' scan.png
cat > page.html <<'HTML'
<!doctype html><html lang="fr"><meta charset="utf-8"><title>Attestation</title>
<body style="font-family:sans-serif"><h1>Attestation de réussite</h1>
<p>Le candidat a obtenu le diplôme d'État, session 2026.</p>
<img src="scan.jpg" width="300"><p><a href="https://example.org">lien</a></p></body></html>
HTML

chromium --headless --no-sandbox --disable-gpu --print-to-pdf="$out/chromium.pdf" page.html 2>/dev/null
gs -q -dNOPAUSE -dBATCH -sDEVICE=pdfwrite -o "$out/ghostscript-jpeg.pdf" \
  --permit-file-read=scan.jpg viewjpeg.ps -c "(scan.jpg) << /PageSize 2 index viewJPEGgetsize 2 array astore >> setpagedevice viewJPEG"
gs -q -dNOPAUSE -dBATCH -sDEVICE=pdfwrite -o "$out/ghostscript-text.pdf" \
  -c "/Helvetica findfont 20 scalefont setfont 72 720 moveto (Releve de notes, session 2026) show showpage"
# Debian's ImageMagick may not write PDFs (its security policy): Pillow's writer,
# what many scanning scripts use, makes the image-only ones.
python3 -c "from PIL import Image; Image.open('scan.jpg').save('$out/pillow-jpeg.pdf')"
python3 -c "from PIL import Image; Image.open('scan.png').save('$out/pillow-png.pdf')"
pdftocairo -pdf "$out/chromium.pdf" "$out/cairo.pdf"
for made in chromium ghostscript-jpeg pillow-png cairo; do
  qpdf --object-streams=generate "$out/$made.pdf" "$out/$made-qpdf-object-streams.pdf"
  qpdf --qdf --object-streams=disable "$out/$made.pdf" "$out/$made-qpdf-qdf.pdf"
done
qpdf --linearize --object-streams=generate "$out/ghostscript-text.pdf" "$out/ghostscript-text-qpdf-linearized.pdf"
ls -l "$out"
