"""Renders a terminal screen captured with `tmux capture-pane -e -p` to a PNG.

Used by screenshot.sh to make docs/screenshots/nvim-review.png from a real Neovim running
in tmux. Understands the SGR sequences tmux emits: 16/256/24-bit colours, bold, italic,
underline, reverse. Usage: python ansi_to_png.py SCREEN.ansi OUT.png COLUMNS ROWS
"""

import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 16
DEFAULT_FG = (224, 226, 234)
DEFAULT_BG = (20, 22, 27)
BASE16 = [
    (7, 8, 13), (255, 140, 140), (179, 246, 192), (252, 227, 149),
    (166, 219, 255), (255, 202, 255), (140, 248, 247), (224, 226, 234),
    (79, 82, 88), (255, 140, 140), (179, 246, 192), (252, 227, 149),
    (166, 219, 255), (255, 202, 255), (140, 248, 247), (238, 241, 248),
]
# SGR codes that switch one attribute on or off.
FLAGS = {
    1: ("bold", True), 3: ("italic", True), 4: ("underline", True), 7: ("reverse", True),
    22: ("bold", False), 23: ("italic", False), 24: ("underline", False), 27: ("reverse", False),
}
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    level = 8 + (n - 232) * 10
    return (level, level, level)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.italic = self.underline = self.reverse = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c in FLAGS:
                setattr(self, *FLAGS[c])
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48, 58) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    colour, i = xterm256(codes[i + 2]), i + 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    colour, i = tuple(codes[i + 2:i + 5]), i + 4
                else:
                    colour = None
                if c == 38:
                    self.fg = colour
                elif c == 48:
                    self.bg = colour
            i += 1

    def colours(self):
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        return (bg, fg) if self.reverse else (fg, bg)


def main():
    source, target, columns, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fonts = {
        (False, False): ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE),
        (True, False): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE),
        (False, True): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Oblique.ttf", SIZE),
        (True, True): ImageFont.truetype(FONT_DIR + "DejaVuSansMono-BoldOblique.ttf", SIZE),
    }
    cell_w = round(fonts[(False, False)].getlength("M"))
    cell_h = SIZE + 5
    image = Image.new("RGB", (columns * cell_w, rows * cell_h), DEFAULT_BG)
    draw = ImageDraw.Draw(image)
    style = Style()
    with open(source, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    for y, line in enumerate(lines[:rows]):
        x, pos = 0, 0
        for match in list(SGR.finditer(line)) + [None]:
            end = match.start() if match else len(line)
            for ch in line[pos:end]:
                if x >= columns:
                    break
                fg, bg = style.colours()
                left, top = x * cell_w, y * cell_h
                draw.rectangle([left, top, left + cell_w - 1, top + cell_h - 1], fill=bg)
                draw.text((left, top + 2), ch, font=fonts[(style.bold, style.italic)], fill=fg)
                if style.underline:
                    draw.line([left, top + cell_h - 2, left + cell_w - 1, top + cell_h - 2], fill=fg)
                x += 1
            if match:
                style.apply(match.group(1))
                pos = match.end()
        # tmux carries the style over to the next line rather than repeating it.
    image.save(target)


if __name__ == "__main__":
    main()
