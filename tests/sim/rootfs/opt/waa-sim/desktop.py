"""The simulated Windows desktop: open windows, mouse, keyboard focus, clipboard, and its two
renderings, the accessibility tree (as WAA's /accessibility builds it with pywinauto + lxml)
and a screenshot (a real PNG written with zlib + struct, no PIL).

Only Notepad exists as an application: it is what smoke tests open and close.
"""
import struct
import threading
import zlib

# WAA's server declares these namespaces on <desktop> (its _accessibility_ns_map, lxml nsmap).
NAMESPACES = (
    ("st", "uri:deskat:state.at-spi.gnome.org"),
    ("attr", "uri:deskat:attributes.at-spi.gnome.org"),
    ("cp", "uri:deskat:component.at-spi.gnome.org"),
    ("doc", "uri:deskat:document.at-spi.gnome.org"),
    ("docattr", "uri:deskat:attributes.document.at-spi.gnome.org"),
    ("txt", "uri:deskat:text.at-spi.gnome.org"),
    ("val", "uri:deskat:value.at-spi.gnome.org"),
    ("act", "uri:deskat:action.at-spi.gnome.org"),
    ("win", "uri:deskat:uia.windows.microsoft.org"),
)

# win:class is str(type(wrapper)) of the pywinauto wrapper, per backend.
WRAPPERS = {
    "uia": {"window": "pywinauto.controls.uia_controls.WindowWrapper",
            "edit": "pywinauto.controls.uia_controls.EditWrapper",
            "button": "pywinauto.controls.uia_controls.ButtonWrapper",
            "other": "pywinauto.controls.uiawrapper.UIAWrapper"},
    "win32": {"window": "pywinauto.controls.hwndwrapper.HwndWrapper",
              "edit": "pywinauto.controls.win32_controls.EditWrapper",
              "button": "pywinauto.controls.hwndwrapper.HwndWrapper",
              "other": "pywinauto.controls.hwndwrapper.HwndWrapper"},
}

TASKBAR_H = 48
TITLE_H = 32
CLOSE_W = 46


def _attr(value):
    """Attribute escaping as lxml serialises it."""
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def _text(value):
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


class Window:
    """A top-level application window (Notepad)."""

    def __init__(self, pid, title, rect):
        self.pid = pid
        self.image = "notepad.exe"
        self.title = title
        self.rect = list(rect)  # x, y, w, h
        self.restore_rect = list(rect)
        self.maximized = False
        self.minimized = False
        self.content = ""
        self.exit_code = None
        self.closed = threading.Event()


