#!/usr/bin/env python3
"""Render an ANSI terminal capture (``tmux capture-pane -p -e``) to a PNG.

Used to make ``assets/screenshot.png`` from a real dashboard run (see ``screenshot.sh``).

* SGR: reset, bold, dim, italic, underline, reverse (and their ``2x`` off codes),
  fg/bg 30-37 / 90-97 / 40-47 / 100-107 / 39 / 49, ``38;5;N`` / ``48;5;N`` (xterm-256),
  ``38;2;R;G;B`` / ``48;2;R;G;B``, also in the colon form (``38:5:N``, ``38:2::R:G:B``).
  Every other escape sequence (CSI, OSC, charset selection) is skipped.
* Attributes carry across lines, as tmux's capture expects (it only emits changes).
* One glyph per cell on an exact grid (cell width = the font's advance, rounded): wide
  (East Asian W/F) characters take two cells, combining marks join the previous cell.
* Box drawing (U+2500-257F, the light/heavy/double/rounded subset ratatui uses), block
  elements (U+2580-259F) and braille (U+2800-28FF) are drawn as shapes, so borders join
  and chart/bar heights are exact whatever the font's line metrics.
* Characters missing from the monospace font fall back to a second font, shrunk to fit.

Needs Python 3 and Pillow. Default font: DejaVu Sans Mono (Debian: fonts-dejavu-core).

    python3 tests/support/ansi2png.py shot.ansi -o assets/screenshot.png --cols 140 --rows 42
"""

import argparse
import os
import re
import sys
import unicodedata

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # pragma: no cover
    sys.exit("ansi2png: needs Pillow (pip install pillow)")

FONT_DIRS = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
]

# The 16 base colours: a dark-theme palette (VS Code's integrated terminal), readable on #1e1e1e.
BASE16 = [
    (0x00, 0x00, 0x00), (0xcd, 0x31, 0x31), (0x0d, 0xbc, 0x79), (0xe5, 0xe5, 0x10),
    (0x24, 0x72, 0xc8), (0xbc, 0x3f, 0xbc), (0x11, 0xa8, 0xcd), (0xe5, 0xe5, 0xe5),
    (0x66, 0x66, 0x66), (0xf1, 0x4c, 0x4c), (0x23, 0xd1, 0x8b), (0xf5, 0xf5, 0x43),
    (0x3b, 0x8e, 0xea), (0xd6, 0x70, 0xd6), (0x29, 0xb8, 0xdb), (0xff, 0xff, 0xff),
]


def xterm256(n):
    """RGB of xterm-256 colour n."""
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    g = 8 + 10 * (n - 232)
    return (g, g, g)


def parse_hex(s):
    s = s.lstrip("#")
    if len(s) != 6:
        raise argparse.ArgumentTypeError("colour must be #rrggbb")
    return tuple(int(s[i:i + 2], 16) for i in (0, 2, 4))


class Attr:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None = default; else an (r, g, b) tuple
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def copy(self):
        a = Attr()
        for k in self.__slots__:
            setattr(a, k, getattr(self, k))
        return a


def _ext_colour(params, i):
    """Parse an extended colour after 38/48 at params[i] (the 38/48 itself).

    Returns (colour or None, index of the last parameter consumed)."""
    head = params[i]
    if len(head) > 1:  # colon form: [38, 5, n] or [38, 2, cs?, r, g, b]
        sub = head[1:]
        if sub and sub[0] == 5 and len(sub) >= 2:
            return xterm256(sub[1] % 256), i
        if sub and sub[0] == 2:
            rgb = sub[1:]
            if len(rgb) >= 4:  # colour-space id present (possibly empty -> 0)
                rgb = rgb[1:4]
            if len(rgb) >= 3:
                return tuple(max(0, min(255, v)) for v in rgb[:3]), i
        return None, i
    # semicolon form
    if i + 1 < len(params):
        mode = params[i + 1][0]
        if mode == 5 and i + 2 < len(params):
            return xterm256(params[i + 2][0] % 256), i + 2
        if mode == 2 and i + 4 < len(params):
            rgb = tuple(max(0, min(255, params[j][0])) for j in (i + 2, i + 3, i + 4))
            return rgb, i + 4
    return None, len(params) - 1


