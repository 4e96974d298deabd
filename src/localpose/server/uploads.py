"""Request bodies read with limits: raw bodies into memory, multipart bodies streamed through
python-multipart's parser (bounded parts and part headers, nothing recursive, parsed as
the chunks arrive so no body stalls the event loop), and videos streamed to disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fastapi import Request

from localpose.errors import ImageTooLargeError
from localpose.images import FORMATS_TEXT, looks_like_image
from localpose.server.errors import ApiError

try:  # python-multipart >= 0.0.13 names its module python_multipart
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # older releases
    from multipart.exceptions import FormParserError
    from multipart.multipart import MultipartParser, parse_options_header

__all__ = ["MAX_PARTS", "read_body", "receive_video", "uploaded_image", "uploaded_images"]

MAX_PARTS = 16
"""Parts a multipart body may have (form fields and files); more is a 400."""
MAX_PART_HEADER_BYTES = 8 * 1024


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_multipart", message)


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _chunks(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    """The body's chunks, refused (413) as soon as it is declared or found to pass `limit` bytes."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise ImageTooLargeError(f"{what} is {declared} bytes, over the limit of {limit}")
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ImageTooLargeError(f"{what} is over the limit of {limit} bytes")
        if chunk:
            yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body in memory, refused once it passes `limit` bytes."""
    return b"".join([chunk async for chunk in _chunks(request, limit, "upload")])


@dataclass
class _Part:
    name: str | None
    filename: str | None
    chunks: list[bytes] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class _FormParts:
    """Callbacks for python-multipart's parser: keeps the parts `keep` picks (in memory, or the
    first into `sink`), counts parts and header bytes, and knows whether the body ended."""

    def __init__(
        self, content_type: str, keep: Callable[[str | None, str | None], bool], sink: BinaryIO | None
    ) -> None:
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise _bad("send multipart/form-data with a boundary, or the file as the raw body")
        self.keep, self.sink = keep, sink
        self.parts: list[_Part] = []
        self.sunk: _Part | None = None
        self.count, self.ended = 0, False
        self._current: _Part | None = None
        self._to_sink = False
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value, self._header_bytes = b"", b"", 0
        self.parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def _part_begin(self) -> None:
        self.count += 1
        if self.count > MAX_PARTS:
            raise _bad(f"a multipart body may have at most {MAX_PARTS} parts")
        self._headers, self._field, self._value, self._header_bytes = {}, b"", b"", 0
        self._current, self._to_sink = None, False

    def _grow_headers(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise _bad(f"a part's headers may be at most {MAX_PART_HEADER_BYTES} bytes")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        filename = params.get(b"filename")
        part = _Part(
            None if name is None else name.decode("utf-8", "replace"),
            None if filename is None else filename.decode("utf-8", "replace"),
        )
        if not self.keep(part.name, part.filename):
            return
        if self.sink is not None:
            if self.sunk is None:
                self.sunk, self._to_sink = part, True
            return
        self._current = part
        self.parts.append(part)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._to_sink and self.sink is not None:
            self.sink.write(data[start:end])
        elif self._current is not None:
            self._current.chunks.append(data[start:end])

    def _part_end(self) -> None:
        self._current, self._to_sink = None, False

    def _end(self) -> None:
        self.ended = True

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except FormParserError:
            raise _bad("malformed multipart/form-data body") from None

    def finish(self) -> None:
        try:
            self.parser.finalize()
        except FormParserError:
            raise _bad("malformed multipart/form-data body") from None
        if not self.ended:
            raise _bad("the multipart body ended before its closing boundary")


async def _read_form(
    request: Request,
    limit: int,
    keep: Callable[[str | None, str | None], bool],
    sink: BinaryIO | None = None,
    what: str = "upload",
) -> _FormParts:
    form = _FormParts(request.headers.get("content-type", ""), keep, sink)
    async for chunk in _chunks(request, limit, what):
        form.write(chunk)
    form.finish()
    return form


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/")


def _file_part(name: str | None, filename: str | None) -> bool:
    return name == "file" or filename is not None


async def uploaded_image(request: Request, limit: int) -> bytes:
    """Image bytes from a multipart upload (the part named "file", else the first file part) or a
    raw body; refused unless the content sniffs as a supported image."""
    if _is_multipart(request):
        form = await _read_form(request, limit, _file_part)
        named = [p for p in form.parts if p.name == "file"]
        chosen = (named or form.parts or [None])[0]
        if chosen is None:
            raise ApiError(400, "missing_file", "multipart upload has no 'file' part")
        data = chosen.data
    else:
        data = await read_body(request, limit)
    if not data:
        raise ApiError(400, "missing_image", "no image in the request (send a file part or a raw body)")
    if not looks_like_image(data):
        raise ApiError(415, "unsupported_media_type", f"not a supported image ({FORMATS_TEXT})")
    return data


async def uploaded_images(request: Request, limit: int, names: tuple[str, ...]) -> dict[str, bytes]:
    """The images in the multipart parts called `names` (each sniffed as a supported image)."""
    if not _is_multipart(request):
        raise ApiError(415, "unsupported_media_type", f"send multipart/form-data with {' and '.join(names)}")
    form = await _read_form(request, limit, lambda name, _filename: name in names)
    found = {p.name: p.data for p in form.parts}
    missing = [n for n in names if not found.get(n)]
    if missing:
        raise ApiError(400, "missing_file", f"missing image part(s): {', '.join(missing)}")
    for name in names:
        if not looks_like_image(found[name]):
            raise ApiError(415, "unsupported_media_type", f"'{name}' is not a supported image")
    return {n: found[n] for n in names}


async def receive_video(request: Request, path: Path, limit: int) -> int:
    """Stream the upload to `path` (raw body, or the file part of a multipart body); its size."""
    with path.open("wb") as out:
        if _is_multipart(request):
            form = await _read_form(request, limit, _file_part, sink=out, what="video upload")
            if form.sunk is None:
                raise ApiError(400, "missing_file", "multipart upload has no 'file' part")
        else:
            async for chunk in _chunks(request, limit, "video upload"):
                out.write(chunk)
        size = out.tell()
    if size == 0:
        raise ApiError(400, "missing_video", "no video in the request")
    return size