class Desktop:
    def __init__(self, width=1440, height=900):
        self.width, self.height = width, height
        self.lock = threading.RLock()
        self.windows = []  # z-order, topmost first; windows[0] is the active one
        self.mouse = [width // 2, height // 2]
        self.clipboard = ""
        self._next_pid = 4316

    # -- processes and windows -------------------------------------------------------------

    def new_pid(self):
        with self.lock:
            self._next_pid += 4  # Windows PIDs are multiples of 4
            return self._next_pid

    def open_notepad(self, filename=None):
        with self.lock:
            n = len(self.windows)
            base = filename.replace("\\", "/").rsplit("/", 1)[-1] if filename else None
            title = f"{base} - Notepad" if base else "Untitled - Notepad"
            win = Window(self.new_pid(), title, (200 + 26 * n, 120 + 26 * n, 960, 600))
            self.windows.insert(0, win)
            return win

    def close(self, win, exit_code=0):
        with self.lock:
            if win in self.windows:
                self.windows.remove(win)
                win.exit_code = exit_code
                win.closed.set()

    def find(self, title_part):
        """pygetwindow.getWindowsWithTitle: case-insensitive substring match."""
        with self.lock:
            return [w for w in self.windows if title_part.lower() in w.title.lower()]

    def by_image(self, image):
        with self.lock:
            return [w for w in self.windows if w.image.lower() == image.lower()]

    def by_pid(self, pid):
        with self.lock:
            return [w for w in self.windows if w.pid == pid]

    def active(self):
        with self.lock:
            return next((w for w in self.windows if not w.minimized), None)

    def activate(self, win):
        with self.lock:
            if win in self.windows:
                self.windows.remove(win)
                self.windows.insert(0, win)
                win.minimized = False

    def maximize(self, win):
        with self.lock:
            if not win.maximized:
                win.restore_rect = list(win.rect)
            win.maximized, win.minimized = True, False
            win.rect = [0, 0, self.width, self.height - TASKBAR_H]

    # -- input -----------------------------------------------------------------------------

    def move_mouse(self, x, y):
        with self.lock:
            self.mouse = [max(0, min(self.width - 1, int(x))), max(0, min(self.height - 1, int(y)))]

    def click(self, x=None, y=None, button="left"):
        with self.lock:
            if x is not None and y is not None:
                self.move_mouse(x, y)
            mx, my = self.mouse
            for win in list(self.windows):
                x0, y0, w, h = win.rect
                if not win.minimized and x0 <= mx < x0 + w and y0 <= my < y0 + h:
                    self.activate(win)
                    if button == "left" and my < y0 + TITLE_H and mx >= x0 + w - CLOSE_W:
                        self.close(win)  # the title bar's close button
                    break

    def type_text(self, text):
        with self.lock:
            win = self.active()
            if win is not None:
                win.content += text

    def press(self, key):
        key = key.lower()
        with self.lock:
            win = self.active()
            if win is None:
                return
            if key in ("enter", "return"):
                win.content += "\n"
            elif key == "tab":
                win.content += "\t"
            elif key == "space":
                win.content += " "
            elif key == "backspace":
                win.content = win.content[:-1]
            elif len(key) == 1:
                win.content += key

    def hotkey(self, *keys):
        keys = tuple(k.lower() for k in keys)
        with self.lock:
            win = self.active()
            if keys == ("alt", "f4") and win is not None:
                self.close(win)
            elif keys in (("ctrl", "v"), ("control", "v")):
                self.type_text(self.clipboard)
            elif keys in (("ctrl", "c"), ("control", "c")) and win is not None:
                self.clipboard = win.content  # as if all text were selected

    # -- accessibility tree ----------------------------------------------------------------

    def _node(self, backend, tag, name, rect, kind, active, children=(), text="", window=None):
        x, y, w, h = rect
        attrs = [("name", name), ("st:enabled", "true"), ("st:visible", "true"),
                 ("st:active", "true" if active else "false")]
        if window is not None:
            attrs += [("st:minimized", str(window.minimized).lower()),
                      ("st:maximized", str(window.maximized).lower()),
                      ("st:normal", str(not (window.minimized or window.maximized)).lower())]
        attrs += [("cp:screencoord", f"({x}, {y})"), ("cp:size", f"({w}, {h})"),
                  ("win:class", f"<class '{WRAPPERS[backend][kind]}'>")]
        return tag, attrs, ("" if text == name else text), list(children)

    def _tree(self, backend):
        W, H = self.width, self.height
        active = self.active()
        nodes = []
        for win in self.windows:
            x, y, w, h = win.rect
            is_active = win is active
            edit_name = "Text Editor" if backend == "uia" else win.content
            nodes.append(self._node(backend, "notepad", win.title, win.rect, "window", is_active, window=win, children=[
                self._node(backend, "edit", edit_name, (x + 8, y + TITLE_H + 20, w - 16, h - TITLE_H - 50),
                           "edit", is_active, text=win.content),
                self._node(backend, "msctls_statusbar32", "Status Bar" if backend == "uia" else "",
                           (x + 8, y + h - 30, w - 16, 22), "other", is_active),
            ]))
        start = self._node(backend, "start", "Start", (W // 2 - 24 * (1 + len(self.windows)), H - TASKBAR_H, 48, 48),
                           "button", False)
        tray = self._node(backend, "traynotifywnd", "", (W - 160, H - TASKBAR_H, 160, TASKBAR_H), "other", False)
        nodes.append(self._node(backend, "shell_traywnd", "Taskbar" if backend == "uia" else "",
                                (0, H - TASKBAR_H, W, TASKBAR_H), "other", False, children=[start, tray]))
        nodes.append(self._node(backend, "progman", "Program Manager", (0, 0, W, H), "other", False, children=[
            self._node(backend, "shelldll_defview", "", (0, 0, W, H), "other", False, children=[
                self._node(backend, "syslistview32", "FolderView", (0, 0, W, H), "other", False)])]))
        return nodes

    def _serialise(self, node, out):
        tag, attrs, text, children = node
        out.append(f"<{tag}")
        out.extend(f' {k}="{_attr(v)}"' for k, v in attrs)
        if not text and not children:
            out.append("/>")
            return
        out.append(f">{_text(text)}")
        for child in children:
            self._serialise(child, out)
        out.append(f"</{tag}>")

    def accessibility_xml(self, backend="win32", bare=False):
        """The string WAA returns as "AT": lxml.etree.tostring(<desktop nsmap=...>)."""
        with self.lock:
            nodes = [] if bare else self._tree(backend)
            ns = "".join(f' xmlns:{p}="{_attr(u)}"' for p, u in NAMESPACES)
            if not nodes:
                return f"<desktop{ns}/>"
            out = [f"<desktop{ns}>"]
            for node in nodes:
                self._serialise(node, out)
            out.append("</desktop>")
            return "".join(out)

    # -- screenshot ------------------------------------------------------------------------

    def screenshot_png(self):
        """The screen as PNG bytes: wallpaper, taskbar, windows (bottom to top), cursor."""
        W, H = self.width, self.height
        px = bytearray(W * H * 3)

        def fill(x, y, w, h, rgb):
            x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
            if x1 <= x0:
                return
            row = bytes(rgb) * (x1 - x0)
            for yy in range(y0, y1):
                off = (yy * W + x0) * 3
                px[off:off + len(row)] = row

        for yy in range(H):  # Windows 11-like blue gradient
            t = yy / H
            fill(0, yy, W, 1, (int(10 + 20 * t), int(110 - 50 * t), int(210 - 70 * t)))
        with self.lock:
            windows = list(self.windows)
            active = self.active()
            mx, my = self.mouse
        fill(0, H - TASKBAR_H, W, TASKBAR_H, (32, 32, 32))
        sx = W // 2 - 24 * (1 + len(windows))
        for dx, dy in ((12, 12), (25, 12), (12, 25), (25, 25)):  # the Start logo
            fill(sx + dx, H - TASKBAR_H + dy, 11, 11, (0, 120, 215))
        for i, _ in enumerate(windows):  # one taskbar button per window
            fill(sx + 48 * (i + 1) + 10, H - TASKBAR_H + 10, 28, 28, (200, 200, 200))
        for win in reversed(windows):
            if win.minimized:
                continue
            x, y, w, h = win.rect
            fill(x - 1, y - 1, w + 2, h + 2, (120, 120, 120))  # border
            fill(x, y, w, TITLE_H, (243, 243, 243) if win is active else (230, 230, 230))
            fill(x + w - CLOSE_W, y, CLOSE_W, TITLE_H, (196, 43, 28) if win is active else (210, 210, 210))
            fill(x, y + TITLE_H, w, 20, (249, 249, 249))  # menu bar
            fill(x, y + TITLE_H + 20, w, h - TITLE_H - 42, (255, 255, 255))  # text area
            lines = win.content.split("\n")[: (h - TITLE_H - 50) // 16]
            for i, line in enumerate(lines):  # typed text as grey bars, one per line
                fill(x + 10, y + TITLE_H + 26 + 16 * i, min(w - 20, 7 * len(line)), 10, (60, 60, 60))
            fill(x, y + h - 22, w, 22, (240, 240, 240))  # status bar
        for i in range(17):  # arrow cursor, black outline and white inside
            fill(mx, my + i, min(i, 10) + 1, 1, (0, 0, 0))
            if 1 < i < 15:
                fill(mx + 1, my + i, min(i, 10) - 1, 1, (255, 255, 255))

        return encode_png(W, H, px)


def encode_png(width, height, px):
    """RGB pixels (bytes, row by row) as a PNG."""
    stride = width * 3
    raw = b"".join(b"\x00" + bytes(px[r * stride:(r + 1) * stride]) for r in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