def apply_sgr(attr, raw):
    """Apply one SGR parameter string (the text between ESC[ and m) to attr."""
    params = []
    for p in (raw.split(";") if raw else [""]):
        params.append([int(x) if x.isdigit() else 0 for x in p.split(":")])
    i = 0
    while i < len(params):
        c = params[i][0]
        if c == 0:
            attr.reset()
        elif c == 1:
            attr.bold = True
        elif c == 2:
            attr.dim = True
        elif c == 3:
            attr.italic = True
        elif c == 4:
            attr.underline = not (len(params[i]) > 1 and params[i][1] == 0)
        elif c == 7:
            attr.reverse = True
        elif c == 21 or c == 22:
            attr.bold = attr.dim = False
        elif c == 23:
            attr.italic = False
        elif c == 24:
            attr.underline = False
        elif c == 27:
            attr.reverse = False
        elif 30 <= c <= 37:
            attr.fg = xterm256(c - 30)
        elif 90 <= c <= 97:
            attr.fg = xterm256(c - 90 + 8)
        elif 40 <= c <= 47:
            attr.bg = xterm256(c - 40)
        elif 100 <= c <= 107:
            attr.bg = xterm256(c - 100 + 8)
        elif c == 39:
            attr.fg = None
        elif c == 49:
            attr.bg = None
        elif c in (38, 48):
            col, i = _ext_colour(params, i)
            if col is not None:
                if c == 38:
                    attr.fg = col
                else:
                    attr.bg = col
        # anything else (blink, conceal, strike, 58 underline colour ...) is ignored
        i += 1


def char_width(ch):
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


CSI_RE = re.compile(r"\x1b\[([0-9;:?<=>]*)([ -/]*)([@-~])")
OSC_RE = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
ESC_OTHER_RE = re.compile(r"\x1b[ -/]*[0-~]")


