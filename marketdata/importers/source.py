"""Reading a user's file into normalised text: decompression, encoding, line ends (pure).

Everything downstream sees UTF-8 bytes with ``\\n`` line ends, whatever the file was: gzip or a
zip holding one CSV, UTF-8 (with or without BOM) or UTF-16 (MetaTrader terminals save UTF-16LE
with a BOM and CRLF), CRLF, LF, CR or a mix. Line numbers everywhere are 1-based numbers of the
normalised text, which is what an editor shows.

A file that cannot be read at all raises ``DataError`` with a one-line reason. A file that is
text but has a few bad bytes or control characters is readable: those lines are listed in
``SourceText.bad_lines`` (their bad characters replaced by ``?``) and the importer rejects them.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nusatrade.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# More than this fraction of undecodable or control characters: not a text file.
MAX_BAD_FRACTION = 0.01
# Control characters other than tab/LF/CR, DEL, and U+FFFD (what an undecodable byte becomes).
_BAD_CHARS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xef\xbf\xbd")
_NOT_CONTROL = bytes(b for b in range(256) if not ((b < 32 and b not in (9, 10, 13)) or b == 127))
_UTF16_SNIFF_BYTES = 4096


class SourceText:
    """A file's content as UTF-8 bytes with ``\\n`` line ends, and how it was decoded."""

    def __init__(self, name: str, data: bytes, *, encoding: str = "utf-8",
                 compression: str = "", bad_lines: np.ndarray | None = None) -> None:
        self.name = name
        self.data = data
        self.encoding = encoding
        self.compression = compression
        self.bad_lines = bad_lines if bad_lines is not None else np.empty(0, dtype=np.int64)
        self._starts: np.ndarray | None = None

    @property
    def line_starts(self) -> np.ndarray:
        """Byte offset of the start of every line (index 0 is line 1)."""
        if self._starts is None:
            newlines = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
            starts = np.concatenate(([0], newlines + 1))
            if len(starts) > 1 and starts[-1] == len(self.data):
                starts = starts[:-1]  # text ends with a newline: no empty last line
            self._starts = starts.astype(np.int64)
        return self._starts

    @property
    def line_count(self) -> int:
        return 0 if not self.data else len(self.line_starts)

    def line_offset(self, line: int) -> int:
        """Byte offset where 1-based ``line`` starts."""
        return int(self.line_starts[line - 1]) if line <= self.line_count else len(self.data)

    def lines(self, numbers: np.ndarray | list[int], limit: int = 500) -> list[str]:
        """The text of the given 1-based lines (each truncated to ``limit`` characters)."""
        starts = self.line_starts
        out = []
        for number in numbers:
            begin = int(starts[number - 1])
            end = self.data.find(b"\n", begin)
            end = len(self.data) if end < 0 else min(end, begin + 4 * limit)
            out.append(self.data[begin:end].decode("utf-8", errors="replace")[:limit])
        return out

    def first_nonblank_line(self) -> tuple[int, str]:
        """(1-based number, text) of the first line that is not blank; (0, "") if none."""
        for number, raw in enumerate(io.BytesIO(self.data), start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                return number, text
        return 0, ""


def read_source(path: str | Path) -> SourceText:
    """Read ``path`` (plain, gzip or single-CSV zip) into a normalised ``SourceText``."""
    name = Path(path).name
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc})", source=name) from None
    return source_from_bytes(raw, name)


def source_from_bytes(raw: bytes, name: str = "<bytes>") -> SourceText:
    """Normalise a file's raw bytes (see ``read_source``)."""
    raw, compression = _decompress(raw, name)
    if not raw.strip():
        raise DataError("the file is empty", source=name)
    text, encoding = _decode(raw, name)
    data = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in text else text
    data, bad_lines = _mark_bad_characters(data, name)
    if not data.strip():
        raise DataError("the file is empty", source=name)
    return SourceText(name, data, encoding=encoding, compression=compression,
                      bad_lines=bad_lines)


def _decompress(raw: bytes, name: str) -> tuple[bytes, str]:
    if raw.startswith(GZIP_MAGIC):
        try:
            return gzip.decompress(raw), "gzip"
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"not a valid gzip file ({exc})", source=name) from None
    if raw.startswith(ZIP_MAGIC):
        return _unzip(raw, name), "zip"
    return raw, ""


def _unzip(raw: bytes, name: str) -> bytes:
    """The one data file in a zip (HistData.com zips hold a .csv plus a .txt status report)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            csvs = [m for m in members if m.filename.lower().endswith(".csv")]
            chosen = csvs if csvs else members
            if len(chosen) != 1:
                raise DataError(f"the zip archive holds {len(chosen)} candidate files; "
                                "extract the one to import", source=name)
            return archive.read(chosen[0])
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise DataError(f"not a valid zip file ({exc})", source=name) from None


def _decode(raw: bytes, name: str) -> tuple[bytes, str]:
    """UTF-8 bytes of the text, and the encoding it was read as."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return _from_utf8(raw[3:]), "utf-8 (BOM)"
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if raw.startswith(bom):
            return _from_utf16(raw[2:], codec, name), f"{codec} (BOM)"
    codec = _sniff_utf16(raw)
    if codec:
        return _from_utf16(raw, codec, name), codec
    return _from_utf8(raw), "utf-8"


def _sniff_utf16(raw: bytes) -> str:
    """UTF-16 without a BOM: ASCII text has a zero byte in every other position."""
    head = np.frombuffer(raw[: _UTF16_SNIFF_BYTES & ~1], dtype=np.uint8)
    if len(head) < 4:
        return ""
    even_zero = float(np.mean(head[0::2] == 0))
    odd_zero = float(np.mean(head[1::2] == 0))
    if odd_zero > 0.9 and even_zero < 0.1:
        return "utf-16-le"
    if even_zero > 0.9 and odd_zero < 0.1:
        return "utf-16-be"
    return ""


def _from_utf8(raw: bytes) -> bytes:
    try:
        raw.decode("utf-8")
        return raw
    except UnicodeDecodeError:
        # Undecodable bytes become U+FFFD; _mark_bad_characters decides whether that is a few
        # bad rows or not a text file at all.
        return raw.decode("utf-8", errors="replace").encode("utf-8")


def _from_utf16(raw: bytes, codec: str, name: str) -> bytes:
    if len(raw) % 2:
        raise DataError(f"truncated {codec.upper()} text (odd number of bytes)", source=name)
    return raw.decode(codec, errors="replace").encode("utf-8")


def _mark_bad_characters(data: bytes, name: str) -> tuple[bytes, np.ndarray]:
    """Replace control/undecodable characters by ``?`` and list the lines that had them."""
    # Fast precheck (C loops): delete every byte that is not a control character.
    if not data.translate(None, _NOT_CONTROL) and b"\xef\xbf\xbd" not in data:
        return data, np.empty(0, dtype=np.int64)
    positions = [m.start() for m in _BAD_CHARS.finditer(data)]
    if not positions:
        return data, np.empty(0, dtype=np.int64)
    characters = max(1, len(data))
    if len(positions) > MAX_BAD_FRACTION * characters or len(positions) > 100_000:
        raise DataError(
            f"not a text file: {len(positions)} undecodable or control characters "
            "(binary data, or an encoding other than UTF-8/UTF-16)", source=name)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lines = np.unique(np.searchsorted(newlines, np.asarray(positions), side="right") + 1)
    return _BAD_CHARS.sub(b"?", data), lines.astype(np.int64)