def parse(text, cols=None):
    """Parse an ANSI capture into rows of cells: (text, Attr, width)."""
    rows = [[]]
    attr = Attr()
    col = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\x1b":
            m = CSI_RE.match(text, i)
            if m:
                if m.group(3) == "m" and not m.group(2):
                    apply_sgr(attr, m.group(1))
                i = m.end()
                continue
            m = OSC_RE.match(text, i) or ESC_OTHER_RE.match(text, i)
            i = m.end() if m else i + 1
            continue
        i += 1
        if ch == "\n":
            rows.append([])
            col = 0
            continue
        if ch == "\r":
            continue
        if ch == "\t":
            nxt = (col // 8 + 1) * 8
            while col < nxt:
                rows[-1].append((" ", attr.copy(), 1))
                col += 1
            continue
        if ord(ch) < 0x20 or ord(ch) == 0x7f:
            continue
        w = char_width(ch)
        if w == 0:
            if rows[-1]:
                t, a, cw = rows[-1][-1]
                rows[-1][-1] = (t + ch, a, cw)
            continue
        if cols is not None and col + w > cols:
            continue  # clip, never wrap: the capture is already laid out
        rows[-1].append((ch, attr.copy(), w))
        if w == 2:
            rows[-1].append(None)  # continuation cell
        col += w
    if rows and not rows[-1]:
        rows.pop()  # trailing newline
    return rows


def find_font(names):
    for name in names:
        if os.path.isabs(name) and os.path.exists(name):
            return name
        for d in FONT_DIRS:
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
    return None


# --- shapes -----------------------------------------------------------------------------------

L, H, D = 1, 2, 3  # light, heavy, double
# char -> (up, right, down, left) line weights
BOX = {
    "─": (0, L, 0, L), "━": (0, H, 0, H), "│": (L, 0, L, 0), "┃": (H, 0, H, 0),
    "┌": (0, L, L, 0), "┐": (0, 0, L, L), "└": (L, L, 0, 0), "┘": (L, 0, 0, L),
    "┏": (0, H, H, 0), "┓": (0, 0, H, H), "┗": (H, H, 0, 0), "┛": (H, 0, 0, H),
    "├": (L, L, L, 0), "┤": (L, 0, L, L), "┬": (0, L, L, L), "┴": (L, L, 0, L),
    "┼": (L, L, L, L), "┣": (H, H, H, 0), "┫": (H, 0, H, H), "┳": (0, H, H, H),
    "┻": (H, H, 0, H), "╋": (H, H, H, H),
    "═": (0, D, 0, D), "║": (D, 0, D, 0), "╔": (0, D, D, 0), "╗": (0, 0, D, D),
    "╚": (D, D, 0, 0), "╝": (D, 0, 0, D), "╠": (D, D, D, 0), "╣": (D, 0, D, D),
    "╦": (0, D, D, D), "╩": (D, D, 0, D), "╬": (D, D, D, D),
    "╴": (0, 0, 0, L), "╵": (L, 0, 0, 0), "╶": (0, L, 0, 0), "╷": (0, 0, L, 0),
    "╸": (0, 0, 0, H), "╹": (H, 0, 0, 0), "╺": (0, H, 0, 0), "╻": (0, 0, H, 0),
}
ROUNDED = {"╭": (0, 1, 1, 0), "╮": (0, 0, 1, 1), "╯": (1, 0, 0, 1), "╰": (1, 1, 0, 0)}


def draw_box(draw, ch, x, y, cw, chh, fg, lw):
    cx = x + cw // 2
    cy = y + chh // 2
    if ch in ROUNDED:
        up, right, down, left = ROUNDED[ch]
        r = min(cw, chh) // 2
        # a quarter circle of radius r centred r away from the cell centre, then straight
        # arms from the arc to the cell edges
        box = [cx - 2 * r if left else cx, cy - 2 * r if up else cy,
               cx if left else cx + 2 * r, cy if up else cy + 2 * r]
        # PIL angles: 0 = east, clockwise
        a0 = {(0, 1, 1, 0): 180, (0, 0, 1, 1): 270, (1, 0, 0, 1): 0, (1, 1, 0, 0): 90}[
            ROUNDED[ch]]
        draw.arc(box, a0, a0 + 90, fill=fg, width=lw)
        arms = []
        if up:
            arms.append([cx - lw // 2, y, cx - lw // 2 + lw - 1, cy - r])
        if down:
            arms.append([cx - lw // 2, cy + r, cx - lw // 2 + lw - 1, y + chh - 1])
        if left:
            arms.append([x, cy - lw // 2, cx - r, cy - lw // 2 + lw - 1])
        if right:
            arms.append([cx + r, cy - lw // 2, x + cw - 1, cy - lw // 2 + lw - 1])
        for ax0, ay0, ax1, ay1 in arms:
            if ax1 >= ax0 and ay1 >= ay0:
                draw.rectangle([ax0, ay0, ax1, ay1], fill=fg)
        return
    up, right, down, left = BOX[ch]
    x1, y1 = x + cw - 1, y + chh - 1

    def thick(w):
        return lw if w == L else lw * 2 if w == H else lw

    def vseg(ya, yb, w):
        t = thick(w)
        if w == D:
            g = max(1, lw)
            for off in (-g - t // 2 - 1, g - t // 2 + 1):
                draw.rectangle([cx + off, ya, cx + off + t - 1, yb], fill=fg)
        else:
            draw.rectangle([cx - t // 2, ya, cx - t // 2 + t - 1, yb], fill=fg)

    def hseg(xa, xb, w):
        t = thick(w)
        if w == D:
            g = max(1, lw)
            for off in (-g - t // 2 - 1, g - t // 2 + 1):
                draw.rectangle([xa, cy + off, xb, cy + off + t - 1], fill=fg)
        else:
            draw.rectangle([xa, cy - t // 2, xb, cy - t // 2 + t - 1], fill=fg)

    # each arm runs from its cell edge to the far side of the crossing strokes, so corners
    # and tees close without overshooting
    def span_of(w):
        if not w:
            return 0, -1
        t = thick(w)
        if w == D:
            g = max(1, lw)
            return -g - t // 2 - 1, g - t // 2 + t
        return -(t // 2), t - t // 2 - 1
    hlo, hhi = span_of(max(left, right))
    vlo, vhi = span_of(max(up, down))
    if up:
        vseg(y, cy + (hhi if (left or right) else 0), up)
    if down:
        vseg(cy + (hlo if (left or right) else 0), y1, down)
    if left:
        hseg(x, cx + (vhi if (up or down) else 0), left)
    if right:
        hseg(cx + (vlo if (up or down) else 0), x1, right)


def blend(a, b, t):
    return tuple(int(round(a[k] * (1 - t) + b[k] * t)) for k in range(3))


def draw_block(draw, ch, x, y, cw, chh, fg, bg):
    """Block elements U+2580-259F. Returns False if not handled."""
    o = ord(ch)
    x1, y1 = x + cw, y + chh  # exclusive
    if 0x2581 <= o <= 0x2588:  # lower 1/8 .. full
        h = round(chh * (o - 0x2580) / 8)
        if h:
            draw.rectangle([x, y1 - h, x1 - 1, y1 - 1], fill=fg)
        return True
    if 0x2589 <= o <= 0x258F:  # left 7/8 .. 1/8
        w = round(cw * (0x2590 - o) / 8)
        if w:
            draw.rectangle([x, y, x + w - 1, y1 - 1], fill=fg)
        return True
    if o == 0x2580:  # upper half
        draw.rectangle([x, y, x1 - 1, y + chh // 2 - 1], fill=fg)
        return True
    if o == 0x2590:  # right half
        draw.rectangle([x + cw // 2, y, x1 - 1, y1 - 1], fill=fg)
        return True
    if o == 0x2594:  # upper 1/8
        draw.rectangle([x, y, x1 - 1, y + max(1, chh // 8) - 1], fill=fg)
        return True
    if o == 0x2595:  # right 1/8
        draw.rectangle([x1 - max(1, cw // 8), y, x1 - 1, y1 - 1], fill=fg)
        return True
    if 0x2591 <= o <= 0x2593:  # shades: a flat blend reads better than a stipple at 1x
        t = {0x2591: 0.25, 0x2592: 0.5, 0x2593: 0.75}[o]
        draw.rectangle([x, y, x1 - 1, y1 - 1], fill=blend(bg, fg, t))
        return True
    quads = {  # upper-left, upper-right, lower-left, lower-right
        0x2596: (0, 0, 1, 0), 0x2597: (0, 0, 0, 1), 0x2598: (1, 0, 0, 0),
        0x2599: (1, 0, 1, 1), 0x259A: (1, 0, 0, 1), 0x259B: (1, 1, 1, 0),
        0x259C: (1, 1, 0, 1), 0x259D: (0, 1, 0, 0), 0x259E: (0, 1, 1, 0),
        0x259F: (0, 1, 1, 1),
    }
    if o in quads:
        hx, hy = x + cw // 2, y + chh // 2
        ul, ur, ll, lr = quads[o]
        for on, box in ((ul, [x, y, hx - 1, hy - 1]), (ur, [hx, y, x1 - 1, hy - 1]),
                        (ll, [x, hy, hx - 1, y1 - 1]), (lr, [hx, hy, x1 - 1, y1 - 1])):
            if on:
                draw.rectangle(box, fill=fg)
        return True
    return False


def draw_braille(draw, ch, x, y, cw, chh, fg):
    bits = ord(ch) - 0x2800
    pos = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    dw, dh = cw / 2, chh / 4
    r = max(1, int(min(dw, dh) * 0.3))
    for b, (cx, cy) in enumerate(pos):
        if bits & (1 << b):
            px = x + dw * cx + dw / 2
            py = y + dh * cy + dh / 2
            draw.ellipse([px - r, py - r, px + r - 1, py + r - 1], fill=fg)


# --- rendering --------------------------------------------------------------------------------


class Fonts:
    def __init__(self, args):
        size = args.size * args.scale
        reg = find_font([args.font] if args.font else ["DejaVuSansMono.ttf"])
        if not reg:
            sys.exit("ansi2png: no monospace font found (apt-get install fonts-dejavu-core, "
                     "or pass --font)")
        bold = find_font([args.bold_font] if args.bold_font else ["DejaVuSansMono-Bold.ttf"])
        italic = find_font(["DejaVuSansMono-Oblique.ttf"])
        bold_italic = find_font(["DejaVuSansMono-BoldOblique.ttf"])
        fallback = find_font([args.fallback_font] if args.fallback_font else ["DejaVuSans.ttf"])
        self.size = size
        self.regular = ImageFont.truetype(reg, size)
        self.bold = ImageFont.truetype(bold, size) if bold else self.regular
        self.italic = ImageFont.truetype(italic, size) if italic else self.regular
        self.bold_italic = ImageFont.truetype(bold_italic, size) if bold_italic else self.bold
        self.fallback_path = fallback
        self.fallback = ImageFont.truetype(fallback, size) if fallback else None
        self.cell_w = max(1, round(self.regular.getlength("M")))
        asc, desc = self.regular.getmetrics()
        self.ascent = asc
        self.cell_h = asc + desc + args.line_spacing * args.scale
        self.baseline = asc + (args.line_spacing * args.scale) // 2
        self._notdef = {}
        self._missing = {}

    def pick(self, a):
        if a.bold and a.italic:
            return self.bold_italic
        if a.bold:
            return self.bold
        if a.italic:
            return self.italic
        return self.regular

    def has_glyph(self, font, ch):
        """True unless font renders ch as its .notdef box (compared with U+FFFF's)."""
        key = (id(font), ch)
        if key in self._missing:
            return not self._missing[key]
        if id(font) not in self._notdef:
            m = font.getmask("\uffff")
            self._notdef[id(font)] = (m.size, bytes(m))
        m = font.getmask(ch)
        missing = (m.size, bytes(m)) == self._notdef[id(font)] and ch != " "
        self._missing[key] = missing
        return not missing


def render(rows, args):
    fonts = Fonts(args)
    cols = args.cols or max((len(r) for r in rows), default=0)
    nrows = args.rows or len(rows)
    rows = rows[:nrows] + [[] for _ in range(nrows - len(rows))]
    pad = args.padding * args.scale
    cw, chh = fonts.cell_w, fonts.cell_h
    W, Hh = cols * cw + 2 * pad, nrows * chh + 2 * pad
    dfg, dbg = args.fg, args.bg
    img = Image.new("RGB", (W, Hh), dbg)
    draw = ImageDraw.Draw(img)
    lw = max(1, round(cw / 9))

    for r, row in enumerate(rows):
        y = pad + r * chh
        for c in range(cols):
            cell = row[c] if c < len(row) else None
            if cell is None:
                continue  # blank (default bg) or the right half of a wide char
            text, a, w = cell
            fg = a.fg if a.fg is not None else dfg
            bg = a.bg if a.bg is not None else dbg
            if a.reverse:
                fg, bg = bg, fg
            if a.dim:
                fg = blend(fg, bg, 0.45)
            x = pad + c * cw
            span = cw * w
            if bg != dbg:
                draw.rectangle([x, y, x + span - 1, y + chh - 1], fill=bg)
            ch = text[0]
            o = ord(ch)
            if ch == " " and len(text) == 1:
                pass
            elif ch in BOX or ch in ROUNDED:
                draw_box(draw, ch, x, y, cw, chh, fg, lw)
            elif 0x2580 <= o <= 0x259F and draw_block(draw, ch, x, y, cw, chh, fg, bg):
                pass
            elif 0x2800 <= o <= 0x28FF:
                draw_braille(draw, ch, x, y, cw, chh, fg)
            else:
                font = fonts.pick(a)
                if not fonts.has_glyph(font, ch) and fonts.fallback is not None \
                        and fonts.has_glyph(fonts.fallback, ch):
                    font = fonts.fallback
                    adv = font.getlength(text)
                    if adv > span:  # shrink into its cells
                        font = ImageFont.truetype(fonts.fallback_path,
                                                  max(6, int(fonts.size * span / adv)))
                    adv = font.getlength(text)
                    draw.text((x + (span - adv) / 2, y + fonts.baseline), text, font=font,
                              fill=fg, anchor="ls")
                else:
                    draw.text((x, y + fonts.baseline), text, font=font, fill=fg, anchor="ls")
            if a.underline:
                uy = y + fonts.baseline + max(1, args.scale)
                draw.rectangle([x, uy, x + span - 1, uy + lw - 1], fill=fg)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="ANSI capture file ('-' for stdin)")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--cols", type=int, default=0, help="grid width (default: widest line)")
    ap.add_argument("--rows", type=int, default=0, help="grid height (default: line count)")
    ap.add_argument("--font", help="monospace TTF (default DejaVu Sans Mono)")
    ap.add_argument("--bold-font", help="bold monospace TTF (default DejaVu Sans Mono Bold)")
    ap.add_argument("--fallback-font", help="for glyphs the monospace font lacks "
                    "(default DejaVu Sans)")
    ap.add_argument("--size", type=int, default=15, help="font size in px at scale 1 (15)")
    ap.add_argument("--scale", type=int, default=1, help="integer upscale, e.g. 2 for HiDPI")
    ap.add_argument("--line-spacing", type=int, default=0, help="extra px per row")
    ap.add_argument("--padding", type=int, default=10, help="margin in px")
    ap.add_argument("--bg", type=parse_hex, default=parse_hex("#1e1e1e"))
    ap.add_argument("--fg", type=parse_hex, default=parse_hex("#d4d4d4"))
    ap.add_argument("--colors", type=int, default=0,
                    help="quantize to this many colours (smaller file); 0 = keep RGB")
    args = ap.parse_args()

    if args.input == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(args.input, "rb") as f:
            data = f.read()
    text = data.decode("utf-8", errors="replace")
    rows = parse(text, args.cols or None)
    if not rows:
        sys.exit("ansi2png: empty capture")
    img = render(rows, args)
    if args.colors:
        img = img.quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    img.save(args.output, optimize=True)
    print(f"{args.output}: {img.size[0]}x{img.size[1]}, {os.path.getsize(args.output)} bytes")


if __name__ == "__main__":
    main()
